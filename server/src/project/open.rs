//! Opening an [`Engine`] for a code location under a project's config: the instance, its
//! pool limits, the IO managers, the alerts, and the clock (`STEMMA_NOW`).

use std::path::Path;
use std::sync::Arc;

use stemma::instance::Access;
use stemma::{AssetGraph, Engine, Error, Instance, Result};

use super::ProjectConfig;

/// Opens the instance in `home` with the default IO manager over `home/storage`.
pub fn open_engine(graph: impl Into<Arc<AssetGraph>>, home: &Path) -> Result<Engine> {
    open_engine_with(graph, home, &ProjectConfig::default(), None)
}

/// Opens the instance in `home` with the IO managers `project` names.
pub fn open_engine_with(
    graph: impl Into<Arc<AssetGraph>>,
    home: &Path,
    project: &ProjectConfig,
    storage_override: Option<&str>,
) -> Result<Engine> {
    open_engine_for(graph, home, project, storage_override, Access::ReadWrite)
}

/// [`open_engine_with`] for a command that needs only `access` of the instance (one that only
/// reads still works on a read-only or full instance).
pub fn open_engine_for(
    graph: impl Into<Arc<AssetGraph>>,
    home: &Path,
    project: &ProjectConfig,
    storage_override: Option<&str>,
    access: Access,
) -> Result<Engine> {
    let graph: Arc<AssetGraph> = graph.into();
    let instance = Instance::open_for(home, access)?;
    // On an instance that cannot be written, the limits stemma.toml sets are recorded by the
    // next command that can write.
    if let Some(n) = project.max_concurrent_runs {
        if n == 0 {
            return Err(Error::Config("max_concurrent_runs: at least 1".into()));
        }
        if !instance.is_read_only() && instance.pool_limit(stemma::instance::RUNS_POOL)? != Some(n)
        {
            instance.set_pool_limit(stemma::instance::RUNS_POOL, Some(n))?;
        }
    }
    for (pool, &slots) in &project.pools {
        if !instance.is_read_only() && instance.pool_limit(pool)? != Some(slots) {
            instance
                .set_pool_limit(pool, Some(slots))
                .map_err(|e| Error::Config(format!("pools.{pool}: {e}")))?;
        }
    }
    let io = project.io_managers_with(
        home,
        storage_override,
        graph.io_managers(),
        graph.io_schemes(),
    )?;
    let mut engine = Engine::new(graph, instance, io)?;
    if let Some(secs) = project.pool_lease_seconds {
        engine = engine.with_pool_lease(std::time::Duration::from_secs(secs));
    }
    if let Some(config) = &project.openlineage {
        let emitter = super::openlineage::OpenLineage::new(config.clone(), &project.dir, &engine);
        engine = engine.with_notifier(Arc::new(emitter));
    }
    if !project.alerts.is_empty() {
        let alerts = super::alerts::Alerts::new(project.alerts.clone())?;
        engine = engine.with_notifier(Arc::new(alerts));
    }
    Ok(engine)
}

/// The clock `STEMMA_NOW` asks for (an RFC 3339 instant): a command that acts at another
/// instant (replaying a night of schedules, tests). `None` when it is not set.
pub fn clock_from_env() -> Result<Option<Arc<dyn stemma::event::Clock>>> {
    let Some(now) = std::env::var_os("STEMMA_NOW") else {
        return Ok(None);
    };
    let text = now.to_string_lossy();
    let at = chrono::DateTime::parse_from_rfc3339(&text).map_err(|e| {
        Error::Config(format!(
            "STEMMA_NOW={text:?}: expected an RFC 3339 instant (2026-11-22T01:30:00Z): {e}"
        ))
    })?;
    Ok(Some(Arc::new(stemma::event::ManualClock::new(at.to_utc()))))
}
