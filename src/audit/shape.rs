//! What the capture trigger needs to know about an audited table to print its rows:
//! its live columns with their output functions, its primary key, where its tenant
//! column is, and its qualified name. Worked out from the relcache once and kept per
//! backend until the table's relcache entry is invalidated (ALTER TABLE, a rename, a
//! new primary key, a change of its registration) or any schema changes (a schema
//! rename changes the table's qualified name without touching the table): a
//! single-row statement would otherwise pay for the catalog lookups again every time.

use crate::model::quote::quote_qualified;
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::rc::Rc;

/// How a column's values become JSON. Numbers and booleans as JSON scalars, json and
/// jsonb embedded, everything else as its text form (as PostgreSQL prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    Bool,
    Number,
    Json,
    Text,
}

impl JsonKind {
    pub fn of(typoid: pg_sys::Oid) -> JsonKind {
        match typoid {
            pg_sys::BOOLOID => JsonKind::Bool,
            pg_sys::INT2OID
            | pg_sys::INT4OID
            | pg_sys::INT8OID
            | pg_sys::FLOAT4OID
            | pg_sys::FLOAT8OID
            | pg_sys::NUMERICOID
            | pg_sys::OIDOID => JsonKind::Number,
            pg_sys::JSONOID | pg_sys::JSONBOID => JsonKind::Json,
            _ => JsonKind::Text,
        }
    }
}

/// A live column of the audited table and how to print its values.
pub struct Column {
    pub attnum: usize,
    pub name: String,
    pub kind: JsonKind,
    pub typoid: pg_sys::Oid,
    pub output_fn: pg_sys::Oid,
}

/// The audited table as the relcache described it when last looked at.
pub struct TableShape {
    /// schema.table, quoted: the entries' resource_type and metadata's "table".
    pub table: String,
    pub columns: Vec<Column>,
    /// The primary key's columns, as positions in `columns`.
    pub primary_key: Vec<usize>,
    /// The tenant column's position in `columns`, when the table has a column of that name.
    pub tenant_column: Option<usize>,
}

thread_local! {
    /// (relid, tenant column looked for) -> shape.
    static SHAPES: RefCell<HashMap<pg_sys::Oid, (String, Rc<TableShape>)>> = RefCell::new(HashMap::new());
}

/// Most tables one backend keeps shapes of before starting over.
const SHAPES_MAX: usize = 1_000;

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn forget_table(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    SHAPES.with(|s| {
        let mut s = s.borrow_mut();
        if relid == pg_sys::InvalidOid {
            s.clear();
        } else {
            s.remove(&relid);
        }
    });
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn forget_all(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    SHAPES.with(|s| s.borrow_mut().clear());
}

/// Called from `_PG_init`.
pub fn register_cache_callbacks() {
    // SAFETY: registers callbacks that only clear a backend-local cache.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(forget_table), pg_sys::Datum::from(0));
        pg_sys::CacheRegisterSyscacheCallback(
            pg_sys::SysCacheIdentifier::NAMESPACEOID as i32,
            Some(forget_all),
            pg_sys::Datum::from(0),
        );
    }
}

/// The shape of open relation `rel`, whose tenant column (if any) is `tenant_column`.
///
/// # Safety
/// `rel` is open and locked.
pub unsafe fn of(rel: pg_sys::Relation, tenant_column: &str) -> Rc<TableShape> {
    // SAFETY: the caller holds the relation open.
    let relid = unsafe { (*rel).rd_id };
    let cached = SHAPES.with(|s| {
        s.borrow()
            .get(&relid)
            .filter(|(col, _)| col == tenant_column)
            .map(|(_, shape)| shape.clone())
    });
    if let Some(shape) = cached {
        return shape;
    }
    // SAFETY: as above.
    let shape = Rc::new(unsafe { look(rel, tenant_column) });
    SHAPES.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() >= SHAPES_MAX {
            s.clear();
        }
        s.insert(relid, (tenant_column.to_string(), shape.clone()));
    });
    shape
}

unsafe fn look(rel: pg_sys::Relation, tenant_column: &str) -> TableShape {
    unsafe {
        let tupdesc = (*rel).rd_att;
        let mut columns = Vec::new();
        let mut tenant_position = None;
        for i in 0..(*tupdesc).natts as usize {
            let att = crate::pg::compat::tuple_desc_attr(tupdesc, i);
            if (*att).attisdropped {
                continue;
            }
            let name = CStr::from_ptr((*att).attname.data.as_ptr())
                .to_string_lossy()
                .into_owned();
            let mut output_fn = pg_sys::InvalidOid;
            let mut is_varlena = false;
            pg_sys::getTypeOutputInfo((*att).atttypid, &mut output_fn, &mut is_varlena);
            if name == tenant_column {
                tenant_position = Some(columns.len());
            }
            let typoid = (*att).atttypid;
            columns.push(Column {
                attnum: i,
                name,
                kind: JsonKind::of(typoid),
                typoid,
                output_fn,
            });
        }
        let mut primary_key = Vec::new();
        let pk_index = crate::pg::compat::primary_key_index(rel);
        if pk_index != pg_sys::InvalidOid {
            let index = pg_sys::index_open(pk_index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let indkey = &(*(*index).rd_index).indkey;
            let keys = indkey
                .values
                .as_slice((*(*index).rd_index).indnkeyatts as usize);
            for &attnum in keys {
                if let Some(position) = columns.iter().position(|c| c.attnum + 1 == attnum as usize)
                {
                    primary_key.push(position);
                }
            }
            pg_sys::index_close(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        }
        let schema = pg_sys::get_namespace_name((*(*rel).rd_rel).relnamespace);
        let schema = if schema.is_null() {
            String::new()
        } else {
            CStr::from_ptr(schema).to_string_lossy().into_owned()
        };
        let name = CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr()).to_string_lossy();
        TableShape {
            table: quote_qualified(&schema, &name),
            columns,
            primary_key,
            tenant_column: tenant_position,
        }
    }
}
