//! Version matrix: for every requested source major and every requested target
//! major >= it, `pgferry dump` the fixture database on the source and
//! `pgferry restore` it on the target, then judge the result on the target
//! server:
//!
//! * against a reference copy made on the same target server: with
//!   `pg_dump -Fc source | pg_restore` where the target's bin directory has
//!   them (Debian's 15; then `pg_dump --schema-only` of both must be equal
//!   too), otherwise by loading the same fixture files (`schema.sql` plus
//!   `versions/NN.sql` for NN <= the source major) into a fresh database of
//!   the target server;
//! * by catalog-level descriptions (types, tables, columns, defaults,
//!   constraints, indexes, triggers, functions, ... through `pg_get_*def`) of
//!   both databases, which must be equal;
//! * by row contents and sequence states, compared with the source.
//!
//! Majors come from `PGFERRY_PG_VERSIONS` (e.g. `13,14,15,16,17,18`; unset:
//! only the default server's major). A requested major that is not installed
//! fails the test with the install command (`bash scripts/install-pg-versions.sh`).
//!
//! ```text
//! bash scripts/install-pg-versions.sh
//! PGFERRY_PG_VERSIONS=13,14,15,16,17,18 cargo test --test version_matrix -- --nocapture
//! ```
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use common::catalog::{self, assert_same_lines, cluster, DescribeOptions};
use common::*;
use pgferry_testkit::{pg_dump_schema, requested_majors, TestDb};

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
    let pg_dump = tgt.bin_dir().join("pg_dump");
    let pg_restore = tgt.bin_dir().join("pg_restore");
    let (reference, how) = if pg_dump.is_file() && pg_restore.is_file() {
        let reference = tgt.create_database(&format!("matrix_{source}_to_{target}_ref"));
        pg_dump_restore(&pg_dump, &pg_restore, &src, &reference);
        let (a, b) = (pg_dump_schema(&reference), pg_dump_schema(&restored));
        assert!(
            a == b,
            "{source} -> {target}: pg_dump --schema-only of the pgferry restore differs from \
             pg_dump -Fc | pg_restore:\n{}",
            first_difference(&a, &b)
        );
        (
            reference,
            "pg_dump -Fc | pg_restore + pg_dump --schema-only",
        )
    } else if source == target {
        (src.clone(), "the source database itself")
    } else {
        let reference = tgt.create_database(&format!("matrix_{source}_to_{target}_ref"));
        reference.load_fixture_for_major(source);
        (reference, "the fixture loaded on the target server")
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
    tgt.drop_database(&restored.name);
    if reference.name != src.name {
        tgt.drop_database(&reference.name);
    }
    format!(
        "{source} -> {target}: ok in {:.1}s (reference: {how}; {} catalog lines compared)",
        started.elapsed().as_secs_f64(),
        a.len()
    )
}

/// `pg_dump -Fc source | pg_restore -d reference`.
fn pg_dump_restore(pg_dump: &Path, pg_restore: &Path, src: &TestDb, reference: &TestDb) {
    let dumped = Command::new(pg_dump)
        .args(["-Fc", "-d", &src.conn_string()])
        .output()
        .expect("run pg_dump");
    assert!(
        dumped.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let mut child = Command::new(pg_restore)
        .args(["--exit-on-error", "-d", &reference.conn_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pg_restore");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&dumped.stdout).expect("feed pg_restore");
    }
    let out = child.wait_with_output().expect("wait for pg_restore");
    assert!(
        out.status.success(),
        "pg_restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
