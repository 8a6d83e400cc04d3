//! Taking the locks an incremental sync needs, waiting up to the session's
//! `lock_timeout` for each; a lock still refused then ends the sessions that
//! hold (or queue ahead for) a conflicting one, and is asked once more.
//! Sessions that do not stand in the way are never touched.
use pgferry_catalog::QName;
use tokio_postgres::Client;

use crate::error::Error;
use crate::target::rights::Rights;

/// A table lock mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // PostgreSQL's own names
pub(crate) enum LockMode {
    /// What `INSERT`, `UPDATE`, `DELETE` take: readers keep reading.
    RowExclusive,
    /// What disabling a trigger takes: readers keep reading, writers wait.
    ShareRowExclusive,
    /// What `DROP` and `TRUNCATE` take.
    AccessExclusive,
}

impl LockMode {
    fn sql(self) -> &'static str {
        match self {
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// `pg_locks.mode` values this mode conflicts with.
    fn conflicts(self) -> &'static [&'static str] {
        match self {
            LockMode::RowExclusive => &[
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
            LockMode::ShareRowExclusive => &[
                "RowExclusiveLock",
                "ShareUpdateExclusiveLock",
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
            LockMode::AccessExclusive => &[
                "AccessShareLock",
                "RowShareLock",
                "RowExclusiveLock",
                "ShareUpdateExclusiveLock",
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
        }
    }
}

/// Locks `table` in `mode` inside the open transaction. When the lock
/// timeout strikes and `terminate` is set, the sessions holding or awaiting
/// a conflicting lock on it (and that this role may end) are terminated and
/// the lock is asked again; returns how many sessions were terminated.
pub(crate) async fn lock_table(
    client: &Client,
    rights: &Rights,
    table: &QName,
    mode: LockMode,
    descendants: bool,
    terminate: bool,
    keep: &[i32],
) -> Result<i64, Error> {
    // A table dropped takes its partitions and inheritance children with
    // it: `descendants` locks them too.
    let only = if descendants { "" } else { "ONLY " };
    let lock = format!(
        "SAVEPOINT pgferry_lock; LOCK TABLE {only}{} IN {} MODE; RELEASE SAVEPOINT pgferry_lock",
        table.sql(),
        mode.sql()
    );
    let what = || format!("locking {table} on the target");
    let first = client.batch_execute(&lock).await;
    let e = match first {
        Ok(()) => return Ok(0),
        Err(e) => e,
    };
    let timed_out = e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE);
    client
        .batch_execute("ROLLBACK TO SAVEPOINT pgferry_lock; RELEASE SAVEPOINT pgferry_lock")
        .await
        .map_err(|e| Error::on_target(what(), e))?;
    if !timed_out || !terminate {
        return Err(Error::on_target(what(), e));
    }
    let conflicts: Vec<&str> = mode.conflicts().to_vec();
    let pids: Vec<i32> = client
        .query(
            "SELECT DISTINCT l.pid FROM pg_catalog.pg_locks l \
             WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) \
               AND l.relation = $1::text::pg_catalog.regclass AND l.pid <> pg_catalog.pg_backend_pid() \
               AND l.mode = ANY($2::text[]) AND l.pid IS NOT NULL",
            &[&table.sql(), &conflicts],
        )
        .await
        .map_err(|e| Error::on_target(what(), e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let n = rights.terminate_sessions(client, keep, Some(&pids)).await?;
    tracing::warn!(table = %table, terminated = n, "target: sessions blocked the sync past --lock-timeout; terminated");
    client
        .batch_execute(&lock)
        .await
        .map_err(|e| Error::on_target(what(), e))?;
    Ok(n)
}
