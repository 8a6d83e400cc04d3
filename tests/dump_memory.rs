//! Dumping a 1 GB table streams: the dump's peak RSS stays far below the
//! table's size (the binary reports its own VmHWM at the end).
mod common;

use common::*;
use pgferry_testkit::shared_cluster;

#[test]
fn dump_of_a_1gb_table_stays_under_100mb_rss() {
    let db = shared_cluster().create_database("big");
    db.execute_batch(
        "CREATE UNLOGGED TABLE public.big (id int, body text); \
         INSERT INTO public.big SELECT i, repeat(md5(i::text), 32) FROM generate_series(1, 1000000) i;",
    );
    let bytes: i64 = db
        .query_one_string("SELECT pg_total_relation_size('public.big')")
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes >= 1_000_000_000, "table is only {bytes} bytes");
    let dir = tempdir();
    let archive = dir.path().join("big.pgf");
    let out = pgferry_ok(&[
        "--log-format",
        "json",
        "dump",
        "--source",
        &db.conn_string(),
        "-o",
        archive.to_str().unwrap(),
    ]);
    let log = stderr(&out);
    let finished = log
        .lines()
        .find(|l| l.contains("dump finished"))
        .unwrap_or_else(|| panic!("no summary line in {log}"));
    let v: serde_json::Value = serde_json::from_str(finished).unwrap();
    let rss_kb = v["fields"]["peak_rss_kb"].as_u64().unwrap();
    let rows = v["fields"]["rows"].as_u64().unwrap();
    let raw = v["fields"]["raw_bytes"].as_u64().unwrap();
    assert_eq!(rows, 1_000_000);
    assert!(raw >= 1_000_000_000, "COPY stream was {raw} bytes");
    assert!(rss_kb > 0 && rss_kb < 100 * 1024, "peak RSS {rss_kb} KiB");
    eprintln!("dumped {raw} bytes with peak RSS {rss_kb} KiB");
}
