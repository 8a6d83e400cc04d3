//! Embedding pgferry in a service: dump one database into a temporary archive
//! and restore it into another in one transaction, replacing what the archive
//! contains there (`clean: true`).
//!
//! ```text
//! cargo run --example embed -- 'host=/var/run/postgresql dbname=app' 'postgresql://me@replica.internal/app'
//! PGFERRY_SOURCE='…' PGFERRY_TARGET='…' cargo run --example embed
//! ```
//!
//! Connection strings are libpq key=value strings or URIs; `PGHOST`, `PGUSER`,
//! `PGPASSWORD`, … and `~/.pgpass` fill in what they leave out.
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pgferry::engine::{
    dump_to_path, restore, ConnSpec, DumpOptions, Progress, ProgressFn, RestoreOptions,
};

/// The `n`-th command-line argument, else the environment variable `var`.
fn arg_or_env(n: usize, var: &str, what: &str) -> Result<String> {
    if let Some(a) = std::env::args().nth(n) {
        return Ok(a);
    }
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => bail!(
            "no {what} connection string: pass it as argument {n} or set {var} \
             (usage: embed SOURCE TARGET)"
        ),
    }
}

/// A progress callback printing one line per table: `[dump 3/4] public.orders: 3000 rows, 180 kB`.
fn progress(phase: &'static str, expected_tables: usize) -> ProgressFn {
    let total = Arc::new(AtomicUsize::new(expected_tables));
    let done = Arc::new(AtomicUsize::new(0));
    ProgressFn::new(move |p: &Progress| match p {
        Progress::CatalogRead { objects, tables } => {
            total.store(*tables, Ordering::Relaxed);
            println!("[{phase}] catalog read: {objects} objects, {tables} tables with data");
        }
        Progress::TableDone { table, rows, bytes } => {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let total = total.load(Ordering::Relaxed);
            println!(
                "[{phase} {n}/{total}] {table}: {rows} rows, {} kB",
                bytes.div_ceil(1024)
            );
        }
        Progress::PostData => println!("[{phase}] creating indexes, constraints, triggers, …"),
        Progress::Finished => println!("[{phase}] done"),
        // TableStarted, and kinds added by future versions.
        _ => {}
    })
}

async fn run() -> Result<()> {
    let source = ConnSpec::parse(&arg_or_env(1, "PGFERRY_SOURCE", "source")?)
        .context("source connection string")?;
    let target = ConnSpec::parse(&arg_or_env(2, "PGFERRY_TARGET", "target")?)
        .context("target connection string")?;
    // ConnSpec's Display is `user@host:port/db`: it never shows a password.
    println!("source: {source}\ntarget: {target}");

    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let archive = dir.path().join("snapshot.pgf");

    let started = Instant::now();
    let dumped = dump_to_path(
        &source,
        &DumpOptions {
            progress: Some(progress("dump", 0)),
            ..Default::default()
        },
        &archive,
    )
    .await
    .context("dump failed")?;
    let dump_time = started.elapsed();
    let archive_size = std::fs::metadata(&archive)
        .with_context(|| format!("reading the size of {}", archive.display()))?
        .len();

    let started = Instant::now();
    let restored = restore(
        &target,
        &archive,
        &RestoreOptions {
            clean: true,
            progress: Some(progress("restore", dumped.tables)),
            ..Default::default()
        },
    )
    .await
    .context("restore failed (the target is unchanged)")?;
    let restore_time = started.elapsed();

    println!();
    println!(
        "dumped   {} objects, {} tables, {} rows ({} kB of COPY data, archive {} kB) in {:.2} s",
        dumped.objects,
        dumped.tables,
        dumped.rows,
        dumped.raw_bytes.div_ceil(1024),
        archive_size.div_ceil(1024),
        dump_time.as_secs_f64()
    );
    println!(
        "restored {} objects, {} tables, {} rows in one transaction in {:.2} s",
        restored.objects,
        restored.tables,
        restored.rows,
        restore_time.as_secs_f64()
    );
    if restored.rows != dumped.rows {
        bail!("restored {} rows but dumped {}", restored.rows, dumped.rows);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embed: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
