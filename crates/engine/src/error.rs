//! The engine's one public error type: a variant per situation, each
//! carrying the side and phase it happened in as data, the driver error kept
//! as its `source` (SQLSTATE and DETAIL are read from it), and an
//! [`ErrorKind`] that callers (the CLI's exit codes) branch on.
use std::fmt;
use std::path::PathBuf;

use pgferry_catalog::{server_message, CatalogError};
use pgferry_format::FormatError;

use crate::conn::ConnError;
use crate::filter::FilterError;
use crate::list_file::ListFileError;

/// Which server an error concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The database read from (dump, sync's primary, verify's source).
    Source,
    /// The database written to (restore, sync's replica, verify's target).
    Target,
}

impl Side {
    /// `source` or `target`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// What kind of failure an [`Error`] is: the one thing callers branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A malformed connection string.
    ConnString,
    /// A server could not be reached or refused the login.
    Connect(ConnectFailure),
    /// A bad filter pattern, or one that matched nothing.
    Filter,
    /// An unreadable, corrupt, truncated or too new archive.
    Archive,
    /// The target's server version cannot take what the source holds.
    Version,
    /// The request cannot be carried out as given.
    Usage,
    /// The connecting role lacks a right the run needs (found before anything was touched).
    Privileges,
    /// The source holds objects pgferry cannot carry (found before anything was touched).
    Unsupported,
    /// Target-owned objects over replaced ones could not be carried over.
    Dependents,
    /// Another sync holds the target's lock.
    Locked,
    /// A statement failed on a server (catalog reads, DDL, COPY, settings).
    Server,
    /// A side died or went silent in the middle of a run.
    PeerLost,
    /// The run's deadline passed.
    Deadline,
    /// The run was cancelled (signal or caller).
    Cancelled,
    /// Local file I/O failed.
    Io,
    /// A worker task panicked or was aborted (a bug).
    Internal,
}

impl ErrorKind {
    /// True when the user's input is at fault (connection settings,
    /// patterns, archive file, rights, versions) rather than a runtime
    /// failure: the CLI's exit code 2.
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            ErrorKind::ConnString
                | ErrorKind::Connect(_)
                | ErrorKind::Filter
                | ErrorKind::Archive
                | ErrorKind::Version
                | ErrorKind::Usage
                | ErrorKind::Privileges
                | ErrorKind::Unsupported
        )
    }
}

/// Errors of every engine operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A malformed connection string.
    #[error("{side} connection string: {source}")]
    ConnString {
        /// Which side's string.
        side: Side,
        /// What is wrong.
        #[source]
        source: ConnError,
    },
    /// Connecting failed.
    #[error("cannot connect to {side} {endpoint}: {message}")]
    Connect {
        /// Which side.
        side: Side,
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
    /// A list file (`restore -L`) that cannot be read, or that names or
    /// orders objects wrongly for its archive.
    #[error(transparent)]
    ListFile(#[from] ListFileError),
    /// The archive file is unusable (damaged, truncated, not an archive).
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
    /// Reading a catalog failed.
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    /// A statement failed on one side.
    #[error("{phase}: {}", server_message(.source))]
    Statement {
        /// The server it ran on.
        side: Side,
        /// What was being done.
        phase: String,
        /// The driver's error (SQLSTATE, DETAIL and HINT in it).
        #[source]
        source: tokio_postgres::Error,
    },
    /// Copying a table's data failed (the COPY or its stream).
    #[error("copying data of table {table}: {message}")]
    Copy {
        /// The side whose COPY failed.
        side: Side,
        /// Table.
        table: String,
        /// Server or stream message.
        message: String,
        /// The driver's error, when the server reported the failure.
        #[source]
        source: Option<tokio_postgres::Error>,
    },
    /// Creating or loading an object on the target failed; the transaction was rolled back.
    #[error("restore failed, target unchanged: creating {kind} {object}: {}", server_message(.source))]
    Object {
        /// Object kind.
        kind: &'static str,
        /// Object name.
        object: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The target refuses the source's objects for its server version.
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
        /// Which side.
        side: Side,
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
    /// A worker task panicked or was aborted.
    #[error("a worker task failed: {0}")]
    Worker(String),
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ConnString { .. } => ErrorKind::ConnString,
            Error::Connect { failure, .. } => ErrorKind::Connect(*failure),
            Error::Filter(_) => ErrorKind::Filter,
            Error::Archive { .. } | Error::Toc { .. } => ErrorKind::Archive,
            Error::Catalog(CatalogError::NeedsRight(_)) => ErrorKind::Privileges,
            Error::Catalog(_) | Error::Statement { .. } | Error::Copy { .. } => ErrorKind::Server,
            Error::Object { .. } => ErrorKind::Server,
            Error::Version(_) => ErrorKind::Version,
            Error::Io { .. } => ErrorKind::Io,
            Error::Usage(_) | Error::ListFile(_) => ErrorKind::Usage,
            Error::Privileges(_) => ErrorKind::Privileges,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Dependents(_) => ErrorKind::Dependents,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::PeerLost { .. } => ErrorKind::PeerLost,
            Error::Deadline { .. } => ErrorKind::Deadline,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::Worker(_) => ErrorKind::Internal,
        }
    }

    /// True when the error is caused by the user's input rather than a
    /// runtime failure (see [`ErrorKind::is_bad_input`]).
    pub fn is_bad_input(&self) -> bool {
        self.kind().is_bad_input()
    }

    /// The side the error happened on, when it concerns one server.
    pub fn side(&self) -> Option<Side> {
        match self {
            Error::ConnString { side, .. }
            | Error::Connect { side, .. }
            | Error::Statement { side, .. }
            | Error::Copy { side, .. }
            | Error::PeerLost { side, .. } => Some(*side),
            Error::Object { .. } | Error::Locked { .. } | Error::Dependents(_) => {
                Some(Side::Target)
            }
            _ => None,
        }
    }

    /// What the run was doing, when the error says.
    pub fn phase(&self) -> Option<&str> {
        match self {
            Error::Statement { phase, .. }
            | Error::PeerLost { phase, .. }
            | Error::Deadline { phase, .. } => Some(phase),
            _ => None,
        }
    }

    /// The driver error, when a server reported the failure.
    fn db(&self) -> Option<&tokio_postgres::error::DbError> {
        match self {
            Error::Statement { source, .. } | Error::Object { source, .. } => source.as_db_error(),
            Error::Copy {
                source: Some(source),
                ..
            } => source.as_db_error(),
            _ => None,
        }
    }

    /// The server's SQLSTATE when the server reported the failure.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Catalog(c) => c.sqlstate(),
            _ => self.db().map(|d| d.code().code()),
        }
    }

    /// The server's DETAIL line, when it sent one.
    pub fn detail(&self) -> Option<&str> {
        self.db().and_then(|d| d.detail())
    }

    /// A statement `phase` failed on `side`.
    pub(crate) fn statement(
        side: Side,
        phase: impl Into<String>,
        source: tokio_postgres::Error,
    ) -> Self {
        Error::Statement {
            side,
            phase: phase.into(),
            source,
        }
    }

    /// A statement failed on the source.
    pub(crate) fn on_source(phase: impl Into<String>, source: tokio_postgres::Error) -> Self {
        Error::statement(Side::Source, phase, source)
    }

    /// A statement failed on the target.
    pub(crate) fn on_target(phase: impl Into<String>, source: tokio_postgres::Error) -> Self {
        Error::statement(Side::Target, phase, source)
    }

    /// Creating or loading `o` failed on the target.
    pub(crate) fn object(o: &pgferry_catalog::Object, source: tokio_postgres::Error) -> Self {
        Error::Object {
            kind: o.kind.label(),
            object: o.display_name(),
            source,
        }
    }

    /// A table's COPY failed on `side` with the server's error.
    pub(crate) fn copy(
        side: Side,
        table: impl fmt::Display,
        source: tokio_postgres::Error,
    ) -> Self {
        Error::Copy {
            side,
            table: table.to_string(),
            message: server_message(&source),
            source: Some(source),
        }
    }

    /// A table's COPY stream was wrong on `side` (no server error).
    pub(crate) fn copy_stream(side: Side, table: impl fmt::Display, message: String) -> Self {
        Error::Copy {
            side,
            table: table.to_string(),
            message,
            source: None,
        }
    }

    /// A catalog question that failed on `side` (a failed query becomes a
    /// [`Error::Statement`] of that side).
    pub(crate) fn catalog_on(side: Side, e: CatalogError) -> Self {
        match e {
            CatalogError::Query { what, source } => Error::Statement {
                side,
                phase: format!("reading {what} from the {side}'s catalog"),
                source,
            },
            other => Error::Catalog(other),
        }
    }

    /// A worker task that did not return (panicked, aborted).
    pub(crate) fn worker(e: tokio::task::JoinError) -> Self {
        Error::Worker(e.to_string())
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
        let labels = if found.iter().any(|u| u.label) {
            ", or carry the objects without their labels with --no-security-labels"
        } else {
            ""
        };
        Err(Error::Unsupported(format!(
            "the source holds {} pgferry cannot carry, nothing was changed on the target \
             (leave them out with -n/-N/-t/-T{labels}): {}{}",
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_decide_bad_input_and_sides_are_data() {
        let e = Error::PeerLost {
            side: Side::Target,
            phase: "loading data of public.t".into(),
            message: "no answer".into(),
        };
        assert_eq!(e.kind(), ErrorKind::PeerLost);
        assert!(!e.is_bad_input());
        assert_eq!(e.side(), Some(Side::Target));
        assert_eq!(e.phase(), Some("loading data of public.t"));
        assert_eq!(
            e.to_string(),
            "target lost while loading data of public.t: no answer"
        );
        assert!(Error::Usage("x".into()).is_bad_input());
        assert!(Error::Catalog(CatalogError::NeedsRight("x".into())).is_bad_input());
        assert_eq!(
            Error::Worker("boom".into()).kind(),
            ErrorKind::Internal,
            "a panicked worker is a bug, not bad input"
        );
    }
}
