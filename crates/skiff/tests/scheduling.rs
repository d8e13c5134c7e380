//! End-to-end: the real scheduler in `skiff server`, driven by the real
//! `kubectl`. Nodes are registered through the API and given a Ready status with
//! `kubectl patch --subresource=status`, as KWOK does.

mod common;

use std::time::Duration;

use common::nodes::{ready_node, register_node, set_node_ready};
use common::Cluster;
use serde_json::Value;

/// How long the scheduler may take to react; generous, since the machine is shared.
const WAIT: Duration = Duration::from_secs(30);

/// A pod manifest; `spec` is merged over a one-container spec.
fn pod_manifest(name: &str, metadata: Value, spec: Value) -> String {
    let mut pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    });
    merge(&mut pod["metadata"], metadata);
    merge(&mut pod["spec"], spec);
    pod.to_string()
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (_, Value::Null) => {}
        (target, patch) => *target = patch,
    }
}

fn create_pod(cluster: &Cluster, name: &str, metadata: Value, spec: Value) {
    cluster
        .kubectl_stdin(&["create", "-f", "-"], &pod_manifest(name, metadata, spec))
        .success();
}

fn node_of(cluster: &Cluster, pod: &str) -> String {
    let run = cluster.kubectl(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"]);
    if run.ok {
        run.stdout.trim().to_string()
    } else {
        String::new()
    }
}

/// Waits until the pod is bound and returns its node; fails the test otherwise.
fn wait_bound(cluster: &Cluster, pod: &str) -> String {
    let mut node = String::new();
    let bound = common::eventually(WAIT, || {
        node = node_of(cluster, pod);
        !node.is_empty()
    });
    assert!(
        bound,
        "pod {pod} was not bound; describe:\n{}\nlog:\n{}",
        describe(cluster, pod),
        cluster.log()
    );
    node
}

fn describe(cluster: &Cluster, pod: &str) -> String {
    cluster.kubectl(&["describe", "pod", pod]).stdout
}

fn scheduled_condition_message(cluster: &Cluster, pod: &str) -> String {
    let path = r#"jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}"#;
    cluster
        .kubectl(&["get", "pod", pod, "-o", path])
        .stdout
        .trim()
        .to_string()
}

/// Waits until the pod's PodScheduled condition and `kubectl describe` both carry `message`.
fn wait_unschedulable(cluster: &Cluster, pod: &str, message: &str) {
    let shown = common::eventually(WAIT, || {
        scheduled_condition_message(cluster, pod).contains(message)
            && describe(cluster, pod).contains(message)
    });
    assert!(
        shown,
        "pod {pod} never showed {message:?}; condition: {:?}\ndescribe:\n{}",
        scheduled_condition_message(cluster, pod),
        describe(cluster, pod)
    );
}

#[test]
fn should_bind_pods_to_ready_nodes_and_record_the_event() {
    let cluster = Cluster::start();
    ready_node(&cluster, "node1");
    // A node that never reported Ready takes no pods.
    let absent =
        serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node2"}});
    cluster.apply_manifest(&absent.to_string()).success();

    for name in ["web-1", "web-2", "web-3"] {
        create_pod(&cluster, name, Value::Null, Value::Null);
    }
    for name in ["web-1", "web-2", "web-3"] {
        assert_eq!(wait_bound(&cluster, name), "node1");
    }

    let description = describe(&cluster, "web-1");
    assert!(
        description.contains("Successfully assigned default/web-1 to node1"),
        "{description}"
    );
    assert!(description.contains("Scheduled"), "{description}");
    assert!(description.contains("default-scheduler"), "{description}");
    let condition = cluster.kubectl(&[
        "get",
        "pod",
        "web-1",
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="PodScheduled")].status}"#,
    ]);
    assert_eq!(condition.stdout.trim(), "True");
}

#[test]
fn should_honour_node_selectors_affinity_and_taints() {
    let cluster = Cluster::start();
    register_node(&cluster, "hdd", &[("disk", "hdd")], Value::Null, "4", "8Gi");
    register_node(&cluster, "ssd", &[("disk", "ssd")], Value::Null, "4", "8Gi");
    let gpu_taint =
        serde_json::json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
    register_node(&cluster, "gpu", &[("disk", "ssd")], gpu_taint, "4", "8Gi");

    create_pod(
        &cluster,
        "wants-ssd",
        Value::Null,
        serde_json::json!({"nodeSelector": {"disk": "ssd"}}),
    );
    assert_eq!(
        wait_bound(&cluster, "wants-ssd"),
        "ssd",
        "the gpu node's taint is not tolerated"
    );

    let tolerates_gpu = serde_json::json!({
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}],
             "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["ssd"]}]},
        ]}}},
    });
    create_pod(&cluster, "gpu-job", Value::Null, tolerates_gpu);
    assert_eq!(wait_bound(&cluster, "gpu-job"), "gpu");

    create_pod(
        &cluster,
        "wants-nvme",
        Value::Null,
        serde_json::json!({"nodeSelector": {"disk": "nvme"}}),
    );
    wait_unschedulable(
        &cluster,
        "wants-nvme",
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, \
         2 node(s) didn't match Pod's node affinity/selector.",
    );
}

#[test]
fn should_spread_replicas_of_one_owner_over_the_nodes() {
    let cluster = Cluster::start();
    for name in ["node-a", "node-b", "node-c"] {
        ready_node(&cluster, name);
    }
    // A real owner, so that the garbage collector leaves the pods alone.
    // `kubectl create configmap` sends protobuf, which the API server does not read yet.
    let owner =
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}});
    cluster
        .kubectl_stdin(&["create", "-f", "-"], &owner.to_string())
        .success();
    let uid = cluster
        .kubectl(&[
            "get",
            "configmap",
            "owner",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .success()
        .stdout;
    let owned = serde_json::json!({"ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid.trim(), "controller": true},
    ]});
    let names: Vec<String> = (0..6).map(|i| format!("replica-{i}")).collect();
    for name in &names {
        create_pod(&cluster, name, owned.clone(), Value::Null);
    }

    let mut per_node = std::collections::BTreeMap::new();
    for name in &names {
        *per_node.entry(wait_bound(&cluster, name)).or_insert(0) += 1;
    }
    assert_eq!(per_node.len(), 3, "{per_node:?}");
    assert!(per_node.values().all(|&count| count == 2), "{per_node:?}");
}

#[test]
fn should_explain_a_pod_that_fits_nowhere_and_retry_when_a_node_comes() {
    let cluster = Cluster::start();
    register_node(&cluster, "small-1", &[], Value::Null, "4", "4Gi");
    register_node(&cluster, "small-2", &[], Value::Null, "4", "4Gi");
    let big = serde_json::json!({"containers": [{
        "name": "app", "image": "registry.example/app:1", "resources": {"requests": {"cpu": "100m", "memory": "16Gi"}},
    }]});
    create_pod(&cluster, "big", Value::Null, big);
    wait_unschedulable(
        &cluster,
        "big",
        "0/2 nodes are available: 2 Insufficient memory.",
    );

    let description = describe(&cluster, "big");
    assert!(description.contains("FailedScheduling"), "{description}");
    assert!(description.contains("Warning"), "{description}");
    assert!(
        description.contains(
            "0/2 nodes are available: 2 Insufficient memory. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        ),
        "{description}"
    );
    let reason = cluster.kubectl(&[
        "get",
        "pod",
        "big",
        "-o",
        r#"jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}"#,
    ]);
    assert_eq!(reason.stdout.trim(), "Unschedulable");

    register_node(&cluster, "large", &[], Value::Null, "4", "32Gi");
    assert_eq!(wait_bound(&cluster, "big"), "large");
}

#[test]
fn should_skip_cordoned_and_not_ready_nodes_until_they_return() {
    let cluster = Cluster::start();
    ready_node(&cluster, "node1");
    cluster.kubectl(&["cordon", "node1"]).success();
    create_pod(&cluster, "anywhere", Value::Null, Value::Null);
    wait_unschedulable(
        &cluster,
        "anywhere",
        "0/1 nodes are available: 1 node(s) were unschedulable.",
    );

    // Registered without ever being Ready, so the waiting pod cannot slip onto it.
    let node2 = serde_json::json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node2", "labels": {"kubernetes.io/hostname": "node2"}}});
    cluster.apply_manifest(&node2.to_string()).success();
    set_node_ready(&cluster, "node2", "False", "4", "8Gi");
    let on_node2 = serde_json::json!({"nodeSelector": {"kubernetes.io/hostname": "node2"}});
    create_pod(&cluster, "on-node2", Value::Null, on_node2);
    wait_unschedulable(
        &cluster,
        "on-node2",
        "0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
         1 node(s) were unschedulable.",
    );

    cluster.kubectl(&["uncordon", "node1"]).success();
    assert_eq!(wait_bound(&cluster, "anywhere"), "node1");
    set_node_ready(&cluster, "node2", "True", "4", "8Gi");
    assert_eq!(wait_bound(&cluster, "on-node2"), "node2");
}

#[test]
fn should_leave_pods_for_other_schedulers_and_preset_nodes_alone() {
    let cluster = Cluster::start();
    ready_node(&cluster, "node1");
    create_pod(
        &cluster,
        "elsewhere",
        Value::Null,
        serde_json::json!({"schedulerName": "other-scheduler"}),
    );
    create_pod(
        &cluster,
        "pinned",
        Value::Null,
        serde_json::json!({"nodeName": "node9"}),
    );
    create_pod(&cluster, "marker", Value::Null, Value::Null);
    // Once a later pod is bound, the scheduler has seen the earlier ones.
    assert_eq!(wait_bound(&cluster, "marker"), "node1");
    assert_eq!(node_of(&cluster, "elsewhere"), "");
    assert_eq!(node_of(&cluster, "pinned"), "node9");
    assert!(!describe(&cluster, "elsewhere").contains("FailedScheduling"));
}
