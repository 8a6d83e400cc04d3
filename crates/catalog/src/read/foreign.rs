//! Foreign data wrappers, foreign servers, user mappings and subscriptions.
use super::{acl_sql, class, not_ext_member, obj, options_sql, parse_acl, proc_or_null, Reader};
use crate::model::*;
use crate::CatalogError;

pub(crate) async fn read_foreign(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if r.selector.relations_only() || !r.selector.whole_database() {
        return Ok(());
    }
    let sql = format!(
        "SELECT w.oid, w.fdwname::text, pg_catalog.pg_get_userbyid(w.fdwowner)::text, \
         pg_catalog.obj_description(w.oid, 'pg_foreign_data_wrapper'), {acl}, \
         {handler}, {validator}, {opts} \
         FROM pg_catalog.pg_foreign_data_wrapper w WHERE {ext} ORDER BY w.fdwname",
        acl = acl_sql("w.fdwacl"),
        handler = proc_or_null("w.fdwhandler"),
        validator = proc_or_null("w.fdwvalidator"),
        opts = options_sql("w.fdwoptions"),
        ext = not_ext_member(class::FDW, "w.oid"),
    );
    for row in r.query("foreign data wrappers", &sql, &[]).await? {
        let mut o = obj(
            None,
            row.get(1)?,
            Kind::ForeignDataWrapper {
                handler: row.get(5)?,
                validator: row.get(6)?,
                options: row.get(7)?,
            },
        );
        o.owner = row.get(2)?;
        o.comment = row.get(3)?;
        o.acl = parse_acl(row.get(4)?)?;
        r.add(Some((class::FDW, row.get(0)?)), o);
    }
    let sql = format!(
        "SELECT s.oid, s.srvname::text, pg_catalog.pg_get_userbyid(s.srvowner)::text, \
         pg_catalog.obj_description(s.oid, 'pg_foreign_server'), {acl}, w.fdwname::text, \
         s.srvtype, s.srvversion, {opts} \
         FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
         WHERE {ext} ORDER BY s.srvname",
        acl = acl_sql("s.srvacl"),
        opts = options_sql("s.srvoptions"),
        ext = not_ext_member(class::FOREIGN_SERVER, "s.oid"),
    );
    for row in r.query("foreign servers", &sql, &[]).await? {
        let mut o = obj(
            None,
            row.get(1)?,
            Kind::ForeignServer {
                wrapper: row.get(5)?,
                server_type: row.get(6)?,
                version: row.get(7)?,
                options: row.get(8)?,
            },
        );
        o.owner = row.get(2)?;
        o.comment = row.get(3)?;
        o.acl = parse_acl(row.get(4)?)?;
        r.add(Some((class::FOREIGN_SERVER, row.get(0)?)), o);
    }
    read_user_mappings(r).await?;
    read_subscriptions(r).await
}

/// User mappings, through `pg_user_mappings` (which shows the options only
/// to roles allowed to see them). A `password` option is left out unless
/// the selector asks for secrets.
async fn read_user_mappings(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT u.umid, u.srvid, u.srvname::text, CASE WHEN u.umuser = 0 THEN NULL ELSE u.usename::text END, \
         {opts} \
         FROM pg_catalog.pg_user_mappings u ORDER BY u.srvname, u.usename",
        opts = options_sql("u.umoptions"),
    );
    let secrets = r.selector.user_mapping_passwords();
    for row in r.query("user mappings", &sql, &[]).await? {
        let server: String = row.get(2)?;
        let user: Option<String> = row.get(3)?;
        let mut options: Vec<String> = row.get(4)?;
        if !secrets {
            options.retain(|o| !o.starts_with("password "));
        }
        let name = format!("{} SERVER {server}", user.as_deref().unwrap_or("PUBLIC"));
        let o = obj(
            None,
            name,
            Kind::UserMapping {
                user,
                server,
                options,
            },
        );
        let i = r.add(Some((class::USER_MAPPING, row.get(0)?)), o);
        if let Some(s) = r.object_key((class::FOREIGN_SERVER, row.get(1)?)) {
            r.edges.push((i, s));
        }
    }
    Ok(())
}

/// This database's subscriptions. Their connection strings are readable only
/// by superusers (as with pg_dump, they are left out with a warning otherwise).
async fn read_subscriptions(r: &mut Reader<'_>) -> Result<(), CatalogError> {
    if !r.selector.subscriptions() {
        return Ok(());
    }
    let rows = r
        .query(
            "subscription privileges",
            "SELECT pg_catalog.has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT'), \
             pg_catalog.has_column_privilege('pg_catalog.pg_subscription', 'subname', 'SELECT') \
             AND pg_catalog.has_column_privilege('pg_catalog.pg_subscription', 'subdbid', 'SELECT')",
            &[],
        )
        .await?;
    let (conninfo, names) = match rows.first() {
        Some(row) => (row.get::<bool>(0)?, row.get::<bool>(1)?),
        None => (false, false),
    };
    if !conninfo {
        let names: Vec<String> = if names {
            r.query(
                "subscriptions",
                "SELECT s.subname::text FROM pg_catalog.pg_subscription s JOIN pg_catalog.pg_database d \
                 ON d.oid = s.subdbid WHERE d.datname = pg_catalog.current_database() ORDER BY 1",
                &[],
            )
            .await?
            .iter()
            .map(|x| x.get::<String>(0))
            .collect::<Result<_, _>>()?
        } else {
            vec!["(their names are not readable either)".into()]
        };
        if !names.is_empty() {
            tracing::warn!(subscriptions = %names.join(", "), "subscriptions not read: their connection strings need a superuser");
        }
        return Ok(());
    }
    let v = r.version;
    let col = |min: i32, expr: &str, default: &str| {
        if v >= min {
            expr.to_string()
        } else {
            default.to_string()
        }
    };
    let sql = format!(
        "SELECT s.oid, s.subname::text, pg_catalog.pg_get_userbyid(s.subowner)::text, \
         pg_catalog.obj_description(s.oid, 'pg_subscription'), s.subconninfo, \
         s.subpublications::text[], s.subslotname::text, {binary}, {stream}, {two_phase}, {disable}, \
         {password}, {run_as_owner}, {origin}, {failover}, s.subsynccommit \
         FROM pg_catalog.pg_subscription s JOIN pg_catalog.pg_database d ON d.oid = s.subdbid \
         WHERE d.datname = pg_catalog.current_database() ORDER BY s.subname",
        binary = col(140000, "s.subbinary", "false"),
        stream = col(
            160000,
            "s.substream::text",
            &col(
                140000,
                "CASE WHEN s.substream THEN 't' ELSE 'f' END",
                "'f'::text",
            )
        ),
        two_phase = col(150000, "s.subtwophasestate <> 'd'", "false"),
        disable = col(150000, "s.subdisableonerr", "false"),
        password = col(160000, "s.subpasswordrequired", "true"),
        run_as_owner = col(160000, "s.subrunasowner", "false"),
        origin = col(160000, "s.suborigin", "'any'::text"),
        failover = col(170000, "s.subfailover", "false"),
    );
    for row in r.query("subscriptions", &sql, &[]).await? {
        let mut options = vec![match row.get::<Option<String>>(6)? {
            Some(slot) => format!("slot_name = {}", crate::quote_literal(&slot)),
            None => "slot_name = NONE".into(),
        }];
        if row.get::<bool>(7)? {
            options.push("binary = true".into());
        }
        // Written even when off: the default differs between majors (18: parallel).
        if r.version >= 140000 {
            options.push(match row.get::<String>(8)?.as_str() {
                "t" => "streaming = on".into(),
                "p" => "streaming = parallel".into(),
                _ => "streaming = off".to_string(),
            });
        }
        if row.get::<bool>(9)? {
            options.push("two_phase = on".into());
        }
        if row.get::<bool>(10)? {
            options.push("disable_on_error = true".into());
        }
        if !row.get::<bool>(11)? {
            options.push("password_required = false".into());
        }
        if row.get::<bool>(12)? {
            options.push("run_as_owner = true".into());
        }
        let origin: String = row.get(13)?;
        if origin != "any" {
            options.push(format!("origin = {}", crate::quote_literal(&origin)));
        }
        if row.get::<bool>(14)? {
            options.push("failover = true".into());
        }
        let sync: String = row.get(15)?;
        if sync != "off" {
            options.push(format!(
                "synchronous_commit = {}",
                crate::quote_literal(&sync)
            ));
        }
        let mut o = obj(
            None,
            row.get(1)?,
            Kind::Subscription {
                conninfo: row.get(4)?,
                publications: row.get(5)?,
                options,
            },
        );
        o.owner = row.get(2)?;
        o.comment = row.get(3)?;
        r.add(Some((class::SUBSCRIPTION, row.get(0)?)), o);
    }
    Ok(())
}
