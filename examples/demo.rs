//! The pgferry demo: make a replica database an exact copy of a primary, with
//! the real `pgferry` binary, on a throwaway local PostgreSQL cluster.
//!
//! 1. starts a private cluster (one server, two databases: a primary and a replica);
//! 2. loads `fixtures/sample_app.sql` into the primary and puts stale data into
//!    the replica (an old `orders` table with other rows, a leftover table);
//! 3. runs `pgferry dump`, `pgferry list` and `pgferry restore --clean`;
//! 4. changes the primary (new rows, a new column) while an application
//!    session sits on the replica, then runs the failover cycle in one
//!    command: `pgferry sync --verify checksums` (incremental: the changed
//!    tables and what depends on them are rebuilt, the others compared and
//!    kept, the application session left alone), then `pgferry status` and
//!    `pgferry verify`;
//! 5. checks with SQL that the replica now has exactly the primary's tables,
//!    row counts and contents, and prints a report. Exits 1 if anything differs.
//!
//! Run it with `bash scripts/demo.sh`, or by hand:
//! `cargo build --release --bin pgferry --example demo && target/release/examples/demo`.
//! `PGFERRY_BIN=/path/to/pgferry` overrides which binary is run.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pgferry_testkit::{Cluster, TestDb};

/// The `pgferry` binary built next to this example (`target/<profile>/pgferry`).
fn pgferry_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PGFERRY_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().context("locating the demo executable")?;
    // Examples live in target/<profile>/examples/, the binary in target/<profile>/.
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the demo executable has no target/<profile> directory above it")?;
    let bin = profile_dir.join(format!("pgferry{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "the pgferry binary is not built: {} does not exist.\n\
             Run `cargo build --release --bin pgferry --example demo` first \
             (or simply `bash scripts/demo.sh`), or set PGFERRY_BIN.",
            bin.display()
        );
    }
    Ok(bin)
}

/// `a` as a shell word (single-quoted when it holds anything but plain characters).
fn shell_quote(a: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@,".contains(c);
    if !a.is_empty() && a.chars().all(plain) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// Runs `pgferry args…`, echoing the command line; fails with its stderr on a non-zero exit.
fn pgferry(bin: &Path, args: &[&str]) -> Result<(Output, Duration)> {
    let shown: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    println!("$ pgferry {}", shown.join(" "));
    let started = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("PGFERRY_LOG", "info")
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        println!("  | {line}");
    }
    if !out.status.success() {
        bail!(
            "pgferry {} exited with {}",
            args.first().copied().unwrap_or(""),
            out.status
                .code()
                .map_or_else(|| "a signal".to_string(), |c| format!("code {c}"))
        );
    }
    Ok((out, took))
}

/// One user table: quoted name, row count and an order-independent content hash.
#[derive(Debug, PartialEq, Eq)]
struct TableState {
    name: String,
    rows: u64,
    hash: String,
}

/// Every ordinary table outside the system schemas, with its rows and content hash.
fn tables(db: &TestDb) -> Result<Vec<TableState>> {
    let names = db.query_strings(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') \
           AND n.nspname !~ '^pg_' ORDER BY 1",
    );
    let mut out = Vec::new();
    for row in names {
        let name = row[0].clone().context("NULL table name")?;
        let r = db.query_strings(&format!(
            "SELECT count(*)::text, \
             md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM ONLY {name} x"
        ));
        let rows = r[0][0]
            .as_deref()
            .unwrap_or("0")
            .parse()
            .with_context(|| format!("row count of {name}"))?;
        let hash = r[0][1].clone().unwrap_or_default();
        out.push(TableState { name, rows, hash });
    }
    Ok(out)
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn run() -> Result<bool> {
    let bin = pgferry_bin()?;
    println!("pgferry binary: {}", bin.display());

    let started = Instant::now();
    let cluster = Cluster::start();
    println!(
        "started a throwaway PostgreSQL {} cluster on 127.0.0.1:{} in {:.2} s",
        cluster.major_version(),
        cluster.port(),
        started.elapsed().as_secs_f64()
    );
    let primary = cluster.create_database("primary");
    let replica = cluster.create_database("replica");

    let started = Instant::now();
    primary.load_fixture("sample_app.sql");
    println!(
        "loaded fixtures/sample_app.sql into the primary ({}) in {:.2} s",
        primary.name,
        started.elapsed().as_secs_f64()
    );
    // Yesterday's copy on the replica: an old `orders` with other columns and
    // rows, and a table the primary no longer has. All of it must go.
    replica.execute_batch(
        "CREATE TABLE public.orders (id int PRIMARY KEY, note text); \
         INSERT INTO public.orders SELECT g, 'stale order ' || g FROM generate_series(1, 42) g; \
         CREATE TABLE public.stale_leftovers (id int, payload text); \
         INSERT INTO public.stale_leftovers SELECT g, repeat('x', 100) FROM generate_series(1, 500) g;",
    );
    println!(
        "replica ({}) holds stale data: public.orders (42 rows, old shape), public.stale_leftovers (500 rows)",
        replica.name
    );

    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let archive = dir.path().join("primary.pgf");
    let archive_s = archive
        .to_str()
        .context("temporary directory path is not UTF-8")?;
    let (src, dst) = (primary.conn_string(), replica.conn_string());

    println!();
    let (_, dump_time) = pgferry(&bin, &["dump", "--source", &src, "-o", archive_s])?;
    let archive_size = std::fs::metadata(&archive)
        .with_context(|| format!("reading {}", archive.display()))?
        .len();

    println!();
    let (listed, list_time) = pgferry(&bin, &["list", archive_s])?;
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        println!("  {line}");
    }

    println!();
    let (_, restore_time) = pgferry(&bin, &["restore", "--clean", "--target", &dst, archive_s])?;

    // The primary moves on; an application keeps a session open on the replica.
    println!();
    primary.execute_batch(
        "ALTER TABLE public.customers ADD COLUMN loyalty_tier text DEFAULT 'bronze'; \
         INSERT INTO public.orders (customer_id, placed_at, status) \
         SELECT 1 + g % 1000, now(), 'new' FROM generate_series(1, 250) g;",
    );
    println!("the primary changed: customers.loyalty_tier added, 250 new orders");
    let app_session = std::thread::spawn({
        let replica = replica.clone();
        move || {
            let _ = replica.try_execute_batch("SELECT pg_sleep(30)");
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    println!("an application session is busy on the replica");
    println!();
    let (_, sync_time) = pgferry(
        &bin,
        &[
            "sync",
            "--source",
            &src,
            "--target",
            &dst,
            "--verify",
            "checksums",
        ],
    )?;
    let _ = app_session.join();
    println!();
    let (status, _) = pgferry(&bin, &["status", "--target", &dst])?;
    for line in String::from_utf8_lossy(&status.stdout).lines() {
        println!("  {line}");
    }
    println!();
    let (verified, _) = pgferry(
        &bin,
        &["verify", "--checksums", "--source", &src, "--target", &dst],
    )?;
    for line in String::from_utf8_lossy(&verified.stdout).lines() {
        println!("  {line}");
    }

    // Check: the same tables, the same row counts, the same contents.
    let (a, b) = (tables(&primary)?, tables(&replica)?);
    let total = |v: &[TableState]| v.iter().map(|t| t.rows).sum::<u64>();
    let order_total = |db: &TestDb| {
        db.query_one_string("SELECT sum(total)::text FROM public.order_totals")
            .unwrap_or_default()
    };
    let (total_a, total_b) = (order_total(&primary), order_total(&replica));

    println!();
    println!("report");
    println!("  dump     {:>7.2} s", dump_time.as_secs_f64());
    println!("  list     {:>7.2} s", list_time.as_secs_f64());
    println!(
        "  restore  {:>7.2} s  (one transaction, --clean)",
        restore_time.as_secs_f64()
    );
    println!("  archive  {} ({archive_size} bytes)", kib(archive_size));
    println!(
        "  sync     {:>7.2} s  (one transaction: compare, rebuild what changed, keep the rest, verify checksums, record)",
        sync_time.as_secs_f64()
    );
    println!();
    println!(
        "  {:<28} {:>10} {:>10}  contents",
        "table", "primary", "replica"
    );
    let mut same = true;
    let mut names: Vec<&str> = a.iter().chain(&b).map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let x = a.iter().find(|t| t.name == name);
        let y = b.iter().find(|t| t.name == name);
        let rows =
            |t: Option<&TableState>| t.map_or_else(|| "-".to_string(), |t| t.rows.to_string());
        let verdict = match (x, y) {
            (Some(x), Some(y)) if x == y => "identical",
            (Some(x), Some(y)) if x.rows == y.rows => "DIFFERENT CONTENTS",
            (Some(_), Some(_)) => "DIFFERENT ROW COUNT",
            (Some(_), None) => "MISSING ON REPLICA",
            (None, _) => "ONLY ON REPLICA",
        };
        same &= verdict == "identical";
        println!("  {name:<28} {:>10} {:>10}  {verdict}", rows(x), rows(y));
    }
    println!("  {:<28} {:>10} {:>10}", "total rows", total(&a), total(&b));
    println!("  sum of order_totals.total: primary {total_a}, replica {total_b}");
    same &= total_a == total_b && !total_a.is_empty();

    println!();
    if same {
        println!(
            "OK: the replica is an exact copy of the primary ({} tables, {} rows)",
            a.len(),
            total(&a)
        );
    } else {
        println!("FAILED: the replica differs from the primary");
    }
    // `cluster` is dropped here: the server stops and its directory is removed.
    drop(cluster);
    Ok(same)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
