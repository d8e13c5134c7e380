//! Pod updates: `ValidatePodUpdate` of `k8s.io/kubernetes/pkg/apis/core/validation/validation.go`.
//! A pod's spec is fixed once created, but for a few fields.

use std::collections::BTreeSet;

use serde_json::Value;

use super::names::inclusive_range_error;
use super::pod::validate_pod_metadata_and_spec;
use super::render::invalid_rendered;
use super::{array_of, child, index, int_of, semantically_equal, string_or_empty};
use crate::field::FieldError;

/// The fields a pod update may change, as upstream lists them in its refusal.
const UPDATABLE_POD_SPEC_FIELDS: &[&str] = &[
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

/// `ValidatePodUpdate`: a pod's spec is fixed once created, but for images, a
/// shorter deadline and added tolerations.
pub fn validate_pod_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_pod_metadata_and_spec(new);
    let new_spec = new.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.get("spec").unwrap_or(&Value::Null);

    for field in ["containers", "initContainers"] {
        let (new_containers, old_containers) =
            (array_of(new_spec, field), array_of(old_spec, field));
        let path = child("spec", field);
        if new_containers.len() != old_containers.len() {
            errors.push(FieldError::forbidden(
                path,
                "pod updates may not add or remove containers",
            ));
            return errors;
        }
        for (i, container) in new_containers.iter().enumerate() {
            let image = string_or_empty(container, "image");
            if image.is_empty() {
                errors.push(FieldError::required(child(&index(&path, i), "image"), ""));
            }
        }
    }

    let deadline_path = "spec.activeDeadlineSeconds";
    match (
        int_of(new_spec, "activeDeadlineSeconds"),
        int_of(old_spec, "activeDeadlineSeconds"),
    ) {
        (Some(new_deadline), old_deadline) => {
            if !(0..=i64::from(i32::MAX)).contains(&new_deadline) {
                errors.push(FieldError::invalid(
                    deadline_path,
                    &Value::from(new_deadline),
                    inclusive_range_error(0, i64::from(i32::MAX)),
                ));
                return errors;
            }
            if old_deadline.is_some_and(|old| old < new_deadline) {
                errors.push(FieldError::invalid(
                    deadline_path,
                    &Value::from(new_deadline),
                    "must be less than or equal to previous value",
                ));
                return errors;
            }
        }
        (None, Some(_)) => errors.push(invalid_rendered(
            deadline_path,
            "\"null\"".to_string(),
            "must not update from a positive integer to nil value",
        )),
        (None, None) => {}
    }

    errors.extend(validate_only_added_tolerations(
        array_of(new_spec, "tolerations"),
        array_of(old_spec, "tolerations"),
    ));

    if semantically_equal(new_spec, old_spec) {
        return errors;
    }
    // Put back what may change, then anything left over is a forbidden change.
    let mut munged = new_spec.clone();
    for field in ["containers", "initContainers"] {
        if let Some(containers) = munged.get_mut(field).and_then(Value::as_array_mut) {
            for (container, old_container) in containers.iter_mut().zip(array_of(old_spec, field)) {
                container["image"] = old_container.get("image").cloned().unwrap_or(Value::Null);
            }
        }
    }
    for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
        match old_spec.get(field) {
            Some(value) => munged[field] = value.clone(),
            None => {
                if let Some(map) = munged.as_object_mut() {
                    map.remove(field);
                }
            }
        }
    }
    let old_grace = int_of(old_spec, "terminationGracePeriodSeconds");
    if old_grace.is_some_and(|g| g < 0)
        && int_of(&munged, "terminationGracePeriodSeconds") == Some(1)
    {
        munged["terminationGracePeriodSeconds"] = Value::from(old_grace);
    }
    if !semantically_equal(&munged, old_spec) {
        let mut diff = String::new();
        describe_differences(old_spec, &munged, "spec", &mut diff);
        errors.push(FieldError::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {}\n{diff}",
                UPDATABLE_POD_SPEC_FIELDS.join(",")
            ),
        ));
    }
    errors
}

/// `validateOnlyAddedTolerations`: existing tolerations stay, but for their seconds.
fn validate_only_added_tolerations(new: &[Value], old: &[Value]) -> Vec<FieldError> {
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        if let Some(map) = t.as_object_mut() {
            map.remove("tolerationSeconds");
        }
        t
    };
    for old_toleration in old {
        let kept = new
            .iter()
            .any(|n| semantically_equal(&without_seconds(n), &without_seconds(old_toleration)));
        if !kept {
            return vec![FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    Vec::new()
}

/// A short account of what differs, standing in for upstream's `cmp.Diff`.
fn describe_differences(old: &Value, new: &Value, path: &str, out: &mut String) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                if !semantically_equal(x, y) {
                    describe_differences(x, y, &child(path, k), out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if !semantically_equal(x, y) {
                    describe_differences(x, y, &index(path, i), out);
                }
            }
        }
        _ => {
            out.push_str(&format!("- {path}: {old}\n+ {path}: {new}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::{defaulted_pod_spec, messages, pod};
    use serde_json::json;

    #[test]
    fn should_allow_an_image_update() {
        let old = pod(defaulted_pod_spec());
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:1.26");
        new["spec"]["activeDeadlineSeconds"] = json!(100);
        assert_eq!(
            messages(validate_pod_update(&new, &old)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn should_refuse_other_pod_spec_changes_with_the_upstream_sentence() {
        let old = pod(defaulted_pod_spec());
        let mut new = old.clone();
        new["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(81);
        let errors = validate_pod_update(&new, &old);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().starts_with(
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
        ));
        assert!(errors[0]
            .detail
            .contains("spec.containers[0].ports[0].containerPort: 80"));
    }

    #[test]
    fn should_refuse_adding_a_container_or_removing_a_toleration() {
        let old = pod(defaulted_pod_spec());
        let mut new = old.clone();
        new["spec"]["tolerations"] = json!([]);
        assert_eq!(
            messages(validate_pod_update(&new, &old)),
            vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]
        );
        let mut added = old.clone();
        let mut extra = added["spec"]["containers"][0].clone();
        extra["name"] = json!("b");
        added["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(extra);
        assert_eq!(
            messages(validate_pod_update(&added, &old))[0],
            "spec.containers: Forbidden: pod updates may not add or remove containers"
        );
    }

    #[test]
    fn should_refuse_a_longer_deadline() {
        let mut old = pod(defaulted_pod_spec());
        old["spec"]["activeDeadlineSeconds"] = json!(10);
        let mut new = old.clone();
        new["spec"]["activeDeadlineSeconds"] = json!(20);
        assert_eq!(
            messages(validate_pod_update(&new, &old)),
            vec!["spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"]
        );
    }
}
