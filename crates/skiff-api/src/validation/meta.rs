//! Object metadata, labels, annotations and label selectors, as
//! `k8s.io/apimachinery/pkg/api/validation/objectmeta.go` and
//! `pkg/apis/meta/v1/validation/validation.go` check them.

use serde_json::{Map, Value};

use super::names::{is_dns1123_label, is_qualified_name, is_valid_label_value};
use super::render::{go_label_selector, invalid_rendered, too_long};
use super::{
    array_of, child, field_or_null, index, int_of, invalid_each, str_of, validate_immutable,
    validate_nonnegative,
};
use crate::field::FieldError;

/// The total size of a metadata's annotations, keys and values: 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

/// A name rule: upstream's `ValidateNameFunc(name, prefix)`.
pub type NameRule = fn(&str, bool) -> Vec<String>;

/// Finalizers that need no domain prefix (`helper.IsStandardFinalizerName`).
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// `ValidateObjectMeta`: name (or generateName), namespace, labels, annotations,
/// owner references and finalizers.
pub fn validate_object_meta(obj: &Value, namespaced: bool, name_rule: NameRule) -> Vec<FieldError> {
    let meta = obj.get("metadata").unwrap_or(&Value::Null);
    let mut errors = Vec::new();
    let name = str_of(meta, "name").unwrap_or_default();
    let generate_name = str_of(meta, "generateName").unwrap_or_default();
    if !generate_name.is_empty() {
        errors.extend(invalid_each(
            "metadata.generateName",
            generate_name,
            name_rule(generate_name, true),
        ));
    }
    if name.is_empty() {
        // The server generates a name from generateName before it validates; if it
        // has not yet, the prefix was checked above.
        if generate_name.is_empty() {
            errors.push(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        errors.extend(invalid_each("metadata.name", name, name_rule(name, false)));
    }

    let namespace = str_of(meta, "namespace").unwrap_or_default();
    if namespaced {
        if namespace.is_empty() {
            errors.push(FieldError::required("metadata.namespace", ""));
        } else {
            errors.extend(invalid_each(
                "metadata.namespace",
                namespace,
                is_dns1123_label(namespace),
            ));
        }
    } else if !namespace.is_empty() {
        errors.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }

    errors.extend(validate_nonnegative(
        int_of(meta, "generation"),
        "metadata.generation",
    ));
    errors.extend(validate_labels(
        meta.get("labels").and_then(Value::as_object),
        "metadata.labels",
    ));
    errors.extend(validate_annotations(
        meta.get("annotations").and_then(Value::as_object),
        "metadata.annotations",
    ));
    errors.extend(validate_owner_references(array_of(meta, "ownerReferences")));
    errors.extend(validate_finalizers(array_of(meta, "finalizers")));
    errors
}

/// `ValidateObjectMetaUpdate`: what every update must keep (name, namespace, uid,
/// creation time) and a generation that does not go back.
pub fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let new_meta = new.get("metadata").unwrap_or(&Value::Null);
    let old_meta = old.get("metadata").unwrap_or(&Value::Null);
    let mut errors = Vec::new();
    if let (Some(n), Some(o)) = (
        int_of(new_meta, "generation"),
        int_of(old_meta, "generation"),
    ) {
        if n < o {
            errors.push(FieldError::invalid(
                "metadata.generation",
                &Value::from(n),
                "must not be decremented",
            ));
        }
    }
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        let (n, o) = (
            field_or_null(new_meta, field),
            field_or_null(old_meta, field),
        );
        // An update that omits a server-set field keeps the stored one; only a
        // different value is a change.
        if !n.is_null() && !o.is_null() {
            errors.extend(validate_immutable(n, o, &child("metadata", field)));
        }
    }
    errors
}

/// `ValidateLabels`: every key a qualified name, every value a label value. Both
/// kinds of error are reported on the map's path, as upstream does.
pub fn validate_labels(labels: Option<&Map<String, Value>>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(labels) = labels else {
        return errors;
    };
    let mut keys: Vec<&String> = labels.keys().collect();
    keys.sort();
    for k in keys {
        errors.extend(invalid_each(path, k, is_qualified_name(k)));
        let value = labels[k].as_str().unwrap_or_default();
        errors.extend(invalid_each(path, value, is_valid_label_value(value)));
    }
    errors
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive) and the
/// whole map stays under 256 KiB.
pub fn validate_annotations(
    annotations: Option<&Map<String, Value>>,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(annotations) = annotations else {
        return errors;
    };
    let mut keys: Vec<&String> = annotations.keys().collect();
    keys.sort();
    let mut total = 0;
    for k in keys {
        errors.extend(invalid_each(path, k, is_qualified_name(&k.to_lowercase())));
        total += k.len() + annotations[k].as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errors.push(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
    }
    errors
}

fn validate_owner_references(references: &[Value]) -> Vec<FieldError> {
    let path = "metadata.ownerReferences";
    let mut errors = Vec::new();
    let mut controller: Option<String> = None;
    for reference in references {
        let api_version = str_of(reference, "apiVersion").unwrap_or_default();
        let version = api_version.rsplit('/').next().unwrap_or_default();
        if version.is_empty() {
            errors.push(FieldError::invalid(
                child(path, "apiVersion"),
                &Value::from(api_version),
                "version must not be empty",
            ));
        }
        for field in ["kind", "name", "uid"] {
            let value = str_of(reference, field).unwrap_or_default();
            if value.is_empty() {
                errors.push(FieldError::invalid(
                    child(path, field),
                    &Value::from(value),
                    "must not be empty",
                ));
            }
        }
        if api_version == "v1" && str_of(reference, "kind") == Some("Event") {
            errors.push(invalid_rendered(
                path,
                "v1.OwnerReference{…}".to_string(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if reference.get("controller").and_then(Value::as_bool) == Some(true) {
            let this = format!(
                "{}/{}",
                str_of(reference, "kind").unwrap_or_default(),
                str_of(reference, "name").unwrap_or_default()
            );
            match &controller {
                Some(first) => errors.push(invalid_rendered(
                    path,
                    "[]v1.OwnerReference{…}".to_string(),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"),
                )),
                None => controller = Some(this),
            }
        }
    }
    errors
}

/// `ValidateFinalizers` (qualified names, reported on the list) and core's
/// `validateKubeFinalizerName` (reported on each item).
fn validate_finalizers(finalizers: &[Value]) -> Vec<FieldError> {
    let path = "metadata.finalizers";
    let mut errors = Vec::new();
    let names: Vec<&str> = finalizers.iter().filter_map(Value::as_str).collect();
    for name in &names {
        errors.extend(invalid_each(path, name, is_qualified_name(name)));
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errors.push(invalid_rendered(
            path,
            super::render::go_string_slice(Some(&finalizers.to_vec())),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, name) in names.iter().enumerate() {
        errors.extend(validate_finalizer_name(name, &index(path, i)));
    }
    errors
}

/// Core's finalizer rule: a qualified name, and either a standard one or one
/// with a domain.
pub fn validate_finalizer_name(name: &str, path: &str) -> Vec<FieldError> {
    let mut errors = invalid_each(path, name, is_qualified_name(name));
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errors.push(FieldError::invalid(
            path,
            &Value::from(name),
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errors
}

/// `ValidateLabelSelector`: matchLabels as labels, each expression well formed.
pub fn validate_label_selector(selector: Option<&Value>, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return errors;
    };
    errors.extend(validate_labels(
        selector.get("matchLabels").and_then(Value::as_object),
        &child(path, "matchLabels"),
    ));
    for (i, requirement) in array_of(selector, "matchExpressions").iter().enumerate() {
        let req_path = index(&child(path, "matchExpressions"), i);
        let values = array_of(requirement, "values");
        let operator = str_of(requirement, "operator").unwrap_or_default();
        match operator {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errors.push(FieldError::required(
                        child(&req_path, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errors.push(FieldError::forbidden(
                        child(&req_path, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errors.push(FieldError::invalid(
                child(&req_path, "operator"),
                &Value::from(operator),
                "not a valid selector operator",
            )),
        }
        let key = str_of(requirement, "key").unwrap_or_default();
        errors.extend(invalid_each(
            &child(&req_path, "key"),
            key,
            is_qualified_name(key),
        ));
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or_default();
            errors.extend(invalid_each(
                &index(&child(&req_path, "values"), j),
                value,
                is_valid_label_value(value),
            ));
        }
    }
    errors
}

/// A label selector as `metav1.LabelSelectorAsSelector` builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSelector {
    /// A nil selector: matches nothing.
    Nothing,
    /// An empty selector: matches everything.
    Everything,
    /// Requirements that must all hold.
    Requirements(Vec<Requirement>),
}

/// One requirement of a [`LabelSelector`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// The operators of a set-based requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Builds the selector of a `metav1.LabelSelector` JSON value (absent or
    /// `null` is the nil selector); `None` when upstream's conversion fails.
    pub fn from_json(selector: Option<&Value>) -> Option<LabelSelector> {
        let Some(selector) = selector.filter(|s| !s.is_null()) else {
            return Some(LabelSelector::Nothing);
        };
        if has_no_requirements(selector) {
            return Some(LabelSelector::Everything);
        }
        let match_labels = selector.get("matchLabels").and_then(Value::as_object);
        let expressions = array_of(selector, "matchExpressions");
        let mut requirements = Vec::new();
        for (k, v) in match_labels.into_iter().flatten() {
            let value = v.as_str()?;
            if !is_qualified_name(k).is_empty() || !is_valid_label_value(value).is_empty() {
                return None;
            }
            requirements.push(Requirement {
                key: k.clone(),
                operator: Operator::In,
                values: vec![value.to_string()],
            });
        }
        for expression in expressions {
            let key = str_of(expression, "key")?;
            let values: Vec<String> = array_of(expression, "values")
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()?;
            let operator = match str_of(expression, "operator")? {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                _ => return None,
            };
            let values_fit = match operator {
                Operator::In | Operator::NotIn => !values.is_empty(),
                Operator::Exists | Operator::DoesNotExist => values.is_empty(),
            };
            if !values_fit
                || !is_qualified_name(key).is_empty()
                || values.iter().any(|v| !is_valid_label_value(v).is_empty())
            {
                return None;
            }
            requirements.push(Requirement {
                key: key.to_string(),
                operator,
                values,
            });
        }
        Some(LabelSelector::Requirements(requirements))
    }

    /// `selector.Empty()`: true only for the selector that matches everything.
    pub fn is_empty(&self) -> bool {
        *self == LabelSelector::Everything
    }

    /// Whether a set of labels satisfies the selector.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        match self {
            LabelSelector::Nothing => false,
            LabelSelector::Everything => true,
            LabelSelector::Requirements(requirements) => {
                requirements.iter().all(|r| match r.operator {
                    Operator::In => label(&r.key).is_some_and(|v| r.values.iter().any(|x| x == v)),
                    Operator::NotIn => {
                        label(&r.key).is_none_or(|v| !r.values.iter().any(|x| x == v))
                    }
                    Operator::Exists => label(&r.key).is_some(),
                    Operator::DoesNotExist => label(&r.key).is_none(),
                })
            }
        }
    }
}

/// Whether a `metav1.LabelSelector` has neither `matchLabels` nor
/// `matchExpressions`, and so selects everything.
pub fn has_no_requirements(selector: &Value) -> bool {
    selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && array_of(selector, "matchExpressions").is_empty()
}

/// The message every workload gives when its template would not be selected.
pub const SELECTOR_DOES_NOT_MATCH: &str = "`selector` does not match template `labels`";

/// `Invalid(path, selector, detail)` with the selector printed as Go does.
pub fn invalid_selector(path: &str, selector: &Value, detail: &str) -> FieldError {
    invalid_rendered(path, go_label_selector(selector), detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn subdomain(name: &str, prefix: bool) -> Vec<String> {
        super::super::names::name_is_dns1123_subdomain(name, prefix)
    }

    #[test]
    fn should_require_a_name_or_generate_name() {
        let errors = validate_object_meta(
            &json!({"metadata": {"namespace": "default"}}),
            true,
            subdomain,
        );
        assert_eq!(
            errors[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        let generated = json!({"metadata": {"generateName": "web-", "namespace": "default"}});
        assert!(validate_object_meta(&generated, true, subdomain).is_empty());
    }

    #[test]
    fn should_require_a_namespace_only_for_namespaced_kinds() {
        let errors = validate_object_meta(&json!({"metadata": {"name": "a"}}), true, subdomain);
        assert_eq!(errors[0].to_string(), "metadata.namespace: Required value");
        let errors = validate_object_meta(
            &json!({"metadata": {"name": "a", "namespace": "x"}}),
            false,
            subdomain,
        );
        assert_eq!(
            errors[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
    }

    #[test]
    fn should_report_bad_label_keys_and_values_on_the_labels_path() {
        let obj = json!({"metadata": {"name": "a", "namespace": "d", "labels": {"-k": "v", "k": "bad value"}}});
        let errors = validate_object_meta(&obj, true, subdomain);
        assert_eq!(errors.len(), 2);
        assert!(errors[0]
            .to_string()
            .starts_with("metadata.labels: Invalid value: \"-k\": name part must consist"));
        assert!(errors[1]
            .to_string()
            .starts_with("metadata.labels: Invalid value: \"bad value\": a valid label must"));
    }

    #[test]
    fn should_refuse_a_label_value_longer_than_63_characters() {
        let long = "a".repeat(64);
        let obj = json!({"metadata": {"name": "a", "namespace": "d", "labels": {"k": long}}});
        let errors = validate_object_meta(&obj, true, subdomain);
        assert_eq!(errors[0].detail, "must be no more than 63 characters");
    }

    #[test]
    fn should_limit_annotations_to_256_kib_in_total() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES);
        let obj = json!({"metadata": {"name": "a", "namespace": "d", "annotations": {"k": big}}});
        let errors = validate_object_meta(&obj, true, subdomain);
        assert_eq!(
            errors[0].to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn should_accept_annotation_keys_in_any_case() {
        let obj = json!({"metadata": {"name": "a", "namespace": "d", "annotations": {"Example.COM/Key": "v"}}});
        assert!(validate_object_meta(&obj, true, subdomain).is_empty());
    }

    #[test]
    fn should_refuse_a_finalizer_without_domain_that_is_not_standard() {
        let obj = json!({"metadata": {"name": "a", "namespace": "d", "finalizers": ["kubernetes", "mine"]}});
        let errors = validate_object_meta(&obj, true, subdomain);
        assert_eq!(
            errors[0].to_string(),
            "metadata.finalizers[1]: Invalid value: \"mine\": name is neither a standard finalizer name nor is it fully qualified"
        );
    }

    #[test]
    fn should_refuse_changing_the_name_or_uid() {
        let old = json!({"metadata": {"name": "a", "uid": "1"}});
        let new = json!({"metadata": {"name": "b", "uid": "2"}});
        let messages: Vec<String> = validate_object_meta_update(&new, &old)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            messages,
            vec![
                "metadata.name: Invalid value: \"b\": field is immutable",
                "metadata.uid: Invalid value: \"2\": field is immutable"
            ]
        );
    }

    #[test]
    fn should_check_selector_expressions() {
        let selector = json!({"matchExpressions": [{"key": "a", "operator": "In"}, {"key": "b", "operator": "Exists", "values": ["x"]}, {"key": "c", "operator": "Like"}]});
        let messages: Vec<String> = validate_label_selector(Some(&selector), "spec.selector")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            messages,
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "spec.selector.matchExpressions[2].operator: Invalid value: \"Like\": not a valid selector operator",
            ]
        );
    }

    #[test]
    fn should_match_labels_like_upstream_selectors() {
        let labels = json!({"app": "a", "env": "dev"});
        let labels = labels.as_object();
        let sel = |v: Value| LabelSelector::from_json(Some(&v)).unwrap();
        assert!(sel(json!({"matchLabels": {"app": "a"}})).matches(labels));
        assert!(!sel(json!({"matchLabels": {"app": "b"}})).matches(labels));
        assert!(sel(
            json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]})
        )
        .matches(labels));
        assert!(
            sel(json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}))
                .matches(labels)
        );
        assert!(sel(json!({})).is_empty());
        assert!(!LabelSelector::from_json(None).unwrap().matches(labels));
        assert!(
            LabelSelector::from_json(Some(&json!({"matchLabels": {"app": "bad value"}}))).is_none()
        );
    }
}
