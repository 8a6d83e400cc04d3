//! Opening connections and classifying why they fail.
use tokio_postgres::{error::SqlState, Client, NoTls};

use crate::conn::ConnSpec;
use crate::error::{ConnectFailure, Error};

/// Connects, spawning the connection task on the current runtime.
pub async fn connect(spec: &ConnSpec, side: &'static str) -> Result<Client, Error> {
    let endpoint = spec.to_string();
    let fail = |failure, message: String| Error::Connect {
        side,
        endpoint: endpoint.clone(),
        failure,
        message,
    };
    if spec.ssl_mode().requires_tls() {
        return Err(fail(
            ConnectFailure::Tls,
            format!(
                "sslmode={} is not supported by this build yet",
                spec.ssl_mode().as_str()
            ),
        ));
    }
    match spec.config().connect(NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "connection closed");
                }
            });
            Ok(client)
        }
        Err(e) => {
            let failure = match e.code() {
                Some(c) if *c == SqlState::INVALID_PASSWORD => ConnectFailure::Authentication,
                Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                    ConnectFailure::Authentication
                }
                Some(c) if *c == SqlState::INVALID_CATALOG_NAME => ConnectFailure::NoDatabase,
                Some(_) => ConnectFailure::Other,
                None => ConnectFailure::Unreachable,
            };
            let message = match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => {
                    let mut m = e.to_string();
                    let mut src = std::error::Error::source(&e);
                    while let Some(s) = src {
                        m.push_str(&format!(": {s}"));
                        src = s.source();
                    }
                    if failure == ConnectFailure::Unreachable {
                        m.push_str(" (is the server running and accepting connections there?)");
                    }
                    m
                }
            };
            Err(fail(failure, message))
        }
    }
}
