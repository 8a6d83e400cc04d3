//! Rendering of privileges that belong to no object of the catalog:
//! changed privileges on built-in objects ([`Kind::SystemAcl`]) and default
//! privileges ([`Kind::DefaultAcl`]).
use super::{grant_stmts, RenderOptions, Step};
use crate::model::*;
use crate::{quote_ident, quote_literal};

/// Statements of privileges on built-in objects and of default privileges
/// ([`Step::Unhandled`] for other kinds).
pub(super) fn render(o: &Object, opts: &RenderOptions, out: &mut Vec<String>) -> Step {
    match &o.kind {
        Kind::SystemAcl {
            target,
            column,
            grants,
            revokes,
        } => {
            if opts.owner_roles.is_some() {
                tracing::warn!(object = %o.name, "changed privileges on a built-in object need a superuser on the target; skipped");
                return Step::Finish;
            }
            let privilege = |p: &str| match column {
                Some(c) => format!("{p}({})", quote_ident(c)),
                None => p.to_string(),
            };
            for g in revokes {
                let grantee = match &g.grantee {
                    None => "PUBLIC".to_string(),
                    Some(r) if !opts.role_exists(r) => continue,
                    Some(r) => quote_ident(r),
                };
                out.push(format!(
                    "REVOKE {} ON {target} FROM {grantee}",
                    privilege(&g.privilege)
                ));
            }
            let col = column.as_ref().map(|c| quote_ident(c));
            grant_stmts(target, col.as_deref(), grants, "", None, opts, out);
            // A built-in object another major no longer has is skipped, with a warning.
            for stmt in out.iter_mut() {
                *stmt = format!(
                    "DO $pgferry$BEGIN EXECUTE {}; EXCEPTION WHEN undefined_function OR undefined_table \
                     OR undefined_column OR undefined_object THEN RAISE WARNING 'pgferry: skipped: %', SQLERRM; END$pgferry$",
                    quote_literal(stmt)
                );
            }
        }
        Kind::DefaultAcl {
            role,
            objects,
            grants,
        } => {
            if !opts.role_exists(role) {
                tracing::warn!(%role, "role does not exist on the target; default privileges skipped");
                return Step::Finish;
            }
            if !opts.can_own(role) {
                tracing::warn!(%role, "the target role is not a member of this role; its default privileges are skipped");
                return Step::Finish;
            }
            let prefix = match &o.schema {
                Some(s) => format!(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {}",
                    quote_ident(role),
                    quote_ident(s)
                ),
                None => format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}", quote_ident(role)),
            };
            if o.schema.is_none() {
                out.push(format!("{prefix} REVOKE ALL ON {objects} FROM PUBLIC"));
                out.push(format!(
                    "{prefix} REVOKE ALL ON {objects} FROM {}",
                    quote_ident(role)
                ));
            }
            let mut stmts = Vec::new();
            grant_stmts(
                objects,
                None,
                grants,
                &quote_ident(role),
                Some(role),
                opts,
                &mut stmts,
            );
            out.extend(stmts.into_iter().map(|g| {
                let (privs, rest) = g.split_once(" ON ").unwrap_or((&g, ""));
                format!("{prefix} {privs} ON {rest}")
            }));
        }
        _ => return Step::Unhandled,
    }
    Step::Continue
}
