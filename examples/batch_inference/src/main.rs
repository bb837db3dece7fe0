//! Batch inference: a JSONL file of prompts → four shards → calls to an OpenAI-compatible
//! chat-completions endpoint → one results table, stored as Parquet.
//!
//! ```text
//! cargo run -p batch_inference -- pools set openai-api 2        # or [pools] in stemma.toml
//! cargo run -p batch_inference -- materialize --select '*' --partition '*' \
//!     -c prompts_file=prompts.jsonl -c api_url=https://api.openai.com/v1
//! ```
//!
//! The API key is a secret config field read from `OPENAI_API_KEY` (or `-c api_key=…`): it is
//! sent to the endpoint and recorded nowhere — runs, provenance and logs say `<secret>`.
//!
//! * Each shard of `completions` is one step in the `openai-api` pool: however many runs and
//!   processes share the instance, at most the pool's limit of shards call the API at once.
//! * A request answered 429 or 5xx is retried with exponential backoff (honouring
//!   `Retry-After`); one that still fails, or is refused (4xx), keeps its error in its row —
//!   the other prompts of the batch are not lost. A shard fails (and is retried by its retry
//!   policy) only when the endpoint cannot be reached at all.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use stemma::prelude::*;

/// The shards prompts are spread over (by a stable hash of their id).
const SHARDS: [&str; 4] = ["s0", "s1", "s2", "s3"];

fn shards() -> PartitionsDefinition {
    PartitionsDefinition::static_keys(SHARDS)
}

/// One line of the prompts file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prompt {
    pub id: String,
    pub prompt: String,
}

/// What the endpoint answered for one prompt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Completion {
    pub id: String,
    pub shard: String,
    pub prompt: String,
    pub completion: Option<String>,
    /// Why there is no completion, when there is none.
    pub error: Option<String>,
    pub attempts: i64,
    pub total_tokens: Option<i64>,
    pub latency_ms: i64,
}

/// The shard of a prompt id: stable across runs and machines.
fn shard_of(id: &str) -> &'static str {
    let h = id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    SHARDS[(h % SHARDS.len() as u32) as usize]
}

/// The prompts, read from `prompts_file` (JSON lines: `{"id": "…", "prompt": "…"}`). A bad
/// line is an error naming its file and line, and is not retried.
#[asset(group = "inference", kinds = ["jsonl", "parquet"], volatile)]
fn prompts(ctx: &AssetContext) -> AssetResult<Rows<Prompt>> {
    let path: String = ctx.config().get("prompts_file")?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| NoRetry::new(format!("prompts_file {path}: {e}")))?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: Prompt = serde_json::from_str(line)
            .map_err(|e| NoRetry::new(format!("{path}:{}: {e}", i + 1)))?;
        if !seen.insert(p.id.clone()) {
            return Err(
                NoRetry::new(format!("{path}:{}: id {:?} appears twice", i + 1, p.id)).into(),
            );
        }
        out.push(p);
    }
    ctx.add_metadata("prompts", out.len());
    Ok(Rows(out))
}

/// The completions of one shard's prompts, at most `in_flight` requests at once, in the
/// `openai-api` pool.
#[asset(
    group = "inference",
    partitions = shards(),
    pool = "openai-api",
    retry = RetryPolicy::new(2).delay(Duration::from_secs(1)),
    kinds = ["parquet"],
    volatile
)]
async fn completions(ctx: &AssetContext, prompts: Rows<Prompt>) -> AssetResult<Rows<Completion>> {
    let shard = ctx
        .partition_key()
        .ok_or("completions is sharded")?
        .to_owned();
    let api = Api {
        url: format!(
            "{}/chat/completions",
            ctx.config().get::<String>("api_url")?.trim_end_matches('/')
        ),
        key: ctx
            .config()
            .get_opt::<String>("api_key")?
            .unwrap_or_default(),
        model: ctx.config().get("model")?,
        max_attempts: ctx.config().get::<u32>("max_attempts")?.max(1),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(
                ctx.config().get("request_timeout_seconds")?,
            ))
            .build()?,
    };
    let in_flight: usize = ctx.config().get::<usize>("in_flight")?.max(1);
    let mine: Vec<Prompt> = prompts
        .0
        .into_iter()
        .filter(|p| shard_of(&p.id) == shard)
        .collect();
    let rows: Vec<Result<Completion, String>> = futures::stream::iter(mine)
        .map(|p| api.complete(&shard, p))
        .buffered(in_flight)
        .collect()
        .await;
    let rows: Vec<Completion> = rows.into_iter().collect::<Result<_, _>>()?;
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    ctx.add_metadata("answered", rows.len() - failed);
    ctx.add_metadata("failed", failed);
    Ok(Rows(rows))
}

/// Every shard's completions in one table, ordered by prompt id.
#[asset(group = "inference", kinds = ["parquet"])]
fn results(ctx: &AssetContext, completions: Rows<Completion>) -> Rows<Completion> {
    let mut rows = completions.0;
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    ctx.add_metadata("answered", rows.len() - failed);
    ctx.add_metadata("failed", failed);
    Rows(rows)
}

struct Api {
    url: String,
    key: String,
    model: String,
    max_attempts: u32,
    client: reqwest::Client,
}

/// One request's failure: worth retrying (429, 5xx, a timeout) or not (another 4xx).
enum Refusal {
    Retry(String, Option<Duration>),
    Final(String),
}

impl Api {
    /// Asks for one completion, retrying 429 and 5xx answers; the row keeps a final error.
    /// `Err` only when the endpoint cannot be reached at all (the shard is retried whole).
    async fn complete(&self, shard: &str, p: Prompt) -> Result<Completion, String> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(200);
        let mut attempts = 0i64;
        let (completion, error, tokens) = loop {
            attempts += 1;
            match self.call(&p.prompt).await {
                Ok((text, tokens)) => break (Some(text), None, tokens),
                Err(Refusal::Final(e)) => break (None, Some(e), None),
                Err(Refusal::Retry(e, _)) if attempts >= i64::from(self.max_attempts) => {
                    if e.starts_with("unreachable") {
                        return Err(format!("{}: {e}", self.url));
                    }
                    break (None, Some(format!("{e} (after {attempts} attempts)")), None);
                }
                Err(Refusal::Retry(_, after)) => {
                    tokio::time::sleep(after.unwrap_or(wait).min(Duration::from_secs(30))).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        };
        Ok(Completion {
            id: p.id,
            shard: shard.to_owned(),
            prompt: p.prompt,
            completion,
            error,
            attempts,
            total_tokens: tokens,
            latency_ms: started.elapsed().as_millis() as i64,
        })
    }

    async fn call(&self, prompt: &str) -> Result<(String, Option<i64>), Refusal> {
        let body = serde_json::json!({
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
        });
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if !self.key.is_empty() {
            request = request.bearer_auth(&self.key);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Refusal::Retry(format!("unreachable: {e}"), None)
            } else {
                Refusal::Retry(format!("request failed: {e}"), None)
            }
        })?;
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok())
                .map(Duration::from_secs_f64);
            return Err(Refusal::Retry(format!("HTTP {status}"), after));
        }
        let text = response
            .text()
            .await
            .map_err(|e| Refusal::Retry(format!("reading the answer: {e}"), None))?;
        if !status.is_success() {
            return Err(Refusal::Final(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            )));
        }
        let answer: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Refusal::Final(format!("not JSON: {e}")))?;
        let content = answer["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| Refusal::Final("no choices[0].message.content in the answer".into()))?;
        Ok((content.to_owned(), answer["usage"]["total_tokens"].as_i64()))
    }
}

fn definitions() -> Definitions {
    Definitions::new()
        .assets([prompts(), completions(), results()])
        .config(
            ConfigField::string("prompts_file")
                .default("prompts.jsonl")
                .description("JSON lines: {\"id\", \"prompt\"}"),
        )
        .config(
            ConfigField::string("api_url")
                .default("http://127.0.0.1:8000/v1")
                .description("an OpenAI-compatible API base URL"),
        )
        .config(
            ConfigField::secret("api_key")
                .env("OPENAI_API_KEY")
                .description("sent as a bearer token; a secret, never recorded"),
        )
        .config(ConfigField::string("model").default("gpt-4o-mini"))
        .config(ConfigField::int("max_attempts", 4).description("per request, on 429 and 5xx"))
        .config(ConfigField::int("in_flight", 4).description("requests at once per shard"))
        .config(ConfigField::int("request_timeout_seconds", 60))
}

fn main() -> std::process::ExitCode {
    stemma_server::cli::run(definitions())
}
