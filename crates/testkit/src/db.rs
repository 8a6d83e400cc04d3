//! [`TestDb`]: one database in a test cluster, with blocking SQL helpers,
//! an async [`TestDb::connect`], `pg_dump` and fixture loading.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::client::{
    block_on, connect_on_current_runtime, describe_error, excerpt, libpq_quote, percent_encode,
};
use crate::fixtures::{fixture_sql, kind_fixtures, version_fixtures};
use crate::os::run_checked;

/// One database in a test cluster. Cheap to clone; dropping it does not drop
/// the database (the cluster is throwaway).
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Database name.
    pub name: String,
    pub(crate) port: u16,
    pub(crate) bin_dir: PathBuf,
}

impl TestDb {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `host=127.0.0.1 port=N user=postgres dbname=NAME`.
    pub fn conn_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={}",
            self.port,
            libpq_quote(&self.name)
        )
    }

    /// `postgresql://postgres@127.0.0.1:N/NAME`.
    pub fn uri(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{}",
            self.port,
            percent_encode(&self.name)
        )
    }

    /// The server's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Bin directory of the server holding this database.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Connects on the **caller's** tokio runtime (for `#[tokio::test]`); the
    /// connection task is spawned with `tokio::spawn`.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let conn = self.conn_string();
        connect_on_current_runtime(&conn).await.unwrap_or_else(|e| {
            panic!(
                "pgferry-testkit: cannot connect to {conn}: {}",
                describe_error(&e, None)
            )
        })
    }

    /// Runs `sql` (any number of `;`-separated statements) with the simple
    /// query protocol. As for any multi-statement simple query, the statements
    /// run in one implicit transaction unless `sql` contains `BEGIN`/`COMMIT`.
    pub fn try_execute_batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        let conn = self.conn_string();
        block_on(|| async move {
            let client = connect_on_current_runtime(&conn).await?;
            client.batch_execute(sql).await
        })
    }

    /// Like [`TestDb::try_execute_batch`], but panics with the server's error
    /// (code, detail, hint, offending SQL line).
    pub fn execute_batch(&self, sql: &str) {
        if let Err(e) = self.try_execute_batch(sql) {
            panic!(
                "pgferry-testkit: SQL failed in database {}: {}\n--- SQL: {}",
                self.name,
                describe_error(&e, Some(sql)),
                excerpt(sql)
            );
        }
    }

    /// Runs `sql` with the simple query protocol and returns the rows of all
    /// statements, every value in PostgreSQL's text format (`None` = NULL).
    pub fn try_query_strings(
        &self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
        let conn = self.conn_string();
        block_on(|| async move {
            let client = connect_on_current_runtime(&conn).await?;
            let messages = client.simple_query(sql).await?;
            let rows = messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_owned))
                            .collect(),
                    ),
                    _ => None,
                })
                .collect();
            Ok(rows)
        })
    }

    /// Like [`TestDb::try_query_strings`], panicking on error.
    pub fn query_strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_query_strings(sql).unwrap_or_else(|e| {
            panic!(
                "pgferry-testkit: query failed in database {}: {}\n--- SQL: {}",
                self.name,
                describe_error(&e, Some(sql)),
                excerpt(sql)
            )
        })
    }

    /// First column of the first row (`None` if NULL). Panics if there is no row.
    pub fn query_one_string(&self, sql: &str) -> Option<String> {
        let rows = self.query_strings(sql);
        let row = rows.into_iter().next().unwrap_or_else(|| {
            panic!(
                "pgferry-testkit: query returned no rows in database {}: {}",
                self.name,
                excerpt(sql)
            )
        });
        row.into_iter().next().flatten()
    }

    /// Runs `pg_dump <args> -d <conn_string>` from the server's bin dir and
    /// returns stdout as text (plain format). Panics with stderr on failure.
    pub fn pg_dump(&self, args: &[&str]) -> String {
        String::from_utf8(self.pg_dump_bytes(args))
            .unwrap_or_else(|_| panic!("pg_dump {args:?} output is not UTF-8; use pg_dump_bytes"))
    }

    /// Like [`TestDb::pg_dump`], returning raw bytes (for `--format=custom`).
    pub fn pg_dump_bytes(&self, args: &[&str]) -> Vec<u8> {
        let mut cmd = Command::new(self.bin_dir.join("pg_dump"));
        cmd.args(args).arg("-d").arg(self.conn_string());
        run_checked(cmd, "pg_dump").stdout
    }

    /// Loads a file from the repository's `fixtures/` directory.
    pub fn load_fixture(&self, name: &str) {
        self.execute_batch(&fixture_sql(name));
    }

    /// Loads `fixtures/schema.sql`, then every `fixtures/versions/NN.sql` with
    /// `NN <= major` in ascending order (the objects that need a newer server
    /// than the oldest supported one). Pass the major of the server holding
    /// this database, e.g. `cluster.major_version()`.
    pub fn load_fixture_for_major(&self, major: u32) {
        self.load_fixture("schema.sql");
        for (_, name) in version_fixtures(major) {
            self.load_fixture(&name);
        }
    }

    /// Loads every `fixtures/kinds/*.sql` in name order (one file per object
    /// kind beyond `schema.sql`: base types, operator classes, access
    /// methods, foreign data, subscriptions, database properties, dependency
    /// loops, ...), on top of [`TestDb::load_fixture_for_major`]. They need a
    /// superuser; `DATABASE_NAME` in them stands for this database.
    pub fn load_kind_fixtures(&self) {
        let name = format!("\"{}\"", self.name().replace('"', "\"\""));
        for file in kind_fixtures() {
            self.execute_batch(&fixture_sql(&file).replace("DATABASE_NAME", &name));
        }
    }
}

impl fmt::Display for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.conn_string())
    }
}

#[cfg(test)]
mod tests {
    use crate::shared_cluster;

    #[tokio::test]
    async fn helpers_work_inside_a_tokio_runtime() {
        let db = shared_cluster().create_database("in_tokio");
        db.execute_batch("CREATE TABLE t (x int); INSERT INTO t VALUES (42)");
        assert_eq!(
            db.query_one_string("SELECT x FROM t").as_deref(),
            Some("42")
        );
        let client = db.connect().await;
        let row = client.query_one("SELECT x FROM t", &[]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 42);
    }
}
