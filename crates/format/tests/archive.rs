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
