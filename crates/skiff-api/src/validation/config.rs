//! Configuration and cluster kinds: Namespace, ConfigMap, Secret, Node,
//! ServiceAccount, Events (`k8s.io/kubernetes/pkg/apis/core/validation`) and
//! Lease (`pkg/apis/coordination/validation`).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::meta::{validate_finalizer_name, validate_object_meta};
use super::names::{
    is_config_map_key, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
    name_is_dns1123_label, name_is_dns1123_subdomain, parse_ip,
};
use super::render::{go_quote, go_string_slice, invalid_rendered, too_long};
use super::{
    array_of, child, index, int_of, invalid_each, is_set, key, object_of, semantically_equal,
    string_or_empty, validate_immutable,
};
use crate::field::FieldError;

/// The largest ConfigMap or Secret payload (`core.MaxSecretSize`).
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// The message for changes to an immutable ConfigMap or Secret.
const IMMUTABLE_WHEN_SET: &str = "field is immutable when `immutable` is set";

/// `ValidateNamespace`: a DNS label, and well-formed finalizers.
pub fn validate_namespace(namespace: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(namespace, false, name_is_dns1123_label);
    for finalizer in array_of(&namespace["spec"], "finalizers") {
        errors.extend(validate_finalizer_name(
            finalizer.as_str().unwrap_or_default(),
            "spec.finalizers",
        ));
    }
    errors
}

/// `ValidateConfigMap`.
pub fn validate_config_map(config_map: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(config_map, true, name_is_dns1123_subdomain);
    let binary = object_of(config_map, "binaryData");
    let mut total = 0;
    for (k, value) in object_of(config_map, "data").into_iter().flatten() {
        let path = key("data", k);
        errors.extend(invalid_each(&path, k, is_config_map_key(k)));
        if binary.is_some_and(|b| b.contains_key(k)) {
            errors.push(FieldError::invalid(
                &path,
                &Value::from(k.as_str()),
                "duplicate of key present in binaryData",
            ));
        }
        total += value.as_str().map_or(0, str::len);
    }
    let (binary_errors, binary_size) =
        validate_base64_entries(binary, "binaryData", "<binary contents redacted>");
    errors.extend(binary_errors);
    total += binary_size;
    if total > MAX_SECRET_SIZE {
        // Upstream passes an empty path: the error is about the whole object.
        errors.push(too_long("", MAX_SECRET_SIZE));
    }
    errors
}

/// `ValidateConfigMapUpdate`: an immutable ConfigMap's data never changes.
pub fn validate_config_map_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_immutable_payload(new, old, &["data", "binaryData"]);
    errors.extend(validate_config_map(new));
    errors
}

/// `immutable: true` freezes the flag itself and the payload fields.
fn validate_immutable_payload(new: &Value, old: &Value, fields: &[&str]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return errors;
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errors.push(FieldError::forbidden("immutable", IMMUTABLE_WHEN_SET));
    }
    for field in fields {
        let (n, o) = (
            new.get(*field).unwrap_or(&Value::Null),
            old.get(*field).unwrap_or(&Value::Null),
        );
        if !semantically_equal(n, o) {
            errors.push(FieldError::forbidden(*field, IMMUTABLE_WHEN_SET));
        }
    }
    errors
}

/// The keys of a map of base64 values (a Secret's `data`, a ConfigMap's
/// `binaryData`), and the decoded size of the values. A value that does not
/// decode is reported as `redacted`, never with its contents.
fn validate_base64_entries(
    entries: Option<&Map<String, Value>>,
    field: &str,
    redacted: &str,
) -> (Vec<FieldError>, usize) {
    let mut errors = Vec::new();
    let mut total = 0;
    for (k, value) in entries.into_iter().flatten() {
        let path = key(field, k);
        errors.extend(invalid_each(&path, k, is_config_map_key(k)));
        // Upstream decodes the base64 while reading the JSON; a bad value never reaches validation.
        match decode_base64(value.as_str().unwrap_or_default()) {
            Ok(bytes) => total += bytes.len(),
            Err(message) => errors.push(invalid_rendered(path, go_quote(redacted), message)),
        }
    }
    (errors, total)
}

/// `ValidateSecret`: keys, base64 values, size, and the keys each type needs.
pub fn validate_secret(secret: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(secret, true, name_is_dns1123_subdomain);
    let data = object_of(secret, "data");
    let (data_errors, total) = validate_base64_entries(data, "data", "<secret contents redacted>");
    errors.extend(data_errors);
    if total > MAX_SECRET_SIZE {
        errors.push(too_long("data", MAX_SECRET_SIZE));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let required = |k: &str| FieldError::required(key("data", k), "");
    match string_or_empty(secret, "type") {
        "kubernetes.io/service-account-token" => {
            let account = secret
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str);
            if account.unwrap_or_default().is_empty() {
                errors.push(FieldError::required(
                    key("metadata.annotations", "kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => errors.push(required(".dockercfg")),
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            errors.push(required(".dockerconfigjson"))
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errors.push(required("username"));
            errors.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            errors.push(required("ssh-privatekey"))
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    errors.push(required(k));
                }
            }
        }
        _ => {}
    }
    errors
}

/// `ValidateSecretUpdate`: the type never changes; an immutable Secret's data neither.
pub fn validate_secret_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_immutable(
        new.get("type").unwrap_or(&Value::from("")),
        old.get("type").unwrap_or(&Value::from("")),
        "type",
    );
    errors.extend(validate_immutable_payload(new, old, &["data"]));
    errors.extend(validate_secret(new));
    errors
}

/// Decodes standard, padded base64 as Go's `encoding/base64` does (newlines are
/// skipped); the error is Go's `illegal base64 data at input byte N`. A port of
/// `decodeQuantum` in `encoding/base64/base64.go`.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let illegal = |at: usize| format!("illegal base64 data at input byte {at}");
    let src = text.as_bytes();
    let is_newline = |c: u8| c == b'\n' || c == b'\r';
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut len = 4;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                match j {
                    0 => return Ok(out),
                    _ => return Err(illegal(si - j)),
                }
            }
            let c = src[si];
            si += 1;
            if let Some(bits) = sextet(c) {
                quantum[j] = bits;
                j += 1;
                continue;
            }
            if is_newline(c) {
                continue;
            }
            if c != b'=' || j < 2 {
                return Err(illegal(si - 1));
            }
            if j == 2 {
                // "==" is expected; the first "=" is consumed.
                while si < src.len() && is_newline(src[si]) {
                    si += 1;
                }
                if si == src.len() {
                    return Err(illegal(src.len()));
                }
                if src[si] != b'=' {
                    return Err(illegal(si - 1));
                }
                si += 1;
            }
            while si < src.len() && is_newline(src[si]) {
                si += 1;
            }
            if si < src.len() {
                return Err(illegal(si));
            }
            len = j;
            break;
        }
        let value = quantum
            .iter()
            .fold(0u32, |acc, bits| (acc << 6) | u32::from(*bits));
        out.extend_from_slice(&value.to_be_bytes()[1..len]);
        if len < 4 {
            return Ok(out);
        }
    }
}

/// `ValidateNode`: taints (reported under `metadata`, as upstream does) and pod CIDRs.
pub fn validate_node(node: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(node, false, name_is_dns1123_subdomain);
    let spec = node.get("spec").unwrap_or(&Value::Null);
    let mut seen = BTreeSet::new();
    for (i, taint) in array_of(spec, "taints").iter().enumerate() {
        let taint_path = index("metadata.taints", i);
        let key_name = string_or_empty(taint, "key");
        errors.extend(invalid_each(
            &child(&taint_path, "key"),
            key_name,
            is_qualified_name(key_name),
        ));
        let value = string_or_empty(taint, "value");
        let problems = is_valid_label_value(value);
        if !problems.is_empty() {
            errors.push(FieldError::invalid(
                child(&taint_path, "value"),
                &Value::from(value),
                problems.join(";"),
            ));
        }
        let effect = string_or_empty(taint, "effect");
        match effect {
            "" => errors.push(FieldError::required(child(&taint_path, "effect"), "")),
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => errors.push(FieldError::not_supported(
                child(&taint_path, "effect"),
                &Value::from(other),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            )),
        }
        if !seen.insert((effect, key_name)) {
            let mut duplicate = FieldError::duplicate(&taint_path, &Value::Null);
            duplicate.value = Some(format!(
                "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
                go_quote(key_name),
                go_quote(value),
                go_quote(effect)
            ));
            duplicate.detail = "taints must be unique by key and effect pair".to_string();
            errors.push(duplicate);
        }
    }
    let cidrs = array_of(spec, "podCIDRs");
    for (i, cidr) in cidrs.iter().enumerate() {
        if !is_cidr(cidr.as_str().unwrap_or_default()) {
            errors.push(invalid_rendered(
                index("spec.podCIDRs", i),
                go_string_slice(Some(&cidrs.to_vec())),
                "must be valid CIDR",
            ));
        }
    }
    errors
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let Some(ip) = parse_ip(address) else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.parse::<u8>().is_ok_and(|p| p <= max) && !prefix.starts_with('+')
}

/// `ValidateNodeUpdate`: pod CIDRs and the provider ID are set once.
pub fn validate_node_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_node(new);
    let (new_spec, old_spec) = (
        new.get("spec").unwrap_or(&Value::Null),
        old.get("spec").unwrap_or(&Value::Null),
    );
    let old_cidrs = array_of(old_spec, "podCIDRs");
    if !old_cidrs.is_empty() && old_cidrs != array_of(new_spec, "podCIDRs") {
        errors.push(FieldError::forbidden(
            "spec.podCIDRs",
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = string_or_empty(old_spec, "providerID");
    if !old_provider.is_empty() && old_provider != string_or_empty(new_spec, "providerID") {
        errors.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errors
}

/// `ValidateServiceAccount`: its metadata.
pub fn validate_service_account(account: &Value) -> Vec<FieldError> {
    validate_object_meta(account, true, name_is_dns1123_subdomain)
}

/// `ValidateLease` (`pkg/apis/coordination/validation`).
pub fn validate_lease(lease: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(lease, true, name_is_dns1123_subdomain);
    let spec = lease.get("spec").unwrap_or(&Value::Null);
    if let Some(duration) = int_of(spec, "leaseDurationSeconds").filter(|d| *d <= 0) {
        errors.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            &Value::from(duration),
            "must be greater than 0",
        ));
    }
    if let Some(transitions) = int_of(spec, "leaseTransitions").filter(|t| *t < 0) {
        errors.push(FieldError::invalid(
            "spec.leaseTransitions",
            &Value::from(transitions),
            "must be greater than or equal to 0",
        ));
    }
    errors
}

/// Limits of event fields (`ReportingInstanceLengthLimit`, …).
const REPORTING_INSTANCE_LENGTH_LIMIT: usize = 128;
const ACTION_LENGTH_LIMIT: usize = 128;
const REASON_LENGTH_LIMIT: usize = 128;
const NOTE_LENGTH_LIMIT: usize = 1024;

/// The fields of an event, whichever API group carries it.
struct EventFields<'a> {
    namespace: &'a str,
    involved_namespace: &'a str,
    event_time_set: bool,
    reporting_controller: &'a str,
    reporting_controller_field: &'static str,
    reporting_instance: &'a str,
    action: &'a str,
    reason: &'a str,
    message: &'a str,
}

/// `legacyValidateEvent`, which every event passes. Core events are not held to
/// the object-metadata rules (their names are free-form).
fn validate_event_common(event: &EventFields) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            &Value::from(event.involved_namespace),
            "does not match event.namespace",
        )
    };
    let empty = Value::from("");
    if !event.event_time_set {
        let matches = if event.involved_namespace.is_empty() {
            event.namespace.is_empty() || event.namespace == "default"
        } else {
            event.namespace == event.involved_namespace
        };
        if !matches {
            errors.push(mismatch());
        }
    } else {
        if event.involved_namespace.is_empty()
            && event.namespace != "default"
            && event.namespace != "kube-system"
        {
            errors.push(mismatch());
        }
        if event.reporting_controller.is_empty() {
            errors.push(FieldError::required(event.reporting_controller_field, ""));
        }
        errors.extend(invalid_each(
            event.reporting_controller_field,
            event.reporting_controller,
            is_qualified_name(event.reporting_controller),
        ));
        for (field, value, limit) in [
            (
                "reportingInstance",
                event.reporting_instance,
                REPORTING_INSTANCE_LENGTH_LIMIT,
            ),
            ("action", event.action, ACTION_LENGTH_LIMIT),
            ("reason", event.reason, REASON_LENGTH_LIMIT),
        ] {
            if value.is_empty() {
                errors.push(FieldError::required(field, ""));
            }
            if value.len() > limit {
                errors.push(FieldError::invalid(
                    field,
                    &empty,
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if event.message.len() > NOTE_LENGTH_LIMIT {
            errors.push(FieldError::invalid(
                "message",
                &empty,
                format!("can have at most {NOTE_LENGTH_LIMIT} characters"),
            ));
        }
    }
    errors.extend(invalid_each(
        "namespace",
        event.namespace,
        is_dns1123_subdomain(event.namespace),
    ));
    errors
}

/// A core/v1 Event.
pub fn validate_core_event(event: &Value) -> Vec<FieldError> {
    let fields = EventFields {
        namespace: event
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        involved_namespace: event
            .pointer("/involvedObject/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        event_time_set: is_set(event, "eventTime"),
        reporting_controller: string_or_empty(event, "reportingComponent"),
        reporting_controller_field: "reportingComponent",
        reporting_instance: string_or_empty(event, "reportingInstance"),
        action: string_or_empty(event, "action"),
        reason: string_or_empty(event, "reason"),
        message: string_or_empty(event, "message"),
    };
    validate_event_common(&fields)
}

/// An events.k8s.io/v1 Event: the legacy rules, object metadata, and the
/// fields the new API requires or retires.
pub fn validate_events_v1_event(event: &Value) -> Vec<FieldError> {
    let fields = EventFields {
        namespace: event
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        involved_namespace: event
            .pointer("/regarding/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        event_time_set: is_set(event, "eventTime"),
        reporting_controller: string_or_empty(event, "reportingController"),
        reporting_controller_field: "reportingController",
        reporting_instance: string_or_empty(event, "reportingInstance"),
        action: string_or_empty(event, "action"),
        reason: string_or_empty(event, "reason"),
        message: string_or_empty(event, "note"),
    };
    let mut errors = validate_event_common(&fields);
    errors.extend(validate_object_meta(event, true, name_is_dns1123_subdomain));
    let empty = Value::from("");
    if !fields.event_time_set {
        errors.push(FieldError::required("eventTime", ""));
    }
    let kind = string_or_empty(event, "type");
    if kind != "Normal" && kind != "Warning" {
        errors.push(FieldError::invalid(
            "type",
            &empty,
            format!("has invalid value: {kind}"),
        ));
    }
    for (field, path) in [
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedSource", "source"),
    ] {
        let set = event
            .get(field)
            .is_some_and(|v| !v.is_null() && *v != serde_json::json!({}));
        if set {
            errors.push(FieldError::invalid(path, &empty, "needs to be unset"));
        }
    }
    if int_of(event, "deprecatedCount").unwrap_or(0) != 0 {
        errors.push(FieldError::invalid("count", &empty, "needs to be unset"));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::messages;
    use serde_json::json;

    #[test]
    fn should_require_namespace_names_to_be_dns_labels() {
        let ns = json!({"metadata": {"name": "my.space"}, "spec": {"finalizers": ["kubernetes"]}});
        assert_eq!(
            messages(validate_namespace(&ns)),
            vec!["metadata.name: Invalid value: \"my.space\": must not contain dots"]
        );
        assert!(validate_namespace(&json!({"metadata": {"name": "my-test-space"}})).is_empty());
    }

    #[test]
    fn should_check_config_map_keys() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"good.key": "1", "bad/key": "2"}});
        assert_eq!(
            messages(validate_config_map(&cm)),
            vec!["data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
        );
    }

    #[test]
    fn should_freeze_the_data_of_an_immutable_config_map() {
        let old = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": true});
        let new = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "2"}});
        assert_eq!(
            messages(validate_config_map_update(&new, &old)),
            vec![
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
    }

    #[test]
    fn should_check_secret_values_are_base64() {
        let secret = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"ok": "aGVsbG8=", "bad": "not base64!"}});
        assert_eq!(
            messages(validate_secret(&secret)),
            vec!["data[bad]: Invalid value: \"<secret contents redacted>\": illegal base64 data at input byte 3"]
        );
    }

    #[test]
    fn should_require_the_keys_of_a_tls_secret_and_keep_its_type() {
        let secret = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {}});
        assert_eq!(
            messages(validate_secret(&secret)),
            vec![
                "data[tls.crt]: Required value",
                "data[tls.key]: Required value"
            ]
        );
        let old = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"});
        let new = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/basic-auth", "data": {"username": "YQ=="}});
        assert_eq!(
            messages(validate_secret_update(&new, &old)),
            vec!["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]
        );
    }

    #[test]
    fn should_decode_base64_as_go_does() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(
            decode_base64("aGVsbG8").unwrap_err(),
            "illegal base64 data at input byte 4"
        );
        assert_eq!(
            decode_base64("a=Vs").unwrap_err(),
            "illegal base64 data at input byte 1"
        );
    }

    #[test]
    fn should_check_node_taints_and_cidr_changes() {
        let node = json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}], "podCIDRs": ["10.42.0.0/24"]}});
        assert_eq!(
            messages(validate_node(&node)),
            vec!["metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""]
        );
        let old = json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.42.0.0/24"]}});
        let new = json!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.42.1.0/24"]}});
        assert_eq!(
            messages(validate_node_update(&new, &old)),
            vec!["spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"]
        );
    }

    #[test]
    fn should_check_leases() {
        let lease = json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}});
        assert_eq!(
            messages(validate_lease(&lease)),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
    }

    #[test]
    fn should_check_event_namespaces() {
        let event = json!({"metadata": {"name": "web.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other"}, "reason": "Started"});
        assert_eq!(
            messages(validate_core_event(&event)),
            vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
        );
        let v1 = json!({"metadata": {"name": "web.1", "namespace": "default"}, "eventTime": "2024-01-01T00:00:00.000000Z",
                        "regarding": {"kind": "Pod", "namespace": "default"}, "reportingController": "skiff.dev/kubelet",
                        "reportingInstance": "node-1", "action": "Pulling", "reason": "Pulling", "type": "Normal"});
        assert!(validate_events_v1_event(&v1).is_empty());
    }
}
