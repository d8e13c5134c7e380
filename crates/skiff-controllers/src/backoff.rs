//! Per-object exponential backoff for failed syncs (client-go's
//! `ItemExponentialFailureRateLimiter`, as `DefaultControllerRateLimiter` uses it),
//! shared by the ReplicaSet and Deployment syncers.
//!
//! The work-queue loops (garbage collector, namespace, node lifecycle) back off
//! through [`crate::work_queue::WorkQueue::retry`] instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The first retry delay.
const BASE_DELAY: Duration = Duration::from_millis(50);
/// The longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(300);

/// Failures per object key since its last successful sync.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Counts one more failure of `key` and returns how long to wait before retrying.
    pub fn next_delay(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock");
        let count = failures.entry(key.to_string()).or_default();
        let delay = BASE_DELAY
            .saturating_mul(2u32.saturating_pow(*count))
            .min(MAX_DELAY);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key` after a successful sync.
    pub fn reset(&self, key: &str) {
        self.failures.lock().expect("backoff lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_double_the_delay_until_reset() {
        let backoff = Backoff::default();
        assert_eq!(backoff.next_delay("a"), Duration::from_millis(50));
        assert_eq!(backoff.next_delay("a"), Duration::from_millis(100));
        assert_eq!(backoff.next_delay("b"), Duration::from_millis(50));
        backoff.reset("a");
        assert_eq!(backoff.next_delay("a"), Duration::from_millis(50));
    }

    #[test]
    fn should_cap_the_delay() {
        let backoff = Backoff::default();
        for _ in 0..40 {
            backoff.next_delay("a");
        }
        assert_eq!(backoff.next_delay("a"), MAX_DELAY);
    }
}
