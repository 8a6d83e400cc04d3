//! Sync's relay: a table's COPY out of the source streams straight into the
//! target's COPY in, batched, through a small bounded queue (optionally
//! teed into an archive).
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use pgferry_catalog::{CopyFormat, Kind, Object, QName};
use pgferry_format::CopyRowCounter;
use tokio::sync::mpsc;
use tokio_postgres::{Client, CopyInSink};

use crate::archive::writer::Msg;
use crate::error::{Error, Side};
use crate::progress::{report, Progress, ProgressFn};
use crate::source::copy_out::{large_objects_table, CopyOut};
use crate::target::apply::TableFeed;
use crate::watch::{Blocked, Phase};

/// Bytes gathered from the source's COPY before they are written to the target.
const BATCH: usize = 1 << 20;
/// Batches queued between the source reader and the target writer.
const RELAY_DEPTH: usize = 4;

/// Table data straight from the source's COPY, optionally teed into an archive.
pub(crate) struct LiveFeed<'a> {
    src: &'a Client,
    phase: Phase,
    archive: Option<mpsc::Sender<Msg>>,
    /// Rows read from the source per table.
    pub source_rows: Vec<(QName, u64)>,
}

impl<'a> LiveFeed<'a> {
    /// Reads from `src` (inside its snapshot); `archive` receives a copy.
    pub(crate) fn new(src: &'a Client, phase: Phase, archive: Option<mpsc::Sender<Msg>>) -> Self {
        LiveFeed {
            src,
            phase,
            archive,
            source_rows: Vec::new(),
        }
    }
}

impl TableFeed for LiveFeed<'_> {
    async fn feed(
        &mut self,
        o: &Object,
        mut sink: Pin<&mut CopyInSink<Bytes>>,
        progress: &Option<ProgressFn>,
    ) -> Result<u64, Error> {
        let (table, sql, format) = match &o.kind {
            Kind::TableData {
                table,
                columns,
                format,
                casts,
                filter,
                ..
            } => (
                table.clone(),
                pgferry_catalog::copy_out_sql(table, columns, *format, casts, filter.as_deref()),
                *format,
            ),
            Kind::LargeObjects { .. } => (
                large_objects_table(),
                pgferry_catalog::LARGE_OBJECTS_COPY_OUT.to_string(),
                CopyFormat::Binary,
            ),
            _ => return Ok(0),
        };
        let counter = match format {
            CopyFormat::Binary => CopyRowCounter::binary(),
            CopyFormat::Text => CopyRowCounter::text(),
        };
        let mut copy = CopyOut::start(self.src, &sql, &table, Some(counter)).await?;
        // The server sends one CopyData message per row: batch them so the
        // target gets large writes (and the archive large frames). Reading
        // and writing run concurrently through a small bounded queue, so the
        // source keeps producing while the target is busy with a batch.
        let (tx, mut rx) = mpsc::channel::<Bytes>(RELAY_DEPTH);
        let archive = &mut self.archive;
        let phase = &self.phase;
        let copy_ref = &mut copy;
        let table_ref = &table;
        let reader = async move {
            let mut batch = BytesMut::with_capacity(BATCH + 65536);
            loop {
                let next = copy_ref.next(Some(phase)).await?;
                let done = next.is_none();
                if let Some(chunk) = next {
                    batch.extend_from_slice(&chunk);
                }
                if batch.len() >= BATCH || (done && !batch.is_empty()) {
                    let frame = batch.split().freeze();
                    report(
                        progress,
                        Progress::Bytes {
                            table: table_ref.to_string(),
                            bytes: frame.len() as u64,
                        },
                    );
                    if let Some(a) = archive.as_ref() {
                        if a.send(Msg::Copy(o.id, format, frame.clone()))
                            .await
                            .is_err()
                        {
                            *archive = None;
                        }
                    }
                    if tx.send(frame).await.is_err() {
                        // The writer stopped; its error is the one reported.
                        break;
                    }
                }
                if done {
                    break;
                }
            }
            Ok::<(), Error>(())
        };
        // The writer owns the receiving end: when it fails, the queue closes
        // and the reader stops at once (try_join drops it).
        let writer = async move {
            while let Some(frame) = rx.recv().await {
                let _blocked = phase.waiting(Side::Target, Blocked::Sending);
                sink.feed(frame).await.map_err(|e| Error::object(o, e))?;
            }
            let _blocked = phase.waiting(Side::Target, Blocked::Sending);
            sink.flush().await.map_err(|e| Error::object(o, e))
        };
        futures::future::try_join(reader, writer).await?;
        let rows = copy.finish()?;
        if let Some(a) = &self.archive {
            let _ = a.send(Msg::End(o.id, rows)).await;
        }
        self.source_rows.push((table, rows));
        Ok(copy.bytes())
    }
}
