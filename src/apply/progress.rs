//! Progress of long steps, as NOTICEs: which step of how many, on which table and
//! how big it is, and (in DETAIL) how long it took. `relay.progress` (milliseconds)
//! says when: a step that took at least that long is reported when it ends; on a table
//! of 64 MB or more, a step that reads the table is also announced when it starts.
//! `0` reports every step that reads the table, before and after; `-1` nothing.

use crate::plan::{Step, StepKind};
use pgrx::pg_sys::errcodes::PgSqlErrorCode;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PgLogLevel};
use std::time::{Duration, Instant};

pub static PROGRESS_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);

/// A table this big gets its long steps announced before they start.
const ANNOUNCE_BYTES: i64 = 64 * 1024 * 1024;

pub fn register_gucs() {
    GucRegistry::define_int_guc(
        c"relay.progress",
        c"Report relay's steps that take at least this many milliseconds as NOTICEs (-1: never).",
        c"On tables of 64 MB or more, steps that read the table are also announced when they start; 0 reports every such step before and after.",
        &PROGRESS_MS,
        -1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
}

/// Steps that read or rewrite the table's rows (backfill, index builds, validations,
/// checks): the long ones on a big table. A constraint added NOT VALID (an online
/// run's) is a catalog change.
pub fn reads_rows(step: &Step) -> bool {
    !step.sql.ends_with(" NOT VALID")
        && matches!(
            step.kind,
            StepKind::Backfill
                | StepKind::BackfillFromParent
                | StepKind::BuildTenantUnique
                | StepKind::CreateTenantIndex
                | StepKind::BuildParentTenantKey
                | StepKind::SetNotNull
                | StepKind::AddForeignKey
                | StepKind::SwapUniqueConstraint
                | StepKind::SwapExclusionConstraint
                | StepKind::SwapForeignKey
                | StepKind::AddCompositeForeignKey
                | StepKind::RestoreForeignKey
                | StepKind::CheckTenantsExist
                | StepKind::CheckGlobalUnique
        )
}

/// The table's size, read when first asked (`table_size`): a progress line needs it,
/// and reading it costs a query (and the files' sizes) that an online run's catalog
/// steps, under their ACCESS EXCLUSIVE lock, need not pay.
pub struct LazySize {
    relid: pgrx::pg_sys::Oid,
    size: std::cell::OnceCell<(i64, String)>,
}

impl LazySize {
    pub fn of(relid: pgrx::pg_sys::Oid) -> LazySize {
        LazySize {
            relid,
            size: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> &(i64, String) {
        self.size.get_or_init(|| table_size(self.relid))
    }
}

/// The table's size (every partition's, for a partitioned table): bytes, and as
/// pg_size_pretty prints it.
pub fn table_size(relid: pgrx::pg_sys::Oid) -> (i64, String) {
    Spi::connect(|client| {
        let row = client
            .select(
                "SELECT s, pg_catalog.pg_size_pretty(s) FROM (
                   SELECT COALESCE((SELECT pg_catalog.sum(pg_catalog.pg_table_size(t.relid))::pg_catalog.int8
                                                 FROM pg_catalog.pg_partition_tree($1) t),
                                              pg_catalog.pg_table_size($1)) AS s) x",
                Some(1),
                &[relid.into()],
            )
            .expect("table size");
        let row = row.first();
        (
            row.get::<i64>(1).ok().flatten().unwrap_or(0),
            row.get::<String>(2).ok().flatten().unwrap_or_default(),
        )
    })
}

/// `step` (number `index` of `total`) on `table` of `size` is about to run.
pub fn before(index: usize, total: usize, table: &str, size: &LazySize, step: &Step) {
    let ms = PROGRESS_MS.get();
    if ms < 0 || !reads_rows(step) || (ms > 0 && size.get().0 < ANNOUNCE_BYTES) {
        return;
    }
    let size = size.get();
    notice(
        format!(
            "relay_tenancy: step {index}/{total} on {table} ({}) starting: {}",
            size.1, step.action
        ),
        format!("lock: {}", step.lock.as_str()),
    );
}

/// `step` finished after `elapsed`.
pub fn after(
    index: usize,
    total: usize,
    table: &str,
    size: &LazySize,
    step: &Step,
    elapsed: Duration,
) {
    let ms = PROGRESS_MS.get();
    if ms < 0 || (elapsed.as_millis() as i64) < i64::from(ms) || (ms == 0 && !reads_rows(step)) {
        return;
    }
    let size = size.get();
    notice(
        format!(
            "relay_tenancy: step {index}/{total} on {table} ({}) done: {}",
            size.1, step.action
        ),
        format!("took {:.3} s", elapsed.as_secs_f64()),
    );
}

fn notice(message: String, detail: String) {
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
        message,
        "relay_tenancy",
    )
    .set_detail(detail)
    .report(PgLogLevel::NOTICE);
}

/// Start a timer (kept here so apply stays about order and identity).
pub fn start() -> Instant {
    Instant::now()
}
