//! `embeddings`: a lexical embedding of every chunk.
//!
//! Feature hashing ("the hashing trick"): each word and each pair of neighbouring words is
//! hashed into one of 256 buckets with a sign, counts are damped (`ln(1 + n)`), and the
//! vector is L2-normalized, so the dot product of two vectors is their cosine similarity.

use std::borrow::Cow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stemma::arrow::datatypes::{DataType, Field};
use stemma::prelude::*;

use crate::chunks::Chunk;

/// Dimensions of the embedding.
pub const DIMS: usize = 256;

/// Very common English words carry no topic; they are left out. Sorted (binary search).
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
pub fn embeddings(ctx: &AssetContext, chunks: Rows<Chunk>) -> AssetResult<Table> {
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
    // Stored as FixedSizeList<Float32, 256>: vector tools read each one as an array (readers
    // here still take `Rows<Embedding>`).
    Ok(Table::from_rows_as(&out, &[("vector", vector_type())])?)
}

/// The Arrow type of a stored embedding.
pub fn vector_type() -> DataType {
    DataType::FixedSizeList(
        std::sync::Arc::new(Field::new("item", DataType::Float32, false)),
        DIMS as i32,
    )
}

/// Lower-case alphanumeric tokens of at least two characters, stopwords removed.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_token(text, |t| out.push(t.into_owned()));
    out
}

/// Calls `f` with every token of `text`, as [`tokens`] splits them, allocating only for a
/// token that has to be lower-cased.
fn for_each_token<'a>(text: &'a str, mut f: impl FnMut(Cow<'a, str>)) {
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        let ascii = raw.is_ascii();
        let short = if ascii {
            raw.len() < 2
        } else {
            raw.chars().nth(1).is_none()
        };
        if short {
            continue;
        }
        let token = if !ascii {
            Cow::Owned(raw.to_lowercase())
        } else if raw.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(raw.to_ascii_lowercase())
        } else {
            Cow::Borrowed(raw)
        };
        if STOPWORDS.binary_search(&token.as_ref()).is_err() {
            f(token);
        }
    }
}

/// The embedding of a text.
pub fn embed(text: &str) -> [f32; DIMS] {
    let mut counts = [0f32; DIMS];
    let mut add = |bytes: &[&[u8]], weight: f32| {
        let h = fnv1a(bytes);
        let bucket = (h % DIMS as u64) as usize;
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        counts[bucket] += sign * weight;
    };
    // Counts are sums of ±1 and ±0.5, exact in f32 in any order.
    let mut previous: Option<Cow<'_, str>> = None;
    for_each_token(text, |t| {
        add(&[t.as_bytes()], 1.0);
        if let Some(p) = &previous {
            add(&[p.as_bytes(), b" ", t.as_bytes()], 0.5);
        }
        previous = Some(t);
    });
    let mut v = counts.map(|c| c.signum() * c.abs().ln_1p());
    let norm = dot(&v, &v).sqrt();
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

/// The dot product (the cosine similarity of two normalized vectors), in eight independent
/// lanes so that the compiler can vectorize it (a single running sum cannot be reordered).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0f32; 8];
    let (xs, ys) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in xs.zip(ys) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
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
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.25 - 2.0).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.5 - i as f32 * 0.125).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
        assert_eq!(dot(&[], &[]), 0.0);
    }

    #[test]
    fn tokenizer_drops_stopwords_and_punctuation() {
        assert_eq!(
            tokens("The B-tree's index, in SQL!"),
            ["tree", "index", "sql"]
        );
    }
}
