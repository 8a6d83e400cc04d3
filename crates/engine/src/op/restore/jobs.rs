//! `restore --jobs N`: a faster, non-atomic restore for fresh databases, like
//! `pg_restore -j`. Definitions commit first; tables load concurrently, each
//! in its own transaction (`COPY ... FREEZE` after a `TRUNCATE` of the table
//! just created); indexes and primary/unique/exclusion constraints build
//! concurrently; everything else follows in dependency order.
use std::collections::HashSet;

use pgferry_catalog::{render_object, ConstraintKind, Kind, Object, RenderOptions, Section};
use pgferry_format::part_entry;
use tokio_postgres::Client;

use super::{plan_of, RestoreOptions, RestoreSummary};
use crate::archive::feed::{data_entries, ArchiveFeed};
use crate::archive::reader::VerifiedArchive;
use crate::conn::ConnSpec;
use crate::error::Error;
use crate::pool;
use crate::progress::{report, Progress, ProgressFn};
use crate::target::apply::{load_large_objects, load_table, run_each};
use crate::target::clean::{clean_statements, schemas_of};
use crate::target::session::{connect_writer, session_settings, TargetSession};

async fn run_statements(client: &Client, o: &Object, render: &RenderOptions) -> Result<(), Error> {
    run_each(client, o, &render_object(o, render)).await
}

/// A worker's connection: a writer with the loading settings for its session.
async fn worker_connection(target: &ConnSpec) -> Result<Client, Error> {
    let c = connect_writer(target).await?;
    c.batch_execute(&session_settings())
        .await
        .map_err(|e| Error::on_target("restore worker settings", e))?;
    Ok(c)
}

pub(super) async fn restore(
    target: &ConnSpec,
    archive: VerifiedArchive,
    objects: &[Object],
    opts: &RestoreOptions,
) -> Result<RestoreSummary, Error> {
    let jobs = opts.jobs.max(2);
    let client = connect_writer(target).await?;
    let replaced = if opts.clean {
        schemas_of(objects)
    } else {
        Vec::new()
    };
    let plan = plan_of(&archive, objects, &replaced, opts, false);
    let session = TargetSession::prepare(&client, &plan).await?;
    let render = session.render.clone();
    // Phase 1: the definitions before the data, in one transaction.
    let split = objects
        .iter()
        .position(|o| o.section() != Section::PreData)
        .unwrap_or(objects.len());
    let (pre, rest) = objects.split_at(split);
    session.begin(&client, None, "starting the restore").await?;
    if opts.clean {
        // Not one transaction: target-owned objects over what --clean drops
        // could not be carried over safely; refuse instead of losing them.
        let clean = clean_statements(objects);
        let carried = session.dependents(&client, &plan, &[], &clean).await?;
        if !carried.names().is_empty() {
            return Err(Error::Dependents(format!(
                "restore -j --clean would drop objects the target owns that depend on replaced ones, and a \
                 parallel restore cannot carry them over; nothing was changed on the target (restore without -j \
                 carries them in its one transaction): {}",
                carried.names().join("; ")
            )));
        }
        session.replace(&client, "--clean", &clean).await?;
    }
    for o in pre {
        run_statements(&client, o, &render).await?;
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| Error::on_target("committing the definitions", e))?;
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
            .filter_map(|k| archive.reader.entries().get(&part_entry(o.id, k)))
            .map(|e| e.raw_bytes)
            .sum()
    };
    data.sort_by_key(|o| std::cmp::Reverse(size(o)));
    let loaded = pool::run(jobs, data.iter().map(|o| (*o).clone()), |_, queue| {
        let (target, path, created, progress) = (
            target.clone(),
            archive.path.clone(),
            created.clone(),
            opts.progress.clone(),
        );
        async move {
            let c = worker_connection(&target).await?;
            let mut rows = 0u64;
            while let Some(o) = queue.next() {
                let fresh = created.contains(&o.display_name());
                rows += load_table_alone(&c, &o, &path, fresh, &progress).await?;
            }
            Ok::<u64, Error>(rows)
        }
    })
    .await?;
    let mut summary = RestoreSummary {
        rows: loaded.into_iter().sum(),
        tables: data.len(),
        ..Default::default()
    };

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
    pool::run(jobs, parallel.iter().map(|o| (*o).clone()), |_, queue| {
        let (target, render) = (target.clone(), render.clone());
        async move {
            let c = worker_connection(&target).await?;
            while let Some(o) = queue.next() {
                run_statements(&c, &o, &render).await?;
            }
            Ok::<(), Error>(())
        }
    })
    .await?;
    client
        .batch_execute(&session_settings())
        .await
        .map_err(|e| Error::on_target("restore settings", e))?;
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

/// Loads the large objects in their own transaction.
async fn load_large_objects_from(
    c: &Client,
    o: &Object,
    path: &std::path::Path,
    progress: &Option<ProgressFn>,
) -> Result<(), Error> {
    c.batch_execute("BEGIN")
        .await
        .map_err(|e| Error::object(o, e))?;
    let mut feed = ArchiveFeed::open(path, data_entries([o]));
    load_large_objects(c, o, &mut feed, progress).await?;
    c.batch_execute("COMMIT")
        .await
        .map_err(|e| Error::object(o, e))?;
    Ok(())
}

/// Loads one table in its own transaction; tables this restore created are
/// truncated first so COPY can FREEZE.
async fn load_table_alone(
    c: &Client,
    o: &Object,
    path: &std::path::Path,
    created: bool,
    progress: &Option<ProgressFn>,
) -> Result<u64, Error> {
    let Kind::TableData { table, .. } = &o.kind else {
        return Ok(0);
    };
    let mut begin = String::from("BEGIN");
    if created {
        begin.push_str(&format!("; TRUNCATE ONLY {}", table.sql()));
    }
    c.batch_execute(&begin)
        .await
        .map_err(|e| Error::object(o, e))?;
    // Frames come from this worker's own reader of the (already verified) archive.
    let mut feed = ArchiveFeed::open(path, data_entries([o]));
    let (rows, _) = load_table(c, o, created, &mut feed, progress).await?;
    c.batch_execute("COMMIT")
        .await
        .map_err(|e| Error::object(o, e))?;
    Ok(rows)
}
