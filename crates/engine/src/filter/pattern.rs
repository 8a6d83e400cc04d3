//! One compiled name pattern (the rules are in the parent module's docs).
use regex::Regex;

use super::FilterError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Schema,
    Table,
    /// An extension's name: never qualified (pg_dump refuses any dot).
    Extension,
}

/// One compiled pattern. `None` parts match anything.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) text: String,
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
    pub(super) fn compile(text: &str, kind: Kind) -> Result<Pattern, FilterError> {
        if text.is_empty() {
            return Err(FilterError::bad(text, "empty pattern"));
        }
        // The dotted names before the one being read, and that one.
        let mut parts = Vec::new();
        let mut part = Part {
            regex: String::new(),
            used: false,
        };
        let mut in_quotes = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
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
                    parts.push(std::mem::replace(
                        &mut part,
                        Part {
                            regex: String::new(),
                            used: false,
                        },
                    ));
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
        parts.push(part);
        // The names a pattern may hold; one more is a database's (refused).
        let (names, database) = match kind {
            Kind::Extension => (1, false),
            Kind::Schema => (1, true),
            Kind::Table => (2, true),
        };
        if parts.len() > names + usize::from(database) {
            return Err(FilterError::bad(text, "too many dotted names"));
        }
        if parts.len() > names {
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
        // For schema and extension patterns the single part is the name.
        let (schema, name) = match kind {
            Kind::Schema | Kind::Extension => (name, None),
            Kind::Table => (schema, name),
        };
        Ok(Pattern {
            text: text.to_string(),
            schema,
            name,
        })
    }

    pub(super) fn matches_schema(&self, schema: &str) -> bool {
        self.schema.as_ref().is_none_or(|r| r.is_match(schema))
    }

    /// A one-part pattern (schema, extension) against a name.
    pub(super) fn matches_name(&self, name: &str) -> bool {
        self.matches_schema(name)
    }

    pub(super) fn matches_table(&self, schema: &str, name: &str) -> bool {
        self.matches_schema(schema) && self.name.as_ref().is_none_or(|r| r.is_match(name))
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
        // an extension's name is never qualified
        let e = Pattern::compile("public.hstore", Kind::Extension).unwrap_err();
        assert!(e.to_string().contains("too many dotted names"), "{e}");
        assert!(Pattern::compile(r#""pg.trgm""#, Kind::Extension).is_ok());
    }
}
