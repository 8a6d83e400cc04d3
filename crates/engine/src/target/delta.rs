//! Writing only what differs into a kept table, inside the sync's
//! transaction: the target's rows whose key the source lacks (or whose row
//! differs) are deleted, the source's differing rows are copied in (only
//! those keys are read from the source). A table another table's foreign
//! key references is written with `INSERT … ON CONFLICT DO UPDATE` instead
//! of delete-and-insert, so its key values never leave it while they are
//! referenced. A table copied whole is truncated first.
use bytes::Bytes;
use pgferry_catalog::{copy_in_sql, quote_ident, quote_literal, Kind, Object, QName};
use tokio_postgres::Client;

use crate::error::{Error, Side};
use crate::progress::ProgressFn;
use crate::target::apply::{load_table, TableFeed};

/// The keys of rows to touch, as text, with the key columns' types.
#[derive(Debug, Clone)]
pub(crate) struct Keys<'a> {
    /// Key columns.
    pub columns: &'a [String],
    /// Their types (as `format_type` prints them).
    pub types: Vec<String>,
}

impl Keys<'_> {
    /// One key column, not of an array type: its keys travel as their own
    /// text (else as array literals).
    pub(crate) fn plain(&self) -> bool {
        matches!(self.types.as_slice(), [t] if !t.ends_with("[]"))
    }

    /// The rows whose key is one of `keys` (SQL of a `text[]`): for a
    /// [`Keys::plain`] key, its texts, `<alias>k = ANY (keys::t[])` (a list
    /// the planner hashes); else array literals of the key columns' texts,
    /// `(<alias>k1, <alias>k2) IN (SELECT (k::text[])[1]::t1, … FROM
    /// unnest(keys) k)`.
    pub(crate) fn predicate(&self, alias: &str, keys: &str) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{alias}{}", quote_ident(c)))
            .collect();
        if let ([col], [t]) = (cols.as_slice(), self.types.as_slice()) {
            if self.plain() {
                return format!("{col} = ANY (({keys})::{t}[])");
            }
        }
        let vals: Vec<String> = self
            .types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("(k::text[])[{}]::{t}", i + 1))
            .collect();
        format!(
            "({}) IN (SELECT {} FROM pg_catalog.unnest({keys}) k)",
            cols.join(", "),
            vals.join(", ")
        )
    }
}

/// An array of the keys as a literal (`ARRAY['1', …]::text[]`), for a
/// statement that takes no parameters (`COPY`).
fn keys_literal(keys: &[String]) -> String {
    let items: Vec<String> = keys.iter().map(|k| quote_literal(k)).collect();
    format!("ARRAY[{}]::text[]", items.join(","))
}

/// Deletes the rows of `table` with these keys; returns how many went.
pub(crate) async fn delete_rows(
    client: &Client,
    table: &QName,
    keys: &Keys<'_>,
    rows: &[String],
) -> Result<u64, Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "DELETE FROM ONLY {} x WHERE {}",
        table.sql(),
        keys.predicate("x.", "$1::text[]")
    );
    client
        .execute(&sql, &[&rows])
        .await
        .map_err(|e| Error::statement(Side::Target, format!("deleting changed rows of {table}"), e))
}

/// Deletes the rows of `table` at these `ctid`s (read earlier in this
/// transaction; a row another session updated meanwhile has moved and is
/// left, and the copy's key then conflicts); returns how many went.
pub(crate) async fn delete_at(
    client: &Client,
    table: &QName,
    ctids: &[String],
) -> Result<u64, Error> {
    if ctids.is_empty() {
        return Ok(0);
    }
    client
        .execute(
            &format!(
                "DELETE FROM ONLY {} WHERE ctid = ANY ($1::text[]::tid[])",
                table.sql()
            ),
            &[&ctids],
        )
        .await
        .map_err(|e| Error::statement(Side::Target, format!("deleting changed rows of {table}"), e))
}

/// Which source rows a delta copies.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pick<'a> {
    /// The rows with these keys (array literals of the key columns' text).
    Keys(&'a [String]),
    /// The rows this SQL condition selects (over the bare table).
    Where(&'a str),
}

/// Copies the source's rows `pick` names into `table` (`o`, its table
/// data object): straight in, or through a temporary table and an upsert
/// when `upsert`. Returns the rows written and the bytes moved.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn copy_rows<F: TableFeed>(
    client: &Client,
    o: &Object,
    keys: &Keys<'_>,
    pick: Pick<'_>,
    upsert: bool,
    feed: &mut F,
    progress: &Option<ProgressFn>,
) -> Result<(u64, u64), Error> {
    let Kind::TableData {
        table,
        columns,
        format,
        filter,
        ..
    } = &o.kind
    else {
        return Ok((0, 0));
    };
    let only = match pick {
        Pick::Keys([]) => return Ok((0, 0)),
        Pick::Keys(rows) => keys.predicate("", &keys_literal(rows)),
        Pick::Where(condition) => condition.to_string(),
    };
    let filter = match filter {
        Some(f) => format!("{f} AND {only}"),
        None => format!("WHERE {only}"),
    };
    let mut part = o.clone();
    if let Kind::TableData { filter: f, .. } = &mut part.kind {
        *f = Some(filter);
    }
    let fail = |e| Error::statement(Side::Target, format!("writing changed rows of {table}"), e);
    if !upsert {
        return load_table(client, &part, false, feed, progress).await;
    }
    let tmp = QName {
        schema: "pg_temp".into(),
        name: "pgferry_delta".into(),
    };
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    client
        .batch_execute(&format!(
            "CREATE TEMPORARY TABLE pgferry_delta ON COMMIT DROP AS SELECT {} FROM ONLY {} WITH NO DATA",
            cols.join(", "),
            table.sql()
        ))
        .await
        .map_err(fail)?;
    let sink = client
        .copy_in::<_, Bytes>(&copy_in_sql(&tmp, columns, *format, false))
        .await
        .map_err(fail)?;
    futures::pin_mut!(sink);
    let bytes = feed.feed(&part, sink.as_mut(), progress).await?;
    sink.finish().await.map_err(fail)?;
    let set: Vec<String> = columns
        .iter()
        .filter(|c| !keys.columns.contains(c))
        .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(c)))
        .collect();
    let action = if set.is_empty() {
        "NOTHING".to_string()
    } else {
        format!("UPDATE SET {}", set.join(", "))
    };
    let key_cols: Vec<String> = keys.columns.iter().map(|c| quote_ident(c)).collect();
    let written = client
        .execute(
            &format!(
                "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM pg_temp.pgferry_delta \
                 ON CONFLICT ({}) DO {action}",
                table.sql(),
                cols.join(", "),
                cols.join(", "),
                key_cols.join(", ")
            ),
            &[],
        )
        .await
        .map_err(fail)?;
    client
        .batch_execute("DROP TABLE pg_temp.pgferry_delta")
        .await
        .map_err(fail)?;
    Ok((written, bytes))
}

/// Empties `table` and copies the source's rows in whole (`FREEZE`: the
/// table was truncated in this transaction).
pub(crate) async fn replace_rows<F: TableFeed>(
    client: &Client,
    o: &Object,
    table: &QName,
    feed: &mut F,
    progress: &Option<ProgressFn>,
) -> Result<(u64, u64), Error> {
    client
        .batch_execute(&format!("TRUNCATE ONLY {}", table.sql()))
        .await
        .map_err(|e| Error::statement(Side::Target, format!("emptying {table}"), e))?;
    load_table(client, o, true, feed, progress).await
}

/// Disables (or enables again, as `always` said: `ENABLE ALWAYS` or
/// `ENABLE`) the triggers and rules that would fire on a sync's writes; run
/// around them in the same transaction, so nothing outside it ever sees
/// them disabled.
pub(crate) async fn set_firing(
    client: &Client,
    table: &QName,
    shape: &pgferry_catalog::rows::RowShape,
    enable: bool,
) -> Result<(), Error> {
    let items = shape
        .origin_triggers
        .iter()
        .map(|t| ("TRIGGER", t))
        .chain(shape.rules.iter().map(|r| ("RULE", r)));
    for (what, name) in items {
        let verb = match (enable, shape.always.contains(name)) {
            (false, _) => "DISABLE",
            (true, true) => "ENABLE ALWAYS",
            (true, false) => "ENABLE",
        };
        client
            .batch_execute(&format!(
                "ALTER TABLE ONLY {} {verb} {what} {}",
                table.sql(),
                quote_ident(name)
            ))
            .await
            .map_err(|e| {
                Error::statement(Side::Target, format!("{verb} {what} {name} of {table}"), e)
            })?;
    }
    Ok(())
}
