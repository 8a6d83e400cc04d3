//! The source's one snapshot: a `REPEATABLE READ, READ ONLY` transaction
//! that locks the tables it will read, checks the patterns, reads the
//! catalog, and can be shared with parallel workers.
use std::time::Duration;

use pgferry_catalog::{probe, read_catalog, Catalog};
use tokio_postgres::Client;

use crate::error::{Error, Side};
use crate::filter::{CompiledFilters, Filters};
use crate::select::resolve_children_on;

/// How long a source waits for each table lock unless told otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// How the snapshot transaction starts (pg_dump's `--snapshot`,
/// `--serializable-deferrable`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Start<'a> {
    /// Read in this exported snapshot instead of a new one.
    pub snapshot: Option<&'a str>,
    /// `SERIALIZABLE, READ ONLY, DEFERRABLE`: waits for a snapshot no
    /// serializable transaction can contradict.
    pub serializable_deferrable: bool,
}

/// Opens a consistent read-only snapshot on `client` and reads the catalog.
pub(crate) async fn begin_snapshot(
    client: &Client,
    filters: &Filters,
    lock_timeout: Duration,
) -> Result<Catalog, Error> {
    begin_snapshot_with(client, filters, lock_timeout, &Start::default()).await
}

/// [`begin_snapshot`], started as `start` says.
pub(crate) async fn begin_snapshot_with(
    client: &Client,
    filters: &Filters,
    lock_timeout: Duration,
    start: &Start<'_>,
) -> Result<Catalog, Error> {
    let mut compiled = filters.compile()?;
    let isolation = if start.serializable_deferrable {
        "SERIALIZABLE, READ ONLY, DEFERRABLE"
    } else {
        "REPEATABLE READ, READ ONLY"
    };
    client
        .batch_execute(&format!("BEGIN ISOLATION LEVEL {isolation}"))
        .await
        .map_err(|e| Error::on_source("starting the snapshot transaction", e))?;
    if let Some(name) = start.snapshot {
        client
            .batch_execute(&format!(
                "SET TRANSACTION SNAPSHOT {}",
                pgferry_catalog::quote_literal(name)
            ))
            .await
            .map_err(|e| Error::on_source(format!("--snapshot {name}"), e))?;
    }
    client
        .batch_execute(&format!(
            "SET LOCAL lock_timeout = {}; SET LOCAL row_security = off; \
             SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0",
            lock_timeout.as_millis()
        ))
        .await
        .map_err(|e| Error::on_source("starting the snapshot transaction", e))?;
    resolve_children_on(client, &mut compiled, Side::Source).await?;
    if !compiled.is_empty() {
        check_patterns(client, &compiled).await?;
    }
    // Lock the dumped tables before reading their definitions, so a
    // concurrent ALTER/DROP waits for us (or we fail fast on lock_timeout).
    let tables: Vec<String> = probe::user_tables(client)
        .await?
        .into_iter()
        .filter(|(s, t)| compiled.table_included(s, t))
        .map(|(s, t)| pgferry_catalog::qualified(&s, &t))
        .collect();
    for chunk in tables.chunks(500) {
        client
            .batch_execute(&format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE",
                chunk.join(", ")
            ))
            .await
            .map_err(|e| Error::on_source("locking the dumped tables", e))?;
    }
    let catalog = read_catalog(client, &compiled).await?;
    for u in &catalog.unsupported {
        tracing::warn!(what = %u.what, "not carried: a restore or sync that includes it will refuse to start");
    }
    Ok(catalog)
}

/// Refuses a pattern that matches nothing on the source.
async fn check_patterns(client: &Client, f: &CompiledFilters) -> Result<(), Error> {
    let (schemas, tables) = probe::user_schemas_and_relations(client).await?;
    let s: Vec<&str> = schemas.iter().map(String::as_str).collect();
    let t: Vec<(&str, &str)> = tables
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let extensions = if f.source().include_extensions.is_empty() {
        Vec::new()
    } else {
        probe::extension_names(client).await?
    };
    let e: Vec<&str> = extensions.iter().map(String::as_str).collect();
    if let Some(e) = f
        .unmatched(&s, &t)
        .into_iter()
        .chain(f.unmatched_extensions(&e))
        .next()
    {
        return Err(e.into());
    }
    Ok(())
}

/// Exports the leader's snapshot for parallel workers.
pub(crate) async fn export_snapshot(client: &Client) -> Result<String, Error> {
    let row = client
        .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
        .await
        .map_err(|e| Error::on_source("exporting the snapshot for parallel workers", e))?;
    Ok(row.get(0))
}

/// Starts a worker's transaction on the leader's exported `snapshot`.
pub(crate) async fn join_snapshot(client: &Client, snapshot: &str) -> Result<(), Error> {
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
             SET TRANSACTION SNAPSHOT {}; SET LOCAL row_security = off; \
             SELECT pg_catalog.set_config('search_path', '', true)",
            pgferry_catalog::quote_literal(snapshot)
        ))
        .await
        .map_err(|e| Error::on_source("starting a parallel worker on the exported snapshot", e))
}
