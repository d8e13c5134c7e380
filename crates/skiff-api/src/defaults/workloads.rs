//! Defaults of the workload kinds (`k8s.io/kubernetes/pkg/apis/apps/v1/defaults.go`,
//! `pkg/apis/batch/v1/defaults.go`) and the selector the Job strategy generates
//! (`pkg/registry/batch/job/strategy.go`).

use serde_json::{json, Map, Value};

use super::{object_at, set_default, set_default_if_empty};

/// Labels of a Job's generated selector, current and legacy spellings.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// `SetDefaults_Deployment`.
pub fn default_deployment(spec: &mut Map<String, Value>) {
    set_default(spec, "replicas", json!(1));
    default_rolling_update_strategy(object_at(spec, "strategy"), json!("25%"), json!("25%"));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
}

/// `SetDefaults_ReplicaSet`.
pub fn default_replica_set(spec: &mut Map<String, Value>) {
    set_default(spec, "replicas", json!(1));
}

/// `SetDefaults_StatefulSet` (with `StatefulSetAutoDeletePVC`, on since 1.27).
pub fn default_stateful_set(spec: &mut Map<String, Value>) {
    set_default_if_empty(spec, "podManagementPolicy", "OrderedReady");
    let strategy = object_at(spec, "updateStrategy");
    if set_default_if_empty(strategy, "type", "RollingUpdate") {
        // Only a defaulted type brings a defaulted rollingUpdate.
        set_default(strategy, "rollingUpdate", json!({}));
    }
    if strategy["type"] == "RollingUpdate" {
        if let Some(rolling_update) = strategy
            .get_mut("rollingUpdate")
            .and_then(Value::as_object_mut)
        {
            set_default(rolling_update, "partition", json!(0));
        }
    }
    let retention = object_at(spec, "persistentVolumeClaimRetentionPolicy");
    for field in ["whenDeleted", "whenScaled"] {
        set_default_if_empty(retention, field, "Retain");
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    // Claim templates are PersistentVolumeClaims: a filesystem volume, a Pending status.
    if let Some(claims) = spec
        .get_mut("volumeClaimTemplates")
        .and_then(Value::as_array_mut)
    {
        for claim in claims.iter_mut().filter_map(Value::as_object_mut) {
            set_default(object_at(claim, "spec"), "volumeMode", json!("Filesystem"));
            let status = object_at(claim, "status");
            set_default(status, "phase", json!("Pending"));
        }
    }
}

/// `SetDefaults_DaemonSet`.
pub fn default_daemon_set(spec: &mut Map<String, Value>) {
    default_rolling_update_strategy(object_at(spec, "updateStrategy"), json!(1), json!(0));
    set_default(spec, "revisionHistoryLimit", json!(10));
}

/// A Deployment's or a DaemonSet's update strategy: `RollingUpdate` unless set,
/// and then its `maxUnavailable` and `maxSurge`.
fn default_rolling_update_strategy(
    strategy: &mut Map<String, Value>,
    max_unavailable: Value,
    max_surge: Value,
) {
    set_default_if_empty(strategy, "type", "RollingUpdate");
    if strategy["type"] == "RollingUpdate" {
        let rolling_update = object_at(strategy, "rollingUpdate");
        set_default(rolling_update, "maxUnavailable", max_unavailable);
        set_default(rolling_update, "maxSurge", max_surge);
    }
}

/// `SetDefaults_Job`: counts, modes, and the Job's labels from its template.
pub fn default_job(job: &mut Map<String, Value>) {
    let template_labels = job
        .get("spec")
        .and_then(|s| s.pointer("/template/metadata/labels"))
        .cloned();
    let spec = object_at(job, "spec");
    // A non-parallel Job may leave both unset; both become 1.
    if !is_set(spec, "completions") && !is_set(spec, "parallelism") {
        spec.insert("completions".to_string(), json!(1));
    }
    set_default(spec, "parallelism", json!(1));
    let backoff_limit = if is_set(spec, "backoffLimitPerIndex") {
        i64::from(i32::MAX)
    } else {
        6
    };
    set_default(spec, "backoffLimit", json!(backoff_limit));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    if let Some(rules) = spec
        .get_mut("podFailurePolicy")
        .and_then(|p| p.get_mut("rules"))
        .and_then(Value::as_array_mut)
    {
        for pattern in rules
            .iter_mut()
            .filter_map(|r| r.get_mut("onPodConditions"))
            .filter_map(Value::as_array_mut)
            .flatten()
        {
            if let Some(pattern) = pattern.as_object_mut() {
                set_default(pattern, "status", json!("True"));
            }
        }
    }
    let replacement = if is_set(spec, "podFailurePolicy") {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_default(spec, "podReplacementPolicy", json!(replacement));
    set_default(spec, "manualSelector", json!(false));

    if let Some(labels) = template_labels.filter(Value::is_object) {
        let metadata = object_at(job, "metadata");
        let has_labels = metadata
            .get("labels")
            .and_then(Value::as_object)
            .is_some_and(|l| !l.is_empty());
        if !has_labels {
            metadata.insert("labels".to_string(), labels);
        }
    }
}

/// `SetDefaults_CronJob`.
pub fn default_cron_job(spec: &mut Map<String, Value>) {
    set_default_if_empty(spec, "concurrencyPolicy", "Allow");
    set_default(spec, "suspend", json!(false));
    set_default(spec, "successfulJobsHistoryLimit", json!(3));
    set_default(spec, "failedJobsHistoryLimit", json!(1));
}

fn is_set(map: &Map<String, Value>, field: &str) -> bool {
    map.get(field).is_some_and(|v| !v.is_null())
}

/// The Job strategy's `generateSelector`: unless the user asked for a manual
/// selector, label the template with the Job's name and uid, and select the uid.
///
/// Upstream shares one label map between a Job and its template when the Job's
/// labels were defaulted from the template's, so the Job's own labels gain the
/// generated ones too; this keeps that.
pub fn job_selector_defaults(job: &mut Value, uid: &str) {
    let Some(job) = job.as_object_mut() else {
        return;
    };
    let name = job
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let spec = object_at(job, "spec");
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let template_labels_before = spec
        .get("template")
        .and_then(|t| t.pointer("/metadata/labels"))
        .cloned();
    let template_metadata = object_at(object_at(spec, "template"), "metadata");
    let labels = object_at(template_metadata, "labels");
    for (label, value) in [
        (LEGACY_JOB_NAME_LABEL, name.as_str()),
        (JOB_NAME_LABEL, name.as_str()),
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (CONTROLLER_UID_LABEL, uid),
    ] {
        labels
            .entry(label.to_string())
            .or_insert_with(|| json!(value));
    }
    let labels_after = Value::Object(labels.clone());
    let match_labels = object_at(object_at(spec, "selector"), "matchLabels");
    match_labels
        .entry(CONTROLLER_UID_LABEL.to_string())
        .or_insert_with(|| json!(uid));

    let metadata = object_at(job, "metadata");
    let shared = template_labels_before
        .is_some_and(|before| before.is_object() && metadata.get("labels") == Some(&before));
    if shared {
        metadata.insert("labels".to_string(), labels_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn should_default_a_deployment_spec() {
        let mut spec = map(json!({}));
        default_deployment(&mut spec);
        assert_eq!(
            Value::Object(spec),
            json!({"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                   "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600})
        );
    }

    #[test]
    fn should_not_add_rolling_update_parameters_to_recreate() {
        let mut spec = map(json!({"replicas": 3, "strategy": {"type": "Recreate"}}));
        default_deployment(&mut spec);
        assert_eq!(spec["strategy"], json!({"type": "Recreate"}));
        assert_eq!(spec["replicas"], 3);
    }

    #[test]
    fn should_default_a_stateful_set_spec() {
        let mut spec =
            map(json!({"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}));
        default_stateful_set(&mut spec);
        assert_eq!(
            Value::Object(spec),
            json!({"podManagementPolicy": "OrderedReady", "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                   "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                   "replicas": 1, "revisionHistoryLimit": 10,
                   "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}]})
        );
    }

    #[test]
    fn should_default_a_daemon_set_spec() {
        let mut spec = map(json!({}));
        default_daemon_set(&mut spec);
        assert_eq!(
            Value::Object(spec),
            json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}, "revisionHistoryLimit": 10})
        );
    }

    #[test]
    fn should_default_a_job_and_copy_template_labels() {
        let mut job = map(
            json!({"metadata": {"name": "pi"}, "spec": {"template": {"metadata": {"labels": {"app": "pi"}}}}}),
        );
        default_job(&mut job);
        assert_eq!(job["metadata"]["labels"], json!({"app": "pi"}));
        let spec = &job["spec"];
        assert_eq!(
            (
                spec["completions"].clone(),
                spec["parallelism"].clone(),
                spec["backoffLimit"].clone()
            ),
            (json!(1), json!(1), json!(6))
        );
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["manualSelector"], false);
    }

    #[test]
    fn should_leave_completions_unset_for_a_parallel_job() {
        let mut job = map(json!({"spec": {"parallelism": 5}}));
        default_job(&mut job);
        assert!(job["spec"].get("completions").is_none());
    }

    #[test]
    fn should_generate_the_job_selector_and_labels() {
        let mut job = map(
            json!({"metadata": {"name": "pi"}, "spec": {"template": {"metadata": {"labels": {"app": "pi"}}}}}),
        );
        default_job(&mut job);
        let mut job = Value::Object(job);
        job_selector_defaults(&mut job, "u1");
        let expected = json!({"app": "pi", "batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "pi",
                              "controller-uid": "u1", "job-name": "pi"});
        assert_eq!(job["spec"]["template"]["metadata"]["labels"], expected);
        assert_eq!(job["metadata"]["labels"], expected);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}})
        );
    }

    #[test]
    fn should_leave_a_manual_selector_alone() {
        let mut job = json!({"metadata": {"name": "pi"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}}});
        let before = job.clone();
        job_selector_defaults(&mut job, "u1");
        assert_eq!(job, before);
    }

    #[test]
    fn should_default_a_cron_job_spec() {
        let mut spec = map(json!({"schedule": "@hourly"}));
        default_cron_job(&mut spec);
        assert_eq!(
            Value::Object(spec),
            json!({"schedule": "@hourly", "concurrencyPolicy": "Allow", "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1})
        );
    }
}
