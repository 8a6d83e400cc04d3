//! `pgferry verify`: compares source and target (schema drift, row counts or
//! checksums) and prints the report; exit 3 when they differ.
use pgferry_engine::Side;
use pgferry_engine::VerifyOptions;

use super::{conn, write_stdout};
use crate::args::VerifyArgs;
use crate::{Failure, EXIT_DIFFERENT, EXIT_OK};

/// Compares both sides and prints the report; `EXIT_DIFFERENT` when they differ.
pub(crate) async fn run(a: &VerifyArgs) -> Result<u8, Failure> {
    let source = conn(Side::Source, &a.source)?;
    let target = conn(Side::Target, &a.target)?;
    let opts = VerifyOptions {
        filters: a.filters.filters()?,
        checksums: a.checksums,
        strict: a.strict,
        ..VerifyOptions::default()
    };
    let report = pgferry_engine::verify(&source, &target, &opts).await?;
    if a.json {
        write_stdout(&format!(
            "{}\n",
            serde_json::to_string(&report).unwrap_or_default()
        ))?;
    } else {
        let mut out = String::new();
        for d in &report.target_only {
            out.push_str(&format!(
                "target only (a schema the source lacks; sync leaves it alone): {d}\n"
            ));
        }
        for d in &report.drift {
            out.push_str(&format!("schema drift: {d}\n"));
        }
        for d in &report.differences {
            out.push_str(&format!(
                "data differs: {}: source {}, target {}\n",
                d.table, d.source, d.target
            ));
        }
        out.push_str(&format!(
            "{}: {} tables compared ({}), {} with different data, {} schema differences\n",
            if report.is_identical() {
                "identical"
            } else {
                "DIFFERENT"
            },
            report.tables_checked,
            if a.checksums {
                "counts and checksums"
            } else {
                "counts"
            },
            report.differences.len(),
            report.drift.len()
        ));
        write_stdout(&out)?;
    }
    Ok(if report.is_identical() {
        EXIT_OK
    } else {
        EXIT_DIFFERENT
    })
}
