//! `relay_security_check()`: what the deployment needs for relay's guarantees, checked
//! on the running server. One row per check, `ok` false with the fix in `detail`.

use crate::pg::privilege;
use crate::pg::probes;
use crate::{context::signed, guards::isolation, pg::ext};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// How many statements pg_stat_statements keeps that name relay.token_key (0 when it
/// is not installed here). Read as the extension's owner: every user's statements.
fn statements_naming_the_key() -> i64 {
    let schema = privilege::select_optional::<String>(
        "SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension e
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
          WHERE e.extname OPERATOR(pg_catalog.=) 'pg_stat_statements'",
        &[],
    );
    let Some(schema) = schema else { return 0 };
    // Without the library loaded at server start the view errors, and keeps nothing.
    if crate::context::current_setting(c"pg_stat_statements.max").is_none() {
        return 0;
    }
    let view = crate::model::quote::quote_qualified(&schema, "pg_stat_statements");
    privilege::as_extension_owner(|| {
        privilege::select_optional::<i64>(
            &format!("SELECT pg_catalog.count(*) FROM {view} WHERE query OPERATOR(pg_catalog.~*) 'relay\\.token_key($|[^_])'"),
            &[],
        )
        .unwrap_or(0)
    })
}

/// One value of a query run as the extension's owner over relay's registry: `sql`
/// gets the registry's qualified name.
fn over_registry(sql: impl FnOnce(&str) -> String) -> Option<String> {
    privilege::as_extension_owner(|| {
        let registry =
            crate::model::quote::quote_qualified(&ext::extension_schema(), "relay_tables");
        privilege::select_optional::<String>(&sql(&registry), &[])
    })
}

/// A check's row: ok when nothing was `found`; else the finding in `bad`'s words.
fn check_row(
    name: &str,
    found: Option<String>,
    ok: &str,
    bad: impl FnOnce(&str) -> String,
) -> (String, bool, String) {
    match found {
        None => (name.to_string(), true, ok.to_string()),
        Some(list) => (name.to_string(), false, bad(&list)),
    }
}

#[pg_extern(volatile, parallel_unsafe)]
fn relay_security_check() -> TableIterator<
    'static,
    (
        name!(check_name, String),
        name!(ok, bool),
        name!(detail, String),
    ),
> {
    // Read once: their own rows report them, and so does relay_verify's count.
    let broken = isolation::broken(None, None);
    let placements = if crate::pg::probes::citus_installed() {
        crate::citus::placements::broken_placements()
    } else {
        Vec::new()
    };
    let mut rows = context_rows();
    rows.extend(isolation_rows(&broken, &placements));
    rows.extend(foreign_key_rows());
    rows.extend(privilege_rows());
    rows.push(verify_row(&broken, &placements));
    TableIterator::new(rows)
}

/// Every error relay_verify() finds fails the deployment check too: the two checks
/// agree (a DBA who runs only this one misses none of them).
fn verify_row(
    broken: &[(String, String)],
    placements: &[(String, String, String)],
) -> (String, bool, String) {
    let errors: Vec<String> = crate::api::verify::findings_given(broken, placements)
        .into_iter()
        .filter(|f| f.0 == "error")
        .map(|(_, object, problem, _)| format!("{object}: {problem}"))
        .collect();
    let shown = errors
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    let more = match errors.len() {
        n if n > 10 => format!(" (and {} more)", n - 10),
        _ => String::new(),
    };
    check_row(
        "verify_errors",
        (!errors.is_empty()).then(|| format!("{shown}{more}")),
        "relay_verify() finds no error",
        |list| {
            format!("relay_verify() finds {} error(s): {list}. Fix: SELECT object, fix FROM relay_verify() WHERE severity = 'error' prints the SQL for each", errors.len())
        },
    )
}

/// The session setup relay's guarantees rest on: preload, context mode and key.
fn context_rows() -> Vec<(String, bool, String)> {
    let mut rows = Vec::new();
    let loaded = crate::pg::ext::preloaded();
    rows.push((
        "preloaded".to_string(),
        loaded,
        if loaded {
            "relay_tenancy is loaded at session start: the EXPLAIN ANALYZE guard and the signed-mode setting guard hold from the first statement".to_string()
        } else {
            "relay_tenancy is not in shared_preload_libraries or session_preload_libraries: a session's EXPLAIN ANALYZE can count other tenants' rows, and in signed mode a SET before the library loads goes unchecked. Fix: ALTER SYSTEM SET session_preload_libraries = 'relay_tenancy' (new sessions), or shared_preload_libraries (restart)".to_string()
        },
    ));
    let mode = signed::mode();
    let key = signed::current_key();
    rows.push((
        "context_mode".to_string(),
        mode == signed::ContextMode::Open || matches!(key, Some(Ok(_))),
        match (mode, &key) {
            (signed::ContextMode::Open, _) => "open: any role may set app.current_tenant_id (README \"Security model\")".to_string(),
            (_, Some(Ok(_))) => "signed: roles subject to row level security set the tenant only with a token, each token once".to_string(),
            (_, Some(Err(problem))) => format!("signed, but the key cannot be used: {problem}. Fix: the file must exist, belong to the server's user, have mode 0600 and hold 32+ characters"),
            (_, None) => "signed, but no key is configured: no token can be checked. Fix: openssl rand -hex 32 > <file>; chmod 600 <file> (as the server's user); ALTER SYSTEM SET relay.token_key_file = '<file>'; SELECT pg_reload_conf()".to_string(),
        },
    ));
    // A key in a setting leaks: to the server log on every reload ("parameter changed
    // to ..."), into pg_db_role_setting (readable by every role) with ALTER
    // DATABASE/ROLE SET, and into pg_stat_statements with ALTER SYSTEM.
    let in_setting = signed::TOKEN_KEY
        .get()
        .is_some_and(|k| !k.as_bytes().is_empty());
    let key_in_catalog = privilege::select_optional::<i64>(
        "SELECT pg_catalog.count(*) FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c
          WHERE c OPERATOR(pg_catalog.~~) 'relay.token\\_key=%'",
        &[],
    )
    .unwrap_or(0);
    rows.push((
        "token_key_private".to_string(),
        !in_setting && key_in_catalog == 0,
        if key_in_catalog > 0 {
            "relay.token_key is set with ALTER DATABASE/ROLE ... SET, and pg_db_role_setting is readable by every role. Fix: RESET it there, put the key in a file (relay.token_key_file) and change it".to_string()
        } else if in_setting {
            "relay.token_key holds the key: PostgreSQL writes it to the server log on every reload, and ALTER SYSTEM's statement text keeps it in pg_stat_statements. Fix: put the key in a file owned by the server's user, mode 0600; ALTER SYSTEM SET relay.token_key_file = '<file>'; ALTER SYSTEM RESET relay.token_key; SELECT pg_reload_conf()".to_string()
        } else {
            "no key in a setting: signed mode's key comes from relay.token_key_file".to_string()
        },
    ));
    let statements = statements_naming_the_key();
    rows.push((
        "token_key_not_in_statements".to_string(),
        statements == 0,
        if statements == 0 {
            "no statement text kept by pg_stat_statements names relay.token_key".to_string()
        } else {
            format!("pg_stat_statements keeps {statements} statement(s) naming relay.token_key (an ALTER SYSTEM SET of the key, readable by pg_monitor). Fix: SELECT pg_stat_statements_reset(); and treat that key as known: change it")
        },
    ));
    rows
}

/// Tenant-enabled tables, and on Citus every placement and node, still isolated.
fn isolation_rows(
    broken: &[(String, String)],
    placements: &[(String, String, String)],
) -> Vec<(String, bool, String)> {
    let mut rows = Vec::new();
    rows.push((
        "tables_isolated".to_string(),
        broken.is_empty(),
        if broken.is_empty() {
            "every tenant-enabled table has row level security forced, relay's RESTRICTIVE policy and the TRUNCATE guard".to_string()
        } else {
            let list: Vec<String> = broken.iter().map(|(t, p)| format!("{t}: {p}")).collect();
            format!("{}. Fix: SELECT relay_enable_tenancy('<table>') for each", list.join("; "))
        },
    ));
    // Citus: every placement guarded like its table, every node set like this one.
    if crate::pg::probes::citus_installed() {
        rows.push((
            "placements_isolated".to_string(),
            placements.is_empty(),
            if placements.is_empty() {
                "every Citus placement of a tenant-enabled table has row level security forced, relay's RESTRICTIVE policy and the TRUNCATE guard".to_string()
            } else {
                let list: Vec<String> = placements.iter().map(|(t, p, problem)| format!("{t} on {p}: {problem}")).collect();
                format!("{}. Fix: SELECT relay_distribute() restores them", list.join("; "))
            },
        ));
        let explain = crate::citus::placements::explain_open_nodes();
        rows.push((
            "citus_explain_closed".to_string(),
            explain.is_empty(),
            if explain.is_empty() {
                "PUBLIC cannot run Citus's EXPLAIN ANALYZE of shard queries (worker_save_query_explain_analyze) on any node".to_string()
            } else {
                format!("PUBLIC may run Citus's EXPLAIN ANALYZE of shard queries on {}: its row counts include the rows row level security hides. Fix: SELECT relay_distribute() revokes it on every node", explain.join(", "))
            },
        ));
        let nodes = crate::citus::placements::nodes_differing();
        rows.push((
            "nodes_alike".to_string(),
            nodes.is_empty(),
            if nodes.is_empty() {
                "every Citus node preloads relay_tenancy with this node's context mode and key state".to_string()
            } else {
                let list: Vec<String> = nodes.iter().map(|(n, line, here)| format!("{n} has {line} (this node: {here})")).collect();
                format!("{}. Fix: the same shared_preload_libraries, relay.context_mode and relay.token_key_file on every node (a worker in open mode lets any role set the tenant there)", list.join("; "))
            },
        ));
    }
    rows
}

/// Foreign keys between tenant-enabled tables, and code on relay's own tables.
fn foreign_key_rows() -> Vec<(String, bool, String)> {
    let mut rows = Vec::new();
    // Foreign keys between tenant-enabled tables that do not include the tenant column:
    // kept single-column on request (keep_foreign_keys), or left so (tables enabled
    // by an earlier version, keys to a table keyed by another tenant column).
    let (kept, open): (Vec<String>, Vec<String>) = privilege::as_extension_owner(|| {
        let registry =
            crate::model::quote::quote_qualified(&ext::extension_schema(), "relay_tables");
        Spi::connect(|client| {
            let rows = client
                .select(
                    &crate::api::verify::single_column_foreign_keys_sql(&registry),
                    None,
                    &[],
                )
                .expect("foreign key check");
            let mut kept = Vec::new();
            let mut open = Vec::new();
            for row in rows {
                let name = row.get::<String>(1).unwrap().unwrap_or_default();
                if row.get::<bool>(2).unwrap().unwrap_or(false) {
                    kept.push(name);
                } else {
                    open.push(name);
                }
            }
            (kept, open)
        })
    });
    rows.push((
        "foreign_keys_composite".to_string(),
        open.is_empty(),
        match (open.is_empty(), kept.is_empty()) {
            (true, true) => "every foreign key between tenant-enabled tables includes the tenant column".to_string(),
            (true, false) => format!("every foreign key between tenant-enabled tables includes the tenant column, but those kept single-column on request: {}", kept.join(", ")),
            (false, _) => format!(
                "single-column foreign keys between tenant-enabled tables (a row can reference another tenant's row): {}. Fix: SELECT relay_enable_tenancy('<either table>') makes them composite{}",
                open.join(", "),
                if kept.is_empty() { String::new() } else { format!("; kept on request: {}", kept.join(", ")) }
            ),
        },
    ));
    // Tables created after the conversion that belong to tenants but are not enabled:
    // they reference a tenant-enabled table, or have its schema's tenant column.
    let later: Option<String> = privilege::as_extension_owner(|| {
        let registry =
            crate::model::quote::quote_qualified(&ext::extension_schema(), "relay_tables");
        privilege::select_optional::<String>(
            &format!(
                "SELECT pg_catalog.string_agg(t, ', ' ORDER BY t) FROM (
                   SELECT DISTINCT c.oid::pg_catalog.regclass::pg_catalog.text AS t
                     FROM pg_catalog.pg_class c
                    WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[]) AND NOT c.relispartition
                      AND c.relpersistence OPERATOR(pg_catalog.=) 'p'
                      AND NOT EXISTS (SELECT FROM {registry} r WHERE r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) c.oid)
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend x
                                       WHERE x.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                                         AND x.objid OPERATOR(pg_catalog.=) c.oid AND x.deptype OPERATOR(pg_catalog.=) 'e')
                      AND (EXISTS (SELECT FROM pg_catalog.pg_constraint f JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) f.confrelid
                                    WHERE f.conrelid OPERATOR(pg_catalog.=) c.oid AND f.contype OPERATOR(pg_catalog.=) 'f')
                        OR EXISTS (SELECT FROM {registry} r JOIN pg_catalog.pg_class rc ON rc.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
                                     JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid
                                                                   AND a.attname OPERATOR(pg_catalog.=) r.tenant_column AND NOT a.attisdropped
                                    WHERE rc.relnamespace OPERATOR(pg_catalog.=) c.relnamespace))) later"
            ),
            &[],
        )
    });
    rows.push((
        "later_tables_enabled".to_string(),
        later.is_none(),
        match &later {
            None => "no table outside relay references a tenant-enabled table or has its schema's tenant column".to_string(),
            Some(list) => format!("not tenant-enabled, yet referencing a tenant-enabled table or having its schema's tenant column (created after the conversion?): {list}. Every role that may read them reads every tenant's rows. Fix: SELECT relay_enable_tenancy('<table>') (tenant_from => '<foreign key>' for a table without the column; relay_verify() gives each statement), or relay.auto_enable = on for tables to come"),
        },
    ));
    let mut foreign = Vec::new();
    for name in ext::OWN_TABLES {
        for trigger in probes::foreign_triggers(ext::ext_relation(name).relid) {
            foreign.push(format!("{trigger} on {}", name.to_string_lossy()));
        }
    }
    rows.push((
        "relay_tables_untouched".to_string(),
        foreign.is_empty(),
        if foreign.is_empty() {
            "relay's own tables carry only relay's triggers".to_string()
        } else {
            format!("triggers that would run with relay's privileges: {}. Fix: drop them and revoke TRIGGER on relay's tables", foreign.join(", "))
        },
    ));
    rows
}

/// Privileges and objects around relay's tables.
fn privilege_rows() -> Vec<(String, bool, String)> {
    let mut rows = Vec::new();
    let open_counters = privilege::select_optional::<String>(
        "SELECT pg_catalog.string_agg(DISTINCT p.proname::pg_catalog.text, ', ')
           FROM pg_catalog.pg_proc p
          WHERE p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
            AND (p.proname OPERATOR(pg_catalog.~~) 'pg\\_stat\\_get\\_%tuples\\_%'
                 OR p.proname OPERATOR(pg_catalog.~) '^pg_stat_get_(xact_)?(numscans|lastscan|live_tuples|dead_tuples|mod_since_analyze|ins_since_vacuum)$'
                 OR p.proname OPERATOR(pg_catalog.~) '^pg_stat_get_(last_|total_)?(auto)?(vacuum|analyze)_(count|time)$')
            AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')",
        &[],
    );
    rows.push((
        "statistics_counters_private".to_string(),
        open_counters.is_none(),
        match open_counters {
            None => "per-relation statistics counters are not executable by PUBLIC (they count rows row level security hides)".to_string(),
            Some(list) => format!("PUBLIC may call {list}: a role can count the index entries its queries read, including other tenants', and so probe their values. Fix: REVOKE EXECUTE ON FUNCTION ... FROM PUBLIC (CREATE EXTENSION relay_tenancy does, in the database it is created in)"),
        },
    ));
    // Privileges on relay's tables held by roles other than their owner: a sloppy
    // GRANT ALL gives nothing through row level security and the guards, but
    // REFERENCES on tenants still lets a role probe which tenant ids exist. The one
    // grant the README asks for is accepted: REFERENCES on tenants to a migration
    // role, i.e. a role that owns tables (its keys to tenants are created as it).
    let grants = privilege::select_optional::<String>(
        "SELECT pg_catalog.string_agg(pg_catalog.format('%s on %s to %s', a.privilege_type, c.relname,
                                                        CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END),
                                      ', ' ORDER BY c.relname, a.privilege_type, r.rolname)
                OPERATOR(pg_catalog.||) E'\\x1f' OPERATOR(pg_catalog.||)
                pg_catalog.string_agg(pg_catalog.format('REVOKE %s ON %s FROM %s', a.privilege_type, c.oid::pg_catalog.regclass,
                                                        CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END),
                                      '; ' ORDER BY c.relname, a.privilege_type, r.rolname)
           FROM pg_catalog.pg_class c
          CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
           LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
          WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1)
            AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
            AND NOT (c.relname OPERATOR(pg_catalog.=) 'audit_logs' AND a.privilege_type OPERATOR(pg_catalog.=) 'SELECT')
            AND NOT (c.relname OPERATOR(pg_catalog.=) 'tenants' AND a.privilege_type OPERATOR(pg_catalog.=) 'REFERENCES'
                     AND EXISTS (SELECT FROM pg_catalog.pg_class t
                                  WHERE t.relowner OPERATOR(pg_catalog.=) a.grantee
                                    AND t.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[])
                                    AND t.relnamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog'::pg_catalog.regnamespace,
                                                                                          'information_schema'::pg_catalog.regnamespace]::pg_catalog.oid[])))",
        &[ext::OWN_TABLES
            .iter()
            .map(|n| ext::ext_relation(n).relid)
            .collect::<Vec<_>>()
            .into()],
    );
    rows.push((
        "relay_tables_not_granted".to_string(),
        grants.is_none(),
        match grants {
            None => "no role but the owner holds privileges on relay's tables (beyond SELECT on audit_logs, and REFERENCES on tenants for roles that own tables)".to_string(),
            Some(found) => {
                let (list, fix) = found.split_once('\u{1f}').unwrap_or((found.as_str(), ""));
                format!("granted to other roles: {list}. Row level security and the guards make these harmless except REFERENCES on tenants (a role can then probe which tenant ids exist) and TRIGGER (refused at use). Fix: {fix}")
            }
        },
    ));
    // INVALID indexes on tenant-enabled tables: a failed concurrent build of the online
    // path, still maintained (and, if unique, enforced) on every write.
    let invalid = over_registry(|registry| {
        format!(
            "SELECT pg_catalog.string_agg(i.indexrelid::pg_catalog.regclass::pg_catalog.text, ', ' ORDER BY i.indexrelid)
               FROM pg_catalog.pg_index i JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) i.indrelid
              WHERE NOT i.indisvalid"
        )
    });
    rows.push(check_row("indexes_valid", invalid, "no INVALID index on a tenant-enabled table", |list| {
        format!("INVALID indexes (a concurrent build that failed or was cancelled): {list}. Fix: DROP INDEX CONCURRENTLY each, then run the online plan again (SELECT * FROM relay_verify() has the statements)")
    }));
    // A relay_* function in another schema: with that schema earlier in a
    // search_path ("$user" comes first by default), an unqualified call reaches it
    // instead of relay's, and it receives the tenant tokens.
    let shadows = privilege::select_optional::<String>(
        "SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%I.%I', n.nspname, p.proname), ', ')
           FROM pg_catalog.pg_proc p
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
          WHERE p.proname OPERATOR(pg_catalog.~~) 'relay\\_%'
            -- relay's own live in two schemas (relay, and public for the ones users call)
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
                             WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                               AND d.objid OPERATOR(pg_catalog.=) p.oid
                               AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                               AND d.refobjid OPERATOR(pg_catalog.=) $1
                               AND d.deptype OPERATOR(pg_catalog.=) 'e')
            AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema']::pg_catalog.name[])
            -- pg_temp is never searched for functions
            AND n.nspname OPERATOR(pg_catalog.!~) '^pg_temp_'",
        // SAFETY: a catalog lookup by name that returns InvalidOid when missing.
        &[unsafe { pg_sys::get_extension_oid(c"relay_tenancy".as_ptr(), true) }.into()],
    );
    rows.push(check_row("relay_functions_not_shadowed", shadows, "no relay_* function but relay's own", |list| {
        format!("functions named like relay's that are not relay's: {list}. A search_path that lists their schema first (\"$user\" is first by default) calls them instead of relay's, and they would receive tenant tokens. Fix: drop or rename them, and call relay's functions schema-qualified")
    }));
    // TRIGGER on a tenant-enabled table held by a role whose row level security
    // applies: CREATE TRIGGER is refused at use (the DDL guard), but the grant is a
    // mistake to fix (GRANT ALL gives it).
    let trigger_grants = over_registry(|registry| {
        format!(
            "SELECT pg_catalog.string_agg(pg_catalog.format('TRIGGER on %s to %s', c.oid::pg_catalog.regclass,
                                                                CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END),
                                              ', ' ORDER BY c.oid::pg_catalog.regclass::pg_catalog.text, r.rolname)
                        OPERATOR(pg_catalog.||) E'\\x1f' OPERATOR(pg_catalog.||)
                        pg_catalog.string_agg(pg_catalog.format('REVOKE TRIGGER ON %s FROM %s', c.oid::pg_catalog.regclass,
                                                                CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END),
                                              '; ' ORDER BY c.oid::pg_catalog.regclass::pg_catalog.text, r.rolname)
                   FROM {registry} t
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.relid::pg_catalog.oid
                  CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
                   LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
                  WHERE a.privilege_type OPERATOR(pg_catalog.=) 'TRIGGER'
                    AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
                    AND NOT COALESCE(r.rolsuper OR r.rolbypassrls, false)"
        )
    });
    rows.push(check_row(
        "trigger_not_granted",
        trigger_grants,
        "no role subject to row level security holds TRIGGER on a tenant-enabled table",
        |found| {
            let (list, fix) = found.split_once('\u{1f}').unwrap_or((found, ""));
            format!("{list}: a trigger would see every tenant's rows as they are written (relay refuses CREATE TRIGGER by such roles, 42501). Fix: {fix}")
        },
    ));
    rows
}
