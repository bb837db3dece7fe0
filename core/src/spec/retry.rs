//! Retry policies: how often and how patiently a failed step is tried again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the delay grows between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    Constant,
    Linear,
    Exponential,
}

/// Retry policy of an asset: `max_retries` further attempts after the first failure, waiting
/// `delay` (grown by `backoff`, capped at `max_delay`) in between.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub delay: Duration,
    pub backoff: Backoff,
    pub max_delay: Option<Duration>,
}

impl Default for RetryPolicy {
    /// No retries: a failure fails the step.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 0,
            delay: Duration::ZERO,
            backoff: Backoff::Constant,
            max_delay: None,
        }
    }
}

impl RetryPolicy {
    /// Retry up to `max_retries` times, immediately.
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            ..Default::default()
        }
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = Some(max);
        self
    }

    /// The wait before attempt `attempt` (2 for the first retry).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let n = attempt.saturating_sub(1).max(1);
        let d = match self.backoff {
            Backoff::Constant => self.delay,
            Backoff::Linear => self.delay.saturating_mul(n),
            Backoff::Exponential => self
                .delay
                .saturating_mul(2u32.saturating_pow(n.saturating_sub(1))),
        };
        match self.max_delay {
            Some(max) => d.min(max),
            None => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::new(5)
            .delay(Duration::from_millis(100))
            .backoff(Backoff::Exponential)
            .max_delay(Duration::from_millis(350));
        let delays: Vec<u128> = (2..=5).map(|a| p.delay_before(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 350, 350]);
        let linear = RetryPolicy::new(3)
            .delay(Duration::from_millis(10))
            .backoff(Backoff::Linear);
        assert_eq!(linear.delay_before(4).as_millis(), 30);
    }
}
