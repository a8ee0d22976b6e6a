//! Where signed mode's key comes from: a file (`relay.token_key_file`), never a
//! setting's value.
//!
//! A key kept in a setting leaks: PostgreSQL logs `parameter "relay.token_key" changed
//! to "<key>"` on every reload, and `ALTER SYSTEM SET relay.token_key = ...` is kept
//! verbatim by pg_stat_statements, which `pg_monitor` reads. The file names only a
//! path. It must belong to the server's operating-system user, be readable by nobody
//! else (mode 0600 or 0400), and hold at least 32 characters (surrounding whitespace,
//! a trailing newline, are not part of the key). Each backend reads it when first
//! needed and again whenever its size or modification time changes (a rotated key
//! takes effect without a reload). `relay.token_key` still works, for compatibility,
//! and `relay_security_check` fails while it is set.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::cell::RefCell;
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

/// Shortest key accepted: 32 characters (a 128-bit key written in hex).
pub const MIN_KEY_LEN: usize = 32;

/// `relay.token_key_file`: path of the file holding the key.
pub static KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Why the key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Unreadable(String),
    NotOwned { owner: u32, server: u32 },
    OpenToOthers { mode: u32 },
    TooShort { len: usize },
}

impl Problem {
    pub fn describe(&self, path: &str) -> String {
        match self {
            Problem::Unreadable(why) => {
                format!("relay.token_key_file {path} cannot be read: {why}")
            }
            Problem::NotOwned { owner, server } => {
                format!("relay.token_key_file {path} belongs to uid {owner}, not to the server's user (uid {server})")
            }
            Problem::OpenToOthers { mode } => {
                format!("relay.token_key_file {path} has mode {mode:04o}: group or others may read it (it must be 0600 or 0400)")
            }
            Problem::TooShort { len } => {
                format!("relay.token_key_file {path} holds {len} characters; the key needs at least {MIN_KEY_LEN}")
            }
        }
    }
}

/// The key a file's contents hold, checked against its owner and mode. Pure.
pub fn key_from(contents: &[u8], owner: u32, server: u32, mode: u32) -> Result<Vec<u8>, Problem> {
    if owner != server {
        return Err(Problem::NotOwned { owner, server });
    }
    if mode & 0o077 != 0 {
        return Err(Problem::OpenToOthers {
            mode: mode & 0o7777,
        });
    }
    let key = contents.trim_ascii();
    if key.len() < MIN_KEY_LEN {
        return Err(Problem::TooShort { len: key.len() });
    }
    Ok(key.to_vec())
}

/// The last read: path, size, modification time, and the key or the problem found.
struct LastRead {
    path: String,
    size: u64,
    mtime: Option<SystemTime>,
    result: Result<Vec<u8>, Problem>,
}

thread_local! {
    static CACHE: RefCell<Option<LastRead>> = const { RefCell::new(None) };
}

/// Called from `_PG_init`.
pub fn register() {
    GucRegistry::define_string_guc(
        c"relay.token_key_file",
        c"File holding signed mode's key (owned by the server's user, mode 0600, at least 32 characters).",
        c"The way to give relay its key: a key in a setting is written to the server log on reload and kept by pg_stat_statements.",
        &KEY_FILE,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
}

/// The configured key file's path, None when none is set.
pub fn path() -> Option<String> {
    KEY_FILE
        .get()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
}

/// The key from the configured file: None when no file is configured.
pub fn read() -> Option<Result<Vec<u8>, Problem>> {
    let path = path()?;
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => return Some(Err(Problem::Unreadable(e.to_string()))),
    };
    let (size, mtime) = (meta.len(), meta.modified().ok());
    let cached = CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|last| last.path == path && last.size == size && last.mtime == mtime)
            .map(|last| last.result.clone())
    });
    if let Some(result) = cached {
        return Some(result);
    }
    // SAFETY: geteuid cannot fail.
    let server = unsafe { libc_geteuid() };
    let result = match std::fs::read(&path) {
        Ok(contents) => key_from(&contents, meta.uid(), server, meta.mode()),
        Err(e) => Err(Problem::Unreadable(e.to_string())),
    };
    CACHE.with(|c| {
        *c.borrow_mut() = Some(LastRead {
            path,
            size,
            mtime,
            result: result.clone(),
        })
    });
    Some(result)
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_must_be_the_servers_own_private_and_long_enough() {
        let key = b"0123456789abcdef0123456789abcdef\n";
        assert_eq!(
            key_from(key, 100, 100, 0o100600).unwrap(),
            key[..32].to_vec()
        );
        assert_eq!(key_from(key, 100, 100, 0o100400).unwrap().len(), 32);
        assert_eq!(
            key_from(key, 0, 100, 0o100600),
            Err(Problem::NotOwned {
                owner: 0,
                server: 100
            })
        );
        assert_eq!(
            key_from(key, 100, 100, 0o100640),
            Err(Problem::OpenToOthers { mode: 0o640 })
        );
        assert_eq!(
            key_from(key, 100, 100, 0o100604),
            Err(Problem::OpenToOthers { mode: 0o604 })
        );
        assert_eq!(
            key_from(b"  short key \n", 100, 100, 0o100600),
            Err(Problem::TooShort { len: 9 })
        );
    }
}
