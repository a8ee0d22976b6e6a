//! Single-use tenant tokens: a replay cache in shared memory.
//!
//! A signed token travels in the statement that spends it (`SELECT
//! relay_set_tenant('acme', '<token>')`), and other sessions of the same login role can
//! read that text in `pg_stat_activity` while the request runs or idles in its
//! transaction. So a token is accepted once: its signature's first 8 bytes are kept,
//! with its expiry, in a fixed table in shared memory (open addressing, a bounded
//! probe), until it expires; a second use is refused like any bad token. The table is
//! sized at server start (`relay.token_replay_slots`) and needs the library in
//! `shared_preload_libraries`; `relay.token_reuse = on` turns the check off.
//!
//! The table logic is pure and unit-tested (`Table`); `use_once` runs it over the
//! shared memory under one LWLock.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use std::cell::Cell;

/// How many slots a key may be probed over before the table counts as full.
const PROBES: usize = 64;

/// One remembered token: the first 8 bytes of its signature, and until when
/// (unix seconds) it would be valid. A slot whose expiry has passed is free.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Slot {
    key: u64,
    expiry: i64,
}

/// What using a token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Use {
    /// First use: remembered until it expires.
    First,
    /// Used before and not expired: refuse it.
    Replayed,
    /// No free slot within the probe window: refuse (fail closed).
    Full,
}

/// The replay table over a slice of slots (shared memory, or a Vec in tests).
pub struct Table<'a> {
    pub slots: &'a mut [Slot],
}

impl Table<'_> {
    /// Record the use of token `key` valid until `expiry`, at time `now`.
    pub fn use_once(&mut self, key: u64, expiry: i64, now: i64) -> Use {
        let n = self.slots.len();
        if n == 0 {
            return Use::Full;
        }
        let start = (key as usize) % n;
        let mut free = None;
        for i in 0..PROBES.min(n) {
            let at = (start + i) % n;
            let slot = self.slots[at];
            if slot.expiry > now {
                if slot.key == key {
                    return Use::Replayed;
                }
            } else if free.is_none() {
                free = Some(at);
            }
        }
        match free {
            Some(at) => {
                self.slots[at] = Slot { key, expiry };
                Use::First
            }
            None => Use::Full,
        }
    }
}

/// `relay.token_replay_slots`: slots of the replay cache (16 bytes each), fixed at
/// server start.
pub static SLOTS: GucSetting<i32> = GucSetting::<i32>::new(262_144);
/// `relay.token_reuse`: accept a token more than once (off: single-use).
pub static REUSE: GucSetting<bool> = GucSetting::<bool>::new(false);

static mut TABLE: *mut Slot = std::ptr::null_mut();
static mut TABLE_LEN: usize = 0;
static mut LOCK: *mut pg_sys::LWLock = std::ptr::null_mut();
static mut PREV_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP: pg_sys::shmem_startup_hook_type = None;

thread_local! {
    /// The cache was requested at server start (the library is preloaded).
    static REQUESTED: Cell<bool> = const { Cell::new(false) };
}

const NAME: &std::ffi::CStr = c"relay_token_replay";

/// Called from `_PG_init`: the settings, and the shared memory when the library is
/// being preloaded at server start.
pub fn register() {
    // SAFETY: reads a flag PostgreSQL sets while it loads shared_preload_libraries.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    // A server-start setting can only be defined while the library is preloaded
    // (PostgreSQL stops a backend that defines one later); loaded later, the library
    // has no cache and single-use tokens are refused (token_replay_unavailable).
    if preloading {
        GucRegistry::define_int_guc(
            c"relay.token_replay_slots",
            c"Slots of relay's replay cache of used tenant tokens (16 bytes each; set at server start).",
            c"A used token is remembered until it expires: slots / token lifetime is the most tokens per second signed mode accepts.",
            &SLOTS,
            1024,
            1 << 26,
            GucContext::Postmaster,
            GucFlags::default(),
        );
    }
    GucRegistry::define_bool_guc(
        c"relay.token_reuse",
        c"Accept a tenant token more than once until it expires (off: each token is single-use).",
        c"Superuser-only. On, a token read from pg_stat_activity can be replayed by another session until it expires.",
        &REUSE,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SAFETY: _PG_init of a preloaded library runs once in the postmaster, before
    // shared memory is sized; the hooks chain to the previous ones.
    unsafe {
        if preloading {
            REQUESTED.with(|r| r.set(true));
            PREV_REQUEST = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(request);
            PREV_STARTUP = pg_sys::shmem_startup_hook;
            pg_sys::shmem_startup_hook = Some(startup);
        }
    }
}

fn table_bytes() -> usize {
    SLOTS.get().max(1) as usize * std::mem::size_of::<Slot>()
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn request() {
    // SAFETY: the postmaster's shmem request phase.
    unsafe {
        if let Some(prev) = PREV_REQUEST {
            pg_sys::ffi::pg_guard_ffi_boundary(|| prev());
        }
        pg_sys::RequestAddinShmemSpace(table_bytes());
        pg_sys::RequestNamedLWLockTranche(NAME.as_ptr(), 1);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn startup() {
    // SAFETY: shared memory initialisation under AddinShmemInitLock (the 21st of
    // the main LWLocks, as pgrx's own shared memory does); a new table is zeroed
    // (every slot free).
    unsafe {
        if let Some(prev) = PREV_STARTUP {
            pg_sys::ffi::pg_guard_ffi_boundary(|| prev());
        }
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let bytes = table_bytes();
        let table = pg_sys::ShmemInitStruct(NAME.as_ptr(), bytes, &mut found).cast::<Slot>();
        if !found {
            std::ptr::write_bytes(table.cast::<u8>(), 0, bytes);
        }
        TABLE = table;
        TABLE_LEN = bytes / std::mem::size_of::<Slot>();
        LOCK = &raw mut (*pg_sys::GetNamedLWLockTranche(NAME.as_ptr())).lock;
        pg_sys::LWLockRelease(init_lock);
    }
}

/// What checking a token for single use found.
pub enum Check {
    Ok,
    Replayed,
    Full,
    /// The library was not preloaded: there is no shared cache to check against.
    Unavailable,
}

/// Spend token `signature` (its raw bytes) valid until `expiry`, now `now`.
pub fn spend(signature: &[u8], expiry: i64, now: i64) -> Check {
    if REUSE.get() {
        return Check::Ok;
    }
    // SAFETY: TABLE, TABLE_LEN and LOCK are set once by `startup` in the postmaster
    // (inherited by every backend) and never change; the table is read and written
    // under LOCK only.
    unsafe {
        if !REQUESTED.with(Cell::get) || TABLE.is_null() || LOCK.is_null() {
            return Check::Unavailable;
        }
        let mut key = [0u8; 8];
        key.copy_from_slice(&signature[..8]);
        pg_sys::LWLockAcquire(LOCK, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let slots = std::slice::from_raw_parts_mut(TABLE, TABLE_LEN);
        let used = Table { slots }.use_once(u64::from_le_bytes(key), expiry, now);
        pg_sys::LWLockRelease(LOCK);
        match used {
            Use::First => Check::Ok,
            Use::Replayed => Check::Replayed,
            Use::Full => Check::Full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_accepted_once_until_it_expires() {
        let mut slots = vec![Slot::default(); 1024];
        let mut t = Table { slots: &mut slots };
        assert_eq!(t.use_once(42, 1_000, 500), Use::First);
        assert_eq!(t.use_once(42, 1_000, 600), Use::Replayed);
        assert_eq!(t.use_once(43, 1_000, 600), Use::First, "another token");
        // once expired, its slot is free again (an expired token never verifies anyway)
        assert_eq!(t.use_once(42, 2_000, 1_000), Use::First);
    }

    #[test]
    fn colliding_keys_probe_on_and_a_full_window_fails_closed() {
        let mut slots = vec![Slot::default(); 128];
        let mut t = Table { slots: &mut slots };
        // keys 5, 5+128, 5+256, ... all start at slot 5
        for i in 0..PROBES as u64 {
            assert_eq!(t.use_once(5 + 128 * i, 100, 0), Use::First, "{i}");
        }
        assert_eq!(t.use_once(5 + 128 * PROBES as u64, 100, 0), Use::Full);
        // a replay is found anywhere in the window
        assert_eq!(t.use_once(5 + 128 * 63, 100, 0), Use::Replayed);
        // when they expire, the window frees up
        assert_eq!(t.use_once(5 + 128 * PROBES as u64, 200, 100), Use::First);
    }

    #[test]
    fn a_replay_behind_a_freed_slot_is_still_found() {
        let mut slots = vec![Slot::default(); 64];
        let mut t = Table { slots: &mut slots };
        assert_eq!(t.use_once(1, 50, 0), Use::First); // slot 1
        assert_eq!(t.use_once(65, 100, 0), Use::First); // slot 2 (1 taken)
                                                        // slot 1 expires at 50; token 65 is still remembered in slot 2
        assert_eq!(t.use_once(65, 100, 60), Use::Replayed);
    }
}
