//! `pgferry.toml`: both sides and the sync options in one file.
//!
//! ```toml
//! [source]
//! conn = "host=primary.internal dbname=app user=replicator"
//! password_env = "PRIMARY_PASSWORD"        # or password_file = "/run/secrets/primary"
//!
//! [target]
//! conn = "postgresql://replicator@replica.internal/app"
//! password_file = "/run/secrets/replica"
//!
//! [sync]
//! verify = "counts"                        # none | counts | checksums
//! statistics = "auto"                      # auto | copy | analyze | none
//! every = "20m"
//! exclude_tables = ['"__EFMigrationsHistory"']
//! ```
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use pgferry_engine::{ConnSpec, Error};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Source side.
    pub source: Option<Side>,
    /// Target side.
    pub target: Option<Side>,
    /// Sync options.
    #[serde(default)]
    pub sync: SyncSection,
}

/// One side's connection.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    /// Connection string (key=value or URI), without the password.
    pub conn: String,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
}

/// `[sync]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    /// none / counts / checksums.
    pub verify: Option<String>,
    /// Interval, e.g. "20m".
    pub every: Option<String>,
    /// Lock wait, e.g. "30s".
    pub lock_timeout: Option<String>,
    /// Deadline of one sync, e.g. "1h".
    pub cycle_timeout: Option<String>,
    /// Terminate other sessions on the target (default true).
    pub terminate: Option<bool>,
    /// Replace everything instead of an incremental sync (default false).
    pub full: Option<bool>,
    /// Planner statistics: auto / copy / analyze / none.
    pub statistics: Option<String>,
    /// -n patterns.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// -N patterns.
    #[serde(default)]
    pub exclude_schemas: Vec<String>,
    /// -t patterns.
    #[serde(default)]
    pub tables: Vec<String>,
    /// -T patterns.
    #[serde(default)]
    pub exclude_tables: Vec<String>,
    /// --exclude-table-data patterns.
    #[serde(default)]
    pub exclude_table_data: Vec<String>,
}

impl Config {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
    }
}

impl Side {
    /// Resolves the connection, with the password from `password_env`/`password_file`.
    pub fn resolve(&self, side: pgferry_engine::Side) -> anyhow::Result<ConnSpec> {
        let spec =
            ConnSpec::parse(&self.conn).map_err(|source| Error::ConnString { side, source })?;
        let password = match (&self.password_env, &self.password_file) {
            (Some(_), Some(_)) => bail!("{side}: set password_env or password_file, not both"),
            (Some(var), None) => Some(std::env::var(var).with_context(|| {
                format!("{side}: environment variable {var} (password_env) is not set")
            })?),
            (None, Some(file)) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("{side}: reading password_file {}", file.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            ),
            (None, None) => None,
        };
        Ok(match password {
            Some(p) => spec.with_password(&p),
            None => spec,
        })
    }
}
