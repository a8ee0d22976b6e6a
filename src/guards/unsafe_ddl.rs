//! Which statements can switch isolation off, judged by the statement itself.
//!
//! The DDL guard sees a tenant-enabled table's state after a statement. That state can
//! be incomplete for reasons the statement had nothing to do with: a restore loads
//! `relay_tables` before its post-data section creates the policies, so every
//! `ALTER TABLE ... ADD CONSTRAINT` of post-data finds "policy missing". A superuser's
//! statement is therefore refused only when it is itself of a kind that switches
//! isolation off (DISABLE / NO FORCE ROW LEVEL SECURITY, dropping a column, changing a
//! column's type, renaming a column or a policy, demoting a trigger, ALTER POLICY,
//! DROP POLICY / DROP TRIGGER) and the table is found broken after it.

use pgrx::pg_sys;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// What a statement can do to a tenant-enabled table's isolation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Nothing that switches isolation off: a broken state found after it was there
    /// before (relay_verify and relay_security_check report it).
    Harmless,
    /// `DISABLE TRIGGER ALL`, which `pg_dump --disable-triggers` writes around each
    /// table's data (and `ENABLE TRIGGER ALL` after it, which the guard re-promotes):
    /// a superuser's is warned, not refused.
    RestoreBracket,
    /// Switches isolation off: a superuser's is refused unless
    /// `relay.allow_unsafe_ddl` is on.
    SwitchesOff,
}

/// `relay.allow_unsafe_ddl`: let a superuser's statement switch isolation off on a
/// tenant-enabled table (with a WARNING) in this transaction.
static ALLOW_UNSAFE_DDL: GucSetting<bool> = GucSetting::<bool>::new(false);

pub fn register_gucs() {
    GucRegistry::define_bool_guc(
        c"relay.allow_unsafe_ddl",
        c"Let a superuser's statement switch tenant isolation off on a tenant-enabled table.",
        c"Off (the default): DISABLE / NO FORCE ROW LEVEL SECURITY, dropping or altering relay's policies or the TRUNCATE guard, dropping or renaming the tenant column fail for superusers too. SET LOCAL relay.allow_unsafe_ddl = on in the transaction that means it.",
        &ALLOW_UNSAFE_DDL,
        GucContext::Suset,
        GucFlags::default(),
    );
}

pub fn allowed() -> bool {
    ALLOW_UNSAFE_DDL.get()
}

/// The kind of an ALTER TABLE subcommand.
fn subcommand_kind(subtype: pg_sys::AlterTableType::Type) -> Kind {
    use pg_sys::AlterTableType as at;
    match subtype {
        at::AT_DisableRowSecurity
        | at::AT_NoForceRowSecurity
        | at::AT_DropColumn
        | at::AT_AlterColumnType
        | at::AT_DisableTrig
        | at::AT_DisableTrigUser
        | at::AT_EnableReplicaTrig => Kind::SwitchesOff,
        at::AT_DisableTrigAll => Kind::RestoreBracket,
        _ => Kind::Harmless,
    }
}

/// The kind of the statement that fired the guard. `event` is the event trigger's
/// event; `parsetree` the statement's node.
///
/// # Safety
/// `parsetree` is the valid parse tree of the command that fired the event trigger, or
/// NULL.
pub unsafe fn classify(event: &str, parsetree: *mut pg_sys::Node) -> Kind {
    // sql_drop fires for DROP POLICY / DROP TRIGGER only: removing relay's policy or
    // guard is what switches isolation off.
    if event == "sql_drop" || parsetree.is_null() {
        return Kind::SwitchesOff;
    }
    // SAFETY: the node's tag says which struct it is.
    unsafe {
        match (*parsetree).type_ {
            pg_sys::NodeTag::T_AlterTableStmt => {
                let stmt = parsetree as *mut pg_sys::AlterTableStmt;
                pgrx::PgList::<pg_sys::AlterTableCmd>::from_pg((*stmt).cmds)
                    .iter_ptr()
                    .filter(|c| !c.is_null())
                    .map(|c| subcommand_kind((*c).subtype))
                    .max()
                    .unwrap_or(Kind::Harmless)
            }
            pg_sys::NodeTag::T_RenameStmt => {
                let stmt = parsetree as *mut pg_sys::RenameStmt;
                match (*stmt).renameType {
                    // A renamed tenant column or policy of relay's: the policy no
                    // longer reads the registered column, or is no longer found.
                    pg_sys::ObjectType::OBJECT_COLUMN | pg_sys::ObjectType::OBJECT_POLICY => {
                        Kind::SwitchesOff
                    }
                    _ => Kind::Harmless,
                }
            }
            pg_sys::NodeTag::T_AlterPolicyStmt => Kind::SwitchesOff,
            _ => Kind::Harmless,
        }
    }
}
