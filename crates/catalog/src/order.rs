//! Dependency graph and topological sort with a stable tie-break.
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use crate::model::Object;

/// Dependency edges between objects, by index: `from` needs `to` first.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    needs: Vec<BTreeSet<usize>>,
}

impl Graph {
    /// A graph over `n` objects without edges.
    pub fn new(n: usize) -> Self {
        Graph {
            needs: vec![BTreeSet::new(); n],
        }
    }

    /// `from` must come after `to`.
    pub fn add(&mut self, from: usize, to: usize) {
        if from != to && from < self.needs.len() && to < self.needs.len() {
            self.needs[from].insert(to);
        }
    }
}

type Key = (u8, String, String, u32);

fn key(o: &Object) -> Key {
    (
        o.kind.priority(),
        o.schema.clone().unwrap_or_default(),
        o.name.clone(),
        o.id,
    )
}

/// Sorts objects so each comes after what it needs. Among objects that are
/// ready at the same time the order is by kind priority, schema, name.
/// Cycles are broken at the lowest-keyed remaining object, with a warning.
/// Fills every object's `deps` with the ids it needs.
pub fn sort_objects(mut objects: Vec<Object>, graph: Graph) -> Vec<Object> {
    let n = objects.len();
    let mut blockers: Vec<usize> = graph.needs.iter().map(BTreeSet::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, tos) in graph.needs.iter().enumerate() {
        for &to in tos {
            dependents[to].push(from);
        }
    }
    for (i, o) in objects.iter_mut().enumerate() {
        let ids: Vec<u32> = graph.needs[i].iter().map(|&t| t as u32 + 1).collect();
        o.deps = ids;
    }
    let keys: Vec<Key> = objects.iter().map(key).collect();
    let mut ready: BinaryHeap<Reverse<(Key, usize)>> = (0..n)
        .filter(|&i| blockers[i] == 0)
        .map(|i| Reverse((keys[i].clone(), i)))
        .collect();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = match ready.pop() {
            Some(Reverse((_, i))) => i,
            None => {
                let i = (0..n)
                    .filter(|&i| !done[i])
                    .min_by(|&a, &b| keys[a].cmp(&keys[b]))
                    .unwrap_or(0);
                if matches!(objects[i].kind, crate::Kind::TableData { .. }) {
                    // Circular foreign keys: data order is only a preference
                    // (constraints are created after all data).
                    tracing::debug!(table = %objects[i].display_name(), "circular foreign keys; loading in name order");
                } else {
                    tracing::warn!(
                        object = %objects[i].display_name(),
                        kind = objects[i].kind.label(),
                        "dependency cycle; creating this object before some of what it needs"
                    );
                }
                i
            }
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        order.push(next);
        for &d in &dependents[next] {
            blockers[d] = blockers[d].saturating_sub(1);
            if blockers[d] == 0 && !done[d] {
                ready.push(Reverse((keys[d].clone(), d)));
            }
        }
    }
    let mut slots: Vec<Option<Object>> = objects.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Object};

    fn o(id: u32, name: &str, kind: Kind) -> Object {
        Object {
            id,
            schema: Some("s".into()),
            name: name.into(),
            owner: None,
            comment: None,
            acl: None,
            deps: vec![],
            kind,
        }
    }

    #[test]
    fn dependencies_beat_priority_and_cycles_terminate() {
        let objs = vec![
            o(1, "f", Kind::Schema),
            o(2, "a", Kind::Schema),
            o(3, "c", Kind::Schema),
        ];
        let mut g = Graph::new(3);
        g.add(1, 0); // a needs f
        let sorted = sort_objects(objs.clone(), g);
        let names: Vec<_> = sorted.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["c", "f", "a"]);
        let mut g = Graph::new(3);
        g.add(0, 1);
        g.add(1, 0);
        assert_eq!(sort_objects(objs, g).len(), 3);
    }
}
