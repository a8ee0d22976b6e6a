//! **guards**: what keeps isolation on after a conversion. The utility hook that
//! refuses DDL switching isolation off (`isolation`), the DROP EXTENSION / DROP TABLE
//! guard (`drop`), and the EXPLAIN guard (`explain`).
//!
//! May use: `model`, `pg`, `catalog`, `plan`, `apply`, `context`, `audit`, `citus`.

pub mod drop;
pub mod explain;
pub mod isolation;
pub mod unsafe_ddl;
