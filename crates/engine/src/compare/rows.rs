//! Which rows of a table differ between the source and the target, decided
//! from the data on both servers: an order-independent fingerprint of the
//! whole table (count, and `bit_xor` or `sum` of row hashes), then, for a
//! keyed table that differs, the same fingerprint per bucket of key hashes,
//! then the keys and row hashes of the differing buckets, streamed from both
//! sides in key-hash order and merged here.
use std::collections::HashMap;

use futures::{pin_mut, TryStreamExt};
use pgferry_catalog::rows::RowShape;
use pgferry_catalog::{quote_ident, QName};
use tokio_postgres::Client;

use crate::error::{Error, Side};

/// Tables up to this many rows skip the per-bucket round: their keys and
/// row hashes are compared directly.
const DIRECT_ROWS: i64 = 50_000;
/// The per-bucket round uses between `1 << MIN_BUCKET_BITS` and `1 <<
/// MAX_BUCKET_BITS` buckets (more groups cost the servers more than the
/// narrower fetch saves).
const MIN_BUCKET_BITS: u32 = 10;
const MAX_BUCKET_BITS: u32 = 17;
/// The sample that estimates how much of a table differs: the rows whose
/// key hash falls in one of this many slices.
const SAMPLE_SLICES: i64 = 64;

/// How rows are hashed; both sides must use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashMethod {
    /// `hash_record_extended` over the row (PostgreSQL 14+ on both sides).
    Record,
    /// `hashtextextended` over the row's text (a side older than 14).
    Text,
}

impl HashMethod {
    /// The method both servers (`server_version_num`) can compute.
    pub(crate) fn for_versions(a: i32, b: i32) -> HashMethod {
        if a.min(b) >= 140000 {
            HashMethod::Record
        } else {
            HashMethod::Text
        }
    }
}

/// One table's rows, as both sides hash them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HashedRows<'a> {
    pub table: &'a QName,
    /// The copied columns (generated ones excluded).
    pub columns: &'a [String],
    /// `WHERE …` of an extension's configuration table.
    pub filter: Option<&'a str>,
    pub shape: &'a RowShape,
    pub method: HashMethod,
    /// The key is one column, not an array ([`crate::target::delta::Keys::plain`]):
    /// its text is the key's text.
    pub plain_key: bool,
}

impl HashedRows<'_> {
    /// SQL expression of a row's 64-bit hash over alias `x`. Columns a
    /// native hash would equate though their text differs are hashed
    /// through their exact text bytes.
    fn row_hash(&self) -> String {
        self.hash_of(self.columns)
    }

    /// The row hash, or `0::int8` when not `hashed`.
    fn hash_if(&self, hashed: bool) -> String {
        if hashed {
            self.row_hash()
        } else {
            "0::int8".into()
        }
    }

    /// SQL expression of the key's 64-bit hash over alias `x`: rows with
    /// one key fall in one bucket on both sides, whatever their content.
    fn key_hash(&self) -> String {
        self.hash_of(&self.shape.key)
    }

    fn hash_of(&self, columns: &[String]) -> String {
        if columns.is_empty() {
            return "0::int8".into();
        }
        let fields: Vec<String> = columns
            .iter()
            .map(|c| {
                let col = format!("x.{}", quote_ident(c));
                let as_text = self.shape.hash_as_text.contains(c);
                let text = if self.shape.text_by_output.contains(c) {
                    format!("pg_catalog.format('%L', {col})")
                } else {
                    format!("{col}::text")
                };
                match (self.method, as_text) {
                    (HashMethod::Record, true) => format!("pg_catalog.textsend({text})"),
                    (HashMethod::Record, false) if self.shape.arrays.contains(c) => {
                        format!("{col}, pg_catalog.array_dims({col})")
                    }
                    (HashMethod::Record, false) => col,
                    (HashMethod::Text, _) => text,
                }
            })
            .collect();
        match self.method {
            HashMethod::Record => format!(
                "pg_catalog.hash_record_extended(ROW({}), 0)",
                fields.join(", ")
            ),
            HashMethod::Text => format!(
                "pg_catalog.hashtextextended(ROW({})::text, 0)",
                fields.join(", ")
            ),
        }
    }

    /// The key as one text: a plain key's own text, else an array literal
    /// (`{1,abc}`): what [`crate::target::delta::Keys`] matches rows by.
    pub(crate) fn key_text(&self) -> String {
        let fields: Vec<String> = self
            .shape
            .key
            .iter()
            .map(|c| format!("x.{}::text", quote_ident(c)))
            .collect();
        match fields.as_slice() {
            [one] if self.plain_key => one.clone(),
            _ => format!("ARRAY[{}]::text", fields.join(", ")),
        }
    }

    /// The aggregate over row hashes `h`: `bit_xor` for a keyed table (no
    /// two rows are equal; cheaper, no numeric state) where both servers
    /// have it (14+), else `sum` (duplicates of a keyless table must not
    /// cancel out).
    fn fold(&self) -> &'static str {
        if self.shape.key.is_empty() || self.method == HashMethod::Text {
            "sum(h)"
        } else {
            "bit_xor(h)"
        }
    }

    /// `FROM ONLY table x [filter]` with the row hash as `h`.
    ///
    /// `hash_record_extended` adds its fields' hashes linearly (`31 * a +
    /// b`), so the `sum` of a keyless table would not see values trade
    /// places between rows (`(1,'a'),(2,'b')` and `(1,'b'),(2,'a')`): there
    /// each row hash is mixed once more, through a hash of itself (`OFFSET
    /// 0` keeps the planner from computing the record hash twice; the extra
    /// scan node doubles the cost, so keyed tables, whose `bit_xor` of hashes
    /// that include the key does see such a trade, go without).
    fn hashed(&self, extra: &str) -> String {
        let filter = self.filter.map(|f| format!(" {f}")).unwrap_or_default();
        let rows = format!("FROM ONLY {} x{filter}", self.table.sql());
        if self.method == HashMethod::Record && self.shape.key.is_empty() {
            return format!(
                "SELECT r # pg_catalog.hashint8extended(r, 0) AS h, s0.* \
                 FROM (SELECT {} AS r{extra} {rows} OFFSET 0) s0",
                self.row_hash()
            );
        }
        format!("SELECT {} AS h{extra} {rows}", self.row_hash())
    }
}

/// (key, row hash) of one side's rows, by key (array literal of the key
/// columns' text).
pub(crate) type KeyedHashes = HashMap<String, i64>;

/// The source's row versions newer than `point` (64-bit transaction id):
/// their keys and, when `hashed`, row hashes (else 0); with `sample` (a
/// percentage), only those in that share of the table's pages
/// (`TABLESAMPLE SYSTEM`).
pub(crate) async fn newer_rows(
    src: &Client,
    t: HashedRows<'_>,
    point: i64,
    sample: Option<f64>,
    hashed: bool,
) -> Result<KeyedHashes, Error> {
    let sampled = sample
        .map(|p| format!(" TABLESAMPLE SYSTEM ({p})"))
        .unwrap_or_default();
    let sql = format!(
        "SELECT {}, {} FROM ONLY {} x{sampled} WHERE {}",
        t.key_text(),
        t.hash_if(hashed),
        t.table.sql(),
        crate::compare::versions::newer_than(point)
    );
    let rows = src
        .query(&sql, &[])
        .await
        .map_err(|e| failed(Side::Source, t.table, e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The target's rows with these keys: by key, their row hashes (when
/// `hashed`, else 0) and where they are (`ctid`) (`keys` names the key
/// columns' types).
pub(crate) async fn rows_with_keys(
    tgt: &Client,
    t: HashedRows<'_>,
    keys: &crate::target::delta::Keys<'_>,
    list: &[&String],
    hashed: bool,
) -> Result<HashMap<String, (i64, String)>, Error> {
    if list.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT {}, {}, x.ctid::text FROM ONLY {} x WHERE {}",
        t.key_text(),
        t.hash_if(hashed),
        t.table.sql(),
        keys.predicate("x.", "$1::text[]")
    );
    let rows = tgt
        .query(&sql, &[&list])
        .await
        .map_err(|e| failed(Side::Target, t.table, e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect())
}

/// Count and sum of row hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Totals {
    pub rows: i64,
    pub sum: String,
}

/// Bytes a fingerprint or row-hash answer takes on the wire, about.
const TOTALS_BYTES: u64 = 64;

fn failed(side: Side, table: &QName, e: tokio_postgres::Error) -> Error {
    Error::statement(side, format!("comparing the rows of {table}"), e)
}

/// The whole table's fingerprint on one side.
pub(crate) async fn totals(
    client: &Client,
    side: Side,
    t: HashedRows<'_>,
) -> Result<Totals, Error> {
    // A keyed table holds no two equal rows, so `bit_xor` (cheaper: no
    // numeric state) loses nothing there; without a key, duplicates would
    // cancel out in it, and `sum` keeps them.
    let fold = t.fold();
    let sql = format!(
        "SELECT count(*), COALESCE({fold}, 0)::text FROM ({}) s",
        t.hashed("")
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(|e| failed(side, t.table, e))?;
    Ok(Totals {
        rows: row.get(0),
        sum: row.get(1),
    })
}

async fn buckets(
    client: &Client,
    side: Side,
    t: HashedRows<'_>,
    bits: u32,
) -> Result<HashMap<i32, (i64, String)>, Error> {
    let mask = (1i64 << bits) - 1;
    let sql = format!(
        "SELECT (kh & {mask})::int4, count(*), {}::text FROM ({}) s GROUP BY 1",
        t.fold(),
        t.hashed(&format!(", {} AS kh", t.key_hash()))
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| failed(side, t.table, e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect())
}

/// A table's row count, and (key hash, row hash) of the rows in one slice
/// of key hashes (bits the buckets do not use).
struct Sample {
    rows: i64,
    hashes: HashMap<i64, i64>,
}

async fn sample(client: &Client, side: Side, t: HashedRows<'_>) -> Result<Sample, Error> {
    let slice = format!("(kh >> 40) & {} = 0", SAMPLE_SLICES - 1);
    let sql = format!(
        "SELECT count(*), COALESCE(array_agg(kh) FILTER (WHERE {slice}), '{{}}'), \
         COALESCE(array_agg(h) FILTER (WHERE {slice}), '{{}}') FROM ({}) s",
        t.hashed(&format!(", {} AS kh", t.key_hash()))
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(|e| failed(side, t.table, e))?;
    let (kh, h): (Vec<i64>, Vec<i64>) = (row.get(1), row.get(2));
    Ok(Sample {
        rows: row.get(0),
        hashes: kh.into_iter().zip(h).collect(),
    })
}

/// (key hash, row hash, key) of the rows in `only` buckets (all rows when
/// `None`), ordered by key hash and row hash.
async fn row_hashes(
    client: &Client,
    side: Side,
    t: HashedRows<'_>,
    only: Option<(u32, &[i32])>,
) -> Result<tokio_postgres::RowStream, Error> {
    let inner = t.hashed(&format!(", {} AS kh, {} AS k", t.key_hash(), t.key_text()));
    let filter = match only {
        Some((bits, list)) => {
            let list: Vec<String> = list.iter().map(i32::to_string).collect();
            format!(
                " WHERE (kh & {}) = ANY ('{{{}}}'::int8[])",
                (1i64 << bits) - 1,
                list.join(",")
            )
        }
        None => String::new(),
    };
    client
        .query_raw(
            &format!("SELECT kh, h, k FROM ({inner}) s{filter} ORDER BY kh, h"),
            std::iter::empty::<i32>(),
        )
        .await
        .map_err(|e| failed(side, t.table, e))
}

/// What differs in one table.
#[derive(Debug, Default, Clone)]
pub(crate) struct RowDiff {
    /// Keys (array literals of the key columns' text) whose source row the
    /// target lacks or has differently.
    pub fetch: Vec<String>,
    /// Keys the target has and the source does not.
    pub absent: Vec<String>,
    /// Keys on both sides whose rows differ (a subset of `fetch`).
    pub changed: Vec<String>,
    /// Rows on the source (from its fingerprint).
    pub source_rows: i64,
    /// Bytes the comparison moved, about.
    pub bytes: u64,
    /// Copy the source's row versions newer than this transaction id (64-bit)
    /// instead of the rows `fetch` names ([`crate::compare::versions`]).
    pub since: Option<i64>,
    /// The target rows to delete, by `ctid` (read in this transaction),
    /// instead of by the keys in `changed` and `absent`.
    pub ctids: Option<Vec<String>>,
}

/// The verdict on one table.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// Identical content.
    Same { rows: i64, bytes: u64 },
    /// These rows differ (a keyed table).
    Rows(RowDiff),
    /// It differs and has no key (or most rows differ): copy it whole.
    Whole { rows: i64, bytes: u64 },
}

impl Verdict {
    /// Rows on the source.
    pub(crate) fn source_rows(&self) -> u64 {
        match self {
            Verdict::Same { rows, .. } | Verdict::Whole { rows, .. } => *rows as u64,
            Verdict::Rows(d) => d.source_rows as u64,
        }
    }

    /// Bytes the comparison moved, about.
    pub(crate) fn bytes(&self) -> u64 {
        match self {
            Verdict::Same { bytes, .. } | Verdict::Whole { bytes, .. } => *bytes,
            Verdict::Rows(d) => d.bytes,
        }
    }
}

/// Samples both sides: (differing sample rows, sample rows seen, the larger
/// row count of the two sides, the source's row count).
async fn sample_both(
    src: &Client,
    tgt: &Client,
    t: HashedRows<'_>,
    bytes: &mut u64,
) -> Result<(usize, usize, i64, i64), Error> {
    let (x, y) = futures::try_join!(sample(src, Side::Source, t), sample(tgt, Side::Target, t))?;
    *bytes += ((x.hashes.len() + y.hashes.len()) * 16) as u64 + 2 * TOTALS_BYTES;
    let differ = x
        .hashes
        .iter()
        .filter(|(k, h)| y.hashes.get(k) != Some(h))
        .count()
        + y.hashes
            .keys()
            .filter(|k| !x.hashes.contains_key(k))
            .count();
    let seen = x.hashes.len().max(y.hashes.len()).max(1);
    Ok((differ, seen, x.rows.max(y.rows), x.rows))
}

/// What the source's statistics counters say changed in a table since the
/// last sync. A hint only: a table they say was written to takes its
/// sample before the whole-table fingerprint (which then runs only if the
/// sample saw no difference); every decision is the data's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hint {
    /// Rows inserted, updated and deleted (committed or not).
    pub changed: i64,
}

/// Compares one table's rows on `src` and `tgt` (both fingerprints computed
/// at once); narrows a differing keyed table down to the keys that differ.
/// With `whole_allowed`, a table where most rows differ is to be copied
/// whole instead. `rows` of a verdict is the source's row count, or -1
/// when the table is to be copied whole before it was counted.
pub(crate) async fn compare_rows(
    src: &Client,
    tgt: &Client,
    t: HashedRows<'_>,
    whole_allowed: bool,
    hint: Option<Hint>,
) -> Result<Verdict, Error> {
    let mut bytes = 0;
    // The counters say the table changed: the sample below (data) comes
    // first and the whole-table fingerprint only runs if it saw nothing.
    let sample_first = !t.shape.key.is_empty() && hint.is_some_and(|h| h.changed > 0);
    let mut sampled: Option<(usize, usize, i64, i64)> = None;
    if sample_first {
        let s = sample_both(src, tgt, t, &mut bytes).await?;
        if s.0 > 0 {
            sampled = Some(s);
        }
    }
    let (rows, mut source_rows) = match sampled {
        Some((_, _, rows, source)) => (rows, Some(source)),
        None => {
            let (a, b) =
                futures::try_join!(totals(src, Side::Source, t), totals(tgt, Side::Target, t))?;
            bytes += 2 * TOTALS_BYTES;
            if a == b {
                return Ok(Verdict::Same {
                    rows: a.rows,
                    bytes,
                });
            }
            if t.shape.key.is_empty() {
                return Ok(Verdict::Whole {
                    rows: a.rows,
                    bytes,
                });
            }
            (a.rows.max(b.rows), Some(a.rows))
        }
    };
    let mut only: Option<(u32, Vec<i32>)> = None;
    if rows > DIRECT_ROWS {
        // How much differs, estimated from one key-hash slice of the rows
        // (1 in SAMPLE_SLICES), decides the next step.
        let (differ, seen, _, _) = match sampled {
            Some(s) => s,
            None if sample_first => (0, 1, rows, rows),
            None => sample_both(src, tgt, t, &mut bytes).await?,
        };
        if whole_allowed && differ * 2 > seen {
            return Ok(Verdict::Whole {
                rows: source_rows.unwrap_or(-1),
                bytes,
            });
        }
        let changed = (differ as i64 * rows / seen as i64).max(64);
        // Buckets enough for about 8 per differing row, so that few
        // buckets differ; when that many buckets would not narrow the rows
        // down, every row's hash is read instead.
        let bits = ((changed * 8) as u64)
            .next_power_of_two()
            .ilog2()
            .clamp(MIN_BUCKET_BITS, MAX_BUCKET_BITS);
        if (1i64 << bits) * 8 <= rows {
            let (x, y) = futures::try_join!(
                buckets(src, Side::Source, t, bits),
                buckets(tgt, Side::Target, t, bits)
            )?;
            bytes += ((x.len() + y.len()) * 24) as u64;
            source_rows.get_or_insert(x.values().map(|(n, _)| *n).sum());
            let mut differing: Vec<i32> = x
                .iter()
                .filter(|(k, v)| y.get(k) != Some(v))
                .map(|(k, _)| *k)
                .chain(y.keys().filter(|k| !x.contains_key(k)).copied())
                .collect();
            differing.sort_unstable();
            // Most buckets differ: reading every row's hash is cheaper than
            // filtering on a long list.
            if differing.len() * 10 < (1usize << bits) * 6 {
                only = Some((bits, differing));
            }
        }
    }
    let only_ref = only.as_ref().map(|(b, l)| (*b, l.as_slice()));
    let (source, target) = futures::try_join!(
        row_hashes(src, Side::Source, t, only_ref),
        row_hashes(tgt, Side::Target, t, only_ref)
    )?;
    let mut diff = RowDiff::default();
    let (read, read_target, source_read) = merge(source, target, t.table, &mut diff).await?;
    bytes += read + read_target;
    diff.bytes = bytes;
    // Without a whole-table count and a bucket round, every source row was read.
    diff.source_rows = source_rows.unwrap_or(source_read as i64);
    if diff.fetch.is_empty() && diff.absent.is_empty() {
        return Ok(Verdict::Same {
            rows: diff.source_rows,
            bytes,
        });
    }
    // Most rows differ: copying the table whole is cheaper than a delta.
    if whole_allowed && diff.fetch.len() as i64 * 2 > rows {
        return Ok(Verdict::Whole {
            rows: diff.source_rows,
            bytes,
        });
    }
    Ok(Verdict::Rows(diff))
}

/// One row of [`row_hashes`]: key hash, row hash, and its size on the wire.
fn decode(row: &tokio_postgres::Row) -> (i64, i64, &str) {
    (row.get(0), row.get(1), row.get(2))
}

/// Walks both sides' rows, ordered by key hash, side by side: a key on one
/// side only, or with another row hash, is a difference. Keys whose hashes
/// collide are matched by their text within the colliding run. Returns the
/// bytes read per side and the source rows read.
async fn merge(
    source: tokio_postgres::RowStream,
    target: tokio_postgres::RowStream,
    table: &QName,
    diff: &mut RowDiff,
) -> Result<(u64, u64, u64), Error> {
    pin_mut!(source);
    pin_mut!(target);
    let mut bytes = (0u64, 0u64);
    let mut source_read = 0u64;
    let wire = |r: &tokio_postgres::Row| 30 + r.get::<_, &str>(2).len() as u64;
    let mut s = source
        .try_next()
        .await
        .map_err(|e| failed(Side::Source, table, e))?;
    let mut t = target
        .try_next()
        .await
        .map_err(|e| failed(Side::Target, table, e))?;
    loop {
        // The next key hash and, on each side, every row that has it (one
        // row, unless two keys' hashes collide).
        let k = match (&s, &t) {
            (None, None) => break,
            (Some(a), None) => decode(a).0,
            (None, Some(b)) => decode(b).0,
            (Some(a), Some(b)) => decode(a).0.min(decode(b).0),
        };
        let mut here: Vec<(String, i64)> = Vec::new();
        while let Some(r) = s.as_ref().filter(|r| decode(r).0 == k) {
            let (_, h, key) = decode(r);
            here.push((key.to_string(), h));
            source_read += 1;
            bytes.0 += wire(r);
            s = source
                .try_next()
                .await
                .map_err(|e| failed(Side::Source, table, e))?;
        }
        let mut there: Vec<(String, i64)> = Vec::new();
        while let Some(r) = t.as_ref().filter(|r| decode(r).0 == k) {
            let (_, h, key) = decode(r);
            there.push((key.to_string(), h));
            bytes.1 += wire(r);
            t = target
                .try_next()
                .await
                .map_err(|e| failed(Side::Target, table, e))?;
        }
        for (key, h) in &here {
            match there.iter().find(|(k2, _)| k2 == key) {
                None => diff.fetch.push(key.clone()),
                Some((_, h2)) if h2 != h => diff.changed.push(key.clone()),
                Some(_) => {}
            }
        }
        for (key, _) in &there {
            if !here.iter().any(|(k2, _)| k2 == key) {
                diff.absent.push(key.clone());
            }
        }
    }
    diff.fetch.extend(diff.changed.iter().cloned());
    Ok((bytes.0, bytes.1, source_read))
}
