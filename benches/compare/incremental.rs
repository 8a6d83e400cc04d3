//! Incremental sync (issue #13) against the failover cycle and
//! `pgferry sync --full`, on the benchmark database, interleaved.
//!
//! # Cases
//!
//! | case | change applied to the source | target (medians) |
//! | --- | --- | --- |
//! | (a) | nothing | incremental ≤ 0.08 × the failover cycle |
//! | (b) | `pgbench -T 10` of the default (TPC-B like) workload, 1 client | ≤ 0.2 × the failover cycle |
//! | (c) | `UPDATE public.events SET amount = amount + 1 WHERE id % 10 = 3`: 10 % of `events`, spread over its whole key range | ≤ 0.4 × the failover cycle |
//! | (d) | every row of every table updated (`abalance`, `bbalance`, `tbalance`, `delta`, `amount` + 1) | ≤ 1.1 × `pgferry sync --full` |
//!
//! # Procedure
//!
//! Three replicas of the source, one per tool: `pgferry sync` (incremental,
//! the default), `pgferry sync --full`, and the failover cycle (the same
//! shell script as the "sync a populated replica" section). Before the
//! first case, the `--full` and failover replicas are loaded with an
//! untimed `pgferry sync --full`. Then for each case, for each round:
//!
//! 1. **Reset** (untimed): `pgferry sync --full` into the incremental
//!    replica, so that it equals the source and starts from freshly
//!    written tables (no dead rows left by the previous round's delta). The
//!    two other replicas already equal the source: their previous timed run
//!    copied everything from it, and the source has not changed since.
//! 2. **Change** (untimed): the case's change is applied to the source
//!    **once**, then the source is vacuumed (so that no tool pays for
//!    setting hint bits on rows an earlier tool already read).
//! 3. **Timed runs**, one per tool, in an order rotated by one every round
//!    (round 1: incremental, failover cycle, `--full`; round 2: failover
//!    cycle, `--full`, incremental; …), with a `CHECKPOINT` (untimed)
//!    before each. All three replicas equalled the source before the
//!    change and the source does not change between the runs, so every
//!    tool sees exactly the same delta, including (b)'s, which is not
//!    deterministic (how many transactions pgbench gets through differs
//!    from round to round, never between the tools of one round).
//! 4. After the incremental run (untimed): the bytes moved and the mode from
//!    the replica's newest `pgferry.sync_history` row, the per-table actions
//!    from `pgferry.sync_history_tables`, then the checks: `pgferry verify
//!    --checksums` (exit 0 expected) and the pg_dump oracle (below). The
//!    `--full` run's bytes and mode are read the same way; the failover
//!    cycle moves data through a pipe and reports none.
//!
//! During (b)'s incremental run a second session on the incremental replica
//! runs a primary-key lookup on `public.events` (which pgbench does not
//! touch, so the sync keeps it) every 10 ms, from before the sync starts to
//! after it ends, and records the slowest query and whether its session was
//! terminated or saw an error.
//!
//! # The pg_dump oracle
//!
//! The bench has no other oracle than pg_dump, as in the integration tests:
//! `pg_dump --schema-only --exclude-schema=pgferry` of both databases,
//! normalised, must be identical line for line; and `pg_dump --data-only
//! --exclude-schema=pgferry` of both, streamed, must hold per `COPY`
//! section the same multiset of row lines (count and two order-independent
//! sums of 64-bit line hashes: the physical row order differs after a
//! delta) and the same other statements (sequence `setval`s). Every
//! section or line that differs counts as one difference.
//!
//! # Knobs
//!
//! `PGFERRY_BENCH_ONLY=incremental` runs only these cases (after building
//! the database); `PGFERRY_BENCH_CASES` picks cases (`abcd` by default,
//! e.g. `ac`); `PGFERRY_BENCH_PGBENCH_SECONDS` (default 10) is (b)'s
//! `pgbench -T`; `PGFERRY_BENCH_CHECKS` is `all` (default: verify and
//! oracle after every incremental run), `first` (first round of each case
//! only) or `none`. `PGFERRY_BENCH_ROUNDS` applies as everywhere.
use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgferry_testkit::{describe_error, normalize_dump, tokio_postgres, Cluster, TestDb};

use super::{failover_script, measure, median, pgbench_bin};

/// One case of issue #13.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    /// (a) nothing changed.
    Unchanged,
    /// (b) `pgbench -T 10` on the source.
    Pgbench,
    /// (c) 10 % of `events` updated, spread over the table.
    Events10,
    /// (d) every row of every table updated.
    EveryRow,
}

impl Case {
    const ALL: [Case; 4] = [
        Case::Unchanged,
        Case::Pgbench,
        Case::Events10,
        Case::EveryRow,
    ];

    fn letter(self) -> char {
        match self {
            Case::Unchanged => 'a',
            Case::Pgbench => 'b',
            Case::Events10 => 'c',
            Case::EveryRow => 'd',
        }
    }

    /// `(b) after pgbench -T 10`, …
    fn title(self, cfg: &Config) -> String {
        let what = match self {
            Case::Unchanged => "nothing changed".to_string(),
            Case::Pgbench => format!("after pgbench -T {}", cfg.pgbench_seconds),
            Case::Events10 => "10 % of events updated".to_string(),
            Case::EveryRow => "every row changed".to_string(),
        };
        format!("({}) {what}", self.letter())
    }

    /// The tool the incremental sync is judged against, and the ratio it must stay under.
    fn target(self) -> (Tool, f64) {
        match self {
            Case::Unchanged => (Tool::Failover, 0.08),
            Case::Pgbench => (Tool::Failover, 0.2),
            Case::Events10 => (Tool::Failover, 0.4),
            Case::EveryRow => (Tool::Full, 1.1),
        }
    }
}

/// Which checks run after an incremental run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checks {
    All,
    First,
    None,
}

/// The incremental cases' settings, from the environment.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) rounds: usize,
    pub(crate) cases: Vec<Case>,
    pub(crate) pgbench_seconds: u32,
    pub(crate) checks: Checks,
}

impl Config {
    /// `PGFERRY_BENCH_CASES`, `PGFERRY_BENCH_PGBENCH_SECONDS`,
    /// `PGFERRY_BENCH_CHECKS`; `rounds` from `PGFERRY_BENCH_ROUNDS`.
    /// Panics on a value it does not understand (before the database is built).
    pub(crate) fn from_env(rounds: usize) -> Config {
        let cases = match std::env::var("PGFERRY_BENCH_CASES") {
            Ok(v) if !v.trim().is_empty() => {
                let mut cases = Vec::new();
                for ch in v.chars().filter(|c| !matches!(c, ',' | ' ' | '(' | ')')) {
                    let case = Case::ALL
                        .into_iter()
                        .find(|c| c.letter() == ch.to_ascii_lowercase())
                        .unwrap_or_else(|| {
                            panic!("PGFERRY_BENCH_CASES={v:?}: cases are the letters a, b, c, d")
                        });
                    if !cases.contains(&case) {
                        cases.push(case);
                    }
                }
                cases.sort_by_key(|c| c.letter());
                cases
            }
            _ => Case::ALL.to_vec(),
        };
        let pgbench_seconds = match std::env::var("PGFERRY_BENCH_PGBENCH_SECONDS") {
            Ok(v) => v.trim().parse().unwrap_or_else(|_| {
                panic!("PGFERRY_BENCH_PGBENCH_SECONDS={v:?} is not a number of seconds")
            }),
            Err(_) => 10,
        };
        let checks = match std::env::var("PGFERRY_BENCH_CHECKS").as_deref() {
            Err(_) | Ok("") | Ok("all") => Checks::All,
            Ok("first") => Checks::First,
            Ok("none") => Checks::None,
            Ok(v) => panic!("PGFERRY_BENCH_CHECKS={v:?}: use all, first or none"),
        };
        Config {
            rounds,
            cases,
            pgbench_seconds,
            checks,
        }
    }
}

/// The three tools timed in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Incremental,
    Failover,
    Full,
}

impl Tool {
    /// Round 1's order; later rounds rotate it.
    const ALL: [Tool; 3] = [Tool::Incremental, Tool::Failover, Tool::Full];

    fn name(self) -> &'static str {
        match self {
            Tool::Incremental => "pgferry sync (incremental)",
            Tool::Failover => "failover cycle (pg_dump -Fc | pg_restore -1)",
            Tool::Full => "pgferry sync --full",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Tool::Incremental => "incremental",
            Tool::Failover => "failover cycle",
            Tool::Full => "sync --full",
        }
    }

    fn index(self) -> usize {
        match self {
            Tool::Incremental => 0,
            Tool::Failover => 1,
            Tool::Full => 2,
        }
    }
}

/// One timed run.
#[derive(Debug, Clone)]
struct Run {
    secs: f64,
    /// `pgferry.sync_history.bytes` of the run (pgferry only).
    bytes: Option<u64>,
    /// `pgferry.sync_history.mode` of the run (pgferry only).
    mode: Option<String>,
}

/// What the SELECT loop on the replica saw during one sync.
#[derive(Debug, Clone, Default)]
struct ProbeResult {
    queries: u64,
    max: Duration,
    over_100ms: u64,
    /// The error that ended the loop (a terminated session, a lost
    /// connection, a query stuck for 2 minutes).
    failed: Option<String>,
}

/// The outcome of the checks after one incremental run.
#[derive(Debug, Clone)]
struct CheckResult {
    round: usize,
    /// `Ok` when `pgferry verify --checksums` exited 0, else its exit code and output.
    verify: Result<(), String>,
    /// The pg_dump oracle's differences (empty: none).
    oracle: Vec<String>,
}

/// Everything measured for one case.
#[derive(Debug)]
struct CaseResult {
    case: Case,
    /// Per tool (`Tool::index`), one run per round.
    runs: [Vec<Run>; 3],
    /// What the change did to the source, per round.
    changes: Vec<String>,
    /// (b) only: the SELECT loop, per round.
    probes: Vec<ProbeResult>,
    checks: Vec<CheckResult>,
    /// The last incremental run's `pgferry.sync_history_tables` rows:
    /// table, action, rows written, rows deleted, bytes.
    actions: Vec<Vec<Option<String>>>,
}

impl CaseResult {
    fn median_secs(&self, tool: Tool) -> Option<f64> {
        let v: Vec<f64> = self.runs[tool.index()].iter().map(|r| r.secs).collect();
        (!v.is_empty()).then(|| median(v))
    }

    fn median_bytes(&self, tool: Tool) -> Option<f64> {
        let v: Vec<f64> = self.runs[tool.index()]
            .iter()
            .filter_map(|r| r.bytes.map(|b| b as f64))
            .collect();
        (!v.is_empty()).then(|| median(v))
    }
}

/// The three replicas, one per tool.
struct Replicas {
    incremental: TestDb,
    failover: TestDb,
    full: TestDb,
}

impl Replicas {
    fn of(&self, tool: Tool) -> &TestDb {
        match tool {
            Tool::Incremental => &self.incremental,
            Tool::Failover => &self.failover,
            Tool::Full => &self.full,
        }
    }
}

/// `pgferry -q sync` from `src` into `dst`, `--full` when `full`.
fn pgferry_sync(pgferry: &Path, src: &TestDb, dst: &TestDb, full: bool) -> Command {
    let mut c = Command::new(pgferry);
    c.args([
        "-q",
        "sync",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
    ]);
    if full {
        c.arg("--full");
    }
    c
}

/// Runs `cmd` untimed, panicking with its stderr when it fails.
fn run_untimed(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {cmd:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the incremental cases and prints their report. Returns false when
/// a check (verify --checksums, the pg_dump oracle) found a difference.
/// Changes the source: run it after every section that needs it unchanged.
pub(crate) fn run(cluster: &Cluster, src: &TestDb, pgferry: &Path, cfg: &Config) -> bool {
    if cfg.cases.is_empty() || cfg.rounds == 0 {
        return true;
    }
    let bin = cluster.bin_dir().to_path_buf();
    let port = src.port().to_string();
    let replicas = Replicas {
        incremental: cluster.create_database("bench_inc_incremental"),
        failover: cluster.create_database("bench_inc_failover"),
        full: cluster.create_database("bench_inc_full"),
    };
    let failover = failover_script(&bin, &port, &src.name, &replicas.failover.name);
    let t = Instant::now();
    for dst in [&replicas.failover, &replicas.full] {
        run_untimed(
            pgferry_sync(pgferry, src, dst, true),
            "loading a replica (pgferry sync --full)",
        );
    }
    eprintln!(
        "incremental cases: replicas loaded ({:.1}s)",
        t.elapsed().as_secs_f64()
    );
    let events_rows: i64 = src
        .query_one_string("SELECT max(id) FROM public.events")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);

    let mut results = Vec::new();
    for &case in &cfg.cases {
        let mut r = CaseResult {
            case,
            runs: [Vec::new(), Vec::new(), Vec::new()],
            changes: Vec::new(),
            probes: Vec::new(),
            checks: Vec::new(),
            actions: Vec::new(),
        };
        for round in 0..cfg.rounds {
            let tag = format!("incremental ({}) round {}", case.letter(), round + 1);
            // 1. Reset the incremental replica.
            let t = Instant::now();
            run_untimed(
                pgferry_sync(pgferry, src, &replicas.incremental, true),
                "resetting the incremental replica (pgferry sync --full)",
            );
            eprintln!("{tag}: replica reset ({:.1}s)", t.elapsed().as_secs_f64());
            // 2. Change the source once.
            let t = Instant::now();
            let change = apply_change(case, src, &bin, cfg.pgbench_seconds);
            src.execute_batch("VACUUM");
            eprintln!(
                "{tag}: source changed: {change} ({:.1}s)",
                t.elapsed().as_secs_f64()
            );
            r.changes.push(change);
            // 3. The timed runs, order rotated each round.
            for i in 0..Tool::ALL.len() {
                let tool = Tool::ALL[(i + round) % Tool::ALL.len()];
                let dst = replicas.of(tool);
                let mut cmd = match tool {
                    Tool::Incremental => pgferry_sync(pgferry, src, dst, false),
                    Tool::Full => pgferry_sync(pgferry, src, dst, true),
                    Tool::Failover => {
                        let mut c = Command::new("bash");
                        c.args(["-c", &failover]);
                        c
                    }
                };
                src.execute_batch("CHECKPOINT");
                let probe = (tool == Tool::Incremental && case == Case::Pgbench)
                    .then(|| Probe::start(dst, events_rows));
                let sample = measure(&mut cmd, None);
                if let Some(p) = probe {
                    let seen = p.stop();
                    eprintln!(
                        "{tag}: SELECT loop on the replica: {} queries, max {:.1} ms, {} over 100 ms{}",
                        seen.queries,
                        seen.max.as_secs_f64() * 1e3,
                        seen.over_100ms,
                        seen.failed
                            .as_deref()
                            .map(|e| format!(", ended by: {e}"))
                            .unwrap_or_default()
                    );
                    r.probes.push(seen);
                }
                let (bytes, mode, history_id) = match tool {
                    Tool::Failover => (None, None, None),
                    _ => last_sync(dst),
                };
                eprintln!(
                    "{tag}: {} {:.2}s{}{}",
                    tool.name(),
                    sample.secs,
                    bytes
                        .map(|b| format!(", {} moved", fmt_bytes(b as f64)))
                        .unwrap_or_default(),
                    mode.as_deref()
                        .map(|m| format!(", mode {m}"))
                        .unwrap_or_default()
                );
                r.runs[tool.index()].push(Run {
                    secs: sample.secs,
                    bytes,
                    mode,
                });
                if tool != Tool::Incremental {
                    continue;
                }
                // 4. What the incremental run did, and the checks.
                if let Some(id) = history_id {
                    r.actions = table_actions(dst, id);
                }
                let check = match cfg.checks {
                    Checks::All => true,
                    Checks::First => round == 0,
                    Checks::None => false,
                };
                if check {
                    let t = Instant::now();
                    let verify = verify_checksums(pgferry, src, dst);
                    let oracle = pg_dump_oracle(&bin, src, dst);
                    eprintln!(
                        "{tag}: verify --checksums {}, pg_dump oracle: {} differences ({:.1}s)",
                        if verify.is_ok() {
                            "identical"
                        } else {
                            "FAILED"
                        },
                        oracle.len(),
                        t.elapsed().as_secs_f64()
                    );
                    r.checks.push(CheckResult {
                        round,
                        verify,
                        oracle,
                    });
                }
            }
        }
        results.push(r);
    }
    print_report(&results, cfg)
}

/// Applies `case`'s change to the source; describes what it did.
fn apply_change(case: Case, src: &TestDb, bin: &Path, pgbench_seconds: u32) -> String {
    match case {
        Case::Unchanged => "nothing".into(),
        Case::Pgbench => {
            let mut c = Command::new(pgbench_bin(bin));
            c.args([
                "-T",
                &pgbench_seconds.to_string(),
                "-h",
                "127.0.0.1",
                "-p",
                &src.port().to_string(),
                "-U",
                "postgres",
                &src.name,
            ]);
            let out = run_untimed(c, "pgbench -T");
            let txns = out
                .lines()
                .find_map(|l| l.split("actually processed:").nth(1))
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("?");
            format!("pgbench -T {pgbench_seconds}: {txns} transactions")
        }
        Case::Events10 => {
            let n = src
                .query_one_string(
                    "WITH u AS (UPDATE public.events SET amount = amount + 1 WHERE id % 10 = 3 RETURNING 1) \
                     SELECT count(*) FROM u",
                )
                .unwrap_or_default();
            let total = src
                .query_one_string("SELECT count(*) FROM public.events")
                .unwrap_or_default();
            format!("{n} of {total} events rows updated")
        }
        Case::EveryRow => {
            // Every table of the benchmark database, one column each.
            const UPDATES: [(&str, &str); 5] = [
                ("pgbench_accounts", "abalance = abalance + 1"),
                ("pgbench_branches", "bbalance = bbalance + 1"),
                ("pgbench_tellers", "tbalance = tbalance + 1"),
                ("pgbench_history", "delta = delta + 1"),
                ("events", "amount = amount + 1"),
            ];
            let tables: Vec<String> = src
                .query_strings(
                    "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace \
                     AND c.relkind IN ('r', 'p') ORDER BY 1",
                )
                .into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
                .collect();
            let mut covered: Vec<String> = UPDATES.iter().map(|(t, _)| t.to_string()).collect();
            covered.sort();
            assert_eq!(
                tables, covered,
                "case (d) updates every table of the benchmark database: update the list in apply_change"
            );
            let mut total = 0u64;
            for (table, set) in UPDATES {
                total += src
                    .query_one_string(&format!(
                        "WITH u AS (UPDATE public.{table} SET {set} RETURNING 1) SELECT count(*) FROM u"
                    ))
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            format!("{total} rows in {} tables updated", UPDATES.len())
        }
    }
}

/// The newest `pgferry.sync_history` row of `db`: bytes, mode, id. The mode
/// is read through `to_jsonb` so that a build without the column reads NULL.
fn last_sync(db: &TestDb) -> (Option<u64>, Option<String>, Option<i64>) {
    let rows = db
        .try_query_strings(
            "SELECT h.bytes::text, to_jsonb(h) ->> 'mode', h.id::text FROM pgferry.sync_history h \
             ORDER BY h.id DESC LIMIT 1",
        )
        .unwrap_or_default();
    match rows.into_iter().next() {
        Some(r) => (
            r[0].as_deref().and_then(|s| s.parse().ok()),
            r[1].clone(),
            r[2].as_deref().and_then(|s| s.parse().ok()),
        ),
        None => (None, None, None),
    }
}

/// `pgferry.sync_history_tables` of one sync (empty when the table is missing).
fn table_actions(db: &TestDb, history_id: i64) -> Vec<Vec<Option<String>>> {
    db.try_query_strings(&format!(
        "SELECT table_name, action, rows_written::text, rows_deleted::text, bytes::text \
         FROM pgferry.sync_history_tables WHERE history_id = {history_id} ORDER BY table_name"
    ))
    .unwrap_or_default()
}

/// `pgferry verify --checksums`: `Ok` on exit 0.
fn verify_checksums(pgferry: &Path, src: &TestDb, dst: &TestDb) -> Result<(), String> {
    let out = Command::new(pgferry)
        .args([
            "verify",
            "--checksums",
            "--source",
            &src.conn_string(),
            "--target",
            &dst.conn_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run pgferry verify: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(format!(
        "exit {:?}: {}",
        out.status.code(),
        text.lines().take(20).collect::<Vec<_>>().join(" / ")
    ))
}

/// The SELECT loop on the replica (see the module doc).
struct Probe {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<ProbeResult>,
}

impl Probe {
    /// Connects to `db`, warms up, and returns once the loop runs.
    fn start(db: &TestDb, rows: i64) -> Probe {
        let conn = db.conn_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("SELECT loop: cannot connect: {e}"));
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                let stmt = client
                    .prepare("SELECT amount::text FROM public.events WHERE id = $1")
                    .await
                    .unwrap_or_else(|e| panic!("SELECT loop: {}", describe_error(&e, None)));
                client
                    .query_opt(&stmt, &[&1i64])
                    .await
                    .unwrap_or_else(|e| panic!("SELECT loop: {}", describe_error(&e, None)));
                let _ = ready_tx.send(());
                let mut r = ProbeResult::default();
                let mut id = 1i64;
                while !flag.load(Ordering::Relaxed) {
                    // Spread the lookups over the table (7919 is prime).
                    id = (id + 7919) % rows.max(1) + 1;
                    let t = Instant::now();
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
                    let q = client.query_opt(&stmt, &params);
                    match tokio::time::timeout(Duration::from_secs(120), q).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            r.failed = Some(describe_error(&e, None));
                            break;
                        }
                        Err(_) => {
                            r.failed = Some("a query did not return within 120 s".into());
                            break;
                        }
                    }
                    let d = t.elapsed();
                    r.queries += 1;
                    r.max = r.max.max(d);
                    if d > Duration::from_millis(100) {
                        r.over_100ms += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if r.failed.is_none() && client.is_closed() {
                    r.failed = Some("the connection was closed".into());
                }
                r
            })
        });
        ready_rx
            .recv()
            .expect("the SELECT loop did not start (see its panic above)");
        Probe { stop, handle }
    }

    fn stop(self) -> ProbeResult {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("SELECT loop panicked")
    }
}

/// Count and two wrapping sums of 64-bit hashes of a multiset of lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Digest {
    lines: u64,
    sum1: u64,
    sum2: u64,
}

impl Digest {
    fn add(&mut self, line: &[u8]) {
        let mut h1 = DefaultHasher::new();
        line.hash(&mut h1);
        let mut h2 = DefaultHasher::new();
        0x9e37_79b9_u32.hash(&mut h2);
        line.hash(&mut h2);
        self.lines += 1;
        self.sum1 = self.sum1.wrapping_add(h1.finish());
        self.sum2 = self.sum2.wrapping_add(h2.finish());
    }
}

/// A `pg_dump --data-only` output reduced to one digest per `COPY` section
/// (keyed by its `COPY … FROM stdin;` line) and the sorted other statements.
#[derive(Debug, Default)]
struct DataDump {
    sections: BTreeMap<String, Digest>,
    statements: Vec<String>,
}

/// Streams `pg_dump --data-only --exclude-schema=pgferry` of `db` into a [`DataDump`].
fn data_dump(bin: &Path, db: &TestDb) -> DataDump {
    let mut child = Command::new(bin.join("pg_dump"))
        .args(["--data-only", "--exclude-schema=pgferry", "-d"])
        .arg(db.conn_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pg_dump --data-only");
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = DataDump::default();
    let mut reader = BufReader::with_capacity(1 << 20, child.stdout.take().expect("stdout"));
    let mut line = Vec::new();
    let mut section: Option<(String, Digest)> = None;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).expect("read pg_dump") == 0 {
            break;
        }
        if let Some((_, digest)) = section.as_mut() {
            if line == b"\\.\n" {
                let (key, digest) = section.take().expect("section");
                out.sections.insert(key, digest);
            } else {
                digest.add(&line);
            }
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches('\n');
        if text.starts_with("COPY ") {
            section = Some((text.to_string(), Digest::default()));
        } else if !text.is_empty() && !text.starts_with("--") {
            out.statements
                .push(normalize_dump(text).trim_end().to_string());
        }
    }
    let status = child.wait().expect("wait pg_dump");
    let err = errors.join().unwrap_or_default();
    assert!(
        status.success(),
        "pg_dump --data-only of {} failed: {err}",
        db.name
    );
    out.statements.sort();
    out
}

/// Lines of `a` and `b` not matched in the other, as multisets: (only in a, only in b).
fn line_difference<'a>(a: &'a [&'a str], b: &'a [&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut count: HashMap<&str, i64> = HashMap::new();
    for l in a {
        *count.entry(l).or_default() += 1;
    }
    for l in b {
        *count.entry(l).or_default() -= 1;
    }
    let mut only_a = Vec::new();
    let mut only_b = Vec::new();
    for (l, n) in count {
        for _ in 0..n.max(0) {
            only_a.push(l);
        }
        for _ in 0..(-n).max(0) {
            only_b.push(l);
        }
    }
    only_a.sort_unstable();
    only_b.sort_unstable();
    (only_a, only_b)
}

/// The pg_dump oracle (see the module doc): one entry per difference.
fn pg_dump_oracle(bin: &Path, src: &TestDb, dst: &TestDb) -> Vec<String> {
    let mut diffs = Vec::new();
    let schema =
        |db: &TestDb| normalize_dump(&db.pg_dump(&["--schema-only", "--exclude-schema=pgferry"]));
    let (sa, sb) = (schema(src), schema(dst));
    if sa != sb {
        let (a, b): (Vec<&str>, Vec<&str>) = (sa.lines().collect(), sb.lines().collect());
        let (only_a, only_b) = line_difference(&a, &b);
        for l in only_a {
            diffs.push(format!("schema line only on the source: {l}"));
        }
        for l in only_b {
            diffs.push(format!("schema line only on the replica: {l}"));
        }
        if diffs.is_empty() {
            diffs.push("schema: the same lines in a different order".into());
        }
    }
    let (da, db) = std::thread::scope(|s| {
        let a = s.spawn(|| data_dump(bin, src));
        let b = data_dump(bin, dst);
        (a.join().expect("pg_dump of the source"), b)
    });
    for (key, digest) in &da.sections {
        match db.sections.get(key) {
            None => diffs.push(format!("data only on the source: {key}")),
            Some(other) if other != digest => diffs.push(format!(
                "data differs: {key} ({} rows on the source, {} on the replica)",
                digest.lines, other.lines
            )),
            Some(_) => {}
        }
    }
    for key in db.sections.keys() {
        if !da.sections.contains_key(key) {
            diffs.push(format!("data only on the replica: {key}"));
        }
    }
    let a: Vec<&str> = da.statements.iter().map(String::as_str).collect();
    let b: Vec<&str> = db.statements.iter().map(String::as_str).collect();
    let (only_a, only_b) = line_difference(&a, &b);
    for l in only_a {
        diffs.push(format!("statement only on the source: {l}"));
    }
    for l in only_b {
        diffs.push(format!("statement only on the replica: {l}"));
    }
    diffs
}

fn fmt_bytes(b: f64) -> String {
    if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

/// Prints the section's tables; false when a check failed.
fn print_report(results: &[CaseResult], cfg: &Config) -> bool {
    println!(
        "\n### incremental sync (issue #13): rounds per case: {}, tools interleaved, order rotated each round\n",
        cfg.rounds
    );
    println!(
        "| case | tool | median s | min s | max s | bytes moved (median) | mode | time vs failover cycle | time vs sync --full |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |");
    for r in results {
        let fo = r.median_secs(Tool::Failover);
        let full = r.median_secs(Tool::Full);
        for tool in [Tool::Incremental, Tool::Full, Tool::Failover] {
            let runs = &r.runs[tool.index()];
            let Some(m) = r.median_secs(tool) else {
                continue;
            };
            let min = runs.iter().map(|x| x.secs).fold(f64::INFINITY, f64::min);
            let max = runs.iter().map(|x| x.secs).fold(0.0, f64::max);
            let bytes = r
                .median_bytes(tool)
                .map(fmt_bytes)
                .unwrap_or_else(|| "—".into());
            let mut modes: Vec<&str> = runs.iter().filter_map(|x| x.mode.as_deref()).collect();
            modes.sort_unstable();
            modes.dedup();
            let mode = if modes.is_empty() {
                "—".to_string()
            } else {
                modes.join(", ")
            };
            let ratio = |reference: Option<f64>| {
                reference
                    .map(|x| format!("{:.3}×", m / x))
                    .unwrap_or_else(|| "—".into())
            };
            println!(
                "| {} | {} | {m:.2} | {min:.2} | {max:.2} | {bytes} | {mode} | {} | {} |",
                r.case.title(cfg),
                tool.name().replace('|', "\\|"),
                ratio(fo),
                ratio(full),
            );
        }
    }

    println!("\nTargets of issue #13 (medians of this run):\n");
    println!("| case | ratio | measured | target | met | bytes moved, incremental vs --full |");
    println!("| --- | --- | ---: | ---: | --- | ---: |");
    for r in results {
        let (reference, limit) = r.case.target();
        let ratio = match (r.median_secs(Tool::Incremental), r.median_secs(reference)) {
            (Some(a), Some(b)) => Some(a / b),
            _ => None,
        };
        let bytes = match (
            r.median_bytes(Tool::Incremental),
            r.median_bytes(Tool::Full),
        ) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.4}×", a / b),
            _ => "—".into(),
        };
        println!(
            "| {} | incremental / {} | {} | ≤ {limit}× | {} | {bytes} |",
            r.case.title(cfg),
            reference.short(),
            ratio
                .map(|x| format!("{x:.3}×"))
                .unwrap_or_else(|| "—".into()),
            match ratio {
                Some(x) if x <= limit => "yes",
                Some(_) => "**no**",
                None => "—",
            }
        );
    }

    for r in results.iter().filter(|r| !r.probes.is_empty()) {
        println!(
            "\nSELECT loop on the replica's `public.events` (unchanged) during the incremental sync of {} \
             (target: no wait over 100 ms, no termination):\n",
            r.case.title(cfg)
        );
        println!("| round | queries | max ms | over 100 ms | session |");
        println!("| ---: | ---: | ---: | ---: | --- |");
        for (i, p) in r.probes.iter().enumerate() {
            println!(
                "| {} | {} | {:.1} | {} | {} |",
                i + 1,
                p.queries,
                p.max.as_secs_f64() * 1e3,
                p.over_100ms,
                p.failed
                    .as_deref()
                    .map(|e| format!("**ended**: {}", e.replace('|', "\\|")))
                    .unwrap_or_else(|| "kept".into())
            );
        }
    }

    println!("\nChanges applied to the source (once per round, seen by all three tools):\n");
    for r in results {
        println!("- {}: {}", r.case.title(cfg), r.changes.join("; "));
    }

    println!("\nTables of the last incremental sync per case (pgferry.sync_history_tables):\n");
    println!("| case | table | action | rows written | rows deleted | bytes |");
    println!("| --- | --- | --- | ---: | ---: | ---: |");
    for r in results {
        if r.actions.is_empty() {
            println!(
                "| ({}) | (no rows in pgferry.sync_history_tables) | — | — | — | — |",
                r.case.letter()
            );
        }
        for row in &r.actions {
            let v = |i: usize| row.get(i).cloned().flatten().unwrap_or_else(|| "—".into());
            let bytes = v(4).parse::<f64>().map(fmt_bytes).unwrap_or_else(|_| v(4));
            println!(
                "| ({}) | {} | {} | {} | {} | {bytes} |",
                r.case.letter(),
                v(0),
                v(1),
                v(2),
                v(3)
            );
        }
    }

    let mut ok = true;
    println!("\nChecks after each incremental sync (`pgferry verify --checksums`, the pg_dump oracle):\n");
    for r in results {
        if r.checks.is_empty() {
            println!("- {}: not run (PGFERRY_BENCH_CHECKS)", r.case.title(cfg));
        }
        for c in &r.checks {
            let fine = c.verify.is_ok() && c.oracle.is_empty();
            ok &= fine;
            println!(
                "- {}, round {}: verify --checksums {}; pg_dump oracle: {} differences{}",
                r.case.title(cfg),
                c.round + 1,
                match &c.verify {
                    Ok(()) => "identical (exit 0)".to_string(),
                    Err(e) => format!("**FAILED** ({e})"),
                },
                c.oracle.len(),
                if c.oracle.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}",
                        c.oracle
                            .iter()
                            .take(10)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                }
            );
        }
    }
    if !ok {
        println!("\n**A check failed: the incremental sync left the replica different from the source.**");
    }
    ok
}
