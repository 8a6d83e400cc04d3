//! Archive writer and reader.
use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::FormatError;

/// Magic bytes at the start of every archive.
pub const MAGIC: &[u8; 8] = b"PGFERRY\x1a";
const FOOTER_MAGIC: &[u8; 8] = b"PGFEND\r\n";
/// Major format version written (and the newest read) by this build.
/// Version 2 added column-block data frames (tag 5); version 1 archives
/// are still read.
pub const FORMAT_MAJOR: u16 = 2;
/// Minor format version written by this build.
pub const FORMAT_MINOR: u16 = 0;

const HEADER_LEN: u64 = 16;
const RECORD_HEADER_LEN: usize = 21;
const FOOTER_LEN: u64 = 24;
/// Refuse absurd record sizes instead of allocating them (a single COPY
/// message, and so a frame, can carry a value of up to 1 GB).
const MAX_PAYLOAD: u32 = 2 << 30;

const TAG_TOC: u8 = 1;
const TAG_DATA: u8 = 2;
const TAG_ENTRY_END: u8 = 3;
const TAG_TRAILER: u8 = 4;
const TAG_COLUMNS: u8 = 5;

/// Index of one data entry, as stored in the trailer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryIndex {
    /// Byte offsets of this entry's data frames, in order.
    pub frames: Vec<u64>,
    /// Rows in the entry (as counted by the writer).
    pub rows: u64,
    /// Uncompressed bytes.
    pub raw_bytes: u64,
    /// Compressed bytes (payloads only).
    pub stored_bytes: u64,
    /// Whether [`ArchiveWriter::end_entry`] was called.
    pub complete: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    entries: BTreeMap<u32, EntryIndex>,
}

thread_local! {
    /// One zstd compression context per thread (and level), reused: a fresh
    /// context per frame costs more than compressing a small frame.
    static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Compresses one chunk of raw bytes into a zstd frame.
pub fn compress_frame(raw: &[u8], level: i32) -> Result<Vec<u8>, FormatError> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        match &mut *c {
            Some((l, z)) if *l == level => Ok(z.compress(raw)?),
            slot => {
                let mut z = zstd::bulk::Compressor::new(level)?;
                let out = z.compress(raw)?;
                *slot = Some((level, z));
                Ok(out)
            }
        }
    })
}

/// Decompresses one zstd frame of at most `capacity` bytes.
fn decompress_frame(payload: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        match &mut *d {
            Some(z) => z.decompress(payload, capacity),
            slot => {
                let mut z = zstd::bulk::Decompressor::new()?;
                let out = z.decompress(payload, capacity);
                *slot = Some(z);
                out
            }
        }
    })
}

/// Writes an archive to any [`Write`]; streaming (no seeking), so `stdout` works.
pub struct ArchiveWriter<W: Write> {
    out: W,
    hasher: Xxh3,
    offset: u64,
    entries: BTreeMap<u32, EntryIndex>,
}

impl<W: Write> std::fmt::Debug for ArchiveWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("offset", &self.offset)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl<W: Write> ArchiveWriter<W> {
    /// Starts an archive: writes the header and the table of contents.
    pub fn new(out: W, toc: &[u8], level: i32) -> Result<Self, FormatError> {
        let mut w = ArchiveWriter {
            out,
            hasher: Xxh3::new(),
            offset: 0,
            entries: BTreeMap::new(),
        };
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT_MAJOR.to_le_bytes());
        header.extend_from_slice(&FORMAT_MINOR.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        w.put(&header)?;
        let compressed = compress_frame(toc, level)?;
        w.record(TAG_TOC, 0, toc.len(), &compressed)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn record(
        &mut self,
        tag: u8,
        entry: u32,
        raw_len: usize,
        payload: &[u8],
    ) -> Result<u64, FormatError> {
        let at = self.offset;
        let raw_len = u32::try_from(raw_len)
            .ok()
            .filter(|l| *l <= MAX_PAYLOAD)
            .ok_or_else(|| FormatError::Corrupt("frame larger than 2 GiB".into()))?;
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_PAYLOAD)
            .ok_or_else(|| FormatError::Corrupt("frame payload too large".into()))?;
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0] = tag;
        h[1..5].copy_from_slice(&entry.to_le_bytes());
        h[5..9].copy_from_slice(&raw_len.to_le_bytes());
        h[9..13].copy_from_slice(&len.to_le_bytes());
        h[13..21].copy_from_slice(&xxh3_64(payload).to_le_bytes());
        self.put(&h)?;
        self.put(payload)?;
        Ok(at)
    }

    /// Appends one compressed data frame of `entry` (`raw_len` bytes before compression).
    pub fn write_frame(
        &mut self,
        entry: u32,
        raw_len: usize,
        compressed: &[u8],
    ) -> Result<(), FormatError> {
        let at = self.record(TAG_DATA, entry, raw_len, compressed)?;
        let e = self.entries.entry(entry).or_default();
        e.frames.push(at);
        e.raw_bytes += raw_len as u64;
        e.stored_bytes += compressed.len() as u64;
        Ok(())
    }

    /// Appends one compressed column block of `entry` (see [`crate::ColumnEncoder`]);
    /// readers turn it back into the COPY bytes it was made from.
    pub fn write_column_frame(
        &mut self,
        entry: u32,
        raw_len: usize,
        compressed: &[u8],
    ) -> Result<(), FormatError> {
        let at = self.record(TAG_COLUMNS, entry, raw_len, compressed)?;
        let e = self.entries.entry(entry).or_default();
        e.frames.push(at);
        e.raw_bytes += raw_len as u64;
        e.stored_bytes += compressed.len() as u64;
        Ok(())
    }

    /// Marks `entry` complete with its row count. An entry without frames is allowed (empty table).
    pub fn end_entry(&mut self, entry: u32, rows: u64) -> Result<(), FormatError> {
        let payload = rows.to_le_bytes();
        self.record(TAG_ENTRY_END, entry, payload.len(), &payload)?;
        let e = self.entries.entry(entry).or_default();
        e.rows = rows;
        e.complete = true;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Writes the trailer and footer, flushes, and returns the inner writer.
    pub fn finish(self) -> Result<W, FormatError> {
        self.finish_counted().map(|(w, _)| w)
    }

    /// Like [`ArchiveWriter::finish`], also returning the archive's total size.
    pub fn finish_counted(mut self) -> Result<(W, u64), FormatError> {
        let trailer = serde_json::to_vec(&Trailer {
            entries: std::mem::take(&mut self.entries),
        })
        .map_err(|e| FormatError::Corrupt(format!("cannot encode trailer: {e}")))?;
        let at = self.record(TAG_TRAILER, 0, trailer.len(), &trailer)?;
        let mut footer = Vec::with_capacity(FOOTER_LEN as usize);
        footer.extend_from_slice(&at.to_le_bytes());
        footer.extend_from_slice(&self.hasher.digest().to_le_bytes());
        footer.extend_from_slice(FOOTER_MAGIC);
        self.out.write_all(&footer)?;
        self.out.flush()?;
        Ok((self.out, self.offset + FOOTER_LEN))
    }
}

struct RecordHeader {
    tag: u8,
    entry: u32,
    raw_len: u32,
    len: u32,
    hash: u64,
}

fn read_record_header<R: Read>(r: &mut R, at: u64) -> Result<RecordHeader, FormatError> {
    let mut h = [0u8; RECORD_HEADER_LEN];
    r.read_exact(&mut h)
        .map_err(|e| FormatError::from_read(e, &format!("the record at byte {at}")))?;
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let mut hash = [0u8; 8];
    hash.copy_from_slice(&h[13..21]);
    let rh = RecordHeader {
        tag: h[0],
        entry: u32_at(1),
        raw_len: u32_at(5),
        len: u32_at(9),
        hash: u64::from_le_bytes(hash),
    };
    if !(TAG_TOC..=TAG_COLUMNS).contains(&rh.tag) || rh.len > MAX_PAYLOAD {
        return Err(FormatError::Corrupt(format!(
            "bad record header at byte {at}"
        )));
    }
    Ok(rh)
}

/// Reads an archive from a seekable source (a file).
#[derive(Debug)]
pub struct ArchiveReader<R: Read + Seek> {
    src: R,
    len: u64,
    version: (u16, u16),
    file_hash: u64,
    trailer_at: u64,
    entries: BTreeMap<u32, EntryIndex>,
}

impl<R: Read + Seek> ArchiveReader<R> {
    /// Opens an archive: checks the header and version, reads footer and trailer.
    /// Call [`ArchiveReader::verify`] to check every byte before using the data.
    pub fn new(mut src: R) -> Result<Self, FormatError> {
        let len = src.seek(SeekFrom::End(0))?;
        src.seek(SeekFrom::Start(0))?;
        let mut header = [0u8; HEADER_LEN as usize];
        let got = read_up_to(&mut src, &mut header)?;
        if got < MAGIC.len() || &header[..8] != MAGIC {
            return Err(FormatError::NotAnArchive);
        }
        if got < HEADER_LEN as usize {
            return Err(FormatError::Truncated("file ends inside the header".into()));
        }
        let major = u16::from_le_bytes([header[8], header[9]]);
        let minor = u16::from_le_bytes([header[10], header[11]]);
        if major > FORMAT_MAJOR {
            return Err(FormatError::NewerVersion {
                major,
                minor,
                supported: FORMAT_MAJOR,
            });
        }
        if len < HEADER_LEN + FOOTER_LEN {
            return Err(FormatError::Truncated("no footer".into()));
        }
        src.seek(SeekFrom::Start(len - FOOTER_LEN))?;
        let mut footer = [0u8; FOOTER_LEN as usize];
        src.read_exact(&mut footer)?;
        if &footer[16..24] != FOOTER_MAGIC {
            return Err(FormatError::Truncated(
                "no footer at the end of the file (the dump did not finish, or the file was cut)"
                    .into(),
            ));
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&footer[0..8]);
        let trailer_at = u64::from_le_bytes(b);
        b.copy_from_slice(&footer[8..16]);
        let file_hash = u64::from_le_bytes(b);
        if trailer_at < HEADER_LEN || trailer_at >= len - FOOTER_LEN {
            return Err(FormatError::Corrupt(
                "footer points outside the file".into(),
            ));
        }
        let mut r = ArchiveReader {
            src,
            len,
            version: (major, minor),
            file_hash,
            trailer_at,
            entries: BTreeMap::new(),
        };
        let (tag, _, trailer) = r.read_record_at(trailer_at)?;
        if tag != TAG_TRAILER {
            return Err(FormatError::Corrupt(
                "footer does not point at the trailer".into(),
            ));
        }
        let t: Trailer = serde_json::from_slice(&trailer)
            .map_err(|e| FormatError::Corrupt(format!("unreadable trailer: {e}")))?;
        r.entries = t.entries;
        Ok(r)
    }

    /// Format version found in the header.
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    /// Total file size in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Reads the whole file and checks the whole-file checksum and every
    /// record's checksum; names the first damaged record.
    pub fn verify(&mut self) -> Result<(), FormatError> {
        self.src.seek(SeekFrom::Start(0))?;
        let mut hasher = Xxh3::new();
        let body = self.len - FOOTER_LEN;
        let mut limited = (&mut self.src).take(body);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = limited.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if hasher.digest() == self.file_hash {
            return Ok(());
        }
        // Find the damaged record for a precise message.
        let mut at = HEADER_LEN;
        while at < self.trailer_at {
            match self.read_record_at(at) {
                Ok((_, _, payload)) => at += RECORD_HEADER_LEN as u64 + payload.len() as u64,
                Err(e) => return Err(e),
            }
        }
        Err(FormatError::Corrupt(
            "whole-file checksum mismatch (header or trailer damaged)".into(),
        ))
    }

    fn read_record_at(&mut self, at: u64) -> Result<(u8, u32, Vec<u8>), FormatError> {
        self.read_record_full(at).map(|(h, p)| (h.tag, h.entry, p))
    }

    fn read_record_full(&mut self, at: u64) -> Result<(RecordHeader, Vec<u8>), FormatError> {
        self.src.seek(SeekFrom::Start(at))?;
        let h = read_record_header(&mut self.src, at)?;
        if at + RECORD_HEADER_LEN as u64 + u64::from(h.len) > self.len {
            return Err(FormatError::Truncated(format!(
                "record at byte {at} runs past the end of the file"
            )));
        }
        let mut payload = vec![0u8; h.len as usize];
        self.src
            .read_exact(&mut payload)
            .map_err(|e| FormatError::from_read(e, &format!("the record at byte {at}")))?;
        if xxh3_64(&payload) != h.hash {
            let what = match h.tag {
                TAG_DATA | TAG_COLUMNS => {
                    format!("data frame of entry {} at byte {at}", h.entry)
                }
                TAG_TOC => "table of contents".to_string(),
                TAG_TRAILER => "trailer".to_string(),
                _ => format!("record at byte {at}"),
            };
            return Err(FormatError::Corrupt(format!(
                "checksum mismatch in the {what}"
            )));
        }
        if h.raw_len > MAX_PAYLOAD {
            return Err(FormatError::Corrupt(format!(
                "frame at byte {at} too large"
            )));
        }
        Ok((h, payload))
    }

    /// The table of contents, decompressed.
    pub fn toc(&mut self) -> Result<Vec<u8>, FormatError> {
        let (tag, _, payload) = self.read_record_at(HEADER_LEN)?;
        if tag != TAG_TOC {
            return Err(FormatError::Corrupt(
                "first record is not the table of contents".into(),
            ));
        }
        zstd::stream::decode_all(&payload[..]).map_err(|e| {
            FormatError::Corrupt(format!("table of contents does not decompress: {e}"))
        })
    }

    /// Index of every data entry.
    pub fn entries(&self) -> &BTreeMap<u32, EntryIndex> {
        &self.entries
    }

    /// Iterates over the decompressed frames of `entry`, in order.
    pub fn entry_frames(&mut self, entry: u32) -> Result<FrameIter<'_, R>, FormatError> {
        let idx = self
            .entries
            .get(&entry)
            .ok_or(FormatError::NoSuchEntry(entry))?;
        if !idx.complete {
            return Err(FormatError::Corrupt(format!(
                "data entry {entry} is incomplete"
            )));
        }
        let frames = idx.frames.clone();
        Ok(FrameIter {
            reader: self,
            entry,
            frames: frames.into_iter(),
        })
    }
}

/// Iterator over one entry's decompressed frames.
#[derive(Debug)]
pub struct FrameIter<'a, R: Read + Seek> {
    reader: &'a mut ArchiveReader<R>,
    entry: u32,
    frames: std::vec::IntoIter<u64>,
}

impl<R: Read + Seek> Iterator for FrameIter<'_, R> {
    type Item = Result<Vec<u8>, FormatError>;
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.frames.next()?;
        Some(self.reader.read_record_full(at).and_then(|(h, payload)| {
            if !matches!(h.tag, TAG_DATA | TAG_COLUMNS) || h.entry != self.entry {
                return Err(FormatError::Corrupt(format!(
                    "index points at a foreign record (byte {at})"
                )));
            }
            let raw = decompress_frame(&payload, h.raw_len as usize).map_err(|e| {
                FormatError::Corrupt(format!("data frame at byte {at} does not decompress: {e}"))
            })?;
            if raw.len() != h.raw_len as usize {
                return Err(FormatError::Corrupt(format!(
                    "data frame at byte {at} decompresses to {} bytes, not {}",
                    raw.len(),
                    h.raw_len
                )));
            }
            if h.tag == TAG_DATA {
                return Ok(raw);
            }
            crate::columns::decode_block(&raw)
                .map_err(|e| FormatError::Corrupt(format!("data frame at byte {at}: {e}")))
        }))
    }
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
