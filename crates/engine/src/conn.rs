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

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{
    ChannelBinding, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs,
};

/// Default server port.
pub const DEFAULT_PORT: u16 = 5432;

/// Default `application_name` when neither the string nor `PGAPPNAME` sets one.
pub const DEFAULT_APPLICATION_NAME: &str = "pgferry";

/// Default connect timeout (per host attempt) when neither the string nor
/// `PGCONNECT_TIMEOUT` sets one. libpq's default is to wait forever.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalive defaults (libpq leaves them to the OS: two hours). A
/// silent network is noticed after about `idle + interval × retries` = 25 s
/// while pgferry waits for an answer.
pub const DEFAULT_KEEPALIVES_IDLE: Duration = Duration::from_secs(10);
/// See [`DEFAULT_KEEPALIVES_IDLE`].
pub const DEFAULT_KEEPALIVES_INTERVAL: Duration = Duration::from_secs(5);
/// See [`DEFAULT_KEEPALIVES_IDLE`].
pub const DEFAULT_KEEPALIVES_RETRIES: u32 = 3;
/// Default `tcp_user_timeout`: data sent and not acknowledged for this long
/// ends the connection (libpq: the OS default, about 15 minutes).
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Socket directories probed, in order, when no host is given.
const DEFAULT_SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/tmp"];

/// Text shown in place of a password by [`redact`].
const MASK: &str = "********";

/// Keywords accepted in connection strings (libpq names).
const KNOWN_KEYS: &[&str] = &[
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

/// Environment variables consulted for settings the string leaves unset.
const ENV_KEYS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "hostaddr"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGOPTIONS", "options"),
    ("PGAPPNAME", "application_name"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGSSLNEGOTIATION", "sslnegotiation"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    ("PGCHANNELBINDING", "channel_binding"),
    ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
    ("PGGSSENCMODE", "gssencmode"),
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

fn malformed(reason: impl Into<String>) -> ConnError {
    ConnError::Malformed {
        reason: reason.into(),
    }
}

/// libpq `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Try without TLS first, then with TLS.
    Allow,
    /// Try TLS first, then without (libpq's default).
    #[default]
    Prefer,
    /// Require TLS, without verifying the server certificate.
    Require,
    /// Require TLS and verify the server certificate chain.
    VerifyCa,
    /// Require TLS, verify the chain and that the host name matches the certificate.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling (`"verify-full"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether a connection without TLS is unacceptable.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }

    /// The closest mode `tokio_postgres` understands (it only knows disable/prefer/require;
    /// certificate verification is up to the TLS connector).
    pub fn to_tokio(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

impl FromStr for SslMode {
    type Err = ConnError;

    fn from_str(s: &str) -> Result<SslMode, ConnError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err(invalid("sslmode", s)),
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn invalid(key: &str, value: &str) -> ConnError {
    ConnError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// Where the resolved password came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password (the server may not ask for one).
    None,
    /// The connection string or `PGPASSWORD`.
    Explicit,
    /// The password file (`~/.pgpass` or `PGPASSFILE`/`passfile`).
    PassFile,
}

/// A parsed, fully resolved connection target. Never prints the password.
#[derive(Clone)]
pub struct ConnSpec {
    /// Everything except dbname and password.
    base: tokio_postgres::Config,
    /// `base` + dbname + password.
    config: tokio_postgres::Config,
    dbname: String,
    user: String,
    hosts: Vec<String>,
    ports: Vec<u16>,
    password: Option<String>,
    password_source: PasswordSource,
    passfile: Option<PathBuf>,
    application_name: String,
    ssl_mode: SslMode,
    ssl_root_cert: Option<PathBuf>,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
}

impl ConnSpec {
    /// Parses `s` (key=value or URI; empty means "everything from the environment"), filling
    /// gaps from the real process environment, libpq defaults and the password file
    /// (`PGPASSFILE`, else `$HOME/.pgpass`).
    pub fn parse(s: &str) -> Result<ConnSpec, ConnError> {
        let env = |k: &str| std::env::var(k).ok();
        let default_passfile = default_passfile(&env);
        ConnSpec::parse_with(s, &env, default_passfile.as_deref())
    }

    /// Like [`ConnSpec::parse`] with an explicit environment lookup and default password file
    /// (`None`: no password file unless the string's `passfile` or the env's `PGPASSFILE`
    /// names one; those take precedence over `pgpass_path`).
    pub fn parse_with(
        s: &str,
        env: &dyn Fn(&str) -> Option<String>,
        pgpass_path: Option<&Path>,
    ) -> Result<ConnSpec, ConnError> {
        resolve(s, env, pgpass_path, &|p: &Path| p.exists())
    }

    /// The `tokio_postgres` configuration to connect with (TLS mode mapped by
    /// [`SslMode::to_tokio`]).
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The `application_name` sent to the server.
    pub fn application_name(&self) -> &str {
        &self.application_name
    }

    /// `host:port` (comma-separated for host lists), e.g. `127.0.0.1:5432`,
    /// `[::1]:5432` or `/var/run/postgresql:5432`.
    pub fn host_display(&self) -> String {
        let mut out = Vec::with_capacity(self.hosts.len());
        for (i, h) in self.hosts.iter().enumerate() {
            let port = if self.ports.len() == 1 {
                self.ports[0]
            } else {
                self.ports.get(i).copied().unwrap_or(DEFAULT_PORT)
            };
            if h.contains(':') && !h.starts_with('/') {
                out.push(format!("[{h}]:{port}"));
            } else {
                out.push(format!("{h}:{port}"));
            }
        }
        out.join(",")
    }

    /// Whether the target is a Unix-domain socket directory (first host).
    pub fn is_unix_socket(&self) -> bool {
        self.hosts.first().is_some_and(|h| h.starts_with('/'))
    }

    /// The requested TLS mode (libpq semantics).
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// `sslrootcert`: CA certificates to verify the server with.
    pub fn ssl_root_cert(&self) -> Option<&Path> {
        self.ssl_root_cert.as_deref()
    }

    /// `sslcert`: client certificate.
    pub fn ssl_cert(&self) -> Option<&Path> {
        self.ssl_cert.as_deref()
    }

    /// `sslkey`: client certificate's private key.
    pub fn ssl_key(&self) -> Option<&Path> {
        self.ssl_key.as_deref()
    }

    /// Whether a password will be sent if the server asks for one.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Where the password came from.
    pub fn password_source(&self) -> PasswordSource {
        self.password_source
    }

    /// The same server and settings, another database. A password that came from the
    /// password file is looked up again for the new database.
    pub fn with_dbname(&self, db: &str) -> ConnSpec {
        let mut out = self.clone();
        out.dbname = db.to_string();
        if self.password_source != PasswordSource::Explicit {
            let found = self
                .passfile
                .as_deref()
                .and_then(|pf| out.pgpass_lookup(pf));
            out.password_source = if found.is_some() {
                PasswordSource::PassFile
            } else {
                PasswordSource::None
            };
            out.password = found;
        }
        out.rebuild();
        out
    }

    /// The same target with this password (from a config file's
    /// `password_env`/`password_file`), replacing any other source.
    pub fn with_password(&self, password: &str) -> ConnSpec {
        let mut out = self.clone();
        out.password = Some(password.to_string());
        out.password_source = PasswordSource::Explicit;
        out.rebuild();
        out
    }

    fn rebuild(&mut self) {
        let mut c = self.base.clone();
        c.dbname(self.dbname.clone());
        if let Some(pw) = &self.password {
            c.password(pw.as_bytes());
        }
        self.config = c;
    }

    fn port_for(&self, i: usize) -> u16 {
        if self.ports.len() == 1 {
            self.ports[0]
        } else {
            self.ports.get(i).copied().unwrap_or(DEFAULT_PORT)
        }
    }

    fn pgpass_lookup(&self, passfile: &Path) -> Option<String> {
        let entries = read_pgpass(passfile)?;
        self.hosts.iter().enumerate().find_map(|(i, h)| {
            let host = if h.is_empty() || h.starts_with('/') {
                "localhost"
            } else {
                h.as_str()
            };
            let port = self.port_for(i).to_string();
            pgpass_match(&entries, host, &port, &self.dbname, &self.user)
        })
    }
}

impl FromStr for ConnSpec {
    type Err = ConnError;

    fn from_str(s: &str) -> Result<ConnSpec, ConnError> {
        ConnSpec::parse(s)
    }
}

impl fmt::Display for ConnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}/{}", self.user, self.host_display(), self.dbname)
    }
}

impl fmt::Debug for ConnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnSpec")
            .field("host", &self.host_display())
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field(
                "password",
                &if self.password.is_some() {
                    "<redacted>"
                } else {
                    "<none>"
                },
            )
            .field("password_source", &self.password_source)
            .field("application_name", &self.application_name)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .finish_non_exhaustive()
    }
}

/// The default password file: `PGPASSFILE` is handled as a setting, so this is
/// `$HOME/.pgpass` (`%APPDATA%\postgresql\pgpass.conf` on Windows).
fn default_passfile(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if cfg!(windows) {
        env("APPDATA")
            .filter(|s| !s.is_empty())
            .map(|d| Path::new(&d).join("postgresql").join("pgpass.conf"))
    } else {
        env("HOME")
            .filter(|s| !s.is_empty())
            .map(|h| Path::new(&h).join(".pgpass"))
    }
}

fn is_uri(s: &str) -> bool {
    uri_rest(s).is_some()
}

fn uri_rest(s: &str) -> Option<&str> {
    s.strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
}

/// Settings after parsing: last occurrence wins; empty values count as unset.
#[derive(Default)]
struct Settings(Vec<(String, String)>);

impl Settings {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

fn resolve(
    s: &str,
    env: &dyn Fn(&str) -> Option<String>,
    pgpass_path: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<ConnSpec, ConnError> {
    let trimmed = s.trim();
    let pairs = if let Some(rest) = uri_rest(trimmed) {
        parse_uri(rest)?
    } else {
        parse_kv(s)?
    };
    for (k, _) in &pairs {
        if !KNOWN_KEYS.contains(&k.as_str()) {
            return Err(ConnError::UnknownKey(k.clone()));
        }
    }
    let mut settings = Settings(pairs);
    for (var, key) in ENV_KEYS {
        if settings.get(key).is_none() {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                settings.0.push((key.to_string(), v));
            }
        }
    }

    let mut base = tokio_postgres::Config::new();

    // Ports.
    let mut ports = Vec::new();
    if let Some(p) = settings.get("port") {
        for part in p.split(',') {
            ports.push(parse_port(part.trim())?);
        }
    }
    if ports.is_empty() {
        ports.push(DEFAULT_PORT);
    }

    // Hosts and hostaddrs.
    let mut hostaddrs = Vec::new();
    if let Some(h) = settings.get("hostaddr") {
        for part in h.split(',') {
            let part = part.trim();
            let addr: IpAddr = part.parse().map_err(|_| invalid("hostaddr", part))?;
            hostaddrs.push(addr);
        }
    }
    let mut hosts: Vec<String> = Vec::new();
    match settings.get("host") {
        Some(h) => {
            for (i, part) in h.split(',').enumerate() {
                let part = part.trim();
                if part.is_empty() && hostaddrs.is_empty() {
                    let port = ports.get(i).or(ports.first()).copied();
                    hosts.push(default_host(port.unwrap_or(DEFAULT_PORT), exists));
                } else {
                    hosts.push(part.to_string());
                }
            }
        }
        None if hostaddrs.is_empty() => hosts.push(default_host(ports[0], exists)),
        None => {}
    }
    if !hostaddrs.is_empty() && !hosts.is_empty() && hosts.len() != hostaddrs.len() {
        return Err(malformed(format!(
            "could not match {} host names to {} hostaddr values",
            hosts.len(),
            hostaddrs.len()
        )));
    }
    let nhosts = hosts.len().max(hostaddrs.len());
    if ports.len() != 1 && ports.len() != nhosts {
        return Err(malformed(format!(
            "could not match {} port numbers to {} hosts",
            ports.len(),
            nhosts
        )));
    }
    for h in &hosts {
        base.host(h.as_str());
    }
    for a in &hostaddrs {
        base.hostaddr(*a);
    }
    for p in &ports {
        base.port(*p);
    }
    // What the user sees and what pgpass matches: host names, else the addresses.
    let display_hosts: Vec<String> = if hosts.is_empty() {
        hostaddrs.iter().map(|a| a.to_string()).collect()
    } else {
        hosts
    };

    let user = settings
        .get("user")
        .map(str::to_string)
        .or_else(|| env("USER").filter(|s| !s.is_empty()))
        .or_else(|| env("LOGNAME").filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "postgres".to_string());
    base.user(user.clone());
    let dbname = settings
        .get("dbname")
        .map_or_else(|| user.clone(), str::to_string);

    let application_name = settings
        .get("application_name")
        .or_else(|| settings.get("fallback_application_name"))
        .unwrap_or(DEFAULT_APPLICATION_NAME)
        .to_string();
    base.application_name(application_name.clone());
    if let Some(o) = settings.get("options") {
        base.options(o);
    }

    let ssl_mode = match settings.get("sslmode") {
        Some(m) => m.parse::<SslMode>()?,
        None => SslMode::Prefer,
    };
    base.ssl_mode(ssl_mode.to_tokio());
    if let Some(v) = settings.get("sslnegotiation") {
        base.ssl_negotiation(match v {
            "postgres" => SslNegotiation::Postgres,
            "direct" => SslNegotiation::Direct,
            _ => return Err(invalid("sslnegotiation", v)),
        });
    }

    match settings.get("connect_timeout") {
        Some(v) => {
            let secs: i64 = v
                .trim()
                .parse()
                .map_err(|_| invalid("connect_timeout", v))?;
            // libpq: zero or negative waits forever; 1 is raised to 2.
            if secs > 0 {
                base.connect_timeout(Duration::from_secs(secs.max(2).unsigned_abs()));
            }
        }
        None => {
            base.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
    }
    if let Some(v) = settings.get("tcp_user_timeout") {
        let ms: i64 = v
            .trim()
            .parse()
            .map_err(|_| invalid("tcp_user_timeout", v))?;
        if ms > 0 {
            base.tcp_user_timeout(Duration::from_millis(ms.unsigned_abs()));
        }
    } else {
        base.tcp_user_timeout(DEFAULT_TCP_USER_TIMEOUT);
    }
    if let Some(v) = settings.get("keepalives") {
        let n: i64 = v.trim().parse().map_err(|_| invalid("keepalives", v))?;
        base.keepalives(n != 0);
    }
    if let Some(v) = settings.get("keepalives_idle") {
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| invalid("keepalives_idle", v))?;
        if n > 0 {
            base.keepalives_idle(Duration::from_secs(n.unsigned_abs()));
        }
    } else {
        base.keepalives_idle(DEFAULT_KEEPALIVES_IDLE);
    }
    if let Some(v) = settings.get("keepalives_interval") {
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| invalid("keepalives_interval", v))?;
        if n > 0 {
            base.keepalives_interval(Duration::from_secs(n.unsigned_abs()));
        }
    } else {
        base.keepalives_interval(DEFAULT_KEEPALIVES_INTERVAL);
    }
    if let Some(v) = settings.get("keepalives_retries") {
        let n: u32 = v
            .trim()
            .parse()
            .map_err(|_| invalid("keepalives_retries", v))?;
        base.keepalives_retries(n);
    } else {
        base.keepalives_retries(DEFAULT_KEEPALIVES_RETRIES);
    }
    if let Some(v) = settings.get("target_session_attrs") {
        base.target_session_attrs(match v {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            _ => return Err(invalid("target_session_attrs", v)),
        });
    }
    if let Some(v) = settings.get("channel_binding") {
        base.channel_binding(match v {
            "disable" => ChannelBinding::Disable,
            "prefer" => ChannelBinding::Prefer,
            "require" => ChannelBinding::Require,
            _ => return Err(invalid("channel_binding", v)),
        });
    }
    if let Some(v) = settings.get("load_balance_hosts") {
        base.load_balance_hosts(match v {
            "disable" => LoadBalanceHosts::Disable,
            "random" => LoadBalanceHosts::Random,
            _ => return Err(invalid("load_balance_hosts", v)),
        });
    }
    match settings.get("gssencmode") {
        None | Some("disable") | Some("prefer") => {}
        Some("require") => {
            return Err(ConnError::Unsupported {
                key: "gssencmode".into(),
                reason: "GSSAPI encryption is not supported".into(),
            })
        }
        Some(v) => return Err(invalid("gssencmode", v)),
    }

    let passfile = settings
        .get("passfile")
        .map(PathBuf::from)
        .or_else(|| pgpass_path.map(Path::to_path_buf));

    let mut spec = ConnSpec {
        config: base.clone(),
        base,
        dbname,
        user,
        hosts: display_hosts,
        ports,
        password: None,
        password_source: PasswordSource::None,
        passfile,
        application_name,
        ssl_mode,
        ssl_root_cert: settings.get("sslrootcert").map(PathBuf::from),
        ssl_cert: settings.get("sslcert").map(PathBuf::from),
        ssl_key: settings.get("sslkey").map(PathBuf::from),
    };
    if let Some(pw) = settings.get("password") {
        spec.password = Some(pw.to_string());
        spec.password_source = PasswordSource::Explicit;
    } else if let Some(pf) = spec.passfile.clone() {
        if let Some(pw) = spec.pgpass_lookup(&pf) {
            spec.password = Some(pw);
            spec.password_source = PasswordSource::PassFile;
        }
    }
    spec.rebuild();
    Ok(spec)
}

fn parse_port(s: &str) -> Result<u16, ConnError> {
    if s.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(ConnError::BadPort(s.to_string())),
    }
}

/// libpq's default host: a socket directory that holds the server's socket for `port`
/// (`/var/run/postgresql`, then `/tmp`), else `localhost`.
fn default_host(port: u16, exists: &dyn Fn(&Path) -> bool) -> String {
    if cfg!(unix) {
        for dir in DEFAULT_SOCKET_DIRS {
            if exists(&Path::new(dir).join(format!(".s.PGSQL.{port}"))) {
                return (*dir).to_string();
            }
        }
    }
    "localhost".to_string()
}

// ---------------------------------------------------------------------------------------
// key=value form

/// Splits a libpq key=value string into pairs (in order; duplicates kept).
fn parse_kv(s: &str) -> Result<Vec<(String, String)>, ConnError> {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut i = 0;
    let mut pairs = Vec::new();
    loop {
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n {
            break;
        }
        let start = i;
        while i < n && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if key.is_empty() {
            return Err(malformed(format!(
                "missing keyword before \"=\" at offset {start}"
            )));
        }
        if i >= n || chars[i] != '=' {
            // Only echo the word if it is a keyword: a stray word may be part of a password.
            return Err(malformed(if KNOWN_KEYS.contains(&key.as_str()) {
                format!("missing \"=\" after \"{key}\"")
            } else {
                format!("expected keyword=value at offset {start}")
            }));
        }
        i += 1;
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < n && chars[i] == '\'' {
            i += 1;
            loop {
                if i >= n {
                    return Err(malformed(format!(
                        "unterminated quoted value for \"{key}\""
                    )));
                }
                match chars[i] {
                    '\\' => {
                        i += 1;
                        if i >= n {
                            return Err(malformed(format!(
                                "unterminated quoted value for \"{key}\""
                            )));
                        }
                        value.push(chars[i]);
                        i += 1;
                    }
                    '\'' if i + 1 < n && chars[i + 1] == '\'' => {
                        value.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < n && !chars[i].is_whitespace() {
                if chars[i] == '\\' {
                    i += 1;
                    if i < n {
                        value.push(chars[i]);
                        i += 1;
                    }
                } else {
                    value.push(chars[i]);
                    i += 1;
                }
            }
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

// ---------------------------------------------------------------------------------------
// URI form

/// Parses what follows `postgresql://`. Deviation from libpq: the user info ends at the
/// *last* `@` before the first `/`, so unencoded `@` in passwords works.
fn parse_uri(rest: &str) -> Result<Vec<(String, String)>, ConnError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let slash = rest.find('/').unwrap_or(rest.len());
    let mut rest = rest;
    if let Some(at) = rest[..slash].rfind('@') {
        let userinfo = &rest[..at];
        let (user, password) = match userinfo.find(':') {
            Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
            None => (userinfo, None),
        };
        let user = percent_decode(user, "user name")?;
        if !user.is_empty() {
            pairs.push(("user".into(), user));
        }
        if let Some(pw) = password {
            let pw = percent_decode(pw, "password")?;
            if !pw.is_empty() {
                pairs.push(("password".into(), pw));
            }
        }
        rest = &rest[at + 1..];
    }

    // Host list.
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    let bytes = rest.as_bytes();
    let mut i = 0;
    loop {
        let host;
        if bytes.get(i) == Some(&b'[') {
            let close = rest[i..]
                .find(']')
                .ok_or_else(|| ConnError::BadUri("missing \"]\" in IPv6 host address".into()))?
                + i;
            host = rest[i + 1..close].to_string();
            if host.is_empty() {
                return Err(ConnError::BadUri("empty IPv6 host address".into()));
            }
            i = close + 1;
            if !matches!(bytes.get(i), None | Some(b':' | b',' | b'/' | b'?')) {
                return Err(ConnError::BadUri(
                    "unexpected character after IPv6 host address".into(),
                ));
            }
        } else {
            let start = i;
            while i < bytes.len() && !matches!(bytes[i], b':' | b',' | b'/' | b'?') {
                i += 1;
            }
            host = percent_decode(&rest[start..i], "host")?;
        }
        let mut port = String::new();
        if bytes.get(i) == Some(&b':') {
            i += 1;
            let start = i;
            while i < bytes.len() && !matches!(bytes[i], b',' | b'/' | b'?') {
                i += 1;
            }
            port = percent_decode(&rest[start..i], "port")?;
            // Not echoed: a malformed URI may put part of a password here.
            if !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConnError::BadUri("invalid port number in host list".into()));
            }
        }
        hosts.push(host);
        ports.push(port);
        if bytes.get(i) == Some(&b',') {
            i += 1;
            continue;
        }
        break;
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        pairs.push(("host".into(), hosts.join(",")));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        pairs.push(("port".into(), ports.join(",")));
    }

    let mut rest = &rest[i..];
    if let Some(r) = rest.strip_prefix('/') {
        let end = r.find('?').unwrap_or(r.len());
        let db = percent_decode(&r[..end], "database name")?;
        if !db.is_empty() {
            pairs.push(("dbname".into(), db));
        }
        rest = &r[end..];
    }
    if let Some(q) = rest.strip_prefix('?') {
        for param in q.split('&') {
            if param.is_empty() {
                continue;
            }
            let Some(eq) = param.find('=') else {
                return Err(ConnError::BadUri("missing \"=\" in query parameter".into()));
            };
            let key = percent_decode(&param[..eq], "query parameter name")?;
            let value = percent_decode(&param[eq + 1..], &format!("value of \"{key}\""))?;
            if key == "ssl" {
                // JDBC-style, accepted by libpq.
                if value == "true" {
                    pairs.push(("sslmode".into(), "require".into()));
                    continue;
                }
                return Err(invalid("ssl", &value));
            }
            pairs.push((key, value));
        }
    } else if !rest.is_empty() {
        return Err(ConnError::BadUri(
            "unexpected text after the host list".into(),
        ));
    }
    Ok(pairs)
}

/// Decodes `%XX` escapes; `what` names the URI component in errors (never its value).
fn percent_decode(s: &str, what: &str) -> Result<String, ConnError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(ConnError::BadUri(format!(
                    "invalid percent-encoded token in {what}"
                )));
            };
            let byte = u8::try_from(hi * 16 + lo).unwrap_or(0);
            if byte == 0 {
                return Err(ConnError::BadUri(format!(
                    "forbidden value %00 in percent-encoded {what}"
                )));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ConnError::BadUri(format!("percent-encoded {what} is not valid UTF-8")))
}

// ---------------------------------------------------------------------------------------
// Password file

/// One `hostname:port:database:username:password` line; `None` fields are `*`.
struct PgpassEntry {
    fields: [Option<String>; 4],
    password: String,
}

/// Reads a password file, ignoring it (with a warning) when it is not a regular file or is
/// group/world accessible, like libpq. A missing file is silently ignored.
fn read_pgpass(path: &Path) -> Option<Vec<PgpassEntry>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %path.display(), error = %e, "cannot read password file");
            }
            return None;
        }
    };
    if !meta.is_file() {
        tracing::warn!(path = %path.display(), "password file is not a plain file; ignored");
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "password file has group or world access; permissions should be u=rw (0600) or less; ignored"
            );
            return None;
        }
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read password file");
            return None;
        }
    };
    Some(parse_pgpass(&text))
}

fn parse_pgpass(text: &str) -> Vec<PgpassEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Split on unescaped ':' into 4 fields + password, de-escaping as we go.
        let mut parts: Vec<(String, bool)> = Vec::new(); // (text, was exactly "*")
        let mut cur = String::new();
        let mut raw_star = true;
        let mut raw_len = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == ':' && parts.len() < 4 {
                parts.push((std::mem::take(&mut cur), raw_star && raw_len == 1));
                raw_star = true;
                raw_len = 0;
                continue;
            }
            if c == ':' {
                // Unescaped ':' ends the password (libpq).
                break;
            }
            raw_len += 1;
            if c == '\\' {
                raw_star = false;
                if let Some(next) = chars.next() {
                    cur.push(next);
                } else {
                    cur.push('\\');
                }
            } else {
                if c != '*' {
                    raw_star = false;
                }
                cur.push(c);
            }
        }
        if parts.len() < 4 {
            continue; // malformed line
        }
        let fields = [0, 1, 2, 3].map(|i| {
            let (text, star) = &parts[i];
            if *star {
                None
            } else {
                Some(text.clone())
            }
        });
        out.push(PgpassEntry {
            fields,
            password: cur,
        });
    }
    out
}

fn pgpass_match(
    entries: &[PgpassEntry],
    host: &str,
    port: &str,
    db: &str,
    user: &str,
) -> Option<String> {
    let want = [host, port, db, user];
    entries
        .iter()
        .find(|e| {
            e.fields
                .iter()
                .zip(want)
                .all(|(f, w)| f.as_deref().is_none_or(|f| f == w))
        })
        .map(|e| e.password.clone())
}

// ---------------------------------------------------------------------------------------
// Redaction

/// Masks passwords in a raw connection string for logging: `password=...` values
/// (quoted or not, in key=value strings and URI query strings) and the `:pass` of
/// `user:pass@` in URIs. Tolerates malformed input.
pub fn redact(s: &str) -> String {
    let lead = s.len() - s.trim_start().len();
    if is_uri(&s[lead..]) {
        redact_uri(s)
    } else {
        redact_kv(s)
    }
}

fn redact_uri(s: &str) -> String {
    let Some(scheme_end) = s.find("://").map(|p| p + 3) else {
        return s.to_string();
    };
    let qpos = s[scheme_end..]
        .find('?')
        .map_or(s.len(), |p| p + scheme_end);
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..scheme_end]);
    let pre = &s[scheme_end..qpos];
    // The last '@' anywhere before the query: over-masks rather than leaks.
    match pre.rfind('@') {
        Some(at) => {
            let userinfo = &pre[..at];
            match userinfo.find(':') {
                Some(c) => {
                    out.push_str(&userinfo[..=c]);
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&pre[at..]);
        }
        None => out.push_str(pre),
    }
    if qpos < s.len() {
        out.push('?');
        let params: Vec<String> = s[qpos + 1..]
            .split('&')
            .map(|p| match p.find('=') {
                Some(eq) if is_password_key(&p[..eq]) => format!("{}={MASK}", &p[..eq]),
                _ => p.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

fn is_password_key(k: &str) -> bool {
    let k = k.trim();
    k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("%70assword")
}

fn redact_kv(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < n {
        // Copy whitespace.
        while i < n && chars[i].is_whitespace() {
            out.push(chars[i]);
            i += 1;
        }
        if i >= n {
            break;
        }
        let kstart = i;
        while i < n && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[kstart..i].iter().collect();
        let mut j = i;
        while j < n && chars[j].is_whitespace() {
            j += 1;
        }
        if j >= n || chars[j] != '=' {
            // Bare word: copy it and carry on.
            out.push_str(&key);
            continue;
        }
        j += 1;
        while j < n && chars[j].is_whitespace() {
            j += 1;
        }
        out.extend(&chars[kstart..j]);
        let vstart = j;
        if j < n && chars[j] == '\'' {
            j += 1;
            while j < n {
                match chars[j] {
                    '\\' => j += 2,
                    '\'' if j + 1 < n && chars[j + 1] == '\'' => j += 2,
                    '\'' => {
                        j += 1;
                        break;
                    }
                    _ => j += 1,
                }
            }
        } else {
            while j < n && !chars[j].is_whitespace() {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
        }
        let j = j.min(n);
        let raw: String = chars[vstart..j].iter().collect();
        if key.eq_ignore_ascii_case("password") {
            out.push_str(MASK);
        } else if raw.contains("://") {
            // e.g. dbname=postgresql://user:pass@host/db
            let lead: String = raw.chars().take_while(|c| *c == '\'').collect();
            out.push_str(&lead);
            out.push_str(&redact_uri(&raw[lead.len()..]));
        } else {
            out.push_str(&raw);
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Write;
    use tokio_postgres::config::Host;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn no_sockets(_: &Path) -> bool {
        false
    }

    fn parse_env(s: &str, vars: &[(&str, &str)]) -> Result<ConnSpec, ConnError> {
        let env = env_of(vars);
        resolve(s, &env, None, &no_sockets)
    }

    fn parse0(s: &str) -> Result<ConnSpec, ConnError> {
        parse_env(s, &[("USER", "alice")])
    }

    fn password_of(c: &ConnSpec) -> Option<String> {
        c.config()
            .get_password()
            .map(|p| String::from_utf8(p.to_vec()).unwrap())
    }

    fn write_pgpass(content: &str, mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f.flush().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        f
    }

    // --- key=value -------------------------------------------------------------------

    #[test]
    fn kv_basic() {
        let c = parse0("host=/var/run/postgresql port=5433 dbname=app user=me").unwrap();
        assert_eq!(c.dbname(), "app");
        assert_eq!(c.user(), "me");
        assert_eq!(c.host_display(), "/var/run/postgresql:5433");
        assert!(c.is_unix_socket());
        assert_eq!(c.to_string(), "me@/var/run/postgresql:5433/app");
        assert_eq!(c.config().get_ports(), &[5433]);
        assert_eq!(c.config().get_user(), Some("me"));
        assert_eq!(c.config().get_dbname(), Some("app"));
        #[cfg(unix)]
        assert_eq!(
            c.config().get_hosts(),
            &[Host::Unix(PathBuf::from("/var/run/postgresql"))]
        );
    }

    #[test]
    fn kv_quoting_and_escapes() {
        let c = parse0(r"password='it''s \\ secret' user = 'me too'  dbname=a\ b").unwrap();
        assert_eq!(password_of(&c).as_deref(), Some(r"it's \ secret"));
        assert_eq!(c.user(), "me too");
        assert_eq!(c.dbname(), "a b");
        let c = parse0(r"password='a\'b' dbname=''").unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("a'b"));
        // empty dbname counts as unset → defaults to the user
        assert_eq!(c.dbname(), "alice");
        let c = parse0("password=x=y dbname='q'").unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("x=y"));
        assert_eq!(c.dbname(), "q");
    }

    #[test]
    fn kv_last_wins() {
        let c = parse0("dbname=a dbname=b").unwrap();
        assert_eq!(c.dbname(), "b");
    }

    #[test]
    fn kv_errors_name_the_key_not_the_value() {
        let e = parse0("user=me password='s3cr3t-value").unwrap_err();
        let msg = e.to_string();
        assert_eq!(
            msg,
            "malformed connection string: unterminated quoted value for \"password\""
        );
        assert!(!msg.contains("s3cr3t"));

        let e = parse0(r"password='s3cr3t\").unwrap_err();
        assert!(e.to_string().contains("\"password\""));
        assert!(!e.to_string().contains("s3cr3t"));

        // An unquoted password with a space: the tail is a bare word, not echoed.
        let e = parse0("password=s3cr3t tail-of-s3cr3t").unwrap_err();
        assert!(matches!(e, ConnError::Malformed { .. }));
        assert!(!e.to_string().contains("s3cr3t"), "{e}");

        let e = parse0("host localhost").unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed connection string: missing \"=\" after \"host\""
        );
        let e = parse0("=x").unwrap_err();
        assert!(e.to_string().contains("missing keyword"), "{e}");
    }

    #[test]
    fn unknown_key() {
        let e = parse0("host=x colour=blue").unwrap_err();
        assert!(matches!(&e, ConnError::UnknownKey(k) if k == "colour"));
        assert_eq!(e.to_string(), "invalid connection option \"colour\"");
        let e = parse0("postgresql://h/db?frobnicate=1").unwrap_err();
        assert!(matches!(&e, ConnError::UnknownKey(k) if k == "frobnicate"));
    }

    #[test]
    fn bad_values() {
        assert!(matches!(
            parse0("port=abc").unwrap_err(),
            ConnError::BadPort(p) if p == "abc"
        ));
        assert!(matches!(
            parse0("port=0").unwrap_err(),
            ConnError::BadPort(_)
        ));
        assert!(matches!(
            parse0("port=70000").unwrap_err(),
            ConnError::BadPort(_)
        ));
        let e = parse0("sslmode=sometimes").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"sometimes\" for connection option \"sslmode\""
        );
        assert!(parse0("connect_timeout=soon").is_err());
        assert!(parse0("hostaddr=not-an-ip").is_err());
        assert!(parse0("target_session_attrs=whatever").is_err());
        assert!(matches!(
            parse0("gssencmode=require").unwrap_err(),
            ConnError::Unsupported { .. }
        ));
        assert!(parse0("gssencmode=disable").is_ok());
        assert!(matches!(
            parse0("host=a,b,c port=1,2").unwrap_err(),
            ConnError::Malformed { .. }
        ));
    }

    #[test]
    fn empty_string_uses_env_and_defaults() {
        let c = parse_env("", &[("USER", "bob")]).unwrap();
        assert_eq!(c.user(), "bob");
        assert_eq!(c.dbname(), "bob");
        assert_eq!(c.host_display(), "localhost:5432");
        assert_eq!(c.application_name(), "pgferry");
        assert_eq!(c.ssl_mode(), SslMode::Prefer);
        assert_eq!(
            c.config().get_connect_timeout(),
            Some(&Duration::from_secs(10))
        );
        assert!(!c.has_password());
        assert_eq!(c.password_source(), PasswordSource::None);

        let c = parse_env("   ", &[("LOGNAME", "carol")]).unwrap();
        assert_eq!(c.user(), "carol");
        let c = parse_env("", &[]).unwrap();
        assert_eq!(c.user(), "postgres");
        assert_eq!(c.dbname(), "postgres");
    }

    #[test]
    fn default_host_probes_socket_dirs() {
        let env = env_of(&[]);
        let only_tmp = |p: &Path| p == Path::new("/tmp/.s.PGSQL.5433");
        let c = resolve("port=5433", &env, None, &only_tmp).unwrap();
        if cfg!(unix) {
            assert_eq!(c.host_display(), "/tmp:5433");
        }
        let both = |p: &Path| p.to_string_lossy().ends_with(".s.PGSQL.5432");
        let c = resolve("", &env, None, &both).unwrap();
        if cfg!(unix) {
            assert_eq!(c.host_display(), "/var/run/postgresql:5432");
        }
        // The real probe gives one of the three.
        let c = ConnSpec::parse_with("", &env, None).unwrap();
        let h = c.host_display();
        assert!(
            ["/var/run/postgresql:5432", "/tmp:5432", "localhost:5432"].contains(&h.as_str()),
            "{h}"
        );
    }

    #[test]
    fn env_fills_gaps_and_string_wins() {
        let vars = [
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpw"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", "/etc/ca.pem"),
            ("PGAPPNAME", "envapp"),
            ("PGCONNECT_TIMEOUT", "30"),
            ("USER", "osuser"),
        ];
        let c = parse_env("", &vars).unwrap();
        assert_eq!(c.to_string(), "envuser@envhost:6000/envdb");
        assert_eq!(password_of(&c).as_deref(), Some("envpw"));
        assert_eq!(c.password_source(), PasswordSource::Explicit);
        assert_eq!(c.ssl_mode(), SslMode::VerifyFull);
        assert_eq!(
            c.config().get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        assert_eq!(c.ssl_root_cert(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(c.application_name(), "envapp");
        assert_eq!(
            c.config().get_connect_timeout(),
            Some(&Duration::from_secs(30))
        );

        let c = parse_env(
            "host=strhost port=7000 user=struser password=strpw dbname=strdb sslmode=disable \
             application_name=strapp connect_timeout=0",
            &vars,
        )
        .unwrap();
        assert_eq!(c.to_string(), "struser@strhost:7000/strdb");
        assert_eq!(password_of(&c).as_deref(), Some("strpw"));
        assert_eq!(c.ssl_mode(), SslMode::Disable);
        assert_eq!(c.application_name(), "strapp");
        assert_eq!(c.config().get_connect_timeout(), None);

        let c = parse_env("postgresql://u@h/d", &vars).unwrap();
        assert_eq!(c.to_string(), "u@h:6000/d");
        assert_eq!(password_of(&c).as_deref(), Some("envpw"));
    }

    #[test]
    fn ssl_settings() {
        let c =
            parse0("sslmode=verify-ca sslrootcert=/ca.pem sslcert=/c.pem sslkey=/k.pem host=db")
                .unwrap();
        assert_eq!(c.ssl_mode(), SslMode::VerifyCa);
        assert!(c.ssl_mode().requires_tls());
        assert_eq!(c.ssl_root_cert(), Some(Path::new("/ca.pem")));
        assert_eq!(c.ssl_cert(), Some(Path::new("/c.pem")));
        assert_eq!(c.ssl_key(), Some(Path::new("/k.pem")));
        for (m, t) in [
            ("disable", tokio_postgres::config::SslMode::Disable),
            ("allow", tokio_postgres::config::SslMode::Prefer),
            ("prefer", tokio_postgres::config::SslMode::Prefer),
            ("require", tokio_postgres::config::SslMode::Require),
            ("verify-full", tokio_postgres::config::SslMode::Require),
        ] {
            let c = parse0(&format!("sslmode={m}")).unwrap();
            assert_eq!(c.config().get_ssl_mode(), t);
            assert_eq!(c.ssl_mode().to_string(), m);
        }
    }

    #[test]
    fn misc_options() {
        let c = parse0(
            "connect_timeout=1 keepalives=0 options='-c search_path=x' \
             fallback_application_name=fb target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            c.config().get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
        assert!(!c.config().get_keepalives());
        assert_eq!(c.config().get_options(), Some("-c search_path=x"));
        assert_eq!(c.application_name(), "fb");
        assert_eq!(c.config().get_application_name(), Some("fb"));
        assert_eq!(
            c.config().get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
    }

    #[test]
    fn hostaddr_and_host_lists() {
        let c = parse0("hostaddr=127.0.0.1 port=5440").unwrap();
        assert_eq!(c.host_display(), "127.0.0.1:5440");
        assert!(c.config().get_hosts().is_empty());
        assert_eq!(c.config().get_hostaddrs().len(), 1);
        let c = parse0("host=a,b port=1,2").unwrap();
        assert_eq!(c.host_display(), "a:1,b:2");
        let c = parse0("host=a,b port=9").unwrap();
        assert_eq!(c.host_display(), "a:9,b:9");
        assert!(parse0("host=a,b hostaddr=127.0.0.1").is_err());
    }

    // --- URIs ----------------------------------------------------------------------

    #[test]
    fn uri_basic() {
        let c =
            parse0("postgresql://me:pw@db.example.com:5433/app?sslmode=require&application_name=x")
                .unwrap();
        assert_eq!(c.to_string(), "me@db.example.com:5433/app");
        assert_eq!(password_of(&c).as_deref(), Some("pw"));
        assert_eq!(c.ssl_mode(), SslMode::Require);
        assert_eq!(c.application_name(), "x");
        let c = parse0("postgres://db/app").unwrap();
        assert_eq!(c.to_string(), "alice@db:5432/app");
        let c = parse0("postgresql://").unwrap();
        assert_eq!(c.to_string(), "alice@localhost:5432/alice");
        let c = parse0("  postgresql://h  ").unwrap();
        assert_eq!(c.host_display(), "h:5432");
    }

    #[test]
    fn uri_percent_decoding() {
        let c = parse0("postgresql://us%40er:p%40ss%3Aw%2Fd@h/my%20db").unwrap();
        assert_eq!(c.user(), "us@er");
        assert_eq!(password_of(&c).as_deref(), Some("p@ss:w/d"));
        assert_eq!(c.dbname(), "my db");
        let c = parse0("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap();
        assert_eq!(c.host_display(), "/var/run/postgresql:5432");
        // unencoded '@' in the password
        let c = parse0("postgresql://u:p@ss@h/db").unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("p@ss"));
        assert_eq!(c.host_display(), "h:5432");
    }

    #[test]
    fn uri_socket_host_param_and_ipv6() {
        let c = parse0("postgresql:///app?host=/var/run/postgresql&port=5434").unwrap();
        assert_eq!(c.to_string(), "alice@/var/run/postgresql:5434/app");
        let c = parse0("postgresql://me@[::1]:5433/app").unwrap();
        assert_eq!(c.host_display(), "[::1]:5433");
        assert_eq!(c.config().get_hosts(), &[Host::Tcp("::1".into())]);
        let c = parse0("postgresql://[2001:db8::1]/app").unwrap();
        assert_eq!(c.host_display(), "[2001:db8::1]:5432");
        let c = parse0("postgresql://h1:1,h2:2/app").unwrap();
        assert_eq!(c.host_display(), "h1:1,h2:2");
        let c = parse0("postgresql://h/app?ssl=true").unwrap();
        assert_eq!(c.ssl_mode(), SslMode::Require);
    }

    #[test]
    fn uri_errors_never_show_password() {
        let cases = [
            "postgresql://u:s3cr3t%zz@h/db",
            "postgresql://u:s3cr3t%00@h/db",
            "postgresql://u:s3cr3t%C3@h/db",
            "postgresql://u:s3cr/et@h/db",
            "postgresql://h/db?password",
            "postgresql://[::1/db",
            "postgresql://h:port/db",
        ];
        for s in cases {
            let e = parse0(s).unwrap_err();
            let msg = e.to_string();
            assert!(!msg.contains("s3cr"), "{s}: {msg}");
            assert!(!msg.contains("et@h"), "{s}: {msg}");
        }
        let e = parse0("postgresql://u:s3cr3t%zz@h/db").unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed connection URI: invalid percent-encoded token in password"
        );
        let e = parse0("postgresql://h/db?password=%zzs3cr3t").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"));
    }

    // --- Display / Debug / with_dbname ---------------------------------------------------

    #[test]
    fn display_and_debug_never_show_password() {
        let c = parse0("host=h user=u password=hunter2 dbname=d").unwrap();
        assert_eq!(c.to_string(), "u@h:5432/d");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        let dbg = format!("{:#?}", c.with_dbname("other"));
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn with_dbname_keeps_server() {
        let c = parse0("host=h port=6 user=u password=pw dbname=d sslmode=require").unwrap();
        let o = c.with_dbname("other");
        assert_eq!(o.to_string(), "u@h:6/other");
        assert_eq!(o.config().get_dbname(), Some("other"));
        assert_eq!(password_of(&o).as_deref(), Some("pw"));
        assert_eq!(o.ssl_mode(), SslMode::Require);
        assert_eq!(c.dbname(), "d");
    }

    // --- pgpass --------------------------------------------------------------------

    #[test]
    fn pgpass_parse_and_match() {
        let e = parse_pgpass(
            "# comment\n\
             \n\
             db.example.com:5432:app:me:first\r\n\
             db.example.com:5432:app:me:second\n\
             *:*:*:other:wild\n\
             weird\\:host:5432:*:me:pa\\:ss\\\\word\n\
             localhost:*:*:me:local\n\
             \\*:*:*:star:literal-star\n\
             short:line\n",
        );
        assert_eq!(
            pgpass_match(&e, "db.example.com", "5432", "app", "me").as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_match(&e, "db.example.com", "5433", "app", "me"),
            None
        );
        assert_eq!(
            pgpass_match(&e, "anything", "1", "x", "other").as_deref(),
            Some("wild")
        );
        assert_eq!(
            pgpass_match(&e, "weird:host", "5432", "x", "me").as_deref(),
            Some(r"pa:ss\word")
        );
        assert_eq!(
            pgpass_match(&e, "localhost", "5433", "x", "me").as_deref(),
            Some("local")
        );
        assert_eq!(pgpass_match(&e, "h", "1", "x", "star"), None);
        assert_eq!(
            pgpass_match(&e, "*", "1", "x", "star").as_deref(),
            Some("literal-star")
        );
        // a '*' inside a field is literal
        let e = parse_pgpass("db*:*:*:*:p\n");
        assert_eq!(pgpass_match(&e, "db1", "1", "x", "u"), None);
        assert_eq!(pgpass_match(&e, "db*", "1", "x", "u").as_deref(), Some("p"));
    }

    #[test]
    fn pgpass_used_when_no_password() {
        let f = write_pgpass(
            "db:5432:app:me:frompass\nlocalhost:5432:*:me:sockpass\n*:*:*:*:fallback\n",
            0o600,
        );
        let env = env_of(&[]);
        let c = resolve(
            "host=db user=me dbname=app",
            &env,
            Some(f.path()),
            &no_sockets,
        )
        .unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("frompass"));
        assert_eq!(c.password_source(), PasswordSource::PassFile);
        // socket hosts match "localhost"
        let c = resolve(
            "host=/var/run/postgresql user=me dbname=x",
            &env,
            Some(f.path()),
            &no_sockets,
        )
        .unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("sockpass"));
        // explicit password beats pgpass; PGPASSWORD too
        let c = resolve(
            "host=db user=me dbname=app password=p",
            &env,
            Some(f.path()),
            &no_sockets,
        )
        .unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("p"));
        let env2 = env_of(&[("PGPASSWORD", "envpw")]);
        let c = resolve(
            "host=db user=me dbname=app",
            &env2,
            Some(f.path()),
            &no_sockets,
        )
        .unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("envpw"));
        // with_dbname looks the password up again
        let c = resolve(
            "host=db user=me dbname=app",
            &env,
            Some(f.path()),
            &no_sockets,
        )
        .unwrap();
        let o = c.with_dbname("other");
        assert_eq!(password_of(&o).as_deref(), Some("fallback"));
        assert_eq!(
            password_of(&o.with_dbname("app")).as_deref(),
            Some("frompass")
        );
    }

    #[test]
    fn pgpass_location_precedence() {
        let a = write_pgpass("*:*:*:*:from-a\n", 0o600);
        let b = write_pgpass("*:*:*:*:from-b\n", 0o600);
        let pa = a.path().to_str().unwrap().to_string();
        let pb = b.path().to_str().unwrap().to_string();
        let env = env_of(&[("PGPASSFILE", &pa)]);
        let c = resolve("host=h", &env, Some(b.path()), &no_sockets).unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("from-a"));
        let c = resolve(&format!("host=h passfile='{pb}'"), &env, None, &no_sockets).unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("from-b"));
        let env = env_of(&[]);
        let c = resolve("host=h", &env, None, &no_sockets).unwrap();
        assert!(!c.has_password());
        // default path from HOME
        let home = env_of(&[("HOME", "/nonexistent-home")]);
        if !cfg!(windows) {
            assert_eq!(
                default_passfile(&home),
                Some(PathBuf::from("/nonexistent-home/.pgpass"))
            );
        }
        // a missing file is fine
        let c = resolve(
            "host=h",
            &env,
            Some(Path::new("/nonexistent/pgpass")),
            &no_sockets,
        )
        .unwrap();
        assert!(!c.has_password());
    }

    #[cfg(unix)]
    #[test]
    fn pgpass_ignored_when_group_or_world_readable() {
        let env = env_of(&[]);
        for mode in [0o640, 0o604, 0o660] {
            let f = write_pgpass("*:*:*:*:leaky\n", mode);
            let c = resolve("host=h", &env, Some(f.path()), &no_sockets).unwrap();
            assert!(!c.has_password(), "mode {mode:o}");
        }
        let f = write_pgpass("*:*:*:*:ok\n", 0o400);
        let c = resolve("host=h", &env, Some(f.path()), &no_sockets).unwrap();
        assert_eq!(password_of(&c).as_deref(), Some("ok"));
        // a directory is ignored
        let d = tempfile::tempdir().unwrap();
        let c = resolve("host=h", &env, Some(d.path()), &no_sockets).unwrap();
        assert!(!c.has_password());
    }

    // --- redact ------------------------------------------------------------------------

    #[test]
    fn redact_kv_strings() {
        assert_eq!(
            redact("host=h password=hunter2 user=u"),
            "host=h password=******** user=u"
        );
        assert_eq!(
            redact(r"password='it''s \\ secret' dbname=x"),
            "password=******** dbname=x"
        );
        assert_eq!(redact(r"password = 'a\'b c'"), "password = ********");
        assert_eq!(
            redact("user=u password='unterminated"),
            "user=u password=********"
        );
        assert_eq!(redact("host=h dbname=d"), "host=h dbname=d");
        assert_eq!(redact("PASSWORD=x"), "PASSWORD=********");
        assert_eq!(
            redact("dbname=postgresql://u:pw@h/d host=x"),
            "dbname=postgresql://u:********@h/d host=x"
        );
        assert_eq!(redact(""), "");
        assert_eq!(redact("garbage words"), "garbage words");
    }

    #[test]
    fn redact_uris() {
        assert_eq!(
            redact("postgresql://me:hunter2@db/app?sslmode=require"),
            "postgresql://me:********@db/app?sslmode=require"
        );
        assert_eq!(
            redact("postgres://me@db/app?password=hunter2&sslmode=require"),
            "postgres://me@db/app?password=********&sslmode=require"
        );
        assert_eq!(redact("postgresql://db/app"), "postgresql://db/app");
        assert_eq!(
            redact("postgresql://u:p@ss/w@rd@h/d"),
            "postgresql://u:********@h/d"
        );
        let s = "postgresql://u:hunter2@h";
        assert!(!redact(s).contains("hunter2"));
    }
}
