//! Facts about pods that the ReplicaSet controller acts on: active, ready,
//! available (k8s.io/kubernetes/pkg/api/v1/pod/util.go), and the order in which
//! surplus pods are deleted (`ActivePodsWithRanks` in pkg/controller/controller_utils.go).

use std::cmp::Ordering;
use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

/// The annotation that lets users say which pods to remove first (`PodDeletionCost`).
pub const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A pod that counts towards replicas: not finished and not being deleted (`IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded") | Some("Failed"))
        && pod.metadata.deletion_timestamp.is_none()
}

/// When the pod's Ready condition became True, if it is ready (`IsPodReady`).
/// A ready pod without a transition time yields `Some(None)`.
fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
    (ready.status == "True").then(|| ready.last_transition_time.as_ref().map(|t| t.0))
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Whether the pod has been ready for longer than `min_ready_seconds` (`IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(since)) => since.as_second() + i64::from(min_ready_seconds) < now.as_second(),
    }
}

/// Seconds until a ready but not yet available pod becomes available.
pub fn seconds_until_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<i64> {
    match ready_since(pod) {
        Some(Some(since))
            if min_ready_seconds > 0 && !is_available(pod, min_ready_seconds, now) =>
        {
            // `Before` is strict, so availability starts one second after the deadline.
            Some((since.as_second() + i64::from(min_ready_seconds) + 1 - now.as_second()).max(1))
        }
        _ => None,
    }
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The most restarts of any regular container, then of any init (sidecar) container.
fn max_restarts(pod: &Pod) -> (i32, i32) {
    let status = pod.status.as_ref();
    let most = |list: Option<&Vec<k8s_openapi::api::core::v1::ContainerStatus>>| {
        list.into_iter()
            .flatten()
            .map(|c| c.restart_count)
            .max()
            .unwrap_or(0)
    };
    (
        most(status.and_then(|s| s.container_statuses.as_ref())),
        most(status.and_then(|s| s.init_container_statuses.as_ref())),
    )
}

/// `afterOrZero`: a missing time sorts first, otherwise the later time does.
fn after_or_zero(a: Option<Timestamp>, b: Option<Timestamp>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

/// Compares two ages on a log2 scale of nanoseconds (`logarithmicRankDiff`), so
/// pods of about the same age are treated alike and ties are broken by uid.
fn logarithmic_order(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    a_uid: &str,
    b_uid: &str,
    now: Timestamp,
) -> Ordering {
    let (Some(a), Some(b)) = (a, b) else {
        return after_or_zero(a, b);
    };
    let bucket = |t: Timestamp| {
        let age = now.as_nanosecond() - t.as_nanosecond();
        if age > 0 {
            (age as f64).log2() as i64
        } else {
            -1
        }
    };
    match bucket(a).cmp(&bucket(b)) {
        Ordering::Equal => a_uid.cmp(b_uid),
        other => other,
    }
}

/// Orders two active pods, the one to delete first being `Less`
/// (`ActivePodsWithRanks.Less` with PodDeletionCost and LogarithmicScaleDown on).
/// `rank` is how many related pods share the pod's node: doubled-up pods go first.
pub fn deletion_order(a: (&Pod, usize), b: (&Pod, usize), now: Timestamp) -> Ordering {
    let ((a, a_rank), (b, b_rank)) = (a, b);
    // 1. Unassigned before assigned.
    let (a_node, b_node) = (node_name(a), node_name(b));
    if a_node != b_node && (a_node.is_empty() || b_node.is_empty()) {
        return if a_node.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    // 2. Pending before Unknown before Running.
    let order = phase_ordinal(a).cmp(&phase_ordinal(b));
    if order != Ordering::Equal {
        return order;
    }
    // 3. Not ready before ready.
    let (a_ready, b_ready) = (ready_since(a), ready_since(b));
    if a_ready.is_some() != b_ready.is_some() {
        return if a_ready.is_none() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    // 4. Lower deletion cost first.
    let order = deletion_cost(a).cmp(&deletion_cost(b));
    if order != Ordering::Equal {
        return order;
    }
    // 5. More pods on the same node first.
    if a_rank != b_rank {
        return b_rank.cmp(&a_rank);
    }
    let (a_uid, b_uid) = (
        a.metadata.uid.as_deref().unwrap_or_default(),
        b.metadata.uid.as_deref().unwrap_or_default(),
    );
    // 6. Ready for less time first.
    if let (Some(a_since), Some(b_since)) = (a_ready, b_ready) {
        if a_since != b_since {
            return logarithmic_order(a_since, b_since, a_uid, b_uid, now);
        }
    }
    // 7. More restarts first.
    let order = max_restarts(b).cmp(&max_restarts(a));
    if order != Ordering::Equal {
        return order;
    }
    // 8. Younger first.
    let (a_created, b_created) = (
        a.metadata.creation_timestamp.as_ref().map(|t| t.0),
        b.metadata.creation_timestamp.as_ref().map(|t| t.0),
    );
    if a_created != b_created {
        return logarithmic_order(a_created, b_created, a_uid, b_uid, now);
    }
    Ordering::Equal
}

/// Picks `count` of `candidates` to delete, the least valuable first
/// (`getPodsToDelete`). `related` are the active pods of this and sibling
/// ReplicaSets, used to rank pods by how crowded their node is.
pub fn pods_to_delete<'a>(
    candidates: &[&'a Pod],
    related: &[&Pod],
    count: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| is_active(p)) {
        *on_node.entry(node_name(pod)).or_default() += 1;
    }
    let mut ranked: Vec<(&Pod, usize)> = candidates
        .iter()
        .map(|p| (*p, on_node.get(node_name(p)).copied().unwrap_or(0)))
        .collect();
    ranked.sort_by(|a, b| deletion_order(*a, *b, now));
    ranked.into_iter().take(count).map(|(p, _)| p).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    pub(crate) fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    /// A pod created at `created` (seconds), optionally on a node, in a phase, ready since.
    pub(crate) fn pod(
        name: &str,
        created: i64,
        node: Option<&str>,
        phase: Option<&str>,
        ready_since: Option<i64>,
    ) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                creation_timestamp: Some(Time(at(created))),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(Into::into),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: phase.map(Into::into),
                conditions: ready_since.map(|t| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(at(t))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    fn names(pods: Vec<&Pod>) -> Vec<&str> {
        pods.into_iter()
            .map(|p| p.metadata.name.as_deref().unwrap())
            .collect()
    }

    #[test]
    fn should_delete_unscheduled_then_pending_then_not_ready_then_youngest() {
        let now = at(1_000_000);
        let old_ready = pod("old-ready", 1_000, Some("n1"), Some("Running"), Some(2_000));
        let young_ready = pod(
            "young-ready",
            999_000,
            Some("n1"),
            Some("Running"),
            Some(2_000),
        );
        let not_ready = pod("not-ready", 1_000, Some("n1"), Some("Running"), None);
        let pending = pod("pending", 1_000, Some("n1"), Some("Pending"), None);
        let unscheduled = pod("unscheduled", 1_000, None, Some("Pending"), None);
        let all = [&old_ready, &young_ready, &not_ready, &pending, &unscheduled];
        assert_eq!(
            names(pods_to_delete(&all, &all, 5, now)),
            [
                "unscheduled",
                "pending",
                "not-ready",
                "young-ready",
                "old-ready"
            ]
        );
        assert_eq!(
            names(pods_to_delete(&all, &all, 2, now)),
            ["unscheduled", "pending"]
        );
    }

    #[test]
    fn should_delete_pods_ready_for_less_time_first() {
        let now = at(1_000_000);
        let long = pod("long", 10, Some("n1"), Some("Running"), Some(100));
        let short = pod("short", 10, Some("n1"), Some("Running"), Some(999_000));
        assert_eq!(
            names(pods_to_delete(&[&long, &short], &[&long, &short], 1, now)),
            ["short"]
        );
    }

    #[test]
    fn should_delete_doubled_up_pods_first() {
        let now = at(1_000_000);
        let alone = pod("alone", 999_999, Some("n1"), Some("Running"), Some(999_999));
        let crowded = pod("crowded", 10, Some("n2"), Some("Running"), Some(100));
        let neighbour = pod("neighbour", 10, Some("n2"), Some("Running"), Some(100));
        let related = [&alone, &crowded, &neighbour];
        assert_eq!(
            names(pods_to_delete(&[&alone, &crowded], &related, 1, now)),
            ["crowded"]
        );
    }

    #[test]
    fn should_honour_the_deletion_cost() {
        let now = at(1_000_000);
        let mut cheap = pod("cheap", 10, Some("n1"), Some("Running"), Some(100));
        cheap.metadata.annotations =
            Some([(DELETION_COST_ANNOTATION.to_string(), "-5".to_string())].into());
        let young = pod("young", 999_000, Some("n1"), Some("Running"), Some(999_000));
        assert_eq!(
            names(pods_to_delete(&[&young, &cheap], &[], 1, now)),
            ["cheap"]
        );
    }

    #[test]
    fn should_count_only_running_phases_and_no_deleting_pods_as_active() {
        assert!(is_active(&pod("a", 0, None, Some("Running"), None)));
        assert!(!is_active(&pod("b", 0, None, Some("Succeeded"), None)));
        assert!(!is_active(&pod("c", 0, None, Some("Failed"), None)));
        let mut deleting = pod("d", 0, None, None, None);
        deleting.metadata.deletion_timestamp = Some(Time(at(1)));
        assert!(!is_active(&deleting));
    }

    #[test]
    fn should_make_pods_available_only_after_min_ready_seconds() {
        let ready = pod("a", 0, None, Some("Running"), Some(100));
        assert!(is_available(&ready, 0, at(100)));
        assert!(!is_available(&ready, 10, at(110)));
        assert!(is_available(&ready, 10, at(111)));
        assert_eq!(seconds_until_available(&ready, 10, at(105)), Some(6));
        assert_eq!(seconds_until_available(&ready, 10, at(111)), None);
        assert!(!is_available(
            &pod("b", 0, None, Some("Running"), None),
            0,
            at(100)
        ));
    }
}
