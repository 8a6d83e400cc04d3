//! Table data split into parts: a parallel dump copies a large table as
//! block ranges, each its own archive entry; a restore joins them back into
//! one COPY BINARY stream.

/// Spacing of part entry ids (object ids stay below it).
pub const PART_STRIDE: u32 = 1 << 22;

/// Archive entry id of part `k` of the table data object `id`.
///
/// ```
/// use pgferry_format::{part_entry, PART_STRIDE};
/// assert_eq!(part_entry(7, 0), 7);
/// assert_eq!(part_entry(7, 2), 7 + 2 * PART_STRIDE);
/// ```
pub fn part_entry(id: u32, k: u32) -> u32 {
    if k == 0 {
        id
    } else {
        id + k * PART_STRIDE
    }
}

/// Header length of a COPY BINARY stream as PostgreSQL writes it (no extension).
const COPY_HEADER_LEN: usize = 19;

/// Streams the COPY data of table data object `id` to `send`, joining the
/// block-range parts of a parallel dump into one COPY BINARY stream (the
/// header of parts after the first and the trailer of parts before the last
/// are dropped). Returns `Ok(false)` when `send` asked to stop.
pub fn entry_stream<R: std::io::Read + std::io::Seek>(
    reader: &mut crate::ArchiveReader<R>,
    id: u32,
    parts: u32,
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> Result<bool, crate::FormatError> {
    let n = parts.max(1);
    for k in 0..n {
        let mut skip = if k > 0 { COPY_HEADER_LEN } else { 0 };
        let mut header = Vec::new();
        let mut pending: Option<Vec<u8>> = None;
        for frame in reader.entry_frames(part_entry(id, k))? {
            let mut f = frame?;
            if skip > 0 {
                let s = skip.min(f.len());
                header.extend(f.drain(..s));
                skip -= s;
                if skip == 0
                    && header[..crate::COPY_BINARY_SIGNATURE.len()]
                        != crate::COPY_BINARY_SIGNATURE[..]
                {
                    return Err(crate::FormatError::Corrupt(format!(
                        "part {k} of entry {id} is not a COPY BINARY stream"
                    )));
                }
            }
            if let Some(p) = pending.replace(f) {
                if !p.is_empty() && !send(p) {
                    return Ok(false);
                }
            }
        }
        if let Some(mut p) = pending {
            if k + 1 < n {
                if p.len() < 2 || p[p.len() - 2..] != [0xff, 0xff] {
                    return Err(crate::FormatError::Corrupt(format!(
                        "part {k} of entry {id} lacks its COPY trailer"
                    )));
                }
                p.truncate(p.len() - 2);
            }
            if !p.is_empty() && !send(p) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}
