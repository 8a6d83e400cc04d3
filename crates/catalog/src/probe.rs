//! Small catalog questions the engine asks outside the model: the server's
//! version, which user relations, schemas and extensions exist, inheritance
//! links, table sizes, a table's shape, and which server and database a
//! connection reaches.
use std::collections::HashMap;

use tokio_postgres::Client;

use crate::{CatalogError, QName};

/// Schemas that never hold user objects (`pgferry` holds the sync history).
const NOT_USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') \
     AND n.nspname !~ '^pg_(toast|temp_)'";

fn failed(what: &str) -> impl Fn(tokio_postgres::Error) -> CatalogError + '_ {
    move |source| CatalogError::Query {
        what: what.to_string(),
        source,
    }
}

/// `server_version_num` and `server_version` of the connected server.
pub async fn server_version(client: &Client) -> Result<(i32, String), CatalogError> {
    let row = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4, \
             pg_catalog.current_setting('server_version')",
            &[],
        )
        .await
        .map_err(failed("the server version"))?;
    Ok((row.get(0), row.get(1)))
}

/// The PostgreSQL major of a `server_version_num` (150004 → 15).
pub fn major(version_num: i32) -> i32 {
    version_num / 10000
}

/// User tables (plain and partitioned), `(schema, name)` in name order.
pub async fn user_tables(client: &Client) -> Result<Vec<(String, String)>, CatalogError> {
    let rows = client
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND {NOT_USER_SCHEMA} ORDER BY 1, 2"
            ),
            &[],
        )
        .await
        .map_err(failed("the tables"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Tables (plain and partitioned) that are not partitions, in every schema,
/// `(schema, name)` in name order.
pub async fn root_tables(client: &Client) -> Result<Vec<(String, String)>, CatalogError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(failed("the tables"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// User schemas, and the relations a pattern can name in them (tables,
/// views, materialized views, sequences, foreign tables).
pub async fn user_schemas_and_relations(
    client: &Client,
) -> Result<(Vec<String>, Vec<(String, String)>), CatalogError> {
    let rows = client
        .query(
            &format!(
                "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_namespace n \
                 LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','S','f') \
                 WHERE {NOT_USER_SCHEMA} ORDER BY 1, 2"
            ),
            &[],
        )
        .await
        .map_err(failed("the schemas and relations"))?;
    let mut schemas: Vec<String> = Vec::new();
    let mut relations = Vec::new();
    for r in rows {
        let s: String = r.get(0);
        if let Some(t) = r.get::<_, Option<String>>(1) {
            relations.push((s.clone(), t));
        }
        schemas.push(s);
    }
    schemas.dedup();
    Ok((schemas, relations))
}

/// User schemas, in name order (not pgferry's own, nor its holding schemas).
pub async fn user_schemas(client: &Client) -> Result<Vec<String>, CatalogError> {
    let rows = client
        .query(
            &format!(
                "SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE {NOT_USER_SCHEMA} \
                 AND n.nspname !~ '^pgferry_hold_' ORDER BY 1"
            ),
            &[],
        )
        .await
        .map_err(failed("the schemas"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Size in 8 kB pages of every plain table, by `(schema, name)`.
pub async fn table_pages(client: &Client) -> Result<HashMap<(String, String), i64>, CatalogError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, \
             pg_catalog.pg_relation_size(c.oid) / pg_catalog.current_setting('block_size')::int8 \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r'",
            &[],
        )
        .await
        .map_err(failed("the table sizes"))?;
    Ok(rows
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect())
}

/// Columns, defaults, constraints and indexes of a table, as one line: equal
/// lines mean the table's definition did not change.
pub async fn table_shape(
    client: &Client,
    schema: &str,
    name: &str,
) -> Result<String, CatalogError> {
    let row = client
        .query_one(
            "SELECT (SELECT string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) || ' ' || \
                     COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum) \
                     FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) || ' | ' || \
                    (SELECT count(*) FROM pg_catalog.pg_constraint WHERE conrelid = c.oid) || ' constraints | ' || \
                    (SELECT count(*) FROM pg_catalog.pg_index WHERE indrelid = c.oid) || ' indexes' \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .await
        .map_err(|source| CatalogError::Query {
            what: format!("the shape of table {schema}.{name}"),
            source,
        })?;
    Ok(row.get::<_, Option<String>>(0).unwrap_or_default())
}

/// Every installed extension's name (`plpgsql` too: pg_dump's `-e` matches
/// it, though it is never dumped).
pub async fn extension_names(client: &Client) -> Result<Vec<String>, CatalogError> {
    let rows = client
        .query(
            "SELECT e.extname::text FROM pg_catalog.pg_extension e ORDER BY 1",
            &[],
        )
        .await
        .map_err(failed("the extensions"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Every inheritance and partition link between tables, `(parent, child)`
/// (pg_inherits; a partitioned index's links are left out).
pub async fn inheritance(client: &Client) -> Result<Vec<(QName, QName)>, CatalogError> {
    let rows = client
        .query(
            "SELECT pn.nspname::text, p.relname::text, cn.nspname::text, c.relname::text \
             FROM pg_catalog.pg_inherits i \
             JOIN pg_catalog.pg_class p ON p.oid = i.inhparent \
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace \
             JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid \
             JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'f') ORDER BY 1, 2, 3, 4",
            &[],
        )
        .await
        .map_err(failed("the inheritance links"))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                QName {
                    schema: r.get(0),
                    name: r.get(1),
                },
                QName {
                    schema: r.get(2),
                    name: r.get(3),
                },
            )
        })
        .collect())
}

/// Server start time, port and database: equal on two connections means
/// they reach one database.
pub async fn database_identity(client: &Client) -> Result<String, CatalogError> {
    client
        .query_one(
            "SELECT pg_catalog.pg_postmaster_start_time()::text || '/' || \
             pg_catalog.current_setting('port') || '/' || pg_catalog.current_database()",
            &[],
        )
        .await
        .map(|r| r.get::<_, String>(0))
        .map_err(failed("the server's identity"))
}
