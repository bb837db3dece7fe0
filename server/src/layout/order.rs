//! The order of each layer: a first order from the hints, then barycenter sweeps down and up,
//! keeping the order with the fewest crossings. The number of sweeps is a budget on the
//! graph's size, never a clock, so the drawing is the same on every machine.

use super::{Csr, Layered, quality};

/// Work allowed for ordering, in node-and-edge visits (a sweep visits each once).
const WORK: usize = 6_000_000;
const MIN_SWEEPS: usize = 2;
const MAX_SWEEPS: usize = 24;
/// Sweeps without fewer crossings before stopping early.
const PATIENCE: usize = 4;

/// Orders every layer in place; returns the sweeps run.
pub(super) fn order(g: &mut Layered, hint: &[u32]) -> usize {
    let total = g.layer.len();
    // A dummy starts next to its edge's source: it takes the hint of the real node at the head
    // of its chain.
    let key: Vec<u32> = (0..total)
        .map(|v| {
            if v < g.n {
                hint.get(v).copied().unwrap_or(v as u32)
            } else {
                let mut u = v as u32;
                while u as usize >= g.n {
                    u = g.up.of(u)[0];
                }
                hint.get(u as usize).copied().unwrap_or(u)
            }
        })
        .collect();
    // The first order: every layer by hint, then each layer after the first by its parents'
    // positions (ties keep the hint's order).
    for l in 0..g.layers.len() {
        g.layers[l].sort_by_key(|&v| (key[v as usize], v));
        renumber(g, l);
    }
    for l in 1..g.layers.len() {
        sort_layer(g, l, Side::Up);
    }

    let edges: usize = (0..total as u32).map(|v| g.down.of(v).len()).sum();
    let budget = (WORK / (total + edges).max(1)).clamp(MIN_SWEEPS, MAX_SWEEPS);
    let mut best = quality::crossings(g);
    let mut best_layers = g.layers.clone();
    let mut sweeps = 0;
    let mut stale = 0;
    while sweeps < budget && best > 0 && stale < PATIENCE {
        if sweeps % 2 == 0 {
            for l in (0..g.layers.len().saturating_sub(1)).rev() {
                sort_layer(g, l, Side::Down);
            }
        } else {
            for l in 1..g.layers.len() {
                sort_layer(g, l, Side::Up);
            }
        }
        sweeps += 1;
        let now = quality::crossings(g);
        if now < best {
            best = now;
            best_layers.clone_from(&g.layers);
            stale = 0;
        } else {
            stale += 1;
        }
    }
    g.layers = best_layers;
    for l in 0..g.layers.len() {
        renumber(g, l);
    }
    sweeps
}

#[derive(Clone, Copy)]
enum Side {
    /// By neighbours in the layer before.
    Up,
    /// By neighbours in the layer after.
    Down,
}

/// Sorts layer `l` by the mean position of each node's neighbours on `side`; a node without
/// any keeps its place, and ties keep the current order.
fn sort_layer(g: &mut Layered, l: usize, side: Side) {
    let adjacency: &Csr = match side {
        Side::Up => &g.up,
        Side::Down => &g.down,
    };
    let mut scored: Vec<(f64, u32, u32)> = g.layers[l]
        .iter()
        .map(|&v| {
            let near = adjacency.of(v);
            let here = g.pos[v as usize];
            let bary = if near.is_empty() {
                here as f64
            } else {
                near.iter().map(|&u| g.pos[u as usize] as f64).sum::<f64>() / near.len() as f64
            };
            (bary, here, v)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (i, &(_, _, v)) in scored.iter().enumerate() {
        g.layers[l][i] = v;
    }
    renumber(g, l);
}

fn renumber(g: &mut Layered, l: usize) {
    for (i, &v) in g.layers[l].iter().enumerate() {
        g.pos[v as usize] = i as u32;
    }
}
