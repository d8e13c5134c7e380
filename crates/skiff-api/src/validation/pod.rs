//! Pods and pod templates: `ValidatePodSpec`, `ValidatePodTemplateSpec`,
//! `ValidatePodCreate` and `ValidatePodUpdate` of
//! `k8s.io/kubernetes/pkg/apis/core/validation/validation.go`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::container::{validate_containers, validate_init_containers, PodContext};
use super::meta::{validate_annotations, validate_labels, validate_object_meta};
use super::names::{
    inclusive_range_error, is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_ip,
    is_valid_label_value, name_is_dns1123_subdomain,
};
use super::render::{go_string_slice, invalid_rendered};
use super::{
    array_of, child, index, int_of, invalid_each, is_set, object_of, str_of, string_or_empty,
};
use crate::field::FieldError;

/// The sources a volume may have, in upstream's order, each with the path
/// upstream names when a second one is set (`downwarAPI` and `cephFS` are upstream's spelling).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

/// `ValidatePodCreate`.
pub fn validate_pod_create(pod: &Value) -> Vec<FieldError> {
    let mut errors = validate_pod_metadata_and_spec(pod);
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    if !array_of(spec, "ephemeralContainers").is_empty() {
        errors.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    if !string_or_empty(spec, "nodeName").is_empty()
        && !array_of(spec, "schedulingGates").is_empty()
    {
        errors.push(FieldError::forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errors
}

/// `validatePodMetadataAndSpec`: what create and update share.
pub(super) fn validate_pod_metadata_and_spec(pod: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(pod, true, name_is_dns1123_subdomain);
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    errors.extend(validate_pod_spec(spec, "spec", true));
    for field in ["containers", "initContainers"] {
        for (i, container) in array_of(spec, field).iter().enumerate() {
            let image = string_or_empty(container, "image");
            if image.trim() != image {
                errors.push(FieldError::invalid(
                    child(&index(&child("spec", field), i), "image"),
                    &Value::from(image),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errors
}

/// `ValidatePodTemplateSpec`: a template's labels and annotations (on the
/// template's own path, not under `metadata`, as upstream reports them) and its spec.
pub fn validate_pod_template(template: Option<&Value>, path: &str) -> Vec<FieldError> {
    let template = template.unwrap_or(&Value::Null);
    let mut errors = validate_template_metadata(template, path);
    let spec = template.get("spec").unwrap_or(&Value::Null);
    let spec_path = child(path, "spec");
    errors.extend(validate_pod_spec(spec, &spec_path, false));
    if !array_of(spec, "ephemeralContainers").is_empty() {
        errors.push(FieldError::forbidden(
            child(&spec_path, "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}

/// A template's labels and annotations.
pub fn validate_template_metadata(template: &Value, path: &str) -> Vec<FieldError> {
    let meta = template.get("metadata").unwrap_or(&Value::Null);
    let mut errors = validate_labels(object_of(meta, "labels"), &child(path, "labels"));
    errors.extend(validate_annotations(
        object_of(meta, "annotations"),
        &child(path, "annotations"),
    ));
    errors
}

/// `ValidatePodSpec`. `is_pod` is upstream's `ResourceIsPod` option.
pub fn validate_pod_spec(spec: &Value, path: &str, is_pod: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let grace_period = int_of(spec, "terminationGracePeriodSeconds");
    if !is_set(spec, "terminationGracePeriodSeconds") {
        errors.push(FieldError::required(
            child(path, "terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (volumes, volume_errors) =
        validate_volumes(array_of(spec, "volumes"), &child(path, "volumes"));
    errors.extend(volume_errors);
    let context = PodContext {
        volumes: &volumes,
        grace_period,
    };
    errors.extend(validate_containers(
        spec.get("containers"),
        &child(path, "containers"),
        &context,
    ));
    errors.extend(validate_init_containers(
        array_of(spec, "initContainers"),
        array_of(spec, "containers"),
        &child(path, "initContainers"),
        &context,
    ));
    errors.extend(validate_host_network_ports(spec, path, is_pod));

    let restart_path = child(path, "restartPolicy");
    match string_or_empty(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errors.push(FieldError::required(restart_path, "")),
        other => errors.push(FieldError::not_supported(
            restart_path,
            &Value::from(other),
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_path = child(path, "dnsPolicy");
    let dns_policy = string_or_empty(spec, "dnsPolicy");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errors.push(FieldError::required(dns_path, "")),
        other => errors.push(FieldError::not_supported(
            dns_path,
            &Value::from(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errors.extend(validate_labels(
        object_of(spec, "nodeSelector"),
        &child(path, "nodeSelector"),
    ));
    errors.extend(validate_dns_config(
        spec.get("dnsConfig"),
        dns_policy,
        &child(path, "dnsConfig"),
    ));

    for (field, rule) in [
        (
            "serviceAccountName",
            is_dns1123_subdomain as fn(&str) -> Vec<String>,
        ),
        ("nodeName", is_dns1123_subdomain),
    ] {
        let value = string_or_empty(spec, field);
        if !value.is_empty() {
            errors.extend(invalid_each(&child(path, field), value, rule(value)));
        }
    }
    if let Some(deadline) = int_of(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(i32::MAX)).contains(&deadline) {
            errors.push(FieldError::invalid(
                child(path, "activeDeadlineSeconds"),
                &Value::from(deadline),
                inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    for field in ["hostname", "subdomain"] {
        let value = string_or_empty(spec, field);
        if !value.is_empty() {
            errors.extend(invalid_each(
                &child(path, field),
                value,
                is_dns1123_label(value),
            ));
        }
    }
    errors.extend(validate_tolerations(
        array_of(spec, "tolerations"),
        &child(path, "tolerations"),
    ));
    for (i, alias) in array_of(spec, "hostAliases").iter().enumerate() {
        let alias_path = index(&child(path, "hostAliases"), i);
        let ip = string_or_empty(alias, "ip");
        errors.extend(invalid_each(&child(&alias_path, "ip"), ip, is_valid_ip(ip)));
        for (j, hostname) in array_of(alias, "hostnames").iter().enumerate() {
            let hostname = hostname.as_str().unwrap_or_default();
            errors.extend(invalid_each(
                &index(&child(&alias_path, "hostnames"), j),
                hostname,
                is_dns1123_subdomain(hostname),
            ));
        }
    }
    let priority_class = string_or_empty(spec, "priorityClassName");
    if !priority_class.is_empty() {
        errors.extend(invalid_each(
            &child(path, "priorityClassName"),
            priority_class,
            is_dns1123_subdomain(priority_class),
        ));
    }
    if let Some(policy) = str_of(spec, "preemptionPolicy") {
        let policy_path = child(path, "preemptionPolicy");
        match policy {
            "PreemptLowerPriority" | "Never" => {}
            "" => errors.push(FieldError::required(policy_path, "")),
            other => errors.push(FieldError::not_supported(
                policy_path,
                &Value::from(other),
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    errors
}

/// `ValidateVolumes`: returns the names of the valid volumes, which mounts may use.
fn validate_volumes(volumes: &[Value], path: &str) -> (BTreeSet<String>, Vec<FieldError>) {
    let mut names = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = index(path, i);
        let name_path = child(&volume_path, "name");
        let mut volume_errors = validate_volume_source(volume, &volume_path);
        let name = string_or_empty(volume, "name");
        if name.is_empty() {
            volume_errors.push(FieldError::required(&name_path, ""));
        } else {
            volume_errors.extend(invalid_each(&name_path, name, is_dns1123_label(name)));
        }
        if names.contains(name) {
            volume_errors.push(FieldError::duplicate(&name_path, &Value::from(name)));
        }
        if volume_errors.is_empty() {
            names.insert(name.to_string());
        } else {
            errors.extend(volume_errors);
        }
    }
    (names, errors)
}

/// `validateVolumeSource`: exactly one source, and the required fields of the common ones.
fn validate_volume_source(volume: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut count = 0;
    for (field, error_name) in VOLUME_SOURCES {
        let Some(source) = volume.get(*field).filter(|s| !s.is_null()) else {
            continue;
        };
        if count > 0 {
            errors.push(FieldError::forbidden(
                child(path, error_name),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let source_path = child(path, field);
        let required = match *field {
            "hostPath" => Some("path"),
            "secret" => Some("secretName"),
            "configMap" => Some("name"),
            "persistentVolumeClaim" => Some("claimName"),
            "nfs" => Some("server"),
            _ => None,
        };
        if let Some(required) = required {
            if string_or_empty(source, required).is_empty() {
                errors.push(FieldError::required(child(&source_path, required), ""));
            }
        }
        for mode_field in ["defaultMode"] {
            if let Some(mode) = int_of(source, mode_field).filter(|m| !(0..=0o777).contains(m)) {
                errors.push(FieldError::invalid(
                    child(&source_path, mode_field),
                    &Value::from(mode),
                    "must be a number between 0 and 0777 (octal), both inclusive",
                ));
            }
        }
        for (j, item) in array_of(source, "items").iter().enumerate() {
            let item_path = index(&child(&source_path, "items"), j);
            for required in ["key", "path"] {
                if string_or_empty(item, required).is_empty() {
                    errors.push(FieldError::required(child(&item_path, required), ""));
                }
            }
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a volume type"));
    }
    errors
}

/// `validatePodHostNetworkDeps`: with the host's network, a host port is the container port.
fn validate_host_network_ports(spec: &Value, path: &str, is_pod: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.get("hostNetwork").and_then(Value::as_bool) != Some(true) {
        return errors;
    }
    for (i, container) in array_of(spec, "containers").iter().enumerate() {
        for (j, port) in array_of(container, "ports").iter().enumerate() {
            let host_port = int_of(port, "hostPort").unwrap_or(0);
            let container_port = int_of(port, "containerPort").unwrap_or(0);
            if (is_pod || host_port != 0) && host_port != container_port {
                let port_path = index(&child(&index(&child(path, "containers"), i), "ports"), j);
                errors.push(FieldError::invalid(
                    child(&port_path, "hostPort"),
                    &Value::from(host_port),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errors
}

/// `validatePodDNSConfig`: `dnsPolicy: None` needs nameservers of its own.
fn validate_dns_config(config: Option<&Value>, dns_policy: &str, path: &str) -> Vec<FieldError> {
    let config = config.filter(|c| !c.is_null());
    if dns_policy == "None" {
        match config {
            None => {
                return vec![FieldError::required(
                    path,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )]
            }
            Some(c) if array_of(c, "nameservers").is_empty() => {
                return vec![FieldError::required(
                    child(path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )]
            }
            Some(_) => {}
        }
    }
    let mut errors = Vec::new();
    let Some(config) = config else {
        return errors;
    };
    let nameservers = array_of(config, "nameservers");
    if nameservers.len() > 3 {
        errors.push(invalid_rendered(
            child(path, "nameservers"),
            go_string_slice(Some(&nameservers.to_vec())),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, server) in nameservers.iter().enumerate() {
        let server = server.as_str().unwrap_or_default();
        errors.extend(invalid_each(
            &index(&child(path, "nameservers"), i),
            server,
            is_valid_ip(server),
        ));
    }
    for (i, search) in array_of(config, "searches").iter().enumerate() {
        let search = search.as_str().unwrap_or_default().trim_end_matches('.');
        errors.extend(invalid_each(
            &index(&child(path, "searches"), i),
            search,
            is_dns1123_subdomain(search),
        ));
    }
    errors
}

/// `ValidateTolerations`.
fn validate_tolerations(tolerations: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, toleration) in tolerations.iter().enumerate() {
        let toleration_path = index(path, i);
        let key = string_or_empty(toleration, "key");
        let operator = string_or_empty(toleration, "operator");
        let effect = string_or_empty(toleration, "effect");
        let value = string_or_empty(toleration, "value");
        if !key.is_empty() {
            errors.extend(invalid_each(
                &child(&toleration_path, "key"),
                key,
                is_qualified_name(key),
            ));
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(FieldError::invalid(
                child(&toleration_path, "operator"),
                &Value::from(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if is_set(toleration, "tolerationSeconds") && effect != "NoExecute" {
            errors.push(FieldError::invalid(
                child(&toleration_path, "effect"),
                &Value::from(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let operator_path = child(&toleration_path, "operator");
        match operator {
            "Equal" | "" => {
                let messages = is_valid_label_value(value);
                if !messages.is_empty() {
                    errors.push(FieldError::invalid(
                        &operator_path,
                        &Value::from(value),
                        messages.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errors.push(FieldError::invalid(
                        &operator_path,
                        &Value::from(value),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                &operator_path,
                &Value::from(other),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
        {
            errors.push(FieldError::not_supported(
                child(&toleration_path, "effect"),
                &Value::from(effect),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::{defaulted_pod_spec, messages, pod};
    use serde_json::json;

    #[test]
    fn should_accept_a_defaulted_pod() {
        assert_eq!(
            messages(validate_pod_create(&pod(defaulted_pod_spec()))),
            Vec::<String>::new()
        );
    }

    #[test]
    fn should_list_supported_restart_and_dns_policies() {
        let mut spec = defaulted_pod_spec();
        spec["restartPolicy"] = json!("Sometimes");
        spec["dnsPolicy"] = json!("Cluster");
        assert_eq!(
            messages(validate_pod_create(&pod(spec))),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                "spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ]
        );
    }

    #[test]
    fn should_check_volumes() {
        let mut spec = defaulted_pod_spec();
        spec["volumes"] = json!([{"name": "a", "emptyDir": {}, "hostPath": {"path": "/x"}}, {"name": "B", "configMap": {}}, {"name": "c"}]);
        assert_eq!(
            messages(validate_pod_create(&pod(spec))),
            vec![
                "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
                "spec.volumes[1].configMap.name: Required value",
                "spec.volumes[1].name: Invalid value: \"B\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                "spec.volumes[2]: Required value: must specify a volume type",
            ]
        );
    }

    #[test]
    fn should_check_tolerations() {
        let mut spec = defaulted_pod_spec();
        spec["tolerations"] = json!([{"operator": "Equal", "value": "x"}, {"key": "k", "tolerationSeconds": 5, "effect": "NoSchedule"}]);
        assert_eq!(
            messages(validate_pod_create(&pod(spec))),
            vec![
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                "spec.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ]
        );
    }

    #[test]
    fn should_bound_active_deadline_seconds() {
        let mut spec = defaulted_pod_spec();
        spec["activeDeadlineSeconds"] = json!(0);
        assert_eq!(
            messages(validate_pod_create(&pod(spec))),
            vec!["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]
        );
    }

    #[test]
    fn should_name_the_template_labels_path_as_upstream() {
        let template = json!({"metadata": {"labels": {"app": "-x"}}, "spec": defaulted_pod_spec()});
        let errors = validate_pod_template(Some(&template), "spec.template");
        assert!(errors[0]
            .to_string()
            .starts_with("spec.template.labels: Invalid value: \"-x\""));
    }
}
