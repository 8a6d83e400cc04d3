//! pg_dump's switches that leave parts out (issue #14): `-x/--no-privileges`
//! and `--no-comments` (on dump, recorded in the archive, and on restore),
//! and `--section` (a dump or restore split in three that adds up to the
//! whole).
mod common;

use std::path::Path;

use common::*;
use pgferry_testkit::{shared_cluster, TestDb};

/// The sample application with a grant on every table, a column grant, a
/// default privilege and comments on a table and a column.
fn source(name: &str) -> TestDb {
    let src = shared_cluster().create_database(name);
    src.load_fixture("sample_app.sql");
    src.execute_batch(
        "DO $$ BEGIN CREATE ROLE switches_reader NOLOGIN; \
           EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO switches_reader; \
         GRANT UPDATE (note) ON public.orders TO switches_reader; \
         ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO switches_reader; \
         COMMENT ON COLUMN public.orders.note IS 'free text';",
    );
    src
}

/// (relation, has privileges, comment) of every table, the column comment,
/// and the count of default privileges.
fn grants_and_comments(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT c.oid::regclass::text, (c.relacl IS NOT NULL)::text, obj_description(c.oid, 'pg_class') \
         FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' \
         UNION ALL SELECT 'orders.note', (SELECT (attacl IS NOT NULL)::text FROM pg_attribute \
           WHERE attrelid = 'public.orders'::regclass AND attname = 'note'), \
           col_description('public.orders'::regclass, (SELECT attnum FROM pg_attribute \
           WHERE attrelid = 'public.orders'::regclass AND attname = 'note')::int) \
         UNION ALL SELECT 'default acl', count(*)::text, NULL FROM pg_default_acl \
         ORDER BY 1",
    )
}

fn any_grant(rows: &[Vec<Option<String>>]) -> bool {
    rows.iter()
        .any(|r| r[0].as_deref() != Some("default acl") && r[1].as_deref() == Some("true"))
}

fn any_comment(rows: &[Vec<Option<String>>]) -> bool {
    rows.iter().any(|r| r[2].is_some())
}

fn default_acls(rows: &[Vec<Option<String>>]) -> &str {
    rows.iter()
        .find(|r| r[0].as_deref() == Some("default acl"))
        .and_then(|r| r[1].as_deref())
        .unwrap_or("?")
}

#[test]
fn no_privileges_and_no_comments_leave_out_grants_and_comments() {
    let src = source("sw_omit_src");
    let all = grants_and_comments(&src);
    assert!(any_grant(&all) && any_comment(&all) && default_acls(&all) == "1");
    let dir = tempdir();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let conn = src.conn_string();

    // A plain dump keeps both; the archive's restore too.
    pgferry_ok(&["dump", "--source", &conn, "-o", &path("all.pgf")]);
    let kept = shared_cluster().create_database("sw_omit_kept");
    pgferry_ok(&["restore", "--target", &kept.conn_string(), &path("all.pgf")]);
    assert_eq!(
        grants_and_comments(&kept),
        all,
        "a plain restore keeps both"
    );

    // dump -x --no-comments: the archive records it, its restore has neither.
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "-x",
        "--no-comments",
        "-o",
        &path("none.pgf"),
    ]);
    let none = shared_cluster().create_database("sw_omit_none");
    pgferry_ok(&[
        "restore",
        "--target",
        &none.conn_string(),
        &path("none.pgf"),
    ]);
    let got = grants_and_comments(&none);
    assert!(!any_grant(&got), "grants restored after dump -x: {got:?}");
    assert!(
        !any_comment(&got),
        "comments restored after --no-comments: {got:?}"
    );
    assert_eq!(default_acls(&got), "0");
    assert_eq!(
        table_contents(&none),
        table_contents(&src),
        "the rows all came"
    );

    // restore -x of the full archive: no grants, comments kept.
    let no_grants = shared_cluster().create_database("sw_omit_restore_x");
    pgferry_ok(&[
        "restore",
        "-x",
        "--target",
        &no_grants.conn_string(),
        &path("all.pgf"),
    ]);
    let got = grants_and_comments(&no_grants);
    assert!(!any_grant(&got) && any_comment(&got), "{got:?}");

    // A script with --no-privileges has no GRANT, REVOKE or default privileges; one with
    // --no-comments has no COMMENT.
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--no-privileges",
        "-o",
        &path("x.sql"),
    ]);
    let script = std::fs::read_to_string(path("x.sql")).unwrap();
    assert!(
        !script.lines().any(|l| l.starts_with("GRANT ")
            || l.starts_with("REVOKE ")
            || l.starts_with("ALTER DEFAULT PRIVILEGES")),
        "a -x script grants"
    );
    assert!(script.contains("COMMENT ON TABLE public.customers"));
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--no-comments",
        "-o",
        &path("c.sql"),
    ]);
    let script = std::fs::read_to_string(path("c.sql")).unwrap();
    assert!(
        !script.contains("COMMENT ON "),
        "a --no-comments script comments"
    );
    assert!(script.contains("GRANT SELECT ON TABLE public.customers TO switches_reader"));
}

fn psql_replay(db: &TestDb, script: &Path) {
    let psql = pgferry_testkit::psql_bin();
    replay_ok(psql.parent().unwrap_or(Path::new("")), db, script);
}

/// `--section pre-data`, `data`, `post-data`: three scripts replayed in
/// order, and three restores of one archive, each make the whole database;
/// each part holds only its own.
#[test]
fn sections_split_a_dump_and_a_restore_into_parts_that_add_up() {
    let src = source("sw_sect_src");
    let dir = tempdir();
    let conn = src.conn_string();
    let sections = ["pre-data", "data", "post-data"];
    let replayed = shared_cluster().create_database("sw_sect_replayed");
    let mut scripts = Vec::new();
    for s in sections {
        let p = dir.path().join(format!("{s}.sql"));
        pgferry_ok(&[
            "dump",
            "--source",
            &conn,
            "--section",
            s,
            "-o",
            p.to_str().unwrap(),
        ]);
        scripts.push(std::fs::read_to_string(&p).unwrap());
        psql_replay(&replayed, &p);
    }
    assert_same_database(&src, &replayed);
    let (pre, data, post) = (&scripts[0], &scripts[1], &scripts[2]);
    assert!(pre.contains("CREATE TABLE public.orders"));
    assert!(!pre.contains(" FROM stdin;") && !pre.contains("CREATE INDEX "));
    assert!(data.contains("COPY public.orders ") && !data.contains("CREATE TABLE"));
    assert!(
        post.contains("CREATE INDEX ")
            && !post.contains("CREATE TABLE")
            && !post.contains(" FROM stdin;")
    );

    let archive = dir.path().join("all.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &conn, "-o", archive]);
    let restored = shared_cluster().create_database("sw_sect_restored");
    for s in sections {
        pgferry_ok(&[
            "restore",
            "--section",
            s,
            "--target",
            &restored.conn_string(),
            archive,
        ]);
        if s == "pre-data" {
            assert_eq!(
                restored
                    .query_one_string("SELECT count(*)::text FROM public.orders")
                    .as_deref(),
                Some("0"),
                "pre-data alone loads no rows"
            );
            assert_eq!(
                restored
                    .query_one_string("SELECT count(*)::text FROM pg_indexes WHERE indexname = 'orders_customer_idx'")
                    .as_deref(),
                Some("0"),
                "pre-data alone builds no index"
            );
        }
    }
    assert_same_database(&src, &restored);
}

fn count(db: &TestDb, table: &str) -> String {
    db.query_one_string(&format!("SELECT count(*)::text FROM {table}"))
        .unwrap_or_default()
}

/// `--snapshot NAME` reads in a snapshot another session exported (rows
/// deleted after it are still dumped); a bad name is refused naming the
/// switch; `--serializable-deferrable` dumps.
#[tokio::test(flavor = "multi_thread")]
async fn a_dump_reads_in_an_exported_snapshot() {
    let src = shared_cluster().create_database("sw_snap_src");
    src.load_fixture("sample_app.sql");
    let before = count(&src, "public.order_items");
    assert_ne!(before, "0");
    let holder = src.connect().await;
    holder
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    let name: String = holder
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .unwrap()
        .get(0);
    src.execute_batch("DELETE FROM public.order_items");
    let dir = tempdir();
    let script = dir.path().join("snap.sql");
    let conn = src.conn_string();
    let script_path = script.to_str().unwrap();
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--snapshot",
        &name,
        "-o",
        script_path,
    ]);
    let replayed = shared_cluster().create_database("sw_snap_replayed");
    psql_replay(&replayed, &script);
    assert_eq!(
        count(&replayed, "public.order_items"),
        before,
        "the snapshot's rows"
    );
    holder.batch_execute("COMMIT").await.unwrap();

    let bad = pgferry(&[
        "dump",
        "--source",
        &conn,
        "--snapshot",
        "00000003-0000001B-1",
        "-o",
        script_path,
    ]);
    assert_ne!(bad.status.code(), Some(0));
    assert!(
        stderr(&bad).contains("--snapshot 00000003-0000001B-1"),
        "{}",
        stderr(&bad)
    );

    let ser = dir.path().join("ser.sql");
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--serializable-deferrable",
        "-o",
        ser.to_str().unwrap(),
    ]);
    let replayed = shared_cluster().create_database("sw_snap_ser");
    psql_replay(&replayed, &ser);
    assert_same_database(&src, &replayed);
}

/// `-Z`: an archive's zstd level; a zstd-compressed script (`-Fp -Z
/// zstd:N`) that zstd decompresses into the plain script; gzip and an
/// uncompressed archive refused by name.
#[test]
fn compress_switch_takes_pg_dump_spellings() {
    let src = shared_cluster().create_database("sw_z_src");
    src.load_fixture("sample_app.sql");
    let conn = src.conn_string();
    let dir = tempdir();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    pgferry_ok(&["dump", "--source", &conn, "-Z", "9", "-o", &p("a.pgf")]);
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "-Z",
        "zstd:level=2",
        "-o",
        &p("b.pgf"),
    ]);
    let restored = shared_cluster().create_database("sw_z_restored");
    pgferry_ok(&["restore", "--target", &restored.conn_string(), &p("a.pgf")]);
    assert_same_database(&src, &restored);

    pgferry_ok(&["dump", "--source", &conn, "-o", &p("plain.sql")]);
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "-F",
        "p",
        "-Z",
        "zstd:5",
        "-o",
        &p("plain.sql.zst"),
    ]);
    let packed = std::fs::read(p("plain.sql.zst")).unwrap();
    let unpacked = zstd::stream::decode_all(&packed[..]).expect("a zstd frame");
    assert_eq!(unpacked, std::fs::read(p("plain.sql")).unwrap());
    assert!(
        packed.len() < unpacked.len() / 2,
        "the script is compressed"
    );

    for (z, says) in [
        ("gzip:5", "zstd only"),
        ("none", "always zstd-compressed"),
        ("zstd:99", "1 to 22"),
    ] {
        let o = pgferry(&["dump", "--source", &conn, "-Z", z, "-o", &p("bad.pgf")]);
        assert_eq!(o.status.code(), Some(2), "-Z {z}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "-Z {z}: {}", stderr(&o));
    }
}

/// pg_dump's `-h -p -U -d` instead of a connection string, on dump and
/// restore; `-d` also takes a connection string; mixing `-d` with
/// `--source` is refused.
#[test]
fn libpq_connection_switches_work_on_dump_and_restore() {
    let src = shared_cluster().create_database("sw_conn_src");
    src.load_fixture("sample_app.sql");
    let port = src.port().to_string();
    let dir = tempdir();
    let archive = dir.path().join("a.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&[
        "dump",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        "postgres",
        "-d",
        src.name(),
        "-o",
        archive,
    ]);
    let dst = shared_cluster().create_database("sw_conn_dst");
    pgferry_ok(&[
        "restore",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        "postgres",
        "-d",
        dst.name(),
        archive,
    ]);
    assert_same_database(&src, &dst);
    // -d with a whole connection string.
    let script = dir.path().join("s.sql");
    pgferry_ok(&[
        "dump",
        "-d",
        &src.conn_string(),
        "-o",
        script.to_str().unwrap(),
    ]);
    assert!(std::fs::read_to_string(&script)
        .unwrap()
        .contains("CREATE TABLE public.orders"));
    let o = pgferry(&[
        "dump",
        "--source",
        &src.conn_string(),
        "-d",
        src.name(),
        "-o",
        archive,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not both"), "{}", stderr(&o));
    // --help still works without -h.
    let help = pgferry(&["dump", "--help"]);
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("--host"));
    // pgferry --help ends with the pg_dump -> pgferry table.
    let top = pgferry(&["--help"]);
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(
        top.contains("From pg_dump / pg_restore") && top.contains("pg_restore -l / -L list"),
        "{top}"
    );
}

/// `--no-table-access-method`: tables and materialized views made `USING`
/// another access method come back with the target's default, from a dump
/// (recorded in the archive), a script, or a restore with the switch.
#[test]
fn no_table_access_method_leaves_out_using() {
    let src = shared_cluster().create_database("sw_am_src");
    src.execute_batch(
        "CREATE ACCESS METHOD heap_two TYPE TABLE HANDLER heap_tableam_handler; \
         CREATE TABLE public.t (x int) USING heap_two; INSERT INTO public.t VALUES (1), (2); \
         CREATE MATERIALIZED VIEW public.mv USING heap_two AS SELECT x FROM public.t;",
    );
    let am = |db: &TestDb| {
        db.query_strings(
            "SELECT c.relname::text, a.amname::text FROM pg_class c JOIN pg_am a ON a.oid = c.relam \
             WHERE c.relname IN ('t', 'mv') ORDER BY 1",
        )
    };
    let using = |db: &TestDb| -> Vec<String> {
        am(db)
            .into_iter()
            .map(|r| r[1].clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(using(&src), ["heap_two", "heap_two"]);
    let dir = tempdir();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let conn = src.conn_string();
    // Without the switch the method travels.
    pgferry_ok(&["dump", "--source", &conn, "-o", &p("all.pgf")]);
    let kept = shared_cluster().create_database("sw_am_kept");
    pgferry_ok(&["restore", "--target", &kept.conn_string(), &p("all.pgf")]);
    assert_eq!(using(&kept), ["heap_two", "heap_two"]);
    // dump --no-table-access-method: recorded in the archive.
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--no-table-access-method",
        "-o",
        &p("no.pgf"),
    ]);
    let plain = shared_cluster().create_database("sw_am_dump");
    pgferry_ok(&["restore", "--target", &plain.conn_string(), &p("no.pgf")]);
    assert_eq!(using(&plain), ["heap", "heap"]);
    assert_eq!(table_contents(&plain), table_contents(&src));
    // restore --no-table-access-method of the full archive.
    let restored = shared_cluster().create_database("sw_am_restore");
    pgferry_ok(&[
        "restore",
        "--no-table-access-method",
        "--target",
        &restored.conn_string(),
        &p("all.pgf"),
    ]);
    assert_eq!(using(&restored), ["heap", "heap"]);
    // A script has no USING.
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--no-table-access-method",
        "-o",
        &p("no.sql"),
    ]);
    let script = std::fs::read_to_string(p("no.sql")).unwrap();
    assert!(
        !script.contains("USING heap_two"),
        "a --no-table-access-method script says USING"
    );
    assert!(script.contains("CREATE ACCESS METHOD heap_two"));
}

/// `--load-via-partition-root`: a partition's rows load through the root,
/// so a target whose partitions are bounded otherwise still takes them
/// (without the switch the rows are refused by the partition they came
/// from); a script `COPY`s into the root.
#[test]
fn load_via_partition_root_lets_rows_find_the_targets_partitions() {
    let c = shared_cluster();
    let src = c.create_database("sw_root_src");
    src.execute_batch(
        "CREATE TABLE public.m (id int, v text) PARTITION BY RANGE (id); \
         CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (100); \
         CREATE TABLE public.m2 PARTITION OF public.m FOR VALUES FROM (100) TO (200); \
         INSERT INTO public.m SELECT g, 'v' || g FROM generate_series(0, 199) g;",
    );
    let dir = tempdir();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let conn = src.conn_string();
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--data-only",
        "-o",
        &p("direct.pgf"),
    ]);
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--data-only",
        "--load-via-partition-root",
        "-o",
        &p("root.pgf"),
    ]);
    let other_bounds = "CREATE TABLE public.m (id int, v text) PARTITION BY RANGE (id); \
         CREATE TABLE public.m1 PARTITION OF public.m FOR VALUES FROM (0) TO (50); \
         CREATE TABLE public.m2 PARTITION OF public.m FOR VALUES FROM (50) TO (200);";
    let direct = c.create_database("sw_root_direct");
    direct.execute_batch(other_bounds);
    let o = pgferry(&[
        "restore",
        "--data-only",
        "--target",
        &direct.conn_string(),
        &p("direct.pgf"),
    ]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "rows of m1 (0..99) do not fit the target's m1 (0..49)"
    );
    let via = c.create_database("sw_root_via");
    via.execute_batch(other_bounds);
    pgferry_ok(&[
        "restore",
        "--data-only",
        "--target",
        &via.conn_string(),
        &p("root.pgf"),
    ]);
    assert_eq!(
        via.query_strings(
            "SELECT tableoid::regclass::text, count(*)::text FROM public.m GROUP BY 1 ORDER BY 1"
        ),
        [
            [Some("m1".to_string()), Some("50".to_string())],
            [Some("m2".to_string()), Some("150".to_string())]
        ]
    );
    let rows = |db: &TestDb| {
        db.query_one_string("SELECT count(*) || ':' || md5(string_agg(id || '=' || v, ',' ORDER BY id)) FROM public.m")
    };
    assert_eq!(rows(&via), rows(&src));
    // A script loads through the root too.
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--load-via-partition-root",
        "-o",
        &p("root.sql"),
    ]);
    let script = std::fs::read_to_string(p("root.sql")).unwrap();
    assert_eq!(
        script.matches("COPY public.m (id, v) FROM stdin;").count(),
        2,
        "both partitions' rows go through the root"
    );
    assert!(!script.contains("COPY public.m1 "));
    let replayed = c.create_database("sw_root_replayed");
    psql_replay(&replayed, Path::new(&p("root.sql")));
    assert_eq!(rows(&replayed), rows(&src));
    // A whole archive restores through the root (no FREEZE there).
    pgferry_ok(&[
        "dump",
        "--source",
        &conn,
        "--load-via-partition-root",
        "-o",
        &p("full.pgf"),
    ]);
    let full = c.create_database("sw_root_full");
    pgferry_ok(&["restore", "--target", &full.conn_string(), &p("full.pgf")]);
    assert_same_database(&src, &full);
}
