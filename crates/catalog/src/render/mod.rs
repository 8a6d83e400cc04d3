//! DDL rendering from the model, on the restore side. [`render_object`]
//! hands each kind to the module of its family, then adds the object's
//! owner, comment and privileges.
use std::collections::HashSet;

use crate::model::*;
use crate::{quote_ident, quote_literal};

mod database;
mod privileges;
mod relations;
mod routines;
mod types;

pub use database::large_object_statements;

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
    /// Statements left out (`--no-privileges`, `--no-comments`).
    pub omit: Omit,
}

/// Statements a run leaves out, as pg_dump's `-x/--no-privileges` and
/// `--no-comments` do. A dump records them in its archive
/// ([`crate::Catalog::omit`]), so its restore leaves them out too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Omit {
    /// `GRANT`, `REVOKE`, `ALTER DEFAULT PRIVILEGES`.
    #[serde(default)]
    pub privileges: bool,
    /// `COMMENT ON`.
    #[serde(default)]
    pub comments: bool,
    /// Security labels (`--no-security-labels`): pgferry never writes them,
    /// and refuses to carry an object that has one unless told to leave
    /// them out.
    #[serde(default)]
    pub security_labels: bool,
    /// `USING access_method` of tables and materialized views
    /// (`--no-table-access-method`): they get the target's default.
    #[serde(default)]
    pub table_access_method: bool,
}

impl Omit {
    /// Both sets of omissions.
    pub fn or(self, other: Omit) -> Omit {
        Omit {
            privileges: self.privileges || other.privileges,
            comments: self.comments || other.comments,
            security_labels: self.security_labels || other.security_labels,
            table_access_method: self.table_access_method || other.table_access_method,
        }
    }

    /// Nothing is left out.
    pub fn is_none(&self) -> bool {
        *self == Omit::default()
    }
}

impl RenderOptions {
    pub(crate) fn role_exists(&self, role: &str) -> bool {
        self.roles.as_ref().is_none_or(|r| r.contains(role))
    }

    /// Ownership may be given to `role` (it exists, and the connecting role may act for it).
    fn can_own(&self, role: &str) -> bool {
        self.role_exists(role) && self.owner_roles.as_ref().is_none_or(|r| r.contains(role))
    }

    /// The target role is a superuser (or unknown: a script).
    pub(crate) fn superuser_target(&self) -> bool {
        self.owner_roles.is_none()
    }

    /// The target is a server older than `major` (never when `target_version`
    /// is 0, i.e. the source's own version). What an older target does not
    /// know and can safely lose is left out (see `downgrade.rs`); what it
    /// cannot express is refused beforehand by [`crate::check_target`].
    pub(crate) fn older_than(&self, major: i32) -> bool {
        self.target_version != 0 && crate::probe::major(self.target_version) < major
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

/// An object's whole ACL: every privilege revoked from `PUBLIC` and the
/// owner, then the source's grants.
fn replace_acl(
    target: &str,
    acl: &[Grant],
    owner_sql: &str,
    source_owner: Option<&str>,
    opts: &RenderOptions,
    out: &mut Vec<String>,
) {
    out.push(format!("REVOKE ALL ON {target} FROM PUBLIC"));
    out.push(format!("REVOKE ALL ON {target} FROM {owner_sql}"));
    grant_stmts(target, None, acl, owner_sql, source_owner, opts, out);
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

/// What a family's renderer did with an object.
enum Step {
    /// Not a kind of its family: nothing rendered.
    Unhandled,
    /// Rendered: the object's owner, comment and privileges follow.
    Continue,
    /// Rendered completely: the statements are returned as they are.
    Finish,
}

/// Renders the statements that create one object (owner, comment and privileges included).
pub fn render_object(o: &Object, opts: &RenderOptions) -> Vec<String> {
    omit(render_all(o, opts), opts)
}

/// Leaves out what `--no-privileges` and `--no-comments` ask to: every
/// privilege and comment statement, wherever an object's renderer put it.
pub(crate) fn omit(mut stmts: Vec<String>, opts: &RenderOptions) -> Vec<String> {
    let (privileges, comments) = (opts.omit.privileges, opts.omit.comments);
    if privileges || comments {
        stmts.retain(|s| {
            let privilege = s.starts_with("GRANT ")
                || s.starts_with("REVOKE ")
                || s.starts_with("ALTER DEFAULT PRIVILEGES ");
            !(privileges && privilege || comments && s.starts_with("COMMENT ON "))
        });
    }
    stmts
}

fn render_all(o: &Object, opts: &RenderOptions) -> Vec<String> {
    let mut out = Vec::new();
    // Every kind is named here, so that a new one cannot go unrendered.
    let step = match &o.kind {
        Kind::Role { .. } => return crate::roles::render_role(o, opts),
        Kind::Schema
        | Kind::Extension { .. }
        | Kind::LargeObjects { .. }
        | Kind::Publication { .. }
        | Kind::EventTrigger { .. }
        | Kind::ForeignDataWrapper { .. }
        | Kind::ForeignServer { .. }
        | Kind::UserMapping { .. }
        | Kind::Subscription { .. }
        | Kind::Database { .. } => database::render(o, opts, &mut out),
        Kind::Cast { .. }
        | Kind::Collation { .. }
        | Kind::Enum { .. }
        | Kind::Domain { .. }
        | Kind::Composite { .. }
        | Kind::Range { .. }
        | Kind::TsDictionary { .. }
        | Kind::TsConfiguration { .. }
        | Kind::BaseType { .. }
        | Kind::ShellType
        | Kind::Conversion { .. }
        | Kind::TsParser { .. }
        | Kind::TsTemplate { .. } => types::render(o, opts, &mut out),
        Kind::Function { .. }
        | Kind::Aggregate(_)
        | Kind::Operator { .. }
        | Kind::AccessMethod { .. }
        | Kind::OperatorFamily { .. }
        | Kind::OperatorClass { .. }
        | Kind::Language { .. }
        | Kind::Transform { .. } => routines::render(o, &mut out),
        Kind::Sequence { .. }
        | Kind::SequenceOwnedBy { .. }
        | Kind::Table(_)
        | Kind::View { .. }
        | Kind::MatView { .. }
        | Kind::Separated { .. }
        | Kind::TableData { .. }
        | Kind::SequenceSet { .. }
        | Kind::Constraint { .. }
        | Kind::Index { .. }
        | Kind::IndexAttach { .. }
        | Kind::Trigger { .. }
        | Kind::Rule { .. }
        | Kind::TriggerState { .. }
        | Kind::RowSecurity { .. }
        | Kind::Policy { .. }
        | Kind::Statistics { .. }
        | Kind::MatViewRefresh { .. }
        | Kind::RelationStats { .. } => relations::render(o, opts, &mut out),
        Kind::SystemAcl { .. } | Kind::DefaultAcl { .. } => privileges::render(o, opts, &mut out),
    };
    debug_assert!(
        !matches!(step, Step::Unhandled),
        "{} handed to the wrong renderer",
        o.kind.label()
    );
    if matches!(step, Step::Finish) {
        return out;
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
        replace_acl(&target, acl, &owner_sql, o.owner.as_deref(), opts, &mut out);
    }
    out
}

fn enable_state(c: char) -> Option<&'static str> {
    match c {
        'D' => Some("DISABLE"),
        'R' => Some("ENABLE REPLICA"),
        'A' => Some("ENABLE ALWAYS"),
        _ => None,
    }
}
