//! The scheduler's cache: every node with the pods placed on it, bound or only
//! assumed, summed up so that one scheduling decision is O(nodes).
//!
//! Modelled on `pkg/scheduler/backend/cache/cache.go`: a pod is *assumed* on a
//! node the moment the scheduler picks it, before the binding is written, so the
//! next decision already counts it; the watch later confirms it (or a failed
//! binding forgets it).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::resources::{self, Allocatable, PodRequests, Resources};

/// A pod counted against a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedPod {
    /// The pod's uid, so a recreated pod of the same name is told apart.
    pub uid: String,
    /// The node it runs on, or is about to.
    pub node: String,
    /// Its requests.
    pub requests: PodRequests,
    /// The uid of its controlling owner, for spreading.
    pub owner: Option<String>,
    /// True until the watch shows the pod bound.
    pub assumed: bool,
}

impl PlacedPod {
    /// A pod the API shows on `spec.nodeName`.
    pub fn bound(pod: &Pod) -> Option<PlacedPod> {
        let node = pod
            .spec
            .as_ref()?
            .node_name
            .clone()
            .filter(|n| !n.is_empty())?;
        Some(PlacedPod {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            node,
            requests: resources::pod_requests(pod),
            owner: resources::controller_uid(pod).map(str::to_string),
            assumed: false,
        })
    }
}

/// One node and the sums the filters and scores read.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// The node object; `None` while pods name a node the watch has not shown.
    pub node: Option<Arc<Node>>,
    /// What the node offers.
    pub allocatable: Allocatable,
    /// Whether its Ready condition is True.
    pub ready: bool,
    /// The sum of the placed pods' requests.
    pub requested: Resources,
    /// The same with missing requests defaulted, for scoring.
    pub non_zero_requested: Resources,
    /// How many pods are placed here.
    pub pod_count: i64,
    /// Placed pods per controlling owner uid.
    pub owner_counts: HashMap<String, u32>,
}

impl NodeInfo {
    fn add(&mut self, pod: &PlacedPod) {
        self.requested = self.requested.plus(pod.requests.requested);
        self.non_zero_requested = self.non_zero_requested.plus(pod.requests.non_zero);
        self.pod_count += 1;
        if let Some(owner) = &pod.owner {
            *self.owner_counts.entry(owner.clone()).or_default() += 1;
        }
    }

    fn remove(&mut self, pod: &PlacedPod) {
        self.requested = self.requested.minus(pod.requests.requested);
        self.non_zero_requested = self.non_zero_requested.minus(pod.requests.non_zero);
        self.pod_count -= 1;
        if let Some(owner) = &pod.owner {
            if let Some(count) = self.owner_counts.get_mut(owner) {
                *count -= 1;
                if *count == 0 {
                    self.owner_counts.remove(owner);
                }
            }
        }
    }

    /// How many placed pods share this controlling owner.
    pub fn owner_count(&self, owner: &str) -> u32 {
        self.owner_counts.get(owner).copied().unwrap_or(0)
    }

    fn is_empty_placeholder(&self) -> bool {
        self.node.is_none() && self.pod_count == 0
    }
}

/// Whether the node's Ready condition is True. A node that reports no Ready
/// condition has not proven itself ready, so it counts as not ready.
pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// Nodes and the pods placed on them.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: BTreeMap<String, NodeInfo>,
    pods: HashMap<String, PlacedPod>,
}

impl Cache {
    /// Adds or replaces a node; true when anything a filter or score reads changed
    /// (not for heartbeats), which is when unschedulable pods deserve a retry.
    pub fn set_node(&mut self, node: Node) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        let info = self.nodes.entry(name).or_default();
        let allocatable = resources::node_allocatable(&node);
        let ready = is_ready(&node);
        let changed = match &info.node {
            None => true,
            Some(old) => {
                info.allocatable != allocatable
                    || info.ready != ready
                    || old.metadata.labels != node.metadata.labels
                    || old.spec != node.spec
            }
        };
        info.allocatable = allocatable;
        info.ready = ready;
        info.node = Some(Arc::new(node));
        changed
    }

    /// Forgets a node; its pods stay counted until they go too.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(info) = self.nodes.get_mut(name) {
            info.node = None;
            if info.is_empty_placeholder() {
                self.nodes.remove(name);
            }
        }
    }

    /// The names of every node the watch has shown.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, info)| info.node.is_some())
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Every node the watch has shown, with its sums.
    pub fn nodes(&self) -> impl Iterator<Item = (&Node, &NodeInfo)> {
        self.nodes
            .values()
            .filter_map(|info| info.node.as_deref().map(|node| (node, info)))
    }

    /// One node the watch has shown, with its sums.
    pub fn node(&self, name: &str) -> Option<(&Node, &NodeInfo)> {
        let info = self.nodes.get(name)?;
        Some((info.node.as_deref()?, info))
    }

    /// The pod placed under `key` (`namespace/name`), if any.
    pub fn pod(&self, key: &str) -> Option<&PlacedPod> {
        self.pods.get(key)
    }

    /// Counts `pod` on its node, replacing whatever was placed under `key`.
    pub fn place(&mut self, key: &str, pod: PlacedPod) {
        if self.pods.get(key) == Some(&pod) {
            return;
        }
        self.take(key);
        self.nodes.entry(pod.node.clone()).or_default().add(&pod);
        self.pods.insert(key.to_string(), pod);
    }

    /// Stops counting the pod under `key` if it is the one with `uid`; returns it.
    pub fn remove(&mut self, key: &str, uid: &str) -> Option<PlacedPod> {
        if self
            .pods
            .get(key)
            .is_some_and(|p| p.uid == uid || uid.is_empty())
        {
            self.take(key)
        } else {
            None
        }
    }

    /// Stops counting an assumed pod whose binding failed; a bound one stays.
    pub fn forget_assumed(&mut self, key: &str, uid: &str) {
        if self
            .pods
            .get(key)
            .is_some_and(|p| p.assumed && p.uid == uid)
        {
            self.take(key);
        }
    }

    /// Keys of every placed pod.
    pub fn pod_keys(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    fn take(&mut self, key: &str) -> Option<PlacedPod> {
        let pod = self.pods.remove(key)?;
        if let Some(info) = self.nodes.get_mut(&pod.node) {
            info.remove(&pod);
            if info.is_empty_placeholder() {
                self.nodes.remove(&pod.node);
            }
        }
        Some(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ready: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {
                "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "10"},
                "conditions": [{"type": "Ready", "status": ready}],
            },
        }))
        .expect("a node")
    }

    fn placed(uid: &str, node: &str, milli_cpu: i64, owner: Option<&str>) -> PlacedPod {
        let resources = Resources {
            milli_cpu,
            memory: 0,
        };
        PlacedPod {
            uid: uid.into(),
            node: node.into(),
            requests: PodRequests {
                requested: resources,
                non_zero: resources,
            },
            owner: owner.map(str::to_string),
            assumed: true,
        }
    }

    fn info<'a>(cache: &'a Cache, name: &str) -> &'a NodeInfo {
        cache
            .nodes()
            .find(|(n, _)| n.metadata.name.as_deref() == Some(name))
            .expect("the node")
            .1
    }

    #[test]
    fn should_sum_the_pods_placed_on_a_node() {
        let mut cache = Cache::default();
        cache.set_node(node("n1", "True"));
        cache.place("default/a", placed("a", "n1", 100, Some("rs")));
        cache.place("default/b", placed("b", "n1", 200, Some("rs")));
        let info = info(&cache, "n1");
        assert_eq!(info.requested.milli_cpu, 300);
        assert_eq!(info.pod_count, 2);
        assert_eq!(info.owner_count("rs"), 2);
    }

    #[test]
    fn should_move_a_pod_when_it_is_placed_again() {
        let mut cache = Cache::default();
        cache.set_node(node("n1", "True"));
        cache.set_node(node("n2", "True"));
        cache.place("default/a", placed("a", "n1", 100, None));
        cache.place("default/a", placed("a", "n2", 100, None));
        assert_eq!(info(&cache, "n1").pod_count, 0);
        assert_eq!(info(&cache, "n2").pod_count, 1);
    }

    #[test]
    fn should_forget_an_assumed_pod_but_not_a_bound_one() {
        let mut cache = Cache::default();
        cache.set_node(node("n1", "True"));
        cache.place("default/a", placed("a", "n1", 100, Some("rs")));
        cache.forget_assumed("default/a", "a");
        assert_eq!(info(&cache, "n1").pod_count, 0);
        assert_eq!(info(&cache, "n1").owner_count("rs"), 0);

        cache.place(
            "default/b",
            PlacedPod {
                assumed: false,
                ..placed("b", "n1", 100, None)
            },
        );
        cache.forget_assumed("default/b", "b");
        assert_eq!(info(&cache, "n1").pod_count, 1);
    }

    #[test]
    fn should_not_remove_a_recreated_pod_of_the_same_name() {
        let mut cache = Cache::default();
        cache.set_node(node("n1", "True"));
        cache.place("default/a", placed("new", "n1", 100, None));
        assert!(cache.remove("default/a", "old").is_none());
        assert!(cache.remove("default/a", "new").is_some());
    }

    #[test]
    fn should_keep_pods_counted_while_their_node_is_unknown() {
        let mut cache = Cache::default();
        cache.place("default/a", placed("a", "n1", 100, None));
        assert_eq!(cache.nodes().count(), 0);
        cache.set_node(node("n1", "True"));
        assert_eq!(info(&cache, "n1").requested.milli_cpu, 100);
    }

    #[test]
    fn should_report_only_changes_that_matter_for_scheduling() {
        let mut cache = Cache::default();
        assert!(cache.set_node(node("n1", "False")));
        assert!(!cache.set_node(node("n1", "False")));
        assert!(cache.set_node(node("n1", "True")));
    }

    #[test]
    fn should_treat_a_node_without_a_ready_condition_as_not_ready() {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "n"}})).expect("a node");
        assert!(!is_ready(&node));
    }
}
