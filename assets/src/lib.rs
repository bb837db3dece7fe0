//! The default Stemma code location: a retrieval (RAG) pipeline and a model trained on it.
//!
//! ```text
//! (source_documents) ─► raw_documents ─► chunks ─► embeddings ─┬─► retrieval_eval ──(gate)──┐
//!                     └──────────────────┘                            ▼
//!                                        └──────────────────────► topic_model ─► predictions
//! ```
//!
//! * `raw_documents` reads a folder of Markdown/text files (by default the corpus shipped in
//!   `assets/corpus/` plus Stemma's own README files), or generates `synthetic_docs` documents.
//! * `chunks` splits them into overlapping windows of words.
//! * `embeddings` is a real lexical embedding: feature-hashed word and bigram counts in 256
//!   dimensions, L2-normalized, computed in parallel.
//! * `retrieval_eval` measures recall@k and MRR of finding a chunk from a query cut out of it.
//! * `topic_model` trains a softmax classifier of the topic over the embeddings, stored as bytes;
//!   a blocking check on `retrieval_eval` keeps it from training on a bad index.
//! * `predictions` runs the model over every chunk (batch inference).
//! * `daily_quality` measures retrieval each night on a fresh sample of queries, one
//!   partition per day in Berlin; the `nightly_quality` schedule fills it at 01:00.
//!
//! Everything is offline and deterministic.

pub mod checks;
pub mod chunks;
pub mod daily;
pub mod documents;
pub mod embed;
pub mod eval;
pub mod model;

use stemma::prelude::*;

/// The code location's definitions.
pub fn definitions() -> Definitions {
    Definitions::new()
        .assets([
            documents::source_documents(),
            documents::raw_documents(),
            chunks::chunks(),
            embed::embeddings(),
            eval::retrieval_eval(),
            model::topic_model(),
            model::predictions(),
            daily::daily_quality(),
        ])
        .schedule(daily::nightly_quality())
        .checks([
            checks::chunks_not_empty(),
            checks::embedding_norms(),
            checks::recall_gate(),
            checks::model_beats_baseline(),
        ])
        .config(ConfigField::path("source_dir").description(
            "folder of .md/.txt files to index (default: the shipped corpus and Stemma's docs)",
        ))
        .config(
            ConfigField::int("synthetic_docs", 0)
                .min(0)
                .description("generate this many synthetic documents instead of reading files"),
        )
        .config(
            ConfigField::int("seed", 42)
                .min(0)
                .description("seed of the synthetic documents and of training"),
        )
        .config(
            ConfigField::int("chunk_words", 80)
                .min(1)
                .description("words per chunk"),
        )
        .config(
            ConfigField::int("chunk_overlap", 20)
                .min(0)
                .description("words shared by neighbouring chunks"),
        )
        .config(
            ConfigField::int("eval_queries", 200)
                .min(1)
                .description("queries in the retrieval evaluation"),
        )
        .config(
            ConfigField::int("eval_query_words", 12)
                .min(1)
                .description("words in each evaluation query: fewer make retrieval harder"),
        )
        .config(
            ConfigField::float("min_recall_at_5", 0.5)
                .range(0.0..=1.0)
                .description("the quality gate: topic_model is not trained below this recall@5"),
        )
        .config(
            ConfigField::int("train_epochs", 30)
                .min(1)
                .description("passes of gradient descent over the training set"),
        )
}
