//! Schemas, extensions and user-defined types.
use super::{acl_sql, class, not_ext_member, obj, parse_acl, Reader, USER_SCHEMA};
use crate::loops::PartRef;
use crate::model::*;
use crate::{quote_ident, CatalogError};

pub(crate) async fn read_schemas_and_extensions(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT n.oid, n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text, \
         pg_catalog.obj_description(n.oid, 'pg_namespace'), {} \
         FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMA} AND {} ORDER BY n.nspname",
        acl_sql("n.nspacl"),
        not_ext_member(class::NAMESPACE, "n.oid")
    );
    for row in r.query("schemas", &sql, &[]).await? {
        let name: String = row.get(1)?;
        if !r.selector.schema(&name) || r.selector.relations_only() {
            continue;
        }
        let mut o = obj(None, name, Kind::Schema);
        o.owner = row.get(2)?;
        o.comment = row.get(3)?;
        o.acl = parse_acl(row.get(4)?)?;
        r.add(Some((class::NAMESPACE, row.get(0)?)), o);
    }
    if !r.selector.relations_only() {
        read_default_acls(r).await?;
        read_collations(r).await?;
    }
    // (with `-t`, extensions only by `-e`)
    let rows = r
        .query(
            "extensions",
            "SELECT e.oid, e.extname::text, n.nspname::text, e.extversion, \
             pg_catalog.obj_description(e.oid, 'pg_extension') \
             FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
             WHERE e.extname <> 'plpgsql' ORDER BY e.extname",
            &[],
        )
        .await?;
    for row in rows {
        let name: String = row.get(1)?;
        let schema: String = row.get(2)?;
        if !r.selector.extension(&name, &schema) {
            continue;
        }
        let mut o = obj(
            None,
            name,
            Kind::Extension {
                schema,
                version: row.get(3)?,
            },
        );
        o.comment = row.get(4)?;
        r.add(Some((class::EXTENSION, row.get(0)?)), o);
    }
    Ok(())
}

async fn read_collations(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let locale = if r.version >= 170000 {
        "c.colllocale"
    } else if r.version >= 150000 {
        "c.colliculocale"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.collname::text, pg_catalog.pg_get_userbyid(c.collowner)::text, \
         pg_catalog.obj_description(c.oid, 'pg_collation'), c.collprovider::text, c.collcollate::text, \
         c.collctype::text, {locale}, c.collisdeterministic \
         FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace \
         WHERE {USER_SCHEMA} AND {ext} AND c.collprovider <> 'd' ORDER BY c.oid",
        ext = not_ext_member(class::COLLATION, "c.oid"),
    );
    for row in r.query("collations", &sql, &[]).await? {
        let provider = match row.get::<String>(5)?.as_str() {
            "i" => "icu",
            "b" => "builtin",
            _ => "libc",
        };
        let collate: Option<String> = row.get(6)?;
        let ctype: Option<String> = row.get(7)?;
        let locale: Option<String> = row.get::<Option<String>>(8)?.or_else(|| collate.clone());
        let mut options = vec![format!("provider = {provider}")];
        if provider == "libc" {
            options.push(format!(
                "lc_collate = {}",
                crate::quote_literal(collate.as_deref().unwrap_or(""))
            ));
            options.push(format!(
                "lc_ctype = {}",
                crate::quote_literal(ctype.as_deref().unwrap_or(""))
            ));
        } else {
            options.push(format!(
                "locale = {}",
                crate::quote_literal(locale.as_deref().unwrap_or(""))
            ));
        }
        if !row.get::<bool>(9)? {
            options.push("deterministic = false".into());
        }
        r.add_in_schema(class::COLLATION, &row, Kind::Collation { options })?;
    }
    Ok(())
}

async fn read_default_acls(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::text, n.nspname::text, d.defaclobjtype::text, {} \
         FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace \
         ORDER BY 1, 2, 3",
        acl_sql("d.defaclacl")
    );
    for row in r.query("default privileges", &sql, &[]).await? {
        let schema: Option<String> = row.get(1)?;
        if schema.as_deref().is_some_and(|s| !r.selector.schema(s)) {
            continue;
        }
        let objects = match row.get::<String>(2)?.as_str() {
            "r" => "TABLES",
            "S" => "SEQUENCES",
            "f" => "FUNCTIONS",
            "T" => "TYPES",
            "n" => "SCHEMAS",
            "L" => "LARGE OBJECTS", // PostgreSQL 18+
            _ => continue,
        };
        let role: String = row.get(0)?;
        let grants = parse_acl(row.get(3)?)?.unwrap_or_default();
        let name = format!("{role} {objects}");
        r.add(
            None,
            obj(
                schema,
                name,
                Kind::DefaultAcl {
                    role,
                    objects: objects.into(),
                    grants,
                },
            ),
        );
    }
    Ok(())
}

/// `COLLATE` target for a collation oid, qualified.
pub(crate) const COLLATION_SQL: &str = "(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
     FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ";

pub(crate) async fn read_types(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if r.selector.relations_only() {
        return Ok(());
    }
    let multirange = if r.version >= 140000 {
        "COALESCE(rg.rngmultitypid, 0::oid)"
    } else {
        "0::oid"
    };
    let sql = format!(
        "SELECT t.oid, n.nspname::text, t.typname::text, t.typtype::text, \
         pg_catalog.pg_get_userbyid(t.typowner)::text, pg_catalog.obj_description(t.oid, 'pg_type'), {acl}, \
         t.typarray, pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull, \
         pg_catalog.pg_get_expr(t.typdefaultbin, 0), \
         CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN {COLLATION_SQL} t.typcollation) END, \
         t.typrelid, {multirange} \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
         LEFT JOIN pg_catalog.pg_range rg ON rg.rngtypid = t.oid \
         WHERE {USER_SCHEMA} AND {ext} \
         AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND \
              (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')) \
         ORDER BY t.oid",
        acl = acl_sql("t.typacl"),
        ext = not_ext_member(class::TYPE, "t.oid"),
    );
    let rows = r.query("types", &sql, &[]).await?;
    let mut enums = Vec::new();
    let mut composites = Vec::new();
    let mut ranges = Vec::new();
    let mut domains = Vec::new();
    for row in rows {
        let schema: String = row.get(1)?;
        if !r.selector.schema(&schema) {
            continue;
        }
        let oid: u32 = row.get(0)?;
        let typtype: String = row.get(3)?;
        let kind = match typtype.as_str() {
            "e" => Kind::Enum { labels: vec![] },
            "c" => Kind::Composite {
                attributes: vec![],
                attribute_comments: vec![],
            },
            "r" => Kind::Range { options: vec![] },
            _ => Kind::Domain {
                base: row.get(8)?,
                collation: row.get(11)?,
                default: row.get(10)?,
                not_null: row.get(9)?,
                constraints: vec![],
                constraint_comments: vec![],
            },
        };
        let mut o = obj(Some(schema), row.get(2)?, kind);
        o.owner = row.get(4)?;
        o.comment = row.get(5)?;
        o.acl = parse_acl(row.get(6)?)?;
        let i = r.add(Some((class::TYPE, oid)), o);
        let array: u32 = row.get(7)?;
        if array != 0 {
            r.alias((class::TYPE, array), i);
        }
        let mr: u32 = row.get(13)?;
        if mr != 0 {
            r.alias((class::TYPE, mr), i);
        }
        match typtype.as_str() {
            "e" => enums.push((oid, i)),
            "c" => {
                let relid: u32 = row.get(12)?;
                r.alias((class::CLASS, relid), i);
                composites.push((relid, i));
            }
            "r" => ranges.push((oid, i)),
            _ => domains.push((oid, i)),
        }
    }
    let oids: Vec<u32> = enums.iter().map(|e| e.0).collect();
    for row in r
        .query(
            "enum labels",
            "SELECT enumtypid, enumlabel::text FROM pg_catalog.pg_enum \
             WHERE enumtypid = ANY($1) ORDER BY enumtypid, enumsortorder",
            &[&oids],
        )
        .await?
    {
        let t: u32 = row.get(0)?;
        if let Some((_, i)) = enums.iter().find(|e| e.0 == t) {
            if let Kind::Enum { labels } = &mut r.objects[*i].kind {
                labels.push(row.get(1)?);
            }
        }
    }
    let relids: Vec<u32> = composites.iter().map(|c| c.0).collect();
    let sql = format!(
        "SELECT a.attrelid, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
         CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN {COLLATION_SQL} a.attcollation) END, \
         pg_catalog.col_description(a.attrelid, a.attnum) \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum"
    );
    for row in r
        .query("composite type attributes", &sql, &[&relids])
        .await?
    {
        let rel: u32 = row.get(0)?;
        if let Some((_, i)) = composites.iter().find(|c| c.0 == rel) {
            if let Kind::Composite {
                attributes,
                attribute_comments,
            } = &mut r.objects[*i].kind
            {
                let name: String = row.get(1)?;
                if let Some(c) = row.get::<Option<String>>(4)? {
                    attribute_comments.push((name.clone(), c));
                }
                attributes.push((name, row.get(2)?, row.get(3)?));
            }
        }
    }
    let oids: Vec<u32> = ranges.iter().map(|e| e.0).collect();
    let mr = if r.version >= 140000 {
        "CASE WHEN rg.rngmultitypid <> 0 THEN pg_catalog.format_type(rg.rngmultitypid, NULL) END"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT rg.rngtypid, pg_catalog.format_type(rg.rngsubtype, NULL), \
         (SELECT pg_catalog.quote_ident(on_.nspname) || '.' || pg_catalog.quote_ident(opc.opcname) \
            FROM pg_catalog.pg_opclass opc JOIN pg_catalog.pg_namespace on_ ON on_.oid = opc.opcnamespace \
            WHERE opc.oid = rg.rngsubopc AND NOT opc.opcdefault), \
         CASE WHEN rg.rngcollation <> 0 AND rg.rngcollation <> st.typcollation THEN {COLLATION_SQL} rg.rngcollation) END, \
         CASE WHEN rg.rngcanonical <> 0 THEN rg.rngcanonical::regproc::text END, \
         CASE WHEN rg.rngsubdiff <> 0 THEN rg.rngsubdiff::regproc::text END, {mr}, \
         rg.rngcanonical::oid, (SELECT t.typarray FROM pg_catalog.pg_type t WHERE t.oid = rg.rngtypid) \
         FROM pg_catalog.pg_range rg JOIN pg_catalog.pg_type st ON st.oid = rg.rngsubtype \
         WHERE rg.rngtypid = ANY($1)"
    );
    for row in r.query("range types", &sql, &[&oids]).await? {
        let t: u32 = row.get(0)?;
        let mut opts = vec![format!("SUBTYPE = {}", row.get::<String>(1)?)];
        let named = [
            ("SUBTYPE_OPCLASS", 2),
            ("COLLATION", 3),
            ("CANONICAL", 4),
            ("SUBTYPE_DIFF", 5),
            ("MULTIRANGE_TYPE_NAME", 6),
        ];
        for (label, idx) in named {
            if let Some(v) = row.get::<Option<String>>(idx)? {
                opts.push(format!("{label} = {v}"));
            }
        }
        let Some(&(_, i)) = ranges.iter().find(|e| e.0 == t) else {
            continue;
        };
        if let Kind::Range { options } = &mut r.objects[i].kind {
            *options = opts;
        }
        // A canonical function takes and returns the range: it is declared
        // over the range's shell, created first (as for base types).
        let canonical: u32 = row.get(7)?;
        if canonical >= 16384 {
            let o = &r.objects[i];
            let mut shell = obj(o.schema.clone(), o.name.clone(), Kind::ShellType);
            shell.owner = o.owner.clone();
            let shell = r.add(None, shell);
            r.edges.push((i, shell));
            for ty in [t, row.get::<u32>(8)?] {
                r.ignore
                    .insert(((class::PROC, canonical), (class::TYPE, ty)));
            }
            r.key_edges.push(((class::PROC, canonical), shell));
        }
    }
    let oids: Vec<u32> = domains.iter().map(|e| e.0).collect();
    let rows = r
        .query(
            "domain constraints",
            "SELECT c.oid, c.contypid, c.conname::text, pg_catalog.pg_get_constraintdef(c.oid), c.convalidated, \
             pg_catalog.obj_description(c.oid, 'pg_constraint') \
             FROM pg_catalog.pg_constraint c WHERE c.contypid = ANY($1) AND c.contype = 'c' \
             ORDER BY c.contypid, c.conname",
            &[&oids],
        )
        .await?;
    for row in rows {
        let t: u32 = row.get(1)?;
        if let Some((_, i)) = domains.iter().find(|e| e.0 == t) {
            let i = *i;
            if let Kind::Domain {
                constraints,
                constraint_comments,
                ..
            } = &mut r.objects[i].kind
            {
                let name: String = row.get(2)?;
                if let Some(c) = row.get::<Option<String>>(5)? {
                    constraint_comments.push((name.clone(), c));
                }
                constraints.push((name.clone(), row.get(3)?, row.get(4)?));
                r.parts.insert(
                    (class::CONSTRAINT, row.get(0)?),
                    (i, PartRef::DomainCheck(name)),
                );
            }
            r.alias((class::CONSTRAINT, row.get(0)?), i);
        }
    }
    Ok(())
}

/// Base types and shell types. Each base type gets a shell created first:
/// its I/O functions are declared over the shell, and the type itself comes
/// after them (the loop type ↔ function is broken as PostgreSQL needs).
pub(crate) async fn read_base_types(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if r.selector.relations_only() {
        return Ok(());
    }
    let subscript = if r.version >= 140000 {
        super::proc_or_null("t.typsubscript")
    } else {
        "NULL::text".to_string()
    };
    let proc_ = |col: &str| super::proc_or_null(&format!("t.{col}"));
    let sql = format!(
        "SELECT t.oid, n.nspname::text, t.typname::text, t.typtype::text, \
         pg_catalog.pg_get_userbyid(t.typowner)::text, pg_catalog.obj_description(t.oid, 'pg_type'), {acl}, \
         t.typarray, t.typlen::int4, t.typinput::regproc::text, t.typoutput::regproc::text, \
         {recv}, {send}, {modin}, {modout}, {analyze}, {subscript}, \
         t.typbyval, t.typalign::text, t.typstorage::text, t.typcategory::text, t.typispreferred, \
         t.typdefault, CASE WHEN t.typelem <> 0 THEN pg_catalog.format_type(t.typelem, NULL) END, \
         t.typdelim::text, t.typcollation <> 0, \
         ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin, t.typmodout, t.typanalyze{subscript_oid}]::oid[] \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE {USER_SCHEMA} AND {ext} AND (t.typtype = 'b' OR (t.typtype = 'p' AND t.oid >= 16384)) \
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid) \
         ORDER BY t.oid",
        acl = acl_sql("t.typacl"),
        recv = proc_("typreceive"),
        send = proc_("typsend"),
        modin = proc_("typmodin"),
        modout = proc_("typmodout"),
        analyze = proc_("typanalyze"),
        subscript_oid = if r.version >= 140000 {
            ", t.typsubscript"
        } else {
            ""
        },
        ext = not_ext_member(class::TYPE, "t.oid"),
    );
    for row in r.query("base types", &sql, &[]).await? {
        let schema: String = row.get(1)?;
        if !r.selector.schema(&schema) {
            continue;
        }
        let oid: u32 = row.get(0)?;
        let name: String = row.get(2)?;
        let owner: Option<String> = row.get(4)?;
        let mut shell = obj(Some(schema.clone()), name.clone(), Kind::ShellType);
        shell.owner = owner.clone();
        if row.get::<String>(3)? == "p" {
            shell.comment = row.get(5)?;
            r.add(Some((class::TYPE, oid)), shell);
            continue;
        }
        let shell = r.add(None, shell);
        let len: i32 = row.get(8)?;
        let mut options = vec![
            if len < 0 {
                "INTERNALLENGTH = variable".to_string()
            } else {
                format!("INTERNALLENGTH = {len}")
            },
            format!("INPUT = {}", row.get::<String>(9)?),
            format!("OUTPUT = {}", row.get::<String>(10)?),
        ];
        let named = [
            ("RECEIVE", 11),
            ("SEND", 12),
            ("TYPMOD_IN", 13),
            ("TYPMOD_OUT", 14),
            ("ANALYZE", 15),
            ("SUBSCRIPT", 16),
        ];
        for (label, idx) in named {
            if let Some(f) = row.get::<Option<String>>(idx)? {
                options.push(format!("{label} = {f}"));
            }
        }
        if row.get::<bool>(17)? {
            options.push("PASSEDBYVALUE".into());
        }
        let align = match row.get::<String>(18)?.as_str() {
            "c" => "char",
            "s" => "int2",
            "d" => "double",
            _ => "int4",
        };
        options.push(format!("ALIGNMENT = {align}"));
        let storage = match row.get::<String>(19)?.as_str() {
            "e" => "external",
            "x" => "extended",
            "m" => "main",
            _ => "plain",
        };
        options.push(format!("STORAGE = {storage}"));
        let category: String = row.get(20)?;
        if category != "U" {
            options.push(format!("CATEGORY = {}", crate::quote_literal(&category)));
        }
        if row.get::<bool>(21)? {
            options.push("PREFERRED = true".into());
        }
        if let Some(d) = row.get::<Option<String>>(22)? {
            options.push(format!("DEFAULT = {}", crate::quote_literal(&d)));
        }
        if let Some(e) = row.get::<Option<String>>(23)? {
            options.push(format!("ELEMENT = {e}"));
        }
        let delim: String = row.get(24)?;
        if delim != "," {
            options.push(format!("DELIMITER = {}", crate::quote_literal(&delim)));
        }
        if row.get::<bool>(25)? {
            options.push("COLLATABLE = true".into());
        }
        let mut o = obj(Some(schema), name, Kind::BaseType { options });
        o.owner = owner;
        o.comment = row.get(5)?;
        o.acl = parse_acl(row.get(6)?)?;
        let i = r.add(Some((class::TYPE, oid)), o);
        r.edges.push((i, shell));
        let array: u32 = row.get(7)?;
        if array != 0 {
            r.alias((class::TYPE, array), i);
        }
        // The I/O functions need the shell, not the type.
        let functions: Vec<u32> = row.get(26)?;
        for f in functions.into_iter().filter(|f| *f >= 16384) {
            for t in [oid, array] {
                r.ignore.insert(((class::PROC, f), (class::TYPE, t)));
            }
            r.key_edges.push(((class::PROC, f), shell));
        }
    }
    Ok(())
}

/// `quote_ident(schema).quote_ident(name)` of a qualified display pair.
pub(crate) fn qual(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}
