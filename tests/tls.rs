//! TLS against real servers: certificates made with rcgen, servers with `ssl = on`, checked
//! through the `pgferry` binary and the engine's `connect`.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pgferry_engine::{ConnSpec, ConnectFailure, Error, Side};
use pgferry_testkit::{is_root, Cluster};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA, and the PEM of its certificate.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn make_ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        issuer: Issuer::new(params, key),
        pem,
    }
}

/// (certificate PEM, key PEM) for `names` (DNS names or IPs) and common name `cn`, signed by
/// `ca`.
fn make_cert(ca: &Ca, cn: &str, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// An old-style self-signed server certificate (like `openssl req -x509 -subj /CN=...`): a CA
/// certificate, no subjectAltName, the host name only in the common name.
fn make_self_signed_cn_only(cn: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes a file into the data directory, owned by the server's OS user.
fn write_server_file(cluster: &Cluster, name: &str, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let path = cluster.data_dir().join(name);
    write(&path, text);
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    if is_root() {
        let st = Command::new("chown")
            .arg("postgres:postgres")
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success(), "chown {}", path.display());
    }
}

/// Turns TLS on with `cert`/`key` (and `ca` for client certificates, when given), and waits
/// until the server accepts TLS.
fn enable_ssl(cluster: &Cluster, cert: &str, key: &str, ca: Option<&str>) {
    write_server_file(cluster, "server.crt", cert, 0o644);
    write_server_file(cluster, "server.key", key, 0o600);
    let db = cluster.database("postgres");
    db.execute_batch("ALTER SYSTEM SET ssl = on");
    db.execute_batch("ALTER SYSTEM SET ssl_cert_file = 'server.crt'");
    db.execute_batch("ALTER SYSTEM SET ssl_key_file = 'server.key'");
    if let Some(ca) = ca {
        write_server_file(cluster, "ca.crt", ca, 0o644);
        db.execute_batch("ALTER SYSTEM SET ssl_ca_file = 'ca.crt'");
    }
    db.execute_batch("SELECT pg_reload_conf()");
    let conn = format!("{} sslmode=require", cluster.conn_string("postgres"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match try_connect(&conn) {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => {
                panic!("server did not start TLS: {e}\n{}", cluster.log_tail(30))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Connects with the engine, returns `pg_stat_ssl.ssl` of the session.
fn try_connect(conn: &str) -> Result<bool, Error> {
    let spec = ConnSpec::parse(conn).map_err(|source| Error::ConnString {
        side: Side::Source,
        source,
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = pgferry_engine::connect(&spec, Side::Source).await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .expect("query pg_stat_ssl");
        Ok(row.get::<_, bool>(0))
    })
}

fn connect_failure(conn: &str) -> (ConnectFailure, String) {
    match try_connect(conn) {
        Ok(ssl) => panic!("connecting with {conn:?} succeeded (ssl={ssl})"),
        Err(Error::Connect {
            failure, message, ..
        }) => {
            eprintln!("connect with {conn:?}: {failure:?}: {message}");
            (failure, message)
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
}

/// Runs `pgferry dump --schema-only` against `conn` with `HOME` set to `home`.
fn dump(conn: &str, home: &Path) -> Output {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("x.pgf");
    Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(["dump", "--schema-only", "--source", conn, "-o"])
        .arg(&out)
        .env("HOME", home)
        .env_remove("PGPASSWORD")
        .env_remove("PGSSLMODE")
        .env_remove("PGSSLROOTCERT")
        .env_remove("PGSSLCERT")
        .env_remove("PGSSLKEY")
        .output()
        .expect("run pgferry")
}

fn dump_ok(conn: &str, home: &Path) {
    let out = dump(conn, home);
    assert!(
        out.status.success(),
        "pgferry dump with {conn:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts exit 2 and a stderr mentioning every piece of `expect`; returns stderr.
fn dump_fails(conn: &str, home: &Path, expect: &[&str]) -> String {
    let out = dump(conn, home);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "pgferry dump with {conn:?}: expected exit 2, stderr:\n{err}"
    );
    eprintln!("pgferry with {conn:?}: {}", err.trim());
    for e in expect {
        assert!(err.contains(e), "stderr lacks {e:?}:\n{err}");
    }
    err
}

/// A server whose certificate is for `localhost` and `127.0.0.1`, signed by `ca`; it also
/// accepts client certificates from `ca` for the role `certuser` (`hostssl ... cert`).
struct Env {
    cluster: Cluster,
    dir: tempfile::TempDir,
    ca: PathBuf,
    other_ca: PathBuf,
    client_crt: PathBuf,
    client_key: PathBuf,
    stranger_crt: PathBuf,
    stranger_key: PathBuf,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let cluster = Cluster::start();
        let dir = tempfile::tempdir().unwrap();
        let ca = make_ca("pgferry test CA");
        let other = make_ca("some other CA");
        let (cert, key) = make_cert(&ca, "localhost", &["localhost", "127.0.0.1"]);
        let (client_crt, client_key) = make_cert(&ca, "certuser", &[]);
        let (stranger_crt, stranger_key) = make_cert(&other, "certuser", &[]);
        let p = |n: &str| dir.path().join(n);
        write(&p("ca.crt"), &ca.pem);
        write(&p("other-ca.crt"), &other.pem);
        write(&p("client.crt"), &client_crt);
        write(&p("client.key"), &client_key);
        write(&p("stranger.crt"), &stranger_crt);
        write(&p("stranger.key"), &stranger_key);

        let hba = cluster.data_dir().join("pg_hba.conf");
        let old = fs::read_to_string(&hba).unwrap();
        fs::write(
            &hba,
            format!("hostssl all certuser 127.0.0.1/32 cert\nhost all certuser 127.0.0.1/32 reject\n{old}"),
        )
        .unwrap();
        cluster
            .database("postgres")
            .execute_batch("CREATE ROLE certuser LOGIN SUPERUSER");
        enable_ssl(&cluster, &cert, &key, Some(&ca.pem));
        Env {
            cluster,
            ca: p("ca.crt"),
            other_ca: p("other-ca.crt"),
            client_crt: p("client.crt"),
            client_key: p("client.key"),
            stranger_crt: p("stranger.crt"),
            stranger_key: p("stranger.key"),
            dir,
        }
    })
}

fn conn(env: &Env, host: &str, extra: &str) -> String {
    format!(
        "host={host} port={} user=postgres dbname=postgres {extra}",
        env.cluster.port()
    )
}

#[test]
fn require_and_verification_through_the_binary() {
    let e = env();
    let home = tempfile::tempdir().unwrap();
    let ca = e.ca.display();
    dump_ok(&conn(e, "127.0.0.1", "sslmode=require"), home.path());
    dump_ok(
        &conn(
            e,
            "localhost",
            &format!("sslmode=verify-full sslrootcert={ca}"),
        ),
        home.path(),
    );
    // IP host: checked against the IP subjectAltName.
    dump_ok(
        &conn(
            e,
            "127.0.0.1",
            &format!("sslmode=verify-full sslrootcert={ca}"),
        ),
        home.path(),
    );
    dump_ok(
        &conn(
            e,
            "127.0.0.1",
            &format!("sslmode=verify-ca sslrootcert={ca}"),
        ),
        home.path(),
    );
    dump_ok(&conn(e, "127.0.0.1", "sslmode=disable"), home.path());
    dump_ok(&conn(e, "127.0.0.1", "sslmode=prefer"), home.path());
    // URI form.
    dump_ok(
        &format!(
            "postgresql://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
            e.cluster.port()
        ),
        home.path(),
    );

    let other = e.other_ca.display().to_string();
    let err = dump_fails(
        &conn(
            e,
            "127.0.0.1",
            &format!("sslmode=verify-ca sslrootcert={other}"),
        ),
        home.path(),
        &["certificate verify failed: unknown issuer", &other],
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    // The OS trust store does not know the test CA (or is empty on this machine).
    dump_fails(
        &conn(e, "localhost", "sslmode=verify-full sslrootcert=system"),
        home.path(),
        &["sslrootcert=system"],
    );
    // libpq 16: sslrootcert=system refuses weaker modes.
    dump_fails(
        &conn(e, "localhost", "sslmode=verify-ca sslrootcert=system"),
        home.path(),
        &["weak sslmode \"verify-ca\""],
    );
    // require with a root certificate verifies the chain, like libpq.
    dump_fails(
        &conn(
            e,
            "127.0.0.1",
            &format!("sslmode=require sslrootcert={other}"),
        ),
        home.path(),
        &["unknown issuer"],
    );
}

#[test]
fn default_root_certificate_in_home() {
    let e = env();
    let home = tempfile::tempdir().unwrap();
    // No ~/.postgresql/root.crt: verify-* fail, naming the file and sslrootcert.
    let expected = home.path().join(".postgresql").join("root.crt");
    dump_fails(
        &conn(e, "localhost", "sslmode=verify-full"),
        home.path(),
        &[&expected.display().to_string(), "sslrootcert"],
    );
    // require without root.crt does not verify.
    dump_ok(&conn(e, "localhost", "sslmode=require"), home.path());
    fs::create_dir(home.path().join(".postgresql")).unwrap();
    fs::copy(&e.ca, &expected).unwrap();
    dump_ok(&conn(e, "localhost", "sslmode=verify-full"), home.path());
    // With the wrong root.crt, require verifies (libpq compatibility) and fails.
    fs::copy(&e.other_ca, &expected).unwrap();
    dump_fails(
        &conn(e, "localhost", "sslmode=require"),
        home.path(),
        &["unknown issuer", &expected.display().to_string()],
    );
}

#[test]
fn sessions_really_use_tls() {
    let e = env();
    let ca = e.ca.display();
    assert!(try_connect(&conn(e, "127.0.0.1", "sslmode=require")).unwrap());
    assert!(try_connect(&conn(e, "127.0.0.1", "sslmode=prefer")).unwrap());
    assert!(try_connect(&conn(
        e,
        "localhost",
        &format!("sslmode=verify-full sslrootcert={ca}")
    ))
    .unwrap());
    assert!(!try_connect(&conn(e, "127.0.0.1", "sslmode=disable")).unwrap());
    // allow: plain first, and the server accepts plain.
    assert!(!try_connect(&conn(e, "127.0.0.1", "sslmode=allow")).unwrap());
}

#[test]
fn client_certificates() {
    let e = env();
    let ca = e.ca.display();
    let base = |extra: &str| {
        format!(
            "host=localhost port={} user=certuser dbname=postgres sslmode=verify-full sslrootcert={ca} {extra}",
            e.cluster.port()
        )
    };
    let with_cert = base(&format!(
        "sslcert={} sslkey={}",
        e.client_crt.display(),
        e.client_key.display()
    ));
    assert!(try_connect(&with_cert).unwrap());
    let home = tempfile::tempdir().unwrap();
    dump_ok(&with_cert, home.path());

    // allow: the server rejects plain for certuser, the TLS retry succeeds.
    let allow = format!(
        "host=127.0.0.1 port={} user=certuser dbname=postgres sslmode=allow sslcert={} sslkey={}",
        e.cluster.port(),
        e.client_crt.display(),
        e.client_key.display()
    );
    assert!(try_connect(&allow).unwrap());

    // Default files in ~/.postgresql are used when present.
    let pg = home.path().join(".postgresql");
    fs::create_dir(&pg).unwrap();
    fs::copy(&e.client_crt, pg.join("postgresql.crt")).unwrap();
    fs::copy(&e.client_key, pg.join("postgresql.key")).unwrap();
    dump_ok(&base(""), home.path());

    // Without a certificate the server refuses (its own message).
    let (failure, message) = connect_failure(&base(""));
    assert_eq!(failure, ConnectFailure::Authentication, "{message}");
    assert!(message.contains("certificate"), "{message}");

    // A certificate from an unknown CA: the server aborts the handshake.
    let (failure, message) = connect_failure(&base(&format!(
        "sslcert={} sslkey={}",
        e.stranger_crt.display(),
        e.stranger_key.display()
    )));
    assert_eq!(failure, ConnectFailure::Tls, "{message}");
    assert!(message.contains("client certificate"), "{message}");

    // Key missing / not matching.
    let empty = tempfile::tempdir().unwrap();
    dump_fails(
        &base(&format!(
            "sslcert={} sslkey={}",
            e.client_crt.display(),
            e.dir.path().join("nope.key").display()
        )),
        empty.path(),
        &["nope.key", "sslkey"],
    );
    dump_fails(
        &base(&format!(
            "sslcert={} sslkey={}",
            e.client_crt.display(),
            e.stranger_key.display()
        )),
        empty.path(),
        &["client certificate", "sslcert"],
    );
}

#[test]
fn certificate_for_another_host() {
    let cluster = Cluster::start();
    let ca = make_ca("pgferry test CA 2");
    let (cert, key) = make_cert(&ca, "db.example", &["db.example"]);
    enable_ssl(&cluster, &cert, &key, None);
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.crt");
    write(&ca_path, &ca.pem);
    let conn = |host: &str, mode: &str| {
        format!(
            "host={host} port={} user=postgres dbname=postgres sslmode={mode} sslrootcert={}",
            cluster.port(),
            ca_path.display()
        )
    };
    let err = dump_fails(
        &conn("localhost", "verify-full"),
        dir.path(),
        &[
            "server certificate is not valid for host \"localhost\"",
            "db.example",
            "sslmode=verify-full",
        ],
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    dump_fails(
        &conn("127.0.0.1", "verify-full"),
        dir.path(),
        &["not valid for host \"127.0.0.1\""],
    );
    let (failure, _) = connect_failure(&conn("localhost", "verify-full"));
    assert_eq!(failure, ConnectFailure::Tls);
    // verify-ca does not check the name.
    dump_ok(&conn("localhost", "verify-ca"), dir.path());
    dump_ok(&conn("localhost", "require"), dir.path());
}

#[test]
fn self_signed_certificate_with_common_name_only() {
    let cluster = Cluster::start();
    let (cert, key) = make_self_signed_cn_only("localhost");
    enable_ssl(&cluster, &cert, &key, None);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.crt");
    write(&root, &cert);
    let conn = |host: &str, mode: &str| {
        format!(
            "host={host} port={} user=postgres dbname=postgres sslmode={mode} sslrootcert={}",
            cluster.port(),
            root.display()
        )
    };
    // The server's own certificate as the root, the host name in the CN (libpq accepts both).
    dump_ok(&conn("localhost", "verify-full"), dir.path());
    dump_ok(&conn("127.0.0.1", "verify-ca"), dir.path());
    dump_fails(
        &conn("127.0.0.1", "verify-full"),
        dir.path(),
        &["not valid for host \"127.0.0.1\"", "CN=localhost"],
    );
}

#[test]
fn server_without_ssl() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let conn = |mode: &str| {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode={mode}",
            cluster.port()
        )
    };
    let err = dump_fails(
        &conn("require"),
        dir.path(),
        &["the server does not support SSL (sslmode=require)"],
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let ca = dir.path().join("ca.crt");
    write(&ca, &make_ca("unused CA").pem);
    let (failure, message) =
        connect_failure(&conn(&format!("verify-full sslrootcert={}", ca.display())));
    assert_eq!(failure, ConnectFailure::Tls);
    assert_eq!(
        message,
        "the server does not support SSL (sslmode=verify-full)"
    );
    // prefer and allow fall back to plain.
    dump_ok(&conn("prefer"), dir.path());
    assert!(!try_connect(&conn("prefer")).unwrap());
    assert!(!try_connect(&conn("allow")).unwrap());
    // Unix sockets never use TLS, whatever sslmode says (like libpq).
    let sock = format!(
        "host={} port={} user=postgres dbname=postgres sslmode=require",
        cluster.socket_dir().display(),
        cluster.port()
    );
    assert!(!try_connect(&sock).unwrap());
}
