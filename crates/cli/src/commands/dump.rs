//! `pgferry dump`: a database into an archive file, or stdout with `-o -`.
use pgferry_engine::{DumpOptions, Filters, Side};

use super::{conn, peak_rss_kb, progress};
use crate::args::DumpArgs;
use crate::{Failure, EXIT_OK};

/// Dumps the source into the archive (or stdout) and logs the summary.
pub(crate) async fn run(a: &DumpArgs, quiet: bool) -> Result<u8, Failure> {
    let started = std::time::Instant::now();
    let source = conn(Side::Source, &a.source)?;
    let opts = DumpOptions {
        filters: Filters {
            no_statistics: a.no_statistics,
            ..a.roles.apply(a.filters.filters())
        },
        compress_level: a.compress_level,
        schema_only: a.schema_only,
        data_only: a.data_only,
        lock_timeout: std::time::Duration::from_secs(a.lock_timeout),
        jobs: a.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        split_pages: a.split_pages,
        progress: progress(quiet),
    };
    let s = if a.output.as_os_str() == "-" {
        pgferry_engine::dump(&source, &opts, std::io::stdout()).await?
    } else {
        pgferry_engine::dump_to_path(&source, &opts, &a.output).await?
    };
    tracing::info!(
        objects = s.objects,
        tables = s.tables,
        rows = s.rows,
        raw_bytes = s.raw_bytes,
        archive_bytes = s.archive_bytes,
        seconds = started.elapsed().as_secs_f64(),
        peak_rss_kb = peak_rss_kb(),
        "dump finished"
    );
    Ok(EXIT_OK)
}
