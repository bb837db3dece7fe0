//! Core's floors, pinned: each top-level module of `core/src` sits on one floor (the table in
//! `core/src/lib.rs`'s docs), imports only modules on floors below its own or beside it, and no
//! two modules import each other, directly or around a circle. The checker reads the `crate::`
//! paths of the non-test code, so a violation names the file and line that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The floors, bottom first. Keep in step with the drawing in `core/src/lib.rs`.
const FLOORS: &[(&str, &[&str])] = &[
    ("model", &["model"]),
    ("graph", &["graph"]),
    ("selection", &["selection"]),
    ("hash", &["hash"]),
    ("judgement", &["plan", "staleness", "decision"]),
    ("instance", &["instance"]),
    ("execute", &["execute"]),
    ("engine", &["engine"]),
    ("services", &["backfill", "daemon", "lifecycle", "report"]),
];

/// One import that breaks the layering.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
    why: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.to.is_empty() {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.from, self.why
            )
        } else {
            write!(
                f,
                "{}:{}: {} imports {}: {}",
                self.file, self.line, self.from, self.to, self.why
            )
        }
    }
}

/// The source with test modules and comments blanked out (newlines kept, so lines still count).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The item the attribute applies to: up to its `;` or its balanced braces.
        let end = match (after.find('{'), after.find(';')) {
            (Some(open), semi) if semi.is_none_or(|s| open < s) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (i, c) in after[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (_, Some(semi)) => semi + 1,
            _ => after.len(),
        };
        out.extend(after[..end].chars().filter(|&c| c == '\n'));
        rest = &after[end..];
    }
    out.push_str(rest);
    out.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(line, module)` of every `crate::module` path in `text`; names re-exported at the crate
/// root (`crate::Engine`) count as the module they come from.
fn crate_paths(text: &str, root_names: &BTreeMap<String, String>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in code_only(text).lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `$crate::` or `some_crate::`
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                continue;
            }
            // `crate::Engine` → engine; `crate::spec` (re-exported from model) → model.
            let mut module = name;
            while let Some(from) = root_names.get(&module) {
                if *from == module {
                    break;
                }
                module = from.clone();
            }
            out.push((n + 1, module));
        }
    }
    out
}

/// Names `lib.rs` re-exports at the crate root, each with its module: `pub use engine::Engine;`.
fn root_names(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for statement in code_only(lib).split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let path = statement[at + "pub use ".len()..].trim();
        let Some((module, names)) = path.split_once("::") else {
            continue;
        };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.trim();
            if !name.is_empty() && !name.contains("::") {
                out.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    out
}

/// Checks `files` (path relative to `src/` → text) against `floors`.
fn check(files: &BTreeMap<String, String>, floors: &[(&str, &[&str])]) -> Vec<Violation> {
    let floor_of: BTreeMap<&str, usize> = floors
        .iter()
        .enumerate()
        .flat_map(|(i, (_, modules))| modules.iter().map(move |m| (*m, i)))
        .collect();
    let roots = files
        .get("lib.rs")
        .map(|l| root_names(l))
        .unwrap_or_default();
    let mut violations = Vec::new();
    // module → module → the first place it is imported.
    let mut edges: BTreeMap<String, BTreeMap<String, (String, usize)>> = BTreeMap::new();
    for (file, text) in files {
        if file == "lib.rs" {
            continue;
        }
        let from = file
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        let Some(&from_floor) = floor_of.get(from.as_str()) else {
            violations.push(Violation {
                file: file.clone(),
                line: 1,
                from: from.clone(),
                to: String::new(),
                why: "the module has no floor; add it to FLOORS and the drawing in lib.rs".into(),
            });
            continue;
        };
        for (line, to) in crate_paths(text, &roots) {
            if to == from {
                continue;
            }
            edges
                .entry(from.clone())
                .or_default()
                .entry(to.clone())
                .or_insert((file.clone(), line));
            let Some(&to_floor) = floor_of.get(to.as_str()) else {
                violations.push(Violation {
                    file: file.clone(),
                    line,
                    from: from.clone(),
                    to: to.clone(),
                    why: format!("{to} is not a module on any floor"),
                });
                continue;
            };
            if to_floor > from_floor {
                violations.push(Violation {
                    file: file.clone(),
                    line,
                    from: from.clone(),
                    to: to.clone(),
                    why: format!(
                        "{} (floor {}) is above {} (floor {})",
                        to, floors[to_floor].0, from, floors[from_floor].0
                    ),
                });
            }
        }
    }
    // Circles: a circle across floors holds an upward import, reported above; what is left are
    // circles among the modules of one floor.
    let same_floor =
        |a: &str, b: &str| floor_of.contains_key(a) && floor_of.get(a) == floor_of.get(b);
    let level: BTreeMap<String, BTreeMap<String, (String, usize)>> = edges
        .iter()
        .map(|(from, tos)| {
            let tos = tos
                .iter()
                .filter(|(to, _)| same_floor(from, to))
                .map(|(to, at)| (to.clone(), at.clone()))
                .collect();
            (from.clone(), tos)
        })
        .collect();
    for (from, tos) in &level {
        for (to, (file, line)) in tos {
            if reaches(&level, to, from) {
                {
                    violations.push(Violation {
                        file: file.clone(),
                        line: *line,
                        from: from.clone(),
                        to: to.clone(),
                        why: format!("{to} imports {from} too (directly or around a circle)"),
                    });
                }
            }
        }
    }
    violations
}

/// Whether `from` reaches `to` along `edges`.
fn reaches(
    edges: &BTreeMap<String, BTreeMap<String, (String, usize)>>,
    from: &str,
    to: &str,
) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(m) = stack.pop() {
        if m == to {
            return true;
        }
        if seen.insert(m.clone())
            && let Some(next) = edges.get(&m)
        {
            stack.extend(next.keys().cloned());
        }
    }
    false
}

fn read_sources(src: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().display().to_string();
                files.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn core_imports_only_downward_and_without_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let violations: Vec<String> = check(&read_sources(&src), FLOORS)
        .iter()
        .map(|v| format!("core/src/{v}"))
        .collect();
    assert!(
        violations.is_empty(),
        "imports that break core's floors:\n{}",
        violations.join("\n")
    );
}

fn sources(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

const TOY: &[(&str, &[&str])] = &[("low", &["key"]), ("mid", &["graph"]), ("top", &["engine"])];

#[test]
fn the_checker_names_an_upward_import_by_file_and_line() {
    let files = sources(&[
        ("key.rs", "pub struct Key;\n"),
        (
            "graph/mod.rs",
            "use crate::key::Key;\n// crate::engine in a comment\n",
        ),
        (
            "graph/walk.rs",
            "use super::*;\n\nfn f(_: crate::engine::Engine) {}\n",
        ),
        ("engine.rs", "use crate::graph;\npub struct Engine;\n"),
    ]);
    let violations = check(&files, TOY);
    assert_eq!(violations.len(), 1, "{violations:?}");
    let v = &violations[0];
    assert_eq!((v.file.as_str(), v.line), ("graph/walk.rs", 3));
    assert_eq!((v.from.as_str(), v.to.as_str()), ("graph", "engine"));
    assert!(
        v.to_string()
            .contains("engine (floor top) is above graph (floor mid)")
    );
}

#[test]
fn the_checker_finds_circles_on_one_floor_and_root_reexports() {
    let floors: &[(&str, &[&str])] = &[("model", &["a", "b", "c"])];
    let files = sources(&[
        ("lib.rs", "pub mod a;\npub use c::Thing;\n"),
        ("a.rs", "use crate::b::X;\n"),
        ("b.rs", "fn f(_: crate::Thing) {}\n"),
        ("c.rs", "pub struct Thing;\nuse crate::a;\n"),
    ]);
    let mut found: Vec<(String, String)> = check(&files, floors)
        .into_iter()
        .map(|v| (v.from, v.to))
        .collect();
    found.sort();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(found, vec![pair("a", "b"), pair("b", "c"), pair("c", "a")]);
}

#[test]
fn the_checker_skips_test_modules_and_refuses_unplaced_modules() {
    let files = sources(&[
        (
            "key.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::engine::E;\n}\n",
        ),
        ("engine.rs", "use crate::key;\n"),
        ("daemon.rs", "use crate::engine;\n"),
    ]);
    let violations = check(&files, TOY);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].from, "daemon");
    assert!(violations[0].why.contains("no floor"));
}
