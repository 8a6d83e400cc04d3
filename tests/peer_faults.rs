//! A dead, crashed or silent source or target ends a sync or a restore
//! within a bounded time, with exit code 1, one line naming the side, and the
//! target exactly as it was. Every run here is bounded: a hang fails the test.
mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pgferry_testkit::{shared_cluster, Cluster, Proxy, TestDb};

/// A fault must end the run this soon.
const BOUND: Duration = Duration::from_secs(30);
/// A run still going this long after its fault is a hang.
const HANG: Duration = Duration::from_secs(90);

fn spawn(args: &[&str]) -> Child {
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
fn finish(mut child: Child, fault_at: Instant) -> (Option<i32>, String, Duration) {
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

/// Waits until a session on `datname` runs a statement matching `like`
/// (from a connection to `admin`), returning its pid.
fn wait_for(admin: &TestDb, datname: &str, like: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pid = admin.query_strings(&format!(
            "SELECT pid::text FROM pg_stat_activity WHERE datname = '{datname}' AND application_name = 'pgferry' \
             AND query LIKE '{like}' AND state = 'active' LIMIT 1"
        ));
        if let Some(p) = pid.first().and_then(|r| r[0].clone()) {
            return p.parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no pgferry session ran {like} on {datname}"
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn big_source(cluster: &Cluster, name: &str) -> TestDb {
    let db = cluster.create_database(name);
    db.execute_batch(
        "CREATE TABLE public.big (id int PRIMARY KEY, body text); \
         INSERT INTO public.big SELECT i, repeat(md5(i::text), 8) FROM generate_series(1, 800000) i; \
         CREATE TABLE public.small (id int PRIMARY KEY, big_id int REFERENCES public.big (id)); \
         INSERT INTO public.small SELECT i, i FROM generate_series(1, 1000) i;",
    );
    db
}

fn replica(cluster: &Cluster, name: &str) -> TestDb {
    let db = cluster.create_database(name);
    db.execute_batch(
        "CREATE TABLE public.big (id int); INSERT INTO public.big VALUES (7); \
         CREATE SCHEMA reports; CREATE VIEW reports.v AS SELECT id FROM public.big;",
    );
    db
}

fn state(db: &TestDb) -> (String, Vec<Vec<Option<String>>>) {
    (schema_without_pgferry(db), user_contents(db))
}

fn terminate(admin: &TestDb, pid: i32) {
    admin.execute_batch(&format!("SELECT pg_terminate_backend({pid})"));
}

/// Asserts the run failed as a fault should: exit 1, in time, naming the side.
fn assert_failed(out: (Option<i32>, String, Duration), side: &str) {
    let (code, err, took) = out;
    assert_eq!(code, Some(1), "exit code; stderr:\n{err}");
    assert!(
        took < BOUND,
        "took {took:?} after the fault; stderr:\n{err}"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("pgferry: error:"))
        .unwrap_or_else(|| panic!("no error line:\n{err}"));
    assert!(
        line.contains(side),
        "the error does not name the {side}: {line}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn sync_ends_when_the_target_backend_is_terminated_in_any_phase() {
    let c = shared_cluster();
    let admin = c.database("postgres");
    let src = big_source(c, "tkill_src");
    // Phases: waiting for a lock while replacing schemas, loading data, building keys.
    for (phase, like) in [
        ("schema", "DROP SCHEMA%"),
        ("data", "COPY%"),
        ("post-data", "ALTER TABLE ONLY public.big ADD CONSTRAINT%"),
    ] {
        let dst = replica(c, &format!("tkill_dst_{}", phase.replace('-', "_")));
        let locker = (phase == "schema").then(|| {
            let conn = dst.conn_string();
            std::thread::spawn(move || {
                let _ = Command::new(pgferry_testkit::psql_bin())
                    .args([
                        "-X",
                        "-q",
                        &conn,
                        "-c",
                        "BEGIN; LOCK TABLE public.big IN ACCESS SHARE MODE; SELECT pg_sleep(8); COMMIT;",
                    ])
                    .output();
            })
        });
        if locker.is_some() {
            std::thread::sleep(Duration::from_millis(500));
        }
        let before = state(&dst);
        let (s, d) = (src.conn_string(), dst.conn_string());
        let child = spawn(&["sync", "--source", &s, "--target", &d, "--no-terminate"]);
        let pid = wait_for(&admin, dst.name(), like);
        let fault = Instant::now();
        terminate(&admin, pid);
        assert_failed(finish(child, fault), "target");
        if let Some(l) = locker {
            let _ = l.join();
        }
        assert_eq!(
            before,
            state(&dst),
            "replica changed after a fault in {phase}"
        );
    }
}

#[test]
fn sync_ends_when_the_source_backend_is_terminated_in_any_phase() {
    let c = shared_cluster();
    let admin = c.database("postgres");
    let src = big_source(c, "skill_src");
    for (phase, like) in [("lock", "LOCK TABLE%"), ("data", "COPY%")] {
        let dst = replica(c, &format!("skill_dst_{phase}"));
        let locker = (phase == "lock").then(|| {
            let conn = src.conn_string();
            std::thread::spawn(move || {
                let _ = Command::new(pgferry_testkit::psql_bin())
                    .args([
                        "-X",
                        "-q",
                        &conn,
                        "-c",
                        "BEGIN; LOCK TABLE public.big IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;",
                    ])
                    .output();
            })
        });
        if locker.is_some() {
            std::thread::sleep(Duration::from_millis(500));
        }
        let before = state(&dst);
        let (s, d) = (src.conn_string(), dst.conn_string());
        let child = spawn(&[
            "sync",
            "--source",
            &s,
            "--target",
            &d,
            "--lock-timeout",
            "60s",
        ]);
        let pid = wait_for(&admin, src.name(), like);
        let fault = Instant::now();
        terminate(&admin, pid);
        assert_failed(finish(child, fault), "source");
        if let Some(l) = locker {
            let _ = l.join();
        }
        assert_eq!(
            before,
            state(&dst),
            "replica changed after a fault in {phase}"
        );
    }
}

#[test]
fn sync_and_restore_end_when_the_target_server_crashes() {
    let target = Cluster::start();
    let admin = target.database("postgres");
    let src = big_source(shared_cluster(), "crash_src");
    let dir = tempdir();
    let archive = dir.path().join("big.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    for (op, like) in [
        ("sync", "COPY%"),
        ("restore", "COPY%"),
        ("sync", "ALTER TABLE ONLY%"),
    ] {
        let dst = replica(&target, &format!("crash_dst_{op}"));
        let before = state(&dst);
        let (s, d) = (src.conn_string(), dst.conn_string());
        let child = if op == "sync" {
            spawn(&["sync", "--source", &s, "--target", &d])
        } else {
            spawn(&["restore", "--clean", "--target", &d, archive])
        };
        wait_for(&admin, dst.name(), like);
        let fault = Instant::now();
        target.stop_immediate();
        assert_failed(finish(child, fault), "target");
        target.restart();
        assert_eq!(
            before,
            state(&dst),
            "target changed after a crash during {op}"
        );
    }
}

#[test]
fn sync_and_restore_end_when_the_network_goes_silent() {
    let c = shared_cluster();
    let admin = c.database("postgres");
    let src = big_source(c, "silent_src");
    let dir = tempdir();
    let archive = dir.path().join("big.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    // (operation, side paused, statement to pause in)
    for (op, side, like) in [
        ("sync", "target", "COPY%"),
        ("sync", "source", "COPY%"),
        ("sync", "target", "DROP SCHEMA%"),
        ("restore", "target", "COPY%"),
        ("restore", "target", "DROP SCHEMA%"),
    ] {
        let dst = replica(c, &format!("silent_{op}_{side}_{}", like.len()));
        let before = state(&dst);
        let proxy = Proxy::start(c.port());
        let locker = like.starts_with("DROP").then(|| {
            let conn = dst.conn_string();
            std::thread::spawn(move || {
                let _ = Command::new(pgferry_testkit::psql_bin())
                    .args([
                        "-X",
                        "-q",
                        &conn,
                        "-c",
                        "BEGIN; LOCK TABLE public.big IN ACCESS SHARE MODE; SELECT pg_sleep(6); COMMIT;",
                    ])
                    .output();
            })
        });
        if locker.is_some() {
            std::thread::sleep(Duration::from_millis(500));
        }
        let src_conn = if side == "source" {
            proxy.conn_string(src.name())
        } else {
            src.conn_string()
        };
        let dst_conn = if side == "target" {
            proxy.conn_string(dst.name())
        } else {
            dst.conn_string()
        };
        let child = if op == "sync" {
            spawn(&[
                "sync",
                "--source",
                &src_conn,
                "--target",
                &dst_conn,
                "--no-terminate",
            ])
        } else {
            spawn(&["restore", "--clean", "--target", &dst_conn, archive])
        };
        let watched = if side == "source" {
            src.name()
        } else {
            dst.name()
        };
        wait_for(&admin, watched, like);
        let fault = Instant::now();
        proxy.pause();
        assert_failed(finish(child, fault), side);
        if let Some(l) = locker {
            let _ = l.join();
        }
        // The server still holds the abandoned transaction until the
        // connection closes: cut it, then the target must be as it was.
        proxy.cut();
        drop(proxy);
        let deadline = Instant::now() + Duration::from_secs(30);
        while admin
            .query_one_string(&format!(
                "SELECT count(*)::text FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'pgferry'",
                dst.name()
            ))
            .as_deref()
            != Some("0")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            before,
            state(&dst),
            "target changed: {op} with the {side} silent in {like}"
        );
    }
}

#[test]
fn a_sync_past_its_cycle_timeout_is_cancelled_and_recorded() {
    let c = shared_cluster();
    let src = big_source(c, "deadline_src");
    let dst = replica(c, "deadline_dst");
    let before = state(&dst);
    let (s, d) = (src.conn_string(), dst.conn_string());
    let start = Instant::now();
    let child = spawn(&[
        "sync",
        "--source",
        &s,
        "--target",
        &d,
        "--cycle-timeout",
        "300ms",
    ]);
    let (code, err, _) = finish(child, start);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("deadline"), "{err}");
    assert_eq!(before, state(&dst));
    let h = history(&dst);
    assert_eq!(h.last().unwrap()[0].as_deref(), Some("failed"), "{h:?}");
}
