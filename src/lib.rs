//! relay_tenancy: turn a single-tenant PostgreSQL schema into a multi-tenant one, one
//! call per table.
//!
//! The work of every call is split three ways: `catalog` reads a table's state into
//! plain structs, `plan` decides the steps as a pure function of that state, and
//! `apply` runs them through SPI. `api` holds the thin SQL-facing functions. The
//! folders are layers; each folder's `mod.rs` says what it owns and what it may use.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

// The layers, bottom to top: a layer uses only itself and the layers declared before it
// (docs/design.md; scripts/check_layout.py fails CI on any cycle between files or
// folders).
// 1. values every layer shares
pub mod model;
// 2. the unsafe edges with PostgreSQL
pub mod pg;
// 3. look: catalog state into plain structs
pub mod catalog;
// 4. plan: pure planners
pub mod plan;
// 5. apply: run steps through SPI, locks, progress
mod apply;
// 6. the session's tenant, signed tokens
pub mod context;
// 7. the audit log
mod audit;
// 8. scale-out
mod citus;
// 9. hooks and triggers that keep isolation on
mod guards;
// 10. the conversion and administration surface
mod api;

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);

/// Registers relay's settings (relay.require_tenant, relay.context_mode,
/// relay.token_key, app.current_tenant_id, app.current_actor_id) and installs the
/// EXPLAIN ANALYZE guard when the library is loaded: at server start when it is in
/// shared_preload_libraries, else at its first use in a session.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    context::register_gucs();
    api::partitions::register_gucs();
    context::signed::register_gucs();
    context::token_replay::register();
    context::token_key::register();
    guards::drop::register_gucs();
    guards::unsafe_ddl::register_gucs();
    apply::progress::register_gucs();
    guards::explain::install();
    citus::routing::install();
    pg::probes::register_cache_callbacks();
    audit::writer::register_cache_callback();
    audit::shape::register_cache_callbacks();
    audit::chain_heads::register_callbacks();
    context::reserve_prefix();
    model::sqlstate::install();
    api::background_worker::register_launcher();
}
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn quote_ident_matches_postgres_for_every_keyword() {
        let words: Vec<String> = Spi::connect(|c| {
            c.select(
                "SELECT word::text FROM pg_catalog.pg_get_keywords()",
                None,
                &[],
            )
            .unwrap()
            .map(|row| row.get::<String>(1).unwrap().unwrap())
            .collect()
        });
        assert!(words.len() > 400);
        let odd = ["Skills", "my table", "a\"b", "1abc", "ütf", "_ok", "x$y"];
        for w in words.iter().map(String::as_str).chain(odd) {
            assert_eq!(
                crate::model::quote::quote_ident(w),
                crate::api::enable::server_quote_ident(w),
                "{w}"
            );
        }
    }

    #[pg_test]
    fn catalog_reads_a_table_into_plain_structs() {
        Spi::run(
            "CREATE TABLE \"Odd Table\" (id int PRIMARY KEY, slug text UNIQUE, tenant_id text)",
        )
        .unwrap();
        let oid = Spi::get_one::<pg_sys::Oid>("SELECT '\"Odd Table\"'::regclass::oid")
            .unwrap()
            .unwrap();
        let state = crate::catalog::read(oid, &crate::pg::ext::extension_schema(), "tenant_id");
        assert_eq!(state.name, "Odd Table");
        assert_eq!(state.relkind, crate::model::kinds::RelKind::Table);
        assert!(state.is_owner && !state.rls_enabled && !state.registered);
        let col = state.tenant_column.expect("tenant_id column");
        assert!(col.is_text && !col.not_null && !col.default_is_ours);
        let slug = state
            .indexes
            .iter()
            .find(|i| i.name == "Odd Table_slug_key")
            .unwrap();
        assert!(slug.is_unique && !slug.is_primary && !slug.has_tenant_key);
        assert_eq!(slug.key_columns, vec![Some("slug".to_string())]);
        assert!(
            slug.definition.starts_with(&slug.definition_prefix),
            "{}",
            slug.definition
        );
        assert_eq!(
            slug.constraint.as_ref().unwrap().contype,
            crate::model::kinds::ConKind::Unique
        );
    }

    #[pg_test(error = "no tenant set: cannot insert into \"Odd\" without a tenant")]
    fn insert_default_refuses_without_a_tenant() {
        Spi::run("CREATE TABLE \"Odd\" (x int)").unwrap();
        Spi::run("SELECT relay.relay_insert_tenant('\"Odd\"'::regclass)").unwrap();
    }

    #[pg_test]
    fn serde_values_encode_to_the_same_jsonb_postgres_parses() {
        let doc = serde_json::json!({
            "table": "public.t", "n": 12345678901234567890u64, "f": 1.5, "neg": -7,
            "s": "quote \" and ünïcode", "b": true, "z": null,
            "nested": {"a": [1, "x", {"deep": false}], "empty": {}}, "list": []
        });
        // SAFETY: inside a transaction, as in the capture trigger.
        let datum = unsafe { crate::audit::jsonb::object_to_jsonb(&doc) };
        let arg = unsafe { pgrx::datum::DatumWithOid::new(datum, pg_sys::JSONBOID) };
        let same =
            Spi::get_one_with_args::<bool>("SELECT $1 = $2::jsonb", &[arg, doc.to_string().into()])
                .unwrap()
                .unwrap();
        assert!(same, "{doc}");
    }

    #[pg_test]
    fn uuid7_ids_increase_within_a_backend() {
        let ids: Vec<String> = Spi::connect(|c| {
            c.select(
                "SELECT relay.relay_uuid7()::text FROM generate_series(1, 5000)",
                None,
                &[],
            )
            .unwrap()
            .map(|row| row.get::<String>(1).unwrap().unwrap())
            .collect()
        });
        assert_eq!(ids.len(), 5000);
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids are strictly increasing"
        );
        assert!(ids.iter().all(|id| id.as_bytes()[14] == b'7'), "version 7");
    }

    #[pg_test]
    fn insert_default_takes_the_session_tenant_and_ignores_empty() {
        Spi::run("SET LOCAL app.current_tenant_id = 't1'").unwrap();
        let t = Spi::get_one::<String>("SELECT relay.relay_insert_tenant('pg_class')").unwrap();
        assert_eq!(t.as_deref(), Some("t1"));
        Spi::run("SET LOCAL app.current_tenant_id = ''").unwrap();
        assert_eq!(crate::context::current_tenant(), None);
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
