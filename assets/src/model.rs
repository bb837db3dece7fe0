//! `topic_model` and `predictions`: a softmax classifier of the topic over the embeddings, and
//! batch inference with it.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use stemma::prelude::*;

use crate::documents::Rng;
use crate::embed::{DIMS, Embedding};

/// Base learning rate of stochastic gradient descent (decays per epoch).
const LEARNING_RATE: f32 = 0.5;

/// A trained multinomial logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicModel {
    pub labels: Vec<String>,
    pub dims: u32,
    /// `labels.len() × dims`, row-major.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub train_rows: u64,
    pub test_rows: u64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    /// Accuracy of always answering the most common topic, on the same test rows.
    pub baseline_accuracy: f64,
}

impl TopicModel {
    /// Class probabilities for one vector.
    pub fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        let d = self.dims as usize;
        let logits: Vec<f32> = (0..self.labels.len())
            .map(|k| {
                let w = &self.weights[k * d..(k + 1) * d];
                w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + self.bias[k]
            })
            .collect();
        softmax(&logits)
    }

    /// The most likely label and its probability.
    pub fn predict(&self, x: &[f32]) -> (usize, f32) {
        let p = self.probabilities(x);
        p.iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0))
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        postcard::to_allocvec(self).map_err(|e| format!("cannot encode the model: {e}"))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let model: TopicModel = postcard::from_bytes(bytes)
            .map_err(|e| format!("the model bytes cannot be read: {e}"))?;
        let (k, d) = (model.labels.len(), model.dims as usize);
        if model.weights.len() != k * d || model.bias.len() != k {
            return Err("the model's weights do not match its labels and dimensions".into());
        }
        Ok(model)
    }

    fn accuracy(&self, rows: &[(&[f32], usize)]) -> f64 {
        if rows.is_empty() {
            return 0.0;
        }
        let right = rows.iter().filter(|(x, y)| self.predict(x).0 == *y).count();
        right as f64 / rows.len() as f64
    }
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// Whether a chunk is held out for testing: a fifth of the chunks, chosen by id. (A split by
/// document would be stricter, but the shipped corpus has only four documents per topic, each
/// on its own subject.)
fn held_out(chunk_id: &str) -> bool {
    chunk_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) % 5
        == 0
}

/// Trains a softmax regression with stochastic gradient descent.
pub fn train(
    rows: &[(&[f32], usize)],
    labels: Vec<String>,
    epochs: usize,
    seed: u64,
) -> TopicModel {
    let (k, d) = (labels.len(), DIMS);
    let mut weights = vec![0f32; k * d];
    let mut bias = vec![0f32; k];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = Rng::new(seed);
    let mut logits = vec![0f32; k];
    for epoch in 0..epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.2);
        for &i in &order {
            let (x, y) = rows[i];
            for (c, l) in logits.iter_mut().enumerate() {
                let w = &weights[c * d..(c + 1) * d];
                *l = w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + bias[c];
            }
            let p = softmax(&logits);
            for c in 0..k {
                let g = p[c] - if c == y { 1.0 } else { 0.0 };
                if g.abs() < 1e-6 {
                    continue;
                }
                for (w, xi) in weights[c * d..(c + 1) * d].iter_mut().zip(x) {
                    *w -= lr * g * xi;
                }
                bias[c] -= lr * g;
            }
        }
    }
    TopicModel {
        labels,
        dims: d as u32,
        weights,
        bias,
        train_rows: 0,
        test_rows: 0,
        train_accuracy: 0.0,
        test_accuracy: 0.0,
        baseline_accuracy: 0.0,
    }
}

/// A topic classifier over the embeddings: multinomial logistic regression trained by
/// stochastic gradient descent on four fifths of the chunks; accuracy is measured on the
/// held-out fifth. Stored as bytes. Runs only after retrieval passes its quality gate.
#[asset(group = "model", kinds = ["bytes"], owners = ["team:ml"], deps = [retrieval_eval])]
pub fn topic_model(ctx: &AssetContext, embeddings: Rows<Embedding>) -> AssetResult<Blob> {
    let epochs: usize = ctx.config().get("train_epochs")?;
    let seed: u64 = ctx.config().get("seed")?;
    let mut label_of: BTreeMap<&str, usize> = BTreeMap::new();
    for e in embeddings.iter() {
        let next = label_of.len();
        label_of.entry(e.topic.as_str()).or_insert(next);
    }
    if label_of.len() < 2 {
        return Err(format!(
            "a classifier needs at least two topics, found {} ({}); topics are the folders of the source documents",
            label_of.len(),
            label_of.keys().copied().collect::<Vec<_>>().join(", ")
        )
        .into());
    }
    // Stable label order: alphabetical.
    let labels: Vec<String> = label_of.keys().map(|s| (*s).to_owned()).collect();
    let index: BTreeMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let (mut train_rows, mut test_rows) = (Vec::new(), Vec::new());
    for e in embeddings.iter() {
        let row = (e.vector.as_slice(), index[e.topic.as_str()]);
        if held_out(&e.chunk_id) {
            test_rows.push(row);
        } else {
            train_rows.push(row);
        }
    }
    if test_rows.is_empty() {
        ctx.log
            .warn("no document was held out for testing; accuracy is measured on the training set");
        test_rows = train_rows.clone();
    }
    let mut model = train(&train_rows, labels, epochs, seed);
    model.train_rows = train_rows.len() as u64;
    model.test_rows = test_rows.len() as u64;
    model.train_accuracy = model.accuracy(&train_rows);
    model.test_accuracy = model.accuracy(&test_rows);
    let mut counts = vec![0usize; model.labels.len()];
    for (_, y) in &test_rows {
        counts[*y] += 1;
    }
    model.baseline_accuracy =
        counts.iter().copied().max().unwrap_or(0) as f64 / test_rows.len().max(1) as f64;
    ctx.log.info(format!(
        "trained on {} chunks ({} topics, {epochs} epochs): test accuracy {:.3}, train {:.3}, baseline {:.3}",
        model.train_rows,
        model.labels.len(),
        model.test_accuracy,
        model.train_accuracy,
        model.baseline_accuracy
    ));
    ctx.add_metadata("accuracy", model.test_accuracy);
    ctx.add_metadata("train_accuracy", model.train_accuracy);
    ctx.add_metadata("baseline_accuracy", model.baseline_accuracy);
    ctx.add_metadata("classes", model.labels.len());
    ctx.add_metadata("labels", model.labels.join(", "));
    Ok(Blob(model.to_bytes()?.into()))
}

/// One prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub chunk_id: String,
    pub doc_id: String,
    pub topic: String,
    pub predicted: String,
    pub confidence: f32,
    pub correct: bool,
}

/// Batch inference: the topic model applied to every chunk's embedding, in parallel.
#[asset(group = "model", kinds = ["parquet"], owners = ["team:ml"])]
pub fn predictions(
    ctx: &AssetContext,
    topic_model: Blob,
    embeddings: Rows<Embedding>,
) -> AssetResult<Rows<Prediction>> {
    let model = TopicModel::from_bytes(&topic_model)?;
    let out: Vec<Prediction> = embeddings
        .par_iter()
        .map(|e| {
            let (label, confidence) = model.predict(&e.vector);
            let predicted = model.labels[label].clone();
            Prediction {
                chunk_id: e.chunk_id.clone(),
                doc_id: e.doc_id.clone(),
                correct: predicted == e.topic,
                topic: e.topic.clone(),
                predicted,
                confidence,
            }
        })
        .collect();
    let accuracy = out.iter().filter(|p| p.correct).count() as f64 / out.len().max(1) as f64;
    ctx.add_metadata("accuracy", accuracy);
    ctx.log
        .info(format!("{} predictions, accuracy {accuracy:.3}", out.len()));
    Ok(Rows(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::embed;

    #[test]
    fn generalizes_to_held_out_documents_and_round_trips_as_bytes() {
        let docs = crate::documents::generate(120, 3);
        let topics: Vec<String> = {
            let mut t: Vec<String> = docs.iter().map(|d| d.topic.clone()).collect();
            t.sort();
            t.dedup();
            t
        };
        let vectors: Vec<([f32; DIMS], usize)> = docs
            .iter()
            .map(|d| {
                (
                    embed(&d.text),
                    topics.iter().position(|t| *t == d.topic).unwrap(),
                )
            })
            .collect();
        let rows: Vec<(&[f32], usize)> = vectors.iter().map(|(v, y)| (v.as_slice(), *y)).collect();
        let (train_rows, test_rows) = rows.split_at(96);
        let model = train(train_rows, topics, 20, 1);
        let accuracy = model.accuracy(test_rows);
        assert!(accuracy >= 0.9, "held-out accuracy {accuracy}");
        let (_, confidence) = model.predict(test_rows[0].0);
        assert!(confidence > 0.0 && confidence <= 1.0);
        let back = TopicModel::from_bytes(&model.to_bytes().unwrap()).unwrap();
        assert_eq!(back, model);
        assert!(TopicModel::from_bytes(b"junk").is_err());
    }
}
