//! The post-data objects of the relations read: constraints, indexes and
//! their partition attachments, triggers (and partitions' trigger states),
//! rules, policies and statistics objects.
use std::collections::HashMap;

use super::relations::{strip_semicolon, table_def, Rel};
use super::{class, not_ext_member, obj, Reader, USER_SCHEMA};
use crate::loops::PartRef;
use crate::model::*;
use crate::CatalogError;

/// Table-level objects come after the table's data (and the table itself).
fn attach(r: &mut Reader<'_>, i: usize, rel: &Rel, data: &HashMap<u32, usize>) {
    r.edges.push((i, rel.index));
    if let Some(d) = data.get(&rel.oid) {
        r.edges.push((i, *d));
    }
}

pub(super) async fn read_constraints(
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

pub(super) async fn read_indexes(
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

pub(super) async fn read_triggers_rules_policies(
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

pub(super) async fn read_statistics(
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
