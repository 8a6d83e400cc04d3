//! Locating the PostgreSQL server binaries: the default bin directory, the
//! bin directory of a given major version (version matrix), the cache of
//! extra majors, the pg_dump oracle, and the major version of a bin directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The command that installs the server binaries on Debian/Ubuntu, quoted in
/// every "PostgreSQL not found" panic.
pub const INSTALL_HINT: &str = "apt-get update && apt-get install -y postgresql \
     (or: bash scripts/install-postgres.sh; or set PGFERRY_PG_BIN=/path/to/postgresql/bin)";

pub(crate) fn has_initdb(dir: &Path) -> bool {
    dir.join("initdb").is_file()
}

/// Finds the PostgreSQL bin directory without panicking.
///
/// Order: `$PGFERRY_PG_BIN` (returned even if it lacks `initdb`, so that a
/// wrong setting is reported rather than ignored); `pg_config --bindir` if it
/// contains `initdb`; the newest `/usr/lib/postgresql/<major>/bin` that
/// contains `initdb`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PGFERRY_PG_BIN").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
    {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_initdb(&dir) {
                return Some(dir);
            }
        }
    }
    majors_under(Path::new("/usr/lib/postgresql"))
        .into_iter()
        .rev()
        .map(|m| PathBuf::from(format!("/usr/lib/postgresql/{m}/bin")))
        .find(|d| has_initdb(d))
}

/// Major versions with a directory under `root` (numeric names only), ascending.
fn majors_under(root: &Path) -> Vec<u32> {
    let mut majors: Vec<u32> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    majors.sort_unstable();
    majors
}

/// The default PostgreSQL bin directory (see [`find_bin_dir`]).
///
/// # Panics
///
/// Panics with the install command if no server binaries are found, or if
/// `$PGFERRY_PG_BIN` points at a directory without `initdb`.
pub fn default_bin_dir() -> PathBuf {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let dir = DIR.get_or_init(find_bin_dir).clone();
    match dir {
        Some(dir) if has_initdb(&dir) => dir,
        Some(dir) => panic!(
            "pgferry-testkit: PGFERRY_PG_BIN={} does not contain `initdb`; \
             point it at a PostgreSQL server bin directory, or unset it and install the server: {INSTALL_HINT}",
            dir.display()
        ),
        None => panic!(
            "pgferry-testkit: PostgreSQL server binaries (initdb, postgres) not found \
             (looked at $PGFERRY_PG_BIN, `pg_config --bindir`, /usr/lib/postgresql/*/bin). \
             Tests need a real server. Install it with: {INSTALL_HINT}"
        ),
    }
}

/// Default of `$PGFERRY_PG_CACHE`, shared with `scripts/install-pg-versions.sh`.
/// Outside the repository and outside `/root`, so that the `postgres` OS user
/// can execute the binaries when the tests run as root.
pub const DEFAULT_PG_CACHE: &str = "/var/cache/pgferry/pg";

/// The command that installs the extra server majors of the version matrix,
/// quoted when a requested major is missing.
pub const VERSIONS_INSTALL_HINT: &str = "bash scripts/install-pg-versions.sh \
     (installs majors 13, 14, 16, 17, 18 into $PGFERRY_PG_CACHE, default /var/cache/pgferry/pg; \
     15 comes from: bash scripts/install-postgres.sh)";

/// The cache of extra PostgreSQL versions: `$PGFERRY_PG_CACHE`, default
/// [`DEFAULT_PG_CACHE`] (`/var/cache/pgferry/pg`). Layout:
/// `<cache>/<major>/{bin,lib,share}`, as `scripts/install-pg-versions.sh`
/// lays it out.
pub fn pg_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGFERRY_PG_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    PathBuf::from(DEFAULT_PG_CACHE)
}

/// The bin directory of the pg_dump oracle: PostgreSQL 17 client programs
/// (`pg_dump`, `pg_restore`, `psql`) that can dump servers older than 17 too,
/// used by the version matrix to judge schema equality on targets without
/// their own `pg_dump`. `$PGFERRY_ORACLE_BIN` when set, else
/// `<pg_cache_dir()>/client17/bin` (installed by
/// `scripts/install-pg-versions.sh`); `None` when that directory holds no
/// `pg_dump`.
pub fn oracle_bin_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("PGFERRY_ORACLE_BIN").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => pg_cache_dir().join("client17").join("bin"),
    };
    dir.join("pg_dump").is_file().then_some(dir)
}

/// Every major version for which [`bin_dir_for_major`] finds server binaries
/// (Debian's `/usr/lib/postgresql/<major>` and the cache), ascending.
pub fn installed_majors() -> Vec<u32> {
    let mut majors = majors_under(Path::new("/usr/lib/postgresql"));
    majors.extend(majors_under(&pg_cache_dir()));
    majors.sort_unstable();
    majors.dedup();
    majors.retain(|m| bin_dir_for_major(*m).is_some());
    majors
}

/// The major versions a version-matrix test should run against:
/// `$PGFERRY_PG_VERSIONS` (comma- or space-separated, e.g. `13,14,15,16,17,18`),
/// sorted and deduplicated; when unset or empty, only the major of the
/// default bin directory ([`default_bin_dir`]).
///
/// Whether they are installed is not checked here: see [`require_major`].
///
/// # Panics
///
/// Panics if `$PGFERRY_PG_VERSIONS` holds something that is not a number.
pub fn requested_majors() -> Vec<u32> {
    let spec = std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default();
    let mut majors = parse_majors(&spec).unwrap_or_else(|bad| {
        panic!(
            "pgferry-testkit: PGFERRY_PG_VERSIONS={spec:?}: {bad:?} is not a major version number"
        )
    });
    if majors.is_empty() {
        majors.push(major_version_of(&default_bin_dir()));
    }
    majors
}

fn parse_majors(spec: &str) -> Result<Vec<u32>, String> {
    let mut majors = spec
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().map_err(|_| s.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    majors.sort_unstable();
    majors.dedup();
    Ok(majors)
}

/// The bin directory of `major` ([`bin_dir_for_major`]).
///
/// # Panics
///
/// Panics with the install command ([`VERSIONS_INSTALL_HINT`]) when that
/// major is not installed: a requested version is never skipped silently.
pub fn require_major(major: u32) -> PathBuf {
    bin_dir_for_major(major).unwrap_or_else(|| {
        panic!(
            "pgferry-testkit: PostgreSQL {major} was requested (PGFERRY_PG_VERSIONS={:?}) but is not installed \
             (looked at /usr/lib/postgresql/{major}/bin and {}/{major}/bin; installed: {:?}). Install it with: {VERSIONS_INSTALL_HINT}",
            std::env::var("PGFERRY_PG_VERSIONS").unwrap_or_default(),
            pg_cache_dir().display(),
            installed_majors(),
        )
    })
}

/// The bin directory of a specific major version, if installed:
/// `/usr/lib/postgresql/{major}/bin`, then `$PGFERRY_PG_CACHE/{major}/bin`.
///
/// Note: when tests run as root, the `postgres` user must be able to reach
/// the directory (a cache under `/root` is not reachable).
pub fn bin_dir_for_major(major: u32) -> Option<PathBuf> {
    [
        PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")),
        pg_cache_dir().join(major.to_string()).join("bin"),
    ]
    .into_iter()
    .find(|d| has_initdb(d))
}

/// Path of a PostgreSQL program (`pg_dump`, `pg_restore`, `psql`, …) in the
/// default bin directory. Panics like [`default_bin_dir`].
pub fn bin(name: &str) -> PathBuf {
    default_bin_dir().join(name)
}

/// Path of `pg_dump` in the default bin directory.
pub fn pg_dump_bin() -> PathBuf {
    bin("pg_dump")
}

/// Path of `pg_restore` in the default bin directory.
pub fn pg_restore_bin() -> PathBuf {
    bin("pg_restore")
}

/// Path of `psql` in the default bin directory.
pub fn psql_bin() -> PathBuf {
    bin("psql")
}

/// Runs `<bin_dir>/postgres --version` and returns the major version
/// (e.g. `15` for "postgres (PostgreSQL) 15.18 (Debian …)", `9` for 9.6).
pub fn major_version_of(bin_dir: &Path) -> u32 {
    let out = Command::new(bin_dir.join("postgres"))
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pgferry-testkit: cannot run {}/postgres --version: {e}. Install the server: {INSTALL_HINT}",
                bin_dir.display()
            )
        });
    let text = String::from_utf8_lossy(&out.stdout);
    parse_major_version(&text).unwrap_or_else(|| {
        panic!("pgferry-testkit: cannot parse the output of postgres --version: {text:?}")
    })
}

fn parse_major_version(text: &str) -> Option<u32> {
    let rest = text.split("(PostgreSQL)").nth(1)?.trim_start();
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_major_version("postgres (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 18beta1"),
            Some(18)
        );
        assert_eq!(parse_major_version("nope"), None);
    }

    #[test]
    fn finds_binaries() {
        let dir = default_bin_dir();
        assert!(dir.join("initdb").is_file());
        assert!(pg_dump_bin().is_file());
        let major = major_version_of(&dir);
        if dir.starts_with("/usr/lib/postgresql") {
            assert_eq!(bin_dir_for_major(major), Some(dir));
        }
        assert_eq!(bin_dir_for_major(1), None);
        assert!(installed_majors().contains(&major));
    }

    #[test]
    fn parses_requested_majors() {
        assert_eq!(parse_majors(""), Ok(vec![]));
        assert_eq!(parse_majors("18,13, 15 15"), Ok(vec![13, 15, 18]));
        assert_eq!(parse_majors("13,x"), Err("x".to_string()));
    }
}
