//! The COPY BINARY stream: header, tuples and trailer, fed in any chunks,
//! written out as COPY text lines.

use super::{write_value, Reader, TextType};
use crate::COPY_BINARY_SIGNATURE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the signature, flags and header extension.
    Header,
    /// Between tuples.
    Tuples,
    /// The -1 trailer was read.
    Done,
    /// An error was returned; nothing more is converted.
    Failed,
}

/// Turns one binary COPY stream (signature header, tuples, -1 trailer), fed in arbitrary chunks, into COPY text lines.
#[derive(Debug)]
pub struct BinaryToText {
    types: Vec<TextType>,
    /// Bytes received but not yet converted: at most one partial tuple (or the header).
    buf: Vec<u8>,
    state: State,
    rows: u64,
    /// Scratch space for one field's unescaped text.
    field: Vec<u8>,
}

impl BinaryToText {
    /// A converter for a stream whose tuples have one field per entry of `types`.
    pub fn new(types: Vec<TextType>) -> BinaryToText {
        BinaryToText {
            types,
            buf: Vec::new(),
            state: State::Header,
            rows: 0,
            field: Vec::new(),
        }
    }

    /// Consumes a chunk, appending complete text lines (each ending in '\n') to `out`. Errors name what is malformed
    /// (e.g. "column 3 (numeric): 5 bytes is not a numeric").
    ///
    /// After an error, `out` holds only the lines of the rows before it and
    /// every later call fails.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        if self.state == State::Failed {
            return Err("the COPY stream already failed to convert".into());
        }
        self.buf.extend_from_slice(chunk);
        let mut pos = 0;
        let result = self.convert(&mut pos, out);
        self.buf.drain(..pos);
        if result.is_err() {
            self.state = State::Failed;
            self.buf = Vec::new();
        }
        result
    }

    /// Converts every complete unit (header, tuple, trailer) of `buf[*pos..]`.
    fn convert(&mut self, pos: &mut usize, out: &mut Vec<u8>) -> Result<(), String> {
        loop {
            let rest = &self.buf[*pos..];
            match self.state {
                State::Header => {
                    let Some(used) = header_len(rest)? else {
                        return Ok(());
                    };
                    *pos += used;
                    self.state = State::Tuples;
                }
                State::Tuples => {
                    if rest.len() < 2 {
                        return Ok(());
                    }
                    let count = i16::from_be_bytes([rest[0], rest[1]]);
                    if count == -1 {
                        *pos += 2;
                        self.state = State::Done;
                        continue;
                    }
                    let row = self.rows + 1;
                    if count < 0 || count as usize != self.types.len() {
                        return Err(format!(
                            "row {row}: {count} fields, the table has {} columns",
                            self.types.len()
                        ));
                    }
                    let Some(used) =
                        tuple_len(rest, self.types.len()).map_err(|e| format!("row {row}: {e}"))?
                    else {
                        return Ok(());
                    };
                    let start = out.len();
                    if let Err(e) = write_row(&self.types, &rest[2..used], &mut self.field, out) {
                        out.truncate(start);
                        return Err(format!("row {row}, {e}"));
                    }
                    *pos += used;
                    self.rows = row;
                }
                State::Done => {
                    return match rest.is_empty() {
                        true => Ok(()),
                        false => Err("bytes after the COPY BINARY trailer".into()),
                    };
                }
                State::Failed => return Err("the COPY stream already failed to convert".into()),
            }
        }
    }

    /// The rows converted; an error if the stream stopped before its trailer.
    pub fn finish(&self) -> Result<u64, String> {
        match self.state {
            State::Done => Ok(self.rows),
            State::Failed => Err("the COPY stream failed to convert".into()),
            State::Header | State::Tuples => Err(format!(
                "the COPY BINARY stream stopped before its trailer (after {} rows{})",
                self.rows,
                match self.buf.len() {
                    0 => String::new(),
                    n => format!(" and {n} bytes of an incomplete row"),
                }
            )),
        }
    }
}

/// The length of the stream header at the start of `b`, once all of it is there.
fn header_len(b: &[u8]) -> Result<Option<usize>, String> {
    let sig = COPY_BINARY_SIGNATURE.len();
    let common = b.len().min(sig);
    if b[..common] != COPY_BINARY_SIGNATURE[..common] {
        return Err("missing COPY BINARY signature".into());
    }
    if b.len() < sig + 8 {
        return Ok(None);
    }
    let flags = u32::from_be_bytes([b[11], b[12], b[13], b[14]]);
    if flags & (1 << 16) != 0 {
        return Err("the COPY BINARY stream carries OIDs, which are not supported".into());
    }
    let ext = u32::from_be_bytes([b[15], b[16], b[17], b[18]]) as usize;
    let total = sig + 8 + ext;
    Ok((b.len() >= total).then_some(total))
}

/// The length of the tuple (field count included) at the start of `b`, once
/// all of it is there.
fn tuple_len(b: &[u8], fields: usize) -> Result<Option<usize>, String> {
    let mut at = 2;
    for col in 1..=fields {
        let Some(len) = b.get(at..at + 4) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        at += 4;
        match len {
            -1 => {}
            n if n < 0 => return Err(format!("column {col}: bad field length {n}")),
            n => at += n as usize,
        }
    }
    Ok((b.len() >= at).then_some(at))
}

/// Writes one complete tuple's fields (after the field count) as a text line.
fn write_row(
    types: &[TextType],
    mut data: &[u8],
    field: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    for (i, ty) in types.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        let mut r = Reader::new(data);
        // tuple_len checked every length: these reads cannot fail.
        match r.field()? {
            None => out.extend_from_slice(b"\\N"),
            Some(value) => {
                field.clear();
                write_value(ty, value, field)
                    .map_err(|e| format!("column {} ({ty}): {e}", i + 1))?;
                copy_escape(field, out);
            }
        }
        data = r.rest();
    }
    out.push(b'\n');
    Ok(())
}

/// Appends `field` to `out` with COPY text format's backslash escapes.
fn copy_escape(field: &[u8], out: &mut Vec<u8>) {
    for &b in field {
        let esc = match b {
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0b => b'v',
            0x0c => b'f',
            _ => {
                out.push(b);
                continue;
            }
        };
        out.extend_from_slice(&[b'\\', esc]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_escaping() {
        let mut out = Vec::new();
        copy_escape(b"a\\b\tc\nd\re\x08\x0b\x0c \\N", &mut out);
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\\b\\v\\f \\\\N");
    }

    /// A stream of rows, each a list of optional field bytes.
    fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut s = COPY_BINARY_SIGNATURE.to_vec();
        s.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3, 9, 9, 9]); // 3 extension bytes
        for row in rows {
            s.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for f in row {
                match f {
                    None => s.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(b) => {
                        s.extend_from_slice(&(b.len() as i32).to_be_bytes());
                        s.extend_from_slice(b);
                    }
                }
            }
        }
        s.extend_from_slice(&[0xff, 0xff]);
        s
    }

    fn sample() -> (Vec<TextType>, Vec<u8>) {
        let types = vec![
            TextType::Int4,
            TextType::Text,
            TextType::Array(Box::new(TextType::Text)),
        ];
        let arr = {
            let mut a = Vec::new();
            for v in [1i32, 0, 25, 1, 1] {
                a.extend_from_slice(&v.to_be_bytes());
            }
            for e in [&b"a b"[..], b"x\\y"] {
                a.extend_from_slice(&(e.len() as i32).to_be_bytes());
                a.extend_from_slice(e);
            }
            a[12..16].copy_from_slice(&2i32.to_be_bytes());
            a
        };
        let rows = vec![
            vec![
                Some(7i32.to_be_bytes().to_vec()),
                Some(b"tab\there\nnl".to_vec()),
                Some(arr),
            ],
            vec![None, Some(Vec::new()), None],
            vec![
                Some((-1i32).to_be_bytes().to_vec()),
                Some(b"\\.".to_vec()),
                None,
            ],
        ];
        (types, stream(&rows))
    }

    #[test]
    fn stream_in_any_chunks_gives_the_same_lines() {
        let (types, s) = sample();
        let expected = "7\ttab\\there\\nnl\t{\"a b\",\"x\\\\\\\\y\"}\n\\N\t\t\\N\n-1\t\\\\.\t\\N\n";
        for size in [1, 2, 3, 7, 19, s.len()] {
            let mut conv = BinaryToText::new(types.clone());
            let mut out = Vec::new();
            for chunk in s.chunks(size) {
                conv.feed(chunk, &mut out).unwrap();
                assert!(out.is_empty() || out.ends_with(b"\n"), "partial line");
            }
            assert_eq!(conv.finish(), Ok(3));
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn malformed_streams_are_refused() {
        let (types, s) = sample();
        // Truncated: no trailer.
        let mut conv = BinaryToText::new(types.clone());
        let mut out = Vec::new();
        conv.feed(&s[..s.len() - 5], &mut out).unwrap();
        let e = conv.finish().unwrap_err();
        assert!(
            e.contains("stopped before its trailer (after 2 rows"),
            "{e}"
        );
        // Bytes after the trailer.
        let mut conv = BinaryToText::new(types.clone());
        let e = conv.feed(&[&s[..], b"x"].concat(), &mut Vec::new());
        assert_eq!(e, Err("bytes after the COPY BINARY trailer".into()));
        // Wrong signature.
        let mut conv = BinaryToText::new(types.clone());
        assert!(conv.feed(b"PGCOPX", &mut Vec::new()).is_err());
        // Wrong column count.
        let mut conv = BinaryToText::new(types[..2].to_vec());
        let e = conv.feed(&s, &mut Vec::new()).unwrap_err();
        assert_eq!(e, "row 1: 3 fields, the table has 2 columns");
        // A bad value: the lines before it stay, the partial one goes.
        let bad = stream(&[
            vec![Some(1i32.to_be_bytes().to_vec()), Some(vec![0; 5])],
            vec![Some(2i32.to_be_bytes().to_vec()), Some(vec![0; 5])],
        ]);
        let mut conv = BinaryToText::new(vec![TextType::Int4, TextType::Text]);
        conv.feed(&bad[..bad.len() - 20], &mut Vec::new()).unwrap();
        let mut conv = BinaryToText::new(vec![TextType::Int4, TextType::Numeric]);
        let mut out = b"kept\n".to_vec();
        let e = conv.feed(&bad, &mut out).unwrap_err();
        assert!(
            e.starts_with("row 1, column 2 (numeric): 5 bytes is not a numeric"),
            "{e}"
        );
        assert_eq!(out, b"kept\n");
        assert!(conv.finish().is_err());
        assert!(conv.feed(&[], &mut out).is_err());
    }
}
