//! Every object kind of `fixtures/kinds/` (base and shell types, operators,
//! operator classes and families, access methods, conversions, languages,
//! transforms, text search parsers and templates, foreign data, a
//! subscription, database properties, dependency loops) through dump +
//! restore, two syncs over the same replica, and `ddl` replayed by psql;
//! the switches for subscriptions and user-mapping passwords; what pgferry
//! cannot carry is refused before the target is touched.
//!
//! The version matrix (tests/version_matrix.rs) takes the same fixtures
//! across 13–18; tests/regress_db.rs takes PostgreSQL's regression database.
mod common;

use std::process::{Command, Stdio};

use common::*;
use pgferry_testkit::{psql_bin, shared_cluster, TestDb};

/// The fixtures of `schema.sql`, `versions/` and `kinds/` in a fresh database.
fn kinds_source(name: &str) -> TestDb {
    let cluster = shared_cluster();
    let db = cluster.create_database(name);
    db.load_fixture_for_major(cluster.major_version());
    db.load_kind_fixtures();
    db
}

/// The database's own properties: settings, per-role settings, comment and
/// privileges (the role names only, owners aside).
fn database_properties(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT COALESCE(pg_catalog.pg_get_userbyid(s.setrole)::text, '-'), s.setconfig::text \
         FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase \
         WHERE d.datname = current_database() \
         UNION ALL SELECT 'comment', shobj_description(d.oid, 'pg_database') FROM pg_database d \
         WHERE d.datname = current_database() \
         UNION ALL SELECT 'acl', (SELECT string_agg(g, ',' ORDER BY g) FROM (SELECT CASE WHEN a.grantee = 0 \
              THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END || ':' || a.privilege_type AS g \
              FROM aclexplode(d.datacl) a WHERE a.grantee <> d.datdba) x) \
         FROM pg_database d WHERE d.datname = current_database() ORDER BY 1, 2",
    )
}

/// `pgferry sync` from `src` into the connection string `dst`, with `extra` flags.
fn sync(src: &TestDb, dst: &str, extra: &[&str]) -> std::process::Output {
    let src = src.conn_string();
    let mut args = vec!["sync", "--source", src.as_str(), "--target", dst];
    args.extend_from_slice(extra);
    pgferry(&args)
}

fn ddl_of(archive: &str) -> String {
    String::from_utf8(pgferry_ok(&["ddl", archive]).stdout).unwrap()
}

#[test]
fn every_kind_restores_and_syncs_twice_identically() {
    let src = kinds_source("kinds_src");
    let props = database_properties(&src);
    assert!(
        props
            .iter()
            .any(|r| r[1].as_deref().is_some_and(|v| v.contains("work_mem=8MB"))),
        "the fixture sets database properties: {props:?}"
    );
    let dir = tempdir();
    let archive = dir.path().join("kinds.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let listed = String::from_utf8(pgferry_ok(&["list", archive]).stdout).unwrap();
    for kind in [
        "TYPE (base)",
        "SHELL TYPE",
        "ACCESS METHOD",
        "OPERATOR CLASS",
        "OPERATOR FAMILY",
        "CONVERSION",
        "PROCEDURAL LANGUAGE",
        "TRANSFORM",
        "TEXT SEARCH PARSER",
        "TEXT SEARCH TEMPLATE",
        "FOREIGN DATA WRAPPER",
        "SERVER",
        "USER MAPPING",
        "SUBSCRIPTION",
        "DATABASE PROPERTIES",
        "CHECK CONSTRAINT",
        "DEFAULT",
        "DOMAIN CONSTRAINT",
        "VIEW QUERY",
    ] {
        assert!(listed.contains(kind), "list lacks {kind}:\n{listed}");
    }

    let restored = shared_cluster().create_database("kinds_restored");
    pgferry_ok(&["restore", "--target", &restored.conn_string(), archive]);
    assert_same_database(&src, &restored);
    assert_eq!(props, database_properties(&restored));
    // The loops' objects work on the copy: the split-off check rejects a
    // bad row, the view reads its function, the matviews are populated in order.
    assert_eq!(
        restored.query_strings("SELECT total::text FROM public.fx_mv_top"),
        vec![vec![Some("5".to_string())]]
    );
    assert_eq!(
        restored.query_strings("SELECT a::text, b FROM public.fx_self_view"),
        vec![vec![Some("2".to_string()), Some("y".to_string())]]
    );
    let bad = restored.try_execute_batch("INSERT INTO public.fx_checked VALUES (3, -1)");
    assert!(bad.is_err(), "the CHECK over the row type is gone");
    // The inheritance child keeps the default its parent has split off.
    assert_eq!(
        restored.query_strings(
            "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef \
             WHERE adrelid = 'public.fx_defaulted_child'::regclass"
        ),
        vec![vec![Some("fx_default_n(NULL::fx_defaulted)".to_string())]]
    );
    // --clean of one foreign table (DROP FOREIGN TABLE, not DROP TABLE).
    pgferry_ok(&[
        "restore",
        "--clean",
        "-t",
        "public.fx_remote",
        "--target",
        &restored.conn_string(),
        archive,
    ]);

    // Two syncs over the same replica: the second replaces the database-wide
    // objects (wrapper, server, language, access method, subscription, transform).
    let replica = shared_cluster().create_database("kinds_replica");
    for round in 0..2 {
        src.execute_batch(&format!(
            "INSERT INTO public.fx_aliases VALUES ({}, '{round}', NULL)",
            10 + round
        ));
        let out = sync(&src, &replica.conn_string(), &[]);
        assert!(out.status.success(), "sync {round}: {}", stderr(&out));
        assert_replica_equals(&src, &replica);
        assert_eq!(props, database_properties(&replica), "sync {round}");
    }
}

#[test]
fn ddl_of_every_kind_replays_with_psql() {
    let src = kinds_source("kinds_ddl_src");
    let dir = tempdir();
    let archive = dir.path().join("kinds.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let ddl = ddl_of(archive);
    let replay = shared_cluster().create_database("kinds_ddl_replay");
    let mut child = Command::new(psql_bin())
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &replay.conn_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(ddl.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "psql stopped on the ddl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The schema is all there (no data: matviews stay unpopulated, large
    // objects empty), as pg_dump sees it.
    let restored = shared_cluster().create_database("kinds_ddl_restored");
    pgferry_ok(&[
        "restore",
        "--schema-only",
        "--target",
        &restored.conn_string(),
        archive,
    ]);
    let (a, b) = (
        pgferry_testkit::pg_dump_schema(&replay),
        pgferry_testkit::pg_dump_schema(&restored),
    );
    assert!(
        a == b,
        "replayed ddl and restore --schema-only differ: {}",
        first_difference(&a, &b)
    );
}

#[test]
fn user_mapping_passwords_travel_only_when_asked() {
    let src = kinds_source("kinds_secret_src");
    src.execute_batch(
        "CREATE USER MAPPING FOR postgres SERVER fx_server OPTIONS (user 'me', password 'hunter2')",
    );
    let dir = tempdir();
    let plain = dir.path().join("plain.pgf");
    let plain = plain.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", plain]);
    let ddl = ddl_of(plain);
    assert!(!ddl.contains("hunter2"), "{ddl}");
    assert!(
        ddl.contains("CREATE USER MAPPING FOR postgres SERVER fx_server OPTIONS (\"user\" 'me')")
    );
    let bytes = std::fs::read(plain).unwrap();
    assert!(!bytes.windows(7).any(|w| w == b"hunter2"));
    let dst = shared_cluster().create_database("kinds_secret_dst");
    pgferry_ok(&["restore", "--target", &dst.conn_string(), plain]);
    let options = |db: &TestDb| {
        db.query_strings(
            "SELECT umoptions::text FROM pg_user_mappings WHERE srvname = 'fx_server' AND usename = 'postgres'",
        )
    };
    assert_eq!(options(&dst), vec![vec![Some("{user=me}".to_string())]]);

    let with = dir.path().join("with.pgf");
    let with = with.to_str().unwrap();
    pgferry_ok(&[
        "dump",
        "--user-mapping-passwords",
        "--source",
        &src.conn_string(),
        "-o",
        with,
    ]);
    assert!(ddl_of(with).contains("password 'hunter2'"));
    let replica = shared_cluster().create_database("kinds_secret_replica");
    let out = sync(&src, &replica.conn_string(), &["--user-mapping-passwords"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        options(&replica),
        vec![vec![Some("{user=me,password=hunter2}".to_string())]]
    );
}

#[test]
fn subscriptions_come_disconnected_or_not_at_all() {
    let src = kinds_source("kinds_sub_src");
    let dir = tempdir();
    let archive = dir.path().join("a.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let ddl = ddl_of(archive);
    assert!(
        ddl.contains("CREATE SUBSCRIPTION fx_subscription CONNECTION 'host=upstream.invalid dbname=app' PUBLICATION fx_pub WITH (connect = false, slot_name = NONE, streaming = off)"),
        "{ddl}"
    );
    let subs = |db: &TestDb| {
        db.query_strings(
            "SELECT s.subname::text, s.subenabled::text FROM pg_subscription s \
             JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = current_database()",
        )
    };
    let dst = shared_cluster().create_database("kinds_sub_dst");
    pgferry_ok(&["restore", "--target", &dst.conn_string(), archive]);
    assert_eq!(
        subs(&dst),
        vec![vec![
            Some("fx_subscription".to_string()),
            Some("false".to_string())
        ]]
    );
    let without = shared_cluster().create_database("kinds_sub_without");
    pgferry_ok(&[
        "restore",
        "--no-subscriptions",
        "--target",
        &without.conn_string(),
        archive,
    ]);
    assert!(subs(&without).is_empty());
    let none = dir.path().join("none.pgf");
    let none = none.to_str().unwrap();
    pgferry_ok(&[
        "dump",
        "--no-subscriptions",
        "--source",
        &src.conn_string(),
        "-o",
        none,
    ]);
    assert!(!ddl_of(none).contains("SUBSCRIPTION"));
}

#[test]
fn what_cannot_be_carried_is_named_and_refused_before_the_target_is_touched() {
    let cluster = shared_cluster();
    let src = cluster.create_database("kinds_loop_src");
    // Two functions whose bodies (BEGIN ATOMIC, parsed and tracked) call
    // each other: no part of either can be created on its own.
    src.execute_batch(
        "CREATE TABLE public.t (x int); INSERT INTO public.t VALUES (1); \
         CREATE FUNCTION public.ping(n int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; \
         CREATE FUNCTION public.pong(n int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT public.ping(n); END; \
         CREATE OR REPLACE FUNCTION public.ping(n int) RETURNS int LANGUAGE sql \
           BEGIN ATOMIC SELECT CASE WHEN n > 0 THEN public.pong(n - 1) ELSE 0 END; END;",
    );
    let dir = tempdir();
    let archive = dir.path().join("loop.pgf");
    let archive = archive.to_str().unwrap();
    let out = pgferry(&["dump", "--source", &src.conn_string(), "-o", archive]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warned = stderr(&out);
    assert!(
        warned.contains("dependency loop")
            && warned.contains("public.ping")
            && warned.contains("public.pong"),
        "{warned}"
    );
    let dst = cluster.create_database("kinds_loop_dst");
    dst.execute_batch("CREATE TABLE public.keep (x int); INSERT INTO public.keep VALUES (7)");
    let before = (schema_without_pgferry(&dst), user_contents(&dst));
    for args in [
        vec!["restore", "--target", &dst.conn_string(), archive],
        vec![
            "sync",
            "--source",
            &src.conn_string(),
            "--target",
            &dst.conn_string(),
        ],
    ] {
        let out = pgferry(&args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("cannot carry")
                && err.contains("public.ping")
                && err.contains("public.pong")
                && err.contains("nothing was changed"),
            "{err}"
        );
        assert_eq!(before, (schema_without_pgferry(&dst), user_contents(&dst)));
    }
    // Leaving one of them out lets the rest through.
    pgferry_ok(&[
        "restore",
        "-t",
        "public.t",
        "--target",
        &dst.conn_string(),
        archive,
    ]);
    assert_eq!(
        dst.query_strings("SELECT x::text FROM public.t"),
        vec![vec![Some("1".to_string())]]
    );
}

#[test]
fn a_non_superuser_target_names_the_kinds_it_cannot_create() {
    let src = shared_cluster().create_database("kinds_rights_src");
    src.execute_batch(
        "CREATE FOREIGN DATA WRAPPER rights_wrapper; \
         CREATE ACCESS METHOD rights_heap TYPE TABLE HANDLER heap_tableam_handler; \
         CREATE TRANSFORM FOR integer LANGUAGE sql (FROM SQL WITH FUNCTION prsd_lextype(internal), \
             TO SQL WITH FUNCTION int4recv(internal)); \
         CREATE SUBSCRIPTION rights_sub CONNECTION 'host=upstream.invalid' PUBLICATION p \
             WITH (connect = false, slot_name = NONE);",
    );
    let admin = shared_cluster().database("postgres");
    admin.execute_batch(
        "DO $$ BEGIN CREATE ROLE kinds_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    );
    admin.execute_batch("DROP DATABASE IF EXISTS kinds_rights_dst");
    admin.execute_batch("CREATE DATABASE kinds_rights_dst OWNER kinds_owner");
    let dst = shared_cluster().database("kinds_rights_dst");
    let before = schema_without_pgferry(&dst);
    let as_owner = dst
        .conn_string()
        .replace("user=postgres", "user=kinds_owner");
    let out = sync(&src, &as_owner, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for named in [
        "foreign data wrapper rights_wrapper",
        "access method rights_heap",
        "transform integer sql",
        "subscription rights_sub",
    ] {
        assert!(err.contains(named), "{named} not named: {err}");
    }
    assert_eq!(before, schema_without_pgferry(&dst));
    src.execute_batch("ALTER SUBSCRIPTION rights_sub DISABLE; DROP SUBSCRIPTION rights_sub");
}

/// A test extension with two configuration tables: one whose rows the
/// extension marks as its own with a condition, one dumped whole.
const CFG_CONTROL: &str = "comment = 'pgferry test: configuration tables'\n\
                           default_version = '1.0'\nrelocatable = false\n";
const CFG_SCRIPT: &str = "CREATE TABLE @extschema@.cfg_settings (id int PRIMARY KEY, name text, \
     builtin boolean NOT NULL DEFAULT false);\n\
     INSERT INTO @extschema@.cfg_settings VALUES (1, 'shipped', true);\n\
     SELECT pg_catalog.pg_extension_config_dump('@extschema@.cfg_settings', 'WHERE NOT builtin');\n\
     CREATE TABLE @extschema@.cfg_all (k text);\n\
     SELECT pg_catalog.pg_extension_config_dump('@extschema@.cfg_all', '');\n\
     CREATE TABLE @extschema@.cfg_child (id int REFERENCES @extschema@.cfg_settings);\n\
     SELECT pg_catalog.pg_extension_config_dump('@extschema@.cfg_child', '');\n\
     CREATE SEQUENCE @extschema@.cfg_seq;\n\
     SELECT pg_catalog.pg_extension_config_dump('@extschema@.cfg_seq', '');\n";

#[test]
fn extension_configuration_rows_travel_as_pg_dump_carries_them() {
    let cluster = shared_cluster();
    cluster.install_extension("pgferry_cfgext", CFG_CONTROL, CFG_SCRIPT);
    let src = cluster.create_database("kinds_cfg_src");
    src.execute_batch(
        "CREATE EXTENSION pgferry_cfgext SCHEMA public; \
         INSERT INTO public.cfg_settings VALUES (2, 'mine', false), (3, 'also mine', false); \
         INSERT INTO public.cfg_all VALUES ('x'), ('y'); \
         INSERT INTO public.cfg_child VALUES (2), (3); \
         SELECT nextval('public.cfg_seq'), nextval('public.cfg_seq');",
    );
    // (cfg_child sorts before cfg_settings, whose rows it references: they
    // must load first.)
    let rows = |db: &TestDb| {
        (
            db.query_strings("SELECT id::text, name FROM public.cfg_settings ORDER BY id"),
            db.query_strings("SELECT k FROM public.cfg_all ORDER BY k"),
            db.query_strings("SELECT id::text FROM public.cfg_child ORDER BY id"),
            db.query_strings("SELECT last_value::text, is_called::text FROM public.cfg_seq"),
        )
    };
    let expected = rows(&src);
    assert_eq!(expected.0.len(), 3);
    assert_eq!(
        expected.3,
        vec![vec![Some("2".to_string()), Some("true".to_string())]]
    );
    let dir = tempdir();
    let archive = dir.path().join("cfg.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let listed = String::from_utf8(pgferry_ok(&["list", archive]).stdout).unwrap();
    assert!(
        listed.contains("TABLE DATA public cfg_settings -; 2 rows"),
        "{listed}"
    );
    let dst = cluster.create_database("kinds_cfg_dst");
    pgferry_ok(&["restore", "--target", &dst.conn_string(), archive]);
    assert_eq!(expected, rows(&dst));
    // Synced twice: the extension is created again each time, its own row
    // once, the user's rows once.
    let replica = cluster.create_database("kinds_cfg_replica");
    for round in 0..2 {
        let out = sync(&src, &replica.conn_string(), &[]);
        assert!(out.status.success(), "sync {round}: {}", stderr(&out));
        assert_eq!(expected, rows(&replica), "sync {round}");
    }
    // Its data can be left out like a table's.
    let none = cluster.create_database("kinds_cfg_none");
    let out = sync(
        &src,
        &none.conn_string(),
        &["--exclude-table-data", "public.cfg_child"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(none
        .query_strings("SELECT id FROM public.cfg_child")
        .is_empty());
    assert_eq!(expected.0, rows(&none).0);
}
