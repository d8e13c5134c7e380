//! Node loss end to end: a node whose Lease stops being renewed becomes
//! Ready=Unknown with the `unreachable` taints, its pods are evicted once their
//! tolerations run out, and a Deployment's pod comes back on a live node. Nodes
//! are registered through the API and their Leases renewed by the test, as KWOK
//! does; the controllers under test are the real ones.
//!
//! The timings are Kubernetes' (40 s grace) unless the server accepts the
//! shortening flags, which the tests then use.

mod common;

use std::process::Command;
use std::time::Duration;

use common::nodes::{ready_node, renew_lease, Heartbeat};
use common::{eventually, Cluster};
use serde_json::Value;

/// The flag that shortens the node monitor grace period; used when the binary
/// knows it. The pods here carry their own short tolerations.
const GRACE_FLAG: &str = "--node-monitor-grace-period-seconds";
const SHORT_GRACE_SECONDS: u64 = 4;
const DEFAULT_GRACE_SECONDS: u64 = 40;

/// Starts a server, with short node timings when the binary supports them;
/// returns it with the grace period in force.
fn start_cluster() -> (Cluster, Duration) {
    let help = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["server", "--help"])
        .output()
        .expect("skiff runs");
    let help = String::from_utf8_lossy(&help.stdout);
    if help.contains(GRACE_FLAG) {
        let grace = format!("{GRACE_FLAG}={SHORT_GRACE_SECONDS}");
        (
            Cluster::start_with(&[&grace]),
            Duration::from_secs(SHORT_GRACE_SECONDS),
        )
    } else {
        (Cluster::start(), Duration::from_secs(DEFAULT_GRACE_SECONDS))
    }
}

fn node_json(cluster: &Cluster, name: &str) -> Value {
    cluster.get_json(&["get", "node", name])
}

/// Registers a Ready node with room for pods, and its Lease.
fn register_node(cluster: &Cluster, name: &str) {
    ready_node(cluster, name);
    renew_lease(cluster, name);
}

fn apply(cluster: &Cluster, yaml: &str) {
    cluster.apply_manifest(yaml).success();
}

fn ready_status(node: &Value) -> String {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

fn has_taint(node: &Value, key: &str, effect: &str) -> bool {
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .is_some_and(|taints| {
            taints
                .iter()
                .any(|t| t["key"] == key && t["effect"] == effect)
        })
}

fn bound_pod(name: &str, node: &str, toleration_seconds: Option<u64>) -> String {
    let seconds = toleration_seconds
        .map(|s| format!(", tolerationSeconds: {s}"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  nodeName: {node}\n  containers: [{{name: c, image: demo:v1}}]\n  tolerations:\n  - {{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute{seconds}}}\n  - {{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute{seconds}}}\n"
    )
}

#[test]
fn should_mark_a_silent_node_unknown_taint_it_and_evict_its_pods() {
    let (cluster, grace) = start_cluster();
    register_node(&cluster, "lost");
    apply(&cluster, &bound_pod("quick", "lost", Some(1)));
    apply(&cluster, &bound_pod("patient", "lost", None));
    assert_eq!(ready_status(&node_json(&cluster, "lost")), "True");

    // The lease is not renewed from here on.
    let mut node = Value::Null;
    let marked = eventually(grace + Duration::from_secs(20), || {
        node = node_json(&cluster, "lost");
        ready_status(&node) == "Unknown"
            && has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
    });
    assert!(
        marked,
        "the node was not marked lost: {node:#}\n{}",
        cluster.log()
    );
    assert!(has_taint(
        &node,
        "node.kubernetes.io/unreachable",
        "NoSchedule"
    ));
    let ready = node["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");

    // A one-second toleration runs out; a toleration without a limit does not.
    let evicted = eventually(Duration::from_secs(15), || {
        !cluster.kubectl(&["get", "pod", "quick"]).ok
    });
    assert!(evicted, "the pod was not evicted\n{}", cluster.log());
    cluster.kubectl(&["get", "pod", "patient"]).success();

    // The agent comes back: the taints go.
    renew_lease(&cluster, "lost");
    let untainted = eventually(Duration::from_secs(15), || {
        node = node_json(&cluster, "lost");
        !has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
            && !has_taint(&node, "node.kubernetes.io/unreachable", "NoSchedule")
    });
    assert!(
        untainted,
        "the taints stayed after the lease was renewed: {node:#}"
    );
}

#[test]
fn should_replace_the_pods_of_a_lost_node_on_a_live_node() {
    let (cluster, grace) = start_cluster();
    register_node(&cluster, "doomed");
    let deployment = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: demo:v1}]
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 1}
"#;
    apply(&cluster, deployment);
    let pod_nodes = || {
        let run = cluster.kubectl(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
        ]);
        run.stdout
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let placed = eventually(Duration::from_secs(30), || pod_nodes() == ["doomed"]);
    assert!(
        placed,
        "the pod was not scheduled on the only node: {:?}\n{}",
        pod_nodes(),
        cluster.log()
    );

    // A second node joins and keeps renewing; the first goes silent.
    register_node(&cluster, "alive");
    let _heartbeat = Heartbeat::start(&cluster, "alive");
    let moved = eventually(grace + Duration::from_secs(30), || pod_nodes() == ["alive"]);
    assert!(
        moved,
        "the pod did not move to the live node: {:?}\n{}",
        pod_nodes(),
        cluster.log()
    );
    assert_eq!(ready_status(&node_json(&cluster, "alive")), "True");
}
