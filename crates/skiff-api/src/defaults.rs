//! Defaulting of API objects, as `kube-apiserver` does it between decoding a
//! request and validating it.
//!
//! [`apply_defaults`] follows the `SetDefaults_*` functions of
//! `k8s.io/kubernetes/pkg/apis/*/v1/defaults.go` and the generated
//! `zz_generated.defaults.go` that apply them to nested fields (every pod
//! template gets the pod spec defaults). It also does the few things a stock
//! cluster's admission plugins and registry strategies add to every object of a
//! kind, so that objects read back look as they do from a real cluster; each is
//! marked where it is done. What needs cluster state (addresses, node ports,
//! uids, names from `generateName`) stays the server's: the Job selector, which
//! needs the uid, is [`job_selector_defaults`].
//!
//! All functions are pure: they only rewrite the JSON value given.

mod pod;
mod service;
mod workloads;

use serde_json::{json, Map, Value};

use crate::registry::Kind;

pub use pod::default_pull_policy;
pub use service::service_update_defaults;
pub use workloads::{
    job_selector_defaults, CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
};

/// Fills the defaults of a new object of `kind` in place. Applying it twice
/// changes nothing more.
pub fn apply_defaults(kind: Kind, obj: &mut Value) {
    let Some(obj) = obj.as_object_mut() else {
        return;
    };
    match kind {
        Kind::Pod => {
            let spec = object_at(obj, "spec");
            pod::default_pod_spec(spec);
            pod::default_pod_only(spec);
            pod::default_pod_admission(spec);
        }
        Kind::Deployment => {
            workloads::default_deployment(object_at(obj, "spec"));
            default_template(obj, &["spec", "template"]);
        }
        Kind::ReplicaSet => {
            workloads::default_replica_set(object_at(obj, "spec"));
            default_template(obj, &["spec", "template"]);
        }
        Kind::StatefulSet => {
            workloads::default_stateful_set(object_at(obj, "spec"));
            default_template(obj, &["spec", "template"]);
        }
        Kind::DaemonSet => {
            workloads::default_daemon_set(object_at(obj, "spec"));
            default_template(obj, &["spec", "template"]);
        }
        Kind::Job => {
            workloads::default_job(obj);
            default_template(obj, &["spec", "template"]);
        }
        Kind::CronJob => {
            // The job template gets the pod defaults, not the Job's own (`SetDefaults_Job` takes a Job).
            workloads::default_cron_job(object_at(obj, "spec"));
            default_template(obj, &["spec", "jobTemplate", "spec", "template"]);
        }
        Kind::Service => service::default_service(obj),
        Kind::Namespace => default_namespace(obj),
        Kind::Secret => default_secret(obj),
        Kind::Endpoints => default_endpoints(obj),
        Kind::EndpointSlice => default_endpoint_slice(obj),
        Kind::Node => default_node(obj),
        // Ingress paths have no default type: `pathType` is required.
        Kind::ConfigMap
        | Kind::Event
        | Kind::EventsV1Event
        | Kind::ServiceAccount
        | Kind::Ingress
        | Kind::IngressClass
        | Kind::Lease => {}
    }
}

/// Fills the defaults of an object that replaces `old`: [`apply_defaults`], then
/// what the registry decides from the stored object (for Services, keeping
/// allocated addresses and ports, see [`service_update_defaults`]).
pub fn apply_update_defaults(kind: Kind, new: &mut Value, old: &Value) {
    apply_defaults(kind, new);
    if kind == Kind::Service {
        service_update_defaults(new, old);
    }
}

/// The pod spec defaults of the template at `path` (created if absent, as the
/// v1 types' non-optional template would be).
fn default_template(obj: &mut Map<String, Value>, path: &[&str]) {
    let template = path.iter().fold(obj, |map, field| object_at(map, field));
    pod::default_pod_spec(object_at(template, "spec"));
}

/// `map[field]` as an object, created (or replacing a non-object) when needed.
fn object_at<'a>(map: &'a mut Map<String, Value>, field: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(field.to_string()).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut().expect("made an object above")
}

/// Sets `map[field]` unless it holds a value already (`null` counts as unset).
fn set_default(map: &mut Map<String, Value>, field: &str, value: Value) {
    let slot = map.entry(field.to_string()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = value;
    }
}

/// Sets a string field Go leaves at its zero value: unless `map[field]` is a
/// non-empty string (absent, `null` and `""` all count as unset). Says whether
/// it set the field, for defaults that follow from a defaulted one.
fn set_default_if_empty(map: &mut Map<String, Value>, field: &str, value: &str) -> bool {
    let unset = map
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty();
    if unset {
        map.insert(field.to_string(), json!(value));
    }
    unset
}

/// `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label),
/// `SetDefaults_NamespaceStatus`, and the Namespace strategy's `kubernetes`
/// finalizer (`PrepareForCreate` in `pkg/registry/core/namespace/strategy.go`).
fn default_namespace(namespace: &mut Map<String, Value>) {
    let name = namespace
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !name.is_empty() {
        let labels = object_at(object_at(namespace, "metadata"), "labels");
        labels.insert("kubernetes.io/metadata.name".to_string(), json!(name));
    }
    set_default(
        object_at(namespace, "spec"),
        "finalizers",
        json!(["kubernetes"]),
    );
    set_default_if_empty(object_at(namespace, "status"), "phase", "Active");
}

/// `SetDefaults_Secret` (type `Opaque`), and the v1 conversion that merges
/// `stringData` into `data` (`Convert_v1_Secret_To_core_Secret`): the write-only
/// field is never stored.
fn default_secret(secret: &mut Map<String, Value>) {
    set_default_if_empty(secret, "type", "Opaque");
    if let Some(Value::Object(string_data)) = secret.remove("stringData") {
        let data = object_at(secret, "data");
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            data.insert(key, json!(encode_base64(text.as_bytes())));
        }
    }
}

/// Standard, padded base64, as Go's `encoding/json` writes `[]byte`.
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let value = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(
                    ALPHABET[(value >> (18 - 6 * i)) as usize & 0x3f],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `SetDefaults_Endpoints`: ports speak TCP unless they say otherwise.
fn default_endpoints(endpoints: &mut Map<String, Value>) {
    let subsets = endpoints
        .get_mut("subsets")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for ports in subsets
        .filter_map(|s| s.get_mut("ports"))
        .filter_map(Value::as_array_mut)
    {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
        }
    }
}

/// `SetDefaults_EndpointPort` (`pkg/apis/discovery/v1/defaults.go`): an unnamed
/// port is named `""`, and speaks TCP.
fn default_endpoint_slice(slice: &mut Map<String, Value>) {
    let ports = slice
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for port in ports.filter_map(Value::as_object_mut) {
        set_default(port, "name", json!(""));
        set_default(port, "protocol", json!("TCP"));
    }
}

/// `SetDefaults_NodeStatus`: what a node can allocate is, by default, its capacity.
fn default_node(node: &mut Map<String, Value>) {
    let Some(status) = node.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned() {
        set_default(status, "allocatable", capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_default_a_string_only_when_it_is_absent_null_or_empty() {
        let mut map = json!({"a": "", "b": null, "c": "set", "d": 5})
            .as_object()
            .cloned()
            .unwrap();
        for field in ["a", "b", "d", "e"] {
            assert!(set_default_if_empty(&mut map, field, "x"), "{field}");
        }
        assert!(!set_default_if_empty(&mut map, "c", "x"));
        assert_eq!(
            Value::Object(map),
            json!({"a": "x", "b": "x", "c": "set", "d": "x", "e": "x"})
        );
    }

    fn defaulted(kind: Kind, mut obj: Value) -> Value {
        apply_defaults(kind, &mut obj);
        obj
    }

    #[test]
    fn should_default_the_k8s_combat_deployment_as_a_cluster_would() {
        let deployment = defaulted(
            Kind::Deployment,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "k8s-combat", "labels": {"app": "k8s-combat"}},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "k8s-combat"}},
                            "template": {"metadata": {"labels": {"app": "k8s-combat"}},
                                         "spec": {"containers": [{"name": "k8s-combat", "image": "crossoverjie/k8s-combat:v1", "imagePullPolicy": "Always",
                                                                  "resources": {"limits": {"cpu": "1", "memory": "300Mi"}}}]}}}}),
        );
        let spec = &deployment["spec"];
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let pod_spec = &spec["template"]["spec"];
        assert_eq!(pod_spec["restartPolicy"], "Always");
        assert_eq!(pod_spec["schedulerName"], "default-scheduler");
        assert_eq!(
            pod_spec["containers"][0]["terminationMessagePolicy"],
            "File"
        );
        // Templates get neither Pod-only defaults nor admission's.
        assert!(pod_spec.get("enableServiceLinks").is_none());
        assert!(pod_spec.get("tolerations").is_none());
        assert!(pod_spec["containers"][0]["resources"]
            .get("requests")
            .is_none());
    }

    #[test]
    fn should_default_a_pod_with_pod_only_and_admission_defaults() {
        let pod = defaulted(
            Kind::Pod,
            json!({"metadata": {"name": "pod-a"}, "spec": {"containers": [{"name": "web", "image": "demo", "ports": [{"containerPort": 8080}]}]}}),
        );
        let spec = &pod["spec"];
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn should_default_every_pod_template_kind() {
        for (kind, pointer) in [
            (Kind::Deployment, "/spec/template/spec"),
            (Kind::ReplicaSet, "/spec/template/spec"),
            (Kind::StatefulSet, "/spec/template/spec"),
            (Kind::DaemonSet, "/spec/template/spec"),
            (Kind::Job, "/spec/template/spec"),
            (Kind::CronJob, "/spec/jobTemplate/spec/template/spec"),
        ] {
            let obj = defaulted(kind, json!({"metadata": {"name": "x"}}));
            let spec = obj.pointer(pointer).unwrap_or_else(|| panic!("{kind:?}"));
            assert_eq!(spec["dnsPolicy"], "ClusterFirst", "{kind:?}");
            assert_eq!(spec["terminationGracePeriodSeconds"], 30, "{kind:?}");
        }
    }

    #[test]
    fn should_default_replica_sets_and_cron_jobs() {
        assert_eq!(
            defaulted(Kind::ReplicaSet, json!({}))["spec"]["replicas"],
            1
        );
        let cron = defaulted(Kind::CronJob, json!({"spec": {"schedule": "@hourly"}}));
        assert_eq!(cron["spec"]["concurrencyPolicy"], "Allow");
        // SetDefaults_Job is not applied to the job template.
        assert!(cron["spec"]["jobTemplate"]["spec"]
            .get("backoffLimit")
            .is_none());
    }

    #[test]
    fn should_default_a_namespace() {
        let ns = defaulted(
            Kind::Namespace,
            json!({"metadata": {"name": "my-test-space"}}),
        );
        assert_eq!(
            ns,
            json!({"metadata": {"name": "my-test-space", "labels": {"kubernetes.io/metadata.name": "my-test-space"}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        );
    }

    #[test]
    fn should_default_a_secret_and_merge_string_data() {
        let secret = defaulted(
            Kind::Secret,
            json!({"data": {"a": "eA=="}, "stringData": {"b": "hello", "a": "hi"}}),
        );
        assert_eq!(
            secret,
            json!({"type": "Opaque", "data": {"a": "aGk=", "b": "aGVsbG8="}})
        );
    }

    #[test]
    fn should_encode_base64_with_padding() {
        assert_eq!(encode_base64(b""), "");
        assert_eq!(encode_base64(b"h"), "aA==");
        assert_eq!(encode_base64(b"hi"), "aGk=");
        assert_eq!(encode_base64(b"hey"), "aGV5");
    }

    #[test]
    fn should_default_endpoint_ports() {
        let slice = defaulted(
            Kind::EndpointSlice,
            json!({"addressType": "IPv4", "ports": [{"port": 80}]}),
        );
        assert_eq!(
            slice["ports"],
            json!([{"port": 80, "name": "", "protocol": "TCP"}])
        );
        let endpoints = defaulted(
            Kind::Endpoints,
            json!({"subsets": [{"ports": [{"port": 80}]}]}),
        );
        assert_eq!(endpoints["subsets"][0]["ports"][0]["protocol"], "TCP");
    }

    #[test]
    fn should_default_node_allocatable_to_capacity() {
        let node = defaulted(Kind::Node, json!({"status": {"capacity": {"cpu": "4"}}}));
        assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));
    }

    #[test]
    fn should_leave_ingress_path_types_alone() {
        let ingress =
            json!({"spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {}}]}}]}});
        assert_eq!(defaulted(Kind::Ingress, ingress.clone()), ingress);
    }

    #[test]
    fn should_be_idempotent() {
        for kind in [
            Kind::Pod,
            Kind::Service,
            Kind::Deployment,
            Kind::StatefulSet,
            Kind::Job,
            Kind::Namespace,
            Kind::Secret,
        ] {
            let once = defaulted(
                kind,
                json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "a", "image": "b"}], "ports": [{"port": 80}]}}),
            );
            assert_eq!(defaulted(kind, once.clone()), once, "{kind:?}");
        }
    }
}
