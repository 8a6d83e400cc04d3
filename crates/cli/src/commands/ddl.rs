//! `pgferry ddl`: the DDL script a restore of the archive would run.
use super::write_stdout;
use crate::args::DdlArgs;
use crate::{Failure, EXIT_OK};

/// Prints the archive's DDL script.
pub(crate) fn run(a: &DdlArgs) -> Result<u8, Failure> {
    let script = pgferry_engine::ddl(&a.file, a.keep_owners)?;
    write_stdout(&script)?;
    Ok(EXIT_OK)
}
