//! The pgferry archive format and COPY BINARY helpers, free of any I/O
//! policy: everything works over `std::io::{Read, Write, Seek}`.
//!
//! An archive is a header, a table of contents (opaque bytes to this crate:
//! the engine stores its serialized catalog there), a sequence of
//! zstd-compressed data frames tagged with the entry (table) they belong to,
//! a trailer indexing every entry's frames, and a footer holding the
//! trailer's offset and a checksum of the whole file. The layout is
//! documented in `docs/archive-format.md`.
//!
//! [`BinaryToText`] turns a table's COPY BINARY stream into COPY text rows,
//! so an archive can be written out as a psql script without a server.
//!
//! ```
//! use pgferry_format::{ArchiveWriter, ArchiveReader, compress_frame};
//! let mut buf = Vec::new();
//! let mut w = ArchiveWriter::new(&mut buf, b"{\"toc\":1}", 3).unwrap();
//! let raw = b"some COPY bytes";
//! w.write_frame(7, raw.len(), &compress_frame(raw, 3).unwrap()).unwrap();
//! w.end_entry(7, 1).unwrap();
//! w.finish().unwrap();
//!
//! let mut r = ArchiveReader::new(std::io::Cursor::new(buf)).unwrap();
//! r.verify().unwrap();
//! assert_eq!(r.toc().unwrap(), b"{\"toc\":1}");
//! let data: Vec<u8> = r.entry_frames(7).unwrap().flat_map(|f| f.unwrap()).collect();
//! assert_eq!(data, raw);
//! ```
mod archive;
mod columns;
mod copy;
mod error;
mod parts;
mod text;

pub use archive::{
    compress_frame, ArchiveReader, ArchiveWriter, EntryIndex, FrameIter, FORMAT_MAJOR,
    FORMAT_MINOR, MAGIC,
};
pub use columns::{decode_block, ColumnEncoder, BLOCK_TARGET};
pub use copy::{CopyRowCounter, COPY_BINARY_SIGNATURE};
pub use error::FormatError;
pub use parts::{entry_stream, part_entry, PART_STRIDE};
pub use text::{BinaryToText, TextType};
