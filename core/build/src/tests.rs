//! The analysis on a small code location written to a temporary folder: each edit changes the
//! code version of exactly the assets that reach what was edited.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

const MANIFEST: &str = r#"[package]
name = "fixture"
version = "0.1.0"
edition = "2024"

[dependencies]
rayon = "1"
serde = { version = "1", features = ["derive"] }
"#;

const LOCK: &str = r#"version = 4

[[package]]
name = "fixture"
version = "0.1.0"

[[package]]
name = "rayon"
version = "1.10.0"

[[package]]
name = "serde"
version = "1.0.200"
"#;

const LIB: &str = r#"//! A code location.
mod helpers;
mod model;

use rayon::prelude::*;
use stemma::prelude::*;

macro_rules! shout {
    ($e:expr) => { $e * 2 };
}

/// How far to go.
const LIMIT: u32 = 10;

/// Reads a helper in another module and a const.
#[asset]
fn a(ctx: &AssetContext) -> AssetResult<Json<u32>> {
    Ok(Json(helpers::double(LIMIT)))
}

/// A method on a local type; it reads `a` (a parameter, not a call).
#[asset]
fn b(a: Json<u32>) -> AssetResult<Json<u32>> {
    let m = model::Model::new();
    Ok(Json(m.score(*a)))
}

/// A local macro.
#[asset]
fn c() -> AssetResult<Json<u32>> {
    Ok(Json(shout!(3)))
}

/// Nothing local.
#[asset]
fn d() -> AssetResult<Json<u32>> {
    Ok(Json(7))
}

#[asset_check(asset = a)]
fn a_is_small(a: Json<u32>) -> bool {
    *a < LIMIT * 4
}

fn unrelated() -> u32 {
    1
}
"#;

const HELPERS: &str = r#"/// Twice `x`.
pub fn double(x: u32) -> u32 {
    x * 2
}

pub fn unused_helper() -> u32 {
    3
}
"#;

const MODEL: &str = r#"use serde::Serialize;

#[derive(Serialize)]
pub struct Model;

impl Model {
    pub fn new() -> Self {
        Model
    }

    pub fn score(&self, x: u32) -> u32 {
        x + 1
    }
}
"#;

/// A fixture crate with `edit` applied to one of its files.
fn fixture(edit: impl Fn(&str, String) -> String) -> (tempfile::TempDir, Analysis) {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, edit(rel, text.to_owned())).unwrap();
    };
    write("Cargo.toml", MANIFEST);
    write("Cargo.lock", LOCK);
    write("src/lib.rs", LIB);
    write("src/helpers.rs", HELPERS);
    write("src/model.rs", MODEL);
    let analysis = analyze(dir.path()).unwrap();
    (dir, analysis)
}

fn versions(a: &Analysis) -> BTreeMap<String, String> {
    a.roots
        .iter()
        .map(|r| (r.function.clone(), r.code_version.clone()))
        .collect()
}

/// The roots whose version differs after `edit` to `file` (`from` replaced by `to`).
fn changed_by(file: &str, from: &str, to: &str) -> (Vec<String>, Analysis) {
    let (_d, before) = fixture(|_, t| t);
    let (_e, after) = fixture(|rel, t| {
        if rel == file {
            assert!(t.contains(from), "{from:?} is not in {file}");
            t.replace(from, to)
        } else {
            t
        }
    });
    let (b, a) = (versions(&before), versions(&after));
    let changed = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    (changed, after)
}

#[test]
fn every_asset_and_check_gets_a_closure_version() {
    let (_d, a) = fixture(|_, t| t);
    let names: Vec<&str> = a.roots.iter().map(|r| r.function.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "a_is_small"]);
    let root = a.root("a").unwrap();
    assert_eq!(root.kind, "asset");
    let labels: Vec<&str> = root.items.keys().map(String::as_str).collect();
    assert_eq!(
        labels,
        [
            "const LIMIT (src/lib.rs)",
            "crate rayon",
            "fn a (src/lib.rs)",
            "fn double (src/helpers.rs)",
        ],
        "a reaches its helper, its const and the crates its module uses; not `unrelated`"
    );
    assert_eq!(root.items["crate rayon"], "1.10.0");
    // b reaches the type, its impl and methods, and the crate its module uses; not asset `a`.
    let b = a.root("b").unwrap();
    assert!(
        b.items.contains_key("fn Model::score (src/model.rs)"),
        "{:?}",
        b.items
    );
    assert!(
        b.items.contains_key("struct Model (src/model.rs)"),
        "{:?}",
        b.items
    );
    assert!(b.items.contains_key("crate serde"), "{:?}", b.items);
    assert!(!b.items.contains_key("fn a (src/lib.rs)"), "{:?}", b.items);
    assert_eq!(a.root("a_is_small").unwrap().kind, "asset_check");
}

#[test]
fn a_helper_in_another_module_changes_exactly_its_readers() {
    let (changed, after) = changed_by("src/helpers.rs", "x * 2", "x * 3");
    assert_eq!(changed, ["a"]);
    assert!(
        after
            .root("a")
            .unwrap()
            .items
            .contains_key("fn double (src/helpers.rs)")
    );
}

#[test]
fn a_const_changes_exactly_its_readers() {
    let (changed, _) = changed_by("src/lib.rs", "LIMIT: u32 = 10", "LIMIT: u32 = 11");
    assert_eq!(changed, ["a", "a_is_small"]);
}

#[test]
fn a_method_on_a_local_type_changes_exactly_its_callers() {
    let (changed, _) = changed_by("src/model.rs", "x + 1", "x + 2");
    assert_eq!(changed, ["b"]);
}

#[test]
fn a_local_macro_changes_exactly_its_users() {
    let (changed, _) = changed_by("src/lib.rs", "$e * 2", "$e * 4");
    assert_eq!(changed, ["c"]);
}

#[test]
fn a_dependency_version_changes_the_assets_whose_modules_use_it() {
    let (changed, after) = changed_by("Cargo.lock", "1.0.200", "1.0.201");
    assert_eq!(changed, ["b"]);
    assert_eq!(after.root("b").unwrap().items["crate serde"], "1.0.201");
    let (changed, _) = changed_by("Cargo.lock", "1.10.0", "1.11.0");
    assert_eq!(changed, ["a", "a_is_small", "b", "c", "d"]);
}

#[test]
fn unrelated_code_comments_docs_and_formatting_change_nothing() {
    for (file, from, to) in [
        (
            "src/lib.rs",
            "fn unrelated() -> u32 {\n    1",
            "fn unrelated() -> u32 {\n    2",
        ),
        (
            "src/helpers.rs",
            "pub fn unused_helper() -> u32 {\n    3",
            "pub fn unused_helper() -> u32 {\n    4",
        ),
        (
            "src/helpers.rs",
            "/// Twice `x`.",
            "/// Two times `x`, documented better.",
        ),
        (
            "src/helpers.rs",
            "x * 2\n",
            "// the doubling\n    x  *  2 // (a comment)\n",
        ),
        (
            "src/lib.rs",
            "/// How far to go.",
            "/// How far to go, now documented.",
        ),
    ] {
        let (changed, _) = changed_by(file, from, to);
        assert!(
            changed.is_empty(),
            "{file}: {from:?} → {to:?} changed {changed:?}"
        );
    }
}

#[test]
fn a_module_that_cannot_be_found_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), MANIFEST).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "mod missing;\n").unwrap();
    let err = analyze(dir.path()).unwrap_err();
    assert!(
        err.contains("src/lib.rs: cannot find the file of `mod missing;`"),
        "{err}"
    );
    let _ = Path::new("unused");
}
