//! `dump`: catalog + table data from one snapshot into an archive.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use pgferry_catalog::{read_catalog, Catalog, CopyFormat, Kind, QName};
use pgferry_format::ArchiveWriter;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::conn::ConnSpec;
use crate::connect::connect;
use crate::error::Error;
use crate::filter::Filters;
use crate::frames::{Frame, Framer, Packed};
use crate::progress::{report, Progress, ProgressFn};
use crate::watch::{watched, Peer, Phase};
use crate::workers::join_all;

/// zstd level when none is asked for.
pub(crate) const DEFAULT_LEVEL: i32 = 1;
/// Frames in flight between the COPY reader and the compressing writer.
const CHANNEL_DEPTH: usize = 8;

/// Options of [`dump`].
#[derive(Clone, Default)]
pub struct DumpOptions {
    /// pg_dump-style filters.
    pub filters: Filters,
    /// zstd level (default 1: on column blocks it is both faster and,
    /// on the benchmark data, smaller than level 3 on rows).
    pub compress_level: Option<i32>,
    /// Definitions only.
    pub schema_only: bool,
    /// Data only.
    pub data_only: bool,
    /// How long to wait for each table lock (default 10 s).
    pub lock_timeout: Option<Duration>,
    /// Parallel source connections (they share the leader's snapshot); 0 or 1: one.
    pub jobs: usize,
    /// With several jobs, tables of at least this many 8 kB pages are split
    /// into block ranges (default 16384 = 128 MB; PostgreSQL 14+).
    pub split_pages: Option<i64>,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for DumpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpOptions")
            .field("filters", &self.filters)
            .field("compress_level", &self.compress_level)
            .field("schema_only", &self.schema_only)
            .field("data_only", &self.data_only)
            .field("jobs", &self.jobs)
            .finish()
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
    /// Uncompressed COPY bytes.
    pub raw_bytes: u64,
    /// Archive size.
    pub archive_bytes: u64,
}

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

/// The archive writer, on a blocking thread behind a bounded channel. It
/// writes the trailer once every sender is dropped after a [`Msg::Finish`];
/// without one (a failed or cancelled dump) it stops with an error.
pub(crate) fn spawn_archive_writer<W: Write + Send + 'static>(
    out: W,
    toc: Vec<u8>,
    level: i32,
) -> (
    mpsc::Sender<Msg>,
    tokio::task::JoinHandle<Result<u64, std::io::Error>>,
) {
    let (tx, mut rx) = mpsc::channel::<Msg>(CHANNEL_DEPTH);
    let writer = tokio::task::spawn_blocking(move || -> Result<u64, std::io::Error> {
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
    (tx, writer)
}

/// Opens a consistent read-only snapshot on `client` and reads the catalog.
pub(crate) async fn begin_snapshot(
    client: &Client,
    filters: &Filters,
    lock_timeout: Duration,
) -> Result<Catalog, Error> {
    let compiled = filters.compile()?;
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
             SET LOCAL lock_timeout = {}; SET LOCAL row_security = off; \
             SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0",
            lock_timeout.as_millis()
        ))
        .await
        .map_err(|e| Error::source_stmt("starting the snapshot transaction", &e))?;
    if !compiled.is_empty() {
        check_patterns(client, &compiled).await?;
    }
    // Lock the dumped tables before reading their definitions, so a
    // concurrent ALTER/DROP waits for us (or we fail fast on lock_timeout).
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') \
             AND n.nspname !~ '^pg_(toast|temp_)' ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("listing the tables to lock", &e))?;
    let tables: Vec<String> = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(s, t)| compiled.table_included(s, t))
        .map(|(s, t)| pgferry_catalog::qualified(&s, &t))
        .collect();
    for chunk in tables.chunks(500) {
        client
            .batch_execute(&format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE",
                chunk.join(", ")
            ))
            .await
            .map_err(|e| Error::source_stmt("locking the dumped tables", &e))?;
    }
    let catalog = read_catalog(client, &compiled).await?;
    for u in &catalog.unsupported {
        tracing::warn!(what = %u.what, "not carried: a restore or sync that includes it will refuse to start");
    }
    Ok(catalog)
}

async fn check_patterns(client: &Client, f: &crate::filter::CompiledFilters) -> Result<(), Error> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_namespace n \
             LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','S','f') \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') \
             AND n.nspname !~ '^pg_(toast|temp_)' ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("matching patterns", &e))?;
    let mut schemas: Vec<String> = Vec::new();
    let mut tables: Vec<(String, String)> = Vec::new();
    for r in rows {
        let s: String = r.get(0);
        if let Some(t) = r.get::<_, Option<String>>(1) {
            tables.push((s.clone(), t));
        }
        schemas.push(s);
    }
    schemas.dedup();
    let s: Vec<&str> = schemas.iter().map(String::as_str).collect();
    let t: Vec<(&str, &str)> = tables
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    if let Some(e) = f.unmatched(&s, &t).into_iter().next() {
        return Err(e.into());
    }
    Ok(())
}

/// The `COPY ... TO STDOUT` statement for a table's data.
pub(crate) fn copy_out_sql(
    table: &QName,
    columns: &[String],
    format: CopyFormat,
    casts: &[(String, String)],
    filter: Option<&str>,
) -> String {
    if !casts.is_empty() || filter.is_some() {
        let cols: Vec<String> = columns
            .iter()
            .map(|c| match casts.iter().find(|(n, _)| n == c) {
                Some((_, t)) => format!("{}::{t}", pgferry_catalog::quote_ident(c)),
                None => pgferry_catalog::quote_ident(c),
            })
            .collect();
        return format!(
            "COPY (SELECT {} FROM ONLY {}{}) TO STDOUT{}",
            cols.join(", "),
            table.sql(),
            filter.map(|f| format!(" {f}")).unwrap_or_default(),
            copy_format(format)
        );
    }
    format!(
        "COPY {} TO STDOUT{}",
        copy_target(table, columns),
        copy_format(format)
    )
}

/// `schema.table (cols)`; no list for tables without columns.
pub(crate) fn copy_target(table: &QName, columns: &[String]) -> String {
    if columns.is_empty() {
        table.sql()
    } else {
        let cols: Vec<String> = columns
            .iter()
            .map(|c| pgferry_catalog::quote_ident(c))
            .collect();
        format!("{} ({})", table.sql(), cols.join(", "))
    }
}

pub(crate) fn copy_format(format: CopyFormat) -> &'static str {
    match format {
        CopyFormat::Binary => " (FORMAT binary)",
        CopyFormat::Text => "",
    }
}

/// Dumps the database `source` describes into `out` (any writer; streaming).
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
    let client = connect(source, "source").await?;
    let phase = Phase::new("reading the source catalog");
    let peer = Peer::start(source, "source", &phase).await?;
    peer.watch_backend(&client).await;
    watched(
        &[&peer],
        &[],
        &phase,
        dump_with(client, source, opts, out, &phase),
    )
    .await
}

async fn dump_with<W: Write + Send + 'static>(
    client: Client,
    source: &ConnSpec,
    opts: &DumpOptions,
    out: W,
    phase: &Phase,
) -> Result<DumpSummary, Error> {
    let mut catalog = begin_snapshot(
        &client,
        &opts.filters,
        opts.lock_timeout.unwrap_or(Duration::from_secs(10)),
    )
    .await?;
    // Materialized view contents count as data: a schema-only archive leaves
    // them unpopulated, a data-only one refreshes them after loading.
    if opts.schema_only {
        catalog.objects.retain(|o| !o.kind.is_data());
    }
    if opts.data_only {
        catalog.objects.retain(|o| o.kind.is_data());
    }
    let jobs = opts.jobs.max(1);
    let split = opts.split_pages.unwrap_or(SPLIT_PAGES).max(1);
    let work = plan_work(&client, &mut catalog, jobs, split).await?;
    let tables = work.iter().filter(|w| w.part == 0).count();
    report(
        &opts.progress,
        Progress::CatalogRead {
            objects: catalog.objects.len(),
            tables,
        },
    );
    let toc = serde_json::to_vec(&catalog).map_err(|e| Error::Toc {
        path: PathBuf::from("-"),
        message: e.to_string(),
    })?;
    let level = opts.compress_level.unwrap_or(DEFAULT_LEVEL);
    phase.set("copying table data");
    let (tx, writer) = spawn_archive_writer(out, toc, level);
    let snapshot = if jobs > 1 && work.len() > 1 {
        let row = client
            .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
            .await
            .map_err(|e| Error::source_stmt("exporting the snapshot for parallel workers", &e))?;
        Some(row.get::<_, String>(0))
    } else {
        None
    };
    let finish = tx.clone();
    let copied = copy_all(
        source,
        client,
        snapshot,
        work,
        jobs,
        level,
        tx,
        &opts.progress,
    )
    .await;
    if copied.is_ok() {
        let _ = finish.send(Msg::Finish).await;
    }
    drop(finish);
    let written = writer.await;
    // When the writer failed (broken pipe, full disk), its error is the cause.
    if let (Err(_), Ok(Err(e))) = (&copied, &written) {
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Err(copied.err().unwrap_or(Error::Cancelled));
        }
        return Err(Error::Io {
            path: PathBuf::from("archive"),
            source: std::io::Error::new(e.kind(), e.to_string()),
        });
    }
    let (client, rows, raw_bytes) = copied?;
    let _ = client.batch_execute("COMMIT").await;
    let archive_bytes = match written {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            return Err(Error::Io {
                path: PathBuf::from("archive"),
                source: e,
            })
        }
        Err(e) => {
            return Err(Error::Io {
                path: PathBuf::from("archive"),
                source: std::io::Error::other(e.to_string()),
            })
        }
    };
    report(&opts.progress, Progress::Finished);
    Ok(DumpSummary {
        objects: catalog.objects.len(),
        tables,
        rows,
        raw_bytes,
        archive_bytes,
    })
}

/// Default for [`DumpOptions::split_pages`].
const SPLIT_PAGES: i64 = 16_384;

/// One unit of data work: a table, or a block range of one.
#[derive(Debug, Clone)]
struct Work {
    entry: u32,
    part: u32,
    parts: u32,
    table: QName,
    columns: Vec<String>,
    format: CopyFormat,
    casts: Vec<(String, String)>,
    /// `WHERE …` of an extension configuration table.
    filter: Option<String>,
    /// A complete COPY statement instead of one built from the table (large objects).
    sql: Option<&'static str>,
    /// Block range `[from, to)`; `to = None` means to the end.
    blocks: Option<(i64, Option<i64>)>,
    pages: i64,
}

impl Work {
    fn sql(&self) -> String {
        if let Some(sql) = self.sql {
            return sql.to_string();
        }
        match self.blocks {
            None => copy_out_sql(
                &self.table,
                &self.columns,
                self.format,
                &self.casts,
                self.filter.as_deref(),
            ),
            Some((from, to)) => {
                let cols: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| pgferry_catalog::quote_ident(c))
                    .collect();
                let upper = to
                    .map(|t| format!(" AND ctid < '({t},0)'::pg_catalog.tid"))
                    .unwrap_or_default();
                format!(
                    "COPY (SELECT {} FROM ONLY {} WHERE ctid >= '({from},0)'::pg_catalog.tid{upper}) TO STDOUT{}",
                    cols.join(", "),
                    self.table.sql(),
                    copy_format(self.format)
                )
            }
        }
    }
}

/// Lists the data work, largest first; with several jobs (PostgreSQL 14+, whose
/// TID range scans make it cheap) large binary tables are split into block
/// ranges so one huge table keeps every worker busy. Records the part counts
/// in the catalog, which becomes the archive's table of contents.
async fn plan_work(
    client: &Client,
    catalog: &mut Catalog,
    jobs: usize,
    split_pages: i64,
) -> Result<Vec<Work>, Error> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, \
             pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int8, \
             pg_catalog.current_setting('server_version_num')::int4 \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r'",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("reading table sizes", &e))?;
    let version = rows.first().map(|r| r.get::<_, i32>(3)).unwrap_or(0);
    let pages: std::collections::HashMap<(String, String), i64> = rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let size_of = |t: &QName| {
        pages
            .get(&(t.schema.clone(), t.name.clone()))
            .copied()
            .unwrap_or(0)
    };
    let sizes: Vec<i64> = catalog
        .objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::TableData { table, .. } => Some(size_of(table)),
            _ => None,
        })
        .collect();
    let split_above = split_threshold(&sizes, jobs).max(split_pages);
    let mut work = Vec::new();
    for o in &mut catalog.objects {
        let id = o.id;
        if let Kind::LargeObjects { items } = &o.kind {
            work.push(Work {
                entry: id,
                part: 0,
                parts: 1,
                table: QName {
                    schema: "pg_catalog".into(),
                    name: "pg_largeobject".into(),
                },
                columns: Vec::new(),
                format: CopyFormat::Binary,
                casts: Vec::new(),
                filter: None,
                sql: Some(pgferry_catalog::LARGE_OBJECTS_COPY_OUT),
                blocks: None,
                pages: items.len() as i64,
            });
            continue;
        }
        let Kind::TableData {
            table,
            columns,
            format,
            casts,
            parts,
            filter,
        } = &mut o.kind
        else {
            continue;
        };
        let p = size_of(table);
        let split = jobs > 1
            && filter.is_none()
            && version >= 140000
            && *format == CopyFormat::Binary
            && !columns.is_empty()
            && p >= split_above;
        let n = if split {
            let chunk = (p / (jobs as i64 * 4)).max(split_pages / 2).max(1);
            ((p + chunk - 1) / chunk).clamp(2, 256) as u32
        } else {
            1
        };
        *parts = if n > 1 { n } else { 0 };
        let chunk = (p + i64::from(n) - 1) / i64::from(n);
        for k in 0..n {
            let blocks = (n > 1).then(|| {
                let from = i64::from(k) * chunk;
                (from, (k + 1 < n).then(|| from + chunk))
            });
            work.push(Work {
                entry: pgferry_catalog::part_entry(id, k),
                part: k,
                parts: n,
                table: table.clone(),
                columns: columns.clone(),
                format: *format,
                casts: casts.clone(),
                filter: filter.clone(),
                sql: None,
                blocks,
                pages: if n > 1 { chunk } else { p },
            });
        }
    }
    work.sort_by_key(|w| std::cmp::Reverse(w.pages));
    Ok(work)
}

/// Tables of at least this many pages are split into block ranges.
///
/// Splitting has a cost: a TID range scan reads through shared buffers
/// without the bulk-read ring a plain `COPY` gets, and measured slower on
/// the benchmark database. So tables stay whole when, scheduled largest
/// first over `jobs` workers, they already finish within 25% of a perfect
/// balance; otherwise the tables larger than one worker's fair share split.
fn split_threshold(sizes: &[i64], jobs: usize) -> i64 {
    let total: i64 = sizes.iter().sum();
    if jobs < 2 || total == 0 {
        return i64::MAX;
    }
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut load = vec![0i64; jobs];
    for s in sorted {
        if let Some(min) = load.iter_mut().min() {
            *min += s;
        }
    }
    let makespan = load.iter().copied().max().unwrap_or(0);
    let fair = total / jobs as i64;
    if makespan * 4 <= fair * 5 {
        i64::MAX
    } else {
        fair.max(1)
    }
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
    let queue = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(
        work,
    )));
    let mut set = tokio::task::JoinSet::new();
    let workers = if snapshot.is_some() { jobs } else { 1 };
    let leader = std::sync::Arc::new(client);
    for w in 0..workers {
        let queue = queue.clone();
        let tx = tx.clone();
        let progress = progress.clone();
        let source = source.clone();
        let snapshot = snapshot.clone();
        let leader = leader.clone();
        set.spawn(async move {
            let own;
            let c: &Client = if w == 0 {
                &leader
            } else {
                own = connect(&source, "source").await?;
                let snap = snapshot.unwrap_or_default();
                own.batch_execute(&format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
                     SET TRANSACTION SNAPSHOT {}; SET LOCAL row_security = off; \
                     SELECT pg_catalog.set_config('search_path', '', true)",
                    pgferry_catalog::quote_literal(&snap)
                ))
                .await
                .map_err(|e| {
                    Error::source_stmt("starting a parallel worker on the exported snapshot", &e)
                })?;
                &own
            };
            let mut rows = 0u64;
            let mut bytes = 0u64;
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(item) = next else { break };
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
        });
    }
    drop(tx);
    let (rows, bytes) = join_all(set)
        .await?
        .into_iter()
        .fold((0, 0), |(r, b), (r2, b2)| (r + r2, b + b2));
    let client = std::sync::Arc::try_unwrap(leader).map_err(|_| Error::DumpData {
        table: "-".into(),
        message: "leader connection still in use".into(),
    })?;
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
    let fail = |message: String| Error::DumpData {
        table: w.table.to_string(),
        message,
    };
    let stream = client
        .copy_out(&w.sql())
        .await
        .map_err(|e| fail(pgferry_catalog::server_message(&e)))?;
    futures::pin_mut!(stream);
    let mut framer = Framer::new(w.format);
    let mut frames = Vec::new();
    let mut total = 0u64;
    let mut reported = 0u64;
    let mut in_flight: Option<tokio::task::JoinHandle<Result<Packed, String>>> = None;
    let closed = || fail("the archive writer stopped".into());
    let entry = w.entry;
    let rows = loop {
        let rows = match stream.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(|e| fail(pgferry_catalog::server_message(&e)))?;
                total += chunk.len() as u64;
                framer.feed(&chunk, &mut frames).map_err(fail)?;
                None
            }
            None => Some(framer.finish(&mut frames).map_err(fail)?),
        };
        for frame in frames.drain(..) {
            report(
                progress,
                Progress::Bytes {
                    table: w.table.to_string(),
                    bytes: total - reported,
                },
            );
            reported = total;
            if let Some(prev) = in_flight.take() {
                let p = prev.await.map_err(|e| fail(e.to_string()))?.map_err(fail)?;
                tx.send(Msg::Packed(p)).await.map_err(|_| closed())?;
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
        let p = prev.await.map_err(|e| fail(e.to_string()))?.map_err(fail)?;
        tx.send(Msg::Packed(p)).await.map_err(|_| closed())?;
    }
    tx.send(Msg::End(entry, rows)).await.map_err(|_| closed())?;
    Ok((rows, total))
}

/// An archive file written under a temporary name and renamed into place by
/// [`AtomicFile::commit`]; dropped uncommitted, the temporary file is removed.
pub(crate) struct AtomicFile {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file next to `path`.
    pub(crate) fn create(path: &Path) -> Result<(AtomicFile, SyncingWriter), Error> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.pgf.tmp.{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::Io {
            path: tmp.clone(),
            source: e,
        })?;
        Ok((
            AtomicFile {
                tmp,
                path: path.to_path_buf(),
                committed: false,
            },
            SyncingWriter(BufWriter::with_capacity(1 << 20, file)),
        ))
    }

    /// Renames the finished file into place.
    pub(crate) fn commit(mut self) -> Result<(), Error> {
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::Io {
            path: self.path.clone(),
            source: e,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
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

/// A buffered file writer that fsyncs when flushed at the end.
pub(crate) struct SyncingWriter(BufWriter<File>);

impl Write for SyncingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.0.get_ref().sync_all()
    }
}

#[cfg(test)]
mod split_tests {
    use super::split_threshold;

    #[test]
    fn one_dominant_table_is_split_balanced_tables_are_not() {
        // One huge table: split whatever is above the fair share.
        assert_eq!(split_threshold(&[262_144, 10], 2), 131_077);
        // Two tables that already balance within 25%: no split.
        assert_eq!(split_threshold(&[32_787, 22_205, 10, 3], 2), i64::MAX);
        // One job, or nothing to copy: never.
        assert_eq!(split_threshold(&[1_000_000], 1), i64::MAX);
        assert_eq!(split_threshold(&[], 4), i64::MAX);
        // Many equal tables over fewer workers: no table exceeds the fair share.
        assert!(split_threshold(&[100; 10], 8) >= 100);
    }
}
