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

mod bins;
mod client;
mod cluster;
mod db;
mod dump;
mod fixtures;
mod os;

pub use bins::{
    bin, bin_dir_for_major, default_bin_dir, find_bin_dir, installed_majors, major_version_of,
    oracle_bin_dir, pg_cache_dir, pg_dump_bin, pg_restore_bin, psql_bin, requested_majors,
    require_major, DEFAULT_PG_CACHE, INSTALL_HINT, VERSIONS_INSTALL_HINT,
};
pub use client::{block_on, describe_error};
pub use cluster::{shared_cluster, Cluster};
pub use db::TestDb;
pub use dump::{normalize_dump, pg_dump_schema};
pub use fault::Proxy;
pub use fixtures::{fixture_path, fixture_sql, fixtures_dir, kind_fixtures, version_fixtures};
pub use os::is_root;

pub use tokio_postgres;
