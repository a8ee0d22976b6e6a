//! Running SQL with other privileges than the caller's, the way PostgreSQL runs
//! maintenance on a user's table: as a role (`as_role`), as the extension's owner
//! (`as_extension_owner`), with forced row level security lifted
//! (`without_forced_rls`); always with the search_path pinned and
//! SECURITY_RESTRICTED_OPERATION set.

use crate::pg::ext::{extension_owner, PINNED_SEARCH_PATH};
use crate::pg::settings::SettingsScope;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The first column of the first row of `sql`, None when there is no row (pgrx's
/// `get_one` reports an empty result as an error).
pub fn select_optional<T: pgrx::FromDatum + pgrx::IntoDatum>(
    sql: &str,
    args: &[pgrx::datum::DatumWithOid],
) -> Option<T> {
    Spi::connect_mut(|client| {
        let rows = client.update(sql, Some(1), args).expect("lookup");
        if rows.is_empty() {
            None
        } else {
            rows.first().get_one::<T>().expect("lookup value")
        }
    })
}

/// The current role bypasses row level security: a superuser or a role WITH BYPASSRLS.
pub fn role_sees_every_tenant() -> bool {
    // SAFETY: role lookups in the syscache.
    unsafe { pg_sys::superuser() || pg_sys::has_bypassrls_privilege(pg_sys::GetUserId()) }
}

/// Restores the user and security context saved by `as_role` (then its pinned
/// search_path goes with `settings`). On an error the abort restores both.
/// (Fields drop in order: the user and context first, then the settings.)
struct RoleSwitch {
    _context: ContextRestore,
    _settings: SettingsScope,
}

/// Run `f` as `role` with `extra` security-context flags, SECURITY_RESTRICTED_OPERATION
/// and the search_path pinned to `pg_catalog, pg_temp` (what PostgreSQL does around
/// index builds and other maintenance run on behalf of a table's owner).
pub fn as_role<R>(role: pg_sys::Oid, extra: u32, f: impl FnOnce() -> R) -> R {
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: saves the current user and context and switches; RoleSwitch switches back.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            role,
            context
                | (pg_sys::SECURITY_LOCAL_USERID_CHANGE
                    | pg_sys::SECURITY_RESTRICTED_OPERATION
                    | extra) as i32,
        );
    }
    let settings = SettingsScope::enter();
    settings.set(c"search_path", PINNED_SEARCH_PATH);
    let guard = RoleSwitch {
        _context: ContextRestore { user, context },
        _settings: settings,
    };
    let result = f();
    drop(guard);
    result
}

/// Run `f` as the current user with row level security not forced on tables the user
/// owns (SECURITY_NOFORCE_RLS, as PostgreSQL's own foreign-key checks run). relay's
/// steps run this way: a foreign key's validation and relay's checks must see every
/// tenant's rows. Under FORCE ROW LEVEL SECURITY a non-superuser owner with no tenant
/// set would see none, making a validation fail on rows that are there, or pass on
/// rows it never saw. The owner may read every row of its tables anyway (README
/// "Security model"); other roles are unaffected.
pub fn without_forced_rls<R>(f: impl FnOnce() -> R) -> R {
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    // SAFETY: saves the current user and context and adds one flag; the guard puts the
    // context back (an error's abort restores it too).
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(user, context | pg_sys::SECURITY_NOFORCE_RLS as i32);
    }
    let guard = ContextRestore { user, context };
    let result = f();
    drop(guard);
    result
}

/// Puts back the user and security context saved before a switch.
struct ContextRestore {
    user: pg_sys::Oid,
    context: i32,
}

impl Drop for ContextRestore {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: restores what was saved before the switch.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) };
    }
}

/// Run `f` as the extension's owner: for relay's registry, which application and
/// migration roles have no privilege on.
pub fn as_extension_owner<R>(f: impl FnOnce() -> R) -> R {
    as_role(extension_owner(), 0, f)
}
