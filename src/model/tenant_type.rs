//! The tenant column's type, as relay supports it: text (relay's own column), uuid,
//! bigint and integer (adopted columns). One place for what differs between them: the
//! SQL type, relay's function twins, how a tenant id given as text parses. A leaf.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TenantType {
    #[default]
    Text,
    Uuid,
    Bigint,
    Integer,
    /// Any other type: refused by the planner (TenantColumnType).
    Other,
}

impl TenantType {
    /// From the key the catalog query and the registry use (`text`, `uuid`, `bigint`,
    /// `integer`, `other`); an empty key (older registry rows) is text.
    pub fn from_key(key: &str) -> TenantType {
        match key {
            "" | "text" => TenantType::Text,
            "uuid" => TenantType::Uuid,
            "bigint" => TenantType::Bigint,
            "integer" => TenantType::Integer,
            _ => TenantType::Other,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            TenantType::Text => "text",
            TenantType::Uuid => "uuid",
            TenantType::Bigint => "bigint",
            TenantType::Integer => "integer",
            TenantType::Other => "other",
        }
    }

    /// relay supports it as a tenant column.
    pub fn supported(self) -> bool {
        self != TenantType::Other
    }

    /// The SQL type (schema-qualified), for casts of text parameters.
    pub fn sql_type(self) -> &'static str {
        match self {
            TenantType::Uuid => "pg_catalog.uuid",
            TenantType::Bigint => "pg_catalog.int8",
            TenantType::Integer => "pg_catalog.int4",
            TenantType::Text | TenantType::Other => "pg_catalog.text",
        }
    }

    /// The type relay's tenant functions compare with (integer columns: bigint).
    pub fn compared_as(self) -> &'static str {
        match self {
            TenantType::Uuid => "pg_catalog.uuid",
            TenantType::Bigint | TenantType::Integer => "pg_catalog.int8",
            TenantType::Text | TenantType::Other => "pg_catalog.text",
        }
    }

    /// relay's function `function` for this type: the text one, or its `_uuid` /
    /// `_bigint` twin.
    pub fn function(self, function: &str) -> String {
        match self {
            TenantType::Uuid => format!("{function}_uuid"),
            TenantType::Bigint | TenantType::Integer => format!("{function}_bigint"),
            TenantType::Text | TenantType::Other => function.to_string(),
        }
    }

    /// A tenant id given as text is a value of this type.
    pub fn accepts(self, id: &str) -> bool {
        match self {
            TenantType::Uuid => parse_uuid(id).is_some(),
            TenantType::Bigint | TenantType::Integer => id.parse::<i64>().is_ok(),
            TenantType::Text | TenantType::Other => true,
        }
    }
}

impl Serialize for TenantType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl<'de> Deserialize<'de> for TenantType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        Ok(TenantType::from_key(&key))
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (any case, hyphens optional) as 16 bytes.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
    if hex.len() != 32 || text.len() > 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_older_empty_keys_are_text() {
        for t in [
            TenantType::Text,
            TenantType::Uuid,
            TenantType::Bigint,
            TenantType::Integer,
            TenantType::Other,
        ] {
            assert_eq!(TenantType::from_key(t.key()), t);
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.key())
            );
        }
        assert_eq!(TenantType::from_key(""), TenantType::Text);
        assert_eq!(
            serde_json::from_str::<TenantType>("\"\"").unwrap(),
            TenantType::Text
        );
        assert_eq!(TenantType::from_key("numeric"), TenantType::Other);
    }

    #[test]
    fn functions_casts_and_values_by_type() {
        assert_eq!(
            TenantType::Integer.function("relay_policy_tenant"),
            "relay_policy_tenant_bigint"
        );
        assert_eq!(
            TenantType::Text.function("relay_insert_tenant"),
            "relay_insert_tenant"
        );
        assert_eq!(TenantType::Integer.sql_type(), "pg_catalog.int4");
        assert_eq!(TenantType::Integer.compared_as(), "pg_catalog.int8");
        assert!(TenantType::Uuid.accepts("0190a6c0-0000-7000-8000-000000000001"));
        assert!(!TenantType::Uuid.accepts("acme"));
        assert!(TenantType::Bigint.accepts("42") && !TenantType::Bigint.accepts("acme"));
        assert!(TenantType::Text.accepts("acme"));
    }
}
