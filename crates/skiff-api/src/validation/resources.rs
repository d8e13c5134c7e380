//! Compute resources of a container (`ValidateContainerResourceRequirements` in
//! `k8s.io/kubernetes/pkg/apis/core/validation/validation.go`): names, quantities,
//! and requests that stay within limits.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::names::is_qualified_name;
use super::{child, invalid_each, key, object_of, IS_NEGATIVE};
use crate::field::FieldError;
use crate::quantity::{Quantity, QUANTITY_FORMAT_ERROR};

/// Resource names a container may request without a domain.
fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Native resources are unprefixed or under `kubernetes.io/`; others are
/// extended resources, which cannot be overcommitted.
fn is_overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

/// `ValidateContainerResourceRequirements`: names, quantities, requests ≤ limits.
pub fn validate_resources(resources: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(resources) = resources else {
        return errors;
    };
    let limits = object_of(resources, "limits");
    let requests = object_of(resources, "requests");
    let limits_path = child(path, "limits");
    let requests_path = child(path, "requests");
    let parsed_limits = validate_resource_list(limits, &limits_path, &mut errors);
    let parsed_requests = validate_resource_list(requests, &requests_path, &mut errors);
    for (name, (text, request)) in &parsed_requests {
        match parsed_limits.get(name) {
            Some((limit_text, limit)) => {
                if request != limit && !is_overcommit_allowed(name) {
                    errors.push(FieldError::invalid(
                        &requests_path,
                        &Value::from(text.as_str()),
                        format!("must be equal to {name} limit of {limit_text}"),
                    ));
                } else if request > limit {
                    errors.push(FieldError::invalid(
                        &requests_path,
                        &Value::from(text.as_str()),
                        format!("must be less than or equal to {name} limit of {limit_text}"),
                    ));
                }
            }
            None if !is_overcommit_allowed(name) => {
                errors.push(FieldError::required(
                    &limits_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
    }
    errors
}

/// Checks one resource list and returns its quantities by resource name.
fn validate_resource_list(
    list: Option<&Map<String, Value>>,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, (String, Quantity)> {
    let mut parsed = BTreeMap::new();
    for (name, value) in list.into_iter().flatten() {
        let entry_path = key(path, name);
        let qualified = is_qualified_name(name);
        if !qualified.is_empty() {
            errors.extend(invalid_each(&entry_path, name, qualified));
        } else if !name.contains('/') && !is_standard_container_resource(name) {
            errors.push(FieldError::invalid(
                &entry_path,
                &Value::from(name.as_str()),
                "must be a standard resource for containers",
            ));
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match Quantity::parse(&text) {
            None => errors.push(FieldError::invalid(
                &entry_path,
                &Value::from(text.as_str()),
                QUANTITY_FORMAT_ERROR,
            )),
            Some(quantity) if quantity.is_negative() => {
                errors.push(FieldError::invalid(
                    &entry_path,
                    &Value::from(text.as_str()),
                    IS_NEGATIVE,
                ));
            }
            Some(quantity) => {
                parsed.insert(name.clone(), (text, quantity));
            }
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(resources: Value) -> Vec<String> {
        validate_resources(Some(&resources), "spec.containers[0].resources")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn should_refuse_requests_above_limits() {
        assert_eq!(
            check(json!({"limits": {"cpu": "250m"}, "requests": {"cpu": "1"}})),
            vec!["spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 250m"]
        );
        assert!(check(json!({"limits": {"cpu": "1", "memory": "100Mi"}, "requests": {"cpu": "0.1", "memory": "10Mi"}})).is_empty());
    }

    #[test]
    fn should_refuse_unknown_unprefixed_resources_and_bad_quantities() {
        assert_eq!(
            check(json!({"limits": {"gpu": "1", "memory": "lots", "cpu": "-1"}})),
            vec![
                "spec.containers[0].resources.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0".to_string(),
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers".to_string(),
                format!("spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": {QUANTITY_FORMAT_ERROR}"),
            ]
        );
    }

    #[test]
    fn should_require_equal_request_and_limit_for_extended_resources() {
        assert_eq!(
            check(json!({"limits": {"example.com/gpu": "2"}, "requests": {"example.com/gpu": "1"}})),
            vec!["spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2"]
        );
        assert_eq!(
            check(json!({"requests": {"example.com/gpu": "1"}})),
            vec!["spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"]
        );
    }
}
