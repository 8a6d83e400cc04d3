use std::fmt;

/// Errors of the catalog reader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// A catalog query failed.
    #[error("reading {what} from the catalog: {}", server_message(.source))]
    Query {
        /// Which objects were being read.
        what: String,
        /// The driver error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A catalog row had a column that did not decode (an unexpected NULL
    /// or type).
    #[error("reading {what} from the catalog: column {column}: {message}")]
    Decode {
        /// Which objects were being read.
        what: String,
        /// The column: its index and, when known, its name.
        column: String,
        /// The driver's message.
        message: String,
    },
    /// The server is older than the oldest supported version.
    #[error("PostgreSQL {0} is not supported (pgferry reads 12 and newer)")]
    UnsupportedVersion(String),
    /// What was asked for needs a right the source role lacks (bad input:
    /// the command cannot succeed as given).
    #[error("{0}")]
    NeedsRight(String),
    /// The model could not be (de)serialized.
    #[error("catalog model: {0}")]
    Model(String),
}

impl CatalogError {
    /// The server's SQLSTATE, when the server reported the error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            CatalogError::Query { source, .. } => source.code().map(|c| c.code()),
            _ => None,
        }
    }
}

/// The server's own message (with detail and hint) or the driver's text.
pub fn server_message(e: &tokio_postgres::Error) -> String {
    struct Msg<'a>(&'a tokio_postgres::Error);
    impl fmt::Display for Msg<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0.as_db_error() {
                Some(db) => {
                    write!(f, "{}: {}", db.severity(), db.message())?;
                    if let Some(d) = db.detail() {
                        write!(f, " (DETAIL: {d})")?;
                    }
                    if let Some(h) = db.hint() {
                        write!(f, " (HINT: {h})")?;
                    }
                    write!(f, " [SQLSTATE {}]", db.code().code())
                }
                None => {
                    write!(f, "{}", self.0)?;
                    let mut src = std::error::Error::source(self.0);
                    while let Some(s) = src {
                        write!(f, ": {s}")?;
                        src = s.source();
                    }
                    Ok(())
                }
            }
        }
    }
    Msg(e).to_string()
}
