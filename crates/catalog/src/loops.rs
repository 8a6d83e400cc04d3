//! Breaking dependency loops the way PostgreSQL allows: a part of an object
//! (a CHECK constraint, a column default, a domain constraint, a view's
//! query) that needs something which needs the object is split off and
//! created on its own after both.
use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::model::*;
use crate::order::Graph;

/// A part of an object that can be created separately.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum PartRef {
    /// The table's inline CHECK constraint of this name.
    Check(String),
    /// The default of this column.
    Default(String),
    /// The domain's constraint of this name.
    DomainCheck(String),
    /// The view's query.
    ViewQuery,
}

/// Edges by where they come from.
#[derive(Debug, Default)]
pub(crate) struct Edges {
    /// Edges of an object itself: from → to.
    pub direct: BTreeMap<usize, BTreeSet<usize>>,
    /// Edges of a part: (owner, part) → to.
    pub parts: BTreeMap<(usize, PartRef), BTreeSet<usize>>,
}

/// Splits parts off until no loop has a part that closes it. The loops that
/// remain (other than table data ordered by circular foreign keys, which is
/// only a preference) are returned, naming their members, with the indexes
/// of their members.
pub(crate) fn break_loops(
    objects: &mut Vec<Object>,
    graph: &mut Graph,
    mut edges: Edges,
) -> Vec<(Vec<usize>, String)> {
    loop {
        let mut split = Vec::new();
        for comp in graph.loops() {
            let members: HashSet<usize> = comp.iter().copied().collect();
            for ((owner, part), tos) in &edges.parts {
                if members.contains(owner) && tos.iter().any(|t| members.contains(t)) {
                    split.push((*owner, part.clone()));
                }
            }
        }
        if split.is_empty() {
            break;
        }
        for (owner, part) in split {
            let Some(tos) = edges.parts.remove(&(owner, part.clone())) else {
                continue;
            };
            let Some(separated) = take_part(&mut objects[owner], &part) else {
                continue;
            };
            let s = graph.push();
            objects.push(Object {
                id: s as u32 + 1,
                ..separated
            });
            graph.add(s, owner);
            for t in tos {
                graph.add(s, t);
            }
            // What the owner still needs: its own edges and its other parts'.
            let mut needs = edges.direct.get(&owner).cloned().unwrap_or_default();
            for ((o, _), tos) in &edges.parts {
                if *o == owner {
                    needs.extend(tos.iter().copied());
                }
            }
            needs.remove(&owner);
            graph.set_needs(owner, needs);
            tracing::debug!(object = %objects[owner].display_name(), ?part, "dependency loop broken by a separate part");
        }
    }
    let stuck: Vec<Vec<usize>> = graph
        .loops()
        .into_iter()
        .filter(|comp| {
            comp.iter()
                .any(|&i| !matches!(objects[i].kind, Kind::TableData { .. }))
        })
        .collect();
    stuck
        .into_iter()
        .map(|comp| {
            let names: Vec<String> = comp
                .iter()
                .map(|&i| format!("{} {}", objects[i].kind.label(), objects[i].display_name()))
                .collect();
            (comp, names.join(" ↔ "))
        })
        .collect()
}

/// Removes `part` from `o` and returns it as an object of its own.
fn take_part(o: &mut Object, part: &PartRef) -> Option<Object> {
    let owner = QName {
        schema: o.schema.clone().unwrap_or_default(),
        name: o.name.clone(),
    };
    let (name, p) = match (&mut o.kind, part) {
        (Kind::Table(def), PartRef::Check(name)) => {
            let at = def.checks.iter().position(|c| &c.name == name)?;
            (name.clone(), Part::Check(def.checks.remove(at)))
        }
        (Kind::Table(def), PartRef::Default(column)) => {
            let c = def.columns.iter_mut().find(|c| &c.name == column)?;
            let expr = c.default.take()?;
            (
                column.clone(),
                Part::Default {
                    column: column.clone(),
                    expr,
                },
            )
        }
        (
            Kind::Domain {
                constraints,
                constraint_comments,
                ..
            },
            PartRef::DomainCheck(name),
        ) => {
            let at = constraints.iter().position(|c| &c.0 == name)?;
            let (name, def, _) = constraints.remove(at);
            let comment = constraint_comments
                .iter()
                .position(|c| c.0 == name)
                .map(|i| constraint_comments.remove(i).1);
            (name.clone(), Part::DomainCheck { name, def, comment })
        }
        (
            Kind::View {
                query,
                options,
                check_option,
                placeholder,
                ..
            },
            PartRef::ViewQuery,
        ) => {
            *placeholder = true;
            (
                o.name.clone(),
                Part::ViewQuery {
                    query: query.clone(),
                    options: options.clone(),
                    check_option: check_option.clone(),
                },
            )
        }
        _ => return None,
    };
    Some(Object {
        id: 0,
        schema: o.schema.clone(),
        // Unique per owner: `owner part`.
        name: format!("{} {name}", o.name),
        owner: None,
        comment: None,
        acl: None,
        deps: Vec::new(),
        kind: Kind::Separated { owner, part: p },
    })
}

/// Materialized views are refreshed after the ones they read (directly or
/// through views and functions): `refreshes` pairs each view with its
/// refresh object.
pub(crate) fn order_refreshes(objects: &[Object], graph: &mut Graph, refreshes: &[(usize, usize)]) {
    let refresh_of: BTreeMap<usize, usize> = refreshes.iter().copied().collect();
    let mut extra = Vec::new();
    for &(view, refresh) in refreshes {
        let mut seen = HashSet::new();
        let mut stack: Vec<usize> = graph.needs(view).iter().copied().collect();
        while let Some(i) = stack.pop() {
            if !seen.insert(i) || objects[i].section() != Section::PreData {
                continue;
            }
            if let Some(&other) = refresh_of.get(&i) {
                extra.push((refresh, other));
            }
            stack.extend(graph.needs(i).iter().copied());
        }
    }
    for (from, to) in extra {
        graph.add(from, to);
    }
}
