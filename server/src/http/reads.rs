//! The threads the API's reads of the instance run on: a few of their own, at a lower
//! priority than everything else on the machine (nice 10 on Unix), so that requests queue and
//! wait rather than take the CPU from the runs this server launched (which run at the normal
//! priority in their own processes).

use std::sync::{Arc, Mutex, mpsc};

use stemma::{Engine, Error, Result};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&Engine) + Send>;

/// A pool of low-priority threads, each with the engine.
pub struct Reads {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Reads {
    /// `threads` threads reading for `engine`.
    pub fn new(engine: &Engine, threads: usize) -> Arc<Reads> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            let engine = engine.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("stemma-read-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&engine),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!("cannot start a read thread: {e}");
            }
        }
        Arc::new(Reads {
            jobs: Mutex::new(tx),
        })
    }

    /// Runs `read` on one of the pool's threads.
    pub async fn run<T, F>(&self, read: F) -> Result<T>
    where
        F: FnOnce(&Engine) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |engine| {
            let _ = done.send(read(engine));
        });
        self.jobs
            .lock()
            .map_err(|_| Error::Internal("the read threads' queue is poisoned".into()))?
            .send(job)
            .map_err(|_| Error::Internal("the read threads have stopped".into()))?;
        result
            .await
            .map_err(|_| Error::Internal("a read of the instance stopped".into()))?
    }
}

/// Nice 10 for the calling thread (on Linux, priority is per thread: `PRIO_PROCESS` with no
/// pid names the calling thread).
fn lower_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, 10) {
        tracing::debug!("cannot lower the priority of a read thread: {e}");
    }
}
