//! `verify`: compares a source and a target (schema drift, then row counts
//! or checksums per table), each read in one snapshot.
use std::time::Duration;

use pgferry_catalog::{read_catalog, Kind, Object};
use tokio_postgres::Client;

use crate::compare::drift::{schema_drift, split_target_only};
use crate::compare::fingerprint::{compare_tables, ForcedRls, SourceRows, STABLE_OUTPUT};
use crate::compare::{VerifyMode, VerifyReport};
use crate::conn::{connect, ConnSpec};
use crate::error::{Error, Side};
use crate::filter::Filters;
use crate::select::compile_on;
use crate::source::snapshot::{begin_snapshot, DEFAULT_LOCK_TIMEOUT};
use crate::watch::{watched, Peer, Phase};

/// Options of [`verify`].
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Restrict to these objects.
    pub filters: Filters,
    /// Compare contents, not only counts.
    pub checksums: bool,
    /// Count what only the target has in schemas the source lacks as
    /// differences too (by default they are listed in
    /// [`VerifyReport::target_only`]: a sync with the same filters leaves them alone).
    pub strict: bool,
    /// How long to wait for each source table lock (default 10 s).
    pub lock_timeout: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            filters: Filters::default(),
            checksums: false,
            strict: false,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// Compares `source` and `target`: schema drift (objects and columns present
/// on one side only or defined differently) and per-table counts or
/// checksums. Both sides are read in one snapshot each.
pub async fn verify(
    source: &ConnSpec,
    target: &ConnSpec,
    opts: &VerifyOptions,
) -> Result<VerifyReport, Error> {
    let src = connect(source, Side::Source).await?;
    let tgt = connect(target, Side::Target).await?;
    let phase = Phase::new("verifying");
    let src_peer = Peer::start(source, Side::Source, &phase).await?;
    src_peer.watch_backend(&src).await;
    let tgt_peer = Peer::start(target, Side::Target, &phase).await?;
    tgt_peer.watch_backend(&tgt).await;
    watched(
        &[&src_peer, &tgt_peer],
        &[(Side::Source, &src), (Side::Target, &tgt)],
        &phase,
        verify_with(&src, &tgt, opts),
    )
    .await
}

async fn verify_with(
    src: &Client,
    tgt: &Client,
    opts: &VerifyOptions,
) -> Result<VerifyReport, Error> {
    let src_cat = begin_snapshot(src, &opts.filters, opts.lock_timeout).await?;
    let mut rls = ForcedRls::read(tgt, true).await?;
    // Lifting FORCE ROW LEVEL SECURITY for a count needs a read-write
    // transaction; otherwise read only (a hot standby can be verified).
    let mode = if rls.is_empty() {
        "READ ONLY"
    } else {
        "READ WRITE"
    };
    tgt.batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ, {mode}"))
        .await
        .map_err(|e| Error::on_target("starting a snapshot on the target", e))?;
    rls.in_transaction = true;
    let compiled = compile_on(tgt, &opts.filters, Side::Target).await?;
    let tgt_cat = read_catalog(tgt, &compiled)
        .await
        .map_err(|e| Error::catalog_on(Side::Target, e))?;
    for (side, c) in [(Side::Source, src), (Side::Target, tgt)] {
        c.batch_execute(STABLE_OUTPUT)
            .await
            .map_err(|e| Error::statement(side, "verify settings", e))?;
    }
    let (drift, target_only) =
        split_target_only(&src_cat, schema_drift(&src_cat, &tgt_cat), &tgt_cat);
    let mut report = VerifyReport {
        drift,
        target_only,
        ..Default::default()
    };
    if opts.strict {
        report.drift.append(&mut report.target_only);
    }
    let target_tables: std::collections::HashSet<String> = tgt_cat
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Table(_)))
        .map(Object::display_name)
        .collect();
    let mode = if opts.checksums {
        VerifyMode::Checksums
    } else {
        VerifyMode::Counts
    };
    // A table missing on the target is reported as drift (an extension's
    // configuration table is the extension's, not a table of the catalog).
    let (checked, differences) = compare_tables(
        SourceRows::Query(src),
        tgt,
        &src_cat.objects,
        mode,
        &rls,
        |rows| rows.filter.is_none() && !target_tables.contains(&rows.table.to_string()),
    )
    .await?;
    report.tables_checked = checked;
    report.differences = differences;
    let _ = src.batch_execute("COMMIT").await;
    let _ = tgt.batch_execute("COMMIT").await;
    Ok(report)
}
