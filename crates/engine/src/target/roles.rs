//! `--roles`: which carried roles ([`Kind::Role`]) a run creates on the
//! target, what the target role cannot give them, and who arrives without
//! a password. Everything happens in the run's transaction.
use pgferry_catalog::{Kind, Object, RolePlan, RoleSelection};
use tokio_postgres::Client;

use crate::error::Error;
use crate::target::rights::Rights;

/// What the role plan did, for the report.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleOutcome {
    /// Roles created.
    pub created: Vec<String>,
    /// Login roles created (or updated) without a password.
    pub without_password: Vec<String>,
}

/// Plans the carried roles on `rights`' target: a role the target lacks is
/// created (one carried only as an owner, only with `keep_owners`);
/// existing ones change only with `update`. Refuses, before anything
/// changes, when roles must be created and the target role may not.
pub(crate) async fn plan(
    client: &Client,
    rights: &mut Rights,
    objects: &[Object],
    selection: RoleSelection,
    update: bool,
    keep_owners: bool,
) -> Result<RoleOutcome, Error> {
    let mut out = RoleOutcome::default();
    if selection == RoleSelection::None {
        return Ok(out);
    }
    if !objects.iter().any(|o| matches!(o.kind, Kind::Role { .. })) {
        tracing::warn!("--roles: there are no roles to carry (an archive made without `dump --roles` holds none)");
        return Ok(out);
    }
    let row = client
        .query_one(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls \
             FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| Error::on_target("target: reading the role's attributes", e))?;
    let has = |i: usize| row.get::<_, bool>(i);
    let (superuser, createrole) = (has(0), has(1));
    let mut withheld = Vec::new();
    if !superuser {
        withheld.push("SUPERUSER");
        // 16+ lets a CREATEROLE role give what it has itself; before, only
        // a superuser gives these.
        let new = rights.version_num >= 160000;
        for (attr, own) in [
            ("REPLICATION", has(3)),
            ("BYPASSRLS", has(4)),
            ("CREATEDB", has(2) || !new),
            ("CREATEROLE", createrole || !new),
        ] {
            if !(new && own) && (attr == "REPLICATION" || attr == "BYPASSRLS" || !own) {
                withheld.push(attr);
            }
        }
    }
    let mut plan = RolePlan {
        update,
        withheld,
        ..Default::default()
    };
    let mut unchanged = Vec::new();
    for o in objects {
        let Kind::Role {
            attributes,
            password,
            uses,
            ..
        } = &o.kind
        else {
            continue;
        };
        let exists = rights.roles.contains(&o.name);
        if !exists {
            if !keep_owners && uses.iter().all(|u| u == "owner") {
                continue;
            }
            plan.create.insert(o.name.clone());
        } else if !update {
            unchanged.push(o.name.clone());
            continue;
        }
        let lost = plan.withheld_from(attributes);
        if !lost.is_empty() {
            tracing::warn!(role = %o.name, attributes = %lost.join(", "),
                "the target role cannot give these attributes; the role gets them not");
        }
        if attributes.login && password.is_none() && !exists {
            out.without_password.push(o.name.clone());
        }
    }
    if !plan.create.is_empty() && !superuser && !createrole {
        let mut names: Vec<&String> = plan.create.iter().collect();
        names.sort();
        return Err(Error::Privileges(format!(
            "--roles: the target role {} may not create roles (it needs CREATEROLE) and the target lacks: {}",
            rights.role,
            names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    if !unchanged.is_empty() {
        tracing::info!(roles = %unchanged.join(", "), "roles already on the target are left as they are (--roles update changes them)");
    }
    for r in &out.without_password {
        tracing::warn!(role = %r, "login role created without a password (--role-passwords carries them)");
    }
    out.created = plan.create.iter().cloned().collect();
    out.created.sort();
    rights.roles.extend(plan.create.iter().cloned());
    rights.role_plan = Some(plan);
    Ok(out)
}
