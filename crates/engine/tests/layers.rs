//! The engine's layering, checked from its source: every file imports only
//! from its own layer or the layers below, operation files never import each
//! other, no two files import each other in a circle, no source file grows
//! past the size a reader can hold, and operations type no catalog SQL.
//!
//! Paths are followed through `pub use` re-exports to the file that defines
//! the item, so a re-export cannot hide a dependency.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layer of each top-level module: a file may import from its own layer
/// and the ones below.
const LAYERS: &[(&str, u32)] = &[
    ("filter", 0),
    ("list_file", 0),
    ("progress", 0),
    ("error", 1),
    ("conn", 1),
    ("select", 1),
    ("pool", 1),
    ("watch", 2),
    ("source", 3),
    ("archive", 3),
    ("target", 3),
    ("compare", 3),
    ("script", 3),
    ("op", 4),
    ("lib", 5),
];

/// Lines a source file may have, tests included.
const MAX_LINES: usize = 800;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module path of a file: `op/sync/mod.rs` → `[op, sync]`, `lib.rs` → `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The file defining module `path`, if it is a module.
fn file_of(modules: &BTreeMap<Vec<String>, PathBuf>, path: &[String]) -> Option<PathBuf> {
    modules.get(path).cloned()
}

/// Source text without comments and string literals' contents (enough for
/// finding paths and `use` statements).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        let mut in_str = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
                out.push('"');
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// Every `crate::`/`super::`/`self::` path a file names, made absolute, and
/// whether it came from a `pub use` (a re-export).
fn paths_of(
    code: &str,
    module: &[String],
    is_module: &dyn Fn(&[String]) -> bool,
) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    let absolute = |p: &str| -> Option<Vec<String>> {
        let segs: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
        let (mut base, rest): (Vec<String>, &[&str]) = match segs.first() {
            Some(&"crate") => (Vec::new(), &segs[1..]),
            Some(&"self") => (module.to_vec(), &segs[1..]),
            Some(&"super") => {
                // In `a/mod.rs` (module a), `super` is a's parent; in `a/b.rs`, it is a.
                let mut m = module.to_vec();
                let mut rest = &segs[..];
                while rest.first() == Some(&"super") {
                    m.pop();
                    rest = &rest[1..];
                }
                (m, rest)
            }
            // A path relative to this module (`use spec::ConnSpec` in
            // `conn/mod.rs`); other first segments are crates.
            Some(first) => {
                let mut child = module.to_vec();
                child.push(first.to_string());
                if !is_module(&child) {
                    return None;
                }
                (module.to_vec(), &segs[..])
            }
            None => return None,
        };
        base.extend(rest.iter().map(|s| s.to_string()));
        Some(base)
    };
    // `use` statements (with brace groups).
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = &rest[..i];
        let at_start = before.is_empty() || before.ends_with(['\n', ' ', '\t', '{', ';']);
        let after = &rest[i + 4..];
        let Some(end) = after.find(';') else { break };
        if at_start {
            let stmt = &after[..end];
            let reexport = before.trim_end().ends_with("pub") || before.trim_end().ends_with(')');
            for p in expand(stmt) {
                let p = p.split(" as ").next().unwrap_or("").to_string();
                let p = p.trim_end_matches("::self");
                // Glob imports (`use super::*` in a test module) name no file.
                if p.ends_with('*') {
                    continue;
                }
                if let Some(abs) = absolute(p) {
                    out.push((abs, reexport));
                }
            }
        }
        rest = &after[end..];
    }
    // Inline paths (`crate::target::locks::check(…)`).
    for (i, _) in code.match_indices("crate::") {
        let tail: String = code[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if code[..i].trim_end().ends_with("use") || code[..i].ends_with('{') {
            continue;
        }
        if let Some(abs) = absolute(tail.trim_end_matches(':')) {
            out.push((abs, false));
        }
    }
    out
}

struct Tree {
    /// module path → file.
    modules: BTreeMap<Vec<String>, PathBuf>,
    /// file → its code.
    code: BTreeMap<PathBuf, String>,
    /// file → module path.
    module: BTreeMap<PathBuf, Vec<String>>,
    /// file → its line count.
    lines: BTreeMap<PathBuf, usize>,
}

fn read_tree() -> Tree {
    let root = src_dir();
    let mut tree = Tree {
        modules: BTreeMap::new(),
        code: BTreeMap::new(),
        module: BTreeMap::new(),
        lines: BTreeMap::new(),
    };
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read src") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&root).expect("under src").to_path_buf();
                let text = std::fs::read_to_string(&p).expect("read file");
                let m = module_of(&rel);
                tree.modules.insert(m.clone(), rel.clone());
                tree.module.insert(rel.clone(), m);
                tree.lines.insert(rel.clone(), text.lines().count());
                tree.code.insert(rel, code_of(&text));
            }
        }
    }
    tree
}

impl Tree {
    /// The file that defines what `path` names, following re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Option<PathBuf> {
        // The deepest module along the path.
        let mut k = path.len();
        while k > 0 && file_of(&self.modules, &path[..k]).is_none() {
            k -= 1;
        }
        let file = file_of(&self.modules, &path[..k])?;
        let Some(item) = path.get(k) else {
            return Some(file);
        };
        // An item re-exported by that module: follow the `pub use` naming it.
        if depth < 8 {
            let module = &self.module[&file];
            let is_module = |m: &[String]| self.modules.contains_key(m);
            for (p, reexport) in paths_of(&self.code[&file], module, &is_module) {
                if reexport && p.last() == Some(item) {
                    return self.resolve(&p, depth + 1);
                }
            }
            // `pub use name::…` of a child module declared there.
            let mut child = module.clone();
            child.push(item.clone());
            if let Some(f) = file_of(&self.modules, &child) {
                return Some(f);
            }
        }
        Some(file)
    }

    /// Files each file depends on (re-exports of mod.rs and lib.rs files are
    /// their interface, not dependencies).
    fn edges(&self) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
        let mut out: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
        for (file, code) in &self.code {
            let module = &self.module[file];
            let is_mod = file.ends_with("mod.rs") || file.ends_with("lib.rs");
            let deps = out.entry(file.clone()).or_default();
            let is_module = |m: &[String]| self.modules.contains_key(m);
            for (p, reexport) in paths_of(code, module, &is_module) {
                if reexport && is_mod {
                    continue;
                }
                if let Some(to) = self.resolve(&p, 0) {
                    // A file's own submodules (tests) and itself are not edges.
                    let target_module = &self.module[&to];
                    if &to != file && !target_module.starts_with(module.as_slice()) {
                        deps.insert(to);
                    }
                }
            }
        }
        out
    }
}

fn layer_of(module: &[String]) -> u32 {
    let top = module.first().map(String::as_str).unwrap_or("lib");
    LAYERS
        .iter()
        .find(|(m, _)| *m == top)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| panic!("module {top} has no layer in tests/layers.rs: give it one"))
}

/// The operation a file belongs to (`op/sync/every.rs` → `sync`).
fn operation_of(module: &[String]) -> Option<&str> {
    (module.first().map(String::as_str) == Some("op"))
        .then(|| module.get(1).map(String::as_str))
        .flatten()
}

#[test]
fn files_import_only_from_their_layer_or_below_and_operations_not_from_each_other() {
    let tree = read_tree();
    let mut problems = Vec::new();
    for (file, deps) in tree.edges() {
        let from = &tree.module[&file];
        for to in deps {
            let target = &tree.module[&to];
            if layer_of(target) > layer_of(from) {
                problems.push(format!(
                    "{} (layer {}) imports {} (layer {})",
                    file.display(),
                    layer_of(from),
                    to.display(),
                    layer_of(target)
                ));
            }
            if let (Some(a), Some(b)) = (operation_of(from), operation_of(target)) {
                if a != b {
                    problems.push(format!(
                        "operation {} imports operation {}",
                        file.display(),
                        to.display()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_file_imports_itself_through_a_circle() {
    let tree = read_tree();
    let edges = tree.edges();
    // Depth-first search for a back edge.
    fn visit(
        f: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, u8>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        state.insert(f.clone(), 1);
        stack.push(f.clone());
        for g in edges.get(f).into_iter().flatten() {
            match state.get(g).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|x| x == g).unwrap_or(0);
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(g.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(g, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(f.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for f in edges.keys() {
        if state.get(f).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(f, &edges, &mut state, &mut Vec::new()) {
                let names: Vec<String> = c.iter().map(|p| p.display().to_string()).collect();
                panic!("import circle: {}", names.join(" -> "));
            }
        }
    }
}

#[test]
fn source_files_stay_small() {
    let tree = read_tree();
    let big: Vec<String> = tree
        .lines
        .iter()
        .filter(|(_, n)| **n > MAX_LINES)
        .map(|(f, n)| format!("{} has {n} lines", f.display()))
        .collect();
    assert!(big.is_empty(), "split these files by concept: {big:?}");
}

#[test]
fn operations_type_no_catalog_sql() {
    // Catalog questions belong to the catalog crate (pgferry_catalog::probe).
    let root = src_dir();
    let tree = read_tree();
    for (file, module) in &tree.module {
        if operation_of(module).is_none() {
            continue;
        }
        let text = std::fs::read_to_string(root.join(file)).expect("read");
        for table in [
            "pg_catalog.pg_class",
            "pg_catalog.pg_namespace",
            "current_setting('server_version_num')",
        ] {
            assert!(
                !text.contains(table),
                "{} queries {table}: ask pgferry_catalog::probe instead",
                file.display()
            );
        }
    }
}

#[test]
fn the_checker_sees_paths_through_braces_and_reexports() {
    assert_eq!(
        expand("crate::a::{b, c::{d, e}}"),
        vec!["crate::a::b", "crate::a::c::d", "crate::a::c::e"]
    );
    let tree = read_tree();
    let edges = tree.edges();
    // op/dump/mod.rs reaches the archive writer and the source snapshot.
    let dump = &edges[Path::new("op/dump/mod.rs")];
    assert!(dump.contains(Path::new("archive/writer.rs")), "{dump:?}");
    assert!(dump.contains(Path::new("source/snapshot.rs")), "{dump:?}");
    // `crate::conn::ConnSpec` (a re-export) resolves to the file defining it.
    assert_eq!(
        tree.resolve(&["conn".into(), "ConnSpec".into()], 0),
        Some(PathBuf::from("conn/spec.rs"))
    );
}
