//! Settings: the one scope type for settings relay changes for a while
//! (`SettingsScope`, a GUC nest level of its own, like a function's SET clause), and
//! reading a setting's current value.
//!
//! (`context::signed::as_relay_setting` is not a third way: it marks relay's own write
//! of the tenant setting for signed mode's check hook.)

use pgrx::pg_sys;
use std::ffi::CStr;

/// Settings changed at a GUC nest level of their own, put back when dropped (like a
/// function's SET clause). On an error the transaction (or subtransaction) abort puts
/// them back, so the guard only acts on the normal path.
pub struct SettingsScope(i32);
impl SettingsScope {
    pub fn enter() -> SettingsScope {
        // SAFETY: opens a GUC nest level, popped on drop or by the abort.
        SettingsScope(unsafe { pg_sys::NewGUCNestLevel() })
    }

    /// Settings at one nest level of their own, set with superuser rights (relay's
    /// own choices: Citus DDL settings, lock_timeout) and restored together.
    pub fn with(settings: &[(&CStr, &CStr)]) -> SettingsScope {
        let scope = SettingsScope::enter();
        for (name, value) in settings {
            scope.assign(name, value, pg_sys::GucContext::PGC_SUSET);
        }
        scope
    }

    /// Set `name` to `value` (a user-settable setting) until the scope ends.
    pub fn set(&self, name: &CStr, value: &CStr) {
        self.assign(name, value, pg_sys::GucContext::PGC_USERSET);
    }

    fn assign(&self, name: &CStr, value: &CStr, context: pg_sys::GucContext::Type) {
        // SAFETY: a plain GUC assignment in a transaction; errors are PostgreSQL errors.
        unsafe {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                context,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
        }
    }
}

impl Drop for SettingsScope {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: pops the nest level `enter` opened, restoring the settings.
        unsafe { pg_sys::AtEOXact_GUC(true, self.0) };
    }
}

/// What relay runs Citus DDL under: its TRUNCATE guards are triggers, which Citus
/// creates on shards only with unsafe triggers on; foreign keys to reference tables
/// need one connection per node for the whole transaction.
pub fn citus_ddl_settings() -> SettingsScope {
    SettingsScope::with(&[
        (c"citus.enable_unsafe_triggers", c"on"),
        (c"citus.multi_shard_modify_mode", c"sequential"),
    ])
}

/// A custom setting's value, None when unset or `''`.
pub fn current_setting(name: &std::ffi::CStr) -> Option<String> {
    // SAFETY: GetConfigOption returns NULL or a pointer to the GUC's current value,
    // valid until the setting next changes; we copy it at once.
    let value = unsafe { pgrx::pg_sys::GetConfigOption(name.as_ptr(), true, false) };
    if value.is_null() {
        return None;
    }
    let value = unsafe { std::ffi::CStr::from_ptr(value) }
        .to_string_lossy()
        .into_owned();
    (!value.is_empty()).then_some(value)
}
