//! The lineage browser in a real headless Chromium, driven over WebDriver (fantoccini →
//! Debian's chromedriver) against the real binary serving on 127.0.0.1. Screenshots of each
//! view land in `$CARGO_TARGET_DIR/ui-screenshots/` (or `target/ui-screenshots/`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::Home;
use crate::serve::{Server, runtime};

struct Browser {
    client: Client,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open(driver: &stemma_io::testing::Chromedriver) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": driver.chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    "--window-size=1400,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        let shots = target.join("ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            shots,
            _profile: profile,
        }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until `script` (an expression) is truthy; returns its value.
    async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js(&format!("return ({script});")).await;
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            if Instant::now() > deadline {
                let _ = self.shot("timed-out").await;
                panic!("waited 30 s for {what}: {script}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
    }
}

/// Graph, search, selection error, asset page with its plots, launching from the graph and
/// watching the node change without a reload, the run page to the end, deep links; every
/// request the pages made went to the server itself.
#[test]
fn the_browser_shows_the_demo_launches_and_follows_live() {
    let Some(driver) = stemma_io::testing::Chromedriver::start() else {
        return;
    };
    let home = Home::new();
    let setup = home.run(&["materialize", "--select", "*", "-c", "synthetic_docs=30"]);
    assert!(setup.ok(), "{}", setup.all());
    // Served under another config, so raw_documents (and what reads it) is stale.
    let server = Server::start(&home, &["-c", "synthetic_docs=40"]);
    runtime().block_on(async {
        let b = Browser::open(&driver).await;
        let c = &b.client;

        // The whole graph, every asset a box once the states arrive.
        c.goto(&server.url("/")).await.unwrap();
        b.until("the states", "document.body.dataset.graphStates === 'loaded'")
            .await;
        let count = b.css("#count").await.text().await.unwrap();
        assert_eq!(count, "8 assets · 11 edges");
        b.until("8 node boxes", "document.querySelectorAll('.node').length === 8")
            .await;
        let raw = b.css(".node[data-key='raw_documents']").await;
        assert!(
            raw.attr("class").await.unwrap().unwrap().contains("stale"),
            "raw_documents is stale under another config"
        );
        b.shot("graph").await;

        // The search bar takes the CLI's selection language.
        let input = b.css("#select").await;
        input.send_keys("embeddings+\n").await.unwrap();
        b.until("the selection in the URL", "location.search.includes('select=embeddings%2B')")
            .await;
        b.until("the states", "document.body.dataset.graphStates === 'loaded'")
            .await;
        let selected = b
            .until("a count", "document.querySelector('#count').textContent")
            .await;
        let listed = reqwest::get(server.url("/api/v1/assets?select=embeddings%2B"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let listed: Value = serde_json::from_slice(&listed).unwrap();
        let expected = listed["items"].as_array().unwrap().len();
        assert!(expected > 1 && expected < 8, "{expected}");
        assert!(
            selected.as_str().unwrap().starts_with(&format!("{expected} assets ·")),
            "{selected}: embeddings and its readers"
        );
        b.shot("graph-selected").await;

        // Autocomplete offers the groups after `group:`.
        input.clear().await.unwrap();
        input.send_keys("group:").await.unwrap();
        let offered = b
            .until(
                "suggestions",
                "!document.querySelector('#suggest').hidden && document.querySelector('#suggest').textContent",
            )
            .await;
        assert!(offered.as_str().unwrap().contains("group:rag"), "{offered}");
        b.shot("autocomplete").await;

        // A bad selection shows the CLI's caret.
        input.clear().await.unwrap();
        input.send_keys("embeddings+ and (\n").await.unwrap();
        let error = b
            .until(
                "the selection error",
                "!document.querySelector('#select-error').hidden && document.querySelector('#select-error').textContent",
            )
            .await;
        let error = error.as_str().unwrap();
        assert!(error.contains("column") && error.contains('^'), "{error}");
        b.shot("selection-error").await;

        // A deep link to an asset: its plots of numeric metadata.
        c.goto(&server.url("/assets/retrieval_eval")).await.unwrap();
        b.css("[data-plot='recall_at_5'] svg").await;
        let plots = b
            .js("return [...document.querySelectorAll('[data-plot]')].map(p => p.dataset.plot)")
            .await;
        for name in ["mrr", "recall_at_1", "recall_at_5", "recall_at_10", "bytes"] {
            assert!(plots.as_array().unwrap().contains(&json!(name)), "{plots}");
        }
        b.shot("asset").await;

        // Launch from the graph and watch the node change state, with no reload.
        c.goto(&server.url("/?asset=raw_documents")).await.unwrap();
        b.until("the states", "document.body.dataset.graphStates === 'loaded'")
            .await;
        b.js("window.__sameDocument = true; return 1").await;
        b.css("#materialize-one").await.click().await.unwrap();
        let run_link = b.css("#launched-one a").await;
        b.until(
            "raw_documents fresh",
            "document.querySelector(\".node[data-key='raw_documents']\")?.classList.contains('fresh')",
        )
        .await;
        assert_eq!(
            b.js("return window.__sameDocument === true").await,
            json!(true),
            "the page was reloaded"
        );
        b.shot("graph-live").await;

        // The run's page: every step finished.
        run_link.click().await.unwrap();
        b.until("the run succeeded", "document.body.dataset.runStatus === 'success'")
            .await;
        let steps = b
            .js("return [...document.querySelectorAll('.gantt .row')].map(r => r.textContent)")
            .await;
        let steps = steps.as_array().unwrap();
        assert!(!steps.is_empty());
        assert!(
            steps.iter().all(|s| s.as_str().unwrap().contains("succeeded")),
            "{steps:?}"
        );
        b.shot("run").await;

        // Nothing left 127.0.0.1: every resource the pages loaded came from the server.
        let origin = server.url("");
        let loaded = b
            .js("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])")
            .await;
        for url in loaded.as_array().unwrap() {
            assert!(url.as_str().unwrap().starts_with(&origin), "{url} is not {origin}");
        }

        // The catalog and the schedules answer too.
        c.goto(&server.url("/assets")).await.unwrap();
        b.css("#rows tr").await;
        b.shot("catalog").await;
        c.goto(&server.url("/schedules")).await.unwrap();
        b.css("h1").await;
        b.shot("schedules").await;
        c.clone().close().await.unwrap();
    });
}

/// The files served are the embedded ones, byte for byte the files under `ui/`, and a page
/// may only load from its own server.
#[test]
fn the_served_files_are_the_embedded_ui() {
    let home = Home::new();
    let server = Server::start(&home, &[]);
    let ui = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui");
    let mut files = Vec::new();
    let mut dirs = vec![ui.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().unwrap() != "README.md" {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 10, "{files:?}");
    let total: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(total < 250_000, "the UI is {total} bytes");
    runtime().block_on(async {
        let client = reqwest::Client::new();
        for file in &files {
            let rel = file
                .strip_prefix(&ui)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let r = client
                .get(server.url(&format!("/ui/{rel}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{rel}");
            let policy = r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(policy.starts_with("default-src 'self'"), "{policy}");
            assert_eq!(
                r.bytes().await.unwrap(),
                std::fs::read(file).unwrap(),
                "{rel}"
            );
        }
        // Every route of the browser answers with its page.
        for route in [
            "/",
            "/assets",
            "/assets/embeddings",
            "/runs",
            "/runs/x",
            "/schedules",
        ] {
            let page = client.get(server.url(route)).send().await.unwrap();
            assert_eq!(page.status(), 200, "{route}");
            assert!(
                page.text().await.unwrap().contains("/ui/js/app.js"),
                "{route}"
            );
        }
        let missing = client.get(server.url("/ui/nope.js")).send().await.unwrap();
        assert_eq!(missing.status(), 404);
    });
}
