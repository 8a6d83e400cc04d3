//! The pgferry catalog: a typed model of a PostgreSQL database's schema,
//! read from `pg_catalog` in one snapshot (PostgreSQL 12 and newer, queries
//! branch on `server_version_num`), ordered by real dependencies
//! (`pg_depend` plus the model's own edges), and rendered back to DDL for a
//! target server.
//!
//! ```
//! use pgferry_catalog::{quote_ident, qualified};
//! assert_eq!(qualified("Sales Data", "orders"), "\"Sales Data\".orders");
//! assert_eq!(quote_ident("select"), "\"select\"");
//! ```
//!
//! Reading needs a connection inside a `REPEATABLE READ` transaction:
//!
//! ```no_run
//! # async fn f(client: &tokio_postgres::Client) -> Result<(), pgferry_catalog::CatalogError> {
//! let catalog = pgferry_catalog::read_catalog(client, &pgferry_catalog::SelectAll).await?;
//! for obj in &catalog.objects {
//!     println!("{} {}", obj.kind.label(), obj.display_name());
//! }
//! let script = pgferry_catalog::render_script(&catalog, &pgferry_catalog::RenderOptions::default());
//! # let _ = script; Ok(()) }
//! ```
mod copy_sql;
mod downgrade;
mod error;
mod loops;
mod model;
mod order;
pub mod probe;
mod quote;
mod read;
mod render;
mod roles;
pub mod rows;
mod stats;

pub use copy_sql::{copy_format, copy_in_sql, copy_out_blocks_sql, copy_out_sql, copy_target};
pub use downgrade::check_target;
pub use error::{server_message, CatalogError};
pub use model::*;
pub use order::sort_objects;
pub use quote::{qualified, quote_ident, quote_literal};
pub use read::{read_catalog, RoleSelection, SelectAll, Selector};
pub use render::{large_object_statements, render_object, render_script, Omit, RenderOptions};
pub use roles::RolePlan;
pub use stats::{Statistics, RESTORE_STATS_VERSION};
