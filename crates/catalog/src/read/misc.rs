//! Casts, publications and event triggers: database-wide objects outside schemas.
use super::{class, not_ext_member, obj, Reader};
use crate::model::*;
use crate::CatalogError;

const CAST: u32 = 2605;
const EVENT_TRIGGER: u32 = 3466;

pub(crate) async fn read_misc(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if r.selector.relations_only() {
        // (an extension picked with `-e` still brings its configuration
        // tables' rows when `-t` picks those tables)
        return read_extension_config_data(r).await;
    }
    read_casts(r).await?;
    if r.selector.publications() {
        read_publications(r).await?;
    }
    read_event_triggers(r).await?;
    read_extension_config_data(r).await?;
    if r.selector.whole_database() {
        read_large_objects(r).await?;
        read_database(r).await?;
        read_system_acls(r).await?;
    }
    Ok(())
}

/// The database's comment, ACL, settings and per-role settings in it.
async fn read_database(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT d.datname::text, pg_catalog.pg_get_userbyid(d.datdba)::text, \
         pg_catalog.shobj_description(d.oid, 'pg_database'), {}, \
         COALESCE((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s \
                   WHERE s.setdatabase = d.oid AND s.setrole = 0), '{{}}'::text[]) \
         FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
        super::acl_sql("d.datacl")
    );
    let rows = r.query("database properties", &sql, &[]).await?;
    let Some(row) = rows.first() else {
        return Ok(());
    };
    let db_owner: String = row.get(1)?;
    let settings: Vec<String> = row.get(4)?;
    let role_rows = r
        .query(
            "per-role database settings",
            "SELECT pg_catalog.pg_get_userbyid(s.setrole)::text, s.setconfig \
             FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase \
             WHERE d.datname = pg_catalog.current_database() AND s.setrole <> 0 ORDER BY 1",
            &[],
        )
        .await?;
    let mut role_settings = Vec::new();
    for rr in role_rows {
        let items: Vec<String> = rr.get(1)?;
        role_settings.push((
            rr.get::<String>(0)?,
            items.iter().map(|i| setting_item(i)).collect(),
        ));
    }
    // The owner's own privileges are implicit (and the target's owner may
    // be another role).
    let acl = super::parse_acl(row.get(3)?)?.map(|grants| {
        grants
            .into_iter()
            .filter(|g| g.grantee.as_deref() != Some(db_owner.as_str()))
            .collect::<Vec<_>>()
    });
    let comment: Option<String> = row.get(2)?;
    if settings.is_empty() && role_settings.is_empty() && comment.is_none() && acl.is_none() {
        return Ok(());
    }
    let mut o = obj(
        None,
        row.get(0)?,
        Kind::Database {
            settings: settings.iter().map(|i| setting_item(i)).collect(),
            role_settings,
        },
    );
    o.comment = comment;
    o.acl = acl;
    r.add(None, o);
    Ok(())
}

/// `name = value` from a stored `name=value` setting, the value quoted
/// (list settings such as search_path are stored in list syntax already).
pub(crate) fn setting_item(stored: &str) -> String {
    let (name, value) = stored.split_once('=').unwrap_or((stored, ""));
    const LISTS: [&str; 4] = [
        "search_path",
        "temp_tablespaces",
        "session_preload_libraries",
        "local_preload_libraries",
    ];
    let value = if value == "\"\"" {
        "''".to_string() // an empty list
    } else if LISTS.contains(&name) && !value.is_empty() {
        value.to_string()
    } else {
        crate::quote_literal(value)
    };
    // Custom settings have dotted names (`app.region`), which stay unquoted.
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    if plain {
        format!("{name} = {value}")
    } else {
        format!("{} = {value}", crate::quote_ident(name))
    }
}

async fn read_large_objects(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT m.oid, pg_catalog.pg_get_userbyid(m.lomowner)::text, {}, \
         pg_catalog.obj_description(m.oid, 'pg_largeobject') \
         FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid",
        super::acl_sql("m.lomacl")
    );
    let mut items = Vec::new();
    for row in r.query("large objects", &sql, &[]).await? {
        items.push(LargeObject {
            oid: row.get(0)?,
            owner: row.get(1)?,
            acl: super::parse_acl(row.get(2)?)?,
            comment: row.get(3)?,
        });
    }
    if !items.is_empty() {
        r.add(
            None,
            obj(None, "large objects".into(), Kind::LargeObjects { items }),
        );
    }
    Ok(())
}

/// Casts involving a user-defined type or function (built-in ones exist everywhere).
async fn read_casts(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT c.oid, pg_catalog.format_type(c.castsource, NULL), pg_catalog.format_type(c.casttarget, NULL), \
         c.castmethod::text, c.castcontext::text, \
         CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END, \
         pg_catalog.obj_description(c.oid, 'pg_cast'), \
         ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
               WHERE t.oid IN (c.castsource, c.casttarget) \
               UNION SELECT n.nspname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
               WHERE p.oid = c.castfunc) \
         FROM pg_catalog.pg_cast c \
         WHERE (c.castsource >= 16384 OR c.casttarget >= 16384 OR c.castfunc >= 16384) AND {ext} \
         ORDER BY c.oid",
        ext = not_ext_member(CAST, "c.oid"),
    );
    for row in r.query("casts", &sql, &[]).await? {
        let schemas: Vec<String> = row.get(7)?;
        let user_schemas: Vec<&String> = schemas
            .iter()
            .filter(|s| s.as_str() != "pg_catalog" && s.as_str() != "information_schema")
            .collect();
        if user_schemas.iter().any(|s| !r.selector.schema(s)) {
            continue;
        }
        let source: String = row.get(1)?;
        let target: String = row.get(2)?;
        let method = match (
            row.get::<String>(3)?.as_str(),
            row.get::<Option<String>>(5)?,
        ) {
            ("f", Some(f)) => format!("WITH FUNCTION {f}"),
            ("i", _) => "WITH INOUT".to_string(),
            _ => "WITHOUT FUNCTION".to_string(),
        };
        let context = row.get::<String>(4)?.chars().next().unwrap_or('e');
        let mut o = obj(
            None,
            format!("{source} AS {target}"),
            Kind::Cast {
                source,
                target,
                method,
                context,
            },
        );
        o.comment = row.get(6)?;
        r.add(Some((CAST, row.get(0)?)), o);
    }
    Ok(())
}

async fn read_publications(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let via_root = if r.version >= 130000 {
        "p.pubviaroot"
    } else {
        "false"
    };
    let sql = format!(
        "SELECT p.oid, p.pubname::text, pg_catalog.pg_get_userbyid(p.pubowner)::text, \
         pg_catalog.obj_description(p.oid, 'pg_publication'), p.puballtables, \
         p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, {via_root} \
         FROM pg_catalog.pg_publication p ORDER BY p.pubname"
    );
    let rows = r.query("publications", &sql, &[]).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let (cols, qual) = if r.version >= 150000 {
        (
            "CASE WHEN pr.prattrs IS NOT NULL THEN (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) \
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = pr.prrelid AND a.attnum = ANY(pr.prattrs)) END",
            "pg_catalog.pg_get_expr(pr.prqual, pr.prrelid)",
        )
    } else {
        ("NULL::text", "NULL::text")
    };
    let table_rows = r
        .query(
            "publication tables",
            &format!(
                "SELECT pr.prpubid, n.nspname::text, c.relname::text, {cols}, {qual} \
                 FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY 1, 2, 3"
            ),
            &[],
        )
        .await?;
    let schema_rows = if r.version >= 150000 {
        r.query(
            "publication schemas",
            "SELECT pn.pnpubid, n.nspname::text FROM pg_catalog.pg_publication_namespace pn \
             JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid ORDER BY 1, 2",
            &[],
        )
        .await?
    } else {
        Vec::new()
    };
    for row in rows {
        let oid: u32 = row.get(0)?;
        let mut publish = Vec::new();
        for (idx, what) in [(5, "insert"), (6, "update"), (7, "delete"), (8, "truncate")] {
            if row.get::<bool>(idx)? {
                publish.push(what);
            }
        }
        let mut options = vec![format!(
            "publish = {}",
            crate::quote_literal(&publish.join(", "))
        )];
        if row.get::<bool>(9)? {
            options.push("publish_via_partition_root = true".into());
        }
        let mut tables = Vec::new();
        for t in &table_rows {
            if t.get::<u32>(0)? != oid {
                continue;
            }
            let schema: String = t.get(1)?;
            let name: String = t.get(2)?;
            if !r.selector.relation(&schema, &name) {
                continue;
            }
            tables.push((QName { schema, name }, t.get(3)?, t.get(4)?));
        }
        let mut schemas = Vec::new();
        for s in &schema_rows {
            if s.get::<u32>(0)? != oid {
                continue;
            }
            let schema: String = s.get(1)?;
            if r.selector.schema(&schema) {
                schemas.push(schema);
            }
        }
        let mut o = obj(
            None,
            row.get(1)?,
            Kind::Publication {
                all_tables: row.get(4)?,
                options,
                tables,
                schemas,
            },
        );
        o.owner = row.get(2)?;
        o.comment = row.get(3)?;
        r.add(None, o);
    }
    Ok(())
}

async fn read_event_triggers(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT e.oid, e.evtname::text, e.evtevent::text, pg_catalog.pg_get_userbyid(e.evtowner)::text, \
         e.evtfoid::regproc::text, e.evtenabled::text, COALESCE(e.evttags, '{{}}'::text[]), \
         pg_catalog.obj_description(e.oid, 'pg_event_trigger'), \
         (SELECT n.nspname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
          WHERE p.oid = e.evtfoid) \
         FROM pg_catalog.pg_event_trigger e WHERE {ext} ORDER BY e.evtname",
        ext = not_ext_member(EVENT_TRIGGER, "e.oid"),
    );
    for row in r.query("event triggers", &sql, &[]).await? {
        // With the function's schema left out, the trigger goes too.
        if let Some(s) = row.get::<Option<String>>(8)? {
            if s != "pg_catalog" && !r.selector.schema(&s) {
                continue;
            }
        }
        let mut o = obj(
            None,
            row.get(1)?,
            Kind::EventTrigger {
                event: row.get(2)?,
                tags: row.get(6)?,
                function: row.get(4)?,
                enabled: row.get::<String>(5)?.chars().next().unwrap_or('O'),
            },
        );
        o.owner = row.get(3)?;
        o.comment = row.get(7)?;
        r.add(Some((EVENT_TRIGGER, row.get(0)?)), o);
    }
    Ok(())
}

/// Privileges on built-in tables, columns and functions that differ from
/// their initdb state (`pg_init_privs`).
async fn read_system_acls(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    // Grants in `a` and not in `b`, as ACL JSON.
    let minus = |a: &str, b: &str| {
        format!(
            "COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_array(\
             CASE WHEN x.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(x.grantee) END, \
             pg_catalog.pg_get_userbyid(x.grantor), x.privilege_type, x.is_grantable))::text \
             FROM pg_catalog.aclexplode({a}) x WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode({b}) y \
             WHERE y.grantee = x.grantee AND y.privilege_type = x.privilege_type AND y.is_grantable = x.is_grantable)), '[]')"
        )
    };
    let system = "n.nspname IN ('pg_catalog', 'information_schema')";
    // (aclexplode refuses an empty array: empty ACLs are NULL here.)
    // An object initdb gave no privileges of its own has no pg_init_privs
    // row: its initial ACL is the default one.
    let rel_init =
        "NULLIF(COALESCE(ip.initprivs, pg_catalog.acldefault('r', c.relowner)), '{}'::aclitem[])";
    let fn_init =
        "NULLIF(COALESCE(ip.initprivs, pg_catalog.acldefault('f', p.proowner)), '{}'::aclitem[])";
    let rel_cur =
        "NULLIF(COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner)), '{}'::aclitem[])";
    let col_cur = "NULLIF(a.attacl, '{}'::aclitem[])";
    let col_init = "NULLIF(ip.initprivs, '{}'::aclitem[])";
    let fn_cur =
        "NULLIF(COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner)), '{}'::aclitem[])";
    let sql = format!(
        "SELECT 'TABLE ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), NULL::text, \
         {g1}, {r1} FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = c.oid AND ip.classoid = 1259 AND ip.objsubid = 0 \
         WHERE {system} AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p') AND {rel_cur} IS DISTINCT FROM {rel_init} \
         UNION ALL \
         SELECT 'TABLE ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), a.attname::text, \
         {g2}, {r2} FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = c.oid AND ip.classoid = 1259 AND ip.objsubid = a.attnum \
         WHERE {system} AND a.attnum > 0 AND (a.attacl IS NOT NULL OR ip.initprivs IS NOT NULL) \
         AND {col_cur} IS DISTINCT FROM {col_init} \
         UNION ALL \
         SELECT 'ROUTINE ' || p.oid::regprocedure::text, NULL::text, {g3}, {r3} \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         LEFT JOIN pg_catalog.pg_init_privs ip ON ip.objoid = p.oid AND ip.classoid = 1255 AND ip.objsubid = 0 \
         WHERE {system} AND {fn_cur} IS DISTINCT FROM {fn_init} \
         ORDER BY 1, 2",
        g1 = minus(rel_cur, rel_init),
        r1 = minus(rel_init, rel_cur),
        g2 = minus(col_cur, col_init),
        r2 = minus(col_init, col_cur),
        g3 = minus(fn_cur, fn_init),
        r3 = minus(fn_init, fn_cur),
    );
    for row in r.query("privileges on built-in objects", &sql, &[]).await? {
        let target: String = row.get(0)?;
        let column: Option<String> = row.get(1)?;
        let grants = super::parse_acl(row.get(2)?)?.unwrap_or_default();
        let revokes = super::parse_acl(row.get(3)?)?.unwrap_or_default();
        if grants.is_empty() && revokes.is_empty() {
            continue;
        }
        let name = match &column {
            Some(c) => format!("{target} ({c})"),
            None => target.clone(),
        };
        r.add(
            None,
            obj(
                None,
                name,
                Kind::SystemAcl {
                    target,
                    column,
                    grants,
                    revokes,
                },
            ),
        );
    }
    Ok(())
}

/// What the source holds that pgferry does not carry: security labels on the
/// objects read (no label provider can be loaded to check them against here).
pub(crate) async fn read_unsupported(r: &Reader<'_>) -> Result<Vec<Unsupported>, CatalogError> {
    let mut out = Vec::new();
    let rows = r
        .query(
            "security labels",
            "SELECT classoid::oid, objoid::oid, objsubid, provider::text FROM pg_catalog.pg_seclabel \
             ORDER BY 1, 2, 3",
            &[],
        )
        .await?;
    for row in rows {
        let Some(i) = r.object_key((row.get(0)?, row.get(1)?)) else {
            continue;
        };
        let o = &r.objects[i];
        out.push(Unsupported {
            ids: vec![o.id],
            label: true,
            what: format!(
                "security label (provider {}) on {} {}",
                row.get::<String>(3)?,
                o.kind.label(),
                o.display_name()
            ),
        });
    }
    if r.selector.whole_database() {
        let rows = r
            .query(
                "database security labels",
                "SELECT provider::text FROM pg_catalog.pg_shseclabel l JOIN pg_catalog.pg_database d \
                 ON d.oid = l.objoid AND l.classoid = 1262 WHERE d.datname = pg_catalog.current_database()",
                &[],
            )
            .await?;
        for row in rows {
            out.push(Unsupported {
                ids: vec![],
                label: true,
                what: format!(
                    "security label (provider {}) on the database",
                    row.get::<String>(0)?
                ),
            });
        }
    }
    Ok(out)
}

/// The rows of extension configuration tables (`pg_extension_config_dump`)
/// that their extension's condition selects, as pg_dump dumps them: the
/// extension creates the table, the restore loads these rows into it.
async fn read_extension_config_data(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let generated = "a.attgenerated = ''";
    let sql = format!(
        "SELECT e.oid, n.nspname::text, c.relname::text, NULLIF(x.cond, ''), \
         ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid \
               AND a.attnum > 0 AND NOT a.attisdropped AND {generated} ORDER BY a.attnum), \
         c.relkind::text, c.oid \
         FROM pg_catalog.pg_extension e, \
         LATERAL ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition)) AS x(cfg, cond) \
         JOIN pg_catalog.pg_class c ON c.oid = x.cfg \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'S') ORDER BY 2, 3"
    );
    // table oid → its data entry, for the foreign keys between them.
    let mut data: Vec<(u32, usize)> = Vec::new();
    for row in r.query("extension configuration tables", &sql, &[]).await? {
        let Some(ext) = r.object_key((class::EXTENSION, row.get(0)?)) else {
            continue;
        };
        let table = QName {
            schema: row.get(1)?,
            name: row.get(2)?,
        };
        if !r.selector.data(&table.schema, &table.name) {
            continue;
        }
        let kind = if row.get::<String>(5)? == "S" {
            // A configuration sequence: its value, read in this snapshot.
            let value = r
                .query(
                    &format!("the value of sequence {table}"),
                    &format!("SELECT last_value, is_called FROM {}", table.sql()),
                    &[],
                )
                .await?;
            let Some(v) = value.first() else { continue };
            Kind::SequenceSet {
                last_value: v.get(0)?,
                is_called: v.get(1)?,
                sequence: table.clone(),
            }
        } else {
            Kind::TableData {
                table: table.clone(),
                columns: row.get(4)?,
                // Text: any type the extension uses reads back.
                format: CopyFormat::Text,
                casts: vec![],
                parts: 0,
                filter: row.get(3)?,
                load_via: None,
            }
        };
        let is_data = matches!(kind, Kind::TableData { .. });
        let i = r.add(
            None,
            obj(Some(table.schema.clone()), table.name.clone(), kind),
        );
        r.edges.push((i, ext));
        if is_data {
            data.push((row.get(6)?, i));
        }
    }
    // Referenced rows load first (the extension created the foreign keys).
    let oids: Vec<u32> = data.iter().map(|d| d.0).collect();
    let rows = r
        .query(
            "foreign keys between extension configuration tables",
            "SELECT conrelid, confrelid FROM pg_catalog.pg_constraint \
             WHERE contype = 'f' AND conrelid = ANY($1) AND confrelid = ANY($1) AND conrelid <> confrelid",
            &[&oids],
        )
        .await?;
    for row in rows {
        let (from, to): (u32, u32) = (row.get(0)?, row.get(1)?);
        if let (Some(a), Some(b)) = (
            data.iter().find(|d| d.0 == from),
            data.iter().find(|d| d.0 == to),
        ) {
            r.edges.push((a.1, b.1));
        }
    }
    Ok(())
}
