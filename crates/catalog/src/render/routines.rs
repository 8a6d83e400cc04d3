//! Rendering of functions and what is built on them: procedures,
//! aggregates, operators, operator classes and families, access methods,
//! procedural languages and transforms.
use super::Step;
use crate::model::*;
use crate::quote_ident;

/// Statements of a routine, operator, access method, language or transform
/// ([`Step::Unhandled`] for other kinds).
pub(super) fn render(o: &Object, out: &mut Vec<String>) -> Step {
    let q = o.qualified_name();
    match &o.kind {
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
        _ => return Step::Unhandled,
    }
    Step::Continue
}
