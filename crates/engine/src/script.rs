//! The SQL scripts pgferry writes (`dump --format plain`, `restore -f`):
//! the pieces both make alike, so a script from an archive reads as one
//! made from the source.
use pgferry_catalog::{copy_target, quote_ident, Catalog, Object, QName};

/// What the script's session must set for psql to replay it anywhere.
const PREAMBLE: &str = "SET statement_timeout = 0;\n\
SET lock_timeout = 0;\n\
SET idle_in_transaction_session_timeout = 0;\n\
SET client_encoding = 'UTF8';\n\
SET standard_conforming_strings = on;\n\
SELECT pg_catalog.set_config('search_path', '', false);\n\
SET check_function_bodies = false;\n\
SET xmloption = content;\n\
SET client_min_messages = warning;\n\
SET row_security = off;\n";

/// The last line of a complete script: a script cut short lacks it.
pub(crate) const COMPLETE: &str = "-- pgferry plain dump complete\n";

/// The opening comment and the preamble.
pub(crate) fn header(catalog: &Catalog) -> String {
    format!(
        "--\n-- pgferry plain dump of database {} (PostgreSQL {})\n-- Replay with: psql -v ON_ERROR_STOP=1 --single-transaction -f FILE\n--\n\n{PREAMBLE}",
        catalog.database.replace('\n', " "),
        catalog.server_version
    )
}

/// Statements, each ended with `;` and a line break.
pub(crate) fn statements(stmts: &[String]) -> String {
    stmts.iter().map(|s| format!("{s};\n")).collect()
}

/// `-C`: the database, created like its source (template0, its encoding)
/// and connected to, then the preamble again for the new session.
pub(crate) fn create_database(catalog: &Catalog, drop: bool) -> String {
    let name = quote_ident(&catalog.database);
    let mut out = String::from("\n");
    if drop {
        out.push_str(&format!("DROP DATABASE IF EXISTS {name};\n"));
    }
    out.push_str(&format!(
        "CREATE DATABASE {name} WITH TEMPLATE = template0 ENCODING = {};\n",
        pgferry_catalog::quote_literal(&catalog.encoding)
    ));
    // psql's \connect takes the name as a connection string's value.
    let value = catalog.database.replace('\\', "\\\\").replace('\'', "\\'");
    out.push_str(&format!(
        "\\connect -reuse-previous=on \"dbname='{}'\"\n\n{PREAMBLE}",
        value.replace('"', "\"\"")
    ));
    out
}

/// pg_dump's comment block above each object.
pub(crate) fn heading(o: &Object) -> String {
    let one_line = |s: &str| s.replace('\n', " ");
    format!(
        "\n--\n-- Name: {}; Type: {}; Schema: {}; Owner: {}\n--\n\n",
        one_line(&o.name),
        o.kind.label(),
        one_line(o.schema.as_deref().unwrap_or("-")),
        one_line(o.owner.as_deref().unwrap_or("-"))
    )
}

/// The line that opens a table's rows: `COPY table (cols) FROM stdin;`.
pub(crate) fn copy_from_stdin(table: &QName, columns: &[String]) -> String {
    format!("COPY {} FROM stdin;\n", copy_target(table, columns))
}

/// The line that closes a table's rows.
pub(crate) const COPY_END: &str = "\\.\n\n";

/// One large object's contents (hex digits), written into the object
/// `lo_create` made.
pub(crate) fn lo_put(oid: &str, hex: &str) -> String {
    format!("SELECT pg_catalog.lo_put('{oid}', 0, '\\x{hex}');\n")
}
