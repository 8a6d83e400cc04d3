//! Side-by-side benchmark: pgferry against pg_dump / pg_restore and the
//! failover script they are used in, on the same throwaway cluster, runs
//! interleaved (A B A B ...), medians reported. Run with
//! `bash scripts/bench.sh` (or `cargo bench --bench compare`).
//!
//! Environment: `PGFERRY_BENCH_SCALE` (pgbench scale, default 20 ≈ 560 MB with
//! the events table), `PGFERRY_BENCH_ROUNDS` (default 3), `PGFERRY_BENCH_PG_DUMP`
//! (a pg_dump ≥ 16 for the zstd competitors; its pg_restore is taken from the
//! same directory), `PGFERRY_BENCH_BIG_TABLE_MB` (when set, also dumps one
//! table of that size with 2 jobs inside the table, 1 job and pg_dump -Fd -j2,
//! reporting how many CPUs were busy).
//!
//! Last, the incremental sync cases of issue #13 (module `incremental`,
//! `benches/compare/incremental.rs`, which documents the procedure): (a)
//! nothing changed, (b) after `pgbench -T 10`, (c) 10 % of `events` updated,
//! (d) every row changed; each timed as `pgferry sync` (incremental),
//! `pgferry sync --full` and the failover cycle, interleaved, with the bytes
//! moved, a SELECT loop on the replica during (b), and `verify --checksums`
//! plus a pg_dump comparison after each incremental sync. They change the
//! source, so they run after everything else. `PGFERRY_BENCH_ONLY=incremental`
//! runs only them; `PGFERRY_BENCH_CASES` (e.g. `ac`), `PGFERRY_BENCH_PGBENCH_SECONDS`
//! (10) and `PGFERRY_BENCH_CHECKS` (`all`, `first`, `none`) tune them. The
//! process exits 1 when a check found a difference.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use pgferry_testkit::{Cluster, TestDb};

#[path = "compare/incremental.rs"]
mod incremental;

struct Sample {
    secs: f64,
    rss_kb: Option<u64>,
    bytes: Option<u64>,
}

/// Runs a command, sampling its VmHWM until it exits.
fn measure(cmd: &mut Command, output: Option<&Path>) -> Sample {
    if let Some(p) = output {
        let _ = std::fs::remove_file(p);
        let _ = std::fs::remove_dir_all(p);
    }
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut rss = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(v) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            {
                rss = rss.max(v);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            let secs = start.elapsed().as_secs_f64();
            if !status.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("{cmd:?} failed: {err}");
            }
            let bytes = output.map(dir_or_file_size);
            return Sample {
                secs,
                rss_kb: (rss > 0).then_some(rss),
                bytes,
            };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn dir_or_file_size(p: &Path) -> u64 {
    if p.is_dir() {
        std::fs::read_dir(p)
            .map(|d| {
                d.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    } else {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }
}

struct Contender {
    name: String,
    /// Prepares the round (not timed), returns the command to time and its output path.
    run: Box<dyn Fn() -> (Command, Option<PathBuf>)>,
    samples: Vec<Sample>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn report(title: &str, reference: &str, contenders: &[Contender]) {
    println!("\n### {title}\n");
    println!(
        "| tool | median s | min s | max s | output MB | peak RSS MB | time vs {} |",
        reference.replace('|', "\\|")
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let refm = contenders
        .iter()
        .find(|c| c.name == reference)
        .map(|c| median(c.samples.iter().map(|s| s.secs).collect()));
    for c in contenders {
        let secs: Vec<f64> = c.samples.iter().map(|s| s.secs).collect();
        let m = median(secs.clone());
        let min = secs.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = secs.iter().cloned().fold(0.0, f64::max);
        let size = c
            .samples
            .last()
            .and_then(|s| s.bytes)
            .map(|b| format!("{:.1}", b as f64 / 1e6))
            .unwrap_or("—".into());
        let rss = c
            .samples
            .iter()
            .filter_map(|s| s.rss_kb)
            .max()
            .map(|k| format!("{:.1}", k as f64 / 1024.0))
            .unwrap_or("—".into());
        let ratio = refm.map(|r| format!("{:.2}×", m / r)).unwrap_or("—".into());
        println!(
            "| {} | {m:.2} | {min:.2} | {max:.2} | {size} | {rss} | {ratio} |",
            c.name.replace('|', "\\|")
        );
    }
}

fn rounds(contenders: &mut [Contender], n: usize) {
    for round in 0..n {
        for c in contenders.iter_mut() {
            let (mut cmd, out) = (c.run)();
            let s = measure(&mut cmd, out.as_deref());
            eprintln!("round {}: {} {:.2}s", round + 1, c.name, s.secs);
            c.samples.push(s);
        }
    }
}

/// `pgbench`: next to the server in `bin`, else one of the same major
/// under /usr/lib/postgresql or the version cache (/var/cache/pgferry/pg),
/// else any installed one.
fn pgbench_bin(bin: &Path) -> PathBuf {
    let own = bin.join("pgbench");
    if own.is_file() {
        return own;
    }
    let major = pgferry_testkit::major_version_of(bin).to_string();
    let roots = [
        PathBuf::from("/usr/lib/postgresql"),
        pgferry_testkit::pg_cache_dir(),
    ];
    let mut candidates: Vec<PathBuf> = roots
        .iter()
        .map(|r| r.join(&major).join("bin").join("pgbench"))
        .collect();
    for root in &roots {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin").join("pgbench"))
            .collect();
        dirs.sort();
        candidates.extend(dirs.into_iter().rev());
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "pgbench not found in {}, /usr/lib/postgresql/*/bin or {}/*/bin",
                bin.display(),
                pgferry_testkit::pg_cache_dir().display()
            )
        })
}

fn build_database(db: &TestDb, bin: &Path, scale: u32) {
    let t = Instant::now();
    let status = Command::new(pgbench_bin(bin))
        .args([
            "-i",
            "-q",
            "-s",
            &scale.to_string(),
            "-h",
            "127.0.0.1",
            "-p",
            &db.port().to_string(),
            "-U",
            "postgres",
            &db.name,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("pgbench");
    assert!(status.success(), "pgbench -i failed");
    let rows = 50_000 * scale;
    db.execute_batch(&format!(
        "CREATE TABLE public.events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, amount numeric(12,2), \
           payload jsonb, tags text[], uid uuid NOT NULL, flag boolean); \
         INSERT INTO public.events (created_at, amount, payload, tags, uid, flag) \
         SELECT now() - (i || ' seconds')::interval, (random() * 10000)::numeric(12,2), \
           jsonb_build_object('user', i % 1000, 'kind', (ARRAY['click','view','buy'])[1 + i % 3], 'score', random()), \
           ARRAY['t' || (i % 7), 'x' || (i % 13)], gen_random_uuid(), i % 2 = 0 \
         FROM generate_series(1, {rows}) i; \
         CREATE INDEX events_created_idx ON public.events (created_at); \
         CREATE INDEX events_uid_idx ON public.events (uid);"
    ));
    db.execute_batch("VACUUM ANALYZE");
    eprintln!(
        "benchmark database: scale {scale}, {} ({:.1}s to build)",
        db.query_one_string("SELECT pg_size_pretty(pg_database_size(current_database()))")
            .unwrap_or_default(),
        t.elapsed().as_secs_f64()
    );
}

fn main() -> ExitCode {
    // `cargo bench` passes --bench; ignore arguments.
    let scale: u32 = std::env::var("PGFERRY_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let n: usize = std::env::var("PGFERRY_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let only_incremental = match std::env::var("PGFERRY_BENCH_ONLY").as_deref() {
        Err(_) | Ok("") => false,
        Ok("incremental") => true,
        Ok(v) => panic!("PGFERRY_BENCH_ONLY={v:?}: the only value is `incremental`"),
    };
    let incremental_cfg = incremental::Config::from_env(n);
    let big_mb: u64 = std::env::var("PGFERRY_BENCH_BIG_TABLE_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let pgferry = PathBuf::from(env!("CARGO_BIN_EXE_pgferry"));
    let cluster = Cluster::start();
    let bin = cluster.bin_dir().to_path_buf();
    let src = cluster.create_database("bench_src");
    build_database(&src, &bin, scale);
    if only_incremental {
        println!(
            "\n## pgferry benchmark: PostgreSQL {}, pgbench scale {scale} + events, incremental sync cases only, {} cores",
            cluster.major_version(),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        return exit_code(incremental::run(&cluster, &src, &pgferry, &incremental_cfg));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let port = src.port().to_string();
    let host_args = move |c: &mut Command, port: &str| {
        c.args(["-h", "127.0.0.1", "-p", port, "-U", "postgres"]);
    };
    let newer = std::env::var("PGFERRY_BENCH_PG_DUMP")
        .ok()
        .map(PathBuf::from);

    // ---- dump
    let mut dump: Vec<Contender> = Vec::new();
    {
        let (p, s, d) = (pgferry.clone(), src.conn_string(), d.clone());
        dump.push(Contender {
            name: "pgferry dump".into(),
            run: Box::new(move || {
                let out = d.join("bench.pgf");
                let mut c = Command::new(&p);
                c.args(["-q", "dump", "--source", &s, "-o", out.to_str().unwrap()]);
                (c, Some(out))
            }),
            samples: vec![],
        });
    }
    {
        let (b, db, d, port) = (
            bin.join("pg_dump"),
            src.name.clone(),
            d.clone(),
            port.clone(),
        );
        dump.push(Contender {
            name: "pg_dump -Fc".into(),
            run: Box::new(move || {
                let out = d.join("bench.dump");
                let mut c = Command::new(&b);
                host_args(&mut c, &port);
                c.args(["-Fc", "-f", out.to_str().unwrap(), &db]);
                (c, Some(out))
            }),
            samples: vec![],
        });
    }
    if let Some(pd) = &newer {
        for (name, args) in [
            ("pg_dump -Fc -Z zstd", vec!["-Fc", "-Z", "zstd"]),
            ("pg_dump -Fd -j2 -Z zstd", vec!["-Fd", "-j2", "-Z", "zstd"]),
        ] {
            let (b, db, d, port) = (pd.clone(), src.name.clone(), d.clone(), port.clone());
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let fname = name.replace([' ', '-'], "_");
            dump.push(Contender {
                name: name.into(),
                run: Box::new(move || {
                    let out = d.join(&fname);
                    let mut c = Command::new(&b);
                    host_args(&mut c, &port);
                    c.args(&args).args(["-f", out.to_str().unwrap(), &db]);
                    (c, Some(out))
                }),
                samples: vec![],
            });
        }
    }
    rounds(&mut dump, n);

    // ---- restore (into a fresh database each time; creation not timed)
    let mut restore: Vec<Contender> = Vec::new();
    {
        let (p, cl, d) = (
            pgferry.clone(),
            &cluster as *const Cluster as usize,
            d.clone(),
        );
        let _ = cl;
        let target_db = cluster.create_database("bench_restore_a");
        let target = target_db.conn_string();
        let name = target_db.name.clone();
        let admin = src.clone();
        restore.push(Contender {
            name: "pgferry restore".into(),
            run: Box::new(move || {
                admin.execute_batch(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                admin.execute_batch(&format!("CREATE DATABASE {name}"));
                let mut c = Command::new(&p);
                c.args([
                    "-q",
                    "restore",
                    "--target",
                    &target,
                    d.join("bench.pgf").to_str().unwrap(),
                ]);
                (c, None)
            }),
            samples: vec![],
        });
    }
    {
        let (b, d, port) = (bin.join("pg_restore"), d.clone(), port.clone());
        let target_db = cluster.create_database("bench_restore_b");
        let name = target_db.name.clone();
        let admin = src.clone();
        restore.push(Contender {
            name: "pg_restore --single-transaction".into(),
            run: Box::new(move || {
                admin.execute_batch(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                admin.execute_batch(&format!("CREATE DATABASE {name}"));
                let mut c = Command::new(&b);
                host_args(&mut c, &port);
                c.args([
                    "--single-transaction",
                    "--no-owner",
                    "-d",
                    &name,
                    d.join("bench.dump").to_str().unwrap(),
                ]);
                (c, None)
            }),
            samples: vec![],
        });
    }
    // Non-atomic parallel restores, for reference.
    for (name, is_pgferry) in [
        ("pgferry restore -j2 (not atomic)", true),
        ("pg_restore -j2 (not atomic)", false),
    ] {
        let target_db = cluster.create_database(if is_pgferry {
            "bench_restore_c"
        } else {
            "bench_restore_d"
        });
        let db = target_db.name.clone();
        let target = target_db.conn_string();
        let admin = src.clone();
        let (p, b, d, port) = (
            pgferry.clone(),
            bin.join("pg_restore"),
            d.clone(),
            port.clone(),
        );
        restore.push(Contender {
            name: name.into(),
            run: Box::new(move || {
                admin.execute_batch(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
                admin.execute_batch(&format!("CREATE DATABASE {db}"));
                let mut c;
                if is_pgferry {
                    c = Command::new(&p);
                    c.args([
                        "-q",
                        "restore",
                        "-j",
                        "2",
                        "--target",
                        &target,
                        d.join("bench.pgf").to_str().unwrap(),
                    ]);
                } else {
                    c = Command::new(&b);
                    host_args(&mut c, &port);
                    c.args([
                        "-j",
                        "2",
                        "--no-owner",
                        "-d",
                        &db,
                        d.join("bench.dump").to_str().unwrap(),
                    ]);
                }
                (c, None)
            }),
            samples: vec![],
        });
    }
    rounds(&mut restore, n);

    // ---- sync vs the failover cycle (replica already populated, as in production)
    let replica_a = cluster.create_database("bench_replica_a");
    let replica_b = cluster.create_database("bench_replica_b");
    let replica_c = cluster.create_database("bench_replica_c");
    let mut sync: Vec<Contender> = vec![
        sync_contender(&pgferry, &src, &replica_a, SYNC_DEFAULT, &[]),
        sync_contender(
            &pgferry,
            &src,
            &replica_c,
            SYNC_NO_STATS,
            &["--statistics", "none"],
        ),
    ];
    {
        let script = failover_script(&bin, &port, &src.name, &replica_b.name);
        sync.push(Contender {
            name: "failover cycle (pg_dump -Fc | pg_restore -1)".into(),
            run: Box::new(move || {
                let mut c = Command::new("bash");
                c.args(["-c", &script]);
                (c, None)
            }),
            samples: vec![],
        });
    }
    rounds(&mut sync, n);

    println!("\n## pgferry benchmark: PostgreSQL {}, pgbench scale {scale} + events, {n} interleaved rounds, {} cores\n",
        cluster.major_version(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    report("dump", "pg_dump -Fc", &dump);
    report(
        "restore (one transaction)",
        "pg_restore --single-transaction",
        &restore,
    );
    report(
        "sync a populated replica",
        "failover cycle (pg_dump -Fc | pg_restore -1)",
        &sync,
    );
    println!("\nPeak RSS of the failover cycle is not sampled (a shell pipeline).");
    statistics_cost(&sync, "ANALYZE (the default on a 15 target)", SYNC_DEFAULT);
    estimates(
        &src,
        &[
            ("pgferry sync --full", &replica_a),
            ("pgferry sync --full --statistics none", &replica_c),
            ("failover cycle", &replica_b),
        ],
    );
    copy_statistics(&pgferry, &bin, scale, n);

    if big_mb > 0 {
        big_table(&cluster, &pgferry, &bin, newer.as_deref(), big_mb, n);
    }

    // Changes the source: last.
    exit_code(incremental::run(&cluster, &src, &pgferry, &incremental_cfg))
}

/// Failure when a check of the incremental cases found a difference (the
/// cluster is dropped, and removed, before the process exits).
fn exit_code(checks_passed: bool) -> ExitCode {
    if checks_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The failover cycle into the database `rep`: terminate its sessions, drop
/// and create `public`, `pg_dump -Fc` of `src_name` piped into
/// `pg_restore --single-transaction`.
fn failover_script(bin: &Path, port: &str, src_name: &str, rep: &str) -> String {
    format!(
        "set -e; H='-h 127.0.0.1 -p {port} -U postgres'; \
         {psql} $H -d {rep} -q -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{rep}' AND pid <> pg_backend_pid()\" \
           -c 'DROP SCHEMA public CASCADE' -c 'CREATE SCHEMA public' >/dev/null 2>&1; \
         {dump} $H -Fc {src_name} | {restore} $H --no-owner --single-transaction -d {rep}",
        psql = bin.join("psql").display(),
        dump = bin.join("pg_dump").display(),
        restore = bin.join("pg_restore").display(),
    )
}

const SYNC_DEFAULT: &str = "pgferry sync --full";
const SYNC_NO_STATS: &str = "pgferry sync --full --statistics none";

/// `pgferry sync --full` from `src` into `dst` with `extra` flags: these
/// cases measure replacing a replica (as the failover cycle does); the
/// incremental sync has its own cases (`compare/incremental.rs`).
fn sync_contender(
    pgferry: &Path,
    src: &TestDb,
    dst: &TestDb,
    name: &str,
    extra: &[&str],
) -> Contender {
    let (p, s, t) = (pgferry.to_path_buf(), src.conn_string(), dst.conn_string());
    let extra: Vec<String> = extra.iter().map(|e| e.to_string()).collect();
    Contender {
        name: name.into(),
        run: Box::new(move || {
            let mut c = Command::new(&p);
            c.args(["-q", "sync", "--full", "--source", &s, "--target", &t]);
            c.args(&extra);
            (c, None)
        }),
        samples: vec![],
    }
}

/// What statistics add to a sync: the median of `with` against `SYNC_NO_STATS`.
fn statistics_cost(sync: &[Contender], what: &str, with: &str) {
    let m = |name: &str| {
        sync.iter()
            .find(|c| c.name == name)
            .map(|c| median(c.samples.iter().map(|s| s.secs).collect()))
    };
    if let (Some(a), Some(b)) = (m(with), m(SYNC_NO_STATS)) {
        println!(
            "\nPlanner statistics by {what}: {:+.1} % of a sync without them ({a:.2} s vs {b:.2} s).",
            (a / b - 1.0) * 100.0
        );
    }
}

/// The planner's row estimate for a selective query on `pgbench_accounts`,
/// on the source and on each replica (no statistics: PostgreSQL's default
/// selectivity, far off).
fn estimates(src: &TestDb, replicas: &[(&str, &TestDb)]) {
    const QUERY: &str = "SELECT * FROM pgbench_accounts WHERE bid = 3";
    let estimate = |db: &TestDb| -> String {
        let plan = db
            .query_one_string(&format!("EXPLAIN (FORMAT JSON) {QUERY}"))
            .unwrap_or_default();
        plan.split("\"Plan Rows\":")
            .nth(1)
            .and_then(|s| s.split([',', '\n', '}']).next())
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    println!("\nEstimated rows of `{QUERY}`: source {}", estimate(src));
    for (name, db) in replicas {
        let missing = db
            .query_one_string(
                "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 \
                 AND NOT a.attisdropped AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = 'public' \
                 AND s.tablename = c.relname AND s.attname = a.attname)",
            )
            .unwrap_or_default();
        println!(
            "- after {name}: {} (columns without statistics: {missing})",
            estimate(db)
        );
    }
}

/// On PostgreSQL 18 (when installed): what copying the source's statistics
/// costs a sync, against analyzing and against none (pg_dump 17 cannot
/// dump an 18 server, so there is no failover cycle here).
fn copy_statistics(pgferry: &Path, bin15: &Path, scale: u32, n: usize) {
    let Some(bin18) = pgferry_testkit::bin_dir_for_major(18) else {
        println!("\nPostgreSQL 18 is not installed (bash scripts/install-pg-versions.sh): statistics copy not measured.");
        return;
    };
    let cluster = Cluster::start_with(&bin18);
    let src = cluster.create_database("bench_src18");
    build_database(&src, bin15, scale);
    let (a, b, c) = (
        cluster.create_database("bench_replica18_copy"),
        cluster.create_database("bench_replica18_analyze"),
        cluster.create_database("bench_replica18_none"),
    );
    let mut sync = vec![
        sync_contender(pgferry, &src, &a, SYNC_DEFAULT, &[]),
        sync_contender(
            pgferry,
            &src,
            &b,
            "pgferry sync --full --statistics analyze",
            &["--statistics", "analyze"],
        ),
        sync_contender(pgferry, &src, &c, SYNC_NO_STATS, &["--statistics", "none"]),
    ];
    rounds(&mut sync, n);
    report(
        "sync a populated replica, PostgreSQL 18 (statistics copied by default)",
        SYNC_NO_STATS,
        &sync,
    );
    statistics_cost(
        &sync,
        "copying the source's (the default on 18)",
        SYNC_DEFAULT,
    );
    statistics_cost(&sync, "ANALYZE", "pgferry sync --full --statistics analyze");
    estimates(
        &src,
        &[
            ("pgferry sync --full", &a),
            ("pgferry sync --full --statistics analyze", &b),
            ("pgferry sync --full --statistics none", &c),
        ],
    );
}

/// Busy and total jiffies of all CPUs, from /proc/stat.
fn cpu_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    // idle + iowait are not busy.
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// One table of `mb` MB dumped with 2 jobs (block ranges of the one table)
/// against 1 job and pg_dump -Fd -j2 (which cannot split a table): wall time
/// and how many CPUs the whole machine kept busy meanwhile.
fn big_table(
    cluster: &Cluster,
    pgferry: &Path,
    bin: &Path,
    newer: Option<&Path>,
    mb: u64,
    n: usize,
) {
    let db = cluster.create_database("bench_big");
    let t = Instant::now();
    // ~210 bytes per row on disk.
    let rows = mb * 1024 * 1024 / 210;
    db.execute_batch(&format!(
        "CREATE TABLE public.big (id bigint PRIMARY KEY, at timestamptz, amount numeric(14,2), note text); \
         INSERT INTO public.big SELECT i, now() - (i || ' s')::interval, i * 0.37, \
           repeat(md5(i::text), 4) FROM generate_series(1, {rows}) i"
    ));
    db.execute_batch("VACUUM ANALYZE public.big");
    eprintln!(
        "big table: {} ({:.1}s to build)",
        db.query_one_string("SELECT pg_size_pretty(pg_relation_size('public.big'))")
            .unwrap_or_default(),
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // Per tool: (seconds, CPUs busy, output bytes) of each round.
    type Runs = Vec<(f64, f64, u64)>;
    let mut results: Vec<(String, Runs)> = Vec::new();
    let port = db.port().to_string();
    let cases: Vec<(String, Vec<String>, bool)> = vec![
        (
            "pgferry dump -j2".into(),
            vec!["-j".into(), "2".into()],
            true,
        ),
        (
            "pgferry dump -j1".into(),
            vec!["-j".into(), "1".into()],
            true,
        ),
        match newer {
            Some(_) => (
                "pg_dump -Fd -j2 -Z zstd".into(),
                vec!["-Fd".into(), "-j2".into(), "-Z".into(), "zstd".into()],
                false,
            ),
            None => (
                "pg_dump -Fd -j2".into(),
                vec!["-Fd".into(), "-j2".into()],
                false,
            ),
        },
    ];
    for _ in 0..n {
        for (name, args, ours) in &cases {
            let out = dir.path().join(name.replace(' ', "_"));
            let mut c = if *ours {
                let mut c = Command::new(pgferry);
                c.args(["-q", "dump", "--source", &db.conn_string(), "-o"])
                    .arg(&out)
                    .args(args);
                c
            } else {
                let mut c =
                    Command::new(newer.map_or_else(|| bin.join("pg_dump"), Path::to_path_buf));
                c.args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-f"])
                    .arg(&out)
                    .args(args)
                    .arg(&db.name);
                c
            };
            let (b0, t0) = cpu_jiffies();
            let s = measure(&mut c, Some(&out));
            let (b1, t1) = cpu_jiffies();
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let busy = (b1 - b0) as f64 / (t1 - t0).max(1) as f64 * cpus;
            eprintln!("big table: {name} {:.2}s, {busy:.2} CPUs busy", s.secs);
            match results.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) => v.push((s.secs, busy, s.bytes.unwrap_or(0))),
                None => results.push((name.clone(), vec![(s.secs, busy, s.bytes.unwrap_or(0))])),
            }
        }
    }
    println!("\n### one {mb} MB table\n");
    println!("| tool | median s | CPUs busy (median) | output MB |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, v) in &results {
        let mut secs: Vec<f64> = v.iter().map(|x| x.0).collect();
        let mut busy: Vec<f64> = v.iter().map(|x| x.1).collect();
        secs.sort_by(f64::total_cmp);
        busy.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.2} | {:.2} | {:.1} |",
            secs[secs.len() / 2],
            busy[busy.len() / 2],
            v[0].2 as f64 / 1e6
        );
    }
}
