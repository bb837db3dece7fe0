//! Read connections: a small pool, opened as readers come, so that readers (status views, API
//! requests, a why-stale) do not wait on one another. WAL lets each read a consistent snapshot
//! while the writer thread commits.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::model::error::{Error, Result};

/// Up to `max` read connections to one database.
pub(super) struct Readers {
    db: PathBuf,
    state: Mutex<State>,
    returned: Condvar,
    max: usize,
    /// How many times a reader waited for another to return a connection.
    waits: AtomicU64,
}

struct State {
    idle: Vec<Connection>,
    /// Connections open now, idle or lent.
    open: usize,
}

impl Readers {
    /// A pool that starts with `first` and opens up to `max` connections in all (`max` 1: only
    /// `first`, for an instance that must keep to one connection).
    pub(super) fn new(db: &Path, first: Connection, max: usize) -> Self {
        Readers {
            db: db.to_path_buf(),
            state: Mutex::new(State {
                idle: vec![first],
                open: 1,
            }),
            returned: Condvar::new(),
            max: max.max(1),
            waits: AtomicU64::new(0),
        }
    }

    /// The number of read connections a shared instance opens at most:
    /// `STEMMA_READ_CONNECTIONS` (1 to 64), or 16 — enough that a busy status page or API does
    /// not queue readers behind one another; each is opened only when a reader needs it.
    pub(super) fn default_max() -> usize {
        std::env::var("STEMMA_READ_CONNECTIONS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map_or(16, |n| n.clamp(1, 64))
    }

    /// How many times a reader has waited for a connection another reader held.
    pub(super) fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    /// An idle connection, a new one while fewer than `max` are open, or the first returned.
    pub(super) fn get(&self) -> Result<Reader<'_>> {
        let mut state = self.lock()?;
        let mut waited = false;
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Reader {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match super::open_connection(&self.db) {
                    Ok(conn) => Ok(Reader {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.lock()?.open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            if !waited {
                waited = true;
                self.waits.fetch_add(1, Ordering::Relaxed);
            }
            state = self
                .returned
                .wait(state)
                .map_err(|_| Error::Internal("instance readers lock poisoned".into()))?;
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("instance readers lock poisoned".into()))
    }
}

/// A read connection lent by [`Readers`]; returned when dropped.
pub(super) struct Reader<'a> {
    pool: &'a Readers,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A poisoned lock means a reader panicked while holding it: the connection is closed
            // instead of returned, and the count stays (the pool only shrinks in a bug).
            if let Ok(mut state) = self.pool.state.lock() {
                state.idle.push(conn);
                self.pool.returned.notify_one();
            }
        }
    }
}
