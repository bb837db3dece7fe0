//! The lineage graph as the browser draws it (`GET /api/v1/layout`): positions computed by
//! [`crate::layout`], sent as columns (keys, x, y, edges) rather than one object per node, so
//! 10,000 assets travel in a few hundred kB. Two levels: every asset of a selection, or the
//! asset groups as super-nodes with their edges aggregated (what a large graph opens on), and
//! the interior of one group.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use stemma::AssetGraph;
use stemma::ids::NodeIx;
use utoipa::ToSchema;

use crate::layout::{self, Dag, Stats};

/// Above this many assets, a graph opens on its groups.
pub const GROUPS_ABOVE: usize = 1_500;

/// A laid-out graph, in columns: node `i` is `keys[i]` at (`x[i]`, `y[i]`) (its centre).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GraphLayout {
    /// What the drawing depends on; the response's ETag.
    pub fingerprint: String,
    /// `assets` or `groups`.
    pub level: &'static str,
    /// Each node's box (width, height) at zoom 1.
    pub node: [u32; 2],
    /// The drawing's size.
    pub width: u32,
    pub height: u32,
    /// Asset keys, or group names at the groups level.
    pub keys: Vec<String>,
    pub x: Vec<i32>,
    pub y: Vec<i32>,
    /// Each node's group, as an index into `groups`.
    pub group: Vec<u32>,
    pub groups: Vec<String>,
    /// How many assets each node stands for (1 for an asset).
    pub size: Vec<u32>,
    /// Edge `e` runs from node `from[e]` to node `to[e]` (a dependency to its reader)…
    pub from: Vec<u32>,
    pub to: Vec<u32>,
    /// …through the waypoints `bend_y[bend_start[e]..bend_start[e + 1]]`, one per layer it
    /// crosses, at that layer's x.
    pub bend_start: Vec<u32>,
    pub bend_y: Vec<i32>,
    /// How many asset edges each edge stands for (1 at the assets level).
    pub weight: Vec<u32>,
    pub stats: Stats,
}

impl GraphLayout {
    /// The assets `nodes` (a selection) and the edges among them, ready to draw.
    pub fn assets(graph: &AssetGraph, nodes: &[NodeIx]) -> Unlaid {
        let (groups, group_of) = group_table(graph, nodes.iter().copied());
        let at: HashMap<NodeIx, u32> = nodes
            .iter()
            .enumerate()
            .map(|(i, &n)| (n, i as u32))
            .collect();
        let mut edges = Vec::new();
        for (i, &n) in nodes.iter().enumerate() {
            for p in graph.parents(n) {
                if let Some(&j) = at.get(&p) {
                    edges.push((j, i as u32));
                }
            }
        }
        // The first order of a layer: by group, then by key.
        let mut by_name: Vec<u32> = (0..nodes.len() as u32).collect();
        by_name.sort_by(|&a, &b| {
            let (na, nb) = (nodes[a as usize], nodes[b as usize]);
            (group_of[a as usize], graph.key(na).as_str())
                .cmp(&(group_of[b as usize], graph.key(nb).as_str()))
        });
        let mut hint = vec![0u32; nodes.len()];
        for (rank, &i) in by_name.iter().enumerate() {
            hint[i as usize] = rank as u32;
        }
        let keys: Vec<String> = nodes.iter().map(|&n| graph.key(n).to_string()).collect();
        let weight = vec![1; edges.len()];
        let size = vec![1; nodes.len()];
        Unlaid {
            level: "assets",
            dag: Dag {
                n: nodes.len(),
                edges,
                hint,
            },
            keys,
            group: group_of,
            groups,
            size,
            weight,
            fingerprint: String::new(),
        }
        .fingerprinted()
    }

    /// The groups of `nodes` as super-nodes, an edge between two groups standing for every
    /// asset edge between them, ready to draw.
    pub fn groups(graph: &AssetGraph, nodes: &[NodeIx]) -> Unlaid {
        let (groups, group_of) = group_table(graph, nodes.iter().copied());
        let of: HashMap<NodeIx, u32> = nodes.iter().zip(&group_of).map(|(&n, &g)| (n, g)).collect();
        let mut size = vec![0u32; groups.len()];
        let mut weights: BTreeMap<(u32, u32), u32> = BTreeMap::new();
        for &n in nodes {
            let g = of[&n];
            size[g as usize] += 1;
            for p in graph.parents(n) {
                if let Some(&h) = of.get(&p)
                    && h != g
                {
                    *weights.entry((h, g)).or_default() += 1;
                }
            }
        }
        let (edges, weight): (Vec<(u32, u32)>, Vec<u32>) = weights.into_iter().unzip();
        let n = groups.len();
        Unlaid {
            level: "groups",
            dag: Dag {
                n,
                edges,
                hint: (0..n as u32).collect(),
            },
            keys: groups.clone(),
            group: (0..n as u32).collect(),
            groups,
            size,
            weight,
            fingerprint: String::new(),
        }
        .fingerprinted()
    }
}

/// A graph to draw, with its fingerprint: a cache can answer before anything is laid out.
pub struct Unlaid {
    level: &'static str,
    dag: Dag,
    keys: Vec<String>,
    group: Vec<u32>,
    groups: Vec<String>,
    size: Vec<u32>,
    weight: Vec<u32>,
    pub fingerprint: String,
}

impl Unlaid {
    /// Computes the fingerprint of what is set.
    fn fingerprinted(mut self) -> Unlaid {
        let names: Vec<&str> = self
            .keys
            .iter()
            .chain(&self.groups)
            .map(String::as_str)
            .chain([self.level])
            .collect();
        self.fingerprint = layout::fingerprint(&self.dag, &names);
        self
    }

    /// The graph as the layout sees it (for measuring a drawing of it).
    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    /// Node `i`'s key (or group name).
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Lays the graph out.
    pub fn draw(self) -> GraphLayout {
        let drawn = layout::layout(&self.dag);
        let round = |v: &[f32]| v.iter().map(|&x| x.round() as i32).collect::<Vec<_>>();
        GraphLayout {
            fingerprint: self.fingerprint,
            level: self.level,
            node: [layout::NODE_WIDTH as u32, layout::NODE_HEIGHT as u32],
            width: drawn.width.ceil() as u32,
            height: drawn.height.ceil() as u32,
            keys: self.keys,
            x: round(&drawn.x),
            y: round(&drawn.y),
            group: self.group,
            groups: self.groups,
            size: self.size,
            from: self.dag.edges.iter().map(|e| e.0).collect(),
            to: self.dag.edges.iter().map(|e| e.1).collect(),
            bend_start: drawn.bend_start,
            bend_y: round(&drawn.bend_y),
            weight: self.weight,
            stats: drawn.stats,
        }
    }
}

/// The distinct groups of `nodes` (sorted) and each node's index among them.
fn group_table(
    graph: &AssetGraph,
    nodes: impl Iterator<Item = NodeIx> + Clone,
) -> (Vec<String>, Vec<u32>) {
    let mut groups: Vec<String> = nodes.clone().map(|n| graph.spec(n).group.clone()).collect();
    groups.sort();
    groups.dedup();
    let index: HashMap<&str, u32> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i as u32))
        .collect();
    let group_of = nodes.map(|n| index[graph.spec(n).group.as_str()]).collect();
    (groups, group_of)
}
