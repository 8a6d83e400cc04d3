//! pg_dump 17's `--filter FILE`: one `include|exclude OBJECT_TYPE PATTERN`
//! a line, mapped onto the switches.
//!
//! As in pg_dump: blank lines and lines whose first non-blank character is
//! `#` are skipped, and a `#` after a pattern starts a comment; the keywords
//! are case-insensitive; a pattern is read as pg_dump reads it (blanks
//! around `.` dropped, other runs of blanks kept as one space, a
//! double-quoted part kept with its quotes, `""` in it a quote, and it may
//! run over several lines), then follows the command line's pattern rules.
//!
//! | line | switch |
//! |---|---|
//! | `include table P` / `exclude table P` | `-t P` / `-T P` |
//! | `include table_and_children P` / `exclude …` | `--table-and-children P` / `--exclude-table-and-children P` |
//! | `exclude table_data P` | `--exclude-table-data P` |
//! | `exclude table_data_and_children P` | `--exclude-table-data-and-children P` |
//! | `include schema P` / `exclude schema P` | `-n P` / `-N P` |
//! | `include extension P` / `exclude extension P` | `-e P` / `--exclude-extension P` |
//!
//! Refused, naming the line: `include table_data…` (pg_dump refuses it too),
//! `foreign_data` (pgferry copies no foreign table's rows), `function`,
//! `trigger` and `index` (pg_restore's selections, which pgferry does not
//! make), `database` (pg_dumpall's). Unlike pg_dump, `include extension`
//! in a file is exactly `-e` (pg_dump's file form keeps large objects).
use std::io::Read;
use std::path::Path;

use super::pattern::{Kind, Pattern};
use super::{FilterError, Filters};

impl Filters {
    /// Reads a pg_dump filter file (`-` reads standard input) into the
    /// patterns it stands for (see the module docs). Errors name the file
    /// and the line.
    pub fn read_filter_file(path: &Path) -> Result<Filters, FilterError> {
        let (name, text) = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| file_error("-", 0, e.to_string()))?;
            ("-".to_string(), text)
        } else {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|e| file_error(&name, 0, e.to_string()))?;
            (name, text)
        };
        Filters::parse_filter_file(&text, &name)
    }

    /// Parses the text of a filter file; `name` is the file's name in errors.
    pub fn parse_filter_file(text: &str, name: &str) -> Result<Filters, FilterError> {
        let mut out = Filters::default();
        let mut r = Reader {
            chars: text.chars().collect(),
            i: 0,
            line: 1,
        };
        while r.i < r.chars.len() {
            let line = r.line;
            let fail = |reason: String| file_error(name, line, reason);
            r.skip_blanks();
            if matches!(r.peek(), None | Some('\n') | Some('#')) {
                r.next_line();
                continue;
            }
            let command = r.word();
            let include = match command.to_ascii_lowercase().as_str() {
                "include" => true,
                "exclude" => false,
                _ => {
                    return Err(fail(format!(
                        "unknown command '{command}' (expected include or exclude)"
                    )))
                }
            };
            r.skip_blanks();
            let object = r.word();
            if object.is_empty() {
                return Err(fail("missing object type".into()));
            }
            let object = object.to_ascii_lowercase();
            let (list, kind) = target(&mut out, include, &object).map_err(&fail)?;
            let pattern = r
                .pattern()
                .map_err(|(at, reason)| file_error(name, at, reason))?;
            if pattern.is_empty() {
                return Err(fail("missing object name pattern".into()));
            }
            Pattern::compile(&pattern, kind).map_err(|e| fail(e.to_string()))?;
            list.push(pattern);
            r.next_line();
        }
        Ok(out)
    }

    /// Adds `other`'s patterns to these (the command line's and each
    /// `--filter` file's add up, as pg_dump's do).
    pub fn add_patterns(&mut self, other: Filters) {
        let Filters {
            include_schemas,
            exclude_schemas,
            include_tables,
            exclude_tables,
            exclude_table_data,
            include_tables_and_children,
            exclude_tables_and_children,
            exclude_table_data_and_children,
            include_extensions,
            exclude_extensions,
            ..
        } = other;
        self.include_schemas.extend(include_schemas);
        self.exclude_schemas.extend(exclude_schemas);
        self.include_tables.extend(include_tables);
        self.exclude_tables.extend(exclude_tables);
        self.exclude_table_data.extend(exclude_table_data);
        self.include_tables_and_children
            .extend(include_tables_and_children);
        self.exclude_tables_and_children
            .extend(exclude_tables_and_children);
        self.exclude_table_data_and_children
            .extend(exclude_table_data_and_children);
        self.include_extensions.extend(include_extensions);
        self.exclude_extensions.extend(exclude_extensions);
    }
}

fn file_error(name: &str, line: usize, reason: String) -> FilterError {
    FilterError::FilterFile {
        path: name.to_string(),
        line,
        reason,
    }
}

/// The list a line's pattern joins, and how the pattern is read.
fn target<'a>(
    f: &'a mut Filters,
    include: bool,
    object: &str,
) -> Result<(&'a mut Vec<String>, Kind), String> {
    let verb = if include { "include" } else { "exclude" };
    Ok(match (object, include) {
        ("table", true) => (&mut f.include_tables, Kind::Table),
        ("table", false) => (&mut f.exclude_tables, Kind::Table),
        ("table_and_children", true) => (&mut f.include_tables_and_children, Kind::Table),
        ("table_and_children", false) => (&mut f.exclude_tables_and_children, Kind::Table),
        ("table_data", false) => (&mut f.exclude_table_data, Kind::Table),
        ("table_data_and_children", false) => (&mut f.exclude_table_data_and_children, Kind::Table),
        ("schema", true) => (&mut f.include_schemas, Kind::Schema),
        ("schema", false) => (&mut f.exclude_schemas, Kind::Schema),
        ("extension", true) => (&mut f.include_extensions, Kind::Extension),
        ("extension", false) => (&mut f.exclude_extensions, Kind::Extension),
        ("table_data" | "table_data_and_children", true) => {
            return Err(format!(
                "'include {object}' is not allowed (a table's rows come with the table; \
                 'exclude {object}' leaves them out)"
            ))
        }
        ("foreign_data", _) => {
            return Err(format!(
                "'{verb} foreign_data' is not supported: pgferry copies no foreign table's rows"
            ))
        }
        ("function" | "trigger" | "index", _) => {
            return Err(format!(
                "'{verb} {object}' is not supported: pg_restore's selection of single \
                 functions, triggers and indexes has no pgferry equivalent"
            ))
        }
        ("database", _) => return Err(format!("'{verb} database' is pg_dumpall's, not pg_dump's")),
        _ => return Err(format!("unknown object type '{object}'")),
    })
}

/// A cursor over the file's characters that counts lines.
struct Reader {
    chars: Vec<char>,
    i: usize,
    line: usize,
}

/// Blanks inside a line (a newline ends the line).
fn blank(c: char) -> bool {
    c != '\n' && c.is_whitespace()
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(blank) {
            self.i += 1;
        }
    }

    /// Past the end of the current line (a comment included).
    fn next_line(&mut self) {
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == '\n' {
                self.line += 1;
                return;
            }
        }
    }

    /// A keyword: the characters up to the next blank.
    fn word(&mut self) -> String {
        let mut w = String::new();
        while let Some(c) = self.peek().filter(|c| !c.is_whitespace()) {
            w.push(c);
            self.i += 1;
        }
        w
    }

    /// The rest of the line up to a `#` comment, read as pg_dump's
    /// `read_pattern` reads it: blanks next to `.`, `,`, `(` and `)` dropped,
    /// other runs of blanks one space (pg_dump also puts a space before a
    /// quoted part after such a blank run, or after a separator: not here);
    /// a quoted part may span lines. Errors carry their line.
    fn pattern(&mut self) -> Result<String, (usize, String)> {
        let mut out = String::new();
        // A blank run was seen where a space belongs (between two words).
        let mut space = false;
        // The last thing kept was a separator (or nothing yet).
        let mut separated = true;
        while let Some(c) = self.peek().filter(|&c| c != '\n' && c != '#') {
            if blank(c) {
                self.skip_blanks();
                space = !separated;
                continue;
            }
            match c {
                ',' | '.' | '(' | ')' => {
                    out.push(c);
                    if c == ',' {
                        out.push(' ');
                    }
                    self.i += 1;
                    separated = true;
                }
                _ => {
                    if space {
                        out.push(' ');
                    }
                    if c == '"' {
                        self.quoted(&mut out)?;
                    } else {
                        out.push(c);
                        self.i += 1;
                    }
                    separated = false;
                }
            }
            space = false;
        }
        Ok(out)
    }

    /// A double-quoted part, kept with its quotes (`""` stays `""`); `\n`
    /// is a newline and `\\` a backslash, as in pg_dump.
    fn quoted(&mut self, out: &mut String) -> Result<(), (usize, String)> {
        let start = self.line;
        out.push('"');
        self.i += 1;
        loop {
            let Some(c) = self.peek() else {
                return Err((
                    start,
                    "unterminated quoted name (the file ends inside it)".into(),
                ));
            };
            self.i += 1;
            match c {
                '\r' => {}
                '\n' => {
                    self.line += 1;
                    out.push('\n');
                }
                '"' => {
                    out.push('"');
                    if self.peek() == Some('"') {
                        out.push('"');
                        self.i += 1;
                    } else {
                        return Ok(());
                    }
                }
                '\\' => match self.peek() {
                    Some('n') => {
                        out.push('\n');
                        self.i += 1;
                    }
                    Some('\\') => {
                        out.push('\\');
                        self.i += 1;
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Filters, FilterError> {
        Filters::parse_filter_file(text, "f.txt")
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_object_type_maps_onto_its_switch() {
        let f = parse(
            "# a comment\n\
             \n\
             include table orders\n\
             exclude table tmp_*\n\
             include table_and_children measurements\n\
             exclude table_and_children old_parts\n\
             exclude table_data audit.log\n\
             exclude table_data_and_children events\n\
             include schema app\n\
             exclude schema app_old\n\
             include extension hstore\n\
             exclude extension plpgsql\n",
        )
        .unwrap();
        assert_eq!(
            f,
            Filters {
                include_tables: v(&["orders"]),
                exclude_tables: v(&["tmp_*"]),
                include_tables_and_children: v(&["measurements"]),
                exclude_tables_and_children: v(&["old_parts"]),
                exclude_table_data: v(&["audit.log"]),
                exclude_table_data_and_children: v(&["events"]),
                include_schemas: v(&["app"]),
                exclude_schemas: v(&["app_old"]),
                include_extensions: v(&["hstore"]),
                exclude_extensions: v(&["plpgsql"]),
                ..Filters::default()
            }
        );
        assert!(parse("").unwrap().is_empty());
        assert!(parse("   # only comments\n\t\n#\n").unwrap().is_empty());
    }

    #[test]
    fn patterns_are_read_as_pg_dump_reads_them() {
        let f = parse(
            "  INCLUDE   Table   public . \"Big Table\"   # trailing comment\n\
             include table \"say \"\"hi\"\"\"\n\
             include table my table\n\
             include table \"a#b\".c#d\n\
             include table s . \"x\" ( y , z )\n\
             include table foo bar\"Baz\"\n\
             exclude schema \"two\nlines\"\r\n\
             exclude schema \"back\\\\slash\\n\"\n",
        )
        .unwrap();
        assert_eq!(
            f.include_tables,
            v(&[
                "public.\"Big Table\"",
                "\"say \"\"hi\"\"\"",
                "my table",
                "\"a#b\".c",
                "s.\"x\"(y, z)",
                "foo bar\"Baz\""
            ])
        );
        assert_eq!(
            f.exclude_schemas,
            v(&["\"two\nlines\"", "\"back\\slash\n\""])
        );
        // the patterns then match as on the command line
        let c = f.compile().unwrap();
        assert!(c.table_included("public", "Big Table"));
        assert!(c.table_included("x", "say \"hi\""));
        assert!(c.table_included("a#b", "c"));
        // a multi-line name counts its lines: the error after it is on line 4
        let e =
            parse("exclude schema \"a\nb\"\nexclude schema x\ninclude nothing y\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--filter f.txt line 4: unknown object type 'nothing'"
        );
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line() {
        let cases = [
            (
                "include table a\n\ninclude tabel b\n",
                3,
                "unknown object type 'tabel'",
            ),
            ("inclde table a\n", 1, "unknown command 'inclde'"),
            ("include\n", 1, "missing object type"),
            ("include table\n", 1, "missing object name pattern"),
            (
                "include table   # nothing\n",
                1,
                "missing object name pattern",
            ),
            (
                "#\ninclude table_data t\n",
                2,
                "'include table_data' is not allowed",
            ),
            ("include table_data_and_children t\n", 1, "is not allowed"),
            (
                "include foreign_data srv\n",
                1,
                "copies no foreign table's rows",
            ),
            ("exclude function f(int)\n", 1, "pg_restore's selection"),
            ("include trigger t\n", 1, "pg_restore's selection"),
            ("include index i\n", 1, "pg_restore's selection"),
            ("include database d\n", 1, "pg_dumpall's"),
            ("include table a.b.c.d\n", 1, "too many dotted names"),
            (
                "include extension public.hstore\n",
                1,
                "too many dotted names",
            ),
            (
                "x\ninclude table \"open\nstill open\n",
                1,
                "unknown command 'x'",
            ),
            (
                "include table \"open\nstill open\n",
                1,
                "unterminated quoted name",
            ),
        ];
        for (text, line, reason) in cases {
            let e = parse(text).unwrap_err();
            let FilterError::FilterFile { path, line: at, .. } = &e else {
                panic!("{text:?}: {e:?}");
            };
            assert_eq!((path.as_str(), *at), ("f.txt", line), "{text:?}: {e}");
            let prefix = format!("--filter f.txt line {line}: ");
            assert!(e.to_string().starts_with(&prefix), "{text:?}: {e}");
            assert!(e.to_string().contains(reason), "{text:?}: {e}");
        }
    }

    #[test]
    fn files_are_read_and_patterns_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "include schema app\nexclude table app.tmp\n").unwrap();
        let mut f = Filters {
            include_schemas: v(&["other"]),
            no_publications: true,
            ..Filters::default()
        };
        f.add_patterns(Filters::read_filter_file(&path).unwrap());
        assert_eq!(f.include_schemas, v(&["other", "app"]));
        assert_eq!(f.exclude_tables, v(&["app.tmp"]));
        assert!(f.no_publications);
        let missing = dir.path().join("missing.txt");
        let e = Filters::read_filter_file(&missing).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("--filter {}: ", missing.display())),
            "{e}"
        );
    }
}
