//! `pgferry dump --format plain` (issue #14): a SQL script psql replays into
//! an empty database with nothing of pgferry, judged by pg_dump (the
//! oracle) and the rows; `--inserts` and its companions shape the data as
//! pg_dump's switches do; bad format switches are refused by name.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::catalog::cluster;
use common::*;
use pgferry_testkit::{normalize_dump, oracle_bin_dir, requested_majors, shared_cluster, TestDb};

/// Client programs that read a server of `major`: its own bin dir when it
/// has pg_dump and psql (Debian's 15), else the pg_dump 17 oracle.
fn client_dir(db_major: u32, own: &Path) -> PathBuf {
    if own.join("pg_dump").exists() && own.join("psql").exists() {
        return own.to_path_buf();
    }
    oracle_bin_dir().unwrap_or_else(|| {
        panic!(
            "PostgreSQL {db_major} has no pg_dump here: install the pg_dump 17 oracle with \
             bash scripts/install-pg-versions.sh"
        )
    })
}

/// `pg_dump --schema-only` of `db` by the programs in `dir`, normalised.
fn schema(dir: &Path, db: &TestDb) -> String {
    let out = Command::new(dir.join("pg_dump"))
        .args(["--schema-only", "-d"])
        .arg(db.conn_string())
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    normalize_dump(&String::from_utf8(out.stdout).expect("pg_dump output is UTF-8"))
}

/// The oracle's schema, the rows, sequences and matviews of both are equal.
/// A server newer than every pg_dump here (18) is judged by the catalog
/// descriptions the version matrix uses instead.
fn assert_same(dir: &Path, a: &TestDb, b: &TestDb) {
    let major = server_major(a);
    if major > 17 {
        let (da, db) = (describe(a, major), describe(b, major));
        assert!(
            da == db,
            "catalogs differ: {}",
            first_difference(&da.join("\n"), &db.join("\n"))
        );
    } else {
        let (sa, sb) = (schema(dir, a), schema(dir, b));
        assert!(sa == sb, "schemas differ: {}", first_difference(&sa, &sb));
    }
    assert_eq!(
        table_contents(a),
        table_contents(b),
        "table contents differ"
    );
    assert_eq!(sequences(a), sequences(b), "sequences differ");
    assert_eq!(matviews(a), matviews(b), "matview population differs");
}

fn server_major(db: &TestDb) -> u32 {
    db.query_one_string("SELECT current_setting('server_version_num')::int / 10000")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The version matrix's catalog-level description of `db`'s user objects.
fn describe(db: &TestDb, major: u32) -> Vec<String> {
    common::catalog::describe(
        db,
        major,
        &common::catalog::DescribeOptions {
            extension_versions: true,
            fine_details: true,
            more_objects: true,
            casts_publications_event_triggers: true,
            normalize_spellings: false,
        },
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the script is UTF-8 text")
}

/// The acceptance of issue #14 on every requested major (13 to 18; 15 and
/// 17 among them in CI): `dump -F p -o app.sql` of the fixtures, replayed by
/// psql into an empty database, is the same database as the source by the
/// oracle. The same script comes out on stdout (`-o -`) and for a `.sql`
/// name without `-F`.
#[test]
fn a_plain_script_of_the_fixtures_replays_into_the_same_database() {
    for major in requested_majors() {
        let c = cluster(major);
        let src = c.create_database(&format!("plain_src_{major}"));
        src.load_fixture_for_major(major);
        let dir = tempdir();
        let script = dir.path().join("app.sql");
        pgferry_ok(&[
            "dump",
            "-F",
            "p",
            "--source",
            &src.conn_string(),
            "-o",
            script.to_str().unwrap(),
        ]);
        let text = read(&script);
        assert!(text.contains(" FROM stdin;\n"), "rows travel as COPY");
        assert!(
            text.ends_with("-- pgferry plain dump complete\n"),
            "a complete script says so at its end"
        );
        // No owners by default (-O); the public schema keeps its owner
        // (pg_database_owner on 15+), as a restore does.
        assert!(
            text.lines()
                .filter(|l| l.contains(" OWNER TO "))
                .all(|l| l.starts_with("ALTER SCHEMA public OWNER TO ")),
            "no owners by default (-O)"
        );
        let tools = client_dir(major, c.bin_dir());
        let dst = c.create_database(&format!("plain_dst_{major}"));
        replay_ok(&tools, &dst, &script);
        assert_same(&tools, &src, &dst);
        // The comparison can fail: one changed row is seen.
        dst.execute_batch(
            "UPDATE public.events SET payload = '{}' WHERE id = (SELECT min(id) FROM public.events)",
        );
        assert_ne!(table_contents(&src), table_contents(&dst));
        // The same script on stdout, and chosen by the name alone.
        let stdout = pgferry_ok(&[
            "dump",
            "--source",
            &src.conn_string(),
            "-F",
            "plain",
            "-o",
            "-",
        ]);
        assert_eq!(String::from_utf8(stdout.stdout).unwrap(), text);
        let by_name = dir.path().join("again.sql");
        pgferry_ok(&[
            "dump",
            "--source",
            &src.conn_string(),
            "-o",
            by_name.to_str().unwrap(),
        ]);
        assert_eq!(read(&by_name), text, "a .sql name picks the plain format");
    }
}

/// Every object kind pgferry carries, large objects included, replays from
/// a plain script into the same database a `pgferry restore` makes.
#[test]
fn every_object_kind_and_large_objects_replay_from_a_plain_script() {
    let c = shared_cluster();
    let src = c.create_database("plain_kinds_src");
    src.load_fixture_for_major(c.major_version());
    src.load_kind_fixtures();
    src.execute_batch(
        "SELECT lo_from_bytea(424242, '\\x00ff10'::bytea); SELECT lo_from_bytea(424243, ''::bytea); \
         COMMENT ON LARGE OBJECT 424242 IS 'a blob';",
    );
    let dir = tempdir();
    let script = dir.path().join("kinds.sql");
    let archive = dir.path().join("kinds.pgf");
    pgferry_ok(&[
        "dump",
        "--source",
        &src.conn_string(),
        "-o",
        script.to_str().unwrap(),
    ]);
    pgferry_ok(&[
        "dump",
        "--source",
        &src.conn_string(),
        "-o",
        archive.to_str().unwrap(),
    ]);
    let replayed = c.create_database("plain_kinds_replayed");
    replay_ok(c.bin_dir(), &replayed, &script);
    let restored = c.create_database("plain_kinds_restored");
    pgferry_ok(&[
        "restore",
        "--target",
        &restored.conn_string(),
        archive.to_str().unwrap(),
    ]);
    assert_same(c.bin_dir(), &restored, &replayed);
    let blobs = |db: &TestDb| {
        db.query_strings(
            "SELECT oid::text, encode(lo_get(oid), 'hex'), obj_description(oid, 'pg_largeobject') \
             FROM pg_largeobject_metadata ORDER BY oid",
        )
    };
    assert_eq!(blobs(&replayed), blobs(&src));
    assert_eq!(blobs(&replayed).len(), 2);
}

/// The rows of every table of the sample application as INSERT statements.
fn insert_count(script: &str, table: &str) -> usize {
    script
        .lines()
        .filter(|l| l.starts_with(&format!("INSERT INTO {table} ")))
        .count()
}

/// `--inserts`, `--column-inserts`, `--rows-per-insert` and
/// `--on-conflict-do-nothing`: each script replays into the same database,
/// shaped as pg_dump shapes it.
#[test]
fn insert_scripts_replay_and_take_pg_dump_shapes() {
    let c = shared_cluster();
    let src = c.create_database("plain_ins_src");
    src.load_fixture_for_major(c.major_version());
    let dir = tempdir();
    let conn = src.conn_string();
    let dump = |name: &str, extra: &[&str]| -> (PathBuf, String) {
        let path = dir.path().join(name);
        let mut args = vec!["dump", "--source", &conn, "-o", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        pgferry_ok(&args);
        let text = read(&path);
        (path, text)
    };
    let rows = |table: &str| -> usize {
        src.query_one_string(&format!("SELECT count(*) FROM {table}"))
            .unwrap()
            .parse()
            .unwrap()
    };
    let n = rows("public.events");
    assert!(n > 3, "the fixture's events table has rows");

    // --inserts: one statement per row, no COPY, no column list.
    let (path, text) = dump("ins.sql", &["--inserts"]);
    assert!(!text.contains(" FROM stdin;"), "no COPY with --inserts");
    assert_eq!(insert_count(&text, "public.events"), n);
    assert!(text.contains("INSERT INTO public.events VALUES ("));
    let db = c.create_database("plain_ins_a");
    replay_ok(c.bin_dir(), &db, &path);
    assert_same(c.bin_dir(), &src, &db);

    // --column-inserts: the columns named.
    let (path, text) = dump("cols.sql", &["--column-inserts"]);
    assert_eq!(insert_count(&text, "public.events"), n);
    assert!(
        text.lines()
            .filter(|l| l.starts_with("INSERT INTO public.events "))
            .all(|l| l.starts_with("INSERT INTO public.events (")),
        "every INSERT names its columns"
    );
    let db = c.create_database("plain_ins_b");
    replay_ok(c.bin_dir(), &db, &path);
    assert_same(c.bin_dir(), &src, &db);

    // --rows-per-insert 3: ceil(n / 3) statements.
    let (path, text) = dump("rows.sql", &["--rows-per-insert", "3"]);
    let stmts = text
        .lines()
        .filter(|l| l.starts_with("INSERT INTO public.events "))
        .count();
    assert_eq!(stmts, n.div_ceil(3), "--rows-per-insert 3 on {n} rows");
    let db = c.create_database("plain_ins_c");
    replay_ok(c.bin_dir(), &db, &path);
    assert_same(c.bin_dir(), &src, &db);

    // --on-conflict-do-nothing: a data-only script of an application whose
    // tables all have keys replays twice into the same database; the second
    // time inserts nothing.
    let app = c.create_database("plain_ins_app");
    app.load_fixture("sample_app.sql");
    let app_conn = app.conn_string();
    let app_dump = |name: &str, extra: &[&str]| -> PathBuf {
        let path = dir.path().join(name);
        let mut args = vec!["dump", "--source", &app_conn, "-o", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        pgferry_ok(&args);
        path
    };
    let path = app_dump(
        "again.sql",
        &["--data-only", "--inserts", "--on-conflict-do-nothing"],
    );
    assert!(read(&path).contains(" ON CONFLICT DO NOTHING;\n"));
    let db = c.create_database("plain_ins_d");
    replay_ok(c.bin_dir(), &db, &app_dump("s.sql", &["--schema-only"]));
    replay_ok(c.bin_dir(), &db, &path);
    let once = table_contents(&db);
    replay_ok(c.bin_dir(), &db, &path);
    assert_eq!(table_contents(&db), once, "the second replay changed rows");
    assert_eq!(table_contents(&db), table_contents(&app));
    // Without the clause the second replay fails on the keys.
    let dup = app_dump("dup.sql", &["--data-only", "--inserts"]);
    let out = replay(c.bin_dir(), &db, &dup);
    assert!(!out.status.success(), "duplicate keys must be refused");
}

/// Format switches that cannot work are refused by name, exit code 2, and
/// a dump that fails leaves no script behind.
#[test]
fn bad_format_switches_are_refused_and_a_failed_script_leaves_no_file() {
    let src = shared_cluster().create_database("plain_bad_src");
    src.load_fixture("sample_app.sql");
    let dir = tempdir();
    let out = dir.path().join("x.out");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["-F", "d"], "no directory format"),
        (&["-F", "tar"], "no tar format"),
        (&["--inserts"], "need --format plain"),
        (
            &["-F", "p", "--on-conflict-do-nothing"],
            "--on-conflict-do-nothing needs --inserts",
        ),
    ];
    for (extra, says) in cases {
        let conn = src.conn_string();
        let mut args = vec!["dump", "--source", &conn, "-o", out];
        args.extend_from_slice(extra);
        let o = pgferry(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
        assert!(!Path::new(out).exists(), "{extra:?} left a file");
    }
    // A source that refuses: no file that looks like a script.
    let script = dir.path().join("gone.sql");
    let o = pgferry(&[
        "dump",
        "--source",
        "host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2",
        "-o",
        script.to_str().unwrap(),
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        !script.exists(),
        "a failed plain dump left {}",
        script.display()
    );
}

/// `--clean` (`--if-exists`): the script replays over a stale copy and
/// leaves the source's database. `-C --clean`: replayed from the
/// maintenance database, it drops and creates the database and fills it.
#[test]
fn clean_and_create_scripts_replace_a_stale_copy_and_make_the_database() {
    let c = shared_cluster();
    let src = c.create_database("plain_clean_src");
    src.load_fixture("sample_app.sql");
    let dir = tempdir();
    let conn = src.conn_string();
    let script = dir.path().join("clean.sql");
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "-c",
        "--if-exists",
        "-o",
        script.to_str().unwrap(),
    ]);
    let dst = c.create_database("plain_clean_dst");
    replay_ok(c.bin_dir(), &dst, &script);
    dst.execute_batch(
        "DELETE FROM public.order_items WHERE line_no = 1; CREATE TABLE public.stale (x int); \
         CREATE SCHEMA mine; CREATE TABLE mine.keep (x int)",
    );
    replay_ok(c.bin_dir(), &dst, &script);
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM mine.keep")
            .as_deref(),
        Some("0"),
        "a schema the script does not hold stays"
    );
    dst.execute_batch("DROP SCHEMA mine CASCADE");
    assert_same_database(&src, &dst);

    // -C -c: the database itself. A reference copy first, then the source goes.
    let reference = c.create_database("plain_create_ref");
    let archive = dir.path().join("ref.pgf");
    pgferry_ok(&["dump", "--source", &conn, "-o", archive.to_str().unwrap()]);
    pgferry_ok(&[
        "restore",
        "--target",
        &reference.conn_string(),
        archive.to_str().unwrap(),
    ]);
    let create = dir.path().join("create.sql");
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "-C",
        "--clean",
        "-o",
        create.to_str().unwrap(),
    ]);
    let name = src.name().to_string();
    let maintenance = c.database("postgres");
    let out = Command::new(c.bin_dir().join("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(maintenance.conn_string())
        .arg("-f")
        .arg(&create)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recreated = c.database(&name);
    assert_same_database(&reference, &recreated);
    // Plain only: an archive is cleaned at restore time.
    let o = pgferry(&[
        "dump",
        "--source",
        &conn,
        "--clean",
        "-o",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("restore --clean"), "{}", stderr(&o));
}

/// `restore -f SCRIPT ARCHIVE`: the archive written as a plain script,
/// without any server, replays into the same database as the source (on
/// every requested major); `-f -` writes the same script to stdout. A column of a type it
/// cannot print offline is refused, naming it, and leaves no file.
#[test]
fn restore_f_writes_an_archive_as_a_script_that_replays_into_the_same_database() {
    for major in requested_majors() {
        let c = cluster(major);
        let src = c.create_database(&format!("plain_rf_src_{major}"));
        src.load_fixture_for_major(major);
        src.execute_batch("SELECT lo_from_bytea(434343, '\\x0102'::bytea)");
        let dir = tempdir();
        let archive = dir.path().join("app.pgf");
        let archive = archive.to_str().unwrap();
        pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
        let script = dir.path().join("from-archive.sql");
        pgferry_ok(&["restore", "-f", script.to_str().unwrap(), archive]);
        let text = read(&script);
        assert!(
            text.contains(" FROM stdin;\n") && text.ends_with("-- pgferry plain dump complete\n")
        );
        let tools = client_dir(major, c.bin_dir());
        let dst = c.create_database(&format!("plain_rf_dst_{major}"));
        replay_ok(&tools, &dst, &script);
        assert_same(&tools, &src, &dst);
        let blob = |db: &TestDb| db.query_one_string("SELECT encode(lo_get(434343), 'hex')");
        assert_eq!(blob(&dst).as_deref(), Some("0102"));
        let stdout = pgferry_ok(&["restore", "-f", "-", archive]);
        assert_eq!(String::from_utf8(stdout.stdout).unwrap(), text);
    }
    // A type pgferry cannot print without a server.
    let c = shared_cluster();
    let src = c.create_database("plain_rf_tsv");
    src.execute_batch("CREATE TABLE public.docs (id int, body tsquery); INSERT INTO public.docs VALUES (1, 'a & b')");
    let dir = tempdir();
    let archive = dir.path().join("tsv.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let script = dir.path().join("tsv.sql");
    let o = pgferry(&["restore", "-f", script.to_str().unwrap(), archive]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("public.docs.body") && stderr(&o).contains("tsquery"),
        "{}",
        stderr(&o)
    );
    assert!(!script.exists(), "a refused script left a file");
    // Its definitions alone print (no rows to convert).
    pgferry_ok(&[
        "restore",
        "--schema-only",
        "-f",
        script.to_str().unwrap(),
        archive,
    ]);
    assert!(read(&script).contains("CREATE TABLE public.docs"));
}
