//! pg_dump-style object filters: `-n/--schema`, `-N/--exclude-schema`, `-t/--table`,
//! `-T/--exclude-table`, `--exclude-table-data`, their `*-and-children` forms,
//! `-e/--extension` and `--exclude-extension`.
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

mod children;
mod file;
mod pattern;

use serde::{Deserialize, Serialize};

use children::Children;
use pattern::{Kind, Pattern};

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
    /// An include pattern (`-n`, `-t` or `-e`) that matched no object.
    #[error("no matching {kind}s were found for pattern \"{pattern}\"")]
    NoMatch {
        /// `"schema"`, `"table"` or `"extension"`.
        kind: &'static str,
        /// The pattern as given.
        pattern: String,
    },
    /// A `--filter` file that cannot be read, or one of its lines that
    /// is wrong.
    #[error("--filter {path}{}: {reason}", at_line(*.line))]
    FilterFile {
        /// The file's name as given (`-` for standard input).
        path: String,
        /// The line (from 1; 0 when the file could not be read).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" line {line}")
    }
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

    /// `NoMatch` for a `-e/--extension` pattern.
    pub fn no_matching_extension(pattern: impl Into<String>) -> FilterError {
        FilterError::NoMatch {
            kind: "extension",
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
    /// `--table-and-children`: like `-t`, and every inheritance child and
    /// partition (recursively) of a matched table too.
    pub include_tables_and_children: Vec<String>,
    /// `--exclude-table-and-children`: like `-T`, children too.
    pub exclude_tables_and_children: Vec<String>,
    /// `--exclude-table-data-and-children`: like `--exclude-table-data`,
    /// children too.
    pub exclude_table_data_and_children: Vec<String>,
    /// `-e/--extension`: dump only matching extensions (whatever the other
    /// patterns select, as pg_dump does).
    pub include_extensions: Vec<String>,
    /// `--exclude-extension`: skip matching extensions.
    pub exclude_extensions: Vec<String>,
    /// `--no-subscriptions`: leave the database's subscriptions out.
    pub no_subscriptions: bool,
    /// `--no-publications`: leave the database's publications out (with
    /// their tables and schemas).
    pub no_publications: bool,
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
        let extensions = |v: &[String]| -> Result<Vec<Pattern>, FilterError> {
            v.iter()
                .map(|p| Pattern::compile(p, Kind::Extension))
                .collect()
        };
        Ok(CompiledFilters {
            include_schemas: schemas(&self.include_schemas)?,
            exclude_schemas: schemas(&self.exclude_schemas)?,
            include_tables: tables(&self.include_tables)?,
            exclude_tables: tables(&self.exclude_tables)?,
            exclude_table_data: tables(&self.exclude_table_data)?,
            include_extensions: extensions(&self.include_extensions)?,
            exclude_extensions: extensions(&self.exclude_extensions)?,
            include_parents: tables(&self.include_tables_and_children)?,
            exclude_parents: tables(&self.exclude_tables_and_children)?,
            exclude_data_parents: tables(&self.exclude_table_data_and_children)?,
            children: Children::default(),
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
            && self.include_extensions.is_empty()
            && self.exclude_extensions.is_empty()
            && self.include_tables_and_children.is_empty()
            && self.exclude_tables_and_children.is_empty()
            && self.exclude_table_data_and_children.is_empty()
    }
}

/// Compiled [`Filters`], ready to decide what to dump (the default: no
/// patterns, everything selected).
#[derive(Debug, Clone, Default)]
pub struct CompiledFilters {
    include_schemas: Vec<Pattern>,
    exclude_schemas: Vec<Pattern>,
    include_tables: Vec<Pattern>,
    exclude_tables: Vec<Pattern>,
    exclude_table_data: Vec<Pattern>,
    include_extensions: Vec<Pattern>,
    exclude_extensions: Vec<Pattern>,
    /// `--table-and-children` and its exclude forms: the parents' patterns.
    include_parents: Vec<Pattern>,
    exclude_parents: Vec<Pattern>,
    exclude_data_parents: Vec<Pattern>,
    children: Children,
    source: Filters,
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
            && !self.in_included_tree(schema, name)
        {
            return false;
        }
        self.schema_selected(schema)
            && !self
                .exclude_tables
                .iter()
                .any(|p| p.matches_table(schema, name))
            && !self.in_excluded_tree(schema, name)
    }

    /// Should this table's data be included (`table_included` and not matched by
    /// `--exclude-table-data`)?
    pub fn table_data_included(&self, schema: &str, name: &str) -> bool {
        self.table_included(schema, name)
            && !self
                .exclude_table_data
                .iter()
                .any(|p| p.matches_table(schema, name))
            && !self.in_excluded_data_tree(schema, name)
    }

    /// True when `-t` patterns are given (pg_dump then dumps only the matched tables, not
    /// whole schemas).
    pub fn tables_only(&self) -> bool {
        !self.include_tables.is_empty() || !self.include_parents.is_empty()
    }

    /// Should this extension (installed in `schema`) be included? With `-e`,
    /// exactly the matching ones, whatever `-n`/`-N`/`-t` select (as pg_dump);
    /// otherwise those whose schema is included. `--exclude-extension` wins.
    pub fn extension_included(&self, name: &str, schema: &str) -> bool {
        let chosen = if self.include_extensions.is_empty() {
            self.schema_included(schema)
        } else {
            self.include_extensions.iter().any(|p| p.matches_name(name))
        };
        chosen && !self.exclude_extensions.iter().any(|p| p.matches_name(name))
    }

    /// True when no include pattern (`-n`, `-t`, `-e`) is given: the whole
    /// database is wanted, with its large objects and the other objects that
    /// belong to no schema (pg_dump's `include_everything`).
    pub fn whole_database(&self) -> bool {
        !self.tables_only() && self.include_schemas.is_empty() && self.include_extensions.is_empty()
    }

    /// After matching against the real object list, report include patterns (`-n`,
    /// `-t` and `--table-and-children`) that matched nothing, as given. Pass every schema and every
    /// `(schema, relation)` seen. A `-t` pattern counts as matched only by relations in
    /// schemas that `-n` selects (if any); `-N`/`-T` do not make a pattern unmatched.
    pub fn unmatched_patterns(&self, schemas: &[&str], tables: &[(&str, &str)]) -> Vec<String> {
        self.unmatched(schemas, tables)
            .into_iter()
            .map(|e| match e {
                FilterError::NoMatch { pattern, .. } | FilterError::BadPattern { pattern, .. } => {
                    pattern
                }
                FilterError::FilterFile { path, .. } => path,
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
        for p in self.include_tables.iter().chain(&self.include_parents) {
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

    /// `-e` patterns that match none of the `extensions` (every installed
    /// extension's name), as [`FilterError::NoMatch`] errors.
    pub fn unmatched_extensions(&self, extensions: &[&str]) -> Vec<FilterError> {
        self.include_extensions
            .iter()
            .filter(|p| !extensions.iter().any(|e| p.matches_name(e)))
            .map(|p| FilterError::no_matching_extension(&p.text))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_patterns_are_reported_by_compile() {
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
    fn extension_filters() {
        let c = Filters::default().compile().unwrap();
        assert!(c.extension_included("hstore", "public"));
        assert!(c.whole_database());
        // without -e, an extension follows its schema
        let c = Filters {
            exclude_schemas: v(&["ext"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.extension_included("hstore", "ext"));
        assert!(c.extension_included("hstore", "public"));
        let c = Filters {
            include_tables: v(&["t"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.extension_included("hstore", "public"));
        // with -e, exactly the matching ones, whatever -N and -t say
        let c = Filters {
            include_extensions: v(&["h*", "\"Odd\""]),
            exclude_extensions: v(&["hstore_plperl"]),
            exclude_schemas: v(&["ext"]),
            include_tables: v(&["t"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(c.extension_included("hstore", "ext"));
        assert!(c.extension_included("Odd", "public"));
        assert!(!c.extension_included("odd", "public"));
        assert!(!c.extension_included("hstore_plperl", "public"));
        assert!(!c.extension_included("pg_trgm", "public"));
        assert!(!c.whole_database());
        // -e alone: every schema still, but not the whole database
        let c = Filters {
            include_extensions: v(&["pg_trgm"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.is_empty());
        assert!(c.schema_included("public"));
        assert!(!c.whole_database());
        assert_eq!(
            c.unmatched_extensions(&["hstore", "plpgsql"]),
            [FilterError::no_matching_extension("pg_trgm")]
        );
        assert!(c.unmatched_extensions(&["pg_trgm"]).is_empty());
        assert_eq!(
            FilterError::no_matching_extension("x").to_string(),
            "no matching extensions were found for pattern \"x\""
        );
        // --exclude-extension alone
        let c = Filters {
            exclude_extensions: v(&["hstore"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!c.extension_included("hstore", "public"));
        assert!(c.extension_included("citext", "public"));
        assert!(c.whole_database());
        let bad = Filters {
            include_extensions: v(&["public.hstore"]),
            ..Filters::default()
        };
        assert!(bad.compile().is_err());
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
