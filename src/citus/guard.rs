//! Citus on every node, seen from relay's ProcessUtility hook: relay's policy stays
//! RESTRICTIVE wherever it is re-created, placements are guarded like their tables,
//! and a bare COPY ... TO of a distributed relay table is refused.
//!
//! relay's RESTRICTIVE policy stays RESTRICTIVE wherever it is re-created.
//!
//! Citus (12.1.9, `commands/policy.c`, `CreatePolicyCommandForPolicy`) re-creates a
//! distributed table's policies on every shard and on the workers' shell tables without
//! `AS RESTRICTIVE`: relay's `tenant_isolation` arrives there PERMISSIVE, and any
//! permissive policy the owner adds is then ORed with it (the owner's `USING
//! (total_uses > 95)` showed every tenant's popular rows on the workers). Citus does
//! this on `relay_distribute`, shard moves, splits, `isolate_tenant_to_new_shard`,
//! rebalances and new tables alike, always through CREATE POLICY on the node that gets
//! the shard. relay's ProcessUtility hook (loaded on every node, README deployment
//! rule) sees each such statement first and makes it RESTRICTIVE again: a CREATE
//! POLICY named `tenant_isolation` whose USING calls relay's tenant function is
//! relay's policy by construction, wherever it comes from.

use crate::plan::POLICY_NAME;
use pgrx::pg_sys;

/// Whether `node` (a raw expression) calls one of relay's policy functions
/// (`relay_policy_tenant`, `_uuid`, `_bigint`).
unsafe fn calls_relay_tenant(node: *mut pg_sys::Node) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: nodeToString prints any parse node; the string is ours to free.
    unsafe {
        let text = pg_sys::nodeToString(node.cast());
        let found = std::ffi::CStr::from_ptr(text)
            .to_bytes()
            .windows(b"relay_policy_tenant".len())
            .any(|w| w == b"relay_policy_tenant");
        pg_sys::pfree(text.cast());
        found
    }
}

/// The statement to run: `pstmt` unchanged, or (for a permissive CREATE POLICY of
/// relay's) a copy made RESTRICTIVE; `read_only_tree` becomes false for a copy.
///
/// # Safety
/// `pstmt` is the planned utility statement PostgreSQL passed to ProcessUtility.
pub unsafe fn keep_restrictive(
    pstmt: *mut pg_sys::PlannedStmt,
    read_only_tree: &mut bool,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: a utility statement's node tree, read, then copied before any change.
    unsafe {
        let stmt = (*pstmt).utilityStmt;
        if stmt.is_null() || (*stmt).type_ != pg_sys::NodeTag::T_CreatePolicyStmt {
            return pstmt;
        }
        let create = stmt as *mut pg_sys::CreatePolicyStmt;
        if !(*create).permissive
            || (*create).policy_name.is_null()
            || std::ffi::CStr::from_ptr((*create).policy_name).to_bytes() != POLICY_NAME.as_bytes()
            || !(calls_relay_tenant((*create).qual) || calls_relay_tenant((*create).with_check))
        {
            return pstmt;
        }
        let pstmt = if *read_only_tree {
            *read_only_tree = false;
            pg_sys::copyObjectImpl(pstmt.cast()) as *mut pg_sys::PlannedStmt
        } else {
            pstmt
        };
        (*((*pstmt).utilityStmt as *mut pg_sys::CreatePolicyStmt)).permissive = false;
        pstmt
    }
}

/// What a statement does to the protection of the relations it names: for each
/// `(relation, what)`, `what` removes part of relay's isolation (NO FORCE / DISABLE
/// ROW LEVEL SECURITY, dropping, altering or renaming relay's policies, dropping,
/// disabling or demoting the TRUNCATE guard).
unsafe fn weakening(stmt: *mut pg_sys::Node) -> Vec<(*mut pg_sys::RangeVar, String)> {
    use crate::plan::{ACCESS_POLICY_NAME, TRUNCATE_GUARD_TRIGGER};
    let name_is = |p: *const std::ffi::c_char, names: &[&str]| -> bool {
        // SAFETY: a NUL-terminated name from the parse tree, or null.
        !p.is_null()
            && names
                .iter()
                .any(|n| unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes() == n.as_bytes())
    };
    let is_guard = |p: *const std::ffi::c_char| -> bool {
        // SAFETY: as above. Citus names a shard's trigger `<name>_<shard id>`.
        !p.is_null()
            && unsafe { std::ffi::CStr::from_ptr(p) }
                .to_bytes()
                .starts_with(TRUNCATE_GUARD_TRIGGER.as_bytes())
    };
    let policies = [POLICY_NAME, ACCESS_POLICY_NAME];
    let mut found = Vec::new();
    // SAFETY: reads the node tree PostgreSQL parsed; every list holds the node type
    // its statement documents.
    unsafe {
        match (*stmt).type_ {
            pg_sys::NodeTag::T_AlterTableStmt => {
                let alter = stmt as *mut pg_sys::AlterTableStmt;
                for cell in crate::pg::list::pointers((*alter).cmds) {
                    let cmd = cell as *mut pg_sys::AlterTableCmd;
                    use pg_sys::AlterTableType as T;
                    let what = match (*cmd).subtype {
                        T::AT_DisableRowSecurity => Some("DISABLE ROW LEVEL SECURITY".to_string()),
                        T::AT_NoForceRowSecurity => Some("NO FORCE ROW LEVEL SECURITY".to_string()),
                        T::AT_DisableTrigAll | T::AT_DisableTrigUser => {
                            Some("DISABLE TRIGGER ALL".to_string())
                        }
                        T::AT_EnableTrigAll | T::AT_EnableTrigUser => {
                            Some("ENABLE TRIGGER ALL (fires on origin only)".to_string())
                        }
                        T::AT_DisableTrig | T::AT_EnableTrig | T::AT_EnableReplicaTrig
                            if is_guard((*cmd).name) =>
                        {
                            Some("a change of the TRUNCATE guard's firing".to_string())
                        }
                        _ => None,
                    };
                    if let Some(what) = what {
                        found.push(((*alter).relation, what));
                    }
                }
            }
            pg_sys::NodeTag::T_AlterPolicyStmt => {
                let alter = stmt as *mut pg_sys::AlterPolicyStmt;
                if name_is((*alter).policy_name, &policies) {
                    found.push(((*alter).table, "ALTER POLICY of relay's policy".to_string()));
                }
            }
            pg_sys::NodeTag::T_RenameStmt => {
                let rename = stmt as *mut pg_sys::RenameStmt;
                let relay_object = match (*rename).renameType {
                    pg_sys::ObjectType::OBJECT_POLICY => name_is((*rename).subname, &policies),
                    pg_sys::ObjectType::OBJECT_TRIGGER => is_guard((*rename).subname),
                    _ => false,
                };
                if relay_object {
                    found.push((
                        (*rename).relation,
                        "renaming relay's policy or guard".to_string(),
                    ));
                }
            }
            pg_sys::NodeTag::T_DropStmt => {
                let drop = stmt as *mut pg_sys::DropStmt;
                let kind = (*drop).removeType;
                if kind != pg_sys::ObjectType::OBJECT_POLICY
                    && kind != pg_sys::ObjectType::OBJECT_TRIGGER
                {
                    return found;
                }
                for cell in crate::pg::list::pointers((*drop).objects) {
                    // [schema,] table, object name
                    let names = cell as *mut pg_sys::List;
                    let length = (*names).length;
                    if length < 2 {
                        continue;
                    }
                    let last = pg_sys::list_nth(names, length - 1) as *mut pg_sys::String;
                    let object = (*last).sval;
                    let relay_object = if kind == pg_sys::ObjectType::OBJECT_POLICY {
                        name_is(object, &policies)
                    } else {
                        is_guard(object)
                    };
                    if relay_object {
                        let table = pg_sys::list_truncate(pg_sys::list_copy(names), length - 1);
                        found.push((
                            pg_sys::makeRangeVarFromNameList(table),
                            "DROP of relay's policy or guard".to_string(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// A Citus shard of a table that carries relay's policy, or a worker's shell table that
/// carries it, and is not in this node's registry (registered tables have the event
/// trigger guard): the table's name and the shard's logical table.
fn unregistered_citus_relation(relid: pg_sys::Oid) -> Option<String> {
    if relid == pg_sys::InvalidOid
        || !crate::pg::probes::citus_installed()
        || crate::pg::probes::registered_now(relid)
    {
        return None;
    }
    // The name from the relcache: Citus hides shards from queries on pg_class.
    // SAFETY: syscache lookups of an existing relation; the name is copied at once.
    let (relname, namespace) = unsafe {
        let name = pg_sys::get_rel_name(relid);
        if name.is_null() {
            return None;
        }
        let owned = std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned();
        pg_sys::pfree(name.cast());
        (owned, pg_sys::get_rel_namespace(relid))
    };
    let shardid = crate::citus::placements::shard_id(&relname);
    crate::pg::privilege::select_optional::<String>(
        &format!(
            "WITH logical AS (
               SELECT s.logicalrelid AS relid FROM pg_catalog.pg_dist_shard s
                 JOIN pg_catalog.pg_class l ON l.oid OPERATOR(pg_catalog.=) s.logicalrelid
                                           AND l.relnamespace OPERATOR(pg_catalog.=) $3
                WHERE s.shardid OPERATOR(pg_catalog.=) $2
               UNION ALL
               SELECT p.logicalrelid FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)
             SELECT pg_catalog.format('%s (a Citus placement of %s)', $1::pg_catalog.regclass, l.relid::pg_catalog.regclass)
               FROM logical l
              WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                             WHERE p.polrelid OPERATOR(pg_catalog.=) l.relid
                               AND p.polname OPERATOR(pg_catalog.=) '{POLICY_NAME}')
              LIMIT 1"
        ),
        &[relid.into(), shardid.into(), namespace.into()],
    )
}

/// Refuse (for a superuser: warn about) a statement that weakens isolation on a Citus
/// shard or shell table of a relay table. relay's event-trigger guard covers the
/// tables in this node's registry; on the workers, the shards and shells are in no
/// registry, and the owner could switch isolation off there (NO FORCE, DROP POLICY,
/// ALTER POLICY ... USING (true), DISABLE TRIGGER) and the coordinator would serve
/// other tenants' rows through them. Citus itself never runs such statements on a
/// placement (it creates and drops whole shards).
///
/// # Safety
/// `stmt` is the utility statement PostgreSQL passed to ProcessUtility.
pub unsafe fn guard_placements(stmt: *mut pg_sys::Node) {
    // SAFETY: reads the statement's node tree.
    let found = unsafe {
        if stmt.is_null() {
            return;
        }
        weakening(stmt)
    };
    if found.is_empty()
        || crate::citus::placements::restoring()
        || !crate::pg::probes::relay_with_citus_here()
    {
        return;
    }
    for (relation, what) in found {
        if relation.is_null() {
            continue;
        }
        // SAFETY: resolves the name as the statement will (no lock: only a lookup).
        let relid = unsafe {
            pg_sys::RangeVarGetRelidExtended(
                relation,
                pg_sys::NoLock as pg_sys::LOCKMODE,
                pg_sys::RVROption::RVR_MISSING_OK,
                None,
                std::ptr::null_mut(),
            )
        };
        let Some(table) =
            crate::pg::privilege::as_extension_owner(|| unregistered_citus_relation(relid))
        else {
            continue;
        };
        // SAFETY: reads the current user's superuser flag.
        if unsafe { pg_sys::superuser() } {
            pgrx::warning!(
                "{what} switches tenant isolation off on {table}: the coordinator then serves other tenants' rows through it. Re-run relay_distribute to restore it."
            );
        } else {
            crate::model::errors::isolation_switched_off(
                &table,
                &what,
                &[format!(
                    "{what} on a Citus placement of a tenant-enabled table"
                )],
            );
        }
    }
}

/// `COPY <distributed relay table> TO ...` by a role subject to its row level security:
/// Citus sends a bare COPY to each shard, where the session's tenant does not reach
/// (it returned 0 rows, silently). Refused, pointing at `COPY (SELECT ...) TO`, which
/// Citus plans as a query, with the tenant.
///
/// # Safety
/// `stmt` is the utility statement PostgreSQL passed to ProcessUtility.
pub unsafe fn refuse_bare_copy_to(stmt: *mut pg_sys::Node) {
    // SAFETY: reads the statement's node tree.
    let relation = unsafe {
        if stmt.is_null() || (*stmt).type_ != pg_sys::NodeTag::T_CopyStmt {
            return;
        }
        let copy = stmt as *mut pg_sys::CopyStmt;
        if (*copy).is_from || (*copy).relation.is_null() || !(*copy).query.is_null() {
            return;
        }
        (*copy).relation
    };
    if !crate::pg::probes::relay_with_citus_here() {
        return;
    }
    // SAFETY: resolves the name as COPY will (no lock: only a lookup).
    let relid = unsafe {
        pg_sys::RangeVarGetRelidExtended(
            relation,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        )
    };
    if relid == pg_sys::InvalidOid || !crate::pg::probes::registered_now(relid) {
        return;
    }
    let distributed = crate::pg::privilege::select_optional::<bool>(
        "SELECT true FROM pg_catalog.pg_dist_partition p
          WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1 AND p.partmethod OPERATOR(pg_catalog.=) 'h'",
        &[relid.into()],
    )
    .unwrap_or(false);
    // SAFETY: row level security of the current user on an existing table.
    let subject = unsafe {
        pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, false)
            == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32
    };
    if distributed && subject {
        crate::model::errors::bare_copy_to_distributed(&crate::pg::ext::relation_name(relid));
    }
}
