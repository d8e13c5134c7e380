//! The scheduling queue: pods waiting for a node, in three places as in
//! `pkg/scheduler/backend/queue/scheduling_queue.go`:
//! - *active*: to be scheduled now, first in first out;
//! - *backoff*: failed recently, waiting 1 s doubling to 10 s per attempt;
//! - *unschedulable*: fit nowhere; they stay until the cluster changes (a node
//!   added or changed, a pod gone) or the periodic flush, then go through backoff.
//!
//! A pod being bound, or having its failure written, is *in flight*. If the
//! cluster changed while it was in flight, a failure sends it to backoff rather
//! than parking it, so that change is not missed (upstream's `moveRequestCycle`).
//! Time is passed in, so the queue is a plain value.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

/// The first retry delay (`DefaultPodInitialBackoffDuration`).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest retry delay (`DefaultPodMaxBackoffDuration`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Waiting in the active queue.
    Active,
    /// Waiting until the instant to return to the active queue.
    Backoff(Instant),
    /// Fit nowhere at the last attempt.
    Unschedulable,
    /// Being scheduled or bound.
    InFlight,
}

#[derive(Debug, Clone)]
struct Entry {
    pod: Arc<Pod>,
    attempts: u32,
    last_attempt: Option<Instant>,
    place: Place,
    /// The move cycle when the pod was last handed out.
    popped_in_cycle: u64,
}

/// A pod handed out for scheduling.
#[derive(Debug, Clone)]
pub struct Popped {
    /// `namespace/name`.
    pub key: String,
    /// The latest version of the pod.
    pub pod: Arc<Pod>,
}

/// The pods waiting for a node.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    entries: HashMap<String, Entry>,
    active: VecDeque<String>,
    backoff: BTreeSet<(Instant, String)>,
    /// Counts calls to [`SchedulingQueue::move_all_unschedulable`].
    move_cycle: u64,
}

/// The delay before attempt `attempts + 1`: 1 s, 2 s, 4 s, 8 s, then 10 s.
pub fn backoff_for(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// Whether an update may change the scheduling outcome: upstream's `isPodUpdated`
/// ignores status-only writes (such as our own PodScheduled condition).
fn scheduling_relevant_change(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
}

impl SchedulingQueue {
    /// Adds a pending pod, or records a newer version of it. An unschedulable pod
    /// whose spec, labels or annotations changed is retried.
    pub fn upsert(&mut self, key: &str, pod: Arc<Pod>, now: Instant) {
        let Some(entry) = self.entries.get_mut(key) else {
            self.entries.insert(
                key.to_string(),
                Entry {
                    pod,
                    attempts: 0,
                    last_attempt: None,
                    place: Place::Active,
                    popped_in_cycle: 0,
                },
            );
            self.active.push_back(key.to_string());
            return;
        };
        let recreated = entry.pod.metadata.uid != pod.metadata.uid;
        let retry = entry.place == Place::Unschedulable
            && (recreated || scheduling_relevant_change(&entry.pod, &pod));
        entry.pod = pod;
        if recreated {
            entry.attempts = 0;
        }
        if retry {
            self.retry(key, now);
        }
    }

    /// Drops a pod that was bound, deleted, or is no longer ours.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Whether the pod is queued anywhere (including in flight).
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Where the pod is.
    pub fn place(&self, key: &str) -> Option<Place> {
        self.entries.get(key).map(|e| e.place)
    }

    /// The latest version of a queued pod.
    pub fn pod(&self, key: &str) -> Option<&Arc<Pod>> {
        self.entries.get(key).map(|e| &e.pod)
    }

    /// Keys of every queued pod.
    pub fn keys(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Whether a pod is waiting in the active queue.
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// Takes the next active pod and marks it in flight.
    pub fn pop(&mut self, now: Instant) -> Option<Popped> {
        while let Some(key) = self.active.pop_front() {
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            if entry.place != Place::Active {
                continue;
            }
            entry.place = Place::InFlight;
            entry.popped_in_cycle = self.move_cycle;
            entry.attempts += 1;
            entry.last_attempt = Some(now);
            return Some(Popped {
                key,
                pod: entry.pod.clone(),
            });
        }
        None
    }

    /// The pod fit nowhere: park it until something changes, or retry it after
    /// its backoff if something changed while it was in flight.
    pub fn mark_unschedulable(&mut self, key: &str, now: Instant) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        if entry.popped_in_cycle < self.move_cycle {
            self.retry(key, now);
        } else {
            entry.place = Place::Unschedulable;
        }
    }

    /// Binding failed: retry after the pod's backoff.
    pub fn back_off(&mut self, key: &str, now: Instant) {
        if let Some(entry) = self.entries.get_mut(key) {
            let until = entry.last_attempt.unwrap_or(now) + backoff_for(entry.attempts);
            entry.place = Place::Backoff(until);
            self.backoff.insert((until, key.to_string()));
        }
    }

    /// The cluster changed: every unschedulable pod gets another attempt once
    /// its backoff has passed (upstream's `MoveAllToActiveOrBackoffQueue`).
    pub fn move_all_unschedulable(&mut self, now: Instant) {
        self.move_unschedulable_if(now, |_| true);
    }

    /// One node changed: only the unschedulable pods `may_fit` says could now
    /// fit get another attempt, so that a change no pod cares about does not
    /// retry (and rewrite the condition of) every pending pod; upstream's
    /// queueing hints (KEP-4247) serve the same end.
    pub fn move_unschedulable_if(&mut self, now: Instant, mut may_fit: impl FnMut(&Pod) -> bool) {
        self.move_cycle += 1;
        let parked: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.place == Place::Unschedulable && may_fit(&e.pod))
            .map(|(k, _)| k.clone())
            .collect();
        for key in parked {
            self.retry(&key, now);
        }
    }

    fn retry(&mut self, key: &str, now: Instant) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let until = entry.last_attempt.map(|t| t + backoff_for(entry.attempts));
        match until {
            Some(until) if until > now => {
                entry.place = Place::Backoff(until);
                self.backoff.insert((until, key.to_string()));
            }
            _ => {
                entry.place = Place::Active;
                self.active.push_back(key.to_string());
            }
        }
    }

    /// When the next backed-off pod becomes due.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.first().map(|(until, _)| *until)
    }

    /// Moves backed-off pods whose time has come to the active queue.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some((until, key)) = self.backoff.first().cloned() {
            if until > now {
                break;
            }
            self.backoff.pop_first();
            if let Some(entry) = self.entries.get_mut(&key) {
                if entry.place == Place::Backoff(until) {
                    entry.place = Place::Active;
                    self.active.push_back(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str) -> Arc<Pod> {
        let pod = json!({"metadata": {"name": name, "namespace": "default", "uid": uid}, "spec": {"containers": []}});
        Arc::new(serde_json::from_value(pod).expect("a pod"))
    }

    #[test]
    fn should_hand_out_pods_first_in_first_out_once() {
        let now = Instant::now();
        let mut queue = SchedulingQueue::default();
        queue.upsert("default/a", pod("a", "1"), now);
        queue.upsert("default/b", pod("b", "2"), now);
        queue.upsert("default/a", pod("a", "1"), now);
        assert_eq!(queue.pop(now).map(|p| p.key).as_deref(), Some("default/a"));
        assert_eq!(queue.pop(now).map(|p| p.key).as_deref(), Some("default/b"));
        assert!(queue.pop(now).is_none());
        assert_eq!(queue.place("default/a"), Some(Place::InFlight));
    }

    #[test]
    fn should_skip_pods_removed_while_waiting() {
        let now = Instant::now();
        let mut queue = SchedulingQueue::default();
        queue.upsert("default/a", pod("a", "1"), now);
        queue.remove("default/a");
        assert!(queue.pop(now).is_none());
    }

    #[test]
    fn should_keep_unschedulable_pods_until_the_cluster_changes() {
        let start = Instant::now();
        let mut queue = SchedulingQueue::default();
        queue.upsert("default/a", pod("a", "1"), start);
        queue.pop(start);
        queue.mark_unschedulable("default/a", start);
        assert!(queue.pop(start + Duration::from_secs(60)).is_none());

        let later = start + Duration::from_secs(5);
        queue.move_all_unschedulable(later);
        assert_eq!(
            queue.pop(later).map(|p| p.key).as_deref(),
            Some("default/a")
        );
    }

    #[test]
    fn should_back_off_a_pod_retried_soon_after_failing() {
        let start = Instant::now();
        let mut queue = SchedulingQueue::default();
        queue.upsert("default/a", pod("a", "1"), start);
        queue.pop(start);
        queue.mark_unschedulable("default/a", start);
        queue.move_all_unschedulable(start + Duration::from_millis(100));
        assert_eq!(
            queue.place("default/a"),
            Some(Place::Backoff(start + INITIAL_BACKOFF))
        );
        assert_eq!(queue.next_backoff_expiry(), Some(start + INITIAL_BACKOFF));

        queue.flush_backoff(start + Duration::from_millis(500));
        assert!(!queue.has_active());
        queue.flush_backoff(start + INITIAL_BACKOFF);
        assert_eq!(
            queue.pop(start + INITIAL_BACKOFF).map(|p| p.key).as_deref(),
            Some("default/a")
        );
    }

    #[test]
    fn should_retry_a_pod_that_failed_while_the_cluster_changed() {
        let start = Instant::now();
        let mut queue = SchedulingQueue::default();
        queue.upsert("default/a", pod("a", "1"), start);
        queue.pop(start);
        queue.move_all_unschedulable(start);
        queue.mark_unschedulable("default/a", start);
        assert_eq!(
            queue.place("default/a"),
            Some(Place::Backoff(start + INITIAL_BACKOFF))
        );
    }

    #[test]
    fn should_retry_only_the_pods_a_change_may_help() {
        let start = Instant::now();
        let later = start + Duration::from_secs(30);
        let mut queue = SchedulingQueue::default();
        for (key, name) in [("default/a", "a"), ("default/b", "b")] {
            queue.upsert(key, pod(name, name), start);
            queue.pop(start);
            queue.mark_unschedulable(key, start);
        }
        queue.move_unschedulable_if(later, |pod| pod.metadata.name.as_deref() == Some("b"));
        assert_eq!(queue.place("default/a"), Some(Place::Unschedulable));
        assert_eq!(queue.place("default/b"), Some(Place::Active));
    }

    #[test]
    fn should_double_the_backoff_up_to_ten_seconds() {
        let delays: Vec<u64> = (1..=6)
            .map(|attempts| backoff_for(attempts).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn should_retry_an_unschedulable_pod_whose_spec_changed_but_not_its_status() {
        let start = Instant::now();
        let later = start + Duration::from_secs(30);
        let mut queue = SchedulingQueue::default();
        queue.upsert("default/a", pod("a", "1"), start);
        queue.pop(start);
        queue.mark_unschedulable("default/a", start);

        let mut status_only = (*pod("a", "1")).clone();
        status_only.status = Some(Default::default());
        queue.upsert("default/a", Arc::new(status_only), later);
        assert_eq!(queue.place("default/a"), Some(Place::Unschedulable));

        let mut relabelled = (*pod("a", "1")).clone();
        relabelled.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        queue.upsert("default/a", Arc::new(relabelled), later);
        assert_eq!(queue.place("default/a"), Some(Place::Active));
    }

    #[test]
    fn should_back_off_after_a_failed_binding() {
        let start = Instant::now();
        let mut queue = SchedulingQueue::default();
        queue.upsert("default/a", pod("a", "1"), start);
        queue.pop(start);
        queue.back_off("default/a", start);
        assert!(queue.pop(start).is_none());
        queue.flush_backoff(start + INITIAL_BACKOFF);
        assert!(queue.pop(start + INITIAL_BACKOFF).is_some());
    }
}
