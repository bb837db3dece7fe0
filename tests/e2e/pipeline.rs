//! Materializing the RAG pipeline: whole, partially, with failures and with the quality gate.

use serde_json::Value;

use crate::{ASSETS, Home, files_with_extension, parquet_rows};

#[test]
fn materializes_everything_then_everything_downstream_of_embeddings() {
    let home = Home::new();
    let first = home.run(&["materialize", "--select", "*"]);
    first.assert_ok();
    assert!(
        first.stdout().contains("materialized 6 assets"),
        "{}",
        first.stdout()
    );
    // The live view (plain lines when piped) names every step and the checks.
    for asset in ASSETS {
        assert!(
            first.stderr().contains(&format!("✓ {asset}")),
            "{}",
            first.stderr()
        );
    }
    assert!(
        first.stderr().contains("check recall_gate passed"),
        "{}",
        first.stderr()
    );
    // Log lines emitted by the bodies are shown live.
    assert!(
        first.stderr().contains("documents into"),
        "{}",
        first.stderr()
    );

    let before: Vec<Value> = ASSETS.iter().map(|a| home.latest(a).unwrap()).collect();
    let run1 = before[0]["run_id"].as_str().unwrap().to_owned();
    assert!(before.iter().all(|m| m["run_id"] == run1.as_str()));
    assert!(
        before[1]["rows"].as_u64().unwrap() > 24,
        "chunks: {}",
        before[1]
    );

    // Nothing changed: every step is up to date and no body runs.
    let again = home.run(&["materialize", "--select", "embeddings+"]);
    again.assert_ok();
    assert!(
        again.stdout().contains("all 4 steps up to date"),
        "{}",
        again.stdout()
    );
    assert!(!again.stderr().contains('✓'), "{}", again.stderr());
    assert!(
        again.stderr().contains("= embeddings"),
        "{}",
        again.stderr()
    );

    let second = home.run(&["materialize", "--select", "embeddings+", "--force"]);
    second.assert_ok();
    assert!(
        second.stdout().contains("materialized 4 assets"),
        "{}",
        second.stdout()
    );
    assert!(!second.stderr().contains("✓ chunks"), "{}", second.stderr());

    let after: Vec<Value> = ASSETS.iter().map(|a| home.latest(a).unwrap()).collect();
    // raw_documents and chunks were loaded from storage, not re-materialized.
    assert_eq!(after[0], before[0]);
    assert_eq!(after[1], before[1]);
    let run2 = after[2]["run_id"].as_str().unwrap();
    assert_ne!(run2, run1);
    for m in &after[2..] {
        assert_eq!(m["run_id"], run2);
    }
    // Same inputs, same code, deterministic bodies: the same content, hence the same versions.
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["data_version"], a["data_version"]);
    }

    // `runs show` of the forced run lists exactly the four steps.
    let show = home.json(&["runs", "show", &run2[..8]]);
    let steps: Vec<&str> = show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps.len(), 4, "{show}");
    assert!(steps.contains(&"predictions") && !steps.contains(&"chunks"));
    assert!(
        show["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "succeeded")
    );
}

#[test]
fn status_shows_when_which_run_version_rows_and_checks() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let status = home.run(&["status"]);
    status.assert_ok();
    let text = status.stdout();
    for asset in ASSETS {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(asset))
            .unwrap_or_else(|| panic!("no line for {asset} in\n{text}"));
        assert!(!line.contains("never"), "{line}");
    }
    let chunks = text
        .lines()
        .find(|l| l.trim_start().starts_with("chunks"))
        .unwrap();
    assert!(chunks.contains("1/1 passed"), "{chunks}");
    let latest = home.latest("chunks").unwrap();
    let dv = latest["data_version"].as_str().unwrap();
    assert!(chunks.contains(&dv[..12]), "{chunks}");
    let run = latest["run_id"].as_str().unwrap();
    assert!(chunks.contains(&run[..8]), "{chunks}");
    assert!(chunks.contains(&latest["rows"].to_string()), "{chunks}");
}

#[test]
fn a_fresh_instance_refuses_a_selection_whose_upstream_was_never_materialized() {
    let home = Home::new();
    let run = home.run(&["materialize", "--select", "embeddings+"]);
    run.assert_code(2);
    let err = run.stderr();
    assert!(
        err.contains("chunks (read by embeddings, retrieval_eval)"),
        "{err}"
    );
    assert!(err.contains("+embeddings+"), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
    // Nothing started: no run, no materialization.
    assert_eq!(home.json(&["runs", "list"]).as_array().unwrap().len(), 0);
    assert!(home.latest("embeddings").is_none());
    // The suggested selection works.
    let suggested = err
        .split("--select '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap()
        .to_owned();
    home.run(&["materialize", "--select", &suggested])
        .assert_ok();
    assert!(home.latest("predictions").is_some());
}

#[test]
fn a_failed_step_skips_its_downstream_and_keeps_the_rest() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let good = home.latest("raw_documents").unwrap();
    let run = home.run(&[
        "materialize",
        "--select",
        "*",
        "--config",
        "source_dir=/nonexistent/stemma-docs",
    ]);
    run.assert_code(1);
    let all = run.all();
    assert!(
        all.contains("source folder /nonexistent/stemma-docs does not exist"),
        "{all}"
    );
    assert!(
        all.contains("skipped: upstream raw_documents failed"),
        "{all}"
    );
    assert!(
        run.stdout().contains("0 materialized, 1 failed, 5 skipped"),
        "{}",
        run.stdout()
    );
    // The previous materialization is still the current one.
    assert_eq!(home.latest("raw_documents").unwrap(), good);
    let runs = home.json(&["runs", "list"]);
    assert_eq!(runs[0]["status"], "failure");
    assert!(
        runs[0]["message"]
            .as_str()
            .unwrap()
            .contains("raw_documents")
    );
    let id = runs[0]["run_id"].as_str().unwrap().to_owned();
    let show = home.json(&["runs", "show", &id]);
    let statuses: Vec<(&str, &str)> = show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses[0], ("raw_documents", "failed"));
    assert_eq!(statuses.iter().filter(|s| s.1 == "skipped").count(), 5);
}

#[test]
fn a_failing_blocking_check_stops_the_model_but_keeps_the_evaluation() {
    let home = Home::new();
    // Three-word queries: recall@5 falls to about 0.7, below a gate of 0.9.
    let run = home.run(&[
        "materialize",
        "--select",
        "*",
        "-c",
        "eval_query_words=3",
        "-c",
        "min_recall_at_5=0.9",
    ]);
    run.assert_code(1);
    let all = run.all();
    assert!(
        all.contains("check recall_gate failed (error, blocking)"),
        "{all}"
    );
    assert!(
        all.contains("topic_model")
            && all.contains("skipped: blocking check retrieval_eval:recall_gate failed"),
        "{all}"
    );
    // Upstream of the gate and the gated asset itself are materialized; downstream is not.
    for asset in ["raw_documents", "chunks", "embeddings", "retrieval_eval"] {
        assert!(home.latest(asset).is_some(), "{asset}");
    }
    assert!(home.latest("topic_model").is_none());
    assert!(home.latest("predictions").is_none());
    let status = home.json(&["status"]);
    let eval = status
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "retrieval_eval")
        .unwrap();
    assert_eq!(eval["checks"][0]["check"], "recall_gate");
    assert_eq!(eval["checks"][0]["passed"], false);
}

#[test]
fn synthetic_documents_drive_the_whole_pipeline() {
    let home = Home::new();
    home.run(&[
        "materialize",
        "--select",
        "*",
        "-c",
        "synthetic_docs=120",
        "-c",
        "eval_queries=50",
    ])
    .assert_ok();
    let docs = home.latest("raw_documents").unwrap();
    assert_eq!(docs["rows"], 120);
    let run = &docs["run_id"];
    let logs = home.run(&[
        "runs",
        "logs",
        &run.as_str().unwrap()[..8],
        "--step",
        "topic_model",
    ]);
    logs.assert_ok();
    assert!(logs.stdout().contains("test accuracy"), "{}", logs.stdout());
    assert!(
        !logs.stdout().contains("documents into"),
        "{}",
        logs.stdout()
    );
}

#[test]
fn stored_tables_are_plain_parquet_with_the_recorded_rows() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    for asset in ["raw_documents", "chunks", "embeddings", "predictions"] {
        let m = home.latest(asset).unwrap();
        let path = std::path::PathBuf::from(m["object"].as_str().unwrap());
        assert!(
            path.starts_with(home.storage().canonicalize().unwrap()),
            "{}",
            path.display()
        );
        assert_eq!(path.extension().unwrap(), "parquet");
        // Named by content.
        assert!(
            path.to_string_lossy()
                .contains(m["data_version"].as_str().unwrap())
        );
        assert_eq!(
            parquet_rows(&path) as u64,
            m["rows"].as_u64().unwrap(),
            "{asset}"
        );
    }
    let model = home.latest("topic_model").unwrap();
    assert!(model["object"].as_str().unwrap().ends_with(".bin"));
    let eval = home.latest("retrieval_eval").unwrap();
    let json: Value =
        serde_json::from_slice(&std::fs::read(eval["object"].as_str().unwrap()).unwrap()).unwrap();
    assert!(json["recall_at_5"].as_f64().unwrap() > 0.5);
}

/// pyarrow and DuckDB read what Stemma writes. `.ci/tools` installs both into a venv; a missing
/// interpreter fails the test (unless `STEMMA_ALLOW_SKIP=1`).
#[test]
fn parquet_files_are_read_by_pyarrow_and_duckdb() {
    let Some(python) = stemma_io::testing::test_python() else {
        return;
    };
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let files = files_with_extension(&home.storage(), "parquet");
    assert_eq!(files.len(), 4, "{files:?}");
    let script = r#"
import json, sys
import pyarrow.parquet as pq
import duckdb
out = {}
for path in sys.argv[1:]:
    table = pq.read_table(path)
    (count,) = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    out[path] = {"pyarrow": table.num_rows, "duckdb": count, "columns": table.column_names}
print(json.dumps(out))
"#;
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(&files)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: Value = serde_json::from_slice(&output.stdout).unwrap();
    for file in &files {
        let entry = &read[file.to_str().unwrap()];
        let rows = parquet_rows(file) as u64;
        assert_eq!(entry["pyarrow"].as_u64(), Some(rows), "{entry}");
        assert_eq!(entry["duckdb"].as_u64(), Some(rows), "{entry}");
    }
    let chunks = files
        .iter()
        .find(|f| f.to_string_lossy().contains("/chunks/"))
        .unwrap();
    let columns = &read[chunks.to_str().unwrap()]["columns"];
    assert_eq!(
        columns,
        &serde_json::json!(["chunk_id", "doc_id", "topic", "position", "text", "words"])
    );
}
