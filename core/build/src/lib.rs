//! Build-time analysis for a Stemma code location: every asset's code version from the local
//! items it reaches, not just its own body.
//!
//! In the code location's `build.rs`, one line:
//!
//! ```ignore
//! fn main() {
//!     stemma_build::code_versions();
//! }
//! ```
//!
//! The analysis parses the crate's sources (from `src/lib.rs`, `src/main.rs` and `src/bin/`,
//! following `mod` declarations) and, for every `#[asset]` and `#[asset_check]` function,
//! computes the **transitive closure of the local items it reaches**: functions, methods,
//! consts, statics, types with their impls, traits and `macro_rules!` macros, across modules.
//! Names are resolved by name and by how they are used, not by type: a name used as a value,
//! type or path (`double(x)`, `Model::new()`, `LIMIT`) reaches every local function, const,
//! static or type of that name; `name!(…)` reaches the local macro; a reached type reaches all
//! its impl blocks and their methods, and a reached trait every impl of it. A method call
//! (`.score()`) reaches nothing by itself: its receiver's type is reached where the value comes
//! from. Where a name is ambiguous this over-approximates — an extra rerun now and then — and
//! never misses a change. Other asset functions are not part of an asset's closure (their
//! changes reach it through their data).
//!
//! An asset's code version is a hash of its closure's items, each hashed from its normalized
//! tokens (comments, doc comments and formatting do not count), and of the versions, from
//! `Cargo.lock`, of the external crates the closure's modules use. The per-item hashes are
//! kept, so that Stemma can say *which* item changed (`why-stale`). The `#[asset]` macro reads
//! the result through the `STEMMA_CODE_VERSIONS` variable this sets for the compiler; without
//! it, code versions cover function bodies only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;

/// The format of the table the macro reads.
pub const TABLE_VERSION: u32 = 1;

/// What the analysis found for one `#[asset]` or `#[asset_check]` function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootVersion {
    /// The function's name.
    pub function: String,
    /// The file it is in (canonical, absolute).
    pub file: PathBuf,
    /// `asset` or `asset_check`.
    pub kind: &'static str,
    /// The hash of its closure (16 hex digits).
    pub code_version: String,
    /// The closure's items: label (`fn embed (assets/src/embed.rs)`, `crate rayon`) → hash
    /// (for a crate, its version).
    pub items: BTreeMap<String, String>,
}

/// The analysis of one crate.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub roots: Vec<RootVersion>,
    /// Every source file read.
    pub files: Vec<PathBuf>,
}

impl Analysis {
    /// The root for `function` in `file` (or, when `file` is not given, the only one of that
    /// name).
    pub fn root(&self, function: &str) -> Option<&RootVersion> {
        let mut found = self.roots.iter().filter(|r| r.function == function);
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The table the `#[asset]` macro reads (JSON).
    pub fn to_json(&self) -> String {
        let roots: Vec<serde_json::Value> = self
            .roots
            .iter()
            .map(|r| {
                serde_json::json!({
                    "function": r.function,
                    "file": r.file.to_string_lossy(),
                    "kind": r.kind,
                    "code_version": r.code_version,
                    "items": r.items,
                })
            })
            .collect();
        serde_json::json!({ "version": TABLE_VERSION, "roots": roots }).to_string()
    }
}

/// Runs the analysis for the crate being built (from its `build.rs`) and hands the result to
/// the compiler. A failure is a build warning, not an error: the code versions then cover
/// function bodies only, as without this step.
pub fn code_versions() {
    let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        println!("cargo:warning=stemma-build: CARGO_MANIFEST_DIR is not set (not a build script?)");
        return;
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo:warning=stemma-build: OUT_DIR is not set (not a build script?)");
        return;
    };
    println!("cargo:rerun-if-changed={}", manifest.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest.join("Cargo.toml").display()
    );
    if let Some(lock) = find_lock(&manifest) {
        println!("cargo:rerun-if-changed={}", lock.display());
    }
    match analyze(&manifest) {
        Ok(analysis) => {
            let json = analysis.to_json();
            let path = out_dir.join("stemma-code-versions.json");
            if let Err(e) = std::fs::write(&path, &json) {
                println!(
                    "cargo:warning=stemma-build: cannot write {}: {e}",
                    path.display()
                );
                return;
            }
            println!("cargo:rustc-env=STEMMA_CODE_VERSIONS={}", path.display());
            // A new table is a new environment for the compiler: the crate is rebuilt and its
            // `#[asset]` functions expanded again with it.
            println!(
                "cargo:rustc-env=STEMMA_CODE_VERSIONS_DIGEST={}",
                &blake3::hash(json.as_bytes()).to_hex()[..16]
            );
        }
        Err(e) => println!(
            "cargo:warning=stemma-build: {e}; code versions cover the asset functions' bodies only"
        ),
    }
}

/// Analyses the crate whose `Cargo.toml` is in `manifest_dir`.
pub fn analyze(manifest_dir: &Path) -> Result<Analysis, String> {
    let manifest_dir = manifest_dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", manifest_dir.display()))?;
    let lock = find_lock(&manifest_dir);
    // Labels name files relative to the workspace (the folder of Cargo.lock).
    let base = lock
        .as_ref()
        .and_then(|l| l.parent())
        .map_or_else(|| manifest_dir.clone(), Path::to_path_buf);
    let deps = dependencies(&manifest_dir.join("Cargo.toml"))?;
    let versions = match &lock {
        Some(l) => locked_versions(l)?,
        None => HashMap::new(),
    };
    let mut roots = Vec::new();
    for root in ["src/lib.rs", "src/main.rs"] {
        let p = manifest_dir.join(root);
        if p.is_file() {
            roots.push(p);
        }
    }
    if let Ok(entries) = std::fs::read_dir(manifest_dir.join("src/bin")) {
        let mut bins: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        bins.sort();
        roots.extend(bins);
    }
    if roots.is_empty() {
        return Err(format!(
            "{} has no src/lib.rs or src/main.rs",
            manifest_dir.display()
        ));
    }
    let mut walker = Walker {
        base,
        items: Vec::new(),
        modules: Vec::new(),
        files: Vec::new(),
    };
    for root in &roots {
        walker.load_file(root, true)?;
    }
    Ok(walker.finish(&deps, &versions))
}

/// The workspace's `Cargo.lock`: in `dir` or a folder above it.
fn find_lock(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
}

/// The crates a manifest depends on: the name code uses (`-` as `_`) → the package name.
fn dependencies(manifest: &Path) -> Result<BTreeMap<String, String>, String> {
    let text =
        std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut out = BTreeMap::new();
    let mut add = |table: Option<&toml::Value>| {
        let Some(table) = table.and_then(toml::Value::as_table) else {
            return;
        };
        for (name, spec) in table {
            let package = spec
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(name);
            out.insert(name.replace('-', "_"), package.to_owned());
        }
    };
    add(doc.get("dependencies"));
    if let Some(targets) = doc.get("target").and_then(toml::Value::as_table) {
        for t in targets.values() {
            add(t.get("dependencies"));
        }
    }
    Ok(out)
}

/// Every locked package's versions, by package name.
fn locked_versions(lock: &Path) -> Result<HashMap<String, Vec<String>>, String> {
    let text = std::fs::read_to_string(lock).map_err(|e| format!("{}: {e}", lock.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", lock.display()))?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for p in doc
        .get("package")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(name), Some(version)) = (
            p.get("name").and_then(toml::Value::as_str),
            p.get("version").and_then(toml::Value::as_str),
        ) {
            out.entry(name.to_owned())
                .or_default()
                .push(version.to_owned());
        }
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    Ok(out)
}

/// What kind of root a function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Asset,
    Check,
}

/// How an item is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A free function, const or static: by its name used as a value or path.
    Value,
    /// A struct, enum, union, type alias or trait: by its name; it reaches its impls.
    Type,
    /// An impl block or one of its members: through its type (or trait).
    Member,
    /// A `macro_rules!` macro: by `name!`.
    Macro,
}

/// One local item.
#[derive(Debug)]
struct Item {
    name: String,
    class: Class,
    /// The type an impl block or member belongs to.
    owner: Option<String>,
    /// The trait an impl block or member implements.
    trait_name: Option<String>,
    label: String,
    hash: String,
    refs: Refs,
    module: usize,
    file: PathBuf,
    root: Option<Root>,
}

/// The names an item's tokens use, by how they are used.
#[derive(Debug, Default)]
struct Refs {
    /// As a value, type or path segment (`double`, `Model`, `helpers`).
    values: BTreeSet<String>,
    /// Invoked as a macro (`shout!`).
    macros: BTreeSet<String>,
}

/// One module: the first path segments of its `use` items (candidate external crates).
#[derive(Debug, Default)]
struct Module {
    uses: BTreeSet<String>,
}

/// What [`Walker::push`] records of an item besides its tokens.
struct Member {
    name: String,
    class: Class,
    owner: Option<String>,
    trait_name: Option<String>,
    label: String,
    root: Option<Root>,
}

struct Walker {
    base: PathBuf,
    items: Vec<Item>,
    modules: Vec<Module>,
    files: Vec<PathBuf>,
}

impl Walker {
    /// Parses `file` as a module (a crate root when `root`).
    fn load_file(&mut self, file: &Path, root: bool) -> Result<(), String> {
        let file = file
            .canonicalize()
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if self.files.contains(&file) {
            return Ok(());
        }
        self.files.push(file.clone());
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed =
            syn::parse_file(&text).map_err(|e| format!("{}: {e}", self.relative(&file)))?;
        // `mod x;` in lib.rs, main.rs or mod.rs is in the same folder; in `a.rs`, in `a/`.
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let parent = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let dir = if root || stem == "mod" {
            parent
        } else {
            parent.join(stem)
        };
        let module = self.new_module();
        self.collect(&parsed.items, &file, &dir, module)
    }

    fn new_module(&mut self) -> usize {
        self.modules.push(Module::default());
        self.modules.len() - 1
    }

    fn relative(&self, file: &Path) -> String {
        file.strip_prefix(&self.base)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/")
    }

    fn collect(
        &mut self,
        items: &[syn::Item],
        file: &Path,
        dir: &Path,
        module: usize,
    ) -> Result<(), String> {
        for item in items {
            match item {
                syn::Item::Fn(f) => {
                    let root = root_kind(&f.attrs);
                    self.add(
                        item,
                        &f.sig.ident.to_string(),
                        "fn",
                        Class::Value,
                        root,
                        file,
                        module,
                    );
                }
                syn::Item::Const(c) => self.add(
                    item,
                    &c.ident.to_string(),
                    "const",
                    Class::Value,
                    None,
                    file,
                    module,
                ),
                syn::Item::Static(s) => self.add(
                    item,
                    &s.ident.to_string(),
                    "static",
                    Class::Value,
                    None,
                    file,
                    module,
                ),
                syn::Item::Struct(s) => self.add(
                    item,
                    &s.ident.to_string(),
                    "struct",
                    Class::Type,
                    None,
                    file,
                    module,
                ),
                syn::Item::Enum(e) => self.add(
                    item,
                    &e.ident.to_string(),
                    "enum",
                    Class::Type,
                    None,
                    file,
                    module,
                ),
                syn::Item::Union(u) => self.add(
                    item,
                    &u.ident.to_string(),
                    "union",
                    Class::Type,
                    None,
                    file,
                    module,
                ),
                syn::Item::Type(t) => self.add(
                    item,
                    &t.ident.to_string(),
                    "type",
                    Class::Type,
                    None,
                    file,
                    module,
                ),
                syn::Item::Trait(t) => self.add(
                    item,
                    &t.ident.to_string(),
                    "trait",
                    Class::Type,
                    None,
                    file,
                    module,
                ),
                syn::Item::Macro(m) => {
                    if let Some(ident) = &m.ident {
                        self.add(
                            item,
                            &ident.to_string(),
                            "macro",
                            Class::Macro,
                            None,
                            file,
                            module,
                        );
                    }
                }
                syn::Item::Impl(i) => self.add_impl(i, file, module),
                syn::Item::Use(u) => {
                    let mut firsts = BTreeSet::new();
                    use_roots(&u.tree, &mut firsts);
                    self.modules[module].uses.extend(firsts);
                }
                syn::Item::ExternCrate(c) => {
                    self.modules[module].uses.insert(c.ident.to_string());
                }
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    let path_attr = m.attrs.iter().find_map(|a| {
                        if !a.path().is_ident("path") {
                            return None;
                        }
                        match &a.meta {
                            syn::Meta::NameValue(nv) => match &nv.value {
                                syn::Expr::Lit(syn::ExprLit {
                                    lit: syn::Lit::Str(s),
                                    ..
                                }) => Some(s.value()),
                                _ => None,
                            },
                            _ => None,
                        }
                    });
                    match &m.content {
                        Some((_, inner)) => {
                            let sub = self.new_module();
                            self.collect(inner, file, &dir.join(&name), sub)?;
                        }
                        None => {
                            let candidates = match &path_attr {
                                Some(p) => vec![file.parent().unwrap_or(dir).join(p)],
                                None => vec![
                                    dir.join(format!("{name}.rs")),
                                    dir.join(&name).join("mod.rs"),
                                ],
                            };
                            let Some(found) = candidates.iter().find(|c| c.is_file()) else {
                                return Err(format!(
                                    "{}: cannot find the file of `mod {name};`",
                                    self.relative(file)
                                ));
                            };
                            let found = found.clone();
                            self.load_file(&found, false)?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn add_impl(&mut self, i: &syn::ItemImpl, file: &Path, module: usize) {
        let owner = type_name(&i.self_ty);
        let trait_name = i
            .trait_
            .as_ref()
            .and_then(|(_, p, _)| p.segments.last())
            .map(|s| s.ident.to_string());
        // The impl's header (generics, trait, type, attributes) is an item of its own…
        let mut header = i.clone();
        header.items.clear();
        let header_label = match (&trait_name, &owner) {
            (Some(t), Some(o)) => format!("impl {t} for {o}"),
            (None, Some(o)) => format!("impl {o}"),
            (Some(t), None) => format!("impl {t}"),
            (None, None) => "impl".to_owned(),
        };
        let name = owner.clone().unwrap_or_default();
        self.push(
            header.to_token_stream(),
            Member {
                name: name.clone(),
                class: Class::Member,
                owner: owner.clone(),
                trait_name: trait_name.clone(),
                label: header_label,
                root: None,
            },
            file,
            module,
        );
        // …and each method and associated const is another, reached by its own name.
        for member in &i.items {
            let (ident, kind) = match member {
                syn::ImplItem::Fn(f) => (f.sig.ident.to_string(), "fn"),
                syn::ImplItem::Const(c) => (c.ident.to_string(), "const"),
                syn::ImplItem::Type(t) => (t.ident.to_string(), "type"),
                _ => continue,
            };
            let label = match &owner {
                Some(o) => format!("{kind} {o}::{ident}"),
                None => format!("{kind} {ident}"),
            };
            self.push(
                member.to_token_stream(),
                Member {
                    name: ident,
                    class: Class::Member,
                    owner: owner.clone(),
                    trait_name: trait_name.clone(),
                    label,
                    root: None,
                },
                file,
                module,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        item: &syn::Item,
        name: &str,
        kind: &str,
        class: Class,
        root: Option<Root>,
        file: &Path,
        module: usize,
    ) {
        self.push(
            item.to_token_stream(),
            Member {
                name: name.to_owned(),
                class,
                owner: None,
                trait_name: None,
                label: format!("{kind} {name}"),
                root,
            },
            file,
            module,
        );
    }

    fn push(&mut self, tokens: TokenStream, what: Member, file: &Path, module: usize) {
        let tokens = without_docs(tokens);
        let mut refs = Refs::default();
        collect_refs(&tokens, &mut refs);
        let mut h = blake3::Hasher::new();
        h.update(b"stemma.item.v1\0");
        h.update(tokens.to_string().as_bytes());
        let label = format!("{} ({})", what.label, self.relative(file));
        self.items.push(Item {
            name: what.name,
            class: what.class,
            owner: what.owner,
            trait_name: what.trait_name,
            label,
            hash: h.finalize().to_hex()[..16].to_owned(),
            refs,
            module,
            file: file.to_path_buf(),
            root: what.root,
        });
    }

    fn finish(
        self,
        deps: &BTreeMap<String, String>,
        versions: &HashMap<String, Vec<String>>,
    ) -> Analysis {
        let mut index = Index::default();
        for (i, item) in self.items.iter().enumerate() {
            match item.class {
                Class::Value | Class::Type => {
                    index.values.entry(item.name.as_str()).or_default().push(i);
                }
                Class::Macro => index.macros.entry(item.name.as_str()).or_default().push(i),
                Class::Member => {}
            }
            if let Some(o) = &item.owner {
                index.by_owner.entry(o.as_str()).or_default().push(i);
            }
            if let Some(t) = &item.trait_name {
                index.by_trait.entry(t.as_str()).or_default().push(i);
            }
        }
        // Each item's direct reach and crates, and a label unique across the crate (the same
        // name twice in one file, in two inline modules, gets `#2`), computed once.
        let edges: Vec<Vec<usize>> = (0..self.items.len())
            .map(|i| self.direct_reach(i, &index))
            .collect();
        let item_crates: Vec<Vec<&str>> = self
            .items
            .iter()
            .map(|item| {
                let mut crates: Vec<&str> = self.modules[item.module]
                    .uses
                    .iter()
                    .chain(&item.refs.values)
                    .map(String::as_str)
                    .filter(|u| deps.contains_key(*u))
                    .collect();
                crates.sort_unstable();
                crates.dedup();
                crates
            })
            .collect();
        let mut labels: Vec<String> = Vec::with_capacity(self.items.len());
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        for item in &self.items {
            let mut label = item.label.clone();
            let mut n = 2;
            while !taken.insert(label.clone()) {
                label = format!("{} #{n}", item.label);
                n += 1;
            }
            labels.push(label);
        }
        let mut roots = Vec::new();
        let mut mark = vec![usize::MAX; self.items.len()];
        for (r, root) in self.items.iter().enumerate() {
            let Some(kind) = root.root else { continue };
            // Breadth-first over the edges; other roots are not entered.
            let mut closure = vec![r];
            mark[r] = r;
            let mut next = 0;
            while next < closure.len() {
                let i = closure[next];
                next += 1;
                for &j in &edges[i] {
                    if mark[j] != r && self.items[j].root.is_none() {
                        mark[j] = r;
                        closure.push(j);
                    }
                }
            }
            let mut items: BTreeMap<String, String> = BTreeMap::new();
            let mut crates: BTreeSet<&str> = BTreeSet::new();
            for &i in &closure {
                items.insert(labels[i].clone(), self.items[i].hash.clone());
                crates.extend(item_crates[i].iter().copied());
            }
            for krate in crates {
                let package = &deps[krate];
                let version = versions
                    .get(package.as_str())
                    .map_or_else(|| "unlocked".to_owned(), |v| v.join(", "));
                items.insert(format!("crate {package}"), version);
            }
            let mut h = blake3::Hasher::new();
            h.update(b"stemma.closure.v1\0");
            for (label, hash) in &items {
                h.update(label.as_bytes());
                h.update(b"\0");
                h.update(hash.as_bytes());
                h.update(b"\0");
            }
            roots.push(RootVersion {
                function: root.name.clone(),
                file: root.file.clone(),
                kind: match kind {
                    Root::Asset => "asset",
                    Root::Check => "asset_check",
                },
                code_version: h.finalize().to_hex()[..16].to_owned(),
                items,
            });
        }
        Analysis {
            roots,
            files: self.files,
        }
    }

    /// The items item `i` reaches directly: what its names, macros, type and trait reach.
    fn direct_reach(&self, i: usize, index: &Index<'_>) -> Vec<usize> {
        let item = &self.items[i];
        let mut out = Vec::new();
        // A member reaches the type (and trait) it belongs to, whose other impls follow.
        let names = item
            .refs
            .values
            .iter()
            .map(String::as_str)
            .chain(item.owner.as_deref())
            .chain(item.trait_name.as_deref());
        for name in names {
            for &j in index.values.get(name).into_iter().flatten() {
                out.push(j);
                if self.items[j].class == Class::Type {
                    out.extend(index.by_owner.get(name).into_iter().flatten());
                    out.extend(index.by_trait.get(name).into_iter().flatten());
                }
            }
        }
        for name in &item.refs.macros {
            out.extend(index.macros.get(name.as_str()).into_iter().flatten());
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Local items by how they are reached.
#[derive(Default)]
struct Index<'a> {
    values: HashMap<&'a str, Vec<usize>>,
    macros: HashMap<&'a str, Vec<usize>>,
    by_owner: HashMap<&'a str, Vec<usize>>,
    by_trait: HashMap<&'a str, Vec<usize>>,
}

/// Whether the attributes make a function an asset or a check.
fn root_kind(attrs: &[syn::Attribute]) -> Option<Root> {
    attrs.iter().find_map(|a| {
        let last = a.path().segments.last()?.ident.to_string();
        match last.as_str() {
            "asset" => Some(Root::Asset),
            "asset_check" => Some(Root::Check),
            _ => None,
        }
    })
}

/// The name of an impl's self type (`Foo` of `Foo<T>`, `&Foo`, `path::Foo`).
fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(r) => type_name(&r.elem),
        syn::Type::Paren(p) => type_name(&p.elem),
        syn::Type::Group(g) => type_name(&g.elem),
        _ => None,
    }
}

/// The first segment of every path a `use` tree imports (`rayon` of `use rayon::prelude::*`).
fn use_roots(tree: &syn::UseTree, out: &mut BTreeSet<String>) {
    match tree {
        syn::UseTree::Path(p) => {
            out.insert(p.ident.to_string());
        }
        syn::UseTree::Name(n) => {
            out.insert(n.ident.to_string());
        }
        syn::UseTree::Rename(r) => {
            out.insert(r.ident.to_string());
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_roots(t, out)),
        syn::UseTree::Glob(_) => {}
    }
}

/// `tokens` without doc comments (`#[doc = "…"]`, `#![doc = "…"]`), at any depth: editing
/// documentation is not a code change.
fn without_docs(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        if let TokenTree::Punct(p) = &trees[i]
            && p.as_char() == '#'
        {
            // `#` [`!`] `[doc …]`
            let bang = matches!(trees.get(i + 1), Some(TokenTree::Punct(b)) if b.as_char() == '!');
            let at = if bang { i + 2 } else { i + 1 };
            if let Some(TokenTree::Group(g)) = trees.get(at)
                && g.delimiter() == Delimiter::Bracket
                && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(id)) if id == "doc")
            {
                i = at + 1;
                continue;
            }
        }
        out.push(match &trees[i] {
            TokenTree::Group(g) => {
                let mut inner = proc_macro2::Group::new(g.delimiter(), without_docs(g.stream()));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// The names `tokens` use, at any depth (inside macro calls too), by how they are used: after
/// a `.` (a method call or a field: nothing is reached by it), before a `!` (a macro), or
/// otherwise (a value, a type, a path segment).
fn collect_refs(tokens: &TokenStream, out: &mut Refs) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (i, t) in trees.iter().enumerate() {
        match t {
            TokenTree::Ident(id) => {
                let mut name = String::new();
                let _ = write!(name, "{id}");
                let name = name.trim_start_matches("r#").to_owned();
                let after_dot =
                    i > 0 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == '.');
                let before_bang =
                    matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                if before_bang {
                    out.macros.insert(name);
                } else if !after_dot {
                    out.values.insert(name);
                }
            }
            TokenTree::Group(g) => collect_refs(&g.stream(), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
