//! The server side of fault injection: crash ([`Cluster::stop_immediate`]),
//! restart ([`Cluster::restart`]) and freeze ([`Cluster::pause_server`] /
//! [`Cluster::resume_server`]) of a cluster's server. The network side is
//! [`Proxy`](crate::Proxy).

use std::fs;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use super::Cluster;
use crate::os::{run_checked, tail_of_file};

impl Cluster {
    /// Stops the server the way a crash would: `pg_ctl stop -m immediate -w`
    /// (the postmaster sends `SIGQUIT` to every backend, no checkpoint),
    /// keeping the data directory. Every connection to the server breaks and
    /// new ones are refused until [`Cluster::restart`]. A paused server
    /// ([`Cluster::pause_server`]) is resumed first. Returns once the server
    /// is gone.
    ///
    /// # Panics
    ///
    /// Panics with `pg_ctl`'s output if the server cannot be stopped (e.g. it
    /// is not running).
    pub fn stop_immediate(&self) {
        if self.server_paused.load(Ordering::SeqCst) {
            self.resume_server();
        }
        run_checked(self.pg_ctl_stop(), "pg_ctl stop -m immediate");
        self.forget_postmaster_pid();
    }

    /// Starts the server again, on the **same port**, after
    /// [`Cluster::stop_immediate`] (crash recovery runs first) and waits
    /// until it accepts connections. The postmaster pid changes; `Drop` and
    /// the watchdog follow it.
    ///
    /// # Panics
    ///
    /// Panics with `pg_ctl`'s output and the server log if the server does
    /// not come up (e.g. it is still running, or the port was taken
    /// meanwhile).
    pub fn restart(&self) {
        let out = self
            .pg_ctl_start(self.port)
            .output()
            .unwrap_or_else(|e| panic!("pgferry-testkit: cannot run pg_ctl start: {e}"));
        if !out.status.success() {
            panic!(
                "pgferry-testkit: restart on port {} failed ({}):\n--- pg_ctl output:\n{}{}\n--- tail of {}:\n{}",
                self.port,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_file.display(),
                tail_of_file(&self.log_file, 40)
            );
        }
        self.record_postmaster_pid();
        self.wait_until_ready();
    }

    /// Freezes the server: `SIGSTOP` to the postmaster, then to all its
    /// descendants (backends, background processes). Connections stay open
    /// but nothing answers: queries hang, and new connections complete the
    /// TCP handshake (the kernel does it) but never get past the startup
    /// message. Takes effect when it returns. [`Cluster::resume_server`]
    /// undoes it; `Drop`, [`Cluster::stop_immediate`] and the watchdog
    /// resume a paused server before stopping it.
    ///
    /// # Panics
    ///
    /// Panics if the postmaster pid is unknown (server stopped).
    pub fn pause_server(&self) {
        let pm = self
            .postmaster_pid()
            .expect("pgferry-testkit: pause_server: the server is not running");
        self.server_paused.store(true, Ordering::SeqCst);
        // The postmaster first: once it is stopped it forks nothing new.
        signal(&[pm], "-STOP");
        signal(&descendants(pm), "-STOP");
    }

    /// Undoes [`Cluster::pause_server`]: `SIGCONT` to the descendants of the
    /// postmaster, then to the postmaster. Held queries then run and answer.
    /// Harmless when the server is not paused.
    pub fn resume_server(&self) {
        if let Some(pm) = self.postmaster_pid() {
            signal(&descendants(pm), "-CONT");
            signal(&[pm], "-CONT");
        }
        self.server_paused.store(false, Ordering::SeqCst);
    }

    /// Whether the server is paused by [`Cluster::pause_server`].
    pub fn is_server_paused(&self) -> bool {
        self.server_paused.load(Ordering::SeqCst)
    }
}

/// Sends `sig` (`"-STOP"`, `"-CONT"`, …) to `pids` with the `kill` command.
fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(sig)
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Every descendant of process `root` (children, their children, …), from
/// the parent pids in `/proc/<pid>/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid …"; comm may contain spaces and ')'.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|&&(pid, ppid)| ppid == parent && !found.contains(&pid))
                .map(|&(pid, _)| pid)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    found.remove(0);
    found
}
