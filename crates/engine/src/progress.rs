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

/// A progress callback; cheap to clone. Its `Debug` names it without
/// calling it, so option structs that hold one derive `Debug`.
///
/// ```
/// use pgferry_engine::{Progress, ProgressFn};
/// let progress = ProgressFn::new(|p: &Progress| {
///     if let Progress::TableDone { table, rows, .. } = p {
///         eprintln!("{table}: {rows} rows");
///     }
/// });
/// progress.report(&Progress::Finished);
/// ```
#[derive(Clone)]
pub struct ProgressFn(Arc<dyn Fn(&Progress) + Send + Sync>);

impl ProgressFn {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        ProgressFn(Arc::new(f))
    }

    /// Calls the callback with `event`.
    pub fn report(&self, event: &Progress) {
        (self.0)(event)
    }
}

impl From<Arc<dyn Fn(&Progress) + Send + Sync>> for ProgressFn {
    fn from(f: Arc<dyn Fn(&Progress) + Send + Sync>) -> Self {
        ProgressFn(f)
    }
}

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

pub(crate) fn report(p: &Option<ProgressFn>, event: Progress) {
    if let Some(f) = p {
        f.report(&event);
    }
}
