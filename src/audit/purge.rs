//! Retention: `relay_audit_purge(before)` deletes the entries older than `before`, in
//! the caller's transaction, and leaves one entry per tenant saying so.
//!
//! The append-only guard lets a DELETE through in two cases only: inside
//! relay_audit_purge (a flag this backend sets for the length of the call), and under
//! `session_replication_role = replica`, which is how a logical-replication subscriber
//! applies the publisher's purge (only superusers can set it, and they can drop the
//! guard anyway). UPDATE and TRUNCATE stay refused in both.

use crate::model::quote::quote_qualified;
use crate::pg::privilege;
use crate::pg::probes;
use crate::{model::errors, pg::ext};
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
    unsafe {
        pgrx::pg_sys::SessionReplicationRole
            == pgrx::pg_sys::SESSION_REPLICATION_ROLE_REPLICA as i32
    }
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
    if !privilege::role_sees_every_tenant() {
        errors::tenant_admin_needs_bypassrls("relay_audit_purge");
    }
    let in_future = Spi::get_one_with_args::<bool>(
        "SELECT $1 OPERATOR(pg_catalog.>) pg_catalog.now()",
        &[before.into()],
    )
    .expect("compare")
    .unwrap_or(false);
    if in_future {
        errors::purge_in_future(&before.to_string());
    }
    let audit = ext::ext_relation(c"audit_logs");
    let audit_logs = quote_qualified(&audit.schema, "audit_logs");
    let chains = quote_qualified(&audit.schema, "relay_audit_chains");
    probes::refuse_foreign_triggers(c"audit_logs");
    let chained = super::chain::on();
    let _purging = Purging::start();
    let tenants: Vec<String> = privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!("SELECT DISTINCT tenant_id FROM {audit_logs} WHERE created_at OPERATOR(pg_catalog.<) $1 AND tenant_id IS NOT NULL ORDER BY 1"),
                    None,
                    &[before.into()],
                )
                .expect("tenants to purge")
                .filter_map(|r| r.get::<String>(1).ok().flatten())
                .collect()
        })
    });
    let mut total = 0i64;
    for tenant in tenants {
        let deleted = privilege::as_extension_owner(|| {
            Spi::connect_mut(|client| {
                if !chained {
                    return client
                        .update(
                            &format!("DELETE FROM {audit_logs} WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND created_at OPERATOR(pg_catalog.<) $2"),
                            None,
                            &[tenant.as_str().into(), before.into()],
                        )
                        .expect("purge")
                        .len() as i64;
                }
                // A chain loses a prefix only: up to the first entry that stays (an
                // entry of a transaction that began before `before` but was chained
                // after one that stays is kept too). The last entry removed becomes
                // the checkpoint verification starts from.
                let (last_seq, _) = super::chain_heads::lock(&tenant);
                let cut = client
                    .select(
                        &format!(
                            "SELECT COALESCE(pg_catalog.min(chain_seq), $3) FROM {audit_logs}
                              WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND chain_seq IS NOT NULL AND created_at OPERATOR(pg_catalog.>=) $2"
                        ),
                        Some(1),
                        &[tenant.as_str().into(), before.into(), (last_seq + 1).into()],
                    )
                    .expect("purge cut")
                    .first()
                    .get_one::<i64>()
                    .expect("cut")
                    .unwrap_or(last_seq + 1);
                client
                    .update(
                        &format!(
                            "UPDATE {chains} c SET checkpoint_seq = a.chain_seq, checkpoint_hash = a.chain_hash
                               FROM {audit_logs} a
                              WHERE c.tenant_id OPERATOR(pg_catalog.=) $1 AND a.tenant_id OPERATOR(pg_catalog.=) $1
                                AND a.chain_seq OPERATOR(pg_catalog.=) $2"
                        ),
                        None,
                        &[tenant.as_str().into(), (cut - 1).into()],
                    )
                    .expect("purge checkpoint");
                client
                    .update(
                        &format!(
                            "DELETE FROM {audit_logs} WHERE tenant_id OPERATOR(pg_catalog.=) $1
                               AND ((chain_seq IS NOT NULL AND chain_seq OPERATOR(pg_catalog.<) $2)
                                 OR (chain_seq IS NULL AND created_at OPERATOR(pg_catalog.<) $3))"
                        ),
                        None,
                        &[tenant.as_str().into(), cut.into(), before.into()],
                    )
                    .expect("purge")
                    .len() as i64
            })
        });
        total += deleted;
        // Every tenant that lost entries gets one (a deleted tenant's log too). With
        // the chain on it names the checkpoint the purge left, which is how
        // relay_audit_verify tells a purge from a forged checkpoint.
        if deleted > 0 {
            let mut details =
                serde_json::json!({ "before": before.to_iso_string(), "deleted": deleted });
            if chained {
                if let Some((seq, hash)) = checkpoint_of(&chains, &tenant) {
                    details["checkpoint_seq"] = serde_json::json!(seq);
                    details["checkpoint_hash"] = serde_json::json!(hash);
                }
            }
            super::admin::record(
                &tenant,
                "relay.audit_purged",
                "audit_logs",
                &audit_logs,
                details,
            );
        }
    }
    total
}

/// The checkpoint a purge left on `tenant`'s chain: position and hash (hex).
fn checkpoint_of(chains: &str, tenant: &str) -> Option<(i64, String)> {
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let rows = client
                .select(
                    &format!(
                        "SELECT checkpoint_seq, pg_catalog.encode(checkpoint_hash, 'hex') FROM {chains}
                          WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND checkpoint_seq IS NOT NULL"
                    ),
                    Some(1),
                    &[tenant.into()],
                )
                .expect("checkpoint");
            rows.into_iter()
                .next()
                .and_then(|r| Some((r.get::<i64>(1).ok()??, r.get::<String>(2).ok()??)))
        })
    })
}
