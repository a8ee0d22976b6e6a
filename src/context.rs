//! Tenant context: what the session says the current tenant is.

use std::ffi::CStr;

/// The GUC applications set per request (`SET LOCAL app.current_tenant_id = '...'`).
pub const TENANT_GUC: &CStr = c"app.current_tenant_id";

/// Who is acting, for audit entries (`SET LOCAL app.current_actor_id = 'user-42'`).
pub const ACTOR_GUC: &CStr = c"app.current_actor_id";

/// A custom setting's value, None when unset or `''`.
pub fn current_setting(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOption returns NULL or a pointer to the GUC's current value,
    // valid until the setting next changes; we copy it at once.
    let value = unsafe { pgrx::pg_sys::GetConfigOption(name.as_ptr(), true, false) };
    if value.is_null() {
        return None;
    }
    let value = unsafe { CStr::from_ptr(value) }.to_string_lossy().into_owned();
    (!value.is_empty()).then_some(value)
}

/// The session's tenant, or None when unset. `''` counts as unset: PostgreSQL returns
/// it once a `SET LOCAL` has ended in a session where the setting existed.
pub fn current_tenant() -> Option<String> {
    current_setting(TENANT_GUC)
}
