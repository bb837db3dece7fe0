//! Concurrency and crashes: two processes on one instance, `kill -9` in the middle of a run,
//! and instances that cannot be read.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::{Home, materialization_in, parquet_rows};

#[test]
fn two_materialize_processes_at_once_both_succeed() {
    let home = Home::new();
    let args = [
        "materialize",
        "--select",
        "*",
        "-c",
        "synthetic_docs=400",
        "-c",
        "eval_queries=40",
    ];
    let mut a = home
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut b = home
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ra, rb) = (a.wait().unwrap(), b.wait().unwrap());
    let err = |c: &mut std::process::Child| {
        let mut s = String::new();
        std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut s).unwrap();
        s
    };
    let (ea, eb) = (err(&mut a), err(&mut b));
    assert!(ra.success(), "first process failed:\n{ea}");
    assert!(rb.success(), "second process failed:\n{eb}");
    assert!(
        !ea.contains("locked") && !eb.contains("locked"),
        "{ea}\n{eb}"
    );
    let runs = home.json(&["runs", "list"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["status"] == "success"), "{runs:?}");
    // Both wrote the same content: one version, one object.
    let m = home.latest("chunks").unwrap();
    assert_eq!(
        parquet_rows(&PathBuf::from(m["object"].as_str().unwrap())) as u64,
        m["rows"].as_u64().unwrap()
    );
}

/// Starts a run long enough to be interrupted (a big synthetic corpus on an unoptimized test
/// build) and returns once `chunks` is committed, with a thread collecting the rest of stderr.
fn start_long_run(home: &Home) -> (std::process::Child, std::thread::JoinHandle<String>) {
    let mut child = home
        .command(&["materialize", "--select", "*", "-c", "synthetic_docs=6000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("✓ chunks") {
                let _ = tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    rx.recv_timeout(Duration::from_secs(300))
        .expect("the long run materializes chunks");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be interrupted; make it longer"
    );
    (child, reader)
}

#[test]
fn kill_9_in_the_middle_of_a_run_leaves_the_instance_consistent() {
    let home = Home::new();
    home.run(&["materialize", "--select", "*"]).assert_ok();
    let before = home.json(&["status"]);

    let (mut child, _) = start_long_run(&home);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The killed run is ended as a failure, saying why.
    let runs = home.json(&["runs", "list"]);
    let killed = &runs[0];
    assert_eq!(killed["status"], "failure", "{runs}");
    assert!(
        killed["message"]
            .as_str()
            .unwrap()
            .contains("exited without ending the run"),
        "{killed}"
    );
    // Every asset still has a readable current materialization: the killed run's committed
    // ones (raw_documents, chunks) or the previous run's.
    let after = home.json(&["status"]);
    for asset in after.as_array().unwrap() {
        let key = asset["key"].as_str().unwrap();
        // The partitioned daily_quality was never materialized here (`*` leaves it out).
        if asset["external"] == true || key == "daily_quality" {
            continue;
        }
        let m = &asset["materializations"][0];
        assert!(m.is_object(), "{key} lost its materialization");
        let object = PathBuf::from(m["object"].as_str().unwrap());
        assert!(object.is_file(), "{key}: {} is missing", object.display());
        if let Some(rows) = m["rows"].as_u64() {
            assert_eq!(parquet_rows(&object) as u64, rows, "{key}");
        }
    }
    let old = |key: &str| materialization_in(&before, key).unwrap();
    let now = |key: &str| materialization_in(&after, key).unwrap();
    assert_eq!(now("chunks")["run_id"], killed["run_id"]);
    assert_eq!(now("predictions"), old("predictions"));
    // The previous objects are still there and readable.
    let old_chunks = PathBuf::from(old("chunks")["object"].as_str().unwrap());
    assert_eq!(
        parquet_rows(&old_chunks) as u64,
        old("chunks")["rows"].as_u64().unwrap()
    );

    // A run that crashed did not fail: --from-failure refuses it, as its help says; a
    // resume picks it up.
    let id = killed["run_id"].as_str().unwrap();
    let refused = home.run(&["runs", "resume", &id[..8], "--from-failure"]);
    refused.assert_code(2);
    assert!(
        refused.stderr().contains("its process died"),
        "{}",
        refused.stderr()
    );

    // The instance works: a new run succeeds.
    home.run(&["materialize", "--select", "*"]).assert_ok();
    assert_eq!(home.json(&["runs", "list"])[0]["status"], "success");
}

/// `runs resume --from-failure` re-executes a failed run's failed and skipped steps, never
/// what it committed; it refuses a run that succeeded.
#[test]
fn from_failure_reruns_what_failed_and_nothing_it_committed() {
    let home = Home::new();
    // chunk_overlap must be below chunk_words: chunks fails, everything below is skipped.
    let failed = home.run(&["materialize", "--select", "*", "-c", "chunk_overlap=90"]);
    failed.assert_code(1);
    let run = home.json(&["runs", "list"])[0].clone();
    assert_eq!(run["status"], "failure");
    let id = run["run_id"].as_str().unwrap().to_owned();
    let raw = home.latest("raw_documents").unwrap();
    let again = home.run(&["runs", "resume", &id[..8], "--from-failure"]);
    // The same config, so chunks fails again; raw_documents is not run again.
    again.assert_code(1);
    let resumed = home.json(&["runs", "list"])[0].clone();
    assert_ne!(resumed["run_id"], run["run_id"]);
    let shown = home.json(&["runs", "show", &resumed["run_id"].as_str().unwrap()[..8]]);
    let steps: Vec<&str> = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(!steps.contains(&"raw_documents"), "{steps:?}");
    assert!(steps.contains(&"chunks"), "{steps:?}");
    assert_eq!(home.latest("raw_documents").unwrap(), raw);

    home.run(&["materialize", "--select", "*"]).assert_ok();
    let ok = home.json(&["runs", "list"])[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = home.run(&["runs", "resume", &ok[..8], "--from-failure"]);
    refused.assert_code(2);
    assert!(
        refused.stderr().contains("succeeded") || refused.stderr().contains("did not fail"),
        "{}",
        refused.stderr()
    );
}

#[test]
fn an_unreadable_instance_is_a_clear_error() {
    let home = Home::new();
    std::fs::write(home.path().join("stemma.db"), vec![b'#'; 8192]).unwrap();
    let run = home.run(&["status"]);
    run.assert_code(3);
    let err = run.stderr();
    assert!(err.contains("stemma.db"), "{err}");
    assert!(err.contains("not a Stemma instance"), "{err}");

    // STEMMA_HOME pointing at a file.
    let file = home.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let run = home
        .command(&["materialize", "--select", "*"])
        .env("STEMMA_HOME", &file)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("plain-file") && err.contains("cannot create the instance directory"),
        "{err}"
    );
}

#[test]
fn repeated_runs_are_recorded_and_forced_runs_reproduce_the_same_versions() {
    let home = Home::new();
    home.run(&["materialize", "--select", "raw_documents+"])
        .assert_ok();
    let first = home.latest("chunks").unwrap();
    for _ in 0..2 {
        home.run(&["materialize", "--select", "raw_documents+", "--force"])
            .assert_ok();
    }
    // Recomputed from the same inputs by the same code: the same content, the same version.
    let last = home.latest("chunks").unwrap();
    assert_eq!(last["data_version"], first["data_version"]);
    assert_ne!(last["run_id"], first["run_id"]);
    let runs = home.json(&["runs", "list"]);
    assert_eq!(runs.as_array().unwrap().len(), 3);
    let ids: std::collections::HashSet<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["run_id"].as_str().unwrap()[..8])
        .collect();
    assert_eq!(ids.len(), 3, "short run ids must be distinct: {runs}");
    let last = home.latest("chunks").unwrap();
    assert_eq!(last["run_id"], runs[0]["run_id"]);
}

/// Ctrl-C twice — the second exits at once — still records the run `canceled`, not failed.
#[test]
fn ctrl_c_twice_exits_at_once_and_records_the_run_canceled() {
    let home = Home::new();
    let (mut child, reader) = start_long_run(&home);
    for _ in 0..2 {
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // The second lands while the first cancel is still being carried out.
        std::thread::sleep(Duration::from_millis(3));
    }
    let exit = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(exit.code(), Some(130), "{stderr}");
    let runs = home.json(&["runs", "list"]);
    assert_eq!(runs[0]["status"], "canceled", "{runs}");
    assert!(
        runs[0]["message"].as_str().unwrap().contains("cancel"),
        "{runs}"
    );
    assert!(home.latest("predictions").is_none());
}

/// A run asked to stop (`runs cancel`) whose process dies before it ends the run is recorded
/// `canceled`, not failed.
#[test]
fn a_canceled_run_whose_process_dies_is_recorded_canceled() {
    let home = Home::new();
    let (mut child, _) = start_long_run(&home);
    let id = home.json(&["runs", "list"])[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    home.run(&["runs", "cancel", &id[..8]]).assert_ok();
    // Killed before it polls for the cancel (every 250 ms).
    child.kill().unwrap();
    child.wait().unwrap();
    let run = &home.json(&["runs", "list"])[0];
    assert_eq!(run["status"], "canceled", "{run}");
    assert!(
        run["message"]
            .as_str()
            .unwrap()
            .contains("exited before it ended the run"),
        "{run}"
    );
}

#[test]
fn ctrl_c_cancels_the_run_and_exits_130() {
    let home = Home::new();
    let (mut child, reader) = start_long_run(&home);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(exit.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Canceling"), "{stderr}");
    // The step after chunks — running (interrupted) or about to start (skipped) — is shown,
    // not left out.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("embeddings")
                && (l.contains("interrupted") || l.contains("skipped"))),
        "{stderr}"
    );
    let runs = home.json(&["runs", "list"]);
    assert_eq!(runs[0]["status"], "canceled", "{runs}");
    // What committed before the cancel stays; nothing after it was made visible.
    assert_eq!(home.latest("chunks").unwrap()["run_id"], runs[0]["run_id"]);
    assert!(home.latest("predictions").is_none());
}
