//! What a newcomer hit in their first week (issue 15): each test drives the real binary the
//! way they did and asserts what they should have seen.

use crate::{Home, MountNamespace, files_with_extension};

/// `gc` keeping nothing it may delete: the latest materialization of each partition only, no
/// grace for age or for fresh objects.
const GC_ALL: [&str; 7] = [
    "gc",
    "--keep-last",
    "1",
    "--keep-younger-than",
    "0s",
    "--grace",
    "0s",
];

/// Hostile selections nest ten thousand levels deep: a clear error at the level where parsing
/// stopped, exit 2 — not a stack overflow (exit 134).
#[test]
fn deeply_nested_selections_are_refused_with_a_caret() {
    let home = Home::new();
    let cases = [
        format!("{}key:chunks{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}key:chunks", "not ".repeat(30000)),
        format!("{}key:chunks{}", "roots(".repeat(5000), ")".repeat(5000)),
        format!("@{}key:chunks{}", "(".repeat(20000), ")".repeat(20000)),
    ];
    for selection in &cases {
        for command in ["plan", "materialize", "list", "status"] {
            let run = home.run(&[command, "--select", selection]);
            run.assert_code(2);
            let err = run.stderr();
            assert!(err.contains("nested too deeply (limit 100)"), "{err}");
            // The selection is shown around the caret, not ten thousand characters of it.
            assert!(err.lines().all(|l| l.chars().count() < 200), "{err}");
            assert!(err.contains('^'), "{err}");
        }
    }
}

/// Staleness is one rule, judged under the config given, everywhere: `status`, `why-stale`,
/// `status:stale` selections and `plan` agree.
#[test]
fn staleness_is_judged_under_the_config_given() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let status = home.json(&["status", "-c", "train_epochs=5"]);
    let topic = status
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "topic_model")
        .unwrap()
        .clone();
    assert_eq!(topic["state"], "stale", "{topic}");
    assert_eq!(
        topic["causes"][0], "config train_epochs changed (30 → 5)",
        "{topic}"
    );
    // Under the defaults it is fresh.
    assert_eq!(
        home.json(&["status"]).as_array().unwrap()[5]["state"],
        "fresh"
    );
    let why = home.run(&["why-stale", "topic_model", "-c", "train_epochs=5"]);
    why.assert_ok();
    assert!(
        why.stdout()
            .contains("config train_epochs changed (30 → 5)"),
        "{}",
        why.stdout()
    );
    let plan = home.run(&["plan", "-s", "topic_model", "-c", "train_epochs=5"]);
    assert!(
        plan.stdout()
            .contains("config train_epochs changed (30 → 5)"),
        "{}",
        plan.stdout()
    );
    let stale = home.json(&["list", "-s", "status:stale", "-c", "train_epochs=5"]);
    let keys: Vec<&str> = stale
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["predictions", "topic_model"]);
    let run = home.run(&["materialize", "-s", "status:stale", "-c", "train_epochs=5"]);
    run.assert_ok();
    assert!(
        run.stdout().contains("materialized 2 assets"),
        "{}",
        run.stdout()
    );
}

/// Wiped means unreferenced: after `wipe`, gc deletes every object the wiped materializations
/// pointed to.
#[test]
fn gc_deletes_the_objects_of_wiped_assets() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let stored = || {
        ["parquet", "json", "bin"]
            .iter()
            .map(|e| files_with_extension(&home.storage().join("v1"), e).len())
            .sum::<usize>()
    };
    assert_eq!(stored(), 6);
    assert!(home.storage().join("current/chunks.json").is_file());
    home.run(&["wipe", "--select", "*", "--yes"]).assert_ok();
    // Nothing is current any more: no manifest points outside tools at the old objects.
    assert!(!home.storage().join("current/chunks.json").exists());
    let gc = home.run(&GC_ALL);
    gc.assert_ok();
    assert!(
        gc.stdout().contains("Deleted 6 unreferenced objects"),
        "{}",
        gc.stdout()
    );
    assert_eq!(stored(), 0);
    // Nothing is left for verify to find, and it says so.
    let verify = home.run(&["verify", "--all"]);
    verify.assert_ok();
    assert!(
        verify.stdout().contains("Nothing to verify"),
        "{}",
        verify.stdout()
    );
}

/// On a full disk gc still deletes unreferenced objects (and says the disk is full); reading
/// commands still work; nothing is lost.
#[test]
fn gc_frees_space_on_a_full_disk() {
    let home = Home::new();
    let Some(ns) = MountNamespace::new(&format!(
        "mount -t tmpfs -o size=3m tmpfs '{}'",
        home.path().display()
    )) else {
        return;
    };
    ns.run(&home, &["materialize", "--select", "*"]).assert_ok();
    ns.run(
        &home,
        &["materialize", "--select", "*", "-c", "chunk_words=60"],
    )
    .assert_ok();
    let count = || {
        ns.shell(&format!(
            "find '{}/storage/v1' -type f | wc -l",
            home.path().display()
        ))
        .stdout()
        .trim()
        .parse::<usize>()
        .unwrap()
    };
    let before = count();
    assert_eq!(
        before, 11,
        "two versions of five assets, raw_documents once"
    );
    ns.shell(&format!(
        "dd if=/dev/zero of='{}/filler' bs=4k 2>/dev/null; true",
        home.path().display()
    ));
    let df = ns.shell(&format!("df -k '{}' | tail -1", home.path().display()));
    assert!(df.stdout().contains("100%"), "{}", df.stdout());
    // Writing commands say the disk is full.
    let run = ns.run(&home, &["materialize", "--select", "*", "--force"]);
    run.assert_code(3);
    assert!(
        run.stderr().contains("disk is full")
            || run.stderr().contains("disk holding the instance is full"),
        "{}",
        run.stderr()
    );
    // Reading commands work.
    ns.run(&home, &["status"]).assert_ok();
    ns.run(&home, &["runs", "list"]).assert_ok();
    let gc = ns.run(&home, &GC_ALL);
    gc.assert_ok();
    assert!(gc.all().contains("full"), "{}", gc.all());
    assert!(
        gc.stdout().contains("Deleted 5 unreferenced objects"),
        "{}",
        gc.stdout()
    );
    assert_eq!(count(), 6);
    // What is current is intact.
    ns.run(&home, &["verify"]).assert_ok();
}

/// A read-only instance directory: reading commands open it read-only; writing ones say why
/// they cannot run.
#[test]
fn a_read_only_instance_can_be_read() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let rows = home.latest("chunks").unwrap()["rows"].as_u64().unwrap();
    let dir = home.path().display().to_string();
    let Some(ns) = MountNamespace::new(&format!("mount --bind -o ro '{dir}' '{dir}'")) else {
        return;
    };
    for args in [
        &["status"][..],
        &["runs", "list"],
        &["verify"],
        &["query", "SELECT count(*) AS n FROM chunks"],
        &["why-stale", "predictions"],
        &["list", "-s", "status:fresh"],
        &["plan", "-s", "*"],
    ] {
        let run = ns.run(&home, args);
        run.assert_ok();
    }
    let query = ns.run(&home, &["query", "SELECT count(*) AS n FROM chunks"]);
    assert!(
        query.stdout().contains(&rows.to_string()),
        "{rows}: {}",
        query.stdout()
    );
    let run = ns.run(&home, &["materialize", "--select", "*", "--force"]);
    run.assert_error(3, "read-only");
}

/// A zero-byte `stemma.db` is not silently a new instance, and a directory of that name is
/// named as what it is.
#[test]
fn a_broken_instance_file_is_named_and_left_alone() {
    let home = Home::new();
    std::fs::write(home.path().join("stemma.db"), b"").unwrap();
    let run = home.run(&["status"]);
    run.assert_code(3);
    assert!(run.stderr().contains("empty (0 bytes)"), "{}", run.stderr());
    assert_eq!(
        std::fs::metadata(home.path().join("stemma.db"))
            .unwrap()
            .len(),
        0,
        "the file is left as it was"
    );

    let other = Home::new();
    std::fs::create_dir(other.path().join("stemma.db")).unwrap();
    let run = other.run(&["materialize", "--select", "*"]);
    run.assert_error(3, "is a directory");
    assert!(!run.stderr().contains("check that the directory exists"));
}

/// Run ids are matched literally by prefix: `%`, `_`, an empty id or a 100,000-character one
/// are bad input (exit 2), not patterns.
#[test]
fn run_id_prefixes_match_literally() {
    let home = Home::new();
    home.run(&["materialize", "--select", "raw_documents"])
        .assert_ok();
    let id = home.json(&["runs", "list"])[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let huge = "a".repeat(100_000);
    for (args, says) in [
        (vec!["runs", "show", "%"], "'%' at position 1"),
        (vec!["runs", "show", "_"], "'_' at position 1"),
        (vec!["runs", "cancel", ""], "empty run id"),
        (vec!["runs", "logs", &huge], "longer than any id"),
        (vec!["runs", "resume", "zz"], "'z' at position 1"),
        (vec!["backfill", "show", "%"], "'%' at position 1"),
    ] {
        let run = home.run(&args);
        run.assert_code(2);
        assert!(run.stderr().contains(says), "{args:?}: {}", run.stderr());
        assert!(run.stderr().len() < 400, "{}", run.stderr());
    }
    // A real prefix, in either case, finds the run.
    home.run(&["runs", "show", &id[..6]]).assert_ok();
    home.run(&["runs", "show", &id[..6].to_uppercase()])
        .assert_ok();
    let none = home.run(&["runs", "show", "0000000"]);
    if !id.starts_with("0000000") {
        none.assert_error(2, "no run with id");
    }
}

/// Warnings on a piped stderr are plain text, without terminal colour codes.
#[test]
fn piped_warnings_carry_no_colour_codes() {
    let home = Home::new();
    home.run(&["materialize", "--select", "raw_documents"])
        .assert_ok();
    let output = home
        .command(&["status", "-c", "source_dir=/no/such/folder"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not observe source_documents"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// Config values out of their field's bounds are refused before anything runs.
#[test]
fn config_values_are_checked_against_their_bounds() {
    let home = Home::new();
    for (pair, says) in [
        ("synthetic_docs=-5", "synthetic_docs must be at least 0"),
        ("chunk_words=-1", "chunk_words must be at least 1"),
        ("chunk_words=0", "chunk_words must be at least 1"),
        ("min_recall_at_5=1.5", "min_recall_at_5 must be from 0 to 1"),
        ("train_epochs=0", "train_epochs must be at least 1"),
    ] {
        let run = home.run(&["materialize", "--select", "*", "-c", pair]);
        run.assert_code(2);
        assert!(run.stderr().contains(says), "{pair}: {}", run.stderr());
    }
    assert!(
        home.json(&["runs", "list"]).as_array().unwrap().is_empty(),
        "nothing ran"
    );
    let config = home.run(&["config"]);
    assert!(config.stdout().contains("int ≥ 1"), "{}", config.stdout());
    assert!(
        config.stdout().contains("float 0 to 1"),
        "{}",
        config.stdout()
    );
}

/// `query` says what is wrong in a user's words: an external asset has no data, statements
/// that change things are refused as such, parse errors point at the position.
#[test]
fn query_errors_say_what_is_wrong() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    for (sql, says) in [
        (
            "SELECT * FROM source_documents",
            "source_documents is an external asset",
        ),
        ("CREATE TABLE t AS SELECT 1", "queries are read-only"),
        ("DELETE FROM chunks", "queries are read-only"),
        (
            "SELEC * FROM chunks",
            "query:1:1: Expected: an SQL statement, found: SELEC",
        ),
        (
            "SELECT * FROM chunks WHERE",
            "query:1:27: Expected: an expression, found: EOF",
        ),
        ("SELECT 1; SELECT 2", "give exactly one query"),
    ] {
        let run = home.run(&["query", sql]);
        run.assert_code(2);
        let err = run.stderr();
        assert!(err.contains(says), "{sql}: {err}");
        assert!(!err.contains("ParserError"), "{sql}: {err}");
        assert!(!err.contains("IO manager"), "{sql}: {err}");
    }
}

/// Partitions asked of a selection without partitioned assets are named as what was given.
#[test]
fn partitions_for_an_unpartitioned_selection_are_named_as_given() {
    let home = Home::new();
    let run = home.run(&[
        "materialize",
        "--select",
        "chunks",
        "--partition-range",
        "2026-01-01...2026-01-31",
    ]);
    run.assert_code(2);
    let err = run.stderr();
    assert!(
        err.contains("partitions were asked for (2026-01-01...2026-01-31) but none of the selected assets is partitioned (chunks)"),
        "{err}"
    );
    assert!(!err.contains("--partition was given"), "{err}");
    // A backfill whose range runs backwards says so.
    let run = home.run(&[
        "backfill",
        "--select",
        "daily_quality",
        "--from",
        "2026-11-07",
        "--to",
        "2026-11-01",
    ]);
    run.assert_code(2);
    assert!(
        run.stderr()
            .contains("the partition range 2026-11-07...2026-11-01 ends before it starts"),
        "{}",
        run.stderr()
    );
    let run = home.run(&[
        "backfill",
        "--select",
        "chunks",
        "--from",
        "2026-12-31",
        "--to",
        "2026-01-01",
    ]);
    run.assert_code(2);
    assert!(
        !run.stderr().contains("--partition was given"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr()
            .contains("none of the selected assets is partitioned")
    );
}

/// The demo binary carries its corpus: copied elsewhere, with the source tree out of sight,
/// it still reads every document.
#[test]
fn the_demo_binary_carries_its_corpus() {
    let home = Home::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let binary = elsewhere.path().join("assets");
    std::fs::copy(env!("CARGO_BIN_EXE_assets"), &binary).unwrap();
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let Some(ns) = MountNamespace::new(&format!("mount -t tmpfs tmpfs '{workspace}'")) else {
        return;
    };
    let hidden = ns.shell(&format!("ls '{workspace}' | wc -l"));
    assert_eq!(
        hidden.stdout().trim(),
        "0",
        "the source tree is out of sight"
    );
    let run = ns.shell(&format!(
        "cd / && STEMMA_HOME='{}' NO_COLOR=1 '{}' materialize --select raw_documents --json",
        home.path().display(),
        binary.display()
    ));
    run.assert_ok();
    let documents = ns.shell(&format!(
        "STEMMA_HOME='{}' '{}' query 'SELECT count(*) AS n FROM raw_documents' --format csv",
        home.path().display(),
        binary.display()
    ));
    let count: usize = documents
        .stdout()
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(count >= 24 + 4, "{}", documents.stdout());
}

/// The small things a careful user notices.
#[test]
fn small_things_a_careful_user_notices() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let id = home.json(&["runs", "list"])[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The log reads in time order: a step's DONE comes after its checks.
    let logs = home.run(&["runs", "logs", &id[..8], "--json"]);
    let stamps: Vec<i64> = logs
        .stdout()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");
    // One asset is one asset.
    let list = home.run(&["list", "--select", "chunks"]);
    assert!(list.stderr().contains("1 asset") && !list.stderr().contains("1 assets"));
    // An observation is labelled as one.
    let status = home.run(&["status"]);
    let source = status
        .stdout()
        .lines()
        .find(|l| l.contains("source_documents"))
        .unwrap()
        .to_owned();
    assert!(source.contains("observed "), "{source}");
    // Operators in mixed case, keys in the wrong case.
    let run = home.run(&["list", "--select", "Not key:chunks"]);
    run.assert_error(2, "write `not` or `NOT`");
    assert!(!run.stderr().contains("key:Not"), "{}", run.stderr());
    let run = home.run(&["list", "--select", "CHUNKS"]);
    run.assert_error(2, "did you mean \"chunks\"?");
    // With --json, errors are JSON too.
    let run = home.run(&["status", "--select", "nope", "--json"]);
    run.assert_code(2);
    let error: serde_json::Value = serde_json::from_str(run.stderr().trim()).unwrap();
    assert_eq!(error["error"]["exit_code"], 2);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown asset \"nope\"")
    );
}

/// Stored Parquet as outside tools see it: each file says what it is, counts are signed,
/// embeddings are fixed-size arrays, and the manifest of current objects gives DuckDB the
/// current version of an asset (not every version ever written beside it).
#[test]
fn stored_parquet_as_outside_tools_see_it() {
    let Some(python) = stemma_io::testing::test_python() else {
        return;
    };
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    // A second version of chunks (and what follows) beside the first.
    home.run(&["materialize", "--select", "*", "-c", "chunk_words=60"])
        .assert_ok();
    home.run(&[
        "backfill",
        "--select",
        "daily_quality",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-03",
    ])
    .assert_ok();
    let status = home.json(&["status"]);
    let current = |asset: &str| crate::materialization_in(&status, asset).unwrap();
    let chunks = current("chunks");
    let run_id = chunks["run_id"].as_str().unwrap().to_owned();
    let storage = home.storage();
    let script = r#"
import json, sys
import duckdb
import pyarrow.parquet as pq
storage, chunks_file, embeddings_file = sys.argv[1:4]
meta = {k.decode(): v.decode() for k, v in pq.read_metadata(chunks_file).metadata.items()
        if k.startswith(b"stemma.")}
types = {f.name: str(f.type) for f in pq.read_schema(chunks_file)}
vector = str(pq.read_schema(embeddings_file).field("vector").type)
con = duckdb.connect()
every = con.execute(f"SELECT count(*) FROM read_parquet('{storage}/v1/chunks/*.parquet')").fetchone()[0]
con.execute(f"SET VARIABLE files = (SELECT list(file) FROM read_json('{storage}/current/chunks.json'))")
now = con.execute("SELECT count(*) FROM read_parquet(getvariable('files'))").fetchone()[0]
con.execute(f"SET VARIABLE days = (SELECT list(file) FROM read_json('{storage}/current/daily_quality.json'))")
days = con.execute("SELECT list(day ORDER BY day) FROM read_parquet(getvariable('days'))").fetchone()[0]
print(json.dumps({"meta": meta, "types": types, "vector": vector, "every": every, "now": now, "days": days}))
"#;
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&storage)
        .arg(chunks["object"].as_str().unwrap())
        .arg(current("embeddings")["object"].as_str().unwrap())
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let meta = &read["meta"];
    assert_eq!(meta["stemma.asset_key"], "chunks", "{meta}");
    assert_eq!(
        meta["stemma.data_version"], chunks["data_version"],
        "{meta}"
    );
    assert_eq!(meta["stemma.run_id"], run_id.as_str(), "{meta}");
    assert_eq!(
        meta["stemma.code_version"], chunks["code_version"],
        "{meta}"
    );
    assert_eq!(read["types"]["position"], "int32", "{read}");
    assert_eq!(read["types"]["words"], "int32", "{read}");
    assert_eq!(
        read["vector"], "fixed_size_list<item: float not null>[256]",
        "{read}"
    );
    // Two versions of chunks lie in its folder; the manifest names the current one.
    let rows = chunks["rows"].as_u64().unwrap();
    assert_eq!(read["now"].as_u64(), Some(rows), "{read}");
    assert!(read["every"].as_u64().unwrap() > rows, "{read}");
    assert_eq!(
        read["days"],
        serde_json::json!(["2026-11-01", "2026-11-02", "2026-11-03"]),
        "{read}"
    );
    // A partitioned file names its partition.
    let day = std::fs::read_to_string(storage.join("current/daily_quality.json")).unwrap();
    assert!(day.contains("\"partition\": \"2026-11-02\""), "{day}");
}

/// A query nested thousands of levels deep is refused with a clear error, not a crash.
#[test]
fn deeply_nested_queries_are_refused() {
    let home = Home::new();
    home.run(&["materialize", "--select", "raw_documents"])
        .assert_ok();
    let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    home.run(&["query", &sql])
        .assert_error(2, "nested too deeply to parse");
}

/// On a real terminal (a pty, through util-linux `script`) the tables are coloured; with
/// `NO_COLOR` set they are not; `--json` never is.
#[test]
fn colour_on_a_terminal_and_never_with_no_color() {
    let home = Home::new();
    home.run(&["materialize", "--select", "raw_documents"])
        .assert_ok();
    let on_pty = |args: &str, no_color: bool| -> String {
        let line = format!("'{}' {args}", env!("CARGO_BIN_EXE_assets"));
        // The environment the tests give the binary, given to `script` instead.
        let clean = home.command(&[]);
        let mut script = std::process::Command::new("script");
        script.args(["-q", "-e", "-c", &line, "/dev/null"]);
        script.current_dir(home.path());
        for (k, v) in clean.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        script.env("TERM", "xterm-256color");
        if no_color {
            script.env("NO_COLOR", "1");
        } else {
            script.env_remove("NO_COLOR");
        }
        let out = script
            .output()
            .expect("util-linux `script` (.ci/tools installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_pty("status", false);
    assert!(coloured.contains("\u{1b}["), "{coloured:?}");
    assert!(coloured.contains("raw_documents"), "{coloured:?}");
    let plain = on_pty("status", true);
    assert!(!plain.contains("\u{1b}["), "{plain:?}");
    assert!(plain.contains("raw_documents"), "{plain:?}");
    let json = on_pty("status --json", false);
    assert!(!json.contains("\u{1b}["), "{json:?}");
}
