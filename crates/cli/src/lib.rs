//! The `pgferry` command line: parses arguments, calls the engine, prints
//! errors with `{:#}` and maps them to exit codes (0 ok, 1 runtime failure,
//! 2 usage or bad input, 3 verification differences).
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use pgferry_engine::Error;

mod args;
mod bars;
mod commands;
mod config;
mod failure;

use args::{Cli, Command, LogFormat};
use failure::Failure;

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
    let run_all = std::panic::AssertUnwindSafe(|| rt.block_on(run(&cli)));
    let Ok(result) = std::panic::catch_unwind(run_all) else {
        return ExitCode::from(EXIT_FAILURE);
    };
    failure::exit_code(result)
}

/// Runs the parsed command. SIGINT/SIGTERM cancel every command but `sync`,
/// which handles signals itself (rolls back, records the interruption).
async fn run(cli: &Cli) -> Result<u8, Failure> {
    if let Command::Sync(a) = &cli.command {
        return commands::sync::run(a, cli.quiet).await;
    }
    tokio::select! {
        biased;
        _ = shutdown_signal() => Err(Failure::Engine(Error::Cancelled)),
        r = dispatch(cli) => r,
    }
}

/// Hands the command to its module.
async fn dispatch(cli: &Cli) -> Result<u8, Failure> {
    match &cli.command {
        Command::Dump(a) => commands::dump::run(a, cli.quiet).await,
        Command::Restore(a) => commands::restore::run(a, cli.quiet).await,
        Command::List(a) => commands::list::run(a),
        Command::Ddl(a) => commands::ddl::run(a),
        Command::Verify(a) => commands::verify::run(a).await,
        Command::Status(a) => commands::status::run(a).await,
        Command::Sync(_) => unreachable!("handled by run"),
    }
}

/// Resolves on SIGINT or (on Unix) SIGTERM.
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

/// Logs on stderr: `--log-format`, `--quiet`, or `PGFERRY_LOG` as a filter.
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
