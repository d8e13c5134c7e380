//! Node health from Lease renewals: when a node has been silent for the grace
//! period its conditions go Unknown and it gets the `unreachable` taints, after
//! `monitorNodeHealth` and `doNoExecuteTaintingPass` in
//! k8s.io/kubernetes/pkg/controller/nodelifecycle/node_lifecycle_controller.go.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

/// The taint of a node whose agent stopped reporting (`v1.TaintNodeUnreachable`).
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
/// The taint of a node that reports itself not Ready (`v1.TaintNodeNotReady`).
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const NO_EXECUTE: &str = "NoExecute";
pub const NO_SCHEDULE: &str = "NoSchedule";

/// The conditions upstream sets to Unknown when the kubelet goes silent.
const MONITORED_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
const STOPPED_REASON: &str = "NodeStatusUnknown";
const STOPPED_MESSAGE: &str = "Kubelet stopped posting node status.";
const NEVER_REASON: &str = "NodeStatusNeverUpdated";
const NEVER_MESSAGE: &str = "Kubelet never posted node status.";

/// When the controller last saw each node show a sign of life: a new Lease
/// `renewTime` or a new Ready heartbeat. Upstream times these with its own clock
/// when it observes the change, not with the timestamps themselves, so that
/// clock skew between machines does not matter.
#[derive(Debug, Default)]
pub struct ProbeTracker {
    probes: HashMap<String, Probe>,
}

#[derive(Debug)]
struct Probe {
    renew_time: Option<String>,
    heartbeat: Option<String>,
    observed_at: Instant,
}

impl ProbeTracker {
    /// Records the node's Lease `renewTime` as seen at `now`.
    pub fn observe_lease(&mut self, node: &str, renew_time: Option<String>, now: Instant) {
        let probe = self.probe(node, now);
        if renew_time.is_some() && probe.renew_time != renew_time {
            probe.renew_time = renew_time;
            probe.observed_at = now;
        }
    }

    /// Records the node's Ready `lastHeartbeatTime` as seen at `now`.
    pub fn observe_heartbeat(&mut self, node: &str, heartbeat: Option<String>, now: Instant) {
        let probe = self.probe(node, now);
        if heartbeat.is_some() && probe.heartbeat != heartbeat {
            probe.heartbeat = heartbeat;
            probe.observed_at = now;
        }
    }

    /// How long the node has been silent; a node first seen now gets a full
    /// grace period, as upstream gives every node when it starts.
    pub fn silent_for(&mut self, node: &str, now: Instant) -> Duration {
        now.saturating_duration_since(self.probe(node, now).observed_at)
    }

    pub fn forget(&mut self, node: &str) {
        self.probes.remove(node);
    }

    fn probe(&mut self, node: &str, now: Instant) -> &mut Probe {
        self.probes.entry(node.to_string()).or_insert(Probe {
            renew_time: None,
            heartbeat: None,
            observed_at: now,
        })
    }
}

/// The Ready condition's `lastHeartbeatTime`, as the text the tracker compares.
pub fn ready_heartbeat(node: &Node) -> Option<String> {
    condition(node, "Ready")
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0.to_string())
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Whether a node can finish its pods' graceful stops: it exists, reports
/// Ready=True and is not marked unreachable.
pub fn is_ready(node: &Node) -> bool {
    let ready = condition(node, "Ready").is_some_and(|c| c.status == "True");
    let unreachable = node
        .spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .any(|t| t.key == UNREACHABLE_TAINT);
    ready && !unreachable
}

/// The node's NoExecute taints.
pub fn no_execute_taints(node: &Node) -> Vec<Taint> {
    node.spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .filter(|t| t.effect == NO_EXECUTE)
        .cloned()
        .collect()
}

/// The writes one node needs; `None` leaves that part as it is.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HealthUpdate {
    /// The whole new `status.conditions`.
    pub conditions: Option<Vec<NodeCondition>>,
    /// The whole new `spec.taints`.
    pub taints: Option<Vec<Taint>>,
}

/// Plans a node's conditions and taints. `silent` says whether it has gone
/// without a sign of life for longer than the grace period.
pub fn plan_health(node: &Node, silent: bool, now: Timestamp) -> HealthUpdate {
    let current: Vec<NodeCondition> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let conditions = if silent {
        conditions_when_silent(node, &current, now)
    } else {
        current.clone()
    };
    let ready = conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str());
    // Upstream taints from the observed Ready condition; Skiff also lifts the
    // unreachable taints as soon as the Lease is renewed again, before the agent
    // posts a new status.
    let wanted_key = match (silent, ready) {
        (true, _) => Some(UNREACHABLE_TAINT),
        (false, Some("False")) => Some(NOT_READY_TAINT),
        _ => None,
    };
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    HealthUpdate {
        conditions: (conditions != current).then_some(conditions),
        taints: retaint(&taints, wanted_key, now),
    }
}

fn conditions_when_silent(
    node: &Node,
    current: &[NodeCondition],
    now: Timestamp,
) -> Vec<NodeCondition> {
    let mut next = current.to_vec();
    for type_ in MONITORED_CONDITIONS {
        match next.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some(STOPPED_REASON.into());
                c.message = Some(STOPPED_MESSAGE.into());
                c.last_transition_time = Some(Time(now));
            }
            None => next.push(NodeCondition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: Some(NEVER_REASON.into()),
                message: Some(NEVER_MESSAGE.into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(Time(now)),
            }),
        }
    }
    next
}

/// The node's taints with this controller's set to `wanted_key` (NoSchedule and
/// NoExecute) or to none; `None` when they already are. Kept taints keep their
/// `timeAdded`, which eviction deadlines count from.
fn retaint(taints: &[Taint], wanted_key: Option<&str>, now: Timestamp) -> Option<Vec<Taint>> {
    let managed = |t: &Taint| {
        (t.key == UNREACHABLE_TAINT || t.key == NOT_READY_TAINT)
            && (t.effect == NO_EXECUTE || t.effect == NO_SCHEDULE)
    };
    let mut next: Vec<Taint> = taints.iter().filter(|t| !managed(t)).cloned().collect();
    if let Some(key) = wanted_key {
        for effect in [NO_SCHEDULE, NO_EXECUTE] {
            let kept = taints
                .iter()
                .find(|t| t.key == key && t.effect == effect)
                .cloned();
            next.push(kept.unwrap_or_else(|| Taint {
                key: key.into(),
                effect: effect.into(),
                time_added: Some(Time(now)),
                value: None,
            }));
        }
    }
    let unchanged = next.len() == taints.len() && next.iter().all(|t| taints.contains(t));
    (!unchanged).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    fn ready(status: &str) -> NodeCondition {
        NodeCondition {
            type_: "Ready".into(),
            status: status.into(),
            reason: Some("KubeletReady".into()),
            last_heartbeat_time: Some(Time(at(0))),
            last_transition_time: Some(Time(at(0))),
            ..NodeCondition::default()
        }
    }

    fn node(conditions: Vec<NodeCondition>, taints: Vec<Taint>) -> Node {
        Node {
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(conditions),
                ..NodeStatus::default()
            }),
            ..Node::default()
        }
    }

    fn taint(key: &str, effect: &str, second: i64) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            time_added: Some(Time(at(second))),
            value: None,
        }
    }

    #[test]
    fn should_leave_a_healthy_node_alone() {
        assert_eq!(
            plan_health(&node(vec![ready("True")], vec![]), false, at(10)),
            HealthUpdate::default()
        );
    }

    #[test]
    fn should_mark_a_silent_node_unknown_and_unreachable() {
        let update = plan_health(&node(vec![ready("True")], vec![]), true, at(50));
        let conditions = update.conditions.unwrap();
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(
            ready.last_heartbeat_time,
            Some(Time(at(0))),
            "the heartbeat is the agent's, not ours"
        );
        assert_eq!(ready.last_transition_time, Some(Time(at(50))));
        let types: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            vec!["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
        );
        assert!(conditions[1..]
            .iter()
            .all(|c| c.status == "Unknown" && c.reason.as_deref() == Some(NEVER_REASON)));
        assert_eq!(
            update.taints.unwrap(),
            vec![
                taint(UNREACHABLE_TAINT, NO_SCHEDULE, 50),
                taint(UNREACHABLE_TAINT, NO_EXECUTE, 50)
            ]
        );
    }

    #[test]
    fn should_not_rewrite_a_node_already_marked() {
        let marked = node(
            vec![ready("True")],
            vec![
                taint(UNREACHABLE_TAINT, NO_SCHEDULE, 50),
                taint(UNREACHABLE_TAINT, NO_EXECUTE, 50),
            ],
        );
        let once = plan_health(&marked, true, at(50));
        let mut conditions_written = marked.clone();
        conditions_written.status.as_mut().unwrap().conditions = once.conditions;
        assert_eq!(
            plan_health(&conditions_written, true, at(60)),
            HealthUpdate::default()
        );
    }

    #[test]
    fn should_lift_the_unreachable_taints_when_the_lease_is_renewed_and_keep_others() {
        let custom = taint("example.com/gpu", NO_SCHEDULE, 1);
        let marked = node(
            vec![ready("Unknown")],
            vec![
                custom.clone(),
                taint(UNREACHABLE_TAINT, NO_SCHEDULE, 50),
                taint(UNREACHABLE_TAINT, NO_EXECUTE, 50),
            ],
        );
        let update = plan_health(&marked, false, at(70));
        assert_eq!(update.taints, Some(vec![custom]));
        assert_eq!(
            update.conditions, None,
            "the agent posts Ready again, not this controller"
        );
    }

    #[test]
    fn should_taint_a_node_that_reports_not_ready() {
        let update = plan_health(&node(vec![ready("False")], vec![]), false, at(5));
        let keys: Vec<(&str, &str)> = update
            .taints
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| (t.key.as_str(), t.effect.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                (NOT_READY_TAINT, NO_SCHEDULE),
                (NOT_READY_TAINT, NO_EXECUTE)
            ]
        );
    }

    #[test]
    fn should_replace_not_ready_taints_with_unreachable_ones_when_silent() {
        let not_ready = node(
            vec![ready("False")],
            vec![
                taint(NOT_READY_TAINT, NO_SCHEDULE, 5),
                taint(NOT_READY_TAINT, NO_EXECUTE, 5),
            ],
        );
        let taints = plan_health(&not_ready, true, at(60)).taints.unwrap();
        assert!(taints
            .iter()
            .all(|t| t.key == UNREACHABLE_TAINT && t.time_added == Some(Time(at(60)))));
    }

    #[test]
    fn should_call_a_node_ready_only_when_it_says_so_and_is_reachable() {
        assert!(is_ready(&node(vec![ready("True")], vec![])));
        assert!(!is_ready(&node(vec![ready("False")], vec![])));
        assert!(!is_ready(&node(
            vec![ready("True")],
            vec![taint(UNREACHABLE_TAINT, NO_EXECUTE, 1)]
        )));
        assert!(!is_ready(&Node::default()));
    }

    // The tracker takes the clock as an argument, so these timing tests move
    // time by hand instead of sleeping.
    #[test]
    fn should_count_silence_from_the_last_change_the_controller_saw() {
        let mut probes = ProbeTracker::default();
        let start = Instant::now();
        let later = |seconds| start + Duration::from_secs(seconds);
        probes.observe_lease("n1", Some("t1".into()), start);
        probes.observe_lease("n1", Some("t1".into()), later(30));
        assert_eq!(
            probes.silent_for("n1", later(30)),
            Duration::from_secs(30),
            "an unchanged lease is silence"
        );
        probes.observe_lease("n1", Some("t2".into()), later(30));
        assert_eq!(probes.silent_for("n1", later(71)), Duration::from_secs(41));
        probes.observe_heartbeat("n1", Some("h1".into()), later(71));
        assert_eq!(
            probes.silent_for("n1", later(71)),
            Duration::ZERO,
            "a new heartbeat is a sign of life"
        );
    }

    #[test]
    fn should_give_a_newly_seen_node_a_full_grace_period() {
        let mut probes = ProbeTracker::default();
        let start = Instant::now();
        assert_eq!(probes.silent_for("new", start), Duration::ZERO);
        assert_eq!(
            probes.silent_for("new", start + Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        probes.forget("new");
        assert_eq!(
            probes.silent_for("new", start + Duration::from_secs(5)),
            Duration::ZERO
        );
    }
}
