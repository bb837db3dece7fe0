//! The build step's analysis over the demo code location, checked against a call graph written
//! by hand from reading `assets/src`: changing the body of any function changes the code version
//! of exactly the assets and checks that reach it — no more, no fewer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each function (or type) of the demo names that can change its behaviour: the functions
/// it calls and the local types it uses (a type brings its impls' methods). Read off the code
/// by hand; functions not listed name nothing local that matters.
const CALLS: &[(&str, &[&str])] = &[
    // documents.rs
    (
        "raw_documents",
        &[
            "source",
            "Source",
            "generate",
            "read_files",
            "source_files",
            "builtin_files",
            "Document",
        ],
    ),
    ("source", &["Source"]),
    (
        "source_files",
        &["Source", "folder_files", "builtin_files", "SourceFile"],
    ),
    ("read_folder", &["read_files", "folder_files", "Document"]),
    ("read_files", &["SourceFile", "Document", "document"]),
    ("folder_files", &["SourceFile", "collect", "Content"]),
    ("collect", &["collect"]),
    ("document", &["Content", "Document"]),
    ("builtin_files", &["SourceFile", "Content"]),
    ("generate", &["Rng", "Document"]),
    (
        "source_documents",
        &["source", "Source", "source_files", "SourceFile"],
    ),
    ("SourceFile", &["Content"]),
    ("Content", &["bytes"]),
    ("Rng", &["new", "next_u64", "unit", "below"]),
    // chunks.rs
    ("chunks", &["Document", "Chunk", "windows"]),
    // embed.rs
    (
        "embeddings",
        &["Chunk", "Embedding", "embed", "vector_type"],
    ),
    ("tokens", &["for_each_token"]),
    ("embed", &["fnv1a", "for_each_token", "dot"]),
    // eval.rs
    (
        "retrieval_eval",
        &[
            "Chunk",
            "Embedding",
            "RetrievalEval",
            "index_of",
            "rank",
            "Scores",
        ],
    ),
    ("index_of", &["Embedding"]),
    ("rank", &["Chunk", "Embedding", "embed", "dot"]),
    ("Scores", &["of"]),
    // daily.rs
    (
        "daily_quality",
        &[
            "days",
            "Chunk",
            "Embedding",
            "DailyQuality",
            "Rng",
            "index_of",
            "rank",
            "Scores",
        ],
    ),
    // model.rs
    (
        "TopicModel",
        &[
            "probabilities",
            "predict",
            "to_bytes",
            "from_bytes",
            "accuracy",
        ],
    ),
    ("probabilities", &["softmax"]),
    ("train", &["TopicModel", "Rng", "softmax"]),
    ("topic_model", &["Embedding", "held_out", "train"]),
    ("predictions", &["Embedding", "TopicModel", "Prediction"]),
    // checks.rs
    ("chunks_not_empty", &["Chunk"]),
    ("embedding_norms", &["Embedding", "dot"]),
    ("recall_gate", &["RetrievalEval"]),
    ("model_beats_baseline", &["TopicModel"]),
];

/// The demo's assets and checks.
const ROOTS: &[&str] = &[
    "raw_documents",
    "chunks",
    "embeddings",
    "retrieval_eval",
    "daily_quality",
    "topic_model",
    "predictions",
    "chunks_not_empty",
    "embedding_norms",
    "recall_gate",
    "model_beats_baseline",
];

/// What `root` reaches by the hand-written graph (other roots are not entered).
fn reach(root: &str) -> BTreeSet<&'static str> {
    let calls: BTreeMap<&str, &[&str]> = CALLS.iter().copied().collect();
    let mut seen = BTreeSet::new();
    let mut queue: Vec<&str> = calls.get(root).copied().unwrap_or(&[]).to_vec();
    while let Some(n) = queue.pop() {
        if ROOTS.contains(&n) || !seen.insert(n) {
            continue;
        }
        queue.extend(calls.get(n).copied().unwrap_or(&[]));
    }
    seen
}

/// A copy of the demo crate (and the workspace's Cargo.lock) in a temporary folder.
fn copy_demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = dir.path().join("assets");
    std::fs::create_dir_all(target.join("src")).unwrap();
    std::fs::copy(crate_dir.join("Cargo.toml"), target.join("Cargo.toml")).unwrap();
    std::fs::copy(
        crate_dir.parent().unwrap().join("Cargo.lock"),
        dir.path().join("Cargo.lock"),
    )
    .unwrap();
    for entry in std::fs::read_dir(crate_dir.join("src")).unwrap().flatten() {
        std::fs::copy(entry.path(), target.join("src").join(entry.file_name())).unwrap();
    }
    dir
}

fn versions(crate_dir: &Path) -> BTreeMap<String, String> {
    stemma_build::analyze(crate_dir)
        .unwrap()
        .roots
        .into_iter()
        .map(|r| (r.function, r.code_version))
        .collect()
}

/// Every `fn NAME` in the demo's sources: (file, name).
fn functions(src: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(src)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("fn ") {
            let before = text[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[i + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let next = text[i + 3 + name.len()..].chars().next();
            if !name.is_empty() && matches!(next, Some('(' | '<')) {
                out.push((file.clone(), name));
            }
        }
    }
    out
}

/// `text` with a statement added at the start of the body of `fn name`.
fn edit_body(text: &str, name: &str) -> String {
    let at = [format!("fn {name}("), format!("fn {name}<")]
        .iter()
        .filter_map(|p| text.find(p.as_str()))
        .min()
        .unwrap_or_else(|| panic!("fn {name} not found"));
    let open = at + text[at..].find('{').unwrap();
    format!("{} let _edited = 1;{}", &text[..=open], &text[open + 1..])
}

#[test]
fn an_edited_function_changes_exactly_the_assets_that_reach_it() {
    let dir = copy_demo();
    let crate_dir = dir.path().join("assets");
    let before = versions(&crate_dir);
    let roots: BTreeSet<&str> = before.keys().map(String::as_str).collect();
    assert_eq!(
        roots,
        ROOTS.iter().copied().collect(),
        "the demo's assets and checks"
    );
    let all = functions(&crate_dir.join("src"));
    assert!(all.len() > 40, "{all:?}");
    let mut checked = 0;
    for (file, name) in &all {
        let original = std::fs::read_to_string(file).unwrap();
        // A function defined twice in one file (a test helper) is edited at its first.
        std::fs::write(file, edit_body(&original, name)).unwrap();
        let after = versions(&crate_dir);
        std::fs::write(file, &original).unwrap();
        let changed: BTreeSet<&str> = before
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(*v))
            .map(|(k, _)| k.as_str())
            .collect();
        let expected: BTreeSet<&str> = ROOTS
            .iter()
            .copied()
            .filter(|r| *r == name.as_str() || reach(r).contains(name.as_str()))
            .collect();
        assert_eq!(
            changed,
            expected,
            "editing fn {name} ({})",
            file.file_name().unwrap().to_string_lossy()
        );
        checked += 1;
    }
    assert_eq!(checked, all.len());
}
