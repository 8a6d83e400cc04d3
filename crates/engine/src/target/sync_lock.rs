//! The sync lock: a session-level advisory lock on the target, so two syncs
//! never overlap (even from two hosts), and who holds it when it is taken.
use tokio_postgres::Client;

use crate::error::Error;
use crate::watch::bounded;

/// Advisory lock key taken on the target for the whole sync ("pgferry" in ASCII).
pub const SYNC_LOCK_KEY: i64 = 0x0070_6766_6572_7279;

/// Takes the lock if it is free; `false` when another session holds it.
pub(crate) async fn try_lock(tgt: &Client) -> Result<bool, Error> {
    Ok(tgt
        .query_one(
            "SELECT pg_catalog.pg_try_advisory_lock($1)",
            &[&SYNC_LOCK_KEY],
        )
        .await
        .map_err(|e| Error::on_target("taking the sync lock on the target", e))?
        .get(0))
}

/// Releases the lock (bounded: the connection may be dead).
pub(crate) async fn unlock(tgt: &Client) {
    bounded(tgt.execute(
        "SELECT pg_catalog.pg_advisory_unlock($1)",
        &[&SYNC_LOCK_KEY],
    ))
    .await;
}

/// Who holds the lock, for the error: pid, state and for how long (a
/// session abandoned behind a frozen network shows as idle in transaction).
pub(crate) async fn holder(tgt: &Client) -> String {
    let row = bounded(tgt.query_opt(
        "SELECT format(' (pid %s, %s %s, %s for %s s)', a.pid, COALESCE(a.application_name, ''), \
                COALESCE(host(a.client_addr), 'local'), COALESCE(a.state, '?'), \
                COALESCE(round(extract(epoch FROM now() - a.state_change))::text, '?')) \
         FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database \
           WHERE datname = pg_catalog.current_database()) \
           AND ((l.classid::int8 << 32) | l.objid::int8) = $1 LIMIT 1",
        &[&SYNC_LOCK_KEY],
    ))
    .await;
    match row {
        Some(Ok(Some(r))) => r.try_get::<_, String>(0).unwrap_or_default(),
        _ => String::new(),
    }
}
