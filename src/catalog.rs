//! Look: read one table's state from the catalogs into plain structs.
//!
//! One SPI query builds the whole state as JSON (serde turns it into `TableState`), so
//! the look phase is a single round trip and the structs are plain data the planner can
//! be tested with. Every catalog reference is schema-qualified.

use serde::{Deserialize, Serialize};

/// Everything the planner needs to know about one table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableState {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `pg_class.relkind`: r, p, v, m, f, S, i, I, c, t.
    pub relkind: String,
    pub is_partition: bool,
    /// The partitioned parent, when `is_partition`.
    pub parent: Option<String>,
    #[serde(default)]
    pub parent_oid: Option<u32>,
    /// The partitioned parent is tenant-enabled (filled in by the caller): then this
    /// partition follows it.
    #[serde(default)]
    pub parent_registered: bool,
    /// Citus distributed the table (filled in after the catalog query, which cannot
    /// name Citus's catalog when Citus is not installed): relay writes its policies
    /// and column default in their by-name forms, which Citus can send to the shards.
    #[serde(default)]
    pub distributed: bool,
    /// relay's `tenants` is a Citus reference table (relay_distribute ran): new tenant
    /// tables get the by-name forms too, and their foreign key to tenants waits for
    /// relay_distribute (with it a local table would become a Citus local table).
    #[serde(default)]
    pub scaled_out: bool,
    /// In `pg_catalog`, `information_schema`, a toast schema, or below the first normal OID.
    pub is_system: bool,
    /// The extension this table belongs to, if any (relay_tenancy's own tables included).
    pub extension: Option<String>,
    /// The current role is (a member of) the table's owner.
    pub is_owner: bool,
    pub owner: String,
    #[serde(default)]
    pub owner_oid: u32,
    /// `pg_class.relpersistence`: p permanent, u unlogged, t temporary.
    #[serde(default)]
    pub persistence: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub tenant_column: Option<TenantColumn>,
    /// Name of an existing foreign key `(tenant_id) REFERENCES tenants(id)`.
    pub tenant_fk: Option<String>,
    /// Constraints on the table added NOT VALID and not validated yet (an online
    /// conversion validates them in a later step).
    #[serde(default)]
    pub not_valid: Vec<String>,
    #[serde(default)]
    pub indexes: Vec<IndexInfo>,
    #[serde(default)]
    pub policies: Vec<PolicyInfo>,
    /// Foreign keys from this table to another, and from another table to this one
    /// (a self-reference appears once, as outgoing).
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKeyInfo>,
    /// Views and materialized views that read the table directly.
    #[serde(default)]
    pub views: Vec<ViewInfo>,
    /// User (not internal) triggers on the table.
    #[serde(default)]
    pub triggers: Vec<TriggerInfo>,
    /// Index access methods with a default operator class for text (btree; gist
    /// once btree_gist is installed): where an exclusion constraint can take
    /// `tenant_id WITH =`.
    #[serde(default, skip_serializing)]
    pub text_opclass_ams: Vec<String>,
    /// Relation names in the table's schema and constraint names on the table: generated
    /// names must avoid them.
    #[serde(default, skip_serializing)]
    pub names_taken: Vec<String>,
    /// The table has a row in relay_tables.
    pub registered: bool,
}

fn yes() -> bool {
    true
}

impl TableState {
    pub fn oid_datum(&self) -> pgrx::pg_sys::Oid {
        pgrx::pg_sys::Oid::from(self.oid)
    }
}

/// An existing `tenant_id` column.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TenantColumn {
    #[serde(default)]
    pub name: String,
    /// `format_type()` of the column, e.g. `text`, `uuid`, `character varying(40)`.
    pub type_name: String,
    pub is_text: bool,
    /// `text`, `uuid`, `bigint`, `integer` (the types relay keys tenants by), else `other`.
    #[serde(default)]
    pub type_key: crate::model::tenant_type::TenantType,
    pub not_null: bool,
    /// `pg_get_expr()` of the current default, if any.
    pub default_expr: Option<String>,
    /// The default is relay's own `relay_insert_tenant(...)` call.
    pub default_is_ours: bool,
}

/// One index on the table (unique or not).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexInfo {
    pub name: String,
    pub is_unique: bool,
    pub is_primary: bool,
    pub is_valid: bool,
    /// A partition of the partitioned parent's index: it follows the parent's.
    #[serde(default)]
    pub inherited: bool,
    /// Key columns in order; `None` for an expression.
    pub key_columns: Vec<Option<String>>,
    /// `tenant_id` is one of the key columns.
    pub has_tenant_key: bool,
    /// The first key column is `tenant_id`.
    pub leads_with_tenant: bool,
    /// `pg_get_expr(indpred)`, for a partial index.
    pub predicate: Option<String>,
    /// Access method, e.g. `btree`.
    pub am: String,
    /// `pg_get_indexdef()`.
    pub definition: String,
    /// The exact text `pg_get_indexdef()` prints before the key list:
    /// `CREATE UNIQUE INDEX <name> ON <schema>.<table> USING <am> (`.
    pub definition_prefix: String,
    /// A tablespace other than the database default.
    pub tablespace: Option<String>,
    /// The constraint this index backs, if any.
    pub constraint: Option<ConstraintInfo>,
    /// Foreign keys (on any table) that reference this index's key, as
    /// `constraint on table`.
    #[serde(default)]
    pub dependent_fks: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConstraintInfo {
    pub name: String,
    /// `u` unique, `p` primary key, `x` exclusion.
    pub contype: String,
    pub deferrable: bool,
    pub deferred: bool,
    /// `pg_get_constraintdef()`.
    pub definition: String,
}

/// One foreign key touching the table. `child` holds the constraint, `parent` is
/// referenced; one of them is the table being read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ForeignKeyInfo {
    pub name: String,
    /// The table being read holds the constraint (it is the child).
    pub outgoing: bool,
    pub child_oid: u32,
    pub child_schema: String,
    pub child_name: String,
    pub columns: Vec<String>,
    pub parent_oid: u32,
    pub parent_schema: String,
    pub parent_name: String,
    pub parent_columns: Vec<String>,
    /// `pg_constraint.confupdtype` / `confdeltype`: a no action, r restrict, c cascade,
    /// n set null, d set default.
    pub on_update: String,
    pub on_delete: String,
    /// `confmatchtype`: s simple, f full.
    pub match_type: String,
    pub deferrable: bool,
    pub deferred: bool,
    #[serde(default = "yes")]
    pub validated: bool,
    /// PostgreSQL 15's `ON DELETE SET NULL (cols)` column list, when given.
    #[serde(default)]
    pub delete_set_columns: Vec<String>,
    pub definition: String,
    /// The key already includes tenant_id on both sides.
    pub has_tenant: bool,
    /// The other table has a text NOT NULL tenant_id column (an enabled table does).
    pub other_has_tenant: bool,
    /// The current role owns (is a member of the owner of) the other table.
    pub other_is_owner: bool,
    pub other_owner: String,
    /// The other table is tenant-enabled; filled in by the caller (the registry gives
    /// nothing to other roles).
    #[serde(default)]
    pub other_registered: bool,
    /// The other table's registry asks to keep this key single-column; filled in by
    /// the caller.
    #[serde(default)]
    pub other_keeps: bool,
    /// A valid, non-partial unique index on the parent over exactly tenant_id and the
    /// referenced columns, if there is one.
    pub parent_tenant_key: Option<String>,
    /// Relation names in the parent's schema that a generated index name could clash with.
    #[serde(default, skip_serializing)]
    pub parent_names_taken: Vec<String>,
}

/// One step as the registry recorded it (`relay_tables.history[*].steps[*]`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordedStep {
    pub kind: String,
    #[serde(default)]
    pub sql: String,
    #[serde(default)]
    pub replaces: Option<serde_json::Value>,
}

/// A view or materialized view over the table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ViewInfo {
    /// The view's oid (its lock is taken with the table's: see locks.rs).
    #[serde(default)]
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// `v` view, `m` materialized view.
    pub relkind: String,
    pub security_invoker: bool,
    pub owner: String,
    /// The view's owner is a superuser or has BYPASSRLS: without security_invoker the
    /// view then reads every tenant's rows.
    pub owner_bypasses_rls: bool,
    /// The current role owns (is a member of the owner of) the view.
    pub is_owner: bool,
}

/// A trigger on the table: its name and `pg_trigger.tgenabled` (O origin, A always,
/// R replica, D disabled).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerInfo {
    pub name: String,
    pub enabled: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PolicyInfo {
    pub name: String,
    pub permissive: bool,
    /// Applies to every role (`polroles = {0}`).
    #[serde(default = "yes")]
    pub to_public: bool,
    /// `pg_policy.polcmd`: `*` for ALL, r, a, w, d.
    pub cmd: String,
    /// Carries relay's marker comment.
    pub is_ours: bool,
    /// The policy as `pg_policies` shows it, kept in the registry when relay replaces it.
    pub definition: serde_json::Value,
    /// USING and WITH CHECK as stored (`pg_node_tree` text).
    #[serde(default)]
    pub qual_tree: Option<String>,
    #[serde(default)]
    pub check_tree: Option<String>,
    /// Both are relay's rule on this table (`pg::policy_rule`, by structure); None
    /// when not read (unit tests), which counts as unchanged.
    #[serde(default)]
    pub relay_rule: Option<bool>,
}

/// The catalog query. `$1` is the table's oid, `$2` the extension schema, `$3` the
/// name of the tenant column.
/// It reads the catalogs only; its result is one JSON document shaped like `TableState`.
pub const TABLE_STATE_SQL: &str = r#"
WITH t AS (
  SELECT c.oid, c.relname, c.relkind, c.relispartition, c.relowner, c.relnamespace, c.relpersistence,
         c.relrowsecurity, c.relforcerowsecurity, n.nspname,
         (SELECT a.attnum FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attname OPERATOR(pg_catalog.=) $3 AND NOT a.attisdropped) AS tenant_attnum,
         COALESCE((SELECT a.atttypid FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname OPERATOR(pg_catalog.=) $3 AND NOT a.attisdropped),
                  'pg_catalog.text'::pg_catalog.regtype) AS tenant_type
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = $1
)
SELECT pg_catalog.json_build_object(
  'oid', t.oid::pg_catalog.int8,
  'schema', t.nspname,
  'name', t.relname,
  'relkind', t.relkind::pg_catalog.text,
  'is_partition', t.relispartition,
  'parent_oid', (SELECT i.inhparent::pg_catalog.int8 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = t.oid LIMIT 1),
  'parent', (SELECT pg_catalog.format('%I.%I', pn.nspname, pc.relname)
               FROM pg_catalog.pg_inherits i
               JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
               JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
              WHERE i.inhrelid = t.oid LIMIT 1),
  'is_system', t.nspname IN ('pg_catalog', 'information_schema')
               OR t.nspname LIKE 'pg\_toast%' OR t.oid < 16384,
  'extension', (SELECT e.extname FROM pg_catalog.pg_depend d
                  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
                 WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = t.oid
                   AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                   AND d.deptype = 'e' LIMIT 1),
  'is_owner', pg_catalog.pg_has_role(t.relowner, 'USAGE'),
  'owner', pg_catalog.pg_get_userbyid(t.relowner)::pg_catalog.text,
  'owner_oid', t.relowner::pg_catalog.int8,
  'persistence', t.relpersistence::pg_catalog.text,
  'rls_enabled', t.relrowsecurity,
  'rls_forced', t.relforcerowsecurity,
  'tenant_column', (
    SELECT pg_catalog.json_build_object(
      'type_name', pg_catalog.format_type(a.atttypid, a.atttypmod),
      'is_text', a.atttypid = 'pg_catalog.text'::pg_catalog.regtype,
      'type_key', CASE a.atttypid WHEN 'pg_catalog.text'::pg_catalog.regtype THEN 'text'
                                  WHEN 'pg_catalog.uuid'::pg_catalog.regtype THEN 'uuid'
                                  WHEN 'pg_catalog.int8'::pg_catalog.regtype THEN 'bigint'
                                  WHEN 'pg_catalog.int4'::pg_catalog.regtype THEN 'integer' ELSE 'other' END,
      'not_null', a.attnotnull,
      'default_expr', pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
      'default_is_ours', COALESCE(EXISTS (
         SELECT 1 FROM pg_catalog.pg_depend d
          WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
            AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
            AND d.refobjid OPERATOR(pg_catalog.=) ANY (ARRAY[
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant(pg_catalog.regclass)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_uuid(pg_catalog.regclass)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_bigint(pg_catalog.regclass)'),
                  -- the by-name forms relay_distribute writes for Citus
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant(pg_catalog.text)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_uuid(pg_catalog.text)'),
                  pg_catalog.to_regprocedure(pg_catalog.quote_ident($2) || '.relay_insert_tenant_bigint(pg_catalog.text)')]::pg_catalog.oid[])), false),
      'name', a.attname)
      FROM pg_catalog.pg_attribute a
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attrelid = t.oid AND a.attnum = t.tenant_attnum),
  'not_valid', COALESCE((
    SELECT pg_catalog.json_agg(con.conname ORDER BY con.conname) FROM pg_catalog.pg_constraint con
     WHERE con.conrelid = t.oid AND NOT con.convalidated), '[]'),
  'tenant_fk', (
    SELECT con.conname FROM pg_catalog.pg_constraint con
     WHERE con.conrelid = t.oid AND con.contype = 'f'
       AND con.conkey = ARRAY[t.tenant_attnum]
       AND con.confrelid = pg_catalog.to_regclass(pg_catalog.quote_ident($2) || '.tenants')
     ORDER BY con.conname LIMIT 1),
  'indexes', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', ic.relname,
      'is_unique', i.indisunique,
      'is_primary', i.indisprimary,
      'is_valid', i.indisvalid,
      -- a partition of a partitioned table's index: changed through the parent's
      'inherited', EXISTS (SELECT 1 FROM pg_catalog.pg_inherits x WHERE x.inhrelid OPERATOR(pg_catalog.=) i.indexrelid),
      'key_columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)
                        FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, ord)
                        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                       WHERE k.ord <= i.indnkeyatts),
      -- int2vector keeps its lower bound of 0, so go through unnest, not a slice
      'has_tenant_key', EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, ord)
                                 WHERE k.ord <= i.indnkeyatts AND k.attnum = t.tenant_attnum),
      'leads_with_tenant', COALESCE(i.indkey[0] = t.tenant_attnum, false),
      'predicate', pg_catalog.pg_get_expr(i.indpred, i.indrelid),
      'am', am.amname,
      'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
      'definition_prefix', pg_catalog.format('CREATE %sINDEX %s ON %s.%s USING %s (',
                             CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
                             pg_catalog.quote_ident(ic.relname), pg_catalog.quote_ident(t.nspname),
                             pg_catalog.quote_ident(t.relname), pg_catalog.quote_ident(am.amname)),
      'tablespace', (SELECT ts.spcname FROM pg_catalog.pg_tablespace ts WHERE ts.oid = ic.reltablespace),
      'constraint', (SELECT pg_catalog.json_build_object(
                        'name', con.conname, 'contype', con.contype::pg_catalog.text,
                        'deferrable', con.condeferrable, 'deferred', con.condeferred,
                        'definition', pg_catalog.pg_get_constraintdef(con.oid))
                       FROM pg_catalog.pg_constraint con
                      WHERE con.conrelid = t.oid AND con.conindid = i.indexrelid
                        AND con.contype IN ('p', 'u', 'x') LIMIT 1),
      'dependent_fks', COALESCE((
         SELECT pg_catalog.json_agg(pg_catalog.format('%I on %s', f.conname, f.conrelid::pg_catalog.regclass)
                                    ORDER BY f.conrelid::pg_catalog.regclass::pg_catalog.text, f.conname)
           FROM pg_catalog.pg_depend d
           JOIN pg_catalog.pg_constraint f ON f.oid OPERATOR(pg_catalog.=) d.objid
          -- a foreign key depends on the index it references: found through
          -- pg_depend's index, not by scanning pg_constraint
          WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
            AND d.refobjid OPERATOR(pg_catalog.=) i.indexrelid
            AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
            AND f.contype OPERATOR(pg_catalog.=) 'f' AND f.conindid OPERATOR(pg_catalog.=) i.indexrelid), '[]'))
      ORDER BY ic.relname)
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_catalog.pg_am am ON am.oid = ic.relam
     WHERE i.indrelid = t.oid), '[]'),
  'policies', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', p.polname,
      'permissive', p.polpermissive,
      'cmd', p.polcmd::pg_catalog.text,
      'to_public', p.polroles OPERATOR(pg_catalog.=) '{0}'::pg_catalog.oid[],
      'is_ours', COALESCE(pg_catalog.obj_description(p.oid, 'pg_policy') LIKE 'relay_tenancy:%', false),
      'qual_tree', p.polqual::pg_catalog.text, 'check_tree', p.polwithcheck::pg_catalog.text,
      'definition', (SELECT pg_catalog.row_to_json(pp) FROM pg_catalog.pg_policies pp
                      WHERE pp.schemaname = t.nspname AND pp.tablename = t.relname
                        AND pp.policyname = p.polname))
      ORDER BY p.polname)
      FROM pg_catalog.pg_policy p WHERE p.polrelid = t.oid), '[]'),
  'foreign_keys', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', f.conname,
      'outgoing', f.conrelid OPERATOR(pg_catalog.=) t.oid,
      'child_oid', f.conrelid::pg_catalog.int8, 'child_schema', cn.nspname, 'child_name', cc.relname,
      'columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord) FROM pg_catalog.unnest(f.conkey) WITH ORDINALITY k(n, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n),
      'parent_oid', f.confrelid::pg_catalog.int8, 'parent_schema', pn.nspname, 'parent_name', pc.relname,
      'parent_columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord) FROM pg_catalog.unnest(f.confkey) WITH ORDINALITY k(n, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.confrelid AND a.attnum OPERATOR(pg_catalog.=) k.n),
      'on_update', f.confupdtype::pg_catalog.text, 'on_delete', f.confdeltype::pg_catalog.text,
      'match_type', f.confmatchtype::pg_catalog.text,
      'deferrable', f.condeferrable, 'deferred', f.condeferred, 'validated', f.convalidated,
      'delete_set_columns', COALESCE((SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)
                    FROM pg_catalog.unnest(f.confdelsetcols) WITH ORDINALITY k(n, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n), '[]'),
      'definition', pg_catalog.pg_get_constraintdef(f.oid),
      'has_tenant', EXISTS (SELECT 1 FROM pg_catalog.unnest(f.conkey) k(n)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.conrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                   WHERE a.attname OPERATOR(pg_catalog.=) $3),
      'other_has_tenant', EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                   WHERE a.attrelid OPERATOR(pg_catalog.=) o.oid AND a.attname OPERATOR(pg_catalog.=) $3
                     AND NOT a.attisdropped AND a.attnotnull
                     AND a.atttypid OPERATOR(pg_catalog.=) t.tenant_type),
      'other_is_owner', pg_catalog.pg_has_role(o.relowner, 'USAGE'),
      'other_owner', pg_catalog.pg_get_userbyid(o.relowner)::pg_catalog.text,
      'parent_tenant_key', (
         SELECT ic.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
          WHERE i.indrelid OPERATOR(pg_catalog.=) f.confrelid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
            AND i.indexprs IS NULL AND i.indnkeyatts OPERATOR(pg_catalog.=) (pg_catalog.cardinality(f.confkey) OPERATOR(pg_catalog.+) 1)
            AND (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attname)
                   FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(n, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.confrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                  WHERE k.ord OPERATOR(pg_catalog.<=) i.indnkeyatts)
                OPERATOR(pg_catalog.=)
                (SELECT pg_catalog.array_agg(x.c ORDER BY x.c) FROM (
                   SELECT a.attname::pg_catalog.text AS c FROM pg_catalog.unnest(f.confkey) k(n)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) f.confrelid AND a.attnum OPERATOR(pg_catalog.=) k.n
                   UNION ALL SELECT $3) x)
          ORDER BY ic.relname LIMIT 1),
      'parent_names_taken', COALESCE((
         SELECT pg_catalog.json_agg(c2.relname) FROM pg_catalog.pg_class c2
          WHERE c2.relname OPERATOR(pg_catalog.>=)
                  (pg_catalog.left(pc.relname::pg_catalog.text, 16)::pg_catalog.name COLLATE pg_catalog."C")
            AND c2.relname OPERATOR(pg_catalog.<=)
                  ((pg_catalog.left(pc.relname::pg_catalog.text, 16) OPERATOR(pg_catalog.||) pg_catalog.chr(1114111))::pg_catalog.name
                   COLLATE pg_catalog."C")
            AND c2.relnamespace OPERATOR(pg_catalog.=) pc.relnamespace), '[]'))
      ORDER BY f.conname, f.conrelid)
      FROM (-- the table's own foreign keys, and those that reference it (a foreign key
            -- depends on the table it references): index lookups, no pg_constraint scan
            SELECT con.oid FROM pg_catalog.pg_constraint con WHERE con.conrelid OPERATOR(pg_catalog.=) t.oid
            UNION
            SELECT d.objid FROM pg_catalog.pg_depend d
             WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refobjid OPERATOR(pg_catalog.=) t.oid
               AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass) fo
      JOIN pg_catalog.pg_constraint f ON f.oid OPERATOR(pg_catalog.=) fo.oid
      JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) f.conrelid
      JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) cc.relnamespace
      JOIN pg_catalog.pg_class pc ON pc.oid OPERATOR(pg_catalog.=) f.confrelid
      JOIN pg_catalog.pg_namespace pn ON pn.oid OPERATOR(pg_catalog.=) pc.relnamespace
      JOIN pg_catalog.pg_class o ON o.oid OPERATOR(pg_catalog.=)
             CASE WHEN f.conrelid OPERATOR(pg_catalog.=) t.oid THEN f.confrelid ELSE f.conrelid END
     WHERE f.contype OPERATOR(pg_catalog.=) 'f'
       AND (f.conrelid OPERATOR(pg_catalog.=) t.oid OR f.confrelid OPERATOR(pg_catalog.=) t.oid)
       AND f.conparentid OPERATOR(pg_catalog.=) 0
       AND (SELECT e.extname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
             WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) pc.oid
               AND d.deptype OPERATOR(pg_catalog.=) 'e' LIMIT 1) IS DISTINCT FROM 'relay_tenancy'), '[]'),
  'views', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'oid', v.oid::pg_catalog.int8, 'schema', vn.nspname, 'name', v.relname, 'relkind', v.relkind::pg_catalog.text,
      'security_invoker', COALESCE((
         SELECT pg_catalog.lower(pg_catalog.split_part(o, '=', 2)) OPERATOR(pg_catalog.=) ANY (ARRAY['true', 'on', 'yes', '1', 't', 'y'])
           FROM pg_catalog.unnest(v.reloptions) o WHERE o OPERATOR(pg_catalog.~~) 'security\_invoker=%' LIMIT 1), false),
      'owner', pg_catalog.pg_get_userbyid(v.relowner)::pg_catalog.text,
      'owner_bypasses_rls', COALESCE((SELECT ro.rolsuper OR ro.rolbypassrls FROM pg_catalog.pg_roles ro
                                        WHERE ro.oid OPERATOR(pg_catalog.=) v.relowner), false),
      'is_owner', pg_catalog.pg_has_role(v.relowner, 'USAGE'))
      ORDER BY vn.nspname, v.relname)
      FROM (SELECT DISTINCT rw.ev_class FROM pg_catalog.pg_depend d
              JOIN pg_catalog.pg_rewrite rw ON rw.oid OPERATOR(pg_catalog.=) d.objid
             WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
               AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refobjid OPERATOR(pg_catalog.=) t.oid
               AND rw.ev_class OPERATOR(pg_catalog.<>) t.oid) dv
      JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) dv.ev_class
      JOIN pg_catalog.pg_namespace vn ON vn.oid OPERATOR(pg_catalog.=) v.relnamespace
     WHERE v.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['v', 'm']::pg_catalog."char"[])), '[]'),
  'triggers', COALESCE((
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', tg.tgname, 'enabled', tg.tgenabled::pg_catalog.text) ORDER BY tg.tgname)
      FROM pg_catalog.pg_trigger tg
     WHERE tg.tgrelid OPERATOR(pg_catalog.=) t.oid AND NOT tg.tgisinternal), '[]'),
  'text_opclass_ams', COALESCE((
    SELECT pg_catalog.json_agg(DISTINCT am.amname)
      FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) oc.opcmethod
     WHERE oc.opcintype OPERATOR(pg_catalog.=) t.tenant_type AND oc.opcdefault), '[]'),
  -- Only the names a generated one could clash with: relay's names start with the
  -- table's or one of its indexes' names (clipped), so relations whose names start
  -- with the same 16 characters, found by a range scan of pg_class's name index (the
  -- cost does not grow with the schema), and the table's constraints.
  'names_taken', (
    SELECT pg_catalog.json_agg(DISTINCT x.name) FROM (
      SELECT c2.relname::pg_catalog.text AS name
        FROM (SELECT pg_catalog.left(t.relname::pg_catalog.text, 16) AS p
              UNION
              SELECT pg_catalog.left(ic.relname::pg_catalog.text, 16) FROM pg_catalog.pg_index i
                JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid
               WHERE i.indrelid OPERATOR(pg_catalog.=) t.oid) pre
        JOIN pg_catalog.pg_class c2
          ON c2.relname OPERATOR(pg_catalog.>=) (pre.p::pg_catalog.name COLLATE pg_catalog."C")
         AND c2.relname OPERATOR(pg_catalog.<=)
               ((pre.p OPERATOR(pg_catalog.||) pg_catalog.chr(1114111))::pg_catalog.name COLLATE pg_catalog."C")
         AND c2.relnamespace OPERATOR(pg_catalog.=) t.relnamespace
      UNION
      SELECT con.conname::pg_catalog.text FROM pg_catalog.pg_constraint con
       WHERE con.conrelid OPERATOR(pg_catalog.=) t.oid) x),
  -- filled in by the caller, which knows the registry's qualified name
  'registered', false
)::pg_catalog.text
FROM t
"#;

thread_local! {
    /// TABLE_STATE_SQL, planned once per backend: planning it costs more than running
    /// it (about 2 ms against 1 ms), and a schema call runs it once per table.
    static STATE_PLAN: std::cell::RefCell<Option<pgrx::spi::OwnedPreparedStatement>> = const { std::cell::RefCell::new(None) };
}

/// Read the state of table `oid` (`registered` is filled in by the caller, from the
/// registry). `ext_schema` is where relay's own objects live.
pub fn read(oid: pgrx::pg_sys::Oid, ext_schema: &str, tenant_column: &str) -> TableState {
    use pgrx::prelude::*;
    let json: String = STATE_PLAN.with(|cell| {
        Spi::connect(|client| {
            let mut cached = cell.borrow_mut();
            if cached.is_none() {
                let types = [
                    pgrx::PgOid::from(pgrx::pg_sys::OIDOID),
                    pgrx::PgOid::from(pgrx::pg_sys::TEXTOID),
                    pgrx::PgOid::from(pgrx::pg_sys::TEXTOID),
                ];
                *cached = Some(
                    client
                        .prepare(TABLE_STATE_SQL, &types)
                        .expect("prepare catalog query")
                        .keep(),
                );
            }
            let plan = cached.as_ref().expect("prepared above");
            client
                .select(
                    plan,
                    Some(1),
                    &[oid.into(), ext_schema.into(), tenant_column.into()],
                )
                .expect("catalog query")
                .first()
                .get_one::<String>()
                .expect("catalog JSON")
                .expect("the table was resolved by regclass, so it exists")
        })
    });
    let mut state: TableState =
        serde_json::from_str(&json).expect("catalog JSON matches TableState");
    state.distributed = crate::pg::probes::is_citus_table(pgrx::pg_sys::Oid::from(state.oid));
    state.scaled_out = crate::pg::probes::tenants_in_citus();
    if !state.policies.is_empty() {
        let shape = crate::pg::policy_rule::shape_of(
            pgrx::pg_sys::Oid::from(state.oid),
            tenant_column,
            ext_schema,
        );
        for p in &mut state.policies {
            p.relay_rule = Some(
                crate::pg::policy_rule::is_relay_rule(p.qual_tree.as_deref(), &shape)
                    && crate::pg::policy_rule::is_relay_rule(p.check_tree.as_deref(), &shape),
            );
        }
    }
    for fk in &mut state.foreign_keys {
        let other = if fk.outgoing {
            fk.parent_oid
        } else {
            fk.child_oid
        };
        if other == state.oid {
            fk.other_registered = true;
            continue;
        }
        if let Some((_, kept, _)) = registry_lists(pgrx::pg_sys::Oid::from(other)) {
            fk.other_registered = true;
            fk.other_keeps = kept.contains(&fk.name);
        }
    }
    state
}

/// What the registry records for table `oid`: (global_unique, keep_foreign_keys,
/// tenant_column); None when the table is not registered. Read as the extension's owner: the registry
/// gives nothing to other roles.
pub fn registry_lists(oid: pgrx::pg_sys::Oid) -> Option<(Vec<String>, Vec<String>, String)> {
    use pgrx::prelude::*;
    if !crate::pg::probes::registered_now(oid) {
        return None;
    }
    let registry =
        crate::model::quote::quote_qualified(&crate::pg::ext::extension_schema(), "relay_tables");
    let lists = crate::pg::privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let rows = client
                .select(
                    &format!(
                        "SELECT global_unique, keep_foreign_keys, tenant_column::pg_catalog.text FROM {registry}
                          WHERE relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
                    ),
                    Some(1),
                    &[oid.into()],
                )
                .expect("registry lookup");
            if rows.is_empty() {
                return (
                    Vec::new(),
                    Vec::new(),
                    crate::model::names::TENANT_COLUMN.to_string(),
                );
            }
            let row = rows.first();
            (
                row.get::<Vec<String>>(1)
                    .expect("global_unique")
                    .unwrap_or_default(),
                row.get::<Vec<String>>(2)
                    .expect("keep_foreign_keys")
                    .unwrap_or_default(),
                row.get::<String>(3)
                    .expect("tenant_column")
                    .unwrap_or_else(|| crate::model::names::TENANT_COLUMN.to_string()),
            )
        })
    });
    Some(lists)
}

/// The registry's history of table `oid`: the state relay first found it in and the
/// steps taken on its behalf (in the order they were taken), plus the steps of every registered table (a foreign key
/// between two tenant tables is changed by whichever end was enabled second). `None`
/// when the table is not registered. Read as the extension's owner.
pub fn registry_history(
    oid: pgrx::pg_sys::Oid,
) -> Option<(TableState, Vec<RecordedStep>, Vec<RecordedStep>)> {
    use pgrx::prelude::*;
    let registry =
        crate::model::quote::quote_qualified(&crate::pg::ext::extension_schema(), "relay_tables");
    let sql = format!(
        "SELECT (SELECT r.history OPERATOR(pg_catalog.->) 0 OPERATOR(pg_catalog.->) 'before' FROM {registry} r
                  WHERE r.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid),
                (SELECT pg_catalog.jsonb_agg(s.step ORDER BY h.n, s.n) FROM {registry} r,
                        pg_catalog.jsonb_array_elements(r.history) WITH ORDINALITY h(entry, n),
                        pg_catalog.jsonb_array_elements(h.entry OPERATOR(pg_catalog.->) 'steps') WITH ORDINALITY s(step, n)
                  WHERE r.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid),
                (SELECT pg_catalog.jsonb_agg(s) FROM {registry} r, pg_catalog.jsonb_array_elements(r.history) h,
                        pg_catalog.jsonb_array_elements(h OPERATOR(pg_catalog.->) 'steps') s)"
    );
    crate::pg::privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let rows = client
                .select(&sql, Some(1), &[oid.into()])
                .expect("registry history");
            let row = rows.first();
            let before = row.get::<pgrx::JsonB>(1).expect("before")?;
            let steps = |i: usize| -> Vec<RecordedStep> {
                row.get::<pgrx::JsonB>(i)
                    .expect("steps")
                    .and_then(|j| serde_json::from_value(j.0).ok())
                    .unwrap_or_default()
            };
            let original: TableState =
                serde_json::from_value(before.0).expect("the registry's state parses");
            Some((original, steps(2), steps(3)))
        })
    })
}
