//! Which relations an incremental sync must drop and create again: those
//! whose definition (or the definition of something of theirs: an index, a
//! constraint, a trigger, a policy, …) differs between the source and the
//! target, is new, or is gone. Anything else that changed (a function, a
//! type, a schema, …) is not rebuilt one by one: the sync then replaces
//! everything, as `--full` does, and says why.
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use pgferry_catalog::{render_object, Catalog, Kind, Object, QName, RenderOptions};

use crate::compare::drift::comparable;

/// What an incremental sync changes in the schema, or why it must replace
/// everything.
pub(crate) type SchemaPlan = Result<Changes, String>;

/// The schema changes an incremental sync makes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Relations dropped (when the target has them) and created again.
    pub rebuild: BTreeSet<QName>,
    /// Ids (in the source catalog) of objects that are not relations and are
    /// created as they stand: new ones, and functions whose definition
    /// changed (`CREATE OR REPLACE`, in place; one whose result type
    /// changed is refused by the server, and the sync replaces everything).
    pub apply: BTreeSet<u32>,
}

/// Which relation each object of one catalog is or belongs to.
pub(crate) struct Owners<'a> {
    catalog: &'a Catalog,
    ids: HashMap<u32, &'a Object>,
}

impl<'a> Owners<'a> {
    pub(crate) fn new(catalog: &'a Catalog) -> Self {
        Owners {
            catalog,
            ids: catalog.objects.iter().map(|o| (o.id, o)).collect(),
        }
    }

    /// The object with this dump id.
    pub(crate) fn get(&self, id: u32) -> Option<&'a Object> {
        self.ids.get(&id).copied()
    }

    /// The relation `o` is (a table, view, materialized view, sequence) or
    /// belongs to (its index, constraint, trigger, policy, rule, owned-by,
    /// attached index, refresh, extended statistics object).
    pub(crate) fn of(&self, o: &Object) -> Option<QName> {
        match &o.kind {
            Kind::Table(_) | Kind::View { .. } | Kind::MatView { .. } | Kind::Sequence { .. } => {
                o.qname()
            }
            Kind::SequenceOwnedBy { sequence, .. } => Some(sequence.clone()),
            Kind::MatViewRefresh { view } => Some(view.clone()),
            Kind::IndexAttach { child, .. } => {
                self.catalog.objects.iter().find_map(|i| match &i.kind {
                    Kind::Index { table, .. } if i.qname().as_ref() == Some(child) => {
                        Some(table.clone())
                    }
                    _ => None,
                })
            }
            Kind::Statistics { .. } => {
                // The one table (or materialized view) it is defined on.
                let mut rels = o
                    .deps
                    .iter()
                    .filter_map(|d| self.get(*d))
                    .filter(|d| matches!(d.kind, Kind::Table(_) | Kind::MatView { .. }))
                    .filter_map(Object::qname);
                match (rels.next(), rels.next()) {
                    (Some(r), None) => Some(r),
                    _ => None,
                }
            }
            _ => o.table().cloned(),
        }
    }
}

/// The relations (tables, views, materialized views, sequences) of a catalog.
pub(crate) fn relations(c: &Catalog) -> impl Iterator<Item = QName> + '_ {
    c.objects.iter().filter_map(|o| match o.kind {
        Kind::Table(_) | Kind::View { .. } | Kind::MatView { .. } | Kind::Sequence { .. } => {
            o.qname()
        }
        _ => None,
    })
}

/// What identifies an object on both sides: its kind and name, and for an
/// object of a table (a trigger, policy, rule or constraint, named per
/// table), the table too.
fn key(o: &Object) -> (String, String) {
    let name = match o.table() {
        Some(t) if !matches!(o.kind, Kind::Index { .. }) => format!("{t} {}", o.display_name()),
        _ => o.display_name(),
    };
    (o.kind.label().to_string(), name)
}

fn by_key(c: &Catalog) -> HashMap<(String, String), &Object> {
    c.objects
        .iter()
        .filter(|o| comparable(o))
        .map(|o| (key(o), o))
        .collect()
}

/// Compares the definitions of `source` and `target` (read with the same
/// filters; `target` only within the source's schemas) rendered with
/// `render`, the options the sync renders with.
pub(crate) fn schema_plan(
    source: &Catalog,
    target: &Catalog,
    render: &RenderOptions,
) -> SchemaPlan {
    let synced: HashSet<&str> = source
        .objects
        .iter()
        .filter_map(|o| match o.kind {
            Kind::Schema => Some(o.name.as_str()),
            _ => None,
        })
        .collect();
    let in_scope = |o: &Object| {
        let schema = match o.kind {
            Kind::Schema => Some(o.name.as_str()),
            _ => o.schema.as_deref(),
        };
        comparable(o)
            && match schema {
                Some(s) => synced.contains(s),
                // Database-wide objects the target has and the source has not
                // are the target's own (a sync leaves them alone).
                None => false,
            }
    };
    let render_all = |c: &Catalog| -> BTreeMap<(String, String), Vec<String>> {
        c.objects
            .iter()
            .filter(|o| comparable(o))
            .map(|o| (key(o), render_object(o, render)))
            .collect()
    };
    let a = render_all(source);
    // The target's objects outside the synced schemas count only where the
    // source has the same object: the others are the target's own.
    let scope: HashSet<(String, String)> = target
        .objects
        .iter()
        .filter(|o| in_scope(o))
        .map(key)
        .collect();
    let b: BTreeMap<(String, String), Vec<String>> = render_all(target)
        .into_iter()
        .filter(|(k, _)| scope.contains(k) || a.contains_key(k))
        .collect();
    let (oa, ob) = (by_key(source), by_key(target));
    let (ia, ib) = (Owners::new(source), Owners::new(target));
    let mut changes = Changes::default();
    let keys: BTreeSet<&(String, String)> = a.keys().chain(b.keys()).collect();
    for key in keys {
        if a.get(key) == b.get(key) {
            continue;
        }
        let (on_source, on_target) = (oa.get(key), ob.get(key));
        let relations = [
            on_source.and_then(|o| ia.of(o)),
            on_target.and_then(|o| ib.of(o)),
        ];
        match (on_source, on_target) {
            (Some(o), _)
                if relations[0].is_some() || (on_target.is_some() && relations[1].is_some()) =>
            {
                changes.rebuild.extend(relations.into_iter().flatten());
                let _ = o;
            }
            (None, Some(_)) if relations[1].is_some() => {
                changes.rebuild.extend(relations.into_iter().flatten());
            }
            (Some(o), None) => {
                changes.apply.insert(o.id);
            }
            (Some(o), Some(_)) if matches!(o.kind, Kind::Function { .. }) => {
                changes.apply.insert(o.id);
            }
            (Some(_), Some(_)) => return Err(format!("{} {} changed", key.0, key.1)),
            (None, _) => return Err(format!("{} {} is gone from the source", key.0, key.1)),
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(objects: Vec<Object>) -> Catalog {
        Catalog {
            model_version: 2,
            server_version_num: 150000,
            server_version: "15".into(),
            database: "d".into(),
            encoding: "UTF8".into(),
            objects,
            unsupported: Vec::new(),
            omit: Default::default(),
        }
    }

    fn object(id: u32, schema: Option<&str>, name: &str, kind: Kind) -> Object {
        Object {
            id,
            schema: schema.map(str::to_string),
            name: name.into(),
            owner: None,
            comment: None,
            acl: None,
            deps: Vec::new(),
            kind,
        }
    }

    fn view(id: u32, name: &str, query: &str) -> Object {
        object(
            id,
            Some("public"),
            name,
            Kind::View {
                query: query.into(),
                options: Vec::new(),
                check_option: None,
                column_defaults: Vec::new(),
                column_comments: Vec::new(),
                columns: Vec::new(),
                placeholder: false,
            },
        )
    }

    #[test]
    fn identical_catalogs_rebuild_nothing_and_a_changed_comment_rebuilds_its_relation() {
        let schema = object(1, None, "public", Kind::Schema);
        let a = catalog(vec![schema.clone(), view(2, "v", "SELECT 1")]);
        let b = catalog(vec![schema.clone(), view(2, "v", "SELECT 1")]);
        let opts = RenderOptions::default();
        assert_eq!(schema_plan(&a, &b, &opts), Ok(Changes::default()));
        let mut c = a.clone();
        c.objects[1].comment = Some("new".into());
        let plan = schema_plan(&c, &b, &opts).unwrap();
        assert_eq!(
            plan.rebuild
                .into_iter()
                .map(|q| q.to_string())
                .collect::<Vec<_>>(),
            vec!["public.v"]
        );
        // A view only the target has is dropped (rebuilt as nothing).
        let d = catalog(vec![
            schema.clone(),
            view(2, "v", "SELECT 1"),
            view(3, "w", "SELECT 2"),
        ]);
        let plan = schema_plan(&a, &d, &opts).unwrap();
        assert_eq!(
            plan.rebuild
                .into_iter()
                .map(|q| q.to_string())
                .collect::<Vec<_>>(),
            vec!["public.w"]
        );
        // A new schema is created as it stands; one only the target has is
        // the target's own, left alone.
        let e = catalog(vec![
            schema.clone(),
            object(4, None, "extra", Kind::Schema),
            view(2, "v", "SELECT 1"),
        ]);
        let plan = schema_plan(&e, &b, &opts).unwrap();
        assert_eq!(plan.apply.into_iter().collect::<Vec<_>>(), vec![4]);
        assert_eq!(schema_plan(&b, &e, &opts), Ok(Changes::default()));
    }

    #[test]
    fn a_changed_schema_level_object_replaces_everything() {
        let schema = object(1, None, "public", Kind::Schema);
        let a = catalog(vec![schema.clone()]);
        let mut changed = schema.clone();
        changed.comment = Some("other".into());
        let b = catalog(vec![changed]);
        let plan = schema_plan(&a, &b, &RenderOptions::default());
        assert_eq!(plan, Err("SCHEMA public changed".into()));
    }
}
