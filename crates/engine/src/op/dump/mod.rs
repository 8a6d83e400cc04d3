//! `dump`: catalog + table data from one source snapshot into an archive
//! (or, [`plain`], a SQL script).
//! The recipe: snapshot and catalog, plan the work, start the archive
//! writer, copy every table over the worker pool, finish the archive only
//! when everything arrived.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::archive::atomic::AtomicFile;
use crate::archive::frames::{Framer, Packed};
use crate::archive::writer::{toc_of, Msg, Writer, Written, DEFAULT_LEVEL};
use crate::conn::{connect, ConnSpec};
use crate::error::{Error, Side};
use crate::filter::Filters;
use crate::pool;
use crate::progress::{report, Progress, ProgressFn};
use crate::source::copy_out::CopyOut;
use crate::source::plan::{plan_work, Work, DEFAULT_SPLIT_PAGES};
use crate::source::snapshot::{
    begin_snapshot_with, export_snapshot, join_snapshot, Start, DEFAULT_LOCK_TIMEOUT,
};
use crate::watch::{watched, Peer, Phase};

mod plain;

use plain::write_script;
pub use plain::{InsertOptions, PlainData, PlainOptions, DEFAULT_SCRIPT_LEVEL};

/// What [`dump`] writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DumpFormat {
    /// pgferry's archive: binary COPY data in zstd frames, verified on
    /// read, restored by `pgferry restore` (not by pg_restore).
    #[default]
    Archive,
    /// A SQL script psql replays (`pg_dump`'s plain format).
    Plain(PlainOptions),
}

/// Options of [`dump`].
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Archive (the default) or plain SQL.
    pub format: DumpFormat,
    /// pg_dump-style filters.
    pub filters: Filters,
    /// zstd level (default 1: on column blocks it is both faster and,
    /// on the benchmark data, smaller than level 3 on rows).
    pub compress_level: i32,
    /// Definitions only.
    pub schema_only: bool,
    /// Data only.
    pub data_only: bool,
    /// How long to wait for each table lock (default 10 s).
    pub lock_timeout: Duration,
    /// Parallel source connections (they share the leader's snapshot); 0 or 1: one.
    pub jobs: usize,
    /// With several jobs, tables of at least this many 8 kB pages are split
    /// into block ranges (default 16384 = 128 MB; PostgreSQL 14+).
    pub split_pages: i64,
    /// Statements left out (`-x/--no-privileges`, `--no-comments`): of a
    /// script, or recorded in the archive for its restores.
    pub omit: pgferry_catalog::Omit,
    /// Only these sections (`--section`; empty: all).
    pub sections: Vec<pgferry_catalog::Section>,
    /// Read in this exported snapshot (`--snapshot`, from
    /// `pg_export_snapshot()` of a session still open) instead of a new one.
    pub snapshot: Option<String>,
    /// `--serializable-deferrable`: a snapshot no serializable transaction
    /// can contradict (waits for one).
    pub serializable_deferrable: bool,
    /// `--load-via-partition-root`: a partition's rows load through the
    /// root of its partition tree (recorded in the archive, written so in a
    /// script).
    pub load_via_partition_root: bool,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            format: DumpFormat::Archive,
            filters: Filters::default(),
            compress_level: DEFAULT_LEVEL,
            schema_only: false,
            data_only: false,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            jobs: 1,
            split_pages: DEFAULT_SPLIT_PAGES,
            omit: Default::default(),
            sections: Vec::new(),
            snapshot: None,
            serializable_deferrable: false,
            load_via_partition_root: false,
            progress: None,
        }
    }
}

/// What a dump wrote.
#[derive(Debug, Clone, Default)]
pub struct DumpSummary {
    /// Objects in the table of contents.
    pub objects: usize,
    /// Tables whose data was copied.
    pub tables: usize,
    /// Rows copied.
    pub rows: u64,
    /// Uncompressed COPY bytes (a plain script's row text).
    pub raw_bytes: u64,
    /// Archive (or script) size.
    pub archive_bytes: u64,
}

/// Dumps the database `source` describes into `out` (any writer; streaming):
/// an archive, or with [`DumpFormat::Plain`] a SQL script.
///
/// ```no_run
/// # async fn f() -> Result<(), pgferry_engine::Error> {
/// use pgferry_engine::{dump, ConnSpec, DumpFormat, DumpOptions, PlainOptions};
/// let source = ConnSpec::parse("host=127.0.0.1 dbname=app user=postgres").unwrap();
/// let opts = DumpOptions {
///     format: DumpFormat::Plain(PlainOptions::default()),
///     ..Default::default()
/// };
/// dump(&source, &opts, std::io::stdout()).await?; // psql replays it
/// # Ok(()) }
/// ```
///
/// ```no_run
/// # async fn f() -> Result<(), pgferry_engine::Error> {
/// use pgferry_engine::{dump, ConnSpec, DumpOptions};
/// let source = ConnSpec::parse("host=127.0.0.1 dbname=app user=postgres").unwrap();
/// let summary = dump(&source, &DumpOptions::default(), std::io::sink()).await?;
/// println!("{} rows", summary.rows);
/// # Ok(()) }
/// ```
pub async fn dump<W: Write + Send + 'static>(
    source: &ConnSpec,
    opts: &DumpOptions,
    out: W,
) -> Result<DumpSummary, Error> {
    let client = connect(source, Side::Source).await?;
    let phase = Phase::new("reading the source catalog");
    let peer = Peer::start(source, Side::Source, &phase).await?;
    peer.watch_backend(&client).await;
    watched(
        &[&peer],
        &[],
        &phase,
        dump_with(client, source, opts, out, &phase),
    )
    .await
}

/// Dumps into `path` through a temporary file renamed into place at the end,
/// so a failed or killed dump never leaves a file that looks complete.
pub async fn dump_to_path(
    source: &ConnSpec,
    opts: &DumpOptions,
    path: &Path,
) -> Result<DumpSummary, Error> {
    let (file, writer) = AtomicFile::create(path)?;
    let summary = dump(source, opts, writer).await?;
    file.commit()?;
    Ok(summary)
}

async fn dump_with<W: Write + Send + 'static>(
    client: Client,
    source: &ConnSpec,
    opts: &DumpOptions,
    out: W,
    phase: &Phase,
) -> Result<DumpSummary, Error> {
    let start = Start {
        snapshot: opts.snapshot.as_deref(),
        serializable_deferrable: opts.serializable_deferrable,
    };
    let mut catalog =
        begin_snapshot_with(&client, &opts.filters, opts.lock_timeout, &start).await?;
    catalog.omit = opts.omit;
    if opts.load_via_partition_root {
        pgferry_catalog::load_via_partition_root(&mut catalog.objects);
    }
    if opts.omit.security_labels {
        catalog.leave_out_security_labels();
    }
    // Materialized view contents count as data: a schema-only archive leaves
    // them unpopulated, a data-only one refreshes them after loading.
    if opts.schema_only {
        catalog.objects.retain(|o| !o.kind.is_data());
    }
    if opts.data_only {
        catalog.objects.retain(|o| o.kind.is_data());
    }
    pgferry_catalog::keep_sections(&mut catalog.objects, &opts.sections);
    if let DumpFormat::Plain(plain) = &opts.format {
        return dump_plain(&client, &catalog, plain, opts, out, phase).await;
    }
    let jobs = opts.jobs.max(1);
    let work = plan_work(&client, &mut catalog, jobs, opts.split_pages.max(1)).await?;
    let tables = work.iter().filter(|w| w.part == 0).count();
    report(
        &opts.progress,
        Progress::CatalogRead {
            objects: catalog.objects.len(),
            tables,
        },
    );
    let toc = toc_of(&catalog, &PathBuf::from("-"))?;
    let level = opts.compress_level;
    phase.set("copying table data");
    let writer = Writer::start(out, toc, level);
    let snapshot = if jobs > 1 && work.len() > 1 {
        Some(export_snapshot(&client).await?)
    } else {
        None
    };
    let copied = copy_all(
        source,
        client,
        snapshot,
        work,
        jobs,
        level,
        writer.tx.clone(),
        &opts.progress,
    )
    .await;
    match (writer.end(copied.is_ok()).await, copied) {
        (Written::Complete(archive_bytes), Ok((client, rows, raw_bytes))) => {
            let _ = client.batch_execute("COMMIT").await;
            report(&opts.progress, Progress::Finished);
            Ok(DumpSummary {
                objects: catalog.objects.len(),
                tables,
                rows,
                raw_bytes,
                archive_bytes,
            })
        }
        // When the writer failed writing (broken pipe, full disk), its
        // error is the cause; otherwise the copy's.
        (Written::Failed(e @ Error::Io { .. }), _) | (_, Err(e)) => Err(e),
        (Written::Failed(e), Ok(_)) => Err(e),
        (Written::Aborted, Ok(_)) => Err(Error::Cancelled),
    }
}

/// The plain format: one connection writes the script in snapshot order.
async fn dump_plain<W: Write + Send + 'static>(
    client: &Client,
    catalog: &pgferry_catalog::Catalog,
    plain: &PlainOptions,
    opts: &DumpOptions,
    out: W,
    phase: &Phase,
) -> Result<DumpSummary, Error> {
    let tables = catalog
        .objects
        .iter()
        .filter(|o| matches!(o.kind, pgferry_catalog::Kind::TableData { .. }))
        .count();
    report(
        &opts.progress,
        Progress::CatalogRead {
            objects: catalog.objects.len(),
            tables,
        },
    );
    let render = pgferry_catalog::RenderOptions {
        keep_owners: plain.keep_owners,
        omit: opts.omit,
        ..Default::default()
    };
    let s = write_script(client, catalog, plain, &render, out, &opts.progress, phase).await?;
    let _ = client.batch_execute("COMMIT").await;
    report(&opts.progress, Progress::Finished);
    Ok(DumpSummary {
        objects: catalog.objects.len(),
        tables: s.tables,
        rows: s.rows,
        raw_bytes: s.data_bytes,
        archive_bytes: s.script_bytes,
    })
}

type Copied = (Client, u64, u64);

/// Copies every work item out of the source with `jobs` connections in one
/// snapshot (the leader's `client` plus workers that import `snapshot`).
#[allow(clippy::too_many_arguments)]
async fn copy_all(
    source: &ConnSpec,
    client: Client,
    snapshot: Option<String>,
    work: Vec<Work>,
    jobs: usize,
    level: i32,
    tx: mpsc::Sender<Msg>,
    progress: &Option<ProgressFn>,
) -> Result<Copied, Error> {
    let workers = if snapshot.is_some() { jobs } else { 1 };
    let leader = Arc::new(client);
    let done = pool::run(workers, work, |w, queue| {
        let (tx, progress, source, snapshot, leader) = (
            tx.clone(),
            progress.clone(),
            source.clone(),
            snapshot.clone(),
            leader.clone(),
        );
        async move {
            let own;
            let c: &Client = if w == 0 {
                &leader
            } else {
                own = connect(&source, Side::Source).await?;
                join_snapshot(&own, &snapshot.unwrap_or_default()).await?;
                &own
            };
            let mut rows = 0u64;
            let mut bytes = 0u64;
            while let Some(item) = queue.next() {
                let name = item.table.to_string();
                if item.part == 0 {
                    report(
                        &progress,
                        Progress::TableStarted {
                            table: name.clone(),
                        },
                    );
                }
                let (r, b) = copy_work(c, &item, level, &tx, &progress).await?;
                rows += r;
                bytes += b;
                if item.part + 1 == item.parts {
                    report(
                        &progress,
                        Progress::TableDone {
                            table: name,
                            rows: r,
                            bytes: b,
                        },
                    );
                }
            }
            Ok::<(u64, u64), Error>((rows, bytes))
        }
    })
    .await?;
    drop(tx);
    let (rows, bytes) = done
        .into_iter()
        .fold((0, 0), |(r, b), (r2, b2)| (r + r2, b + b2));
    let client = Arc::try_unwrap(leader)
        .map_err(|_| Error::Worker("the leader connection is still in use".into()))?;
    Ok((client, rows, bytes))
}

/// Streams one work item: the COPY stream cut into frames (column blocks
/// for binary COPY), each compressed on a blocking thread while the next
/// one is read.
async fn copy_work(
    client: &Client,
    w: &Work,
    level: i32,
    tx: &mpsc::Sender<Msg>,
    progress: &Option<ProgressFn>,
) -> Result<(u64, u64), Error> {
    let mut copy = CopyOut::start(client, &w.sql(), &w.table, None).await?;
    let mut framer = Framer::new(w.format);
    let mut frames = Vec::new();
    let mut reported = 0u64;
    let mut in_flight: Option<tokio::task::JoinHandle<Result<Packed, String>>> = None;
    let entry = w.entry;
    let rows = loop {
        let rows = match copy.next(None).await? {
            Some(chunk) => {
                framer
                    .feed(&chunk, &mut frames)
                    .map_err(|m| copy.stream_error(m))?;
                None
            }
            None => Some(
                framer
                    .finish(&mut frames)
                    .map_err(|m| copy.stream_error(m))?,
            ),
        };
        for frame in frames.drain(..) {
            report(
                progress,
                Progress::Bytes {
                    table: w.table.to_string(),
                    bytes: copy.bytes() - reported,
                },
            );
            reported = copy.bytes();
            if let Some(prev) = in_flight.take() {
                send_packed(prev, &copy, tx).await?;
            }
            in_flight = Some(tokio::task::spawn_blocking(move || {
                frame.pack(entry, level).map_err(|e| e.to_string())
            }));
        }
        if let Some(rows) = rows {
            break rows;
        }
    };
    if let Some(prev) = in_flight.take() {
        send_packed(prev, &copy, tx).await?;
    }
    tx.send(Msg::End(entry, rows))
        .await
        .map_err(|_| copy.stream_error(WRITER_STOPPED.into()))?;
    Ok((rows, copy.bytes()))
}

const WRITER_STOPPED: &str = "the archive writer stopped";

/// Waits for a frame being compressed and hands it to the archive writer.
async fn send_packed(
    packing: tokio::task::JoinHandle<Result<Packed, String>>,
    copy: &CopyOut,
    tx: &mpsc::Sender<Msg>,
) -> Result<(), Error> {
    let p = packing
        .await
        .map_err(|e| copy.stream_error(e.to_string()))?
        .map_err(|m| copy.stream_error(m))?;
    tx.send(Msg::Packed(p))
        .await
        .map_err(|_| copy.stream_error(WRITER_STOPPED.into()))
}
