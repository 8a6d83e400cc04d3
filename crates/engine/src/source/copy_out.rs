//! Reading one table's `COPY ... TO STDOUT` from the source: the one read
//! loop dump and sync share (errors named for the table, rows counted, a
//! stream that stops before its end refused, real waits reported to the
//! source's watch).
use std::pin::Pin;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use pgferry_catalog::QName;
use pgferry_format::CopyRowCounter;
use tokio_postgres::{Client, CopyOutStream};

use crate::error::{Error, Side};
use crate::watch::{Blocked, Phase};

/// `pg_catalog.pg_largeobject`: what large objects' data is named by.
pub(crate) fn large_objects_table() -> QName {
    QName {
        schema: "pg_catalog".into(),
        name: "pg_largeobject".into(),
    }
}

/// A table's COPY out of the source, chunk by chunk.
pub(crate) struct CopyOut {
    stream: Pin<Box<CopyOutStream>>,
    table: String,
    counter: Option<CopyRowCounter>,
    bytes: u64,
}

impl CopyOut {
    /// Starts `sql` (a `COPY ... TO STDOUT`) for `table`. With `counter`
    /// the rows are counted here and a stream that ends early is refused by
    /// [`CopyOut::finish`]; without, the caller's framing does both.
    pub(crate) async fn start(
        client: &Client,
        sql: &str,
        table: &QName,
        counter: Option<CopyRowCounter>,
    ) -> Result<CopyOut, Error> {
        let stream = client
            .copy_out(sql)
            .await
            .map_err(|e| Error::copy(Side::Source, table, e))?;
        Ok(CopyOut {
            stream: Box::pin(stream),
            table: table.to_string(),
            counter,
            bytes: 0,
        })
    }

    /// The next chunk, `None` at the end. With `phase`, a real wait for the
    /// source (nothing buffered yet) is registered with its watch.
    pub(crate) async fn next(&mut self, phase: Option<&Phase>) -> Result<Option<Bytes>, Error> {
        let next = match (self.stream.next().now_or_never(), phase) {
            (Some(next), _) => next,
            (None, Some(phase)) => {
                let _blocked = phase.waiting(Side::Source, Blocked::Receiving);
                self.stream.next().await
            }
            (None, None) => self.stream.next().await,
        };
        let Some(chunk) = next else {
            return Ok(None);
        };
        let chunk = chunk.map_err(|e| Error::copy(Side::Source, &self.table, e))?;
        if let Some(c) = &mut self.counter {
            c.feed(&chunk).map_err(|m| self.stream_error(m))?;
        }
        self.bytes += chunk.len() as u64;
        Ok(Some(chunk))
    }

    /// COPY bytes read so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// An error in this table's stream (bad framing, ended early).
    pub(crate) fn stream_error(&self, message: String) -> Error {
        Error::copy_stream(Side::Source, &self.table, message)
    }

    /// The rows counted, refusing a stream that stopped before its end.
    pub(crate) fn finish(&self) -> Result<u64, Error> {
        match &self.counter {
            Some(c) if !c.finished() => Err(self.stream_error("COPY stream ended early".into())),
            Some(c) => Ok(c.rows()),
            None => Ok(0),
        }
    }
}
