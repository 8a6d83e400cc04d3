//! The one-transaction restore/sync takes a lock on every object it drops
//! and every relation it creates. PostgreSQL's shared lock table is sized for
//! `max_locks_per_transaction × (max_connections + max_prepared_transactions)`
//! entries and can borrow a few thousand more from spare shared memory
//! (measured on PostgreSQL 15: a table sized for 1000 ran out between 4000 and 4300).
//! Checking up front turns a certain failure half an hour in ("out of shared
//! memory") into a clear message before anything is touched; close to the
//! limit it only warns.
use pgferry_catalog::{ConstraintKind, Kind, Object};
use tokio_postgres::Client;

use crate::error::Error;

/// Entries the lock table can borrow beyond its nominal size (see above).
const SPARE: u64 = 3000;

/// Locks needed to create `objects`: measured with `pg_locks`, a table with
/// a TOAST-able column holds its own lock, its TOAST table's and index's, and
/// its row type's (a table without columns needs one).
pub(crate) fn locks_to_create(objects: &[Object]) -> u64 {
    objects
        .iter()
        .map(|o| match &o.kind {
            Kind::Table(def) if def.columns.is_empty() => 1,
            Kind::Table(_) | Kind::MatView { .. } => 5,
            Kind::View { .. } | Kind::Sequence { .. } | Kind::Index { .. } => 1,
            Kind::Constraint {
                kind: ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclude,
                ..
            } => 1,
            _ => 0,
        })
        .sum()
}

/// Fails when `needed` locks cannot fit the target's lock table even with its
/// spare room; warns when they exceed its nominal size.
pub(crate) fn check_budget(needed: u64, capacity: u64) -> Result<(), Error> {
    let hint = "max_locks_per_transaction × (max_connections + max_prepared_transactions); raise \
                max_locks_per_transaction on the target (restart needed) or move fewer schemas at once (-n)";
    if needed > capacity + SPARE {
        return Err(Error::Usage(format!(
            "this needs about {needed} locks in one transaction but the target's lock table holds {capacity} ({hint})"
        )));
    }
    if needed > capacity {
        tracing::warn!(
            needed,
            capacity,
            "the transaction needs more locks than the target's lock table is sized for; it may fail with \"out of shared memory\" ({hint})"
        );
    }
    Ok(())
}

/// Checks the lock budget for creating `objects` after dropping everything in `dropped_schemas`.
pub(crate) async fn check_lock_budget(
    client: &Client,
    objects: &[Object],
    dropped_schemas: &[String],
) -> Result<(), Error> {
    let row = client
        .query_one(
            "SELECT (pg_catalog.current_setting('max_locks_per_transaction')::int8 * \
               (pg_catalog.current_setting('max_connections')::int8 + \
                pg_catalog.current_setting('max_prepared_transactions')::int8)), \
             (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname = ANY($1)) * 3 + \
             (SELECT count(*) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
               WHERE n.nspname = ANY($1)) + \
             (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
               WHERE n.nspname = ANY($1))",
            &[&dropped_schemas],
        )
        .await
        .map_err(|e| Error::on_target("estimating the locks the transaction needs", e))?;
    let capacity: i64 = row.get(0);
    let dropping: i64 = row.get(1);
    check_budget(
        locks_to_create(objects) + dropping.max(0) as u64,
        capacity.max(0) as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_allows_the_spare_room_and_no_more() {
        assert!(check_budget(100, 6400).is_ok());
        assert!(check_budget(6400 + SPARE, 6400).is_ok());
        let err = check_budget(6401 + SPARE, 6400).unwrap_err().to_string();
        assert!(err.contains("max_locks_per_transaction"), "{err}");
        assert!(err.contains(&(6401 + SPARE).to_string()), "{err}");
    }
}
