//! Containers of a pod spec: names, images, ports, environment, mounts,
//! resources and probes, as `validateContainers`, `validateInitContainers` and
//! `validateContainerCommon` in `k8s.io/kubernetes/pkg/apis/core/validation/validation.go`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::env::{validate_env, validate_env_from};
use super::names::{is_dns1123_label, is_http_header_name, is_valid_port_name, is_valid_port_num};
use super::render::not_found;
use super::resources::validate_resources;
use super::{array_of, child, index, int_of, invalid_each, is_set, str_of, string_or_empty};
use crate::field::FieldError;

/// Protocols of container and Service ports (`supportedPortProtocols`, sorted).
pub const SUPPORTED_PORT_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// What the pod around the containers decides for them.
pub struct PodContext<'a> {
    /// The names of the pod's valid volumes.
    pub volumes: &'a BTreeSet<String>,
    /// `terminationGracePeriodSeconds`, bounding lifecycle sleeps.
    pub grace_period: Option<i64>,
}

/// `validateContainers`: the regular containers of a pod spec.
pub fn validate_containers(
    containers: Option<&Value>,
    path: &str,
    pod: &PodContext,
) -> Vec<FieldError> {
    let containers = containers
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (i, container) in containers.iter().enumerate() {
        let container_path = index(path, i);
        errors.extend(validate_container_common(container, &container_path, pod));
        let name = string_or_empty(container, "name");
        if !names.insert(name) {
            errors.push(FieldError::duplicate(
                child(&container_path, "name"),
                &Value::from(name),
            ));
        }
        errors.extend(validate_lifecycle_and_probes(
            container,
            &container_path,
            pod,
        ));
        if is_set(container, "restartPolicy") {
            errors.push(FieldError::forbidden(
                child(&container_path, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errors.extend(check_host_port_conflicts(containers, path));
    errors
}

/// The lifecycle hooks and probes of a container that keeps running: a regular
/// container, or a sidecar (an init container with `restartPolicy: Always`).
fn validate_lifecycle_and_probes(
    container: &Value,
    container_path: &str,
    pod: &PodContext,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(lifecycle) = container.get("lifecycle").filter(|l| !l.is_null()) {
        errors.extend(validate_lifecycle(
            lifecycle,
            &child(container_path, "lifecycle"),
            pod.grace_period,
        ));
    }
    errors.extend(validate_probes(container, container_path));
    errors
}

/// `validateInitContainers`: init and sidecar containers.
pub fn validate_init_containers(
    init_containers: &[Value],
    containers: &[Value],
    path: &str,
    pod: &PodContext,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names: BTreeSet<&str> = containers
        .iter()
        .map(|c| string_or_empty(c, "name"))
        .collect();
    for (i, container) in init_containers.iter().enumerate() {
        let container_path = index(path, i);
        errors.extend(validate_container_common(container, &container_path, pod));
        let restart_policy = str_of(container, "restartPolicy");
        if let Some(policy) = restart_policy.filter(|p| *p != "Always") {
            errors.push(FieldError::not_supported(
                child(&container_path, "restartPolicy"),
                &Value::from(policy),
                &["Always"],
            ));
        }
        let name = string_or_empty(container, "name");
        if names.contains(name) {
            errors.push(FieldError::duplicate(
                child(&container_path, "name"),
                &Value::from(name),
            ));
        } else if !name.is_empty() {
            names.insert(name);
        }
        errors.extend(check_host_port_conflicts(
            std::slice::from_ref(container),
            path,
        ));
        if restart_policy == Some("Always") {
            errors.extend(validate_lifecycle_and_probes(
                container,
                &container_path,
                pod,
            ));
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if is_set(container, field) {
                    errors.push(FieldError::forbidden(
                        child(&container_path, field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    errors
}

/// `validateContainerCommon`: what every kind of container must satisfy.
fn validate_container_common(container: &Value, path: &str, pod: &PodContext) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = string_or_empty(container, "name");
    if name.is_empty() {
        errors.push(FieldError::required(child(path, "name"), ""));
    } else {
        errors.extend(invalid_each(
            &child(path, "name"),
            name,
            is_dns1123_label(name),
        ));
    }
    if string_or_empty(container, "image").is_empty() {
        errors.push(FieldError::required(child(path, "image"), ""));
    }
    let policy_path = child(path, "terminationMessagePolicy");
    match string_or_empty(container, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errors.push(FieldError::required(policy_path, "")),
        other => errors.push(FieldError::not_supported(
            policy_path,
            &Value::from(other),
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errors.extend(validate_container_ports(
        array_of(container, "ports"),
        &child(path, "ports"),
    ));
    errors.extend(validate_env(
        array_of(container, "env"),
        &child(path, "env"),
    ));
    errors.extend(validate_env_from(
        array_of(container, "envFrom"),
        &child(path, "envFrom"),
    ));
    errors.extend(validate_volume_mounts(
        array_of(container, "volumeMounts"),
        &child(path, "volumeMounts"),
        pod.volumes,
    ));
    let pull_path = child(path, "imagePullPolicy");
    match string_or_empty(container, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errors.push(FieldError::required(pull_path, "")),
        other => errors.push(FieldError::not_supported(
            pull_path,
            &Value::from(other),
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    errors.extend(validate_resources(
        container.get("resources"),
        &child(path, "resources"),
    ));
    errors
}

/// `validateContainerPorts`.
pub fn validate_container_ports(ports: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = index(path, i);
        let name = string_or_empty(port, "name");
        if !name.is_empty() {
            let messages = is_valid_port_name(name);
            if !messages.is_empty() {
                errors.extend(invalid_each(&child(&port_path, "name"), name, messages));
            } else if !names.insert(name) {
                errors.push(FieldError::duplicate(
                    child(&port_path, "name"),
                    &Value::from(name),
                ));
            }
        }
        match int_of(port, "containerPort").unwrap_or(0) {
            0 => errors.push(FieldError::required(child(&port_path, "containerPort"), "")),
            number => errors.extend(invalid_number(
                &child(&port_path, "containerPort"),
                number,
                is_valid_port_num(number),
            )),
        }
        let host_port = int_of(port, "hostPort").unwrap_or(0);
        if host_port != 0 {
            errors.extend(invalid_number(
                &child(&port_path, "hostPort"),
                host_port,
                is_valid_port_num(host_port),
            ));
        }
        errors.extend(validate_protocol(port, &child(&port_path, "protocol")));
    }
    errors
}

/// A port's protocol: required, and one of TCP, UDP, SCTP.
pub fn validate_protocol(port: &Value, path: &str) -> Vec<FieldError> {
    match string_or_empty(port, "protocol") {
        "" => vec![FieldError::required(path, "")],
        protocol if SUPPORTED_PORT_PROTOCOLS.contains(&protocol) => Vec::new(),
        protocol => vec![FieldError::not_supported(
            path,
            &Value::from(protocol),
            SUPPORTED_PORT_PROTOCOLS,
        )],
    }
}

/// Field errors for each message about a number.
pub fn invalid_number(path: &str, value: i64, messages: Vec<String>) -> Vec<FieldError> {
    messages
        .into_iter()
        .map(|m| FieldError::invalid(path, &Value::from(value), m))
        .collect()
}

/// `ValidatePortNumOrName`: an `IntOrString` port, a number or a port name.
pub fn validate_port_num_or_name(port: Option<&Value>, path: &str) -> Vec<FieldError> {
    match port {
        Some(Value::String(name)) => invalid_each(path, name, is_valid_port_name(name)),
        Some(value) => {
            let number = value.as_i64().unwrap_or(0);
            invalid_number(path, number, is_valid_port_num(number))
        }
        None => invalid_number(path, 0, is_valid_port_num(0)),
    }
}

/// `checkHostPortConflicts`: one host port per protocol and host IP.
fn check_host_port_conflicts(containers: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (ci, container) in containers.iter().enumerate() {
        for (pi, port) in array_of(container, "ports").iter().enumerate() {
            let host_port = int_of(port, "hostPort").unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                string_or_empty(port, "protocol"),
                string_or_empty(port, "hostIP"),
                host_port
            );
            if !seen.insert(key.clone()) {
                let port_path = index(&child(&index(path, ci), "ports"), pi);
                errors.push(FieldError::duplicate(
                    child(&port_path, "hostPort"),
                    &Value::from(key),
                ));
            }
        }
    }
    errors
}

/// `ValidateVolumeMounts`: each mount names a volume of the pod, at a unique path.
fn validate_volume_mounts(
    mounts: &[Value],
    path: &str,
    volumes: &BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let mount_path = index(path, i);
        let name = string_or_empty(mount, "name");
        if name.is_empty() {
            errors.push(FieldError::required(child(&mount_path, "name"), ""));
        }
        if !volumes.contains(name) {
            errors.push(not_found(child(&mount_path, "name"), &Value::from(name)));
        }
        let target = string_or_empty(mount, "mountPath");
        if target.is_empty() {
            errors.push(FieldError::required(child(&mount_path, "mountPath"), ""));
        }
        if !mount_points.insert(target) {
            errors.push(FieldError::invalid(
                child(&mount_path, "mountPath"),
                &Value::from(target),
                "must be unique",
            ));
        }
        let sub_path = string_or_empty(mount, "subPath");
        if !sub_path.is_empty() {
            errors.extend(validate_local_descending_path(
                sub_path,
                &child(path, "subPath"),
            ));
        }
    }
    errors
}

/// `validateLocalDescendingPath`: relative, without `..`.
pub fn validate_local_descending_path(target: &str, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if target.starts_with('/') {
        errors.push(FieldError::invalid(
            path,
            &Value::from(target),
            "must be a relative path",
        ));
    }
    if target.split('/').any(|part| part == "..") {
        errors.push(FieldError::invalid(
            path,
            &Value::from(target),
            "must not contain '..'",
        ));
    }
    errors
}

/// Liveness, readiness and startup probes of one container.
fn validate_probes(container: &Value, container_path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = container.get(field).filter(|p| !p.is_null()) else {
            continue;
        };
        let probe_path = child(container_path, field);
        errors.extend(validate_handler(probe, &probe_path, None, false));
        for counter in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            errors.extend(super::validate_nonnegative(
                int_of(probe, counter),
                &child(&probe_path, counter),
            ));
        }
        if let Some(grace) = int_of(probe, "terminationGracePeriodSeconds") {
            if field == "readinessProbe" {
                errors.push(FieldError::invalid(
                    child(&probe_path, "terminationGracePeriodSeconds"),
                    &Value::from(grace),
                    "must not be set for readinessProbes",
                ));
            } else if grace <= 0 {
                errors.push(FieldError::invalid(
                    child(&probe_path, "terminationGracePeriodSeconds"),
                    &Value::from(grace),
                    "must be greater than 0",
                ));
            }
        }
        if field != "readinessProbe" {
            if let Some(threshold) = int_of(probe, "successThreshold").filter(|t| *t != 1) {
                errors.push(FieldError::invalid(
                    child(&probe_path, "successThreshold"),
                    &Value::from(threshold),
                    "must be 1",
                ));
            }
        }
    }
    errors
}

fn validate_lifecycle(lifecycle: &Value, path: &str, grace_period: Option<i64>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for hook in ["postStart", "preStop"] {
        if let Some(handler) = lifecycle.get(hook).filter(|h| !h.is_null()) {
            errors.extend(validate_handler(
                handler,
                &child(path, hook),
                grace_period,
                true,
            ));
        }
    }
    errors
}

/// `validateHandler`: exactly one action of a probe or lifecycle hook.
fn validate_handler(
    handler: &Value,
    path: &str,
    grace_period: Option<i64>,
    lifecycle: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut count = 0;
    let actions: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    for action in actions {
        let Some(body) = handler.get(*action).filter(|a| !a.is_null()) else {
            continue;
        };
        let action_path = child(path, action);
        if count > 0 {
            errors.push(FieldError::forbidden(
                action_path,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        match *action {
            "exec" => {
                if array_of(body, "command").is_empty() {
                    errors.push(FieldError::required(child(&action_path, "command"), ""));
                }
            }
            "httpGet" => {
                if string_or_empty(body, "path").is_empty() {
                    errors.push(FieldError::required(child(&action_path, "path"), ""));
                }
                errors.extend(validate_port_num_or_name(
                    body.get("port"),
                    &child(&action_path, "port"),
                ));
                let scheme = string_or_empty(body, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errors.push(FieldError::not_supported(
                        child(&action_path, "scheme"),
                        &Value::from(scheme),
                        &["HTTP", "HTTPS"],
                    ));
                }
                for header in array_of(body, "httpHeaders") {
                    let name = string_or_empty(header, "name");
                    errors.extend(invalid_each(
                        &child(&action_path, "httpHeaders"),
                        name,
                        is_http_header_name(name),
                    ));
                }
            }
            "tcpSocket" => errors.extend(validate_port_num_or_name(
                body.get("port"),
                &child(&action_path, "port"),
            )),
            "grpc" => {
                let port = int_of(body, "port").unwrap_or(0);
                errors.extend(invalid_number(
                    &child(&action_path, "port"),
                    port,
                    is_valid_port_num(port),
                ));
            }
            _ => {
                // sleep: the PodLifecycleSleepActionAllowZero gate is on by default in 1.33.
                let seconds = int_of(body, "seconds").unwrap_or(0);
                if let Some(grace) = grace_period.filter(|g| seconds < 0 || seconds > *g) {
                    errors.push(FieldError::invalid(
                        &action_path,
                        &Value::from(seconds),
                        format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
                    ));
                }
            }
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a handler type"));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::messages;
    use serde_json::json;

    /// A host port conflict key as upstream prints it.
    fn host_port_key(protocol: &str, port: i64) -> String {
        super::super::render::go_quote(&format!("{protocol}//{port}"))
    }

    fn check(containers: Value) -> Vec<String> {
        let volumes = BTreeSet::from(["data".to_string()]);
        let pod = PodContext {
            volumes: &volumes,
            grace_period: Some(30),
        };
        messages(validate_containers(
            Some(&containers),
            "spec.containers",
            &pod,
        ))
    }

    fn container(extra: Value) -> Value {
        let mut base = json!({"name": "web", "image": "nginx", "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File"});
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    }

    #[test]
    fn should_require_at_least_one_container() {
        assert_eq!(check(json!([])), vec!["spec.containers: Required value"]);
    }

    #[test]
    fn should_require_a_container_name_and_image() {
        let errors =
            check(json!([{"imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]));
        assert_eq!(
            errors,
            vec![
                "spec.containers[0].name: Required value",
                "spec.containers[0].image: Required value"
            ]
        );
    }

    #[test]
    fn should_refuse_duplicate_container_names() {
        let errors = check(json!([container(json!({})), container(json!({}))]));
        assert_eq!(
            errors,
            vec!["spec.containers[1].name: Duplicate value: \"web\""]
        );
    }

    #[test]
    fn should_check_container_port_ranges_and_protocols() {
        let errors = check(json!([container(json!({"ports": [
            {"containerPort": 70000, "protocol": "TCP"},
            {"containerPort": 80, "protocol": "HTTP"},
            {"protocol": "TCP"},
        ]}))]));
        assert_eq!(
            errors,
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.containers[0].ports[2].containerPort: Required value",
            ]
        );
    }

    #[test]
    fn should_refuse_two_containers_on_one_host_port() {
        let port = json!([{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]);
        let errors = check(json!([
            container(json!({"ports": port})),
            container(json!({"name": "b", "ports": port}))
        ]));
        assert_eq!(
            errors,
            vec![format!(
                "spec.containers[1].ports[0].hostPort: Duplicate value: {}",
                host_port_key("TCP", 8080)
            )]
        );
    }

    #[test]
    fn should_check_the_pull_policy() {
        let errors = check(json!([container(json!({"imagePullPolicy": "Sometimes"}))]));
        assert_eq!(
            errors,
            vec!["spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""]
        );
    }

    #[test]
    fn should_require_mounts_to_name_a_volume() {
        let errors = check(json!([container(
            json!({"volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "cache", "mountPath": "/d"}]})
        )]));
        assert_eq!(
            errors,
            vec![
                "spec.containers[0].volumeMounts[1].name: Not found: \"cache\"",
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
            ]
        );
    }

    #[test]
    fn should_check_probes() {
        let probe = json!({"httpGet": {"path": "/", "port": 0, "scheme": "FTP"}, "tcpSocket": {"port": 80}, "successThreshold": 2, "timeoutSeconds": -1});
        let errors = check(json!([container(json!({"livenessProbe": probe}))]));
        assert_eq!(
            errors,
            vec![
                "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: \"FTP\": supported values: \"HTTP\", \"HTTPS\"",
                "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                "spec.containers[0].livenessProbe.timeoutSeconds: Invalid value: -1: must be greater than or equal to 0",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            ]
        );
        let empty = check(json!([container(
            json!({"readinessProbe": {"periodSeconds": 10}})
        )]));
        assert_eq!(
            empty,
            vec!["spec.containers[0].readinessProbe: Required value: must specify a handler type"]
        );
    }

    #[test]
    fn should_refuse_restart_policy_on_regular_containers() {
        let errors = check(json!([container(json!({"restartPolicy": "Always"}))]));
        assert_eq!(errors, vec!["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]);
    }
}
