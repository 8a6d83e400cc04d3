//! `sync`: primary → replica in one command. The source's COPY output
//! streams straight into the target's COPY input; every change to the target
//! happens in one transaction, recorded in `pgferry.sync_history`.
use std::collections::HashSet;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures::{FutureExt, SinkExt, StreamExt};
use pgferry_catalog::{quote_ident, Catalog, CopyFormat, Kind, Object, QName, Statistics};
use pgferry_format::CopyRowCounter;
use tokio::sync::mpsc;
use tokio_postgres::{Client, CopyInSink};

use crate::apply::{apply_objects, TableFeed};
use crate::conn::ConnSpec;
use crate::connect::connect;
use crate::dump::{
    begin_snapshot, copy_out_sql, spawn_archive_writer, AtomicFile, Msg, DEFAULT_LEVEL,
};
use crate::error::Error;
use crate::filter::{CompiledFilters, Filters};
use crate::history::{self, Record};
use crate::progress::{report, Progress, ProgressFn};
use crate::restore::{check_downgrade, clean_statements, object_failed, RESTORE_SETTINGS};
use crate::target::{connect_writer, Rights};
use crate::verify::{
    fingerprint, ForcedRls, Rows, TableDiff, VerifyMode, VerifyReport, STABLE_OUTPUT,
};
use crate::watch::{bounded, lost_side, setup, watched, Blocked, Peer, Phase};

/// Bytes gathered from the source's COPY before they are written to the target.
const BATCH: usize = 1 << 20;
/// Batches queued between the source reader and the target writer.
const RELAY_DEPTH: usize = 4;

/// Advisory lock key taken on the target for the whole sync ("pgferry" in ASCII).
pub const SYNC_LOCK_KEY: i64 = 0x0070_6766_6572_7279;

/// Options of [`sync`].
#[derive(Clone)]
pub struct SyncOptions {
    /// pg_dump-style filters; excluded tables that exist on the target survive unchanged.
    pub filters: Filters,
    /// Check after commit.
    pub verify: VerifyMode,
    /// Terminate other sessions on the target database (default); else wait for their locks.
    pub terminate: bool,
    /// How long to wait for locks on either side.
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
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            filters: Filters::default(),
            verify: VerifyMode::Counts,
            terminate: true,
            lock_timeout: Duration::from_secs(30),
            keep_archive: None,
            keep_owners: false,
            allow_downgrade: false,
            deadline: None,
            statistics: Statistics::Auto,
            progress: None,
        }
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("filters", &self.filters)
            .field("verify", &self.verify)
            .field("terminate", &self.terminate)
            .field("lock_timeout", &self.lock_timeout)
            .field("keep_archive", &self.keep_archive)
            .field("keep_owners", &self.keep_owners)
            .field("allow_downgrade", &self.allow_downgrade)
            .field("deadline", &self.deadline)
            .field("statistics", &self.statistics)
            .finish()
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
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let phase = Phase::new("connecting");
    let tgt = connect_writer(target).await?;
    let src = connect(source, "source").await?;
    if setup(
        "source",
        "identifying the servers",
        same_database(&src, &tgt),
    )
    .await?
    {
        return Err(Error::Usage(format!(
            "the source and the target are the same database ({source}); a sync would replace it with itself"
        )));
    }
    let tgt_peer = Peer::start(target, "target", &phase).await?;
    tgt_peer.watch_backend(&tgt).await;
    let src_peer = Peer::start(source, "source", &phase).await?;
    src_peer.watch_backend(&src).await;
    let peers = [&src_peer, &tgt_peer];
    let clients = [("target", &tgt), ("source", &src)];
    phase.set("taking the sync lock on the target");
    let locked = watched(&peers, &clients, &phase, async {
        let locked: bool = tgt
            .query_one(
                "SELECT pg_catalog.pg_try_advisory_lock($1)",
                &[&SYNC_LOCK_KEY],
            )
            .await
            .map_err(|e| Error::source_stmt("taking the sync lock on the target", &e))?
            .get(0);
        if locked {
            history::ensure_history(&tgt).await?;
        }
        Ok(locked)
    })
    .await?;
    if !locked {
        return Err(Error::Locked {
            target: target.to_string(),
            holder: lock_holder(&tgt).await,
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
    let unlock = || async {
        bounded(tgt.execute(
            "SELECT pg_catalog.pg_advisory_unlock($1)",
            &[&SYNC_LOCK_KEY],
        ))
        .await;
    };
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
            if lost != Some("source") && !src.is_closed() {
                bounded(src.cancel_token().cancel_query(tokio_postgres::NoTls)).await;
            }
            record.outcome = "failed";
            record.error = Some(e.to_string());
            let mut recorded = false;
            if lost != Some("target") && !tgt.is_closed() {
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
                record_failure_fresh(target, &record).await;
            }
            if lost == Some("target") {
                return Err(e);
            }
            unlock().await;
            Err(e)
        }
    }
}

/// Who holds the sync lock, for the error: pid, state and for how long (a
/// session abandoned behind a frozen network shows as idle in transaction).
async fn lock_holder(tgt: &Client) -> String {
    let row = bounded(tgt.query_opt(
        "SELECT format(' (pid %s, %s %s, %s for %s s)', a.pid, COALESCE(a.application_name, ''), \
                COALESCE(host(a.client_addr), 'local'), COALESCE(a.state, '?'), \
                COALESCE(round(extract(epoch FROM now() - a.state_change))::text, '?')) \
         FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database \
           WHERE datname = pg_catalog.current_database()) \
           AND ((l.classid::int8 << 32) | l.objid::int8) = $1 LIMIT 1",
        &[&SYNC_LOCK_KEY],
    ))
    .await;
    match row {
        Some(Ok(Some(r))) => r.try_get::<_, String>(0).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Records a failure on a new connection (the sync's own may be gone).
async fn record_failure_fresh(target: &ConnSpec, record: &Record) {
    bounded(async {
        if let Ok(c) = connect_writer(target).await {
            let _ = history::insert(&c, record).await;
        }
    })
    .await;
}

/// Records that a sync was interrupted (signal), on a new connection.
pub async fn record_interrupted(source: &ConnSpec, target: &ConnSpec, reason: &str) {
    let record = Record {
        started_at_epoch: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
        source: source.to_string(),
        outcome: "failed",
        error: Some(reason.to_string()),
        ..Default::default()
    };
    record_failure_fresh(target, &record).await;
}

fn major(version_num: i32) -> i32 {
    version_num / 10000
}

/// Server start time, port and database: equal on both sides means one database.
async fn database_identity(c: &Client) -> Result<String, Error> {
    c.query_one(
        "SELECT pg_catalog.pg_postmaster_start_time()::text || '/' || \
         pg_catalog.current_setting('port') || '/' || pg_catalog.current_database()",
        &[],
    )
    .await
    .map(|r| r.get::<_, String>(0))
    .map_err(|e| Error::source_stmt("identifying the server", &e))
}

/// The same server and database on both sides?
async fn same_database(a: &Client, b: &Client) -> Result<bool, Error> {
    Ok(database_identity(a).await? == database_identity(b).await?)
}

async fn server_version_num(c: &Client) -> Result<(i32, String), Error> {
    let row = c
        .query_one(
            "SELECT current_setting('server_version_num')::int4, current_setting('server_version')",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("reading the server version", &e))?;
    Ok((row.get(0), row.get(1)))
}

/// What a committed sync hands to its verification.
struct Committed {
    out: SyncReport,
    catalog: Catalog,
    source_rows: Vec<(QName, u64)>,
    /// `--keep-archive`, finished after the commit, outside the deadline.
    archive: Option<KeptArchive>,
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
    } = c;
    if let Some(a) = archive {
        if let Err(e) = a.finish().await {
            tracing::warn!(error = %e, "the sync committed but the archive copy could not be written");
        }
    }
    let id = out.history_id;
    if opts.verify != VerifyMode::None {
        phase.set("verifying (after commit)");
        let clients = [("target", tgt), ("source", src)];
        let verified = watched(
            peers,
            &clients,
            phase,
            verify_after_sync(src, tgt, &catalog, &source_rows, opts.verify),
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
    let (src_num, src_version) = server_version_num(src).await?;
    let (tgt_num, tgt_version) = server_version_num(tgt).await?;

    record.source_version = Some(src_version.clone());
    record.target_version = Some(tgt_version.clone());
    if major(tgt_num) < major(src_num) && !opts.allow_downgrade {
        return Err(Error::Version(format!(
            "the target runs PostgreSQL {} but the source runs {}: a sync to an older server needs --allow-downgrade",
            major(tgt_num),
            major(src_num)
        )));
    }
    phase.set("reading the source catalog");
    let mut filters = opts.filters.clone();
    filters.no_statistics |= !opts.statistics.copies();
    let catalog = begin_snapshot(src, &filters, opts.lock_timeout).await?;
    // An older target (--allow-downgrade): refuse what it cannot express
    // before the target transaction starts.
    check_downgrade(&catalog.objects, src_num, tgt_num, "the source runs")?;
    Error::check_supported(&catalog, &catalog.objects)?;
    let snapshot_at: String = src
        .query_one(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("reading the snapshot time", &e))?
        .get(0);
    record.source_snapshot_at = Some(snapshot_at.clone());
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
    let compiled = opts.filters.compile()?;
    phase.set("checking the target role's rights");
    let dropped: Vec<String> = catalog
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Schema))
        .map(|o| o.name.clone())
        .collect();
    let (rights, render, roles) = Rights::prepare(
        tgt,
        &catalog.objects,
        &dropped,
        &opts.filters,
        opts.keep_owners,
        tgt_num,
        opts.statistics,
    )
    .await?;
    crate::locks::check_lock_budget(tgt, &catalog.objects, &dropped).await?;
    phase.set("starting the target transaction");
    tgt.batch_execute(&format!(
        "BEGIN READ WRITE; {RESTORE_SETTINGS}; SET LOCAL lock_timeout = {}",
        opts.lock_timeout.as_millis()
    ))
    .await
    .map_err(|e| Error::source_stmt("starting the sync transaction on the target", &e))?;
    let mut out = SyncReport {
        source_snapshot_at: snapshot_at,
        roles_created: roles.created,
        roles_without_password: roles.without_password,
        ..Default::default()
    };
    if opts.terminate {
        phase.set("terminating other sessions on the target");
        out.terminated_sessions = rights.terminate_sessions(tgt, keep_sessions).await?;
    }
    let synced_schemas: HashSet<String> = dropped.iter().cloned().collect();
    out.target_only_schemas = target_only_schemas(tgt, &synced_schemas).await?;
    for s in &out.target_only_schemas {
        tracing::info!(schema = %s, "schema exists only on the target; left alone");
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
    let carried = crate::dependents::find(
        tgt,
        &dropped,
        &kept_names,
        &destructive,
        &catalog.objects,
        &rights,
    )
    .await?;
    phase.set("replacing the synced schemas on the target");
    for stmt in &destructive {
        tgt.batch_execute(stmt)
            .await
            .map_err(|e| Error::source_stmt(format!("sync: {stmt}"), &e))?;
    }
    for k in &kept {
        tracing::info!(table = %k.name, "excluded table kept as it is on the target");
    }
    let archive = match &opts.keep_archive {
        Some(path) => Some(KeptArchive::start(path, &catalog)?),
        None => None,
    };
    let mut feed = LiveFeed {
        src,
        phase: phase.clone(),
        archive: archive.as_ref().map(|a| a.tx.clone()),
        source_rows: Vec::new(),
    };
    let applied = apply_objects(
        tgt,
        &catalog.objects,
        &render,
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
    record.tables = out.tables as i32;
    record.rows = out.rows as i64;
    record.bytes = out.bytes as i64;
    record.outcome = "success";
    record.verify = Some(opts.verify.as_str().to_string());
    phase.set("committing on the target");
    let id = history::insert(tgt, record).await?;
    out.history_id = id;
    tgt.batch_execute("COMMIT")
        .await
        .map_err(|e| Error::source_stmt("committing the sync on the target", &e))?;
    report(&opts.progress, Progress::Finished);
    Ok(Committed {
        out,
        catalog,
        source_rows,
        archive,
    })
}

async fn verify_after_sync(
    src: &Client,
    tgt: &Client,
    catalog: &Catalog,
    source_rows: &[(QName, u64)],
    mode: VerifyMode,
) -> Result<VerifyReport, Error> {
    for c in [src, tgt] {
        c.batch_execute(STABLE_OUTPUT)
            .await
            .map_err(|e| Error::source_stmt("verify settings", &e))?;
    }
    let rls = ForcedRls::read(tgt, false).await?;
    let none = ForcedRls::none();
    let mut v = VerifyReport::default();
    for o in &catalog.objects {
        let Some(rows) = Rows::of(o) else {
            continue;
        };
        let table = rows.table;
        let (a, b) = match mode {
            VerifyMode::Checksums => (
                fingerprint(src, rows, true, &none).await?,
                fingerprint(tgt, rows, true, &rls).await?,
            ),
            _ => {
                let copied = source_rows
                    .iter()
                    .find(|(t, _)| t == table)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                (
                    format!("{copied} rows"),
                    fingerprint(tgt, rows, false, &rls).await?,
                )
            }
        };
        v.tables_checked += 1;
        if a != b {
            v.differences.push(TableDiff {
                table: table.to_string(),
                source: a,
                target: b,
            });
        }
    }
    Ok(v)
}

async fn target_only_schemas(tgt: &Client, synced: &HashSet<String>) -> Result<Vec<String>, Error> {
    if synced.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tgt
        .query(
            "SELECT nspname::text FROM pg_catalog.pg_namespace n WHERE nspname NOT IN ('pg_catalog', \
             'information_schema', 'pgferry') AND nspname !~ '^pg_(toast|temp_)' AND nspname !~ '^pgferry_hold_' \
             ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("listing the target's schemas", &e))?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|s| !synced.contains(s))
        .collect())
}

/// An excluded table moved aside while its schema is replaced.
struct Held {
    name: QName,
    hold_schema: String,
    shape: String,
}

/// Columns, defaults, constraints and indexes of a table, to prove it came back unchanged.
async fn table_shape(tgt: &Client, schema: &str, name: &str) -> Result<String, Error> {
    let row = tgt
        .query_one(
            "SELECT (SELECT string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) || ' ' || \
                     COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum) \
                     FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) || ' | ' || \
                    (SELECT count(*) FROM pg_catalog.pg_constraint WHERE conrelid = c.oid) || ' constraints | ' || \
                    (SELECT count(*) FROM pg_catalog.pg_index WHERE indrelid = c.oid) || ' indexes' \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .await
        .map_err(|e| Error::source_stmt(format!("inspecting kept table {schema}.{name}"), &e))?;
    Ok(row.get::<_, Option<String>>(0).unwrap_or_default())
}

/// Tables the filters exclude in schemas about to be replaced: they are
/// moved into holding schemas while their schema is replaced, then back.
async fn excluded_tables(
    tgt: &Client,
    synced: &HashSet<String>,
    filters: &CompiledFilters,
) -> Result<Vec<Held>, Error> {
    if synced.is_empty() || filters.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tgt
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("listing the target's tables", &e))?;
    let mut held = Vec::new();
    for r in rows {
        let (schema, name): (String, String) = (r.get(0), r.get(1));
        if !synced.contains(&schema) || filters.table_included(&schema, &name) {
            continue;
        }
        let hold_schema = format!("pgferry_hold_{}", held.len());
        let shape = table_shape(tgt, &schema, &name).await?;
        held.push(Held {
            name: QName { schema, name },
            hold_schema,
            shape,
        });
    }
    Ok(held)
}

/// Moves the kept tables into their holding schemas.
fn hold_statements(held: &[Held]) -> Vec<String> {
    held.iter()
        .map(|h| {
            format!(
                "CREATE SCHEMA {hs}; ALTER TABLE {t} SET SCHEMA {hs}",
                hs = quote_ident(&h.hold_schema),
                t = h.name.sql()
            )
        })
        .collect()
}

async fn restore_held_tables(tgt: &Client, held: &[Held]) -> Result<(), Error> {
    for h in held {
        let hs = quote_ident(&h.hold_schema);
        tgt.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s}; ALTER TABLE {hs}.{t} SET SCHEMA {s}; DROP SCHEMA {hs}",
            s = quote_ident(&h.name.schema),
            t = quote_ident(&h.name.name)
        ))
        .await
        .map_err(|e| Error::source_stmt(format!("putting back excluded table {}", h.name), &e))?;
    }
    Ok(())
}

/// Proves every kept table came back unchanged (after its foreign keys,
/// defaults and triggers over replaced objects were recreated).
async fn check_held_tables(tgt: &Client, held: &[Held]) -> Result<(), Error> {
    for h in held {
        let shape = table_shape(tgt, &h.name.schema, &h.name.name).await?;
        if shape != h.shape {
            return Err(Error::Source {
                what: format!("keeping excluded table {}", h.name),
                message: format!(
                    "it depends on objects the sync replaces and would change ({} became {}); exclude those objects too, or include the table",
                    h.shape, shape
                ),
                sqlstate: None,
            });
        }
    }
    Ok(())
}

/// Table data straight from the source's COPY, optionally teed into an archive.
struct LiveFeed<'a> {
    src: &'a Client,
    phase: Phase,
    archive: Option<mpsc::Sender<Msg>>,
    source_rows: Vec<(QName, u64)>,
}

impl TableFeed for LiveFeed<'_> {
    async fn feed(
        &mut self,
        o: &Object,
        mut sink: Pin<&mut CopyInSink<Bytes>>,
        progress: &Option<ProgressFn>,
    ) -> Result<u64, Error> {
        let (table, sql, format) = match &o.kind {
            Kind::TableData {
                table,
                columns,
                format,
                casts,
                filter,
                ..
            } => (
                table.clone(),
                copy_out_sql(table, columns, *format, casts, filter.as_deref()),
                *format,
            ),
            Kind::LargeObjects { .. } => (
                QName {
                    schema: "pg_catalog".into(),
                    name: "pg_largeobject".into(),
                },
                pgferry_catalog::LARGE_OBJECTS_COPY_OUT.to_string(),
                CopyFormat::Binary,
            ),
            _ => return Ok(0),
        };
        let table = &table;
        let fail = |message: String| Error::DumpData {
            table: table.to_string(),
            message,
        };
        let stream = self
            .src
            .copy_out(&sql)
            .await
            .map_err(|e| fail(pgferry_catalog::server_message(&e)))?;
        futures::pin_mut!(stream);
        let mut counter = match format {
            CopyFormat::Binary => CopyRowCounter::binary(),
            CopyFormat::Text => CopyRowCounter::text(),
        };
        let mut bytes = 0u64;
        // The server sends one CopyData message per row: batch them so the
        // target gets large writes (and the archive large frames). Reading
        // and writing run concurrently through a small bounded queue, so the
        // source keeps producing while the target is busy with a batch.
        let (tx, mut rx) = mpsc::channel::<Bytes>(RELAY_DEPTH);
        let archive = &mut self.archive;
        let counter_ref = &mut counter;
        let phase = &self.phase;
        let bytes_ref = &mut bytes;
        let reader = async move {
            let mut batch = BytesMut::with_capacity(BATCH + 65536);
            loop {
                // Rows usually wait in the buffer already; only a real wait
                // is registered with the source's watch.
                let next = match stream.next().now_or_never() {
                    Some(next) => next,
                    None => {
                        let _blocked = phase.waiting("source", Blocked::Receiving);
                        stream.next().await
                    }
                };
                let done = next.is_none();
                if let Some(chunk) = next {
                    let chunk = chunk.map_err(|e| fail(pgferry_catalog::server_message(&e)))?;
                    counter_ref.feed(&chunk).map_err(fail)?;
                    *bytes_ref += chunk.len() as u64;
                    batch.extend_from_slice(&chunk);
                }
                if batch.len() >= BATCH || (done && !batch.is_empty()) {
                    let frame = batch.split().freeze();
                    report(
                        progress,
                        Progress::Bytes {
                            table: table.to_string(),
                            bytes: frame.len() as u64,
                        },
                    );
                    if let Some(a) = archive.as_ref() {
                        if a.send(Msg::Copy(o.id, format, frame.clone()))
                            .await
                            .is_err()
                        {
                            *archive = None;
                        }
                    }
                    if tx.send(frame).await.is_err() {
                        // The writer stopped; its error is the one reported.
                        break;
                    }
                }
                if done {
                    break;
                }
            }
            Ok::<(), Error>(())
        };
        // The writer owns the receiving end: when it fails, the queue closes
        // and the reader stops at once (try_join drops it).
        let writer = async move {
            while let Some(frame) = rx.recv().await {
                let _blocked = phase.waiting("target", Blocked::Sending);
                sink.feed(frame).await.map_err(|e| object_failed(o, &e))?;
            }
            let _blocked = phase.waiting("target", Blocked::Sending);
            sink.flush().await.map_err(|e| object_failed(o, &e))
        };
        futures::future::try_join(reader, writer).await?;
        if !counter.finished() {
            return Err(fail("COPY stream ended early".into()));
        }
        if let Some(a) = &self.archive {
            let _ = a.send(Msg::End(o.id, counter.rows())).await;
        }
        self.source_rows.push((table.clone(), counter.rows()));
        Ok(bytes)
    }
}

/// The optional archive written alongside a sync (`--keep-archive`).
struct KeptArchive {
    tx: mpsc::Sender<Msg>,
    writer: tokio::task::JoinHandle<Result<u64, std::io::Error>>,
    file: AtomicFile,
}

impl KeptArchive {
    fn start(path: &std::path::Path, catalog: &Catalog) -> Result<Self, Error> {
        let toc = serde_json::to_vec(catalog).map_err(|e| Error::Toc {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let (file, out) = AtomicFile::create(path)?;
        let (tx, writer) = spawn_archive_writer(out, toc, DEFAULT_LEVEL);
        Ok(KeptArchive { tx, writer, file })
    }

    async fn finish(self) -> Result<(), Error> {
        let _ = self.tx.send(Msg::Finish).await;
        drop(self.tx);
        match self.writer.await {
            Ok(Ok(_)) => self.file.commit(),
            Ok(Err(e)) => Err(Error::Io {
                path: "archive".into(),
                source: e,
            }),
            Err(e) => Err(Error::Io {
                path: "archive".into(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}
