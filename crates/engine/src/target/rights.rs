//! What the connecting role may do on the target, known before anything is
//! touched.
//!
//! Managed services (RDS, Cloud SQL, Azure, Supabase, ...) hand out a role
//! that owns the database but is not a superuser; disaster-recovery copies
//! are often guarded with `default_transaction_read_only = on`. Both must
//! sync: pgferry's own session runs `READ WRITE` (the setting itself stays
//! as it was), emits no ownership statement the role cannot run, terminates
//! only the sessions it may, and names up front the objects that need rights
//! it lacks.
use std::collections::{BTreeSet, HashSet};

use pgferry_catalog::{Kind, Object, RenderOptions, Statistics, RESTORE_STATS_VERSION};
use tokio_postgres::Client;

use crate::error::Error;

/// What the connecting role may do on the target.
#[derive(Debug, Clone)]
pub(crate) struct Rights {
    /// The connecting role.
    pub role: String,
    /// It is a superuser.
    pub superuser: bool,
    /// Every role on the target.
    pub roles: HashSet<String>,
    /// The roles it is a member of (itself included): ownership can go to these.
    pub member_of: HashSet<String>,
    /// The target's `server_version_num`.
    pub version_num: i32,
    /// What to do with carried roles (set by `roles::plan`).
    pub role_plan: Option<pgferry_catalog::RolePlan>,
}

impl Rights {
    /// Reads the connecting role's rights.
    pub(crate) async fn read(client: &Client, version_num: i32) -> Result<Rights, Error> {
        // Giving an object to a role needs SET on it from 16 on (membership before).
        let may_own = if version_num >= 160000 {
            "SET"
        } else {
            "MEMBER"
        };
        let rows = client
            .query(
                "SELECT r.rolname::text, pg_catalog.pg_has_role(current_user, r.oid, $1), \
                 r.rolname = current_user, r.rolsuper FROM pg_catalog.pg_roles r",
                &[&may_own],
            )
            .await
            .map_err(|e| Error::on_target("target: listing roles", e))?;
        let mut rights = Rights {
            role: String::new(),
            superuser: false,
            roles: HashSet::new(),
            member_of: HashSet::new(),
            version_num,
            role_plan: None,
        };
        for r in rows {
            let decode =
                |e: tokio_postgres::Error| Error::Usage(format!("target: reading roles: {e}"));
            let name: String = r.try_get(0).map_err(decode)?;
            if r.try_get::<_, bool>(1).map_err(decode)? {
                rights.member_of.insert(name.clone());
            }
            if r.try_get::<_, bool>(2).map_err(decode)? {
                rights.role = name.clone();
                rights.superuser = r.try_get(3).map_err(decode)?;
            }
            rights.roles.insert(name);
        }
        // pg_database_owner's one member is the database owner, implicitly.
        let owns_db: bool = client
            .query_one(
                "SELECT pg_catalog.pg_has_role(current_user, d.datdba, 'MEMBER') FROM pg_catalog.pg_database d \
                 WHERE d.datname = pg_catalog.current_database()",
                &[],
            )
            .await
            .map_err(|e| Error::on_target("target: reading the database owner", e))?
            .get(0);
        if owns_db || rights.superuser {
            rights.member_of.insert("pg_database_owner".into());
        }
        Ok(rights)
    }

    /// Render options for this target.
    pub(crate) fn render(
        &self,
        keep_owners: bool,
        target_version: i32,
        statistics: Statistics,
    ) -> Result<RenderOptions, Error> {
        if statistics == Statistics::Copy && target_version < RESTORE_STATS_VERSION {
            return Err(Error::Usage(format!(
                "--statistics copy needs a PostgreSQL 18 target (pg_restore_relation_stats); the target runs {}: \
                 use --statistics analyze, or leave the default (copy where the target can, else analyze)",
                pgferry_catalog::probe::major(target_version)
            )));
        }
        Ok(RenderOptions {
            keep_owners,
            roles: Some(self.roles.clone()),
            owner_roles: (!self.superuser).then(|| self.member_of.clone()),
            target_version,
            statistics,
            role_plan: self.role_plan.clone(),
            omit: Default::default(),
        })
    }

    /// Before anything is touched: the objects of `objects` that need rights
    /// a non-superuser role lacks (event triggers, functions in untrusted
    /// languages, extensions it cannot create, publications for all tables),
    /// named with the right they need. `replaced` are the schemas the run
    /// drops (an extension installed in one of them is created again).
    pub(crate) async fn check(
        &self,
        client: &Client,
        objects: &[Object],
        replaced: &[String],
    ) -> Result<(), Error> {
        let rows = client
            .query(
                "SELECT l.lanname::text, l.lanpltrusted FROM pg_catalog.pg_language l",
                &[],
            )
            .await
            .map_err(|e| Error::on_target("target: listing languages", e))?;
        let trusted: HashSet<String> = rows
            .iter()
            .filter(|r| r.get::<_, bool>(1))
            .map(|r| r.get(0))
            .collect();
        let mut languages: HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
        let mut trusted = trusted;
        // Languages the objects create themselves.
        for o in objects {
            if let Kind::Language { trusted: t, .. } = &o.kind {
                languages.insert(o.name.clone());
                if *t {
                    trusted.insert(o.name.clone());
                }
            }
        }
        let rows = client
            .query(
                "SELECT a.name::text, bool_or(v.trusted), \
                 (SELECT n.nspname::text FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n \
                  ON n.oid = e.extnamespace WHERE e.extname = a.name) \
                 FROM pg_catalog.pg_available_extensions a \
                 LEFT JOIN pg_catalog.pg_available_extension_versions v ON v.name = a.name GROUP BY a.name",
                &[],
            )
            .await
            .map_err(|e| Error::on_target("target: listing available extensions", e))?;
        let extensions: Vec<(String, bool, Option<String>)> = rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get::<_, Option<bool>>(1).unwrap_or(false),
                    r.get(2),
                )
            })
            .collect();
        let mut problems: BTreeSet<String> = BTreeSet::new();
        for o in objects {
            match &o.kind {
                Kind::Extension { .. } => match extensions.iter().find(|(n, _, _)| *n == o.name) {
                    None => {
                        problems.insert(format!(
                                "extension {} is not installed on the target server (its files are missing)",
                                o.name
                            ));
                    }
                    Some((_, is_trusted, installed_in)) => {
                        let kept = installed_in.as_ref().is_some_and(|s| !replaced.contains(s));
                        if !self.superuser && !is_trusted && !kept {
                            problems.insert(format!(
                                    "extension {} needs a superuser to create (it is not trusted); \
                                     create it on the target first, in a schema the sync does not replace",
                                    o.name
                                ));
                        }
                    }
                },
                Kind::Function { def, .. } => {
                    let Some(lang) = function_language(def) else {
                        continue;
                    };
                    if !languages.contains(&lang) {
                        problems.insert(format!(
                            "{} {} is written in language {lang}, which the target does not have",
                            o.kind.label(),
                            o.display_name()
                        ));
                    } else if !self.superuser && !trusted.contains(&lang) {
                        problems.insert(format!(
                            "{} {} is written in the untrusted language {lang}: creating it needs a superuser",
                            o.kind.label(),
                            o.display_name()
                        ));
                    }
                }
                Kind::EventTrigger { .. } if !self.superuser => {
                    problems.insert(format!(
                        "event trigger {}: creating it needs a superuser",
                        o.name
                    ));
                }
                Kind::BaseType { .. }
                | Kind::ShellType
                | Kind::AccessMethod { .. }
                | Kind::OperatorFamily { .. }
                | Kind::OperatorClass { .. }
                | Kind::TsParser { .. }
                | Kind::TsTemplate { .. }
                | Kind::Language { .. }
                | Kind::Transform { .. }
                | Kind::ForeignDataWrapper { .. }
                    if !self.superuser =>
                {
                    problems.insert(format!(
                        "{} {}: creating it needs a superuser",
                        o.kind.label().to_lowercase(),
                        o.display_name()
                    ));
                }
                Kind::Database { .. }
                    if !self.superuser && !self.member_of.contains("pg_database_owner") =>
                {
                    problems.insert(
                        "the database's own properties (settings, comment, privileges): setting them needs its owner"
                            .to_string(),
                    );
                }
                Kind::Subscription { .. }
                    if !(self.superuser
                        || self.version_num >= 160000
                            && self.member_of.contains("pg_create_subscription")) =>
                {
                    problems.insert(format!(
                        "subscription {}: creating it needs a superuser (or, from 16 on, pg_create_subscription)",
                        o.name
                    ));
                }
                Kind::Publication {
                    all_tables: true, ..
                } if !self.superuser => {
                    problems.insert(format!(
                        "publication {} FOR ALL TABLES: creating it needs a superuser",
                        o.name
                    ));
                }
                _ => {}
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let n = problems.len();
        let listed: Vec<String> = problems.into_iter().take(5).collect();
        Err(Error::Privileges(format!(
            "the target role {} {}cannot create {} of the objects, nothing was changed on the target: {}{}",
            self.role,
            if self.superuser { "" } else { "(not a superuser) " },
            if n == 1 { "1".to_string() } else { n.to_string() },
            listed.join("; "),
            if n > 5 {
                format!("; and {} more", n - 5)
            } else {
                String::new()
            }
        )))
    }

    /// Terminates the other sessions on the target database that this role
    /// may terminate (all for a superuser; else those of roles it is a member
    /// of, or any non-superuser's with `pg_signal_backend`). `keep` are
    /// pgferry's own pids. (A non-superuser does not see other roles'
    /// `backend_type`: a session with a role and no visible type counts as a
    /// client.) Returns how many were terminated; the others are
    /// named in a warning and waited for (bounded by the lock timeout).
    /// `among`: only these sessions (those found blocking), else all.
    pub(crate) async fn terminate_sessions(
        &self,
        client: &Client,
        keep: &[i32],
        among: Option<&[i32]>,
    ) -> Result<i64, Error> {
        let among: Option<Vec<i32>> = among.map(<[i32]>::to_vec);
        let rows = client
            .query(
                "SELECT a.pid, COALESCE(a.usename::text, '?'), \
                   (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = a.usesysid) IS TRUE AS su, \
                   a.usesysid IS NOT NULL AND pg_catalog.pg_has_role(current_user, a.usesysid, 'USAGE') AS member, \
                   pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal \
                 FROM pg_catalog.pg_stat_activity a \
                 WHERE a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid() \
                   AND (a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL)) \
                   AND a.pid <> ALL($1::int4[]) AND ($2::int4[] IS NULL OR a.pid = ANY($2::int4[]))",
                &[&keep, &among],
            )
            .await
            .map_err(|e| Error::on_target("target: listing other sessions", e))?;
        let mut may = Vec::new();
        let mut may_not = Vec::new();
        for r in rows {
            let (pid, user, su, member, signal): (i32, String, bool, bool, bool) =
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
            if self.superuser || (!su && (member || signal)) {
                may.push(pid);
            } else {
                may_not.push(format!("pid {pid} of role {user}"));
            }
        }
        if !may_not.is_empty() {
            tracing::warn!(
                sessions = %may_not.join(", "),
                role = %self.role,
                "target: these sessions cannot be terminated by this role; waiting for their locks (--lock-timeout)"
            );
        }
        if may.is_empty() {
            return Ok(0);
        }
        let n: i64 = client
            .query_one(
                "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(p)) FROM pg_catalog.unnest($1::int4[]) p",
                &[&may],
            )
            .await
            .map_err(|e| Error::on_target("target: terminating other sessions", e))?
            .get(0);
        Ok(n)
    }
}

/// The `LANGUAGE` of a `pg_get_functiondef` text.
fn function_language(def: &str) -> Option<String> {
    def.lines()
        .find_map(|l| l.trim_start().strip_prefix("LANGUAGE "))
        .map(|l| l.trim().trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_of_a_function_definition() {
        let def = "CREATE OR REPLACE FUNCTION public.f()\n RETURNS integer\n LANGUAGE sql\n IMMUTABLE\nAS $function$select 1$function$\n";
        assert_eq!(function_language(def).as_deref(), Some("sql"));
        assert_eq!(function_language("nothing"), None);
    }
}
