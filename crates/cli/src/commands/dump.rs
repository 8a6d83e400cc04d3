//! `pgferry dump`: a database into an archive file, or stdout with `-o -`.
use pgferry_engine::{
    DumpFormat, DumpOptions, Filters, InsertOptions, PlainData, PlainOptions, Side,
};

use super::{conn_with, peak_rss_kb, progress};
use crate::args::{DumpArgs, FormatArg};
use crate::{Failure, EXIT_OK};

/// pg_dump's `-Z METHOD[:DETAIL]`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compress {
    /// `none` or `0`.
    Off,
    /// zstd, at this level or (`None`) the default one.
    Zstd(Option<i32>),
}

fn compression(spec: &str) -> Result<Compress, Failure> {
    let level = |s: &str| -> Result<i32, Failure> {
        let s = s.strip_prefix("level=").unwrap_or(s);
        match s.parse::<i32>() {
            Ok(n) if (1..=22).contains(&n) => Ok(n),
            _ => Err(anyhow::anyhow!("-Z {spec}: a zstd level is 1 to 22").into()),
        }
    };
    let (method, detail) = match spec.split_once(':') {
        Some((m, d)) => (m, Some(d)),
        None => (spec, None),
    };
    match (method, detail) {
        ("none", None) | ("0", None) => Ok(Compress::Off),
        ("zstd", None) => Ok(Compress::Zstd(None)),
        ("zstd", Some(d)) => Ok(Compress::Zstd(Some(level(d)?))),
        (n, None) if n.chars().all(|c| c.is_ascii_digit()) => Ok(Compress::Zstd(Some(level(n)?))),
        (m, _) => Err(anyhow::anyhow!(
            "-Z {spec}: pgferry compresses with zstd only (-Z zstd[:LEVEL], -Z LEVEL, or -Z none for a plain script), not {m}"
        )
        .into()),
    }
}

/// The output format: `--format`, else plain for a `.sql` name, else an archive.
/// `compress` is `-Z` parsed ([`compression`]).
fn format(a: &DumpArgs, compress: Option<Compress>) -> Result<DumpFormat, Failure> {
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
        if a.clean || a.create {
            return Err(anyhow::anyhow!(
                "--clean and --create shape a plain script (--format plain); an archive is cleaned when restored: pgferry restore --clean"
            )
            .into());
        }
        if compress == Some(Compress::Off) {
            return Err(anyhow::anyhow!(
                "-Z {}: an archive is always zstd-compressed (-Z LEVEL sets its level)",
                a.compress.as_deref().unwrap_or_default()
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
        compress: match compress {
            Some(Compress::Zstd(level)) => {
                Some(level.unwrap_or(pgferry_engine::DEFAULT_SCRIPT_LEVEL))
            }
            _ => None,
        },
        clean: a.clean,
        create: a.create,
    }))
}

/// Dumps the source into the archive or script (or stdout) and logs the summary.
pub(crate) async fn run(a: &DumpArgs, quiet: bool) -> Result<u8, Failure> {
    let started = std::time::Instant::now();
    let compress = a.compress.as_deref().map(compression).transpose()?;
    let format = format(a, compress)?;
    let source = conn_with(Side::Source, a.source.as_deref(), &a.conn)?;
    let opts = DumpOptions {
        format,
        filters: Filters {
            no_statistics: a.no_statistics,
            ..a.roles.apply(a.filters.filters()?)
        },
        compress_level: match compress {
            Some(Compress::Zstd(Some(level))) => level,
            _ => a.compress_level,
        },
        snapshot: a.snapshot.clone(),
        serializable_deferrable: a.serializable_deferrable,
        load_via_partition_root: a.load_via_partition_root,
        schema_only: a.schema_only,
        data_only: a.data_only,
        lock_timeout: std::time::Duration::from_secs(a.lock_timeout),
        jobs: a.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        split_pages: a.split_pages,
        omit: a.omit.omit(),
        sections: a.omit.sections(),
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
