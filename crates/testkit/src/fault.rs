//! Fault injection for tests: a TCP proxy whose network can go silent.
//!
//! [`Proxy`] forwards connections from a free port on 127.0.0.1 to a
//! server's port. [`Proxy::pause`] makes the network silent: no byte moves
//! in either direction and new connections are accepted by the kernel but
//! never answered, while every socket stays open (no FIN, no RST), which is
//! what a frozen network path or peer looks like to a client.
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A TCP forwarder to `127.0.0.1:<upstream>` that can be paused.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    paused: AtomicBool,
    stopped: AtomicBool,
    sockets: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Starts forwarding to `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("pgferry-testkit: proxy bind");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("proxy listener");
        let state = Arc::new(State::default());
        let st = state.clone();
        thread::spawn(move || {
            while !st.stopped.load(Ordering::SeqCst) {
                if st.paused.load(Ordering::SeqCst) {
                    // New connections wait in the kernel's backlog, unanswered.
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                            continue;
                        };
                        let _ = client.set_nonblocking(false);
                        for s in [&client, &server] {
                            let _ = s.set_nodelay(true);
                            let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
                        }
                        if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                            let mut socks = st.sockets.lock().unwrap_or_else(|e| e.into_inner());
                            socks.push(c2);
                            socks.push(s2);
                        }
                        pump(st.clone(), &client, &server);
                        pump(st.clone(), &server, &client);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { port, state }
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection string through the proxy, like [`crate::Cluster::conn_string`].
    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        )
    }

    /// The network goes silent: nothing moves, nothing is closed.
    pub fn pause(&self) {
        self.state.paused.store(true, Ordering::SeqCst);
    }

    /// Forwarding goes on (bytes held during the pause are delivered).
    pub fn resume(&self) {
        self.state.paused.store(false, Ordering::SeqCst);
    }

    /// Closes every connection through the proxy on both sides.
    pub fn cut(&self) {
        let mut socks = self.state.sockets.lock().unwrap_or_else(|e| e.into_inner());
        for s in socks.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.cut();
    }
}

/// Copies `from` → `to` on a thread until either side closes or the proxy stops.
fn pump(state: Arc<State>, from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if state.stopped.load(Ordering::SeqCst) {
                break;
            }
            if state.paused.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
                continue;
            }
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // A pause that starts now holds these bytes until resumed.
                    while state.paused.load(Ordering::SeqCst)
                        && !state.stopped.load(Ordering::SeqCst)
                    {
                        thread::sleep(Duration::from_millis(20));
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = from.shutdown(Shutdown::Read);
    });
}
