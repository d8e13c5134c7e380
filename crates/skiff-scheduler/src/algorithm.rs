//! One scheduling decision, as `schedulePod` in `pkg/scheduler/schedule_one.go`
//! makes it: filter every node, score the feasible ones, pick the best; or, when
//! none is feasible, the message explaining why. O(nodes), with no I/O.

use k8s_openapi::api::core::v1::Pod;

use crate::cache::{Cache, NodeInfo};
use crate::filter::{self, PodFacts};
use crate::message;
use crate::score;

/// The outcome of scheduling one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Bind the pod to this node.
    Fit {
        /// The chosen node's name.
        node: String,
    },
    /// No node fits; the PodScheduled=False message says why.
    NoFit {
        /// Kubernetes' wording of the failure.
        message: String,
    },
}

/// Decides where `pod` goes among the cache's nodes.
pub fn decide(pod: &Pod, cache: &Cache, rng: &mut impl rand::Rng) -> Decision {
    let facts = PodFacts::of(pod);
    let mut feasible: Vec<(&str, &NodeInfo)> = Vec::new();
    let mut rejections = Vec::new();
    let mut total_nodes = 0;
    for (node, info) in cache.nodes() {
        total_nodes += 1;
        match filter::filter(&facts, node, info) {
            Ok(()) => feasible.push((node.metadata.name.as_deref().unwrap_or_default(), info)),
            Err(rejection) => rejections.push(rejection),
        }
    }
    if feasible.is_empty() {
        let may_preempt = pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref())
            != Some("Never");
        return Decision::NoFit {
            message: message::fit_error_message(total_nodes, &rejections, may_preempt),
        };
    }
    let max_owner_count = facts.owner.map_or(0, |owner| {
        feasible
            .iter()
            .map(|(_, info)| info.owner_count(owner))
            .max()
            .unwrap_or(0)
    });
    let scored = feasible
        .iter()
        .map(|(name, info)| (*name, score::score(&facts, info, max_owner_count)));
    match score::select_host(scored, rng) {
        Some(node) => Decision::Fit {
            node: node.to_string(),
        },
        None => Decision::NoFit {
            message: message::NO_NODES_AVAILABLE.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::PlacedPod;
    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    fn node(name: &str, memory: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {
                "allocatable": {"cpu": "4", "memory": memory, "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }))
        .expect("a node")
    }

    fn replica(name: &str, memory: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": name, "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-1", "controller": true},
            ]},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "100m", "memory": memory}}}]},
        }))
        .expect("a pod")
    }

    fn cluster(names: &[&str]) -> Cache {
        let mut cache = Cache::default();
        for name in names {
            cache.set_node(node(name, "4Gi"));
        }
        cache
    }

    /// Schedules each pod in turn, assuming it where it went, as the syncer does.
    fn schedule_all(cache: &mut Cache, pods: &[Pod]) -> Vec<Decision> {
        let mut rng = rand::rng();
        pods.iter()
            .map(|pod| {
                let decision = decide(pod, cache, &mut rng);
                if let Decision::Fit { node } = &decision {
                    let mut bound = pod.clone();
                    bound.spec.as_mut().expect("a spec").node_name = Some(node.clone());
                    let placed = PlacedPod {
                        assumed: true,
                        ..PlacedPod::bound(&bound).expect("bound")
                    };
                    cache.place(pod.metadata.name.as_deref().expect("a name"), placed);
                }
                decision
            })
            .collect()
    }

    #[test]
    fn should_spread_replicas_of_one_owner_over_the_nodes() {
        let mut cache = cluster(&["n1", "n2", "n3"]);
        let pods: Vec<Pod> = (0..6)
            .map(|i| replica(&format!("web-{i}"), "64Mi"))
            .collect();
        let decisions = schedule_all(&mut cache, &pods);
        let mut per_node = std::collections::BTreeMap::new();
        for decision in decisions {
            let Decision::Fit { node } = decision else {
                panic!("{decision:?}")
            };
            *per_node.entry(node).or_insert(0) += 1;
        }
        assert_eq!(per_node.into_values().collect::<Vec<_>>(), [2, 2, 2]);
    }

    #[test]
    fn should_explain_a_pod_that_fits_nowhere() {
        let mut cache = cluster(&["n1", "n2"]);
        let decisions = schedule_all(&mut cache, &[replica("big", "64Gi")]);
        assert_eq!(
            decisions,
            [Decision::NoFit {
                message: "0/2 nodes are available: 2 Insufficient memory. \
                          preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
                    .into()
            }]
        );
    }

    #[test]
    fn should_count_assumed_pods_before_the_watch_confirms_them() {
        let mut cache = Cache::default();
        cache.set_node(node("n1", "1Gi"));
        let pods = [replica("a", "600Mi"), replica("b", "600Mi")];
        let decisions = schedule_all(&mut cache, &pods);
        assert_eq!(decisions[0], Decision::Fit { node: "n1".into() });
        assert!(
            matches!(&decisions[1], Decision::NoFit { message } if message.starts_with("0/1 nodes are available: 1 Insufficient memory.")),
            "{:?}",
            decisions[1]
        );
    }

    #[test]
    fn should_say_so_when_there_are_no_nodes() {
        let decision = decide(&replica("a", "1Mi"), &Cache::default(), &mut rand::rng());
        assert_eq!(
            decision,
            Decision::NoFit {
                message: message::NO_NODES_AVAILABLE.into()
            }
        );
    }

    #[test]
    fn should_prefer_the_emptier_node_for_a_pod_without_an_owner() {
        let mut cache = cluster(&["n1", "n2"]);
        let mut busy = replica("busy", "2Gi");
        busy.spec.as_mut().expect("a spec").node_name = Some("n1".into());
        cache.place("default/busy", PlacedPod::bound(&busy).expect("bound"));
        let mut lone = replica("lone", "64Mi");
        lone.metadata.owner_references = None;
        assert_eq!(
            decide(&lone, &cache, &mut rand::rng()),
            Decision::Fit { node: "n2".into() }
        );
    }
}
