//! List files, as `pg_restore -L` takes them: which objects of an archive a
//! restore runs, and in what order. `pgferry list` prints one.
//!
//! # Format
//!
//! One object a line, its archive id first, then `;` and anything (`pgferry
//! list` writes `ID; KIND SCHEMA NAME OWNER`, and after one more `;` the
//! rows and bytes of table data). A line whose first non-blank character is
//! `;` is a comment, so prefixing an object's line with `;` leaves the
//! object out; blank lines are ignored. Only the id is read: the rest of a
//! line is for people.
//!
//! Deviations from pg_restore, which warns about a line it cannot use and
//! goes on: a line whose text before its first `;` is not an id, an id the
//! archive does not hold, an id listed twice, and an order that creates an
//! object before another listed object it depends on are errors, found
//! before the target is touched. An object depending on one the list leaves
//! out is fine (the target may already hold it), as with pg_restore.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pgferry_catalog::{Catalog, Object};

/// Errors of reading a list file or applying it to an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListFileError {
    /// The list file could not be read.
    #[error("list file {}: {source}", path.display())]
    Read {
        /// The list file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line that is neither a comment, blank, nor an id followed by `;`.
    #[error(
        "list file {file}, line {line}: expected an object id before the first ';', found {text:?}"
    )]
    Syntax {
        /// The list file's name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The line (its first 80 characters).
        text: String,
    },
    /// An id the archive does not hold.
    #[error("list file {file}, line {line}: id {id} is not in the archive")]
    UnknownId {
        /// The list file's name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The id.
        id: u32,
    },
    /// An id listed twice.
    #[error("list file {file}, line {line}: id {id} is already listed on line {first}")]
    Duplicate {
        /// The list file's name.
        file: String,
        /// 1-based line number of the second listing.
        line: usize,
        /// 1-based line number of the first.
        first: usize,
        /// The id.
        id: u32,
    },
    /// An object listed before another listed object it depends on.
    #[error(
        "list file {file} orders {object} (id {id}) before {needed} (id {needed_id}), which it depends on"
    )]
    Order {
        /// The list file's name.
        file: String,
        /// The object listed too early: kind and name, e.g. `TABLE DATA public.accounts`.
        object: String,
        /// Its id.
        id: u32,
        /// What it depends on, listed later: kind and name.
        needed: String,
        /// Its id.
        needed_id: u32,
    },
}

/// The objects a list file names, in its order: `pgferry restore -L`.
///
/// ```
/// use pgferry_engine::ListFile;
/// let text = "\
/// ; pgferry archive of database app (PostgreSQL 17.2), 3 objects
/// 7; TABLE public accounts postgres
/// ;12; TABLE DATA public accounts postgres; 100 rows, 4096 bytes (1024 stored)
///   9; INDEX public accounts_email_idx postgres
/// ";
/// let list = ListFile::parse("app.list", text).unwrap();
/// assert_eq!(list.ids(), vec![7, 9]);
/// let e = ListFile::parse("app.list", "7; TABLE\nnonsense\n").unwrap_err();
/// assert!(e.to_string().contains("app.list, line 2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    /// Named in errors.
    file: String,
    /// Ids with the lines they are on.
    entries: Vec<(u32, usize)>,
}

impl ListFile {
    /// Reads and parses the list file at `path`.
    pub fn read(path: &Path) -> Result<ListFile, ListFileError> {
        let bytes = std::fs::read(path).map_err(|source| ListFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // Names may be in any encoding; only the ids (ASCII) are read.
        ListFile::parse(path.display().to_string(), &String::from_utf8_lossy(&bytes))
    }

    /// Parses a list file's text; `file` names it in errors.
    pub fn parse(file: impl Into<String>, text: &str) -> Result<ListFile, ListFileError> {
        let file = file.into();
        let mut entries = Vec::new();
        let mut seen: HashMap<u32, usize> = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let t = raw.trim_start();
            if t.is_empty() || t.starts_with(';') {
                continue;
            }
            let head = t.split(';').next().unwrap_or_default().trim();
            let id = Some(head)
                .filter(|h| h.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|h| h.parse::<u32>().ok())
                .ok_or_else(|| ListFileError::Syntax {
                    file: file.clone(),
                    line,
                    text: raw.trim_end().chars().take(80).collect(),
                })?;
            if let Some(&first) = seen.get(&id) {
                return Err(ListFileError::Duplicate {
                    file,
                    line,
                    first,
                    id,
                });
            }
            seen.insert(id, line);
            entries.push((id, line));
        }
        Ok(ListFile { file, entries })
    }

    /// A list of `ids` built in code; `name` names it in errors.
    pub fn from_ids(
        name: impl Into<String>,
        ids: impl IntoIterator<Item = u32>,
    ) -> Result<ListFile, ListFileError> {
        let text: String = ids.into_iter().map(|id| format!("{id};\n")).collect();
        ListFile::parse(name, &text)
    }

    /// The listed ids, in order.
    pub fn ids(&self) -> Vec<u32> {
        self.entries.iter().map(|&(id, _)| id).collect()
    }

    /// The list's name in errors (its path, for [`ListFile::read`]).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The listed objects of `selected` (a selection out of `catalog`), in
    /// the list's order. Every listed id must be in `catalog`, and no
    /// object may come before another of the result it depends on, unless
    /// the archive orders them so too (a dependency loop the dump broke).
    pub(crate) fn select(
        &self,
        catalog: &Catalog,
        selected: Vec<Object>,
    ) -> Result<Vec<Object>, ListFileError> {
        let archive_pos: HashMap<u32, usize> = catalog
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id, i))
            .collect();
        if let Some(&(id, line)) = self
            .entries
            .iter()
            .find(|(id, _)| !archive_pos.contains_key(id))
        {
            return Err(ListFileError::UnknownId {
                file: self.file.clone(),
                line,
                id,
            });
        }
        let mut kept: HashMap<u32, Object> = selected.into_iter().map(|o| (o.id, o)).collect();
        let out: Vec<Object> = self
            .entries
            .iter()
            .filter_map(|(id, _)| kept.remove(id))
            .collect();
        let list_pos: HashMap<u32, usize> =
            out.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
        for (i, o) in out.iter().enumerate() {
            let too_late = o
                .deps
                .iter()
                .filter_map(|d| Some((list_pos.get(d).copied()?, archive_pos.get(d)?)))
                .filter(|&(j, &a)| j > i && a < archive_pos[&o.id])
                .min_by_key(|&(j, _)| j);
            if let Some((j, _)) = too_late {
                let needed = &out[j];
                return Err(ListFileError::Order {
                    file: self.file.clone(),
                    object: format!("{} {}", o.kind.label(), o.display_name()),
                    id: o.id,
                    needed: format!("{} {}", needed.kind.label(), needed.display_name()),
                    needed_id: needed.id,
                });
            }
        }
        Ok(out)
    }
}

/// One object's line of a list file: `ID; KIND SCHEMA NAME OWNER` (`-` for
/// no schema or owner), line breaks in names turned into spaces (like
/// pg_restore's listing), then `; comment` when one is given.
pub(crate) fn list_line(
    id: u32,
    kind: &str,
    schema: Option<&str>,
    name: &str,
    owner: Option<&str>,
    comment: Option<&str>,
) -> String {
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    let mut out = format!(
        "{id}; {kind} {} {} {}",
        one_line(schema.unwrap_or("-")),
        one_line(name),
        one_line(owner.unwrap_or("-"))
    );
    if let Some(c) = comment {
        out.push_str("; ");
        out.push_str(&one_line(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgferry_catalog::Kind;

    fn o(id: u32, name: &str, deps: &[u32]) -> Object {
        Object {
            id,
            schema: None,
            name: name.into(),
            owner: None,
            comment: None,
            acl: None,
            deps: deps.to_vec(),
            kind: Kind::Schema,
        }
    }

    /// Objects 1..=4: 2 needs 1, 3 needs 2, 4 needs 1; 5 placed before 6,
    /// which it needs (a loop the dump broke); 7 needs 1 and 4.
    fn catalog() -> Catalog {
        // (from JSON: fields the model gains with serde defaults need no edit here)
        let mut c: Catalog = serde_json::from_value(serde_json::json!({
            "model_version": pgferry_catalog::MODEL_VERSION,
            "server_version_num": 170000,
            "server_version": "17.0",
            "database": "d",
            "encoding": "UTF8",
            "objects": [],
        }))
        .unwrap();
        c.objects = vec![
            o(1, "a", &[]),
            o(2, "b", &[1]),
            o(3, "c", &[2]),
            o(4, "d", &[1]),
            o(5, "e", &[6]),
            o(6, "f", &[5]),
            o(7, "g", &[1, 4]),
        ];
        c
    }

    fn select(text: &str) -> Result<Vec<u32>, ListFileError> {
        let c = catalog();
        let list = ListFile::parse("l", text)?;
        Ok(list
            .select(&c, c.objects.clone())?
            .iter()
            .map(|o| o.id)
            .collect())
    }

    #[test]
    fn comments_blanks_and_ids() {
        let l = ListFile::parse(
            "l",
            "; header\n\n  ;3; x\n2; SCHEMA - b -; 4 rows\n\t1 ;\n4\r\n",
        )
        .unwrap();
        assert_eq!(l.ids(), vec![2, 1, 4]);
        assert_eq!(l.file(), "l");
        assert!(ListFile::parse("l", "").unwrap().ids().is_empty());
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, line) in [
            ("1;\nx; y\n", 2),
            ("1 2; y", 1),
            ("+1; y", 1),
            ("; c\n-1;", 2),
            ("99999999999; y", 1),
            ("TABLE public t", 1),
        ] {
            match ListFile::parse("f.list", text) {
                Err(ListFileError::Syntax { file, line: l, .. }) => {
                    assert_eq!((file.as_str(), l), ("f.list", line), "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let e = ListFile::parse("f.list", "1;\n2;\n1; again").unwrap_err();
        assert_eq!(
            e.to_string(),
            "list file f.list, line 3: id 1 is already listed on line 1"
        );
    }

    #[test]
    fn unknown_ids_are_named() {
        let e = select("1;\n\n77; who\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "list file l, line 3: id 77 is not in the archive"
        );
    }

    #[test]
    fn the_list_orders_and_selects() {
        assert_eq!(select("1\n4\n2\n3\n").unwrap(), vec![1, 4, 2, 3]);
        assert_eq!(
            select("3;\n4;\n").unwrap(),
            vec![3, 4],
            "unlisted deps are fine"
        );
        // The archive's own order of a loop is kept, not refused.
        assert_eq!(select("5;\n6;\n").unwrap(), vec![5, 6]);
        // Listed but filtered out: left out, and not an ordering problem.
        let c = catalog();
        let list = ListFile::parse("l", "3;\n2;\n4;").unwrap();
        let without_2: Vec<Object> = c.objects.iter().filter(|o| o.id != 2).cloned().collect();
        let ids: Vec<u32> = list
            .select(&c, without_2)
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, vec![3, 4]);
    }

    #[test]
    fn an_object_before_what_it_needs_is_refused() {
        let e = select("1;\n3;\n4;\n2;\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "list file l orders SCHEMA c (id 3) before SCHEMA b (id 2), which it depends on"
        );
        // The nearest of several later dependencies is named.
        for (text, needed) in [("7;\n4;\n1;\n", 4), ("7;\n1;\n4;\n", 1)] {
            match select(text) {
                Err(ListFileError::Order { id, needed_id, .. }) => {
                    assert_eq!((id, needed_id), (7, needed), "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(select("6;\n5;\n").is_err(), "a loop reversed is refused");
    }

    #[test]
    fn listing_lines_parse_back() {
        let lines = [
            list_line(
                12,
                "TABLE DATA",
                Some("public"),
                "a;b",
                Some("postgres"),
                Some("3 rows"),
            ),
            list_line(3, "SCHEMA", None, "we\nird", None, None),
        ];
        assert_eq!(lines[0], "12; TABLE DATA public a;b postgres; 3 rows");
        assert_eq!(lines[1], "3; SCHEMA - we ird -");
        let l = ListFile::parse("l", &lines.join("\n")).unwrap();
        assert_eq!(l.ids(), vec![12, 3]);
    }
}
