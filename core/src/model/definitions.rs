//! Asset and check definitions, the builder API underneath `#[asset]`, and [`Definitions`], the
//! value a code location hands to Stemma.
//!
//! Builders never fail: a problem (an invalid key, eleven kinds) is remembered and reported,
//! together with every other problem, when the definitions are loaded into an
//! [`AssetGraph`](crate::graph::AssetGraph). One load, one complete list of what to fix.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::model::check::CheckResult;
use crate::model::config::{ConfigField, ConfigSpec};
use crate::model::context::AssetContext;
use crate::model::error::{BoxError, Error, Result};
use crate::model::key::AssetKey;
use crate::model::spec::{
    AssetDep, AssetSpec, DepKind, MetadataValue, PartitionMapping, PartitionsDefinition,
    RetryPolicy,
};
use crate::model::value::{FromValue, IntoOutput, Value};

/// An asset's function, type-erased: context and loaded inputs in, value out.
pub type ComputeFn =
    Arc<dyn Fn(AssetContext, Inputs) -> BoxFuture<'static, Result<Value, BoxError>> + Send + Sync>;

/// An external asset's observer: returns a token that changes whenever the data does (a content
/// hash, a modification time, an ETag). Stemma hashes it into the asset's data version.
pub type ObserveFn =
    Arc<dyn Fn(AssetContext) -> BoxFuture<'static, Result<String, BoxError>> + Send + Sync>;

/// A check's function, type-erased.
pub type CheckFn = Arc<
    dyn Fn(AssetContext, Inputs) -> BoxFuture<'static, Result<CheckResult, BoxError>> + Send + Sync,
>;

/// The values loaded for an asset's data dependencies, in the order the function takes them.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    entries: Vec<(AssetKey, Arc<Value>)>,
}

impl Inputs {
    pub(crate) fn new(entries: Vec<(AssetKey, Arc<Value>)>) -> Self {
        Inputs { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The raw value of the input with key (or name) `key`.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == key || k.name() == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The input with key (or name) `key`, converted to `T`.
    pub fn get<T: FromValue>(&self, key: &str) -> Result<T> {
        let value = self.value(key).ok_or_else(|| {
            let known: Vec<&str> = self.entries.iter().map(|(k, _)| k.as_str()).collect();
            Error::Value(format!(
                "no input named {key:?} (inputs: {})",
                known.join(", ")
            ))
        })?;
        T::from_value(value).map_err(|e| Error::Value(format!("input {key}: {e}")))
    }

    /// The `i`-th input converted to `T` (what `#[asset]` generates).
    pub fn at<T: FromValue>(&self, i: usize) -> Result<T> {
        let (key, value) = self
            .entries
            .get(i)
            .ok_or_else(|| Error::Internal(format!("input #{i} was not loaded")))?;
        T::from_value(value).map_err(|e| Error::Value(format!("input {key}: {e}")))
    }
}

/// A software-defined asset: its spec and, unless it is external, its function.
#[derive(Clone)]
pub struct AssetDef {
    pub(crate) spec: AssetSpec,
    pub(crate) compute: Option<ComputeFn>,
    pub(crate) observe: Option<ObserveFn>,
    pub(crate) problems: Vec<String>,
}

impl AssetDef {
    /// Starts an asset named `key` (`name` or `prefix/name`).
    pub fn builder(key: &str) -> AssetBuilder {
        let mut problems = Vec::new();
        let key = AssetKey::parse(key).unwrap_or_else(|e| {
            problems.push(e.to_string());
            AssetKey::unchecked(key)
        });
        AssetBuilder {
            spec: AssetSpec::new(key),
            prefix: Vec::new(),
            compute: None,
            observe: None,
            problems,
        }
    }

    /// Declares an external asset: known to the graph, computed elsewhere.
    pub fn external(key: &str) -> AssetBuilder {
        let mut b = Self::builder(key);
        b.spec.external = true;
        b
    }

    pub fn spec(&self) -> &AssetSpec {
        &self.spec
    }

    pub fn key(&self) -> &AssetKey {
        &self.spec.key
    }

    pub fn is_external(&self) -> bool {
        self.compute.is_none()
    }

    /// Whether Stemma can observe this external asset's version.
    pub fn is_observable(&self) -> bool {
        self.observe.is_some()
    }

    /// The same asset with another code version — an explicit bump, or a deployment's override.
    pub fn with_code_version(mut self, version: impl Into<String>) -> Self {
        self.spec.code_items = None;
        self.spec.code_from_body = false;
        self.spec.code_version = Some(version.into());
        self
    }

    /// The same asset with another closure code version and items (what the build step would
    /// compute after an edit: tests simulate one with it).
    pub fn with_code_closure(
        mut self,
        version: impl Into<String>,
        items: std::collections::BTreeMap<String, String>,
    ) -> Self {
        self.spec.code_version = Some(version.into());
        self.spec.code_items = Some(Arc::new(items));
        self.spec.code_from_body = false;
        self
    }
}

impl fmt::Debug for AssetDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssetDef")
            .field("key", &self.spec.key)
            .field("external", &self.compute.is_none())
            .finish_non_exhaustive()
    }
}

/// Builds an [`AssetDef`]; every setting has a default.
#[must_use]
pub struct AssetBuilder {
    spec: AssetSpec,
    prefix: Vec<String>,
    compute: Option<ComputeFn>,
    observe: Option<ObserveFn>,
    problems: Vec<String>,
}

impl AssetBuilder {
    fn key_or_problem(&mut self, key: &str) -> AssetKey {
        AssetKey::parse(key).unwrap_or_else(|e| {
            self.problems.push(e.to_string());
            AssetKey::unchecked(key)
        })
    }

    /// Puts `prefix` components in front of the key.
    pub fn key_prefix<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.prefix = prefix.into_iter().map(Into::into).collect();
        self
    }

    /// A data dependency: the upstream's value is loaded and passed as the next input.
    pub fn input(mut self, key: &str) -> Self {
        let key = self.key_or_problem(key);
        self.spec.deps.push(AssetDep {
            key,
            kind: DepKind::Data,
            mapping: None,
        });
        self
    }

    /// A data dependency whose partitions are read through `mapping`
    /// (`PartitionMapping::Offset(-1)`: yesterday; `PartitionMapping::Last`).
    pub fn input_mapped(mut self, key: &str, mapping: PartitionMapping) -> Self {
        let key = self.key_or_problem(key);
        self.spec.deps.push(AssetDep {
            key,
            kind: DepKind::Data,
            mapping: Some(mapping),
        });
        self
    }

    /// An ordering-only dependency: materialized first, never loaded.
    pub fn dep(mut self, key: &str) -> Self {
        let key = self.key_or_problem(key);
        self.spec.deps.push(AssetDep {
            key,
            kind: DepKind::Order,
            mapping: None,
        });
        self
    }

    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.spec.group = group.into();
        self
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.spec.description = (!text.trim().is_empty()).then_some(text);
        self
    }

    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.spec.owners.push(owner.into());
        self
    }

    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.tags.insert(key.into(), value.into());
        self
    }

    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.spec.kinds.insert(kind.into());
        self
    }

    /// The code version from the build step's analysis: a hash of the local items the asset's
    /// function reaches, with each item's own hash (what `#[asset]` writes with `stemma-build`).
    pub fn code_closure<I, L, H>(mut self, version: impl Into<String>, items: I) -> Self
    where
        I: IntoIterator<Item = (L, H)>,
        L: Into<String>,
        H: Into<String>,
    {
        self.spec.code_version = Some(version.into());
        self.spec.code_items = Some(Arc::new(
            items
                .into_iter()
                .map(|(l, h)| (l.into(), h.into()))
                .collect(),
        ));
        self.spec.code_from_body = false;
        self
    }

    /// The code version hashed from the asset function's own tokens (what `#[asset]` writes
    /// without the build step): helpers it calls are not covered.
    pub fn code_version_of_body(mut self, version: impl Into<String>) -> Self {
        self.spec.code_version = Some(version.into());
        self.spec.code_items = None;
        self.spec.code_from_body = true;
        self
    }

    pub fn code_version(mut self, version: impl Into<String>) -> Self {
        self.spec.code_items = None;
        self.spec.code_from_body = false;
        self.spec.code_version = Some(version.into());
        self
    }

    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<MetadataValue>) -> Self {
        self.spec.metadata.insert(key.into(), value.into());
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.spec.retry = Some(policy);
        self
    }

    /// Cancels an attempt running longer than `timeout`; it is recorded as timed out and
    /// retried if the retry policy allows.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.spec.timeout = Some(timeout);
        self
    }

    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.spec.pool = Some(pool.into());
        self
    }

    pub fn io_manager(mut self, key: impl Into<String>) -> Self {
        self.spec.io_manager = key.into();
        self
    }

    /// Partitions the asset: static keys, or time windows (`TimeWindows::daily("2026-01-01")`).
    pub fn partitions(mut self, partitions: impl Into<PartitionsDefinition>) -> Self {
        self.spec.partitions = Some(partitions.into());
        self
    }

    /// Declares the Arrow schema the asset's table must have (columns by name, types, and NOT
    /// NULL for non-nullable fields). A table that differs fails the step before it is stored.
    pub fn schema(mut self, schema: arrow::datatypes::SchemaRef) -> Self {
        self.spec.schema = Some(schema);
        self
    }

    /// Marks the asset volatile: always recomputed (its output depends on the world), though an
    /// unchanged output still spares its downstream.
    pub fn volatile(mut self, volatile: bool) -> Self {
        self.spec.volatile = volatile;
        self
    }

    /// How to observe an external asset's current version without computing it: a cheap
    /// function returning a token that changes whenever the data does.
    pub fn observe_blocking<F, E>(mut self, f: F) -> Self
    where
        F: Fn(&AssetContext) -> Result<String, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        let f = Arc::new(f);
        self.observe = Some(Arc::new(move |ctx| {
            let f = Arc::clone(&f);
            run_blocking(move || f(&ctx).map_err(Into::into)).boxed()
        }));
        self
    }

    /// An async function body; it runs on the async runtime, so it must not block.
    pub fn compute<F, Fut, R>(mut self, f: F) -> Self
    where
        F: Fn(AssetContext, Inputs) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoOutput<Value> + 'static,
    {
        self.compute = Some(Arc::new(move |ctx, inputs| {
            f(ctx, inputs).map(IntoOutput::into_output).boxed()
        }));
        self
    }

    /// A blocking function body; it runs on a blocking thread, so CPU-heavy work never stalls
    /// the runtime.
    pub fn compute_blocking<F, R>(mut self, f: F) -> Self
    where
        F: Fn(&AssetContext, Inputs) -> R + Send + Sync + 'static,
        R: IntoOutput<Value>,
    {
        let f = Arc::new(f);
        self.compute = Some(Arc::new(move |ctx, inputs| {
            let f = Arc::clone(&f);
            run_blocking(move || f(&ctx, inputs).into_output()).boxed()
        }));
        self
    }

    pub fn build(mut self) -> AssetDef {
        match self.spec.key.with_prefix(&self.prefix) {
            Ok(key) => self.spec.key = key,
            Err(e) => self.problems.push(e.to_string()),
        }
        if self.spec.external && self.compute.is_some() {
            self.problems
                .push("is declared external but has a function; drop one of the two".into());
        }
        if self.observe.is_some() && !self.spec.external {
            self.problems.push(
                "has an observer but is not external; only external assets are observed".into(),
            );
        }
        if self.spec.volatile && self.spec.external {
            self.problems.push(
                "is external and volatile; volatile applies to assets Stemma computes".into(),
            );
        }
        if !self.spec.external && self.compute.is_none() {
            self.problems.push(
                "has no function: give it one with .compute(...) or declare it with AssetDef::external"
                    .into(),
            );
        }
        AssetDef {
            spec: self.spec,
            compute: self.compute,
            observe: self.observe,
            problems: self.problems,
        }
    }
}

/// Runs a blocking body on tokio's blocking pool inside the caller's tracing span, so that its
/// `tracing` events are captured for the step.
pub(crate) async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BoxError> + Send + 'static,
) -> Result<T, BoxError> {
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(f)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(panic_message(e.into_panic()).into()),
        Err(e) => Err(format!("the task was cancelled: {e}").into()),
    }
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!("panicked: {text}")
}

/// The declaration of one check on one asset.
#[derive(Clone, Debug)]
pub struct CheckSpec {
    pub name: String,
    pub asset: AssetKey,
    pub description: Option<String>,
    /// A failed `Error`-severity evaluation stops the asset's downstream in the same run.
    pub blocking: bool,
    /// Whether the function takes the asset's value.
    pub reads_asset: bool,
    /// Derived by `#[asset_check]` (or a SQL asset's header) from what the check runs; a check
    /// whose version changed is evaluated again even when its asset is up to date.
    pub code_version: Option<String>,
}

/// An asset check: its spec and its function.
#[derive(Clone)]
pub struct CheckDef {
    pub(crate) spec: CheckSpec,
    pub(crate) run: CheckFn,
    pub(crate) problems: Vec<String>,
}

impl CheckDef {
    /// Starts a check called `name` on the asset `asset`.
    pub fn builder(name: &str, asset: &str) -> CheckBuilder {
        let mut problems = Vec::new();
        if !crate::model::spec::is_name(name) {
            problems.push(format!(
                "check name {name:?} is not valid (letters, digits and _)"
            ));
        }
        let asset = AssetKey::parse(asset).unwrap_or_else(|e| {
            problems.push(e.to_string());
            AssetKey::unchecked(asset)
        });
        CheckBuilder {
            spec: CheckSpec {
                name: name.to_owned(),
                asset,
                description: None,
                blocking: false,
                reads_asset: false,
                code_version: None,
            },
            run: None,
            problems,
        }
    }

    pub fn spec(&self) -> &CheckSpec {
        &self.spec
    }
}

impl fmt::Debug for CheckDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckDef")
            .field("name", &self.spec.name)
            .field("asset", &self.spec.asset)
            .finish_non_exhaustive()
    }
}

/// Builds a [`CheckDef`].
#[must_use]
pub struct CheckBuilder {
    spec: CheckSpec,
    run: Option<CheckFn>,
    problems: Vec<String>,
}

impl CheckBuilder {
    pub fn description(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        self.spec.description = (!text.trim().is_empty()).then_some(text);
        self
    }

    pub fn blocking(mut self, blocking: bool) -> Self {
        self.spec.blocking = blocking;
        self
    }

    /// The version of what the check runs: a new one evaluates it again on the asset's current
    /// value, even when the asset itself is up to date.
    pub fn code_version(mut self, version: impl Into<String>) -> Self {
        self.spec.code_version = Some(version.into());
        self
    }

    /// Puts a prefix in front of the checked asset's key (as `#[asset]`'s `key_prefix`).
    pub fn asset_prefix<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let prefix: Vec<String> = prefix.into_iter().map(Into::into).collect();
        match self.spec.asset.with_prefix(&prefix) {
            Ok(k) => self.spec.asset = k,
            Err(e) => self.problems.push(e.to_string()),
        }
        self
    }

    /// An async check body. With `reads_asset`, `inputs` holds the asset's value.
    pub fn run<F, Fut, R>(mut self, reads_asset: bool, f: F) -> Self
    where
        F: Fn(AssetContext, Inputs) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoOutput<CheckResult> + 'static,
    {
        self.spec.reads_asset = reads_asset;
        self.run = Some(Arc::new(move |ctx, inputs| {
            f(ctx, inputs).map(IntoOutput::into_output).boxed()
        }));
        self
    }

    /// A blocking check body, run on a blocking thread.
    pub fn run_blocking<F, R>(mut self, reads_asset: bool, f: F) -> Self
    where
        F: Fn(&AssetContext, Inputs) -> R + Send + Sync + 'static,
        R: IntoOutput<CheckResult>,
    {
        self.spec.reads_asset = reads_asset;
        let f = Arc::new(f);
        self.run = Some(Arc::new(move |ctx, inputs| {
            let f = Arc::clone(&f);
            run_blocking(move || f(&ctx, inputs).into_output()).boxed()
        }));
        self
    }

    pub fn build(mut self) -> CheckDef {
        let run = self.run.take().unwrap_or_else(|| {
            self.problems
                .push("has no function: give it one with .run(...)".into());
            Arc::new(|_, _| async { Ok(CheckResult::pass()) }.boxed())
        });
        CheckDef {
            spec: self.spec,
            run,
            problems: self.problems,
        }
    }
}

/// Everything a code location defines: assets, checks and the config fields they read.
#[derive(Clone, Debug, Default)]
pub struct Definitions {
    pub(crate) assets: Vec<AssetDef>,
    pub(crate) checks: Vec<CheckDef>,
    pub(crate) config: ConfigSpec,
    pub(crate) schedules: Vec<crate::model::schedule::ScheduleDef>,
    pub(crate) problems: Vec<String>,
    pub(crate) default_retry: Option<crate::model::spec::RetryPolicy>,
    pub(crate) io_managers: crate::model::io::IoManagers,
    pub(crate) io_schemes: crate::model::io::IoSchemes,
}

impl Definitions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an IO manager of the code location's own under `key`: assets declared with
    /// `io_manager = "key"` are stored and loaded through it (`stemma_io::conformance` is the
    /// suite it should pass). `default` stays `stemma.toml`'s `[storage]`.
    pub fn io_manager(
        mut self,
        key: impl Into<String>,
        manager: impl crate::model::io::IoManager + 'static,
    ) -> Self {
        let key = key.into();
        if key == crate::model::spec::DEFAULT_IO_MANAGER {
            self.problems.push(
                "io_manager \"default\": the default IO manager is stemma.toml's [storage]; \
                 register yours under a key of its own"
                    .into(),
            );
        } else if self.io_managers.contains(&key) {
            self.problems
                .push(format!("io_manager {key:?} is registered twice"));
        } else {
            self.io_managers =
                std::mem::take(&mut self.io_managers).register(key, std::sync::Arc::new(manager));
        }
        self
    }

    /// Lets `stemma.toml` configure IO managers of URL scheme `scheme`:
    /// `[io_managers.vectors] url = "vecdb://host/db"` calls `factory` with the URL and the
    /// entry's `options`.
    pub fn io_manager_scheme(
        mut self,
        scheme: impl Into<String>,
        factory: impl Fn(
            &str,
            &std::collections::BTreeMap<String, String>,
        ) -> Result<std::sync::Arc<dyn crate::model::io::IoManager>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.io_schemes
            .register(scheme, std::sync::Arc::new(factory));
        self
    }

    pub fn asset(mut self, asset: AssetDef) -> Self {
        self.assets.push(asset);
        self
    }

    pub fn assets(mut self, assets: impl IntoIterator<Item = AssetDef>) -> Self {
        self.assets.extend(assets);
        self
    }

    pub fn check(mut self, check: CheckDef) -> Self {
        self.checks.push(check);
        self
    }

    pub fn checks(mut self, checks: impl IntoIterator<Item = CheckDef>) -> Self {
        self.checks.extend(checks);
        self
    }

    /// Adds a schedule (`assets daemon` fires it).
    pub fn schedule(mut self, schedule: crate::model::schedule::ScheduleDef) -> Self {
        self.schedules.push(schedule);
        self
    }

    /// The retry policy of every asset that declares none (the project default).
    pub fn default_retry(mut self, policy: crate::model::spec::RetryPolicy) -> Self {
        self.problems.extend(
            policy
                .problems()
                .into_iter()
                .map(|p| format!("default retry: {p}")),
        );
        self.default_retry = Some(policy);
        self
    }

    /// Declares a config field that `--config name=value` may set.
    pub fn config(mut self, field: ConfigField) -> Self {
        if let Err(e) = self.config.add(field) {
            self.problems.push(e.to_string());
        }
        self
    }

    /// Adds everything `other` defines.
    pub fn merge(mut self, other: Definitions) -> Self {
        self.assets.extend(other.assets);
        self.checks.extend(other.checks);
        self.schedules.extend(other.schedules);
        for field in other.config.fields().cloned().collect::<Vec<_>>() {
            self = self.config(field);
        }
        self.problems.extend(other.problems);
        self
    }

    /// Every asset passed through `f`: a deployment's overrides (code versions, IO managers)
    /// or a test's edits.
    pub fn map_assets(mut self, f: impl FnMut(AssetDef) -> AssetDef) -> Self {
        self.assets = self.assets.into_iter().map(f).collect();
        self
    }

    /// Records a problem found while building the definitions (a SQL file that does not parse,
    /// a config file that is wrong); it is reported with every other problem when the
    /// definitions are loaded.
    pub fn problem(mut self, problem: impl Into<String>) -> Self {
        self.problems.push(problem.into());
        self
    }

    pub fn asset_defs(&self) -> &[AssetDef] {
        &self.assets
    }

    pub fn check_defs(&self) -> &[CheckDef] {
        &self.checks
    }
}
