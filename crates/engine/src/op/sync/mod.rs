//! `sync`: primary → replica in one command. The source's COPY output
//! streams straight into the target's COPY input; every change to the target
//! happens in one transaction, recorded in `pgferry.sync_history`. The
//! recipe: both sides connected and watched, the sync lock, the source
//! snapshot, the prepared target session, replace, apply (relayed), carry
//! over, commit, then verify. [`every`] repeats it on a schedule.
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use pgferry_catalog::{probe, rows, Catalog, Kind, QName, Statistics};
use tokio_postgres::Client;

use crate::archive::writer::ArchiveFile;
use crate::compare::fingerprint::{compare_tables, ForcedRls, SourceRows, STABLE_OUTPUT};
use crate::compare::rows::Hint;
use crate::compare::versions;
use crate::compare::{VerifyMode, VerifyReport};
use crate::conn::{connect, ConnSpec};
use crate::error::{Error, Side};
use crate::filter::Filters;
use crate::progress::{report, Progress, ProgressFn};
use crate::select::compile_on;
use crate::source::relay::LiveFeed;
use crate::source::snapshot::begin_snapshot;
use crate::target::actions::{TableAction, TableSync};
use crate::target::apply::apply_objects;
use crate::target::clean::{clean_statements, schemas_of};
use crate::target::held::{
    check_held_tables, excluded_tables, hold_statements, restore_held_tables,
};
use crate::target::history::{self, Record};
use crate::target::session::{
    check_downgrade, check_version, connect_writer, Origin, Plan, TargetSession,
};
use crate::target::sync_lock;
use crate::watch::{bounded, lost_side, setup, watched, Peer, Phase};

pub(crate) mod every;
mod incremental;
mod row_versions;

/// How long a sync waits for locks on either side unless told otherwise.
pub const DEFAULT_SYNC_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of [`sync`].
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// pg_dump-style filters; excluded tables that exist on the target survive unchanged.
    pub filters: Filters,
    /// Check after commit.
    pub verify: VerifyMode,
    /// Terminate other sessions on the target database (default); else wait for their locks.
    pub terminate: bool,
    /// How long to wait for locks on either side (default 30 s).
    pub lock_timeout: Duration,
    /// Also write an archive of what was synced.
    pub keep_archive: Option<PathBuf>,
    /// Restore the source's ownership.
    pub keep_owners: bool,
    /// Allow a target older than the source.
    pub allow_downgrade: bool,
    /// A deadline for the whole run: past it the sync is cancelled (rolled
    /// back) and fails with [`Error::Deadline`]. `None`: no deadline (a dead
    /// or silent peer still ends the run, see the crate docs).
    pub deadline: Option<Duration>,
    /// How the synced tables get planner statistics (default: the source's
    /// where the target can take them, else `ANALYZE`), in the sync's
    /// transaction.
    pub statistics: Statistics,
    /// Replace every synced object and copy every table, as before
    /// incremental sync (`--full`). By default only what differs is
    /// written: unchanged tables are kept, differing rows of keyed tables
    /// are applied as a delta, and only objects whose definition changed
    /// are dropped and created again.
    pub full: bool,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            filters: Filters::default(),
            verify: VerifyMode::Counts,
            terminate: true,
            lock_timeout: DEFAULT_SYNC_LOCK_TIMEOUT,
            keep_archive: None,
            keep_owners: false,
            allow_downgrade: false,
            deadline: None,
            statistics: Statistics::Auto,
            full: false,
            progress: None,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// Tables copied.
    pub tables: usize,
    /// Rows copied.
    pub rows: u64,
    /// COPY bytes moved.
    pub bytes: u64,
    /// Sessions terminated on the target.
    pub terminated_sessions: i64,
    /// Schemas that exist only on the target (left alone).
    pub target_only_schemas: Vec<String>,
    /// Excluded tables kept as they were on the target.
    pub kept_tables: Vec<String>,
    /// Objects the target owns outside the synced schemas that depended on
    /// replaced objects and were recreated over the new ones.
    pub recreated: Vec<String>,
    /// The source snapshot's time (RFC 3339): the replica's data is as of this instant.
    pub source_snapshot_at: String,
    /// Roles created on the target (`--roles`).
    pub roles_created: Vec<String>,
    /// Login roles created without a password (no `--role-passwords`).
    pub roles_without_password: Vec<String>,
    /// `pgferry.sync_history` row id.
    pub history_id: i64,
    /// Whether the whole synced schema was replaced (`--full`, or an
    /// incremental sync that fell back; see `fallback`).
    pub full: bool,
    /// Why an incremental sync replaced everything instead (`None` when it
    /// did not, or with `--full`).
    pub fallback: Option<String>,
    /// What was done to each synced table, in restore order.
    pub table_actions: Vec<TableSync>,
    /// Verification result (`None` with `VerifyMode::None`).
    pub verification: Option<VerifyReport>,
}

/// Replaces the target's copy of the source's schemas with the source's
/// current state, in one target transaction; see DESIGN.md §4.
///
/// ```no_run
/// # async fn f() -> Result<(), pgferry_engine::Error> {
/// use pgferry_engine::{sync, ConnSpec, SyncOptions};
/// let primary = ConnSpec::parse("host=db1 dbname=app user=app").unwrap();
/// let replica = ConnSpec::parse("host=db2 dbname=app user=app").unwrap();
/// let report = sync(&primary, &replica, &SyncOptions::default()).await?;
/// assert!(report.verification.map_or(true, |v| v.is_identical()));
/// # Ok(()) }
/// ```
pub async fn sync(
    source: &ConnSpec,
    target: &ConnSpec,
    opts: &SyncOptions,
) -> Result<SyncReport, Error> {
    let started = history::now_epoch();
    let phase = Phase::new("connecting");
    let tgt = connect_writer(target).await?;
    let src = connect(source, Side::Source).await?;
    if setup(Side::Source, "identifying the servers", async {
        Ok::<_, Error>(
            probe::database_identity(&src).await?
                == probe::database_identity(&tgt)
                    .await
                    .map_err(|e| Error::catalog_on(Side::Target, e))?,
        )
    })
    .await?
    {
        return Err(Error::Usage(format!(
            "the source and the target are the same database ({source}); a sync would replace it with itself"
        )));
    }
    let tgt_peer = Peer::start(target, Side::Target, &phase).await?;
    tgt_peer.watch_backend(&tgt).await;
    let src_peer = Peer::start(source, Side::Source, &phase).await?;
    src_peer.watch_backend(&src).await;
    let peers = [&src_peer, &tgt_peer];
    let clients = [(Side::Target, &tgt), (Side::Source, &src)];
    phase.set("taking the sync lock on the target");
    let locked = watched(&peers, &clients, &phase, async {
        let locked = sync_lock::try_lock(&tgt).await?;
        if locked {
            history::ensure_history(&tgt).await?;
        }
        Ok(locked)
    })
    .await?;
    if !locked {
        return Err(Error::Locked {
            target: target.to_string(),
            holder: sync_lock::holder(&tgt).await,
        });
    }
    let mut record = Record {
        started_at_epoch: started,
        source: source.to_string(),
        outcome: "failed",
        ..Default::default()
    };
    let keep = [tgt_peer.probe_pid()];
    let run = watched(
        &peers,
        &clients,
        &phase,
        sync_locked(&src, &tgt, opts, &mut record, &phase, &keep),
    );
    let result = match opts.deadline {
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(r) => r,
            Err(_) => Err(Error::Deadline {
                seconds: limit.as_secs(),
                phase: phase.get(),
            }),
        },
        None => run.await,
    };
    let unlock = || sync_lock::unlock(&tgt);
    match result {
        Ok(committed) => {
            let out = finish_committed(&src, &tgt, &peers, &phase, opts, committed).await;
            unlock().await;
            Ok(out)
        }
        Err(e) => {
            // The transaction is rolled back (by the server, when the
            // connection is gone); a source COPY still running is cancelled.
            // Nothing waits on a side found dead.
            let lost = lost_side(&e);
            if lost != Some(Side::Source) && !src.is_closed() {
                bounded(src.cancel_token().cancel_query(tokio_postgres::NoTls)).await;
            }
            record.outcome = "failed";
            record.error = Some(e.to_string());
            let mut recorded = false;
            if lost != Some(Side::Target) && !tgt.is_closed() {
                // A statement still running (an index build past the
                // deadline) is cancelled first, so the ROLLBACK and the
                // unlock do not queue behind it.
                if matches!(e, Error::Deadline { .. } | Error::PeerLost { .. }) {
                    bounded(tgt.cancel_token().cancel_query(tokio_postgres::NoTls)).await;
                }
                let _ = bounded(tgt.batch_execute("ROLLBACK")).await;
                recorded = matches!(bounded(history::insert(&tgt, &record)).await, Some(Ok(_)));
            }
            if !recorded {
                history::insert_fresh(target, &record).await;
            }
            if lost == Some(Side::Target) {
                return Err(e);
            }
            unlock().await;
            Err(e)
        }
    }
}

/// Records that a sync was interrupted (signal), on a new connection.
pub async fn record_interrupted(source: &ConnSpec, target: &ConnSpec, reason: &str) {
    let record = Record {
        started_at_epoch: history::now_epoch(),
        source: source.to_string(),
        outcome: "failed",
        error: Some(reason.to_string()),
        ..Default::default()
    };
    history::insert_fresh(target, &record).await;
}

/// What a committed sync hands to its verification.
struct Committed {
    out: SyncReport,
    catalog: Catalog,
    source_rows: Vec<(QName, u64)>,
    /// `--keep-archive`, finished after the commit, outside the deadline.
    archive: Option<ArchiveFile>,
    /// The tables an incremental sync wrote (`None`: all were).
    written: Option<HashSet<String>>,
}

/// Verifies a committed sync (the source still in the sync's snapshot) and
/// records the result. The sync is committed: a verification that cannot
/// run (a side lost meanwhile) is reported, not a failed sync.
async fn finish_committed(
    src: &Client,
    tgt: &Client,
    peers: &[&Peer],
    phase: &Phase,
    opts: &SyncOptions,
    c: Committed,
) -> SyncReport {
    let Committed {
        mut out,
        catalog,
        source_rows,
        archive,
        written,
    } = c;
    if let Some(a) = archive {
        if let Err(e) = a.finish().await {
            tracing::warn!(error = %e, "the sync committed but the archive copy could not be written");
        }
    }
    let id = out.history_id;
    if opts.verify != VerifyMode::None {
        phase.set("verifying (after commit)");
        let clients = [(Side::Target, tgt), (Side::Source, src)];
        let verified = watched(
            peers,
            &clients,
            phase,
            verify_after_sync(
                src,
                tgt,
                &catalog,
                &source_rows,
                opts.verify,
                written.as_ref(),
            ),
        )
        .await;
        match verified {
            Ok(v) => {
                let outcome = if v.is_identical() {
                    "success"
                } else {
                    "verify_failed"
                };
                let summary = if v.is_identical() {
                    format!(
                        "{}: {} tables identical",
                        opts.verify.as_str(),
                        v.tables_checked
                    )
                } else {
                    format!(
                        "{}: {} of {} tables differ: {}",
                        opts.verify.as_str(),
                        v.differences.len(),
                        v.tables_checked,
                        v.differences
                            .iter()
                            .map(|d| d.table.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                match bounded(history::set_verify(tgt, id, outcome, &summary)).await {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "could not record the verification result")
                    }
                    None => tracing::warn!("could not record the verification result: no answer"),
                }
                out.verification = Some(v);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the sync committed but could not be verified");
                let _ = bounded(history::set_verify(
                    tgt,
                    id,
                    "success",
                    &format!("{}: not run: {e}", opts.verify.as_str()),
                ))
                .await;
            }
        }
    }
    let _ = bounded(src.batch_execute("COMMIT")).await;
    out
}

async fn sync_locked(
    src: &Client,
    tgt: &Client,
    opts: &SyncOptions,
    record: &mut Record,
    phase: &Phase,
    keep_sessions: &[i32],
) -> Result<Committed, Error> {
    phase.set("reading the server versions");
    let (src_num, src_version) = probe::server_version(src).await?;
    let (tgt_num, tgt_version) = probe::server_version(tgt)
        .await
        .map_err(|e| Error::catalog_on(Side::Target, e))?;
    record.source_version = Some(src_version);
    record.target_version = Some(tgt_version);
    // Refused before the source catalog is read (the session checks again
    // with the objects).
    check_version(src_num, tgt_num, opts.allow_downgrade, Origin::Source)?;
    phase.set("reading the source catalog");
    let mut filters = opts.filters.clone();
    filters.no_statistics |= !opts.statistics.copies();
    let catalog = begin_snapshot(src, &filters, opts.lock_timeout).await?;
    record.source_point = versions::point(src, Side::Source, src_num).await?;
    // An older target (--allow-downgrade): refuse what it cannot express
    // before anything else is asked of the target.
    check_downgrade(&catalog.objects, src_num, tgt_num, Origin::Source)?;
    Error::check_supported(&catalog, &catalog.objects)?;
    let snapshot_at: String = src
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[],
        )
        .await
        .map_err(|e| Error::on_source("reading the snapshot time", e))?
        .get(0);
    record.source_snapshot_at = Some(snapshot_at.clone());
    // The source's change counters: recorded with this sync's tables, and
    // against the last sync's, a hint of what changed (never a reason to
    // keep a table).
    let counters = rows::change_counters(src).await?;
    record.counters = counters.iter().map(|(t, n)| (t.to_string(), *n)).collect();
    report(
        &opts.progress,
        Progress::CatalogRead {
            objects: catalog.objects.len(),
            tables: catalog
                .objects
                .iter()
                .filter(|o| matches!(o.kind, Kind::TableData { .. }))
                .count(),
        },
    );
    let compiled = compile_on(tgt, &opts.filters, Side::Target).await?;
    phase.set("checking the target role's rights");
    let replaced = schemas_of(&catalog.objects);
    let plan = Plan {
        objects: &catalog.objects,
        origin: Origin::Source,
        source_version_num: src_num,
        target_version_num: Some(tgt_num),
        allow_downgrade: opts.allow_downgrade,
        replaced: &replaced,
        filters: &opts.filters,
        keep_owners: opts.keep_owners,
        statistics: opts.statistics,
        omit: Default::default(),
        one_transaction: true,
    };
    let session = TargetSession::prepare(tgt, &plan).await?;
    phase.set("starting the target transaction");
    session
        .begin(
            tgt,
            Some(opts.lock_timeout),
            "starting the sync transaction on the target",
        )
        .await?;
    // Before anything is compared: what the next sync's row versions are
    // measured against.
    record.target_point = versions::point(tgt, Side::Target, tgt_num).await?;
    let mut out = SyncReport {
        source_snapshot_at: snapshot_at,
        roles_created: session.roles.created.clone(),
        roles_without_password: session.roles.without_password.clone(),
        ..Default::default()
    };
    let synced_schemas: HashSet<String> = replaced.iter().cloned().collect();
    out.target_only_schemas = target_only_schemas(tgt, &synced_schemas).await?;
    for s in &out.target_only_schemas {
        tracing::info!(schema = %s, "schema exists only on the target; left alone");
    }
    if !opts.full && opts.keep_archive.is_none() {
        phase.set("comparing the source and the target");
        let previous = history::previous_counters(tgt, &record.source).await?;
        let hints = counters
            .iter()
            .filter_map(|(t, now)| {
                let before = previous.get(&t.to_string())?;
                (now >= before).then(|| {
                    (
                        t.clone(),
                        Hint {
                            changed: now - before,
                        },
                    )
                })
            })
            .collect();
        let now = (record.source_point.as_ref(), record.target_point.as_ref());
        let baseline = versions::baseline(tgt, &record.source, now).await?;
        let inputs = incremental::Inputs {
            src,
            tgt,
            hints: &hints,
            baseline: baseline.as_ref(),
            catalog: &catalog,
            session: &session,
            filters: &opts.filters,
            source_version: src_num,
            target_version: tgt_num,
            terminate: opts.terminate,
            keep_sessions,
            progress: &opts.progress,
            phase,
        };
        match incremental::run(&inputs).await? {
            Ok(done) => {
                out.tables = done.tables.len();
                out.rows = done.rows_written;
                out.bytes = done.bytes;
                out.terminated_sessions = done.terminated;
                out.table_actions = done.tables;
                record.mode = Some("incremental");
                record.writer_xid = done.writer_xid;
                let written = out
                    .table_actions
                    .iter()
                    .filter(|t| t.action != TableAction::Kept)
                    .map(|t| t.table.clone())
                    .collect();
                return commit(
                    tgt,
                    opts,
                    record,
                    out,
                    catalog,
                    done.source_rows,
                    None,
                    Some(written),
                )
                .await;
            }
            Err(reason) => {
                tracing::info!(%reason, "the incremental sync cannot express this difference; replacing every synced object");
                out.fallback = Some(reason);
            }
        }
    }
    out.full = true;
    record.mode = Some("full");
    if opts.terminate {
        phase.set("terminating other sessions on the target");
        out.terminated_sessions = session
            .rights
            .terminate_sessions(tgt, keep_sessions, None)
            .await?;
    }
    phase.set("finding target-owned objects that depend on replaced ones");
    let kept = excluded_tables(tgt, &synced_schemas, &compiled).await?;
    out.kept_tables = kept.iter().map(|k| k.name.to_string()).collect();
    let mut destructive = hold_statements(&kept);
    destructive.extend(clean_statements(&catalog.objects));
    let kept_names: Vec<(String, String)> = kept
        .iter()
        .map(|k| (k.name.schema.clone(), k.name.name.clone()))
        .collect();
    let carried = session
        .dependents(tgt, &plan, &kept_names, &destructive)
        .await?;
    phase.set("replacing the synced schemas on the target");
    session.replace(tgt, "sync", &destructive).await?;
    for k in &kept {
        tracing::info!(table = %k.name, "excluded table kept as it is on the target");
    }
    let archive = match &opts.keep_archive {
        Some(path) => Some(ArchiveFile::start(path, &catalog)?),
        None => None,
    };
    let mut feed = LiveFeed::new(
        src,
        phase.clone(),
        archive.as_ref().map(ArchiveFile::sender),
    );
    let applied = apply_objects(
        tgt,
        &catalog.objects,
        &session.render,
        &mut feed,
        &opts.progress,
        phase,
    )
    .await?;
    let source_rows = std::mem::take(&mut feed.source_rows);
    drop(feed);
    phase.set("putting back excluded tables");
    restore_held_tables(tgt, &kept).await?;
    phase.set("recreating target-owned objects over replaced ones");
    carried.recreate(tgt).await?;
    check_held_tables(tgt, &kept).await?;
    out.recreated = carried.names();
    out.tables = applied.tables.len();
    out.rows = applied.rows;
    out.bytes = applied.bytes;
    out.table_actions = applied
        .tables
        .iter()
        .map(|(t, rows, bytes)| TableSync {
            table: t.to_string(),
            action: TableAction::Rebuilt,
            rows_written: *rows,
            rows_deleted: 0,
            bytes: *bytes,
            by_row_versions: false,
        })
        .collect();
    commit(tgt, opts, record, out, catalog, source_rows, archive, None).await
}

/// Records the sync (its row and its tables) and commits it; `written`:
/// the tables an incremental sync wrote (the others were compared in full
/// already), `None` after a full one.
#[allow(clippy::too_many_arguments)]
async fn commit(
    tgt: &Client,
    opts: &SyncOptions,
    record: &mut Record,
    mut out: SyncReport,
    catalog: Catalog,
    source_rows: Vec<(QName, u64)>,
    archive: Option<ArchiveFile>,
    written: Option<HashSet<String>>,
) -> Result<Committed, Error> {
    record.tables = out.tables as i32;
    record.rows = out.rows as i64;
    record.bytes = out.bytes as i64;
    record.outcome = "success";
    record.verify = Some(opts.verify.as_str().to_string());
    let id = history::insert(tgt, record).await?;
    let rows: std::collections::HashMap<String, i64> = source_rows
        .iter()
        .map(|(t, n)| (t.to_string(), *n as i64))
        .collect();
    history::insert_tables(tgt, id, &out.table_actions, &record.counters, &rows).await?;
    out.history_id = id;
    tgt.batch_execute("COMMIT")
        .await
        .map_err(|e| Error::on_target("committing the sync on the target", e))?;
    report(&opts.progress, Progress::Finished);
    Ok(Committed {
        out,
        catalog,
        source_rows,
        archive,
        written,
    })
}

/// Checks a committed sync: counts against the rows just copied, or
/// checksums computed on both sides (the source still in the sync's snapshot).
async fn verify_after_sync(
    src: &Client,
    tgt: &Client,
    catalog: &Catalog,
    source_rows: &[(QName, u64)],
    mode: VerifyMode,
    written: Option<&HashSet<String>>,
) -> Result<VerifyReport, Error> {
    for (side, c) in [(Side::Source, src), (Side::Target, tgt)] {
        c.batch_execute(STABLE_OUTPUT)
            .await
            .map_err(|e| Error::statement(side, "verify settings", e))?;
    }
    let rls = ForcedRls::read(tgt, false).await?;
    let source = match mode {
        VerifyMode::Checksums => SourceRows::Query(src),
        _ => SourceRows::Copied(source_rows),
    };
    // Counting after an incremental sync checks the tables it wrote: the
    // others were found identical by content inside its transaction.
    let (tables_checked, differences) =
        compare_tables(source, tgt, &catalog.objects, mode, &rls, |r| {
            mode == VerifyMode::Counts && written.is_some_and(|w| !w.contains(&r.table.to_string()))
        })
        .await?;
    Ok(VerifyReport {
        tables_checked,
        differences,
        ..Default::default()
    })
}

/// The target's schemas the sync does not replace (left alone, reported).
async fn target_only_schemas(tgt: &Client, synced: &HashSet<String>) -> Result<Vec<String>, Error> {
    if synced.is_empty() {
        return Ok(Vec::new());
    }
    Ok(probe::user_schemas(tgt)
        .await
        .map_err(|e| Error::catalog_on(Side::Target, e))?
        .into_iter()
        .filter(|s| !synced.contains(s))
        .collect())
}
