//! `pgferry dump`: a database into an archive file, or stdout with `-o -`.
use pgferry_engine::{
    DumpFormat, DumpOptions, Filters, InsertOptions, PlainData, PlainOptions, Side,
};

use super::{conn, peak_rss_kb, progress};
use crate::args::{DumpArgs, FormatArg};
use crate::{Failure, EXIT_OK};

/// The output format: `--format`, else plain for a `.sql` name, else an archive.
fn format(a: &DumpArgs) -> Result<DumpFormat, Failure> {
    let inserts = a.inserts || a.column_inserts || a.rows_per_insert.is_some();
    if a.on_conflict_do_nothing && !inserts {
        return Err(anyhow::anyhow!(
            "--on-conflict-do-nothing needs --inserts, --column-inserts or --rows-per-insert"
        )
        .into());
    }
    let by_name = a
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("sql"));
    let plain = match a.format {
        Some(f) => f == FormatArg::Plain,
        None => by_name,
    };
    if !plain {
        if inserts {
            return Err(anyhow::anyhow!(
                "--inserts, --column-inserts and --rows-per-insert need --format plain (an archive carries rows as binary COPY)"
            )
            .into());
        }
        if a.keep_owners {
            return Err(anyhow::anyhow!(
                "dump --keep-owners is for --format plain: an archive always records owners (restore --keep-owners applies them)"
            )
            .into());
        }
        return Ok(DumpFormat::Archive);
    }
    let data = if inserts {
        PlainData::Inserts(InsertOptions {
            column_names: a.column_inserts,
            rows_per_insert: a.rows_per_insert.unwrap_or(1) as usize,
            on_conflict_do_nothing: a.on_conflict_do_nothing,
        })
    } else {
        PlainData::Copy
    };
    Ok(DumpFormat::Plain(PlainOptions {
        data,
        keep_owners: a.keep_owners,
    }))
}

/// Dumps the source into the archive or script (or stdout) and logs the summary.
pub(crate) async fn run(a: &DumpArgs, quiet: bool) -> Result<u8, Failure> {
    let started = std::time::Instant::now();
    let format = format(a)?;
    let source = conn(Side::Source, &a.source)?;
    let opts = DumpOptions {
        format,
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
