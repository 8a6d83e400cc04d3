//! The pgferry engine: dump, restore and list over tokio-postgres, without
//! any PostgreSQL client binary.
//!
//! ```no_run
//! use pgferry_engine::{dump_to_path, restore, ConnSpec, DumpOptions, RestoreOptions};
//! # async fn f() -> Result<(), pgferry_engine::Error> {
//! let primary = ConnSpec::parse("host=127.0.0.1 port=5432 dbname=app user=postgres").unwrap();
//! let replica = primary.with_dbname("app_replica");
//! dump_to_path(&primary, &DumpOptions::default(), "app.pgf".as_ref()).await?;
//! let done = restore(&replica, "app.pgf".as_ref(), &RestoreOptions { clean: true, ..Default::default() }).await?;
//! println!("restored {} rows", done.rows);
//! # Ok(()) }
//! ```
mod apply;
mod archive_file;
pub mod conn;
mod connect;
mod dependents;
mod dump;
mod error;
pub mod filter;
mod frames;
mod history;
mod locks;
mod parallel_restore;
mod progress;
mod restore;
mod roles;
mod schedule;
mod select;
mod sync;
mod target;
mod tls;
mod verify;
mod watch;
mod workers;

pub use archive_file::{list, open_archive, ListEntry, VerifiedArchive};
pub use conn::{ConnError, ConnSpec, SslMode};
pub use connect::connect;
pub use dump::{dump, dump_to_path, DumpOptions, DumpSummary};
pub use error::{ConnectFailure, Error};
pub use filter::{FilterError, Filters};
pub use history::{freshness, history, Freshness, HistoryRow};
pub use pgferry_catalog::{RoleSelection, Statistics};
pub use progress::{Progress, ProgressFn};
pub use restore::{restore, restore_from_reader, RestoreOptions, RestoreSummary};
pub use schedule::{parse_duration, sync_every, Cycle, Schedule};
pub use sync::{record_interrupted, sync, SyncOptions, SyncReport, SYNC_LOCK_KEY};
pub use verify::{verify, TableDiff, VerifyMode, VerifyOptions, VerifyReport};

/// Renders the DDL script an archive's restore would run (no data).
pub fn ddl(path: &std::path::Path, keep_owners: bool) -> Result<String, Error> {
    let a = open_archive(path)?;
    Ok(pgferry_catalog::render_script(
        &a.catalog,
        &pgferry_catalog::RenderOptions {
            keep_owners,
            ..Default::default()
        },
    ))
}
