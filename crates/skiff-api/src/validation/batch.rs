//! Job and CronJob, as `k8s.io/kubernetes/pkg/apis/batch/validation/validation.go`
//! checks them.

use serde_json::{Map, Value};

use super::apps::{
    selector_immutable, spec_of, template_labels, template_not_selected, validate_required_selector,
};
use super::cron::parse_standard_schedule;
use super::meta::{invalid_selector, validate_object_meta, LabelSelector};
use super::names::{is_dns1123_label, name_is_dns1123_subdomain};
use super::pod::validate_pod_template;
use super::render::{go_quote, go_string_map, invalid_rendered};
use super::{
    child, int_of, is_set, key, semantically_equal, str_of, string_or_empty,
    validate_nonnegative_fields, FIELD_IMMUTABLE,
};
use crate::defaults::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
use crate::field::FieldError;

/// `ValidateJob`: metadata, the generated selector and the spec.
pub fn validate_job(obj: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(obj, true, name_is_dns1123_subdomain);
    errors.extend(validate_generated_selector(obj));
    let spec = spec_of(obj);
    errors.extend(validate_job_spec(spec, "spec"));
    errors.extend(validate_required_selector(spec));
    if let Some(selector) = spec
        .get("selector")
        .and_then(|s| LabelSelector::from_json(Some(s)))
    {
        errors.extend(template_not_selected(
            &selector,
            spec.get("template"),
            "spec.template",
        ));
    }
    let indexed = str_of(spec, "completionMode") == Some("Indexed");
    if let (true, Some(completions)) = (indexed, int_of(spec, "completions").filter(|c| *c > 0)) {
        // An indexed Job's pods are `<name>-<index>`, a hostname.
        let name = metadata_str(obj, "name");
        let last_hostname = format!("{name}-{}", completions - 1);
        if !is_dns1123_label(&last_hostname).is_empty() {
            errors.push(FieldError::invalid(
                "metadata.name",
                &Value::from(name),
                format!("will not able to create pod with invalid DNS label: {last_hostname}"),
            ));
        }
    }
    errors
}

/// A string of the object's metadata, empty when absent (Go's zero value).
fn metadata_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .map_or("", |meta| string_or_empty(meta, field))
}

/// `validateGeneratedSelector`: unless `manualSelector`, the selector and the
/// template labels are the ones [`crate::defaults::job_selector_defaults`] generates.
fn validate_generated_selector(obj: &Value) -> Vec<FieldError> {
    let spec = spec_of(obj);
    let mut errors = Vec::new();
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return errors;
    }
    let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) else {
        return errors;
    };
    let uid = metadata_str(obj, "uid");
    let name = metadata_str(obj, "name");
    if uid.is_empty() {
        errors.push(FieldError::required("metadata.uid", ""));
    }
    let labels = template_labels(spec.get("template"));
    let labels_path = "spec.template.metadata.labels";
    for (label, expected) in [
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
    ] {
        match labels.and_then(|l| l.get(label)).and_then(Value::as_str) {
            None => errors.push(FieldError::required(
                key(labels_path, label),
                format!("must be '{expected}'"),
            )),
            Some(actual) if actual != expected => {
                errors.push(invalid_rendered(
                    key(labels_path, label),
                    go_string_map(labels),
                    format!("must be '{expected}'"),
                ));
            }
            Some(_) => {}
        }
    }
    let expected: Map<String, Value> = [
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::from(v)))
    .collect();
    if let Some(parsed) = LabelSelector::from_json(Some(selector)) {
        if !parsed.matches(Some(&expected)) {
            errors.push(invalid_selector(
                "spec.selector",
                selector,
                "`selector` not auto-generated",
            ));
        }
    }
    errors
}

/// `validateJobSpec`: what a Job and a CronJob's job template share.
fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = validate_nonnegative_fields(
        spec,
        path,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
        ],
    );
    if let Some(mode) = str_of(spec, "completionMode") {
        if mode != "NonIndexed" && mode != "Indexed" {
            errors.push(FieldError::not_supported(
                child(path, "completionMode"),
                &Value::from(mode),
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && !is_set(spec, "completions") {
            errors.push(FieldError::required(
                child(path, "completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    let has_failure_policy = is_set(spec, "podFailurePolicy");
    if let Some(policy) = str_of(spec, "podReplacementPolicy") {
        let replacement_path = child(path, "podReplacementPolicy");
        if has_failure_policy && policy != "Failed" {
            errors.push(FieldError::not_supported(
                replacement_path,
                &Value::from(policy),
                &["Failed"],
            ));
        } else if !has_failure_policy && policy != "Failed" && policy != "TerminatingOrFailed" {
            errors.push(FieldError::not_supported(
                replacement_path,
                &Value::from(policy),
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template_path = child(path, "template");
    errors.extend(validate_pod_template(spec.get("template"), &template_path));
    // Defaulting sets `Always` when the user sets nothing, hence "Required".
    let restart_path = child(&child(&template_path, "spec"), "restartPolicy");
    let restart = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match restart {
        "Always" | "" => errors.push(FieldError::required(
            restart_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {
            if has_failure_policy && restart != "Never" {
                errors.push(FieldError::invalid(
                    restart_path,
                    &Value::from(restart),
                    "only \"Never\" is supported when podFailurePolicy is specified",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            restart_path,
            &Value::from(other),
            &["OnFailure", "Never"],
        )),
    }
    errors
}

/// `ValidateJobUpdate`: the create rules, and the selector, completions and the
/// pod template that never change (but for scheduling directives of a Job that
/// is suspended and has not started).
pub fn validate_job_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = validate_job(new);
    let (new_spec, old_spec) = (spec_of(new), spec_of(old));
    let indexed = str_of(new_spec, "completionMode") == Some("Indexed");
    let (new_completions, old_completions) =
        (new_spec.get("completions"), old_spec.get("completions"));
    let completions_same = semantically_equal(
        new_completions.unwrap_or(&Value::Null),
        old_completions.unwrap_or(&Value::Null),
    );
    if !completions_same {
        if !indexed {
            errors.push(invalid_rendered(
                "spec.completions",
                render_optional_int(new_completions),
                FIELD_IMMUTABLE,
            ));
        } else if let Some(completions) = new_completions.and_then(Value::as_i64) {
            // Elastic indexed Jobs scale completions and parallelism together.
            if Some(completions) != int_of(new_spec, "parallelism") {
                errors.push(FieldError::invalid(
                    "spec.completions",
                    &Value::from(completions),
                    "can only be modified in tandem with spec.parallelism",
                ));
            }
        }
    }
    errors.extend(selector_immutable(new, old));

    let suspended_before_start = old_spec.get("suspend").and_then(Value::as_bool) == Some(true)
        && new_spec.get("suspend").and_then(Value::as_bool) == Some(true)
        && old.pointer("/status/startTime").is_none_or(Value::is_null);
    let mut old_template = old_spec.get("template").cloned().unwrap_or(Value::Null);
    let new_template = new_spec.get("template").cloned().unwrap_or(Value::Null);
    if suspended_before_start && old_template.is_object() {
        for pointer in [
            "/metadata/labels",
            "/metadata/annotations",
            "/spec/nodeSelector",
            "/spec/tolerations",
            "/spec/schedulingGates",
            "/spec/affinity",
        ] {
            let replacement = new_template
                .pointer(pointer)
                .cloned()
                .unwrap_or(Value::Null);
            let (parent, field) = pointer.rsplit_once('/').unwrap_or_default();
            if let Some(container) = old_template
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
            {
                container.insert(field.to_string(), replacement);
            }
        }
    }
    if !semantically_equal(&new_template, &old_template) {
        errors.push(invalid_rendered(
            "spec.template",
            "core.PodTemplateSpec{…}".to_string(),
            FIELD_IMMUTABLE,
        ));
    }
    for field in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        let (n, o) = (
            new_spec.get(field).unwrap_or(&Value::Null),
            old_spec.get(field).unwrap_or(&Value::Null),
        );
        if !semantically_equal(n, o) {
            let rendered = match n {
                Value::Null => "\"null\"".to_string(),
                Value::String(s) => go_quote(s),
                other => other.to_string(),
            };
            errors.push(invalid_rendered(
                child("spec", field),
                rendered,
                FIELD_IMMUTABLE,
            ));
        }
    }
    errors
}

/// A `*int32` as the error printer shows it: the number, or `"null"`.
fn render_optional_int(value: Option<&Value>) -> String {
    match value.and_then(Value::as_i64) {
        Some(number) => number.to_string(),
        None => "\"null\"".to_string(),
    }
}

/// The longest CronJob name: Job names get an 11-character suffix and stay DNS labels.
const MAX_CRON_JOB_NAME_LENGTH: usize = 52;

/// `ValidateCronJobCreate`.
pub fn validate_cron_job(obj: &Value) -> Vec<FieldError> {
    let mut errors = validate_object_meta(obj, true, name_is_dns1123_subdomain);
    let spec = spec_of(obj);
    match string_or_empty(spec, "schedule") {
        "" => errors.push(FieldError::required("spec.schedule", "")),
        schedule => {
            if let Err(message) = parse_standard_schedule(schedule) {
                errors.push(FieldError::invalid(
                    "spec.schedule",
                    &Value::from(schedule),
                    message,
                ));
            }
            if schedule.contains("TZ") {
                errors.push(FieldError::invalid(
                    "spec.schedule",
                    &Value::from(schedule),
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    errors.extend(validate_nonnegative_fields(
        spec,
        "spec",
        &["startingDeadlineSeconds"],
    ));
    if let Some(zone) = str_of(spec, "timeZone") {
        errors.extend(validate_time_zone(zone));
    }
    match string_or_empty(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errors.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errors.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            &Value::from(other),
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let job_spec = spec.pointer("/jobTemplate/spec").unwrap_or(&Value::Null);
    errors.extend(validate_job_spec(job_spec, "spec.jobTemplate.spec"));
    if let Some(selector) = job_spec.get("selector").filter(|s| !s.is_null()) {
        errors.push(invalid_selector(
            "spec.jobTemplate.spec.selector",
            selector,
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errors.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            &Value::Bool(true),
            &["nil", "false"],
        ));
    }
    errors.extend(validate_nonnegative_fields(
        spec,
        "spec",
        &["successfulJobsHistoryLimit", "failedJobsHistoryLimit"],
    ));
    let name = metadata_str(obj, "name");
    if name.len() > MAX_CRON_JOB_NAME_LENGTH {
        errors.push(FieldError::invalid(
            "metadata.name",
            &Value::from(name),
            "must be no more than 52 characters",
        ));
    }
    errors
}

/// `validateTimeZone`, without the time zone database lookup.
fn validate_time_zone(zone: &str) -> Vec<FieldError> {
    let path = "spec.timeZone";
    if zone.is_empty() {
        return vec![FieldError::invalid(
            path,
            &Value::from(zone),
            "timeZone must be nil or non-empty string",
        )];
    }
    let part_ok = |part: &str| {
        part != "."
            && part != ".."
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
    };
    if !zone.split('/').all(part_ok) {
        return vec![FieldError::invalid(
            path,
            &Value::from(zone),
            format!("unknown time zone {zone}"),
        )];
    }
    if zone.eq_ignore_ascii_case("Local") {
        return vec![FieldError::invalid(
            path,
            &Value::from(zone),
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::test_support::{messages, pod_template};
    use serde_json::json;

    fn job(restart_policy: &str) -> Value {
        let labels = json!({"app": "pi", "controller-uid": "u1", "job-name": "pi",
                            "batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "pi"});
        json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": false,
                     "manualSelector": false, "podReplacementPolicy": "TerminatingOrFailed",
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                     "template": pod_template(labels, restart_policy)}
        })
    }

    #[test]
    fn should_accept_a_job_with_generated_selector() {
        assert_eq!(messages(validate_job(&job("Never"))), Vec::<String>::new());
    }

    #[test]
    fn should_require_a_job_restart_policy() {
        assert_eq!(
            messages(validate_job(&job("Always"))),
            vec!["spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""]
        );
    }

    #[test]
    fn should_require_the_generated_job_labels() {
        let mut j = job("Never");
        j["spec"]["template"]["metadata"]["labels"] = json!({"app": "pi"});
        j["spec"]["manualSelector"] = json!(true);
        j["spec"]["selector"] = json!({"matchLabels": {"app": "pi"}});
        assert!(validate_job(&j).is_empty());
        j["spec"]["manualSelector"] = json!(false);
        let errors = messages(validate_job(&j));
        assert_eq!(
            errors[0],
            "spec.template.metadata.labels[controller-uid]: Required value: must be 'u1'"
        );
        assert_eq!(
            errors.last().unwrap(),
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"pi\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated"
        );
    }

    #[test]
    fn should_refuse_changing_a_job_template() {
        let old = job("Never");
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
        assert_eq!(
            messages(validate_job_update(&new, &old)),
            vec!["spec.template: Invalid value: core.PodTemplateSpec{…}: field is immutable"]
        );
        let mut suspended_old = old.clone();
        suspended_old["spec"]["suspend"] = json!(true);
        let mut relabelled = suspended_old.clone();
        relabelled["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
        assert!(validate_job_update(&relabelled, &suspended_old).is_empty());
    }

    fn cron_job(schedule: &str) -> Value {
        json!({
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": false,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"spec": {"template": pod_template(json!({}), "OnFailure")}}}
        })
    }

    #[test]
    fn should_check_cron_schedules() {
        assert!(validate_cron_job(&cron_job("*/5 * * * *")).is_empty());
        assert_eq!(
            messages(validate_cron_job(&cron_job("* * *"))),
            vec!["spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"]
        );
    }

    #[test]
    fn should_forbid_a_selector_in_a_job_template() {
        let mut c = cron_job("@hourly");
        c["spec"]["jobTemplate"]["spec"]["selector"] = json!({"matchLabels": {"a": "b"}});
        assert_eq!(
            messages(validate_cron_job(&c)),
            vec!["spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated"]
        );
    }
}
