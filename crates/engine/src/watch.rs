//! Liveness of the peers: a dead, crashed or silent source or target ends a
//! run within a bounded time instead of leaving pgferry waiting forever.
//!
//! Three mechanisms, each for what the others cannot see:
//! * TCP keepalives and `tcp_user_timeout` on every connection (defaults in
//!   [`crate::conn`]): the kernel notices a network that stopped carrying packets.
//! * A [`Peer`] watch per side: its own small connection asks the server
//!   `SELECT 1` every few seconds. When that goes unanswered, and a fresh
//!   connection cannot be opened either, the server (or the path to it) is
//!   frozen or gone, even though the kernel still acknowledges packets (a
//!   stopped server process, a stalled proxy). It also notices when the
//!   backends pgferry works through have disappeared.
//! * [`watched`] races the operation against the watches and one
//!   cancellation signal: when a watch trips, the operation future is dropped
//!   (every COPY stream and sink with it: an open transaction rolls back on
//!   the server once the connection closes).
//!
//! The [`Phase`] tracker names what the run was doing, for the error.
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use crate::conn::{connect, ConnSpec};
use crate::error::{Error, Side};

/// Time between two liveness probes.
const PROBE_EVERY: Duration = Duration::from_secs(3);
/// How long one probe (a query, or a fresh connection and a query) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(6);
/// How long a clean-up step on a connection that may be dead may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long pgferry may be blocked on a connection whose server process
/// says it is waiting for pgferry (or has stopped moving data) before the
/// connection is judged silent.
const STALL: Duration = Duration::from_secs(12);

/// What a run is doing now ("reading the catalog", "loading data of
/// public.events", ...), shared by the operation, its error messages and the
/// watches; and how long pgferry has been blocked on each side's
/// connection (see [`Phase::waiting`]).
#[derive(Debug, Clone)]
pub(crate) struct Phase(Arc<PhaseInner>);

#[derive(Debug, Default)]
struct PhaseInner {
    phase: Mutex<String>,
    waits: Mutex<[Wait; 4]>,
}

/// Blocked awaits of one side and direction: how many, and since when.
#[derive(Debug, Default, Clone, Copy)]
struct Wait {
    count: usize,
    since: Option<Instant>,
}

/// What pgferry is blocked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// Waiting for data from the server (a COPY out).
    Receiving,
    /// Waiting to hand data to the server (a COPY in).
    Sending,
}

fn wait_slot(side: Side, blocked: Blocked) -> usize {
    (usize::from(side == Side::Target) << 1) | usize::from(blocked == Blocked::Sending)
}

/// Ends a wait registered with [`Phase::waiting`] when dropped.
#[derive(Debug)]
pub(crate) struct WaitGuard {
    phase: Phase,
    slot: usize,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        let mut w = self.phase.0.waits.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut w[self.slot];
        slot.count = slot.count.saturating_sub(1);
        if slot.count == 0 {
            slot.since = None;
        }
    }
}

impl Phase {
    pub(crate) fn new(initial: &str) -> Phase {
        let p = Phase(Arc::new(PhaseInner::default()));
        p.set(initial);
        p
    }

    /// Enters a new phase (logged at debug level).
    pub(crate) fn set(&self, phase: impl Into<String>) {
        let phase = phase.into();
        tracing::debug!(phase = %phase, "phase");
        *self.0.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    pub(crate) fn get(&self) -> String {
        self.0
            .phase
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registers that pgferry is blocked on `side`'s connection until the
    /// guard is dropped; the side's watch judges a long wait.
    pub(crate) fn waiting(&self, side: Side, blocked: Blocked) -> WaitGuard {
        let slot = wait_slot(side, blocked);
        let mut w = self.0.waits.lock().unwrap_or_else(|e| e.into_inner());
        if w[slot].count == 0 {
            w[slot].since = Some(Instant::now());
        }
        w[slot].count += 1;
        WaitGuard {
            phase: self.clone(),
            slot,
        }
    }

    /// How long pgferry has been blocked on `side` without a break, per direction.
    fn blocked_for(&self, side: Side, blocked: Blocked) -> Option<Duration> {
        let w = self.0.waits.lock().unwrap_or_else(|e| e.into_inner());
        w[wait_slot(side, blocked)].since.map(|t| t.elapsed())
    }
}

/// A liveness watch on one side's server. Dropping it stops the watch.
#[derive(Debug)]
pub(crate) struct Peer {
    side: Side,
    probe_pid: i32,
    backends: watch::Sender<Vec<i32>>,
    lost: watch::Receiver<Option<String>>,
    task: JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    /// Opens the watch's own connection to `spec` and starts probing.
    pub(crate) async fn start(spec: &ConnSpec, side: Side, phase: &Phase) -> Result<Peer, Error> {
        let client = connect(spec, side).await?;
        let probe_pid: i32 = setup(side, "starting the liveness watch", async {
            client
                .query_one("SELECT pg_catalog.pg_backend_pid()", &[])
                .await
                .map_err(|e| {
                    Error::statement(side, format!("{side}: starting the liveness watch"), e)
                })
        })
        .await?
        .get(0);
        let (lost_tx, lost) = watch::channel(None);
        let (backends, backends_rx) = watch::channel(Vec::new());
        let spec = spec.clone();
        let phase = phase.clone();
        let task = tokio::spawn(async move {
            let mut client = Some(client);
            let mut suspicious = 0u32;
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let pids = backends_rx.borrow().clone();
                let verdict = match probe(&mut client, &spec, side, &pids).await {
                    Ok(()) => match client.as_ref() {
                        Some(c) => silent(c, &phase, side, &pids, &mut suspicious).await,
                        None => Ok(()),
                    },
                    Err(m) => Err(m),
                };
                match verdict {
                    Ok(()) => {}
                    Err(message) => {
                        tracing::warn!(side = %side, %message, "peer lost");
                        let _ = lost_tx.send(Some(message));
                        return;
                    }
                }
            }
        });
        Ok(Peer {
            side,
            probe_pid,
            backends,
            lost,
            task,
        })
    }

    /// The backend pid of the watch's own connection (never to be terminated).
    pub(crate) fn probe_pid(&self) -> i32 {
        self.probe_pid
    }

    /// Watches the backend of `client` too: when it disappears from the
    /// server while its connection still looks open, the watch trips.
    pub(crate) async fn watch_backend(&self, client: &Client) {
        if let Ok(Ok(row)) = tokio::time::timeout(
            PROBE_TIMEOUT,
            client.query_one("SELECT pg_catalog.pg_backend_pid()", &[]),
        )
        .await
        {
            let pid: i32 = row.get(0);
            self.backends.send_modify(|v| v.push(pid));
        }
    }

    /// Resolves (with the reason) once the peer is found dead or silent.
    async fn lost(&self) -> (Side, String) {
        let mut rx = self.lost.clone();
        loop {
            if let Some(m) = rx.borrow_and_update().clone() {
                return (self.side, m);
            }
            if rx.changed().await.is_err() {
                // The watch task ended without a verdict (aborted): never resolves.
                futures::future::pending::<()>().await;
            }
        }
    }
}

/// One probe: `SELECT 1` (and the watched backends' presence) on the watch
/// connection; when that fails or hangs, the same on a fresh connection.
async fn probe(
    client: &mut Option<Client>,
    spec: &ConnSpec,
    side: Side,
    pids: &[i32],
) -> Result<(), String> {
    if let Some(c) = client.as_ref() {
        match tokio::time::timeout(PROBE_TIMEOUT, check(c, pids)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(Verdict::BackendsGone(m))) => return Err(m),
            Ok(Err(Verdict::Failed(m))) => {
                tracing::debug!(side = %side, error = %m, "liveness probe failed; trying a new connection")
            }
            Err(_) => {
                tracing::debug!(side = %side, "liveness probe unanswered; trying a new connection")
            }
        }
    }
    *client = None;
    let fresh = async {
        let c = connect(spec, side).await.map_err(|e| e.to_string())?;
        check(&c, pids).await.map_err(|v| match v {
            Verdict::BackendsGone(m) | Verdict::Failed(m) => m,
        })?;
        Ok::<Client, String>(c)
    };
    match tokio::time::timeout(PROBE_TIMEOUT, fresh).await {
        Ok(Ok(c)) => {
            *client = Some(c);
            Ok(())
        }
        Ok(Err(m)) => Err(format!("the server stopped answering ({m})")),
        Err(_) => Err(format!(
            "the server stopped answering: no reply within {} s, and a new connection got none either",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

/// A connection pgferry has been blocked on for [`STALL`] while its server
/// process says it waits for the client (or, for data pgferry sends, waits on
/// nothing a wait event would show: no lock, no I/O), seen on two probes in a row: the
/// connection went silent (a frozen network path or server process).
async fn silent(
    c: &Client,
    phase: &Phase,
    side: Side,
    pids: &[i32],
    suspicious: &mut u32,
) -> Result<(), String> {
    let recv = phase.blocked_for(side, Blocked::Receiving);
    let send = phase.blocked_for(side, Blocked::Sending);
    let long = |d: Option<Duration>| d.is_some_and(|d| d >= STALL);
    tracing::debug!(side = %side, ?recv, ?send, "liveness: blocked for");
    if pids.is_empty() || (!long(recv) && !long(send)) {
        *suspicious = 0;
        return Ok(());
    }
    let rows = match tokio::time::timeout(
        PROBE_TIMEOUT,
        c.query(
            "SELECT COALESCE(a.state, ''), COALESCE(a.wait_event, '') FROM pg_catalog.pg_stat_activity a \
             WHERE a.pid = ANY($1::int4[])",
            &[&pids],
        ),
    )
    .await
    {
        Ok(Ok(rows)) => rows,
        _ => return Ok(()),
    };
    let waits_for_client = rows.iter().any(|r| {
        let (state, event): (String, String) = (r.get(0), r.get(1));
        state.starts_with("idle")
            || event == "ClientRead"
            || event == "ClientWrite"
            // A COPY FROM that takes no data for that long and waits on
            // nothing (no lock, no I/O) is not running: a stopped process.
            // (Not for a COPY TO: a scan over dead rows sends nothing for a
            // while and shows no wait event either.)
            || (long(send) && state == "active" && event.is_empty())
    });
    if !waits_for_client {
        *suspicious = 0;
        return Ok(());
    }
    *suspicious += 1;
    if *suspicious < 2 {
        return Ok(());
    }
    let secs = recv.max(send).unwrap_or_default().as_secs();
    Err(format!(
        "the connection went silent: no data moved for {secs} s while the server process waits for pgferry \
         (a frozen network path or server process)"
    ))
}

enum Verdict {
    BackendsGone(String),
    Failed(String),
}

async fn check(c: &Client, pids: &[i32]) -> Result<(), Verdict> {
    let row = c
        .query_one(
            "SELECT ARRAY(SELECT p FROM pg_catalog.unnest($1::int4[]) p \
             WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a WHERE a.pid = p))",
            &[&pids],
        )
        .await
        .map_err(|e| Verdict::Failed(pgferry_catalog::server_message(&e)))?;
    let gone: Vec<i32> = row.try_get(0).map_err(|e| Verdict::Failed(e.to_string()))?;
    if gone.is_empty() {
        Ok(())
    } else {
        Err(Verdict::BackendsGone(format!(
            "pgferry's server process {} is gone (terminated, or the server restarted)",
            gone.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// Runs `op` until it finishes or one of `peers` is lost; a lost peer drops
/// `op` (cancelling everything in it) and becomes [`Error::PeerLost`] naming
/// the side and the phase. An error of `op` itself, when one of `clients`
/// has lost its connection, is reported the same way (the side whose
/// connection closed, the phase, the server's message).
pub(crate) async fn watched<T>(
    peers: &[&Peer],
    clients: &[(Side, &Client)],
    phase: &Phase,
    op: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let lost = async {
        if peers.is_empty() {
            return futures::future::pending().await;
        }
        let all = peers.iter().map(|p| Box::pin(p.lost()));
        futures::future::select_all(all).await.0
    };
    tokio::select! {
        biased;
        (side, message) = lost => Err(Error::PeerLost { side, phase: phase.get(), message }),
        r = op => match r {
            Ok(v) => Ok(v),
            Err(e) => Err(lost_connection(e, clients, phase).await),
        },
    }
}

/// `e`, or [`Error::PeerLost`] when one of `clients` lost its connection.
/// A server that ends a session (SQLSTATE class 57P or 08) sends its error
/// just before it closes the socket: give the close a moment to be seen.
pub(crate) async fn lost_connection(e: Error, clients: &[(Side, &Client)], phase: &Phase) -> Error {
    if matches!(e, Error::PeerLost { .. } | Error::Cancelled) {
        return e;
    }
    let ending = e
        .sqlstate()
        .is_some_and(|s| s.starts_with("57P") || s.starts_with("08"))
        || e.to_string().contains("connection closed");
    if ending {
        for _ in 0..20 {
            if clients.iter().any(|(_, c)| c.is_closed()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    match clients.iter().find(|(_, c)| c.is_closed()) {
        Some((side, _)) => Error::PeerLost {
            side: *side,
            phase: phase.get(),
            message: e.to_string(),
        },
        None => e,
    }
}

/// Bounds a clean-up step on a connection that may be dead (a `ROLLBACK`, a
/// history row, an unlock): it gives up after a few seconds.
pub(crate) async fn bounded<T>(fut: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(CLEANUP_TIMEOUT, fut).await.ok()
}

/// The side an error says was lost, if any.
pub(crate) fn lost_side(e: &Error) -> Option<Side> {
    match e {
        Error::PeerLost { side, .. } => Some(*side),
        _ => None,
    }
}

/// Bounds a set-up step done before the watches run (identifying the
/// servers, checking for a standby): a silent peer fails it after 30 s.
pub(crate) async fn setup<T>(
    side: Side,
    what: &str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(Duration::from_secs(30), fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::PeerLost {
            side,
            phase: what.to_string(),
            message: "no answer within 30 s".into(),
        }),
    }
}
