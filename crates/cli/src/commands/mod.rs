//! One module per subcommand, each with a `run` that does the command's work
//! and prints its output, and the helpers they share: connection strings,
//! progress reporting, writing to stdout and peak memory.
use std::io::IsTerminal;

use pgferry_engine::{ConnSpec, Error, Progress, ProgressFn, Side};

use crate::bars;

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
