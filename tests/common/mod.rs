//! Helpers shared by the integration tests: run the real binary, compare databases.
#![allow(dead_code)]

pub mod catalog;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pgferry_testkit::{pg_dump_schema, TestDb};

/// Runs the `pgferry` binary built for this test run.
pub fn pgferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(args)
        .env("PGFERRY_LOG", "info")
        .env_remove("PGPASSWORD")
        .output()
        .expect("run pgferry")
}

/// A run that fails because of a fault must end within this long after it.
pub const BOUND: Duration = Duration::from_secs(30);
/// A run still going this long after its fault is a hang.
pub const HANG: Duration = Duration::from_secs(90);

/// Starts the `pgferry` binary, its stderr captured, for a fault test.
pub fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(args)
        .env("PGFERRY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pgferry")
}

/// Waits for `child`; kills it and fails the test when it hangs.
pub fn finish(mut child: Child, fault_at: Instant) -> (Option<i32>, String, Duration) {
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return (status.code(), err, fault_at.elapsed());
        }
        if fault_at.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pgferry still running {HANG:?} after the fault: it hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Like [`pgferry`] but asserts success.
pub fn pgferry_ok(args: &[&str]) -> Output {
    let out = pgferry(args);
    assert!(
        out.status.success(),
        "pgferry {args:?} failed with {:?}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Per-table row count and order-independent content hash, for every table
/// and populated materialized view outside the system schemas. Each row is
/// hashed as the text of its columns in name order, so two tables whose
/// columns are in a different order (an inheritance child whose parent
/// gained a column later) but hold the same values compare equal.
pub fn table_contents(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT c.oid::regclass::text, (xpath('/row/h/text()', query_to_xml(format( \
           'SELECT count(*)::text || '':'' || coalesce(md5(string_agg(r::text, ''|'' ORDER BY r::text)), '''') AS h \
            FROM (SELECT ROW(%s) AS r FROM %s x) s', \
           (SELECT coalesce(string_agg('x.' || quote_ident(a.attname), ', ' ORDER BY a.attname), '') \
            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), \
           c.oid::regclass), false, true, '')))[1]::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated)) \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_' ORDER BY 1",
    )
}

/// Every sequence's state and options.
pub fn sequences(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT c.oid::regclass::text, (xpath('/row/v/text()', query_to_xml(format( \
           'SELECT last_value || '','' || is_called AS v FROM %s', c.oid::regclass), false, true, '')))[1]::text, \
         s.seqstart::text, s.seqincrement::text, s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle::text \
         FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid ORDER BY 1",
    )
}

/// Which materialized views are populated.
pub fn matviews(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings("SELECT oid::regclass::text, relispopulated::text FROM pg_class WHERE relkind = 'm' ORDER BY 1")
}

/// Asserts two databases hold the same schema (pg_dump as the oracle), rows,
/// sequences and matview population.
pub fn assert_same_database(a: &TestDb, b: &TestDb) {
    let (sa, sb) = (pg_dump_schema(a), pg_dump_schema(b));
    if sa != sb {
        let diff: Vec<String> = sa
            .lines()
            .zip(sb.lines())
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .take(20)
            .map(|(i, (x, y))| format!("line {}:\n  - {x}\n  + {y}", i + 1))
            .collect();
        panic!(
            "schemas differ ({} vs {} lines):\n{}",
            sa.lines().count(),
            sb.lines().count(),
            diff.join("\n")
        );
    }
    assert_eq!(
        table_contents(a),
        table_contents(b),
        "table contents differ"
    );
    assert_eq!(sequences(a), sequences(b), "sequences differ");
    assert_eq!(matviews(a), matviews(b), "matview population differs");
}

/// A temp dir for archives.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// pg_dump --schema-only without pgferry's own bookkeeping schema.
pub fn schema_without_pgferry(db: &TestDb) -> String {
    pgferry_testkit::normalize_dump(&db.pg_dump(&["--schema-only", "--exclude-schema=pgferry"]))
}

/// Asserts the replica equals the source (ignoring the replica's `pgferry` schema).
pub fn assert_replica_equals(src: &TestDb, replica: &TestDb) {
    let (a, b) = (schema_without_pgferry(src), schema_without_pgferry(replica));
    assert!(a == b, "schemas differ:\n{}", first_difference(&a, &b));
    assert_eq!(
        user_contents(src),
        user_contents(replica),
        "table contents differ"
    );
    assert_eq!(
        without_pgferry(sequences(src)),
        without_pgferry(sequences(replica)),
        "sequences differ"
    );
    assert_eq!(
        matviews(src),
        matviews(replica),
        "matview population differs"
    );
}

/// `rows` without those of pgferry's own objects (first column `pgferry.…`).
pub fn without_pgferry(rows: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    rows.into_iter()
        .filter(|r| !r[0].as_deref().unwrap_or("").starts_with("pgferry."))
        .collect()
}

/// [`table_contents`] without pgferry's own tables.
pub fn user_contents(db: &TestDb) -> Vec<Vec<Option<String>>> {
    without_pgferry(table_contents(db))
}

/// The first differing lines of two texts.
pub fn first_difference(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .take(10)
        .map(|(i, (x, y))| format!("line {}:\n  - {x}\n  + {y}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
        + &format!("\n({} vs {} lines)", a.lines().count(), b.lines().count())
}

/// `pgferry.sync_history` rows: (outcome, error).
pub fn history(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings("SELECT outcome, error, verify FROM pgferry.sync_history ORDER BY id")
}

/// Replays `script` into `db` the way the README says:
/// `psql -v ON_ERROR_STOP=1 --single-transaction -f FILE`.
pub fn replay(psql_dir: &Path, db: &TestDb, script: &Path) -> Output {
    Command::new(psql_dir.join("psql"))
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "-d",
        ])
        .arg(db.conn_string())
        .arg("-f")
        .arg(script)
        .output()
        .expect("psql runs")
}

pub fn replay_ok(psql_dir: &Path, db: &TestDb, script: &Path) {
    let out = replay(psql_dir, db, script);
    assert!(
        out.status.success(),
        "psql stopped replaying {}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
