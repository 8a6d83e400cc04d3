//! Comparing a source and a target: schema drift, row counts, content checksums.
use std::collections::BTreeMap;

use pgferry_catalog::{read_catalog, render_object, Catalog, Kind, Object, QName, RenderOptions};
use tokio_postgres::Client;

use crate::conn::ConnSpec;
use crate::connect::connect;
use crate::dump::begin_snapshot;
use crate::error::Error;
use crate::filter::Filters;
use crate::watch::{watched, Peer, Phase};

/// How a sync's result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// No check.
    None,
    /// Exact row counts per table (default).
    #[default]
    Counts,
    /// Row counts and an order-independent hash of every row's content.
    Checksums,
}

impl VerifyMode {
    /// `none`, `counts` or `checksums`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyMode::None => "none",
            VerifyMode::Counts => "counts",
            VerifyMode::Checksums => "checksums",
        }
    }
}

/// A table whose contents differ.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableDiff {
    /// `schema.table`.
    pub table: String,
    /// What the source has (e.g. `1000 rows`).
    pub source: String,
    /// What the target has.
    pub target: String,
}

/// Outcome of a verification.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Tables compared.
    pub tables_checked: usize,
    /// Tables whose contents differ.
    pub differences: Vec<TableDiff>,
    /// Objects or columns present on one side only, or defined differently.
    pub drift: Vec<String>,
    /// Objects only the target has, in schemas the source does not have
    /// (schemas a sync leaves alone): listed, not differences, unless
    /// [`VerifyOptions::strict`].
    pub target_only: Vec<String>,
}

impl VerifyReport {
    /// True when nothing differs.
    pub fn is_identical(&self) -> bool {
        self.differences.is_empty() && self.drift.is_empty()
    }
}

/// Session settings that make row text identical on both sides.
/// (`search_path` matters too: `regclass` and similar values print qualified or not.)
pub(crate) const STABLE_OUTPUT: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; \
     SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'; \
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
    let fail = |e: tokio_postgres::Error| Error::source_stmt(format!("verifying {table}"), &e);
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
    in_transaction: bool,
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
            .map_err(|e| Error::source_stmt("listing tables with forced row security", &e))?;
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

    fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// Options of [`verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Restrict to these objects.
    pub filters: Filters,
    /// Compare contents, not only counts.
    pub checksums: bool,
    /// Count what only the target has in schemas the source lacks as
    /// differences too (by default they are listed in
    /// [`VerifyReport::target_only`]: a sync with the same filters leaves them alone).
    pub strict: bool,
}

/// Compares `source` and `target`: schema drift (objects and columns present
/// on one side only or defined differently) and per-table counts or
/// checksums. Both sides are read in one snapshot each.
pub async fn verify(
    source: &ConnSpec,
    target: &ConnSpec,
    opts: &VerifyOptions,
) -> Result<VerifyReport, Error> {
    let src = connect(source, "source").await?;
    let tgt = connect(target, "target").await?;
    let phase = Phase::new("verifying");
    let src_peer = Peer::start(source, "source", &phase).await?;
    src_peer.watch_backend(&src).await;
    let tgt_peer = Peer::start(target, "target", &phase).await?;
    tgt_peer.watch_backend(&tgt).await;
    watched(
        &[&src_peer, &tgt_peer],
        &[("source", &src), ("target", &tgt)],
        &phase,
        verify_with(&src, &tgt, opts),
    )
    .await
}

async fn verify_with(
    src: &Client,
    tgt: &Client,
    opts: &VerifyOptions,
) -> Result<VerifyReport, Error> {
    let lock_timeout = std::time::Duration::from_secs(10);
    let src_cat = begin_snapshot(src, &opts.filters, lock_timeout).await?;
    let mut rls = ForcedRls::read(tgt, true).await?;
    // Lifting FORCE ROW LEVEL SECURITY for a count needs a read-write
    // transaction; otherwise read only (a hot standby can be verified).
    let mode = if rls.is_empty() {
        "READ ONLY"
    } else {
        "READ WRITE"
    };
    tgt.batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ, {mode}"))
        .await
        .map_err(|e| Error::source_stmt("starting a snapshot on the target", &e))?;
    rls.in_transaction = true;
    let compiled = opts.filters.compile()?;
    let tgt_cat = read_catalog(tgt, &compiled).await?;
    for c in [&src, &tgt] {
        c.batch_execute(STABLE_OUTPUT)
            .await
            .map_err(|e| Error::source_stmt("verify settings", &e))?;
    }
    let (drift, target_only) =
        split_target_only(&src_cat, schema_drift(&src_cat, &tgt_cat), &tgt_cat);
    let mut report = VerifyReport {
        drift,
        target_only,
        ..Default::default()
    };
    if opts.strict {
        report.drift.append(&mut report.target_only);
    }
    let target_tables: std::collections::HashSet<String> = tgt_cat
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Table(_)))
        .map(Object::display_name)
        .collect();
    for o in &src_cat.objects {
        let Some(rows) = Rows::of(o) else {
            continue;
        };
        let table = rows.table;
        // (an extension's configuration table is the extension's, not a table of the catalog)
        if rows.filter.is_none() && !target_tables.contains(&table.to_string()) {
            continue; // reported as drift
        }
        let (a, b) = (
            fingerprint(src, rows, opts.checksums, &ForcedRls::none()).await?,
            fingerprint(tgt, rows, opts.checksums, &rls).await?,
        );
        report.tables_checked += 1;
        if a != b {
            report.differences.push(TableDiff {
                table: table.to_string(),
                source: a,
                target: b,
            });
        }
    }
    let _ = src.batch_execute("COMMIT").await;
    let _ = tgt.batch_execute("COMMIT").await;
    Ok(report)
}

/// Splits off the drift entries about objects only the target has, in
/// schemas the source does not have at all, and its own publications and
/// event triggers (a sync leaves those alone).
fn split_target_only(
    source: &Catalog,
    drift: Vec<String>,
    target: &Catalog,
) -> (Vec<String>, Vec<String>) {
    let source_schemas: std::collections::HashSet<&str> = source
        .objects
        .iter()
        .filter(|o| matches!(o.kind, Kind::Schema))
        .map(|o| o.name.as_str())
        .collect();
    // "only on target: KIND NAME: ..." entries of objects outside the source's schemas.
    let outside: std::collections::HashSet<String> = target
        .objects
        .iter()
        .filter(|o| comparable(o))
        .filter(|o| {
            let schema = match o.kind {
                Kind::Schema => Some(o.name.as_str()),
                _ => o.schema.as_deref(),
            };
            // Database-wide objects a sync leaves alone unless the source
            // has one of the same name.
            schema.is_some_and(|s| !source_schemas.contains(s)) || o.kind.database_wide()
        })
        .map(|o| format!("only on target: {} {}:", o.kind.label(), o.display_name()))
        .collect();
    let mut kept = Vec::new();
    let mut only = Vec::new();
    for d in drift {
        match outside.iter().find(|p| d.starts_with(p.as_str())) {
            Some(p) => only.push(
                p.trim_start_matches("only on target: ")
                    .trim_end_matches(':')
                    .to_string(),
            ),
            None => kept.push(d),
        }
    }
    (kept, only)
}

fn comparable(o: &Object) -> bool {
    !matches!(
        o.kind,
        Kind::TableData { .. }
            | Kind::SequenceSet { .. }
            | Kind::MatViewRefresh { .. }
            | Kind::RelationStats { .. }
            | Kind::Role { .. }
            | Kind::DefaultAcl { .. }
            | Kind::Database { .. }
    )
}

/// The source database's own properties the target lacks (a sync applies
/// them over the target's, which may hold settings of its own).
fn database_drift(source: &Catalog, target: &Catalog) -> Vec<String> {
    let props = |c: &Catalog| -> Vec<String> {
        c.objects
            .iter()
            .filter(|o| matches!(o.kind, Kind::Database { .. }))
            .flat_map(|o| render_object(o, &RenderOptions::default()))
            .collect()
    };
    let on_target = props(target);
    props(source)
        .into_iter()
        .filter(|s| !on_target.contains(s))
        .map(|s| format!("differs: DATABASE PROPERTIES: the target lacks: {s}"))
        .collect()
}

/// Objects and columns present on one side only or defined differently.
pub(crate) fn schema_drift(source: &Catalog, target: &Catalog) -> Vec<String> {
    let index = |c: &Catalog| -> BTreeMap<(String, String), Object> {
        c.objects
            .iter()
            .filter(|o| comparable(o))
            .map(|o| ((o.kind.label().to_string(), o.display_name()), o.clone()))
            .collect()
    };
    let (a, b) = (index(source), index(target));
    let opts = RenderOptions::default();
    let mut out = database_drift(source, target);
    for (key, o) in &a {
        match b.get(key) {
            None => out.push(format!(
                "only on source: {} {}: {}",
                key.0,
                key.1,
                render_object(o, &opts).first().cloned().unwrap_or_default()
            )),
            Some(t) => match (&o.kind, &t.kind) {
                (Kind::Table(x), Kind::Table(y)) => {
                    let cols = |d: &pgferry_catalog::TableDef| -> BTreeMap<String, String> {
                        d.columns
                            .iter()
                            .map(|c| {
                                let mut s = c.type_sql.clone();
                                if c.not_null {
                                    s.push_str(" NOT NULL");
                                }
                                if let Some(d) = &c.default {
                                    s.push_str(&format!(" DEFAULT {d}"));
                                }
                                (c.name.clone(), s)
                            })
                            .collect()
                    };
                    let (cx, cy) = (cols(x), cols(y));
                    for (name, def) in &cx {
                        match cy.get(name) {
                            None => {
                                out.push(format!("column only on source: {}.{name} {def}", key.1))
                            }
                            Some(d) if d != def => out.push(format!(
                                "column differs: {}.{name}: source {def}, target {d}",
                                key.1
                            )),
                            _ => {}
                        }
                    }
                    for (name, def) in &cy {
                        if !cx.contains_key(name) {
                            out.push(format!("column only on target: {}.{name} {def}", key.1));
                        }
                    }
                }
                _ => {
                    let (x, y) = (render_object(o, &opts), render_object(t, &opts));
                    if x != y {
                        out.push(format!(
                            "differs: {} {}: source: {} | target: {}",
                            key.0,
                            key.1,
                            x.join("; "),
                            y.join("; ")
                        ));
                    }
                }
            },
        }
    }
    for (key, o) in &b {
        if !a.contains_key(key) {
            out.push(format!(
                "only on target: {} {}: {}",
                key.0,
                key.1,
                render_object(o, &opts).first().cloned().unwrap_or_default()
            ));
        }
    }
    out
}
