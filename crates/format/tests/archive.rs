//! Archive round trip and damage detection.
use std::io::Cursor;

use pgferry_format::{compress_frame, ArchiveReader, ArchiveWriter, FormatError};

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
