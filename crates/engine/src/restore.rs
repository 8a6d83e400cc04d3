//! `restore`: an archive into a target database, in one transaction.
use std::path::Path;

use bytes::Bytes;
use futures::SinkExt;
use pgferry_catalog::{quote_ident, server_message, Catalog, Kind, Object, Statistics};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use std::pin::Pin;

use tokio_postgres::CopyInSink;

use crate::apply::{apply_objects, TableFeed};
use crate::archive_file::{open_archive, table_stream, VerifiedArchive};
use crate::conn::ConnSpec;
use crate::dependents::Carried;
use crate::error::Error;
use crate::filter::Filters;
use crate::progress::{report, Progress, ProgressFn};
use crate::target::{connect_writer, Rights};
use crate::watch::{bounded, lost_side, watched, Blocked, Peer, Phase};

/// Options of [`restore`].
#[derive(Clone, Default)]
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
    /// Progress callback.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for RestoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestoreOptions")
            .field("filters", &self.filters)
            .field("clean", &self.clean)
            .field("schema_only", &self.schema_only)
            .field("data_only", &self.data_only)
            .field("keep_owners", &self.keep_owners)
            .field("allow_downgrade", &self.allow_downgrade)
            .field("jobs", &self.jobs)
            .field("statistics", &self.statistics)
            .finish()
    }
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

/// Keeps the objects the options select.
pub(crate) fn select_objects(
    catalog: &Catalog,
    opts: &RestoreOptions,
) -> Result<Vec<Object>, Error> {
    let f = opts.filters.compile()?;
    let mut out = Vec::new();
    for o in &catalog.objects {
        let data = o.kind.is_data();
        if (opts.schema_only && data) || (opts.data_only && !data) {
            continue;
        }
        if f.source().no_subscriptions && matches!(o.kind, Kind::Subscription { .. }) {
            continue;
        }
        // Roles (cluster-wide) come with --roles, whatever else is filtered.
        if matches!(o.kind, Kind::Role { .. }) {
            if f.source().roles != pgferry_catalog::RoleSelection::None {
                out.push(o.clone());
            }
            continue;
        }
        // Like pg_restore: large objects and the other database-wide objects
        // outside schemas come with whole-database restores only (schema
        // patterns do not apply to their names).
        let database_wide = o.kind.database_wide();
        if database_wide {
            if !f.tables_only() && f.source().include_schemas.is_empty() {
                out.push(o.clone());
            }
            continue;
        }
        if !f.is_empty() {
            let schema = o.schema.as_deref().unwrap_or(&o.name);
            let keep = match (&o.kind, o.table()) {
                (Kind::Schema, _) => f.schema_included(&o.name),
                (Kind::TableData { table, .. }, _) => {
                    f.table_data_included(&table.schema, &table.name)
                }
                (_, Some(t)) => f.table_included(&t.schema, &t.name),
                (
                    Kind::Table(_)
                    | Kind::View { .. }
                    | Kind::MatView { .. }
                    | Kind::Sequence { .. }
                    | Kind::SequenceSet { .. }
                    | Kind::MatViewRefresh { .. }
                    | Kind::SequenceOwnedBy { .. },
                    _,
                ) => f.table_included(schema, &o.name),
                _ => f.schema_included(schema),
            };
            if !keep {
                continue;
            }
        }
        out.push(o.clone());
    }
    if !f.is_empty() {
        let schemas: Vec<&str> = catalog
            .objects
            .iter()
            .filter_map(|o| o.schema.as_deref())
            .collect();
        let tables: Vec<(&str, &str)> = catalog
            .objects
            .iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    Kind::Table(_)
                        | Kind::View { .. }
                        | Kind::MatView { .. }
                        | Kind::Sequence { .. }
                )
            })
            .filter_map(|o| Some((o.schema.as_deref()?, o.name.as_str())))
            .collect();
        if let Some(e) = f.unmatched(&schemas, &tables).into_iter().next() {
            return Err(e.into());
        }
    }
    drop_orphaned_attachments(&mut out, &catalog.objects);
    Ok(out)
}

/// Objects that only connect two others (an index attached to its parent, a
/// sequence's owner, a matview refresh) go when either side was filtered out.
/// Table data an attachment comes after does not count as a side (with
/// `--schema-only` an index is still attached to its parent). Statistics go
/// with the data they describe: kept when some of it is.
fn drop_orphaned_attachments(objects: &mut Vec<Object>, all: &[Object]) {
    if objects.len() == all.len() {
        return;
    }
    let kept: std::collections::HashSet<u32> = objects.iter().map(|o| o.id).collect();
    let data: std::collections::HashSet<u32> = all
        .iter()
        .filter(|o| matches!(o.kind, Kind::TableData { .. }))
        .map(|o| o.id)
        .collect();
    let contents: std::collections::HashSet<u32> = all
        .iter()
        .filter(|o| matches!(o.kind, Kind::TableData { .. } | Kind::MatViewRefresh { .. }))
        .map(|o| o.id)
        .collect();
    objects.retain(|o| {
        if matches!(o.kind, Kind::RelationStats { .. }) {
            return o
                .deps
                .iter()
                .any(|d| contents.contains(d) && kept.contains(d));
        }
        let attachment = matches!(
            o.kind,
            Kind::IndexAttach { .. } | Kind::SequenceOwnedBy { .. } | Kind::MatViewRefresh { .. }
        );
        !attachment
            || o.deps.iter().all(|d| {
                kept.contains(d)
                    || (data.contains(d) && !matches!(o.kind, Kind::MatViewRefresh { .. }))
            })
    });
}

/// Statements that remove what the archive is about to create (`--clean`).
pub(crate) fn clean_statements(objects: &[Object]) -> Vec<String> {
    let schemas: Vec<String> = objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Schema))
        .map(|o| format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(&o.name)))
        .collect();
    // Transforms name a language and a type of their own: they go first.
    let mut out: Vec<String> = objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::Transform {
                type_sql, language, ..
            } => Some(format!(
                "DROP TRANSFORM IF EXISTS FOR {type_sql} LANGUAGE {} CASCADE",
                quote_ident(language)
            )),
            _ => None,
        })
        .collect();
    out.extend(if !schemas.is_empty() {
        schemas
    } else {
        objects
            .iter()
            .filter_map(|o| {
                let kw = match &o.kind {
                    Kind::Table(def) if def.foreign.is_some() => "FOREIGN TABLE",
                    Kind::Table(_) => "TABLE",
                    Kind::View { .. } => "VIEW",
                    Kind::MatView { .. } => "MATERIALIZED VIEW",
                    Kind::Sequence { .. } => "SEQUENCE",
                    _ => return None,
                };
                Some(format!(
                    "DROP {kw} IF EXISTS {} CASCADE",
                    o.qualified_name()
                ))
            })
            .collect()
    });
    // Database-wide objects the archive recreates (casts go with their
    // schema's types and functions).
    for o in objects {
        let name = quote_ident(&o.name);
        match &o.kind {
            Kind::ForeignDataWrapper { .. } => {
                out.push(format!("DROP FOREIGN DATA WRAPPER IF EXISTS {name} CASCADE"))
            }
            Kind::ForeignServer { .. } => out.push(format!("DROP SERVER IF EXISTS {name} CASCADE")),
            Kind::AccessMethod { .. } => {
                out.push(format!("DROP ACCESS METHOD IF EXISTS {name} CASCADE"))
            }
            Kind::Language { .. } => out.push(format!("DROP LANGUAGE IF EXISTS {name} CASCADE")),
            // A subscription is dropped without touching its publisher's
            // slot (as a disconnected one: disabled, slot_name = NONE).
            Kind::Subscription { .. } => out.push(format!(
                "DO $pgferry$BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_subscription s \
                 JOIN pg_catalog.pg_database d ON d.oid = s.subdbid \
                 WHERE d.datname = pg_catalog.current_database() AND s.subname = {lit}) THEN \
                 EXECUTE 'ALTER SUBSCRIPTION {name} DISABLE'; \
                 EXECUTE 'ALTER SUBSCRIPTION {name} SET (slot_name = NONE)'; \
                 EXECUTE 'DROP SUBSCRIPTION {name}'; END IF; END$pgferry$",
                lit = pgferry_catalog::quote_literal(&o.name),
                name = name.replace('\'', "''"),
            )),
            Kind::LargeObjects { items } => out.push(format!(
                "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid IN ({})",
                items.iter().map(|l| l.oid.to_string()).collect::<Vec<_>>().join(", ")
            )),
            Kind::Publication { .. } => out.push(format!(
                "DROP PUBLICATION IF EXISTS {}",
                quote_ident(&o.name)
            )),
            Kind::EventTrigger { .. } => out.push(format!(
                "DROP EVENT TRIGGER IF EXISTS {}",
                quote_ident(&o.name)
            )),
            _ => {}
        }
    }
    out
}

/// Session settings for a restore transaction.
pub(crate) const RESTORE_SETTINGS: &str = "SET LOCAL check_function_bodies = false; \
     SET LOCAL standard_conforming_strings = on; SET LOCAL client_min_messages = warning; \
     SET LOCAL row_security = off; SET LOCAL statement_timeout = 0; \
     SET LOCAL idle_in_transaction_session_timeout = 0; \
     SET LOCAL maintenance_work_mem = '512MB'; SET LOCAL max_parallel_maintenance_workers = 4; \
     SELECT pg_catalog.set_config('search_path', '', true)";

/// How many of the objects that an older target cannot express an error lists.
const DOWNGRADE_LISTED: usize = 5;

/// With `--allow-downgrade` and a target older than the source: refuses
/// (`Error::Version`) when some of `objects` cannot be expressed on the
/// target, naming them. `source` says where the objects come from ("the
/// archive comes from", "the source runs").
pub(crate) fn check_downgrade(
    objects: &[Object],
    source_version_num: i32,
    target_version_num: i32,
    source: &str,
) -> Result<(), Error> {
    let Err(problems) =
        pgferry_catalog::check_target(objects, source_version_num, target_version_num)
    else {
        return Ok(());
    };
    let (s, t) = (source_version_num / 10000, target_version_num / 10000);
    let mut listed = problems
        .iter()
        .take(DOWNGRADE_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > DOWNGRADE_LISTED {
        listed.push_str(&format!("; and {} more", problems.len() - DOWNGRADE_LISTED));
    }
    Err(Error::Version(format!(
        "the target runs PostgreSQL {t} but {source} PostgreSQL {s}: {} cannot be expressed on PostgreSQL {t}, \
         nothing was changed on the target: {listed}",
        if problems.len() == 1 {
            "1 object".to_string()
        } else {
            format!("{} objects", problems.len())
        }
    )))
}

/// Refuses a target older than the source unless allowed, and with
/// `allow_downgrade` refuses objects the target cannot express
/// ([`check_downgrade`]); returns the target's `server_version_num`.
pub(crate) async fn check_target_version(
    client: &Client,
    source_version_num: i32,
    allow_downgrade: bool,
    objects: &[Object],
) -> Result<i32, Error> {
    let v: i32 = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4",
            &[],
        )
        .await
        .map_err(|e| Error::source_stmt("reading the target's version", &e))?
        .get(0);
    if v / 10000 < source_version_num / 10000 && !allow_downgrade {
        return Err(Error::Version(format!(
            "the target runs PostgreSQL {} but the archive comes from PostgreSQL {}: restoring to an older server needs --allow-downgrade",
            v / 10000,
            source_version_num / 10000
        )));
    }
    check_downgrade(objects, source_version_num, v, "the archive comes from")?;
    Ok(v)
}

pub(crate) fn object_failed(o: &Object, e: &tokio_postgres::Error) -> Error {
    Error::Restore {
        kind: o.kind.label(),
        object: o.display_name(),
        message: server_message(e),
        sqlstate: e.code().map(|c| c.code().to_string()),
    }
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
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })??;
    let objects = select_objects(&archive.catalog, opts)?;
    Error::check_supported(&archive.catalog, &objects)?;
    if opts.jobs > 1 {
        let phase = Phase::new("restoring with several connections");
        let peer = Peer::start(target, "target", &phase).await?;
        return watched(
            &[&peer],
            &[],
            &phase,
            crate::parallel_restore::restore_parallel(target, archive, &objects, opts),
        )
        .await;
    }
    let client = connect_writer(target).await?;
    let phase = Phase::new("preparing the target");
    let peer = Peer::start(target, "target", &phase).await?;
    peer.watch_backend(&client).await;
    let result = watched(
        &[&peer],
        &[("target", &client)],
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
        .map_err(|e| Error::Io {
            path: "-".into(),
            source: std::io::Error::other(e.to_string()),
        })?
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
    let target_version = check_target_version(
        client,
        archive.catalog.server_version_num,
        opts.allow_downgrade,
        objects,
    )
    .await?;
    let dropped: Vec<String> = if opts.clean {
        objects
            .iter()
            .filter(|o| matches!(o.kind, Kind::Schema))
            .map(|o| o.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let (rights, render, roles) = Rights::prepare(
        client,
        objects,
        &dropped,
        &opts.filters,
        opts.keep_owners,
        target_version,
        opts.statistics,
    )
    .await?;
    crate::locks::check_lock_budget(client, objects, &dropped).await?;
    phase.set("starting the restore transaction");
    client
        .batch_execute(&format!("BEGIN READ WRITE; {RESTORE_SETTINGS}"))
        .await
        .map_err(|e| Error::source_stmt("starting the restore transaction", &e))?;
    let mut carried = Carried::default();
    if opts.clean {
        let clean = clean_statements(objects);
        phase.set("finding target-owned objects that depend on replaced ones");
        carried = crate::dependents::find(client, &dropped, &[], &clean, objects, &rights).await?;
        phase.set("--clean: dropping what the archive replaces");
        for s in clean {
            client
                .batch_execute(&s)
                .await
                .map_err(|e| Error::source_stmt(format!("--clean: {s}"), &e))?;
        }
    }
    // Frames flow from a reader thread through a bounded channel.
    let order: Vec<(u32, u32)> = objects
        .iter()
        .filter_map(|o| match o.kind {
            Kind::TableData { parts, .. } => Some((o.id, parts)),
            Kind::LargeObjects { .. } => Some((o.id, 0)),
            _ => None,
        })
        .collect();
    let (tx, rx) = mpsc::channel::<Result<Option<Bytes>, Error>>(4);
    let path = archive.path.clone();
    let mut reader = archive.reader;
    let feeder = tokio::task::spawn_blocking(move || {
        for (id, parts) in order {
            let sent = table_stream(&mut reader, id, parts, |frame| {
                tx.blocking_send(Ok(Some(Bytes::from(frame)))).is_ok()
            });
            let end = match sent {
                Ok(true) => Ok(None),
                Ok(false) => return,
                Err(e) => Err(Error::Archive {
                    path: path.clone(),
                    source: e,
                }),
            };
            let stop = end.is_err();
            if tx.blocking_send(end).is_err() || stop {
                return;
            }
        }
    });
    let mut feed = ArchiveFeed {
        rx,
        phase: phase.clone(),
    };
    let applied = apply_objects(client, objects, &render, &mut feed, &opts.progress, phase).await;
    drop(feed);
    let _ = feeder.await;
    let applied = applied?;
    phase.set("recreating target-owned objects over replaced ones");
    carried.recreate(client).await?;
    let summary = RestoreSummary {
        objects: applied.objects,
        tables: applied.tables.len(),
        rows: applied.rows,
        roles_created: roles.created,
        roles_without_password: roles.without_password,
    };
    phase.set("committing the restore");
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| Error::source_stmt("committing the restore", &e))?;
    report(&opts.progress, Progress::Finished);
    Ok(summary)
}

/// Table data from the archive reader thread.
struct ArchiveFeed {
    rx: mpsc::Receiver<Result<Option<Bytes>, Error>>,
    phase: Phase,
}

impl TableFeed for ArchiveFeed {
    async fn feed(
        &mut self,
        o: &Object,
        mut sink: Pin<&mut CopyInSink<Bytes>>,
        progress: &Option<ProgressFn>,
    ) -> Result<u64, Error> {
        let mut bytes = 0u64;
        loop {
            match self.rx.recv().await {
                Some(Ok(Some(frame))) => {
                    bytes += frame.len() as u64;
                    report(
                        progress,
                        Progress::Bytes {
                            table: o.display_name(),
                            bytes: frame.len() as u64,
                        },
                    );
                    let _blocked = self.phase.waiting("target", Blocked::Sending);
                    sink.send(frame).await.map_err(|e| object_failed(o, &e))?;
                }
                Some(Ok(None)) => return Ok(bytes),
                Some(Err(e)) => return Err(e),
                None => return Err(Error::Cancelled),
            }
        }
    }
}
