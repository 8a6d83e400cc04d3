//! `pgferry restore`: an archive, or stdin with `-`, into a database.
use pgferry_engine::{Error, ListFile, RestoreOptions, Side};

use super::{conn_with, peak_rss_kb, progress};
use crate::args::RestoreArgs;
use crate::{Failure, EXIT_OK};

/// Restores the archive (or stdin) into the target and logs the summary.
pub(crate) async fn run(a: &RestoreArgs, quiet: bool) -> Result<u8, Failure> {
    let started = std::time::Instant::now();
    let use_list = match &a.use_list {
        Some(path) => Some(ListFile::read(path).map_err(Error::from)?),
        None => None,
    };
    let opts = RestoreOptions {
        filters: a.roles.apply(a.filters.filters()?),
        clean: a.clean,
        schema_only: a.schema_only,
        data_only: a.data_only,
        keep_owners: a.keep_owners,
        jobs: a.jobs,
        allow_downgrade: a.allow_downgrade,
        statistics: a.statistics.mode(),
        omit: a.omit.omit(),
        sections: a.omit.sections(),
        use_list,
        progress: progress(quiet),
    };
    if let Some(script) = &a.script {
        if a.file.as_os_str() == "-" {
            return Err(anyhow::anyhow!(
                "restore -f reads an archive file, not stdin: give the archive's path"
            )
            .into());
        }
        let s = pgferry_engine::restore_to_script(&a.file, script, &opts)?;
        tracing::info!(
            objects = s.objects,
            tables = s.tables,
            rows = s.rows,
            seconds = started.elapsed().as_secs_f64(),
            "script written"
        );
        return Ok(EXIT_OK);
    }
    let target = conn_with(Side::Target, a.target.as_deref(), &a.conn)?;
    let s = if a.file.as_os_str() == "-" {
        pgferry_engine::restore_from_reader(&target, std::io::stdin(), &opts).await?
    } else {
        pgferry_engine::restore(&target, &a.file, &opts).await?
    };
    tracing::info!(
        objects = s.objects,
        tables = s.tables,
        rows = s.rows,
        roles_created = ?s.roles_created,
        roles_without_password = ?s.roles_without_password,
        seconds = started.elapsed().as_secs_f64(),
        peak_rss_kb = peak_rss_kb(),
        "restore committed"
    );
    Ok(EXIT_OK)
}
