//! Version-aware catalog queries.
//!
//! Every query runs with an empty `search_path` (set by the caller's
//! transaction or here), so all names that PostgreSQL deparses come out
//! schema-qualified.
mod access;
mod columns;
mod foreign;
mod misc;
mod post_data;
mod relations;
mod roles;
mod routines;
mod stats;
mod types;

use std::collections::HashMap;
use std::sync::Arc;

use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Client, Row};

use crate::loops::{Edges, PartRef};
use crate::model::*;
use crate::order::{sort_objects, Graph};
use crate::CatalogError;

/// Which objects to read. pg_dump's `-n/-N/-t/-T/--exclude-table-data` map onto it.
pub trait Selector: Send + Sync {
    /// Is this schema (and its non-relation objects) included?
    fn schema(&self, schema: &str) -> bool;
    /// Is this relation's definition included?
    fn relation(&self, schema: &str, name: &str) -> bool;
    /// Is this table's data included?
    fn data(&self, schema: &str, name: &str) -> bool;
    /// Only the selected relations (and objects attached to them) are wanted,
    /// not whole schemas (pg_dump's `-t`).
    fn relations_only(&self) -> bool;
    /// The whole database is wanted (no include patterns): database-wide
    /// data such as large objects comes along, as with pg_dump.
    fn whole_database(&self) -> bool {
        !self.relations_only()
    }
    /// User mappings keep their `password` option (pg_dump dumps it; pgferry
    /// leaves it out unless asked).
    fn user_mapping_passwords(&self) -> bool {
        false
    }
    /// Subscriptions are read (created disconnected and disabled on restore).
    fn subscriptions(&self) -> bool {
        true
    }
    /// Is this extension (installed in `schema`) included? By default when
    /// its schema is and whole schemas are wanted; pg_dump's `-e` picks
    /// extensions by name instead.
    fn extension(&self, _name: &str, schema: &str) -> bool {
        !self.relations_only() && self.schema(schema)
    }
    /// Publications are read (with the tables and schemas they publish).
    fn publications(&self) -> bool {
        true
    }
    /// Which roles are read ([`Kind::Role`]).
    fn roles(&self) -> RoleSelection {
        RoleSelection::None
    }
    /// Roles keep their password secret (needs read access to `pg_authid`).
    fn role_passwords(&self) -> bool {
        false
    }
    /// The source's planner statistics are read into the loaded relations'
    /// [`Kind::RelationStats`] (without them the objects still come, so a
    /// restore can analyze what it loaded).
    fn statistics(&self) -> bool {
        true
    }
}

/// Which roles a read carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum RoleSelection {
    /// None (roles are cluster-wide; the default).
    #[default]
    None,
    /// The roles the read objects reference (owners, grantees, policy and
    /// default-privilege roles, user mappings, per-role database settings)
    /// and the roles that are members of them.
    Referenced,
    /// Every role but the built-in `pg_*` ones.
    All,
}

/// Selects every user object.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectAll;

impl Selector for SelectAll {
    fn schema(&self, _: &str) -> bool {
        true
    }
    fn relation(&self, _: &str, _: &str) -> bool {
        true
    }
    fn data(&self, _: &str, _: &str) -> bool {
        true
    }
    fn relations_only(&self) -> bool {
        false
    }
}

/// Catalog table OIDs (stable across versions).
pub(crate) mod class {
    pub const TYPE: u32 = 1247;
    pub const PROC: u32 = 1255;
    pub const CLASS: u32 = 1259;
    pub const ATTRDEF: u32 = 2604;
    pub const CONSTRAINT: u32 = 2606;
    pub const NAMESPACE: u32 = 2615;
    pub const OPERATOR: u32 = 2617;
    pub const REWRITE: u32 = 2618;
    pub const TRIGGER: u32 = 2620;
    pub const EXTENSION: u32 = 3079;
    pub const POLICY: u32 = 3256;
    pub const STATISTIC_EXT: u32 = 3381;
    pub const TS_DICT: u32 = 3600;
    pub const TS_CONFIG: u32 = 3602;
    pub const COLLATION: u32 = 3456;
    pub const AM: u32 = 2601;
    pub const AMOP: u32 = 2602;
    pub const AMPROC: u32 = 2603;
    pub const CONVERSION: u32 = 2607;
    pub const LANGUAGE: u32 = 2612;
    pub const OPCLASS: u32 = 2616;
    pub const OPFAMILY: u32 = 2753;
    pub const TRANSFORM: u32 = 3576;
    pub const FDW: u32 = 2328;
    pub const FOREIGN_SERVER: u32 = 1417;
    pub const USER_MAPPING: u32 = 1418;
    pub const SUBSCRIPTION: u32 = 6100;
    pub const TS_PARSER: u32 = 3601;
    pub const TS_TEMPLATE: u32 = 3764;
}

/// Excludes system schemas and pgferry's own bookkeeping schema.
pub(crate) const USER_SCHEMA: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') \
     AND n.nspname !~ '^pg_(toast|temp_)'";

/// Neither a member of an extension nor generated internally for another
/// object (range constructors, multirange types, ...).
pub(crate) fn not_ext_member(class_oid: u32, oid_col: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.classid = {class_oid} \
         AND ext.objid = {oid_col} AND (ext.deptype = 'e' OR (ext.deptype = 'i' \
         AND ext.objsubid = 0 AND ext.refobjid <> ext.objid)))"
    )
}

/// `regproc` text of a function-oid column, NULL when unset (0).
pub(crate) fn proc_or_null(col: &str) -> String {
    format!("CASE WHEN {col} <> 0 THEN {col}::regproc::text END")
}

/// `ARRAY[quote_ident(key) || ' ' || quote_literal(value), ...]` of an
/// options column (`OPTIONS (...)` items of foreign data objects).
pub(crate) fn options_sql(col: &str) -> String {
    format!(
        "ARRAY(SELECT pg_catalog.quote_ident(o.option_name) || ' ' || pg_catalog.quote_literal(o.option_value) \
         FROM pg_catalog.pg_options_to_table({col}) o)"
    )
}

/// An ACL column as JSON text (NULL when the ACL is the default).
pub(crate) fn acl_sql(col: &str) -> String {
    format!(
        "CASE WHEN {col} IS NULL THEN NULL ELSE COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
         CASE WHEN a.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(a.grantee) END, \
         pg_catalog.pg_get_userbyid(a.grantor), a.privilege_type, a.is_grantable))::text \
         FROM pg_catalog.aclexplode({col}) a), '[]') END"
    )
}

pub(crate) fn parse_acl(json: Option<String>) -> Result<Acl, CatalogError> {
    let Some(json) = json else { return Ok(None) };
    let items: Vec<(Option<String>, String, String, bool)> =
        serde_json::from_str(&json).map_err(|e| CatalogError::Model(format!("ACL: {e}")))?;
    Ok(Some(
        items
            .into_iter()
            .map(|(grantee, grantor, privilege, grantable)| Grant {
                grantee,
                grantor,
                privilege,
                grantable,
            })
            .collect(),
    ))
}

/// Writes a complete set of table privileges as one `ALL` where that means
/// the same on the target, as pg_dump (and pg_upgrade) do: on a 17+ source
/// any full set (it includes `MAINTAIN`); on an older source only the
/// owner's, whose full set is the default a newer server gives an owner
/// (with `MAINTAIN`). Another role's full pre-17 set stays an explicit list,
/// so it does not gain `MAINTAIN` on a 17+ target.
pub(crate) fn collapse_table_all(acl: Acl, version: i32, owner: Option<&str>) -> Acl {
    const BEFORE_17: [&str; 7] = [
        "INSERT",
        "SELECT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
    ];
    let grants = acl?;
    let full = |privs: &[&str]| {
        BEFORE_17.iter().all(|p| privs.contains(p))
            && (version < 170000 || privs.contains(&"MAINTAIN"))
    };
    let mut keys: Vec<(Option<&str>, &str, bool)> = Vec::new();
    for g in &grants {
        let k = (g.grantee.as_deref(), g.grantor.as_str(), g.grantable);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut out = Vec::new();
    for (grantee, grantor, grantable) in keys {
        let group: Vec<&Grant> = grants
            .iter()
            .filter(|g| {
                g.grantee.as_deref() == grantee && g.grantor == grantor && g.grantable == grantable
            })
            .collect();
        let privs: Vec<&str> = group.iter().map(|g| g.privilege.as_str()).collect();
        if full(&privs) && (version >= 170000 || grantee.is_some() && grantee == owner) {
            out.push(Grant {
                grantee: grantee.map(str::to_string),
                grantor: grantor.to_string(),
                privilege: "ALL".into(),
                grantable,
            });
        } else {
            out.extend(group.into_iter().cloned());
        }
    }
    Some(out)
}

/// Reading state: objects found so far and the catalog identities that map onto them.
pub(crate) struct Reader<'a> {
    pub client: &'a Client,
    pub version: i32,
    pub selector: &'a dyn Selector,
    pub objects: Vec<Object>,
    /// (catalog class oid, object oid) → index in `objects` (aliases too).
    pub keys: HashMap<(u32, u32), usize>,
    /// Index in `objects` → the catalog identity it was added with (never
    /// an alias: a table's entry is its own `pg_class` row, not its
    /// identity sequence's).
    pub origin: HashMap<usize, (u32, u32)>,
    /// Extra dependency edges (from index → to index).
    pub edges: Vec<(usize, usize)>,
    /// pg_depend edges to ignore: (dependent key, referenced key).
    pub ignore: std::collections::HashSet<((u32, u32), (u32, u32))>,
    /// Tables (oids) whose data must be copied in text format.
    pub text_copy: Vec<u32>,
    /// Columns copied through a cast: (table oid, column, type).
    pub text_casts: Vec<(u32, String, String)>,
    /// Edges from a catalog identity that may be read later (from key → to index).
    pub key_edges: Vec<((u32, u32), usize)>,
    /// Edges to a catalog identity that may be read later (from index → to key).
    pub after_keys: Vec<(usize, (u32, u32))>,
    /// Catalog identities of object parts that can be created separately
    /// to break a dependency loop: key → (owner index, part).
    pub parts: HashMap<(u32, u32), (usize, PartRef)>,
    /// Materialized views and their refresh objects: (view index, refresh index).
    pub refreshes: Vec<(usize, usize)>,
}

/// A row of a catalog query. Its columns decode into a
/// [`CatalogError::Decode`] naming the query and the column where
/// `Row::get` would panic (a NULL for a non-`Option` type, a type mismatch).
/// It deliberately does not deref to [`Row`], so no panicking accessor is
/// reachable through it.
pub(crate) struct CatalogRow {
    row: Row,
    /// What the query reads (shared by all rows of one query).
    what: Arc<str>,
}

impl CatalogRow {
    pub(crate) fn new(row: Row, what: Arc<str>) -> Self {
        CatalogRow { row, what }
    }

    /// Column `idx`, decoded as `T`.
    pub(crate) fn get<'a, T: FromSql<'a>>(&'a self, idx: usize) -> Result<T, CatalogError> {
        self.row.try_get(idx).map_err(|e| {
            let name = self.row.columns().get(idx).map(|c| c.name());
            decode_error(&self.what, idx, name, &e)
        })
    }
}

/// The error for a column that did not decode: `idx` and, when known, the
/// column's name; the driver's text as the message.
fn decode_error(
    what: &str,
    idx: usize,
    name: Option<&str>,
    e: &dyn std::fmt::Display,
) -> CatalogError {
    CatalogError::Decode {
        what: what.to_string(),
        column: match name {
            Some(n) => format!("{idx} ({n})"),
            None => idx.to_string(),
        },
        message: e.to_string(),
    }
}

impl<'a> Reader<'a> {
    pub(crate) async fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<CatalogRow>, CatalogError> {
        let rows = self
            .client
            .query(sql, params)
            .await
            .map_err(|source| CatalogError::Query {
                what: what.to_string(),
                source,
            })?;
        let what: Arc<str> = Arc::from(what);
        Ok(rows
            .into_iter()
            .map(|row| CatalogRow::new(row, Arc::clone(&what)))
            .collect())
    }

    /// Adds an object, registering its catalog identity; returns its index.
    pub(crate) fn add(&mut self, key: Option<(u32, u32)>, obj: Object) -> usize {
        let i = self.objects.len();
        self.objects.push(Object {
            id: i as u32 + 1,
            ..obj
        });
        if let Some(k) = key {
            self.keys.insert(k, i);
            self.origin.insert(i, k);
        }
        i
    }

    /// Adds an object of a schema from a catalog row whose first five
    /// columns are its oid, schema, name, owner and comment, when the
    /// selector takes the schema; returns its index.
    pub(crate) fn add_in_schema(
        &mut self,
        class: u32,
        row: &CatalogRow,
        kind: Kind,
    ) -> Result<Option<usize>, CatalogError> {
        let schema: String = row.get(1)?;
        if !self.selector.schema(&schema) {
            return Ok(None);
        }
        let mut o = obj(Some(schema), row.get(2)?, kind);
        o.owner = row.get(3)?;
        o.comment = row.get(4)?;
        Ok(Some(self.add(Some((class, row.get(0)?)), o)))
    }

    /// Another catalog identity for an existing object (row types, rules of views, ...).
    pub(crate) fn alias(&mut self, key: (u32, u32), index: usize) {
        self.keys.entry(key).or_insert(index);
    }

    pub(crate) fn object_key(&self, key: (u32, u32)) -> Option<usize> {
        self.keys.get(&key).copied()
    }
}

pub(crate) fn obj(schema: Option<String>, name: String, kind: Kind) -> Object {
    Object {
        id: 0,
        schema,
        name,
        owner: None,
        comment: None,
        acl: None,
        deps: Vec::new(),
        kind,
    }
}

/// Reads the whole catalog visible to `client` (run it inside a
/// `REPEATABLE READ` transaction so it describes one instant), applying
/// `selector`, and returns the objects in dependency order.
pub async fn read_catalog(
    client: &Client,
    selector: &dyn Selector,
) -> Result<Catalog, CatalogError> {
    let q = |what: &'static str, source| CatalogError::Query {
        what: what.into(),
        source,
    };
    client
        .batch_execute("SELECT pg_catalog.set_config('search_path', '', true)")
        .await
        .map_err(|e| q("search_path", e))?;
    let row = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4, \
             pg_catalog.current_setting('server_version'), pg_catalog.current_database()::text, \
             pg_catalog.pg_encoding_to_char(d.encoding)::text \
             FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
            &[],
        )
        .await
        .map_err(|e| q("server version", e))?;
    let row = CatalogRow::new(row, Arc::from("server version"));
    let version: i32 = row.get(0)?;
    let server_version: String = row.get(1)?;
    if version < 120000 {
        return Err(CatalogError::UnsupportedVersion(server_version));
    }
    let mut r = Reader {
        client,
        version,
        selector,
        objects: Vec::new(),
        keys: HashMap::new(),
        origin: HashMap::new(),
        edges: Vec::new(),
        ignore: Default::default(),
        text_copy: Vec::new(),
        text_casts: Vec::new(),
        key_edges: Vec::new(),
        after_keys: Vec::new(),
        parts: HashMap::new(),
        refreshes: Vec::new(),
    };
    types::read_schemas_and_extensions(&mut r).await?;
    types::read_types(&mut r).await?;
    types::read_base_types(&mut r).await?;
    access::read_access(&mut r).await?;
    foreign::read_foreign(&mut r).await?;
    routines::read_routines(&mut r).await?;
    routines::read_text_search(&mut r).await?;
    relations::read_relations(&mut r).await?;
    misc::read_misc(&mut r).await?;
    stats::read_statistics(&mut r).await?;
    roles::read_roles(&mut r).await?;
    let (mut graph, edges) = read_dependencies(&r).await?;
    let mut unsupported = misc::read_unsupported(&r).await?;
    let mut objects = std::mem::take(&mut r.objects);
    // (before loops are broken: a view's query split off still leads to what it reads)
    crate::loops::order_refreshes(&objects, &mut graph, &r.refreshes);
    for (members, names) in crate::loops::break_loops(&mut objects, &mut graph, edges) {
        unsupported.push(Unsupported {
            ids: members.iter().map(|&i| i as u32 + 1).collect(),
            what: format!("dependency loop no object can be split off to break: {names}"),
            label: false,
        });
    }
    let objects = sort_objects(objects, graph);
    Ok(Catalog {
        model_version: MODEL_VERSION,
        server_version_num: version,
        server_version,
        database: row.get(2)?,
        encoding: row.get(3)?,
        objects,
        unsupported,
        omit: Default::default(),
    })
}

async fn read_dependencies(r: &Reader<'_>) -> Result<(Graph, Edges), CatalogError> {
    let rows = r
        .query(
            "dependencies",
            "SELECT classid::oid, objid::oid, refclassid::oid, refobjid::oid, deptype::text \
             FROM pg_catalog.pg_depend WHERE deptype IN ('n', 'a') AND classid <> 0 \
             AND objid >= 16384 AND refobjid >= 16384",
            &[],
        )
        .await?;
    let mut graph = Graph::new(r.objects.len());
    let mut edges = Edges::default();
    let mut direct = |graph: &mut Graph, from: usize, to: usize| {
        if from != to {
            graph.add(from, to);
            edges.direct.entry(from).or_default().insert(to);
        }
    };
    for (from, to) in &r.edges {
        direct(&mut graph, *from, *to);
    }
    for (key, to) in &r.key_edges {
        if let Some(from) = r.object_key(*key) {
            direct(&mut graph, from, *to);
        }
    }
    for (from, key) in &r.after_keys {
        if let Some(to) = r.object_key(*key) {
            direct(&mut graph, *from, to);
        }
    }
    let mut part_edges: Vec<((usize, PartRef), usize)> = Vec::new();
    for row in rows {
        let from_key = (row.get::<u32>(0)?, row.get::<u32>(1)?);
        let to_key = (row.get::<u32>(2)?, row.get::<u32>(3)?);
        if r.ignore.contains(&(from_key, to_key)) {
            continue;
        }
        if let (Some(from), Some(to)) = (r.object_key(from_key), r.object_key(to_key)) {
            match r.parts.get(&from_key) {
                Some((owner, part)) if *owner != to => {
                    graph.add(*owner, to);
                    part_edges.push(((*owner, part.clone()), to));
                }
                Some(_) => {}
                None => direct(&mut graph, from, to),
            }
        }
    }
    for (key, to) in part_edges {
        edges.parts.entry(key).or_default().insert(to);
    }
    Ok((graph, edges))
}

#[cfg(test)]
mod tests {
    use super::decode_error;

    #[test]
    fn decode_error_names_what_and_column() {
        let e = decode_error(
            "relations",
            3,
            Some("relname"),
            &"error deserializing column 3: a Postgres value was `NULL`",
        );
        assert_eq!(
            e.to_string(),
            "reading relations from the catalog: column 3 (relname): \
             error deserializing column 3: a Postgres value was `NULL`"
        );
        assert!(e.sqlstate().is_none());
        let e = decode_error("casts", 7, None, &"boom");
        assert_eq!(
            e.to_string(),
            "reading casts from the catalog: column 7: boom"
        );
    }
}
