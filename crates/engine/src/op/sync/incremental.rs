//! The incremental sync: inside the sync's target transaction, only what
//! differs is written. Relations whose definition changed (and what depends
//! on them) are dropped and created again; every other table is compared by
//! content fingerprints computed on both servers, and a differing one gets
//! only its differing rows (or, without a key, all of them). When the
//! difference is more than this can express (a function changed, large
//! objects, a statement refused midway), everything done here is rolled
//! back to a savepoint and the caller replaces everything instead.
use std::collections::{BTreeSet, HashMap, HashSet};

use pgferry_catalog::rows::{row_shapes, RowShape};
use pgferry_catalog::{read_catalog, Catalog, ConstraintKind, Kind, Object, QName};
use tokio_postgres::Client;

use crate::compare::fingerprint::STABLE_OUTPUT;
use crate::compare::rows::{compare_rows, HashMethod, HashedRows, Hint, RowDiff, Verdict};
use crate::compare::schema_plan::{relations, schema_plan, Owners};
use crate::compare::versions::{self, Baseline};
use crate::error::{Error, Side};
use crate::filter::Filters;
use crate::progress::ProgressFn;
use crate::select::compile_on;
use crate::source::relay::LiveFeed;
use crate::target::actions::{TableAction, TableSync};
use crate::target::apply::apply_objects;
use crate::target::blockers::{lock_table, LockMode};
use crate::target::delta::{copy_rows, delete_at, delete_rows, replace_rows, set_firing, Pick};
use crate::target::rebuild::{close_over_dependents, drop_statements};
use crate::target::savepoint;
use crate::target::session::TargetSession;
use crate::watch::Phase;

use super::row_versions::{by_versions, key_types, Sides};

/// What an incremental sync did (it committed nothing yet).
#[derive(Debug, Default)]
pub(super) struct Done {
    pub tables: Vec<TableSync>,
    /// Rows on the source per table, for the count verification.
    pub source_rows: Vec<(QName, u64)>,
    pub rows_written: u64,
    pub bytes: u64,
    pub terminated: i64,
    /// The transaction id (32-bit) the sync's writes carry (they run under
    /// a savepoint), for the next sync's row versions.
    pub writer_xid: Option<u32>,
}

/// The inputs of [`run`].
pub(super) struct Inputs<'a> {
    pub src: &'a Client,
    pub tgt: &'a Client,
    /// What the source's counters say changed per table since the last sync.
    pub hints: &'a HashMap<QName, Hint>,
    /// The last sync's row-version baseline, where usable.
    pub baseline: Option<&'a Baseline>,
    pub catalog: &'a Catalog,
    pub session: &'a TargetSession,
    pub filters: &'a Filters,
    pub source_version: i32,
    pub target_version: i32,
    pub terminate: bool,
    pub keep_sessions: &'a [i32],
    pub progress: &'a Option<ProgressFn>,
    pub phase: &'a Phase,
}

/// Differing keys one table's delta carries at most (they travel as one
/// list in one statement).
const MAX_DELTA_KEYS: usize = 1_000_000;

/// A table's plan after the comparison.
struct Planned<'a> {
    data: &'a Object,
    table: &'a QName,
    /// Key columns (empty: none).
    key: Vec<String>,
    verdict: Verdict,
    /// Decided from row versions, not content.
    by_versions: bool,
}

/// Runs the incremental sync; `Ok(Err(reason))` when it cannot express the
/// difference (nothing is left changed: the caller replaces everything).
pub(super) async fn run(i: &Inputs<'_>) -> Result<Result<Done, String>, Error> {
    let (tgt, catalog, phase) = (i.tgt, i.catalog, i.phase);
    if catalog
        .objects
        .iter()
        .any(|o| matches!(o.kind, Kind::LargeObjects { .. }))
    {
        return Ok(Err("large objects are synced in full".into()));
    }
    phase.set("reading the target catalog");
    let mut filters = i.filters.clone();
    filters.no_statistics = true;
    let compiled = compile_on(tgt, &filters, Side::Target).await?;
    let target = read_catalog(tgt, &compiled)
        .await
        .map_err(|e| Error::catalog_on(Side::Target, e))?;
    let (mut rebuild, created) = match schema_plan(catalog, &target, &i.session.render) {
        Ok(c) => (c.rebuild, c.apply),
        Err(why) => return Ok(Err(why)),
    };
    // The relations the sync may drop: the source's, and the target's in
    // the synced schemas (elsewhere they are the target's own).
    let synced: HashSet<&str> = catalog
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Schema))
        .map(|o| o.name.as_str())
        .collect();
    let known: HashSet<QName> = relations(catalog)
        .chain(relations(&target).filter(|q| synced.contains(q.schema.as_str())))
        .collect();
    phase.set("finding what depends on changed definitions");
    if let Err(why) = close_over_dependents(tgt, &mut rebuild, &known).await? {
        return Ok(Err(why));
    }
    // From here on a refusal by the target (a table its role may not read,
    // a definition pgferry misread) rolls back to this savepoint and the
    // caller replaces everything.
    savepoint::set(tgt).await?;
    let compared = async {
        let xid = writer_xid(tgt).await?;
        let done = compare_and_apply(i, &target, &rebuild, &known, &created).await?;
        Ok::<_, Error>(done.map(|d| Done {
            writer_xid: xid,
            ..d
        }))
    }
    .await;
    match compared {
        Ok(Ok(done)) => {
            savepoint::release(tgt).await?;
            Ok(Ok(done))
        }
        Ok(Err(why)) => {
            savepoint::rollback(tgt).await?;
            Ok(Err(why))
        }
        Err(e) if e.side() == Some(Side::Target) && falls_back(&e) => {
            savepoint::rollback(tgt).await?;
            Ok(Err(format!("{e:#}")))
        }
        Err(e) => Err(e),
    }
}

/// The transaction id the writes under the savepoint carry: a row written
/// there (`pgferry.sync_mark` holds one row, replaced each time) tells it.
/// `None` when the role may not write that table (another role made it):
/// the next sync then compares what this one writes by content.
async fn writer_xid(tgt: &Client) -> Result<Option<u32>, Error> {
    let fail = |e| Error::on_target("marking the sync's transaction", e);
    let allowed: bool = tgt
        .query_one(
            "SELECT bool_and(pg_catalog.has_table_privilege('pgferry.sync_mark', p)) \
             FROM unnest(ARRAY['INSERT', 'DELETE', 'SELECT']) p",
            &[],
        )
        .await
        .map_err(fail)?
        .get(0);
    if !allowed {
        return Ok(None);
    }
    let row = tgt
        .query_one(
            "WITH gone AS (DELETE FROM pgferry.sync_mark) \
             INSERT INTO pgferry.sync_mark VALUES (1) RETURNING xmin::text::int8",
            &[],
        )
        .await
        .map_err(fail)?;
    let x: i64 = row.get(0);
    Ok(Some(x as u32))
}

/// Compares the kept tables' rows and writes every change.
async fn compare_and_apply(
    i: &Inputs<'_>,
    target: &Catalog,
    rebuild: &BTreeSet<QName>,
    known: &HashSet<QName>,
    created: &BTreeSet<u32>,
) -> Result<Result<Done, String>, Error> {
    let (src, tgt, catalog, phase) = (i.src, i.tgt, i.catalog, i.phase);
    for (side, c) in [(Side::Source, src), (Side::Target, tgt)] {
        c.batch_execute(STABLE_OUTPUT)
            .await
            .map_err(|e| Error::statement(side, "comparison settings", e))?;
    }
    let (shapes, target_shapes) = futures::try_join!(
        async { row_shapes(src).await.map_err(Error::from) },
        async {
            row_shapes(tgt)
                .await
                .map_err(|e| Error::catalog_on(Side::Target, e))
        }
    )?;
    let method = HashMethod::for_versions(i.source_version, i.target_version);
    let none = RowShape::default();
    let mut planned = Vec::new();
    let mut done = Done::default();
    let sides = Sides {
        src,
        tgt,
        catalog,
        baseline: i.baseline,
    };
    for o in &catalog.objects {
        let Kind::TableData {
            table,
            columns,
            filter,
            ..
        } = &o.kind
        else {
            continue;
        };
        if rebuild.contains(table) {
            continue;
        }
        phase.set(format!("comparing the rows of {table}"));
        let shape = shapes.get(table).unwrap_or(&none);
        let rows = HashedRows {
            table,
            columns,
            filter: filter.as_deref(),
            shape,
            method,
            plain_key: key_types(catalog, table, &shape.key).plain(),
        };
        let referenced = target_shapes.get(table).is_some_and(|s| s.referenced);
        let hint = i.hints.get(table).copied();
        let (verdict, decided_by_versions) =
            match by_versions(&sides, rows, !referenced, hint).await? {
                Some(v) => (v, true),
                None => (
                    compare_rows(src, tgt, rows, !referenced, hint).await?,
                    false,
                ),
            };
        // An extension's configuration table holds rows of the extension's
        // own beside the dumped ones: it is never emptied or rebuilt here.
        if filter.is_some() && matches!(verdict, Verdict::Whole { .. }) {
            return Ok(Err(format!(
                "the extension configuration table {table} differs and has no key"
            )));
        }
        // Keys are sent as one list: past this many, replace everything.
        if let Verdict::Rows(d) = &verdict {
            if d.fetch.len() + d.absent.len() > MAX_DELTA_KEYS {
                return Ok(Err(format!(
                    "{} rows of {table} differ, more than a delta carries ({MAX_DELTA_KEYS})",
                    d.fetch.len() + d.absent.len()
                )));
            }
        }
        done.source_rows
            .push((table.clone(), verdict.source_rows()));
        planned.push(Planned {
            data: o,
            table,
            key: shape.key.clone(),
            verdict,
            by_versions: decided_by_versions,
        });
    }
    // A table copied whole is rebuilt instead where its dependents allow
    // (its indexes are then built once after the load, not row by row);
    // the tables pulled in with it are rebuilt too.
    let mut rebuild = rebuild.clone();
    let whole: Vec<QName> = planned
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::Whole { .. }))
        .map(|p| p.table.clone())
        .collect();
    let kept: HashSet<&QName> = planned
        .iter()
        .filter(|p| !matches!(p.verdict, Verdict::Whole { .. }))
        .map(|p| p.table)
        .collect();
    for t in whole {
        let mut grown = rebuild.clone();
        grown.insert(t);
        // Not when that would rebuild a table whose rows need no copy (an
        // inheritance child, a foreign key's table): it is truncated then.
        if close_over_dependents(tgt, &mut grown, known).await?.is_ok()
            && !grown.iter().any(|q| kept.contains(q))
        {
            rebuild = grown;
        }
    }
    planned.retain(|p| !rebuild.contains(p.table));
    done.source_rows.retain(|(t, _)| !rebuild.contains(t));
    apply(
        i,
        target,
        &rebuild,
        created,
        &planned,
        &target_shapes,
        &mut done,
    )
    .await?;
    Ok(Ok(done))
}

/// SQLSTATE classes of refusals the full replacement does not meet: data
/// and integrity errors, syntax or access rule errors, dependent objects,
/// unsupported features.
fn falls_back(e: &Error) -> bool {
    e.sqlstate().is_some_and(|s| {
        ["22", "23", "2B", "42", "0A"]
            .iter()
            .any(|c| s.starts_with(c))
    })
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    i: &Inputs<'_>,
    target: &Catalog,
    rebuild: &BTreeSet<QName>,
    created: &BTreeSet<u32>,
    planned: &[Planned<'_>],
    target_shapes: &HashMap<QName, RowShape>,
    done: &mut Done,
) -> Result<(), Error> {
    let (src, tgt, catalog, phase) = (i.src, i.tgt, i.catalog, i.phase);
    let render = &i.session.render;
    phase.set("locking what the sync writes on the target");
    // Tables and views (what LOCK takes); the drop takes the rest's locks.
    let lockable: HashSet<QName> = target
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Table(_) | Kind::View { .. }))
        .filter_map(Object::qname)
        .collect();
    for q in rebuild.iter().filter(|q| lockable.contains(*q)) {
        done.terminated += lock_table(
            tgt,
            &i.session.rights,
            q,
            LockMode::AccessExclusive,
            true,
            i.terminate,
            i.keep_sessions,
        )
        .await?;
    }
    for p in planned {
        // Disabling a trigger or rule (around the writes) takes SHARE ROW
        // EXCLUSIVE: readers still read.
        let fires = target_shapes
            .get(p.table)
            .is_some_and(|s| !s.origin_triggers.is_empty() || !s.rules.is_empty());
        let mode = match p.verdict {
            Verdict::Same { .. } => continue,
            Verdict::Rows(_) if fires => LockMode::ShareRowExclusive,
            Verdict::Rows(_) => LockMode::RowExclusive,
            Verdict::Whole { .. } => LockMode::AccessExclusive,
        };
        done.terminated += lock_table(
            tgt,
            &i.session.rights,
            p.table,
            mode,
            false,
            i.terminate,
            i.keep_sessions,
        )
        .await?;
    }
    phase.set("dropping relations whose definition changed");
    for stmt in drop_statements(target, rebuild) {
        tgt.batch_execute(&stmt)
            .await
            .map_err(|e| Error::on_target(format!("running {stmt}"), e))?;
    }
    // The kept tables first: nothing of theirs depends on a rebuilt
    // relation (the closure saw to that), and the rebuilt ones' foreign
    // keys are then checked against their final rows.
    let mut feed = LiveFeed::new(src, phase.clone(), None);
    write_kept_tables(i, planned, target_shapes, &mut feed, done).await?;
    let changed: HashSet<&QName> = planned
        .iter()
        .filter(|p| !matches!(p.verdict, Verdict::Same { .. }))
        .map(|p| p.table)
        .chain(rebuild.iter())
        .collect();
    // Then, in the source's order: the rebuilt relations with all that is
    // theirs (definitions, data, indexes, constraints, statistics), the
    // written tables' statistics, materialized views over changed data
    // refreshed, every sequence's value; new objects and changed functions
    // (in place); the database's properties and the carried roles as the
    // full path applies them.
    let owners = Owners::new(catalog);
    let objects: Vec<Object> = catalog
        .objects
        .iter()
        .filter(|o| match &o.kind {
            Kind::Database { .. } | Kind::Role { .. } | Kind::SequenceSet { .. } => true,
            Kind::RelationStats { table, .. } if changed.contains(table) => true,
            Kind::MatViewRefresh { view } if !rebuild.contains(view) => {
                depends_on_any(&owners, o, &changed)
            }
            _ => created.contains(&o.id) || owners.of(o).is_some_and(|q| rebuild.contains(&q)),
        })
        .cloned()
        .collect();
    let applied = apply_objects(tgt, &objects, render, &mut feed, i.progress, phase).await?;
    done.rows_written += applied.rows;
    done.bytes += applied.bytes;
    for (t, rows, bytes) in &applied.tables {
        done.source_rows.push((t.clone(), *rows));
        done.tables.push(TableSync {
            table: t.to_string(),
            action: TableAction::Rebuilt,
            rows_written: *rows,
            rows_deleted: 0,
            bytes: *bytes,
            by_row_versions: false,
        });
    }
    Ok(())
}

/// Deletes (children first) and writes (parents first) the differing rows
/// of the kept tables, their ordinary triggers disabled meanwhile.
async fn write_kept_tables(
    i: &Inputs<'_>,
    planned: &[Planned<'_>],
    target_shapes: &HashMap<QName, RowShape>,
    feed: &mut LiveFeed<'_>,
    done: &mut Done,
) -> Result<(), Error> {
    let tgt = i.tgt;
    let written: Vec<&Planned<'_>> = fk_order(i.catalog, planned)
        .into_iter()
        .filter(|p| !matches!(p.verdict, Verdict::Same { .. }))
        .collect();
    let none = RowShape::default();
    let shape = |t: &QName| target_shapes.get(t).unwrap_or(&none);
    // Children first: the rows each table loses.
    let mut deleted: HashMap<&QName, u64> = HashMap::new();
    for p in written.iter().rev() {
        let s = shape(p.table);
        i.phase.set(format!("deleting rows of {}", p.table));
        set_firing(tgt, p.table, s, false).await?;
        if let Verdict::Rows(diff) = &p.verdict {
            let mut n = match (&diff.ctids, s.referenced) {
                (Some(ctids), false) => delete_at(tgt, p.table, ctids).await?,
                _ => {
                    let gone = deletions(diff, s.referenced);
                    let keys = key_types(i.catalog, p.table, &p.key);
                    delete_rows(tgt, p.table, &keys, &gone).await?
                }
            };
            // Rows updated in place (by upsert) count as replaced, as the
            // deleted and inserted ones do.
            if s.referenced {
                n += diff.changed.len() as u64;
            }
            deleted.insert(p.table, n);
        }
    }
    // Parents first: the rows each table gains.
    let mut results: HashMap<&QName, TableSync> = HashMap::new();
    for p in &written {
        let s = shape(p.table);
        let mut r = TableSync {
            table: p.table.to_string(),
            action: TableAction::Kept,
            rows_written: 0,
            rows_deleted: deleted.get(p.table).copied().unwrap_or(0),
            bytes: p.verdict.bytes(),
            by_row_versions: p.by_versions,
        };
        match &p.verdict {
            Verdict::Same { .. } => {}
            Verdict::Rows(diff) => {
                i.phase
                    .set(format!("writing the changed rows of {}", p.table));
                // The source's rows newer than the last sync, or the
                // differing keys.
                let newer = diff.since.map(versions::newer_than);
                let pick = match &newer {
                    Some(condition) => Pick::Where(condition),
                    None => Pick::Keys(&diff.fetch),
                };
                let (rows, bytes) = copy_rows(
                    tgt,
                    p.data,
                    &key_types(i.catalog, p.table, &p.key),
                    pick,
                    s.referenced,
                    feed,
                    i.progress,
                )
                .await?;
                r.action = TableAction::Delta;
                r.rows_written = rows;
                r.bytes += bytes;
            }
            Verdict::Whole { .. } => {
                i.phase.set(format!("loading data of {}", p.table));
                let before = count_rows(tgt, p.data, p.table).await?;
                let (rows, bytes) = replace_rows(tgt, p.data, p.table, feed, i.progress).await?;
                // The rows copied are the source's count (it may not have
                // been counted before).
                done.source_rows.retain(|(t, _)| t != p.table);
                done.source_rows.push((p.table.clone(), rows));
                r.action = TableAction::Replaced;
                r.rows_deleted = before;
                r.rows_written = rows;
                r.bytes += bytes;
            }
        }
        set_firing(tgt, p.table, s, true).await?;
        results.insert(p.table, r);
    }
    for p in planned {
        let r = results.remove(p.table).unwrap_or_else(|| TableSync {
            table: p.table.to_string(),
            action: TableAction::Kept,
            rows_written: 0,
            rows_deleted: 0,
            bytes: p.verdict.bytes(),
            by_row_versions: p.by_versions,
        });
        done.rows_written += r.rows_written;
        done.bytes += r.bytes;
        done.tables.push(r);
    }
    Ok(())
}

/// Rows to delete before writing: keys the source lacks, and, unless the
/// table is written by upsert (another table references it), the changed ones.
fn deletions(diff: &RowDiff, upsert: bool) -> Vec<String> {
    let mut gone = diff.absent.clone();
    if !upsert {
        gone.extend(diff.changed.iter().cloned());
    }
    gone
}

async fn count_rows(tgt: &Client, o: &Object, table: &QName) -> Result<u64, Error> {
    let n: i64 = tgt
        .query_one(&format!("SELECT count(*) FROM ONLY {}", table.sql()), &[])
        .await
        .map_err(|e| Error::object(o, e))?
        .get(0);
    Ok(n as u64)
}

/// The differing tables, a table before those whose foreign keys reference
/// it (catalog order otherwise, and within a cycle).
fn fk_order<'a>(catalog: &Catalog, planned: &'a [Planned<'a>]) -> Vec<&'a Planned<'a>> {
    let owners = Owners::new(catalog);
    let mut parents: HashMap<&QName, Vec<QName>> = HashMap::new();
    for o in &catalog.objects {
        if let Kind::Constraint {
            table,
            kind: ConstraintKind::ForeignKey,
            ..
        } = &o.kind
        {
            for d in o.deps.iter().filter_map(|d| owners.get(*d)) {
                if let Some(p) = owners.of(d) {
                    if &p != table {
                        parents.entry(table).or_default().push(p);
                    }
                }
            }
        }
    }
    let mut out: Vec<&Planned<'_>> = Vec::new();
    let mut placed: HashSet<&QName> = HashSet::new();
    let mut visiting: HashSet<&QName> = HashSet::new();
    fn visit<'a>(
        p: &'a Planned<'a>,
        planned: &'a [Planned<'a>],
        parents: &HashMap<&QName, Vec<QName>>,
        placed: &mut HashSet<&'a QName>,
        visiting: &mut HashSet<&'a QName>,
        out: &mut Vec<&'a Planned<'a>>,
    ) {
        if placed.contains(p.table) || !visiting.insert(p.table) {
            return;
        }
        for parent in parents.get(p.table).into_iter().flatten() {
            if let Some(q) = planned.iter().find(|q| q.table == parent) {
                visit(q, planned, parents, placed, visiting, out);
            }
        }
        placed.insert(p.table);
        out.push(p);
    }
    for p in planned {
        visit(p, planned, &parents, &mut placed, &mut visiting, &mut out);
    }
    out
}

/// `o` (a materialized view's refresh) depends, through views, on one of `changed`.
fn depends_on_any(owners: &Owners<'_>, o: &Object, changed: &HashSet<&QName>) -> bool {
    let mut stack: Vec<u32> = o.deps.clone();
    let mut seen: HashSet<u32> = HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(d) = owners.get(id) else { continue };
        if owners.of(d).is_some_and(|q| changed.contains(&q)) {
            return true;
        }
        stack.extend(d.deps.iter().copied());
    }
    false
}
