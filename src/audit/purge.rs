//! Retention: `relay_audit_purge(before)` deletes the entries older than `before`, in
//! the caller's transaction, and leaves one entry per tenant saying so.
//!
//! The append-only guard lets a DELETE through in two cases only: inside
//! relay_audit_purge (a flag this backend sets for the length of the call), and under
//! `session_replication_role = replica`, which is how a logical-replication subscriber
//! applies the publisher's purge (only superusers can set it, and they can drop the
//! guard anyway). UPDATE and TRUNCATE stay refused in both.

use crate::quote::quote_qualified;
use crate::{errors, ext};
use pgrx::prelude::*;
use std::cell::Cell;

thread_local! {
    static PURGING: Cell<bool> = const { Cell::new(false) };
}

/// relay_audit_purge is deleting entries in this backend right now.
pub fn purging() -> bool {
    PURGING.with(Cell::get)
}

/// This backend applies replicated changes (a subscriber's apply worker, or a
/// superuser who set session_replication_role = replica).
pub fn replica_mode() -> bool {
    // SAFETY: reads a backend-local GUC variable.
    unsafe { pgrx::pg_sys::SessionReplicationRole == pgrx::pg_sys::SESSION_REPLICATION_ROLE_REPLICA as i32 }
}

struct Purging;

impl Purging {
    fn start() -> Purging {
        PURGING.with(|p| p.set(true));
        Purging
    }
}

impl Drop for Purging {
    fn drop(&mut self) {
        PURGING.with(|p| p.set(false));
    }
}

/// Delete the audit entries created before `before`; returns how many. Each tenant
/// that lost entries gets one `relay.audit_purged` entry (before, deleted, by whom).
/// For superusers and BYPASSRLS roles.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_audit_purge(before: Option<TimestampWithTimeZone>) -> i64 {
    let before = before.unwrap_or_else(|| errors::null_argument("relay_audit_purge", "before"));
    if !ext::role_sees_every_tenant() {
        errors::tenant_admin_needs_bypassrls("relay_audit_purge");
    }
    let in_future = Spi::get_one_with_args::<bool>("SELECT $1 OPERATOR(pg_catalog.>) pg_catalog.now()", &[before.into()])
        .expect("compare")
        .unwrap_or(false);
    if in_future {
        errors::purge_in_future(&before.to_string());
    }
    let audit = ext::ext_relation(c"audit_logs");
    let audit_logs = quote_qualified(&audit.schema, "audit_logs");
    let tenants = quote_qualified(&audit.schema, "tenants");
    ext::refuse_foreign_triggers(c"audit_logs");
    // SAFETY: the name of the current user, from the syscache.
    let caller = unsafe { std::ffi::CStr::from_ptr(pgrx::pg_sys::GetUserNameFromId(pgrx::pg_sys::GetUserId(), false)) }
        .to_string_lossy()
        .into_owned();
    let actor = crate::context::current_setting(crate::context::ACTOR_GUC);
    let sql = format!(
        "WITH gone AS (DELETE FROM {audit_logs} WHERE created_at OPERATOR(pg_catalog.<) $1 RETURNING tenant_id),
              per_tenant AS (SELECT tenant_id, pg_catalog.count(*) AS n FROM gone GROUP BY tenant_id),
              noted AS (
                INSERT INTO {audit_logs} (actor_id, tenant_id, action, resource_type, ip_address, metadata)
                SELECT $3, p.tenant_id, 'relay.audit_purged', 'audit_logs', $4,
                       pg_catalog.jsonb_build_object('before', $1, 'deleted', p.n, 'by', $2::pg_catalog.text)
                  FROM per_tenant p
                 WHERE EXISTS (SELECT FROM {tenants} t WHERE t.id OPERATOR(pg_catalog.=) p.tenant_id)
                RETURNING 1)
         SELECT COALESCE(pg_catalog.sum(n), 0)::pg_catalog.int8 FROM per_tenant"
    );
    let _purging = Purging::start();
    ext::as_extension_owner(|| {
        Spi::get_one_with_args::<i64>(
            &sql,
            &[before.into(), caller.into(), actor.into(), crate::audit::writer::client_address().into()],
        )
        .expect("audit purge")
        .unwrap_or(0)
    })
}
