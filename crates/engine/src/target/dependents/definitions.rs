//! Reading a dependent object's definition on the target, deparsed with an
//! empty `search_path` so that every name comes out qualified.
use std::collections::HashSet;

use pgferry_catalog::{quote_ident, quote_literal};
use tokio_postgres::Client;

use crate::error::Error;
use crate::target::rights::Rights;

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

/// Reads definitions on the target (search_path is empty inside the run's
/// transaction, so deparsed text is schema-qualified).
pub(super) struct Reader<'a> {
    pub client: &'a Client,
    pub rights: &'a Rights,
    pub relations_gone: &'a HashSet<u32>,
}

impl Reader<'_> {
    pub(super) async fn one(&self, sql: &str, oid: u32) -> Result<tokio_postgres::Row, Error> {
        self.client
            .query_one(sql, &[&oid])
            .await
            .map_err(|e| Error::on_target("target: reading a dependent object's definition", e))
    }

    pub(super) async fn describe(
        &self,
        catalog: &str,
        oid: u32,
        sub: i32,
    ) -> Result<String, Error> {
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT pg_catalog.pg_describe_object('pg_catalog.{catalog}'::regclass, $1, $2)"
                ),
                &[&oid, &sub],
            )
            .await
            .map_err(|e| Error::on_target("target: naming a dependent object", e))?;
        Ok(row
            .get::<_, Option<String>>(0)
            .unwrap_or_else(|| format!("{catalog} {oid}")))
    }

    /// The one value `sql` returns for `oid`.
    pub(super) async fn value<T: for<'r> tokio_postgres::types::FromSql<'r>>(
        &self,
        sql: &str,
        oid: u32,
    ) -> Result<T, Error> {
        self.one(sql, oid)
            .await?
            .try_get(0)
            .map_err(|e| Error::Usage(format!("target: reading a dependent object: {e}")))
    }

    pub(super) async fn backs_constraint(&self, index: u32) -> Result<bool, Error> {
        self.value(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_constraint o JOIN pg_catalog.pg_index i ON i.indexrelid = o.conindid \
             WHERE o.conindid = $1 AND o.conrelid = i.indrelid AND o.contype IN ('p', 'u', 'x'))",
            index,
        )
        .await
    }

    pub(super) async fn is_aggregate(&self, oid: u32) -> Result<bool, Error> {
        self.value(
            "SELECT p.prokind = 'a' FROM pg_catalog.pg_proc p WHERE p.oid = $1",
            oid,
        )
        .await
    }

    pub(super) async fn relkind(&self, oid: u32) -> Result<String, Error> {
        self.value(
            "SELECT c.relkind::text FROM pg_catalog.pg_class c WHERE c.oid = $1",
            oid,
        )
        .await
    }

    /// `ALTER … OWNER TO` when the object's owner is not the connecting
    /// role and the role may hand it over; else a warning.
    pub(super) fn owner_stmt(&self, kw: &str, target: &str, owner: &str, out: &mut Vec<String>) {
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
    pub(super) async fn grants(
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
            .map_err(|e| Error::on_target("target: reading a dependent object's grants", e))?;
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

    pub(super) async fn function(&self, oid: u32) -> Result<(String, Vec<String>), Error> {
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

    pub(super) async fn relation(&self, oid: u32) -> Result<(String, Vec<String>), Error> {
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
            .map_err(|e| Error::on_target("target: reading column comments", e))?;
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
    pub(super) async fn sub_object(
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
