//! Every lock a call needs, taken before its first step, in one order, at the
//! strongest mode it will need, without ever waiting while holding them.
//!
//! Why: enabling `skills` rewrites the foreign keys of `ratings` and `usage_events`.
//! Taken step by step, relay held ACCESS EXCLUSIVE on `skills` and then waited for
//! `ratings`, while an application transaction held `ratings` and waited for `skills`:
//! PostgreSQL broke the cycle by aborting the application's transaction (40P01). And
//! relay_disable_tenancy took SHARE ROW EXCLUSIVE first and ACCESS EXCLUSIVE later on
//! the same table: a lock upgrade, which deadlocks against any reader that queued in
//! between.
//!
//! How: the plan lists every table it touches and the mode (`lock_set`, pure). relay
//! then takes them in a subtransaction: it waits (at most a short per-attempt timeout,
//! below `deadlock_timeout`) for one of them only, holding none of the others, then
//! takes every other one without waiting. If one is not free, the subtransaction is
//! rolled back (releasing what it took) and the next attempt, after a short pause,
//! waits for that one first; until the session's `lock_timeout` (if any) runs out
//! (55P03). relay never waits for a lock while holding another of the call's, so the
//! application sees waits, never 40P01 (within one call; a migration that runs several
//! calls in one transaction holds the earlier calls' locks). Once all are held, the
//! steps run with no further lock waits (each step's lock is already held at that mode
//! or stronger).

use crate::plan::{Lock, Step, StepKind};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The longest single wait of one attempt, in milliseconds (kept below
/// deadlock_timeout, see `attempt_ms`).
const ATTEMPT_MS: i32 = 200;

/// The locks for `steps` on table `table` (its FK neighbours at least ACCESS SHARE, so
/// that a concurrent call on a neighbour, which takes ACCESS EXCLUSIVE on it, runs
/// before or after this one, never at the same time), `tenants` when a key to it is
/// added. The strongest mode per table, ordered by oid. Pure.
pub fn lock_set(table: u32, neighbours: &[u32], steps: &[Step], tenants: u32) -> Vec<(u32, Lock)> {
    let mut wanted: Vec<(u32, Lock)> = Vec::new();
    let mut want = |oid: u32, lock: Lock| want_in(&mut wanted, oid, lock);
    if steps.is_empty() {
        return Vec::new();
    }
    for step in steps {
        want(table, step.lock);
        for (oid, lock) in &step.also_locks {
            want(*oid, *lock);
        }
        if step.kind == StepKind::AddForeignKey {
            want(tenants, Lock::ShareRowExclusive);
        }
    }
    for oid in neighbours {
        want(*oid, Lock::AccessShare);
    }
    wanted.sort_by_key(|(oid, _)| *oid);
    wanted
}

/// Add table `oid` in mode `lock` to `set`, keeping the stronger mode of a table
/// already there.
pub fn want_in(set: &mut Vec<(u32, Lock)>, oid: u32, lock: Lock) {
    if oid == 0 {
        return;
    }
    match set.iter_mut().find(|(o, _)| *o == oid) {
        Some((_, held)) if *held < lock => *held = lock,
        Some(_) => {}
        None => set.push((oid, lock)),
    }
}

/// The locks for `steps` on table `state` (its foreign-key neighbours and relay's
/// `tenants` included): `lock_set` with what the catalog says.
pub fn for_plan(state: &crate::catalog::TableState, steps: &[Step]) -> Vec<(u32, Lock)> {
    let neighbours: Vec<u32> = state
        .foreign_keys
        .iter()
        .flat_map(|fk| [fk.child_oid, fk.parent_oid])
        .collect();
    lock_set(
        state.oid,
        &neighbours,
        steps,
        crate::pg::tenant_registry::referenced_relid().to_u32(),
    )
}

/// Take every lock `wanted()` names, then ask again (the caller plans again under the
/// locks it holds, and a neighbour changed meanwhile may need more), until nothing is
/// missing. Bounded: each round only adds locks.
pub fn take_all(function: &str, mut wanted: impl FnMut() -> Vec<(u32, Lock)>) {
    let mut held: Vec<(u32, Lock)> = Vec::new();
    for _ in 0..4 {
        let more = missing(&wanted(), &held);
        if more.is_empty() {
            return;
        }
        acquire(&more, function);
        FIRST_LOCKED.with(|f| {
            if f.get().is_none() {
                f.set(Some(std::time::Instant::now()))
            }
        });
        held.extend(more);
    }
}

/// How many invalidation messages this backend has taken in (PostgreSQL's
/// SharedInvalidMessageCounter; a reset of the queue counts too). The same before a
/// catalog read and after the locks that guard what it read are held: nobody changed
/// it meanwhile, since a transaction sends its messages before it releases its locks
/// and taking a lock takes them in.
pub fn invalidations_received() -> u64 {
    // SAFETY: reads a backend-local counter.
    unsafe { pg_sys::SharedInvalidMessageCounter }
}

thread_local! {
    static FIRST_LOCKED: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    /// When `take_all` first asked for a lock (from then on the application can queue
    /// behind the request).
    static FIRST_ASKED: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

thread_local! {
    static READ_AGAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A call read the catalog again under its locks (something changed since its first
/// read): noted for the background worker's lock windows.
pub fn note_read_again() {
    READ_AGAIN.with(|r| r.set(true));
}

/// Whether a call read the catalog again under its locks since the last call of
/// this, cleared.
pub fn take_read_again() -> bool {
    READ_AGAIN.with(|r| r.take())
}

/// When `take_all` last got its first lock, cleared: the background worker measures
/// how long a catalog run held its locks (from then to its commit).
pub fn take_first_locked_at() -> Option<std::time::Instant> {
    FIRST_LOCKED.with(|f| f.take())
}

/// When `take_all` last asked for its first lock, cleared: with the commit, how long
/// the application could have queued behind the call (its wait for the locks and
/// their hold).
pub fn take_first_asked_at() -> Option<std::time::Instant> {
    FIRST_ASKED.with(|f| f.take())
}

/// `wanted` less what `held` already covers (same table at that mode or stronger).
pub fn missing(wanted: &[(u32, Lock)], held: &[(u32, Lock)]) -> Vec<(u32, Lock)> {
    wanted
        .iter()
        .filter(|(oid, lock)| !held.iter().any(|(h, l)| h == oid && l >= lock))
        .copied()
        .collect()
}

fn lockmode(lock: Lock) -> pg_sys::LOCKMODE {
    (match lock {
        // (no table step has it; the weakest mode if one ever did)
        Lock::NoTable | Lock::AccessShare => pg_sys::AccessShareLock,
        Lock::RowExclusive => pg_sys::RowExclusiveLock,
        Lock::ShareUpdateExclusive => pg_sys::ShareUpdateExclusiveLock,
        Lock::Share => pg_sys::ShareLock,
        Lock::ShareRowExclusive => pg_sys::ShareRowExclusiveLock,
        Lock::AccessExclusive => pg_sys::AccessExclusiveLock,
    }) as pg_sys::LOCKMODE
}

/// One attempt's longest wait: 200 ms, or less when deadlock_timeout or the session's
/// lock_timeout is shorter.
fn attempt_ms() -> i32 {
    // SAFETY: reads two GUC variables.
    let (deadlock, session) = unsafe { (pg_sys::DeadlockTimeout, pg_sys::LockTimeout) };
    let mut ms = ATTEMPT_MS.min((deadlock / 2).max(10));
    if session > 0 {
        ms = ms.min(session);
    }
    ms
}

/// One attempt, in a subtransaction: wait for `locks[first]` at most `attempt_ms`
/// (holding none of the others), then take every other one without waiting. Ok when
/// all were granted (they are kept); else the index of the one that was not (the
/// subtransaction is rolled back and nothing is kept), to wait for first next time.
fn try_once(locks: &[(u32, Lock)], first: usize, attempt_ms: i32) -> Result<(), usize> {
    let timeout = std::ffi::CString::new(format!("{attempt_ms}ms")).expect("no NUL");
    let _setting =
        crate::pg::settings::SettingsScope::with(&[(c"lock_timeout", timeout.as_c_str())]);
    // SAFETY: the subtransaction pattern of PL/pgSQL's exception blocks: begin, run,
    // then release (keep the locks) or roll back (drop them); the memory context and
    // resource owner are put back either way.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let (oid, lock) = locks[first];
        let outcome = pgrx::PgTryBuilder::new(|| {
            // The only wait, while holding none of this call's locks.
            pg_sys::LockRelationOid(pg_sys::Oid::from(oid), lockmode(lock));
            for (i, (oid, lock)) in locks.iter().enumerate() {
                if i != first
                    && !pg_sys::ConditionalLockRelationOid(pg_sys::Oid::from(*oid), lockmode(*lock))
                {
                    return Err(i);
                }
            }
            Ok(())
        })
        .catch_when(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, |_| Err(first))
        .execute();
        if outcome.is_ok() {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
        outcome
    }
}

/// Each table followed by its partitions and inheritance children (all levels), in the
/// same mode.
fn with_descendants(locks: &[(u32, Lock)]) -> Vec<(u32, Lock)> {
    let mut out: Vec<(u32, Lock)> = Vec::new();
    for (oid, lock) in locks {
        out.push((*oid, *lock));
        let children: Vec<u32> = Spi::connect(|client| {
            client
                .select(
                    "WITH RECURSIVE d(relid) AS (
                       SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent OPERATOR(pg_catalog.=) $1
                       UNION
                       SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN d ON i.inhparent OPERATOR(pg_catalog.=) d.relid)
                     SELECT relid FROM d ORDER BY relid",
                    None,
                    &[pg_sys::Oid::from(*oid).into()],
                )
                .expect("inheritance children")
                .filter_map(|r| r.get::<pg_sys::Oid>(1).ok().flatten().map(|o| o.to_u32()))
                .collect()
        });
        for child in children {
            if !out.iter().any(|(o, _)| *o == child) {
                out.push((child, *lock));
            }
        }
    }
    out
}

/// Which lock an attempt waits for first when nothing was contended yet: the first of
/// the strongest mode (the table being changed, ACCESS EXCLUSIVE, the one the
/// application reads and writes). Taking it without waiting fails whenever one of the
/// application's transactions holds it, so an attempt that waited for a quiet
/// neighbour first would only fail and try again. Pure.
pub fn strongest(locks: &[(u32, Lock)]) -> usize {
    let top = locks.iter().map(|(_, l)| *l).max();
    locks.iter().position(|(_, l)| Some(*l) == top).unwrap_or(0)
}

/// Take every lock of `locks`, retrying until granted or until the session's
/// lock_timeout (when set) has passed in total; then 55P03 naming the tables.
pub fn acquire(locks: &[(u32, Lock)], function: &str) {
    if locks.is_empty() {
        return;
    }
    // As LOCK TABLE does: each table's partitions and inheritance children too, right
    // after it, so no step waits on one later.
    let locks = &with_descendants(locks);
    // SAFETY: reads a GUC variable and the clock.
    let (budget_ms, started) = unsafe { (pg_sys::LockTimeout, pg_sys::GetCurrentTimestamp()) };
    let attempt = attempt_ms();
    let mut tries = 0u64;
    let mut first = strongest(locks);
    FIRST_ASKED.with(|f| {
        if f.get().is_none() {
            f.set(Some(std::time::Instant::now()))
        }
    });
    loop {
        match try_once(locks, first, attempt) {
            Ok(()) => return,
            // next time, wait for the table that was not granted (holding nothing)
            Err(contended) => first = contended,
        }
        tries += 1;
        // SAFETY: reads the clock.
        let waited_ms = (unsafe { pg_sys::GetCurrentTimestamp() } - started) / 1000;
        if budget_ms > 0 && waited_ms >= i64::from(budget_ms) {
            let tables: Vec<String> = locks
                .iter()
                .map(|(oid, lock)| {
                    format!(
                        "{} ({})",
                        crate::pg::ext::relation_name(pg_sys::Oid::from(*oid)),
                        lock.as_str()
                    )
                })
                .collect();
            crate::model::errors::locks_not_available(function, &tables, waited_ms, tries);
        }
        // A pause of 10 to 60 ms, varied so that two waiting calls do not retry in step.
        // SAFETY: sleeps; interrupts (cancel, statement_timeout) are checked after.
        unsafe {
            pg_sys::pg_usleep(
                (10_000 + (started as u64).wrapping_add(tries * 7919) % 50_000) as std::ffi::c_long,
            )
        };
        pgrx::check_for_interrupts!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Step;

    fn step(kind: StepKind, lock: Lock) -> Step {
        Step::new(kind, lock, String::new(), String::new())
    }

    #[test]
    fn the_strongest_mode_per_table_in_oid_order() {
        let steps = vec![
            step(StepKind::LockTable, Lock::ShareRowExclusive),
            step(StepKind::AddForeignKey, Lock::ShareRowExclusive),
            step(StepKind::SwapForeignKey, Lock::AccessExclusive)
                .locking(30, Lock::AccessExclusive)
                .locking(20, Lock::AccessExclusive),
            step(StepKind::BuildParentTenantKey, Lock::Share).locking(40, Lock::Share),
        ];
        // table 20, neighbours 40 and 50, tenants 10
        assert_eq!(
            lock_set(20, &[40, 50], &steps, 10),
            vec![
                (10, Lock::ShareRowExclusive),
                (20, Lock::AccessExclusive),
                (30, Lock::AccessExclusive),
                (40, Lock::Share),
                (50, Lock::AccessShare)
            ]
        );
        // no lock upgrade: the table's first step asks SHARE ROW EXCLUSIVE, the set has ACCESS EXCLUSIVE
        assert!(lock_set(20, &[], &steps, 10).contains(&(20, Lock::AccessExclusive)));
        // nothing to do, nothing to lock
        assert!(lock_set(20, &[40], &[], 10).is_empty());
    }

    #[test]
    fn an_attempt_waits_first_for_the_table_changed() {
        // tenants (oid 10) comes first by oid; the table (20) is the one to wait for
        let locks = [
            (10, Lock::ShareRowExclusive),
            (20, Lock::AccessExclusive),
            (30, Lock::AccessExclusive),
            (40, Lock::AccessShare),
        ];
        assert_eq!(strongest(&locks), 1);
        assert_eq!(strongest(&[(5, Lock::AccessShare)]), 0);
        assert_eq!(strongest(&[]), 0);
    }

    #[test]
    fn what_is_held_at_that_mode_or_stronger_is_not_asked_again() {
        let held = vec![(20, Lock::AccessExclusive), (40, Lock::AccessShare)];
        let wanted = vec![
            (20, Lock::ShareRowExclusive),
            (40, Lock::Share),
            (50, Lock::AccessShare),
        ];
        assert_eq!(
            missing(&wanted, &held),
            vec![(40, Lock::Share), (50, Lock::AccessShare)]
        );
    }
}
