//! **model**: values every layer shares. relay's names, the tenant column's type
//! (`TenantType`), SQL quoting, and user errors (`UserError`: SQLSTATE, message,
//! DETAIL, HINT) raised in one place.
//!
//! May use: nothing of relay's (the bottom layer).

pub mod errors;
pub mod kinds;
pub mod names;
pub mod quote;
pub mod registry;
pub mod tenant_type;
