//! `raw_documents`: the documents to index, read from a folder or generated.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stemma::BoxError;
use stemma::hash::StableHasher;
use stemma::prelude::*;

/// One document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The path relative to the source folder, `/`-separated.
    pub doc_id: String,
    pub title: String,
    /// The label the topic model learns: the document's folder.
    pub topic: String,
    pub text: String,
    pub words: i64,
}

/// The corpus and README files compiled into the binary (see `build.rs`).
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Where the documents come from, as the run's config says.
enum Source {
    Synthetic {
        count: usize,
        seed: u64,
    },
    Folder(PathBuf),
    /// The shipped corpus and Stemma's own README files.
    Builtin,
}

fn source(ctx: &AssetContext) -> Result<Source, BoxError> {
    let count: usize = ctx.config().get("synthetic_docs")?;
    let seed: u64 = ctx.config().get("seed")?;
    Ok(if count > 0 {
        Source::Synthetic { count, seed }
    } else {
        match ctx.config().get_opt::<PathBuf>("source_dir")? {
            Some(dir) => Source::Folder(dir),
            None => Source::Builtin,
        }
    })
}

/// One file to index.
struct SourceFile {
    content: Content,
    doc_id: String,
    topic: String,
}

/// Where a file's text is.
enum Content {
    File(PathBuf),
    /// Compiled into the binary.
    Embedded(&'static str),
}

impl Content {
    fn bytes(&self) -> Result<std::borrow::Cow<'static, [u8]>, String> {
        match self {
            Content::File(path) => std::fs::read(path)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| format!("reading {}: {e}", path.display())),
            Content::Embedded(text) => Ok(std::borrow::Cow::Borrowed(text.as_bytes())),
        }
    }
}

/// The files of a folder or of the builtin sources, in a stable order.
fn source_files(source: &Source) -> Result<Vec<SourceFile>, String> {
    match source {
        Source::Synthetic { .. } => Ok(Vec::new()),
        Source::Folder(dir) => folder_files(dir, None),
        Source::Builtin => Ok(builtin_files()),
    }
}

/// The files `raw_documents` reads, observed by their content: Stemma records a new version
/// whenever a file is added, removed or edited, which makes `raw_documents` (and everything
/// downstream) stale.
pub fn source_documents() -> AssetDef {
    AssetDef::external("source_documents")
        .group("rag")
        .kind("markdown")
        .owner("team:ml")
        .description(
            "The .md/.markdown/.txt files raw_documents reads (source_dir, or the shipped corpus \
             and Stemma's README files), observed by a hash of their paths and contents.",
        )
        .observe_blocking(|ctx: &AssetContext| -> Result<String, BoxError> {
            let source = source(ctx)?;
            if let Source::Synthetic { count, seed } = source {
                return Ok(format!("synthetic documents: {count}, seed {seed}"));
            }
            let mut h = StableHasher::new("assets.source_documents.v1");
            for f in source_files(&source)? {
                h.str(&f.doc_id).str(&f.topic).bytes(&f.content.bytes()?);
            }
            Ok(h.finish_hex())
        })
        .build()
}

/// Documents to index: the Markdown and text files under `source_dir` (by default the corpus
/// shipped in `assets/corpus/` and Stemma's own README files), or `synthetic_docs` generated
/// documents. A document's topic is the folder it is in.
#[asset(
    group = "rag",
    kinds = ["parquet"],
    owners = ["team:ml"],
    tags(layer = "bronze"),
    deps = ["source_documents"]
)]
pub fn raw_documents(ctx: &AssetContext) -> AssetResult<Rows<Document>> {
    let source = source(ctx)?;
    let docs = match &source {
        Source::Synthetic { count, seed } => {
            ctx.add_metadata(
                "source",
                format!("{count} synthetic documents (seed {seed})"),
            );
            generate(*count, *seed)
        }
        Source::Folder(dir) => {
            ctx.add_metadata("source", MetadataValue::path(dir));
            read_files(source_files(&source)?)?
        }
        Source::Builtin => {
            ctx.add_metadata(
                "source",
                format!(
                    "the shipped corpus ({} documents) and Stemma's README files ({})",
                    embedded::CORPUS.len(),
                    embedded::PROJECT_DOCS.len()
                ),
            );
            read_files(builtin_files())?
        }
    };
    let words: i64 = docs.iter().map(|d| d.words).sum();
    let mut topics: Vec<&str> = docs.iter().map(|d| d.topic.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    ctx.log.info(format!(
        "{} documents, {} words, {} topics ({})",
        docs.len(),
        words,
        topics.len(),
        topics.join(", ")
    ));
    ctx.add_metadata("documents", docs.len());
    ctx.add_metadata("words", words);
    ctx.add_metadata("topics", topics.len());
    Ok(Rows(docs))
}

/// Reads every `.md`, `.markdown` and `.txt` file under `root`, sorted by path. The topic of a
/// file is its first folder below `root` (or `topic` when given).
pub fn read_folder(root: &Path, topic: Option<&str>) -> Result<Vec<Document>, String> {
    read_files(folder_files(root, topic)?)
}

fn read_files(files: Vec<SourceFile>) -> Result<Vec<Document>, String> {
    files
        .into_iter()
        .map(|f| document(&f.content, f.doc_id, f.topic))
        .collect()
}

fn folder_files(root: &Path, topic: Option<&str>) -> Result<Vec<SourceFile>, String> {
    if !root.exists() {
        return Err(format!("source folder {} does not exist", root.display()));
    }
    if !root.is_dir() {
        return Err(format!("source {} is not a folder", root.display()));
    }
    let mut files = Vec::new();
    collect(root, &mut files).map_err(|e| format!("reading {}: {e}", root.display()))?;
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "source folder {} holds no .md, .markdown or .txt files",
            root.display()
        ));
    }
    Ok(files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let topic = topic.map(str::to_owned).unwrap_or_else(|| {
                if parts.len() > 1 {
                    parts[0].clone()
                } else {
                    "general".to_owned()
                }
            });
            SourceFile {
                doc_id: parts.join("/"),
                topic,
                content: Content::File(path),
            }
        })
        .collect())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("md" | "markdown" | "txt")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn document(content: &Content, doc_id: String, topic: String) -> Result<Document, String> {
    let text = match content {
        Content::Embedded(text) => (*text).to_owned(),
        Content::File(path) => String::from_utf8(content.bytes()?.into_owned()).map_err(|e| {
            format!(
                "{} is not UTF-8 text (byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?,
    };
    let title = text
        .lines()
        .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_owned()))
        .unwrap_or_else(|| {
            let name = doc_id.rsplit('/').next().unwrap_or(&doc_id);
            Path::new(name)
                .file_stem()
                .map(|s| s.to_string_lossy().replace('_', " "))
                .unwrap_or_default()
        });
    let words = text.split_whitespace().count() as i64;
    Ok(Document {
        doc_id,
        title,
        topic,
        text,
        words,
    })
}

/// The shipped corpus (a document's topic is its folder) and Stemma's README files (topic
/// `stemma`), as compiled into the binary.
fn builtin_files() -> Vec<SourceFile> {
    let corpus = embedded::CORPUS.iter().map(|(path, text)| SourceFile {
        doc_id: (*path).to_owned(),
        topic: match path.split_once('/') {
            Some((folder, _)) => folder.to_owned(),
            None => "general".to_owned(),
        },
        content: Content::Embedded(text),
    });
    let docs = embedded::PROJECT_DOCS
        .iter()
        .map(|(path, text)| SourceFile {
            doc_id: format!("stemma/{path}"),
            topic: "stemma".to_owned(),
            content: Content::Embedded(text),
        });
    corpus.chain(docs).collect()
}

/// A small, fast, deterministic generator (splitmix64).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

const TOPICS: &[(&str, &[&str])] = &[
    (
        "astronomy",
        &[
            "star",
            "galaxy",
            "orbit",
            "planet",
            "telescope",
            "nebula",
            "supernova",
            "comet",
            "asteroid",
            "gravity",
            "light",
            "spectrum",
            "redshift",
            "moon",
            "eclipse",
            "solar",
            "lunar",
            "stellar",
            "cosmic",
            "universe",
            "parsec",
            "dwarf",
            "giant",
            "fusion",
            "hydrogen",
            "helium",
            "magnitude",
            "constellation",
            "observatory",
            "exoplanet",
            "transit",
            "radial",
            "velocity",
            "meteor",
            "crater",
            "horizon",
            "zenith",
            "equinox",
            "pulsar",
            "quasar",
        ],
    ),
    (
        "cooking",
        &[
            "flour",
            "butter",
            "onion",
            "garlic",
            "simmer",
            "boil",
            "roast",
            "bake",
            "oven",
            "skillet",
            "sauce",
            "stock",
            "broth",
            "knife",
            "chop",
            "dice",
            "salt",
            "pepper",
            "yeast",
            "dough",
            "knead",
            "crust",
            "braise",
            "stew",
            "recipe",
            "ingredient",
            "whisk",
            "emulsion",
            "vinegar",
            "olive",
            "oil",
            "herb",
            "thyme",
            "basil",
            "caramelize",
            "sear",
            "pan",
            "taste",
            "season",
            "fry",
        ],
    ),
    (
        "databases",
        &[
            "index",
            "query",
            "table",
            "row",
            "column",
            "transaction",
            "commit",
            "rollback",
            "isolation",
            "lock",
            "btree",
            "page",
            "disk",
            "log",
            "replica",
            "shard",
            "join",
            "planner",
            "optimizer",
            "schema",
            "primary",
            "key",
            "foreign",
            "constraint",
            "snapshot",
            "vacuum",
            "checkpoint",
            "buffer",
            "cache",
            "latency",
            "throughput",
            "sql",
            "cursor",
            "tuple",
            "wal",
            "durability",
            "consistency",
            "partition",
            "aggregate",
            "scan",
        ],
    ),
    (
        "gardening",
        &[
            "soil",
            "compost",
            "seed",
            "seedling",
            "tomato",
            "prune",
            "branch",
            "root",
            "leaf",
            "bloom",
            "flower",
            "mulch",
            "water",
            "sunlight",
            "shade",
            "fertilizer",
            "nitrogen",
            "harvest",
            "weed",
            "bed",
            "raised",
            "trellis",
            "vine",
            "orchard",
            "apple",
            "pear",
            "graft",
            "bud",
            "germinate",
            "frost",
            "spring",
            "autumn",
            "bulb",
            "perennial",
            "annual",
            "pollinator",
            "bee",
            "worm",
            "spade",
            "hoe",
        ],
    ),
    (
        "machine_learning",
        &[
            "model",
            "training",
            "gradient",
            "descent",
            "loss",
            "feature",
            "label",
            "classifier",
            "regression",
            "overfitting",
            "regularization",
            "validation",
            "accuracy",
            "precision",
            "recall",
            "neural",
            "network",
            "layer",
            "weight",
            "bias",
            "epoch",
            "batch",
            "learning",
            "rate",
            "tree",
            "forest",
            "ensemble",
            "boosting",
            "embedding",
            "vector",
            "dataset",
            "sample",
            "prediction",
            "inference",
            "tensor",
            "activation",
            "softmax",
            "cluster",
            "kernel",
            "hyperparameter",
        ],
    ),
    (
        "sailing",
        &[
            "sail",
            "mast",
            "boom",
            "hull",
            "keel",
            "rudder",
            "tiller",
            "wind",
            "tack",
            "jibe",
            "bow",
            "stern",
            "port",
            "starboard",
            "anchor",
            "chain",
            "mooring",
            "knot",
            "bowline",
            "cleat",
            "halyard",
            "sheet",
            "winch",
            "reef",
            "gust",
            "current",
            "tide",
            "harbor",
            "channel",
            "buoy",
            "chart",
            "compass",
            "heading",
            "leeward",
            "windward",
            "crew",
            "skipper",
            "deck",
            "cabin",
            "dinghy",
        ],
    ),
];

const COMMON: &[&str] = &[
    "the", "a", "of", "and", "to", "in", "is", "it", "that", "for", "on", "with", "as", "by",
    "this", "from", "at", "are", "be", "can", "when", "more", "each", "most", "some", "time",
    "part", "small", "large", "first", "often", "usually", "because", "while", "also", "then",
    "good", "simple", "careful", "change", "way", "work", "make", "keep", "turn", "long", "short",
    "new",
];

/// `n` synthetic documents over six topics: mostly topic words (Zipf-like), some common words
/// and a little vocabulary from other topics, so that the tasks are learnable but not trivial.
pub fn generate(n: usize, seed: u64) -> Vec<Document> {
    (0..n)
        .map(|i| {
            let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let (topic, vocab) = TOPICS[i % TOPICS.len()];
            let len = 120 + rng.below(360);
            let mut text = String::with_capacity(len * 8);
            let mut sentence = 0;
            for w in 0..len {
                let r = rng.unit();
                let word = if r < 0.55 {
                    let u = rng.unit();
                    vocab[((u * u) * vocab.len() as f64) as usize % vocab.len()]
                } else if r < 0.65 {
                    let (_, other) = TOPICS[rng.below(TOPICS.len())];
                    other[rng.below(other.len())]
                } else {
                    COMMON[rng.below(COMMON.len())]
                };
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(word);
                sentence += 1;
                if sentence > 7 && rng.unit() < 0.15 {
                    text.push('.');
                    sentence = 0;
                }
            }
            Document {
                doc_id: format!("synthetic/{topic}/{i:07}"),
                title: format!("{topic} {i}"),
                topic: topic.to_owned(),
                text,
                words: len as i64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_documents_are_deterministic_and_labelled() {
        let a = generate(12, 7);
        assert_eq!(a, generate(12, 7));
        assert_ne!(a, generate(12, 8));
        assert_eq!(a[0].topic, "astronomy");
        assert_eq!(a[7].topic, "cooking");
        assert!(
            a.iter()
                .all(|d| d.words >= 120 && d.text.split_whitespace().count() == d.words as usize)
        );
    }

    #[test]
    fn folders_become_topics_and_bad_sources_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cats")).unwrap();
        std::fs::write(
            dir.path().join("cats/tabby.md"),
            "# Tabby cats\n\nStriped fur.",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "loose words").unwrap();
        std::fs::write(dir.path().join("image.png"), [0u8, 1, 2]).unwrap();
        let docs = read_folder(dir.path(), None).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].doc_id, "cats/tabby.md");
        assert_eq!(docs[0].topic, "cats");
        assert_eq!(docs[0].title, "Tabby cats");
        assert_eq!(docs[1].topic, "general");
        let missing = read_folder(&dir.path().join("nope"), None).unwrap_err();
        assert!(missing.contains("does not exist"), "{missing}");
        std::fs::write(dir.path().join("bad.md"), [0xffu8, 0xfe]).unwrap();
        let err = read_folder(dir.path(), None).unwrap_err();
        assert!(err.contains("bad.md is not UTF-8"), "{err}");
    }
}
