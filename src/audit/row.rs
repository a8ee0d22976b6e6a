//! A captured row's values, read once from the transition tuple into what its entry's
//! JSON needs, and pushed from there into PostgreSQL's jsonb builder. No JSON tree is
//! built in between: numeric and jsonb values go in as the datums they are, text as
//! the bytes its output function printed, integers as numbers. Everything a row's
//! cells point at lives in the capture's batch memory context, reset after each batch.

use super::shape::{Column, JsonKind, TableShape};
use pgrx::pg_sys::{self, jbvType, JsonbIteratorToken as Tok};
use serde_json::Value;
use std::ffi::{c_char, CStr};

/// Bytes PostgreSQL allocated (an output function's result), valid until the batch
/// memory is reset.
#[derive(Clone, Copy, Debug)]
pub struct PgText {
    ptr: *const u8,
    len: usize,
}

impl PgText {
    /// # Safety
    /// `s` is a NUL-terminated string that outlives every use of the result.
    pub unsafe fn from_cstr(s: *const c_char) -> PgText {
        // SAFETY: as the caller promises.
        let len = unsafe { CStr::from_ptr(s) }.to_bytes().len();
        PgText { ptr: s.cast(), len }
    }

    /// For values that live as long as the program (tests).
    #[cfg(test)]
    pub fn from_static(s: &'static str) -> PgText {
        PgText {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: built from a live string (see the constructors).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }
}

/// One column's value, as it goes into the entry's JSON.
#[derive(Clone, Debug)]
pub enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    /// A float or oid as printed, a valid JSON number.
    Number(PgText),
    /// A numeric datum (a copy with a 4-byte header), neither NaN nor infinite.
    Numeric(pg_sys::Datum),
    /// A string: the value's text form.
    Text(PgText),
    /// A jsonb datum (a detoasted copy).
    Jsonb(pg_sys::Datum),
    /// A json value, parsed (json columns are rare; jsonb cannot hold every json text).
    Json(Value),
}

/// The bytes of a varlena datum.
///
/// # Safety
/// `d` points at an untoasted varlena with a 4-byte header.
unsafe fn varlena_bytes<'a>(d: pg_sys::Datum) -> &'a [u8] {
    unsafe {
        let v = d.cast_mut_ptr::<pg_sys::varlena>();
        std::slice::from_raw_parts(v as *const u8, pgrx::varlena::varsize_any(v))
    }
}

impl Cell {
    /// Both print the same: what makes a column "changed" in an UPDATE's entry.
    pub fn same(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Bool(a), Cell::Bool(b)) => a == b,
            (Cell::Int(a), Cell::Int(b)) => a == b,
            (Cell::Number(a), Cell::Number(b)) | (Cell::Text(a), Cell::Text(b)) => {
                a.bytes() == b.bytes()
            }
            // SAFETY: both are copies made when the row was read.
            (Cell::Numeric(a), Cell::Numeric(b)) | (Cell::Jsonb(a), Cell::Jsonb(b)) => unsafe {
                varlena_bytes(*a) == varlena_bytes(*b)
            },
            (Cell::Json(a), Cell::Json(b)) => a == b,
            _ => false,
        }
    }

    /// The value as a JSON value (for a composite key's resource_id). `print` gives a
    /// datum's text by its type's output function (`output`; tests pass their own).
    pub fn to_json(&self, print: &impl Fn(pg_sys::Oid, pg_sys::Datum) -> String) -> Value {
        let number = |text: String| {
            serde_json::from_str::<serde_json::Number>(&text)
                .map(Value::Number)
                .unwrap_or(Value::String(text))
        };
        match self {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Int(i) => Value::from(*i),
            Cell::Number(t) => number(t.text()),
            Cell::Text(t) => Value::String(t.text()),
            Cell::Numeric(d) => number(print(pg_sys::NUMERICOID, *d)),
            Cell::Jsonb(d) => {
                let text = print(pg_sys::JSONBOID, *d);
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
            Cell::Json(v) => v.clone(),
        }
    }

    /// The value as resource_id or tenant prints it: strings as they are, anything
    /// else as its JSON text.
    pub fn key_text(
        &self,
        print: &impl Fn(pg_sys::Oid, pg_sys::Datum) -> String,
    ) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Text(t) | Cell::Number(t) => Some(t.text()),
            Cell::Int(i) => Some(i.to_string()),
            other => Some(match other.to_json(print) {
                Value::String(s) => s,
                v => v.to_string(),
            }),
        }
    }
}

/// `datum`'s text form by its type's output function.
pub fn output(typoid: pg_sys::Oid, datum: pg_sys::Datum) -> String {
    // SAFETY: a datum of type `typoid`, read from a captured row.
    unsafe {
        let (mut func, mut varlena) = (pg_sys::InvalidOid, false);
        pg_sys::getTypeOutputInfo(typoid, &mut func, &mut varlena);
        CStr::from_ptr(pg_sys::OidOutputFunctionCall(func, datum))
            .to_string_lossy()
            .into_owned()
    }
}

/// The columns whose value differs between the old and the new row, in column order.
pub fn changed_columns<'a>(columns: &'a [Column], old: &[Cell], new: &[Cell]) -> Vec<&'a str> {
    columns
        .iter()
        .zip(old.iter().zip(new))
        .filter(|(_, (o, n))| !o.same(n))
        .map(|(c, _)| c.name.as_str())
        .collect()
}

/// The row's primary key as audit resource_id: the value of a one-column key, a JSON
/// array of the values of a composite one, NULL for a table without a primary key.
/// `key`: the key columns' positions among the row's cells.
pub fn resource_id(
    row: &[Cell],
    key: &[usize],
    print: &impl Fn(pg_sys::Oid, pg_sys::Datum) -> String,
) -> Option<String> {
    match key {
        [] => None,
        [one] => row[*one].key_text(print),
        many => {
            Some(Value::Array(many.iter().map(|i| row[*i].to_json(print)).collect()).to_string())
        }
    }
}

/// A json column's value, given its text. A json value holding \u0000 has no jsonb
/// form: it is kept as its text. Pure: unit-tested without Postgres.
pub fn json_value(text: &str) -> Value {
    if text.contains("\\u0000") {
        return Value::String(text.to_string());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Dates and timestamps as to_jsonb prints them (ISO 8601 with a `T`; under
/// CanonicalOutput, offsets of +00:00). Times print as their type does, as in to_jsonb.
fn is_datetime(typoid: pg_sys::Oid) -> bool {
    matches!(
        typoid,
        pg_sys::DATEOID | pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID
    )
}

/// The row in `slot` as cells, one per live column of `shape`. What the cells point
/// at is allocated in the current memory context.
///
/// # Safety
/// `slot` holds a tuple of the table `shape` describes, with every attribute fetched.
pub unsafe fn read(slot: *mut pg_sys::TupleTableSlot, shape: &TableShape) -> Vec<Cell> {
    unsafe {
        let mut row = Vec::with_capacity(shape.columns.len());
        for c in &shape.columns {
            if *(*slot).tts_isnull.add(c.attnum) {
                row.push(Cell::Null);
                continue;
            }
            let datum = *(*slot).tts_values.add(c.attnum);
            let print = || PgText::from_cstr(pg_sys::OidOutputFunctionCall(c.output_fn, datum));
            row.push(match c.typoid {
                pg_sys::BOOLOID => Cell::Bool(datum.value() != 0),
                pg_sys::INT2OID => Cell::Int(datum.value() as i16 as i64),
                pg_sys::INT4OID => Cell::Int(datum.value() as i32 as i64),
                pg_sys::INT8OID => Cell::Int(datum.value() as i64),
                t if is_datetime(t) => Cell::Text(PgText::from_cstr(pg_sys::JsonEncodeDateTime(
                    std::ptr::null_mut(),
                    datum,
                    t,
                    std::ptr::null(),
                ))),
                pg_sys::NUMERICOID => {
                    let copy = pg_sys::pg_detoast_datum_copy(datum.cast_mut_ptr());
                    // NaN and Infinity are not JSON numbers: kept as strings
                    if pg_sys::numeric_is_nan(copy.cast()) || pg_sys::numeric_is_inf(copy.cast()) {
                        Cell::Text(print())
                    } else {
                        Cell::Numeric(pg_sys::Datum::from(copy))
                    }
                }
                pg_sys::JSONBOID => Cell::Jsonb(pg_sys::Datum::from(
                    pg_sys::pg_detoast_datum_copy(datum.cast_mut_ptr()),
                )),
                _ => match c.kind {
                    JsonKind::Number => {
                        let text = print();
                        match serde_json::from_slice::<serde_json::Number>(text.bytes()) {
                            Ok(_) => Cell::Number(text),
                            Err(_) => Cell::Text(text),
                        }
                    }
                    JsonKind::Json => Cell::Json(json_value(&print().text())),
                    _ => Cell::Text(print()),
                },
            });
        }
        row
    }
}

/// Builds one jsonb document through pushJsonbValue, in the current memory context.
pub struct Builder {
    state: *mut pg_sys::JsonbParseState,
    result: *mut pg_sys::JsonbValue,
    /// numbers' text, NUL-terminated for numeric_in, kept until the push is done
    keep: Vec<std::ffi::CString>,
}

use super::jsonb::{int_numeric, numeric_value as numeric, string_value as string, text_numeric};

impl Builder {
    pub fn new() -> Builder {
        Builder {
            state: std::ptr::null_mut(),
            result: std::ptr::null_mut(),
            keep: Vec::new(),
        }
    }

    /// # Safety
    /// In a transaction; `token` fits where the document is.
    unsafe fn push(&mut self, token: Tok::Type, value: Option<&mut pg_sys::JsonbValue>) {
        unsafe {
            let value = value.map_or(std::ptr::null_mut(), |v| v as *mut _);
            self.result = pg_sys::pushJsonbValue(&mut self.state, token, value);
        }
    }

    pub unsafe fn begin_object(&mut self) {
        unsafe { self.push(Tok::WJB_BEGIN_OBJECT, None) }
    }

    pub unsafe fn end_object(&mut self) {
        unsafe { self.push(Tok::WJB_END_OBJECT, None) }
    }

    pub unsafe fn begin_array(&mut self) {
        unsafe { self.push(Tok::WJB_BEGIN_ARRAY, None) }
    }

    pub unsafe fn end_array(&mut self) {
        unsafe { self.push(Tok::WJB_END_ARRAY, None) }
    }

    pub unsafe fn key(&mut self, k: &str) {
        unsafe { self.push(Tok::WJB_KEY, Some(&mut string(k.as_bytes()))) }
    }

    /// A string, as an object's value or an array's element.
    pub unsafe fn string(&mut self, token: Tok::Type, s: &str) {
        unsafe { self.push(token, Some(&mut string(s.as_bytes()))) }
    }

    /// A cell, as an object's value (WJB_VALUE) or an array's element (WJB_ELEM).
    pub unsafe fn cell(&mut self, token: Tok::Type, cell: &Cell) {
        unsafe {
            let mut jv: pg_sys::JsonbValue = std::mem::zeroed();
            match cell {
                Cell::Null => jv.type_ = jbvType::jbvNull,
                Cell::Bool(b) => {
                    jv.type_ = jbvType::jbvBool;
                    jv.val.boolean = *b;
                }
                Cell::Int(i) => jv = numeric(int_numeric(*i)),
                Cell::Number(t) => jv = numeric(text_numeric(t.bytes(), &mut self.keep)),
                Cell::Numeric(d) => jv = numeric(*d),
                Cell::Text(t) => jv = string(t.bytes()),
                Cell::Jsonb(d) => {
                    // pushJsonbValue unpacks a jbvBinary value into the document.
                    let jsonb = d.cast_mut_ptr::<pg_sys::Jsonb>();
                    jv.type_ = jbvType::jbvBinary;
                    jv.val.binary = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_4 {
                        len: (pgrx::varlena::varsize_any(jsonb.cast()) - pg_sys::VARHDRSZ) as i32,
                        data: &mut (*jsonb).root,
                    };
                }
                Cell::Json(v) => {
                    super::jsonb::push(&mut self.state, token, v, &mut self.keep);
                    return;
                }
            }
            self.push(token, Some(&mut jv));
        }
    }

    /// A row as an object of its columns.
    pub unsafe fn row(&mut self, columns: &[Column], row: &[Cell]) {
        unsafe {
            self.begin_object();
            for (column, cell) in columns.iter().zip(row) {
                self.key(&column.name);
                self.cell(Tok::WJB_VALUE, cell);
            }
            self.end_object();
        }
    }

    /// The finished document as a jsonb datum.
    pub unsafe fn finish(self) -> pg_sys::Datum {
        unsafe { pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(self.result)) }
    }
}

/// The metadata document of one entry: the table, the old and new rows, and for an
/// UPDATE the columns that changed; a jsonb datum in the current memory context.
///
/// # Safety
/// In a transaction; the cells' memory is live.
pub unsafe fn metadata(
    table: &str,
    columns: &[Column],
    old: Option<&[Cell]>,
    new: Option<&[Cell]>,
) -> pg_sys::Datum {
    unsafe {
        let mut b = Builder::new();
        b.begin_object();
        b.key("table");
        b.string(Tok::WJB_VALUE, table);
        if let Some(old) = old {
            b.key("old");
            b.row(columns, old);
        }
        if let Some(new) = new {
            b.key("new");
            b.row(columns, new);
        }
        if let (Some(old), Some(new)) = (old, new) {
            b.key("changed");
            b.begin_array();
            for name in changed_columns(columns, old, new) {
                b.string(Tok::WJB_ELEM, name);
            }
            b.end_array();
        }
        b.end_object();
        b.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &'static str) -> Cell {
        Cell::Text(PgText::from_static(s))
    }

    #[test]
    fn json_values_are_embedded_unless_jsonb_cannot_hold_them() {
        assert_eq!(
            json_value("{\"a\": [1, 2]}"),
            serde_json::json!({"a": [1, 2]})
        );
        assert_eq!(
            json_value("{\"a\": \"x\\u0000y\"}"),
            serde_json::json!("{\"a\": \"x\\u0000y\"}")
        );
        assert_eq!(
            json_value("12345678901234567890.000001").to_string(),
            "12345678901234567890.000001"
        );
    }

    #[test]
    fn changed_columns_are_listed_in_column_order() {
        let column = |name: &str| Column {
            attnum: 0,
            name: name.into(),
            kind: JsonKind::Text,
            typoid: pg_sys::TEXTOID,
            output_fn: pg_sys::InvalidOid,
        };
        let names = [column("id"), column("name"), column("n"), column("gone")];
        let old = [Cell::Int(1), t("a"), Cell::Int(1), t("x")];
        let new = [Cell::Int(1), t("b"), Cell::Int(2), Cell::Null];
        assert_eq!(
            changed_columns(&names, &old, &new),
            vec!["name", "n", "gone"]
        );
        let same = [Cell::Int(1), t("a"), Cell::Int(1), t("x")];
        assert!(changed_columns(&names, &old, &same).is_empty());
        // a number and the string of its digits are different values
        assert!(!Cell::Int(1).same(&t("1")));
    }

    #[test]
    fn resource_id_follows_the_primary_key() {
        let resource_id = |row: &[Cell], key: &[usize]| {
            resource_id(row, key, &|_, _| unreachable!("no datum cells here"))
        };
        let row = [t("s1"), Cell::Int(1), t("x"), Cell::Null];
        assert_eq!(resource_id(&row, &[0]), Some("s1".into()));
        assert_eq!(resource_id(&row, &[1]), Some("1".into()));
        assert_eq!(resource_id(&row, &[1, 2]), Some("[1,\"x\"]".into()));
        assert_eq!(resource_id(&row, &[3]), None);
        assert_eq!(resource_id(&row, &[]), None);
        assert_eq!(
            resource_id(
                &[Cell::Number(PgText::from_static("2.50")), Cell::Bool(true)],
                &[0, 1]
            ),
            Some("[2.50,true]".into())
        );
    }
}
