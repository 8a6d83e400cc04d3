//! Applying a sorted object list to a target inside an open transaction:
//! DDL from the renderer, table data from a [`TableFeed`].
use std::pin::Pin;

use bytes::Bytes;
use pgferry_catalog::{render_object, Kind, Object, QName, RenderOptions, Section};
use tokio_postgres::{Client, CopyInSink};

use crate::error::Error;
use crate::progress::{report, Progress, ProgressFn};
use crate::watch::Phase;

/// Where table data comes from: an archive, or a live source.
pub(crate) trait TableFeed {
    /// Streams the data of `o` (a `TableData` object) into `sink`, reporting
    /// [`Progress::Bytes`] as it goes; returns the bytes moved.
    async fn feed(
        &mut self,
        o: &Object,
        sink: Pin<&mut CopyInSink<Bytes>>,
        progress: &Option<ProgressFn>,
    ) -> Result<u64, Error>;
}

/// Loads the large objects' data (they were created by the object's
/// statements, OIDs kept) through a temporary table: `COPY` in, then
/// `lo_put` for each. Returns the bytes moved.
pub(crate) async fn load_large_objects<F: TableFeed>(
    client: &Client,
    o: &Object,
    feed: &mut F,
    progress: &Option<ProgressFn>,
) -> Result<u64, Error> {
    let fail = |e: tokio_postgres::Error| Error::object(o, e);
    client
        .batch_execute(
            "CREATE TEMPORARY TABLE pgferry_large_objects (loid oid, data bytea) ON COMMIT DROP",
        )
        .await
        .map_err(fail)?;
    let sink = client
        .copy_in::<_, Bytes>(
            "COPY pg_temp.pgferry_large_objects (loid, data) FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(fail)?;
    futures::pin_mut!(sink);
    let bytes = feed.feed(o, sink.as_mut(), progress).await?;
    sink.finish().await.map_err(fail)?;
    client
        .batch_execute(
            "SELECT pg_catalog.lo_put(loid, 0, data) FROM pg_temp.pgferry_large_objects; \
             DROP TABLE pg_temp.pgferry_large_objects",
        )
        .await
        .map_err(fail)?;
    Ok(bytes)
}

/// Runs `stmts` of `o` one by one.
pub(crate) async fn run_each(client: &Client, o: &Object, stmts: &[String]) -> Result<(), Error> {
    for stmt in stmts {
        client
            .batch_execute(stmt)
            .await
            .map_err(|e| Error::object(o, e))?;
    }
    Ok(())
}

/// What applying did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Applied {
    pub objects: usize,
    /// Each loaded table with its rows and COPY bytes.
    pub tables: Vec<(QName, u64, u64)>,
    pub rows: u64,
    pub bytes: u64,
}

/// Runs every object's statements (and loads data) in order on `client`.
pub(crate) async fn apply_objects<F: TableFeed>(
    client: &Client,
    objects: &[Object],
    render: &RenderOptions,
    feed: &mut F,
    progress: &Option<ProgressFn>,
    phase: &Phase,
) -> Result<Applied, Error> {
    let mut done = Applied::default();
    let mut post_reported = false;
    // Tables created by this transaction load with FREEZE: no later
    // vacuum/hint-bit writes on the target.
    let mut created: std::collections::HashSet<QName> = std::collections::HashSet::new();
    for o in objects {
        if let (Kind::Table(_), Some(schema)) = (&o.kind, &o.schema) {
            created.insert(QName {
                schema: schema.clone(),
                name: o.name.clone(),
            });
        }
        if !post_reported && o.section() == Section::PostData {
            report(progress, Progress::PostData);
            post_reported = true;
        }
        phase.set(match &o.kind {
            Kind::TableData { table, .. } => format!("loading data of {table}"),
            _ => format!("creating {} {}", o.kind.label(), o.display_name()),
        });
        if let Kind::LargeObjects { items } = &o.kind {
            let (create, after) = pgferry_catalog::large_object_statements(items, render);
            run_each(client, o, &create).await?;
            done.bytes += load_large_objects(client, o, feed, progress).await?;
            run_each(client, o, &after).await?;
            done.objects += 1;
            continue;
        }
        if let Kind::TableData { table, .. } = &o.kind {
            let (rows, bytes) =
                load_table(client, o, created.contains(table), feed, progress).await?;
            done.rows += rows;
            done.bytes += bytes;
            done.tables.push((table.clone(), rows, bytes));
        } else {
            for stmt in render_object(o, render) {
                client
                    .batch_execute(&stmt)
                    .await
                    .map_err(|e| Error::object(o, e))?;
            }
        }
        done.objects += 1;
    }
    Ok(done)
}

/// Loads the data of table data object `o` from `feed` through one `COPY
/// ... FROM STDIN` (`freeze` when the table was created or truncated in the
/// loading transaction), reporting progress; returns the rows and bytes.
pub(crate) async fn load_table<F: TableFeed>(
    client: &Client,
    o: &Object,
    freeze: bool,
    feed: &mut F,
    progress: &Option<ProgressFn>,
) -> Result<(u64, u64), Error> {
    let Kind::TableData {
        table,
        columns,
        format,
        load_via,
        ..
    } = &o.kind
    else {
        return Ok((0, 0));
    };
    report(
        progress,
        Progress::TableStarted {
            table: table.to_string(),
        },
    );
    // Through a partitioned root, COPY cannot FREEZE.
    let sql = match load_via {
        Some(root) => pgferry_catalog::copy_in_sql(root, columns, *format, false),
        None => pgferry_catalog::copy_in_sql(table, columns, *format, freeze),
    };
    let sink = client
        .copy_in::<_, Bytes>(&sql)
        .await
        .map_err(|e| Error::object(o, e))?;
    futures::pin_mut!(sink);
    let bytes = feed.feed(o, sink.as_mut(), progress).await?;
    let rows = sink.finish().await.map_err(|e| Error::object(o, e))?;
    report(
        progress,
        Progress::TableDone {
            table: table.to_string(),
            rows,
            bytes,
        },
    );
    Ok((rows, bytes))
}
