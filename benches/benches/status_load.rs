//! Status reads while a run writes: the latency of `Engine::status` (1,000 assets) read alone,
//! then by 16 threads at once while a forced 1,000-step run commits, and how often a reader
//! waited for a read connection another held.
//!
//! `cargo bench -p stemma-benches --bench status_load`; `STEMMA_READ_CONNECTIONS=1` gives the
//! one-connection instance for comparison.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stemma::{AssetGraph, Materialize, NoObserver};

const ASSETS: usize = 1_000;
const READERS: usize = 16;
const ALONE: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{label:<34} n={:<6} p50={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let graph = AssetGraph::new(stemma_benches::layered(ASSETS, 50)).unwrap();
    let engine = Arc::new(stemma_server::open_engine(graph, dir.path()).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let first = runtime
        .block_on(engine.materialize(Materialize::new("*"), Arc::new(NoObserver)))
        .unwrap();
    assert_eq!(first.steps, ASSETS);

    let alone: Vec<Duration> = (0..ALONE)
        .map(|_| {
            let t = Instant::now();
            engine.status().unwrap();
            t.elapsed()
        })
        .collect();
    report("status alone", alone);

    let waits_before = engine.instance().reader_waits();
    let running = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let engine = Arc::clone(&engine);
            let running = Arc::clone(&running);
            std::thread::spawn(move || {
                let mut samples = Vec::new();
                while running.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    engine.status().unwrap();
                    samples.push(t.elapsed());
                }
                samples
            })
        })
        .collect();
    let started = Instant::now();
    let run = runtime
        .block_on(engine.materialize(Materialize::new("*").force(true), Arc::new(NoObserver)))
        .unwrap();
    let run_took = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let under: Vec<Duration> = readers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(run.steps, ASSETS);
    report(&format!("status, {READERS} readers during the run"), under);
    println!(
        "run of {ASSETS} forced steps: {:.2} s; readers waited for a connection {} times",
        run_took.as_secs_f64(),
        engine.instance().reader_waits() - waits_before
    );
}
