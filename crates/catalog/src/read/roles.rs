//! Roles the read objects reference ([`Kind::Role`]), with their
//! attributes, memberships, settings and, when asked, password secrets.
use std::collections::{BTreeMap, BTreeSet};

use super::{obj, Reader, RoleSelection};
use crate::model::*;
use crate::CatalogError;

/// Adds one [`Kind::Role`] per selected role; a member's object comes after
/// its groups'.
pub(crate) async fn read_roles(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let selection = r.selector.roles();
    if selection == RoleSelection::None {
        return Ok(());
    }
    let passwords = r.selector.role_passwords();
    if passwords {
        let rows = r
            .query(
                "access to pg_authid",
                "SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')",
                &[],
            )
            .await?;
        if !rows
            .first()
            .map(|x| x.get::<bool>(0))
            .transpose()?
            .unwrap_or(false)
        {
            return Err(CatalogError::NeedsRight(
                "--role-passwords needs read access to pg_catalog.pg_authid on the source \
                 (connect as a superuser), or leave it out: roles then arrive without a password"
                    .into(),
            ));
        }
    }
    let (inherit, set) = if r.version >= 160000 {
        ("m.inherit_option", "m.set_option")
    } else {
        ("NULL::bool", "NULL::bool")
    };
    let members = r
        .query(
            "role memberships",
            &format!(
                "SELECT u.rolname::text, g.rolname::text, m.admin_option, {inherit}, {set} \
                 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles u ON u.oid = m.member \
                 JOIN pg_catalog.pg_roles g ON g.oid = m.roleid ORDER BY 1, 2"
            ),
            &[],
        )
        .await?;
    let mut member_of: BTreeMap<String, Vec<Membership>> = BTreeMap::new();
    for m in &members {
        let list = member_of.entry(m.get(0)?).or_default();
        let group: String = m.get(1)?;
        // (16+ may record one membership per grantor: keep one)
        if list.iter().all(|x| x.group != group) {
            list.push(Membership {
                group,
                admin: m.get(2)?,
                inherit: m.get(3)?,
                set: m.get(4)?,
            });
        }
    }
    let password = if passwords {
        "a.rolpassword"
    } else {
        "NULL::text"
    };
    let join = if passwords {
        "JOIN pg_catalog.pg_authid a ON a.oid = r.oid"
    } else {
        ""
    };
    let rows = r
        .query(
            "roles",
            &format!(
                "SELECT r.rolname::text, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, \
                 r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text, \
                 pg_catalog.shobj_description(r.oid, 'pg_authid'), \
                 COALESCE((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s \
                           WHERE s.setrole = r.oid AND s.setdatabase = 0), '{{}}'::text[]), {password} \
                 FROM pg_catalog.pg_roles r {join} WHERE r.rolname !~ '^pg_' ORDER BY 1"
            ),
            &[],
        )
        .await?;
    let uses = match selection {
        RoleSelection::All => rows
            .iter()
            .map(|x| Ok((x.get::<String>(0)?, BTreeSet::from(["all".to_string()]))))
            .collect::<Result<BTreeMap<_, _>, CatalogError>>()?,
        _ => with_members(referenced(&r.objects), &member_of),
    };
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        let name: String = row.get(0)?;
        let Some(why) = uses.get(&name) else { continue };
        let settings: Vec<String> = row.get(11)?;
        let mut o = obj(
            None,
            name.clone(),
            Kind::Role {
                attributes: RoleAttributes {
                    superuser: row.get(1)?,
                    inherit: row.get(2)?,
                    createrole: row.get(3)?,
                    createdb: row.get(4)?,
                    login: row.get(5)?,
                    replication: row.get(6)?,
                    bypassrls: row.get(7)?,
                    connection_limit: row.get(8)?,
                    valid_until: row.get(9)?,
                },
                password: row.get(12)?,
                settings: settings
                    .iter()
                    .map(|s| super::misc::setting_item(s))
                    .collect(),
                member_of: member_of.get(&name).cloned().unwrap_or_default(),
                uses: why.iter().cloned().collect(),
            },
        );
        o.comment = row.get(10)?;
        index.insert(name, r.add(None, o));
    }
    for (name, &i) in &index {
        for m in member_of.get(name).into_iter().flatten() {
            if let Some(&g) = index.get(&m.group) {
                r.edges.push((i, g));
            }
        }
    }
    Ok(())
}

/// Role names the objects name, with why.
fn referenced(objects: &[Object]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |role: &str, why: &str| {
        out.entry(role.to_string())
            .or_default()
            .insert(why.to_string());
    };
    let grants = |add: &mut dyn FnMut(&str, &str), acl: &[Grant]| {
        for g in acl {
            if let Some(role) = &g.grantee {
                add(role, "grantee");
            }
        }
    };
    for o in objects {
        if let Some(owner) = &o.owner {
            add(owner, "owner");
        }
        if let Some(acl) = &o.acl {
            grants(&mut add, acl);
        }
        match &o.kind {
            Kind::Policy { roles, .. } => {
                for role in roles.iter().flatten() {
                    add(role, "policy");
                }
            }
            Kind::DefaultAcl {
                role, grants: g, ..
            } => {
                add(role, "default privileges");
                grants(&mut add, g);
            }
            Kind::UserMapping { user: Some(u), .. } => add(u, "user mapping"),
            Kind::Database { role_settings, .. } => {
                for (role, _) in role_settings {
                    add(role, "database settings");
                }
            }
            Kind::SystemAcl { grants: g, .. } => grants(&mut add, g),
            Kind::LargeObjects { items } => {
                for lo in items {
                    if let Some(owner) = &lo.owner {
                        add(owner, "owner");
                    }
                    if let Some(acl) = &lo.acl {
                        grants(&mut add, acl);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Adds the roles that are (transitively) members of the referenced ones:
/// the logins that use the objects through a group.
fn with_members(
    mut roles: BTreeMap<String, BTreeSet<String>>,
    member_of: &BTreeMap<String, Vec<Membership>>,
) -> BTreeMap<String, BTreeSet<String>> {
    loop {
        let mut added = false;
        for (member, groups) in member_of {
            if !roles.contains_key(member) && groups.iter().any(|g| roles.contains_key(&g.group)) {
                roles.insert(member.clone(), BTreeSet::from(["member".to_string()]));
                added = true;
            }
        }
        if !added {
            return roles;
        }
    }
}
