//! Rendering of types and what works on them: enums, domains, composites,
//! ranges, base and shell types, collations, casts, conversions and text
//! search objects.
use super::{column_comment, comment_stmt, RenderOptions, Step};
use crate::model::*;
use crate::{quote_ident, quote_literal};

/// Statements of a type, collation, cast, conversion or text search object
/// ([`Step::Unhandled`] for other kinds).
pub(super) fn render(o: &Object, opts: &RenderOptions, out: &mut Vec<String>) -> Step {
    let q = o.qualified_name();
    match &o.kind {
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
        Kind::TsParser { options } => out.push(format!(
            "CREATE TEXT SEARCH PARSER {q} ({})",
            options.join(", ")
        )),
        Kind::TsTemplate { options } => out.push(format!(
            "CREATE TEXT SEARCH TEMPLATE {q} ({})",
            options.join(", ")
        )),
        _ => return Step::Unhandled,
    }
    Step::Continue
}
