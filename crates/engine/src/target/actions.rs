//! What a sync did to each table, as reported and recorded in
//! `pgferry.sync_history_tables`.

/// What a sync did to one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableAction {
    /// Its content was identical on both sides: not written, only read
    /// (`ACCESS SHARE`).
    Kept,
    /// Only the differing rows were deleted and copied in (`ROW EXCLUSIVE`).
    Delta,
    /// Emptied and copied whole: no usable key, or most rows differed.
    Replaced,
    /// Dropped and created again: its definition changed (or an object it
    /// depends on did), or the sync ran with `--full`.
    Rebuilt,
}

impl TableAction {
    /// `kept`, `delta`, `replaced` or `rebuilt`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableAction::Kept => "kept",
            TableAction::Delta => "delta",
            TableAction::Replaced => "replaced",
            TableAction::Rebuilt => "rebuilt",
        }
    }
}

/// One table of a sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableSync {
    /// `schema.table`.
    pub table: String,
    /// What was done.
    pub action: TableAction,
    /// Rows written on the target (copied in).
    pub rows_written: u64,
    /// Rows of the target removed or replaced by a new version: a changed
    /// row counts once here and once in `rows_written` (for a table copied
    /// whole: every row it had; for a rebuilt one: 0).
    pub rows_deleted: u64,
    /// Bytes moved between the servers for this table: row data copied
    /// and, for a compared table, the fingerprints and row hashes read.
    pub bytes: u64,
    /// Compared by row versions (which rows are newer than the last sync,
    /// on each side) rather than by content hashes.
    pub by_row_versions: bool,
}
