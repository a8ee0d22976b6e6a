//! Recognising relay's policy rule by the structure of the expression PostgreSQL
//! stores (`pg_policy.polqual` / `polwithcheck`, a node tree), not by the text
//! `pg_get_expr` prints, which depends on the search_path and may change between
//! PostgreSQL majors.
//!
//! relay's rule is `<tenant column> = <relay's policy function>(<the table>)`, in one
//! of two forms: with the call in a scalar sub-select and the table as a regclass
//! constant (`tenant_id = (SELECT s.relay_policy_tenant('s.t'::regclass))`, evaluated
//! once per query), or the call alone with the table by name
//! (`tenant_id = s.relay_policy_tenant('s.t'::text)`, what relay_distribute writes
//! for Citus). Anything else (another operator, an OR, another column, another
//! function or table, a sub-select with a FROM or a LIMIT) is not relay's rule.

use crate::pg::list;
use pgrx::pg_sys;
use pgrx::FromDatum;
use std::ffi::CString;

/// What relay's rule on one table looks like.
pub struct RuleShape {
    pub relid: pg_sys::Oid,
    /// The tenant column's number (0 when the registered column no longer exists).
    pub attnum: i16,
    /// pg_catalog's `=` operators whose left operand is the column's type.
    pub operators: Vec<pg_sys::Oid>,
    /// relay's policy functions for the column's type (both overloads).
    pub functions: Vec<pg_sys::Oid>,
    /// The table as relay writes it by name: schema-qualified, quoted (`s.t`).
    pub table_text: String,
}

/// The two forms of relay's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleForm {
    /// The call in a scalar sub-select, the table as a regclass constant.
    SubSelect,
    /// The call alone, the table by name (Citus).
    Direct,
}

/// `tree` (a `pg_node_tree` as text; None for a policy without that expression) is
/// relay's rule on `shape`'s table.
pub fn is_relay_rule(tree: Option<&str>, shape: &RuleShape) -> bool {
    rule_form(tree, shape).is_some()
}

/// Which form of relay's rule `tree` is, None when it is not relay's rule.
pub fn rule_form(tree: Option<&str>, shape: &RuleShape) -> Option<RuleForm> {
    let tree = tree?;
    if shape.attnum <= 0 {
        return None;
    }
    let text = CString::new(tree).ok()?;
    // SAFETY: stringToNode reads a node tree PostgreSQL itself wrote into pg_policy
    // (the way RelationBuildRowSecurity reads it); the walk only follows pointers of
    // the node types it checked.
    unsafe {
        let node = pg_sys::stringToNode(text.as_ptr()) as *mut pg_sys::Node;
        if !is_comparison(node, shape) {
            return None;
        }
        let call = list::pointers((*(node as *mut pg_sys::OpExpr)).args)[1] as *mut pg_sys::Node;
        Some(if is(call, pg_sys::NodeTag::T_SubLink) {
            RuleForm::SubSelect
        } else {
            RuleForm::Direct
        })
    }
}

/// `tree` is relay's rule for a table with shared rows (`shared_rows => true`):
/// `<relay's rule> OR <tenant column> IS NULL`, exactly (the USING of its policies:
/// every tenant reads the rows of no tenant; their WITH CHECK is the plain rule).
pub fn is_shared_rule(tree: Option<&str>, shape: &RuleShape) -> bool {
    let Some(tree) = tree else {
        return false;
    };
    if shape.attnum <= 0 {
        return false;
    }
    let Ok(text) = CString::new(tree) else {
        return false;
    };
    // SAFETY: as in rule_form: a node tree PostgreSQL wrote, walked by checked tags.
    unsafe {
        let node = pg_sys::stringToNode(text.as_ptr()) as *mut pg_sys::Node;
        if !is(node, pg_sys::NodeTag::T_BoolExpr) {
            return false;
        }
        let or = node as *mut pg_sys::BoolExpr;
        let args = list::pointers((*or).args);
        if (*or).boolop != pg_sys::BoolExprType::OR_EXPR || args.len() != 2 {
            return false;
        }
        let (rule, null) = (args[0] as *mut pg_sys::Node, args[1] as *mut pg_sys::Node);
        if !is_comparison(rule, shape) || !is(null, pg_sys::NodeTag::T_NullTest) {
            return false;
        }
        let test = null as *mut pg_sys::NullTest;
        (*test).nulltesttype == pg_sys::NullTestType::IS_NULL
            && !(*test).argisrow
            && is_tenant_column((*test).arg as *mut pg_sys::Node, shape)
    }
}

unsafe fn is(node: *mut pg_sys::Node, tag: pg_sys::NodeTag) -> bool {
    unsafe { !node.is_null() && (*node).type_ == tag }
}

unsafe fn is_comparison(node: *mut pg_sys::Node, shape: &RuleShape) -> bool {
    unsafe {
        if !is(node, pg_sys::NodeTag::T_OpExpr) {
            return false;
        }
        let op = node as *mut pg_sys::OpExpr;
        let args = list::pointers((*op).args);
        shape.operators.contains(&(*op).opno)
            && args.len() == 2
            && is_tenant_column(args[0] as *mut pg_sys::Node, shape)
            && is_tenant_call(args[1] as *mut pg_sys::Node, shape)
    }
}

unsafe fn is_tenant_column(node: *mut pg_sys::Node, shape: &RuleShape) -> bool {
    unsafe {
        if !is(node, pg_sys::NodeTag::T_Var) {
            return false;
        }
        let var = node as *mut pg_sys::Var;
        (*var).varno == 1 && (*var).varlevelsup == 0 && (*var).varattno == shape.attnum
    }
}

/// The call itself, or the call as the only output of a sub-select that reads nothing.
unsafe fn is_tenant_call(node: *mut pg_sys::Node, shape: &RuleShape) -> bool {
    unsafe {
        if is(node, pg_sys::NodeTag::T_FuncExpr) {
            return is_call(node, shape);
        }
        if !is(node, pg_sys::NodeTag::T_SubLink) {
            return false;
        }
        let link = node as *mut pg_sys::SubLink;
        let query = (*link).subselect as *mut pg_sys::Query;
        if (*link).subLinkType != pg_sys::SubLinkType::EXPR_SUBLINK
            || !(*link).testexpr.is_null()
            || !is(query as *mut pg_sys::Node, pg_sys::NodeTag::T_Query)
        {
            return false;
        }
        let q = &*query;
        let reads_nothing = q.commandType == pg_sys::CmdType::CMD_SELECT
            && list::pointers(q.rtable).is_empty()
            && (q.jointree.is_null()
                || (list::pointers((*q.jointree).fromlist).is_empty()
                    && (*q.jointree).quals.is_null()))
            && q.havingQual.is_null()
            && q.limitCount.is_null()
            && q.limitOffset.is_null()
            && q.setOperations.is_null()
            && list::pointers(q.groupClause).is_empty()
            && list::pointers(q.sortClause).is_empty()
            && list::pointers(q.cteList).is_empty();
        let targets = list::pointers(q.targetList);
        if !reads_nothing || targets.len() != 1 {
            return false;
        }
        let entry = targets[0] as *mut pg_sys::TargetEntry;
        is(entry as *mut pg_sys::Node, pg_sys::NodeTag::T_TargetEntry)
            && !(*entry).resjunk
            && is(
                (*entry).expr as *mut pg_sys::Node,
                pg_sys::NodeTag::T_FuncExpr,
            )
            && is_call((*entry).expr as *mut pg_sys::Node, shape)
    }
}

/// relay's policy function called with this table.
unsafe fn is_call(node: *mut pg_sys::Node, shape: &RuleShape) -> bool {
    unsafe {
        let call = node as *mut pg_sys::FuncExpr;
        let args = list::pointers((*call).args);
        if !shape.functions.contains(&(*call).funcid) || args.len() != 1 {
            return false;
        }
        let arg = args[0] as *mut pg_sys::Node;
        if !is(arg, pg_sys::NodeTag::T_Const) {
            return false;
        }
        let constant = &*(arg as *mut pg_sys::Const);
        if constant.constisnull {
            return false;
        }
        if constant.consttype == pg_sys::REGCLASSOID {
            pg_sys::Oid::from_datum(constant.constvalue, false) == Some(shape.relid)
        } else if constant.consttype == pg_sys::TEXTOID {
            String::from_datum(constant.constvalue, false).as_deref()
                == Some(shape.table_text.as_str())
        } else {
            false
        }
    }
}

/// The SQL that reads a `RuleShape`, for the tables of `FROM` clauses that name
/// `c` (pg_class), `r` (relay_tables, for `r.tenant_column`) and `ext_ns` (relay's
/// namespace oid). Columns: relid, attnum, operators, functions, table text.
pub const SHAPE_COLUMNS: &str = "c.oid,
       COALESCE(a.attnum, 0::pg_catalog.int2),
       ARRAY(SELECT o.oid FROM pg_catalog.pg_operator o
              WHERE o.oprname OPERATOR(pg_catalog.=) '='
                AND o.oprnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
                AND o.oprleft OPERATOR(pg_catalog.=) a.atttypid),
       ARRAY(SELECT f.oid FROM pg_catalog.pg_proc f
              WHERE f.pronamespace OPERATOR(pg_catalog.=) ext_ns
                AND f.proname OPERATOR(pg_catalog.=) (CASE
                      WHEN a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.uuid'::pg_catalog.regtype THEN 'relay_policy_tenant_uuid'
                      WHEN a.atttypid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.int8'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype]::pg_catalog.oid[])
                      THEN 'relay_policy_tenant_bigint'
                      ELSE 'relay_policy_tenant' END)::pg_catalog.name),
       (SELECT pg_catalog.format('%I.%I', sn.nspname, c.relname) FROM pg_catalog.pg_namespace sn
         WHERE sn.oid OPERATOR(pg_catalog.=) c.relnamespace)";

/// A `RuleShape` from the five `SHAPE_COLUMNS` of `row`, starting at column `first`.
pub fn shape_from_row(row: &pgrx::spi::SpiHeapTupleData, first: usize) -> RuleShape {
    let get_oids = |i: usize| -> Vec<pg_sys::Oid> {
        row.get::<Vec<pg_sys::Oid>>(i)
            .expect("oid[]")
            .unwrap_or_default()
    };
    RuleShape {
        relid: row
            .get::<pg_sys::Oid>(first)
            .expect("oid")
            .unwrap_or(pg_sys::InvalidOid),
        attnum: row.get::<i16>(first + 1).expect("attnum").unwrap_or(0),
        operators: get_oids(first + 2),
        functions: get_oids(first + 3),
        table_text: row
            .get::<String>(first + 4)
            .expect("table")
            .unwrap_or_default(),
    }
}

/// The shape of relay's rule on table `relid` with tenant column `column`.
pub fn shape_of(relid: pg_sys::Oid, column: &str, ext_schema: &str) -> RuleShape {
    use pgrx::prelude::*;
    let sql = format!(
        "SELECT {SHAPE_COLUMNS}
           FROM pg_catalog.pg_class c
           LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.oid
                AND a.attname OPERATOR(pg_catalog.=) $2 AND NOT a.attisdropped
           CROSS JOIN (SELECT n.oid AS ext_ns FROM pg_catalog.pg_namespace n
                        WHERE n.nspname OPERATOR(pg_catalog.=) $3) e
          WHERE c.oid OPERATOR(pg_catalog.=) $1"
    );
    Spi::connect(|client| {
        client
            .select(
                &sql,
                Some(1),
                &[relid.into(), column.into(), ext_schema.into()],
            )
            .expect("rule shape")
            .next()
            .map(|row| shape_from_row(&row, 1))
            .unwrap_or(RuleShape {
                relid,
                attnum: 0,
                operators: Vec::new(),
                functions: Vec::new(),
                table_text: String::new(),
            })
    })
}
