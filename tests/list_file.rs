//! `pgferry list` prints a list file and `restore -L` takes it back
//! (pg_restore's `-l` / `-L`): the listing restores the whole archive,
//! commented lines are left out, a chosen few restore alone in the list's
//! order (with and without `-j`), and bad lists are refused before the
//! target is touched.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use pgferry_testkit::{shared_cluster, TestDb};

/// The fixture database, its archive and `pgferry list` of it.
struct Dumped {
    src: TestDb,
    dir: tempfile::TempDir,
    archive: String,
    listing: String,
}

fn dumped(name: &str) -> Dumped {
    let cluster = shared_cluster();
    let src = cluster.create_database(&format!("{name}_src"));
    src.load_fixture_for_major(cluster.major_version());
    let dir = tempdir();
    let archive = dir.path().join("fixture.pgf").to_str().unwrap().to_string();
    pgferry_ok(&["dump", "--source", &src.conn_string(), "-o", &archive]);
    let listing = String::from_utf8(pgferry_ok(&["list", &archive]).stdout).unwrap();
    Dumped {
        src,
        dir,
        archive,
        listing,
    }
}

impl Dumped {
    /// Writes `text` as a list file next to the archive.
    fn list_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// The object lines of a listing.
fn objects(listing: &str) -> Vec<&str> {
    listing
        .lines()
        .filter(|l| !l.trim_start().starts_with(';') && !l.trim().is_empty())
        .collect()
}

/// The one object line whose text after `ID; ` starts with `what`
/// (`"TABLE public select "`), and its id.
fn line_of<'a>(listing: &'a str, what: &str) -> (&'a str, u32) {
    let found: Vec<&str> = objects(listing)
        .into_iter()
        .filter(|l| {
            l.split_once("; ")
                .is_some_and(|(_, rest)| rest.starts_with(what))
        })
        .collect();
    assert_eq!(found.len(), 1, "{what:?} in:\n{listing}");
    let id = found[0].split_once(';').unwrap().0.parse().unwrap();
    (found[0], id)
}

fn restore_with_list(
    dst: &TestDb,
    list: &Path,
    archive: &str,
    extra: &[&str],
) -> std::process::Output {
    let target = dst.conn_string();
    let list = list.to_str().unwrap();
    let mut args = vec!["restore", "--target", &target, "-L", list];
    args.extend_from_slice(extra);
    args.push(archive);
    pgferry(&args)
}

/// User tables of a database.
fn tables(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname !~ '^pg_' ORDER BY 1",
    )
}

#[test]
fn the_listing_fed_back_restores_the_same_database() {
    let d = dumped("lf_whole");
    // Header comments, then one parsable line per object.
    assert!(
        d.listing.starts_with("; pgferry archive of database"),
        "{}",
        d.listing
    );
    let lines = objects(&d.listing);
    assert!(lines.len() > 100, "{}", d.listing);
    for l in &lines {
        let (id, _) = l.split_once("; ").unwrap_or_else(|| panic!("{l:?}"));
        assert!(id.parse::<u32>().is_ok(), "{l:?}");
    }
    // A name holding `;` stays on its line; table data says its rows after `;`.
    let (injection, _) = line_of(
        &d.listing,
        "TABLE DATA public x\"; DROP TABLE public.users; -- ",
    );
    assert!(injection.contains(" -- -; 2 rows, "), "{injection}");
    let list = d.list_file("whole.list", &d.listing);
    let dst = shared_cluster().create_database("lf_whole_dst");
    let out = restore_with_list(&dst, &list, &d.archive, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_same_database(&d.src, &dst);
}

#[test]
fn a_commented_out_table_data_line_restores_that_table_empty() {
    let d = dumped("lf_comment");
    let table = "\"x\"\"; DROP TABLE public.users; --\"";
    let (line, _) = line_of(
        &d.listing,
        "TABLE DATA public x\"; DROP TABLE public.users; -- ",
    );
    let edited = d.listing.replace(line, &format!("  ;{line}"));
    assert_ne!(edited, d.listing);
    let list = d.list_file("commented.list", &edited);
    let dst = shared_cluster().create_database("lf_comment_dst");
    let out = restore_with_list(&dst, &list, &d.archive, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let count = format!("SELECT count(*)::text FROM {table}");
    assert_eq!(d.src.query_one_string(&count).as_deref(), Some("2"));
    assert_eq!(dst.query_one_string(&count).as_deref(), Some("0"));
    // Everything else came: the same schema, every other table's rows.
    assert_eq!(
        pgferry_testkit::pg_dump_schema(&d.src),
        pgferry_testkit::pg_dump_schema(&dst)
    );
    let others = |db: &TestDb| -> Vec<Vec<Option<String>>> {
        table_contents(db)
            .into_iter()
            .filter(|r| r[0].as_deref() != Some(table))
            .collect()
    };
    let (a, b) = (table_contents(&d.src), others(&d.src));
    assert_eq!(a.len(), b.len() + 1, "the left-out table is among them");
    assert_eq!(b, others(&dst));
    assert_eq!(sequences(&d.src), sequences(&dst));
}

#[test]
fn a_few_listed_objects_restore_alone_in_the_lists_order() {
    let d = dumped("lf_few");
    // Definitions and data interleaved: a table's data before another
    // schema and table are created (restore -j must still get it right).
    let text = [
        "; chosen by hand",
        line_of(&d.listing, "TABLE public select ").0,
        line_of(&d.listing, "TABLE DATA public select ").0,
        "",
        line_of(&d.listing, "SCHEMA - Sales Data ").0,
        line_of(&d.listing, "TABLE Sales Data Ünïcødé tåble ").0,
        line_of(&d.listing, "TABLE DATA Sales Data Ünïcødé tåble ").0,
    ]
    .join("\n");
    let list = d.list_file("few.list", &text);
    let wanted = ["\"Sales Data\".\"Ünïcødé tåble\"", "\"select\""];
    let contents_of = |db: &TestDb| -> Vec<Vec<Option<String>>> {
        table_contents(db)
            .into_iter()
            .filter(|r| wanted.contains(&r[0].as_deref().unwrap_or("")))
            .collect()
    };
    let expected = contents_of(&d.src);
    assert_eq!(expected.len(), 2, "{expected:?}");
    for jobs in ["1", "2"] {
        let dst = shared_cluster().create_database(&format!("lf_few_dst_j{jobs}"));
        let out = restore_with_list(&dst, &list, &d.archive, &["-j", jobs]);
        assert!(out.status.success(), "-j {jobs}: {}", stderr(&out));
        let got: Vec<String> = tables(&dst)
            .into_iter()
            .filter_map(|r| r[0].clone())
            .collect();
        assert_eq!(got, wanted, "-j {jobs}: only the listed tables");
        assert_eq!(contents_of(&dst), expected, "-j {jobs}");
        assert_eq!(
            dst.query_strings(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' \
                 AND nspname <> 'information_schema' ORDER BY 1"
            ),
            vec![
                vec![Some("Sales Data".to_string())],
                vec![Some("public".to_string())]
            ],
            "-j {jobs}: no other schema"
        );
    }
    // Intersected with the filters: -t keeps one of the two.
    let dst = shared_cluster().create_database("lf_few_dst_t");
    let out = restore_with_list(&dst, &list, &d.archive, &["-t", "public.select"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<String> = tables(&dst)
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect();
    assert_eq!(got, ["\"select\""]);
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM public.\"select\"")
            .as_deref(),
        Some("2")
    );
    // ... and with --schema-only: the tables, no rows.
    let dst = shared_cluster().create_database("lf_few_dst_s");
    let out = restore_with_list(&dst, &list, &d.archive, &["--schema-only"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<String> = tables(&dst)
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect();
    assert_eq!(got, wanted);
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM public.\"select\"")
            .as_deref(),
        Some("0")
    );
}

/// A target holding one marker table, and what it holds.
fn marked_target(name: &str) -> (TestDb, Vec<Vec<Option<String>>>) {
    let dst = shared_cluster().create_database(name);
    dst.execute_batch("CREATE TABLE public.marker (x int); INSERT INTO public.marker VALUES (42);");
    let before = table_contents(&dst);
    assert_eq!(before.len(), 1);
    (dst, before)
}

#[test]
fn data_listed_before_its_table_is_refused_naming_both() {
    let d = dumped("lf_order");
    let (table_line, table_id) = line_of(&d.listing, "TABLE public select ");
    let (data_line, data_id) = line_of(&d.listing, "TABLE DATA public select ");
    let mut lines: Vec<&str> = d.listing.lines().filter(|l| *l != data_line).collect();
    let at = lines.iter().position(|l| *l == table_line).unwrap();
    lines.insert(at, data_line);
    let list = d.list_file("reordered.list", &lines.join("\n"));
    let (dst, before) = marked_target("lf_order_dst");
    let expected = format!(
        "list file {} orders TABLE DATA public.select (id {data_id}) before TABLE public.select (id {table_id}), \
         which it depends on",
        list.display()
    );
    for jobs in ["1", "4"] {
        let out = restore_with_list(&dst, &list, &d.archive, &["-j", jobs]);
        assert_eq!(out.status.code(), Some(2), "-j {jobs}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&expected),
            "-j {jobs}: {}",
            stderr(&out)
        );
        assert_eq!(
            table_contents(&dst),
            before,
            "-j {jobs}: the target is untouched"
        );
    }
    // The listing's own order goes through on the same target.
    let list = d.list_file("ordered.list", &d.listing);
    let out = restore_with_list(&dst, &list, &d.archive, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_garbage_line_an_unknown_id_or_a_missing_file_is_refused() {
    let d = dumped("lf_bad");
    let (dst, before) = marked_target("lf_bad_dst");
    let mut lines: Vec<&str> = d.listing.lines().collect();
    lines.insert(2, "TABLE public oops postgres");
    let garbage = d.list_file("garbage.list", &lines.join("\n"));
    let unknown = d.list_file(
        "unknown.list",
        &format!("{}999999; TABLE public nowhere -\n", d.listing),
    );
    let first = objects(&d.listing)[0];
    let twice = d.list_file("twice.list", &format!("{}{first}\n", d.listing));
    let missing = d.dir.path().join("missing.list");
    for (list, message) in [
        (
            &garbage,
            format!(
                "list file {}, line 3: expected an object id before the first ';', found \"TABLE public oops postgres\"",
                garbage.display()
            ),
        ),
        (
            &unknown,
            format!(
                "list file {}, line {}: id 999999 is not in the archive",
                unknown.display(),
                d.listing.lines().count() + 1
            ),
        ),
        (&twice, format!("list file {}, line {}: id", twice.display(), d.listing.lines().count() + 1)),
        (&missing, format!("list file {}: No such file", missing.display())),
    ] {
        let out = restore_with_list(&dst, list, &d.archive, &[]);
        assert_eq!(out.status.code(), Some(2), "{}: {}", list.display(), stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&message), "expected {message:?} in:\n{err}");
        assert_eq!(err.matches("pgferry: error:").count(), 1, "{err}");
        assert_eq!(table_contents(&dst), before, "{}: the target is untouched", list.display());
    }
}
