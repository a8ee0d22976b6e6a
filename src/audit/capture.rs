//! Row-change capture: a native AFTER ... FOR EACH STATEMENT trigger with transition
//! tables. One call per statement, not per row: it reads the transition tuplestores
//! directly, a batch of rows at a time, into cells (`row`), builds each entry's
//! metadata jsonb from them, and hands each batch's entries to `writer`. Everything a
//! batch allocates lives in one memory context, reset after the batch: a statement of
//! any size is captured in bounded memory.

use super::row::{self, Cell};
use super::shape::{self, TableShape};
use super::writer::{self, Common, Entry};
use crate::{context, model::errors};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgTriggerLevel, PgTriggerOperation, PgTriggerWhen};
use std::ffi::CStr;

/// The settings every value is printed under while a statement's rows are read, so
/// that the same change is recorded the same way whatever the session says: ISO
/// dates, times in UTC, the `postgres` interval style, hex bytea, floats with every
/// digit that tells them apart (extra_float_digits 1, shortest exact). Set at a GUC
/// nest level of their own and rolled back on drop (an error's abort rolls them back
/// too), like a function's SET clause.
pub struct CanonicalOutput {
    /// None when the session's settings print values canonically already (the common
    /// case: nothing to set, nothing to restore).
    _settings: Option<crate::pg::settings::SettingsScope>,
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
    matches!(
        name,
        "UTC"
            | "Etc/UTC"
            | "Etc/Universal"
            | "Universal"
            | "Zulu"
            | "GMT"
            | "Etc/UCT"
            | "UCT"
            | "Etc/Zulu"
            | "Etc/GMT"
            | "GMT0"
            | "Etc/GMT0"
            | "Etc/Greenwich"
            | "Greenwich"
    )
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
            return CanonicalOutput { _settings: None };
        }
        let settings = crate::pg::settings::SettingsScope::enter();
        for ((name, value), _) in CANONICAL_SETTINGS.iter().zip(already).filter(|(_, ok)| !ok) {
            settings.set(name, value);
        }
        CanonicalOutput {
            _settings: Some(settings),
        }
    }
}

/// The database's encoding is UTF8: captured values are built as UTF-8 text
/// (relay_enable_audit refuses other encodings; the trigger checks again).
pub fn utf8_database() -> bool {
    // SAFETY: reads the database encoding, fixed for the backend's life.
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}

/// One transition table, read a batch at a time: a read pointer of our own on the
/// tuplestore (as a NamedTuplestoreScan takes: other triggers read the same one) and a
/// slot. What printing the values allocates goes in the caller's batch context.
struct TransitionReader {
    store: *mut pg_sys::Tuplestorestate,
    ptr: i32,
    slot: *mut pg_sys::TupleTableSlot,
}

impl TransitionReader {
    /// # Safety
    /// `store` is this trigger call's transition tuplestore (or NULL) for `rel`.
    unsafe fn new(
        store: *mut pg_sys::Tuplestorestate,
        rel: pg_sys::Relation,
    ) -> Option<TransitionReader> {
        if store.is_null() {
            return None;
        }
        unsafe {
            let ptr = pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
            pg_sys::tuplestore_select_read_pointer(store, ptr);
            pg_sys::tuplestore_rescan(store);
            pg_sys::tuplestore_select_read_pointer(store, 0);
            let slot = pg_sys::MakeSingleTupleTableSlot((*rel).rd_att, &pg_sys::TTSOpsMinimalTuple);
            Some(TransitionReader { store, ptr, slot })
        }
    }

    /// The next `max` rows (fewer at the end), as cells allocated in the current
    /// memory context.
    fn next_batch(&mut self, shape: &TableShape, max: usize) -> Vec<Vec<Cell>> {
        // SAFETY: the tuplestore and slot were set up by `new` for this call.
        unsafe {
            let mut rows = Vec::with_capacity(max.min(64));
            pg_sys::tuplestore_select_read_pointer(self.store, self.ptr);
            while rows.len() < max
                && pg_sys::tuplestore_gettupleslot(self.store, true, false, self.slot)
            {
                pg_sys::slot_getallattrs(self.slot);
                rows.push(row::read(self.slot, shape));
            }
            // A tuplestore that spilled to disk hands out tuples palloc'd in the batch
            // context, for the slot to free: let it free the last one before the
            // context is reset.
            pg_sys::ExecClearTuple(self.slot);
            pg_sys::tuplestore_select_read_pointer(self.store, 0);
            rows
        }
    }
}

impl Drop for TransitionReader {
    fn drop(&mut self) {
        // SAFETY: frees what `new` made; the tuplestore itself belongs to the trigger.
        unsafe { pg_sys::ExecDropSingleTupleTableSlot(self.slot) };
    }
}

/// A memory context for one batch of a statement: the rows' values, the entries'
/// jsonb. Reset before each batch, deleted on drop.
struct BatchMemory(pg_sys::MemoryContext);

impl BatchMemory {
    fn new() -> BatchMemory {
        // SAFETY: a child of the current context.
        BatchMemory(unsafe {
            pg_sys::AllocSetContextCreateInternal(
                pg_sys::CurrentMemoryContext,
                c"relay capture batch".as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            )
        })
    }

    /// Reset, then run `f` with the context current. The caller's context is made
    /// current again however `f` ends: a PostgreSQL error reaches Rust as a panic
    /// that unwinds through here, and the error must not be copied into (or the
    /// unwinding code allocate in) a context that is about to be deleted.
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the context is ours; `_back` switches to the caller's on every exit.
        let _back = unsafe {
            pg_sys::MemoryContextReset(self.0);
            SwitchBack(pg_sys::MemoryContextSwitchTo(self.0))
        };
        f()
    }
}

/// Makes a saved memory context current again when dropped (also while unwinding).
struct SwitchBack(pg_sys::MemoryContext);

impl Drop for SwitchBack {
    fn drop(&mut self) {
        // SAFETY: the saved context outlives the batch context (it is its parent or
        // an ancestor's sibling the caller owns).
        unsafe { pg_sys::MemoryContextSwitchTo(self.0) };
    }
}

impl Drop for BatchMemory {
    fn drop(&mut self) {
        // SAFETY: deletes the context made by `new`; nothing points into it any more.
        // Never the current context: switch to its parent first if it still is.
        unsafe {
            if pg_sys::CurrentMemoryContext == self.0 {
                pg_sys::MemoryContextSwitchTo((*self.0).parent);
            }
            pg_sys::MemoryContextDelete(self.0)
        };
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
    // Its tenant column when it is tenant-enabled (the row's tenant is trusted only
    // there), and whether relay_enable_audit registered it.
    let (tenant_column, registered) = crate::pg::probes::membership(relid);
    // SAFETY: as above.
    let shape = unsafe {
        shape::of(
            rel,
            tenant_column
                .as_deref()
                .unwrap_or(crate::plan::TENANT_COLUMN),
        )
    };
    let table = shape.table.as_str();
    if !matches!(
        (trigger.when()?, trigger.level()),
        (PgTriggerWhen::After, PgTriggerLevel::Statement)
    ) {
        errors::trigger_misuse(
            "relay_audit_capture",
            trigger.name()?,
            table,
            "AFTER ... FOR EACH STATEMENT, with transition tables",
        );
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
    if !registered {
        errors::capture_not_registered(table, trigger.name()?);
    }
    let audit_logs = crate::pg::ext::ext_relation(c"audit_logs");
    let common = Common {
        audit_logs: &audit_logs,
        actor_id: context::current_actor(),
        action,
        resource_type: table,
        ip_address: writer::client_address(),
    };
    let session_tenant = context::current_tenant();

    if matches!(op, PgTriggerOperation::Truncate) {
        let tenant = writer::checked_tenant(session_tenant, || format!("a TRUNCATE of {table}"));
        // SAFETY: a small jsonb in the trigger call's memory.
        let metadata = unsafe { row::metadata(table, &shape.columns, None, None) };
        writer::write(
            &common,
            &[Entry {
                tenant_id: Some(tenant),
                resource_id: None,
                metadata,
            }],
        );
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
    let row_tenant = shape.tenant_column.filter(|_| tenant_column.is_some());
    let tenant_of = |row: &[Cell]| match row_tenant {
        // uuid and text print as strings, bigint/integer as numbers
        Some(i) => match &row[i] {
            Cell::Text(_) | Cell::Number(_) | Cell::Int(_) | Cell::Numeric(_) => {
                row[i].key_text(&row::output)
            }
            _ => None,
        },
        None => session_tenant.clone(),
    };
    let what = || format!("a change of {table}");
    let mut checked: std::collections::HashSet<String> = std::collections::HashSet::new();
    let memory = BatchMemory::new();
    // A batch at a time: an UPDATE's old and new transition rows come in the same
    // order, so the n-th of each belong together.
    loop {
        let written = memory.run(|| {
            let canonical = CanonicalOutput::enter();
            let old = old_rows
                .as_mut()
                .map(|r| r.next_batch(&shape, writer::BATCH))
                .unwrap_or_default();
            let new = new_rows
                .as_mut()
                .map(|r| r.next_batch(&shape, writer::BATCH))
                .unwrap_or_default();
            drop(canonical);
            if old.is_empty() && new.is_empty() {
                return false;
            }
            let count = old.len().max(new.len());
            let entries: Vec<Entry> = (0..count)
                .map(|i| {
                    let (o, n) = (old.get(i).map(Vec::as_slice), new.get(i).map(Vec::as_slice));
                    let row = n.or(o).expect("one side exists");
                    // SAFETY: the cells' memory is this batch's, current until the reset.
                    let metadata = unsafe { row::metadata(table, &shape.columns, o, n) };
                    Entry {
                        tenant_id: tenant_of(row),
                        resource_id: row::resource_id(row, &shape.primary_key, &row::output),
                        metadata,
                    }
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
            true
        });
        if !written {
            break;
        }
    }
    Ok(None)
}

trigger_entry!(
    relay_audit_capture_entry,
    pg_finfo_relay_audit_capture_entry,
    audit_capture_wrapper,
    "relay_audit_capture"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_under_any_name_prints_canonically() {
        assert!(is_utc_name("Etc/UTC"));
        assert!(is_utc_name("UTC"));
        assert!(!is_utc_name("America/New_York"));
        assert!(!is_utc_name("Europe/London"));
    }
}
