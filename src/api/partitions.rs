//! Partitions follow their tenant-enabled parent, and a tenant-enabled table never
//! ends up under a parent that is not (an event trigger on ddl_command_end for
//! CREATE TABLE and ALTER TABLE).
//!
//! PostgreSQL applies a table's row level security to the rows read through that
//! table only: a partition queried directly uses its own policies, and a parent
//! queried directly uses the parent's for every partition's rows. So:
//! - a partition created (`CREATE TABLE ... PARTITION OF`) or attached (`ATTACH
//!   PARTITION`, as pg_partman does) under a tenant-enabled parent is enabled on the
//!   spot, in the same transaction: row level security forced, relay's policies, the
//!   TRUNCATE guard, registered;
//! - attaching a tenant-enabled table (or one with tenant-enabled partitions) under a
//!   parent that is not tenant-enabled, or making it inherit from one, would expose
//!   every tenant's rows through that parent: refused.

use crate::api::enable::{self, CallOptions};
use crate::pg::probes;
use crate::pg::regclass::RegClass;
use crate::{apply, model::errors, pg::ext};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// The query of `edges_around_command`.
const EDGES_SQL: &str = "WITH RECURSIVE touched AS (
   SELECT DISTINCT d.objid FROM pg_catalog.pg_event_trigger_ddl_commands() d
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.object_type OPERATOR(pg_catalog.=) ANY (ARRAY['table', 'table column'])),
 up AS (
   SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i JOIN touched t ON i.inhrelid OPERATOR(pg_catalog.=) t.objid
   UNION
   SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid OPERATOR(pg_catalog.=) up.inhparent),
 down AS (
   SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i JOIN touched t ON i.inhparent OPERATOR(pg_catalog.=) t.objid
   UNION
   SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent OPERATOR(pg_catalog.=) down.inhrelid)
 SELECT e.inhrelid, e.inhparent, c.relispartition
   FROM (SELECT * FROM up UNION SELECT * FROM down) e
   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) e.inhrelid
   -- tables only: indexes have pg_inherits rows too
  WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[])";

/// Every inheritance edge (child, parent, child is a partition) above and below the
/// tables the command created or altered.
fn edges_around_command() -> Vec<(pg_sys::Oid, pg_sys::Oid, bool)> {
    Spi::connect(|client| {
        crate::pg::kept_plans::select(client, EDGES_SQL, &[])
            .expect("inheritance edges")
            .filter_map(|r| {
                Some((
                    r.get::<pg_sys::Oid>(1).ok()??,
                    r.get::<pg_sys::Oid>(2).ok()??,
                    r.get::<bool>(3).ok()??,
                ))
            })
            .collect()
    })
}

#[unsafe(no_mangle)]
#[doc(hidden)]
pub extern "C" fn pg_finfo_relay_partition_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The event trigger function (ddl_command_end for CREATE TABLE and ALTER TABLE).
///
/// # Safety
/// Called by PostgreSQL's function manager with a valid `fcinfo`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn relay_partition_guard(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: only the node tag of the context is read.
    unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_EventTriggerData {
            errors::not_called_as_trigger("relay_partition_guard");
        }
    }
    // relay's own steps (enabling a table, its partitions included) are not news.
    if apply::applying().is_some() {
        return pg_sys::Datum::from(0);
    }
    let edges = edges_around_command();
    follow_parents(&edges);
    auto_enable_created();
    pg_sys::Datum::from(0)
}

/// Partitions follow their tenant-enabled parent; a tenant-enabled table never goes
/// under one that is not.
fn follow_parents(edges: &[(pg_sys::Oid, pg_sys::Oid, bool)]) {
    for (child, parent, _) in edges {
        if probes::registered_now(*child) && !probes::registered_now(*parent) {
            errors::tenant_table_under_open_parent(
                &ext::relation_name(*child),
                &ext::relation_name(*parent),
            );
        }
    }
    // Follow, parents before children: enabling one partition may make its own
    // partitions followers (enable recurses into them itself).
    for (child, parent, is_partition) in edges {
        if *is_partition && probes::registered_now(*parent) && !probes::registered_now(*child) {
            let lines = enable::enable(
                "relay_enable_tenancy",
                Some(RegClass(*child)),
                CallOptions {
                    tenant_column: probes::tenant_column_of(*parent),
                    ..Default::default()
                },
            );
            pgrx::notice!(
                "relay_tenancy: partition {} follows tenant-enabled {}: {} step{} (row level security forced, relay's policies, the TRUNCATE guard)",
                ext::relation_name(*child),
                ext::relation_name(*parent),
                lines.len(),
                if lines.len() == 1 { "" } else { "s" }
            );
        }
    }
}

/// `relay.auto_enable`: tables created later in a schema the schema call converted.
static AUTO_ENABLE: GucSetting<bool> = GucSetting::<bool>::new(false);

pub fn register_gucs() {
    GucRegistry::define_bool_guc(
        c"relay.auto_enable",
        c"Tenant-enable each table created later in a schema relay_enable_tenancy_schema converted.",
        c"Off (the default). On: CREATE TABLE in such a schema enables the new table at once, with the options the schema was converted with (relay_schemas); a table that cannot be enabled so fails its CREATE TABLE.",
        &AUTO_ENABLE,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// With relay.auto_enable on: each permanent table the command created (not a
/// partition: those follow their parent) in a schema with recorded options, and not
/// left out by them (exclude, shared, framework bookkeeping), is tenant-enabled now, as
/// the creating role, with those options.
fn auto_enable_created() {
    if !AUTO_ENABLE.get() {
        return;
    }
    let created: Vec<(pg_sys::Oid, String, String, String)> = Spi::connect(|client| {
        client
            .select(
                "SELECT c.oid, n.nspname::pg_catalog.text, c.relname::pg_catalog.text, c.oid::pg_catalog.regclass::pg_catalog.text
                   FROM pg_catalog.pg_event_trigger_ddl_commands() d
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.objid
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.command_tag OPERATOR(pg_catalog.=) 'CREATE TABLE' AND d.object_type OPERATOR(pg_catalog.=) 'table'
                    AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[])
                    AND NOT c.relispartition AND c.relpersistence OPERATOR(pg_catalog.=) 'p'",
                None,
                &[],
            )
            .expect("created tables")
            .filter_map(|r| {
                Some((
                    r.get::<pg_sys::Oid>(1).ok()??,
                    r.get::<String>(2).ok()??,
                    r.get::<String>(3).ok()??,
                    r.get::<String>(4).ok()??,
                ))
            })
            .collect()
    });
    for (oid, schema, name, display) in created {
        if probes::registered_now(oid) {
            continue;
        }
        let Some((options, _)) = super::schema_options::recorded(&schema) else {
            continue;
        };
        let qualified = crate::model::quote::quote_qualified(&schema, &name);
        let left_out = |l: &[String]| l.iter().any(|t| *t == qualified || *t == display);
        if left_out(&options.exclude)
            || left_out(&options.shared)
            || super::schema::FRAMEWORK_TABLES.contains(&name.as_str())
        {
            continue;
        }
        let entries = |l: &[String]| -> Option<Vec<Option<String>>> {
            let mine: Vec<Option<String>> = l
                .iter()
                .filter_map(|e| e.split_once('.'))
                .filter(|(t, _)| t.trim() == name)
                .map(|(_, k)| Some(k.trim().to_string()))
                .collect();
            (!mine.is_empty()).then_some(mine)
        };
        let lines = enable::enable(
            "relay_enable_tenancy",
            Some(RegClass(oid)),
            CallOptions {
                global_unique: entries(&options.global_unique),
                keep_foreign_keys: entries(&options.keep_foreign_keys),
                tenant_from: entries(&options.tenant_from)
                    .and_then(|l| l.into_iter().next().flatten()),
                tenant_column: options.tenant_column.clone(),
                default_tenant: options.default_tenant.clone(),
                views: options.views.clone(),
                primary_key: options.primary_key.clone(),
                ..Default::default()
            },
        );
        pgrx::notice!(
            "relay_tenancy: relay.auto_enable: {qualified} tenant-enabled as schema {} was converted: {} step{}",
            crate::model::quote::quote_ident(&schema),
            lines.len(),
            if lines.len() == 1 { "" } else { "s" }
        );
    }
}
