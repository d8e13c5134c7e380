//! A deduplicating work queue of keys, shaped like client-go's
//! `util/workqueue`: a key queued twice is processed once, a key is never
//! processed by two workers at once, and a key re-added while it is being
//! processed runs again after `done`.
//!
//! The garbage collector, namespace and node lifecycle loops each feed one from
//! their watches and run their workers over it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// The first retry waits this long; each further failure doubles it.
const BASE_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Retries never wait longer than this (client-go's controller default is 1000 s;
/// a small cluster wants to heal sooner).
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// A shared queue of keys; clone it freely.
#[derive(Debug)]
pub struct WorkQueue<K> {
    state: Arc<Mutex<State<K>>>,
    wake: Arc<Notify>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            wake: self.wake.clone(),
        }
    }
}

#[derive(Debug)]
struct State<K> {
    /// Keys waiting for a worker, in arrival order.
    ready: VecDeque<K>,
    /// Keys that are queued (or will be, once their processing ends).
    dirty: HashSet<K>,
    /// Keys a worker holds now.
    processing: HashSet<K>,
    /// Consecutive failures per key, for the retry back-off.
    failures: HashMap<K, u32>,
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    pub fn new() -> Self {
        let state = State {
            ready: VecDeque::new(),
            dirty: HashSet::new(),
            processing: HashSet::new(),
            failures: HashMap::new(),
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Queues `key` unless it is queued already.
    pub fn add(&self, key: K) {
        let mut state = self.state.lock().expect("work queue lock");
        if !state.dirty.insert(key.clone()) {
            return;
        }
        // A key being processed is queued again by `done`, so that two workers
        // never hold it at once.
        if !state.processing.contains(&key) {
            state.ready.push_back(key);
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Queues `key` once `delay` has passed.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key);
        });
    }

    /// Queues `key` again after a back-off that doubles with each consecutive failure.
    pub fn retry(&self, key: K) {
        let failures = {
            let mut state = self.state.lock().expect("work queue lock");
            let count = state.failures.entry(key.clone()).or_insert(0);
            *count = count.saturating_add(1);
            *count
        };
        self.add_after(key, retry_delay(failures));
    }

    /// Forgets the failures of `key` after it was processed successfully.
    pub fn forget(&self, key: &K) {
        self.state
            .lock()
            .expect("work queue lock")
            .failures
            .remove(key);
    }

    /// Waits for the next key; the caller must call [`WorkQueue::done`] with it.
    pub async fn next(&self) -> K {
        loop {
            let notified = self.wake.notified();
            {
                let mut state = self.state.lock().expect("work queue lock");
                if let Some(key) = state.ready.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    let more = !state.ready.is_empty();
                    drop(state);
                    if more {
                        // Pass the wake-up on: `notify_one` stores one permit only.
                        self.wake.notify_one();
                    }
                    return key;
                }
            }
            notified.await;
        }
    }

    /// Marks `key` processed; it runs again if it was added meanwhile.
    pub fn done(&self, key: &K) {
        let mut state = self.state.lock().expect("work queue lock");
        state.processing.remove(key);
        if state.dirty.contains(key) {
            state.ready.push_back(key.clone());
            drop(state);
            self.wake.notify_one();
        }
    }

    /// How many keys wait for a worker.
    pub fn len(&self) -> usize {
        self.state.lock().expect("work queue lock").ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The back-off after `failures` consecutive failures.
fn retry_delay(failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    BASE_RETRY_DELAY.saturating_mul(factor).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn should_process_a_key_added_twice_once() {
        let queue = WorkQueue::new();
        queue.add("a");
        queue.add("a");
        queue.add("b");
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.next().await, "a");
        assert_eq!(queue.next().await, "b");
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn should_not_hand_a_key_to_two_workers_at_once() {
        let queue = WorkQueue::new();
        queue.add("a");
        let key = queue.next().await;
        queue.add("a");
        assert!(queue.is_empty(), "a key being processed waits for done");
        queue.done(&key);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.next().await, "a");
    }

    // Real time with short delays: paused time needs tokio's `test-util`
    // feature, which this crate's dev-dependencies do not enable yet.
    #[tokio::test]
    async fn should_add_a_key_after_its_delay() {
        let queue = WorkQueue::new();
        queue.add_after("late", Duration::from_millis(50));
        assert!(queue.is_empty());
        let key = tokio::time::timeout(Duration::from_secs(5), queue.next()).await;
        assert_eq!(key, Ok("late"));
    }

    #[tokio::test]
    async fn should_wake_a_waiting_worker() {
        let queue = WorkQueue::new();
        let worker = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        queue.add(7);
        let key = tokio::time::timeout(Duration::from_secs(5), worker).await;
        assert_eq!(key.map(|k| k.unwrap()), Ok(7));
    }

    #[test]
    fn should_double_the_retry_delay_up_to_a_limit() {
        assert_eq!(retry_delay(1), Duration::from_millis(100));
        assert_eq!(retry_delay(2), Duration::from_millis(200));
        assert_eq!(retry_delay(4), Duration::from_millis(800));
        assert_eq!(retry_delay(40), MAX_RETRY_DELAY);
    }
}
