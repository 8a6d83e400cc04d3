//! `restore --jobs N`: a faster, non-atomic restore for fresh databases, like
//! `pg_restore -j`. Definitions commit first; tables load concurrently, each
//! in its own transaction (`COPY ... FREEZE` after a `TRUNCATE` of the table
//! just created); indexes and primary/unique/exclusion constraints build
//! concurrently; everything else follows in dependency order.
use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::BufReader;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::SinkExt;
use pgferry_catalog::{render_object, ConstraintKind, Kind, Object, RenderOptions, Section};
use pgferry_format::ArchiveReader;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use crate::apply::{copy_in_sql, run_each};
use crate::archive_file::{table_stream, VerifiedArchive};
use crate::conn::ConnSpec;
use crate::error::Error;
use crate::progress::{report, Progress};
use crate::restore::{
    check_target_version, clean_statements, object_failed, RestoreOptions, RestoreSummary,
    RESTORE_SETTINGS,
};
use crate::target::{connect_writer, Rights};
use crate::workers::join_all;

async fn run_statements(client: &Client, o: &Object, render: &RenderOptions) -> Result<(), Error> {
    run_each(client, o, &render_object(o, render)).await
}

/// Session settings outside a transaction block (`SET`, not `SET LOCAL`).
fn session_settings() -> String {
    RESTORE_SETTINGS
        .replace("SET LOCAL", "SET")
        .replace("', true)", "', false)")
}

pub(crate) async fn restore_parallel(
    target: &ConnSpec,
    archive: VerifiedArchive,
    objects: &[Object],
    opts: &RestoreOptions,
) -> Result<RestoreSummary, Error> {
    let jobs = opts.jobs.max(2);
    let client = connect_writer(target).await?;
    let target_version = check_target_version(
        &client,
        archive.catalog.server_version_num,
        opts.allow_downgrade,
        objects,
    )
    .await?;
    let (rights, render, _) = Rights::prepare(
        &client,
        objects,
        &[],
        &opts.filters,
        opts.keep_owners,
        target_version,
        opts.statistics,
    )
    .await?;
    // Phase 1: the definitions before the data, in one transaction.
    let split = objects
        .iter()
        .position(|o| o.section() != Section::PreData)
        .unwrap_or(objects.len());
    let (pre, rest) = objects.split_at(split);
    client
        .batch_execute(&format!("BEGIN READ WRITE; {RESTORE_SETTINGS}"))
        .await
        .map_err(|e| Error::source_stmt("starting the restore", &e))?;
    if opts.clean {
        // Not one transaction: target-owned objects over what --clean drops
        // could not be carried over safely; refuse instead of losing them.
        let clean = clean_statements(objects);
        let dropped: Vec<String> = objects
            .iter()
            .filter(|o| matches!(o.kind, Kind::Schema))
            .map(|o| o.name.clone())
            .collect();
        let carried =
            crate::dependents::find(&client, &dropped, &[], &clean, objects, &rights).await?;
        if !carried.names().is_empty() {
            return Err(Error::Dependents(format!(
                "restore -j --clean would drop objects the target owns that depend on replaced ones, and a \
                 parallel restore cannot carry them over; nothing was changed on the target (restore without -j \
                 carries them in its one transaction): {}",
                carried.names().join("; ")
            )));
        }
        for s in clean_statements(objects) {
            client
                .batch_execute(&s)
                .await
                .map_err(|e| Error::source_stmt(format!("--clean: {s}"), &e))?;
        }
    }
    for o in pre {
        run_statements(&client, o, &render).await?;
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| Error::source_stmt("committing the definitions", &e))?;
    let created: HashSet<String> = pre
        .iter()
        .filter(|o| matches!(o.kind, Kind::Table(_)))
        .map(Object::display_name)
        .collect();

    // Phase 2: table data, largest first, over `jobs` connections.
    let mut data: Vec<&Object> = rest
        .iter()
        .filter(|o| matches!(o.kind, Kind::TableData { .. }))
        .collect();
    let size = |o: &Object| -> u64 {
        let parts = match o.kind {
            Kind::TableData { parts, .. } => parts.max(1),
            _ => 1,
        };
        (0..parts)
            .filter_map(|k| {
                archive
                    .reader
                    .entries()
                    .get(&pgferry_catalog::part_entry(o.id, k))
            })
            .map(|e| e.raw_bytes)
            .sum()
    };
    data.sort_by_key(|o| std::cmp::Reverse(size(o)));
    let queue: Arc<Mutex<VecDeque<Object>>> =
        Arc::new(Mutex::new(data.iter().map(|o| (*o).clone()).collect()));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..jobs {
        let (queue, target, path, created, progress) = (
            queue.clone(),
            target.clone(),
            archive.path.clone(),
            created.clone(),
            opts.progress.clone(),
        );
        set.spawn(async move {
            let c = connect_writer(&target).await?;
            c.batch_execute(&session_settings())
                .await
                .map_err(|e| Error::source_stmt("restore worker settings", &e))?;
            let mut rows = 0u64;
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(o) = next else { break };
                rows += load_table(
                    &c,
                    &o,
                    &path,
                    created.contains(&o.display_name()),
                    &progress,
                )
                .await?;
            }
            Ok::<u64, Error>(rows)
        });
    }
    let mut summary = RestoreSummary {
        rows: join_all(set).await?.into_iter().sum(),
        ..Default::default()
    };
    summary.tables = data.len();

    // Phase 3: indexes and key constraints concurrently, then the rest in order.
    report(&opts.progress, Progress::PostData);
    let done: HashSet<u32> = pre
        .iter()
        .chain(data.iter().copied())
        .map(|o| o.id)
        .collect();
    let (parallel, serial): (Vec<&Object>, Vec<&Object>) = rest
        .iter()
        .filter(|o| !matches!(o.kind, Kind::TableData { .. }))
        .partition(|o| {
            let kind_ok = matches!(o.kind, Kind::Index { .. })
                || matches!(
                    o.kind,
                    Kind::Constraint {
                        kind: ConstraintKind::PrimaryKey
                            | ConstraintKind::Unique
                            | ConstraintKind::Exclude,
                        ..
                    }
                );
            kind_ok && o.deps.iter().all(|d| done.contains(d))
        });
    let queue: Arc<Mutex<VecDeque<Object>>> =
        Arc::new(Mutex::new(parallel.iter().map(|o| (*o).clone()).collect()));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..jobs {
        let (queue, target, render) = (queue.clone(), target.clone(), render.clone());
        set.spawn(async move {
            let c = connect_writer(&target).await?;
            c.batch_execute(&session_settings())
                .await
                .map_err(|e| Error::source_stmt("restore worker settings", &e))?;
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(o) = next else { break };
                run_statements(&c, &o, &render).await?;
            }
            Ok::<(), Error>(())
        });
    }
    join_all(set).await?;
    client
        .batch_execute(&session_settings())
        .await
        .map_err(|e| Error::source_stmt("restore settings", &e))?;
    for o in &serial {
        let Kind::LargeObjects { items } = &o.kind else {
            run_statements(&client, o, &render).await?;
            continue;
        };
        let (create, after) = pgferry_catalog::large_object_statements(items, &render);
        run_each(&client, o, &create).await?;
        load_large_objects_from(&client, o, &archive.path, &opts.progress).await?;
        run_each(&client, o, &after).await?;
    }
    summary.objects = objects.len();
    report(&opts.progress, Progress::Finished);
    Ok(summary)
}

/// Table data (or large objects) read from the archive on a blocking thread.
struct ChannelFeed {
    rx: mpsc::Receiver<Result<Vec<u8>, Error>>,
}

impl crate::apply::TableFeed for ChannelFeed {
    async fn feed(
        &mut self,
        o: &Object,
        mut sink: std::pin::Pin<&mut tokio_postgres::CopyInSink<Bytes>>,
        progress: &Option<crate::progress::ProgressFn>,
    ) -> Result<u64, Error> {
        let mut bytes = 0u64;
        while let Some(frame) = self.rx.recv().await {
            let frame = frame?;
            bytes += frame.len() as u64;
            report(
                progress,
                Progress::Bytes {
                    table: o.display_name(),
                    bytes: frame.len() as u64,
                },
            );
            sink.feed(Bytes::from(frame))
                .await
                .map_err(|e| object_failed(o, &e))?;
        }
        Ok(bytes)
    }
}

/// Starts a reader thread streaming entry `id` (all `parts`) of the archive at `path`.
fn read_entry(path: &std::path::Path, id: u32, parts: u32) -> ChannelFeed {
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, Error>>(4);
    let path_buf = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let bad = |source| Error::Archive {
            path: path_buf.clone(),
            source,
        };
        let file = match File::open(&path_buf) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(Error::Io {
                    path: path_buf.clone(),
                    source: e,
                }));
                return;
            }
        };
        let mut r = match ArchiveReader::new(BufReader::with_capacity(1 << 20, file)) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(bad(e)));
                return;
            }
        };
        if let Err(e) = table_stream(&mut r, id, parts, |f| tx.blocking_send(Ok(f)).is_ok()) {
            let _ = tx.blocking_send(Err(bad(e)));
        }
    });
    ChannelFeed { rx }
}

/// Loads the large objects in their own transaction.
async fn load_large_objects_from(
    c: &Client,
    o: &Object,
    path: &std::path::Path,
    progress: &Option<crate::progress::ProgressFn>,
) -> Result<(), Error> {
    c.batch_execute("BEGIN")
        .await
        .map_err(|e| object_failed(o, &e))?;
    let mut feed = read_entry(path, o.id, 0);
    crate::apply::load_large_objects(c, o, &mut feed, progress).await?;
    c.batch_execute("COMMIT")
        .await
        .map_err(|e| object_failed(o, &e))?;
    Ok(())
}

/// Loads one table in its own transaction; tables this restore created are
/// truncated first so COPY can FREEZE.
async fn load_table(
    c: &Client,
    o: &Object,
    path: &std::path::Path,
    created: bool,
    progress: &Option<crate::progress::ProgressFn>,
) -> Result<u64, Error> {
    let Kind::TableData {
        table,
        columns,
        format,
        parts,
        ..
    } = &o.kind
    else {
        return Ok(0);
    };
    report(
        progress,
        Progress::TableStarted {
            table: table.to_string(),
        },
    );
    let mut begin = String::from("BEGIN");
    if created {
        begin.push_str(&format!("; TRUNCATE ONLY {}", table.sql()));
    }
    c.batch_execute(&begin)
        .await
        .map_err(|e| object_failed(o, &e))?;
    let sink = c
        .copy_in::<_, Bytes>(&copy_in_sql(table, columns, *format, created))
        .await
        .map_err(|e| object_failed(o, &e))?;
    futures::pin_mut!(sink);
    // Frames come from this worker's own reader of the (already verified) archive.
    let mut feed = read_entry(path, o.id, *parts);
    let bytes = crate::apply::TableFeed::feed(&mut feed, o, sink.as_mut(), progress).await?;
    let rows = sink.finish().await.map_err(|e| object_failed(o, &e))?;
    c.batch_execute("COMMIT")
        .await
        .map_err(|e| object_failed(o, &e))?;
    report(
        progress,
        Progress::TableDone {
            table: table.to_string(),
            rows,
            bytes,
        },
    );
    Ok(rows)
}
