//! Restoring to an older server ("downgrade"): which objects cannot be
//! expressed on the target's major version.
//!
//! [`check_target`] lists every object whose definition needs a newer server
//! than the target; a restore or sync refuses to start when the list is not
//! empty, before it touches the target. Everything else is rendered for the
//! older target by [`crate::render_object`], which leaves out what an older
//! server does not know and what can be lost without changing the data or
//! its meaning:
//!
//! | dropped on an older target | why it is safe |
//! |---|---|
//! | a NOT NULL constraint's name (< 18) when it is the default name of the table or of one of its ancestors | older servers do not name NOT NULL constraints |
//! | `SET COMPRESSION` (< 14) | a storage detail: older servers always use pglz |
//! | `MULTIRANGE_TYPE_NAME` of a range type (< 14) | multiranges do not exist there (columns of a multirange type are refused) |
//! | `UNLOGGED` of a sequence (< 15) | older servers log every sequence |
//! | `security_invoker = false` of a view (< 15) | it is the behaviour of older servers |
//! | `USING heap` of a partitioned table (< 17) | heap is the default of the partitions; every partition carries its own access method |
//! | the `MAINTAIN` table privilege (< 17) | it does not exist there (`ALL` grants the target's full set) |
//!
//! Refused (the message names the object and the feature): virtual generated
//! columns, NOT NULL constraints with a name of their own, NOT VALID or NO
//! INHERIT NOT NULL constraints, NOT ENFORCED constraints, `WITHOUT OVERLAPS`
//! and `PERIOD` (18); identity columns on partitioned tables or partitions, a
//! non-heap access method on a partitioned table, the `builtin` collation
//! provider (17); `NULLS NOT DISTINCT`, `security_invoker` views, foreign keys
//! with `ON DELETE SET NULL/SET DEFAULT (columns)` (15); SQL-standard
//! function bodies (`BEGIN ATOMIC`, `RETURN`), procedures with OUT
//! parameters, multirange types in columns, types or signatures, statistics
//! on expressions (14); publications with column lists, row filters or
//! `TABLES IN SCHEMA` (15); login event triggers (17).
//!
//! Not checked: syntax inside definitions the server deparsed (view
//! queries, function bodies, defaults, index expressions) and values in the
//! data (e.g. numeric `Infinity` before 14). Such an object makes the restore
//! fail on the target, inside its transaction, leaving the target unchanged.
use std::collections::{HashMap, HashSet};

use crate::model::*;

/// Built-in multirange types (PostgreSQL 14+).
const BUILTIN_MULTIRANGES: [&str; 6] = [
    "int4multirange",
    "int8multirange",
    "nummultirange",
    "tsmultirange",
    "tstzmultirange",
    "datemultirange",
];

/// Major version of a `server_version_num` (`150004` → 15).
fn major(version_num: i32) -> i32 {
    version_num / 10000
}

/// The default name PostgreSQL 18 gives a column's NOT NULL constraint (as
/// the catalog reader judges it).
pub(crate) fn default_not_null_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_not_null")
        .chars()
        .take(63)
        .collect()
}

/// Whether a reloption value (`security_invoker=...`) is true.
pub(crate) fn reloption_true(value: &str) -> bool {
    !matches!(
        value
            .trim()
            .trim_matches('\'')
            .to_ascii_lowercase()
            .as_str(),
        "false" | "off" | "no" | "0" | "f" | "n"
    )
}

/// Whether an option list holds `name=<true>`.
pub(crate) fn has_true_option(options: &[String], name: &str) -> bool {
    options.iter().any(|o| {
        o.split_once('=')
            .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case(name) && reloption_true(v))
    })
}

/// Lists every object of `objects` that cannot be expressed on a server of
/// `target_version` (`server_version_num`), for a catalog read from a server
/// of `source_version`. A target of the same or a newer major (or
/// `target_version == 0`) can express everything.
///
/// One message per object, naming it and every feature the target lacks,
/// e.g. `TABLE public.shapes: virtual generated column "area" needs
/// PostgreSQL 18 (target is 15)`.
///
/// ```
/// use pgferry_catalog::check_target;
/// assert!(check_target(&[], 170000, 150000).is_ok());
/// ```
pub fn check_target(
    objects: &[Object],
    source_version: i32,
    target_version: i32,
) -> Result<(), Vec<String>> {
    if target_version == 0 || major(target_version) >= major(source_version) {
        return Ok(());
    }
    let ctx = Context::new(objects);
    let problems: Vec<String> = objects
        .iter()
        .filter_map(|o| ctx.check(o, major(target_version)))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What the checks need to know about the whole catalog.
struct Context<'a> {
    /// Table → its parents (partition parent and inheritance parents).
    parents: HashMap<QName, Vec<&'a QName>>,
    /// Multirange type names (built-in and from range types), without schema too.
    multiranges: HashSet<String>,
}

impl<'a> Context<'a> {
    fn new(objects: &'a [Object]) -> Self {
        let mut parents = HashMap::new();
        let mut multiranges: HashSet<String> =
            BUILTIN_MULTIRANGES.iter().map(|s| s.to_string()).collect();
        for o in objects {
            match &o.kind {
                Kind::Table(def) => {
                    let mut p: Vec<&QName> = def.inherits.iter().collect();
                    if let Some((parent, _)) = &def.partition_of {
                        p.push(parent);
                    }
                    parents.insert(
                        QName {
                            schema: o.schema.clone().unwrap_or_default(),
                            name: o.name.clone(),
                        },
                        p,
                    );
                }
                Kind::Range { options } => {
                    for opt in options {
                        if let Some(v) = opt.strip_prefix("MULTIRANGE_TYPE_NAME = ") {
                            multiranges.insert(v.trim().to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        Context {
            parents,
            multiranges,
        }
    }

    /// The table and all its ancestors' names.
    fn lineage(&self, table: &QName) -> Vec<QName> {
        let mut out = vec![table.clone()];
        let mut i = 0;
        while i < out.len() {
            if let Some(ps) = self.parents.get(&out[i]) {
                for p in ps {
                    if !out.contains(p) {
                        out.push((*p).clone());
                    }
                }
            }
            i += 1;
        }
        out
    }

    /// Whether a type (as `format_type` prints it) is a multirange (or an array of one).
    fn is_multirange(&self, type_sql: &str) -> bool {
        let t = type_sql.trim().trim_end_matches("[]").trim();
        self.multiranges.contains(t)
    }

    /// Whether a signature (argument list) mentions a multirange type.
    fn mentions_multirange(&self, args: &str) -> Option<String> {
        args.split([',', '(', ')', ' '])
            .map(|t| t.trim_end_matches("[]"))
            .find(|t| !t.is_empty() && self.multiranges.contains(*t))
            .map(str::to_string)
    }

    /// One message for the object, listing every feature the target lacks.
    fn check(&self, o: &Object, target: i32) -> Option<String> {
        let mut p: Vec<(i32, String)> = Vec::new();
        let mut need = |major: i32, what: String| {
            if target < major {
                p.push((major, what));
            }
        };
        match &o.kind {
            Kind::Table(def) => {
                let me = QName {
                    schema: o.schema.clone().unwrap_or_default(),
                    name: o.name.clone(),
                };
                let lineage = self.lineage(&me);
                let partitioned = def.partition_key.is_some();
                for c in &def.columns {
                    if c.generated.is_some() && c.generated_virtual {
                        need(18, format!("virtual generated column {:?}", c.name));
                    }
                    if let Some(n) = c.not_null_name.as_ref().filter(|_| c.not_null) {
                        let default = lineage
                            .iter()
                            .any(|t| *n == default_not_null_name(&t.name, &c.name));
                        if !default {
                            need(
                                18,
                                format!("named NOT NULL constraint {n:?} on column {:?}", c.name),
                            );
                        }
                    }
                    if c.identity.is_some() && partitioned {
                        need(
                            17,
                            format!("identity column {:?} on a partitioned table", c.name),
                        );
                    }
                    if c.identity.is_some() && def.partition_of.is_some() {
                        need(17, format!("identity column {:?} on a partition", c.name));
                    }
                    if self.is_multirange(&c.type_sql) {
                        need(
                            14,
                            format!("column {:?} of multirange type {}", c.name, c.type_sql),
                        );
                    }
                }
                for ch in &def.checks {
                    check_constraint_def(&ch.name, &ch.def, &mut need);
                }
                if partitioned {
                    if let Some(am) = def.access_method.as_deref().filter(|am| *am != "heap") {
                        need(17, format!("access method {am:?} on a partitioned table"));
                    }
                }
            }
            Kind::Constraint { def, .. } => check_constraint_def(&o.name, def, &mut need),
            Kind::Index { def, .. } if def.contains(" NULLS NOT DISTINCT") => {
                need(15, "UNIQUE NULLS NOT DISTINCT".into())
            }
            Kind::View { options, .. } if has_true_option(options, "security_invoker") => {
                need(15, "view option security_invoker".into())
            }
            Kind::Collation { options } if options.iter().any(|o| o == "provider = builtin") => {
                need(17, "collation provider builtin".into())
            }
            Kind::Function {
                def,
                identity_args,
                procedure,
            } => {
                if sql_standard_body(def) {
                    need(
                        14,
                        "SQL-standard function body (BEGIN ATOMIC / RETURN)".into(),
                    );
                }
                if *procedure
                    && identity_args
                        .split(", ")
                        .any(|a| a.trim_start().starts_with("OUT "))
                {
                    need(14, "procedure with OUT parameters".into());
                }
                if let Some(t) = self.mentions_multirange(identity_args) {
                    need(14, format!("multirange type {t} in the signature"));
                }
            }
            Kind::Aggregate(a) => {
                if let Some(t) = self.mentions_multirange(&a.identity_args) {
                    need(14, format!("multirange type {t} in the signature"));
                }
            }
            Kind::Domain { base, .. } if self.is_multirange(base) => {
                need(14, format!("domain over multirange type {base}"))
            }
            Kind::Composite { attributes, .. } => {
                for (name, t, _) in attributes {
                    if self.is_multirange(t) {
                        need(14, format!("attribute {name:?} of multirange type {t}"));
                    }
                }
            }
            Kind::Publication {
                options,
                tables,
                schemas,
                ..
            } => {
                if tables.iter().any(|(_, cols, _)| cols.is_some()) {
                    need(15, "publication column list".into());
                }
                if tables.iter().any(|(_, _, filter)| filter.is_some()) {
                    need(15, "publication row filter".into());
                }
                if !schemas.is_empty() {
                    need(15, "publication of TABLES IN SCHEMA".into());
                }
                if has_true_option(options, "publish_via_partition_root") {
                    need(13, "publish_via_partition_root".into());
                }
                if has_true_option(options, "publish_generated_columns") {
                    need(18, "publish_generated_columns".into());
                }
            }
            Kind::EventTrigger { event, .. } if event == "login" => {
                need(17, "login event trigger".into())
            }
            Kind::Statistics { def, .. } if statistics_on_expressions(def) => {
                need(14, "statistics on expressions".into())
            }
            _ => {}
        }
        if p.is_empty() {
            return None;
        }
        let what = p
            .iter()
            .map(|(major, what)| format!("{what} needs PostgreSQL {major}"))
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!("{}: {what} (target is {target})", object_label(o)))
    }
}

/// Checks a constraint definition as `pg_get_constraintdef` prints it.
fn check_constraint_def(name: &str, def: &str, need: &mut impl FnMut(i32, String)) {
    let def = def.trim();
    if def.ends_with(" NOT ENFORCED") {
        need(18, format!("NOT ENFORCED constraint {name:?}"));
    }
    if let Some(rest) = def.strip_prefix("NOT NULL ") {
        let how = if rest.contains("NOT VALID") {
            "NOT VALID"
        } else {
            "NO INHERIT"
        };
        need(18, format!("{how} NOT NULL constraint {name:?}"));
    }
    if def.contains(" WITHOUT OVERLAPS") {
        need(18, format!("WITHOUT OVERLAPS in constraint {name:?}"));
    }
    if def.starts_with("FOREIGN KEY") && (def.contains("(PERIOD ") || def.contains(", PERIOD ")) {
        need(18, format!("PERIOD in foreign key {name:?}"));
    }
    if def.starts_with("UNIQUE NULLS NOT DISTINCT") {
        need(15, format!("UNIQUE NULLS NOT DISTINCT constraint {name:?}"));
    }
    if def.starts_with("FOREIGN KEY")
        && (def.contains("SET NULL (") || def.contains("SET DEFAULT ("))
    {
        need(
            15,
            format!("foreign key {name:?} with ON DELETE SET NULL/SET DEFAULT (columns)"),
        );
    }
}

/// Whether `pg_get_functiondef` output has a SQL-standard body (14+): no
/// ` AS ` line, and a line starting with `BEGIN ATOMIC` or `RETURN `.
fn sql_standard_body(def: &str) -> bool {
    !def.lines().any(|l| l.starts_with(" AS "))
        && def
            .lines()
            .any(|l| l.starts_with("BEGIN ATOMIC") || l.starts_with("RETURN "))
}

/// Whether a `CREATE STATISTICS` definition has an expression (14+):
/// `... ON a, (a + b) FROM t`.
fn statistics_on_expressions(def: &str) -> bool {
    // Skip the optional kinds list `(ndistinct, ...)` before ON.
    let Some(on) = def.find(" ON ") else {
        return false;
    };
    let rest = &def[on + 4..];
    let end = rest.rfind(" FROM ").unwrap_or(rest.len());
    rest[..end].contains('(')
}

/// `TABLE public.shapes`, `CONSTRAINT shapes_w_positive ON public.shapes`.
fn object_label(o: &Object) -> String {
    match o.table() {
        Some(t) if !matches!(o.kind, Kind::TableData { .. }) => {
            format!("{} {} ON {t}", o.kind.label(), o.name)
        }
        _ => format!("{} {}", o.kind.label(), o.display_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, kind: Kind) -> Object {
        Object {
            id: 1,
            schema: Some("public".into()),
            name: name.into(),
            owner: None,
            comment: None,
            acl: None,
            deps: vec![],
            kind,
        }
    }

    fn column(name: &str, type_sql: &str) -> Column {
        Column {
            name: name.into(),
            type_sql: type_sql.into(),
            not_null: false,
            not_null_name: None,
            default: None,
            identity: None,
            generated: None,
            generated_virtual: false,
            collation: None,
            storage: None,
            compression: None,
            stat_target: None,
            options: vec![],
            is_local: true,
            comment: None,
            acl: None,
            fdw_options: vec![],
        }
    }

    fn table(name: &str, columns: Vec<Column>, partition_of: Option<&str>) -> Object {
        obj(
            name,
            Kind::Table(Box::new(TableDef {
                unlogged: false,
                columns,
                checks: vec![],
                partition_key: None,
                partition_of: partition_of.map(|p| {
                    (
                        QName {
                            schema: "public".into(),
                            name: p.into(),
                        },
                        "DEFAULT".into(),
                    )
                }),
                inherits: vec![],
                reloptions: vec![],
                access_method: None,
                replica_identity: None,
                of_type: None,
                foreign: None,
            })),
        )
    }

    #[test]
    fn same_or_newer_target_is_fine() {
        let mut c = column("area", "numeric");
        c.generated = Some("w * h".into());
        c.generated_virtual = true;
        let t = [table("shapes", vec![c], None)];
        assert!(check_target(&t, 180000, 180001).is_ok());
        assert!(check_target(&t, 180000, 0).is_ok());
        let err = check_target(&t, 180000, 150004).unwrap_err();
        assert_eq!(
            err,
            vec!["TABLE public.shapes: virtual generated column \"area\" needs PostgreSQL 18 (target is 15)"]
        );
    }

    #[test]
    fn not_null_names() {
        let mut a = column("a", "integer");
        a.not_null = true;
        a.not_null_name = Some("parent_a_not_null".into());
        let mut b = column("b", "integer");
        b.not_null = true;
        b.not_null_name = Some("my_name".into());
        let objects = [
            table("parent", vec![], None),
            table("mid", vec![], Some("parent")),
            table("leaf", vec![a, b], Some("mid")),
        ];
        let err = check_target(&objects, 180000, 170000).unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert!(err[0].contains("\"my_name\""), "{err:?}");
    }

    #[test]
    fn constraints_and_functions() {
        let c = |def: &str| {
            obj(
                "c",
                Kind::Constraint {
                    table: QName {
                        schema: "public".into(),
                        name: "t".into(),
                    },
                    kind: ConstraintKind::Check,
                    def: def.into(),
                    on_partitioned: false,
                    replica_identity: false,
                    clustered: false,
                    index_comment: None,
                },
            )
        };
        let objects = [
            c("CHECK ((w > (0)::numeric)) NOT ENFORCED"),
            c("NOT NULL note NOT VALID"),
            c("UNIQUE NULLS NOT DISTINCT (email)"),
            c("FOREIGN KEY (b) REFERENCES tt(a) ON DELETE SET NULL (b)"),
            c("CHECK ((w > 0))"),
        ];
        let err = check_target(&objects, 180000, 140000).unwrap_err();
        assert_eq!(err.len(), 4, "{err:?}");
        assert!(err[0].starts_with("CONSTRAINT c ON public.t: NOT ENFORCED"));
        assert!(sql_standard_body(
            "CREATE OR REPLACE FUNCTION public.f1(a integer)\n RETURNS integer\n LANGUAGE sql\nRETURN (a + 1)\n"
        ));
        assert!(!sql_standard_body(
            "CREATE OR REPLACE FUNCTION public.f(a integer)\n RETURNS integer\n LANGUAGE sql\n AS $function$\nRETURN 1\n$function$\n"
        ));
        assert!(statistics_on_expressions(
            "CREATE STATISTICS public.st ON b, (a + b) FROM pt"
        ));
        assert!(!statistics_on_expressions(
            "CREATE STATISTICS public.st (ndistinct) ON b, a FROM pt"
        ));
        assert!(has_true_option(
            &["security_invoker=true".into()],
            "security_invoker"
        ));
        assert!(!has_true_option(
            &["security_invoker=off".into()],
            "security_invoker"
        ));
    }
}
