//! Version matrix: for every requested source major and every requested target
//! major >= it, `pgferry dump` the fixture database on the source and
//! `pgferry restore` it on the target, then judge the result on the target
//! server:
//!
//! * against a reference copy made on the same target server with
//!   `pg_dump -Fc source | pg_restore` whenever a `pg_dump`/`pg_restore` that
//!   handles the target major is available: the target's own (Debian's 15)
//!   or the pg_dump 17 oracle ([`oracle_bin_dir`], installed by
//!   `scripts/install-pg-versions.sh`) for targets 13, 14, 16 and 17. Then
//!   `pg_dump --schema-only` (same programs) of the pgferry restore must
//!   equal that of the reference. For target 18 (no pg_dump 18 available)
//!   the reference is the same fixture files (`schema.sql` plus
//!   `versions/NN.sql` for NN <= the source major) loaded into a fresh
//!   database of the target server, and the schema is judged at catalog
//!   level only;
//! * by catalog-level descriptions (types, tables, columns, defaults,
//!   constraints, indexes, triggers, functions, ... through `pg_get_*def`) of
//!   both databases, which must be equal;
//! * by row contents and sequence states, compared with the source.
//!
//! Majors come from `PGFERRY_PG_VERSIONS` (e.g. `13,14,15,16,17,18`; unset:
//! only the default server's major). A requested major that is not installed
//! fails the test with the install command (`bash scripts/install-pg-versions.sh`);
//! so does a missing pg_dump oracle when a target other than 15 and 18 is
//! requested, unless `PGFERRY_NO_ORACLE=1` (then those targets fall back to
//! the fixture reference and catalog-level comparison).
//!
//! ```text
//! bash scripts/install-pg-versions.sh
//! PGFERRY_PG_VERSIONS=13,14,15,16,17,18 cargo test --test version_matrix -- --nocapture
//! ```
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use common::catalog::{self, assert_same_lines, cluster, DescribeOptions};
use common::*;
use pgferry_testkit::{normalize_dump, oracle_bin_dir, requested_majors, TestDb};

/// What the catalog descriptions compare: everything but casts, publications
/// and event triggers, with the `AT TIME ZONE` spellings of servers before 14
/// and 14+ made alike.
const DESCRIBE: DescribeOptions = DescribeOptions {
    extension_versions: true,
    fine_details: true,
    more_objects: true,
    casts_publications_event_triggers: false,
    normalize_spellings: true,
};

/// A normalized, sorted description of the user objects of `db`, for
/// comparing two databases on the same server (`major`).
fn describe(db: &TestDb, major: u32) -> Vec<String> {
    catalog::describe(db, major, &DESCRIBE)
}

/// The fixture database on the source cluster of `major` (loaded once).
fn source_db(major: u32) -> TestDb {
    static SOURCES: OnceLock<Mutex<HashMap<u32, TestDb>>> = OnceLock::new();
    let cluster = cluster(major);
    let mut map = SOURCES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(major)
        .or_insert_with(|| {
            let db = cluster.create_database(&format!("matrix_src_{major}"));
            db.load_fixture_for_major(major);
            db.load_kind_fixtures();
            db
        })
        .clone()
}

/// All (source, target) pairs with target >= source among the requested majors.
fn pairs() -> Vec<(u32, u32)> {
    let majors = requested_majors();
    let mut out = Vec::new();
    for &s in &majors {
        for &t in majors.iter().filter(|t| **t >= s) {
            out.push((s, t));
        }
    }
    out
}

/// Dumps the source of `major` with pgferry into `dir`.
fn dump(major: u32, dir: &Path) -> String {
    let src = source_db(major);
    let path = dir.join(format!("src{major}.pgf"));
    let path = path.to_str().unwrap().to_string();
    if !Path::new(&path).exists() {
        pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &path]);
    }
    path
}

/// Runs one pair; returns what it compared against.
fn run_pair(source: u32, target: u32, dir: &Path) -> String {
    let started = Instant::now();
    let src = source_db(source);
    let archive = dump(source, dir);
    let tgt = cluster(target);
    let restored = tgt.create_database(&format!("matrix_{source}_to_{target}"));
    pgferry_ok(&["restore", "--target", &restored.conn_string(), &archive]);

    // The reference copy on the target server.
    let (reference, how) = if let Some(tools) = judge_tools(target) {
        let reference = tgt.create_database(&format!("matrix_{source}_to_{target}_ref"));
        pg_dump_restore(&tools, &src, &reference, target);
        let (a, b) = (
            dump_schema(&tools, &reference),
            dump_schema(&tools, &restored),
        );
        if a != b {
            let keep = std::env::temp_dir().join(format!("pgferry-matrix-{source}-to-{target}"));
            std::fs::create_dir_all(&keep).unwrap();
            std::fs::write(keep.join("reference.sql"), &a).unwrap();
            std::fs::write(keep.join("pgferry.sql"), &b).unwrap();
            panic!(
                "{source} -> {target}: pg_dump --schema-only ({label}) of the pgferry restore \
                 differs from that of a pg_dump -Fc | pg_restore copy on the same server \
                 (both kept: diff -u {keep}/reference.sql {keep}/pgferry.sql):\n{diff}",
                label = tools.label,
                keep = keep.display(),
                diff = first_difference(&a, &b)
            );
        }
        (
            reference,
            format!(
                "pg_dump -Fc | pg_restore, pg_dump --schema-only equal, with {}",
                tools.label
            ),
        )
    } else {
        let why = if target > 17 {
            format!("no pg_dump {target} available")
        } else {
            "PGFERRY_NO_ORACLE=1".to_string()
        };
        let reference = if source == target {
            src.clone()
        } else {
            let reference = tgt.create_database(&format!("matrix_{source}_to_{target}_ref"));
            reference.load_fixture_for_major(source);
            reference.load_kind_fixtures();
            reference
        };
        let what = if source == target {
            "the source database itself"
        } else {
            "the fixture loaded on the target server"
        };
        (
            reference,
            format!("{what}; schema judged at catalog level only: {why}"),
        )
    };
    let (mut a, mut b) = (describe(&reference, target), describe(&restored, target));
    if how.starts_with("the fixture") && source < 15 && target >= 15 {
        // The public schema of a database created before 15 belongs to its
        // creator with `=UC` for PUBLIC; a dump carries that owner and ACL
        // along (pg_dump does too: the 13/14 -> 15 pairs check it against
        // pg_dump | pg_restore), unlike a database created on 15+. Compare
        // that schema with the source instead.
        let public = |lines: &mut Vec<String>| {
            let (p, rest): (Vec<String>, Vec<String>) = std::mem::take(lines)
                .into_iter()
                .partition(|l| l.starts_with("schema: public |"));
            *lines = rest;
            p
        };
        let (_, from_source) = (public(&mut a), public(&mut describe(&src, source)));
        assert_eq!(
            from_source,
            public(&mut b),
            "{source} -> {target}: the public schema differs from the source's"
        );
    }
    if how.starts_with("the fixture") && source < 18 && target >= 18 {
        // Servers before 18 do not name NOT NULL constraints. A partition
        // created with PARTITION OF (the fixture) takes its parent's names;
        // one created on its own and attached (what pgferry and pg_dump
        // restore) gets `<partition>_<column>_not_null`. Compare them without
        // names (18 -> 18 compares names).
        for lines in [&mut a, &mut b] {
            for l in lines.iter_mut() {
                let mut f: Vec<&str> = l.split(" | ").collect();
                if f.len() > 2 && f[0].starts_with("constraint: ") && f[2] == "n" {
                    f[1] = "<not null>";
                    *l = f.join(" | ");
                }
            }
            lines.sort();
        }
    }
    if how.starts_with("the fixture") && source < 17 && target >= 17 {
        // The fixture loaded natively on 17+ runs `GRANT ALL`, which there
        // includes MAINTAIN. A pg_dump (and pgferry) copy of a pre-17 server
        // grants another role its full pre-17 set as an explicit list, so
        // that role does not gain MAINTAIN (the owner does: its default).
        for l in a.iter_mut() {
            if l.starts_with("relation: ") {
                *l = l
                    .split(',')
                    .map(|item| match item.find("=arwdDxtm/") {
                        Some(at) if !item[..at].ends_with("postgres") => {
                            item.replace("=arwdDxtm/", "=arwdDxt/")
                        }
                        _ => item.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(",");
            }
        }
        a.sort();
    }
    assert_same_lines(
        &format!("{source} -> {target}"),
        "the pgferry restore",
        &a,
        &b,
    );

    assert_eq!(
        user_contents(&src),
        user_contents(&restored),
        "{source} -> {target}: table contents differ from the source"
    );
    assert_eq!(
        sequences(&src),
        sequences(&restored),
        "{source} -> {target}: sequences differ from the source"
    );
    assert_eq!(
        matviews(&src),
        matviews(&restored),
        "{source} -> {target}: matview population differs from the source"
    );
    // An incremental sync onto the restored copy, after rows of it were
    // changed on the target (the hashes of both servers must agree: a
    // server before 14 hashes row text, 14+ the values).
    let drifted = restored.query_one_string(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.reltuples > 1 \
         ORDER BY c.reltuples DESC, 1 LIMIT 1",
    );
    if let Some(table) = &drifted {
        restored.execute_batch(&format!(
            "DELETE FROM {table} WHERE ctid = (SELECT ctid FROM {table} LIMIT 1)"
        ));
    }
    let out = pgferry_ok(&[
        "sync",
        "--source",
        &src.conn_string(),
        "--target",
        &restored.conn_string(),
        "--verify",
        "checksums",
    ]);
    let log = stderr(&out);
    assert!(
        log.contains("sync committed") && !log.contains("verification: data differs"),
        "{source} -> {target}: incremental sync after drift on {drifted:?}:\n{log}"
    );
    let incremental = if log.contains("full=false") {
        "incremental".to_string()
    } else {
        let why = log
            .split("fallback=")
            .nth(1)
            .map(|w| w.chars().take(160).collect::<String>())
            .unwrap_or_default();
        format!("fell back to full: {why}")
    };
    assert_eq!(
        user_contents(&src),
        user_contents(&restored),
        "{source} -> {target}: table contents differ after an incremental sync"
    );
    tgt.drop_database(&restored.name);
    if reference.name != src.name {
        tgt.drop_database(&reference.name);
    }
    format!(
        "{source} -> {target}: ok in {:.1}s (reference: {how}; {} catalog lines compared; \
         sync after drift: {incremental})",
        started.elapsed().as_secs_f64(),
        a.len()
    )
}

/// Client programs (`pg_dump`, `pg_restore`, `psql`) that dump and restore
/// a given target major.
struct Tools {
    dir: PathBuf,
    label: String,
}

impl Tools {
    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn has_tools(dir: &Path) -> bool {
    ["pg_dump", "pg_restore", "psql"]
        .iter()
        .all(|p| dir.join(p).is_file())
}

/// The major of the `pg_dump` in `dir` (`pg_dump (PostgreSQL) 17.10`).
fn pg_dump_major(dir: &Path) -> u32 {
    let out = Command::new(dir.join("pg_dump"))
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("run {}/pg_dump --version: {e}", dir.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .last()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{}/pg_dump --version: {text:?}", dir.display()))
}

/// The programs that judge schema equality on `target`: the target's own
/// (Debian's 15), else the pg_dump oracle ([`oracle_bin_dir`], pg_dump 17)
/// when its major is >= the target's; `None` for targets newer than the
/// oracle (18), and when the oracle is missing and `PGFERRY_NO_ORACLE=1`.
///
/// # Panics
///
/// When the oracle is needed but not installed (and `PGFERRY_NO_ORACLE` is
/// not `1`): the requested comparison is never downgraded silently.
fn judge_tools(target: u32) -> Option<Tools> {
    let own = cluster(target).bin_dir();
    if has_tools(own) {
        return Some(Tools {
            dir: own.to_path_buf(),
            label: format!("pg_dump {target} of {}", own.display()),
        });
    }
    match oracle_bin_dir() {
        Some(dir) => {
            assert!(
                has_tools(&dir),
                "the pg_dump oracle {} lacks pg_restore or psql; reinstall it with: \
                 bash scripts/install-pg-versions.sh",
                dir.display()
            );
            let major = pg_dump_major(&dir);
            (major >= target).then(|| Tools {
                label: format!("the pg_dump {major} oracle ({})", dir.display()),
                dir,
            })
        }
        None if target > 17 => None,
        None if std::env::var("PGFERRY_NO_ORACLE").as_deref() == Ok("1") => None,
        None => panic!(
            "version matrix: target {target} needs the pg_dump 17 oracle to judge schema equality \
             (PostgreSQL 17 client programs in $PGFERRY_ORACLE_BIN or {}/client17/bin), which is not \
             installed. Install it with: bash scripts/install-pg-versions.sh \
             (or set PGFERRY_NO_ORACLE=1 to judge at catalog level only)",
            pgferry_testkit::pg_cache_dir().display()
        ),
    }
}

/// Runs `program` with `input` on stdin; panics with its stderr on failure.
fn run_with_input(mut cmd: Command, what: &str, input: &[u8]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    let feeder = {
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&input)
        })
    };
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {what}: {e}"));
    feeder.join().unwrap().expect("feed stdin");
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `pg_dump -Fc source | pg_restore` into `reference` (on a server of major
/// `target`), with `tools`. pg_restore writes SQL text (`-f -`) that `psql`
/// loads with `ON_ERROR_STOP`: pg_dump 17 writes `SET transaction_timeout =
/// 0;` in the preamble, which servers before 17 reject, so that one line is
/// dropped for them (nothing else is touched).
fn pg_dump_restore(tools: &Tools, src: &TestDb, reference: &TestDb, target: u32) {
    // (pg_dump 17 writes subscription options older servers reject, e.g.
    // run_as_owner for 13: subscriptions are left to tests/object_kinds.rs.)
    let mut cmd = Command::new(tools.bin("pg_dump"));
    cmd.args(["-Fc", "--no-subscriptions", "-d", &src.conn_string()]);
    let archive = run_with_input(cmd, "pg_dump -Fc", b"");
    let mut cmd = Command::new(tools.bin("pg_restore"));
    cmd.args(["-f", "-"]);
    let sql = run_with_input(cmd, "pg_restore -f -", &archive);
    let sql = String::from_utf8(sql).expect("pg_restore output is UTF-8");
    let sql = if target < 17 {
        drop_transaction_timeout(&sql)
    } else {
        sql
    };
    let mut cmd = Command::new(tools.bin("psql"));
    cmd.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        &reference.conn_string(),
        "-f",
        "-",
    ]);
    run_with_input(cmd, "psql (loading the pg_restore output)", sql.as_bytes());
}

/// `sql` without the `SET transaction_timeout = 0;` line of its preamble
/// (before the first TOC entry; a server before 17 rejects the setting).
fn drop_transaction_timeout(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut preamble = true;
    for line in sql.split_inclusive('\n') {
        if line.starts_with("-- Name: ") || line.starts_with("-- TOC entry") {
            preamble = false;
        }
        if preamble && line.trim_end() == "SET transaction_timeout = 0;" {
            continue;
        }
        out.push_str(line);
    }
    out
}

/// `pg_dump --schema-only` of `db` with `tools`, normalized
/// ([`normalize_dump`]).
fn dump_schema(tools: &Tools, db: &TestDb) -> String {
    let mut cmd = Command::new(tools.bin("pg_dump"));
    cmd.args([
        "--schema-only",
        "--no-subscriptions",
        "-d",
        &db.conn_string(),
    ]);
    let out = run_with_input(cmd, "pg_dump --schema-only", b"");
    normalize_dump(&String::from_utf8(out).expect("pg_dump output is UTF-8"))
}

fn run_pairs(which: &[(u32, u32)]) {
    let dir = tempdir();
    let mut report = Vec::new();
    for &(s, t) in which {
        eprintln!("version matrix: running {s} -> {t}");
        report.push(run_pair(s, t, dir.path()));
    }
    eprintln!("version matrix ({} pairs):", report.len());
    for line in &report {
        eprintln!("  {line}");
    }
}

/// Every requested pair but 16 -> 17 (its own test below).
#[test]
fn version_matrix() {
    let all = pairs();
    let which: Vec<(u32, u32)> = all.into_iter().filter(|p| *p != (16, 17)).collect();
    eprintln!(
        "version matrix: majors {:?} (PGFERRY_PG_VERSIONS={:?}), pairs {which:?}",
        requested_majors(),
        std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default()
    );
    run_pairs(&which);
}

/// PostgreSQL 16 -> 17 (runs when both are requested).
#[test]
fn pg16_to_pg17() {
    if !pairs().contains(&(16, 17)) {
        eprintln!(
            "pg16_to_pg17: not requested (PGFERRY_PG_VERSIONS={:?} does not name both 16 and 17)",
            std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default()
        );
        return;
    }
    run_pairs(&[(16, 17)]);
}
