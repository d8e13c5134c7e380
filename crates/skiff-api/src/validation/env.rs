//! Environment variables of a container (`ValidateEnv`, `ValidateEnvFrom` in
//! `k8s.io/kubernetes/pkg/apis/core/validation/validation.go`).

use serde_json::Value;

use super::names::{
    is_config_map_key, is_qualified_name, is_relaxed_env_var_name, name_is_dns1123_subdomain,
};
use super::{child, index, invalid_each, string_or_empty};
use crate::field::FieldError;

/// Fields `env[].valueFrom.fieldRef` may point at (`validEnvDownwardAPIFieldPathExpressions`, sorted).
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Resources `resourceFieldRef` may expose (`validContainerResourceFieldPathExpressions`, sorted).
const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// `ValidateEnv`.
pub fn validate_env(vars: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let var_path = index(path, i);
        let name = string_or_empty(var, "name");
        if name.is_empty() {
            errors.push(FieldError::required(child(&var_path, "name"), ""));
        } else {
            errors.extend(invalid_each(
                &child(&var_path, "name"),
                name,
                is_relaxed_env_var_name(name),
            ));
        }
        if let Some(value_from) = var.get("valueFrom").filter(|v| !v.is_null()) {
            errors.extend(validate_env_value_from(
                value_from,
                !string_or_empty(var, "value").is_empty(),
                &child(&var_path, "valueFrom"),
            ));
        }
    }
    errors
}

fn validate_env_value_from(value_from: &Value, has_value: bool, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut sources = 0;
    if let Some(field_ref) = value_from.get("fieldRef").filter(|v| !v.is_null()) {
        sources += 1;
        errors.extend(validate_object_field_selector(
            field_ref,
            &child(path, "fieldRef"),
        ));
    }
    if let Some(resource_ref) = value_from.get("resourceFieldRef").filter(|v| !v.is_null()) {
        sources += 1;
        let resource_path = child(path, "resourceFieldRef");
        match string_or_empty(resource_ref, "resource") {
            "" => errors.push(FieldError::required(child(&resource_path, "resource"), "")),
            resource if RESOURCE_FIELD_PATHS.contains(&resource) => {}
            resource
                if resource.starts_with("requests.hugepages-")
                    || resource.starts_with("limits.hugepages-") => {}
            resource => errors.push(FieldError::not_supported(
                child(&resource_path, "resource"),
                &Value::from(resource),
                RESOURCE_FIELD_PATHS,
            )),
        }
    }
    for source in ["configMapKeyRef", "secretKeyRef"] {
        if let Some(selector) = value_from.get(source).filter(|v| !v.is_null()) {
            sources += 1;
            let selector_path = child(path, source);
            let name = string_or_empty(selector, "name");
            errors.extend(invalid_each(
                &child(&selector_path, "name"),
                name,
                name_is_dns1123_subdomain(name, false),
            ));
            match string_or_empty(selector, "key") {
                "" => errors.push(FieldError::required(child(&selector_path, "key"), "")),
                key => errors.extend(invalid_each(
                    &child(&selector_path, "key"),
                    key,
                    is_config_map_key(key),
                )),
            }
        }
    }
    let empty = Value::from("");
    if sources == 0 {
        errors.push(FieldError::invalid(
            path,
            &empty,
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if has_value {
        errors.push(FieldError::invalid(
            path,
            &empty,
            "may not be specified when `value` is not empty",
        ));
    } else if sources > 1 {
        errors.push(FieldError::invalid(
            path,
            &empty,
            "may not have more than one field specified at a time",
        ));
    }
    errors
}

/// `validateObjectFieldSelector` for environment variables.
fn validate_object_field_selector(selector: &Value, path: &str) -> Vec<FieldError> {
    if string_or_empty(selector, "apiVersion").is_empty() {
        return vec![FieldError::required(child(path, "apiVersion"), "")];
    }
    let field_path = string_or_empty(selector, "fieldPath");
    if field_path.is_empty() {
        return vec![FieldError::required(child(path, "fieldPath"), "")];
    }
    // `metadata.labels['key']` and `metadata.annotations['key']` name one entry.
    if let Some((map, subscript)) = field_path
        .strip_suffix("']")
        .and_then(|p| p.split_once("['"))
    {
        return match map {
            "metadata.labels" => invalid_each(path, subscript, is_qualified_name(subscript)),
            "metadata.annotations" => invalid_each(
                path,
                subscript,
                is_qualified_name(&subscript.to_lowercase()),
            ),
            _ => vec![FieldError::invalid(
                path,
                &Value::from(map),
                "does not support subscript",
            )],
        };
    }
    if ENV_FIELD_PATHS.contains(&field_path) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(
            child(path, "fieldPath"),
            &Value::from(field_path),
            ENV_FIELD_PATHS,
        )]
    }
}

/// `ValidateEnvFrom`.
pub fn validate_env_from(sources: &[Value], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let source_path = index(path, i);
        let prefix = string_or_empty(source, "prefix");
        if !prefix.is_empty() {
            errors.extend(invalid_each(
                &child(&source_path, "prefix"),
                prefix,
                is_relaxed_env_var_name(prefix),
            ));
        }
        let mut count = 0;
        for reference in ["configMapRef", "secretRef"] {
            if let Some(r) = source.get(reference).filter(|v| !v.is_null()) {
                count += 1;
                let name_path = child(&child(&source_path, reference), "name");
                match string_or_empty(r, "name") {
                    "" => errors.push(FieldError::required(name_path, "")),
                    name => errors.extend(invalid_each(
                        &name_path,
                        name,
                        name_is_dns1123_subdomain(name, true),
                    )),
                }
            }
        }
        let empty = Value::from("");
        if count == 0 {
            errors.push(FieldError::invalid(
                path,
                &empty,
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errors.push(FieldError::invalid(
                path,
                &empty,
                "may not have more than one field specified at a time",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::messages;
    use serde_json::json;

    #[test]
    fn should_check_env_sources() {
        let env = json!([
            {"name": "A", "value": "x", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "B", "valueFrom": {}},
            {"name": "C", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.bogus"}}},
            {"name": "", "value": "x"},
            {"name": "D", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['app']"}}},
        ]);
        assert_eq!(
            messages(validate_env(env.as_array().unwrap(), "spec.containers[0].env")),
            vec![
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
                "spec.containers[0].env[1].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                "spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.bogus\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
                "spec.containers[0].env[3].name: Required value",
            ]
        );
    }

    #[test]
    fn should_accept_printable_env_names_and_check_key_refs() {
        let env = json!([
            {"name": "my.env-name", "value": "1"},
            {"name": "A=B", "value": "1"},
            {"name": "S", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pass/word"}}},
        ]);
        assert_eq!(
            messages(validate_env(env.as_array().unwrap(), "env")),
            vec![
                "env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "env[2].valueFrom.secretKeyRef.key: Invalid value: \"pass/word\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ]
        );
    }

    #[test]
    fn should_require_one_env_from_source() {
        let sources = json!([{"prefix": "P_"}, {"configMapRef": {"name": "cfg"}}]);
        assert_eq!(
            messages(validate_env_from(sources.as_array().unwrap(), "envFrom")),
            vec![
                "envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"
            ]
        );
    }
}
