//! Comparing schemas with `pg_dump`: plain-format dumps normalised so that
//! two dumps compare equal when the schemas are equal.

use crate::db::TestDb;

/// `pg_dump --schema-only` of `db`, normalised with [`normalize_dump`] so that
/// two dumps compare equal when the schemas are equal.
pub fn pg_dump_schema(db: &TestDb) -> String {
    normalize_dump(&db.pg_dump(&["--schema-only"]))
}

/// Normalises the run-specific lines of a plain-format `pg_dump` output: the
/// random key of `\restrict` / `\unrestrict` (pg_dump 17.6+, 16.10+, 15.14+,
/// …) and the `-- Dumped from database version` / `-- Dumped by pg_dump
/// version` comments.
pub fn normalize_dump(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len());
    for line in dump.lines() {
        let line = if line.starts_with("\\restrict ") {
            "\\restrict KEY"
        } else if line.starts_with("\\unrestrict ") {
            "\\unrestrict KEY"
        } else if line.starts_with("-- Dumped from database version") {
            "-- Dumped from database version X"
        } else if line.starts_with("-- Dumped by pg_dump version") {
            "-- Dumped by pg_dump version X"
        } else {
            line
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_dumps() {
        let a = "--\n-- Dumped from database version 15.18\n-- Dumped by pg_dump version 15.18\n\\restrict abc\nCREATE TABLE t ();\n\\unrestrict abc\n";
        let b = "--\n-- Dumped from database version 16.1\n-- Dumped by pg_dump version 16.1\n\\restrict xyz\nCREATE TABLE t ();\n\\unrestrict xyz\n";
        assert_eq!(normalize_dump(a), normalize_dump(b));
        assert_ne!(
            normalize_dump(a),
            normalize_dump(&b.replace("t ()", "u ()"))
        );
    }
}
