//! Resolving a `--select` for commands that may run without an open engine.

use std::path::Path;
use std::sync::Arc;

use stemma::AssetGraph;
use stemma::ids::NodeIx;
use stemma::selection::Selection;
use stemma::status::StatusSnapshot;

use super::Failure;

/// The assets a selection names, in topological order; every asset without one. `status`
/// is called only when the selection needs the instance (`status:`, `changed:`, ...).
pub(crate) fn selected_nodes(
    graph: &AssetGraph,
    select: Option<&str>,
    status: impl FnOnce() -> stemma::Result<StatusSnapshot>,
) -> Result<Vec<NodeIx>, Failure> {
    let Some(text) = select else {
        return Ok(graph.topo_order().to_vec());
    };
    let selection = Selection::parse(text).map_err(stemma::Error::from)?;
    let snapshot = if selection.needs_status() {
        status()?
    } else {
        StatusSnapshot::unavailable()
    };
    let set = selection
        .resolve(graph, &snapshot)
        .map_err(stemma::Error::from)?;
    Ok(graph
        .topo_order()
        .iter()
        .copied()
        .filter(|&n| set.contains(n.index()))
        .collect())
}

/// The status of a code location's assets when no engine is open: opens the instance (and
/// observes the sources, as `status` does).
pub(crate) fn status_from_home(
    graph: &Arc<AssetGraph>,
    home: &Path,
    config: &[String],
) -> stemma::Result<StatusSnapshot> {
    crate::open_engine_for(
        Arc::clone(graph),
        home,
        &crate::ProjectConfig::default(),
        None,
        stemma::instance::Access::Read,
    )?
    .with_config(config)?
    .status()
}
