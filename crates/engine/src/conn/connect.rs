//! Opening connections (with TLS per `sslmode`, see [`crate::tls`]) and classifying why they
//! fail.
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{error::SqlState, Client, Config, NoTls, Socket};

use super::spec::{ConnSpec, SslMode};
use super::tls::{self, TlsContext};
use crate::error::{ConnectFailure, Error, Side};

/// Connects, spawning the connection task on the current runtime.
///
/// TLS follows libpq's `sslmode`: `disable` plain; `allow` plain, then TLS if the server
/// refuses; `prefer` TLS if the server supports it (falling back to plain when it does not, or
/// when the handshake fails); `require` TLS; `verify-ca` / `verify-full` TLS with the server's
/// certificate checked against `sslrootcert` (and the host name).
pub async fn connect(spec: &ConnSpec, side: Side) -> Result<Client, Error> {
    // `connect_timeout` bounds the whole start-up (TCP, TLS, authentication,
    // settings), as in libpq: a server that accepts the connection and then
    // says nothing must not hang the run. Unset (0): wait, as asked.
    let hosts = spec.config().get_hosts().len().max(1) as u32;
    let Some(limit) = spec
        .config()
        .get_connect_timeout()
        .map(|t| t.saturating_mul(hosts))
    else {
        return connect_unbounded(spec, side).await;
    };
    match tokio::time::timeout(limit, connect_unbounded(spec, side)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Connect {
            side,
            endpoint: spec.to_string(),
            failure: ConnectFailure::Unreachable,
            message: format!(
                "no answer within {} s (connect_timeout): the server or the network to it is not responding",
                limit.as_secs()
            ),
        }),
    }
}

async fn connect_unbounded(spec: &ConnSpec, side: Side) -> Result<Client, Error> {
    let endpoint = spec.to_string();
    let fail = |failure, message: String| Error::Connect {
        side,
        endpoint: endpoint.clone(),
        failure,
        message,
    };
    let tls = tls::setup(spec).map_err(|m| fail(ConnectFailure::Tls, m))?;
    let plain_config = || {
        let mut c = spec.config().clone();
        c.ssl_mode(PgSslMode::Disable);
        c
    };
    let tls_config = |mode: PgSslMode| {
        let mut c = spec.config().clone();
        c.ssl_mode(mode);
        c
    };
    let (result, ctx) = match tls {
        None => (
            open(&plain_config(), NoTls).await,
            TlsContext::plain(spec.ssl_mode()),
        ),
        Some(t) => {
            let ctx = t.ctx.clone();
            let result = match spec.ssl_mode() {
                SslMode::Allow => match open(&plain_config(), NoTls).await {
                    // The server answered but refused: try again with TLS.
                    Err(e) if e.code().is_some() => {
                        match open(&tls_config(PgSslMode::Require), t.connector).await {
                            Ok(c) => Ok(c),
                            // Report the TLS attempt only if it got as far as the server's verdict.
                            Err(e2) if e2.code().is_some() => Err(e2),
                            Err(_) => Err(e),
                        }
                    }
                    other => other,
                },
                SslMode::Prefer if t.ctx.verify == tls::Verify::None => {
                    match open(&tls_config(PgSslMode::Prefer), t.connector).await {
                        Err(e) if tls::is_tls_failure(&e) => {
                            tracing::warn!(
                                "{side}: TLS handshake failed ({}); sslmode=prefer: retrying without TLS",
                                tls::describe(&e, &ctx, &host_name(spec)).unwrap_or_default()
                            );
                            open(&plain_config(), NoTls).await
                        }
                        other => other,
                    }
                }
                _ => open(&tls_config(PgSslMode::Require), t.connector).await,
            };
            (result, ctx)
        }
    };
    result.map_err(|e| {
        if let Some(message) = tls::describe(&e, &ctx, &host_name(spec)) {
            return fail(ConnectFailure::Tls, message);
        }
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
        fail(failure, message)
    })
}

/// The host name TLS checks the certificate against (the first TCP `host`), for messages.
fn host_name(spec: &ConnSpec) -> String {
    spec.config()
        .get_hosts()
        .iter()
        .find_map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => Some(h.clone()),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(_) => None,
        })
        .unwrap_or_default()
}

/// Connects with `tls` and spawns the connection task.
async fn open<T>(config: &Config, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection closed");
        }
    });
    // The server side too notices a client that went silent (a network
    // partition), so an abandoned transaction and the sync's advisory lock
    // are released within about 30 s instead of the server's default hours.
    // (Ignored on Unix sockets; a pooler that refuses these is not fatal.)
    if let Err(e) = client
        .batch_execute(
            "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; \
             SET tcp_keepalives_count = 3; SET tcp_user_timeout = 30000",
        )
        .await
    {
        tracing::debug!(error = %e, "server-side keepalives not set");
    }
    Ok(client)
}
