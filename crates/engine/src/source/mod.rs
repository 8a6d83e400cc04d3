//! The source side: its one snapshot, planning the data work, and reading
//! each table's COPY (into an archive, or relayed straight to a target).
pub(crate) mod copy_out;
pub(crate) mod plan;
pub(crate) mod relay;
pub(crate) mod snapshot;
