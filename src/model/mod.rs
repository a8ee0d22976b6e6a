//! **model**: values every layer shares. relay's names, the tenant column's type
//! (`TenantType`), SQL quoting, and user errors (`UserError`: SQLSTATE, message,
//! DETAIL, HINT) raised in one place, with relay's own SQLSTATEs (`sqlstate`).
//!
//! May use: nothing of relay's (the bottom layer).

pub mod errors;
pub mod kinds;
pub mod names;
pub mod quote;
pub mod registry;
pub mod sqlstate;
pub mod tenant_type;
