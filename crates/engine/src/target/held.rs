//! Tables a sync's filters exclude, in schemas it replaces: moved into
//! holding schemas while their schema is dropped and recreated, moved back,
//! and proven unchanged.
use std::collections::HashSet;

use pgferry_catalog::{probe, quote_ident, QName};
use tokio_postgres::Client;

use crate::error::{Error, Side};
use crate::filter::CompiledFilters;

/// An excluded table moved aside while its schema is replaced.
pub(crate) struct Held {
    pub name: QName,
    hold_schema: String,
    shape: String,
}

/// Tables the filters exclude in schemas about to be replaced: they are
/// moved into holding schemas while their schema is replaced, then back.
pub(crate) async fn excluded_tables(
    tgt: &Client,
    synced: &HashSet<String>,
    filters: &CompiledFilters,
) -> Result<Vec<Held>, Error> {
    if synced.is_empty() || filters.is_empty() {
        return Ok(Vec::new());
    }
    let mut held = Vec::new();
    let mut tables = probe::root_tables(tgt)
        .await
        .map_err(|e| Error::catalog_on(Side::Target, e))?;
    // A partition goes with its parent when that is replaced, but under an
    // excluded parent it is held too, or replacing its schema would drop it
    // with its rows.
    for (parent, child) in probe::inheritance(tgt)
        .await
        .map_err(|e| Error::catalog_on(Side::Target, e))?
    {
        let partition = (child.schema, child.name);
        if !filters.table_included(&parent.schema, &parent.name) && !tables.contains(&partition) {
            tables.push(partition);
        }
    }
    for (schema, name) in tables {
        if !synced.contains(&schema) || filters.table_included(&schema, &name) {
            continue;
        }
        let hold_schema = format!("pgferry_hold_{}", held.len());
        let shape = probe::table_shape(tgt, &schema, &name)
            .await
            .map_err(|e| Error::catalog_on(Side::Target, e))?;
        held.push(Held {
            name: QName { schema, name },
            hold_schema,
            shape,
        });
    }
    Ok(held)
}

/// Moves the kept tables into their holding schemas.
pub(crate) fn hold_statements(held: &[Held]) -> Vec<String> {
    held.iter()
        .map(|h| {
            format!(
                "CREATE SCHEMA {hs}; ALTER TABLE {t} SET SCHEMA {hs}",
                hs = quote_ident(&h.hold_schema),
                t = h.name.sql()
            )
        })
        .collect()
}

pub(crate) async fn restore_held_tables(tgt: &Client, held: &[Held]) -> Result<(), Error> {
    for h in held {
        let hs = quote_ident(&h.hold_schema);
        tgt.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s}; ALTER TABLE {hs}.{t} SET SCHEMA {s}; DROP SCHEMA {hs}",
            s = quote_ident(&h.name.schema),
            t = quote_ident(&h.name.name)
        ))
        .await
        .map_err(|e| Error::on_target(format!("putting back excluded table {}", h.name), e))?;
    }
    Ok(())
}

/// Proves every kept table came back unchanged (after its foreign keys,
/// defaults and triggers over replaced objects were recreated).
pub(crate) async fn check_held_tables(tgt: &Client, held: &[Held]) -> Result<(), Error> {
    for h in held {
        let shape = probe::table_shape(tgt, &h.name.schema, &h.name.name)
            .await
            .map_err(|e| Error::catalog_on(Side::Target, e))?;
        if shape != h.shape {
            return Err(Error::Dependents(format!(
                "keeping excluded table {}: it depends on objects the sync replaces and would change ({} became {}); \
                 exclude those objects too, or include the table",
                h.name, h.shape, shape
            )));
        }
    }
    Ok(())
}
