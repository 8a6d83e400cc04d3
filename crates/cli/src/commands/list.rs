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
            catalog.database,
            catalog.server_version,
            entries.len()
        ));
        for e in &entries {
            let schema = e.schema.as_deref().unwrap_or("-");
            let owner = e.owner.as_deref().unwrap_or("-");
            match (e.rows, e.bytes) {
                (Some(r), Some((raw, stored))) => out.push_str(&format!(
                    "{}; {} {} {} {}; {r} rows, {raw} bytes ({stored} stored)\n",
                    e.id, e.kind, schema, e.name, owner
                )),
                _ => out.push_str(&format!(
                    "{}; {} {} {} {}\n",
                    e.id, e.kind, schema, e.name, owner
                )),
            }
        }
    }
    write_stdout(&out)?;
    Ok(EXIT_OK)
}
