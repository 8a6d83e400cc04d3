//! Tables, views, materialized views, sequences and everything attached to
//! them: the relations themselves, sequence ownership and values, table
//! data; columns are read in `columns`, post-data objects in `post_data`.
use std::collections::HashMap;

use super::columns::{
    leave_inherited_not_null, read_columns, read_foreign_tables, read_inheritance,
};
use super::post_data::{
    read_constraints, read_indexes, read_statistics, read_triggers_rules_policies,
};
use super::{acl_sql, class, not_ext_member, obj, parse_acl, Reader, USER_SCHEMA};
use crate::loops::PartRef;
use crate::model::*;
use crate::CatalogError;

/// What the relation query tells about one relation.
pub(super) struct Rel {
    pub(super) oid: u32,
    pub(super) index: usize,
    pub(super) name: QName,
    pub(super) relkind: String,
    has_data: bool,
}

pub(crate) async fn read_relations(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    // Partitioned tables have an access method (for their partitions) from 17
    // on, set only when given explicitly (relam = 0 otherwise).
    let am = if r.version >= 170000 {
        "CASE WHEN c.relkind IN ('r', 'm') AND am.amname <> 'heap' THEN am.amname::text \
         WHEN c.relkind = 'p' AND c.relam <> 0 THEN am.amname::text END"
    } else {
        "CASE WHEN c.relkind IN ('r', 'm') AND am.amname <> 'heap' THEN am.amname::text END"
    };
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence::text, \
         pg_catalog.pg_get_userbyid(c.relowner)::text, pg_catalog.obj_description(c.oid, 'pg_class'), {acl}, \
         c.reltype, COALESCE(t.typarray, 0::oid), COALESCE(c.reloptions::text[], '{{}}'), c.relreplident::text, \
         c.relrowsecurity, c.relforcerowsecurity, c.relispartition, \
         CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END, \
         CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END, \
         {am}, c.relispopulated, \
         CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END, \
         CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END, \
         COALESCE((SELECT tc.reloptions::text[] FROM pg_catalog.pg_class tc WHERE tc.oid = c.reltoastrelid), '{{}}') \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_type t ON t.oid = c.reltype \
         LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {USER_SCHEMA} AND {ext} \
         ORDER BY c.oid",
        acl = acl_sql("c.relacl"),
        ext = not_ext_member(class::CLASS, "c.oid"),
    );
    let rows = r.query("relations", &sql, &[]).await?;
    let seqs = read_sequence_options(r).await?;
    let mut rels: Vec<Rel> = Vec::new();
    let mut by_oid: HashMap<u32, usize> = HashMap::new();
    let mut matviews = Vec::new();
    for row in rows {
        let schema: String = row.get(1)?;
        let name: String = row.get(2)?;
        let oid: u32 = row.get(0)?;
        let relkind: String = row.get(3)?;
        if relkind == "S" && seqs.get(&oid).is_some_and(|s| s.identity) {
            continue; // dumped with its identity column
        }
        if !r.selector.relation(&schema, &name) {
            continue;
        }
        let qname = QName {
            schema: schema.clone(),
            name: name.clone(),
        };
        let mut reloptions: Vec<String> = row.get(10)?;
        let toast: Vec<String> = row.get(21)?;
        reloptions.extend(toast.into_iter().map(|o| format!("toast.{o}")));
        let kind = match relkind.as_str() {
            "S" => {
                let Some(s) = seqs.get(&oid) else { continue };
                Kind::Sequence {
                    options: s.options.clone(),
                    unlogged: row.get::<String>(4)? == "u",
                }
            }
            "v" => {
                let check_option = take_option(&mut reloptions, "check_option");
                Kind::View {
                    query: strip_semicolon(row.get(19)?),
                    options: reloptions,
                    check_option: check_option.map(|c| c.to_uppercase()),
                    column_defaults: vec![],
                    column_comments: vec![],
                    columns: vec![],
                    placeholder: false,
                }
            }
            "m" => Kind::MatView {
                query: strip_semicolon(row.get(19)?),
                options: reloptions,
                column_comments: vec![],
                access_method: row.get(17)?,
            },
            _ => Kind::Table(Box::new(TableDef {
                unlogged: row.get::<String>(4)? == "u",
                columns: vec![],
                checks: vec![],
                partition_key: row.get(15)?,
                partition_of: None,
                inherits: vec![],
                reloptions,
                access_method: row.get(17)?,
                // (foreign tables have none to set)
                replica_identity: match row.get::<String>(11)?.as_str() {
                    _ if relkind == "f" => None,
                    "f" => Some('f'),
                    "n" => Some('n'),
                    _ => None,
                },
                of_type: row.get(20)?,
                foreign: None,
            })),
        };
        let mut o = obj(Some(schema.clone()), name.clone(), kind);
        o.owner = row.get(5)?;
        o.comment = row.get(6)?;
        o.acl = parse_acl(row.get(7)?)?;
        if relkind != "S" {
            o.acl = super::collapse_table_all(o.acl, r.version, o.owner.as_deref());
        }
        let index = r.add(Some((class::CLASS, oid)), o);
        for t in [row.get::<u32>(8)?, row.get::<u32>(9)?] {
            if t != 0 {
                r.alias((class::TYPE, t), index);
            }
        }
        if relkind == "r" || relkind == "p" || relkind == "f" {
            if let Some(bound) = row.get::<Option<String>>(16)? {
                // parent filled in below from pg_inherits
                if let Kind::Table(def) = &mut r.objects[index].kind {
                    def.partition_of = Some((qname.clone(), bound));
                }
            }
            if row.get::<bool>(12)? {
                let rs = obj(
                    Some(schema.clone()),
                    name.clone(),
                    Kind::RowSecurity {
                        table: qname.clone(),
                        force: row.get(13)?,
                    },
                );
                let i = r.add(None, rs);
                r.edges.push((i, index));
            }
        }
        if relkind == "m" && row.get::<bool>(18)? {
            matviews.push((index, qname.clone()));
        }
        rels.push(Rel {
            oid,
            index,
            name: qname,
            has_data: relkind == "r" && r.selector.data(&schema, &name),
            relkind,
        });
        by_oid.insert(oid, rels.len() - 1);
    }
    read_inheritance(r, &rels, &by_oid).await?;
    read_foreign_tables(r, &rels, &by_oid).await?;
    read_columns(r, &rels, &by_oid, &seqs).await?;
    leave_inherited_not_null(r, &rels);
    read_view_rules(r, &rels).await?;
    add_sequence_ownership(r, &rels, &by_oid, &seqs).await?;
    let data = add_table_data(r, &rels);
    read_constraints(r, &rels, &by_oid, &data).await?;
    read_indexes(r, &rels, &by_oid, &data).await?;
    read_triggers_rules_policies(r, &rels, &by_oid, &data).await?;
    read_statistics(r, &rels, &by_oid).await?;
    for (index, view) in matviews {
        let schema = view.schema.clone();
        let name = view.name.clone();
        let i = r.add(None, obj(Some(schema), name, Kind::MatViewRefresh { view }));
        r.edges.push((i, index));
        r.refreshes.push((index, i));
        for d in data.values() {
            r.edges.push((i, *d));
        }
    }
    Ok(())
}

pub(super) fn strip_semicolon(s: String) -> String {
    s.trim().trim_end_matches(';').trim_end().to_string()
}

fn take_option(opts: &mut Vec<String>, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    let pos = opts.iter().position(|o| o.starts_with(&prefix))?;
    Some(opts.remove(pos)[prefix.len()..].to_string())
}

pub(crate) struct SeqInfo {
    pub(super) options: SequenceOptions,
    pub(super) acl: Acl,
    pub(super) identity: bool,
    pub(super) unlogged: bool,
    /// Owning (table oid, column number).
    pub(super) owner: Option<(u32, i32)>,
    pub(super) schema: String,
    pub(super) name: String,
}

async fn read_sequence_options(r: &Reader<'_>) -> Result<HashMap<u32, SeqInfo>, CatalogError> {
    let sql = format!(
            "SELECT s.seqrelid, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
             s.seqmin, s.seqmax, s.seqcache, s.seqcycle, d.refobjid, d.refobjsubid, d.deptype::text, \
             n.nspname::text, c.relname::text, {acl}, c.relpersistence = 'u' \
             FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_depend d ON d.classid = 1259 AND d.objid = s.seqrelid \
                  AND d.refclassid = 1259 AND d.deptype IN ('a', 'i')",
        acl = acl_sql("c.relacl")
    );
    let rows = r.query("sequences", &sql, &[]).await?;
    rows.into_iter()
        .map(|row| {
            let deptype: Option<String> = row.get(10)?;
            let owner = match row.get::<Option<u32>>(8)? {
                Some(t) => Some((t, row.get::<i32>(9)?)),
                None => None,
            };
            Ok((
                row.get(0)?,
                SeqInfo {
                    acl: parse_acl(row.get(13)?)?,
                    options: SequenceOptions {
                        data_type: row.get(1)?,
                        start: row.get(2)?,
                        increment: row.get(3)?,
                        min: row.get(4)?,
                        max: row.get(5)?,
                        cache: row.get(6)?,
                        cycle: row.get(7)?,
                    },
                    identity: deptype.as_deref() == Some("i"),
                    unlogged: row.get(14)?,
                    owner,
                    schema: row.get(11)?,
                    name: row.get(12)?,
                },
            ))
        })
        .collect()
}

pub(super) fn table_def<'a>(r: &'a mut Reader<'_>, index: usize) -> Option<&'a mut TableDef> {
    match &mut r.objects[index].kind {
        Kind::Table(def) => Some(def),
        _ => None,
    }
}

async fn read_view_rules(r: &mut Reader<'_>, rels: &[Rel]) -> Result<(), CatalogError> {
    let views: Vec<u32> = rels
        .iter()
        .filter(|x| x.relkind == "v" || x.relkind == "m")
        .map(|x| x.oid)
        .collect();
    let rows = r
        .query(
            "view rules",
            "SELECT oid, ev_class FROM pg_catalog.pg_rewrite WHERE rulename = '_RETURN' AND ev_class = ANY($1)",
            &[&views],
        )
        .await?;
    for row in rows {
        if let Some(i) = r.object_key((class::CLASS, row.get(1)?)) {
            r.alias((class::REWRITE, row.get(0)?), i);
            if matches!(r.objects[i].kind, Kind::View { .. }) {
                r.parts
                    .insert((class::REWRITE, row.get(0)?), (i, PartRef::ViewQuery));
            }
        }
    }
    Ok(())
}

async fn add_sequence_ownership(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
    seqs: &HashMap<u32, SeqInfo>,
) -> Result<(), CatalogError> {
    let mut col_names: HashMap<(u32, i32), String> = HashMap::new();
    let owned: Vec<u32> = seqs.values().filter_map(|s| s.owner.map(|o| o.0)).collect();
    if !owned.is_empty() {
        for row in r
            .query(
                "sequence owners",
                "SELECT attrelid, attnum::int4, attname::text FROM pg_catalog.pg_attribute \
                 WHERE attrelid = ANY($1) AND attnum > 0",
                &[&owned],
            )
            .await?
        {
            col_names.insert((row.get(0)?, row.get(1)?), row.get(2)?);
        }
    }
    for rel in rels.iter().filter(|x| x.relkind == "S") {
        let Some(s) = seqs.get(&rel.oid) else {
            continue;
        };
        if let Some((table_oid, attnum)) = s.owner {
            r.ignore
                .insert(((class::CLASS, rel.oid), (class::CLASS, table_oid)));
            if let (Some(&t), Some(column)) =
                (by_oid.get(&table_oid), col_names.get(&(table_oid, attnum)))
            {
                let table = rels[t].name.clone();
                let i = r.add(
                    None,
                    obj(
                        Some(rel.name.schema.clone()),
                        rel.name.name.clone(),
                        Kind::SequenceOwnedBy {
                            sequence: rel.name.clone(),
                            table,
                            column: column.clone(),
                        },
                    ),
                );
                r.edges.push((i, rel.index));
                r.edges.push((i, rels[t].index));
            }
        }
    }
    // Sequence values, read in the caller's snapshot.
    let mut set = Vec::new();
    for rel in rels.iter().filter(|x| x.relkind == "S") {
        if r.selector.data(&rel.name.schema, &rel.name.name) {
            set.push((rel.name.clone(), rel.index));
        }
    }
    for rel in rels.iter().filter(|x| x.relkind == "r" || x.relkind == "p") {
        // A partitioned table has no data of its own, but its identity
        // sequence (PostgreSQL 17+) is advanced by its partitions' rows.
        let wanted = rel.has_data
            || (rel.relkind == "p" && r.selector.data(&rel.name.schema, &rel.name.name));
        if let Some(Kind::Table(def)) = r.objects.get(rel.index).map(|o| &o.kind) {
            for c in &def.columns {
                if let Some(id) = &c.identity {
                    if wanted {
                        set.push((id.sequence.clone(), rel.index));
                    }
                }
            }
        }
    }
    for (seq, owner_index) in set {
        let sql = format!("SELECT last_value, is_called FROM {}", seq.sql());
        let row = r
            .query(&format!("the value of sequence {seq}"), &sql, &[])
            .await?;
        let Some(row) = row.first() else { continue };
        let i = r.add(
            None,
            obj(
                Some(seq.schema.clone()),
                seq.name.clone(),
                Kind::SequenceSet {
                    sequence: seq,
                    last_value: row.get(0)?,
                    is_called: row.get(1)?,
                },
            ),
        );
        r.edges.push((i, owner_index));
    }
    Ok(())
}

/// Adds a TableData object for each table whose data is selected; returns table oid → data index.
fn add_table_data(r: &mut Reader<'_>, rels: &[Rel]) -> HashMap<u32, usize> {
    let mut out = HashMap::new();
    for rel in rels.iter().filter(|x| x.has_data) {
        let Some(Kind::Table(def)) = r.objects.get(rel.index).map(|o| &o.kind) else {
            continue;
        };
        let columns: Vec<String> = def
            .columns
            .iter()
            .filter(|c| c.generated.is_none())
            .map(|c| c.name.clone())
            .collect();
        let casts: Vec<(String, String)> = r
            .text_casts
            .iter()
            .filter(|(t, c, _)| *t == rel.oid && columns.contains(c))
            .map(|(_, c, cast)| (c.clone(), cast.clone()))
            .collect();
        let format = if r.text_copy.contains(&rel.oid) {
            CopyFormat::Text
        } else {
            CopyFormat::Binary
        };
        let i = r.add(
            None,
            obj(
                Some(rel.name.schema.clone()),
                rel.name.name.clone(),
                Kind::TableData {
                    table: rel.name.clone(),
                    columns,
                    format,
                    casts,
                    parts: 0,
                    filter: None,
                    load_via: None,
                },
            ),
        );
        r.edges.push((i, rel.index));
        out.insert(rel.oid, i);
    }
    out
}
