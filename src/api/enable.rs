//! The SQL functions. Thin: check arguments, then look, plan, apply.

use crate::model::quote::quote_qualified;
use crate::pg::ext::{extension_schema, DEFAULT_TENANT_ID};
use crate::pg::probes;
use crate::pg::regclass::RegClass;
use crate::{apply, catalog, context, model::errors, pg::ext, plan};
use pgrx::prelude::*;

/// High half of the advisory lock key that serializes enable calls per table ('rlay').
const ADVISORY_LOCK_TAG: i64 = 0x726c_6179;

/// Everything both `relay_enable_tenancy` and `relay_tenancy_plan` compute.
struct Prepared {
    ext_schema: String,
    state: catalog::TableState,
    default_tenant: String,
    global_unique: Vec<String>,
    keep_foreign_keys: Vec<String>,
    tenant_column: String,
    shared_rows: bool,
    /// Said when a re-run changes what the registry recorded.
    notes: Vec<String>,
    /// Views and materialized views left open around the table.
    warnings: Vec<String>,
    steps: Vec<plan::Step>,
}

/// `views`: 'report' (the default) or 'invoker'.
pub fn views_invoker(function: &str, views: Option<String>) -> bool {
    match views.as_deref() {
        None | Some("report") => false,
        Some("invoker") => true,
        Some(other) => errors::bad_views_option(function, other),
    }
}

/// `primary_key`: 'global' (the default) or 'tenant'.
fn tenant_primary_key(function: &str, primary_key: Option<String>) -> bool {
    match primary_key.as_deref() {
        None | Some("global") => false,
        Some("tenant") => true,
        Some(other) => errors::bad_primary_key_option(function, other),
    }
}

/// The options every tenant-enabling call takes, as SQL passed them.
#[derive(Clone, Default)]
pub struct CallOptions {
    pub global_unique: Option<Vec<Option<String>>>,
    pub default_tenant: Option<String>,
    pub views: Option<String>,
    pub primary_key: Option<String>,
    pub keep_foreign_keys: Option<Vec<Option<String>>>,
    pub tenant_column: Option<String>,
    /// A foreign key (its name) whose parent row gives each row its tenant: the table
    /// has no tenant column yet (tenant_from.rs).
    pub tenant_from: Option<String>,
    /// Rows of no tenant are shared (NULL: as recorded, false on a first call).
    pub shared_rows: Option<bool>,
    /// The online path: apply the next run of catalog steps only (online.rs).
    pub online: bool,
    /// A schema call's dry run: the tables it plans before this one, taken as
    /// tenant-enabled (the real call will have enabled them), so this table's plan
    /// has the foreign-key rewrites and key checks the real call meets.
    pub enabled_earlier: Vec<u32>,
}

/// A list option that the registry records: NULL means "what the registry recorded"
/// (nothing on a first call), so a repair call never changes it by leaving it out;
/// a different list is used and reported.
fn resolve_recorded(
    name: &str,
    asked: Option<Vec<String>>,
    recorded: Option<Vec<String>>,
) -> (Vec<String>, Option<String>) {
    match (asked, recorded) {
        (None, Some(kept)) => (kept, None),
        (None, None) => (Vec::new(), None),
        (Some(asked), Some(kept)) if plan::same_entries(&asked, &kept) => (asked, None),
        (Some(asked), Some(kept)) => {
            let note = format!(
                "{name} changed from {{{}}} (recorded in the registry) to {{{}}}",
                kept.join(","),
                asked.join(",")
            );
            (asked, Some(note))
        }
        (Some(asked), None) => (asked, None),
    }
}

/// The tenant registry in use, held for the transaction: a relay_use_tenant_registry
/// waits for this call, and one that ran before is seen (its invalidation processed).
fn lock_registry() -> Option<crate::model::registry::Registry> {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock_shared($1)",
        &[crate::api::registry::REGISTRY_LOCK_KEY.into()],
    )
    .expect("advisory lock");
    // SAFETY: processes pending invalidation messages, as taking a relation lock does.
    unsafe { pgrx::pg_sys::AcceptInvalidationMessages() };
    crate::pg::tenant_registry::current()
}

/// The table tenant columns reference: the application's registry, or relay's tenants
/// (its oid and qualified name).
fn registry_target(ext_schema: &str) -> (pgrx::pg_sys::Oid, String) {
    match crate::pg::tenant_registry::current() {
        Some(r) => (pgrx::pg_sys::Oid::from(r.relid), r.table),
        None => (
            ext::ext_relation(c"tenants").relid,
            quote_qualified(ext_schema, "tenants"),
        ),
    }
}

/// Serialize relay's calls on one table (enable, disable, their dry runs) until the
/// transaction ends.
pub fn lock_table_calls(oid: pgrx::pg_sys::Oid) {
    let key = (ADVISORY_LOCK_TAG << 32) | i64::from(oid.to_u32());
    Spi::run_with_args("SELECT pg_catalog.pg_advisory_xact_lock($1)", &[key.into()])
        .expect("advisory lock");
}

fn prepare(function: &str, tbl: Option<RegClass>, call: CallOptions) -> Prepared {
    let CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from,
        shared_rows,
        online,
        enabled_earlier,
    } = call;
    let asked_keep: Option<Vec<String>> = keep_foreign_keys.map(|list| {
        list.into_iter()
            .map(|e| {
                e.unwrap_or_else(|| errors::null_argument(function, "keep_foreign_keys entry"))
            })
            .collect()
    });
    let views_invoker = views_invoker(function, views);
    let tenant_primary_key = tenant_primary_key(function, primary_key);
    let tbl = tbl
        .unwrap_or_else(|| errors::null_argument(function, "tbl"))
        .require(function);
    let asked: Option<Vec<String>> = global_unique.map(|list| {
        list.into_iter()
            .map(|e| e.unwrap_or_else(|| errors::null_global_unique_entry(function)))
            .collect()
    });
    let default_given = default_tenant.is_some();
    let default_tenant = default_tenant.unwrap_or_else(|| DEFAULT_TENANT_ID.to_string());
    let ext_schema = extension_schema();

    // Concurrent calls on one table queue here, and each reads the catalogs only once
    // it holds the lock, so the second sees what the first did. Advisory, so an
    // already-enabled table is checked without blocking the application.
    lock_table_calls(tbl.0);
    let registry = lock_registry();

    let recorded = catalog::registry_lists(tbl.0);
    let (tenant_column, from) = choose_tenant_column(
        function,
        tbl,
        &ext_schema,
        &recorded,
        tenant_column,
        tenant_from.as_deref(),
        &enabled_earlier,
    );
    let mut state = catalog::read(tbl.0, &ext_schema, &tenant_column);
    if let Some((f, _)) = &from {
        super::tenant_from::mark_parents_with_tenant(&mut state, &tenant_column, f.parent_type);
    }
    for fk in &mut state.foreign_keys {
        let other = if fk.outgoing {
            fk.parent_oid
        } else {
            fk.child_oid
        };
        if enabled_earlier.contains(&other) {
            fk.other_registered = true;
            fk.other_has_tenant = true;
        }
    }
    // Every parent must be tenant-enabled (an inheritance child can have several):
    // the first one that is not is the one the refusal names.
    let parents = parents_of(tbl.0);
    match parents
        .iter()
        .find(|(oid, _)| !probes::registered_now(*oid))
    {
        Some((oid, name)) => {
            state.parent_oid = Some(oid.to_u32());
            state.parent = Some(name.clone());
            state.parent_registered = false;
        }
        None => state.parent_registered = !parents.is_empty(),
    }
    let table = quote_qualified(&state.schema, &state.name);
    if recorded.is_some() && state.tenant_column.is_none() {
        refuse_renamed_tenant_column(tbl.0, &table, &tenant_column, &ext_schema);
    }
    plan::validate(&state).unwrap_or_else(|e| crate::plan::refusals::plan_error(&table, e));
    state.registered = recorded.is_some();
    let (recorded_unique, recorded_keep) = match recorded {
        Some((unique, keep, _)) => (Some(unique), Some(keep)),
        None => (None, None),
    };
    // A re-run keeps the keys the registry records as global (and the foreign keys it
    // records as kept single-column) unless the caller says otherwise, and then the
    // change is reported: a repair call must never loosen users.email to per-tenant
    // by leaving the argument out.
    let (global_unique, unique_note) = resolve_recorded("global_unique", asked, recorded_unique);
    let (keep_foreign_keys, keep_note) =
        resolve_recorded("keep_foreign_keys", asked_keep, recorded_keep);
    let notes: Vec<String> = unique_note.into_iter().chain(keep_note).collect();

    let shared_rows =
        resolve_shared_rows(&table, tbl, state.registered, shared_rows, default_given);
    if !shared_rows {
        check_default_tenant(
            &state,
            &table,
            &tenant_column,
            &default_tenant,
            &from,
            registry.as_ref(),
        );
    }

    let options = plan::Options {
        ext_schema: &ext_schema,
        default_tenant: &default_tenant,
        global_unique: &global_unique,
        views_invoker,
        tenant_primary_key,
        keep_foreign_keys: &keep_foreign_keys,
        tenant_column: &tenant_column,
        online,
        registry: registry.as_ref(),
        tenant_from: from.as_ref().map(|(f, _)| f),
        shared_rows,
    };
    let steps = crate::plan::online::plan_for(&state, &options)
        .unwrap_or_else(|e| crate::plan::refusals::plan_error(&table, e));
    let mut warnings = plan::view_warnings(&state, &options);
    if state.relkind == crate::model::kinds::RelKind::Partitioned {
        let partitions = partitions_of(state.oid_datum());
        if !partitions.is_empty() {
            warnings.push(format!(
                "partitions follow {table} in the same call, once it is enabled: {} (each gets row level security forced, relay's policies and the TRUNCATE guard; partitions created or attached later follow too)",
                partitions.iter().map(|(_, name)| name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    Prepared {
        ext_schema,
        state,
        default_tenant,
        global_unique,
        keep_foreign_keys,
        tenant_column,
        shared_rows,
        notes,
        warnings,
        steps,
    }
}

/// shared_rows: as asked, else as recorded (false on a first call). It cannot change
/// on an enabled table (the column's NOT NULL and relay's policies differ), and with
/// it the rows without a tenant are shared, so a default tenant does not apply.
fn resolve_shared_rows(
    table: &str,
    tbl: RegClass,
    registered: bool,
    asked: Option<bool>,
    default_given: bool,
) -> bool {
    let recorded = registered.then(|| catalog::registry_shared_rows(tbl.0));
    let shared = match (recorded, asked) {
        (Some(was), Some(asked)) if was != asked => errors::shared_rows_changed(table, was),
        (Some(was), _) => was,
        (None, asked) => asked.unwrap_or(false),
    };
    if shared && default_given {
        errors::shared_rows_with_default_tenant(table);
    }
    shared
}

/// The tenant column: the registry's for an enabled table (it cannot change), else
/// the parent's (tenant_from), else the one asked for, else tenant_id; and what
/// tenant_from resolves to (the parent and key, whether rows may lack a parent). On a
/// re-run (the online path's later runs) the column is there, filled from the parent
/// while it is still nullable.
type Recorded = Option<(Vec<String>, Vec<String>, String)>;
fn choose_tenant_column(
    function: &str,
    tbl: RegClass,
    ext_schema: &str,
    recorded: &Recorded,
    asked: Option<String>,
    tenant_from: Option<&str>,
    enabled_earlier: &[u32],
) -> (String, Option<(plan::TenantFrom, bool)>) {
    let from = tenant_from.map(|fk| {
        super::tenant_from::resolve(
            function,
            tbl.0,
            &tbl.display(),
            fk,
            asked.as_deref(),
            enabled_earlier,
            recorded.is_some(),
        )
    });
    let column = match (recorded, asked) {
        (Some((_, _, recorded)), Some(asked)) if *recorded != asked => {
            errors::tenant_column_changed(
                &quote_qualified(ext_schema, "relay_tables"),
                recorded,
                &asked,
            )
        }
        (Some((_, _, recorded)), _) => recorded.clone(),
        (None, asked) => from
            .as_ref()
            .map(|(f, _)| f.parent_column.clone())
            .or(asked)
            .unwrap_or_else(|| plan::TENANT_COLUMN.to_string()),
    };
    (column, from)
}

/// The default tenant, for the rows that need one (a column added or backfilled;
/// with tenant_from, rows whose key is NULL): a value of the column's type, and a
/// tenant that exists (with the application's registry, one of its rows, asked for
/// only when rows need it).
fn check_default_tenant(
    state: &catalog::TableState,
    table: &str,
    tenant_column: &str,
    default_tenant: &str,
    from: &Option<(plan::TenantFrom, bool)>,
    registry: Option<&crate::model::registry::Registry>,
) {
    let ext_schema = extension_schema();
    // Rows with no tenant yet are backfilled with the default tenant, which must then
    // be a value of the column's type.
    if let Some(col) = state.tenant_column.as_ref().filter(|c| !c.not_null) {
        let fits = col.type_key.accepts(default_tenant);
        if !fits {
            errors::default_tenant_not_of_type(default_tenant, &col.name, &col.type_name, table);
        }
    }
    // With the application's registry the default tenant is one of its rows, asked
    // for only when rows need it (a column added or backfilled).
    // (tenant_from: only rows whose key is NULL, which have no parent.)
    let needs_default = match &from {
        Some((_, orphans)) => *orphans || registry.is_none(),
        None => registry.is_none() || state.tenant_column.as_ref().is_none_or(|c| !c.not_null),
    };
    if let Some((f, true)) = &from {
        if !f.parent_type.accepts(default_tenant) {
            errors::default_tenant_not_of_type(
                default_tenant,
                tenant_column,
                f.parent_type.key(),
                table,
            );
        }
    }
    if needs_default && probes::tenant_is_active(default_tenant).is_none() {
        errors::unknown_default_tenant(
            default_tenant,
            &quote_qualified(&ext_schema, "tenants"),
            registry,
        );
    }
}

/// Tenant-enable a table: tenant_id column, foreign key, tenant index, per-tenant
/// unique keys, row level security, TRUNCATE guard. Returns one line per action taken.
/// With `online => true`, applies only the next run of catalog steps of the online
/// path (see relay_tenancy_plan).
#[pg_extern(volatile, parallel_unsafe, name = "relay_enable_tenancy")]
#[allow(clippy::too_many_arguments)] // one argument per SQL argument
fn relay_enable_tenancy_v3(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "NULL"),
    default_tenant: default!(Option<String>, "NULL"),
    views: default!(Option<String>, "'report'"),
    primary_key: default!(Option<String>, "'global'"),
    keep_foreign_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    tenant_column: default!(Option<String>, "NULL"),
    online: default!(Option<bool>, "false"),
    tenant_from: default!(Option<String>, "NULL"),
    shared_rows: default!(Option<bool>, "NULL"),
) -> SetOfIterator<'static, String> {
    let online = online.unwrap_or_else(|| errors::null_argument("relay_enable_tenancy", "online"));
    let call = CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from,
        shared_rows,
        online,
        ..Default::default()
    };
    SetOfIterator::new(enable("relay_enable_tenancy", tbl, call))
}

/// 0.2.0's relay_enable_tenancy (eight arguments): its C symbol stays, so a database
/// still on the 0.2.0 SQL keeps working with this library until ALTER EXTENSION
/// UPDATE replaces it.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
#[allow(clippy::too_many_arguments)] // one argument per SQL argument
fn relay_enable_tenancy_v2(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "NULL"),
    default_tenant: default!(Option<String>, "NULL"),
    views: default!(Option<String>, "'report'"),
    primary_key: default!(Option<String>, "'global'"),
    keep_foreign_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    tenant_column: default!(Option<String>, "NULL"),
    online: default!(Option<bool>, "false"),
) -> SetOfIterator<'static, String> {
    let online = online.unwrap_or_else(|| errors::null_argument("relay_enable_tenancy", "online"));
    let call = CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        online,
        ..Default::default()
    };
    SetOfIterator::new(enable("relay_enable_tenancy", tbl, call))
}

/// 0.1.0's relay_enable_tenancy (seven arguments): its C symbol stays, so a database
/// still on the 0.1.0 SQL keeps working with this library until ALTER EXTENSION
/// UPDATE replaces it.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn relay_enable_tenancy(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "NULL"),
    default_tenant: default!(Option<String>, "NULL"),
    views: default!(Option<String>, "'report'"),
    primary_key: default!(Option<String>, "'global'"),
    keep_foreign_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    tenant_column: default!(Option<String>, "NULL"),
) -> SetOfIterator<'static, String> {
    let call = CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        online: false,
        ..Default::default()
    };
    SetOfIterator::new(enable("relay_enable_tenancy", tbl, call))
}

/// The key to tenants is created as the caller, who needs REFERENCES on tenants
/// (README "Deployment rules"): the calling role's name when `steps` add that key and
/// it lacks the privilege.
fn role_lacking_references(steps: &[plan::Step]) -> Option<String> {
    if !steps
        .iter()
        .any(|s| s.kind == plan::StepKind::AddForeignKey)
    {
        return None;
    }
    let (target, _) = registry_target(&extension_schema());
    // SAFETY: an ACL check of the current user on an existing relation, no SQL.
    unsafe {
        let user = pgrx::pg_sys::GetUserId();
        let granted = pgrx::pg_sys::pg_class_aclcheck(
            target,
            user,
            pgrx::pg_sys::ACL_REFERENCES as pgrx::pg_sys::AclMode,
        ) == pgrx::pg_sys::AclResult::ACLCHECK_OK;
        (!granted).then(|| {
            std::ffi::CStr::from_ptr(pgrx::pg_sys::GetUserNameFromId(user, false))
                .to_string_lossy()
                .into_owned()
        })
    }
}

/// Refused up front with the grant to run, instead of PostgreSQL's bare "permission
/// denied for table tenants" halfway through.
fn require_references_on_tenants(ext_schema: &str, table: &str, steps: &[plan::Step]) {
    if let Some(role) = role_lacking_references(steps) {
        errors::references_on_tenants_needed(table, &registry_target(ext_schema).1, &role);
    }
}

/// The body of relay_enable_tenancy, also run per table by the schema call.
pub fn enable(function: &str, tbl: Option<RegClass>, call: CallOptions) -> Vec<String> {
    let online = call.online;
    // (counted before the read: a change committed during it is caught either way)
    let mut read_at = crate::apply::locks::invalidations_received();
    let mut p = prepare(function, tbl, call.clone());
    let table = quote_qualified(&p.state.schema, &p.state.name);
    let nothing_to_do =
        |p: &Prepared| p.steps.is_empty() && p.state.registered && p.notes.is_empty();
    if !nothing_to_do(&p) {
        if online {
            apply::set_online_lock_timeout();
            // Made ready before the lock: the plans of what runs under it (the event
            // triggers' queries, the end-state check, the registry write, relay's audit
            // entry; parsed, planned and their catalog caches filled once per backend:
            // in the background worker, a new backend, 2-3 ms of a cold first run).
            crate::guards::isolation::prepare_plans(p.state.oid_datum());
            apply::prepare_register(&p.ext_schema, p.shared_rows);
            crate::audit::writer::prepare_insert_one();
        }
        // Every lock the steps need, before the first one; then the plan is made again
        // from what the catalog says under those locks (a neighbour enabled meanwhile
        // changes which keys become composite) when anything changed since it was read:
        // a change to the table, its neighbours, relay's registry or tenants commits
        // with an invalidation message, which taking the locks takes in (PostgreSQL's
        // own test in RangeVarGetRelidExtended). Reading again under ACCESS EXCLUSIVE
        // is most of an online run's lock time; a message of any kind reads again.
        let mut first = true;
        let mut take = || {
            crate::apply::locks::take_all(function, || {
                let again = !std::mem::take(&mut first);
                let received = crate::apply::locks::invalidations_received();
                if again && received != read_at {
                    read_at = received;
                    crate::apply::locks::note_read_again();
                    p = prepare(function, tbl, call.clone());
                }
                crate::apply::locks::for_plan(
                    &p.state,
                    if online {
                        crate::plan::online::next_run(&p.steps)
                    } else {
                        &p.steps
                    },
                )
            })
        };
        if online {
            // (the catch raises in turn: nothing observes `p` after an error)
            pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(take))
                .catch_when(pgrx::PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, |_| {
                    errors::online_lock_timeout(&table)
                })
                .execute();
        } else {
            take();
        }
    }
    let mut lines: Vec<String> = p.notes.clone();
    if nothing_to_do(&p) {
        lines.push(format!("{table} is already tenant-enabled: nothing to do"));
        lines.extend(warnings_then_partitions(function, p));
        return lines;
    }
    require_references_on_tenants(&p.ext_schema, &table, &p.steps);
    if online {
        let run = crate::plan::online::next_run(&p.steps);
        if run.is_empty() {
            // A statement of the online plan that runs on its own (a concurrent index
            // build, a validation) did not complete: the table is half-converted. An
            // error, so that psql's ON_ERROR_STOP and migration tools stop here.
            let next = p
                .steps
                .iter()
                .find(|s| s.standalone)
                .expect("a plan with no run starts with a standalone step");
            errors::online_step_pending(&table, &next.sql);
        }
        lines.extend(apply::apply_online(&p.state, run, &p.default_tenant));
    } else {
        lines.extend(apply::apply(&p.state, &p.steps, &p.default_tenant));
    }
    let lists = apply::RegistryLists {
        global_unique: &p.global_unique,
        keep_foreign_keys: &p.keep_foreign_keys,
        tenant_column: &p.tenant_column,
        shared_rows: p.shared_rows,
    };
    lines.push(apply::register(
        &p.ext_schema,
        &p.state,
        &p.steps,
        &p.default_tenant,
        &lists,
    ));
    // Code that ran during the steps (an event trigger, index expressions, the owner's
    // triggers) could not switch isolation off on the way: the end state is checked,
    // not assumed. After the registry row, which the check reads (before it, a table
    // enabled for the first time was not checked at all).
    crate::guards::isolation::refuse_if_broken(p.state.oid_datum());
    crate::audit::admin::record(
        DEFAULT_TENANT_ID,
        "relay.tenancy_enabled",
        "table",
        &table,
        serde_json::json!({ "online": online, "actions": lines.clone() }),
    );
    lines.extend(warnings_then_partitions(function, p));
    lines
}

/// The last lines of an enable call: the plan's warnings (the partitions' own line
/// aside: the partitions report themselves), then each partition enabled in turn.
fn warnings_then_partitions(function: &str, p: Prepared) -> Vec<String> {
    let mut lines: Vec<String> = p
        .warnings
        .into_iter()
        .filter(|w| !w.starts_with("partitions follow "))
        .collect();
    lines.extend(enable_partitions(
        function,
        &p.state,
        &p.default_tenant,
        &p.tenant_column,
    ));
    lines
}

/// The direct parents of table `oid` (its partitioned table, or the tables it
/// inherits from), by name.
fn parents_of(oid: pgrx::pg_sys::Oid) -> Vec<(pgrx::pg_sys::Oid, String)> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT i.inhparent, pg_catalog.format('%I.%I', n.nspname, c.relname)
                   FROM pg_catalog.pg_inherits i
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhparent
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                  WHERE i.inhrelid OPERATOR(pg_catalog.=) $1 ORDER BY i.inhseqno",
                None,
                &[oid.into()],
            )
            .expect("parents")
            .filter_map(|r| {
                Some((
                    r.get::<pgrx::pg_sys::Oid>(1).ok()??,
                    r.get::<String>(2).ok()??,
                ))
            })
            .collect()
    })
}

/// The partitions of partitioned table `oid` (direct ones), by name.
pub fn partitions_of(oid: pgrx::pg_sys::Oid) -> Vec<(pgrx::pg_sys::Oid, String)> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT i.inhrelid, i.inhrelid::pg_catalog.regclass::pg_catalog.text FROM pg_catalog.pg_inherits i
                  WHERE i.inhparent OPERATOR(pg_catalog.=) $1 ORDER BY 2",
                None,
                &[oid.into()],
            )
            .expect("partitions")
            .filter_map(|r| Some((r.get::<pgrx::pg_sys::Oid>(1).ok()??, r.get::<String>(2).ok()??)))
            .collect()
    })
}

/// A partitioned table's partitions follow it: each is enabled the same way (its
/// column, keys, indexes and foreign keys come from the parent; it gets row level
/// security forced, relay's policies and the TRUNCATE guard, which PostgreSQL does
/// not carry from parent to partition, so that querying a partition directly is
/// isolated too). Sub-partitioned partitions recurse.
fn enable_partitions(
    function: &str,
    state: &catalog::TableState,
    default_tenant: &str,
    tenant_column: &str,
) -> Vec<String> {
    if state.relkind != crate::model::kinds::RelKind::Partitioned {
        return Vec::new();
    }
    let mut lines = Vec::new();
    for (oid, _) in partitions_of(state.oid_datum()) {
        let call = CallOptions {
            default_tenant: Some(default_tenant.to_string()),
            tenant_column: Some(tenant_column.to_string()),
            ..Default::default()
        };
        lines.extend(enable(function, Some(RegClass(oid)), call));
    }
    lines
}

/// The dry run: the steps `relay_enable_tenancy` would take, with the lock each takes
/// and its SQL. Changes nothing (it takes the same advisory lock to read consistently).
/// With `online => true`: the statements of the online path, in order, to run one by
/// one outside a transaction block (`SELECT statement FROM relay_tenancy_plan(...,
/// online => true) ORDER BY step \gexec`).
#[pg_extern(volatile, parallel_unsafe, name = "relay_tenancy_plan")]
#[allow(clippy::too_many_arguments)] // one argument per SQL argument
fn relay_tenancy_plan_v3(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "NULL"),
    default_tenant: default!(Option<String>, "NULL"),
    views: default!(Option<String>, "'report'"),
    primary_key: default!(Option<String>, "'global'"),
    keep_foreign_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    tenant_column: default!(Option<String>, "NULL"),
    online: default!(Option<bool>, "false"),
    tenant_from: default!(Option<String>, "NULL"),
    shared_rows: default!(Option<bool>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    let online = online.unwrap_or_else(|| errors::null_argument("relay_tenancy_plan", "online"));
    let call = CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from,
        shared_rows,
        online,
        ..Default::default()
    };
    TableIterator::new(plan_steps("relay_tenancy_plan", tbl, call))
}

/// 0.2.0's relay_tenancy_plan (eight arguments), kept for databases still on the
/// 0.2.0 SQL (see relay_enable_tenancy).
#[pg_extern(volatile, parallel_unsafe, sql = false)]
#[allow(clippy::too_many_arguments)] // one argument per SQL argument
fn relay_tenancy_plan_v2(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "NULL"),
    default_tenant: default!(Option<String>, "NULL"),
    views: default!(Option<String>, "'report'"),
    primary_key: default!(Option<String>, "'global'"),
    keep_foreign_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    tenant_column: default!(Option<String>, "NULL"),
    online: default!(Option<bool>, "false"),
) -> TableIterator<
    'static,
    (
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    let online = online.unwrap_or_else(|| errors::null_argument("relay_tenancy_plan", "online"));
    let call = CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        online,
        ..Default::default()
    };
    TableIterator::new(plan_steps("relay_tenancy_plan", tbl, call))
}

/// 0.1.0's relay_tenancy_plan (seven arguments), kept for databases still on the
/// 0.1.0 SQL (see relay_enable_tenancy).
#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn relay_tenancy_plan(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "NULL"),
    default_tenant: default!(Option<String>, "NULL"),
    views: default!(Option<String>, "'report'"),
    primary_key: default!(Option<String>, "'global'"),
    keep_foreign_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    tenant_column: default!(Option<String>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    let call = CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        online: false,
        ..Default::default()
    };
    TableIterator::new(plan_steps("relay_tenancy_plan", tbl, call))
}

/// The body of relay_tenancy_plan: (step, lock, action, statement) rows.
/// Warnings (views left open) come as step 0, with no lock and no statement.
pub fn plan_steps(
    function: &str,
    tbl: Option<RegClass>,
    call: CallOptions,
) -> Vec<(i32, String, String, String)> {
    plan_rows_for(function, tbl, call, false)
}

/// `plan_steps`, refusing what the call itself would refuse (a missing REFERENCES
/// grant) instead of warning: for a call that queues the plan to run later
/// (background.rs).
pub fn plan_steps_checked(
    function: &str,
    tbl: Option<RegClass>,
    call: CallOptions,
) -> Vec<(i32, String, String, String)> {
    plan_rows_for(function, tbl, call, true)
}

fn plan_rows_for(
    function: &str,
    tbl: Option<RegClass>,
    call: CallOptions,
    refuse: bool,
) -> Vec<(i32, String, String, String)> {
    let again = call.clone();
    let mut p = prepare(function, tbl, call);
    if refuse {
        let table = quote_qualified(&p.state.schema, &p.state.name);
        require_references_on_tenants(&p.ext_schema, &table, &p.steps);
    }
    // The dry run says what the call would refuse for want of REFERENCES on tenants.
    if let Some(role) = role_lacking_references(&p.steps) {
        p.warnings.push(format!(
            "role {} lacks REFERENCES on {}: the call would be refused (42501); GRANT REFERENCES ON {} TO {} first",
            crate::model::quote::quote_ident(&role),
            registry_target(&p.ext_schema).1,
            registry_target(&p.ext_schema).1,
            crate::model::quote::quote_ident(&role)
        ));
    }
    if !again.online {
        return plan_rows(p.warnings, p.steps);
    }
    // Online: each run of catalog steps is one call of relay_enable_tenancy(...,
    // online => true), each long step a statement of its own; a last call checks
    // that nothing is left and says so.
    let table = quote_qualified(&p.state.schema, &p.state.name);
    let call_sql = online_call_sql(&table, &again);
    let mut rows: Vec<_> = p
        .warnings
        .into_iter()
        .map(|w| (0, String::new(), w, String::new()))
        .collect();
    let mut steps = p.steps.into_iter().peekable();
    while let Some(step) = steps.next() {
        if step.standalone {
            rows.push((
                rows.len() as i32 + 1,
                step.lock.as_str().to_string(),
                step.action,
                step.sql,
            ));
            continue;
        }
        let mut run = vec![step];
        while steps.peek().is_some_and(|s| !s.standalone) {
            run.push(steps.next().expect("peeked"));
        }
        let lock = run.iter().map(|s| s.lock).max().expect("a run has a step");
        let action = format!(
            "catalog changes, lock_timeout 2s: {}",
            run.iter()
                .map(|s| s.action.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        rows.push((
            rows.len() as i32 + 1,
            lock.as_str().to_string(),
            action,
            call_sql.clone(),
        ));
    }
    rows.push((
        rows.len() as i32 + 1,
        String::new(),
        "checks that nothing is left to do (says so; registered in relay_tables since the first catalog run)".to_string(),
        call_sql,
    ));
    rows
}

/// `SELECT relay_enable_tenancy('<table>', <the options given>, online => true)`.
fn online_call_sql(table: &str, call: &CallOptions) -> String {
    use crate::model::quote::quote_literal;
    let list = |l: &Vec<Option<String>>| {
        format!(
            "ARRAY[{}]::text[]",
            l.iter()
                .flatten()
                .map(|e| quote_literal(e))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut args = vec![quote_literal(table)];
    if let Some(l) = &call.global_unique {
        args.push(format!("global_unique => {}", list(l)));
    }
    if let Some(d) = &call.default_tenant {
        args.push(format!("default_tenant => {}", quote_literal(d)));
    }
    if let Some(v) = call.views.as_deref().filter(|v| *v != "report") {
        args.push(format!("views => {}", quote_literal(v)));
    }
    if let Some(k) = call.primary_key.as_deref().filter(|k| *k != "global") {
        args.push(format!("primary_key => {}", quote_literal(k)));
    }
    if let Some(l) = &call.keep_foreign_keys {
        args.push(format!("keep_foreign_keys => {}", list(l)));
    }
    if let Some(c) = &call.tenant_column {
        args.push(format!("tenant_column => {}", quote_literal(c)));
    }
    args.push("online => true".into());
    if let Some(f) = &call.tenant_from {
        args.push(format!("tenant_from => {}", quote_literal(f)));
    }
    if let Some(shared) = call.shared_rows {
        args.push(format!("shared_rows => {shared}"));
    }
    format!(
        "SELECT {}.relay_enable_tenancy({})",
        crate::model::quote::quote_ident(crate::pg::ext::API_SCHEMA),
        args.join(", ")
    )
}

/// An enabled table whose recorded tenant column is gone, and another column carries
/// relay's default or key (it was renamed, by a superuser who allowed unsafe DDL or a
/// schema tool): refused, naming the column to rename back, rather than adding a
/// second, empty tenant column.
fn refuse_renamed_tenant_column(oid: pg_sys::Oid, table: &str, recorded: &str, ext_schema: &str) {
    let renamed = crate::pg::privilege::select_optional::<String>(
        "SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a
          WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
            AND (EXISTS (SELECT FROM pg_catalog.pg_attrdef ad
                           JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                                                      AND d.objid OPERATOR(pg_catalog.=) ad.oid
                                                      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                           JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.refobjid
                          WHERE ad.adrelid OPERATOR(pg_catalog.=) a.attrelid AND ad.adnum OPERATOR(pg_catalog.=) a.attnum
                            AND p.proname OPERATOR(pg_catalog.~~) 'relay\\_insert\\_tenant%'
                            AND p.pronamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace(pg_catalog.quote_ident($2))::pg_catalog.oid)
                 OR EXISTS (SELECT FROM pg_catalog.pg_constraint k
                             WHERE k.conrelid OPERATOR(pg_catalog.=) a.attrelid AND k.contype OPERATOR(pg_catalog.=) 'f'
                               AND k.confrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(pg_catalog.quote_ident($2) OPERATOR(pg_catalog.||) '.tenants')::pg_catalog.oid
                               AND k.conkey OPERATOR(pg_catalog.=) ARRAY[a.attnum]))
          ORDER BY a.attnum LIMIT 1",
        &[oid.into(), ext_schema.into()],
    );
    if let Some(now) = renamed {
        errors::tenant_column_renamed(table, recorded, &now);
    }
}

/// A dry run's rows: `notes` as step 0 (no lock, no statement), then the steps.
pub fn plan_rows(notes: Vec<String>, steps: Vec<plan::Step>) -> Vec<(i32, String, String, String)> {
    let mut rows: Vec<_> = notes
        .into_iter()
        .map(|w| (0, String::new(), w, String::new()))
        .collect();
    rows.extend(
        steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as i32 + 1, s.lock.as_str().to_string(), s.action, s.sql)),
    );
    rows
}

/// Column default of tenant_id on enabled tables: the session's tenant, or an error
/// naming the table when none is set, so a row never lands in a tenant by accident.
#[pg_extern(stable, parallel_safe)]
fn relay_insert_tenant(tbl: RegClass) -> String {
    context::insert_tenant(|| tbl.display())
}

/// The same default as written for Citus (the table by name; see `context`).
#[pg_extern(stable, parallel_safe, name = "relay_insert_tenant")]
fn relay_insert_tenant_named(tbl: &str) -> String {
    context::insert_tenant(|| tbl.to_string())
}

/// Exposed for tests: PostgreSQL's quoting, to check `quote::quote_ident` against.
#[cfg(any(test, feature = "pg_test"))]
pub fn server_quote_ident(name: &str) -> String {
    pgrx::spi::quote_identifier(name)
}
