//! Planner statistics of the loaded relations ([`Kind::RelationStats`]),
//! read from `pg_class` and `pg_stats` as pg_dump 18 reads them.
use std::collections::HashMap;

use super::{class, obj, Reader};
use crate::model::*;
use crate::stats::STATS_COLUMNS;
use crate::CatalogError;

/// One statistics object after each table's data (and each materialized
/// view's refresh), ordered after the relation's indexes: a `CREATE INDEX`
/// rewrites the table's `reltuples`. With the source's statistics when the
/// selector wants them, and for expression indexes their columns'.
pub(crate) async fn read_statistics(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    // Each relation's own pg_class row (an identity column's sequence is an
    // alias of its table's entry, and must not stand in for it).
    let oid_of: HashMap<usize, u32> = r
        .origin
        .iter()
        .filter(|(_, (c, _))| *c == class::CLASS)
        .map(|(i, (_, oid))| (*i, *oid))
        .collect();
    let table_oid: HashMap<QName, u32> = r
        .objects
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o.kind, Kind::Table(_) | Kind::MatView { .. }))
        .filter_map(|(i, o)| {
            let name = QName {
                schema: o.schema.clone()?,
                name: o.name.clone(),
            };
            Some((name, *oid_of.get(&i)?))
        })
        .collect();
    // The loaded relations: table → (oid, what it is, its data or refresh object).
    let mut loaded: Vec<(QName, u32, StatsOf, usize)> = Vec::new();
    let mut after: HashMap<QName, Vec<usize>> = HashMap::new();
    for (i, o) in r.objects.iter().enumerate() {
        match &o.kind {
            Kind::TableData { table, .. } | Kind::MatViewRefresh { view: table } => {
                let Some(&oid) = table_oid.get(table) else {
                    continue;
                };
                let of = match &r.objects[r.keys[&(class::CLASS, oid)]].kind {
                    Kind::MatView { .. } => StatsOf::MatView,
                    _ => StatsOf::Table,
                };
                loaded.push((table.clone(), oid, of, i));
            }
            Kind::Index { table, .. } | Kind::Constraint { table, .. } => {
                after.entry(table.clone()).or_default().push(i)
            }
            _ => {}
        }
    }
    // A partitioned table's statistics cover its partitions: it comes after
    // their data (every level up).
    let parent_of: HashMap<QName, QName> = r
        .objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::Table(t) => Some((
                QName {
                    schema: o.schema.clone()?,
                    name: o.name.clone(),
                },
                t.partition_of.as_ref()?.0.clone(),
            )),
            _ => None,
        })
        .collect();
    let ancestors = |table: &QName| -> Vec<QName> {
        let mut out = Vec::new();
        let mut at = table;
        while let Some(parent) = parent_of.get(at) {
            out.push(parent.clone());
            at = parent;
        }
        out
    };
    // Partitioned ancestors of loaded tables, in order of first sight, with
    // the data objects under each.
    let mut parents: Vec<QName> = Vec::new();
    let mut data_deps: HashMap<QName, Vec<usize>> = HashMap::new();
    for (table, _, _, data) in &loaded {
        for parent in ancestors(table) {
            let deps = data_deps.entry(parent.clone()).or_default();
            if deps.is_empty() {
                parents.push(parent);
            }
            deps.push(*data);
        }
    }
    // Partitioned tables with a foreign table somewhere below.
    let foreign_below: std::collections::HashSet<QName> = r
        .objects
        .iter()
        .filter(|o| matches!(&o.kind, Kind::Table(t) if t.foreign.is_some()))
        .filter_map(|o| {
            Some(QName {
                schema: o.schema.clone()?,
                name: o.name.clone(),
            })
        })
        .flat_map(|t| ancestors(&t))
        .collect();
    for parent in parents {
        if let Some(&oid) = table_oid.get(&parent) {
            let first = data_deps[&parent][0];
            loaded.push((parent, oid, StatsOf::Partitioned, first));
        }
    }
    if loaded.is_empty() {
        return Ok(());
    }
    let copies = r.selector.statistics();
    let oids: Vec<u32> = loaded.iter().map(|l| l.1).collect();
    let (relations, columns) = if copies {
        (
            relation_values(r, &oids).await?,
            column_values(r, &oids).await?,
        )
    } else {
        Default::default()
    };
    // Expression indexes by their table.
    let mut indexes: HashMap<u32, Vec<(u32, &RelationValues)>> = HashMap::new();
    for (oid, v) in &relations {
        if let Some(t) = v.table {
            indexes.entry(t).or_default().push((*oid, v));
        }
    }
    for list in indexes.values_mut() {
        list.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    }
    let mut added: Vec<(Object, Vec<usize>)> = Vec::new();
    for (table, oid, of, data) in loaded {
        let deps: Vec<usize> = std::iter::once(data)
            .chain(data_deps.get(&table).into_iter().flatten().copied())
            .chain(after.get(&table).into_iter().flatten().copied())
            .collect();
        let stats = |name: &str, index: Option<String>, values, columns| {
            obj(
                Some(table.schema.clone()),
                name.to_string(),
                Kind::RelationStats {
                    table: table.clone(),
                    of,
                    version: r.version,
                    foreign_partitions: index.is_none() && foreign_below.contains(&table),
                    index,
                    relation_values: values,
                    columns,
                },
            )
        };
        added.push((
            stats(
                &table.name,
                None,
                relations.get(&oid).map(|v| v.values.clone()),
                columns.get(&oid).cloned().unwrap_or_default(),
            ),
            deps.clone(),
        ));
        // Expression indexes of the table carry statistics of their own.
        for (index_oid, v) in indexes.get(&oid).into_iter().flatten() {
            let (Some(cols), Some(&index)) = (
                columns.get(index_oid),
                r.keys.get(&(class::CLASS, *index_oid)),
            ) else {
                continue;
            };
            let mut d = deps.clone();
            d.push(index);
            added.push((
                stats(
                    &v.name,
                    Some(v.name.clone()),
                    Some(v.values.clone()),
                    cols.clone(),
                ),
                d,
            ));
        }
    }
    for (o, deps) in added {
        let i = r.add(None, o);
        r.edges.extend(deps.into_iter().map(|d| (i, d)));
    }
    Ok(())
}

struct RelationValues {
    name: String,
    /// For an index: its table's oid.
    table: Option<u32>,
    values: (i32, String, i32, Option<i32>),
}

/// `pg_class` values of the tables and of their expression indexes.
async fn relation_values(
    r: &Reader<'_>,
    oids: &[u32],
) -> Result<HashMap<u32, RelationValues>, CatalogError> {
    let frozen = if r.version >= 180000 {
        "c.relallfrozen"
    } else {
        "NULL::int4"
    };
    let sql = format!(
        "SELECT c.oid, c.relname::text, i.indrelid, c.relpages, c.reltuples::text, c.relallvisible, {frozen} \
         FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid \
         WHERE c.oid = ANY($1) OR (i.indrelid = ANY($1) AND 0 = ANY(i.indkey::int2[]))"
    );
    let rows = r.query("relation statistics", &sql, &[&oids]).await?;
    let mut out = HashMap::new();
    for row in rows {
        out.insert(
            row.get::<u32>(0)?,
            RelationValues {
                name: row.get(1)?,
                table: row.get(2)?,
                values: (row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?),
            },
        );
    }
    Ok(out)
}

/// `pg_stats` rows of the tables and of their expression indexes, by relation oid.
async fn column_values(
    r: &Reader<'_>,
    oids: &[u32],
) -> Result<HashMap<u32, Vec<ColumnStats>>, CatalogError> {
    let carried: Vec<&str> = STATS_COLUMNS
        .iter()
        .filter(|(_, _, since)| r.version >= *since)
        .map(|(name, _, _)| *name)
        .collect();
    let values: Vec<String> = carried.iter().map(|c| format!("s.{c}::text")).collect();
    let sql = format!(
        "SELECT c.oid, a.attnum, a.attname::text, c.relkind::text, s.inherited, {} \
         FROM pg_catalog.pg_stats s \
         JOIN pg_catalog.pg_namespace n ON n.nspname = s.schemaname \
         JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = s.attname \
         LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid \
         WHERE c.oid = ANY($1) OR i.indrelid = ANY($1) \
         ORDER BY c.oid, a.attnum, s.inherited",
        values.join(", ")
    );
    let rows = r.query("column statistics", &sql, &[&oids]).await?;
    let mut out: HashMap<u32, Vec<ColumnStats>> = HashMap::new();
    for row in rows {
        let relkind: String = row.get(3)?;
        let column = if relkind == "i" {
            StatsColumn::Number(row.get(1)?)
        } else {
            StatsColumn::Name(row.get(2)?)
        };
        let mut kept = Vec::new();
        for (k, name) in carried.iter().enumerate() {
            if let Some(v) = row.get::<Option<String>>(5 + k)? {
                kept.push((name.to_string(), v));
            }
        }
        out.entry(row.get(0)?).or_default().push(ColumnStats {
            column,
            inherited: row.get(4)?,
            values: kept,
        });
    }
    Ok(out)
}
