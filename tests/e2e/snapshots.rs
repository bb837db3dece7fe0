//! What users see, pinned: the human and `--json` forms of `list`, `status`, `plan`,
//! `runs show`, `why-stale` and a selection error, as insta snapshots
//! (`tests/e2e/snapshots/`). Ids, hashes, times, durations and the home path are redacted;
//! everything else — words, columns, counts, order — must stay as it is (column padding is
//! normalized, since it follows the widths of redacted values). After a deliberate
//! change, `INSTA_UPDATE=always cargo nextest run -p assets -E 'test(snapshots)'` and review
//! the diff (`cargo insta review` if installed); under `CI=true` insta only compares.

use crate::{Home, Run};

fn filters(home: &Home) -> Vec<(String, String)> {
    let mut out = vec![(
        regex_escape(&home.path().display().to_string()),
        "[home]".into(),
    )];
    for (pattern, replacement) in [
        // Times and measured durations in JSON, before any digits are taken for a hash.
        (
            r#""(timestamp|started_at|ended_at|materialized_at|last_materialized|pid|ts|seconds|\w+_ms)": -?[0-9][0-9.e+-]*"#,
            r#""$1": [n]"#,
        ),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[run-id]",
        ),
        (r"\b[0-9a-f]{12,64}\b", "[hash]"),
        (r"\b[0-9a-f]{8}\b", "[id]"),
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}| UTC)?",
            "[time]",
        ),
        (r"\b\d+(\.\d+)? ?(ms|µs|s|m|h|d)\b( ago)?", "[duration]"),
        (r"just now", "[duration]"),
        (r"pid \d+", "pid [n]"),
        (r"process +\d+ on \S+", "process [pid] on [host]"),
        (
            r#""(pid|hostname|host)": ("[^"]*"|\d+)"#,
            r#""$1": [process]"#,
        ),
        // Column padding follows the widths of redacted values (a step of 9 ms or 12 ms): a
        // gap of two or more spaces counts as one column gap.
        (r"([^ \n]) {2,}", "$1  "),
    ] {
        out.push((pattern.into(), replacement.into()));
    }
    out
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Snapshots stdout (and stderr, when there is any) of `assets args…` under `name`.
fn snap(home: &Home, name: &str, args: &[&str]) {
    let run: Run = home.run(args);
    let mut text = format!("$ assets {}\nexit {}\n", args.join(" "), run.code());
    text.push_str(&run.stdout());
    if !run.stderr().trim().is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&run.stderr());
    }
    let filters = filters(home);
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in &filters {
        settings.add_filter(pattern, replacement.as_str());
    }
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn snapshots_of_what_the_cli_prints() {
    let home = Home::new();
    // Generated documents, not the built-in corpus: that holds Stemma's READMEs, and an edit
    // to a README must not change these snapshots.
    home.run(&["materialize", "--select", "*", "-c", "synthetic_docs=30"])
        .assert_ok();
    // A new config for the documents: everything downstream of them goes stale.
    home.run(&[
        "materialize",
        "--select",
        "raw_documents",
        "-c",
        "synthetic_docs=40",
    ])
    .assert_ok();
    let runs = home.json(&["runs", "list"]);
    let first = runs.as_array().unwrap().last().unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_owned();

    snap(&home, "list", &["list"]);
    snap(&home, "list_json", &["list", "--json"]);
    snap(&home, "status", &["status"]);
    snap(&home, "status_json", &["status", "--json"]);
    snap(&home, "plan", &["plan", "--select", "*"]);
    snap(&home, "plan_json", &["plan", "--select", "*", "--json"]);
    snap(&home, "runs_show", &["runs", "show", &first]);
    snap(&home, "runs_show_json", &["runs", "show", &first, "--json"]);
    snap(&home, "why_stale", &["why-stale", "embeddings"]);
    snap(
        &home,
        "why_stale_json",
        &["why-stale", "embeddings", "--json"],
    );
    snap(
        &home,
        "selection_error",
        &["list", "--select", "embedings+"],
    );
    snap(
        &home,
        "selection_error_json",
        &["list", "--select", "embedings+", "--json"],
    );
}
