//! The notes several commands print beside their results: what a selection left out, that
//! code versions cover only function bodies, that there was nothing to do.

use console::style;
use stemma::AssetGraph;

use super::printer::{Printer, plural};

/// Says (once) when code versions cover only the asset functions' own bodies: the code
/// location has no build step, so a change to a helper an asset calls is not seen.
pub(crate) fn note_body_only_versions(graph: &AssetGraph, printer: Printer) {
    let body_only = graph
        .assets()
        .filter(|(_, a)| a.spec().code_from_body)
        .count();
    if body_only == 0 || printer.json {
        return;
    }
    printer.err(
        style(format!(
            "note: the code versions of {} cover only their own function bodies, not the \
             helpers they call; add a build step to see those too (build.rs: \
             `fn main() {{ stemma_build::code_versions(); }}`, with stemma-build in \
             [build-dependencies])",
            plural(body_only, "asset")
        ))
        .dim()
        .for_stderr(),
    );
}

/// Says which partitioned assets a run left out, and how to run them.
pub(crate) fn note_left_out(left_out: &[stemma::AssetKey], printer: Printer) {
    if left_out.is_empty() {
        return;
    }
    let keys: Vec<&str> = left_out.iter().map(|k| k.as_str()).collect();
    printer.err(
        style(format!(
            "Left out {} (partitioned): choose partitions with --partition, --partition-range \
             or `assets backfill`",
            keys.join(", "),
        ))
        .dim()
        .for_stderr(),
    );
}

/// What a plan or a run says when its selection matches nothing to run now.
pub(crate) fn nothing_to_do(selection: &str, left_out: &[stemma::AssetKey]) -> String {
    if left_out.is_empty() {
        format!(
            "Nothing to do: {selection:?} matches no assets now (it depends on the instance's \
             state); nothing was run"
        )
    } else {
        format!(
            "Nothing to do without partitions: {selection:?} matches only partitioned assets now; nothing was run"
        )
    }
}
