//! Alerts against a real HTTP receiver the test starts on 127.0.0.1, and a real command.

use std::sync::{Arc, Mutex};

use stemma::{AssetDef, AssetGraph, Definitions, Json, Materialize, RunStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A webhook receiver: answers each request with the next status of `statuses` (then 200)
/// and keeps every request body.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        let statuses = Arc::new(Mutex::new(statuses.into_iter()));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(body) = stemma_server::testing::http_request_body(&buf) {
                        break Some(body);
                    }
                };
                let Some(body) = body else { continue };
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                let status = statuses.lock().unwrap().next().unwrap_or(200);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        Receiver { url, bodies, task }
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn defs() -> Definitions {
    Definitions::new()
        .check(
            // A warning: the run succeeds, and `on = ["check_failure"]` hears of it.
            stemma::CheckDef::builder("within_budget", "fine")
                .run_blocking(false, |_, _| {
                    Ok::<_, std::io::Error>(
                        stemma::CheckResult::fail("1 is over the budget of 0")
                            .severity(stemma::Severity::Warn),
                    )
                })
                .build(),
        )
        .assets([
            AssetDef::builder("fine")
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(Json(1)))
                .build(),
            AssetDef::builder("broken")
                .compute_blocking(|_, _| Err::<(), _>(std::io::Error::other("the API said 500")))
                .build(),
        ])
}

fn engine(home: &std::path::Path, toml: &str) -> stemma::Engine {
    let project: stemma_server::ProjectConfig = toml::from_str(toml).unwrap();
    stemma_server::open_engine_with(AssetGraph::new(defs()).unwrap(), home, &project, None).unwrap()
}

async fn run(engine: &stemma::Engine, select: &str) -> stemma::RunOutcome {
    engine
        .materialize(Materialize::new(select), Arc::new(stemma::NoObserver))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_sends_exactly_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(Vec::new()).await;
    let e = engine(
        dir.path(),
        &format!("[[alerts]]\nwebhook = \"{}\"\n", hook.url),
    );
    assert_eq!(run(&e, "fine").await.status, RunStatus::Success);
    assert!(
        hook.bodies().is_empty(),
        "no alert for a success (its failed warning check is not asked for)"
    );

    let outcome = run(&e, "*").await;
    assert_eq!(outcome.status, RunStatus::Failure);
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let alert = &bodies[0];
    assert_eq!(alert["status"], "failure");
    assert_eq!(alert["run_id"], outcome.run_id.to_string());
    let text = alert["text"].as_str().unwrap();
    assert!(
        text.contains("failed") && text.contains("broken — the API said 500"),
        "{text}"
    );
}

/// A receiver that fails first gets the alert again; one that is gone is logged and the run
/// is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_retry_and_never_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Receiver::start(vec![503]).await;
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let out = dir.path().join("alert.json");
    let e = engine(
        dir.path(),
        &format!(
            "[[alerts]]\nwebhook = \"{}\"\non = [\"failure\", \"success\"]\n\n\
             [[alerts]]\nwebhook = \"{gone}\"\nretries = 1\n\n\
             [[alerts]]\ncommand = [\"sh\", \"-c\", \"cat > {}\"]\n",
            flaky.url,
            out.display()
        ),
    );
    let outcome = run(&e, "broken").await;
    assert_eq!(outcome.status, RunStatus::Failure);
    let bodies = flaky.bodies();
    assert_eq!(bodies.len(), 2, "503, then delivered");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written["run_id"], outcome.run_id.to_string());
    assert_eq!(written["failed"][0][0], "broken");

    // `on = ["success"]` fires for a success; the command (failures only) does not.
    std::fs::remove_file(&out).unwrap();
    assert_eq!(run(&e, "fine").await.status, RunStatus::Success);
    assert_eq!(flaky.bodies().len(), 3);
    assert!(!out.exists());

    // A bad entry is refused when the project opens.
    let project: stemma_server::ProjectConfig =
        toml::from_str("[[alerts]]\nwebhook = \"hooks.slack.com/x\"\n").unwrap();
    let err = stemma_server::open_engine_with(
        AssetGraph::new(defs()).unwrap(),
        dir.path(),
        &project,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("alerts[0]: webhook \"hooks.slack.com/x\" is not an http(s) URL"),
        "{err}"
    );
}

/// `on = ["check_failure"]`: a run that succeeds with a failed (warning) check sends one
/// alert that names the check and what it said; a run whose checks pass sends none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_sends_a_check_failure_alert() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start(Vec::new()).await;
    let e = engine(
        dir.path(),
        &format!(
            "[[alerts]]\nwebhook = \"{}\"\non = [\"check_failure\"]\n",
            hook.url
        ),
    );
    let outcome = run(&e, "fine").await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.checks_failed.len(), 1);
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let alert = &bodies[0];
    assert_eq!(alert["status"], "success");
    assert_eq!(
        alert["checks_failed"],
        serde_json::json!([["fine:within_budget", "1 is over the budget of 0"]])
    );

    // A failed run without failed checks is not what this alert listens for.
    assert_eq!(run(&e, "broken").await.status, RunStatus::Failure);
    assert_eq!(hook.bodies().len(), 1, "{:?}", hook.bodies());
}
