//! What the API server itself sets on objects as they are created and updated:
//! system metadata (uid, creationTimestamp, generation), status resets, and the
//! split between a resource and its status subresource. Pure functions.

use serde_json::{json, Map, Value};
use skiff_api::object;
use skiff_api::registry::{Kind, ResourceType};

/// Kinds whose `metadata.generation` counts spec changes.
fn tracks_generation(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Deployment
            | Kind::ReplicaSet
            | Kind::StatefulSet
            | Kind::DaemonSet
            | Kind::Job
            | Kind::CronJob
            | Kind::Ingress
            | Kind::Pod
    )
}

/// The RFC 3339 timestamp Kubernetes writes, to the second.
pub fn timestamp(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random 8-4-4-4-12 hex UID.
pub fn new_uid() -> String {
    let hex = crate::random_string(32, b"0123456789abcdef");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Sets the fields a create owns: uid, creationTimestamp, generation, and a fresh
/// status where Kubernetes resets it. Fields the client may not set are dropped.
pub fn for_create(rt: &ResourceType, object: &mut Value, uid: String, now: &str) {
    let meta = object::metadata_mut(object);
    for owned_by_server in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    ] {
        meta.remove(owned_by_server);
    }
    meta.insert("uid".into(), Value::String(uid));
    meta.insert("creationTimestamp".into(), Value::String(now.to_string()));
    if tracks_generation(rt.kind) {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    match rt.kind {
        Kind::Pod => {
            let qos = qos_class(object);
            object["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        Kind::Namespace => object["status"] = json!({"phase": "Active"}),
        // A node reports its own status when it registers, so it keeps what it sent.
        Kind::Node => {}
        _ if rt.has_subresource("status") => {
            if let Some(map) = object.as_object_mut() {
                map.insert("status".into(), Value::Object(Map::new()));
            }
        }
        _ => {}
    }
}

/// Builds the object an update stores from what the client sent and what is
/// stored: system metadata is kept, and the resource and its status subresource
/// each change only their own part.
pub fn for_update(
    rt: &ResourceType,
    sent: &Value,
    stored: &Value,
    subresource: Option<&str>,
) -> Value {
    let mut next = match subresource {
        // The status subresource changes status only (and nothing of spec).
        Some("status") => {
            let mut next = stored.clone();
            next["status"] = sent.get("status").cloned().unwrap_or(Value::Null);
            next
        }
        // Namespace finalize changes the spec's finalizer list only.
        Some("finalize") => {
            let mut next = stored.clone();
            next["spec"]["finalizers"] = sent
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or(json!([]));
            next
        }
        _ => {
            let mut next = sent.clone();
            if rt.has_subresource("status") {
                match stored.get("status") {
                    Some(status) => next["status"] = status.clone(),
                    None => {
                        next.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
            next
        }
    };
    let stored_meta = stored.get("metadata").cloned().unwrap_or_default();
    let meta = object::metadata_mut(&mut next);
    for kept in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match stored_meta.get(kept) {
            Some(value) => meta.insert(kept.into(), value.clone()),
            None => meta.remove(kept),
        };
    }
    meta.remove("managedFields");
    if tracks_generation(rt.kind) && spec_changed(&next, stored) {
        let generation = stored_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        object::metadata_mut(&mut next).insert("generation".into(), json!(generation));
    }
    next
}

/// Everything but metadata and status counts as spec.
fn spec_changed(next: &Value, stored: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            map.remove("status");
        }
        v
    };
    strip(next) != strip(stored)
}

/// Whether an object is being deleted and nothing holds it any more.
pub fn ready_to_remove(object: &Value) -> bool {
    let meta = object.get("metadata");
    let deleting = meta
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null());
    let held = |list: Option<&Value>| {
        list.and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    };
    // A namespace is also held by its spec's finalizers until it has been emptied.
    deleting
        && !held(meta.and_then(|m| m.get("finalizers")))
        && !held(object.pointer("/spec/finalizers"))
}

/// A pod's QoS class (k8s.io/kubernetes/pkg/apis/core/helper/qos): Guaranteed when
/// every container has equal cpu and memory requests and limits, BestEffort when
/// none has any, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let resources = |c: &Value, part: &str, name: &str| {
        c.pointer(&format!("/resources/{part}/{name}")).cloned()
    };
    let any_set = containers.iter().any(|c| {
        ["requests", "limits"].iter().any(|p| {
            ["cpu", "memory"]
                .iter()
                .any(|n| resources(c, p, n).is_some())
        })
    });
    if !any_set {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|n| {
            let limit = resources(c, "limits", n);
            limit.is_some()
                && (resources(c, "requests", n).is_none() || resources(c, "requests", n) == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::of;

    #[test]
    fn should_move_generation_only_on_spec_changes() {
        let rt = of(Kind::Deployment);
        let stored = json!({"metadata": {"name": "web", "generation": 3, "uid": "u"}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let relabelled =
            json!({"metadata": {"name": "web", "labels": {"a": "b"}}, "spec": {"replicas": 1}});
        assert_eq!(
            for_update(rt, &relabelled, &stored, None)["metadata"]["generation"],
            3
        );
        let scaled = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}});
        let next = for_update(rt, &scaled, &stored, None);
        assert_eq!(next["metadata"]["generation"], 4);
        assert_eq!(next["metadata"]["uid"], "u");
    }

    #[test]
    fn should_keep_status_and_spec_apart() {
        let rt = of(Kind::Deployment);
        let stored = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let sent = json!({"metadata": {"name": "web"}, "spec": {"replicas": 9}, "status": {"replicas": 7}});
        let main = for_update(rt, &sent, &stored, None);
        assert_eq!(
            (
                main["spec"]["replicas"].clone(),
                main["status"]["replicas"].clone()
            ),
            (json!(9), json!(1))
        );
        let status = for_update(rt, &sent, &stored, Some("status"));
        assert_eq!(
            (
                status["spec"]["replicas"].clone(),
                status["status"]["replicas"].clone()
            ),
            (json!(1), json!(7))
        );
    }

    #[test]
    fn should_class_pods_by_resources() {
        let pod = |resources: Value| json!({"spec": {"containers": [{"resources": resources}]}});
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(
                json!({"limits": {"cpu": "1"}, "requests": {"cpu": "100m"}})
            )),
            "Burstable"
        );
    }
}
