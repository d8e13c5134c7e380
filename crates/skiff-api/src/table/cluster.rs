//! Rows of the cluster and configuration kinds: printers.go `printNamespace`,
//! `printNode`, `printConfigMap`, `printSecret`, `printServiceAccount` and
//! `printLease`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::format::{age, len_at, list_at, name_cell, str_at};
use crate::object::labels;

/// The label prefix that gives a node a role: `node-role.kubernetes.io/<role>`.
const NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// The older label whose value is the role: `kubernetes.io/role=<role>`.
const NODE_ROLE_LABEL: &str = "kubernetes.io/role";

/// NAME STATUS AGE.
pub(super) fn namespace(ns: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(ns),
        Value::from(str_at(ns, "status.phase")),
        age(ns, now),
    ]
}

/// NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.
pub(super) fn node(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let roles = node_roles(node);
    let node_info = |field: &str| {
        let value = str_at(node, &format!("status.nodeInfo.{field}"));
        Value::from(if value.is_empty() { "<unknown>" } else { value })
    };
    vec![
        name_cell(node),
        Value::from(node_status(node)),
        Value::from(if roles.is_empty() {
            "<none>".to_string()
        } else {
            roles.join(",")
        }),
        age(node, now),
        Value::from(str_at(node, "status.nodeInfo.kubeletVersion")),
        Value::from(node_address(node, "InternalIP")),
        Value::from(node_address(node, "ExternalIP")),
        node_info("osImage"),
        node_info("kernelVersion"),
        node_info("containerRuntimeVersion"),
    ]
}

/// printNode's STATUS: `Ready`, `NotReady` (False or Unknown), `Unknown` with
/// no Ready condition at all; `,SchedulingDisabled` when cordoned.
fn node_status(node: &Value) -> String {
    // Upstream keeps conditions in a map, so the last Ready condition wins.
    let ready = list_at(node, "status.conditions")
        .iter()
        .rev()
        .find(|c| str_at(c, "type") == "Ready");
    let mut status = match ready {
        Some(c) if str_at(c, "status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }
    .to_string();
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// printers.go `findNodeRoles`: distinct roles from both role labels, sorted.
fn node_roles(node: &Value) -> Vec<&str> {
    let roles: BTreeSet<&str> = labels(node)
        .filter_map(|(key, value)| match key.strip_prefix(NODE_ROLE_PREFIX) {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if key == NODE_ROLE_LABEL && !value.is_empty() => Some(value),
            None => None,
        })
        .collect();
    roles.into_iter().collect()
}

/// The first node address of a type, `<none>` without one.
fn node_address<'a>(node: &'a Value, type_: &str) -> &'a str {
    list_at(node, "status.addresses")
        .iter()
        .find(|a| str_at(a, "type") == type_)
        .map_or("<none>", |a| str_at(a, "address"))
}

/// NAME DATA AGE; DATA counts text and binary keys together.
pub(super) fn config_map(cm: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(cm),
        Value::from(len_at(cm, "data") + len_at(cm, "binaryData")),
        age(cm, now),
    ]
}

/// NAME TYPE DATA AGE.
pub(super) fn secret(secret: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(secret),
        Value::from(str_at(secret, "type")),
        Value::from(len_at(secret, "data")),
        age(secret, now),
    ]
}

/// NAME SECRETS AGE.
pub(super) fn service_account(sa: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(sa),
        Value::from(len_at(sa, "secrets")),
        age(sa, now),
    ]
}

/// NAME HOLDER AGE.
pub(super) fn lease(lease: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name_cell(lease),
        Value::from(str_at(lease, "spec.holderIdentity")),
        age(lease, now),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::test_support::now;

    fn node_with(conditions: Value, unschedulable: bool, labels: Value) -> Value {
        json!({"metadata": {"name": "n1", "labels": labels, "creationTimestamp": "2024-12-30T09:00:00Z"},
            "spec": {"unschedulable": unschedulable},
            "status": {"conditions": conditions, "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian GNU/Linux 12 (bookworm)"},
                "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"}]}})
    }

    #[test]
    fn should_print_node_status_roles_and_version() {
        let labels = json!({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/role": "etcd"});
        let n = node_with(
            json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]),
            false,
            labels,
        );
        assert_eq!(
            node(&n, now()),
            [
                json!("n1"),
                json!("Ready"),
                json!("control-plane,etcd,master"),
                json!("2d3h"),
                json!("v1.32.0"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn should_print_not_ready_unknown_and_cordoned_nodes() {
        let status_of = |conditions: Value, unschedulable: bool| {
            node(&node_with(conditions, unschedulable, json!({})), now())[1].clone()
        };
        assert_eq!(
            status_of(json!([{"type": "Ready", "status": "Unknown"}]), false),
            "NotReady"
        );
        assert_eq!(status_of(json!([]), false), "Unknown");
        assert_eq!(
            status_of(json!([{"type": "Ready", "status": "True"}]), true),
            "Ready,SchedulingDisabled"
        );
        assert_eq!(
            node(&node_with(json!([]), false, json!({})), now())[2],
            "<none>"
        );
    }

    #[test]
    fn should_count_config_data_keys() {
        let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(config_map(&cm, now())[1], 3);
        let s = json!({"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            secret(&s, now())[1..3],
            [json!("kubernetes.io/tls"), json!(2)]
        );
        assert_eq!(
            service_account(&json!({"metadata": {"name": "default"}}), now())[1],
            0
        );
        assert_eq!(
            lease(
                &json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "n1"}}),
                now()
            )[1],
            "n1"
        );
    }
}
