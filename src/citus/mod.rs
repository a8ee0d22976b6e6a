//! **citus**: scale-out. Distributing tenant-enabled tables (`distribute`: look, a pure
//! plan, apply), the per-node placement checks and repairs (`placements`), the
//! ProcessUtility guard that keeps relay's policies RESTRICTIVE on every shard
//! (`guard`), and the planner hook that routes a query to its tenant's shard
//! (`routing`).
//!
//! May use: `model`, `pg`, `catalog`, `plan`, `apply`, `context`.

pub mod distribute;
pub mod guard;
pub mod placements;
pub mod routing;
