//! Opening, verifying and describing archive files.
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use pgferry_catalog::{part_entry, Catalog, Kind, MODEL_VERSION};
use pgferry_format::{ArchiveReader, EntryIndex, FormatError, COPY_BINARY_SIGNATURE};

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

/// The table of contents, refused by its model version first: a newer
/// pgferry's archive may hold object kinds this one does not know, and says
/// so rather than looking damaged.
fn parse_toc(path: &Path, toc: &[u8]) -> Result<Catalog, Error> {
    #[derive(serde::Deserialize)]
    struct Version {
        #[serde(default)]
        model_version: u32,
    }
    let fail = |message: String| Error::Toc {
        path: path.to_path_buf(),
        message,
    };
    let v: Version = serde_json::from_slice(toc)
        .map_err(|e| fail(format!("unreadable table of contents: {e}")))?;
    if v.model_version > MODEL_VERSION {
        return Err(fail(format!(
            "catalog model version {} is newer than this pgferry reads ({MODEL_VERSION}); upgrade pgferry",
            v.model_version
        )));
    }
    serde_json::from_slice(toc).map_err(|e| fail(format!("unreadable table of contents: {e}")))
}

/// Opens `path`, checks magic, version, every checksum and the table of contents.
/// Nothing else should touch a target before this succeeded.
pub fn open_archive(path: &Path) -> Result<VerifiedArchive, Error> {
    let bad = |source| Error::Archive {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| bad(FormatError::Io(e)))?;
    let mut reader = ArchiveReader::new(BufReader::with_capacity(1 << 20, file)).map_err(bad)?;
    reader.verify().map_err(bad)?;
    let toc = reader.toc().map_err(bad)?;
    let catalog = parse_toc(path, &toc)?;
    for o in &catalog.objects {
        if let Kind::TableData { parts, .. } = o.kind {
            for k in 0..parts.max(1) {
                match reader.entries().get(&part_entry(o.id, k)) {
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
    /// Block-range parts of a parallel dump (table data only).
    pub parts: u32,
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

/// Header length of a COPY BINARY stream as PostgreSQL writes it (no extension).
const COPY_HEADER_LEN: usize = 19;

/// Streams the COPY data of table data object `id` to `send`, joining the
/// block-range parts of a parallel dump into one COPY BINARY stream (the
/// header of parts after the first and the trailer of parts before the last
/// are dropped). Returns `Ok(false)` when `send` asked to stop.
pub(crate) fn table_stream<R: std::io::Read + std::io::Seek>(
    reader: &mut ArchiveReader<R>,
    id: u32,
    parts: u32,
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> Result<bool, FormatError> {
    let n = parts.max(1);
    for k in 0..n {
        let mut skip = if k > 0 { COPY_HEADER_LEN } else { 0 };
        let mut header = Vec::new();
        let mut pending: Option<Vec<u8>> = None;
        for frame in reader.entry_frames(part_entry(id, k))? {
            let mut f = frame?;
            if skip > 0 {
                let s = skip.min(f.len());
                header.extend(f.drain(..s));
                skip -= s;
                if skip == 0 && header[..COPY_BINARY_SIGNATURE.len()] != COPY_BINARY_SIGNATURE[..] {
                    return Err(FormatError::Corrupt(format!(
                        "part {k} of entry {id} is not a COPY BINARY stream"
                    )));
                }
            }
            if let Some(p) = pending.replace(f) {
                if !p.is_empty() && !send(p) {
                    return Ok(false);
                }
            }
        }
        if let Some(mut p) = pending {
            if k + 1 < n {
                if p.len() < 2 || p[p.len() - 2..] != [0xff, 0xff] {
                    return Err(FormatError::Corrupt(format!(
                        "part {k} of entry {id} lacks its COPY trailer"
                    )));
                }
                p.truncate(p.len() - 2);
            }
            if !p.is_empty() && !send(p) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::parse_toc;

    #[test]
    fn a_newer_model_is_refused_by_its_version_not_as_damage() {
        let path = std::path::Path::new("new.pgf");
        let toc = br#"{"model_version": 99, "objects": [{"kind": {"SomethingNew": {}}}]}"#;
        let e = parse_toc(path, toc).unwrap_err().to_string();
        assert!(
            e.contains("catalog model version 99 is newer than this pgferry reads")
                && e.contains("upgrade pgferry"),
            "{e}"
        );
        let e = parse_toc(path, b"{\"objects\": 3}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unreadable table of contents"), "{e}");
    }
}
