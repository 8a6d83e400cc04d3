//! Deciding a kept table from row versions ([`versions`]): unchanged
//! tables kept after one header scan per side, the source's newer rows
//! compared by content with the target's rows of their keys, a sample
//! first when there are many. `None` hands the table to the content
//! comparison.
use pgferry_catalog::{Catalog, Kind, QName};
use tokio_postgres::Client;

use crate::compare::rows::{newer_rows, rows_with_keys, HashedRows, Hint, RowDiff, Verdict};
use crate::compare::versions::{self, Baseline, Judged};
use crate::error::Error;
use crate::target::delta::Keys;

/// The two sides, the source's catalog and the last sync's usable baseline.
pub(super) struct Sides<'a> {
    pub src: &'a Client,
    pub tgt: &'a Client,
    pub catalog: &'a Catalog,
    pub baseline: Option<&'a Baseline>,
}

/// Newer rows the row-version comparison holds at most (about 100 bytes
/// each, per side).
const MAX_VERSION_ROWS: usize = 500_000;

/// About this many rows (a share of the table's pages) are sampled to tell
/// how many newer rows differ.
const SAMPLE_ROWS: f64 = 2000.0;

/// Tables up to this many rows have their newer rows' keys read with their
/// row versions (at most this many keys in one answer).
const FOLD_ROWS: i64 = 2_000_000;

/// From this many newer rows on, a sample comes first.
const SAMPLE_FROM: i64 = 10_000;

/// What the row versions say of one table ([`versions`]), as a verdict;
/// `None` when they cannot tell (no usable baseline, the target was written
/// to, older rows gone that no newer key explains): the content decides
/// then. The rows that are newer on the source are compared by content
/// with the target's rows of the same keys, so a row rewritten to the same
/// values is not written.
pub(super) async fn by_versions(
    s: &Sides<'_>,
    t: HashedRows<'_>,
    whole_allowed: bool,
    hint: Option<Hint>,
) -> Result<Option<Verdict>, Error> {
    let (table, shape) = (t.table, t.shape);
    let Some(b) = s.baseline else {
        return Ok(None);
    };
    // An extension's configuration table is read through its filter.
    if t.filter.is_some() {
        return Ok(None);
    }
    let Some(recorded) = b.rows.get(&table.to_string()).copied() else {
        return Ok(None);
    };
    const READ: u64 = 2 * 64;
    let keyed = !shape.key.is_empty();
    let keys = key_types(s.catalog, table, &shape.key);
    // The source's counters say at least as many rows were written as the
    // table had: a sample of the newer rows decides whether a keyed table
    // is copied whole, before anything else is read.
    let mut sampled = false;
    if keyed && whole_allowed && hint.is_some_and(|h| h.changed >= recorded.max(1)) {
        sampled = true;
        if sample_differ(s, t, &keys, b.source.xmin, recorded).await? > 0.5 {
            return Ok(Some(Verdict::Whole { rows: -1, bytes: 0 }));
        }
    }
    // A keyed table of up to FOLD_ROWS rows has its newer rows' keys read in
    // the same scan (one scan less when they are written unhashed).
    let key_text = t.key_text();
    let fold = (keyed && recorded <= FOLD_ROWS).then_some(key_text.as_str());
    let ((source, folded), tg) = futures::try_join!(
        versions::read_source(s.src, table, b, fold),
        versions::read_target(s.tgt, table, b)
    )?;
    let (rows, newer, gone) = match versions::judge(recorded, source, tg) {
        Judged::Unknown => return Ok(None),
        Judged::Same { rows } => return Ok(Some(Verdict::Same { rows, bytes: READ })),
        Judged::Newer { rows, newer, gone } => (rows, newer, gone),
    };
    let since = Some(b.source.xmin);
    if !keyed {
        // Without a key only appended rows can be told apart.
        return Ok((gone == 0).then(|| {
            Verdict::Rows(RowDiff {
                source_rows: rows,
                bytes: READ,
                since,
                ..Default::default()
            })
        }));
    }
    // The newer rows' keys and hashes are held here, both sides': past
    // this many, the content comparison (which streams) decides.
    if newer as usize > MAX_VERSION_ROWS {
        return Ok(None);
    }
    // Many newer rows: a sample of them says whether most differ (then the
    // table is copied whole, where it may be) or nearly all do (then every
    // newer row is written, without hashing them all first).
    let mut hashed = true;
    if !sampled && newer >= SAMPLE_FROM {
        let differ = sample_differ(s, t, &keys, b.source.xmin, rows).await?;
        if whole_allowed && newer * 2 > rows && differ > 0.5 {
            return Ok(Some(Verdict::Whole { rows, bytes: READ }));
        }
        hashed = differ < 0.9;
    }
    let here = match folded {
        Some(keys) if !hashed => keys.into_iter().map(|k| (k, 0)).collect(),
        _ => newer_rows(s.src, t, b.source.xmin, None, hashed).await?,
    };
    let list: Vec<&String> = here.keys().collect();
    let there = rows_with_keys(s.tgt, t, &keys, &list, hashed).await?;
    // The older rows gone from the source must be exactly the target's rows
    // whose key a newer row has (they were updated); a row deleted outright
    // is not seen here, and the content decides.
    if there.len() as i64 != gone {
        return Ok(None);
    }
    let bytes = READ
        + here
            .keys()
            .chain(there.keys())
            .map(|k| k.len() as u64 + 8)
            .sum::<u64>();
    // Unhashed, every newer row counts as differing.
    let mut fetch: Vec<String> = here
        .iter()
        .filter(|(k, h)| !hashed || there.get(*k).map(|(th, _)| th) != Some(h))
        .map(|(k, _)| k.clone())
        .collect();
    // The target rows to delete: those no source row matches exactly (a
    // key the target spells otherwise, as a nondeterministic collation
    // allows, goes too), by where they are: no second lookup by key.
    let ctids: Vec<String> = there
        .iter()
        .filter(|(k, (h, _))| !hashed || here.get(*k) != Some(h))
        .map(|(_, (_, c))| c.clone())
        .collect();
    if fetch.is_empty() {
        return Ok(Some(Verdict::Same { rows, bytes }));
    }
    // Most rows differ after all: copied whole, where it may be.
    if whole_allowed && fetch.len() as i64 * 2 > rows {
        return Ok(Some(Verdict::Whole { rows, bytes }));
    }
    fetch.sort_unstable();
    // Deleted by key before the copy: every fetched key (a key the
    // target holds under another spelling a nondeterministic collation
    // equates goes too); written by upsert instead, the ones it holds.
    let changed: Vec<String> = fetch
        .iter()
        .filter(|k| !shape.referenced || there.contains_key(*k))
        .cloned()
        .collect();
    // Every newer row differs: the source selects them by version, not by
    // a list of keys.
    let since = (fetch.len() == here.len()).then_some(b.source.xmin);
    Ok(Some(Verdict::Rows(RowDiff {
        fetch,
        changed,
        source_rows: rows,
        bytes,
        since,
        ctids: Some(ctids),
        ..Default::default()
    })))
}

/// The share of a sample of the source's newer rows (about
/// [`SAMPLE_ROWS`] of `rows`, by pages) that differ from the target's rows
/// of the same keys (0 for an empty sample).
async fn sample_differ(
    s: &Sides<'_>,
    t: HashedRows<'_>,
    keys: &Keys<'_>,
    point: i64,
    rows: i64,
) -> Result<f64, Error> {
    let share = (SAMPLE_ROWS * 100.0 / rows.max(1) as f64).min(100.0);
    let here = newer_rows(s.src, t, point, Some(share), true).await?;
    if here.is_empty() {
        return Ok(0.0);
    }
    let list: Vec<&String> = here.keys().collect();
    let there = rows_with_keys(s.tgt, t, keys, &list, true).await?;
    let differ = here
        .iter()
        .filter(|(k, h)| there.get(*k).map(|(th, _)| th) != Some(h))
        .count();
    Ok(differ as f64 / here.len() as f64)
}

/// Key columns with their types (as the source defines `table`).
pub(super) fn key_types<'k>(catalog: &Catalog, table: &QName, key: &'k [String]) -> Keys<'k> {
    let def = catalog.objects.iter().find_map(|o| match &o.kind {
        Kind::Table(d) if o.schema.as_deref() == Some(&table.schema) && o.name == table.name => {
            Some(d)
        }
        _ => None,
    });
    let types = key
        .iter()
        .map(|k| {
            def.and_then(|d| d.columns.iter().find(|c| &c.name == k))
                .map(|c| c.type_sql.clone())
                .unwrap_or_else(|| "text".into())
        })
        .collect();
    Keys {
        columns: key,
        types,
    }
}
