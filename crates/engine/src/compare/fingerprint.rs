//! Per-table row counts and order-independent content hashes, computed on
//! each server, and the one loop that compares them table by table.
use pgferry_catalog::{Kind, Object, QName};
use tokio_postgres::Client;

use crate::compare::{TableDiff, VerifyMode};
use crate::error::{Error, Side};

/// Session settings that make row text identical on both sides.
/// (`search_path` matters too: `regclass` and similar values print qualified or not.)
pub(crate) const STABLE_OUTPUT: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; \
     SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'; \
     SET standard_conforming_strings = on; \
     SELECT pg_catalog.set_config('search_path', '', false)";

/// The rows of a table data entry, as verify counts and hashes them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub table: &'a QName,
    pub columns: &'a [String],
    pub casts: &'a [(String, String)],
    /// `WHERE …` of an extension configuration table.
    pub filter: Option<&'a str>,
}

impl<'a> Rows<'a> {
    /// The rows of `o`, when it is a table data entry.
    pub(crate) fn of(o: &'a Object) -> Option<Rows<'a>> {
        match &o.kind {
            Kind::TableData {
                table,
                columns,
                casts,
                filter,
                ..
            } => Some(Rows {
                table,
                columns,
                casts,
                filter: filter.as_deref(),
            }),
            _ => None,
        }
    }
}

/// Row count, and with `checksums` an order-independent content hash, of one table.
///
/// Columns with `casts` (xml) are hashed through the cast, so differences
/// their output function would hide are seen.
pub(crate) async fn fingerprint(
    client: &Client,
    side: Side,
    rows: Rows<'_>,
    checksums: bool,
    rls: &ForcedRls,
) -> Result<String, Error> {
    let Rows {
        table,
        columns,
        casts,
        filter,
    } = rows;
    let filter = filter.map(|f| format!(" {f}")).unwrap_or_default();
    let sql = if checksums {
        let row = if casts.is_empty() {
            "x::text".to_string()
        } else {
            let cols: Vec<String> = columns
                .iter()
                .map(|c| match casts.iter().find(|(n, _)| n == c) {
                    Some((_, t)) => format!("x.{}::{t}", pgferry_catalog::quote_ident(c)),
                    None => format!("x.{}", pgferry_catalog::quote_ident(c)),
                })
                .collect();
            format!("ROW({})::text", cols.join(", "))
        };
        format!(
            "SELECT count(*)::text || ' rows, content hash ' || \
             COALESCE(sum(('x' || left(md5({row}), 16))::bit(64)::bigint::numeric), 0)::text \
             FROM ONLY {} x{filter}",
            table.sql()
        )
    } else {
        format!(
            "SELECT count(*)::text || ' rows' FROM ONLY {}{filter}",
            table.sql()
        )
    };
    let fail = |e: tokio_postgres::Error| Error::statement(side, format!("verifying {table}"), e);
    if !rls.tables.contains(table) {
        let row = client.query_one(&sql, &[]).await.map_err(fail)?;
        return Ok(row.get(0));
    }
    // The owner's own rows are hidden by FORCE ROW LEVEL SECURITY: lift it
    // for this count only, in a transaction (or savepoint) rolled back.
    let (open, close) = if rls.in_transaction {
        (
            "SAVEPOINT pgferry_verify",
            "ROLLBACK TO SAVEPOINT pgferry_verify; RELEASE SAVEPOINT pgferry_verify",
        )
    } else {
        ("BEGIN READ WRITE", "ROLLBACK")
    };
    client.batch_execute(open).await.map_err(fail)?;
    // The lift takes an exclusive lock for a moment: never wait long for it.
    let lifted = client
        .batch_execute(&format!(
            "SET LOCAL lock_timeout = '5s'; ALTER TABLE {} NO FORCE ROW LEVEL SECURITY",
            table.sql()
        ))
        .await;
    let row = match lifted {
        Ok(()) => client.query_one(&sql, &[]).await,
        Err(e) => Err(e),
    };
    client.batch_execute(close).await.map_err(fail)?;
    Ok(row.map_err(fail)?.get(0))
}

/// Tables whose rows the connecting role (their owner, not a superuser nor
/// `BYPASSRLS`) would not all see because of `FORCE ROW LEVEL SECURITY`;
/// [`fingerprint`] lifts it for its count, inside a transaction rolled back.
#[derive(Debug, Default)]
pub(crate) struct ForcedRls {
    tables: std::collections::HashSet<QName>,
    /// The session is inside a transaction (use a savepoint).
    pub in_transaction: bool,
}

impl ForcedRls {
    /// None to lift (the source side: a dump would have failed on them).
    pub(crate) fn none() -> ForcedRls {
        ForcedRls::default()
    }

    pub(crate) async fn read(client: &Client, in_transaction: bool) -> Result<ForcedRls, Error> {
        let rows = client
            .query(
                "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relrowsecurity AND c.relforcerowsecurity \
                   AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) \
                   AND pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')",
                &[],
            )
            .await
            .map_err(|e| Error::on_target("listing tables with forced row security", e))?;
        Ok(ForcedRls {
            tables: rows
                .iter()
                .map(|r| QName {
                    schema: r.get(0),
                    name: r.get(1),
                })
                .collect(),
            in_transaction,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// What the source side of a comparison is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SourceRows<'a> {
    /// Counted (or hashed) on the source connection.
    Query(&'a Client),
    /// Already known: the rows a sync just copied, by table.
    Copied(&'a [(QName, u64)]),
}

/// Compares every table data object of `objects` between the source and
/// `tgt` (whose forced row security `rls` lifts), by counts or checksums;
/// tables `skip` names are left out. Returns the tables compared and the
/// differences.
pub(crate) async fn compare_tables(
    source: SourceRows<'_>,
    tgt: &Client,
    objects: &[Object],
    mode: VerifyMode,
    rls: &ForcedRls,
    skip: impl Fn(&Rows<'_>) -> bool,
) -> Result<(usize, Vec<TableDiff>), Error> {
    let checksums = mode == VerifyMode::Checksums;
    let none = ForcedRls::none();
    let mut checked = 0;
    let mut differences = Vec::new();
    for o in objects {
        let Some(rows) = Rows::of(o) else {
            continue;
        };
        if skip(&rows) {
            continue;
        }
        let table = rows.table;
        let a = match source {
            SourceRows::Query(src) => {
                fingerprint(src, Side::Source, rows, checksums, &none).await?
            }
            SourceRows::Copied(copied) if !checksums => {
                let n = copied
                    .iter()
                    .find(|(t, _)| t == table)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                format!("{n} rows")
            }
            SourceRows::Copied(_) => {
                return Err(Error::Worker(
                    "internal: checksums need the source connection".into(),
                ))
            }
        };
        let b = fingerprint(tgt, Side::Target, rows, checksums, rls).await?;
        checked += 1;
        if a != b {
            differences.push(TableDiff {
                table: table.to_string(),
                source: a,
                target: b,
            });
        }
    }
    Ok((checked, differences))
}
