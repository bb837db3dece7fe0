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

/// A small code location of its own, built for real with the build step: each edit is made to
/// a source file (or a dependency's version), the binary is rebuilt with cargo, and `status`
/// and `why-stale` run against the instance the previous binary materialized.
mod built {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use serde_json::Value;

    use crate::{Home, Run};

    const MAIN: &str = r#"//! A small code location.
mod helpers;
mod model;

use stemma::prelude::*;

macro_rules! scaled {
    ($e:expr) => {
        $e * 2
    };
}

/// The most `limited` lets through.
const LIMIT: u32 = 10;

/// A helper in another module.
#[asset]
fn cleaned() -> Json<u32> {
    Json(helpers::clean(5))
}

/// A const; reads `cleaned` (a parameter: an input, not code).
#[asset]
fn limited(cleaned: Json<u32>) -> Json<u32> {
    Json((*cleaned).min(LIMIT))
}

/// A method on a local type.
#[asset]
fn scored() -> Json<u32> {
    Json(model::Model::new().score(2))
}

/// A local macro.
#[asset]
fn doubled() -> Json<u32> {
    Json(scaled!(21))
}

/// A function of another crate.
#[asset]
fn weighted() -> Json<u32> {
    Json(weights::weight())
}

/// Nothing local.
#[asset]
fn constant() -> Json<u32> {
    Json(7)
}

#[allow(dead_code)]
fn unrelated() -> u32 {
    1
}

fn main() -> std::process::ExitCode {
    stemma_server::cli::run(Definitions::new().assets([
        cleaned(),
        limited(),
        scored(),
        doubled(),
        weighted(),
        constant(),
    ]))
}
"#;

    const HELPERS: &str = r#"/// Trims a value.
pub fn clean(x: u32) -> u32 {
    x + 1
}
"#;

    const MODEL: &str = r#"pub struct Model {
    bias: u32,
}

impl Model {
    pub fn new() -> Self {
        Model { bias: 1 }
    }

    pub fn score(&self, x: u32) -> u32 {
        x + self.bias
    }
}
"#;

    /// The code location's folder and the target directory the tests were built in.
    struct Location {
        dir: tempfile::TempDir,
        target: PathBuf,
    }

    impl Location {
        fn new() -> Self {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            // <target>/debug/assets: the location builds in the tests' own target directory,
            // where every dependency is compiled already.
            let target = Path::new(env!("CARGO_BIN_EXE_assets"))
                .parent()
                .and_then(Path::parent)
                .unwrap()
                .to_path_buf();
            let dir = tempfile::tempdir().unwrap();
            let local = |name: &str| workspace.join(name).display().to_string();
            let mut manifest = format!(
                r#"[package]
name = "stemma-e2e-location"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
stemma = {{ path = "{}" }}
stemma-server = {{ path = "{}", features = ["sql"] }}
weights = {{ path = "weights" }}
# The workspace turns on serde's alloc (postcard, criterion) and the server's SQL: with them,
# every registry crate resolves to the features the tests were built with and is not compiled
# a second time.
serde = {{ version = "1", features = ["derive", "rc", "alloc"] }}

[build-dependencies]
stemma-build = {{ path = "{}" }}

[workspace]

[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
opt-level = 1
debug = false
"#,
                local("core"),
                local("server"),
                local("core/build"),
            );
            // Our own crates as the workspace builds them (members are not "*").
            for member in [
                "stemma",
                "stemma-macros",
                "stemma-build",
                "stemma-io",
                "stemma-sql",
                "stemma-server",
            ] {
                manifest.push_str(&format!(
                    "\n[profile.dev.package.{member}]\nopt-level = 0\ndebug = \"line-tables-only\"\n"
                ));
            }
            let write = |path: &str, text: &str| {
                let path = dir.path().join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            };
            write("Cargo.toml", &manifest);
            // The workspace's lock: the same versions, all in the registry cache already.
            std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
            write(
                "build.rs",
                "fn main() {\n    stemma_build::code_versions();\n}\n",
            );
            write("src/main.rs", MAIN);
            write("src/helpers.rs", HELPERS);
            write("src/model.rs", MODEL);
            write(
                "weights/Cargo.toml",
                "[package]\nname = \"weights\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
            );
            write("weights/src/lib.rs", "pub fn weight() -> u32 {\n    3\n}\n");
            Location { dir, target }
        }

        /// Replaces `from` with `to` in one file of the location.
        fn edit(&self, file: &str, from: &str, to: &str) {
            let path = self.dir.path().join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains(from), "{file} has no {from:?}");
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        }

        fn build(&self) {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut command = Command::new(cargo);
            // What cargo set for this test (CARGO_MANIFEST_DIR, OUT_DIR, CARGO_PKG_*, the
            // runner's NEXTEST_*) must not reach build scripts: some (ring's) watch those names,
            // and a different value rebuilds them and everything above them, here and in the
            // workspace's next build.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                let inherited = (name.starts_with("CARGO_") && name != "CARGO_HOME")
                    || name.starts_with("NEXTEST")
                    || name.starts_with("__NEXTEST")
                    || name == "OUT_DIR";
                if inherited {
                    command.env_remove(name.as_ref());
                }
            }
            let output = command
                .args(["build", "--offline", "--quiet"])
                .current_dir(self.dir.path())
                .env("CARGO_TARGET_DIR", &self.target)
                .output()
                .expect("cargo runs");
            assert!(
                output.status.success(),
                "the code location does not build:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }

        fn run(&self, home: &Home, args: &[&str]) -> Run {
            let output = stemma_server::testing::command(
                self.target.join("debug/stemma-e2e-location"),
                home.path(),
            )
            .args(args)
            .output()
            .expect("the code location runs");
            Run { output }
        }

        /// `(asset, causes)` of every stale asset.
        fn stale(&self, home: &Home) -> Vec<(String, Vec<String>)> {
            let run = self.run(home, &["status", "--json"]);
            run.assert_ok();
            let status: Value = serde_json::from_str(&run.stdout()).unwrap();
            status
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["state"] != "fresh")
                .map(|a| {
                    let causes = a["causes"].as_array().unwrap();
                    (
                        a["key"].as_str().unwrap().to_owned(),
                        causes
                            .iter()
                            .map(|c| c.as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        }
    }

    /// After an edit and a rebuild: exactly `edited` is stale because its code changed, naming
    /// `item` (in `status` and `why-stale`), and `downstream` is stale for its input alone.
    #[track_caller]
    fn assert_edit(
        location: &Location,
        home: &Home,
        edited: &str,
        item: &str,
        downstream: &[&str],
    ) {
        location.build();
        let stale = location.stale(home);
        let code = format!("code changed: {item}");
        let mut keys: Vec<&str> = stale.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let mut expected: Vec<&str> = downstream.iter().copied().chain([edited]).collect();
        expected.sort_unstable();
        assert_eq!(keys, expected, "after editing {item}: {stale:?}");
        for (key, causes) in &stale {
            let named = causes.iter().any(|c| c == &code);
            let any_code = causes.iter().any(|c| c.starts_with("code changed"));
            if key == edited {
                assert!(named, "{key} should say {code:?}: {causes:?}");
            } else {
                assert!(!any_code, "{key}'s code did not change: {causes:?}");
            }
        }
        let why = location.run(home, &["why-stale", edited]);
        why.assert_ok();
        assert!(why.stdout().contains(&code), "{}", why.stdout());
        location
            .run(home, &["materialize", "--select", "*"])
            .assert_ok();
        assert_eq!(
            location.stale(home),
            Vec::new(),
            "after materializing again"
        );
    }

    #[test]
    fn each_edit_to_a_built_location_makes_exactly_its_reachers_stale_and_names_it() {
        let location = Location::new();
        let home = Home::new();
        location.build();
        location
            .run(&home, &["materialize", "--select", "*"])
            .assert_ok();
        assert_eq!(location.stale(&home), Vec::new());

        location.edit("src/helpers.rs", "x + 1", "x + 2");
        assert_edit(
            &location,
            &home,
            "cleaned",
            "fn clean (src/helpers.rs)",
            &["limited"],
        );

        location.edit("src/main.rs", "LIMIT: u32 = 10", "LIMIT: u32 = 5");
        assert_edit(
            &location,
            &home,
            "limited",
            "const LIMIT (src/main.rs)",
            &[],
        );

        location.edit("src/model.rs", "x + self.bias", "x * self.bias");
        assert_edit(
            &location,
            &home,
            "scored",
            "fn Model::score (src/model.rs)",
            &[],
        );

        location.edit("src/main.rs", "$e * 2", "$e * 3");
        assert_edit(
            &location,
            &home,
            "doubled",
            "macro scaled (src/main.rs)",
            &[],
        );

        location.edit("weights/Cargo.toml", "0.1.0", "0.2.0");
        assert_edit(
            &location,
            &home,
            "weighted",
            "crate weights 0.1.0 → 0.2.0",
            &[],
        );

        // An unrelated helper, a comment and a doc comment: nothing is stale.
        location.edit("src/main.rs", "    1\n}", "    2\n}");
        location.edit(
            "src/helpers.rs",
            "    x + 2",
            "    // Two, not one.\n    x + 2",
        );
        location.edit(
            "src/helpers.rs",
            "/// Trims a value.",
            "/// Trims a value, a little.",
        );
        location.build();
        assert_eq!(
            location.stale(&home),
            Vec::new(),
            "nothing reaches what was edited"
        );
    }
}
