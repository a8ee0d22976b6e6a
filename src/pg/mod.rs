//! **pg**: the unsafe edges with PostgreSQL. FFI that differs between majors
//! (`compat`), `List` iteration, regclass arguments, and where relay's own objects live
//! (`ext`), the SQL-free reads of relay's tables (`probes`), running SQL with other
//! privileges (`privilege`), and the one scope type for settings (`settings`).
//!
//! May use: `model`.

pub mod compat;
pub mod ext;
pub mod index_probe;
pub mod kept_plans;
pub mod list;
pub mod policy_rule;
pub mod portal;
pub mod privilege;
pub mod probes;
pub mod regclass;
pub mod settings;
pub mod tenant_registry;
