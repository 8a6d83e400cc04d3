//! Rendering of relations and what is attached to them: tables, views,
//! materialized views, sequences, constraints, indexes, triggers, rules,
//! row security, policies, statistics objects, the parts split off to break
//! dependency loops, and the data-section entries (sequence values,
//! refreshes, planner statistics).
use super::{
    column_comment, comment_stmt, enable_state, grant_stmts, target_owner, with_clause,
    RenderOptions, Step,
};
use crate::model::*;
use crate::{quote_ident, quote_literal};

/// Statements of a relation or of what is attached to one
/// ([`Step::Unhandled`] for other kinds).
pub(super) fn render(o: &Object, opts: &RenderOptions, out: &mut Vec<String>) -> Step {
    let q = o.qualified_name();
    match &o.kind {
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
        Kind::Table(def) => render_table(o, def, opts, out),
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
                .filter(|_| !opts.omit.table_access_method)
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
        Kind::Separated { owner, part } => render_part(owner, part, opts, out),
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
        _ => return Step::Unhandled,
    }
    Step::Continue
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
    let am_dropped = opts.omit.table_access_method
        || def.partition_key.is_some()
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
