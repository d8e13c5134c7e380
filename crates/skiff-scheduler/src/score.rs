//! The scores: which of the feasible nodes suits the pod best.
//!
//! Two plugins, each scoring 0..=100 (`framework.MaxNodeScore`), weighted as in
//! upstream's default profile:
//! - least allocated (`noderesources/least_allocated.go`), weight 1: CPU and
//!   memory left free after placing the pod, equal weights;
//! - owner spreading, weight 2 (the weight of PodTopologySpread, whose system
//!   default constraints spread a controller's pods over hostnames): fewer pods
//!   of the pod's controlling owner on the node scores higher, normalised against
//!   the busiest feasible node as the former `SelectorSpread` plugin did.

use rand::RngExt;

use crate::cache::NodeInfo;
use crate::filter::PodFacts;

/// The best score a plugin gives (`framework.MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;
/// The weight of least-allocated scoring (NodeResourcesFit's default weight).
pub const LEAST_ALLOCATED_WEIGHT: i64 = 1;
/// The weight of owner spreading (PodTopologySpread's default weight).
pub const SPREAD_WEIGHT: i64 = 2;

/// The node's weighted score for the pod; `max_owner_count` is the largest
/// number of the owner's pods on any feasible node.
pub fn score(pod: &PodFacts<'_>, info: &NodeInfo, max_owner_count: u32) -> i64 {
    let owner_count = pod.owner.map_or(0, |owner| info.owner_count(owner));
    least_allocated(pod, info) * LEAST_ALLOCATED_WEIGHT
        + spread(owner_count, max_owner_count) * SPREAD_WEIGHT
}

/// `leastResourceScorer`: for CPU and memory, the share left free once the pod
/// is placed (missing requests count as the defaults), averaged.
pub fn least_allocated(pod: &PodFacts<'_>, info: &NodeInfo) -> i64 {
    let requested = info.non_zero_requested.plus(pod.requests.non_zero);
    let capacity = info.allocatable.resources;
    let cpu = least_requested_score(requested.milli_cpu, capacity.milli_cpu);
    let memory = least_requested_score(requested.memory, capacity.memory);
    (cpu + memory) / 2
}

/// `leastRequestedScore`: `(capacity - requested) * 100 / capacity`, and 0 when
/// the node has nothing or would be overcommitted.
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// 100 for a node without the owner's pods, falling linearly to 0 for the node
/// with the most (`SelectorSpread`'s normalisation); 100 everywhere when none
/// has any.
pub fn spread(owner_count: u32, max_owner_count: u32) -> i64 {
    if max_owner_count == 0 {
        return MAX_NODE_SCORE;
    }
    MAX_NODE_SCORE * i64::from(max_owner_count.saturating_sub(owner_count))
        / i64::from(max_owner_count)
}

/// The name with the highest score, a tie broken uniformly at random by
/// reservoir sampling, as `selectHost` in `pkg/scheduler/schedule_one.go` does.
pub fn select_host<'a>(
    scored: impl IntoIterator<Item = (&'a str, i64)>,
    rng: &mut impl rand::Rng,
) -> Option<&'a str> {
    let mut best: Option<(&str, i64)> = None;
    let mut ties = 0u32;
    for (name, score) in scored {
        match best {
            Some((_, top)) if score < top => {}
            Some((_, top)) if score == top => {
                ties += 1;
                if rng.random_range(0..ties) == 0 {
                    best = Some((name, score));
                }
            }
            _ => {
                best = Some((name, score));
                ties = 1;
            }
        }
    }
    best.map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Allocatable, PodRequests, Resources};
    use k8s_openapi::api::core::v1::Pod;

    fn info(milli_cpu: i64, memory: i64, used_cpu: i64, used_memory: i64) -> NodeInfo {
        NodeInfo {
            allocatable: Allocatable {
                resources: Resources { milli_cpu, memory },
                pods: 110,
            },
            non_zero_requested: Resources {
                milli_cpu: used_cpu,
                memory: used_memory,
            },
            ..NodeInfo::default()
        }
    }

    fn facts(pod: &Pod, milli_cpu: i64, memory: i64) -> PodFacts<'_> {
        let resources = Resources { milli_cpu, memory };
        PodFacts {
            pod,
            requests: PodRequests {
                requested: resources,
                non_zero: resources,
            },
            owner: Some("rs"),
        }
    }

    #[test]
    fn should_score_the_emptier_node_higher() {
        let pod = Pod::default();
        let pod = facts(&pod, 100, 100);
        let empty = least_allocated(&pod, &info(1000, 1000, 0, 0));
        let busy = least_allocated(&pod, &info(1000, 1000, 500, 500));
        assert_eq!(empty, 90);
        assert_eq!(busy, 40);
    }

    #[test]
    fn should_weigh_cpu_and_memory_equally() {
        let pod = Pod::default();
        let pod = facts(&pod, 0, 0);
        assert_eq!(least_allocated(&pod, &info(1000, 1000, 1000, 0)), 50);
        assert_eq!(least_allocated(&pod, &info(1000, 1000, 0, 1000)), 50);
    }

    #[test]
    fn should_score_an_overcommitted_or_empty_resource_zero() {
        assert_eq!(least_requested_score(2000, 1000), 0);
        assert_eq!(least_requested_score(0, 0), 0);
    }

    #[test]
    fn should_prefer_nodes_with_fewer_pods_of_the_same_owner() {
        assert_eq!(spread(0, 0), 100);
        assert_eq!(spread(0, 4), 100);
        assert_eq!(spread(2, 4), 50);
        assert_eq!(spread(4, 4), 0);
    }

    #[test]
    fn should_let_spreading_outweigh_a_small_resource_difference() {
        let pod = Pod::default();
        let pod = facts(&pod, 100, 100);
        let mut crowded = info(1000, 1000, 0, 0);
        crowded.owner_counts.insert("rs".into(), 1);
        let lonely = info(1000, 1000, 300, 300);
        assert!(score(&pod, &lonely, 1) > score(&pod, &crowded, 1));
    }

    #[test]
    fn should_select_the_best_node() {
        let mut rng = rand::rng();
        assert_eq!(
            select_host([("a", 10), ("b", 30), ("c", 20)], &mut rng),
            Some("b")
        );
        assert_eq!(select_host(Vec::<(&str, i64)>::new(), &mut rng), None);
    }

    #[test]
    fn should_break_ties_randomly() {
        let mut rng = rand::rng();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(
                select_host([("a", 5), ("b", 5), ("c", 5), ("d", 1)], &mut rng).expect("a node"),
            );
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    }
}
