//! `pgferry.sync_history` on the target: one row per sync, success or failure.
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::Client;

use crate::compare::versions::{widen, Point};
use crate::conn::ConnSpec;
use crate::error::Error;
use crate::target::session::connect_writer;
use crate::watch::bounded;

/// DDL of the history table (the `pgferry` schema is never synced or dropped).
const HISTORY_DDL: &str =
    "SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS pgferry; \
    CREATE TABLE IF NOT EXISTS pgferry.sync_history ( \
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
      started_at timestamptz NOT NULL, \
      finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(), \
      source_snapshot_at timestamptz, \
      source text NOT NULL, \
      source_version text, \
      target_version text, \
      tables integer NOT NULL DEFAULT 0, \
      rows bigint NOT NULL DEFAULT 0, \
      bytes bigint NOT NULL DEFAULT 0, \
      outcome text NOT NULL CHECK (outcome IN ('success', 'failed', 'verify_failed')), \
      verify text, \
      error text, \
      pgferry_version text NOT NULL); \
    DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute \
      WHERE attrelid = 'pgferry.sync_history'::regclass AND attname = 'mode') THEN \
      ALTER TABLE pgferry.sync_history ADD COLUMN mode text; END IF; END $$; \
    CREATE TABLE IF NOT EXISTS pgferry.sync_history_tables ( \
      history_id bigint NOT NULL REFERENCES pgferry.sync_history (id) ON DELETE CASCADE, \
      table_name text NOT NULL, \
      action text NOT NULL CHECK (action IN ('kept', 'delta', 'replaced', 'rebuilt')), \
      rows_written bigint NOT NULL, \
      rows_deleted bigint NOT NULL, \
      bytes bigint NOT NULL, \
      PRIMARY KEY (history_id, table_name)); \
    DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute \
      WHERE attrelid = 'pgferry.sync_history_tables'::regclass AND attname = 'source_changes') THEN \
      ALTER TABLE pgferry.sync_history_tables ADD COLUMN source_changes bigint; END IF; END $$; \
    DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute \
      WHERE attrelid = 'pgferry.sync_history'::regclass AND attname = 'target_xids') THEN \
      ALTER TABLE pgferry.sync_history ADD COLUMN source_identity text, ADD COLUMN source_xmin bigint, \
        ADD COLUMN target_identity text, ADD COLUMN target_xmin bigint, ADD COLUMN target_xids bigint[]; \
      END IF; END $$; \
    DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute \
      WHERE attrelid = 'pgferry.sync_history_tables'::regclass AND attname = 'by_row_versions') THEN \
      ALTER TABLE pgferry.sync_history_tables ADD COLUMN source_rows bigint, \
        ADD COLUMN by_row_versions boolean; END IF; END $$; \
    CREATE TABLE IF NOT EXISTS pgferry.sync_mark (n integer)";

/// One row of the history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryRow {
    /// Row id.
    pub id: i64,
    /// When the sync started (RFC 3339).
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// When it finished, in seconds since the Unix epoch.
    pub finished_at_epoch: f64,
    /// How long it ran, in seconds.
    pub duration_seconds: f64,
    /// The source snapshot's time: the replica's data is as of this instant.
    pub source_snapshot_at: Option<String>,
    /// The source snapshot's time in seconds since the Unix epoch.
    pub source_snapshot_epoch: Option<f64>,
    /// Seconds between the source snapshot and now (the replica's data age), for successful syncs.
    pub data_age_seconds: Option<f64>,
    /// `user@host:port/db` of the source.
    pub source: String,
    /// Source server version.
    pub source_version: Option<String>,
    /// Target server version.
    pub target_version: Option<String>,
    /// Tables copied.
    pub tables: i32,
    /// Rows copied.
    pub rows: i64,
    /// COPY bytes moved.
    pub bytes: i64,
    /// `success`, `failed` or `verify_failed`.
    pub outcome: String,
    /// Verification mode and result.
    pub verify: Option<String>,
    /// Error message of a failed sync.
    pub error: Option<String>,
    /// `incremental` or `full` (`None`: the sync failed before deciding, or
    /// an older pgferry recorded it).
    pub mode: Option<String>,
}

pub(crate) async fn ensure_history(client: &Client) -> Result<(), Error> {
    client
        .batch_execute(HISTORY_DDL)
        .await
        .map_err(|e| Error::on_target("creating pgferry.sync_history on the target", e))
}

/// Values recorded for one sync.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    pub started_at_epoch: f64,
    pub source_snapshot_at: Option<String>,
    pub source: String,
    pub source_version: Option<String>,
    pub target_version: Option<String>,
    pub tables: i32,
    pub rows: i64,
    pub bytes: i64,
    pub outcome: &'static str,
    pub verify: Option<String>,
    pub error: Option<String>,
    /// `full` or `incremental` (`None` when the sync failed before deciding).
    pub mode: Option<&'static str>,
    /// The source's change counters per table (`schema.name`) when the
    /// sync read them, recorded with its tables.
    pub counters: std::collections::HashMap<String, i64>,
    /// Each side's transaction horizon when the sync began there
    /// ([`crate::compare::versions`]).
    pub source_point: Option<Point>,
    pub target_point: Option<Point>,
    /// The transaction id (32-bit) of the savepoint an incremental sync
    /// wrote under.
    pub writer_xid: Option<u32>,
}

/// Records a sync's row. A successful one also records the row version
/// points the next sync measures against: both sides' horizons and the
/// transaction ids its writes carry (this transaction's, and its
/// savepoint's), when both points were read.
pub(crate) async fn insert(client: &Client, r: &Record) -> Result<i64, Error> {
    let points = match (&r.source_point, &r.target_point) {
        (Some(s), Some(t)) if r.outcome == "success" => {
            let top: i64 = client
                .query_one("SELECT pg_catalog.pg_current_xact_id()::text::int8", &[])
                .await
                .map_err(|e| Error::on_target("reading the sync's transaction id", e))?
                .get(0);
            let mut own = vec![top];
            own.extend(r.writer_xid.map(|x| widen(top, x)));
            Some((s, t, own))
        }
        _ => None,
    };
    let row = client
        .query_one(
            "INSERT INTO pgferry.sync_history (started_at, source_snapshot_at, source, source_version, \
             target_version, tables, rows, bytes, outcome, verify, error, pgferry_version, mode, \
             source_identity, source_xmin, target_identity, target_xmin, target_xids) \
             VALUES (pg_catalog.to_timestamp($1), $2::text::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18) \
             RETURNING id",
            &[
                &r.started_at_epoch,
                &r.source_snapshot_at,
                &r.source,
                &r.source_version,
                &r.target_version,
                &r.tables,
                &r.rows,
                &r.bytes,
                &r.outcome,
                &r.verify,
                &r.error,
                &env!("CARGO_PKG_VERSION"),
                &r.mode,
                &points.as_ref().map(|p| p.0.identity.as_str()),
                &points.as_ref().map(|p| p.0.xmin),
                &points.as_ref().map(|p| p.1.identity.as_str()),
                &points.as_ref().map(|p| p.1.xmin),
                &points.as_ref().map(|p| p.2.clone()),
            ],
        )
        .await
        .map_err(|e| Error::on_target("recording the sync in pgferry.sync_history", e))?;
    Ok(row.get(0))
}

/// Records what a sync did to each table (in its transaction, with its row).
/// `counters`: the source's change counters per table when the sync read
/// them (the next incremental sync compares its own with them); `rows`:
/// the source's rows per table (the next sync's row versions count on them).
pub(crate) async fn insert_tables(
    client: &Client,
    id: i64,
    tables: &[crate::target::actions::TableSync],
    counters: &std::collections::HashMap<String, i64>,
    rows: &std::collections::HashMap<String, i64>,
) -> Result<(), Error> {
    if tables.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
    let changes: Vec<Option<i64>> = tables
        .iter()
        .map(|t| counters.get(&t.table).copied())
        .collect();
    let actions: Vec<&str> = tables.iter().map(|t| t.action.as_str()).collect();
    let written: Vec<i64> = tables.iter().map(|t| t.rows_written as i64).collect();
    let deleted: Vec<i64> = tables.iter().map(|t| t.rows_deleted as i64).collect();
    let bytes: Vec<i64> = tables.iter().map(|t| t.bytes as i64).collect();
    let source_rows: Vec<Option<i64>> =
        tables.iter().map(|t| rows.get(&t.table).copied()).collect();
    let by_versions: Vec<bool> = tables.iter().map(|t| t.by_row_versions).collect();
    client
        .execute(
            "INSERT INTO pgferry.sync_history_tables \
             (history_id, table_name, action, rows_written, rows_deleted, bytes, source_changes, \
              source_rows, by_row_versions) \
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], \
               $8::int8[], $9::bool[])",
            &[&id, &names, &actions, &written, &deleted, &bytes, &changes, &source_rows, &by_versions],
        )
        .await
        .map_err(|e| {
            Error::on_target(
                "recording the synced tables in pgferry.sync_history_tables",
                e,
            )
        })?;
    Ok(())
}

/// The source's change counters per table as the last successful sync
/// from `source` recorded them (empty when none did).
pub(crate) async fn previous_counters(
    client: &Client,
    source: &str,
) -> Result<std::collections::HashMap<String, i64>, Error> {
    let rows = client
        .query(
            "SELECT t.table_name, t.source_changes FROM pgferry.sync_history_tables t \
             WHERE t.source_changes IS NOT NULL AND t.history_id = (SELECT max(h.id) \
               FROM pgferry.sync_history h WHERE h.outcome = 'success' AND h.source = $1)",
            &[&source],
        )
        .await
        .map_err(|e| Error::on_target("reading the last sync's tables", e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(crate) async fn set_verify(
    client: &Client,
    id: i64,
    outcome: &str,
    verify: &str,
) -> Result<(), Error> {
    client
        .execute(
            "UPDATE pgferry.sync_history SET outcome = $2, verify = $3 WHERE id = $1",
            &[&id, &outcome, &verify],
        )
        .await
        .map_err(|e| Error::on_target("recording the verification", e))?;
    Ok(())
}

/// The most recent `limit` syncs recorded on the target, newest first.
/// An empty list when no sync ever ran there.
pub async fn history(client: &Client, limit: i64) -> Result<Vec<HistoryRow>, Error> {
    read_rows(client, "true", limit).await
}

/// What monitoring asks of a replica: its last recorded run and its last
/// successful one (which may be further back than any `--limit`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Freshness {
    /// The newest run, whatever its outcome.
    pub last_run: Option<HistoryRow>,
    /// The newest run whose outcome is `success`.
    pub last_success: Option<HistoryRow>,
}

/// Reads [`Freshness`] from `pgferry.sync_history` on the target.
///
/// ```no_run
/// # async fn f(client: &tokio_postgres::Client) -> Result<(), pgferry_engine::Error> {
/// let f = pgferry_engine::freshness(client).await?;
/// match f.last_success.and_then(|s| s.data_age_seconds) {
///     Some(age) if age < 3600.0 => println!("fresh: {age:.0} s"),
///     _ => println!("stale"),
/// }
/// # Ok(()) }
/// ```
pub async fn freshness(client: &Client) -> Result<Freshness, Error> {
    Ok(Freshness {
        last_run: read_rows(client, "true", 1).await?.into_iter().next(),
        last_success: read_rows(client, "outcome = 'success'", 1)
            .await?
            .into_iter()
            .next(),
    })
}

/// Rows matching `filter` (a fixed SQL condition), newest first.
async fn read_rows(client: &Client, filter: &str, limit: i64) -> Result<Vec<HistoryRow>, Error> {
    let exists: bool = client
        .query_one(
            "SELECT pg_catalog.to_regclass('pgferry.sync_history') IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| Error::on_target("reading pgferry.sync_history", e))?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            &format!(
                "SELECT id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
             to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
             to_char(source_snapshot_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
             CASE WHEN outcome <> 'failed' THEN extract(epoch FROM pg_catalog.clock_timestamp() - source_snapshot_at)::float8 END, \
             source, source_version, target_version, tables, rows, bytes, outcome, verify, error, \
             extract(epoch FROM finished_at)::float8, extract(epoch FROM finished_at - started_at)::float8, \
             extract(epoch FROM source_snapshot_at)::float8, pg_catalog.to_jsonb(h) ->> 'mode' \
             FROM pgferry.sync_history h WHERE {filter} ORDER BY id DESC LIMIT $1"
            ),
            &[&limit],
        )
        .await
        .map_err(|e| Error::on_target("reading pgferry.sync_history", e))?;
    // The table lives on the target, where anyone may have altered it: a
    // column of an unexpected type is an error, not a panic.
    let decode = |e: tokio_postgres::Error| Error::on_target("reading pgferry.sync_history", e);
    rows.iter()
        .map(|r| {
            Ok(HistoryRow {
                id: r.try_get(0).map_err(decode)?,
                started_at: r.try_get(1).map_err(decode)?,
                finished_at: r.try_get(2).map_err(decode)?,
                finished_at_epoch: r.try_get(14).map_err(decode)?,
                duration_seconds: r.try_get(15).map_err(decode)?,
                source_snapshot_epoch: r.try_get(16).map_err(decode)?,
                mode: r.try_get(17).map_err(decode)?,
                source_snapshot_at: r.try_get(3).map_err(decode)?,
                data_age_seconds: r.try_get(4).map_err(decode)?,
                source: r.try_get(5).map_err(decode)?,
                source_version: r.try_get(6).map_err(decode)?,
                target_version: r.try_get(7).map_err(decode)?,
                tables: r.try_get(8).map_err(decode)?,
                rows: r.try_get(9).map_err(decode)?,
                bytes: r.try_get(10).map_err(decode)?,
                outcome: r.try_get(11).map_err(decode)?,
                verify: r.try_get(12).map_err(decode)?,
                error: r.try_get(13).map_err(decode)?,
            })
        })
        .collect()
}

/// Now, in seconds since the epoch (a history row's start).
pub(crate) fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Records a failure on a new connection (the run's own may be gone);
/// bounded, and silent when the target cannot be reached.
pub(crate) async fn insert_fresh(target: &ConnSpec, record: &Record) {
    bounded(async {
        if let Ok(c) = connect_writer(target).await {
            let _ = insert(&c, record).await;
        }
    })
    .await;
}
