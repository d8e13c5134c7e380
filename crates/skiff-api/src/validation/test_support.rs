//! Fixtures and helpers the validation tests share.

use serde_json::{json, Value};

use crate::field::FieldError;

/// Each error as `kubectl` prints it, for comparing with upstream's sentences.
pub fn messages(errors: impl AsRef<[FieldError]>) -> Vec<String> {
    errors.as_ref().iter().map(ToString::to_string).collect()
}

/// A Pod in `default` named `web`, with the given spec.
pub fn pod(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

/// A Pod spec as defaulting leaves it: one `nginx` container with a port, and the
/// not-ready toleration admission adds.
pub fn defaulted_pod_spec() -> Value {
    json!({
        "containers": [{"name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
        "schedulerName": "default-scheduler", "securityContext": {},
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
    })
}

/// A defaulted workload pod template with the given labels and restart policy.
pub fn pod_template(labels: Value, restart_policy: &str) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {
            "containers": [{"name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
            "restartPolicy": restart_policy, "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
            "schedulerName": "default-scheduler", "securityContext": {}
        }
    })
}
