//! Choosing objects: compiled filters as the catalog reader's [`Selector`]
//! (what a source run reads), with their `*-and-children` patterns resolved
//! through a database's inheritance links, and the selection of a restore
//! from an archive's table of contents.
use pgferry_catalog::{probe, Catalog, Kind, Object, QName, Selector};
use tokio_postgres::Client;

use crate::error::{Error, Side};
use crate::filter::{CompiledFilters, Filters};

/// Compiles `filters` for reading `client`'s catalog (see
/// [`resolve_children_on`]).
pub(crate) async fn compile_on(
    client: &Client,
    filters: &Filters,
    side: Side,
) -> Result<CompiledFilters, Error> {
    let mut f = filters.compile()?;
    resolve_children_on(client, &mut f, side).await?;
    Ok(f)
}

/// Lets `f`'s `*-and-children` patterns reach the children and partitions
/// of the tables they match in `client`'s database (in its transaction,
/// so they describe the snapshot read). Nothing is asked without them.
pub(crate) async fn resolve_children_on(
    client: &Client,
    f: &mut CompiledFilters,
    side: Side,
) -> Result<(), Error> {
    if f.needs_children() {
        let links = probe::inheritance(client)
            .await
            .map_err(|e| Error::catalog_on(side, e))?;
        f.resolve_children(&links);
    }
    Ok(())
}

/// The `(parent, child)` links of an archive's tables: partitions and
/// inheritance children.
fn archive_inheritance(catalog: &Catalog) -> Vec<(QName, QName)> {
    let mut links = Vec::new();
    for o in &catalog.objects {
        let (Kind::Table(def), Some(schema)) = (&o.kind, &o.schema) else {
            continue;
        };
        let child = QName {
            schema: schema.clone(),
            name: o.name.clone(),
        };
        for parent in def.partition_of.iter().map(|(p, _)| p).chain(&def.inherits) {
            links.push((parent.clone(), child.clone()));
        }
    }
    links
}

impl Selector for CompiledFilters {
    fn schema(&self, schema: &str) -> bool {
        self.schema_included(schema)
    }
    fn relation(&self, schema: &str, name: &str) -> bool {
        self.table_included(schema, name)
    }
    fn data(&self, schema: &str, name: &str) -> bool {
        self.table_data_included(schema, name)
    }
    fn relations_only(&self) -> bool {
        self.tables_only()
    }
    fn whole_database(&self) -> bool {
        CompiledFilters::whole_database(self)
    }
    fn extension(&self, name: &str, schema: &str) -> bool {
        self.extension_included(name, schema)
    }
    fn user_mapping_passwords(&self) -> bool {
        self.source().user_mapping_passwords
    }
    fn subscriptions(&self) -> bool {
        !self.source().no_subscriptions
    }
    fn publications(&self) -> bool {
        !self.source().no_publications
    }
    fn roles(&self) -> pgferry_catalog::RoleSelection {
        self.source().roles
    }
    fn role_passwords(&self) -> bool {
        self.source().role_passwords
    }
    fn statistics(&self) -> bool {
        !self.source().no_statistics
    }
}

/// The objects of an archive's `catalog` a restore keeps: pg_restore's
/// selection rules over the filters, `--schema-only` and `--data-only`.
pub(crate) fn select_objects(
    catalog: &Catalog,
    filters: &Filters,
    schema_only: bool,
    data_only: bool,
) -> Result<Vec<Object>, Error> {
    let mut f = filters.compile()?;
    if f.needs_children() {
        f.resolve_children(&archive_inheritance(catalog));
    }
    let mut out = Vec::new();
    for o in &catalog.objects {
        let data = o.kind.is_data();
        if (schema_only && data) || (data_only && !data) {
            continue;
        }
        if f.source().no_subscriptions && matches!(o.kind, Kind::Subscription { .. }) {
            continue;
        }
        if f.source().no_publications && matches!(o.kind, Kind::Publication { .. }) {
            continue;
        }
        // Roles (cluster-wide) come with --roles, whatever else is filtered.
        if matches!(o.kind, Kind::Role { .. }) {
            if f.source().roles != pgferry_catalog::RoleSelection::None {
                out.push(o.clone());
            }
            continue;
        }
        // Like pg_restore: large objects and the other database-wide objects
        // outside schemas come with whole-database restores only (schema
        // patterns do not apply to their names).
        let database_wide = o.kind.database_wide();
        if database_wide {
            if f.whole_database() {
                out.push(o.clone());
            }
            continue;
        }
        if !f.is_empty() {
            let schema = o.schema.as_deref().unwrap_or(&o.name);
            let keep = match (&o.kind, o.table()) {
                (Kind::Schema, _) => f.schema_included(&o.name),
                (Kind::Extension { schema, .. }, _) => f.extension_included(&o.name, schema),
                (Kind::TableData { table, .. }, _) => {
                    f.table_data_included(&table.schema, &table.name)
                }
                (_, Some(t)) => f.table_included(&t.schema, &t.name),
                (
                    Kind::Table(_)
                    | Kind::View { .. }
                    | Kind::MatView { .. }
                    | Kind::Sequence { .. }
                    | Kind::SequenceSet { .. }
                    | Kind::MatViewRefresh { .. }
                    | Kind::SequenceOwnedBy { .. },
                    _,
                ) => f.table_included(schema, &o.name),
                _ => f.schema_included(schema),
            };
            if !keep {
                continue;
            }
        }
        out.push(o.clone());
    }
    if !f.is_empty() {
        let schemas: Vec<&str> = catalog
            .objects
            .iter()
            .filter_map(|o| o.schema.as_deref())
            .collect();
        let tables: Vec<(&str, &str)> = catalog
            .objects
            .iter()
            .filter(|o| {
                matches!(
                    o.kind,
                    Kind::Table(_)
                        | Kind::View { .. }
                        | Kind::MatView { .. }
                        | Kind::Sequence { .. }
                )
            })
            .filter_map(|o| Some((o.schema.as_deref()?, o.name.as_str())))
            .collect();
        let extensions: Vec<&str> = catalog
            .objects
            .iter()
            .filter(|o| matches!(o.kind, Kind::Extension { .. }))
            .map(|o| o.name.as_str())
            .collect();
        if let Some(e) = f
            .unmatched(&schemas, &tables)
            .into_iter()
            .chain(f.unmatched_extensions(&extensions))
            .next()
        {
            return Err(e.into());
        }
    }
    drop_orphaned_attachments(&mut out, &catalog.objects);
    Ok(out)
}

/// Objects that only connect two others (an index attached to its parent, a
/// sequence's owner, a matview refresh) go when either side was filtered out.
/// Table data an attachment comes after does not count as a side (with
/// `--schema-only` an index is still attached to its parent). Statistics go
/// with the data they describe: kept when some of it is.
fn drop_orphaned_attachments(objects: &mut Vec<Object>, all: &[Object]) {
    if objects.len() == all.len() {
        return;
    }
    let kept: std::collections::HashSet<u32> = objects.iter().map(|o| o.id).collect();
    let data: std::collections::HashSet<u32> = all
        .iter()
        .filter(|o| matches!(o.kind, Kind::TableData { .. }))
        .map(|o| o.id)
        .collect();
    let contents: std::collections::HashSet<u32> = all
        .iter()
        .filter(|o| matches!(o.kind, Kind::TableData { .. } | Kind::MatViewRefresh { .. }))
        .map(|o| o.id)
        .collect();
    objects.retain(|o| {
        if matches!(o.kind, Kind::RelationStats { .. }) {
            return o
                .deps
                .iter()
                .any(|d| contents.contains(d) && kept.contains(d));
        }
        let attachment = matches!(
            o.kind,
            Kind::IndexAttach { .. } | Kind::SequenceOwnedBy { .. } | Kind::MatViewRefresh { .. }
        );
        !attachment
            || o.deps.iter().all(|d| {
                kept.contains(d)
                    || (data.contains(d) && !matches!(o.kind, Kind::MatViewRefresh { .. }))
            })
    });
}
