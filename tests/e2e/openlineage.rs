//! OpenLineage out: a run's steps as OpenLineage events, written to a JSONL file and posted to a
//! receiver started here on 127.0.0.1, each loaded by openlineage-python's classes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::Home;

/// An HTTP receiver on 127.0.0.1 that answers the first request 500 (to be retried) and the
/// rest 200, keeping every body it was sent.
fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/lineage", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&got);
    std::thread::spawn(move || {
        let mut first = true;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                if let Some(body) = stemma_server::testing::http_request_body(&buf) {
                    break Some(body);
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let status = if std::mem::take(&mut first) {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            if status.starts_with("200")
                && let Some(body) = body
            {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

#[test]
fn every_step_becomes_openlineage_events_a_consumer_can_load() {
    let home = Home::new();
    let (url, received) = receiver();
    let project = home.path().join("stemma.toml");
    std::fs::write(
        &project,
        format!("[openlineage]\nnamespace = \"demo\"\nurl = \"{url}\"\nfile = \"lineage.jsonl\"\n"),
    )
    .unwrap();
    let project = project.to_str().unwrap();
    let run = home.run(&[
        "--project",
        project,
        "materialize",
        "--select",
        "raw_documents+",
        "-c",
        "synthetic_docs=30",
    ]);
    run.assert_ok();
    let status = home.json(&["--project", project, "status"]);
    let run_id = home.json(&["runs", "list"])[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(home.path().join("lineage.jsonl")).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of =
        |job: &str| -> Vec<&Value> { events.iter().filter(|e| e["job"]["name"] == job).collect() };
    let types = |job: &str| -> Vec<&str> {
        of(job)
            .iter()
            .map(|e| e["eventType"].as_str().unwrap())
            .collect()
    };
    assert_eq!(types("raw_documents"), ["START", "COMPLETE"], "{text}");
    assert_eq!(types("chunks"), ["START", "COMPLETE"], "{text}");
    let complete = of("chunks")[1];
    assert_eq!(complete["job"]["namespace"], "demo");
    assert_eq!(
        complete["run"]["runId"],
        of("chunks")[0]["run"]["runId"],
        "one OpenLineage run per step"
    );
    assert_eq!(
        complete["run"]["facets"]["parent"]["run"]["runId"],
        run_id.as_str()
    );
    let output = &complete["outputs"][0];
    let latest = crate::materialization_in(&status, "chunks").unwrap();
    let object = latest["object"].as_str().unwrap();
    assert_eq!(output["namespace"], "file");
    assert!(
        object.starts_with(output["name"].as_str().unwrap()),
        "{output} names the folder of {object}"
    );
    let facets = &output["facets"];
    assert_eq!(facets["version"]["datasetVersion"], latest["data_version"]);
    assert_eq!(facets["dataQualityMetrics"]["rowCount"], latest["rows"]);
    assert_eq!(
        facets["dataQualityMetrics"]["columnMetrics"]["text"]["nullCount"], 0,
        "{facets}"
    );
    let fields: Vec<&str> = facets["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["chunk_id", "doc_id", "topic", "position", "text", "words"]
    );
    assert_eq!(
        facets["dataQualityAssertions"]["assertions"][0]["assertion"],
        "chunks_not_empty"
    );
    assert_eq!(
        facets["dataQualityAssertions"]["assertions"][0]["success"],
        true
    );
    assert_eq!(
        output["outputFacets"]["outputStatistics"]["rowCount"],
        latest["rows"]
    );
    // chunks reads raw_documents: the same dataset raw_documents wrote.
    let raw_output = &of("raw_documents")[1]["outputs"][0];
    assert_eq!(
        complete["inputs"][0]["name"], raw_output["name"],
        "{complete}"
    );
    // The receiver got every event, the first after a retry.
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), events.len(), "{got:?}");
    assert_eq!(got, events);
    // openlineage-python loads each one.
    assert_loads(&home.path().join("lineage.jsonl"), events.len());
}

#[test]
fn a_failed_step_is_a_fail_event_with_its_error() {
    let home = Home::new();
    let project = home.path().join("stemma.toml");
    std::fs::write(&project, "[openlineage]\nfile = \"lineage.jsonl\"\n").unwrap();
    let project = project.to_str().unwrap();
    // chunk_overlap >= chunk_words: chunks fails, and says why.
    let run = home.run(&[
        "--project",
        project,
        "materialize",
        "--select",
        "raw_documents+",
        "-c",
        "synthetic_docs=30",
        "-c",
        "chunk_words=5",
        "-c",
        "chunk_overlap=5",
    ]);
    assert_eq!(run.code(), 1, "{}", run.all());
    let text = std::fs::read_to_string(home.path().join("lineage.jsonl")).unwrap();
    let fail: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["eventType"] == "FAIL")
        .unwrap_or_else(|| panic!("no FAIL in {text}"));
    assert_eq!(fail["job"]["name"], "chunks");
    assert!(
        !fail["run"]["facets"]["errorMessage"]["message"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_loads(&home.path().join("lineage.jsonl"), text.lines().count());
}

/// openlineage-python's classes, with their validators, load each of the `count` events of
/// the JSONL file `path` (a missing interpreter fails the test unless skips are allowed).
fn assert_loads(path: &std::path::Path, count: usize) {
    let Some(python) = stemma_io::testing::test_python() else {
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/e2e/python/openlineage_check.py"
    );
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        count.to_string()
    );
}
