//! A background job of online conversion (background.rs queues it, background_worker.rs
//! runs it): its options as JSON, the advisory lock a worker holds on it, and how relay
//! names its table.

use crate::api::enable::CallOptions;
use crate::model::errors;
use crate::model::quote::quote_qualified;
use pgrx::pg_sys;

/// The first key of the session advisory lock a worker holds on a job it runs (the
/// second is the job's id): "RLOJ".
pub const JOB_LOCK_CLASS: i32 = 0x524c_4f4a;

/// A job's options: what `relay_enable_tenancy` is called with, kept as JSON.
pub fn options_to_json(call: &CallOptions) -> serde_json::Value {
    let list = |l: &Option<Vec<Option<String>>>| {
        l.as_ref()
            .map(|l| serde_json::json!(l.iter().flatten().collect::<Vec<_>>()))
    };
    serde_json::json!({
        "global_unique": list(&call.global_unique),
        "default_tenant": call.default_tenant,
        "views": call.views,
        "primary_key": call.primary_key,
        "keep_foreign_keys": list(&call.keep_foreign_keys),
        "tenant_column": call.tenant_column,
        "tenant_from": call.tenant_from,
        "shared_rows": call.shared_rows,
    })
}

/// The options a job was queued with, for the online path.
pub fn options_from_json(json: &serde_json::Value) -> CallOptions {
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let list = |k: &str| {
        json.get(k).and_then(|v| v.as_array()).map(|a| {
            a.iter()
                .map(|e| e.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
    };
    CallOptions {
        global_unique: list("global_unique"),
        default_tenant: text("default_tenant"),
        views: text("views").or(Some("report".into())),
        primary_key: text("primary_key").or(Some("global".into())),
        keep_foreign_keys: list("keep_foreign_keys"),
        tenant_column: text("tenant_column"),
        tenant_from: text("tenant_from"),
        shared_rows: json.get("shared_rows").and_then(|v| v.as_bool()),
        online: true,
        ..Default::default()
    }
}

/// `schema.table`, quoted as relay prints it.
pub fn table_name(oid: pg_sys::Oid) -> String {
    // SAFETY: syscache lookups by oid; the names are copied.
    let (schema, name) = unsafe {
        let name = pg_sys::get_rel_name(oid);
        if name.is_null() {
            errors::undefined_relation("relay_enable_tenancy_background", oid.to_u32());
        }
        let schema = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(oid));
        (
            std::ffi::CStr::from_ptr(schema)
                .to_string_lossy()
                .into_owned(),
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned(),
        )
    };
    quote_qualified(&schema, &name)
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn options_survive_the_queue() {
        let call = CallOptions {
            global_unique: Some(vec![Some("email".into()), None, Some("slug".into())]),
            default_tenant: Some("acme".into()),
            views: Some("refuse".into()),
            primary_key: Some("tenant".into()),
            keep_foreign_keys: None,
            tenant_column: Some("org_id".into()),
            tenant_from: Some("lines_order_fk".into()),
            shared_rows: Some(true),
            online: false,
            ..Default::default()
        };
        let back = options_from_json(&options_to_json(&call));
        // (a NULL entry of a list is dropped, as relay_enable_tenancy ignores it)
        assert_eq!(
            back.global_unique,
            Some(vec![Some("email".into()), Some("slug".into())])
        );
        assert_eq!(back.default_tenant.as_deref(), Some("acme"));
        assert_eq!(back.views.as_deref(), Some("refuse"));
        assert_eq!(back.primary_key.as_deref(), Some("tenant"));
        assert_eq!(back.keep_foreign_keys, None);
        assert_eq!(back.tenant_column.as_deref(), Some("org_id"));
        assert_eq!(back.tenant_from.as_deref(), Some("lines_order_fk"));
        assert_eq!(back.shared_rows, Some(true));
        assert!(back.online, "a queued job always runs the online path");
    }

    #[test]
    fn missing_options_take_the_sql_defaults() {
        let back = options_from_json(&serde_json::json!({}));
        assert_eq!(back.views.as_deref(), Some("report"));
        assert_eq!(back.primary_key.as_deref(), Some("global"));
        assert_eq!(back.global_unique, None);
        assert_eq!(back.shared_rows, None);
    }
}
