//! The columns of the relations read, and what shapes a table beyond its
//! own row: inheritance and partition parents, foreign table servers, NOT
//! NULL constraints a child has from its parent.
use std::collections::HashMap;

use super::relations::{table_def, Rel, SeqInfo};
use super::types::COLLATION_SQL;
use super::{acl_sql, class, parse_acl, Reader};
use crate::loops::PartRef;
use crate::model::*;
use crate::CatalogError;

pub(super) async fn read_inheritance(
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
pub(super) fn leave_inherited_not_null(r: &mut Reader<'_>, rels: &[Rel]) {
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
pub(super) async fn read_foreign_tables(
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

pub(super) async fn read_columns(
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
