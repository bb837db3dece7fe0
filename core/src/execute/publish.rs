//! Telling the IO managers which objects are the current value of each asset once a run (or a
//! wipe) changed them.

use std::collections::HashSet;

use crate::graph::AssetGraph;
use crate::instance::Instance;
use crate::model::io::IoManagers;
use crate::model::key::AssetKey;

/// Tells the IO managers which objects are now the current value of each of `assets`
/// (none after a wipe). What cannot be published is a warning: the instance stays the
/// truth, and the next run publishes again.
pub(crate) async fn publish_current(
    graph: &AssetGraph,
    instance: &Instance,
    io: &IoManagers,
    assets: &HashSet<AssetKey>,
) {
    let latest = match instance.latest_materializations(Some(assets)) {
        Ok(latest) => latest,
        Err(e) => {
            tracing::warn!(target: "stemma::engine", "cannot publish current objects: {e}");
            return;
        }
    };
    let mut by_asset: std::collections::BTreeMap<
        &AssetKey,
        Vec<&crate::instance::LatestMaterialization>,
    > = assets.iter().map(|k| (k, Vec::new())).collect();
    for m in &latest {
        if let Some(list) = by_asset.get_mut(&m.asset) {
            list.push(m);
        }
    }
    for (asset, mut current) in by_asset {
        let Some(node) = graph.node(asset) else {
            continue;
        };
        if graph.asset(node).is_external() {
            continue;
        }
        // Values stored as nothing (`()`) have no objects to point to.
        if !current.is_empty() && current.iter().all(|m| m.location.is_none()) {
            continue;
        }
        if let Some(def) = &graph.spec(node).partitions {
            current.sort_by_key(|m| {
                m.partition
                    .as_ref()
                    .and_then(|p| def.index_of(p.as_str()))
                    .unwrap_or(usize::MAX)
            });
        }
        let objects: Vec<crate::model::io::CurrentObject<'_>> = current
            .iter()
            .filter_map(|m| {
                Some(crate::model::io::CurrentObject {
                    partition: m.partition.as_ref(),
                    location: m.location.as_deref()?,
                    data_version: &m.data_version,
                    run_id: m.run_id.as_ref(),
                    materialized_at: m.timestamp,
                })
            })
            .collect();
        let Ok(io) = io.get(&graph.spec(node).io_manager) else {
            continue;
        };
        if let Err(e) = io.publish_current(asset, &objects).await {
            tracing::warn!(
                target: "stemma::engine",
                "cannot publish the current objects of {asset}: {e}"
            );
        }
    }
}
