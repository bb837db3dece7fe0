//! How good a drawing is: crossings between adjacent layers, the total length of the edges,
//! and how many nodes a change to the graph moved.

use super::{Dag, Layered, Layout, NODE_HEIGHT, NODE_WIDTH};

/// Crossings between every pair of adjacent layers in the current order (edges through their
/// dummies), counted as inversions with a Fenwick tree: O(E log V).
pub(crate) fn crossings(g: &Layered) -> u64 {
    let mut total = 0u64;
    let mut targets: Vec<u32> = Vec::new();
    let mut tree: Vec<u32> = Vec::new();
    for l in 0..g.layers.len().saturating_sub(1) {
        targets.clear();
        for &v in &g.layers[l] {
            let start = targets.len();
            targets.extend(g.down.of(v).iter().map(|&u| g.pos[u as usize]));
            targets[start..].sort_unstable();
        }
        let width = g.layers[l + 1].len();
        tree.clear();
        tree.resize(width + 1, 0);
        for (seen, &t) in targets.iter().enumerate() {
            // Earlier edges ending strictly after t cross this one.
            let mut at_most = 0u32;
            let mut i = t as usize + 1;
            while i > 0 {
                at_most += tree[i];
                i &= i - 1;
            }
            total += seen as u64 - u64::from(at_most);
            let mut i = t as usize + 1;
            while i <= width {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
    }
    total
}

/// The length of every edge as drawn: from the right side of its source through its waypoints
/// to the left side of its target.
pub fn edge_length(dag: &Dag, layout: &Layout) -> f64 {
    let mut total = 0.0f64;
    for (e, &(a, b)) in dag.edges.iter().enumerate() {
        if a == b {
            continue;
        }
        let (a, b) = (a as usize, b as usize);
        let mut from = (layout.x[a] + NODE_WIDTH / 2.0, layout.y[a]);
        let to = (layout.x[b] - NODE_WIDTH / 2.0, layout.y[b]);
        let bends =
            &layout.bend_y[layout.bend_start[e] as usize..layout.bend_start[e + 1] as usize];
        let step = (to.0 - from.0) / (bends.len() as f32 + 1.0);
        for (k, &y) in bends.iter().enumerate() {
            let at = (from.0 + step * (k as f32 + 1.0), y);
            total += f64::from(((at.0 - from.0).powi(2) + (at.1 - from.1).powi(2)).sqrt());
            from = at;
        }
        total += f64::from(((to.0 - from.0).powi(2) + (to.1 - from.1).powi(2)).sqrt());
    }
    total
}

/// Of the nodes both drawings have (`same[i]`: node `i` of `before` is node `same[i]` of
/// `after`), the share that moved by more than half a node, after taking out the shift the
/// whole drawing took (the median move).
pub fn moved_share(before: &Layout, after: &Layout, same: &[Option<usize>]) -> f64 {
    let pairs: Vec<(usize, usize)> = same
        .iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| (i, j)))
        .collect();
    if pairs.is_empty() {
        return 0.0;
    }
    let median = |mut v: Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let dx = median(
        pairs
            .iter()
            .map(|&(i, j)| after.x[j] - before.x[i])
            .collect(),
    );
    let dy = median(
        pairs
            .iter()
            .map(|&(i, j)| after.y[j] - before.y[i])
            .collect(),
    );
    let moved = pairs
        .iter()
        .filter(|&&(i, j)| {
            (after.x[j] - before.x[i] - dx).abs() > NODE_WIDTH / 2.0
                || (after.y[j] - before.y[i] - dy).abs() > NODE_HEIGHT / 2.0
        })
        .count();
    moved as f64 / pairs.len() as f64
}
