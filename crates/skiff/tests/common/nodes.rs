//! Nodes registered through the API as KWOK does: a Node object, a Ready status
//! posted through the status subresource, and a Lease in `kube-node-lease`
//! renewed by the test.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::background::Repeating;
use super::{now_micro, now_rfc3339, with_timeout, Cluster};

/// Registers a node with `labels` (besides `kubernetes.io/hostname`) and `taints`,
/// then marks it Ready with the given allocatable resources.
pub fn register_node(
    cluster: &Cluster,
    name: &str,
    labels: &[(&str, &str)],
    taints: Value,
    cpu: &str,
    memory: &str,
) {
    let mut all_labels = Map::new();
    all_labels.insert("kubernetes.io/hostname".into(), name.into());
    for (key, value) in labels {
        all_labels.insert((*key).into(), (*value).into());
    }
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
    });
    if !taints.is_null() {
        node["spec"] = json!({"taints": taints});
    }
    cluster.apply_manifest(&node.to_string()).success();
    set_node_ready(cluster, name, "True", cpu, memory);
}

/// Registers a Ready node with room for pods: 4 CPUs, 8 GiB and 110 pods.
pub fn ready_node(cluster: &Cluster, name: &str) {
    register_node(cluster, name, &[], Value::Null, "4", "8Gi");
}

/// Posts the node's status as a kubelet would: the Ready condition `ready`
/// (heartbeat now) and `cpu`, `memory` and 110 pods as capacity and allocatable.
pub fn set_node_ready(cluster: &Cluster, name: &str, ready: &str, cpu: &str, memory: &str) {
    let now = now_rfc3339();
    let resources = json!({"cpu": cpu, "memory": memory, "pods": "110"});
    let status = json!({"status": {
        "capacity": resources,
        "allocatable": resources,
        "conditions": [{
            "type": "Ready", "status": ready, "reason": "KubeletReady", "message": "kubelet is posting ready status",
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        }],
    }});
    cluster
        .kubectl(&[
            "patch",
            "node",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status.to_string(),
        ])
        .success();
}

/// The node's Lease, renewed now.
pub fn lease_manifest(node: &str) -> String {
    format!(
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: {node}, namespace: kube-node-lease}}\nspec: {{holderIdentity: {node}, leaseDurationSeconds: 40, renewTime: \"{}\"}}\n",
        now_micro()
    )
}

/// Renews the node's Lease once.
pub fn renew_lease(cluster: &Cluster, node: &str) {
    cluster.apply_manifest(&lease_manifest(node)).success();
}

/// Renews a node's Lease every second until dropped, like an agent.
pub struct Heartbeat {
    _renewals: Repeating,
}

impl Heartbeat {
    pub fn start(cluster: &Cluster, node: &str) -> Heartbeat {
        let (kubeconfig, node) = (cluster.kubeconfig(), node.to_string());
        // Bounded: at most ten minutes of renewals.
        let renewals = Repeating::at_most(600, Duration::from_secs(1), move || {
            let mut child = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["apply", "-f", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("kubectl runs");
            use std::io::Write;
            let lease = lease_manifest(&node);
            let _ = child
                .stdin
                .take()
                .map(|mut s| s.write_all(lease.as_bytes()));
            let _ = with_timeout(child, Duration::from_secs(10));
        });
        Heartbeat {
            _renewals: renewals,
        }
    }
}
