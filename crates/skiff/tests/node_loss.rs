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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// The current time in a `date` format, e.g. `+%Y-%m-%dT%H:%M:%SZ`.
fn now_as(format: &str) -> String {
    let out = Command::new("date")
        .args(["-u", format])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The current time as a Kubernetes MicroTime (a Lease's `renewTime`).
fn now_micro() -> String {
    now_as("+%Y-%m-%dT%H:%M:%S.%6NZ")
}

fn apply(cluster: &Cluster, yaml: &str) {
    cluster.kubectl_stdin(&["apply", "-f", "-"], yaml).success();
}

/// Registers a Ready node with room for pods, and its Lease.
fn register_node(cluster: &Cluster, name: &str) {
    apply(cluster, &format!("apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}}}}}\n"));
    let status = format!(
        r#"{{"status":{{"capacity":{{"cpu":"4","memory":"8Gi","pods":"110"}},"allocatable":{{"cpu":"4","memory":"8Gi","pods":"110"}},"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":"{t}","lastTransitionTime":"{t}"}}]}}}}"#,
        t = now_as("+%Y-%m-%dT%H:%M:%SZ")
    );
    cluster
        .kubectl(&[
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ])
        .success();
    renew_lease(cluster, name);
}

fn renew_lease(cluster: &Cluster, node: &str) {
    apply(
        cluster,
        &format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: {node}, namespace: kube-node-lease}}\nspec: {{holderIdentity: {node}, leaseDurationSeconds: 40, renewTime: \"{}\"}}\n",
            now_micro()
        ),
    );
}

fn node_json(cluster: &Cluster, name: &str) -> Value {
    let run = cluster
        .kubectl(&["get", "node", name, "-o", "json"])
        .success();
    serde_json::from_str(&run.stdout).expect("a node as JSON")
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

/// Renews a node's Lease every second until dropped, like an agent.
struct Heartbeat {
    running: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(cluster: &Cluster, node: &str) -> Heartbeat {
        let running = Arc::new(AtomicBool::new(true));
        let (kubeconfig, node, flag) = (cluster.kubeconfig(), node.to_string(), running.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: at most ten minutes of renewals.
            for _ in 0..600 {
                if !flag.load(Ordering::Relaxed) {
                    break;
                }
                let lease = format!(
                    "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: {node}, namespace: kube-node-lease}}\nspec: {{holderIdentity: {node}, leaseDurationSeconds: 40, renewTime: \"{}\"}}\n",
                    now_micro()
                );
                let mut child = Command::new("kubectl")
                    .arg("--kubeconfig")
                    .arg(&kubeconfig)
                    .args(["apply", "-f", "-"])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("kubectl runs");
                use std::io::Write;
                let _ = child
                    .stdin
                    .take()
                    .map(|mut s| s.write_all(lease.as_bytes()));
                let _ = common::with_timeout(child, Duration::from_secs(10));
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Heartbeat {
            running,
            thread: Some(thread),
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
