//! `embeddings`: a lexical embedding of every chunk.
//!
//! Feature hashing ("the hashing trick"): each word and each pair of neighbouring words is
//! hashed into one of 256 buckets with a sign, counts are damped (`ln(1 + n)`), and the
//! vector is L2-normalized, so the dot product of two vectors is their cosine similarity.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stemma::prelude::*;

use crate::chunks::Chunk;

/// Dimensions of the embedding.
pub const DIMS: usize = 256;

/// Very common English words carry no topic; they are left out.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "do", "for", "from",
    "has", "have", "if", "in", "into", "is", "it", "its", "of", "on", "or", "so", "than", "that",
    "the", "their", "then", "there", "these", "they", "this", "to", "was", "were", "when", "which",
    "while", "will", "with", "you", "your",
];

/// The embedding of one chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    pub chunk_id: String,
    pub doc_id: String,
    pub topic: String,
    pub vector: Vec<f32>,
}

/// A 256-dimensional lexical embedding of every chunk: feature-hashed word and bigram counts,
/// sublinear term frequency, L2-normalized. Computed in parallel over all cores.
#[asset(group = "rag", kinds = ["parquet"], owners = ["team:ml"], tags(layer = "gold"))]
pub fn embeddings(ctx: &AssetContext, chunks: Rows<Chunk>) -> AssetResult<Rows<Embedding>> {
    let out: Vec<Embedding> = chunks
        .par_iter()
        .map(|c| Embedding {
            chunk_id: c.chunk_id.clone(),
            doc_id: c.doc_id.clone(),
            topic: c.topic.clone(),
            vector: embed(&c.text).to_vec(),
        })
        .collect();
    let zero = out
        .iter()
        .filter(|e| e.vector.iter().all(|&x| x == 0.0))
        .count();
    if zero > 0 {
        ctx.log
            .warn(format!("{zero} chunks have no words to embed"));
    }
    ctx.add_metadata("dimensions", DIMS);
    ctx.log.info(format!(
        "embedded {} chunks in {DIMS} dimensions",
        out.len()
    ));
    Ok(Rows(out))
}

/// Lower-case alphanumeric tokens of at least two characters, stopwords removed.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| t.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|t| !STOPWORDS.contains(&t.as_str()))
        .collect()
}

/// The embedding of a text.
pub fn embed(text: &str) -> [f32; DIMS] {
    let tokens = tokens(text);
    let mut counts = [0f32; DIMS];
    let mut add = |bytes: &[&[u8]], weight: f32| {
        let h = fnv1a(bytes);
        let bucket = (h % DIMS as u64) as usize;
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        counts[bucket] += sign * weight;
    };
    for (i, t) in tokens.iter().enumerate() {
        add(&[t.as_bytes()], 1.0);
        if let Some(next) = tokens.get(i + 1) {
            add(&[t.as_bytes(), b" ", next.as_bytes()], 0.5);
        }
    }
    let mut v = counts.map(|c| c.signum() * c.abs().ln_1p());
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// 64-bit FNV-1a over the concatenation of `parts`: tiny and stable across platforms.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The dot product (the cosine similarity of two normalized vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_length_deterministic_and_topical() {
        let a = embed("The telescope saw a distant galaxy and its stars.");
        let norm = dot(&a, &a).sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert_eq!(
            a,
            embed("The telescope saw a distant galaxy and its stars.")
        );
        let near = embed("A galaxy of stars seen through the telescope.");
        let far = embed("Knead the dough, then bake the bread in a hot oven.");
        assert!(dot(&a, &near) > dot(&a, &far) + 0.2);
        assert_eq!(embed("the of and"), [0.0; DIMS]);
    }

    #[test]
    fn tokenizer_drops_stopwords_and_punctuation() {
        assert_eq!(
            tokens("The B-tree's index, in SQL!"),
            ["tree", "index", "sql"]
        );
    }
}
