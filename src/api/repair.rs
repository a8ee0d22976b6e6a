//! relay_repair(): every tenant-enabled table brought back to its enabled state from
//! the registry, as relay_enable_tenancy would with the options the registry records,
//! and the audit log's append-only guard re-promoted.
//!
//! For what a restore or a superuser's DDL can leave behind: a foreign key to
//! `tenants` that `pg_restore -j` could not create (it restores extension tables' rows
//! without ordering them before the keys that need them), guards demoted from ALWAYS
//! by `pg_restore --disable-triggers`, a policy changed by hand.

use crate::api::enable::{self, CallOptions};
use crate::model::quote::quote_qualified;
use crate::pg::privilege;
use crate::pg::regclass::RegClass;
use crate::{audit, pg::ext};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Registered tables that are not partitions (a partitioned table takes its
/// partitions along), by name, with their recorded default tenant.
fn registered_roots() -> Vec<(pg_sys::Oid, String, String)> {
    let registry = quote_qualified(&ext::extension_schema(), "relay_tables");
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT c.oid, c.oid::pg_catalog.regclass::pg_catalog.text, r.default_tenant
                           FROM {registry} r JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
                          WHERE NOT c.relispartition
                          ORDER BY 2"
                    ),
                    None,
                    &[],
                )
                .expect("registry")
                .filter_map(|r| Some((r.get::<pg_sys::Oid>(1).ok()??, r.get::<String>(2).ok()??, r.get::<String>(3).ok()??)))
                .collect()
        })
    })
}

/// Re-apply every tenant-enabled table from the registry; one line per action, per
/// table. Runs in the caller's transaction: an error anywhere changes nothing.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_repair() -> TableIterator<'static, (name!(table_name, String), name!(action, String))> {
    let mut rows = Vec::new();
    for (oid, name, default_tenant) in registered_roots() {
        let call = CallOptions {
            default_tenant: Some(default_tenant),
            ..Default::default()
        };
        for line in enable::enable("relay_repair", Some(RegClass(oid)), call) {
            rows.push((name.clone(), line));
        }
    }
    let audit_logs = quote_qualified(&ext::extension_schema(), "audit_logs");
    for line in audit::reguard_audit_log("relay_repair") {
        rows.push((audit_logs.clone(), line));
    }
    TableIterator::new(rows)
}
