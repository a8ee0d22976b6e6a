//! `relay_verify()`: what leaks around the tenant-enabled tables, one finding per row
//! with its severity, the object, the problem and the SQL that fixes it.
//!
//! Each check is one catalog query. `$1` is relay's schema, `$2` the schema of the
//! functions users call (the fixes call them); every query reads the
//! registry as the extension's owner (application roles see no registry rows) under
//! the function's pinned search_path, so `regclass` prints schema-qualified names and
//! the fix SQL can be run as printed. Severity: `error` (rows of one tenant reach
//! another, or a table is not isolated), `warning` (weaker than it should be, or a
//! choice to review).

use crate::model::quote::quote_qualified;
use crate::pg::ext;
use crate::pg::privilege;
use pgrx::prelude::*;

/// Foreign keys between two tenant-enabled tables that do not include the child's
/// tenant column: `(constraint on child, kept single-column on request)`. Shared with
/// `relay_security_check`.
pub fn single_column_foreign_keys_sql(registry: &str) -> String {
    format!(
        "SELECT pg_catalog.format('%I on %s', f.conname, f.conrelid::pg_catalog.regclass),
                f.conname OPERATOR(pg_catalog.=) ANY (rc.keep_foreign_keys::pg_catalog.name[] OPERATOR(pg_catalog.||) rp.keep_foreign_keys::pg_catalog.name[]),
                f.conrelid::pg_catalog.regclass::pg_catalog.text
           FROM pg_catalog.pg_constraint f
           JOIN {registry} rc ON rc.relid::pg_catalog.oid OPERATOR(pg_catalog.=) f.conrelid
           JOIN {registry} rp ON rp.relid::pg_catalog.oid OPERATOR(pg_catalog.=) f.confrelid
          WHERE f.contype OPERATOR(pg_catalog.=) 'f'
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(f.conkey) k(n)
                              JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.conrelid
                                                             AND a.attnum OPERATOR(pg_catalog.=) k.n
                             WHERE a.attname OPERATOR(pg_catalog.=) rc.tenant_column)
          ORDER BY 1"
    )
}

/// `NOT EXISTS (...)`: the object `objid` of catalog `catalog` belongs to no extension.
fn not_extension_member(catalog: &str, objid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT FROM pg_catalog.pg_depend x
                      WHERE x.classid OPERATOR(pg_catalog.=) 'pg_catalog.{catalog}'::pg_catalog.regclass
                        AND x.objid OPERATOR(pg_catalog.=) {objid} AND x.deptype OPERATOR(pg_catalog.=) 'e')"
    )
}

/// The checks: (name, query returning severity, object, problem, fix).
fn checks(registry: &str, audit_registry: &str) -> Vec<(&'static str, String)> {
    let mut checks = registry_and_linked_table_checks(registry, audit_registry);
    checks.push(missing_registry_key_check(
        registry,
        crate::pg::probes::citus_installed(),
    ));
    checks.extend(bypass_and_privilege_checks(registry));
    checks
}

/// A tenant-enabled table whose tenant column neither references the tenant registry
/// (relay.tenants, or the application's own) nor carries relay's tenant-exists
/// trigger: rows can name tenants that do not exist. `pg_restore -j` leaves it so
/// (it restores the foreign keys before relay.tenants' rows, and the key fails).
/// With Citus, a local table in a scaled-out schema gets its key from
/// relay_distribute: not counted.
fn missing_registry_key_check(registry: &str, citus: bool) -> (&'static str, String) {
    let scaled_out_local = if citus {
        "AND NOT (EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) tenants.relid)
                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) c.oid))"
    } else {
        ""
    };
    (
        "tenant columns with no key to the tenant registry",
        format!(
            "SELECT 'error', pg_catalog.format('table %s', c.oid::pg_catalog.regclass),
                    pg_catalog.format('%I has no foreign key to %s (nor relay''s tenant-exists trigger): its rows can name tenants that do not exist (pg_restore -j leaves this)',
                                      r.tenant_column, tenants.relid::pg_catalog.regclass),
                    'SELECT public.relay_repair();'
               FROM {registry} r
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
               JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) r.tenant_column
                                             AND NOT a.attisdropped
              CROSS JOIN (SELECT COALESCE((SELECT g.relid::pg_catalog.oid FROM {tenant_registry} g),
                                          pg_catalog.to_regclass(pg_catalog.format('%I.tenants', $1))::pg_catalog.oid) AS relid) tenants
              WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_constraint k
                                 WHERE k.conrelid OPERATOR(pg_catalog.=) c.oid AND k.contype OPERATOR(pg_catalog.=) 'f'
                                   AND k.confrelid OPERATOR(pg_catalog.=) tenants.relid
                                   AND a.attnum OPERATOR(pg_catalog.=) ANY (k.conkey))
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                                 WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid AND t.tgname OPERATOR(pg_catalog.=) '{trigger}')
                {scaled_out_local}",
            tenant_registry = quote_qualified(&ext::extension_schema(), "relay_tenant_registry"),
            trigger = crate::model::names::TENANT_EXISTS_TRIGGER,
        ),
    )
}

/// The registry's own rows, and how tables are tied to the tenant tables (foreign
/// keys, INVALID indexes, open parents, LIKE copies).
fn registry_and_linked_table_checks(
    registry: &str,
    audit_registry: &str,
) -> Vec<(&'static str, String)> {
    let single = single_column_foreign_keys_sql(registry);
    vec![
        (
            "registry rows of dropped tables",
            format!(
                "SELECT 'error', pg_catalog.format('registry row %s', r.relid::pg_catalog.oid),
                        'names a table that no longer exists (dropped while relay''s event triggers were disabled?)',
                        pg_catalog.format('DELETE FROM %I.relay_tables WHERE relid = %s;', $1, r.relid::pg_catalog.oid)
                   FROM {registry} r
                  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid)
                 UNION ALL
                 SELECT 'error', pg_catalog.format('capture registry row %s', r.relid::pg_catalog.oid),
                        'names a table that no longer exists',
                        pg_catalog.format('DELETE FROM %I.relay_audit_tables WHERE relid = %s;', $1, r.relid::pg_catalog.oid)
                   FROM {audit_registry} r
                  WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid)"
            ),
        ),
        (
            "tables referencing tenant tables",
            format!(
                "SELECT DISTINCT 'error', pg_catalog.format('table %s', f.conrelid::pg_catalog.regclass),
                        pg_catalog.format('references tenant-enabled %s (foreign key %I) but is not tenant-enabled: its rows belong to no tenant, and every role that may read it reads them all',
                                          f.confrelid::pg_catalog.regclass, f.conname),
                        -- with the tenant column the referenced table was enabled with
                        CASE WHEN r.tenant_column OPERATOR(pg_catalog.=) 'tenant_id'
                             THEN pg_catalog.format('SELECT %I.relay_enable_tenancy(%L);', $2, f.conrelid::pg_catalog.regclass::pg_catalog.text)
                             WHEN EXISTS (SELECT FROM pg_catalog.pg_attribute a
                                           WHERE a.attrelid OPERATOR(pg_catalog.=) f.conrelid
                                             AND a.attname OPERATOR(pg_catalog.=) r.tenant_column AND NOT a.attisdropped)
                             THEN pg_catalog.format('SELECT %I.relay_enable_tenancy(%L, tenant_column => %L);', $2,
                                                    f.conrelid::pg_catalog.regclass::pg_catalog.text, r.tenant_column)
                             -- no tenant column: take each row's from the row it references
                             ELSE pg_catalog.format('SELECT %I.relay_enable_tenancy(%L, tenant_from => %L);', $2,
                                                    f.conrelid::pg_catalog.regclass::pg_catalog.text, f.conname) END
                   FROM pg_catalog.pg_constraint f
                   JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) f.confrelid
                  WHERE f.contype OPERATOR(pg_catalog.=) 'f'
                    AND NOT EXISTS (SELECT FROM {registry} r2 WHERE r2.relid::pg_catalog.oid OPERATOR(pg_catalog.=) f.conrelid)
                    AND {}",
                not_extension_member("pg_class", "f.conrelid")
            ),
        ),
        (
            "tables with the tenant column, added later",
            format!(
                "SELECT DISTINCT 'warning', pg_catalog.format('table %s', c.oid::pg_catalog.regclass),
                        pg_catalog.format('has column %I like the tenant-enabled tables of schema %I but is not tenant-enabled: every role that may read it reads every tenant''s rows',
                                          a.attname, n.nspname),
                        CASE WHEN a.attname OPERATOR(pg_catalog.=) 'tenant_id'
                             THEN pg_catalog.format('SELECT %I.relay_enable_tenancy(%L);', $2, c.oid::pg_catalog.regclass::pg_catalog.text)
                             ELSE pg_catalog.format('SELECT %I.relay_enable_tenancy(%L, tenant_column => %L);', $2,
                                                    c.oid::pg_catalog.regclass::pg_catalog.text, a.attname) END
                   FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0
                                                 AND NOT a.attisdropped
                  WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::pg_catalog.\"char\"[]) AND NOT c.relispartition
                    AND c.relpersistence OPERATOR(pg_catalog.<>) 't'
                    AND NOT EXISTS (SELECT FROM {registry} r WHERE r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) c.oid)
                    AND EXISTS (SELECT FROM {registry} r JOIN pg_catalog.pg_class rc ON rc.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
                                 WHERE rc.relnamespace OPERATOR(pg_catalog.=) c.relnamespace
                                   AND r.tenant_column OPERATOR(pg_catalog.=) a.attname)
                    AND {}",
                not_extension_member("pg_class", "c.oid")
            ),
        ),
        (
            "single-column foreign keys between tenant tables",
            format!(
                "SELECT CASE WHEN s.kept THEN 'warning' ELSE 'error' END, pg_catalog.format('foreign key %s', s.fk),
                        CASE WHEN s.kept THEN 'joins two tenant-enabled tables without the tenant column (kept single-column on request): a row can reference another tenant''s row'
                             ELSE 'joins two tenant-enabled tables without the tenant column: a row can reference another tenant''s row' END,
                        CASE WHEN s.kept THEN pg_catalog.format('-- if it need not cross tenants: SELECT %I.relay_enable_tenancy(%L, keep_foreign_keys => ''{{}}'');', $2, s.child)
                             ELSE pg_catalog.format('SELECT %I.relay_enable_tenancy(%L);', $2, s.child) END
                   FROM ({single}) s(fk, kept, child)"
            ),
        ),
        (
            "INVALID indexes on tenant tables",
            format!(
                "SELECT 'error', pg_catalog.format('index %s', i.indexrelid::pg_catalog.regclass),
                        pg_catalog.format('is INVALID on tenant-enabled %s (a concurrent build that failed or was cancelled): maintained on every write%s, used by no query',
                                          i.indrelid::pg_catalog.regclass, CASE WHEN i.indisunique THEN ' and enforcing uniqueness' ELSE '' END),
                        pg_catalog.format('DROP INDEX CONCURRENTLY %s; -- then run relay_tenancy_plan(%L, online => true) again if the conversion is not done',
                                          i.indexrelid::pg_catalog.regclass, i.indrelid::pg_catalog.regclass::pg_catalog.text)
                   FROM pg_catalog.pg_index i
                   JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) i.indrelid
                  WHERE NOT i.indisvalid"
            ),
        ),
        (
            "tenant tables under an open parent",
            format!(
                "SELECT 'error', pg_catalog.format('table %s', i.inhrelid::pg_catalog.regclass),
                        pg_catalog.format('is tenant-enabled but inherits from %s, which is not: a query on %s reads its rows of every tenant',
                                          i.inhparent::pg_catalog.regclass, i.inhparent::pg_catalog.regclass),
                        pg_catalog.format('SELECT %I.relay_enable_tenancy(%L); -- or: ALTER TABLE %s NO INHERIT %s;', $2,
                                          i.inhparent::pg_catalog.regclass::pg_catalog.text, i.inhrelid::pg_catalog.regclass, i.inhparent::pg_catalog.regclass)
                   FROM pg_catalog.pg_inherits i
                   JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) i.inhrelid
                  WHERE NOT EXISTS (SELECT FROM {registry} r2 WHERE r2.relid::pg_catalog.oid OPERATOR(pg_catalog.=) i.inhparent)"
            ),
        ),
        (
            "tables created LIKE a tenant table",
            format!(
                "SELECT 'error', pg_catalog.format('table %s', c.oid::pg_catalog.regclass),
                        pg_catalog.format('column %I has relay''s tenant default (%s) but the table is not tenant-enabled: no row level security, every tenant''s rows visible (created LIKE a tenant table?)',
                                          a.attname, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)),
                        pg_catalog.format('SELECT %I.relay_enable_tenancy(%L, tenant_column => %L);', $2, c.oid::pg_catalog.regclass::pg_catalog.text, a.attname)
                   FROM pg_catalog.pg_attrdef ad
                   JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                                              AND d.objid OPERATOR(pg_catalog.=) ad.oid
                                              AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                   JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.refobjid
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) ad.adrelid
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) ad.adrelid AND a.attnum OPERATOR(pg_catalog.=) ad.adnum
                  WHERE p.proname OPERATOR(pg_catalog.~~) 'relay\\_insert\\_tenant%'
                    AND p.pronamespace OPERATOR(pg_catalog.=) pg_catalog.to_regnamespace(pg_catalog.quote_ident($1))::pg_catalog.oid
                    AND NOT EXISTS (SELECT FROM {registry} r WHERE r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) c.oid)
                    AND {}",
                not_extension_member("pg_class", "c.oid")
            ),
        ),
    ]
}

/// What reads or changes tenant tables around their policies: views, SECURITY
/// DEFINER functions, global keys, pending constraints, owners, grants, sequences.
fn bypass_and_privilege_checks(registry: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "views that bypass row level security",
            format!(
                "SELECT DISTINCT CASE WHEN v.relkind OPERATOR(pg_catalog.=) 'm' AND NOT rd.readable THEN 'warning' ELSE 'error' END,
                        pg_catalog.format(CASE v.relkind WHEN 'm' THEN 'materialized view %s' ELSE 'view %s' END, v.oid::pg_catalog.regclass),
                        CASE WHEN v.relkind OPERATOR(pg_catalog.=) 'm' AND rd.readable
                               THEN pg_catalog.format('holds rows of tenant-enabled %s from every tenant (a materialized view cannot have row level security), and roles subject to row level security may read it: %s', t.oid::pg_catalog.regclass, rd.readers)
                             WHEN v.relkind OPERATOR(pg_catalog.=) 'm'
                               THEN pg_catalog.format('holds rows of tenant-enabled %s from every tenant (a materialized view cannot have row level security); only its owner and roles that see every tenant may read it', t.oid::pg_catalog.regclass)
                             ELSE pg_catalog.format('reads tenant-enabled %s as its owner %I, who bypasses row level security: it shows every tenant''s rows', t.oid::pg_catalog.regclass, o.rolname) END,
                        CASE WHEN v.relkind OPERATOR(pg_catalog.=) 'm' AND rd.readable
                               THEN pg_catalog.format('REVOKE SELECT ON %s FROM %s; -- or replace it with a view', v.oid::pg_catalog.regclass, rd.readers)
                             WHEN v.relkind OPERATOR(pg_catalog.=) 'm'
                               THEN '-- keep it so: grant it to no application role'
                             ELSE pg_catalog.format('ALTER VIEW %s SET (security_invoker = on);', v.oid::pg_catalog.regclass) END
                   FROM pg_catalog.pg_rewrite rw
                   JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) rw.ev_class
                   JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                                              AND d.objid OPERATOR(pg_catalog.=) rw.oid
                                              AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                   JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) d.refobjid
                   JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) d.refobjid
                   JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) v.relowner
                  -- who besides its owner may SELECT it while row level security applies to them
                  CROSS JOIN LATERAL (
                    SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 AS readable,
                           pg_catalog.string_agg(CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(g.rolname) END, ', '
                                                 ORDER BY g.rolname) AS readers
                      FROM pg_catalog.aclexplode(COALESCE(v.relacl, pg_catalog.acldefault('r', v.relowner))) a
                      LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) a.grantee
                     WHERE a.privilege_type OPERATOR(pg_catalog.=) 'SELECT'
                       AND a.grantee OPERATOR(pg_catalog.<>) v.relowner
                       AND (a.grantee OPERATOR(pg_catalog.=) 0 OR NOT (g.rolsuper OR g.rolbypassrls))) rd
                  WHERE v.oid OPERATOR(pg_catalog.<>) t.oid
                    AND (v.relkind OPERATOR(pg_catalog.=) 'm'
                         OR (v.relkind OPERATOR(pg_catalog.=) 'v' AND (o.rolsuper OR o.rolbypassrls)
                             AND NOT EXISTS (SELECT FROM pg_catalog.pg_options_to_table(v.reloptions) x
                                              WHERE x.option_name OPERATOR(pg_catalog.=) 'security_invoker'
                                                AND pg_catalog.lower(x.option_value) OPERATOR(pg_catalog.=) ANY (ARRAY['true', 'on', '1', 'yes']))))"
            ),
        ),
        (
            "SECURITY DEFINER functions of roles that bypass row level security",
            format!(
            "SELECT 'warning', pg_catalog.format('function %s', p.oid::pg_catalog.regprocedure),
                    pg_catalog.format('is SECURITY DEFINER and owned by %I, who bypasses row level security: whatever tenant-enabled table it reads, it reads for every tenant', o.rolname),
                    pg_catalog.format('ALTER FUNCTION %s OWNER TO app_owner; -- a role row level security applies to', p.oid::pg_catalog.regprocedure)
               FROM pg_catalog.pg_proc p
               JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) p.proowner
              WHERE p.prosecdef AND (o.rolsuper OR o.rolbypassrls)
                AND p.pronamespace OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog'::pg_catalog.regnamespace, 'information_schema'::pg_catalog.regnamespace]::pg_catalog.oid[])
                AND {}",
                not_extension_member("pg_proc", "p.oid")
            ),
        ),
        (
            "global unique keys",
            format!(
                "SELECT 'warning', pg_catalog.format('unique index %s', i.indexrelid::pg_catalog.regclass),
                        pg_catalog.format('is unique across tenants on %s%s: a tenant that inserts a value another tenant holds learns that it exists',
                                          c.oid::pg_catalog.regclass, CASE WHEN pg_catalog.cardinality(r.global_unique) OPERATOR(pg_catalog.>) 0 THEN ' (global_unique ' OPERATOR(pg_catalog.||) r.global_unique::pg_catalog.text OPERATOR(pg_catalog.||) ')' ELSE '' END),
                        pg_catalog.format('-- if per tenant is enough: SELECT %I.relay_enable_tenancy(%L, global_unique => <the list without it>);', $2, c.oid::pg_catalog.regclass::pg_catalog.text)
                   FROM {registry} r
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) r.tenant_column
                   JOIN pg_catalog.pg_index i ON i.indrelid OPERATOR(pg_catalog.=) c.oid
                  WHERE i.indisunique AND NOT i.indisprimary
                    AND NOT a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[])"
            ),
        ),
        (
            "pending NOT VALID constraints",
            format!(
                "SELECT 'warning', pg_catalog.format('constraint %I on %s', k.conname, k.conrelid::pg_catalog.regclass),
                        'is NOT VALID: rows written before it was added are not checked',
                        pg_catalog.format('ALTER TABLE %s VALIDATE CONSTRAINT %I;', k.conrelid::pg_catalog.regclass, k.conname)
                   FROM pg_catalog.pg_constraint k
                   JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) k.conrelid
                  WHERE NOT k.convalidated"
            ),
        ),
        (
            "login roles that own tenant tables",
            format!(
                "SELECT 'warning', pg_catalog.format('table %s', c.oid::pg_catalog.regclass),
                        pg_catalog.format('is owned by login role %I: whoever logs in as the owner can change the table''s definition (relay''s DDL guard stops only the changes that switch isolation off)', o.rolname),
                        pg_catalog.format('ALTER TABLE %s OWNER TO app_owner; -- a NOLOGIN role the migrations SET ROLE to', c.oid::pg_catalog.regclass)
                   FROM {registry} r
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
                   JOIN pg_catalog.pg_roles o ON o.oid OPERATOR(pg_catalog.=) c.relowner
                  WHERE o.rolcanlogin"
            ),
        ),
        (
            "TRUNCATE and TRIGGER held by other roles",
            format!(
                "SELECT 'warning', pg_catalog.format('table %s', c.oid::pg_catalog.regclass),
                        pg_catalog.format('%s holds %s: %s', CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(g.rolname) END, a.privilege_type,
                                          CASE a.privilege_type WHEN 'TRUNCATE' THEN 'relay''s guard refuses TRUNCATE to roles row level security applies to, but the grant is more than an application needs'
                                               ELSE 'the role can attach triggers, which see every writer''s rows, of every tenant' END),
                        pg_catalog.format('REVOKE %s ON %s FROM %s;', a.privilege_type, c.oid::pg_catalog.regclass,
                                          CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(g.rolname) END)
                   FROM {registry} r
                   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid::pg_catalog.oid
                  CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
                   LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) a.grantee
                  WHERE a.grantee OPERATOR(pg_catalog.<>) c.relowner
                    AND a.privilege_type OPERATOR(pg_catalog.=) ANY (ARRAY['TRUNCATE', 'TRIGGER'])"
            ),
        ),
        (
            "sequences shared by tenants",
            format!(
                "SELECT 'warning', pg_catalog.format('sequence %s', s.oid::pg_catalog.regclass),
                        pg_catalog.format('numbers %s.%I for every tenant: a tenant that sees its own ids learns how many rows the others create', t.oid::pg_catalog.regclass, a.attname),
                        pg_catalog.format('-- give %s.%I ids that reveal nothing, e.g. a uuid column with DEFAULT gen_random_uuid()', t.oid::pg_catalog.regclass, a.attname)
                   FROM pg_catalog.pg_depend d
                   JOIN pg_catalog.pg_class s ON s.oid OPERATOR(pg_catalog.=) d.objid AND s.relkind OPERATOR(pg_catalog.=) 'S'
                   JOIN {registry} r ON r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) d.refobjid
                   JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) d.refobjid
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) t.oid AND a.attnum OPERATOR(pg_catalog.=) d.refobjsubid
                  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::pg_catalog.\"char\"[])"
            ),
        ),
    ]
}

/// (severity, object, problem, fix)
pub type Finding = (String, String, String, String);

/// Every finding, errors first.
#[pg_extern(volatile, parallel_unsafe)]
fn relay_verify() -> TableIterator<
    'static,
    (
        name!(severity, String),
        name!(object, String),
        name!(problem, String),
        name!(fix, String),
    ),
> {
    TableIterator::new(findings())
}

/// What relay_verify returns.
pub fn findings() -> Vec<Finding> {
    findings_given(
        &crate::guards::isolation::broken(None, None),
        &crate::citus::placements::broken_placements(),
    )
}

/// The same, given the tables and Citus placements whose isolation is switched off
/// (`isolation::broken`, `placements::broken_placements`): relay_security_check reads
/// them once for rows of their own and for its count of relay_verify's errors.
pub fn findings_given(
    broken: &[(String, String)],
    placements: &[(String, String, String)],
) -> Vec<Finding> {
    let schema = ext::extension_schema();
    let registry = quote_qualified(&schema, "relay_tables");
    let audit_registry = quote_qualified(&schema, "relay_audit_tables");
    let mut found: Vec<Finding> = privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let mut found = Vec::new();
            for (_, sql) in checks(&registry, &audit_registry) {
                let rows = client
                    .select(
                        &sql,
                        None,
                        &[schema.as_str().into(), ext::API_SCHEMA.into()],
                    )
                    .expect("verify check");
                for row in rows {
                    let text = |i: usize| row.get::<String>(i).unwrap().unwrap_or_default();
                    found.push((text(1), text(2), text(3), text(4)));
                }
            }
            found
        })
    });
    // Isolation switched off (flags, relay's policy, the TRUNCATE guard): the DDL
    // guard's own check.
    for (table, problem) in broken {
        found.push((
            "error".into(),
            format!("table {table}"),
            problem.clone(),
            format!(
                "SELECT {}.relay_enable_tenancy({});",
                crate::model::quote::quote_ident(ext::API_SCHEMA),
                crate::model::quote::quote_literal(table)
            ),
        ));
    }
    // The same on every Citus placement, on the node that holds it.
    for (table, placement, problem) in placements {
        found.push((
            "error".into(),
            format!("placement {placement} of {table}"),
            problem.clone(),
            format!(
                "SELECT {}.relay_distribute();",
                crate::model::quote::quote_ident(ext::API_SCHEMA)
            ),
        ));
    }
    found.sort_by(|a, b| (a.0 != "error", &a.1, &a.2).cmp(&(b.0 != "error", &b.1, &b.2)));
    found.dedup();
    found
}

/// What is wrong with the isolation of tenant-enabled table `tbl` (row level security
/// flags, relay's policies and their rule, the TRUNCATE guard): empty when it is
/// isolated, or not tenant-enabled. The `problems` column of relay_tenancy_status.
#[pg_extern(stable, strict, parallel_restricted)]
fn relay_isolation_problems(tbl: crate::pg::regclass::RegClass) -> Vec<String> {
    crate::guards::isolation::broken(Some(vec![tbl.0]), None)
        .into_iter()
        .map(|(_, problem)| problem)
        .collect()
}
