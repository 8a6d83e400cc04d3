//! Comparing a source and a target: what verify reports and sync checks
//! after committing. Row counts and content fingerprints computed on the
//! servers ([`fingerprint`]), and schema drift from both catalogs ([`drift`]).
pub(crate) mod drift;
pub(crate) mod fingerprint;
pub(crate) mod rows;
pub(crate) mod schema_plan;
pub(crate) mod versions;

/// How a sync's result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// No check.
    None,
    /// Exact row counts per table (default).
    #[default]
    Counts,
    /// Row counts and an order-independent hash of every row's content.
    Checksums,
}

impl VerifyMode {
    /// `none`, `counts` or `checksums`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyMode::None => "none",
            VerifyMode::Counts => "counts",
            VerifyMode::Checksums => "checksums",
        }
    }
}

/// A table whose contents differ.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableDiff {
    /// `schema.table`.
    pub table: String,
    /// What the source has (e.g. `1000 rows`).
    pub source: String,
    /// What the target has.
    pub target: String,
}

/// Outcome of a verification.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Tables compared.
    pub tables_checked: usize,
    /// Tables whose contents differ.
    pub differences: Vec<TableDiff>,
    /// Objects or columns present on one side only, or defined differently.
    pub drift: Vec<String>,
    /// Objects only the target has, in schemas the source does not have
    /// (schemas a sync leaves alone): listed, not differences, unless
    /// `VerifyOptions::strict`.
    pub target_only: Vec<String>,
}

impl VerifyReport {
    /// True when nothing differs.
    pub fn is_identical(&self) -> bool {
        self.differences.is_empty() && self.drift.is_empty()
    }
}
