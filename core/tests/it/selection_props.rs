//! Properties of the selection language over random graphs, and a fuzz test of the parser.

use fixedbitset::FixedBitSet;
use proptest::prelude::*;
use stemma::status::StatusSnapshot;
use stemma::{AssetDef, AssetGraph, Definitions, Selection};

/// A random DAG: node `i` may depend on any earlier node; some nodes are external.
#[derive(Debug, Clone)]
struct Spec {
    deps: Vec<Vec<usize>>,
    external: Vec<bool>,
    group: Vec<u8>,
    tag: Vec<u8>,
    kind: Vec<u8>,
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (2usize..24).prop_flat_map(|n| {
        (
            proptest::collection::vec(
                proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
                n,
            ),
            proptest::collection::vec(prop::bool::weighted(0.2), n),
            proptest::collection::vec(0u8..3, n),
            proptest::collection::vec(0u8..3, n),
            proptest::collection::vec(0u8..3, n),
        )
            .prop_map(move |(raw, external, group, tag, kind)| Spec {
                deps: raw
                    .into_iter()
                    .enumerate()
                    .map(|(i, ds)| {
                        let mut ds: Vec<usize> = if i == 0 {
                            vec![]
                        } else {
                            ds.iter().map(|d| d.index(i)).collect()
                        };
                        ds.sort_unstable();
                        ds.dedup();
                        ds
                    })
                    .collect(),
                external,
                group,
                tag,
                kind,
            })
    })
}

fn build(spec: &Spec) -> AssetGraph {
    let defs = Definitions::new().assets((0..spec.deps.len()).map(|i| {
        let name = format!("a{i}");
        let mut b = if spec.external[i] {
            AssetDef::external(&name)
        } else {
            AssetDef::builder(&name)
        };
        for d in &spec.deps[i] {
            b = b.input(&format!("a{d}"));
        }
        b = b
            .group(format!("g{}", spec.group[i]))
            .tag(format!("t{}", spec.tag[i]), "")
            .kind(format!("k{}", spec.kind[i]));
        if !spec.external[i] {
            b = b.compute_blocking(|_, _| Ok::<_, std::io::Error>(()));
        }
        b.build()
    }));
    AssetGraph::new(defs).expect("a valid random graph")
}

/// A random expression over names that exist in `spec`.
fn arb_expr(spec: &Spec) -> impl Strategy<Value = String> + use<> {
    let n = spec.deps.len();
    let groups: Vec<String> = present(&spec.group, "group:g");
    let tags: Vec<String> = present(&spec.tag, "tag:t");
    let kinds: Vec<String> = present(&spec.kind, "kind:k");
    let leaf = prop_oneof![
        (0..n).prop_map(|i| format!("key:a{i}")),
        Just("key:\"*\"".to_owned()),
        Just("key:a1*".to_owned()),
        Just("is:external".to_owned()),
        Just("is:materializable".to_owned()),
        prop::sample::select(groups),
        prop::sample::select(tags),
        prop::sample::select(kinds),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|x| format!("not ({x})")),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) and ({y})")),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) or ({y})")),
            inner.clone().prop_map(|x| format!("+({x})")),
            inner.clone().prop_map(|x| format!("({x})+")),
            inner.clone().prop_map(|x| format!("2+({x})+1")),
            inner.clone().prop_map(|x| format!("roots({x})")),
            inner.clone().prop_map(|x| format!("sinks({x})")),
            inner.prop_map(|x| format!("@({x})")),
        ]
    })
}

fn present(values: &[u8], prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(|x| format!("{prefix}{x}")).collect();
    v.sort();
    v.dedup();
    v
}

fn resolve(g: &AssetGraph, s: &str) -> FixedBitSet {
    Selection::parse(s)
        .and_then(|sel| sel.resolve(g, &StatusSnapshot::unavailable()))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn case() -> impl Strategy<Value = (Spec, String, String)> {
    arb_spec().prop_flat_map(|spec| {
        let x = arb_expr(&spec);
        let y = arb_expr(&spec);
        (Just(spec), x, y)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn laws_of_the_language((spec, x, y) in case()) {
        let g = build(&spec);
        let mat = g.materializable();
        let ext = g.external();
        let sx = resolve(&g, &x);

        // X or not X: every materializable asset, plus what X held.
        let mut expected = mat.clone();
        expected.union_with(&sx);
        prop_assert_eq!(resolve(&g, &format!("({x}) or not ({x})")), expected);
        // not X never holds an external asset, and is disjoint from X.
        let not_x = resolve(&g, &format!("not ({x})"));
        prop_assert!(not_x.is_disjoint(ext));
        prop_assert!(not_x.is_disjoint(&sx));
        // not not X is X's materializable part.
        let mut mat_x = sx.clone();
        mat_x.intersect_with(mat);
        prop_assert_eq!(resolve(&g, &format!("not (not ({x}))")), mat_x);
        // +X+ is +X or X+.
        prop_assert_eq!(
            resolve(&g, &format!("+({x})+")),
            resolve(&g, &format!("+({x}) or ({x})+"))
        );
        // Idempotence.
        prop_assert_eq!(resolve(&g, &format!("({x}) and ({x})")), sx.clone());
        prop_assert_eq!(resolve(&g, &format!("({x}) or ({x})")), sx.clone());
        // De Morgan, within the materializable universe.
        prop_assert_eq!(
            resolve(&g, &format!("not (({x}) or ({y}))")),
            resolve(&g, &format!("not ({x}) and not ({y})"))
        );
        // Upward traversal keeps materializable assets only; downward keeps X.
        let up = resolve(&g, &format!("+({x})"));
        let down = resolve(&g, &format!("({x})+"));
        prop_assert!(up.is_subset(mat));
        prop_assert!(sx.is_subset(&down));
        // roots and sinks stay inside X, and are empty only when X is.
        let roots = resolve(&g, &format!("roots({x})"));
        let sinks = resolve(&g, &format!("sinks({x})"));
        prop_assert!(roots.is_subset(&sx) && sinks.is_subset(&sx));
        prop_assert_eq!(roots.is_clear(), sx.is_clear());
        prop_assert_eq!(sinks.is_clear(), sx.is_clear());
        // @X holds X and everything below it.
        let at = resolve(&g, &format!("@({x})"));
        prop_assert!(down.is_subset(&at));
        // key:"*" is every asset, external ones included.
        prop_assert_eq!(resolve(&g, "key:\"*\"").count_ones(..), g.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn the_parser_never_panics(s in r#"[a-z0-9_/:+*()" =,<>@!&|.\-]{0,40}"#) {
        fuzz_once(&s);
    }

    #[test]
    fn the_parser_never_panics_on_any_text(s in any::<String>()) {
        fuzz_once(&s);
    }
}

fn fuzz_once(s: &str) {
    let spec = Spec {
        deps: vec![vec![], vec![0], vec![1], vec![0, 2]],
        external: vec![true, false, false, false],
        group: vec![0, 0, 1, 2],
        tag: vec![0, 1, 1, 2],
        kind: vec![0, 0, 1, 1],
    };
    let g = build(&spec);
    match Selection::parse(s) {
        Ok(sel) => {
            if let Err(e) = sel.resolve(&g, &StatusSnapshot::unavailable()) {
                let _ = e.to_string();
            }
            let _ = sel.with_upstream(Some(2));
        }
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("invalid selection"), "{text}");
        }
    }
}
