//! The demo code location with edits, for the end-to-end tests, as if an engineer had edited
//! code and rebuilt (its outputs do not change, which is what lets the tests see early cutoff):
//!
//! * `STEMMA_FIXTURE_EDIT=a,b` — the named assets get a new code version (an explicit bump);
//! * `STEMMA_FIXTURE_EDIT_ITEM=fn embed` — the item of that name changes in the closure of
//!   every asset that reaches it, and those assets get the code version the build step would
//!   compute, so that staleness can name the item;
//! * `STEMMA_FIXTURE_VENDOR=1` — adds `vendor_feed`, an external asset nothing observes (another
//!   system reports its versions over HTTP), and `vendor_summary`, which reads it.

use std::process::ExitCode;

fn main() -> ExitCode {
    let edits = std::env::var("STEMMA_FIXTURE_EDIT").unwrap_or_default();
    let edited: Vec<&str> = edits.split(',').filter(|s| !s.is_empty()).collect();
    let item = std::env::var("STEMMA_FIXTURE_EDIT_ITEM").unwrap_or_default();
    let definitions = assets::definitions().map_assets(|asset| {
        if edited.contains(&asset.key().as_str()) {
            let version = format!(
                "{}-edited",
                asset.spec().code_version.as_deref().unwrap_or("none")
            );
            return asset.with_code_version(version);
        }
        let Some(items) = asset.spec().code_items.clone() else {
            return asset;
        };
        if item.is_empty() || !items.keys().any(|l| l.starts_with(&format!("{item} ("))) {
            return asset;
        }
        let mut items = items.as_ref().clone();
        for (label, hash) in items.iter_mut() {
            if label.starts_with(&format!("{item} (")) {
                hash.push_str("-edited");
            }
        }
        let version = format!(
            "{}-{}",
            asset.spec().code_version.as_deref().unwrap_or("none"),
            item.replace(' ', "-")
        );
        asset.with_code_closure(version, items)
    });
    let definitions = if std::env::var_os("STEMMA_FIXTURE_VENDOR").is_some() {
        definitions.assets([
            stemma::AssetDef::external("vendor_feed").build(),
            stemma::AssetDef::builder("vendor_summary")
                .dep("vendor_feed")
                .code_version("1")
                .compute_blocking(|_, _| Ok::<_, stemma::Error>(stemma::Json(1)))
                .build(),
        ])
    } else {
        definitions
    };
    stemma_server::cli::run(definitions)
}
