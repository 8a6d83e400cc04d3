//! Downgrades: restoring or syncing into a server older than the source.
//!
//! * Without `--allow-downgrade` a 17 → 15 restore or sync exits 2 with a
//!   clear message and leaves the target untouched (even with `--clean`).
//! * With `--allow-downgrade`, the version-neutral fixtures (`schema.sql` plus
//!   `versions/NN.sql` for NN <= the target's major) loaded on the newer
//!   server arrive identical to the same fixtures loaded on the older one
//!   (17 → 15: `pg_dump --schema-only` of both and a catalog-level
//!   description; 18 → 16: the catalog-level description, as 16 has no
//!   `pg_dump` here), with the source's rows, for `restore` and `sync`.
//! * A database setting the older server does not have (an 18-only planner
//!   switch) is skipped with a warning naming it; the others are applied.
//! * With `--allow-downgrade`, objects the target cannot express (the 17 and
//!   18 fixtures: identity on a partitioned table, virtual generated columns,
//!   NOT ENFORCED / NOT VALID NOT NULL / named NOT NULL constraints) make the
//!   command exit 2 naming them, before the target is touched.
//!
//! Majors come from `PGFERRY_PG_VERSIONS` like the version matrix
//! (`tests/version_matrix.rs`): a test runs when both of its majors are
//! requested (e.g. `13,14,15,16,17,18`) and otherwise says so and passes; a
//! requested major that is not installed fails the test with the install
//! command (`bash scripts/install-pg-versions.sh`).
//!
//! ```text
//! PGFERRY_PG_VERSIONS=13,14,15,16,17,18 cargo test --test downgrade -- --nocapture
//! ```
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use common::catalog::{self, assert_same_lines, cluster, DescribeOptions};
use common::*;
use pgferry_testkit::{requested_majors, TestDb};

/// What the catalog descriptions compare: the common objects, casts,
/// publications and event triggers, without extension versions and the finer
/// details the version matrix also compares.
const DESCRIBE: DescribeOptions = DescribeOptions {
    extension_versions: false,
    fine_details: false,
    more_objects: false,
    casts_publications_event_triggers: true,
    normalize_spellings: false,
};

/// A sorted, catalog-level description of the user objects of `db`, for
/// comparing two databases on the same server.
fn describe(db: &TestDb) -> Vec<String> {
    catalog::describe(db, catalog::server_major(db), &DESCRIBE)
}

/// A stale replica: what the target holds before the command runs.
const STALE: &str = "\
CREATE TABLE public.users (id int PRIMARY KEY, name text);
INSERT INTO public.users VALUES (1, 'stale'), (2, 'old');
CREATE SCHEMA inventory;
CREATE TABLE inventory.items (sku text);
INSERT INTO inventory.items VALUES ('left-over');
CREATE SEQUENCE public.stale_seq;
SELECT pg_catalog.setval('public.stale_seq', 77);";

/// A database on the cluster of `major` holding the fixtures for `fixtures`
/// (`schema.sql` + `versions/NN.sql` for NN <= `fixtures`), loaded once.
fn fixture_db(major: u32, fixtures: u32) -> TestDb {
    static DBS: OnceLock<Mutex<HashMap<(u32, u32), TestDb>>> = OnceLock::new();
    let c = cluster(major);
    let mut map = DBS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry((major, fixtures))
        .or_insert_with(|| {
            let db = c.create_database(&format!("fixtures_{fixtures}_on_{major}"));
            db.load_fixture_for_major(fixtures);
            db
        })
        .clone()
}

/// Whether both majors are requested; says so when not.
fn requested(test: &str, source: u32, target: u32) -> bool {
    let majors = requested_majors();
    if majors.contains(&source) && majors.contains(&target) {
        return true;
    }
    eprintln!(
        "{test}: not requested (PGFERRY_PG_VERSIONS={:?} does not name both {source} and {target})",
        std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default()
    );
    false
}

/// A target database on `major` holding a stale replica.
fn stale_target(major: u32, hint: &str) -> TestDb {
    let db = cluster(major).create_database(hint);
    db.execute_batch(STALE);
    db
}

/// Dumps `src` with pgferry into `dir`.
fn dump(src: &TestDb, dir: &Path, name: &str) -> String {
    let path = dir.join(format!("{name}.pgf"));
    let path = path.to_str().unwrap().to_string();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &path]);
    path
}

/// Query results as text.
type Rows = Vec<Vec<Option<String>>>;

/// Everything a command could change on a target: the catalog description,
/// rows and sequences (pgferry's own schema excluded).
fn snapshot(db: &TestDb) -> (Vec<String>, Rows, Rows) {
    (describe(db), user_contents(db), user_sequences(db))
}

/// [`sequences`] without pgferry's own.
fn user_sequences(db: &TestDb) -> Rows {
    sequences(db)
        .into_iter()
        .filter(|r| !r[0].as_deref().unwrap_or("").starts_with("pgferry."))
        .collect()
}

/// Runs a command that must be refused with exit 2 and leave `target` as it
/// was; returns stderr.
fn assert_refused(args: &[&str], target: &TestDb) -> String {
    let before = snapshot(target);
    let out = pgferry(args);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "pgferry {args:?} should exit 2\nstderr:\n{err}"
    );
    assert!(
        before == snapshot(target),
        "pgferry {args:?} changed the target\nstderr:\n{err}"
    );
    err
}

/// Asserts `copy` (on the older server) is identical to `reference` (the
/// same fixtures loaded there) and holds the rows of `src`.
fn assert_arrived_identical(what: &str, src: &TestDb, reference: &TestDb, copy: &TestDb) {
    if reference.bin_dir().join("pg_dump").is_file() {
        let (a, b) = (
            schema_without_pgferry(reference),
            schema_without_pgferry(copy),
        );
        assert!(
            a == b,
            "{what}: pg_dump --schema-only differs from the fixtures loaded on the target:\n{}",
            first_difference(&a, &b)
        );
    }
    assert_same_lines(what, "the copy", &describe(reference), &describe(copy));
    assert_eq!(
        user_contents(src),
        user_contents(copy),
        "{what}: table contents differ from the source"
    );
    assert_eq!(
        user_sequences(src),
        user_sequences(copy),
        "{what}: sequences differ from the source"
    );
    assert_eq!(
        matviews(src),
        matviews(copy),
        "{what}: matview population differs from the source"
    );
}

/// 17 → 15 without `--allow-downgrade`: exit 2, target untouched.
#[test]
fn pg17_to_pg15_needs_allow_downgrade() {
    if !requested("pg17_to_pg15_needs_allow_downgrade", 17, 15) {
        return;
    }
    let src = fixture_db(17, 15);
    let dir = tempdir();
    let archive = dump(&src, dir.path(), "src17");
    let target = stale_target(15, "refused_15");
    let t = target.conn_string();
    for args in [
        vec!["restore", "--target", &t, &archive],
        vec!["restore", "--clean", "--target", &t, &archive],
        vec!["restore", "--clean", "-j", "2", "--target", &t, &archive],
    ] {
        let err = assert_refused(&args, &target);
        assert!(
            err.contains("the target runs PostgreSQL 15 but the archive comes from PostgreSQL 17")
                && err.contains("--allow-downgrade"),
            "{args:?}: unexpected message:\n{err}"
        );
    }
    let err = assert_refused(
        &["sync", "--source", &src.conn_string(), "--target", &t],
        &target,
    );
    assert!(
        err.contains("the target runs PostgreSQL 15 but the source runs 17")
            && err.contains("--allow-downgrade"),
        "sync: unexpected message:\n{err}"
    );
}

/// 17 → 15 with `--allow-downgrade`: the version-neutral fixtures arrive
/// identical, by restore (serial and `-j`) and by sync.
#[test]
fn pg17_to_pg15_allow_downgrade() {
    if !requested("pg17_to_pg15_allow_downgrade", 17, 15) {
        return;
    }
    run_allowed(17, 15);
}

/// 18 → 16 with `--allow-downgrade`: the version-neutral fixtures arrive
/// identical (18-only and 17-only objects absent).
#[test]
fn pg18_to_pg16_allow_downgrade() {
    if !requested("pg18_to_pg16_allow_downgrade", 18, 16) {
        return;
    }
    run_allowed(18, 16);
}

fn run_allowed(source: u32, target: u32) {
    let src = fixture_db(source, target);
    let reference = fixture_db(target, target);
    let dir = tempdir();
    let archive = dump(&src, dir.path(), &format!("src{source}"));

    let restored = stale_target(target, &format!("restored_{source}_{target}"));
    pgferry_ok(&[
        "restore",
        "--allow-downgrade",
        "--clean",
        "--target",
        &restored.conn_string(),
        &archive,
    ]);
    assert_arrived_identical(
        &format!("restore {source} -> {target}"),
        &src,
        &reference,
        &restored,
    );

    let parallel = cluster(target).create_database(&format!("parallel_{source}_{target}"));
    pgferry_ok(&[
        "restore",
        "--allow-downgrade",
        "-j",
        "3",
        "--target",
        &parallel.conn_string(),
        &archive,
    ]);
    assert_arrived_identical(
        &format!("restore -j 3 {source} -> {target}"),
        &src,
        &reference,
        &parallel,
    );

    let synced = stale_target(target, &format!("synced_{source}_{target}"));
    pgferry_ok(&[
        "sync",
        "--allow-downgrade",
        "--verify",
        "checksums",
        "--source",
        &src.conn_string(),
        "--target",
        &synced.conn_string(),
    ]);
    assert_arrived_identical(
        &format!("sync {source} -> {target}"),
        &src,
        &reference,
        &synced,
    );
    // A second sync replaces the first one's copy.
    pgferry_ok(&[
        "sync",
        "--allow-downgrade",
        "--source",
        &src.conn_string(),
        "--target",
        &synced.conn_string(),
    ]);
    assert_arrived_identical(
        &format!("second sync {source} -> {target}"),
        &src,
        &reference,
        &synced,
    );
}

/// 17 → 15 with `--allow-downgrade` and the 17 fixture (an identity column
/// on a partitioned table): exit 2 naming the table, target untouched.
#[test]
fn pg17_to_pg15_refuses_17_only_objects() {
    if !requested("pg17_to_pg15_refuses_17_only_objects", 17, 15) {
        return;
    }
    let src = fixture_db(17, 17);
    let dir = tempdir();
    let archive = dump(&src, dir.path(), "src17full");
    let target = stale_target(15, "refused_17_only");
    let t = target.conn_string();
    let s = src.conn_string();
    for args in [
        vec![
            "restore",
            "--allow-downgrade",
            "--clean",
            "--target",
            &t,
            &archive,
        ],
        vec![
            "restore",
            "--allow-downgrade",
            "--clean",
            "-j",
            "2",
            "--target",
            &t,
            &archive,
        ],
        vec!["sync", "--allow-downgrade", "--source", &s, "--target", &t],
    ] {
        let err = assert_refused(&args, &target);
        assert!(
            err.contains("1 object cannot be expressed on PostgreSQL 15")
                && err.contains(
                    "TABLE public.tickets: identity column \"id\" on a partitioned table needs PostgreSQL 17 (target is 15)"
                ),
            "{args:?}: unexpected message:\n{err}"
        );
    }
}

/// 18 → 16 with `--allow-downgrade` and the 18 fixture: exit 2 naming every
/// object 16 cannot express, target untouched.
#[test]
fn pg18_to_pg16_refuses_18_only_objects() {
    if !requested("pg18_to_pg16_refuses_18_only_objects", 18, 16) {
        return;
    }
    let src = fixture_db(18, 18);
    let dir = tempdir();
    let archive = dump(&src, dir.path(), "src18full");
    let target = stale_target(16, "refused_18_only");
    let t = target.conn_string();
    let s = src.conn_string();
    for args in [
        vec![
            "restore",
            "--allow-downgrade",
            "--clean",
            "--target",
            &t,
            &archive,
        ],
        vec!["sync", "--allow-downgrade", "--source", &s, "--target", &t],
    ] {
        let err = assert_refused(&args, &target);
        for expected in [
            "4 objects cannot be expressed on PostgreSQL 16",
            "TABLE public.shapes: ",
            "virtual generated column \"area\" needs PostgreSQL 18",
            "named NOT NULL constraint \"shapes_h_required\" on column \"h\" needs PostgreSQL 18",
            "CONSTRAINT shapes_w_positive ON public.shapes: NOT ENFORCED constraint \"shapes_w_positive\" needs PostgreSQL 18 (target is 16)",
            "CONSTRAINT shapes_note_present ON public.shapes: NOT VALID NOT NULL constraint \"shapes_note_present\" needs PostgreSQL 18 (target is 16)",
            "TABLE public.tickets: identity column \"id\" on a partitioned table needs PostgreSQL 17 (target is 16)",
        ] {
            assert!(
                err.contains(expected),
                "{args:?}: the message lacks {expected:?}:\n{err}"
            );
        }
    }
    // 18 → 17: only the 18-only objects.
    if requested(
        "pg18_to_pg16_refuses_18_only_objects (18 -> 17 part)",
        18,
        17,
    ) {
        let target = stale_target(17, "refused_18_only_on_17");
        let err = assert_refused(
            &[
                "restore",
                "--allow-downgrade",
                "--clean",
                "--target",
                &target.conn_string(),
                &archive,
            ],
            &target,
        );
        assert!(
            err.contains("3 objects cannot be expressed on PostgreSQL 17")
                && !err.contains("public.tickets"),
            "unexpected message:\n{err}"
        );
    }
}

/// 18 → 16 sync with `--allow-downgrade`: `ALTER DATABASE … SET` of a setting
/// 16 does not know is skipped with a warning naming it; the rest applies.
#[test]
fn pg18_to_pg16_skips_a_database_setting_the_target_lacks() {
    if !requested(
        "pg18_to_pg16_skips_a_database_setting_the_target_lacks",
        18,
        16,
    ) {
        return;
    }
    let src = cluster(18).create_database("dbsetting_src");
    src.execute_batch(&format!(
        "CREATE TABLE public.t (x int); INSERT INTO public.t VALUES (1); \
         ALTER DATABASE \"{0}\" SET enable_distinct_reordering = off; \
         ALTER DATABASE \"{0}\" SET work_mem = '12MB';",
        src.name()
    ));
    let dst = cluster(16).create_database("dbsetting_dst");
    let out = pgferry(&[
        "sync",
        "--allow-downgrade",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("database setting skipped") && err.contains("enable_distinct_reordering"),
        "{err}"
    );
    assert_eq!(
        dst.query_strings(
            "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting \
             WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        vec![vec![Some("work_mem=12MB".to_string())]]
    );
}
