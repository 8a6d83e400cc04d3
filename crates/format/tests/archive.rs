//! Archive round trip and damage detection.
use std::io::Cursor;

use pgferry_format::{
    compress_frame, decode_block, ArchiveReader, ArchiveWriter, ColumnEncoder, FormatError,
    COPY_BINARY_SIGNATURE, FORMAT_MAJOR,
};
use xxhash_rust::xxh3::xxh3_64;

fn sample() -> Vec<u8> {
    let mut w = ArchiveWriter::new(Vec::new(), b"toc bytes", 3).unwrap();
    for entry in [1u32, 2] {
        for i in 0..3u8 {
            let raw = vec![i; 10_000 + usize::from(i)];
            w.write_frame(entry, raw.len(), &compress_frame(&raw, 3).unwrap())
                .unwrap();
        }
        w.end_entry(entry, 42).unwrap();
    }
    w.end_entry(3, 0).unwrap();
    w.finish().unwrap()
}

#[test]
fn round_trip() {
    let mut r = ArchiveReader::new(Cursor::new(sample())).unwrap();
    r.verify().unwrap();
    assert_eq!(r.toc().unwrap(), b"toc bytes");
    assert_eq!(r.entries().len(), 3);
    assert_eq!(r.entries()[&1].rows, 42);
    let frames: Vec<Vec<u8>> = r.entry_frames(2).unwrap().map(|f| f.unwrap()).collect();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[2], vec![2u8; 10_002]);
    assert_eq!(r.entry_frames(3).unwrap().count(), 0);
}

#[test]
fn every_truncation_is_refused() {
    let a = sample();
    for cut in (0..a.len()).step_by(97).chain([a.len() - 1]) {
        let res = ArchiveReader::new(Cursor::new(a[..cut].to_vec())).and_then(|mut r| r.verify());
        assert!(
            matches!(
                res,
                Err(FormatError::Truncated(_) | FormatError::NotAnArchive)
            ),
            "cut at {cut}: {res:?}"
        );
    }
}

#[test]
fn every_flipped_byte_is_detected() {
    let a = sample();
    for at in (0..a.len()).step_by(13) {
        let mut b = a.clone();
        b[at] ^= 0x20;
        let res = ArchiveReader::new(Cursor::new(b)).and_then(|mut r| r.verify());
        assert!(res.is_err(), "flip at {at} went unnoticed");
    }
}

#[test]
fn flipped_data_byte_names_the_frame() {
    let mut a = sample();
    let frame_at = ArchiveReader::new(Cursor::new(a.clone()))
        .unwrap()
        .entries()[&2]
        .frames[1];
    a[frame_at as usize + 21 + 3] ^= 1;
    let err = ArchiveReader::new(Cursor::new(a))
        .and_then(|mut r| r.verify())
        .unwrap_err();
    assert!(err.to_string().contains("data frame"), "{err}");
}

#[test]
fn not_an_archive_and_newer_version() {
    let err = ArchiveReader::new(Cursor::new(b"PGDMP custom dump".to_vec())).unwrap_err();
    assert!(matches!(err, FormatError::NotAnArchive));
    let mut a = sample();
    a[8] = 9;
    let err = ArchiveReader::new(Cursor::new(a)).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

/// Random damage of every kind (flips, cuts, splices, inserted bytes): the
/// reader never panics, and nothing damaged passes verification.
#[test]
fn random_damage_never_panics_or_passes() {
    let good = sample();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut a = good.clone();
        let pos = (next() as usize) % a.len();
        match next() % 4 {
            0 => a[pos] ^= 1 << (next() % 8),
            1 => a.truncate(pos),
            2 => {
                let n = 1 + (next() as usize) % 64;
                a.splice(pos..pos, (0..n).map(|_| next() as u8));
            }
            _ => {
                let end = (pos + 1 + (next() as usize) % 64).min(a.len());
                a.drain(pos..end);
            }
        }
        if a == good {
            continue;
        }
        let result = std::panic::catch_unwind(|| {
            let mut r = ArchiveReader::new(Cursor::new(a))?;
            r.verify()?;
            let _ = r.toc()?;
            let ids: Vec<u32> = r.entries().keys().copied().collect();
            for id in ids {
                for f in r.entry_frames(id)? {
                    f?;
                }
            }
            Ok::<(), FormatError>(())
        });
        let outcome = result.expect("the reader panicked on damaged input");
        assert!(outcome.is_err(), "damaged archive passed verification");
    }
}

/// A COPY BINARY stream of `rows` rows: an int4 id, a text of varying
/// length (NULL every 7th row), an often empty bytea, and a mostly NULL
/// column with the odd long value.
fn copy_stream(rows: u32) -> Vec<u8> {
    let mut s = COPY_BINARY_SIGNATURE.to_vec();
    s.extend_from_slice(&0u32.to_be_bytes()); // flags
    s.extend_from_slice(&0u32.to_be_bytes()); // header extension length
    let field = |s: &mut Vec<u8>, v: Option<&[u8]>| match v {
        None => s.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(v) => {
            s.extend_from_slice(&(v.len() as i32).to_be_bytes());
            s.extend_from_slice(v);
        }
    };
    for i in 0..rows {
        s.extend_from_slice(&4i16.to_be_bytes());
        field(&mut s, Some(&i.to_be_bytes()));
        let text = format!("customer {i} {}", "x".repeat((i % 50) as usize));
        field(&mut s, (i % 7 != 0).then_some(text.as_bytes()));
        let bytes = vec![(i % 251) as u8; (i % 3) as usize * 5];
        field(&mut s, Some(&bytes));
        let long = vec![b'z'; 300 + (i % 1000) as usize];
        field(&mut s, (i % 97 == 0).then_some(&long[..]));
    }
    s.extend_from_slice(&(-1i16).to_be_bytes());
    s
}

/// Column blocks of `stream`, fed to the encoder in odd-sized chunks.
fn column_blocks(stream: &[u8]) -> (Vec<Vec<u8>>, u64) {
    let mut enc = ColumnEncoder::new();
    let mut blocks = Vec::new();
    for chunk in stream.chunks(8191) {
        enc.feed(chunk, &mut |b| blocks.push(b)).unwrap();
    }
    assert!(enc.finished());
    (blocks, enc.rows())
}

/// An archive whose entry 5 is `stream` as column frames.
fn column_archive(stream: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (blocks, rows) = column_blocks(stream);
    let mut w = ArchiveWriter::new(Vec::new(), b"toc bytes", 1).unwrap();
    for b in &blocks {
        w.write_column_frame(5, b.len(), &compress_frame(b, 1).unwrap())
            .unwrap();
    }
    w.end_entry(5, rows).unwrap();
    (w.finish().unwrap(), blocks)
}

/// Sets the header's major version and fixes the whole-file checksum in the
/// footer (trailer offset u64, XXH3-64 of every byte before the footer, magic).
fn set_major(a: &mut [u8], major: u16) {
    a[8..10].copy_from_slice(&major.to_le_bytes());
    let footer = a.len() - 24;
    let hash = xxh3_64(&a[..footer]);
    a[footer + 8..footer + 16].copy_from_slice(&hash.to_le_bytes());
}

#[test]
fn column_frames_read_back_as_the_exact_copy_bytes() {
    let stream = copy_stream(20_000);
    let (a, blocks) = column_archive(&stream);
    assert!(blocks.len() > 1, "the stream should span several blocks");
    let mut r = ArchiveReader::new(Cursor::new(a)).unwrap();
    assert_eq!(r.version(), (FORMAT_MAJOR, 0));
    r.verify().unwrap();
    let idx = &r.entries()[&5];
    assert_eq!(idx.rows, 20_000);
    assert_eq!(idx.frames.len(), blocks.len());
    // raw_len of a column frame is the length of the uncompressed block.
    let block_bytes: usize = blocks.iter().map(Vec::len).sum();
    assert_eq!(idx.raw_bytes, block_bytes as u64);
    let frames: Vec<Vec<u8>> = r.entry_frames(5).unwrap().map(|f| f.unwrap()).collect();
    assert_eq!(frames.len(), blocks.len());
    assert_eq!(frames.concat(), stream);
}

#[test]
fn data_and_column_frames_mix_in_order() {
    let stream = copy_stream(25_000);
    let (blocks, _) = column_blocks(&stream);
    assert!(blocks.len() > 1);
    let first = b"first, as rows".to_vec();
    let last = vec![7u8; 5000];
    let mut w = ArchiveWriter::new(Vec::new(), b"toc bytes", 3).unwrap();
    w.write_frame(9, first.len(), &compress_frame(&first, 3).unwrap())
        .unwrap();
    for b in &blocks {
        w.write_column_frame(9, b.len(), &compress_frame(b, 3).unwrap())
            .unwrap();
    }
    w.write_frame(9, last.len(), &compress_frame(&last, 3).unwrap())
        .unwrap();
    w.end_entry(9, 1).unwrap();
    let mut r = ArchiveReader::new(Cursor::new(w.finish().unwrap())).unwrap();
    r.verify().unwrap();
    let frames: Vec<Vec<u8>> = r.entry_frames(9).unwrap().map(|f| f.unwrap()).collect();
    assert_eq!(frames.len(), blocks.len() + 2);
    assert_eq!(frames[0], first);
    assert_eq!(frames[frames.len() - 1], last);
    for (f, b) in frames[1..frames.len() - 1].iter().zip(&blocks) {
        assert_eq!(*f, decode_block(b).unwrap());
    }
    assert_eq!(frames[1..frames.len() - 1].concat(), stream);
}

#[test]
fn major_version_1_archives_still_read() {
    let mut a = sample();
    assert_eq!(u16::from_le_bytes([a[8], a[9]]), FORMAT_MAJOR);
    set_major(&mut a, 1);
    let mut r = ArchiveReader::new(Cursor::new(a)).unwrap();
    assert_eq!(r.version(), (1, 0));
    r.verify().unwrap();
    assert_eq!(r.toc().unwrap(), b"toc bytes");
    let frames: Vec<Vec<u8>> = r.entry_frames(1).unwrap().map(|f| f.unwrap()).collect();
    assert_eq!(
        frames,
        [vec![0u8; 10_000], vec![1; 10_001], vec![2; 10_002]]
    );
}

#[test]
fn next_major_version_is_refused() {
    let mut a = sample();
    set_major(&mut a, FORMAT_MAJOR + 1);
    let err = ArchiveReader::new(Cursor::new(a)).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::NewerVersion { major, minor: 0, supported: FORMAT_MAJOR }
                if major == FORMAT_MAJOR + 1
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("({FORMAT_MAJOR}.x); upgrade pgferry")),
        "{err}"
    );
}

#[test]
fn flipped_column_frame_byte_is_corrupt() {
    let (good, _) = column_archive(&copy_stream(3000));
    let idx = ArchiveReader::new(Cursor::new(good.clone()))
        .unwrap()
        .entries()[&5]
        .clone();
    let at = idx.frames[0] as usize;
    assert_eq!(good[at], 5, "a COLUMNS record");
    let len = u32::from_le_bytes([good[at + 9], good[at + 10], good[at + 11], good[at + 12]]);
    for pos in (at + 21..at + 21 + len as usize).step_by(101) {
        let mut a = good.clone();
        a[pos] ^= 0x40;
        let outcome = std::panic::catch_unwind(|| {
            let verified = ArchiveReader::new(Cursor::new(a.clone())).and_then(|mut r| r.verify());
            let mut r = ArchiveReader::new(Cursor::new(a)).unwrap();
            let read: Result<Vec<Vec<u8>>, FormatError> = r.entry_frames(5).unwrap().collect();
            (verified, read)
        })
        .expect("the reader panicked on a damaged column frame");
        for res in [outcome.0.map(|_| ()), outcome.1.map(|_| ())] {
            match res {
                Err(FormatError::Corrupt(m)) => assert!(
                    m.contains(&format!(
                        "checksum mismatch in the data frame of entry 5 at byte {at}"
                    )),
                    "flip at {pos}: {m}"
                ),
                other => panic!("flip at {pos}: {other:?}"),
            }
        }
    }
}

#[test]
fn undecodable_column_block_is_corrupt() {
    let block = b"\x07 not a column block";
    let mut w = ArchiveWriter::new(Vec::new(), b"toc bytes", 3).unwrap();
    w.write_column_frame(4, block.len(), &compress_frame(block, 3).unwrap())
        .unwrap();
    w.end_entry(4, 0).unwrap();
    let mut r = ArchiveReader::new(Cursor::new(w.finish().unwrap())).unwrap();
    r.verify().unwrap(); // the checksums are right: the damage predates them
    let err = r.entry_frames(4).unwrap().next().unwrap().unwrap_err();
    assert!(
        matches!(&err, FormatError::Corrupt(m) if m.contains("column block damaged")),
        "{err:?}"
    );
}
