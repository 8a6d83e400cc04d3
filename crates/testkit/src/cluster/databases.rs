//! The databases of a [`Cluster`]: handles on existing ones, fresh uniquely
//! named ones per test, test extensions, and dropping them.

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::Cluster;
use crate::db::TestDb;

impl Cluster {
    /// A handle on an existing database (e.g. `"postgres"`); nothing is created.
    pub fn database(&self, name: &str) -> TestDb {
        TestDb {
            name: name.to_string(),
            port: self.port,
            bin_dir: self.bin_dir.clone(),
        }
    }

    /// Creates a fresh, uniquely named database `t_<hint>_<n>` (hint reduced
    /// to `[a-z0-9_]`, truncated) from `template0` and returns a handle.
    pub fn create_database(&self, name_hint: &str) -> TestDb {
        let n = self.db_counter.fetch_add(1, Ordering::Relaxed) + 1;
        let mut hint: String = name_hint
            .chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_alphanumeric() {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        hint.truncate(40);
        let name = format!("t_{hint}_{n}");
        self.database("postgres").execute_batch(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        ));
        self.database(&name)
    }

    /// Installs an extension's control file and `name--1.0.sql` script into
    /// this server's `SHAREDIR/extension` (as `CREATE EXTENSION` finds them),
    /// for tests that need an extension no package ships. Idempotent.
    /// Panics when the directory is not writable (run the tests as root, as
    /// CI does, or as the owner of the server installation).
    pub fn install_extension(&self, name: &str, control: &str, script: &str) {
        let rows = self
            .database("postgres")
            .query_strings("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'");
        let share = rows
            .first()
            .and_then(|r| r[0].clone())
            .expect("pgferry-testkit: pg_config has no SHAREDIR");
        let dir = Path::new(&share).join("extension");
        for (file, text) in [
            (format!("{name}.control"), control),
            (format!("{name}--1.0.sql"), script),
        ] {
            let path = dir.join(file);
            if fs::read_to_string(&path).ok().as_deref() == Some(text) {
                continue;
            }
            fs::write(&path, text).unwrap_or_else(|e| {
                panic!(
                    "pgferry-testkit: cannot install test extension file {}: {e} \
                     (the tests need write access to the server's extension directory: run them as root)",
                    path.display()
                )
            });
        }
    }

    /// Drops a database (with `FORCE`, terminating its connections). Its
    /// subscriptions, which would keep it from being dropped, go first
    /// (without touching their publishers).
    pub fn drop_database(&self, name: &str) {
        let exists = self.database("postgres").query_strings(&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{}'",
            name.replace('\'', "''")
        ));
        if !exists.is_empty() {
            self.database(name).execute_batch(
                "DO $$DECLARE s text; BEGIN FOR s IN SELECT quote_ident(subname) FROM pg_subscription \
                 WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) LOOP \
                 EXECUTE 'ALTER SUBSCRIPTION ' || s || ' DISABLE'; \
                 EXECUTE 'ALTER SUBSCRIPTION ' || s || ' SET (slot_name = NONE)'; \
                 EXECUTE 'DROP SUBSCRIPTION ' || s; END LOOP; END$$",
            );
        }
        self.database("postgres").execute_batch(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            name.replace('"', "\"\"")
        ));
    }
}
