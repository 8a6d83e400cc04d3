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

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use common::*;
use pgferry_testkit::{requested_majors, require_major, Cluster, TestDb};

/// The roles `fixtures/schema.sql` grants to (cluster-wide): every cluster
/// gets them, as a real replica would.
const ROLES: &str = "\
DO $$ BEGIN CREATE ROLE pgferry_reader NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE pgferry_writer NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;";

/// A stale replica: what the target holds before the command runs.
const STALE: &str = "\
CREATE TABLE public.users (id int PRIMARY KEY, name text);
INSERT INTO public.users VALUES (1, 'stale'), (2, 'old');
CREATE SCHEMA inventory;
CREATE TABLE inventory.items (sku text);
INSERT INTO inventory.items VALUES ('left-over');
CREATE SEQUENCE public.stale_seq;
SELECT pg_catalog.setval('public.stale_seq', 77);";

/// One cluster per major, shared by the tests of this binary.
fn cluster(major: u32) -> &'static Cluster {
    static CLUSTERS: OnceLock<Mutex<HashMap<u32, &'static Cluster>>> = OnceLock::new();
    let mut map = CLUSTERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(major).or_insert_with(|| {
        let bin_dir = require_major(major);
        let c: &'static Cluster = Box::leak(Box::new(Cluster::start_with(&bin_dir)));
        assert_eq!(
            c.major_version(),
            major,
            "{} is not PostgreSQL {major}",
            bin_dir.display()
        );
        c.database("postgres").execute_batch(ROLES);
        c
    })
}

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

/// User schemas (not pgferry's own, not system ones).
const USER_NS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname !~ '^pg_'";

/// An ACL as sorted text, NULL (the default) spelled out.
fn acl(col: &str, kind: &str, owner: &str) -> String {
    format!(
        "(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(coalesce({col}, acldefault({kind}, {owner}))) x)"
    )
}

/// A sorted, catalog-level description of the user objects of `db`, through
/// the server's own `pg_get_*def` functions, for comparing two databases on
/// the same server.
fn describe(db: &TestDb) -> Vec<String> {
    let version: i32 = db
        .query_one_string("SELECT current_setting('server_version_num')")
        .unwrap()
        .parse()
        .unwrap();
    let compression = if version >= 140000 {
        "a.attcompression::text"
    } else {
        "''"
    };
    let ext = |catalog: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass \
             AND e.objid = {oid} AND e.deptype = 'e')"
        )
    };
    let queries: Vec<(&str, String)> = vec![
        (
            "schema",
            format!(
                "SELECT n.nspname, pg_get_userbyid(n.nspowner), obj_description(n.oid, 'pg_namespace'), {} \
                 FROM pg_namespace n WHERE {USER_NS}",
                acl("n.nspacl", "'n'", "n.nspowner")
            ),
        ),
        (
            "extension",
            "SELECT e.extname, n.nspname, obj_description(e.oid, 'pg_extension') \
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                .into(),
        ),
        (
            "default acl",
            "SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype, \
             (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(d.defaclacl) x) \
             FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace"
                .into(),
        ),
        (
            "type",
            format!(
                "SELECT n.nspname, t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull, \
                 t.typdefault, obj_description(t.oid, 'pg_type'), {acl}, \
                 (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), \
                 (SELECT string_agg(conname || ':' || pg_get_constraintdef(oid) || ':' || convalidated, ';' ORDER BY conname) \
                  FROM pg_constraint WHERE contypid = t.oid), \
                 (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum) \
                  FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE {USER_NS} AND {ext} AND t.typtype IN ('e', 'd', 'r', 'm', 'c') \
                 AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')",
                acl = acl("t.typacl", "'T'", "t.typowner"),
                ext = ext("pg_type", "t.oid"),
            ),
        ),
        (
            "relation",
            format!(
                "SELECT n.nspname, c.relname, c.relkind, c.relpersistence, \
                 (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(c.reloptions) x), c.relrowsecurity, \
                 c.relforcerowsecurity, c.relispartition, pg_get_expr(c.relpartbound, c.oid), \
                 CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, pg_get_userbyid(c.relowner), \
                 obj_description(c.oid, 'pg_class'), {acl}, c.relreplident, am.amname, \
                 CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END, \
                 CASE WHEN c.relkind = 'm' THEN c.relispopulated END \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_am am ON am.oid = c.relam \
                 WHERE {USER_NS} AND {ext} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
                acl = acl(
                    "c.relacl",
                    "CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\"",
                    "c.relowner"
                ),
                ext = ext("pg_class", "c.oid"),
            ),
        ),
        (
            "column",
            format!(
                "SELECT c.oid::regclass::text, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), \
                 a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), \
                 a.attidentity, a.attgenerated, (SELECT collname FROM pg_collation WHERE oid = a.attcollation), \
                 a.attstorage, {compression}, a.attstattarget::int, \
                 (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(a.attoptions) x), a.attislocal, a.attinhcount, \
                 col_description(a.attrelid, a.attnum), \
                 (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE {USER_NS} AND {ext} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
                 AND a.attnum > 0 AND NOT a.attisdropped",
                ext = ext("pg_class", "c.oid"),
            ),
        ),
        (
            "constraint",
            format!(
                "SELECT r.oid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid), c.convalidated, \
                 c.condeferrable, c.condeferred, c.conislocal, c.coninhcount, obj_description(c.oid, 'pg_constraint') \
                 FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = r.relnamespace WHERE {USER_NS}"
            ),
        ),
        (
            "index",
            format!(
                "SELECT pg_get_indexdef(i.indexrelid), i.indisclustered, i.indisreplident, i.indisvalid, \
                 obj_description(i.indexrelid, 'pg_class') \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS}"
            ),
        ),
        (
            "trigger",
            format!(
                "SELECT pg_get_triggerdef(t.oid), t.tgenabled, obj_description(t.oid, 'pg_trigger') \
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} AND NOT t.tgisinternal"
            ),
        ),
        (
            "rule",
            format!(
                "SELECT pg_get_ruledef(r.oid), r.ev_enabled FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} AND r.rulename <> '_RETURN'"
            ),
        ),
        (
            "policy",
            "SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check \
             FROM pg_policies"
                .into(),
        ),
        (
            "function",
            format!(
                "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind, \
                 CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END, pg_get_userbyid(p.proowner), \
                 obj_description(p.oid, 'pg_proc'), {acl} \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} AND {ext}",
                acl = acl("p.proacl", "'f'", "p.proowner"),
                ext = ext("pg_proc", "p.oid"),
            ),
        ),
        (
            "statistics",
            format!(
                "SELECT pg_get_statisticsobjdef(s.oid), obj_description(s.oid, 'pg_statistic_ext') \
                 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {USER_NS}"
            ),
        ),
        (
            "cast",
            "SELECT c.castsource::regtype::text, c.casttarget::regtype::text, c.castfunc::regprocedure::text, \
             c.castcontext, c.castmethod FROM pg_cast c WHERE c.oid >= 16384"
                .into(),
        ),
        (
            "publication",
            "SELECT p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, \
             (SELECT string_agg(pt.schemaname || '.' || pt.tablename, ',' ORDER BY 1) \
              FROM pg_publication_tables pt WHERE pt.pubname = p.pubname) FROM pg_publication p"
                .into(),
        ),
        (
            "event trigger",
            "SELECT evtname, evtevent, evtfoid::regproc::text, evtenabled, evttags::text FROM pg_event_trigger"
                .into(),
        ),
    ];
    let mut lines = Vec::new();
    for (what, sql) in queries {
        for row in db.query_strings(&sql) {
            let fields: Vec<String> = row
                .into_iter()
                .map(|v| v.unwrap_or_else(|| "∅".into()))
                .collect();
            lines.push(format!("{what}: {}", fields.join(" | ")));
        }
    }
    lines.sort();
    lines
}

fn assert_same_lines(what: &str, reference: &[String], restored: &[String]) {
    if reference == restored {
        return;
    }
    let a: BTreeSet<&String> = reference.iter().collect();
    let b: BTreeSet<&String> = restored.iter().collect();
    let show = |d: Vec<&&String>| {
        d.iter()
            .map(|s| format!("  {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{what}: the catalog differs from the reference ({} vs {} lines)\n--- only in the reference:\n{}\n--- only in the copy:\n{}",
        reference.len(),
        restored.len(),
        show(a.difference(&b).take(25).collect()),
        show(b.difference(&a).take(25).collect()),
    );
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
    assert_same_lines(what, &describe(reference), &describe(copy));
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
