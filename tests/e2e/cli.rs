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

/// The names of the commands `assets [group] --help` lists (without `help`).
fn commands_listed(home: &Home, group: &[&str]) -> Vec<String> {
    let help = home.run(&[group, &["--help"]].concat());
    help.assert_ok();
    help.stdout()
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("Options:"))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(|c| [group, &[c]].concat().join(" "))
        .collect()
}

/// What `--json` printed: one document, or one document per line (live events, then the
/// result).
fn parsed(text: &str) -> Result<Vec<Value>, String> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(vec![v]);
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

/// Every command and subcommand, with `--json`: stdout parses as JSON (a document, or a
/// document per line) and is not empty; a refused request prints its error as JSON on stderr
/// with the exit code. The table must name every command `--help` lists, so a new command
/// cannot ship without a JSON form.
#[test]
fn every_command_prints_json_that_parses() {
    let home = Home::new();
    let day = home
        .json(&["list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "daily_quality")
        .unwrap()["partitions"]["keys"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let project = home.path().join("stemma.toml").display().to_string();
    // (command, args, exit code): in order, each on what the ones before it left.
    let table: Vec<(&str, Vec<&str>, i32)> = vec![
        ("materialize", vec!["materialize", "--select", "*"], 0),
        ("list", vec!["list"], 0),
        ("config", vec!["config"], 0),
        ("graph", vec!["graph"], 0),
        ("status", vec!["status"], 0),
        ("why-stale", vec!["why-stale", "embeddings"], 0),
        ("plan", vec!["plan", "--select", "*"], 0),
        ("runs list", vec!["runs", "list"], 0),
        ("runs show", vec!["runs", "show", "latest"], 0),
        ("runs logs", vec!["runs", "logs", "latest"], 0),
        ("runs cancel", vec!["runs", "cancel", "latest"], 2),
        ("runs resume", vec!["runs", "resume", "latest"], 2),
        (
            "query",
            vec!["query", "SELECT count(*) AS n FROM chunks"],
            0,
        ),
        ("lineage", vec!["lineage", "chunks"], 0),
        ("partitions", vec!["partitions", "daily_quality"], 0),
        (
            "backfill",
            vec!["backfill", "--select", "daily_quality", "--partition", &day],
            0,
        ),
        ("backfill list", vec!["backfill", "list"], 0),
        ("backfill show", vec!["backfill", "show", "latest"], 0),
        ("backfill cancel", vec!["backfill", "cancel", "latest"], 2),
        ("backfill resume", vec!["backfill", "resume", "latest"], 2),
        ("pools set", vec!["pools", "set", "gpu", "2"], 0),
        ("pools list", vec!["pools", "list"], 0),
        ("pools max-runs", vec!["pools", "max-runs", "3"], 0),
        ("pools unset", vec!["pools", "unset", "gpu"], 0),
        ("schedules list", vec!["schedules", "list"], 0),
        (
            "schedules stop",
            vec!["schedules", "stop", "nightly_quality"],
            0,
        ),
        (
            "schedules start",
            vec!["schedules", "start", "nightly_quality"],
            0,
        ),
        ("daemon", vec!["daemon", "--once"], 0),
        ("schedules ticks", vec!["schedules", "ticks"], 0),
        // The demo has no dynamic partitions: each subcommand refuses, as JSON.
        (
            "dynamic-partitions list",
            vec!["dynamic-partitions", "list", "files"],
            2,
        ),
        (
            "dynamic-partitions add",
            vec!["dynamic-partitions", "add", "files", "a"],
            2,
        ),
        (
            "dynamic-partitions remove",
            vec!["dynamic-partitions", "remove", "files", "a"],
            2,
        ),
        ("verify", vec!["verify"], 0),
        ("gc", vec!["gc", "--dry-run"], 0),
        ("wipe", vec!["wipe", "--select", "predictions", "--yes"], 0),
        // A server that would be open to the network refuses to start, as JSON.
        (
            "serve",
            vec!["serve", "--host", "0.0.0.0", "--port", "0"],
            2,
        ),
        (
            "token create",
            vec![
                "--project",
                &project,
                "token",
                "create",
                "--role",
                "viewer",
                "--name",
                "ci",
            ],
            0,
        ),
        (
            "token list",
            vec!["--project", &project, "token", "list"],
            0,
        ),
    ];
    let mut listed = commands_listed(&home, &[]);
    for group in [
        "runs",
        "backfill",
        "pools",
        "schedules",
        "dynamic-partitions",
        "token",
    ] {
        listed.retain(|c| c != group);
        listed.extend(commands_listed(&home, &[group]));
    }
    assert!(
        listed.len() >= 30,
        "the help lists the commands: {listed:?}"
    );
    let covered: std::collections::BTreeSet<&str> = table.iter().map(|(c, ..)| *c).collect();
    let missing: Vec<&String> = listed
        .iter()
        .filter(|c| !covered.contains(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "commands without a --json case: {missing:?}"
    );

    for (command, args, code) in &table {
        let run = home.run(&[args.as_slice(), &["--json"]].concat());
        run.assert_code(*code);
        if *code == 0 {
            let values = parsed(&run.stdout())
                .unwrap_or_else(|e| panic!("{command}: {e}\n{}", run.stdout()));
            assert!(!values.is_empty(), "{command}: nothing on stdout");
        } else {
            let error: Value = serde_json::from_str(run.stderr().trim()).unwrap_or_else(|e| {
                panic!("{command}: stderr is not JSON ({e}):\n{}", run.stderr())
            });
            assert_eq!(error["error"]["exit_code"], *code, "{command}: {error}");
            assert!(error["error"]["message"].is_string(), "{command}: {error}");
        }
    }
}

/// `gc --grace 1h` spares an unreferenced object written a moment ago, and deletes it when
/// the command acts two hours later (`STEMMA_NOW`, the injected clock): the grace is measured
/// on the engine's clock, not the wall clock.
#[test]
fn gc_grace_is_measured_on_the_injected_clock() {
    let home = Home::new();
    for docs in ["10", "20"] {
        home.run(&[
            "materialize",
            "--select",
            "raw_documents",
            "-c",
            &format!("synthetic_docs={docs}"),
        ])
        .assert_ok();
    }
    let policy = [
        "gc",
        "--keep-last",
        "1",
        "--keep-younger-than",
        "0s",
        "--grace",
        "1h",
    ];
    let report = home.json(&policy);
    assert_eq!(report["objects_spared"], 1, "{report}");
    assert_eq!(report["objects_deleted"], 0, "{report}");

    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let mut all = policy.to_vec();
    all.push("--json");
    let run = home
        .command(&all)
        .env("STEMMA_NOW", &later)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["objects_spared"], 0, "{report}");
    assert_eq!(report["objects_deleted"], 1, "{report}");
    // The current object stays and reads back.
    home.run(&["verify"]).assert_ok();
}
