//! One-letter catalog codes as types: `pg_class.relkind` (what kind of relation relay
//! was handed), `pg_constraint.contype`, and a foreign key's referential actions
//! (`confupdtype`, `confdeltype`).

use serde::{Deserialize, Serialize};

/// A relation's kind, read from `pg_class.relkind` (one letter in the catalog JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RelKind {
    #[default]
    #[serde(rename = "r")]
    Table,
    #[serde(rename = "p")]
    Partitioned,
    #[serde(rename = "v")]
    View,
    #[serde(rename = "m")]
    MaterializedView,
    #[serde(rename = "f")]
    Foreign,
    #[serde(rename = "S")]
    Sequence,
    #[serde(rename = "i")]
    Index,
    #[serde(rename = "I")]
    PartitionedIndex,
    #[serde(rename = "c")]
    Composite,
    #[serde(rename = "t")]
    Toast,
    #[serde(other)]
    Other,
}

impl RelKind {
    /// The human name, for error messages.
    pub fn label(self) -> &'static str {
        match self {
            RelKind::Table => "an ordinary table",
            RelKind::Partitioned => "a partitioned table",
            RelKind::View => "a view",
            RelKind::MaterializedView => "a materialized view",
            RelKind::Foreign => "a foreign table",
            RelKind::Sequence => "a sequence",
            RelKind::Index | RelKind::PartitionedIndex => "an index",
            RelKind::Composite => "a composite type",
            RelKind::Toast => "a TOAST table",
            RelKind::Other => "not a table",
        }
    }

    /// Rows live here: an ordinary or a partitioned table.
    pub fn is_table(self) -> bool {
        matches!(self, RelKind::Table | RelKind::Partitioned)
    }
}

/// A constraint's kind, read from `pg_constraint.contype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ConKind {
    #[default]
    #[serde(rename = "p")]
    PrimaryKey,
    #[serde(rename = "u")]
    Unique,
    #[serde(rename = "x")]
    Exclusion,
    #[serde(rename = "f")]
    ForeignKey,
    #[serde(other)]
    Other,
}

impl ConKind {
    /// From the catalog's letter.
    pub fn from_letter(letter: &str) -> ConKind {
        match letter {
            "p" => ConKind::PrimaryKey,
            "u" => ConKind::Unique,
            "x" => ConKind::Exclusion,
            "f" => ConKind::ForeignKey,
            _ => ConKind::Other,
        }
    }

    /// A key a value is unique under: primary key, unique or exclusion constraint.
    pub fn is_key(self) -> bool {
        matches!(
            self,
            ConKind::PrimaryKey | ConKind::Unique | ConKind::Exclusion
        )
    }
}

/// A foreign key's referential action, read from `pg_constraint.confupdtype` /
/// `confdeltype` (one letter in the catalog JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FkAction {
    #[default]
    #[serde(rename = "a")]
    NoAction,
    #[serde(rename = "r")]
    Restrict,
    #[serde(rename = "c")]
    Cascade,
    #[serde(rename = "n")]
    SetNull,
    #[serde(rename = "d")]
    SetDefault,
}

impl FkAction {
    /// As SQL writes it after ON UPDATE / ON DELETE.
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// The action writes the referencing columns (SET NULL, SET DEFAULT).
    pub fn sets_columns(self) -> bool {
        matches!(self, FkAction::SetNull | FkAction::SetDefault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_catalog_letter() {
        let kinds: Vec<RelKind> = serde_json::from_str(r#"["r","p","v","m","S","I","x"]"#).unwrap();
        assert_eq!(
            kinds,
            vec![
                RelKind::Table,
                RelKind::Partitioned,
                RelKind::View,
                RelKind::MaterializedView,
                RelKind::Sequence,
                RelKind::PartitionedIndex,
                RelKind::Other
            ]
        );
        assert_eq!(RelKind::MaterializedView.label(), "a materialized view");
    }

    #[test]
    fn reads_constraint_kinds() {
        let kinds: Vec<ConKind> = serde_json::from_str(r#"["p","u","x","f","c"]"#).unwrap();
        assert_eq!(
            kinds,
            [
                ConKind::PrimaryKey,
                ConKind::Unique,
                ConKind::Exclusion,
                ConKind::ForeignKey,
                ConKind::Other
            ]
        );
        assert_eq!(ConKind::from_letter("x"), ConKind::Exclusion);
        assert!(ConKind::Unique.is_key() && !ConKind::ForeignKey.is_key());
    }

    #[test]
    fn reads_referential_actions() {
        let actions: Vec<FkAction> = serde_json::from_str(r#"["a","r","c","n","d"]"#).unwrap();
        let sql: Vec<&str> = actions.iter().map(|a| a.sql()).collect();
        assert_eq!(
            sql,
            [
                "NO ACTION",
                "RESTRICT",
                "CASCADE",
                "SET NULL",
                "SET DEFAULT"
            ]
        );
        assert!(FkAction::SetDefault.sets_columns() && !FkAction::Cascade.sets_columns());
    }
}
