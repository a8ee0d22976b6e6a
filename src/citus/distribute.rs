//! Scale out with Citus: `relay_distribute(schema, shard_count)` and its dry run.
//!
//! Look: the schema's tenant-enabled tables (from relay's registry) with their keys,
//! foreign keys and relay policies, the tables they reference that are not
//! tenant-enabled, and what Citus already did (pg_dist_partition). Plan (pure, below):
//! refuse what Citus cannot distribute, naming the constraint and the relay option
//! that fixes it; then rewrite relay's policies without the scalar sub-select (Citus
//! refuses sub-selects in policies), drop the default-tenant merge trigger of
//! `tenants` (it would fire on the workers' shards), make `tenants` and the shared
//! tables reference tables, and distribute the tenant tables on their tenant column,
//! co-located, parents before the tables that reference them. Apply: each step
//! through SPI in the caller's transaction, `citus.enable_unsafe_triggers` on for the
//! duration (relay's TRUNCATE guards go to the shards). Steps already done are not
//! planned again, so a re-run does what is left.

use crate::model::kinds::ConKind;
use crate::model::quote::{quote_ident, quote_literal};
use crate::pg::ext;
use crate::pg::policy_rule::{self, RuleForm};
use crate::pg::privilege;
use crate::pg::settings;
use crate::plan::{direct_rule, distributed_default, Lock, ACCESS_POLICY_NAME, POLICY_NAME};
use pgrx::prelude::*;

/// Where Citus has a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Not a Citus table (or Citus is not installed).
    Local,
    Reference,
    /// Hash-distributed, in this co-location group.
    Distributed(i64),
    /// Anything else Citus made of it (a Citus local table, append-distributed).
    Other,
}

/// A key of a tenant table: name, kind (`p`, `u`, `x`, `f`), its columns, for a
/// foreign key the table it references, and its definition (pg_get_constraintdef).
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub kind: ConKind,
    pub columns: Vec<String>,
    pub references: Option<u32>,
    pub definition: String,
    /// a foreign key whose ON DELETE or ON UPDATE is SET NULL or SET DEFAULT
    pub sets_columns: bool,
}

/// A tenant-enabled table of the schema.
#[derive(Debug, Clone)]
pub struct TenantTable {
    pub relid: u32,
    /// schema.table, quoted
    pub name: String,
    /// the table's own name, unquoted (for names relay makes)
    pub relname: String,
    pub tenant_column: String,
    pub type_key: crate::model::tenant_type::TenantType,
    pub keys: Vec<Key>,
    /// relay's policies on it, with the form of relay's rule their USING has (None:
    /// not relay's rule), recognised by structure (`pg::policy_rule`)
    pub policies: Vec<(String, Option<RuleForm>)>,
    /// the tenant column's default as pg_get_expr prints it
    pub default: Option<String>,
    pub audited: bool,
    pub placement: Placement,
}

/// A table that tenant tables reference and that is not tenant-enabled.
#[derive(Debug, Clone)]
pub struct SharedTable {
    pub relid: u32,
    pub name: String,
    pub placement: Placement,
}

/// Everything the plan depends on.
#[derive(Debug, Clone)]
pub struct State {
    pub ext_schema: String,
    pub tables: Vec<TenantTable>,
    /// relay's `tenants` table (always shared)
    pub tenants: SharedTable,
    pub tenants_merge_trigger: bool,
    pub shared: Vec<SharedTable>,
    /// Owners of the schema's tenant tables (quoted role names) that are not
    /// superusers and may not execute relay's guard trigger functions: Citus creates a
    /// moved or split shard's triggers as the table's owner.
    pub guard_grantees: Vec<String>,
    /// PUBLIC may execute Citus's worker_save_query_explain_analyze (EXPLAIN ANALYZE
    /// of a shard query, row counts included, outside relay's EXPLAIN guard).
    pub explain_open: bool,
}

/// One step: what it does, the lock it takes, the statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub lock: Lock,
    pub action: String,
    pub sql: String,
    /// The tenant table whose relay objects (policy, default, foreign key) the step
    /// changes: relay's DDL guard lets relay's own change of that table through.
    pub changes: Option<u32>,
}

/// Why the schema cannot be distributed as it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    NoTenantTables,
    /// A primary key, unique or exclusion constraint without the tenant column.
    KeyWithoutTenant {
        table: String,
        constraint: String,
        kind: ConKind,
        columns: Vec<String>,
        tenant_column: String,
    },
    /// A foreign key between tenant tables without the tenant column.
    ForeignKeyWithoutTenant {
        table: String,
        constraint: String,
        referenced: String,
        tenant_column: String,
    },
    /// A foreign key on the tenant column whose action sets columns (SET NULL / SET
    /// DEFAULT): Citus refuses it on the distribution column.
    ForeignKeySetsColumns {
        table: String,
        constraint: String,
        definition: String,
    },
    /// Captured by relay_enable_audit: capture on distributed tables is not supported.
    Audited {
        table: String,
    },
    /// Foreign keys between tenant tables that form a cycle: no order distributes them.
    ForeignKeyCycle {
        tables: Vec<String>,
    },
    /// Citus already placed the table in another way.
    AlreadyPlaced {
        table: String,
        how: String,
    },
}

const MERGE_TRIGGER: &str = "relay_default_tenant_merge";

/// `sql` on every worker (Citus does not propagate GRANT and REVOKE on an extension's
/// functions): through run_command_on_workers, which commits there on its own (the
/// statements relay runs so are idempotent privilege changes), raising when a worker
/// fails.
fn on_every_worker(sql: &str) -> Step {
    Step {
        lock: Lock::NoTable,
        action: "the same on every worker".to_string(),
        sql: format!(
            "DO $relay$ DECLARE failed text; BEGIN
               SELECT pg_catalog.string_agg(pg_catalog.format('%s:%s: %s', r.nodename, r.nodeport, r.result), '; ') INTO failed
                 FROM pg_catalog.run_command_on_workers({}) r WHERE NOT r.success;
               IF failed IS NOT NULL THEN RAISE EXCEPTION 'relay_distribute: on the workers: %', failed; END IF;
             END $relay$",
            quote_literal(sql)
        ),
        changes: None,
    }
}

/// The plan. Pure: unit-tested without PostgreSQL.
pub fn plan(state: &State, shard_count: Option<i32>) -> Result<Vec<Step>, Refusal> {
    if state.tables.is_empty() {
        return Err(Refusal::NoTenantTables);
    }
    refuse_what_citus_cannot(state)?;
    let order = parents_first(state)?;
    let to_reference: Vec<u32> = std::iter::once(&state.tenants)
        .chain(&state.shared)
        .filter(|s| s.placement == Placement::Local)
        .map(|s| s.relid)
        .collect();
    let local = || {
        state
            .tables
            .iter()
            .filter(|t| t.placement == Placement::Local)
    };
    let mut steps = privilege_steps(state);
    let (rewrites, readd) = local_rewrite_steps(state, &to_reference);
    steps.extend(rewrites);
    // 3. tenants and the shared tables as reference tables.
    if state.tenants.placement == Placement::Local && state.tenants_merge_trigger {
        steps.push(Step {
            lock: Lock::AccessExclusive,
            action: format!(
                "dropped trigger {MERGE_TRIGGER} on {} (it would fire on the workers' copies)",
                state.tenants.name
            ),
            sql: format!("DROP TRIGGER {MERGE_TRIGGER} ON {}", state.tenants.name),
            changes: None,
        });
    }
    for s in std::iter::once(&state.tenants).chain(&state.shared) {
        match s.placement {
            Placement::Reference => {}
            Placement::Local => steps.push(Step {
                lock: Lock::Share,
                action: format!("made {} a reference table (a copy on every node)", s.name),
                sql: format!(
                    "SELECT pg_catalog.create_reference_table({})",
                    quote_literal(&s.name)
                ),
                changes: None,
            }),
            other => {
                return Err(Refusal::AlreadyPlaced {
                    table: s.name.clone(),
                    how: placement_label(other).into(),
                })
            }
        }
    }
    // 4. the tenant tables, co-located, parents first.
    let mut colocate = state
        .tables
        .iter()
        .filter(|t| matches!(t.placement, Placement::Distributed(_)))
        .map(|t| t.name.clone())
        .min();
    for t in order {
        if t.placement != Placement::Local {
            continue;
        }
        let sql = match (&colocate, shard_count) {
            (Some(with), _) => format!(
                "SELECT pg_catalog.create_distributed_table({}, {}, colocate_with => {})",
                quote_literal(&t.name),
                quote_literal(&t.tenant_column),
                quote_literal(with)
            ),
            (None, Some(n)) => format!(
                "SELECT pg_catalog.create_distributed_table({}, {}, shard_count => {n})",
                quote_literal(&t.name),
                quote_literal(&t.tenant_column)
            ),
            (None, None) => format!(
                "SELECT pg_catalog.create_distributed_table({}, {})",
                quote_literal(&t.name),
                quote_literal(&t.tenant_column)
            ),
        };
        steps.push(Step {
            lock: Lock::Share,
            action: match &colocate {
                Some(with) => format!(
                    "distributed {} on {}, co-located with {with}",
                    t.name, t.tenant_column
                ),
                None => format!("distributed {} on {}", t.name, t.tenant_column),
            },
            sql,
            changes: None,
        });
        colocate.get_or_insert_with(|| t.name.clone());
    }
    // 5. the foreign keys of step 2, now from distributed to reference tables.
    steps.extend(readd);
    // 6. The rows copied into shards stay on disk in the original relations, unseen.
    for name in std::iter::once(&state.tenants)
        .chain(&state.shared)
        .filter(|s| s.placement == Placement::Local)
        .map(|s| &s.name)
        .chain(local().map(|t| &t.name))
    {
        steps.push(Step {
            lock: Lock::AccessExclusive,
            action: format!("removed the local copy of {name}'s rows (now in its shards)"),
            sql: format!(
                "SELECT pg_catalog.truncate_local_data_after_distributing_table({})",
                quote_literal(name)
            ),
            changes: None,
        });
    }
    Ok(steps)
}

/// What Citus cannot distribute as it is, the first found.
fn refuse_what_citus_cannot(state: &State) -> Result<(), Refusal> {
    let tenant_ids: Vec<u32> = state.tables.iter().map(|t| t.relid).collect();
    for t in &state.tables {
        if !matches!(t.placement, Placement::Local | Placement::Distributed(_)) {
            return Err(Refusal::AlreadyPlaced {
                table: t.name.clone(),
                how: placement_label(t.placement).into(),
            });
        }
        if t.audited {
            return Err(Refusal::Audited {
                table: t.name.clone(),
            });
        }
        for k in &t.keys {
            let has_tenant = k.columns.contains(&t.tenant_column);
            match k.kind {
                kind if kind.is_key() && !has_tenant => {
                    return Err(Refusal::KeyWithoutTenant {
                        table: t.name.clone(),
                        constraint: k.name.clone(),
                        kind: k.kind,
                        columns: k.columns.clone(),
                        tenant_column: t.tenant_column.clone(),
                    })
                }
                ConKind::ForeignKey if has_tenant && k.sets_columns => {
                    return Err(Refusal::ForeignKeySetsColumns {
                        table: t.name.clone(),
                        constraint: k.name.clone(),
                        definition: k.definition.clone(),
                    })
                }
                ConKind::ForeignKey
                    if !has_tenant && k.references.is_some_and(|r| tenant_ids.contains(&r)) =>
                {
                    return Err(Refusal::ForeignKeyWithoutTenant {
                        table: t.name.clone(),
                        constraint: k.name.clone(),
                        referenced: name_of(state, k.references.expect("checked")),
                        tenant_column: t.tenant_column.clone(),
                    })
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Privilege changes on every node: owners may attach relay's guards, PUBLIC may not
/// run Citus's EXPLAIN ANALYZE of shard queries.
fn privilege_steps(state: &State) -> Vec<Step> {
    let mut steps = Vec::new();
    // 0. The tables' owners may attach relay's guards: Citus creates a moved, split or
    //    rebalanced shard's triggers as the table's owner, and relay's trigger functions
    //    are not executable by PUBLIC (they can only run as triggers).
    //    Citus does not propagate a GRANT on an extension's function: the workers get
    //    it through run_command_on_workers (which commits there on its own: a GRANT to
    //    attach a guard is harmless if this call rolls back).
    for role in &state.guard_grantees {
        let grant = format!(
            "GRANT EXECUTE ON FUNCTION {schema}.relay_tenant_truncate_guard(), {schema}.relay_tenant_exists_guard() TO {role}",
            schema = quote_ident(&state.ext_schema)
        );
        steps.push(Step {
            lock: Lock::NoTable,
            action: format!("let {role}, the owner of tenant tables, attach relay's guard triggers (Citus creates a moved or split shard's triggers as the table's owner)"),
            sql: grant.clone(),
            changes: None,
        });
        steps.push(on_every_worker(&grant));
    }
    // 0b. Citus's EXPLAIN ANALYZE of a shard query (worker_save_query_explain_analyze,
    //     then worker_last_saved_explain_analyze) counts the rows row level security
    //     removed, like the EXPLAIN ANALYZE relay refuses: not for PUBLIC, on every
    //     node. Superusers (and roles granted it) keep distributed EXPLAIN ANALYZE.
    if state.explain_open {
        let revoke = "REVOKE EXECUTE ON FUNCTION pg_catalog.worker_save_query_explain_analyze(pg_catalog.text, pg_catalog.jsonb), pg_catalog.worker_last_saved_explain_analyze() FROM PUBLIC";
        steps.push(Step {
            lock: Lock::NoTable,
            action: "closed Citus's EXPLAIN ANALYZE of shard queries to PUBLIC (its row counts include the rows row level security hides)".to_string(),
            sql: revoke.to_string(),
            changes: None,
        });
        steps.push(on_every_worker(revoke));
    }
    steps
}

/// Steps 1 and 2 on the tables not distributed yet: relay's policies and default by
/// name, and the foreign keys to future reference tables set aside; `(steps, the keys
/// to add back after step 4)`.
fn local_rewrite_steps(state: &State, to_reference: &[u32]) -> (Vec<Step>, Vec<Step>) {
    let local = || {
        state
            .tables
            .iter()
            .filter(|t| t.placement == Placement::Local)
    };
    let mut steps = Vec::new();
    // 1. relay's policies without the scalar sub-select (Citus refuses sub-selects in
    //    policies) and its column default, both naming the table as text.
    for t in local() {
        let rule = direct_rule(
            &state.ext_schema,
            &t.name,
            &quote_ident(&t.tenant_column),
            t.type_key,
        );
        for (policy, form) in &t.policies {
            if *form == Some(RuleForm::SubSelect) {
                steps.push(Step {
                    lock: Lock::AccessExclusive,
                    action: format!("rewrote policy {policy} on {} without its sub-select (Citus refuses sub-selects in policies)", t.name),
                    sql: format!("ALTER POLICY {} ON {} USING ({rule}) WITH CHECK ({rule})", quote_ident(policy), t.name),
                    changes: Some(t.relid),
                });
            }
        }
        let default = distributed_default(&state.ext_schema, &t.name, t.type_key);
        if t.default.as_deref() != Some(printed_default(&default).as_str()) {
            steps.push(Step {
                lock: Lock::AccessExclusive,
                action: format!("set the default of {}.{} to name the table as text (workers cannot resolve a regclass constant)", t.name, t.tenant_column),
                sql: format!("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {default}", t.name, quote_ident(&t.tenant_column)),
                changes: Some(t.relid),
            });
        }
    }
    // 2. Foreign keys to tables about to become reference tables go for the moment:
    //    Citus would otherwise turn the referencing tables into Citus local tables.
    let mut readd = Vec::new();
    for t in local() {
        for k in t.keys.iter().filter(|k| {
            k.kind == ConKind::ForeignKey && k.references.is_some_and(|r| to_reference.contains(&r))
        }) {
            steps.push(Step {
                lock: Lock::AccessExclusive,
                action: format!(
                    "dropped foreign key {} of {} for now (re-added once {} is a reference table)",
                    k.name,
                    t.name,
                    name_of(state, k.references.expect("filtered"))
                ),
                sql: format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    t.name,
                    quote_ident(&k.name)
                ),
                changes: Some(t.relid),
            });
            readd.push(Step {
                lock: Lock::ShareRowExclusive,
                action: format!(
                    "re-added foreign key {} of {} (checks every row)",
                    k.name, t.name
                ),
                sql: format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} {}",
                    t.name,
                    quote_ident(&k.name),
                    k.definition
                ),
                changes: Some(t.relid),
            });
        }
    }
    // A text tenant column references tenants; a table tenant-enabled after
    // tenants became a reference table waits for its key until it is distributed.
    for t in local().filter(|t| t.type_key == crate::model::tenant_type::TenantType::Text) {
        let has = t.keys.iter().any(|k| {
            k.kind == ConKind::ForeignKey
                && k.references == Some(state.tenants.relid)
                && k.columns == [t.tenant_column.clone()]
        });
        if !has {
            let name = crate::model::quote::choose_name(
                &t.relname,
                &format!("_{}_fkey", t.tenant_column),
                &|n| t.keys.iter().any(|k| k.name == n),
            );
            readd.push(Step {
                lock: Lock::ShareRowExclusive,
                action: format!(
                    "added foreign key {} ({}) REFERENCES {}(id) (checks every row)",
                    quote_ident(&name),
                    quote_ident(&t.tenant_column),
                    state.tenants.name
                ),
                sql: format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}(id)",
                    t.name,
                    quote_ident(&name),
                    quote_ident(&t.tenant_column),
                    state.tenants.name
                ),
                changes: Some(t.relid),
            });
        }
    }
    (steps, readd)
}

/// A table's name, from the tenant and shared tables of `state` (its oid if unknown).
fn name_of(state: &State, relid: u32) -> String {
    state
        .tables
        .iter()
        .find(|t| t.relid == relid)
        .map(|t| t.name.clone())
        .or_else(|| {
            std::iter::once(&state.tenants)
                .chain(&state.shared)
                .find(|s| s.relid == relid)
                .map(|s| s.name.clone())
        })
        .unwrap_or_else(|| relid.to_string())
}

/// A default expression as pg_get_expr prints it: the `pg_catalog.` of the cast goes.
fn printed_default(sql: &str) -> String {
    sql.replace("::pg_catalog.text", "::text")
}

fn placement_label(p: Placement) -> &'static str {
    match p {
        Placement::Local => "a local table",
        Placement::Reference => "a reference table",
        Placement::Distributed(_) => "a distributed table",
        Placement::Other => {
            "a Citus table of another kind (a Citus local or append-distributed table)"
        }
    }
}

/// The tenant tables, each after the tenant tables it references (by name among
/// equals); a cycle is refused.
fn parents_first(state: &State) -> Result<Vec<&TenantTable>, Refusal> {
    let mut left: Vec<&TenantTable> = state.tables.iter().collect();
    left.sort_by(|a, b| a.name.cmp(&b.name));
    let mut done: Vec<u32> = Vec::new();
    let mut order = Vec::new();
    while !left.is_empty() {
        let ready = left.iter().position(|t| {
            t.keys
                .iter()
                .filter(|k| k.kind == ConKind::ForeignKey)
                .filter_map(|k| k.references)
                .all(|r| {
                    r == t.relid || done.contains(&r) || !state.tables.iter().any(|o| o.relid == r)
                })
        });
        match ready {
            Some(i) => {
                let t = left.remove(i);
                done.push(t.relid);
                order.push(t);
            }
            None => {
                return Err(Refusal::ForeignKeyCycle {
                    tables: left.iter().map(|t| t.name.clone()).collect(),
                })
            }
        }
    }
    Ok(order)
}

// ---- look ----

/// The primary, unique, exclusion and foreign keys of table `oid`.
fn keys_of(client: &pgrx::spi::SpiClient<'_>, oid: pg_sys::Oid) -> Vec<Key> {
    client
        .select(
            "SELECT con.conname::pg_catalog.text, con.contype::pg_catalog.text,
                    ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, i)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) con.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                           ORDER BY k.i),
                    NULLIF(con.confrelid, 0::pg_catalog.oid),
                    pg_catalog.pg_get_constraintdef(con.oid),
                    con.confdeltype OPERATOR(pg_catalog.=) ANY (ARRAY['n', 'd']::pg_catalog.char[])
                      OR con.confupdtype OPERATOR(pg_catalog.=) ANY (ARRAY['n', 'd']::pg_catalog.char[])
               FROM pg_catalog.pg_constraint con
              WHERE con.conrelid OPERATOR(pg_catalog.=) $1 AND con.contype OPERATOR(pg_catalog.=) ANY (ARRAY['p', 'u', 'x', 'f']::pg_catalog.char[])
              ORDER BY 1",
            None,
            &[oid.into()],
        )
        .expect("keys")
        .map(|r| Key {
            name: r.get::<String>(1).unwrap().unwrap_or_default(),
            kind: ConKind::from_letter(&r.get::<String>(2).unwrap().unwrap_or_default()),
            columns: r.get::<Vec<String>>(3).unwrap().unwrap_or_default(),
            references: r.get::<pg_sys::Oid>(4).unwrap().map(|o| o.to_u32()),
            definition: r.get::<String>(5).unwrap().unwrap_or_default(),
            sets_columns: r.get::<bool>(6).unwrap().unwrap_or(false),
        })
        .collect()
}

/// Owners of `tables` that are not superusers and may not execute relay's guard
/// trigger functions (quoted role names).
fn owners_without_guard_grant(
    client: &pgrx::spi::SpiClient<'_>,
    tables: &[TenantTable],
    ext_schema: &str,
) -> Vec<String> {
    client
        .select(
            "SELECT DISTINCT pg_catalog.quote_ident(o.rolname::pg_catalog.text)
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) c.relowner
              WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1) AND NOT o.rolsuper
                AND NOT pg_catalog.has_function_privilege(o.oid,
                      pg_catalog.format('%I.relay_tenant_truncate_guard()', $2::pg_catalog.text)::pg_catalog.regprocedure, 'EXECUTE')
              ORDER BY 1",
            None,
            &[
                tables.iter().map(|t| pg_sys::Oid::from(t.relid)).collect::<Vec<_>>().into(),
                ext_schema.into(),
            ],
        )
        .expect("owners")
        .filter_map(|r| r.get::<String>(1).ok().flatten())
        .collect()
}

/// PUBLIC may execute Citus's worker_save_query_explain_analyze here.
fn public_may_explain_shard_queries(client: &pgrx::spi::SpiClient<'_>) -> bool {
    client
        .select(
            "SELECT pg_catalog.has_function_privilege('public',
                      'pg_catalog.worker_save_query_explain_analyze(pg_catalog.text, pg_catalog.jsonb)', 'EXECUTE')",
            Some(1),
            &[],
        )
        .expect("Citus explain privilege")
        .first()
        .get_one::<bool>()
        .expect("privilege")
        .unwrap_or(false)
}

fn look(schema: &str) -> State {
    let ext_schema = ext::extension_schema();
    let registry = crate::model::quote::quote_qualified(&ext_schema, "relay_tables");
    let audit_tables = crate::model::quote::quote_qualified(&ext_schema, "relay_audit_tables");
    let tenants = ext::ext_relation(c"tenants");
    let citus = crate::pg::probes::citus_installed();
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let placements: Vec<(u32, String, i64)> = if citus {
                client
                    .select("SELECT logicalrelid::pg_catalog.oid, partmethod::pg_catalog.text, colocationid::pg_catalog.int8 FROM pg_catalog.pg_dist_partition", None, &[])
                    .expect("Citus tables")
                    .map(|r| (r.get::<pg_sys::Oid>(1).unwrap().unwrap().to_u32(), r.get::<String>(2).unwrap().unwrap_or_default(), r.get::<i64>(3).unwrap().unwrap_or(0)))
                    .collect()
            } else {
                Vec::new()
            };
            let placement = |relid: u32| match placements.iter().find(|(r, _, _)| *r == relid) {
                None => Placement::Local,
                Some((_, m, _)) if m == "n" => Placement::Reference,
                Some((_, m, c)) if m == "h" => Placement::Distributed(*c),
                Some(_) => Placement::Other,
            };
            let rows: Vec<(u32, String, String, String, String, bool)> = client
                .select(
                    &format!(
                        "SELECT c.oid, pg_catalog.format('%I.%I', n.nspname, c.relname), r.tenant_column::pg_catalog.text, c.relname::pg_catalog.text,
                                CASE WHEN a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                     WHEN a.atttypid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.int8'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype]::pg_catalog.oid[]) THEN 'bigint'
                                     ELSE 'text' END,
                                EXISTS (SELECT FROM {audit_tables} x WHERE x.relid OPERATOR(pg_catalog.=) c.oid)
                           FROM {registry} r
                           JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
                           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                           JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) r.tenant_column
                          WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND NOT c.relispartition
                          ORDER BY 2"
                    ),
                    None,
                    &[schema.into()],
                )
                .expect("tenant tables")
                .map(|r| {
                    (
                        r.get::<pg_sys::Oid>(1).unwrap().unwrap().to_u32(),
                        r.get::<String>(2).unwrap().unwrap_or_default(),
                        r.get::<String>(3).unwrap().unwrap_or_default(),
                        r.get::<String>(4).unwrap().unwrap_or_default(),
                        r.get::<String>(5).unwrap().unwrap_or_default(),
                        r.get::<bool>(6).unwrap().unwrap_or(false),
                    )
                })
                .collect();
            let mut tables = Vec::new();
            let mut shared_ids: Vec<u32> = Vec::new();
            for (relid, name, tenant_column, relname, type_key, audited) in rows {
                let oid = pg_sys::Oid::from(relid);
                let keys = keys_of(client, oid);
                let shape = policy_rule::shape_of(oid, &tenant_column, &ext_schema);
                let policies: Vec<(String, Option<RuleForm>)> = client
                    .select(
                        "SELECT p.polname::pg_catalog.text, p.polqual::pg_catalog.text
                           FROM pg_catalog.pg_policy p
                          WHERE p.polrelid OPERATOR(pg_catalog.=) $1 AND p.polname OPERATOR(pg_catalog.=) ANY ($2)
                          ORDER BY 1",
                        None,
                        &[oid.into(), vec![POLICY_NAME.to_string(), ACCESS_POLICY_NAME.to_string()].into()],
                    )
                    .expect("policies")
                    .map(|r| {
                        let tree = r.get::<String>(2).unwrap();
                        (r.get::<String>(1).unwrap().unwrap_or_default(), policy_rule::rule_form(tree.as_deref(), &shape))
                    })
                    .collect();
                let default = client
                    .select(
                        "SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d
                           JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) d.adrelid AND a.attnum OPERATOR(pg_catalog.=) d.adnum
                          WHERE d.adrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $2",
                        Some(1),
                        &[oid.into(), tenant_column.clone().into()],
                    )
                    .expect("default")
                    .next()
                    .and_then(|r| r.get::<String>(1).unwrap());
                shared_ids.extend(
                    keys.iter()
                        .filter(|k| k.kind == ConKind::ForeignKey)
                        .filter_map(|k| k.references),
                );
                tables.push(TenantTable {
                    relid,
                    name,
                    relname,
                    tenant_column,
                    type_key: crate::model::tenant_type::TenantType::from_key(&type_key),
                    keys,
                    policies,
                    default,
                    audited,
                    placement: placement(relid),
                });
            }
            let tenant_ids: Vec<u32> = tables.iter().map(|t| t.relid).collect();
            shared_ids.sort_unstable();
            shared_ids.dedup();
            shared_ids.retain(|r| !tenant_ids.contains(r) && *r != tenants.relid.to_u32());
            let shared = shared_ids
                .iter()
                .map(|r| {
                    let name = client
                        .select("SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE c.oid OPERATOR(pg_catalog.=) $1", Some(1), &[pg_sys::Oid::from(*r).into()])
                        .expect("shared table")
                        .first()
                        .get_one::<String>()
                        .expect("name")
                        .unwrap_or_default();
                    SharedTable { relid: *r, name, placement: placement(*r) }
                })
                .collect();
            let tenants_relid = tenants.relid.to_u32();
            let guard_grantees = owners_without_guard_grant(client, &tables, &ext_schema);
            let merge = client
                .select(
                    "SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid OPERATOR(pg_catalog.=) $1 AND tgname OPERATOR(pg_catalog.=) $2)",
                    Some(1),
                    &[tenants.relid.into(), MERGE_TRIGGER.into()],
                )
                .expect("merge trigger")
                .first()
                .get_one::<bool>()
                .expect("exists")
                .unwrap_or(false);
            State {
                ext_schema: ext_schema.clone(),
                tables,
                tenants: SharedTable {
                    relid: tenants_relid,
                    name: crate::model::quote::quote_qualified(&tenants.schema, "tenants"),
                    placement: placement(tenants_relid),
                },
                tenants_merge_trigger: merge,
                shared,
                guard_grantees,
                explain_open: citus && public_may_explain_shard_queries(client),
            }
        })
    })
}

/// What relay_distribute cannot distribute.
#[track_caller]
pub fn distribute_refused(function: &str, schema: &str, refusal: Refusal) -> ! {
    use PgSqlErrorCode::*;
    use Refusal::*;
    let schema_literal = crate::model::quote::quote_literal(schema);
    let schema = crate::model::quote::quote_ident(schema);
    // Names go into the hints' SQL as literals.
    let lit = |name: &str| crate::model::quote::quote_literal(name);
    match refusal {
        NoTenantTables => crate::model::errors::raise(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("{function}: schema {schema} has no tenant-enabled tables"),
            "relay_tables lists no table of that schema.".into(),
            format!("Tenant-enable its tables first: SELECT relay_enable_tenancy_schema({schema_literal}, primary_key => 'tenant')."),
        ),
        KeyWithoutTenant { table, constraint, kind, columns, tenant_column } => {
            let what = match kind {
                ConKind::PrimaryKey => "primary key",
                ConKind::Exclusion => "exclusion constraint",
                _ => "unique constraint",
            };
            let hint = match kind {
                ConKind::PrimaryKey => format!("Make the primary key per tenant: SELECT relay_enable_tenancy({}, primary_key => 'tenant'). Or leave the table out of the schema's tenant tables.", lit(&table)),
                _ => format!("Make it per tenant: re-run relay_enable_tenancy({}) with global_unique not listing its columns. A value unique across tenants cannot be checked on one node: keep such a table local (relay_disable_tenancy) or reference.", lit(&table)),
            };
            crate::model::errors::raise(
                ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("cannot distribute {table}: its {what} {constraint} does not include {tenant_column}"),
                format!("{constraint} is on ({}); Citus needs the distribution column {tenant_column} in every primary key, unique and exclusion constraint.", columns.join(", ")),
                hint,
            )
        }
        ForeignKeyWithoutTenant { table, constraint, referenced, tenant_column } => crate::model::errors::raise(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot distribute {table}: its foreign key {constraint} to {referenced} does not include {tenant_column}"),
            "Between distributed tables Citus needs foreign keys on the distribution column (the referenced row must be on the same node).".into(),
            format!("Make it composite: re-run relay_enable_tenancy({}) without keep_foreign_keys listing {constraint}.", lit(&table)),
        ),
        ForeignKeySetsColumns { table, constraint, definition } => crate::model::errors::raise(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot distribute {table}: its foreign key {constraint} sets columns on delete or update"),
            format!("{constraint} is {definition}; Citus supports neither SET NULL nor SET DEFAULT on a foreign key that includes the distribution column."),
            format!("Drop {constraint} and add it back with ON DELETE NO ACTION, RESTRICT or CASCADE (or clear the column from the application), then run {function} again."),
        ),
        Audited { table } => crate::model::errors::raise(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot distribute {table}: its changes are captured into the audit log"),
            "relay.relay_audit_tables lists it; capture on distributed tables is not supported in this version.".into(),
            format!("SELECT relay_disable_audit({}) first, or leave the table local.", lit(&table)),
        ),
        ForeignKeyCycle { tables } => crate::model::errors::raise(
            ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("cannot distribute schema {schema}: foreign keys between {} form a cycle", tables.join(", ")),
            "Each table is distributed after the tables it references; a cycle leaves no first one.".into(),
            "Drop one of the foreign keys of the cycle, distribute, and add it back.".into(),
        ),
        AlreadyPlaced { table, how } => crate::model::errors::raise(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("cannot distribute {table}: Citus already made it {how}"),
            "pg_dist_partition has it in another form than relay_distribute makes.".into(),
            format!("Undo it with SELECT undistribute_table({}) and run {function} again.", lit(&table)),
        ),
    }
}

/// The plan for `schema`, or the refusal raised as an error.
fn planned(function: &str, schema: &str, shard_count: Option<i32>) -> Vec<Step> {
    if shard_count.is_some_and(|n| n < 1) {
        crate::model::errors::raise(
            pgrx::pg_sys::errcodes::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("{function}: shard_count must be at least 1"),
            format!(
                "shard_count => {} was given.",
                shard_count.unwrap_or_default()
            ),
            "Leave it NULL for Citus's citus.shard_count, or pass a positive number.".into(),
        );
    }
    let state = look(schema);
    plan(&state, shard_count).unwrap_or_else(|r| distribute_refused(function, schema, r))
}

fn schema_arg(function: &str, schema: Option<String>) -> String {
    schema.unwrap_or_else(|| crate::model::errors::null_argument(function, "schema"))
}

/// The steps relay_distribute would take, in order, with the lock each takes and its
/// statement. Changes nothing; works without Citus (to check a schema before
/// installing it).
#[pg_extern(volatile, parallel_unsafe)]
fn relay_distribute_plan(
    schema: default!(Option<String>, "'public'"),
    shard_count: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    let schema = schema_arg("relay_distribute_plan", schema);
    refuse_unsupported("relay_distribute_plan", &schema);
    let steps = planned("relay_distribute_plan", &schema, shard_count);
    TableIterator::new(
        steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| (i as i32 + 1, s.lock.as_str().to_string(), s.action, s.sql))
            .collect::<Vec<_>>(),
    )
}

/// What relay does not distribute: a schema under the application's own tenant
/// registry (every node checks tenants against relay's reference table `tenants`), and
/// tables with shared rows (their rule is not the one relay writes on every shard).
fn refuse_unsupported(function: &str, schema: &str) {
    if let Some(registry) = crate::pg::tenant_registry::current() {
        crate::model::errors::distribute_unsupported(
            function,
            &format!("relay_use_tenant_registry made {} the tenant registry", registry.table),
            "Go back to relay's tenants first: disable the tables, SELECT relay_use_tenant_registry(NULL), enable them again.",
        );
    }
    let registry =
        crate::model::quote::quote_qualified(&crate::pg::ext::extension_schema(), "relay_tables");
    let shared = crate::pg::privilege::as_extension_owner(|| {
        crate::pg::privilege::select_optional::<String>(
            &format!(
                "SELECT pg_catalog.string_agg(r.relid::pg_catalog.text, ', ' ORDER BY r.relid::pg_catalog.text)
                   FROM {registry} r JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                  WHERE n.nspname OPERATOR(pg_catalog.=) $1
                    AND COALESCE((pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'shared_rows')::pg_catalog.bool, false)"
            ),
            &[schema.into()],
        )
    });
    if let Some(tables) = shared {
        crate::model::errors::distribute_unsupported(
            function,
            &format!("{tables} have shared rows (shared_rows => true)"),
            "Keep shared rows in a table of their own that every tenant shares (a reference table), or disable and enable those tables without shared_rows.",
        );
    }
}

/// Distribute `schema`'s tenant tables with Citus (on the coordinator). Returns one
/// line per step taken; nothing when everything is distributed already.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_distribute(
    schema: default!(Option<String>, "'public'"),
    shard_count: default!(Option<i32>, "NULL"),
) -> SetOfIterator<'static, String> {
    let schema = schema_arg("relay_distribute", schema);
    refuse_unsupported("relay_distribute", &schema);
    if !crate::pg::probes::citus_installed() {
        crate::model::errors::citus_missing("relay_distribute");
    }
    let coordinator = Spi::get_one::<bool>("SELECT pg_catalog.citus_is_coordinator()")
        .ok()
        .flatten()
        .unwrap_or(false);
    if !coordinator {
        crate::model::errors::not_coordinator("relay_distribute");
    }
    let steps = planned("relay_distribute", &schema, shard_count);
    let distributed_before = crate::citus::placements::distributed_tables();
    let _citus = settings::citus_ddl_settings();
    let mut lines = Vec::new();
    for step in &steps {
        pgrx::debug1!("relay_tenancy: {}", step.sql);
        let run = || Spi::run(&step.sql).expect("distribute step");
        match step.changes {
            Some(relid) => crate::apply::while_applying(pg_sys::Oid::from(relid), run),
            None => run(),
        }
        lines.push(format!("{} [{}]", step.action, step.lock.as_str()));
    }
    // Placements whose isolation is broken (made before relay kept its policy
    // RESTRICTIVE on every node, or changed by a superuser on a worker): put back.
    lines.extend(crate::citus::placements::restore_placements(
        &distributed_before,
    ));
    SetOfIterator::new(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(relid: u32, name: &str, keys: Vec<Key>) -> TenantTable {
        TenantTable {
            relid,
            name: name.into(),
            relname: name.rsplit('.').next().unwrap_or(name).into(),
            tenant_column: "tenant_id".into(),
            type_key: crate::model::tenant_type::TenantType::Text,
            keys,
            policies: vec![(POLICY_NAME.into(), Some(RuleForm::SubSelect))],
            default: Some(format!("public.relay_insert_tenant('{name}'::regclass)")),
            audited: false,
            placement: Placement::Local,
        }
    }

    fn key(name: &str, kind: ConKind, columns: &[&str], references: Option<u32>) -> Key {
        let definition = format!("FOREIGN KEY ({}) REFERENCES somewhere", columns.join(", "));
        Key {
            name: name.into(),
            kind,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            references,
            definition,
            sets_columns: false,
        }
    }

    fn state(tables: Vec<TenantTable>) -> State {
        State {
            ext_schema: "public".into(),
            tables,
            tenants: SharedTable {
                relid: 1,
                name: "public.tenants".into(),
                placement: Placement::Local,
            },
            tenants_merge_trigger: true,
            shared: vec![],
            guard_grantees: vec![],
            explain_open: false,
        }
    }

    #[test]
    fn owners_that_are_not_superusers_may_attach_relay_guards_first() {
        let mut s = two_tables();
        s.guard_grantees = vec!["migrator".into()];
        let steps = plan(&s, None).unwrap();
        assert_eq!(steps[0].lock, Lock::NoTable);
        assert_eq!(
            steps[0].sql,
            "GRANT EXECUTE ON FUNCTION public.relay_tenant_truncate_guard(), public.relay_tenant_exists_guard() TO migrator"
        );
        assert_eq!(
            plan(&two_tables(), None).unwrap()[0].lock,
            Lock::AccessExclusive
        );
    }

    fn two_tables() -> State {
        state(vec![
            table(
                30,
                "public.skills",
                vec![
                    key(
                        "skills_pkey",
                        ConKind::PrimaryKey,
                        &["tenant_id", "id"],
                        None,
                    ),
                    key(
                        "skills_author_id_fkey",
                        ConKind::ForeignKey,
                        &["tenant_id", "author_id"],
                        Some(20),
                    ),
                    key(
                        "skills_tenant_id_fkey",
                        ConKind::ForeignKey,
                        &["tenant_id"],
                        Some(1),
                    ),
                ],
            ),
            table(
                20,
                "public.users",
                vec![
                    key(
                        "users_pkey",
                        ConKind::PrimaryKey,
                        &["tenant_id", "id"],
                        None,
                    ),
                    key(
                        "users_tenant_id_fkey",
                        ConKind::ForeignKey,
                        &["tenant_id"],
                        Some(1),
                    ),
                ],
            ),
        ])
    }

    #[test]
    fn policies_defaults_then_reference_tables_then_tenant_tables_parents_first() {
        let steps = plan(&two_tables(), Some(8)).unwrap();
        let sql: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            vec![
                "ALTER POLICY tenant_isolation ON public.skills USING (tenant_id = public.relay_policy_tenant('public.skills'::pg_catalog.text)) WITH CHECK (tenant_id = public.relay_policy_tenant('public.skills'::pg_catalog.text))",
                "ALTER TABLE public.skills ALTER COLUMN tenant_id SET DEFAULT public.relay_insert_tenant('public.skills'::pg_catalog.text)",
                "ALTER POLICY tenant_isolation ON public.users USING (tenant_id = public.relay_policy_tenant('public.users'::pg_catalog.text)) WITH CHECK (tenant_id = public.relay_policy_tenant('public.users'::pg_catalog.text))",
                "ALTER TABLE public.users ALTER COLUMN tenant_id SET DEFAULT public.relay_insert_tenant('public.users'::pg_catalog.text)",
                "ALTER TABLE public.skills DROP CONSTRAINT skills_tenant_id_fkey",
                "ALTER TABLE public.users DROP CONSTRAINT users_tenant_id_fkey",
                "DROP TRIGGER relay_default_tenant_merge ON public.tenants",
                "SELECT pg_catalog.create_reference_table('public.tenants')",
                "SELECT pg_catalog.create_distributed_table('public.users', 'tenant_id', shard_count => 8)",
                "SELECT pg_catalog.create_distributed_table('public.skills', 'tenant_id', colocate_with => 'public.users')",
                "ALTER TABLE public.skills ADD CONSTRAINT skills_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES somewhere",
                "ALTER TABLE public.users ADD CONSTRAINT users_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES somewhere",
                "SELECT pg_catalog.truncate_local_data_after_distributing_table('public.tenants')",
                "SELECT pg_catalog.truncate_local_data_after_distributing_table('public.skills')",
                "SELECT pg_catalog.truncate_local_data_after_distributing_table('public.users')",
            ]
        );
        assert_eq!(steps[0].changes, Some(30));
        assert_eq!(steps[4].lock, Lock::AccessExclusive);
        assert_eq!(steps[10].lock, Lock::ShareRowExclusive);
    }

    /// `two_tables` after a first run that distributed users only.
    fn users_distributed() -> State {
        let mut s = two_tables();
        s.tenants.placement = Placement::Reference;
        s.tenants_merge_trigger = false;
        s.tables[1].placement = Placement::Distributed(3);
        s.tables[1].policies[0].1 = Some(RuleForm::Direct);
        s.tables[1].default = Some("public.relay_insert_tenant('public.users'::text)".into());
        s.tables[0].default = Some("public.relay_insert_tenant('public.skills'::text)".into());
        s
    }

    #[test]
    fn a_rerun_does_what_is_left() {
        let mut s = users_distributed();
        let sql: Vec<String> = plan(&s, None).unwrap().into_iter().map(|s| s.sql).collect();
        assert_eq!(sql.len(), 3, "{sql:?}");
        assert!(sql[0].starts_with("ALTER POLICY tenant_isolation ON public.skills"));
        assert_eq!(sql[1], "SELECT pg_catalog.create_distributed_table('public.skills', 'tenant_id', colocate_with => 'public.users')");
        assert_eq!(
            sql[2],
            "SELECT pg_catalog.truncate_local_data_after_distributing_table('public.skills')"
        );
        s.tables[0].placement = Placement::Distributed(3);
        assert!(plan(&s, None).unwrap().is_empty());
    }

    #[test]
    fn keys_without_the_tenant_column_are_refused_by_name() {
        let mut s = two_tables();
        s.tables[1]
            .keys
            .push(key("users_email_key", ConKind::Unique, &["email"], None));
        assert!(
            matches!(plan(&s, None), Err(Refusal::KeyWithoutTenant { constraint, kind: ConKind::Unique, .. }) if constraint == "users_email_key")
        );
        let mut s = two_tables();
        s.tables[1].keys[0] = key("users_pkey", ConKind::PrimaryKey, &["id"], None);
        assert!(matches!(
            plan(&s, None),
            Err(Refusal::KeyWithoutTenant {
                kind: ConKind::PrimaryKey,
                ..
            })
        ));
        let mut s = two_tables();
        s.tables[0].keys[1] = key(
            "skills_author_id_fkey",
            ConKind::ForeignKey,
            &["author_id"],
            Some(20),
        );
        assert!(
            matches!(plan(&s, None), Err(Refusal::ForeignKeyWithoutTenant { referenced, .. }) if referenced == "public.users")
        );
    }

    #[test]
    fn a_table_enabled_after_the_scale_out_gets_its_key_to_tenants_once_distributed() {
        let mut s = users_distributed();
        s.tables[0].policies[0].1 = Some(RuleForm::Direct);
        s.tables[0]
            .keys
            .retain(|k| k.name != "skills_tenant_id_fkey");
        s.tables[0].keys.push(key(
            "skills_tenant_id_fkey",
            ConKind::Unique,
            &["tenant_id", "x"],
            None,
        ));
        let sql: Vec<String> = plan(&s, None).unwrap().into_iter().map(|s| s.sql).collect();
        assert_eq!(
            sql,
            vec![
                "SELECT pg_catalog.create_distributed_table('public.skills', 'tenant_id', colocate_with => 'public.users')".to_string(),
                "ALTER TABLE public.skills ADD CONSTRAINT skills_tenant_id_fkey1 FOREIGN KEY (tenant_id) REFERENCES public.tenants(id)".to_string(),
                "SELECT pg_catalog.truncate_local_data_after_distributing_table('public.skills')".to_string(),
            ]
        );
    }

    #[test]
    fn a_foreign_key_that_sets_columns_is_refused() {
        let mut s = two_tables();
        s.tables[0].keys[1].sets_columns = true;
        assert!(
            matches!(plan(&s, None), Err(Refusal::ForeignKeySetsColumns { constraint, .. }) if constraint == "skills_author_id_fkey")
        );
    }

    #[test]
    fn what_cannot_be_distributed_is_refused() {
        assert_eq!(plan(&state(vec![]), None), Err(Refusal::NoTenantTables));
        let mut s = two_tables();
        s.tables[0].audited = true;
        assert!(matches!(plan(&s, None), Err(Refusal::Audited { .. })));
        let mut s = two_tables();
        s.tables[1].keys.push(key(
            "users_fav_fkey",
            ConKind::ForeignKey,
            &["tenant_id", "fav"],
            Some(30),
        ));
        assert!(
            matches!(plan(&s, None), Err(Refusal::ForeignKeyCycle { tables }) if tables.len() == 2)
        );
        let mut s = two_tables();
        s.tables[0].keys.push(key(
            "skills_self_fkey",
            ConKind::ForeignKey,
            &["tenant_id", "parent"],
            Some(30),
        ));
        assert!(
            plan(&s, None).is_ok(),
            "a table referencing itself is no cycle"
        );
    }

    #[test]
    fn shared_tables_become_reference_tables() {
        let mut s = two_tables();
        s.shared.push(SharedTable {
            relid: 40,
            name: "public.countries".into(),
            placement: Placement::Local,
        });
        let sql: Vec<String> = plan(&s, None).unwrap().into_iter().map(|s| s.sql).collect();
        assert!(sql
            .contains(&"SELECT pg_catalog.create_reference_table('public.countries')".to_string()));
    }
}
