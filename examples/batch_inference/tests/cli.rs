//! The batch inference example through its real command line, against an OpenAI-compatible
//! endpoint this test serves on 127.0.0.1: it answers, rate-limits (429), fails (500) and
//! refuses (400) on purpose, and counts how many requests it serves at once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fake endpoint.
struct Endpoint {
    url: String,
    /// Requests per prompt.
    seen: Arc<Mutex<HashMap<String, u32>>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    /// How long each answer takes.
    delay_ms: Arc<AtomicU64>,
    /// The bearer tokens requests carried.
    tokens: Arc<Mutex<Vec<String>>>,
}

impl Endpoint {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let e = Endpoint {
            url,
            seen: Arc::default(),
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
            delay_ms: Arc::new(AtomicU64::new(60)),
            tokens: Arc::default(),
        };
        let (seen, in_flight, most, delay, tokens) = (
            Arc::clone(&e.seen),
            Arc::clone(&e.in_flight),
            Arc::clone(&e.most_in_flight),
            Arc::clone(&e.delay_ms),
            Arc::clone(&e.tokens),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (seen, in_flight, most, delay, tokens) = (
                    Arc::clone(&seen),
                    Arc::clone(&in_flight),
                    Arc::clone(&most),
                    Arc::clone(&delay),
                    Arc::clone(&tokens),
                );
                std::thread::spawn(move || {
                    serve(conn, &seen, &in_flight, &most, &delay, &tokens);
                });
            }
        });
        e
    }

    fn requests(&self, prompt_part: &str) -> u32 {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.contains(prompt_part))
            .map(|(_, n)| n)
            .sum()
    }
}

fn serve(
    mut conn: TcpStream,
    seen: &Mutex<HashMap<String, u32>>,
    in_flight: &AtomicUsize,
    most: &AtomicUsize,
    delay: &AtomicU64,
    tokens: &Mutex<Vec<String>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let body = loop {
        let Ok(n) = conn.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(body) = stemma_server::testing::http_request_body(&buf) {
            break body;
        }
    };
    let head = String::from_utf8_lossy(&buf);
    if let Some(token) = head
        .lines()
        .find_map(|l| l.strip_prefix("authorization: Bearer "))
        .or_else(|| {
            head.lines()
                .find_map(|l| l.strip_prefix("Authorization: Bearer "))
        })
    {
        tokens.lock().unwrap().push(token.trim().to_owned());
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let prompt = request["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let nth = {
        let mut seen = seen.lock().unwrap();
        let n = seen.entry(prompt.clone()).or_default();
        *n += 1;
        *n
    };
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    most.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(delay.load(Ordering::SeqCst)));
    in_flight.fetch_sub(1, Ordering::SeqCst);
    let (status, extra, body) = if prompt.contains("bad") {
        (
            400,
            "",
            r#"{"error":{"message":"invalid prompt"}}"#.to_owned(),
        )
    } else if prompt.contains("flaky") && nth == 1 {
        (500, "", r#"{"error":"overloaded"}"#.to_owned())
    } else if prompt.contains("rate") && nth == 1 {
        (
            429,
            "retry-after: 0\r\n",
            r#"{"error":"slow down"}"#.to_owned(),
        )
    } else {
        let answer = serde_json::json!({
            "choices": [{"message": {"role": "assistant", "content": format!("echo: {prompt}")}}],
            "usage": {"total_tokens": prompt.len()},
        });
        (200, "", answer.to_string())
    };
    let reply = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(reply.as_bytes());
}

struct Home(tempfile::TempDir);

impl Home {
    /// An instance with a prompts file and a stemma.toml limiting the API pool.
    fn new(prompts: &[(&str, &str)], toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<String> = prompts
            .iter()
            .map(|(id, p)| serde_json::json!({"id": id, "prompt": p}).to_string())
            .collect();
        std::fs::write(dir.path().join("prompts.jsonl"), lines.join("\n")).unwrap();
        std::fs::write(dir.path().join("stemma.toml"), toml).unwrap();
        Home(dir)
    }

    fn command(&self, endpoint: &Endpoint, args: &[&str]) -> Command {
        let mut c =
            stemma_server::testing::command(env!("CARGO_BIN_EXE_batch_inference"), self.0.path());
        c.args(args)
            .args(["-c", &format!("api_url={}", endpoint.url)]);
        c
    }

    fn ok(&self, endpoint: &Endpoint, args: &[&str]) -> String {
        let out: Output = self.command(endpoint, args).output().unwrap();
        assert!(
            out.status.success(),
            "batch_inference {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.0.path().join("stemma.db")).unwrap()
    }

    /// The rows of the latest `results`, read from its Parquet object.
    fn results(&self) -> Vec<serde_json::Value> {
        let location: String = self
            .db()
            .query_row(
                "SELECT location FROM asset_latest WHERE asset_key = 'results'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let file = std::fs::File::open(self.0.path().join("storage").join(location)).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let mut buf = Vec::new();
            let mut w = arrow::json::ArrayWriter::new(&mut buf);
            w.write(&batch).unwrap();
            w.finish().unwrap();
            let v: Vec<serde_json::Value> = serde_json::from_slice(&buf).unwrap();
            rows.extend(v);
        }
        rows
    }

    /// `(start, end)` of every `completions` step of every run, from the event log.
    fn completion_spans(&self) -> Vec<(i64, i64)> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT s.ts, (SELECT min(e.ts) FROM event_log e WHERE e.run_id = s.run_id
                     AND e.partition = s.partition AND e.asset_key = s.asset_key
                     AND e.kind IN ('step_succeeded', 'step_failed') AND e.id > s.id)
                 FROM event_log s WHERE s.kind = 'step_started' AND s.asset_key = 'completions'",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

fn most_overlapping(spans: &[(i64, i64)]) -> usize {
    let mut edges: Vec<(i64, i32)> = spans
        .iter()
        .flat_map(|(a, b)| [(*a, 1), (*b, -1)])
        .collect();
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

const PROMPTS: &[(&str, &str)] = &[
    ("p01", "summarize the quarterly report"),
    ("p02", "translate hello to French"),
    ("p03", "this is a bad request"),
    ("p04", "a flaky one"),
    ("p05", "rate limited at first"),
    ("p06", "name three rivers"),
    ("p07", "write a haiku about lineage"),
    ("p08", "what is a partition"),
    ("p09", "explain content hashing"),
    ("p10", "list prime numbers below 20"),
    ("p11", "define staleness"),
    ("p12", "why parquet"),
];

/// Every asset, every partition, with one config pair.
fn materialize_everything(config: &str) -> [&str; 7] {
    [
        "materialize",
        "--select",
        "*",
        "--partition",
        "*",
        "-c",
        config,
    ]
}

/// One run: every prompt gets a row; the refused one keeps its error, the 500 and the 429
/// are retried and answered, and the results are a Parquet table.
#[test]
fn every_prompt_gets_a_row_with_its_answer_or_its_error() {
    let api = Endpoint::start();
    let home = Home::new(PROMPTS, "[pools]\nopenai-api = 2\n");
    let out = home.ok(&api, &materialize_everything("in_flight=2"));
    assert!(out.contains("Succeeded"), "{out}");
    let rows = home.results();
    assert_eq!(rows.len(), 12);
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    let bad = row("p03");
    assert!(bad.get("completion").is_none_or(|c| c.is_null()), "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("HTTP 400"), "{bad}");
    assert_eq!(bad["attempts"], 1);
    for id in ["p04", "p05"] {
        let r = row(id);
        assert_eq!(r["attempts"], 2, "{r}");
        assert!(
            r["completion"].as_str().unwrap().starts_with("echo: "),
            "{r}"
        );
    }
    assert_eq!(row("p12")["completion"], "echo: why parquet");
    assert!(api.most_in_flight.load(Ordering::SeqCst) <= 2 * 2);

    // A bad line in the prompts file names its line; nothing is retried.
    std::fs::write(
        home.0.path().join("prompts.jsonl"),
        "{\"id\": \"x\", \"prompt\": \"ok\"}\nnot json\n",
    )
    .unwrap();
    let out = home
        .command(&api, &["materialize", "--select", "prompts"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("prompts.jsonl:2:"), "{text}");
}

/// Three processes at once, one pool of 2: the endpoint never serves more than 2 requests at
/// once, and the recorded steps never overlap more than 2 deep. Then a process killed while
/// holding the only slot blocks the next one for no longer than the lease.
#[test]
fn the_pool_holds_across_processes_and_outlives_a_killed_holder() {
    let api = Endpoint::start();
    let home = Home::new(
        PROMPTS,
        "pool_lease_seconds = 2\n\n[pools]\nopenai-api = 2\n",
    );
    let args = materialize_everything("in_flight=1");
    let children: Vec<_> = (0..3)
        .map(|_| {
            home.command(&api, &args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert!(
        api.most_in_flight.load(Ordering::SeqCst) <= 2,
        "{:?}",
        api.most_in_flight
    );
    let spans = home.completion_spans();
    assert_eq!(spans.len(), 12, "4 shards × 3 runs");
    assert!(most_overlapping(&spans) <= 2, "{spans:?}");

    // One slot; a process holds it for a slow answer and is killed.
    std::fs::write(
        home.0.path().join("stemma.toml"),
        "pool_lease_seconds = 2\n\n[pools]\nopenai-api = 1\n",
    )
    .unwrap();
    api.delay_ms.store(20_000, Ordering::SeqCst);
    let before = api.requests("");
    let mut holder = home
        .command(
            &api,
            &[
                "materialize",
                "--select",
                "completions",
                "--partition",
                "s0",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.requests("") == before {
        assert!(Instant::now() < deadline, "the holder never called the API");
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    api.delay_ms.store(10, Ordering::SeqCst);
    let started = Instant::now();
    home.ok(
        &api,
        &[
            "materialize",
            "--select",
            "completions",
            "--partition",
            "s1",
        ],
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2 + 5),
        "blocked beyond the lease: {took:?}"
    );
}

/// The API key is a secret: it reaches the endpoint, from the environment or from `-c`, and
/// nothing Stemma keeps or prints holds it — not the database or its log, not `runs` output in
/// any form, not the stored objects.
#[test]
fn the_api_key_reaches_the_api_and_nothing_else() {
    let endpoint = Endpoint::start();
    let home = Home::new(&[("p1", "hello"), ("p2", "world")], "");
    for (from_env, key) in [
        (true, "sk-from-the-environment-0451"),
        (false, "sk-given-with-c-9134"),
    ] {
        let mut cmd = home.command(
            &endpoint,
            &["materialize", "--select", "*", "--partition", "*"],
        );
        if from_env {
            cmd.env("OPENAI_API_KEY", key);
        } else {
            cmd.args(["-c", &format!("api_key={key}")]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            endpoint.tokens.lock().unwrap().iter().any(|t| t == key),
            "the endpoint was sent the key"
        );
        let mut seen = Vec::new();
        for args in [
            &["runs", "list", "--json"][..],
            &["runs", "show", "latest", "--json"],
            &["runs", "show", "latest"],
            &["runs", "logs", "latest"],
            &["status", "--json"],
        ] {
            let out = home.command(&endpoint, args).output().unwrap();
            seen.push(String::from_utf8_lossy(&out.stdout).into_owned());
            seen.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        for text in &seen {
            assert!(!text.contains(key), "printed: {text}");
        }
        let shown = home
            .command(&endpoint, &["runs", "show", "latest"])
            .output()
            .unwrap();
        if !from_env {
            assert!(
                String::from_utf8_lossy(&shown.stdout).contains("api_key=<secret>"),
                "{}",
                String::from_utf8_lossy(&shown.stdout)
            );
        }
        // Every file of the instance: the database, its log, the stored objects.
        let mut stack = vec![home.0.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let bytes = std::fs::read(&p).unwrap();
                    assert!(
                        !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                        "{} holds the key",
                        p.display()
                    );
                }
            }
        }
    }
}
