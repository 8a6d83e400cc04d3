//! Incremental COPY stream inspection: counts rows and checks the framing of
//! `COPY ... (FORMAT binary)` output without buffering it.

/// The 11-byte signature that opens every COPY BINARY stream.
pub const COPY_BINARY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the fixed 19-byte header (signature, flags, extension length).
    Header,
    /// Skipping header extension bytes.
    Skip(usize, Next),
    /// Expecting a 2-byte field count.
    Tuple,
    /// Expecting a 4-byte field length; `usize` fields remain in this row.
    FieldLen(usize),
    /// Stream trailer seen.
    Done,
    /// Text format: count newlines.
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Tuple,
    FieldLen(usize),
}

/// Counts the rows of a COPY stream fed in arbitrary chunks.
///
/// ```
/// use pgferry_format::{CopyRowCounter, COPY_BINARY_SIGNATURE};
/// let mut s = COPY_BINARY_SIGNATURE.to_vec();
/// s.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // flags, extension length
/// s.extend_from_slice(&[0, 1, 0, 0, 0, 2, b'h', b'i']); // one row, one field "hi"
/// s.extend_from_slice(&[0xff, 0xff]); // trailer
/// let mut c = CopyRowCounter::binary();
/// for b in s.chunks(3) { c.feed(b).unwrap(); }
/// assert_eq!(c.rows(), 1);
/// assert!(c.finished());
/// ```
#[derive(Debug, Clone)]
pub struct CopyRowCounter {
    state: State,
    /// Bytes of a header, field count or field length split across chunks.
    pending: [u8; 19],
    pending_len: usize,
    rows: u64,
}

impl CopyRowCounter {
    /// A counter for `FORMAT binary` streams.
    pub fn binary() -> Self {
        CopyRowCounter {
            state: State::Header,
            pending: [0; 19],
            pending_len: 0,
            rows: 0,
        }
    }

    /// A counter for text-format streams (one row per newline).
    pub fn text() -> Self {
        CopyRowCounter {
            state: State::Text,
            pending: [0; 19],
            pending_len: 0,
            rows: 0,
        }
    }

    /// Rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// True once the binary trailer was seen (always true for text).
    pub fn finished(&self) -> bool {
        matches!(self.state, State::Done | State::Text) && self.pending_len == 0
    }

    /// The next `n` (at most 19) bytes, once they are all there; without
    /// allocating, as this runs for every field of every row.
    fn take(&mut self, data: &mut &[u8], n: usize) -> Option<[u8; 19]> {
        let want = n - self.pending_len;
        let k = want.min(data.len());
        self.pending[self.pending_len..self.pending_len + k].copy_from_slice(&data[..k]);
        self.pending_len += k;
        *data = &data[k..];
        if k < want {
            return None;
        }
        self.pending_len = 0;
        Some(self.pending)
    }

    /// Feeds the next chunk of the stream.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            match self.state {
                State::Text => {
                    self.rows += memchr_count(data) as u64;
                    return Ok(());
                }
                State::Done => return Err("bytes after the COPY BINARY trailer".into()),
                State::Header => {
                    let Some(h) = self.take(&mut data, 19) else {
                        return Ok(());
                    };
                    if &h[..11] != COPY_BINARY_SIGNATURE {
                        return Err("missing COPY BINARY signature".into());
                    }
                    let ext = u32::from_be_bytes([h[15], h[16], h[17], h[18]]) as usize;
                    self.state = State::Skip(ext, Next::Tuple);
                }
                State::Skip(n, next) => {
                    let k = n.min(data.len());
                    data = &data[k..];
                    if k == n {
                        self.state = match next {
                            Next::Tuple => State::Tuple,
                            Next::FieldLen(f) => State::FieldLen(f),
                        };
                    } else {
                        self.state = State::Skip(n - k, next);
                    }
                }
                State::Tuple => {
                    let Some(b) = self.take(&mut data, 2) else {
                        return Ok(());
                    };
                    let fields = i16::from_be_bytes([b[0], b[1]]);
                    if fields == -1 {
                        self.state = State::Done;
                    } else if fields < 0 {
                        return Err(format!("bad field count {fields}"));
                    } else {
                        self.rows += 1;
                        self.state = if fields == 0 {
                            State::Tuple
                        } else {
                            State::FieldLen(fields as usize)
                        };
                    }
                }
                State::FieldLen(left) => {
                    let Some(b) = self.take(&mut data, 4) else {
                        return Ok(());
                    };
                    let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let next = if left == 1 {
                        Next::Tuple
                    } else {
                        Next::FieldLen(left - 1)
                    };
                    let skip = if len < 0 { 0 } else { len as usize };
                    self.state = State::Skip(skip, next);
                    if skip == 0 {
                        self.state = match next {
                            Next::Tuple => State::Tuple,
                            Next::FieldLen(f) => State::FieldLen(f),
                        };
                    }
                }
            }
        }
        Ok(())
    }
}

fn memchr_count(data: &[u8]) -> usize {
    data.iter().filter(|b| **b == b'\n').count()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A COPY BINARY stream (with a header extension) of `rows`; `None` is NULL.
    pub(crate) fn stream(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut s = COPY_BINARY_SIGNATURE.to_vec();
        s.extend_from_slice(&0u32.to_be_bytes());
        s.extend_from_slice(&3u32.to_be_bytes());
        s.extend_from_slice(b"ext");
        for r in rows {
            s.extend_from_slice(&(r.len() as i16).to_be_bytes());
            for f in r {
                match f {
                    None => s.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        s.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        s.extend_from_slice(v);
                    }
                }
            }
        }
        s.extend_from_slice(&(-1i16).to_be_bytes());
        s
    }

    #[test]
    fn counts_rows_across_every_chunking() {
        let s = stream(&[
            vec![Some(b"abc"), None, Some(b"")],
            vec![],
            vec![None, None, Some(b"0123456789")],
        ]);
        for chunk in 1..s.len() {
            let mut c = CopyRowCounter::binary();
            for b in s.chunks(chunk) {
                c.feed(b).unwrap();
            }
            assert_eq!(c.rows(), 3, "chunk size {chunk}");
            assert!(c.finished());
        }
    }

    #[test]
    fn rejects_garbage() {
        let mut c = CopyRowCounter::binary();
        assert!(c.feed(b"not a copy stream at all").is_err());
        let mut s = stream(&[vec![Some(b"x")]]);
        s.push(0);
        let mut c = CopyRowCounter::binary();
        assert!(c.feed(&s).is_err());
    }

    #[test]
    fn unfinished_stream_is_not_finished() {
        let s = stream(&[vec![Some(b"x")]]);
        let mut c = CopyRowCounter::binary();
        c.feed(&s[..s.len() - 2]).unwrap();
        assert!(!c.finished());
    }
}
