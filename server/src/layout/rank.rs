//! Layers: an acyclic order, longest-path ranking, and dummy nodes for long edges.

use super::{Csr, DUMMY_BUDGET_PER_NODE, Layered};

/// The nodes in an order where every edge points forward, except in a cycle: there the node
/// with the fewest edges still to come goes first (and the edges into it point backward).
pub(super) fn acyclic_order(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
    let out = Csr::new(n, edges.iter().copied().filter(|&(a, b)| a != b));
    let mut indegree = vec![0u32; n];
    for &(a, b) in edges {
        if a != b {
            indegree[b as usize] += 1;
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut done = vec![false; n];
    let mut ready: Vec<u32> = (0..n as u32)
        .filter(|&v| indegree[v as usize] == 0)
        .collect();
    // Ready nodes are taken lowest first, so the order does not depend on discovery.
    ready.reverse();
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<u32>> =
        ready.into_iter().map(std::cmp::Reverse).collect();
    while order.len() < n {
        let v = match heap.pop() {
            Some(std::cmp::Reverse(v)) => v,
            // A cycle: force the waiting node with the fewest edges left into it.
            None => (0..n as u32)
                .filter(|&v| !done[v as usize])
                .min_by_key(|&v| (indegree[v as usize], v))
                .expect("a node is left"),
        };
        if done[v as usize] {
            continue;
        }
        done[v as usize] = true;
        order.push(v);
        for &c in out.of(v) {
            let d = &mut indegree[c as usize];
            *d = d.saturating_sub(1);
            if *d == 0 && !done[c as usize] {
                heap.push(std::cmp::Reverse(c));
            }
        }
    }
    order
}

/// Longest-path layers over forward edges, then every node with readers pulled to the layer
/// just before its nearest reader (shorter edges from sources, as an upward ranking gives).
pub(super) fn layers(n: usize, forward: &[(u32, u32)], topo: &[u32]) -> Vec<u32> {
    let parents = Csr::new(
        n,
        forward.iter().filter(|(a, b)| a != b).map(|&(a, b)| (b, a)),
    );
    let children = Csr::new(n, forward.iter().copied().filter(|(a, b)| a != b));
    let mut layer = vec![0u32; n];
    for &v in topo {
        let l = parents
            .of(v)
            .iter()
            .map(|&p| layer[p as usize] + 1)
            .max()
            .unwrap_or(0);
        layer[v as usize] = l;
    }
    for &v in topo.iter().rev() {
        if let Some(nearest) = children.of(v).iter().map(|&c| layer[c as usize]).min()
            && nearest > layer[v as usize] + 1
        {
            layer[v as usize] = nearest - 1;
        }
    }
    // Close gaps a pull can leave (a layer nobody sits on).
    let top = layer.iter().copied().max().unwrap_or(0) as usize;
    let mut used = vec![false; top + 1];
    for &l in &layer {
        used[l as usize] = true;
    }
    let mut shift = vec![0u32; top + 1];
    let mut empty = 0;
    for l in 0..=top {
        if !used[l] {
            empty += 1;
        }
        shift[l] = empty;
    }
    for l in &mut layer {
        *l -= shift[*l as usize];
    }
    layer
}

/// The layered graph with dummy nodes on long edges (shortest first, within the budget), the
/// chain of dummies of each edge (empty for a short or a direct one), and how many long edges
/// went without.
pub(super) fn with_dummies(
    n: usize,
    forward: &[(u32, u32)],
    mut layer: Vec<u32>,
) -> (Layered, Vec<Vec<u32>>, usize) {
    let spans: Vec<u32> = forward
        .iter()
        .map(|&(a, b)| layer[b as usize].saturating_sub(layer[a as usize]))
        .collect();
    let mut long: Vec<usize> = (0..forward.len()).filter(|&e| spans[e] > 1).collect();
    long.sort_by_key(|&e| (spans[e], e));
    let budget = n * DUMMY_BUDGET_PER_NODE;
    let mut chains = vec![Vec::new(); forward.len()];
    let mut direct = 0;
    let mut pairs: Vec<(u32, u32)> = (0..forward.len())
        .filter(|&e| spans[e] == 1)
        .map(|e| forward[e])
        .collect();
    let mut dummies = 0usize;
    for e in long {
        let (a, b) = forward[e];
        let s = spans[e] as usize;
        if dummies + s - 1 > budget {
            direct += 1;
            continue;
        }
        let mut prev = a;
        for k in 1..s {
            let d = (n + dummies) as u32;
            layer.push(layer[a as usize] + k as u32);
            chains[e].push(d);
            pairs.push((prev, d));
            prev = d;
            dummies += 1;
        }
        pairs.push((prev, b));
    }
    let total = layer.len();
    let layer_count = layer.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut layers = vec![Vec::new(); layer_count];
    for v in 0..total {
        layers[layer[v] as usize].push(v as u32);
    }
    let mut pos = vec![0u32; total];
    for nodes in &layers {
        for (i, &v) in nodes.iter().enumerate() {
            pos[v as usize] = i as u32;
        }
    }
    let down = Csr::new(total, pairs.iter().copied());
    let up = Csr::new(total, pairs.iter().map(|&(a, b)| (b, a)));
    (
        Layered {
            n,
            layer,
            layers,
            pos,
            up,
            down,
        },
        chains,
        direct,
    )
}
