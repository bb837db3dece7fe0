//! Keeps the partition status of time-window assets current in the background, so that the
//! API answers `GET /api/v1/assets/{key}/partitions` from ranges already folded: at start, and
//! after every materialization or failure the event feed carries, each such asset's status is
//! brought up to date on the read threads. A request then folds only what landed in the last
//! moment (a million hourly partitions: a few hundred microseconds), never the whole history
//! (a definition that moves positions costs its first fold here, not in a request: `/readyz`
//! answers 503 until the first fold is done).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use stemma::spec::PartitionsDefinition;
use stemma::{AssetKey, Engine};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::AppState;

/// How long changes are gathered before they are folded: a burst of a backfill's runs folds
/// once, and what a request must fold itself stays small.
const GATHER: Duration = Duration::from_millis(250);

/// Starts keeping the status of every time-window asset current, folding at most once per
/// [`GATHER`].
pub fn spawn_keeper(state: &AppState, shutdown: CancellationToken) {
    let kept: Vec<(AssetKey, PartitionsDefinition)> = {
        let graph = state.engine.graph();
        graph
            .nodes()
            .filter_map(|node| {
                let def = graph.spec(node).partitions.as_ref()?;
                def.fingerprint()?;
                Some((graph.key(node).clone(), def.clone()))
            })
            .collect()
    };
    if kept.is_empty() {
        state.partitions_kept.store(true, Ordering::Release);
        return;
    }
    let index: HashMap<String, usize> = kept
        .iter()
        .enumerate()
        .map(|(i, (key, _))| (key.to_string(), i))
        .collect();
    let state = state.clone();
    let mut events = state.feed.subscribe();
    tokio::spawn(async move {
        let mut due: BTreeSet<usize> = (0..kept.len()).collect();
        loop {
            if !due.is_empty() {
                let assets: Vec<(AssetKey, PartitionsDefinition)> =
                    due.iter().map(|&i| kept[i].clone()).collect();
                due.clear();
                let start = Instant::now();
                let folded = state.read(move |engine| fold(engine, &assets)).await;
                match folded {
                    Ok(n) => tracing::debug!(
                        "partition status of {n} assets brought up to date in {:?}",
                        start.elapsed()
                    ),
                    Err(e) => tracing::warn!("keeping partition status current: {e}"),
                }
                if !state.partitions_kept.swap(true, Ordering::AcqRel) {
                    tracing::info!(
                        "partition status of {} time-window assets folded in {:?}",
                        kept.len(),
                        start.elapsed()
                    );
                }
            }
            let pause = tokio::time::sleep(GATHER);
            tokio::pin!(pause);
            // Collect what changed until the pause is over (and at least one change).
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = &mut pause, if !due.is_empty() => break,
                    event = events.recv() => match event {
                        Ok(fed) => {
                            if matches!(fed.kind, "materialization" | "step_failed")
                                && let Some(asset) = &fed.asset
                                && let Some(&i) = index.get(asset)
                            {
                                due.insert(i);
                            }
                        }
                        // Fell behind the feed: everything may have changed.
                        Err(RecvError::Lagged(_)) => due.extend(0..kept.len()),
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        }
    });
}

/// Brings each asset's kept status up to date (the instance stores what it folds); how many.
fn fold(engine: &Engine, assets: &[(AssetKey, PartitionsDefinition)]) -> stemma::Result<usize> {
    for (key, def) in assets {
        engine.instance().partition_status(key, def)?;
    }
    Ok(assets.len())
}
