//! relay audits itself: every call that changed a table or a tenant appends an entry.
//!
//! `relay.tenancy_enabled` / `relay.tenancy_disabled` (resource_type `table`) are
//! recorded in the default tenant's log, the log of the installation itself;
//! `relay.tenant_suspended` / `relay.tenant_resumed` / `relay.tenant_deleted`
//! (resource_type `tenant`) in the tenant's own log, which a deleted tenant's entries
//! keep; purges record `relay.audit_purged` per tenant (purge.rs). The actor is
//! app.current_actor_id as for any entry, and `metadata.by` the role that ran it.

use crate::pg::privilege;
use crate::pg::probes;
use serde_json::{json, Value};

/// Append an entry about relay's own work, written as the extension's owner.
pub fn record(tenant: &str, action: &str, resource_type: &str, resource_id: &str, details: Value) {
    probes::refuse_foreign_triggers(c"audit_logs");
    // SAFETY: the name of the current user, from the syscache.
    let caller = unsafe {
        std::ffi::CStr::from_ptr(pgrx::pg_sys::GetUserNameFromId(
            pgrx::pg_sys::GetUserId(),
            false,
        ))
    }
    .to_string_lossy()
    .into_owned();
    let mut metadata = json!({ "by": caller });
    if let (Some(doc), Value::Object(more)) = (metadata.as_object_mut(), details) {
        doc.extend(more);
    }
    // SAFETY: the jsonb is built in the current memory context and used below.
    let jsonb = unsafe { super::jsonb::object_to_jsonb(&metadata) };
    let one = super::writer::One {
        tenant,
        action,
        resource_type: Some(resource_type),
        resource_id: Some(resource_id),
        metadata: Some(jsonb),
    };
    privilege::as_extension_owner(|| super::writer::insert_one(&one));
}
