//! What is wrong with a connection string: errors that never contain a
//! password, and the keywords libpq knows.

/// Keywords accepted in connection strings (libpq names).
pub(super) const KNOWN_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "options",
    "application_name",
    "fallback_application_name",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslnegotiation",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "gssencmode",
];

/// Errors from parsing a connection string. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    /// The key=value string is syntactically broken.
    #[error("malformed connection string: {reason}")]
    Malformed {
        /// What is wrong (names keys and offsets, never values).
        reason: String,
    },
    /// A keyword libpq (or pgferry) does not know.
    #[error("invalid connection option \"{0}\"")]
    UnknownKey(String),
    /// A port that is not a number in 1..=65535.
    #[error("invalid port number: \"{0}\"")]
    BadPort(String),
    /// A malformed `postgresql://` URI.
    #[error("malformed connection URI: {0}")]
    BadUri(String),
    /// A value that is not valid for its (non-secret) key.
    #[error("invalid value \"{value}\" for connection option \"{key}\"")]
    InvalidValue {
        /// The keyword.
        key: String,
        /// The rejected value (never used for passwords).
        value: String,
    },
    /// A libpq option pgferry recognises but cannot honour.
    #[error("unsupported connection option \"{key}\": {reason}")]
    Unsupported {
        /// The keyword.
        key: String,
        /// Why it cannot be honoured.
        reason: String,
    },
}

pub(super) fn malformed(reason: impl Into<String>) -> ConnError {
    ConnError::Malformed {
        reason: reason.into(),
    }
}

pub(super) fn invalid(key: &str, value: &str) -> ConnError {
    ConnError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}
