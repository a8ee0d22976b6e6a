//! Whole schemas in one call: `relay_enable_tenancy_schema` and its dry run.
//!
//! Look: the schema's ordinary tables, less the excluded, the shared and well-known
//! framework bookkeeping tables. Plan: per table, the same pure planner as
//! `relay_enable_tenancy` (the per-table `global_unique` entries are `table.key`).
//! Apply: table after table in the caller's transaction, so a failure anywhere leaves
//! nothing changed.

use crate::api::enable;
use crate::model::errors;
use crate::model::quote::quote_qualified;
use crate::plan::Lock;
use pgrx::prelude::*;

/// Bookkeeping tables of migration frameworks: never tenant data.
pub const FRAMEWORK_TABLES: &[&str] = &[
    "schema_migrations", // Rails, golang-migrate, dbmate, sqlx (_sqlx_migrations below)
    "ar_internal_metadata", // Rails
    "_sqlx_migrations",  // sqlx
    "__diesel_schema_migrations", // Diesel
    "_prisma_migrations", // Prisma
    "alembic_version",   // Alembic
    "django_migrations", // Django
    "flyway_schema_history", // Flyway
    "databasechangelog", // Liquibase
    "databasechangeloglock", // Liquibase
    "knex_migrations",   // Knex
    "knex_migrations_lock", // Knex
    "goose_db_version",  // goose
    "SequelizeMeta",     // Sequelize
    "__EFMigrationsHistory", // Entity Framework
    "pgmigrations",      // node-pg-migrate
    "schema_version",    // Flyway (old), migrate-mongo style tools
];

/// What the schema call does with each table of the schema. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Treatment {
    Enable,
    /// Left alone, with the reason ("excluded", "shared", "framework bookkeeping").
    Skip(&'static str),
}

/// Decide per table; `tables` are (oid, name) of the schema's candidate tables.
pub fn treatments(
    tables: &[(u32, String)],
    exclude: &[u32],
    shared: &[u32],
) -> Vec<(u32, String, Treatment)> {
    tables
        .iter()
        .map(|(oid, name)| {
            let t = if exclude.contains(oid) {
                Treatment::Skip("excluded")
            } else if shared.contains(oid) {
                Treatment::Skip("shared: stays global, readable by every tenant")
            } else if FRAMEWORK_TABLES.contains(&name.as_str()) {
                Treatment::Skip("framework bookkeeping")
            } else {
                Treatment::Enable
            };
            (*oid, name.clone(), t)
        })
        .collect()
}

/// A table's key can change only once the tables referencing it are tenant-enabled
/// (their foreign keys then change with it): the
/// tables to enable, each after the enabled tables that reference it, by name among
/// equals (the tables of a cycle come last). `references` are (referencing, referenced)
/// pairs. Skipped tables keep their place at the front. Pure.
pub fn referencing_first(
    plan: Vec<(u32, String, Treatment)>,
    references: &[(u32, u32)],
) -> Vec<(u32, String, Treatment)> {
    let (mut left, skipped): (Vec<_>, Vec<_>) = plan
        .into_iter()
        .partition(|(_, _, t)| *t == Treatment::Enable);
    let mut out = skipped;
    while !left.is_empty() {
        let waiting = |oid: u32, left: &[(u32, String, Treatment)]| {
            references.iter().any(|(child, parent)| {
                *parent == oid && *child != oid && left.iter().any(|(o, _, _)| o == child)
            })
        };
        let next = left
            .iter()
            .position(|(oid, _, _)| !waiting(*oid, &left))
            .unwrap_or(0);
        out.push(left.remove(next));
    }
    out
}

/// Each table's call in a schema call, or why it is skipped.
type Calls = Vec<(u32, String, Result<enable::CallOptions, &'static str>)>;
/// `table.key` entries split by table.
type PerTable = [(String, Vec<String>)];

/// Each table's own call: the options every table shares (`common`), its entries of
/// global_unique and keep_foreign_keys (`lists`) and its tenant_from; none for a skipped
/// table. No entry for a table: the registry's list on a re-run (never loosened).
fn per_table_calls(
    plan: SchemaPlan,
    lists: (&PerTable, &PerTable),
    from: &[(String, String)],
    common: &enable::CallOptions,
) -> Calls {
    plan.into_iter()
        .map(|(oid, name, treatment)| {
            let call = match treatment {
                Treatment::Skip(why) => Err(why),
                Treatment::Enable => {
                    let entries_for = |split: &PerTable| {
                        let list = split
                            .iter()
                            .find(|(t, _)| *t == name)
                            .map(|(_, k)| k.clone())
                            .unwrap_or_default();
                        (!list.is_empty()).then(|| list.into_iter().map(Some).collect())
                    };
                    Ok(enable::CallOptions {
                        global_unique: entries_for(lists.0),
                        keep_foreign_keys: entries_for(lists.1),
                        tenant_from: from
                            .iter()
                            .find(|(t, _)| *t == name)
                            .map(|(_, fk)| fk.clone()),
                        online: false,
                        ..common.clone()
                    })
                }
            };
            (oid, name, call)
        })
        .collect()
}

/// The schema call's tenant_from entries (`table.fk`) as (table, fk) pairs, and `plan`
/// with each such table after its parent. Refuses an entry naming no table the call
/// enables (42704) and two entries for one table (22023).
/// The tables of a schema call in order, with what the call does to each.
type SchemaPlan = Vec<(u32, String, Treatment)>;

fn order_tenant_from(
    plan: SchemaPlan,
    entries: &[String],
    schema: &str,
) -> (SchemaPlan, Vec<(String, String)>) {
    let enabling: Vec<String> = plan
        .iter()
        .filter(|(_, _, t)| *t == Treatment::Enable)
        .map(|(_, n, _)| n.clone())
        .collect();
    let per_table = split_global_unique(entries, &enabling)
        .unwrap_or_else(|entry| errors::schema_tenant_from_unknown(&entry, schema));
    let mut pairs = Vec::new();
    for (table, keys) in per_table {
        if keys.len() > 1 {
            errors::schema_tenant_from_twice(&table, &keys);
        }
        if let Some(fk) = keys.into_iter().next() {
            pairs.push((table, fk));
        }
    }
    let derived: Vec<(u32, u32)> = plan
        .iter()
        .filter_map(|(oid, name, _)| {
            let (_, fk) = pairs.iter().find(|(t, _)| t == name)?;
            Some((*oid, parent_through(*oid, fk)?))
        })
        .collect();
    (parents_first(plan, &derived), pairs)
}

/// `plan` with each table that takes its tenant from a parent (`derived`: (table,
/// parent) pairs) moved to just after that parent when it came before it. Pure.
pub fn parents_first(
    mut plan: Vec<(u32, String, Treatment)>,
    derived: &[(u32, u32)],
) -> Vec<(u32, String, Treatment)> {
    // Bounded: each pass moves tables only later; a cycle of tenant_from entries
    // stops after as many passes as there are entries (the calls then refuse it).
    for _ in 0..=derived.len() {
        let mut moved = false;
        for (child, parent) in derived {
            let at = |oid: u32, plan: &[(u32, String, Treatment)]| {
                plan.iter().position(|(o, _, _)| *o == oid)
            };
            if let (Some(c), Some(p)) = (at(*child, &plan), at(*parent, &plan)) {
                if c < p {
                    let row = plan.remove(c);
                    plan.insert(p, row);
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    plan
}

/// The table foreign key `fk` of table `oid` references.
fn parent_through(oid: u32, fk: &str) -> Option<u32> {
    crate::pg::privilege::select_optional::<pgrx::pg_sys::Oid>(
        "SELECT confrelid FROM pg_catalog.pg_constraint
          WHERE conrelid OPERATOR(pg_catalog.=) $1 AND contype OPERATOR(pg_catalog.=) 'f'
            AND conname OPERATOR(pg_catalog.=) $2",
        &[pgrx::pg_sys::Oid::from(oid).into(), fk.into()],
    )
    .map(|o| o.to_u32())
}

/// Split `table.key` entries by table; an entry naming no table of the set is an error
/// listing the tables. Pure.
pub fn split_global_unique(
    entries: &[String],
    tables: &[String],
) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut per_table: Vec<(String, Vec<String>)> =
        tables.iter().map(|t| (t.clone(), Vec::new())).collect();
    for entry in entries {
        let Some((table, key)) = entry.split_once('.') else {
            return Err(entry.clone());
        };
        match per_table.iter_mut().find(|(t, _)| t == table.trim()) {
            Some((_, keys)) => keys.push(key.trim().to_string()),
            None => return Err(entry.clone()),
        }
    }
    Ok(per_table)
}

/// Foreign keys between `tables`: (referencing, referenced) oids.
/// The foreign keys among `tables` as (referencing, referenced) pairs; with
/// `primary_keys_stay` (primary keys kept global) only those whose referenced key is
/// not the primary key: those are the keys a call rewrites.
fn foreign_keys_among(tables: &[(u32, String)], primary_keys_stay: bool) -> Vec<(u32, u32)> {
    let oids: Vec<pgrx::pg_sys::Oid> = tables
        .iter()
        .map(|(o, _)| pgrx::pg_sys::Oid::from(*o))
        .collect();
    Spi::connect(|client| {
        client
            .select(
                "SELECT c.conrelid, c.confrelid FROM pg_catalog.pg_constraint c
                  WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conrelid OPERATOR(pg_catalog.=) ANY ($1)
                    AND c.confrelid OPERATOR(pg_catalog.=) ANY ($1)
                    AND NOT ($2 AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                                             WHERE i.indexrelid OPERATOR(pg_catalog.=) c.conindid AND i.indisprimary))",
                None,
                &[oids.into(), primary_keys_stay.into()],
            )
            .expect("foreign keys")
            .map(|row| (row.get::<pgrx::pg_sys::Oid>(1).unwrap().unwrap().to_u32(), row.get::<pgrx::pg_sys::Oid>(2).unwrap().unwrap().to_u32()))
            .collect()
    })
}

/// With `tenant_column` named, every table the call enables must have that column:
/// one refusal listing them all (before: 42703 for the first, then the next, ...).
fn refuse_tables_without_column(schema: &str, tenant_column: Option<&str>, calls: &Calls) {
    let Some(column) = tenant_column else {
        return;
    };
    // (a table with tenant_from gets the column from its parent)
    let oids: Vec<pgrx::pg_sys::Oid> = calls
        .iter()
        .filter(|(_, _, call)| call.as_ref().is_ok_and(|c| c.tenant_from.is_none()))
        .map(|(oid, _, _)| pgrx::pg_sys::Oid::from(*oid))
        .collect();
    let lacking: Vec<String> = Spi::connect(|client| {
        client
            .select(
                "SELECT c.relname::pg_catalog.text FROM pg_catalog.pg_class c
                  WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1)
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                                     WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid
                                       AND a.attname OPERATOR(pg_catalog.=) $2 AND NOT a.attisdropped)
                  ORDER BY 1",
                None,
                &[oids.into(), column.into()],
            )
            .expect("tables without the tenant column")
            .map(|row| row.get::<String>(1).unwrap().unwrap_or_default())
            .collect()
    });
    if !lacking.is_empty() {
        errors::schema_tables_lack_column(schema, column, &lacking);
    }
}

/// The schema's tables that can be tenant-enabled at all (partitioned ones included;
/// their partitions follow them, so partitions are not listed): not partitions,
/// not temporary, not an extension's (relay's own included).
fn candidate_tables(schema: &str) -> Vec<(u32, String)> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT c.oid::pg_catalog.int8, c.relname::pg_catalog.text FROM pg_catalog.pg_class c
                  WHERE c.relnamespace OPERATOR(pg_catalog.=) (SELECT n.oid FROM pg_catalog.pg_namespace n
                                                               WHERE n.nspname OPERATOR(pg_catalog.=) $1)
                    AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[]) AND NOT c.relispartition
                    AND c.relpersistence OPERATOR(pg_catalog.<>) 't'
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                     WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                                       AND d.objid OPERATOR(pg_catalog.=) c.oid
                                       AND d.deptype OPERATOR(pg_catalog.=) 'e')
                  ORDER BY c.relname",
                None,
                &[schema.into()],
            )
            .expect("schema tables")
            .map(|row| (row.get::<i64>(1).unwrap().unwrap() as u32, row.get::<String>(2).unwrap().unwrap()))
            .collect()
    })
}

/// Shared tables must not reference tables that become tenant tables: their rows,
/// visible to every tenant, would point into one tenant's data.
fn refuse_shared_referencing_tenant_tables(shared: &[u32], enabled: &[u32]) {
    for oid in shared {
        let found = crate::pg::privilege::select_optional::<String>(
            "SELECT pg_catalog.format('%s references %s through %I', f.conrelid::pg_catalog.regclass,
                                      f.confrelid::pg_catalog.regclass, f.conname)
               FROM pg_catalog.pg_constraint f
              WHERE f.conrelid OPERATOR(pg_catalog.=) $1 AND f.contype OPERATOR(pg_catalog.=) 'f'
                AND f.confrelid::pg_catalog.int8 OPERATOR(pg_catalog.=) ANY ($2)
              ORDER BY f.conname LIMIT 1",
            &[pgrx::pg_sys::Oid::from(*oid).into(), enabled.iter().map(|o| *o as i64).collect::<Vec<i64>>().into()],
        );
        if let Some(what) = found {
            errors::shared_references_tenant_table(&what);
        }
    }
}

type Lines = Vec<(String, String)>;
/// (table, step, lock, action, statement)
type PlanRows = Vec<(String, i32, String, String, String)>;

/// The schema call's arguments as SQL passed them; `call.global_unique` holds the
/// `table.key` entries.
struct SchemaArgs {
    schema: Option<String>,
    exclude: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    shared: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    /// `table.fk` entries: the tables that take their tenant from a parent.
    tenant_from: Option<Vec<Option<String>>>,
    call: enable::CallOptions,
}

/// A schema call's arguments checked, each one not given taken from what the schema's
/// last call recorded (`schema_options`).
struct Resolved {
    schema: String,
    exclude: Vec<u32>,
    shared: Vec<u32>,
    entries: Vec<String>,
    keep_entries: Vec<String>,
    from_entries: Vec<String>,
    default_tenant: Option<String>,
    views: Option<String>,
    primary_key: Option<String>,
    tenant_column: Option<String>,
    /// Said when recorded options were used.
    note: Option<String>,
}

/// `given`, else `recorded` (noting that it was used).
fn pick<T>(given: Option<T>, recorded: Option<T>, used: &mut bool) -> Option<T> {
    if given.is_some() {
        return given;
    }
    *used |= recorded.is_some();
    recorded
}

fn resolve_args(function: &str, args: SchemaArgs) -> Resolved {
    let SchemaArgs {
        schema,
        exclude,
        shared,
        tenant_from,
        call,
    } = args;
    let enable::CallOptions {
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from: _,
        shared_rows: _,
        online: _,
        enabled_earlier: _,
    } = call;
    let schema = schema.unwrap_or_else(|| errors::null_argument(function, "schema"));
    let (rec, _) = super::schema_options::recorded(&schema).unwrap_or_default();
    let mut used = false;
    let some = |l: &Vec<String>| (!l.is_empty()).then(|| l.iter().cloned().map(Some).collect());
    let exclude = pick(
        exclude,
        (!rec.exclude.is_empty()).then(|| super::schema_options::oids(&rec.exclude)),
        &mut used,
    );
    let shared = pick(
        shared,
        (!rec.shared.is_empty()).then(|| super::schema_options::oids(&rec.shared)),
        &mut used,
    );
    let global_unique = pick(global_unique, some(&rec.global_unique), &mut used);
    let keep_foreign_keys = pick(keep_foreign_keys, some(&rec.keep_foreign_keys), &mut used);
    let tenant_from = pick(tenant_from, some(&rec.tenant_from), &mut used);
    let tenant_column = pick(tenant_column, rec.tenant_column.clone(), &mut used);
    let default_tenant = pick(default_tenant, rec.default_tenant.clone(), &mut used);
    let views = pick(views, rec.views.clone(), &mut used);
    let primary_key = pick(primary_key, rec.primary_key.clone(), &mut used);
    enable::views_invoker(function, views.clone());
    let oids = |list: Option<Vec<Option<pgrx::pg_sys::Oid>>>, arg: &str| -> Vec<u32> {
        list.unwrap_or_default()
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| errors::null_argument(function, arg))
                    .to_u32()
            })
            .collect()
    };
    let texts = |list: Option<Vec<Option<String>>>, arg: &str| -> Vec<String> {
        list.unwrap_or_default()
            .into_iter()
            .map(|e| e.unwrap_or_else(|| errors::null_argument(function, arg)))
            .collect()
    };
    let entries: Vec<String> = global_unique
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.unwrap_or_else(|| errors::null_global_unique_entry(function)))
        .collect();
    Resolved {
        note: used.then(|| {
            format!(
                "options as recorded for schema {} (relay_schemas): {}",
                crate::model::quote::quote_ident(&schema),
                rec.describe()
            )
        }),
        schema,
        exclude: oids(exclude, "exclude"),
        shared: oids(shared, "shared"),
        entries,
        keep_entries: texts(keep_foreign_keys, "keep_foreign_keys entry"),
        from_entries: texts(tenant_from, "tenant_from entry"),
        default_tenant,
        views,
        primary_key,
        tenant_column,
    }
}

fn run(function: &str, args: SchemaArgs, apply: bool) -> (Lines, PlanRows) {
    let Resolved {
        schema,
        exclude,
        shared,
        entries,
        keep_entries,
        from_entries,
        default_tenant,
        views,
        primary_key,
        tenant_column,
        note,
    } = resolve_args(function, args);
    let options = super::schema_options::SchemaOptions {
        exclude: super::schema_options::names(&exclude),
        shared: super::schema_options::names(&shared),
        global_unique: entries.clone(),
        keep_foreign_keys: keep_entries.clone(),
        tenant_column: tenant_column.clone(),
        tenant_from: from_entries.clone(),
        default_tenant: default_tenant.clone(),
        views: views.clone(),
        primary_key: primary_key.clone(),
    };

    let tables = candidate_tables(&schema);
    if tables.is_empty()
        && crate::pg::privilege::select_optional::<bool>(
            "SELECT true FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) $1",
            &[schema.as_str().into()],
        )
        .is_none()
    {
        errors::undefined_schema(function, &schema);
    }
    let mut plan = treatments(&tables, &exclude, &shared);
    // The application's own tenant table is the registry, not a tenant table.
    if let Some(registry) = crate::pg::tenant_registry::current() {
        for (oid, _, t) in plan.iter_mut() {
            if *oid == registry.relid && *t == Treatment::Enable {
                *t = Treatment::Skip("the tenant registry (relay_use_tenant_registry)");
            }
        }
    }
    // Every key the call rewrites changes together with the foreign keys that
    // reference it, which needs their tables enabled first: the primary keys too when
    // they are made per tenant, else the unique keys other tables reference.
    let primary_keys_stay = primary_key.as_deref() != Some("tenant");
    plan = referencing_first(plan, &foreign_keys_among(&tables, primary_keys_stay));
    // A table that takes its tenant from a parent comes after that parent.
    let (plan, from_per_table) = order_tenant_from(plan, &from_entries, &schema);
    let enabled: Vec<u32> = plan
        .iter()
        .filter(|(_, _, t)| *t == Treatment::Enable)
        .map(|(o, _, _)| *o)
        .collect();
    refuse_shared_referencing_tenant_tables(&shared, &enabled);
    let names: Vec<String> = plan
        .iter()
        .filter(|(_, _, t)| *t == Treatment::Enable)
        .map(|(_, n, _)| n.clone())
        .collect();
    let per_table = split_global_unique(&entries, &names)
        .unwrap_or_else(|entry| errors::schema_global_unique_unknown(&entry, &schema));
    let keep_per_table = split_global_unique(&keep_entries, &names)
        .unwrap_or_else(|entry| errors::schema_global_unique_unknown(&entry, &schema));

    // Each table's own call: its entries of the lists; none for a skipped table.
    let common = enable::CallOptions {
        default_tenant,
        views: views.clone(),
        primary_key,
        tenant_column: tenant_column.clone(),
        ..Default::default()
    };
    let calls = per_table_calls(
        plan,
        (&per_table, &keep_per_table),
        &from_per_table,
        &common,
    );
    refuse_tables_without_column(&schema, tenant_column.as_deref(), &calls);
    if apply {
        let enable: Vec<u32> = calls
            .iter()
            .filter(|(_, _, call)| call.is_ok())
            .map(|(oid, _, _)| *oid)
            .collect();
        lock_all_up_front(
            function,
            &enable,
            enable::views_invoker(function, views.clone()),
        );
    }

    let mut lines = Vec::new();
    let mut steps = Vec::new();
    let mut planned: Vec<u32> = Vec::new();
    for (oid, name, call) in calls {
        let table = quote_qualified(&schema, &name);
        let call = match call {
            Err(why) => {
                lines.push((table, format!("skipped: {why}")));
                continue;
            }
            Ok(call) => call,
        };
        let tbl = Some(crate::pg::regclass::RegClass(pgrx::pg_sys::Oid::from(oid)));
        if apply {
            for line in enable::enable(function, tbl, call) {
                lines.push((table.clone(), line));
            }
        } else {
            // The dry run simulates the call: the tables planned before count as enabled.
            let call = enable::CallOptions {
                enabled_earlier: planned.clone(),
                ..call
            };
            for (step, lock, action, sql) in enable::plan_steps(function, tbl, call) {
                steps.push((table.clone(), step, lock, action, sql));
            }
            planned.push(oid);
        }
    }
    if apply {
        super::schema_options::record(&schema, &options);
    }
    if let Some(note) = note {
        let at = crate::model::quote::quote_ident(&schema);
        // (the dry run shows it as a step 0 row, as it shows every line)
        lines.insert(0, (at, note));
    }
    (lines, steps)
}

/// Every lock the schema call's tables need, taken before the first table changes
/// (issue 18). One call per table, each taking its own locks, would hold the tables
/// already converted while it waits for the next one's; an application transaction
/// holding that one and waiting for a converted table would then be aborted (40P01).
/// The set is what any order of the per-table plans can touch (`up_front_locks`), so
/// the calls that follow find their locks held and never wait.
fn lock_all_up_front(function: &str, enable: &[u32], views_invoker: bool) {
    if enable.is_empty() {
        return;
    }
    let oids: Vec<pgrx::pg_sys::Oid> = enable.iter().map(|o| pgrx::pg_sys::Oid::from(*o)).collect();
    let pairs = |sql: &str| -> Vec<(u32, u32)> {
        Spi::connect(|client| {
            client
                .select(sql, None, &[oids.clone().into()])
                .expect("lock set")
                .map(|row| {
                    (
                        row.get::<pgrx::pg_sys::Oid>(1).unwrap().unwrap().to_u32(),
                        row.get::<pgrx::pg_sys::Oid>(2).unwrap().unwrap().to_u32(),
                    )
                })
                .collect()
        })
    };
    let fks = pairs(
        "SELECT conrelid, confrelid FROM pg_catalog.pg_constraint
          WHERE contype OPERATOR(pg_catalog.=) 'f'
            AND (conrelid OPERATOR(pg_catalog.=) ANY ($1) OR confrelid OPERATOR(pg_catalog.=) ANY ($1))",
    );
    let views = if views_invoker {
        pairs(
            "SELECT DISTINCT rw.ev_class, d.refobjid FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_rewrite rw ON rw.oid OPERATOR(pg_catalog.=) d.objid
               JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) rw.ev_class
              WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.refobjid OPERATOR(pg_catalog.=) ANY ($1)
                AND rw.ev_class OPERATOR(pg_catalog.<>) d.refobjid
                AND v.relkind OPERATOR(pg_catalog.=) 'v'",
        )
        .into_iter()
        .map(|(view, _)| view)
        .collect()
    } else {
        Vec::new()
    };
    let registered: Vec<u32> = fks
        .iter()
        .flat_map(|(c, p)| [*c, *p])
        .filter(|o| crate::pg::probes::registered_now(pgrx::pg_sys::Oid::from(*o)))
        .collect();
    let tenants = crate::pg::tenant_registry::referenced_relid().to_u32();
    let wanted = up_front_locks(enable, &fks, &registered, &views, tenants);
    crate::apply::locks::take_all(function, || wanted.clone());
}

/// The locks of a schema call that enables `enable`, given the foreign keys touching
/// them (child, parent), which of the tables on those keys are tenant-enabled already,
/// the views relay may make security_invoker, and relay's `tenants`. Every table to
/// enable, ACCESS EXCLUSIVE (it gains a column); a tenant-enabled table on the other
/// side of a key, ACCESS EXCLUSIVE (its key is replaced by a composite one); any other
/// table on a key, ACCESS SHARE (so no concurrent relay call changes it meanwhile);
/// the views, ACCESS EXCLUSIVE (ALTER VIEW); `tenants`, SHARE ROW EXCLUSIVE (keys to
/// it are added). In oid order. Pure.
pub fn up_front_locks(
    enable: &[u32],
    fks: &[(u32, u32)],
    registered: &[u32],
    views: &[u32],
    tenants: u32,
) -> Vec<(u32, Lock)> {
    let mut wanted: Vec<(u32, Lock)> = Vec::new();
    for oid in enable.iter().chain(views) {
        crate::apply::locks::want_in(&mut wanted, *oid, Lock::AccessExclusive);
    }
    for (child, parent) in fks {
        for oid in [child, parent] {
            let lock = if registered.contains(oid) {
                Lock::AccessExclusive
            } else {
                Lock::AccessShare
            };
            crate::apply::locks::want_in(&mut wanted, *oid, lock);
        }
    }
    crate::apply::locks::want_in(&mut wanted, tenants, Lock::ShareRowExclusive);
    wanted.sort_by_key(|(oid, _)| *oid);
    wanted
}

// The SQL functions relay_enable_tenancy_schema and relay_tenancy_schema_plan take
// regclass[] arguments; they are thin SQL wrappers (sql/finalize.sql) around these,
// which take the same lists as oid[].

/// The schema call's arguments as the SQL wrappers pass them.
type SchemaCall = (
    Option<String>,
    Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    Option<Vec<Option<String>>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<Option<String>>>,
    Option<String>,
    Option<Vec<Option<String>>>,
);

fn schema_args(args: SchemaCall) -> SchemaArgs {
    let (
        schema,
        exclude,
        shared,
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from,
    ) = args;
    SchemaArgs {
        schema,
        exclude,
        shared,
        tenant_from,
        call: enable::CallOptions {
            global_unique,
            default_tenant,
            views,
            primary_key,
            keep_foreign_keys,
            tenant_column,
            online: false,
            ..Default::default()
        },
    }
}

/// Tenant-enable every ordinary table of a schema, in the caller's transaction: one
/// line per action per table. Tables in `exclude` and `shared` and the bookkeeping
/// tables of migration frameworks are skipped (and say so); `global_unique`,
/// `keep_foreign_keys` and `tenant_from` entries are `table.name`.
fn enable_schema(
    args: SchemaCall,
) -> TableIterator<'static, (name!(table_name, String), name!(action, String))> {
    let (lines, _) = run("relay_enable_tenancy_schema", schema_args(args), true);
    TableIterator::new(lines)
}

/// The dry run of the schema call: every step it would take, per table, simulating
/// the call (the tables planned before a table count as enabled).
#[allow(clippy::type_complexity)]
fn plan_schema(
    args: SchemaCall,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    let (lines, steps) = run("relay_tenancy_schema_plan", schema_args(args), false);
    let mut rows: Vec<_> = lines
        .into_iter()
        .map(|(t, l)| (t, 0, String::new(), l, String::new()))
        .collect();
    rows.extend(steps);
    TableIterator::new(rows)
}

#[pg_extern(volatile, parallel_unsafe, name = "relay_enable_tenancy_schema_oids")]
#[allow(clippy::too_many_arguments)] // one argument per SQL argument
fn relay_enable_tenancy_schema_oids_v2(
    schema: Option<String>,
    exclude: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    shared: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    global_unique: Option<Vec<Option<String>>>,
    default_tenant: Option<String>,
    views: Option<String>,
    primary_key: Option<String>,
    keep_foreign_keys: Option<Vec<Option<String>>>,
    tenant_column: Option<String>,
    tenant_from: Option<Vec<Option<String>>>,
) -> TableIterator<'static, (name!(table_name, String), name!(action, String))> {
    enable_schema((
        schema,
        exclude,
        shared,
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from,
    ))
}

/// 0.2.0's nine arguments: the C symbol stays for databases not yet updated.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
#[allow(clippy::too_many_arguments)] // one argument per SQL argument
fn relay_enable_tenancy_schema_oids(
    schema: Option<String>,
    exclude: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    shared: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    global_unique: Option<Vec<Option<String>>>,
    default_tenant: Option<String>,
    views: Option<String>,
    primary_key: Option<String>,
    keep_foreign_keys: Option<Vec<Option<String>>>,
    tenant_column: Option<String>,
) -> TableIterator<'static, (name!(table_name, String), name!(action, String))> {
    enable_schema((
        schema,
        exclude,
        shared,
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        None,
    ))
}

#[pg_extern(volatile, parallel_unsafe, name = "relay_tenancy_schema_plan_oids")]
#[allow(clippy::too_many_arguments, clippy::type_complexity)] // one argument per SQL argument
fn relay_tenancy_schema_plan_oids_v2(
    schema: Option<String>,
    exclude: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    shared: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    global_unique: Option<Vec<Option<String>>>,
    default_tenant: Option<String>,
    views: Option<String>,
    primary_key: Option<String>,
    keep_foreign_keys: Option<Vec<Option<String>>>,
    tenant_column: Option<String>,
    tenant_from: Option<Vec<Option<String>>>,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    plan_schema((
        schema,
        exclude,
        shared,
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        tenant_from,
    ))
}

/// 0.2.0's nine arguments: the C symbol stays for databases not yet updated.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
#[allow(clippy::too_many_arguments, clippy::type_complexity)] // one argument per SQL argument
fn relay_tenancy_schema_plan_oids(
    schema: Option<String>,
    exclude: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    shared: Option<Vec<Option<pgrx::pg_sys::Oid>>>,
    global_unique: Option<Vec<Option<String>>>,
    default_tenant: Option<String>,
    views: Option<String>,
    primary_key: Option<String>,
    keep_foreign_keys: Option<Vec<Option<String>>>,
    tenant_column: Option<String>,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(step, i32),
        name!(lock, String),
        name!(action, String),
        name!(statement, String),
    ),
> {
    plan_schema((
        schema,
        exclude,
        shared,
        global_unique,
        default_tenant,
        views,
        primary_key,
        keep_foreign_keys,
        tenant_column,
        None,
    ))
}

#[cfg(test)]
mod tests {

    #[test]
    fn referenced_tables_come_after_the_tables_referencing_them() {
        let plan = vec![
            (1, "customers".to_string(), Treatment::Enable),
            (
                2,
                "flyway_schema_history".to_string(),
                Treatment::Skip("framework bookkeeping"),
            ),
            (3, "orders".to_string(), Treatment::Enable),
            (4, "lines".to_string(), Treatment::Enable),
            (5, "notes".to_string(), Treatment::Enable),
        ];
        // orders -> customers, lines -> orders, notes -> notes (itself)
        let order: Vec<u32> = referencing_first(plan.clone(), &[(3, 1), (4, 3), (5, 5)])
            .iter()
            .map(|(o, _, _)| *o)
            .collect();
        assert_eq!(order, vec![2, 4, 3, 1, 5]);
        // the tables of a cycle come last, in their order
        let order: Vec<u32> = referencing_first(plan, &[(3, 1), (1, 3)])
            .iter()
            .map(|(o, _, _)| *o)
            .collect();
        assert_eq!(order, vec![2, 4, 5, 1, 3]);
    }

    use super::*;

    #[test]
    fn framework_excluded_and_shared_tables_are_skipped() {
        let tables = vec![
            (1, "users".to_string()),
            (2, "schema_migrations".to_string()),
            (3, "countries".to_string()),
            (4, "audit_archive".to_string()),
            (5, "ar_internal_metadata".to_string()),
        ];
        let t = treatments(&tables, &[4], &[3]);
        assert_eq!(t[0].2, Treatment::Enable);
        assert_eq!(t[1].2, Treatment::Skip("framework bookkeeping"));
        assert!(matches!(t[2].2, Treatment::Skip(s) if s.starts_with("shared")));
        assert_eq!(t[3].2, Treatment::Skip("excluded"));
        assert_eq!(t[4].2, Treatment::Skip("framework bookkeeping"));
    }

    #[test]
    fn the_schema_call_locks_what_any_order_of_its_tables_can_touch() {
        // enable 20 and 30; 30 references 20 (inside), 20 references 40 (enabled
        // already), 50 (not enabled) references 30, 60 (enabled) references 20; view 70
        let locks = up_front_locks(
            &[20, 30],
            &[(30, 20), (20, 40), (50, 30), (60, 20)],
            &[40, 60],
            &[70],
            10,
        );
        assert_eq!(
            locks,
            vec![
                (10, Lock::ShareRowExclusive),
                (20, Lock::AccessExclusive),
                (30, Lock::AccessExclusive),
                (40, Lock::AccessExclusive),
                (50, Lock::AccessShare),
                (60, Lock::AccessExclusive),
                (70, Lock::AccessExclusive),
            ]
        );
        assert_eq!(
            up_front_locks(&[20], &[], &[], &[], 10),
            vec![(10, Lock::ShareRowExclusive), (20, Lock::AccessExclusive)]
        );
    }

    #[test]
    fn global_unique_entries_are_split_by_table() {
        let tables = vec!["users".to_string(), "api_keys".to_string()];
        let entries = vec![
            "users.email".to_string(),
            "api_keys.key_hash".to_string(),
            "users.handle".to_string(),
        ];
        let split = split_global_unique(&entries, &tables).unwrap();
        assert_eq!(
            split[0],
            (
                "users".to_string(),
                vec!["email".to_string(), "handle".to_string()]
            )
        );
        assert_eq!(
            split[1],
            ("api_keys".to_string(), vec!["key_hash".to_string()])
        );
        assert_eq!(
            split_global_unique(&["email".to_string()], &tables),
            Err("email".to_string())
        );
        assert_eq!(
            split_global_unique(&["nope.email".to_string()], &tables),
            Err("nope.email".to_string())
        );
    }
}
