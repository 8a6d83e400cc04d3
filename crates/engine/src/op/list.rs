//! `list` and `ddl`: what an archive holds, verified first.
use std::path::Path;

use pgferry_catalog::{Catalog, Kind};
use pgferry_format::{part_entry, EntryIndex};

use crate::archive::reader::open_archive;
use crate::error::Error;
use crate::list_file::list_line;

/// One line of `pgferry list`.
#[derive(Debug, Clone)]
pub struct ListEntry {
    /// Dump id.
    pub id: u32,
    /// Kind label.
    pub kind: &'static str,
    /// Schema.
    pub schema: Option<String>,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: Option<String>,
    /// Rows (table data only).
    pub rows: Option<u64>,
    /// Uncompressed/stored bytes (table data only).
    pub bytes: Option<(u64, u64)>,
    /// Block-range parts of a parallel dump (table data only).
    pub parts: u32,
}

impl ListEntry {
    /// The entry as a line of a list file (`restore -L`): `ID; KIND SCHEMA
    /// NAME OWNER` (`-` for none), then for table data `; R rows, B bytes
    /// (S stored)`.
    ///
    /// ```
    /// let e = pgferry_engine::ListEntry {
    ///     id: 12, kind: "TABLE DATA", schema: Some("public".into()), name: "accounts".into(),
    ///     owner: Some("app".into()), rows: Some(100), bytes: Some((4096, 1024)), parts: 1,
    /// };
    /// assert_eq!(e.list_line(), "12; TABLE DATA public accounts app; 100 rows, 4096 bytes (1024 stored)");
    /// ```
    pub fn list_line(&self) -> String {
        let sizes = match (self.rows, self.bytes) {
            (Some(r), Some((raw, stored))) => {
                Some(format!("{r} rows, {raw} bytes ({stored} stored)"))
            }
            _ => None,
        };
        list_line(
            self.id,
            self.kind,
            self.schema.as_deref(),
            &self.name,
            self.owner.as_deref(),
            sizes.as_deref(),
        )
    }
}

/// The archive's table of contents, verified.
pub fn list(path: &Path) -> Result<(Catalog, Vec<ListEntry>), Error> {
    let a = open_archive(path)?;
    let entries = a
        .catalog
        .objects
        .iter()
        .map(|o| {
            let parts = match o.kind {
                Kind::TableData { parts, .. } => parts.max(1),
                _ => 1,
            };
            let idx: Vec<&EntryIndex> = (0..parts)
                .filter_map(|k| a.reader.entries().get(&part_entry(o.id, k)))
                .collect();
            let has = !idx.is_empty();
            ListEntry {
                id: o.id,
                kind: o.kind.label(),
                schema: o.schema.clone(),
                name: o.name.clone(),
                owner: o.owner.clone(),
                parts,
                rows: has.then(|| idx.iter().map(|i| i.rows).sum()),
                bytes: has.then(|| {
                    (
                        idx.iter().map(|i| i.raw_bytes).sum(),
                        idx.iter().map(|i| i.stored_bytes).sum(),
                    )
                }),
            }
        })
        .collect();
    Ok((a.catalog, entries))
}

/// Renders the DDL script an archive's restore would run (no data).
pub fn ddl(path: &Path, keep_owners: bool) -> Result<String, Error> {
    let a = open_archive(path)?;
    Ok(pgferry_catalog::render_script(
        &a.catalog,
        &pgferry_catalog::RenderOptions {
            keep_owners,
            omit: a.catalog.omit,
            ..Default::default()
        },
    ))
}
