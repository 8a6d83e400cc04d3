//! The typed model of a database's schema, as read from `pg_catalog`.
use serde::{Deserialize, Serialize};

mod defs;
mod kind;

pub use defs::{
    AggregateDef, Column, ColumnStats, ConstraintKind, CopyFormat, ForeignTable, Identity,
    InlineCheck, LargeObject, Membership, Part, RoleAttributes, SequenceOptions, StatsColumn,
    StatsOf, TableDef,
};
pub use kind::Kind;

/// Version of the catalog model serialization, bumped when archives gain
/// what an older reader cannot take (2: planner statistics,
/// [`Kind::RelationStats`]). Readers take every version up to theirs.
pub const MODEL_VERSION: u32 = 2;

/// Everything read from one database, in restore order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    /// [`MODEL_VERSION`] of the writer.
    pub model_version: u32,
    /// `server_version_num` of the source, e.g. 150004.
    pub server_version_num: i32,
    /// `server_version` of the source, e.g. "15.4 (Debian ...)".
    pub server_version: String,
    /// Source database name.
    pub database: String,
    /// Server encoding of the source.
    pub encoding: String,
    /// Objects sorted so that each one comes after everything it depends on.
    pub objects: Vec<Object>,
    /// What the source holds that pgferry cannot carry (a dump warns about
    /// each; a restore or sync that includes one of the objects refuses to
    /// start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<Unsupported>,
    /// What the dump left out of its statements (`--no-privileges`,
    /// `--no-comments`); a restore of the archive leaves it out too.
    #[serde(default, skip_serializing_if = "crate::Omit::is_none")]
    pub omit: crate::Omit,
}

/// Something pgferry cannot carry, and the objects it concerns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unsupported {
    /// Ids of the objects concerned (a restore that filters all of them out
    /// is not concerned).
    pub ids: Vec<u32>,
    /// What it is, naming the objects.
    pub what: String,
    /// It is a security label, which `--no-security-labels` leaves out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub label: bool,
}

/// Keeps the objects of `sections` (`--section`), each judged by its
/// *effective* section: its own, or the latest section of anything it
/// depends on. A view that groups by a primary key comes after that key, a
/// post-data constraint, so it goes with the post-data part, as pg_dump
/// postpones such a view; `objects` must be sorted (dependencies first).
pub fn keep_sections(objects: &mut Vec<Object>, sections: &[Section]) {
    if sections.is_empty() {
        return;
    }
    let mut effective: std::collections::HashMap<u32, Section> = Default::default();
    for o in objects.iter() {
        let s = o
            .deps
            .iter()
            .filter_map(|d| effective.get(d))
            .fold(o.section(), |a, &b| a.max(b));
        effective.insert(o.id, s);
    }
    objects.retain(|o| effective.get(&o.id).is_some_and(|s| sections.contains(s)));
}

/// Points every partition's rows at the root of its partition tree
/// (`--load-via-partition-root`): the rows are read from the partition but
/// loaded through the root, so each finds its partition on the target
/// (whose bounds, or hash partitioning's hashes, may differ).
pub fn load_via_partition_root(objects: &mut [Object]) {
    let parents: std::collections::HashMap<QName, QName> = objects
        .iter()
        .filter_map(|o| match &o.kind {
            Kind::Table(def) => Some((o.qname()?, def.partition_of.as_ref()?.0.clone())),
            _ => None,
        })
        .collect();
    for o in objects.iter_mut() {
        if let Kind::TableData {
            table, load_via, ..
        } = &mut o.kind
        {
            let mut root = parents.get(table);
            // Bounded: a partition tree is no deeper than its tables are many.
            for _ in 0..parents.len() {
                match root.and_then(|r| parents.get(r)) {
                    Some(up) => root = Some(up),
                    None => break,
                }
            }
            *load_via = root.cloned();
        }
    }
}

impl Catalog {
    /// Forgets the security labels among [`Catalog::unsupported`]
    /// (`--no-security-labels`): the objects are carried without them.
    pub fn leave_out_security_labels(&mut self) {
        self.unsupported.retain(|u| !u.label);
    }

    /// The entries of [`Catalog::unsupported`] that concern any of `objects`.
    pub fn unsupported_in<'a>(&'a self, objects: &[Object]) -> Vec<&'a Unsupported> {
        let ids: std::collections::HashSet<u32> = objects.iter().map(|o| o.id).collect();
        self.unsupported
            .iter()
            .filter(|u| u.ids.is_empty() || u.ids.iter().any(|i| ids.contains(i)))
            .collect()
    }
}

/// Where an object belongs in a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Section {
    /// Definitions needed before data can be loaded.
    PreData,
    /// Table data and sequence values.
    Data,
    /// Indexes, constraints, triggers and everything best created after the data.
    PostData,
}

/// One privilege granted on an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `None` means PUBLIC.
    pub grantee: Option<String>,
    /// Role that granted it.
    pub grantor: String,
    /// `SELECT`, `USAGE`, ...
    pub privilege: String,
    /// WITH GRANT OPTION.
    pub grantable: bool,
}

/// An object's ACL: `None` is the built-in default (never changed).
pub type Acl = Option<Vec<Grant>>;

/// One dumpable object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Object {
    /// Dump id, unique in the catalog; data entries in archives use it.
    pub id: u32,
    /// Schema, for schema-qualified objects.
    pub schema: Option<String>,
    /// Name (for functions, without arguments; for table-level objects, the object's own name).
    pub name: String,
    /// Owning role.
    pub owner: Option<String>,
    /// `COMMENT ON` text.
    pub comment: Option<String>,
    /// Privileges.
    pub acl: Acl,
    /// Ids of objects that must exist first.
    pub deps: Vec<u32>,
    /// Kind-specific definition.
    pub kind: Kind,
}

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QName {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
}

impl QName {
    /// Quoted `schema.name`.
    pub fn sql(&self) -> String {
        crate::qualified(&self.schema, &self.name)
    }
}

impl std::fmt::Display for QName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// `COPY` of every large object's OID and contents (`lo_get`: at most 1 GB each).
pub const LARGE_OBJECTS_COPY_OUT: &str = "COPY (SELECT m.oid, pg_catalog.lo_get(m.oid) \
     FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid) TO STDOUT (FORMAT binary)";

impl Object {
    /// Section of the dump.
    pub fn section(&self) -> Section {
        self.kind.section()
    }

    /// `schema.name` (quoted) or `name`.
    pub fn qualified_name(&self) -> String {
        match &self.schema {
            Some(s) => crate::qualified(s, &self.name),
            None => crate::quote_ident(&self.name),
        }
    }

    /// The schema-qualified name of a schema-qualified object.
    pub fn qname(&self) -> Option<QName> {
        Some(QName {
            schema: self.schema.clone()?,
            name: self.name.clone(),
        })
    }

    /// Unquoted display name, e.g. `public.orders`.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The table a table-level object belongs to.
    pub fn table(&self) -> Option<&QName> {
        match &self.kind {
            Kind::TableData { table, .. }
            | Kind::Constraint { table, .. }
            | Kind::Index { table, .. }
            | Kind::Trigger { table, .. }
            | Kind::TriggerState { table, .. }
            | Kind::Rule { table, .. }
            | Kind::RowSecurity { table, .. }
            | Kind::Policy { table, .. }
            | Kind::RelationStats { table, .. } => Some(table),
            // A relation's part split off to break a loop goes with it.
            Kind::Separated {
                owner,
                part: Part::Check(_) | Part::Default { .. } | Part::ViewQuery { .. },
            } => Some(owner),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsupported(ids: Vec<u32>, what: &str, label: bool) -> Unsupported {
        Unsupported {
            ids,
            what: what.into(),
            label,
        }
    }

    #[test]
    fn no_security_labels_forgets_labels_only() {
        let mut c: Catalog = serde_json::from_str(
            r#"{"model_version": 2, "server_version_num": 150000, "server_version": "15",
                "database": "d", "encoding": "UTF8", "objects": []}"#,
        )
        .expect("a catalog");
        c.unsupported = vec![
            unsupported(
                vec![1],
                "security label (provider selinux) on TABLE public.t",
                true,
            ),
            unsupported(
                vec![],
                "security label (provider selinux) on the database",
                true,
            ),
            unsupported(vec![2, 3], "dependency loop", false),
        ];
        c.leave_out_security_labels();
        let left: Vec<&str> = c.unsupported.iter().map(|u| u.what.as_str()).collect();
        assert_eq!(left, ["dependency loop"]);
    }
}
