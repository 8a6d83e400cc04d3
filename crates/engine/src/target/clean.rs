//! `--clean` and sync: the statements that remove what a run is about to
//! create (its schemas, or its relations when it names tables, and the
//! database-wide objects it recreates).
use pgferry_catalog::{quote_ident, Kind, Object};

/// `DROP … IF EXISTS … CASCADE` of a relation (`None` for anything else).
pub(crate) fn drop_relation(o: &Object) -> Option<String> {
    let kw = match &o.kind {
        Kind::Table(def) if def.foreign.is_some() => "FOREIGN TABLE",
        Kind::Table(_) => "TABLE",
        Kind::View { .. } => "VIEW",
        Kind::MatView { .. } => "MATERIALIZED VIEW",
        Kind::Sequence { .. } => "SEQUENCE",
        _ => return None,
    };
    Some(format!(
        "DROP {kw} IF EXISTS {} CASCADE",
        o.qualified_name()
    ))
}

/// Statements that remove what the archive is about to create (`--clean`).
pub(crate) fn clean_statements(objects: &[Object]) -> Vec<String> {
    let schemas: Vec<String> = schemas_of(objects)
        .iter()
        .map(|s| format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(s)))
        .collect();
    // Transforms name a language and a type of their own: they go first.
    let mut out: Vec<String> = objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::Transform {
                type_sql, language, ..
            } => Some(format!(
                "DROP TRANSFORM IF EXISTS FOR {type_sql} LANGUAGE {} CASCADE",
                quote_ident(language)
            )),
            _ => None,
        })
        .collect();
    out.extend(if !schemas.is_empty() {
        schemas
    } else {
        objects.iter().filter_map(drop_relation).collect()
    });
    // Database-wide objects the archive recreates (casts go with their
    // schema's types and functions).
    for o in objects {
        let name = quote_ident(&o.name);
        match &o.kind {
            Kind::ForeignDataWrapper { .. } => {
                out.push(format!("DROP FOREIGN DATA WRAPPER IF EXISTS {name} CASCADE"))
            }
            Kind::ForeignServer { .. } => out.push(format!("DROP SERVER IF EXISTS {name} CASCADE")),
            Kind::AccessMethod { .. } => {
                out.push(format!("DROP ACCESS METHOD IF EXISTS {name} CASCADE"))
            }
            Kind::Language { .. } => out.push(format!("DROP LANGUAGE IF EXISTS {name} CASCADE")),
            // A subscription is dropped without touching its publisher's
            // slot (as a disconnected one: disabled, slot_name = NONE).
            Kind::Subscription { .. } => out.push(format!(
                "DO $pgferry$BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_subscription s \
                 JOIN pg_catalog.pg_database d ON d.oid = s.subdbid \
                 WHERE d.datname = pg_catalog.current_database() AND s.subname = {lit}) THEN \
                 EXECUTE 'ALTER SUBSCRIPTION {name} DISABLE'; \
                 EXECUTE 'ALTER SUBSCRIPTION {name} SET (slot_name = NONE)'; \
                 EXECUTE 'DROP SUBSCRIPTION {name}'; END IF; END$pgferry$",
                lit = pgferry_catalog::quote_literal(&o.name),
                name = name.replace('\'', "''"),
            )),
            Kind::LargeObjects { items } => out.push(format!(
                "SELECT pg_catalog.lo_unlink(oid) FROM pg_catalog.pg_largeobject_metadata WHERE oid IN ({})",
                items.iter().map(|l| l.oid.to_string()).collect::<Vec<_>>().join(", ")
            )),
            Kind::Publication { .. } => out.push(format!(
                "DROP PUBLICATION IF EXISTS {}",
                quote_ident(&o.name)
            )),
            Kind::EventTrigger { .. } => out.push(format!(
                "DROP EVENT TRIGGER IF EXISTS {}",
                quote_ident(&o.name)
            )),
            _ => {}
        }
    }
    out
}

/// The schemas among `objects`: what a run that replaces schemas drops.
pub(crate) fn schemas_of(objects: &[Object]) -> Vec<String> {
    objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Schema))
        .map(|o| o.name.clone())
        .collect()
}
