//! The heads of the hash chains a transaction appends to. A head (a row of
//! `relay_audit_chains`) is locked FOR UPDATE the first time a transaction chains an
//! entry of its tenant, and from then on moved in backend memory only; the moved
//! heads are written back once, just before the transaction commits (or prepares).
//! Moving the row at every statement instead would leave one dead row version per
//! statement, which the next statement of the same transaction has to step over: a
//! transaction of n one-row statements would cost O(n²).
//!
//! The lock is what keeps the chain from forking: a concurrent writer of the same
//! tenant waits at its own FOR UPDATE until this transaction ends, then reads the
//! head as this one left it. A subtransaction that aborts takes its entries with it,
//! and the heads go back to what they were when it started (a head first locked in it
//! is forgotten: its row lock went with the subtransaction).

use crate::ext;
use crate::quote::quote_qualified;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// A head this transaction holds: last position and hash, and whether it moved.
#[derive(Clone)]
struct Held {
    seq: i64,
    hash: Vec<u8>,
    moved: bool,
}

/// The statements on relay_audit_chains, prepared once per backend and schema.
struct Plans {
    lock: pgrx::spi::OwnedPreparedStatement,
    create: pgrx::spi::OwnedPreparedStatement,
    store: pgrx::spi::OwnedPreparedStatement,
}

thread_local! {
    static HELD: RefCell<HashMap<String, Held>> = RefCell::new(HashMap::new());
    /// HELD as each open subtransaction found it, innermost last.
    static SAVED: RefCell<Vec<(pg_sys::SubTransactionId, HashMap<String, Held>)>> = const { RefCell::new(Vec::new()) };
    static PLANS: RefCell<Option<(String, Plans)>> = const { RefCell::new(None) };
}

/// Run `f` with the prepared statements, as the extension's owner (search_path pinned).
fn with_plans<R>(f: impl FnOnce(&mut pgrx::spi::SpiClient, &Plans) -> R) -> R {
    let chains = ext::ext_relation(c"relay_audit_chains");
    ext::as_extension_owner(|| {
        Spi::connect_mut(|client| {
            PLANS.with(|cell| {
                let mut cached = cell.borrow_mut();
                if cached.as_ref().is_none_or(|(schema, _)| *schema != chains.schema) {
                    let table = quote_qualified(&chains.schema, "relay_audit_chains");
                    let prepare = |sql: String, types: &[pg_sys::Oid]| {
                        let types: Vec<pgrx::PgOid> = types.iter().map(|t| pgrx::PgOid::from(*t)).collect();
                        client.prepare_mut(sql.as_str(), &types).expect("prepare chain head statement").keep()
                    };
                    let plans = Plans {
                        lock: prepare(
                            format!("SELECT last_seq, last_hash FROM {table} WHERE tenant_id OPERATOR(pg_catalog.=) $1 FOR UPDATE"),
                            &[pg_sys::TEXTOID],
                        ),
                        // A new chain is also registered for good in relay_audit_chained
                        // (append-only): a chain deleted with its head is then missed.
                        create: prepare(
                            format!(
                                "WITH head AS (INSERT INTO {table} (tenant_id, last_seq, last_hash) VALUES ($1, 0, $2)
                                                 ON CONFLICT (tenant_id) DO NOTHING RETURNING tenant_id)
                                 INSERT INTO {} (tenant_id) SELECT tenant_id FROM head ON CONFLICT (tenant_id) DO NOTHING",
                                quote_qualified(&chains.schema, "relay_audit_chained")
                            ),
                            &[pg_sys::TEXTOID, pg_sys::BYTEAOID],
                        ),
                        store: prepare(
                            format!("UPDATE {table} SET last_seq = $2, last_hash = $3 WHERE tenant_id OPERATOR(pg_catalog.=) $1"),
                            &[pg_sys::TEXTOID, pg_sys::INT8OID, pg_sys::BYTEAOID],
                        ),
                    };
                    *cached = Some((chains.schema.clone(), plans));
                }
                let (_, plans) = cached.as_ref().expect("prepared above");
                f(client, plans)
            })
        })
    })
}

/// The head of `tenant`'s chain, locked until the transaction ends: (last position,
/// last hash); a chain not started yet is created at the genesis hash.
pub fn lock(tenant: &str) -> (i64, Vec<u8>) {
    if let Some(held) = HELD.with(|h| h.borrow().get(tenant).cloned()) {
        return (held.seq, held.hash);
    }
    let head = with_plans(|client, plans| {
        let read = |client: &mut pgrx::spi::SpiClient| {
            let rows = client.update(&plans.lock, Some(1), &[tenant.into()]).expect("lock chain head");
            (!rows.is_empty()).then(|| {
                let row = rows.first();
                (
                    row.get::<i64>(1).expect("last_seq").unwrap_or(0),
                    row.get::<Vec<u8>>(2).expect("last_hash").unwrap_or_else(|| super::chain::GENESIS.to_vec()),
                )
            })
        };
        read(client).unwrap_or_else(|| {
            client.update(&plans.create, None, &[tenant.into(), super::chain::GENESIS.to_vec().into()]).expect("chain head");
            read(client).expect("the head exists now")
        })
    });
    HELD.with(|h| h.borrow_mut().insert(tenant.to_string(), Held { seq: head.0, hash: head.1.clone(), moved: false }));
    head
}

/// Move the head of `tenant`'s chain (locked by `lock` in this transaction).
pub fn store(tenant: &str, seq: i64, hash: &[u8]) {
    HELD.with(|h| h.borrow_mut().insert(tenant.to_string(), Held { seq, hash: hash.to_vec(), moved: true }));
}

/// Write the moved heads to relay_audit_chains now: before the transaction commits,
/// and before anything reads the heads from the table (relay_audit_verify).
pub fn flush() {
    let moved: Vec<(String, i64, Vec<u8>)> =
        HELD.with(|h| h.borrow().iter().filter(|(_, v)| v.moved).map(|(t, v)| (t.clone(), v.seq, v.hash.clone())).collect());
    if moved.is_empty() {
        return;
    }
    // DROP EXTENSION in the same transaction took the heads with it.
    // SAFETY: a catalog lookup by name that returns InvalidOid when missing.
    if unsafe { pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), true) } == pg_sys::InvalidOid {
        return;
    }
    with_plans(|client, plans| {
        for (tenant, seq, hash) in &moved {
            client.update(&plans.store, None, &[tenant.as_str().into(), (*seq).into(), hash.clone().into()]).expect("move chain head");
        }
    });
    HELD.with(|h| h.borrow_mut().values_mut().for_each(|v| v.moved = false));
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PRE_PREPARE if HELD.with(|h| h.borrow().values().any(|v| v.moved)) => {
            // SAFETY: the transaction is still in progress; the snapshot is popped
            // below, or by the abort if the write fails.
            unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
            flush();
            unsafe { pg_sys::PopActiveSnapshot() };
        }
        XACT_EVENT_COMMIT | XACT_EVENT_ABORT | XACT_EVENT_PREPARE | XACT_EVENT_PARALLEL_COMMIT | XACT_EVENT_PARALLEL_ABORT => {
            HELD.with(|h| h.borrow_mut().clear());
            SAVED.with(|s| s.borrow_mut().clear());
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn at_subtransaction_end(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::SubXactEvent::*;
    match event {
        SUBXACT_EVENT_START_SUB => {
            let now = HELD.with(|h| h.borrow().clone());
            SAVED.with(|s| s.borrow_mut().push((my_subid, now)));
        }
        SUBXACT_EVENT_COMMIT_SUB | SUBXACT_EVENT_ABORT_SUB => {
            let mut restore = None;
            SAVED.with(|s| {
                let mut s = s.borrow_mut();
                while s.last().is_some_and(|(id, _)| *id >= my_subid) {
                    let (id, saved) = s.pop().expect("checked");
                    if id == my_subid {
                        restore = Some(saved);
                    }
                }
            });
            if event == SUBXACT_EVENT_ABORT_SUB {
                if let Some(saved) = restore {
                    HELD.with(|h| *h.borrow_mut() = saved);
                }
            }
        }
        _ => {}
    }
}

/// Called from `_PG_init`.
pub fn register_callbacks() {
    // SAFETY: registers callbacks for the life of the backend.
    unsafe {
        pg_sys::RegisterXactCallback(Some(at_transaction_end), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(at_subtransaction_end), std::ptr::null_mut());
    }
}
