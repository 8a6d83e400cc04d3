//! [`ConnSpec`]: a parsed connection target, and its resolution from a
//! connection string, the `PG*` environment, libpq's defaults and the password file.
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{
    ChannelBinding, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs,
};

use super::error::{invalid, malformed, ConnError, KNOWN_KEYS};
use super::parse::{parse_kv, parse_uri, uri_rest};
use super::pgpass::{pgpass_match, read_pgpass};

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
pub(super) const DEFAULT_SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/tmp"];

/// Environment variables consulted for settings the string leaves unset.
pub(super) const ENV_KEYS: &[(&str, &str)] = &[
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
pub(super) fn default_passfile(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
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

/// Settings after parsing: last occurrence wins; empty values count as unset.
#[derive(Default)]
pub(super) struct Settings(Vec<(String, String)>);

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

pub(super) fn resolve(
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

pub(super) fn parse_port(s: &str) -> Result<u16, ConnError> {
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
pub(super) fn default_host(port: u16, exists: &dyn Fn(&Path) -> bool) -> String {
    if cfg!(unix) {
        for dir in DEFAULT_SOCKET_DIRS {
            if exists(&Path::new(dir).join(format!(".s.PGSQL.{port}"))) {
                return (*dir).to_string();
            }
        }
    }
    "localhost".to_string()
}
