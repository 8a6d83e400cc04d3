//! Archive files: writing them (framed, compressed, atomically renamed into
//! place), verifying and opening them, and feeding their table data back.
//! The byte layout itself is the format crate's (`docs/archive-format.md`).
pub(crate) mod atomic;
pub(crate) mod feed;
pub(crate) mod frames;
pub(crate) mod reader;
pub(crate) mod writer;
