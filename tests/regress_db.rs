//! PostgreSQL 17's own regression database through pgferry.
//!
//! The regression database (what PostgreSQL's pg_upgrade and dump/restore
//! tests round-trip: ~540 tables, partitioning, views, matviews, types,
//! operators, operator classes, access methods, foreign-data objects, ...) is
//! built once per test binary run by `../shared/pg-regress-17/build.sh`
//! (next to the checkout; override: `$PGFERRY_REGRESS_BUILD`) into the database `regression` of a
//! PostgreSQL 17 cluster ([`cluster`]`(17)`), with the psql of the pg_dump 17
//! oracle ([`oracle_bin_dir`]). Scripts that need the C module `regress.so`
//! fail in part; what they leave behind is the source.
//!
//! The reference is what the oracle makes of it: `pg_dump -Fc regression`
//! then `pg_restore -d` (no `--exit-on-error`: objects it cannot recreate are
//! reported on its stderr, which every schema failure message points at)
//! into a fresh database of the same server. Owners are kept by pg_restore,
//! so pgferry runs with `--keep-owners` too. Judged:
//!
//! 1. [`dump_restore_matches_pg_restore`]: `pgferry dump` + `pgferry restore`
//!    into a fresh database on 17: `pg_dump --schema-only` (oracle,
//!    [`normalize_dump`]ed) equals that of the reference; rows (per table:
//!    count and md5 of the sorted rows, columns in name order, [`table_contents`]), sequence
//!    states and matview population equal the source's.
//! 2. [`sync_matches_pg_restore`]: `pgferry sync` into a fresh database on
//!    17, judged the same way, without the target's `pgferry` bookkeeping
//!    schema (`--exclude-schema=pgferry` on both pg_dumps).
//! 3. [`ddl_replays_with_psql`]: `pgferry ddl` of the archive of 1., replayed
//!    by the oracle's psql (`-X -q -v ON_ERROR_STOP=1 -f`) into a fresh
//!    database on 17, exits 0.
//! 4. [`restore_17_to_18_matches_pg_restore_on_18`]: the archive of 1.
//!    restored into a fresh database on PostgreSQL 18, and the regression
//!    database synced straight into another, each judged at catalog
//!    level ([`catalog::describe`], the options of `version_matrix.rs` plus
//!    casts, publications and event triggers) against a reference on the
//!    same 18 server: the oracle's `pg_dump -Fc` archive of 1. restored there
//!    by the oracle's `pg_restore` (pg_dump 17 cannot dump an 18 server, but
//!    pg_restore 17 loads 17's dump into it, as a 17 -> 18 migration with
//!    pg_dump would). Both descriptions come from the same server's
//!    `pg_get_*def` functions, so they differ only by what was created, never
//!    by how a version deparses it: comparing a description taken on 17 with
//!    one taken on 18 would not be sound (18 adds NOT NULL constraints to
//!    `pg_constraint`, deparses some expressions differently, ...), and the
//!    regression database cannot be rebuilt natively on 18 (the scripts are
//!    17's). The regression scripts' roles are copied to the 18 cluster
//!    first (`pg_dumpall --roles-only` of 17), as a real migration would.
//!    Rows, sequences and matview population are compared with the source.
//!
//! Every comparison of a test runs even when an earlier one failed; the test
//! then fails with all of them. A failed comparison writes both sides under
//! `std::env::temp_dir()/pgferry-regress-<test>/` and names the `diff -u`
//! command, with the lines only one side has, the first difference by
//! position ([`first_difference`]) and the head of the diff inline. A failed
//! DDL replay is repeated without `ON_ERROR_STOP` to list every failing
//! statement. Every external program runs bounded (pgferry and the oracle's
//! programs 300 s, the build 900 s): a hang fails rather than blocks.
//!
//! Both clusters get `max_locks_per_transaction = 128` (a restart, once):
//! the testkit's 50 connections make the lock table smaller than a default
//! server's, too small for restoring ~3,500 objects in one transaction.
//! Archives and the build's script outputs live in the 17 cluster's
//! directory, removed with it when the run ends.
//!
//! Needs PostgreSQL 17 and 18 servers and the pg_dump 17 oracle
//! (`bash scripts/install-pg-versions.sh`); missing ones fail the tests with
//! that hint. `PGFERRY_PG_VERSIONS` is not consulted (these tests always need
//! 17 and 18).
//!
//! ```text
//! cargo test --test regress_db -- --nocapture --test-threads=2
//! ```
mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::catalog::{self, DescribeOptions};
use common::{first_difference, matviews, sequences, table_contents, without_pgferry};
use pgferry_testkit::{normalize_dump, oracle_bin_dir, Cluster, TestDb, VERSIONS_INSTALL_HINT};

/// The script that builds the regression database.
/// `../shared/pg-regress-17/build.sh`, beside the checkout.
fn default_build_script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/pg-regress-17/build.sh")
        .to_string_lossy()
        .into_owned()
}
/// Name of the regression database on the 17 cluster.
const REGRESSION: &str = "regression";
/// Bound of one pgferry run.
const PGFERRY_LIMIT: Duration = Duration::from_secs(300);
/// Bound of one oracle program run (pg_dump, pg_restore, psql).
const ORACLE_LIMIT: Duration = Duration::from_secs(300);
/// Bound of the whole regression build (each script is bounded to 60 s by
/// build.sh itself).
const BUILD_LIMIT: Duration = Duration::from_secs(900);
/// Fewer tables (plain and partitioned) than this in the built database: the
/// build went wrong (it leaves ~540).
const MIN_TABLES: u32 = 400;

/// The catalog description of the 18 comparison: `version_matrix.rs`'s, plus
/// casts, publications and event triggers (both sides are on the same server).
const DESCRIBE: DescribeOptions = DescribeOptions {
    extension_versions: true,
    fine_details: true,
    more_objects: true,
    casts_publications_event_triggers: true,
    normalize_spellings: true,
};

// ---------------------------------------------------------------------------
// Running programs, bounded
// ---------------------------------------------------------------------------

/// Runs `cmd` (in its own process group, stdin closed), killing the group
/// and failing when it runs longer than `limit`.
fn run_bounded(mut cmd: Command, what: &str, limit: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"));
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return Output {
                status,
                stdout: out.join().unwrap(),
                stderr: err.join().unwrap(),
            };
        }
        if started.elapsed() > limit {
            // The process group this function started (the child's pid).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!(
                "{what} still running after {limit:?}: killed (it hangs)\n--- stderr (tail):\n{}",
                tail(&err, 30)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Like [`run_bounded`], failing unless the program exits 0.
fn run_ok(cmd: Command, what: &str, limit: Duration) -> Output {
    let out = run_bounded(cmd, what, limit);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stderr (tail):\n{}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
    out
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The first `n` lines of `text`.
fn head(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join("\n")
}

/// `pgferry <args>`, bounded, failing unless it exits 0.
fn pgferry_ok(args: &[&str]) -> Output {
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgferry"));
    cmd.args(args)
        .env("PGFERRY_LOG", "info")
        .env_remove("PGPASSWORD");
    let out = run_bounded(cmd, &format!("pgferry {}", args[0]), PGFERRY_LIMIT);
    assert!(
        out.status.success(),
        "pgferry {} failed ({}){}:\n--- stderr (tail):\n{}",
        args[0],
        out.status,
        if matches!(args[0], "restore" | "sync") {
            " (the test ddl_replays_with_psql lists every statement of the archive's DDL that fails)"
        } else {
            ""
        },
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
    eprintln!(
        "regress_db: pgferry {} took {:.1}s",
        args[0],
        started.elapsed().as_secs_f64()
    );
    out
}

/// The oracle's bin directory (PostgreSQL 17 `pg_dump`, `pg_restore`, `psql`).
fn oracle() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = oracle_bin_dir().unwrap_or_else(|| {
            panic!(
                "regress_db needs the pg_dump 17 oracle (PostgreSQL 17 client programs in \
                 $PGFERRY_ORACLE_BIN or {}/client17/bin), which is not installed. Install it with: \
                 {VERSIONS_INSTALL_HINT}",
                pgferry_testkit::pg_cache_dir().display()
            )
        });
        for p in ["pg_dump", "pg_restore", "psql", "pg_dumpall"] {
            assert!(
                dir.join(p).is_file(),
                "the pg_dump oracle {} lacks {p}; reinstall it with: {VERSIONS_INSTALL_HINT}",
                dir.display()
            );
        }
        let mut cmd = Command::new(dir.join("psql"));
        cmd.arg("--version");
        let version = String::from_utf8_lossy(&run_ok(cmd, "psql --version", ORACLE_LIMIT).stdout)
            .into_owned();
        assert!(
            version.contains("(PostgreSQL) 17."),
            "regress_db: the oracle {} is not PostgreSQL 17 ({version:?}); build.sh needs a psql 17. \
             Install it with: {VERSIONS_INSTALL_HINT}",
            dir.display()
        );
        dir
    })
}

/// An oracle program.
fn oracle_cmd(program: &str) -> Command {
    Command::new(oracle().join(program))
}

/// Oracle `pg_dump --schema-only --exclude-schema=pgferry` of `db`, normalized.
fn schema_dump(db: &TestDb) -> String {
    let mut cmd = oracle_cmd("pg_dump");
    cmd.args([
        "--schema-only",
        "--exclude-schema=pgferry",
        "-d",
        &db.conn_string(),
    ]);
    let out = run_ok(cmd, "pg_dump --schema-only", ORACLE_LIMIT);
    normalize_dump(&String::from_utf8(out.stdout).expect("pg_dump output is UTF-8"))
}

// ---------------------------------------------------------------------------
// Shared, built once per test binary run
// ---------------------------------------------------------------------------

/// The text of a panic payload.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-text panic)".into())
}

/// `init` run once per test binary run; a failure (panic) is kept and
/// reported by every test that needs it, so that nothing expensive runs twice.
fn once<T: Send + Sync>(
    cell: &'static OnceLock<Result<T, String>>,
    what: &str,
    init: impl FnOnce() -> T,
) -> &'static T {
    let r = cell.get_or_init(|| catch_unwind(AssertUnwindSafe(init)).map_err(panic_text));
    match r {
        Ok(v) => v,
        Err(e) => panic!("regress_db: {what} failed (once, for every test of this run):\n{e}"),
    }
}

/// The testkit's cluster of `major` ([`catalog::cluster`]), its lock table
/// sized as a default server's (`max_locks_per_transaction` 128 × the
/// testkit's 50 connections = 64 × the default 100): pgferry restores the
/// regression database in one transaction, which takes ~3,500 locks. Set
/// once, before anything else uses the cluster (a restart).
fn server(major: u32) -> &'static Cluster {
    static CELLS: [OnceLock<Result<(), String>>; 2] = [OnceLock::new(), OnceLock::new()];
    let cell = match major {
        17 => &CELLS[0],
        18 => &CELLS[1],
        _ => unreachable!("regress_db uses PostgreSQL 17 and 18 only"),
    };
    once(cell, &format!("starting PostgreSQL {major}"), || {
        let c = catalog::cluster(major);
        c.database("postgres")
            .execute_batch("ALTER SYSTEM SET max_locks_per_transaction = 128");
        c.stop_immediate();
        c.restart();
    });
    catalog::cluster(major)
}

/// A directory for this run's archives, inside the 17 cluster's directory
/// (the testkit's watchdog removes it with the cluster when the run ends).
fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = server(17).root_dir().join("regress_db");
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        dir
    })
}

/// A path in [`work_dir`] as text.
fn work_file(name: &str) -> String {
    work_dir().join(name).to_str().unwrap().to_string()
}

/// The regression database on the 17 cluster.
fn source() -> &'static TestDb {
    static CELL: OnceLock<Result<TestDb, String>> = OnceLock::new();
    once(&CELL, "building the regression database", || {
        let c17: &Cluster = server(17);
        let script = std::env::var("PGFERRY_REGRESS_BUILD")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(default_build_script);
        assert!(
            Path::new(&script).is_file(),
            "regress_db: the regression build script {script} is missing \
             (PostgreSQL 17's regression scripts with build.sh; set $PGFERRY_REGRESS_BUILD)"
        );
        let started = Instant::now();
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .arg(oracle().join("psql"))
            .arg(c17.port().to_string())
            .arg(REGRESSION)
            .arg(c17.socket_dir())
            .env("PGUSER", "postgres")
            // build.sh keeps the scripts' outputs in a `mktemp -d`: here.
            .env("TMPDIR", work_dir());
        let out = run_ok(cmd, "build.sh (the regression database)", BUILD_LIMIT);
        let db = c17.database(REGRESSION);
        let tables: u32 = db
            .query_one_string(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
            )
            .unwrap()
            .parse()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            tables >= MIN_TABLES,
            "regress_db: the regression database has only {tables} tables (expected >= {MIN_TABLES}):\n{stdout}\n{}",
            tail(&String::from_utf8_lossy(&out.stderr), 20)
        );
        eprintln!(
            "regress_db: built in {:.1}s ({tables} tables): {}",
            started.elapsed().as_secs_f64(),
            stdout.trim()
        );
        db
    })
}

/// The oracle's `pg_dump -Fc` archive of the regression database.
fn pg_dump_archive() -> &'static str {
    static CELL: OnceLock<Result<String, String>> = OnceLock::new();
    once::<String>(&CELL, "pg_dump -Fc of the regression database", || {
        let path = work_file("regression.dump");
        let mut cmd = oracle_cmd("pg_dump");
        cmd.args(["-Fc", "-f", &path, "-d", &source().conn_string()]);
        run_ok(cmd, "pg_dump -Fc", ORACLE_LIMIT);
        path
    })
}

/// A copy made by the oracle's pg_restore.
#[derive(Debug)]
struct Reference {
    db: TestDb,
    /// pg_restore's stderr (errors of objects it could not recreate).
    stderr: String,
    /// Where that stderr is kept.
    stderr_path: String,
}

impl Reference {
    /// A summary of pg_restore's errors for failure messages.
    fn note(&self) -> String {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.contains("error:") || l.contains("ERROR"))
            .collect();
        if errors.is_empty() {
            return "pg_restore into the reference reported no errors".into();
        }
        format!(
            "pg_restore into the reference ({}) reported {} errors (full stderr: {}), first:\n  {}",
            self.db.name,
            errors.len(),
            self.stderr_path,
            errors
                .iter()
                .take(6)
                .copied()
                .collect::<Vec<_>>()
                .join("\n  ")
        )
    }
}

/// `pg_restore -d` of [`pg_dump_archive`] into a fresh database of `cluster`
/// (exit status accepted: errors are kept for the messages).
fn make_reference(cluster: &Cluster, major: u32) -> Reference {
    let archive = pg_dump_archive();
    let started = Instant::now();
    let db = cluster.create_database(&format!("regress_ref_{major}"));
    let mut cmd = oracle_cmd("pg_restore");
    cmd.args(["-d", &db.conn_string(), archive]);
    let out = run_bounded(cmd, "pg_restore (reference)", ORACLE_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stderr_path = work_file(&format!("pg_restore_{major}.stderr"));
    fs::write(&stderr_path, &stderr).unwrap();
    let r = Reference {
        db,
        stderr,
        stderr_path,
    };
    eprintln!(
        "regress_db: reference on {major} in {:.1}s ({}); {}",
        started.elapsed().as_secs_f64(),
        out.status,
        r.note().lines().next().unwrap_or("")
    );
    r
}

/// The reference on 17.
fn reference_17() -> &'static Reference {
    static CELL: OnceLock<Result<Reference, String>> = OnceLock::new();
    once(&CELL, "the pg_restore reference on 17", || {
        make_reference(server(17), 17)
    })
}

/// The reference on 18 (after the roles of 17 were copied there).
fn reference_18() -> &'static Reference {
    static CELL: OnceLock<Result<Reference, String>> = OnceLock::new();
    once(&CELL, "the pg_restore reference on 18", || {
        copy_roles_to_18();
        make_reference(server(18), 18)
    })
}

/// `pg_dumpall --roles-only` of the 17 cluster loaded into the 18 cluster
/// (errors for roles that exist there already are expected and ignored).
fn copy_roles_to_18() {
    static CELL: OnceLock<Result<(), String>> = OnceLock::new();
    once(&CELL, "copying the roles of 17 to 18", || {
        source();
        let mut cmd = oracle_cmd("pg_dumpall");
        cmd.args(["--roles-only", "-d", &server(17).conn_string("postgres")]);
        let roles = run_ok(cmd, "pg_dumpall --roles-only", ORACLE_LIMIT).stdout;
        let path = work_file("roles.sql");
        fs::write(&path, roles).unwrap();
        let mut cmd = oracle_cmd("psql");
        cmd.args([
            "-X",
            "-q",
            "-d",
            &server(18).conn_string("postgres"),
            "-f",
            &path,
        ]);
        run_bounded(cmd, "psql (roles into 18)", ORACLE_LIMIT);
    });
}

/// pgferry's archive of the regression database.
fn pgferry_archive() -> &'static str {
    static CELL: OnceLock<Result<String, String>> = OnceLock::new();
    once::<String>(&CELL, "pgferry dump of the regression database", || {
        let path = work_file("regression.pgf");
        pgferry_ok(&["dump", "--source", &source().conn_string(), "-o", &path]);
        path
    })
}

// ---------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------

/// The failed comparisons of one test.
#[derive(Debug)]
struct Failures {
    test: &'static str,
    list: Vec<String>,
}

impl Failures {
    fn new(test: &'static str) -> Self {
        Failures {
            test,
            list: Vec::new(),
        }
    }

    /// The directory both sides of a failed comparison are written to.
    fn out_dir(&self) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pgferry-regress-{}", self.test));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Compares two texts; on a difference, keeps both and records it.
    fn text(&mut self, what: &str, (la, a): (&str, &str), (lb, b): (&str, &str), note: &str) {
        if a == b {
            eprintln!("regress_db: {}: {what}: equal", self.test);
            return;
        }
        let dir = self.out_dir();
        let slug: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let pa = dir.join(format!("{slug}.{la}.txt"));
        let pb = dir.join(format!("{slug}.{lb}.txt"));
        fs::write(&pa, a).unwrap();
        fs::write(&pb, b).unwrap();
        let diff = Command::new("diff")
            .arg("-u")
            .arg(&pa)
            .arg(&pb)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let changed = diff
            .lines()
            .skip(2)
            .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("@@"))
            .count();
        let mut msg = format!(
            "{what}: {la} and {lb} differ ({changed} changed lines): diff -u {} {}\n",
            pa.display(),
            pb.display()
        );
        // As sets of lines (most comparisons are sorted lists).
        let (sa, sb): (BTreeSet<&str>, BTreeSet<&str>) = (a.lines().collect(), b.lines().collect());
        for (label, only) in [(la, sa.difference(&sb)), (lb, sb.difference(&sa))] {
            let only: Vec<&&str> = only.collect();
            let _ = writeln!(
                msg,
                "--- {} lines only in {label}{}",
                only.len(),
                if only.is_empty() { "" } else { ", first 25:" }
            );
            for l in only.iter().take(25) {
                let _ = writeln!(msg, "  {l}");
            }
        }
        let _ = writeln!(
            msg,
            "--- first difference by position:\n{}",
            first_difference(a, b)
        );
        if !diff.is_empty() {
            let _ = writeln!(msg, "--- diff -u (first 30 lines):\n{}", head(&diff, 30));
        }
        if !note.is_empty() {
            let _ = writeln!(msg, "--- {note}");
        }
        eprintln!(
            "regress_db: {}: {what}: DIFFERS ({changed} changed lines): diff -u {} {}",
            self.test,
            pa.display(),
            pb.display()
        );
        self.list.push(msg);
    }

    /// Compares query results (one line per row).
    fn rows(
        &mut self,
        what: &str,
        a: (&str, &[Vec<Option<String>>]),
        b: (&str, &[Vec<Option<String>>]),
    ) {
        let (ta, tb) = (render(a.1), render(b.1));
        self.text(what, (a.0, &ta), (b.0, &tb), "");
    }

    /// Records a failure that is not a comparison.
    fn push(&mut self, msg: String) {
        eprintln!(
            "regress_db: {}: {}",
            self.test,
            msg.lines().next().unwrap_or("")
        );
        self.list.push(msg);
    }

    /// Fails the test with every recorded failure.
    fn finish(self, started: Instant) {
        eprintln!(
            "regress_db: {}: done in {:.1}s, {} failed comparisons",
            self.test,
            started.elapsed().as_secs_f64(),
            self.list.len()
        );
        if !self.list.is_empty() {
            panic!(
                "{}: {} failed comparisons:\n\n{}",
                self.test,
                self.list.len(),
                self.list.join("\n\n")
            );
        }
    }
}

/// Rows as text, one line each, NULL as `∅`.
fn render(rows: &[Vec<Option<String>>]) -> String {
    rows.iter()
        .map(|r| {
            r.iter()
                .map(|v| v.as_deref().unwrap_or("∅"))
                .collect::<Vec<_>>()
                .join(" | ")
                + "\n"
        })
        .collect()
}

/// Rows, sequence states and matview population of `copy` against the source.
fn compare_data(f: &mut Failures, copy: &TestDb) {
    let src = source();
    let started = Instant::now();
    f.rows(
        "table contents",
        ("source", &table_contents(src)),
        ("pgferry", &without_pgferry(table_contents(copy))),
    );
    f.rows(
        "sequences",
        ("source", &sequences(src)),
        ("pgferry", &without_pgferry(sequences(copy))),
    );
    f.rows(
        "matview population",
        ("source", &matviews(src)),
        ("pgferry", &without_pgferry(matviews(copy))),
    );
    eprintln!(
        "regress_db: {}: data compared in {:.1}s",
        f.test,
        started.elapsed().as_secs_f64()
    );
}

/// The schema of `copy` (on 17) against the 17 reference, by the oracle.
fn compare_schema_17(f: &mut Failures, copy: &TestDb) {
    let reference = reference_17();
    let (a, b) = (schema_dump(&reference.db), schema_dump(copy));
    f.text(
        "pg_dump --schema-only",
        ("reference", &a),
        ("pgferry", &b),
        &reference.note(),
    );
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// `pgferry dump` + `pgferry restore` on 17 equals `pg_dump | pg_restore`.
#[test]
fn dump_restore_matches_pg_restore() {
    let started = Instant::now();
    let mut f = Failures::new("dump_restore");
    reference_17();
    let copy = server(17).create_database("regress_restore");
    pgferry_ok(&[
        "restore",
        "--keep-owners",
        "--target",
        &copy.conn_string(),
        pgferry_archive(),
    ]);
    compare_schema_17(&mut f, &copy);
    compare_data(&mut f, &copy);
    f.finish(started);
}

/// `pgferry sync` into an empty database on 17 equals `pg_dump | pg_restore`.
#[test]
fn sync_matches_pg_restore() {
    let started = Instant::now();
    let mut f = Failures::new("sync");
    reference_17();
    let copy = server(17).create_database("regress_sync");
    pgferry_ok(&[
        "sync",
        "--keep-owners",
        "--source",
        &source().conn_string(),
        "--target",
        &copy.conn_string(),
    ]);
    compare_schema_17(&mut f, &copy);
    compare_data(&mut f, &copy);
    f.finish(started);
}

/// `pgferry ddl` of the archive replays with psql `ON_ERROR_STOP` on 17.
/// When it does not, a second replay without `ON_ERROR_STOP` (into another
/// fresh database) lists every statement that fails, for the message.
#[test]
fn ddl_replays_with_psql() {
    let started = Instant::now();
    let mut f = Failures::new("ddl");
    let ddl = pgferry_ok(&["ddl", pgferry_archive()]).stdout;
    let path = f.out_dir().join("regression.ddl.sql");
    fs::write(&path, &ddl).unwrap();
    let replay = |hint: &str, stop: bool| {
        let db = server(17).create_database(hint);
        let mut cmd = oracle_cmd("psql");
        cmd.args(["-X", "-q", "-d", &db.conn_string(), "-v"])
            .arg(if stop {
                "ON_ERROR_STOP=1"
            } else {
                "ON_ERROR_STOP=0"
            })
            .arg("-f")
            .arg(&path)
            .env("PGOPTIONS", "-c client_min_messages=warning");
        run_bounded(cmd, "psql -f (pgferry ddl)", ORACLE_LIMIT)
    };
    let out = replay("regress_ddl", true);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let text = String::from_utf8_lossy(&ddl);
        let mut msg = format!(
            "psql -X -q -v ON_ERROR_STOP=1 -f {} failed ({}):\n{}",
            path.display(),
            out.status,
            head(&err, 12)
        );
        // The failing statement: `psql:FILE:LINE: ERROR: ...`.
        let prefix = format!("psql:{}:", path.display());
        let line: Option<usize> = err.lines().find_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (n, what) = rest.split_once(':')?;
            what.contains("ERROR").then(|| n.parse().ok()).flatten()
        });
        if let Some(n) = line {
            let from = n.saturating_sub(6);
            let _ = write!(
                msg,
                "\n--- lines {}..{} of the ddl:\n{}",
                from + 1,
                n + 2,
                text.lines()
                    .skip(from)
                    .take(n + 2 - from)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        let all = replay("regress_ddl_all", false);
        let all_err = String::from_utf8_lossy(&all.stderr);
        let errors: Vec<String> = all_err
            .lines()
            .filter(|l| l.contains("ERROR:"))
            .map(|l| l.strip_prefix(&prefix).unwrap_or(l).to_string())
            .collect();
        let errors_path = f.out_dir().join("regression.ddl.errors.txt");
        fs::write(&errors_path, all_err.as_bytes()).unwrap();
        let _ = write!(
            msg,
            "\n--- replayed without ON_ERROR_STOP: {} statements fail (all of psql's stderr: {}), first 40:\n  {}",
            errors.len(),
            errors_path.display(),
            errors
                .iter()
                .take(40)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
        f.push(msg);
    }
    f.finish(started);
}

/// The pgferry archive of 17 restored on 18 equals pg_restore's copy on 18.
#[test]
fn restore_17_to_18_matches_pg_restore_on_18() {
    let started = Instant::now();
    let mut f = Failures::new("restore_17_to_18");
    let reference = reference_18();
    let copy = server(18).create_database("regress_restore_18");
    pgferry_ok(&[
        "restore",
        "--keep-owners",
        "--target",
        &copy.conn_string(),
        pgferry_archive(),
    ]);
    // The same database synced straight from 17 into 18.
    let synced = server(18).create_database("regress_sync_18");
    pgferry_ok(&[
        "sync",
        "--keep-owners",
        "--source",
        &source().conn_string(),
        "--target",
        &synced.conn_string(),
    ]);
    let describe = |db: &TestDb| catalog::describe(db, 18, &DESCRIBE).join("\n") + "\n";
    let a = describe(&reference.db);
    for (what, db) in [("restored", &copy), ("synced", &synced)] {
        f.text(
            &format!("catalog description on 18 ({what})"),
            ("reference", &a),
            ("pgferry", &describe(db)),
            &reference.note(),
        );
    }
    compare_data(&mut f, &synced);
    compare_data(&mut f, &copy);
    f.finish(started);
}
