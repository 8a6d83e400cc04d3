//! Planning a dump's data work: one item per table, large tables split into
//! block ranges when several workers would otherwise wait on one table.
use pgferry_catalog::{probe, Catalog, CopyFormat, Kind, QName};
use pgferry_format::part_entry;
use tokio_postgres::Client;

use crate::error::Error;
use crate::source::copy_out::large_objects_table;

/// Default for `DumpOptions::split_pages` (128 MB).
pub const DEFAULT_SPLIT_PAGES: i64 = 16_384;

/// One unit of data work: a table, or a block range of one.
#[derive(Debug, Clone)]
pub(crate) struct Work {
    pub entry: u32,
    pub part: u32,
    pub parts: u32,
    pub table: QName,
    pub columns: Vec<String>,
    pub format: CopyFormat,
    pub casts: Vec<(String, String)>,
    /// `WHERE …` of an extension configuration table.
    pub filter: Option<String>,
    /// A complete COPY statement instead of one built from the table (large objects).
    pub sql: Option<&'static str>,
    /// Block range `[from, to)`; `to = None` means to the end.
    pub blocks: Option<(i64, Option<i64>)>,
    pub pages: i64,
}

impl Work {
    /// The `COPY ... TO STDOUT` statement of this item.
    pub(crate) fn sql(&self) -> String {
        if let Some(sql) = self.sql {
            return sql.to_string();
        }
        match self.blocks {
            None => pgferry_catalog::copy_out_sql(
                &self.table,
                &self.columns,
                self.format,
                &self.casts,
                self.filter.as_deref(),
            ),
            Some((from, to)) => pgferry_catalog::copy_out_blocks_sql(
                &self.table,
                &self.columns,
                self.format,
                from,
                to,
            ),
        }
    }
}

/// Lists the data work, largest first; with several jobs (PostgreSQL 14+, whose
/// TID range scans make it cheap) large binary tables are split into block
/// ranges so one huge table keeps every worker busy. Records the part counts
/// in the catalog, which becomes the archive's table of contents.
pub(crate) async fn plan_work(
    client: &Client,
    catalog: &mut Catalog,
    jobs: usize,
    split_pages: i64,
) -> Result<Vec<Work>, Error> {
    let (version, _) = probe::server_version(client).await?;
    let pages = probe::table_pages(client).await?;
    let size_of = |t: &QName| {
        pages
            .get(&(t.schema.clone(), t.name.clone()))
            .copied()
            .unwrap_or(0)
    };
    let sizes: Vec<i64> = catalog
        .objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::TableData { table, .. } => Some(size_of(table)),
            _ => None,
        })
        .collect();
    let split_above = split_threshold(&sizes, jobs).max(split_pages);
    let mut work = Vec::new();
    for o in &mut catalog.objects {
        let id = o.id;
        if let Kind::LargeObjects { items } = &o.kind {
            work.push(Work {
                entry: id,
                part: 0,
                parts: 1,
                table: large_objects_table(),
                columns: Vec::new(),
                format: CopyFormat::Binary,
                casts: Vec::new(),
                filter: None,
                sql: Some(pgferry_catalog::LARGE_OBJECTS_COPY_OUT),
                blocks: None,
                pages: items.len() as i64,
            });
            continue;
        }
        let Kind::TableData {
            table,
            columns,
            format,
            casts,
            parts,
            filter,
            ..
        } = &mut o.kind
        else {
            continue;
        };
        let p = size_of(table);
        let split = jobs > 1
            && filter.is_none()
            && version >= 140000
            && *format == CopyFormat::Binary
            && !columns.is_empty()
            && p >= split_above;
        let n = if split {
            let chunk = (p / (jobs as i64 * 4)).max(split_pages / 2).max(1);
            ((p + chunk - 1) / chunk).clamp(2, 256) as u32
        } else {
            1
        };
        *parts = if n > 1 { n } else { 0 };
        let chunk = (p + i64::from(n) - 1) / i64::from(n);
        for k in 0..n {
            let blocks = (n > 1).then(|| {
                let from = i64::from(k) * chunk;
                (from, (k + 1 < n).then(|| from + chunk))
            });
            work.push(Work {
                entry: part_entry(id, k),
                part: k,
                parts: n,
                table: table.clone(),
                columns: columns.clone(),
                format: *format,
                casts: casts.clone(),
                filter: filter.clone(),
                sql: None,
                blocks,
                pages: if n > 1 { chunk } else { p },
            });
        }
    }
    work.sort_by_key(|w| std::cmp::Reverse(w.pages));
    Ok(work)
}

/// Tables of at least this many pages are split into block ranges.
///
/// Splitting has a cost: a TID range scan reads through shared buffers
/// without the bulk-read ring a plain `COPY` gets, and measured slower on
/// the benchmark database. So tables stay whole when, scheduled largest
/// first over `jobs` workers, they already finish within 25% of a perfect
/// balance; otherwise the tables larger than one worker's fair share split.
fn split_threshold(sizes: &[i64], jobs: usize) -> i64 {
    let total: i64 = sizes.iter().sum();
    if jobs < 2 || total == 0 {
        return i64::MAX;
    }
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut load = vec![0i64; jobs];
    for s in sorted {
        if let Some(min) = load.iter_mut().min() {
            *min += s;
        }
    }
    let makespan = load.iter().copied().max().unwrap_or(0);
    let fair = total / jobs as i64;
    if makespan * 4 <= fair * 5 {
        i64::MAX
    } else {
        fair.max(1)
    }
}

#[cfg(test)]
mod split_tests {
    use super::split_threshold;

    #[test]
    fn one_dominant_table_is_split_balanced_tables_are_not() {
        // One huge table: split whatever is above the fair share.
        assert_eq!(split_threshold(&[262_144, 10], 2), 131_077);
        // Two tables that already balance within 25%: no split.
        assert_eq!(split_threshold(&[32_787, 22_205, 10, 3], 2), i64::MAX);
        // One job, or nothing to copy: never.
        assert_eq!(split_threshold(&[1_000_000], 1), i64::MAX);
        assert_eq!(split_threshold(&[], 4), i64::MAX);
        // Many equal tables over fewer workers: no table exceeds the fair share.
        assert!(split_threshold(&[100; 10], 8) >= 100);
    }
}
