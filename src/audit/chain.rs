//! Tamper evidence: a hash chain per tenant over its audit entries (opt-in,
//! `relay_audit_chain(true)`).
//!
//! Every entry written while the chain is on gets the next position of its tenant's
//! chain (`chain_seq`) and `chain_hash = SHA-256(previous hash || the entry)`, where
//! the entry is its position, id, time, text fields and its metadata as stored (the
//! jsonb's binary form). The head of each chain (last position and hash) is a row of
//! `relay_audit_chains`, locked FOR UPDATE while a transaction appends, so concurrent
//! writers of one tenant take their turns and the chain has no forks (chain_heads:
//! moved in memory, written back at commit).
//! `relay_audit_verify` walks each chain and reports the first entry that does not
//! fit: edited, deleted, inserted out of band, or reordered. A purge records where
//! the chain now starts (a checkpoint: position and hash of the last entry removed).

use crate::ext;
use crate::quote::quote_qualified;
use pgrx::pg_sys;
use pgrx::prelude::*;
use sha2::{Digest, Sha256};
use std::cell::Cell;

/// What the hash covers of one entry, in this order.
pub struct Hashed<'a> {
    pub seq: i64,
    pub id: &'a [u8; 16],
    /// Unix epoch microseconds.
    pub created_at: i64,
    pub tenant_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub action: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    /// The metadata jsonb's varlena content (its binary form), None for NULL.
    pub metadata: Option<&'a [u8]>,
}

/// SHA-256 of the previous hash and the entry. Pure: unit-tested without Postgres.
pub fn entry_hash(previous: &[u8], e: &Hashed) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(e.seq.to_be_bytes());
    h.update(e.id);
    h.update(e.created_at.to_be_bytes());
    let field = |h: &mut Sha256, v: Option<&[u8]>| match v {
        None => h.update([0xff]),
        Some(b) => {
            h.update([0x00]);
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }
    };
    for text in [e.tenant_id, e.actor_id, e.action, e.resource_type, e.resource_id, e.ip_address] {
        field(&mut h, text.map(str::as_bytes));
    }
    field(&mut h, e.metadata);
    h.finalize().into()
}

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// PostgreSQL's epoch (2000-01-01) in Unix epoch microseconds.
pub const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

thread_local! {
    /// relay_audit_settings says the chain is on: (answer, relay_audit_settings' oid),
    /// until that table's relcache entry is invalidated.
    static CHAIN_ON: Cell<Option<(bool, pg_sys::Oid)>> = const { Cell::new(None) };
}

/// Relcache invalidation of `relid` (InvalidOid: all): forget the cached answer when
/// it was relay_audit_settings. Runs in an invalidation callback: no catalog access.
pub fn forget(relid: pg_sys::Oid) {
    CHAIN_ON.with(|c| {
        if c.get().is_some_and(|(_, settings)| relid == pg_sys::InvalidOid || relid == settings) {
            c.set(None);
        }
    });
}

/// The chain is on (relay_audit_settings: chain = on). Cached per backend.
pub fn on() -> bool {
    if let Some((answer, _)) = CHAIN_ON.with(Cell::get) {
        return answer;
    }
    let settings = ext::ext_relation(c"relay_audit_settings");
    let answer = settings.relid != pg_sys::InvalidOid
        && ext::as_extension_owner(|| {
            Spi::get_one::<bool>(&format!(
                "SELECT EXISTS (SELECT FROM {} WHERE key OPERATOR(pg_catalog.=) 'chain' AND value OPERATOR(pg_catalog.=) 'on')",
                quote_qualified(&settings.schema, "relay_audit_settings")
            ))
            .ok()
            .flatten()
            .unwrap_or(false)
        });
    CHAIN_ON.with(|c| c.set(Some((answer, settings.relid))));
    answer
}

/// The bytes of a jsonb datum as stored (detoasted).
///
/// # Safety
/// `datum` is a valid jsonb datum.
pub unsafe fn jsonb_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    unsafe {
        let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        let len = pgrx::varlena::varsize_any_exhdr(v);
        std::slice::from_raw_parts(pgrx::varlena::vardata_any(v) as *const u8, len)
    }
}

/// One entry's place in its tenant's chain.
#[derive(Clone)]
pub struct Link {
    pub id: [u8; 16],
    pub seq: i64,
    pub hash: [u8; 32],
}

/// The current transaction's start, in Unix epoch microseconds (audit_logs'
/// created_at defaults to now(), the transaction's start).
pub fn now_unix_micros() -> i64 {
    // SAFETY: reads the transaction start timestamp.
    (unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }) + PG_EPOCH_UNIX_MICROS
}

/// Chain a single entry of `tenant` (relay_audit, relay's own entries): lock the
/// head, hash the entry (`hash_of(previous hash, position, id)`), move the head.
pub fn link_one(tenant: &str, hash_of: impl FnOnce(&[u8], i64, &[u8; 16]) -> [u8; 32]) -> Link {
    let (last_seq, previous) = super::chain_heads::lock(tenant);
    let id = super::uuid7::new_uuid7();
    let seq = last_seq + 1;
    let hash = hash_of(&previous, seq, &id);
    super::chain_heads::store(tenant, seq, &hash);
    Link { id, seq, hash }
}

/// Turn the hash chain on or off (superusers and BYPASSRLS roles). Entries written
/// while it is off have no place in a chain; turned on again, each chain goes on from
/// its head.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_audit_chain(enable: Option<bool>) -> String {
    let enable = enable.unwrap_or_else(|| crate::errors::null_argument("relay_audit_chain", "enable"));
    if !ext::role_sees_every_tenant() {
        crate::errors::tenant_admin_needs_bypassrls("relay_audit_chain");
    }
    let settings = ext::ext_relation(c"relay_audit_settings");
    let table = quote_qualified(&settings.schema, "relay_audit_settings");
    ext::refuse_foreign_triggers(c"relay_audit_settings");
    let sql = if enable {
        format!("INSERT INTO {table} (key, value) VALUES ('chain', 'on') ON CONFLICT (key) DO UPDATE SET value = 'on'")
    } else {
        format!("DELETE FROM {table} WHERE key OPERATOR(pg_catalog.=) 'chain'")
    };
    ext::as_extension_owner(|| Spi::run(&sql).expect("audit chain setting"));
    ext::registration_changed(settings.relid);
    if enable { "audit hash chain on: new entries are chained per tenant" } else { "audit hash chain off" }.to_string()
}

/// A chain's head: tenant, last position and hash, checkpoint position and hash.
type Head = (String, i64, Vec<u8>, i64, Vec<u8>);

/// One row of a chain walk.
struct Walked {
    seq: i64,
    id: [u8; 16],
    created_at: i64,
    texts: [Option<String>; 6],
    metadata: Option<Vec<u8>>,
    hash: Vec<u8>,
}

/// Walk the chain of every tenant (or of `tenant`), in order, from its checkpoint;
/// report the first entry that does not fit, or ok. For superusers and BYPASSRLS roles.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_audit_verify(
    tenant: default!(Option<String>, "NULL"),
) -> TableIterator<'static, (name!(tenant_id, String), name!(entries, i64), name!(status, String), name!(detail, String))> {
    if !ext::role_sees_every_tenant() {
        crate::errors::tenant_admin_needs_bypassrls("relay_audit_verify");
    }
    // The heads this transaction moved are in memory until it commits.
    super::chain_heads::flush();
    let audit = ext::ext_relation(c"audit_logs");
    let audit_logs = quote_qualified(&audit.schema, "audit_logs");
    let chains = quote_qualified(&audit.schema, "relay_audit_chains");
    let heads: Vec<Head> = ext::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT tenant_id, last_seq, last_hash, COALESCE(checkpoint_seq, 0), COALESCE(checkpoint_hash, $2)
                           FROM {chains} WHERE $1::pg_catalog.text IS NULL OR tenant_id OPERATOR(pg_catalog.=) $1 ORDER BY tenant_id"
                    ),
                    None,
                    &[tenant.clone().into(), GENESIS.to_vec().into()],
                )
                .expect("chain heads")
                .map(|r| {
                    (
                        r.get::<String>(1).unwrap().unwrap_or_default(),
                        r.get::<i64>(2).unwrap().unwrap_or(0),
                        r.get::<Vec<u8>>(3).unwrap().unwrap_or_default(),
                        r.get::<i64>(4).unwrap().unwrap_or(0),
                        r.get::<Vec<u8>>(5).unwrap().unwrap_or_default(),
                    )
                })
                .collect()
        })
    });
    let mut out = Vec::new();
    for (t, last_seq, last_hash, checkpoint_seq, checkpoint_hash) in heads {
        let rows: Vec<Walked> = ext::as_extension_owner(|| {
            Spi::connect(|client| {
                client
                    .select(
                        &format!(
                            "SELECT chain_seq, id, (EXTRACT(epoch FROM created_at) * 1000000)::pg_catalog.int8,
                                    tenant_id, actor_id, action, resource_type, resource_id, ip_address, metadata, chain_hash
                               FROM {audit_logs}
                              WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND chain_seq IS NOT NULL ORDER BY chain_seq, id"
                        ),
                        None,
                        &[t.as_str().into()],
                    )
                    .expect("chain entries")
                    .map(|r| {
                        let text = |i: usize| r.get::<String>(i).unwrap();
                        let metadata = r.get::<super::jsonb_datum::JsonbDatum>(10).unwrap().map(|d| {
                            // SAFETY: a jsonb datum of this row, copied at once.
                            unsafe { jsonb_bytes(d.0) }.to_vec()
                        });
                        Walked {
                            seq: r.get::<i64>(1).unwrap().unwrap_or(0),
                            id: *r.get::<pgrx::Uuid>(2).unwrap().expect("id").as_bytes(),
                            created_at: r.get::<i64>(3).unwrap().unwrap_or(0),
                            texts: [text(4), text(5), text(6), text(7), text(8), text(9)],
                            metadata,
                            hash: r.get::<Vec<u8>>(11).unwrap().unwrap_or_default(),
                        }
                    })
                    .collect()
            })
        });
        let (status, detail) = walk(&rows, checkpoint_seq, &checkpoint_hash, last_seq, &last_hash);
        out.push((t, rows.len() as i64, status, detail));
    }
    TableIterator::new(out)
}

/// Check one chain: positions consecutive from the checkpoint, each hash the hash of
/// its entry and the previous one, the last one the head. Pure.
fn walk(rows: &[Walked], checkpoint_seq: i64, checkpoint_hash: &[u8], last_seq: i64, last_hash: &[u8]) -> (String, String) {
    let uuid = |id: &[u8; 16]| pgrx::Uuid::from_bytes(*id).to_string();
    let mut previous = checkpoint_hash.to_vec();
    let mut expected = checkpoint_seq + 1;
    for row in rows {
        if row.seq < expected {
            return (
                "tampered".into(),
                format!("entry {} at position {} comes after position {}: inserted out of band, or a position used twice", uuid(&row.id), row.seq, expected - 1),
            );
        }
        if row.seq > expected {
            return ("tampered".into(), format!("positions {expected} to {} are missing: entries deleted (the next is {})", row.seq - 1, uuid(&row.id)));
        }
        let [tenant_id, actor_id, action, resource_type, resource_id, ip_address] = &row.texts;
        let hash = entry_hash(
            &previous,
            &Hashed {
                seq: row.seq,
                id: &row.id,
                created_at: row.created_at,
                tenant_id: tenant_id.as_deref(),
                actor_id: actor_id.as_deref(),
                action: action.as_deref(),
                resource_type: resource_type.as_deref(),
                resource_id: resource_id.as_deref(),
                ip_address: ip_address.as_deref(),
                metadata: row.metadata.as_deref(),
            },
        );
        if hash.as_slice() != row.hash.as_slice() {
            return ("tampered".into(), format!("entry {} at position {} does not match its hash: edited, or not written by relay", uuid(&row.id), row.seq));
        }
        previous = hash.to_vec();
        expected += 1;
    }
    if expected - 1 != last_seq || previous != last_hash {
        return ("tampered".into(), format!("the chain ends at position {} but its head says {last_seq}: entries deleted at the end", expected - 1));
    }
    ("ok".into(), format!("positions {} to {last_seq} verified", checkpoint_seq + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, prev: &[u8]) -> Walked {
        let id = [seq as u8; 16];
        let texts = [Some("t".to_string()), None, Some("a".to_string()), None, None, None];
        let hash = entry_hash(
            prev,
            &Hashed { seq, id: &id, created_at: 7, tenant_id: Some("t"), actor_id: None, action: Some("a"), resource_type: None, resource_id: None, ip_address: None, metadata: Some(b"{}") },
        );
        Walked { seq, id, created_at: 7, texts, metadata: Some(b"{}".to_vec()), hash: hash.to_vec() }
    }

    fn chain(n: i64) -> Vec<Walked> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|s| {
                let r = row(s, &prev);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_every_kind_of_tampering_is_found() {
        let rows = chain(3);
        let head = rows[2].hash.clone();
        assert_eq!(walk(&rows, 0, &GENESIS, 3, &head).0, "ok");
        // edited
        let mut edited = chain(3);
        edited[1].texts[2] = Some("b".into());
        assert!(walk(&edited, 0, &GENESIS, 3, &head).1.contains("does not match its hash"));
        // deleted in the middle, at the end
        let mut gap = chain(3);
        gap.remove(1);
        assert!(walk(&gap, 0, &GENESIS, 3, &head).1.contains("missing"));
        let mut tail = chain(3);
        tail.pop();
        assert!(walk(&tail, 0, &GENESIS, 3, &head).1.contains("entries deleted at the end"));
        // inserted twice at a position
        let mut twice = chain(3);
        let dup = row(2, &twice[0].hash.clone());
        twice.insert(2, dup);
        assert!(walk(&twice, 0, &GENESIS, 3, &head).0 == "tampered");
        // after a purge, from the checkpoint
        let rows = chain(3);
        assert_eq!(walk(&rows[2..], 2, &rows[1].hash, 3, &head).0, "ok");
    }
}
