//! Schema drift: objects and columns present on one side only, or defined
//! differently, and what of it only the target has.
use std::collections::BTreeMap;

use pgferry_catalog::{render_object, Catalog, Kind, Object, RenderOptions};

/// Splits off the drift entries about objects only the target has, in
/// schemas the source does not have at all, and its own publications and
/// event triggers (a sync leaves those alone).
pub(crate) fn split_target_only(
    source: &Catalog,
    drift: Vec<String>,
    target: &Catalog,
) -> (Vec<String>, Vec<String>) {
    let source_schemas: std::collections::HashSet<&str> = source
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Schema))
        .map(|o| o.name.as_str())
        .collect();
    // "only on target: KIND NAME: ..." entries of objects outside the source's schemas.
    let outside: std::collections::HashSet<String> = target
        .objects
        .iter()
        .filter(|o| comparable(o))
        .filter(|o| {
            let schema = match o.kind {
                Kind::Schema => Some(o.name.as_str()),
                _ => o.schema.as_deref(),
            };
            // Database-wide objects a sync leaves alone unless the source
            // has one of the same name.
            schema.is_some_and(|s| !source_schemas.contains(s)) || o.kind.database_wide()
        })
        .map(|o| format!("only on target: {} {}:", o.kind.label(), o.display_name()))
        .collect();
    let mut kept = Vec::new();
    let mut only = Vec::new();
    for d in drift {
        match outside.iter().find(|p| d.starts_with(p.as_str())) {
            Some(p) => only.push(
                p.trim_start_matches("only on target: ")
                    .trim_end_matches(':')
                    .to_string(),
            ),
            None => kept.push(d),
        }
    }
    (kept, only)
}

/// Kinds whose objects are definitions compared (not data or settings
/// applied on every sync).
pub(crate) fn comparable(o: &Object) -> bool {
    !matches!(
        o.kind,
        Kind::TableData { .. }
            | Kind::SequenceSet { .. }
            | Kind::MatViewRefresh { .. }
            | Kind::RelationStats { .. }
            | Kind::Role { .. }
            | Kind::DefaultAcl { .. }
            | Kind::Database { .. }
    )
}

/// The source database's own properties the target lacks (a sync applies
/// them over the target's, which may hold settings of its own).
fn database_drift(source: &Catalog, target: &Catalog) -> Vec<String> {
    let props = |c: &Catalog| -> Vec<String> {
        c.objects
            .iter()
            .filter(|o| matches!(o.kind, Kind::Database { .. }))
            .flat_map(|o| render_object(o, &RenderOptions::default()))
            .collect()
    };
    let on_target = props(target);
    props(source)
        .into_iter()
        .filter(|s| !on_target.contains(s))
        .map(|s| format!("differs: DATABASE PROPERTIES: the target lacks: {s}"))
        .collect()
}

/// Objects and columns present on one side only or defined differently.
pub(crate) fn schema_drift(source: &Catalog, target: &Catalog) -> Vec<String> {
    let index = |c: &Catalog| -> BTreeMap<(String, String), Object> {
        c.objects
            .iter()
            .filter(|o| comparable(o))
            .map(|o| ((o.kind.label().to_string(), o.display_name()), o.clone()))
            .collect()
    };
    let (a, b) = (index(source), index(target));
    let opts = RenderOptions::default();
    let mut out = database_drift(source, target);
    for (key, o) in &a {
        match b.get(key) {
            None => out.push(format!(
                "only on source: {} {}: {}",
                key.0,
                key.1,
                render_object(o, &opts).first().cloned().unwrap_or_default()
            )),
            Some(t) => match (&o.kind, &t.kind) {
                (Kind::Table(x), Kind::Table(y)) => {
                    let cols = |d: &pgferry_catalog::TableDef| -> BTreeMap<String, String> {
                        d.columns
                            .iter()
                            .map(|c| {
                                let mut s = c.type_sql.clone();
                                if c.not_null {
                                    s.push_str(" NOT NULL");
                                }
                                if let Some(d) = &c.default {
                                    s.push_str(&format!(" DEFAULT {d}"));
                                }
                                (c.name.clone(), s)
                            })
                            .collect()
                    };
                    let (cx, cy) = (cols(x), cols(y));
                    for (name, def) in &cx {
                        match cy.get(name) {
                            None => {
                                out.push(format!("column only on source: {}.{name} {def}", key.1))
                            }
                            Some(d) if d != def => out.push(format!(
                                "column differs: {}.{name}: source {def}, target {d}",
                                key.1
                            )),
                            _ => {}
                        }
                    }
                    for (name, def) in &cy {
                        if !cx.contains_key(name) {
                            out.push(format!("column only on target: {}.{name} {def}", key.1));
                        }
                    }
                }
                _ => {
                    let (x, y) = (render_object(o, &opts), render_object(t, &opts));
                    if x != y {
                        out.push(format!(
                            "differs: {} {}: source: {} | target: {}",
                            key.0,
                            key.1,
                            x.join("; "),
                            y.join("; ")
                        ));
                    }
                }
            },
        }
    }
    for (key, o) in &b {
        if !a.contains_key(key) {
            out.push(format!(
                "only on target: {} {}: {}",
                key.0,
                key.1,
                render_object(o, &opts).first().cloned().unwrap_or_default()
            ));
        }
    }
    out
}
