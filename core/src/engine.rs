//! [`Engine`]: the graph, the instance and the IO managers together — what the command line
//! and the server drive.

use std::collections::HashSet;
use std::sync::Arc;

use fixedbitset::FixedBitSet;

use crate::decision::{Preview, StepPreview, preview};
use crate::execute::launch::{Launch, Launcher};
use crate::execute::{Materialize, RunObserver, RunOutcome};
use crate::graph::AssetGraph;
use crate::hash::DataVersion;
use crate::instance::Instance;
use crate::instance::status::StatusSnapshot;
use crate::model::clock::{Clock, SystemClock};
use crate::model::config::RunConfig;
use crate::model::error::{Error, Hint, Result};
use crate::model::event::{Event, EventKind, RunId, RunStatus};
use crate::model::ids::{IxVec, NodeIx};
use crate::model::io::IoManagers;
use crate::model::key::AssetKey;
use crate::plan::{
    MissingInput, Plan, PlanError, Previous, PreviousIndex, StoredIndex, plan, plan_excluding,
};
use crate::selection::Selection;
use crate::staleness::{Staleness, VersionState};
use tokio_util::sync::CancellationToken;

/// The engine of one code location against one instance.
#[derive(Debug, Clone)]
pub struct Engine {
    graph: Arc<AssetGraph>,
    instance: Arc<Instance>,
    io: Arc<IoManagers>,
    clock: Arc<dyn Clock>,
    /// The config observers and staleness see, and runs use unless they bring their own.
    config: RunConfig,
    /// The graph's dynamic partitions definitions (also as dimensions), found once.
    dynamic: Arc<[crate::model::spec::DynamicPartitions]>,
    /// How long a pool slot stays held by a holder that stops renewing it (one that died).
    pool_lease: std::time::Duration,
    /// Told how every run ends (alerts).
    notifiers: Arc<[Arc<dyn crate::execute::notify::RunNotifier>]>,
    /// Runs this engine (or a clone of it) has started and not yet ended.
    live: Arc<std::sync::Mutex<Vec<crate::model::event::RunId>>>,
}

/// The pool lease unless changed: a killed process blocks its pool's slot for at most this.
pub const DEFAULT_POOL_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

impl Engine {
    /// Checks that every IO manager key the assets use is registered.
    pub fn new(
        graph: impl Into<Arc<AssetGraph>>,
        instance: Instance,
        io: IoManagers,
    ) -> Result<Self> {
        let graph = graph.into();
        for (_, def) in graph.assets() {
            if !def.is_external() {
                io.get(&def.spec().io_manager)
                    .map_err(|e| Error::Definition(format!("asset {}: {e}", def.spec().key)))?;
            }
        }
        let config = RunConfig::defaults(Arc::clone(graph.config_spec()));
        let dynamic = dynamic_definitions(&graph).into();
        let engine = Engine {
            config,
            dynamic,
            graph,
            instance: Arc::new(instance),
            io: Arc::new(io),
            clock: Arc::new(SystemClock),
            pool_lease: DEFAULT_POOL_LEASE,
            notifiers: Arc::from(Vec::new()),
            live: Arc::default(),
        };
        engine.load_dynamic_partitions()?;
        // Values recorded before their field was declared secret are scrubbed, once.
        let secrets: Vec<&str> = engine
            .graph
            .config_spec()
            .fields()
            .filter(|f| f.secret)
            .map(|f| f.name.as_str())
            .collect();
        engine.instance.scrub_secrets(&secrets)?;
        Ok(engine)
    }

    /// Loads the keys of every dynamic partitions definition from the instance.
    fn load_dynamic_partitions(&self) -> Result<()> {
        let mut loaded: std::collections::HashMap<String, Vec<String>> = Default::default();
        for d in self.dynamic.iter() {
            if !loaded.contains_key(d.name()) {
                let keys = self.instance.dynamic_partitions(d.name())?;
                loaded.insert(d.name().to_owned(), keys);
            }
            d.set_keys(&loaded[d.name()]);
        }
        Ok(())
    }

    /// The keys of a dynamic partitions definition.
    pub fn dynamic_partitions(&self, definition: &str) -> Result<Vec<String>> {
        self.known_dynamic(definition)?;
        self.instance.dynamic_partitions(definition)
    }

    fn known_dynamic(&self, definition: &str) -> Result<()> {
        let names: std::collections::BTreeSet<String> =
            self.dynamic.iter().map(|d| d.name().to_owned()).collect();
        if names.contains(definition) {
            return Ok(());
        }
        Err(Error::not_found(
            "dynamic partitions definition",
            definition,
            format!(
                "no dynamic partitions definition named {definition:?} (defined: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.into_iter().collect::<Vec<_>>().join(", ")
                }
            ),
        ))
    }

    /// Adds keys to a dynamic partitions definition (keys it has already are left alone).
    /// Every asset partitioned by it sees them at once.
    pub async fn add_dynamic_partitions(&self, definition: &str, keys: &[String]) -> Result<()> {
        self.known_dynamic(definition)?;
        for key in keys {
            crate::model::spec::PartitionKey::new(key)
                .map_err(|e| Error::Config(format!("dynamic partitions {definition:?}: {e}")))?;
        }
        self.change_dynamic(definition, keys.to_vec(), Vec::new())
            .await
    }

    /// Removes keys from a dynamic partitions definition. Their materializations stay in the
    /// instance (and come back into view if the key is added again).
    pub async fn remove_dynamic_partitions(&self, definition: &str, keys: &[String]) -> Result<()> {
        let current = self.dynamic_partitions(definition)?;
        if let Some(k) = keys.iter().find(|k| !current.contains(k)) {
            return Err(Error::not_found(
                "partition",
                k.clone(),
                format!("dynamic partitions {definition:?} have no key {k:?}; nothing was removed"),
            ));
        }
        self.change_dynamic(definition, Vec::new(), keys.to_vec())
            .await
    }

    async fn change_dynamic(
        &self,
        definition: &str,
        added: Vec<String>,
        removed: Vec<String>,
    ) -> Result<()> {
        self.instance
            .append(vec![Event::new(
                self.clock.now(),
                EventKind::DynamicPartitionsChanged {
                    definition: definition.to_owned(),
                    added,
                    removed,
                },
            )])
            .await?;
        self.load_dynamic_partitions()
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a notifier told how every run ends, after it is recorded (alerts).
    pub fn with_notifier(mut self, notifier: Arc<dyn crate::execute::notify::RunNotifier>) -> Self {
        let mut all = self.notifiers.to_vec();
        all.push(notifier);
        self.notifiers = all.into();
        self
    }

    /// How long a pool slot outlives a holder that stopped renewing it (default 60 s; renewed
    /// every third of it while the step runs).
    pub fn with_pool_lease(mut self, lease: std::time::Duration) -> Self {
        self.pool_lease = lease.max(std::time::Duration::from_millis(30));
        self
    }

    /// `key=value` config pairs for everything this engine does: observing sources (a source
    /// folder is config), staleness, plans, and runs that bring no config of their own.
    pub fn with_config<S: AsRef<str>>(mut self, pairs: &[S]) -> Result<Self> {
        self.config = self.graph.config_spec().parse_pairs(pairs)?;
        Ok(self)
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The engine clock's current time.
    pub fn now(&self) -> crate::model::clock::Timestamp {
        self.clock.now()
    }

    pub fn graph(&self) -> &AssetGraph {
        &self.graph
    }

    /// The graph, instance and IO managers, shared: for what outlives a borrow of the engine
    /// (a notifier that names datasets by where their objects are).
    pub fn shared(&self) -> (Arc<AssetGraph>, Arc<Instance>, Arc<IoManagers>) {
        (
            Arc::clone(&self.graph),
            Arc::clone(&self.instance),
            Arc::clone(&self.io),
        )
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    pub(crate) fn shared_instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    pub(crate) fn pool_lease(&self) -> std::time::Duration {
        self.pool_lease
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

    /// [`select`](Self::select) after the sources were observed, with the status judged under
    /// `config` (the run's).
    fn select_observed(&self, text: &str, config: &RunConfig) -> Result<(Selection, FixedBitSet)> {
        let selection = Selection::parse(text)?;
        let set = self.resolve(&selection, config)?;
        Ok((selection, set))
    }

    /// The assets `selection` names, reading the instance's status (judged under `config`)
    /// only when the selection needs it (`status:stale`, `changed:code`, …).
    pub fn resolve(&self, selection: &Selection, config: &RunConfig) -> Result<FixedBitSet> {
        let status = self.status_under(selection, config)?;
        Ok(selection.resolve(&self.graph, &status)?)
    }

    /// The status snapshot `selection` needs, judged under `config` (none read if it needs
    /// none).
    fn status_under(&self, selection: &Selection, config: &RunConfig) -> Result<StatusSnapshot> {
        if selection.needs_status() {
            StatusSnapshot::load(&self.graph, &self.instance, config, self.clock.now())
        } else {
            Ok(StatusSnapshot::unavailable())
        }
    }

    /// The status snapshot a selection needs (nothing is read when it needs none).
    pub fn status_for(&self, selection: &Selection) -> Result<StatusSnapshot> {
        if selection.needs_status() {
            self.observe_sources(&self.config)?;
        }
        self.status_under(selection, &self.config)
    }

    /// Runs `read` (status, runs, lineage, any read of the instance) on tokio's blocking pool:
    /// an async caller (an HTTP handler) never blocks the runtime's workers on SQLite, and
    /// concurrent reads go through the instance's pool of read connections side by side.
    pub async fn read<T, F>(&self, read: F) -> Result<T>
    where
        F: FnOnce(&Engine) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || read(&engine))
            .await
            .map_err(|e| Error::Internal(format!("a read of the instance stopped: {e}")))?
    }

    /// Every asset's status as the instance has it now, judged under the engine's config
    /// (observing external sources first).
    pub fn status(&self) -> Result<StatusSnapshot> {
        self.observe_sources(&self.config)?;
        StatusSnapshot::load(&self.graph, &self.instance, &self.config, self.clock.now())
    }

    /// The versions of every asset partition, and their staleness under the engine's config,
    /// as the instance has them now (observing external sources first).
    pub fn staleness(&self) -> Result<(VersionState, Staleness)> {
        self.observe_sources(&self.config)?;
        self.staleness_recorded()
    }

    /// [`staleness`](Self::staleness) on the observations already recorded, running no
    /// observer: what a server answers many reads with while it observes on its own clock.
    pub fn staleness_recorded(&self) -> Result<(VersionState, Staleness)> {
        let versions = VersionState::load(&self.graph, &*self.instance, &self.config)?;
        let staleness = Staleness::compute(&self.graph, &versions);
        Ok((versions, staleness))
    }

    /// Runs the observer of every observable external asset under `config` and records an
    /// observation when the version it reports differs from the last one recorded. Observers
    /// are cheap by contract (a listing, a checksum, an ETag). An observer that fails is
    /// reported as a warning and its asset keeps its last version; the nodes whose observation
    /// failed are returned (a run never counts their readers as up to date).
    pub fn observe_sources(&self, config: &RunConfig) -> Result<Vec<NodeIx>> {
        let observable: Vec<NodeIx> = self
            .graph
            .assets()
            .filter(|(_, d)| d.is_observable())
            .map(|(n, _)| n)
            .collect();
        let mut events = Vec::new();
        let mut failed = Vec::new();
        for n in observable {
            let def = self.graph.asset(n);
            let Some(observe) = def.observe.clone() else {
                continue;
            };
            let key = &def.spec().key;
            let ctx = crate::execute::AssetContext::new(
                key.clone(),
                None,
                crate::model::event::RunId::new(),
                config.clone(),
                crate::execute::StepLogger::discard(),
            );
            let token = match block_on(observe(ctx))? {
                Ok(token) => token,
                Err(e) => {
                    tracing::warn!(
                        target: "stemma::engine",
                        "could not observe {key}, keeping its last version: {e}"
                    );
                    failed.push(n);
                    continue;
                }
            };
            let mut h = crate::hash::StableHasher::new("stemma.observation.v1");
            h.str(&token);
            let version = DataVersion::from_hex(h.finish_hex().as_str());
            let current = self.instance.latest(key, None)?;
            if current.is_none_or(|c| c.data_version != version) {
                events.push(
                    Event::new(
                        self.clock.now(),
                        EventKind::Observation {
                            data_version: version,
                            metadata: Default::default(),
                        },
                    )
                    .asset(key, None),
                );
            }
        }
        if events.is_empty() {
        } else if self.instance.is_read_only() {
            // Nothing can be recorded: say that staleness does not see the change.
            let changed: Vec<String> = events
                .iter()
                .filter_map(|e| e.asset.as_ref().map(ToString::to_string))
                .collect();
            tracing::warn!(
                target: "stemma::engine",
                "{} changed since it was last observed, but this instance cannot record that \
                 (opened read-only); staleness is judged on the last recorded observation",
                changed.join(", ")
            );
        } else {
            self.instance.append_blocking(events)?;
        }
        Ok(failed)
    }

    /// The latest materializations of the assets the selected ones read, and the previous
    /// materializations (with provenance) of the selected ones.
    fn stored_state(&self, selected: &FixedBitSet) -> Result<(StoredIndex, PreviousIndex)> {
        let mut wanted = HashSet::new();
        let mut mine = HashSet::new();
        for n in selected.ones().map(NodeIx::new) {
            mine.insert(self.graph.key(n).clone());
            for &(up, _) in self.graph.deps(n) {
                wanted.insert(self.graph.key(up).clone());
            }
        }
        let stored = if wanted.is_empty() {
            StoredIndex::new()
        } else {
            self.instance
                .latest_materializations(Some(&wanted))?
                .into_iter()
                .map(|m| ((m.asset.clone(), m.partition.clone()), m))
                .collect()
        };
        let previous = self
            .instance
            .latest_with_provenance(Some(&mine))?
            .into_iter()
            .filter_map(|(latest, provenance)| {
                let provenance = provenance?;
                Some((
                    (latest.asset.clone(), latest.partition.clone()),
                    Previous { latest, provenance },
                ))
            })
            .collect();
        Ok((stored, previous))
    }

    /// The config a request runs with: its own pairs, else the engine's.
    fn request_config(&self, request: &Materialize) -> Result<RunConfig> {
        if request.config.is_empty() {
            Ok(self.config.clone())
        } else {
            self.graph.config_spec().parse_pairs(&request.config)
        }
    }

    /// Plans a request without running it (observing sources first).
    pub fn plan(&self, request: &Materialize) -> Result<Plan> {
        let config = self.request_config(request)?;
        self.observe_sources(&config)?;
        self.plan_observed(request, &config)
    }

    /// What materializing `request` would do, step by step — run (and why), run only if an
    /// upstream step produces new data, or skip as up to date — without running anything.
    pub fn preview(&self, request: &Materialize) -> Result<Vec<StepPreview>> {
        Ok(self.preview_plan(request)?.steps)
    }

    /// [`preview`](Self::preview), with the partitioned assets the run would leave out.
    pub fn preview_plan(&self, request: &Materialize) -> Result<Preview> {
        let config = self.request_config(request)?;
        let unobserved = self.observe_sources(&config)?;
        let plan = self.plan_observed(request, &config)?;
        let mut steps = preview(&self.graph, &plan, &config, request.force, &unobserved);
        // Name the items a code change touched, where the instance knows the recorded ones.
        for s in &mut steps {
            if let crate::decision::Action::Run {
                reason:
                    crate::decision::Reason::CodeChanged {
                        recorded, items, ..
                    },
            } = &mut s.action
                && let Some(node) = self.graph.node(&s.asset)
            {
                *items = crate::staleness::changed_code_items(
                    &*self.instance,
                    self.graph.spec(node),
                    recorded.as_deref(),
                )?;
            }
        }
        Ok(Preview {
            steps,
            left_out: plan
                .left_out
                .iter()
                .map(|&n| self.graph.key(n).clone())
                .collect(),
        })
    }

    fn plan_observed(&self, request: &Materialize, config: &RunConfig) -> Result<Plan> {
        // Another process may have added or removed dynamic partitions.
        self.load_dynamic_partitions()?;
        let (selection, mut selected) = self.select_observed(&request.selection, config)?;
        // A selection that depends on the instance's state (`status:stale+`) may match nothing
        // now: that is nothing to do, not a mistake (one that names nothing stays an error).
        // Without partitions asked for, the partitioned assets it matches are left out.
        let mut left_out = Vec::new();
        if selected.is_clear() && !selection.needs_status() {
            return Err(Error::Plan(format!(
                "the selection {:?} matches no assets",
                selection.text()
            )));
        }
        if selection.needs_status() {
            if request.partitions.is_empty() {
                left_out = selected
                    .ones()
                    .map(NodeIx::new)
                    .filter(|&n| self.graph.spec(n).partitions.is_some())
                    .collect();
                for &n in &left_out {
                    selected.set(n.index(), false);
                }
            }
            if selected
                .ones()
                .all(|n| self.graph.asset(NodeIx::new(n)).is_external())
            {
                return Ok(Plan {
                    steps: IxVec::new(),
                    left_out,
                });
            }
        }
        let (stored, previous) = self.stored_state(&selected)?;
        match plan_excluding(
            &self.graph,
            &selected,
            &request.partitions,
            &stored,
            &previous,
            request.exclude.as_deref(),
        ) {
            Ok(mut p) => {
                p.left_out.extend(left_out);
                p.left_out.sort_unstable();
                Ok(p)
            }
            Err(PlanError::Other(e)) => Err(e),
            Err(PlanError::Missing(missing)) => {
                Err(self.missing_error(&selection, &request.partitions, &missing, config))
            }
        }
    }

    fn missing_error(
        &self,
        selection: &Selection,
        partitions: &[String],
        missing: &[MissingInput],
        config: &RunConfig,
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
                    crate::model::event::step_label(self.graph.key(m.node), m.partition.as_ref()),
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
        let suggestion = self.suggest_wider(selection, partitions, missing, config);
        text.push_str("\nnothing was run");
        if suggestion.is_none() {
            text.push_str("; materialize them first");
        }
        let hint =
            suggestion
                .clone()
                .map(|(selection, everything_upstream)| Hint::WidenSelection {
                    selection,
                    everything_upstream,
                });
        let error = Error::MissingUpstream {
            upstreams: missing
                .iter()
                .map(|m| {
                    crate::model::event::step_label(self.graph.key(m.node), m.partition.as_ref())
                })
                .collect(),
            suggestion: suggestion.map(|(wider, _)| wider),
            message: text,
        };
        match hint {
            Some(hint) => error.with_hint(hint),
            None => error,
        }
    }

    /// A selection that also covers the missing upstreams, if one plans cleanly, and (for an
    /// upstream-depth selection) the one that takes everything upstream.
    fn suggest_wider(
        &self,
        selection: &Selection,
        partitions: &[String],
        missing: &[MissingInput],
        config: &RunConfig,
    ) -> Option<(String, Option<String>)> {
        let status = self.status_under(selection, config).ok()?;
        let plans = |text: &str| -> bool {
            let Ok(s) = Selection::parse(text) else {
                return false;
            };
            let Ok(set) = s.resolve(&self.graph, &status) else {
                return false;
            };
            let Ok((stored, previous)) = self.stored_state(&set) else {
                return false;
            };
            plan(&self.graph, &set, partitions, &stored, &previous).is_ok()
        };
        if let Some(Some(h)) = selection.upstream_depth() {
            let deepest = self.graph.layers().len() as u32;
            for hops in h + 1..=h + deepest {
                let candidate = selection.with_upstream(Some(hops))?;
                if plans(&candidate) {
                    let all = selection.with_upstream(None)?;
                    return Some((candidate, Some(all)));
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
        plans(&candidate).then_some((candidate, None))
    }

    /// Materializes a selection: config → observe the sources → plan (failing before anything
    /// runs if it cannot) → launch the run ([`crate::execute`] records it, runs the steps and
    /// records how it ended).
    pub async fn materialize(
        &self,
        request: Materialize,
        observer: Arc<dyn RunObserver>,
    ) -> Result<RunOutcome> {
        let config = self.request_config(&request)?;
        let unobserved = self.observe_sources(&config)?;
        let plan = self.plan_observed(&request, &config)?;
        let left_out: Vec<AssetKey> = plan
            .left_out
            .iter()
            .map(|&n| self.graph.key(n).clone())
            .collect();
        if plan.steps.is_empty() {
            // Nothing selected now, or everything left out: no run is recorded.
            return Ok(RunOutcome {
                nothing_to_do: true,
                left_out,
                ..RunOutcome::empty()
            });
        }
        let code_versions = self.new_code_versions(&plan)?;
        let observer: Arc<dyn RunObserver> = if self.notifiers.is_empty() {
            observer
        } else {
            Arc::new(crate::execute::notify::Tee {
                observer,
                notifiers: Arc::clone(&self.notifiers),
            })
        };
        let launch = Launch {
            request,
            config,
            unobserved,
            plan,
            code_versions,
            observer,
        };
        let outcome = self.launcher().launch(launch).await?;
        Ok(RunOutcome {
            left_out,
            ..outcome
        })
    }

    fn launcher(&self) -> Launcher<'_> {
        Launcher {
            graph: &self.graph,
            instance: &self.instance,
            io: &self.io,
            clock: &self.clock,
            pool_lease: self.pool_lease,
            notifiers: &self.notifiers,
            live: &self.live,
        }
    }

    /// `code_version` events for the planned assets whose code version (with its items) the
    /// instance has not recorded yet: what lets staleness later name the items that changed.
    fn new_code_versions(&self, plan: &Plan) -> Result<Vec<Event>> {
        let mut nodes: Vec<NodeIx> = plan.steps.iter().map(|s| s.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let mut out = Vec::new();
        for n in nodes {
            let spec = self.graph.spec(n);
            let (Some(version), Some(items)) = (&spec.code_version, &spec.code_items) else {
                continue;
            };
            if !self.instance.has_code_version(&spec.key, version)? {
                out.push(
                    Event::new(
                        self.clock.now(),
                        EventKind::CodeVersion {
                            code_version: version.clone(),
                            items: items.as_ref().clone(),
                        },
                    )
                    .asset(&spec.key, None),
                );
            }
        }
        Ok(out)
    }

    /// Ends every run this engine has in progress as `canceled`, saying `why`, and waits (up
    /// to `within`) until that is committed: for a process about to exit at once (a second
    /// Ctrl-C), whose runs would otherwise be found dead and recorded as failures.
    pub async fn abandon_runs(&self, why: &str, within: std::time::Duration) {
        let live: Vec<crate::model::event::RunId> =
            self.live.lock().map(|l| l.clone()).unwrap_or_default();
        if live.is_empty() {
            return;
        }
        let events = live
            .iter()
            .map(|run| {
                Event::new(
                    self.clock.now(),
                    EventKind::RunEnded {
                        status: RunStatus::Canceled,
                        message: Some(why.to_owned()),
                    },
                )
                .run(run)
            })
            .collect();
        let _ = tokio::time::timeout(within, self.instance.append(events)).await;
    }

    /// Asks a running run to stop: the process running it cancels it within a quarter of a
    /// second (no new steps; running ones are canceled; nothing uncommitted becomes visible).
    pub async fn cancel_run(&self, id: &str) -> Result<crate::instance::RunRecord> {
        let record = self.instance.find_run(id)?;
        if record.status != RunStatus::Started {
            return Err(Error::Conflict(format!(
                "run {} has already ended ({})",
                record.run_id.short(),
                record.status.as_str()
            )));
        }
        self.instance
            .append(vec![
                Event::new(self.clock.now(), EventKind::RunCancelRequested).run(&record.run_id),
            ])
            .await?;
        Ok(record)
    }

    /// Runs an ended run again — after a crash (`kill -9`, a reboot), a failure or a cancel —
    /// with the same selection, partitions and config, leaving out every step it (or the runs
    /// it resumed) completed: only what has no committed result runs.
    pub async fn resume_run(
        &self,
        id: &str,
        cancel: CancellationToken,
        observer: Arc<dyn RunObserver>,
    ) -> Result<RunOutcome> {
        self.resume_run_as(id, None, cancel, observer).await
    }

    /// The ended run `id` names, if it can be resumed: not one still running, one that
    /// succeeded, or one that works for a backfill (resume that instead).
    pub fn resumable(&self, id: &str) -> Result<crate::instance::RunRecord> {
        let record = self.instance.find_run(id)?;
        match record.status {
            RunStatus::Started => {
                return Err(Error::Conflict(format!(
                    "run {} is still running (pid {}); cancel it first",
                    record.run_id.short(),
                    record.pid.map_or_else(|| "?".into(), |p| p.to_string())
                )));
            }
            RunStatus::Success => {
                return Err(Error::Conflict(format!(
                    "run {} succeeded; there is nothing to resume",
                    record.run_id.short()
                )));
            }
            _ => {}
        }
        if let Some(EventKind::RunStarted {
            backfill: Some(b), ..
        }) = self.instance.run_started(&record.run_id)?
        {
            let backfill = crate::model::event::short_id(&b).to_owned();
            let error = Error::Conflict(format!(
                "run {} works for backfill {backfill}: resume that",
                record.run_id.short(),
            ));
            return Err(error.with_hint(Hint::ResumeBackfill { backfill }));
        }
        Ok(record)
    }

    /// [`resume_run`](Self::resume_run), the new run getting the id `run_id` (a new one when
    /// `None`).
    pub async fn resume_run_as(
        &self,
        id: &str,
        run_id: Option<RunId>,
        cancel: CancellationToken,
        observer: Arc<dyn RunObserver>,
    ) -> Result<RunOutcome> {
        let record = self.resumable(id)?;
        // The steps this run and the runs it resumed completed.
        let mut exclude = crate::plan::StepFilter::new();
        let mut next = Some(record.run_id.clone());
        while let Some(run) = next.take() {
            let resumes = match self.instance.run_started(&run)? {
                Some(EventKind::RunStarted {
                    backfill: Some(b), ..
                }) => {
                    let backfill = crate::model::event::short_id(&b).to_owned();
                    let error = Error::Conflict(format!(
                        "run {} works for backfill {backfill}: resume that",
                        run.short(),
                    ));
                    return Err(error.with_hint(Hint::ResumeBackfill { backfill }));
                }
                Some(EventKind::RunStarted { resumes, .. }) => resumes,
                _ => None,
            };
            for (asset, partition) in self.instance.run_completed_steps(&run)? {
                if let Some(n) = self.graph.node_by_str(&asset) {
                    exclude.insert((n, partition));
                }
            }
            next = resumes.map(|r| crate::model::event::RunId::from_string(&r));
        }
        // Secrets were recorded as `<secret>`: they come from this engine's config (given again,
        // or from the environment), never from the record.
        let mut pairs: Vec<String> = record
            .config
            .iter()
            .filter(|(k, _)| !self.config.is_secret(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.extend(self.config.secret_pairs());
        let mut request = Materialize::new(record.selection.clone())
            .config(pairs)
            .cancel_token(cancel);
        if let Some(p) = &record.partition {
            request = request.partitions(p.split(','));
        }
        request = request.excluding(exclude).resuming(&record.run_id);
        if let Some(run_id) = run_id {
            request = request.run_id(run_id);
        }
        self.materialize(request, observer).await
    }

    /// Wipes the materializations of the selected assets: they count as never materialized.
    /// The event log keeps their history and the stored objects stay until garbage collection.
    pub async fn wipe(&self, selection: &str) -> Result<Vec<AssetKey>> {
        let (_, set) = self.select(selection)?;
        let keys: Vec<AssetKey> = set
            .ones()
            .map(|n| self.graph.key(NodeIx::new(n)).clone())
            .collect();
        let events: Vec<Event> = keys
            .iter()
            .map(|k| Event::new(self.clock.now(), EventKind::AssetWiped).asset(k, None))
            .collect();
        self.instance.append(events).await?;
        let keys_set = keys.iter().cloned().collect();
        crate::execute::publish::publish_current(&self.graph, &self.instance, &self.io, &keys_set)
            .await;
        Ok(keys)
    }
}

/// Every dynamic partitions definition in the graph (also as a dimension).
fn dynamic_definitions(graph: &AssetGraph) -> Vec<crate::model::spec::DynamicPartitions> {
    use crate::model::spec::PartitionsDefinition::{Dynamic, Multi};
    let mut out = Vec::new();
    for (_, def) in graph.assets() {
        match &def.spec().partitions {
            Some(Dynamic(d)) => out.push(d.clone()),
            Some(Multi(m)) => out.extend(m.dimensions().filter_map(|(_, p)| match p {
                Dynamic(d) => Some(d.clone()),
                _ => None,
            })),
            _ => {}
        }
    }
    out
}

/// Runs a future to completion from synchronous code, whatever runtime (if any) surrounds it:
/// on a multi-threaded tokio runtime by blocking this worker in place, otherwise on a small
/// runtime of its own on a scoped thread (a current-thread runtime cannot be blocked).
fn block_on<F>(future: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    use tokio::runtime::{Builder, Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| h.block_on(future)))
        }
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map(|rt| rt.block_on(future))
                })
                .join()
        })
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        .map_err(|e| Error::io("starting a runtime to observe sources", e)),
    }
}
