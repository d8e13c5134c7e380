//! Pure helpers of the Deployment controller, after
//! k8s.io/kubernetes/pkg/controller/deployment/util/deployment_util.go and
//! pkg/controller/controller_utils.go: the pod-template hash, the rolling-update
//! fenceposts, revisions, annotations, conditions and ReplicaSet orderings.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

/// The label that ties a ReplicaSet and its pods to one template (`DefaultDeploymentUniqueLabelKey`).
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// The revision of a ReplicaSet, and of the Deployment's current one.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet had before a rollback made it current again.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's `replicas` when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's `replicas + maxSurge` when the ReplicaSet was last scaled.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// Upstream caps the revision-history annotation at this many characters.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Deployment annotations never copied to ReplicaSets (`annotationsToSkip`).
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    "deprecated.deployment.rollback.to",
];

/// Condition reasons (`deployment_util.go`).
pub mod reason {
    /// A new ReplicaSet was created.
    pub const NEW_REPLICA_SET: &str = "NewReplicaSetCreated";
    /// An existing ReplicaSet was found for the template.
    pub const FOUND_NEW_REPLICA_SET: &str = "FoundNewReplicaSet";
    /// The rollout made progress.
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    /// The rollout finished.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// The rollout made no progress within `progressDeadlineSeconds`.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// The Deployment was paused.
    pub const PAUSED: &str = "DeploymentPaused";
    /// The Deployment was resumed.
    pub const RESUMED: &str = "DeploymentResumed";
    /// Creating the new ReplicaSet failed.
    pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
    /// Enough replicas are available.
    pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// Too few replicas are available.
    pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
}

/// The characters upstream's `rand.SafeEncodeString` uses: no vowels, no look-alikes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Maps each character of `s` into the safe alphabet (`rand.SafeEncodeString`).
pub fn safe_encode(s: &str) -> String {
    s.chars()
        .map(|c| SAFE_ALPHABET[(c as usize) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// FNV-1a, 32 bits.
fn fnv32a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    bytes.into_iter().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The `pod-template-hash` of a template (`controller.ComputeHash`): FNV-32a of the
/// template (its JSON here, upstream's spew dump there) and the collision count,
/// printed in decimal and safe-encoded.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(count) = collision_count {
        bytes.extend_from_slice(&(count as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
    }
    safe_encode(&fnv32a(bytes).to_string())
}

/// Strips the hash label and empty maps and lists, so that templates compare like
/// `apiequality.Semantic.DeepEqual` compares them.
fn comparable_template(template: &PodTemplateSpec) -> Value {
    let mut template = template.clone();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    let mut value = serde_json::to_value(template).unwrap_or_default();
    prune_empty(&mut value);
    value
}

fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(prune_empty);
            map.retain(|_, v| !matches!(v, Value::Null) && !is_empty_container(v));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty_container(value: &Value) -> bool {
    matches!(value, Value::Object(m) if m.is_empty())
        || matches!(value, Value::Array(a) if a.is_empty())
}

/// Whether two templates are equal but for the hash label (`EqualIgnoreHash`).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    comparable_template(a) == comparable_template(b)
}

/// `intstr.GetScaledValueFromIntOrPercent`: an integer, or a percentage of `total`
/// rounded up or down. `None` for a malformed percentage.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrString::Int(n) => Some(*n),
        IntOrString::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let scaled = percent * i64::from(total);
            let value = if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            };
            i32::try_from(value).ok()
        }
    }
}

/// `(maxSurge, maxUnavailable)` for `desired` replicas (`ResolveFenceposts`): surge
/// rounds up, unavailable down, and if both come to zero unavailable becomes 1.
pub fn resolve_fenceposts(
    surge: Option<&IntOrString>,
    unavailable: Option<&IntOrString>,
    desired: i32,
) -> (i32, i32) {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(surge.unwrap_or(&zero), desired, true).unwrap_or(0);
    let unavailable = scaled_value(unavailable.unwrap_or(&zero), desired, false).unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        return (0, 1);
    }
    (surge, unavailable)
}

/// The Deployment's desired replicas.
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Whether the Deployment uses the RollingUpdate strategy (the default).
pub fn is_rolling_update(d: &Deployment) -> bool {
    let kind = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref());
    kind.is_none_or(|k| k == "RollingUpdate")
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let rolling = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let default = IntOrString::String("25%".into());
    let surge = rolling.map_or(Some(&default), |r| r.max_surge.as_ref());
    let unavailable = rolling.map_or(Some(&default), |r| r.max_unavailable.as_ref());
    resolve_fenceposts(surge, unavailable, replicas(d))
}

/// How many pods above `replicas` a rollout may run (`MaxSurge`).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    fenceposts(d).0
}

/// How many of `replicas` may be unavailable during a rollout (`MaxUnavailable`).
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling_update(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

/// The deadline, unless unset or "never" (`HasProgressDeadline`).
pub fn progress_deadline_seconds(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .filter(|s| *s != i32::MAX)
}

/// The history limit, unless unset or "never" (`HasRevisionHistoryLimit`).
pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .filter(|s| *s != i32::MAX)
}

/// A ReplicaSet's `spec.replicas`.
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// A ReplicaSet's `status.availableReplicas`.
pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// A ReplicaSet's `status.replicas`.
pub fn rs_actual(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)
}

/// A ReplicaSet's `status.readyReplicas`.
pub fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// A ReplicaSet's revision; unset or malformed counts as 0 (`Revision`).
pub fn revision(rs: &ReplicaSet) -> i64 {
    annotation(rs, REVISION_ANNOTATION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One annotation of a ReplicaSet.
pub fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn creation(rs: &ReplicaSet) -> Option<Timestamp> {
    rs.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// Oldest first, then by name (`ReplicaSetsByCreationTimestamp`). A ReplicaSet not
/// yet created sorts last.
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let key = |rs: &ReplicaSet| (creation(rs).is_none(), creation(rs));
    key(a)
        .cmp(&key(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// Lowest revision first, then oldest (`ReplicaSetsByRevision`).
pub fn by_revision(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    revision(a)
        .cmp(&revision(b))
        .then_with(|| by_creation(a, b))
}

/// Largest first, then newest (`ReplicaSetsBySizeNewer`).
pub fn by_size_newer(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(b, a))
}

/// Largest first, then oldest (`ReplicaSetsBySizeOlder`).
pub fn by_size_older(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    rs_replicas(b)
        .cmp(&rs_replicas(a))
        .then_with(|| by_creation(a, b))
}

/// Copies the Deployment's annotations to its new ReplicaSet, but not the
/// controller's own (`copyDeploymentAnnotationsToReplicaSet`). Returns whether any changed.
pub fn copy_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let target = rs.metadata.annotations.get_or_insert_with(Default::default);
    let mut changed = false;
    for (key, value) in d.metadata.annotations.iter().flatten() {
        if ANNOTATIONS_TO_SKIP.contains(&key.as_str()) || target.get(key) == Some(value) {
            continue;
        }
        target.insert(key.clone(), value.clone());
        changed = true;
    }
    changed
}

/// Sets the desired- and max-replicas annotations (`SetReplicasAnnotations`).
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(Default::default);
    let mut changed = false;
    for (key, value) in [
        (DESIRED_REPLICAS_ANNOTATION, desired),
        (MAX_REPLICAS_ANNOTATION, max),
    ] {
        if annotations.get(key).map(String::as_str) != Some(value.to_string().as_str()) {
            annotations.insert(key.to_string(), value.to_string());
            changed = true;
        }
    }
    changed
}

/// Whether the replicas annotations are stale (`ReplicasAnnotationsNeedUpdate`).
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(rs, DESIRED_REPLICAS_ANNOTATION) != Some(desired.to_string().as_str())
        || annotation(rs, MAX_REPLICAS_ANNOTATION) != Some(max.to_string().as_str())
}

/// Brings a new ReplicaSet's annotations up to date (`SetNewReplicaSetAnnotations`):
/// the Deployment's annotations, the new revision (keeping earlier revisions in the
/// history annotation after a rollback) and, for a ReplicaSet about to be created,
/// the replicas annotations. Returns whether anything changed.
pub fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(Default::default);
    let old = annotations.get(REVISION_ANNOTATION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(text) => match text.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION_ANNOTATION.to_string(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let history = annotations
                .get(REVISION_HISTORY_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            let mut revisions: Vec<&str> = history.split(',').filter(|r| !r.is_empty()).collect();
            let mut total = if history.is_empty() {
                old.len()
            } else {
                history.len() + old.len() + 1
            };
            while total > MAX_REVISION_HISTORY_CHARS && !revisions.is_empty() {
                total -= revisions.remove(0).len() + 1;
            }
            if total <= MAX_REVISION_HISTORY_CHARS {
                revisions.push(&old);
                annotations.insert(REVISION_HISTORY_ANNOTATION.to_string(), revisions.join(","));
            }
        }
    }
    if !exists && set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

/// Whether the ReplicaSet runs the Deployment's full size, available (`IsSaturated`).
pub fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let desired = annotation(rs, DESIRED_REPLICAS_ANNOTATION).and_then(|v| v.parse::<i32>().ok());
    desired == Some(replicas(d))
        && rs_replicas(rs) == replicas(d)
        && rs_available(rs) == replicas(d)
}

/// One condition of a status.
pub fn condition<'a>(status: &'a DeploymentStatus, kind: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.as_ref()?.iter().find(|c| c.type_ == kind)
}

/// A condition observed now (`NewDeploymentCondition`).
pub fn new_condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: kind.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Sets a condition unless one with the same status and reason is there, keeping
/// the transition time when only the reason changes (`SetDeploymentCondition`).
pub fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = self::condition(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &condition.type_);
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(condition);
}

/// Removes a condition (`RemoveDeploymentCondition`).
pub fn remove_condition(status: &mut DeploymentStatus, kind: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn percent(p: &str) -> IntOrString {
        IntOrString::String(p.into())
    }

    fn rolling(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn should_round_surge_up_and_unavailable_down() {
        let d = rolling(3, percent("25%"), percent("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 0));
        let d = rolling(10, percent("25%"), percent("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        let d = rolling(5, IntOrString::Int(2), IntOrString::Int(9));
        assert_eq!(
            (max_surge(&d), max_unavailable(&d)),
            (2, 5),
            "unavailable is capped at replicas"
        );
    }

    #[test]
    fn should_allow_one_unavailable_when_both_fenceposts_are_zero() {
        assert_eq!(
            resolve_fenceposts(Some(&percent("0%")), Some(&percent("10%")), 3),
            (0, 1)
        );
    }

    #[test]
    fn should_have_no_surge_for_recreate() {
        let mut d = rolling(3, IntOrString::Int(1), IntOrString::Int(1));
        d.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        });
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }

    #[test]
    fn should_refuse_malformed_percentages() {
        assert_eq!(scaled_value(&percent("abc"), 10, true), None);
        assert_eq!(scaled_value(&percent("50"), 10, true), None);
        assert_eq!(scaled_value(&percent("50%"), 5, true), Some(3));
        assert_eq!(scaled_value(&percent("50%"), 5, false), Some(2));
    }

    #[test]
    fn should_hash_templates_stably_into_the_safe_alphabet() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: None,
        };
        let hash = pod_template_hash(&template, None);
        assert_eq!(hash, pod_template_hash(&template.clone(), None));
        assert!(
            hash.len() <= 10 && hash.bytes().all(|b| SAFE_ALPHABET.contains(&b)),
            "{hash}"
        );
        assert_ne!(hash, pod_template_hash(&template, Some(1)));
    }

    #[test]
    fn should_encode_digits_like_upstream() {
        // '0' is 48: 48 % 27 = 21 → '4'; '9' is 57: 57 % 27 = 3 → 'f'.
        assert_eq!(safe_encode("09"), "4f");
    }

    #[test]
    fn should_compare_templates_without_the_hash_label() {
        let labelled = |extra: Option<&str>| {
            let mut labels: std::collections::BTreeMap<String, String> =
                [("app".to_string(), "web".to_string())].into();
            if let Some(hash) = extra {
                labels.insert(POD_TEMPLATE_HASH_LABEL.into(), hash.into());
            }
            PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: None,
            }
        };
        assert!(equal_ignore_hash(&labelled(None), &labelled(Some("abc"))));
        let mut other = labelled(None);
        other
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert("v".into(), "2".into());
        assert!(!equal_ignore_hash(&labelled(None), &other));
        let empty = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(Default::default()),
                ..Default::default()
            }),
            spec: None,
        };
        assert!(equal_ignore_hash(&empty, &PodTemplateSpec::default()));
    }

    #[test]
    fn should_keep_the_old_revision_in_the_history_on_rollback() {
        let d = Deployment {
            metadata: ObjectMeta {
                annotations: Some(
                    [("kubernetes.io/change-cause".to_string(), "v1".to_string())].into(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut rs = ReplicaSet::default();
        rs.metadata.annotations = Some([(REVISION_ANNOTATION.to_string(), "1".to_string())].into());
        assert!(set_new_replica_set_annotations(&d, &mut rs, 3, true));
        assert_eq!(annotation(&rs, REVISION_ANNOTATION), Some("3"));
        assert_eq!(annotation(&rs, REVISION_HISTORY_ANNOTATION), Some("1"));
        assert_eq!(annotation(&rs, "kubernetes.io/change-cause"), Some("v1"));
        assert!(
            !set_new_replica_set_annotations(&d, &mut rs, 3, true),
            "nothing left to change"
        );
    }

    #[test]
    fn should_not_copy_the_controllers_own_annotations() {
        let d = Deployment {
            metadata: ObjectMeta {
                annotations: Some(
                    [
                        (REVISION_ANNOTATION.to_string(), "9".to_string()),
                        ("team".to_string(), "a".to_string()),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut rs = ReplicaSet::default();
        copy_annotations(&d, &mut rs);
        assert_eq!(annotation(&rs, REVISION_ANNOTATION), None);
        assert_eq!(annotation(&rs, "team"), Some("a"));
    }

    #[test]
    fn should_keep_the_transition_time_when_only_the_reason_changes() {
        let mut status = DeploymentStatus::default();
        let t1 = Timestamp::from_second(100).unwrap();
        let t2 = Timestamp::from_second(200).unwrap();
        set_condition(
            &mut status,
            new_condition(
                "Progressing",
                "True",
                reason::NEW_REPLICA_SET,
                "a".into(),
                t1,
            ),
        );
        set_condition(
            &mut status,
            new_condition(
                "Progressing",
                "True",
                reason::REPLICA_SET_UPDATED,
                "b".into(),
                t2,
            ),
        );
        let current = condition(&status, "Progressing").unwrap();
        assert_eq!(current.reason.as_deref(), Some(reason::REPLICA_SET_UPDATED));
        assert_eq!(current.last_transition_time, Some(Time(t1)));
        assert_eq!(current.last_update_time, Some(Time(t2)));
        assert_eq!(status.conditions.as_ref().unwrap().len(), 1);
    }
}
