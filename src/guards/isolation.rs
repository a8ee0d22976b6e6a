//! Keeping tenant-enabled tables isolated after relay_enable_tenancy returns.
//!
//! - `relay_tenant_truncate_guard`: TRUNCATE ignores row level security, so a BEFORE
//!   TRUNCATE trigger (fired ALWAYS) refuses it to every role the table's row level
//!   security applies to. Roles that bypass RLS (superusers, BYPASSRLS) may truncate.
//!   relay's own tables carry it too.
//! - `relay_ddl_guard`: an event trigger that refuses, for non-superusers, DDL that
//!   switches isolation off on a tenant-enabled table (NO FORCE / DISABLE ROW LEVEL
//!   SECURITY, dropping or altering relay's policies, dropping or disabling the
//!   TRUNCATE guard). A superuser's statement of a kind that does so (`unsafe_ddl`)
//!   is refused too, unless the transaction set `relay.allow_unsafe_ddl`: then it
//!   warns.
//! - `refuse_if_broken`: the same checks, run on the table relay just changed.

use super::unsafe_ddl;
use crate::model::names::{SHARED_DELETE_POLICY, SHARED_UPDATE_POLICY};
use crate::model::quote::quote_qualified;
use crate::pg::probes;
use crate::pg::{kept_plans, policy_rule, privilege};
use crate::plan::{ACCESS_POLICY_NAME, POLICY_NAME, TRUNCATE_GUARD_TRIGGER};
use crate::{apply, model::errors, pg::ext};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgTriggerLevel, PgTriggerOperation, PgTriggerWhen};

#[pg_trigger(sql = "
CREATE FUNCTION relay_tenant_truncate_guard() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_tenant_truncate_guard_entry';
")]
fn tenant_truncate_guard<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let table = quote_qualified(&trigger.table_schema()?, &trigger.table_name()?);
    if !matches!(
        (trigger.op()?, trigger.when()?, trigger.level()),
        (
            PgTriggerOperation::Truncate,
            PgTriggerWhen::Before,
            PgTriggerLevel::Statement
        )
    ) {
        errors::trigger_misuse(
            "relay_tenant_truncate_guard",
            trigger.name()?,
            &table,
            "BEFORE TRUNCATE FOR EACH STATEMENT",
        );
    }
    // SAFETY: the relation is open and locked by the TRUNCATE that fired us;
    // check_enable_rls reads the relcache and the current user's attributes.
    let subject = unsafe {
        let relid = (*trigger.trigger_data().tg_relation).rd_id;
        pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, false)
            == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32
    };
    if subject {
        errors::truncate_refused(&table);
    }
    Ok(None)
}

crate::trigger_entry!(
    relay_tenant_truncate_guard_entry,
    pg_finfo_relay_tenant_truncate_guard_entry,
    tenant_truncate_guard_wrapper,
    "relay_tenant_truncate_guard"
);

#[pg_trigger(sql = "
CREATE FUNCTION relay_tenant_exists_guard() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'relay_tenant_exists_guard_entry';
")]
fn tenant_exists_guard<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    let table = quote_qualified(&trigger.table_schema()?, &trigger.table_name()?);
    let row_before = matches!(
        (trigger.when()?, trigger.level()),
        (PgTriggerWhen::Before, PgTriggerLevel::Row)
    );
    let op = trigger.op()?;
    if !row_before || !matches!(op, PgTriggerOperation::Insert | PgTriggerOperation::Update) {
        errors::trigger_misuse(
            "relay_tenant_exists_guard",
            trigger.name()?,
            &table,
            "BEFORE INSERT OR UPDATE FOR EACH ROW",
        );
    }
    let column = trigger
        .extra_args()?
        .into_iter()
        .next()
        .unwrap_or_else(|| crate::plan::TENANT_COLUMN.to_string());
    let data = trigger.trigger_data();
    // SAFETY: the tuple and descriptor belong to the row event that fired us; the
    // value is printed with its type's output function and copied at once.
    let tenant = unsafe {
        let tuple = if matches!(op, PgTriggerOperation::Update) {
            data.tg_newtuple
        } else {
            data.tg_trigtuple
        };
        let tupdesc = (*data.tg_relation).rd_att;
        if probes::attnum_of(tupdesc, &column) <= 0 {
            // The tenant column was renamed (or dropped) under the guard.
            errors::tenant_column_gone(&table, &column);
        }
        if let Some((attnum, datum)) = probes::attribute(tuple, tupdesc, &column) {
            let typid =
                (*crate::pg::compat::tuple_desc_attr(tupdesc, attnum as usize - 1)).atttypid;
            let (mut output, mut varlena) = (pg_sys::InvalidOid, false);
            pg_sys::getTypeOutputInfo(typid, &mut output, &mut varlena);
            let text = pg_sys::OidOutputFunctionCall(output, datum);
            let value = std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned();
            pg_sys::pfree(text.cast());
            Some(value)
        } else {
            None
        }
    };
    if let Some(tenant) = tenant {
        if !probes::tenant_exists(&tenant) {
            errors::unknown_row_tenant(
                &table,
                &column,
                &tenant,
                crate::pg::tenant_registry::current().as_ref(),
            );
        }
    }
    // Unchanged: BEFORE ROW returns the row to store.
    Ok(trigger.new())
}

crate::trigger_entry!(
    relay_tenant_exists_guard_entry,
    pg_finfo_relay_tenant_exists_guard_entry,
    tenant_exists_guard_wrapper,
    "relay_tenant_exists_guard"
);

/// Tenant-enabled tables whose isolation is broken: `(table, problem)`. `only` limits
/// the check to those tables (None: every registered table); the table relay is
/// applying steps to right now is skipped (its end state is checked after the steps).
pub fn broken(only: Option<Vec<pg_sys::Oid>>, skip: Option<pg_sys::Oid>) -> Vec<(String, String)> {
    let registry = quote_qualified(&ext::extension_schema(), "relay_tables");
    // The tables to check are parameters ($2 every, $3 only those, $4 skip that one or
    // NULL), so the text is the same for every call and its plan is kept.
    let every = only.is_none();
    let only: Vec<pg_sys::Oid> = only.unwrap_or_default();
    let filter = "($2 OR r.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($3::pg_catalog.oid[]))
            AND ($4::pg_catalog.oid IS NULL OR r.relid::pg_catalog.oid OPERATOR(pg_catalog.<>) $4::pg_catalog.oid)";
    // Shared rows: tenants read the rows of no tenant and write only their own, by two
    // RESTRICTIVE policies. (to_jsonb: the column is 0.3.0's; the library also serves
    // 0.2.0's SQL.)
    let shared_rows_rows: String = [
        (SHARED_UPDATE_POLICY, 'w', "UPDATE", "change"),
        (SHARED_DELETE_POLICY, 'd', "DELETE", "delete"),
    ]
    .iter()
    .map(|(name, cmd, command, verb)| {
        format!(
            "            (COALESCE((pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'shared_rows')::pg_catalog.bool, false)
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                               WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                                 AND p.polname OPERATOR(pg_catalog.=) '{name}' AND NOT p.polpermissive
                                 AND p.polcmd OPERATOR(pg_catalog.=) '{cmd}'
                                 AND p.polroles OPERATOR(pg_catalog.=) '{{0}}'::pg_catalog.oid[]),
             'policy {name} is missing or no longer RESTRICTIVE FOR {command} TO PUBLIC: a tenant could {verb} the shared rows'),"
        )
    })
    .collect::<Vec<_>>()
    .join("\n");
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), v.problem
           FROM {registry} r
           JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
          CROSS JOIN LATERAL (VALUES
            (NOT c.relrowsecurity, 'row level security is disabled'),
            (NOT c.relforcerowsecurity, 'row level security is no longer forced, so the owner bypasses it'),
            (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                          WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                            AND p.polname OPERATOR(pg_catalog.=) '{POLICY_NAME}' AND NOT p.polpermissive
                            AND p.polcmd OPERATOR(pg_catalog.=) '*'
                            AND p.polroles OPERATOR(pg_catalog.=) '{{0}}'::pg_catalog.oid[]),
             'policy {POLICY_NAME} is missing or no longer RESTRICTIVE FOR ALL TO PUBLIC'),
            -- recognised by the structure of the stored expressions (pg::policy_rule)
            (c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[]),
             'a policy of relay''s no longer compares ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(r.tenant_column)
               OPERATOR(pg_catalog.||) ' with the session''s tenant'),
{shared_rows_rows}
            (NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                          WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid
                            AND t.tgname OPERATOR(pg_catalog.=) '{TRUNCATE_GUARD_TRIGGER}'
                            AND t.tgenabled OPERATOR(pg_catalog.=) 'A'),
             'trigger {TRUNCATE_GUARD_TRIGGER} is missing or no longer fires ALWAYS')
          ) v(is_broken, problem)
          WHERE v.is_broken AND {filter}
          ORDER BY 1, 2"
    );
    privilege::as_extension_owner(|| {
        let rules_changed = rules_changed(&registry, filter, every, &only, skip);
        Spi::connect(|client| {
            kept_plans::select(
                client,
                &sql,
                &[
                    rules_changed.into(),
                    every.into(),
                    only.clone().into(),
                    skip.into(),
                ],
            )
            .expect("isolation check")
            .map(|row| {
                (
                    row.get::<String>(1).unwrap().unwrap_or_default(),
                    row.get::<String>(2).unwrap().unwrap_or_default(),
                )
            })
            .collect()
        })
    })
}

/// Registered tables (of `filter`) with a policy of relay's whose USING or WITH CHECK
/// is no longer relay's rule, by the structure of the stored expression.
fn rules_changed(
    registry: &str,
    filter: &str,
    every: bool,
    only: &[pg_sys::Oid],
    skip: Option<pg_sys::Oid>,
) -> Vec<pg_sys::Oid> {
    let sql = format!(
        "SELECT {columns}, p.polqual::pg_catalog.text, p.polwithcheck::pg_catalog.text,
                -- (to_jsonb: the column is 0.3.0's; the library also serves 0.2.0's SQL)
                COALESCE((pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'shared_rows')::pg_catalog.bool, false),
                p.polname::pg_catalog.text
           FROM {registry} r
           JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.relid
           LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid
                AND a.attname OPERATOR(pg_catalog.=) r.tenant_column AND NOT a.attisdropped
           CROSS JOIN (SELECT n.oid AS ext_ns FROM pg_catalog.pg_namespace n
                        WHERE n.nspname OPERATOR(pg_catalog.=) $1) e
           JOIN pg_catalog.pg_policy p ON p.polrelid OPERATOR(pg_catalog.=) c.oid
                AND p.polname OPERATOR(pg_catalog.=) ANY (ARRAY['{POLICY_NAME}', '{ACCESS_POLICY_NAME}',
                                                                '{SHARED_UPDATE_POLICY}', '{SHARED_DELETE_POLICY}']::pg_catalog.name[])
          WHERE {filter}",
        columns = policy_rule::SHAPE_COLUMNS
    );
    Spi::connect(|client| {
        let mut changed = Vec::new();
        for row in kept_plans::select(
            client,
            &sql,
            &[
                ext::extension_schema().as_str().into(),
                every.into(),
                only.to_vec().into(),
                skip.into(),
            ],
        )
        .expect("relay's policies")
        {
            let shape = policy_rule::shape_from_row(&row, 1);
            let qual = row.get::<String>(6).expect("polqual");
            let check = row.get::<String>(7).expect("polwithcheck");
            let shared = row.get::<bool>(8).expect("shared_rows").unwrap_or(false);
            let name = row.get::<String>(9).expect("policy").unwrap_or_default();
            let using = |tree: Option<&str>| {
                if shared {
                    policy_rule::is_shared_rule(tree, &shape)
                } else {
                    policy_rule::is_relay_rule(tree, &shape)
                }
            };
            // The write policies of shared rows: USING relay's rule, no WITH CHECK.
            let intact = if name == SHARED_UPDATE_POLICY || name == SHARED_DELETE_POLICY {
                policy_rule::is_relay_rule(qual.as_deref(), &shape) && check.is_none()
            } else {
                using(qual.as_deref()) && policy_rule::is_relay_rule(check.as_deref(), &shape)
            };
            if !intact && !changed.contains(&shape.relid) {
                changed.push(shape.relid);
            }
        }
        changed
    })
}

/// Raise when any of `found` is broken. A superuser is refused only for a statement
/// of a kind that switches isolation off (`unsafe_ddl`), and warned instead when the
/// transaction set relay.allow_unsafe_ddl (or for DISABLE TRIGGER ALL, which restores
/// write around each table's rows); a broken state the statement did not cause is left
/// to relay_verify.
fn report(found: Vec<(String, String)>, what: &str, by_superuser: bool, kind: unsafe_ddl::Kind) {
    let Some((table, _)) = found.first() else {
        return;
    };
    let one_table = found.iter().all(|(t, _)| t == table);
    let problems: Vec<String> = found
        .iter()
        .map(|(t, p)| {
            if one_table {
                p.clone()
            } else {
                format!("{t}: {p}")
            }
        })
        .collect();
    if !by_superuser {
        errors::isolation_switched_off(table, what, &problems);
    }
    match kind {
        unsafe_ddl::Kind::Harmless => return,
        unsafe_ddl::Kind::SwitchesOff if !unsafe_ddl::allowed() => {
            errors::isolation_switched_off_by_superuser(table, what, &problems)
        }
        _ => {}
    }
    pgrx::warning!(
        "{what} switched tenant isolation off on {table}: {}. Tenant-enabled tables now expose rows across tenants; re-run relay_enable_tenancy to restore them.",
        problems.join("; ")
    );
}

/// After relay's own steps: the table must end isolated, whatever ran in between.
pub fn refuse_if_broken(relid: pg_sys::Oid) {
    let found = broken(Some(vec![relid]), None);
    if let Some((table, _)) = found.first() {
        let problems: Vec<String> = found.iter().map(|(t, p)| format!("{t}: {p}")).collect();
        errors::isolation_switched_off(table, "code run during relay_enable_tenancy", &problems);
    }
}

/// The query of `touched_by_command`.
fn commands_sql() -> String {
    format!(
        "SELECT COALESCE(p.polrelid, d.objid),
                CASE WHEN d.command_tag OPERATOR(pg_catalog.=) 'ALTER POLICY'
                      AND p.polname OPERATOR(pg_catalog.=) ANY (ARRAY['{POLICY_NAME}', '{ACCESS_POLICY_NAME}',
                          '{SHARED_UPDATE_POLICY}', '{SHARED_DELETE_POLICY}']::pg_catalog.name[])
                     THEN pg_catalog.format('%s: policy %I was altered', p.polrelid::pg_catalog.regclass, p.polname) END
           FROM pg_catalog.pg_event_trigger_ddl_commands() d
           LEFT JOIN pg_catalog.pg_policy p
             ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
            AND p.oid OPERATOR(pg_catalog.=) d.objid
          WHERE d.classid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.pg_class'::pg_catalog.regclass,
                                                      'pg_catalog.pg_policy'::pg_catalog.regclass]::pg_catalog.oid[])"
    )
}

/// `(tables the command touched, it altered one of relay's policies)` for
/// ddl_command_end.
fn touched_by_command() -> (Vec<pg_sys::Oid>, Vec<(pg_sys::Oid, String)>) {
    Spi::connect(|client| {
        let rows =
            kept_plans::select(client, &commands_sql(), &[]).expect("event trigger commands");
        let mut tables = Vec::new();
        let mut policies = Vec::new();
        for row in rows {
            if let Some(oid) = row.get::<pg_sys::Oid>(1).unwrap() {
                tables.push(oid);
            }
            if let (Some(oid), Some(policy)) = (
                row.get::<pg_sys::Oid>(1).unwrap(),
                row.get::<String>(2).unwrap(),
            ) {
                if probes::registered_now(oid) {
                    policies.push((oid, policy));
                }
            }
        }
        (tables, policies)
    })
}

/// relay's guard triggers fire ALWAYS. `ALTER TABLE ... ENABLE TRIGGER ALL` (which
/// `pg_restore --disable-triggers` runs after loading each table) sets every trigger
/// to fire on ORIGIN only, so under session_replication_role = replica the guard would
/// stop guarding: put back to ALWAYS on the spot, with a NOTICE. The default tenant's
/// merge trigger on `tenants` is also re-enabled after DISABLE TRIGGER ALL, so a
/// data-only restore merges the dumped default tenant into the existing row.
fn repromote_guards(tables: &[pg_sys::Oid]) {
    if tables.is_empty() {
        return;
    }
    let found: Vec<(String, String)> = Spi::connect(|client| {
        kept_plans::select(
                client,
                "SELECT pg_catalog.format('%s', t.tgrelid::pg_catalog.regclass), t.tgname::pg_catalog.text
                   FROM pg_catalog.pg_trigger t
                   JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                              AND d.objid OPERATOR(pg_catalog.=) t.tgfoid AND d.deptype OPERATOR(pg_catalog.=) 'e'
                   JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid AND e.extname OPERATOR(pg_catalog.=) 'relay_tenancy'
                  WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY ($1) AND NOT t.tgisinternal
                    AND (  (t.tgenabled OPERATOR(pg_catalog.=) 'O'
                            AND t.tgname OPERATOR(pg_catalog.=) ANY (ARRAY['relay_tenant_truncate_guard', 'relay_tenant_exists',
                                 'relay_append_only_row', 'relay_append_only_truncate', 'relay_default_tenant_merge']::pg_catalog.name[]))
                        OR (t.tgenabled OPERATOR(pg_catalog.=) 'D' AND t.tgname OPERATOR(pg_catalog.=) 'relay_default_tenant_merge'))
                  ORDER BY 1, 2",
                &[tables.to_vec().into()],
            )
            .expect("relay's triggers")
            .filter_map(|r| Some((r.get::<String>(1).ok()??, r.get::<String>(2).ok()??)))
            .collect()
    });
    for (table, trigger) in found {
        Spi::run(&format!(
            "ALTER TABLE {table} ENABLE ALWAYS TRIGGER {}",
            crate::model::quote::quote_ident(&trigger)
        ))
        .expect("re-promote trigger");
        pgrx::notice!("relay_tenancy: trigger {trigger} on {table} fires ALWAYS again");
    }
}

/// The query of `tables_given_code`.
const GIVEN_CODE_SQL: &str = "SELECT COALESCE(t.tgrelid, r.ev_class)
   FROM pg_catalog.pg_event_trigger_ddl_commands() d
   LEFT JOIN pg_catalog.pg_trigger t ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::pg_catalog.regclass
                                    AND t.oid OPERATOR(pg_catalog.=) d.objid
   LEFT JOIN pg_catalog.pg_rewrite r ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                                    AND r.oid OPERATOR(pg_catalog.=) d.objid";

/// The query of `touched_by_drop`.
const DROPPED_SQL: &str = "SELECT DISTINCT pg_catalog.to_regclass(pg_catalog.quote_ident(o.address_names[1]) OPERATOR(pg_catalog.||) '.'
                                       OPERATOR(pg_catalog.||) pg_catalog.quote_ident(o.address_names[2]))::pg_catalog.oid
   FROM pg_catalog.pg_event_trigger_dropped_objects() o
  WHERE o.object_type OPERATOR(pg_catalog.=) ANY (ARRAY['policy', 'trigger'])";

/// Prepare (not run) the kept plans of the guard's queries, and run the isolation
/// check on `relid` once: a call about to take an online run's ACCESS EXCLUSIVE lock
/// does this first, so that a new backend (the background worker) does not parse,
/// plan and fill its catalog caches for them while the application waits.
pub fn prepare_plans(relid: pg_sys::Oid) {
    privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            for sql in [commands_sql().as_str(), GIVEN_CODE_SQL, DROPPED_SQL] {
                kept_plans::kept(client, sql, &[]);
            }
        })
    });
    broken(Some(vec![relid]), None);
}

/// The tables the command put a trigger or a rule on (ddl_command_end of CREATE
/// TRIGGER / CREATE RULE).
fn tables_given_code() -> Vec<pg_sys::Oid> {
    Spi::connect(|client| {
        kept_plans::select(client, GIVEN_CODE_SQL, &[])
            .expect("event trigger commands")
            .filter_map(|row| row.get::<pg_sys::Oid>(1).unwrap())
            .collect()
    })
}

/// CREATE TRIGGER (TRIGGER privilege, as a sloppy `GRANT ALL` gives) or CREATE RULE on
/// a tenant-enabled table or one of relay's own, by a role that is not the table's
/// owner and whose row level security applies to it: refused. Such a trigger sees
/// every row every tenant writes (NEW, OLD) and can send it anywhere (pg_notify, a
/// table of its own): an exfiltration channel around isolation.
fn refuse_foreign_code(tag: &str) {
    let relay_tables: Vec<pg_sys::Oid> = ext::OWN_TABLES
        .iter()
        .map(|n| ext::ext_relation(n).relid)
        .collect();
    for relid in privilege::as_extension_owner(tables_given_code) {
        if !(probes::registered_now(relid) || relay_tables.contains(&relid)) {
            continue;
        }
        // SAFETY: ownership and row level security of the current user (the one who
        // ran the command: relay has not switched user here) on an existing table.
        let (owner, subject) = unsafe {
            let user = pg_sys::GetUserId();
            (
                crate::pg::compat::class_ownercheck(relid, user),
                pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, false)
                    == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32,
            )
        };
        if subject && !owner {
            errors::foreign_code_on_tenant_table(tag, &ext::relation_name(relid));
        }
    }
}

/// Tables whose policies or triggers the dropping command removed (sql_drop).
fn touched_by_drop() -> Vec<pg_sys::Oid> {
    Spi::connect(|client| {
        kept_plans::select(client, DROPPED_SQL, &[])
            .expect("dropped objects")
            .filter_map(|row| row.get::<pg_sys::Oid>(1).unwrap())
            .filter(|oid| *oid != pg_sys::InvalidOid)
            .collect()
    })
}

#[unsafe(no_mangle)]
#[doc(hidden)]
pub extern "C" fn pg_finfo_relay_ddl_guard() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// The event trigger function (ddl_command_end for ALTER TABLE and ALTER POLICY, and
/// for CREATE TRIGGER and CREATE RULE; sql_drop for DROP POLICY and DROP TRIGGER).
///
/// # Safety
/// Called by PostgreSQL's function manager with a valid `fcinfo`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn relay_ddl_guard(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: an event trigger's context is an EventTriggerData node.
    let (event, tag, parsetree) = unsafe {
        let context = (*fcinfo).context;
        if context.is_null() || (*context).type_ != pg_sys::NodeTag::T_EventTriggerData {
            errors::not_called_as_trigger("relay_ddl_guard");
        }
        let data = context as *mut pg_sys::EventTriggerData;
        (
            std::ffi::CStr::from_ptr((*data).event)
                .to_string_lossy()
                .into_owned(),
            std::ffi::CStr::from_ptr(pg_sys::GetCommandTagName((*data).tag))
                .to_string_lossy()
                .into_owned(),
            (*data).parsetree,
        )
    };
    let skip = apply::applying();
    if tag == "CREATE TRIGGER" || tag == "CREATE RULE" {
        refuse_foreign_code(&tag);
        return pg_sys::Datum::from(0);
    }
    // SAFETY: reads the current user's superuser flag (before relay switches user).
    let by_superuser = unsafe { pg_sys::superuser() };
    // SAFETY: the parse tree of the command that fired us.
    let kind = unsafe { unsafe_ddl::classify(&event, parsetree) };
    // A superuser's statement that switches nothing off is not judged (report would
    // return without a word): skip the isolation query, run per statement of a restore.
    let judged = !(by_superuser && kind == unsafe_ddl::Kind::Harmless);
    let silenced = privilege::as_extension_owner(|| {
        if event == "sql_drop" {
            // relay's own steps on the table it is applying to are checked when the
            // steps are done; only other tables need the query.
            let tables: Vec<pg_sys::Oid> = touched_by_drop()
                .into_iter()
                .filter(|t| Some(*t) != skip)
                .collect();
            if judged && !tables.is_empty() {
                report(broken(Some(tables.clone()), skip), &tag, by_superuser, kind);
            }
            capture_silenced(&tables, kind)
        } else {
            let (tables, policies) = touched_by_command();
            repromote_guards(
                &tables
                    .iter()
                    .copied()
                    .filter(|t| Some(*t) != skip)
                    .collect::<Vec<_>>(),
            );
            let altered: Vec<(String, String)> = policies
                .iter()
                .filter(|(oid, _)| Some(*oid) != skip)
                .map(|(_, what)| {
                    let (table, problem) = what.split_once(": ").unwrap_or((what.as_str(), ""));
                    (table.to_string(), problem.to_string())
                })
                .collect();
            report(altered, &tag, by_superuser, kind);
            let tables: Vec<pg_sys::Oid> =
                tables.into_iter().filter(|t| Some(*t) != skip).collect();
            if judged && !tables.is_empty() {
                report(broken(Some(tables.clone()), skip), &tag, by_superuser, kind);
            }
            capture_silenced(&tables, kind)
        }
    });
    // Capture switched off on an audited table (DISABLE TRIGGER, DROP TRIGGER):
    // refused for non-superusers; a superuser's is recorded in the audit log itself.
    for (table, trigger, how) in silenced {
        if !by_superuser {
            errors::capture_silenced(&tag, &table, &trigger, &how);
        }
        pgrx::warning!("{tag} {how} capture trigger {trigger} on audited {table}: its changes are no longer recorded (recorded as relay.audit_disabled)");
        crate::audit::admin::record(
            ext::DEFAULT_TENANT_ID,
            "relay.audit_disabled",
            "table",
            &table,
            serde_json::json!({ "trigger": trigger, "how": how, "command": tag }),
        );
    }
    pg_sys::Datum::from(0)
}

/// Capture triggers of audited tables among `tables` that no longer fire:
/// `(table, trigger, "disabled" | "dropped")`.
/// A statement that silences nothing (`unsafe_ddl::Kind::Harmless`) is not blamed for
/// a trigger missing before it (a restore's post-data before it creates them).
fn capture_silenced(
    tables: &[pg_sys::Oid],
    kind: unsafe_ddl::Kind,
) -> Vec<(String, String, String)> {
    if tables.is_empty() || kind == unsafe_ddl::Kind::Harmless {
        return Vec::new();
    }
    let audit_registry = quote_qualified(&ext::extension_schema(), "relay_audit_tables");
    let names: Vec<String> = crate::audit::CAPTURE_TRIGGERS
        .iter()
        .map(|(n, _, _)| n.to_string())
        .collect();
    Spi::connect(|client| {
        kept_plans::select(
                client,
                &format!(
                    "SELECT a.relid::pg_catalog.oid::pg_catalog.regclass::pg_catalog.text, ct.name::pg_catalog.text,
                            CASE WHEN t.oid IS NULL THEN 'dropped' ELSE 'disabled' END
                       FROM {audit_registry} a
                      CROSS JOIN pg_catalog.unnest($2::pg_catalog.name[]) ct(name)
                       LEFT JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) a.relid::pg_catalog.oid
                                                        AND t.tgname OPERATOR(pg_catalog.=) ct.name
                      WHERE a.relid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)
                        AND (t.oid IS NULL OR t.tgenabled OPERATOR(pg_catalog.=) 'D')
                      ORDER BY 1, 2"
                ),
                &[tables.to_vec().into(), names.into()],
            )
            .expect("capture triggers")
            .filter_map(|r| Some((r.get::<String>(1).ok()??, r.get::<String>(2).ok()??, r.get::<String>(3).ok()??)))
            .collect()
    })
}
