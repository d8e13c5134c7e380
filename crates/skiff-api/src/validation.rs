//! Validation of API objects, with Kubernetes' field paths and messages.
//!
//! [`validate_create`] and [`validate_update`] answer the causes of a 422 Invalid
//! for one object of one kind, as `kube-apiserver`'s strategies do
//! (`k8s.io/kubernetes/pkg/apis/*/validation` and `pkg/registry/*/strategy.go`).
//! They expect an object that has already been defaulted
//! ([`crate::defaults::apply_defaults`]), as upstream validates after decoding.
//!
//! The name checks (`is_dns1123_subdomain`, …) are exported for the API server
//! and the selector parser.

mod apps;
mod batch;
mod config;
mod container;
mod cron;
mod endpoints;
mod env;
mod ingress;
mod meta;
mod names;
mod pod;
mod pod_update;
mod render;
mod resources;
mod service;
#[cfg(test)]
mod test_support;

use serde_json::{Map, Value};

use crate::field::FieldError;
use crate::registry::Kind;

pub use meta::validate_object_meta_update;
pub use names::{
    is_config_map_key, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_port_name, is_valid_port_num,
};

/// Kubernetes' message for a field that may not change.
pub const FIELD_IMMUTABLE: &str = "field is immutable";
/// Kubernetes' message for a negative count.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";

/// The causes of refusing to create `obj`. Empty means valid.
pub fn validate_create(kind: Kind, obj: &Value) -> Vec<FieldError> {
    match kind {
        Kind::Namespace => config::validate_namespace(obj),
        Kind::Pod => pod::validate_pod_create(obj),
        Kind::Service => service::validate_service(obj),
        Kind::Endpoints => endpoints::validate_endpoints(obj),
        Kind::ConfigMap => config::validate_config_map(obj),
        Kind::Secret => config::validate_secret(obj),
        Kind::Node => config::validate_node(obj),
        Kind::Event => config::validate_core_event(obj),
        Kind::EventsV1Event => config::validate_events_v1_event(obj),
        Kind::ServiceAccount => config::validate_service_account(obj),
        Kind::Deployment => apps::validate_deployment(obj),
        Kind::ReplicaSet => apps::validate_replica_set(obj),
        Kind::StatefulSet => apps::validate_stateful_set(obj),
        Kind::DaemonSet => apps::validate_daemon_set(obj),
        Kind::Job => batch::validate_job(obj),
        Kind::CronJob => batch::validate_cron_job(obj),
        Kind::Ingress => ingress::validate_ingress(obj),
        Kind::IngressClass => ingress::validate_ingress_class(obj),
        Kind::EndpointSlice => endpoints::validate_endpoint_slice(obj),
        Kind::Lease => config::validate_lease(obj),
    }
}

/// The causes of refusing to replace `old` by `new`: the create rules applied to
/// `new`, the metadata rules of every update, and each kind's immutable fields.
pub fn validate_update(kind: Kind, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(new, old);
    let kind_errors = match kind {
        Kind::Pod => pod_update::validate_pod_update(new, old),
        Kind::Service => service::validate_service_update(new, old),
        Kind::ConfigMap => config::validate_config_map_update(new, old),
        Kind::Secret => config::validate_secret_update(new, old),
        Kind::Node => config::validate_node_update(new, old),
        Kind::Deployment | Kind::ReplicaSet | Kind::DaemonSet => {
            apps::validate_selector_update(kind, new, old)
        }
        Kind::StatefulSet => apps::validate_stateful_set_update(new, old),
        Kind::Job => batch::validate_job_update(new, old),
        Kind::IngressClass => ingress::validate_ingress_class_update(new, old),
        Kind::EndpointSlice => endpoints::validate_endpoint_slice_update(new, old),
        _ => validate_create(kind, new),
    };
    errors.extend(kind_errors);
    errors
}

// ---- field paths, spelled as `field.Path` prints them ----

/// `parent.name`, or `name` at the root.
fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// `parent[i]`.
fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent[key]` (keys are not quoted).
fn key(parent: &str, key: &str) -> String {
    format!("{parent}[{key}]")
}

// ---- JSON access ----

fn str_of<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

/// A string field, empty when absent (Go's zero value).
fn string_or_empty<'a>(value: &'a Value, field: &str) -> &'a str {
    str_of(value, field).unwrap_or_default()
}

fn object_of<'a>(value: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
    value.get(field).and_then(Value::as_object)
}

/// A list field, empty when absent.
fn array_of<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn int_of(value: &Value, field: &str) -> Option<i64> {
    value.get(field).and_then(Value::as_i64)
}

/// Whether a field is set to something other than `null`.
fn is_set(value: &Value, field: &str) -> bool {
    value.get(field).is_some_and(|v| !v.is_null())
}

/// `value.field`, or JSON `null` when absent, for comparisons and error values.
fn field_or_null<'a>(value: &'a Value, field: &str) -> &'a Value {
    value.get(field).unwrap_or(&Value::Null)
}

/// Semantic equality as upstream's `apiequality.Semantic.DeepEqual` sees two
/// decoded objects: `null` and an absent field are the same, and so are an empty
/// list or map and an absent one (Go's `omitempty` drops them on the wire).
fn semantically_equal(a: &Value, b: &Value) -> bool {
    fn is_empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            _ => false,
        }
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => semantically_equal(p, q),
                (Some(p), None) | (None, Some(p)) => is_empty(p),
                (None, None) => true,
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantically_equal(p, q))
        }
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ if is_empty(a) && is_empty(b) => true,
        _ => a == b,
    }
}

/// `ValidateNonnegativeField`.
fn validate_nonnegative(value: Option<i64>, path: &str) -> Vec<FieldError> {
    match value {
        Some(v) if v < 0 => vec![FieldError::invalid(path, &Value::from(v), IS_NEGATIVE)],
        _ => Vec::new(),
    }
}

/// [`validate_nonnegative`] for each listed integer field of `value`, at `path.field`.
fn validate_nonnegative_fields(value: &Value, path: &str, fields: &[&str]) -> Vec<FieldError> {
    fields
        .iter()
        .flat_map(|field| validate_nonnegative(int_of(value, field), &child(path, field)))
        .collect()
}

/// `ValidateImmutableField` for a value printed as a plain JSON scalar.
fn validate_immutable(new: &Value, old: &Value, path: &str) -> Vec<FieldError> {
    if semantically_equal(new, old) {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, new, FIELD_IMMUTABLE)]
    }
}

/// Field errors for each message of a string check.
fn invalid_each(path: &str, value: &str, messages: Vec<String>) -> Vec<FieldError> {
    messages
        .into_iter()
        .map(|m| FieldError::invalid(path, &Value::from(value), m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::{apply_defaults, apply_update_defaults, job_selector_defaults};
    use crate::validation::test_support::messages;
    use serde_json::json;

    #[test]
    fn should_check_each_listed_field_for_a_negative_count_in_order() {
        let spec = json!({"replicas": -1, "minReadySeconds": 5, "revisionHistoryLimit": -2});
        assert_eq!(
            messages(validate_nonnegative_fields(
                &spec,
                "spec",
                &[
                    "replicas",
                    "minReadySeconds",
                    "revisionHistoryLimit",
                    "absent"
                ],
            )),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
            ]
        );
    }

    /// What the API server does before validating a create: the namespace from
    /// the URL, defaults, and (for Jobs) the uid and the generated selector.
    fn as_created(kind: Kind, mut obj: Value) -> Value {
        let namespaced = crate::registry::of(kind).namespaced();
        if namespaced && obj.pointer("/metadata/namespace").is_none() {
            obj["metadata"]["namespace"] = json!("default");
        }
        apply_defaults(kind, &mut obj);
        if kind == Kind::Job {
            obj["metadata"]["uid"] = json!("0b3a2c1e-uid");
            job_selector_defaults(&mut obj, "0b3a2c1e-uid");
        }
        obj
    }

    fn deployment(
        name: &str,
        labels: Value,
        replicas: i64,
        image: &str,
        pull: Option<&str>,
        resources: Value,
        port: Option<i64>,
    ) -> Value {
        let mut container = json!({"name": name, "image": image, "resources": resources});
        if let Some(pull) = pull {
            container["imagePullPolicy"] = json!(pull);
        }
        if let Some(port) = port {
            container["ports"] = json!([{"containerPort": port}]);
        }
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels.clone()},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels.clone()},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}
        })
    }

    /// Every object of `/work/shared/scenarios`, as `kubectl` sends it (YAML turned into JSON).
    fn scenario_objects() -> Vec<(&'static str, Kind, Value)> {
        let limits = |cpu: &str, memory: &str, req_cpu: &str, req_memory: &str| json!({"limits": {"cpu": cpu, "memory": memory}, "requests": {"cpu": req_cpu, "memory": req_memory}});
        let pod = |name: &str, env: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "a", "env": env}},
                   "spec": {"containers": [{"name": "web", "image": "demo", "ports": [{"containerPort": 8080}]}]}})
        };
        let serverab = |name: &str| {
            let mut d = deployment(
                name,
                json!({"app": name}),
                2,
                "mirrors-registry-hub.com/mytestspace:serverab-v2",
                None,
                limits("250m", "128Mi", "250m", "128Mi"),
                Some(9502),
            );
            d["metadata"]["namespace"] = json!("my-test-space");
            d
        };
        vec![
            (
                "k8s-combat/deployment-service.yaml",
                Kind::Deployment,
                deployment(
                    "k8s-combat-service",
                    json!({"app": "k8s-combat-service"}),
                    1,
                    "crossoverjie/k8s-combat:v1",
                    Some("Always"),
                    limits("1", "100Mi", "0.1", "10Mi"),
                    None,
                ),
            ),
            (
                "k8s-combat/deployment-service.yaml",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "k8s-combat-service"},
                "spec": {"selector": {"app": "k8s-combat-service"}, "type": "ClusterIP", "ports": [{"port": 8081, "targetPort": 8081, "name": "app"}]}}),
            ),
            (
                "k8s-combat/deployment.yaml",
                Kind::Deployment,
                deployment(
                    "k8s-combat",
                    json!({"app": "k8s-combat"}),
                    1,
                    "crossoverjie/k8s-combat:v1",
                    Some("Always"),
                    limits("1", "300Mi", "0.1", "30Mi"),
                    None,
                ),
            ),
            ("k8sdemo-service-types", Kind::Deployment, {
                let mut d = deployment(
                    "k8sdemo",
                    json!({"name": "k8sdemo"}),
                    3,
                    "beckjin/k8sdemo:1.0.0",
                    Some("IfNotPresent"),
                    json!(null),
                    Some(80),
                );
                d["metadata"] = json!({"name": "k8sdemo-deployment"});
                d["spec"]["template"]["spec"]["containers"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("resources");
                d
            }),
            (
                "k8sdemo-service-types",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "k8sdemo-service"},
                "spec": {"ports": [{"port": 80, "targetPort": 80}], "selector": {"name": "k8sdemo"}}}),
            ),
            (
                "k8sdemo-service-types",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "k8sdemo-nodeport"},
                "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 80}], "selector": {"name": "k8sdemo"}}}),
            ),
            (
                "k8sdemo-service-types",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "k8sdemo-lb"},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": 80}], "selector": {"name": "k8sdemo"}}}),
            ),
            (
                "k8sdemo-service-types",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "k8sdemo-external-service"},
                "spec": {"type": "ExternalName", "externalName": "mingdao.com"}}),
            ),
            (
                "k8sdemo-service-types (fixed IP variant)",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "k8sdemo-service"},
                "spec": {"ports": [{"port": 80, "targetPort": 80}], "selector": {"name": "k8sdemo"}, "clusterIP": "10.43.19.92"}}),
            ),
            (
                "k8sdemo-service-types (fixed node port variant)",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "k8sdemo-nodeport"},
                "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 80, "nodePort": 30080}], "selector": {"name": "k8sdemo"}}}),
            ),
            ("selectors-and-discovery", Kind::Pod, pod("pod-a", "dev")),
            ("selectors-and-discovery", Kind::Pod, pod("pod-b", "dev")),
            ("selectors-and-discovery", Kind::Pod, pod("pod-c", "prod")),
            (
                "selectors-and-discovery",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "service-a"},
                "spec": {"selector": {"app": "a", "env": "dev"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
            ),
            (
                "servera-serverb",
                Kind::Namespace,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "my-test-space"}}),
            ),
            ("servera-serverb", Kind::Deployment, serverab("servera")),
            ("servera-serverb", Kind::Deployment, serverab("serverb")),
            (
                "servera-serverb",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "servera-svc", "namespace": "my-test-space"},
                "spec": {"ports": [{"port": 9601, "protocol": "TCP", "targetPort": 9502}], "selector": {"app": "servera"}, "type": "ClusterIP"}}),
            ),
            (
                "servera-serverb",
                Kind::Service,
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "serverb-svc", "namespace": "my-test-space"},
                "spec": {"ports": [{"port": 9602, "protocol": "TCP", "targetPort": 9502}], "selector": {"app": "serverb"}, "type": "ClusterIP"}}),
            ),
            (
                "servera-serverb",
                Kind::Ingress,
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}, "name": "ingress-test-name", "namespace": "my-test-space"},
                "spec": {"rules": [{"http": {"paths": [{"backend": {"service": {"name": "serverb-svc", "port": {"number": 9602}}},
                                                      "path": "/myservers", "pathType": "Prefix"}]}}]}}),
            ),
        ]
    }

    #[test]
    fn should_accept_every_scenario_object_after_defaulting() {
        for (origin, kind, obj) in scenario_objects() {
            let created = as_created(kind, obj);
            let errors = validate_create(kind, &created);
            assert!(
                errors.is_empty(),
                "{origin} {kind:?}: {:?}",
                messages(&errors)
            );
        }
    }

    #[test]
    fn should_accept_reapplying_every_scenario_object() {
        for (origin, kind, obj) in scenario_objects() {
            let mut stored = as_created(kind, obj.clone());
            stored["metadata"]["uid"] = stored["metadata"]
                .get("uid")
                .cloned()
                .unwrap_or(json!("uid-1"));
            if kind == Kind::Service
                && stored["spec"]["type"] != "ExternalName"
                && stored["spec"].get("clusterIP").is_none()
            {
                stored["spec"]["clusterIP"] = json!("10.43.0.20");
                stored["spec"]["clusterIPs"] = json!(["10.43.0.20"]);
            }
            // `kubectl replace` sends the manifest again, without what the server filled in.
            let mut replaced = obj;
            if let Some(ns) = stored.pointer("/metadata/namespace").cloned() {
                replaced["metadata"]["namespace"] = ns;
            }
            replaced["metadata"]["uid"] = stored["metadata"]["uid"].clone();
            if kind == Kind::Job {
                replaced = stored.clone();
            }
            apply_update_defaults(kind, &mut replaced, &stored);
            let errors = validate_update(kind, &replaced, &stored);
            assert!(
                errors.is_empty(),
                "{origin} {kind:?}: {:?}",
                messages(&errors)
            );
        }
    }

    #[test]
    fn should_accept_the_rollout_scenario_updates() {
        let stored = as_created(
            Kind::Deployment,
            deployment(
                "web",
                json!({"app": "web"}),
                3,
                "demo:v1",
                None,
                json!({}),
                Some(8080),
            ),
        );
        let mut v2 = stored.clone();
        v2["spec"]["template"]["spec"]["containers"][0]["image"] = json!("demo:v2");
        assert!(validate_update(Kind::Deployment, &v2, &stored).is_empty());
        let mut scaled = stored.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert!(validate_update(Kind::Deployment, &scaled, &stored).is_empty());
    }

    #[test]
    fn should_accept_a_defaulted_job_and_cron_job() {
        let job = json!({"metadata": {"name": "pi"}, "spec": {"template": {"spec": {
            "containers": [{"name": "pi", "image": "perl:5.34"}], "restartPolicy": "Never"}}}});
        let created = as_created(Kind::Job, job);
        assert_eq!(
            messages(validate_create(Kind::Job, &created)),
            Vec::<String>::new()
        );
        let cron = json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "hello", "image": "busybox:1.28"}], "restartPolicy": "OnFailure"}}}}}});
        assert_eq!(
            messages(validate_create(
                Kind::CronJob,
                &as_created(Kind::CronJob, cron)
            )),
            Vec::<String>::new()
        );
    }

    #[test]
    fn should_refuse_a_job_without_restart_policy() {
        let job = json!({"metadata": {"name": "pi"}, "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}});
        assert_eq!(
            messages(validate_create(Kind::Job, &as_created(Kind::Job, job))),
            vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
        );
    }

    #[test]
    fn should_check_a_manual_job_selector_against_the_template() {
        let job = json!({"metadata": {"name": "pi"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"app": "other"}},
            "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}}});
        assert_eq!(
            messages(validate_create(Kind::Job, &as_created(Kind::Job, job))),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\"}: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn should_refuse_a_bad_object_name_with_the_upstream_sentence() {
        let cm = as_created(Kind::ConfigMap, json!({"metadata": {"name": "Bad_Name"}}));
        assert_eq!(
            messages(validate_create(Kind::ConfigMap, &cm)),
            vec!["metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );
    }

    #[test]
    fn should_refuse_renaming_a_namespace() {
        let old = as_created(Kind::Namespace, json!({"metadata": {"name": "a"}}));
        let mut new = old.clone();
        new["metadata"]["name"] = json!("b");
        assert_eq!(
            messages(validate_update(Kind::Namespace, &new, &old)),
            vec!["metadata.name: Invalid value: \"b\": field is immutable"]
        );
    }

    #[test]
    fn should_refuse_an_invalid_service_object_end_to_end() {
        let svc = as_created(
            Kind::Service,
            json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 70000}]}}),
        );
        assert_eq!(
            messages(validate_create(Kind::Service, &svc)),
            vec![
                "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ]
        );
    }

    #[test]
    fn should_export_the_name_checks() {
        assert!(is_dns1123_subdomain("a.b").is_empty());
        assert!(is_dns1123_label("a-b").is_empty());
        assert!(is_dns1035_label("a-b").is_empty());
        assert!(is_qualified_name("example.com/a").is_empty());
        assert!(is_valid_label_value("").is_empty());
    }
}
