//! The background worker that runs queued online conversions (background.rs), and the
//! launcher that starts one per database at server start when relay is in
//! shared_preload_libraries (so that a conversion cut off by a restart resumes).
//!
//! A worker connects to its database as the bootstrap superuser, then runs each job
//! as the role that queued it (SetUserIdAndSecContext with
//! SECURITY_LOCAL_USERID_CHANGE: the job cannot SET ROLE or SET SESSION AUTHORIZATION
//! its way out). Each statement of the online plan runs in a transaction of its own:
//! catalog runs (`SELECT public.relay_enable_tenancy(..., online => true)`) through
//! SPI, retried on a lock timeout with a short and then growing lock_timeout, so that
//! the ACCESS EXCLUSIVE request never queues the application for long; concurrent
//! index builds and validations at top level (pg/portal.rs), as psql's `\gexec` would
//! run them. SIGTERM ends the worker at the next interrupt check; the job stays
//! `running` with no lock holder, and the next worker resumes it.

use crate::api::background_job::{options_from_json, JOB_LOCK_CLASS};
use crate::model::quote::quote_ident;
use pgrx::bgworkers::{BackgroundWorkerBuilder, BgWorkerStartTime};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;

const WORKER_TYPE: &str = "relay online conversion";

/// Start a worker for database `db`; false when no worker slot is free. Never raises
/// (it runs in a commit callback).
pub fn launch(db: pg_sys::Oid) -> bool {
    BackgroundWorkerBuilder::new(WORKER_TYPE)
        .set_type(WORKER_TYPE)
        .set_library("relay_tenancy")
        .set_function("relay_online_worker")
        .set_argument(Some(pg_sys::Datum::from(db.to_u32())))
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(None)
        .load_dynamic()
        .is_ok()
}

/// Registers the launcher (from _PG_init, while shared_preload_libraries loads).
pub fn register_launcher() {
    // SAFETY: reads a flag the postmaster sets while it loads preloaded libraries.
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    BackgroundWorkerBuilder::new("relay online launcher")
        .set_type("relay online launcher")
        .set_library("relay_tenancy")
        .set_function("relay_online_launcher")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(None)
        .load();
}

/// Sleep `ms` milliseconds on the process latch, answering interrupts (a cancel, a
/// terminate) at once.
pub fn sleep_ms(ms: u64) {
    // SAFETY: the standard latch wait of a backend; the latch is the process's own.
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms as std::ffi::c_long,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    pg_sys::check_for_interrupts!();
}

extern "C-unwind" {
    /// postgres.c's SIGTERM handler of a backend.
    fn die(signal: std::ffi::c_int);
}

/// SIGTERM handled as in a backend (`die`: an interrupt, checked at safe points), not
/// by the bgworker default that exits from inside the signal handler.
fn worker_signals() {
    // SAFETY: installs PostgreSQL's own handlers, then unblocks signals.
    unsafe {
        #[cfg(not(feature = "pg18"))]
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(die));
        #[cfg(feature = "pg18")]
        pg_sys::pqsignal_be(pg_sys::SIGTERM as i32, Some(die));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
}

/// The launcher: one worker per database that allows connections, each of which
/// exits at once where relay is not installed or nothing is queued. It reads the
/// list of databases through database `postgres`.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn relay_online_launcher(_arg: pg_sys::Datum) {
    worker_signals();
    // SAFETY: connects this worker (it was registered with database access).
    unsafe {
        pg_sys::BackgroundWorkerInitializeConnection(c"postgres".as_ptr(), std::ptr::null(), 0)
    };
    let databases: Vec<pg_sys::Oid> = in_transaction(None, || {
        Spi::connect(|c| {
            c.select(
                "SELECT oid FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY oid",
                None,
                &[],
            )
            .expect("pg_database")
            .map(|r| r.get::<pg_sys::Oid>(1).unwrap().unwrap())
            .collect()
        })
    })
    .unwrap_or_default();
    for db in databases {
        // (no free slot: wait for one, a few seconds at most)
        for _ in 0..50 {
            if launch(db) {
                break;
            }
            sleep_ms(100);
        }
    }
}

/// A job claimed by this worker.
struct Job {
    id: i64,
    relid: pg_sys::Oid,
    options: serde_json::Value,
    run_as: pg_sys::Oid,
}

/// What a failed statement left: SQLSTATE, message, detail, hint.
type Failure = [Option<String>; 4];

/// The worker: claims the oldest job of its database that no worker holds, runs it,
/// and goes on until none is left.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn relay_online_worker(arg: pg_sys::Datum) {
    worker_signals();
    let db = pg_sys::Oid::from(arg.value() as u32);
    // SAFETY: connects as the bootstrap superuser (no role given).
    unsafe { pg_sys::BackgroundWorkerInitializeConnectionByOid(db, pg_sys::InvalidOid, 0) };
    // Session settings for every statement to come: no timeout may cut a concurrent
    // index build short (a database's statement_timeout would), names resolve in
    // pg_catalog only (every statement relay runs is qualified).
    let schema = in_transaction(None, || {
        Spi::run(
            "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0;
             SET search_path = pg_catalog, pg_temp; SET application_name = 'relay online conversion'",
        )
        .expect("settings");
        crate::pg::privilege::select_optional::<String>(
            "SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
              WHERE e.extname OPERATOR(pg_catalog.=) 'relay_tenancy'",
            &[],
        )
    });
    let Ok(Some(schema)) = schema else {
        return; // relay is not installed in this database
    };
    let schema = quote_ident(&schema);
    // (finish releases a job's advisory lock with its last write; a job this worker
    // already ran is not claimed again, whatever its row says)
    let mut ran = Vec::new();
    while let Some(job) = claim(&schema, &ran) {
        run_job(&schema, &job);
        ran.push(job.id);
    }
}

/// The oldest queued or running job no worker holds, now held by this one (a session
/// advisory lock) and marked running.
fn claim(schema: &str, ran: &[i64]) -> Option<Job> {
    in_transaction(None, || {
        let candidates: Vec<i64> = Spi::connect(|c| {
            c.select(
                &format!("SELECT id FROM {schema}.online_jobs WHERE state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running']) ORDER BY id"),
                None,
                &[],
            )
            .expect("online_jobs")
            .map(|r| r.get::<i64>(1).unwrap().unwrap())
            .collect()
        });
        for id in candidates.into_iter().filter(|id| !ran.contains(id)) {
            let args = [DatumWithOid::from(JOB_LOCK_CLASS), DatumWithOid::from(id)];
            let got = Spi::get_one_with_args::<bool>(
                "SELECT pg_catalog.pg_try_advisory_lock($1, $2::pg_catalog.int4)",
                &args,
            )
            .expect("advisory lock")
            .unwrap_or(false);
            if !got {
                continue;
            }
            // (another worker may have finished it between the read and the lock)
            let claimed = Spi::connect_mut(|c| {
                c.update(
                    &format!(
                        "UPDATE {schema}.online_jobs SET state = 'running', attempts = attempts OPERATOR(pg_catalog.+) 1,
                                started_at = COALESCE(started_at, pg_catalog.now()), worker_pid = pg_catalog.pg_backend_pid()
                          WHERE id OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running'])
                      RETURNING relid, options::pg_catalog.text, run_as"
                    ),
                    Some(1),
                    &[DatumWithOid::from(id)],
                )
                .expect("claim")
                .next()
                .map(|r| {
                    (
                        r.get::<pg_sys::Oid>(1).unwrap().unwrap(),
                        r.get::<String>(2).unwrap().unwrap(),
                        r.get::<pg_sys::Oid>(3).unwrap().unwrap(),
                    )
                })
            });
            match claimed {
                Some((relid, options, run_as)) => {
                    return Some(Job {
                        id,
                        relid,
                        options: serde_json::from_str(&options).unwrap_or_default(),
                        run_as,
                    })
                }
                None => {
                    release(id);
                }
            }
        }
        None
    })
    .ok()
    .flatten()
}

/// Release this session's advisory lock on job `id` (inside a transaction).
fn release(id: i64) {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_unlock($1, $2::pg_catalog.int4)",
        &[DatumWithOid::from(JOB_LOCK_CLASS), DatumWithOid::from(id)],
    )
    .expect("unlock")
}

/// Run every statement of the job's online plan, recording progress and the outcome.
fn run_job(schema: &str, job: &Job) {
    let call = options_from_json(&job.options);
    let relid = job.relid;
    // (the plan, as the role: a table dropped since, or a refusal, fails the job here)
    let planned = in_transaction(Some(job.run_as), || {
        crate::api::enable::plan_steps_checked(
            "relay_enable_tenancy_background",
            Some(crate::pg::regclass::RegClass(relid)),
            call.clone(),
        )
    });
    let rows = match planned {
        Ok(p) => p,
        Err(failure) => {
            return finish(
                schema,
                job.id,
                Vec::new(),
                Vec::new(),
                Some((failure, None)),
            )
        }
    };
    let mut lines: Vec<String> = rows
        .iter()
        .filter(|r| r.0 == 0)
        .map(|r| format!("WARNING: {}", r.2))
        .collect();
    let statements: Vec<_> = rows.into_iter().filter(|r| r.0 > 0).collect();
    let mut windows = Vec::new();
    for (i, (_, _, action, sql)) in statements.iter().enumerate() {
        progress(schema, job.id, i + 1, statements.len(), action);
        let outcome = if sql.starts_with("SELECT ") {
            catalog_run(job.run_as, sql, &mut windows).map(|out| lines.extend(out))
        } else {
            in_own_transactions(Some(job.run_as), || crate::pg::portal::run_top_level(sql))
        };
        if let Err(failure) = outcome {
            return finish(
                schema,
                job.id,
                lines,
                windows,
                Some((failure, Some(sql.clone()))),
            );
        }
    }
    finish(schema, job.id, lines, windows, None)
}

thread_local! {
    static COMMITTING: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// A catalog run through SPI: retried while it times out on its lock, with a
/// lock_timeout that starts short (the application queues behind an ACCESS EXCLUSIVE
/// request for at most that long: 5 ms, several times the application's own
/// single-row transactions) and doubles up to 2 s, 30 tries in all.
/// Every try is recorded in `windows`: when it started, how long its transaction took,
/// and how long it held its locks (from the first `relay_enable_tenancy` took to the
/// commit releasing them), which relay.online_conversions reports.
fn catalog_run(
    role: pg_sys::Oid,
    sql: &str,
    windows: &mut Vec<serde_json::Value>,
) -> Result<Vec<String>, Failure> {
    let mut timeout_ms = 5u64;
    let mut tries = 0;
    loop {
        let started = std::time::SystemTime::now();
        crate::apply::locks::take_first_locked_at();
        crate::apply::locks::take_first_asked_at();
        crate::apply::locks::take_read_again();
        COMMITTING.with(|c| c.set(None));
        let out = in_transaction(Some(role), || {
            // When the commit starts releasing (XACT_EVENT_COMMIT comes just before the
            // locks go; the files of a dropped index are deleted after them).
            pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, || {
                COMMITTING.with(|c| c.set(Some(std::time::Instant::now())))
            });
            // synchronous_commit off: the ACCESS EXCLUSIVE lock goes at commit without
            // waiting for the WAL flush. A crash may lose the run (never half of it);
            // the job resumes from the table as it is, and any later commit that saw
            // the run flushes it first.
            Spi::run(&format!(
                "SELECT pg_catalog.set_config('lock_timeout', '{timeout_ms}ms', true),
                        pg_catalog.set_config('synchronous_commit', 'off', true)"
            ))
            .expect("lock_timeout");
            Spi::connect(|c| {
                c.select(sql, None, &[])
                    .expect("catalog run")
                    .map(|r| r.get::<String>(1).unwrap().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        });
        let ms = started.elapsed().unwrap_or_default().as_secs_f64() * 1000.0;
        let at = started
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        // (from the first lock relay_enable_tenancy took to the commit's release of them)
        let released = COMMITTING
            .with(|c| c.take())
            .unwrap_or_else(std::time::Instant::now);
        let until_released = |t: std::time::Instant| {
            (released.saturating_duration_since(t).as_secs_f64() * 100_000.0).round() / 100.0
        };
        let held = crate::apply::locks::take_first_locked_at().map(until_released);
        // (asked_ms: from the first lock request to the release: the request's wait for
        // the application's transactions, during which new ones queue behind it, and the
        // hold)
        let asked = crate::apply::locks::take_first_asked_at().map(until_released);
        // (read_again: the plan was read again under the locks, an invalidation message
        // having arrived since the first read: the hold includes that read)
        windows.push(serde_json::json!({
            "at": at, "ms": (ms * 100.0).round() / 100.0, "held_ms": held, "asked_ms": asked,
            "ok": out.is_ok(), "read_again": crate::apply::locks::take_read_again()
        }));
        tries += 1;
        match out {
            Err(f) if f[0].as_deref() == Some("55P03") && tries < 30 => {
                timeout_ms = (timeout_ms * 2).min(2000);
                sleep_ms(200);
            }
            other => return other,
        }
    }
}

fn progress(schema: &str, id: i64, step: usize, steps: usize, action: &str) {
    in_transaction(None, || {
        Spi::run_with_args(
            &format!("UPDATE {schema}.online_jobs SET step = $2, steps = $3, action = $4 WHERE id OPERATOR(pg_catalog.=) $1"),
            &[
                DatumWithOid::from(id),
                DatumWithOid::from(step as i32),
                DatumWithOid::from(steps as i32),
                DatumWithOid::from(action),
            ],
        )
        .expect("progress")
    })
    .ok();
}

/// Record the job's end: done with the lines of its runs, or failed with the error and
/// the statement that raised it.
fn finish(
    schema: &str,
    id: i64,
    lines: Vec<String>,
    windows: Vec<serde_json::Value>,
    failed: Option<(Failure, Option<String>)>,
) {
    let (state, [sqlstate, message, detail, hint], statement) = match failed {
        None => ("done", [None, None, None, None], None),
        Some((f, s)) => ("failed", f, s),
    };
    let detail = match (detail, statement) {
        (Some(d), Some(s)) => Some(format!("{d} (while running: {s})")),
        (None, Some(s)) => Some(format!("while running: {s}")),
        (d, None) => d,
    };
    let hint = hint.or_else(|| {
        (state == "failed").then(|| {
            "Fix the cause, then call relay_enable_tenancy_background again: the new job resumes from the table as it is.".to_string()
        })
    });
    in_transaction(None, || {
        Spi::run_with_args(
            &format!(
                "UPDATE {schema}.online_jobs SET state = $2, lines = $3, error_sqlstate = $4, error_message = $5,
                        error_detail = $6, error_hint = $7, lock_windows = $8, finished_at = pg_catalog.now()
                  WHERE id OPERATOR(pg_catalog.=) $1"
            ),
            &[
                DatumWithOid::from(id),
                DatumWithOid::from(state),
                DatumWithOid::from(lines),
                DatumWithOid::from(sqlstate),
                DatumWithOid::from(message),
                DatumWithOid::from(detail),
                DatumWithOid::from(hint),
                DatumWithOid::from(pgrx::JsonB(serde_json::Value::Array(windows))),
            ],
        )
        .expect("finish");
        // Released in the transaction that records the end: once a waiter sees the job
        // done, no worker holds it. (A worker that claims it meanwhile waits for this
        // row's lock, then finds it done.)
        release(id)
    })
    .ok();
}

/// Run `f` in a transaction of its own (as `role` when given), committing it; an error
/// aborts the transaction and comes back as its SQLSTATE, message, detail and hint.
fn in_transaction<R>(role: Option<pg_sys::Oid>, f: impl FnOnce() -> R) -> Result<R, Failure> {
    in_own_transactions(role, || {
        // SAFETY: the transaction bracket of a background worker (see pgrx's
        // BackgroundWorker::transaction), with the snapshot SPI expects.
        unsafe {
            pg_sys::SetCurrentStatementStartTimestamp();
            pg_sys::StartTransactionCommand();
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        }
        let r = f();
        // SAFETY: closes what was opened above.
        unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        }
        r
    })
}

/// Run `f`, which opens and commits its own transactions, as `role` when given; on an
/// error abort the open transaction, put the worker's identity back and return the
/// error.
fn in_own_transactions<R>(role: Option<pg_sys::Oid>, f: impl FnOnce() -> R) -> Result<R, Failure> {
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: saves the worker's identity and switches to the job's role; restored
    // below on both paths.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        if let Some(role) = role {
            pg_sys::SetUserIdAndSecContext(
                role,
                context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
            );
        }
    }
    // SAFETY: the memory context to come back to after an abort.
    let outer = unsafe { pg_sys::CurrentMemoryContext };
    let result = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| Ok(f())))
        .catch_others(|e| Err(failure_of(e)))
        .execute();
    if result.is_err() {
        // SAFETY: the error was caught and its state flushed; abort whatever
        // transaction is open, as PostgreSQL's own error recovery would.
        unsafe {
            pg_sys::AbortCurrentTransaction();
            pg_sys::MemoryContextSwitchTo(outer);
        }
        crate::pg::portal::forget_context();
    }
    // SAFETY: back to the worker's own identity.
    unsafe { pg_sys::SetUserIdAndSecContext(user, context) };
    result
}

/// SQLSTATE, message, detail and hint of a caught error.
fn failure_of(e: pg_sys::panic::CaughtError) -> Failure {
    use pg_sys::panic::CaughtError;
    let report = match &e {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r,
        CaughtError::RustPanic { ereport, .. } => ereport,
    };
    // SAFETY: unpack_sql_state returns a static buffer; copied at once.
    let code = unsafe {
        std::ffi::CStr::from_ptr(pg_sys::unpack_sql_state(report.sql_error_code() as i32))
            .to_string_lossy()
            .into_owned()
    };
    [
        Some(code),
        Some(report.message().to_string()),
        report.detail().map(str::to_string),
        report.hint().map(str::to_string),
    ]
}
