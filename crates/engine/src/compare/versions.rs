//! Row versions: what changed in a table since the last sync, read from the
//! transaction id every row version carries (`xmin`) on both servers,
//! instead of hashing every row.
//!
//! Every sync records, with its history row on the target (so a restored
//! target restores its record with it), a **point** on each side: the xmin
//! of a snapshot taken before it compared anything (every transaction older
//! than it had ended), the server's identity (start time, port, database
//! name: a server restarted, replaced or rewound gets a new one), and the
//! transaction ids its own writes carry on the target. It records each
//! table's source row count too. The next sync reads, for each table, on
//! both sides at once (one scan of row headers, no column read):
//!
//! - on the source, the rows and those **newer** than the recorded point:
//!   every older row was in the last sync's snapshot, so when none is newer
//!   and the count is unchanged the rows are exactly those the last sync
//!   saw; otherwise the older rows that are gone number `recorded - (rows -
//!   newer)`;
//! - on the target, the rows and those newer than its point that the last
//!   sync did not write: when there are none and the count is the recorded
//!   one, the table is exactly as the last sync left it (an edit, an insert
//!   or an update on the replica makes a newer row; a delete changes the
//!   count).
//!
//! Both untouched: the table is kept without reading a value. The target
//! untouched and the source only grown or updated (the older rows that are
//! gone are exactly those whose key a newer row has): the newer rows are
//! the candidates, compared by content with the target's rows of their
//! keys (`op::sync::incremental`). Anything else, or no usable record
//! (first sync, another server, a restart, a table read through a filter),
//! falls back to the content comparison ([`crate::compare::rows`]).
//!
//! Rows frozen more than 2³¹ transactions ago may look newer than they are
//! (their `xmin` wrapped): that only sends more rows to the slower path.
use std::collections::HashMap;

use pgferry_catalog::QName;
use tokio_postgres::Client;

use crate::error::{Error, Side};

/// Recorded points further back than this many transactions are not used
/// (the 32-bit `age()` arithmetic stays exact well inside 2³¹).
const MAX_SPAN: i64 = 1 << 30;

/// One side's point: who it is and the oldest transaction still running
/// when the sync started there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Point {
    /// Start time, port and database ([`pgferry_catalog::probe::database_identity`]).
    pub identity: String,
    /// `pg_snapshot_xmin` of a snapshot taken before any comparison.
    pub xmin: i64,
    /// The next transaction id then (`pg_snapshot_xmax`).
    pub next: i64,
}

/// Reads this side's [`Point`] (PostgreSQL 13+: `pg_current_snapshot`).
pub(crate) async fn point(
    client: &Client,
    side: Side,
    version: i32,
) -> Result<Option<Point>, Error> {
    if version < 130000 {
        return Ok(None);
    }
    let identity = pgferry_catalog::probe::database_identity(client)
        .await
        .map_err(|e| Error::catalog_on(side, e))?;
    let row = client
        .query_one(
            "SELECT pg_catalog.pg_snapshot_xmin(s)::text::int8, pg_catalog.pg_snapshot_xmax(s)::text::int8 \
             FROM pg_catalog.pg_current_snapshot() s",
            &[],
        )
        .await
        .map_err(|e| Error::statement(side, "reading the transaction horizon", e))?;
    Ok(Some(Point {
        identity,
        xmin: row.get(0),
        next: row.get(1),
    }))
}

/// What the last successful sync from this source recorded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Baseline {
    pub source: Point,
    pub target: Point,
    /// Transaction ids (64-bit) the last sync's writes carry on the target.
    pub own: Vec<i64>,
    /// Source rows per table (`schema.name`).
    pub rows: HashMap<String, i64>,
}

/// Whether `b` was taken on these same servers (`source` and `target`:
/// this sync's points) and not too many transactions ago.
fn usable(b: &Baseline, source: &Point, target: &Point) -> bool {
    let near = |now: &Point, then: i64| then > 0 && then <= now.next && now.next - then < MAX_SPAN;
    b.source.identity == source.identity
        && b.target.identity == target.identity
        && near(source, b.source.xmin)
        && near(target, b.target.xmin)
        && !b.own.is_empty()
        && b.own.iter().all(|x| near(target, *x))
}

/// The low 32 bits: the `xid` rows carry.
fn xid(x: i64) -> u32 {
    (x & 0xffff_ffff) as u32
}

/// `age(xmin) <= age(point)`: the row version is not older than the point
/// (newer, or written at it).
pub(crate) fn newer_than(point: i64) -> String {
    format!(
        "pg_catalog.age(xmin) <= pg_catalog.age('{}'::xid)",
        xid(point)
    )
}

/// One side's reading of a table: its rows, and those newer than the
/// recorded point (on the target: not written by the last sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    pub rows: i64,
    pub newer: i64,
}

impl Reading {
    /// The rows the last sync saw that are gone (`recorded` of them then).
    pub(crate) fn gone(&self, recorded: i64) -> i64 {
        recorded - (self.rows - self.newer)
    }
}

async fn read(
    client: &Client,
    side: Side,
    table: &QName,
    point: i64,
    own: &[i64],
    keys: Option<&str>,
) -> Result<(Reading, Option<Vec<String>>), Error> {
    let mut newer = newer_than(point);
    if !own.is_empty() {
        let list: Vec<String> = own.iter().map(|x| xid(*x).to_string()).collect();
        newer.push_str(&format!(
            " AND NOT (xmin = ANY ('{{{}}}'::xid[]))",
            list.join(",")
        ));
    }
    let listed = keys
        .map(|k| format!(", COALESCE(array_agg({k}) FILTER (WHERE {newer}), '{{}}')"))
        .unwrap_or_default();
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE {newer}){listed} FROM ONLY {} x",
                table.sql()
            ),
            &[],
        )
        .await
        .map_err(|e| Error::statement(side, format!("reading the row versions of {table}"), e))?;
    let reading = Reading {
        rows: row.get(0),
        newer: row.get(1),
    };
    Ok((reading, keys.map(|_| row.get(2))))
}

/// What the row versions say of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Both sides exactly as the last sync left them.
    Same { rows: i64 },
    /// The target as the last sync left it; on the source `newer` rows are
    /// new or new versions, and `gone` rows the last sync saw are no more.
    Newer { rows: i64, newer: i64, gone: i64 },
    /// The row versions cannot tell (the target was written to, or the
    /// counts do not add up): compare the content.
    Unknown,
}

/// Judges from the recorded source row count and both sides' readings.
pub(crate) fn judge(recorded: i64, source: Reading, target: Reading) -> Judged {
    if target.newer > 0 || target.rows != recorded {
        return Judged::Unknown;
    }
    if source.newer == 0 && source.rows == recorded {
        return Judged::Same { rows: recorded };
    }
    let gone = source.gone(recorded);
    if gone < 0 {
        return Judged::Unknown;
    }
    Judged::Newer {
        rows: source.rows,
        newer: source.newer,
        gone,
    }
}

/// The source's reading of `table` against the baseline; with `keys` (SQL
/// of a row's key text over alias `x`), the newer rows' keys too, from the
/// same scan.
pub(crate) async fn read_source(
    src: &Client,
    table: &QName,
    b: &Baseline,
    keys: Option<&str>,
) -> Result<(Reading, Option<Vec<String>>), Error> {
    read(src, Side::Source, table, b.source.xmin, &[], keys).await
}

/// The target's reading of `table`: rows newer than its point that the last
/// sync did not write.
pub(crate) async fn read_target(
    tgt: &Client,
    table: &QName,
    b: &Baseline,
) -> Result<Reading, Error> {
    Ok(read(tgt, Side::Target, table, b.target.xmin, &b.own, None)
        .await?
        .0)
}

/// The baseline the last successful sync from `source` recorded on the
/// target, where this sync (its points `now`: source, target) may measure
/// against it (`None`: no such sync, an older pgferry, other servers, too
/// far back, or this sync has no points).
pub(crate) async fn baseline(
    tgt: &Client,
    source: &str,
    now: (Option<&Point>, Option<&Point>),
) -> Result<Option<Baseline>, Error> {
    let (Some(now_source), Some(now_target)) = now else {
        return Ok(None);
    };
    let fail = |e| Error::on_target("reading the last sync's row version points", e);
    let Some(h) = tgt
        .query_opt(
            "SELECT h.id, h.source_identity, h.source_xmin, h.target_identity, h.target_xmin, h.target_xids \
             FROM pgferry.sync_history h WHERE h.outcome = 'success' AND h.source = $1 \
             ORDER BY h.id DESC LIMIT 1",
            &[&source],
        )
        .await
        .map_err(fail)?
    else {
        return Ok(None);
    };
    let (Some(si), Some(sx), Some(ti), Some(tx), Some(own)) = (
        h.get::<_, Option<String>>(1),
        h.get::<_, Option<i64>>(2),
        h.get::<_, Option<String>>(3),
        h.get::<_, Option<i64>>(4),
        h.get::<_, Option<Vec<i64>>>(5),
    ) else {
        return Ok(None);
    };
    let id: i64 = h.get(0);
    let rows = tgt
        .query(
            "SELECT table_name, source_rows FROM pgferry.sync_history_tables \
             WHERE history_id = $1 AND source_rows IS NOT NULL",
            &[&id],
        )
        .await
        .map_err(fail)?;
    let b = Baseline {
        source: Point {
            identity: si,
            xmin: sx,
            next: 0,
        },
        target: Point {
            identity: ti,
            xmin: tx,
            next: 0,
        },
        own,
        rows: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
    };
    Ok(usable(&b, now_source, now_target).then_some(b))
}

/// The 64-bit id of a transaction id `x` (32-bit) assigned at or after the
/// 64-bit `base`, within 2³² of it.
pub(crate) fn widen(base: i64, x: u32) -> i64 {
    base + i64::from(x.wrapping_sub(xid(base)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(rows: i64, newer: i64) -> Reading {
        Reading { rows, newer }
    }

    #[test]
    fn untouched_sides_are_the_same() {
        assert_eq!(judge(10, r(10, 0), r(10, 0)), Judged::Same { rows: 10 });
    }

    #[test]
    fn a_touched_target_is_unknown() {
        // An edit on the replica (a newer row), or a delete (the count).
        assert_eq!(judge(10, r(10, 0), r(10, 1)), Judged::Unknown);
        assert_eq!(judge(10, r(10, 0), r(9, 0)), Judged::Unknown);
    }

    #[test]
    fn source_changes_count_what_is_gone() {
        // 3 updated: 3 newer versions, 3 older ones gone.
        assert_eq!(
            judge(10, r(10, 3), r(10, 0)),
            Judged::Newer {
                rows: 10,
                newer: 3,
                gone: 3
            }
        );
        // 2 inserted.
        assert_eq!(
            judge(10, r(12, 2), r(10, 0)),
            Judged::Newer {
                rows: 12,
                newer: 2,
                gone: 0
            }
        );
        // 1 deleted: nothing newer, one gone.
        assert_eq!(
            judge(10, r(9, 0), r(10, 0)),
            Judged::Newer {
                rows: 9,
                newer: 0,
                gone: 1
            }
        );
    }

    #[test]
    fn widening_follows_the_epoch() {
        assert_eq!(widen(5, 7), 7);
        assert_eq!(widen((1 << 32) + 10, 12), (1 << 32) + 12);
        // Past a wrap of the low 32 bits.
        assert_eq!(widen((1 << 32) - 2, 3), (1 << 32) + 3);
    }

    fn p(identity: &str, xmin: i64, next: i64) -> Point {
        Point {
            identity: identity.into(),
            xmin,
            next,
        }
    }

    #[test]
    fn a_baseline_of_other_servers_or_too_old_is_dropped() {
        let b = Baseline {
            source: p("s", 100, 0),
            target: p("t", 200, 0),
            own: vec![210],
            rows: HashMap::new(),
        };
        let h = |s: Point, t: Point| usable(&b, &s, &t);
        assert!(h(p("s", 150, 160), p("t", 300, 300)));
        assert!(!h(p("s2", 150, 160), p("t", 300, 300)), "another source");
        assert!(!h(p("s", 150, 160), p("t2", 300, 300)), "another target");
        assert!(!h(p("s", 50, 60), p("t", 300, 300)), "a rewound source");
        assert!(
            !h(p("s", 150, 160 + MAX_SPAN), p("t", 300, 300)),
            "too far back"
        );
    }
}
