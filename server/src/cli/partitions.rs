//! `assets partitions KEY`: which partitions of an asset are materialized, failed or missing,
//! as ranges of keys and a bar.

use std::collections::HashSet;
use std::process::ExitCode;

use serde_json::json;
use stemma::{Engine, Error};

use super::CliResult;
use super::printer::Printer;

/// The state of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Missing,
    Materialized,
    Failed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Missing => "missing",
            State::Materialized => "materialized",
            State::Failed => "failed",
        }
    }
}

/// Bar width in characters.
const BAR: usize = 60;
/// Ranges printed per state before "… and N more".
const SHOWN_RANGES: usize = 8;

pub(crate) fn partitions(engine: &Engine, key: &str, printer: Printer) -> CliResult {
    let graph = engine.graph();
    let node = graph.lookup(key)?;
    let asset = graph.key(node).clone();
    let Some(def) = graph.spec(node).partitions.as_ref() else {
        return Err(Error::Plan(format!("{asset} is not partitioned")).into());
    };
    let n = def.len();
    let mut states = vec![State::Missing; n];
    let mut materialized_at = vec![i64::MIN; n];
    let only: HashSet<_> = [asset.clone()].into();
    for m in engine.instance().latest_materializations(Some(&only))? {
        if let Some(i) = m.partition.as_ref().and_then(|p| def.index_of(p.as_str())) {
            states[i] = State::Materialized;
            materialized_at[i] = m.timestamp;
        }
    }
    for f in engine.instance().latest_failures()? {
        if f.asset != asset {
            continue;
        }
        if let Some(i) = f.partition.as_ref().and_then(|p| def.index_of(p.as_str()))
            && f.timestamp > materialized_at[i]
        {
            states[i] = State::Failed;
        }
    }

    // Runs of one state: (state, first, last).
    let mut runs: Vec<(State, usize, usize)> = Vec::new();
    for (i, &s) in states.iter().enumerate() {
        match runs.last_mut() {
            Some((state, _, last)) if *state == s && *last + 1 == i => *last = i,
            _ => runs.push((s, i, i)),
        }
    }
    let key_of = |i: usize| def.key_at(i).map(|k| k.to_string()).unwrap_or_default();
    let label = |&(_, a, b): &(State, usize, usize)| {
        if a == b {
            key_of(a)
        } else {
            format!("{}…{}", key_of(a), key_of(b))
        }
    };
    let order = [State::Materialized, State::Failed, State::Missing];
    if printer.json {
        let mut out = json!({ "asset": asset.as_str(), "definition": def.describe(), "total": n });
        for state in order {
            let mine: Vec<_> = runs.iter().filter(|r| r.0 == state).collect();
            out[state.name()] = json!({
                "count": mine.iter().map(|r| r.2 - r.1 + 1).sum::<usize>(),
                "ranges": mine.iter().map(|r| json!([key_of(r.1), key_of(r.2)])).collect::<Vec<_>>(),
            });
        }
        printer.json_pretty(&out);
        return Ok(ExitCode::SUCCESS);
    }
    printer.out(format!("{asset}  {}", def.describe()));
    printer.out(format!("  [{}]", bar(&states)));
    for state in order {
        let mine: Vec<_> = runs.iter().filter(|r| r.0 == state).collect();
        let count: usize = mine.iter().map(|r| r.2 - r.1 + 1).sum();
        let mut shown: Vec<String> = mine.iter().take(SHOWN_RANGES).map(|r| label(r)).collect();
        if mine.len() > SHOWN_RANGES {
            shown.push(format!("… and {} more ranges", mine.len() - SHOWN_RANGES));
        }
        printer.out(format!(
            "  {:<13}{count:>9}  {}",
            state.name(),
            shown.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// One character per slice of the partitions: `█` all materialized, `▒` some, `·` none,
/// `x` any failed.
fn bar(states: &[State]) -> String {
    let n = states.len();
    let width = n.clamp(1, BAR);
    (0..width)
        .map(|c| {
            let slice = &states[c * n / width..((c + 1) * n / width).max(c * n / width + 1).min(n)];
            if slice.contains(&State::Failed) {
                'x'
            } else if slice.iter().all(|s| *s == State::Materialized) {
                '█'
            } else if slice.contains(&State::Materialized) {
                '▒'
            } else {
                '·'
            }
        })
        .collect()
}
