//! `#[asset]` and `#[asset_check]`: what they declare, how the code version behaves, and the
//! compile errors misuse gets.

use serde::{Deserialize, Serialize};
use stemma::prelude::*;
use stemma::spec::DepKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Doc {
    pub id: String,
    pub text: String,
}

/// Documents, read from somewhere.
///
/// Second paragraph.
#[asset(
    key_prefix = "raw",
    group = "rag",
    owners = ["team:ml", "ana@example.com"],
    tags(layer = "bronze", pii = "no"),
    kinds = ["parquet", "rust"],
    io_manager = "warehouse",
    pool = "disk",
    retry = RetryPolicy::new(3),
    partitions = PartitionsDefinition::static_keys(["eu", "us"]),
    metadata(source = "s3", version = 2)
)]
fn documents(ctx: &AssetContext) -> AssetResult<Rows<Doc>> {
    ctx.log.info("reading");
    Ok(Rows(vec![]))
}

/// Chunks.
#[asset(ins(documents = "raw/documents"), deps = [audit, "raw/other"])]
async fn chunks(ctx: &AssetContext, documents: Rows<Doc>, config: Json<u32>) -> Rows<Doc> {
    let _ = (ctx, config);
    documents
}

#[asset(name = "renamed", code_version = "v7", description = "explicit")]
fn original_name() -> Blob {
    Blob(bytes::Bytes::from_static(b"x"))
}

/// At least one chunk.
#[asset_check(asset = chunks, blocking)]
fn has_chunks(chunks: Rows<Doc>) -> bool {
    !chunks.is_empty()
}

#[asset_check(
    asset = "raw/documents",
    name = "fresh",
    description = "documents are fresh"
)]
async fn documents_are_fresh(ctx: &AssetContext) -> AssetResult<CheckResult> {
    let _ = ctx;
    Ok(CheckResult::pass())
}

#[test]
fn asset_attributes_are_declared() {
    let def = documents();
    let spec = def.spec();
    assert_eq!(spec.key.as_str(), "raw/documents");
    assert_eq!(
        spec.description.as_deref(),
        Some("Documents, read from somewhere.\n\nSecond paragraph.")
    );
    assert_eq!(spec.group, "rag");
    assert_eq!(spec.owners, ["team:ml", "ana@example.com"]);
    assert_eq!(spec.tags["layer"], "bronze");
    assert_eq!(spec.kinds.iter().collect::<Vec<_>>(), ["parquet", "rust"]);
    assert_eq!(spec.io_manager, "warehouse");
    assert_eq!(spec.pool.as_deref(), Some("disk"));
    assert_eq!(spec.retry_policy().max_retries, 3);
    assert_eq!(spec.partitions.as_ref().map(|p| p.len()), Some(2));
    assert_eq!(spec.metadata["version"].as_i64(), Some(2));
    assert!(spec.deps.is_empty());
    assert!(!def.is_external());
}

#[test]
fn parameters_are_data_deps_and_deps_are_ordering_only() {
    let def = chunks();
    let deps: Vec<(&str, DepKind)> = def
        .spec()
        .deps
        .iter()
        .map(|d| (d.key.as_str(), d.kind))
        .collect();
    assert_eq!(
        deps,
        [
            ("raw/documents", DepKind::Data),
            ("config", DepKind::Data),
            ("audit", DepKind::Order),
            ("raw/other", DepKind::Order),
        ]
    );
    let renamed = original_name();
    assert_eq!(renamed.key().as_str(), "renamed");
    assert_eq!(renamed.spec().code_version.as_deref(), Some("v7"));
    assert_eq!(renamed.spec().description.as_deref(), Some("explicit"));
}

#[test]
fn checks_are_declared() {
    let check = has_chunks();
    assert_eq!(check.spec().name, "has_chunks");
    assert_eq!(check.spec().asset.as_str(), "chunks");
    assert!(check.spec().blocking && check.spec().reads_asset);
    assert_eq!(
        check.spec().description.as_deref(),
        Some("At least one chunk.")
    );
    let fresh = documents_are_fresh();
    assert_eq!(fresh.spec().name, "fresh");
    assert_eq!(fresh.spec().asset.as_str(), "raw/documents");
    assert!(!fresh.spec().blocking && !fresh.spec().reads_asset);
}

/// Three versions of the same asset: `a` and `b` differ only in metadata, `c` in its body.
mod a {
    use stemma::prelude::*;
    /// One description.
    #[asset(group = "one", tags(t = "1"), owners = ["team:a"])]
    pub fn scores() -> Json<Vec<u32>> {
        Json(vec![1, 2, 3])
    }
}
mod b {
    use stemma::prelude::*;
    /// Another description, and more words.
    #[asset(group = "two", tags(t = "2"), kinds = ["json"])]
    pub fn scores() -> Json<Vec<u32>> {
        Json(vec![1, 2, 3])
    }
}
mod c {
    use stemma::prelude::*;
    /// One description.
    #[asset(group = "one", tags(t = "1"), owners = ["team:a"])]
    pub fn scores() -> Json<Vec<u32>> {
        Json(vec![1, 2, 4])
    }
}
mod d {
    use stemma::prelude::*;
    /// Same body, reformatted and commented.
    #[asset]
    pub fn scores() -> Json<Vec<u32>> {
        // A comment is not a token.
        Json(vec![1, 2, 3])
    }
}

#[test]
fn the_code_version_follows_the_body_not_the_metadata() {
    let version = |def: AssetDef| def.spec().code_version.clone().unwrap();
    let (va, vb, vc, vd) = (
        version(a::scores()),
        version(b::scores()),
        version(c::scores()),
        version(d::scores()),
    );
    assert_eq!(va.len(), 16);
    assert_eq!(
        va, vb,
        "a metadata-only change must not change the code version"
    );
    assert_ne!(va, vc, "a body change must change the code version");
    assert_eq!(va, vd, "formatting and comments are not code");
    assert!(
        a::scores().spec().code_from_body && a::scores().spec().code_items.is_none(),
        "without stemma-build in build.rs, the version covers the body only, and says so"
    );
}

#[test]
fn misuse_gets_compile_errors_that_say_what_to_write() {
    // `TRYBUILD=overwrite` rewrites the expected errors: under CI it would pass anything.
    assert!(
        !(std::env::var("TRYBUILD").as_deref() == Ok("overwrite")
            && std::env::var("CI").as_deref() == Ok("true")),
        "TRYBUILD=overwrite rewrites tests/ui/*.stderr; it refuses to run under CI=true"
    );
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
