//! The pgferry engine: dump, restore, sync and verify over tokio-postgres,
//! without any PostgreSQL client binary.
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
//!
//! # Layers
//!
//! Each layer imports only from the layers below it (a test checks this):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | base | `error`, `progress`, `filter`, `list_file`, `select`, `watch`, `pool` | the error type, progress events, pattern filters, list files (`restore -L`) and object selection, peer liveness, the worker pool |
//! | connections | `conn` | connection strings, environment, pgpass, redaction, connect, TLS |
//! | sides | `source`, `archive`, `target`, `compare` | the source snapshot and COPY out; archive writing and reading; the prepared target session and applying; fingerprints and drift |
//! | operations | `op` | dump, restore (and `-j`), sync (and its schedule), verify, list and ddl: short recipes that never import each other |
//!
//! No operation may hang: see `watch` (a dead or silent peer ends a run
//! within a bounded time).
mod archive;
mod compare;
pub mod conn;
mod error;
pub mod filter;
mod list_file;
mod op;
mod pool;
mod progress;
mod script;
mod select;
mod source;
mod target;
mod watch;

pub use archive::reader::{open_archive, VerifiedArchive};
pub use archive::writer::DEFAULT_LEVEL;
pub use compare::{TableDiff, VerifyMode, VerifyReport};
pub use conn::{connect, ConnError, ConnSpec, SslMode};
pub use error::{ConnectFailure, Error, ErrorKind, Side};
pub use filter::{FilterError, Filters};
pub use list_file::{ListFile, ListFileError};
pub use op::dump::{
    dump, dump_to_path, DumpFormat, DumpOptions, DumpSummary, InsertOptions, PlainData,
    PlainOptions, DEFAULT_SCRIPT_LEVEL,
};
pub use op::list::{ddl, list, ListEntry};
pub use op::restore::{
    restore, restore_from_reader, restore_to_script, RestoreOptions, RestoreSummary, ScriptSummary,
};
pub use op::sync::every::{parse_duration, sync_every, Cycle, Schedule};
pub use op::sync::{record_interrupted, sync, SyncOptions, SyncReport, DEFAULT_SYNC_LOCK_TIMEOUT};
pub use op::verify::{verify, VerifyOptions};
pub use pgferry_catalog::{Omit, RoleSelection, Section, Statistics};
pub use progress::{Progress, ProgressFn};
pub use source::plan::DEFAULT_SPLIT_PAGES;
pub use source::snapshot::DEFAULT_LOCK_TIMEOUT;
pub use target::actions::{TableAction, TableSync};
pub use target::history::{freshness, history, Freshness, HistoryRow};
pub use target::sync_lock::SYNC_LOCK_KEY;
