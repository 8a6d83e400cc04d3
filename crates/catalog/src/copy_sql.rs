//! The `COPY` statements that move a table's data out of a source and into
//! a target: one explicit column list, the format, and the options a
//! loading transaction allows.
use crate::{quote_ident, CopyFormat, QName};

/// ` (FORMAT binary)` or nothing (text).
pub fn copy_format(format: CopyFormat) -> &'static str {
    match format {
        CopyFormat::Binary => " (FORMAT binary)",
        CopyFormat::Text => "",
    }
}

/// `schema.table (cols)`; no list for tables without columns.
pub fn copy_target(table: &QName, columns: &[String]) -> String {
    if columns.is_empty() {
        table.sql()
    } else {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        format!("{} ({})", table.sql(), cols.join(", "))
    }
}

/// The `COPY ... TO STDOUT` statement for a table's data: columns with
/// `casts` are read through them, `filter` (`WHERE …`) limits the rows.
///
/// ```
/// use pgferry_catalog::{copy_out_sql, CopyFormat, QName};
/// let t = QName { schema: "public".into(), name: "t".into() };
/// assert_eq!(
///     copy_out_sql(&t, &["id".into()], CopyFormat::Binary, &[], None),
///     "COPY public.t (id) TO STDOUT (FORMAT binary)"
/// );
/// ```
pub fn copy_out_sql(
    table: &QName,
    columns: &[String],
    format: CopyFormat,
    casts: &[(String, String)],
    filter: Option<&str>,
) -> String {
    if !casts.is_empty() || filter.is_some() {
        let cols: Vec<String> = columns
            .iter()
            .map(|c| match casts.iter().find(|(n, _)| n == c) {
                Some((_, t)) => format!("{}::{t}", quote_ident(c)),
                None => quote_ident(c),
            })
            .collect();
        return format!(
            "COPY (SELECT {} FROM ONLY {}{}) TO STDOUT{}",
            cols.join(", "),
            table.sql(),
            filter.map(|f| format!(" {f}")).unwrap_or_default(),
            copy_format(format)
        );
    }
    format!(
        "COPY {} TO STDOUT{}",
        copy_target(table, columns),
        copy_format(format)
    )
}

/// `COPY ... TO STDOUT` of the block range `[from, to)` of a table (`to =
/// None`: to the end), through a TID range scan (PostgreSQL 14+).
pub fn copy_out_blocks_sql(
    table: &QName,
    columns: &[String],
    format: CopyFormat,
    from: i64,
    to: Option<i64>,
) -> String {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let upper = to
        .map(|t| format!(" AND ctid < '({t},0)'::pg_catalog.tid"))
        .unwrap_or_default();
    format!(
        "COPY (SELECT {} FROM ONLY {} WHERE ctid >= '({from},0)'::pg_catalog.tid{upper}) TO STDOUT{}",
        cols.join(", "),
        table.sql(),
        copy_format(format)
    )
}

/// `COPY ... FROM STDIN` for a table's data; `freeze` when the table was
/// created (or truncated) in the loading transaction.
pub fn copy_in_sql(table: &QName, columns: &[String], format: CopyFormat, freeze: bool) -> String {
    let options = match (format, freeze) {
        (CopyFormat::Binary, true) => " (FORMAT binary, FREEZE)",
        (CopyFormat::Text, true) => " (FREEZE)",
        (f, false) => copy_format(f),
    };
    format!("COPY {} FROM STDIN{options}", copy_target(table, columns))
}
