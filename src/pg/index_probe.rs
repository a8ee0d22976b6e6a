//! Reading one row by an index without SQL: an index scan under the snapshot an SPI
//! query would use, no operator lookup, no identity switch, so safe under any caller's
//! search_path. A leaf of `pg`.

use pgrx::pg_sys;
use std::ffi::CStr;

/// Look a row up by its primary key (on the table's first column, as relay's own
/// tables have it) without SQL: see `probe_by`.
pub fn probe<R>(
    relid: pg_sys::Oid,
    key: pg_sys::Datum,
    eq_proc: u32,
    read: impl FnOnce(pg_sys::HeapTuple, pg_sys::TupleDesc) -> R,
) -> Option<R> {
    probe_by(relid, None, 1, key, eq_proc, read)
}

/// Look a row up by a single-column unique index (`index`, or the primary key's when
/// None) without SQL: an index scan under the snapshot an SPI query would use.
/// `attnum` is the key column's number in the table. Returns `read(tuple, tupdesc)`
/// for the first visible match. `eq_proc` is the equality function of the key type.
pub fn probe_by<R>(
    relid: pg_sys::Oid,
    index: Option<pg_sys::Oid>,
    attnum: i16,
    key: pg_sys::Datum,
    eq_proc: u32,
    read: impl FnOnce(pg_sys::HeapTuple, pg_sys::TupleDesc) -> R,
) -> Option<R> {
    if relid == pg_sys::InvalidOid {
        return None;
    }
    // SAFETY: the relation is opened and locked (ACCESS SHARE, as a SELECT would) for
    // the scan; the scan key uses the index's own collation, so the B-tree descent
    // compares the way the index is ordered; everything is closed before returning.
    unsafe {
        let rel = pg_sys::table_open(relid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let index = index.unwrap_or_else(|| crate::pg::compat::primary_key_index(rel));
        if index == pg_sys::InvalidOid {
            pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            return None;
        }
        let index_rel = pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let collation = *(*index_rel).rd_indcollation;
        pg_sys::index_close(index_rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let mut scankey: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyEntryInitialize(
            &mut scankey,
            0,
            attnum,
            pg_sys::BTEqualStrategyNumber as u16,
            pg_sys::InvalidOid,
            collation,
            pg_sys::Oid::from(eq_proc),
            key,
        );
        // The snapshot an SPI query would take now: a fresh one under READ COMMITTED
        // (so a call that waited on relay's advisory lock sees what the call before it
        // committed), the transaction's under REPEATABLE READ and SERIALIZABLE.
        let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot());
        let scan = pg_sys::systable_beginscan(rel, index, true, snapshot, 1, &mut scankey);
        let tuple = pg_sys::systable_getnext(scan);
        let result = (!tuple.is_null()).then(|| read(tuple, (*rel).rd_att));
        pg_sys::systable_endscan(scan);
        pg_sys::UnregisterSnapshot(snapshot);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        result
    }
}

/// Column `name` of `tuple`: None when the column is NULL or there is no such column
/// (a renamed column: `heap_getattr` must never be called with attribute number 0).
///
/// # Safety
/// `tuple` and `tupdesc` belong together.
pub unsafe fn attribute(
    tuple: pg_sys::HeapTuple,
    tupdesc: pg_sys::TupleDesc,
    name: &str,
) -> Option<(i32, pg_sys::Datum)> {
    unsafe {
        let attnum = attnum_of(tupdesc, name);
        if attnum <= 0 {
            return None;
        }
        let mut isnull = false;
        let datum = pg_sys::heap_getattr(tuple, attnum, tupdesc, &mut isnull);
        (!isnull).then_some((attnum, datum))
    }
}

/// The 1-based number of column `name` in `tupdesc` (0 when there is none).
///
/// # Safety
/// `tupdesc` is a valid tuple descriptor.
pub unsafe fn attnum_of(tupdesc: pg_sys::TupleDesc, name: &str) -> i32 {
    unsafe {
        for i in 0..(*tupdesc).natts as usize {
            let att = crate::pg::compat::tuple_desc_attr(tupdesc, i);
            if !(*att).attisdropped
                && CStr::from_ptr((*att).attname.data.as_ptr()).to_bytes() == name.as_bytes()
            {
                return i as i32 + 1;
            }
        }
        0
    }
}
