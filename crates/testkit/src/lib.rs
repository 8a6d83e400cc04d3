//! Throwaway PostgreSQL clusters for pgferry's tests.
//!
//! Every test talks to a **real** PostgreSQL server; nothing is mocked. This
//! crate finds the server binaries, `initdb`s a cluster into a fresh temporary
//! directory, starts it on a free TCP port of `127.0.0.1` (plus a private unix
//! socket directory), hands out one uniquely named database per test and
//! tears everything down again.
//!
//! ```no_run
//! use pgferry_testkit::{shared_cluster, pg_dump_schema};
//!
//! // One server per test binary, one database per test.
//! let db = shared_cluster().create_database("example");
//! db.execute_batch("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a');");
//! assert_eq!(db.query_one_string("SELECT v FROM t WHERE id = 1").as_deref(), Some("a"));
//! assert!(pg_dump_schema(&db).contains("CREATE TABLE public.t"));
//!
//! // Connection parameters for the code under test:
//! let libpq_style = db.conn_string(); // "host=127.0.0.1 port=… user=postgres dbname=t_example_1"
//! let uri = db.uri();                 // "postgresql://postgres@127.0.0.1:…/t_example_1"
//! # let _ = (libpq_style, uri);
//! ```
//!
//! The SQL helpers ([`TestDb::execute_batch`], [`TestDb::query_strings`], …)
//! are blocking and work both from a plain `#[test]` and from inside
//! `#[tokio::test]`: they run their async work on a dedicated thread with its
//! own current-thread runtime, never on the caller's runtime. Async tests that
//! want a client on their own runtime use [`TestDb::connect`].
//!
//! # Finding PostgreSQL
//!
//! The bin directory is, in order: `$PGFERRY_PG_BIN`; `pg_config --bindir` if
//! it contains `initdb`; the newest `/usr/lib/postgresql/<major>/bin`. If none
//! is found the harness **panics** (tests never pass silently) and tells you to
//! run `apt-get update && apt-get install -y postgresql` (or
//! `bash scripts/install-postgres.sh`). [`bin_dir_for_major`] looks up a
//! specific major version (for version-matrix tests).
//!
//! # Running as root
//!
//! `initdb` and `postgres` refuse to run as root. When the effective uid is 0
//! (CI containers), the harness runs `initdb` and `pg_ctl` as the `postgres`
//! OS user through `runuser -u postgres --` (or `su postgres -s /bin/sh -c`
//! when `runuser` is missing) and `chown`s the cluster directory to it. The
//! cluster directory is created under `/tmp` (or `$PGFERRY_TMPDIR`) so that
//! the `postgres` user can reach it.
//!
//! # Cleanup
//!
//! Dropping a [`Cluster`] stops the server (`pg_ctl stop -m immediate`,
//! falling back to `kill -KILL`) and deletes its directory, also while a test
//! is panicking. Statics are never dropped, so every cluster additionally gets
//! a tiny watchdog shell process that polls once a second and, once the test
//! process is gone (`kill -0 <pid>` fails) while the cluster directory still
//! exists, sends the postmaster `SIGQUIT` and removes the directory. This is
//! what cleans up [`shared_cluster`] after the test binary exits, and it also
//! covers a test process killed with `SIGKILL`. The postmaster pid is in
//! `<cluster dir>/data/postmaster.pid` (and `<cluster dir>/postmaster.pid.copy`)
//! should anything still leak. Set `PGFERRY_KEEP_CLUSTER=1` to keep the
//! directory (data and `server.log`) of clusters stopped by `Drop` for
//! debugging.
//!
//! # Fault injection
//!
//! [`Proxy`] (module [`fault`]) sits between a client and a server and can
//! make the network silent ([`Proxy::pause`]) or cut every connection
//! ([`Proxy::cut`]). On the server side, [`Cluster::stop_immediate`] crashes
//! the server (keeping its data), [`Cluster::restart`] brings it back on the
//! same port, and [`Cluster::pause_server`] / [`Cluster::resume_server`]
//! freeze and thaw its processes (`SIGSTOP` / `SIGCONT`).
//!
//! # Environment variables
//!
//! | variable | meaning |
//! |---|---|
//! | `PGFERRY_PG_BIN` | PostgreSQL bin directory to use |
//! | `PGFERRY_PG_CACHE` | cache of extra server majors, `<cache>/<major>/bin` (default `/var/cache/pgferry/pg`; filled by `scripts/install-pg-versions.sh`) |
//! | `PGFERRY_PG_VERSIONS` | majors a version-matrix test runs, e.g. `13,14,15,16,17,18` (default: the default bin directory's major); see [`requested_majors`] |
//! | `PGFERRY_TMPDIR` | where cluster directories are created (default: the system temp dir, `/tmp` when root) |
//! | `PGFERRY_KEEP_CLUSTER` | keep the cluster directory after `Drop` |

pub mod fault;
pub use fault::Proxy;

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use tokio_postgres;

/// The command that installs the server binaries on Debian/Ubuntu, quoted in
/// every "PostgreSQL not found" panic.
pub const INSTALL_HINT: &str = "apt-get update && apt-get install -y postgresql \
     (or: bash scripts/install-postgres.sh; or set PGFERRY_PG_BIN=/path/to/postgresql/bin)";

/// How long to wait for a freshly started server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Server settings used for every test cluster (speed over durability).
const SERVER_SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "'127.0.0.1'"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("max_connections", "50"),
    ("log_min_messages", "warning"),
    ("log_min_error_statement", "error"),
];

// ---------------------------------------------------------------------------
// Locating binaries
// ---------------------------------------------------------------------------

fn has_initdb(dir: &Path) -> bool {
    dir.join("initdb").is_file()
}

/// Finds the PostgreSQL bin directory without panicking.
///
/// Order: `$PGFERRY_PG_BIN` (returned even if it lacks `initdb`, so that a
/// wrong setting is reported rather than ignored); `pg_config --bindir` if it
/// contains `initdb`; the newest `/usr/lib/postgresql/<major>/bin` that
/// contains `initdb`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PGFERRY_PG_BIN").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
    {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_initdb(&dir) {
                return Some(dir);
            }
        }
    }
    majors_under(Path::new("/usr/lib/postgresql"))
        .into_iter()
        .rev()
        .map(|m| PathBuf::from(format!("/usr/lib/postgresql/{m}/bin")))
        .find(|d| has_initdb(d))
}

/// Major versions with a directory under `root` (numeric names only), ascending.
fn majors_under(root: &Path) -> Vec<u32> {
    let mut majors: Vec<u32> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    majors.sort_unstable();
    majors
}

/// The default PostgreSQL bin directory (see [`find_bin_dir`]).
///
/// # Panics
///
/// Panics with the install command if no server binaries are found, or if
/// `$PGFERRY_PG_BIN` points at a directory without `initdb`.
pub fn default_bin_dir() -> PathBuf {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let dir = DIR.get_or_init(find_bin_dir).clone();
    match dir {
        Some(dir) if has_initdb(&dir) => dir,
        Some(dir) => panic!(
            "pgferry-testkit: PGFERRY_PG_BIN={} does not contain `initdb`; \
             point it at a PostgreSQL server bin directory, or unset it and install the server: {INSTALL_HINT}",
            dir.display()
        ),
        None => panic!(
            "pgferry-testkit: PostgreSQL server binaries (initdb, postgres) not found \
             (looked at $PGFERRY_PG_BIN, `pg_config --bindir`, /usr/lib/postgresql/*/bin). \
             Tests need a real server. Install it with: {INSTALL_HINT}"
        ),
    }
}

/// Default of `$PGFERRY_PG_CACHE`, shared with `scripts/install-pg-versions.sh`.
/// Outside the repository and outside `/root`, so that the `postgres` OS user
/// can execute the binaries when the tests run as root.
pub const DEFAULT_PG_CACHE: &str = "/var/cache/pgferry/pg";

/// The command that installs the extra server majors of the version matrix,
/// quoted when a requested major is missing.
pub const VERSIONS_INSTALL_HINT: &str = "bash scripts/install-pg-versions.sh \
     (installs majors 13, 14, 16, 17, 18 into $PGFERRY_PG_CACHE, default /var/cache/pgferry/pg; \
     15 comes from: bash scripts/install-postgres.sh)";

/// The cache of extra PostgreSQL versions: `$PGFERRY_PG_CACHE`, default
/// [`DEFAULT_PG_CACHE`] (`/var/cache/pgferry/pg`). Layout:
/// `<cache>/<major>/{bin,lib,share}`, as `scripts/install-pg-versions.sh`
/// lays it out.
pub fn pg_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGFERRY_PG_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    PathBuf::from(DEFAULT_PG_CACHE)
}

/// The bin directory of the pg_dump oracle: PostgreSQL 17 client programs
/// (`pg_dump`, `pg_restore`, `psql`) that can dump servers older than 17 too,
/// used by the version matrix to judge schema equality on targets without
/// their own `pg_dump`. `$PGFERRY_ORACLE_BIN` when set, else
/// `<pg_cache_dir()>/client17/bin` (installed by
/// `scripts/install-pg-versions.sh`); `None` when that directory holds no
/// `pg_dump`.
pub fn oracle_bin_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("PGFERRY_ORACLE_BIN").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => pg_cache_dir().join("client17").join("bin"),
    };
    dir.join("pg_dump").is_file().then_some(dir)
}

/// Every major version for which [`bin_dir_for_major`] finds server binaries
/// (Debian's `/usr/lib/postgresql/<major>` and the cache), ascending.
pub fn installed_majors() -> Vec<u32> {
    let mut majors = majors_under(Path::new("/usr/lib/postgresql"));
    majors.extend(majors_under(&pg_cache_dir()));
    majors.sort_unstable();
    majors.dedup();
    majors.retain(|m| bin_dir_for_major(*m).is_some());
    majors
}

/// The major versions a version-matrix test should run against:
/// `$PGFERRY_PG_VERSIONS` (comma- or space-separated, e.g. `13,14,15,16,17,18`),
/// sorted and deduplicated; when unset or empty, only the major of the
/// default bin directory ([`default_bin_dir`]).
///
/// Whether they are installed is not checked here: see [`require_major`].
///
/// # Panics
///
/// Panics if `$PGFERRY_PG_VERSIONS` holds something that is not a number.
pub fn requested_majors() -> Vec<u32> {
    let spec = std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default();
    let mut majors = parse_majors(&spec).unwrap_or_else(|bad| {
        panic!(
            "pgferry-testkit: PGFERRY_PG_VERSIONS={spec:?}: {bad:?} is not a major version number"
        )
    });
    if majors.is_empty() {
        majors.push(major_version_of(&default_bin_dir()));
    }
    majors
}

fn parse_majors(spec: &str) -> Result<Vec<u32>, String> {
    let mut majors = spec
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().map_err(|_| s.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    majors.sort_unstable();
    majors.dedup();
    Ok(majors)
}

/// The bin directory of `major` ([`bin_dir_for_major`]).
///
/// # Panics
///
/// Panics with the install command ([`VERSIONS_INSTALL_HINT`]) when that
/// major is not installed: a requested version is never skipped silently.
pub fn require_major(major: u32) -> PathBuf {
    bin_dir_for_major(major).unwrap_or_else(|| {
        panic!(
            "pgferry-testkit: PostgreSQL {major} was requested (PGFERRY_PG_VERSIONS={:?}) but is not installed \
             (looked at /usr/lib/postgresql/{major}/bin and {}/{major}/bin; installed: {:?}). Install it with: {VERSIONS_INSTALL_HINT}",
            std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default(),
            pg_cache_dir().display(),
            installed_majors(),
        )
    })
}

/// The bin directory of a specific major version, if installed:
/// `/usr/lib/postgresql/{major}/bin`, then `$PGFERRY_PG_CACHE/{major}/bin`.
///
/// Note: when tests run as root, the `postgres` user must be able to reach
/// the directory (a cache under `/root` is not reachable).
pub fn bin_dir_for_major(major: u32) -> Option<PathBuf> {
    [
        PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        pg_cache_dir().join(major.to_string()).join("bin"),
    ]
    .into_iter()
    .find(|d| has_initdb(d))
}

/// Path of a PostgreSQL program (`pg_dump`, `pg_restore`, `psql`, …) in the
/// default bin directory. Panics like [`default_bin_dir`].
pub fn bin(name: &str) -> PathBuf {
    default_bin_dir().join(name)
}

/// Path of `pg_dump` in the default bin directory.
pub fn pg_dump_bin() -> PathBuf {
    bin("pg_dump")
}

/// Path of `pg_restore` in the default bin directory.
pub fn pg_restore_bin() -> PathBuf {
    bin("pg_restore")
}

/// Path of `psql` in the default bin directory.
pub fn psql_bin() -> PathBuf {
    bin("psql")
}

/// Runs `<bin_dir>/postgres --version` and returns the major version
/// (e.g. `15` for "postgres (PostgreSQL) 15.18 (Debian …)", `9` for 9.6).
pub fn major_version_of(bin_dir: &Path) -> u32 {
    let out = Command::new(bin_dir.join("postgres"))
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pgferry-testkit: cannot run {}/postgres --version: {e}. Install the server: {INSTALL_HINT}",
                bin_dir.display()
            )
        });
    let text = String::from_utf8_lossy(&out.stdout);
    parse_major_version(&text).unwrap_or_else(|| {
        panic!("pgferry-testkit: cannot parse the output of postgres --version: {text:?}")
    })
}

fn parse_major_version(text: &str) -> Option<u32> {
    let rest = text.split("(PostgreSQL)").nth(1)?.trim_start();
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    version.split('.').next()?.parse().ok()
}

// ---------------------------------------------------------------------------
// Users and processes
// ---------------------------------------------------------------------------

/// Whether the current process runs with effective uid 0.
pub fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        if let Ok(status) = fs::read_to_string("/proc/self/status") {
            if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
                // Uid: real effective saved fs
                if let Some(euid) = line.split_whitespace().nth(2) {
                    return euid == "0";
                }
            }
        }
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn postgres_user_exists() -> bool {
    Command::new("id")
        .args(["-u", "postgres"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Quotes a string for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Builds a command that runs `program args…` as the `postgres` OS user when
/// we are root, or directly otherwise.
fn server_command(program: &Path, args: &[String], as_postgres: bool) -> Command {
    if !as_postgres {
        let mut cmd = Command::new(program);
        cmd.args(args);
        return cmd;
    }
    if let Some(runuser) = which("runuser") {
        let mut cmd = Command::new(runuser);
        cmd.args(["-u", "postgres", "--"]).arg(program).args(args);
        cmd
    } else {
        let mut line = format!("exec {}", sh_quote(&program.to_string_lossy()));
        for a in args {
            line.push(' ');
            line.push_str(&sh_quote(a));
        }
        let mut cmd = Command::new("su");
        cmd.args(["postgres", "-s", "/bin/sh", "-c", &line]);
        cmd
    }
}

fn run_checked(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("pgferry-testkit: cannot run {what} ({cmd:?}): {e}"));
    if !out.status.success() {
        panic!(
            "pgferry-testkit: {what} failed ({}):\n--- command: {cmd:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("pgferry-testkit: cannot bind a TCP port on 127.0.0.1: {e}"));
    listener
        .local_addr()
        .expect("pgferry-testkit: local_addr of a bound listener")
        .port()
}

fn tail_of_file(path: &Path, max_lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    lines[start..].join("\n")
}

// ---------------------------------------------------------------------------
// Running async work off the caller's runtime
// ---------------------------------------------------------------------------

/// Runs a future to completion on a dedicated thread with its own
/// current-thread tokio runtime and returns its output. Safe to call from
/// inside another tokio runtime (it never blocks on the caller's runtime).
/// A panic inside the future is propagated to the caller.
pub fn block_on<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send,
    Fut: std::future::Future<Output = T>,
    T: Send,
{
    std::thread::scope(|s| {
        let handle = s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("pgferry-testkit: cannot build a tokio runtime");
            rt.block_on(f())
        });
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

async fn connect_on_current_runtime(
    conn: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Renders a tokio-postgres error with all server-side fields, and the line of
/// `sql` the error position points at.
pub fn describe_error(err: &tokio_postgres::Error, sql: Option<&str>) -> String {
    let Some(db) = err.as_db_error() else {
        let mut s = err.to_string();
        let mut src = std::error::Error::source(err);
        while let Some(e) = src {
            s.push_str(": ");
            s.push_str(&e.to_string());
            src = e.source();
        }
        return s;
    };
    let mut s = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(d) = db.detail() {
        s.push_str(&format!("\n  DETAIL: {d}"));
    }
    if let Some(h) = db.hint() {
        s.push_str(&format!("\n  HINT: {h}"));
    }
    if let Some(w) = db.where_() {
        s.push_str(&format!("\n  WHERE: {w}"));
    }
    if let (Some(sql), Some(tokio_postgres::error::ErrorPosition::Original(pos))) =
        (sql, db.position())
    {
        // `pos` is a 1-based character index into the query string.
        let before: String = sql
            .chars()
            .take((*pos as usize).saturating_sub(1))
            .collect();
        let line_no = before.matches('\n').count() + 1;
        let line = sql.lines().nth(line_no - 1).unwrap_or("");
        s.push_str(&format!("\n  at SQL line {line_no}: {line}"));
    }
    s
}

fn excerpt(sql: &str) -> String {
    const MAX: usize = 400;
    if sql.len() <= MAX {
        sql.to_string()
    } else {
        let mut end = MAX;
        while !sql.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes total)", &sql[..end], sql.len())
    }
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

/// A running, throwaway PostgreSQL cluster. Stopped and deleted on drop.
#[derive(Debug)]
pub struct Cluster {
    /// `None` once the directory has been removed (or kept) in `Drop`.
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    as_postgres: bool,
    /// Pid of the running postmaster, 0 when unknown or stopped. Changes on
    /// [`Cluster::restart`].
    postmaster_pid: AtomicU32,
    /// Whether the server processes are stopped by [`Cluster::pause_server`].
    server_paused: AtomicBool,
    major_version: u32,
    server_version_num: u32,
    db_counter: AtomicU32,
    watchdog: Mutex<Option<Child>>,
}

impl Cluster {
    /// Starts a cluster with the default bin directory (see [`find_bin_dir`]).
    ///
    /// # Panics
    ///
    /// Panics (with the install command) if PostgreSQL is not installed, and
    /// with the tail of the server log if the server does not come up.
    pub fn start() -> Cluster {
        Cluster::start_with(&default_bin_dir())
    }

    /// Starts a cluster using the binaries in `bin_dir`.
    pub fn start_with(bin_dir: &Path) -> Cluster {
        assert!(
            has_initdb(bin_dir),
            "pgferry-testkit: {} does not contain `initdb`. Install the server: {INSTALL_HINT}",
            bin_dir.display()
        );
        let bin_dir = bin_dir.to_path_buf();
        let as_postgres = is_root();
        if as_postgres && !postgres_user_exists() {
            panic!(
                "pgferry-testkit: running as root, but initdb/postgres refuse to run as root and there is no \
                 `postgres` OS user to run them as. Create it with `useradd --system --user-group postgres` \
                 or install the server package: {INSTALL_HINT}"
            );
        }
        let major_version = major_version_of(&bin_dir);

        let base = match std::env::var_os("PGFERRY_TMPDIR").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None if as_postgres => PathBuf::from("/tmp"),
            None => std::env::temp_dir(),
        };
        fs::create_dir_all(&base)
            .unwrap_or_else(|e| panic!("pgferry-testkit: cannot create {}: {e}", base.display()));
        let dir = tempfile::Builder::new()
            .prefix("pgferry-pg-")
            .tempdir_in(&base)
            .unwrap_or_else(|e| {
                panic!(
                    "pgferry-testkit: cannot create a temp dir in {}: {e}",
                    base.display()
                )
            });
        let root = dir.path().to_path_buf();
        set_mode(&root, 0o755);
        let data_dir = root.join("data");
        let socket_dir = root.join("sock");
        let log_file = root.join("server.log");
        fs::create_dir(&socket_dir).unwrap_or_else(|e| {
            panic!(
                "pgferry-testkit: cannot create {}: {e}",
                socket_dir.display()
            )
        });
        if as_postgres {
            let mut chown = Command::new("chown");
            chown.arg("-R").arg("postgres:postgres").arg(&root);
            run_checked(chown, "chown of the cluster directory to postgres");
        }

        // initdb
        let initdb_args: Vec<String> = vec![
            "-D".into(),
            data_dir.to_string_lossy().into_owned(),
            "--auth=trust".into(),
            "-U".into(),
            "postgres".into(),
            "--encoding=UTF8".into(),
            "--locale=C".into(),
            "--no-sync".into(),
        ];
        let mut cmd = server_command(&bin_dir.join("initdb"), &initdb_args, as_postgres);
        cmd.current_dir(&root);
        run_checked(cmd, "initdb");

        // Settings (port is passed on the command line so it can change on retry).
        let mut conf = String::from("\n# pgferry-testkit\n");
        for (k, v) in SERVER_SETTINGS {
            conf.push_str(&format!("{k} = {v}\n"));
        }
        conf.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            socket_dir.to_string_lossy().replace('\'', "''")
        ));
        append_file(&data_dir.join("postgresql.conf"), &conf);

        let mut cluster = Cluster {
            dir: Some(dir),
            root,
            data_dir,
            socket_dir,
            log_file,
            bin_dir,
            port: 0,
            as_postgres,
            postmaster_pid: AtomicU32::new(0),
            server_paused: AtomicBool::new(false),
            major_version,
            server_version_num: 0,
            db_counter: AtomicU32::new(0),
            watchdog: Mutex::new(None),
        };
        // From here on, `Drop` cleans up if anything panics.
        cluster.start_server();
        cluster.spawn_watchdog();
        cluster.wait_until_ready();
        cluster.server_version_num = cluster
            .database("postgres")
            .query_one_string("SHOW server_version_num")
            .and_then(|v| v.parse().ok())
            .expect("pgferry-testkit: SHOW server_version_num");
        cluster
    }

    fn start_server(&mut self) {
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let out = self
                .pg_ctl_start(port)
                .output()
                .unwrap_or_else(|e| panic!("pgferry-testkit: cannot run pg_ctl start: {e}"));
            if out.status.success() {
                self.port = port;
                self.record_postmaster_pid();
                return;
            }
            let log = tail_of_file(&self.log_file, 40);
            last_error = format!(
                "pg_ctl start failed ({}):\n--- pg_ctl output:\n{}{}\n--- tail of {}:\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_file.display()
            );
            if !log.contains("Address already in use") {
                break;
            }
            // Lost the race for the port: try another one.
        }
        panic!("pgferry-testkit: could not start PostgreSQL: {last_error}");
    }

    /// `pg_ctl start -w` of this cluster on `port`.
    fn pg_ctl_start(&self, port: u16) -> Command {
        let args: Vec<String> = vec![
            "start".into(),
            "-w".into(),
            "-t".into(),
            START_TIMEOUT.as_secs().to_string(),
            "-D".into(),
            self.data_dir.to_string_lossy().into_owned(),
            "-l".into(),
            self.log_file.to_string_lossy().into_owned(),
            "-o".into(),
            format!("-p {port}"),
        ];
        let mut cmd = server_command(&self.bin_dir.join("pg_ctl"), &args, self.as_postgres);
        cmd.current_dir(&self.root).stdin(Stdio::null());
        cmd
    }

    /// `pg_ctl stop -m immediate -w` of this cluster.
    fn pg_ctl_stop(&self) -> Command {
        let args: Vec<String> = vec![
            "stop".into(),
            "-m".into(),
            "immediate".into(),
            "-w".into(),
            "-t".into(),
            "10".into(),
            "-D".into(),
            self.data_dir.to_string_lossy().into_owned(),
        ];
        let mut cmd = server_command(&self.bin_dir.join("pg_ctl"), &args, self.as_postgres);
        cmd.current_dir(&self.root).stdin(Stdio::null());
        cmd
    }

    /// Reads the pid of the freshly started postmaster and copies it to
    /// `<root>/postmaster.pid.copy`, where the watchdog finds it.
    fn record_postmaster_pid(&self) {
        let pid = self.read_postmaster_pid();
        self.postmaster_pid
            .store(pid.unwrap_or(0), Ordering::SeqCst);
        if let Some(pid) = pid {
            let _ = fs::write(self.root.join("postmaster.pid.copy"), format!("{pid}\n"));
        }
    }

    /// Forgets the postmaster pid of a stopped server (so that nothing sends
    /// signals to a pid the system may reuse).
    fn forget_postmaster_pid(&self) {
        self.postmaster_pid.store(0, Ordering::SeqCst);
        let _ = fs::write(self.root.join("postmaster.pid.copy"), "");
    }

    fn read_postmaster_pid(&self) -> Option<u32> {
        fs::read_to_string(self.data_dir.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn wait_until_ready(&self) {
        let conn = self.conn_string("postgres");
        let deadline = Instant::now() + START_TIMEOUT;
        let ok = block_on(|| async move {
            let mut last = String::new();
            while Instant::now() < deadline {
                match connect_on_current_runtime(&conn).await {
                    Ok(client) => match client.simple_query("SELECT 1").await {
                        Ok(_) => return Ok(()),
                        Err(e) => last = describe_error(&e, None),
                    },
                    Err(e) => last = describe_error(&e, None),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(last)
        });
        if let Err(last) = ok {
            panic!(
                "pgferry-testkit: PostgreSQL on port {} did not accept connections within {:?} (last error: {last})\n--- tail of {}:\n{}",
                self.port,
                START_TIMEOUT,
                self.log_file.display(),
                tail_of_file(&self.log_file, 40)
            );
        }
    }

    fn spawn_watchdog(&self) {
        let parent = std::process::id();
        let dir = sh_quote(&self.root.to_string_lossy());
        // The pid is read when needed: it changes on `restart` and is empty
        // while the server is stopped. SIGCONT first, in case it is paused.
        let copy = sh_quote(&self.root.join("postmaster.pid.copy").to_string_lossy());
        let remove = if keep_requested() {
            String::new()
        } else {
            format!("; sleep 1; rm -rf {dir}")
        };
        let script = format!(
            "while kill -0 {parent} 2>/dev/null && [ -d {dir} ]; do sleep 1; done; \
             if [ -d {dir} ]; then pm=$(head -n 1 {copy} 2>/dev/null); \
             if [ -n \"$pm\" ]; then kill -CONT $pm 2>/dev/null; kill -QUIT $pm 2>/dev/null; fi{remove}; fi"
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(child) = child {
            *self.watchdog.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        }
    }

    /// Stops the server (for `Drop`): resumes it if paused, `pg_ctl stop -m
    /// immediate`, falling back to `kill -KILL` of the postmaster.
    fn stop_server(&self) {
        if self.port == 0 && self.postmaster_pid().is_none() {
            return;
        }
        if self.server_paused.load(Ordering::SeqCst) {
            self.resume_server();
        }
        let mut cmd = self.pg_ctl_stop();
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let stopped = cmd.status().map(|s| s.success()).unwrap_or(false);
        if !stopped {
            if let Some(pid) = self.postmaster_pid() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        self.forget_postmaster_pid();
    }

    /// Stops the server the way a crash would: `pg_ctl stop -m immediate -w`
    /// (the postmaster sends `SIGQUIT` to every backend, no checkpoint),
    /// keeping the data directory. Every connection to the server breaks and
    /// new ones are refused until [`Cluster::restart`]. A paused server
    /// ([`Cluster::pause_server`]) is resumed first. Returns once the server
    /// is gone.
    ///
    /// # Panics
    ///
    /// Panics with `pg_ctl`'s output if the server cannot be stopped (e.g. it
    /// is not running).
    pub fn stop_immediate(&self) {
        if self.server_paused.load(Ordering::SeqCst) {
            self.resume_server();
        }
        run_checked(self.pg_ctl_stop(), "pg_ctl stop -m immediate");
        self.forget_postmaster_pid();
    }

    /// Starts the server again, on the **same port**, after
    /// [`Cluster::stop_immediate`] (crash recovery runs first) and waits
    /// until it accepts connections. The postmaster pid changes; `Drop` and
    /// the watchdog follow it.
    ///
    /// # Panics
    ///
    /// Panics with `pg_ctl`'s output and the server log if the server does
    /// not come up (e.g. it is still running, or the port was taken
    /// meanwhile).
    pub fn restart(&self) {
        let out = self
            .pg_ctl_start(self.port)
            .output()
            .unwrap_or_else(|e| panic!("pgferry-testkit: cannot run pg_ctl start: {e}"));
        if !out.status.success() {
            panic!(
                "pgferry-testkit: restart on port {} failed ({}):\n--- pg_ctl output:\n{}{}\n--- tail of {}:\n{}",
                self.port,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_file.display(),
                tail_of_file(&self.log_file, 40)
            );
        }
        self.record_postmaster_pid();
        self.wait_until_ready();
    }

    /// Freezes the server: `SIGSTOP` to the postmaster, then to all its
    /// descendants (backends, background processes). Connections stay open
    /// but nothing answers: queries hang, and new connections complete the
    /// TCP handshake (the kernel does it) but never get past the startup
    /// message. Takes effect when it returns. [`Cluster::resume_server`]
    /// undoes it; `Drop`, [`Cluster::stop_immediate`] and the watchdog
    /// resume a paused server before stopping it.
    ///
    /// # Panics
    ///
    /// Panics if the postmaster pid is unknown (server stopped).
    pub fn pause_server(&self) {
        let pm = self
            .postmaster_pid()
            .expect("pgferry-testkit: pause_server: the server is not running");
        self.server_paused.store(true, Ordering::SeqCst);
        // The postmaster first: once it is stopped it forks nothing new.
        signal(&[pm], "-STOP");
        signal(&descendants(pm), "-STOP");
    }

    /// Undoes [`Cluster::pause_server`]: `SIGCONT` to the descendants of the
    /// postmaster, then to the postmaster. Held queries then run and answer.
    /// Harmless when the server is not paused.
    pub fn resume_server(&self) {
        if let Some(pm) = self.postmaster_pid() {
            signal(&descendants(pm), "-CONT");
            signal(&[pm], "-CONT");
        }
        self.server_paused.store(false, Ordering::SeqCst);
    }

    /// Whether the server is paused by [`Cluster::pause_server`].
    pub fn is_server_paused(&self) -> bool {
        self.server_paused.load(Ordering::SeqCst)
    }
    /// TCP port the server listens on (host `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Host to connect to: always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The bin directory of the binaries this cluster runs.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Path of a program (`pg_dump`, `psql`, …) in this cluster's bin dir.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The private unix socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The server log file.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// Last `lines` lines of the server log (for assertion messages).
    pub fn log_tail(&self, lines: usize) -> String {
        tail_of_file(&self.log_file, lines)
    }

    /// The temporary directory holding data, socket and log.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// Pid of the running postmaster, if it could be read from
    /// `postmaster.pid`; `None` after [`Cluster::stop_immediate`], a new pid
    /// after [`Cluster::restart`].
    pub fn postmaster_pid(&self) -> Option<u32> {
        Some(self.postmaster_pid.load(Ordering::SeqCst)).filter(|&p| p != 0)
    }

    /// Major version from `postgres --version`, e.g. `15`.
    pub fn major_version(&self) -> u32 {
        self.major_version
    }

    /// `SHOW server_version_num`, e.g. `150018`.
    pub fn server_version_num(&self) -> u32 {
        self.server_version_num
    }

    /// libpq key=value connection string for database `db` as superuser
    /// `postgres`: `host=127.0.0.1 port=N user=postgres dbname=DB`.
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={}",
            self.port,
            libpq_quote(db)
        )
    }

    /// `postgresql://postgres@127.0.0.1:N/DB` (DB percent-encoded).
    pub fn uri(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{}",
            self.port,
            percent_encode(db)
        )
    }

    /// A handle on an existing database (e.g. `"postgres"`); nothing is created.
    pub fn database(&self, name: &str) -> TestDb {
        TestDb {
            name: name.to_string(),
            port: self.port,
            bin_dir: self.bin_dir.clone(),
        }
    }

    /// Creates a fresh, uniquely named database `t_<hint>_<n>` (hint reduced
    /// to `[a-z0-9_]`, truncated) from `template0` and returns a handle.
    pub fn create_database(&self, name_hint: &str) -> TestDb {
        let n = self.db_counter.fetch_add(1, Ordering::Relaxed) + 1;
        let mut hint: String = name_hint
            .chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_alphanumeric() {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        hint.truncate(40);
        let name = format!("t_{hint}_{n}");
        self.database("postgres").execute_batch(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        ));
        self.database(&name)
    }

    /// Installs an extension's control file and `name--1.0.sql` script into
    /// this server's `SHAREDIR/extension` (as `CREATE EXTENSION` finds them),
    /// for tests that need an extension no package ships. Idempotent.
    /// Panics when the directory is not writable (run the tests as root, as
    /// CI does, or as the owner of the server installation).
    pub fn install_extension(&self, name: &str, control: &str, script: &str) {
        let rows = self
            .database("postgres")
            .query_strings("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'");
        let share = rows
            .first()
            .and_then(|r| r[0].clone())
            .expect("pgferry-testkit: pg_config has no SHAREDIR");
        let dir = Path::new(&share).join("extension");
        for (file, text) in [
            (format!("{name}.control"), control),
            (format!("{name}--1.0.sql"), script),
        ] {
            let path = dir.join(file);
            if fs::read_to_string(&path).ok().as_deref() == Some(text) {
                continue;
            }
            fs::write(&path, text).unwrap_or_else(|e| {
                panic!(
                    "pgferry-testkit: cannot install test extension file {}: {e} \
                     (the tests need write access to the server's extension directory: run them as root)",
                    path.display()
                )
            });
        }
    }

    /// Drops a database (with `FORCE`, terminating its connections). Its
    /// subscriptions, which would keep it from being dropped, go first
    /// (without touching their publishers).
    pub fn drop_database(&self, name: &str) {
        let exists = self.database("postgres").query_strings(&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{}'",
            name.replace('\'', "''")
        ));
        if !exists.is_empty() {
            self.database(name).execute_batch(
                "DO $$DECLARE s text; BEGIN FOR s IN SELECT quote_ident(subname) FROM pg_subscription \
                 WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) LOOP \
                 EXECUTE 'ALTER SUBSCRIPTION ' || s || ' DISABLE'; \
                 EXECUTE 'ALTER SUBSCRIPTION ' || s || ' SET (slot_name = NONE)'; \
                 EXECUTE 'DROP SUBSCRIPTION ' || s; END LOOP; END$$",
            );
        }
        self.database("postgres").execute_batch(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            name.replace('"', "\"\"")
        ));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_server();
        if let Some(dir) = self.dir.take() {
            if keep_requested() {
                let path = dir.keep();
                eprintln!("pgferry-testkit: kept cluster directory {}", path.display());
            } else if let Err(e) = dir.close() {
                eprintln!(
                    "pgferry-testkit: could not remove {}: {e}",
                    self.root.display()
                );
            }
        }
        if let Some(mut child) = self
            .watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `sig` (`"-STOP"`, `"-CONT"`, …) to `pids` with the `kill` command.
fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(sig)
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Every descendant of process `root` (children, their children, …), from
/// the parent pids in `/proc/<pid>/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid …"; comm may contain spaces and ')'.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|&&(pid, ppid)| ppid == parent && !found.contains(&pid))
                .map(|&(pid, _)| pid)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn keep_requested() -> bool {
    std::env::var_os("PGFERRY_KEEP_CLUSTER").is_some_and(|v| !v.is_empty() && v != "0")
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

fn append_file(path: &Path, text: &str) {
    use std::io::Write;
    let res = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = res {
        panic!("pgferry-testkit: cannot append to {}: {e}", path.display());
    }
}

fn libpq_quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && c != '\'' && c != '\\')
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"))
    }
}

fn percent_encode(v: &str) -> String {
    let mut s = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The cluster shared by all tests of one test binary, started on first use.
///
/// Each test should still call [`Cluster::create_database`] to get its own
/// database. The cluster is never dropped (it is a static); its watchdog
/// process stops it and removes its directory within about a second after the
/// test process exits (see the crate docs). Roles are cluster-wide, so tests
/// sharing the cluster must create roles idempotently.
pub fn shared_cluster() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(Cluster::start)
}

// ---------------------------------------------------------------------------
// TestDb
// ---------------------------------------------------------------------------

/// One database in a test cluster. Cheap to clone; dropping it does not drop
/// the database (the cluster is throwaway).
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Database name.
    pub name: String,
    port: u16,
    bin_dir: PathBuf,
}

impl TestDb {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `host=127.0.0.1 port=N user=postgres dbname=NAME`.
    pub fn conn_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={}",
            self.port,
            libpq_quote(&self.name)
        )
    }

    /// `postgresql://postgres@127.0.0.1:N/NAME`.
    pub fn uri(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{}",
            self.port,
            percent_encode(&self.name)
        )
    }

    /// The server's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Bin directory of the server holding this database.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Connects on the **caller's** tokio runtime (for `#[tokio::test]`); the
    /// connection task is spawned with `tokio::spawn`.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let conn = self.conn_string();
        connect_on_current_runtime(&conn).await.unwrap_or_else(|e| {
            panic!(
                "pgferry-testkit: cannot connect to {conn}: {}",
                describe_error(&e, None)
            )
        })
    }

    /// Runs `sql` (any number of `;`-separated statements) with the simple
    /// query protocol. As for any multi-statement simple query, the statements
    /// run in one implicit transaction unless `sql` contains `BEGIN`/`COMMIT`.
    pub fn try_execute_batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        let conn = self.conn_string();
        block_on(|| async move {
            let client = connect_on_current_runtime(&conn).await?;
            client.batch_execute(sql).await
        })
    }

    /// Like [`TestDb::try_execute_batch`], but panics with the server's error
    /// (code, detail, hint, offending SQL line).
    pub fn execute_batch(&self, sql: &str) {
        if let Err(e) = self.try_execute_batch(sql) {
            panic!(
                "pgferry-testkit: SQL failed in database {}: {}\n--- SQL: {}",
                self.name,
                describe_error(&e, Some(sql)),
                excerpt(sql)
            );
        }
    }

    /// Runs `sql` with the simple query protocol and returns the rows of all
    /// statements, every value in PostgreSQL's text format (`None` = NULL).
    pub fn try_query_strings(
        &self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
        let conn = self.conn_string();
        block_on(|| async move {
            let client = connect_on_current_runtime(&conn).await?;
            let messages = client.simple_query(sql).await?;
            let rows = messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect();
            Ok(rows)
        })
    }

    /// Like [`TestDb::try_query_strings`], panicking on error.
    pub fn query_strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_query_strings(sql).unwrap_or_else(|e| {
            panic!(
                "pgferry-testkit: query failed in database {}: {}\n--- SQL: {}",
                self.name,
                describe_error(&e, Some(sql)),
                excerpt(sql)
            )
        })
    }

    /// First column of the first row (`None` if NULL). Panics if there is no row.
    pub fn query_one_string(&self, sql: &str) -> Option<String> {
        let rows = self.query_strings(sql);
        let row = rows.into_iter().next().unwrap_or_else(|| {
            panic!(
                "pgferry-testkit: query returned no rows in database {}: {}",
                self.name,
                excerpt(sql)
            )
        });
        row.into_iter().next().flatten()
    }

    /// Runs `pg_dump <args> -d <conn_string>` from the server's bin dir and
    /// returns stdout as text (plain format). Panics with stderr on failure.
    pub fn pg_dump(&self, args: &[&str]) -> String {
        String::from_utf8(self.pg_dump_bytes(args))
            .unwrap_or_else(|_| panic!("pg_dump {args:?} output is not UTF-8; use pg_dump_bytes"))
    }

    /// Like [`TestDb::pg_dump`], returning raw bytes (for `--format=custom`).
    pub fn pg_dump_bytes(&self, args: &[&str]) -> Vec<u8> {
        let mut cmd = Command::new(self.bin_dir.join("pg_dump"));
        cmd.args(args).arg("-d").arg(self.conn_string());
        run_checked(cmd, "pg_dump").stdout
    }

    /// Loads a file from the repository's `fixtures/` directory.
    pub fn load_fixture(&self, name: &str) {
        self.execute_batch(&fixture_sql(name));
    }

    /// Loads `fixtures/schema.sql`, then every `fixtures/versions/NN.sql` with
    /// `NN <= major` in ascending order (the objects that need a newer server
    /// than the oldest supported one). Pass the major of the server holding
    /// this database, e.g. `cluster.major_version()`.
    pub fn load_fixture_for_major(&self, major: u32) {
        self.load_fixture("schema.sql");
        for (_, name) in version_fixtures(major) {
            self.load_fixture(&name);
        }
    }

    /// Loads every `fixtures/kinds/*.sql` in name order (one file per object
    /// kind beyond `schema.sql`: base types, operator classes, access
    /// methods, foreign data, subscriptions, database properties, dependency
    /// loops, ...), on top of [`TestDb::load_fixture_for_major`]. They need a
    /// superuser; `DATABASE_NAME` in them stands for this database.
    pub fn load_kind_fixtures(&self) {
        let name = format!("\"{}\"", self.name().replace('"', "\"\""));
        for file in kind_fixtures() {
            self.execute_batch(&fixture_sql(&file).replace("DATABASE_NAME", &name));
        }
    }
}

/// The files of `fixtures/kinds/`, as fixture names, in name order.
pub fn kind_fixtures() -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(fixtures_dir().join("kinds"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            name.ends_with(".sql").then(|| format!("kinds/{name}"))
        })
        .collect();
    files.sort();
    files
}

impl fmt::Display for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.conn_string())
    }
}

/// `pg_dump --schema-only` of `db`, normalised with [`normalize_dump`] so that
/// two dumps compare equal when the schemas are equal.
pub fn pg_dump_schema(db: &TestDb) -> String {
    normalize_dump(&db.pg_dump(&["--schema-only"]))
}

/// Normalises the run-specific lines of a plain-format `pg_dump` output: the
/// random key of `\restrict` / `\unrestrict` (pg_dump 17.6+, 16.10+, 15.14+,
/// …) and the `-- Dumped from database version` / `-- Dumped by pg_dump
/// version` comments.
pub fn normalize_dump(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len());
    for line in dump.lines() {
        let line = if line.starts_with("\\restrict ") {
            "\\restrict KEY"
        } else if line.starts_with("\\unrestrict ") {
            "\\unrestrict KEY"
        } else if line.starts_with("-- Dumped from database version") {
            "-- Dumped from database version X"
        } else if line.starts_with("-- Dumped by pg_dump version") {
            "-- Dumped by pg_dump version X"
        } else {
            line
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("fixtures")
}

/// Path of `fixtures/<name>`.
pub fn fixture_path(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// The version-specific fixtures `versions/NN.sql` with `NN <= major`, as
/// `(NN, "versions/NN.sql")`, ascending.
pub fn version_fixtures(major: u32) -> Vec<(u32, String)> {
    let mut files: Vec<(u32, String)> = fs::read_dir(fixtures_dir().join("versions"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let nn: u32 = name.strip_suffix(".sql")?.parse().ok()?;
            (nn <= major).then(|| (nn, format!("versions/{name}")))
        })
        .collect();
    files.sort();
    files
}

/// Contents of `fixtures/<name>`. Panics if it cannot be read.
pub fn fixture_sql(name: &str) -> String {
    let path = fixture_path(name);
    fs::read_to_string(&path).unwrap_or_else(|e: io::Error| {
        panic!(
            "pgferry-testkit: cannot read fixture {}: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_major_version("postgres (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 18beta1"),
            Some(18)
        );
        assert_eq!(parse_major_version("nope"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(libpq_quote("t_a_1"), "t_a_1");
        assert_eq!(libpq_quote("a b'c"), r"'a b\'c'");
        assert_eq!(libpq_quote(""), "''");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn normalizes_dumps() {
        let a = "--\n-- Dumped from database version 15.18\n-- Dumped by pg_dump version 15.18\n\\restrict abc\nCREATE TABLE t ();\n\\unrestrict abc\n";
        let b = "--\n-- Dumped from database version 16.1\n-- Dumped by pg_dump version 16.1\n\\restrict xyz\nCREATE TABLE t ();\n\\unrestrict xyz\n";
        assert_eq!(normalize_dump(a), normalize_dump(b));
        assert_ne!(
            normalize_dump(a),
            normalize_dump(&b.replace("t ()", "u ()"))
        );
    }

    #[test]
    fn cluster_lifecycle() {
        let cluster = Cluster::start();
        let root = cluster.root_dir().to_path_buf();
        let data = cluster.data_dir().to_path_buf();
        assert!(data.join("PG_VERSION").is_file());
        assert!(cluster.port() > 0);
        assert!(cluster.major_version() >= 9);
        assert_eq!(
            cluster.server_version_num() / 10000,
            cluster.major_version()
        );

        let a = cluster.create_database("Life cycle!");
        let b = cluster.create_database("life");
        assert_ne!(a.name, b.name);
        assert!(a.name.starts_with("t_life_cycle__"), "{}", a.name);
        a.execute_batch("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one'), (2, NULL);");
        b.execute_batch("CREATE TABLE t (x int)");
        assert_eq!(
            a.query_strings("SELECT id, v FROM t ORDER BY id"),
            vec![
                vec![Some("1".to_string()), Some("one".to_string())],
                vec![Some("2".to_string()), None],
            ]
        );
        assert_eq!(
            b.query_one_string("SELECT count(*) FROM t").as_deref(),
            Some("0")
        );
        assert_eq!(
            a.query_one_string("SELECT current_database()").as_deref(),
            Some(a.name.as_str())
        );
        let err = a.try_execute_batch("SELECT * FROM missing").unwrap_err();
        assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42P01"));
        assert!(a
            .conn_string()
            .contains(&format!("port={}", cluster.port())));
        assert!(a
            .uri()
            .ends_with(&format!(":{}/{}", cluster.port(), a.name)));

        let dump = pg_dump_schema(&a);
        assert!(dump.contains("CREATE TABLE public.t"), "{dump}");
        assert_eq!(dump, pg_dump_schema(&a));

        cluster.drop_database(&b.name);
        assert!(b.try_execute_batch("SELECT 1").is_err());

        let pid = cluster.postmaster_pid().expect("postmaster pid");
        drop(cluster);
        assert!(
            !root.exists(),
            "cluster dir {} still exists",
            root.display()
        );
        // The postmaster may linger briefly as a zombie until init reaps it.
        let deadline = Instant::now() + Duration::from_secs(5);
        let running = || {
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    !s.rsplit(')')
                        .next()
                        .unwrap_or("")
                        .trim_start()
                        .starts_with('Z')
                })
                .unwrap_or(false)
        };
        while running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!running(), "postmaster {pid} still running");
    }

    #[test]
    fn cleans_up_when_a_test_panics() {
        let root = std::sync::Arc::new(Mutex::new(None));
        let r = root.clone();
        let result = std::panic::catch_unwind(move || {
            let cluster = Cluster::start();
            *r.lock().unwrap() = Some(cluster.root_dir().to_path_buf());
            cluster
                .database("postgres")
                .execute_batch("SELECT syntax error here");
        });
        assert!(result.is_err());
        let root = root.lock().unwrap().clone().unwrap();
        assert!(!root.exists());
    }

    #[test]
    fn shared_cluster_hands_out_distinct_databases() {
        let a = shared_cluster().create_database("shared");
        let b = shared_cluster().create_database("shared");
        assert_ne!(a.name, b.name);
        assert_eq!(shared_cluster().port(), a.port());
    }

    #[tokio::test]
    async fn helpers_work_inside_a_tokio_runtime() {
        let db = shared_cluster().create_database("in_tokio");
        db.execute_batch("CREATE TABLE t (x int); INSERT INTO t VALUES (42)");
        assert_eq!(
            db.query_one_string("SELECT x FROM t").as_deref(),
            Some("42")
        );
        let client = db.connect().await;
        let row = client.query_one("SELECT x FROM t", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 42);
    }

    #[test]
    fn finds_binaries() {
        let dir = default_bin_dir();
        assert!(dir.join("initdb").is_file());
        assert!(pg_dump_bin().is_file());
        let major = major_version_of(&dir);
        if dir.starts_with("/usr/lib/postgresql") {
            assert_eq!(bin_dir_for_major(major), Some(dir));
        }
        assert_eq!(bin_dir_for_major(1), None);
        assert!(installed_majors().contains(&major));
    }

    #[test]
    fn parses_requested_majors() {
        assert_eq!(parse_majors(""), Ok(vec![]));
        assert_eq!(parse_majors("18,13, 15 15"), Ok(vec![13, 15, 18]));
        assert_eq!(parse_majors("13,x"), Err("x".to_string()));
    }

    #[test]
    fn lists_version_fixtures() {
        let all = version_fixtures(99);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "{all:?}");
        assert!(version_fixtures(13).iter().all(|(nn, _)| *nn <= 13));
        assert!(all
            .iter()
            .any(|(nn, f)| *nn == 15 && f == "versions/15.sql"));
    }
}
