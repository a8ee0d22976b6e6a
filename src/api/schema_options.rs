//! The options a schema call was made with, recorded per schema in `relay_schemas`:
//! a later call (a re-run, a repair, `relay.auto_enable` at CREATE TABLE) uses them for
//! every argument it does not give, instead of failing for a table that lacks the
//! recorded tenant column.

use crate::model::quote::quote_qualified;
use crate::pg::ext::extension_schema;
use crate::pg::privilege::{as_extension_owner, select_optional};
use pgrx::prelude::*;
use serde::{Deserialize, Serialize};

/// What `relay_enable_tenancy_schema` was called with (tables by name, as regclass
/// prints them qualified).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchemaOptions {
    pub exclude: Vec<String>,
    pub shared: Vec<String>,
    pub global_unique: Vec<String>,
    pub keep_foreign_keys: Vec<String>,
    pub tenant_column: Option<String>,
    pub tenant_from: Vec<String>,
    pub default_tenant: Option<String>,
    pub views: Option<String>,
    pub primary_key: Option<String>,
}

impl SchemaOptions {
    /// The recorded options as arguments, for the note a call that uses them returns.
    pub fn describe(&self) -> String {
        let list = |l: &[String]| format!("{{{}}}", l.join(","));
        let mut parts = Vec::new();
        if let Some(c) = &self.tenant_column {
            parts.push(format!("tenant_column => {c}"));
        }
        for (name, l) in [
            ("exclude", &self.exclude),
            ("shared", &self.shared),
            ("global_unique", &self.global_unique),
            ("keep_foreign_keys", &self.keep_foreign_keys),
            ("tenant_from", &self.tenant_from),
        ] {
            if !l.is_empty() {
                parts.push(format!("{name} => {}", list(l)));
            }
        }
        for (name, v) in [
            ("default_tenant", &self.default_tenant),
            ("views", &self.views),
            ("primary_key", &self.primary_key),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name} => {v}"));
            }
        }
        if parts.is_empty() {
            "the defaults".into()
        } else {
            parts.join(", ")
        }
    }
}

fn table() -> Option<String> {
    let rel = crate::pg::ext::ext_relation(c"relay_schemas");
    // (an installation whose 0.3.0 update has not run yet has none)
    (rel.relid != pgrx::pg_sys::InvalidOid)
        .then(|| quote_qualified(&extension_schema(), "relay_schemas"))
}

/// The options recorded for `schema`, and when.
pub fn recorded(schema: &str) -> Option<(SchemaOptions, String)> {
    let table = table()?;
    let row = as_extension_owner(|| {
        Spi::connect(|client| {
            let rows = client
                .select(
                    &format!(
                        "SELECT options::pg_catalog.text, pg_catalog.to_char(converted_at, 'YYYY-MM-DD HH24:MI:SS TZ')
                           FROM {table} WHERE schema_name OPERATOR(pg_catalog.=) $1"
                    ),
                    Some(1),
                    &[schema.into()],
                )
                .expect("relay_schemas");
            if rows.is_empty() {
                return None;
            }
            let row = rows.first();
            Some((
                row.get::<String>(1).expect("options").unwrap_or_default(),
                row.get::<String>(2).expect("at").unwrap_or_default(),
            ))
        })
    })?;
    let options = serde_json::from_str(&row.0).unwrap_or_default();
    Some((options, row.1))
}

/// Record the options `schema` was just converted with.
pub fn record(schema: &str, options: &SchemaOptions) {
    let Some(table) = table() else {
        return;
    };
    let json = serde_json::to_string(options).expect("options serialize");
    let caller =
        select_optional::<String>("SELECT CURRENT_USER::pg_catalog.text", &[]).unwrap_or_default();
    crate::pg::probes::refuse_foreign_triggers(c"relay_schemas");
    as_extension_owner(|| {
        Spi::run_with_args(
            &format!(
                "INSERT INTO {table} (schema_name, options, converted_by) VALUES ($1, $2::pg_catalog.jsonb, $3)
                 ON CONFLICT (schema_name) DO UPDATE
                    SET options = EXCLUDED.options, converted_at = pg_catalog.now(), converted_by = EXCLUDED.converted_by"
            ),
            &[schema.into(), json.into(), caller.into()],
        )
        .expect("record schema options")
    });
}

/// Forget what `schema` was converted with (relay_disable_tenancy_schema took it back):
/// relay.auto_enable leaves its new tables alone from then on.
pub fn forget(schema: &str) {
    let Some(table) = table() else {
        return;
    };
    crate::pg::probes::refuse_foreign_triggers(c"relay_schemas");
    as_extension_owner(|| {
        Spi::run_with_args(
            &format!("DELETE FROM {table} WHERE schema_name OPERATOR(pg_catalog.=) $1"),
            &[schema.into()],
        )
        .expect("forget schema options")
    });
}

/// Tables by oid as regclass prints them (qualified when off the search_path: the
/// extension's functions pin it, so always qualified).
pub fn names(oids: &[u32]) -> Vec<String> {
    oids.iter()
        .filter_map(|o| {
            select_optional::<String>(
                "SELECT $1::pg_catalog.regclass::pg_catalog.text",
                &[pgrx::pg_sys::Oid::from(*o).into()],
            )
        })
        .collect()
}

/// Tables by name, as oids (names that no longer resolve are left out).
pub fn oids(names: &[String]) -> Vec<Option<pgrx::pg_sys::Oid>> {
    names
        .iter()
        .filter_map(|n| {
            select_optional::<pgrx::pg_sys::Oid>(
                "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
                &[n.as_str().into()],
            )
        })
        .map(Some)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_describe_themselves_as_arguments() {
        let o = SchemaOptions {
            tenant_column: Some("organization_id".into()),
            shared: vec!["public.plans".into()],
            tenant_from: vec!["members.members_org_fkey".into()],
            ..Default::default()
        };
        assert_eq!(
            o.describe(),
            "tenant_column => organization_id, shared => {public.plans}, tenant_from => {members.members_org_fkey}"
        );
        assert_eq!(SchemaOptions::default().describe(), "the defaults");
        // older or partial records read with defaults
        let partial: SchemaOptions = serde_json::from_str(r#"{"tenant_column":"x"}"#).unwrap();
        assert_eq!(partial.tenant_column.as_deref(), Some("x"));
    }
}
