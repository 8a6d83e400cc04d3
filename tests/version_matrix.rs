//! Version matrix: for every requested source major and every requested target
//! major >= it, `pgferry dump` the fixture database on the source and
//! `pgferry restore` it on the target, then judge the result on the target
//! server:
//!
//! * against a reference copy made on the same target server: with
//!   `pg_dump -Fc source | pg_restore` where the target's bin directory has
//!   them (Debian's 15; then `pg_dump --schema-only` of both must be equal
//!   too), otherwise by loading the same fixture files (`schema.sql` plus
//!   `versions/NN.sql` for NN <= the source major) into a fresh database of
//!   the target server;
//! * by catalog-level descriptions (types, tables, columns, defaults,
//!   constraints, indexes, triggers, functions, ... through `pg_get_*def`) of
//!   both databases, which must be equal;
//! * by row contents and sequence states, compared with the source.
//!
//! Majors come from `PGFERRY_PG_VERSIONS` (e.g. `13,14,15,16,17,18`; unset:
//! only the default server's major). A requested major that is not installed
//! fails the test with the install command (`bash scripts/install-pg-versions.sh`).
//!
//! ```text
//! bash scripts/install-pg-versions.sh
//! PGFERRY_PG_VERSIONS=13,14,15,16,17,18 cargo test --test version_matrix -- --nocapture
//! ```
mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use common::*;
use pgferry_testkit::{pg_dump_schema, requested_majors, require_major, Cluster, TestDb};

/// The roles `fixtures/schema.sql` grants to (cluster-wide): every target
/// cluster gets them too, as a real replica would.
const ROLES: &str = "\
DO $$ BEGIN CREATE ROLE pgferry_reader NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE pgferry_writer NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;";

/// One cluster per major, shared by the tests of this binary.
fn cluster(major: u32) -> &'static Cluster {
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

/// The fixture database on the source cluster of `major` (loaded once).
fn source_db(major: u32) -> TestDb {
    static SOURCES: OnceLock<Mutex<HashMap<u32, TestDb>>> = OnceLock::new();
    let cluster = cluster(major);
    let mut map = SOURCES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(major)
        .or_insert_with(|| {
            let db = cluster.create_database(&format!("matrix_src_{major}"));
            db.load_fixture_for_major(major);
            db
        })
        .clone()
}

/// All (source, target) pairs with target >= source among the requested majors.
fn pairs() -> Vec<(u32, u32)> {
    let majors = requested_majors();
    let mut out = Vec::new();
    for &s in &majors {
        for &t in majors.iter().filter(|t| **t >= s) {
            out.push((s, t));
        }
    }
    out
}

/// Dumps the source of `major` with pgferry into `dir`.
fn dump(major: u32, dir: &Path) -> String {
    let src = source_db(major);
    let path = dir.join(format!("src{major}.pgf"));
    let path = path.to_str().unwrap().to_string();
    if !Path::new(&path).exists() {
        pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &path]);
    }
    path
}

/// Runs one pair; returns what it compared against.
fn run_pair(source: u32, target: u32, dir: &Path) -> String {
    let started = Instant::now();
    let src = source_db(source);
    let archive = dump(source, dir);
    let tgt = cluster(target);
    let restored = tgt.create_database(&format!("matrix_{source}_to_{target}"));
    pgferry_ok(&["restore", "--target", &restored.conn_string(), &archive]);

    // The reference copy on the target server.
    let pg_dump = tgt.bin_dir().join("pg_dump");
    let pg_restore = tgt.bin_dir().join("pg_restore");
    let (reference, how) = if pg_dump.is_file() && pg_restore.is_file() {
        let reference = tgt.create_database(&format!("matrix_{source}_to_{target}_ref"));
        pg_dump_restore(&pg_dump, &pg_restore, &src, &reference);
        let (a, b) = (pg_dump_schema(&reference), pg_dump_schema(&restored));
        assert!(
            a == b,
            "{source} -> {target}: pg_dump --schema-only of the pgferry restore differs from \
             pg_dump -Fc | pg_restore:\n{}",
            first_difference(&a, &b)
        );
        (
            reference,
            "pg_dump -Fc | pg_restore + pg_dump --schema-only",
        )
    } else if source == target {
        (src.clone(), "the source database itself")
    } else {
        let reference = tgt.create_database(&format!("matrix_{source}_to_{target}_ref"));
        reference.load_fixture_for_major(source);
        (reference, "the fixture loaded on the target server")
    };
    let (mut a, mut b) = (describe(&reference, target), describe(&restored, target));
    if how.starts_with("the fixture") && source < 15 && target >= 15 {
        // The public schema of a database created before 15 belongs to its
        // creator with `=UC` for PUBLIC; a dump carries that owner and ACL
        // along (pg_dump does too: the 13/14 -> 15 pairs check it against
        // pg_dump | pg_restore), unlike a database created on 15+. Compare
        // that schema with the source instead.
        let public = |lines: &mut Vec<String>| {
            let (p, rest): (Vec<String>, Vec<String>) = std::mem::take(lines)
                .into_iter()
                .partition(|l| l.starts_with("schema: public |"));
            *lines = rest;
            p
        };
        let (_, from_source) = (public(&mut a), public(&mut describe(&src, source)));
        assert_eq!(
            from_source,
            public(&mut b),
            "{source} -> {target}: the public schema differs from the source's"
        );
    }
    if how.starts_with("the fixture") && source < 18 && target >= 18 {
        // Servers before 18 do not name NOT NULL constraints. A partition
        // created with PARTITION OF (the fixture) takes its parent's names;
        // one created on its own and attached (what pgferry and pg_dump
        // restore) gets `<partition>_<column>_not_null`. Compare them without
        // names (18 -> 18 compares names).
        for lines in [&mut a, &mut b] {
            for l in lines.iter_mut() {
                let mut f: Vec<&str> = l.split(" | ").collect();
                if f.len() > 2 && f[0].starts_with("constraint: ") && f[2] == "n" {
                    f[1] = "<not null>";
                    *l = f.join(" | ");
                }
            }
            lines.sort();
        }
    }
    assert_same_lines(source, target, &a, &b);

    assert_eq!(
        user_contents(&src),
        user_contents(&restored),
        "{source} -> {target}: table contents differ from the source"
    );
    assert_eq!(
        sequences(&src),
        sequences(&restored),
        "{source} -> {target}: sequences differ from the source"
    );
    assert_eq!(
        matviews(&src),
        matviews(&restored),
        "{source} -> {target}: matview population differs from the source"
    );
    tgt.drop_database(&restored.name);
    if reference.name != src.name {
        tgt.drop_database(&reference.name);
    }
    format!(
        "{source} -> {target}: ok in {:.1}s (reference: {how}; {} catalog lines compared)",
        started.elapsed().as_secs_f64(),
        a.len()
    )
}

/// `pg_dump -Fc source | pg_restore -d reference`.
fn pg_dump_restore(pg_dump: &Path, pg_restore: &Path, src: &TestDb, reference: &TestDb) {
    let dumped = Command::new(pg_dump)
        .args(["-Fc", "-d", &src.conn_string()])
        .output()
        .expect("run pg_dump");
    assert!(
        dumped.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let mut child = Command::new(pg_restore)
        .args(["--exit-on-error", "-d", &reference.conn_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pg_restore");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&dumped.stdout).expect("feed pg_restore");
    }
    let out = child.wait_with_output().expect("wait for pg_restore");
    assert!(
        out.status.success(),
        "pg_restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_same_lines(source: u32, target: u32, reference: &[String], restored: &[String]) {
    if reference == restored {
        return;
    }
    let a: BTreeSet<&String> = reference.iter().collect();
    let b: BTreeSet<&String> = restored.iter().collect();
    let missing: Vec<&&String> = a.difference(&b).take(25).collect();
    let extra: Vec<&&String> = b.difference(&a).take(25).collect();
    panic!(
        "{source} -> {target}: the catalog of the pgferry restore differs from the reference \
         ({} vs {} lines)\n--- only in the reference:\n{}\n--- only in the pgferry restore:\n{}",
        reference.len(),
        restored.len(),
        missing
            .iter()
            .map(|s| format!("  {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
        extra
            .iter()
            .map(|s| format!("  {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

/// User schemas (not pgferry's own, not system ones).
const USER_NS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') AND n.nspname !~ '^pg_'";

/// Not a member of an extension.
fn not_ext(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = '{catalog}'::regclass \
         AND e.objid = {oid} AND e.deptype = 'e')"
    )
}

/// An ACL as sorted text (NULL = default).
fn acl(col: &str) -> String {
    format!("(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest({col}) x)")
}

/// An object's ACL as sorted text, NULL (the default) spelled out: an explicit
/// ACL equal to the default (left by `REVOKE ... FROM PUBLIC` on a table) is
/// the same as none (pg_dump does not tell them apart either).
fn acl_or_default(col: &str, kind: &str, owner: &str) -> String {
    acl(&format!("coalesce({col}, acldefault({kind}, {owner}))"))
}

/// A normalized, sorted description of the user objects of `db`, for
/// comparing two databases on the same server (`major`).
fn describe(db: &TestDb, major: u32) -> Vec<String> {
    let compression = if major >= 14 {
        "a.attcompression::text"
    } else {
        "''"
    };
    let queries: Vec<(&str, String)> = vec![
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
            "SELECT e.extname, n.nspname, e.extversion, obj_description(e.oid, 'pg_extension') \
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                .into(),
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
                 t.typdefault, (SELECT collname FROM pg_collation WHERE oid = t.typcollation), \
                 pg_get_userbyid(t.typowner), obj_description(t.oid, 'pg_type'), {acl}, \
                 (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid), \
                 (SELECT string_agg(conname || ':' || pg_get_constraintdef(oid) || ':' || convalidated, ';' ORDER BY conname) \
                  FROM pg_constraint WHERE contypid = t.oid), \
                 (SELECT format_type(rngsubtype, NULL) || ',' || rngsubdiff::regproc::text || ',' || rngcanonical::regproc::text \
                  FROM pg_range WHERE rngtypid = t.oid), \
                 (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum) \
                  FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE {USER_NS} AND {ext} AND t.typtype IN ('e', 'd', 'r', 'm', 'c') \
                 AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')",
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
            "inherits",
            format!(
                "SELECT c.oid::regclass::text, p.oid::regclass::text, i.inhseqno FROM pg_inherits i \
                 JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS}"
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
                 CASE WHEN c.contype IN ('c', 'n') THEN c.connoinherit END, \
                 obj_description(c.oid, 'pg_constraint') \
                 FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = r.relnamespace WHERE {USER_NS}"
            ),
        ),
        (
            "index",
            format!(
                "SELECT pg_get_indexdef(i.indexrelid), i.indisclustered, i.indisreplident, i.indisvalid, \
                 obj_description(i.indexrelid, 'pg_class'), \
                 (SELECT string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_attribute a \
                  WHERE a.attrelid = i.indexrelid AND coalesce(a.attstattarget::int, -1) >= 0) \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS}"
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
                "SELECT pg_get_ruledef(r.oid), r.ev_enabled, obj_description(r.oid, 'pg_rewrite') \
                 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} AND r.rulename <> '_RETURN'"
            ),
        ),
        (
            "policy",
            "SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check, \
             obj_description(p.oid, 'pg_policy') FROM pg_policies ps \
             JOIN pg_policy p ON p.polname = ps.policyname \
             AND p.polrelid = format('%I.%I', ps.schemaname, ps.tablename)::regclass"
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
            "statistics",
            format!(
                "SELECT pg_get_statisticsobjdef(s.oid), s.stxstattarget::int, pg_get_userbyid(s.stxowner), \
                 obj_description(s.oid, 'pg_statistic_ext') \
                 FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace WHERE {USER_NS}"
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
    ];
    let mut lines = Vec::new();
    for (what, sql) in queries {
        for row in db.query_strings(&sql) {
            let fields: Vec<String> = row
                .into_iter()
                .map(|v| v.unwrap_or_else(|| "∅".into()))
                .collect();
            lines.push(normalize(&format!("{what}: {}", fields.join(" | "))));
        }
    }
    lines.sort();
    lines
}

/// Spellings that differ only by the server version that parsed them.
///
/// From PostgreSQL 14 on, SQL-syntax function calls (`x AT TIME ZONE y`) are
/// kept as written and deparsed that way; an older server deparses them as
/// plain calls (`timezone(y, x)`), which is what any dump of it carries
/// (pg_dump's too), so the fixture loaded directly on a 14+ target spells
/// them differently from a restore of an older source. Same expression.
fn normalize(line: &str) -> String {
    line.replace(
        "timezone('utc'::text, now())",
        "(now() AT TIME ZONE 'utc'::text)",
    )
}

fn run_pairs(which: &[(u32, u32)]) {
    let dir = tempdir();
    let mut report = Vec::new();
    for &(s, t) in which {
        eprintln!("version matrix: running {s} -> {t}");
        report.push(run_pair(s, t, dir.path()));
    }
    eprintln!("version matrix ({} pairs):", report.len());
    for line in &report {
        eprintln!("  {line}");
    }
}

/// Every requested pair but 16 -> 17 (its own test below).
#[test]
fn version_matrix() {
    let all = pairs();
    let which: Vec<(u32, u32)> = all.into_iter().filter(|p| *p != (16, 17)).collect();
    eprintln!(
        "version matrix: majors {:?} (PGFERRY_PG_VERSIONS={:?}), pairs {which:?}",
        requested_majors(),
        std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default()
    );
    run_pairs(&which);
}

/// PostgreSQL 16 -> 17 (runs when both are requested).
#[test]
fn pg16_to_pg17() {
    if !pairs().contains(&(16, 17)) {
        eprintln!(
            "pg16_to_pg17: not requested (PGFERRY_PG_VERSIONS={:?} does not name both 16 and 17)",
            std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default()
        );
        return;
    }
    run_pairs(&[(16, 17)]);
}
