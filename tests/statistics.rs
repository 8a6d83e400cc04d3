//! Planner statistics on the target after sync and restore (`--statistics`).
//!
//! * A PostgreSQL 15 target: every loaded table is analyzed in the run's
//!   transaction (`pg_stats` rows for every column, `reltuples` right);
//!   `--statistics none` leaves them out; `--statistics copy` is refused
//!   (exit 2) before the target is touched.
//! * A PostgreSQL 18 target: the source's statistics arrive as they are,
//!   without a scan (`pg_stats` equal to the source's, no ANALYZE counted on
//!   the copied tables), from a 15 and from an 18 source, by sync and by
//!   restore (also `-j 2`, `-t` and `--data-only`); a table the source never
//!   analyzed is analyzed; `--schema-only` brings none.
//!
//! The 18 tests run when 18 is requested in `PGFERRY_PG_VERSIONS` (as the
//! version matrix); a requested major that is not installed fails with the
//! install command.
mod common;

use common::catalog::cluster;
use common::*;
use pgferry_testkit::{requested_majors, shared_cluster, Cluster, TestDb};

/// Analyzed tables of several shapes, autovacuum off so nothing changes
/// their statistics meanwhile; `app.fresh` never analyzed.
const SOURCE: &str = "\
CREATE SCHEMA app;
CREATE TABLE app.accounts (id int PRIMARY KEY, branch int NOT NULL, name text, tags text[], spans int4range, note text)
  WITH (autovacuum_enabled = off);
INSERT INTO app.accounts SELECT g, g % 7, 'n' || (g % 100), ARRAY['t' || (g % 3)], int4range(g, g + g % 10),
  CASE WHEN g % 4 = 0 THEN NULL ELSE md5(g::text) END FROM generate_series(1, 20000) g;
CREATE INDEX accounts_lower ON app.accounts (lower(name));
CREATE TABLE app.parted (k int, v text) PARTITION BY RANGE (k);
CREATE TABLE app.parted_a PARTITION OF app.parted FOR VALUES FROM (0) TO (50) WITH (autovacuum_enabled = off);
CREATE TABLE app.parted_b PARTITION OF app.parted FOR VALUES FROM (50) TO (100) WITH (autovacuum_enabled = off);
INSERT INTO app.parted SELECT g % 100, 'v' || (g % 5) FROM generate_series(1, 3000) g;
CREATE MATERIALIZED VIEW app.by_branch WITH (autovacuum_enabled = off) AS
  SELECT branch, count(*) AS n FROM app.accounts GROUP BY branch;
CREATE TABLE app.fresh (x int, y text) WITH (autovacuum_enabled = off);
INSERT INTO app.fresh SELECT g, 'y' || g FROM generate_series(1, 500) g;
ANALYZE app.accounts; ANALYZE app.parted; ANALYZE app.parted_a; ANALYZE app.parted_b; ANALYZE app.by_branch;";

/// The loaded relations with data.
const LOADED: [&str; 5] = ["accounts", "parted_a", "parted_b", "by_branch", "fresh"];

fn source_on(c: &Cluster, hint: &str) -> TestDb {
    let db = c.create_database(hint);
    db.execute_batch(SOURCE);
    db
}

/// `pg_stats` of schema `app` as text, ordered.
fn stats(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT tablename::text, attname::text, inherited::text, null_frac::text, avg_width::text, \
         n_distinct::text, most_common_vals::text, most_common_freqs::text, histogram_bounds::text, \
         correlation::text, most_common_elems::text, elem_count_histogram::text \
         FROM pg_stats WHERE schemaname = 'app' ORDER BY 1, 2, 3",
    )
}

/// `(relation, reltuples)` of schema `app`'s tables and materialized views.
fn reltuples(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT relname::text, reltuples::text FROM pg_class \
         WHERE relnamespace = 'app'::regnamespace AND relkind IN ('r', 'm', 'p') ORDER BY 1",
    )
}

/// How many times each `app` relation was analyzed on this server.
fn analyze_counts(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT relname::text, analyze_count::text FROM pg_stat_all_tables \
         WHERE schemaname = 'app' ORDER BY 1",
    )
}

/// Asserts every column of every loaded relation has statistics and
/// `reltuples` is the row count.
fn assert_analyzed(what: &str, db: &TestDb) {
    for table in LOADED {
        let missing = db.query_strings(&format!(
            "SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = 'app.{table}'::regclass \
             AND a.attnum > 0 AND NOT a.attisdropped AND NOT EXISTS (SELECT 1 FROM pg_stats s \
             WHERE s.schemaname = 'app' AND s.tablename = '{table}' AND s.attname = a.attname)"
        ));
        assert!(
            missing.is_empty(),
            "{what}: app.{table} has no statistics for columns {missing:?}"
        );
        let (tuples, rows) = (
            db.query_one_string(&format!(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = 'app.{table}'::regclass"
            )),
            db.query_one_string(&format!("SELECT count(*) FROM app.{table}")),
        );
        assert_eq!(tuples, rows, "{what}: reltuples of app.{table}");
    }
    let parent = db.query_one_string(
        "SELECT count(*) FROM pg_stats WHERE schemaname = 'app' AND tablename = 'parted' AND inherited",
    );
    assert_eq!(
        parent.as_deref(),
        Some("2"),
        "{what}: the partitioned table's own statistics"
    );
}

fn sync(src: &TestDb, dst: &TestDb, extra: &[&str]) {
    let (s, d) = (src.conn_string(), dst.conn_string());
    let mut args = vec!["sync", "--source", &s, "--target", &d, "-n", "app"];
    args.extend_from_slice(extra);
    pgferry_ok(&args);
}

fn dump(src: &TestDb, dir: &std::path::Path) -> String {
    let path = dir.join("stats.pgf").to_str().unwrap().to_string();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &path]);
    path
}

fn requested(test: &str, major: u32) -> bool {
    if requested_majors().contains(&major) {
        return true;
    }
    eprintln!(
        "{test}: not requested (PGFERRY_PG_VERSIONS={:?} does not name {major})",
        std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default()
    );
    false
}

/// Statistics of the copied relations equal the source's; `app.fresh`
/// (never analyzed on the source) analyzed on the target.
fn assert_copied(what: &str, src: &TestDb, dst: &TestDb) {
    let fresh = |rows: Vec<Vec<Option<String>>>| -> Vec<Vec<Option<String>>> {
        rows.into_iter()
            .filter(|r| r[0].as_deref() != Some("fresh"))
            .collect()
    };
    let (a, b) = (stats(src), fresh(stats(dst)));
    assert!(!a.is_empty(), "{what}: the source has no statistics");
    assert!(
        a == b,
        "{what}: pg_stats differ from the source's:\n{}",
        first_difference(&format!("{a:#?}"), &format!("{b:#?}"))
    );
    assert_eq!(
        fresh(reltuples(src)),
        fresh(reltuples(dst)),
        "{what}: reltuples"
    );
    let counts = analyze_counts(dst);
    for r in &counts {
        let expected = if r[0].as_deref() == Some("fresh") {
            "1"
        } else {
            "0"
        };
        assert_eq!(
            r[1].as_deref(),
            Some(expected),
            "{what}: analyze count of app.{:?} ({counts:?})",
            r[0]
        );
    }
    assert_analyzed(what, dst);
}

#[test]
fn a_pg15_target_is_analyzed_in_the_same_transaction() {
    let c = shared_cluster();
    let src = source_on(c, "stats_src15");
    let dst = c.create_database("stats_dst15");
    sync(&src, &dst, &[]);
    assert_analyzed("sync to 15", &dst);
    // the source's rows, plus app.fresh's two columns analyzed on the target
    assert_eq!(
        stats(&dst).len(),
        stats(&src).len() + 2,
        "sync to 15: pg_stats rows"
    );

    // --statistics none: nothing analyzed
    let bare = c.create_database("stats_none15");
    sync(&src, &bare, &["--statistics", "none"]);
    assert!(
        stats(&bare).is_empty(),
        "--statistics none: {:?}",
        stats(&bare)
    );

    // --statistics copy needs 18: refused before the target is touched
    let before = stats(&bare);
    let (s, d) = (src.conn_string(), bare.conn_string());
    let out = pgferry(&[
        "sync",
        "--source",
        &s,
        "--target",
        &d,
        "-n",
        "app",
        "--statistics",
        "copy",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--statistics copy needs a PostgreSQL 18 target") && err.contains("runs 15"),
        "{err}"
    );
    assert_eq!(before, stats(&bare), "the refused sync changed the target");

    // restore of an archive, one transaction and -j 2
    let dir = tempdir();
    let archive = dump(&src, dir.path());
    for jobs in ["1", "2"] {
        let r = c.create_database(&format!("stats_restore15_j{jobs}"));
        pgferry_ok(&[
            "restore",
            "-j",
            jobs,
            "--target",
            &r.conn_string(),
            &archive,
        ]);
        assert_analyzed(&format!("restore -j {jobs} to 15"), &r);
    }
}

#[test]
fn a_pg18_target_takes_the_sources_statistics_without_a_scan() {
    if !requested(
        "a_pg18_target_takes_the_sources_statistics_without_a_scan",
        18,
    ) {
        return;
    }
    let c18 = cluster(18);
    let src15 = source_on(shared_cluster(), "stats_src15_for_18");
    let src18 = source_on(c18, "stats_src18");
    for (what, src) in [("15 -> 18", &src15), ("18 -> 18", &src18)] {
        let dst = c18.create_database("stats_sync18");
        sync(src, &dst, &[]);
        assert_copied(&format!("sync {what}"), src, &dst);
        // a second sync replaces them with the source's again
        sync(src, &dst, &[]);
        assert_eq!(
            stats(src),
            stats(&dst)
                .into_iter()
                .filter(|r| r[0].as_deref() != Some("fresh"))
                .collect::<Vec<_>>(),
            "second sync {what}"
        );
        // --statistics analyze on 18: every loaded table analyzed instead
        let analyzed = c18.create_database("stats_analyze18");
        sync(src, &analyzed, &["--statistics", "analyze"]);
        assert_analyzed(&format!("sync {what} --statistics analyze"), &analyzed);
        assert!(
            analyze_counts(&analyzed)
                .iter()
                .filter(|r| r[0].as_deref() != Some("parted"))
                .all(|r| r[1].as_deref() == Some("1")),
            "--statistics analyze: {:?}",
            analyze_counts(&analyzed)
        );
    }

    let dir = tempdir();
    let archive = dump(&src15, dir.path());
    for (what, extra) in [
        ("restore", vec![]),
        ("restore -j 2", vec!["-j", "2"]),
        ("restore --statistics copy", vec!["--statistics", "copy"]),
    ] {
        let dst = c18.create_database("stats_restore18");
        let t = dst.conn_string();
        let mut args = vec!["restore", "--target", &t];
        args.extend(extra);
        args.push(&archive);
        pgferry_ok(&args);
        assert_copied(what, &src15, &dst);
    }
    // -t: only that table's statistics (and its index's)
    let one = c18.create_database("stats_restore18_t");
    one.execute_batch("CREATE SCHEMA app");
    pgferry_ok(&[
        "restore",
        "-t",
        "app.accounts",
        "--target",
        &one.conn_string(),
        &archive,
    ]);
    let tables: Vec<_> = stats(&one).into_iter().map(|r| r[0].clone()).collect();
    assert!(
        !tables.is_empty()
            && tables
                .iter()
                .all(|t| matches!(t.as_deref(), Some("accounts" | "accounts_lower"))),
        "-t app.accounts: {tables:?}"
    );
    // --schema-only brings none; --data-only then brings them with the rows
    let split = c18.create_database("stats_restore18_split");
    let t = split.conn_string();
    pgferry_ok(&["restore", "--schema-only", "--target", &t, &archive]);
    assert!(
        stats(&split).is_empty(),
        "--schema-only: {:?}",
        stats(&split)
    );
    pgferry_ok(&["restore", "--data-only", "--target", &t, &archive]);
    assert_eq!(
        stats(&src15),
        stats(&split)
            .into_iter()
            .filter(|r| r[0].as_deref() != Some("fresh"))
            .collect::<Vec<_>>(),
        "--data-only after --schema-only"
    );
    // an archive without statistics: the restore analyzes what it loads
    let bare = dir.path().join("bare.pgf").to_str().unwrap().to_string();
    pgferry_ok(&[
        "dump",
        "--no-statistics",
        "--source",
        &src15.conn_string(),
        "-o",
        &bare,
    ]);
    let dst = c18.create_database("stats_restore18_bare");
    pgferry_ok(&["restore", "--target", &dst.conn_string(), &bare]);
    assert_analyzed("restore of a --no-statistics archive", &dst);
}
