//! Secret config fields: used by assets, recorded nowhere.

use std::sync::Arc;

use stemma::{AssetDef, AssetGraph, ConfigField, Definitions, Json, Materialize, RunStatus};

/// Whether any file under `dir` holds `needle`.
fn held_in(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// An asset that logs its key, puts it in its metadata, and (with `fail`) fails quoting it.
fn leaky(secret: bool) -> Definitions {
    let field = if secret {
        ConfigField::secret("api_key")
    } else {
        ConfigField::string("api_key")
    };
    Definitions::new()
        .assets([AssetDef::builder("calls")
            .code_version("1")
            .compute_blocking(|ctx, _| {
                let key: String = ctx.config().get("api_key")?;
                ctx.log
                    .info(format!("calling https://api.example/v1?key={key}"));
                ctx.add_metadata("endpoint", format!("https://api.example/v1?key={key}"));
                if ctx.config().get::<bool>("fail")? {
                    return Err(stemma::Error::Plan(format!("401 for key {key}")));
                }
                Ok(Json(key.len()))
            })
            .build()])
        .config(field)
        .config(ConfigField::bool("fail", false))
}

fn engine(defs: Definitions, home: &std::path::Path) -> stemma::Engine {
    stemma_server::open_engine(AssetGraph::new(defs).unwrap(), home).unwrap()
}

/// Logs, errors, metadata, the run record and provenance never hold a secret's value; a new
/// key does not make anything stale; a resume takes the key from its own config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_used_and_recorded_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let key = "sk-live-7f3a9c2e";
    let engine = engine(leaky(true), dir.path());
    let run = |pairs: Vec<String>| {
        let engine = engine.clone();
        async move {
            engine
                .materialize(
                    Materialize::new("calls").config(pairs),
                    Arc::new(stemma::NoObserver),
                )
                .await
                .unwrap()
        }
    };
    let ok = run(vec![format!("api_key={key}")]).await;
    assert_eq!(ok.status, RunStatus::Success);
    let failed = run(vec![format!("api_key={key}x"), "fail=true".into()]).await;
    assert_eq!(failed.status, RunStatus::Failure);
    assert!(
        failed.failed[0].error.contains("<secret>") && !failed.failed[0].error.contains(key),
        "{:?}",
        failed.failed
    );
    engine.instance().flush().await.unwrap();
    let record = engine.instance().find_run(ok.run_id.as_str()).unwrap();
    assert_eq!(record.config["api_key"], "<secret>");
    let events = engine.instance().run_events(&ok.run_id).unwrap();
    let logged = events
        .iter()
        .find_map(|e| match &e.kind {
            stemma::EventKind::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(logged, "calling https://api.example/v1?key=<secret>");
    assert!(
        held_in(dir.path(), key).is_empty(),
        "{:?}",
        held_in(dir.path(), key)
    );

    // Another key: nothing is stale (the record says a secret was read, not which).
    let judged = engine
        .clone()
        .with_config(&["api_key=sk-rotated-0000"])
        .unwrap();
    let status = judged.status().unwrap();
    let first = stemma::ids::NodeIx::new(0);
    assert!(
        status.get(first).unwrap().fresh(),
        "{:?}",
        status.get(first)
    );

    // A resume of the failed run takes the key from its own config, not the record.
    let resumed = engine
        .clone()
        .with_config(&[format!("api_key={key}")])
        .unwrap()
        .resume_run(
            failed.run_id.as_str(),
            tokio_util::sync::CancellationToken::new(),
            Arc::new(stemma::NoObserver),
        )
        .await
        .unwrap();
    // `fail=true` is recorded and resumed with: it fails again, with the key redacted.
    assert!(
        resumed.failed[0].error.contains("401 for key <secret>"),
        "{:?}",
        resumed.failed
    );
}

/// A value recorded before its field was declared secret is scrubbed from the instance — the
/// run record, provenance, logs — by the next engine that knows better.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_recorded_before_a_field_was_secret_are_scrubbed() {
    let dir = tempfile::tempdir().unwrap();
    let key = "sk-old-plaintext-5521";
    {
        let plain = engine(leaky(false), dir.path());
        plain
            .materialize(
                Materialize::new("calls").config([format!("api_key={key}")]),
                Arc::new(stemma::NoObserver),
            )
            .await
            .unwrap();
        plain.instance().flush().await.unwrap();
    }
    assert!(
        !held_in(dir.path(), key).is_empty(),
        "recorded in plain text before"
    );
    let secret = engine(leaky(true), dir.path());
    assert!(
        held_in(dir.path(), key).is_empty(),
        "{:?}",
        held_in(dir.path(), key)
    );
    let runs = secret.instance().runs(10).unwrap();
    assert_eq!(runs[0].config["api_key"], "<secret>");
    // Once is enough: a second open finds nothing to do.
    drop(secret);
    assert_eq!(
        stemma::Instance::open(dir.path())
            .unwrap()
            .scrub_secrets(&["api_key"])
            .unwrap(),
        0
    );
}
