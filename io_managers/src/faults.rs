//! Fault injection: an `ObjectStore` wrapper that fails or slows down writes the way real
//! storage does, so tests can show that a failed write leaves nothing visible and commits
//! nothing.
//!
//! * [`Fault::OutOfSpace`] fails every write with the operating system's "no space left on
//!   device" error.
//! * [`Fault::Slow`] delays every request (reads, writes, lists) by a fixed time.
//!
//! The fault can be changed while the store is in use ([`FaultyStore::set`]).
//!
//! A write cut off part-way is not faked here: a fake that aborts its own upload proves only
//! the fake. `io_managers/tests/it` kills (SIGKILL) a process in the middle of a real write to
//! local files and to moto instead, and finds nothing visible.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every write fails: the device is full.
    OutOfSpace,
    /// Every request takes this much longer.
    Slow(Duration),
}

/// An `ObjectStore` that injects a [`Fault`] into the store it wraps.
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    fault: Mutex<Option<Fault>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, fault: Option<Fault>) -> Self {
        FaultyStore {
            inner,
            fault: Mutex::new(fault),
        }
    }

    /// Changes the fault (`None`: behave like the wrapped store).
    pub fn set(&self, fault: Option<Fault>) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    fn fault(&self) -> Option<Fault> {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn delay(&self) {
        if let Some(Fault::Slow(d)) = self.fault() {
            tokio::time::sleep(d).await;
        }
    }
}

type Error = object_store::Error;

fn injected(e: std::io::Error) -> Error {
    Error::Generic {
        store: "FaultyStore",
        source: Box::new(e),
    }
}

fn out_of_space() -> Error {
    injected(std::io::Error::from_raw_os_error(28))
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({}, {:?})", self.inner, self.fault())
    }
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        match self.fault() {
            Some(Fault::OutOfSpace) => Err(out_of_space()),
            _ => {
                self.delay().await;
                self.inner.put_opts(location, payload, opts).await
            }
        }
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        match self.fault() {
            Some(Fault::OutOfSpace) => Err(out_of_space()),
            _ => {
                self.delay().await;
                self.inner.put_multipart_opts(location, opts).await
            }
        }
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.delay().await;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let delay = match self.fault() {
            Some(Fault::Slow(d)) => Some(d),
            _ => None,
        };
        let inner = self.inner.list(prefix);
        match delay {
            Some(d) => futures::stream::once(async move {
                tokio::time::sleep(d).await;
                inner
            })
            .flatten()
            .boxed(),
            None => inner,
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.delay().await;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        if let Some(Fault::OutOfSpace) = self.fault() {
            return Err(out_of_space());
        }
        self.delay().await;
        self.inner.copy_opts(from, to, options).await
    }
}
