//! relay audits itself: every call that changed a table or a tenant appends an entry.
//!
//! `relay.tenancy_enabled` / `relay.tenancy_disabled` (resource_type `table`) are
//! recorded in the default tenant's log, the log of the installation itself;
//! `relay.tenant_suspended` / `relay.tenant_resumed` / `relay.tenant_deleted`
//! (resource_type `tenant`) in the tenant's own log, which a deleted tenant's entries
//! keep; purges record `relay.audit_purged` per tenant (purge.rs). The actor is
//! app.current_actor_id as for any entry, and `metadata.by` the role that ran it.

use crate::ext;
use crate::quote::quote_qualified;
use pgrx::prelude::*;
use serde_json::{json, Value};

/// Append an entry about relay's own work, written as the extension's owner.
pub fn record(tenant: &str, action: &str, resource_type: &str, resource_id: &str, details: Value) {
    let audit = ext::ext_relation(c"audit_logs");
    ext::refuse_foreign_triggers(c"audit_logs");
    // SAFETY: the name of the current user, from the syscache.
    let caller = unsafe { std::ffi::CStr::from_ptr(pgrx::pg_sys::GetUserNameFromId(pgrx::pg_sys::GetUserId(), false)) }
        .to_string_lossy()
        .into_owned();
    let mut metadata = json!({ "by": caller });
    if let (Some(doc), Value::Object(more)) = (metadata.as_object_mut(), details) {
        doc.extend(more);
    }
    let actor = crate::context::current_setting(crate::context::ACTOR_GUC);
    let ip = super::writer::client_address();
    // SAFETY: the jsonb is built in the current memory context and used below.
    let jsonb = unsafe { super::jsonb::object_to_jsonb(&metadata) };
    let link = super::chain::on().then(|| {
        super::chain::link_one(tenant, |previous, seq, id| {
            super::chain::entry_hash(
                previous,
                &super::chain::Hashed {
                    seq,
                    id,
                    created_at: super::chain::now_unix_micros(),
                    tenant_id: Some(tenant),
                    actor_id: actor.as_deref(),
                    action: Some(action),
                    resource_type: Some(resource_type),
                    resource_id: Some(resource_id),
                    ip_address: ip.as_deref(),
                    // SAFETY: the jsonb built above.
                    metadata: Some(unsafe { super::chain::jsonb_bytes(jsonb) }),
                },
            )
        })
    });
    let table = quote_qualified(&audit.schema, "audit_logs");
    let sql = match link {
        Some(_) => format!(
            "INSERT INTO {table} (id, actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata, created_at, chain_seq, chain_hash)
             VALUES ($8, $1, $2, $3, $4, $5, $6, $7, pg_catalog.transaction_timestamp(), $9, $10)"
        ),
        None => format!(
            "INSERT INTO {table} (actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata)
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE $8 IS NULL AND $9 IS NULL AND $10 IS NULL"
        ),
    };
    let args = [
        actor.into(),
        tenant.into(),
        action.into(),
        resource_type.into(),
        resource_id.into(),
        ip.into(),
        // SAFETY: the jsonb built above, in this context.
        unsafe { pgrx::datum::DatumWithOid::new(jsonb, pgrx::pg_sys::JSONBOID) },
        link.as_ref().map(|l| pgrx::Uuid::from_bytes(l.id)).into(),
        link.as_ref().map(|l| l.seq).into(),
        link.as_ref().map(|l| l.hash.to_vec()).into(),
    ];
    ext::as_extension_owner(|| Spi::run_with_args(&sql, &args).expect("audit relay's own change"));
}
