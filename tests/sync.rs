//! `pgferry sync`: the failover cycle in one command.
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pgferry_testkit::{shared_cluster, Cluster, TestDb};

fn sync_args<'a>(src: &'a str, dst: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["sync", "--source", src, "--target", dst];
    v.extend_from_slice(extra);
    v
}

fn fixture_db(name: &str) -> TestDb {
    let db = shared_cluster().create_database(name);
    db.load_fixture_for_major(shared_cluster().major_version());
    db
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_replaces_a_replica_with_open_sessions_and_locks() {
    let src = fixture_db("sync_src");
    let dst = shared_cluster().create_database("sync_dst");
    dst.execute_batch("CREATE TABLE public.users (id int); INSERT INTO public.users VALUES (42);");
    // An idle session, and an open transaction holding a lock on a table the sync replaces.
    let idle = dst.connect().await;
    let locker = dst.connect().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE;")
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking({
        let (s, d) = (src.conn_string(), dst.conn_string());
        move || pgferry(&sync_args(&s, &d, &[]))
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("terminated_sessions=2")
            || stderr(&out).contains("terminated_sessions\":2"),
        "{}",
        stderr(&out)
    );
    assert!(
        idle.simple_query("SELECT 1").await.is_err(),
        "idle session survived"
    );
    assert_replica_equals(&src, &dst);
    let h = history(&dst);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0][0].as_deref(), Some("success"));
    // A second sync over the first works too (the replica is replaced again).
    src.execute_batch("INSERT INTO public.users (name, email) VALUES ('late', 'late@example.com')");
    let out = pgferry(&sync_args(
        &src.conn_string(),
        &dst.conn_string(),
        &["--verify", "checksums"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_replica_equals(&src, &dst);
}

#[test]
fn replica_only_schemas_and_excluded_tables_survive() {
    let src = fixture_db("keep_src");
    src.execute_batch(r#"CREATE TABLE public."__EFMigrationsHistory" ("MigrationId" text PRIMARY KEY, "ProductVersion" text); INSERT INTO public."__EFMigrationsHistory" VALUES ('source-only', '1');"#);
    let dst = shared_cluster().create_database("keep_dst");
    dst.execute_batch(
        r#"CREATE SCHEMA reporting; CREATE TABLE reporting.daily (d date, n int); INSERT INTO reporting.daily VALUES ('2024-01-01', 7);
           CREATE TABLE public."__EFMigrationsHistory" ("MigrationId" text PRIMARY KEY, "ProductVersion" text NOT NULL DEFAULT '8.0');
           INSERT INTO public."__EFMigrationsHistory" VALUES ('20240101_Init', '8.0.1'), ('20240202_More', '8.0.2');"#,
    );
    let kept_before =
        dst.query_strings(r#"SELECT * FROM public."__EFMigrationsHistory" ORDER BY 1"#);
    let reporting_before = dst.query_strings("SELECT * FROM reporting.daily");
    let out = pgferry(&sync_args(
        &src.conn_string(),
        &dst.conn_string(),
        &["-T", r#""__EFMigrationsHistory""#],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reporting"),
        "target-only schema not reported: {}",
        stderr(&out)
    );
    assert_eq!(
        kept_before,
        dst.query_strings(r#"SELECT * FROM public."__EFMigrationsHistory" ORDER BY 1"#)
    );
    assert_eq!(
        dst.query_one_string(r#"SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'public."__EFMigrationsHistory"'::regclass"#).as_deref(),
        Some("'8.0'::text")
    );
    assert_eq!(
        reporting_before,
        dst.query_strings("SELECT * FROM reporting.daily")
    );
    // Everything else is the source's.
    let users = |db: &TestDb| db.query_strings("SELECT * FROM public.users ORDER BY 1");
    assert_eq!(users(&src), users(&dst));
}

#[test]
fn failed_sync_leaves_the_replica_unchanged_and_is_recorded() {
    // A replica on another cluster lacks the roles the source's policies name:
    // creating them fails late in the sync.
    let other = Cluster::start();
    let src = fixture_db("fail_sync_src");
    let dst = other.create_database("fail_sync_dst");
    dst.execute_batch(
        "CREATE TABLE public.users (id int); INSERT INTO public.users VALUES (1), (2);",
    );
    let before = (schema_without_pgferry(&dst), user_contents(&dst));
    let out = pgferry(&sync_args(&src.conn_string(), &dst.conn_string(), &[]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("POLICY"), "{}", stderr(&out));
    let after = (schema_without_pgferry(&dst), user_contents(&dst));
    assert_eq!(before.0, after.0);
    assert_eq!(before.1, after.1);
    let status = pgferry_ok(&["status", "--target", &dst.conn_string()]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("failed") && text.contains("POLICY"), "{text}");
    assert!(text.contains("no successful sync"), "{text}");
}

#[test]
fn killing_the_source_mid_copy_leaves_the_replica_unchanged() {
    let src = shared_cluster().create_database("kill_src");
    src.execute_batch(
        "CREATE TABLE public.big (id int PRIMARY KEY, body text); \
         INSERT INTO public.big SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, 1500000) i;",
    );
    let dst = shared_cluster().create_database("kill_dst");
    dst.execute_batch("CREATE TABLE public.big (id int); INSERT INTO public.big VALUES (7);");
    let before = (schema_without_pgferry(&dst), user_contents(&dst));
    let child = Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(sync_args(&src.conn_string(), &dst.conn_string(), &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the source backend while it streams COPY.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let killed = src.query_one_string(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' \
             AND query LIKE 'COPY%' AND pid <> pg_backend_pid()",
            src.name
        ));
        if killed.as_deref() != Some("0") {
            break;
        }
        assert!(Instant::now() < deadline, "never saw the COPY");
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(before.0, schema_without_pgferry(&dst));
    assert_eq!(before.1, user_contents(&dst));
    assert_eq!(history(&dst).last().unwrap()[0].as_deref(), Some("failed"));
}

#[test]
fn two_syncs_never_write_at_once() {
    let src = shared_cluster().create_database("twice_src");
    src.execute_batch(
        "CREATE TABLE public.t (id int PRIMARY KEY, body text); \
         INSERT INTO public.t SELECT i, md5(i::text) FROM generate_series(1, 300000) i;",
    );
    let dst = shared_cluster().create_database("twice_dst");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_pgferry"))
            .args(sync_args(
                &src.conn_string(),
                &dst.conn_string(),
                &["--no-terminate"],
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let outcomes = [&a, &b];
    let ok = outcomes.iter().filter(|o| o.status.success()).count();
    assert!(ok >= 1, "{}\n{}", stderr(&a), stderr(&b));
    for o in outcomes.iter().filter(|o| !o.status.success()) {
        assert!(
            stderr(o).contains("another sync holds the lock"),
            "{}",
            stderr(o)
        );
    }
    // Successful syncs never overlapped in time.
    let rows = dst.query_strings(
        "SELECT count(*) FROM pgferry.sync_history a JOIN pgferry.sync_history b ON a.id < b.id \
         WHERE a.outcome = 'success' AND b.outcome = 'success' AND b.started_at < a.finished_at",
    );
    assert_eq!(rows[0][0].as_deref(), Some("0"));
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.t")
            .as_deref(),
        Some("300000")
    );
}

#[test]
fn verify_detects_changed_rows_and_values() {
    let src = fixture_db("verify_src");
    let dst = shared_cluster().create_database("verify_dst");
    pgferry_ok(&sync_args(
        &src.conn_string(),
        &dst.conn_string(),
        &["--verify", "checksums"],
    ));
    let s = src.conn_string();
    let d = dst.conn_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["verify", "--source", s.as_str(), "--target", d.as_str()];
        args.extend_from_slice(extra);
        pgferry(&args)
    };
    assert_eq!(run(&[]).status.code(), Some(0), "{}", stderr(&run(&[])));
    assert_eq!(run(&["--checksums"]).status.code(), Some(0));
    // Same row count, one value changed: only checksums notice.
    dst.execute_batch(
        "UPDATE public.users SET name = name || '!' WHERE id = (SELECT min(id) FROM public.users)",
    );
    assert_eq!(run(&[]).status.code(), Some(0));
    let out = run(&["--checksums"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("public.users"));
    // A deleted row changes the count.
    dst.execute_batch("DELETE FROM public.events WHERE id = (SELECT max(id) FROM public.events)");
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("public.events"));
    // Schema drift: a column only on the target.
    dst.execute_batch("ALTER TABLE public.users ADD COLUMN extra int");
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("column only on target: public.users.extra"),
        "{text}"
    );
}

#[test]
fn every_runs_cycles_and_stops_cleanly_on_sigterm() {
    let src = shared_cluster().create_database("every_src");
    src.execute_batch(
        "CREATE TABLE public.t (id int PRIMARY KEY, body text); \
         INSERT INTO public.t SELECT i, md5(i::text) FROM generate_series(1, 200000) i;",
    );
    let dst = shared_cluster().create_database("every_dst");
    let child = Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(sync_args(
            &src.conn_string(),
            &dst.conn_string(),
            &["--every", "2s"],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let successes = || {
        dst.try_query_strings("SELECT count(*) FROM pgferry.sync_history WHERE outcome = 'success'")
            .ok()
            .and_then(|r| r[0][0].clone())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while successes() < 3 {
        assert!(Instant::now() < deadline, "three cycles did not complete");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Wait for the fourth cycle to be in flight, then SIGTERM it. (The sync
    // terminates other sessions on the replica, this probe included: that
    // also means a cycle is in flight.)
    loop {
        let busy = dst.try_query_strings(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'pgferry' \
             AND state IN ('active', 'idle in transaction') AND xact_start IS NOT NULL",
            dst.name
        ));
        match busy {
            Ok(rows) if rows[0][0].as_deref() == Some("0") => {}
            _ => break,
        }
        assert!(Instant::now() < deadline, "no fourth cycle");
        std::thread::sleep(Duration::from_millis(5));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopped by signal"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.t")
            .as_deref(),
        Some("200000")
    );
    assert_replica_equals(&src, &dst);
}

#[test]
fn config_file_holds_both_sides_and_the_options() {
    let src = shared_cluster().create_database("cfg_src");
    src.load_fixture("sample_app.sql");
    let dst = shared_cluster().create_database("cfg_dst");
    dst.execute_batch(
        "CREATE TABLE public.keep_me (x int); INSERT INTO public.keep_me VALUES (1), (2), (3);",
    );
    let dir = tempdir();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "unused-with-trust-auth\n").unwrap();
    let cfg = dir.path().join("pgferry.toml");
    std::fs::write(
        &cfg,
        format!(
            "[source]\nconn = \"{}\"\npassword_file = \"{}\"\n\n[target]\nconn = \"{}\"\n\n[sync]\nverify = \"checksums\"\nexclude_tables = [\"public.keep_me\"]\n",
            src.conn_string(),
            pw.display(),
            dst.conn_string()
        ),
    )
    .unwrap();
    let out = pgferry(&["sync", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.keep_me")
            .as_deref(),
        Some("3")
    );
    assert_eq!(
        dst.query_one_string("SELECT verify FROM pgferry.sync_history ORDER BY id DESC LIMIT 1")
            .as_deref(),
        Some("checksums: 4 tables identical")
    );
    // A password_env naming an unset variable is refused, naming the variable.
    std::fs::write(
        &cfg,
        format!(
            "[source]\nconn = \"{}\"\npassword_env = \"PGFERRY_TEST_UNSET_PW\"\n[target]\nconn = \"{}\"\n",
            src.conn_string(),
            dst.conn_string()
        ),
    )
    .unwrap();
    let out = pgferry(&["sync", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PGFERRY_TEST_UNSET_PW"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn syncing_a_database_onto_itself_is_refused() {
    let db = shared_cluster().create_database("self_sync");
    db.load_fixture("sample_app.sql");
    let before = user_contents(&db);
    let out = pgferry(&sync_args(&db.conn_string(), &db.uri(), &[]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("same database"), "{}", stderr(&out));
    assert_eq!(before, user_contents(&db));
    assert_eq!(
        db.query_one_string("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgferry'")
            .as_deref(),
        Some("0")
    );
}

#[test]
fn xml_values_keep_their_exact_text_and_verify_sees_it() {
    let src = shared_cluster().create_database("xml_src");
    src.execute_batch(
        r#"CREATE TABLE public.docs (id int PRIMARY KEY, x xml, xs xml[]);
           INSERT INTO public.docs VALUES
             (1, '<?xml version="1.0"?><doc/>', ARRAY['<?xml version="1.0"?><a/>'::xml]),
             (2, E'\n\n<a/>', NULL), (3, '<b/>', '{}');"#,
    );
    let dst = shared_cluster().create_database("xml_dst");
    pgferry_ok(&sync_args(
        &src.conn_string(),
        &dst.conn_string(),
        &["--verify", "checksums"],
    ));
    let text = |db: &TestDb| {
        db.query_strings("SELECT id, x::text, xs::text[]::text FROM public.docs ORDER BY id")
    };
    assert_eq!(text(&src), text(&dst));
    // A change only the stored text shows (the declaration) is noticed.
    dst.execute_batch("UPDATE public.docs SET x = '<doc/>' WHERE id = 1");
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
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn keep_archive_writes_a_restorable_archive_of_what_was_synced() {
    let src = shared_cluster().create_database("keep_arch_src");
    src.load_fixture("sample_app.sql");
    let dst = shared_cluster().create_database("keep_arch_dst");
    let copy = shared_cluster().create_database("keep_arch_copy");
    let dir = tempdir();
    let archive = dir.path().join("synced.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&sync_args(
        &src.conn_string(),
        &dst.conn_string(),
        &["--keep-archive", archive],
    ));
    pgferry_ok(&["restore", "--target", &copy.conn_string(), archive]);
    assert_replica_equals(&src, &copy);
}

/// `status --max-age`: exit 0 right after a sync, 4 once the data is older
/// than allowed, saying how old and why (the failed run's error); the
/// Prometheus metrics a textfile collector takes.
#[test]
fn status_max_age_pages_and_prometheus_reports_the_last_runs() {
    let src = shared_cluster().create_database("status_src");
    src.execute_batch(
        "CREATE TABLE public.t (id int); INSERT INTO public.t SELECT generate_series(1, 50);",
    );
    let dst = shared_cluster().create_database("status_dst");
    let (s, d) = (src.conn_string(), dst.conn_string());
    let status = |extra: &[&str]| {
        let mut args = vec!["status", "--target", d.as_str()];
        args.extend_from_slice(extra);
        pgferry(&args)
    };
    // nothing recorded yet: stale
    let out = status(&["--max-age", "1m"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "STALE: no successful sync recorded on this target\n"
    );
    pgferry_ok(&sync_args(&s, &d, &[]));
    let out = status(&["--max-age", "1m"]);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{line}{}", stderr(&out));
    assert!(
        line.starts_with("OK: replica data is ") && line.contains("(max 60s)"),
        "{line}"
    );
    // two seconds later, a one-second limit is exceeded
    std::thread::sleep(Duration::from_secs(2));
    let out = status(&["--max-age", "1s"]);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(4), "{line}");
    assert!(
        line.starts_with("STALE: replica data is ") && line.contains("no sync ran since #"),
        "{line}"
    );
    // a failed run is named with its error
    let out = pgferry(&sync_args(&s, &d, &["-t", "public.missing"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = status(&["--max-age", "1s"]);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(4), "{line}");
    assert!(
        line.starts_with("STALE: replica data is ")
            && line
                .contains(" failed: no matching tables were found for pattern \"public.missing\""),
        "{line}"
    );
    let out = pgferry_ok(&["status", "--target", &d, "--format", "prometheus"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with("pgferry_last_run_success{") && l.ends_with(" 0")),
        "{text}"
    );
    pgferry_ok(&sync_args(&s, &d, &[]));
    let bad = status(&["--max-age", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--max-age"), "{}", stderr(&bad));
    // prometheus
    let out = pgferry_ok(&["status", "--target", &d, "--format", "prometheus"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |name: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("pgferry_{name}{{")))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("last_run_success"), 1.0, "{text}");
    // Nothing changed since the previous sync: the incremental sync kept
    // the table (compared, nothing written).
    assert_eq!(value("last_run_rows"), 0.0, "{text}");
    assert_eq!(value("last_run_tables"), 1.0, "{text}");
    assert!(
        value("last_run_bytes") > 0.0 && value("last_run_duration_seconds") > 0.0,
        "{text}"
    );
    assert!(value("replica_data_age_seconds") >= 0.0, "{text}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - value("last_success_timestamp_seconds")).abs() < 600.0,
        "{text}"
    );
    assert!(!text.contains("password"), "{text}");
}
