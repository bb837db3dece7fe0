//! `assets serve`: the real binary on 127.0.0.1 with a temporary instance, driven over HTTP —
//! runs launched and followed on the event stream, the stream resumed, cancel, auth, the
//! cross-site guard, and a launched run that outlives a killed server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Home;

/// A running `assets serve`, stopped (by its PID) when dropped.
pub(crate) struct Server {
    child: Child,
    base: String,
    /// What it printed on stderr after its first line (the access log).
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub(crate) fn start(home: &Home, extra: &[&str]) -> Server {
        Server::spawn(home.command(&[]), extra)
    }

    /// The fixture binary with `vendor_feed` (external, reported over HTTP) and its reader.
    fn start_vendor(home: &Home, extra: &[&str]) -> Server {
        let mut command =
            stemma_server::testing::command(env!("CARGO_BIN_EXE_assets-fixture"), home.path());
        command.env("STEMMA_FIXTURE_VENDOR", "1");
        Server::spawn(command, extra)
    }

    fn spawn(mut command: std::process::Command, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--port", "0", "--no-daemon"];
        args.extend_from_slice(extra);
        let mut child = command
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("assets serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        // Keep draining stderr (the access log) so the server never blocks on a full pipe.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Server { child, base, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The status and JSON body of a response (`null` when it is not JSON).
async fn answer(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    answer(client.get(url).send().await.unwrap()).await
}

/// `request` with `body` as JSON.
fn with_json(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header("content-type", "application/json")
        .body(body.to_string())
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    answer(with_json(client.post(url), &body).send().await.unwrap()).await
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct Sse {
    id: i64,
    event: String,
    data: Value,
}

/// Reads events from `url` (sending `last_id` as Last-Event-ID) until `done` says stop or
/// `within` passes.
async fn follow(
    url: &str,
    last_id: Option<i64>,
    within: Duration,
    mut done: impl FnMut(&Sse) -> bool,
) -> Vec<Sse> {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    if let Some(id) = last_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let deadline = Instant::now() + within;
    let mut buffer = String::new();
    let mut events = Vec::new();
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Ok(Some(chunk))) = tokio::time::timeout(left, response.chunk()).await else {
            break;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut sse = Sse {
                id: 0,
                event: String::new(),
                data: Value::Null,
            };
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                    sse.id = v.trim().parse().unwrap();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    sse.event = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    sse.data = serde_json::from_str(v).unwrap();
                }
            }
            if sse.id == 0 {
                continue; // a keep-alive comment
            }
            let stop = done(&sse);
            events.push(sse);
            if stop {
                return events;
            }
        }
    }
    events
}

fn ended(run: &str) -> impl FnMut(&Sse) -> bool + '_ {
    move |e| e.event == "run_ended" && e.data["run_id"] == run
}

#[test]
fn a_run_launched_over_http_is_followed_to_its_end_on_the_event_stream() {
    let home = Home::new();
    // The server's config is what it judges staleness with and what launched runs get.
    let server = Server::start(&home, &["-c", "synthetic_docs=30"]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let (status, body) = get(&client, &server.url("/healthz")).await;
        assert_eq!(status, 200, "{body}");
        let (status, assets) = get(&client, &server.url("/api/v1/assets?limit=3")).await;
        assert_eq!(status, 200);
        let keys: Vec<&str> = assets["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["chunks", "daily_quality", "embeddings"]);
        // The next page starts where this one stopped.
        let next = assets["next"].as_str().unwrap();
        let (_, page2) = get(
            &client,
            &server.url(&format!("/api/v1/assets?limit=3&cursor={next}")),
        )
        .await;
        assert_eq!(page2["items"][0]["key"], "predictions", "{page2}");
        assert!(
            assets["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["state"] == "missing")
        );

        // Subscribe, then launch: every event of the run arrives, in order.
        let stream = server.url("/api/v1/events");
        let launch = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            post(
                &client,
                &server.url("/api/v1/runs"),
                json!({"selection": "raw_documents+", "tags": {"by": "test"}}),
            )
            .await
        };
        let mut launched_id = String::new();
        let (events, (status, launched)) = tokio::join!(
            follow(&stream, None, Duration::from_secs(60), |e| e.event
                == "run_ended"),
            launch
        );
        assert_eq!(status, 202, "{launched}");
        launched_id.push_str(launched["run_id"].as_str().unwrap());
        let kinds: Vec<&str> = events
            .iter()
            .filter(|e| e.data["run_id"] == launched_id.as_str())
            .map(|e| e.event.as_str())
            .filter(|k| {
                [
                    "run_started",
                    "step_succeeded",
                    "materialization",
                    "run_ended",
                ]
                .contains(k)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "run_started",
                "materialization",
                "step_succeeded",
                "materialization",
                "step_succeeded",
                "run_ended"
            ],
            "{events:?}"
        );
        assert!(events.windows(2).all(|w| w[0].id < w[1].id), "ids in order");
        assert_eq!(events.last().unwrap().data["status"], "success");

        // The run as the API shows it, found by its tag and by its asset.
        let (_, run) = get(&client, &server.url(&format!("/api/v1/runs/{launched_id}"))).await;
        assert_eq!(run["status"], "success");
        assert_eq!(run["steps"].as_array().unwrap().len(), 2, "{run}");
        let (_, tagged) = get(
            &client,
            &server.url("/api/v1/runs?tag=by=test&asset=chunks"),
        )
        .await;
        assert_eq!(
            tagged["items"][0]["run_id"],
            launched_id.as_str(),
            "{tagged}"
        );
        let (_, untagged) = get(&client, &server.url("/api/v1/runs?tag=by=other")).await;
        assert_eq!(untagged["items"], json!([]));
        let (_, chunks) = get(&client, &server.url("/api/v1/assets/chunks")).await;
        assert_eq!(chunks["status"]["state"], "fresh", "{chunks}");
        let (_, history) = get(&client, &server.url("/api/v1/assets/chunks/history")).await;
        assert_eq!(history["items"].as_array().unwrap().len(), 1);
        assert_eq!(history["items"][0]["type"], "materialization");

        // What a monitoring system scrapes, and the probes.
        let (ready, _) = get(&client, &server.url("/readyz")).await;
        assert_eq!(ready, 200);
        let metrics = client.get(server.url("/metrics")).send().await.unwrap();
        assert!(
            metrics.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        let text = metrics.text().await.unwrap();
        for line in [
            "stemma_runs{status=\"success\"} 1",
            "stemma_queued_runs 0",
            "stemma_step_duration_seconds_count{status=\"succeeded\"} 2",
            "# TYPE stemma_http_request_duration_seconds histogram",
            "# TYPE stemma_event_feed_lag_seconds histogram",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    });
}

#[test]
fn a_resumed_stream_loses_and_repeats_nothing() {
    let home = Home::new();
    let server = Server::start(&home, &[]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let (status, launched) = post(
            &client,
            &server.url("/api/v1/runs"),
            json!({"selection": "raw_documents+", "config": {"synthetic_docs": "30"}}),
        )
        .await;
        assert_eq!(status, 202, "{launched}");
        let run = launched["run_id"].as_str().unwrap().to_owned();
        // All of the run's events, from the start of the log.
        let all = follow(
            &server.url("/api/v1/events?after=0"),
            None,
            Duration::from_secs(60),
            ended(&run),
        )
        .await;
        assert!(all.len() >= 6, "{all:?}");
        // Disconnect after the third event, reconnect with its id: the rest, once each.
        let cut = all[2].id;
        let rest = follow(
            &server.url("/api/v1/events"),
            Some(cut),
            Duration::from_secs(30),
            ended(&run),
        )
        .await;
        let ids = |v: &[Sse]| v.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(&rest), ids(&all[3..]));
        // Filtered by run and type.
        let steps = follow(
            &server.url(&format!(
                "/api/v1/events?after=0&run={run}&type=step_succeeded,run_ended"
            )),
            None,
            Duration::from_secs(30),
            ended(&run),
        )
        .await;
        let kinds: Vec<&str> = steps.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(kinds, ["step_succeeded", "step_succeeded", "run_ended"]);
        let (status, bad) = {
            let r = client
                .get(server.url("/api/v1/events"))
                .header("Last-Event-ID", "yesterday")
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        };
        assert_eq!(status, 400, "{bad}");
    });
}

#[test]
fn errors_are_problem_documents_with_the_clis_message_and_position() {
    let home = Home::new();
    let server = Server::start(&home, &[]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let r = client
            .get(server.url("/api/v1/assets?select=chunks%20and"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let (_, problem) = answer(r).await;
        let cli = home.run(&["list", "--select", "chunks and"]);
        assert_eq!(cli.code(), 2);
        assert!(
            cli.stderr()
                .contains(problem["detail"].as_str().unwrap().lines().next().unwrap()),
            "CLI: {}\nHTTP: {problem}",
            cli.stderr()
        );
        assert!(
            problem["position"]["column"].as_u64().is_some(),
            "{problem}"
        );
        let (status, missing) = get(&client, &server.url("/api/v1/assets/embedings")).await;
        assert_eq!(status, 404);
        assert!(
            missing["detail"]
                .as_str()
                .unwrap()
                .contains("did you mean \"embeddings\""),
            "{missing}"
        );
        let (status, nothing) = get(&client, &server.url("/api/v1/runs/0000")).await;
        assert_eq!(status, 404, "{nothing}");
        assert!(
            nothing["hint"]
                .as_str()
                .unwrap()
                .contains("GET /api/v1/runs"),
            "{nothing}"
        );
        // Bad input launches nothing.
        let (status, bad) = post(
            &client,
            &server.url("/api/v1/runs"),
            json!({"selection": "nope"}),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(bad["hint"], "GET /api/v1/assets lists every asset", "{bad}");
        assert!(
            !bad["detail"].as_str().unwrap().contains("assets list"),
            "{bad}"
        );
        let (status, bad) = post(
            &client,
            &server.url("/api/v1/runs"),
            json!({"selection": "chunks", "config": {"chunk_words": "-1"}}),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        let (_, runs) = get(&client, &server.url("/api/v1/runs")).await;
        assert_eq!(runs["items"], json!([]));
        let (status, _) = get(&client, &server.url("/api/v1/nowhere")).await;
        assert_eq!(status, 404);
        // chunks is a Rust asset: it records no column lineage.
        let (status, columns) = get(&client, &server.url("/api/v1/assets/chunks/columns")).await;
        assert_eq!(status, 400, "{columns}");
        assert!(
            columns["detail"]
                .as_str()
                .unwrap()
                .contains("no recorded column lineage"),
            "{columns}"
        );
        let (status, ticks) = get(
            &client,
            &server.url("/api/v1/schedules/nightly_quality/ticks"),
        )
        .await;
        assert_eq!((status, ticks), (200, json!([])));
        let (status, _) = get(&client, &server.url("/api/v1/schedules/nope/ticks")).await;
        assert_eq!(status, 404);
    });
}

#[test]
fn a_run_is_canceled_over_http() {
    let home = Home::new();
    let server = Server::start(&home, &[]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let (status, launched) = post(
            &client,
            &server.url("/api/v1/runs"),
            json!({"selection": "*", "config": {"synthetic_docs": "6000"}}),
        )
        .await;
        assert_eq!(status, 202, "{launched}");
        let run = launched["run_id"].as_str().unwrap().to_owned();
        let stream = server.url(&format!("/api/v1/events?after=0&run={run}"));
        // Once a step has committed, cancel.
        let first = follow(&stream, None, Duration::from_secs(60), |e| {
            e.event == "step_succeeded"
        })
        .await;
        assert!(
            first.iter().any(|e| e.event == "step_succeeded"),
            "{first:?}"
        );
        let (status, canceled) = post(
            &client,
            &server.url(&format!("/api/v1/runs/{run}/cancel")),
            json!({}),
        )
        .await;
        assert_eq!(status, 202, "{canceled}");
        let end = follow(
            &stream,
            Some(first.last().unwrap().id),
            Duration::from_secs(120),
            ended(&run),
        )
        .await;
        assert_eq!(end.last().unwrap().data["status"], "canceled", "{end:?}");
        let (status, again) = post(
            &client,
            &server.url(&format!("/api/v1/runs/{run}/cancel")),
            json!({}),
        )
        .await;
        assert_eq!(status, 409, "{again}");
    });
}

#[test]
fn tokens_and_roles_guard_every_route() {
    let home = Home::new();
    let project = home.path().join("stemma.toml");
    let project = project.to_str().unwrap();
    let token = |role: &str| {
        let run = home.run(&[
            "--project",
            project,
            "token",
            "create",
            "--role",
            role,
            "--name",
            role,
        ]);
        assert!(run.ok(), "{}", run.stderr());
        run.stdout().trim().to_owned()
    };
    let (viewer, operator, admin) = (token("viewer"), token("operator"), token("admin"));
    let listed = home.json(&["--project", project, "token", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(
        !std::fs::read_to_string(project).unwrap().contains(&viewer),
        "only hashes are stored"
    );
    let server = Server::start(&home, &["--project", project]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let call = |method: &str, path: &str, token: Option<&str>| {
            let mut r = client.request(method.parse().unwrap(), server.url(path));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            if method != "GET" {
                r = with_json(r, &json!({"selection": "nope", "keys": [], "slots": 1}));
            }
            async move { r.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(call("GET", "/api/v1/assets", None).await, 401);
        assert_eq!(call("GET", "/api/v1/assets", Some("stm_wrong")).await, 401);
        assert_eq!(call("GET", "/api/v1/assets", Some(&viewer)).await, 200);
        assert_eq!(call("GET", "/metrics", None).await, 401);
        assert_eq!(call("GET", "/healthz", None).await, 200);
        // Every mutation: 401 without a token, 403 below its role, through with it.
        let operator_routes = [
            "/api/v1/runs",
            "/api/v1/runs/0000/cancel",
            "/api/v1/runs/0000/resume",
        ];
        let admin_routes = [
            ("POST", "/api/v1/wipe"),
            ("PUT", "/api/v1/pools/p"),
            ("POST", "/api/v1/dynamic-partitions/d"),
            ("POST", "/api/v1/dynamic-partitions/d/remove"),
            ("POST", "/api/v1/schedules/nightly_quality/start"),
            ("POST", "/api/v1/schedules/nightly_quality/stop"),
        ];
        for path in operator_routes {
            assert_eq!(call("POST", path, None).await, 401, "{path}");
            assert_eq!(call("POST", path, Some(&viewer)).await, 403, "{path}");
            let through = call("POST", path, Some(&operator)).await;
            assert!(![401, 403].contains(&through), "{path}: {through}");
        }
        for (method, path) in admin_routes {
            assert_eq!(call(method, path, None).await, 401, "{path}");
            assert_eq!(call(method, path, Some(&operator)).await, 403, "{path}");
            let through = call(method, path, Some(&admin)).await;
            assert!(![401, 403].contains(&through), "{path}: {through}");
        }
    });
    // Every request is logged with who made it.
    let log = server.log();
    assert!(
        log.contains("GET /api/v1/assets 200") && log.contains("token=viewer"),
        "{log}"
    );
    assert!(
        log.contains("POST /api/v1/wipe 403") && log.contains("token=operator"),
        "{log}"
    );
}

#[test]
fn sigterm_stops_the_server_and_ends_its_streams() {
    let home = Home::new();
    let mut server = Server::start(&home, &[]);
    let url = server.url("/api/v1/events");
    let pid = server.child.id().to_string();
    runtime().block_on(async {
        let stream = follow(&url, None, Duration::from_secs(60), |_| false);
        let stop = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let killed = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap();
            assert!(killed.success());
        };
        let started = Instant::now();
        // The stream ends with the server (follow gives up only after 60 s); what it saw
        // before does not matter (the server observes its sources as it starts).
        let (_seen, ()) = tokio::join!(stream, stop);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the stream ended with the server"
        );
    });
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.log().contains("Stopped"), "{}", server.log());
}

#[test]
fn a_cross_site_post_and_a_foreign_host_are_refused() {
    let home = Home::new();
    let server = Server::start(&home, &[]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let body = json!({"selection": "raw_documents"});
        let evil = with_json(client.post(server.url("/api/v1/runs")), &body)
            .header("Origin", "https://evil.example")
            .header("Sec-Fetch-Site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(evil.status().as_u16(), 403);
        let rebound = client
            .get(server.url("/api/v1/assets"))
            .header("Host", "evil.example:3000")
            .send()
            .await
            .unwrap();
        assert_eq!(rebound.status().as_u16(), 403);
        let (_, runs) = get(&client, &server.url("/api/v1/runs")).await;
        assert_eq!(runs["items"], json!([]), "nothing was launched");
        // The same request from the server's own page goes through.
        let own = with_json(client.post(server.url("/api/v1/plan")), &body)
            .header("Origin", server.base.as_str())
            .header("Sec-Fetch-Site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(own.status().as_u16(), 200);
    });
}

#[test]
fn an_open_server_refuses_a_non_loopback_address() {
    let home = Home::new();
    let run = home.run(&["serve", "--host", "0.0.0.0", "--port", "0"]);
    assert_eq!(run.code(), 2, "{}", run.all());
    assert!(
        run.stderr()
            .contains("refusing to serve on 0.0.0.0 with no tokens"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_launched_run_outlives_a_killed_server() {
    let home = Home::new();
    let mut server = Server::start(&home, &[]);
    let run = runtime().block_on(async {
        let client = reqwest::Client::new();
        let (status, launched) = post(
            &client,
            &server.url("/api/v1/runs"),
            json!({"selection": "*", "config": {"synthetic_docs": "3000"}}),
        )
        .await;
        assert_eq!(status, 202, "{launched}");
        let run = launched["run_id"].as_str().unwrap().to_owned();
        let started = follow(
            &server.url(&format!("/api/v1/events?after=0&run={run}")),
            None,
            Duration::from_secs(60),
            |e| e.event == "run_started",
        )
        .await;
        assert_eq!(started.last().unwrap().event, "run_started");
        run
    });
    // kill -9: no graceful anything.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        let shown = home.json(&["runs", "show", &run]);
        if shown["status"] != "started" || Instant::now() > deadline {
            break shown["status"].clone();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status, "success");
    let server = Server::start(&home, &[]);
    runtime().block_on(async {
        let (_, shown) = get(
            &reqwest::Client::new(),
            &server.url(&format!("/api/v1/runs/{run}")),
        )
        .await;
        assert_eq!(shown["status"], "success", "{shown}");
    });
}

#[test]
fn the_openapi_document_lists_every_route() {
    let home = Home::new();
    let server = Server::start(&home, &[]);
    runtime().block_on(async {
        let (status, doc) = get(&reqwest::Client::new(), &server.url("/api/v1/openapi.json")).await;
        assert_eq!(status, 200);
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/assets",
            "/api/v1/assets/{key}",
            "/api/v1/assets/{key}/history",
            "/api/v1/assets/{key}/partitions",
            "/api/v1/assets/{key}/why-stale",
            "/api/v1/assets/{key}/lineage",
            "/api/v1/runs",
            "/api/v1/runs/{id}",
            "/api/v1/runs/{id}/cancel",
            "/api/v1/events",
            "/api/v1/wipe",
        ] {
            assert!(
                paths.contains_key(path),
                "{path} missing from {:?}",
                paths.keys()
            );
        }
        assert!(paths["/api/v1/runs"]["post"].is_object());
    });
}

#[test]
fn a_materialization_reported_from_outside_makes_its_readers_stale() {
    let home = Home::new();
    let server = Server::start_vendor(&home, &[]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let report = |version: &str| {
            json!({"version": version, "rows": 12, "metadata": {"source": {"type": "text", "value": "vendor sftp"}}})
        };
        let (status, event) = post(&client, &server.url("/api/v1/assets/vendor_feed/materializations"), report("2026-12-01")).await;
        assert_eq!(status, 201, "{event}");
        assert_eq!(event["type"], "materialization");
        assert_eq!(event["metadata"]["source"]["value"], "vendor sftp");
        let (status, launched) = post(&client, &server.url("/api/v1/runs"), json!({"selection": "vendor_summary"})).await;
        assert_eq!(status, 202, "{launched}");
        let run = launched["run_id"].as_str().unwrap().to_owned();
        let end = follow(&server.url(&format!("/api/v1/events?after=0&run={run}")), None, Duration::from_secs(60), ended(&run)).await;
        assert_eq!(end.last().unwrap().data["status"], "success", "{end:?}");
        let state = |body: &Value| body["status"]["state"].as_str().unwrap_or_default().to_owned();
        let (_, summary) = get(&client, &server.url("/api/v1/assets/vendor_summary")).await;
        assert_eq!(state(&summary), "fresh", "{summary}");
        // The same version again changes nothing; a new one makes the reader stale.
        post(&client, &server.url("/api/v1/assets/vendor_feed/materializations"), report("2026-12-01")).await;
        let (_, summary) = get(&client, &server.url("/api/v1/assets/vendor_summary")).await;
        assert_eq!(state(&summary), "fresh", "{summary}");
        post(&client, &server.url("/api/v1/assets/vendor_feed/observations"), json!({"version": "2026-12-02"})).await;
        let (_, summary) = get(&client, &server.url("/api/v1/assets/vendor_summary")).await;
        assert_eq!(state(&summary), "stale", "{summary}");
        let (_, why) = get(&client, &server.url("/api/v1/assets/vendor_summary/why-stale")).await;
        assert!(why.to_string().contains("vendor_feed"), "{why}");
        // A check result from outside shows with the asset.
        let (status, _) = post(&client, &server.url("/api/v1/assets/vendor_feed/checks"), json!({"check": "row_count", "passed": false, "severity": "warn", "description": "12 rows, expected 100"})).await;
        assert_eq!(status, 201);
        let (_, feed) = get(&client, &server.url("/api/v1/assets/vendor_feed")).await;
        assert_eq!(feed["status"]["checks"][0]["check"], "row_count", "{feed}");
        assert_eq!(feed["status"]["checks"][0]["passed"], false);
        let (_, history) = get(&client, &server.url("/api/v1/assets/vendor_feed/history?kind=all")).await;
        let kinds: Vec<&str> = history["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["check_evaluation", "observation", "materialization", "materialization"]);
        // What cannot be reported records nothing.
        let (status, refused) = post(&client, &server.url("/api/v1/assets/chunks/materializations"), report("x")).await;
        assert_eq!(status, 409, "{refused}");
        let (status, _) = post(&client, &server.url("/api/v1/assets/nope/observations"), report("x")).await;
        assert_eq!(status, 404);
        let (status, _) = post(&client, &server.url("/api/v1/assets/vendor_feed/observations"), json!({"version": " "})).await;
        assert_eq!(status, 400);
        let (status, _) = post(&client, &server.url("/api/v1/assets/vendor_feed/observations"), json!({"version": "1", "colour": "red"})).await;
        assert_eq!(status, 400);
        let (_, history) = get(&client, &server.url("/api/v1/assets/vendor_feed/history?kind=all")).await;
        assert_eq!(history["items"].as_array().unwrap().len(), 4);
    });
}

#[test]
fn a_backfill_is_launched_and_followed_over_http() {
    let home = Home::new();
    let setup = home.run(&["materialize", "--select", "*", "-c", "synthetic_docs=30"]);
    assert!(setup.ok(), "{}", setup.all());
    let list = home.json(&["list"]);
    let days: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "daily_quality")
        .unwrap()["partitions"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let server = Server::start(&home, &["-c", "synthetic_docs=30"]);
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let (status, bad) = post(
            &client,
            &server.url("/api/v1/backfills"),
            json!({"selection": "daily_quality", "reprocess": "sometimes"}),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        let (status, launched) = post(
            &client,
            &server.url("/api/v1/backfills"),
            json!({"selection": "daily_quality", "partitions": days}),
        )
        .await;
        assert_eq!(status, 202, "{launched}");
        assert_eq!(launched["steps"], 2, "{launched}");
        let id = launched["backfill"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(120);
        let shown = loop {
            let (status, shown) =
                get(&client, &server.url(&format!("/api/v1/backfills/{id}"))).await;
            if status == 200 && (shown["status"] == "completed" || shown["status"] == "failed")
                || Instant::now() > deadline
            {
                break shown;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(shown["status"], "completed", "{shown}");
        assert_eq!(shown["runs"][0]["status"], "success", "{shown}");
        let (_, list) = get(&client, &server.url("/api/v1/backfills")).await;
        assert_eq!(list["items"][0]["backfill"], id.as_str());
        let (status, _) = post(
            &client,
            &server.url(&format!("/api/v1/backfills/{id}/cancel")),
            json!({}),
        )
        .await;
        assert_eq!(status, 409);
        let (status, _) = post(
            &client,
            &server.url(&format!("/api/v1/backfills/{id}/resume")),
            json!({}),
        )
        .await;
        assert_eq!(status, 409);
        // The server folds the partition status as runs land, before anyone asks for it.
        let conn = rusqlite::Connection::open(home.path().join("stemma.db")).unwrap();
        let landed: i64 = conn
            .query_row(
                "SELECT MAX(event_id) FROM asset_latest WHERE asset_key = 'daily_quality'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let through: Option<i64> = conn
                .query_row(
                    "SELECT through_event FROM partition_status_cache
                     WHERE asset_key = 'daily_quality'",
                    [],
                    |r| r.get(0),
                )
                .ok();
            if through.is_some_and(|t| t >= landed) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "status folded through {through:?}, not {landed}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, partitions) = get(
            &client,
            &server.url("/api/v1/assets/daily_quality/partitions"),
        )
        .await;
        let materialized = partitions["materialized"]["ranges"].to_string();
        assert!(
            materialized.contains(&days[0]) && materialized.contains(&days[1]),
            "{partitions}"
        );
        assert_eq!(partitions["failed"]["count"], 0, "{partitions}");
    });
}

/// schemathesis fuzzes every operation of the served OpenAPI document (a fixed seed, a bounded
/// number of examples): no answer is a 5xx, and every answer matches its documented schema and
/// content type. The event stream is left out (it never ends).
#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_its_schema() {
    let Some(python) = stemma_io::testing::test_python() else {
        return;
    };
    let schemathesis = python.with_file_name("schemathesis");
    let home = Home::new();
    home.run(&[
        "materialize",
        "--select",
        "raw_documents+",
        "-c",
        "synthetic_docs=30",
    ])
    .assert_ok();
    let server = Server::start(&home, &["-c", "synthetic_docs=30"]);
    let output = std::process::Command::new(&schemathesis)
        .args(["run", &server.url("/api/v1/openapi.json")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--seed",
            "1",
            "--max-examples",
            "10",
            "--exclude-path",
            "/api/v1/events",
            "--request-timeout",
            "10",
        ])
        .env("NO_COLOR", "1")
        // Its cache of found failures goes to the test's own directory, not the repository.
        .current_dir(home.path())
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", schemathesis.display()));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
    assert!(!report.contains("failed"), "{report}");
}
