//! DDL rendering from the model, on the restore side.
use std::collections::HashSet;

use crate::model::*;
use crate::{quote_ident, quote_literal};

/// How to render DDL for a target.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Restore the source's ownership (else objects belong to the connecting user).
    pub keep_owners: bool,
    /// Roles that exist on the target; grants to other roles are skipped with a
    /// warning. `None` renders every grant.
    pub roles: Option<HashSet<String>>,
    /// Roles the connecting role may give objects to (it is a member of
    /// them; every role for a superuser). Ownership statements naming
    /// other roles are left out, so a non-superuser target never runs an
    /// `ALTER ... OWNER TO` or `ALTER DEFAULT PRIVILEGES FOR ROLE` it is not
    /// allowed to. `None`: every role.
    pub owner_roles: Option<HashSet<String>>,
    /// `server_version_num` of the target (0: same as the source).
    pub target_version: i32,
    /// How planner statistics ([`Kind::RelationStats`]) are applied.
    pub statistics: crate::Statistics,
    /// What to do with carried roles ([`Kind::Role`]); `None`: create them
    /// all (a script).
    pub role_plan: Option<crate::RolePlan>,
}

impl RenderOptions {
    pub(crate) fn role_exists(&self, role: &str) -> bool {
        self.roles.as_ref().is_none_or(|r| r.contains(role))
    }

    /// Ownership may be given to `role` (it exists, and the connecting role may act for it).
    fn can_own(&self, role: &str) -> bool {
        self.role_exists(role) && self.owner_roles.as_ref().is_none_or(|r| r.contains(role))
    }

    /// The target is a server older than `major` (never when `target_version`
    /// is 0, i.e. the source's own version). What an older target does not
    /// know and can safely lose is left out (see `downgrade.rs`); what it
    /// cannot express is refused beforehand by [`crate::check_target`].
    /// The target role is a superuser (or unknown: a script).
    pub(crate) fn superuser_target(&self) -> bool {
        self.owner_roles.is_none()
    }

    pub(crate) fn older_than(&self, major: i32) -> bool {
        self.target_version != 0 && self.target_version / 10000 < major
    }
}

/// Renders every object's statements as one SQL script (what a restore would run,
/// without the data).
pub fn render_script(catalog: &Catalog, opts: &RenderOptions) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "-- pgferry DDL for database {} (PostgreSQL {})\nSET check_function_bodies = false;\nSET standard_conforming_strings = on;\nSELECT pg_catalog.set_config('search_path', '', false);\n",
        catalog.database, catalog.server_version
    ));
    for o in &catalog.objects {
        let stmts = render_object(o, opts);
        if stmts.is_empty() {
            continue;
        }
        out.push_str(&format!("\n-- {} {}\n", o.kind.label(), o.display_name()));
        for s in stmts {
            out.push_str(&s);
            out.push_str(";\n");
        }
    }
    out
}

/// The `COMMENT ON`/`ALTER ... OWNER` designation of an object, if it has one.
fn designation(o: &Object) -> Option<(&'static str, String)> {
    let q = o.qualified_name();
    Some(match &o.kind {
        Kind::Schema => ("SCHEMA", quote_ident(&o.name)),
        Kind::Extension { .. } => ("EXTENSION", quote_ident(&o.name)),
        Kind::Enum { .. } | Kind::Composite { .. } | Kind::Range { .. } => ("TYPE", q),
        Kind::Collation { .. } => ("COLLATION", q),
        Kind::Cast { source, target, .. } => ("CAST", format!("({source} AS {target})")),
        Kind::Publication { .. } => ("PUBLICATION", quote_ident(&o.name)),
        Kind::EventTrigger { .. } => ("EVENT TRIGGER", quote_ident(&o.name)),
        Kind::Domain { .. } => ("DOMAIN", q),
        Kind::Function {
            identity_args,
            procedure,
            ..
        } => (
            if *procedure { "PROCEDURE" } else { "FUNCTION" },
            format!("{q}({identity_args})"),
        ),
        Kind::Aggregate(a) => (
            "AGGREGATE",
            format!(
                "{q}({})",
                if a.identity_args.is_empty() {
                    "*"
                } else {
                    &a.identity_args
                }
            ),
        ),
        Kind::Operator { left, right, .. } => (
            "OPERATOR",
            format!(
                "{}.{}({}, {})",
                quote_ident(o.schema.as_deref().unwrap_or("public")),
                o.name,
                left.as_deref().unwrap_or("NONE"),
                right.as_deref().unwrap_or("NONE")
            ),
        ),
        Kind::Sequence { .. } => ("SEQUENCE", q),
        Kind::Table(def) if def.foreign.is_some() => ("FOREIGN TABLE", q),
        Kind::Table(_) => ("TABLE", q),
        Kind::View { .. } => ("VIEW", q),
        Kind::MatView { .. } => ("MATERIALIZED VIEW", q),
        Kind::TsDictionary { .. } => ("TEXT SEARCH DICTIONARY", q),
        Kind::TsConfiguration { .. } => ("TEXT SEARCH CONFIGURATION", q),
        Kind::Index { .. } => ("INDEX", q),
        Kind::Statistics { .. } => ("STATISTICS", q),
        Kind::Constraint { table, .. } => (
            "CONSTRAINT",
            format!("{} ON {}", quote_ident(&o.name), table.sql()),
        ),
        Kind::Trigger { table, .. } => (
            "TRIGGER",
            format!("{} ON {}", quote_ident(&o.name), table.sql()),
        ),
        Kind::Rule { table, .. } => (
            "RULE",
            format!("{} ON {}", quote_ident(&o.name), table.sql()),
        ),
        Kind::Policy { table, .. } => (
            "POLICY",
            format!("{} ON {}", quote_ident(&o.name), table.sql()),
        ),
        Kind::BaseType { .. } | Kind::ShellType => ("TYPE", q),
        Kind::AccessMethod { .. } => ("ACCESS METHOD", quote_ident(&o.name)),
        Kind::OperatorFamily { method, .. } => (
            "OPERATOR FAMILY",
            format!("{q} USING {}", quote_ident(method)),
        ),
        Kind::OperatorClass { method, .. } => (
            "OPERATOR CLASS",
            format!("{q} USING {}", quote_ident(method)),
        ),
        Kind::Conversion { .. } => ("CONVERSION", q),
        Kind::Language { .. } => ("LANGUAGE", quote_ident(&o.name)),
        Kind::Transform {
            type_sql, language, ..
        } => (
            "TRANSFORM",
            format!("FOR {type_sql} LANGUAGE {}", quote_ident(language)),
        ),
        Kind::TsParser { .. } => ("TEXT SEARCH PARSER", q),
        Kind::TsTemplate { .. } => ("TEXT SEARCH TEMPLATE", q),
        Kind::ForeignDataWrapper { .. } => ("FOREIGN DATA WRAPPER", quote_ident(&o.name)),
        Kind::ForeignServer { .. } => ("SERVER", quote_ident(&o.name)),
        Kind::Subscription { .. } => ("SUBSCRIPTION", quote_ident(&o.name)),
        _ => return None,
    })
}

/// The `GRANT ... ON <kind> <name>` designation.
fn grant_target(o: &Object) -> Option<String> {
    let (kw, name) = designation(o)?;
    let kw = match (&o.kind, kw) {
        (Kind::Table(_) | Kind::View { .. } | Kind::MatView { .. }, _) => "TABLE",
        (Kind::Aggregate(_), _) => "FUNCTION",
        (Kind::ForeignServer { .. }, _) => "FOREIGN SERVER",
        (
            Kind::Schema
            | Kind::Sequence { .. }
            | Kind::Function { .. }
            | Kind::Enum { .. }
            | Kind::Composite { .. }
            | Kind::Range { .. }
            | Kind::Domain { .. }
            | Kind::BaseType { .. }
            | Kind::Language { .. }
            | Kind::ForeignDataWrapper { .. },
            kw,
        ) => kw,
        _ => return None,
    };
    Some(format!("{kw} {name}"))
}

/// `COMMENT ON COLUMN relation.column`.
fn column_comment(relation: &str, column: &str, comment: &str) -> String {
    comment_stmt(
        "COLUMN",
        &format!("{relation}.{}", quote_ident(column)),
        comment,
    )
}

/// ` WITH (a=b, ...)`, or nothing.
fn with_clause<S: AsRef<str>>(options: &[S]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        let o: Vec<&str> = options.iter().map(AsRef::as_ref).collect();
        format!(" WITH ({})", o.join(", "))
    }
}

fn comment_stmt(kw: &str, target: &str, comment: &str) -> String {
    format!("COMMENT ON {kw} {target} IS {}", quote_literal(comment))
}

/// Owner the object gets on the target.
fn target_owner(o: &Object, opts: &RenderOptions) -> Option<String> {
    let owner = o.owner.as_ref()?;
    let public_schema = matches!(o.kind, Kind::Schema) && o.name == "public";
    ((opts.keep_owners || public_schema) && opts.can_own(owner)).then(|| owner.clone())
}

fn grant_stmts(
    target: &str,
    columns: Option<&str>,
    acl: &[Grant],
    owner_sql: &str,
    source_owner: Option<&str>,
    opts: &RenderOptions,
    out: &mut Vec<String>,
) {
    let mut i = 0;
    while i < acl.len() {
        let g = &acl[i];
        let mut privs = vec![g.privilege.clone()];
        let mut j = i + 1;
        while j < acl.len()
            && acl[j].grantee == g.grantee
            && acl[j].grantor == g.grantor
            && acl[j].grantable == g.grantable
        {
            privs.push(acl[j].privilege.clone());
            j += 1;
        }
        i = j;
        if opts.older_than(17) {
            // MAINTAIN (17+) does not exist on the target.
            privs.retain(|p| p != "MAINTAIN");
            if privs.is_empty() {
                continue;
            }
        }
        let grantee = match &g.grantee {
            None => "PUBLIC".to_string(),
            Some(r) if Some(r.as_str()) == source_owner => owner_sql.to_string(),
            Some(r) if !opts.role_exists(r) => {
                tracing::warn!(role = %r, object = %target, "role does not exist on the target; grant skipped");
                continue;
            }
            Some(r) => quote_ident(r),
        };
        let privs = match columns {
            Some(c) => privs
                .iter()
                .map(|p| format!("{p}({c})"))
                .collect::<Vec<_>>()
                .join(", "),
            None => privs.join(", "),
        };
        out.push(format!(
            "GRANT {privs} ON {target} TO {grantee}{}",
            if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            }
        ));
    }
}

/// Renders the statements that create one object (owner, comment and privileges included).
pub fn render_object(o: &Object, opts: &RenderOptions) -> Vec<String> {
    let mut out = Vec::new();
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
        Kind::Cast {
            source,
            target,
            method,
            context,
        } => out.push(format!(
            "CREATE CAST ({source} AS {target}) {method}{}",
            match context {
                'a' => " AS ASSIGNMENT",
                'i' => " AS IMPLICIT",
                _ => "",
            }
        )),
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
        Kind::Collation { options } => {
            out.push(format!("CREATE COLLATION {q} ({})", options.join(", ")))
        }
        Kind::Enum { labels } => out.push(format!(
            "CREATE TYPE {q} AS ENUM ({})",
            labels
                .iter()
                .map(|l| quote_literal(l))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Kind::Domain {
            base,
            collation,
            default,
            not_null,
            constraints,
            constraint_comments,
        } => {
            let mut s = format!("CREATE DOMAIN {q} AS {base}");
            if let Some(c) = collation {
                s.push_str(&format!(" COLLATE {c}"));
            }
            if let Some(d) = default {
                s.push_str(&format!(" DEFAULT {d}"));
            }
            if *not_null {
                s.push_str(" NOT NULL");
            }
            for (name, def, valid) in constraints {
                if *valid {
                    s.push_str(&format!(" CONSTRAINT {} {def}", quote_ident(name)));
                }
            }
            out.push(s);
            for (name, def, valid) in constraints {
                if !*valid {
                    out.push(format!(
                        "ALTER DOMAIN {q} ADD CONSTRAINT {} {def}",
                        quote_ident(name)
                    ));
                }
            }
            for (name, text) in constraint_comments {
                out.push(comment_stmt(
                    "CONSTRAINT",
                    &format!("{} ON DOMAIN {q}", quote_ident(name)),
                    text,
                ));
            }
        }
        Kind::Composite {
            attributes,
            attribute_comments,
        } => {
            out.push(format!(
                "CREATE TYPE {q} AS ({})",
                attributes
                    .iter()
                    .map(|(n, t, c)| match c {
                        Some(c) => format!("{} {t} COLLATE {c}", quote_ident(n)),
                        None => format!("{} {t}", quote_ident(n)),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            for (a, text) in attribute_comments {
                out.push(column_comment(&q, a, text));
            }
        }
        Kind::Range { options } => {
            let options: Vec<&str> = options
                .iter()
                .map(String::as_str)
                // Multiranges (14+) do not exist on the target.
                .filter(|o| !(opts.older_than(14) && o.starts_with("MULTIRANGE_TYPE_NAME ")))
                .collect();
            out.push(format!("CREATE TYPE {q} AS RANGE ({})", options.join(", ")))
        }
        Kind::Function { def, .. } => out.push(def.clone()),
        Kind::Aggregate(a) => out.push(format!(
            "CREATE AGGREGATE {q}({}) ({})",
            if a.args.is_empty() { "*" } else { &a.args },
            a.options.join(", ")
        )),
        Kind::Operator {
            left,
            right,
            options,
        } => {
            let mut opts_ = options.clone();
            if let Some(l) = left {
                opts_.push(format!("LEFTARG = {l}"));
            }
            if let Some(r) = right {
                opts_.push(format!("RIGHTARG = {r}"));
            }
            out.push(format!(
                "CREATE OPERATOR {}.{} ({})",
                quote_ident(o.schema.as_deref().unwrap_or("public")),
                o.name,
                opts_.join(", ")
            ));
        }
        Kind::Sequence { options, unlogged } => out.push(format!(
            "CREATE {}SEQUENCE {q} {}",
            // Unlogged sequences are 15+; older servers log every sequence.
            if *unlogged && !opts.older_than(15) {
                "UNLOGGED "
            } else {
                ""
            },
            sequence_options(options)
        )),
        Kind::SequenceOwnedBy {
            sequence,
            table,
            column,
        } => out.push(format!(
            "ALTER SEQUENCE {} OWNED BY {}.{}",
            sequence.sql(),
            table.sql(),
            quote_ident(column)
        )),
        Kind::Table(def) => render_table(o, def, opts, &mut out),
        Kind::View {
            query,
            options,
            check_option,
            column_defaults,
            column_comments,
            columns,
            placeholder,
        } => {
            if *placeholder {
                let cols: Vec<String> = columns
                    .iter()
                    .map(|(n, t, c)| match c {
                        Some(c) => format!("NULL::{t} COLLATE {c} AS {}", quote_ident(n)),
                        None => format!("NULL::{t} AS {}", quote_ident(n)),
                    })
                    .collect();
                out.push(format!(
                    "CREATE VIEW {q} AS\n SELECT {}",
                    cols.join(",\n    ")
                ));
            } else {
                out.push(view_statement(
                    &q,
                    query,
                    options,
                    check_option,
                    opts,
                    false,
                ));
            }
            for (c, d) in column_defaults {
                out.push(format!(
                    "ALTER VIEW {q} ALTER COLUMN {} SET DEFAULT {d}",
                    quote_ident(c)
                ));
            }
            for (c, text) in column_comments {
                out.push(column_comment(&q, c, text));
            }
        }
        Kind::MatView {
            query,
            options,
            column_comments,
            access_method,
        } => {
            let using = access_method
                .as_ref()
                .map(|am| format!(" USING {}", quote_ident(am)))
                .unwrap_or_default();
            let with = with_clause(options);
            out.push(format!(
                "CREATE MATERIALIZED VIEW {q}{using}{with} AS\n{query}\nWITH NO DATA"
            ));
            for (c, text) in column_comments {
                out.push(column_comment(&q, c, text));
            }
        }
        Kind::TsDictionary { template, options } => out.push(format!(
            "CREATE TEXT SEARCH DICTIONARY {q} (TEMPLATE = {template}{})",
            options
                .as_ref()
                .map(|o| format!(", {o}"))
                .unwrap_or_default()
        )),
        Kind::TsConfiguration { parser, mappings } => {
            out.push(format!(
                "CREATE TEXT SEARCH CONFIGURATION {q} (PARSER = {parser})"
            ));
            for (token, dicts) in mappings {
                out.push(format!(
                    "ALTER TEXT SEARCH CONFIGURATION {q} ADD MAPPING FOR {} WITH {dicts}",
                    quote_ident(token)
                ));
            }
        }
        Kind::BaseType { options } => out.push(format!(
            "CREATE TYPE {q} (\n    {}\n)",
            options.join(",\n    ")
        )),
        Kind::ShellType => out.push(format!("CREATE TYPE {q}")),
        Kind::AccessMethod { am_type, handler } => out.push(format!(
            "CREATE ACCESS METHOD {} TYPE {am_type} HANDLER {handler}",
            quote_ident(&o.name)
        )),
        Kind::OperatorFamily { method, members } => {
            out.push(format!(
                "CREATE OPERATOR FAMILY {q} USING {}",
                quote_ident(method)
            ));
            if !members.is_empty() {
                out.push(format!(
                    "ALTER OPERATOR FAMILY {q} USING {} ADD\n    {}",
                    quote_ident(method),
                    members.join(",\n    ")
                ));
            }
        }
        Kind::OperatorClass {
            method,
            for_type,
            default,
            family,
            items,
        } => {
            let mut s = format!(
                "CREATE OPERATOR CLASS {q}{} FOR TYPE {for_type} USING {}",
                if *default { " DEFAULT" } else { "" },
                quote_ident(method)
            );
            if let Some(f) = family {
                s.push_str(&format!(" FAMILY {f}"));
            }
            // An operator class needs at least one item.
            let items = if items.is_empty() {
                vec![format!("STORAGE {for_type}")]
            } else {
                items.clone()
            };
            s.push_str(&format!(" AS\n    {}", items.join(",\n    ")));
            out.push(s);
        }
        Kind::Conversion {
            from,
            to,
            function,
            default,
        } => out.push(format!(
            "CREATE {}CONVERSION {q} FOR {} TO {} FROM {function}",
            if *default { "DEFAULT " } else { "" },
            quote_literal(from),
            quote_literal(to)
        )),
        Kind::Language {
            trusted,
            handler,
            inline,
            validator,
        } => {
            let mut s = format!(
                "CREATE {}PROCEDURAL LANGUAGE {}",
                if *trusted { "TRUSTED " } else { "" },
                quote_ident(&o.name)
            );
            if let Some(h) = handler {
                s.push_str(&format!(" HANDLER {h}"));
                if let Some(i) = inline {
                    s.push_str(&format!(" INLINE {i}"));
                }
                if let Some(v) = validator {
                    s.push_str(&format!(" VALIDATOR {v}"));
                }
            }
            out.push(s);
        }
        Kind::Transform {
            type_sql,
            language,
            from_sql,
            to_sql,
        } => {
            let mut parts = Vec::new();
            if let Some(f) = from_sql {
                parts.push(format!("FROM SQL WITH FUNCTION {f}"));
            }
            if let Some(t) = to_sql {
                parts.push(format!("TO SQL WITH FUNCTION {t}"));
            }
            out.push(format!(
                "CREATE TRANSFORM FOR {type_sql} LANGUAGE {} ({})",
                quote_ident(language),
                parts.join(", ")
            ));
        }
        Kind::TsParser { options } => out.push(format!(
            "CREATE TEXT SEARCH PARSER {q} ({})",
            options.join(", ")
        )),
        Kind::TsTemplate { options } => out.push(format!(
            "CREATE TEXT SEARCH TEMPLATE {q} ({})",
            options.join(", ")
        )),
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
                    return out;
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
            return out;
        }
        Kind::Separated { owner, part } => render_part(owner, part, opts, &mut out),
        Kind::SystemAcl {
            target,
            column,
            grants,
            revokes,
        } => {
            if opts.owner_roles.is_some() {
                tracing::warn!(object = %o.name, "changed privileges on a built-in object need a superuser on the target; skipped");
                return out;
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
            grant_stmts(target, col.as_deref(), grants, "", None, opts, &mut out);
            // A built-in object another major no longer has is skipped, with a warning.
            for stmt in &mut out {
                *stmt = format!(
                    "DO $pgferry$BEGIN EXECUTE {}; EXCEPTION WHEN undefined_function OR undefined_table \
                     OR undefined_column OR undefined_object THEN RAISE WARNING 'pgferry: skipped: %', SQLERRM; END$pgferry$",
                    quote_literal(stmt)
                );
            }
        }
        Kind::TableData { .. } => {}
        Kind::SequenceSet {
            sequence,
            last_value,
            is_called,
        } => out.push(format!(
            "SELECT pg_catalog.setval({}, {last_value}, {is_called})",
            quote_literal(&sequence.sql())
        )),
        Kind::Constraint {
            table,
            kind,
            def,
            on_partitioned,
            replica_identity,
            clustered,
            index_comment,
        } => {
            let only = match kind {
                ConstraintKind::Check => "",
                ConstraintKind::ForeignKey if *on_partitioned => "",
                _ => "ONLY ",
            };
            let name = quote_ident(&o.name);
            out.push(format!(
                "ALTER TABLE {only}{} ADD CONSTRAINT {name} {def}",
                table.sql()
            ));
            if *replica_identity {
                out.push(format!(
                    "ALTER TABLE ONLY {} REPLICA IDENTITY USING INDEX {name}",
                    table.sql()
                ));
            }
            if *clustered {
                out.push(format!(
                    "ALTER TABLE ONLY {} CLUSTER ON {name}",
                    table.sql()
                ));
            }
            if let Some(text) = index_comment {
                out.push(comment_stmt(
                    "INDEX",
                    &crate::qualified(&table.schema, &o.name),
                    text,
                ));
            }
        }
        Kind::Index {
            table,
            def,
            clustered,
            replica_identity,
            stat_targets,
        } => {
            out.push(def.clone());
            let name = quote_ident(&o.name);
            if *clustered {
                out.push(format!(
                    "ALTER TABLE ONLY {} CLUSTER ON {name}",
                    table.sql()
                ));
            }
            if *replica_identity {
                out.push(format!(
                    "ALTER TABLE ONLY {} REPLICA IDENTITY USING INDEX {name}",
                    table.sql()
                ));
            }
            for (col, target) in stat_targets {
                out.push(format!(
                    "ALTER INDEX {q} ALTER COLUMN {col} SET STATISTICS {target}"
                ));
            }
        }
        Kind::IndexAttach { parent, child } => out.push(format!(
            "ALTER INDEX {} ATTACH PARTITION {}",
            parent.sql(),
            child.sql()
        )),
        Kind::Trigger {
            table,
            def,
            enabled,
        } => {
            out.push(def.clone());
            if let Some(state) = enable_state(*enabled) {
                out.push(format!(
                    "ALTER TABLE {} {state} TRIGGER {}",
                    table.sql(),
                    quote_ident(&o.name)
                ));
            }
        }
        Kind::Rule {
            table,
            def,
            enabled,
        } => {
            out.push(def.clone());
            if let Some(state) = enable_state(*enabled) {
                out.push(format!(
                    "ALTER TABLE {} {state} RULE {}",
                    table.sql(),
                    quote_ident(&o.name)
                ));
            }
        }
        Kind::TriggerState {
            table,
            trigger,
            enabled,
        } => out.push(format!(
            "ALTER TABLE {} {} TRIGGER {}",
            table.sql(),
            enable_state(*enabled).unwrap_or("ENABLE"),
            quote_ident(trigger)
        )),
        Kind::RowSecurity { table, force } => {
            out.push(format!(
                "ALTER TABLE ONLY {} ENABLE ROW LEVEL SECURITY",
                table.sql()
            ));
            if *force {
                out.push(format!(
                    "ALTER TABLE ONLY {} FORCE ROW LEVEL SECURITY",
                    table.sql()
                ));
            }
        }
        Kind::Policy {
            table,
            permissive,
            command,
            roles,
            using,
            with_check,
        } => {
            let roles = roles
                .iter()
                .map(|r| {
                    r.as_deref()
                        .map(quote_ident)
                        .unwrap_or_else(|| "PUBLIC".into())
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut s = format!(
                "CREATE POLICY {} ON {} AS {} FOR {command} TO {roles}",
                quote_ident(&o.name),
                table.sql(),
                if *permissive {
                    "PERMISSIVE"
                } else {
                    "RESTRICTIVE"
                }
            );
            if let Some(u) = using {
                s.push_str(&format!(" USING ({u})"));
            }
            if let Some(c) = with_check {
                s.push_str(&format!(" WITH CHECK ({c})"));
            }
            out.push(s);
        }
        Kind::Statistics { def, target } => {
            out.push(def.clone());
            if let Some(t) = target {
                out.push(format!("ALTER STATISTICS {q} SET STATISTICS {t}"));
            }
        }
        Kind::MatViewRefresh { view } => {
            out.push(format!("REFRESH MATERIALIZED VIEW {}", view.sql()))
        }
        Kind::RelationStats { .. } => out.extend(crate::stats::render_stats(o, opts)),
        Kind::Role { .. } => return crate::roles::render_role(o, opts),
        Kind::DefaultAcl {
            role,
            objects,
            grants,
        } => {
            if !opts.role_exists(role) {
                tracing::warn!(%role, "role does not exist on the target; default privileges skipped");
                return out;
            }
            if !opts.can_own(role) {
                tracing::warn!(%role, "the target role is not a member of this role; its default privileges are skipped");
                return out;
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
    }
    if let Some((kw, target)) = designation(o) {
        if let Some(owner) = target_owner(o, opts) {
            if !matches!(
                o.kind,
                Kind::Constraint { .. }
                    | Kind::Trigger { .. }
                    | Kind::Rule { .. }
                    | Kind::Policy { .. }
                    | Kind::Index { .. }
                    | Kind::Extension { .. }
            ) {
                out.push(format!(
                    "ALTER {kw} {target} OWNER TO {}",
                    quote_ident(&owner)
                ));
            }
        }
        match &o.comment {
            Some(c) => out.push(comment_stmt(kw, &target, c)),
            // The target's public schema comes with a comment of its own.
            None if matches!(o.kind, Kind::Schema) && o.name == "public" => {
                out.push("COMMENT ON SCHEMA public IS NULL".into())
            }
            None => {}
        }
    }
    if let (Some(acl), Some(target)) = (&o.acl, grant_target(o)) {
        let owner_sql = target_owner(o, opts)
            .map(|r| quote_ident(&r))
            .unwrap_or_else(|| "CURRENT_USER".into());
        out.push(format!("REVOKE ALL ON {target} FROM PUBLIC"));
        out.push(format!("REVOKE ALL ON {target} FROM {owner_sql}"));
        grant_stmts(
            &target,
            None,
            acl,
            &owner_sql,
            o.owner.as_deref(),
            opts,
            &mut out,
        );
    }
    out
}

/// ` OPTIONS (...)`, when there are options.
fn push_options(s: &mut String, options: &[String]) {
    if !options.is_empty() {
        s.push_str(&format!(" OPTIONS ({})", options.join(", ")));
    }
}

/// The statement of an object part split off to break a dependency loop.
fn render_part(owner: &QName, part: &Part, opts: &RenderOptions, out: &mut Vec<String>) {
    let t = owner.sql();
    match part {
        Part::Check(ch) => {
            out.push(format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} {}",
                quote_ident(&ch.name),
                ch.def
            ));
            if let Some(text) = &ch.comment {
                out.push(comment_stmt(
                    "CONSTRAINT",
                    &format!("{} ON {t}", quote_ident(&ch.name)),
                    text,
                ));
            }
        }
        Part::Default { column, expr } => out.push(format!(
            "ALTER TABLE ONLY {t} ALTER COLUMN {} SET DEFAULT {expr}",
            quote_ident(column)
        )),
        Part::DomainCheck { name, def, comment } => {
            out.push(format!(
                "ALTER DOMAIN {t} ADD CONSTRAINT {} {def}",
                quote_ident(name)
            ));
            if let Some(text) = comment {
                out.push(comment_stmt(
                    "CONSTRAINT",
                    &format!("{} ON DOMAIN {t}", quote_ident(name)),
                    text,
                ));
            }
        }
        Part::ViewQuery {
            query,
            options,
            check_option,
        } => out.push(view_statement(&t, query, options, check_option, opts, true)),
    }
}

/// `CREATE [OR REPLACE] VIEW name [WITH (...)] AS query [WITH ... CHECK OPTION]`.
fn view_statement(
    q: &str,
    query: &str,
    options: &[String],
    check_option: &Option<String>,
    opts: &RenderOptions,
    replace: bool,
) -> String {
    let options: Vec<&str> = options
        .iter()
        .map(String::as_str)
        // security_invoker (15+) = false is what older servers do.
        .filter(|o| {
            !(opts.older_than(15)
                && o.split_once('=').is_some_and(|(k, v)| {
                    k.trim() == "security_invoker" && !crate::downgrade::reloption_true(v)
                }))
        })
        .collect();
    let with = with_clause(&options);
    let check = check_option
        .as_ref()
        .map(|c| format!(" WITH {c} CHECK OPTION"))
        .unwrap_or_default();
    let or_replace = if replace { "OR REPLACE " } else { "" };
    format!("CREATE {or_replace}VIEW {q}{with} AS\n{query}{check}")
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
            out.push(format!("REVOKE ALL ON {target} FROM PUBLIC"));
            out.push(format!("REVOKE ALL ON {target} FROM {owner_sql}"));
            grant_stmts(
                &target,
                None,
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
    (create, out)
}

fn enable_state(c: char) -> Option<&'static str> {
    match c {
        'D' => Some("DISABLE"),
        'R' => Some("ENABLE REPLICA"),
        'A' => Some("ENABLE ALWAYS"),
        _ => None,
    }
}

fn sequence_options(s: &SequenceOptions) -> String {
    format!("AS {} {}", s.data_type, sequence_limits(s))
}

/// Options without `AS type` (identity sequences take the column's type).
fn sequence_limits(s: &SequenceOptions) -> String {
    format!(
        "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
        s.start,
        s.increment,
        s.min,
        s.max,
        s.cache,
        if s.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

fn render_table(o: &Object, def: &TableDef, opts: &RenderOptions, out: &mut Vec<String>) {
    let q = o.qualified_name();
    let partition = def.partition_of.is_some();
    let alter = if def.foreign.is_some() {
        "ALTER FOREIGN TABLE ONLY"
    } else {
        "ALTER TABLE ONLY"
    };
    let mut items = Vec::new();
    let typed = def.of_type.is_some();
    for c in &def.columns {
        if !c.is_local && !partition && !typed {
            continue; // inherited
        }
        if typed
            && c.default.is_none()
            && !c.not_null
            && c.identity.is_none()
            && c.generated.is_none()
        {
            continue; // the type's column as it is
        }
        let mut s = if typed {
            quote_ident(&c.name)
        } else {
            format!("{} {}", quote_ident(&c.name), c.type_sql)
        };
        // (a foreign table column's options come right after its type)
        if !c.fdw_options.is_empty() {
            s.push_str(&format!(" OPTIONS ({})", c.fdw_options.join(", ")));
        }
        if let Some(coll) = &c.collation {
            s.push_str(&format!(" COLLATE {coll}"));
        }
        if let Some(g) = &c.generated {
            let kind = if c.generated_virtual {
                "VIRTUAL"
            } else {
                "STORED"
            };
            s.push_str(&format!(" GENERATED ALWAYS AS ({g}) {kind}"));
        }
        if let Some(d) = &c.default {
            s.push_str(&format!(" DEFAULT {d}"));
        }
        if c.not_null {
            // Servers before 18 do not name NOT NULL constraints (names they
            // could not take are refused by check_target).
            if let Some(n) = c.not_null_name.as_ref().filter(|_| !opts.older_than(18)) {
                s.push_str(&format!(" CONSTRAINT {}", quote_ident(n)));
            }
            s.push_str(" NOT NULL");
        }
        if let Some(id) = &c.identity {
            s.push_str(&format!(
                " GENERATED {} AS IDENTITY (SEQUENCE NAME {} {})",
                if id.always { "ALWAYS" } else { "BY DEFAULT" },
                id.sequence.sql(),
                sequence_limits(&id.options)
            ));
        }
        items.push(s);
    }
    for ch in &def.checks {
        items.push(format!("CONSTRAINT {} {}", quote_ident(&ch.name), ch.def));
    }
    let kind = if def.foreign.is_some() {
        "FOREIGN "
    } else if def.unlogged {
        "UNLOGGED "
    } else {
        ""
    };
    let mut s = match &def.of_type {
        Some(t) if items.is_empty() => format!("CREATE {kind}TABLE {q} OF {t}"),
        Some(t) => format!(
            "CREATE {kind}TABLE {q} OF {t} (\n    {}\n)",
            items.join(",\n    ")
        ),
        None => format!("CREATE {kind}TABLE {q} (\n    {}\n)", items.join(",\n    ")),
    };
    if !def.inherits.is_empty() {
        s.push_str(&format!(
            " INHERITS ({})",
            def.inherits
                .iter()
                .map(QName::sql)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(k) = &def.partition_key {
        s.push_str(&format!(" PARTITION BY {k}"));
    }
    // Partitioned tables take an access method from 17 on; heap is what
    // older servers give the partitions (other methods are refused).
    let am_dropped = def.partition_key.is_some()
        && opts.older_than(17)
        && def.access_method.as_deref() == Some("heap");
    if let Some(am) = def.access_method.as_ref().filter(|_| !am_dropped) {
        s.push_str(&format!(" USING {}", quote_ident(am)));
    }
    s.push_str(&with_clause(&def.reloptions));
    if let Some(f) = &def.foreign {
        s.push_str(&format!(" SERVER {}", quote_ident(&f.server)));
        if !f.options.is_empty() {
            s.push_str(&format!(" OPTIONS ({})", f.options.join(", ")));
        }
    }
    out.push(s);
    if let Some((parent, bound)) = &def.partition_of {
        out.push(format!(
            "ALTER TABLE ONLY {} ATTACH PARTITION {q} {bound}",
            parent.sql()
        ));
    }
    for c in &def.columns {
        let col = quote_ident(&c.name);
        // An inherited column is not written in CREATE TABLE; its default is
        // set here, as pg_dump does (the parent's may be set later, split
        // off to break a loop, and then does not reach the child).
        if let (false, false, false, Some(d)) = (c.is_local, partition, typed, &c.default) {
            out.push(format!("{alter} {q} ALTER COLUMN {col} SET DEFAULT {d}"));
        }
        if let Some(st) = &c.storage {
            out.push(format!("{alter} {q} ALTER COLUMN {col} SET STORAGE {st}"));
        }
        // Compression methods are 14+ (older servers always use pglz).
        if let Some(cm) = c.compression.as_ref().filter(|_| !opts.older_than(14)) {
            out.push(format!(
                "{alter} {q} ALTER COLUMN {col} SET COMPRESSION {cm}"
            ));
        }
        if let Some(t) = c.stat_target {
            out.push(format!("{alter} {q} ALTER COLUMN {col} SET STATISTICS {t}"));
        }
        if !c.options.is_empty() {
            out.push(format!(
                "{alter} {q} ALTER COLUMN {col} SET ({})",
                c.options.join(", ")
            ));
        }
    }
    // An identity sequence takes its table's persistence (15+) unless changed.
    for id in def.columns.iter().filter_map(|c| c.identity.as_ref()) {
        if id.unlogged != def.unlogged && !opts.older_than(15) {
            out.push(format!(
                "ALTER SEQUENCE {} SET {}",
                id.sequence.sql(),
                if id.unlogged { "UNLOGGED" } else { "LOGGED" }
            ));
        }
    }
    match def.replica_identity {
        Some('f') => out.push(format!("ALTER TABLE ONLY {q} REPLICA IDENTITY FULL")),
        Some('n') => out.push(format!("ALTER TABLE ONLY {q} REPLICA IDENTITY NOTHING")),
        _ => {}
    }
    for c in &def.columns {
        if let Some(text) = &c.comment {
            out.push(column_comment(&q, &c.name, text));
        }
    }
    for ch in &def.checks {
        if let Some(text) = &ch.comment {
            out.push(comment_stmt(
                "CONSTRAINT",
                &format!("{} ON {q}", quote_ident(&ch.name)),
                text,
            ));
        }
    }
    let owner_sql = target_owner(o, opts)
        .map(|r| quote_ident(&r))
        .unwrap_or_else(|| "CURRENT_USER".into());
    for c in &def.columns {
        if let Some(acl) = c
            .identity
            .as_ref()
            .and_then(|i| i.acl.as_ref().map(|a| (i, a)))
        {
            let target = format!("SEQUENCE {}", acl.0.sequence.sql());
            out.push(format!("REVOKE ALL ON {target} FROM PUBLIC"));
            out.push(format!("REVOKE ALL ON {target} FROM {owner_sql}"));
            grant_stmts(
                &target,
                None,
                acl.1,
                &owner_sql,
                o.owner.as_deref(),
                opts,
                out,
            );
        }
        if let Some(acl) = &c.acl {
            grant_stmts(
                &format!("TABLE {q}"),
                Some(&quote_ident(&c.name)),
                acl,
                &owner_sql,
                o.owner.as_deref(),
                opts,
                out,
            );
        }
    }
}
