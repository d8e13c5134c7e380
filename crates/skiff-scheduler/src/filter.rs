//! The filters: may this pod run on this node?
//!
//! They run in upstream's default plugin order
//! (`pkg/scheduler/apis/config/v1/default_plugins.go`) and stop at the first
//! plugin that rejects, as `RunFilterPlugins` does, so each node contributes the
//! reasons of one plugin to the message:
//! NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodeResourcesFit.

use std::fmt;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Toleration,
};

use crate::cache::NodeInfo;
use crate::resources::PodRequests;

/// The taint a cordoned node is treated as having (`v1.TaintNodeUnschedulable`).
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The taint a node that is not Ready is treated as having (`v1.TaintNodeNotReady`).
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";

/// What the filters need to know about the pod being placed, worked out once
/// per attempt rather than once per node.
#[derive(Debug, Clone, Copy)]
pub struct PodFacts<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// Its requests.
    pub requests: PodRequests,
    /// The uid of its controlling owner.
    pub owner: Option<&'a str>,
}

impl<'a> PodFacts<'a> {
    /// Works out the facts of `pod`.
    pub fn of(pod: &'a Pod) -> Self {
        PodFacts {
            pod,
            requests: crate::resources::pod_requests(pod),
            owner: crate::resources::controller_uid(pod),
        }
    }

    fn tolerations(&self) -> &'a [Toleration] {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default()
    }
}

/// Why a node was rejected, worded as upstream's plugins word it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// NodeUnschedulable: the node is cordoned.
    Unschedulable,
    /// NodeName: the pod names another node.
    NodeName,
    /// TaintToleration: the first taint the pod does not tolerate.
    UntoleratedTaint {
        /// The taint's key.
        key: String,
        /// The taint's value (empty when it has none).
        value: String,
    },
    /// NodeAffinity: `nodeSelector` or required node affinity does not match.
    NodeAffinity,
    /// NodeResourcesFit: the node has too few pod slots left.
    TooManyPods,
    /// NodeResourcesFit: the node has too little CPU left.
    InsufficientCpu,
    /// NodeResourcesFit: the node has too little memory left.
    InsufficientMemory,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Unschedulable => f.write_str("node(s) were unschedulable"),
            Reason::NodeName => f.write_str("node(s) didn't match the requested node name"),
            Reason::UntoleratedTaint { key, value } => {
                write!(f, "node(s) had untolerated taint {{{key}: {value}}}")
            }
            Reason::NodeAffinity => {
                f.write_str("node(s) didn't match Pod's node affinity/selector")
            }
            Reason::TooManyPods => f.write_str("Too many pods"),
            Reason::InsufficientCpu => f.write_str("Insufficient cpu"),
            Reason::InsufficientMemory => f.write_str("Insufficient memory"),
        }
    }
}

/// A node's rejection of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The rejecting plugin's reasons.
    pub reasons: Vec<Reason>,
    /// True when evicting other pods could not help (upstream's
    /// `UnschedulableAndUnresolvable`), which the preemption sentence reports.
    pub unresolvable: bool,
}

impl Rejection {
    fn unresolvable(reason: Reason) -> Self {
        Rejection {
            reasons: vec![reason],
            unresolvable: true,
        }
    }
}

/// Runs every filter of the pod against the node.
pub fn filter(pod: &PodFacts<'_>, node: &Node, info: &NodeInfo) -> Result<(), Rejection> {
    node_unschedulable(pod, node)?;
    node_name(pod, node)?;
    taint_toleration(pod, node, info.ready)?;
    node_affinity(pod.pod, node)?;
    resources_fit(pod, info)
}

/// `nodeunschedulable.Filter`: a cordoned node takes only pods that tolerate
/// `node.kubernetes.io/unschedulable:NoSchedule`.
fn node_unschedulable(pod: &PodFacts<'_>, node: &Node) -> Result<(), Rejection> {
    let cordoned = node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if cordoned && !tolerated(pod.tolerations(), TAINT_UNSCHEDULABLE, "", "NoSchedule") {
        return Err(Rejection::unresolvable(Reason::Unschedulable));
    }
    Ok(())
}

/// `nodename.Filter`: a pod that names a node fits only there.
fn node_name(pod: &PodFacts<'_>, node: &Node) -> Result<(), Rejection> {
    let wanted = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default();
    if !wanted.is_empty() && Some(wanted) != node.metadata.name.as_deref() {
        return Err(Rejection::unresolvable(Reason::NodeName));
    }
    Ok(())
}

/// `tainttoleration.Filter`: the first NoSchedule or NoExecute taint the pod
/// does not tolerate rejects the node. A node that is not Ready counts as
/// tainted `node.kubernetes.io/not-ready:NoSchedule`, the taint upstream's node
/// lifecycle controller would put there.
fn taint_toleration(pod: &PodFacts<'_>, node: &Node, ready: bool) -> Result<(), Rejection> {
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    let tolerations = pod.tolerations();
    let blocking = |effect: &str| effect == "NoSchedule" || effect == "NoExecute";
    let untolerated = taints.iter().find(|taint| {
        blocking(&taint.effect)
            && !tolerated(
                tolerations,
                &taint.key,
                taint.value.as_deref().unwrap_or_default(),
                &taint.effect,
            )
    });
    if let Some(taint) = untolerated {
        return Err(Rejection::unresolvable(Reason::UntoleratedTaint {
            key: taint.key.clone(),
            value: taint.value.clone().unwrap_or_default(),
        }));
    }
    let has_not_ready_taint = taints
        .iter()
        .any(|t| t.key == TAINT_NOT_READY && blocking(&t.effect));
    if !ready && !has_not_ready_taint && !tolerated(tolerations, TAINT_NOT_READY, "", "NoSchedule")
    {
        return Err(Rejection::unresolvable(Reason::UntoleratedTaint {
            key: TAINT_NOT_READY.to_string(),
            value: String::new(),
        }));
    }
    Ok(())
}

/// Whether any toleration tolerates the taint (`Toleration.ToleratesTaint` in
/// `k8s.io/api/core/v1/toleration.go`): the effect and key match when set, and
/// the value matches for `Equal` (the default operator); an empty key with
/// `Exists` tolerates everything.
pub fn tolerated(tolerations: &[Toleration], key: &str, value: &str, effect: &str) -> bool {
    tolerations.iter().any(|toleration| {
        let toleration_effect = toleration.effect.as_deref().unwrap_or_default();
        let toleration_key = toleration.key.as_deref().unwrap_or_default();
        if !toleration_effect.is_empty() && toleration_effect != effect {
            return false;
        }
        if !toleration_key.is_empty() && toleration_key != key {
            return false;
        }
        match toleration.operator.as_deref().unwrap_or_default() {
            "" | "Equal" => toleration.value.as_deref().unwrap_or_default() == value,
            "Exists" => true,
            _ => false,
        }
    })
}

/// `nodeaffinity.Filter`: `nodeSelector` and required node affinity must both match.
fn node_affinity(pod: &Pod, node: &Node) -> Result<(), Rejection> {
    if matches_node_selector_and_affinity(pod, node) {
        Ok(())
    } else {
        Err(Rejection::unresolvable(Reason::NodeAffinity))
    }
}

/// Whether the node carries every `nodeSelector` label and meets one of the
/// required node affinity terms (`GetRequiredNodeAffinity` in
/// `k8s.io/component-helpers/scheduling/corev1/nodeaffinity`).
pub fn matches_node_selector_and_affinity(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let labels = node.metadata.labels.as_ref();
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    if let Some(selector) = &spec.node_selector {
        if !selector
            .iter()
            .all(|(key, value)| label(key) == Some(value.as_str()))
        {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        // Terms are ORed; a selector without terms matches nothing.
        Some(selector) => selector
            .node_selector_terms
            .iter()
            .any(|term| term_matches(term, node, &label)),
        None => true,
    }
}

/// Expressions and fields of one term are ANDed; an empty term matches nothing.
fn term_matches<'a>(
    term: &NodeSelectorTerm,
    node: &Node,
    label: &impl Fn(&str) -> Option<&'a str>,
) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let node_name = node.metadata.name.as_deref();
    expressions
        .iter()
        .all(|r| requirement_matches(r, label(&r.key)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, node_name))
}

/// One requirement against the value found (`None` when the key is absent).
fn requirement_matches(requirement: &NodeSelectorRequirement, found: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let contains = |value: &str| values.iter().any(|v| v == value);
    // Gt and Lt compare integers; a value that is not one never matches.
    let compare = |wants: fn(i64, i64) -> bool| {
        let (Some(found), [bound]) = (found, values) else {
            return false;
        };
        match (found.parse::<i64>(), bound.parse::<i64>()) {
            (Ok(found), Ok(bound)) => wants(found, bound),
            _ => false,
        }
    };
    match requirement.operator.as_str() {
        "In" => found.is_some_and(contains),
        "NotIn" => !found.is_some_and(contains),
        "Exists" => found.is_some(),
        "DoesNotExist" => found.is_none(),
        "Gt" => compare(|found, bound| found > bound),
        "Lt" => compare(|found, bound| found < bound),
        _ => false,
    }
}

/// `noderesources.Fit` (`fitsRequest`): the pod count, then CPU and memory
/// against allocatable minus what is already placed. Asking for more than the
/// whole node has is unresolvable; asking for more than is left is not.
fn resources_fit(pod: &PodFacts<'_>, info: &NodeInfo) -> Result<(), Rejection> {
    let mut reasons = Vec::new();
    let mut unresolvable = false;
    if info.pod_count + 1 > info.allocatable.pods {
        reasons.push(Reason::TooManyPods);
    }
    let wants = pod.requests.requested;
    let has = info.allocatable.resources;
    let free = has.minus(info.requested);
    if wants.milli_cpu > 0 && wants.milli_cpu > free.milli_cpu {
        reasons.push(Reason::InsufficientCpu);
        unresolvable |= wants.milli_cpu > has.milli_cpu;
    }
    if wants.memory > 0 && wants.memory > free.memory {
        reasons.push(Reason::InsufficientMemory);
        unresolvable |= wants.memory > has.memory;
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            reasons,
            unresolvable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use crate::cache::PlacedPod;
    use crate::resources::Resources;
    use serde_json::{json, Value};

    fn node(name: &str, extra: Value) -> Node {
        let mut node = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {
                "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        });
        merge(&mut node, extra);
        serde_json::from_value(node).expect("a node")
    }

    fn pod(spec: Value) -> Pod {
        let mut pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
        merge(&mut pod["spec"], spec);
        serde_json::from_value(pod).expect("a pod")
    }

    fn merge(target: &mut Value, patch: Value) {
        match (target, patch) {
            (Value::Object(target), Value::Object(patch)) => {
                for (key, value) in patch {
                    merge(target.entry(key).or_insert(Value::Null), value);
                }
            }
            (target, patch) => *target = patch,
        }
    }

    fn check(pod: &Pod, node: Node) -> Result<(), Rejection> {
        check_with(pod, node, &[])
    }

    fn check_with(pod: &Pod, node: Node, placed: &[Resources]) -> Result<(), Rejection> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut cache = Cache::default();
        cache.set_node(node);
        for (i, resources) in placed.iter().enumerate() {
            let requests = PodRequests {
                requested: *resources,
                non_zero: *resources,
            };
            let placed = PlacedPod {
                uid: i.to_string(),
                node: name.clone(),
                requests,
                owner: None,
                assumed: false,
            };
            cache.place(&format!("default/{i}"), placed);
        }
        let (node, info) = cache.nodes().next().expect("the node");
        filter(&PodFacts::of(pod), node, info)
    }

    fn rejected(reason: Reason) -> Result<(), Rejection> {
        Err(Rejection {
            reasons: vec![reason],
            unresolvable: true,
        })
    }

    fn requesting(cpu: &str, memory: &str) -> Pod {
        pod(
            json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}),
        )
    }

    #[test]
    fn should_accept_a_plain_pod_on_a_ready_node() {
        assert_eq!(check(&pod(json!({})), node("n1", json!({}))), Ok(()));
    }

    #[test]
    fn should_reject_a_pod_asking_more_memory_than_the_node_has_as_unresolvable() {
        let result = check(&requesting("100m", "8Gi"), node("n1", json!({})));
        assert_eq!(
            result,
            Err(Rejection {
                reasons: vec![Reason::InsufficientMemory],
                unresolvable: true
            })
        );
    }

    #[test]
    fn should_reject_a_pod_asking_more_than_is_left_as_resolvable() {
        let used = Resources {
            milli_cpu: 1500,
            memory: 0,
        };
        let result = check_with(&requesting("1", "1Mi"), node("n1", json!({})), &[used]);
        assert_eq!(
            result,
            Err(Rejection {
                reasons: vec![Reason::InsufficientCpu],
                unresolvable: false
            })
        );
    }

    #[test]
    fn should_report_every_insufficient_resource() {
        let result = check(&requesting("3", "8Gi"), node("n1", json!({})));
        assert_eq!(
            result.map_err(|r| r.reasons),
            Err(vec![Reason::InsufficientCpu, Reason::InsufficientMemory])
        );
    }

    #[test]
    fn should_accept_a_pod_that_fits_exactly() {
        let used = Resources {
            milli_cpu: 1000,
            memory: 2 * 1024 * 1024 * 1024,
        };
        assert_eq!(
            check_with(&requesting("1", "2Gi"), node("n1", json!({})), &[used]),
            Ok(())
        );
    }

    #[test]
    fn should_reject_a_full_node_with_too_many_pods() {
        let node = node("n1", json!({"status": {"allocatable": {"pods": "1"}}}));
        let result = check_with(&pod(json!({})), node, &[Resources::default()]);
        assert_eq!(
            result,
            Err(Rejection {
                reasons: vec![Reason::TooManyPods],
                unresolvable: false
            })
        );
    }

    #[test]
    fn should_count_a_pod_without_requests_only_against_the_pod_limit() {
        let used = Resources {
            milli_cpu: 2000,
            memory: 4 * 1024 * 1024 * 1024,
        };
        assert_eq!(
            check_with(&pod(json!({})), node("n1", json!({})), &[used]),
            Ok(())
        );
    }

    #[test]
    fn should_honour_the_node_selector() {
        let pod = pod(json!({"nodeSelector": {"disk": "ssd"}}));
        assert_eq!(
            check(
                &pod,
                node("n1", json!({"metadata": {"labels": {"disk": "ssd"}}}))
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &pod,
                node("n1", json!({"metadata": {"labels": {"disk": "hdd"}}}))
            ),
            rejected(Reason::NodeAffinity)
        );
        assert_eq!(
            check(&pod, node("n1", json!({}))),
            rejected(Reason::NodeAffinity)
        );
    }

    fn affinity(terms: Value) -> Pod {
        pod(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}),
        )
    }

    fn labelled(labels: Value) -> Node {
        node("n1", json!({"metadata": {"labels": labels}}))
    }

    #[test]
    fn should_match_affinity_operators() {
        let expression = |operator: &str, values: Value| {
            affinity(
                json!([{"matchExpressions": [{"key": "zone", "operator": operator, "values": values}]}]),
            )
        };
        let cases = [
            ("In", json!(["a", "b"]), json!({"zone": "b"}), true),
            ("In", json!(["a"]), json!({"zone": "c"}), false),
            ("In", json!(["a"]), json!({}), false),
            ("NotIn", json!(["a"]), json!({"zone": "c"}), true),
            ("NotIn", json!(["a"]), json!({}), true),
            ("NotIn", json!(["a"]), json!({"zone": "a"}), false),
            ("Exists", json!(null), json!({"zone": "x"}), true),
            ("Exists", json!(null), json!({}), false),
            ("DoesNotExist", json!(null), json!({}), true),
            ("DoesNotExist", json!(null), json!({"zone": "x"}), false),
            ("Gt", json!(["5"]), json!({"zone": "6"}), true),
            ("Gt", json!(["5"]), json!({"zone": "5"}), false),
            ("Gt", json!(["5"]), json!({"zone": "six"}), false),
            ("Lt", json!(["5"]), json!({"zone": "4"}), true),
            ("Lt", json!(["5"]), json!({}), false),
        ];
        for (operator, values, labels, fits) in cases {
            let result = check(
                &expression(operator, values.clone()),
                labelled(labels.clone()),
            );
            assert_eq!(result.is_ok(), fits, "{operator} {values} on {labels}");
        }
    }

    #[test]
    fn should_or_terms_and_and_expressions() {
        let pod = affinity(json!([
            {"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]},
            {"matchExpressions": [{"key": "c", "operator": "Exists"}]},
        ]));
        assert!(check(&pod, labelled(json!({"a": "1", "b": "1"}))).is_ok());
        assert!(check(&pod, labelled(json!({"c": "1"}))).is_ok());
        assert_eq!(
            check(&pod, labelled(json!({"a": "1"}))),
            rejected(Reason::NodeAffinity)
        );
    }

    #[test]
    fn should_match_an_empty_term_against_nothing() {
        assert_eq!(
            check(&affinity(json!([{}])), node("n1", json!({}))),
            rejected(Reason::NodeAffinity)
        );
    }

    #[test]
    fn should_match_fields_on_the_node_name() {
        let pod = affinity(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]),
        );
        assert!(check(&pod, node("n1", json!({}))).is_ok());
        assert_eq!(
            check(&pod, node("n2", json!({}))),
            rejected(Reason::NodeAffinity)
        );
    }

    #[test]
    fn should_require_both_the_selector_and_the_affinity() {
        let mut pod = affinity(json!([{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]));
        pod.spec.as_mut().expect("a spec").node_selector =
            Some([("b".to_string(), "1".to_string())].into());
        assert!(check(&pod, labelled(json!({"a": "1", "b": "1"}))).is_ok());
        assert_eq!(
            check(&pod, labelled(json!({"a": "1"}))),
            rejected(Reason::NodeAffinity)
        );
    }

    fn tainted(key: &str, value: Option<&str>, effect: &str) -> Node {
        node(
            "n1",
            json!({"spec": {"taints": [{"key": key, "value": value, "effect": effect}]}}),
        )
    }

    fn tolerating(tolerations: Value) -> Pod {
        pod(json!({"tolerations": tolerations}))
    }

    #[test]
    fn should_reject_untolerated_no_schedule_and_no_execute_taints() {
        let taint = |effect| tainted("dedicated", Some("gpu"), effect);
        let reason = Reason::UntoleratedTaint {
            key: "dedicated".into(),
            value: "gpu".into(),
        };
        assert_eq!(
            check(&pod(json!({})), taint("NoSchedule")),
            rejected(reason.clone())
        );
        assert_eq!(check(&pod(json!({})), taint("NoExecute")), rejected(reason));
        assert_eq!(check(&pod(json!({})), taint("PreferNoSchedule")), Ok(()));
    }

    #[test]
    fn should_tolerate_with_equal_and_exists() {
        let node = || tainted("dedicated", Some("gpu"), "NoSchedule");
        let fits = |tolerations: Value| check(&tolerating(tolerations), node()).is_ok();
        assert!(fits(
            json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])
        ));
        assert!(fits(json!([{"key": "dedicated", "value": "gpu"}])));
        assert!(fits(json!([{"key": "dedicated", "operator": "Exists"}])));
        assert!(fits(json!([{"operator": "Exists"}])));
        assert!(!fits(
            json!([{"key": "dedicated", "operator": "Equal", "value": "cpu"}])
        ));
        assert!(!fits(
            json!([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}])
        ));
        assert!(!fits(json!([{"key": "other", "operator": "Exists"}])));
    }

    #[test]
    fn should_word_a_taint_without_a_value_like_upstream() {
        let result = check(&pod(json!({})), tainted("maintenance", None, "NoSchedule"));
        let reasons = result.expect_err("rejected").reasons;
        assert_eq!(
            reasons[0].to_string(),
            "node(s) had untolerated taint {maintenance: }"
        );
    }

    #[test]
    fn should_reject_a_cordoned_node_unless_tolerated() {
        let cordoned = || node("n1", json!({"spec": {"unschedulable": true}}));
        assert_eq!(
            check(&pod(json!({})), cordoned()),
            rejected(Reason::Unschedulable)
        );
        let tolerant = tolerating(
            json!([{"key": TAINT_UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"}]),
        );
        assert_eq!(check(&tolerant, cordoned()), Ok(()));
    }

    #[test]
    fn should_treat_a_node_that_is_not_ready_as_tainted_not_ready() {
        let not_ready = || {
            node(
                "n1",
                json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
            )
        };
        let reason = Reason::UntoleratedTaint {
            key: TAINT_NOT_READY.into(),
            value: String::new(),
        };
        assert_eq!(check(&pod(json!({})), not_ready()), rejected(reason));
        let tolerant = tolerating(json!([{"key": TAINT_NOT_READY, "operator": "Exists"}]));
        assert_eq!(check(&tolerant, not_ready()), Ok(()));
    }

    #[test]
    fn should_reject_other_nodes_for_a_pod_that_names_one() {
        let pod = pod(json!({"nodeName": "n2"}));
        assert_eq!(
            check(&pod, node("n1", json!({}))),
            rejected(Reason::NodeName)
        );
        assert_eq!(check(&pod, node("n2", json!({}))), Ok(()));
    }

    #[test]
    fn should_stop_at_the_first_rejecting_filter() {
        let node = node(
            "n1",
            json!({"spec": {"unschedulable": true, "taints": [{"key": "k", "effect": "NoSchedule"}]}}),
        );
        let result = check(&requesting("8", "1Mi"), node);
        assert_eq!(result, rejected(Reason::Unschedulable));
    }
}
