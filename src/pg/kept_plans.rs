//! SPI plans kept for the life of the backend, for the constant queries of relay's
//! event triggers. Those run on every ALTER TABLE, CREATE TRIGGER and ALTER POLICY of
//! the database, relay's own steps included (an online run's ACCESS EXCLUSIVE lock is
//! held through a dozen of them): parsing and planning their queries each time cost
//! far more than running them. PostgreSQL's plan cache re-plans a kept plan when a
//! catalog it depends on changes (or the search_path does; every name is qualified).

use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    static KEPT: RefCell<HashMap<String, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
}

/// The kept plan of `sql` (a query without parameters), prepared on first use.
pub fn kept(client: &SpiClient<'_>, sql: &str) -> Rc<OwnedPreparedStatement> {
    if let Some(plan) = KEPT.with(|k| k.borrow().get(sql).cloned()) {
        return plan;
    }
    let plan = Rc::new(
        client
            .prepare(sql, &[])
            .expect("an event trigger's query prepares")
            .keep(),
    );
    KEPT.with(|k| k.borrow_mut().insert(sql.to_string(), plan.clone()));
    plan
}
