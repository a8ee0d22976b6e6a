//! Plan: table state + options -> ordered steps. A pure function: no SPI, no Postgres.
//!
//! Each step is one SQL statement with the lock it takes and a line for the migration
//! log. `relay_enable_tenancy` applies the steps; `relay_tenancy_plan` only prints them.
//!
//! Order matters for locking. Locks are held until the caller's transaction ends, so
//! once a step takes ACCESS EXCLUSIVE every later step runs under it. Steps that need
//! less (the backfill of a half-done table, index builds) therefore run before the
//! first ACCESS EXCLUSIVE step whenever the tenant column already exists; on a fresh
//! table the catalog-only ADD COLUMN must come first.
//!
//! **plan** layer: the pure planners. Enabling (here), online conversion (`online`),
//! undo (`undo`), and turning a planner's `PlanError` into a `UserError` (`refusals`).
//! May use: `model`, `pg` (names and constants only), `catalog` (the state structs).

pub mod online;
pub mod refusals;
pub mod undo;

use crate::catalog::{ForeignKeyInfo, IndexInfo, PolicyInfo, TableState, TriggerInfo};
use crate::model::kinds::{ConKind, RelKind};
use crate::model::quote::{choose_name, quote_ident, quote_literal, quote_qualified};
use crate::model::registry::Registry;
use crate::model::tenant_type::TenantType;
use serde::Serialize;
use std::collections::HashSet;

pub use crate::model::names::{
    ACCESS_POLICY_MARKER, ACCESS_POLICY_NAME, POLICY_MARKER, POLICY_NAME, SHARED_DELETE_POLICY,
    SHARED_POLICY_MARKER, SHARED_UPDATE_POLICY, TENANT_COLUMN, TENANT_EXISTS_TRIGGER,
    TRUNCATE_GUARD_TRIGGER,
};
/// The session's tenant for table `table_literal` (a quoted regclass literal):
/// `relay_policy_tenant` treats `''` as unset (PostgreSQL returns `''` rather than
/// NULL once a `SET LOCAL` has ended) and raises under relay.require_tenant. The
/// scalar sub-select makes the planner evaluate it once per query as an InitPlan,
/// not once per row, and leaves `tenant_id = $initplan` usable as an index condition.
pub fn session_tenant_expr(ext_schema: &str, table_literal: &str, type_key: TenantType) -> String {
    format!(
        "(SELECT {}.{}({table_literal}::pg_catalog.regclass))",
        quote_ident(ext_schema),
        typed("relay_policy_tenant", type_key)
    )
}

/// relay's function for a tenant column of type `type_key`: the text one, or its
/// `_uuid` / `_bigint` twin (integer columns compare with bigint).
pub fn typed(function: &str, type_key: TenantType) -> String {
    type_key.function(function)
}

/// Table-level lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Lock {
    /// No table lock (a GRANT on a function, in relay_distribute's plan).
    NoTable,
    AccessShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    AccessExclusive,
}

impl Lock {
    pub fn as_str(self) -> &'static str {
        match self {
            Lock::NoTable => "none",
            Lock::AccessShare => "ACCESS SHARE",
            Lock::RowExclusive => "ROW EXCLUSIVE",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Lock::Share => "SHARE",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Lock::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    LockTable,
    AddColumn,
    Backfill,
    /// tenant_from: the tenant column filled from each row's parent.
    BackfillFromParent,
    BuildTenantUnique,
    CreateTenantIndex,
    SetNotNull,
    SetDefault,
    AddForeignKey,
    SwapUniqueConstraint,
    SwapExclusionConstraint,
    BuildParentTenantKey,
    SwapForeignKey,
    DropForeignKey,
    AddCompositeForeignKey,
    SetViewInvoker,
    CheckTenantsExist,
    DropUniqueIndex,
    RenameIndex,
    EnableRls,
    ForceRls,
    DropPolicy,
    CreatePolicy,
    MarkPolicy,
    CreateTrigger,
    EnableTriggerAlways,
    DropTrigger,
    DropInvalidIndex,
    ValidateConstraint,
    AddNotNullCheck,
    DropNotNullCheck,
    // Undo (relay_disable_tenancy) only.
    CheckGlobalUnique,
    NoForceRls,
    DisableRls,
    RestoreForeignKey,
    DropIndex,
    DropDefault,
    DropNotNull,
    DropColumn,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: StepKind,
    /// One line for the migration log.
    pub action: String,
    pub sql: String,
    pub lock: Lock,
    /// What this step replaced, as it was (an index or constraint definition, a
    /// policy, a column default), kept in the registry so the change can be undone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<serde_json::Value>,
    /// Runs as the extension's owner: attaching one of relay's trigger functions, on
    /// which PUBLIC has no EXECUTE privilege.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    /// Online plans: a statement run on its own, outside any transaction block
    /// (CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT, the batched backfill), not
    /// through relay_enable_tenancy.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub standalone: bool,
    /// A step that adds a foreign key: (table, constraint), so an online plan can add
    /// it NOT VALID and validate it later.
    #[serde(skip)]
    pub adds_foreign_key: Option<(String, String)>,
    /// Other tables this step locks, and how (a foreign key's other end, the parent
    /// whose key is built): relay takes them all before the first step (locks.rs).
    #[serde(skip)]
    pub also_locks: Vec<(u32, Lock)>,
}

impl Step {
    pub fn new(kind: StepKind, lock: Lock, action: String, sql: String) -> Step {
        Step {
            kind,
            action,
            sql,
            lock,
            replaces: None,
            privileged: false,
            standalone: false,
            adds_foreign_key: None,
            also_locks: Vec::new(),
        }
    }
    /// This step also locks table `oid` in `lock` mode.
    pub fn locking(mut self, oid: u32, lock: Lock) -> Step {
        self.also_locks.push((oid, lock));
        self
    }
    pub fn privileged(mut self) -> Step {
        self.privileged = true;
        self
    }
    pub fn standalone(mut self) -> Step {
        self.standalone = true;
        self
    }
    fn adding_foreign_key(mut self, table: &str, name: &str) -> Step {
        self.adds_foreign_key = Some((table.to_string(), name.to_string()));
        self
    }
    fn replacing(mut self, what: serde_json::Value) -> Step {
        self.replaces = Some(what);
        self
    }
    /// The line `relay_enable_tenancy` returns for this step; `rows` for a step that
    /// writes rows (the backfill).
    pub fn report_line(&self, rows: Option<usize>) -> String {
        match rows {
            Some(n) => format!("{} ({n} rows) [{}]", self.action, self.lock.as_str()),
            None => format!("{} [{}]", self.action, self.lock.as_str()),
        }
    }
}

pub struct Options<'a> {
    /// Schema of the extension (where `tenants` and `relay_insert_tenant` live).
    pub ext_schema: &'a str,
    /// Tenant of the rows already in the table.
    pub default_tenant: &'a str,
    /// Unique keys that stay global: column lists (`email`, `a,b`) or constraint or
    /// index names.
    pub global_unique: &'a [String],
    /// Make views over the table that bypass row level security `security_invoker`.
    pub views_invoker: bool,
    /// Rewrite the primary key to (tenant_id, key): each tenant its own key space.
    pub tenant_primary_key: bool,
    /// Foreign keys (constraint names) to keep single-column although both ends are
    /// tenant tables.
    pub keep_foreign_keys: &'a [String],
    /// The column that holds the tenant: tenant_id, or one the table already has.
    pub tenant_column: &'a str,
    /// Plan the online conversion (`online::plan_online`): long steps that do not
    /// block writes, ACCESS EXCLUSIVE only for catalog changes.
    pub online: bool,
    /// The application's own tenant table (`relay_use_tenant_registry`), which tenant
    /// columns reference instead of relay's `tenants`.
    pub registry: Option<&'a Registry>,
    /// tenant_from: a table without a tenant column takes its rows' tenants from the
    /// parent rows a foreign key references.
    pub tenant_from: Option<&'a TenantFrom>,
    /// Rows of no tenant (NULL) are shared: every tenant reads them, none writes them;
    /// the column stays nullable.
    pub shared_rows: bool,
}

/// tenant_from: the tenant column is added and filled from the parent row that
/// foreign key `fk` references; then the key becomes composite with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantFrom {
    pub fk: String,
    /// The parent (quoted, qualified), its oid, and its tenant column (unquoted) and type.
    pub parent: String,
    pub parent_oid: u32,
    pub parent_column: String,
    pub parent_type: TenantType,
    /// The key's columns in the child and in the parent (unquoted, in key order).
    pub columns: Vec<String>,
    pub parent_columns: Vec<String>,
    /// A key column is nullable: rows may have no parent (they get the default tenant).
    pub orphans: bool,
}

/// The state `plan` works from when the tenant column comes from a parent
/// (tenant_from): the column as it will be once added (nullable, of the parent's
/// type) and the key to the parent as one to a tenant table. None otherwise.
fn derived_state(state: &TableState, opts: &Options) -> Option<TableState> {
    let from = opts.tenant_from.filter(|_| state.tenant_column.is_none())?;
    let mut derived = state.clone();
    derived.tenant_column = Some(crate::catalog::TenantColumn {
        name: opts.tenant_column.to_string(),
        type_name: from.parent_type.key().to_string(),
        is_text: from.parent_type == TenantType::Text,
        type_key: from.parent_type,
        not_null: false,
        default_expr: None,
        default_is_ours: false,
    });
    for fk in &mut derived.foreign_keys {
        if fk.outgoing && fk.name == from.fk {
            fk.other_registered = true;
            fk.other_has_tenant = true;
        }
    }
    Some(derived)
}

/// Why a table cannot be tenant-enabled; `errors` turns each into an ereport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    WrongKind {
        kind: &'static str,
    },
    PartitionChild {
        parent: String,
    },
    InheritanceChild {
        parent: String,
    },
    SystemCatalog,
    ExtensionMember {
        extension: String,
    },
    NotOwner {
        owner: String,
    },
    TenantColumnType {
        column: String,
        found: String,
    },
    GlobalUniqueUnknown {
        entry: String,
        candidates: Vec<String>,
    },
    UniqueHasDependents {
        key: String,
        entry: String,
        definition: String,
        dependents: Vec<String>,
    },
    UnexpectedIndexDefinition {
        index: String,
        definition: String,
    },
    ExclusionNeedsOpclass {
        key: String,
        entry: String,
        am: String,
    },
    Temporary,
    /// The other end of a foreign key to make composite belongs to another role.
    ForeignKeyOtherOwner {
        fk: String,
        other: String,
        owner: String,
    },
    /// A foreign key between tenant tables that cannot include tenant_id as it is.
    ForeignKeyNotComposable {
        fk: String,
        table: String,
        why: String,
    },
    /// views => 'invoker', and a view to change belongs to another role.
    ViewNotOwned {
        view: String,
        owner: String,
    },
    /// tenant_column names a column the table does not have.
    TenantColumnMissing {
        column: String,
    },
    /// Undo: a foreign key that includes tenant_id, made after enabling by someone else.
    ForeignKeyNotOurs {
        fk: String,
        table: String,
    },
    /// online => true on a partitioned table (no CREATE INDEX CONCURRENTLY there).
    OnlinePartitioned,
    /// A table Citus distributed, whose tenant column lacks relay's default (Citus
    /// cannot change a distribution column's default).
    DistributedWithoutDefault {
        column: String,
        default: String,
    },
    /// shared_rows on a table Citus distributes or in a scaled-out schema.
    SharedRowsOnCitus,
}

/// Two `global_unique` lists name the same keys (order and spacing aside).
pub fn same_entries(a: &[String], b: &[String]) -> bool {
    let norm = |l: &[String]| {
        let mut v: Vec<String> = l
            .iter()
            .map(|e| e.split(',').map(str::trim).collect::<Vec<_>>().join(","))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    norm(a) == norm(b)
}

/// The human name of a relkind that cannot be tenant-enabled (partitioned tables
/// are refused separately, with their own error).
fn relkind_name(relkind: RelKind) -> Option<&'static str> {
    (!relkind.is_table()).then(|| relkind.label())
}

/// Refuse what cannot be tenant-enabled, in the order a DBA would want to hear it.
pub fn validate(state: &TableState) -> Result<(), PlanError> {
    if let Some(kind) = relkind_name(state.relkind) {
        return Err(PlanError::WrongKind { kind });
    }
    if state.is_system {
        return Err(PlanError::SystemCatalog);
    }
    if let Some(extension) = &state.extension {
        return Err(PlanError::ExtensionMember {
            extension: extension.clone(),
        });
    }
    if state.persistence == "t" {
        return Err(PlanError::Temporary);
    }
    if state.is_partition && !state.parent_registered {
        return Err(PlanError::PartitionChild {
            parent: state.parent.clone().unwrap_or_default(),
        });
    }
    // An inheritance child under a parent that is not tenant-enabled: a query on the
    // parent reads the child's rows under the parent's row level security (none).
    if !state.is_partition && !state.parent_registered {
        if let Some(parent) = &state.parent {
            return Err(PlanError::InheritanceChild {
                parent: parent.clone(),
            });
        }
    }
    if !state.is_owner {
        return Err(PlanError::NotOwner {
            owner: state.owner.clone(),
        });
    }
    if let Some(col) = &state.tenant_column {
        let supported = col.type_key.supported();
        if !supported {
            let column = if col.name.is_empty() {
                TENANT_COLUMN.to_string()
            } else {
                col.name.clone()
            };
            return Err(PlanError::TenantColumnType {
                column,
                found: col.type_name.clone(),
            });
        }
    }
    Ok(())
}

/// Does a `global_unique` entry name this unique key? By constraint or index name, or
/// by its column list (`email`, `skill_id,user_id`; spaces ignored).
fn names_key(entry: &str, index: &IndexInfo) -> bool {
    if entry == index.name || index.constraint.as_ref().is_some_and(|c| c.name == entry) {
        return true;
    }
    let wanted: Vec<&str> = entry.split(',').map(str::trim).collect();
    let have: Vec<&str> = index
        .key_columns
        .iter()
        .map(|c| c.as_deref().unwrap_or(""))
        .collect();
    wanted == have
}

/// How a key is named in messages: its constraint, else its index.
fn key_label(index: &IndexInfo) -> String {
    match &index.constraint {
        Some(c) => format!("constraint {}", quote_ident(&c.name)),
        None => format!("unique index {}", quote_ident(&index.name)),
    }
}

/// The foreign keys (into this table) that depend on `index`: PostgreSQL picks the
/// unique index whose columns are the referenced ones.
fn dependents_of<'s>(state: &'s TableState, index: &IndexInfo) -> Vec<&'s ForeignKeyInfo> {
    let mut key: Vec<&str> = index
        .key_columns
        .iter()
        .map(|c| c.as_deref().unwrap_or(""))
        .collect();
    key.sort_unstable();
    state
        .foreign_keys
        .iter()
        .filter(|fk| fk.parent_oid == state.oid)
        .filter(|fk| {
            let mut cols: Vec<&str> = fk.parent_columns.iter().map(String::as_str).collect();
            cols.sort_unstable();
            cols == key
        })
        .collect()
}

/// A foreign key can take tenant_id: both ends are (or become) tenant tables.
fn composable(fk: &ForeignKeyInfo) -> bool {
    fk.child_oid == fk.parent_oid || (fk.other_registered && fk.other_has_tenant)
}

/// The unique keys to rewrite so they lead with tenant_id (the primary key too when
/// asked), and the foreign keys that reference them: those are dropped before the
/// swap and come back composite after it. A key referenced from a table that is not
/// tenant-enabled is refused.
fn keys_to_rewrite<'s>(
    state: &'s TableState,
    global_unique: &[String],
    tenant_primary_key: bool,
) -> Result<Vec<(&'s IndexInfo, Vec<&'s ForeignKeyInfo>)>, PlanError> {
    let uniques: Vec<&IndexInfo> = state
        .indexes
        .iter()
        .filter(|i| (i.is_unique && i.is_valid) || is_exclusion(i))
        .collect();
    for entry in global_unique {
        if !uniques.iter().any(|i| names_key(entry, i)) {
            let mut candidates: Vec<String> = uniques
                .iter()
                .filter(|i| !i.is_primary && !i.has_tenant_key)
                .map(|i| {
                    let cols: Vec<&str> = i
                        .key_columns
                        .iter()
                        .map(|c| c.as_deref().unwrap_or("(expression)"))
                        .collect();
                    format!("{} ({})", key_label(i), cols.join(", "))
                })
                .collect();
            candidates.sort();
            return Err(PlanError::GlobalUniqueUnknown {
                entry: entry.clone(),
                candidates,
            });
        }
    }
    let mut keys = Vec::new();
    for index in uniques {
        if (index.is_primary && !tenant_primary_key)
            || index.has_tenant_key
            || is_exclusion(index)
            || index.inherited
        {
            continue;
        }
        if !index.is_primary && global_unique.iter().any(|e| names_key(e, index)) {
            continue;
        }
        let carried = dependents_of(state, index);
        let all_carried = carried.len() == index.dependent_fks.len()
            && carried.iter().all(|fk| composable(fk) && !fk.has_tenant);
        if !index.dependent_fks.is_empty() && !all_carried {
            return Err(PlanError::UniqueHasDependents {
                key: key_label(index),
                entry: index
                    .constraint
                    .as_ref()
                    .map_or(&index.name, |c| &c.name)
                    .clone(),
                definition: index
                    .constraint
                    .as_ref()
                    .map_or(&index.definition, |c| &c.definition)
                    .clone(),
                dependents: index.dependent_fks.clone(),
            });
        }
        if carried
            .iter()
            .any(|fk| fk.child_oid != state.oid && !fk.other_is_owner)
        {
            let fk = carried
                .iter()
                .find(|fk| fk.child_oid != state.oid && !fk.other_is_owner)
                .expect("found above");
            return Err(PlanError::ForeignKeyOtherOwner {
                fk: fk.name.clone(),
                other: quote_qualified(&fk.child_schema, &fk.child_name),
                owner: fk.other_owner.clone(),
            });
        }
        keys.push((index, carried));
    }
    Ok(keys)
}

fn is_exclusion(index: &IndexInfo) -> bool {
    index
        .constraint
        .as_ref()
        .is_some_and(|c| c.contype == ConKind::Exclusion)
}

/// Exclusion constraints without tenant_id, to rewrite with `tenant_id WITH =` first:
/// otherwise one tenant's rows exclude another's (and an overlap probe reads them).
fn exclusions_to_rewrite<'s>(
    state: &'s TableState,
    global_unique: &[String],
) -> Result<Vec<&'s IndexInfo>, PlanError> {
    let mut found = Vec::new();
    for index in state
        .indexes
        .iter()
        .filter(|i| is_exclusion(i) && !i.has_tenant_key && !i.inherited)
    {
        if global_unique.iter().any(|e| names_key(e, index)) {
            continue;
        }
        if !state.text_opclass_ams.contains(&index.am) {
            return Err(PlanError::ExclusionNeedsOpclass {
                key: key_label(index),
                entry: index
                    .constraint
                    .as_ref()
                    .map_or(&index.name, |c| &c.name)
                    .clone(),
                am: index.am.clone(),
            });
        }
        found.push(index);
    }
    Ok(found)
}

/// `ALTER TABLE ... DROP CONSTRAINT c, ADD CONSTRAINT c EXCLUDE USING <am>
/// (tenant_id WITH =, <elements as they were>` and the rest of the definition
/// (INCLUDE, WITH, WHERE, DEFERRABLE) as `pg_get_constraintdef` printed it.
pub fn tenant_exclusion_sql(
    index: &IndexInfo,
    table: &str,
    col: &str,
) -> Result<String, PlanError> {
    let con = index.constraint.as_ref().expect("an exclusion constraint");
    let prefix = format!("EXCLUDE USING {} (", quote_ident(&index.am));
    let rest = con.definition.strip_prefix(&prefix).ok_or_else(|| {
        PlanError::UnexpectedIndexDefinition {
            index: index.name.clone(),
            definition: con.definition.clone(),
        }
    })?;
    Ok(format!(
        "ALTER TABLE {table} DROP CONSTRAINT {0}, ADD CONSTRAINT {0} {prefix}{col} WITH OPERATOR(pg_catalog.=), {rest}",
        quote_ident(&con.name)
    ))
}

/// `CREATE UNIQUE INDEX <new_name> ON <table> USING <am> (tenant_id, <keys as they were>`
/// followed by everything else `pg_get_indexdef` printed (INCLUDE, NULLS NOT DISTINCT,
/// WITH, WHERE), with the tablespace kept. The key list is spliced after the exact
/// prefix the catalog says PostgreSQL printed, so no name is parsed out of SQL text.
pub fn tenant_leading_index_sql(
    index: &IndexInfo,
    new_name: &str,
    table: &str,
    col: &str,
) -> Result<String, PlanError> {
    rebuilt_unique_index_sql(index, new_name, table, Some(col))
}

/// `index` (a unique index) built again under `new_name` on `table`, with `leading`
/// as a first key column when given. Shared by enabling (tenant_id first) and undo
/// (the key as it was).
pub fn rebuilt_unique_index_sql(
    index: &IndexInfo,
    new_name: &str,
    table: &str,
    leading: Option<&str>,
) -> Result<String, PlanError> {
    let unexpected = || PlanError::UnexpectedIndexDefinition {
        index: index.name.clone(),
        definition: index.definition.clone(),
    };
    let mut rest = index
        .definition
        .strip_prefix(&index.definition_prefix)
        .ok_or_else(unexpected)?;
    let mut where_clause = String::new();
    if let Some(pred) = &index.predicate {
        let suffix = format!(" WHERE {pred}");
        rest = rest.strip_suffix(&suffix).ok_or_else(unexpected)?;
        where_clause = suffix;
    }
    let tablespace = match &index.tablespace {
        Some(ts) => format!(" TABLESPACE {}", quote_ident(ts)),
        None => String::new(),
    };
    let leading = leading.map(|c| format!("{c}, ")).unwrap_or_default();
    Ok(format!(
        "CREATE UNIQUE INDEX {} ON {} USING {} ({leading}{rest}{tablespace}{where_clause}",
        quote_ident(new_name),
        table,
        quote_ident(&index.am),
    ))
}

/// A unique or primary key constraint definition (`pg_get_constraintdef`:
/// `UNIQUE (email)`, `PRIMARY KEY (id, at)`, `UNIQUE NULLS NOT DISTINCT (x) INCLUDE
/// (y) DEFERRABLE`) with `col` first in its key list; `None` when it has no key list.
pub fn tenant_leading_constraint(definition: &str, col: &str) -> Option<String> {
    let open = definition.find('(')?;
    Some(format!(
        "{}{col}, {}",
        &definition[..=open],
        &definition[open + 1..]
    ))
}

/// A valid unique index, not backing a constraint, over exactly `col` and then
/// `index`'s keys (same access method and predicate): the per-tenant version of
/// `index`, built earlier.
fn prebuilt_tenant_version<'s>(
    state: &'s TableState,
    index: &IndexInfo,
    col: &str,
) -> Option<&'s IndexInfo> {
    let mut wanted = vec![Some(col.to_string())];
    wanted.extend(index.key_columns.iter().cloned());
    state.indexes.iter().find(|i| {
        i.is_unique
            && i.is_valid
            && i.constraint.is_none()
            && i.name != index.name
            && i.key_columns == wanted
            && i.predicate == index.predicate
            && i.am == index.am
    })
}

/// Indexes leading with the tenant column that a failed CREATE INDEX CONCURRENTLY
/// left INVALID: they are dropped and built again.
pub fn invalid_leftovers(state: &TableState) -> Vec<&IndexInfo> {
    state
        .indexes
        .iter()
        .filter(|i| !i.is_valid && i.leads_with_tenant && i.constraint.is_none())
        .collect()
}

/// The policy's USING / WITH CHECK rule for `table` (quoted and qualified).
fn tenant_rule(ext_schema: &str, table: &str, col: &str, type_key: TenantType) -> String {
    format!(
        "{col} = {}",
        session_tenant_expr(ext_schema, &quote_literal(table), type_key)
    )
}

/// Foreign keys between this table and another tenant-enabled one (or itself) that
/// do not include tenant_id yet: they become `(tenant_id, cols) REFERENCES parent
/// (tenant_id, key)`, so a row can only reference a row of its own tenant. Whichever
/// end is enabled second does it, so the order of enabling does not matter.
fn foreign_keys_to_compose<'s>(
    state: &'s TableState,
    keep: &[String],
) -> Result<Vec<&'s ForeignKeyInfo>, PlanError> {
    let mut found = Vec::new();
    for fk in &state.foreign_keys {
        let is_self = fk.child_oid == fk.parent_oid;
        if fk.has_tenant || !(is_self || (fk.other_registered && fk.other_has_tenant)) {
            continue;
        }
        if keep.contains(&fk.name) || fk.other_keeps {
            continue;
        }
        let child = quote_qualified(&fk.child_schema, &fk.child_name);
        if !is_self && !fk.other_is_owner {
            let other = if fk.outgoing {
                quote_qualified(&fk.parent_schema, &fk.parent_name)
            } else {
                child.clone()
            };
            return Err(PlanError::ForeignKeyOtherOwner {
                fk: fk.name.clone(),
                other,
                owner: fk.other_owner.clone(),
            });
        }
        let not_composable = |why: &str| PlanError::ForeignKeyNotComposable {
            fk: fk.name.clone(),
            table: child.clone(),
            why: why.into(),
        };
        if fk.on_update.sets_columns() {
            return Err(not_composable("its ON UPDATE SET NULL / SET DEFAULT would also clear tenant_id, and PostgreSQL takes a column list for ON DELETE only"));
        }
        if fk.match_type == "f" && fk.columns.len() > 1 {
            return Err(not_composable("it is MATCH FULL over several columns, and tenant_id is never NULL, so (tenant_id, ...) MATCH FULL would forbid the all-NULL references it allows today"));
        }
        found.push(fk);
    }
    Ok(found)
}

/// `FOREIGN KEY (tenant_id, cols) REFERENCES parent (tenant_id, key) ON UPDATE ...
/// ON DELETE ... [DEFERRABLE ...]` for `fk`: actions and deferrability kept; ON DELETE
/// SET NULL / SET DEFAULT name the original columns so tenant_id is never cleared; a
/// single-column MATCH FULL becomes MATCH SIMPLE (the same rule once tenant_id, never
/// NULL, leads).
fn composite_foreign_key_clause(fk: &ForeignKeyInfo, col: &str) -> String {
    let parent = quote_qualified(&fk.parent_schema, &fk.parent_name);
    let list = |cols: &[String]| {
        cols.iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let on_delete = if fk.on_delete.sets_columns() {
        let cols = if fk.delete_set_columns.is_empty() {
            &fk.columns
        } else {
            &fk.delete_set_columns
        };
        format!("{} ({})", fk.on_delete.sql(), list(cols))
    } else {
        fk.on_delete.sql().to_string()
    };
    let deferral = deferral_clause(fk.deferrable, fk.deferred);
    format!(
        "FOREIGN KEY ({col}, {}) REFERENCES {parent} ({col}, {}) ON UPDATE {} ON DELETE {on_delete}{deferral}",
        list(&fk.columns),
        list(&fk.parent_columns),
        fk.on_update.sql(),
    )
}

/// ` DEFERRABLE [INITIALLY DEFERRED]` as a constraint was, for the constraint that
/// replaces it.
pub fn deferral_clause(deferrable: bool, deferred: bool) -> &'static str {
    match (deferrable, deferred) {
        (true, true) => " DEFERRABLE INITIALLY DEFERRED",
        (true, false) => " DEFERRABLE",
        _ => "",
    }
}

/// `fk on child as (tenant_id, cols) REFERENCES parent (tenant_id, key)`, for the log.
fn composite_description(fk: &ForeignKeyInfo, col: &str) -> String {
    format!(
        "{} on {} as ({col}, {}) REFERENCES {} ({col}, {})",
        quote_ident(&fk.name),
        quote_qualified(&fk.child_schema, &fk.child_name),
        fk.columns.join(", "),
        quote_qualified(&fk.parent_schema, &fk.parent_name),
        fk.parent_columns.join(", ")
    )
}

/// The composite foreign key, replacing `fk` under the same name in one statement.
pub fn composite_foreign_key_sql(fk: &ForeignKeyInfo, col: &str) -> String {
    format!(
        "ALTER TABLE {} DROP CONSTRAINT {1}, ADD CONSTRAINT {1} {2}",
        quote_qualified(&fk.child_schema, &fk.child_name),
        quote_ident(&fk.name),
        composite_foreign_key_clause(fk, col)
    )
}

/// Views over the table that read it with their owner's rights, and that owner
/// bypasses row level security: they show every tenant's rows.
fn bypassing_views(state: &TableState) -> impl Iterator<Item = &crate::catalog::ViewInfo> {
    state
        .views
        .iter()
        .filter(|v| v.relkind == RelKind::View && !v.security_invoker && v.owner_bypasses_rls)
}

/// What enabling leaves open around the table, one line each: views that bypass row
/// level security (unless views => 'invoker' fixes them) and materialized views
/// (which cannot have row level security). Pure.
pub fn view_warnings(state: &TableState, opts: &Options) -> Vec<String> {
    let table = quote_qualified(&state.schema, &state.name);
    let mut lines = Vec::new();
    if !opts.views_invoker {
        for v in bypassing_views(state) {
            let view = quote_qualified(&v.schema, &v.name);
            lines.push(format!(
                "warning: view {view} reads {table} as its owner \"{}\", who bypasses row level security, so it shows every tenant's rows: ALTER VIEW {view} SET (security_invoker = on), or pass views => 'invoker'",
                v.owner
            ));
        }
    }
    for v in state
        .views
        .iter()
        .filter(|v| v.relkind == RelKind::MaterializedView)
    {
        let view = quote_qualified(&v.schema, &v.name);
        lines.push(format!(
            "warning: materialized view {view} holds rows of {table} from every tenant (a materialized view cannot have row level security): grant it to no application role, or replace it with a view or a per-tenant table"
        ));
    }
    lines
}

/// Compute the steps that bring `state` to the tenant-enabled end state. Empty when the
/// table is already there.
/// What every section of `plan` shares: the names it quotes once, the relation names
/// taken so far (new ones are chosen to avoid them), and the steps so far.
struct Planning<'a> {
    state: &'a TableState,
    opts: &'a Options<'a>,
    table: String,
    tenants: String,
    default_lit: String,
    tcol: String,
    type_key: TenantType,
    taken: HashSet<String>,
    steps: Vec<Step>,
}

impl Planning<'_> {
    /// A name from `base` and `suffix` no relation of the schema has, then taken.
    fn new_name(&mut self, base: &str, suffix: &str) -> String {
        let name = choose_name(base, suffix, &|n| self.taken.contains(n));
        self.taken.insert(name.clone());
        name
    }
}

/// A key to rewrite with the tenant column and the foreign keys that reference it.
type RewriteKey<'a> = (&'a IndexInfo, Vec<&'a ForeignKeyInfo>);
/// Step 2's builds for step 3: (key, the index built to replace it, keys carried).
type Swaps<'a> = Vec<(&'a IndexInfo, String, Vec<&'a ForeignKeyInfo>)>;

pub fn plan(state: &TableState, opts: &Options) -> Result<Vec<Step>, PlanError> {
    let derived = derived_state(state, opts);
    let derive = derived.is_some();
    let state = derived.as_ref().unwrap_or(state);
    validate(state)?;
    let rewrite_with_fks = keys_to_rewrite(state, opts.global_unique, opts.tenant_primary_key)?;
    let carried: Vec<&ForeignKeyInfo> = rewrite_with_fks
        .iter()
        .flat_map(|(_, fks)| fks.iter().copied())
        .collect();
    let exclusions = exclusions_to_rewrite(state, opts.global_unique)?;
    // Keys into a key being rewritten come back composite with it; the others here.
    let composite_fks: Vec<&ForeignKeyInfo> =
        foreign_keys_to_compose(state, opts.keep_foreign_keys)?
            .into_iter()
            .filter(|fk| {
                !carried
                    .iter()
                    .any(|c| c.name == fk.name && c.child_oid == fk.child_oid)
            })
            .collect();

    let table = quote_qualified(&state.schema, &state.name);
    let tenants = opts.registry.map_or_else(
        || quote_qualified(opts.ext_schema, "tenants"),
        |r| r.table.clone(),
    );
    let default_lit = quote_literal(opts.default_tenant);
    // The names of INVALID leftovers of a failed concurrent build are free: they are
    // dropped before anything is built, so a resumed run ends with the same names as
    // the offline call (not `..._idx1`).
    let leftovers: Vec<&str> = invalid_leftovers(state)
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    let taken: HashSet<String> = state
        .names_taken
        .iter()
        .filter(|n| !leftovers.contains(&n.as_str()))
        .cloned()
        .collect();

    let column = state.tenant_column.as_ref();
    // The tenant column: tenant_id (added when missing), or a column the table has.
    if column.is_none() && opts.tenant_column != TENANT_COLUMN {
        return Err(PlanError::TenantColumnMissing {
            column: opts.tenant_column.to_string(),
        });
    }
    let tcol = quote_ident(opts.tenant_column);
    // relay's own column is text, or of the type of the registry's ids.
    let type_key = column.map_or(opts.registry.map_or(TenantType::Text, |r| r.id_type), |c| {
        c.type_key
    });
    let mut p = Planning {
        state,
        opts,
        table: table.clone(),
        tenants,
        default_lit,
        tcol: tcol.clone(),
        type_key,
        taken,
        steps: Vec::new(),
    };
    // tenant_from: the column added and filled from the parents; or, added by an
    // earlier run of the online path and still nullable, filled.
    let fill =
        opts.tenant_from.is_some() && state.tenant_column.as_ref().is_some_and(|c| !c.not_null);
    if derive || fill {
        derive_steps(&mut p, derive);
    }
    column_steps(&mut p);
    let swaps = index_build_steps(&mut p, &rewrite_with_fks, &composite_fks)?;
    parent_key_steps(&mut p, &composite_fks);
    column_catalog_steps(&mut p)?;
    swap_steps(&mut p, swaps)?;
    composite_and_view_steps(&mut p, &composite_fks, exclusions)?;
    isolation_steps(&mut p);
    let mut steps = p.steps;
    // A half-done table: the backfill and builds run before any ACCESS EXCLUSIVE step.
    // Take SHARE ROW EXCLUSIVE first so no writer can add a NULL tenant_id behind the
    // backfill, and so the later upgrade to ACCESS EXCLUSIVE is the only one.
    if steps
        .first()
        .is_some_and(|s| s.lock < Lock::AccessExclusive && s.lock != Lock::ShareRowExclusive)
    {
        steps.insert(
            0,
            Step::new(
                StepKind::LockTable,
                Lock::ShareRowExclusive,
                format!(
                    "locked {table} against writes (reads go on) for the backfill and index builds"
                ),
                format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"),
            ),
        );
    }
    steps.extend(finishing_steps(state, &table, opts.tenant_column));
    // INVALID leftovers go first (their names may be built again).
    let (drops, rest): (Vec<Step>, Vec<Step>) = steps
        .into_iter()
        .partition(|s| s.kind == StepKind::DropInvalidIndex);
    let mut steps = drops;
    steps.extend(rest);
    Ok(steps)
}

/// Step 1, the tenant column: added (catalog only), or a half-done one backfilled.
/// tenant_from, before the column steps: the column added nullable (catalog only),
/// then filled from each row's parent. Rows whose key is NULL have no parent; the
/// column steps give them the default tenant.
fn derive_steps(p: &mut Planning, add_column: bool) {
    let from = p
        .opts
        .tenant_from
        .expect("derive_steps runs for tenant_from");
    let table = p.table.clone();
    let tcol = p.tcol.clone();
    let sql_type = if p.type_key == TenantType::Text {
        "text"
    } else {
        p.type_key.sql_type()
    };
    if add_column {
        p.steps.push(Step::new(
            StepKind::AddColumn,
            Lock::AccessExclusive,
            format!(
                "added column {tcol} {} to {table}, filled next from {} (catalog only, no rewrite)",
                p.type_key.key(),
                from.parent
            ),
            format!("ALTER TABLE {table} ADD COLUMN {tcol} {sql_type}, ALTER COLUMN {tcol} SET STORAGE PLAIN"),
        ));
    }
    let join: Vec<String> = from
        .columns
        .iter()
        .zip(&from.parent_columns)
        .map(|(c, pc)| format!("p.{} = c.{}", quote_ident(pc), quote_ident(c)))
        .collect();
    p.steps.push(
        Step::new(
            StepKind::BackfillFromParent,
            Lock::RowExclusive,
            format!(
                "filled {tcol} of {table} from {}.{} through foreign key {}",
                from.parent,
                quote_ident(&from.parent_column),
                quote_ident(&from.fk)
            ),
            format!(
                "UPDATE {table} c SET {tcol} = p.{} FROM {} p WHERE {} AND c.{tcol} IS NULL",
                quote_ident(&from.parent_column),
                from.parent,
                join.join(" AND ")
            ),
        )
        .locking(from.parent_oid, Lock::AccessShare),
    );
}

fn column_steps(p: &mut Planning) {
    let state = p.state;
    let table = p.table.clone();
    let tcol = p.tcol.clone();
    let default_lit = p.default_lit.clone();
    let type_key = p.type_key;
    let column = state.tenant_column.as_ref();
    // 1. The column. On a fresh table: catalog only, existing rows read the constant
    //    default from pg_attribute.attmissingval, nothing is rewritten.
    //    STORAGE PLAIN keeps every stored value in the 4-byte-header form the missing
    //    value has. With the default (packable) storage the first UPDATE of each
    //    pre-existing row stores a 1-byte-header copy, heap_update's binary comparison
    //    sees the key column (tenant_id is in the new unique key) as changed, and takes
    //    FOR UPDATE instead of FOR NO KEY UPDATE: that row lock conflicts with the
    //    FOR KEY SHARE of every concurrent foreign-key check, and application
    //    transactions that reference and then update one parent deadlock each other
    //    (issue 18). Catalog only; tenant values are far below any TOAST threshold.
    let shared = p.opts.shared_rows;
    match column {
        // Shared rows: the rows already there belong to no tenant (every tenant reads
        // them); nullable, no default for them.
        None if shared => p.steps.push(Step::new(
            StepKind::AddColumn,
            Lock::AccessExclusive,
            format!(
                "added column {tcol} {} to {table}; existing rows are shared: every tenant reads them, none writes them (catalog only, no rewrite)",
                type_key.key()
            ),
            format!(
                "ALTER TABLE {table} ADD COLUMN {tcol} {}, ALTER COLUMN {tcol} SET STORAGE PLAIN",
                if type_key == TenantType::Text { "text" } else { type_key.sql_type() }
            ),
        )),
        Some(col) if !col.not_null && shared => {}
        // tenant_from with a NOT NULL key: every row has a parent, no default needed
        Some(col) if !col.not_null && p.opts.tenant_from.is_some_and(|f| !f.orphans) => {}
        None => p.steps.push(Step::new(
            StepKind::AddColumn,
            Lock::AccessExclusive,
            format!(
                "added column {tcol} {} NOT NULL to {table}; existing rows belong to {default_lit} (catalog only, no rewrite)",
                type_key.key()
            ),
            format!(
                "ALTER TABLE {table} ADD COLUMN {tcol} {} NOT NULL DEFAULT {default_lit}, ALTER COLUMN {tcol} SET STORAGE PLAIN",
                // (text as it always was; the registry's types qualified)
                if type_key == TenantType::Text { "text" } else { type_key.sql_type() }
            ),
        )),
        Some(col) if !col.not_null => p.steps.push(
            Step::new(
                StepKind::Backfill,
                Lock::RowExclusive,
                format!("backfilled rows of {table} with NULL {tcol} to {default_lit}"),
                format!(
                    "UPDATE {table} SET {tcol} = $1{} WHERE {tcol} IS NULL",
                    if type_key == TenantType::Text { String::new() } else { format!("::{}", type_key.sql_type()) }
                ),
            ),
        ),
        Some(_) => {}
    }
}

/// Step 2, index builds (SHARE: reads go on, writes wait): each key to rewrite built with
/// the tenant column first (or found built), and an index on the tenant column when
/// none serves. Returns what step 3 swaps in: (key, built index, keys carried).
fn index_build_steps<'a>(
    p: &mut Planning<'a>,
    rewrite_with_fks: &[RewriteKey<'a>],
    composite_fks: &[&ForeignKeyInfo],
) -> Result<Swaps<'a>, PlanError> {
    let rewrite: Vec<&IndexInfo> = rewrite_with_fks.iter().map(|(i, _)| *i).collect();
    let state = p.state;
    let opts = p.opts;
    let table = p.table.clone();
    let tcol = p.tcol.clone();
    // 2. Index builds (SHARE: reads go on, writes wait).
    let mut swaps = Vec::new();
    let partitioned = state.relkind == RelKind::Partitioned;
    for index in &rewrite {
        if partitioned && index.constraint.is_some() {
            // PostgreSQL cannot attach a prebuilt index to a partitioned table's
            // constraint (ADD CONSTRAINT ... USING INDEX): the swap builds it.
            let carried = rewrite_with_fks
                .iter()
                .find(|(i, _)| std::ptr::eq(*i, *index))
                .map(|(_, f)| f.clone())
                .unwrap_or_default();
            swaps.push((*index, String::new(), carried));
            continue;
        }
        let carried_here = rewrite_with_fks
            .iter()
            .find(|(i, _)| std::ptr::eq(*i, *index))
            .map(|(_, f)| f.clone())
            .unwrap_or_default();
        // Built already (by an online conversion's CREATE UNIQUE INDEX CONCURRENTLY,
        // or a run that stopped after its builds): swapped in as it is.
        if let Some(built) = prebuilt_tenant_version(state, index, opts.tenant_column) {
            swaps.push((*index, built.name.clone(), carried_here));
            continue;
        }
        let tmp = p.new_name(&index.name, "_relay_tmp");
        let cols: Vec<String> = index
            .key_columns
            .iter()
            .map(|c| c.as_deref().map_or("(expression)".to_string(), quote_ident))
            .collect();
        p.steps.push(Step::new(
            StepKind::BuildTenantUnique,
            Lock::Share,
            format!(
                "built unique index {} on {table} ({tcol}, {}) to replace {}",
                quote_ident(&tmp),
                cols.join(", "),
                key_label(index)
            ),
            tenant_leading_index_sql(index, &tmp, &table, &tcol)?,
        ));
        swaps.push((*index, tmp, carried_here));
    }
    let served = state.indexes.iter().any(|i| i.is_valid && i.leads_with_tenant && i.predicate.is_none())
        || rewrite.iter().any(|i| i.predicate.is_none())
        // the (tenant_id, key) a composite foreign key will reference, on this table
        || composite_fks.iter().any(|fk| fk.parent_oid == state.oid && fk.parent_tenant_key.is_none());
    if !served {
        let name = p.new_name(&state.name, &format!("_{}_idx", opts.tenant_column));
        p.steps.push(Step::new(
            StepKind::CreateTenantIndex,
            Lock::Share,
            format!("created index {} on {table} ({tcol})", quote_ident(&name)),
            format!("CREATE INDEX {} ON {table} ({tcol})", quote_ident(&name)),
        ));
    }

    Ok(swaps)
}

/// The parent's unique (tenant_id, key) each composite foreign key references.
fn parent_key_steps(p: &mut Planning, composite_fks: &[&ForeignKeyInfo]) {
    let state = p.state;
    let opts = p.opts;
    let tcol = p.tcol.clone();
    // The parent's unique (tenant_id, key) each composite foreign key references,
    // unless one exists (one build per parent key, however many keys reference it).
    let mut parent_keys_built: Vec<(u32, Vec<String>)> = Vec::new();
    let mut parent_names: HashSet<String> = HashSet::new();
    for fk in composite_fks {
        if fk.parent_tenant_key.is_some()
            || parent_keys_built.contains(&(fk.parent_oid, fk.parent_columns.clone()))
        {
            continue;
        }
        parent_keys_built.push((fk.parent_oid, fk.parent_columns.clone()));
        let parent = quote_qualified(&fk.parent_schema, &fk.parent_name);
        let base = format!(
            "{}_{}_{}",
            fk.parent_name,
            opts.tenant_column,
            fk.parent_columns.join("_")
        );
        let name = if fk.parent_oid == state.oid {
            p.new_name(&base, "_key")
        } else {
            let name = choose_name(&base, "_key", &|n| {
                fk.parent_names_taken.iter().any(|t| t == n) || parent_names.contains(n)
            });
            parent_names.insert(name.clone());
            name
        };
        let cols: Vec<String> = fk.parent_columns.iter().map(|c| quote_ident(c)).collect();
        p.steps.push(Step::new(
            StepKind::BuildParentTenantKey,
            Lock::Share,
            format!(
                "built unique index {} on {parent} ({tcol}, {}) for composite foreign keys to reference",
                quote_ident(&name),
                cols.join(", ")
            ),
            format!("CREATE UNIQUE INDEX {} ON {parent} ({tcol}, {})", quote_ident(&name), cols.join(", ")),
        ).locking(fk.parent_oid, Lock::Share));
    }
}

/// Step 3, catalog changes under ACCESS EXCLUSIVE, each quick: NOT NULL, the default, the
/// key to tenants (or the tenant-exists trigger).
fn column_catalog_steps(p: &mut Planning) -> Result<(), PlanError> {
    let state = p.state;
    let opts = p.opts;
    let table = p.table.clone();
    let tcol = p.tcol.clone();
    let tenants = p.tenants.clone();
    let type_key = p.type_key;
    let column = state.tenant_column.as_ref();
    // 3. Catalog changes under ACCESS EXCLUSIVE, each quick.
    if let Some(col) = column.filter(|_| !opts.shared_rows) {
        if !col.not_null {
            p.steps.push(Step::new(
                StepKind::SetNotNull,
                Lock::AccessExclusive,
                format!("set {tcol} NOT NULL on {table} (scan, no rewrite)"),
                format!("ALTER TABLE {table} ALTER COLUMN {tcol} SET NOT NULL"),
            ));
        }
    }
    let by_name = state.distributed || state.scaled_out;
    if by_name && opts.shared_rows {
        return Err(PlanError::SharedRowsOnCitus);
    }
    if state.distributed && !column.is_some_and(|c| c.default_is_ours) {
        return Err(PlanError::DistributedWithoutDefault {
            column: opts.tenant_column.to_string(),
            default: distributed_default(opts.ext_schema, &table, type_key),
        });
    }
    if !column.is_some_and(|c| c.default_is_ours) {
        let mut step = Step::new(
            StepKind::SetDefault,
            Lock::AccessExclusive,
            format!(
                "new rows of {table} take the session's tenant; an insert with no tenant set fails"
            ),
            if by_name {
                format!(
                    "ALTER TABLE {table} ALTER COLUMN {tcol} SET DEFAULT {}",
                    distributed_default(opts.ext_schema, &table, type_key)
                )
            } else {
                format!(
                    "ALTER TABLE {table} ALTER COLUMN {tcol} SET DEFAULT {}.{}({}::pg_catalog.regclass)",
                    quote_ident(opts.ext_schema),
                    typed("relay_insert_tenant", type_key),
                    quote_literal(&table)
                )
            },
        );
        if let Some(previous) = column.and_then(|c| c.default_expr.clone()) {
            step = step.replacing(serde_json::json!({ "column_default": previous }));
        }
        p.steps.push(step);
    }
    // A foreign key to the registry's ids when the types allow one (relay's tenants.id
    // is text); else existing rows are checked once, and new and changed ones by a
    // trigger (as the key would).
    let (referencable, id_column) = match opts.registry {
        None => (type_key == TenantType::Text, "id".to_string()),
        Some(r) => (r.referencable_from(type_key), r.id_column.clone()),
    };
    let id_col = quote_ident(&id_column);
    if !referencable
        && !state
            .triggers
            .iter()
            .any(|t| t.name == TENANT_EXISTS_TRIGGER)
    {
        p.steps.push(
            Step::new(
                StepKind::CheckTenantsExist,
                Lock::AccessShare,
                format!("checked that every {tcol} of {table} names a row of {tenants}"),
                format!(
                    "SELECT pg_catalog.count(*), pg_catalog.min(t.{tcol}::pg_catalog.text) FROM {table} t
                      WHERE NOT EXISTS (SELECT 1 FROM {tenants} x WHERE x.{id_col}::pg_catalog.text OPERATOR(pg_catalog.=) t.{tcol}::pg_catalog.text)"
                ),
            )
            .privileged(),
        );
    }
    if !referencable {
        p.steps.extend(always_trigger_steps(
            &table,
            TENANT_EXISTS_TRIGGER,
            &format!("BEFORE INSERT OR UPDATE OF {tcol} ON {{t}} FOR EACH ROW"),
            &format!(
                "{}.relay_tenant_exists_guard({})",
                quote_ident(opts.ext_schema),
                quote_literal(opts.tenant_column)
            ),
            &state.triggers,
        ));
    } else if state.tenant_fk.is_none() && (state.distributed || !state.scaled_out) {
        // (A local table in a scaled-out schema gets it from relay_distribute.)
        let name = p.new_name(&state.name, &format!("_{}_fkey", opts.tenant_column));
        p.steps.push(Step::new(
            StepKind::AddForeignKey,
            Lock::ShareRowExclusive,
            format!(
                "added foreign key {} ({tcol}) REFERENCES {tenants}({id_col}) (also SHARE ROW EXCLUSIVE on {tenants})",
                quote_ident(&name)
            ),
            format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} FOREIGN KEY ({tcol}) REFERENCES {tenants}({id_col})",
                quote_ident(&name)
            ),
        ).adding_foreign_key(&table, &name));
    }
    Ok(())
}

/// Each rewritten key swapped for its tenant-leading version, the keys that reference
/// it dropped first and added back composite.
fn swap_steps<'a>(p: &mut Planning<'a>, swaps: Swaps<'a>) -> Result<(), PlanError> {
    let state = p.state;
    let table = p.table.clone();
    let tcol = p.tcol.clone();
    for (index, tmp, carried) in swaps {
        // The keys that reference this one go first (a constraint they depend on
        // cannot be dropped), and come back composite right after the swap.
        for fk in &carried {
            let child = quote_qualified(&fk.child_schema, &fk.child_name);
            p.steps.push(
                Step::new(
                    StepKind::DropForeignKey,
                    Lock::AccessExclusive,
                    format!("dropped foreign key {} on {child}, to come back composite below", quote_ident(&fk.name)),
                    format!("ALTER TABLE {child} DROP CONSTRAINT {}", quote_ident(&fk.name)),
                )
                .replacing(serde_json::json!({ "foreign_key": fk.name, "table": child, "definition": fk.definition }))
                .locking(fk.child_oid, Lock::AccessExclusive),
            );
        }
        let replaced = serde_json::json!({
            "index": index.name,
            "index_definition": index.definition,
            "constraint": index.constraint.as_ref().map(|c| &c.name),
            "constraint_definition": index.constraint.as_ref().map(|c| &c.definition),
        });
        match &index.constraint {
            Some(con) => {
                let deferral = deferral_clause(con.deferrable, con.deferred);
                let kind = if con.contype == ConKind::PrimaryKey {
                    "PRIMARY KEY"
                } else {
                    "UNIQUE"
                };
                let (how, sql) = if tmp.is_empty() {
                    (
                        " (partitioned: the new index of every partition is built here, under the lock)",
                        format!(
                            "ALTER TABLE {table} DROP CONSTRAINT {0}, ADD CONSTRAINT {0} {1}",
                            quote_ident(&con.name),
                            tenant_leading_constraint(&con.definition, &tcol).ok_or_else(|| PlanError::UnexpectedIndexDefinition {
                                index: index.name.clone(),
                                definition: con.definition.clone(),
                            })?
                        ),
                    )
                } else {
                    (
                        "",
                        format!(
                            "ALTER TABLE {table} DROP CONSTRAINT {0}, ADD CONSTRAINT {0} {kind} USING INDEX {1}{deferral}",
                            quote_ident(&con.name),
                            quote_ident(&tmp)
                        ),
                    )
                };
                p.steps.push(
                    Step::new(
                        StepKind::SwapUniqueConstraint,
                        Lock::AccessExclusive,
                        format!(
                            "replaced constraint {} {} with {kind} ({tcol}, ...) under the same name{how}",
                            quote_ident(&con.name),
                            con.definition
                        ),
                        sql,
                    )
                    .replacing(replaced),
                );
            }
            None => {
                p.steps.push(
                    Step::new(
                        StepKind::DropUniqueIndex,
                        Lock::AccessExclusive,
                        format!("dropped global unique index {}", quote_ident(&index.name)),
                        format!("DROP INDEX {}", quote_qualified(&state.schema, &index.name)),
                    )
                    .replacing(replaced),
                );
                p.steps.push(Step::new(
                    StepKind::RenameIndex,
                    Lock::ShareUpdateExclusive,
                    format!(
                        "renamed {} to {}, now unique per tenant",
                        quote_ident(&tmp),
                        quote_ident(&index.name)
                    ),
                    format!(
                        "ALTER INDEX {} RENAME TO {}",
                        quote_qualified(&state.schema, &tmp),
                        quote_ident(&index.name)
                    ),
                ));
            }
        }
        for fk in &carried {
            p.steps.push(Step::new(
                StepKind::AddCompositeForeignKey,
                Lock::ShareRowExclusive,
                format!("added foreign key {}: a row can reference its own tenant's rows only (validating scan)", composite_description(fk, &tcol)),
                format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} {}",
                    quote_qualified(&fk.child_schema, &fk.child_name),
                    quote_ident(&fk.name),
                    composite_foreign_key_clause(fk, &tcol)
                ),
            )
            .adding_foreign_key(&quote_qualified(&fk.child_schema, &fk.child_name), &fk.name)
            .locking(fk.child_oid, Lock::ShareRowExclusive));
        }
    }
    Ok(())
}

/// Composite foreign keys, exclusion constraints, views made security_invoker.
fn composite_and_view_steps<'a>(
    p: &mut Planning<'a>,
    composite_fks: &[&ForeignKeyInfo],
    exclusions: Vec<&'a IndexInfo>,
) -> Result<(), PlanError> {
    let state = p.state;
    let opts = p.opts;
    let table = p.table.clone();
    let tcol = p.tcol.clone();
    for fk in composite_fks {
        let child = quote_qualified(&fk.child_schema, &fk.child_name);
        p.steps.push(
            Step::new(
                StepKind::SwapForeignKey,
                Lock::AccessExclusive,
                format!(
                    "replaced foreign key {} under the same name: a row can reference its own tenant's rows only (validating scan; ACCESS EXCLUSIVE on both tables)",
                    composite_description(fk, &tcol)
                ),
                composite_foreign_key_sql(fk, &tcol),
            )
            .replacing(serde_json::json!({ "foreign_key": fk.name, "table": child, "definition": fk.definition }))
            .adding_foreign_key(&child, &fk.name)
            .locking(fk.child_oid, Lock::AccessExclusive)
            .locking(fk.parent_oid, Lock::AccessExclusive),
        );
    }
    for index in exclusions {
        let con = index.constraint.as_ref().expect("an exclusion constraint");
        p.steps.push(
            Step::new(
                StepKind::SwapExclusionConstraint,
                Lock::AccessExclusive,
                format!(
                    "replaced exclusion constraint {} {} with one that excludes within a tenant only ({tcol} WITH =), under the same name",
                    quote_ident(&con.name),
                    con.definition
                ),
                tenant_exclusion_sql(index, &table, &tcol)?,
            )
            .replacing(serde_json::json!({
                "index": index.name,
                "index_definition": index.definition,
                "constraint": con.name,
                "constraint_definition": con.definition,
            })),
        );
    }
    if opts.views_invoker {
        for v in bypassing_views(state) {
            let view = quote_qualified(&v.schema, &v.name);
            if !v.is_owner {
                return Err(PlanError::ViewNotOwned {
                    view,
                    owner: v.owner.clone(),
                });
            }
            p.steps.push(Step::new(
                StepKind::SetViewInvoker,
                Lock::AccessExclusive,
                format!("view {view} now reads {table} with the querying role's rights (security_invoker = on), so row level security applies (lock on the view)"),
                format!("ALTER VIEW {view} SET (security_invoker = on)"),
            )
            .locking(v.oid, Lock::AccessExclusive));
        }
    }
    Ok(())
}

/// Row level security enabled and forced, relay's policies, the TRUNCATE guard.
fn isolation_steps(p: &mut Planning) {
    let state = p.state;
    let opts = p.opts;
    let table = p.table.clone();
    let tcol = p.tcol.clone();
    let type_key = p.type_key;
    if !state.rls_enabled {
        p.steps.push(Step::new(
            StepKind::EnableRls,
            Lock::AccessExclusive,
            format!("enabled row level security on {table}"),
            format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        ));
    }
    if !state.rls_forced {
        p.steps.push(Step::new(
            StepKind::ForceRls,
            Lock::AccessExclusive,
            format!("forced row level security on {table} (the owner is isolated too)"),
            format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"),
        ));
    }
    let rule = if state.distributed || state.scaled_out {
        direct_rule(opts.ext_schema, &table, &tcol, type_key)
    } else {
        tenant_rule(opts.ext_schema, &table, &tcol, type_key)
    };
    p.steps.extend(policy_steps(
        state,
        &table,
        &rule,
        opts.shared_rows.then_some(tcol.as_str()),
    ));
    p.steps.extend(always_trigger_steps(
        &table,
        TRUNCATE_GUARD_TRIGGER,
        "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT",
        &format!(
            "{}.relay_tenant_truncate_guard()",
            quote_ident(opts.ext_schema)
        ),
        &state.triggers,
    ));
}

/// The name of the CHECK (col IS NOT NULL) an online conversion adds NOT VALID,
/// validates, and drops once SET NOT NULL has used it.
pub fn not_null_check_name(col: &str) -> String {
    format!(
        "relay_{}_not_null",
        crate::model::quote::clip_to_bytes(col, 63 - "relay__not_null".len())
    )
}

/// What an interrupted online conversion leaves: constraints added NOT VALID (the
/// foreign key to tenants, composite foreign keys, the NOT NULL check) are validated
/// (SHARE UPDATE EXCLUSIVE: reads and writes go on); indexes a failed CREATE INDEX
/// CONCURRENTLY left INVALID are dropped (they were built again under another name).
fn finishing_steps(state: &TableState, table: &str, col: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let check = not_null_check_name(col);
    let ours = |name: &str| {
        state.tenant_fk.as_deref() == Some(name)
            || name == check
            || state
                .foreign_keys
                .iter()
                .any(|fk| fk.outgoing && fk.has_tenant && fk.name == name)
    };
    for name in state.not_valid.iter().filter(|n| ours(n)) {
        steps.push(validate_step(table, name));
    }
    for fk in state
        .foreign_keys
        .iter()
        .filter(|fk| !fk.outgoing && fk.has_tenant && !fk.validated)
    {
        steps.push(validate_step(
            &quote_qualified(&fk.child_schema, &fk.child_name),
            &fk.name,
        ));
    }
    for index in invalid_leftovers(state) {
        steps.push(Step::new(
            StepKind::DropInvalidIndex,
            Lock::AccessExclusive,
            format!(
                "dropped index {}, left INVALID by a failed concurrent build",
                quote_ident(&index.name)
            ),
            format!(
                "DROP INDEX IF EXISTS {}",
                quote_qualified(&state.schema, &index.name)
            ),
        ));
    }
    steps
}

pub fn validate_step(table: &str, constraint: &str) -> Step {
    Step::new(
        StepKind::ValidateConstraint,
        Lock::ShareUpdateExclusive,
        format!(
            "validated constraint {} on {table} (scan; reads and writes go on)",
            quote_ident(constraint)
        ),
        format!(
            "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
            quote_ident(constraint)
        ),
    )
}

/// A trigger that fires ALWAYS (also under session_replication_role = replica):
/// created (as the extension's owner: PUBLIC has no EXECUTE on relay's trigger
/// functions) when missing, re-promoted when demoted. `timing` has `{t}` where the
/// table goes, e.g. `BEFORE TRUNCATE ON {t} FOR EACH STATEMENT`. Pure.
pub fn always_trigger_steps(
    table: &str,
    name: &str,
    timing: &str,
    function: &str,
    existing: &[TriggerInfo],
) -> Vec<Step> {
    let timing = timing.replace("{t}", table);
    let trigger = quote_ident(name);
    let mut steps = Vec::new();
    match existing.iter().find(|t| t.name == name) {
        Some(t) if t.enabled == "A" => return steps,
        Some(_) => {}
        None => steps.push(
            Step::new(
                StepKind::CreateTrigger,
                Lock::ShareRowExclusive,
                format!(
                    "created trigger {name} on {table}: {}",
                    timing.replace(&format!(" ON {table}"), "")
                ),
                format!("CREATE TRIGGER {trigger} {timing} EXECUTE FUNCTION {function}"),
            )
            .privileged(),
        ),
    }
    steps.push(Step::new(
        StepKind::EnableTriggerAlways,
        Lock::ShareRowExclusive,
        format!("trigger {name} fires ALWAYS, also under session_replication_role = replica"),
        format!("ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}"),
    ));
    steps
}

/// `CREATE POLICY name ON table AS <how> USING (using) [WITH CHECK (check)]`, marked.
fn create_policy_for(
    table: &str,
    name: &str,
    how: &str,
    using: &str,
    check: Option<&str>,
    marker: &str,
    why: &str,
) -> [Step; 2] {
    let check = check.map_or(String::new(), |c| format!(" WITH CHECK ({c})"));
    [
        Step::new(
            StepKind::CreatePolicy,
            Lock::AccessExclusive,
            format!("created policy {name} on {table} AS {how}: {why}"),
            format!("CREATE POLICY {name} ON {table} AS {how} USING ({using}){check}"),
        ),
        Step::new(
            StepKind::MarkPolicy,
            Lock::ShareUpdateExclusive,
            format!("marked policy {name} as relay's"),
            format!(
                "COMMENT ON POLICY {name} ON {table} IS {}",
                quote_literal(marker)
            ),
        ),
    ]
}

/// The policies. `tenant_isolation` is RESTRICTIVE: it ANDs with every policy of the
/// table, those created before enabling and those created after, so no policy can
/// widen it. PostgreSQL grants no row without a permissive policy, so when the table
/// has none of its own relay adds `tenant_access` (PERMISSIVE, the same rule); when
/// it has some, they decide what each tenant may see of its own rows.
fn policy_steps(state: &TableState, table: &str, rule: &str, shared: Option<&str>) -> Vec<Step> {
    let rule = rule.to_string();
    // Shared rows: every tenant reads the rows of no tenant; writes stay its own.
    let using = shared.map_or(rule.clone(), |col| format!("({rule}) OR {col} IS NULL"));
    let unchanged = |p: &PolicyInfo| {
        if shared.is_some() {
            p.shared_rule.unwrap_or(true)
        } else {
            rule_unchanged(p)
        }
    };
    let mut steps = Vec::new();
    // A policy of the user's is kept in the registry for undo to put back; relay's own
    // policy, altered since, is not (undo drops relay's policies, it never re-creates
    // one: re-creating it would clash with the one this call creates).
    let replace = |p: &PolicyInfo, steps: &mut Vec<Step>| {
        let drop = Step::new(
            StepKind::DropPolicy,
            Lock::AccessExclusive,
            format!("dropped policy {} on {table}, replaced below", p.name),
            format!("DROP POLICY {} ON {table}", quote_ident(&p.name)),
        );
        steps.push(if p.is_ours {
            drop
        } else {
            drop.replacing(serde_json::json!({ "policy": p.definition }))
        });
    };
    let existing = state.policies.iter().find(|p| p.name == POLICY_NAME);
    if !existing
        .is_some_and(|p| p.is_ours && !p.permissive && p.cmd == "*" && p.to_public && unchanged(p))
    {
        if let Some(p) = existing {
            replace(p, &mut steps);
        }
        steps.extend(create_policy_for(
            table,
            POLICY_NAME,
            "RESTRICTIVE FOR ALL",
            &using,
            Some(&rule),
            POLICY_MARKER,
            "ANDed with every other policy, whenever it was created",
        ));
    }
    // relay's permissive companion, its rule changed since: put back.
    let access = state
        .policies
        .iter()
        .find(|p| p.name == ACCESS_POLICY_NAME && p.is_ours);
    let access_changed = access.is_some_and(|p| !unchanged(p));
    if let Some(p) = access.filter(|_| access_changed) {
        replace(p, &mut steps);
    }
    if access_changed
        || !state
            .policies
            .iter()
            .any(|p| p.permissive && p.name != POLICY_NAME)
    {
        steps.extend(create_policy_for(
            table,
            ACCESS_POLICY_NAME,
            "PERMISSIVE FOR ALL",
            &using,
            Some(&rule),
            ACCESS_POLICY_MARKER,
            "grants the session tenant's rows (the table has no permissive policy of its own)",
        ));
    }
    if shared.is_some() {
        for (name, cmd, command) in [
            (SHARED_UPDATE_POLICY, "w", "UPDATE"),
            (SHARED_DELETE_POLICY, "d", "DELETE"),
        ] {
            let existing = state.policies.iter().find(|p| p.name == name);
            if existing.is_some_and(|p| {
                p.is_ours
                    && !p.permissive
                    && p.cmd == cmd
                    && p.to_public
                    && p.using_rule.unwrap_or(true)
                    && p.check_tree.is_none()
            }) {
                continue;
            }
            if let Some(p) = existing {
                replace(p, &mut steps);
            }
            steps.extend(create_policy_for(
                table,
                name,
                &format!("RESTRICTIVE FOR {command}"),
                &rule,
                None,
                SHARED_POLICY_MARKER,
                &format!("a tenant's {command} reaches its own rows only, never the shared ones"),
            ));
        }
    }
    steps
}

/// The same rule without the scalar sub-select, as relay_distribute writes it on
/// tables it distributes with Citus (which refuses sub-selects in policies):
/// `(tenant_id = s.relay_policy_tenant('s.t'::text))`. The same comparison with the
/// function's by-name form (a Citus worker cannot resolve a regclass constant while it
/// creates a shard), so either form is relay's rule.
pub fn direct_rule(ext_schema: &str, table: &str, col: &str, type_key: TenantType) -> String {
    format!(
        "{col} = {}.{}({}::pg_catalog.text)",
        quote_ident(ext_schema),
        typed("relay_policy_tenant", type_key),
        quote_literal(table)
    )
}

/// The tenant column's default as relay_distribute writes it: by name, like `direct_rule`.
pub fn distributed_default(ext_schema: &str, table: &str, type_key: TenantType) -> String {
    format!(
        "{}.{}({}::pg_catalog.text)",
        quote_ident(ext_schema),
        typed("relay_insert_tenant", type_key),
        quote_literal(table)
    )
}

/// A policy's USING and WITH CHECK are still relay's rule (recognised by the structure
/// of the stored expressions when the catalog was read; a policy read without them, as
/// in unit tests, counts as unchanged).
fn rule_unchanged(policy: &PolicyInfo) -> bool {
    policy.relay_rule.unwrap_or(true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::{ConstraintInfo, PolicyInfo, TenantColumn, TriggerInfo};
    use crate::model::kinds::FkAction;

    pub(crate) fn opts(global: &[String]) -> Options<'_> {
        Options {
            ext_schema: "public",
            default_tenant: "default-tenant-000-0000-000000000000",
            global_unique: global,
            views_invoker: false,
            tenant_primary_key: false,
            keep_foreign_keys: &[],
            tenant_column: TENANT_COLUMN,
            online: false,
            registry: None,
            tenant_from: None,
            shared_rows: false,
        }
    }

    pub(crate) fn table(name: &str) -> TableState {
        TableState {
            oid: 16400,
            schema: "public".into(),
            name: name.into(),
            relkind: RelKind::Table,
            is_owner: true,
            owner: "app_owner".into(),
            indexes: vec![pk(name)],
            names_taken: vec![name.into(), format!("{name}_pkey")],
            ..Default::default()
        }
    }

    pub(crate) fn pk(table: &str) -> IndexInfo {
        IndexInfo {
            name: format!("{table}_pkey"),
            is_unique: true,
            is_primary: true,
            is_valid: true,
            key_columns: vec![Some("id".into())],
            am: "btree".into(),
            definition: format!(
                "CREATE UNIQUE INDEX {table}_pkey ON public.{table} USING btree (id)"
            ),
            definition_prefix: format!(
                "CREATE UNIQUE INDEX {table}_pkey ON public.{table} USING btree ("
            ),
            constraint: Some(ConstraintInfo {
                name: format!("{table}_pkey"),
                contype: ConKind::PrimaryKey,
                definition: "PRIMARY KEY (id)".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_invalid_leftover_is_dropped_first_and_its_name_built_again() {
        // A failed CREATE INDEX CONCURRENTLY of the tenant index left it INVALID.
        let mut state = table("skills");
        state.tenant_column = Some(TenantColumn {
            name: TENANT_COLUMN.into(),
            type_key: TenantType::Text,
            is_text: true,
            not_null: true,
            ..Default::default()
        });
        state.indexes.push(IndexInfo {
            name: "skills_tenant_id_idx".into(),
            is_valid: false,
            leads_with_tenant: true,
            key_columns: vec![Some("tenant_id".into())],
            am: "btree".into(),
            ..Default::default()
        });
        state.names_taken.push("skills_tenant_id_idx".into());
        let steps = plan(&state, &opts(&[])).unwrap();
        assert_eq!(steps[0].kind, StepKind::DropInvalidIndex);
        let build = steps
            .iter()
            .find(|s| s.kind == StepKind::CreateTenantIndex)
            .expect("the tenant index is built again");
        assert!(
            build
                .sql
                .starts_with("CREATE INDEX skills_tenant_id_idx ON"),
            "{}",
            build.sql
        );
    }

    pub(crate) fn unique_constraint(table: &str, name: &str, col: &str) -> IndexInfo {
        IndexInfo {
            name: name.into(),
            is_unique: true,
            is_valid: true,
            key_columns: vec![Some(col.into())],
            am: "btree".into(),
            definition: format!("CREATE UNIQUE INDEX {name} ON public.{table} USING btree ({col})"),
            definition_prefix: format!(
                "CREATE UNIQUE INDEX {name} ON public.{table} USING btree ("
            ),
            constraint: Some(ConstraintInfo {
                name: name.into(),
                contype: ConKind::Unique,
                definition: format!("UNIQUE ({col})"),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub(crate) fn kinds(steps: &[Step]) -> Vec<StepKind> {
        steps.iter().map(|s| s.kind).collect()
    }

    /// An existing text tenant_id column.
    pub(crate) fn text_column(
        not_null: bool,
        default_expr: Option<&str>,
        default_is_ours: bool,
    ) -> TenantColumn {
        TenantColumn {
            name: "tenant_id".into(),
            type_name: "text".into(),
            type_key: TenantType::Text,
            is_text: true,
            not_null,
            default_expr: default_expr.map(str::to_string),
            default_is_ours,
        }
    }

    pub(crate) fn enabled(mut state: TableState) -> TableState {
        state.tenant_column = Some(text_column(
            true,
            Some("relay_insert_tenant('skills'::regclass)"),
            true,
        ));
        state.tenant_fk = Some("skills_tenant_id_fkey".into());
        state.rls_enabled = true;
        state.rls_forced = true;
        state.indexes.push(IndexInfo {
            name: "skills_tenant_id_idx".into(),
            is_valid: true,
            leads_with_tenant: true,
            has_tenant_key: true,
            key_columns: vec![Some("tenant_id".into())],
            ..Default::default()
        });
        state.policies.push(policy(POLICY_NAME, false, true));
        state.policies.push(policy(ACCESS_POLICY_NAME, true, true));
        state.triggers.push(TriggerInfo {
            name: TRUNCATE_GUARD_TRIGGER.into(),
            enabled: "A".into(),
        });
        state
    }

    pub(crate) fn policy(name: &str, permissive: bool, is_ours: bool) -> PolicyInfo {
        PolicyInfo {
            name: name.into(),
            permissive,
            to_public: true,
            cmd: "*".into(),
            is_ours,
            definition: serde_json::Value::Null,
            qual_tree: None,
            check_tree: None,
            relay_rule: None,
            shared_rule: None,
            using_rule: None,
        }
    }

    #[test]
    fn a_policy_whose_rule_was_changed_is_put_back() {
        let mut state = enabled(table("skills"));
        // The catalog recognises relay's rule by structure (pg::policy_rule).
        for p in state.policies.iter_mut() {
            p.relay_rule = Some(true);
        }
        assert!(plan(&state, &opts(&[])).unwrap().is_empty());
        state.policies[0].relay_rule = Some(false);
        let steps = plan(&state, &opts(&[])).unwrap();
        assert_eq!(
            kinds(&steps),
            vec![
                StepKind::DropPolicy,
                StepKind::CreatePolicy,
                StepKind::MarkPolicy
            ]
        );
        // relay's own policy: not kept for undo to re-create.
        assert!(steps[0].replaces.is_none());
        assert_eq!(
            steps[0].sql,
            "DROP POLICY tenant_isolation ON public.skills"
        );
    }

    #[test]
    fn fresh_table_adds_column_first_then_everything_else() {
        let steps = plan(&table("users"), &opts(&[])).unwrap();
        assert_eq!(
            kinds(&steps),
            vec![
                StepKind::AddColumn,
                StepKind::CreateTenantIndex,
                StepKind::SetDefault,
                StepKind::AddForeignKey,
                StepKind::EnableRls,
                StepKind::ForceRls,
                StepKind::CreatePolicy,
                StepKind::MarkPolicy,
                StepKind::CreatePolicy,
                StepKind::MarkPolicy,
                StepKind::CreateTrigger,
                StepKind::EnableTriggerAlways,
            ]
        );
        assert_eq!(
            steps[0].sql,
            "ALTER TABLE public.users ADD COLUMN tenant_id text NOT NULL DEFAULT 'default-tenant-000-0000-000000000000', ALTER COLUMN tenant_id SET STORAGE PLAIN"
        );
        assert_eq!(
            steps[1].sql,
            "CREATE INDEX users_tenant_id_idx ON public.users (tenant_id)"
        );
        assert_eq!(
            steps[2].sql,
            "ALTER TABLE public.users ALTER COLUMN tenant_id SET DEFAULT public.relay_insert_tenant('public.users'::pg_catalog.regclass)"
        );
        assert!(steps[6]
            .sql
            .starts_with("CREATE POLICY tenant_isolation ON public.users AS RESTRICTIVE FOR ALL"));
        assert!(steps[6].sql.contains("USING (tenant_id = (SELECT public.relay_policy_tenant('public.users'::pg_catalog.regclass)))"));
        assert!(steps[8]
            .sql
            .starts_with("CREATE POLICY tenant_access ON public.users AS PERMISSIVE FOR ALL"));
        assert_eq!(
            steps[10].sql,
            "CREATE TRIGGER relay_tenant_truncate_guard BEFORE TRUNCATE ON public.users FOR EACH STATEMENT EXECUTE FUNCTION public.relay_tenant_truncate_guard()"
        );
        // PUBLIC has no EXECUTE on the guard function: relay attaches it as the extension's owner
        assert!(steps[10].privileged && !steps[11].privileged);
        assert!(steps.iter().filter(|s| s.privileged).count() == 1);
    }

    #[test]
    fn a_permissive_policy_added_after_enabling_changes_nothing() {
        // tenant_isolation is RESTRICTIVE, so an owner's later USING (true) is ANDed with it
        let mut state = enabled(table("skills"));
        state.policies.push(policy("open_to_all", true, false));
        assert!(plan(&state, &opts(&[])).unwrap().is_empty());
    }

    #[test]
    fn a_permissive_tenant_isolation_from_an_earlier_version_becomes_restrictive() {
        let mut state = enabled(table("skills"));
        state.policies = vec![policy(POLICY_NAME, true, true)];
        let steps = plan(&state, &opts(&[])).unwrap();
        assert_eq!(
            kinds(&steps),
            vec![
                StepKind::DropPolicy,
                StepKind::CreatePolicy,
                StepKind::MarkPolicy,
                StepKind::CreatePolicy,
                StepKind::MarkPolicy
            ]
        );
        assert!(steps[1]
            .sql
            .contains("tenant_isolation ON public.skills AS RESTRICTIVE"));
        assert!(steps[3]
            .sql
            .contains("tenant_access ON public.skills AS PERMISSIVE"));
    }

    #[test]
    fn a_demoted_or_missing_truncate_guard_is_restored() {
        let mut state = enabled(table("skills"));
        state.triggers[0].enabled = "O".into();
        assert_eq!(
            kinds(&plan(&state, &opts(&[])).unwrap()),
            vec![StepKind::EnableTriggerAlways]
        );
        state.triggers.clear();
        assert_eq!(
            kinds(&plan(&state, &opts(&[])).unwrap()),
            vec![StepKind::CreateTrigger, StepKind::EnableTriggerAlways]
        );
    }

    fn exclusion(table: &str) -> IndexInfo {
        IndexInfo {
            name: "bookings_no_overlap".into(),
            is_valid: true,
            key_columns: vec![Some("room".into()), Some("during".into())],
            am: "gist".into(),
            definition: format!(
                "CREATE INDEX bookings_no_overlap ON public.{table} USING gist (room, during)"
            ),
            definition_prefix: format!(
                "CREATE INDEX bookings_no_overlap ON public.{table} USING gist ("
            ),
            constraint: Some(ConstraintInfo {
                name: "bookings_no_overlap".into(),
                contype: ConKind::Exclusion,
                definition:
                    "EXCLUDE USING gist (room WITH =, during WITH &&) WHERE ((NOT cancelled))"
                        .into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn exclusion_constraints_exclude_within_a_tenant() {
        let mut state = table("bookings");
        state.indexes.push(exclusion("bookings"));
        state.text_opclass_ams = vec!["btree".into(), "gist".into()];
        let steps = plan(&state, &opts(&[])).unwrap();
        let swap = steps
            .iter()
            .find(|s| s.kind == StepKind::SwapExclusionConstraint)
            .unwrap();
        assert_eq!(
            swap.sql,
            "ALTER TABLE public.bookings DROP CONSTRAINT bookings_no_overlap, ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (tenant_id WITH OPERATOR(pg_catalog.=), room WITH =, during WITH &&) WHERE ((NOT cancelled))"
        );
        assert_eq!(swap.lock, Lock::AccessExclusive);
        assert!(swap.replaces.is_some());
        // kept global on request
        let steps = plan(&state, &opts(&["bookings_no_overlap".to_string()])).unwrap();
        assert!(!kinds(&steps).contains(&StepKind::SwapExclusionConstraint));
    }

    #[test]
    fn exclusion_constraint_without_a_text_operator_class_is_refused() {
        let mut state = table("bookings");
        state.indexes.push(exclusion("bookings"));
        state.text_opclass_ams = vec!["btree".into()];
        assert_eq!(
            plan(&state, &opts(&[])).unwrap_err(),
            PlanError::ExclusionNeedsOpclass {
                key: "constraint bookings_no_overlap".into(),
                entry: "bookings_no_overlap".into(),
                am: "gist".into()
            }
        );
    }

    pub(crate) fn fk(
        name: &str,
        child: &str,
        cols: &[&str],
        parent: &str,
        pcols: &[&str],
    ) -> ForeignKeyInfo {
        ForeignKeyInfo {
            name: name.into(),
            outgoing: true,
            child_oid: if child == "skills" { 16400 } else { 16500 },
            child_schema: "public".into(),
            child_name: child.into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            parent_oid: if parent == "skills" { 16400 } else { 16600 },
            parent_schema: "public".into(),
            parent_name: parent.into(),
            parent_columns: pcols.iter().map(|c| c.to_string()).collect(),
            on_update: FkAction::NoAction,
            on_delete: FkAction::NoAction,
            match_type: "s".into(),
            other_registered: true,
            other_has_tenant: true,
            other_is_owner: true,
            ..Default::default()
        }
    }

    #[test]
    fn foreign_keys_to_enabled_tables_become_composite_with_their_actions() {
        let mut state = table("skills");
        let mut author = fk(
            "skills_author_id_fkey",
            "skills",
            &["author_id"],
            "users",
            &["id"],
        );
        author.on_delete = FkAction::SetNull;
        author.deferrable = true;
        author.deferred = true;
        state.foreign_keys.push(author);
        let steps = plan(&state, &opts(&[])).unwrap();
        let build = steps
            .iter()
            .find(|s| s.kind == StepKind::BuildParentTenantKey)
            .unwrap();
        assert_eq!(
            build.sql,
            "CREATE UNIQUE INDEX users_tenant_id_id_key ON public.users (tenant_id, id)"
        );
        let swap = steps
            .iter()
            .find(|s| s.kind == StepKind::SwapForeignKey)
            .unwrap();
        assert_eq!(
            swap.sql,
            "ALTER TABLE public.skills DROP CONSTRAINT skills_author_id_fkey, ADD CONSTRAINT skills_author_id_fkey FOREIGN KEY (tenant_id, author_id) REFERENCES public.users (tenant_id, id) ON UPDATE NO ACTION ON DELETE SET NULL (author_id) DEFERRABLE INITIALLY DEFERRED"
        );
        // the swap comes after the table has its tenant_id (NOT NULL, default) and before RLS
        let pos = |k: StepKind| steps.iter().position(|s| s.kind == k).unwrap();
        assert!(pos(StepKind::AddColumn) < pos(StepKind::BuildParentTenantKey));
        assert!(pos(StepKind::SetDefault) < pos(StepKind::SwapForeignKey));
        assert!(pos(StepKind::SwapForeignKey) < pos(StepKind::EnableRls));
    }

    #[test]
    fn an_existing_parent_key_is_used_and_keys_to_tables_not_enabled_stay() {
        let mut state = table("skills");
        let mut to_users = fk(
            "skills_author_id_fkey",
            "skills",
            &["author_id"],
            "users",
            &["id"],
        );
        to_users.parent_tenant_key = Some("users_tenant_id_id_key".into());
        let mut to_plain = fk(
            "skills_plain_fkey",
            "skills",
            &["plain_id"],
            "plain",
            &["id"],
        );
        to_plain.other_registered = false;
        let mut done = fk(
            "skills_done_fkey",
            "skills",
            &["tenant_id", "x"],
            "users",
            &["tenant_id", "id"],
        );
        done.has_tenant = true;
        state.foreign_keys = vec![to_users, to_plain, done];
        let steps = plan(&state, &opts(&[])).unwrap();
        assert!(!kinds(&steps).contains(&StepKind::BuildParentTenantKey));
        let swaps: Vec<&Step> = steps
            .iter()
            .filter(|s| s.kind == StepKind::SwapForeignKey)
            .collect();
        assert_eq!(swaps.len(), 1);
        assert!(swaps[0].sql.contains("skills_author_id_fkey"));
    }

    #[test]
    fn a_self_reference_builds_the_key_on_the_table_itself_which_also_serves_tenant_lookups() {
        let mut state = table("skills");
        state.foreign_keys.push(fk(
            "skills_forked_from_fkey",
            "skills",
            &["forked_from"],
            "skills",
            &["id"],
        ));
        state.foreign_keys[0].other_has_tenant = false;
        let steps = plan(&state, &opts(&[])).unwrap();
        let k = kinds(&steps);
        assert!(
            k.contains(&StepKind::BuildParentTenantKey) && k.contains(&StepKind::SwapForeignKey)
        );
        assert!(!k.contains(&StepKind::CreateTenantIndex));
    }

    #[test]
    fn foreign_keys_kept_by_either_end_stay_single_column() {
        let mut state = table("skills");
        state.foreign_keys.push(fk(
            "skills_author_id_fkey",
            "skills",
            &["author_id"],
            "users",
            &["id"],
        ));
        let keep = vec!["skills_author_id_fkey".to_string()];
        let here = Options {
            keep_foreign_keys: &keep,
            ..opts(&[])
        };
        assert!(!kinds(&plan(&state, &here).unwrap()).contains(&StepKind::SwapForeignKey));
        state.foreign_keys[0].other_keeps = true;
        assert!(!kinds(&plan(&state, &opts(&[])).unwrap()).contains(&StepKind::SwapForeignKey));
    }

    #[test]
    fn foreign_keys_that_cannot_take_tenant_id_are_refused() {
        let mut state = table("skills");
        let mut on_update = fk("k", "skills", &["author_id"], "users", &["id"]);
        on_update.on_update = FkAction::SetNull;
        state.foreign_keys = vec![on_update];
        assert!(matches!(
            plan(&state, &opts(&[])),
            Err(PlanError::ForeignKeyNotComposable { .. })
        ));
        let mut full = fk("k", "skills", &["a", "b"], "users", &["a", "b"]);
        full.match_type = "f".into();
        state.foreign_keys = vec![full];
        assert!(matches!(
            plan(&state, &opts(&[])),
            Err(PlanError::ForeignKeyNotComposable { .. })
        ));
        let mut foreign = fk("k", "skills", &["author_id"], "users", &["id"]);
        foreign.other_is_owner = false;
        foreign.other_owner = "someone".into();
        state.foreign_keys = vec![foreign];
        assert_eq!(
            plan(&state, &opts(&[])).unwrap_err(),
            PlanError::ForeignKeyOtherOwner {
                fk: "k".into(),
                other: "public.users".into(),
                owner: "someone".into()
            }
        );
    }

    #[test]
    fn views_that_bypass_rls_are_reported_or_made_security_invoker() {
        use crate::catalog::ViewInfo;
        let mut state = enabled(table("skills"));
        let view = |name: &str, relkind: RelKind, invoker: bool, bypass: bool| ViewInfo {
            oid: 0,
            schema: "public".into(),
            name: name.into(),
            relkind,
            security_invoker: invoker,
            owner: "postgres".into(),
            owner_bypasses_rls: bypass,
            is_owner: true,
        };
        state.views = vec![
            view("open_view", RelKind::View, false, true),
            view("invoker_view", RelKind::View, true, true),
            view("owned_by_app", RelKind::View, false, false),
            view("totals", RelKind::MaterializedView, false, true),
        ];
        let warnings = view_warnings(&state, &opts(&[]));
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(
            warnings[0].contains("public.open_view") && warnings[0].contains("views => 'invoker'")
        );
        assert!(warnings[1].contains("materialized view public.totals"));
        assert!(plan(&state, &opts(&[])).unwrap().is_empty());
        let fix = Options {
            views_invoker: true,
            ..opts(&[])
        };
        let steps = plan(&state, &fix).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(
            steps[0].sql,
            "ALTER VIEW public.open_view SET (security_invoker = on)"
        );
        assert_eq!(
            view_warnings(&state, &fix).len(),
            1,
            "the materialized view is still reported"
        );
        state.views[0].is_owner = false;
        assert!(matches!(
            plan(&state, &fix),
            Err(PlanError::ViewNotOwned { .. })
        ));
    }

    #[test]
    fn an_adopted_uuid_column_gets_typed_rules_and_a_tenant_check_instead_of_a_foreign_key() {
        let mut state = table("projects");
        state.tenant_column = Some(TenantColumn {
            name: "organization_id".into(),
            type_name: "uuid".into(),
            type_key: TenantType::Uuid,
            not_null: true,
            ..Default::default()
        });
        let o = Options {
            tenant_column: "organization_id",
            ..opts(&[])
        };
        let steps = plan(&state, &o).unwrap();
        let k = kinds(&steps);
        assert!(!k.contains(&StepKind::AddColumn) && !k.contains(&StepKind::AddForeignKey));
        assert!(k.contains(&StepKind::CheckTenantsExist));
        let sql: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
        assert!(
            sql.contains(
                &"CREATE INDEX projects_organization_id_idx ON public.projects (organization_id)"
            ),
            "{sql:#?}"
        );
        assert!(sql.iter().any(|s| s.contains(
            "SET DEFAULT public.relay_insert_tenant_uuid('public.projects'::pg_catalog.regclass)"
        )));
        assert!(sql.iter().any(
            |s| s.contains("USING (organization_id = (SELECT public.relay_policy_tenant_uuid(")
        ));
        assert!(sql.iter().any(|s| s.starts_with(
            "CREATE TRIGGER relay_tenant_exists BEFORE INSERT OR UPDATE OF organization_id"
        )));
        // a missing column to adopt is an error, not an added column
        state.tenant_column = None;
        assert_eq!(
            plan(&state, &o).unwrap_err(),
            PlanError::TenantColumnMissing {
                column: "organization_id".into()
            }
        );
    }

    #[test]
    fn with_the_applications_registry_keys_point_at_it_and_an_added_column_takes_its_type() {
        let registry = Registry {
            relid: 16500,
            table: "public.organizations".into(),
            id_column: "id".into(),
            id_type: TenantType::Uuid,
            active_column: Some("active".into()),
        };
        let o = Options {
            registry: Some(&registry),
            default_tenant: "00000000-0000-4000-8000-00000000000a",
            ..opts(&[])
        };
        // No tenant column: one of the registry's type, with a key to it.
        let steps = plan(&table("labels"), &o).unwrap();
        let sql: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
        assert!(sql.iter().any(|s| s.starts_with(
            "ALTER TABLE public.labels ADD COLUMN tenant_id pg_catalog.uuid NOT NULL DEFAULT '00000000-0000-4000-8000-00000000000a'"
        )), "{sql:#?}");
        assert!(sql.contains(
            &"ALTER TABLE public.labels ADD CONSTRAINT labels_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.organizations(id)"
        ), "{sql:#?}");
        assert!(!kinds(&steps).contains(&StepKind::CheckTenantsExist));
        // A text column cannot reference a uuid: checked, then the trigger, against the registry.
        let mut state = table("notes");
        state.tenant_column = Some(TenantColumn {
            name: "org".into(),
            type_name: "text".into(),
            type_key: TenantType::Text,
            not_null: true,
            ..Default::default()
        });
        let o = Options {
            tenant_column: "org",
            ..o
        };
        let steps = plan(&state, &o).unwrap();
        let k = kinds(&steps);
        assert!(k.contains(&StepKind::CheckTenantsExist) && !k.contains(&StepKind::AddForeignKey));
        assert!(steps.iter().any(|s| s
            .sql
            .contains("FROM public.organizations x WHERE x.id::pg_catalog.text")));
        // An adopted column that already references the registry keeps that key.
        let mut state = table("projects");
        state.tenant_column = Some(TenantColumn {
            name: "organization_id".into(),
            type_name: "uuid".into(),
            type_key: TenantType::Uuid,
            not_null: true,
            ..Default::default()
        });
        state.tenant_fk = Some("projects_organization_id_fkey".into());
        let o = Options {
            tenant_column: "organization_id",
            ..o
        };
        let k = kinds(&plan(&state, &o).unwrap());
        assert!(!k.contains(&StepKind::AddForeignKey) && !k.contains(&StepKind::CheckTenantsExist));
    }

    #[test]
    fn tenant_from_adds_the_column_fills_it_from_the_parent_then_composes_the_key() {
        // (the catalog says the parent has no tenant column of this one's type yet)
        let (state, from) = join_table();
        let o = Options {
            tenant_from: Some(&from),
            ..opts(&[])
        };
        let steps = plan(&state, &o).unwrap();
        let k = kinds(&steps);
        let at = |kind| k.iter().position(|x| *x == kind).unwrap();
        assert_eq!(k[0], StepKind::AddColumn);
        assert_eq!(
            steps[0].sql,
            "ALTER TABLE public.project_tags ADD COLUMN tenant_id text, ALTER COLUMN tenant_id SET STORAGE PLAIN"
        );
        assert_eq!(
            steps[1].sql,
            "UPDATE public.project_tags c SET tenant_id = p.tenant_id FROM public.projects p WHERE p.id = c.project_id AND c.tenant_id IS NULL"
        );
        assert!(steps[1].also_locks.contains(&(16600, Lock::AccessShare)));
        // rows without a parent: the default tenant; then NOT NULL, then the composite key
        assert!(at(StepKind::BackfillFromParent) < at(StepKind::Backfill));
        assert!(at(StepKind::Backfill) < at(StepKind::SetNotNull));
        assert!(at(StepKind::SetNotNull) < at(StepKind::SwapForeignKey));
        // The history keeps the table as it was (no column): undo drops what relay added.
        assert!(state.tenant_column.is_none());
        // A NOT NULL key: every row has a parent, no default tenant is bound (a uuid
        // column would not take the text default at all).
        let from = TenantFrom {
            orphans: false,
            ..from.clone()
        };
        let o = Options {
            tenant_from: Some(&from),
            ..opts(&[])
        };
        assert!(!kinds(&plan(&state, &o).unwrap()).contains(&StepKind::Backfill));
    }

    /// A join table and its tenant_from (also for online.rs's tests).
    pub(crate) fn join_table() -> (TableState, TenantFrom) {
        let mut state = table("project_tags");
        let mut key = fk(
            "project_tags_project_id_fkey",
            "project_tags",
            &["project_id"],
            "projects",
            &["id"],
        );
        key.other_has_tenant = false;
        state.foreign_keys.push(key);
        let from = TenantFrom {
            fk: "project_tags_project_id_fkey".into(),
            parent: "public.projects".into(),
            parent_oid: 16600,
            parent_column: "tenant_id".into(),
            parent_type: TenantType::Text,
            columns: vec!["project_id".into()],
            parent_columns: vec!["id".into()],
            orphans: true,
        };
        (state, from)
    }

    #[test]
    fn global_unique_lists_compare_as_sets() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(same_entries(&v(&["email", "a, b"]), &v(&["a,b", "email"])));
        assert!(!same_entries(&v(&["email"]), &v(&[])));
    }

    #[test]
    fn already_enabled_table_plans_nothing() {
        let steps = plan(&enabled(table("skills")), &opts(&[])).unwrap();
        assert!(steps.is_empty(), "{steps:#?}");
    }

    #[test]
    fn global_unique_key_is_rewritten_under_its_own_name() {
        let mut state = table("skills");
        state
            .indexes
            .push(unique_constraint("skills", "skills_slug_unique", "slug"));
        let steps = plan(&state, &opts(&[])).unwrap();
        let build = steps
            .iter()
            .find(|s| s.kind == StepKind::BuildTenantUnique)
            .unwrap();
        assert_eq!(
            build.sql,
            "CREATE UNIQUE INDEX skills_slug_unique_relay_tmp ON public.skills USING btree (tenant_id, slug)"
        );
        let swap = steps
            .iter()
            .find(|s| s.kind == StepKind::SwapUniqueConstraint)
            .unwrap();
        assert_eq!(
            swap.sql,
            "ALTER TABLE public.skills DROP CONSTRAINT skills_slug_unique, ADD CONSTRAINT skills_slug_unique UNIQUE USING INDEX skills_slug_unique_relay_tmp"
        );
        assert!(swap.replaces.is_some());
        // (tenant_id, slug) serves tenant lookups: no separate tenant_id index
        assert!(!kinds(&steps).contains(&StepKind::CreateTenantIndex));
    }

    #[test]
    fn keys_listed_in_global_unique_stay_global() {
        let mut state = table("users");
        state
            .indexes
            .push(unique_constraint("users", "users_email_key", "email"));
        for entry in ["email", "users_email_key", " email "] {
            let steps = plan(&state, &opts(&[entry.to_string()])).unwrap();
            assert!(
                !kinds(&steps).contains(&StepKind::BuildTenantUnique),
                "{entry}"
            );
            assert!(
                kinds(&steps).contains(&StepKind::CreateTenantIndex),
                "{entry}"
            );
        }
    }

    #[test]
    fn unknown_global_unique_entry_is_an_error_listing_candidates() {
        let mut state = table("users");
        state
            .indexes
            .push(unique_constraint("users", "users_email_key", "email"));
        let err = plan(&state, &opts(&["mail".to_string()])).unwrap_err();
        assert_eq!(
            err,
            PlanError::GlobalUniqueUnknown {
                entry: "mail".into(),
                candidates: vec!["constraint users_email_key (email)".into()]
            }
        );
    }

    #[test]
    fn unique_key_with_a_dependent_foreign_key_is_refused() {
        let mut state = table("skills");
        let mut key = unique_constraint("skills", "skills_slug_unique", "slug");
        key.dependent_fks = vec!["links_slug_fkey on links".into()];
        state.indexes.push(key);
        let err = plan(&state, &opts(&[])).unwrap_err();
        assert!(
            matches!(err, PlanError::UniqueHasDependents { ref dependents, .. } if dependents == &vec!["links_slug_fkey on links".to_string()])
        );
    }

    #[test]
    fn partial_expression_index_keeps_predicate_options_and_tablespace() {
        let mut state = table("skills");
        state.indexes.push(IndexInfo {
            name: "skills_lower_name".into(),
            is_unique: true,
            is_valid: true,
            key_columns: vec![None],
            am: "btree".into(),
            predicate: Some("(deleted IS FALSE)".into()),
            tablespace: Some("fast space".into()),
            definition: "CREATE UNIQUE INDEX skills_lower_name ON public.skills USING btree (lower(name) text_pattern_ops DESC) INCLUDE (id) WITH (fillfactor='70') WHERE (deleted IS FALSE)".into(),
            definition_prefix: "CREATE UNIQUE INDEX skills_lower_name ON public.skills USING btree (".into(),
            ..Default::default()
        });
        let steps = plan(&state, &opts(&[])).unwrap();
        let build = steps
            .iter()
            .find(|s| s.kind == StepKind::BuildTenantUnique)
            .unwrap();
        assert_eq!(
            build.sql,
            "CREATE UNIQUE INDEX skills_lower_name_relay_tmp ON public.skills USING btree (tenant_id, lower(name) text_pattern_ops DESC) INCLUDE (id) WITH (fillfactor='70') TABLESPACE \"fast space\" WHERE (deleted IS FALSE)"
        );
        let k = kinds(&steps);
        assert!(k.contains(&StepKind::DropUniqueIndex) && k.contains(&StepKind::RenameIndex));
        // a partial index does not serve every tenant lookup
        assert!(k.contains(&StepKind::CreateTenantIndex));
    }

    #[test]
    fn half_done_table_is_backfilled_under_a_write_lock_before_any_access_exclusive() {
        let mut state = table("users");
        state.tenant_column = Some(TenantColumn {
            type_name: "text".into(),
            is_text: true,
            not_null: false,
            ..Default::default()
        });
        state.indexes.push(IndexInfo {
            name: "users_tenant_id_idx".into(),
            is_valid: true,
            leads_with_tenant: true,
            has_tenant_key: true,
            ..Default::default()
        });
        let steps = plan(&state, &opts(&[])).unwrap();
        assert_eq!(
            kinds(&steps)[..4],
            [
                StepKind::LockTable,
                StepKind::Backfill,
                StepKind::SetNotNull,
                StepKind::SetDefault
            ]
        );
        assert_eq!(
            steps[1].sql,
            "UPDATE public.users SET tenant_id = $1 WHERE tenant_id IS NULL"
        );
        let first_ael = steps
            .iter()
            .position(|s| s.lock == Lock::AccessExclusive)
            .unwrap();
        assert!(steps[..first_ael]
            .iter()
            .all(|s| s.kind != StepKind::CreateTenantIndex));
    }

    #[test]
    fn foreign_policy_named_tenant_isolation_is_replaced_and_kept_for_undo() {
        let mut state = enabled(table("skills"));
        state.policies[0].is_ours = false;
        state.policies[0].definition = serde_json::json!({"qual": "(tenant_id = current_setting('app.current_tenant_id', true))"});
        let steps = plan(&state, &opts(&[])).unwrap();
        assert_eq!(
            kinds(&steps),
            vec![
                StepKind::DropPolicy,
                StepKind::CreatePolicy,
                StepKind::MarkPolicy
            ]
        );
        assert!(steps[0].replaces.is_some());
    }

    #[test]
    fn own_permissive_policies_make_ours_restrictive() {
        let mut state = table("skills");
        state.rls_enabled = true;
        state.policies.push(policy("owner_only", true, false));
        let steps = plan(&state, &opts(&[])).unwrap();
        let creates: Vec<&Step> = steps
            .iter()
            .filter(|s| s.kind == StepKind::CreatePolicy)
            .collect();
        assert_eq!(
            creates.len(),
            1,
            "no tenant_access: the table's own policy grants"
        );
        assert!(
            creates[0]
                .sql
                .contains("tenant_isolation ON public.skills AS RESTRICTIVE"),
            "{}",
            creates[0].sql
        );
    }

    #[test]
    fn odd_names_are_quoted_everywhere() {
        let mut state = table("My Table");
        state.schema = "Tenant \"Data\"".into();
        let steps = plan(&state, &opts(&[])).unwrap();
        let q = "\"Tenant \"\"Data\"\"\".\"My Table\"";
        assert!(steps.iter().all(|s| s.sql.contains(q)), "{steps:#?}");
        assert!(steps[1]
            .sql
            .starts_with("CREATE INDEX \"My Table_tenant_id_idx\""));
        // the regclass literal for the default is the quoted name, quoted again as a literal
        assert!(steps[2]
            .sql
            .contains("'\"Tenant \"\"Data\"\"\".\"My Table\"'::pg_catalog.regclass"));
    }

    #[test]
    fn a_partitioned_tables_keys_are_rebuilt_in_the_swap_and_inherited_ones_left_to_the_parent() {
        let mut state = table("events");
        state.relkind = RelKind::Partitioned;
        state
            .indexes
            .push(unique_constraint("events", "events_ref_key", "ref"));
        let mut inherited = unique_constraint("events", "events_other_key", "other");
        inherited.inherited = true;
        state.indexes.push(inherited);
        let steps = plan(&state, &opts(&[])).unwrap();
        assert!(!kinds(&steps).contains(&StepKind::BuildTenantUnique));
        let swap = steps
            .iter()
            .find(|s| s.kind == StepKind::SwapUniqueConstraint)
            .unwrap();
        assert_eq!(
            swap.sql,
            "ALTER TABLE public.events DROP CONSTRAINT events_ref_key, ADD CONSTRAINT events_ref_key UNIQUE (tenant_id, ref)"
        );
        assert!(!steps.iter().any(|s| s.sql.contains("events_other_key")));
        assert_eq!(
            tenant_leading_constraint(
                "UNIQUE NULLS NOT DISTINCT (a, b) INCLUDE (c) DEFERRABLE",
                "tenant_id"
            )
            .unwrap(),
            "UNIQUE NULLS NOT DISTINCT (tenant_id, a, b) INCLUDE (c) DEFERRABLE"
        );
    }

    #[test]
    fn refusals() {
        let mut s = table("v");
        s.relkind = RelKind::View;
        assert_eq!(validate(&s), Err(PlanError::WrongKind { kind: "a view" }));
        let mut s = table("p");
        s.relkind = RelKind::Partitioned;
        assert_eq!(validate(&s), Ok(()));
        let mut s = table("c");
        s.is_partition = true;
        s.parent = Some("p".into());
        assert_eq!(
            validate(&s),
            Err(PlanError::PartitionChild { parent: "p".into() })
        );
        // A partition of a tenant-enabled parent follows it.
        s.parent_registered = true;
        assert_eq!(validate(&s), Ok(()));
        // An inheritance child needs every parent enabled first.
        let mut s = table("c");
        s.parent = Some("legacy".into());
        assert_eq!(
            validate(&s),
            Err(PlanError::InheritanceChild {
                parent: "legacy".into()
            })
        );
        s.parent_registered = true;
        assert_eq!(validate(&s), Ok(()));
        let mut s = table("tenants");
        s.extension = Some("relay_tenancy".into());
        assert!(matches!(
            validate(&s),
            Err(PlanError::ExtensionMember { .. })
        ));
        let mut s = table("tmp");
        s.persistence = "t".into();
        assert_eq!(validate(&s), Err(PlanError::Temporary));
        let mut s = table("t");
        s.tenant_column = Some(TenantColumn {
            type_name: "numeric".into(),
            type_key: TenantType::Other,
            ..Default::default()
        });
        assert_eq!(
            validate(&s),
            Err(PlanError::TenantColumnType {
                column: "tenant_id".into(),
                found: "numeric".into()
            })
        );
        s.tenant_column = Some(TenantColumn {
            type_name: "uuid".into(),
            type_key: TenantType::Uuid,
            ..Default::default()
        });
        assert_eq!(validate(&s), Ok(()));
    }
}
