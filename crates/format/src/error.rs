use std::io;

/// Everything that can be wrong with an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file does not start with the pgferry magic bytes.
    #[error("not a pgferry archive (bad magic bytes)")]
    NotAnArchive,
    /// The archive was written by a newer pgferry.
    #[error("archive format version {major}.{minor} is newer than this pgferry reads ({supported}.x); upgrade pgferry")]
    NewerVersion {
        /// Major version found in the file.
        major: u16,
        /// Minor version found in the file.
        minor: u16,
        /// Major version this build reads.
        supported: u16,
    },
    /// The file ends early.
    #[error("archive is truncated: {0}")]
    Truncated(String),
    /// A checksum or structure check failed.
    #[error("archive is corrupt: {0}")]
    Corrupt(String),
    /// The requested entry is not in the archive.
    #[error("archive has no data entry {0}")]
    NoSuchEntry(u32),
    /// An I/O error while reading or writing.
    #[error("archive I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FormatError {
    /// Maps an `UnexpectedEof` to [`FormatError::Truncated`].
    pub(crate) fn from_read(e: io::Error, what: &str) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FormatError::Truncated(format!("file ends inside {what}"))
        } else {
            FormatError::Io(e)
        }
    }
}
