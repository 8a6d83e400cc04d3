//! A dead, crashed or silent source or target ends a sync or a restore
//! within a bounded time, with exit code 1, one line naming the side, and the
//! target exactly as it was. Every run here is bounded: a hang fails the test.
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pgferry_testkit::{shared_cluster, Cluster, Proxy, TestDb};

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

/// Holds `public.big` in `db` for a few seconds, so a run waits for that
/// lock in a known phase.
fn hold_lock(db: &TestDb, mode: &str) -> std::thread::JoinHandle<()> {
    let conn = db.conn_string();
    let sql = format!("BEGIN; LOCK TABLE public.big IN {mode} MODE; SELECT pg_sleep(8); COMMIT;");
    let t = std::thread::spawn(move || {
        let _ = Command::new(pgferry_testkit::psql_bin())
            .args(["-X", "-q", &conn, "-c", &sql])
            .output();
    });
    std::thread::sleep(Duration::from_millis(500));
    t
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// `pg_terminate_backend` of pgferry's backend.
    Terminate,
    /// `pg_ctl stop -m immediate`, then a restart.
    Crash,
    /// The network through a proxy goes silent.
    Silence,
}

/// Statements that mark a phase: a lock wait while replacing schemas (a
/// session holds a lock on the old table), data, post-data, the source's
/// table locks (a session holds an exclusive lock).
const REPLACING: &str = "DROP SCHEMA%";
const DATA: &str = "COPY%";
const POST_DATA: &str = "ALTER TABLE ONLY public.big ADD CONSTRAINT%";
const LOCKING: &str = "LOCK TABLE%";

/// Runs `op` (sync or restore --clean), injects `fault` on `side` once a
/// pgferry session there runs `like`, and checks the run ends in time with
/// the target unchanged.
fn fault_case(
    fault: Fault,
    op: &str,
    side: &str,
    like: &str,
    (src, src_cluster): (&TestDb, &Cluster),
    dst_cluster: &Cluster,
    archive: &str,
) {
    let what = format!("{fault:?} of the {side} during {op} at {like}");
    let dst = replica(dst_cluster, "fault_dst");
    // The test clusters commit asynchronously: make the replica durable
    // before a crash can lose its last commits.
    dst_cluster.database("postgres").execute_batch("CHECKPOINT");
    let before = state(&dst);
    let side_cluster = if side == "source" {
        src_cluster
    } else {
        dst_cluster
    };
    let admin = side_cluster.database("postgres");
    let proxy = (fault == Fault::Silence).then(|| Proxy::start(side_cluster.port()));
    let through = |db: &TestDb, s: &str| match &proxy {
        Some(p) if s == side => p.conn_string(db.name()),
        _ => db.conn_string(),
    };
    let (src_conn, dst_conn) = (through(src, "source"), through(&dst, "target"));
    let locker = match like {
        REPLACING => Some(hold_lock(&dst, "ACCESS SHARE")),
        LOCKING => Some(hold_lock(src, "ACCESS EXCLUSIVE")),
        _ => None,
    };
    let child = if op == "sync" {
        spawn(&[
            "sync",
            "--source",
            &src_conn,
            "--target",
            &dst_conn,
            "--no-terminate",
            "--lock-timeout",
            "60s",
        ])
    } else {
        spawn(&["restore", "--clean", "--target", &dst_conn, archive])
    };
    let watched = if side == "source" {
        src.name()
    } else {
        dst.name()
    };
    let pid = wait_for(&admin, watched, like);
    let at = Instant::now();
    match fault {
        Fault::Terminate => terminate(&admin, pid),
        Fault::Crash => side_cluster.stop_immediate(),
        Fault::Silence => proxy.as_ref().unwrap().pause(),
    }
    let out = finish(child, at);
    if fault == Fault::Crash {
        side_cluster.restart();
    }
    if let Some(l) = locker {
        let _ = l.join();
    }
    if let Some(p) = proxy {
        // The server holds the abandoned transaction until its connection
        // closes: close it, then the target must be as it was.
        p.cut();
        drop(p);
        let deadline = Instant::now() + Duration::from_secs(30);
        let dst_admin = dst_cluster.database("postgres");
        while dst_admin
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
    }
    eprintln!("{what}: exit {:?} after {:?}", out.0, out.2);
    assert_failed(out, side);
    assert_eq!(before, state(&dst), "target changed after {what}");
}

/// Every fault is injected in these (operation, side, phase) cases: three
/// phases of the target for sync and for restore, two of the source.
const CASES: [(&str, &str, &str); 8] = [
    ("sync", "target", REPLACING),
    ("sync", "target", DATA),
    ("sync", "target", POST_DATA),
    ("sync", "source", LOCKING),
    ("sync", "source", DATA),
    ("restore", "target", REPLACING),
    ("restore", "target", DATA),
    ("restore", "target", POST_DATA),
];

/// A big source and its archive, on `cluster`.
fn source_and_archive(cluster: &Cluster, name: &str, dir: &tempfile::TempDir) -> (TestDb, String) {
    let src = big_source(cluster, name);
    let archive = dir.path().join(format!("{name}.pgf"));
    let archive = archive.to_str().unwrap().to_string();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &archive]);
    (src, archive)
}

#[test]
fn a_terminated_backend_ends_sync_and_restore_in_every_phase() {
    let c = shared_cluster();
    let dir = tempdir();
    let (src, archive) = source_and_archive(c, "term_src", &dir);
    for (op, side, like) in CASES {
        fault_case(Fault::Terminate, op, side, like, (&src, c), c, &archive);
    }
}

#[test]
fn a_crashed_server_ends_sync_and_restore_in_every_phase() {
    let target = Cluster::start();
    let source = Cluster::start();
    let dir = tempdir();
    let (src, archive) = source_and_archive(&source, "crash_src", &dir);
    for (op, side, like) in CASES {
        fault_case(
            Fault::Crash,
            op,
            side,
            like,
            (&src, &source),
            &target,
            &archive,
        );
    }
}

#[test]
fn a_silent_network_ends_sync_and_restore_in_every_phase() {
    let c = shared_cluster();
    let dir = tempdir();
    let (src, archive) = source_and_archive(c, "silent_src", &dir);
    for (op, side, like) in CASES {
        fault_case(Fault::Silence, op, side, like, (&src, c), c, &archive);
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

#[test]
fn a_dump_to_stdout_ends_on_a_fault_and_never_looks_complete() {
    let c = shared_cluster();
    let admin = c.database("postgres");
    let src = big_source(c, "dump_fault_src");
    let dir = tempdir();
    for fault in [Fault::Terminate, Fault::Silence] {
        let proxy = Proxy::start(c.port());
        let conn = if fault == Fault::Silence {
            proxy.conn_string(src.name())
        } else {
            src.conn_string()
        };
        let path = dir.path().join(format!("{fault:?}.pgf"));
        let child = Command::new(env!("CARGO_BIN_EXE_pgferry"))
            .args(["dump", "-j", "1", "--source", &conn, "-o", "-"])
            .env("PGFERRY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&path).unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pgferry");
        let pid = wait_for(&admin, src.name(), DATA);
        let at = Instant::now();
        match fault {
            Fault::Terminate => terminate(&admin, pid),
            _ => proxy.pause(),
        }
        let (code, err, took) = finish(child, at);
        assert_eq!(code, Some(1), "{fault:?}: {err}");
        assert!(took < BOUND, "{fault:?}: took {took:?}: {err}");
        assert!(
            err.contains("public.big") || err.contains("source"),
            "{err}"
        );
        let list = pgferry(&["list", path.to_str().unwrap()]);
        assert_eq!(
            list.status.code(),
            Some(2),
            "a failed dump's output reads as an archive"
        );
        proxy.cut();
    }
}

#[test]
fn a_stuck_cycle_under_every_is_cancelled_recorded_and_retried() {
    let c = shared_cluster();
    let src = big_source(c, "stuck_src");
    let dst = replica(c, "stuck_dst");
    // A session pgferry does not terminate (--no-terminate) holds a lock the
    // sync needs for longer than a cycle may take.
    let locker = hold_lock(&dst, "ACCESS SHARE");
    let (s, d) = (src.conn_string(), dst.conn_string());
    let mut child = spawn(&[
        "sync",
        "--source",
        &s,
        "--target",
        &d,
        "--no-terminate",
        "--lock-timeout",
        "1h",
        "--every",
        "1s",
        "--cycle-timeout",
        "3s",
    ]);
    // The first cycle hits its deadline; once the lock is gone a later one succeeds.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let exists =
            dst.query_one_string("SELECT (to_regclass('pgferry.sync_history') IS NOT NULL)::text");
        let h = if exists.as_deref() == Some("true") {
            dst.query_strings("SELECT outcome FROM pgferry.sync_history ORDER BY id")
        } else {
            Vec::new()
        };
        if h.iter().any(|r| r[0].as_deref() == Some("success")) {
            assert_eq!(h[0][0].as_deref(), Some("failed"), "{h:?}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no successful cycle after a stuck one: {h:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let errors =
        dst.query_strings("SELECT error FROM pgferry.sync_history WHERE outcome = 'failed'");
    assert!(
        errors
            .iter()
            .any(|r| r[0].as_deref().unwrap_or("").contains("deadline")),
        "{errors:?}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let (code, err, _) = finish(child, Instant::now());
    assert_eq!(code, Some(0), "{err}");
    let _ = locker.join();
}
