//! Tests of connection string parsing, resolution, the password file and redaction.
use super::error::*;
use super::pgpass::*;
use super::redact::*;
use super::spec::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::config::{Host, TargetSessionAttrs};

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
    let c = parse0("sslmode=verify-ca sslrootcert=/ca.pem sslcert=/c.pem sslkey=/k.pem host=db")
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
    let c = parse0("postgresql://me:pw@db.example.com:5433/app?sslmode=require&application_name=x")
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
