//! The target session of every writing run (restore, `restore -j`, sync):
//! connected read-write whatever the database's defaults, then prepared in
//! one place: the server version and downgrade check, the role's rights and
//! what it cannot create, carried roles, render options, the lock budget,
//! the transaction's settings, and `--clean`'s replacement of what the run
//! recreates (carrying target-owned dependents over).
use std::time::Duration;

use pgferry_catalog::{probe, Object, Omit, RenderOptions, Statistics};
use tokio_postgres::Client;

use crate::conn::{connect, ConnSpec};
use crate::error::{Error, Side};
use crate::filter::Filters;
use crate::target::dependents::{self, Carried};
use crate::target::rights::Rights;
use crate::target::roles::{self, RoleOutcome};

/// Session settings of a loading transaction (`SET LOCAL`).
const SETTINGS: &str = "SET LOCAL check_function_bodies = false; \
     SET LOCAL standard_conforming_strings = on; SET LOCAL client_min_messages = warning; \
     SET LOCAL row_security = off; SET LOCAL statement_timeout = 0; \
     SET LOCAL idle_in_transaction_session_timeout = 0; \
     SET LOCAL maintenance_work_mem = '512MB'; SET LOCAL max_parallel_maintenance_workers = 4; \
     SELECT pg_catalog.set_config('search_path', '', true)";

/// The same settings for a whole session (outside a transaction block:
/// `restore -j`'s connections, which commit as they go).
pub(crate) fn session_settings() -> String {
    SETTINGS
        .replace("SET LOCAL", "SET")
        .replace("', true)", "', false)")
}

/// How many of the objects that an older target cannot express an error lists.
const DOWNGRADE_LISTED: usize = 5;

/// Where the objects a run writes come from, as its messages say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// An archive (restore).
    Archive,
    /// A live source (sync).
    Source,
}

impl Origin {
    /// "the archive comes from", "the source runs".
    fn label(self) -> &'static str {
        match self {
            Origin::Archive => "the archive comes from",
            Origin::Source => "the source runs",
        }
    }
}

/// Refuses a target older than the source unless `allow_downgrade`.
pub(crate) fn check_version(
    source_version_num: i32,
    target_version_num: i32,
    allow_downgrade: bool,
    origin: Origin,
) -> Result<(), Error> {
    let (s, t) = (
        probe::major(source_version_num),
        probe::major(target_version_num),
    );
    if t >= s || allow_downgrade {
        return Ok(());
    }
    Err(Error::Version(match origin {
        Origin::Archive => format!(
            "the target runs PostgreSQL {t} but the archive comes from PostgreSQL {s}: restoring to an older server needs --allow-downgrade"
        ),
        Origin::Source => format!(
            "the target runs PostgreSQL {t} but the source runs {s}: a sync to an older server needs --allow-downgrade"
        ),
    }))
}

/// With `--allow-downgrade` and a target older than the source: refuses
/// (`Error::Version`) when some of `objects` cannot be expressed on the
/// target, naming them.
pub(crate) fn check_downgrade(
    objects: &[Object],
    source_version_num: i32,
    target_version_num: i32,
    origin: Origin,
) -> Result<(), Error> {
    let Err(problems) =
        pgferry_catalog::check_target(objects, source_version_num, target_version_num)
    else {
        return Ok(());
    };
    let (s, t) = (
        probe::major(source_version_num),
        probe::major(target_version_num),
    );
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
        "the target runs PostgreSQL {t} but {} PostgreSQL {s}: {} cannot be expressed on PostgreSQL {t}, \
         nothing was changed on the target: {listed}",
        origin.label(),
        if problems.len() == 1 {
            "1 object".to_string()
        } else {
            format!("{} objects", problems.len())
        }
    )))
}

/// Connects to the target of a writing run: refuses a hot standby and makes
/// the session read-write (a database or role default of
/// `default_transaction_read_only = on` applies to other sessions only).
pub(crate) async fn connect_writer(spec: &ConnSpec) -> Result<Client, Error> {
    let client = connect(spec, Side::Target).await?;
    crate::watch::setup(
        Side::Target,
        "preparing the session",
        prepare_writer(&client, spec),
    )
    .await?;
    Ok(client)
}

async fn prepare_writer(client: &Client, spec: &ConnSpec) -> Result<(), Error> {
    let in_recovery: bool = client
        .query_one("SELECT pg_catalog.pg_is_in_recovery()", &[])
        .await
        .map_err(|e| Error::on_target("target: checking for a standby", e))?
        .get(0);
    if in_recovery {
        return Err(Error::Usage(format!(
            "target {spec} is a hot standby (in recovery) and cannot be written; point the target at a primary"
        )));
    }
    client
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .map_err(|e| Error::on_target("target: making the session read-write", e))?;
    Ok(())
}

/// What a writing run is about to do, for [`TargetSession::prepare`].
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// The objects it creates, in order.
    pub objects: &'a [Object],
    /// Where they come from, and that server's `server_version_num`.
    pub origin: Origin,
    pub source_version_num: i32,
    /// The target's `server_version_num` when the run already read it
    /// (sync does, to refuse an older target before reading the source).
    pub target_version_num: Option<i32>,
    pub allow_downgrade: bool,
    /// Schemas the run drops and recreates.
    pub replaced: &'a [String],
    pub filters: &'a Filters,
    pub keep_owners: bool,
    pub statistics: Statistics,
    /// Statements left out (`--no-privileges`, `--no-comments`).
    pub omit: Omit,
    /// Check the shared lock table can hold one transaction's locks (not for
    /// `restore -j`, which commits as it goes).
    pub one_transaction: bool,
}

/// A target connection prepared for a writing run: everything known and
/// checked before anything is touched.
#[derive(Debug)]
pub(crate) struct TargetSession {
    /// What the connecting role may do.
    pub rights: Rights,
    /// How the objects render for this target.
    pub render: RenderOptions,
    /// Roles the run creates (`--roles`).
    pub roles: RoleOutcome,
}

impl TargetSession {
    /// Reads the target's version and the role's rights, and refuses, naming
    /// what is at fault, a target too old, objects the role cannot create,
    /// or more locks than the server can hold.
    pub(crate) async fn prepare(client: &Client, plan: &Plan<'_>) -> Result<TargetSession, Error> {
        let version_num = match plan.target_version_num {
            Some(v) => v,
            None => {
                probe::server_version(client)
                    .await
                    .map_err(|e| Error::catalog_on(Side::Target, e))?
                    .0
            }
        };
        check_version(
            plan.source_version_num,
            version_num,
            plan.allow_downgrade,
            plan.origin,
        )?;
        check_downgrade(
            plan.objects,
            plan.source_version_num,
            version_num,
            plan.origin,
        )?;
        let mut rights = Rights::read(client, version_num).await?;
        rights.check(client, plan.objects, plan.replaced).await?;
        let roles = roles::plan(
            client,
            &mut rights,
            plan.objects,
            plan.filters.roles,
            plan.filters.roles_update,
            plan.keep_owners,
        )
        .await?;
        let render = RenderOptions {
            omit: plan.omit,
            ..rights.render(plan.keep_owners, version_num, plan.statistics)?
        };
        if plan.one_transaction {
            crate::target::locks::check_lock_budget(client, plan.objects, plan.replaced).await?;
        }
        Ok(TargetSession {
            rights,
            render,
            roles,
        })
    }

    /// Opens the run's transaction with the loading settings; `lock_timeout`
    /// bounds every lock wait in it. `what` names it in an error.
    pub(crate) async fn begin(
        &self,
        client: &Client,
        lock_timeout: Option<Duration>,
        what: &str,
    ) -> Result<(), Error> {
        let limit = lock_timeout
            .map(|t| format!("; SET LOCAL lock_timeout = {}", t.as_millis()))
            .unwrap_or_default();
        client
            .batch_execute(&format!("BEGIN READ WRITE; {SETTINGS}{limit}"))
            .await
            .map_err(|e| Error::on_target(what, e))
    }

    /// The target-owned objects outside what the run replaces that
    /// `destructive` would take along (found under a savepoint, nothing
    /// changed); `kept` tables survive the replacement.
    pub(crate) async fn dependents(
        &self,
        client: &Client,
        plan: &Plan<'_>,
        kept: &[(String, String)],
        destructive: &[String],
    ) -> Result<Carried, Error> {
        dependents::find(
            client,
            plan.replaced,
            kept,
            destructive,
            plan.objects,
            &self.rights,
        )
        .await
    }

    /// Runs the statements that remove what the run recreates; `label`
    /// prefixes a failure (`--clean`, `sync`).
    pub(crate) async fn replace(
        &self,
        client: &Client,
        label: &str,
        destructive: &[String],
    ) -> Result<(), Error> {
        for s in destructive {
            client
                .batch_execute(s)
                .await
                .map_err(|e| Error::on_target(format!("{label}: {s}"), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_target_is_refused_unless_allowed_naming_both_majors() {
        let e = check_version(170002, 150010, false, Origin::Archive).unwrap_err();
        assert!(e
            .to_string()
            .contains("the target runs PostgreSQL 15 but the archive comes from PostgreSQL 17"));
        let e = check_version(170002, 150010, false, Origin::Source).unwrap_err();
        assert!(e
            .to_string()
            .contains("the target runs PostgreSQL 15 but the source runs 17"));
        assert!(check_version(170002, 150010, true, Origin::Source).is_ok());
        assert!(check_version(150002, 170000, false, Origin::Archive).is_ok());
    }
}
