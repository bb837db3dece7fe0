//! The lineage graph's layout, computed on the server: a layered (Sugiyama) drawing with
//! budgets we control, so 10,000 assets lay out in a fraction of a second and the browser
//! only draws.
//!
//! ```text
//! Dag ─► acyclic order (a cycle, as between groups, is broken by its weakest node)
//!     ─► rank.rs:  longest path from the sources, then each node pulled next to its readers
//!     ─► long edges become chains of dummy nodes (within a budget; the rest are drawn direct)
//!     ─► order.rs: barycenter sweeps down and up, keeping the order with fewest crossings,
//!                  for as many sweeps as the graph's size allows
//!     ─► place.rs: x by layer; y pulled toward each node's neighbours, in order, never
//!                  overlapping (isotonic regression per layer)
//!     ─► Layout: positions, and the waypoints of long edges
//! ```
//!
//! Everything is deterministic: the same graph gives the same drawing, which is what lets the
//! server cache it by a fingerprint of the structure and the browser cache it by ETag.

mod order;
mod place;
pub mod quality;
mod rank;

/// A node's box on the drawing, in pixels at zoom 1.
pub const NODE_WIDTH: f32 = 240.0;
pub const NODE_HEIGHT: f32 = 64.0;
/// Between layers (columns) and between nodes of a layer.
pub const LAYER_GAP: f32 = 96.0;
pub const NODE_GAP: f32 = 24.0;
/// Long edges are routed through dummy nodes while there are at most this many per real node.
pub const DUMMY_BUDGET_PER_NODE: usize = 4;

/// What to lay out: `n` nodes and edges from a node to one that reads it, with a hint for
/// the first order of each layer (nodes with near hints start near each other: group, then key).
#[derive(Debug, Clone)]
pub struct Dag {
    pub n: usize,
    pub edges: Vec<(u32, u32)>,
    pub hint: Vec<u32>,
}

/// Where everything goes. Coordinates are node centres; layers run left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub layer: Vec<u32>,
    /// Waypoints of edge `e` (in `Dag::edges` order): `bend_y[bend_start[e]..bend_start[e + 1]]`,
    /// one per layer crossed, at that layer's x.
    pub bend_start: Vec<u32>,
    pub bend_y: Vec<f32>,
    pub width: f32,
    pub height: f32,
    pub stats: Stats,
}

/// What the layout did, for reports and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub layers: usize,
    pub dummies: usize,
    /// Long edges drawn without waypoints (past the dummy budget).
    pub direct_long_edges: usize,
    /// Ordering sweeps run (down and up count one each).
    pub sweeps: usize,
    /// Crossings between adjacent layers, counting edges through their dummies.
    pub crossings: u64,
}

/// The layered graph the phases share: real nodes `0..n`, then dummies.
pub(crate) struct Layered {
    pub n: usize,
    /// Layer of every node, real and dummy.
    pub layer: Vec<u32>,
    /// Nodes of each layer, in their current order.
    pub layers: Vec<Vec<u32>>,
    /// Position of every node within its layer.
    pub pos: Vec<u32>,
    /// Neighbours in the layer before (`up`) and after (`down`), as CSR.
    pub up: Csr,
    pub down: Csr,
}

/// Compressed adjacency: the neighbours of `v` are `targets[start[v]..start[v + 1]]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Csr {
    start: Vec<u32>,
    targets: Vec<u32>,
}

impl Csr {
    /// From `(from, to)` pairs over `n` nodes (the order of each node's list is the pairs').
    pub fn new(n: usize, pairs: impl Iterator<Item = (u32, u32)> + Clone) -> Csr {
        let mut start = vec![0u32; n + 1];
        for (a, _) in pairs.clone() {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut targets = vec![0u32; start[n] as usize];
        for (a, b) in pairs {
            targets[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
        }
        Csr { start, targets }
    }

    pub fn of(&self, v: u32) -> &[u32] {
        &self.targets[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }
}

/// Lays `dag` out.
pub fn layout(dag: &Dag) -> Layout {
    let n = dag.n;
    if n == 0 {
        return Layout {
            x: Vec::new(),
            y: Vec::new(),
            layer: Vec::new(),
            bend_start: vec![0; dag.edges.len() + 1],
            bend_y: Vec::new(),
            width: 0.0,
            height: 0.0,
            stats: Stats::default(),
        };
    }
    // Edges pointing against an acyclic order (only in a graph with cycles) are laid out
    // reversed; self-loops are left out of the layout.
    let topo = rank::acyclic_order(n, &dag.edges);
    let mut at = vec![0u32; n];
    for (i, &v) in topo.iter().enumerate() {
        at[v as usize] = i as u32;
    }
    let forward: Vec<(u32, u32)> = dag
        .edges
        .iter()
        .map(|&(a, b)| {
            if at[a as usize] <= at[b as usize] {
                (a, b)
            } else {
                (b, a)
            }
        })
        .collect();
    let layer = rank::layers(n, &forward, &topo);

    let (mut layered, chains, direct) = rank::with_dummies(n, &forward, layer);
    let sweeps = order::order(&mut layered, &dag.hint);
    let crossings = quality::crossings(&layered);
    let y = place::place(&layered);

    let layer_x = |l: u32| l as f32 * (NODE_WIDTH + LAYER_GAP) + NODE_WIDTH / 2.0;
    let mut bend_start = Vec::with_capacity(dag.edges.len() + 1);
    let mut bend_y = Vec::new();
    for (e, &(a, b)) in dag.edges.iter().enumerate() {
        bend_start.push(bend_y.len() as u32);
        let chain = &chains[e];
        // Waypoints run from the edge's source to its target, whichever way it was laid out.
        if forward[e] == (a, b) {
            bend_y.extend(chain.iter().map(|&d| y[d as usize]));
        } else {
            bend_y.extend(chain.iter().rev().map(|&d| y[d as usize]));
        }
    }
    bend_start.push(bend_y.len() as u32);

    let layers = layered.layers.len();
    let height = y
        .iter()
        .take(n)
        .fold(0.0f32, |m, &v| m.max(v + NODE_HEIGHT / 2.0));
    Layout {
        x: (0..n).map(|v| layer_x(layered.layer[v])).collect(),
        y: y[..n].to_vec(),
        layer: layered.layer[..n].to_vec(),
        bend_start,
        bend_y,
        width: layers as f32 * (NODE_WIDTH + LAYER_GAP) - LAYER_GAP,
        height,
        stats: Stats {
            layers,
            dummies: layered.layer.len() - n,
            direct_long_edges: direct,
            sweeps,
            crossings,
        },
    }
}

/// A digest of what the drawing depends on (nodes, their hints, edges): equal fingerprints,
/// equal layouts.
pub fn fingerprint(dag: &Dag, names: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"stemma-layout v1");
    h.update(&(dag.n as u64).to_le_bytes());
    for name in names {
        h.update(name.as_bytes());
        h.update(&[0]);
    }
    for &hint in &dag.hint {
        h.update(&hint.to_le_bytes());
    }
    for &(a, b) in &dag.edges {
        h.update(&a.to_le_bytes());
        h.update(&b.to_le_bytes());
    }
    h.finalize().to_hex()[..32].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(n: usize, edges: &[(u32, u32)]) -> Dag {
        Dag {
            n,
            edges: edges.to_vec(),
            hint: (0..n as u32).collect(),
        }
    }

    #[test]
    fn a_chain_runs_left_to_right_on_one_line() {
        let l = layout(&dag(3, &[(0, 1), (1, 2)]));
        assert_eq!(l.layer, [0, 1, 2]);
        assert!(l.x[0] < l.x[1] && l.x[1] < l.x[2]);
        assert_eq!(l.y[0], l.y[1]);
        assert_eq!(l.y[1], l.y[2]);
        assert_eq!(l.stats.crossings, 0);
    }

    #[test]
    fn nodes_of_a_layer_never_overlap() {
        // One source read by ten.
        let edges: Vec<(u32, u32)> = (1..11).map(|i| (0, i)).collect();
        let l = layout(&dag(11, &edges));
        let mut ys: Vec<f32> = l.y[1..].to_vec();
        ys.sort_by(f32::total_cmp);
        for w in ys.windows(2) {
            assert!(w[1] - w[0] >= NODE_HEIGHT + NODE_GAP - 0.01, "{ys:?}");
        }
        // The source sits level with the middle of its readers.
        let mid = (ys[0] + ys[9]) / 2.0;
        assert!((l.y[0] - mid).abs() < 1.0, "{} vs {mid}", l.y[0]);
    }

    #[test]
    fn a_long_edge_bends_through_the_layers_it_crosses() {
        // 0 → 1 → 2 → 3 and 0 → 3: the long edge crosses layers 1 and 2.
        let l = layout(&dag(4, &[(0, 1), (1, 2), (2, 3), (0, 3)]));
        assert_eq!(l.layer, [0, 1, 2, 3]);
        let e = 3;
        let bends = l.bend_start[e + 1] - l.bend_start[e];
        assert_eq!(bends, 2);
        assert_eq!(l.stats.dummies, 2);
        // Sources are pulled next to their readers: a root read only at layer 3 sits at 2.
        let l = layout(&dag(5, &[(0, 1), (1, 2), (2, 3), (4, 3)]));
        assert_eq!(l.layer[4], 2);
    }

    #[test]
    fn crossings_are_undone_by_the_sweeps() {
        // Two pairs wired across: 0→3, 1→2 with hints that start them crossed.
        let mut d = dag(4, &[(0, 3), (1, 2)]);
        d.hint = vec![0, 1, 2, 3];
        let l = layout(&d);
        assert_eq!(l.stats.crossings, 0);
        assert!((l.y[0] < l.y[1]) == (l.y[3] < l.y[2]));
    }

    #[test]
    fn a_cycle_between_groups_still_lays_out() {
        let l = layout(&dag(3, &[(0, 1), (1, 2), (2, 0), (1, 1)]));
        assert_eq!(l.x.len(), 3);
        let mut layers = l.layer.clone();
        layers.sort();
        layers.dedup();
        assert_eq!(layers.len(), 3, "{:?}", l.layer);
    }

    #[test]
    fn the_same_graph_gives_the_same_drawing() {
        let edges: Vec<(u32, u32)> = (0..200u32)
            .flat_map(|i| [(i, i + 7), (i, i + 13)])
            .filter(|&(_, b)| b < 220)
            .collect();
        let a = layout(&dag(220, &edges));
        let b = layout(&dag(220, &edges));
        assert_eq!(a, b);
        assert_eq!(
            fingerprint(&dag(220, &edges), &[]),
            fingerprint(&dag(220, &edges), &[])
        );
        assert_ne!(
            fingerprint(&dag(220, &edges), &[]),
            fingerprint(&dag(220, &edges[1..]), &[])
        );
    }
}
