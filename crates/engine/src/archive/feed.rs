//! Table data read back from a verified archive: a blocking reader thread
//! streams entries, in the order asked, through a bounded channel into the
//! target's COPY. The one feed restore and `restore -j` share.
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures::SinkExt;
use pgferry_catalog::{Kind, Object};
use pgferry_format::{entry_stream, ArchiveReader};
use tokio::sync::mpsc;
use tokio_postgres::CopyInSink;

use crate::error::{Error, Side};
use crate::progress::{report, Progress, ProgressFn};
use crate::target::apply::TableFeed;
use crate::watch::{Blocked, Phase};

/// Frames between the reader thread and the target.
const DEPTH: usize = 4;

/// A frame, the end of an entry (`None`), or why reading stopped.
type Item = Result<Option<Bytes>, Error>;

/// The archive entries of `objects` that carry data, in order: `(id, parts)`.
pub(crate) fn data_entries<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Vec<(u32, u32)> {
    objects
        .into_iter()
        .filter_map(|o| match o.kind {
            Kind::TableData { parts, .. } => Some((o.id, parts)),
            Kind::LargeObjects { .. } => Some((o.id, 0)),
            _ => None,
        })
        .collect()
}

/// Table data from an archive reader thread.
pub(crate) struct ArchiveFeed {
    rx: mpsc::Receiver<Item>,
    phase: Option<Phase>,
    thread: tokio::task::JoinHandle<()>,
}

/// Where the reader thread reads: an archive already opened, or one to open.
enum Source {
    Reader(ArchiveReader<BufReader<File>>),
    Path,
}

impl ArchiveFeed {
    /// Streams `entries` from `reader` (an archive already verified) on a
    /// blocking thread; with `phase`, time spent waiting on the target is
    /// reported to its watch.
    pub(crate) fn start(
        reader: ArchiveReader<BufReader<File>>,
        path: PathBuf,
        entries: Vec<(u32, u32)>,
        phase: Option<Phase>,
    ) -> ArchiveFeed {
        ArchiveFeed::spawn(Source::Reader(reader), path, entries, phase)
    }

    /// Opens its own reader of the (verified) archive at `path` for
    /// `entries`, on the reader thread (each parallel worker reads on its own).
    pub(crate) fn open(path: &Path, entries: Vec<(u32, u32)>) -> ArchiveFeed {
        ArchiveFeed::spawn(Source::Path, path.to_path_buf(), entries, None)
    }

    fn spawn(
        source: Source,
        path: PathBuf,
        entries: Vec<(u32, u32)>,
        phase: Option<Phase>,
    ) -> ArchiveFeed {
        let (tx, rx) = mpsc::channel::<Item>(DEPTH);
        let thread = tokio::task::spawn_blocking(move || {
            let mut reader = match source {
                Source::Reader(r) => r,
                Source::Path => match open_reader(&path) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                },
            };
            for (id, parts) in entries {
                let sent = entry_stream(&mut reader, id, parts, |frame| {
                    tx.blocking_send(Ok(Some(Bytes::from(frame)))).is_ok()
                });
                let end = match sent {
                    Ok(true) => Ok(None),
                    Ok(false) => return,
                    Err(source) => Err(Error::Archive {
                        path: path.clone(),
                        source,
                    }),
                };
                let stop = end.is_err();
                if tx.blocking_send(end).is_err() || stop {
                    return;
                }
            }
        });
        ArchiveFeed { rx, phase, thread }
    }

    /// Stops reading and waits for the reader thread to let go of the file.
    pub(crate) async fn close(self) {
        drop(self.rx);
        let _ = self.thread.await;
    }
}

/// A reader of the archive at `path`.
fn open_reader(path: &Path) -> Result<ArchiveReader<BufReader<File>>, Error> {
    let file = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    ArchiveReader::new(BufReader::with_capacity(1 << 20, file)).map_err(|source| Error::Archive {
        path: path.to_path_buf(),
        source,
    })
}

impl TableFeed for ArchiveFeed {
    async fn feed(
        &mut self,
        o: &Object,
        mut sink: Pin<&mut CopyInSink<Bytes>>,
        progress: &Option<ProgressFn>,
    ) -> Result<u64, Error> {
        let mut bytes = 0u64;
        loop {
            match self.rx.recv().await {
                Some(Ok(Some(frame))) => {
                    bytes += frame.len() as u64;
                    report(
                        progress,
                        Progress::Bytes {
                            table: o.display_name(),
                            bytes: frame.len() as u64,
                        },
                    );
                    let _blocked = self
                        .phase
                        .as_ref()
                        .map(|p| p.waiting(Side::Target, Blocked::Sending));
                    sink.feed(frame).await.map_err(|e| Error::object(o, e))?;
                }
                Some(Ok(None)) => {
                    let _blocked = self
                        .phase
                        .as_ref()
                        .map(|p| p.waiting(Side::Target, Blocked::Sending));
                    sink.flush().await.map_err(|e| Error::object(o, e))?;
                    return Ok(bytes);
                }
                Some(Err(e)) => return Err(e),
                None => return Err(Error::Cancelled),
            }
        }
    }
}
