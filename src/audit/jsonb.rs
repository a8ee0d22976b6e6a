//! serde_json -> jsonb without a text round trip: the `serde_json::Value` an entry
//! is built as is pushed into PostgreSQL's jsonb builder (`pushJsonbValue`) directly,
//! so no JSON text is printed and lexed again per entry. Integers become numerics
//! directly; other numbers go through `numeric_in` (serde keeps their exact text).

use pgrx::pg_sys::{self, jbvType, JsonbIteratorToken as Tok};
use serde_json::Value;
use std::ffi::CString;

unsafe fn scalar(v: &Value, keep: &mut Vec<CString>) -> pg_sys::JsonbValue {
    unsafe {
        let mut jv: pg_sys::JsonbValue = std::mem::zeroed();
        match v {
            Value::Null => jv.type_ = jbvType::jbvNull,
            Value::Bool(b) => {
                jv.type_ = jbvType::jbvBool;
                jv.val.boolean = *b;
            }
            Value::Number(n) if n.as_i64().is_some() => {
                jv = numeric_value(int_numeric(n.as_i64().expect("checked")))
            }
            Value::Number(n) => jv = numeric_value(text_numeric(n.to_string().as_bytes(), keep)),
            Value::String(s) => jv = string_value(s.as_bytes()),
            Value::Array(_) | Value::Object(_) => {
                unreachable!("containers are pushed, not scalars")
            }
        }
        jv
    }
}

/// A numeric datum of `i`.
pub(crate) fn int_numeric(i: i64) -> pg_sys::Datum {
    // SAFETY: int8_numeric takes any int8.
    unsafe {
        pgrx::direct_function_call_as_datum(pg_sys::int8_numeric, &[Some(pg_sys::Datum::from(i))])
            .expect("int8_numeric returns a value")
    }
}

/// A numeric datum of the number printed in `text` (a valid JSON number); the
/// NUL-terminated copy numeric_in reads is kept in `keep`.
pub(crate) fn text_numeric(text: &[u8], keep: &mut Vec<CString>) -> pg_sys::Datum {
    let text = CString::new(text).expect("a number has no NUL");
    // SAFETY: numeric_in with a NUL-terminated string, no type modifier.
    let numeric = unsafe {
        pgrx::direct_function_call_as_datum(
            pg_sys::numeric_in,
            &[
                Some(pg_sys::Datum::from(text.as_ptr())),
                Some(pg_sys::Datum::from(pg_sys::InvalidOid)),
                Some(pg_sys::Datum::from(-1i32)),
            ],
        )
        .expect("numeric_in returns a value")
    };
    keep.push(text);
    numeric
}

/// A jbvNumeric value pointing at the numeric datum `d`.
pub(crate) fn numeric_value(d: pg_sys::Datum) -> pg_sys::JsonbValue {
    // SAFETY: an all-zero JsonbValue is a valid starting point for any type.
    let mut jv: pg_sys::JsonbValue = unsafe { std::mem::zeroed() };
    jv.type_ = jbvType::jbvNumeric;
    jv.val.numeric = d.cast_mut_ptr();
    jv
}

/// A jbvString value pointing at `s` (which must outlive the push).
pub(crate) fn string_value(s: &[u8]) -> pg_sys::JsonbValue {
    // SAFETY: as above.
    let mut jv: pg_sys::JsonbValue = unsafe { std::mem::zeroed() };
    jv.type_ = jbvType::jbvString;
    jv.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
        len: s.len() as i32,
        val: s.as_ptr() as *mut _,
    };
    jv
}

/// Push `v` as the value in `token` position (WJB_VALUE in an object, WJB_ELEM in an
/// array); returns what pushJsonbValue returned for a top-level container.
pub(crate) unsafe fn push(
    state: *mut *mut pg_sys::JsonbParseState,
    token: Tok::Type,
    v: &Value,
    keep: &mut Vec<CString>,
) -> *mut pg_sys::JsonbValue {
    unsafe {
        match v {
            Value::Object(map) => {
                pg_sys::pushJsonbValue(state, Tok::WJB_BEGIN_OBJECT, std::ptr::null_mut());
                for (k, item) in map {
                    let mut key = string_value(k.as_bytes());
                    pg_sys::pushJsonbValue(state, Tok::WJB_KEY, &mut key);
                    push(state, Tok::WJB_VALUE, item, keep);
                }
                pg_sys::pushJsonbValue(state, Tok::WJB_END_OBJECT, std::ptr::null_mut())
            }
            Value::Array(items) => {
                pg_sys::pushJsonbValue(state, Tok::WJB_BEGIN_ARRAY, std::ptr::null_mut());
                for item in items {
                    push(state, Tok::WJB_ELEM, item, keep);
                }
                pg_sys::pushJsonbValue(state, Tok::WJB_END_ARRAY, std::ptr::null_mut())
            }
            scalar_value => {
                let mut jv = scalar(scalar_value, keep);
                pg_sys::pushJsonbValue(state, token, &mut jv)
            }
        }
    }
}

/// A jsonb datum (in the current memory context) holding the JSON object `doc`.
///
/// # Safety
/// Call inside a transaction; errors surface as PostgreSQL errors.
pub unsafe fn object_to_jsonb(doc: &Value) -> pg_sys::Datum {
    assert!(doc.is_object(), "audit metadata is a JSON object");
    unsafe {
        let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
        let mut keep = Vec::new();
        let result = push(&mut state, Tok::WJB_VALUE, doc, &mut keep);
        pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(result))
    }
}

/// A jsonb datum's text, as jsonb_out prints it.
///
/// # Safety
/// `datum` is a valid jsonb datum.
pub unsafe fn jsonb_text(datum: pg_sys::Datum) -> String {
    unsafe {
        let text = pgrx::direct_function_call_as_datum(pg_sys::jsonb_out, &[Some(datum)])
            .expect("jsonb_out returns a value");
        std::ffi::CStr::from_ptr(text.cast_mut_ptr())
            .to_string_lossy()
            .into_owned()
    }
}
