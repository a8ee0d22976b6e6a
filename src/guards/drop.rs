//! The DROP guard: `DROP EXTENSION relay_tenancy` (and the commands that would drop it
//! by cascade: `DROP SCHEMA <relay's schema> CASCADE`, `DROP OWNED BY <its owner>`)
//! is refused while tables are tenant-enabled or audit entries exist.
//!
//! A cascade would take `tenants` and `audit_logs` with every tenant's entries, and
//! with them the tenant tables' policies, defaults and foreign keys (they depend on
//! relay's functions and on `tenants`): the tables would be left with their rows and
//! no isolation, after one NOTICE. An event trigger on ddl_command_start sees the
//! command before anything is dropped; it reads the parse tree, because
//! pg_event_trigger_ddl_commands() is not available that early.
//!
//! The same function, on sql_drop, keeps the registry true: tables dropped (one by
//! one, with their schema, or by DROP OWNED) leave relay_tables and
//! relay_audit_tables. A rename needs nothing: the registry holds oids.

use crate::pg::privilege;
use crate::pg::probes;
use crate::{model::errors, pg::ext};
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `relay.drop_audit_log`: let DROP EXTENSION drop audit_logs with its entries.
static DROP_AUDIT_LOG: GucSetting<bool> = GucSetting::<bool>::new(false);

pub fn register_gucs() {
    GucRegistry::define_bool_guc(
        c"relay.drop_audit_log",
        c"Let DROP EXTENSION relay_tenancy drop audit_logs while it holds entries.",
        c"Superuser-only. Off (the default): the drop is refused while audit_logs holds entries. Keep a copy of the entries first.",
        &DROP_AUDIT_LOG,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The names in a `List` of `String` nodes (DROP EXTENSION / DROP SCHEMA objects).
///
/// # Safety
/// `list` is a valid List of String nodes, or NULL.
unsafe fn string_list(list: *mut pg_sys::List) -> Vec<String> {
    let list = unsafe { pgrx::PgList::<pg_sys::Node>::from_pg(list) };
    list.iter_ptr()
        .filter(|n| !n.is_null() && unsafe { (**n).type_ } == pg_sys::NodeTag::T_String)
        .map(|n| {
            unsafe { std::ffi::CStr::from_ptr((*(n as *mut pg_sys::String)).sval) }
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Would this command drop relay_tenancy? `parsetree` is the command's raw statement.
///
/// # Safety
/// `parsetree` is a valid parse tree node.
unsafe fn drops_relay(parsetree: *mut pg_sys::Node) -> Option<String> {
    let tag = unsafe { (*parsetree).type_ };
    if tag == pg_sys::NodeTag::T_DropStmt {
        let stmt = parsetree as *mut pg_sys::DropStmt;
        let (kind, objects, cascade) = unsafe {
            (
                (*stmt).removeType,
                (*stmt).objects,
                (*stmt).behavior == pg_sys::DropBehavior::DROP_CASCADE,
            )
        };
        let names = unsafe { string_list(objects) };
        if kind == pg_sys::ObjectType::OBJECT_EXTENSION
            && names.iter().any(|n| n == "relay_tenancy")
        {
            return Some("DROP EXTENSION relay_tenancy".into());
        }
        // relay's schema, or public (the functions users call live there: dropping
        // them drops the extension too).
        let schema = ext::extension_schema();
        if let Some(dropped) = names
            .iter()
            .find(|n| **n == schema || *n == ext::API_SCHEMA)
            .filter(|_| kind == pg_sys::ObjectType::OBJECT_SCHEMA && cascade)
        {
            return Some(format!(
                "DROP SCHEMA {} CASCADE",
                crate::model::quote::quote_ident(dropped)
            ));
        }
    } else if tag == pg_sys::NodeTag::T_DropOwnedStmt {
        let stmt = parsetree as *mut pg_sys::DropOwnedStmt;
        let roles = unsafe { pgrx::PgList::<pg_sys::RoleSpec>::from_pg((*stmt).roles) };
        let owner = ext::extension_owner();
        // SAFETY: each element is a RoleSpec; a missing role yields InvalidOid.
        if roles
            .iter_ptr()
            .any(|r| unsafe { pg_sys::get_rolespec_oid(r, true) } == owner)
        {
            return Some("DROP OWNED BY the extension's owner".into());
        }
    }
    None
}

/// Tenant-enabled tables (first few by name, and how many) and audit entries (any).
fn what_would_be_lost() -> (Vec<String>, i64, bool) {
    let schema = ext::extension_schema();
    let registry = crate::model::quote::quote_qualified(&schema, "relay_tables");
    let audit = crate::model::quote::quote_qualified(&schema, "audit_logs");
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let tables: Vec<String> = client
                .select(&format!("SELECT relid::pg_catalog.regclass::pg_catalog.text FROM {registry} ORDER BY 1 LIMIT 10"), None, &[])
                .expect("registry")
                .filter_map(|r| r.get::<String>(1).unwrap())
                .collect();
            let count = client
                .select(
                    &format!("SELECT pg_catalog.count(*) FROM {registry}"),
                    None,
                    &[],
                )
                .expect("registry count")
                .first()
                .get_one::<i64>()
                .expect("count")
                .unwrap_or(0);
            let entries = client
                .select(&format!("SELECT EXISTS (SELECT FROM {audit})"), None, &[])
                .expect("audit entries")
                .first()
                .get_one::<bool>()
                .expect("exists")
                .unwrap_or(false);
            (tables, count, entries)
        })
    })
}

#[unsafe(no_mangle)]
#[doc(hidden)]
pub extern "C" fn pg_finfo_relay_drop_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The event trigger function (ddl_command_start for DROP EXTENSION, DROP SCHEMA and
/// DROP OWNED).
///
/// # Safety
/// Called by PostgreSQL's function manager with a valid `fcinfo`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn relay_drop_guard(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: an event trigger's context is an EventTriggerData node with the
    // command's parse tree.
    let command = unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_EventTriggerData {
            errors::not_called_as_trigger("relay_drop_guard");
        }
        let data = context as *mut pg_sys::EventTriggerData;
        drops_relay((*data).parsetree)
    };
    // SAFETY: as above.
    let event = unsafe {
        let data = (*fcinfo).context as *mut pg_sys::EventTriggerData;
        std::ffi::CStr::from_ptr((*data).event)
            .to_string_lossy()
            .into_owned()
    };
    if event == "sql_drop" {
        forget_dropped_tables();
        return pg_sys::Datum::from(0);
    }
    if let Some(command) = command {
        let (tables, count, entries) = what_would_be_lost();
        if count > 0 {
            errors::drop_with_enabled_tables(&command, &tables, count);
        }
        if entries && !DROP_AUDIT_LOG.get() {
            errors::drop_with_audit_entries(
                &command,
                &crate::model::quote::quote_qualified(&ext::extension_schema(), "audit_logs"),
            );
        }
    }
    pg_sys::Datum::from(0)
}

/// sql_drop: remove the registry rows of the tables the command dropped.
fn forget_dropped_tables() {
    let schema = ext::extension_schema();
    let registry = ext::ext_relation(c"relay_tables");
    let audit_tables = ext::ext_relation(c"relay_audit_tables");
    let sql = format!(
        "WITH dropped AS (
           SELECT o.objid FROM pg_catalog.pg_event_trigger_dropped_objects() o
            WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
              AND o.objsubid OPERATOR(pg_catalog.=) 0),
         gone AS (
           DELETE FROM {} r USING dropped d WHERE r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid
           RETURNING r.relid::pg_catalog.oid),
         gone_audit AS (
           DELETE FROM {} a USING dropped d WHERE a.relid::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid
           RETURNING a.relid::pg_catalog.oid)
         SELECT FROM gone UNION ALL SELECT FROM gone_audit",
        crate::model::quote::quote_qualified(&schema, "relay_tables"),
        crate::model::quote::quote_qualified(&schema, "relay_audit_tables"),
    );
    // relay's own tables going (DROP SCHEMA ... CASCADE of an empty installation):
    // nothing to keep true.
    let own_dropped: bool = Spi::get_one_with_args(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() o
                         WHERE o.objid OPERATOR(pg_catalog.=) ANY (ARRAY[$1, $2]::pg_catalog.oid[]))",
        &[registry.relid.into(), audit_tables.relid.into()],
    )
    .expect("dropped objects")
    .unwrap_or(false);
    if own_dropped {
        return;
    }
    // The application's tenant registry: every tenant check reads it.
    if let Some(registry) = crate::pg::tenant_registry::current() {
        // (Named as the dropped object: the catalog no longer has it.)
        let dropped = privilege::select_optional::<String>(
            "SELECT o.object_identity FROM pg_catalog.pg_event_trigger_dropped_objects() o
              WHERE o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND o.objid OPERATOR(pg_catalog.=) $1 AND o.objsubid OPERATOR(pg_catalog.=) 0",
            &[pg_sys::Oid::from(registry.relid).into()],
        );
        if let Some(table) = dropped {
            errors::registry_dropped(&table);
        }
    }
    probes::refuse_foreign_triggers(c"relay_tables");
    probes::refuse_foreign_triggers(c"relay_audit_tables");
    // No relcache invalidation of our own: dropping the table sent one to every
    // backend, which clears their cached registrations.
    privilege::as_extension_owner(|| Spi::run(&sql).expect("registry cleanup"));
}
