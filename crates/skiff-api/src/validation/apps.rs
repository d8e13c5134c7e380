//! Deployment, ReplicaSet, StatefulSet and DaemonSet, as
//! `k8s.io/kubernetes/pkg/apis/apps/validation/validation.go` checks them, with the
//! selector immutability of `pkg/registry/apps/*/strategy.go`. The helpers for
//! selectors and templates serve Jobs too.

use serde_json::{Map, Value};

use super::meta::{
    has_no_requirements, invalid_selector, validate_label_selector, validate_object_meta,
    LabelSelector, SELECTOR_DOES_NOT_MATCH,
};
use super::names::{is_valid_percent, name_is_dns1123_label, name_is_dns1123_subdomain};
use super::pod::{validate_pod_template, validate_template_metadata};
use super::render::{go_int_or_string, go_quote, go_string_map, invalid_rendered};
use super::{
    child, int_of, is_set, object_of, semantically_equal, string_or_empty, validate_nonnegative,
    validate_nonnegative_fields, FIELD_IMMUTABLE,
};
use crate::field::{ErrorType, FieldError};
use crate::registry::Kind;

/// A workload's `spec`, or `null`.
pub(super) fn spec_of(obj: &Value) -> &Value {
    obj.get("spec").unwrap_or(&Value::Null)
}

/// The labels of a pod template, if any.
pub(super) fn template_labels(template: Option<&Value>) -> Option<&Map<String, Value>> {
    template
        .and_then(|t| t.get("metadata"))
        .and_then(|m| object_of(m, "labels"))
}

/// `spec.selector`, which must be set and valid.
pub(super) fn validate_required_selector(spec: &Value) -> Vec<FieldError> {
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => vec![FieldError::required("spec.selector", "")],
        Some(selector) => validate_label_selector(Some(selector), "spec.selector"),
    }
}

/// `empty selector is invalid for <word>`: a set selector without requirements
/// would select every pod of the namespace.
fn empty_selector_error(selector: Option<&Value>, word: &str) -> Option<FieldError> {
    let selector = selector.filter(|s| !s.is_null())?;
    has_no_requirements(selector).then(|| {
        invalid_selector(
            "spec.selector",
            selector,
            &format!("empty selector is invalid for {word}"),
        )
    })
}

/// `Invalid(spec.template.metadata.labels)` when the selector would not select the template.
pub(super) fn template_not_selected(
    selector: &LabelSelector,
    template: Option<&Value>,
    path: &str,
) -> Option<FieldError> {
    let labels = template_labels(template);
    (!selector.matches(labels)).then(|| {
        invalid_rendered(
            child(&child(path, "metadata"), "labels"),
            go_string_map(labels),
            SELECTOR_DOES_NOT_MATCH,
        )
    })
}

/// The selector, then `ValidatePodTemplateSpecForReplicaSet`, shared by
/// Deployments and ReplicaSets (hence "deployment" in the empty-selector message
/// and "in ReplicaSet" in the deadline message for both, as upstream).
fn validate_selector_and_template_for_replica_set(spec: &Value) -> Vec<FieldError> {
    let mut errors = validate_required_selector(spec);
    errors.extend(empty_selector_error(spec.get("selector"), "deployment"));
    let Some(selector) = LabelSelector::from_json(spec.get("selector")) else {
        errors.push(invalid_selector(
            "spec.selector",
            &spec["selector"],
            "invalid label selector",
        ));
        return errors;
    };
    let (template, path) = (spec.get("template"), "spec.template");
    if !selector.is_empty() {
        errors.extend(template_not_selected(&selector, template, path));
    }
    errors.extend(validate_pod_template(template, path));
    errors.extend(require_restart_always(template, "ReplicaSet"));
    errors
}

/// Controllers that keep pods running need `restartPolicy: Always` and no deadline.
fn require_restart_always(template: Option<&Value>, kind_word: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = template.and_then(|t| t.get("spec")).unwrap_or(&Value::Null);
    let policy = string_or_empty(spec, "restartPolicy");
    if policy != "Always" {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            &Value::from(policy),
            &["Always"],
        ));
    }
    if is_set(spec, "activeDeadlineSeconds") {
        errors.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {kind_word} is not Supported"),
        ));
    }
    errors
}

/// `ValidatePositiveIntOrPercent`.
fn validate_int_or_percent(value: Option<&Value>, path: &str) -> Vec<FieldError> {
    match value {
        Some(Value::String(text)) => is_valid_percent(text)
            .into_iter()
            .map(|m| invalid_rendered(path, go_int_or_string(value), m))
            .collect(),
        Some(number) => validate_nonnegative(number.as_i64(), path),
        None => Vec::new(),
    }
}

/// `getIntOrPercentValue`: the number, or the percentage without its sign.
fn int_or_percent_value(value: Option<&Value>) -> i64 {
    match value {
        Some(Value::String(text)) => text.trim_end_matches('%').parse().unwrap_or(0),
        Some(number) => number.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// `IsNotMoreThan100Percent`.
fn not_more_than_100_percent(value: Option<&Value>, path: &str) -> Option<FieldError> {
    let Some(Value::String(text)) = value else {
        return None;
    };
    let percent: i64 = text.strip_suffix('%')?.parse().ok()?;
    (percent > 100).then(|| {
        invalid_rendered(
            path,
            go_int_or_string(value),
            "must not be greater than 100%",
        )
    })
}

/// `ValidateDeployment`.
pub fn validate_deployment(obj: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(obj, true, name_is_dns1123_subdomain);
    let spec = spec_of(obj);
    errors.extend(validate_nonnegative_fields(spec, "spec", &["replicas"]));
    errors.extend(validate_selector_and_template_for_replica_set(spec));
    errors.extend(validate_deployment_strategy(
        spec.get("strategy").unwrap_or(&Value::Null),
    ));
    errors.extend(validate_nonnegative_fields(
        spec,
        "spec",
        &["minReadySeconds", "revisionHistoryLimit"],
    ));
    if let Some(deadline) = int_of(spec, "progressDeadlineSeconds") {
        errors.extend(validate_nonnegative(
            Some(deadline),
            "spec.progressDeadlineSeconds",
        ));
        if deadline <= int_of(spec, "minReadySeconds").unwrap_or(0) {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                &Value::from(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

/// `ValidateDeploymentStrategy` and `ValidateRollingUpdateDeployment`.
fn validate_deployment_strategy(strategy: &Value) -> Vec<FieldError> {
    let path = "spec.strategy";
    let rolling_update = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match string_or_empty(strategy, "type") {
        "Recreate" => match rolling_update {
            Some(_) => vec![FieldError::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )],
            None => Vec::new(),
        },
        "RollingUpdate" => {
            let Some(rolling_update) = rolling_update else {
                return vec![FieldError::required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")];
            };
            let (unavailable, surge) = (rolling_update.get("maxUnavailable"), rolling_update.get("maxSurge"));
            let unavailable_path = "spec.strategy.rollingUpdate.maxUnavailable";
            let mut errors = validate_int_or_percent(unavailable, unavailable_path);
            errors.extend(validate_int_or_percent(surge, "spec.strategy.rollingUpdate.maxSurge"));
            if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                errors.push(invalid_rendered(unavailable_path, go_int_or_string(unavailable), "may not be 0 when `maxSurge` is 0"));
            }
            errors.extend(not_more_than_100_percent(unavailable, unavailable_path));
            errors
        }
        other => vec![FieldError {
            kind: ErrorType::NotSupported,
            field: path.to_string(),
            value: Some(format!(
                "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}",
                go_quote(other)
            )),
            detail: "supported values: \"Recreate\", \"RollingUpdate\"".to_string(),
        }],
    }
}

/// `ValidateReplicaSet` (its empty-selector message says "deployment", as upstream's does).
pub fn validate_replica_set(obj: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(obj, true, name_is_dns1123_subdomain);
    let spec = spec_of(obj);
    errors.extend(validate_nonnegative_fields(
        spec,
        "spec",
        &["replicas", "minReadySeconds"],
    ));
    errors.extend(validate_selector_and_template_for_replica_set(spec));
    errors
}

/// `ValidateStatefulSet`. Upstream checks only the template's metadata, not its
/// pod spec (see the TODO in `ValidatePodTemplateSpecForStatefulSet`).
pub fn validate_stateful_set(obj: &Value) -> Vec<FieldError> {
    // Pods are named `<name>-<ordinal>` and those names are hostnames: a DNS label.
    let mut errors = validate_object_meta(obj, true, name_is_dns1123_label);
    let spec = spec_of(obj);
    match string_or_empty(spec, "podManagementPolicy") {
        "" => errors.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errors.push(FieldError::invalid(
            "spec.podManagementPolicy",
            &Value::from(other),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    let rolling_update = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match string_or_empty(strategy, "type") {
        "" => errors.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if rolling_update.is_some() {
                errors.push(invalid_rendered(
                    "spec.updateStrategy.rollingUpdate",
                    "apps.RollingUpdateStatefulSetStrategy{…}".to_string(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(rolling_update) = rolling_update {
                let path = "spec.updateStrategy.rollingUpdate";
                errors.extend(validate_nonnegative(int_of(rolling_update, "partition"), &child(path, "partition")));
                if let Some(max_unavailable) = rolling_update.get("maxUnavailable").filter(|m| !m.is_null()) {
                    let max_path = child(path, "maxUnavailable");
                    errors.extend(validate_int_or_percent(Some(max_unavailable), &max_path));
                    if int_or_percent_value(Some(max_unavailable)) == 0 {
                        errors.push(invalid_rendered(&max_path, go_int_or_string(Some(max_unavailable)), "cannot be 0"));
                    }
                    errors.extend(not_more_than_100_percent(Some(max_unavailable), &max_path));
                }
            }
        }
        other => errors.push(invalid_rendered(
            "spec.updateStrategy",
            format!("apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}}", go_quote(other)),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .filter(|p| !p.is_null())
    {
        for field in ["whenDeleted", "whenScaled"] {
            let value = string_or_empty(policy, field);
            if value != "Retain" && value != "Delete" {
                errors.push(FieldError::not_supported(
                    child("spec.persistentVolumeClaimRetentionPolicy", field),
                    &Value::from(value),
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errors.extend(validate_nonnegative_fields(
        spec,
        "spec",
        &["replicas", "minReadySeconds"],
    ));
    if let Some(ordinals) = spec.get("ordinals") {
        errors.extend(validate_nonnegative_fields(
            ordinals,
            "spec.ordinals",
            &["start"],
        ));
    }
    errors.extend(validate_required_selector(spec));
    errors.extend(empty_selector_error(spec.get("selector"), "statefulset"));
    match LabelSelector::from_json(spec.get("selector")) {
        None => errors.push(invalid_selector("spec.selector", &spec["selector"], "")),
        Some(selector) => {
            let template = spec.get("template");
            if !selector.is_empty() {
                errors.extend(template_not_selected(&selector, template, "spec.template"));
            }
            errors.extend(validate_template_metadata(
                template.unwrap_or(&Value::Null),
                "spec.template",
            ));
        }
    }
    errors.extend(require_restart_always(spec.get("template"), "StatefulSet"));
    errors
}

/// `ValidateStatefulSetUpdate`: only some of a StatefulSet's spec may change.
pub fn validate_stateful_set_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_stateful_set(new);
    let mutable = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let without_mutable = |obj: &Value| {
        let mut spec = spec_of(obj).clone();
        if let Some(map) = spec.as_object_mut() {
            map.retain(|k, _| !mutable.contains(&k.as_str()));
        }
        spec
    };
    if !semantically_equal(&without_mutable(new), &without_mutable(old)) {
        errors.push(FieldError::forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
    errors
}

/// `ValidateDaemonSet`. A missing selector selects nothing, so upstream reports
/// it as a template its selector does not match.
pub fn validate_daemon_set(obj: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(obj, true, name_is_dns1123_subdomain);
    let spec = spec_of(obj);
    let selector_json = spec.get("selector").filter(|s| !s.is_null());
    errors.extend(validate_label_selector(selector_json, "spec.selector"));
    if let Some(selector) = LabelSelector::from_json(selector_json) {
        errors.extend(template_not_selected(
            &selector,
            spec.get("template"),
            "spec.template",
        ));
    }
    errors.extend(empty_selector_error(selector_json, "daemonset"));
    errors.extend(validate_pod_template(spec.get("template"), "spec.template"));
    errors.extend(require_restart_always(spec.get("template"), "DaemonSet"));
    errors.extend(validate_nonnegative_fields(
        spec,
        "spec",
        &["minReadySeconds", "templateGeneration"],
    ));
    errors.extend(validate_daemon_set_update_strategy(
        spec.get("updateStrategy").unwrap_or(&Value::Null),
    ));
    errors.extend(validate_nonnegative_fields(
        spec,
        "spec",
        &["revisionHistoryLimit"],
    ));
    errors
}

/// `ValidateDaemonSetUpdateStrategy` and `ValidateRollingUpdateDaemonSet`.
fn validate_daemon_set_update_strategy(strategy: &Value) -> Vec<FieldError> {
    let path = "spec.updateStrategy";
    match string_or_empty(strategy, "type") {
        "OnDelete" => Vec::new(),
        "RollingUpdate" => {
            let Some(rolling_update) = strategy.get("rollingUpdate").filter(|r| !r.is_null()) else {
                return vec![FieldError::required("spec.updateStrategy.rollingUpdate", "")];
            };
            let (unavailable, surge) = (rolling_update.get("maxUnavailable"), rolling_update.get("maxSurge"));
            let unavailable_path = "spec.updateStrategy.rollingUpdate.maxUnavailable";
            let surge_path = "spec.updateStrategy.rollingUpdate.maxSurge";
            let mut errors = validate_int_or_percent(unavailable, unavailable_path);
            errors.extend(validate_int_or_percent(surge, surge_path));
            errors.extend(not_more_than_100_percent(unavailable, unavailable_path));
            errors.extend(not_more_than_100_percent(surge, surge_path));
            match (int_or_percent_value(unavailable) != 0, int_or_percent_value(surge) != 0) {
                (true, true) => errors.push(invalid_rendered(
                    surge_path,
                    go_int_or_string(surge),
                    "may not be set when maxUnavailable is non-zero",
                )),
                (false, false) => errors.push(FieldError::required(unavailable_path, "cannot be 0 when maxSurge is 0")),
                _ => {}
            }
            errors
        }
        other => vec![FieldError {
            kind: ErrorType::NotSupported,
            field: path.to_string(),
            value: Some(format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}",
                go_quote(other)
            )),
            detail: "supported values: \"RollingUpdate\", \"OnDelete\"".to_string(),
        }],
    }
}

/// Deployments, ReplicaSets and DaemonSets: the create rules, and a selector
/// that never changes (`pkg/registry/apps/*/strategy.go` `ValidateUpdate`).
pub fn validate_selector_update(kind: Kind, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = super::validate_create(kind, new);
    errors.extend(selector_immutable(new, old));
    errors
}

pub(super) fn selector_immutable(new: &Value, old: &Value) -> Option<FieldError> {
    let (new_selector, old_selector) = (spec_of(new).get("selector"), spec_of(old).get("selector"));
    let same = semantically_equal(
        new_selector.unwrap_or(&Value::Null),
        old_selector.unwrap_or(&Value::Null),
    );
    (!same).then(|| match new_selector.filter(|s| !s.is_null()) {
        Some(selector) => invalid_selector("spec.selector", selector, FIELD_IMMUTABLE),
        None => invalid_rendered("spec.selector", "\"null\"".to_string(), FIELD_IMMUTABLE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::{messages, pod_template};
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": pod_template(json!({"app": "web"}), "Always"),
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600
            }
        })
    }

    #[test]
    fn should_accept_a_defaulted_deployment() {
        assert_eq!(
            messages(validate_deployment(&deployment())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn should_refuse_a_template_the_selector_does_not_match() {
        let mut d = deployment();
        d["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
        assert_eq!(
            messages(validate_deployment(&d)),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn should_require_a_selector_as_upstream_reports_it() {
        let mut d = deployment();
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            messages(validate_deployment(&d)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            ]
        );
        d["spec"]["selector"] = json!({});
        assert_eq!(
            messages(validate_deployment(&d)),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
        );
    }

    #[test]
    fn should_refuse_negative_replicas() {
        let mut d = deployment();
        d["spec"]["replicas"] = json!(-1);
        assert_eq!(
            messages(validate_deployment(&d)),
            vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn should_refuse_max_surge_and_max_unavailable_both_zero() {
        let mut d = deployment();
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": "0%"});
        assert_eq!(
            messages(validate_deployment(&d)),
            vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0"]
        );
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 1, "maxUnavailable": "120%"});
        assert_eq!(
            messages(validate_deployment(&d)),
            vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"120%\"}: must not be greater than 100%"]
        );
    }

    #[test]
    fn should_forbid_rolling_update_parameters_with_recreate() {
        let mut d = deployment();
        d["spec"]["strategy"]["type"] = json!("Recreate");
        assert_eq!(
            messages(validate_deployment(&d)),
            vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
        );
    }

    #[test]
    fn should_require_restart_always_for_replica_sets() {
        let mut d = deployment();
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            messages(validate_deployment(&d)),
            vec!["spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""]
        );
    }

    #[test]
    fn should_refuse_changing_a_deployment_selector() {
        let old = deployment();
        let mut new = deployment();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "v": "2"}});
        new["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "v": "2"});
        assert_eq!(
            messages(validate_selector_update(Kind::Deployment, &new, &old)),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
        );
    }

    #[test]
    fn should_validate_stateful_sets_and_forbid_other_spec_changes() {
        let sts = json!({
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}}, "template": pod_template(json!({"app": "db"}), "Always"),
                     "serviceName": "db", "podManagementPolicy": "OrderedReady",
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}, "revisionHistoryLimit": 10}
        });
        assert_eq!(messages(validate_stateful_set(&sts)), Vec::<String>::new());
        let mut changed = sts.clone();
        changed["spec"]["serviceName"] = json!("other");
        assert_eq!(
            messages(validate_stateful_set_update(&changed, &sts)),
            vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
        );
        let mut scaled = sts.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(validate_stateful_set_update(&scaled, &sts).is_empty());
    }

    #[test]
    fn should_name_the_kind_when_refusing_an_empty_selector() {
        let mut sts = json!({
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"replicas": 1, "selector": {}, "template": pod_template(json!({"app": "db"}), "Always"),
                     "serviceName": "db", "podManagementPolicy": "OrderedReady",
                     "updateStrategy": {"type": "OnDelete"}}
        });
        assert_eq!(
            messages(validate_stateful_set(&sts)),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset"]
        );
        sts["spec"]["selector"] = json!(null);
        assert_eq!(
            messages(validate_stateful_set(&sts)),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`",
            ]
        );
        let ds = json!({
            "metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {}}, "template": pod_template(json!({"app": "agent"}), "Always"),
                     "updateStrategy": {"type": "OnDelete"}}
        });
        assert_eq!(
            messages(validate_daemon_set(&ds)),
            vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset"]
        );
    }

    #[test]
    fn should_check_daemon_set_strategies() {
        let mut ds = json!({
            "metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": pod_template(json!({"app": "agent"}), "Always"),
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}, "revisionHistoryLimit": 10}
        });
        assert_eq!(messages(validate_daemon_set(&ds)), Vec::<String>::new());
        ds["spec"]["updateStrategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 0});
        assert_eq!(
            messages(validate_daemon_set(&ds)),
            vec!["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]
        );
        ds["spec"].as_object_mut().unwrap().remove("selector");
        ds["spec"]["updateStrategy"]["rollingUpdate"] = json!({"maxUnavailable": 1, "maxSurge": 0});
        assert_eq!(
            messages(validate_daemon_set(&ds)),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"agent\"}: `selector` does not match template `labels`"]
        );
    }
}
