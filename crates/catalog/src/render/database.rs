//! Rendering of what belongs to the database as a whole: schemas,
//! extensions, large objects, publications, subscriptions, event triggers,
//! foreign data wrappers, servers and user mappings, and the database's
//! own properties.
use super::{comment_stmt, enable_state, grant_stmts, replace_acl, RenderOptions, Step};
use crate::model::*;
use crate::{quote_ident, quote_literal};

/// Statements of a database-wide object or a schema ([`Step::Unhandled`] for other kinds).
pub(super) fn render(o: &Object, opts: &RenderOptions, out: &mut Vec<String>) -> Step {
    let q = o.qualified_name();
    match &o.kind {
        Kind::Schema => out.push(if o.name == "public" {
            "CREATE SCHEMA IF NOT EXISTS public".to_string()
        } else {
            format!("CREATE SCHEMA {q}")
        }),
        Kind::Extension { schema, .. } => out.push(format!(
            "CREATE EXTENSION IF NOT EXISTS {q} WITH SCHEMA {}",
            quote_ident(schema)
        )),
        Kind::LargeObjects { items } => {
            let (create, after) = large_object_statements(items, opts);
            out.extend(create);
            out.extend(after);
        }
        Kind::Publication {
            all_tables,
            options,
            tables,
            schemas,
        } => {
            out.push(format!(
                "CREATE PUBLICATION {}{} WITH ({})",
                quote_ident(&o.name),
                if *all_tables { " FOR ALL TABLES" } else { "" },
                options.join(", ")
            ));
            for (t, cols, filter) in tables {
                let mut stmt = format!(
                    "ALTER PUBLICATION {} ADD TABLE ONLY {}",
                    quote_ident(&o.name),
                    t.sql()
                );
                if let Some(c) = cols {
                    stmt.push_str(&format!(" ({c})"));
                }
                if let Some(w) = filter {
                    stmt.push_str(&format!(" WHERE ({w})"));
                }
                out.push(stmt);
            }
            for sch in schemas {
                out.push(format!(
                    "ALTER PUBLICATION {} ADD TABLES IN SCHEMA {}",
                    quote_ident(&o.name),
                    quote_ident(sch)
                ));
            }
        }
        Kind::EventTrigger {
            event,
            tags,
            function,
            enabled,
        } => {
            let when = if tags.is_empty() {
                String::new()
            } else {
                format!(
                    " WHEN TAG IN ({})",
                    tags.iter()
                        .map(|t| quote_literal(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            out.push(format!(
                "CREATE EVENT TRIGGER {} ON {event}{when} EXECUTE FUNCTION {function}()",
                quote_ident(&o.name)
            ));
            if let Some(state) = enable_state(*enabled) {
                out.push(format!(
                    "ALTER EVENT TRIGGER {} {state}",
                    quote_ident(&o.name)
                ));
            }
        }
        Kind::ForeignDataWrapper {
            handler,
            validator,
            options,
        } => {
            let mut s = format!("CREATE FOREIGN DATA WRAPPER {}", quote_ident(&o.name));
            if let Some(h) = handler {
                s.push_str(&format!(" HANDLER {h}"));
            }
            if let Some(v) = validator {
                s.push_str(&format!(" VALIDATOR {v}"));
            }
            push_options(&mut s, options);
            out.push(s);
        }
        Kind::ForeignServer {
            wrapper,
            server_type,
            version,
            options,
        } => {
            let mut s = format!("CREATE SERVER {}", quote_ident(&o.name));
            if let Some(t) = server_type {
                s.push_str(&format!(" TYPE {}", quote_literal(t)));
            }
            if let Some(v) = version {
                s.push_str(&format!(" VERSION {}", quote_literal(v)));
            }
            s.push_str(&format!(" FOREIGN DATA WRAPPER {}", quote_ident(wrapper)));
            push_options(&mut s, options);
            out.push(s);
        }
        Kind::UserMapping {
            user,
            server,
            options,
        } => {
            let user_sql = match user {
                None => "PUBLIC".to_string(),
                Some(u) if !opts.role_exists(u) => {
                    tracing::warn!(role = %u, %server, "role does not exist on the target; user mapping skipped");
                    return Step::Finish;
                }
                Some(u) => quote_ident(u),
            };
            let mut s = format!(
                "CREATE USER MAPPING FOR {user_sql} SERVER {}",
                quote_ident(server)
            );
            push_options(&mut s, options);
            out.push(s);
        }
        Kind::Subscription {
            conninfo,
            publications,
            options,
        } => out.push(format!(
            "CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH (connect = false{})",
            quote_ident(&o.name),
            quote_literal(conninfo),
            publications
                .iter()
                .map(|p| quote_ident(p))
                .collect::<Vec<_>>()
                .join(", "),
            options.iter().map(|o| format!(", {o}")).collect::<String>()
        )),
        Kind::Database {
            settings,
            role_settings,
        } => {
            // Aimed at the database the statements run in, whatever its
            // name: DB stands for it until the DO block below.
            const DB: &str = "\u{1}";
            // (statement, a setting: skipped with a warning where the
            // target's major does not have it or rejects its value)
            let mut stmts: Vec<(String, bool)> = Vec::new();
            for item in settings {
                stmts.push((format!("ALTER DATABASE {DB} SET {item}"), true));
            }
            for (role, items) in role_settings {
                if !opts.role_exists(role) {
                    tracing::warn!(%role, "role does not exist on the target; its database settings are skipped");
                    continue;
                }
                if opts.owner_roles.is_some() {
                    tracing::warn!(%role, "per-role database settings need a superuser on the target; skipped");
                    continue;
                }
                for item in items {
                    stmts.push((
                        format!(
                            "ALTER ROLE {} IN DATABASE {DB} SET {item}",
                            quote_ident(role)
                        ),
                        true,
                    ));
                }
            }
            if let Some(c) = &o.comment {
                stmts.push((
                    format!("COMMENT ON DATABASE {DB} IS {}", quote_literal(c)),
                    false,
                ));
            }
            if let Some(acl) = &o.acl {
                let mut acl_stmts = vec![format!("REVOKE ALL ON DATABASE {DB} FROM PUBLIC")];
                grant_stmts(
                    &format!("DATABASE {DB}"),
                    None,
                    acl,
                    "CURRENT_USER",
                    None,
                    opts,
                    &mut acl_stmts,
                );
                stmts.extend(acl_stmts.into_iter().map(|s| (s, false)));
            }
            for (s, setting) in stmts {
                let (before, after) = s.split_once(DB).unwrap_or((&s, ""));
                let guard = if setting {
                    " EXCEPTION WHEN undefined_object OR invalid_parameter_value THEN \
                     RAISE WARNING 'pgferry: database setting skipped: %', SQLERRM;"
                } else {
                    ""
                };
                out.push(format!(
                    "DO $pgferry$BEGIN EXECUTE {} || pg_catalog.quote_ident(pg_catalog.current_database()) || {};{guard} END$pgferry$",
                    quote_literal(before),
                    quote_literal(after)
                ));
            }
            return Step::Finish;
        }
        _ => return Step::Unhandled,
    }
    Step::Continue
}

/// ` OPTIONS (...)`, when there are options.
fn push_options(s: &mut String, options: &[String]) {
    if !options.is_empty() {
        s.push_str(&format!(" OPTIONS ({})", options.join(", ")));
    }
}

/// The statements of the large objects: those that create them (empty,
/// OIDs kept), to run before their contents are written, and their owners,
/// privileges and comments, to run after (a privilege set may take the
/// writer's own UPDATE away).
pub fn large_object_statements(
    items: &[LargeObject],
    opts: &RenderOptions,
) -> (Vec<String>, Vec<String>) {
    let create = items
        .iter()
        .map(|lo| format!("SELECT pg_catalog.lo_create('{}')", lo.oid))
        .collect();
    let mut out = Vec::new();
    for lo in items {
        let target = format!("LARGE OBJECT {}", lo.oid);
        let owner = lo
            .owner
            .as_ref()
            .filter(|r| opts.keep_owners && opts.can_own(r))
            .map(|r| quote_ident(r));
        if let Some(o) = &owner {
            out.push(format!("ALTER {target} OWNER TO {o}"));
        }
        if let Some(acl) = &lo.acl {
            let owner_sql = owner.clone().unwrap_or_else(|| "CURRENT_USER".into());
            replace_acl(
                &target,
                acl,
                &owner_sql,
                lo.owner.as_deref(),
                opts,
                &mut out,
            );
        }
        if let Some(c) = &lo.comment {
            out.push(comment_stmt("LARGE OBJECT", &lo.oid.to_string(), c));
        }
    }
    (create, super::omit(out, opts))
}
