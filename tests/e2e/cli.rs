//! The command line's inspection commands, output modes and error messages.

use serde_json::Value;

use crate::{ASSETS, Home};

#[test]
fn list_shows_every_asset_with_its_description_and_deps() {
    let home = Home::new();
    let run = home.run(&["list"]);
    run.assert_ok();
    let out = run.stdout();
    for asset in ASSETS {
        assert!(out.contains(asset), "{out}");
    }
    // Ordering-only deps are shown in parentheses.
    let model = out
        .lines()
        .find(|l| l.trim_start().starts_with("topic_model"))
        .unwrap();
    assert!(model.contains("(retrieval_eval)"), "{model}");
    // `list` never touches the instance.
    assert!(!home.path().join("stemma.db").exists());

    let json = home.json(&["list", "--select", "+chunks"]);
    let assets = json.as_array().unwrap();
    assert_eq!(assets.len(), 2);
    let chunks = assets.iter().find(|a| a["key"] == "chunks").unwrap();
    // The description is the doc comment; the code version is the macro's token hash.
    assert!(
        chunks["description"]
            .as_str()
            .unwrap()
            .starts_with("Every document split into windows")
    );
    assert_eq!(chunks["code_version"].as_str().unwrap().len(), 16);
    assert_eq!(chunks["group"], "rag");
    assert_eq!(chunks["tags"]["layer"], "silver");
    assert_eq!(chunks["owners"][0], "team:ml");
    assert_eq!(chunks["checks"][0], "chunks_not_empty");
    assert_eq!(chunks["deps"][0]["key"], "raw_documents");
    assert_eq!(chunks["deps"][0]["kind"], "data");
}

#[test]
fn graph_prints_dot_mermaid_and_json() {
    let home = Home::new();
    let dot = home.run(&["graph", "--format", "dot"]);
    dot.assert_ok();
    let dot = dot.stdout();
    assert!(dot.starts_with("digraph assets {"), "{dot}");
    assert!(dot.contains("\"raw_documents\" -> \"chunks\";"), "{dot}");
    assert!(
        dot.contains("\"retrieval_eval\" -> \"topic_model\" [style=dashed];"),
        "{dot}"
    );

    let mermaid = home.run(&["graph", "--format", "mermaid", "--select", "embeddings+"]);
    mermaid.assert_ok();
    let m = mermaid.stdout();
    assert!(m.starts_with("flowchart LR"), "{m}");
    assert_eq!(m.lines().filter(|l| l.contains("[\"")).count(), 5, "{m}");
    assert!(m.contains("-.->"), "{m}");

    let json = home.json(&["graph"]);
    let assets = json["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 8);
    let predictions = assets.iter().find(|a| a["key"] == "predictions").unwrap();
    assert_eq!(predictions["layer"], 6);
    let source = assets
        .iter()
        .find(|a| a["key"] == "source_documents")
        .unwrap();
    assert_eq!(source["external"], true);
}

#[test]
fn bad_selections_point_at_the_problem() {
    let home = Home::new();
    let run = home.run(&["materialize", "--select", "chunks,embedings+"]);
    run.assert_code(2);
    let err = run.stderr();
    assert!(err.contains("unknown asset \"embedings\""), "{err}");
    assert!(err.contains("did you mean \"embeddings\"?"), "{err}");
    assert!(
        err.contains("  chunks,embedings+\n         ^^^^^^^^^"),
        "{err}"
    );

    let run = home.run(&["list", "--select", "+*chunks"]);
    run.assert_code(2);
    assert!(
        run.stderr().contains("`*` must come first, before any `+`"),
        "{}",
        run.stderr()
    );

    let run = home.run(&["status", "--select", "chunks,,embeddings"]);
    run.assert_code(2);
    assert!(run.stderr().contains("empty clause"), "{}", run.stderr());
}

#[test]
fn bad_config_fails_before_anything_runs() {
    let home = Home::new();
    for (pair, expected) in [
        ("synthetic_docs", "expected KEY=VALUE"),
        ("synthetic_doc=5", "did you mean \"synthetic_docs\"?"),
        ("synthetic_docs=many", "synthetic_docs expects an integer"),
        ("min_recall_at_5=high", "min_recall_at_5 expects a number"),
    ] {
        let run = home.run(&["materialize", "--select", "*", "--config", pair]);
        run.assert_code(2);
        assert!(run.stderr().contains(expected), "{pair}: {}", run.stderr());
    }
    assert_eq!(home.json(&["runs", "list"]).as_array().unwrap().len(), 0);
    let config = home.json(&["config"]);
    let names: Vec<&str> = config
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"synthetic_docs") && names.contains(&"source_dir"),
        "{names:?}"
    );
}

#[test]
fn piped_output_is_plain_and_json_is_parseable() {
    let home = Home::new();
    let run = home.run(&["materialize", "--select", "*"]);
    run.assert_ok();
    assert!(
        !run.all().contains('\u{1b}'),
        "escape codes in piped output"
    );

    let json = home.run(&[
        "materialize",
        "--select",
        "raw_documents",
        "--force",
        "--json",
    ]);
    json.assert_ok();
    let lines: Vec<Value> = json
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "run_started");
    assert!(
        lines
            .iter()
            .any(|e| e["type"] == "materialization" && e["asset"] == "raw_documents")
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["status"], "success");
    assert_eq!(summary["succeeded"], 1);
}

#[test]
fn runs_show_and_logs_describe_a_run() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let id = home.json(&["runs", "list"])[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let show = home.run(&["runs", "show", &id[..8]]);
    show.assert_ok();
    let out = show.stdout();
    assert!(out.contains(&id) && out.contains("success"), "{out}");
    assert!(out.contains("recall_gate passed"), "{out}");

    let logs = home.run(&["runs", "logs", &id[..8], "--step", "chunks"]);
    logs.assert_ok();
    let out = logs.stdout();
    assert!(
        out.contains("START attempt 1") && out.contains("MATERIALIZED"),
        "{out}"
    );
    assert!(out.contains("CHECK chunks_not_empty passed"), "{out}");
    assert!(!out.contains("embeddings"), "{out}");

    let unknown = home.run(&["runs", "show", "00000000"]);
    unknown.assert_code(2);
    assert!(
        unknown.stderr().contains("no run with id"),
        "{}",
        unknown.stderr()
    );
    let bad_step = home.run(&["runs", "logs", &id[..8], "--step", "nope"]);
    bad_step.assert_code(2);
}

#[test]
fn wipe_forgets_materializations_after_confirmation() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let refused = home.run(&["wipe", "--select", "chunks"]);
    refused.assert_code(2);
    assert!(
        refused.stderr().contains("pass --yes"),
        "{}",
        refused.stderr()
    );
    assert!(home.latest("chunks").is_some());

    home.run(&["wipe", "--select", "chunks*", "--yes"])
        .assert_ok();
    assert!(home.latest("chunks").is_none());
    assert!(home.latest("predictions").is_none());
    assert!(home.latest("raw_documents").is_some());
    // Downstream of a wiped asset cannot run until it is materialized again.
    let run = home.run(&["materialize", "--select", "embeddings"]);
    run.assert_code(2);
    assert!(
        run.stderr().contains("chunks (read by embeddings)"),
        "{}",
        run.stderr()
    );
}

#[test]
fn help_documents_the_selection_forms() {
    let home = Home::new();
    let help = home.run(&["materialize", "--help"]);
    help.assert_ok();
    let out = help.stdout();
    assert!(out.contains("NAME+") && out.contains("one hop"), "{out}");
    let usage = home.run(&["materialize"]);
    usage.assert_code(2);
}

/// `status` judges time-dependent selections at the engine's instant, so `STEMMA_NOW` moves
/// it: two hours on, everything materialized now is "not materialized in the last hour".
#[test]
fn status_reads_the_time_from_stemma_now() {
    let home = Home::new();
    home.run(&["materialize", "--select", "raw_documents"])
        .assert_ok();
    let keys = |run: crate::Run| -> Vec<String> {
        run.assert_ok();
        let status: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        status
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let selection = "key:raw_documents and not_materialized_in_hours:1";
    let now = keys(home.run(&["status", "--select", selection, "--json"]));
    assert!(now.is_empty(), "{now:?}");
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let mut command = home.command(&["status", "--select", selection, "--json"]);
    command.env("STEMMA_NOW", &later);
    let later = keys(crate::Run {
        output: command.output().unwrap(),
    });
    assert_eq!(later, ["raw_documents"]);
}

/// Core says what can be done about an error as a typed hint; the command line says it as its
/// own flags and commands, each after the error, with exit 2.
#[test]
fn errors_end_with_what_to_type() {
    let home = Home::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["runs", "show", "deadbeef"],
            "no run with id \"deadbeef\" (`assets runs list` shows the recent ones)",
        ),
        (
            &["runs", "show", "xyz"],
            "is not a hexadecimal digit or '-' (ids look like 3f2a9c1e-…) (`assets runs list` \
             shows the recent ones)",
        ),
        (
            &["backfill", "show", "deadbeef"],
            "no backfill with id \"deadbeef\" (`assets backfill list` shows the recent ones)",
        ),
        (
            &["why-stale", "embeddings", "--partition", "x"],
            "asset embeddings is not partitioned; leave out --partition",
        ),
        (
            &["plan", "--select", "daily_quality"],
            "); choose partitions with --partition KEY[,KEY...]",
        ),
        (
            &["materialize", "--select", "embeddings"],
            "nothing was run; include them in the selection: --select '++embeddings' (or \
             '*embeddings' for everything upstream)",
        ),
    ];
    for (args, says) in cases {
        home.run(args).assert_error(2, says);
    }
}
