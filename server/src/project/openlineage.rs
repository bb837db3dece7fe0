//! OpenLineage out: every materialized step of every run becomes an OpenLineage job run —
//! START when the step starts, then COMPLETE, FAIL, or ABORT (the run ended with the step
//! unfinished) — with the Stemma run as its parent, its inputs and output named by where their
//! objects are stored, and the facets Stemma knows exactly: the schema, row and null counts, the
//! column lineage of SQL assets, the check results as assertions, and the data version.
//!
//! ```toml
//! [openlineage]
//! namespace = "stemma"                               # the jobs' namespace (default)
//! url = "http://marquez:5000/api/v1/lineage"         # HTTP transport, and/or
//! file = "lineage.jsonl"                             # a JSONL file (relative to stemma.toml)
//! api_key = "…"                                      # sent as a bearer token, if set
//! ```
//!
//! Delivery is off the run's path: events queue to one task that writes the file and posts
//! to the URL with retries; a failure is logged and never fails a run. A run's end waits a
//! bounded time for its events to be delivered.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use stemma::execute::notify::{RunNotifier, RunReport};
use stemma::spec::{MetadataValue, PartitionKey};
use stemma::{AssetGraph, AssetKey, Event, EventKind, Instance, IoManagers, RunStatus};
use tokio::sync::{mpsc, oneshot};

/// `[openlineage]` in `stemma.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpenLineageConfig {
    /// The namespace of the jobs (one per asset) and of the parent runs.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// An OpenLineage consumer's endpoint (`…/api/v1/lineage`).
    #[serde(default)]
    pub url: Option<String>,
    /// A file each event is appended to as one line of JSON.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Sent as `Authorization: Bearer …` to `url`.
    #[serde(default)]
    pub api_key: Option<String>,
}

fn default_namespace() -> String {
    "stemma".to_owned()
}

/// What every event names as its producer.
pub const PRODUCER: &str = concat!(
    "https://github.com/stemma-data/stemma/tree/v",
    env!("CARGO_PKG_VERSION")
);
/// The metadata key SQL assets record their column lineage under (`stemma_sql::COLUMN_LINEAGE`).
const COLUMN_LINEAGE: &str = "column_lineage";
const RUN_EVENT_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/// How long a run's end waits for its events to be delivered.
const FLUSH_WAIT: Duration = Duration::from_secs(10);
/// Waits before each retry of an HTTP delivery.
const RETRIES: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(3),
];

/// A step as OpenLineage sees it so far.
#[derive(Clone)]
struct Step {
    asset: AssetKey,
    partition: Option<PartitionKey>,
    /// Its OpenLineage run id: derived from the Stemma run and the step, so it is the same in
    /// every event of the step.
    id: String,
    output: Option<stemma::event::Materialization>,
    checks: Vec<(String, bool)>,
}

/// One Stemma run's steps.
struct RunState {
    selection: String,
    steps: HashMap<String, Step>,
}

/// What one OpenLineage event says, before its datasets are named (which reads the
/// instance: the delivery task does it, off the run's path).
struct Said {
    kind: &'static str,
    at: i64,
    run: String,
    selection: String,
    step: Step,
    /// A failed step's error.
    error: Option<String>,
}

enum Message {
    Event(Box<Said>),
    Flush(oneshot::Sender<()>),
}

/// The notifier that emits OpenLineage events.
pub struct OpenLineage {
    config: OpenLineageConfig,
    file: Option<PathBuf>,
    namer: Arc<Namer>,
    runs: Mutex<HashMap<String, RunState>>,
    outbox: Mutex<Option<mpsc::UnboundedSender<Message>>>,
}

/// Names datasets by where their objects are and writes the events.
struct Namer {
    namespace: String,
    graph: Arc<AssetGraph>,
    instance: Arc<Instance>,
    io: Arc<IoManagers>,
}

impl std::fmt::Debug for OpenLineage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenLineage")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenLineage {
    /// An emitter for `engine`'s runs; relative file paths are relative to `dir`.
    pub fn new(config: OpenLineageConfig, dir: &std::path::Path, engine: &stemma::Engine) -> Self {
        let (graph, instance, io) = engine.shared();
        let file = config.file.as_ref().map(|f| dir.join(f));
        let namer = Arc::new(Namer {
            namespace: config.namespace.clone(),
            graph,
            instance,
            io,
        });
        OpenLineage {
            config,
            file,
            namer,
            runs: Mutex::new(HashMap::new()),
            outbox: Mutex::new(None),
        }
    }

    /// Queues an event for delivery (starting the delivery task on first use).
    fn send(&self, said: Said) {
        let Ok(mut outbox) = self.outbox.lock() else {
            return;
        };
        if outbox.is_none() {
            let (tx, rx) = mpsc::unbounded_channel();
            let delivery = Delivery {
                file: self.file.clone(),
                url: self.config.url.clone(),
                api_key: self.config.api_key.clone(),
                client: reqwest::Client::new(),
                namer: Arc::clone(&self.namer),
            };
            tokio::spawn(delivery.run(rx));
            *outbox = Some(tx);
        }
        if let Some(tx) = outbox.as_ref() {
            let _ = tx.send(Message::Event(Box::new(said)));
        }
    }
}

impl Namer {
    /// The run event `said` describes.
    fn event(&self, said: &Said) -> Value {
        let Said {
            kind,
            at,
            run,
            selection,
            step,
            error,
        } = said;
        let (kind, at) = (*kind, *at);
        let time = chrono::DateTime::from_timestamp_micros(at)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let ns = &self.namespace;
        let mut facets = serde_json::Map::new();
        facets.insert(
            "parent".into(),
            facet(
                "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet",
                json!({
                    "run": {"runId": run},
                    "job": {"namespace": ns, "name": format!("materialize {selection}")},
                }),
            ),
        );
        let job_name = match &step.partition {
            Some(p) => format!("{}[{p}]", step.asset),
            None => step.asset.to_string(),
        };
        let outputs = if kind == "START" {
            vec![self.dataset(&step.asset, None)]
        } else {
            vec![self.output(step)]
        };
        if let Some(error) = error {
            facets.insert(
                "errorMessage".into(),
                facet(
                    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
                    json!({"message": error, "programmingLanguage": "Rust"}),
                ),
            );
        }
        json!({
            "eventType": kind,
            "eventTime": time,
            "producer": PRODUCER,
            "schemaURL": RUN_EVENT_SCHEMA,
            "run": {"runId": step.id, "facets": facets},
            "job": {"namespace": ns, "name": job_name},
            "inputs": self.inputs(&step.asset),
            "outputs": outputs,
        })
    }

    /// A dataset named by where `asset`'s objects are (the folder of its latest object), or
    /// by its key when it stores none.
    fn dataset(&self, asset: &AssetKey, m: Option<&stemma::event::Materialization>) -> Value {
        let stored = match m {
            Some(m) => m.location.clone().map(|l| (m.io_manager.clone(), l)),
            None => {
                let only = [asset.clone()].into();
                self.instance
                    .latest_materializations(Some(&only))
                    .ok()
                    .and_then(|all| all.into_iter().next())
                    .and_then(|l| Some((l.io_manager, l.location?)))
            }
        };
        let url =
            stored.and_then(|(io, location)| Some(self.io.get(&io).ok()?.object_url(&location)));
        named(url.as_deref().unwrap_or(""), asset)
    }

    fn inputs(&self, asset: &AssetKey) -> Vec<Value> {
        let Some(node) = self.graph.node(asset) else {
            return Vec::new();
        };
        self.graph
            .parents(node)
            .map(|p| self.dataset(self.graph.key(p), None))
            .collect()
    }

    /// The step's output with what is known of it: schema, counts, version, assertions.
    fn output(&self, step: &Step) -> Value {
        let Some(m) = &step.output else {
            return self.dataset(&step.asset, None);
        };
        let mut dataset = self.dataset(&step.asset, Some(m));
        let mut facets = serde_json::Map::new();
        facets.insert(
            "version".into(),
            facet(
                "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
                json!({"datasetVersion": m.data_version.as_str()}),
            ),
        );
        let columns = m.metadata.values().find_map(|v| match v {
            MetadataValue::TableSchema(c) => Some(c),
            _ => None,
        });
        if let Some(columns) = columns {
            let fields: Vec<Value> = columns
                .iter()
                .map(|c| json!({"name": c.name, "type": c.data_type}))
                .collect();
            facets.insert(
                "schema".into(),
                facet(
                    "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                    json!({"fields": fields}),
                ),
            );
        }
        let mut metrics = serde_json::Map::new();
        if let Some(rows) = m.rows {
            metrics.insert("rowCount".into(), json!(rows));
        }
        if let Some(bytes) = m.bytes {
            metrics.insert("bytes".into(), json!(bytes));
        }
        let nulls: serde_json::Map<String, Value> = columns
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c.name.clone(), json!({"nullCount": c.null_count?}))))
            .collect();
        if !nulls.is_empty() {
            metrics.insert("columnMetrics".into(), Value::Object(nulls));
        }
        if !metrics.is_empty() {
            facets.insert(
                "dataQualityMetrics".into(),
                facet(
                    "https://openlineage.io/spec/facets/1-0-1/DataQualityMetricsDatasetFacet.json#/$defs/DataQualityMetricsDatasetFacet",
                    Value::Object(metrics),
                ),
            );
        }
        if let Some(MetadataValue::Json(recorded)) = m.metadata.get(COLUMN_LINEAGE)
            && let Some(lineage) = self.column_lineage(recorded)
        {
            facets.insert("columnLineage".into(), lineage);
        }
        if !step.checks.is_empty() {
            let assertions: Vec<Value> = step
                .checks
                .iter()
                .map(|(check, passed)| json!({"assertion": check, "success": passed}))
                .collect();
            facets.insert(
                "dataQualityAssertions".into(),
                facet(
                    "https://openlineage.io/spec/facets/1-1-0/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet",
                    json!({"assertions": assertions}),
                ),
            );
        }
        dataset["facets"] = Value::Object(facets);
        let mut stats = serde_json::Map::new();
        if let Some(rows) = m.rows {
            stats.insert("rowCount".into(), json!(rows));
        }
        if let Some(bytes) = m.bytes {
            stats.insert("size".into(), json!(bytes));
        }
        if !stats.is_empty() {
            dataset["outputFacets"] = json!({"outputStatistics": facet(
                "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
                Value::Object(stats),
            )});
        }
        dataset
    }

    /// The column lineage a SQL asset recorded (`[{column, transform, from: [{asset,
    /// column}]}]`), each source column in the dataset its asset is stored as.
    fn column_lineage(&self, recorded: &Value) -> Option<Value> {
        let mut fields = serde_json::Map::new();
        for column in recorded.as_array()? {
            let name = column["column"].as_str()?;
            let subtype = match column["transform"].as_str().unwrap_or_default() {
                "identity" | "rename" => "IDENTITY",
                "aggregate" => "AGGREGATION",
                _ => "TRANSFORMATION",
            };
            let inputs: Vec<Value> = column["from"]
                .as_array()?
                .iter()
                .filter_map(|source| {
                    let asset = AssetKey::parse(source["asset"].as_str()?).ok()?;
                    let dataset = self.dataset(&asset, None);
                    Some(json!({
                        "namespace": dataset["namespace"],
                        "name": dataset["name"],
                        "field": source["column"],
                        "transformations": [{"type": "DIRECT", "subtype": subtype}],
                    }))
                })
                .collect();
            fields.insert(name.to_owned(), json!({"inputFields": inputs}));
        }
        Some(facet(
            "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
            json!({"fields": fields}),
        ))
    }
}

impl OpenLineage {
    /// Follows one event of a run.
    fn follow(&self, event: &Event) -> Option<()> {
        let run = event.run_id.as_ref()?.to_string();
        let mut runs = self.runs.lock().ok()?;
        if let EventKind::RunStarted { selection, .. } = &event.kind {
            runs.insert(
                run,
                RunState {
                    selection: selection.clone(),
                    steps: HashMap::new(),
                },
            );
            return Some(());
        }
        let state = runs.get_mut(&run)?;
        if let EventKind::RunEnded { status, .. } = &event.kind {
            let state = runs.remove(&run)?;
            let kind = if *status == RunStatus::Canceled {
                "ABORT"
            } else {
                "FAIL"
            };
            for step in state.steps.into_values() {
                self.send(Said {
                    kind,
                    at: event.timestamp,
                    run: run.clone(),
                    selection: state.selection.clone(),
                    step,
                    error: None,
                });
            }
            return Some(());
        }
        let asset = event.asset.as_ref()?;
        let label = stemma::event::step_label(asset, event.partition.as_ref());
        match &event.kind {
            EventKind::StepStarted { .. } if !state.steps.contains_key(&label) => {
                let step = Step {
                    asset: asset.clone(),
                    partition: event.partition.clone(),
                    id: step_run_id(&run, &label),
                    output: None,
                    checks: Vec::new(),
                };
                self.send(Said {
                    kind: "START",
                    at: event.timestamp,
                    run: run.clone(),
                    selection: state.selection.clone(),
                    step: step.clone(),
                    error: None,
                });
                state.steps.insert(label, step);
            }
            EventKind::Materialization(m) => {
                if let Some(step) = state.steps.get_mut(&label) {
                    step.output = Some(m.clone());
                }
            }
            EventKind::CheckEvaluation(c) => {
                if let Some(step) = state.steps.get_mut(&label) {
                    step.checks.push((c.check.clone(), c.passed));
                }
            }
            EventKind::StepSucceeded { .. } => {
                let step = state.steps.remove(&label)?;
                self.send(Said {
                    kind: "COMPLETE",
                    at: event.timestamp,
                    run: run.clone(),
                    selection: state.selection.clone(),
                    step,
                    error: None,
                });
            }
            EventKind::StepFailed {
                error,
                retrying: false,
                ..
            } => {
                let step = state.steps.remove(&label)?;
                self.send(Said {
                    kind: "FAIL",
                    at: event.timestamp,
                    run: run.clone(),
                    selection: state.selection.clone(),
                    step,
                    error: Some(error.clone()),
                });
            }
            _ => {}
        }
        Some(())
    }
}

impl RunNotifier for OpenLineage {
    fn on_event(&self, event: &Event) {
        self.follow(event);
    }

    fn run_ended<'a>(&'a self, _report: &'a RunReport) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let tx = self.outbox.lock().ok().and_then(|o| o.clone());
            let Some(tx) = tx else {
                return;
            };
            let (done, delivered) = oneshot::channel();
            if tx.send(Message::Flush(done)).is_ok()
                && tokio::time::timeout(FLUSH_WAIT, delivered).await.is_err()
            {
                tracing::warn!(
                    "OpenLineage: events still undelivered after {}s; the run ends without them",
                    FLUSH_WAIT.as_secs()
                );
            }
        })
    }
}

/// A facet: its fields, with the producer and schema every facet carries.
fn facet(schema: &str, fields: Value) -> Value {
    let mut out = json!({"_producer": PRODUCER, "_schemaURL": schema});
    if let (Some(out), Value::Object(fields)) = (out.as_object_mut(), fields) {
        out.extend(fields);
    }
    out
}

/// A dataset named by an object's URL, following OpenLineage's naming: `file` and the folder's
/// path for local files, `s3://bucket` and the key's folder for S3, `scheme://authority` and
/// the path otherwise; `stemma` and the asset key for an asset that stores nothing.
fn named(object_url: &str, asset: &AssetKey) -> Value {
    let folder = object_url
        .rsplit_once('/')
        .map_or(object_url, |(dir, _)| dir);
    let (namespace, name) = if object_url.is_empty() {
        ("stemma".to_owned(), asset.to_string())
    } else if let Some(path) = folder.strip_prefix("file://") {
        ("file".to_owned(), path.to_owned())
    } else if let Some((scheme, rest)) = folder.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        (format!("{scheme}://{authority}"), format!("/{path}"))
    } else {
        ("file".to_owned(), folder.to_owned())
    };
    json!({"namespace": namespace, "name": name})
}

/// A UUID for a step of a run: the same in every event of the step.
fn step_run_id(run: &str, step: &str) -> String {
    let hash = blake3::hash(format!("{run}\n{step}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The task that delivers events, in order.
struct Delivery {
    file: Option<PathBuf>,
    url: Option<String>,
    api_key: Option<String>,
    client: reqwest::Client,
    namer: Arc<Namer>,
}

impl Delivery {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Message>) {
        while let Some(message) = rx.recv().await {
            match message {
                Message::Event(said) => {
                    // Naming datasets reads the instance: on the blocking pool.
                    let namer = Arc::clone(&self.namer);
                    match tokio::task::spawn_blocking(move || namer.event(&said)).await {
                        Ok(event) => self.deliver(&event).await,
                        Err(e) => tracing::warn!("OpenLineage: an event was lost: {e}"),
                    }
                }
                Message::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    async fn deliver(&self, event: &Value) {
        let line = event.to_string();
        if let Some(path) = &self.file
            && let Err(e) = append_line(path, &line)
        {
            tracing::warn!("OpenLineage: cannot write {}: {e}", path.display());
        }
        let Some(url) = &self.url else {
            return;
        };
        let mut last = String::new();
        for wait in std::iter::once(Duration::ZERO).chain(RETRIES) {
            tokio::time::sleep(wait).await;
            let mut request = self
                .client
                .post(url)
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(5))
                .body(line.clone());
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = e.to_string(),
            }
        }
        tracing::warn!("OpenLineage: {url} did not take an event after retries: {last}");
    }
}

fn append_line(path: &std::path::Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(file, "{line}")
}
