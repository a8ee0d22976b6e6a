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
    /// `pg_class.relkind`.
    pub relkind: crate::model::kinds::RelKind,
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

/// A partition's index attached to a partitioned table's index.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttachedIndex {
    /// The partition, quoted and qualified.
    pub table: String,
    pub name: String,
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
    /// Each key as `pg_get_indexdef(index, n, true)` prints it: a column's name or an
    /// expression (empty in registry states recorded before 0.3.0).
    #[serde(default)]
    pub key_exprs: Vec<String>,
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
    /// A partitioned table's index: its partitions' indexes attached to it (undo gives
    /// them their names back when the key is rebuilt).
    #[serde(default)]
    pub attached: Vec<AttachedIndex>,
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
    /// primary key, unique or exclusion constraint.
    pub contype: crate::model::kinds::ConKind,
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
    pub on_update: crate::model::kinds::FkAction,
    pub on_delete: crate::model::kinds::FkAction,
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
    pub relkind: crate::model::kinds::RelKind,
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
    /// USING is relay's rule for shared rows (`rule OR col IS NULL`), WITH CHECK relay's
    /// rule; None when not read.
    #[serde(default)]
    pub shared_rule: Option<bool>,
    /// USING is relay's rule (whatever the WITH CHECK); None when not read.
    #[serde(default)]
    pub using_rule: Option<bool>,
}

/// The catalog query. `$1` is the table's oid, `$2` the extension schema, `$3` the
/// name of the tenant column.
/// It reads the catalogs only; its result is one JSON document shaped like `TableState`.
pub const TABLE_STATE_SQL: &str = include_str!("../sql/queries/table_state.sql");

thread_local! {
    /// TABLE_STATE_SQL, planned once per backend: planning it costs more than running
    /// it (about 2 ms against 1 ms), and a schema call runs it once per table.
    static STATE_PLAN: std::cell::RefCell<Option<pgrx::spi::OwnedPreparedStatement>> = const { std::cell::RefCell::new(None) };
}

/// The first 16 characters of a name: the part relay's generated names keep of it.
fn name_prefix(name: &str) -> String {
    name.chars().take(16).collect()
}

/// The names of schema `schema`'s relations that start with `prefix`: a range scan of
/// pg_class's name index, planned with the prefix as a value.
fn relations_named_like(schema: &str, prefix: &str) -> Vec<String> {
    use pgrx::prelude::*;
    Spi::connect(|client| {
        client
            .select(
                "SELECT c.relname::pg_catalog.text FROM pg_catalog.pg_class c
                  WHERE c.relname OPERATOR(pg_catalog.>=) $2::pg_catalog.name
                    AND c.relname OPERATOR(pg_catalog.<=) ($2 OPERATOR(pg_catalog.||) pg_catalog.chr(1114111))::pg_catalog.name
                    AND c.relnamespace OPERATOR(pg_catalog.=)
                        (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) $1)",
                None,
                &[schema.into(), prefix.into()],
            )
            .expect("relation names")
            .filter_map(|row| row.get::<String>(1).ok().flatten())
            .collect()
    })
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
    // The relation names a generated name could clash with: relay's names start with
    // the table's or one of its indexes' names (clipped), or the parent's for a key it
    // builds there.
    let mut prefixes: Vec<String> = std::iter::once(&state.name)
        .chain(state.indexes.iter().map(|i| &i.name))
        .map(|n| name_prefix(n))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    for prefix in &prefixes {
        state
            .names_taken
            .extend(relations_named_like(&state.schema, prefix));
    }
    for fk in &mut state.foreign_keys {
        fk.parent_names_taken =
            relations_named_like(&fk.parent_schema, &name_prefix(&fk.parent_name));
    }
    // With the application's own registry, the key to look for is the one to it.
    if let Some(registry) = crate::pg::tenant_registry::current() {
        state.tenant_fk = crate::pg::privilege::select_optional::<String>(
            "SELECT con.conname::pg_catalog.text FROM pg_catalog.pg_constraint con
              WHERE con.conrelid OPERATOR(pg_catalog.=) $1 AND con.contype OPERATOR(pg_catalog.=) 'f'
                AND con.confrelid OPERATOR(pg_catalog.=) $2
                AND con.conkey OPERATOR(pg_catalog.=) ARRAY[(SELECT a.attnum FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $3)]
                AND con.confkey OPERATOR(pg_catalog.=) ARRAY[(SELECT a.attnum FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) $2 AND a.attname OPERATOR(pg_catalog.=) $4)]
              ORDER BY con.conname LIMIT 1",
            &[
                oid.into(),
                pgrx::pg_sys::Oid::from(registry.relid).into(),
                tenant_column.into(),
                registry.id_column.as_str().into(),
            ],
        );
        // Keys from the tenant column alone to the registry are the tenant key, not a
        // foreign key between tables to compose or restore (as keys to tenants are).
        state.foreign_keys.retain(|fk| {
            !(fk.outgoing
                && fk.parent_oid == registry.relid
                && fk.columns.len() == 1
                && fk.columns[0] == tenant_column)
        });
    }
    state.distributed = crate::pg::probes::is_citus_table(pgrx::pg_sys::Oid::from(state.oid));
    state.scaled_out = crate::pg::probes::tenants_in_citus();
    if !state.policies.is_empty() {
        let shape = crate::pg::policy_rule::shape_of(
            pgrx::pg_sys::Oid::from(state.oid),
            tenant_column,
            ext_schema,
        );
        for p in &mut state.policies {
            use crate::pg::policy_rule::{is_relay_rule, is_shared_rule};
            let check = is_relay_rule(p.check_tree.as_deref(), &shape);
            let using = is_relay_rule(p.qual_tree.as_deref(), &shape);
            p.relay_rule = Some(using && check);
            p.shared_rule = Some(is_shared_rule(p.qual_tree.as_deref(), &shape) && check);
            p.using_rule = Some(using);
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
/// Table `oid` is registered with shared rows (false when not registered).
pub fn registry_shared_rows(oid: pgrx::pg_sys::Oid) -> bool {
    if !crate::pg::probes::registered_now(oid) {
        return false;
    }
    let registry =
        crate::model::quote::quote_qualified(&crate::pg::ext::extension_schema(), "relay_tables");
    crate::pg::privilege::as_extension_owner(|| {
        crate::pg::privilege::select_optional::<bool>(
            // (to_jsonb: the column is 0.3.0's; the library also serves 0.2.0's SQL)
            &format!("SELECT COALESCE((pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'shared_rows')::pg_catalog.bool, false)
                        FROM {registry} r WHERE r.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"),
            &[oid.into()],
        )
    })
    .unwrap_or(false)
}

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
