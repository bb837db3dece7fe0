//! The demo code location with edits, for the end-to-end tests: every asset named in
//! `STEMMA_FIXTURE_EDIT` (comma-separated) gets a new code version, as if an engineer had edited
//! its body — its output does not change, which is what lets the tests see early cutoff.

use std::process::ExitCode;

fn main() -> ExitCode {
    let edits = std::env::var("STEMMA_FIXTURE_EDIT").unwrap_or_default();
    let edited: Vec<&str> = edits.split(',').filter(|s| !s.is_empty()).collect();
    let definitions = assets::definitions().map_assets(|asset| {
        if !edited.contains(&asset.key().as_str()) {
            return asset;
        }
        let version = format!(
            "{}-edited",
            asset.spec().code_version.as_deref().unwrap_or("none")
        );
        asset.with_code_version(version)
    });
    stemma_server::cli::run(definitions)
}
