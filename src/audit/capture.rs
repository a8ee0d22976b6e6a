//! Row-change capture: a native AFTER ... FOR EACH STATEMENT trigger with transition
//! tables. One call per statement, not per row: it reads the transition tuplestores
//! directly, a batch of rows at a time, builds each row's JSON with serde_json, and
//! hands each batch's entries to `writer`: a statement of any size is captured in
//! bounded memory.

use super::shape::{self, JsonKind, TableShape};
use super::writer::{self, Common, Entry};
use crate::{context, errors};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgTriggerLevel, PgTriggerOperation, PgTriggerWhen};
use serde_json::{Map, Value};
use std::ffi::CStr;

/// One value, given its text form, as JSON. Pure: unit-tested without Postgres.
pub fn value_to_json(kind: JsonKind, text: &str) -> Value {
    match kind {
        JsonKind::Bool => Value::Bool(text == "t"),
        // NaN and Infinity are not JSON numbers: keep them as strings
        JsonKind::Number => serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        // A json value holding \u0000 has no jsonb form: kept as its text.
        JsonKind::Json if text.contains("\\u0000") => Value::String(text.to_string()),
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

/// The metadata document of one entry. Takes the rows by value: a bulk statement
/// builds one document per row, and copying each row again would double the work.
pub fn metadata(table: &str, columns: &[String], old: Option<Map<String, Value>>, new: Option<Map<String, Value>>) -> Value {
    let mut doc = Map::new();
    doc.insert("table".into(), Value::String(table.to_string()));
    let changed = match (&old, &new) {
        (Some(o), Some(n)) => Some(changed_columns(columns, o, n).into_iter().map(Value::String).collect()),
        _ => None,
    };
    if let Some(old) = old {
        doc.insert("old".into(), Value::Object(old));
    }
    if let Some(new) = new {
        doc.insert("new".into(), Value::Object(new));
    }
    if let Some(changed) = changed {
        doc.insert("changed".into(), Value::Array(changed));
    }
    Value::Object(doc)
}

/// The settings every value is printed under while a statement's rows are read, so
/// that the same change is recorded the same way whatever the session says: ISO
/// dates, times in UTC, the `postgres` interval style, hex bytea, floats with every
/// digit that tells them apart (extra_float_digits 1, shortest exact). Set at a GUC
/// nest level of their own and rolled back on drop (an error's abort rolls them back
/// too), like a function's SET clause.
pub struct CanonicalOutput {
    /// None when the session's settings print values canonically already (the common
    /// case: nothing to set, nothing to restore).
    nest_level: Option<i32>,
}

const CANONICAL_SETTINGS: [(&std::ffi::CStr, &std::ffi::CStr); 5] = [
    (c"DateStyle", c"ISO, YMD"),
    (c"TimeZone", c"UTC"),
    (c"IntervalStyle", c"postgres"),
    (c"bytea_output", c"hex"),
    (c"extra_float_digits", c"1"),
];

/// A time zone of this name prints offsets as UTC does.
fn is_utc_name(name: &str) -> bool {
    matches!(name, "UTC" | "Etc/UTC" | "Etc/Universal" | "Universal" | "Zulu" | "GMT" | "Etc/UCT" | "UCT" | "Etc/Zulu" | "Etc/GMT" | "GMT0" | "Etc/GMT0" | "Etc/Greenwich" | "Greenwich")
}

unsafe extern "C" {
    /// utils/bytea.h's setting (pgrx's bindings leave that header out).
    static bytea_output: std::ffi::c_int;
}
/// `bytea_output = hex` (BYTEA_OUTPUT_HEX in utils/bytea.h).
const BYTEA_OUTPUT_HEX: std::ffi::c_int = 1;

/// Whether the session's value of each of CANONICAL_SETTINGS prints values as the
/// canonical one would: any ISO DateStyle (the day order only matters for input), a
/// UTC zone under any of its names, any extra_float_digits above 0 (all print the
/// shortest exact form). Read from the settings' C variables: asked once per
/// statement, where a lookup by name would cost more than the rest of a one-row capture.
fn session_prints_canonically() -> [bool; 5] {
    // SAFETY: reads PostgreSQL's settings variables; session_timezone is always set
    // once the backend has started.
    unsafe {
        let tz = pg_sys::pg_get_timezone_name(pg_sys::session_timezone);
        [
            pg_sys::DateStyle == pg_sys::USE_ISO_DATES as i32,
            !tz.is_null() && CStr::from_ptr(tz).to_str().is_ok_and(is_utc_name),
            pg_sys::IntervalStyle == pg_sys::INTSTYLE_POSTGRES as i32,
            bytea_output == BYTEA_OUTPUT_HEX,
            pg_sys::extra_float_digits > 0,
        ]
    }
}

impl CanonicalOutput {
    pub fn enter() -> CanonicalOutput {
        let already = session_prints_canonically();
        if already.iter().all(|ok| *ok) {
            return CanonicalOutput { nest_level: None };
        }
        // SAFETY: plain GUC calls in a transaction; every name and value is valid.
        unsafe {
            let nest_level = pg_sys::NewGUCNestLevel();
            for ((name, value), _) in CANONICAL_SETTINGS.iter().zip(already).filter(|(_, ok)| !ok) {
                pg_sys::set_config_option(
                    name.as_ptr(),
                    value.as_ptr(),
                    pg_sys::GucContext::PGC_USERSET,
                    pg_sys::GucSource::PGC_S_SESSION,
                    pg_sys::GucAction::GUC_ACTION_SAVE,
                    true,
                    0,
                    false,
                );
            }
            CanonicalOutput { nest_level: Some(nest_level) }
        }
    }
}

impl Drop for CanonicalOutput {
    fn drop(&mut self) {
        if let Some(level) = self.nest_level {
            // SAFETY: pops the nest level entered above, restoring the session's values.
            unsafe { pg_sys::AtEOXact_GUC(true, level) };
        }
    }
}

/// Dates and timestamps as to_jsonb prints them (ISO 8601 with a `T`; under
/// CanonicalOutput, offsets of +00:00). Times print as their type does, as in to_jsonb.
fn is_datetime(typoid: pg_sys::Oid) -> bool {
    matches!(typoid, pg_sys::DATEOID | pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID)
}

/// The database's encoding is UTF8: captured values are built as UTF-8 text
/// (relay_enable_audit refuses other encodings; the trigger checks again).
pub fn utf8_database() -> bool {
    // SAFETY: reads the database encoding, fixed for the backend's life.
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}


/// One transition table, read a batch at a time: a read pointer of our own on the
/// tuplestore (as a NamedTuplestoreScan takes: other triggers read the same one), a
/// slot, and a memory context for what PostgreSQL allocates while printing values,
/// reset after every batch. So a statement of any size is captured in bounded memory:
/// at most one batch of rows is held, in Rust or in PostgreSQL.
struct TransitionReader {
    store: *mut pg_sys::Tuplestorestate,
    ptr: i32,
    slot: *mut pg_sys::TupleTableSlot,
    cxt: pg_sys::MemoryContext,
}

impl TransitionReader {
    /// # Safety
    /// `store` is this trigger call's transition tuplestore (or NULL) for `rel`.
    unsafe fn new(store: *mut pg_sys::Tuplestorestate, rel: pg_sys::Relation) -> Option<TransitionReader> {
        if store.is_null() {
            return None;
        }
        unsafe {
            let ptr = pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
            pg_sys::tuplestore_select_read_pointer(store, ptr);
            pg_sys::tuplestore_rescan(store);
            pg_sys::tuplestore_select_read_pointer(store, 0);
            let slot = pg_sys::MakeSingleTupleTableSlot((*rel).rd_att, &pg_sys::TTSOpsMinimalTuple);
            let cxt = pg_sys::AllocSetContextCreateInternal(
                pg_sys::CurrentMemoryContext,
                c"relay capture batch".as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            );
            Some(TransitionReader { store, ptr, slot, cxt })
        }
    }

    /// The next `max` rows (fewer at the end), as JSON objects.
    fn next_batch(&mut self, shape: &TableShape, max: usize) -> Vec<Map<String, Value>> {
        // SAFETY: the tuplestore, slot and context were set up by `new` for this call.
        unsafe {
            let mut rows = Vec::with_capacity(max);
            pg_sys::MemoryContextReset(self.cxt);
            let caller = pg_sys::MemoryContextSwitchTo(self.cxt);
            pg_sys::tuplestore_select_read_pointer(self.store, self.ptr);
            while rows.len() < max && pg_sys::tuplestore_gettupleslot(self.store, true, false, self.slot) {
                pg_sys::slot_getallattrs(self.slot);
                rows.push(row_json(self.slot, shape));
            }
            // A tuplestore that spilled to disk hands out tuples palloc'd here, for the
            // slot to free: let it free the last one before the context is reset.
            pg_sys::ExecClearTuple(self.slot);
            pg_sys::tuplestore_select_read_pointer(self.store, 0);
            pg_sys::MemoryContextSwitchTo(caller);
            rows
        }
    }
}

impl Drop for TransitionReader {
    fn drop(&mut self) {
        // SAFETY: frees what `new` made; the tuplestore itself belongs to the trigger.
        unsafe {
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::MemoryContextDelete(self.cxt);
        }
    }
}

/// The row in `slot` as a JSON object of its live columns.
///
/// # Safety
/// `slot` holds a tuple of the table `shape` describes, with every attribute fetched.
unsafe fn row_json(slot: *mut pg_sys::TupleTableSlot, shape: &TableShape) -> Map<String, Value> {
    unsafe {
        let mut row = Map::with_capacity(shape.columns.len());
        for c in &shape.columns {
            let value = if *(*slot).tts_isnull.add(c.attnum) {
                Value::Null
            } else {
                let datum = *(*slot).tts_values.add(c.attnum);
                match c.typoid {
                    pg_sys::BOOLOID => Value::Bool(datum.value() != 0),
                    pg_sys::INT2OID => Value::from(datum.value() as i16),
                    pg_sys::INT4OID => Value::from(datum.value() as i32),
                    pg_sys::INT8OID => Value::from(datum.value() as i64),
                    t if is_datetime(t) => {
                        let text = pg_sys::JsonEncodeDateTime(std::ptr::null_mut(), datum, t, std::ptr::null());
                        Value::String(CStr::from_ptr(text).to_string_lossy().into_owned())
                    }
                    _ => {
                        let cstr = pg_sys::OidOutputFunctionCall(c.output_fn, datum);
                        value_to_json(c.kind, &CStr::from_ptr(cstr).to_string_lossy())
                    }
                }
            };
            row.insert(c.name.clone(), value);
        }
        row
    }
}

#[pg_trigger(sql = "
CREATE FUNCTION relay_audit_capture() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_audit_capture_entry';
")]
fn audit_capture<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let data = trigger.trigger_data();
    let rel = data.tg_relation;
    // SAFETY: the relation is open and locked by the statement that fired us.
    let relid = unsafe { (*rel).rd_id };
    // The row's tenant is trusted only on tenant-enabled tables, in their tenant column.
    let tenant_column = crate::ext::tenant_column_of(relid);
    // SAFETY: as above.
    let shape = unsafe { shape::of(rel, tenant_column.as_deref().unwrap_or(crate::plan::TENANT_COLUMN)) };
    let table = shape.table.as_str();
    if !matches!((trigger.when()?, trigger.level()), (PgTriggerWhen::After, PgTriggerLevel::Statement)) {
        errors::trigger_misuse("relay_audit_capture", trigger.name()?, table, "AFTER ... FOR EACH STATEMENT, with transition tables");
    }
    let op = trigger.op()?;
    let action = match op {
        PgTriggerOperation::Insert => "INSERT",
        PgTriggerOperation::Update => "UPDATE",
        PgTriggerOperation::Delete => "DELETE",
        PgTriggerOperation::Truncate => "TRUNCATE",
    };
    // pg_dump's output and pg_restore set row_security = off; nothing else needs to
    // write an audited table so. A data-only restore would record every row again.
    // SAFETY: reads the setting's C variable.
    if !unsafe { pg_sys::row_security } {
        errors::capture_during_bulk_load(table);
    }
    // Only tables relay_enable_audit registered: attached by hand (by a role that
    // was given EXECUTE), the trigger writes nothing and says why.
    if !crate::ext::is_audited(relid) {
        errors::capture_not_registered(table, trigger.name()?);
    }
    let audit_logs = crate::ext::ext_relation(c"audit_logs");
    let common = Common {
        audit_logs: &audit_logs,
        actor_id: context::current_setting(context::ACTOR_GUC),
        action,
        resource_type: table,
        ip_address: writer::client_address(),
    };
    let names = &shape.names;
    let session_tenant = context::current_tenant();

    if matches!(op, PgTriggerOperation::Truncate) {
        let tenant = writer::checked_tenant(session_tenant, || format!("a TRUNCATE of {table}"));
        let entry = Entry { tenant_id: Some(tenant), resource_id: None, metadata: metadata(table, names, None, None) };
        writer::write(&common, &[entry]);
        return Ok(None);
    }
    if !utf8_database() {
        errors::capture_needs_utf8(table, "record changes of");
    }
    // SAFETY: the transition tuplestores belong to this trigger call.
    let mut old_rows = unsafe { TransitionReader::new(data.tg_oldtable, rel) };
    let mut new_rows = unsafe { TransitionReader::new(data.tg_newtable, rel) };
    // The row's own tenant_id only when the table is tenant-enabled (its policy
    // checked the row against the session's tenant, and its foreign key against
    // tenants); any other table's rows are recorded in the session's tenant, so a
    // column that merely is called tenant_id cannot write into another tenant's log.
    let row_tenant = shape.tenant_attnum.is_some() && tenant_column.is_some();
    let column = tenant_column.clone().unwrap_or_default();
    let tenant_of = |row: &Map<String, Value>| match row_tenant {
        // uuid and text print as strings, bigint/integer as numbers
        true => row.get(&column).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
        false => session_tenant.clone(),
    };
    let what = || format!("a change of {table}");
    let mut checked: std::collections::HashSet<String> = std::collections::HashSet::new();
    // A batch at a time: an UPDATE's old and new transition rows come in the same
    // order, so the n-th of each belong together.
    loop {
        let canonical = CanonicalOutput::enter();
        let old = old_rows.as_mut().map(|r| r.next_batch(&shape, writer::BATCH)).unwrap_or_default();
        let new = new_rows.as_mut().map(|r| r.next_batch(&shape, writer::BATCH)).unwrap_or_default();
        drop(canonical);
        if old.is_empty() && new.is_empty() {
            break;
        }
        let count = old.len().max(new.len());
        let (mut old, mut new) = (old.into_iter(), new.into_iter());
        let entries: Vec<Entry> = (0..count)
            .map(|_| {
                let (o, n) = (old.next(), new.next());
                let row = n.as_ref().or(o.as_ref()).expect("one side exists");
                let (tenant_id, resource_id) = (tenant_of(row), resource_id(row, &shape.primary_key));
                Entry { tenant_id, resource_id, metadata: metadata(table, names, o, n) }
            })
            .collect();
        for entry in &entries {
            match entry.tenant_id.as_deref() {
                Some(t) if checked.contains(t) => {}
                Some(t) => {
                    writer::checked_tenant(Some(t.to_string()), what);
                    checked.insert(t.to_string());
                }
                None => {
                    writer::checked_tenant(None, what);
                }
            }
        }
        writer::write(&common, &entries);
    }
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
    fn utc_under_any_name_prints_canonically() {
        assert!(is_utc_name("Etc/UTC"));
        assert!(is_utc_name("UTC"));
        assert!(!is_utc_name("America/New_York"));
        assert!(!is_utc_name("Europe/London"));
    }

    #[test]
    fn values_keep_their_json_kind() {
        assert_eq!(value_to_json(JsonKind::Number, "42"), json!(42));
        assert_eq!(value_to_json(JsonKind::Number, "12345678901234567890.000001").to_string(), "12345678901234567890.000001");
        assert_eq!(value_to_json(JsonKind::Number, "NaN"), json!("NaN"));
        assert_eq!(value_to_json(JsonKind::Bool, "t"), json!(true));
        assert_eq!(value_to_json(JsonKind::Json, "{\"a\": [1, 2]}"), json!({"a": [1, 2]}));
        assert_eq!(value_to_json(JsonKind::Json, "{\"a\": \"x\\u0000y\"}"), json!("{\"a\": \"x\\u0000y\"}"));
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
        let doc = metadata("public.t", &cols, Some(old), Some(new.clone()));
        assert_eq!(doc, json!({"table": "public.t", "old": {"id": 1, "name": "a"}, "new": {"id": 1, "name": "b"}, "changed": ["name"]}));
        let doc = metadata("public.t", &cols, None, Some(new));
        assert_eq!(doc, json!({"table": "public.t", "new": {"id": 1, "name": "b"}}));
    }
}
