//! The application's own tenant table, when `relay_use_tenant_registry` named one: what
//! the planner needs to point tenant columns at it (a pure value; `pg::tenant_registry`
//! reads it from the catalog and probes it). A leaf.

use crate::model::tenant_type::TenantType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// The table's oid.
    pub relid: u32,
    /// The table, quoted and schema-qualified.
    pub table: String,
    /// Its id column, unquoted.
    pub id_column: String,
    /// The id column's type.
    pub id_type: TenantType,
    /// A boolean column whose false (or NULL) means suspended, unquoted.
    pub active_column: Option<String>,
}

impl Registry {
    /// A tenant column of type `column` can reference the id column with a foreign
    /// key (the same type, or two integer types, which PostgreSQL compares directly).
    pub fn referencable_from(&self, column: TenantType) -> bool {
        let integer = |t: TenantType| matches!(t, TenantType::Bigint | TenantType::Integer);
        column == self.id_type || (integer(column) && integer(self.id_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(id_type: TenantType) -> Registry {
        Registry {
            relid: 1,
            table: "public.organizations".into(),
            id_column: "id".into(),
            id_type,
            active_column: None,
        }
    }

    #[test]
    fn a_foreign_key_needs_the_same_type_or_two_integers() {
        assert!(registry(TenantType::Uuid).referencable_from(TenantType::Uuid));
        assert!(!registry(TenantType::Uuid).referencable_from(TenantType::Text));
        assert!(registry(TenantType::Bigint).referencable_from(TenantType::Integer));
        assert!(registry(TenantType::Integer).referencable_from(TenantType::Bigint));
        assert!(!registry(TenantType::Text).referencable_from(TenantType::Bigint));
    }
}
