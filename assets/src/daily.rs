//! `daily_quality`: retrieval quality measured every night on a fresh sample of queries — the
//! demo's partitioned asset, one partition per day in Berlin, filled at 01:00 by the
//! `nightly_quality` schedule (or by `assets backfill` for past days).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stemma::hash::StableHasher;
use stemma::prelude::*;

use crate::chunks::Chunk;
use crate::documents::Rng;
use crate::embed::Embedding;
use crate::eval::{Scores, index_of, rank};

/// One day's measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyQuality {
    pub day: String,
    pub queries: i64,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub mrr: f64,
}

/// One partition per day in Berlin, from 1 November 2026 up to yesterday.
pub fn days() -> TimeWindows {
    TimeWindows::daily("2026-11-01").timezone("Europe/Berlin")
}

/// The retrieval quality of one day: `eval_queries` chunks drawn at random (the day is the
/// seed, so a day always draws the same sample and each day another), each searched for with
/// `eval_query_words` words cut from its middle. A nightly probe of the index, kept per day.
#[asset(
    partitions = days(),
    group = "rag",
    kinds = ["parquet"],
    owners = ["team:ml"],
    tags(layer = "quality")
)]
pub fn daily_quality(
    ctx: &AssetContext,
    chunks: Rows<Chunk>,
    embeddings: Rows<Embedding>,
) -> AssetResult<Rows<DailyQuality>> {
    let day = ctx
        .partition_key()
        .ok_or("daily_quality is partitioned by day")?
        .to_owned();
    let wanted: usize = ctx.config().get("eval_queries")?;
    let query_words: usize = ctx.config().get("eval_query_words")?;
    if chunks.is_empty() {
        return Err("there are no chunks to evaluate retrieval on".into());
    }
    let index = index_of(&embeddings);
    let mut seed = StableHasher::new("assets.daily_quality.v1");
    seed.str(&day);
    let seed = u64::from_str_radix(&seed.finish_hex()[..16], 16)?;
    let mut rng = Rng::new(seed);
    let sample: Vec<&Chunk> = (0..wanted.max(1))
        .map(|_| &chunks[rng.below(chunks.len())])
        .collect();
    let ranks: Vec<usize> = sample
        .par_iter()
        .map(|c| rank(c, &embeddings, &index, query_words))
        .collect();
    let scores = Scores::of(&ranks);
    ctx.add_metadata("recall_at_5", scores.recall_at_5);
    ctx.add_metadata("mrr", scores.mrr);
    ctx.log.info(format!(
        "{day}: {} queries, recall@5 {:.3}, MRR {:.3}",
        ranks.len(),
        scores.recall_at_5,
        scores.mrr
    ));
    Ok(Rows(vec![DailyQuality {
        day,
        queries: ranks.len() as i64,
        recall_at_1: scores.recall_at_1,
        recall_at_5: scores.recall_at_5,
        mrr: scores.mrr,
    }]))
}

/// Every night at 01:00 in Berlin, the day that just ended.
pub fn nightly_quality() -> ScheduleDef {
    ScheduleDef::new("nightly_quality", "0 1 * * *", "Europe/Berlin")
        .select("daily_quality")
        .latest_completed_partition()
        .running_by_default()
        .description("every night at 01:00 Berlin time: the day that just ended")
}
