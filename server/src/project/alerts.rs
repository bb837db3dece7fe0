//! Alerts: when a run fails (or succeeds, or a check fails), POST a JSON payload to webhooks
//! (a Slack-compatible body: `text` plus the run's details) and/or run a command, retrying
//! with backoff. An alert that cannot be delivered is logged; it never fails the run.
//!
//! ```toml
//! [[alerts]]
//! on = ["failure", "check_failure"]        # default: ["failure"]
//! webhook = "https://hooks.slack.com/services/…"
//!
//! [[alerts]]
//! command = ["/usr/local/bin/page-oncall", "--team", "data"]   # the report as JSON on stdin
//! ```

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use stemma::notify::{RunNotifier, RunReport};
use stemma::{Error, Result, RunStatus};
use tokio::io::AsyncWriteExt;

/// When an alert fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertOn {
    Failure,
    Success,
    CheckFailure,
}

/// One `[[alerts]]` entry of `stemma.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    #[serde(default = "default_on")]
    pub on: Vec<AlertOn>,
    /// POST the report here.
    pub webhook: Option<String>,
    /// Run this program (and arguments), the report as JSON on stdin and `STEMMA_RUN_ID`,
    /// `STEMMA_RUN_STATUS` in its environment.
    pub command: Option<Vec<String>>,
    /// Further attempts after a failed delivery (default 3), waiting 0.5 s, 1 s, 2 s, ….
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Seconds one delivery may take (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_on() -> Vec<AlertOn> {
    vec![AlertOn::Failure]
}

fn default_retries() -> u32 {
    3
}

fn default_timeout() -> u64 {
    10
}

impl AlertConfig {
    /// Checks the entry: one target, and a webhook that is an http(s) URL.
    pub fn validate(&self, index: usize) -> Result<()> {
        let here = format!("alerts[{index}]");
        match (&self.webhook, &self.command) {
            (None, None) => {
                return Err(Error::Config(format!(
                    "{here}: give a webhook or a command"
                )));
            }
            (Some(w), _) if !(w.starts_with("http://") || w.starts_with("https://")) => {
                return Err(Error::Config(format!(
                    "{here}: webhook {w:?} is not an http(s) URL"
                )));
            }
            (_, Some(c)) if c.is_empty() => {
                return Err(Error::Config(format!("{here}: the command is empty")));
            }
            _ => {}
        }
        if self.on.is_empty() {
            return Err(Error::Config(format!(
                "{here}: `on` lists nothing (failure, success, check_failure)"
            )));
        }
        Ok(())
    }

    fn fires_for(&self, report: &RunReport) -> bool {
        self.on.iter().any(|on| match on {
            AlertOn::Failure => report.status == RunStatus::Failure,
            AlertOn::Success => report.status == RunStatus::Success,
            AlertOn::CheckFailure => !report.checks_failed.is_empty(),
        })
    }
}

/// Delivers the configured alerts.
#[derive(Debug)]
pub struct Alerts {
    configs: Vec<AlertConfig>,
    client: reqwest::Client,
}

impl Alerts {
    pub fn new(configs: Vec<AlertConfig>) -> Result<Self> {
        for (i, c) in configs.iter().enumerate() {
            c.validate(i)?;
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("stemma/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("alerts: {e}")))?;
        Ok(Alerts { configs, client })
    }

    async fn deliver(&self, config: &AlertConfig, report: &RunReport, body: &serde_json::Value) {
        let timeout = Duration::from_secs(config.timeout_seconds.max(1));
        let mut wait = Duration::from_millis(500);
        for attempt in 0..=config.retries {
            let result = match (&config.webhook, &config.command) {
                (Some(url), _) => self.post(url, body, timeout).await,
                (None, Some(command)) => run_command(command, body, report, timeout).await,
                (None, None) => return,
            };
            match result {
                Ok(()) => return,
                Err(e) if attempt < config.retries => {
                    tracing::warn!(target: "stemma::alerts", "alert for run {} failed (attempt {}): {e}; retrying", report.run_id.short(), attempt + 1);
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => {
                    // The CLI's diagnostics layer prints it (stemma=warn); a server logs it.
                    tracing::error!(target: "stemma::alerts", "alert for run {} could not be delivered: {e}", report.run_id.short());
                }
            }
        }
    }

    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> std::result::Result<(), String> {
        let response = self
            .client
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("POST {url}: HTTP {}", response.status()))
        }
    }
}

async fn run_command(
    command: &[String],
    body: &serde_json::Value,
    report: &RunReport,
    timeout: Duration,
) -> std::result::Result<(), String> {
    let (program, args) = command.split_first().ok_or("the command is empty")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("STEMMA_RUN_ID", report.run_id.to_string())
        .env("STEMMA_RUN_STATUS", report.status.as_str())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(body.to_string().as_bytes()).await;
    }
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{program} exited with {status}")),
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        Err(_) => Err(format!("{program} took longer than {timeout:?}")),
    }
}

impl RunNotifier for Alerts {
    fn run_ended<'a>(&'a self, report: &'a RunReport) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let firing: Vec<&AlertConfig> = self
                .configs
                .iter()
                .filter(|c| c.fires_for(report))
                .collect();
            if firing.is_empty() {
                return;
            }
            // The same body for every target: the report, and a line for people (Slack).
            let mut body = serde_json::to_value(report).unwrap_or_default();
            body["text"] = serde_json::Value::String(report.summary());
            for c in firing {
                self.deliver(c, report, &body).await;
            }
        })
    }
}
