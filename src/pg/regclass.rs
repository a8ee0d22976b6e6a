//! `RegClass`: a table oid that SQL sees as `regclass`.
//!
//! pgrx's `PgRelation` also maps to regclass but opens the relation and locks it,
//! which is right for a once-per-call API argument and wasteful in a column default
//! evaluated for every inserted row. This newtype is the bare oid.

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{FromDatum, IntoDatum};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegClass(pub pg_sys::Oid);

impl RegClass {
    /// The name as `regclass` prints it: schema-qualified only when not on the
    /// search_path, quoted where needed.
    pub fn display(self) -> String {
        pgrx::Spi::get_one_with_args::<String>(
            "SELECT $1::pg_catalog.oid::pg_catalog.regclass::pg_catalog.text",
            &[self.0.into()],
        )
        .ok()
        .flatten()
        .unwrap_or_else(|| format!("{}", self.0.to_u32()))
    }
}

impl FromDatum for RegClass {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        typoid: pg_sys::Oid,
    ) -> Option<Self> {
        unsafe { pg_sys::Oid::from_polymorphic_datum(datum, is_null, typoid) }.map(RegClass)
    }
}

impl IntoDatum for RegClass {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        self.0.into_datum()
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::REGCLASSOID
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for RegClass {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

unsafe impl SqlTranslatable for RegClass {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(RegClass);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
        Ok(SqlMappingRef::literal("regclass"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("regclass")));
}

impl RegClass {
    /// The oid names a relation; else the error a regclass input would have raised
    /// (42P01), not an internal one from deeper down.
    pub fn require(self, function: &str) -> RegClass {
        // SAFETY: a syscache lookup by oid; NULL when there is no such relation.
        if unsafe { pg_sys::get_rel_name(self.0) }.is_null() {
            crate::model::errors::undefined_relation(function, self.0.to_u32());
        }
        self
    }
}
