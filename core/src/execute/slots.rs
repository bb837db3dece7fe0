//! Holding a slot of a concurrency pool (see [`crate::instance`]'s pools): waiting for one,
//! renewing its lease in the background while held, giving it back.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::instance::{Instance, Slot, StorageUse};
use crate::model::error::{Error, Result};

/// A held slot (or none needed: the pool has no limit).
pub(crate) struct PoolSlot {
    instance: Arc<Instance>,
    lease: Option<String>,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl PoolSlot {
    /// Waits for a free slot of `pool` (polling, with backoff up to half a second), calling
    /// `waiting` once if it has to wait. `None`: canceled while waiting.
    pub(crate) async fn acquire(
        instance: &Arc<Instance>,
        pool: &str,
        holder: &str,
        lease: Duration,
        cancel: &CancellationToken,
        waiting: impl FnOnce(),
    ) -> Result<Option<PoolSlot>> {
        let (p, h) = (pool.to_owned(), holder.to_owned());
        Self::acquire_with(
            instance,
            pool,
            move |i| i.try_acquire_slot(&p, &h, lease),
            lease,
            cancel,
            waiting,
        )
        .await
    }

    /// Waits for the storage lease of a run (refused while garbage collection deletes
    /// objects), calling `waiting` once if it has to wait. `None`: canceled while waiting.
    pub(crate) async fn acquire_storage(
        instance: &Arc<Instance>,
        holder: &str,
        lease: Duration,
        cancel: &CancellationToken,
        waiting: impl FnOnce(),
    ) -> Result<Option<PoolSlot>> {
        let h = holder.to_owned();
        Self::acquire_with(
            instance,
            crate::instance::STORAGE_RUNS_POOL,
            move |i| {
                Ok(i.try_acquire_storage(StorageUse::Run, &h, lease)?
                    .map(Slot::Leased))
            },
            lease,
            cancel,
            waiting,
        )
        .await
    }

    /// Takes garbage collection's storage lease if no run is in progress (`None` otherwise),
    /// renewed while held.
    pub(crate) async fn try_storage_for_gc(
        instance: &Arc<Instance>,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<PoolSlot>> {
        let i = Arc::clone(instance);
        let h = holder.to_owned();
        let taken =
            tokio::task::spawn_blocking(move || i.try_acquire_storage(StorageUse::Gc, &h, lease))
                .await
                .map_err(|e| Error::Internal(format!("storage lease: {e}")))??;
        Ok(taken.map(|id| PoolSlot {
            instance: Arc::clone(instance),
            renewal: Some(tokio::spawn(renew(Arc::clone(instance), id.clone(), lease))),
            lease: Some(id),
        }))
    }

    async fn acquire_with(
        instance: &Arc<Instance>,
        pool: &str,
        try_take: impl Fn(&Instance) -> Result<Option<Slot>> + Send + Sync + 'static,
        lease: Duration,
        cancel: &CancellationToken,
        waiting: impl FnOnce(),
    ) -> Result<Option<PoolSlot>> {
        let try_take = Arc::new(try_take);
        let mut wait = Duration::from_millis(20);
        let mut waiting = Some(waiting);
        loop {
            let (i, take) = (Arc::clone(instance), Arc::clone(&try_take));
            let taken = tokio::task::spawn_blocking(move || take(&i))
                .await
                .map_err(|e| Error::Internal(format!("pool {pool}: {e}")))??;
            match taken {
                Some(Slot::Unlimited) => {
                    return Ok(Some(PoolSlot {
                        instance: Arc::clone(instance),
                        lease: None,
                        renewal: None,
                    }));
                }
                Some(Slot::Leased(id)) => {
                    let renewal = tokio::spawn(renew(Arc::clone(instance), id.clone(), lease));
                    return Ok(Some(PoolSlot {
                        instance: Arc::clone(instance),
                        lease: Some(id),
                        renewal: Some(renewal),
                    }));
                }
                None => {}
            }
            if let Some(say) = waiting.take() {
                say();
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return Ok(None),
            }
            wait = (wait * 2).min(Duration::from_millis(500));
        }
    }

    pub(crate) async fn release(mut self) {
        if let Some(r) = self.renewal.take() {
            r.abort();
        }
        if let Some(id) = self.lease.take() {
            let instance = Arc::clone(&self.instance);
            let released = tokio::task::spawn_blocking(move || instance.release_slot(&id)).await;
            if let Ok(Err(e)) = released {
                // The lease expires on its own.
                tracing::warn!(target: "stemma::pools", "releasing a pool slot: {e}");
            }
        }
    }
}

impl Drop for PoolSlot {
    /// A slot dropped without [`release`](PoolSlot::release) (an error on the way) stops being
    /// renewed, so its lease expires instead of being held for the life of the process.
    fn drop(&mut self) {
        if let Some(r) = self.renewal.take() {
            r.abort();
        }
    }
}

/// Renews a lease every third of its length until aborted.
async fn renew(instance: Arc<Instance>, lease: String, length: Duration) {
    let mut every = tokio::time::interval(length / 3);
    every.tick().await;
    loop {
        every.tick().await;
        let (i, id) = (Arc::clone(&instance), lease.clone());
        match tokio::task::spawn_blocking(move || i.renew_slot(&id, length)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                tracing::warn!(target: "stemma::pools", "a pool slot lease expired before it was renewed");
                return;
            }
            Ok(Err(e)) => tracing::warn!(target: "stemma::pools", "renewing a pool slot: {e}"),
            Err(_) => return,
        }
    }
}
