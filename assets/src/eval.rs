//! `retrieval_eval`: how well the embeddings find a chunk from a fragment of it.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stemma::prelude::*;

use crate::chunks::Chunk;
use crate::embed::{Embedding, dot, embed};

/// Retrieval quality over a sample of queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalEval {
    pub queries: u64,
    pub corpus_chunks: u64,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_10: f64,
    /// Mean reciprocal rank of the source chunk.
    pub mrr: f64,
}

/// Retrieval quality: `eval_queries` queries, each `eval_query_words` words (twelve unless
/// configured) cut from the middle of an evenly spaced sample of chunks, embedded the same way and matched against every chunk.
/// Records recall@1, recall@5, recall@10 and the mean reciprocal rank of the source chunk.
#[asset(group = "rag", kinds = ["json"], owners = ["team:ml"], tags(layer = "quality"))]
pub fn retrieval_eval(
    ctx: &AssetContext,
    chunks: Rows<Chunk>,
    embeddings: Rows<Embedding>,
) -> AssetResult<Json<RetrievalEval>> {
    let wanted: usize = ctx.config().get("eval_queries")?;
    let query_words: usize = ctx.config().get("eval_query_words")?;
    if chunks.len() != embeddings.len() {
        return Err(format!(
            "chunks has {} rows but embeddings has {}: embeddings is out of date; \
             materialize embeddings first",
            chunks.len(),
            embeddings.len()
        )
        .into());
    }
    if chunks.is_empty() {
        return Err("there are no chunks to evaluate retrieval on".into());
    }
    let index = index_of(&embeddings);
    let n = wanted.clamp(1, chunks.len());
    let stride = chunks.len() as f64 / n as f64;
    let sample: Vec<&Chunk> = (0..n)
        .map(|i| &chunks[(i as f64 * stride) as usize])
        .collect();
    let ranks: Vec<usize> = sample
        .par_iter()
        .map(|chunk| rank(chunk, &embeddings, &index, query_words))
        .collect();
    let scores = Scores::of(&ranks);
    let result = RetrievalEval {
        queries: n as u64,
        corpus_chunks: chunks.len() as u64,
        recall_at_1: scores.recall_at_1,
        recall_at_5: scores.recall_at_5,
        recall_at_10: scores.recall_at_10,
        mrr: scores.mrr,
    };
    ctx.add_metadata("recall_at_1", result.recall_at_1);
    ctx.add_metadata("recall_at_5", result.recall_at_5);
    ctx.add_metadata("recall_at_10", result.recall_at_10);
    ctx.add_metadata("mrr", result.mrr);
    ctx.log.info(format!(
        "{n} queries over {} chunks: recall@1 {:.3}, recall@5 {:.3}, MRR {:.3}",
        chunks.len(),
        result.recall_at_1,
        result.recall_at_5,
        result.mrr
    ));
    Ok(Json(result))
}

/// Each embedding's position, by chunk id.
pub fn index_of(embeddings: &[Embedding]) -> HashMap<&str, usize> {
    embeddings
        .iter()
        .enumerate()
        .map(|(i, e)| (e.chunk_id.as_str(), i))
        .collect()
}

/// Where the source chunk ranks (1 = first) among every chunk for a query of `query_words`
/// words cut from its middle; `usize::MAX` when it has no embedding.
pub fn rank(
    chunk: &Chunk,
    embeddings: &[Embedding],
    index: &HashMap<&str, usize>,
    query_words: usize,
) -> usize {
    let words: Vec<&str> = chunk.text.split_whitespace().collect();
    let mid = words.len() / 2;
    let start = mid.saturating_sub(query_words / 2);
    let end = (start + query_words).min(words.len());
    let query = embed(&words[start..end].join(" "));
    let Some(&target) = index.get(chunk.chunk_id.as_str()) else {
        return usize::MAX;
    };
    let score = dot(&query, &embeddings[target].vector);
    1 + embeddings
        .iter()
        .enumerate()
        .filter(|(i, e)| *i != target && dot(&query, &e.vector) > score)
        .count()
}

/// Recall at 1, 5 and 10 and the mean reciprocal rank of a set of ranks.
pub struct Scores {
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_10: f64,
    pub mrr: f64,
}

impl Scores {
    pub fn of(ranks: &[usize]) -> Self {
        let n = ranks.len().max(1) as f64;
        let recall = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / n;
        Scores {
            recall_at_1: recall(1),
            recall_at_5: recall(5),
            recall_at_10: recall(10),
            mrr: ranks
                .iter()
                .map(|&r| if r == usize::MAX { 0.0 } else { 1.0 / r as f64 })
                .sum::<f64>()
                / n,
        }
    }
}
