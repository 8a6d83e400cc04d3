//! The archive writer: a blocking thread behind a bounded channel that
//! frames, compresses and writes what the COPY readers send, and writes the
//! trailer only when told the dump is complete.
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use pgferry_catalog::{Catalog, CopyFormat};
use pgferry_format::ArchiveWriter;
use tokio::sync::mpsc;

use crate::archive::atomic::AtomicFile;
use crate::archive::frames::{Frame, Framer, Packed};
use crate::error::Error;

/// zstd level when none is asked for (on column blocks level 1 is both
/// faster and, on the benchmark data, smaller than level 3 on rows).
pub const DEFAULT_LEVEL: i32 = 1;
/// Frames in flight between the COPY readers and the writer.
const CHANNEL_DEPTH: usize = 8;

/// What the COPY readers send to the archive writer.
pub(crate) enum Msg {
    /// COPY bytes of an entry in the given format, framed and compressed by the writer.
    Copy(u32, CopyFormat, Bytes),
    /// A frame already compressed by the reader.
    Packed(Packed),
    /// The entry is complete with this many rows.
    End(u32, u64),
    /// Everything was sent: write the trailer once every sender is dropped.
    Finish,
}

/// What the writer returns when its senders went away without
/// [`Msg::Finish`]: the archive is left without its trailer, so it can never
/// be taken for a complete one.
const ABORTED: &str = "the dump failed; the archive was left incomplete";

/// The table of contents of `catalog`.
pub(crate) fn toc_of(catalog: &Catalog, path: &Path) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(catalog).map_err(|e| Error::Toc {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// A running archive writer: the channel to it and its thread.
pub(crate) struct Writer {
    /// Where the COPY readers send.
    pub tx: mpsc::Sender<Msg>,
    thread: tokio::task::JoinHandle<Result<u64, std::io::Error>>,
}

/// How a writer ended.
pub(crate) enum Written {
    /// The archive is complete: its size.
    Complete(u64),
    /// It was aborted because the dump failed (no trailer was written).
    Aborted,
    /// Writing failed (broken pipe, full disk).
    Failed(Error),
}

impl Writer {
    /// Starts the writer on a blocking thread. It writes the trailer once
    /// every sender is dropped after a [`Msg::Finish`]; without one (a failed
    /// or cancelled dump) it stops without a trailer.
    pub(crate) fn start<W: Write + Send + 'static>(out: W, toc: Vec<u8>, level: i32) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Msg>(CHANNEL_DEPTH);
        let thread = tokio::task::spawn_blocking(move || -> Result<u64, std::io::Error> {
            let to_io = |e: pgferry_format::FormatError| match e {
                pgferry_format::FormatError::Io(e) => e,
                other => std::io::Error::other(other.to_string()),
            };
            let mut w = ArchiveWriter::new(out, &toc, level).map_err(to_io)?;
            let mut framers: std::collections::HashMap<u32, Framer> = Default::default();
            let mut frames = Vec::new();
            let put = |w: &mut ArchiveWriter<W>, entry: u32, frames: &mut Vec<Frame>| {
                frames
                    .drain(..)
                    .try_for_each(|f| f.pack(entry, level)?.write(w))
                    .map_err(to_io)
            };
            let mut finished = false;
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    Msg::Finish => finished = true,
                    Msg::Copy(entry, format, bytes) => {
                        framers
                            .entry(entry)
                            .or_insert_with(|| Framer::new(format))
                            .feed(&bytes, &mut frames)
                            .map_err(std::io::Error::other)?;
                        put(&mut w, entry, &mut frames)?;
                    }
                    Msg::Packed(p) => p.write(&mut w).map_err(to_io)?,
                    Msg::End(entry, rows) => {
                        if let Some(mut f) = framers.remove(&entry) {
                            f.finish(&mut frames).map_err(std::io::Error::other)?;
                            put(&mut w, entry, &mut frames)?;
                        }
                        w.end_entry(entry, rows).map_err(to_io)?
                    }
                }
            }
            if !finished {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Interrupted,
                    ABORTED,
                ));
            }
            let (_, n) = w.finish_counted().map_err(to_io)?;
            Ok(n)
        });
        Writer { tx, thread }
    }

    /// Ends the archive: complete (with its trailer) when `complete`, else
    /// aborted; waits for the writer thread.
    pub(crate) async fn end(self, complete: bool) -> Written {
        if complete {
            let _ = self.tx.send(Msg::Finish).await;
        }
        drop(self.tx);
        let io = |source| {
            Written::Failed(Error::Io {
                path: PathBuf::from("archive"),
                source,
            })
        };
        match self.thread.await {
            Ok(Ok(n)) => Written::Complete(n),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => Written::Aborted,
            Ok(Err(e)) => io(e),
            Err(e) => Written::Failed(Error::worker(e)),
        }
    }
}

/// An archive file written alongside another operation (sync's
/// `--keep-archive`), committed into place only when complete.
pub(crate) struct ArchiveFile {
    writer: Writer,
    file: AtomicFile,
}

impl ArchiveFile {
    /// Starts writing `catalog`'s archive to `path` (under a temporary name).
    pub(crate) fn start(path: &Path, catalog: &Catalog) -> Result<Self, Error> {
        let toc = toc_of(catalog, path)?;
        let (file, out) = AtomicFile::create(path)?;
        Ok(ArchiveFile {
            writer: Writer::start(out, toc, DEFAULT_LEVEL),
            file,
        })
    }

    /// Where table data is sent.
    pub(crate) fn sender(&self) -> mpsc::Sender<Msg> {
        self.writer.tx.clone()
    }

    /// Writes the trailer and renames the file into place.
    pub(crate) async fn finish(self) -> Result<(), Error> {
        match self.writer.end(true).await {
            Written::Complete(_) => self.file.commit(),
            Written::Failed(e) => Err(e),
            Written::Aborted => Err(Error::Io {
                path: "archive".into(),
                source: std::io::Error::other(ABORTED),
            }),
        }
    }
}
