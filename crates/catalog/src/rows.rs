//! Catalog questions of an incremental sync: how each table's rows are
//! identified (its key) and hashed, which triggers would fire on its rows,
//! and what depends on relations about to be dropped.
use std::collections::HashMap;

use tokio_postgres::Client;

use crate::{CatalogError, QName};

/// How one table's rows can be matched between two databases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowShape {
    /// Key columns: the primary key, else the narrowest unique index over
    /// NOT NULL columns (not partial, no expressions, not deferrable).
    /// Empty: no such key (rows cannot be matched one by one).
    pub key: Vec<String>,
    /// Columns whose values a native hash would equate though their text
    /// differs (`numeric`: 1.0 and 1.00, and `NaN`, `Infinity` and NULL;
    /// float `0` and `-0`, a nondeterministic collation, `jsonb`, enums,
    /// …): they are hashed through their text output.
    pub hash_as_text: Vec<String>,
    /// Those of [`RowShape::hash_as_text`] whose type has a cast to `text`
    /// made by a function (a user's, which may drop parts of the value, or
    /// `bpchar`'s, which trims trailing spaces): their text comes from the
    /// type's output function instead (`format('%L', …)`, NULL apart).
    pub text_by_output: Vec<String>,
    /// Arrays of natively hashed elements: hashed natively, and their
    /// dimensions with them (`{1,2}` and `[0:1]={1,2}` hash alike).
    pub arrays: Vec<String>,
    /// A foreign key of some table references this one (or a partitioned
    /// table it is a partition of).
    pub referenced: bool,
    /// Triggers that fire for ordinary sessions (`ENABLE`, `ENABLE
    /// ALWAYS`), not internal ones: disabled while a sync writes rows (the
    /// full path creates them after the data, so they never fire either).
    pub origin_triggers: Vec<String>,
    /// Rules on the table's writes, likewise disabled meanwhile (a `DO
    /// INSTEAD NOTHING` rule would turn a delete into nothing).
    pub rules: Vec<String>,
    /// Those of the triggers and rules above that are `ENABLE ALWAYS`.
    pub always: Vec<String>,
}

/// Built-in types whose extended hash follows their exact value: `bool`,
/// `bytea`, `"char"`, `name`, `int8`, `int2`, `int4`, `text`, `oid`,
/// `bpchar`, `varchar`, `date`, `time`, `timestamp`, `timestamptz`, `uuid`.
const NATIVE_HASH_TYPES: &str = "{16,17,18,19,20,21,23,25,26,1042,1043,1082,1083,1114,1184,2950}";

/// [`RowShape`] of every ordinary and partitioned user table.
pub async fn row_shapes(client: &Client) -> Result<HashMap<QName, RowShape>, CatalogError> {
    // Per column: `n` hashed natively, `a` an array hashed natively with
    // its dimensions, `t` through its text. Numeric is never native, not
    // even with a fixed scale: its hash gives `NaN`, `Infinity` and
    // `-Infinity` the seed, as a NULL gets; a nondeterministic collation
    // never hashes natively.
    let sql = format!(
        "WITH hashing AS ( \
           SELECT a.attrelid, a.attnum, a.attname::text AS attname, CASE \
             WHEN NOT COALESCE(co.collisdeterministic, true) THEN 't' \
             WHEN t.typtype = 'd' AND (SELECT b.typtype FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype) = 'd' THEN 't' \
             WHEN (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END) = 1042 \
                  AND (CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) < 0 THEN 't' \
             WHEN (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END) = ANY ('{NATIVE_HASH_TYPES}'::oid[]) THEN 'n' \
             WHEN t.typtype = 'b' AND t.typcategory = 'A' AND t.typelem <> 1042 \
                  AND t.typelem = ANY ('{NATIVE_HASH_TYPES}'::oid[]) THEN 'a' \
             ELSE 't' END AS class, \
           EXISTS (SELECT FROM pg_catalog.pg_cast k WHERE k.casttarget = 'pg_catalog.text'::pg_catalog.regtype \
             AND k.castmethod = 'f' AND k.castsource IN (t.oid, t.typbasetype)) AS by_output \
           FROM pg_catalog.pg_attribute a \
           JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
           LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation \
           WHERE a.attnum > 0 AND NOT a.attisdropped) \
         SELECT n.nspname::text, c.relname::text, \
           COALESCE((SELECT array_agg(a.attname::text ORDER BY k.ord) \
              FROM pg_catalog.unnest((key.indkey::int2[])[0:key.indnkeyatts - 1]) WITH ORDINALITY k(attnum, ord) \
              JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum), '{{}}'), \
           COALESCE((SELECT array_agg(h.attname ORDER BY h.attnum) FROM hashing h \
              WHERE h.attrelid = c.oid AND h.class = 't'), '{{}}'), \
           COALESCE((SELECT array_agg(h.attname ORDER BY h.attnum) FROM hashing h \
              WHERE h.attrelid = c.oid AND h.class = 'a'), '{{}}'), \
           COALESCE((SELECT array_agg(h.attname ORDER BY h.attnum) FROM hashing h \
              WHERE h.attrelid = c.oid AND h.class = 't' AND h.by_output), '{{}}'), \
           EXISTS (SELECT FROM pg_catalog.pg_constraint f WHERE f.contype = 'f' \
              AND (f.confrelid = c.oid OR f.confrelid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors(c.oid)))), \
           COALESCE((SELECT array_agg(tg.tgname::text ORDER BY tg.tgname) FROM pg_catalog.pg_trigger tg \
              WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal AND tg.tgenabled IN ('O', 'A')), '{{}}'), \
           COALESCE((SELECT array_agg(ru.rulename::text ORDER BY ru.rulename) FROM pg_catalog.pg_rewrite ru \
              WHERE ru.ev_class = c.oid AND ru.rulename <> '_RETURN' AND ru.ev_enabled IN ('O', 'A')), '{{}}'), \
           ARRAY(SELECT tg.tgname::text FROM pg_catalog.pg_trigger tg \
              WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal AND tg.tgenabled = 'A' \
              UNION ALL SELECT ru.rulename::text FROM pg_catalog.pg_rewrite ru \
              WHERE ru.ev_class = c.oid AND ru.rulename <> '_RETURN' AND ru.ev_enabled = 'A') \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN LATERAL ( \
           SELECT i.indkey, i.indnkeyatts FROM pg_catalog.pg_index i \
           LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid \
           WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indimmediate \
             AND i.indpred IS NULL AND i.indexprs IS NULL \
             AND NOT COALESCE(con.condeferrable, false) \
             AND NOT EXISTS (SELECT FROM pg_catalog.unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) k(attnum) \
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
                 WHERE NOT a.attnotnull) \
           ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid LIMIT 1) key ON true \
         WHERE c.relkind IN ('r', 'p') \
           AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|source| CatalogError::Query {
            what: "the tables' keys and column types".into(),
            source,
        })?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                QName {
                    schema: r.get(0),
                    name: r.get(1),
                },
                RowShape {
                    key: r.get(2),
                    hash_as_text: r.get(3),
                    arrays: r.get(4),
                    text_by_output: r.get(5),
                    referenced: r.get(6),
                    origin_triggers: r.get(7),
                    rules: r.get(8),
                    always: r.get(9),
                },
            )
        })
        .collect())
}

/// An object that depends, directly or not, on one of the relations asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    /// The relation it is part of or is (a view for its query, a table for
    /// its constraint, trigger, index, default, policy, rule, statistics
    /// object or row type); `None` for anything else (a function, a
    /// domain's constraint, a publication membership, …).
    pub relation: Option<QName>,
    /// `pg_class.relkind` of that relation (`r`, `p`, `v`, `m`, `S`, `f`, …).
    pub relkind: Option<String>,
    /// What it is, for messages: `pg_describe_object`.
    pub description: String,
}

/// Everything that depends on `relations` (recursively, through `pg_depend`),
/// excluding the relations themselves.
pub async fn dependents_of(
    client: &Client,
    relations: &[QName],
) -> Result<Vec<Dependent>, CatalogError> {
    if relations.is_empty() {
        return Ok(Vec::new());
    }
    // A foreign key's own (internal) triggers sit on the referenced table:
    // they belong to the constraint, not to that table, and are left out.
    let schemas: Vec<&str> = relations.iter().map(|q| q.schema.as_str()).collect();
    let names: Vec<&str> = relations.iter().map(|q| q.name.as_str()).collect();
    let rows = client
        .query(
            "WITH RECURSIVE start AS ( \
               SELECT c.oid FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               JOIN unnest($1::text[], $2::text[]) s(nsp, rel) ON s.nsp = n.nspname AND s.rel = c.relname), \
             dep(classid, objid) AS ( \
               SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, oid FROM start \
               UNION \
               SELECT d.classid, d.objid FROM pg_catalog.pg_depend d \
               JOIN dep p ON d.refclassid = p.classid AND d.refobjid = p.objid \
               WHERE d.deptype IN ('n', 'a', 'i')), \
             owner AS ( \
               SELECT d.classid, d.objid, CASE d.classid \
                 WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN \
                   COALESCE((SELECT ix.indrelid FROM pg_catalog.pg_index ix WHERE ix.indexrelid = d.objid), d.objid) \
                 WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN \
                   (SELECT NULLIF(conrelid, 0) FROM pg_catalog.pg_constraint WHERE oid = d.objid) \
                 WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN \
                   (SELECT tgrelid FROM pg_catalog.pg_trigger WHERE oid = d.objid) \
                 WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN \
                   (SELECT ev_class FROM pg_catalog.pg_rewrite WHERE oid = d.objid) \
                 WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN \
                   (SELECT polrelid FROM pg_catalog.pg_policy WHERE oid = d.objid) \
                 WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN \
                   (SELECT adrelid FROM pg_catalog.pg_attrdef WHERE oid = d.objid) \
                 WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN \
                   (SELECT stxrelid FROM pg_catalog.pg_statistic_ext WHERE oid = d.objid) \
                 WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN \
                   (SELECT NULLIF(COALESCE(NULLIF(t.typrelid, 0), e.typrelid), 0) \
                    FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem \
                    WHERE t.oid = d.objid) \
               END AS rel \
               FROM dep d \
               WHERE NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid IN (SELECT oid FROM start)) \
                 AND NOT (d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass \
                          AND (SELECT tgisinternal FROM pg_catalog.pg_trigger WHERE oid = d.objid))) \
             SELECT n.nspname::text, c.relname::text, c.relkind::text, \
                    pg_catalog.pg_describe_object(o.classid, o.objid, 0) \
             FROM owner o \
             LEFT JOIN pg_catalog.pg_class c ON c.oid = o.rel \
             LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
            &[&schemas, &names],
        )
        .await
        .map_err(|source| CatalogError::Query {
            what: "what depends on the relations to rebuild".into(),
            source,
        })?;
    Ok(rows
        .iter()
        .map(|r| {
            let schema: Option<String> = r.get(0);
            let name: Option<String> = r.get(1);

            Dependent {
                relation: schema
                    .zip(name)
                    .map(|(schema, name)| QName { schema, name }),
                relkind: r.get(2),
                description: r.get(3),
            }
        })
        .collect())
}

/// Per user table: rows inserted, updated and deleted since the server's
/// statistics were last reset (`pg_stat_user_tables`).
/// Counters, not data: kept in step with the table only loosely (they lag,
/// they count aborted writes, a reset zeroes them).
pub async fn change_counters(client: &Client) -> Result<HashMap<QName, i64>, CatalogError> {
    let rows = client
        .query(
            "SELECT schemaname::text, relname::text, n_tup_ins + n_tup_upd + n_tup_del \
             FROM pg_catalog.pg_stat_user_tables",
            &[],
        )
        .await
        .map_err(|source| CatalogError::Query {
            what: "the tables' change counters".into(),
            source,
        })?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                QName {
                    schema: r.get(0),
                    name: r.get(1),
                },
                r.get(2),
            )
        })
        .collect())
}
