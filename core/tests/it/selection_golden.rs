//! The selection golden files in `tests/selection/*.sel` (at the workspace root).
//!
//! A file declares a graph and the instance's statuses, then pairs of lines: `> SELECTION`
//! and the expected result — the selected keys, sorted and space-separated, `(none)`, or
//! `! START..END MESSAGE (help: HELP)` for an error. Run with `STEMMA_BLESS=1` to rewrite the
//! expectations after a deliberate change, then read the diff.
//!
//! ```text
//! asset chunks deps=raw group=rag tag=layer=silver owner=team:ml kind=parquet
//! external vendor
//! asset daily partitions=static
//! status chunks materialized stale failed code_changed deps_changed hours_ago=30
//! now_hours=1000
//! ```

use std::path::{Path, PathBuf};

use stemma::status::{AssetStatus, StatusSnapshot};
use stemma::{AssetDef, AssetGraph, Definitions, PartitionsDefinition, Selection};

struct Golden {
    graph: AssetGraph,
    status: StatusSnapshot,
    /// Everything before the first `>` line, kept verbatim.
    header: Vec<String>,
    cases: Vec<(String, String)>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/selection")
}

fn load(path: &Path) -> Golden {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut header = Vec::new();
    let mut defs = Definitions::new();
    let mut statuses: Vec<(String, AssetStatus)> = Vec::new();
    let mut now_hours: i64 = 1000;
    let mut cases = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((no, line)) = lines.next() {
        let at = || format!("{}:{}", path.display(), no + 1);
        if let Some(selection) = line.strip_prefix("> ") {
            let expected = lines
                .next_if(|(_, l)| !l.starts_with("> "))
                .map(|(_, l)| l.to_owned())
                .unwrap_or_default();
            cases.push((selection.to_owned(), expected));
            continue;
        }
        if !cases.is_empty() {
            assert!(line.trim().is_empty(), "{}: expected `> SELECTION`", at());
            continue;
        }
        header.push(line.to_owned());
        let mut words = line.split_whitespace();
        match words.next() {
            None | Some("#") => {}
            Some(w) if w.starts_with('#') => {}
            Some(kind @ ("asset" | "external")) => {
                let name = words
                    .next()
                    .unwrap_or_else(|| panic!("{}: asset name", at()));
                let mut b = if kind == "external" {
                    AssetDef::external(name)
                } else {
                    AssetDef::builder(name)
                };
                for attr in words {
                    let (k, v) = attr
                        .split_once('=')
                        .unwrap_or_else(|| panic!("{}: {attr}", at()));
                    b = match k {
                        "deps" => v.split(',').fold(b, |b, d| b.input(d)),
                        "order" => v.split(',').fold(b, |b, d| b.dep(d)),
                        "group" => b.group(v),
                        "tag" => match v.split_once('=') {
                            Some((tk, tv)) => b.tag(tk, tv),
                            None => b.tag(v, ""),
                        },
                        "owner" => b.owner(v),
                        "kind" => b.kind(v),
                        "code" => b.code_version(v),
                        "partitions" if v == "static" => {
                            b.partitions(PartitionsDefinition::static_keys(["p1", "p2"]))
                        }
                        other => panic!("{}: unknown attribute {other}", at()),
                    };
                }
                if kind == "asset" {
                    b = b.compute_blocking(|_, _| Ok::<_, std::io::Error>(()));
                }
                defs = defs.asset(b.build());
            }
            Some("status") => {
                let name = words
                    .next()
                    .unwrap_or_else(|| panic!("{}: status of what", at()));
                let mut st = AssetStatus::default();
                for flag in words {
                    match flag {
                        "materialized" => st.materialized = true,
                        "missing" => st.missing = true,
                        "stale" => st.stale = true,
                        "failed" => st.failed = true,
                        "code_changed" => st.code_changed = true,
                        "deps_changed" => st.deps_changed = true,
                        f if f.starts_with("hours_ago=") => {
                            let h: i64 = f["hours_ago=".len()..].parse().unwrap();
                            st.last_materialized = Some(h);
                        }
                        other => panic!("{}: unknown status flag {other}", at()),
                    }
                }
                statuses.push((name.to_owned(), st));
            }
            Some("now_hours") => {}
            Some(w) if w.starts_with("now_hours=") => {
                now_hours = w["now_hours=".len()..].parse().unwrap()
            }
            Some(other) => panic!("{}: unknown line kind {other}", at()),
        }
    }
    let graph = AssetGraph::new(defs).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let hour = 3_600_000_000i64;
    let mut all = vec![
        AssetStatus {
            missing: true,
            ..AssetStatus::default()
        };
        graph.len()
    ];
    for (name, mut st) in statuses {
        let n = graph
            .node_by_str(&name)
            .unwrap_or_else(|| panic!("status of unknown asset {name}"));
        st.last_materialized = st.last_materialized.map(|h| (now_hours - h) * hour);
        all[n.index()] = st;
    }
    Golden {
        graph,
        status: StatusSnapshot::from_statuses(all, now_hours * hour),
        header,
        cases,
    }
}

fn actual(g: &Golden, selection: &str) -> String {
    let result = Selection::parse(selection).and_then(|s| s.resolve_keys(&g.graph, &g.status));
    match result {
        Ok(keys) if keys.is_empty() => "(none)".into(),
        Ok(keys) => keys
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        Err(e) => {
            let help = e
                .help()
                .map(|h| format!(" (help: {h})"))
                .unwrap_or_default();
            format!(
                "! {}..{} {}{help}",
                e.span().start,
                e.span().end,
                e.message()
            )
        }
    }
}

#[test]
fn selection_golden_files() {
    let bless = std::env::var("STEMMA_BLESS").is_ok_and(|v| v == "1");
    // Blessing rewrites the expectations to match: under CI it would pass whatever changed.
    assert!(
        !(bless && std::env::var("CI").as_deref() == Ok("true")),
        "STEMMA_BLESS=1 rewrites the golden files; it refuses to run under CI=true"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/selection exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sel"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut total = 0;
    let mut failures = Vec::new();
    for path in files {
        let g = load(&path);
        total += g.cases.len();
        let mut out = g.header.join("\n");
        out.push('\n');
        for (selection, expected) in &g.cases {
            let got = actual(&g, selection);
            if &got != expected {
                failures.push(format!(
                    "{}: > {selection}\n    expected: {expected}\n    actual:   {got}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
            out.push_str(&format!("> {selection}\n{got}\n"));
        }
        if bless {
            std::fs::write(&path, out).unwrap();
        }
    }
    assert!(
        total >= 150,
        "the golden suite should hold at least 150 cases, has {total}"
    );
    if !bless {
        assert!(
            failures.is_empty(),
            "{} of {total} golden cases differ (STEMMA_BLESS=1 rewrites them):\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
