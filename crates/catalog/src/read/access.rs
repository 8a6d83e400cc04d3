//! Access methods, operator families and classes, conversions, procedural
//! languages and transforms.
use super::{acl_sql, class, not_ext_member, obj, parse_acl, proc_or_null, Reader, USER_SCHEMA};
use crate::model::*;
use crate::{quote_ident, CatalogError};

/// `regprocedure` text (name and argument types) of a function column.
fn procedure_or_null(col: &str) -> String {
    format!("CASE WHEN {col} <> 0 THEN {col}::regprocedure::text END")
}

/// Qualified name of a row of a namespaced catalog.
fn qualified_sql(catalog: &str, name_col: &str, ns_col: &str, oid: &str) -> String {
    format!(
        "(SELECT pg_catalog.quote_ident(xn.nspname) || '.' || pg_catalog.quote_ident(x.{name_col}) \
         FROM pg_catalog.{catalog} x JOIN pg_catalog.pg_namespace xn ON xn.oid = x.{ns_col} WHERE x.oid = {oid})"
    )
}

pub(crate) async fn read_access(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if r.selector.relations_only() {
        return Ok(());
    }
    read_access_methods(r).await?;
    read_languages(r).await?;
    let families = read_operator_families(r).await?;
    let classes = read_operator_classes(r).await?;
    read_members(r, &families, &classes).await?;
    read_conversions(r).await?;
    read_transforms(r).await
}

async fn read_access_methods(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if !r.selector.whole_database() {
        return Ok(());
    }
    let sql = format!(
        "SELECT a.oid, a.amname::text, a.amtype::text, a.amhandler::regproc::text, \
         pg_catalog.obj_description(a.oid, 'pg_am') \
         FROM pg_catalog.pg_am a WHERE a.oid >= 16384 AND {} ORDER BY a.amname",
        not_ext_member(class::AM, "a.oid")
    );
    for row in r.query("access methods", &sql, &[]).await? {
        let am_type = if row.get::<String>(2)? == "t" {
            "TABLE"
        } else {
            "INDEX"
        };
        let mut o = obj(
            None,
            row.get(1)?,
            Kind::AccessMethod {
                am_type: am_type.into(),
                handler: row.get(3)?,
            },
        );
        o.comment = row.get(4)?;
        r.add(Some((class::AM, row.get(0)?)), o);
    }
    Ok(())
}

async fn read_languages(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if !r.selector.whole_database() {
        return Ok(());
    }
    let sql = format!(
        "SELECT l.oid, l.lanname::text, pg_catalog.pg_get_userbyid(l.lanowner)::text, \
         pg_catalog.obj_description(l.oid, 'pg_language'), {acl}, l.lanpltrusted, {h}, {i}, {v} \
         FROM pg_catalog.pg_language l WHERE l.lanispl AND l.oid >= 16384 AND {ext} ORDER BY l.lanname",
        acl = acl_sql("l.lanacl"),
        h = proc_or_null("l.lanplcallfoid"),
        i = proc_or_null("l.laninline"),
        v = proc_or_null("l.lanvalidator"),
        ext = not_ext_member(class::LANGUAGE, "l.oid"),
    );
    for row in r.query("procedural languages", &sql, &[]).await? {
        let mut o = obj(
            None,
            row.get(1)?,
            Kind::Language {
                trusted: row.get(5)?,
                handler: row.get(6)?,
                inline: row.get(7)?,
                validator: row.get(8)?,
            },
        );
        o.owner = row.get(2)?;
        o.comment = row.get(3)?;
        o.acl = parse_acl(row.get(4)?)?;
        r.add(Some((class::LANGUAGE, row.get(0)?)), o);
    }
    Ok(())
}

/// (family oid, object index).
async fn read_operator_families(r: &mut Reader<'_>) -> Result<Vec<(u32, usize)>, CatalogError> {
    let sql = format!(
        "SELECT f.oid, n.nspname::text, f.opfname::text, pg_catalog.pg_get_userbyid(f.opfowner)::text, \
         pg_catalog.obj_description(f.oid, 'pg_opfamily'), am.amname::text \
         FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace \
         JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY f.oid",
        ext = not_ext_member(class::OPFAMILY, "f.oid"),
    );
    let mut out = Vec::new();
    for row in r.query("operator families", &sql, &[]).await? {
        let kind = Kind::OperatorFamily {
            method: row.get(5)?,
            members: vec![],
        };
        if let Some(i) = r.add_in_schema(class::OPFAMILY, &row, kind)? {
            out.push((row.get(0)?, i));
        }
    }
    Ok(out)
}

/// (class oid, object index).
async fn read_operator_classes(r: &mut Reader<'_>) -> Result<Vec<(u32, usize)>, CatalogError> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.opcname::text, pg_catalog.pg_get_userbyid(c.opcowner)::text, \
         pg_catalog.obj_description(c.oid, 'pg_opclass'), am.amname::text, \
         pg_catalog.format_type(c.opcintype, NULL), c.opcdefault, \
         CASE WHEN f.opfname <> c.opcname OR f.opfnamespace <> c.opcnamespace \
              THEN pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.opfname) END, \
         CASE WHEN c.opckeytype <> 0 THEN pg_catalog.format_type(c.opckeytype, NULL) END \
         FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace \
         JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod \
         JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily \
         JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY c.oid",
        ext = not_ext_member(class::OPCLASS, "c.oid"),
    );
    let mut out = Vec::new();
    for row in r.query("operator classes", &sql, &[]).await? {
        let items = match row.get::<Option<String>>(9)? {
            Some(t) => vec![format!("STORAGE {t}")],
            None => vec![],
        };
        let kind = Kind::OperatorClass {
            method: row.get(5)?,
            for_type: row.get(6)?,
            default: row.get(7)?,
            family: row.get(8)?,
            items,
        };
        if let Some(i) = r.add_in_schema(class::OPCLASS, &row, kind)? {
            out.push((row.get(0)?, i));
        }
    }
    Ok(out)
}

/// Operators and support functions of the classes (internal dependency on
/// the class) and of the families (auto dependency on the family: members
/// added with `ALTER OPERATOR FAMILY`).
async fn read_members(
    r: &mut Reader<'_>,
    families: &[(u32, usize)],
    classes: &[(u32, usize)],
) -> Result<(), CatalogError> {
    let fam_oids: Vec<u32> = families.iter().map(|f| f.0).collect();
    let class_oids: Vec<u32> = classes.iter().map(|c| c.0).collect();
    let owner = |catalog: u32| {
        format!(
            "(SELECT d.refclassid::oid FROM pg_catalog.pg_depend d WHERE d.classid = {catalog} AND d.objid = m.oid \
              AND d.refclassid IN ({}, {}) AND d.deptype IN ('i', 'a') LIMIT 1), \
             (SELECT d.refobjid FROM pg_catalog.pg_depend d WHERE d.classid = {catalog} AND d.objid = m.oid \
              AND d.refclassid IN ({}, {}) AND d.deptype IN ('i', 'a') LIMIT 1)",
            class::OPCLASS,
            class::OPFAMILY,
            class::OPCLASS,
            class::OPFAMILY
        )
    };
    let sort_family = qualified_sql("pg_opfamily", "opfname", "opfnamespace", "m.amopsortfamily");
    let ops = format!(
        "SELECT m.oid, {owner}, m.amopstrategy::int4, m.amopopr::regoperator::text, \
         CASE WHEN m.amoppurpose = 'o' THEN {sort_family} END \
         FROM pg_catalog.pg_amop m WHERE m.amopfamily = ANY($1) ORDER BY m.amopstrategy, m.oid",
        owner = owner(class::AMOP)
    );
    let procs = format!(
        "SELECT m.oid, {owner}, m.amprocnum::int4, pg_catalog.format_type(m.amproclefttype, NULL), \
         pg_catalog.format_type(m.amprocrighttype, NULL), m.amproc::regprocedure::text \
         FROM pg_catalog.pg_amproc m WHERE m.amprocfamily = ANY($1) ORDER BY m.amprocnum, m.oid",
        owner = owner(class::AMPROC)
    );
    let mut all_fams = fam_oids.clone();
    // Classes whose family was not selected still list their members.
    let rows = r
        .query(
            "operator class families",
            "SELECT opcfamily FROM pg_catalog.pg_opclass WHERE oid = ANY($1)",
            &[&class_oids],
        )
        .await?;
    for row in rows {
        all_fams.push(row.get(0)?);
    }
    // (member catalog, member oid, owner key, item)
    let mut items: Vec<(u32, u32, (u32, u32), String)> = Vec::new();
    for row in r
        .query("operator class operators", &ops, &[&all_fams])
        .await?
    {
        let (Some(cls), Some(owner)) = (row.get::<Option<u32>>(1)?, row.get::<Option<u32>>(2)?)
        else {
            continue;
        };
        let mut item = format!("OPERATOR {} {}", row.get::<i32>(3)?, row.get::<String>(4)?);
        if let Some(f) = row.get::<Option<String>>(5)? {
            item.push_str(&format!(" FOR ORDER BY {f}"));
        }
        items.push((class::AMOP, row.get(0)?, (cls, owner), item));
    }
    for row in r
        .query("operator class functions", &procs, &[&all_fams])
        .await?
    {
        let (Some(cls), Some(owner)) = (row.get::<Option<u32>>(1)?, row.get::<Option<u32>>(2)?)
        else {
            continue;
        };
        let item = format!(
            "FUNCTION {} ({}, {}) {}",
            row.get::<i32>(3)?,
            row.get::<String>(4)?,
            row.get::<String>(5)?,
            row.get::<String>(6)?
        );
        items.push((class::AMPROC, row.get(0)?, (cls, owner), item));
    }
    for (catalog, oid, owner, item) in items {
        let Some(i) = r.object_key(owner) else {
            continue;
        };
        r.alias((catalog, oid), i);
        match &mut r.objects[i].kind {
            Kind::OperatorClass { items, .. } => items.push(item),
            Kind::OperatorFamily { members, .. } => members.push(item),
            _ => {}
        }
    }
    Ok(())
}

async fn read_conversions(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.conname::text, pg_catalog.pg_get_userbyid(c.conowner)::text, \
         pg_catalog.obj_description(c.oid, 'pg_conversion'), \
         pg_catalog.pg_encoding_to_char(c.conforencoding)::text, pg_catalog.pg_encoding_to_char(c.contoencoding)::text, \
         c.conproc::regproc::text, c.condefault \
         FROM pg_catalog.pg_conversion c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY c.oid",
        ext = not_ext_member(class::CONVERSION, "c.oid"),
    );
    for row in r.query("conversions", &sql, &[]).await? {
        let kind = Kind::Conversion {
            from: row.get(5)?,
            to: row.get(6)?,
            function: row.get(7)?,
            default: row.get(8)?,
        };
        r.add_in_schema(class::CONVERSION, &row, kind)?;
    }
    Ok(())
}

async fn read_transforms(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT t.oid, pg_catalog.format_type(t.trftype, NULL), l.lanname::text, {from}, {to}, \
         pg_catalog.obj_description(t.oid, 'pg_transform'), \
         ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
               WHERE p.oid IN (t.trffromsql, t.trftosql) \
               UNION SELECT n.nspname::text FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace \
               WHERE ty.oid = t.trftype) \
         FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang \
         WHERE {ext} ORDER BY t.oid",
        from = procedure_or_null("t.trffromsql"),
        to = procedure_or_null("t.trftosql"),
        ext = not_ext_member(class::TRANSFORM, "t.oid"),
    );
    for row in r.query("transforms", &sql, &[]).await? {
        let schemas: Vec<String> = row.get(6)?;
        if schemas
            .iter()
            .any(|s| s != "pg_catalog" && s != "information_schema" && !r.selector.schema(s))
        {
            continue;
        }
        let type_sql: String = row.get(1)?;
        let language: String = row.get(2)?;
        let name = format!("{type_sql} {}", quote_ident(&language));
        let mut o = obj(
            None,
            name,
            Kind::Transform {
                type_sql,
                language,
                from_sql: row.get(3)?,
                to_sql: row.get(4)?,
            },
        );
        o.comment = row.get(5)?;
        r.add(Some((class::TRANSFORM, row.get(0)?)), o);
    }
    Ok(())
}
