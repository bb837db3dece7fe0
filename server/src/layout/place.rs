//! Vertical positions: each layer stacked in its order, then pulled toward its neighbours in
//! the layers on either side, alternately, without ever changing the order or letting two
//! nodes overlap (per layer, the least-squares fit to the wanted positions under minimum
//! separations: an isotonic regression, solved exactly by pooling adjacent violators).

use super::{Csr, Layered, NODE_GAP, NODE_HEIGHT};

/// A dummy node's height and its gap to a neighbour: edges bundle closely.
const DUMMY_HEIGHT: f32 = 4.0;
const DUMMY_GAP: f32 = 8.0;
/// Down-and-up passes pulling layers toward their neighbours.
const PASSES: usize = 6;

/// The y (centre) of every node, real and dummy; the top of the drawing is 0.
pub(super) fn place(g: &Layered) -> Vec<f32> {
    let height = |v: u32| {
        if (v as usize) < g.n {
            NODE_HEIGHT
        } else {
            DUMMY_HEIGHT
        }
    };
    let separation = |a: u32, b: u32| {
        let gap = if (a as usize) < g.n && (b as usize) < g.n {
            NODE_GAP
        } else {
            DUMMY_GAP
        };
        (height(a) + height(b)) / 2.0 + gap
    };
    let mut y = vec![0.0f32; g.layer.len()];
    for nodes in &g.layers {
        let mut at = 0.0;
        for (i, &v) in nodes.iter().enumerate() {
            if i > 0 {
                at += separation(nodes[i - 1], v);
            }
            y[v as usize] = at;
        }
        // Centred on 0, so layers start level with each other.
        for &v in nodes {
            y[v as usize] -= at / 2.0;
        }
    }
    let mut wanted = Vec::new();
    let mut gaps = Vec::new();
    for _ in 0..PASSES {
        for l in 1..g.layers.len() {
            align(g, l, &g.up, &mut y, &mut wanted, &mut gaps, &separation);
        }
        for l in (0..g.layers.len().saturating_sub(1)).rev() {
            align(g, l, &g.down, &mut y, &mut wanted, &mut gaps, &separation);
        }
    }
    let top = (0..g.layer.len() as u32)
        .map(|v| y[v as usize] - height(v) / 2.0)
        .fold(f32::INFINITY, f32::min);
    if top.is_finite() {
        for v in &mut y {
            *v -= top;
        }
    }
    y
}

/// Moves layer `l`'s nodes as close as their order and separations allow to the mean y of
/// their neighbours in `adjacency` (a node without any stays where it is).
fn align(
    g: &Layered,
    l: usize,
    adjacency: &Csr,
    y: &mut [f32],
    wanted: &mut Vec<f32>,
    gaps: &mut Vec<f32>,
    separation: &impl Fn(u32, u32) -> f32,
) {
    let nodes = &g.layers[l];
    wanted.clear();
    gaps.clear();
    for (i, &v) in nodes.iter().enumerate() {
        let near = adjacency.of(v);
        wanted.push(if near.is_empty() {
            y[v as usize]
        } else {
            near.iter().map(|&u| y[u as usize]).sum::<f32>() / near.len() as f32
        });
        if i > 0 {
            gaps.push(separation(nodes[i - 1], v));
        }
    }
    let placed = fit_in_order(wanted, gaps);
    for (&v, p) in nodes.iter().zip(placed) {
        y[v as usize] = p;
    }
}

/// The positions closest (least squares) to `wanted` with `p[i + 1] - p[i] >= gaps[i]`.
fn fit_in_order(wanted: &[f32], gaps: &[f32]) -> Vec<f32> {
    // With offsets c[i] = gaps[..i].sum(), z[i] = p[i] - c[i] must not decrease: fit z to
    // wanted[i] - c[i] by pooling adjacent blocks whose means are out of order.
    let mut offsets = Vec::with_capacity(wanted.len());
    let mut c = 0.0f64;
    for i in 0..wanted.len() {
        if i > 0 {
            c += f64::from(gaps[i - 1]);
        }
        offsets.push(c);
    }
    // (sum, count) per block.
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(wanted.len());
    for (i, &w) in wanted.iter().enumerate() {
        blocks.push((f64::from(w) - offsets[i], 1));
        while blocks.len() > 1 {
            let (s2, n2) = blocks[blocks.len() - 1];
            let (s1, n1) = blocks[blocks.len() - 2];
            if s1 / n1 as f64 <= s2 / n2 as f64 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s1 + s2, n1 + n2);
        }
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (sum, count) in blocks {
        let z = sum / count as f64;
        for _ in 0..count {
            let i = out.len();
            out.push((z + offsets[i]) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fit_in_order;

    #[test]
    fn wanted_positions_are_kept_when_they_fit_and_spread_evenly_when_not() {
        assert_eq!(fit_in_order(&[0.0, 100.0], &[10.0]), [0.0, 100.0]);
        // Both want 50: they share it, 10 apart.
        assert_eq!(fit_in_order(&[50.0, 50.0], &[10.0]), [45.0, 55.0]);
        // Out of order: pooled.
        assert_eq!(
            fit_in_order(&[60.0, 40.0, 200.0], &[10.0, 10.0]),
            [45.0, 55.0, 200.0]
        );
    }
}
