//! The selection language through the real binary: sorted listings, instance-aware
//! selections, and errors with a caret and a suggestion.

use serde_json::Value;

use crate::Home;

fn keys(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn list_prints_the_resolved_keys_sorted() {
    let home = Home::new();
    let listed = keys(&home.json(&[
        "list",
        "--select",
        "group:rag and not kind:json, *predictions",
    ]));
    assert_eq!(
        listed,
        [
            "chunks",
            "daily_quality",
            "embeddings",
            "predictions",
            "raw_documents",
            "retrieval_eval",
            "topic_model"
        ]
    );
    let text = home.run(&["list", "--select", "key:*s"]);
    text.assert_ok();
    let stdout = text.stdout();
    let rows: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "chunks",
            "embeddings",
            "predictions",
            "raw_documents",
            "source_documents"
        ]
    );
    // Dagster's two syntaxes disagree on `+`, and we follow Dagster.
    assert_eq!(
        keys(&home.json(&["list", "-s", "chunks+"])),
        ["chunks", "daily_quality", "embeddings", "retrieval_eval"]
    );
    assert_eq!(keys(&home.json(&["list", "-s", "key:chunks+"])).len(), 6);
    assert_eq!(keys(&home.json(&["list", "-s", "@embeddings"])).len(), 8);
}

#[test]
fn stale_assets_are_selected_and_rematerialized_from_the_command_line() {
    let home = Home::new();
    // Nothing materialized: everything is missing (listing needs the instance for this).
    assert_eq!(keys(&home.json(&["list", "-s", "status:missing"])).len(), 7);
    home.run(&["materialize", "--select", "*"]).assert_ok();
    assert!(keys(&home.json(&["list", "-s", "status:stale"])).is_empty());
    // Six materialized assets and the observed source documents.
    assert_eq!(keys(&home.json(&["list", "-s", "status:fresh"])).len(), 7);

    // New documents: everything downstream of them is now stale, raw_documents is fresh (as
    // judged with the config it was materialized with: under the defaults it is stale too).
    home.run(&[
        "materialize",
        "-s",
        "raw_documents",
        "-c",
        "synthetic_docs=40",
    ])
    .assert_ok();
    let stale = keys(&home.json(&["list", "-s", "status:stale", "-c", "synthetic_docs=40"]));
    assert_eq!(
        stale,
        [
            "chunks",
            "embeddings",
            "predictions",
            "retrieval_eval",
            "topic_model"
        ]
    );
    let status = home.json(&["status", "-c", "synthetic_docs=40"]);
    let state = |k: &str| {
        status
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == k)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state("raw_documents"), "fresh");
    assert_eq!(state("predictions"), "stale");
    let text = home.run(&["status", "-c", "synthetic_docs=40"]);
    let chunks = text
        .stdout()
        .lines()
        .find(|l| l.trim_start().starts_with("chunks"))
        .unwrap()
        .to_owned();
    assert!(chunks.contains("stale"), "{chunks}");

    // `status:stale+` works from the command line and brings everything back up to date.
    let run = home.run(&[
        "materialize",
        "--select",
        "status:stale+",
        "-c",
        "synthetic_docs=40",
    ]);
    run.assert_ok();
    assert!(
        run.stdout().contains("materialized 5 assets"),
        "{}",
        run.stdout()
    );
    assert!(
        keys(&home.json(&["list", "-s", "status:stale", "-c", "synthetic_docs=40"])).is_empty()
    );
    assert!(home.latest("chunks").unwrap()["rows"].as_u64().unwrap() > 40);

    // Nothing stale: the nightly "rebuild what is out of date" is nothing to do, not an error,
    // and nothing is recorded.
    let runs_before = home.json(&["runs", "list"]).as_array().unwrap().len();
    for command in ["materialize", "plan"] {
        let run = home.run(&[
            command,
            "--select",
            "status:stale+",
            "-c",
            "synthetic_docs=40",
        ]);
        run.assert_ok();
        assert!(
            run.stdout().contains("Nothing to do") && run.stdout().contains("status:stale+"),
            "{}",
            run.stdout()
        );
    }
    assert_eq!(
        home.json(&["runs", "list"]).as_array().unwrap().len(),
        runs_before
    );
    // A selection that names nothing that exists stays an error.
    let run = home.run(&["materialize", "--select", "key:no_such_asset*"]);
    run.assert_code(2);
    assert!(run.stderr().contains("no_such_asset"), "{}", run.stderr());
}

#[test]
fn failed_assets_are_selectable() {
    let home = Home::new();
    home.run(&["materialize", "-s", "*", "-c", "source_dir=/nonexistent"])
        .assert_code(1);
    assert_eq!(
        keys(&home.json(&["list", "-s", "status:failed"])),
        ["raw_documents"]
    );
    assert_eq!(
        keys(&home.json(&["list", "-s", "status:failed+1"])),
        ["chunks", "raw_documents"]
    );
    home.run(&["materialize", "-s", "status:failed"])
        .assert_ok();
    assert!(keys(&home.json(&["list", "-s", "status:failed"])).is_empty());
}

#[test]
fn selection_errors_have_a_caret_a_suggestion_and_exit_2() {
    let home = Home::new();
    for (selection, expected) in [
        ("tag:layer=slver", "did you mean tag:layer=silver?"),
        ("gruop:rag", "did you mean `group:`?"),
        ("Key:chunks", "attribute names are lower case: `key:`"),
        (
            "group:rag and",
            "expected a selection, found the end of the clause",
        ),
        ("key:*", "write key:\"*\""),
        ("owner:team:ml", "quote a value that contains `:`"),
    ] {
        for command in ["list", "materialize", "status", "graph"] {
            let run = home.run(&[command, "--select", selection]);
            run.assert_code(2);
            let err = run.stderr();
            assert!(err.contains(expected), "{command} {selection}: {err}");
            assert!(err.contains(&format!("  {selection}\n")), "{err}");
            assert!(err.contains('^'), "{err}");
        }
    }
    // A new-grammar clause gets a suggestion in its own syntax.
    let run = home.run(&["materialize", "--select", "key:embeddings+"]);
    run.assert_code(2);
    assert!(
        run.stderr().contains("--select '2+key:embeddings+'"),
        "{}",
        run.stderr()
    );
}
