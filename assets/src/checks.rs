//! Asset checks of the pipeline.

use stemma::prelude::*;

use crate::chunks::Chunk;
use crate::embed::{Embedding, dot};
use crate::eval::RetrievalEval;
use crate::model::TopicModel;

/// How far from 1 an embedding's length may be.
const NORM_TOLERANCE: f32 = 1e-3;

/// Every chunk has at least one word.
#[asset_check(asset = chunks)]
pub fn chunks_not_empty(chunks: Rows<Chunk>) -> CheckResult {
    let empty: Vec<&str> = chunks
        .iter()
        .filter(|c| c.text.trim().is_empty())
        .map(|c| c.chunk_id.as_str())
        .collect();
    CheckResult::from_bool(
        empty.is_empty(),
        match empty.first() {
            None => format!("all {} chunks have text", chunks.len()),
            Some(first) => format!("{} empty chunks, e.g. {first}", empty.len()),
        },
    )
    .metadata("empty_chunks", empty.len())
}

/// Every embedding has unit length, within 1e-3: retrieval scores are cosine similarities.
#[asset_check(asset = embeddings)]
pub fn embedding_norms(embeddings: Rows<Embedding>) -> CheckResult {
    let worst = embeddings
        .iter()
        .map(|e| (dot(&e.vector, &e.vector).sqrt(), e.chunk_id.as_str()))
        .max_by(|a, b| (a.0 - 1.0).abs().total_cmp(&(b.0 - 1.0).abs()));
    let bad = embeddings
        .iter()
        .filter(|e| (dot(&e.vector, &e.vector).sqrt() - 1.0).abs() > NORM_TOLERANCE)
        .count();
    let description = match worst {
        Some((norm, id)) if bad > 0 => {
            format!("{bad} embeddings are not unit length; worst {id} has norm {norm:.4}")
        }
        _ => format!(
            "all {} embeddings have norm 1 ± {NORM_TOLERANCE}",
            embeddings.len()
        ),
    };
    CheckResult::from_bool(bad == 0, description)
        .metadata("off_norm", bad)
        .metadata("worst_norm", f64::from(worst.map_or(1.0, |w| w.0)))
}

/// The quality gate: recall@5 must reach `min_recall_at_5`, or the model is not trained on
/// this index.
#[asset_check(asset = retrieval_eval, blocking)]
pub fn recall_gate(
    ctx: &AssetContext,
    retrieval_eval: Json<RetrievalEval>,
) -> AssetResult<CheckResult> {
    let min: f64 = ctx.config().get("min_recall_at_5")?;
    let recall = retrieval_eval.recall_at_5;
    Ok(CheckResult::from_bool(
        recall >= min,
        format!("recall@5 is {recall:.3}; the gate is {min}"),
    )
    .metadata("recall_at_5", recall)
    .metadata("threshold", min))
}

/// The model beats always answering the most common topic (a warning, not a gate).
#[asset_check(asset = topic_model)]
pub fn model_beats_baseline(topic_model: Blob) -> AssetResult<CheckResult> {
    let model = TopicModel::from_bytes(&topic_model)?;
    Ok(CheckResult::from_bool(
        model.test_accuracy > model.baseline_accuracy,
        format!(
            "test accuracy {:.3} against a baseline of {:.3}",
            model.test_accuracy, model.baseline_accuracy
        ),
    )
    .warn()
    .metadata("accuracy", model.test_accuracy)
    .metadata("baseline", model.baseline_accuracy))
}
