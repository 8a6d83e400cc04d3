//! `pgferry sync`: resolves both sides and the options from flags and
//! `pgferry.toml`, then runs one sync or, with `--every`, a sync every
//! interval until SIGINT/SIGTERM, logging each committed sync.
use pgferry_engine::{
    parse_duration, ConnSpec, Error, Schedule, Side, Statistics, SyncOptions, TableAction,
    VerifyMode,
};

use super::{conn, peak_rss_kb, progress};
use crate::args::{SyncArgs, VerifyArg};
use crate::{config, shutdown_signal, Failure, EXIT_DIFFERENT, EXIT_FAILURE, EXIT_OK};

/// Resolves both sides and the options from flags and the optional config file.
fn sync_setup(
    a: &SyncArgs,
    quiet: bool,
) -> Result<(ConnSpec, ConnSpec, SyncOptions, Option<std::time::Duration>), Failure> {
    let cfg = match &a.config {
        Some(p) => config::Config::load(p)?,
        None => config::Config::default(),
    };
    let side = |flag: &Option<String>,
                section: &Option<config::Side>,
                which: Side|
     -> Result<ConnSpec, Failure> {
        let name = which.as_str();
        match (flag, section) {
            (Some(s), _) => Ok(conn(which, s)?),
            (None, Some(sec)) => Ok(sec.resolve(which)?),
            (None, None) => {
                Err(anyhow::anyhow!("--{name} (or [{name}] in --config) is required").into())
            }
        }
    };
    let source = side(&a.source, &cfg.source, Side::Source)?;
    let target = side(&a.target, &cfg.target, Side::Target)?;
    let s = &cfg.sync;
    let dur = |v: &Option<String>, what: &str| -> Result<Option<std::time::Duration>, Failure> {
        v.as_deref()
            .map(|d| parse_duration(d).map_err(|e| anyhow::anyhow!("{what}: {e}").into()))
            .transpose()
    };
    let every = dur(&a.every.clone().or(s.every.clone()), "--every")?;
    let cycle_timeout = dur(
        &a.cycle_timeout.clone().or(s.cycle_timeout.clone()),
        "--cycle-timeout",
    )?;
    let lock_timeout = dur(
        &a.lock_timeout.clone().or(s.lock_timeout.clone()),
        "--lock-timeout",
    )?
    .unwrap_or(pgferry_engine::DEFAULT_SYNC_LOCK_TIMEOUT);
    let verify = match a.verify {
        Some(VerifyArg::None) => VerifyMode::None,
        Some(VerifyArg::Counts) => VerifyMode::Counts,
        Some(VerifyArg::Checksums) => VerifyMode::Checksums,
        None => match s.verify.as_deref() {
            None | Some("counts") => VerifyMode::Counts,
            Some("none") => VerifyMode::None,
            Some("checksums") => VerifyMode::Checksums,
            Some(other) => {
                return Err(anyhow::anyhow!(
                    "[sync] verify = {other:?}: expected none, counts or checksums"
                )
                .into())
            }
        },
    };
    let statistics = match a.statistics {
        Some(m) => m.mode(),
        None => match s.statistics.as_deref() {
            None => Statistics::Auto,
            Some(name) => Statistics::parse(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "[sync] statistics = {name:?}: expected auto, copy, analyze or none"
                )
            })?,
        },
    };
    let mut filters = a.roles.apply(a.filters.filters()?);
    filters.include_schemas.extend(s.schemas.iter().cloned());
    filters
        .exclude_schemas
        .extend(s.exclude_schemas.iter().cloned());
    filters.include_tables.extend(s.tables.iter().cloned());
    filters
        .exclude_tables
        .extend(s.exclude_tables.iter().cloned());
    filters
        .exclude_table_data
        .extend(s.exclude_table_data.iter().cloned());
    filters.compile().map_err(Error::from)?;
    let opts = SyncOptions {
        filters,
        verify,
        terminate: !a.no_terminate && s.terminate.unwrap_or(true),
        lock_timeout,
        keep_archive: a.keep_archive.clone(),
        keep_owners: a.keep_owners,
        allow_downgrade: a.allow_downgrade,
        deadline: cycle_timeout,
        statistics,
        full: a.full || s.full.unwrap_or(false),
        progress: progress(quiet),
    };
    Ok((source, target, opts, every))
}

/// Logs a committed sync and its verification; `EXIT_DIFFERENT` when it found differences.
fn log_sync(report: &pgferry_engine::SyncReport, seconds: f64) -> u8 {
    let verify = report.verification.as_ref();
    let different = verify.is_some_and(|v| !v.is_identical());
    let count = |a: TableAction| {
        report
            .table_actions
            .iter()
            .filter(|t| t.action == a)
            .count()
    };
    tracing::info!(
        tables = report.tables,
        rows = report.rows,
        bytes = report.bytes,
        terminated_sessions = report.terminated_sessions,
        source_snapshot_at = %report.source_snapshot_at,
        target_only_schemas = ?report.target_only_schemas,
        kept_tables = ?report.kept_tables,
        recreated = ?report.recreated,
        roles_created = ?report.roles_created,
        roles_without_password = ?report.roles_without_password,
        verified = verify.map(|v| v.tables_checked),
        seconds,
        peak_rss_kb = peak_rss_kb(),
        history_id = report.history_id,
        full = report.full,
        fallback = report.fallback.as_deref(),
        tables_kept = count(TableAction::Kept),
        tables_delta = count(TableAction::Delta),
        tables_replaced = count(TableAction::Replaced),
        tables_rebuilt = count(TableAction::Rebuilt),
        tables_by_row_versions = report
            .table_actions
            .iter()
            .filter(|t| t.by_row_versions)
            .count(),
        "sync committed"
    );
    if let Some(v) = verify {
        for d in &v.differences {
            tracing::error!(table = %d.table, source = %d.source, target = %d.target, "verification: data differs");
        }
    }
    if different {
        EXIT_DIFFERENT
    } else {
        EXIT_OK
    }
}

/// Runs one sync, or one every `--every` until a signal; `EXIT_DIFFERENT`
/// when the last committed sync's verification found differences.
pub(crate) async fn run(a: &SyncArgs, quiet: bool) -> Result<u8, Failure> {
    let (source, target, opts, every) = sync_setup(a, quiet)?;
    match every {
        None => {
            let started = std::time::Instant::now();
            let result = tokio::select! {
                biased;
                _ = shutdown_signal() => {
                    pgferry_engine::record_interrupted(&source, &target, "interrupted by a signal; rolled back").await;
                    Err(Error::Cancelled)
                }
                r = pgferry_engine::sync(&source, &target, &opts) => r,
            };
            let report = result?;
            Ok(log_sync(&report, started.elapsed().as_secs_f64()))
        }
        Some(every) => {
            let mut last = EXIT_OK;
            let schedule = Schedule {
                cycle_timeout: opts.deadline,
                ..Schedule::every(every)
            };
            pgferry_engine::sync_every(&source, &target, &opts, schedule, shutdown_signal(), |c| {
                match &c.result {
                    Ok(r) => {
                        last = log_sync(r, c.elapsed.as_secs_f64());
                        tracing::info!(cycle = c.number, next_in_seconds = c.next_in.as_secs_f64(), "next sync scheduled");
                    }
                    Err(e) => {
                        last = EXIT_FAILURE;
                        tracing::error!(cycle = c.number, error = %e, next_in_seconds = c.next_in.as_secs_f64(), "sync failed; target unchanged");
                    }
                }
            })
            .await;
            tracing::info!("stopped by signal; no sync in flight");
            Ok(if last == EXIT_DIFFERENT {
                EXIT_DIFFERENT
            } else {
                EXIT_OK
            })
        }
    }
}
