//! The savepoint an incremental sync works under: rolled back to when the
//! target refuses what it attempted, so the sync can replace everything
//! instead in the same transaction.
use tokio_postgres::Client;

use crate::error::Error;

const NAME: &str = "pgferry_incremental";

pub(crate) async fn set(client: &Client) -> Result<(), Error> {
    run(client, format!("SAVEPOINT {NAME}")).await
}

pub(crate) async fn release(client: &Client) -> Result<(), Error> {
    run(client, format!("RELEASE SAVEPOINT {NAME}")).await
}

pub(crate) async fn rollback(client: &Client) -> Result<(), Error> {
    run(
        client,
        format!("ROLLBACK TO SAVEPOINT {NAME}; RELEASE SAVEPOINT {NAME}"),
    )
    .await
}

async fn run(client: &Client, sql: String) -> Result<(), Error> {
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| Error::on_target(format!("running {sql}"), e))
}
