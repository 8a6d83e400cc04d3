//! Opening, verifying and describing archive files.
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use pgferry_catalog::{Catalog, Kind, MODEL_VERSION};
use pgferry_format::{part_entry, ArchiveReader, EntryIndex, FormatError};

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
