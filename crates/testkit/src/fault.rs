//! Fault injection for tests: a TCP proxy whose network can go silent or be
//! cut.
//!
//! [`Proxy`] forwards connections from a free port on `127.0.0.1` to a
//! server's port on `127.0.0.1`. [`Proxy::pause`] makes the network silent:
//! no byte moves in either direction and new connections are accepted but
//! never answered, while every socket stays open (no FIN, no RST), which is
//! what a frozen network path or peer looks like to a client.
//! [`Proxy::resume`] lets everything flow again; [`Proxy::cut`] closes every
//! connection, like a reset of the network path.
//!
//! The [`Cluster`](crate::Cluster) side of fault injection (crash, restart,
//! freeze of the server processes) lives in `cluster/faults.rs`:
//! [`Cluster::stop_immediate`](crate::Cluster::stop_immediate),
//! [`Cluster::restart`](crate::Cluster::restart),
//! [`Cluster::pause_server`](crate::Cluster::pause_server),
//! [`Cluster::resume_server`](crate::Cluster::resume_server).
//!
//! ```no_run
//! use pgferry_testkit::{shared_cluster, Proxy};
//!
//! let db = shared_cluster().create_database("through_proxy");
//! let proxy = Proxy::start(db.port());
//! let conn = proxy.conn_string(db.name()); // hand this to the code under test
//! // … once the code under test is connected:
//! proxy.pause(); // the network goes silent
//! proxy.resume(); // and comes back; held bytes are delivered
//! proxy.cut(); // every connection is closed
//! # let _ = conn;
//! ```

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Size of the copy buffer of each direction of each connection.
const BUF_SIZE: usize = 64 * 1024;

/// How long a connection accepted by the proxy waits for the upstream
/// connection to be established.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP forwarder from `127.0.0.1:<port()>` to `127.0.0.1:<upstream>` that
/// can be paused (silent network) and cut (closed connections).
///
/// Forwarding uses blocking I/O, one thread per direction per connection and
/// 64 KiB buffers, with `TCP_NODELAY` on every socket: when not paused it
/// adds no measurable latency. Dropping the proxy closes its listening socket
/// and every connection through it; its threads end shortly after.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    upstream_port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Fast-path copy of `State::paused`, read once per chunk.
    paused: AtomicBool,
    state: Mutex<State>,
    /// Signalled on `resume`, `cut` and drop.
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    paused: bool,
    stopped: bool,
    next_id: u64,
    /// Open connections by id. An id missing here means "closed": cut,
    /// dropped, or finished.
    conns: HashMap<u64, Conn>,
}

#[derive(Debug)]
struct Conn {
    client: TcpStream,
    /// `None` until the upstream connection is established (it is not while
    /// the proxy is paused).
    server: Option<TcpStream>,
    /// Directions still forwarding; the connection is forgotten at 0.
    live_pumps: u8,
}

impl Conn {
    fn shutdown(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(s) = &self.server {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks while the proxy is paused. Returns `false` if connection `id`
    /// was closed (cut, dropped) meanwhile, i.e. the caller must stop.
    fn wait_while_paused(&self, id: u64) -> bool {
        let mut st = self.lock();
        loop {
            if st.stopped || !st.conns.contains_key(&id) {
                return false;
            }
            if !st.paused {
                return true;
            }
            st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Closes connection `id` on both sides and forgets it.
    fn close(&self, id: u64) {
        if let Some(conn) = self.lock().conns.remove(&id) {
            conn.shutdown();
        }
        self.wake.notify_all();
    }
}

impl Proxy {
    /// Starts a proxy on a free port of `127.0.0.1` that forwards every
    /// connection to `127.0.0.1:upstream_port`.
    ///
    /// # Panics
    ///
    /// Panics if no port can be bound or no thread spawned.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("pgferry-testkit: proxy: cannot bind 127.0.0.1:0: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("pgferry-testkit: proxy: local_addr: {e}"))
            .port();
        let shared = Arc::new(Shared::default());
        let sh = shared.clone();
        let acceptor = thread::Builder::new()
            .name(format!("proxy-{port}-accept"))
            .spawn(move || accept_loop(&listener, &sh, upstream_port))
            .unwrap_or_else(|e| panic!("pgferry-testkit: proxy: cannot spawn a thread: {e}"));
        Proxy {
            port,
            upstream_port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The proxy's port on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port connections are forwarded to.
    pub fn upstream_port(&self) -> u16 {
        self.upstream_port
    }

    /// libpq key=value connection string for database `db` through the
    /// proxy, formatted like [`Cluster::conn_string`](crate::Cluster::conn_string):
    /// `host=127.0.0.1 port=<proxy port> user=postgres dbname=DB`.
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={}",
            self.port,
            crate::client::libpq_quote(db)
        )
    }

    /// The network goes silent: no more bytes are forwarded in either
    /// direction on existing connections, and connections accepted from now
    /// on are not connected upstream (a client sees a connection that never
    /// answers). Nothing is closed.
    ///
    /// Takes effect at once for every chunk read from now on; a chunk
    /// (at most 64 KiB per direction per connection) already being written
    /// when `pause` is called is still delivered. Bytes sent by the peers
    /// meanwhile stay in the kernel's socket buffers (or the proxy's buffer)
    /// and are delivered on [`Proxy::resume`]; once those buffers are full
    /// the peers' writes block, as on a real stalled path.
    pub fn pause(&self) {
        let mut st = self.shared.lock();
        st.paused = true;
        self.shared.paused.store(true, Ordering::SeqCst);
    }

    /// Forwarding goes on: bytes held during the pause are delivered, in
    /// order, and connections accepted during the pause are connected
    /// upstream.
    pub fn resume(&self) {
        let mut st = self.shared.lock();
        st.paused = false;
        self.shared.paused.store(false, Ordering::SeqCst);
        drop(st);
        self.shared.wake.notify_all();
    }

    /// Whether the proxy is paused.
    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::SeqCst)
    }

    /// Closes every current connection on both sides (`shutdown` of both
    /// directions of the client and the upstream socket: both peers see the
    /// connection end, bytes held by a pause are discarded). Works while
    /// paused; the pause state is unchanged. New connections are accepted
    /// and forwarded as before.
    pub fn cut(&self) {
        let conns: Vec<Conn> = self.shared.lock().conns.drain().map(|(_, c)| c).collect();
        for conn in &conns {
            conn.shutdown();
        }
        self.shared.wake.notify_all();
    }

    /// How many connections are currently open through the proxy, counting
    /// those accepted during a pause and not yet connected upstream. A
    /// connection closed by a peer is forgotten once both directions have
    /// ended, i.e. shortly after the close, not necessarily at once; one
    /// closed by [`Proxy::cut`] at once.
    pub fn connections(&self) -> usize {
        self.shared.lock().conns.len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.cut();
        // Wake the accept loop, blocked in `accept`, so that it sees
        // `stopped` and closes the listening socket.
        let woken =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1));
        if let (Ok(_), Some(acceptor)) = (woken, self.acceptor.take()) {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, upstream_port: u16) {
    loop {
        let accepted = listener.accept();
        let mut st = shared.lock();
        if st.stopped {
            return;
        }
        let client = match accepted {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of file descriptors or similar: back off a little.
                drop(st);
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Ok(client2) = client.try_clone() else {
            continue;
        };
        let id = st.next_id;
        st.next_id += 1;
        st.conns.insert(
            id,
            Conn {
                client: client2,
                server: None,
                live_pumps: 2,
            },
        );
        drop(st);
        let sh = shared.clone();
        let spawned = thread::Builder::new()
            .name(format!("proxy-conn-{id}"))
            .spawn(move || serve(&sh, id, client, upstream_port));
        if spawned.is_err() {
            shared.close(id);
        }
    }
}

/// Serves connection `id`: waits out a pause, connects upstream, forwards
/// upstream → client on a second thread and client → upstream on this one.
fn serve(shared: &Arc<Shared>, id: u64, client: TcpStream, upstream_port: u16) {
    if !shared.wait_while_paused(id) {
        return;
    }
    let server = match TcpStream::connect_timeout(
        &([127, 0, 0, 1], upstream_port).into(),
        UPSTREAM_CONNECT_TIMEOUT,
    ) {
        Ok(s) => s,
        Err(_) => return shared.close(id),
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(server2), Ok(server3), Ok(client2)) =
        (server.try_clone(), server.try_clone(), client.try_clone())
    else {
        return shared.close(id);
    };
    {
        let mut st = shared.lock();
        match st.conns.get_mut(&id) {
            Some(conn) => conn.server = Some(server3),
            None => {
                // Cut (or dropped) while connecting.
                let _ = server.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    let sh = shared.clone();
    let spawned = thread::Builder::new()
        .name(format!("proxy-conn-{id}-down"))
        .spawn(move || pump(&sh, id, server2, client2));
    if spawned.is_err() {
        return shared.close(id);
    }
    pump(shared, id, client, server);
}

/// Copies `from` → `to` until `from` ends (then half-closes `to`) or an
/// error happens (then closes the whole connection), holding every chunk
/// while the proxy is paused.
fn pump(shared: &Shared, id: u64, mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return shared.close(id),
        };
        if shared.paused.load(Ordering::SeqCst) && !shared.wait_while_paused(id) {
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            return shared.close(id);
        }
    }
    // Orderly end of this direction: pass the half-close on (not while
    // paused: a silent network carries no FIN either).
    if shared.paused.load(Ordering::SeqCst) && !shared.wait_while_paused(id) {
        return;
    }
    let _ = to.shutdown(Shutdown::Write);
    let mut st = shared.lock();
    if let Some(conn) = st.conns.get_mut(&id) {
        conn.live_pumps -= 1;
        if conn.live_pumps == 0 {
            if let Some(conn) = st.conns.remove(&id) {
                conn.shutdown();
            }
        }
    }
}
