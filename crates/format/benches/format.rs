//! Criterion micro-benchmarks for the hot paths of `pgferry-format`: COPY
//! BINARY parsing, column framing, zstd frames and archive writing, and the
//! xxh3 checksums. Run with `cargo bench -p pgferry-format`.
//!
//! Everything runs over one synthetic ~8 MiB `COPY ... (FORMAT binary)`
//! stream built here (no database needed): rows of int8 id, timestamptz,
//! numeric, a 30–80 byte text, uuid and bool, with some NULLs. The stream is
//! fed one row per chunk (the server sends one CopyData message per row) and
//! in 64 KiB chunks. Throughputs are bytes of the input each operation reads.
use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pgferry_format::{
    compress_frame, decode_block, ArchiveReader, ArchiveWriter, ColumnEncoder, CopyRowCounter,
    COPY_BINARY_SIGNATURE,
};

/// Size the synthetic COPY stream grows to.
const STREAM_TARGET: usize = 8 << 20;
/// Size of the buffer hashed by the checksum benchmark (one frame's worth).
const HASH_LEN: usize = 1 << 20;
/// Entry id the benchmark archive stores its frames under.
const ENTRY: u32 = 1;
/// Table of contents of the benchmark archive.
const TOC: &[u8] = br#"{"bench":"pgferry-format"}"#;

/// SplitMix64: deterministic, dependency-free pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The synthetic COPY BINARY stream and the CopyData messages it arrives in.
struct Stream {
    bytes: Vec<u8>,
    /// `(start, end)` of each message: the header, one per row, the trailer.
    messages: Vec<(usize, usize)>,
    rows: u64,
}

impl Stream {
    fn messages(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.messages.iter().map(|&(a, b)| &self.bytes[a..b])
    }
}

fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(v) => {
            out.extend_from_slice(&(v.len() as i32).to_be_bytes());
            out.extend_from_slice(v);
        }
    }
}

fn build_stream() -> Stream {
    let words: Vec<&str> = "order shipped customer pending refund invoice warehouse delayed \
         priority express returned payment accepted north south batch"
        .split_whitespace()
        .collect();
    let mut rng = Rng(0x5EED);
    let mut bytes = COPY_BINARY_SIGNATURE.to_vec();
    bytes.extend_from_slice(&[0; 8]); // flags, header extension length
    let mut messages = vec![(0, bytes.len())];
    // 2024-01-01 00:00:00 UTC in microseconds since 2000-01-01.
    let mut ts: i64 = 757_382_400_000_000;
    let mut id: i64 = 0;
    let mut text = String::new();
    while bytes.len() < STREAM_TARGET {
        id += 1;
        ts += rng.range(1_000, 5_000_000) as i64;
        let start = bytes.len();
        bytes.extend_from_slice(&6i16.to_be_bytes());
        field(&mut bytes, Some(&id.to_be_bytes()));
        field(&mut bytes, Some(&ts.to_be_bytes()));
        // numeric: ndigits, weight, sign, dscale, then base-10000 digits.
        if id % 9 == 0 {
            field(&mut bytes, None);
        } else {
            let ndigits = rng.range(1, 5) as u16;
            let mut n = Vec::with_capacity(8 + 2 * usize::from(ndigits));
            n.extend_from_slice(&ndigits.to_be_bytes());
            n.extend_from_slice(&(ndigits as i16 - 2).max(0).to_be_bytes());
            n.extend_from_slice(&0u16.to_be_bytes());
            n.extend_from_slice(&2u16.to_be_bytes());
            for _ in 0..ndigits {
                n.extend_from_slice(&(rng.range(0, 10_000) as u16).to_be_bytes());
            }
            field(&mut bytes, Some(&n));
        }
        // text of 30-80 bytes made of words, so it compresses like real text.
        if id % 13 == 0 {
            field(&mut bytes, None);
        } else {
            let len = rng.range(30, 81) as usize;
            text.clear();
            while text.len() < len {
                text.push_str(words[rng.range(0, words.len() as u64) as usize]);
                text.push(' ');
            }
            text.truncate(len);
            field(&mut bytes, Some(text.as_bytes()));
        }
        let mut uuid = [0u8; 16];
        uuid[..8].copy_from_slice(&rng.next().to_be_bytes());
        uuid[8..].copy_from_slice(&rng.next().to_be_bytes());
        field(&mut bytes, Some(&uuid));
        field(&mut bytes, Some(&[u8::from(rng.next() & 1 == 1)]));
        messages.push((start, bytes.len()));
    }
    let start = bytes.len();
    bytes.extend_from_slice(&(-1i16).to_be_bytes());
    messages.push((start, bytes.len()));
    Stream {
        bytes,
        messages,
        rows: id as u64,
    }
}

/// Column-encodes the stream, one message per `feed`.
fn encode(stream: &Stream) -> Vec<Vec<u8>> {
    let mut enc = ColumnEncoder::new();
    let mut blocks = Vec::new();
    for m in stream.messages() {
        enc.feed(m, &mut |b| blocks.push(b)).unwrap();
    }
    assert!(enc.finished());
    assert_eq!(enc.rows(), stream.rows);
    blocks
}

/// Writes `(raw_len, compressed)` frames as one entry of an archive.
fn write_archive(frames: &[(usize, Vec<u8>)], rows: u64, capacity: usize) -> Vec<u8> {
    let mut w = ArchiveWriter::new(Vec::with_capacity(capacity), TOC, 3).unwrap();
    for (raw_len, compressed) in frames {
        w.write_column_frame(ENTRY, *raw_len, compressed).unwrap();
    }
    w.end_entry(ENTRY, rows).unwrap();
    w.finish().unwrap()
}

fn copy_parse(c: &mut Criterion) {
    let stream = build_stream();
    let mut g = c.benchmark_group("copy_parse");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(stream.bytes.len() as u64));
    g.bench_function("one_row_chunks", |b| {
        b.iter(|| {
            let mut counter = CopyRowCounter::binary();
            for m in stream.messages() {
                counter.feed(black_box(m)).unwrap();
            }
            assert!(counter.finished());
            counter.rows()
        });
    });
    g.bench_function("64KiB_chunks", |b| {
        b.iter(|| {
            let mut counter = CopyRowCounter::binary();
            for chunk in stream.bytes.chunks(64 << 10) {
                counter.feed(black_box(chunk)).unwrap();
            }
            assert!(counter.finished());
            counter.rows()
        });
    });
    g.finish();
}

fn columns(c: &mut Criterion) {
    let stream = build_stream();
    let blocks = encode(&stream);
    let mut g = c.benchmark_group("columns");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(stream.bytes.len() as u64));
    g.bench_function("encode_one_row_chunks", |b| {
        b.iter(|| {
            let mut enc = ColumnEncoder::new();
            let mut out = 0usize;
            for m in stream.messages() {
                enc.feed(black_box(m), &mut |block| out += black_box(block).len())
                    .unwrap();
            }
            out
        });
    });
    // Decoding yields exactly the stream bytes back.
    g.bench_function("decode_block", |b| {
        b.iter(|| {
            blocks
                .iter()
                .map(|block| decode_block(black_box(block)).unwrap().len())
                .sum::<usize>()
        });
    });
    g.finish();
}

fn compress(c: &mut Criterion) {
    let stream = build_stream();
    let blocks = encode(&stream);
    // The first block is a full ~1 MiB one (BLOCK_TARGET).
    let block = &blocks[0];
    let mut g = c.benchmark_group("compress");
    g.throughput(Throughput::Bytes(block.len() as u64));
    for level in [1, 3] {
        g.bench_with_input(
            BenchmarkId::new("compress_frame_1MiB", format!("level{level}")),
            &level,
            |b, &level| b.iter(|| compress_frame(black_box(block), level).unwrap()),
        );
    }
    let frames: Vec<(usize, Vec<u8>)> = blocks
        .iter()
        .map(|b| (b.len(), compress_frame(b, 3).unwrap()))
        .collect();
    let archive_len = write_archive(&frames, stream.rows, 0).len();
    // Throughput here is the size of the archive written (what gets hashed and copied).
    g.throughput(Throughput::Bytes(archive_len as u64));
    g.bench_function("archive_write", |b| {
        b.iter(|| write_archive(black_box(&frames), stream.rows, archive_len));
    });
    g.finish();
}

fn hash(c: &mut Criterion) {
    let stream = build_stream();
    let frames: Vec<(usize, Vec<u8>)> = encode(&stream)
        .iter()
        .map(|b| (b.len(), compress_frame(b, 3).unwrap()))
        .collect();
    let archive = write_archive(&frames, stream.rows, 0);
    let mut g = c.benchmark_group("hash");
    let buf = &stream.bytes[..HASH_LEN];
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("xxh3_64_1MiB", |b| {
        b.iter(|| xxhash_rust::xxh3::xxh3_64(black_box(buf)));
    });
    g.throughput(Throughput::Bytes(archive.len() as u64));
    let mut reader = ArchiveReader::new(Cursor::new(&archive[..])).unwrap();
    g.bench_function("archive_verify", |b| {
        b.iter(|| reader.verify().unwrap());
    });
    g.finish();
}

criterion_group!(benches, copy_parse, columns, compress, hash);
criterion_main!(benches);
