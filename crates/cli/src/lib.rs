//! The `pgferry` command line: parses arguments, calls the engine, prints
//! errors with `{:#}` and maps them to exit codes (0 ok, 1 runtime failure,
//! 2 usage or bad input, 3 verification differences).
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pgferry_engine::{ConnSpec, DumpOptions, Error, Filters, Progress, ProgressFn, RestoreOptions};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: runtime failure; targets unchanged.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: usage error or bad input.
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "pgferry", version, about = "Native PostgreSQL dump / restore / sync", long_about = None)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Dump a database into an archive file (or stdout with `-o -`).
    Dump(DumpArgs),
    /// Restore an archive into a database, in one transaction.
    Restore(RestoreArgs),
    /// Print an archive's table of contents (verifies it first).
    List(ListArgs),
    /// Print the DDL script a restore of the archive would run.
    Ddl(DdlArgs),
}

#[derive(Debug, Args)]
struct FilterArgs {
    /// Only schemas matching PATTERN (repeatable).
    #[arg(short = 'n', long = "schema", value_name = "PATTERN")]
    schema: Vec<String>,
    /// Skip schemas matching PATTERN.
    #[arg(short = 'N', long = "exclude-schema", value_name = "PATTERN")]
    exclude_schema: Vec<String>,
    /// Only tables matching PATTERN.
    #[arg(short = 't', long = "table", value_name = "PATTERN")]
    table: Vec<String>,
    /// Skip tables matching PATTERN.
    #[arg(short = 'T', long = "exclude-table", value_name = "PATTERN")]
    exclude_table: Vec<String>,
    /// Keep the definition but skip the data of tables matching PATTERN.
    #[arg(long = "exclude-table-data", value_name = "PATTERN")]
    exclude_table_data: Vec<String>,
}

impl FilterArgs {
    fn filters(&self) -> Filters {
        Filters {
            include_schemas: self.schema.clone(),
            exclude_schemas: self.exclude_schema.clone(),
            include_tables: self.table.clone(),
            exclude_tables: self.exclude_table.clone(),
            exclude_table_data: self.exclude_table_data.clone(),
        }
    }
}

#[derive(Debug, Args)]
struct DumpArgs {
    /// Source connection string (key=value or URI); PG* variables fill the rest.
    #[arg(long, env = "PGFERRY_SOURCE", hide_env_values = true)]
    source: String,
    /// Archive path, or `-` for stdout.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// zstd compression level (1-22).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=22))]
    compress_level: i32,
    /// Parallel workers (this build copies tables on one connection).
    #[arg(short = 'j', long, default_value_t = 1)]
    jobs: usize,
    /// Only definitions.
    #[arg(long, conflicts_with = "data_only")]
    schema_only: bool,
    /// Only data.
    #[arg(long)]
    data_only: bool,
    /// Lock wait per table, in seconds.
    #[arg(long, default_value_t = 10)]
    lock_timeout: u64,
    #[command(flatten)]
    filters: FilterArgs,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// Target connection string.
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    target: String,
    /// Archive path.
    file: PathBuf,
    /// Drop the archive's schemas first (same transaction).
    #[arg(long)]
    clean: bool,
    /// Only definitions.
    #[arg(long, conflicts_with = "data_only")]
    schema_only: bool,
    /// Only data.
    #[arg(long)]
    data_only: bool,
    /// Restore the source's object owners (default: the connecting user owns everything).
    #[arg(long)]
    keep_owners: bool,
    #[command(flatten)]
    filters: FilterArgs,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Archive path.
    file: PathBuf,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DdlArgs {
    /// Archive path.
    file: PathBuf,
    /// Include `ALTER ... OWNER TO`.
    #[arg(long)]
    keep_owners: bool,
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    init_logging(&cli);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pgferry: error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = rt.block_on(async {
        tokio::select! {
            biased;
            _ = shutdown_signal() => Err(Error::Cancelled),
            r = run(&cli) => r,
        }
    });
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_FAILURE);
            }
            let err = anyhow::Error::msg(e.to_string());
            eprintln!("pgferry: error: {err:#}");
            ExitCode::from(if e.is_bad_input() {
                EXIT_BAD_INPUT
            } else {
                EXIT_FAILURE
            })
        }
    }
}

fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(cli: &Cli) {
    let level = if cli.quiet { "error" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PGFERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.without_time().try_init(),
    };
}

fn conn(side: &'static str, s: &str) -> Result<ConnSpec, Error> {
    ConnSpec::parse(s).map_err(|source| Error::ConnString { side, source })
}

fn progress(quiet: bool) -> Option<ProgressFn> {
    if quiet {
        return None;
    }
    let tty = std::io::stderr().is_terminal();
    Some(Arc::new(move |p: &Progress| match p {
        Progress::CatalogRead { objects, tables } => {
            tracing::info!(objects, tables, "catalog read");
        }
        Progress::TableDone { table, rows, bytes } => {
            if tty {
                eprintln!("  {table}: {rows} rows, {bytes} bytes");
            } else {
                tracing::info!(%table, rows, bytes, "table done");
            }
        }
        Progress::PostData => {
            tracing::info!("creating indexes, constraints and other post-data objects")
        }
        _ => {}
    }))
}

async fn run(cli: &Cli) -> Result<(), Error> {
    let started = std::time::Instant::now();
    match &cli.command {
        Command::Dump(a) => {
            let source = conn("source", &a.source)?;
            let opts = DumpOptions {
                filters: a.filters.filters(),
                compress_level: Some(a.compress_level),
                schema_only: a.schema_only,
                data_only: a.data_only,
                lock_timeout: Some(std::time::Duration::from_secs(a.lock_timeout)),
                progress: progress(cli.quiet),
            };
            if a.jobs > 1 {
                tracing::info!(
                    jobs = a.jobs,
                    "parallel dump is not available yet; using one connection"
                );
            }
            let s = if a.output.as_os_str() == "-" {
                pgferry_engine::dump(&source, &opts, std::io::stdout()).await?
            } else {
                pgferry_engine::dump_to_path(&source, &opts, &a.output).await?
            };
            tracing::info!(
                objects = s.objects,
                tables = s.tables,
                rows = s.rows,
                raw_bytes = s.raw_bytes,
                archive_bytes = s.archive_bytes,
                seconds = started.elapsed().as_secs_f64(),
                peak_rss_kb = peak_rss_kb(),
                "dump finished"
            );
        }
        Command::Restore(a) => {
            let target = conn("target", &a.target)?;
            let opts = RestoreOptions {
                filters: a.filters.filters(),
                clean: a.clean,
                schema_only: a.schema_only,
                data_only: a.data_only,
                keep_owners: a.keep_owners,
                progress: progress(cli.quiet),
            };
            let s = pgferry_engine::restore(&target, &a.file, &opts).await?;
            tracing::info!(
                objects = s.objects,
                tables = s.tables,
                rows = s.rows,
                seconds = started.elapsed().as_secs_f64(),
                peak_rss_kb = peak_rss_kb(),
                "restore committed"
            );
        }
        Command::List(a) => {
            let (catalog, entries) = pgferry_engine::list(&a.file)?;
            let mut out = String::new();
            if a.json {
                let v: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "id": e.id, "kind": e.kind, "schema": e.schema, "name": e.name,
                            "owner": e.owner, "rows": e.rows, "bytes": e.bytes.map(|b| b.0),
                            "stored_bytes": e.bytes.map(|b| b.1),
                        })
                    })
                    .collect();
                out.push_str(
                    &serde_json::json!({
                        "database": catalog.database, "server_version": catalog.server_version,
                        "objects": v,
                    })
                    .to_string(),
                );
                out.push('\n');
            } else {
                out.push_str(&format!(
                    "; pgferry archive of database {} (PostgreSQL {}), {} objects\n",
                    catalog.database,
                    catalog.server_version,
                    entries.len()
                ));
                for e in &entries {
                    let schema = e.schema.as_deref().unwrap_or("-");
                    let owner = e.owner.as_deref().unwrap_or("-");
                    match (e.rows, e.bytes) {
                        (Some(r), Some((raw, stored))) => out.push_str(&format!(
                            "{}; {} {} {} {}; {r} rows, {raw} bytes ({stored} stored)\n",
                            e.id, e.kind, schema, e.name, owner
                        )),
                        _ => out.push_str(&format!(
                            "{}; {} {} {} {}\n",
                            e.id, e.kind, schema, e.name, owner
                        )),
                    }
                }
            }
            write_stdout(&out)?;
        }
        Command::Ddl(a) => {
            let script = pgferry_engine::ddl(&a.file, a.keep_owners)?;
            write_stdout(&script)?;
        }
    }
    Ok(())
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
