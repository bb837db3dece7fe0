//! Incremental materialization, staleness with causes, the plan preview, garbage collection and
//! verification, through the real binaries.

use std::path::Path;

use serde_json::Value;

use crate::{ASSETS, Home, Run, files_with_extension};

/// `assets-fixture` (the demo with `edits` given new code versions) against this home.
fn fixture(home: &Home, edits: &str, args: &[&str]) -> Run {
    fixture_with(home, "STEMMA_FIXTURE_EDIT", edits, args)
}

/// `assets-fixture args…` with one of its edit variables set.
fn fixture_with(home: &Home, variable: &str, value: &str, args: &[&str]) -> Run {
    let output = stemma_server::testing::command(env!("CARGO_BIN_EXE_assets-fixture"), home.path())
        .args(args)
        .env(variable, value)
        .output()
        .expect("the fixture binary runs");
    Run { output }
}

fn json(run: &Run) -> Value {
    run.assert_ok();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}:\n{}", run.stdout()))
}

/// `key → (state, causes)` from `status --json`.
/// (key, state, causes) of every asset of the RAG pipeline (the partitioned `daily_quality`,
/// which `materialize --select '*'` leaves out, is not among them).
fn states(status: &Value) -> Vec<(String, String, Vec<String>)> {
    status
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["key"] != "daily_quality")
        .map(|a| {
            let causes = a["causes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect();
            (
                a["key"].as_str().unwrap().to_owned(),
                a["state"].as_str().unwrap().to_owned(),
                causes,
            )
        })
        .collect()
}

fn state_of<'a>(states: &'a [(String, String, Vec<String>)], key: &str) -> (&'a str, &'a [String]) {
    let (_, s, c) = states
        .iter()
        .find(|(k, ..)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {states:?}"));
    (s.as_str(), c.as_slice())
}

/// What `plan --json` says each step would do.
fn actions(plan: &Value) -> Vec<(String, String)> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_second_materialize_with_nothing_changed_runs_no_body_and_says_so() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let before: Vec<Value> = ASSETS.iter().map(|a| home.latest(a).unwrap()).collect();

    let again = home.run(&["materialize", "--select", "*"]);
    again.assert_ok();
    assert!(
        again
            .stdout()
            .contains("all 6 steps up to date, nothing to materialize"),
        "{}",
        again.stdout()
    );
    for asset in ASSETS {
        assert!(
            again.stderr().contains(&format!("= {asset}")),
            "{}",
            again.stderr()
        );
        assert!(
            !again.stderr().contains(&format!("✓ {asset}")),
            "{}",
            again.stderr()
        );
    }
    // No body ran: no log line of any body, and every materialization is the first run's.
    assert!(
        !again.stderr().contains("documents into"),
        "{}",
        again.stderr()
    );
    let after: Vec<Value> = ASSETS.iter().map(|a| home.latest(a).unwrap()).collect();
    assert_eq!(before, after);
    // The run records every step as up to date.
    let id = home.json(&["runs", "list"])[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let show = home.json(&["runs", "show", &id]);
    let steps = show["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6);
    assert!(steps.iter().all(|s| s["status"] == "up_to_date"), "{show}");
    // And the plan agrees before anything runs.
    let plan = home.json(&["plan", "--select", "*"]);
    assert!(actions(&plan).iter().all(|(_, a)| a == "skip"), "{plan}");
    assert_eq!(plan["skip"], 6);
}

#[test]
fn an_edited_asset_and_its_downstream_go_stale_and_an_identical_recompute_cuts_off() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();

    // An engineer edits `embeddings`.
    let status = states(&json(&fixture(&home, "embeddings", &["status", "--json"])));
    assert_eq!(
        state_of(&status, "embeddings"),
        ("stale", &["code changed".to_owned()][..])
    );
    for downstream in ["retrieval_eval", "topic_model", "predictions"] {
        let (state, causes) = state_of(&status, downstream);
        assert_eq!(state, "stale", "{downstream}");
        assert!(
            causes.iter().all(|c| c.starts_with("upstream ")),
            "{causes:?}"
        );
    }
    for upstream in ["source_documents", "raw_documents", "chunks"] {
        assert_eq!(state_of(&status, upstream).0, "fresh", "{upstream}");
    }

    let why = fixture(&home, "embeddings", &["why-stale", "predictions"]);
    why.assert_ok();
    let text = why.stdout();
    assert!(text.starts_with("predictions is stale"), "{text}");
    assert!(text.contains("upstream topic_model is stale"), "{text}");
    assert!(text.contains("(explained above)"), "{text}");
    let root = text
        .split("Root cause:")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        root.trim().starts_with("embeddings: code changed ("),
        "{text}"
    );

    let plan = json(&fixture(
        &home,
        "embeddings",
        &["plan", "--select", "*", "--json"],
    ));
    let actions = actions(&plan);
    let action = |k: &str| actions.iter().find(|(s, _)| s == k).unwrap().1.clone();
    assert_eq!(action("embeddings"), "run");
    assert_eq!(action("predictions"), "run_if_upstream_changes");
    assert_eq!(action("chunks"), "skip");

    // Its output does not change: only embeddings runs, everything after it is cut off.
    let run = fixture(&home, "embeddings", &["materialize", "--select", "*"]);
    run.assert_ok();
    assert!(
        run.stdout().contains("materialized 1 asset, 5 up to date"),
        "{}",
        run.stdout()
    );
    assert!(run.stderr().contains("✓ embeddings"), "{}", run.stderr());
    assert!(run.stderr().contains("= predictions"), "{}", run.stderr());
    let status = states(&json(&fixture(&home, "embeddings", &["status", "--json"])));
    assert!(status.iter().all(|(_, s, _)| s == "fresh"), "{status:?}");
}

/// Copies the shipped corpus into `to`.
fn copy_corpus(to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for file in files_with_extension(&from, "md") {
        let rel = file.strip_prefix(&from).unwrap();
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

#[test]
fn deleting_a_source_document_makes_the_whole_downstream_stale_and_names_the_root_cause() {
    let home = Home::new();
    let docs = home.path().join("docs");
    copy_corpus(&docs);
    let source = format!("source_dir={}", docs.display());
    let with = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", &source]);
        home.run(&all)
    };
    with(&["materialize", "--select", "*"]).assert_ok();
    let rows_before = home.latest("raw_documents").unwrap()["rows"]
        .as_u64()
        .unwrap();
    let status = states(&json(&with(&["status", "--json"])));
    assert!(status.iter().all(|(_, s, _)| s == "fresh"), "{status:?}");

    let victim = files_with_extension(&docs, "md").remove(0);
    std::fs::remove_file(&victim).unwrap();

    let status = states(&json(&with(&["status", "--json"])));
    assert_eq!(
        state_of(&status, "raw_documents"),
        ("stale", &["input source_documents changed".to_owned()][..])
    );
    for asset in &ASSETS[1..] {
        assert_eq!(state_of(&status, asset).0, "stale", "{asset}");
    }
    assert_eq!(
        state_of(&status, "chunks").1,
        ["upstream raw_documents stale"]
    );

    let why = with(&["why-stale", "predictions"]);
    why.assert_ok();
    let root = why
        .stdout()
        .split("Root cause:")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", why.stdout()))
        .trim()
        .to_owned();
    assert!(
        root.starts_with("raw_documents: input source_documents changed"),
        "{}",
        why.stdout()
    );
    let tree = json(&with(&["why-stale", "predictions", "--json"]));
    assert_eq!(tree["root_causes"].as_array().unwrap().len(), 1, "{tree}");
    assert_eq!(tree["root_causes"][0]["asset"], "raw_documents");
    assert_eq!(
        tree["root_causes"][0]["causes"][0]["cause"],
        "input_changed"
    );
    assert_eq!(
        tree["root_causes"][0]["causes"][0]["asset"],
        "source_documents"
    );

    let plan = json(&with(&["plan", "--select", "*", "--json"]));
    assert_eq!(plan["run"], 1);
    assert_eq!(plan["run_if_upstream_changes"], 5);

    // Materializing brings everything back: raw_documents has one document fewer.
    let run = with(&["materialize", "--select", "*"]);
    run.assert_ok();
    assert!(
        run.stdout().contains("materialized 6 assets"),
        "{}",
        run.stdout()
    );
    let rows_after = home.latest("raw_documents").unwrap()["rows"]
        .as_u64()
        .unwrap();
    assert_eq!(rows_after, rows_before - 1);
    let status = states(&json(&with(&["status", "--json"])));
    assert!(status.iter().all(|(_, s, _)| s == "fresh"), "{status:?}");

    // A fresh asset explains itself too.
    let why = with(&["why-stale", "chunks"]);
    why.assert_ok();
    assert!(why.stdout().contains("chunks is fresh"), "{}", why.stdout());
    // Unknown assets get a suggestion and exit 2.
    let bad = with(&["why-stale", "chunk"]);
    bad.assert_code(2);
    assert!(
        bad.stderr().contains("did you mean \"chunks\""),
        "{}",
        bad.stderr()
    );
}

#[test]
fn gc_prunes_by_policy_and_verify_reports_tampered_objects() {
    let home = Home::new();
    for docs in ["30", "40"] {
        home.run(&[
            "materialize",
            "--select",
            "*",
            "-c",
            &format!("synthetic_docs={docs}"),
        ])
        .assert_ok();
    }
    let parquet = || files_with_extension(&home.storage(), "parquet").len();
    let before = parquet();
    assert_eq!(before, 8, "two versions of four tables");
    let policy = [
        "--keep-last",
        "1",
        "--keep-younger-than",
        "0s",
        "--grace",
        "0s",
    ];
    let mut dry = vec!["gc", "--dry-run"];
    dry.extend(policy);
    let run = home.run(&dry);
    run.assert_ok();
    assert!(
        run.stdout()
            .contains("Would delete 1 run, 6 materializations"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr().contains("Nothing was deleted"),
        "{}",
        run.stderr()
    );
    assert_eq!(parquet(), before);

    let mut gc = vec!["gc", "--vacuum"];
    gc.extend(policy);
    let report = json(&home.run(&[gc.as_slice(), &["--json"]].concat()));
    assert_eq!(report["pruned"]["runs"], 1);
    assert_eq!(report["pruned"]["materializations"], 6);
    assert_eq!(report["objects_deleted"], 6, "{report}");
    assert_eq!(parquet(), 4);
    assert_eq!(home.json(&["runs", "list"]).as_array().unwrap().len(), 1);

    let verify = home.run(&["verify"]);
    verify.assert_ok();
    assert!(
        verify.stdout().contains("Verified 6 objects"),
        "{}",
        verify.stdout()
    );

    // Someone overwrites chunks' file with other bytes.
    let chunks = home.latest("chunks").unwrap();
    let embeddings = home.latest("embeddings").unwrap();
    std::fs::copy(
        embeddings["object"].as_str().unwrap(),
        chunks["object"].as_str().unwrap(),
    )
    .unwrap();
    let verify = home.run(&["verify"]);
    verify.assert_code(1);
    assert!(
        verify.stdout().contains("✗ chunks:") && verify.stdout().contains("1 of 6 objects"),
        "{}",
        verify.stdout()
    );
    // The selection leaves the tampered chunks out: the four objects of embeddings and below
    // are read back, and all match.
    let only = json(&home.run(&["verify", "--select", "embeddings+", "--json"]));
    assert_eq!(only["checked"], 4, "{only}");
    assert_eq!(only["ok"], true, "{only}");
    // Recomputing repairs it.
    home.run(&[
        "materialize",
        "--select",
        "chunks",
        "--force",
        "-c",
        "synthetic_docs=40",
    ])
    .assert_ok();
    home.run(&["verify"]).assert_ok();
}

/// `assets-fixture` with `STEMMA_FIXTURE_EDIT_ITEM` (an item edited, as the build step sees it).
fn with_item_edited(home: &Home, item: &str, args: &[&str]) -> Run {
    fixture_with(home, "STEMMA_FIXTURE_EDIT_ITEM", item, args)
}

/// A helper edited (here `fn embed`, which `embeddings` and `retrieval_eval` call): exactly the
/// assets that reach it are stale, and `status`, `why-stale` and `plan` name the item; an item
/// nothing reaches changes nothing.
#[test]
fn an_edited_helper_makes_exactly_its_callers_stale_and_is_named() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let status = states(&json(&with_item_edited(
        &home,
        "fn embed",
        &["status", "--json"],
    )));
    let code = "code changed: fn embed (assets/src/embed.rs)";
    for (key, state, causes) in &status {
        match key.as_str() {
            "embeddings" | "retrieval_eval" => {
                assert_eq!(state, "stale", "{key}: {causes:?}");
                assert!(causes.iter().any(|c| c == code), "{key}: {causes:?}");
            }
            "topic_model" | "predictions" => {
                assert_eq!(state, "stale", "{key}");
                assert!(
                    !causes.iter().any(|c| c.starts_with("code changed")),
                    "{key}: {causes:?}"
                );
            }
            _ => assert_eq!(state, "fresh", "{key}: {causes:?}"),
        }
    }
    let why = with_item_edited(&home, "fn embed", &["why-stale", "embeddings"]);
    why.assert_ok();
    assert!(why.stdout().contains(code), "{}", why.stdout());
    let plan = with_item_edited(&home, "fn embed", &["plan", "--select", "embeddings"]);
    assert!(plan.stdout().contains(code), "{}", plan.stdout());

    let nothing = states(&json(&with_item_edited(
        &home,
        "fn nobody_calls_this",
        &["status", "--json"],
    )));
    assert!(nothing.iter().all(|(_, s, _)| s == "fresh"), "{nothing:?}");
}
