//! Online conversion run by a background worker (issue 23): a migration queues it with
//! `relay_enable_tenancy_background(tbl, ...)`, which returns at once inside the
//! migration's transaction; a worker started at commit runs the statements of the
//! online plan (`relay_tenancy_plan(..., online => true)`) one by one, each in a
//! transaction of its own, as the role that queued it; `CALL relay_online_wait(tbl)`
//! waits for it; `relay.online_conversions` reports every job.
//!
//! The queue is `relay.online_jobs`; a worker holds a session advisory lock on a job
//! while it runs it, so a job whose worker died (a crash, a restart, a cancelled
//! worker) is one whose lock nobody holds, and the next worker resumes it from the
//! table as it is (the online plan is computed from the catalog).

use crate::api::background_job::{options_to_json, table_name, JOB_LOCK_CLASS};
use crate::api::enable::{plan_steps_checked, CallOptions};
use crate::model::errors;
use crate::model::quote::quote_literal;
use crate::pg::privilege::as_extension_owner;
use crate::pg::regclass::RegClass;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Queues the online conversion of `tbl` for a background worker and returns at once:
/// no lock on the table, no index build in the caller's transaction, so a migration
/// tool that wraps every migration in a transaction can call it. The worker starts
/// when the transaction commits and runs each statement of the online plan in its own
/// transaction, as the role that called this. Refusals (a table relay cannot convert,
/// a missing grant) are raised here, by a dry run of the same plan.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)] // one argument per SQL argument
fn relay_enable_tenancy_background(
    tbl: Option<RegClass>,
    global_unique: default!(Option<Vec<Option<String>>>, "NULL"),
    default_tenant: default!(Option<String>, "NULL"),
    views: default!(Option<String>, "'report'"),
    primary_key: default!(Option<String>, "'global'"),
    keep_foreign_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    tenant_column: default!(Option<String>, "NULL"),
    tenant_from: default!(Option<String>, "NULL"),
    shared_rows: default!(Option<bool>, "NULL"),
) -> SetOfIterator<'static, String> {
    let call = CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from,
        shared_rows,
        online: true,
        ..Default::default()
    };
    const FUNCTION: &str = "relay_enable_tenancy_background";
    let rows = plan_steps_checked(FUNCTION, tbl, call.clone());
    let oid = tbl.expect("plan_steps_checked refuses NULL").0;
    let table = table_name(oid);
    let statements: Vec<_> = rows.iter().filter(|r| r.0 > 0).collect();
    let (id, queued) = queue(oid, &table, &call);
    let mut lines = Vec::new();
    if queued {
        lines.push(format!(
            "queued online conversion #{id} of {table}: a background worker runs its {} statements, each in a transaction of its own, once this transaction commits",
            statements.len()
        ));
        launch_at_commit();
    } else {
        lines.push(format!(
            "online conversion #{id} of {table} is already queued or running: nothing queued"
        ));
    }
    lines.extend(
        rows.iter()
            .filter(|r| r.0 == 0)
            .map(|r| format!("WARNING: {}", r.2)),
    );
    lines.push(format!(
        "CALL relay_online_wait({}) waits for it (outside a transaction block); relay.online_conversions reports it",
        quote_literal(&table)
    ));
    SetOfIterator::new(lines)
}

/// Inserts the job (as the extension's owner: no application or migration role may
/// write relay's queue), unless one for the table is queued or running; its id, and
/// whether it is new.
fn queue(oid: pg_sys::Oid, table: &str, call: &CallOptions) -> (i64, bool) {
    let schema = crate::model::quote::quote_ident(&crate::pg::ext::extension_schema());
    // SAFETY: reads the current user id.
    let run_as = unsafe { pg_sys::GetUserId() };
    let options = pgrx::JsonB(options_to_json(call));
    as_extension_owner(|| {
        let pending = crate::pg::privilege::select_optional::<i64>(
            &format!(
                "SELECT id FROM {schema}.online_jobs WHERE relid OPERATOR(pg_catalog.=) $1
                    AND state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running']) ORDER BY id LIMIT 1"
            ),
            &[DatumWithOid::from(oid)],
        );
        if let Some(id) = pending {
            return (id, false);
        }
        let id = crate::pg::privilege::select_optional::<i64>(
            &format!(
                "INSERT INTO {schema}.online_jobs (relid, table_name, options, run_as) VALUES ($1, $2, $3, $4) RETURNING id"
            ),
            &[
                DatumWithOid::from(oid),
                DatumWithOid::from(table),
                DatumWithOid::from(options),
                DatumWithOid::from(run_as),
            ],
        )
        .expect("INSERT ... RETURNING returns the row");
        (id, true)
    })
}

thread_local! {
    static LAUNCH_REGISTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Starts a worker for this database once the transaction commits (before, it would
/// not see the job). Once per transaction.
fn launch_at_commit() {
    if LAUNCH_REGISTERED.with(|r| r.replace(true)) {
        return;
    }
    // SAFETY: reads the current database's oid.
    let db = unsafe { pg_sys::MyDatabaseId };
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
        LAUNCH_REGISTERED.with(|r| r.set(false));
        if !crate::api::background_worker::launch(db) {
            // (a WARNING: nothing may raise an error after commit)
            pgrx::warning!("relay_tenancy: no background worker slot is free (max_worker_processes): the queued online conversion starts when CALL relay_online_wait runs, or at the next server start");
        }
    });
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, || {
        LAUNCH_REGISTERED.with(|r| r.set(false));
    });
}

/// One job as `relay_online_wait` sees it.
struct JobView {
    id: i64,
    state: String,
    lines: Vec<String>,
    error: [Option<String>; 4],
    run_as: pg_sys::Oid,
    held: bool,
}

/// The newest job of `oid`, read as the extension's owner.
fn newest_job(oid: pg_sys::Oid) -> Option<JobView> {
    let schema = crate::model::quote::quote_ident(&crate::pg::ext::extension_schema());
    as_extension_owner(|| {
        Spi::connect(|client| {
            let rows = client
                .select(
                    &format!(
                        "SELECT j.id, j.state, COALESCE(j.lines, '{{}}'), j.error_sqlstate, j.error_message,
                                j.error_detail, j.error_hint, j.run_as,
                                EXISTS (SELECT FROM pg_catalog.pg_locks l
                                         WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
                                           AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
                                           AND l.classid OPERATOR(pg_catalog.=) {JOB_LOCK_CLASS}::pg_catalog.oid
                                           AND l.objid OPERATOR(pg_catalog.=) j.id::pg_catalog.oid AND l.objsubid OPERATOR(pg_catalog.=) 2)
                           FROM {schema}.online_jobs j WHERE j.relid OPERATOR(pg_catalog.=) $1 ORDER BY j.id DESC LIMIT 1"
                    ),
                    Some(1),
                    &[DatumWithOid::from(oid)],
                )
                .expect("online_jobs");
            rows.into_iter().next().map(|r| JobView {
                id: r.get::<i64>(1).unwrap().unwrap(),
                state: r.get::<String>(2).unwrap().unwrap(),
                lines: r.get::<Vec<String>>(3).unwrap().unwrap_or_default(),
                error: [
                    r.get::<String>(4).unwrap(),
                    r.get::<String>(5).unwrap(),
                    r.get::<String>(6).unwrap(),
                    r.get::<String>(7).unwrap(),
                ],
                run_as: r.get::<pg_sys::Oid>(8).unwrap().unwrap(),
                held: r.get::<bool>(9).unwrap().unwrap_or(false),
            })
        })
    })
}

thread_local! {
    static LAST_LAUNCH: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// One poll of `relay_online_wait` (the procedure commits between polls, so that it
/// holds no snapshot the worker's concurrent index builds would wait for): the state
/// of the table's newest job, after waiting up to `wait_ms` for it to finish. Starts a
/// worker when the job waits and no worker holds it (the server restarted, or no
/// worker slot was free at commit).
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)] // the SQL result's columns, named
fn relay_online_wait_poll(
    tbl: Option<RegClass>,
    wait_ms: default!(i32, 100),
) -> TableIterator<
    'static,
    (
        name!(state, String),
        name!(lines, Vec<String>),
        name!(sqlstate, Option<String>),
        name!(message, Option<String>),
        name!(detail, Option<String>),
        name!(hint, Option<String>),
    ),
> {
    let oid = match tbl {
        Some(t) => t.0,
        None => errors::null_argument("relay_online_wait", "tbl"),
    };
    // SAFETY: reads the transaction block state.
    if unsafe { pg_sys::IsTransactionBlock() } {
        errors::online_wait_in_transaction_block();
    }
    let table = table_name(oid);
    let Some(job) = newest_job(oid) else {
        errors::online_wait_nothing_queued(&table)
    };
    // SAFETY: a membership check of the current user in the syscache.
    let allowed = unsafe {
        pg_sys::superuser() || pg_sys::has_privs_of_role(pg_sys::GetUserId(), job.run_as)
    };
    if !allowed {
        errors::online_wait_not_allowed(&table, job.id);
    }
    let finished = |j: &JobView| j.state == "done" || j.state == "failed";
    let job = if finished(&job) {
        job
    } else {
        if !job.held {
            let recent = LAST_LAUNCH
                .with(|l| l.get())
                .is_some_and(|t| t.elapsed().as_secs() < 5);
            // SAFETY: reads the current database's oid.
            if !recent && crate::api::background_worker::launch(unsafe { pg_sys::MyDatabaseId }) {
                LAST_LAUNCH.with(|l| l.set(Some(std::time::Instant::now())));
            }
        }
        crate::api::background_worker::sleep_ms(wait_ms.clamp(1, 1000) as u64);
        newest_job(oid).unwrap_or(job)
    };
    let [sqlstate, message, detail, hint] = job.error;
    let message = message.map(|m| format!("online conversion #{} of {table} failed: {m}", job.id));
    TableIterator::once((job.state, job.lines, sqlstate, message, detail, hint))
}
