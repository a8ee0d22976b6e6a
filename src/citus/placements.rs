//! Citus placements guarded like their tables, checked on every node (issue 19).
//!
//! On the workers, a relay table's shards are in no registry: relay's event-trigger
//! guard and `guards::isolation::broken` do not see them. This module gives each node
//! two small functions the coordinator calls through Citus
//! (`run_command_on_placements`, `run_command_on_all_nodes`):
//! - `relay_placement_problems(placement)`: what is wrong with one placement (row
//!   level security flags, relay's RESTRICTIVE policy, the TRUNCATE guard);
//! - `relay_restore_placement(placement)`: put those back, from the node's own Citus
//!   metadata (the repair a re-run of `relay_distribute` runs; relay's placement guard
//!   lets it through);
//! - `relay_node_settings()`: this node's preload, context mode and key state,
//!   compared with the coordinator's by `relay_security_check`.

use crate::model::quote::{quote_ident, quote_qualified};
use crate::pg::privilege;
use crate::pg::settings;
use crate::plan::{POLICY_NAME, TRUNCATE_GUARD_TRIGGER};
use crate::{pg::ext, pg::regclass::RegClass};
use pgrx::prelude::*;
use std::cell::Cell;

thread_local! {
    /// relay_restore_placement is changing relay's objects on a placement.
    static RESTORING: Cell<bool> = const { Cell::new(false) };
}

/// Whether relay itself is restoring a placement (the placement guard lets it pass).
pub fn restoring() -> bool {
    RESTORING.with(|r| r.get())
}

/// Citus hides shards from queries on pg_class in most sessions; relay reads them.
fn shards_visible() -> settings::SettingsScope {
    settings::SettingsScope::with(&[(c"citus.override_table_visibility", c"off")])
}

/// `(relrowsecurity, relforcerowsecurity, restrictive policy ok, guard trigger name and
/// its tgenabled)` of a placement.
fn placement_state(relid: pg_sys::Oid) -> (bool, bool, bool, Option<(String, String)>) {
    let _visible = shards_visible();
    Spi::connect(|client| {
        let row = client
            .select(
                &format!(
                    "SELECT c.relrowsecurity, c.relforcerowsecurity,
                            EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                                     WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                                       AND p.polname OPERATOR(pg_catalog.=) '{POLICY_NAME}' AND NOT p.polpermissive
                                       AND p.polcmd OPERATOR(pg_catalog.=) '*'
                                       AND p.polroles OPERATOR(pg_catalog.=) '{{0}}'::pg_catalog.oid[]),
                            g.tgname::pg_catalog.text, g.tgenabled::pg_catalog.text
                       FROM pg_catalog.pg_class c
                       LEFT JOIN LATERAL (SELECT t.tgname, t.tgenabled FROM pg_catalog.pg_trigger t
                                           WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid
                                             AND pg_catalog.starts_with(t.tgname::pg_catalog.text, '{TRUNCATE_GUARD_TRIGGER}')
                                           ORDER BY t.tgenabled OPERATOR(pg_catalog.=) 'A' DESC LIMIT 1) g ON true
                      WHERE c.oid OPERATOR(pg_catalog.=) $1"
                ),
                Some(1),
                &[relid.into()],
            )
            .expect("placement state")
            .first();
        let flag = |i: usize| row.get::<bool>(i).ok().flatten().unwrap_or(false);
        let guard = match (
            row.get::<String>(4).ok().flatten(),
            row.get::<String>(5).ok().flatten(),
        ) {
            (Some(name), Some(enabled)) => Some((name, enabled)),
            _ => None,
        };
        (flag(1), flag(2), flag(3), guard)
    })
}

/// What is wrong with the isolation of placement `placement` on this node: NULL when
/// nothing is.
#[pg_extern(stable, strict, parallel_safe)]
fn relay_placement_problems(placement: RegClass) -> Option<String> {
    let (rls, force, restrictive, guard) = placement_state(placement.0);
    let mut problems = Vec::new();
    if !rls {
        problems.push("row level security is disabled".to_string());
    }
    if !force {
        problems.push("row level security is not forced, so the owner bypasses it".to_string());
    }
    if !restrictive {
        problems.push(format!(
            "policy {POLICY_NAME} is missing or PERMISSIVE (then any permissive policy is ORed with relay's)"
        ));
    }
    match guard {
        Some((_, enabled)) if enabled == "A" => {}
        _ => problems.push(format!(
            "trigger {TRUNCATE_GUARD_TRIGGER} is missing or no longer fires ALWAYS"
        )),
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The shard id a Citus shard's name ends with (`<table>_<shard id>`, quoted or not);
/// 0 when there is none.
pub fn shard_id(name: &str) -> i64 {
    name.trim_end_matches('"')
        .rsplit_once('_')
        .and_then(|(_, id)| id.parse().ok())
        .unwrap_or(0)
}

/// The logical table, tenant (distribution) column and its type key of Citus shard
/// `placement`, from this node's Citus metadata; None when it is not a shard of a
/// hash-distributed table.
fn shard_of(placement: pg_sys::Oid) -> Option<(String, String, String)> {
    // Citus names a shard `<table>_<shard id>`.
    let name = {
        let _visible = shards_visible();
        ext::relation_name(placement)
    };
    let shardid = shard_id(&name);
    if shardid == 0 {
        return None;
    }
    Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT s.logicalrelid::pg_catalog.regclass::pg_catalog.text, a.attname::pg_catalog.text,
                        CASE a.atttypid WHEN 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                        WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN 'bigint'
                                        WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 'integer'
                                        ELSE 'text' END
                   FROM pg_catalog.pg_dist_shard s
                   JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid OPERATOR(pg_catalog.=) s.logicalrelid
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) s.logicalrelid
                                                 AND a.attname OPERATOR(pg_catalog.=) pg_catalog.column_to_column_name(s.logicalrelid, p.partkey)
                  WHERE s.shardid OPERATOR(pg_catalog.=) $1 AND p.partmethod OPERATOR(pg_catalog.=) 'h'",
                Some(1),
                &[shardid.into()],
            )
            .ok()?;
        let row = rows.first();
        Some((
            row.get::<String>(1).ok()??,
            row.get::<String>(2).ok()??,
            row.get::<String>(3).ok()??,
        ))
    })
}

/// Put relay's isolation back on Citus placement `placement` (a shard on this node):
/// row level security enabled and forced, `tenant_isolation` RESTRICTIVE with relay's
/// rule on the shard's tenant (distribution) column, the TRUNCATE guard firing ALWAYS.
/// Everything it needs comes from this node's catalogs. Runs as the caller, who must
/// own the placement. Returns the statements it ran.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn relay_restore_placement(placement: RegClass) -> Vec<String> {
    let Some((logical, tenant_column, type_key)) = shard_of(placement.0) else {
        crate::model::errors::not_a_placement(&ext::relation_name(placement.0));
    };
    let (rls, force, restrictive, guard) = placement_state(placement.0);
    let name = {
        let _visible = shards_visible();
        ext::relation_name(placement.0)
    };
    let schema = ext::extension_schema();
    let rule = format!(
        "({})",
        crate::plan::direct_rule(
            &schema,
            &logical,
            &quote_ident(&tenant_column),
            crate::model::tenant_type::TenantType::from_key(&type_key)
        )
    );
    let mut statements = Vec::new();
    if !rls {
        statements.push(format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"));
    }
    if !force {
        statements.push(format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY"));
    }
    if !restrictive {
        statements.push(format!("DROP POLICY IF EXISTS {POLICY_NAME} ON {name}"));
        statements.push(format!(
            "CREATE POLICY {POLICY_NAME} ON {name} AS RESTRICTIVE FOR ALL TO PUBLIC USING {rule} WITH CHECK {rule}"
        ));
    }
    match &guard {
        Some((trigger, enabled)) if enabled != "A" => statements.push(format!(
            "ALTER TABLE {name} ENABLE ALWAYS TRIGGER {}",
            quote_ident(trigger)
        )),
        Some(_) => {}
        None => {
            // Citus creates triggers on shards only with citus.enable_unsafe_triggers
            // on: a table enabled after it was distributed has none on its placements.
            let trigger = quote_ident(&format!("{TRUNCATE_GUARD_TRIGGER}_{}", shard_id(&name)));
            statements.push(format!(
                "CREATE TRIGGER {trigger} BEFORE TRUNCATE ON {name} FOR EACH STATEMENT EXECUTE FUNCTION {}.{TRUNCATE_GUARD_TRIGGER}()",
                quote_ident(&schema)
            ));
            statements.push(format!(
                "ALTER TABLE {name} ENABLE ALWAYS TRIGGER {trigger}"
            ));
        }
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            RESTORING.with(|r| r.set(false));
        }
    }
    RESTORING.with(|r| r.set(true));
    let _reset = Reset;
    for sql in &statements {
        Spi::run(sql).expect("restore placement");
    }
    statements
}

/// This node's preload, context mode and key, as one line the coordinator compares
/// with its own.
#[pg_extern(stable, parallel_safe)]
fn relay_node_settings() -> String {
    let key = match crate::context::signed::current_key() {
        None => "none",
        Some(Ok(_)) => "usable",
        Some(Err(_)) => "unusable",
    };
    format!(
        "preloaded={}, context_mode={}, key={key}",
        crate::pg::ext::preloaded(),
        match crate::context::signed::mode() {
            crate::context::signed::ContextMode::Open => "open",
            _ => "signed",
        }
    )
}

/// The relay tables Citus distributed, by name.
pub fn distributed_tables() -> Vec<String> {
    if !crate::pg::probes::citus_installed() {
        return Vec::new();
    }
    let registry = quote_qualified(&ext::extension_schema(), "relay_tables");
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            client
                .select(
                    &format!(
                        "SELECT r.relid::pg_catalog.regclass::pg_catalog.text
                           FROM {registry} r
                           JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
                          WHERE p.partmethod OPERATOR(pg_catalog.=) 'h'
                          ORDER BY 1"
                    ),
                    None,
                    &[],
                )
                .expect("distributed tables")
                .map(|r| r.get::<String>(1).unwrap().unwrap())
                .collect()
        })
    })
}

/// How a placement's result starts when the command failed there.
const COULD_NOT: &str = "could not check: ";

/// A literal naming the placement `%s` of table `table`. Citus substitutes
/// `shard_name()`, which leaves a shard in `public` unqualified; the worker connection
/// keeps relay's pinned search_path, so that one is qualified here.
fn in_schema_of(table: &str) -> String {
    let public = privilege::select_optional::<bool>(
        "SELECT c.relnamespace OPERATOR(pg_catalog.=) 'public'::pg_catalog.regnamespace FROM pg_catalog.pg_class c
          WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
        &[table.into()],
    )
    .unwrap_or(false);
    crate::model::quote::quote_literal(if public { "public.%s" } else { "%s" })
}

/// Run `command` (with `%s` for the placement) on every placement of `table`:
/// `(placement's node and shard, result)`, an error's text as the result.
fn on_placements(table: &str, command: &str) -> Vec<(String, String)> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT pg_catalog.format('%s:%s shard %s', r.nodename, r.nodeport, r.shardid), r.success, r.result
                   FROM pg_catalog.run_command_on_placements($1::pg_catalog.regclass, $2) r ORDER BY r.shardid, r.nodeport",
                None,
                &[table.into(), command.into()],
            )
            .expect("run_command_on_placements")
            .map(|r| {
                let ok = r.get::<bool>(2).unwrap().unwrap_or(false);
                let result = r.get::<String>(3).unwrap().unwrap_or_default();
                (
                    r.get::<String>(1).unwrap().unwrap_or_default(),
                    if ok {
                        result
                    } else {
                        format!("{COULD_NOT}{result}")
                    },
                )
            })
            .filter(|(_, result)| !result.is_empty())
            .collect()
    })
}

/// Every placement of every distributed relay table whose isolation is broken:
/// `(table, placement, problem)`.
pub fn broken_placements() -> Vec<(String, String, String)> {
    broken_placements_of(&distributed_tables())
}

/// `broken_placements` of the tables `among`.
fn broken_placements_of(among: &[String]) -> Vec<(String, String, String)> {
    let schema = quote_ident(ext::API_SCHEMA);
    let mut found = Vec::new();
    for table in among {
        let table = table.clone();
        let command = format!(
            "SELECT {schema}.relay_placement_problems({}::pg_catalog.regclass)",
            in_schema_of(&table)
        );
        for (placement, problem) in on_placements(&table, &command) {
            found.push((table.clone(), placement, problem));
        }
    }
    found
}

/// Restore the placements of `among` (distributed relay tables, by name) whose
/// isolation is broken: what was changed, per placement (nothing when every placement
/// is isolated). Tables distributed in the caller's transaction are not among them:
/// Citus's commands run on other connections, which do not see their shards yet.
pub fn restore_placements(among: &[String]) -> Vec<String> {
    let schema = quote_ident(ext::API_SCHEMA);
    let mut tables: Vec<String> = broken_placements_of(among)
        .into_iter()
        .filter(|(_, _, problem)| !problem.starts_with(COULD_NOT))
        .map(|(t, _, _)| t)
        .collect();
    tables.dedup();
    let mut done = Vec::new();
    for table in tables {
        let command = format!(
            "SELECT pg_catalog.array_to_string({schema}.relay_restore_placement({}::pg_catalog.regclass), '; ')",
            in_schema_of(&table)
        );
        for (placement, changed) in on_placements(&table, &command) {
            done.push(format!("restored {table} on {placement}: {changed}"));
        }
    }
    done
}

/// Each node's settings line that differs from the coordinator's: `(node, line)`.
pub fn nodes_differing() -> Vec<(String, String, String)> {
    if !crate::pg::probes::citus_installed() {
        return Vec::new();
    }
    let here = relay_node_settings();
    let schema = quote_ident(ext::API_SCHEMA);
    Spi::connect(|client| {
        client
            .select(
                "SELECT pg_catalog.format('%s:%s', n.nodename, n.nodeport), r.success, r.result
                   FROM pg_catalog.run_command_on_all_nodes($1) r
                   JOIN pg_catalog.pg_dist_node n ON n.nodeid OPERATOR(pg_catalog.=) r.nodeid
                  ORDER BY r.nodeid",
                None,
                &[format!("SELECT {schema}.relay_node_settings()").into()],
            )
            .expect("run_command_on_all_nodes")
            .map(|r| {
                (
                    r.get::<String>(1).unwrap().unwrap_or_default(),
                    r.get::<bool>(2).unwrap().unwrap_or(false),
                    r.get::<String>(3).unwrap().unwrap_or_default(),
                )
            })
            .filter(|(_, ok, line)| !ok || *line != here)
            .map(|(node, ok, line)| {
                (
                    node,
                    if ok {
                        line
                    } else {
                        format!("could not check: {line}")
                    },
                    here.clone(),
                )
            })
            .collect()
    })
}

/// The nodes where PUBLIC may run Citus's EXPLAIN ANALYZE of a shard query
/// (worker_save_query_explain_analyze): `host:port` each.
pub fn explain_open_nodes() -> Vec<String> {
    if !crate::pg::probes::citus_installed() {
        return Vec::new();
    }
    Spi::connect(|client| {
        client
            .select(
                "SELECT pg_catalog.format('%s:%s', n.nodename, n.nodeport)
                   FROM pg_catalog.run_command_on_all_nodes($1) r
                   JOIN pg_catalog.pg_dist_node n ON n.nodeid OPERATOR(pg_catalog.=) r.nodeid
                  WHERE r.result OPERATOR(pg_catalog.<>) 'f'
                  ORDER BY r.nodeid",
                None,
                &["SELECT pg_catalog.has_function_privilege('public', 'pg_catalog.worker_save_query_explain_analyze(pg_catalog.text, pg_catalog.jsonb)', 'EXECUTE')".into()],
            )
            .expect("run_command_on_all_nodes")
            .filter_map(|r| r.get::<String>(1).ok().flatten())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::shard_id;

    #[test]
    fn a_shard_id_is_the_number_its_name_ends_with() {
        assert_eq!(shard_id("public.users_102013"), 102013);
        assert_eq!(shard_id("\"Tenant Data\".\"My Skills_102\""), 102);
        assert_eq!(shard_id("users"), 0);
        assert_eq!(shard_id("user_events"), 0);
    }
}
