//! Apply: run a plan through SPI in the caller's transaction and record it.
//!
//! Any error aborts the caller's transaction, so either every step lands, together
//! with its registry entry, or nothing does.
//!
//! Steps run as the caller, except two kinds: the backfill runs as the table's owner
//! (so a hostile owner's triggers never run with a superuser migration's rights), and
//! steps that attach relay's trigger functions run as the extension's owner (EXECUTE
//! on those functions is not granted to PUBLIC). Both run under a pinned search_path
//! with SECURITY_RESTRICTED_OPERATION (`privilege::as_role`).
//!
//! **apply** layer: running steps (here), taking every lock of a call before its first
//! step (`locks`), and progress reporting (`progress`).
//! May use: `model`, `pg`, `catalog`, `plan`.

pub mod batch;
pub mod locks;
pub mod progress;

use crate::catalog::TableState;
use crate::model::quote::quote_qualified;
use crate::pg::privilege;
use crate::pg::probes;
use crate::pg::settings;
use crate::plan::{Step, StepKind};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::Cell;

thread_local! {
    /// The table relay is changing right now. relay's DDL guard (an event trigger)
    /// lets relay's own steps on this one table through; everything else, including
    /// DDL that user code run during the steps might attempt on other tables, is
    /// checked as usual, and this table's end state is checked once the steps are done.
    static APPLYING: Cell<Option<pg_sys::Oid>> = const { Cell::new(None) };
}

/// The table relay is applying steps to in this backend, if any.
pub fn applying() -> Option<pg_sys::Oid> {
    APPLYING.with(Cell::get)
}

struct Applying(Option<pg_sys::Oid>);

impl Drop for Applying {
    fn drop(&mut self) {
        APPLYING.with(|a| a.set(self.0));
    }
}

fn run_step(client: &mut pgrx::spi::SpiClient<'_>, step: &Step, default_tenant: &str) -> String {
    pgrx::debug1!("relay_tenancy: {}", step.sql);
    match step.kind {
        StepKind::CheckTenantsExist => {
            let row = client
                .select(step.sql.as_str(), Some(1), &[])
                .expect("tenant check");
            let row = row.first();
            let missing = row.get::<i64>(1).expect("count").unwrap_or(0);
            if missing > 0 {
                let example = row.get::<String>(2).expect("example").unwrap_or_default();
                crate::model::errors::rows_of_unknown_tenants(
                    &step.action,
                    missing,
                    &example,
                    crate::pg::tenant_registry::current().as_ref(),
                );
            }
            step.report_line(None)
        }
        StepKind::CheckGlobalUnique => {
            let rows = client
                .select(step.sql.as_str(), Some(10), &[])
                .expect("shared values check");
            let mut total = 0i64;
            let mut examples = Vec::new();
            for row in rows {
                total = row.get::<i64>(1).expect("count").unwrap_or(0);
                let value = row.get::<String>(2).expect("value").unwrap_or_default();
                let tenants = row.get::<String>(3).expect("tenants").unwrap_or_default();
                examples.push(format!("{value} in tenants {tenants}"));
            }
            if total > 0 {
                let key = step
                    .action
                    .strip_prefix(crate::plan::undo::SHARED_CHECK_PREFIX)
                    .unwrap_or(&step.action);
                crate::model::errors::values_shared_across_tenants(key, total, &examples);
            }
            step.report_line(None)
        }
        StepKind::BackfillFromParent => {
            let done = client
                .update(step.sql.as_str(), None, &[])
                .expect("backfill from parent");
            step.report_line(Some(done.len()))
        }
        StepKind::Backfill => {
            let args = [default_tenant.into()];
            let done = client
                .update(step.sql.as_str(), None, &args)
                .expect("backfill");
            step.report_line(Some(done.len()))
        }
        // PostgreSQL NOTICEs that ADD CONSTRAINT ... USING INDEX renames the
        // index; our own line says so already. Quiet for this statement only.
        StepKind::SwapUniqueConstraint => {
            let min_messages = client
                .select(
                    "SELECT pg_catalog.current_setting('client_min_messages')",
                    None,
                    &[],
                )
                .and_then(|rows| rows.first().get_one::<String>())
                .expect("read client_min_messages")
                .unwrap_or_else(|| "notice".into());
            client
                .update(
                    "SELECT pg_catalog.set_config('client_min_messages', 'warning', true)",
                    None,
                    &[],
                )
                .and_then(|_| client.update(step.sql.as_str(), None, &[]))
                .expect("plan step");
            client
                .update(
                    "SELECT pg_catalog.set_config('client_min_messages', $1, true)",
                    None,
                    &[min_messages.as_str().into()],
                )
                .expect("restore client_min_messages");
            step.report_line(None)
        }
        _ => {
            client
                .update(step.sql.as_str(), None, &[])
                .expect("plan step");
            step.report_line(None)
        }
    }
}

/// Run `f` with table `relid` marked as the one relay is changing (relay_distribute's
/// rewrite of relay's own policy).
pub fn while_applying<R>(relid: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    let _restore = Applying(APPLYING.with(|a| a.replace(Some(relid))));
    f()
}

/// Run the steps on table `state` in order; return one log line per step.
pub fn apply(state: &TableState, steps: &[Step], default_tenant: &str) -> Vec<String> {
    let _restore = Applying(APPLYING.with(|a| a.replace(Some(state.oid_datum()))));
    let _citus = state.distributed.then(settings::citus_ddl_settings);
    let owner = pg_sys::Oid::from(state.owner_oid);
    let table = quote_qualified(&state.schema, &state.name);
    let size = progress::LazySize::of(state.oid_datum());
    let mut lines = Vec::with_capacity(steps.len());
    for batch in batch::batches(&table, steps, !state.distributed) {
        let (first, last) = (batch.steps.start, batch.steps.end - 1);
        // Catalog-only ALTER TABLE steps as one statement (batch.rs), run as each of
        // them alone would be; one line per step.
        let merged;
        let step = match batch.sql {
            Some(sql) => {
                merged = Step {
                    sql,
                    ..steps[last].clone()
                };
                &merged
            }
            None => &steps[first],
        };
        progress::before(first + 1, steps.len(), &table, &size, step);
        let started = progress::start();
        let line = run_as_its_role(step, owner, default_tenant);
        progress::after(
            last + 1,
            steps.len(),
            &table,
            &size,
            &steps[last],
            started.elapsed(),
        );
        if first == last {
            lines.push(line);
        } else {
            lines.extend(steps[batch.steps].iter().map(|s| s.report_line(None)));
        }
    }
    lines
}

/// Run `step` as the role its kind runs as; its log line.
fn run_as_its_role(step: &Step, owner: pg_sys::Oid, default_tenant: &str) -> String {
    let run = || Spi::connect_mut(|client| run_step(client, step, default_tenant));
    if step.privileged {
        privilege::as_extension_owner(run)
    } else if matches!(
        step.kind,
        StepKind::Backfill | StepKind::BackfillFromParent | StepKind::CheckGlobalUnique
    ) {
        // Every tenant's rows: as the owner, with row level security not forced.
        privilege::as_role(owner, pg_sys::SECURITY_NOFORCE_RLS, run)
    } else {
        // As the caller, but seeing every tenant's rows (a foreign key's
        // validation under FORCE ROW LEVEL SECURITY).
        privilege::without_forced_rls(run)
    }
}

/// The registry's per-table choices, recorded at every call.
pub struct RegistryLists<'a> {
    pub global_unique: &'a [String],
    pub keep_foreign_keys: &'a [String],
    pub tenant_column: &'a str,
    pub shared_rows: bool,
}

/// The statement of `register`.
fn registry_write_sql(registry: &str, shared_rows: bool) -> String {
    // (written only when set: the column is 0.3.0's, and this library also serves a
    // database still on 0.2.0's SQL)
    let (shared_column, shared_value) = if shared_rows {
        (" shared_rows,", " true,")
    } else {
        ("", "")
    };
    format!(
        "INSERT INTO {registry} AS r (relid, default_tenant, global_unique, enabled_by, keep_foreign_keys, tenant_column,{shared_column} history)
         VALUES ($1::pg_catalog.oid::pg_catalog.regclass, $2, $3, $6, $7, $8,{shared_value}
                 pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                   'at', pg_catalog.now(), 'by', $6,
                   'before', $4::pg_catalog.jsonb, 'steps', $5::pg_catalog.jsonb)))
         ON CONFLICT (relid) DO UPDATE
            SET history = r.history OPERATOR(pg_catalog.||) EXCLUDED.history,
                global_unique = EXCLUDED.global_unique,
                keep_foreign_keys = EXCLUDED.keep_foreign_keys,
                updated_at = pg_catalog.now()"
    )
}

/// The parameters of `registry_write_sql` (the same types whatever the values).
fn registry_write_args<'a>(
    relid: pg_sys::Oid,
    default_tenant: &'a str,
    lists: &RegistryLists<'a>,
    before: String,
    steps: String,
    caller: String,
) -> Vec<pgrx::datum::DatumWithOid<'a>> {
    vec![
        relid.into(),
        default_tenant.into(),
        lists.global_unique.to_vec().into(),
        before.into(),
        steps.into(),
        caller.into(),
        lists.keep_foreign_keys.to_vec().into(),
        lists.tenant_column.into(),
    ]
}

/// Prepare (not run) the kept plan of `register`'s write, as the extension's owner
/// (see `guards::isolation::prepare_plans`).
pub fn prepare_register(ext_schema: &str, shared_rows: bool) {
    let sql = registry_write_sql(&quote_qualified(ext_schema, "relay_tables"), shared_rows);
    let lists = RegistryLists {
        global_unique: &[],
        keep_foreign_keys: &[],
        tenant_column: "",
        shared_rows,
    };
    let args = registry_write_args(
        pg_sys::InvalidOid,
        "",
        &lists,
        String::new(),
        String::new(),
        String::new(),
    );
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            crate::pg::kept_plans::kept(client, &sql, &args);
        })
    });
}

/// Record the call in relay_tables: the state before and the steps, appended to the
/// table's history so every change can be reported and undone exactly. Written as
/// the extension's owner: migration roles need no privilege on the registry.
pub fn register(
    ext_schema: &str,
    state: &TableState,
    steps: &[Step],
    default_tenant: &str,
    lists: &RegistryLists,
) -> String {
    let registry = quote_qualified(ext_schema, "relay_tables");
    let sql = registry_write_sql(&registry, lists.shared_rows);
    let before = serde_json::to_string(state).expect("state serializes");
    let steps_json = serde_json::to_string(steps).expect("steps serialize");
    // SAFETY: the name of the current user, from the syscache.
    let caller =
        unsafe { std::ffi::CStr::from_ptr(pg_sys::GetUserNameFromId(pg_sys::GetUserId(), false)) }
            .to_string_lossy()
            .into_owned();
    let args = registry_write_args(
        state.oid_datum(),
        default_tenant,
        lists,
        before,
        steps_json,
        caller,
    );
    probes::refuse_foreign_triggers(c"relay_tables");
    privilege::as_extension_owner(|| {
        Spi::connect_mut(|client| crate::pg::kept_plans::update(client, &sql, &args).map(|_| ()))
            .expect("registry insert")
    });
    probes::registration_changed(state.oid_datum());
    format!(
        "registered {} in {registry}",
        quote_qualified(&state.schema, &state.name)
    )
}

/// Remove table `state` from relay_tables (relay_disable_tenancy's last step).
pub fn deregister(ext_schema: &str, state: &TableState) -> String {
    let registry = quote_qualified(ext_schema, "relay_tables");
    // The keys this table's calls built on a parent that stays tenant-enabled (the
    // parent's `(tenant_id, id)` for composite foreign keys): recorded in the parent's
    // history from now on, so the parent's own undo drops them (before, a child
    // disabled first left them behind: issue 22, defect 8).
    let hand_over = format!(
        "WITH built AS (
           SELECT s.step FROM {registry} r, pg_catalog.jsonb_array_elements(r.history) h,
                  pg_catalog.jsonb_array_elements(h.value OPERATOR(pg_catalog.->) 'steps') s(step)
            WHERE r.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid
              AND s.step OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'build_parent_tenant_key'),
         parents AS (
           SELECT p.relid, pg_catalog.jsonb_agg(b.step) AS steps
             FROM {registry} p
             JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.relid::pg_catalog.oid
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
             JOIN built b ON pg_catalog.strpos(b.step OPERATOR(pg_catalog.->>) 'sql',
                               ' ON ' OPERATOR(pg_catalog.||) pg_catalog.format('%I.%I', n.nspname, c.relname) OPERATOR(pg_catalog.||) ' (')
                             OPERATOR(pg_catalog.>) 0
            WHERE p.relid::pg_catalog.oid OPERATOR(pg_catalog.<>) $1::pg_catalog.oid
            GROUP BY p.relid)
         UPDATE {registry} r
            SET history = r.history OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                  'at', pg_catalog.now(), 'handed_over_by', $1::pg_catalog.oid::pg_catalog.regclass::pg_catalog.text,
                  'steps', parents.steps))
           FROM parents WHERE r.relid OPERATOR(pg_catalog.=) parents.relid"
    );
    let sql =
        format!("DELETE FROM {registry} WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid");
    probes::refuse_foreign_triggers(c"relay_tables");
    privilege::as_extension_owner(|| {
        Spi::run_with_args(&hand_over, &[state.oid_datum().into()]).expect("hand over parent keys");
        Spi::run_with_args(&sql, &[state.oid_datum().into()]).expect("registry delete")
    });
    probes::registration_changed(state.oid_datum());
    format!(
        "removed {} from {registry}",
        quote_qualified(&state.schema, &state.name)
    )
}

/// The lock_timeout of an online run's catalog steps when the session sets none.
const ONLINE_LOCK_TIMEOUT: &str = "2s";

/// Run one online run of catalog steps: each waits for its lock at most lock_timeout
/// (the session's, else 2 s), so a long query ahead of it makes the run fail at once
/// instead of queueing every other session behind its ACCESS EXCLUSIVE request.
/// An online run waits for its locks at most lock_timeout: the session's, else 2 s,
/// for the rest of the transaction.
pub fn set_online_lock_timeout() {
    Spi::run(&format!(
        "SELECT pg_catalog.set_config('lock_timeout', CASE pg_catalog.current_setting('lock_timeout') WHEN '0' THEN '{ONLINE_LOCK_TIMEOUT}'
                                                             ELSE pg_catalog.current_setting('lock_timeout') END, true)"
    ))
    .expect("lock_timeout");
}

pub fn apply_online(state: &TableState, steps: &[Step], default_tenant: &str) -> Vec<String> {
    set_online_lock_timeout();
    let table = quote_qualified(&state.schema, &state.name);
    pgrx::PgTryBuilder::new(|| apply(state, steps, default_tenant))
        .catch_when(pgrx::PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, |_| {
            crate::model::errors::online_lock_timeout(&table)
        })
        .execute()
}
