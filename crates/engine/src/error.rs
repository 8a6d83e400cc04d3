//! The engine's one public error type.
use std::path::PathBuf;

use pgferry_catalog::{server_message, CatalogError};
use pgferry_format::FormatError;

use crate::conn::ConnError;
use crate::filter::FilterError;

/// Why connecting failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// No server answered (refused, unknown host, timeout).
    Unreachable,
    /// The server rejected the credentials.
    Authentication,
    /// The database does not exist.
    NoDatabase,
    /// TLS could not be negotiated.
    Tls,
    /// Anything else the server said.
    Other,
}

/// Errors of dump, restore and list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A malformed connection string.
    #[error("{side} connection string: {source}")]
    ConnString {
        /// `source` or `target`.
        side: &'static str,
        /// What is wrong.
        #[source]
        source: ConnError,
    },
    /// Connecting failed.
    #[error("cannot connect to {side} {endpoint}: {message}")]
    Connect {
        /// `source` or `target`.
        side: &'static str,
        /// `user@host:port/db`, never a password.
        endpoint: String,
        /// Classification.
        failure: ConnectFailure,
        /// The server's or the network's message.
        message: String,
    },
    /// A bad filter pattern, or one that matched nothing.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The archive file is unusable.
    #[error("{}: {source}", path.display())]
    Archive {
        /// Archive path.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: FormatError,
    },
    /// The archive's table of contents cannot be read by this build.
    #[error("{}: {message}", path.display())]
    Toc {
        /// Archive path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading the source catalog failed.
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    /// Copying a table's data out of the source failed.
    #[error("copying data of table {table}: {message}")]
    DumpData {
        /// Table.
        table: String,
        /// Server or stream message.
        message: String,
    },
    /// A statement failed (on the source or the target, as `what` says).
    #[error("{what}: {message}")]
    Source {
        /// What was being done.
        what: String,
        /// Server message.
        message: String,
        /// SQLSTATE.
        sqlstate: Option<String>,
    },
    /// Restoring an object failed; the transaction was rolled back.
    #[error("restore failed, target unchanged: creating {kind} {object}: {message}")]
    Restore {
        /// Object kind.
        kind: &'static str,
        /// Object name.
        object: String,
        /// Server message.
        message: String,
        /// SQLSTATE.
        sqlstate: Option<String>,
    },
    /// The target refuses the archive for its server version.
    #[error("{0}")]
    Version(String),
    /// Local file I/O.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The request cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// The target role lacks rights some objects need (found before anything was touched).
    #[error("{0}")]
    Privileges(String),
    /// The source holds objects pgferry cannot carry (found before anything was touched).
    #[error("{0}")]
    Unsupported(String),
    /// Objects the target owns outside what a run replaces depend on what it
    /// replaces and could not be carried over; nothing was changed.
    #[error("{0}")]
    Dependents(String),
    /// Another sync holds the target's advisory lock.
    #[error("another sync holds the lock on target {target}{holder}; not starting a second one")]
    Locked {
        /// `user@host:port/db`.
        target: String,
        /// Who holds it, when the server says (` (pid 123, idle in transaction for 40 s)`), else empty.
        holder: String,
    },
    /// The connection to one side died or went silent in the middle of a run
    /// (backend terminated, server crashed or restarted, network silent). An
    /// open target transaction is rolled back by the server.
    #[error("{side} lost while {phase}: {message}")]
    PeerLost {
        /// `source` or `target`.
        side: &'static str,
        /// What the run was doing.
        phase: String,
        /// The server's or the network's message.
        message: String,
    },
    /// A run took longer than its deadline (`--cycle-timeout`) and was cancelled.
    #[error("cancelled after {seconds} s (the deadline) while {phase}; nothing was changed")]
    Deadline {
        /// The deadline.
        seconds: u64,
        /// What the run was doing.
        phase: String,
    },
    /// The operation was cancelled (Ctrl-C, SIGTERM, or the caller).
    #[error("cancelled; nothing was changed")]
    Cancelled,
}

impl Error {
    /// True when the error is caused by the user's input (connection
    /// settings, patterns, archive file) rather than a runtime failure; the
    /// CLI maps these to exit code 2.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::ConnString { .. }
                | Error::Connect { .. }
                | Error::Filter(_)
                | Error::Archive { .. }
                | Error::Toc { .. }
                | Error::Version(_)
                | Error::Privileges(_)
                | Error::Unsupported(_)
                | Error::Usage(_)
                | Error::Catalog(pgferry_catalog::CatalogError::NeedsRight(_))
        )
    }

    /// The server's SQLSTATE when the server reported the failure.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Restore { sqlstate, .. } | Error::Source { sqlstate, .. } => sqlstate.as_deref(),
            Error::Catalog(c) => c.sqlstate(),
            _ => None,
        }
    }

    /// `Unsupported` naming what of `catalog` concerns `objects`, if anything.
    pub(crate) fn check_supported(
        catalog: &pgferry_catalog::Catalog,
        objects: &[pgferry_catalog::Object],
    ) -> Result<(), Error> {
        let found = catalog.unsupported_in(objects);
        if found.is_empty() {
            return Ok(());
        }
        let listed: Vec<&str> = found.iter().take(5).map(|u| u.what.as_str()).collect();
        Err(Error::Unsupported(format!(
            "the source holds {} pgferry cannot carry, nothing was changed on the target \
             (leave them out with -n/-N/-t/-T): {}{}",
            if found.len() == 1 {
                "something".to_string()
            } else {
                format!("{} things", found.len())
            },
            listed.join("; "),
            if found.len() > 5 {
                format!("; and {} more", found.len() - 5)
            } else {
                String::new()
            }
        )))
    }

    pub(crate) fn source_stmt(what: impl Into<String>, e: &tokio_postgres::Error) -> Self {
        Error::Source {
            what: what.into(),
            message: server_message(e),
            sqlstate: e.code().map(|c| c.code().to_string()),
        }
    }
}
