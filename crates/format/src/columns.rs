//! Column-wise framing of `COPY ... (FORMAT binary)` streams.
//!
//! A COPY BINARY stream interleaves every column of a row. Values of one
//! column look alike (ascending ids, timestamps close to each other, lengths
//! that never change), so zstd finds far more to work with when a block of
//! rows is laid out column by column: all lengths of column 0, all values of
//! column 0, then column 1, and so on. [`ColumnEncoder`] turns a COPY stream
//! fed in arbitrary chunks into such blocks (whole rows only, about
//! [`BLOCK_TARGET`] bytes each) and [`decode_block`] turns a block back into
//! the exact bytes it came from, so the transposition is invisible to
//! everything that reads the archive.
//!
//! Block layout (integers little-endian unless said otherwise):
//!
//! | field | size |
//! |---|---|
//! | flags: bit 0 = stream header present, bit 1 = stream trailer present | 1 |
//! | header length `h` (only with bit 0) | 4 |
//! | header bytes, verbatim (signature, flags, extension) | `h` |
//! | rows `n` | 4 |
//! | columns `c` (every row of a block has the same field count) | 2 |
//! | for each column: `n` field lengths as in COPY (i32 big-endian, −1 = NULL), then the `n` values | … |
//!
//! ```
//! use pgferry_format::{decode_block, ColumnEncoder, COPY_BINARY_SIGNATURE};
//! let mut s = COPY_BINARY_SIGNATURE.to_vec();
//! s.extend_from_slice(&[0; 8]); // flags, extension length
//! for id in 1..=3u32 {
//!     s.extend_from_slice(&2i16.to_be_bytes()); // two fields
//!     s.extend_from_slice(&4i32.to_be_bytes());
//!     s.extend_from_slice(&id.to_be_bytes());
//!     s.extend_from_slice(&(-1i32).to_be_bytes()); // NULL
//! }
//! s.extend_from_slice(&[0xff, 0xff]);
//! let mut enc = ColumnEncoder::new();
//! let mut blocks = Vec::new();
//! for chunk in s.chunks(5) {
//!     enc.feed(chunk, &mut |b| blocks.push(b)).unwrap();
//! }
//! assert!(enc.finished());
//! assert_eq!(enc.rows(), 3);
//! let back: Vec<u8> = blocks.iter().flat_map(|b| decode_block(b).unwrap()).collect();
//! assert_eq!(back, s);
//! ```

use crate::copy::COPY_BINARY_SIGNATURE;

/// A block is closed once the COPY bytes of its rows reach this many
/// (a block always holds whole rows, so one huge row makes a bigger block).
pub const BLOCK_TARGET: usize = 1 << 20;

const HAS_HEADER: u8 = 1;
const HAS_TRAILER: u8 = 2;
/// Fixed part of the COPY BINARY header: signature, flags, extension length.
const HEADER_FIXED: usize = 19;

/// Streaming COPY BINARY → column-block encoder; see the module docs.
#[derive(Debug, Default)]
pub struct ColumnEncoder {
    /// Bytes of an incomplete header or row, waiting for the next chunk.
    carry: Vec<u8>,
    /// The stream header, once read, until it goes out with the first block.
    header: Option<Vec<u8>>,
    header_done: bool,
    done: bool,
    ncols: usize,
    nrows: u32,
    lens: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
    size: usize,
    rows: u64,
}

/// What parsing one row out of a buffer found.
enum Parsed {
    /// A row of this many bytes.
    Row(usize),
    /// The stream trailer (2 bytes).
    Trailer,
    /// More bytes are needed.
    Incomplete,
}

impl ColumnEncoder {
    /// An encoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// True once the trailer was seen and every block was emitted.
    pub fn finished(&self) -> bool {
        self.done && self.carry.is_empty()
    }

    /// Feeds the next chunk of the COPY stream; complete blocks go to `emit`.
    pub fn feed(&mut self, chunk: &[u8], emit: &mut impl FnMut(Vec<u8>)) -> Result<(), String> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.done {
            return Err("bytes after the COPY BINARY trailer".into());
        }
        if self.carry.is_empty() {
            let used = self.consume(chunk, emit)?;
            self.carry.extend_from_slice(&chunk[used..]);
        } else {
            let mut carry = std::mem::take(&mut self.carry);
            carry.extend_from_slice(chunk);
            let used = self.consume(&carry, emit)?;
            carry.drain(..used);
            self.carry = carry;
        }
        if self.done && !self.carry.is_empty() {
            return Err("bytes after the COPY BINARY trailer".into());
        }
        Ok(())
    }

    /// Parses everything complete in `buf`; returns the bytes used.
    fn consume(&mut self, buf: &[u8], emit: &mut impl FnMut(Vec<u8>)) -> Result<usize, String> {
        let mut at = 0;
        if !self.header_done {
            if buf.len() < HEADER_FIXED {
                return Ok(0);
            }
            if &buf[..COPY_BINARY_SIGNATURE.len()] != COPY_BINARY_SIGNATURE {
                return Err("missing COPY BINARY signature".into());
            }
            let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
            let end = HEADER_FIXED
                .checked_add(ext)
                .ok_or("COPY header extension too long")?;
            if buf.len() < end {
                return Ok(0);
            }
            self.header = Some(buf[..end].to_vec());
            self.header_done = true;
            at = end;
        }
        while !self.done {
            match self.push_row(&buf[at..], emit)? {
                Parsed::Incomplete => break,
                Parsed::Trailer => {
                    at += 2;
                    self.done = true;
                    emit(self.take_block(true));
                }
                Parsed::Row(n) => at += n,
            }
        }
        Ok(at)
    }

    /// Parses the row (or trailer) at the start of `buf` and, when it is
    /// complete, appends its fields to the column buffers (one pass: this
    /// runs for every row). An incomplete row leaves the buffers as they were.
    fn push_row(&mut self, buf: &[u8], emit: &mut impl FnMut(Vec<u8>)) -> Result<Parsed, String> {
        if buf.len() < 2 {
            return Ok(Parsed::Incomplete);
        }
        let fields = i16::from_be_bytes([buf[0], buf[1]]);
        if fields == -1 {
            return Ok(Parsed::Trailer);
        }
        if fields < 0 {
            return Err(format!("bad field count {fields}"));
        }
        let fields = fields as usize;
        if self.nrows > 0 && fields != self.ncols {
            emit(self.take_block(false));
        }
        if self.nrows == 0 {
            self.ncols = fields;
            self.lens.resize_with(fields.max(self.lens.len()), Vec::new);
            self.values
                .resize_with(fields.max(self.values.len()), Vec::new);
        }
        let mut p = 2usize;
        for c in 0..fields {
            let complete = match buf.get(p..p + 4) {
                None => None,
                Some(l) => {
                    let len = i32::from_be_bytes([l[0], l[1], l[2], l[3]]);
                    if len < -1 {
                        self.unpush(c);
                        return Err(format!("bad field length {len}"));
                    }
                    let end = p + 4 + len.max(0) as usize;
                    buf.get(p + 4..end).map(|v| (l, v, end))
                }
            };
            let Some((l, v, end)) = complete else {
                self.unpush(c);
                return Ok(Parsed::Incomplete);
            };
            self.lens[c].extend_from_slice(l);
            self.values[c].extend_from_slice(v);
            p = end;
        }
        self.nrows += 1;
        self.rows += 1;
        self.size += p;
        if self.size >= BLOCK_TARGET {
            emit(self.take_block(false));
        }
        Ok(Parsed::Row(p))
    }

    /// Takes back the fields `0..upto` of a row found incomplete.
    fn unpush(&mut self, upto: usize) {
        for c in 0..upto {
            let lens = &mut self.lens[c];
            let at = lens.len() - 4;
            let len = i32::from_be_bytes([lens[at], lens[at + 1], lens[at + 2], lens[at + 3]]);
            lens.truncate(at);
            let values = &mut self.values[c];
            values.truncate(values.len() - len.max(0) as usize);
        }
    }

    /// Serializes the current block and starts an empty one.
    fn take_block(&mut self, trailer: bool) -> Vec<u8> {
        let header = self.header.take();
        let mut out = Vec::with_capacity(self.size + 16 + header.as_ref().map_or(0, Vec::len));
        let flags = u8::from(header.is_some()) * HAS_HEADER + u8::from(trailer) * HAS_TRAILER;
        out.push(flags);
        if let Some(h) = header {
            out.extend_from_slice(&(h.len() as u32).to_le_bytes());
            out.extend_from_slice(&h);
        }
        out.extend_from_slice(&self.nrows.to_le_bytes());
        let ncols = if self.nrows == 0 { 0 } else { self.ncols };
        out.extend_from_slice(&(ncols as u16).to_le_bytes());
        for c in 0..ncols {
            out.extend_from_slice(&self.lens[c]);
            out.extend_from_slice(&self.values[c]);
            self.lens[c].clear();
            self.values[c].clear();
        }
        self.nrows = 0;
        self.size = 0;
        out
    }
}

/// Rebuilds the exact COPY BINARY bytes a block was made from.
pub fn decode_block(block: &[u8]) -> Result<Vec<u8>, String> {
    let bad = |what: &str| format!("column block damaged: {what}");
    let mut r = Cursor { buf: block, at: 0 };
    let flags = r.take(1).ok_or_else(|| bad("empty"))?[0];
    if flags & !(HAS_HEADER | HAS_TRAILER) != 0 {
        return Err(bad("unknown flags"));
    }
    let header = if flags & HAS_HEADER != 0 {
        let h = r.u32().ok_or_else(|| bad("header length"))? as usize;
        Some(r.take(h).ok_or_else(|| bad("header"))?)
    } else {
        None
    };
    let nrows = r.u32().ok_or_else(|| bad("row count"))? as usize;
    let ncols = r.u16().ok_or_else(|| bad("column count"))? as usize;
    if nrows > 0 && ncols > i16::MAX as usize {
        return Err(bad("column count"));
    }
    // Rows without columns take no room in the block; the encoder never
    // puts more than this many in one.
    if ncols == 0 && nrows > BLOCK_TARGET {
        return Err(bad("row count"));
    }
    // Locate each column's lengths and values.
    let mut cols: Vec<(&[u8], Cursor<'_>)> = Vec::with_capacity(ncols);
    let mut values_len = 0usize;
    for _ in 0..ncols {
        let lens = r
            .take(nrows.checked_mul(4).ok_or_else(|| bad("row count"))?)
            .ok_or_else(|| bad("lengths"))?;
        let mut total = 0usize;
        for l in lens.chunks_exact(4) {
            let len = i32::from_be_bytes([l[0], l[1], l[2], l[3]]);
            if len < -1 {
                return Err(bad("field length"));
            }
            total = total
                .checked_add(len.max(0) as usize)
                .ok_or_else(|| bad("field length"))?;
        }
        let values = r.take(total).ok_or_else(|| bad("values"))?;
        values_len += total;
        cols.push((lens, Cursor { buf: values, at: 0 }));
    }
    if r.at != block.len() {
        return Err(bad("bytes after the last column"));
    }
    let mut out = Vec::with_capacity(
        header.map_or(0, <[u8]>::len) + nrows * (2 + 4 * ncols) + values_len + 2,
    );
    if let Some(h) = header {
        out.extend_from_slice(h);
    }
    for row in 0..nrows {
        out.extend_from_slice(&(ncols as i16).to_be_bytes());
        for (lens, values) in cols.iter_mut() {
            let l = &lens[row * 4..row * 4 + 4];
            out.extend_from_slice(l);
            let len = i32::from_be_bytes([l[0], l[1], l[2], l[3]]);
            if len > 0 {
                // Lengths were summed above, so the values are there.
                out.extend_from_slice(values.take(len as usize).ok_or_else(|| bad("values"))?);
            }
        }
    }
    if flags & HAS_TRAILER != 0 {
        out.extend_from_slice(&(-1i16).to_be_bytes());
    }
    Ok(out)
}

struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.buf.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let borrowed: Vec<Vec<Option<&[u8]>>> = rows
            .iter()
            .map(|r| r.iter().map(Option::as_deref).collect())
            .collect();
        crate::copy::tests::stream(&borrowed)
    }

    fn round_trip(s: &[u8], chunk: usize) -> (Vec<Vec<u8>>, u64) {
        let mut enc = ColumnEncoder::new();
        let mut blocks = Vec::new();
        for c in s.chunks(chunk) {
            enc.feed(c, &mut |b| blocks.push(b)).unwrap();
        }
        assert!(enc.finished(), "chunk {chunk}");
        let back: Vec<u8> = blocks
            .iter()
            .flat_map(|b| decode_block(b).unwrap())
            .collect();
        assert_eq!(back, s, "chunk {chunk}");
        (blocks, enc.rows())
    }

    #[test]
    fn exact_bytes_back_for_every_chunking() {
        let s = stream(&[
            vec![Some(b"abc".to_vec()), None, Some(vec![])],
            vec![],
            vec![None, None, Some(b"0123456789".to_vec())],
            vec![Some(b"x".to_vec()), Some(b"y".to_vec()), None],
        ]);
        for chunk in 1..=s.len() {
            let (_, rows) = round_trip(&s, chunk);
            assert_eq!(rows, 4);
        }
    }

    #[test]
    fn big_streams_split_into_bounded_blocks() {
        let rows: Vec<Vec<Option<Vec<u8>>>> = (0..40_000u32)
            .map(|i| {
                vec![
                    Some(i.to_be_bytes().to_vec()),
                    (i % 7 != 0).then(|| format!("value {i}").into_bytes()),
                    Some(vec![b' '; 20]),
                ]
            })
            .collect();
        let s = stream(&rows);
        let (blocks, n) = round_trip(&s, 65536);
        assert_eq!(n, 40_000);
        assert!(blocks.len() > 1);
        assert!(blocks.iter().all(|b| b.len() < BLOCK_TARGET + 4096));
    }

    #[test]
    fn empty_table_is_one_block() {
        let s = stream(&[]);
        let (blocks, n) = round_trip(&s, 7);
        assert_eq!((blocks.len(), n), (1, 0));
    }

    #[test]
    fn rejects_bad_streams() {
        let mut enc = ColumnEncoder::new();
        assert!(enc
            .feed(b"definitely not a COPY stream", &mut |_| {})
            .is_err());
        let mut s = stream(&[vec![Some(b"x".to_vec())]]);
        s.push(0);
        let mut enc = ColumnEncoder::new();
        assert!(enc.feed(&s, &mut |_| {}).is_err());
        let s = stream(&[vec![Some(b"x".to_vec())]]);
        let mut enc = ColumnEncoder::new();
        enc.feed(&s[..s.len() - 2], &mut |_| {}).unwrap();
        assert!(!enc.finished());
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let s = stream(&[
            vec![Some(b"abc".to_vec()), None],
            vec![Some(b"defg".to_vec()), Some(vec![1, 2])],
        ]);
        let mut blocks = Vec::new();
        let mut enc = ColumnEncoder::new();
        enc.feed(&s, &mut |b| blocks.push(b)).unwrap();
        let b = &blocks[0];
        for cut in 0..b.len() {
            assert!(decode_block(&b[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..b.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut d = b.clone();
                d[i] ^= flip;
                let _ = decode_block(&d); // must not panic
            }
        }
    }
}
