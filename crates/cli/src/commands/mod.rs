//! One module per subcommand, each with a `run` that does the command's work
//! and prints its output, and the helpers they share: connection strings,
//! progress reporting, writing to stdout and peak memory.
use std::io::IsTerminal;

use pgferry_engine::{ConnSpec, Error, Progress, ProgressFn, Side};

use crate::args::ConnArgs;
use crate::bars;
use crate::Failure;

pub(crate) mod ddl;
pub(crate) mod dump;
pub(crate) mod list;
pub(crate) mod restore;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod verify;

/// Parses a connection string, naming the side in the error.
fn conn(side: Side, s: &str) -> Result<ConnSpec, Error> {
    ConnSpec::parse(s).map_err(|source| Error::ConnString { side, source })
}

/// The connection of a dump or restore: its connection string (`--source`
/// or `--target`), or pg_dump's `-d` (a name or a connection string), with
/// `-h -p -U` added.
fn conn_with(side: Side, string: Option<&str>, parts: &ConnArgs) -> Result<ConnSpec, Failure> {
    let flag = match side {
        Side::Source => "--source",
        Side::Target => "--target",
    };
    let usage = |m: String| Failure::Usage(anyhow::anyhow!(m));
    let is_uri = |s: &str| s.starts_with("postgres://") || s.starts_with("postgresql://");
    let base = match (string, parts.dbname.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(usage(format!(
                "give the database either with {flag} or with -d/--dbname, not both"
            )))
        }
        (Some(s), None) => s.to_string(),
        (None, Some(d)) if d.contains('=') || is_uri(d) => d.to_string(),
        (None, Some(d)) => format!("dbname={}", conn_value(d)),
        (None, None) => String::new(),
    };
    let extra: Vec<String> = [
        ("host", parts.host.clone()),
        ("port", parts.port.map(|p| p.to_string())),
        ("user", parts.username.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some(format!("{k}={}", conn_value(&v?))))
    .collect();
    if base.is_empty() && extra.is_empty() {
        return Err(usage(format!(
            "{flag} (a connection string) or -d/-h/-p/-U is required"
        )));
    }
    if is_uri(&base) && !extra.is_empty() {
        return Err(usage(
            "-h/-p/-U cannot be added to a URI: put them in it, or use a key=value connection string"
                .into(),
        ));
    }
    let s = [base, extra.join(" ")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(conn(side, &s)?)
}

/// A value in a key=value connection string, quoted.
fn conn_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The progress callback: none with `--quiet`, bars on a terminal, log lines otherwise.
fn progress(quiet: bool) -> Option<ProgressFn> {
    if quiet {
        return None;
    }
    if std::io::stderr().is_terminal() {
        return Some(bars::terminal());
    }
    Some(ProgressFn::new(move |p: &Progress| match p {
        Progress::CatalogRead { objects, tables } => {
            tracing::info!(objects, tables, "catalog read");
        }
        Progress::TableDone { table, rows, bytes } => {
            tracing::info!(%table, rows, bytes, "table done");
        }
        Progress::PostData => {
            tracing::info!("creating indexes, constraints and other post-data objects")
        }
        _ => {}
    }))
}

/// Peak resident set size of this process (VmHWM), in KiB; 0 where unknown.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Writes `s` to stdout and flushes; a closed pipe is an `Error::Io` on `stdout`.
fn write_stdout(s: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io {
            path: "stdout".into(),
            source,
        })
}
