//! pg_dump-style object filters: `-n/--schema`, `-N/--exclude-schema`, `-t/--table`,
//! `-T/--exclude-table` and `--exclude-table-data`.
//!
//! # Pattern rules
//!
//! Patterns follow pg_dump / psql "Patterns" (`processSQLNamePattern`):
//!
//! * outside double quotes ASCII letters are folded to lower case, `*` matches any
//!   sequence of characters, `?` any single character and `.` separates the schema part
//!   from the name part;
//! * inside double quotes text is literal and case-sensitive (`*`, `?` and `.` included);
//!   `""` inside quotes is a literal `"`;
//! * the whole name must match (patterns are anchored);
//! * an empty part matches anything (`.orders` = `orders` in any schema, `sales.` = every
//!   relation of `sales`);
//! * a table pattern without a dot matches relations of that name in any schema.
//!
//! Deviations from pg_dump:
//!
//! * pg_dump passes other characters outside quotes (`+ ( ) [ ] { } | ^`) through as
//!   regular-expression operators; here *every* character other than `*`, `?`, `.` and `"`
//!   is literal (so `a+b` matches the name `a+b`). `$` is literal in both.
//! * database-qualified patterns (`db.schema.table`, or `db.schema` for `-n`) are rejected
//!   ("cross-database references are not supported") instead of being accepted when the
//!   database part names the current database.
//! * an unterminated double quote is an error (pg_dump silently closes it) and so is an
//!   empty pattern.
//! * with `-t`, a table must also lie in a schema selected by `-n` (if any) and outside
//!   every `-N` schema (pg_dump ignores `-n`/`-N` when `-t` is given). Excludes always win.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Errors from compiling or applying filters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A pattern that cannot be compiled.
    #[error("invalid pattern \"{pattern}\": {reason}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An include pattern (`-n` or `-t`) that matched no object.
    #[error("no matching {kind}s were found for pattern \"{pattern}\"")]
    NoMatch {
        /// `"schema"` or `"table"`.
        kind: &'static str,
        /// The pattern as given.
        pattern: String,
    },
}

impl FilterError {
    /// `NoMatch` for a `-n/--schema` pattern.
    pub fn no_matching_schema(pattern: impl Into<String>) -> FilterError {
        FilterError::NoMatch {
            kind: "schema",
            pattern: pattern.into(),
        }
    }

    /// `NoMatch` for a `-t/--table` pattern.
    pub fn no_matching_table(pattern: impl Into<String>) -> FilterError {
        FilterError::NoMatch {
            kind: "table",
            pattern: pattern.into(),
        }
    }

    fn bad(pattern: &str, reason: impl Into<String>) -> FilterError {
        FilterError::BadPattern {
            pattern: pattern.to_string(),
            reason: reason.into(),
        }
    }
}

/// Filter patterns as given on the command line or in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    /// `-n/--schema`: dump only matching schemas.
    pub include_schemas: Vec<String>,
    /// `-N/--exclude-schema`: skip matching schemas.
    pub exclude_schemas: Vec<String>,
    /// `-t/--table`: dump only matching relations.
    pub include_tables: Vec<String>,
    /// `-T/--exclude-table`: skip matching relations.
    pub exclude_tables: Vec<String>,
    /// `--exclude-table-data`: dump the definition of matching tables but not their rows.
    pub exclude_table_data: Vec<String>,
    /// `--no-subscriptions`: leave the database's subscriptions out.
    pub no_subscriptions: bool,
    /// `--user-mapping-passwords`: keep user mappings' `password` option
    /// (left out by default, so archives and replicas hold no secrets).
    pub user_mapping_passwords: bool,
    /// `--no-statistics`: leave the source's planner statistics out (the
    /// loaded relations are still analyzed on restore unless told otherwise).
    pub no_statistics: bool,
    /// `--roles`: which roles to carry (created on the target when missing).
    pub roles: pgferry_catalog::RoleSelection,
    /// `--roles update`: existing roles get the source's attributes,
    /// settings and memberships too.
    pub roles_update: bool,
    /// `--role-passwords`: carry roles' password secrets (needs read access
    /// to `pg_authid` on the source).
    pub role_passwords: bool,
}

impl Filters {
    /// Compiles every pattern; the first bad one is reported.
    pub fn compile(&self) -> Result<CompiledFilters, FilterError> {
        let schemas = |v: &[String]| -> Result<Vec<Pattern>, FilterError> {
            v.iter()
                .map(|p| Pattern::compile(p, Kind::Schema))
                .collect()
        };
        let tables = |v: &[String]| -> Result<Vec<Pattern>, FilterError> {
            v.iter().map(|p| Pattern::compile(p, Kind::Table)).collect()
        };
        Ok(CompiledFilters {
            include_schemas: schemas(&self.include_schemas)?,
            exclude_schemas: schemas(&self.exclude_schemas)?,
            include_tables: tables(&self.include_tables)?,
            exclude_tables: tables(&self.exclude_tables)?,
            exclude_table_data: tables(&self.exclude_table_data)?,
            source: self.clone(),
        })
    }

    /// True when no filter is set (everything is dumped).
    pub fn is_empty(&self) -> bool {
        self.include_schemas.is_empty()
            && self.exclude_schemas.is_empty()
            && self.include_tables.is_empty()
            && self.exclude_tables.is_empty()
            && self.exclude_table_data.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Schema,
    Table,
}

/// One compiled pattern. `None` parts match anything.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    schema: Option<Regex>,
    name: Option<Regex>,
}

/// One dot-separated part of a pattern, as a regex body.
struct Part {
    regex: String,
    /// Whether the part had any content (characters or quotes).
    used: bool,
}

impl Pattern {
    fn compile(text: &str, kind: Kind) -> Result<Pattern, FilterError> {
        if text.is_empty() {
            return Err(FilterError::bad(text, "empty pattern"));
        }
        let mut parts = vec![Part {
            regex: String::new(),
            used: false,
        }];
        let mut in_quotes = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let part = parts.last_mut().expect("at least one part");
            if c == '"' {
                part.used = true;
                if in_quotes && chars.peek() == Some(&'"') {
                    chars.next();
                    part.regex.push('"');
                } else {
                    in_quotes = !in_quotes;
                }
                continue;
            }
            if in_quotes {
                part.used = true;
                part.regex
                    .push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
                continue;
            }
            match c {
                '.' => {
                    parts.push(Part {
                        regex: String::new(),
                        used: false,
                    });
                }
                '*' => {
                    part.used = true;
                    part.regex.push_str(".*");
                }
                '?' => {
                    part.used = true;
                    part.regex.push('.');
                }
                c => {
                    part.used = true;
                    let c = c.to_ascii_lowercase();
                    part.regex
                        .push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
                }
            }
        }
        if in_quotes {
            return Err(FilterError::bad(text, "unterminated quoted identifier"));
        }
        let max = match kind {
            Kind::Schema => 1,
            Kind::Table => 2,
        };
        if parts.len() > max + 1 {
            return Err(FilterError::bad(text, "too many dotted names"));
        }
        if parts.len() == max + 1 {
            return Err(FilterError::bad(
                text,
                "cross-database references are not supported",
            ));
        }
        let build = |p: &Part| -> Result<Option<Regex>, FilterError> {
            if !p.used {
                return Ok(None);
            }
            Regex::new(&format!("^(?s:{})$", p.regex))
                .map(Some)
                .map_err(|e| FilterError::bad(text, e.to_string()))
        };
        let (schema, name) = match parts.as_slice() {
            [only] => (None, build(only)?),
            [schema, name] => (build(schema)?, build(name)?),
            _ => unreachable!("part count checked above"),
        };
        // For schema patterns the single part is the schema name.
        let (schema, name) = match kind {
            Kind::Schema => (name, None),
            Kind::Table => (schema, name),
        };
        Ok(Pattern {
            text: text.to_string(),
            schema,
            name,
        })
    }

    fn matches_schema(&self, schema: &str) -> bool {
        self.schema.as_ref().is_none_or(|r| r.is_match(schema))
    }

    fn matches_table(&self, schema: &str, name: &str) -> bool {
        self.matches_schema(schema) && self.name.as_ref().is_none_or(|r| r.is_match(name))
    }
}

/// Compiled [`Filters`], ready to decide what to dump.
#[derive(Debug, Clone)]
pub struct CompiledFilters {
    include_schemas: Vec<Pattern>,
    exclude_schemas: Vec<Pattern>,
    include_tables: Vec<Pattern>,
    exclude_tables: Vec<Pattern>,
    exclude_table_data: Vec<Pattern>,
    source: Filters,
}

impl Default for CompiledFilters {
    fn default() -> CompiledFilters {
        Filters::default()
            .compile()
            .expect("empty filters always compile")
    }
}

impl CompiledFilters {
    /// The patterns these were compiled from.
    pub fn source(&self) -> &Filters {
        &self.source
    }

    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    fn schema_selected(&self, schema: &str) -> bool {
        (self.include_schemas.is_empty()
            || self
                .include_schemas
                .iter()
                .any(|p| p.matches_schema(schema)))
            && !self
                .exclude_schemas
                .iter()
                .any(|p| p.matches_schema(schema))
    }

    /// Should the schema itself (and its non-table objects) be included?
    ///
    /// False for every schema when `-t` is given (pg_dump then dumps only the matched
    /// relations, not their schemas or other objects); otherwise the schema must match
    /// some `-n` pattern (if any) and no `-N` pattern.
    pub fn schema_included(&self, schema: &str) -> bool {
        !self.tables_only() && self.schema_selected(schema)
    }

    /// Should this relation's definition be included? (tables, views, sequences,
    /// matviews...: with `-t` only the matched relations are dumped; `-n` restricts to
    /// schemas; `-N`/`-T` exclude; excludes win.)
    pub fn table_included(&self, schema: &str, name: &str) -> bool {
        if self.tables_only()
            && !self
                .include_tables
                .iter()
                .any(|p| p.matches_table(schema, name))
        {
            return false;
        }
        self.schema_selected(schema)
            && !self
                .exclude_tables
                .iter()
                .any(|p| p.matches_table(schema, name))
    }

    /// Should this table's data be included (`table_included` and not matched by
    /// `--exclude-table-data`)?
    pub fn table_data_included(&self, schema: &str, name: &str) -> bool {
        self.table_included(schema, name)
            && !self
                .exclude_table_data
                .iter()
                .any(|p| p.matches_table(schema, name))
    }

    /// True when `-t` patterns are given (pg_dump then dumps only the matched tables, not
    /// whole schemas).
    pub fn tables_only(&self) -> bool {
        !self.include_tables.is_empty()
    }

    /// After matching against the real object list, report include patterns (`-n` and
    /// `-t`) that matched nothing, as given. Pass every schema and every
    /// `(schema, relation)` seen. A `-t` pattern counts as matched only by relations in
    /// schemas that `-n` selects (if any); `-N`/`-T` do not make a pattern unmatched.
    pub fn unmatched_patterns(&self, schemas: &[&str], tables: &[(&str, &str)]) -> Vec<String> {
        self.unmatched(schemas, tables)
            .into_iter()
            .map(|e| match e {
                FilterError::NoMatch { pattern, .. } | FilterError::BadPattern { pattern, .. } => {
                    pattern
                }
            })
            .collect()
    }

    /// Like [`CompiledFilters::unmatched_patterns`], as ready-made
    /// [`FilterError::NoMatch`] errors (schemas first, then tables).
    pub fn unmatched(&self, schemas: &[&str], tables: &[(&str, &str)]) -> Vec<FilterError> {
        let mut out = Vec::new();
        for p in &self.include_schemas {
            let seen = schemas.iter().any(|s| p.matches_schema(s))
                || tables.iter().any(|(s, _)| p.matches_schema(s));
            if !seen {
                out.push(FilterError::no_matching_schema(&p.text));
            }
        }
        for p in &self.include_tables {
            let seen = tables.iter().any(|(s, t)| {
                p.matches_table(s, t)
                    && (self.include_schemas.is_empty()
                        || self.include_schemas.iter().any(|n| n.matches_schema(s)))
            });
            if !seen {
                out.push(FilterError::no_matching_table(&p.text));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(p: &str) -> Pattern {
        Pattern::compile(p, Kind::Table).unwrap()
    }

    fn schema(p: &str) -> Pattern {
        Pattern::compile(p, Kind::Schema).unwrap()
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quoted_names_are_exact_and_case_sensitive() {
        let p = table(r#""__EFMigrationsHistory""#);
        assert!(p.matches_table("public", "__EFMigrationsHistory"));
        assert!(p.matches_table("other", "__EFMigrationsHistory"));
        assert!(!p.matches_table("public", "__efmigrationshistory"));
        assert!(!p.matches_table("public", "__EFMigrationsHistoryX"));
        assert!(!p.matches_table("public", "x__EFMigrationsHistory"));
    }

    #[test]
    fn unquoted_names_fold_to_lower_case() {
        let p = table("Orders");
        assert!(p.matches_table("public", "orders"));
        assert!(!p.matches_table("public", "Orders"));
        let p = schema("PUBLIC");
        assert!(p.matches_schema("public"));
        assert!(!p.matches_schema("PUBLIC"));
    }

    #[test]
    fn wildcards() {
        let p = table("public.*");
        assert!(p.matches_table("public", "a"));
        assert!(p.matches_table("public", ""));
        assert!(!p.matches_table("public2", "a"));
        let p = table("*.audit_?");
        assert!(p.matches_table("x", "audit_1"));
        assert!(p.matches_table("y", "audit_z"));
        assert!(!p.matches_table("y", "audit_"));
        assert!(!p.matches_table("y", "audit_12"));
        let p = table("foo*");
        assert!(p.matches_table("s", "foo"));
        assert!(p.matches_table("s", "foobar"));
        assert!(!p.matches_table("s", "xfoo"));
        let p = schema("s?les");
        assert!(p.matches_schema("sales"));
        assert!(!p.matches_schema("sles"));
        // '?' matches one character, not one byte
        assert!(table("caf?").matches_table("s", "café"));
        // wildcards match across newlines too
        assert!(table("a*b").matches_table("s", "a\nb"));
    }

    #[test]
    fn quotes_make_wildcards_and_dots_literal() {
        let p = table(r#""Sales Data".orders"#);
        assert!(p.matches_table("Sales Data", "orders"));
        assert!(!p.matches_table("sales data", "orders"));
        assert!(!p.matches_table("Sales Data", "orders2"));
        let p = table(r#""a.b""#);
        assert!(p.matches_table("any", "a.b"));
        assert!(!p.matches_table("a", "b"));
        let p = table(r#""x*?""#);
        assert!(p.matches_table("s", "x*?"));
        assert!(!p.matches_table("s", "xyz"));
        // mixing quoted and unquoted pieces in one part
        let p = table(r#"My"Table"*"#);
        assert!(p.matches_table("s", "myTable"));
        assert!(p.matches_table("s", "myTable_old"));
        assert!(!p.matches_table("s", "MyTable"));
        // "" inside quotes is a literal quote
        let p = table(r#""say ""hi""""#);
        assert!(p.matches_table("s", r#"say "hi""#));
        // "" outside quotes is an empty quoted piece
        let p = table(r#"ab""c"#);
        assert!(p.matches_table("s", "abc"));
    }

    #[test]
    fn regex_metacharacters_are_literal() {
        for name in ["a+b", "(x)", "[y]", "{z}", "p|q", "^r", "s$", r"t\u", "v.w"] {
            let pat = if name.contains('.') {
                format!("\"{name}\"")
            } else {
                name.to_string()
            };
            let p = table(&pat);
            assert!(p.matches_table("s", name), "{pat}");
        }
        let p = table("a+b");
        assert!(!p.matches_table("s", "aab"));
        let p = table("p|q");
        assert!(!p.matches_table("s", "p"));
    }

    #[test]
    fn dotted_parts() {
        let p = table("sales.orders");
        assert!(p.matches_table("sales", "orders"));
        assert!(!p.matches_table("public", "orders"));
        // no dot: any schema
        let p = table("orders");
        assert!(p.matches_table("sales", "orders"));
        assert!(p.matches_table("public", "orders"));
        // empty parts match anything
        let p = table(".orders");
        assert!(p.matches_table("x", "orders"));
        let p = table("sales.");
        assert!(p.matches_table("sales", "anything"));
        assert!(!p.matches_table("other", "anything"));
        // a quoted empty part is the empty name, not a wildcard
        let p = table(r#""".orders"#);
        assert!(!p.matches_table("x", "orders"));
        assert!(p.matches_table("", "orders"));
    }

    #[test]
    fn bad_patterns() {
        let e = Pattern::compile("a.b.c.d", Kind::Table).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid pattern \"a.b.c.d\": too many dotted names"
        );
        let e = Pattern::compile("db.s.t", Kind::Table).unwrap_err();
        assert!(e.to_string().contains("cross-database"), "{e}");
        let e = Pattern::compile("db.s", Kind::Schema).unwrap_err();
        assert!(e.to_string().contains("cross-database"), "{e}");
        let e = Pattern::compile("a.b.c", Kind::Schema).unwrap_err();
        assert!(e.to_string().contains("too many dotted names"), "{e}");
        let e = Pattern::compile(r#""unterminated"#, Kind::Table).unwrap_err();
        assert!(e.to_string().contains("unterminated"), "{e}");
        assert!(Pattern::compile("", Kind::Schema).is_err());
        // dots inside quotes do not count
        assert!(Pattern::compile(r#""a.b"."c.d""#, Kind::Table).is_ok());
        let f = Filters {
            exclude_table_data: v(&["x.y.z.w"]),
            ..Filters::default()
        };
        assert!(matches!(
            f.compile().unwrap_err(),
            FilterError::BadPattern { pattern, .. } if pattern == "x.y.z.w"
        ));
    }

    #[test]
    fn empty_filters_include_everything() {
        let f = Filters::default();
        assert!(f.is_empty());
        let c = f.compile().unwrap();
        assert!(c.is_empty());
        assert!(!c.tables_only());
        assert!(c.schema_included("public"));
        assert!(c.table_included("public", "t"));
        assert!(c.table_data_included("public", "t"));
        assert!(c.unmatched_patterns(&[], &[]).is_empty());
        let d = CompiledFilters::default();
        assert!(d.table_included("a", "b"));
    }

    #[test]
    fn schema_filters() {
        let c = Filters {
            include_schemas: v(&["sales", "app*"]),
            exclude_schemas: v(&["app_old"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.is_empty());
        assert!(c.schema_included("sales"));
        assert!(c.schema_included("app"));
        assert!(c.schema_included("app_new"));
        assert!(!c.schema_included("app_old"));
        assert!(!c.schema_included("public"));
        assert!(c.table_included("sales", "t"));
        assert!(!c.table_included("public", "t"));
        assert!(!c.table_included("app_old", "t"));

        let c = Filters {
            exclude_schemas: v(&["audit"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(c.schema_included("public"));
        assert!(!c.schema_included("audit"));
        assert!(!c.table_included("audit", "log"));
        assert!(c.table_included("public", "log"));
    }

    #[test]
    fn table_filters() {
        let c = Filters {
            include_tables: v(&["orders*", "public.users"]),
            exclude_tables: v(&["orders_old"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(c.tables_only());
        assert!(!c.schema_included("public"));
        assert!(c.table_included("public", "orders"));
        assert!(c.table_included("sales", "orders_2024"));
        assert!(!c.table_included("sales", "orders_old"));
        assert!(c.table_included("public", "users"));
        assert!(!c.table_included("sales", "users"));
        assert!(!c.table_included("public", "items"));

        // -T alone
        let c = Filters {
            exclude_tables: v(&["*.tmp_*"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.tables_only());
        assert!(c.schema_included("public"));
        assert!(!c.table_included("x", "tmp_1"));
        assert!(c.table_included("x", "tmp"));
    }

    #[test]
    fn excludes_win_and_schemas_restrict_tables() {
        let c = Filters {
            include_schemas: v(&["sales"]),
            exclude_schemas: v(&["hidden"]),
            include_tables: v(&["orders"]),
            exclude_tables: v(&["sales.orders"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.table_included("sales", "orders"));
        assert!(!c.table_included("public", "orders"));
        assert!(!c.table_included("hidden", "orders"));
        let c = Filters {
            exclude_schemas: v(&["hidden"]),
            include_tables: v(&["orders"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(c.table_included("public", "orders"));
        assert!(!c.table_included("hidden", "orders"));
        let c = Filters {
            include_tables: v(&["t"]),
            exclude_tables: v(&["t"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.table_included("public", "t"));
    }

    #[test]
    fn table_data_filters() {
        let c = Filters {
            exclude_table_data: v(&["audit_log", "\"Big\".*"]),
            exclude_tables: v(&["gone"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(c.table_included("public", "audit_log"));
        assert!(!c.table_data_included("public", "audit_log"));
        assert!(c.table_included("Big", "x"));
        assert!(!c.table_data_included("Big", "x"));
        assert!(c.table_data_included("big", "x"));
        assert!(!c.table_data_included("public", "gone"));
        assert!(c.table_data_included("public", "other"));
        assert!(!c.tables_only());
        assert!(c.schema_included("public"));
    }

    #[test]
    fn unmatched_patterns_report() {
        let f = Filters {
            include_schemas: v(&["sales", "nope*"]),
            include_tables: v(&["orders", "foo*", "public.items"]),
            ..Filters::default()
        };
        let c = f.compile().unwrap();
        let schemas = ["sales", "public"];
        let tables = [("sales", "orders"), ("public", "items"), ("public", "foo1")];
        // public.items and foo1 are outside the -n schemas, so those -t patterns are unmatched
        assert_eq!(
            c.unmatched_patterns(&schemas, &tables),
            v(&["nope*", "foo*", "public.items"])
        );
        let errs = c.unmatched(&schemas, &tables);
        assert_eq!(errs[0], FilterError::no_matching_schema("nope*"));
        assert_eq!(
            errs[1].to_string(),
            "no matching tables were found for pattern \"foo*\""
        );
        assert_eq!(
            errs[0].to_string(),
            "no matching schemas were found for pattern \"nope*\""
        );

        let c = Filters {
            include_tables: v(&["orders", "foo*"]),
            exclude_tables: v(&["orders"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        // excluded-but-matched still counts as matched
        assert_eq!(
            c.unmatched_patterns(&["public"], &[("public", "orders")]),
            v(&["foo*"])
        );
        // schemas only seen through tables count
        let c = Filters {
            include_schemas: v(&["s"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(c.unmatched_patterns(&[], &[("s", "t")]).is_empty());
    }

    #[test]
    fn serde_round_trip() {
        let f = Filters {
            include_schemas: v(&["a"]),
            exclude_table_data: v(&["b.*"]),
            ..Filters::default()
        };
        let j = serde_json::to_string(&f).unwrap();
        let g: Filters = serde_json::from_str(&j).unwrap();
        assert_eq!(f, g);
        let partial: Filters = serde_json::from_str(r#"{"include_tables":["x"]}"#).unwrap();
        assert_eq!(partial.include_tables, v(&["x"]));
        assert!(partial.exclude_tables.is_empty());
    }
}
