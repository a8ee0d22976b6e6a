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

use crate::model::quote::quote_qualified;
use crate::pg::ext;
use crate::pg::privilege;
use crate::pg::probes;
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
    for text in [
        e.tenant_id,
        e.actor_id,
        e.action,
        e.resource_type,
        e.resource_id,
        e.ip_address,
    ] {
        field(&mut h, text.map(str::as_bytes));
    }
    field(&mut h, e.metadata);
    h.finalize().into()
}

pub use super::chain_heads::GENESIS;

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
        if c.get()
            .is_some_and(|(_, settings)| relid == pg_sys::InvalidOid || relid == settings)
        {
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
        && privilege::as_extension_owner(|| {
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
    let enable = enable
        .unwrap_or_else(|| crate::model::errors::null_argument("relay_audit_chain", "enable"));
    if !privilege::role_sees_every_tenant() {
        crate::model::errors::tenant_admin_needs_bypassrls("relay_audit_chain");
    }
    let settings = ext::ext_relation(c"relay_audit_settings");
    let table = quote_qualified(&settings.schema, "relay_audit_settings");
    probes::refuse_foreign_triggers(c"relay_audit_settings");
    // `chain_since`: when the chain was (last) turned on. Every entry written from
    // then on has a place in its tenant's chain; relay_audit_verify reports one that
    // has none.
    let sql = if enable {
        format!(
            "INSERT INTO {table} (key, value) VALUES ('chain', 'on'), ('chain_since', pg_catalog.transaction_timestamp()::pg_catalog.text)
             ON CONFLICT (key) DO NOTHING"
        )
    } else {
        format!("DELETE FROM {table} WHERE key OPERATOR(pg_catalog.=) ANY (ARRAY['chain', 'chain_since'])")
    };
    privilege::as_extension_owner(|| Spi::run(&sql).expect("audit chain setting"));
    probes::registration_changed(settings.relid);
    if enable {
        "audit hash chain on: new entries are chained per tenant"
    } else {
        "audit hash chain off"
    }
    .to_string()
}

/// A chain's head: last position and hash, checkpoint position and hash.
#[derive(Clone)]
struct Head {
    last_seq: i64,
    last_hash: Vec<u8>,
    checkpoint_seq: i64,
    checkpoint_hash: Vec<u8>,
}

/// One row of a chain walk.
struct Walked {
    seq: i64,
    id: [u8; 16],
    created_at: i64,
    texts: [Option<String>; 6],
    metadata: Option<Vec<u8>>,
    hash: Vec<u8>,
    /// For a `relay.audit_purged` entry: the checkpoint it says the purge left.
    purge_checkpoint: Option<(i64, String)>,
}

/// A position and hash a stored digest holds for one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Anchor {
    seq: i64,
    hash: String,
}

/// What is known of one tenant's chain.
struct Chain {
    head: Option<Head>,
    /// When the tenant's chain began (relay_audit_chained), None if not registered.
    registered: Option<String>,
    rows: Vec<Walked>,
    /// Entries without a place in the chain written since the chain was turned on.
    unchained_since_on: i64,
    anchor: Option<Anchor>,
    /// The subscriptions this database receives audit_logs from (logical
    /// replication), if any: the heads are then the publisher's.
    subscribed_from: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 0.2.0's relay_audit_verify(tenant): its C symbol stays, so a database still on the
/// 0.2.0 SQL keeps working with this library until ALTER EXTENSION UPDATE.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn relay_audit_verify(
    tenant: default!(Option<String>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(tenant_id, String),
        name!(entries, i64),
        name!(status, String),
        name!(detail, String),
    ),
> {
    TableIterator::new(verify(tenant, None))
}

/// Walk the chain of every tenant (or of `tenant`), in order, from its checkpoint;
/// report the first entry that does not fit, or ok. With `digest` (a value
/// relay_audit_digest returned earlier, kept outside the database), also check that
/// the history before each digested position still leads to it. For superusers and
/// BYPASSRLS roles.
#[pg_extern(volatile, parallel_unsafe, name = "relay_audit_verify")]
fn relay_audit_verify_against(
    tenant: default!(Option<String>, "NULL"),
    digest: default!(Option<pgrx::JsonB>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(tenant_id, String),
        name!(entries, i64),
        name!(status, String),
        name!(detail, String),
    ),
> {
    let anchors = digest.map(|d| anchors_of(&d.0));
    TableIterator::new(verify(tenant, anchors))
}

/// The positions a digest holds: `{"chains": {"<tenant>": {"seq": n, "hash": "<hex>"}}}`.
fn anchors_of(digest: &serde_json::Value) -> Vec<(String, Anchor)> {
    let Some(chains) = digest.get("chains").and_then(|c| c.as_object()) else {
        crate::model::errors::bad_audit_digest("it has no \"chains\" object");
    };
    chains
        .iter()
        .map(|(tenant, at)| {
            let seq = at.get("seq").and_then(|v| v.as_i64());
            let hash = at.get("hash").and_then(|v| v.as_str());
            match (seq, hash) {
                (Some(seq), Some(hash)) if seq >= 0 => (
                    tenant.clone(),
                    Anchor {
                        seq,
                        hash: hash.to_string(),
                    },
                ),
                _ => crate::model::errors::bad_audit_digest(&format!(
                    "the entry of tenant {tenant} needs \"seq\" and \"hash\""
                )),
            }
        })
        .collect()
}

/// Every tenant's chain position now, to be stored outside the database: a later
/// relay_audit_verify(digest => ...) proves the history up to these positions is
/// unchanged. For superusers and BYPASSRLS roles.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_audit_digest() -> pgrx::JsonB {
    if !privilege::role_sees_every_tenant() {
        crate::model::errors::tenant_admin_needs_bypassrls("relay_audit_digest");
    }
    super::chain_heads::flush();
    let chains = quote_qualified(&ext::extension_schema(), "relay_audit_chains");
    let heads: Vec<(String, Head)> = read_heads(&chains, None);
    let mut map = serde_json::Map::new();
    for (tenant, head) in heads {
        map.insert(
            tenant,
            serde_json::json!({ "seq": head.last_seq, "hash": hex(&head.last_hash) }),
        );
    }
    let taken = Spi::get_one::<String>("SELECT pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        .ok()
        .flatten()
        .unwrap_or_default();
    pgrx::JsonB(serde_json::json!({ "taken_at": taken, "chains": map }))
}

fn read_heads(chains: &str, tenant: Option<&str>) -> Vec<(String, Head)> {
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT tenant_id, last_seq, last_hash, COALESCE(checkpoint_seq, 0), COALESCE(checkpoint_hash, $2)
                           FROM {chains} WHERE $1::pg_catalog.text IS NULL OR tenant_id OPERATOR(pg_catalog.=) $1 ORDER BY tenant_id"
                    ),
                    None,
                    &[tenant.into(), GENESIS.to_vec().into()],
                )
                .expect("chain heads")
                .map(|r| {
                    (
                        r.get::<String>(1).unwrap().unwrap_or_default(),
                        Head {
                            last_seq: r.get::<i64>(2).unwrap().unwrap_or(0),
                            last_hash: r.get::<Vec<u8>>(3).unwrap().unwrap_or_default(),
                            checkpoint_seq: r.get::<i64>(4).unwrap().unwrap_or(0),
                            checkpoint_hash: r.get::<Vec<u8>>(5).unwrap().unwrap_or_default(),
                        },
                    )
                })
                .collect()
        })
    })
}

type VerifyRow = (String, i64, String, String);

fn verify(tenant: Option<String>, anchors: Option<Vec<(String, Anchor)>>) -> Vec<VerifyRow> {
    if !privilege::role_sees_every_tenant() {
        crate::model::errors::tenant_admin_needs_bypassrls("relay_audit_verify");
    }
    // The heads this transaction moved are in memory until it commits.
    super::chain_heads::flush();
    let audit = ext::ext_relation(c"audit_logs");
    let audit_logs = quote_qualified(&audit.schema, "audit_logs");
    let chains = quote_qualified(&audit.schema, "relay_audit_chains");
    let chained = quote_qualified(&audit.schema, "relay_audit_chained");
    let settings = quote_qualified(&audit.schema, "relay_audit_settings");
    let heads = read_heads(&chains, tenant.as_deref());
    let subscribed_from: Option<String> = privilege::as_extension_owner(|| {
        privilege::select_optional::<String>(
            "SELECT pg_catalog.string_agg(s.subname::pg_catalog.text, ', ' ORDER BY s.subname)
               FROM pg_catalog.pg_subscription_rel r JOIN pg_catalog.pg_subscription s ON s.oid OPERATOR(pg_catalog.=) r.srsubid
              WHERE r.srrelid OPERATOR(pg_catalog.=) $1",
            &[audit.relid.into()],
        )
    });
    // Every tenant that has (or had) a chain: its head, its registration, chained
    // entries, or a digest's position.
    let registered: Vec<(String, String)> = privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT tenant_id, since::pg_catalog.text FROM {chained}
                          WHERE $1::pg_catalog.text IS NULL OR tenant_id OPERATOR(pg_catalog.=) $1
                         UNION
                         SELECT DISTINCT tenant_id, NULL FROM {audit_logs}
                          WHERE chain_seq IS NOT NULL AND tenant_id IS NOT NULL
                            AND ($1::pg_catalog.text IS NULL OR tenant_id OPERATOR(pg_catalog.=) $1)
                            AND NOT EXISTS (SELECT FROM {chained} r WHERE r.tenant_id OPERATOR(pg_catalog.=) {audit_logs}.tenant_id)"
                    ),
                    None,
                    &[tenant.clone().into()],
                )
                .expect("chained tenants")
                .filter_map(|r| Some((r.get::<String>(1).ok()??, r.get::<String>(2).ok().flatten().unwrap_or_default())))
                .collect()
        })
    });
    let chain_since: Option<String> = privilege::as_extension_owner(|| {
        privilege::select_optional::<String>(
            &format!("SELECT value FROM {settings} WHERE key OPERATOR(pg_catalog.=) 'chain_since'"),
            &[],
        )
    });
    let mut tenants: Vec<String> = heads.iter().map(|(t, _)| t.clone()).collect();
    tenants.extend(registered.iter().map(|(t, _)| t.clone()));
    if let Some(anchors) = &anchors {
        tenants.extend(
            anchors
                .iter()
                .map(|(t, _)| t.clone())
                .filter(|t| tenant.as_ref().is_none_or(|only| only == t)),
        );
    }
    tenants.sort();
    tenants.dedup();
    let mut out = Vec::new();
    for t in tenants {
        let chain = Chain {
            head: heads.iter().find(|(h, _)| *h == t).map(|(_, h)| h.clone()),
            registered: registered
                .iter()
                .find(|(r, _)| *r == t)
                .map(|(_, since)| since.clone()),
            rows: walked_rows(&audit_logs, &t),
            unchained_since_on: chain_since
                .as_ref()
                .map_or(0, |since| unchained_since(&audit_logs, &t, since)),
            anchor: anchors
                .as_ref()
                .and_then(|a| a.iter().find(|(at, _)| *at == t).map(|(_, a)| a.clone())),
            subscribed_from: subscribed_from.clone(),
        };
        let (status, detail) = judge(&chain);
        out.push((t, chain.rows.len() as i64, status, detail));
    }
    out
}

/// The chained entries of `tenant`, in chain order.
fn walked_rows(audit_logs: &str, tenant: &str) -> Vec<Walked> {
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT chain_seq, id, (EXTRACT(epoch FROM created_at) * 1000000)::pg_catalog.int8,
                                tenant_id, actor_id, action, resource_type, resource_id, ip_address, metadata, chain_hash,
                                CASE WHEN action OPERATOR(pg_catalog.=) 'relay.audit_purged'
                                     THEN (metadata OPERATOR(pg_catalog.->>) 'checkpoint_seq')::pg_catalog.int8 END,
                                CASE WHEN action OPERATOR(pg_catalog.=) 'relay.audit_purged'
                                     THEN metadata OPERATOR(pg_catalog.->>) 'checkpoint_hash' END
                           FROM {audit_logs}
                          WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND chain_seq IS NOT NULL ORDER BY chain_seq, id"
                    ),
                    None,
                    &[tenant.into()],
                )
                .expect("chain entries")
                .map(|r| {
                    let text = |i: usize| r.get::<String>(i).unwrap();
                    let metadata = r.get::<super::jsonb_datum::JsonbDatum>(10).unwrap().map(|d| {
                        // SAFETY: a jsonb datum of this row, copied at once.
                        unsafe { jsonb_bytes(d.0) }.to_vec()
                    });
                    let purge_checkpoint = match (r.get::<i64>(12).ok().flatten(), r.get::<String>(13).ok().flatten()) {
                        (Some(seq), Some(hash)) => Some((seq, hash)),
                        _ => None,
                    };
                    Walked {
                        seq: r.get::<i64>(1).unwrap().unwrap_or(0),
                        id: *r.get::<pgrx::Uuid>(2).unwrap().expect("id").as_bytes(),
                        created_at: r.get::<i64>(3).unwrap().unwrap_or(0),
                        texts: [text(4), text(5), text(6), text(7), text(8), text(9)],
                        metadata,
                        hash: r.get::<Vec<u8>>(11).unwrap().unwrap_or_default(),
                        purge_checkpoint,
                    }
                })
                .collect()
        })
    })
}

/// Entries of `tenant` with no place in its chain, written since `since` (when the
/// chain was turned on).
fn unchained_since(audit_logs: &str, tenant: &str, since: &str) -> i64 {
    privilege::as_extension_owner(|| {
        privilege::select_optional::<i64>(
            &format!(
                "SELECT pg_catalog.count(*) FROM {audit_logs}
                  WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND chain_seq IS NULL
                    AND created_at OPERATOR(pg_catalog.>=) $2::pg_catalog.timestamptz"
            ),
            &[tenant.into(), since.into()],
        )
        .unwrap_or(0)
    })
}

/// The verdict on one chain. Pure.
fn judge(chain: &Chain) -> (String, String) {
    let tampered = |d: String| ("tampered".to_string(), d);
    if let (None, Some(subscriptions)) = (&chain.head, &chain.subscribed_from) {
        // A logical-replication subscriber receives the entries but not the heads,
        // which are the publisher's (each side keeps its own relay_audit_chains).
        return (
            "replica".to_string(),
            format!(
                "this database receives relay.audit_logs by logical replication (subscription {subscriptions}): the chain's head is on the publisher, so it is verified there; {} chained entries here, up to position {}. On the publisher: SELECT * FROM relay_audit_verify(); or keep its relay_audit_digest() and verify this copy against it",
                chain.rows.len(),
                chain.rows.last().map_or(0, |r| r.seq)
            ),
        );
    }
    let Some(head) = &chain.head else {
        return tampered(match (&chain.registered, &chain.anchor) {
            (_, Some(a)) if a.seq > 0 => format!("the chain is gone: no head and {} chained entries, but the digest has it at position {}", chain.rows.len(), a.seq),
            (Some(_), _) => format!("the chain's head is gone ({} chained entries left, and relay_audit_chained keeps the chain): deleted", chain.rows.len()),
            _ => format!("{} chained entries but no head: the head was deleted", chain.rows.len()),
        });
    };
    let (status, detail) = walk(
        &chain.rows,
        head.checkpoint_seq,
        &head.checkpoint_hash,
        head.last_seq,
        &head.last_hash,
    );
    if status != "ok" {
        return (status, detail);
    }
    if head.checkpoint_seq > 0 {
        let wanted = (head.checkpoint_seq, hex(&head.checkpoint_hash));
        if !chain
            .rows
            .iter()
            .any(|r| r.purge_checkpoint.as_ref() == Some(&wanted))
        {
            return tampered(format!(
                "the chain starts after position {} but no relay.audit_purged entry records that checkpoint: a checkpoint not set by relay_audit_purge",
                head.checkpoint_seq
            ));
        }
    }
    if chain.unchained_since_on > 0 {
        return tampered(format!(
            "entries written since the chain was turned on without a place in it: {} (inserted out of band, or their chain columns cleared)",
            chain.unchained_since_on
        ));
    }
    if chain.registered.is_none() && head.last_seq > 0 {
        return tampered("the chain is missing from relay_audit_chained, which keeps every chain for good: deleted there".into());
    }
    let Some(anchor) = &chain.anchor else {
        return (status, detail);
    };
    if anchor.seq > head.last_seq {
        return tampered(format!(
            "the chain ends at position {} but the digest has it at position {}: entries deleted at the end and the head moved back",
            head.last_seq, anchor.seq
        ));
    }
    if anchor.seq < head.checkpoint_seq {
        return (status, format!("{detail}; the digest's position {} was purged since (the chain now starts after {})", anchor.seq, head.checkpoint_seq));
    }
    let hash_there = if anchor.seq == head.checkpoint_seq {
        Some(hex(&head.checkpoint_hash))
    } else {
        chain
            .rows
            .iter()
            .find(|r| r.seq == anchor.seq)
            .map(|r| hex(&r.hash))
    };
    if hash_there.as_deref() != Some(anchor.hash.as_str()) {
        return tampered(format!(
            "the history up to position {} no longer leads to the digest's hash: entries before it were changed, removed or the chain rebuilt",
            anchor.seq
        ));
    }
    (
        status,
        format!("{detail}; the digest's position {} matches", anchor.seq),
    )
}

/// Check one chain: positions consecutive from the checkpoint, each hash the hash of
/// its entry and the previous one, the last one the head. Pure.
fn walk(
    rows: &[Walked],
    checkpoint_seq: i64,
    checkpoint_hash: &[u8],
    last_seq: i64,
    last_hash: &[u8],
) -> (String, String) {
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
            return (
                "tampered".into(),
                format!(
                    "positions {expected} to {} are missing: entries deleted (the next is {})",
                    row.seq - 1,
                    uuid(&row.id)
                ),
            );
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
    (
        "ok".into(),
        format!("positions {} to {last_seq} verified", checkpoint_seq + 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, prev: &[u8]) -> Walked {
        let id = [seq as u8; 16];
        let texts = [
            Some("t".to_string()),
            None,
            Some("a".to_string()),
            None,
            None,
            None,
        ];
        let hash = entry_hash(
            prev,
            &Hashed {
                seq,
                id: &id,
                created_at: 7,
                tenant_id: Some("t"),
                actor_id: None,
                action: Some("a"),
                resource_type: None,
                resource_id: None,
                ip_address: None,
                metadata: Some(b"{}"),
            },
        );
        Walked {
            seq,
            id,
            created_at: 7,
            texts,
            metadata: Some(b"{}".to_vec()),
            hash: hash.to_vec(),
            purge_checkpoint: None,
        }
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
        assert!(walk(&edited, 0, &GENESIS, 3, &head)
            .1
            .contains("does not match its hash"));
        // deleted in the middle, at the end
        let mut gap = chain(3);
        gap.remove(1);
        assert!(walk(&gap, 0, &GENESIS, 3, &head).1.contains("missing"));
        let mut tail = chain(3);
        tail.pop();
        assert!(walk(&tail, 0, &GENESIS, 3, &head)
            .1
            .contains("entries deleted at the end"));
        // inserted twice at a position
        let mut twice = chain(3);
        let dup = row(2, &twice[0].hash.clone());
        twice.insert(2, dup);
        assert!(walk(&twice, 0, &GENESIS, 3, &head).0 == "tampered");
        // after a purge, from the checkpoint
        let rows = chain(3);
        assert_eq!(walk(&rows[2..], 2, &rows[1].hash, 3, &head).0, "ok");
    }

    fn whole(rows: Vec<Walked>) -> Chain {
        let last = rows
            .last()
            .map(|r| (r.seq, r.hash.clone()))
            .unwrap_or((0, GENESIS.to_vec()));
        Chain {
            head: Some(Head {
                last_seq: last.0,
                last_hash: last.1,
                checkpoint_seq: 0,
                checkpoint_hash: GENESIS.to_vec(),
            }),
            registered: Some("2026-12-03 00:00:00+00".into()),
            rows,
            unchained_since_on: 0,
            anchor: None,
            subscribed_from: None,
        }
    }

    #[test]
    fn what_a_rewound_head_a_vanished_chain_and_a_forged_checkpoint_leave() {
        // intact, and against a digest taken at position 2
        let mut c = whole(chain(3));
        assert_eq!(judge(&c).0, "ok");
        c.anchor = Some(Anchor {
            seq: 2,
            hash: hex(&c.rows[1].hash),
        });
        assert!(
            judge(&c).1.contains("digest's position 2 matches"),
            "{:?}",
            judge(&c)
        );
        // the last entry deleted and the head moved back: only a digest shows it
        let mut rewound = whole(chain(2));
        assert_eq!(judge(&rewound).0, "ok");
        rewound.anchor = Some(Anchor {
            seq: 3,
            hash: "00".into(),
        });
        assert!(judge(&rewound).1.contains("head moved back"));
        // the chain rebuilt from an edited entry on (hashes recomputed): the digest's hash differs
        let mut rebuilt = whole(chain(3));
        rebuilt.anchor = Some(Anchor {
            seq: 2,
            hash: "ff".repeat(32),
        });
        assert!(judge(&rebuilt)
            .1
            .contains("no longer leads to the digest's hash"));
        // the whole chain and its head deleted: the registry remembers it
        let gone = Chain {
            head: None,
            registered: Some("2026-12-03".into()),
            rows: vec![],
            unchained_since_on: 0,
            anchor: None,
            subscribed_from: None,
        };
        assert!(judge(&gone).1.contains("head is gone"));
        // on a logical-replication subscriber no head is expected: it says where it is
        let mut replica = whole(chain(3));
        replica.head = None;
        replica.subscribed_from = Some("relay_sub".into());
        let (status, detail) = judge(&replica);
        assert_eq!(status, "replica");
        assert!(
            detail.contains("subscription relay_sub") && detail.contains("up to position 3"),
            "{detail}"
        );
        // deleted from the registry too: the digest still has it
        let vanished = Chain {
            head: None,
            registered: None,
            rows: vec![],
            unchained_since_on: 0,
            anchor: Some(Anchor {
                seq: 3,
                hash: "00".into(),
            }),
            subscribed_from: None,
        };
        assert!(judge(&vanished).1.contains("the chain is gone"));
        // entries without a place in the chain since it was turned on
        let mut unchained = whole(chain(3));
        unchained.unchained_since_on = 1;
        assert!(judge(&unchained).1.contains("without a place in it: 1"));
        // a checkpoint no relay.audit_purged entry records
        let rows = chain(3);
        let checkpoint_hash = rows[1].hash.clone();
        let mut forged = whole(chain(3));
        forged.rows.drain(..2);
        forged.head.as_mut().unwrap().checkpoint_seq = 2;
        forged.head.as_mut().unwrap().checkpoint_hash = checkpoint_hash.clone();
        assert!(judge(&forged)
            .1
            .contains("no relay.audit_purged entry records that checkpoint"));
        forged.rows[0].purge_checkpoint = Some((2, hex(&checkpoint_hash)));
        assert_eq!(judge(&forged).0, "ok");
    }
}
