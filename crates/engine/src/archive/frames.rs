//! Cutting a table's COPY stream into archive frames: binary streams become
//! column blocks ([`ColumnEncoder`]), text streams ~1 MiB runs of rows.
use pgferry_catalog::CopyFormat;
use pgferry_format::{ArchiveWriter, ColumnEncoder, CopyRowCounter, FormatError, BLOCK_TARGET};

/// One uncompressed archive frame.
#[derive(Debug)]
pub(crate) enum Frame {
    /// COPY bytes as they came (text format).
    Rows(Vec<u8>),
    /// A column block of a binary COPY stream.
    Columns(Vec<u8>),
}

impl Frame {
    /// Compresses the frame.
    pub(crate) fn pack(self, entry: u32, level: i32) -> Result<Packed, FormatError> {
        let (columns, raw) = match self {
            Frame::Rows(r) => (false, r),
            Frame::Columns(c) => (true, c),
        };
        Ok(Packed {
            entry,
            raw_len: raw.len(),
            columns,
            data: pgferry_format::compress_frame(&raw, level)?,
        })
    }
}

/// A compressed frame, ready for the archive writer.
#[derive(Debug)]
pub(crate) struct Packed {
    entry: u32,
    raw_len: usize,
    columns: bool,
    data: Vec<u8>,
}

impl Packed {
    /// Appends the frame to `w`.
    pub(crate) fn write<W: std::io::Write>(
        &self,
        w: &mut ArchiveWriter<W>,
    ) -> Result<(), FormatError> {
        if self.columns {
            w.write_column_frame(self.entry, self.raw_len, &self.data)
        } else {
            w.write_frame(self.entry, self.raw_len, &self.data)
        }
    }
}

/// Turns one COPY stream, fed in arbitrary chunks, into frames.
#[derive(Debug)]
pub(crate) enum Framer {
    Rows {
        counter: CopyRowCounter,
        buf: Vec<u8>,
    },
    Columns(ColumnEncoder),
}

impl Framer {
    pub(crate) fn new(format: CopyFormat) -> Self {
        match format {
            CopyFormat::Binary => Framer::Columns(ColumnEncoder::new()),
            CopyFormat::Text => Framer::Rows {
                counter: CopyRowCounter::text(),
                buf: Vec::new(),
            },
        }
    }

    /// Feeds a chunk; frames that are complete go to `out`.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), String> {
        match self {
            Framer::Columns(enc) => enc.feed(chunk, &mut |b| out.push(Frame::Columns(b))),
            Framer::Rows { counter, buf } => {
                counter.feed(chunk)?;
                buf.extend_from_slice(chunk);
                if buf.len() >= BLOCK_TARGET {
                    out.push(Frame::Rows(std::mem::take(buf)));
                }
                Ok(())
            }
        }
    }

    /// Ends the stream: the last frame goes to `out`; returns the rows seen,
    /// or an error when the stream stopped before its end.
    pub(crate) fn finish(&mut self, out: &mut Vec<Frame>) -> Result<u64, String> {
        let (finished, rows) = match self {
            Framer::Columns(enc) => (enc.finished(), enc.rows()),
            Framer::Rows { counter, buf } => {
                if !buf.is_empty() {
                    out.push(Frame::Rows(std::mem::take(buf)));
                }
                (counter.finished(), counter.rows())
            }
        };
        if finished {
            Ok(rows)
        } else {
            Err("COPY stream ended early".into())
        }
    }
}
