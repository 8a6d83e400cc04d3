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

use pgferry_catalog::{quote_ident, quote_literal, Kind, Object};
use tokio_postgres::Client;

use crate::error::Error;
use crate::target::Rights;

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

/// `ALTER PUBLICATION … ADD TABLE` for a membership (before PostgreSQL 15).
const PUBLICATION_MEMBER: &str = "SELECT 'ALTER PUBLICATION ' || pg_catalog.quote_ident(p.pubname) \
     || ' ADD TABLE ' || r.prrelid::regclass::text, false, NULL::text, NULL::text, r.prrelid \
     FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid WHERE r.oid = $1";

/// The same from PostgreSQL 15, with the column list and row filter.
const PUBLICATION_MEMBER_15: &str = "SELECT 'ALTER PUBLICATION ' || pg_catalog.quote_ident(p.pubname) \
     || ' ADD TABLE ' || r.prrelid::regclass::text \
     || COALESCE(' (' || (SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) \
        FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.prrelid AND a.attnum = ANY(r.prattrs)) || ')', '') \
     || COALESCE(' WHERE (' || pg_catalog.pg_get_expr(r.prqual, r.prrelid) || ')', ''), \
     false, NULL::text, NULL::text, r.prrelid \
     FROM pg_catalog.pg_publication_rel r JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid WHERE r.oid = $1";

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
                            .map_err(|e| Error::source_stmt("target: rolling back a savepoint", &e))?;
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
        Error::source_stmt(
            format!("target: finding objects that depend on replaced ones ({what})"),
            &e,
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
            .map_err(|e| Error::source_stmt(format!("target: {s}"), &e))?;
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
        .map_err(|e| Error::source_stmt("target: ordering dependent views", &e))?;
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
            .map_err(|e| {
                Error::source_stmt("target: reading what dependent objects reference", &e)
            })?;
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

/// Reads definitions on the target (search_path is empty inside the run's
/// transaction, so deparsed text is schema-qualified).
struct Reader<'a> {
    client: &'a Client,
    rights: &'a Rights,
    relations_gone: &'a HashSet<u32>,
}

impl Reader<'_> {
    async fn one(&self, sql: &str, oid: u32) -> Result<tokio_postgres::Row, Error> {
        self.client
            .query_one(sql, &[&oid])
            .await
            .map_err(|e| Error::source_stmt("target: reading a dependent object's definition", &e))
    }

    async fn describe(&self, catalog: &str, oid: u32, sub: i32) -> Result<String, Error> {
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT pg_catalog.pg_describe_object('pg_catalog.{catalog}'::regclass, $1, $2)"
                ),
                &[&oid, &sub],
            )
            .await
            .map_err(|e| Error::source_stmt("target: naming a dependent object", &e))?;
        Ok(row
            .get::<_, Option<String>>(0)
            .unwrap_or_else(|| format!("{catalog} {oid}")))
    }

    /// The one value `sql` returns for `oid`.
    async fn value<T: for<'r> tokio_postgres::types::FromSql<'r>>(
        &self,
        sql: &str,
        oid: u32,
    ) -> Result<T, Error> {
        self.one(sql, oid)
            .await?
            .try_get(0)
            .map_err(|e| Error::Usage(format!("target: reading a dependent object: {e}")))
    }

    async fn backs_constraint(&self, index: u32) -> Result<bool, Error> {
        self.value(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint o JOIN pg_catalog.pg_index i ON i.indexrelid = o.conindid \
             WHERE o.conindid = $1 AND o.conrelid = i.indrelid AND o.contype IN ('p', 'u', 'x'))",
            index,
        )
        .await
    }

    async fn is_aggregate(&self, oid: u32) -> Result<bool, Error> {
        self.value(
            "SELECT p.prokind = 'a' FROM pg_catalog.pg_proc p WHERE p.oid = $1",
            oid,
        )
        .await
    }

    async fn relkind(&self, oid: u32) -> Result<String, Error> {
        self.value(
            "SELECT c.relkind::text FROM pg_catalog.pg_class c WHERE c.oid = $1",
            oid,
        )
        .await
    }

    /// `ALTER … OWNER TO` when the object's owner is not the connecting
    /// role and the role may hand it over; else a warning.
    fn owner_stmt(&self, kw: &str, target: &str, owner: &str, out: &mut Vec<String>) {
        if owner == self.rights.role {
            return;
        }
        if self.rights.superuser || self.rights.member_of.contains(owner) {
            out.push(format!(
                "ALTER {kw} {target} OWNER TO {}",
                quote_ident(owner)
            ));
        } else {
            tracing::warn!(object = %target, %owner, "recreated object cannot be given back to its owner (not a member); the target role owns it now");
        }
    }

    /// Grants from an ACL (`aclexplode`), the default ones revoked first.
    async fn grants(
        &self,
        (table, acl, owner): (&str, &str, &str),
        oid: u32,
        target: &str,
        out: &mut Vec<String>,
    ) -> Result<(), Error> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, \
                     a.privilege_type, a.is_grantable, a.grantee = x.{owner} \
                     FROM pg_catalog.{table} x, LATERAL pg_catalog.aclexplode(x.{acl}) a WHERE x.oid = $1"
                ),
                &[&oid],
            )
            .await
            .map_err(|e| Error::source_stmt("target: reading a dependent object's grants", &e))?;
        if rows.is_empty() {
            return Ok(());
        }
        out.push(format!("REVOKE ALL ON {target} FROM PUBLIC"));
        for r in rows {
            let (grantee, privilege, grantable, is_owner): (String, String, bool, bool) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            if is_owner {
                continue;
            }
            let role = grantee.trim_matches('"');
            if grantee != "PUBLIC" && !self.rights.roles.contains(role) {
                continue;
            }
            out.push(format!(
                "GRANT {privilege} ON {target} TO {grantee}{}",
                if grantable { " WITH GRANT OPTION" } else { "" }
            ));
        }
        Ok(())
    }

    async fn function(&self, oid: u32) -> Result<(String, Vec<String>), Error> {
        let r = self
            .one(
                "SELECT pg_catalog.pg_get_functiondef(p.oid), p.oid::regprocedure::text, \
                 pg_catalog.pg_get_userbyid(p.proowner), pg_catalog.obj_description(p.oid, 'pg_proc'), \
                 CASE WHEN p.prokind = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END \
                 FROM pg_catalog.pg_proc p WHERE p.oid = $1",
                oid,
            )
            .await?;
        let (def, sig, owner, comment, kw): (String, String, String, Option<String>, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let target = format!("{kw} {sig}");
        let mut out = vec![def];
        self.owner_stmt(kw.as_str(), &sig, &owner, &mut out);
        if let Some(c) = comment {
            out.push(format!("COMMENT ON {target} IS {}", quote_literal(&c)));
        }
        self.grants(("pg_proc", "proacl", "proowner"), oid, &target, &mut out)
            .await?;
        Ok((self.describe("pg_proc", oid, 0).await?, out))
    }

    async fn relation(&self, oid: u32) -> Result<(String, Vec<String>), Error> {
        let r = self
            .one(
                "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), c.relkind::text, \
                 pg_catalog.pg_get_viewdef(c.oid), COALESCE(pg_catalog.array_to_string(c.reloptions, ', '), ''), \
                 pg_catalog.pg_get_userbyid(c.relowner), c.relispopulated, pg_catalog.obj_description(c.oid, 'pg_class') \
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
                oid,
            )
            .await?;
        let (q, relkind, def, options, owner, populated, comment): (
            String,
            String,
            String,
            String,
            String,
            bool,
            Option<String>,
        ) = (
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
        );
        let def = def.trim().trim_end_matches(';');
        let with = if options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({options})")
        };
        let (kw, create) = if relkind == "m" {
            (
                "MATERIALIZED VIEW",
                format!(
                    "CREATE MATERIALIZED VIEW {q}{with} AS {def} WITH {}DATA",
                    if populated { "" } else { "NO " }
                ),
            )
        } else {
            ("VIEW", format!("CREATE VIEW {q}{with} AS {def}"))
        };
        let mut out = vec![create];
        self.owner_stmt(kw, &q, &owner, &mut out);
        if let Some(c) = comment {
            out.push(format!("COMMENT ON {kw} {q} IS {}", quote_literal(&c)));
        }
        let cols = self
            .client
            .query(
                "SELECT pg_catalog.quote_ident(a.attname), d.description FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_description d ON d.objoid = a.attrelid AND d.classoid = 'pg_catalog.pg_class'::regclass \
                 AND d.objsubid = a.attnum WHERE a.attrelid = $1 AND a.attnum > 0",
                &[&oid],
            )
            .await
            .map_err(|e| Error::source_stmt("target: reading column comments", &e))?;
        for c in cols {
            let (col, text): (String, String) = (c.get(0), c.get(1));
            out.push(format!(
                "COMMENT ON COLUMN {q}.{col} IS {}",
                quote_literal(&text)
            ));
        }
        self.grants(("pg_class", "relacl", "relowner"), oid, &q, &mut out)
            .await?;
        Ok((self.describe("pg_class", oid, 0).await?, out))
    }

    /// A table-level object. `None` when it goes with its parent anyway (a
    /// partition's clone of a parent's constraint, index or trigger).
    async fn sub_object(
        &self,
        kind: &str,
        oid: u32,
    ) -> Result<Option<(String, Vec<String>)>, Error> {
        let (sql, catalog) = match kind {
            "index" => (
                "SELECT pg_catalog.pg_get_indexdef(c.oid), c.relispartition, \
                 pg_catalog.obj_description(c.oid, 'pg_class'), \
                 'INDEX ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), i.indrelid \
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
                "pg_class",
            ),
            "constraint" => (
                "SELECT CASE WHEN o.contypid <> 0 THEN 'ALTER DOMAIN ' || o.contypid::regtype::text ELSE 'ALTER TABLE ' || o.conrelid::regclass::text END \
                 || ' ADD CONSTRAINT ' || pg_catalog.quote_ident(o.conname) || ' ' || pg_catalog.pg_get_constraintdef(o.oid), \
                 o.conparentid <> 0 OR (o.contype <> 'f' AND o.coninhcount > 0), pg_catalog.obj_description(o.oid, 'pg_constraint'), \
                 'CONSTRAINT ' || pg_catalog.quote_ident(o.conname) || ' ON ' || CASE WHEN o.contypid <> 0 THEN 'DOMAIN ' || o.contypid::regtype::text ELSE o.conrelid::regclass::text END, \
                 o.conrelid FROM pg_catalog.pg_constraint o WHERE o.oid = $1",
                "pg_constraint",
            ),
            "trigger" => (
                "SELECT pg_catalog.pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'D' THEN '; ALTER TABLE ' || t.tgrelid::regclass::text || ' DISABLE TRIGGER ' || pg_catalog.quote_ident(t.tgname) \
                   WHEN 'R' THEN '; ALTER TABLE ' || t.tgrelid::regclass::text || ' ENABLE REPLICA TRIGGER ' || pg_catalog.quote_ident(t.tgname) \
                   WHEN 'A' THEN '; ALTER TABLE ' || t.tgrelid::regclass::text || ' ENABLE ALWAYS TRIGGER ' || pg_catalog.quote_ident(t.tgname) ELSE '' END, \
                 t.tgparentid <> 0, pg_catalog.obj_description(t.oid, 'pg_trigger'), \
                 'TRIGGER ' || pg_catalog.quote_ident(t.tgname) || ' ON ' || t.tgrelid::regclass::text, t.tgrelid \
                 FROM pg_catalog.pg_trigger t WHERE t.oid = $1",
                "pg_trigger",
            ),
            "policy" => (
                "SELECT 'CREATE POLICY ' || pg_catalog.quote_ident(p.polname) || ' ON ' || p.polrelid::regclass::text \
                 || CASE WHEN p.polpermissive THEN ' AS PERMISSIVE' ELSE ' AS RESTRICTIVE' END \
                 || ' FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END \
                 || ' TO ' || COALESCE((SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END, ', ') \
                    FROM pg_catalog.unnest(p.polroles) r), 'PUBLIC') \
                 || COALESCE(' USING (' || pg_catalog.pg_get_expr(p.polqual, p.polrelid) || ')', '') \
                 || COALESCE(' WITH CHECK (' || pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) || ')', ''), \
                 false, pg_catalog.obj_description(p.oid, 'pg_policy'), \
                 'POLICY ' || pg_catalog.quote_ident(p.polname) || ' ON ' || p.polrelid::regclass::text, p.polrelid \
                 FROM pg_catalog.pg_policy p WHERE p.oid = $1",
                "pg_policy",
            ),
            "rule" => (
                "SELECT pg_catalog.pg_get_ruledef(r.oid), false, pg_catalog.obj_description(r.oid, 'pg_rewrite'), \
                 'RULE ' || pg_catalog.quote_ident(r.rulename) || ' ON ' || r.ev_class::regclass::text, r.ev_class \
                 FROM pg_catalog.pg_rewrite r WHERE r.oid = $1",
                "pg_rewrite",
            ),
            "default" => (
                "SELECT 'ALTER TABLE ' || d.adrelid::regclass::text || ' ALTER COLUMN ' || pg_catalog.quote_ident(a.attname) \
                 || ' SET DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), false, NULL::text, NULL::text, d.adrelid \
                 FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum \
                 WHERE d.oid = $1",
                "pg_attrdef",
            ),
            "publication" => (
                if self.rights.version_num >= 150000 {
                    PUBLICATION_MEMBER_15
                } else {
                    PUBLICATION_MEMBER
                },
                "pg_publication_rel",
            ),
            _ => (
                "SELECT pg_catalog.pg_get_statisticsobjdef(s.oid), false, pg_catalog.obj_description(s.oid, 'pg_statistic_ext'), \
                 'STATISTICS ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(s.stxname), s.stxrelid \
                 FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace WHERE s.oid = $1",
                "pg_statistic_ext",
            ),
        };
        let r = self.one(sql, oid).await?;
        let (def, inherited, comment, designation, parent): (
            String,
            bool,
            Option<String>,
            Option<String>,
            u32,
        ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        // Sub-objects of recreated views come with them only if listed; those
        // of relations that go anyway were refused earlier.
        if inherited || (self.relations_gone.contains(&parent) && kind == "default") {
            return Ok(None);
        }
        let mut out = vec![def];
        if let (Some(c), Some(d)) = (comment, designation) {
            out.push(format!("COMMENT ON {d} IS {}", quote_literal(&c)));
        }
        Ok(Some((self.describe(catalog, oid, 0).await?, out)))
    }
}
