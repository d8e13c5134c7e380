//! The ReplicaSet controller's decision for one ReplicaSet, as a pure function of
//! the ReplicaSet, the pods in its namespace and the time
//! (`syncReplicaSet`, `manageReplicas` and `calculateStatus` in
//! k8s.io/kubernetes/pkg/controller/replicaset/).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::pods;
use crate::claim::{self, Claim};

/// At most this many pods are created or deleted in one sync (`BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;

/// Why a ReplicaSet cannot be planned for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Its selector does not parse; validation should have refused it.
    #[error("failed to parse the selector of replica set {0}: {1}")]
    Selector(String, skiff_api::selector::SelectorError),
}

/// What one sync needs to know.
pub struct Inputs<'s, 'a> {
    /// The ReplicaSet, from the cache.
    pub replica_set: &'s ReplicaSet,
    /// Every pod in its namespace, from the cache.
    pub pods: &'s [&'a Pod],
    /// The uids of ReplicaSets with the same controller (for ranking pods by node).
    pub sibling_uids: &'s HashSet<String>,
    /// Whether earlier creations and deletions have been observed, so that
    /// counting pods is trustworthy (`SatisfiedExpectations`).
    pub expectations_satisfied: bool,
    /// The current time.
    pub now: Timestamp,
}

/// What one sync should do, in this order: adopt, release, create, delete, write status.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// Orphans to adopt.
    pub adopt: Vec<&'a Pod>,
    /// Owned pods to release.
    pub release: Vec<&'a Pod>,
    /// How many pods to create from the template.
    pub create: usize,
    /// Pods to delete, least valuable first.
    pub delete: Vec<&'a Pod>,
    /// The status computed from the pods seen (before this plan's changes, as upstream).
    pub status: ReplicaSetStatus,
    /// Whether `status` differs from the stored one.
    pub status_changed: bool,
    /// When to look again even if nothing changes (a pod about to become available).
    pub requeue_after: Option<Duration>,
}

/// Plans one sync of a ReplicaSet.
pub fn plan<'a>(inputs: &Inputs<'_, 'a>) -> Result<Plan<'a>, Error> {
    let rs = inputs.replica_set;
    let name = rs.metadata.name.clone().unwrap_or_default();
    let spec = rs.spec.as_ref();
    let selector_spec = spec.map(|s| s.selector.clone()).unwrap_or_default();
    let selector = claim::selector(&selector_spec).map_err(|e| Error::Selector(name, e))?;
    let mut plan = Plan::default();

    let mut filtered: Vec<&Pod> = Vec::new();
    for pod in inputs.pods.iter().copied().filter(|p| pods::is_active(p)) {
        match claim::claim(&rs.metadata, &selector, &pod.metadata) {
            Claim::Owned => filtered.push(pod),
            Claim::Adopt => {
                plan.adopt.push(pod);
                filtered.push(pod);
            }
            Claim::Release => plan.release.push(pod),
            Claim::Ignore => {}
        }
    }

    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as usize;
    if inputs.expectations_satisfied && rs.metadata.deletion_timestamp.is_none() {
        if filtered.len() < replicas {
            plan.create = (replicas - filtered.len()).min(BURST_REPLICAS);
        } else if filtered.len() > replicas {
            let count = (filtered.len() - replicas).min(BURST_REPLICAS);
            let own_uid = rs.metadata.uid.clone().unwrap_or_default();
            let related: Vec<&Pod> = inputs
                .pods
                .iter()
                .copied()
                .filter(|p| {
                    claim::controller_of(&p.metadata)
                        .is_some_and(|r| r.uid == own_uid || inputs.sibling_uids.contains(&r.uid))
                })
                .collect();
            plan.delete = pods::pods_to_delete(&filtered, &related, count, inputs.now);
        }
    }

    let min_ready_seconds = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    plan.status = calculate_status(rs, &filtered, inputs.now);
    let current = rs.status.clone().unwrap_or_default();
    plan.status_changed = plan.status != current;
    plan.requeue_after = filtered
        .iter()
        .filter_map(|p| pods::seconds_until_available(p, min_ready_seconds, inputs.now))
        .min()
        .map(|s| Duration::from_secs(s as u64));
    Ok(plan)
}

/// The status counted from the ReplicaSet's pods (`calculateStatus`, with
/// `observedGeneration` as `updateReplicaSetStatus` sets it). Upstream omits zero
/// counts, so they are `None` here.
pub fn calculate_status(rs: &ReplicaSet, filtered: &[&Pod], now: Timestamp) -> ReplicaSetStatus {
    let spec = rs.spec.as_ref();
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone());
    let template_labels = template_labels.unwrap_or_default();
    let min_ready_seconds = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let fully_labeled = filtered
        .iter()
        .filter(|p| has_all_labels(p, &template_labels))
        .count();
    let ready = filtered.iter().filter(|p| pods::is_ready(p)).count();
    let available = filtered
        .iter()
        .filter(|p| pods::is_available(p, min_ready_seconds, now))
        .count();
    let nonzero = |n: usize| (n > 0).then_some(n as i32);
    let current = rs.status.clone().unwrap_or_default();
    ReplicaSetStatus {
        replicas: filtered.len() as i32,
        fully_labeled_replicas: nonzero(fully_labeled),
        ready_replicas: nonzero(ready),
        available_replicas: nonzero(available),
        observed_generation: rs.metadata.generation.filter(|g| *g > 0),
        conditions: current.conditions.filter(|c| !c.is_empty()),
        terminating_replicas: current.terminating_replicas,
    }
}

fn has_all_labels(pod: &Pod, wanted: &BTreeMap<String, String>) -> bool {
    let labels = pod.metadata.labels.as_ref();
    wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Records a failure to create or delete pods in the status, or clears it after a
/// clean sync (the `ReplicaFailure` condition of `calculateStatus`).
pub fn with_failure(
    mut status: ReplicaSetStatus,
    failure: Option<(&str, String)>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let mut conditions = status.conditions.take().unwrap_or_default();
    let existing = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
    match failure {
        Some((reason, message)) if !existing => conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_transition_time: Some(Time(now)),
        }),
        None if existing => conditions.retain(|c| c.type_ != "ReplicaFailure"),
        _ => {}
    }
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    status
}

/// The pod a ReplicaSet creates (`GetPodFromTemplate`): the template's labels,
/// annotations, finalizers and spec, `generateName: <rs>-`, and a controller reference.
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template: PodTemplateSpec = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!(
                "{}-",
                rs.metadata.name.as_deref().unwrap_or_default()
            )),
            namespace: rs.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![claim::controller_ref(rs)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicaset::pods::tests::{at, pod};
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};

    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn replica_set(replicas: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-abc".into()),
                namespace: Some("default".into()),
                uid: Some("rs-uid".into()),
                generation: Some(2),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: labels(&[("app", "web")]),
                    ..Default::default()
                },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: labels(&[("app", "web"), ("tier", "front")]),
                        ..Default::default()
                    }),
                    spec: None,
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    /// An owned pod, labelled like the template.
    fn owned(name: &str, created: i64, ready_since: Option<i64>) -> Pod {
        let mut pod = pod(name, created, None, Some("Running"), ready_since);
        pod.metadata.labels = labels(&[("app", "web"), ("tier", "front")]);
        pod.metadata.owner_references = Some(vec![OwnerReference {
            uid: "rs-uid".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        pod
    }

    fn plan_for<'a>(
        rs: &ReplicaSet,
        pods: &[&'a Pod],
        satisfied: bool,
        now: Timestamp,
    ) -> Plan<'a> {
        let siblings = Box::leak(Box::new(HashSet::new()));
        plan(&Inputs {
            replica_set: rs,
            pods,
            sibling_uids: siblings,
            expectations_satisfied: satisfied,
            now,
        })
        .unwrap()
    }

    #[test]
    fn should_create_the_missing_pods() {
        let rs = replica_set(3);
        let a = owned("a", 0, None);
        let plan = plan_for(&rs, &[&a], true, at(100));
        assert_eq!(plan.create, 2);
        assert!(plan.delete.is_empty());
        assert_eq!(plan.status.replicas, 1);
        assert_eq!(plan.status.observed_generation, Some(2));
        assert!(plan.status_changed);
    }

    #[test]
    fn should_create_at_most_a_burst_per_sync() {
        let rs = replica_set(2000);
        assert_eq!(plan_for(&rs, &[], true, at(0)).create, BURST_REPLICAS);
    }

    #[test]
    fn should_not_act_until_expectations_are_met() {
        let rs = replica_set(3);
        let plan = plan_for(&rs, &[], false, at(0));
        assert_eq!(plan.create, 0);
        assert_eq!(plan.status.replicas, 0);
    }

    #[test]
    fn should_delete_the_surplus_unready_pod_first() {
        let rs = replica_set(1);
        let (ready, unready) = (owned("ready", 0, Some(10)), owned("unready", 0, None));
        let plan = plan_for(&rs, &[&ready, &unready], true, at(100));
        assert_eq!(
            plan.delete
                .iter()
                .map(|p| p.metadata.name.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["unready"]
        );
    }

    #[test]
    fn should_not_count_finished_or_deleting_pods() {
        let rs = replica_set(2);
        let mut done = owned("done", 0, None);
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let mut going = owned("going", 0, None);
        going.metadata.deletion_timestamp = Some(Time(at(5)));
        let plan = plan_for(&rs, &[&done, &going], true, at(10));
        assert_eq!(plan.create, 2);
    }

    #[test]
    fn should_adopt_matching_orphans_and_release_strays() {
        let rs = replica_set(2);
        let mut orphan = pod("orphan", 0, None, Some("Running"), None);
        orphan.metadata.labels = labels(&[("app", "web")]);
        let mut stray = owned("stray", 0, None);
        stray.metadata.labels = labels(&[("app", "db")]);
        let mut foreign = pod("foreign", 0, None, None, None);
        foreign.metadata.labels = labels(&[("app", "web")]);
        foreign.metadata.owner_references = Some(vec![OwnerReference {
            uid: "other".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let plan = plan_for(&rs, &[&orphan, &stray, &foreign], true, at(10));
        assert_eq!(plan.adopt.len(), 1);
        assert_eq!(plan.release.len(), 1);
        assert_eq!(plan.create, 1);
        // The adopted orphan lacks the template's `tier` label.
        assert_eq!(plan.status.fully_labeled_replicas, None);
    }

    #[test]
    fn should_count_ready_and_available_pods_with_min_ready_seconds() {
        let mut rs = replica_set(2);
        rs.spec.as_mut().unwrap().min_ready_seconds = Some(30);
        let (early, late) = (owned("early", 0, Some(10)), owned("late", 0, Some(90)));
        let plan = plan_for(&rs, &[&early, &late], true, at(100));
        assert_eq!(plan.status.replicas, 2);
        assert_eq!(plan.status.ready_replicas, Some(2));
        assert_eq!(plan.status.available_replicas, Some(1));
        assert_eq!(plan.status.fully_labeled_replicas, Some(2));
        assert_eq!(plan.requeue_after, Some(Duration::from_secs(21)));
    }

    #[test]
    fn should_leave_an_unchanged_status_alone() {
        let mut rs = replica_set(1);
        let a = owned("a", 0, Some(1));
        rs.status = Some(plan_for(&rs, &[&a], true, at(10)).status);
        let plan = plan_for(&rs, &[&a], true, at(10));
        assert!(!plan.status_changed);
        assert_eq!((plan.create, plan.delete.len()), (0, 0));
    }

    #[test]
    fn should_not_manage_pods_while_being_deleted() {
        let mut rs = replica_set(3);
        rs.metadata.deletion_timestamp = Some(Time(at(1)));
        assert_eq!(plan_for(&rs, &[], true, at(2)).create, 0);
    }

    #[test]
    fn should_record_and_clear_replica_failures() {
        let failed = with_failure(
            ReplicaSetStatus::default(),
            Some(("FailedCreate", "quota".into())),
            at(1),
        );
        let conditions = failed.conditions.clone().unwrap();
        assert_eq!(conditions[0].reason.as_deref(), Some("FailedCreate"));
        assert_eq!(with_failure(failed, None, at(2)).conditions, None);
    }

    #[test]
    fn should_make_pods_from_the_template_with_a_controller_reference() {
        let pod = pod_from_template(&replica_set(1));
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(
            pod.metadata.labels,
            labels(&[("app", "web"), ("tier", "front")])
        );
        let owner = &pod.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("ReplicaSet", "rs-uid", Some(true))
        );
    }
}
