//! Identifiers, literals and generated names, in one place.
//!
//! Everything here is pure Rust so that plans can be built and unit-tested without a
//! running PostgreSQL. `quote_ident` follows the `quote_identifier()` of the major it
//! is built for exactly (a `#[pg_test]` checks it against the server for every
//! keyword), so plan text matches what `format('%I')` would print.

/// Keywords that PostgreSQL 15 quotes (every category but UNRESERVED), from
/// `src/include/parser/kwlist.h`. Sorted, for binary search.
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Keywords PostgreSQL 16-18 added that `quote_identifier()` quotes (the SQL/JSON
/// functions, MERGE_ACTION, SYSTEM_USER). Sorted.
#[cfg(feature = "pg18")]
const QUOTED_KEYWORDS_SINCE_16: &[&str] = &[
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "merge_action",
    "system_user",
];
#[cfg(not(feature = "pg18"))]
const QUOTED_KEYWORDS_SINCE_16: &[&str] = &[];

/// PostgreSQL's maximum identifier length in bytes (NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;

/// Quote an identifier the way PostgreSQL's `quote_ident()` does: bare when it is a
/// lower-case name that is not a keyword, otherwise in double quotes with `"` doubled.
pub fn quote_ident(name: &str) -> String {
    let safe = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&name).is_err()
        && QUOTED_KEYWORDS_SINCE_16.binary_search(&name).is_err();
    if safe {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Quote a string literal the way PostgreSQL's `quote_literal()` does. DDL cannot take
/// parameters (a column default, for one, is part of the statement), so the few values
/// that must appear in DDL go through here; every other value is a $n parameter.
pub fn quote_literal(value: &str) -> String {
    let body = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// Cut `s` to at most `max` bytes without splitting a UTF-8 character, as
/// PostgreSQL's `pg_mbcliplen` does when it truncates a name.
pub fn clip_to_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A generated object name `<base><suffix>` that fits in 63 bytes and is not in `taken`.
/// Like PostgreSQL's `ChooseRelationName`, the base is clipped first and a number is
/// added before the suffix when the name is taken (`skills_tenant_id_idx1`, ...).
pub fn choose_name(base: &str, suffix: &str, taken: &dyn Fn(&str) -> bool) -> String {
    for n in 0u32.. {
        let tail = if n == 0 {
            suffix.to_string()
        } else {
            format!("{suffix}{n}")
        };
        let room = MAX_IDENT_BYTES.saturating_sub(tail.len());
        let candidate = format!("{}{}", clip_to_bytes(base, room), tail);
        if !taken(&candidate) {
            return candidate;
        }
    }
    unreachable!("u32 ran out of names")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_sorted_for_binary_search() {
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(QUOTED_KEYWORDS_SINCE_16.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn plain_names_stay_bare() {
        assert_eq!(quote_ident("skills"), "skills");
        assert_eq!(quote_ident("_x1"), "_x1");
        assert_eq!(quote_ident("tenant_id"), "tenant_id");
    }

    #[test]
    fn odd_names_are_quoted() {
        assert_eq!(quote_ident("Skills"), "\"Skills\"");
        assert_eq!(quote_ident("my table"), "\"my table\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1abc"), "\"1abc\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("ütf"), "\"ütf\"");
        assert_eq!(quote_ident(""), "\"\"");
        // unreserved keywords stay bare, as in PostgreSQL
        assert_eq!(quote_ident("name"), "name");
        assert_eq!(quote_ident("data"), "data");
    }

    #[test]
    fn qualified_names_quote_each_part() {
        assert_eq!(quote_qualified("App Data", "skills"), "\"App Data\".skills");
    }

    #[test]
    fn literals_double_quotes_and_escape_backslashes() {
        assert_eq!(quote_literal("default"), "'default'");
        assert_eq!(quote_literal("o'brien"), "'o''brien'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
    }

    #[test]
    fn generated_names_fit_63_bytes_on_a_char_boundary() {
        let long = "é".repeat(40); // 80 bytes
        let name = choose_name(&long, "_tenant_id_idx", &|_| false);
        assert!(name.len() <= MAX_IDENT_BYTES, "{} bytes", name.len());
        assert!(name.ends_with("_tenant_id_idx"));
        assert!(name.starts_with("éé"));
    }

    #[test]
    fn taken_names_get_a_number() {
        let taken = ["skills_tenant_id_idx", "skills_tenant_id_idx1"];
        let name = choose_name("skills", "_tenant_id_idx", &|n| taken.contains(&n));
        assert_eq!(name, "skills_tenant_id_idx2");
    }
}
