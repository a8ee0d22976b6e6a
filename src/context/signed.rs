//! Signed tenant context (opt-in): in `relay.context_mode = signed` the tenant can only
//! be set with a token the trusted tier minted, so SQL injected into the application
//! cannot switch to another tenant.
//!
//! A token is `<expiry epoch seconds>[:<nonce hex>].<hex HMAC-SHA256(key, tenant || '.'
//! || expiry[:nonce])>` (relay_tenant_token adds an 8-byte random nonce, so tokens
//! minted in the same second differ; each is spent once, token_replay.rs). The part
//! before the first '.' has no '.' and is the last part of the signed message, so a
//! message splits into (tenant, expiry part) one way only.
//!
//! `app.current_tenant_id` and `app.current_actor_id` are defined here as real
//! settings with a check hook: in signed mode a direct SET / set_config by a role
//! subject to row level security fails with 42501; relay_set_tenant sets them through
//! the same hook with a backend-local flag no SQL can raise. Clearing (RESET, '') is
//! always allowed: it can only take rows away.

use crate::context::token_key::MIN_KEY_LEN;
use crate::model::errors;
use hmac::{Hmac, Mac};
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;
use sha2::Sha256;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::ffi::{CStr, CString};

#[derive(Debug, Clone, Copy, PartialEq, Eq, pgrx::PostgresGucEnum)]
pub enum ContextMode {
    /// Any role may set app.current_tenant_id (as before).
    #[name = c"open"]
    Open,
    /// Only relay_set_tenant(tenant, token) sets it for roles subject to RLS.
    #[name = c"signed"]
    Signed,
}

pub static CONTEXT_MODE: GucSetting<ContextMode> =
    GucSetting::<ContextMode>::new(ContextMode::Open);
pub static TOKEN_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static TENANT_SETTING: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static ACTOR_SETTING: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// The token relay_set_tenant(tenant, token) checked, SET LOCAL before the tenant when
/// the tables are distributed with Citus: Citus forwards both SETs to the workers,
/// where the token (verified again there) vouches for the tenant.
static TOKEN_SETTING: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// A setting's value as PostgreSQL keeps it in our variable (no lookup by name: the
/// capture trigger asks once per statement), None when unset or `''`.
fn value_of(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
}

/// app.current_tenant_id, None when unset or `''`. In signed mode only a value that
/// was set while the server was in signed mode, through its checks, counts: a tenant
/// a session set in open mode is dropped when the server switches to signed mode.
pub fn tenant_setting() -> Option<String> {
    let value = value_of(&TENANT_SETTING)?;
    if is_signed() && !VOUCHED.with(|v| v.borrow().contains(&value)) {
        return None;
    }
    Some(value)
}

/// app.current_actor_id, None when unset or `''`.
pub fn actor_setting() -> Option<String> {
    value_of(&ACTOR_SETTING)
}

thread_local! {
    /// Raised only while relay itself sets the tenant or actor.
    static RELAY_SETTING: Cell<bool> = const { Cell::new(false) };
    /// The tenant value the check hook just let through in signed mode; the assign
    /// hook that follows adds it to VOUCHED.
    static PENDING: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Tenant values this session set while in signed mode, through its checks (a
    /// value restored at the end of a transaction or savepoint was one of them).
    static VOUCHED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

thread_local! {
    /// How many SET / RESET statements are running (relay's ProcessUtility hook).
    static SET_STATEMENTS: Cell<u32> = const { Cell::new(0) };
}

/// A SET statement is running until this is dropped.
pub struct SetStatement;
impl Drop for SetStatement {
    fn drop(&mut self) {
        SET_STATEMENTS.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// Note that `stmt` (a utility statement) is a SET, for the tenant's check hook: on
/// Citus only a SET statement reaches the workers.
///
/// # Safety
/// `stmt` is the utility statement PostgreSQL passed to ProcessUtility.
pub unsafe fn note_set_statement(stmt: *mut pg_sys::Node) -> Option<SetStatement> {
    // SAFETY: reads the node's tag.
    let is_set = unsafe { !stmt.is_null() && (*stmt).type_ == pg_sys::NodeTag::T_VariableSetStmt };
    is_set.then(|| {
        SET_STATEMENTS.with(|c| c.set(c.get() + 1));
        SetStatement
    })
}

struct Lowered;
impl Drop for Lowered {
    fn drop(&mut self) {
        RELAY_SETTING.with(|f| f.set(false));
    }
}

/// Run `f` (which sets app.current_tenant_id / app.current_actor_id) as relay.
pub fn as_relay_setting<R>(f: impl FnOnce() -> R) -> R {
    RELAY_SETTING.with(|flag| flag.set(true));
    let _lower = Lowered;
    f()
}

/// relay.context_mode is signed (the HINTs of the no-tenant errors say how to set it).
pub fn is_signed() -> bool {
    mode() == ContextMode::Signed
}

pub fn mode() -> ContextMode {
    CONTEXT_MODE.get()
}

/// Called from `_PG_init`.
pub fn register_gucs() {
    // SAFETY: the hooks are #[pg_guard]ed and only read their arguments.
    unsafe {
        GucRegistry::define_enum_guc_with_hooks(
            c"relay.context_mode",
            c"open: any role may set app.current_tenant_id. signed: only relay_set_tenant(tenant, token) may, for roles subject to row level security.",
            c"Superuser-only. Signed mode needs relay_tenancy in shared_preload_libraries and relay.token_key_file.",
            &CONTEXT_MODE,
            GucContext::Suset,
            GucFlags::default(),
            None,
            Some(assign_context_mode),
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"relay.token_key",
            c"Secret key of relay's tenant tokens (HMAC-SHA256), at least 32 characters.",
            c"Superuser-only and hidden from other roles. Set it in postgresql.conf or with ALTER SYSTEM, not with ALTER DATABASE/ROLE SET (pg_db_role_setting is readable by every role).",
            &TOKEN_KEY,
            GucContext::Suset,
            GucFlags::SUPERUSER_ONLY,
            Some(check_token_key),
            None,
            Some(show_token_key),
        );
        GucRegistry::define_string_guc_with_hooks(
            c"app.current_tenant_id",
            c"The tenant of the current transaction or session (relay_tenancy).",
            c"Set it with relay_set_tenant(); in relay.context_mode = signed only relay_set_tenant(tenant, token) may set it for roles subject to row level security.",
            &TENANT_SETTING,
            GucContext::Userset,
            GucFlags::default(),
            Some(check_tenant_setting),
            Some(assign_tenant),
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"app.current_actor_id",
            c"Who is acting, recorded in audit entries (relay_tenancy).",
            c"In relay.context_mode = signed only relay_set_tenant(tenant, token, actor) may set it for roles subject to row level security.",
            &ACTOR_SETTING,
            GucContext::Userset,
            GucFlags::default(),
            Some(check_actor_setting),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"relay.tenant_token",
            c"The tenant token of the current transaction, forwarded to Citus workers (relay_tenancy).",
            c"Set by relay_set_tenant(tenant, token) when relay's tables are distributed with Citus; on a worker in signed mode a valid token for the tenant lets the forwarded tenant through.",
            &TOKEN_SETTING,
            GucContext::Userset,
            GucFlags::NO_SHOW_ALL,
            None,
            None,
            None,
        );
    }
}

/// Set the message parts of a failed check; PostgreSQL reports them with the code.
unsafe fn check_failed(code: pgrx::PgSqlErrorCode, detail: &str, hint: &str) -> bool {
    unsafe {
        pg_sys::GUC_check_errcode(code as i32);
        let detail = CString::new(detail).unwrap_or_default();
        let hint = CString::new(hint).unwrap_or_default();
        pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(detail.as_ptr());
        pg_sys::GUC_check_errhint_string = pg_sys::pstrdup(hint.as_ptr());
    }
    false
}

#[pg_guard]
unsafe extern "C-unwind" fn check_token_key(
    newval: *mut *mut std::ffi::c_char,
    _extra: *mut *mut std::ffi::c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: PostgreSQL passes a pointer to the proposed value (possibly NULL).
    let len = unsafe {
        if newval.is_null() || (*newval).is_null() {
            0
        } else {
            CStr::from_ptr(*newval).to_bytes().len()
        }
    };
    if len == 0 || len >= MIN_KEY_LEN {
        return true;
    }
    unsafe {
        check_failed(
            pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            &format!("The key has {len} characters; relay.token_key needs at least {MIN_KEY_LEN}."),
            "Generate one with: openssl rand -hex 32",
        )
    }
}

/// SHOW relay.token_key never prints the key, even to superusers (logs, screenshots).
#[pg_guard]
unsafe extern "C-unwind" fn show_token_key() -> *const std::ffi::c_char {
    if TOKEN_KEY.get().is_some_and(|k| !k.as_bytes().is_empty()) {
        c"(set)".as_ptr()
    } else {
        c"".as_ptr()
    }
}

/// Whether a value of app.current_tenant_id / app.current_actor_id may be set now.
/// Pure: the check hook gathers the facts.
pub fn setting_allowed(
    mode: ContextMode,
    clearing: bool,
    by_relay: bool,
    source: pg_sys::GucSource::Type,
    parallel_worker: bool,
    sees_every_tenant: impl FnOnce() -> bool,
) -> bool {
    use pg_sys::GucSource::*;
    mode == ContextMode::Open
        || clearing
        || by_relay
        || parallel_worker
        // postgresql.conf, ALTER SYSTEM, the server's command line: superuser territory
        || source <= PGC_S_GLOBAL
        // SET, set_config, a function's SET clause, ALTER ROLE/DATABASE ... SET checks
        || (matches!(source, PGC_S_INTERACTIVE | PGC_S_TEST | PGC_S_SESSION | PGC_S_OVERRIDE) && sees_every_tenant())
}

/// app.current_tenant_id may be set to the proposed value: see `setting_allowed`; a
/// token for that very tenant in relay.tenant_token vouches for it too.
#[pg_guard]
unsafe extern "C-unwind" fn check_tenant_setting(
    newval: *mut *mut std::ffi::c_char,
    _extra: *mut *mut std::ffi::c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    let proposed = unsafe { proposed_value(newval) };
    if !proposed.is_empty() && unsafe { set_config_on_citus(source) } {
        return unsafe {
            check_failed(
                pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "relay's tables are distributed with Citus, which forwards the tenant to the workers only from a SET LOCAL statement: set_config() would change it on this node alone, and the workers would filter by another tenant.",
                "Call SELECT relay_set_tenant('<tenant id>') (or SET LOCAL app.current_tenant_id = '<tenant id>') inside the transaction.",
            )
        };
    }
    let allowed = unsafe { check_context_setting(proposed.is_empty(), &proposed, source) };
    if allowed && is_signed() && !proposed.is_empty() {
        PENDING.with(|p| *p.borrow_mut() = Some(proposed));
    }
    allowed
}

/// app.current_actor_id: the same, a token vouching for the tenant already set.
#[pg_guard]
unsafe extern "C-unwind" fn check_actor_setting(
    newval: *mut *mut std::ffi::c_char,
    _extra: *mut *mut std::ffi::c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    let clearing = unsafe { proposed_value(newval) }.is_empty();
    unsafe { check_context_setting(clearing, &tenant_setting().unwrap_or_default(), source) }
}

/// The tenant is being set at run time other than by a SET statement or by relay
/// (set_config(), a function's SET clause), on a node where relay's tenants is a
/// Citus table: that value would not reach the workers.
unsafe fn set_config_on_citus(source: pg_sys::GucSource::Type) -> bool {
    source == pg_sys::GucSource::PGC_S_SESSION
        && SET_STATEMENTS.with(Cell::get) == 0
        && !RELAY_SETTING.with(Cell::get)
        && !unsafe { pg_sys::InitializingParallelWorker }
        && unsafe { pg_sys::IsTransactionState() }
        && crate::pg::probes::relay_with_citus_here()
        && crate::pg::probes::tenants_in_citus()
}

/// A check hook's proposed string value, `''` for NULL.
unsafe fn proposed_value(newval: *mut *mut std::ffi::c_char) -> String {
    // SAFETY: PostgreSQL passes a pointer to the proposed value (possibly NULL).
    unsafe {
        if newval.is_null() || (*newval).is_null() {
            String::new()
        } else {
            CStr::from_ptr(*newval).to_string_lossy().into_owned()
        }
    }
}

/// `token_tenant`: the tenant a token in relay.tenant_token must be for to vouch.
unsafe fn check_context_setting(
    clearing: bool,
    token_tenant: &str,
    source: pg_sys::GucSource::Type,
) -> bool {
    let by_relay = RELAY_SETTING.with(Cell::get);
    let worker = unsafe { pg_sys::InitializingParallelWorker };
    // Role lookups need a transaction; outside one (session start) nobody is trusted.
    let trusted = || {
        token_vouches(token_tenant)
            || (unsafe { pg_sys::IsTransactionState() }
                && crate::pg::privilege::role_sees_every_tenant())
    };
    if setting_allowed(mode(), clearing, by_relay, source, worker, trusted) {
        return true;
    }
    // A genuine token that expired (a signed transaction that outlived it, reaching a
    // new Citus worker connection): say so. Only for a token whose signature holds, so
    // nothing is told about a forged one.
    if expired_genuine_token(token_tenant) {
        return unsafe {
            check_failed(
                pgrx::PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
                &format!("the token vouching for tenant {token_tenant} expired before this statement: the transaction outlived its token."),
                "Mint tokens that outlive the longest transaction (relay_tenant_token(tenant, valid_for)), or start a new transaction with a new token.",
            )
        };
    }
    unsafe {
        check_failed(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "relay.context_mode is signed: the tenant (and actor) of a role subject to row level security is set only by relay_set_tenant(tenant, token).",
            "Call SELECT relay_set_tenant('<tenant id>', '<token>') with a token from relay_tenant_token() or your trusted tier.",
        )
    }
}

/// relay.tenant_token holds a valid token for `tenant`, an active tenant (a Citus
/// worker receiving the coordinator's forwarded settings; the same checks as
/// relay_set_tenant(tenant, token)).
fn token_vouches(tenant: &str) -> bool {
    let token = value_of(&TOKEN_SETTING);
    let signed = match (token, current_key()) {
        (Some(token), Some(Ok(key))) if !tenant.is_empty() => {
            verify(&key, tenant, &token, now_epoch())
        }
        _ => false,
    };
    // SAFETY: reads the transaction state; the lookup needs a transaction.
    signed
        && unsafe { pg_sys::IsTransactionState() }
        && crate::pg::probes::tenant_is_active(tenant) == Some(true)
}

/// The token in relay.tenant_token is signed for `tenant` with this node's key and has
/// expired.
fn expired_genuine_token(tenant: &str) -> bool {
    let (Some(token), Some(Ok(key))) = (value_of(&TOKEN_SETTING), current_key()) else {
        return false;
    };
    parse(&token).is_some_and(|(expiry, _, _)| {
        expiry <= now_epoch() && verify(&key, tenant, &token, expiry - 1)
    })
}

thread_local! {
    /// A plan made since the tenant last changed holds the tenant as a constant
    /// (routing.rs adds it for Citus).
    static PLANS_HOLD_TENANT: Cell<bool> = const { Cell::new(false) };
}

/// A plan now holds the session tenant as a constant (routing.rs).
pub fn plans_hold_tenant() {
    PLANS_HOLD_TENANT.with(|b| b.set(true));
}

/// app.current_tenant_id is about to change from `old` to `new`: plans that hold the
/// old tenant must not run again.
fn tenant_changing(old: Option<&str>, new: Option<&str>) {
    if old != new && PLANS_HOLD_TENANT.with(|b| b.replace(false)) {
        // SAFETY: marks every cached plan of this backend invalid; no catalog access.
        unsafe { pg_sys::ResetPlanCache() };
    }
}

/// Forward the token with the tenant (Citus): SET LOCAL before the tenant's own SET.
pub fn forward_token(token: &str) {
    as_relay_setting(|| {
        Spi::run(&format!(
            "SET LOCAL relay.tenant_token = {}",
            crate::model::quote::quote_literal(token)
        ))
        .expect("SET")
    });
}

/// Entering signed mode: no tenant value set before counts any more (a session that
/// set one in open mode, or in an earlier signed period, must set it again).
#[pg_guard]
unsafe extern "C-unwind" fn assign_context_mode(newval: i32, _extra: *mut std::ffi::c_void) {
    if newval == ContextMode::Signed as i32 && CONTEXT_MODE.get() != ContextMode::Signed {
        VOUCHED.with(|v| v.borrow_mut().clear());
    }
}

/// The tenant changes: plans that hold the old one as a constant (routing) go.
#[pg_guard]
unsafe extern "C-unwind" fn assign_tenant(
    newval: *const std::ffi::c_char,
    _extra: *mut std::ffi::c_void,
) {
    // SAFETY: PostgreSQL passes the new value (possibly NULL); the old one is still ours.
    let new = unsafe {
        (!newval.is_null())
            .then(|| CStr::from_ptr(newval).to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(pending) = PENDING.with(|p| p.borrow_mut().take()) {
        if new.as_deref() == Some(pending.as_str()) {
            VOUCHED.with(|v| v.borrow_mut().insert(pending));
        }
    }
    tenant_changing(tenant_setting().as_deref(), new.as_deref());
}

/// HMAC-SHA256 of `message` under `key`.
pub fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(message);
    m.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A token for `tenant`, valid until `expiry` (unix seconds).
pub fn mint(key: &[u8], tenant: &str, expiry: i64) -> String {
    sign(key, tenant, &expiry.to_string())
}

/// A token for `tenant` valid until `expiry`, made unique by `nonce`: the signed
/// part is `<expiry>:<nonce in hex>`, so two tokens minted in the same second for the
/// same tenant differ (each is single-use).
pub fn mint_unique(key: &[u8], tenant: &str, expiry: i64, nonce: &[u8]) -> String {
    sign(key, tenant, &format!("{expiry}:{}", hex(nonce)))
}

/// `<part>.<hex HMAC(key, tenant.part)>`.
fn sign(key: &[u8], tenant: &str, part: &str) -> String {
    format!(
        "{part}.{}",
        hex(&mac(key, signed_message(tenant, part).as_bytes()))
    )
}

/// What a token signs: the tenant, '.', and the part before the signature.
fn signed_message(tenant: &str, part: &str) -> String {
    format!("{tenant}.{part}")
}

/// A token's parts: its expiry (unix seconds), its signature's 32 bytes, and the part
/// before the signature that was signed (`<expiry>` or `<expiry>:<nonce hex>`). None
/// when it is not of the form `<digits>[:<hex>].<64 hex digits>`.
pub fn parse(token: &str) -> Option<(i64, [u8; 32], &str)> {
    let (part, signature) = token.split_once('.')?;
    let (expiry, nonce) = part.split_once(':').unwrap_or((part, ""));
    if expiry.is_empty()
        || !expiry.bytes().all(|b| b.is_ascii_digit())
        || expiry.len() > 18
        || signature.len() != 64
    {
        return None;
    }
    if nonce.len() > 64
        || !nonce.bytes().all(|b| b.is_ascii_hexdigit())
        || (part.contains(':') && nonce.is_empty())
    {
        return None;
    }
    let expiry = expiry.parse::<i64>().ok()?;
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(signature.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((expiry, bytes, part))
}

/// The token is well formed, unexpired at `now` and signed for `tenant`. Compares in
/// constant time.
pub fn verify(key: &[u8], tenant: &str, token: &str, now: i64) -> bool {
    let Some((expiry, signature, part)) = parse(token) else {
        return false;
    };
    if expiry <= now {
        return false;
    }
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(signed_message(tenant, part).as_bytes());
    m.verify_slice(&signature).is_ok()
}

/// The key: from relay.token_key_file when one is configured (token_key.rs), else
/// from relay.token_key (kept for compatibility; relay_security_check fails on it).
/// None when neither is set; the file's problem when it cannot be used.
pub fn current_key() -> Option<Result<Vec<u8>, String>> {
    if let Some(from_file) = crate::context::token_key::read() {
        let path = crate::context::token_key::path().unwrap_or_default();
        return Some(from_file.map_err(|p| p.describe(&path)));
    }
    TOKEN_KEY
        .get()
        .filter(|k| !k.as_bytes().is_empty())
        .map(|k| Ok(k.as_bytes().to_vec()))
}

/// The key, or a 55000 error naming the setting (or the file's problem).
fn key() -> Vec<u8> {
    match current_key() {
        Some(Ok(k)) => k,
        Some(Err(problem)) => errors::token_key_file_unusable(&problem),
        None => errors::token_key_missing(),
    }
}

/// Unix time now, in seconds.
pub fn now_epoch() -> i64 {
    // SAFETY: reads the clock.
    let ts = unsafe { pg_sys::GetCurrentTimestamp() };
    ts / 1_000_000 + 946_684_800
}

/// Check a token for `tenant`; raise the one answer every failure gets.
pub fn require_valid_token(tenant: &str, token: &str) {
    if !verify(&key(), tenant, token, now_epoch()) {
        errors::token_rejected();
    }
}

/// Spend a valid token: single-use unless relay.token_reuse is on (token_replay.rs).
/// A replay gets the same answer as any bad token.
pub fn spend_token(token: &str) {
    let Some((expiry, signature, _)) = parse(token) else {
        errors::token_rejected()
    };
    match crate::context::token_replay::spend(&signature, expiry, now_epoch()) {
        crate::context::token_replay::Check::Ok => {}
        crate::context::token_replay::Check::Replayed => errors::token_rejected(),
        crate::context::token_replay::Check::Full => errors::token_replay_full(),
        crate::context::token_replay::Check::Unavailable => errors::token_replay_unavailable(),
    }
}

/// Mint a token for `tenant`, valid for `valid_for` (default 1 minute: a token is
/// spent on the request it was minted for). For the
/// trusted tier and tests: only roles that may read relay.token_key (superusers and
/// members of pg_read_all_settings) may call it, and PUBLIC has no EXECUTE on it.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_tenant_token(
    tenant: Option<String>,
    valid_for: default!(Option<pgrx::datum::Interval>, "'1 minute'"),
) -> String {
    // SAFETY: role lookups in the syscache.
    let may_read_key = unsafe {
        pg_sys::superuser()
            || pg_sys::has_privs_of_role(
                pg_sys::GetUserId(),
                pg_sys::Oid::from(pg_sys::ROLE_PG_READ_ALL_SETTINGS),
            )
    };
    if !may_read_key {
        errors::token_minting_refused();
    }
    let tenant = tenant.unwrap_or_else(|| errors::null_argument("relay_tenant_token", "tenant"));
    let valid_for =
        valid_for.unwrap_or_else(|| errors::null_argument("relay_tenant_token", "valid_for"));
    let seconds = valid_for.micros() / 1_000_000
        + i64::from(valid_for.days()) * 86_400
        + i64::from(valid_for.months()) * 30 * 86_400;
    if seconds <= 0 {
        errors::invalid_token_lifetime(&format!("{seconds} seconds"));
    }
    let mut nonce = [0u8; 8];
    // SAFETY: fills the buffer from the server's strong random source.
    if !unsafe { pg_sys::pg_strong_random(nonce.as_mut_ptr().cast(), nonce.len()) } {
        errors::no_randomness();
    }
    mint_unique(&key(), &tenant, now_epoch() + seconds, &nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        assert_eq!(
            hex(&mac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_minted_token_verifies_for_its_tenant_only_and_until_it_expires() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = mint(key, "acme", 2_000_000_000);
        assert!(token.starts_with("2000000000."));
        assert!(verify(key, "acme", &token, 1_999_999_999));
        assert!(
            !verify(key, "acme", &token, 2_000_000_000),
            "expired at its expiry"
        );
        assert!(!verify(key, "globex", &token, 1_000), "another tenant");
        assert!(!verify(
            b"another key, also 32 characters!",
            "acme",
            &token,
            1_000
        ));
    }

    #[test]
    fn the_message_splits_one_way_only() {
        let key = b"0123456789abcdef0123456789abcdef";
        // a token for tenant "a" expiring at 123 signs "a.123"; tenant "a.1" with an
        // expiry of 23 would sign "a.1.23": different message, so no reuse
        let token = mint(key, "a", 123);
        let sig = token.split_once('.').unwrap().1;
        assert!(!verify(key, "a.1", &format!("23.{sig}"), 0));
        assert!(verify(key, "a", &token, 0));
    }

    #[test]
    fn tokens_with_a_nonce_are_unique_and_sign_the_nonce() {
        let key = b"0123456789abcdef0123456789abcdef";
        let one = mint_unique(key, "acme", 2_000_000_000, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let two = mint_unique(key, "acme", 2_000_000_000, &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert!(one.starts_with("2000000000:0102030405060708."));
        assert_ne!(one, two);
        assert!(verify(key, "acme", &one, 1_000) && verify(key, "acme", &two, 1_000));
        assert!(!verify(key, "acme", &one, 2_000_000_000), "expired");
        // the nonce is signed: changing it breaks the token
        assert!(!verify(key, "acme", &one.replacen(":01", ":ff", 1), 1_000));
        // an empty or non-hex nonce is malformed
        let sig = one.split_once('.').unwrap().1;
        assert!(!verify(key, "acme", &format!("2000000000:.{sig}"), 1_000));
        assert!(!verify(
            key,
            "acme",
            &format!("2000000000:xyz.{sig}"),
            1_000
        ));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let key = b"0123456789abcdef0123456789abcdef";
        let good = mint(key, "acme", 2_000_000_000);
        let sig = good.split_once('.').unwrap().1;
        for bad in [
            "",
            ".",
            "abc",
            &format!("-1.{sig}"),
            &format!("+2000000000.{sig}"),
            &format!("2000000000.{}", &sig[..63]),
            &format!("2000000000.{sig}0"),
            &format!(
                "2000000000.{}",
                sig.replace(|c: char| c.is_ascii_digit(), "z")
            ),
            &format!("99999999999999999999.{sig}"),
        ] {
            assert!(!verify(key, "acme", bad, 0), "{bad}");
        }
    }

    #[test]
    fn who_may_set_the_tenant() {
        use pg_sys::GucSource::*;
        let yes = || true;
        let no = || false;
        assert!(setting_allowed(
            ContextMode::Open,
            false,
            false,
            PGC_S_SESSION,
            false,
            no
        ));
        assert!(!setting_allowed(
            ContextMode::Signed,
            false,
            false,
            PGC_S_SESSION,
            false,
            no
        ));
        assert!(
            setting_allowed(ContextMode::Signed, true, false, PGC_S_SESSION, false, no),
            "clearing"
        );
        assert!(
            setting_allowed(ContextMode::Signed, false, true, PGC_S_SESSION, false, no),
            "relay"
        );
        assert!(
            setting_allowed(ContextMode::Signed, false, false, PGC_S_SESSION, false, yes),
            "bypassrls"
        );
        assert!(
            setting_allowed(ContextMode::Signed, false, false, PGC_S_FILE, false, no),
            "postgresql.conf"
        );
        assert!(
            setting_allowed(ContextMode::Signed, false, false, PGC_S_SESSION, true, no),
            "parallel worker"
        );
        for from_client in [
            PGC_S_CLIENT,
            PGC_S_USER,
            PGC_S_DATABASE,
            PGC_S_DATABASE_USER,
        ] {
            assert!(
                !setting_allowed(ContextMode::Signed, false, false, from_client, false, yes),
                "{from_client}"
            );
        }
    }
}
