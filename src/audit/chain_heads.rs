//! The heads of the hash chains a transaction appends to. The first time a
//! transaction chains an entry of a tenant it takes the tenant's chain lock (a
//! transaction-level advisory lock) and reads the head (a row of `relay_audit_chains`)
//! with a fresh snapshot; from then on the head moves in backend memory only, and the
//! moved heads are written back once, just before the transaction commits (or
//! prepares), at the heap level. Neither the read nor the write goes through the
//! transaction's snapshot, so writers in REPEATABLE READ and SERIALIZABLE take their
//! turns like READ COMMITTED ones instead of failing on a "concurrent update".
//! Moving the row at every statement instead would leave one dead row version per
//! statement, which the next statement of the same transaction has to step over: a
//! transaction of n one-row statements would cost O(n²).
//!
//! The lock is what keeps the chain from forking: a concurrent writer of the same
//! tenant waits at the lock until this transaction ends, then reads the head as this
//! one left it. A subtransaction that aborts takes its entries with it,
//! and the heads go back to what they were when it started (a head first locked in it
//! is forgotten: its row lock went with the subtransaction).

use crate::model::quote::quote_qualified;
use crate::pg::ext;
use crate::pg::privilege;
use crate::pg::probes;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// A head this transaction holds: last position and hash, and whether it moved.
#[derive(Clone)]
struct Held {
    seq: i64,
    hash: Vec<u8>,
    moved: bool,
}

/// The statements on relay_audit_chains, prepared once per backend and schema.
struct Plans {
    /// The tenant's chain lock: a transaction-level advisory lock.
    lock: pgrx::spi::OwnedPreparedStatement,
    create: pgrx::spi::OwnedPreparedStatement,
}

/// High half of the advisory lock key of a tenant's chain ('rlch').
const CHAIN_LOCK_TAG: i32 = 0x726c_6368;

thread_local! {
    static HELD: RefCell<HashMap<String, Held>> = RefCell::new(HashMap::new());
    /// HELD as each open subtransaction found it, innermost last.
    static SAVED: RefCell<Vec<(pg_sys::SubTransactionId, HashMap<String, Held>)>> = const { RefCell::new(Vec::new()) };
    static PLANS: RefCell<Option<(String, Plans)>> = const { RefCell::new(None) };
}

/// Run `f` with the prepared statements, as the extension's owner (search_path pinned).
fn with_plans<R>(f: impl FnOnce(&mut pgrx::spi::SpiClient, &Plans) -> R) -> R {
    let chains = ext::ext_relation(c"relay_audit_chains");
    privilege::as_extension_owner(|| {
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
                            format!("SELECT pg_catalog.pg_advisory_xact_lock({CHAIN_LOCK_TAG}, pg_catalog.hashtext($1))"),
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
    // Writers of one tenant take turns on an advisory lock held to the end of the
    // transaction; the head is then read as the last writer committed it (a fresh
    // snapshot), not as this transaction's snapshot shows it, so a REPEATABLE READ or
    // SERIALIZABLE writer never meets a "concurrent update" of the head.
    let head = with_plans(|client, plans| {
        client
            .update(&plans.lock, None, &[tenant.into()])
            .expect("chain lock");
        read_head(tenant).unwrap_or_else(|| {
            client
                .update(
                    &plans.create,
                    None,
                    &[tenant.into(), GENESIS.to_vec().into()],
                )
                .expect("chain head");
            read_head(tenant).expect("the head exists now")
        })
    });
    HELD.with(|h| {
        h.borrow_mut().insert(
            tenant.to_string(),
            Held {
                seq: head.0,
                hash: head.1.clone(),
                moved: false,
            },
        )
    });
    head
}

/// Move the head of `tenant`'s chain (locked by `lock` in this transaction).
pub fn store(tenant: &str, seq: i64, hash: &[u8]) {
    HELD.with(|h| {
        h.borrow_mut().insert(
            tenant.to_string(),
            Held {
                seq,
                hash: hash.to_vec(),
                moved: true,
            },
        )
    });
}

/// Write the moved heads to relay_audit_chains now: before the transaction commits,
/// and before anything reads the heads from the table (relay_audit_verify).
pub fn flush() {
    let moved: Vec<(String, i64, Vec<u8>)> = HELD.with(|h| {
        h.borrow()
            .iter()
            .filter(|(_, v)| v.moved)
            .map(|(t, v)| (t.clone(), v.seq, v.hash.clone()))
            .collect()
    });
    if moved.is_empty() {
        return;
    }
    // DROP EXTENSION in the same transaction took the heads with it.
    // SAFETY: a catalog lookup by name that returns InvalidOid when missing.
    if unsafe { pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), true) } == pg_sys::InvalidOid {
        return;
    }
    for (tenant, seq, hash) in &moved {
        write_head(tenant, *seq, hash);
    }
    HELD.with(|h| h.borrow_mut().values_mut().for_each(|v| v.moved = false));
}

/// Run `f` on `tenant`'s head row as the last writer left it, or on None: the row
/// read with a fresh snapshot (this transaction holds the tenant's chain lock, so
/// every earlier writer has ended), by a scan of the primary key, no SQL. The
/// relation is open in `lockmode`; the tuple is valid only inside `f`.
fn with_head<R>(
    tenant: &str,
    lockmode: u32,
    f: impl FnOnce(pg_sys::Relation, Option<pg_sys::HeapTuple>) -> R,
) -> R {
    let chains = ext::ext_relation(c"relay_audit_chains");
    // SAFETY: the relation is opened, scanned by its primary key under a registered
    // fresh snapshot, and closed here; `f` runs while the scan holds the tuple.
    unsafe {
        let rel = pg_sys::table_open(chains.relid, lockmode as pg_sys::LOCKMODE);
        let index = crate::pg::compat::primary_key_index(rel);
        let key_datum = pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            tenant.as_ptr().cast(),
            tenant.len() as i32,
        ));
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            1,
            pg_sys::BTEqualStrategyNumber as u16,
            pg_sys::Oid::from(pg_sys::F_TEXTEQ),
            key_datum,
        );
        let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
        let scan = pg_sys::systable_beginscan(rel, index, true, snapshot, 1, &mut key);
        let tuple = pg_sys::systable_getnext(scan);
        let result = f(rel, (!tuple.is_null()).then_some(tuple));
        pg_sys::systable_endscan(scan);
        pg_sys::UnregisterSnapshot(snapshot);
        pg_sys::table_close(rel, lockmode as pg_sys::LOCKMODE);
        result
    }
}

/// `tenant`'s head as the last writer left it: (last position, last hash).
fn read_head(tenant: &str) -> Option<(i64, Vec<u8>)> {
    with_head(tenant, pg_sys::AccessShareLock, |rel, tuple| {
        // SAFETY: the tuple belongs to `rel`; values are copied out.
        tuple.map(|tuple| unsafe {
            let tupdesc = (*rel).rd_att;
            let seq =
                probes::attribute(tuple, tupdesc, "last_seq").map_or(0, |(_, d)| d.value() as i64);
            let hash = probes::attribute(tuple, tupdesc, "last_hash")
                .and_then(|(_, d)| <Vec<u8> as pgrx::FromDatum>::from_datum(d, false))
                .unwrap_or_else(|| GENESIS.to_vec());
            (seq, hash)
        })
    })
}

/// Move `tenant`'s head: the row as read fresh, updated in place at the heap level
/// (with its index entries), so a REPEATABLE READ transaction does not fail on a head
/// another transaction moved since its snapshot. The tenant's chain lock is held.
fn write_head(tenant: &str, seq: i64, hash: &[u8]) {
    with_head(tenant, pg_sys::RowExclusiveLock, |rel, tuple| {
        let Some(tuple) = tuple else { return };
        // SAFETY: the new tuple is formed from the current one with two columns
        // replaced; CatalogTupleUpdate updates the heap and inserts index entries when
        // the update is not HOT.
        unsafe {
            let tupdesc = (*rel).rd_att;
            let natts = (*tupdesc).natts as usize;
            let mut values = vec![pg_sys::Datum::from(0); natts];
            let mut nulls = vec![false; natts];
            let mut replace = vec![false; natts];
            let seq_att = probes::attnum_of(tupdesc, "last_seq") as usize;
            let hash_att = probes::attnum_of(tupdesc, "last_hash") as usize;
            assert!(
                seq_att > 0 && hash_att > 0,
                "relay_audit_chains has last_seq and last_hash"
            );
            values[seq_att - 1] = seq.into_datum().expect("int8");
            values[hash_att - 1] = hash.to_vec().into_datum().expect("bytea");
            replace[seq_att - 1] = true;
            replace[hash_att - 1] = true;
            let new = pg_sys::heap_modify_tuple(
                tuple,
                tupdesc,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
                replace.as_mut_ptr(),
            );
            pg_sys::CatalogTupleUpdate(rel, &mut (*tuple).t_self, new);
            pg_sys::heap_freetuple(new);
        }
    });
    // Later reads in this transaction (a fresh snapshot, relay_audit_verify) see it.
    // SAFETY: advances the command counter inside the transaction.
    unsafe { pg_sys::CommandCounterIncrement() };
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_PRE_COMMIT | XACT_EVENT_PRE_PREPARE
            if HELD.with(|h| h.borrow().values().any(|v| v.moved)) =>
        {
            // SAFETY: the transaction is still in progress; the snapshot is popped
            // below, or by the abort if the write fails.
            unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
            flush();
            unsafe { pg_sys::PopActiveSnapshot() };
        }
        XACT_EVENT_COMMIT
        | XACT_EVENT_ABORT
        | XACT_EVENT_PREPARE
        | XACT_EVENT_PARALLEL_COMMIT
        | XACT_EVENT_PARALLEL_ABORT => {
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
