//! `pgferry list`: an archive's table of contents, as text or JSON.
use super::write_stdout;
use crate::args::ListArgs;
use crate::{Failure, EXIT_OK};

/// Prints the archive's table of contents.
pub(crate) fn run(a: &ListArgs) -> Result<u8, Failure> {
    let (catalog, entries) = pgferry_engine::list(&a.file)?;
    let mut out = String::new();
    if a.json {
        let v: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "kind": e.kind, "schema": e.schema, "name": e.name,
                    "owner": e.owner, "rows": e.rows, "parts": e.parts, "bytes": e.bytes.map(|b| b.0),
                    "stored_bytes": e.bytes.map(|b| b.1),
                })
            })
            .collect();
        out.push_str(
            &serde_json::json!({
                "database": catalog.database, "server_version": catalog.server_version,
                "objects": v,
            })
            .to_string(),
        );
        out.push('\n');
    } else {
        out.push_str(&format!(
            "; pgferry archive of database {} (PostgreSQL {}), {} objects\n",
            // (one line, whatever the name: the header is a comment)
            catalog.database.replace(['\n', '\r'], " "),
            catalog.server_version,
            entries.len()
        ));
        out.push_str(
            "; A list file for `pgferry restore -L`: one object a line, its id first; a line\n\
             ; starting with ';' is a comment. Leave objects out by commenting their lines;\n\
             ; reorder them as long as each comes after what it depends on.\n\
             ;\n\
             ; ID; KIND SCHEMA NAME OWNER\n",
        );
        for e in &entries {
            out.push_str(&e.list_line());
            out.push('\n');
        }
    }
    write_stdout(&out)?;
    Ok(EXIT_OK)
}
