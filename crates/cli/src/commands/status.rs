//! `pgferry status`: the replica's sync history, as text, JSON or
//! Prometheus metrics, and `--max-age` for a check that pages.
use std::fmt::Write as _;
use std::time::Duration;

use pgferry_engine::{parse_duration, ConnSpec, Error, Freshness, HistoryRow, Side};

use super::{conn, write_stdout};
use crate::args::{StatusArgs, StatusFormat};
use crate::{Failure, EXIT_OK, EXIT_STALE};

/// A frozen server must not hang a monitoring check.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

pub(crate) async fn run(a: &StatusArgs) -> Result<u8, Failure> {
    let max_age = a
        .max_age
        .as_deref()
        .map(|d| parse_duration(d).map_err(|e| anyhow::anyhow!("--max-age: {e}")))
        .transpose()?;
    let format = match (a.format, a.json) {
        (Some(f), _) => f,
        (None, true) => StatusFormat::Json,
        (None, false) => StatusFormat::Text,
    };
    let target = conn(Side::Target, &a.target)?;
    let client = pgferry_engine::connect(&target, Side::Target).await?;
    let (rows, fresh) = tokio::time::timeout(ANSWER_WITHIN, async {
        Ok::<_, Error>((
            pgferry_engine::history(&client, a.limit).await?,
            pgferry_engine::freshness(&client).await?,
        ))
    })
    .await
    .map_err(|_| Error::PeerLost {
        side: Side::Target,
        phase: "reading pgferry.sync_history".into(),
        message: format!("no answer within {} s", ANSWER_WITHIN.as_secs()),
    })??;
    let verdict = max_age.map(|m| judge(&fresh, m));
    match format {
        StatusFormat::Json => write_stdout(&format!(
            "{}\n",
            serde_json::to_string(&rows).unwrap_or_default()
        ))?,
        StatusFormat::Prometheus => write_stdout(&prometheus(&target, &fresh))?,
        StatusFormat::Text => match &verdict {
            Some(v) => write_stdout(&format!("{}\n", v.line))?,
            None => write_stdout(&text(&rows, &fresh))?,
        },
    }
    Ok(match verdict {
        Some(v) if !v.fresh => EXIT_STALE,
        _ => EXIT_OK,
    })
}

/// The outcome of `--max-age`.
struct Verdict {
    fresh: bool,
    line: String,
}

/// Is the last successful sync's snapshot younger than `max`? The line says
/// how old the data is and why it is stale: the last run failed (its
/// error), or nothing ran since.
fn judge(f: &Freshness, max: Duration) -> Verdict {
    let limit = human_seconds(max.as_secs_f64());
    let failed_since = f
        .last_run
        .as_ref()
        .filter(|r| r.outcome != "success")
        .map(|r| {
            format!(
                "; last run #{} at {} {}{}",
                r.id,
                r.finished_at,
                r.outcome.replace('_', " "),
                r.error
                    .as_deref()
                    .or(r.verify.as_deref())
                    .map(|e| format!(": {}", one_line(e)))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let Some(success) = &f.last_success else {
        return Verdict {
            fresh: false,
            line: format!("STALE: no successful sync recorded on this target{failed_since}"),
        };
    };
    let age = success.data_age_seconds.unwrap_or(f64::INFINITY);
    let as_of = success.source_snapshot_at.as_deref().unwrap_or("?");
    if age < max.as_secs_f64() {
        return Verdict {
            fresh: true,
            line: format!(
                "OK: replica data is {} old (max {limit}), as of {as_of} (sync #{}){failed_since}",
                human_seconds(age),
                success.id
            ),
        };
    }
    let why = if failed_since.is_empty() {
        format!(
            "; no sync ran since #{} finished at {}",
            success.id, success.finished_at
        )
    } else {
        failed_since
    };
    Verdict {
        fresh: false,
        line: format!(
            "STALE: replica data is {} old (max {limit}), as of {as_of} (sync #{}){why}",
            human_seconds(age),
            success.id
        ),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn human_seconds(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    let s = s.max(0.0) as u64;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

/// The human listing: the data's age, then one line per run.
fn text(rows: &[HistoryRow], f: &Freshness) -> String {
    if rows.is_empty() {
        return "no sync has been recorded on this target\n".into();
    }
    let mut out = String::new();
    match &f.last_success {
        Some(last) => out.push_str(&format!(
            "replica data is as of {} (age {})\n",
            last.source_snapshot_at.as_deref().unwrap_or("?"),
            last.data_age_seconds
                .map(human_seconds)
                .unwrap_or_else(|| "?".into())
        )),
        None => out.push_str("no successful sync recorded\n"),
    }
    for r in rows {
        out.push_str(&format!(
            "#{} {} {}{} from {}: {} tables, {} rows, {} bytes, {:.1} s{}{}\n",
            r.id,
            r.started_at,
            r.outcome,
            r.mode
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            r.source,
            r.tables,
            r.rows,
            r.bytes,
            r.duration_seconds,
            r.verify
                .as_deref()
                .map(|v| format!("; verify {v}"))
                .unwrap_or_default(),
            r.error
                .as_deref()
                .map(|e| format!("; error: {e}"))
                .unwrap_or_default(),
        ));
    }
    out
}

/// Metrics in Prometheus' text exposition format, labelled with the target
/// (without its password), for node_exporter's textfile collector.
fn prometheus(target: &ConnSpec, f: &Freshness) -> String {
    let label = format!("{{target=\"{}\"}}", escape_label(&target.to_string()));
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, value: Option<f64>| {
        let _ = writeln!(out, "# HELP pgferry_{name} {help}");
        let _ = writeln!(out, "# TYPE pgferry_{name} gauge");
        if let Some(v) = value {
            let _ = writeln!(out, "pgferry_{name}{label} {v}");
        }
    };
    let (run, ok) = (f.last_run.as_ref(), f.last_success.as_ref());
    metric(
        "last_success_timestamp_seconds",
        "When the last successful sync finished (Unix time).",
        ok.map(|r| r.finished_at_epoch),
    );
    metric(
        "last_success_source_snapshot_timestamp_seconds",
        "The source snapshot time of the last successful sync: the replica's data is as of this instant (Unix time).",
        ok.and_then(|r| r.source_snapshot_epoch),
    );
    metric(
        "replica_data_age_seconds",
        "Seconds between the last successful sync's source snapshot and now.",
        ok.and_then(|r| r.data_age_seconds),
    );
    metric(
        "last_run_timestamp_seconds",
        "When the last sync, successful or not, finished (Unix time).",
        run.map(|r| r.finished_at_epoch),
    );
    metric(
        "last_run_success",
        "1 if the last sync succeeded (and verified), 0 if it failed or its verification found differences.",
        run.map(|r| if r.outcome == "success" { 1.0 } else { 0.0 }),
    );
    metric(
        "last_run_duration_seconds",
        "How long the last sync ran.",
        run.map(|r| r.duration_seconds),
    );
    metric(
        "last_run_tables",
        "Tables the last sync copied.",
        run.map(|r| f64::from(r.tables)),
    );
    metric(
        "last_run_rows",
        "Rows the last sync copied.",
        run.map(|r| r.rows as f64),
    );
    metric(
        "last_run_bytes",
        "COPY bytes the last sync moved.",
        run.map(|r| r.bytes as f64),
    );
    out
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, outcome: &str, age: Option<f64>, error: Option<&str>) -> HistoryRow {
        HistoryRow {
            id,
            started_at: "2026-12-03T10:00:00.000Z".into(),
            finished_at: "2026-12-03T10:00:05.000Z".into(),
            finished_at_epoch: 1_796_292_005.0,
            duration_seconds: 5.0,
            source_snapshot_at: Some("2026-12-03T10:00:01.000Z".into()),
            source_snapshot_epoch: Some(1_796_292_001.0),
            data_age_seconds: age,
            source: "app@db1:5432/app".into(),
            source_version: None,
            target_version: None,
            tables: 3,
            rows: 10,
            bytes: 100,
            outcome: outcome.into(),
            verify: None,
            error: error.map(str::to_string),
            mode: Some("incremental".into()),
        }
    }

    #[test]
    fn max_age_says_how_old_and_why() {
        let m = Duration::from_secs(60);
        let ok = row(7, "success", Some(12.0), None);
        let v = judge(
            &Freshness {
                last_run: Some(ok.clone()),
                last_success: Some(ok.clone()),
            },
            m,
        );
        assert!(
            v.fresh && v.line.starts_with("OK: replica data is 12s old (max 60s)"),
            "{}",
            v.line
        );
        let old = row(7, "success", Some(200.0), None);
        let failed = row(8, "failed", None, Some("target: connection\nrefused"));
        let v = judge(
            &Freshness {
                last_run: Some(failed),
                last_success: Some(old.clone()),
            },
            m,
        );
        assert!(!v.fresh);
        assert_eq!(
            v.line,
            "STALE: replica data is 3m20s old (max 60s), as of 2026-12-03T10:00:01.000Z (sync #7); \
             last run #8 at 2026-12-03T10:00:05.000Z failed: target: connection refused"
        );
        let v = judge(
            &Freshness {
                last_run: Some(old.clone()),
                last_success: Some(old),
            },
            m,
        );
        assert!(
            !v.fresh
                && v.line
                    .ends_with("no sync ran since #7 finished at 2026-12-03T10:00:05.000Z"),
            "{}",
            v.line
        );
        let v = judge(&Freshness::default(), m);
        assert!(!v.fresh && v.line == "STALE: no successful sync recorded on this target");
    }

    #[test]
    fn prometheus_metrics_are_labelled_and_escaped() {
        let target = ConnSpec::parse("host=db2 dbname=a\"b user=me password=secret").unwrap();
        let ok = row(7, "success", Some(12.5), None);
        let text = prometheus(
            &target,
            &Freshness {
                last_run: Some(row(8, "failed", None, Some("x"))),
                last_success: Some(ok),
            },
        );
        assert!(!text.contains("secret"), "{text}");
        assert!(
            text.contains("# TYPE pgferry_replica_data_age_seconds gauge\n"),
            "{text}"
        );
        let line = text
            .lines()
            .find(|l| l.starts_with("pgferry_replica_data_age_seconds{"))
            .unwrap();
        assert!(
            line.contains("a\\\"b") && line.ends_with("} 12.5"),
            "{line}"
        );
        assert!(text.contains("pgferry_last_run_success{"), "{text}");
        assert!(text
            .lines()
            .any(|l| l.starts_with("pgferry_last_run_success{") && l.ends_with(" 0")));
        assert!(text
            .lines()
            .any(|l| l.starts_with("pgferry_last_success_timestamp_seconds{")
                && l.ends_with(" 1796292005")));
    }
}
