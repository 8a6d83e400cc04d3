//! Incremental `sync` (issue #13): a table whose definition and content are
//! unchanged is kept (not written, its planner statistics untouched), a
//! keyed table with a few differing rows gets exactly those rows (delta), a
//! keyless or mostly changed table is emptied and copied (replaced), and a
//! table whose definition changed is dropped and created again (rebuilt).
//! Drift on the replica is found from the data and repaired; an interrupted
//! incremental sync leaves the replica exactly as it was; readers of
//! unchanged tables are not terminated; `pgferry.sync_history` records the
//! mode and `pgferry.sync_history_tables` what was done to each table.
//!
//! Every replica first gets a `--full` sync; the tests then change the
//! source (or the replica) and run an incremental one. The report comes from
//! the library (`pgferry_engine::sync`), exit codes from the real binary.
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::*;
use pgferry_engine::{ConnSpec, Filters, SyncOptions, SyncReport, TableAction, VerifyMode};
use pgferry_testkit::{shared_cluster, TestDb};

/// A library sync still running after this long hangs.
const SYNC_HANG: Duration = Duration::from_secs(120);

/// An application's tables of every shape the incremental sync tells
/// apart, analyzed, autovacuum off so that nothing but a sync changes their
/// statistics: `customers` (primary key, referenced by `orders`), `orders`
/// (bigserial key, an index, a foreign key), `order_lines` (composite
/// primary key), `skus` (only a UNIQUE NOT NULL key), `events` (no key,
/// two identical rows), `tags` (only a UNIQUE key over a nullable column),
/// `accounts` (primary key and a second unique key), `measures` (a column of
/// a domain), and a view over two of them.
const APP: &str = "\
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS int CONSTRAINT positive_check CHECK (VALUE > 0);
CREATE TABLE app.customers (id int PRIMARY KEY, name text NOT NULL, email text, mood app.mood, since date)
  WITH (autovacuum_enabled = off);
INSERT INTO app.customers SELECT g, 'customer ' || g, CASE WHEN g % 5 <> 0 THEN 'c' || g || '@example.com' END,
  (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::app.mood, date '2020-01-01' + g FROM generate_series(1, 2000) g;
CREATE TABLE app.orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES app.customers (id),
  amount numeric(12,2) NOT NULL, note text) WITH (autovacuum_enabled = off);
INSERT INTO app.orders (customer_id, amount, note) SELECT 1 + g % 1000, (g % 997) * 1.25,
  CASE WHEN g % 3 = 0 THEN 'note ' || g END FROM generate_series(1, 5000) g;
CREATE INDEX orders_customer ON app.orders (customer_id);
CREATE TABLE app.order_lines (order_id bigint NOT NULL REFERENCES app.orders (id), line int NOT NULL,
  sku text NOT NULL, qty int NOT NULL, PRIMARY KEY (order_id, line)) WITH (autovacuum_enabled = off);
INSERT INTO app.order_lines SELECT o, l, 'sku-' || ((o * 7 + l) % 300), 1 + (o + l) % 9
  FROM generate_series(1, 5000) o, generate_series(1, 2) l;
CREATE TABLE app.skus (code text NOT NULL UNIQUE, title text, price numeric(10,2)) WITH (autovacuum_enabled = off);
INSERT INTO app.skus SELECT 'sku-' || g, 'Item ' || g, g * 0.5 FROM generate_series(0, 299) g;
CREATE TABLE app.events (at timestamptz NOT NULL, kind text, payload jsonb) WITH (autovacuum_enabled = off);
INSERT INTO app.events SELECT timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', 'kind ' || (g % 4),
  jsonb_build_object('n', g) FROM generate_series(1, 1000) g;
INSERT INTO app.events VALUES ('2024-06-01 00:00+00', 'twice', '{\"dup\": true}'), ('2024-06-01 00:00+00', 'twice', '{\"dup\": true}');
CREATE TABLE app.tags (label text UNIQUE, uses int) WITH (autovacuum_enabled = off);
INSERT INTO app.tags SELECT 'tag ' || g, g FROM generate_series(1, 200) g;
INSERT INTO app.tags VALUES (NULL, 0), (NULL, 0);
CREATE TABLE app.accounts (id int PRIMARY KEY, code text NOT NULL UNIQUE, balance numeric) WITH (autovacuum_enabled = off);
INSERT INTO app.accounts SELECT g, 'acct-' || g, g * 10.5 FROM generate_series(1, 500) g;
CREATE TABLE app.measures (id int PRIMARY KEY, v app.positive) WITH (autovacuum_enabled = off);
INSERT INTO app.measures SELECT g, g FROM generate_series(1, 300) g;
CREATE VIEW app.big_orders AS SELECT o.id, c.name, o.amount FROM app.orders o
  JOIN app.customers c ON c.id = o.customer_id WHERE o.amount > 1000;
ANALYZE app.customers; ANALYZE app.orders; ANALYZE app.order_lines; ANALYZE app.skus; ANALYZE app.events;
ANALYZE app.tags; ANALYZE app.accounts; ANALYZE app.measures;";

/// The tables of [`APP`], as the report names them.
const APP_TABLES: [&str; 8] = [
    "app.accounts",
    "app.customers",
    "app.events",
    "app.measures",
    "app.order_lines",
    "app.orders",
    "app.skus",
    "app.tags",
];

fn spec(db: &TestDb) -> ConnSpec {
    ConnSpec::parse(&db.conn_string()).expect("the test's connection string parses")
}

/// Incremental sync (the default), verified with checksums.
fn incremental() -> SyncOptions {
    SyncOptions {
        verify: VerifyMode::Checksums,
        ..Default::default()
    }
}

/// `--full`, verified with checksums.
fn full() -> SyncOptions {
    SyncOptions {
        full: true,
        verify: VerifyMode::Checksums,
        ..Default::default()
    }
}

/// Runs the library's sync; a run still going after [`SYNC_HANG`] fails the test.
async fn try_sync(
    src: &TestDb,
    dst: &TestDb,
    opts: &SyncOptions,
) -> Result<SyncReport, pgferry_engine::Error> {
    let (source, target) = (spec(src), spec(dst));
    let run = pgferry_engine::sync(&source, &target, opts);
    match tokio::time::timeout(SYNC_HANG, run).await {
        Ok(result) => result,
        Err(_) => panic!("the sync still runs after {SYNC_HANG:?}: it hangs"),
    }
}

/// A sync that must succeed and verify identical.
async fn sync_ok(src: &TestDb, dst: &TestDb, opts: &SyncOptions) -> SyncReport {
    let r = try_sync(src, dst, opts)
        .await
        .unwrap_or_else(|e| panic!("sync (full: {}) failed: {e:#}", opts.full));
    if let Some(v) = &r.verification {
        assert!(
            v.is_identical(),
            "the sync's own verification found differences: {v:?}\n{}",
            actions(&r)
        );
    }
    r
}

/// The report's table actions, one per line, for failure messages.
fn actions(r: &SyncReport) -> String {
    let mut s = format!(
        "report: full = {}, fallback = {:?}, rows = {}, terminated sessions = {}\n",
        r.full, r.fallback, r.rows, r.terminated_sessions
    );
    if r.table_actions.is_empty() {
        s.push_str("  (no table actions reported)\n");
    }
    for t in &r.table_actions {
        writeln!(
            s,
            "  {}: {} (+{} -{} rows, {} bytes{})",
            t.table,
            t.action.as_str(),
            t.rows_written,
            t.rows_deleted,
            t.bytes,
            if t.by_row_versions {
                ", by row versions"
            } else {
                ""
            }
        )
        .unwrap();
    }
    s
}

/// What one table is expected to get: the action and, when given, the rows
/// written and deleted.
type Expect<'a> = (&'a str, TableAction, Option<u64>, Option<u64>);

/// Asserts an incremental sync (no fallback) reported each of `all` exactly
/// once, did what `expected` says to the tables it names and kept the
/// others without writing or deleting a row.
fn assert_actions(r: &SyncReport, all: &[&str], expected: &[Expect<'_>]) {
    let listing = actions(r);
    assert!(
        !r.full && r.fallback.is_none(),
        "an incremental sync replaced everything:\n{listing}"
    );
    let mut reported: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &r.table_actions {
        *reported.entry(t.table.as_str()).or_default() += 1;
    }
    let wanted: BTreeMap<&str, usize> = all.iter().map(|t| (*t, 1)).collect();
    assert_eq!(
        reported, wanted,
        "the report does not list every synced table once:\n{listing}"
    );
    for t in &r.table_actions {
        let (action, written, deleted) = match expected.iter().find(|e| e.0 == t.table) {
            Some(&(_, a, w, d)) => (a, w, d),
            None => (TableAction::Kept, Some(0), Some(0)),
        };
        assert_eq!(t.action, action, "action of {}:\n{listing}", t.table);
        if let Some(w) = written {
            assert_eq!(t.rows_written, w, "rows written to {}:\n{listing}", t.table);
        }
        if let Some(d) = deleted {
            assert_eq!(
                t.rows_deleted, d,
                "rows deleted from {}:\n{listing}",
                t.table
            );
        }
    }
}

/// Asserts a `--full` sync rebuilt every table of `all`.
fn assert_all_rebuilt(r: &SyncReport, all: &[&str]) {
    let listing = actions(r);
    assert!(r.full, "a --full sync is not reported as full:\n{listing}");
    let mut names: Vec<&str> = r.table_actions.iter().map(|t| t.table.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, all, "tables of the full sync:\n{listing}");
    assert!(
        r.table_actions
            .iter()
            .all(|t| t.action == TableAction::Rebuilt),
        "a --full sync must rebuild every table:\n{listing}"
    );
}

/// A source with [`APP`] and a replica made by a `--full` sync, settled.
async fn app_pair(hint: &str) -> (TestDb, TestDb) {
    let src = shared_cluster().create_database(&format!("{hint}_src"));
    src.execute_batch(APP);
    let dst = shared_cluster().create_database(&format!("{hint}_dst"));
    sync_ok(&src, &dst, &full()).await;
    assert_replica_equals(&src, &dst);
    assert_eq!(
        dst.query_one_string(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'app'::regnamespace AND relkind = 'r' \
             AND array_to_string(reloptions, ',') ~ 'autovacuum_enabled=(off|false)'"
        )
        .as_deref(),
        Some("8"),
        "setup: the replica's tables must have autovacuum off, as the source's"
    );
    settle(&dst);
    (src, dst)
}

/// Waits until pgferry's sessions on `db` are gone: their statistics are
/// flushed when they exit.
fn settle(db: &TestDb) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = db.query_one_string(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'pgferry' \
             AND pid <> pg_backend_pid()",
            db.name()
        ));
        if n.as_deref() == Some("0") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pgferry's sessions on {} did not end",
            db.name()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a sync that keeps `table` must leave as it was: the relation and
/// its file, the planner's estimates, the cumulative statistics (rows
/// inserted/updated/deleted, modifications since and time of the last
/// ANALYZE), its `pg_stats` rows, and where every row version lives.
fn untouched(db: &TestDb, table: &str) -> Vec<(&'static str, Vec<Vec<Option<String>>>)> {
    vec![
        (
            "pg_class",
            db.query_strings(&format!(
                "SELECT oid::text, relfilenode::text, reltuples::text, relpages::text, relallvisible::text \
                 FROM pg_class WHERE oid = '{table}'::regclass"
            )),
        ),
        (
            "pg_stat_user_tables",
            db.query_strings(&format!(
                "SELECT n_tup_ins::text, n_tup_upd::text, n_tup_del::text, n_tup_hot_upd::text, \
                 n_live_tup::text, n_dead_tup::text, n_mod_since_analyze::text, n_ins_since_vacuum::text, \
                 last_analyze::text, last_autoanalyze::text, analyze_count::text, autoanalyze_count::text, \
                 last_vacuum::text, vacuum_count::text \
                 FROM pg_stat_user_tables WHERE relid = '{table}'::regclass"
            )),
        ),
        (
            "pg_stats",
            db.query_strings(&format!(
                "SELECT attname::text, inherited::text, null_frac::text, avg_width::text, n_distinct::text, \
                 most_common_vals::text, most_common_freqs::text, histogram_bounds::text, correlation::text \
                 FROM pg_stats WHERE format('%I.%I', schemaname, tablename) = '{table}' ORDER BY 1, 2"
            )),
        ),
        ("row versions", row_versions(db, table)),
    ]
}

/// `count:md5` of every row version's `ctid@xmin`.
fn row_versions(db: &TestDb, table: &str) -> Vec<Vec<Option<String>>> {
    db.query_strings(&format!(
        "SELECT count(*)::text || ':' || coalesce(md5(string_agg(ctid::text || '@' || xmin::text, ',' ORDER BY ctid)), '') \
         FROM {table}"
    ))
}

/// Asserts `table` is as [`untouched`] saw it before.
fn assert_untouched(
    db: &TestDb,
    table: &str,
    before: &[(&'static str, Vec<Vec<Option<String>>>)],
    what: &str,
) {
    let after = untouched(db, table);
    for ((label, a), (_, b)) in before.iter().zip(&after) {
        assert!(
            a == b,
            "{what}: {label} of {table} changed, but the table was to be kept:\nbefore: {a:?}\nafter:  {b:?}"
        );
    }
}

/// Per-table relation, file and row versions (`ctid@xmin`) of every user
/// table: a rolled-back sync leaves them all as they were.
fn physical(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.query_strings(
        "SELECT c.oid::regclass::text, c.oid::text, c.relfilenode::text, \
           (xpath('/row/h/text()', query_to_xml(format( \
             'SELECT count(*)::text || '':'' || coalesce(md5(string_agg(ctid::text || ''@'' || xmin::text, '','' ORDER BY ctid)), '''') AS h FROM %s', \
             c.oid::regclass), false, true, '')))[1]::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgferry') \
           AND n.nspname !~ '^pg_' ORDER BY 1",
    )
}

/// Everything a failed sync must leave as it was: the schema, the rows (by
/// content and by row version), the sequences.
#[derive(Debug, PartialEq)]
struct Snapshot {
    schema: String,
    contents: Vec<Vec<Option<String>>>,
    sequences: Vec<Vec<Option<String>>>,
    physical: Vec<Vec<Option<String>>>,
}

fn snapshot(db: &TestDb) -> Snapshot {
    Snapshot {
        schema: schema_without_pgferry(db),
        contents: user_contents(db),
        sequences: without_pgferry(sequences(db)),
        physical: physical(db),
    }
}

fn assert_unchanged(before: &Snapshot, db: &TestDb, what: &str) {
    let after = snapshot(db);
    assert!(
        before.schema == after.schema,
        "{what}: the replica's schema changed:\n{}",
        first_difference(&before.schema, &after.schema)
    );
    assert_eq!(
        before.contents, after.contents,
        "{what}: the replica's rows changed"
    );
    assert_eq!(
        before.sequences, after.sequences,
        "{what}: the replica's sequences changed"
    );
    assert_eq!(
        before.physical, after.physical,
        "{what}: the replica's row versions changed"
    );
}

/// `id -> ctid@xmin` of every row of `table` (keyed by `key`).
fn versions_by_key(db: &TestDb, table: &str, key: &str) -> BTreeMap<String, String> {
    db.query_strings(&format!(
        "SELECT ({key})::text, ctid::text || '@' || xmin::text FROM {table}"
    ))
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
    .collect()
}

/// The keys whose row version differs between two [`versions_by_key`] maps
/// (changed or new in `after`), and those gone from it.
fn rewritten(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let changed = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    let gone = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .cloned()
        .collect();
    (changed, gone)
}

fn verify_checksums(src: &TestDb, dst: &TestDb) -> std::process::Output {
    pgferry(&[
        "verify",
        "--checksums",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
    ])
}

// ---------------------------------------------------------------------------
// (a) nothing changed
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_database_is_kept_without_a_write_or_an_analyze() {
    let (src, dst) = app_pair("inc_same").await;
    let before: Vec<_> = APP_TABLES.iter().map(|t| untouched(&dst, t)).collect();
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
    assert_eq!(r.rows, 0, "nothing was to be copied:\n{}", actions(&r));
    settle(&dst);
    for (table, before) in APP_TABLES.iter().zip(&before) {
        assert_untouched(&dst, table, before, "an unchanged database");
    }
    assert_replica_equals(&src, &dst);
    // A second one changes nothing either.
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
    settle(&dst);
    for (table, before) in APP_TABLES.iter().zip(&before) {
        assert_untouched(&dst, table, before, "a second unchanged sync");
    }
}

/// The source's change counters only hint at what changed: writes that
/// leave the rows as they were (an update to the same values, a rolled
/// back insert) move them, and the tables are still kept, from their data.
#[tokio::test(flavor = "multi_thread")]
async fn rows_rewritten_to_the_same_values_are_kept() {
    let (src, dst) = app_pair("inc_rewritten").await;
    // One sync records the source's counters.
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
    let before = untouched(&dst, "app.customers");
    src.execute_batch(
        "UPDATE app.customers SET name = name; \
         BEGIN; INSERT INTO app.accounts SELECT id + 100000, code || 'x', balance FROM app.accounts; ROLLBACK;",
    );
    // Let the source's statistics reach the shared counters.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
    settle(&dst);
    assert_untouched(
        &dst,
        "app.customers",
        &before,
        "rows rewritten to the same values",
    );
    assert_replica_equals(&src, &dst);
}

/// Rules and triggers (`ENABLE ALWAYS` too) do not fire on the delta's
/// writes, and come back enabled as they were; policies named alike on two
/// tables are told apart.
#[tokio::test(flavor = "multi_thread")]
async fn rules_and_triggers_stay_out_of_a_delta_and_same_named_policies_are_told_apart() {
    let (src, dst) = app_pair("inc_rules").await;
    // The trigger writes into a schema the sync leaves alone (-N mine), so
    // what it did on the replica stays visible.
    let mine = "CREATE SCHEMA mine; CREATE TABLE mine.fired (what text);";
    dst.execute_batch(mine);
    src.execute_batch(mine);
    let setup = "CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN INSERT INTO mine.fired VALUES (TG_OP || ' ' || TG_TABLE_NAME); RETURN NULL; END $$; \
         CREATE TRIGGER audit_always AFTER INSERT OR UPDATE OR DELETE ON app.skus \
           FOR EACH ROW EXECUTE FUNCTION app.audit(); \
         ALTER TABLE app.skus ENABLE ALWAYS TRIGGER audit_always; \
         CREATE RULE keep_accounts AS ON DELETE TO app.accounts DO INSTEAD NOTHING; \
         CREATE POLICY same_name ON app.customers USING (id > 0); \
         CREATE POLICY same_name ON app.orders USING (id > 0);";
    src.execute_batch(setup);
    let opts = SyncOptions {
        filters: Filters {
            exclude_schemas: vec!["mine".into()],
            ..Default::default()
        },
        ..incremental()
    };
    sync_ok(&src, &dst, &opts).await;
    // Rows the source lacks, on the replica: the rule would swallow their
    // delete. And a changed row of a table with an ALWAYS trigger.
    dst.execute_batch("INSERT INTO app.accounts VALUES (9001, 'stray', 1)");
    src.execute_batch("UPDATE app.skus SET price = price + 1 WHERE code = 'sku-7'");
    let r = sync_ok(&src, &dst, &opts).await;
    assert!(!r.full, "{}", actions(&r));
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM app.accounts WHERE id = 9001")
            .as_deref(),
        Some("0"),
        "the rule swallowed the delta's delete:\n{}",
        actions(&r)
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM mine.fired")
            .as_deref(),
        Some("0"),
        "the ALWAYS trigger fired on the delta's writes"
    );
    assert_eq!(
        dst.query_strings(
            "SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'audit_always' \
             UNION ALL SELECT ev_enabled::text FROM pg_rewrite WHERE rulename = 'keep_accounts'"
        ),
        vec![vec![Some("A".to_string())], vec![Some("O".to_string())]]
    );
    // One of two policies named alike changes on the source.
    src.execute_batch("ALTER POLICY same_name ON app.orders USING (id > 1)");
    let r = sync_ok(&src, &dst, &opts).await;
    assert!(
        r.table_actions
            .iter()
            .any(|t| t.table == "app.orders" && t.action == TableAction::Rebuilt),
        "the changed policy was missed:\n{}",
        actions(&r)
    );
    for db in [&src, &dst] {
        db.execute_batch("DROP SCHEMA mine CASCADE");
    }
    assert_replica_equals(&src, &dst);
}

/// A rebuilt table comes back with everything of its own, also what is not
/// named after it: an extended statistics object.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_table_keeps_its_extended_statistics() {
    let (src, dst) = app_pair("inc_extstats").await;
    src.execute_batch("CREATE STATISTICS app.customer_pairs ON name, email FROM app.customers");
    sync_ok(&src, &dst, &incremental()).await;
    assert_replica_equals(&src, &dst);
    src.execute_batch("ALTER TABLE app.customers ADD COLUMN tier int");
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert!(
        r.table_actions
            .iter()
            .any(|t| t.table == "app.customers" && t.action == TableAction::Rebuilt),
        "{}",
        actions(&r)
    );
    assert_replica_equals(&src, &dst);
}

/// `--full` keeps today's behaviour: everything rebuilt, even unchanged,
/// and said so in the report and the history.
#[tokio::test(flavor = "multi_thread")]
async fn full_rebuilds_every_table_even_when_nothing_changed() {
    let (src, dst) = app_pair("inc_full").await;
    let file = |db: &TestDb| {
        db.query_one_string(
            "SELECT relfilenode::text FROM pg_class WHERE oid = 'app.customers'::regclass",
        )
    };
    let before = file(&dst);
    let r = sync_ok(&src, &dst, &full()).await;
    assert_all_rebuilt(&r, &APP_TABLES);
    assert_eq!(r.fallback, None, "{}", actions(&r));
    let customers = r
        .table_actions
        .iter()
        .find(|t| t.table == "app.customers")
        .unwrap();
    assert_eq!(customers.rows_written, 2000, "{}", actions(&r));
    assert_ne!(
        before,
        file(&dst),
        "a full sync must create app.customers again"
    );
    assert_eq!(
        dst.query_one_string(&format!(
            "SELECT mode FROM pgferry.sync_history WHERE id = {}",
            r.history_id
        ))
        .as_deref(),
        Some("full")
    );
    assert_replica_equals(&src, &dst);
}

/// With nothing on the target yet, every table is created: reported as
/// rebuilt (whether the sync ran incrementally or fell back to a full one,
/// which the report and the history then say).
#[tokio::test(flavor = "multi_thread")]
async fn a_first_incremental_sync_creates_every_table() {
    let src = shared_cluster().create_database("inc_first_src");
    src.execute_batch(APP);
    let dst = shared_cluster().create_database("inc_first_dst");
    let r = sync_ok(&src, &dst, &incremental()).await;
    let listing = actions(&r);
    let mut names: Vec<&str> = r.table_actions.iter().map(|t| t.table.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, APP_TABLES, "{listing}");
    assert!(
        r.table_actions
            .iter()
            .all(|t| t.action == TableAction::Rebuilt),
        "{listing}"
    );
    assert_eq!(
        r.full,
        r.fallback.is_some(),
        "without --full, a full sync must say why it fell back:\n{listing}"
    );
    assert_eq!(
        dst.query_one_string(&format!(
            "SELECT mode FROM pgferry.sync_history WHERE id = {}",
            r.history_id
        ))
        .as_deref(),
        Some(if r.full { "full" } else { "incremental" }),
        "{listing}"
    );
    assert_replica_equals(&src, &dst);
}

// ---------------------------------------------------------------------------
// (b) a changed definition
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_table_is_rebuilt_and_the_others_keep_their_statistics() {
    let (src, dst) = app_pair("inc_ddl").await;
    let kept = [
        "app.accounts",
        "app.customers",
        "app.measures",
        "app.orders",
        "app.skus",
        "app.tags",
    ];
    let before: Vec<_> = kept.iter().map(|t| untouched(&dst, t)).collect();
    // A column added (with a default, rows unchanged otherwise) and a
    // column's type changed; order_lines references orders, which stays.
    src.execute_batch(
        "ALTER TABLE app.events ADD COLUMN source text DEFAULT 'web'; \
         ALTER TABLE app.order_lines ALTER COLUMN qty TYPE bigint;",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.events", TableAction::Rebuilt, Some(1002), None),
            ("app.order_lines", TableAction::Rebuilt, Some(10000), None),
        ],
    );
    settle(&dst);
    for (table, before) in kept.iter().zip(&before) {
        assert_untouched(&dst, table, before, "beside two rebuilt tables");
    }
    assert_replica_equals(&src, &dst);
    // The rebuilt tables are loaded like any other: analyzed, the new column too.
    assert_eq!(
        dst.query_one_string(
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'app' AND tablename = 'events' AND attname = 'source'"
        )
        .as_deref(),
        Some("1"),
        "the rebuilt app.events has no statistics for its new column"
    );
    assert_eq!(
        dst.query_one_string("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'app.order_lines'::regclass AND attname = 'qty'")
            .as_deref(),
        Some("bigint")
    );
}

/// A changed type (a domain's check) is beyond what is rebuilt one relation
/// at a time.
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_domain_replaces_everything_and_says_why() {
    // A type is not rebuilt one relation at a time (dropping it would take
    // every column of that type): the sync replaces every synced object, in
    // the same transaction, and names the reason.
    let (src, dst) = app_pair("inc_domain").await;
    src.execute_batch(
        "ALTER DOMAIN app.positive DROP CONSTRAINT positive_check; \
         ALTER DOMAIN app.positive ADD CONSTRAINT positive_check CHECK (VALUE > 0 AND VALUE < 1000000);",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert!(r.full, "{}", actions(&r));
    assert_eq!(
        r.fallback.as_deref(),
        Some("DOMAIN app.positive changed"),
        "{}",
        actions(&r)
    );
    assert!(r
        .table_actions
        .iter()
        .all(|t| t.action == TableAction::Rebuilt));
    assert_replica_equals(&src, &dst);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_or_new_function_is_applied_in_place_and_the_tables_kept() {
    let (src, dst) = app_pair("inc_function").await;
    src.execute_batch(
        "CREATE FUNCTION app.label(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'v1:' || i $$",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert!(!r.full, "{}", actions(&r));
    assert_actions(&r, &APP_TABLES, &[]);
    let before = untouched(&dst, "app.accounts");
    src.execute_batch(
        "CREATE OR REPLACE FUNCTION app.label(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'v2:' || i $$",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert!(!r.full, "{}", actions(&r));
    assert_actions(&r, &APP_TABLES, &[]);
    assert_eq!(
        dst.query_one_string("SELECT app.label(7)").as_deref(),
        Some("v2:7")
    );
    settle(&dst);
    assert_untouched(&dst, "app.accounts", &before, "beside a replaced function");
    // A changed result type cannot be replaced in place: the server refuses,
    // and the sync replaces everything instead.
    src.execute_batch(
        "DROP FUNCTION app.label(int); \
         CREATE FUNCTION app.label(i int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT i $$",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert!(r.full && r.fallback.is_some(), "{}", actions(&r));
    assert_eq!(
        dst.query_one_string("SELECT app.label(7)::text").as_deref(),
        Some("7")
    );
    assert_replica_equals(&src, &dst);
}

// ---------------------------------------------------------------------------
// (c) deltas
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn inserted_updated_and_deleted_rows_of_keyed_tables_are_applied_as_a_delta() {
    let (src, dst) = app_pair("inc_delta").await;
    let kept = ["app.accounts", "app.events", "app.measures", "app.tags"];
    let before: Vec<_> = kept.iter().map(|t| untouched(&dst, t)).collect();
    let customers = versions_by_key(&dst, "app.customers", "id");
    let lines = versions_by_key(&dst, "app.order_lines", "(order_id, line)");
    let skus = versions_by_key(&dst, "app.skus", "code");
    let files = |db: &TestDb| {
        db.query_strings(
            "SELECT relname::text, oid::text, relfilenode::text FROM pg_class \
             WHERE oid IN ('app.customers'::regclass, 'app.order_lines'::regclass, 'app.skus'::regclass, 'app.orders'::regclass) \
             ORDER BY 1",
        )
    };
    let files_before = files(&dst);
    src.execute_batch(
        "-- primary key: 3 inserted, 2 updated, 4 deleted (no order references 1500-1503)
         INSERT INTO app.customers VALUES (2001, 'new a', NULL, 'ok', '2024-01-01'), (2002, 'new b', 'b@x', NULL, NULL),
           (2003, 'new c', NULL, NULL, NULL);
         UPDATE app.customers SET name = name || ' (renamed)' WHERE id IN (10, 20);
         DELETE FROM app.customers WHERE id BETWEEN 1500 AND 1503;
         -- composite primary key: 2 inserted, 1 updated, 1 deleted
         INSERT INTO app.order_lines VALUES (1, 3, 'sku-1', 4), (2, 3, 'sku-2', 5);
         UPDATE app.order_lines SET qty = qty + 100 WHERE (order_id, line) = (3, 1);
         DELETE FROM app.order_lines WHERE (order_id, line) = (4, 2);
         -- only a unique not-null key: 1 inserted, 2 updated, 3 deleted
         INSERT INTO app.skus VALUES ('sku-new', 'New', 9.99);
         UPDATE app.skus SET title = title || '!' WHERE code IN ('sku-1', 'sku-2');
         DELETE FROM app.skus WHERE code IN ('sku-297', 'sku-298', 'sku-299');
         -- a bigserial key: 2 inserted (the sequence moves)
         INSERT INTO app.orders (customer_id, amount) VALUES (1, 1.00), (2, 2.00);",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.customers", TableAction::Delta, Some(5), Some(6)),
            ("app.order_lines", TableAction::Delta, Some(3), Some(2)),
            ("app.skus", TableAction::Delta, Some(3), Some(5)),
            ("app.orders", TableAction::Delta, Some(2), Some(0)),
        ],
    );
    assert_replica_equals(&src, &dst);
    // Only the differing rows were written: every other row is the same
    // row version, in the same file.
    let strs = |v: &[&str]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let expect_changed = strs(&["10", "20", "2001", "2002", "2003"]);
    let (changed, gone) = rewritten(&customers, &versions_by_key(&dst, "app.customers", "id"));
    assert_eq!(
        (changed, gone),
        (expect_changed, strs(&["1500", "1501", "1502", "1503"])),
        "rows of app.customers written or removed by the delta"
    );
    let (changed, gone) = rewritten(
        &lines,
        &versions_by_key(&dst, "app.order_lines", "(order_id, line)"),
    );
    assert_eq!(
        (changed, gone),
        (strs(&["(1,3)", "(2,3)", "(3,1)"]), strs(&["(4,2)"])),
        "rows of app.order_lines written or removed by the delta"
    );
    let (changed, gone) = rewritten(&skus, &versions_by_key(&dst, "app.skus", "code"));
    assert_eq!(
        (changed, gone),
        (
            strs(&["sku-1", "sku-2", "sku-new"]),
            strs(&["sku-297", "sku-298", "sku-299"])
        ),
        "rows of app.skus written or removed by the delta"
    );
    assert_eq!(
        files_before,
        files(&dst),
        "a delta must not recreate or truncate its table"
    );
    settle(&dst);
    for (table, before) in kept.iter().zip(&before) {
        assert_untouched(&dst, table, before, "beside deltas");
    }
}

/// Deltas over tables linked by foreign keys: children's rows go before
/// their parents', parents' come in before their children's.
#[tokio::test(flavor = "multi_thread")]
async fn deltas_of_tables_linked_by_foreign_keys_apply_in_a_valid_order() {
    let (src, dst) = app_pair("inc_fk").await;
    // Customer 7 has orders 6, 1006, 2006, 3006, 4006 with two lines each.
    src.execute_batch(
        "DELETE FROM app.order_lines WHERE order_id IN (SELECT id FROM app.orders WHERE customer_id = 7);
         DELETE FROM app.orders WHERE customer_id = 7;
         DELETE FROM app.customers WHERE id = 7;
         INSERT INTO app.customers VALUES (3000, 'newcomer', NULL, 'happy', NULL);
         INSERT INTO app.orders (customer_id, amount) VALUES (3000, 12.50);
         INSERT INTO app.order_lines SELECT currval('app.orders_id_seq'), l, 'sku-9', l FROM generate_series(1, 2) l;",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.customers", TableAction::Delta, Some(1), Some(1)),
            ("app.orders", TableAction::Delta, Some(1), Some(5)),
            ("app.order_lines", TableAction::Delta, Some(2), Some(10)),
        ],
    );
    assert_replica_equals(&src, &dst);
}

// ---------------------------------------------------------------------------
// (d) replaced
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn keyless_and_mostly_changed_tables_are_copied_whole() {
    let (src, dst) = app_pair("inc_replace").await;
    // The replica's own view over a keyless table: that table cannot be
    // dropped and created again, so it is truncated and loaded instead.
    dst.execute_batch("CREATE SCHEMA mine; CREATE VIEW mine.recent AS SELECT kind FROM app.events");
    let kept = ["app.customers", "app.orders", "app.order_lines"];
    let before: Vec<_> = kept.iter().map(|t| untouched(&dst, t)).collect();
    let events_oid = dst.query_one_string("SELECT 'app.events'::regclass::oid::text");
    src.execute_batch(
        "-- no key at all: one row changed
         UPDATE app.events SET kind = 'changed' WHERE at = timestamptz '2024-01-01 00:01+00';
         -- a unique key over a nullable column is no key
         UPDATE app.tags SET uses = uses + 1 WHERE label = 'tag 5';
         -- keyed, but every row differs
         UPDATE app.accounts SET balance = balance + 1;
         -- keyed, one row removed out of 300, one row added: a delta
         DELETE FROM app.measures WHERE id = 300; INSERT INTO app.measures VALUES (301, 301);
         -- keyed, every row but one differs
         UPDATE app.skus SET price = price + 1 WHERE code <> 'sku-0';",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.events", TableAction::Replaced, Some(1002), Some(1002)),
            ("app.tags", TableAction::Rebuilt, Some(202), None),
            ("app.accounts", TableAction::Rebuilt, Some(500), None),
            ("app.measures", TableAction::Delta, Some(1), Some(1)),
            ("app.skus", TableAction::Rebuilt, Some(300), None),
        ],
    );
    // Truncated in place: the same table, the replica's view still over it.
    assert_eq!(
        dst.query_one_string("SELECT 'app.events'::regclass::oid::text"),
        events_oid
    );
    assert_eq!(
        dst.query_one_string("SELECT count(*)::text FROM mine.recent WHERE kind = 'changed'")
            .as_deref(),
        Some("1")
    );
    settle(&dst);
    dst.execute_batch("DROP SCHEMA mine CASCADE");
    assert_replica_equals(&src, &dst);
    for (table, before) in kept.iter().zip(&before) {
        assert_untouched(&dst, table, before, "beside tables copied whole");
    }
}

/// Values that trade places between two rows leave every column's values
/// the same, only paired otherwise: a fingerprint that adds up per-column
/// hashes (as `hash_record_extended` does) would not see it.
#[tokio::test(flavor = "multi_thread")]
async fn values_trading_places_between_rows_are_seen() {
    let (src, dst) = app_pair("inc_swap").await;
    // Two rows whose record hashes add up alike with their `b`s traded.
    src.execute_batch(
        "CREATE TABLE app.pairs (a int, b text); INSERT INTO app.pairs VALUES (1, 'a'), (2, 'b')",
    );
    sync_ok(&src, &dst, &incremental()).await;
    let mut tables = APP_TABLES.to_vec();
    tables.push("app.pairs");
    tables.sort_unstable();
    src.execute_batch(
        "UPDATE app.pairs SET b = CASE a WHEN 1 THEN 'b' ELSE 'a' END;
         -- no key: two rows trade their kinds ('kind 1' and 'kind 2')
         UPDATE app.events SET kind = CASE kind WHEN 'kind 1' THEN 'kind 2' ELSE 'kind 1' END
           WHERE at IN (timestamptz '2024-01-01 00:01+00', timestamptz '2024-01-01 00:02+00');
         -- a unique key over a nullable column (no key): two rows trade their uses
         UPDATE app.tags SET uses = CASE label WHEN 'tag 1' THEN 2 ELSE 1 END WHERE label IN ('tag 1', 'tag 2');
         -- keyed: two rows trade their names, two others their titles
         UPDATE app.customers SET name = CASE id WHEN 1 THEN 'customer 2' ELSE 'customer 1' END WHERE id IN (1, 2);
         UPDATE app.skus SET title = CASE code WHEN 'sku-1' THEN 'Item 2' ELSE 'Item 1' END
           WHERE code IN ('sku-1', 'sku-2');",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &tables,
        &[
            ("app.pairs", TableAction::Rebuilt, Some(2), None),
            ("app.events", TableAction::Rebuilt, Some(1002), None),
            ("app.tags", TableAction::Rebuilt, Some(202), None),
            ("app.customers", TableAction::Delta, Some(2), Some(2)),
            ("app.skus", TableAction::Delta, Some(2), Some(2)),
        ],
    );
    assert_replica_equals(&src, &dst);
}

/// A value hashed through its text is printed by its type's output
/// function, not by a cast to text: a user's cast may drop part of the
/// value, and `bpchar`'s trims trailing spaces.
#[tokio::test(flavor = "multi_thread")]
async fn values_a_cast_to_text_would_lose_are_seen() {
    let (src, dst) = app_pair("inc_cast").await;
    src.execute_batch(
        "CREATE TYPE app.addr AS (street text, pt point);
         CREATE FUNCTION app.addr_text(app.addr) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1.street';
         CREATE CAST (app.addr AS text) WITH FUNCTION app.addr_text(app.addr) AS ASSIGNMENT;
         CREATE TABLE app.lossy (id int PRIMARY KEY, a app.addr, b bpchar);
         INSERT INTO app.lossy SELECT g, ROW('street ' || g, point(g, g))::app.addr, 'b' || g FROM generate_series(1, 100) g;",
    );
    sync_ok(&src, &dst, &incremental()).await;
    let mut tables = APP_TABLES.to_vec();
    tables.push("app.lossy");
    tables.sort_unstable();
    src.execute_batch(
        "UPDATE app.lossy SET a = ROW('street 1', point(-1, -1))::app.addr WHERE id = 1;
         UPDATE app.lossy SET b = 'b2  ' WHERE id = 2;",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &tables,
        &[("app.lossy", TableAction::Delta, Some(2), Some(2))],
    );
    assert_replica_equals(&src, &dst);
}

// ---------------------------------------------------------------------------
// (e) a changed key or index
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_table_whose_key_or_index_changed_is_rebuilt() {
    let (src, dst) = app_pair("inc_key").await;
    let before = untouched(&dst, "app.customers");
    // Same rows; the primary key moves to other columns. And a new index.
    src.execute_batch(
        "ALTER TABLE app.accounts DROP CONSTRAINT accounts_pkey, ADD PRIMARY KEY (code); \
         CREATE INDEX skus_title ON app.skus (title);",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.accounts", TableAction::Rebuilt, Some(500), None),
            ("app.skus", TableAction::Rebuilt, Some(300), None),
        ],
    );
    assert_eq!(
        dst.query_one_string(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'app.accounts'::regclass AND contype = 'p'"
        )
        .as_deref(),
        Some("PRIMARY KEY (code)")
    );
    assert_replica_equals(&src, &dst);
    settle(&dst);
    assert_untouched(&dst, "app.customers", &before, "beside a changed key");
    // The key change again, with row changes: still rebuilt, and right.
    src.execute_batch(
        "ALTER TABLE app.accounts DROP CONSTRAINT accounts_pkey, ADD PRIMARY KEY (id, code); \
         UPDATE app.accounts SET balance = 0 WHERE id < 10; DELETE FROM app.accounts WHERE id = 500;",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[("app.accounts", TableAction::Rebuilt, Some(499), None)],
    );
    assert_replica_equals(&src, &dst);
}

// ---------------------------------------------------------------------------
// (f) drift on the replica
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn rows_edited_on_the_replica_are_found_and_repaired() {
    let (src, dst) = app_pair("inc_drift").await;
    dst.execute_batch(
        "UPDATE app.customers SET email = 'edited@replica' WHERE id = 5;
         DELETE FROM app.customers WHERE id = 1600;
         INSERT INTO app.customers VALUES (9999, 'only on the replica', NULL, NULL, NULL);
         -- two identical rows become two other identical rows: same count, and
         -- an XOR of row hashes would not see it
         UPDATE app.events SET kind = 'twice, edited' WHERE kind = 'twice';
         -- same count, one value of one row
         UPDATE app.tags SET uses = 7 WHERE label = 'tag 8';",
    );
    let out = verify_checksums(&src, &dst);
    assert_eq!(
        out.status.code(),
        Some(3),
        "setup: verify must see the drift\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.customers", TableAction::Delta, Some(2), Some(2)),
            ("app.events", TableAction::Rebuilt, Some(1002), None),
            ("app.tags", TableAction::Rebuilt, Some(202), None),
        ],
    );
    assert_replica_equals(&src, &dst);
    let out = verify_checksums(&src, &dst);
    assert_eq!(
        out.status.code(),
        Some(0),
        "verify --checksums after the repair:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    // Nothing left to do.
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
}

// ---------------------------------------------------------------------------
// (g) NULLs and values that compare equal but print differently
// ---------------------------------------------------------------------------

/// Column types (the property test's list) with a value each that a
/// careless fingerprint confuses with NULL or with another column's NULL:
/// empty strings, `\N`, JSON null, empty arrays and ranges, arrays of NULL,
/// a composite of NULLs, zeros, a fixed-scale numeric's `NaN` (whose native
/// hash is a NULL's).
fn null_prone_columns(db: &TestDb) -> Vec<(String, String)> {
    let mut cols: Vec<(&str, &str)> = vec![
        ("int2", "-32768"),
        ("int4", "0"),
        ("int8", "9223372036854775807"),
        ("numeric", "-1.50"),
        ("numeric(12,3)", "0.000"),
        ("numeric(10,2)", "NaN"),
        ("numeric(8,1)[]", "{NaN,NULL}"),
        ("float4", "-0"),
        ("float8", "NaN"),
        ("bool", "false"),
        ("text", ""),
        ("varchar(10)", "\\N"),
        ("char(4)", " "),
        ("\"char\"", "x"),
        ("name", "NULL"),
        ("bytea", "\\x"),
        ("date", "infinity"),
        ("timestamp", "2000-01-01 00:00:00.000001"),
        ("timestamptz", "1999-12-31 23:59:59+14"),
        ("time", "24:00:00"),
        ("timetz", "00:00:00+15:59"),
        ("interval", "-00:00:00.000001"),
        ("uuid", "00000000-0000-0000-0000-000000000000"),
        ("json", "null"),
        ("jsonb", "{}"),
        ("inet", "::1/128"),
        ("cidr", "0.0.0.0/0"),
        ("macaddr", "00:00:00:00:00:00"),
        ("macaddr8", "ff:ff:ff:ff:ff:ff:ff:ff"),
        ("int4range", "empty"),
        ("numrange", "(,)"),
        ("tsrange", "[2000-01-01,infinity)"),
        ("tstzrange", "(,\"2000-01-01 00:00+00\"]"),
        ("daterange", "[2000-01-01,2000-01-02)"),
        ("bit(3)", "000"),
        ("varbit", ""),
        ("point", "(0,-0)"),
        ("tsvector", ""),
        ("oid", "0"),
        ("pg_lsn", "0/0"),
        ("app.mood", "sad"),
        ("app.positive", "1"),
        ("app.pair", "(,)"),
        ("app.floatrange", "[-Infinity,0]"),
        ("int4[]", "{NULL}"),
        ("text[]", "{}"),
        ("text[][]", "{{\"\",NULL}}"),
        ("numeric[]", "{1.0,NULL}"),
        ("jsonb[]", "{\"null\"}"),
        ("app.pair[]", "{\"(,)\"}"),
        ("app.mood[]", "{NULL,sad}"),
    ];
    if server_major(db) >= 14 {
        cols.extend([
            ("int4multirange", "{}"),
            ("nummultirange", "{[1.0,2.0)}"),
            ("datemultirange", "{[2000-01-01,2000-01-03)}"),
            ("tsmultirange", "{}"),
        ]);
    }
    if db.try_execute_batch("SELECT '<a/>'::xml").is_ok() {
        cols.push(("xml", "<a/>"));
    }
    cols.into_iter()
        .map(|(t, v)| (t.to_string(), v.to_string()))
        .collect()
}

fn server_major(db: &TestDb) -> u32 {
    db.query_one_string("SELECT current_setting('server_version_num')::int / 10000")
        .unwrap()
        .parse()
        .unwrap()
}

fn sql_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

const WIDE_TYPES: &str = "\
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS int CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a int, b text);
CREATE TYPE app.floatrange AS RANGE (subtype = float8);";

/// Per-column text of every row (`::text`, NULL as NULL), by id.
fn column_texts(db: &TestDb, table: &str) -> Vec<Vec<Option<String>>> {
    let cols = db
        .query_one_string(&format!(
            "SELECT string_agg(format('%I::text', attname), ', ' ORDER BY attnum) FROM pg_attribute \
             WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped"
        ))
        .unwrap();
    db.query_strings(&format!("SELECT {cols} FROM {table} ORDER BY 1"))
}

#[tokio::test(flavor = "multi_thread")]
async fn nulls_in_columns_of_every_type_are_told_from_values() {
    let src = shared_cluster().create_database("inc_nulls_src");
    src.execute_batch(WIDE_TYPES);
    let cols = null_prone_columns(&src);
    let n = cols.len();
    let defs: Vec<String> = (1..=n).map(|k| format!("c{k} {}", cols[k - 1].0)).collect();
    let value = |k: usize| format!("{}::{}", sql_lit(&cols[k - 1].1), cols[k - 1].0);
    let all_values: Vec<String> = (1..=n).map(value).collect();
    let mut setup = format!(
        "CREATE TABLE app.wide (id int PRIMARY KEY, {});\n\
         INSERT INTO app.wide (id) VALUES (0);\n",
        defs.join(", ")
    );
    // Row k holds a value in column k only; row n + k nothing (yet).
    for k in 1..=n {
        writeln!(
            setup,
            "INSERT INTO app.wide (id, c{k}) VALUES ({k}, {});\nINSERT INTO app.wide (id) VALUES ({});",
            value(k),
            n + k
        )
        .unwrap();
    }
    // Filler rows with every column set keep the edits a small part.
    writeln!(
        setup,
        "INSERT INTO app.wide SELECT 10000 + g, {} FROM generate_series(1, 500) g;",
        all_values.join(", ")
    )
    .unwrap();
    src.execute_batch(&setup);
    let dst = shared_cluster().create_database("inc_nulls_dst");
    sync_ok(&src, &dst, &full()).await;
    assert_replica_equals(&src, &dst);
    let tables = ["app.wide"];
    let n64 = n as u64;
    let to_null: String = (1..=n)
        .map(|k| format!("UPDATE app.wide SET c{k} = NULL WHERE id = {k};"))
        .collect();
    let to_value: String = (1..=n)
        .map(|k| {
            format!(
                "UPDATE app.wide SET c{k} = {} WHERE id = {};",
                value(k),
                n + k
            )
        })
        .collect();
    let rounds: [(&str, bool, &String); 4] = [
        ("values set to NULL on the replica", false, &to_null),
        ("NULLs set to values on the replica", false, &to_value),
        ("values set to NULL on the source", true, &to_null),
        ("NULLs set to values on the source", true, &to_value),
    ];
    for (what, on_source, edits) in &rounds {
        let side = if *on_source { &src } else { &dst };
        side.execute_batch(edits);
        let r = sync_ok(&src, &dst, &incremental()).await;
        // Which columns were missed, by type, when the rows differ.
        let (a, b) = (
            column_texts(&src, "app.wide"),
            column_texts(&dst, "app.wide"),
        );
        let missed: Vec<&str> = (1..=n)
            .filter(|&k| a.iter().zip(&b).any(|(x, y)| x[k] != y[k]))
            .map(|k| cols[k - 1].0.as_str())
            .collect();
        assert!(
            missed.is_empty(),
            "{what}: the replica differs in columns of types {missed:?}\n{}",
            actions(&r)
        );
        assert_actions(
            &r,
            &tables,
            &[("app.wide", TableAction::Delta, Some(n64), Some(n64))],
        );
        assert_replica_equals(&src, &dst);
    }
}

/// Values equal under their type's equality but spelled differently: a
/// replica must reproduce the source's text, so a drift from one to the
/// other is found and repaired, and so is a change on the source.
#[tokio::test(flavor = "multi_thread")]
async fn values_that_compare_equal_but_print_differently_are_told_apart() {
    let src = shared_cluster().create_database("inc_spelled_src");
    src.execute_batch(
        "CREATE SCHEMA app;
         CREATE TYPE app.numpair AS (n numeric, f float8);
         CREATE DOMAIN app.dnum AS numeric;
         CREATE TYPE app.floatrange AS RANGE (subtype = float8);",
    );
    let icu = src
        .query_one_string("SELECT count(*) > 0 FROM pg_collation WHERE collprovider = 'i'")
        .as_deref()
        == Some("t");
    if icu {
        src.execute_batch(
            "CREATE COLLATION app.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
        );
    } else {
        eprintln!(
            "no ICU collations on this server: the nondeterministic collation column is left out"
        );
    }
    // (type, the source's spelling, an equal value spelled otherwise)
    let mut pairs: Vec<(&str, &str, &str)> = vec![
        ("numeric", "1.0", "1.00"),
        ("float8", "0", "-0"),
        ("float4", "0", "-0"),
        ("interval", "1 day", "24:00:00"),
        ("interval", "1 mon", "30 days"),
        ("numrange", "[1.0,2.0)", "[1.00,2.0)"),
        ("numeric[]", "{1.0}", "{1.00}"),
        ("float8[]", "{0}", "{-0}"),
        ("jsonb", "1.0", "1.00"),
        ("jsonb", "{\"a\": 1.0}", "{\"a\": 1.00}"),
        ("app.numpair", "(1.0,0)", "(1.00,-0)"),
        ("app.dnum", "2.5", "2.50"),
        ("app.floatrange", "[0,1]", "[-0,1]"),
        ("point", "(0,0)", "(-0,0)"),
        ("json", "{\"a\":1}", "{\"a\": 1}"),
        // Hashed natively: an array's dimensions, a fixed-scale numeric.
        ("int4[]", "{1,2}", "[0:1]={1,2}"),
        ("int4[]", "{{1},{2}}", "{1,2}"),
        ("text[]", "{a,b}", "[2:3]={a,b}"),
        ("numeric(6,2)[]", "{1.5}", "[3:3]={1.50}"),
    ];
    if server_major(&src) >= 14 {
        pairs.push(("nummultirange", "{[1.0,2)}", "{[1.00,2)}"));
    }
    if src.try_execute_batch("SELECT '<a/>'::xml").is_ok() {
        pairs.push(("xml", "<a/>", "<a></a>"));
    }
    if icu {
        pairs.push(("text COLLATE app.ci", "abc", "ABC"));
    }
    let p = pairs.len();
    let ty = |i: usize| pairs[i - 1].0.replace(" COLLATE app.ci", "");
    let defs: Vec<String> = (1..=p)
        .map(|i| format!("c{i} {}", pairs[i - 1].0))
        .collect();
    let spelled = |i: usize, s: &str| format!("{}::{}", sql_lit(s), ty(i));
    let mut setup = format!(
        "CREATE TABLE app.spelled (id int PRIMARY KEY, {});\n",
        defs.join(", ")
    );
    for i in 1..=p {
        writeln!(
            setup,
            "INSERT INTO app.spelled (id, c{i}) VALUES ({i}, {});",
            spelled(i, pairs[i - 1].1)
        )
        .unwrap();
    }
    let firsts: Vec<String> = (1..=p).map(|i| spelled(i, pairs[i - 1].1)).collect();
    writeln!(
        setup,
        "INSERT INTO app.spelled SELECT 1000 + g, {} FROM generate_series(1, 300) g;",
        firsts.join(", ")
    )
    .unwrap();
    // Keys equal but spelled differently.
    setup.push_str(
        "CREATE TABLE app.num_keys (k numeric PRIMARY KEY, v text);
         INSERT INTO app.num_keys VALUES (1.0, 'one'), (2.50, 'two and a half');
         INSERT INTO app.num_keys SELECT 100 + g, 'filler' FROM generate_series(1, 300) g;",
    );
    if icu {
        setup.push_str(
            "CREATE TABLE app.ci_keys (k text COLLATE app.ci PRIMARY KEY, v int);
             INSERT INTO app.ci_keys VALUES ('abc', 1);
             INSERT INTO app.ci_keys SELECT 'k' || g, g FROM generate_series(1, 300) g;",
        );
    }
    src.execute_batch(&setup);
    let mut tables = vec!["app.num_keys", "app.spelled"];
    if icu {
        tables.insert(0, "app.ci_keys");
    }
    let dst = shared_cluster().create_database("inc_spelled_dst");
    sync_ok(&src, &dst, &full()).await;
    assert_replica_equals(&src, &dst);
    assert_eq!(
        column_texts(&src, "app.spelled"),
        column_texts(&dst, "app.spelled")
    );
    let p64 = p as u64;
    let edits: String = (1..=p)
        .map(|i| {
            format!(
                "UPDATE app.spelled SET c{i} = {} WHERE id = {i};\n",
                spelled(i, pairs[i - 1].2)
            )
        })
        .collect();
    let ci_drift = if icu {
        "UPDATE app.ci_keys SET k = 'ABC' WHERE k = 'abc';"
    } else {
        ""
    };
    for (what, on_source, keys) in [
        (
            "drift on the replica",
            false,
            format!("UPDATE app.num_keys SET k = 1.00 WHERE k = 1; {ci_drift}"),
        ),
        (
            "a change on the source",
            true,
            format!("UPDATE app.num_keys SET k = 2.5 WHERE k = 2.5; {ci_drift}"),
        ),
    ] {
        let side = if on_source { &src } else { &dst };
        side.execute_batch(&format!("{edits}{keys}"));
        // setup: the edit happened, with equal values
        assert_ne!(
            column_texts(&src, "app.spelled"),
            column_texts(&dst, "app.spelled"),
            "{what}: setup"
        );
        let r = sync_ok(&src, &dst, &incremental()).await;
        let (a, b) = (
            column_texts(&src, "app.spelled"),
            column_texts(&dst, "app.spelled"),
        );
        let missed: Vec<&str> = (1..=p)
            .filter(|&i| a.iter().zip(&b).any(|(x, y)| x[i] != y[i]))
            .map(|i| pairs[i - 1].0)
            .collect();
        assert!(
            missed.is_empty(),
            "{what}: the replica still spells these differently: {missed:?}\n{}",
            actions(&r)
        );
        let mut expected = vec![
            ("app.spelled", TableAction::Delta, Some(p64), Some(p64)),
            ("app.num_keys", TableAction::Delta, Some(1), Some(1)),
        ];
        if icu {
            expected.push(("app.ci_keys", TableAction::Delta, Some(1), Some(1)));
        }
        assert_actions(&r, &tables, &expected);
        assert_replica_equals(&src, &dst);
        assert_eq!(
            column_texts(&src, "app.num_keys"),
            column_texts(&dst, "app.num_keys"),
            "{what}"
        );
    }
}

// ---------------------------------------------------------------------------
// (h) an interrupted incremental sync
// ---------------------------------------------------------------------------

/// Source changes of every kind: deltas, a replaced table, a rebuilt table.
const MIXED_CHANGES: &str = "\
UPDATE app.customers SET name = 'changed' WHERE id BETWEEN 100 AND 110;
DELETE FROM app.customers WHERE id = 1700;
INSERT INTO app.orders (customer_id, amount) SELECT 1 + g, g FROM generate_series(1, 20) g;
UPDATE app.events SET kind = 'changed' WHERE kind = 'kind 1';
ALTER TABLE app.measures ADD COLUMN unit text DEFAULT 'kg';
UPDATE app.skus SET title = 'changed' WHERE code = 'sku-3';";

/// A statement of the delta fails (a target-owned foreign key forbids
/// removing a row the source removed): the whole sync rolls back, the
/// failure is recorded, and the same holds for `--full`.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_statement_rolls_an_incremental_sync_back() {
    let (src, dst) = app_pair("inc_fail").await;
    dst.execute_batch(
        "CREATE SCHEMA reporting; \
         CREATE TABLE reporting.flags (customer_id int REFERENCES app.customers (id), flag text); \
         INSERT INTO reporting.flags VALUES (1700, 'vip');",
    );
    src.execute_batch(MIXED_CHANGES);
    let before = snapshot(&dst);
    for extra in [&[][..], &["--full"][..]] {
        let (s, d) = (src.conn_string(), dst.conn_string());
        let mut args = vec!["sync", "--source", &s, "--target", &d];
        args.extend_from_slice(extra);
        let out = pgferry(&args);
        let what = format!("sync {extra:?} against a target-owned foreign key");
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("foreign key") || stderr(&out).contains("flags"),
            "{what}: {}",
            stderr(&out)
        );
        assert_unchanged(&before, &dst, &what);
        let last = dst.query_strings(
            "SELECT id::text, outcome FROM pgferry.sync_history ORDER BY id DESC LIMIT 1",
        );
        assert_eq!(last[0][1].as_deref(), Some("failed"), "{what}");
        assert_eq!(
            dst.query_one_string(&format!(
                "SELECT count(*) FROM pgferry.sync_history_tables WHERE history_id = {}",
                last[0][0].as_deref().unwrap()
            ))
            .as_deref(),
            Some("0"),
            "{what}: a failed sync records no tables"
        );
    }
    // Without the conflict the same changes apply.
    dst.execute_batch("DROP SCHEMA reporting CASCADE");
    sync_ok(&src, &dst, &incremental()).await;
    assert_replica_equals(&src, &dst);
}

/// Waits until pgferry's session on `db` waits for a lock; returns whether
/// it has written anything yet (has a transaction id).
fn wait_for_lock_wait(db: &TestDb) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = db.query_strings(&format!(
            "SELECT (backend_xid IS NOT NULL)::text FROM pg_stat_activity WHERE datname = '{}' \
             AND application_name = 'pgferry' AND wait_event_type = 'Lock'",
            db.name()
        ));
        if let Some(r) = rows.first() {
            return r[0].as_deref() == Some("true");
        }
        assert!(
            Instant::now() < deadline,
            "pgferry never waited for the held lock on {}",
            db.name()
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// A changed table in a schema synced last, and a session that holds it in
/// SHARE mode (reads pass, writes wait) on the replica.
async fn held_last_table(src: &TestDb, dst: &TestDb) -> tokio_postgres::Client {
    src.execute_batch(
        "CREATE SCHEMA zz; CREATE TABLE zz.last (id int PRIMARY KEY, v text); \
         INSERT INTO zz.last SELECT g, 'v' || g FROM generate_series(1, 1000) g;",
    );
    sync_ok(src, dst, &full()).await;
    src.execute_batch(MIXED_CHANGES);
    src.execute_batch("UPDATE zz.last SET v = 'changed' WHERE id = 1;");
    let locker = dst.connect().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE zz.last IN SHARE MODE;")
        .await
        .unwrap();
    locker
}

/// An incremental sync held up by a lock, then cut by its deadline or by
/// losing its source, leaves the replica exactly as it was (content, row
/// versions, schema, sequences); once the lock is gone the same changes
/// apply.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_incremental_sync_leaves_the_replica_as_it_was() {
    let (src, dst) = app_pair("inc_cut").await;
    let locker = held_last_table(&src, &dst).await;
    settle(&dst);
    let before = snapshot(&dst);
    let (s, d) = (src.conn_string(), dst.conn_string());

    // The deadline.
    let started = Instant::now();
    let child = spawn(&[
        "sync",
        "--source",
        &s,
        "--target",
        &d,
        "--no-terminate",
        "--lock-timeout",
        "60s",
        "--cycle-timeout",
        "8s",
    ]);
    let wrote = wait_for_lock_wait(&dst);
    eprintln!("deadline: the sync waited for the lock, having written: {wrote}");
    let (code, err, took) = finish(child, started);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("deadline"), "{err}");
    assert!(
        took < Duration::from_secs(8) + BOUND,
        "took {took:?}: {err}"
    );
    assert_unchanged(&before, &dst, "a sync past its deadline");
    settle(&dst);

    // The source's backends terminated while the sync waits.
    let child = spawn(&[
        "sync",
        "--source",
        &s,
        "--target",
        &d,
        "--no-terminate",
        "--lock-timeout",
        "60s",
    ]);
    let wrote = wait_for_lock_wait(&dst);
    eprintln!("source lost: the sync waited for the lock, having written: {wrote}");
    let killed = src.query_one_string(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' \
         AND application_name = 'pgferry' AND pid <> pg_backend_pid()",
        src.name()
    ));
    assert_ne!(
        killed.as_deref(),
        Some("0"),
        "no pgferry session on the source"
    );
    let at = Instant::now();
    let (code, err, took) = finish(child, at);
    assert_eq!(code, Some(1), "{err}");
    assert!(took < BOUND, "took {took:?} after the fault: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("pgferry: error:"))
        .unwrap_or_else(|| panic!("no error line:\n{err}"));
    assert!(
        line.contains("source"),
        "the error does not name the source: {line}"
    );
    assert_unchanged(&before, &dst, "a sync that lost its source");
    // The session pgferry was told not to terminate is still there.
    locker.batch_execute("COMMIT").await.unwrap();
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert!(!r.full, "{}", actions(&r));
    assert_replica_equals(&src, &dst);
}

// ---------------------------------------------------------------------------
// (i) sessions on the replica
// ---------------------------------------------------------------------------

/// Sessions that read unchanged tables, even inside an open transaction,
/// even one holding an EXCLUSIVE lock (which only ACCESS SHARE passes), a
/// session reading a table that gets a delta, and an idle one, all survive
/// an incremental sync (with a short lock timeout: had it waited for one of
/// them, it would have terminated it).
#[tokio::test(flavor = "multi_thread")]
async fn readers_of_the_replica_are_not_terminated() {
    let (src, dst) = app_pair("inc_readers").await;
    src.execute_batch("UPDATE app.customers SET name = 'changed' WHERE id IN (1, 2, 3);");
    let idle = dst.connect().await;
    let reader = dst.connect().await;
    reader
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM app.skus; SELECT count(*) FROM app.orders;",
        )
        .await
        .unwrap();
    let exclusive = dst.connect().await;
    exclusive
        .batch_execute("BEGIN; LOCK TABLE app.accounts IN EXCLUSIVE MODE;")
        .await
        .unwrap();
    let delta_reader = dst.connect().await;
    delta_reader
        .batch_execute("BEGIN; SELECT count(*) FROM app.customers;")
        .await
        .unwrap();
    let opts = SyncOptions {
        lock_timeout: Duration::from_secs(3),
        ..incremental()
    };
    let r = sync_ok(&src, &dst, &opts).await;
    assert_eq!(r.terminated_sessions, 0, "{}", actions(&r));
    assert_actions(
        &r,
        &APP_TABLES,
        &[("app.customers", TableAction::Delta, Some(3), Some(3))],
    );
    for (name, c) in [
        ("idle", &idle),
        ("reader", &reader),
        ("exclusive", &exclusive),
        ("delta reader", &delta_reader),
    ] {
        c.simple_query("SELECT 1")
            .await
            .unwrap_or_else(|e| panic!("the {name} session did not survive the sync: {e}"));
    }
    // The open transactions still work (their snapshot, their lock).
    let n: i64 = reader
        .query_one("SELECT count(*) FROM app.skus", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 300);
    for c in [&reader, &exclusive, &delta_reader] {
        c.batch_execute("COMMIT").await.unwrap();
    }
    assert_replica_equals(&src, &dst);
}

/// A session whose lock blocks a delta is terminated only after the lock
/// timeout (and never with `--no-terminate`, where the sync fails and
/// leaves the replica as it was); readers of unchanged tables stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_blocking_a_changed_table_is_terminated_after_the_lock_timeout() {
    let (src, dst) = app_pair("inc_blocker").await;
    src.execute_batch("UPDATE app.customers SET name = 'changed' WHERE id IN (1, 2, 3);");
    let reader = dst.connect().await;
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM app.orders;")
        .await
        .unwrap();
    let blocker = dst.connect().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE app.customers IN SHARE MODE;")
        .await
        .unwrap();
    settle(&dst);
    let before = snapshot(&dst);
    let lock_timeout = Duration::from_secs(2);
    let waiting = SyncOptions {
        terminate: false,
        lock_timeout,
        ..incremental()
    };
    let failed = try_sync(&src, &dst, &waiting).await;
    assert!(
        failed.is_err(),
        "--no-terminate: a sync blocked past its lock timeout must fail: {:?}",
        failed.map(|r| actions(&r))
    );
    assert_unchanged(&before, &dst, "a sync that timed out on a lock");
    blocker
        .simple_query("SELECT 1")
        .await
        .expect("--no-terminate terminated a session");

    let terminating = SyncOptions {
        lock_timeout,
        ..incremental()
    };
    let started = Instant::now();
    let r = sync_ok(&src, &dst, &terminating).await;
    let took = started.elapsed();
    assert_eq!(r.terminated_sessions, 1, "{}", actions(&r));
    assert!(
        took >= lock_timeout,
        "the blocking session was terminated before the lock timeout ({took:?})"
    );
    assert!(
        blocker.simple_query("SELECT 1").await.is_err(),
        "the blocking session survived"
    );
    reader
        .simple_query("SELECT 1")
        .await
        .expect("a reader of an unchanged table was terminated");
    reader.batch_execute("COMMIT").await.unwrap();
    assert_actions(
        &r,
        &APP_TABLES,
        &[("app.customers", TableAction::Delta, Some(3), Some(3))],
    );
    assert_replica_equals(&src, &dst);
}

// ---------------------------------------------------------------------------
// (j) history
// ---------------------------------------------------------------------------

/// `pgferry.sync_history_tables` rows of history row `id`: (table, action,
/// written, deleted, bytes), by table.
fn history_tables(db: &TestDb, id: &str) -> Vec<Vec<Option<String>>> {
    db.query_strings(&format!(
        "SELECT table_name, action, rows_written::text, rows_deleted::text, bytes::text \
         FROM pgferry.sync_history_tables WHERE history_id = {id} ORDER BY 1"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn history_records_the_mode_and_what_was_done_to_each_table() {
    let src = shared_cluster().create_database("inc_hist_src");
    src.execute_batch(APP);
    let dst = shared_cluster().create_database("inc_hist_dst");
    // --full through the binary
    pgferry_ok(&[
        "sync",
        "--full",
        "--source",
        &src.conn_string(),
        "--target",
        &dst.conn_string(),
    ]);
    let last = dst.query_strings(
        "SELECT id::text, mode, outcome FROM pgferry.sync_history ORDER BY id DESC LIMIT 1",
    );
    let full_id = last[0][0].clone().unwrap();
    assert_eq!(
        (last[0][1].as_deref(), last[0][2].as_deref()),
        (Some("full"), Some("success"))
    );
    let rows = history_tables(&dst, &full_id);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_deref().unwrap()).collect();
    assert_eq!(names, APP_TABLES, "{rows:?}");
    assert!(
        rows.iter().all(|r| r[1].as_deref() == Some("rebuilt")),
        "{rows:?}"
    );
    let customers = rows
        .iter()
        .find(|r| r[0].as_deref() == Some("app.customers"));
    assert_eq!(
        customers.unwrap()[2].as_deref(),
        Some("2000"),
        "rows written to app.customers: {rows:?}"
    );

    // An incremental one through the library: the rows match its report.
    src.execute_batch(
        "UPDATE app.customers SET name = 'changed' WHERE id = 1; UPDATE app.events SET kind = 'x' WHERE kind = 'twice';",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_eq!(
        dst.query_one_string(&format!(
            "SELECT mode || ' ' || outcome FROM pgferry.sync_history WHERE id = {}",
            r.history_id
        ))
        .as_deref(),
        Some("incremental success")
    );
    let mut expected: Vec<Vec<Option<String>>> = r
        .table_actions
        .iter()
        .map(|t| {
            vec![
                Some(t.table.clone()),
                Some(t.action.as_str().to_string()),
                Some(t.rows_written.to_string()),
                Some(t.rows_deleted.to_string()),
                Some(t.bytes.to_string()),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(
        history_tables(&dst, &r.history_id.to_string()),
        expected,
        "{}",
        actions(&r)
    );
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.customers", TableAction::Delta, Some(1), Some(1)),
            ("app.events", TableAction::Rebuilt, Some(1002), None),
        ],
    );

    // A failed one records no tables.
    src.execute_batch("UPDATE app.customers SET name = 'changed again' WHERE id = 1;");
    let cut = SyncOptions {
        deadline: Some(Duration::from_millis(1)),
        ..incremental()
    };
    let failed = try_sync(&src, &dst, &cut).await;
    assert!(failed.is_err(), "a sync with a 1 ms deadline succeeded");
    let last = dst.query_strings(
        "SELECT id::text, outcome FROM pgferry.sync_history ORDER BY id DESC LIMIT 1",
    );
    assert_eq!(last[0][1].as_deref(), Some("failed"));
    assert!(history_tables(&dst, last[0][0].as_deref().unwrap()).is_empty());
    // Every committed sync has its tables; the two successful ones only.
    assert_eq!(
        dst.query_one_string("SELECT count(DISTINCT history_id) FROM pgferry.sync_history_tables")
            .as_deref(),
        Some("2")
    );
}

/// The tables an incremental sync decided from row versions.
fn by_row_versions(r: &SyncReport) -> Vec<&str> {
    let mut v: Vec<&str> = r
        .table_actions
        .iter()
        .filter(|t| t.by_row_versions)
        .map(|t| t.table.as_str())
        .collect();
    v.sort_unstable();
    v
}

/// `APP_TABLES` without `these`.
fn app_tables_but(these: &[&str]) -> Vec<&'static str> {
    APP_TABLES
        .iter()
        .copied()
        .filter(|t| !these.contains(t))
        .collect()
}

/// Row versions decide what they can (nothing changed; rows updated,
/// inserted, appended on the source; the rows the last incremental sync
/// itself wrote), and leave to the content what they cannot (a row deleted
/// outright on the source; edits on the replica), every result checked by
/// checksums.
#[tokio::test(flavor = "multi_thread")]
async fn row_versions_decide_what_they_can_and_the_content_the_rest() {
    let (src, dst) = app_pair("inc_versions").await;
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
    assert_eq!(by_row_versions(&r), APP_TABLES.to_vec(), "{}", actions(&r));

    src.execute_batch(
        "UPDATE app.customers SET name = 'v2' WHERE id IN (5, 6); \
         INSERT INTO app.customers VALUES (5000, 'new', NULL, 'ok', NULL); \
         UPDATE app.skus SET title = title WHERE code = 'sku-1'; \
         INSERT INTO app.events VALUES ('2025-01-01 00:00+00', 'late', NULL);",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            // Upserted (orders reference it): 2 replaced, 1 new.
            ("app.customers", TableAction::Delta, Some(3), Some(2)),
            // Keyless: the appended row only.
            ("app.events", TableAction::Delta, Some(1), Some(0)),
        ],
    );
    assert_eq!(
        by_row_versions(&r),
        APP_TABLES.to_vec(),
        "a rewrite to the same values is told by content among the newer rows:\n{}",
        actions(&r)
    );
    assert_replica_equals(&src, &dst);

    // The rows that sync wrote carry its own transaction ids: the next one
    // still decides by row versions, and keeps everything.
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
    assert_eq!(by_row_versions(&r), APP_TABLES.to_vec(), "{}", actions(&r));

    // A row deleted outright leaves no newer version: the content finds it.
    src.execute_batch("DELETE FROM app.accounts WHERE id = 7;");
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[("app.accounts", TableAction::Delta, Some(0), Some(1))],
    );
    assert_eq!(
        by_row_versions(&r),
        app_tables_but(&["app.accounts"]),
        "{}",
        actions(&r)
    );

    // Edits on the replica (an update, an insert, a delete): those tables
    // are compared by content and repaired.
    dst.execute_batch(
        "UPDATE app.skus SET title = 'drift' WHERE code = 'sku-3'; \
         INSERT INTO app.measures VALUES (9999, 1); \
         DELETE FROM app.order_lines WHERE order_id = 9 AND line = 1;",
    );
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[
            ("app.skus", TableAction::Delta, Some(1), Some(1)),
            ("app.measures", TableAction::Delta, Some(0), Some(1)),
            ("app.order_lines", TableAction::Delta, Some(1), Some(0)),
        ],
    );
    assert_eq!(
        by_row_versions(&r),
        app_tables_but(&["app.measures", "app.order_lines", "app.skus"]),
        "{}",
        actions(&r)
    );
    assert_replica_equals(&src, &dst);
}

/// A record made against other servers (here: another source identity, as
/// a restarted or replaced source would have) is not used: every table is
/// compared by content, and the sync records a point the next one uses.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_of_other_servers_is_not_used() {
    let (src, dst) = app_pair("inc_versions_other").await;
    dst.execute_batch("UPDATE pgferry.sync_history SET source_identity = 'another server';");
    src.execute_batch("UPDATE app.measures SET v = v + 1 WHERE id = 3;");
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(
        &r,
        &APP_TABLES,
        &[("app.measures", TableAction::Delta, Some(1), Some(1))],
    );
    assert!(by_row_versions(&r).is_empty(), "{}", actions(&r));
    let r = sync_ok(&src, &dst, &incremental()).await;
    assert_actions(&r, &APP_TABLES, &[]);
    assert_eq!(by_row_versions(&r), APP_TABLES.to_vec(), "{}", actions(&r));
}

/// Many newer rows (from 10 000 on) are sampled first: nearly all of them
/// differing, every newer row is written without hashing each; most of
/// them rewrites to the same values, they are hashed and nothing is
/// written.
#[tokio::test(flavor = "multi_thread")]
async fn many_newer_rows_are_sampled_first() {
    let src = shared_cluster().create_database("inc_versions_many_src");
    src.execute_batch(
        "CREATE TABLE public.big (id int PRIMARY KEY, v int NOT NULL, note text); \
         INSERT INTO public.big SELECT g, g, 'n' || g FROM generate_series(1, 50000) g;",
    );
    let dst = shared_cluster().create_database("inc_versions_many_dst");
    sync_ok(&src, &dst, &full()).await;
    let big = |r: &SyncReport| {
        r.table_actions
            .iter()
            .find(|t| t.table == "public.big")
            .cloned()
            .unwrap_or_else(|| panic!("public.big not reported:\n{}", actions(r)))
    };

    src.execute_batch("UPDATE public.big SET v = v + 1 WHERE id % 4 = 0;");
    let r = sync_ok(&src, &dst, &incremental()).await;
    let t = big(&r);
    assert!(!r.full, "{}", actions(&r));
    assert_eq!(
        (t.action, t.rows_written, t.rows_deleted, t.by_row_versions),
        (TableAction::Delta, 12_500, 12_500, true),
        "{}",
        actions(&r)
    );
    assert_replica_equals(&src, &dst);

    src.execute_batch("UPDATE public.big SET note = note WHERE id % 4 = 1;");
    let r = sync_ok(&src, &dst, &incremental()).await;
    let t = big(&r);
    assert_eq!(
        (t.action, t.rows_written, t.rows_deleted, t.by_row_versions),
        (TableAction::Kept, 0, 0, true),
        "{}",
        actions(&r)
    );
}
