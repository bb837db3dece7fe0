//! Time, injected: the clock every engine, daemon and status read asks for "now", and the
//! instant `STEMMA_NOW` replays.

use std::fmt;

/// Microseconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// A source of the current time; injected so that time-dependent behaviour is testable.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;

    /// Waits `d` on this clock (retry delays): real time for the system clock; a manual clock
    /// moves forward by `d` at once, so tests see the delays without sleeping.
    fn sleep(&self, d: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now().timestamp_micros()
    }
}

/// The instant `STEMMA_NOW` names (RFC 3339), if it is set and valid: a process told to act at
/// another instant (replaying a night of schedules) builds its definitions as of then too, so
/// that time windows end where they would have ended at that instant.
pub fn replayed_now() -> Option<chrono::DateTime<chrono::Utc>> {
    let text = std::env::var("STEMMA_NOW").ok()?;
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.to_utc())
}

/// A clock that stands still until moved: for tests and for replaying a day of schedules.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(at: chrono::DateTime<chrono::Utc>) -> Self {
        ManualClock(std::sync::atomic::AtomicI64::new(at.timestamp_micros()))
    }

    pub fn set(&self, at: chrono::DateTime<chrono::Utc>) {
        self.0
            .store(at.timestamp_micros(), std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.0
            .fetch_add(by.as_micros() as i64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn sleep(&self, d: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
        self.advance(d);
        Box::pin(tokio::task::yield_now())
    }
}
