//! The repository's SQL fixtures (`fixtures/`): paths, contents, and the
//! version-specific (`versions/NN.sql`) and per-kind (`kinds/*.sql`) files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The files of `fixtures/kinds/`, as fixture names, in name order.
pub fn kind_fixtures() -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(fixtures_dir().join("kinds"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            name.ends_with(".sql").then(|| format!("kinds/{name}"))
        })
        .collect();
    files.sort();
    files
}

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("fixtures")
}

/// Path of `fixtures/<name>`.
pub fn fixture_path(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// The version-specific fixtures `versions/NN.sql` with `NN <= major`, as
/// `(NN, "versions/NN.sql")`, ascending.
pub fn version_fixtures(major: u32) -> Vec<(u32, String)> {
    let mut files: Vec<(u32, String)> = fs::read_dir(fixtures_dir().join("versions"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let nn: u32 = name.strip_suffix(".sql")?.parse().ok()?;
            (nn <= major).then(|| (nn, format!("versions/{name}")))
        })
        .collect();
    files.sort();
    files
}

/// Contents of `fixtures/<name>`. Panics if it cannot be read.
pub fn fixture_sql(name: &str) -> String {
    let path = fixture_path(name);
    fs::read_to_string(&path).unwrap_or_else(|e: io::Error| {
        panic!(
            "pgferry-testkit: cannot read fixture {}: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_version_fixtures() {
        let all = version_fixtures(99);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "{all:?}");
        assert!(version_fixtures(13).iter().all(|(nn, _)| *nn <= 13));
        assert!(all
            .iter()
            .any(|(nn, f)| *nn == 15 && f == "versions/15.sql"));
    }
}
