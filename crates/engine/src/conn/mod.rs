//! libpq-compatible connection settings.
//!
//! [`ConnSpec::parse`] accepts the two libpq connection string forms:
//!
//! * key=value: `host=/var/run/postgresql port=5432 dbname=app user=me password='it''s \\ secret'`
//!   (values may be single-quoted; a backslash escapes the next character, in quoted and
//!   unquoted values alike; inside quotes `''` is also accepted as a literal quote — an
//!   extension: libpq rejects such strings);
//! * URIs: `postgresql://me:pw@db.example.com:5433/app?sslmode=require` (also `postgres://`;
//!   percent-decoding, `[::1]` IPv6 hosts, comma-separated host lists, `?host=/socket/dir`).
//!
//! Whatever the string leaves unset is taken from the `PG*` environment variables and then
//! from libpq's defaults; the password may come from the password file (`~/.pgpass`).
//!
//! Nothing in this module ever prints a password: not [`ConnSpec`]'s `Display` or `Debug`,
//! and not [`ConnError`] messages (errors name the key, never the value of a password).
//! Use [`redact`] to log raw user input.
pub(crate) mod connect;
pub(crate) mod error;
mod parse;
mod pgpass;
mod redact;
pub(crate) mod spec;
#[cfg(test)]
mod tests;
pub(crate) mod tls;

pub use connect::connect;
pub use error::ConnError;
pub use redact::redact;
pub use spec::{
    ConnSpec, PasswordSource, SslMode, DEFAULT_APPLICATION_NAME, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_KEEPALIVES_IDLE, DEFAULT_KEEPALIVES_INTERVAL, DEFAULT_KEEPALIVES_RETRIES, DEFAULT_PORT,
    DEFAULT_TCP_USER_TIMEOUT,
};
