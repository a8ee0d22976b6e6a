//! PostgreSQL's `List` of pointers, read from Rust (the planner and utility hooks walk
//! parse trees).

use pgrx::pg_sys;

/// The pointers of a PostgreSQL pointer List (NIL: none).
///
/// # Safety
/// `list` is NIL or a valid pointer List.
pub unsafe fn pointers(list: *mut pg_sys::List) -> Vec<*mut std::ffi::c_void> {
    unsafe {
        if list.is_null() {
            return Vec::new();
        }
        (0..(*list).length as usize)
            .map(|i| (*(*list).elements.add(i)).ptr_value)
            .collect()
    }
}
