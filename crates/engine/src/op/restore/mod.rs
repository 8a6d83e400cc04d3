//! `restore`: an archive into a target database, in one transaction: every
//! byte of the archive verified first, the target session prepared, then
//! `--clean`, the objects and their data in order, target-owned dependents
//! carried over, one commit. With `jobs > 1`: [`jobs`], like `pg_restore -j`.
use std::path::Path;

use pgferry_catalog::{Object, Omit, Section, Statistics};
use tokio_postgres::Client;

use crate::archive::feed::{data_entries, ArchiveFeed};
use crate::archive::reader::{open_archive, VerifiedArchive};
use crate::conn::ConnSpec;
use crate::error::{Error, Side};
use crate::filter::Filters;
use crate::list_file::ListFile;
use crate::progress::{report, Progress, ProgressFn};
use crate::select::select_objects;
use crate::target::apply::apply_objects;
use crate::target::clean::{clean_statements, schemas_of};
use crate::target::session::{connect_writer, Origin, Plan, TargetSession};
use crate::watch::{bounded, lost_side, watched, Peer, Phase};

mod jobs;
mod script;

pub use script::{restore_to_script, ScriptSummary};

/// Options of [`restore`].
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore only matching objects.
    pub filters: Filters,
    /// Drop the archive's schemas (or, for table-only archives, its relations)
    /// first, in the same transaction.
    pub clean: bool,
    /// Definitions only.
    pub schema_only: bool,
    /// Data only (tables must exist).
    pub data_only: bool,
    /// Restore the source's ownership.
    pub keep_owners: bool,
    /// Allow a target server older than the archive's source server.
    pub allow_downgrade: bool,
    /// Parallel connections. With more than one the restore is **not
    /// atomic** (like `pg_restore -j`): definitions commit first, tables load
    /// in their own transactions, indexes build concurrently. Meant for a
    /// fresh database; a failure leaves a partial restore behind.
    pub jobs: usize,
    /// How the loaded tables get planner statistics (default: the
    /// archive's where the target can take them, else `ANALYZE`).
    pub statistics: Statistics,
    /// Statements left out (`-x/--no-privileges`, `--no-comments`), beside
    /// what the dump already left out.
    pub omit: Omit,
    /// Only these sections (`--section`; empty: all).
    pub sections: Vec<Section>,
    /// Restore only the objects a list file names, in its order
    /// (`pg_restore -L`; `pgferry list` prints one). Combined with the
    /// filters, `schema_only` and `data_only`: an object is restored when
    /// both keep it. Listed objects are taken as they are: one that goes
    /// with another the list leaves out (an index's attachment, a table's
    /// statistics) is still restored.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), pgferry_engine::Error> {
    /// use pgferry_engine::{restore, ConnSpec, ListFile, RestoreOptions};
    /// let target = ConnSpec::parse("dbname=replica").unwrap();
    /// let opts = RestoreOptions {
    ///     use_list: Some(ListFile::read("app.list".as_ref())?),
    ///     ..Default::default()
    /// };
    /// restore(&target, "app.pgf".as_ref(), &opts).await?;
    /// # Ok(()) }
    /// ```
    pub use_list: Option<ListFile>,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

/// What a restore did.
#[derive(Debug, Clone, Default)]
pub struct RestoreSummary {
    /// Objects created (data entries included).
    pub objects: usize,
    /// Tables loaded.
    pub tables: usize,
    /// Rows loaded.
    pub rows: u64,
    /// Roles created (`--roles`).
    pub roles_created: Vec<String>,
    /// Login roles created without a password.
    pub roles_without_password: Vec<String>,
}

/// Restores the archive at `path` into `target` in one transaction: either
/// everything lands, or the target is left exactly as it was.
///
/// ```no_run
/// # async fn f() -> Result<(), pgferry_engine::Error> {
/// use pgferry_engine::{restore, ConnSpec, RestoreOptions};
/// let target = ConnSpec::parse("postgresql://postgres@127.0.0.1/replica").unwrap();
/// let summary = restore(&target, "app.pgf".as_ref(), &RestoreOptions::default()).await?;
/// println!("{} tables, {} rows", summary.tables, summary.rows);
/// # Ok(()) }
/// ```
pub async fn restore(
    target: &ConnSpec,
    path: &Path,
    opts: &RestoreOptions,
) -> Result<RestoreSummary, Error> {
    // Every byte is checked before the target is touched.
    let path_owned = path.to_path_buf();
    let archive = tokio::task::spawn_blocking(move || open_archive(&path_owned))
        .await
        .map_err(Error::worker)??;
    let objects = choose(&archive, opts)?;
    if opts.jobs > 1 {
        let phase = Phase::new("restoring with several connections");
        let peer = Peer::start(target, Side::Target, &phase).await?;
        return watched(
            &[&peer],
            &[],
            &phase,
            jobs::restore(target, archive, &objects, opts),
        )
        .await;
    }
    let client = connect_writer(target).await?;
    let phase = Phase::new("preparing the target");
    let peer = Peer::start(target, Side::Target, &phase).await?;
    peer.watch_backend(&client).await;
    let result = watched(
        &[&peer],
        &[(Side::Target, &client)],
        &phase,
        restore_into(&client, archive, &objects, opts, &phase),
    )
    .await;
    if let Err(e) = &result {
        if lost_side(e).is_none() && !client.is_closed() {
            let _ = bounded(client.batch_execute("ROLLBACK")).await;
        }
    }
    result
}

/// The archive's objects a restore (or its script) takes: the filters,
/// sections and list file applied; refused when one cannot be carried.
fn choose(archive: &VerifiedArchive, opts: &RestoreOptions) -> Result<Vec<Object>, Error> {
    let mut objects = select_objects(
        &archive.catalog,
        &opts.filters,
        opts.schema_only,
        opts.data_only,
    )?;
    pgferry_catalog::keep_sections(&mut objects, &opts.sections);
    if let Some(list) = &opts.use_list {
        objects = list.select(&archive.catalog, objects)?;
        if objects.is_empty() {
            tracing::warn!(
                list = list.file(),
                "the list file selects no object; nothing to restore"
            );
        }
    }
    if opts.omit.security_labels {
        let mut catalog = archive.catalog.clone();
        catalog.leave_out_security_labels();
        Error::check_supported(&catalog, &objects)?;
    } else {
        Error::check_supported(&archive.catalog, &objects)?;
    }
    Ok(objects)
}

/// Restores an archive read from any reader (a pipe, stdin): it is first
/// spooled to a temporary file, so every byte is verified before the target
/// is touched.
///
/// ```no_run
/// # async fn f() -> Result<(), pgferry_engine::Error> {
/// use pgferry_engine::{restore_from_reader, ConnSpec, RestoreOptions};
/// let target = ConnSpec::parse("dbname=replica").unwrap();
/// restore_from_reader(&target, std::io::stdin(), &RestoreOptions::default()).await?;
/// # Ok(()) }
/// ```
pub async fn restore_from_reader<R: std::io::Read + Send + 'static>(
    target: &ConnSpec,
    mut reader: R,
    opts: &RestoreOptions,
) -> Result<RestoreSummary, Error> {
    let spooled =
        tokio::task::spawn_blocking(move || -> std::io::Result<tempfile::NamedTempFile> {
            let mut tmp = tempfile::NamedTempFile::new()?;
            std::io::copy(&mut reader, tmp.as_file_mut())?;
            Ok(tmp)
        })
        .await
        .map_err(Error::worker)?
        .map_err(|e| Error::Io {
            path: "-".into(),
            source: e,
        })?;
    restore(target, spooled.path(), opts).await
}

async fn restore_into(
    client: &Client,
    archive: VerifiedArchive,
    objects: &[Object],
    opts: &RestoreOptions,
    phase: &Phase,
) -> Result<RestoreSummary, Error> {
    let replaced = if opts.clean {
        schemas_of(objects)
    } else {
        Vec::new()
    };
    let plan = plan_of(&archive, objects, &replaced, opts, true);
    let session = TargetSession::prepare(client, &plan).await?;
    phase.set("starting the restore transaction");
    session
        .begin(client, None, "starting the restore transaction")
        .await?;
    let mut carried = Default::default();
    if opts.clean {
        let clean = clean_statements(objects);
        phase.set("finding target-owned objects that depend on replaced ones");
        carried = session.dependents(client, &plan, &[], &clean).await?;
        phase.set("--clean: dropping what the archive replaces");
        session.replace(client, "--clean", &clean).await?;
    }
    // Frames flow from a reader thread through a bounded channel.
    let mut feed = ArchiveFeed::start(
        archive.reader,
        archive.path.clone(),
        data_entries(objects),
        Some(phase.clone()),
    );
    let applied = apply_objects(
        client,
        objects,
        &session.render,
        &mut feed,
        &opts.progress,
        phase,
    )
    .await;
    feed.close().await;
    let applied = applied?;
    phase.set("recreating target-owned objects over replaced ones");
    carried.recreate(client).await?;
    let summary = RestoreSummary {
        objects: applied.objects,
        tables: applied.tables.len(),
        rows: applied.rows,
        roles_created: session.roles.created,
        roles_without_password: session.roles.without_password,
    };
    phase.set("committing the restore");
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| Error::on_target("committing the restore", e))?;
    report(&opts.progress, Progress::Finished);
    Ok(summary)
}

/// What a restore of `objects` from `archive` will do, for the target session.
fn plan_of<'a>(
    archive: &VerifiedArchive,
    objects: &'a [Object],
    replaced: &'a [String],
    opts: &'a RestoreOptions,
    one_transaction: bool,
) -> Plan<'a> {
    Plan {
        objects,
        origin: Origin::Archive,
        source_version_num: archive.catalog.server_version_num,
        target_version_num: None,
        allow_downgrade: opts.allow_downgrade,
        replaced,
        filters: &opts.filters,
        keep_owners: opts.keep_owners,
        statistics: opts.statistics,
        omit: opts.omit.or(archive.catalog.omit),
        one_transaction,
    }
}
