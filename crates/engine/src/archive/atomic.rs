//! Archive files written under a temporary name and renamed into place at
//! the end: a failed or killed dump never leaves a file that looks complete.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// An archive file written under a temporary name and renamed into place by
/// [`AtomicFile::commit`]; dropped uncommitted, the temporary file is removed.
pub(crate) struct AtomicFile {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file next to `path`.
    pub(crate) fn create(path: &Path) -> Result<(AtomicFile, SyncingWriter), Error> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.pgf.tmp.{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::Io {
            path: tmp.clone(),
            source: e,
        })?;
        Ok((
            AtomicFile {
                tmp,
                path: path.to_path_buf(),
                committed: false,
            },
            SyncingWriter(BufWriter::with_capacity(1 << 20, file)),
        ))
    }

    /// Renames the finished file into place.
    pub(crate) fn commit(mut self) -> Result<(), Error> {
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::Io {
            path: self.path.clone(),
            source: e,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A buffered file writer that fsyncs when flushed at the end.
pub(crate) struct SyncingWriter(BufWriter<File>);

impl Write for SyncingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.0.get_ref().sync_all()
    }
}
