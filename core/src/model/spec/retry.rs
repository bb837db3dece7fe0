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

/// How much randomness spreads the delays, so that steps failing together (a rate limit, an
/// outage) do not all come back at once.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The delay as computed.
    #[default]
    None,
    /// Anywhere between zero and the delay ("full jitter").
    Full,
    /// The delay ± this fraction of it (`PlusMinus(0.2)`: 80–120 %).
    PlusMinus(f64),
}

/// Retry policy of an asset: `max_retries` further attempts after the first failure, waiting
/// `delay` (grown by `backoff`, spread by `jitter`, capped at `max_delay`) in between. A body
/// that knows retrying cannot help returns [`crate::NoRetry`] (or `Error::NoRetry`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub delay: Duration,
    pub backoff: Backoff,
    pub max_delay: Option<Duration>,
    #[serde(default)]
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    /// No retries: a failure fails the step.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 0,
            delay: Duration::ZERO,
            backoff: Backoff::Constant,
            max_delay: None,
            jitter: Jitter::None,
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

    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The wait before attempt `attempt`, spread by the jitter with `unit`, a number in
    /// `[0, 1)` (random in a run; fixed in tests). The cap holds after the jitter.
    pub fn jittered_delay_before(&self, attempt: u32, unit: f64) -> Duration {
        let d = self.delay_before(attempt).as_secs_f64();
        let unit = unit.clamp(0.0, 1.0);
        let spread = match self.jitter {
            Jitter::None => d,
            Jitter::Full => d * unit,
            Jitter::PlusMinus(f) => d * (1.0 + f.clamp(0.0, 1.0) * (2.0 * unit - 1.0)),
        };
        let spread = Duration::from_secs_f64(spread.max(0.0));
        match self.max_delay {
            Some(max) => spread.min(max),
            None => spread,
        }
    }

    /// The problems of this policy, for the definitions check.
    pub(crate) fn problems(&self) -> Vec<String> {
        match self.jitter {
            Jitter::PlusMinus(f) if !(0.0..=1.0).contains(&f) => {
                vec![format!(
                    "retry jitter ±{f} is not a fraction between 0 and 1"
                )]
            }
            _ => Vec::new(),
        }
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

    #[test]
    fn jitter_spreads_within_its_bounds_and_under_the_cap() {
        let full = RetryPolicy::new(3)
            .delay(Duration::from_secs(10))
            .jitter(Jitter::Full);
        assert_eq!(full.jittered_delay_before(2, 0.0), Duration::ZERO);
        assert_eq!(full.jittered_delay_before(2, 0.5), Duration::from_secs(5));
        let pm = RetryPolicy::new(3)
            .delay(Duration::from_secs(10))
            .jitter(Jitter::PlusMinus(0.2));
        assert_eq!(pm.jittered_delay_before(2, 0.0), Duration::from_secs(8));
        assert_eq!(pm.jittered_delay_before(2, 1.0), Duration::from_secs(12));
        let capped = pm.clone().max_delay(Duration::from_secs(9));
        assert_eq!(capped.jittered_delay_before(2, 1.0), Duration::from_secs(9));
        assert!(
            RetryPolicy::new(1)
                .jitter(Jitter::PlusMinus(2.0))
                .problems()[0]
                .contains("±2")
        );
    }
}
