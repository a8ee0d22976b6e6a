//! Row-change capture: a native AFTER ... FOR EACH STATEMENT trigger with transition
//! tables. One call per statement, not per row: it reads the transition tuplestores
//! directly, builds each row's JSON with serde_json, and writes all of the
//! statement's audit entries with one INSERT through a plan kept for the backend.

use crate::{context, errors};
use crate::quote::quote_qualified;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgTriggerLevel, PgTriggerOperation, PgTriggerWhen};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::ffi::CStr;

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
            pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID | pg_sys::FLOAT4OID
            | pg_sys::FLOAT8OID | pg_sys::NUMERICOID | pg_sys::OIDOID => JsonKind::Number,
            pg_sys::JSONOID | pg_sys::JSONBOID => JsonKind::Json,
            _ => JsonKind::Text,
        }
    }
}

/// One value, given its text form, as JSON. Pure: unit-tested without Postgres.
pub fn value_to_json(kind: JsonKind, text: &str) -> Value {
    match kind {
        JsonKind::Bool => Value::Bool(text == "t"),
        // NaN and Infinity are not JSON numbers: keep them as strings
        JsonKind::Number => serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        JsonKind::Json => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
        JsonKind::Text => Value::String(text.to_string()),
    }
}

/// The columns whose value differs between the old and the new row, in column order.
pub fn changed_columns(columns: &[String], old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<String> {
    columns.iter().filter(|c| old.get(*c) != new.get(*c)).cloned().collect()
}

/// The row's primary key as audit resource_id: the value of a one-column key, a JSON
/// array of the values of a composite one, NULL for a table without a primary key.
pub fn resource_id(row: &Map<String, Value>, primary_key: &[String]) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match primary_key {
        [] => None,
        [one] => row.get(one).filter(|v| !v.is_null()).map(text),
        many => Some(Value::Array(many.iter().map(|c| row.get(c).cloned().unwrap_or(Value::Null)).collect()).to_string()),
    }
}

/// The metadata document of one entry.
pub fn metadata(table: &str, columns: &[String], old: Option<&Map<String, Value>>, new: Option<&Map<String, Value>>) -> String {
    let mut doc = Map::new();
    doc.insert("table".into(), Value::String(table.to_string()));
    if let Some(old) = old {
        doc.insert("old".into(), Value::Object(old.clone()));
    }
    if let Some(new) = new {
        doc.insert("new".into(), Value::Object(new.clone()));
    }
    if let (Some(old), Some(new)) = (old, new) {
        let changed = changed_columns(columns, old, new).into_iter().map(Value::String).collect();
        doc.insert("changed".into(), Value::Array(changed));
    }
    Value::Object(doc).to_string()
}

/// A live column of the audited table and how to print its values.
struct Column {
    attnum: usize,
    name: String,
    kind: JsonKind,
    output_fn: pg_sys::Oid,
}

/// The audited table as the relcache describes it now.
struct TableShape {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    tenant_attnum: Option<usize>,
}

unsafe fn table_shape(rel: pg_sys::Relation) -> TableShape {
    unsafe {
        let tupdesc = (*rel).rd_att;
        let mut columns = Vec::new();
        let mut tenant_attnum = None;
        for i in 0..(*tupdesc).natts as usize {
            let att = (*tupdesc).attrs.as_ptr().add(i);
            if (*att).attisdropped {
                continue;
            }
            let name = CStr::from_ptr((*att).attname.data.as_ptr()).to_string_lossy().into_owned();
            let mut output_fn = pg_sys::InvalidOid;
            let mut is_varlena = false;
            pg_sys::getTypeOutputInfo((*att).atttypid, &mut output_fn, &mut is_varlena);
            if name == crate::plan::TENANT_COLUMN {
                tenant_attnum = Some(i);
            }
            columns.push(Column { attnum: i, name, kind: JsonKind::of((*att).atttypid), output_fn });
        }
        let mut primary_key = Vec::new();
        let pk_index = pg_sys::RelationGetPrimaryKeyIndex(rel);
        if pk_index != pg_sys::InvalidOid {
            let index = pg_sys::index_open(pk_index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let indkey = &(*(*index).rd_index).indkey;
            let keys = indkey.values.as_slice((*(*index).rd_index).indnkeyatts as usize);
            for &attnum in keys {
                if let Some(c) = columns.iter().find(|c| c.attnum + 1 == attnum as usize) {
                    primary_key.push(c.name.clone());
                }
            }
            pg_sys::index_close(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        }
        TableShape { columns, primary_key, tenant_attnum }
    }
}

/// Every row of a transition table, as JSON objects, in the order they were stored
/// (for UPDATE, old and new rows pair up by position).
unsafe fn read_transition(store: *mut pg_sys::Tuplestorestate, rel: pg_sys::Relation, shape: &TableShape) -> Vec<Map<String, Value>> {
    unsafe {
        let mut rows = Vec::new();
        if store.is_null() {
            return rows;
        }
        // A read pointer of our own, as a NamedTuplestoreScan takes: other triggers
        // read the same tuplestore.
        let ptr = pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
        pg_sys::tuplestore_select_read_pointer(store, ptr);
        pg_sys::tuplestore_rescan(store);
        let slot = pg_sys::MakeSingleTupleTableSlot((*rel).rd_att, &pg_sys::TTSOpsMinimalTuple);
        while pg_sys::tuplestore_gettupleslot(store, true, false, slot) {
            pg_sys::slot_getallattrs(slot);
            let mut row = Map::with_capacity(shape.columns.len());
            for c in &shape.columns {
                let value = if *(*slot).tts_isnull.add(c.attnum) {
                    Value::Null
                } else {
                    let datum = *(*slot).tts_values.add(c.attnum);
                    match c.kind {
                        JsonKind::Bool => Value::Bool(datum.value() != 0),
                        _ => {
                            let cstr = pg_sys::OidOutputFunctionCall(c.output_fn, datum);
                            let v = value_to_json(c.kind, &CStr::from_ptr(cstr).to_string_lossy());
                            pg_sys::pfree(cstr.cast());
                            v
                        }
                    }
                };
                row.insert(c.name.clone(), value);
            }
            rows.push(row);
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::tuplestore_select_read_pointer(store, 0);
        rows
    }
}

thread_local! {
    /// The batched INSERT, prepared once per backend per audit_logs location.
    static INSERT_PLAN: RefCell<Option<(String, pgrx::spi::OwnedPreparedStatement)>> = const { RefCell::new(None) };
}

/// Write the entries: one INSERT ... SELECT FROM unnest(arrays) per statement.
fn write_entries(ext_schema: &str, action: &str, table: &str, tenants: Vec<Option<String>>, resource_ids: Vec<Option<String>>, metadata: Vec<String>) {
    let audit_logs = quote_qualified(ext_schema, "audit_logs");
    let actor = context::current_setting(context::ACTOR_GUC);
    Spi::connect_mut(|client| {
        INSERT_PLAN.with(|cell| {
            let mut cached = cell.borrow_mut();
            if cached.as_ref().is_none_or(|(schema, _)| schema != ext_schema) {
                let sql = format!(
                    "INSERT INTO {audit_logs} (actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata)
                     SELECT $1, u.tenant_id, $2, $3, u.resource_id, pg_catalog.inet_client_addr()::pg_catalog.text, u.metadata::pg_catalog.jsonb
                       FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.text[]),
                                       pg_catalog.unnest($6::pg_catalog.text[])) AS u(tenant_id, resource_id, metadata)"
                );
                let types = [pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTARRAYOID, pg_sys::TEXTARRAYOID, pg_sys::TEXTARRAYOID]
                    .map(pgrx::PgOid::from);
                let plan = client.prepare_mut(sql.as_str(), &types).expect("prepare audit insert").keep();
                *cached = Some((ext_schema.to_string(), plan));
            }
            let (_, plan) = cached.as_ref().unwrap();
            let args = [actor.into(), action.into(), table.into(), tenants.into(), resource_ids.into(), metadata.into()];
            client.update(plan, None, &args).expect("audit insert");
        });
    });
}

#[pg_trigger(sql = "
CREATE FUNCTION relay_audit_capture() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_audit_capture_entry';
")]
fn audit_capture<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let table = quote_qualified(&trigger.table_schema()?, &trigger.table_name()?);
    if !matches!((trigger.when()?, trigger.level()), (PgTriggerWhen::After, PgTriggerLevel::Statement)) {
        errors::trigger_misuse("relay_audit_capture", trigger.name()?, &table, "AFTER ... FOR EACH STATEMENT, with transition tables");
    }
    let op = trigger.op()?;
    let action = match op {
        PgTriggerOperation::Insert => "INSERT",
        PgTriggerOperation::Update => "UPDATE",
        PgTriggerOperation::Delete => "DELETE",
        PgTriggerOperation::Truncate => "TRUNCATE",
    };
    let ext_schema = crate::api::extension_schema();
    let data = trigger.trigger_data();
    let rel = data.tg_relation;
    let shape = unsafe { table_shape(rel) };
    let names: Vec<String> = shape.columns.iter().map(|c| c.name.clone()).collect();
    let session_tenant = context::current_tenant();

    if matches!(op, PgTriggerOperation::Truncate) {
        write_entries(&ext_schema, action, &table, vec![session_tenant], vec![None], vec![metadata(&table, &names, None, None)]);
        return Ok(None);
    }
    let old = unsafe { read_transition(data.tg_oldtable, rel, &shape) };
    let new = unsafe { read_transition(data.tg_newtable, rel, &shape) };
    let n = old.len().max(new.len());
    if n == 0 {
        return Ok(None);
    }
    let tenant_of = |row: &Map<String, Value>| match shape.tenant_attnum {
        Some(_) => row.get(crate::plan::TENANT_COLUMN).and_then(Value::as_str).map(str::to_string),
        None => session_tenant.clone(),
    };
    let mut tenants = Vec::with_capacity(n);
    let mut resource_ids = Vec::with_capacity(n);
    let mut docs = Vec::with_capacity(n);
    for i in 0..n {
        let (o, nw) = (old.get(i), new.get(i));
        let row = nw.or(o).expect("one side exists");
        tenants.push(tenant_of(row));
        resource_ids.push(resource_id(row, &shape.primary_key));
        docs.push(metadata(&table, &names, o, nw));
    }
    write_entries(&ext_schema, action, &table, tenants, resource_ids, docs);
    Ok(None)
}

trigger_entry!(relay_audit_capture_entry, pg_finfo_relay_audit_capture_entry, audit_capture_wrapper, "relay_audit_capture");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn values_keep_their_json_kind() {
        assert_eq!(value_to_json(JsonKind::Number, "42"), json!(42));
        assert_eq!(value_to_json(JsonKind::Number, "12345678901234567890.000001").to_string(), "12345678901234567890.000001");
        assert_eq!(value_to_json(JsonKind::Number, "NaN"), json!("NaN"));
        assert_eq!(value_to_json(JsonKind::Bool, "t"), json!(true));
        assert_eq!(value_to_json(JsonKind::Json, "{\"a\": [1, 2]}"), json!({"a": [1, 2]}));
        assert_eq!(value_to_json(JsonKind::Text, "2026-01-01 00:00:00"), json!("2026-01-01 00:00:00"));
    }

    #[test]
    fn changed_columns_are_listed_in_column_order() {
        let cols = ["id".to_string(), "name".to_string(), "n".to_string()];
        let old = obj(json!({"id": 1, "name": "a", "n": 1}));
        let new = obj(json!({"id": 1, "name": "b", "n": 2}));
        assert_eq!(changed_columns(&cols, &old, &new), vec!["name", "n"]);
    }

    #[test]
    fn resource_id_follows_the_primary_key() {
        let row = obj(json!({"id": "s1", "a": 1, "b": "x"}));
        assert_eq!(resource_id(&row, &["id".into()]), Some("s1".into()));
        assert_eq!(resource_id(&row, &["a".into()]), Some("1".into()));
        assert_eq!(resource_id(&row, &["a".into(), "b".into()]), Some("[1,\"x\"]".into()));
        assert_eq!(resource_id(&row, &[]), None);
    }

    #[test]
    fn metadata_has_old_new_and_changed_for_updates() {
        let cols = ["id".to_string(), "name".to_string()];
        let old = obj(json!({"id": 1, "name": "a"}));
        let new = obj(json!({"id": 1, "name": "b"}));
        let doc: Value = serde_json::from_str(&metadata("public.t", &cols, Some(&old), Some(&new))).unwrap();
        assert_eq!(doc, json!({"table": "public.t", "old": {"id": 1, "name": "a"}, "new": {"id": 1, "name": "b"}, "changed": ["name"]}));
        let doc: Value = serde_json::from_str(&metadata("public.t", &cols, None, Some(&new))).unwrap();
        assert_eq!(doc, json!({"table": "public.t", "new": {"id": 1, "name": "b"}}));
    }
}
