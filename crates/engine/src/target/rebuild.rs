//! Relations an incremental sync drops and creates again: the set the
//! schema comparison names, grown by everything PostgreSQL says depends on
//! them on the target (a view over a rebuilt table, a table whose foreign key
//! references it, a sequence it owns, …), and the statements that drop them.
use std::collections::{BTreeSet, HashSet};

use pgferry_catalog::{rows::dependents_of, Catalog, QName};

use crate::target::clean::drop_relation;
use tokio_postgres::Client;

use crate::error::{Error, Side};

/// Grows `rebuild` by what depends on it on the target. `known`: the
/// relations the sync knows (the source's and the target's within the
/// synced objects); a dependent outside them (a table a filter excludes, an
/// object in a schema not synced, a function over a row type) cannot be
/// rebuilt: the reason is returned and the sync replaces everything.
pub(crate) async fn close_over_dependents(
    tgt: &Client,
    rebuild: &mut BTreeSet<QName>,
    known: &HashSet<QName>,
) -> Result<Result<(), String>, Error> {
    let mut asked: HashSet<QName> = HashSet::new();
    loop {
        let fresh: Vec<QName> = rebuild
            .iter()
            .filter(|q| !asked.contains(*q))
            .cloned()
            .collect();
        if fresh.is_empty() {
            return Ok(Ok(()));
        }
        asked.extend(fresh.iter().cloned());
        let deps = dependents_of(tgt, &fresh)
            .await
            .map_err(|e| Error::catalog_on(Side::Target, e))?;
        for d in deps {
            let Some(rel) = d.relation else {
                return Ok(Err(format!(
                    "{} depends on a relation whose definition changed",
                    d.description
                )));
            };
            // TOAST tables and identity sequences go with their table.
            if matches!(d.relkind.as_deref(), Some("t")) || rel.schema == "pg_toast" {
                continue;
            }
            if !known.contains(&rel) && d.relkind.as_deref() != Some("S") {
                return Ok(Err(format!(
                    "{} ({rel}) depends on a relation whose definition changed and is not synced",
                    d.description
                )));
            }
            rebuild.insert(rel);
        }
    }
}

/// `DROP … CASCADE` of the target's relations in `rebuild`, dependents
/// first (everything the cascade reaches is in `rebuild`, see
/// [`close_over_dependents`]).
pub(crate) fn drop_statements(target: &Catalog, rebuild: &BTreeSet<QName>) -> Vec<String> {
    target
        .objects
        .iter()
        .rev()
        .filter(|o| o.qname().is_some_and(|q| rebuild.contains(&q)))
        .filter_map(drop_relation)
        .collect()
}
