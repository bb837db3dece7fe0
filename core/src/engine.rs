//! [`Engine`]: the graph, the instance and the IO managers together — what the command line
//! and the server drive.

use std::collections::HashSet;
use std::sync::Arc;

use fixedbitset::FixedBitSet;

use crate::error::{Error, Result};
use crate::event::{Clock, Event, EventKind, RunStatus, SystemClock};
use crate::execute::{Materialize, Run, RunObserver, RunOutcome, execute};
use crate::graph::AssetGraph;
use crate::instance::{Instance, ProcessIdentity};
use crate::io::IoManagers;
use crate::key::AssetKey;
use crate::plan::{MissingInput, Plan, PlanError, StoredIndex, plan};
use crate::selection::Selection;
use crate::status::StatusSnapshot;

/// The engine of one code location against one instance.
#[derive(Debug, Clone)]
pub struct Engine {
    graph: Arc<AssetGraph>,
    instance: Arc<Instance>,
    io: Arc<IoManagers>,
    clock: Arc<dyn Clock>,
}

impl Engine {
    /// Checks that every IO manager key the assets use is registered.
    pub fn new(graph: AssetGraph, instance: Instance, io: IoManagers) -> Result<Self> {
        for (_, def) in graph.assets() {
            if !def.is_external() {
                io.get(&def.spec().io_manager)
                    .map_err(|e| Error::Definition(format!("asset {}: {e}", def.spec().key)))?;
            }
        }
        Ok(Engine {
            graph: Arc::new(graph),
            instance: Arc::new(instance),
            io: Arc::new(io),
            clock: Arc::new(SystemClock),
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn graph(&self) -> &AssetGraph {
        &self.graph
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    pub fn io(&self) -> &IoManagers {
        &self.io
    }

    /// Parses and resolves a selection, reading the instance's status only when the selection
    /// asks for it (`status:`, `changed:`, ...).
    pub fn select(&self, text: &str) -> Result<(Selection, FixedBitSet)> {
        let selection = Selection::parse(text)?;
        let status = self.status_for(&selection)?;
        let set = selection.resolve(&self.graph, &status)?;
        Ok((selection, set))
    }

    /// The status snapshot a selection needs (nothing is read when it needs none).
    pub fn status_for(&self, selection: &Selection) -> Result<StatusSnapshot> {
        if selection.needs_status() {
            self.status()
        } else {
            Ok(StatusSnapshot::unavailable())
        }
    }

    /// Every asset's status as the instance has it now.
    pub fn status(&self) -> Result<StatusSnapshot> {
        StatusSnapshot::load(&self.graph, &self.instance, self.clock.now())
    }

    /// The latest materializations of the assets the selected ones read.
    fn stored_inputs(&self, selected: &FixedBitSet) -> Result<StoredIndex> {
        let mut wanted = HashSet::new();
        for n in selected.ones() {
            for &(up, _) in self.graph.deps(n) {
                wanted.insert(self.graph.key(up).clone());
            }
        }
        if wanted.is_empty() {
            return Ok(StoredIndex::new());
        }
        Ok(self
            .instance
            .latest_materializations(Some(&wanted))?
            .into_iter()
            .map(|m| ((m.asset.clone(), m.partition.clone()), m))
            .collect())
    }

    /// Plans a request without running it.
    pub fn plan(&self, request: &Materialize) -> Result<Plan> {
        let (selection, selected) = self.select(&request.selection)?;
        let stored = self.stored_inputs(&selected)?;
        match plan(
            &self.graph,
            &selected,
            request.partition.as_deref(),
            &stored,
        ) {
            Ok(p) => Ok(p),
            Err(PlanError::Other(e)) => Err(e),
            Err(PlanError::Missing(missing)) => {
                Err(self.missing_error(&selection, request.partition.as_deref(), &missing))
            }
        }
    }

    fn missing_error(
        &self,
        selection: &Selection,
        partition: Option<&str>,
        missing: &[MissingInput],
    ) -> Error {
        let lines: Vec<String> = missing
            .iter()
            .map(|m| {
                let readers: Vec<&str> = m.readers.iter().map(AssetKey::as_str).collect();
                let external = if self.graph.asset(m.node).is_external() {
                    " — external: record its materialization where it is computed"
                } else {
                    ""
                };
                format!(
                    "  - {} (read by {}){external}",
                    crate::event::step_label(self.graph.key(m.node), m.partition.as_ref()),
                    readers.join(", ")
                )
            })
            .collect();
        let mut text = format!(
            "cannot materialize {:?}: it reads {} never materialized:\n{}",
            selection.text(),
            if missing.len() == 1 {
                "an upstream asset that was"
            } else {
                "upstream assets that were"
            },
            lines.join("\n")
        );
        if let Some(hint) = self.suggest_wider(selection, partition, missing) {
            text.push_str(&format!(
                "\nnothing was run; include them in the selection: {hint}"
            ));
        } else {
            text.push_str("\nnothing was run; materialize them first");
        }
        Error::Plan(text)
    }

    /// A selection that also covers the missing upstreams, if one plans cleanly.
    fn suggest_wider(
        &self,
        selection: &Selection,
        partition: Option<&str>,
        missing: &[MissingInput],
    ) -> Option<String> {
        let status = self.status_for(selection).ok()?;
        let plans = |text: &str| -> bool {
            let Ok(s) = Selection::parse(text) else {
                return false;
            };
            let Ok(set) = s.resolve(&self.graph, &status) else {
                return false;
            };
            let Ok(stored) = self.stored_inputs(&set) else {
                return false;
            };
            plan(&self.graph, &set, partition, &stored).is_ok()
        };
        if let Some(Some(h)) = selection.upstream_depth() {
            let deepest = self.graph.layers().len() as u32;
            for hops in h + 1..=h + deepest {
                let candidate = selection.with_upstream(Some(hops))?;
                if plans(&candidate) {
                    let all = selection.with_upstream(None)?;
                    return Some(format!(
                        "--select '{candidate}' (or '{all}' for everything upstream)"
                    ));
                }
            }
            return None;
        }
        // Any other shape: add the missing assets and everything unmaterialized above them.
        let mut keys: Vec<String> = missing
            .iter()
            .map(|m| format!("*{}", self.graph.key(m.node)))
            .collect();
        keys.dedup();
        let candidate = format!("{}, {}", selection.text(), keys.join(", "));
        plans(&candidate).then(|| format!("--select '{candidate}'"))
    }

    /// Materializes a selection: plans it (failing before anything runs if it cannot), records
    /// the run, executes the steps and records how the run ended.
    pub async fn materialize(
        &self,
        request: Materialize,
        observer: Arc<dyn RunObserver>,
    ) -> Result<RunOutcome> {
        let config = self.graph.config_spec().parse_pairs(&request.config)?;
        let plan = self.plan(&request)?;
        let concurrency = request.concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        });
        let me = ProcessIdentity::current();
        let run = Arc::new(Run {
            graph: Arc::clone(&self.graph),
            instance: Arc::clone(&self.instance),
            io: Arc::clone(&self.io),
            clock: Arc::clone(&self.clock),
            run_id: crate::event::RunId::new(),
            config: config.clone(),
            observer,
            cancel: request.cancel.clone(),
            plan,
        });
        run.commit(vec![run.event(EventKind::RunStarted {
            selection: request.selection.clone(),
            partition: request.partition.clone(),
            steps: run.plan.steps.len() as u32,
            config: config.given().clone(),
            pid: me.pid,
            host: me.host,
            process_start: me.start,
        })])
        .await?;

        let outcome = execute(Arc::clone(&run), concurrency).await;

        let flushed = self.instance.flush().await;
        let message = match (&flushed, outcome.status) {
            (Err(e), _) => Some(format!("events were lost: {e}")),
            (Ok(()), RunStatus::Failure) => Some(failure_summary(&outcome)),
            (Ok(()), RunStatus::Canceled) => Some("canceled".into()),
            _ => None,
        };
        let status = if flushed.is_err() {
            RunStatus::Failure
        } else {
            outcome.status
        };
        run.commit(vec![run.event(EventKind::RunEnded { status, message })])
            .await?;
        flushed?;
        Ok(RunOutcome { status, ..outcome })
    }

    /// Wipes the materializations of the selected assets: they count as never materialized.
    /// The event log keeps their history and the stored objects stay until garbage collection.
    pub async fn wipe(&self, selection: &str) -> Result<Vec<AssetKey>> {
        let (_, set) = self.select(selection)?;
        let keys: Vec<AssetKey> = set.ones().map(|n| self.graph.key(n).clone()).collect();
        let events: Vec<Event> = keys
            .iter()
            .map(|k| Event::new(self.clock.now(), EventKind::AssetWiped).asset(k, None))
            .collect();
        self.instance.append(events).await?;
        Ok(keys)
    }
}

fn failure_summary(outcome: &RunOutcome) -> String {
    let mut parts = Vec::new();
    if !outcome.failed.is_empty() {
        let names: Vec<&str> = outcome.failed.iter().map(|(s, _)| s.as_str()).collect();
        parts.push(format!("failed: {}", names.join(", ")));
    }
    if outcome.skipped > 0 {
        parts.push(format!("{} skipped", outcome.skipped));
    }
    let checks: Vec<&str> = outcome
        .checks_failed
        .iter()
        .map(|(c, _)| c.as_str())
        .collect();
    if !checks.is_empty() {
        parts.push(format!("failed checks: {}", checks.join(", ")));
    }
    parts.join("; ")
}
