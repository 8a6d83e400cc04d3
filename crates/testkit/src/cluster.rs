//! [`Cluster`]: a throwaway PostgreSQL cluster (`initdb`, start, watchdog,
//! stop and cleanup on drop), its accessors and connection parameters, and
//! [`shared_cluster`], the one cluster per test binary.
//!
//! The databases of a cluster are handled in `cluster/databases.rs`, the
//! crash / restart / freeze of its server in `cluster/faults.rs`.

mod databases;
mod faults;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::bins::{default_bin_dir, has_initdb, major_version_of, INSTALL_HINT};
use crate::client::{
    block_on, connect_on_current_runtime, describe_error, libpq_quote, percent_encode,
};
use crate::os::{
    free_port, is_root, postgres_user_exists, run_checked, server_command, sh_quote, tail_of_file,
};

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
    /// Starts a cluster with the default bin directory (see
    /// [`find_bin_dir`](crate::find_bin_dir)).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::pg_dump_schema;

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
}
