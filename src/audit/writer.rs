//! Writing audit entries. The fast path inserts a statement's entries the way COPY
//! does: heap tuples built directly from Rust values, inserted in batches with
//! `table_multi_insert`, index entries added per batch. No SQL is parsed, planned or
//! executed per entry, and nothing is formatted to text and parsed back except the
//! metadata JSON.
//!
//! It is taken only when audit_logs is exactly as relay created it (the nine columns,
//! NOT NULL and defaults as relay made them, a heap table that is not a partition,
//! no INSERT triggers, CHECK constraints, rules or generated columns; checked once per
//! relcache invalidation of the table) and its owner is a superuser; otherwise the
//! entries go through one INSERT ... SELECT FROM unnest(...) with a plan kept per
//! backend, which honours whatever the DBA added.

use crate::model::quote::quote_qualified;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::ffi::CStr;

/// One audit entry of a captured statement.
pub struct Entry {
    pub tenant_id: Option<String>,
    pub resource_id: Option<String>,
    /// A jsonb datum, in memory that outlives the write.
    pub metadata: pg_sys::Datum,
}

/// What every entry of one statement shares.
pub struct Common<'a> {
    pub audit_logs: &'a crate::pg::ext::ExtRelation,
    pub actor_id: Option<String>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub ip_address: Option<String>,
}

/// audit_logs' columns, in the order relay creates them.
const COLUMNS: [(&str, pg_sys::Oid); 11] = [
    ("id", pg_sys::UUIDOID),
    ("actor_id", pg_sys::TEXTOID),
    ("tenant_id", pg_sys::TEXTOID),
    ("action", pg_sys::TEXTOID),
    ("resource_type", pg_sys::TEXTOID),
    ("resource_id", pg_sys::TEXTOID),
    ("ip_address", pg_sys::TEXTOID),
    ("metadata", pg_sys::JSONBOID),
    ("created_at", pg_sys::TIMESTAMPTZOID),
    ("chain_seq", pg_sys::INT8OID),
    ("chain_hash", pg_sys::BYTEAOID),
];

/// Entries per table_multi_insert call (COPY uses 1000 too), and rows per batch the
/// capture trigger reads.
pub const BATCH: usize = 1000;

/// Write a batch of entries (at most BATCH from the capture trigger), natively when
/// audit_logs is as relay made it, else through SQL.
pub fn write(common: &Common, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    // What writing allocates (the executor state, the result relation and its index
    // information, the slots) goes in the current memory context: the capture
    // trigger's batch context, reset after every batch.
    // Chained: each entry's place and hash.
    let links = super::chain::on().then(|| link_entries(common, entries));
    let links = links.as_deref();
    // SAFETY: see native_write.
    let native = unsafe { native_write(common, entries, links) };
    if native {
        pgrx::debug1!(
            "relay_tenancy: {} audit entries written natively",
            entries.len()
        );
    } else {
        // The SQL path runs as the extension's owner (search_path pinned) and fires
        // audit_logs' triggers: none may be anyone else's.
        crate::pg::probes::refuse_foreign_triggers(c"audit_logs");
        crate::pg::privilege::as_extension_owner(|| sql_write(common, entries, links));
        pgrx::debug1!(
            "relay_tenancy: {} audit entries written through SQL",
            entries.len()
        );
    }
}

/// The tenant an audit entry is written for: it must be set and name an existing
/// tenant, so the log never holds an entry for no tenant or an invented one.
/// `what` names what was being recorded (worked out only for the error).
pub fn checked_tenant(tenant: Option<String>, what: impl Fn() -> String) -> String {
    match tenant {
        None => {
            crate::model::errors::no_tenant_for_audit(&what(), crate::context::signed::is_signed())
        }
        Some(t) if !crate::pg::probes::tenant_exists(&t) => {
            crate::model::errors::unknown_audit_tenant(&t, &what())
        }
        Some(t) => t,
    }
}

/// Each attribute of audit_logs mapped to its place in COLUMNS; None: not the shape
/// the fast path writes.
type Layout = Option<Vec<Option<usize>>>;

thread_local! {
    /// audit_logs' layout as the fast path last checked it: (relid, layout), until a
    /// relcache invalidation of the table (ALTER TABLE, CREATE TRIGGER, CREATE RULE,
    /// ATTACH PARTITION, ...) makes it check again.
    static LAYOUT: RefCell<Option<(pg_sys::Oid, Layout)>> = const { RefCell::new(None) };
}

#[pg_guard]
unsafe extern "C-unwind" fn forget_layout(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    super::chain::forget(relid);
    LAYOUT.with(|l| {
        let stale = l
            .borrow()
            .as_ref()
            .is_some_and(|(cached, _)| relid == pg_sys::InvalidOid || *cached == relid);
        if stale {
            *l.borrow_mut() = None;
        }
    });
}

/// Called from `_PG_init`.
pub fn register_cache_callback() {
    // SAFETY: registers a callback that only clears a backend-local cache.
    unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(forget_layout), pg_sys::Datum::from(0)) };
}

/// The columns the fast path fills although the SQL path leaves them to their
/// defaults: id (relay_uuid7()) and created_at (now()). Their defaults must still be
/// those, or the fast path would write what the table no longer says.
unsafe fn defaults_are_relays(rel: pg_sys::Relation, map: &[Option<usize>]) -> bool {
    unsafe {
        let constr = (*(*rel).rd_att).constr;
        let mut seen = [false, false];
        if !constr.is_null() {
            for i in 0..(*constr).num_defval as usize {
                let def = (*constr).defval.add(i);
                let Some(Some(pos)) = map.get((*def).adnum as usize - 1) else {
                    continue;
                };
                let slot = match pos {
                    0 => 0,
                    8 => 1,
                    _ => continue,
                };
                let node = pg_sys::stringToNode((*def).adbin) as *mut pg_sys::Node;
                if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_FuncExpr {
                    return false;
                }
                let func = (*(node as *mut pg_sys::FuncExpr)).funcid;
                seen[slot] = if slot == 0 {
                    let name = pg_sys::get_func_name(func);
                    !name.is_null()
                        && CStr::from_ptr(name).to_bytes() == b"relay_uuid7"
                        && pg_sys::get_func_namespace(func) == (*(*rel).rd_rel).relnamespace
                } else {
                    func == pg_sys::Oid::from(pg_sys::F_NOW)
                };
            }
        }
        seen == [true, true]
    }
}

/// audit_logs' layout for the fast path, checked once per relcache invalidation.
unsafe fn cached_layout(rel: pg_sys::Relation) -> Option<Vec<Option<usize>>> {
    unsafe {
        let relid = (*rel).rd_id;
        if let Some((cached, layout)) = LAYOUT.with(|l| l.borrow().clone()) {
            if cached == relid {
                return layout;
            }
        }
        let layout = layout(rel);
        LAYOUT.with(|l| *l.borrow_mut() = Some((relid, layout.clone())));
        layout
    }
}

/// Map each attribute of audit_logs to its place in COLUMNS, or None when the
/// table is not the shape the fast path writes: exactly relay's columns (a NOT NULL
/// only where relay put one, id and created_at defaulting to relay_uuid7() and
/// now()), a heap table that is not a partition, no rules, no INSERT triggers, no
/// CHECK constraints, no generated columns. Anything else is written through SQL,
/// which enforces what the DBA added.
unsafe fn layout(rel: pg_sys::Relation) -> Option<Vec<Option<usize>>> {
    unsafe {
        let form = (*rel).rd_rel;
        if (*form).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char
            || (*form).relhasrules
            || (*form).relispartition
            || (*form).relam != pg_sys::HEAP_TABLE_AM_OID
        {
            return None;
        }
        let trig = (*rel).trigdesc;
        if !trig.is_null()
            && ((*trig).trig_insert_before_row
                || (*trig).trig_insert_after_row
                || (*trig).trig_insert_instead_row
                || (*trig).trig_insert_before_statement
                || (*trig).trig_insert_after_statement
                || (*trig).trig_insert_new_table)
        {
            return None;
        }
        let tupdesc = (*rel).rd_att;
        let constr = (*tupdesc).constr;
        if !constr.is_null() && ((*constr).num_check > 0 || (*constr).has_generated_stored) {
            return None;
        }
        let mut map = Vec::with_capacity((*tupdesc).natts as usize);
        let mut seen = 0;
        for i in 0..(*tupdesc).natts as usize {
            let att = crate::pg::compat::tuple_desc_attr(tupdesc, i);
            if (*att).attisdropped {
                map.push(None);
                continue;
            }
            let name = CStr::from_ptr((*att).attname.data.as_ptr()).to_str().ok()?;
            let pos = COLUMNS
                .iter()
                .position(|(n, t)| *n == name && *t == (*att).atttypid)?;
            // NOT NULL where relay put none (the fast path would write NULL there)
            if (*att).attnotnull && !matches!(pos, 0 | 3 | 8) {
                return None;
            }
            map.push(Some(pos));
            seen += 1;
        }
        (seen == COLUMNS.len() && defaults_are_relays(rel, &map)).then_some(map)
    }
}

/// bytea datum in the current memory context.
unsafe fn bytea_datum(bytes: &[u8]) -> pg_sys::Datum {
    unsafe {
        let v = pg_sys::palloc(bytes.len() + pg_sys::VARHDRSZ) as *mut pg_sys::varlena;
        pgrx::set_varsize_4b(v, (bytes.len() + pg_sys::VARHDRSZ) as i32);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), pgrx::vardata_any(v) as *mut u8, bytes.len());
        pg_sys::Datum::from(v)
    }
}

/// Each entry's link in its tenant's hash chain: heads locked in tenant order (so two
/// statements never wait on each other's heads crosswise within one batch), then each
/// entry hashed in order, then the heads moved.
fn link_entries(common: &Common, entries: &[Entry]) -> Vec<super::chain::Link> {
    use super::chain;
    let mut tenants: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.tenant_id.as_deref())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    let mut heads: std::collections::HashMap<&str, (i64, Vec<u8>)> = tenants
        .iter()
        .map(|t| (*t, super::chain_heads::lock(t)))
        .collect();
    let created_at = chain::now_unix_micros();
    let links = entries
        .iter()
        .map(|e| {
            let tenant = e
                .tenant_id
                .as_deref()
                .expect("every entry has a tenant (checked before writing)");
            let (seq, prev) = heads.get_mut(tenant).expect("locked above");
            *seq += 1;
            let id = super::uuid7::new_uuid7();
            // SAFETY: the entry's metadata is a live jsonb datum.
            let hash = unsafe {
                chain::entry_hash(
                    prev,
                    &chain::Hashed {
                        seq: *seq,
                        id: &id,
                        created_at,
                        tenant_id: Some(tenant),
                        actor_id: common.actor_id.as_deref(),
                        action: Some(common.action),
                        resource_type: Some(common.resource_type),
                        resource_id: e.resource_id.as_deref(),
                        ip_address: common.ip_address.as_deref(),
                        metadata: Some(chain::jsonb_bytes(e.metadata)),
                    },
                )
            };
            *prev = hash.to_vec();
            chain::Link {
                id,
                seq: *seq,
                hash,
            }
        })
        .collect();
    for (tenant, (seq, hash)) in heads {
        super::chain_heads::store(tenant, seq, &hash);
    }
    links
}

/// text datum in the current memory context.
unsafe fn text_datum(s: &str) -> pg_sys::Datum {
    unsafe {
        pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            s.as_ptr().cast(),
            s.len() as i32,
        ))
    }
}

/// Returns false (having written nothing) when the fast path does not apply.
///
/// # Safety
/// Runs inside a transaction, in a trigger or SQL function; every PostgreSQL call
/// below raises its errors as PostgreSQL errors, which unwind the transaction.
unsafe fn native_write(
    common: &Common,
    entries: &[Entry],
    links: Option<&[super::chain::Link]>,
) -> bool {
    unsafe {
        let relid = common.audit_logs.relid;
        if relid == pg_sys::InvalidOid {
            return false;
        }
        let rel = pg_sys::table_open(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
        // Writing without SQL skips audit_logs' privileges and policies, as only a
        // superuser would: taken when the table's owner (the extension's owner, whose
        // rights the SQL path uses) is one.
        let owner_is_superuser = pg_sys::superuser_arg((*(*rel).rd_rel).relowner);
        let Some(map) = cached_layout(rel).filter(|_| owner_is_superuser) else {
            pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
            return false;
        };

        let estate = pg_sys::CreateExecutorState();
        let rri = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>())
            as *mut pg_sys::ResultRelInfo;
        pg_sys::InitResultRelInfo(rri, rel, 1, std::ptr::null_mut(), 0);
        pg_sys::ExecOpenIndices(rri, false);
        let cid = pg_sys::GetCurrentCommandId(true);
        let bistate = if entries.len() > 1 {
            pg_sys::GetBulkInsertState()
        } else {
            std::ptr::null_mut()
        };
        let now = pg_sys::Datum::from(pg_sys::GetCurrentTransactionStartTimestamp());
        let n_slots = entries.len().min(BATCH);
        let mut slots: Vec<*mut pg_sys::TupleTableSlot> = (0..n_slots)
            .map(|_| pg_sys::table_slot_create(rel, std::ptr::null_mut()))
            .collect();
        let batch_cxt = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"relay audit batch".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );

        let mut done = 0;
        for chunk in entries.chunks(BATCH) {
            let caller_cxt = pg_sys::MemoryContextSwitchTo(batch_cxt);
            let shared = [
                common.actor_id.as_deref().map(|s| text_datum(s)),
                Some(text_datum(common.action)),
                Some(text_datum(common.resource_type)),
                common.ip_address.as_deref().map(|s| text_datum(s)),
            ];
            for (k, (slot, entry)) in slots.iter().zip(chunk).enumerate() {
                pg_sys::ExecClearTuple(*slot);
                let link = links.map(|l| &l[done + k]);
                let id = pg_sys::palloc(16) as *mut u8;
                let id_bytes = link.map_or_else(super::uuid7::new_uuid7, |l| l.id);
                std::ptr::copy_nonoverlapping(id_bytes.as_ptr(), id, 16);
                let jsonb = entry.metadata;
                let value = |pos: usize| -> Option<pg_sys::Datum> {
                    match pos {
                        0 => Some(pg_sys::Datum::from(id)),
                        1 => shared[0],
                        2 => entry.tenant_id.as_deref().map(|s| text_datum(s)),
                        3 => shared[1],
                        4 => shared[2],
                        5 => entry.resource_id.as_deref().map(|s| text_datum(s)),
                        6 => shared[3],
                        7 => Some(jsonb),
                        8 => Some(now),
                        9 => link.map(|l| pg_sys::Datum::from(l.seq)),
                        _ => link.map(|l| bytea_datum(&l.hash)),
                    }
                };
                for (attno, pos) in map.iter().enumerate() {
                    let v = pos.and_then(value);
                    *(**slot).tts_values.add(attno) = v.unwrap_or(pg_sys::Datum::from(0));
                    *(**slot).tts_isnull.add(attno) = v.is_none();
                }
                pg_sys::ExecStoreVirtualTuple(*slot);
            }
            pg_sys::MemoryContextSwitchTo(caller_cxt);
            if chunk.len() == 1 {
                // One entry (a one-row statement): a plain heap insert, as INSERT makes;
                // a multi-insert of one tuple costs more (its WAL record, its page setup).
                let insert = (*(*rel).rd_tableam)
                    .tuple_insert
                    .expect("a heap table inserts tuples");
                insert(rel, slots[0], cid, 0, bistate);
            } else {
                pg_sys::table_multi_insert(
                    rel,
                    slots.as_mut_ptr(),
                    chunk.len() as i32,
                    cid,
                    0,
                    bistate,
                );
            }
            for slot in &slots[..chunk.len()] {
                crate::pg::compat::insert_index_tuples(rri, *slot, estate);
                pg_sys::ExecClearTuple(*slot);
            }
            pg_sys::MemoryContextReset(batch_cxt);
            done += chunk.len();
        }

        for slot in slots.drain(..) {
            pg_sys::ExecDropSingleTupleTableSlot(slot);
        }
        pg_sys::MemoryContextDelete(batch_cxt);
        if !bistate.is_null() {
            pg_sys::FreeBulkInsertState(bistate);
        }
        pg_sys::ExecCloseIndices(rri);
        pg_sys::FreeExecutorState(estate);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        true
    }
}

thread_local! {
    /// The batched INSERT, prepared once per backend per audit_logs location.
    /// The batched INSERTs, prepared once per backend per audit_logs location: without
    /// and with the chain's columns (id, chain_seq, chain_hash given).
    static INSERT_PLAN: RefCell<Option<(String, pgrx::spi::OwnedPreparedStatement)>> = const { RefCell::new(None) };
    static CHAINED_INSERT_PLAN: RefCell<Option<(String, pgrx::spi::OwnedPreparedStatement)>> = const { RefCell::new(None) };
}

/// The general path: one INSERT ... SELECT FROM unnest(arrays) per batch.
fn sql_write(common: &Common, entries: &[Entry], links: Option<&[super::chain::Link]>) {
    let schema = common.audit_logs.schema.as_str();
    let audit_logs = quote_qualified(schema, "audit_logs");
    let tenants: Vec<Option<String>> = entries.iter().map(|e| e.tenant_id.clone()).collect();
    let resource_ids: Vec<Option<String>> = entries.iter().map(|e| e.resource_id.clone()).collect();
    // SAFETY: each entry's metadata is a live jsonb datum.
    let metadata: Vec<String> = entries
        .iter()
        .map(|e| unsafe { super::jsonb::jsonb_text(e.metadata) })
        .collect();
    let unnest = "pg_catalog.unnest($5::pg_catalog.text[]), pg_catalog.unnest($6::pg_catalog.text[]), pg_catalog.unnest($7::pg_catalog.text[])";
    let (cell, sql, mut types) = match links {
        None => (
            &INSERT_PLAN,
            format!(
                "INSERT INTO {audit_logs} (actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata)
                 SELECT $1, u.tenant_id, $2, $3, u.resource_id, $4, u.metadata::pg_catalog.jsonb
                   FROM ROWS FROM ({unnest}) AS u(tenant_id, resource_id, metadata)"
            ),
            vec![pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTARRAYOID, pg_sys::TEXTARRAYOID, pg_sys::TEXTARRAYOID],
        ),
        Some(_) => (
            &CHAINED_INSERT_PLAN,
            format!(
                "INSERT INTO {audit_logs} (id, actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata, created_at, chain_seq, chain_hash)
                 SELECT u.id, $1, u.tenant_id, $2, $3, u.resource_id, $4, u.metadata::pg_catalog.jsonb, pg_catalog.transaction_timestamp(), u.seq, u.hash
                   FROM ROWS FROM ({unnest}, pg_catalog.unnest($8::pg_catalog.uuid[]), pg_catalog.unnest($9::pg_catalog.int8[]),
                                   pg_catalog.unnest($10::pg_catalog.bytea[])) AS u(tenant_id, resource_id, metadata, id, seq, hash)"
            ),
            vec![pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTOID, pg_sys::TEXTARRAYOID, pg_sys::TEXTARRAYOID, pg_sys::TEXTARRAYOID],
        ),
    };
    if links.is_some() {
        types.extend([
            pg_sys::UUIDARRAYOID,
            pg_sys::INT8ARRAYOID,
            pg_sys::BYTEAARRAYOID,
        ]);
    }
    Spi::connect_mut(|client| {
        cell.with(|cell| {
            let mut cached = cell.borrow_mut();
            if cached
                .as_ref()
                .is_none_or(|(cached_schema, _)| cached_schema != schema)
            {
                let types: Vec<pgrx::PgOid> = types.iter().map(|t| pgrx::PgOid::from(*t)).collect();
                let plan = client
                    .prepare_mut(sql.as_str(), &types)
                    .expect("prepare audit insert")
                    .keep();
                *cached = Some((schema.to_string(), plan));
            }
            let (_, plan) = cached.as_ref().expect("prepared above");
            let mut args = vec![
                common.actor_id.clone().into(),
                common.action.into(),
                common.resource_type.into(),
                common.ip_address.clone().into(),
                tenants.into(),
                resource_ids.into(),
                metadata.into(),
            ];
            if let Some(links) = links {
                args.push(
                    links
                        .iter()
                        .map(|l| pgrx::Uuid::from_bytes(l.id))
                        .collect::<Vec<_>>()
                        .into(),
                );
                args.push(links.iter().map(|l| l.seq).collect::<Vec<_>>().into());
                args.push(
                    links
                        .iter()
                        .map(|l| l.hash.to_vec())
                        .collect::<Vec<_>>()
                        .into(),
                );
            }
            client.update(plan, None, &args).expect("audit insert");
        });
    });
}

thread_local! {
    /// The client's address, looked up once per backend: it does not change.
    static CLIENT_ADDRESS: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// `host(inet_client_addr())`: NULL over a Unix socket.
pub fn client_address() -> Option<String> {
    CLIENT_ADDRESS.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                Spi::get_one::<String>("SELECT pg_catalog.host(pg_catalog.inet_client_addr())")
                    .ok()
                    .flatten()
            })
            .clone()
    })
}

/// One entry for a single call (relay_audit, relay's own entries): chained when the
/// chain is on, else id and created_at from the table's defaults as for any INSERT.
/// `metadata` is a jsonb datum (or None). Runs as the caller: relay_audit is SECURITY
/// DEFINER, relay's own entries switch to the extension's owner around it. Returns
/// the entry's id.
pub struct One<'a> {
    pub tenant: &'a str,
    pub action: &'a str,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    pub metadata: Option<pg_sys::Datum>,
}

/// The statement of `insert_one`: with the chain's columns or without.
fn insert_one_sql(schema: &str, chained: bool) -> String {
    let table = quote_qualified(schema, "audit_logs");
    if chained {
        format!(
            "INSERT INTO {table} (id, actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata, created_at, chain_seq, chain_hash)
             VALUES ($8, $1, $2, $3, $4, $5, $6, $7, pg_catalog.transaction_timestamp(), $9, $10) RETURNING id"
        )
    } else {
        format!(
            "INSERT INTO {table} (actor_id, tenant_id, action, resource_type, resource_id, ip_address, metadata)
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE $8 IS NULL AND $9 IS NULL AND $10 IS NULL RETURNING id"
        )
    }
}

/// The parameters of `insert_one_sql` (the same types whatever the values).
fn insert_one_args<'a>(
    one: &One<'a>,
    actor: Option<String>,
    ip: Option<String>,
    link: Option<&super::chain::Link>,
) -> Vec<pgrx::datum::DatumWithOid<'a>> {
    vec![
        actor.into(),
        one.tenant.into(),
        one.action.into(),
        one.resource_type.into(),
        one.resource_id.into(),
        ip.into(),
        // SAFETY: a jsonb datum passed through untouched.
        match one.metadata {
            Some(d) => unsafe { pgrx::datum::DatumWithOid::new(d, pg_sys::JSONBOID) },
            None => pgrx::datum::DatumWithOid::null_oid(pg_sys::JSONBOID),
        },
        link.map(|l| pgrx::Uuid::from_bytes(l.id)).into(),
        link.map(|l| l.seq).into(),
        link.map(|l| l.hash.to_vec()).into(),
    ]
}

/// Prepare (not run) the kept plan of `insert_one` and look up what it reads once per
/// backend (the chain setting, the client's address), as the extension's owner (as
/// relay's own entries are written): see `guards::isolation::prepare_plans`.
pub fn prepare_insert_one() {
    crate::pg::privilege::as_extension_owner(|| {
        let audit = crate::pg::ext::ext_relation(c"audit_logs");
        let sql = insert_one_sql(&audit.schema, super::chain::on());
        client_address();
        let none = One {
            tenant: "",
            action: "",
            resource_type: None,
            resource_id: None,
            metadata: None,
        };
        Spi::connect(|client| {
            crate::pg::kept_plans::kept(client, &sql, &insert_one_args(&none, None, None, None));
        })
    });
}

pub fn insert_one(one: &One) -> pgrx::Uuid {
    use super::chain;
    let audit = crate::pg::ext::ext_relation(c"audit_logs");
    let actor = crate::context::current_actor();
    let ip = client_address();
    let link = chain::on().then(|| {
        chain::link_one(one.tenant, |previous, seq, id| {
            chain::entry_hash(
                previous,
                &chain::Hashed {
                    seq,
                    id,
                    created_at: chain::now_unix_micros(),
                    tenant_id: Some(one.tenant),
                    actor_id: actor.as_deref(),
                    action: Some(one.action),
                    resource_type: one.resource_type,
                    resource_id: one.resource_id,
                    ip_address: ip.as_deref(),
                    // SAFETY: a jsonb datum the caller holds.
                    metadata: one.metadata.map(|d| unsafe { chain::jsonb_bytes(d) }),
                },
            )
        })
    });
    let sql = insert_one_sql(&audit.schema, link.is_some());
    let args = insert_one_args(one, actor, ip, link.as_ref());
    Spi::connect_mut(|client| {
        crate::pg::kept_plans::update(client, &sql, &args)?
            .first()
            .get_one::<pgrx::Uuid>()
    })
    .expect("audit insert")
    .expect("RETURNING id")
}
