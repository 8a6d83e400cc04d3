//! The fault-injection helpers against a real server: the pausable proxy
//! ([`Proxy`]) and the crash / restart / freeze of a [`Cluster`]. Every wait
//! is bounded, so a hang fails the test instead of blocking it.

use std::future::Future;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pgferry_testkit::tokio_postgres::{self, Client, NoTls, SimpleQueryMessage};
use pgferry_testkit::{shared_cluster, Cluster, Proxy};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// How long something that must not happen is given to happen anyway.
const SILENT: Duration = Duration::from_secs(2);
/// How long something that must happen may take.
const DEADLINE: Duration = Duration::from_secs(15);

async fn connect(conn: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Connects within [`DEADLINE`], panicking otherwise.
async fn connect_ok(conn: &str) -> Client {
    match timeout(DEADLINE, connect(conn)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => panic!("cannot connect to {conn}: {e}"),
        Err(_) => panic!("connecting to {conn} did not finish within {DEADLINE:?}"),
    }
}

/// The first value of the first row of `sql`.
async fn one(client: &Client, sql: &str) -> Result<String, tokio_postgres::Error> {
    let rows = client.simple_query(sql).await?;
    Ok(rows
        .into_iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .expect("a row"))
}

/// `f` must finish within [`DEADLINE`].
async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    timeout(DEADLINE, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {DEADLINE:?}"))
}

/// The spawned `task` must still be pending after [`SILENT`].
async fn stays_silent<T>(what: &str, task: &mut JoinHandle<T>) {
    let started = Instant::now();
    if timeout(SILENT, task).await.is_ok() {
        panic!(
            "{what} finished after {:?} though it must hang",
            started.elapsed()
        );
    }
}

/// A spawned query `sql` on `client`.
fn spawn_query(
    client: &std::sync::Arc<Client>,
    sql: &'static str,
) -> JoinHandle<Result<String, tokio_postgres::Error>> {
    let client = client.clone();
    tokio::spawn(async move { one(&client, sql).await })
}

/// Whether process `pid` runs (zombies do not count).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Drops `cluster` on a thread, within 60 s, and checks its postmaster `pid`
/// is gone afterwards.
fn drop_within(cluster: Cluster, pid: u32) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(cluster);
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("dropping the cluster did not finish within 60 s");
    let deadline = Instant::now() + Duration::from_secs(10);
    while running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!running(pid), "postmaster {pid} still running after drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_forwards_and_pause_silences_until_resume() {
    let db = shared_cluster().create_database("proxy_pause");
    let proxy = Proxy::start(db.port());
    assert_ne!(proxy.port(), db.port());
    assert_eq!(
        proxy.conn_string(db.name()),
        db.conn_string().replace(
            &format!("port={}", db.port()),
            &format!("port={}", proxy.port())
        )
    );
    let conn = proxy.conn_string(db.name());
    let client = std::sync::Arc::new(connect_ok(&conn).await);
    assert_eq!(
        within("SELECT 1", one(&client, "SELECT 1")).await.unwrap(),
        "1"
    );
    assert_eq!(proxy.connections(), 1);

    proxy.pause();
    assert!(proxy.is_paused());
    let mut query = spawn_query(&client, "SELECT 42");
    stays_silent("a query through the paused proxy", &mut query).await;
    let conn2 = conn.clone();
    let mut late = tokio::spawn(async move { connect(&conn2).await });
    stays_silent("a connection through the paused proxy", &mut late).await;
    // Accepted, waiting to be connected upstream.
    assert_eq!(proxy.connections(), 2);

    proxy.resume();
    let answer = within("the held query", query).await.unwrap();
    assert_eq!(answer.unwrap(), "42");
    let late = within("the held connection", late).await.unwrap();
    let late = late.expect("the connection made during the pause works after resume");
    assert_eq!(
        within("SELECT 2", one(&late, "SELECT 2")).await.unwrap(),
        "2"
    );
    assert_eq!(
        within("SELECT 3", one(&client, "SELECT 3")).await.unwrap(),
        "3"
    );

    // A client that closes is forgotten shortly after.
    drop(late);
    let deadline = Instant::now() + DEADLINE;
    while proxy.connections() != 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_cut_breaks_connections_and_new_ones_work() {
    let db = shared_cluster().create_database("proxy_cut");
    let proxy = Proxy::start(db.port());
    let conn = proxy.conn_string(db.name());
    let client = connect_ok(&conn).await;
    assert_eq!(
        within("SELECT 1", one(&client, "SELECT 1")).await.unwrap(),
        "1"
    );

    proxy.cut();
    assert_eq!(proxy.connections(), 0);
    let res = within("a query on a cut connection", one(&client, "SELECT 1")).await;
    assert!(
        res.is_err(),
        "a query on a cut connection must fail: {res:?}"
    );

    let again = connect_ok(&conn).await;
    assert_eq!(
        within("SELECT 2", one(&again, "SELECT 2")).await.unwrap(),
        "2"
    );
    assert_eq!(proxy.connections(), 1);

    // Cut while paused: the held connection ends too, and resuming is fine.
    proxy.pause();
    let held = std::sync::Arc::new(again);
    let mut query = spawn_query(&held, "SELECT 3");
    stays_silent("a query through the paused proxy", &mut query).await;
    proxy.cut();
    let res = within("a held query on a cut connection", query)
        .await
        .unwrap();
    assert!(
        res.is_err(),
        "a held query on a cut connection must fail: {res:?}"
    );
    proxy.resume();
    let third = connect_ok(&conn).await;
    assert_eq!(
        within("SELECT 4", one(&third, "SELECT 4")).await.unwrap(),
        "4"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_drop_closes_everything() {
    let db = shared_cluster().create_database("proxy_drop");
    let proxy = Proxy::start(db.port());
    let port = proxy.port();
    let client = connect_ok(&proxy.conn_string(db.name())).await;
    assert_eq!(
        within("SELECT 1", one(&client, "SELECT 1")).await.unwrap(),
        "1"
    );
    proxy.pause();
    drop(proxy);
    let res = within(
        "a query after the proxy is dropped",
        one(&client, "SELECT 1"),
    )
    .await;
    assert!(res.is_err(), "{res:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the dropped proxy still accepts connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_moves_bulk_data_quickly() {
    let db = shared_cluster().create_database("proxy_bulk");
    let proxy = Proxy::start(db.port());
    let client = connect_ok(&proxy.conn_string(db.name())).await;
    // 128 MiB server → client, 16 MiB client → server.
    let started = Instant::now();
    let mut total = 0usize;
    for _ in 0..32 {
        let len = within(
            "a bulk query",
            one(
                &client,
                "SELECT sum(length(repeat('x', 1048576 * 4)))::text FROM generate_series(1, 1)",
            ),
        )
        .await
        .unwrap();
        assert_eq!(len, "4194304");
        let rows = within(
            "a bulk read",
            client.simple_query("SELECT repeat('y', 1048576) FROM generate_series(1, 4)"),
        )
        .await
        .unwrap();
        total += rows
            .iter()
            .map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map_or(0, str::len),
                _ => 0,
            })
            .sum::<usize>();
    }
    let big = "z".repeat(512 * 1024);
    for _ in 0..32 {
        let sql = format!("SELECT length('{big}')");
        assert_eq!(
            within("a bulk write", one(&client, &sql)).await.unwrap(),
            "524288"
        );
    }
    assert_eq!(total, 128 * 1024 * 1024);
    let took = started.elapsed();
    eprintln!("128 MiB down + 16 MiB up through the proxy in {took:?}");
    assert!(took < Duration::from_secs(60), "too slow: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_immediate_breaks_connections_and_restart_brings_the_server_back() {
    let cluster = Cluster::start();
    let port = cluster.port();
    let before = cluster.postmaster_pid().expect("postmaster pid");
    let conn = cluster.conn_string("postgres");
    let client = connect_ok(&conn).await;
    assert_eq!(
        within("SELECT 1", one(&client, "SELECT 1")).await.unwrap(),
        "1"
    );

    cluster.stop_immediate();
    assert_eq!(cluster.postmaster_pid(), None);
    assert!(
        !running(before),
        "postmaster {before} survived stop_immediate"
    );
    let res = within("a query on a crashed server", one(&client, "SELECT 1")).await;
    assert!(res.is_err(), "{res:?}");
    let res = within("a connection to a crashed server", connect(&conn)).await;
    assert!(res.is_err(), "a crashed server accepted a connection");

    cluster.restart();
    assert_eq!(cluster.port(), port);
    let after = cluster
        .postmaster_pid()
        .expect("postmaster pid after restart");
    assert!(running(after));
    let client = connect_ok(&conn).await;
    assert_eq!(
        within("SELECT 2", one(&client, "SELECT 2")).await.unwrap(),
        "2"
    );
    drop(client);

    // Drop stops the restarted server.
    drop_within(cluster, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_server_freezes_queries_until_resume_server() {
    let cluster = Cluster::start();
    let conn = cluster.conn_string("postgres");
    let client = std::sync::Arc::new(connect_ok(&conn).await);
    assert_eq!(
        within("SELECT 1", one(&client, "SELECT 1")).await.unwrap(),
        "1"
    );

    cluster.pause_server();
    assert!(cluster.is_server_paused());
    let mut query = spawn_query(&client, "SELECT 42");
    stays_silent("a query on a paused server", &mut query).await;
    let conn2 = conn.clone();
    let mut late = tokio::spawn(async move { connect(&conn2).await });
    stays_silent("a connection to a paused server", &mut late).await;

    cluster.resume_server();
    assert!(!cluster.is_server_paused());
    let answer = within("the held query", query).await.unwrap();
    assert_eq!(answer.unwrap(), "42");
    let late = within("the held connection", late).await.unwrap();
    let late = late.expect("the connection made during the pause works after resume");
    assert_eq!(
        within("SELECT 2", one(&late, "SELECT 2")).await.unwrap(),
        "2"
    );
}

#[test]
fn a_paused_server_is_stopped_by_drop() {
    let cluster = Cluster::start();
    let pid = cluster.postmaster_pid().expect("postmaster pid");
    cluster.pause_server();
    drop_within(cluster, pid);
}

#[test]
fn a_paused_server_can_crash_and_restart() {
    let cluster = Cluster::start();
    cluster.pause_server();
    cluster.stop_immediate();
    assert!(!cluster.is_server_paused());
    cluster.restart();
    assert_eq!(
        cluster
            .database("postgres")
            .query_one_string("SELECT 1")
            .as_deref(),
        Some("1")
    );
    let pid = cluster.postmaster_pid().expect("postmaster pid");
    drop_within(cluster, pid);
}
