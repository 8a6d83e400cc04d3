//! Dump the fixture database and restore it into an empty one: pg_dump (the
//! oracle) sees the same schema, and every row, sequence and matview matches.
mod common;

use common::*;
use pgferry_testkit::shared_cluster;

#[test]
fn fixture_round_trip_is_identical() {
    let cluster = shared_cluster();
    let src = cluster.create_database("rt_src");
    src.load_fixture_for_major(cluster.major_version());
    let dst = cluster.create_database("rt_dst");
    let dir = tempdir();
    let archive = dir.path().join("fixture.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let listed = pgferry_ok(&["list", archive]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("TABLE DATA"));
    pgferry_ok(&["restore", "--target", &dst.conn_string(), archive]);
    assert_same_database(&src, &dst);
    // The comparison itself can fail: one changed value is noticed.
    let before = table_contents(&dst);
    assert!(before
        .iter()
        .any(|r| r[1].as_deref().is_some_and(|h| h.starts_with("20000:"))));
    dst.execute_batch(
        "UPDATE public.events SET payload = '{}' WHERE id = (SELECT min(id) FROM public.events)",
    );
    assert_ne!(before, table_contents(&dst));
}

#[test]
fn restore_clean_replaces_a_stale_copy_atomically() {
    let cluster = shared_cluster();
    let src = cluster.create_database("clean_src");
    src.load_fixture_for_major(cluster.major_version());
    let dst = cluster.create_database("clean_dst");
    dst.execute_batch(
        "CREATE TABLE public.stale (id int); INSERT INTO public.stale VALUES (1); \
         CREATE SCHEMA inventory; CREATE TABLE inventory.items (x int);",
    );
    let dir = tempdir();
    let archive = dir.path().join("a.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.uri(), "-o", archive]);
    pgferry_ok(&["restore", "--clean", "--target", &dst.uri(), archive]);
    assert_same_database(&src, &dst);
}

#[test]
fn dump_to_stdout_streams_a_valid_archive() {
    use std::process::{Command, Stdio};
    let cluster = shared_cluster();
    let src = cluster.create_database("stdout_src");
    src.load_fixture("sample_app.sql");
    let dst = cluster.create_database("stdout_dst");
    // pgferry dump -o - | pgferry restore -
    let mut dump = Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(["-q", "dump", "--source", &src.conn_string(), "-o", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let restore = Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(["-q", "restore", "--target", &dst.conn_string(), "-"])
        .stdin(dump.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(dump.wait().unwrap().success());
    assert!(restore.status.success(), "{}", stderr(&restore));
    assert_same_database(&src, &dst);
}

#[test]
fn schema_only_then_data_only_equals_full() {
    let cluster = shared_cluster();
    let src = cluster.create_database("split_src");
    src.load_fixture("sample_app.sql");
    src.execute_batch(
        "CREATE MATERIALIZED VIEW public.order_counts AS \
         SELECT customer_id, count(*) AS n FROM public.orders GROUP BY customer_id",
    );
    let dst = cluster.create_database("split_dst");
    let dir = tempdir();
    let schema = dir.path().join("schema.pgf");
    let data = dir.path().join("data.pgf");
    let c = src.conn_string();
    pgferry_ok(&[
        "dump",
        "--source",
        &c,
        "--schema-only",
        "-o",
        schema.to_str().unwrap(),
    ]);
    pgferry_ok(&[
        "dump",
        "--source",
        &c,
        "--data-only",
        "-o",
        data.to_str().unwrap(),
    ]);
    let t = dst.conn_string();
    pgferry_ok(&["restore", "--target", &t, schema.to_str().unwrap()]);
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.orders")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        dst.query_one_string(
            "SELECT count(*) FROM pg_class WHERE relkind = 'm' AND relispopulated"
        )
        .as_deref(),
        Some("0"),
        "a schema-only restore leaves materialized views unpopulated"
    );
    pgferry_ok(&["restore", "--target", &t, data.to_str().unwrap()]);
    assert_same_database(&src, &dst);
}

#[test]
fn ddl_prints_the_script_a_restore_runs() {
    let cluster = shared_cluster();
    let src = cluster.create_database("ddl_src");
    src.load_fixture("sample_app.sql");
    let dst = cluster.create_database("ddl_dst");
    let dir = tempdir();
    let archive = dir.path().join("s.pgf");
    pgferry_ok(&[
        "dump",
        "--source",
        &src.conn_string(),
        "--schema-only",
        "-o",
        archive.to_str().unwrap(),
    ]);
    let script = String::from_utf8(pgferry_ok(&["ddl", archive.to_str().unwrap()]).stdout).unwrap();
    assert!(script.contains("CREATE TABLE public.orders"), "{script}");
    // The script is valid SQL that yields the same schema.
    dst.execute_batch(&script);
    assert_eq!(
        pgferry_testkit::pg_dump_schema(&src),
        pgferry_testkit::pg_dump_schema(&dst)
    );
}

#[test]
fn parallel_dump_splits_large_tables_and_restores_identically() {
    let cluster = shared_cluster();
    let src = cluster.create_database("par_src");
    src.load_fixture_for_major(cluster.major_version());
    // "wide" dominates the database, so a two-job dump splits it.
    src.execute_batch(
        "CREATE TABLE public.wide (id bigint PRIMARY KEY, v text, n numeric, ts timestamptz); \
         INSERT INTO public.wide SELECT i, md5(i::text), i / 7.0, now() - i * interval '1 min' \
         FROM generate_series(1, 150000) i;",
    );
    let dst = cluster.create_database("par_dst");
    let dir = tempdir();
    let archive = dir.path().join("par.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&[
        "dump",
        "-j",
        "2",
        "--split-pages",
        "40",
        "--source",
        &src.conn_string(),
        "-o",
        archive,
    ]);
    let listed = String::from_utf8(pgferry_ok(&["list", "--json", archive]).stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let wide = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "TABLE DATA" && o["name"] == "wide")
        .unwrap();
    assert_eq!(wide["rows"], 150000);
    assert!(wide["parts"].as_u64().unwrap() > 2, "{wide}");
    pgferry_ok(&["restore", "--target", &dst.conn_string(), archive]);
    assert_same_database(&src, &dst);
    let out = pgferry(&[
        "verify",
        "--checksums",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn large_objects_travel_with_their_oids_owners_grants_and_comments() {
    let cluster = shared_cluster();
    let src = cluster.create_database("lo_src");
    src.execute_batch(
        "SELECT lo_from_bytea(424242, convert_to(repeat('large object ', 50000), 'UTF8')); \
         SELECT lo_from_bytea(424243, '\\x00ff00'::bytea); \
         SELECT lo_create(424244); \
         COMMENT ON LARGE OBJECT 424242 IS 'a big one'; \
         DO $$ BEGIN CREATE ROLE pgferry_reader; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
         GRANT SELECT ON LARGE OBJECT 424243 TO pgferry_reader; \
         CREATE TABLE public.docs (id int PRIMARY KEY, body oid); INSERT INTO public.docs VALUES (1, 424242);",
    );
    let los = |db: &pgferry_testkit::TestDb| {
        db.query_strings(
            "SELECT m.oid::text, md5(lo_get(m.oid)), m.lomacl::text, obj_description(m.oid, 'pg_largeobject') \
             FROM pg_largeobject_metadata m ORDER BY 1",
        )
    };
    let dir = tempdir();
    let archive = dir.path().join("lo.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    for jobs in ["1", "2"] {
        let dst = cluster.create_database("lo_dst");
        pgferry_ok(&[
            "restore",
            "-j",
            jobs,
            "--target",
            &dst.conn_string(),
            archive,
        ]);
        assert_eq!(los(&src), los(&dst), "restore -j {jobs}");
        assert_same_database(&src, &dst);
        // --clean over existing large objects with the same OIDs.
        pgferry_ok(&[
            "restore",
            "--clean",
            "--target",
            &dst.conn_string(),
            archive,
        ]);
        assert_eq!(los(&src), los(&dst));
    }
    let replica = cluster.create_database("lo_replica");
    for _ in 0..2 {
        pgferry_ok(&[
            "sync",
            "--source",
            &src.conn_string(),
            "--target",
            &replica.conn_string(),
        ]);
        assert_eq!(los(&src), los(&replica));
    }
}

#[test]
fn dump_filters_follow_pg_dump_patterns() {
    let cluster = shared_cluster();
    let src = cluster.create_database("filt_src");
    src.load_fixture("sample_app.sql");
    src.execute_batch(
        r#"CREATE SCHEMA "Other Stuff"; CREATE TABLE "Other Stuff"."Mixed" (id int PRIMARY KEY);
           CREATE TABLE "Other Stuff".mixed (id int); INSERT INTO "Other Stuff"."Mixed" VALUES (1), (2);
           CREATE SCHEMA aux; CREATE TABLE aux.audit_a (x int); CREATE TABLE aux.audit_b (x int);"#,
    );
    let dir = tempdir();
    let c = src.conn_string();
    let dump = |name: &str, filter: &[&str]| -> pgferry_testkit::TestDb {
        let archive = dir.path().join(format!("{name}.pgf"));
        let archive = archive.to_str().unwrap();
        let mut args = vec!["dump", "--source", c.as_str(), "-o", archive];
        args.extend_from_slice(filter);
        pgferry_ok(&args);
        let dst = cluster.create_database(name);
        if filter.contains(&"-t") {
            // -t dumps the table, not its schema (as pg_dump does).
            dst.execute_batch(r#"CREATE SCHEMA "Other Stuff""#);
        }
        pgferry_ok(&["restore", "--target", &dst.conn_string(), archive]);
        dst
    };
    let tables = |db: &pgferry_testkit::TestDb| {
        db.query_strings(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname !~ '^pg_' ORDER BY 1",
        )
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect::<Vec<_>>()
    };
    // -n twice (quoted mixed case, wildcard): those schemas, everything in them.
    let two = dump("filt_n", &["-n", r#""Other Stuff""#, "-n", "a?x"]);
    assert_eq!(
        tables(&two),
        [
            "Other Stuff.Mixed",
            "Other Stuff.mixed",
            "aux.audit_a",
            "aux.audit_b"
        ]
    );
    // -t with a double-quoted, case-sensitive name: exactly that table.
    let one = dump("filt_t", &["-t", r#""Other Stuff"."Mixed""#]);
    assert_eq!(tables(&one), ["Other Stuff.Mixed"]);
    assert_eq!(
        one.query_one_string(r#"SELECT count(*) FROM "Other Stuff"."Mixed""#)
            .as_deref(),
        Some("2")
    );
    // -T with a wildcard and --exclude-table-data: definition kept, rows skipped.
    let most = dump(
        "filt_tt",
        &[
            "-T",
            "aux.audit_*",
            "--exclude-table-data",
            "public.order_items",
        ],
    );
    let t = tables(&most);
    assert!(!t.iter().any(|x| x.starts_with("aux.")), "{t:?}");
    assert!(t.contains(&"public.order_items".to_string()), "{t:?}");
    assert_eq!(
        most.query_one_string("SELECT count(*) FROM public.order_items")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        most.query_one_string("SELECT count(*) FROM public.customers")
            .as_deref(),
        src.query_one_string("SELECT count(*) FROM public.customers")
            .as_deref()
    );
}
