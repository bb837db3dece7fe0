//! What the instance says about each asset, as selections (`status:stale`, `changed:code`,
//! `not_materialized_in_hours:24`) and the CLI need it.
//!
//! An asset is
//! * **materialized** when every partition (or the asset itself) has a committed value;
//! * **missing** when some partition (or the asset) has none;
//! * **stale** when it is materialized but would come out differently today: its code version
//!   changed, the set of assets it reads changed, an input it read now has another data
//!   version (or is gone), or an upstream it reads is itself stale;
//! * **fresh** when materialized and not stale;
//! * **failed** when its last attempt failed after its last materialization.
//!
//! The snapshot is computed once per command, in one pass in topological order.

use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::event::{Provenance, Timestamp};
use crate::graph::AssetGraph;
use crate::hash::DataVersion;
use crate::instance::{FailureRecord, Instance, LatestMaterialization};
use crate::key::AssetKey;
use crate::spec::{DepKind, PartitionKey};

/// The state of one asset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetStatus {
    pub materialized: bool,
    pub missing: bool,
    pub stale: bool,
    pub failed: bool,
    /// The code version differs from the one its materialization recorded.
    pub code_changed: bool,
    /// The assets it reads differ from the ones its materialization read.
    pub deps_changed: bool,
    pub last_materialized: Option<Timestamp>,
}

impl AssetStatus {
    pub fn fresh(&self) -> bool {
        self.materialized && !self.stale
    }
}

/// The status of every asset of a graph at one moment.
#[derive(Debug, Clone)]
pub struct StatusSnapshot {
    assets: Option<Vec<AssetStatus>>,
    now: Timestamp,
}

impl StatusSnapshot {
    /// No instance was consulted; selections that need one fail with a clear error.
    pub fn unavailable() -> Self {
        StatusSnapshot {
            assets: None,
            now: 0,
        }
    }

    /// A snapshot from statuses computed elsewhere, one per node (for tests and tools).
    pub fn from_statuses(assets: Vec<AssetStatus>, now: Timestamp) -> Self {
        StatusSnapshot {
            assets: Some(assets),
            now,
        }
    }

    /// Reads the instance and computes every asset's status.
    pub fn load(graph: &AssetGraph, instance: &Instance, now: Timestamp) -> Result<Self> {
        let latest = instance.latest_with_provenance()?;
        let failures = instance.latest_failures()?;
        Ok(Self::compute(graph, &latest, &failures, now))
    }

    /// Computes statuses from the instance's records (pure; tests call it directly).
    pub fn compute(
        graph: &AssetGraph,
        latest: &[(LatestMaterialization, Option<Provenance>)],
        failures: &[FailureRecord],
        now: Timestamp,
    ) -> Self {
        type PartKey = (AssetKey, Option<PartitionKey>);
        let mut by_asset: HashMap<&AssetKey, Vec<&(LatestMaterialization, Option<Provenance>)>> =
            HashMap::new();
        let mut current: HashMap<PartKey, &DataVersion> = HashMap::new();
        for row in latest {
            by_asset.entry(&row.0.asset).or_default().push(row);
            current.insert(
                (row.0.asset.clone(), row.0.partition.clone()),
                &row.0.data_version,
            );
        }
        // One record per asset partition: its last final failure.
        let mut failures_of: HashMap<&AssetKey, Vec<&FailureRecord>> = HashMap::new();
        for f in failures {
            failures_of.entry(&f.asset).or_default().push(f);
        }

        let mut out = vec![AssetStatus::default(); graph.len()];
        for &n in graph.topo_order() {
            let spec = graph.spec(n);
            let rows = by_asset.get(&spec.key).map(Vec::as_slice).unwrap_or(&[]);
            let st = &mut out[n];
            let partitions_total = spec.partitions.as_ref().map_or(1, |p| p.len());
            let present = match &spec.partitions {
                None => rows.iter().filter(|r| r.0.partition.is_none()).count(),
                Some(def) => rows
                    .iter()
                    .filter(|r| {
                        r.0.partition
                            .as_ref()
                            .is_some_and(|p| def.validate_key(p.as_str()).is_ok())
                    })
                    .count(),
            };
            st.materialized = present > 0 && present >= partitions_total;
            st.missing = present < partitions_total;
            st.last_materialized = rows.iter().map(|r| r.0.timestamp).max();
            // Failed: a partition whose last final failure is newer than its materialization.
            let mut mat_event: HashMap<Option<&PartitionKey>, i64> = HashMap::new();
            for r in rows {
                mat_event.insert(r.0.partition.as_ref(), r.0.event_id);
            }
            st.failed = failures_of.get(&spec.key).is_some_and(|fs| {
                fs.iter().any(|f| {
                    mat_event
                        .get(&f.partition.as_ref())
                        .is_none_or(|&m| f.event_id > m)
                })
            });
            if graph.asset(n).is_external() || rows.is_empty() {
                continue;
            }
            let data_deps: BTreeSet<&AssetKey> = graph
                .deps(n)
                .iter()
                .filter(|(_, k)| *k == DepKind::Data)
                .map(|&(u, _)| graph.key(u))
                .collect();
            let mut stale = false;
            for (m, provenance) in rows.iter().map(|r| (&r.0, &r.1)) {
                if m.code_version != spec.code_version {
                    st.code_changed = true;
                }
                let Some(p) = provenance else { continue };
                let read: BTreeSet<&AssetKey> = p.inputs.iter().map(|i| &i.asset).collect();
                // A materialization may read no partition of an upstream that has none yet
                // only if it never read it; compare the sets of assets.
                if read != data_deps {
                    st.deps_changed = true;
                }
                for input in &p.inputs {
                    match current.get(&(input.asset.clone(), input.partition.clone())) {
                        Some(dv) if **dv == input.data_version => {}
                        _ => stale = true,
                    }
                }
            }
            let upstream_stale = graph
                .deps(n)
                .iter()
                .any(|&(u, kind)| kind == DepKind::Data && out[u].stale);
            out[n].stale = stale || upstream_stale || out[n].code_changed || out[n].deps_changed;
        }
        StatusSnapshot {
            assets: Some(out),
            now,
        }
    }

    /// The status of node `n`; an error when no instance was consulted.
    pub fn get(&self, n: usize) -> Result<&AssetStatus> {
        self.assets
            .as_ref()
            .and_then(|a| a.get(n))
            .ok_or_else(|| Error::Internal("asset status was not loaded for this selection".into()))
    }

    pub fn is_available(&self) -> bool {
        self.assets.is_some()
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::InputVersion;
    use crate::graph::tests::{asset, graph};
    use crate::value::ValueKind;

    fn mat(
        asset: &str,
        event_id: i64,
        dv: &str,
        code: Option<&str>,
        inputs: &[(&str, &str)],
    ) -> (LatestMaterialization, Option<Provenance>) {
        (
            LatestMaterialization {
                asset: AssetKey::parse(asset).unwrap(),
                partition: None,
                event_id,
                run_id: None,
                timestamp: event_id * 1_000_000,
                data_version: DataVersion::from_hex(dv),
                code_version: code.map(str::to_owned),
                value_kind: ValueKind::Json,
                io_manager: "default".into(),
                location: None,
                rows: None,
                bytes: None,
            },
            Some(Provenance {
                code_version: code.map(str::to_owned),
                inputs: inputs
                    .iter()
                    .map(|(a, dv)| InputVersion {
                        asset: AssetKey::parse(a).unwrap(),
                        partition: None,
                        data_version: DataVersion::from_hex(dv),
                    })
                    .collect(),
                config: Default::default(),
            }),
        )
    }

    #[test]
    fn staleness_follows_inputs_and_propagates() {
        // a -> b -> c, and d alone. Test assets have no code version.
        let g = graph(vec![
            asset("a", &[]),
            asset("b", &["a"]),
            asset("c", &["b"]),
            asset("d", &[]),
        ]);
        let node = |k: &str| g.node_by_str(k).unwrap();
        // b read a@v1 but a is now v2; c read b's current version.
        let latest = vec![
            mat("a", 5, "v2", None, &[]),
            mat("b", 3, "bv", None, &[("a", "v1")]),
            mat("c", 4, "cv", None, &[("b", "bv")]),
        ];
        let s = StatusSnapshot::compute(&g, &latest, &[], 10);
        let st = |k: &str| s.get(node(k)).unwrap().clone();
        assert!(st("a").fresh());
        assert!(st("b").stale && st("b").materialized);
        assert!(st("c").stale, "stale upstream makes c stale");
        assert!(st("d").missing && !st("d").materialized && !st("d").stale);
        assert_eq!(st("c").last_materialized, Some(4_000_000));
    }

    #[test]
    fn code_and_dependency_changes_and_failures() {
        let g = graph(vec![
            crate::definitions::AssetDef::builder("a")
                .code_version("v2")
                .compute_blocking(|_, _| Ok::<_, std::io::Error>(()))
                .build(),
            asset("b", &["a"]),
            asset("x", &[]),
        ]);
        let node = |k: &str| g.node_by_str(k).unwrap();
        let latest = vec![
            mat("a", 1, "av", Some("v1"), &[]),
            mat("b", 2, "bv", None, &[]),
        ];
        let failures = vec![FailureRecord {
            asset: AssetKey::parse("b").unwrap(),
            partition: None,
            event_id: 7,
            run_id: None,
            timestamp: 7,
            error: "boom".into(),
        }];
        let s = StatusSnapshot::compute(&g, &latest, &failures, 10);
        assert!(s.get(node("a")).unwrap().code_changed);
        assert!(s.get(node("a")).unwrap().stale);
        let b = s.get(node("b")).unwrap();
        assert!(
            b.deps_changed,
            "b now reads a but its materialization read nothing"
        );
        assert!(b.failed);
        assert!(!s.get(node("x")).unwrap().failed);
        assert!(StatusSnapshot::unavailable().get(0).is_err());
    }
}
