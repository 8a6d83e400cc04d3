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
    let Phases {
        pre,
        mut data,
        rest,
    } = phases(objects);
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
    for o in &pre {
        run_statements(&client, o, &render).await?;
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| Error::on_target("committing the definitions", e))?;
    let created: HashSet<String> = objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Table(_)))
        .map(Object::display_name)
        .collect();

    // Phase 2: table data, largest first, over `jobs` connections.
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
    let done: HashSet<u32> = pre.iter().chain(data.iter()).map(|o| o.id).collect();
    let (parallel, serial): (Vec<&Object>, Vec<&Object>) = rest.iter().copied().partition(|o| {
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
        match &o.kind {
            Kind::LargeObjects { items } => {
                let (create, after) = pgferry_catalog::large_object_statements(items, &render);
                run_each(&client, o, &create).await?;
                load_large_objects_from(&client, o, &archive.path, &opts.progress).await?;
                run_each(&client, o, &after).await?;
            }
            Kind::TableData { .. } => {
                let fresh = created.contains(&o.display_name());
                summary.rows +=
                    load_table_alone(&client, o, &archive.path, fresh, &opts.progress).await?;
                summary.tables += 1;
            }
            _ => run_statements(&client, o, &render).await?,
        }
    }
    summary.objects = objects.len();
    report(&opts.progress, Progress::Finished);
    Ok(summary)
}

/// How `restore -j` runs objects: each list in restore order.
#[derive(Debug)]
struct Phases<'a> {
    /// Definitions committed before any data: the leading pre-data objects,
    /// then (a list file may interleave definitions and data) every later
    /// pre-data object whose restored dependencies are all among them.
    pre: Vec<&'a Object>,
    /// Table data loaded concurrently: the data of tables `pre` defines.
    data: Vec<&'a Object>,
    /// The rest, in order (table data behind definitions a list file puts
    /// after it among them).
    rest: Vec<&'a Object>,
}

fn phases(objects: &[Object]) -> Phases<'_> {
    let restored: HashSet<u32> = objects.iter().map(|o| o.id).collect();
    let data_ids: HashSet<u32> = objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::TableData { .. }))
        .map(|o| o.id)
        .collect();
    let mut defined: HashSet<u32> = HashSet::new();
    let (mut pre, mut later) = (Vec::new(), Vec::new());
    for o in objects {
        let first = o.section() == Section::PreData
            && (later.is_empty()
                || o.deps
                    .iter()
                    .all(|d| !restored.contains(d) || defined.contains(d)));
        if first {
            defined.insert(o.id);
            pre.push(o);
        } else {
            later.push(o);
        }
    }
    // (Data depending on other data loads concurrently all the same: that
    // order only matters to foreign keys, created afterwards.)
    let (data, rest) = later.into_iter().partition(|o| {
        data_ids.contains(&o.id)
            && o.deps
                .iter()
                .all(|d| !restored.contains(d) || defined.contains(d) || data_ids.contains(d))
    });
    Phases { pre, data, rest }
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

#[cfg(test)]
mod tests {
    use super::*;
    use pgferry_catalog::{CopyFormat, QName};

    fn o(id: u32, deps: &[u32], kind: Kind) -> Object {
        Object {
            id,
            schema: Some("s".into()),
            name: format!("o{id}"),
            owner: None,
            comment: None,
            acl: None,
            deps: deps.to_vec(),
            kind,
        }
    }

    fn data(id: u32, deps: &[u32]) -> Object {
        let table = QName {
            schema: "s".into(),
            name: format!("t{id}"),
        };
        o(
            id,
            deps,
            Kind::TableData {
                table,
                columns: vec![],
                format: CopyFormat::Binary,
                casts: vec![],
                parts: 0,
                filter: None,
                load_via: None,
            },
        )
    }

    fn ids(objects: &[&Object]) -> Vec<u32> {
        objects.iter().map(|o| o.id).collect()
    }

    #[test]
    fn definitions_a_list_puts_after_data_still_come_first() {
        let post = Kind::Statistics {
            def: String::new(),
            target: None,
        };
        // 1, 3: definitions; 2, 4: their data; 5 after the post-data 6 it
        // needs; 7 the data of 5.
        let objects = vec![
            o(1, &[], Kind::Schema),
            data(2, &[1]),
            o(3, &[], Kind::Schema),
            data(4, &[3, 2]),
            o(6, &[1], post.clone()),
            o(5, &[6], Kind::Schema),
            data(7, &[5]),
            o(8, &[99], Kind::Schema),
        ];
        let p = phases(&objects);
        assert_eq!(ids(&p.pre), [1, 3, 8], "8 needs nothing restored");
        assert_eq!(ids(&p.data), [2, 4]);
        assert_eq!(ids(&p.rest), [6, 5, 7], "the rest in order");
        // Without a list, the catalog's order: definitions lead.
        let objects = vec![o(1, &[], Kind::Schema), data(2, &[1]), o(3, &[1], post)];
        let p = phases(&objects);
        assert_eq!(
            (ids(&p.pre), ids(&p.data), ids(&p.rest)),
            (vec![1], vec![2], vec![3])
        );
    }
}
