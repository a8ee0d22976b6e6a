//! SPI plans kept for the life of the backend, for the queries relay runs while it
//! holds an online run's ACCESS EXCLUSIVE lock or on every DDL statement of the
//! database: its event triggers' queries (every ALTER TABLE, CREATE TRIGGER, ALTER
//! POLICY, relay's own steps included), the isolation check, the registry write and
//! relay's audit entry at the end of every enable call. Parsing and planning them each time cost far
//! more than running them. PostgreSQL's plan cache re-plans a kept plan when a
//! catalog it depends on changes (or the search_path does; every name is qualified).
//!
//! A kept query's text is constant (names of relay's own schema aside); its values are
//! parameters, whose types are those of the call's arguments (another set of types,
//! another plan). A plan with parameters runs generic: PostgreSQL would otherwise plan
//! each of the first five executions anew for its values (these queries read a
//! handful of catalog rows; no value makes another plan better). Mind that pgrx passes
//! an InvalidOid argument as NULL: test such a parameter with IS NULL first.

use crate::pg::settings::SettingsScope;
use pgrx::datum::DatumWithOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiResult, SpiTupleTable};
use pgrx::{pg_sys, PgOid};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A kept plan's key: its text and its parameters' types.
type Key = (String, Vec<pg_sys::Oid>);

thread_local! {
    /// By query text and parameter types (a plan run with values of other types than
    /// it was prepared for would read them as its own).
    static KEPT: RefCell<HashMap<Key, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// The kept plan of `sql`, whose parameters have the types of `args`, prepared on
/// first use (preparing does not run it: `sql` may call a function that only works
/// in an event trigger).
pub fn kept(
    client: &SpiClient<'_>,
    sql: &str,
    args: &[DatumWithOid],
) -> Rc<OwnedPreparedStatement> {
    let key: Key = (sql.to_string(), args.iter().map(|a| a.oid()).collect());
    if let Some(plan) = KEPT.with(|k| k.borrow().get(&key).cloned()) {
        return plan;
    }
    let types: Vec<PgOid> = key.1.iter().map(|oid| PgOid::from(*oid)).collect();
    let plan = Rc::new(
        client
            .prepare(sql, &types)
            .expect("a kept query prepares")
            .keep(),
    );
    KEPT.with(|k| k.borrow_mut().insert(key, plan.clone()));
    plan
}

/// The plan choice of a kept query with parameters: generic.
fn generic(args: &[DatumWithOid]) -> Option<SettingsScope> {
    (!args.is_empty()).then(|| SettingsScope::with(&[(c"plan_cache_mode", c"force_generic_plan")]))
}

/// Run the read `sql` with `args` through its kept plan.
pub fn select<'conn>(
    client: &SpiClient<'conn>,
    sql: &str,
    args: &[DatumWithOid],
) -> SpiResult<SpiTupleTable<'conn>> {
    let plan = kept(client, sql, args);
    let _generic = generic(args);
    client.select(&*plan, None, args)
}

/// Run the write `sql` with `args` through its kept plan.
pub fn update<'conn>(
    client: &mut SpiClient<'conn>,
    sql: &str,
    args: &[DatumWithOid],
) -> SpiResult<SpiTupleTable<'conn>> {
    let plan = kept(client, sql, args);
    let _generic = generic(args);
    client.update(&*plan, None, args)
}
