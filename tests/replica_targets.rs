//! Real-world replicas: objects the replica owns survive syncs, guarded
//! (read-only by default) and managed-service (non-superuser owner) targets
//! sync, and `verify` agrees with `sync`.
mod common;

use common::*;
use pgferry_testkit::{shared_cluster, TestDb};

fn sync_args<'a>(src: &'a str, dst: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["sync", "--source", src, "--target", dst];
    v.extend_from_slice(extra);
    v
}

fn sample_source(name: &str) -> TestDb {
    let db = shared_cluster().create_database(name);
    db.load_fixture("sample_app.sql");
    db
}

/// The replica's own reporting schema over synced tables.
const REPLICA_OWNED: &str = "
    CREATE SCHEMA reports;
    CREATE VIEW reports.customer_names AS SELECT id, full_name FROM public.customers;
    CREATE VIEW reports.first_names AS SELECT * FROM reports.customer_names WHERE id <= 10;
    COMMENT ON VIEW reports.customer_names IS 'for the reporting team';
    CREATE MATERIALIZED VIEW reports.order_count AS SELECT count(*) AS n FROM public.orders;
    CREATE TABLE reports.notes (customer_id int REFERENCES public.customers (id), note text);
    INSERT INTO reports.notes VALUES (1, 'vip');
    CREATE TABLE reports.audit (at timestamptz DEFAULT now(), what text);
    CREATE FUNCTION reports.log_order() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN INSERT INTO reports.audit (what) VALUES ('note ' || NEW.customer_id); RETURN NEW; END $$;
    CREATE TRIGGER notes_touch BEFORE INSERT ON reports.notes FOR EACH ROW EXECUTE FUNCTION reports.log_order();
    SET client_min_messages = error;
    CREATE PUBLICATION replica_feed FOR TABLE public.customers, reports.notes;
";

fn replica_objects(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT 'view', c.oid::regclass::text, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname = 'reports' AND c.relkind IN ('v', 'm') \
         UNION ALL SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'reports.notes'::regclass \
         UNION ALL SELECT 'trigger', tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'reports.notes'::regclass AND NOT tgisinternal \
         UNION ALL SELECT 'comment', 'customer_names', obj_description('reports.customer_names'::regclass) \
         UNION ALL SELECT 'publication', pubname::text, string_agg(schemaname || '.' || tablename, ',' ORDER BY schemaname || '.' || tablename) \
           FROM pg_publication_tables WHERE pubname = 'replica_feed' GROUP BY pubname \
         ORDER BY 1, 2",
    )
}

#[test]
fn replica_owned_views_keys_and_triggers_survive_three_syncs() {
    let src = sample_source("owned_src");
    let dst = shared_cluster().create_database("owned_dst");
    // First sync builds the replica, then the replica team adds its own schema.
    pgferry_ok(&sync_args(&src.conn_string(), &dst.conn_string(), &[]));
    dst.execute_batch(REPLICA_OWNED);
    let objects = replica_objects(&dst);
    assert_eq!(objects.len(), 7, "{objects:?}");
    for round in 0..3 {
        src.execute_batch(&format!(
            "INSERT INTO public.customers (full_name, email) VALUES ('r{round}', 'r{round}@example.com')"
        ));
        // The incremental sync writes the new row and leaves the replica's
        // objects alone; a full one replaces the tables and recreates them.
        let full = round == 1;
        let extra: &[&str] = if full { &["--full"] } else { &[] };
        let out = pgferry_ok(&sync_args(&src.conn_string(), &dst.conn_string(), extra));
        let err = stderr(&out);
        assert_eq!(
            err.contains("recreated=[\"view reports.customer_names\""),
            full,
            "recreation (only by the full sync): {err}"
        );
        assert!(full || err.contains("tables_delta=1"), "{err}");
        assert_eq!(objects, replica_objects(&dst), "after sync {round}");
        assert_replica_equals_outside_reports(&src, &dst);
    }
    // They work: the view reads the new data, the matview was repopulated,
    // the foreign key checks and the trigger fires.
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM reports.customer_names"),
        src.query_one_string("SELECT count(*)::text FROM public.customers")
    );
    assert_eq!(
        dst.query_one_string("SELECT n::text FROM reports.order_count"),
        src.query_one_string("SELECT count(*)::text FROM public.orders")
    );
    assert!(dst
        .try_execute_batch("INSERT INTO reports.notes VALUES (-5, 'no such customer')")
        .is_err());
    dst.execute_batch("INSERT INTO reports.notes VALUES (2, 'ok')");
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM reports.audit")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        dst.query_strings("SELECT note FROM reports.notes ORDER BY note"),
        vec![vec![Some("ok".to_string())], vec![Some("vip".to_string())]]
    );
    // verify agrees with sync: the replica-only schema is listed, not a difference.
    let out = pgferry(&[
        "verify",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("target only") && text.contains("reports"),
        "{text}"
    );
    let strict = pgferry(&[
        "verify",
        "--strict",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
    ]);
    assert_eq!(strict.status.code(), Some(3));
}

fn assert_replica_equals_outside_reports(src: &TestDb, dst: &TestDb) {
    let schema = |db: &TestDb| {
        pgferry_testkit::normalize_dump(&db.pg_dump(&[
            "--schema-only",
            "--exclude-schema=pgferry",
            "--exclude-schema=reports",
            // The replica's own publication is database-wide.
            "--no-publications",
        ]))
    };
    let (a, b) = (schema(src), schema(dst));
    assert!(a == b, "schemas differ:\n{}", first_difference(&a, &b));
    let public = |db: &TestDb| {
        user_contents(db)
            .into_iter()
            .filter(|r| !r[0].as_deref().unwrap_or("").starts_with("reports."))
            .collect::<Vec<_>>()
    };
    assert_eq!(public(src), public(dst));
}

#[test]
fn an_object_that_cannot_be_recreated_stops_the_sync_before_anything_changes() {
    let src = sample_source("norecreate_src");
    let dst = shared_cluster().create_database("norecreate_dst");
    pgferry_ok(&sync_args(&src.conn_string(), &dst.conn_string(), &[]));
    dst.execute_batch(REPLICA_OWNED);
    src.execute_batch("ALTER TABLE public.customers RENAME COLUMN full_name TO name");
    let before = (schema_without_pgferry(&dst), user_contents(&dst));
    let out = pgferry(&sync_args(&src.conn_string(), &dst.conn_string(), &[]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("reports.customer_names") && err.contains("customers.full_name"),
        "{err}"
    );
    assert_eq!(before, (schema_without_pgferry(&dst), user_contents(&dst)));
    // A replica column whose type the sync replaces: its data would go.
    src.execute_batch("ALTER TABLE public.customers RENAME COLUMN name TO full_name");
    src.execute_batch("CREATE TYPE public.tier AS ENUM ('gold')");
    dst.execute_batch("CREATE TYPE public.tier AS ENUM ('gold'); CREATE TABLE reports.tiers (t public.tier); INSERT INTO reports.tiers VALUES ('gold')");
    // Replacing the schema (the full sync) would take the column's data:
    // refused.
    let out = pgferry(&sync_args(
        &src.conn_string(),
        &dst.conn_string(),
        &["--full"],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("reports.tiers"), "{}", stderr(&out));
    // The incremental sync keeps the unchanged type, and the column with it.
    let out = pgferry_ok(&sync_args(&src.conn_string(), &dst.conn_string(), &[]));
    assert!(stderr(&out).contains("full=false"), "{}", stderr(&out));
    assert_eq!(
        dst.query_one_string("SELECT t::text FROM reports.tiers")
            .as_deref(),
        Some("gold")
    );
}

#[test]
fn restore_clean_keeps_replica_owned_views() {
    let src = sample_source("owned_restore_src");
    let dir = tempdir();
    let archive = dir.path().join("a.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let dst = shared_cluster().create_database("owned_restore_dst");
    pgferry_ok(&["restore", "--target", &dst.conn_string(), archive]);
    dst.execute_batch(REPLICA_OWNED);
    let objects = replica_objects(&dst);
    pgferry_ok(&[
        "restore",
        "--clean",
        "--target",
        &dst.conn_string(),
        archive,
    ]);
    assert_eq!(objects, replica_objects(&dst));
    // A parallel restore is not one transaction: it refuses rather than lose them.
    let out = pgferry(&[
        "restore",
        "-j",
        "2",
        "--clean",
        "--target",
        &dst.conn_string(),
        archive,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reports.customer_names"),
        "{}",
        stderr(&out)
    );
    assert_eq!(objects, replica_objects(&dst));
}

#[test]
fn a_read_only_by_default_replica_owned_by_a_non_superuser_syncs() {
    let src = sample_source("managed_src");
    let admin = shared_cluster().database("postgres");
    admin.execute_batch(
        "DO $$ BEGIN CREATE ROLE managed_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    );
    admin.execute_batch("DROP DATABASE IF EXISTS managed_dst");
    admin.execute_batch("CREATE DATABASE managed_dst OWNER managed_owner");
    admin.execute_batch("ALTER DATABASE managed_dst SET default_transaction_read_only = on");
    let dst = shared_cluster().database("managed_dst");
    let as_owner = dst
        .conn_string()
        .replace("user=postgres", "user=managed_owner");
    // An application session of a superuser the owner may not terminate.
    let su = dst.conn_string();
    let session = std::thread::spawn(move || {
        let _ = std::process::Command::new(pgferry_testkit::psql_bin())
            .args(["-X", "-q", &su, "-c", "SELECT pg_sleep(3)"])
            .output();
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    for round in 0..2 {
        // The full sync terminates every session it may first; the
        // incremental one only those that block it.
        let extra: &[&str] = if round == 0 {
            &["--verify", "checksums", "--full"]
        } else {
            &["--verify", "checksums"]
        };
        let out = pgferry(&sync_args(&src.conn_string(), &as_owner, extra));
        assert!(out.status.success(), "{}", stderr(&out));
        if round == 0 {
            // The superuser's session is named, not terminated.
            let err = stderr(&out);
            assert!(
                err.contains("cannot be terminated") && err.contains("role postgres"),
                "{err}"
            );
        }
    }
    let _ = session.join();
    assert_same_apart_from_owners(&src, &dst);
    let owners = dst.query_strings(
        "SELECT DISTINCT pg_get_userbyid(relowner)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public'",
    );
    assert_eq!(owners, vec![vec![Some("managed_owner".to_string())]]);
    // The guard stays as it was.
    assert_eq!(
        dst.query_one_string(
            "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setdatabase = \
             (SELECT oid FROM pg_database WHERE datname = 'managed_dst')"
        )
        .as_deref(),
        Some("default_transaction_read_only=on")
    );
    let out = pgferry(&[
        "verify",
        "--source",
        &src.conn_string(),
        "--target",
        &as_owner,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    // Restore too.
    let dir = tempdir();
    let archive = dir.path().join("m.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    pgferry_ok(&["restore", "--clean", "--target", &as_owner, archive]);
    assert_same_apart_from_owners(&src, &dst);
}

/// pg_dump's oracle without owners (the managed target's role owns everything), rows.
fn assert_same_apart_from_owners(src: &TestDb, dst: &TestDb) {
    let schema = |db: &TestDb| {
        pgferry_testkit::normalize_dump(&db.pg_dump(&[
            "--schema-only",
            "--no-owner",
            "--exclude-schema=pgferry",
        ]))
    };
    let (a, b) = (schema(src), schema(dst));
    assert!(a == b, "schemas differ:\n{}", first_difference(&a, &b));
    assert_eq!(user_contents(src), user_contents(dst));
    assert_eq!(
        without_pgferry(sequences(src)),
        without_pgferry(sequences(dst))
    );
}

#[test]
fn a_non_superuser_target_names_what_it_cannot_create_before_touching_anything() {
    let src = sample_source("rights_src");
    src.execute_batch(
        "CREATE FUNCTION public.noop_evt() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$; \
         CREATE EVENT TRIGGER pgferry_test_evt ON ddl_command_end EXECUTE FUNCTION public.noop_evt(); \
         CREATE FUNCTION public.c_abs(int4) RETURNS int4 LANGUAGE internal IMMUTABLE AS 'int4abs';",
    );
    let admin = shared_cluster().database("postgres");
    admin.execute_batch(
        "DO $$ BEGIN CREATE ROLE rights_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    );
    admin.execute_batch("DROP DATABASE IF EXISTS rights_dst");
    admin.execute_batch("CREATE DATABASE rights_dst OWNER rights_owner");
    let dst = shared_cluster().database("rights_dst");
    dst.execute_batch("CREATE TABLE public.keep (x int); INSERT INTO public.keep VALUES (1)");
    let before = (schema_without_pgferry(&dst), user_contents(&dst));
    let as_owner = dst
        .conn_string()
        .replace("user=postgres", "user=rights_owner");
    let out = pgferry(&sync_args(&src.conn_string(), &as_owner, &[]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("event trigger pgferry_test_evt") && err.contains("superuser"),
        "{err}"
    );
    assert!(
        err.contains("public.c_abs") && err.contains("untrusted language internal"),
        "{err}"
    );
    assert_eq!(before, (schema_without_pgferry(&dst), user_contents(&dst)));
    src.execute_batch("DROP EVENT TRIGGER pgferry_test_evt");
}

#[test]
fn the_fixtures_sync_to_a_guarded_non_superuser_target_with_no_differences() {
    let c = shared_cluster();
    let src = c.create_database("managed_fix_src");
    src.load_fixture_for_major(c.major_version());
    // Event triggers need a superuser on any target (named and refused
    // before anything is touched: see the test above).
    src.execute_batch(
        "DO $$ DECLARE e text; BEGIN FOR e IN SELECT evtname FROM pg_event_trigger LOOP \
         EXECUTE format('DROP EVENT TRIGGER %I', e); END LOOP; END $$",
    );
    let admin = c.database("postgres");
    admin.execute_batch(
        "DO $$ BEGIN CREATE ROLE managed_fix_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    );
    admin.execute_batch("DROP DATABASE IF EXISTS managed_fix_dst");
    admin.execute_batch("CREATE DATABASE managed_fix_dst OWNER managed_fix_owner");
    admin.execute_batch("ALTER DATABASE managed_fix_dst SET default_transaction_read_only = on");
    let dst = c.database("managed_fix_dst");
    let as_owner = dst
        .conn_string()
        .replace("user=postgres", "user=managed_fix_owner");
    let out = pgferry(&sync_args(
        &src.conn_string(),
        &as_owner,
        &["--verify", "checksums"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    // Default privileges FOR ROLE postgres cannot be set by another role: skipped, said.
    assert!(err.contains("default privileges are skipped"), "{err}");
    let schema = |db: &TestDb| {
        let dump = db.pg_dump(&["--schema-only", "--no-owner", "--exclude-schema=pgferry"]);
        let kept: Vec<&str> = dump
            .lines()
            .filter(|l| !l.starts_with("ALTER DEFAULT PRIVILEGES FOR ROLE postgres"))
            .filter(|l| !l.starts_with("-- Name: DEFAULT PRIVILEGES"))
            .filter(|l| !l.trim().is_empty() && *l != "--")
            .collect();
        pgferry_testkit::normalize_dump(&kept.join("\n"))
    };
    let (a, b) = (schema(&src), schema(&dst));
    assert!(a == b, "schemas differ:\n{}", first_difference(&a, &b));
    assert_eq!(user_contents(&src), user_contents(&dst));
    let out = pgferry(&[
        "verify",
        "--checksums",
        "--source",
        &src.conn_string(),
        "--target",
        &as_owner,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

#[test]
fn a_read_only_by_default_replica_syncs_the_fixtures_with_no_differences() {
    let c = shared_cluster();
    let src = c.create_database("guarded_fix_src");
    src.load_fixture_for_major(c.major_version());
    let admin = c.database("postgres");
    admin.execute_batch("DROP DATABASE IF EXISTS guarded_fix_dst");
    admin.execute_batch("CREATE DATABASE guarded_fix_dst");
    admin.execute_batch("ALTER DATABASE guarded_fix_dst SET default_transaction_read_only = on");
    let dst = c.database("guarded_fix_dst");
    pgferry_ok(&sync_args(
        &src.conn_string(),
        &dst.conn_string(),
        &["--verify", "checksums"],
    ));
    assert_replica_equals(&src, &dst);
    let dir = tempdir();
    let archive = dir.path().join("g.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    pgferry_ok(&[
        "restore",
        "--clean",
        "--target",
        &dst.conn_string(),
        archive,
    ]);
    assert_replica_equals(&src, &dst);
    assert_eq!(
        dst.query_one_string("SHOW default_transaction_read_only")
            .as_deref(),
        Some("on")
    );
}

#[test]
fn table_filtered_syncs_and_kept_tables_keep_what_depends_on_replaced_tables() {
    let src = sample_source("filtered_src");
    let dst = shared_cluster().create_database("filtered_dst");
    pgferry_ok(&sync_args(&src.conn_string(), &dst.conn_string(), &[]));
    dst.execute_batch(REPLICA_OWNED);
    // A table only the replica has in the synced schema, kept with -T, with a
    // foreign key to a synced table.
    dst.execute_batch(
        "CREATE TABLE public.replica_notes (customer_id bigint REFERENCES public.customers (id), note text); \
         INSERT INTO public.replica_notes VALUES (1, 'kept')",
    );
    let objects = replica_objects(&dst);
    let fk = |db: &TestDb| {
        db.query_strings(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'public.replica_notes'::regclass",
        )
    };
    let kept_fk = fk(&dst);
    assert_eq!(kept_fk.len(), 1);
    for round in 0..2 {
        let out = pgferry(&sync_args(
            &src.conn_string(),
            &dst.conn_string(),
            &["-T", "public.replica_notes"],
        ));
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        assert_eq!(kept_fk, fk(&dst));
        assert_eq!(objects, replica_objects(&dst));
        // Only some tables (-t): the rest of the replica stays, and so does
        // what depends on the replaced tables.
        let out = pgferry(&sync_args(
            &src.conn_string(),
            &dst.conn_string(),
            &["-t", "public.customers", "-t", "public.orders"],
        ));
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        assert_eq!(objects, replica_objects(&dst));
    }
    assert_eq!(
        dst.query_one_string("SELECT note FROM public.replica_notes")
            .as_deref(),
        Some("kept")
    );
}
