//! Objects the target owns outside what a run replaces, that depend on what
//! it replaces: a view in a reporting schema over a synced table, a foreign
//! key from a kept table, a trigger calling a synced function, a policy, a
//! default, an index. `DROP SCHEMA … CASCADE` would take them along
//! silently; pgferry carries them over instead.
//!
//! Which objects the drop would take is asked of PostgreSQL itself, so its
//! own cascade rules decide, never a re-implementation of them: inside the
//! run's transaction, under a savepoint, the destructive statements run, the
//! objects outside the replaced schemas that vanished are noted, and the
//! savepoint is rolled back. Each vanished object's definition is then read
//! (deparsed with an empty `search_path`, so every name is qualified) and,
//! after the new objects exist, created again in the same transaction.
//!
//! Objects that cannot be carried over without losing data — a table or a
//! column whose type the run replaces, a sequence owned by a replaced table
//! — and objects that reference a column or relation the new definitions
//! no longer have stop the run before anything changes, naming the object
//! and what it needs.
use std::collections::{BTreeMap, HashMap, HashSet};

use pgferry_catalog::{quote_ident, Kind, Object};
use tokio_postgres::Client;

use crate::error::Error;
use crate::target::rights::Rights;

mod definitions;

use definitions::Reader;

/// Target objects outside the replaced schemas, keyed `class:oid[:column]`.
const OUTSIDE: &str = "\
WITH outside AS ( \
  SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
  WHERE (n.nspname <> ALL($1::text[]) OR c.oid = ANY($2::oid[])) \
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname !~ '^pg_(toast|temp_)' \
    AND c.oid <> ALL($3::oid[]) \
    AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass \
      AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ANY($3::oid[]) \
      AND d.deptype IN ('a', 'i')) \
), schemas AS ( \
  SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname <> ALL($1::text[]) \
    AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname !~ '^pg_(toast|temp_)' \
) \
SELECT 'class:' || oid FROM outside \
UNION ALL SELECT 'column:' || a.attrelid || ':' || a.attnum FROM pg_catalog.pg_attribute a \
  WHERE a.attrelid IN (SELECT oid FROM outside) AND a.attnum > 0 AND NOT a.attisdropped \
UNION ALL SELECT 'constraint:' || o.oid FROM pg_catalog.pg_constraint o \
  WHERE o.conrelid IN (SELECT oid FROM outside) OR o.contypid IN \
    (SELECT t.oid FROM pg_catalog.pg_type t WHERE t.typnamespace IN (SELECT oid FROM schemas)) \
UNION ALL SELECT 'trigger:' || t.oid FROM pg_catalog.pg_trigger t \
  WHERE t.tgrelid IN (SELECT oid FROM outside) AND NOT t.tgisinternal \
UNION ALL SELECT 'policy:' || p.oid FROM pg_catalog.pg_policy p WHERE p.polrelid IN (SELECT oid FROM outside) \
UNION ALL SELECT 'rule:' || r.oid FROM pg_catalog.pg_rewrite r \
  WHERE r.ev_class IN (SELECT oid FROM outside) AND r.rulename <> '_RETURN' \
UNION ALL SELECT 'default:' || d.oid FROM pg_catalog.pg_attrdef d WHERE d.adrelid IN (SELECT oid FROM outside) \
UNION ALL SELECT 'function:' || p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace IN (SELECT oid FROM schemas) \
UNION ALL SELECT 'type:' || t.oid FROM pg_catalog.pg_type t \
  WHERE t.typnamespace IN (SELECT oid FROM schemas) AND t.typrelid = 0 AND t.typtype IN ('b', 'd', 'e', 'r', 'm') \
    AND NOT EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.typarray = t.oid) \
UNION ALL SELECT 'statistics:' || s.oid FROM pg_catalog.pg_statistic_ext s WHERE s.stxrelid IN (SELECT oid FROM outside) \
UNION ALL SELECT 'publication:' || r.oid FROM pg_catalog.pg_publication_rel r \
UNION ALL SELECT 'operator:' || o.oid FROM pg_catalog.pg_operator o WHERE o.oprnamespace IN (SELECT oid FROM schemas) \
UNION ALL SELECT 'event trigger:' || e.oid FROM pg_catalog.pg_event_trigger e";

/// Objects recreated after a run, in the order they are created.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    /// (description, statements).
    items: Vec<(String, Vec<String>)>,
}

impl Carried {
    /// What is carried, as `pg_describe_object` names them.
    pub(crate) fn names(&self) -> Vec<String> {
        self.items.iter().map(|(n, _)| n.clone()).collect()
    }

    /// Creates every object again, each under a savepoint. One that fails
    /// (it needs another carried object not created yet: a function
    /// returning a view's rows, a view over such a function) is tried again
    /// after the others, until a round makes no progress; then the first
    /// failure names the object and the server's message (and the
    /// transaction rolls back whole).
    pub(crate) async fn recreate(&self, client: &Client) -> Result<(), Error> {
        let mut pending: Vec<&(String, Vec<String>)> = self.items.iter().collect();
        while !pending.is_empty() {
            let mut failed = Vec::new();
            let mut first_error = None;
            for item in pending.iter().copied() {
                let (name, stmts) = item;
                let attempt = async {
                    client.batch_execute("SAVEPOINT pgferry_recreate").await?;
                    for s in stmts {
                        client.batch_execute(s).await?;
                    }
                    client
                        .batch_execute("RELEASE SAVEPOINT pgferry_recreate")
                        .await
                };
                match attempt.await {
                    Ok(()) => tracing::info!(
                        object = %name,
                        "target-owned object over replaced objects recreated"
                    ),
                    Err(e) => {
                        client
                            .batch_execute(
                                "ROLLBACK TO SAVEPOINT pgferry_recreate; RELEASE SAVEPOINT pgferry_recreate",
                            )
                            .await
                            .map_err(|e| Error::on_target("target: rolling back a savepoint", e))?;
                        first_error
                            .get_or_insert((name.clone(), pgferry_catalog::server_message(&e)));
                        failed.push(item);
                    }
                }
            }
            if failed.len() == pending.len() {
                let (name, message) = first_error.unwrap_or_default();
                return Err(Error::Dependents(format!(
                    "recreating {name}, which the target owns and which depends on replaced objects, failed, \
                     so nothing was changed on the target: {message}"
                )));
            }
            pending = failed;
        }
        Ok(())
    }
}

/// Finds, inside the open transaction on `client`, the objects outside
/// `replaced` schemas (and the `kept` tables, which survive the run) that
/// `destructive` statements would drop, and reads their definitions.
/// `new_objects` are the definitions the run creates: an object that needs
/// a relation or column they lack stops the run here.
pub(crate) async fn find(
    client: &Client,
    replaced: &[String],
    kept: &[(String, String)],
    destructive: &[String],
    new_objects: &[Object],
    rights: &Rights,
) -> Result<Carried, Error> {
    if destructive.is_empty() {
        return Ok(Carried::default());
    }
    let fail = |what: &str, e: tokio_postgres::Error| {
        Error::on_target(
            format!("target: finding objects that depend on replaced ones ({what})"),
            e,
        )
    };
    let kept_oids: Vec<u32> = {
        let mut v = Vec::new();
        for (s, t) in kept {
            let row = client
                .query_one(
                    "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relname = $2",
                    &[s, t],
                )
                .await
                .map_err(|e| fail("kept tables", e))?;
            v.push(row.get(0));
        }
        v
    };
    // The relations the run replaces by name (all of them when whole schemas
    // are replaced; the tables themselves for a `-t` run), kept ones aside:
    // they and what hangs off them are not "outside".
    let (names, rels): (Vec<String>, Vec<String>) = new_objects
        .iter()
        .filter(|o| {
            matches!(
                o.kind,
                Kind::Table(_) | Kind::View { .. } | Kind::MatView { .. } | Kind::Sequence { .. }
            )
        })
        .filter_map(|o| Some((o.schema.clone()?, o.name.clone())))
        .unzip();
    let replaced_oids: Vec<u32> = client
        .query(
            "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS r(s, t) ON r.s = n.nspname AND r.t = c.relname \
             WHERE c.oid <> ALL($3::oid[])",
            &[&names, &rels, &kept_oids],
        )
        .await
        .map_err(|e| fail("replaced relations", e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let keys = |rows: Vec<tokio_postgres::Row>| -> HashSet<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let before = keys(
        client
            .query(OUTSIDE, &[&replaced, &kept_oids, &replaced_oids])
            .await
            .map_err(|e| fail("listing", e))?,
    );
    if before.is_empty() {
        return Ok(Carried::default());
    }
    client
        .batch_execute("SAVEPOINT pgferry_dependents")
        .await
        .map_err(|e| fail("savepoint", e))?;
    for s in destructive {
        client
            .batch_execute(s)
            .await
            .map_err(|e| Error::on_target(format!("target: {s}"), e))?;
    }
    let after = keys(
        client
            .query(OUTSIDE, &[&replaced, &kept_oids, &replaced_oids])
            .await
            .map_err(|e| fail("listing after the drop", e))?,
    );
    client
        .batch_execute(
            "ROLLBACK TO SAVEPOINT pgferry_dependents; RELEASE SAVEPOINT pgferry_dependents",
        )
        .await
        .map_err(|e| fail("rollback to savepoint", e))?;
    let mut gone: Vec<(String, u32, i32)> = before
        .difference(&after)
        .filter_map(|k| {
            let mut it = k.split(':');
            let class = it.next()?.to_string();
            let oid = it.next()?.parse().ok()?;
            let sub = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            Some((class, oid, sub))
        })
        .collect();
    gone.sort();
    if gone.is_empty() {
        return Ok(Carried::default());
    }
    let relations_gone: HashSet<u32> = gone
        .iter()
        .filter(|(c, _, _)| c == "class")
        .map(|(_, o, _)| *o)
        .collect();
    let mut refused = Vec::new();
    let read = Reader {
        client,
        rights,
        relations_gone: &relations_gone,
    };
    let mut functions = Vec::new();
    let mut relations = Vec::new();
    let mut rest = Vec::new();
    for (class, oid, sub) in &gone {
        match class.as_str() {
            "column" if !relations_gone.contains(oid) => {
                refused.push(format!(
                    "{} would be dropped with its data (its type or generation expression belongs to a replaced schema)",
                    read.describe("pg_class", *oid, *sub).await?
                ));
            }
            "column" => {}
            "class" => match read.relkind(*oid).await?.as_str() {
                "v" | "m" => relations.push(*oid),
                // An index behind a PRIMARY KEY / UNIQUE / EXCLUDE constraint
                // comes back with its constraint.
                "i" | "I" if read.backs_constraint(*oid).await? => {}
                "i" | "I" => rest.push(("index", *oid)),
                _ => refused.push(format!(
                    "{} would be dropped with its data (it is a partition, child or typed table of a replaced one, \
                     or a sequence owned by one)",
                    read.describe("pg_class", *oid, 0).await?
                )),
            },
            "type" => refused.push(format!(
                "{} would be dropped (it is built on a replaced type)",
                read.describe("pg_type", *oid, 0).await?
            )),
            "function" if read.is_aggregate(*oid).await? => refused.push(format!(
                "{} would be dropped (pgferry cannot carry an aggregate over yet)",
                read.describe("pg_proc", *oid, 0).await?
            )),
            "function" => functions.push(*oid),
            "operator" => refused.push(format!(
                "{} would be dropped (pgferry cannot carry an operator over yet)",
                read.describe("pg_operator", *oid, 0).await?
            )),
            "event trigger" => {
                let name: String = read
                    .value("SELECT e.evtname::text FROM pg_catalog.pg_event_trigger e WHERE e.oid = $1", *oid)
                    .await?;
                // The source's event triggers are created again by the run.
                let from_source = new_objects
                    .iter()
                    .any(|o| matches!(o.kind, Kind::EventTrigger { .. }) && o.name == name);
                if !from_source {
                    refused.push(format!(
                        "event trigger {name} would be dropped (its function belongs to a replaced schema)"
                    ));
                }
            }
            "publication" => {
                // Membership of a replaced table in a publication the
                // target has and the source does not (a source publication
                // is created again with its own tables).
                let name: String = read
                    .value(
                        "SELECT p.pubname::text FROM pg_catalog.pg_publication_rel r \
                         JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid WHERE r.oid = $1",
                        *oid,
                    )
                    .await?;
                let from_source = new_objects
                    .iter()
                    .any(|o| matches!(o.kind, Kind::Publication { .. }) && o.name == name);
                if !from_source {
                    rest.push(("publication", *oid));
                }
            }
            other => rest.push((
                match other {
                    "constraint" => "constraint",
                    "trigger" => "trigger",
                    "policy" => "policy",
                    "rule" => "rule",
                    "default" => "default",
                    _ => "statistics",
                },
                *oid,
            )),
        }
    }
    if !refused.is_empty() {
        return Err(Error::Dependents(format!(
            "objects the target owns outside the replaced schemas depend on replaced objects and cannot be carried over; \
             nothing was changed on the target: {}",
            refused.join("; ")
        )));
    }
    check_references(client, &gone, new_objects, replaced, &kept_oids, &read).await?;
    let mut out = Carried::default();
    for oid in functions {
        out.items.push(read.function(oid).await?);
    }
    for oid in order_relations(client, &relations).await? {
        out.items.push(read.relation(oid).await?);
    }
    for (kind, oid) in rest {
        if let Some(item) = read.sub_object(kind, oid).await? {
            out.items.push(item);
        }
    }
    for (name, _) in &out.items {
        tracing::info!(object = %name, "target-owned object depends on replaced objects; it will be recreated");
    }
    Ok(out)
}

/// Views and matviews in an order where each comes after those it reads.
async fn order_relations(client: &Client, oids: &[u32]) -> Result<Vec<u32>, Error> {
    let rows = client
        .query(
            "SELECT DISTINCT r.ev_class, d.refobjid FROM pg_catalog.pg_depend d \
             JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid \
             WHERE r.ev_class = ANY($1::oid[]) AND d.refobjid = ANY($1::oid[]) AND d.refobjid <> r.ev_class",
            &[&oids],
        )
        .await
        .map_err(|e| Error::on_target("target: ordering dependent views", e))?;
    let mut needs: BTreeMap<u32, Vec<u32>> = oids.iter().map(|o| (*o, Vec::new())).collect();
    for r in rows {
        let (a, b): (u32, u32) = (r.get(0), r.get(1));
        needs.entry(a).or_default().push(b);
    }
    let mut done: Vec<u32> = Vec::new();
    let mut placed = HashSet::new();
    while placed.len() < needs.len() {
        let next: Vec<u32> = needs
            .iter()
            .filter(|(o, deps)| !placed.contains(*o) && deps.iter().all(|d| placed.contains(d)))
            .map(|(o, _)| *o)
            .collect();
        if next.is_empty() {
            // A cycle cannot exist among views; keep the rest in oid order.
            done.extend(needs.keys().filter(|o| !placed.contains(*o)));
            break;
        }
        for o in next {
            placed.insert(o);
            done.push(o);
        }
    }
    Ok(done)
}

/// Refuses objects that reference a relation or column of the replaced
/// schemas that the new definitions no longer have.
async fn check_references(
    client: &Client,
    gone: &[(String, u32, i32)],
    new_objects: &[Object],
    replaced: &[String],
    kept: &[u32],
    read: &Reader<'_>,
) -> Result<(), Error> {
    // pg_depend rows of the carried objects that point at replaced relations' columns.
    let mut by_class: HashMap<&str, Vec<u32>> = HashMap::new();
    for (class, oid, _) in gone {
        let catalog = match class.as_str() {
            "class" => "pg_rewrite",
            "constraint" => "pg_constraint",
            "trigger" => "pg_trigger",
            "policy" => "pg_policy",
            "default" => "pg_attrdef",
            "function" => "pg_proc",
            "rule" => "pg_rewrite",
            "publication" => "pg_publication_rel",
            _ => continue,
        };
        by_class.entry(catalog).or_default().push(*oid);
    }
    let new_relations: HashMap<(String, String), Option<HashSet<String>>> = new_objects
        .iter()
        .filter_map(|o| {
            let schema = o.schema.clone()?;
            let cols = match &o.kind {
                Kind::Table(t) => Some(t.columns.iter().map(|c| c.name.clone()).collect()),
                Kind::View { .. } | Kind::MatView { .. } | Kind::Sequence { .. } => None,
                _ => return None,
            };
            Some(((schema, o.name.clone()), cols))
        })
        .collect();
    let mut problems = Vec::new();
    for (catalog, oids) in by_class {
        // A view's dependencies hang off its _RETURN rule.
        let objid = if catalog == "pg_rewrite" {
            "d.objid IN (SELECT r.oid FROM pg_catalog.pg_rewrite r WHERE r.ev_class = x OR r.oid = x)"
        } else {
            "d.objid = x"
        };
        let sql = format!(
            "SELECT DISTINCT x::oid, n.nspname::text, c.relname::text, a.attname::text \
             FROM pg_catalog.unnest($1::oid[]) x \
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.{catalog}'::regclass AND {objid} \
             JOIN pg_catalog.pg_class c ON d.refclassid = 'pg_catalog.pg_class'::regclass AND c.oid = d.refobjid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0 \
             WHERE n.nspname = ANY($2::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.oid <> ALL($3::oid[])"
        );
        let rows = client
            .query(&sql, &[&oids, &replaced, &kept])
            .await
            .map_err(|e| Error::on_target("target: reading what dependent objects reference", e))?;
        for r in rows {
            let (oid, schema, rel, col): (u32, String, String, Option<String>) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let missing = match new_relations.get(&(schema.clone(), rel.clone())) {
                None => Some(format!("{}.{}", quote_ident(&schema), quote_ident(&rel))),
                Some(Some(cols)) => col.filter(|c| !cols.contains(c)).map(|c| {
                    format!(
                        "column {}.{}.{}",
                        quote_ident(&schema),
                        quote_ident(&rel),
                        quote_ident(&c)
                    )
                }),
                Some(None) => None,
            };
            if let Some(m) = missing {
                let class = if catalog == "pg_rewrite" {
                    "pg_class"
                } else {
                    catalog
                };
                problems.push(format!(
                    "{} needs {m}, which the new definitions no longer have",
                    read.describe(class, oid, 0).await?
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort();
    problems.dedup();
    Err(Error::Dependents(format!(
        "objects the target owns depend on replaced objects that are changing and could not be recreated; \
         nothing was changed on the target (drop or change them, or exclude what they need): {}",
        problems.join("; ")
    )))
}
