//! Progress reporting through a callback.
use std::sync::Arc;

/// What the engine is doing.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Progress {
    /// The catalog was read: how many objects and tables with data.
    CatalogRead {
        /// Objects in the catalog.
        objects: usize,
        /// Tables whose data will be copied.
        tables: usize,
    },
    /// A table's data starts.
    TableStarted {
        /// `schema.table`.
        table: String,
    },
    /// More bytes of a table's data moved (sent about every MiB).
    Bytes {
        /// `schema.table`.
        table: String,
        /// Bytes moved since the last event for this table.
        bytes: u64,
    },
    /// A table's data is done.
    TableDone {
        /// `schema.table`.
        table: String,
        /// Rows copied.
        rows: u64,
        /// Uncompressed COPY bytes.
        bytes: u64,
    },
    /// Post-data objects (indexes, constraints, ...) are being created.
    PostData,
    /// The work is committed / written.
    Finished,
}

/// A progress callback; cheap to clone.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

pub(crate) fn report(p: &Option<ProgressFn>, event: Progress) {
    if let Some(f) = p {
        f(&event);
    }
}
