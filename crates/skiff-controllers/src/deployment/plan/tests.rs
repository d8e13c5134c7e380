//! Tests of the Deployment planner: unit cases and a fake cluster that runs whole
//! rollouts and checks the surge and unavailability limits at every step.

use super::*;
use k8s_openapi::api::apps::v1::{
    DeploymentSpec, DeploymentStrategy, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

fn deployment(replicas: i32, image: &str) -> Deployment {
    let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("d-uid".into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "app".into(),
                        image: Some(image.into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".into())),
                    max_unavailable: Some(IntOrString::String("25%".into())),
                }),
            }),
            revision_history_limit: Some(10),
            progress_deadline_seconds: Some(600),
            ..Default::default()
        }),
        status: None,
    }
}

fn apply_merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    apply_merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// A fake API server and ReplicaSet controller: applies plans, and makes every
/// ReplicaSet's pods exist (and, if `ready`, be available) at once.
struct Cluster {
    d: Deployment,
    rss: Vec<ReplicaSet>,
    events: Vec<String>,
    clock: i64,
    next_uid: u32,
}

impl Cluster {
    fn new(d: Deployment) -> Self {
        Self {
            d,
            rss: Vec::new(),
            events: Vec::new(),
            clock: 1_000,
            next_uid: 0,
        }
    }

    fn plan(&self) -> Plan {
        let rss: Vec<&ReplicaSet> = self.rss.iter().collect();
        plan(&Inputs {
            deployment: &self.d,
            replica_sets: &rss,
            pods: &[],
            now: at(self.clock),
        })
        .unwrap()
    }

    /// One deployment sync; returns the steps taken.
    fn sync(&mut self) -> Vec<Step> {
        self.clock += 1;
        let plan = self.plan();
        for step in &plan.steps {
            match step {
                Step::Create { replica_set, event } => {
                    let mut rs = (**replica_set).clone();
                    self.next_uid += 1;
                    rs.metadata.uid = Some(format!("rs-{}", self.next_uid));
                    rs.metadata.creation_timestamp = Some(Time(at(self.clock)));
                    rs.metadata.generation = Some(1);
                    rs.metadata.resource_version = Some("1".into());
                    self.events.extend(event.clone());
                    self.rss.push(rs);
                }
                Step::Update {
                    name,
                    patch,
                    events,
                } => {
                    let rs = self
                        .rss
                        .iter_mut()
                        .find(|r| r.metadata.name.as_deref() == Some(name))
                        .unwrap();
                    let mut value = json!(rs);
                    apply_merge(&mut value, patch);
                    *rs = serde_json::from_value(value).unwrap();
                    self.events.extend(events.clone());
                }
                Step::Delete { name } => self
                    .rss
                    .retain(|r| r.metadata.name.as_deref() != Some(name)),
                Step::Annotate { patch } | Step::Status { patch } => {
                    let mut value = json!(self.d);
                    apply_merge(&mut value, patch);
                    self.d = serde_json::from_value(value).unwrap();
                }
                Step::Adopt { .. } | Step::Release { .. } => {}
            }
        }
        plan.steps
    }

    /// The ReplicaSet controller: pods follow `spec.replicas`; the new pods
    /// become available only if `ready`.
    fn settle_pods(&mut self, ready: bool) {
        for rs in &mut self.rss {
            let replicas = util::rs_replicas(rs);
            let previous = util::rs_available(rs);
            let available = if ready {
                replicas
            } else {
                previous.min(replicas)
            };
            rs.status = Some(ReplicaSetStatus {
                replicas,
                available_replicas: Some(available),
                ready_replicas: Some(available),
                observed_generation: rs.metadata.generation,
                ..Default::default()
            });
        }
    }

    fn rs_by_image(&self, image: &str) -> Option<&ReplicaSet> {
        self.rss.iter().find(|rs| {
            rs.spec
                .as_ref()
                .unwrap()
                .template
                .as_ref()
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .image
                .as_deref()
                == Some(image)
        })
    }

    fn set_image(&mut self, image: &str) {
        let spec = self.d.spec.as_mut().unwrap();
        spec.template.spec.as_mut().unwrap().containers[0].image = Some(image.into());
        self.d.metadata.generation = Some(self.d.metadata.generation.unwrap() + 1);
    }

    /// Runs syncs and pod settling until nothing changes, checking the rollout bounds.
    fn converge(&mut self) {
        let replicas = util::replicas(&self.d);
        let (surge, unavailable) = (util::max_surge(&self.d), util::max_unavailable(&self.d));
        for _ in 0..50 {
            let steps = self.sync();
            let total: i32 = self.rss.iter().map(util::rs_replicas).sum();
            assert!(
                total <= replicas + surge,
                "{total} pods exceed {replicas}+{surge}"
            );
            self.settle_pods(true);
            let available: i32 = self.rss.iter().map(util::rs_available).sum();
            let started = self.rss.len() > 1;
            assert!(
                !started || available >= replicas - unavailable,
                "only {available} available"
            );
            if steps.is_empty() {
                return;
            }
        }
        panic!("the rollout did not converge");
    }

    fn condition(&self, kind: &str) -> (String, String) {
        let status = self.d.status.clone().unwrap_or_default();
        let c = util::condition(&status, kind).cloned().unwrap();
        (c.status, c.reason.unwrap_or_default())
    }
}

#[test]
fn should_create_the_first_replica_set_at_full_size() {
    let mut cluster = Cluster::new(deployment(3, "v1"));
    let steps = cluster.sync();
    let Step::Create { replica_set, event } = &steps[0] else {
        panic!("{steps:?}")
    };
    let name = replica_set.metadata.name.clone().unwrap();
    let hash = replica_set.metadata.labels.as_ref().unwrap()[util::POD_TEMPLATE_HASH_LABEL].clone();
    assert_eq!(name, format!("web-{hash}"));
    assert_eq!(util::rs_replicas(replica_set), 3);
    assert_eq!(
        event.as_deref(),
        Some(format!("Scaled up replica set {name} from 0 to 3").as_str())
    );
    assert_eq!(
        util::annotation(replica_set, util::REVISION_ANNOTATION),
        Some("1")
    );
    assert_eq!(
        util::annotation(replica_set, util::DESIRED_REPLICAS_ANNOTATION),
        Some("3")
    );
    assert_eq!(
        util::annotation(replica_set, util::MAX_REPLICAS_ANNOTATION),
        Some("4")
    );
    assert_eq!(
        replica_set
            .spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .as_ref()
            .unwrap()[util::POD_TEMPLATE_HASH_LABEL],
        hash
    );
    assert_eq!(
        cluster.d.metadata.annotations.as_ref().unwrap()[util::REVISION_ANNOTATION],
        "1"
    );
    assert_eq!(
        cluster.condition("Progressing"),
        ("True".into(), reason::NEW_REPLICA_SET.into())
    );
    assert_eq!(
        cluster.condition("Available"),
        ("False".into(), reason::MINIMUM_REPLICAS_UNAVAILABLE.into())
    );
}

#[test]
fn should_report_a_finished_rollout() {
    let mut cluster = Cluster::new(deployment(3, "v1"));
    cluster.converge();
    let status = cluster.d.status.clone().unwrap();
    assert_eq!(
        (
            status.replicas,
            status.updated_replicas,
            status.available_replicas
        ),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!(status.unavailable_replicas, None);
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        cluster.condition("Progressing"),
        ("True".into(), reason::NEW_RS_AVAILABLE.into())
    );
    assert_eq!(
        cluster.condition("Available"),
        ("True".into(), reason::MINIMUM_REPLICAS_AVAILABLE.into())
    );
}

#[test]
fn should_roll_out_a_new_template_within_surge_and_unavailability() {
    let mut cluster = Cluster::new(deployment(3, "v1"));
    cluster.converge();
    cluster.set_image("v2");
    cluster.converge();
    let (old, new) = (
        cluster.rs_by_image("v1").unwrap(),
        cluster.rs_by_image("v2").unwrap(),
    );
    assert_eq!((util::rs_replicas(old), util::rs_replicas(new)), (0, 3));
    assert_eq!(util::annotation(new, util::REVISION_ANNOTATION), Some("2"));
    assert_eq!(
        cluster.d.metadata.annotations.as_ref().unwrap()[util::REVISION_ANNOTATION],
        "2"
    );
    let (old_name, new_name) = (
        old.metadata.name.clone().unwrap(),
        new.metadata.name.clone().unwrap(),
    );
    assert!(
        cluster
            .events
            .contains(&format!("Scaled up replica set {new_name} from 0 to 1")),
        "{:?}",
        cluster.events
    );
    assert!(
        cluster
            .events
            .contains(&format!("Scaled down replica set {old_name} from 3 to 2")),
        "{:?}",
        cluster.events
    );
    assert_eq!(cluster.d.status.as_ref().unwrap().updated_replicas, Some(3));
}

#[test]
fn should_surge_one_pod_first_when_none_may_be_unavailable() {
    let mut cluster = Cluster::new(deployment(3, "v1"));
    cluster.converge();
    cluster.set_image("v2");
    cluster.sync();
    assert_eq!(util::rs_replicas(cluster.rs_by_image("v2").unwrap()), 1);
    assert_eq!(util::rs_replicas(cluster.rs_by_image("v1").unwrap()), 3);
    // Without the new pod available, nothing more happens.
    cluster.settle_pods(false);
    let steps = cluster.sync();
    assert!(
        steps.iter().all(|s| matches!(s, Step::Status { .. })),
        "{steps:?}"
    );
    assert_eq!(util::rs_replicas(cluster.rs_by_image("v1").unwrap()), 3);
}

#[test]
fn should_roll_back_to_an_old_replica_set_with_a_new_revision() {
    let mut cluster = Cluster::new(deployment(3, "v1"));
    cluster.converge();
    cluster.set_image("v2");
    cluster.converge();
    cluster.set_image("v1");
    cluster.converge();
    assert_eq!(cluster.rss.len(), 2, "the old ReplicaSet is reused");
    let v1 = cluster.rs_by_image("v1").unwrap();
    assert_eq!(util::rs_replicas(v1), 3);
    assert_eq!(util::annotation(v1, util::REVISION_ANNOTATION), Some("3"));
    assert_eq!(
        util::annotation(v1, util::REVISION_HISTORY_ANNOTATION),
        Some("1")
    );
}

#[test]
fn should_scale_the_only_active_replica_set() {
    let mut cluster = Cluster::new(deployment(2, "v1"));
    cluster.converge();
    for replicas in [3, 5, 1] {
        cluster.d.spec.as_mut().unwrap().replicas = Some(replicas);
        cluster.converge();
        let rs = cluster.rs_by_image("v1").unwrap();
        assert_eq!(util::rs_replicas(rs), replicas);
        assert_eq!(
            util::annotation(rs, util::DESIRED_REPLICAS_ANNOTATION),
            Some(replicas.to_string().as_str())
        );
    }
    assert!(cluster
        .events
        .iter()
        .any(|e| e.ends_with("from 5 to 1") && e.starts_with("Scaled down")));
}

#[test]
fn should_scale_proportionally_during_a_rollout() {
    let mut d = deployment(10, "v1");
    let rolling = d
        .spec
        .as_mut()
        .unwrap()
        .strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap();
    rolling.max_surge = Some(IntOrString::Int(3));
    rolling.max_unavailable = Some(IntOrString::Int(2));
    let mut cluster = Cluster::new(d);
    cluster.converge();
    cluster.set_image("v2");
    cluster.sync();
    cluster.settle_pods(false);
    cluster.sync();
    let sizes = |c: &Cluster| {
        (
            util::rs_replicas(c.rs_by_image("v1").unwrap()),
            util::rs_replicas(c.rs_by_image("v2").unwrap()),
        )
    };
    let (old, new) = sizes(&cluster);
    assert_eq!(old + new, 13);
    cluster.d.spec.as_mut().unwrap().replicas = Some(20);
    cluster.sync();
    let (old2, new2) = sizes(&cluster);
    assert_eq!(old2 + new2, 23, "20 + surge 3");
    assert!(
        old2 > old && new2 > new,
        "both grow: {old}->{old2}, {new}->{new2}"
    );
}

#[test]
fn should_recreate_only_after_old_pods_are_gone() {
    let mut d = deployment(3, "v1");
    d.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    });
    let mut cluster = Cluster::new(d);
    cluster.converge();
    cluster.set_image("v2");
    cluster.sync();
    assert_eq!(util::rs_replicas(cluster.rs_by_image("v1").unwrap()), 0);
    assert!(
        cluster.rs_by_image("v2").is_none(),
        "no new pods while old ones run"
    );
    // Old pods still reported: wait.
    cluster.sync();
    assert!(cluster.rs_by_image("v2").is_none());
    cluster.settle_pods(true);
    cluster.sync();
    assert_eq!(util::rs_replicas(cluster.rs_by_image("v2").unwrap()), 3);
}

#[test]
fn should_wait_for_old_pods_of_a_recreate_deployment() {
    let mut d = deployment(1, "v1");
    d.spec.as_mut().unwrap().strategy = Some(DeploymentStrategy {
        type_: Some("Recreate".into()),
        rolling_update: None,
    });
    let mut cluster = Cluster::new(d);
    cluster.converge();
    cluster.set_image("v2");
    cluster.sync();
    cluster.settle_pods(true);
    let old_uid = cluster
        .rs_by_image("v1")
        .unwrap()
        .metadata
        .uid
        .clone()
        .unwrap();
    let mut pod = Pod::default();
    pod.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            uid: old_uid,
            controller: Some(true),
            ..Default::default()
        },
    ]);
    let rss: Vec<&ReplicaSet> = cluster.rss.iter().collect();
    let plan = plan(&Inputs {
        deployment: &cluster.d,
        replica_sets: &rss,
        pods: &[&pod],
        now: at(5_000),
    })
    .unwrap();
    assert!(
        !plan.steps.iter().any(|s| matches!(s, Step::Create { .. })),
        "a terminating old pod still runs"
    );
}

#[test]
fn should_not_roll_out_while_paused() {
    let mut cluster = Cluster::new(deployment(3, "v1"));
    cluster.converge();
    cluster.d.spec.as_mut().unwrap().paused = Some(true);
    cluster.set_image("v2");
    cluster.converge();
    assert!(cluster.rs_by_image("v2").is_none());
    assert_eq!(
        cluster.condition("Progressing"),
        ("Unknown".into(), reason::PAUSED.into())
    );
    cluster.d.spec.as_mut().unwrap().paused = Some(false);
    cluster.converge();
    assert_eq!(util::rs_replicas(cluster.rs_by_image("v2").unwrap()), 3);
}

#[test]
fn should_time_out_a_rollout_without_progress() {
    let mut d = deployment(1, "v1");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(10);
    let mut cluster = Cluster::new(d);
    cluster.sync();
    let plan = cluster.plan();
    assert!(
        plan.requeue_after
            .is_some_and(|after| after <= Duration::from_secs(11)),
        "{:?}",
        plan.requeue_after
    );
    cluster.clock += 20;
    cluster.sync();
    assert_eq!(
        cluster.condition("Progressing"),
        ("False".into(), reason::TIMED_OUT.into())
    );
    let status = cluster.d.status.clone().unwrap();
    let message = util::condition(&status, "Progressing")
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        message.starts_with("ReplicaSet \"web-")
            && message.ends_with("\" has timed out progressing."),
        "{message}"
    );
}

#[test]
fn should_keep_only_revision_history_limit_old_replica_sets() {
    let mut d = deployment(1, "v1");
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    let mut cluster = Cluster::new(d);
    cluster.converge();
    for image in ["v2", "v3", "v4"] {
        cluster.set_image(image);
        cluster.converge();
    }
    let images: Vec<_> = ["v1", "v2", "v3", "v4"]
        .iter()
        .filter(|i| cluster.rs_by_image(i).is_some())
        .collect();
    assert_eq!(images, [&"v3", &"v4"]);
}

#[test]
fn should_bump_the_collision_count_when_the_name_is_taken() {
    let d = deployment(1, "v1");
    let hash = util::pod_template_hash(&d.spec.as_ref().unwrap().template, None);
    let squatter = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("web-{hash}")),
            uid: Some("x".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let plan = plan(&Inputs {
        deployment: &d,
        replica_sets: &[&squatter],
        pods: &[],
        now: at(1),
    })
    .unwrap();
    assert_eq!(plan.steps.len(), 1);
    let Step::Status { patch } = &plan.steps[0] else {
        panic!("{:?}", plan.steps)
    };
    assert_eq!(patch["status"]["collisionCount"], 1);
}

#[test]
fn should_warn_about_a_selector_that_selects_everything() {
    let mut d = deployment(1, "v1");
    d.spec.as_mut().unwrap().selector = LabelSelector::default();
    let plan = plan(&Inputs {
        deployment: &d,
        replica_sets: &[],
        pods: &[],
        now: at(1),
    })
    .unwrap();
    assert_eq!(plan.warnings[0].0, "SelectingAll");
    assert!(!plan.steps.iter().any(|s| matches!(s, Step::Create { .. })));
}

#[test]
fn should_adopt_an_orphan_replica_set_that_matches() {
    let d = deployment(1, "v1");
    let mut cluster = Cluster::new(d.clone());
    cluster.sync();
    let mut orphan = cluster.rss[0].clone();
    orphan.metadata.owner_references = None;
    let plan = plan(&Inputs {
        deployment: &d,
        replica_sets: &[&orphan],
        pods: &[],
        now: at(1),
    })
    .unwrap();
    assert!(
        matches!(&plan.steps[0], Step::Adopt { .. }),
        "{:?}",
        plan.steps
    );
    assert!(!plan.steps.iter().any(|s| matches!(s, Step::Create { .. })));
}
