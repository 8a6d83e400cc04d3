//! The fixtures in `fixtures/` load cleanly through the testkit (simple query
//! protocol, one round trip) and dump cleanly with `pg_dump`.

use pgferry_testkit::{pg_dump_schema, shared_cluster};

fn one(db: &pgferry_testkit::TestDb, sql: &str) -> String {
    db.query_one_string(sql)
        .unwrap_or_else(|| panic!("NULL from {sql}"))
}

#[test]
fn schema_fixture_loads_and_covers_every_kind() {
    let db = shared_cluster().create_database("fixture_schema");
    db.load_fixture_for_major(shared_cluster().major_version());

    // Relation kinds: table, partitioned table, view, matview, sequence,
    // index, partitioned index, composite type.
    let kinds = one(
        &db,
        "SELECT string_agg(DISTINCT relkind::text, '' ORDER BY relkind::text) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname IN ('public', 'inventory', 'Sales Data')",
    );
    for k in ["r", "p", "v", "m", "S", "i", "I", "c"] {
        assert!(kinds.contains(k), "relkind {k} missing from {kinds}");
    }
    // Constraint kinds: check, foreign key, primary key, unique, exclusion,
    // constraint trigger.
    let contypes = one(
        &db,
        "SELECT string_agg(DISTINCT contype::text, '' ORDER BY contype::text) FROM pg_constraint",
    );
    for k in ["c", "f", "p", "u", "x", "t"] {
        assert!(contypes.contains(k), "contype {k} missing from {contypes}");
    }
    assert_eq!(
        one(
            &db,
            "SELECT count(*) FROM pg_constraint WHERE NOT convalidated"
        ),
        "2"
    );
    assert_eq!(one(&db, "SELECT count(*) FROM public.events"), "20000");
    assert_eq!(one(&db, "SELECT count(*) FROM public.empty_cols"), "3");
    assert_eq!(
        one(&db, "SELECT count(*) FROM public.users"),
        "4",
        "public.users must survive the injection-named table"
    );
    assert_eq!(
        one(
            &db,
            "SELECT octet_length(c_big_text) FROM public.all_types WHERE id = 3"
        ),
        "1048576"
    );
    assert_eq!(
        one(
            &db,
            "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum \
             WHERE enumtypid = 'public.mood'::regtype"
        ),
        "sad,ok,happy,ecstatic"
    );
    assert_eq!(
        one(
            &db,
            "SELECT last_value || '/' || is_called FROM inventory.batch_seq"
        ),
        "-42/false"
    );
    assert_eq!(
        one(
            &db,
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attisdropped"
        ),
        "1"
    );
    assert_eq!(
        one(
            &db,
            "SELECT relispopulated::text FROM pg_class WHERE oid = 'public.user_stats'::regclass"
        ),
        "false"
    );

    let schema = pg_dump_schema(&db);
    for needle in [
        "CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA inventory",
        "CREATE TABLE public.empty_cols (\n);",
        "CREATE TABLE public.\"x\"\"; DROP TABLE public.users; --\"",
        "PARTITION BY HASH (item_id)",
        "FOR VALUES IN (NULL)",
        "DEFAULT",
        "NULLS NOT DISTINCT",
        "EXCLUDE USING gist (during WITH &&)",
        "WITH (security_barrier='true')",
        "WITH CASCADED CHECK OPTION",
        "WITH NO DATA",
        "SECURITY DEFINER",
        "CREATE AGGREGATE public.product",
        "CREATE OPERATOR public.=~=",
        "CREATE CONSTRAINT TRIGGER items_price_check",
        "INSTEAD OF INSERT",
        "REFERENCING NEW TABLE AS new_rows",
        "CREATE RULE audit_log_no_delete",
        "FORCE ROW LEVEL SECURITY",
        "AS RESTRICTIVE",
        "CREATE STATISTICS public.users_mood_select_stats",
        "CREATE TEXT SEARCH CONFIGURATION public.pgferry_english",
        "CREATE TEXT SEARCH DICTIONARY public.english_stem_nostop",
        "CREATE UNLOGGED TABLE public.session_cache",
        "INHERITS (public.vehicles)",
        "GENERATED ALWAYS AS (split_part(email, '@'::text, 2)) STORED",
        "COMMENT ON SCHEMA public IS",
        "GRANT SELECT(id) ON TABLE public.users TO pgferry_reader;",
        "ALTER DEFAULT PRIVILEGES",
        "CREATE PROCEDURE public.archive_documents",
        "NOT VALID",
    ] {
        assert!(
            schema.contains(needle),
            "pg_dump --schema-only lacks {needle:?}"
        );
    }

    // A full dump (data too) succeeds, in plain and custom format.
    let full = db.pg_dump(&[]);
    assert!(full.contains("COPY public.events"));
    let custom = db.pg_dump_bytes(&["--format=custom"]);
    assert!(custom.starts_with(b"PGDMP"));

    // Loading is deterministic: a second copy dumps identically.
    let db2 = shared_cluster().create_database("fixture_schema_again");
    db2.load_fixture_for_major(shared_cluster().major_version());
    assert_eq!(schema, pg_dump_schema(&db2));
}

#[test]
fn sample_app_fixture_loads() {
    let db = shared_cluster().create_database("fixture_sample_app");
    db.load_fixture("sample_app.sql");
    let counts = db.query_strings(
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM products), \
         (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items)",
    );
    let counts: Vec<&str> = counts[0].iter().map(|v| v.as_deref().unwrap()).collect();
    assert_eq!(counts, ["1000", "200", "3000", "6000"]);
    assert!(pg_dump_schema(&db).contains("CREATE VIEW public.order_totals"));
}
