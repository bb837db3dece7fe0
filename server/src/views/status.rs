//! Each asset's state, why, its latest materializations and checks (`assets status --json`).

use std::collections::HashMap;

use serde::Serialize;
use stemma::ids::NodeIx;
use stemma::instance::{CheckStatus, LatestMaterialization};
use stemma::staleness::{Staleness, VersionState, brief, cause, explain};
use stemma::status::StatusSnapshot;
use stemma::{Engine, Result};

/// One asset's status row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssetStatusRow {
    pub key: String,
    pub external: bool,
    /// failed > stale > partial > missing > fresh ([`stemma::status`]'s one-word rule).
    pub state: &'static str,
    /// Why it is stale (or partly so), in a few words each.
    pub causes: Vec<String>,
    pub partitions: Option<PartitionCounts>,
    /// The latest materialization of the asset (of each partition, for a partitioned one).
    pub materializations: Vec<MaterializationView>,
    /// The latest evaluation of each of its checks (per partition).
    pub checks: Vec<CheckView>,
    /// How many checks the asset defines.
    #[serde(skip)]
    pub defined_checks: usize,
    /// How many partitions it has, if partitioned.
    #[serde(skip)]
    pub partition_count: Option<usize>,
}

/// How many of an asset's partitions are fresh, stale and missing (1 or 0 for an
/// unpartitioned one).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct PartitionCounts {
    pub fresh: usize,
    pub stale: usize,
    pub missing: usize,
}

impl From<&stemma::state::AssetStatus> for PartitionCounts {
    fn from(s: &stemma::state::AssetStatus) -> Self {
        PartitionCounts {
            fresh: s.partitions.fresh,
            stale: s.partitions.stale,
            missing: s.partitions.missing,
        }
    }
}

/// One materialization as status shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MaterializationView {
    #[schema(value_type = Option<String>)]
    pub partition: Option<stemma::spec::PartitionKey>,
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(value_type = Option<String>)]
    pub run_id: Option<stemma::RunId>,
    #[schema(value_type = String)]
    pub data_version: stemma::DataVersion,
    pub code_version: Option<String>,
    /// table, json, bytes or nothing.
    #[schema(value_type = String)]
    pub kind: stemma::ValueKind,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    /// Where its object is (a URL of its IO manager), if it has one.
    pub object: Option<String>,
    /// The instant in microseconds (what the table formats).
    #[serde(skip)]
    pub micros: i64,
}

/// One check's latest evaluation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckView {
    pub check: String,
    #[schema(value_type = Option<String>)]
    pub partition: Option<stemma::spec::PartitionKey>,
    pub passed: bool,
    /// warn or error.
    #[schema(value_type = String)]
    pub severity: stemma::Severity,
    pub description: Option<String>,
    #[schema(value_type = Option<String>)]
    pub run_id: Option<stemma::RunId>,
}

/// Every asset judged once: the snapshot a selection resolves against, and the versions and
/// staleness the rows' causes are explained from.
pub struct Judged {
    pub snapshot: StatusSnapshot,
    versions: VersionState,
    staleness: Staleness,
}

impl Judged {
    /// Every asset judged now, observing external sources first.
    pub fn now(engine: &Engine) -> Result<Judged> {
        let (versions, staleness) = engine.staleness()?;
        Judged::judge(engine, versions, staleness)
    }

    /// Every asset judged on the observations already recorded (no observer runs): what the
    /// HTTP API answers with, while `assets serve` observes on its own clock.
    pub fn recorded(engine: &Engine) -> Result<Judged> {
        let (versions, staleness) = engine.staleness_recorded()?;
        Judged::judge(engine, versions, staleness)
    }

    /// The versions every asset was judged on.
    pub fn versions(&self) -> &VersionState {
        &self.versions
    }

    /// Every asset's staleness, per partition.
    pub fn staleness(&self) -> &Staleness {
        &self.staleness
    }

    fn judge(engine: &Engine, versions: VersionState, staleness: Staleness) -> Result<Judged> {
        let failures = engine.instance().latest_failures()?;
        let snapshot = StatusSnapshot::from_state(
            engine.graph(),
            &versions,
            &staleness,
            &failures,
            engine.now(),
        );
        Ok(Judged {
            snapshot,
            versions,
            staleness,
        })
    }
}

/// Which latest materializations a status read takes.
enum Read {
    All,
    /// The newest few of one asset's.
    Newest(NodeIx, usize),
}

/// What the rows of one status read share.
struct Facts<'e> {
    engine: &'e Engine,
    judged: &'e Judged,
}

impl AssetStatusRow {
    /// The rows of `nodes` (in that order), as `judged` found them.
    pub fn gather(
        engine: &Engine,
        nodes: &[NodeIx],
        judged: &Judged,
    ) -> Result<Vec<AssetStatusRow>> {
        Self::gather_from(engine, nodes, judged, Read::All)
    }

    /// One asset's row with its `newest` latest materializations (newest first), however
    /// many partitions it has.
    pub fn gather_newest(
        engine: &Engine,
        node: NodeIx,
        judged: &Judged,
        newest: usize,
    ) -> Result<AssetStatusRow> {
        let mut rows = Self::gather_from(engine, &[node], judged, Read::Newest(node, newest))?;
        rows.pop().ok_or_else(|| {
            stemma::Error::Internal(format!("no status row for {}", engine.graph().key(node)))
        })
    }

    fn gather_from(
        engine: &Engine,
        nodes: &[NodeIx],
        judged: &Judged,
        read: Read,
    ) -> Result<Vec<AssetStatusRow>> {
        let facts = Facts { engine, judged };
        let mut latest: HashMap<String, Vec<LatestMaterialization>> = HashMap::new();
        let rows = match read {
            Read::All => engine.instance().latest_materializations(None)?,
            Read::Newest(node, n) => engine
                .instance()
                .newest_materializations(engine.graph().key(node), n)?,
        };
        for m in rows {
            latest.entry(m.asset.to_string()).or_default().push(m);
        }
        let mut checks: HashMap<String, Vec<CheckStatus>> = HashMap::new();
        for c in engine.instance().latest_checks()? {
            checks.entry(c.asset.to_string()).or_default().push(c);
        }
        Ok(nodes
            .iter()
            .map(|&n| {
                let key = engine.graph().key(n).to_string();
                let mats = latest.remove(&key).unwrap_or_default();
                let cs = checks.remove(&key).unwrap_or_default();
                facts.row(n, key, &mats, &cs)
            })
            .collect())
    }
}

impl Facts<'_> {
    fn row(
        &self,
        n: NodeIx,
        key: String,
        mats: &[LatestMaterialization],
        checks: &[CheckStatus],
    ) -> AssetStatusRow {
        let graph = self.engine.graph();
        let status = self.judged.snapshot.get(n).ok();
        AssetStatusRow {
            external: graph.asset(n).is_external(),
            state: status.map_or("unknown", |s| s.state().as_str()),
            causes: self.causes(n),
            partitions: status.map(PartitionCounts::from),
            materializations: mats.iter().map(|m| self.materialization(m)).collect(),
            checks: checks.iter().map(check_view).collect(),
            defined_checks: graph.checks_of(n).count(),
            partition_count: graph.spec(n).partitions.as_ref().map(|p| p.len()),
            key,
        }
    }

    /// Why an asset is stale, in a few words: the causes of an unpartitioned one; for a
    /// partitioned one, how many partitions are stale (and why) or missing.
    fn causes(&self, n: NodeIx) -> Vec<String> {
        let graph = self.engine.graph();
        let Ok(s) = self.judged.snapshot.get(n) else {
            return Vec::new();
        };
        let p = s.partitions;
        let Some(def) = &graph.spec(n).partitions else {
            if !s.stale {
                return Vec::new();
            }
            return explain(
                graph,
                &self.judged.versions,
                &self.judged.staleness,
                self.engine.instance(),
                self.engine.config(),
                n,
                0,
            )
            .map(|e| brief(&e.causes))
            .unwrap_or_else(|e| vec![format!("cannot tell: {e}")]);
        };
        let mut out = Vec::new();
        if p.stale > 0 {
            out.push(format!(
                "{} of {} partitions stale: {}",
                p.stale,
                def.len(),
                cause::describe(p.causes).join(", ")
            ));
        }
        if p.missing > 0 && p.missing < def.len() {
            out.push(format!("{} of {} partitions missing", p.missing, def.len()));
        }
        out
    }

    fn materialization(&self, m: &LatestMaterialization) -> MaterializationView {
        let io = self.engine.io();
        MaterializationView {
            partition: m.partition.clone(),
            timestamp: chrono::DateTime::from_timestamp_micros(m.timestamp),
            run_id: m.run_id.clone(),
            data_version: m.data_version.clone(),
            code_version: m.code_version.clone(),
            kind: m.value_kind,
            rows: m.rows,
            bytes: m.bytes,
            object: m
                .location
                .as_deref()
                .and_then(|l| io.get(&m.io_manager).ok().map(|io| io.object_url(l))),
            micros: m.timestamp,
        }
    }
}

fn check_view(c: &CheckStatus) -> CheckView {
    CheckView {
        check: c.check.clone(),
        partition: c.partition.clone(),
        passed: c.passed,
        severity: c.severity,
        description: c.description.clone(),
        run_id: c.run_id.clone(),
    }
}
