//! pgferry: a native PostgreSQL dump / restore / sync engine.
//!
//! This facade re-exports the library crates so an embedding service needs
//! one dependency:
//!
//! ```no_run
//! use pgferry::engine::{dump_to_path, restore, ConnSpec, DumpOptions, RestoreOptions};
//! # async fn f() -> Result<(), pgferry::engine::Error> {
//! let primary = ConnSpec::parse("postgresql://postgres@127.0.0.1/app").unwrap();
//! let replica = ConnSpec::parse("postgresql://postgres@127.0.0.1/app_replica").unwrap();
//! dump_to_path(&primary, &DumpOptions::default(), "app.pgf".as_ref()).await?;
//! restore(&replica, "app.pgf".as_ref(), &RestoreOptions { clean: true, ..Default::default() }).await?;
//! # Ok(()) }
//! ```
pub use pgferry_catalog as catalog;
pub use pgferry_engine as engine;
pub use pgferry_format as format;
