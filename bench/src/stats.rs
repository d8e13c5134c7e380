//! Latency samples and their percentiles.
//!
//! The runs here take at most tens of thousands of samples, so sorting a
//! `Vec<Duration>` is cheap and exact; a histogram crate would only add a
//! dependency.

use std::fmt;
use std::time::Duration;

/// A sorted set of latency samples.
#[derive(Clone, Debug)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Latencies { sorted: samples }
    }

    pub fn count(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank percentile: the smallest sample that at least `p`
    /// percent of the samples are at or below. With few samples the high
    /// percentiles are simply the maximum, which the report says.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// Milliseconds with enough digits for both sub-millisecond and second-long
/// figures.
pub struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1000.0;
        let text = if ms < 10.0 {
            format!("{ms:.2} ms")
        } else if ms < 100.0 {
            format!("{ms:.1} ms")
        } else {
            format!("{ms:.0} ms")
        };
        // Pad through the formatter so callers can align columns with `{:>10}`.
        f.pad(&text)
    }
}

/// How many times slower `numerator` is than `denominator`.
pub fn ratio(numerator: Duration, denominator: Duration) -> f64 {
    if denominator.is_zero() {
        return f64::INFINITY;
    }
    numerator.as_secs_f64() / denominator.as_secs_f64()
}

/// Operations per second over a wall-clock span.
pub fn per_second(operations: usize, span: Duration) -> f64 {
    if span.is_zero() {
        return 0.0;
    }
    operations as f64 / span.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Latencies {
        Latencies::new(values.iter().map(|&v| Duration::from_millis(v)).collect())
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples = ms(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(samples.p50(), Duration::from_millis(50));
        assert_eq!(samples.p99(), Duration::from_millis(99));
        assert_eq!(samples.max(), Duration::from_millis(100));
        // Five samples: p99 is the largest.
        assert_eq!(ms(&[5, 1, 3, 2, 4]).p99(), Duration::from_millis(5));
        assert_eq!(ms(&[]).p50(), Duration::ZERO);
    }
}
