//! pg_dump's selection switches past `-n/-N/-t/-T/--exclude-table-data`:
//! each test shows what a switch leaves out of a dump (`pgferry list`) or a
//! restore (the target queried), next to a run without it that keeps it.
mod common;

use std::path::Path;

use common::*;
use pgferry_testkit::{shared_cluster, TestDb};

/// Dumps `src` into `dir/name.pgf` with the extra `args`; returns the path.
fn dump(src: &TestDb, dir: &Path, name: &str, args: &[&str]) -> String {
    let archive = dir.join(format!("{name}.pgf"));
    let archive = archive.to_str().unwrap().to_string();
    let c = src.conn_string();
    let mut all = vec!["dump", "--source", c.as_str(), "-o", archive.as_str()];
    all.extend_from_slice(args);
    pgferry_ok(&all);
    archive
}

/// The archive's objects as (kind, `schema.name`) (`-` for no schema), in
/// archive order, from `pgferry list --json`.
fn listed(archive: &str) -> Vec<(String, String)> {
    let out = pgferry_ok(&["list", "--json", archive]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list --json");
    v["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or("?").to_string(),
                format!(
                    "{}.{}",
                    o["schema"].as_str().unwrap_or("-"),
                    o["name"].as_str().unwrap_or("?")
                ),
            )
        })
        .collect()
}

/// The sorted names of `listed`'s objects of `kind` (`TABLE`, `TABLE DATA`...).
fn of_kind(listed: &[(String, String)], kind: &str) -> Vec<String> {
    let mut v: Vec<String> = listed
        .iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, n)| n.clone())
        .collect();
    v.sort();
    v
}

/// A restore of `archive` with the extra `args` into a new database.
fn restore(name: &str, archive: &str, args: &[&str]) -> TestDb {
    let dst = shared_cluster().create_database(name);
    let c = dst.conn_string();
    let mut all = vec!["restore", "--target", c.as_str(), archive];
    all.extend_from_slice(args);
    pgferry_ok(&all);
    dst
}

fn column(db: &TestDb, sql: &str) -> Vec<String> {
    db.query_strings(sql)
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect()
}

#[test]
fn no_publications_leaves_publications_out() {
    let src = shared_cluster().create_database("fs_pub");
    src.execute_batch(
        "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1); \
         CREATE SCHEMA s; CREATE TABLE s.u (id int PRIMARY KEY); \
         CREATE PUBLICATION pub_t FOR TABLE public.t; \
         CREATE PUBLICATION pub_s FOR TABLES IN SCHEMA s;",
    );
    let dir = tempdir();
    let all = dump(&src, dir.path(), "all", &[]);
    assert_eq!(
        of_kind(&listed(&all), "PUBLICATION"),
        ["-.pub_s", "-.pub_t"]
    );
    let without = dump(&src, dir.path(), "without", &["--no-publications"]);
    let l = listed(&without);
    assert!(of_kind(&l, "PUBLICATION").is_empty(), "{l:?}");
    assert_eq!(of_kind(&l, "TABLE"), ["public.t", "s.u"]);

    // restore: the full archive, its publications left out on request.
    let kept = restore("fs_pub_kept", &all, &[]);
    let pubs = "SELECT pubname FROM pg_publication ORDER BY 1";
    assert_eq!(column(&kept, pubs), ["pub_s", "pub_t"]);
    let dst = restore("fs_pub_dst", &all, &["--no-publications"]);
    assert!(column(&dst, pubs).is_empty());
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.t")
            .as_deref(),
        Some("1")
    );
}

#[test]
fn extension_switches_pick_extensions_by_name() {
    let src = shared_cluster().create_database("fs_ext");
    src.execute_batch(
        "CREATE EXTENSION hstore; CREATE EXTENSION citext; \
         CREATE SCHEMA ext; CREATE EXTENSION pg_trgm SCHEMA ext; \
         CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1);",
    );
    let dir = tempdir();
    let all = dump(&src, dir.path(), "all", &[]);
    let exts = |archive: &str| of_kind(&listed(archive), "EXTENSION");
    assert_eq!(exts(&all), ["-.citext", "-.hstore", "-.pg_trgm"]);

    // -e: only the matching extensions; the tables still come (pg_dump's -e
    // selects extensions, not schemas).
    let only = dump(&src, dir.path(), "only", &["-e", "hstore", "-e", "PG_*"]);
    assert_eq!(exts(&only), ["-.hstore", "-.pg_trgm"]);
    assert_eq!(of_kind(&listed(&only), "TABLE"), ["public.t"]);
    // -e wins over -N for the extension, as in pg_dump.
    let n = dump(&src, dir.path(), "n", &["-e", "pg_trgm", "-N", "ext"]);
    assert_eq!(exts(&n), ["-.pg_trgm"]);
    // --exclude-extension: all but those.
    let but = dump(&src, dir.path(), "but", &["--exclude-extension", "citext"]);
    assert_eq!(exts(&but), ["-.hstore", "-.pg_trgm"]);

    // Restore applies them to an archive.
    let dst = restore("fs_ext_dst", &all, &["--exclude-extension", "c*"]);
    let installed = "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1";
    assert_eq!(column(&dst, installed), ["hstore", "pg_trgm"]);
    let dst = restore("fs_ext_only", &all, &["-e", "citext"]);
    assert_eq!(column(&dst, installed), ["citext"]);
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.t")
            .as_deref(),
        Some("1")
    );
}

#[test]
fn an_extension_pattern_matching_nothing_is_refused() {
    let src = shared_cluster().create_database("fs_ext_none");
    src.execute_batch("CREATE EXTENSION hstore; CREATE TABLE public.t (id int);");
    let dir = tempdir();
    let archive = dir.path().join("none.pgf");
    let archive = archive.to_str().unwrap();
    let c = src.conn_string();
    let out = pgferry(&["dump", "--source", &c, "-o", archive, "-e", "hstor"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no matching extensions were found for pattern \"hstor\""),
        "{}",
        stderr(&out)
    );
    assert!(!Path::new(archive).exists());
    // A matching one goes through; the same pattern on restore is refused too.
    let archive = dump(&src, dir.path(), "ok", &["-e", "hstore"]);
    let dst = shared_cluster().create_database("fs_ext_none_dst");
    let out = pgferry(&[
        "restore",
        "--target",
        &dst.conn_string(),
        &archive,
        "-e",
        "citext",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no matching extensions were found for pattern \"citext\""),
        "{}",
        stderr(&out)
    );
}

/// A partition tree two levels deep with a partition in another schema, an
/// inheritance child, and an unrelated table; one row in each leaf.
fn tree_db(name: &str) -> TestDb {
    let src = shared_cluster().create_database(name);
    src.execute_batch(
        "CREATE TABLE public.m (id int, d date) PARTITION BY RANGE (d); \
         CREATE TABLE public.m_2024 PARTITION OF public.m \
           FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (d); \
         CREATE TABLE public.m_2024_h1 PARTITION OF public.m_2024 \
           FOR VALUES FROM ('2024-01-01') TO ('2024-07-01'); \
         CREATE TABLE public.m_2024_h2 PARTITION OF public.m_2024 \
           FOR VALUES FROM ('2024-07-01') TO ('2025-01-01'); \
         CREATE SCHEMA arch; CREATE TABLE arch.m_2023 PARTITION OF public.m \
           FOR VALUES FROM ('2023-01-01') TO ('2024-01-01'); \
         INSERT INTO public.m VALUES (1, '2023-05-01'), (2, '2024-02-01'), (3, '2024-09-01'); \
         CREATE TABLE public.log (id int, msg text); \
         CREATE TABLE public.log_old () INHERITS (public.log); \
         INSERT INTO public.log VALUES (1, 'new'); INSERT INTO public.log_old VALUES (2, 'old'); \
         CREATE TABLE public.other (id int); INSERT INTO public.other VALUES (1);",
    );
    src
}

const TREE: [&str; 5] = [
    "arch.m_2023",
    "public.m",
    "public.m_2024",
    "public.m_2024_h1",
    "public.m_2024_h2",
];

#[test]
fn table_and_children_takes_every_partition_and_child() {
    let src = tree_db("fs_tac");
    let dir = tempdir();
    let tables = |archive: &str| of_kind(&listed(archive), "TABLE");
    // -t takes the parent alone...
    let t = dump(&src, dir.path(), "t", &["-t", "public.m"]);
    assert_eq!(tables(&t), ["public.m"]);
    // ...--table-and-children every partition below it, in any schema.
    let tac = dump(
        &src,
        dir.path(),
        "tac",
        &["--table-and-children", "public.m"],
    );
    assert_eq!(tables(&tac), TREE);
    let l = dump(&src, dir.path(), "l", &["--table-and-children", "LOG"]);
    assert_eq!(tables(&l), ["public.log", "public.log_old"]);
    assert_eq!(
        of_kind(&listed(&l), "TABLE DATA"),
        ["public.log", "public.log_old"]
    );
    // The dump restores: the whole tree with its rows (-t dumps no schemas).
    let dst = shared_cluster().create_database("fs_tac_dst");
    dst.execute_batch("CREATE SCHEMA arch");
    pgferry_ok(&["restore", "--target", &dst.conn_string(), &tac]);
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.m")
            .as_deref(),
        Some("3")
    );
    // Restore picks the same tree out of a whole-database archive.
    let all = dump(&src, dir.path(), "all", &[]);
    let dst = shared_cluster().create_database("fs_tac_from_all");
    dst.execute_batch("CREATE SCHEMA arch");
    pgferry_ok(&[
        "restore",
        "--target",
        &dst.conn_string(),
        &all,
        "--table-and-children",
        "public.m",
    ]);
    assert_eq!(
        column(
            &dst,
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'arch') ORDER BY 1"
        ),
        ["arch.m_2023", "m", "m_2024", "m_2024_h1", "m_2024_h2"]
    );
}

#[test]
fn exclude_table_and_children_drops_a_whole_subtree() {
    let src = tree_db("fs_etac");
    let dir = tempdir();
    let tables = |archive: &str| of_kind(&listed(archive), "TABLE");
    // -T leaves the partitions of the excluded one in...
    let t = dump(&src, dir.path(), "t", &["-T", "public.m_2024"]);
    assert!(tables(&t).contains(&"public.m_2024_h1".to_string()));
    // ...--exclude-table-and-children takes them out too.
    let e = dump(
        &src,
        dir.path(),
        "e",
        &["--exclude-table-and-children", "public.m_2024"],
    );
    assert_eq!(
        tables(&e),
        [
            "arch.m_2023",
            "public.log",
            "public.log_old",
            "public.m",
            "public.other"
        ]
    );
    let dst = restore("fs_etac_dst", &e, &[]);
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.m")
            .as_deref(),
        Some("1")
    );
    // On restore, from a whole archive.
    let all = dump(&src, dir.path(), "all", &[]);
    let dst = restore("fs_etac_r", &all, &["--exclude-table-and-children", "m"]);
    assert_eq!(
        column(
            &dst,
            "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') \
             AND relnamespace IN ('public'::regnamespace, 'arch'::regnamespace) ORDER BY 1"
        ),
        ["log", "log_old", "other"]
    );
}

#[test]
fn exclude_table_data_and_children_keeps_definitions_only() {
    let src = tree_db("fs_etdac");
    let dir = tempdir();
    let data = |archive: &str| of_kind(&listed(archive), "TABLE DATA");
    // --exclude-table-data leaves the child's rows in...
    let d = dump(
        &src,
        dir.path(),
        "d",
        &["--exclude-table-data", "public.log"],
    );
    assert!(data(&d).contains(&"public.log_old".to_string()));
    // ...the -and-children form takes them out, the definitions stay.
    let e = dump(
        &src,
        dir.path(),
        "e",
        &["--exclude-table-data-and-children", "public.log"],
    );
    assert!(
        !data(&e).iter().any(|t| t.starts_with("public.log")),
        "{:?}",
        data(&e)
    );
    assert!(data(&e).contains(&"public.other".to_string()));
    let l = listed(&e);
    assert!(of_kind(&l, "TABLE").contains(&"public.log_old".to_string()));
    let dst = restore("fs_etdac_dst", &e, &[]);
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.log")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.m")
            .as_deref(),
        Some("3")
    );
    // The partitions of a partitioned table, on restore.
    let all = dump(&src, dir.path(), "all", &[]);
    let dst = restore(
        "fs_etdac_r",
        &all,
        &["--exclude-table-data-and-children", "public.m"],
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.m")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.log")
            .as_deref(),
        Some("2")
    );
}

#[test]
fn sync_and_verify_resolve_children_on_the_target_too() {
    let src = tree_db("fs_sync_src");
    let dst = shared_cluster().create_database("fs_sync_dst");
    let (s, t) = (src.conn_string(), dst.conn_string());
    pgferry_ok(&["sync", "--source", &s, "--target", &t]);
    // The replica's own rows in the excluded tree, and a change on the source.
    dst.execute_batch("INSERT INTO public.m VALUES (10, '2024-03-01'), (11, '2023-03-01')");
    src.execute_batch("INSERT INTO public.other VALUES (2)");
    let tree = "SELECT count(*) FROM public.m";
    assert_eq!(dst.query_one_string(tree).as_deref(), Some("5"));
    // Incremental and full syncs; the full one replaces the schemas, so the
    // excluded partitions are held aside with their parent. (A -T pattern
    // naming every table of the tree holds them as well.)
    for extra in [
        &["--exclude-table-and-children", "public.m"][..],
        &["--exclude-table-and-children", "public.m", "--full"],
        &["-T", "*.m*", "--full"],
    ] {
        let mut args = vec!["sync", "--source", &s, "--target", &t];
        args.extend_from_slice(extra);
        let out = pgferry_ok(&args);
        assert_eq!(
            dst.query_one_string(tree).as_deref(),
            Some("5"),
            "{extra:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.other")
            .as_deref(),
        Some("2")
    );
    // verify leaves the tree out on both sides; without the switch it differs.
    let out = pgferry(&[
        "verify",
        "--source",
        &s,
        "--target",
        &t,
        "--exclude-table-and-children",
        "public.m",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = pgferry(&["verify", "--source", &s, "--target", &t]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn a_filter_file_selects_what_the_same_flags_select() {
    let src = shared_cluster().create_database("fs_file");
    src.execute_batch(
        r#"CREATE EXTENSION hstore; CREATE EXTENSION citext;
           CREATE SCHEMA app; CREATE SCHEMA "Other"; CREATE SCHEMA junk;
           CREATE TABLE app.orders (id int PRIMARY KEY); INSERT INTO app.orders VALUES (1), (2);
           CREATE TABLE app.tmp_1 (id int); CREATE TABLE app.audit (id int); INSERT INTO app.audit VALUES (1);
           CREATE TABLE app.m (id int, d date) PARTITION BY RANGE (d);
           CREATE TABLE app.m_2023 PARTITION OF app.m FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
           CREATE TABLE app.m_2024 PARTITION OF app.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
             PARTITION BY RANGE (d);
           CREATE TABLE app.m_2024_h1 PARTITION OF app.m_2024 FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
           INSERT INTO app.m VALUES (1, '2023-03-01'), (2, '2024-03-01');
           CREATE TABLE "Other"."Big Table" (id int); INSERT INTO "Other"."Big Table" VALUES (7);
           CREATE TABLE junk.x (id int);"#,
    );
    let dir = tempdir();
    let flags = [
        "-n",
        "app",
        "-n",
        r#""Other""#,
        "-T",
        "app.tmp_*",
        "--exclude-table-data",
        "app.audit",
        "--exclude-table-and-children",
        "app.m_2024",
        "-e",
        "hstore",
    ];
    let by_flags = listed(&dump(&src, dir.path(), "flags", &flags));
    let file = dir.path().join("filter.txt");
    std::fs::write(
        &file,
        "# the same selection as the flags\n\
         include schema app\n\
         \n\
         INCLUDE Schema \"Other\"   # quoted: case kept\n\
         exclude table app . tmp_*\n\
         exclude table_data app.audit\n\
         exclude table_and_children app.m_2024\n\
         include extension hstore\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let by_file = listed(&dump(&src, dir.path(), "file", &["--filter", file]));
    assert_eq!(by_flags, by_file);
    // The selection did select: against the whole database's list.
    let whole = listed(&dump(&src, dir.path(), "whole", &[]));
    assert_ne!(whole, by_file);
    assert_eq!(
        of_kind(&by_file, "TABLE"),
        [
            "Other.Big Table",
            "app.audit",
            "app.m",
            "app.m_2023",
            "app.orders"
        ]
    );
    assert_eq!(
        of_kind(&by_file, "TABLE DATA"),
        ["Other.Big Table", "app.m_2023", "app.orders"]
    );
    assert_eq!(of_kind(&by_file, "EXTENSION"), ["-.hstore"]);
    // A file's patterns add to the flags', as several files' do.
    let part = dir.path().join("part.txt");
    std::fs::write(
        &part,
        "exclude table_data app.audit\ninclude extension hstore\n",
    )
    .unwrap();
    let rest = dir.path().join("rest.txt");
    std::fs::write(&rest, "exclude table_and_children app.m_2024\n").unwrap();
    let mixed = listed(&dump(
        &src,
        dir.path(),
        "mixed",
        &[
            "-n",
            "app",
            "-n",
            r#""Other""#,
            "-T",
            "app.tmp_*",
            "--filter",
            part.to_str().unwrap(),
            "--filter",
            rest.to_str().unwrap(),
        ],
    ));
    assert_eq!(mixed, by_flags);
    // Restore takes a filter file too.
    let all = dump(&src, dir.path(), "all", &[]);
    let dst = shared_cluster().create_database("fs_file_dst");
    let only = dir.path().join("only.txt");
    std::fs::write(&only, "include table \"Other\".\"Big Table\"\n").unwrap();
    dst.execute_batch(r#"CREATE SCHEMA "Other""#);
    pgferry_ok(&[
        "restore",
        "--target",
        &dst.conn_string(),
        &all,
        "--filter",
        only.to_str().unwrap(),
    ]);
    assert_eq!(
        column(
            &dst,
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('app', 'Other', 'junk') ORDER BY 1"
        ),
        [r#""Other"."Big Table""#]
    );
}

#[test]
fn a_malformed_filter_file_is_refused_naming_its_line() {
    let src = shared_cluster().create_database("fs_bad_file");
    src.execute_batch("CREATE TABLE public.t (id int);");
    let dir = tempdir();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "# fine so far\ninclude table t\ninclude tabel t\n").unwrap();
    let bad = bad.to_str().unwrap();
    let archive = dir.path().join("x.pgf");
    let archive = archive.to_str().unwrap();
    let c = src.conn_string();
    let out = pgferry(&["dump", "--source", &c, "-o", archive, "--filter", bad]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let want = format!("--filter {bad} line 3: unknown object type 'tabel'");
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(!Path::new(archive).exists());
    // pg_restore's selections are refused by name, on restore as on dump.
    let good = dump(&src, dir.path(), "good", &[]);
    let restore_only = dir.path().join("func.txt");
    std::fs::write(&restore_only, "include function f(int)\n").unwrap();
    let dst = shared_cluster().create_database("fs_bad_file_dst");
    let out = pgferry(&[
        "restore",
        "--target",
        &dst.conn_string(),
        &good,
        "--filter",
        restore_only.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 1: 'include function' is not supported"),
        "{}",
        stderr(&out)
    );
    // A missing file.
    let out = pgferry(&[
        "dump",
        "--source",
        &c,
        "-o",
        archive,
        "--filter",
        "/nonexistent/filter.txt",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--filter /nonexistent/filter.txt: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn strict_names_and_no_tablespaces_are_accepted() {
    let src = shared_cluster().create_database("fs_noop");
    src.execute_batch("CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1);");
    let dir = tempdir();
    let plain = listed(&dump(&src, dir.path(), "plain", &[]));
    let noop = listed(&dump(
        &src,
        dir.path(),
        "noop",
        &["--strict-names", "--no-tablespaces"],
    ));
    assert_eq!(plain, noop);
    // --strict-names is what pgferry always does: a pattern matching nothing fails.
    let archive = dir.path().join("strict.pgf");
    let out = pgferry(&[
        "dump",
        "--source",
        &src.conn_string(),
        "-o",
        archive.to_str().unwrap(),
        "--strict-names",
        "-t",
        "nope",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no matching tables were found for pattern \"nope\""),
        "{}",
        stderr(&out)
    );
    // Restore accepts them too.
    let all = dump(&src, dir.path(), "all", &[]);
    let dst = restore("fs_noop_dst", &all, &["--strict-names", "--no-tablespaces"]);
    assert_eq!(
        dst.query_one_string("SELECT count(*) FROM public.t")
            .as_deref(),
        Some("1")
    );
}
