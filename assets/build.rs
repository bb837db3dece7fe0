//! Code versions from everything each asset calls (`stemma_build::code_versions()`), and the
//! demo corpus (`corpus/`) and Stemma's README files embedded in the binary, so that the
//! `assets` command reads them wherever it is installed (`cargo install --path assets`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    stemma_build::code_versions();
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let corpus = manifest.join("corpus");
    println!("cargo:rerun-if-changed={}", corpus.display());
    let mut files = Vec::new();
    collect(&corpus, &mut files);
    files.sort();
    let mut out = String::from(
        "/// The shipped corpus: (path below `corpus/`, text), sorted by path.\n\
         pub const CORPUS: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let rel = relative(&corpus, f);
        writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n\n");

    // Stemma's own documentation: the workspace README and each top-level folder's.
    let workspace = manifest.parent().expect("the workspace holds the crate");
    let mut readmes = vec![workspace.join("README.md")];
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    readmes.extend(dirs.into_iter().map(|d| d.join("README.md")));
    out.push_str(
        "/// Stemma's README files: (path in the repository, text).\n\
         pub const PROJECT_DOCS: &[(&str, &str)] = &[\n",
    );
    for r in readmes.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", r.display());
        let rel = relative(workspace, r);
        writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            r.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("embedded.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("md" | "markdown" | "txt")
        ) {
            out.push(p);
        }
    }
}

/// `/`-separated path of `file` below `root`.
fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
