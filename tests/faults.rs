//! Failures leave targets exactly as they were; bad input is refused with
//! exit code 2 and a message naming what is wrong, before anything is touched.
mod common;

use std::path::Path;

use common::*;
use pgferry_testkit::{pg_dump_schema, shared_cluster, Cluster, TestDb};

fn snapshot(db: &TestDb) -> (String, Vec<Vec<Option<String>>>) {
    (pg_dump_schema(db), table_contents(db))
}

fn sample_archive(dir: &Path, name: &str) -> (TestDb, String) {
    let src = shared_cluster().create_database(name);
    src.load_fixture("sample_app.sql");
    let path = dir.join(format!("{name}.pgf"));
    let path = path.to_str().unwrap().to_string();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &path]);
    (src, path)
}

#[test]
fn failed_restore_leaves_the_target_unchanged_and_names_the_object() {
    let dir = tempdir();
    let src = shared_cluster().create_database("fail_src");
    src.load_fixture_for_major(shared_cluster().major_version());
    let archive = dir.path().join("f.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    // The target already has one of the archive's later objects: restore
    // without --clean fails after creating many objects.
    let dst = shared_cluster().create_database("fail_dst");
    dst.execute_batch(
        "CREATE TABLE public.events (id int); INSERT INTO public.events VALUES (1), (2); \
         CREATE TABLE public.keepme (x text); INSERT INTO public.keepme VALUES ('a');",
    );
    let before = snapshot(&dst);
    let out = pgferry(&["restore", "--target", &dst.conn_string(), archive]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("TABLE public.events"), "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("target unchanged"), "{err}");
    assert_eq!(before, snapshot(&dst));
}

#[test]
fn failure_while_loading_data_rolls_everything_back() {
    let dir = tempdir();
    let (src, _) = sample_archive(dir.path(), "late_src");
    let data = dir.path().join("data.pgf");
    pgferry_ok(&[
        "dump",
        "--source",
        &src.conn_string(),
        "--data-only",
        "-o",
        data.to_str().unwrap(),
    ]);
    let dst = shared_cluster().create_database("late_dst");
    dst.load_fixture("sample_app.sql");
    dst.execute_batch(
        "TRUNCATE public.customers, public.products, public.orders, public.order_items",
    );
    // The table loaded last (foreign keys order the data) refuses every row.
    dst.execute_batch(
        "ALTER TABLE public.order_items DROP CONSTRAINT order_items_order_id_fkey; \
         ALTER TABLE public.order_items DROP CONSTRAINT order_items_product_id_fkey; \
         ALTER TABLE public.order_items ADD CONSTRAINT no_rows CHECK (false) NOT VALID",
    );
    let before = snapshot(&dst);
    let out = pgferry(&[
        "restore",
        "--target",
        &dst.conn_string(),
        data.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("TABLE DATA public.order_items"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("no_rows"), "{}", stderr(&out));
    assert_eq!(
        before,
        snapshot(&dst),
        "rows of tables loaded before the failure must be gone"
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.customers")
            .as_deref(),
        Some("0")
    );
}

fn refused(args: &[&str], needle: &str) -> String {
    let out = pgferry(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
    assert_eq!(
        err.trim().lines().filter(|l| l.contains("error")).count(),
        1,
        "one-line error: {err}"
    );
    err
}

#[test]
fn damaged_archives_are_refused_before_the_target_is_touched() {
    let dir = tempdir();
    let (_src, archive) = sample_archive(dir.path(), "dmg_src");
    let good = std::fs::read(&archive).unwrap();
    let dst = shared_cluster().create_database("dmg_dst");
    let before = snapshot(&dst);
    let target = dst.conn_string();

    let truncated = dir.path().join("truncated.pgf");
    std::fs::write(&truncated, &good[..good.len() * 2 / 3]).unwrap();
    refused(
        &["restore", "--target", &target, truncated.to_str().unwrap()],
        "truncated",
    );

    let flipped = dir.path().join("flipped.pgf");
    let mut bytes = good.clone();
    let mid = bytes.len() / 2; // inside the data frames
    bytes[mid] ^= 0x40;
    std::fs::write(&flipped, &bytes).unwrap();
    refused(
        &["restore", "--target", &target, flipped.to_str().unwrap()],
        "corrupt",
    );

    let not_archive = dir.path().join("notes.txt");
    std::fs::write(
        &not_archive,
        "PGDMP this is a pg_dump custom file, or a text file",
    )
    .unwrap();
    refused(
        &[
            "restore",
            "--target",
            &target,
            not_archive.to_str().unwrap(),
        ],
        "not a pgferry archive",
    );

    let newer = dir.path().join("newer.pgf");
    let mut bytes = good.clone();
    bytes[8] = 99; // major format version
    std::fs::write(&newer, &bytes).unwrap();
    refused(
        &["restore", "--target", &target, newer.to_str().unwrap()],
        "newer",
    );

    refused(&["list", truncated.to_str().unwrap()], "truncated");
    assert_eq!(before, snapshot(&dst));
}

#[test]
fn bad_connection_input_is_refused_with_exit_2() {
    // Nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempdir();
    let out = dir.path().join("x.pgf");
    let out = out.to_str().unwrap();
    refused(
        &[
            "dump",
            "--source",
            &format!("host=127.0.0.1 port={port} user=postgres dbname=x connect_timeout=3"),
            "-o",
            out,
        ],
        "cannot connect to source",
    );
    refused(
        &["dump", "--source", "host=127.0.0.1 port='5432", "-o", out],
        "connection string",
    );
    refused(
        &["dump", "--source", "postgresql://[::1:5432/db", "-o", out],
        "connection string",
    );
    let db = shared_cluster().create_database("missing_db");
    let missing = format!(
        "host=127.0.0.1 port={} user=postgres dbname=no_such_db",
        db.port()
    );
    refused(&["dump", "--source", &missing, "-o", out], "does not exist");
    refused(
        &[
            "dump",
            "--source",
            &db.conn_string(),
            "-t",
            "no_such_table*",
            "-o",
            out,
        ],
        "no_such_table*",
    );
    refused(
        &[
            "dump",
            "--source",
            &db.conn_string(),
            "-n",
            "no_such_schema",
            "-o",
            out,
        ],
        "no_such_schema",
    );
    assert!(!Path::new(out).exists(), "a failed dump left a file");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn wrong_password_is_refused_and_never_printed() {
    let cluster = Cluster::start();
    let db = cluster.create_database("auth");
    db.execute_batch("ALTER ROLE postgres PASSWORD 'Right-Secret-1'");
    let hba = cluster.data_dir().join("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    db.execute_batch("SELECT pg_reload_conf()");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let dir = tempdir();
    let out = dir.path().join("a.pgf");
    let wrong = format!("{} password=Wr0ng-Pa55word", db.conn_string());
    let err = refused(
        &["dump", "--source", &wrong, "-o", out.to_str().unwrap()],
        "password authentication failed",
    );
    assert!(!err.contains("Wr0ng-Pa55word"), "{err}");
    let uri = format!(
        "postgresql://postgres:Wr0ng-Pa55word@127.0.0.1:{}/{}",
        db.port(),
        db.name
    );
    let err = refused(
        &["dump", "--source", &uri, "-o", out.to_str().unwrap()],
        "password authentication failed",
    );
    assert!(!err.contains("Wr0ng-Pa55word"), "{err}");
    // The right password from the environment works.
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args([
            "dump",
            "--source",
            &db.conn_string(),
            "-o",
            out.to_str().unwrap(),
        ])
        .env("PGPASSWORD", "Right-Secret-1")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(!String::from_utf8_lossy(&std::fs::read(&out).unwrap()).contains("Right-Secret-1"));
}

#[test]
fn missing_archive_is_bad_input() {
    let db = shared_cluster().create_database("no_file");
    refused(
        &[
            "restore",
            "--target",
            &db.conn_string(),
            "/nonexistent/dir/x.pgf",
        ],
        "x.pgf",
    );
    refused(&["list", "/nonexistent/dir/x.pgf"], "No such file");
}

#[test]
fn a_closed_stdout_ends_the_dump_quietly() {
    use std::io::Read;
    let db = shared_cluster().create_database("pipe");
    db.load_fixture("sample_app.sql");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pgferry"))
        .args(["-q", "dump", "--source", &db.conn_string(), "-o", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // stdout is closed now; the dump must stop without an error message.
    let out = child.wait_with_output().unwrap();
    assert_eq!(&head[..8], b"PGFERRY\x1a");
    assert!(!out.status.success());
    assert!(stderr(&out).trim().is_empty(), "{}", stderr(&out));
}

#[test]
fn excluding_a_partitioned_table_also_drops_its_index_attachments() {
    let dir = tempdir();
    let src = shared_cluster().create_database("attach_src");
    src.load_fixture_for_major(shared_cluster().major_version());
    let archive = dir.path().join("a.pgf");
    let archive = archive.to_str().unwrap();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", archive]);
    let dst = shared_cluster().create_database("attach_dst");
    // Partitions and their indexes go with the pattern; nothing dangles.
    pgferry_ok(&[
        "restore",
        "--target",
        &dst.conn_string(),
        "-T",
        "*.measurements*",
        archive,
    ]);
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM pg_class WHERE relname LIKE 'measurements%'")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.events")
            .as_deref(),
        src.query_one_string("SELECT count(*) FROM public.events")
            .as_deref()
    );
}
