//! What a ReplicaSet sync is still waiting to see in the pod cache
//! (`ControllerExpectations` in k8s.io/kubernetes/pkg/controller/controller_utils.go).
//!
//! After creating or deleting pods, the cache lags behind; counting pods before it
//! catches up would create or delete twice. Upstream counts pending adds and
//! deletes; here the names of created pods and the uids of deleted ones are
//! remembered, so the check is a pure look at the cache.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;

/// After this long, unmet expectations are dropped (`ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How long a pod deletion seen by the watch is remembered.
const TOMBSTONE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Pending {
    created_names: HashSet<String>,
    deleted_uids: HashSet<String>,
    since: Instant,
}

/// Pending creations and deletions per ReplicaSet key (`namespace/name`).
#[derive(Debug, Default)]
pub struct Expectations {
    pending: Mutex<HashMap<String, Pending>>,
    /// `namespace/name` of pods whose deletion the watch reported, so a pod created
    /// and deleted before the sync looked still counts as seen.
    tombstones: Mutex<HashMap<String, Instant>>,
}

impl Expectations {
    /// Remembers pods this sync created.
    pub fn expect_creations(
        &self,
        key: &str,
        names: impl IntoIterator<Item = String>,
        now: Instant,
    ) {
        let mut pending = self.pending.lock().expect("expectations lock");
        let entry = pending
            .entry(key.to_string())
            .or_insert_with(|| Pending::new(now));
        entry.created_names.extend(names);
        entry.since = now;
    }

    /// Remembers pods this sync deleted, by uid.
    pub fn expect_deletions(
        &self,
        key: &str,
        uids: impl IntoIterator<Item = String>,
        now: Instant,
    ) {
        let mut pending = self.pending.lock().expect("expectations lock");
        let entry = pending
            .entry(key.to_string())
            .or_insert_with(|| Pending::new(now));
        entry.deleted_uids.extend(uids);
        entry.since = now;
    }

    /// Notes that the watch reported a pod gone.
    pub fn observe_deletion(&self, namespace: &str, name: &str, now: Instant) {
        let mut tombstones = self.tombstones.lock().expect("expectations lock");
        tombstones.retain(|_, at| now.duration_since(*at) < TOMBSTONE_TTL);
        tombstones.insert(format!("{namespace}/{name}"), now);
    }

    /// Whether the cache shows everything expected for `key`; `pods` are the cached
    /// pods of the ReplicaSet's namespace. Met expectations are forgotten.
    pub fn satisfied(&self, key: &str, namespace: &str, pods: &[&Pod], now: Instant) -> bool {
        let mut pending = self.pending.lock().expect("expectations lock");
        let Some(entry) = pending.get_mut(key) else {
            return true;
        };
        let tombstones = self.tombstones.lock().expect("expectations lock");
        let names: HashSet<&str> = pods
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        entry.created_names.retain(|name| {
            !names.contains(name.as_str())
                && !tombstones.contains_key(&format!("{namespace}/{name}"))
        });
        let live_uids: HashSet<&str> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        entry
            .deleted_uids
            .retain(|uid| live_uids.contains(uid.as_str()));
        let met = entry.created_names.is_empty() && entry.deleted_uids.is_empty();
        if met || now.duration_since(entry.since) > EXPECTATIONS_TIMEOUT {
            pending.remove(key);
            return true;
        }
        false
    }

    /// Drops everything expected for a ReplicaSet that is gone.
    pub fn forget(&self, key: &str) {
        self.pending.lock().expect("expectations lock").remove(key);
    }
}

impl Pending {
    fn new(now: Instant) -> Self {
        Self {
            created_names: HashSet::new(),
            deleted_uids: HashSet::new(),
            since: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicaset::pods::tests::pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn should_wait_until_created_pods_are_cached() {
        let expectations = Expectations::default();
        let now = Instant::now();
        expectations.expect_creations("default/web", ["a".to_string(), "b".to_string()], now);
        let a = pod("a", 0, None, None, None);
        assert!(!expectations.satisfied("default/web", "default", &[&a], now));
        let b = pod("b", 0, None, None, None);
        assert!(expectations.satisfied("default/web", "default", &[&a, &b], now));
        assert!(
            expectations.satisfied("default/web", "default", &[], now),
            "met expectations are forgotten"
        );
    }

    #[test]
    fn should_count_a_created_pod_already_deleted_as_seen() {
        let expectations = Expectations::default();
        let now = Instant::now();
        expectations.observe_deletion("default", "a", now);
        expectations.expect_creations("default/web", ["a".to_string()], now);
        assert!(expectations.satisfied("default/web", "default", &[], now));
    }

    #[test]
    fn should_wait_until_deleted_pods_leave_or_terminate() {
        let expectations = Expectations::default();
        let now = Instant::now();
        let mut a = pod("a", 0, None, None, None);
        expectations.expect_deletions("default/web", [a.metadata.uid.clone().unwrap()], now);
        assert!(!expectations.satisfied("default/web", "default", &[&a], now));
        a.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(expectations.satisfied("default/web", "default", &[&a], now));
    }

    #[test]
    fn should_give_up_after_the_timeout() {
        let expectations = Expectations::default();
        let now = Instant::now();
        expectations.expect_creations("default/web", ["never".to_string()], now);
        assert!(!expectations.satisfied(
            "default/web",
            "default",
            &[],
            now + Duration::from_secs(60)
        ));
        assert!(expectations.satisfied(
            "default/web",
            "default",
            &[],
            now + EXPECTATIONS_TIMEOUT + Duration::from_secs(1)
        ));
    }
}
