//! Clusters per PostgreSQL major and catalog-level descriptions of databases,
//! shared by the tests that cross server versions (`version_matrix`,
//! `downgrade`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use pgferry_testkit::{require_major, Cluster, TestDb};

/// The roles `fixtures/schema.sql` grants to (cluster-wide): every cluster
/// gets them too, as a real replica would.
pub const ROLES: &str = "\
DO $$ BEGIN CREATE ROLE pgferry_reader NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE pgferry_writer NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;";

/// One cluster per major, shared by the tests of this binary (with [`ROLES`]).
pub fn cluster(major: u32) -> &'static Cluster {
    static CLUSTERS: OnceLock<Mutex<HashMap<u32, &'static Cluster>>> = OnceLock::new();
    let mut map = CLUSTERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(major).or_insert_with(|| {
        let bin_dir = require_major(major);
        let c: &'static Cluster = Box::leak(Box::new(Cluster::start_with(&bin_dir)));
        assert_eq!(
            c.major_version(),
            major,
            "{} is not PostgreSQL {major}",
            bin_dir.display()
        );
        c.database("postgres").execute_batch(ROLES);
        c
    })
}

/// The major version of the server `db` lives on.
pub fn server_major(db: &TestDb) -> u32 {
    let num: u32 = db
        .query_one_string("SELECT current_setting('server_version_num')")
        .unwrap()
        .parse()
        .unwrap();
    num / 10000
}

/// User schemas (not pgferry's own, not system ones).
pub const USER_NS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname !~ '^pg_'";

/// Not a member of an extension.
pub fn not_ext(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '{catalog}'::regclass \
         AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// An ACL as sorted text (NULL = default).
pub fn acl(col: &str) -> String {
    format!("(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest({col}) x)")
}

/// An object's ACL as sorted text, NULL (the default) spelled out: an explicit
/// ACL equal to the default (left by `REVOKE ... FROM PUBLIC` on a table) is
/// the same as none (pg_dump does not tell them apart either).
pub fn acl_or_default(col: &str, kind: &str, owner: &str) -> String {
    acl(&format!("coalesce({col}, acldefault({kind}, {owner}))"))
}

/// What [`describe`] covers beyond what every caller compares (schemas,
/// extensions, default ACLs, types, relations, columns, constraints, indexes,
/// triggers, rules, policies, functions and extended statistics).
#[derive(Clone, Copy, Debug)]
pub struct DescribeOptions {
    /// Extension versions.
    pub extension_versions: bool,
    /// Finer details of the common objects: collations, owners and range
    /// definitions of types; `NO INHERIT` of check and NOT NULL constraints;
    /// per-column statistics targets of indexes; comments on rules and
    /// policies; statistics targets and owners of extended statistics.
    pub fine_details: bool,
    /// Inheritance, aggregates, operators, sequences, and text search
    /// dictionaries and configurations.
    pub more_objects: bool,
    /// User-defined casts, publications and event triggers.
    pub casts_publications_event_triggers: bool,
    /// Spell expressions alike that differ only by the server version that
    /// parsed them (see [`normalize_spellings`]).
    pub normalize_spellings: bool,
}

/// A normalized, sorted, catalog-level description of the user objects of
/// `db` (on a server of `major`), through the server's own `pg_get_*def`
/// functions, for comparing two databases on the same server.
pub fn describe(db: &TestDb, major: u32, opts: &DescribeOptions) -> Vec<String> {
    let fine = |sql: &'static str| if opts.fine_details { sql } else { "" };
    let compression = if major >= 14 {
        "a.attcompression::text"
    } else {
        "''"
    };
    let mut queries: Vec<(&str, String)> = vec![
        (
            "schema",
            format!(
                "SELECT n.nspname, pg_get_userbyid(n.nspowner), obj_description(n.oid, 'pg_namespace'), {} \
                 FROM pg_namespace n WHERE {USER_NS}",
                acl_or_default("n.nspacl", "'n'", "n.nspowner")
            ),
        ),
        (
            "extension",
            format!(
                "SELECT e.extname, n.nspname, {version}obj_description(e.oid, 'pg_extension') \
                 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace",
                version = if opts.extension_versions {
                    "e.extversion, "
                } else {
                    ""
                },
            ),
        ),
        (
            "default acl",
            format!(
                "SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype, {} \
                 FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace",
                acl("d.defaclacl")
            ),
        ),
        (
            "type",
            format!(
                "SELECT n.nspname, t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod), t.typnotnull, \
                 t.typdefault, {collation_owner}obj_description(t.oid, 'pg_type'), {acl}, \
                 (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), \
                 (SELECT string_agg(conname || ':' || pg_get_constraintdef(oid) || ':' || convalidated, ';' ORDER BY conname) \
                  FROM pg_constraint WHERE contypid = t.oid), \
                 {range}\
                 (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum) \
                  FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE {USER_NS} AND {ext} AND t.typtype IN ('e', 'd', 'r', 'm', 'c') \
                 AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')",
                collation_owner = fine(
                    "(SELECT collname FROM pg_collation WHERE oid = t.typcollation), \
                     pg_get_userbyid(t.typowner), "
                ),
                range = fine(
                    "(SELECT format_type(rngsubtype, NULL) || ',' || rngsubdiff::regproc::text || ',' || rngcanonical::regproc::text \
                      FROM pg_range WHERE rngtypid = t.oid), "
                ),
                acl = acl_or_default("t.typacl", "'T'", "t.typowner"),
                ext = not_ext("pg_type", "t.oid"),
            ),
        ),
        (
            "relation",
            format!(
                "SELECT n.nspname, c.relname, c.relkind, c.relpersistence, \
                 (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(c.reloptions) x), c.relrowsecurity, \
                 c.relforcerowsecurity, c.relispartition, pg_get_expr(c.relpartbound, c.oid), \
                 CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, pg_get_userbyid(c.relowner), \
                 obj_description(c.oid, 'pg_class'), {acl}, c.relreplident, am.amname, \
                 CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END, \
                 CASE WHEN c.relkind = 'm' THEN c.relispopulated END \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_am am ON am.oid = c.relam \
                 WHERE {USER_NS} AND {ext} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
                acl = acl_or_default(
                    "c.relacl",
                    "CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\"",
                    "c.relowner"
                ),
                ext = not_ext("pg_class", "c.oid"),
            ),
        ),
        (
            "column",
            format!(
                "SELECT c.oid::regclass::text, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum), \
                 a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), \
                 a.attidentity, a.attgenerated, (SELECT collname FROM pg_collation WHERE oid = a.attcollation), \
                 a.attstorage, {compression}, a.attstattarget::int, \
                 (SELECT string_agg(x, ',' ORDER BY x) FROM unnest(a.attoptions) x), a.attislocal, a.attinhcount, \
                 col_description(a.attrelid, a.attnum), {acl} \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE {USER_NS} AND {ext} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') \
                 AND a.attnum > 0 AND NOT a.attisdropped",
                acl = acl("a.attacl"),
                ext = not_ext("pg_class", "c.oid"),
            ),
        ),
        (
            "constraint",
            format!(
                "SELECT r.oid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid), c.convalidated, \
                 c.condeferrable, c.condeferred, c.conislocal, c.coninhcount, \
                 {noinherit}obj_description(c.oid, 'pg_constraint') \
                 FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = r.relnamespace WHERE {USER_NS}",
                noinherit = fine("CASE WHEN c.contype IN ('c', 'n') THEN c.connoinherit END, "),
            ),
        ),
        (
            "index",
            format!(
                "SELECT pg_get_indexdef(i.indexrelid), i.indisclustered, i.indisreplident, i.indisvalid, \
                 obj_description(i.indexrelid, 'pg_class'){stattargets} \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS}",
                stattargets = fine(
                    ", (SELECT string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) \
                     FROM pg_attribute a \
                     WHERE a.attrelid = i.indexrelid AND coalesce(a.attstattarget::int, -1) >= 0)"
                ),
            ),
        ),
        (
            "trigger",
            format!(
                "SELECT pg_get_triggerdef(t.oid), t.tgenabled, obj_description(t.oid, 'pg_trigger') \
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} AND NOT t.tgisinternal"
            ),
        ),
        (
            "rule",
            format!(
                "SELECT pg_get_ruledef(r.oid), r.ev_enabled{comment} \
                 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} AND r.rulename <> '_RETURN'",
                comment = fine(", obj_description(r.oid, 'pg_rewrite')"),
            ),
        ),
        (
            "policy",
            if opts.fine_details {
                "SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check, \
                 obj_description(p.oid, 'pg_policy') FROM pg_policies ps \
                 JOIN pg_policy p ON p.polname = ps.policyname \
                 AND p.polrelid = format('%I.%I', ps.schemaname, ps.tablename)::regclass"
            } else {
                "SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check \
                 FROM pg_policies"
            }
            .into(),
        ),
        (
            "function",
            format!(
                "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind, \
                 CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END, pg_get_userbyid(p.proowner), \
                 obj_description(p.oid, 'pg_proc'), {acl} \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} AND {ext}",
                acl = acl_or_default("p.proacl", "'f'", "p.proowner"),
                ext = not_ext("pg_proc", "p.oid"),
            ),
        ),
        (
            "statistics",
            format!(
                "SELECT pg_get_statisticsobjdef(s.oid), {target_owner}\
                 obj_description(s.oid, 'pg_statistic_ext') \
                 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {USER_NS}",
                target_owner = fine("s.stxstattarget::int, pg_get_userbyid(s.stxowner), "),
            ),
        ),
    ];
    if opts.more_objects {
        queries.extend(more_objects());
    }
    if opts.casts_publications_event_triggers {
        queries.extend(casts_publications_event_triggers());
    }
    let mut lines = Vec::new();
    for (what, sql) in queries {
        for row in db.query_strings(&sql) {
            let fields: Vec<String> = row
                .into_iter()
                .map(|v| v.unwrap_or_else(|| "∅".into()))
                .collect();
            let line = format!("{what}: {}", fields.join(" | "));
            lines.push(if opts.normalize_spellings {
                normalize_spellings(&line)
            } else {
                line
            });
        }
    }
    lines.sort();
    lines
}

/// The queries of [`DescribeOptions::more_objects`].
fn more_objects() -> Vec<(&'static str, String)> {
    vec![
        (
            "inherits",
            format!(
                "SELECT c.oid::regclass::text, p.oid::regclass::text, i.inhseqno FROM pg_inherits i \
                 JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS}"
            ),
        ),
        (
            "aggregate",
            format!(
                "SELECT a.aggfnoid::regprocedure::text, a.aggkind, a.aggtransfn::text, format_type(a.aggtranstype, NULL), \
                 a.aggfinalfn::text, a.aggcombinefn::text, a.agginitval, a.aggsortop::regoper::text \
                 FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} AND {ext}",
                ext = not_ext("pg_proc", "p.oid"),
            ),
        ),
        (
            "operator",
            format!(
                "SELECT n.nspname, o.oprname, format_type(o.oprleft, NULL), format_type(o.oprright, NULL), \
                 o.oprcode::text, o.oprcom::regoper::text, o.oprnegate::regoper::text, o.oprrest::text, \
                 o.oprjoin::text, o.oprcanhash, o.oprcanmerge, obj_description(o.oid, 'pg_operator') \
                 FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE {USER_NS} AND {ext}",
                ext = not_ext("pg_operator", "o.oid"),
            ),
        ),
        (
            "sequence",
            format!(
                "SELECT s.seqrelid::regclass::text, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
                 s.seqmin, s.seqmax, s.seqcache, s.seqcycle, c.relpersistence, {acl}, obj_description(c.oid, 'pg_class'), \
                 (SELECT d.refobjid::regclass::text || '.' || a.attname || ':' || d.deptype::text FROM pg_depend d \
                  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid \
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) \
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS}",
                acl = acl_or_default("c.relacl", "'s'", "c.relowner"),
            ),
        ),
        (
            "ts dictionary",
            format!(
                "SELECT n.nspname, d.dictname, (SELECT tmplname FROM pg_ts_template WHERE oid = d.dicttemplate), \
                 d.dictinitoption, obj_description(d.oid, 'pg_ts_dict') \
                 FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace WHERE {USER_NS}"
            ),
        ),
        (
            "ts configuration",
            format!(
                "SELECT n.nspname, c.cfgname, (SELECT prsname FROM pg_ts_parser WHERE oid = c.cfgparser), \
                 obj_description(c.oid, 'pg_ts_config'), \
                 (SELECT string_agg(t.alias || '=' || m.mapdict::regdictionary::text, ',' ORDER BY m.maptokentype, m.mapseqno) \
                  FROM pg_ts_config_map m JOIN ts_token_type(c.cfgparser) t ON t.tokid = m.maptokentype \
                  WHERE m.mapcfg = c.oid) \
                 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace WHERE {USER_NS}"
            ),
        ),
    ]
}

/// The queries of [`DescribeOptions::casts_publications_event_triggers`].
fn casts_publications_event_triggers() -> Vec<(&'static str, String)> {
    vec![
        (
            "cast",
            "SELECT c.castsource::regtype::text, c.casttarget::regtype::text, c.castfunc::regprocedure::text, \
             c.castcontext, c.castmethod FROM pg_cast c WHERE c.oid >= 16384"
                .into(),
        ),
        (
            "publication",
            "SELECT p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, \
             (SELECT string_agg(pt.schemaname || '.' || pt.tablename, ',' ORDER BY 1) \
              FROM pg_publication_tables pt WHERE pt.pubname = p.pubname) FROM pg_publication p"
                .into(),
        ),
        (
            "event trigger",
            "SELECT evtname, evtevent, evtfoid::regproc::text, evtenabled, evttags::text FROM pg_event_trigger"
                .into(),
        ),
    ]
}

/// Spellings that differ only by the server version that parsed them.
///
/// From PostgreSQL 14 on, SQL-syntax function calls (`x AT TIME ZONE y`) are
/// kept as written and deparsed that way; an older server deparses them as
/// plain calls (`timezone(y, x)`), which is what any dump of it carries
/// (pg_dump's too), so the fixture loaded directly on a 14+ target spells
/// them differently from a restore of an older source. Same expression.
pub fn normalize_spellings(line: &str) -> String {
    line.replace(
        "timezone('utc'::text, now())",
        "(now() AT TIME ZONE 'utc'::text)",
    )
}

/// Asserts two descriptions are equal; otherwise panics with (up to 25 of)
/// the lines only one of them has. `what` names the case, `copy` the
/// database compared with the reference.
pub fn assert_same_lines(what: &str, copy: &str, reference: &[String], restored: &[String]) {
    if reference == restored {
        return;
    }
    let a: BTreeSet<&String> = reference.iter().collect();
    let b: BTreeSet<&String> = restored.iter().collect();
    let show = |d: Vec<&&String>| {
        d.iter()
            .map(|s| format!("  {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{what}: the catalog of {copy} differs from the reference ({} vs {} lines)\n\
         --- only in the reference:\n{}\n--- only in {copy}:\n{}",
        reference.len(),
        restored.len(),
        show(a.difference(&b).take(25).collect()),
        show(b.difference(&a).take(25).collect()),
    );
}
