//! Functions, procedures, aggregates, operators and text search objects.
use super::types::qual;
use super::{acl_sql, class, not_ext_member, obj, parse_acl, Reader, USER_SCHEMA};
use crate::model::*;
use crate::CatalogError;

pub(crate) async fn read_routines(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if r.selector.relations_only() {
        return Ok(());
    }
    let sql = format!(
        "SELECT p.oid, n.nspname::text, p.proname::text, p.prokind::text, \
         pg_catalog.pg_get_userbyid(p.proowner)::text, pg_catalog.obj_description(p.oid, 'pg_proc'), {acl}, \
         CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END, \
         pg_catalog.pg_get_function_identity_arguments(p.oid), pg_catalog.pg_get_function_arguments(p.oid) \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY p.oid",
        acl = acl_sql("p.proacl"),
        ext = not_ext_member(class::PROC, "p.oid"),
    );
    let mut aggregates = Vec::new();
    for row in r.query("functions", &sql, &[]).await? {
        let schema: String = row.get(1)?;
        if !r.selector.schema(&schema) {
            continue;
        }
        let prokind: String = row.get(3)?;
        let identity_args: String = row.get(8)?;
        let kind = if prokind == "a" {
            Kind::Aggregate(AggregateDef {
                args: row.get(9)?,
                identity_args,
                options: vec![],
            })
        } else {
            Kind::Function {
                def: row.get::<String>(7)?.trim_end().to_string(),
                identity_args,
                procedure: prokind == "p",
            }
        };
        let mut o = obj(Some(schema), row.get(2)?, kind);
        o.owner = row.get(4)?;
        o.comment = row.get(5)?;
        o.acl = parse_acl(row.get(6)?)?;
        let oid: u32 = row.get(0)?;
        let i = r.add(Some((class::PROC, oid)), o);
        if prokind == "a" {
            aggregates.push((oid, i));
        }
    }
    if !aggregates.is_empty() {
        read_aggregates(r, &aggregates).await?;
    }
    read_operators(r).await
}

async fn read_aggregates(r: &mut Reader<'_>, aggs: &[(u32, usize)]) -> Result<(), CatalogError> {
    let oids: Vec<u32> = aggs.iter().map(|a| a.0).collect();
    let proc_ = |col: &str| format!("CASE WHEN a.{col} <> 0 THEN a.{col}::regproc::text END");
    let sql = format!(
        "SELECT a.aggfnoid::oid, {sfunc}, pg_catalog.format_type(a.aggtranstype, NULL), {ffunc}, a.aggfinalextra, \
         {combine}, {serial}, {deserial}, a.agginitval, {msfunc}, \
         CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END, \
         {minv}, {mffunc}, a.aggmfinalextra, a.aggminitval, \
         CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoper::text END, a.aggkind::text, \
         a.aggtransspace, p.proparallel::text, a.aggfinalmodify::text, a.aggmfinalmodify::text, a.aggmtransspace \
         FROM pg_catalog.pg_aggregate a JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid \
         WHERE a.aggfnoid = ANY($1)",
        sfunc = proc_("aggtransfn"),
        ffunc = proc_("aggfinalfn"),
        combine = proc_("aggcombinefn"),
        serial = proc_("aggserialfn"),
        deserial = proc_("aggdeserialfn"),
        msfunc = proc_("aggmtransfn"),
        minv = proc_("aggminvtransfn"),
        mffunc = proc_("aggmfinalfn"),
    );
    for row in r.query("aggregates", &sql, &[&oids]).await? {
        let oid: u32 = row.get(0)?;
        let mut opts = vec![
            format!("SFUNC = {}", row.get::<String>(1)?),
            format!("STYPE = {}", row.get::<String>(2)?),
        ];
        let text_opt = |label: &str, v: Option<String>, opts: &mut Vec<String>| {
            if let Some(v) = v {
                opts.push(format!("{label} = {v}"));
            }
        };
        let lit_opt = |label: &str, v: Option<String>, opts: &mut Vec<String>| {
            if let Some(v) = v {
                opts.push(format!("{label} = {}", crate::quote_literal(&v)));
            }
        };
        let transspace: i32 = row.get(17)?;
        if transspace != 0 {
            opts.push(format!("SSPACE = {transspace}"));
        }
        text_opt("FINALFUNC", row.get(3)?, &mut opts);
        if row.get::<bool>(4)? {
            opts.push("FINALFUNC_EXTRA".into());
        }
        let modify = |m: String| match m.as_str() {
            "s" => "SHAREABLE",
            "w" => "READ_WRITE",
            _ => "READ_ONLY",
        };
        let kind: String = row.get(16)?;
        let fmod: String = row.get(19)?;
        let default_mod = if kind == "n" { "r" } else { "w" };
        if row.get::<Option<String>>(3)?.is_some() && fmod != default_mod {
            opts.push(format!("FINALFUNC_MODIFY = {}", modify(fmod)));
        }
        text_opt("COMBINEFUNC", row.get(5)?, &mut opts);
        text_opt("SERIALFUNC", row.get(6)?, &mut opts);
        text_opt("DESERIALFUNC", row.get(7)?, &mut opts);
        lit_opt("INITCOND", row.get(8)?, &mut opts);
        text_opt("MSFUNC", row.get(9)?, &mut opts);
        text_opt("MSTYPE", row.get(10)?, &mut opts);
        let mspace: i32 = row.get(21)?;
        if mspace != 0 {
            opts.push(format!("MSSPACE = {mspace}"));
        }
        text_opt("MINVFUNC", row.get(11)?, &mut opts);
        text_opt("MFINALFUNC", row.get(12)?, &mut opts);
        if row.get::<bool>(13)? {
            opts.push("MFINALFUNC_EXTRA".into());
        }
        let mfmod: String = row.get(20)?;
        if row.get::<Option<String>>(12)?.is_some() && mfmod != default_mod {
            opts.push(format!("MFINALFUNC_MODIFY = {}", modify(mfmod)));
        }
        lit_opt("MINITCOND", row.get(14)?, &mut opts);
        if let Some(op) = row.get::<Option<String>>(15)? {
            opts.push(format!("SORTOP = OPERATOR({op})"));
        }
        if kind == "h" {
            opts.push("HYPOTHETICAL".into());
        }
        match row.get::<String>(18)?.as_str() {
            "s" => opts.push("PARALLEL = SAFE".into()),
            "r" => opts.push("PARALLEL = RESTRICTED".into()),
            _ => {}
        }
        if let Some((_, i)) = aggs.iter().find(|a| a.0 == oid) {
            if let Kind::Aggregate(def) = &mut r.objects[*i].kind {
                def.options = opts;
            }
        }
    }
    Ok(())
}

async fn read_operators(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT o.oid, n.nspname::text, o.oprname::text, pg_catalog.pg_get_userbyid(o.oprowner)::text, \
         pg_catalog.obj_description(o.oid, 'pg_operator'), \
         CASE WHEN o.oprleft <> 0 THEN pg_catalog.format_type(o.oprleft, NULL) END, \
         CASE WHEN o.oprright <> 0 THEN pg_catalog.format_type(o.oprright, NULL) END, \
         o.oprcode::regproc::text, \
         CASE WHEN o.oprcom <> 0 THEN o.oprcom::regoper::text END, \
         CASE WHEN o.oprnegate <> 0 THEN o.oprnegate::regoper::text END, \
         CASE WHEN o.oprrest <> 0 THEN o.oprrest::regproc::text END, \
         CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::regproc::text END, o.oprcanhash, o.oprcanmerge \
         FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace \
         WHERE {USER_SCHEMA} AND {ext} AND o.oprcode <> 0 ORDER BY o.oid",
        ext = not_ext_member(class::OPERATOR, "o.oid"),
    );
    for row in r.query("operators", &sql, &[]).await? {
        let mut options = vec![format!("FUNCTION = {}", row.get::<String>(7)?)];
        for (label, idx) in [("COMMUTATOR", 8), ("NEGATOR", 9)] {
            if let Some(v) = row.get::<Option<String>>(idx)? {
                options.push(format!("{label} = OPERATOR({v})"));
            }
        }
        for (label, idx) in [("RESTRICT", 10), ("JOIN", 11)] {
            if let Some(v) = row.get::<Option<String>>(idx)? {
                options.push(format!("{label} = {v}"));
            }
        }
        if row.get::<bool>(12)? {
            options.push("HASHES".into());
        }
        if row.get::<bool>(13)? {
            options.push("MERGES".into());
        }
        let kind = Kind::Operator {
            left: row.get(5)?,
            right: row.get(6)?,
            options,
        };
        r.add_in_schema(class::OPERATOR, &row, kind)?;
    }
    Ok(())
}

pub(crate) async fn read_text_search(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if r.selector.relations_only() {
        return Ok(());
    }
    read_ts_parsers_and_templates(r).await?;
    let sql = format!(
        "SELECT d.oid, n.nspname::text, d.dictname::text, pg_catalog.pg_get_userbyid(d.dictowner)::text, \
         pg_catalog.obj_description(d.oid, 'pg_ts_dict'), tn.nspname::text, t.tmplname::text, d.dictinitoption \
         FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace \
         JOIN pg_catalog.pg_ts_template t ON t.oid = d.dicttemplate \
         JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY d.oid",
        ext = not_ext_member(class::TS_DICT, "d.oid"),
    );
    for row in r.query("text search dictionaries", &sql, &[]).await? {
        let kind = Kind::TsDictionary {
            template: qual(&row.get::<String>(5)?, &row.get::<String>(6)?),
            options: row.get(7)?,
        };
        r.add_in_schema(class::TS_DICT, &row, kind)?;
    }
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.cfgname::text, pg_catalog.pg_get_userbyid(c.cfgowner)::text, \
         pg_catalog.obj_description(c.oid, 'pg_ts_config'), pn.nspname::text, p.prsname::text \
         FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace \
         JOIN pg_catalog.pg_ts_parser p ON p.oid = c.cfgparser \
         JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY c.oid",
        ext = not_ext_member(class::TS_CONFIG, "c.oid"),
    );
    let mut configs = Vec::new();
    for row in r.query("text search configurations", &sql, &[]).await? {
        let kind = Kind::TsConfiguration {
            parser: qual(&row.get::<String>(5)?, &row.get::<String>(6)?),
            mappings: vec![],
        };
        if let Some(i) = r.add_in_schema(class::TS_CONFIG, &row, kind)? {
            configs.push((row.get::<u32>(0)?, i));
        }
    }
    let oids: Vec<u32> = configs.iter().map(|c| c.0).collect();
    let rows = r
        .query(
            "text search mappings",
            "SELECT m.mapcfg, t.alias::text, \
             pg_catalog.string_agg(m.mapdict::regdictionary::text, ', ' ORDER BY m.mapseqno) \
             FROM pg_catalog.pg_ts_config_map m JOIN pg_catalog.pg_ts_config c ON c.oid = m.mapcfg, \
             LATERAL pg_catalog.ts_token_type(c.cfgparser) t \
             WHERE t.tokid = m.maptokentype AND m.mapcfg = ANY($1) \
             GROUP BY m.mapcfg, t.alias, m.maptokentype ORDER BY m.mapcfg, m.maptokentype",
            &[&oids],
        )
        .await?;
    for row in rows {
        let cfg: u32 = row.get(0)?;
        if let Some((_, i)) = configs.iter().find(|c| c.0 == cfg) {
            if let Kind::TsConfiguration { mappings, .. } = &mut r.objects[*i].kind {
                mappings.push((row.get(1)?, row.get(2)?));
            }
        }
    }
    Ok(())
}

/// Text search parsers and templates (their functions are C functions, so
/// they mostly come from extensions; those are left to the extension).
async fn read_ts_parsers_and_templates(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let f = super::proc_or_null;
    let sql = format!(
        "SELECT p.oid, n.nspname::text, p.prsname::text, pg_catalog.obj_description(p.oid, 'pg_ts_parser'), \
         {}, {}, {}, {}, {} \
         FROM pg_catalog.pg_ts_parser p JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY p.oid",
        f("p.prsstart"),
        f("p.prstoken"),
        f("p.prsend"),
        f("p.prslextype"),
        f("p.prsheadline"),
        ext = not_ext_member(class::TS_PARSER, "p.oid"),
    );
    for row in r.query("text search parsers", &sql, &[]).await? {
        let schema: String = row.get(1)?;
        if !r.selector.schema(&schema) {
            continue;
        }
        let mut options = Vec::new();
        for (label, idx) in [
            ("START", 4),
            ("GETTOKEN", 5),
            ("END", 6),
            ("LEXTYPES", 7),
            ("HEADLINE", 8),
        ] {
            if let Some(v) = row.get::<Option<String>>(idx)? {
                options.push(format!("{label} = {v}"));
            }
        }
        let mut o = obj(Some(schema), row.get(2)?, Kind::TsParser { options });
        o.comment = row.get(3)?;
        r.add(Some((class::TS_PARSER, row.get(0)?)), o);
    }
    let sql = format!(
        "SELECT t.oid, n.nspname::text, t.tmplname::text, pg_catalog.obj_description(t.oid, 'pg_ts_template'), \
         {}, {} \
         FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace \
         WHERE {USER_SCHEMA} AND {ext} ORDER BY t.oid",
        f("t.tmplinit"),
        f("t.tmpllexize"),
        ext = not_ext_member(class::TS_TEMPLATE, "t.oid"),
    );
    for row in r.query("text search templates", &sql, &[]).await? {
        let schema: String = row.get(1)?;
        if !r.selector.schema(&schema) {
            continue;
        }
        let mut options = Vec::new();
        for (label, idx) in [("INIT", 4), ("LEXIZE", 5)] {
            if let Some(v) = row.get::<Option<String>>(idx)? {
                options.push(format!("{label} = {v}"));
            }
        }
        let mut o = obj(Some(schema), row.get(2)?, Kind::TsTemplate { options });
        o.comment = row.get(3)?;
        r.add(Some((class::TS_TEMPLATE, row.get(0)?)), o);
    }
    Ok(())
}
