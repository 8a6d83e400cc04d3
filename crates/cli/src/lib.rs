//! The `pgferry` command line: parses arguments, calls the engine, prints
//! errors with `{:#}` and maps them to exit codes (0 ok, 1 runtime failure,
//! 2 usage or bad input, 3 verification differences).
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pgferry_engine::{
    parse_duration, ConnSpec, DumpOptions, Error, Filters, Progress, ProgressFn, RestoreOptions,
    RoleSelection, Schedule, Statistics, SyncOptions, VerifyMode, VerifyOptions,
};

mod bars;
mod config;
mod status;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: runtime failure; targets unchanged.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: usage error or bad input.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: verification found differences.
pub const EXIT_DIFFERENT: u8 = 3;
/// Exit code: `status --max-age`: the replica's data is older than allowed
/// (or no sync ever succeeded).
pub const EXIT_STALE: u8 = 4;

/// Why a command failed.
enum Failure {
    /// The engine's typed error.
    Engine(Error),
    /// Configuration or usage problems found by the CLI itself.
    Usage(anyhow::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Usage(e)
    }
}

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
    /// Make the target an exact copy of the source's schemas, in one transaction.
    Sync(SyncArgs),
    /// Compare source and target: schema drift, row counts or checksums (exit 3 when different).
    Verify(VerifyArgs),
    /// Show recent syncs recorded on the target (pgferry.sync_history).
    Status(StatusArgs),
}

/// `--statistics`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatisticsArg {
    /// The source's statistics where the target can take them (PostgreSQL 18+), else ANALYZE.
    Auto,
    /// The source's statistics (needs a PostgreSQL 18 target); relations the source never analyzed are analyzed.
    Copy,
    /// ANALYZE every loaded table.
    Analyze,
    /// No statistics (autovacuum catches up later).
    None,
}

impl StatisticsArg {
    fn mode(self) -> Statistics {
        match self {
            StatisticsArg::Auto => Statistics::Auto,
            StatisticsArg::Copy => Statistics::Copy,
            StatisticsArg::Analyze => Statistics::Analyze,
            StatisticsArg::None => Statistics::None,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum VerifyArg {
    None,
    Counts,
    Checksums,
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// Source connection string (or `[source]` in the config file).
    #[arg(long, env = "PGFERRY_SOURCE", hide_env_values = true)]
    source: Option<String>,
    /// Target connection string (or `[target]` in the config file).
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    target: Option<String>,
    /// pgferry.toml with both sides and the sync options.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Check after commit [default: counts].
    #[arg(long, value_enum)]
    verify: Option<VerifyArg>,
    /// Run unattended, every DURATION (e.g. 20m), until SIGINT/SIGTERM.
    #[arg(long, value_name = "DURATION")]
    every: Option<String>,
    /// Wait for other sessions' locks instead of terminating them.
    #[arg(long)]
    no_terminate: bool,
    /// Lock wait on either side (e.g. 30s).
    #[arg(long, value_name = "DURATION")]
    lock_timeout: Option<String>,
    /// Also write an archive of what was synced.
    #[arg(long, value_name = "FILE")]
    keep_archive: Option<PathBuf>,
    /// Restore the source's object owners.
    #[arg(long)]
    keep_owners: bool,
    /// Allow a target server older than the source.
    #[arg(long)]
    allow_downgrade: bool,
    /// Deadline of one sync (e.g. 1h): past it the sync is rolled back, recorded as failed and, with
    /// --every, retried with back-off [default: with --every, 4 x the last good cycle (at least 10m),
    /// or 1h before one succeeded; none otherwise].
    #[arg(long, value_name = "DURATION")]
    cycle_timeout: Option<String>,
    /// Planner statistics of the synced tables, in the sync's transaction [default: auto].
    #[arg(long, value_enum, value_name = "MODE")]
    statistics: Option<StatisticsArg>,
    #[command(flatten)]
    roles: RoleArgs,
    #[command(flatten)]
    filters: FilterArgs,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Source connection string.
    #[arg(long, env = "PGFERRY_SOURCE", hide_env_values = true)]
    source: String,
    /// Target connection string.
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    target: String,
    /// Compare row contents (order-independent hash), not only counts.
    #[arg(long)]
    checksums: bool,
    /// Also count objects in schemas only the target has (which sync leaves alone) as differences.
    #[arg(long)]
    strict: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    filters: FilterArgs,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Target connection string.
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    target: String,
    /// How many syncs to show.
    #[arg(long, default_value_t = 10)]
    limit: i64,
    /// JSON output (same as --format json).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Output: text, json, or prometheus (metrics for node_exporter's textfile collector).
    #[arg(long, value_enum)]
    format: Option<StatusFormat>,
    /// Exit 4 unless the last successful sync's source snapshot is younger than DURATION (e.g. 30m);
    /// with text output, prints one line saying how old the data is and why.
    #[arg(long, value_name = "DURATION")]
    max_age: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StatusFormat {
    Text,
    Json,
    Prometheus,
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
    /// Leave the database's subscriptions out (they are otherwise created
    /// disconnected and disabled, as pg_dump does).
    #[arg(long)]
    no_subscriptions: bool,
    /// Keep user mappings' password option (left out by default).
    #[arg(long)]
    user_mapping_passwords: bool,
}

/// `--roles`, `--role-passwords`.
#[derive(Debug, Args)]
struct RoleArgs {
    /// Carry roles (created on the target when missing, in the same transaction): `referenced` (the
    /// default: owners with --keep-owners, grantees, policy and default-privilege roles, and their
    /// members), `all` (every non-system role); add `update` to also change existing roles.
    #[arg(long, value_name = "WHICH", num_args = 0..=1, default_missing_value = "referenced",
          value_delimiter = ',', value_parser = ["referenced", "all", "update"])]
    roles: Vec<String>,
    /// Carry the roles' password secrets (needs read access to pg_authid on the source: a superuser).
    #[arg(long, requires = "roles")]
    role_passwords: bool,
}

impl RoleArgs {
    /// Sets the role fields of `f`.
    fn apply(&self, f: Filters) -> Filters {
        let has = |w: &str| self.roles.iter().any(|r| r == w);
        Filters {
            roles: if has("all") {
                RoleSelection::All
            } else if self.roles.is_empty() {
                RoleSelection::None
            } else {
                RoleSelection::Referenced
            },
            roles_update: has("update"),
            role_passwords: self.role_passwords,
            ..f
        }
    }
}

impl FilterArgs {
    fn filters(&self) -> Filters {
        Filters {
            include_schemas: self.schema.clone(),
            exclude_schemas: self.exclude_schema.clone(),
            include_tables: self.table.clone(),
            exclude_tables: self.exclude_table.clone(),
            exclude_table_data: self.exclude_table_data.clone(),
            no_subscriptions: self.no_subscriptions,
            user_mapping_passwords: self.user_mapping_passwords,
            ..Filters::default()
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
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=22))]
    compress_level: i32,
    /// Parallel source connections sharing one snapshot [default: number of CPUs].
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// With several jobs, split a table of at least this many 8 kB pages into block ranges when, kept whole, it would leave the other jobs idle (the schedule would end over 25% past a perfect balance).
    #[arg(long, default_value_t = 16384)]
    split_pages: i64,
    /// Only definitions.
    #[arg(long, conflicts_with = "data_only")]
    schema_only: bool,
    /// Only data.
    #[arg(long)]
    data_only: bool,
    /// Lock wait per table, in seconds.
    #[arg(long, default_value_t = 10)]
    lock_timeout: u64,
    /// Leave the source's planner statistics out of the archive (a restore then analyzes what it loads).
    #[arg(long)]
    no_statistics: bool,
    #[command(flatten)]
    roles: RoleArgs,
    #[command(flatten)]
    filters: FilterArgs,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// Target connection string.
    #[arg(long, env = "PGFERRY_TARGET", hide_env_values = true)]
    target: String,
    /// Archive path, or `-` for stdin (spooled to a temporary file and verified first).
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
    /// Allow a target server older than the archive's source.
    #[arg(long)]
    allow_downgrade: bool,
    /// Parallel connections; above 1 the restore is NOT one transaction (like pg_restore -j), for fresh databases.
    #[arg(short = 'j', long, default_value_t = 1)]
    jobs: usize,
    /// Planner statistics of the loaded tables: the archive's (auto, copy) or ANALYZE.
    #[arg(long, value_enum, value_name = "MODE", default_value = "auto")]
    statistics: StatisticsArg,
    #[command(flatten)]
    roles: RoleArgs,
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
    // One thread drives every connection; compression, archive reading and
    // writing run on blocking threads. On the relay path (sync) this halves
    // pgferry's own CPU time against a multi-thread runtime (no cross-thread
    // wake-ups per COPY message), CPU the database servers need.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pgferry: error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // A bug must still end in one line and an exit code, not a backtrace:
    // whatever was in flight is rolled back by the server when the
    // connections close, and a dump's temporary file is removed on unwind.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("pgferry: internal error: {what}{at} (please report this)");
    }));
    let run_all = std::panic::AssertUnwindSafe(|| {
        rt.block_on(async {
            if let Command::Sync(a) = &cli.command {
                // sync handles signals itself (rolls back, records the interruption).
                return run_sync(&cli, a).await;
            }
            tokio::select! {
                biased;
                _ = shutdown_signal() => Err(Failure::Engine(Error::Cancelled)),
                r = run(&cli) => r,
            }
        })
    });
    let Ok(result) = std::panic::catch_unwind(run_all) else {
        return ExitCode::from(EXIT_FAILURE);
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Engine(e)) => {
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
        Err(Failure::Usage(e)) => {
            eprintln!("pgferry: error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
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
        .with_ansi(std::io::stderr().is_terminal())
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
    if std::io::stderr().is_terminal() {
        return Some(bars::terminal());
    }
    Some(Arc::new(move |p: &Progress| match p {
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

async fn run(cli: &Cli) -> Result<u8, Failure> {
    let started = std::time::Instant::now();
    match &cli.command {
        Command::Dump(a) => {
            let source = conn("source", &a.source)?;
            let opts = DumpOptions {
                filters: Filters {
                    no_statistics: a.no_statistics,
                    ..a.roles.apply(a.filters.filters())
                },
                compress_level: Some(a.compress_level),
                schema_only: a.schema_only,
                data_only: a.data_only,
                lock_timeout: Some(std::time::Duration::from_secs(a.lock_timeout)),
                jobs: a.jobs.unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                }),
                split_pages: Some(a.split_pages),
                progress: progress(cli.quiet),
            };
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
                filters: a.roles.apply(a.filters.filters()),
                clean: a.clean,
                schema_only: a.schema_only,
                data_only: a.data_only,
                keep_owners: a.keep_owners,
                jobs: a.jobs,
                allow_downgrade: a.allow_downgrade,
                statistics: a.statistics.mode(),
                progress: progress(cli.quiet),
            };
            let s = if a.file.as_os_str() == "-" {
                pgferry_engine::restore_from_reader(&target, std::io::stdin(), &opts).await?
            } else {
                pgferry_engine::restore(&target, &a.file, &opts).await?
            };
            tracing::info!(
                objects = s.objects,
                tables = s.tables,
                rows = s.rows,
                roles_created = ?s.roles_created,
                roles_without_password = ?s.roles_without_password,
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
                            "owner": e.owner, "rows": e.rows, "parts": e.parts, "bytes": e.bytes.map(|b| b.0),
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
        Command::Verify(a) => {
            let source = conn("source", &a.source)?;
            let target = conn("target", &a.target)?;
            let opts = VerifyOptions {
                filters: a.filters.filters(),
                checksums: a.checksums,
                strict: a.strict,
            };
            let report = pgferry_engine::verify(&source, &target, &opts).await?;
            if a.json {
                write_stdout(&format!(
                    "{}\n",
                    serde_json::to_string(&report).unwrap_or_default()
                ))?;
            } else {
                let mut out = String::new();
                for d in &report.target_only {
                    out.push_str(&format!(
                        "target only (a schema the source lacks; sync leaves it alone): {d}\n"
                    ));
                }
                for d in &report.drift {
                    out.push_str(&format!("schema drift: {d}\n"));
                }
                for d in &report.differences {
                    out.push_str(&format!(
                        "data differs: {}: source {}, target {}\n",
                        d.table, d.source, d.target
                    ));
                }
                out.push_str(&format!(
                    "{}: {} tables compared ({}), {} with different data, {} schema differences\n",
                    if report.is_identical() {
                        "identical"
                    } else {
                        "DIFFERENT"
                    },
                    report.tables_checked,
                    if a.checksums {
                        "counts and checksums"
                    } else {
                        "counts"
                    },
                    report.differences.len(),
                    report.drift.len()
                ));
                write_stdout(&out)?;
            }
            return Ok(if report.is_identical() {
                EXIT_OK
            } else {
                EXIT_DIFFERENT
            });
        }
        Command::Status(a) => return status::run(a).await,
        Command::Sync(_) => unreachable!("handled by run_sync"),
    }
    Ok(EXIT_OK)
}

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
                name: &'static str|
     -> Result<ConnSpec, Failure> {
        match (flag, section) {
            (Some(s), _) => Ok(conn(name, s)?),
            (None, Some(sec)) => Ok(sec.resolve(name)?),
            (None, None) => {
                Err(anyhow::anyhow!("--{name} (or [{name}] in --config) is required").into())
            }
        }
    };
    let source = side(&a.source, &cfg.source, "source")?;
    let target = side(&a.target, &cfg.target, "target")?;
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
    .unwrap_or(std::time::Duration::from_secs(30));
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
    let mut filters = a.roles.apply(a.filters.filters());
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
        progress: progress(quiet),
    };
    Ok((source, target, opts, every))
}

fn log_sync(report: &pgferry_engine::SyncReport, seconds: f64) -> u8 {
    let verify = report.verification.as_ref();
    let different = verify.is_some_and(|v| !v.is_identical());
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

async fn run_sync(cli: &Cli, a: &SyncArgs) -> Result<u8, Failure> {
    let (source, target, opts, every) = sync_setup(a, cli.quiet)?;
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
