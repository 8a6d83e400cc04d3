//! `--roles`: a replica ready to take over has the roles the synced objects
//! reference.
//!
//! * A fresh replica cluster, `sync --roles --role-passwords`: the
//!   application role logs in on the replica with its primary password over
//!   TCP under `scram-sha-256`, and has exactly its primary grants (through
//!   its group); attributes, connection limit, settings, comment and
//!   memberships arrive; a second sync leaves existing roles alone, and
//!   `--roles update` brings a changed one back to the source's.
//! * Without `--role-passwords` the roles arrive without a password and the
//!   log names them; `--role-passwords` from a non-superuser source is
//!   refused (exit 2) with the reason.
//! * `dump --roles` + `restore --roles` carry them too; a restore without
//!   `--roles` creates none.
//! * A non-superuser target with CREATEROLE creates them, leaving out what
//!   it cannot give (REPLICATION, BYPASSRLS, SUPERUSER) with a warning naming
//!   the role; one without CREATEROLE is refused before anything changes.
//! * A failed restore leaves no new role behind (roles are created in the
//!   run's one transaction).
mod common;

use common::*;
use pgferry_testkit::{shared_cluster, Cluster, TestDb};

/// Roles and grants on the source; role names are unique to this file (the
/// shared cluster is shared by every test).
const SOURCE: &str = "\
SET password_encryption = 'scram-sha-256';
CREATE ROLE rt_readers NOLOGIN;
CREATE ROLE rt_app LOGIN PASSWORD 'Primary-Pass-1' CONNECTION LIMIT 7;
CREATE ROLE rt_ops LOGIN REPLICATION BYPASSRLS CREATEDB;
CREATE ROLE rt_unused LOGIN;
ALTER ROLE rt_app SET work_mem = '8MB';
COMMENT ON ROLE rt_app IS 'the application';
GRANT rt_readers TO rt_app;
CREATE SCHEMA shop;
CREATE TABLE shop.items (id int PRIMARY KEY, name text);
INSERT INTO shop.items VALUES (1, 'a'), (2, 'b');
CREATE TABLE shop.orders (id int PRIMARY KEY, item int);
GRANT USAGE ON SCHEMA shop TO rt_readers;
GRANT SELECT ON shop.items TO rt_readers;
GRANT INSERT ON shop.orders TO rt_ops;";

/// The source database, created once per process.
fn source() -> TestDb {
    static DB: std::sync::OnceLock<TestDb> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let c = shared_cluster();
        c.database("postgres").execute_batch(
            "DROP ROLE IF EXISTS rt_app; DROP ROLE IF EXISTS rt_ops; DROP ROLE IF EXISTS rt_unused; \
             DROP ROLE IF EXISTS rt_readers;",
        );
        let db = c.create_database("roles_src");
        db.execute_batch(SOURCE);
        db
    })
    .clone()
}

/// A fresh cluster on which rt_app logs in over TCP with scram only.
fn fresh_replica() -> (Cluster, TestDb) {
    let c = Cluster::start();
    let db = c.create_database("replica");
    std::fs::write(
        c.data_dir().join("pg_hba.conf"),
        "local all all trust\nhost all rt_app 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n",
    )
    .unwrap();
    db.execute_batch("SELECT pg_reload_conf()");
    std::thread::sleep(std::time::Duration::from_millis(300));
    (c, db)
}

/// Roles (not pg_*) with their attributes, settings, comment and groups.
fn roles(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT r.rolname::text, concat_ws(',', CASE WHEN r.rolcanlogin THEN 'login' END, \
           CASE WHEN r.rolreplication THEN 'replication' END, CASE WHEN r.rolbypassrls THEN 'bypassrls' END, \
           CASE WHEN r.rolcreatedb THEN 'createdb' END, 'limit ' || r.rolconnlimit), \
         (SELECT s.setconfig::text FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0), \
         shobj_description(r.oid, 'pg_authid'), \
         (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m \
            JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) \
         FROM pg_roles r WHERE r.rolname LIKE 'rt\\_%' ORDER BY 1",
    )
}

/// What `role` may do on shop's tables.
fn grants_of(db: &TestDb, role: &str) -> Vec<Vec<Option<String>>> {
    db.query_strings(&format!(
        "SELECT c.relname::text, p.p FROM pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p(p) \
         WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind = 'r' \
         AND has_table_privilege('{role}', c.oid, p.p) ORDER BY 1, 2"
    ))
}

/// Connects as `user` over TCP with `password`.
fn login(db: &TestDb, user: &str, password: &str) -> Result<String, String> {
    let conf = format!(
        "host=127.0.0.1 port={} dbname={} user={user} password={password}",
        db.port(),
        db.name
    );
    // (the SQLSTATE: 28P01 is a failed password authentication)
    let text = |e: tokio_postgres::Error| match e.code() {
        Some(c) => c.code().to_string(),
        None => e.to_string(),
    };
    pgferry_testkit::block_on(|| async move {
        let (client, conn) = tokio_postgres::connect(&conf, tokio_postgres::NoTls)
            .await
            .map_err(text)?;
        tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT current_user::text || ' ' || count(*) FROM shop.items",
                &[],
            )
            .await
            .map_err(text)?;
        Ok(row.get::<_, String>(0))
    })
}

fn sync(src: &TestDb, dst: &TestDb, extra: &[&str]) -> std::process::Output {
    let (s, d) = (src.conn_string(), dst.conn_string());
    let mut args = vec!["sync", "--source", &s, "--target", &d, "-n", "shop"];
    args.extend_from_slice(extra);
    pgferry(&args)
}

#[test]
fn a_fresh_replica_gets_the_roles_and_the_app_logs_in_with_its_password() {
    let src = source();
    let (_c, dst) = fresh_replica();
    let out = sync(&src, &dst, &["--roles", "--role-passwords"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected: Vec<_> = roles(&src)
        .into_iter()
        .filter(|r| r[0].as_deref() != Some("rt_unused"))
        .collect();
    assert_eq!(roles(&dst), expected, "roles on the replica");
    for role in ["rt_app", "rt_ops", "rt_readers"] {
        assert_eq!(
            grants_of(&src, role),
            grants_of(&dst, role),
            "grants of {role}"
        );
    }
    assert_eq!(
        login(&dst, "rt_app", "Primary-Pass-1").as_deref(),
        Ok("rt_app 2"),
        "the application logs in on the replica"
    );
    let wrong = login(&dst, "rt_app", "wrong").unwrap_err();
    assert!(wrong == "28P01", "{wrong}");

    // A second sync leaves existing roles as they are ...
    dst.execute_batch("ALTER ROLE rt_app CONNECTION LIMIT 1");
    let out = sync(&src, &dst, &["--roles"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        roles(&dst)
            .iter()
            .any(|r| r[1].as_deref() == Some("login,limit 1")),
        "{:?}",
        roles(&dst)
    );
    // ... unless told to update them.
    let out = sync(&src, &dst, &["--roles", "update"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(roles(&dst), expected, "after --roles update");
}

#[test]
fn without_passwords_the_roles_are_named_and_a_restore_carries_them_too() {
    let src = source();
    let (_c, dst) = fresh_replica();
    let out = sync(&src, &dst, &["--roles"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("login role created without a password") && err.contains("rt_app"),
        "{err}"
    );
    let denied = login(&dst, "rt_app", "Primary-Pass-1").unwrap_err();
    assert!(denied == "28P01", "{denied}");

    // dump --roles, restore with and without --roles
    let dir = tempdir();
    let archive = dir.path().join("roles.pgf").to_str().unwrap().to_string();
    pgferry_ok(&[
        "dump",
        "--roles",
        "all",
        "--role-passwords",
        "--source",
        &src.conn_string(),
        "-o",
        &archive,
    ]);
    let (_c2, plain) = fresh_replica();
    pgferry_ok(&["restore", "--target", &plain.conn_string(), &archive]);
    assert!(
        roles(&plain).is_empty(),
        "restore without --roles: {:?}",
        roles(&plain)
    );
    // an archive without roles: restore --roles says so
    let bare = dir.path().join("bare.pgf").to_str().unwrap().to_string();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &bare]);
    let (_c4, none) = fresh_replica();
    let out = pgferry_ok(&["restore", "--roles", "--target", &none.conn_string(), &bare]);
    assert!(
        stderr(&out).contains("there are no roles to carry"),
        "{}",
        stderr(&out)
    );
    assert!(roles(&none).is_empty());
    let (_c3, full) = fresh_replica();
    // A restore that fails after the roles were created leaves none behind.
    full.execute_batch("CREATE SCHEMA shop");
    let out = pgferry(&[
        "restore",
        "--roles",
        "--target",
        &full.conn_string(),
        &archive,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        roles(&full).is_empty(),
        "a failed restore left roles: {:?}",
        roles(&full)
    );
    full.execute_batch("DROP SCHEMA shop");
    pgferry_ok(&[
        "restore",
        "--roles",
        "--target",
        &full.conn_string(),
        &archive,
    ]);
    assert_eq!(
        roles(&full),
        roles(&src),
        "restore --roles of a --roles all archive"
    );
    assert_eq!(
        login(&full, "rt_app", "Primary-Pass-1").as_deref(),
        Ok("rt_app 2")
    );
}

#[test]
fn a_source_role_without_pg_authid_access_is_refused_for_passwords() {
    let src = source();
    let c = shared_cluster();
    c.database("postgres").execute_batch(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rt_reader_src') THEN \
         CREATE ROLE rt_reader_src LOGIN; END IF; END $$",
    );
    src.execute_batch("GRANT USAGE ON SCHEMA shop TO rt_reader_src; GRANT SELECT ON ALL TABLES IN SCHEMA shop TO rt_reader_src");
    let (_c, dst) = fresh_replica();
    let as_reader = format!("{} user=rt_reader_src", src.conn_string());
    let d = dst.conn_string();
    let out = pgferry(&[
        "sync",
        "--source",
        &as_reader,
        "--target",
        &d,
        "-n",
        "shop",
        "--roles",
        "--role-passwords",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--role-passwords needs read access to pg_catalog.pg_authid"),
        "{err}"
    );
    assert!(dst
        .query_strings("SELECT 1 FROM pg_namespace WHERE nspname = 'shop'")
        .is_empty());
}

#[test]
fn a_non_superuser_target_drops_what_it_cannot_grant() {
    let src = source();
    let (_c, dst) = fresh_replica();
    dst.execute_batch(&format!(
        "CREATE ROLE rt_manager LOGIN CREATEROLE CREATEDB; ALTER DATABASE {} OWNER TO rt_manager",
        dst.name
    ));
    let s = src.conn_string();
    let as_manager = format!("{} user=rt_manager", dst.conn_string());
    let run = |target: &str, extra: &[&str]| {
        let mut args = vec![
            "sync", "--source", &s, "--target", target, "-n", "shop", "--roles",
        ];
        args.extend_from_slice(extra);
        pgferry(&args)
    };
    let out = run(&as_manager, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("rt_ops")
            && err.contains("REPLICATION, BYPASSRLS")
            && err.contains("cannot give"),
        "{err}"
    );
    let ops = roles(&dst)
        .into_iter()
        .find(|r| r[0].as_deref() == Some("rt_ops"))
        .expect("rt_ops created");
    assert_eq!(
        ops[1].as_deref(),
        Some("login,createdb,limit -1"),
        "{ops:?}"
    );
    assert_eq!(grants_of(&src, "rt_app"), grants_of(&dst, "rt_app"));

    // Without CREATEROLE: refused before anything changes, naming the roles.
    let (_c2, other) = fresh_replica();
    other.execute_batch(&format!(
        "CREATE ROLE rt_plain LOGIN; ALTER DATABASE {} OWNER TO rt_plain",
        other.name
    ));
    let out = run(&format!("{} user=rt_plain", other.conn_string()), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("may not create roles") && err.contains("rt_app"),
        "{err}"
    );
    assert!(other
        .query_strings("SELECT 1 FROM pg_namespace WHERE nspname = 'shop'")
        .is_empty());
}
