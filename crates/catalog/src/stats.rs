//! Planner statistics on the target ([`Kind::RelationStats`]): the
//! source's, restored without a scan where the target can take them
//! (PostgreSQL 18's `pg_restore_relation_stats` /
//! `pg_restore_attribute_stats`), else an `ANALYZE` of the loaded relation.
use crate::model::*;
use crate::quote_literal;
use crate::render::RenderOptions;

/// How planner statistics reach the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Statistics {
    /// The source's where the target can take them, `ANALYZE` elsewhere (the default).
    #[default]
    Auto,
    /// The source's, required: a target older than PostgreSQL 18 is refused
    /// by the engine. A relation the source never analyzed is analyzed.
    Copy,
    /// `ANALYZE` of every loaded relation, whatever the target.
    Analyze,
    /// Nothing: the target's autovacuum catches up later.
    None,
}

impl Statistics {
    /// `auto`, `copy`, `analyze` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Statistics::Auto => "auto",
            Statistics::Copy => "copy",
            Statistics::Analyze => "analyze",
            Statistics::None => "none",
        }
    }

    /// Parses [`Statistics::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "auto" => Statistics::Auto,
            "copy" => Statistics::Copy,
            "analyze" => Statistics::Analyze,
            "none" => Statistics::None,
            _ => return None,
        })
    }

    /// The source's statistics are wanted (read on the source, carried).
    pub fn copies(self) -> bool {
        matches!(self, Statistics::Auto | Statistics::Copy)
    }
}

/// First PostgreSQL version with `pg_restore_relation_stats`.
pub const RESTORE_STATS_VERSION: i32 = 180000;

/// The `pg_stats` columns carried, with the SQL type the restore functions take.
pub(crate) const STATS_COLUMNS: &[(&str, &str, i32)] = &[
    ("null_frac", "real", 0),
    ("avg_width", "integer", 0),
    ("n_distinct", "real", 0),
    ("most_common_vals", "text", 0),
    ("most_common_freqs", "real[]", 0),
    ("histogram_bounds", "text", 0),
    ("correlation", "real", 0),
    ("most_common_elems", "text", 0),
    ("most_common_elem_freqs", "real[]", 0),
    ("elem_count_histogram", "real[]", 0),
    ("range_length_histogram", "text", 170000),
    ("range_empty_frac", "real", 170000),
    ("range_bounds_histogram", "text", 170000),
];

/// Statements for a [`Kind::RelationStats`] under `opts.statistics`.
pub(crate) fn render_stats(o: &Object, opts: &RenderOptions) -> Vec<String> {
    let Kind::RelationStats {
        table,
        of,
        version,
        index,
        relation_values,
        columns,
        foreign_partitions,
    } = &o.kind
    else {
        return Vec::new();
    };
    let target = if opts.target_version == 0 {
        *version
    } else {
        opts.target_version
    };
    let copy = opts.statistics.copies()
        && target >= RESTORE_STATS_VERSION
        && (!columns.is_empty() || index.is_some());
    if copy {
        return vec![restore_call(
            table,
            index.as_deref(),
            *version,
            relation_values,
            columns,
        )];
    }
    if opts.statistics == Statistics::None || index.is_some() || *foreign_partitions {
        // (an index's expression statistics come with its table's ANALYZE)
        return Vec::new();
    }
    // A partitioned table's ANALYZE samples every partition and then
    // analyzes each of them too; 18 can leave the partitions to their own.
    let only = if *of == StatsOf::Partitioned && target >= 180000 {
        "ONLY "
    } else {
        ""
    };
    vec![format!("ANALYZE {only}{}", table.sql())]
}

/// One `SELECT` restoring a relation's statistics and all its columns'.
fn restore_call(
    table: &QName,
    index: Option<&str>,
    version: i32,
    relation_values: &Option<(i32, String, i32, Option<i32>)>,
    columns: &[ColumnStats],
) -> String {
    let relname = index.unwrap_or(&table.name);
    let head = format!(
        "'version', {version}::integer, 'schemaname', {}, 'relname', {}",
        quote_literal(&table.schema),
        quote_literal(relname)
    );
    let mut calls = Vec::new();
    if let Some((pages, tuples, visible, frozen)) = relation_values {
        let mut args = format!(
            "{head}, 'relpages', {pages}::integer, 'reltuples', {}::real, 'relallvisible', {visible}::integer",
            quote_literal(tuples)
        );
        if let Some(f) = frozen {
            args.push_str(&format!(", 'relallfrozen', {f}::integer"));
        }
        calls.push(format!("pg_catalog.pg_restore_relation_stats({args})"));
    }
    for c in columns {
        let mut args = head.clone();
        match &c.column {
            StatsColumn::Name(n) => args.push_str(&format!(", 'attname', {}", quote_literal(n))),
            StatsColumn::Number(k) => args.push_str(&format!(", 'attnum', {k}::smallint")),
        }
        args.push_str(&format!(", 'inherited', {}", c.inherited));
        for (key, value) in &c.values {
            let ty = STATS_COLUMNS
                .iter()
                .find(|(k, _, _)| k == key)
                .map_or("text", |(_, t, _)| *t);
            args.push_str(&format!(
                ", {}, {}::{ty}",
                quote_literal(key),
                quote_literal(value)
            ));
        }
        calls.push(format!("pg_catalog.pg_restore_attribute_stats({args})"));
    }
    format!("SELECT {}", calls.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(columns: Vec<ColumnStats>, version: i32) -> Object {
        Object {
            id: 1,
            schema: Some("s".into()),
            name: "t".into(),
            owner: None,
            comment: None,
            acl: None,
            deps: Vec::new(),
            kind: Kind::RelationStats {
                table: QName {
                    schema: "s".into(),
                    name: "t".into(),
                },
                of: StatsOf::Table,
                version,
                index: None,
                relation_values: Some((10, "1000".into(), 3, None)),
                columns,
                foreign_partitions: false,
            },
        }
    }

    fn col() -> ColumnStats {
        ColumnStats {
            column: StatsColumn::Name("it's".into()),
            inherited: false,
            values: vec![
                ("null_frac".into(), "0.5".into()),
                ("most_common_vals".into(), "{a,b}".into()),
            ],
        }
    }

    #[test]
    fn copies_to_18_and_analyzes_older_targets() {
        let o = stats(vec![col()], 150004);
        let to = |target_version, statistics| RenderOptions {
            target_version,
            statistics,
            ..Default::default()
        };
        let s = render_stats(&o, &to(180001, Statistics::Auto));
        assert_eq!(
            s,
            vec!["SELECT pg_catalog.pg_restore_relation_stats('version', 150004::integer, 'schemaname', 's', \
                  'relname', 't', 'relpages', 10::integer, 'reltuples', '1000'::real, 'relallvisible', 3::integer), \
                  pg_catalog.pg_restore_attribute_stats('version', 150004::integer, 'schemaname', 's', 'relname', 't', \
                  'attname', 'it''s', 'inherited', false, 'null_frac', '0.5'::real, 'most_common_vals', '{a,b}'::text)"
                .to_string()]
        );
        assert_eq!(
            render_stats(&o, &to(160000, Statistics::Auto)),
            vec!["ANALYZE s.t"]
        );
        // the source's own version when no target is named
        assert_eq!(
            render_stats(&o, &to(0, Statistics::Copy)),
            vec!["ANALYZE s.t"]
        );
        assert_eq!(
            render_stats(&o, &to(180000, Statistics::Analyze)),
            vec!["ANALYZE s.t"]
        );
        assert!(render_stats(&o, &to(180000, Statistics::None)).is_empty());
        // never analyzed on the source: analyzed on the target
        let never = stats(Vec::new(), 180000);
        assert_eq!(
            render_stats(&never, &to(0, Statistics::Auto)),
            vec!["ANALYZE s.t"]
        );
    }
}
