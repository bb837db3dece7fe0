//! `chunks`: documents split into overlapping windows of words.

use serde::{Deserialize, Serialize};
use stemma::prelude::*;

use crate::documents::Document;

/// One chunk of one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// `doc_id#position`.
    pub chunk_id: String,
    pub doc_id: String,
    pub topic: String,
    /// 0 for a document's first chunk.
    pub position: i32,
    pub text: String,
    pub words: i32,
}

/// Every document split into windows of `chunk_words` words, neighbours sharing
/// `chunk_overlap` words; one row per chunk with its document, position and text.
#[asset(group = "rag", kinds = ["parquet"], owners = ["team:ml"], tags(layer = "silver"))]
pub fn chunks(ctx: &AssetContext, raw_documents: Rows<Document>) -> AssetResult<Rows<Chunk>> {
    let size: usize = ctx.config().get("chunk_words")?;
    let overlap: usize = ctx.config().get("chunk_overlap")?;
    if size == 0 || overlap >= size {
        return Err(format!(
            "chunk_overlap ({overlap}) must be smaller than chunk_words ({size}), which must be positive"
        )
        .into());
    }
    let mut out = Vec::new();
    for doc in raw_documents.iter() {
        let words: Vec<&str> = doc.text.split_whitespace().collect();
        for (position, window) in windows(words.len(), size, overlap).into_iter().enumerate() {
            let text = words[window.clone()].join(" ");
            out.push(Chunk {
                chunk_id: format!("{}#{position}", doc.doc_id),
                doc_id: doc.doc_id.clone(),
                topic: doc.topic.clone(),
                position: position as i32,
                words: window.len() as i32,
                text,
            });
        }
    }
    ctx.log.info(format!(
        "{} documents into {} chunks of up to {size} words ({overlap} overlap)",
        raw_documents.len(),
        out.len()
    ));
    Ok(Rows(out))
}

/// Word ranges of the chunks of a `len`-word document. Every word is covered; the last window
/// is not a mere suffix of the one before it.
pub fn windows(len: usize, size: usize, overlap: usize) -> Vec<std::ops::Range<usize>> {
    let step = size - overlap;
    let mut out = Vec::new();
    let mut start = 0;
    while start < len {
        let end = (start + size).min(len);
        out.push(start..end);
        if end == len {
            break;
        }
        start += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_word_with_overlap() {
        assert_eq!(windows(0, 5, 2), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(windows(3, 5, 2), vec![(0..3)]);
        assert_eq!(windows(5, 5, 2), vec![(0..5)]);
        assert_eq!(windows(6, 5, 2), [0..5, 3..6]);
        assert_eq!(windows(11, 5, 2), [0..5, 3..8, 6..11]);
        for len in 1..200 {
            let w = windows(len, 80, 20);
            assert_eq!(w.first().unwrap().start, 0);
            assert_eq!(w.last().unwrap().end, len);
            for pair in w.windows(2) {
                assert_eq!(pair[0].end - pair[1].start, 20);
            }
        }
    }
}
