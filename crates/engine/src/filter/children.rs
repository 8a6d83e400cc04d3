//! The `*-and-children` patterns: the tables they match, and every
//! inheritance child and partition below those, found through a catalog's
//! `(parent, child)` links.
use std::collections::{HashMap, HashSet};

use pgferry_catalog::QName;

use super::pattern::Pattern;
use super::CompiledFilters;

/// The relations the `*-and-children` patterns reach through inheritance,
/// once [`CompiledFilters::resolve_children`] has seen the catalog's
/// parent → child pairs (the matched parents themselves are matched by the
/// patterns).
#[derive(Debug, Clone, Default)]
pub(super) struct Children {
    include: HashSet<(String, String)>,
    exclude: HashSet<(String, String)>,
    exclude_data: HashSet<(String, String)>,
}

/// Does `(schema, name)` match one of `patterns` or lie in `set`?
fn hit(patterns: &[Pattern], set: &HashSet<(String, String)>, schema: &str, name: &str) -> bool {
    patterns.iter().any(|p| p.matches_table(schema, name))
        || (!set.is_empty() && set.contains(&(schema.to_string(), name.to_string())))
}

impl CompiledFilters {
    /// Matched by `--table-and-children`, or below a table it matches.
    pub(super) fn in_included_tree(&self, schema: &str, name: &str) -> bool {
        hit(&self.include_parents, &self.children.include, schema, name)
    }

    /// Matched by `--exclude-table-and-children`, or below a table it matches.
    pub(super) fn in_excluded_tree(&self, schema: &str, name: &str) -> bool {
        hit(&self.exclude_parents, &self.children.exclude, schema, name)
    }

    /// Matched by `--exclude-table-data-and-children`, or below a table it
    /// matches.
    pub(super) fn in_excluded_data_tree(&self, schema: &str, name: &str) -> bool {
        hit(
            &self.exclude_data_parents,
            &self.children.exclude_data,
            schema,
            name,
        )
    }

    /// True when `*-and-children` patterns are given: they need
    /// [`CompiledFilters::resolve_children`] to reach the children.
    pub fn needs_children(&self) -> bool {
        !self.include_parents.is_empty()
            || !self.exclude_parents.is_empty()
            || !self.exclude_data_parents.is_empty()
    }

    /// Lets the `*-and-children` patterns reach every inheritance child and
    /// partition, recursively, of the relations they match, given the
    /// catalog's `(parent, child)` pairs (pg_inherits). Until then they match
    /// only the relations they name. Replaces an earlier resolution.
    pub fn resolve_children(&mut self, inherits: &[(QName, QName)]) {
        let mut children: HashMap<(&str, &str), Vec<(&str, &str)>> = HashMap::new();
        for (parent, child) in inherits {
            children
                .entry((&parent.schema, &parent.name))
                .or_default()
                .push((&child.schema, &child.name));
        }
        let reach = |patterns: &[Pattern]| -> HashSet<(String, String)> {
            let mut out = HashSet::new();
            if patterns.is_empty() {
                return out;
            }
            let mut stack: Vec<(&str, &str)> = children
                .keys()
                .filter(|(s, n)| patterns.iter().any(|p| p.matches_table(s, n)))
                .copied()
                .collect();
            while let Some(t) = stack.pop() {
                for &(s, n) in children.get(&t).into_iter().flatten() {
                    if out.insert((s.to_string(), n.to_string())) {
                        stack.push((s, n));
                    }
                }
            }
            out
        };
        self.children = Children {
            include: reach(&self.include_parents),
            exclude: reach(&self.exclude_parents),
            exclude_data: reach(&self.exclude_data_parents),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::Filters;
    use super::*;
    use crate::filter::FilterError;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn q(schema: &str, name: &str) -> QName {
        QName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// public.m ← m_2024 ← m_2024_01 (partitions, two levels), public.m ← other.m_x,
    /// public.log ← log_old (inheritance); public.m2 is another table.
    fn tree() -> Vec<(QName, QName)> {
        vec![
            (q("public", "m"), q("public", "m_2024")),
            (q("public", "m_2024"), q("public", "m_2024_01")),
            (q("public", "m"), q("other", "m_x")),
            (q("public", "log"), q("public", "log_old")),
        ]
    }

    #[test]
    fn and_children_patterns_reach_every_descendant() {
        let mut c = Filters {
            include_tables_and_children: v(&["public.m"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(c.tables_only() && c.needs_children() && !c.is_empty());
        // unresolved: the named table only
        assert!(c.table_included("public", "m"));
        assert!(!c.table_included("public", "m_2024"));
        c.resolve_children(&tree());
        for (s, n) in [
            ("public", "m"),
            ("public", "m_2024"),
            ("public", "m_2024_01"),
            ("other", "m_x"),
        ] {
            assert!(c.table_included(s, n), "{s}.{n}");
        }
        assert!(!c.table_included("public", "m2"));
        assert!(!c.table_included("public", "log_old"));
        assert!(!c.schema_included("public"));
        // plain -t does not reach children
        let mut t = Filters {
            include_tables: v(&["public.m"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert!(!t.needs_children());
        t.resolve_children(&tree());
        assert!(!t.table_included("public", "m_2024"));

        // exclude: a middle level and below
        let mut c = Filters {
            exclude_tables_and_children: v(&["m_2024"]),
            exclude_table_data_and_children: v(&["log"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        c.resolve_children(&tree());
        assert!(c.table_included("public", "m"));
        assert!(!c.table_included("public", "m_2024"));
        assert!(!c.table_included("public", "m_2024_01"));
        assert!(c.table_included("other", "m_x"));
        assert!(c.table_included("public", "log"));
        assert!(c.table_included("public", "log_old"));
        assert!(!c.table_data_included("public", "log"));
        assert!(!c.table_data_included("public", "log_old"));
        assert!(c.table_data_included("public", "m"));
        assert!(!c.tables_only());
        assert!(c.schema_included("public"));
        // a loop in the pairs ends
        let mut c = Filters {
            exclude_tables_and_children: v(&["a"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        c.resolve_children(&[(q("s", "a"), q("s", "b")), (q("s", "b"), q("s", "a"))]);
        assert!(!c.table_included("s", "b"));
    }

    #[test]
    fn and_children_patterns_matching_nothing_are_reported() {
        let c = Filters {
            include_tables_and_children: v(&["m*", "nothing"]),
            ..Filters::default()
        }
        .compile()
        .unwrap();
        assert_eq!(
            c.unmatched(&["public"], &[("public", "m")]),
            [FilterError::no_matching_table("nothing")]
        );
        assert!(Filters {
            exclude_table_data_and_children: v(&["a.b.c.d"]),
            ..Filters::default()
        }
        .compile()
        .is_err());
    }
}
