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

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.needs.len()
    }

    /// No objects.
    pub fn is_empty(&self) -> bool {
        self.needs.is_empty()
    }

    /// What `from` needs first.
    pub fn needs(&self, from: usize) -> &BTreeSet<usize> {
        &self.needs[from]
    }

    /// Replaces what `from` needs.
    pub(crate) fn set_needs(&mut self, from: usize, needs: BTreeSet<usize>) {
        self.needs[from] = needs;
    }

    /// Adds an object without edges; returns its index.
    pub(crate) fn push(&mut self) -> usize {
        self.needs.push(BTreeSet::new());
        self.needs.len() - 1
    }

    /// Strongly connected components with more than one object (the
    /// dependency loops), each sorted, in order of their smallest member.
    pub fn loops(&self) -> Vec<Vec<usize>> {
        // Iterative Tarjan.
        let n = self.needs.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0usize;
        let mut out = Vec::new();
        let adj: Vec<Vec<usize>> = self
            .needs
            .iter()
            .map(|s| s.iter().copied().collect())
            .collect();
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut work: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut k)) = work.last_mut() {
                if *k < adj[v].len() {
                    let w = adj[v][*k];
                    *k += 1;
                    if index[w] == usize::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    work.pop();
                    if let Some(&(u, _)) = work.last() {
                        low[u] = low[u].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        if comp.len() > 1 {
                            comp.sort_unstable();
                            out.push(comp);
                        }
                    }
                }
            }
        }
        out.sort();
        out
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
    fn loops_are_found() {
        let mut g = Graph::new(5);
        g.add(0, 1);
        g.add(1, 2);
        g.add(2, 0);
        g.add(3, 4);
        assert_eq!(g.loops(), vec![vec![0, 1, 2]]);
        g.add(4, 3);
        assert_eq!(g.loops(), vec![vec![0, 1, 2], vec![3, 4]]);
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
