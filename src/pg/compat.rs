//! What differs between the PostgreSQL majors relay builds for (15 and 18, pgrx's
//! `pg15` / `pg18` features), in one place: the rest of the crate calls these.

use pgrx::pg_sys;

/// Attribute `i` (0-based) of tuple descriptor `tupdesc`.
///
/// # Safety
/// `tupdesc` is a valid tuple descriptor with more than `i` attributes.
pub unsafe fn tuple_desc_attr(
    tupdesc: pg_sys::TupleDesc,
    i: usize,
) -> *const pg_sys::FormData_pg_attribute {
    // SAFETY: the caller's promise.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            (*tupdesc).attrs.as_ptr().add(i)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::TupleDescAttr(tupdesc, i as std::ffi::c_int)
        }
    }
}

/// The user `user` owns relation `relid` (or is a superuser).
///
/// # Safety
/// A catalog lookup: inside a transaction.
pub unsafe fn class_ownercheck(relid: pg_sys::Oid, user: pg_sys::Oid) -> bool {
    // SAFETY: the caller's promise.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::pg_class_ownercheck(relid, user)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::object_ownercheck(pg_sys::RelationRelationId, relid, user)
        }
    }
}

/// The primary key index of open relation `rel` (a deferrable one does not count).
///
/// # Safety
/// `rel` is an open relation.
pub unsafe fn primary_key_index(rel: pg_sys::Relation) -> pg_sys::Oid {
    // SAFETY: the caller's promise.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::RelationGetPrimaryKeyIndex(rel)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::RelationGetPrimaryKeyIndex(rel, false)
        }
    }
}

/// ExecInsertIndexTuples for a plain insert (no conflict handling, every index).
///
/// # Safety
/// The executor state the caller set up for `rri`, `slot` holding the new row.
pub unsafe fn insert_index_tuples(
    rri: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    estate: *mut pg_sys::EState,
) -> *mut pg_sys::List {
    // SAFETY: the caller's promise.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::ExecInsertIndexTuples(
                rri,
                slot,
                estate,
                false,
                false,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::ExecInsertIndexTuples(
                rri,
                slot,
                estate,
                false,
                false,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                false,
            )
        }
    }
}

/// The role a plan's range table entry `rte` is checked as (0: the current user).
/// PostgreSQL 16 moved it from the entry to the plan's permission infos.
///
/// # Safety
/// `rte` is an entry of `stmt`'s range table.
pub unsafe fn check_as_user(
    stmt: *mut pg_sys::PlannedStmt,
    rte: *mut pg_sys::RangeTblEntry,
) -> pg_sys::Oid {
    // SAFETY: the caller's promise.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            let _ = stmt;
            (*rte).checkAsUser
        }
        #[cfg(not(feature = "pg15"))]
        {
            let index = (*rte).perminfoindex as i32;
            if index <= 0 || (*stmt).permInfos.is_null() {
                return pg_sys::InvalidOid;
            }
            let info =
                pg_sys::list_nth((*stmt).permInfos, index - 1) as *mut pg_sys::RTEPermissionInfo;
            (*info).checkAsUser
        }
    }
}
