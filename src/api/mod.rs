//! **api**: the conversion and administration surface (`#[pg_extern]`): enable
//! (`enable`), a whole schema (`schema`), undo (`disable`), partitions attached later
//! (`partitions`), tenants (`tenants`), checks (`verify`, `security_check`) and
//! `relay_repair`. Each function reads state (`catalog`), asks a planner (`plan`) and
//! hands the steps to `apply`; none holds planning logic of its own.
//!
//! May use: every other layer; nothing uses it.

pub mod background;
pub mod background_job;
pub mod background_worker;
pub mod disable;
pub mod disable_schema;
pub mod enable;
pub mod partitions;
pub mod registry;
pub mod repair;
pub mod schema;
pub mod schema_options;
pub mod security_check;
pub mod tenant_from;
pub mod tenants;
pub mod verify;
