//! Opening, verifying and describing archive files.
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use pgferry_catalog::{Catalog, Kind, MODEL_VERSION};
use pgferry_format::{ArchiveReader, EntryIndex};

use crate::error::Error;

/// An archive whose every byte was verified, with its catalog decoded.
#[derive(Debug)]
pub struct VerifiedArchive {
    /// Path it was read from.
    pub path: PathBuf,
    /// Table of contents.
    pub catalog: Catalog,
    /// Reader positioned anywhere; use `entry_frames`.
    pub reader: ArchiveReader<BufReader<File>>,
}

/// Opens `path`, checks magic, version, every checksum and the table of contents.
/// Nothing else should touch a target before this succeeded.
pub fn open_archive(path: &Path) -> Result<VerifiedArchive, Error> {
    let bad = |source| Error::Archive {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut reader = ArchiveReader::new(BufReader::with_capacity(1 << 20, file)).map_err(bad)?;
    reader.verify().map_err(bad)?;
    let toc = reader.toc().map_err(bad)?;
    let catalog: Catalog = serde_json::from_slice(&toc).map_err(|e| Error::Toc {
        path: path.to_path_buf(),
        message: format!("unreadable table of contents: {e}"),
    })?;
    if catalog.model_version > MODEL_VERSION {
        return Err(Error::Toc {
            path: path.to_path_buf(),
            message: format!(
                "catalog model version {} is newer than this pgferry reads ({MODEL_VERSION}); upgrade pgferry",
                catalog.model_version
            ),
        });
    }
    for o in &catalog.objects {
        if matches!(o.kind, Kind::TableData { .. }) {
            match reader.entries().get(&o.id) {
                Some(EntryIndex { complete: true, .. }) => {}
                _ => {
                    return Err(bad(pgferry_format::FormatError::Corrupt(format!(
                        "data of table {} is missing or incomplete",
                        o.display_name()
                    ))))
                }
            }
        }
    }
    Ok(VerifiedArchive {
        path: path.to_path_buf(),
        catalog,
        reader,
    })
}

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
}

/// The archive's table of contents, verified.
pub fn list(path: &Path) -> Result<(Catalog, Vec<ListEntry>), Error> {
    let a = open_archive(path)?;
    let entries = a
        .catalog
        .objects
        .iter()
        .map(|o| {
            let idx = a.reader.entries().get(&o.id);
            ListEntry {
                id: o.id,
                kind: o.kind.label(),
                schema: o.schema.clone(),
                name: o.name.clone(),
                owner: o.owner.clone(),
                rows: idx.map(|i| i.rows),
                bytes: idx.map(|i| (i.raw_bytes, i.stored_bytes)),
            }
        })
        .collect();
    Ok((a.catalog, entries))
}
