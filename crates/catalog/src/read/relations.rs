//! Tables, views, materialized views, sequences and everything attached to them.
use std::collections::HashMap;

use super::types::COLLATION_SQL;
use super::{acl_sql, class, not_ext_member, obj, parse_acl, Reader, USER_SCHEMA};
use crate::loops::PartRef;
use crate::model::*;
use crate::CatalogError;

/// What the relation query tells about one relation.
struct Rel {
    oid: u32,
    index: usize,
    name: QName,
    relkind: String,
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

fn strip_semicolon(s: String) -> String {
    s.trim().trim_end_matches(';').trim_end().to_string()
}

fn take_option(opts: &mut Vec<String>, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    let pos = opts.iter().position(|o| o.starts_with(&prefix))?;
    Some(opts.remove(pos)[prefix.len()..].to_string())
}

pub(crate) struct SeqInfo {
    options: SequenceOptions,
    acl: Acl,
    identity: bool,
    unlogged: bool,
    /// Owning (table oid, column number, deptype).
    owner: Option<(u32, i32)>,
    schema: String,
    name: String,
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

fn table_def<'a>(r: &'a mut Reader<'_>, index: usize) -> Option<&'a mut TableDef> {
    match &mut r.objects[index].kind {
        Kind::Table(def) => Some(def),
        _ => None,
    }
}

async fn read_inheritance(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = rels.iter().map(|x| x.oid).collect();
    let rows = r
        .query(
            "inheritance",
            "SELECT i.inhrelid, i.inhparent, n.nspname::text, c.relname::text \
             FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhparent \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE i.inhrelid = ANY($1) AND c.relkind IN ('r', 'p', 'f') ORDER BY i.inhrelid, i.inhseqno",
            &[&oids],
        )
        .await?;
    for row in rows {
        let Some(&child) = by_oid.get(&row.get::<u32>(0)?) else {
            continue;
        };
        let parent = QName {
            schema: row.get(2)?,
            name: row.get(3)?,
        };
        let child_index = rels[child].index;
        if let Some(&p) = by_oid.get(&row.get::<u32>(1)?) {
            r.edges.push((child_index, rels[p].index));
        }
        if let Some(def) = table_def(r, child_index) {
            match &mut def.partition_of {
                Some((p, _)) => *p = parent,
                None => def.inherits.push(parent),
            }
        }
    }
    Ok(())
}

/// A NOT NULL an inheritance child has from a parent is not written on the
/// child (the parent's comes along with INHERITS), as pg_dump does: before
/// PostgreSQL 18 when a parent's column is NOT NULL too; from 18 on when the
/// child's NOT NULL constraint is not its own (read_columns). Partitions keep
/// theirs (ATTACH PARTITION needs them).
fn leave_inherited_not_null(r: &mut Reader<'_>, rels: &[Rel]) {
    if r.version >= 180000 {
        return;
    }
    let index_of: HashMap<&QName, usize> = rels.iter().map(|x| (&x.name, x.index)).collect();
    let mut changes = Vec::new();
    for rel in rels {
        let Kind::Table(def) = &r.objects[rel.index].kind else {
            continue;
        };
        if def.partition_of.is_some() || def.inherits.is_empty() {
            continue;
        }
        for (k, c) in def.columns.iter().enumerate() {
            if !c.not_null || c.identity.is_some() {
                continue;
            }
            let from_parent = def.inherits.iter().any(|p| {
                index_of
                    .get(p)
                    .is_some_and(|&pi| match &r.objects[pi].kind {
                        Kind::Table(pd) => {
                            pd.columns.iter().any(|pc| pc.name == c.name && pc.not_null)
                        }
                        _ => false,
                    })
            });
            if from_parent {
                changes.push((rel.index, k));
            }
        }
    }
    for (i, k) in changes {
        if let Kind::Table(def) = &mut r.objects[i].kind {
            def.columns[k].not_null = false;
        }
    }
}

/// Server and options of the foreign tables among `rels`.
async fn read_foreign_tables(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = rels
        .iter()
        .filter(|x| x.relkind == "f")
        .map(|x| x.oid)
        .collect();
    if oids.is_empty() {
        return Ok(());
    }
    let rows = r
        .query(
            "foreign tables",
            &format!(
                "SELECT f.ftrelid, s.srvname::text, {} \
                 FROM pg_catalog.pg_foreign_table f JOIN pg_catalog.pg_foreign_server s ON s.oid = f.ftserver \
                 WHERE f.ftrelid = ANY($1)",
                super::options_sql("f.ftoptions")
            ),
            &[&oids],
        )
        .await?;
    for row in rows {
        let Some(&ri) = by_oid.get(&row.get::<u32>(0)?) else {
            continue;
        };
        if let Some(def) = table_def(r, rels[ri].index) {
            def.foreign = Some(ForeignTable {
                server: row.get(1)?,
                options: row.get(2)?,
            });
        }
    }
    Ok(())
}

async fn read_columns(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
    seqs: &HashMap<u32, SeqInfo>,
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = rels.iter().map(|x| x.oid).collect();
    let generated = "a.attgenerated::text";
    // PostgreSQL 18 keeps NOT NULL constraints in pg_constraint (contype 'n'),
    // named. Valid, inheritable ones stay inline in CREATE TABLE (with their
    // name where it is not the default); NOT VALID or NO INHERIT ones are
    // added as separate constraints (read_constraints).
    let (not_null, not_null_name, not_null_join) = if r.version >= 180000 {
        (
            "a.attnotnull AND (nn.oid IS NULL OR (nn.convalidated AND NOT nn.connoinherit \
             AND (nn.conislocal OR rc.relispartition)))",
            "CASE WHEN nn.conname <> pg_catalog.left(rc.relname || '_' || a.attname || '_not_null', 63) \
             THEN nn.conname::text END",
            "LEFT JOIN pg_catalog.pg_constraint nn ON nn.conrelid = a.attrelid AND nn.contype = 'n' \
             AND nn.conkey[1] = a.attnum \
             LEFT JOIN pg_catalog.pg_class rc ON rc.oid = a.attrelid",
        )
    } else {
        ("a.attnotnull", "NULL::text", "")
    };
    let compression = if r.version >= 140000 {
        "CASE WHEN a.attcompression <> '' THEN CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END END"
    } else {
        "NULL::text"
    };
    // The binary COPY form embeds type OIDs for arrays of user types and for
    // composites; such tables are copied as text.
    let sql = format!(
        "SELECT a.attrelid, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), {not_null}, \
         pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ad.oid, a.attidentity::text, {generated}, \
         CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN {COLLATION_SQL} a.attcollation) END, \
         CASE WHEN a.attstorage <> t.typstorage THEN CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' \
              WHEN 'm' THEN 'MAIN' WHEN 'x' THEN 'EXTENDED' END END, \
         {compression}, \
         CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::int4 END, \
         COALESCE(a.attoptions::text[], '{{}}'), a.attislocal, \
         pg_catalog.col_description(a.attrelid, a.attnum), {acl}, \
         (bt.typtype = 'c' OR bt.typsend = 0 OR bt.typreceive = 0 \
          OR (bt.typcategory = 'A' AND bt.typelem >= 16384) \
          OR (bt.typtype = 'r' AND EXISTS (SELECT 1 FROM pg_catalog.pg_range rg JOIN pg_catalog.pg_type st ON st.oid = rg.rngsubtype \
              WHERE rg.rngtypid = bt.oid AND (st.typtype = 'c' OR st.typcategory = 'A')))), \
         a.attnum, {not_null_name}, \
         CASE WHEN bt.oid = 142 THEN 'text' WHEN bt.typcategory = 'A' AND bt.typelem = 142 THEN 'text[]' END, \
         {fdw_options} \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
         LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         {not_null_join} \
         WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attrelid, a.attnum",
        acl = acl_sql("a.attacl"),
        fdw_options = super::options_sql("a.attfdwoptions"),
    );
    let rows = r.query("columns", &sql, &[&oids]).await?;
    // identity column → its sequence
    let identity: HashMap<(u32, i32), (&SeqInfo, u32)> = seqs
        .iter()
        .filter(|(_, s)| s.identity)
        .filter_map(|(oid, s)| s.owner.map(|o| (o, (s, *oid))))
        .collect();
    for row in rows {
        let relid: u32 = row.get(0)?;
        let Some(&ri) = by_oid.get(&relid) else {
            continue;
        };
        let index = rels[ri].index;
        let name: String = row.get(1)?;
        if let Some(attrdef) = row.get::<Option<u32>>(5)? {
            r.alias((class::ATTRDEF, attrdef), index);
            let plain_default = row.get::<String>(7)?.is_empty();
            if plain_default && matches!(r.objects[index].kind, Kind::Table(_)) {
                r.parts.insert(
                    (class::ATTRDEF, attrdef),
                    (index, PartRef::Default(name.clone())),
                );
            }
        }
        let attnum: i16 = row.get(17)?;
        let idkind: String = row.get(6)?;
        let ident = if idkind.is_empty() {
            None
        } else {
            identity
                .get(&(relid, i32::from(attnum)))
                .map(|(s, seq_oid)| {
                    r.alias((class::CLASS, *seq_oid), index);
                    Identity {
                        always: idkind == "a",
                        sequence: QName {
                            schema: s.schema.clone(),
                            name: s.name.clone(),
                        },
                        options: s.options.clone(),
                        acl: s.acl.clone(),
                        unlogged: s.unlogged,
                    }
                })
        };
        let gen: String = row.get(7)?;
        let default: Option<String> = row.get(4)?;
        let (default, generated) = if gen.is_empty() {
            (default, None)
        } else {
            (None, default)
        };
        let comment: Option<String> = row.get(14)?;
        match &mut r.objects[index].kind {
            Kind::Table(def) => def.columns.push(Column {
                name,
                type_sql: row.get(2)?,
                not_null: row.get(3)?,
                not_null_name: row.get(18)?,
                default,
                identity: ident,
                generated,
                generated_virtual: gen == "v",
                collation: row.get(8)?,
                storage: row.get(9)?,
                compression: row.get(10)?,
                stat_target: row.get(11)?,
                options: row.get(12)?,
                is_local: row.get(13)?,
                comment,
                acl: parse_acl(row.get(15)?)?,
                fdw_options: row.get(20)?,
            }),
            Kind::View {
                column_defaults,
                column_comments,
                columns,
                ..
            } => {
                columns.push((name.clone(), row.get(2)?, row.get(8)?));
                if let Some(d) = default {
                    column_defaults.push((name.clone(), d));
                }
                if let Some(c) = comment {
                    column_comments.push((name, c));
                }
            }
            Kind::MatView {
                column_comments, ..
            } => {
                if let Some(c) = comment {
                    column_comments.push((name, c));
                }
            }
            _ => {}
        }
        if let Some(cast) = row.get::<Option<String>>(19)? {
            r.text_copy.push(relid);
            r.text_casts.push((relid, row.get::<String>(1)?, cast));
        }
        if row.get::<bool>(16)? {
            r.text_copy.push(relid);
        }
    }
    Ok(())
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
                },
            ),
        );
        r.edges.push((i, rel.index));
        out.insert(rel.oid, i);
    }
    out
}

/// Table-level objects come after the table's data (and the table itself).
fn attach(r: &mut Reader<'_>, i: usize, rel: &Rel, data: &HashMap<u32, usize>) {
    r.edges.push((i, rel.index));
    if let Some(d) = data.get(&rel.oid) {
        r.edges.push((i, *d));
    }
}

async fn read_constraints(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
    data: &HashMap<u32, usize>,
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = rels.iter().map(|x| x.oid).collect();
    // PostgreSQL 18: NOT NULL constraints that cannot be written inline in
    // CREATE TABLE (NOT VALID, NO INHERIT) are added like a CHECK; the others
    // are part of their column (read_columns).
    let not_null = if r.version >= 180000 {
        " OR (c.contype = 'n' AND c.conislocal AND (NOT c.convalidated OR c.connoinherit))"
    } else {
        ""
    };
    let sql = format!(
            "SELECT c.oid, c.conrelid, c.conname::text, c.contype::text, pg_catalog.pg_get_constraintdef(c.oid), \
             c.convalidated, c.conislocal, c.coninhcount::int4, c.conindid, c.conparentid, \
             pg_catalog.obj_description(c.oid, 'pg_constraint'), \
             COALESCE(i.indisreplident, false), COALESCE(i.indisclustered, false), c.confrelid, \
             CASE WHEN c.contype IN ('p', 'u', 'x') THEN pg_catalog.obj_description(c.conindid, 'pg_class') END \
             FROM pg_catalog.pg_constraint c \
             LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.conindid AND c.contype IN ('p', 'u', 'x') \
             WHERE c.conrelid = ANY($1) AND (c.contype IN ('c', 'p', 'u', 'x', 'f'){not_null}) \
             ORDER BY c.conrelid, c.conname"
    );
    let rows = r.query("constraints", &sql, &[&oids]).await?;
    for row in rows {
        let Some(&ri) = by_oid.get(&row.get::<u32>(1)?) else {
            continue;
        };
        let rel = &rels[ri];
        let oid: u32 = row.get(0)?;
        let name: String = row.get(2)?;
        let contype: String = row.get(3)?;
        let def: String = row.get(4)?;
        let validated: bool = row.get(5)?;
        let is_local: bool = row.get(6)?;
        let inh: i32 = row.get(7)?;
        let comment: Option<String> = row.get(10)?;
        let parent: u32 = row.get(9)?;
        let is_partition =
            matches!(&r.objects[rel.index].kind, Kind::Table(d) if d.partition_of.is_some());
        if contype == "c" {
            // Partitions need every CHECK of their parent before ATTACH; inheritance
            // children and partitioned tables get inherited ones from the parent.
            let wanted = is_local || is_partition;
            if !wanted && inh > 0 {
                r.alias((class::CONSTRAINT, oid), rel.index);
                continue;
            }
            if validated {
                r.parts.insert(
                    (class::CONSTRAINT, oid),
                    (rel.index, PartRef::Check(name.clone())),
                );
                if let Some(def_) = table_def(r, rel.index) {
                    def_.checks.push(InlineCheck { name, def, comment });
                }
                r.alias((class::CONSTRAINT, oid), rel.index);
                continue;
            }
        }
        if contype == "f" && parent != 0 {
            continue; // cloned from a partitioned parent's foreign key
        }
        let kind = match contype.as_str() {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "x" => ConstraintKind::Exclude,
            "f" => ConstraintKind::ForeignKey,
            _ => ConstraintKind::Check,
        };
        let mut o = obj(
            Some(rel.name.schema.clone()),
            name,
            Kind::Constraint {
                table: rel.name.clone(),
                kind,
                def,
                on_partitioned: rel.relkind == "p",
                replica_identity: row.get(11)?,
                clustered: row.get(12)?,
                index_comment: row.get(14)?,
            },
        );
        o.comment = comment;
        let i = r.add(Some((class::CONSTRAINT, oid)), o);
        attach(r, i, rel, data);
        if kind == ConstraintKind::ForeignKey {
            if let Some(&d) = data.get(&row.get::<u32>(13)?) {
                r.edges.push((i, d));
                // Referenced rows load first, so a data-only restore into
                // tables that already have their foreign keys works.
                if let Some(&own) = data.get(&rel.oid) {
                    r.edges.push((own, d));
                }
            }
        } else {
            r.alias((class::CLASS, row.get(8)?), i);
        }
    }
    Ok(())
}

async fn read_indexes(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
    data: &HashMap<u32, usize>,
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = rels.iter().map(|x| x.oid).collect();
    let rows = r
        .query(
            "indexes",
            "SELECT i.indexrelid, i.indrelid, ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid), \
             i.indisclustered, i.indisreplident, pg_catalog.obj_description(i.indexrelid, 'pg_class'), \
             EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid \
                     AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')), \
             pi.inhparent, pn.nspname::text, pc.relname::text, \
             ARRAY(SELECT pg_catalog.format('%s=%s', a.attnum, a.attstattarget) FROM pg_catalog.pg_attribute a \
                   WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0 ORDER BY a.attnum) \
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
             LEFT JOIN pg_catalog.pg_inherits pi ON pi.inhrelid = i.indexrelid \
             LEFT JOIN pg_catalog.pg_class pc ON pc.oid = pi.inhparent \
             LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace \
             WHERE i.indrelid = ANY($1) AND (i.indisvalid OR ic.relkind = 'I') \
             ORDER BY i.indrelid, ic.relname",
            &[&oids],
        )
        .await?;
    let mut attaches = Vec::new();
    for row in rows {
        let Some(&ri) = by_oid.get(&row.get::<u32>(1)?) else {
            continue;
        };
        let rel = &rels[ri];
        let oid: u32 = row.get(0)?;
        let name: String = row.get(2)?;
        let is_constraint: bool = row.get(7)?;
        let child = QName {
            schema: rel.name.schema.clone(),
            name: name.clone(),
        };
        if let Some(pname) = row.get::<Option<String>>(10)? {
            let parent = QName {
                schema: row.get(9)?,
                name: pname,
            };
            attaches.push((row.get::<u32>(8)?, oid, parent, child.clone(), ri));
        }
        if is_constraint {
            continue;
        }
        let stat_targets = row
            .get::<Vec<String>>(11)?
            .iter()
            .filter_map(|s| {
                let (a, b) = s.split_once('=')?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        let mut o = obj(
            Some(rel.name.schema.clone()),
            name,
            Kind::Index {
                table: rel.name.clone(),
                def: row.get(3)?,
                clustered: row.get(4)?,
                replica_identity: row.get(5)?,
                stat_targets,
            },
        );
        o.comment = row.get(6)?;
        let i = r.add(Some((class::CLASS, oid)), o);
        attach(r, i, rel, data);
    }
    for (parent_oid, child_oid, parent, child, ri) in attaches {
        let (Some(p), Some(c)) = (
            r.object_key((class::CLASS, parent_oid)),
            r.object_key((class::CLASS, child_oid)),
        ) else {
            continue;
        };
        let rel = &rels[ri];
        let i = r.add(
            None,
            obj(
                Some(child.schema.clone()),
                child.name.clone(),
                Kind::IndexAttach { parent, child },
            ),
        );
        r.edges.push((i, p));
        r.edges.push((i, c));
        attach(r, i, rel, data);
    }
    Ok(())
}

async fn read_triggers_rules_policies(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
    data: &HashMap<u32, usize>,
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = rels.iter().map(|x| x.oid).collect();
    let clone_filter = if r.version >= 130000 {
        "AND t.tgparentid = 0"
    } else {
        ""
    };
    let sql = format!(
        "SELECT t.oid, t.tgrelid, t.tgname::text, pg_catalog.pg_get_triggerdef(t.oid, false), t.tgenabled::text, \
         pg_catalog.obj_description(t.oid, 'pg_trigger') \
         FROM pg_catalog.pg_trigger t WHERE t.tgrelid = ANY($1) AND NOT t.tgisinternal {clone_filter} \
         ORDER BY t.tgrelid, t.tgname"
    );
    for row in r.query("triggers", &sql, &[&oids]).await? {
        let Some(&ri) = by_oid.get(&row.get::<u32>(1)?) else {
            continue;
        };
        let rel = &rels[ri];
        let mut o = obj(
            Some(rel.name.schema.clone()),
            row.get(2)?,
            Kind::Trigger {
                table: rel.name.clone(),
                def: row.get(3)?,
                enabled: first_char(row.get(4)?),
            },
        );
        o.comment = row.get(5)?;
        let i = r.add(Some((class::TRIGGER, row.get(0)?)), o);
        attach(r, i, rel, data);
    }
    if r.version >= 130000 {
        read_trigger_states(r, rels, by_oid, data, &oids).await?;
    }
    let rows = r
        .query(
            "rules",
            "SELECT r.oid, r.ev_class, r.rulename::text, pg_catalog.pg_get_ruledef(r.oid), r.ev_enabled::text, \
             pg_catalog.obj_description(r.oid, 'pg_rewrite') \
             FROM pg_catalog.pg_rewrite r WHERE r.ev_class = ANY($1) AND r.rulename <> '_RETURN' \
             ORDER BY r.ev_class, r.rulename",
            &[&oids],
        )
        .await?;
    for row in rows {
        let Some(&ri) = by_oid.get(&row.get::<u32>(1)?) else {
            continue;
        };
        let rel = &rels[ri];
        let mut o = obj(
            Some(rel.name.schema.clone()),
            row.get(2)?,
            Kind::Rule {
                table: rel.name.clone(),
                def: strip_semicolon(row.get(3)?),
                enabled: first_char(row.get(4)?),
            },
        );
        o.comment = row.get(5)?;
        let i = r.add(Some((class::REWRITE, row.get(0)?)), o);
        attach(r, i, rel, data);
    }
    let rows = r
        .query(
            "policies",
            "SELECT p.oid, p.polrelid, p.polname::text, p.polpermissive, p.polcmd::text, \
             ARRAY(SELECT CASE WHEN x = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x)::text END \
                   FROM pg_catalog.unnest(p.polroles) x), \
             pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), \
             pg_catalog.obj_description(p.oid, 'pg_policy') \
             FROM pg_catalog.pg_policy p WHERE p.polrelid = ANY($1) ORDER BY p.polrelid, p.polname",
            &[&oids],
        )
        .await?;
    for row in rows {
        let Some(&ri) = by_oid.get(&row.get::<u32>(1)?) else {
            continue;
        };
        let rel = &rels[ri];
        let command = match row.get::<String>(4)?.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let mut o = obj(
            Some(rel.name.schema.clone()),
            row.get(2)?,
            Kind::Policy {
                table: rel.name.clone(),
                permissive: row.get(3)?,
                command: command.into(),
                roles: row.get(5)?,
                using: row.get(6)?,
                with_check: row.get(7)?,
            },
        );
        o.comment = row.get(8)?;
        let i = r.add(Some((class::POLICY, row.get(0)?)), o);
        attach(r, i, rel, data);
    }
    Ok(())
}

/// Triggers partitions got from their parent's, enabled differently.
async fn read_trigger_states(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
    data: &HashMap<u32, usize>,
    oids: &[u32],
) -> Result<(), CatalogError> {
    let rows = r
        .query(
            "partition trigger states",
            "SELECT t.tgrelid, t.tgname::text, t.tgenabled::text, t.tgparentid \
             FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_trigger p ON p.oid = t.tgparentid \
             WHERE t.tgrelid = ANY($1) AND t.tgparentid <> 0 AND t.tgenabled <> p.tgenabled \
             ORDER BY t.tgrelid, t.tgname",
            &[&oids],
        )
        .await?;
    for row in rows {
        let Some(&ri) = by_oid.get(&row.get::<u32>(0)?) else {
            continue;
        };
        let rel = &rels[ri];
        let trigger: String = row.get(1)?;
        let o = obj(
            Some(rel.name.schema.clone()),
            format!("{} {trigger}", rel.name.name),
            Kind::TriggerState {
                table: rel.name.clone(),
                trigger,
                enabled: first_char(row.get(2)?),
            },
        );
        let i = r.add(None, o);
        attach(r, i, rel, data);
        r.after_keys.push((i, (class::TRIGGER, row.get(3)?)));
    }
    Ok(())
}

fn first_char(s: String) -> char {
    s.chars().next().unwrap_or('O')
}

async fn read_statistics(
    r: &mut Reader<'_>,
    rels: &[Rel],
    by_oid: &HashMap<u32, usize>,
) -> Result<(), CatalogError> {
    let oids: Vec<u32> = rels.iter().map(|x| x.oid).collect();
    let sql = format!(
        "SELECT s.oid, s.stxrelid, n.nspname::text, s.stxname::text, pg_catalog.pg_get_statisticsobjdef(s.oid), \
         CASE WHEN s.stxstattarget >= 0 THEN s.stxstattarget::int4 END, \
         pg_catalog.pg_get_userbyid(s.stxowner)::text, pg_catalog.obj_description(s.oid, 'pg_statistic_ext') \
         FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace \
         WHERE s.stxrelid = ANY($1) AND {USER_SCHEMA} AND {ext} ORDER BY s.oid",
        ext = not_ext_member(class::STATISTIC_EXT, "s.oid")
    );
    for row in r.query("statistics objects", &sql, &[&oids]).await? {
        let Some(&ri) = by_oid.get(&row.get::<u32>(1)?) else {
            continue;
        };
        let rel_index = rels[ri].index;
        let mut o = obj(
            Some(row.get(2)?),
            row.get(3)?,
            Kind::Statistics {
                def: row.get(4)?,
                target: row.get(5)?,
            },
        );
        o.owner = row.get(6)?;
        o.comment = row.get(7)?;
        let i = r.add(Some((class::STATISTIC_EXT, row.get(0)?)), o);
        r.edges.push((i, rel_index));
    }
    Ok(())
}
