//! Rendering of [`Kind::Role`]: `CREATE ROLE` for the roles a run creates,
//! `ALTER ROLE` only when asked to update existing ones, memberships.
use std::collections::HashSet;

use crate::model::*;
use crate::render::RenderOptions;
use crate::{quote_ident, quote_literal};

/// What a run does with the roles it carries.
#[derive(Debug, Clone, Default)]
pub struct RolePlan {
    /// Roles the target lacks: created.
    pub create: HashSet<String>,
    /// Existing roles are brought to the source's attributes, settings and
    /// memberships (`--roles update`); else they are left alone.
    pub update: bool,
    /// Attributes the target role cannot give (`SUPERUSER`, `REPLICATION`,
    /// `BYPASSRLS`, ...): left out.
    pub withheld: Vec<&'static str>,
}

impl RolePlan {
    /// The attributes of `a` the plan withholds.
    pub fn withheld_from(&self, a: &RoleAttributes) -> Vec<&'static str> {
        self.withheld
            .iter()
            .copied()
            .filter(|w| attribute(a, w))
            .collect()
    }
}

fn attribute(a: &RoleAttributes, name: &str) -> bool {
    match name {
        "SUPERUSER" => a.superuser,
        "CREATEROLE" => a.createrole,
        "CREATEDB" => a.createdb,
        "REPLICATION" => a.replication,
        "BYPASSRLS" => a.bypassrls,
        _ => false,
    }
}

/// Statements for a [`Kind::Role`] under `opts.role_plan` (none: a script,
/// which creates every role).
pub(crate) fn render_role(o: &Object, opts: &RenderOptions) -> Vec<String> {
    let Kind::Role {
        attributes: a,
        password,
        settings,
        member_of,
        ..
    } = &o.kind
    else {
        return Vec::new();
    };
    let name = quote_ident(&o.name);
    let default_plan = RolePlan::default();
    let plan = opts.role_plan.as_ref().unwrap_or(&default_plan);
    let create = opts.role_plan.is_none() || plan.create.contains(&o.name);
    let mut out = Vec::new();
    if create || plan.update {
        let flag =
            |on: bool, yes: &str, no: &str| if on { yes.to_string() } else { no.to_string() };
        let withheld = plan.withheld_from(a);
        let mut w = vec![
            flag(a.superuser, "SUPERUSER", "NOSUPERUSER"),
            flag(a.inherit, "INHERIT", "NOINHERIT"),
            flag(a.createrole, "CREATEROLE", "NOCREATEROLE"),
            flag(a.createdb, "CREATEDB", "NOCREATEDB"),
            flag(a.login, "LOGIN", "NOLOGIN"),
            flag(a.replication, "REPLICATION", "NOREPLICATION"),
            flag(a.bypassrls, "BYPASSRLS", "NOBYPASSRLS"),
        ];
        // What the target role cannot give is left out (a non-superuser
        // may not even say NOSUPERUSER on an existing role).
        w.retain(|x| !withheld.contains(&x.as_str()));
        if !opts.superuser_target() {
            w.retain(|x| x != "NOSUPERUSER" && x != "NOREPLICATION" && x != "NOBYPASSRLS");
        }
        if a.connection_limit >= 0 {
            w.push(format!("CONNECTION LIMIT {}", a.connection_limit));
        }
        if let Some(v) = &a.valid_until {
            w.push(format!("VALID UNTIL {}", quote_literal(v)));
        }
        if let Some(p) = password {
            w.push(format!("PASSWORD {}", quote_literal(p)));
        }
        let verb = if create { "CREATE" } else { "ALTER" };
        out.push(format!("{verb} ROLE {name} WITH {}", w.join(" ")));
        for item in settings {
            out.push(format!("ALTER ROLE {name} SET {item}"));
        }
        if let Some(c) = &o.comment {
            out.push(format!("COMMENT ON ROLE {name} IS {}", quote_literal(c)));
        }
    }
    for m in member_of {
        // Between roles that both stay as they were, nothing changes.
        let group_created = opts.role_plan.is_none() || plan.create.contains(&m.group);
        if !(create || plan.update || group_created)
            || !opts.role_exists(&m.group)
            || !opts.role_exists(&o.name)
        {
            continue;
        }
        let with = if opts.older_than(16) || m.inherit.is_none() {
            if m.admin {
                " WITH ADMIN OPTION".to_string()
            } else {
                String::new()
            }
        } else {
            format!(
                " WITH ADMIN {}, INHERIT {}, SET {}",
                m.admin,
                m.inherit.unwrap_or(true),
                m.set.unwrap_or(true)
            )
        };
        let grant = format!("GRANT {} TO {name}{with}", quote_ident(&m.group));
        // A membership the target role may not grant (no ADMIN on the
        // group) is skipped with a warning, in a subtransaction.
        out.push(format!(
            "DO $pgferry$ BEGIN {grant}; EXCEPTION WHEN insufficient_privilege THEN \
             RAISE WARNING 'membership of role % in % skipped: %', {}, {}, SQLERRM; END $pgferry$",
            quote_literal(&o.name),
            quote_literal(&m.group)
        ));
    }
    out
}
