//! The fields each kind lets lists filter on, their values, and the error for the
//! others: each kind's `ToSelectableFields` and field label conversion in
//! kubernetes/pkg.

use serde_json::Value;

use super::SelectorError;
use crate::object;
use crate::registry::Kind;

const META: &[&str] = &["metadata.name", "metadata.namespace"];
const POD: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    // Accepted upstream but absent from the pod's selectable fields, so it reads "".
    "status.podIPs",
    "status.nominatedNodeName",
    // Old clients' name for spec.nodeName, still accepted upstream.
    "spec.host",
];
const EVENT: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];
const EVENTS_V1_EVENT: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reason",
    "reportingController",
    "type",
];
const NODE: &[&str] = &["metadata.name", "spec.unschedulable"];
const NAMESPACE: &[&str] = &["metadata.name", "status.phase"];
const SECRET: &[&str] = &["metadata.name", "metadata.namespace", "type"];
const JOB: &[&str] = &["metadata.name", "metadata.namespace", "status.successful"];
const SERVICE: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.clusterIP",
    "spec.type",
];

/// The fields lists of `kind` can be filtered on; see [`refuse_field`] for the others.
pub fn supported_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Pod => POD,
        Kind::Event => EVENT,
        Kind::EventsV1Event => EVENTS_V1_EVENT,
        Kind::Node => NODE,
        Kind::Namespace => NAMESPACE,
        Kind::Secret => SECRET,
        Kind::Service => SERVICE,
        Kind::Job => JOB,
        Kind::Endpoints
        | Kind::ConfigMap
        | Kind::ServiceAccount
        | Kind::Deployment
        | Kind::ReplicaSet
        | Kind::StatefulSet
        | Kind::DaemonSet
        | Kind::CronJob
        | Kind::Ingress
        | Kind::IngressClass
        | Kind::EndpointSlice
        | Kind::Lease => META,
    }
}

/// The error for a field `kind` does not support. Its text depends on whether
/// upstream registers a field label conversion for the kind: the core kinds with
/// extra fields and events.k8s.io say `field label not supported: <field>`, Jobs
/// name themselves, and every other kind falls back to the default conversion.
pub fn refuse_field(kind: Kind, field: &str) -> SelectorError {
    let field = field.to_string();
    match kind {
        Kind::Pod
        | Kind::Event
        | Kind::EventsV1Event
        | Kind::Node
        | Kind::Namespace
        | Kind::Secret
        | Kind::Service => SelectorError::UnsupportedField(field),
        Kind::Job => SelectorError::UnsupportedJobField(field),
        _ => SelectorError::UnknownField(field),
    }
}

/// The value field `field` of an object of `kind` has for field selectors, or
/// `None` if `kind` does not support the field. Absent values read as upstream's
/// zero values: `""`, `"false"` or `"0"`.
pub fn field_value(kind: Kind, obj: &Value, field: &str) -> Option<String> {
    if !supported_fields(kind).contains(&field) {
        return None;
    }
    let text = |path: &str| {
        object::at_path(obj, path)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let flag = |path: &str| {
        object::at_path(obj, path)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string()
    };
    Some(match field {
        "spec.host" => text("spec.nodeName"),
        "spec.hostNetwork" => flag("spec.hostNetwork"),
        "spec.unschedulable" => flag("spec.unschedulable"),
        // The first of status.podIPs is the pod IP; status.podIP mirrors it.
        "status.podIP" => match object::at_path(obj, "status.podIPs").and_then(|ips| ips.get(0)) {
            Some(first) => first
                .get("ip")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            None => text("status.podIP"),
        },
        "status.successful" => object::at_path(obj, "status.succeeded")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string(),
        // Reporters that only fill the newer field still show up under `source`.
        "source" => match text("source.component") {
            component if component.is_empty() => text("reportingComponent"),
            component => component,
        },
        // Plain string fields read from the path they are named after.
        _ => text(field),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::FieldSelector;
    use serde_json::json;

    #[test]
    fn should_read_pod_fields() {
        let pod = json!({
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default", "hostNetwork": true},
            "status": {"phase": "Running", "podIP": "10.42.0.9", "podIPs": [{"ip": "10.42.0.9"}],
                       "nominatedNodeName": "n2"}
        });
        let value = |field: &str| field_value(Kind::Pod, &pod, field);
        assert_eq!(value("metadata.name").as_deref(), Some("web"));
        assert_eq!(value("metadata.namespace").as_deref(), Some("prod"));
        assert_eq!(value("spec.nodeName").as_deref(), Some("n1"));
        assert_eq!(value("spec.host").as_deref(), Some("n1"));
        assert_eq!(value("spec.restartPolicy").as_deref(), Some("Always"));
        assert_eq!(
            value("spec.schedulerName").as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(value("spec.serviceAccountName").as_deref(), Some("default"));
        assert_eq!(value("spec.hostNetwork").as_deref(), Some("true"));
        assert_eq!(value("status.phase").as_deref(), Some("Running"));
        assert_eq!(value("status.podIP").as_deref(), Some("10.42.0.9"));
        assert_eq!(value("status.nominatedNodeName").as_deref(), Some("n2"));
        assert_eq!(value("spec.containers"), None);
    }

    #[test]
    fn should_read_core_event_fields() {
        let event = json!({
            "metadata": {"name": "web.1", "namespace": "prod"},
            "involvedObject": {"kind": "Pod", "namespace": "prod", "name": "web", "uid": "u1",
                               "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled", "type": "Normal", "reportingComponent": "kubelet"
        });
        let value = |field: &str| field_value(Kind::Event, &event, field).unwrap();
        assert_eq!(value("involvedObject.kind"), "Pod");
        assert_eq!(value("involvedObject.namespace"), "prod");
        assert_eq!(value("involvedObject.name"), "web");
        assert_eq!(value("involvedObject.uid"), "u1");
        assert_eq!(value("involvedObject.apiVersion"), "v1");
        assert_eq!(value("involvedObject.resourceVersion"), "7");
        assert_eq!(value("involvedObject.fieldPath"), "spec.containers{web}");
        assert_eq!(value("reason"), "Pulled");
        assert_eq!(value("type"), "Normal");
        assert_eq!(value("reportingComponent"), "kubelet");
        // Without source.component the reporting component stands in.
        assert_eq!(value("source"), "kubelet");
        let with_source = json!({"source": {"component": "scheduler"}});
        assert_eq!(
            field_value(Kind::Event, &with_source, "source").unwrap(),
            "scheduler"
        );
    }

    #[test]
    fn should_read_the_other_kinds_fields_with_zero_value_defaults() {
        let node = json!({"metadata": {"name": "n1"}, "spec": {}});
        assert_eq!(
            field_value(Kind::Node, &node, "spec.unschedulable").unwrap(),
            "false"
        );
        let cordoned = json!({"spec": {"unschedulable": true}});
        assert_eq!(
            field_value(Kind::Node, &cordoned, "spec.unschedulable").unwrap(),
            "true"
        );
        let namespace = json!({"status": {"phase": "Terminating"}});
        assert_eq!(
            field_value(Kind::Namespace, &namespace, "status.phase").unwrap(),
            "Terminating"
        );
        let secret = json!({"type": "kubernetes.io/tls"});
        assert_eq!(
            field_value(Kind::Secret, &secret, "type").unwrap(),
            "kubernetes.io/tls"
        );
        assert_eq!(
            field_value(Kind::Job, &json!({}), "status.successful").unwrap(),
            "0"
        );
        assert_eq!(
            field_value(
                Kind::Job,
                &json!({"status": {"succeeded": 3}}),
                "status.successful"
            )
            .unwrap(),
            "3"
        );
        let service = json!({"spec": {"type": "NodePort", "clusterIP": "10.43.0.7"}});
        assert_eq!(
            field_value(Kind::Service, &service, "spec.type").unwrap(),
            "NodePort"
        );
        assert_eq!(
            field_value(Kind::Service, &service, "spec.clusterIP").unwrap(),
            "10.43.0.7"
        );
        let pod = json!({"status": {"podIPs": [{"ip": "10.42.0.9"}]}});
        assert_eq!(field_value(Kind::Pod, &pod, "status.podIPs").unwrap(), "");
        let new_event = json!({"regarding": {"kind": "Pod"}, "reportingController": "kubelet"});
        assert_eq!(
            field_value(Kind::EventsV1Event, &new_event, "regarding.kind").unwrap(),
            "Pod"
        );
        assert_eq!(
            field_value(Kind::EventsV1Event, &new_event, "reportingController").unwrap(),
            "kubelet"
        );
    }

    #[test]
    fn should_refuse_fields_a_kind_does_not_support() {
        let selector = FieldSelector::parse("metadata.name=a,spec.replicas=3").unwrap();
        assert_eq!(
            selector.check_supported(Kind::Pod).unwrap_err().to_string(),
            "field label not supported: spec.replicas"
        );
        assert_eq!(
            refuse_field(Kind::Ingress, "foo.bar").to_string(),
            "\"foo.bar\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert_eq!(
            refuse_field(Kind::Job, "status.succeeded").to_string(),
            "field label \"status.succeeded\" not supported for batchv1.Job"
        );
        assert!(FieldSelector::parse("spec.nodeName=n1")
            .unwrap()
            .check_supported(Kind::Pod)
            .is_ok());
        // Nodes and namespaces are not namespaced, and upstream offers no namespace field for them.
        let by_namespace = FieldSelector::parse("metadata.namespace=x").unwrap();
        assert!(by_namespace.check_supported(Kind::Node).is_err());
        assert!(by_namespace.check_supported(Kind::ConfigMap).is_ok());
    }

    #[test]
    fn should_give_a_value_for_every_supported_field_of_every_kind() {
        for resource in crate::registry::RESOURCES {
            for field in supported_fields(resource.kind) {
                assert!(
                    field_value(resource.kind, &json!({}), field).is_some(),
                    "{:?} {field}",
                    resource.kind
                );
            }
        }
    }
}
