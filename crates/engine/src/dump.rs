//! `dump`: catalog + table data from one snapshot into an archive.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use pgferry_catalog::{read_catalog, Catalog, CopyFormat, Kind, QName};
use pgferry_format::{compress_frame, ArchiveWriter, CopyRowCounter};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::conn::ConnSpec;
use crate::connect::connect;
use crate::error::Error;
use crate::filter::Filters;
use crate::progress::{report, Progress, ProgressFn};

/// Raw bytes gathered before a frame is compressed.
const FRAME_RAW: usize = 1 << 20;
/// Frames in flight between the COPY reader and the compressing writer.
const CHANNEL_DEPTH: usize = 8;

/// Options of [`dump`].
#[derive(Clone, Default)]
pub struct DumpOptions {
    /// pg_dump-style filters.
    pub filters: Filters,
    /// zstd level (default 3).
    pub compress_level: Option<i32>,
    /// Definitions only.
    pub schema_only: bool,
    /// Data only.
    pub data_only: bool,
    /// How long to wait for each table lock (default 10 s).
    pub lock_timeout: Option<Duration>,
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
    /// Raw COPY bytes of an entry, compressed by the writer.
    Frame(u32, Bytes),
    /// The entry is complete with this many rows.
    End(u32, u64),
}

/// The compressing archive writer, on a blocking thread behind a bounded channel.
/// It finishes the archive once every sender is dropped.
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
        let to_io = |e: pgferry_format::FormatError| std::io::Error::other(e.to_string());
        let mut w = ArchiveWriter::new(out, &toc, level).map_err(to_io)?;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Frame(entry, raw) => {
                    let c = compress_frame(&raw, level).map_err(to_io)?;
                    w.write_frame(entry, raw.len(), &c).map_err(to_io)?;
                }
                Msg::End(entry, rows) => w.end_entry(entry, rows).map_err(to_io)?,
            }
        }
        let n = w.bytes_written();
        w.finish().map_err(to_io)?;
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
    let catalog = read_catalog(client, &compiled).await?;
    let tables: Vec<String> = catalog
        .objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::Table(_) => Some(o.qualified_name()),
            _ => None,
        })
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
    Ok(catalog)
}

async fn check_patterns(client: &Client, f: &crate::filter::CompiledFilters) -> Result<(), Error> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_namespace n \
             LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','S','f')",
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
pub(crate) fn copy_out_sql(table: &QName, columns: &[String], format: CopyFormat) -> String {
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
    let mut catalog = begin_snapshot(
        &client,
        &opts.filters,
        opts.lock_timeout.unwrap_or(Duration::from_secs(10)),
    )
    .await?;
    if opts.schema_only {
        catalog
            .objects
            .retain(|o| !matches!(o.kind, Kind::TableData { .. } | Kind::SequenceSet { .. }));
    }
    if opts.data_only {
        catalog
            .objects
            .retain(|o| matches!(o.kind, Kind::TableData { .. } | Kind::SequenceSet { .. }));
    }
    let tables: Vec<_> = catalog
        .objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::TableData {
                table,
                columns,
                format,
            } => Some((o.id, table.clone(), columns.clone(), *format)),
            _ => None,
        })
        .collect();
    report(
        &opts.progress,
        Progress::CatalogRead {
            objects: catalog.objects.len(),
            tables: tables.len(),
        },
    );
    let toc = serde_json::to_vec(&catalog).map_err(|e| Error::Toc {
        path: PathBuf::from("-"),
        message: e.to_string(),
    })?;
    let level = opts.compress_level.unwrap_or(3);
    let (tx, writer) = spawn_archive_writer(out, toc, level);
    let mut summary = DumpSummary {
        objects: catalog.objects.len(),
        tables: tables.len(),
        ..Default::default()
    };
    let copy_result = async {
        for (entry, table, columns, format) in &tables {
            let name = table.to_string();
            report(
                &opts.progress,
                Progress::TableStarted {
                    table: name.clone(),
                },
            );
            let (rows, bytes) =
                copy_table_out(&client, *entry, table, columns, *format, &tx).await?;
            summary.rows += rows;
            summary.raw_bytes += bytes;
            report(
                &opts.progress,
                Progress::TableDone {
                    table: name,
                    rows,
                    bytes,
                },
            );
        }
        Ok::<(), Error>(())
    }
    .await;
    drop(tx);
    let written = writer.await;
    copy_result?;
    let _ = client.batch_execute("COMMIT").await;
    summary.archive_bytes = match written {
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
    Ok(summary)
}

async fn copy_table_out(
    client: &Client,
    entry: u32,
    table: &QName,
    columns: &[String],
    format: CopyFormat,
    tx: &mpsc::Sender<Msg>,
) -> Result<(u64, u64), Error> {
    let fail = |message: String| Error::DumpData {
        table: table.to_string(),
        message,
    };
    let stream = client
        .copy_out(&copy_out_sql(table, columns, format))
        .await
        .map_err(|e| fail(pgferry_catalog::server_message(&e)))?;
    futures::pin_mut!(stream);
    let mut counter = match format {
        CopyFormat::Binary => CopyRowCounter::binary(),
        CopyFormat::Text => CopyRowCounter::text(),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(FRAME_RAW + 65536);
    let mut total = 0u64;
    let closed = || fail("the archive writer stopped".into());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| fail(pgferry_catalog::server_message(&e)))?;
        counter.feed(&chunk).map_err(fail)?;
        total += chunk.len() as u64;
        buf.extend_from_slice(&chunk);
        if buf.len() >= FRAME_RAW {
            let frame = Bytes::from(std::mem::replace(
                &mut buf,
                Vec::with_capacity(FRAME_RAW + 65536),
            ));
            tx.send(Msg::Frame(entry, frame))
                .await
                .map_err(|_| closed())?;
        }
    }
    if !counter.finished() {
        return Err(fail("COPY stream ended early".into()));
    }
    if !buf.is_empty() {
        tx.send(Msg::Frame(entry, Bytes::from(buf)))
            .await
            .map_err(|_| closed())?;
    }
    tx.send(Msg::End(entry, counter.rows()))
        .await
        .map_err(|_| closed())?;
    Ok((counter.rows(), total))
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
