//! Tenant lifecycle: create, suspend, resume, delete.
//!
//! Deleting a tenant deletes its rows from every tenant-enabled table, children
//! before parents (the order is a pure function of the foreign keys between enabled
//! tables, unit-tested), then the tenant, in the caller's transaction. Before
//! anything is deleted it checks that no row outside the tenant (another tenant's,
//! or a row of a table that is not tenant-enabled) references one of the tenant's
//! rows: foreign-key actions run without row level security, so such a reference
//! would otherwise either block the delete or cascade into data that is not the
//! tenant's.

use crate::model::errors;
use crate::model::quote::{quote_ident, quote_qualified};
use crate::model::tenant_type::TenantType;
use crate::pg::ext::{self, extension_schema, DEFAULT_TENANT_ID};
use crate::pg::privilege;
use crate::pg::privilege::select_optional;
use crate::pg::probes;
use crate::pg::tenant_registry;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// A foreign key between two tenant-enabled tables: `child (columns)` references
/// `parent (parent_columns)`. Names are quoted and qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    pub child: String,
    pub columns: Vec<String>,
    pub parent: String,
    pub parent_columns: Vec<String>,
    /// The child table is tenant-enabled too (else its rows belong to no tenant).
    pub child_enabled: bool,
    /// The tenant columns (quoted) of the child (when enabled) and of the parent.
    pub child_tenant: String,
    pub parent_tenant: String,
    /// The child table's owner (its rows are read as that role).
    pub child_owner: u32,
    /// The key's own equality operators, one per column, schema-qualified
    /// (`OPERATOR(pg_catalog.=)`): the comparisons the foreign key itself makes.
    pub operators: Vec<String>,
}

/// A tenant-enabled table: its qualified name, its tenant column (quoted), and that
/// column's type key (text, uuid, bigint, integer).
pub struct EnabledTable {
    pub name: String,
    pub column: String,
    pub type_key: TenantType,
    /// The table's owner: its rows are deleted as that role.
    pub owner: u32,
}

/// The order to delete from `tables`: every table after the tables whose foreign
/// keys reference it (children first). Self-references are ignored (one DELETE
/// handles them); tables in a cycle keep their input order after the rest.
pub fn delete_order(tables: &[String], fks: &[ForeignKey]) -> Vec<String> {
    // parent -> children still to delete before it
    let mut waiting: BTreeMap<&str, BTreeSet<&str>> = tables
        .iter()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for fk in fks.iter().filter(|fk| fk.child != fk.parent) {
        if let (true, Some(children)) = (
            waiting.contains_key(fk.child.as_str()),
            waiting.get_mut(fk.parent.as_str()),
        ) {
            children.insert(fk.child.as_str());
        }
    }
    let mut order: Vec<String> = Vec::new();
    let mut left: Vec<&String> = tables.iter().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|t| waiting[t.as_str()].is_empty())
            .collect();
        let batch = if ready.is_empty() {
            left.clone()
        } else {
            ready
        };
        for t in &batch {
            order.push((*t).clone());
            for children in waiting.values_mut() {
                children.remove(t.as_str());
            }
        }
        left.retain(|t| !batch.contains(t));
    }
    order
}

/// The enabled tables (that still exist) and every foreign key that references one
/// of them (from an enabled table or not). Read as the extension's owner: the
/// registry gives nothing to other roles.
fn enabled_tables(ext: &str) -> (Vec<EnabledTable>, Vec<ForeignKey>) {
    let registry = quote_qualified(ext, "relay_tables");
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let tables: Vec<EnabledTable> = client
            .select(
                &format!(
                    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(r.tenant_column),
                            CASE a.atttypid WHEN 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                            WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN 'bigint'
                                            WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 'integer' ELSE 'text' END,
                            c.relowner
                       FROM {registry} r JOIN pg_catalog.pg_class c ON c.oid = r.relid
                       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = r.tenant_column
                      -- a partition's rows are deleted through its tenant-enabled parent
                      WHERE NOT c.relispartition
                      ORDER BY 1"
                ),
                None,
                &[],
            )
            .expect("registry")
            .map(|row| EnabledTable {
                name: row.get::<String>(1).unwrap().unwrap(),
                column: row.get::<String>(2).unwrap().unwrap(),
                type_key: TenantType::from_key(&row.get::<String>(3).unwrap().unwrap()),
                owner: row.get::<pg_sys::Oid>(4).unwrap().unwrap().to_u32(),
            })
            .collect();
            let fks = client
            .select(
                &format!(
                    "SELECT con.conname::text,
                            pg_catalog.format('%I.%I', cn.nspname, cc.relname),
                            ARRAY(SELECT pg_catalog.quote_ident(a.attname) FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, i)
                                    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
                            pg_catalog.format('%I.%I', pn.nspname, pc.relname),
                            ARRAY(SELECT pg_catalog.quote_ident(a.attname) FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(n, i)
                                    JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
                            con.conrelid IN (SELECT relid FROM {registry}),
                            COALESCE((SELECT pg_catalog.quote_ident(r.tenant_column) FROM {registry} r WHERE r.relid = con.conrelid), ''),
                            (SELECT pg_catalog.quote_ident(r.tenant_column) FROM {registry} r WHERE r.relid = con.confrelid),
                            cc.relowner,
                            ARRAY(SELECT pg_catalog.format('OPERATOR(%I.%s)', opn.nspname, op.oprname)
                                    FROM pg_catalog.unnest(con.conpfeqop) WITH ORDINALITY k(o, i)
                                    JOIN pg_catalog.pg_operator op ON op.oid = k.o
                                    JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace ORDER BY k.i)
                       FROM pg_catalog.pg_constraint con
                       JOIN pg_catalog.pg_class cc ON cc.oid = con.conrelid
                       JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace
                       JOIN pg_catalog.pg_class pc ON pc.oid = con.confrelid
                       JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
                      WHERE con.contype = 'f' AND con.conparentid = 0 AND NOT cc.relispartition
                        AND con.confrelid IN (SELECT relid FROM {registry})
                      ORDER BY 1, 2"
                ),
                None,
                &[],
            )
            .expect("foreign keys")
            .map(|row| ForeignKey {
                name: row.get::<String>(1).unwrap().unwrap(),
                child: row.get::<String>(2).unwrap().unwrap(),
                columns: row.get::<Vec<String>>(3).unwrap().unwrap(),
                parent: row.get::<String>(4).unwrap().unwrap(),
                parent_columns: row.get::<Vec<String>>(5).unwrap().unwrap(),
                child_enabled: row.get::<bool>(6).unwrap().unwrap_or(false),
                child_tenant: row.get::<String>(7).unwrap().unwrap_or_default(),
                parent_tenant: row.get::<String>(8).unwrap().unwrap_or_else(|| "tenant_id".into()),
                child_owner: row.get::<pg_sys::Oid>(9).unwrap().unwrap().to_u32(),
                operators: row.get::<Vec<String>>(10).unwrap().unwrap_or_default(),
            })
            .collect();
            (tables, fks)
        })
    })
}

/// Tenant lifecycle functions are for roles that see every tenant: tenants has row
/// level security with no policy for anyone else, so a role given privileges on it
/// by accident can still neither read nor change it. The check comes first, so such
/// a role learns nothing about which tenants exist.
fn require_tenant_admin(function: &str) {
    if !privilege::role_sees_every_tenant() {
        errors::tenant_admin_needs_bypassrls(function);
    }
    // Writes to tenants fire its triggers as the caller: none may be a stranger's.
    probes::refuse_foreign_triggers(c"tenants");
}

/// Create a tenant; returns its id (generated when `id` is NULL).
#[pg_extern(volatile, parallel_unsafe)]
fn relay_create_tenant(
    name: Option<String>,
    slug: Option<String>,
    id: default!(Option<String>, "NULL"),
    domain: default!(Option<String>, "NULL"),
    plan: default!(Option<String>, "'freemium'"),
) -> String {
    require_tenant_admin("relay_create_tenant");
    if let Some(registry) = tenant_registry::current() {
        errors::create_tenant_with_registry(&registry);
    }
    let name = name.unwrap_or_else(|| errors::null_argument("relay_create_tenant", "name"));
    let slug = slug.unwrap_or_else(|| errors::null_argument("relay_create_tenant", "slug"));
    for (field, value) in [
        ("name", Some(&name)),
        ("slug", Some(&slug)),
        ("id", id.as_ref()),
    ] {
        if value.is_some_and(|v| v.trim().is_empty()) {
            errors::blank_tenant_field(field);
        }
    }
    let ext = extension_schema();
    let tenants = quote_qualified(&ext, "tenants");
    let taken = select_optional::<String>(
        &format!("SELECT id FROM {tenants} WHERE slug OPERATOR(pg_catalog.=) $1 OR id OPERATOR(pg_catalog.=) $2 LIMIT 1"),
        &[slug.as_str().into(), id.clone().into()],
    );
    if let Some(existing) = taken {
        errors::tenant_exists(&existing, &slug, id.as_deref());
    }
    Spi::get_one_with_args::<String>(
        &format!(
            "INSERT INTO {tenants} (id, name, slug, domain, plan)
             VALUES (COALESCE($1, pg_catalog.gen_random_uuid()::pg_catalog.text), $2, $3, $4, COALESCE($5, 'freemium'))
             RETURNING id"
        ),
        &[id.into(), name.into(), slug.into(), domain.into(), plan.into()],
    )
    .expect("tenant insert")
    .expect("RETURNING id")
}

fn set_active(function: &str, id: Option<String>, active: bool) -> String {
    require_tenant_admin(function);
    let id = id.unwrap_or_else(|| errors::null_argument(function, "id"));
    let ext = extension_schema();
    let registry = tenant_registry::loaded();
    let active_column = registry.as_ref().map(|r| {
        r.registry
            .active_column
            .clone()
            .unwrap_or_else(|| errors::registry_without_active_column(function, &r.registry))
    });
    match probes::tenant_is_active(&id) {
        None => errors::unknown_tenant(&id, registry.as_ref().map(|r| &r.registry)),
        Some(now) if now == active => {
            return format!(
                "tenant {id} is already {}",
                if active { "active" } else { "suspended" }
            );
        }
        Some(_) => {}
    }
    match (&registry, active_column) {
        (Some(r), Some(column)) => {
            // The application's table: written as its owner (its triggers run as that
            // role, not as the caller), the id compared as the column's type.
            let sql = format!(
                "UPDATE {} SET {} = $2 WHERE {} OPERATOR(pg_catalog.=) $1::{}",
                r.registry.table,
                quote_ident(&column),
                quote_ident(&r.registry.id_column),
                r.registry.id_type.sql_type()
            );
            privilege::as_role(r.owner, pg_sys::SECURITY_NOFORCE_RLS, || {
                Spi::run_with_args(&sql, &[id.as_str().into(), active.into()])
            })
            .expect("tenant update");
        }
        _ => Spi::run_with_args(
            &format!("UPDATE {} SET is_active = $2, updated_at = pg_catalog.now() WHERE id OPERATOR(pg_catalog.=) $1", quote_qualified(&ext, "tenants")),
            &[id.as_str().into(), active.into()],
        )
        .expect("tenant update"),
    }
    let action = if active {
        "relay.tenant_resumed"
    } else {
        "relay.tenant_suspended"
    };
    crate::audit::admin::record(&id, action, "tenant", &id, serde_json::json!({}));
    format!(
        "tenant {id} {}",
        if active { "resumed" } else { "suspended" }
    )
}

/// Suspend a tenant: relay_set_tenant refuses it until it is resumed.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_suspend_tenant(id: Option<String>) -> String {
    set_active("relay_suspend_tenant", id, false)
}

/// Resume a suspended tenant.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_resume_tenant(id: Option<String>) -> String {
    set_active("relay_resume_tenant", id, true)
}

/// Delete a tenant and all its rows in tenant-enabled tables. Returns one line per
/// table and one for the tenant.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_delete_tenant(id: Option<String>) -> SetOfIterator<'static, String> {
    let id = id.unwrap_or_else(|| errors::null_argument("relay_delete_tenant", "id"));
    let registry = tenant_registry::loaded();
    if id == DEFAULT_TENANT_ID && registry.is_none() {
        errors::default_tenant_undeletable();
    }
    // Foreign-key checks and actions ignore row level security: only a role that
    // sees every tenant's rows can check that nothing outside the tenant is hit.
    require_tenant_admin("relay_delete_tenant");
    let ext = extension_schema();
    let tenants = quote_qualified(&ext, "tenants");
    // The tenant's row, as the statement that finds (FOR UPDATE) or deletes it sees it.
    let tenant_row = match &registry {
        None => format!("{tenants} WHERE id OPERATOR(pg_catalog.=) $1"),
        Some(r) => format!(
            "{} WHERE {} OPERATOR(pg_catalog.=) $1::{}",
            r.registry.table,
            quote_ident(&r.registry.id_column),
            r.registry.id_type.sql_type()
        ),
    };
    // In the registry's own terms: a role of the application's table (its owner).
    let on_registry = |f: &dyn Fn() -> Option<bool>| match &registry {
        None => f(),
        Some(r) => privilege::as_role(r.owner, pg_sys::SECURITY_NOFORCE_RLS, f),
    };
    // Lock the tenant row first: a concurrent delete of the same tenant waits here.
    // (An id not of the registry's type names no tenant.)
    let found = probes::tenant_is_active(&id).is_some()
        && on_registry(&|| {
            select_optional::<bool>(
                &format!("SELECT true FROM {tenant_row} FOR UPDATE"),
                &[id.as_str().into()],
            )
        })
        .is_some();
    if !found {
        errors::unknown_tenant(&id, registry.as_ref().map(|r| &r.registry));
    }
    let (tables, fks) = enabled_tables(&ext);
    // Row work on the tables runs as each table's owner, with
    // SECURITY_RESTRICTED_OPERATION, a pinned search_path and row level security not
    // forced (`privilege::as_role`): the owner's triggers, rules and foreign-key actions then
    // run with the owner's rights, never with the superuser's who called, and the
    // owner sees every tenant's rows. Comparisons are pg_catalog's, written out.
    for fk in &fks {
        let join: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.parent_columns)
            .zip(&fk.operators)
            .map(|((c, p), op)| format!("p.{p} {op} c.{c}"))
            .collect();
        // Rows of a table that is not tenant-enabled belong to no tenant: any of them
        // referencing the tenant's rows would be hit too.
        // Compared as text: tenants.id is text, whatever type a table keys tenants by.
        let outside = if fk.child_enabled {
            format!(
                " AND c.{}::pg_catalog.text OPERATOR(pg_catalog.<>) $1",
                fk.child_tenant
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT pg_catalog.count(*) FROM {} c JOIN {} p ON {} WHERE p.{}::pg_catalog.text OPERATOR(pg_catalog.=) $1{outside}",
            fk.child,
            fk.parent,
            join.join(" AND "),
            fk.parent_tenant
        );
        // Read as the extension's owner (both tables, whoever owns them) when the key
        // compares with PostgreSQL's own operators; a key over a type of the owner's
        // (its operators the owner's code) is read as the child table's owner.
        let count = || Spi::get_one_with_args::<i64>(&sql, &[id.as_str().into()]);
        let crossing = if fk
            .operators
            .iter()
            .all(|op| op.starts_with("OPERATOR(pg_catalog."))
        {
            privilege::as_extension_owner(count)
        } else {
            privilege::as_role(
                pg_sys::Oid::from(fk.child_owner),
                pg_sys::SECURITY_NOFORCE_RLS,
                count,
            )
        }
        .expect("cross-tenant check")
        .unwrap_or(0);
        if crossing > 0 {
            errors::cross_tenant_reference(&id, fk.name.as_str(), &fk.child, &fk.parent, crossing);
        }
    }
    let mut lines = Vec::new();
    let between_enabled: Vec<ForeignKey> =
        fks.iter().filter(|fk| fk.child_enabled).cloned().collect();
    let names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    for name in delete_order(&names, &between_enabled) {
        let table = tables
            .iter()
            .find(|t| t.name == name)
            .expect("ordered from these tables");
        // A tenant id that is not of the column's type owns no row of the table.
        let fits = table.type_key.accepts(&id);
        let deleted = if !fits {
            0
        } else {
            let cast = match table.type_key {
                TenantType::Text | TenantType::Other => String::new(),
                t => format!("::{}", t.compared_as()),
            };
            let sql = format!(
                "DELETE FROM {name} WHERE {} OPERATOR(pg_catalog.=) $1{cast}",
                table.column
            );
            privilege::as_role(
                pg_sys::Oid::from(table.owner),
                pg_sys::SECURITY_NOFORCE_RLS,
                || {
                    Spi::connect_mut(|client| {
                        client
                            .update(&sql, None, &[id.as_str().into()])
                            .expect("delete rows")
                            .len()
                    })
                },
            )
        };
        lines.push(format!("deleted {deleted} rows from {name}"));
    }
    on_registry(&|| {
        Spi::run_with_args(&format!("DELETE FROM {tenant_row}"), &[id.as_str().into()])
            .expect("delete tenant");
        None
    });
    // Every backend forgets the tenants it knew to exist (the audit writer's cache).
    probes::registration_changed(ext::ext_relation(c"tenants").relid);
    lines.push(format!("deleted tenant {}", quote_ident(&id)));
    // Recorded in the deleted tenant's own log, which keeps its entries.
    crate::audit::admin::record(
        &id,
        "relay.tenant_deleted",
        "tenant",
        &id,
        serde_json::json!({ "actions": lines.clone() }),
    );
    SetOfIterator::new(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(child: &str, parent: &str) -> ForeignKey {
        ForeignKey {
            name: format!("{child}_fk"),
            child: child.into(),
            columns: vec!["x".into()],
            parent: parent.into(),
            parent_columns: vec!["id".into()],
            child_enabled: true,
            child_tenant: "tenant_id".into(),
            parent_tenant: "tenant_id".into(),
            child_owner: 10,
            operators: vec!["OPERATOR(pg_catalog.=)".into()],
        }
    }

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn children_are_deleted_before_their_parents() {
        let tables = v(&["ratings", "skills", "users"]);
        let fks = [
            fk("ratings", "skills"),
            fk("ratings", "users"),
            fk("skills", "users"),
            fk("skills", "skills"),
        ];
        assert_eq!(
            delete_order(&tables, &fks),
            v(&["ratings", "skills", "users"])
        );
        let tables = v(&["users", "skills", "ratings"]);
        assert_eq!(
            delete_order(&tables, &fks),
            v(&["ratings", "skills", "users"])
        );
    }

    #[test]
    fn keys_to_tables_outside_the_set_are_ignored_and_cycles_still_terminate() {
        let tables = v(&["a", "b", "c"]);
        let fks = [fk("a", "b"), fk("b", "a"), fk("c", "elsewhere")];
        let order = delete_order(&tables, &fks);
        assert_eq!(order.len(), 3);
        assert_eq!(order[0], "c");
    }
}
