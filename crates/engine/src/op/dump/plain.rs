//! `dump --format plain`: the source's snapshot as one SQL script that psql
//! replays into an empty database, like pg_dump's default format: a `SET`
//! preamble, every object's statements in dependency order (rendered as for
//! a restore), table rows as `COPY … FROM stdin` text blocks or `INSERT`
//! statements, large objects through `lo_put`. The script goes to a
//! blocking writer thread through a bounded channel.
use std::collections::HashMap;
use std::io::Write;

use futures::{pin_mut, TryStreamExt};
use pgferry_catalog::{
    copy_out_sql, quote_ident, render_object, Catalog, CopyFormat, Kind, Object, QName,
    RenderOptions,
};
use pgferry_format::CopyRowCounter;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::error::{Error, Side};
use crate::progress::{report, Progress, ProgressFn};
use crate::script::{
    copy_from_stdin, create_database, header, heading, lo_put, statements, COMPLETE, COPY_END,
};
use crate::source::copy_out::CopyOut;
use crate::watch::Phase;

/// What a plain script holds beyond the objects themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlainOptions {
    /// How table rows are written.
    pub data: PlainData,
    /// `ALTER … OWNER TO` the source's owners (pg_dump's default; pgferry's
    /// default, like `pg_dump -O`, leaves objects to the replaying user).
    pub keep_owners: bool,
    /// zstd level of the script itself (`pg_dump -Fp -Z zstd`; replay with
    /// `zstdcat FILE | psql`); `None`: plain text.
    pub compress: Option<i32>,
    /// Drop what the script creates first (`-c/--clean`; always `IF
    /// EXISTS`): its schemas, or its relations when it names tables, and
    /// the database-wide objects it recreates, as `restore --clean` does.
    pub clean: bool,
    /// Create the database and connect to it first (`-C/--create`; with
    /// `clean`, drop it first). Such a script cannot run in one transaction.
    pub create: bool,
}

/// How a plain script carries table rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PlainData {
    /// `COPY … FROM stdin` blocks: the fastest to replay, psql only.
    #[default]
    Copy,
    /// `INSERT` statements (`--inserts`): slower, but any SQL client loads them.
    Inserts(InsertOptions),
}

/// `INSERT` statements of a plain script, as pg_dump's switches shape them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertOptions {
    /// Name the columns in every statement (`--column-inserts`).
    pub column_names: bool,
    /// Rows per statement (`--rows-per-insert`; 0 counts as 1).
    pub rows_per_insert: usize,
    /// Append `ON CONFLICT DO NOTHING` (`--on-conflict-do-nothing`).
    pub on_conflict_do_nothing: bool,
}

impl Default for InsertOptions {
    fn default() -> Self {
        InsertOptions {
            column_names: false,
            rows_per_insert: 1,
            on_conflict_do_nothing: false,
        }
    }
}

/// zstd level of a compressed script unless told otherwise (zstd's own default).
pub const DEFAULT_SCRIPT_LEVEL: i32 = 3;

/// How the source prints values for the script: dates and intervals any
/// server reads back, floats exactly, names qualified.
const OUTPUT_SETTINGS: &str = "SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres'; \
     SET LOCAL extra_float_digits = 3; SELECT pg_catalog.set_config('search_path', '', true)";

/// Bytes gathered before they go to the writer thread.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the reader and the writer thread.
const DEPTH: usize = 8;

/// The script being written: text gathered here, written by a thread.
struct Script {
    buf: Vec<u8>,
    tx: Option<mpsc::Sender<Vec<u8>>>,
    thread: tokio::task::JoinHandle<std::io::Result<u64>>,
}

impl Script {
    fn start<W: Write + Send + 'static>(out: W, compress: Option<i32>) -> Script {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(DEPTH);
        let thread = tokio::task::spawn_blocking(move || {
            let mut written = 0u64;
            let mut write = |w: &mut dyn Write| -> std::io::Result<()> {
                while let Some(chunk) = rx.blocking_recv() {
                    w.write_all(&chunk)?;
                    written += chunk.len() as u64;
                }
                Ok(())
            };
            match compress {
                Some(level) => {
                    let mut z = zstd::stream::write::Encoder::new(out, level)?;
                    write(&mut z)?;
                    z.finish()?.flush()?;
                }
                None => {
                    let mut out = out;
                    write(&mut out)?;
                    out.flush()?;
                }
            }
            Ok(written)
        });
        Script {
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            thread,
        }
    }

    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = match &self.tx {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The thread stopped: its write error is the cause.
        self.tx = None;
        Err(match (&mut self.thread).await {
            Ok(Err(e)) => io_error(e),
            _ => Error::Worker("the script writer stopped".into()),
        })
    }

    /// Writes what is left and waits for the thread; the bytes written.
    async fn finish(mut self) -> Result<u64, Error> {
        self.flush().await?;
        drop(self.tx.take());
        match self.thread.await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(io_error(e)),
            Err(e) => Err(Error::worker(e)),
        }
    }
}

fn io_error(source: std::io::Error) -> Error {
    Error::Io {
        path: "script".into(),
        source,
    }
}

/// Rows and bytes a script carried.
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    pub tables: usize,
    pub rows: u64,
    pub data_bytes: u64,
    pub script_bytes: u64,
}

/// Writes `catalog` (read in `client`'s open snapshot) as a script to `out`.
pub(crate) async fn write_script<W: Write + Send + 'static>(
    client: &Client,
    catalog: &Catalog,
    plain: &PlainOptions,
    render: &RenderOptions,
    out: W,
    progress: &Option<ProgressFn>,
    phase: &Phase,
) -> Result<Scripted, Error> {
    client
        .batch_execute(OUTPUT_SETTINGS)
        .await
        .map_err(|e| Error::on_source("setting the script's output format", e))?;
    let mut script = Script::start(out, plain.compress);
    let data = &plain.data;
    let mut done = Scripted::default();
    script.push(header(catalog).as_bytes()).await?;
    if plain.create {
        script
            .push(create_database(catalog, plain.clean).as_bytes())
            .await?;
    } else if plain.clean {
        script.push(b"\n").await?;
        push_statements(
            &mut script,
            &crate::target::clean::clean_statements(&catalog.objects),
        )
        .await?;
    }
    let tables: HashMap<QName, &Object> = catalog
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Table(_)))
        .filter_map(|o| Some((o.qname()?, o)))
        .collect();
    for o in &catalog.objects {
        match &o.kind {
            Kind::TableData { table, .. } => {
                phase.set(format!("writing the data of {table}"));
                report(
                    progress,
                    Progress::TableStarted {
                        table: table.to_string(),
                    },
                );
                script.push(heading(o).as_bytes()).await?;
                let (rows, bytes) = match data {
                    PlainData::Copy => copy_rows(client, o, &mut script, progress).await?,
                    PlainData::Inserts(i) => {
                        let def = tables.get(table).copied();
                        insert_rows(client, o, def, i, &mut script).await?
                    }
                };
                report(
                    progress,
                    Progress::TableDone {
                        table: table.to_string(),
                        rows,
                        bytes,
                    },
                );
                done.tables += 1;
                done.rows += rows;
                done.data_bytes += bytes;
            }
            Kind::LargeObjects { items } => {
                phase.set("writing the large objects");
                script.push(heading(o).as_bytes()).await?;
                let (create, after) = pgferry_catalog::large_object_statements(items, render);
                push_statements(&mut script, &create).await?;
                let oids: Vec<u32> = items.iter().map(|lo| lo.oid).collect();
                done.data_bytes += large_object_data(client, &oids, &mut script).await?;
                push_statements(&mut script, &after).await?;
            }
            _ => {
                let stmts = render_object(o, render);
                if !stmts.is_empty() {
                    script.push(heading(o).as_bytes()).await?;
                    push_statements(&mut script, &stmts).await?;
                }
            }
        }
    }
    script.push(b"\n").await?;
    script.push(COMPLETE.as_bytes()).await?;
    done.script_bytes = script.finish().await?;
    Ok(done)
}

async fn push_statements(script: &mut Script, stmts: &[String]) -> Result<(), Error> {
    script.push(statements(stmts).as_bytes()).await
}

/// A table's rows as one `COPY … FROM stdin` block of the source's text COPY.
async fn copy_rows(
    client: &Client,
    o: &Object,
    script: &mut Script,
    progress: &Option<ProgressFn>,
) -> Result<(u64, u64), Error> {
    let Kind::TableData {
        table,
        columns,
        casts,
        filter,
        load_via,
        ..
    } = &o.kind
    else {
        return Ok((0, 0));
    };
    let sql = copy_out_sql(table, columns, CopyFormat::Text, casts, filter.as_deref());
    let into = load_via.as_ref().unwrap_or(table);
    script
        .push(copy_from_stdin(into, columns).as_bytes())
        .await?;
    let mut copy = CopyOut::start(client, &sql, table, Some(CopyRowCounter::text())).await?;
    while let Some(chunk) = copy.next(None).await? {
        report(
            progress,
            Progress::Bytes {
                table: table.to_string(),
                bytes: chunk.len() as u64,
            },
        );
        script.push(&chunk).await?;
    }
    let rows = copy.finish()?;
    script.push(COPY_END.as_bytes()).await?;
    Ok((rows, copy.bytes()))
}

/// A table's rows as `INSERT` statements; each row's literals are made by
/// the source (`format('%L')` of each value), so every type works.
async fn insert_rows(
    client: &Client,
    o: &Object,
    def: Option<&Object>,
    opts: &InsertOptions,
    script: &mut Script,
) -> Result<(u64, u64), Error> {
    let Kind::TableData {
        table,
        columns,
        casts,
        filter,
        load_via,
        ..
    } = &o.kind
    else {
        return Ok((0, 0));
    };
    let into = load_via.as_ref().unwrap_or(table);
    let own: Option<&pgferry_catalog::TableDef> = def.and_then(|d| match &d.kind {
        Kind::Table(t) => Some(t.as_ref()),
        _ => None,
    });
    // Without a column list the values must line up with every column:
    // name them when the copied columns are not exactly the table's own.
    let all_own = own.is_some_and(|t| {
        t.columns
            .iter()
            .map(|c| c.name.as_str())
            .eq(columns.iter().map(String::as_str))
    });
    let list = if opts.column_names || !all_own || load_via.is_some() {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        format!(" ({})", cols.join(", "))
    } else {
        String::new()
    };
    let overriding = if own.is_some_and(|t| {
        t.columns
            .iter()
            .any(|c| c.identity.as_ref().is_some_and(|i| i.always))
    }) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let conflict = if opts.on_conflict_do_nothing {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let filter = filter
        .as_deref()
        .map(|f| format!(" {f}"))
        .unwrap_or_default();
    let fail = |e| Error::copy(Side::Source, table, e);
    if columns.is_empty() {
        // A table without columns: one `DEFAULT VALUES` row per row.
        let n: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM ONLY {} x{filter}", table.sql()),
                &[],
            )
            .await
            .map_err(fail)?
            .get(0);
        let stmt = format!("INSERT INTO {} DEFAULT VALUES{conflict};\n", into.sql());
        for _ in 0..n {
            script.push(stmt.as_bytes()).await?;
        }
        return Ok((n as u64, 0));
    }
    let literals: Vec<String> = columns
        .iter()
        .map(|c| {
            let cast = casts
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, t)| format!("::{t}"))
                .unwrap_or_default();
            // `format('%L')` prints through the type's output function (a
            // cast to text may be a user's lossy function) and NULL as NULL.
            format!("pg_catalog.format('%L', x.{}{cast})", quote_ident(c))
        })
        .collect();
    let sql = format!(
        "SELECT '(' || {} || ')' FROM ONLY {} x{filter}",
        literals.join(" || ', ' || "),
        table.sql()
    );
    let rows = client
        .query_raw(&sql, std::iter::empty::<i32>())
        .await
        .map_err(fail)?;
    pin_mut!(rows);
    let per = opts.rows_per_insert.max(1);
    let head = format!("INSERT INTO {}{list}{overriding} VALUES", into.sql());
    let (mut n, mut bytes, mut in_stmt) = (0u64, 0u64, 0usize);
    while let Some(row) = rows.try_next().await.map_err(fail)? {
        let values: &str = row.get(0);
        bytes += values.len() as u64;
        let line = match (per, in_stmt) {
            (1, _) => format!("{head} {values}{conflict};\n"),
            (_, 0) => format!("{head}\n\t{values}"),
            _ => format!(",\n\t{values}"),
        };
        script.push(line.as_bytes()).await?;
        n += 1;
        if per > 1 {
            in_stmt += 1;
            if in_stmt == per {
                script.push(format!("{conflict};\n").as_bytes()).await?;
                in_stmt = 0;
            }
        }
    }
    if in_stmt > 0 {
        script.push(format!("{conflict};\n").as_bytes()).await?;
    }
    script.push(b"\n").await?;
    Ok((n, bytes))
}

/// The large objects' contents, one `lo_put` each (their OIDs were kept by
/// the `lo_create` statements before).
async fn large_object_data(
    client: &Client,
    oids: &[u32],
    script: &mut Script,
) -> Result<u64, Error> {
    let table = crate::source::copy_out::large_objects_table();
    let fail = |e| Error::copy(Side::Source, &table, e);
    let rows = client
        .query_raw(
            "SELECT m.oid::text, pg_catalog.encode(pg_catalog.lo_get(m.oid), 'hex') \
             FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = ANY ($1) ORDER BY m.oid",
            [oids],
        )
        .await
        .map_err(fail)?;
    pin_mut!(rows);
    let mut bytes = 0u64;
    while let Some(row) = rows.try_next().await.map_err(fail)? {
        let (oid, hex): (&str, &str) = (row.get(0), row.get(1));
        if hex.is_empty() {
            continue;
        }
        bytes += hex.len() as u64 / 2;
        script.push(lo_put(oid, hex).as_bytes()).await?;
    }
    Ok(bytes)
}
