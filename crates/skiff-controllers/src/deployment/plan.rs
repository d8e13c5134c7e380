//! One sync of a Deployment as a pure function (`syncDeployment` and friends in
//! k8s.io/kubernetes/pkg/controller/deployment/{sync,rolling,recreate,progress}.go).
//!
//! Upstream interleaves decisions with API writes. Here the same decisions run
//! against a local copy of the Deployment and its ReplicaSets, and every write is
//! recorded as a [`Step`]; the syncer then performs the steps in order. Several
//! changes to one ReplicaSet in a sync become one patch.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use super::util::{self, reason};
use crate::claim::{self, Claim};
use crate::replicaset::patch::merge_patch_diff;

/// Why a Deployment cannot be planned for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Its selector does not parse; validation should have refused it.
    #[error("failed to parse the selector of deployment {0}: {1}")]
    Selector(String, skiff_api::selector::SelectorError),
}

/// What one sync needs to know.
pub struct Inputs<'s> {
    /// The Deployment, from the cache.
    pub deployment: &'s Deployment,
    /// Every ReplicaSet in its namespace, from the cache.
    pub replica_sets: &'s [&'s ReplicaSet],
    /// Every pod in its namespace, from the cache (Recreate waits for old pods).
    pub pods: &'s [&'s Pod],
    /// The current time.
    pub now: Timestamp,
}

/// One write, in the order the syncer must make them.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Make the Deployment the controller of an orphan ReplicaSet.
    Adopt { name: String, patch: Value },
    /// Drop the Deployment's ownership of a ReplicaSet that no longer matches.
    Release { name: String, patch: Value },
    /// Create the new ReplicaSet; `event` is the ScalingReplicaSet message.
    Create {
        replica_set: Box<ReplicaSet>,
        event: Option<String>,
    },
    /// Merge-patch a ReplicaSet; `events` are its ScalingReplicaSet messages.
    Update {
        name: String,
        patch: Value,
        events: Vec<String>,
    },
    /// Delete an old ReplicaSet beyond `revisionHistoryLimit`.
    Delete { name: String },
    /// Merge-patch the Deployment's annotations (the revision).
    Annotate { patch: Value },
    /// Merge-patch the Deployment's status subresource.
    Status { patch: Value },
}

/// The outcome of planning: the writes, Warning Events, and when to look again.
#[derive(Debug, Default)]
pub struct Plan {
    /// Writes, in order.
    pub steps: Vec<Step>,
    /// `(reason, message)` of Warning Events that need no write to succeed.
    pub warnings: Vec<(String, String)>,
    /// Look again after this long even if nothing changes (progress deadline).
    pub requeue_after: Option<Duration>,
}

/// A ReplicaSet as the sync sees it.
struct Tracked {
    /// What the cache holds; `None` for one this sync creates.
    stored: Option<Value>,
    current: ReplicaSet,
    events: Vec<String>,
}

struct World<'s> {
    inputs: &'s Inputs<'s>,
    d: Deployment,
    rss: Vec<Tracked>,
    /// Indices of `rss` in the order they were first changed.
    touched: Vec<usize>,
    deleted: Vec<String>,
    warnings: Vec<(String, String)>,
    /// A hash collision stops the sync after recording the new collision count.
    halted: bool,
    requeue_after: Option<Duration>,
}

/// Plans one sync of a Deployment.
pub fn plan(inputs: &Inputs<'_>) -> Result<Plan, Error> {
    let d = inputs.deployment;
    let name = d.metadata.name.clone().unwrap_or_default();
    let selector_spec = d
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    let mut steps = Vec::new();
    let mut world = World {
        inputs,
        d: d.clone(),
        rss: Vec::new(),
        touched: Vec::new(),
        deleted: Vec::new(),
        warnings: Vec::new(),
        halted: false,
        requeue_after: None,
    };

    if claim::selects_everything(&selector_spec) {
        world.warnings.push((
            "SelectingAll".into(),
            "This deployment is selecting all pods. A non-empty selector is required.".into(),
        ));
        let mut status = d.status.clone().unwrap_or_default();
        if status.observed_generation < d.metadata.generation {
            status.observed_generation = d.metadata.generation;
            world.d.status = Some(status);
        }
        return Ok(world.finish(steps));
    }
    let selector = claim::selector(&selector_spec).map_err(|e| Error::Selector(name, e))?;
    let owner_uid = d.metadata.uid.clone().unwrap_or_default();
    for rs in inputs.replica_sets {
        match claim::claim(&d.metadata, &selector, &rs.metadata) {
            Claim::Owned => world.track(rs),
            Claim::Adopt => {
                let patch = claim::adopt_patch(&rs.metadata, &claim::controller_ref(d));
                steps.push(Step::Adopt {
                    name: rs.metadata.name.clone().unwrap_or_default(),
                    patch,
                });
                world.track(rs);
            }
            Claim::Release => {
                let patch = claim::release_patch(&rs.metadata, &owner_uid);
                steps.push(Step::Release {
                    name: rs.metadata.name.clone().unwrap_or_default(),
                    patch,
                });
            }
            Claim::Ignore => {}
        }
    }
    world.sync_deployment();
    Ok(world.finish(steps))
}

impl<'s> World<'s> {
    fn track(&mut self, rs: &ReplicaSet) {
        self.rss.push(Tracked {
            stored: Some(json!(rs)),
            current: rs.clone(),
            events: Vec::new(),
        });
    }

    fn status(&mut self) -> &mut DeploymentStatus {
        self.d.status.get_or_insert_with(Default::default)
    }

    fn name(&self) -> String {
        self.d.metadata.name.clone().unwrap_or_default()
    }

    fn replicas(&self) -> i32 {
        util::replicas(&self.d)
    }

    fn paused(&self) -> bool {
        self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
    }

    fn rs(&self, index: usize) -> &ReplicaSet {
        &self.rss[index].current
    }

    /// `syncDeployment` after claiming.
    fn sync_deployment(&mut self) {
        if self.d.metadata.deletion_timestamp.is_some() {
            let (new, old) = self.all_replica_sets(false);
            self.sync_status_only(new, &old);
            return;
        }
        self.check_paused_conditions();
        if self.paused() {
            return self.sync_scale();
        }
        let (new, old) = self.all_replica_sets(false);
        if self.halted {
            return;
        }
        if self.is_scaling_event(new, &old) {
            return self.sync_scale();
        }
        if util::is_rolling_update(&self.d) {
            self.rollout_rolling();
        } else {
            self.rollout_recreate();
        }
    }

    /// `checkPausedConditions`.
    fn check_paused_conditions(&mut self) {
        if util::progress_deadline_seconds(&self.d).is_none() {
            return;
        }
        let status = self.d.status.clone().unwrap_or_default();
        let current = util::condition(&status, "Progressing");
        if current.is_some_and(|c| c.reason.as_deref() == Some(reason::TIMED_OUT)) {
            return;
        }
        let paused_condition = current.is_some_and(|c| c.reason.as_deref() == Some(reason::PAUSED));
        let now = self.inputs.now;
        if self.paused() && !paused_condition {
            let condition = util::new_condition(
                "Progressing",
                "Unknown",
                reason::PAUSED,
                "Deployment is paused".into(),
                now,
            );
            util::set_condition(self.status(), condition);
        } else if !self.paused() && paused_condition {
            let condition = util::new_condition(
                "Progressing",
                "Unknown",
                reason::RESUMED,
                "Deployment is resumed".into(),
                now,
            );
            util::set_condition(self.status(), condition);
        }
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created if asked) and the old ones.
    fn all_replica_sets(&mut self, create: bool) -> (Option<usize>, Vec<usize>) {
        let new = self.get_new_replica_set(create);
        let old = (0..self.rss.len()).filter(|i| Some(*i) != new).collect();
        (new, old)
    }

    /// `FindNewReplicaSet`: the oldest ReplicaSet whose template equals the Deployment's.
    fn find_new(&self) -> Option<usize> {
        let template = self
            .d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let mut indices: Vec<usize> = (0..self.rss.len()).collect();
        indices.sort_by(|a, b| util::by_creation(self.rs(*a), self.rs(*b)));
        indices.into_iter().find(|i| {
            let rs_template = self
                .rs(*i)
                .spec
                .as_ref()
                .and_then(|s| s.template.clone())
                .unwrap_or_default();
            util::equal_ignore_hash(&rs_template, &template)
        })
    }

    /// `getNewReplicaSet`.
    fn get_new_replica_set(&mut self, create: bool) -> Option<usize> {
        let existing = self.find_new();
        let max_old_revision = (0..self.rss.len())
            .filter(|i| Some(*i) != existing)
            .map(|i| util::revision(self.rs(i)))
            .max()
            .unwrap_or(0);
        let new_revision = max_old_revision + 1;
        let min_ready_seconds = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let now = self.inputs.now;

        if let Some(index) = existing {
            let mut copy = self.rs(index).clone();
            let annotations_changed =
                util::set_new_replica_set_annotations(&self.d, &mut copy, new_revision, true);
            let spec = copy.spec.get_or_insert_with(Default::default);
            let min_ready_changed =
                spec.min_ready_seconds.unwrap_or(0) != min_ready_seconds.unwrap_or(0);
            if annotations_changed || min_ready_changed {
                spec.min_ready_seconds = min_ready_seconds;
                self.update(index, copy, None);
                return Some(index);
            }
            let revision = util::annotation(&copy, util::REVISION_ANNOTATION)
                .unwrap_or_default()
                .to_string();
            self.set_deployment_revision(&revision);
            let has_progressing = util::condition(self.status(), "Progressing").is_some();
            if util::progress_deadline_seconds(&self.d).is_some() && !has_progressing {
                let message = format!(
                    "Found new replica set {:?}",
                    copy.metadata.name.as_deref().unwrap_or_default()
                );
                let condition = util::new_condition(
                    "Progressing",
                    "True",
                    reason::FOUND_NEW_REPLICA_SET,
                    message,
                    now,
                );
                util::set_condition(self.status(), condition);
            }
            return Some(index);
        }
        if !create {
            return None;
        }

        let spec = self.d.spec.clone().unwrap_or_default();
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = util::pod_template_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let metadata = template.metadata.get_or_insert_with(Default::default);
        metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(util::POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let labels = metadata.labels.clone();
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(util::POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let name = format!("{}-{hash}", self.name());

        if let Some(existing) = self
            .inputs
            .replica_sets
            .iter()
            .find(|rs| rs.metadata.name.as_deref() == Some(&name))
        {
            let ours = claim::controller_of(&existing.metadata)
                .is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
            let same = util::equal_ignore_hash(
                &existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.clone())
                    .unwrap_or_default(),
                &spec.template,
            );
            if !(ours && same) {
                // A hash collision: bump the count so the next sync hashes differently.
                let status = self.status();
                status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
            }
            self.halted = true;
            self.requeue_after = Some(Duration::from_millis(100));
            return None;
        }

        let mut rs = ReplicaSet {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.clone()),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![claim::controller_ref(&self.d)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let total: i32 = self.rss.iter().map(|t| util::rs_replicas(&t.current)).sum();
        let new_replicas = self.new_rs_new_replicas(0, total);
        rs.spec.as_mut().expect("just set").replicas = Some(new_replicas);
        util::set_new_replica_set_annotations(&self.d, &mut rs, new_revision, false);
        let mut events = Vec::new();
        if new_replicas > 0 {
            events.push(format!(
                "Scaled up replica set {name} from 0 to {new_replicas}"
            ));
        }
        self.rss.push(Tracked {
            stored: None,
            current: rs,
            events,
        });
        let index = self.rss.len() - 1;
        self.touched.push(index);
        self.set_deployment_revision(&new_revision.to_string());
        if util::progress_deadline_seconds(&self.d).is_some() {
            let message = format!("Created new replica set {name:?}");
            let condition =
                util::new_condition("Progressing", "True", reason::NEW_REPLICA_SET, message, now);
            util::set_condition(self.status(), condition);
        }
        Some(index)
    }

    fn set_deployment_revision(&mut self, revision: &str) {
        let annotations = self
            .d
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        if annotations
            .get(util::REVISION_ANNOTATION)
            .map(String::as_str)
            != Some(revision)
        {
            annotations.insert(util::REVISION_ANNOTATION.into(), revision.into());
        }
    }

    /// `NewRSNewReplicas`: how big the new ReplicaSet may be now, given its size
    /// and the total of all ReplicaSets' sizes.
    fn new_rs_new_replicas(&self, new_size: i32, total: i32) -> i32 {
        if !util::is_rolling_update(&self.d) {
            return self.replicas();
        }
        let max_total = self.replicas() + util::max_surge(&self.d);
        if total >= max_total {
            return new_size;
        }
        new_size + (max_total - total).min(self.replicas() - new_size)
    }

    fn update(&mut self, index: usize, replica_set: ReplicaSet, event: Option<String>) {
        if !self.touched.contains(&index) {
            self.touched.push(index);
        }
        let tracked = &mut self.rss[index];
        tracked.current = replica_set;
        tracked.events.extend(event);
    }

    /// `scaleReplicaSetAndRecordEvent`.
    fn scale_and_record(&mut self, index: usize, new_scale: i32) -> bool {
        let current = util::rs_replicas(self.rs(index));
        if current == new_scale {
            return false;
        }
        let operation = if current < new_scale { "up" } else { "down" };
        self.scale(index, new_scale, operation)
    }

    /// `scaleReplicaSet`: the new size and replicas annotations, and an Event.
    fn scale(&mut self, index: usize, new_scale: i32, operation: &str) -> bool {
        let (desired, max) = (self.replicas(), self.replicas() + util::max_surge(&self.d));
        let rs = self.rs(index);
        let old_scale = util::rs_replicas(rs);
        let size_changed = old_scale != new_scale;
        if !size_changed && !util::replicas_annotations_need_update(rs, desired, max) {
            return false;
        }
        let mut copy = rs.clone();
        copy.spec.get_or_insert_with(Default::default).replicas = Some(new_scale);
        util::set_replicas_annotations(&mut copy, desired, max);
        let name = copy.metadata.name.clone().unwrap_or_default();
        let event = size_changed.then(|| {
            format!("Scaled {operation} replica set {name} from {old_scale} to {new_scale}")
        });
        self.update(index, copy, event);
        size_changed
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for another `replicas`.
    fn is_scaling_event(&self, new: Option<usize>, old: &[usize]) -> bool {
        new.iter()
            .chain(old)
            .map(|i| self.rs(*i))
            .filter(|rs| util::rs_replicas(rs) > 0)
            .any(|rs| {
                util::annotation(rs, util::DESIRED_REPLICAS_ANNOTATION)
                    .and_then(|v| v.parse::<i32>().ok())
                    .is_some_and(|desired| desired != self.replicas())
            })
    }

    /// `sync`: scale without rolling out (paused, or `replicas` changed).
    fn sync_scale(&mut self) {
        let (new, old) = self.all_replica_sets(false);
        if self.halted {
            return;
        }
        self.proportional_scale(new, &old);
        if self.paused() {
            self.cleanup(&old);
        }
        self.sync_status_only(new, &old);
    }

    fn sync_status_only(&mut self, new: Option<usize>, _old: &[usize]) {
        let status = self.calculate_status(new);
        self.d.status = Some(status);
    }

    /// `scale`: spread a change of `replicas` over the active ReplicaSets in
    /// proportion to their sizes.
    fn proportional_scale(&mut self, new: Option<usize>, old: &[usize]) {
        let replicas = self.replicas();
        if let Some(index) = self.active_or_latest(new, old) {
            if util::rs_replicas(self.rs(index)) != replicas {
                self.scale_and_record(index, replicas);
            }
            return;
        }
        if new.is_some_and(|n| util::is_saturated(&self.d, self.rs(n))) {
            let active: Vec<usize> = old
                .iter()
                .copied()
                .filter(|i| util::rs_replicas(self.rs(*i)) > 0)
                .collect();
            for index in active {
                self.scale_and_record(index, 0);
            }
            return;
        }
        if !util::is_rolling_update(&self.d) {
            return;
        }
        let mut active: Vec<usize> = new
            .iter()
            .chain(old)
            .copied()
            .filter(|i| util::rs_replicas(self.rs(*i)) > 0)
            .collect();
        let current: i32 = active.iter().map(|i| util::rs_replicas(self.rs(*i))).sum();
        let allowed = if replicas > 0 {
            replicas + util::max_surge(&self.d)
        } else {
            0
        };
        let to_add = allowed - current;
        let operation = match to_add.cmp(&0) {
            std::cmp::Ordering::Greater => {
                active.sort_by(|a, b| util::by_size_newer(self.rs(*a), self.rs(*b)));
                "up"
            }
            std::cmp::Ordering::Less => {
                active.sort_by(|a, b| util::by_size_older(self.rs(*a), self.rs(*b)));
                "down"
            }
            std::cmp::Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes = Vec::new();
        for &index in &active {
            let size = util::rs_replicas(self.rs(index));
            if to_add != 0 {
                let proportion = self.proportion(self.rs(index), to_add, added);
                sizes.push(size + proportion);
                added += proportion;
            } else {
                sizes.push(size);
            }
        }
        for (position, &index) in active.iter().enumerate() {
            let mut size = sizes[position];
            if position == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale(index, size, operation);
        }
    }

    /// `GetReplicaSetProportion`.
    fn proportion(&self, rs: &ReplicaSet, to_add: i32, added: i32) -> i32 {
        let size = util::rs_replicas(rs);
        if size == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = self.fraction(rs);
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// `getReplicaSetFraction`.
    fn fraction(&self, rs: &ReplicaSet) -> i32 {
        let size = util::rs_replicas(rs);
        if self.replicas() == 0 {
            return -size;
        }
        let max_now = self.replicas() + util::max_surge(&self.d);
        let max_before = util::annotation(rs, util::MAX_REPLICAS_ANNOTATION)
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|v| *v != 0)
            .unwrap_or_else(|| {
                self.d
                    .status
                    .as_ref()
                    .map(|s| s.replicas.unwrap_or(0))
                    .unwrap_or(0)
            });
        if max_before == 0 {
            return 0;
        }
        let scaled = f64::from(size) * f64::from(max_now) / f64::from(max_before);
        scaled.round() as i32 - size
    }

    /// `FindActiveOrLatest`: the only active ReplicaSet, or the newest if none is.
    fn active_or_latest(&self, new: Option<usize>, old: &[usize]) -> Option<usize> {
        let mut old = old.to_vec();
        old.sort_by(|a, b| util::by_creation(self.rs(*b), self.rs(*a)));
        let active: Vec<usize> = old
            .iter()
            .chain(new.iter())
            .copied()
            .filter(|i| util::rs_replicas(self.rs(*i)) > 0)
            .collect();
        match active.len() {
            0 => new.or_else(|| old.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    /// `rolloutRolling`.
    fn rollout_rolling(&mut self) {
        let (new, old) = self.all_replica_sets(true);
        if self.halted {
            return;
        }
        let Some(new) = new else {
            return;
        };
        if self.reconcile_new(new) {
            return self.sync_rollout_status(Some(new));
        }
        let active_old: Vec<usize> = old
            .iter()
            .copied()
            .filter(|i| util::rs_replicas(self.rs(*i)) > 0)
            .collect();
        if self.reconcile_old(new, &old, active_old) {
            return self.sync_rollout_status(Some(new));
        }
        let status = self.d.status.clone().unwrap_or_default();
        if self.complete(&status) {
            self.cleanup(&old);
        }
        self.sync_rollout_status(Some(new));
    }

    /// `reconcileNewReplicaSet`.
    fn reconcile_new(&mut self, new: usize) -> bool {
        let size = util::rs_replicas(self.rs(new));
        let replicas = self.replicas();
        if size == replicas {
            return false;
        }
        if size > replicas {
            return self.scale_and_record(new, replicas);
        }
        let total = self.rss.iter().map(|t| util::rs_replicas(&t.current)).sum();
        let target = self.new_rs_new_replicas(size, total);
        self.scale_and_record(new, target)
    }

    /// `reconcileOldReplicaSets`.
    fn reconcile_old(&mut self, new: usize, all_old: &[usize], mut old: Vec<usize>) -> bool {
        let old_count: i32 = old.iter().map(|i| util::rs_replicas(self.rs(*i))).sum();
        if old_count == 0 {
            return false;
        }
        let _ = all_old;
        let all_count: i32 = self.rss.iter().map(|t| util::rs_replicas(&t.current)).sum();
        let min_available = self.replicas() - util::max_unavailable(&self.d);
        let new_unavailable = util::rs_replicas(self.rs(new)) - util::rs_available(self.rs(new));
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return false;
        }
        // Unhealthy replicas first, so that they cannot block the rollout (kubernetes#16737).
        old.sort_by(|a, b| util::by_creation(self.rs(*a), self.rs(*b)));
        let mut cleaned = 0;
        for &index in &old {
            if cleaned >= max_scaled_down {
                break;
            }
            let (size, available) = (
                util::rs_replicas(self.rs(index)),
                util::rs_available(self.rs(index)),
            );
            if size == 0 || size == available {
                continue;
            }
            let count = (max_scaled_down - cleaned).min(size - available);
            self.scale_and_record(index, size - count);
            cleaned += count;
        }
        // Then healthy ones, as far as availability allows.
        let available: i32 = self
            .rss
            .iter()
            .map(|t| util::rs_available(&t.current))
            .sum();
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for &index in &old {
                if scaled >= total {
                    break;
                }
                let size = util::rs_replicas(self.rs(index));
                if size == 0 {
                    continue;
                }
                let count = size.min(total - scaled);
                self.scale_and_record(index, size - count);
                scaled += count;
            }
        }
        cleaned + scaled > 0
    }

    /// `rolloutRecreate`.
    fn rollout_recreate(&mut self) {
        let (mut new, mut old) = self.all_replica_sets(false);
        let active_old: Vec<usize> = old
            .iter()
            .copied()
            .filter(|i| util::rs_replicas(self.rs(*i)) > 0)
            .collect();
        let mut scaled_down = false;
        for index in active_old {
            scaled_down |= self.scale_and_record(index, 0);
        }
        if scaled_down || self.old_pods_running(new, &old) {
            return self.sync_rollout_status(new);
        }
        if new.is_none() {
            (new, old) = self.all_replica_sets(true);
            if self.halted {
                return;
            }
        }
        if let Some(index) = new {
            self.scale_and_record(index, self.replicas());
        }
        let status = self.d.status.clone().unwrap_or_default();
        if self.complete(&status) {
            self.cleanup(&old);
        }
        self.sync_rollout_status(new);
    }

    /// `oldPodsRunning`: old ReplicaSets still report pods, or their pods are not finished.
    fn old_pods_running(&self, new: Option<usize>, old: &[usize]) -> bool {
        if old
            .iter()
            .map(|i| util::rs_actual(self.rs(*i)))
            .sum::<i32>()
            > 0
        {
            return true;
        }
        let new_uid = new.and_then(|i| self.rs(i).metadata.uid.clone());
        let old_uids: Vec<String> = old
            .iter()
            .filter_map(|i| self.rs(*i).metadata.uid.clone())
            .collect();
        self.inputs.pods.iter().any(|pod| {
            let owner = claim::controller_of(&pod.metadata).map(|r| r.uid.clone());
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            owner.is_some_and(|uid| old_uids.contains(&uid) && Some(&uid) != new_uid.as_ref())
                && !matches!(phase, Some("Failed") | Some("Succeeded"))
        })
    }

    /// `cleanupDeployment`: delete the oldest empty ReplicaSets beyond the history limit.
    fn cleanup(&mut self, old: &[usize]) {
        let Some(limit) = util::revision_history_limit(&self.d) else {
            return;
        };
        let mut cleanable: Vec<usize> = old
            .iter()
            .copied()
            .filter(|i| {
                self.rs(*i).metadata.deletion_timestamp.is_none() && self.rss[*i].stored.is_some()
            })
            .collect();
        let excess = cleanable.len() as i32 - limit;
        if excess <= 0 {
            return;
        }
        cleanable.sort_by(|a, b| util::by_revision(self.rs(*a), self.rs(*b)));
        for &index in cleanable.iter().take(excess as usize) {
            let rs = self.rs(index);
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if util::rs_actual(rs) != 0
                || util::rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            self.deleted
                .push(rs.metadata.name.clone().unwrap_or_default());
        }
    }

    /// `DeploymentComplete`.
    fn complete(&self, status: &DeploymentStatus) -> bool {
        let replicas = self.replicas();
        status.updated_replicas.unwrap_or(0) == replicas
            && status.replicas.unwrap_or(0) == replicas
            && status.available_replicas.unwrap_or(0) == replicas
            && status.observed_generation >= self.d.metadata.generation
    }

    /// `calculateStatus`.
    fn calculate_status(&self, new: Option<usize>) -> DeploymentStatus {
        let sum = |f: fn(&ReplicaSet) -> i32| self.rss.iter().map(|t| f(&t.current)).sum::<i32>();
        let available = sum(util::rs_available);
        let total = sum(util::rs_replicas);
        let nonzero = |n: i32| (n != 0).then_some(n);
        let previous = self.d.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: nonzero(sum(util::rs_actual)),
            updated_replicas: nonzero(new.map(|i| util::rs_actual(self.rs(i))).unwrap_or(0)),
            ready_replicas: nonzero(sum(util::rs_ready)),
            available_replicas: nonzero(available),
            unavailable_replicas: nonzero((total - available).max(0)),
            collision_count: previous.collision_count,
            conditions: previous.conditions.clone(),
            terminating_replicas: previous.terminating_replicas,
        };
        let now = self.inputs.now;
        let condition = if available >= self.replicas() - util::max_unavailable(&self.d) {
            util::new_condition(
                "Available",
                "True",
                reason::MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
                now,
            )
        } else {
            util::new_condition(
                "Available",
                "False",
                reason::MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                now,
            )
        };
        util::set_condition(&mut status, condition);
        status
    }

    /// `syncRolloutStatus`: the status, the Progressing condition, and when to check
    /// the progress deadline again.
    fn sync_rollout_status(&mut self, new: Option<usize>) {
        let mut status = self.calculate_status(new);
        let deadline = util::progress_deadline_seconds(&self.d);
        if deadline.is_none() {
            util::remove_condition(&mut status, "Progressing");
        }
        let previous = self.d.status.clone().unwrap_or_default();
        let current = util::condition(&previous, "Progressing").cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(reason::NEW_RS_AVAILABLE));
        let new_name = new.map(|i| self.rs(i).metadata.name.clone().unwrap_or_default());
        let now = self.inputs.now;
        if deadline.is_some() && !complete_before {
            if self.complete(&status) {
                let message = match &new_name {
                    Some(name) => format!("ReplicaSet {name:?} has successfully progressed."),
                    None => format!("Deployment {:?} has successfully progressed.", self.name()),
                };
                util::set_condition(
                    &mut status,
                    util::new_condition(
                        "Progressing",
                        "True",
                        reason::NEW_RS_AVAILABLE,
                        message,
                        now,
                    ),
                );
            } else if progressing(&previous, &status) {
                let message = match &new_name {
                    Some(name) => format!("ReplicaSet {name:?} is progressing."),
                    None => format!("Deployment {:?} is progressing.", self.name()),
                };
                let mut condition = util::new_condition(
                    "Progressing",
                    "True",
                    reason::REPLICA_SET_UPDATED,
                    message,
                    now,
                );
                if let Some(current) = &current {
                    if current.status == "True" {
                        condition.last_transition_time = current.last_transition_time.clone();
                    }
                    util::remove_condition(&mut status, "Progressing");
                }
                util::set_condition(&mut status, condition);
            } else if self.timed_out(&status) {
                let message = match &new_name {
                    Some(name) => format!("ReplicaSet {name:?} has timed out progressing."),
                    None => format!("Deployment {:?} has timed out progressing.", self.name()),
                };
                util::set_condition(
                    &mut status,
                    util::new_condition("Progressing", "False", reason::TIMED_OUT, message, now),
                );
            }
        }
        // Surface a ReplicaFailure of the new (else any) ReplicaSet (`getReplicaFailures`).
        let failure = new
            .into_iter()
            .chain(0..self.rss.len())
            .filter_map(|i| {
                self.rs(i)
                    .status
                    .as_ref()?
                    .conditions
                    .as_ref()?
                    .iter()
                    .find(|c| c.type_ == "ReplicaFailure")
                    .cloned()
            })
            .next();
        match failure {
            Some(c) => util::set_condition(
                &mut status,
                k8s_openapi::api::apps::v1::DeploymentCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                    last_update_time: c.last_transition_time.clone(),
                    last_transition_time: c.last_transition_time,
                },
            ),
            None => util::remove_condition(&mut status, "ReplicaFailure"),
        }
        self.requeue_after = self.stuck_requeue(&status);
        self.d.status = Some(status);
    }

    /// `DeploymentTimedOut`.
    fn timed_out(&self, status: &DeploymentStatus) -> bool {
        let Some(deadline) = util::progress_deadline_seconds(&self.d) else {
            return false;
        };
        let Some(condition) = util::condition(status, "Progressing") else {
            return false;
        };
        match condition.reason.as_deref() {
            Some(reason::NEW_RS_AVAILABLE) => false,
            Some(reason::TIMED_OUT) => true,
            _ => condition.last_update_time.as_ref().is_some_and(|from| {
                from.0.as_second() + i64::from(deadline) < self.inputs.now.as_second()
            }),
        }
    }

    /// `requeueStuckDeployment`: when to check the deadline if nothing else happens.
    fn stuck_requeue(&self, status: &DeploymentStatus) -> Option<Duration> {
        let deadline = util::progress_deadline_seconds(&self.d)?;
        let condition = util::condition(status, "Progressing")?;
        if self.complete(status) || condition.reason.as_deref() == Some(reason::TIMED_OUT) {
            return None;
        }
        let from = condition.last_update_time.as_ref()?.0.as_second();
        let after = from + i64::from(deadline) - self.inputs.now.as_second();
        Some(Duration::from_secs(after.max(0) as u64 + 1))
    }

    /// Turns the local changes into writes.
    fn finish(self, mut steps: Vec<Step>) -> Plan {
        let original = self.inputs.deployment;
        for &index in &self.touched {
            let tracked = &self.rss[index];
            match &tracked.stored {
                None => steps.push(Step::Create {
                    replica_set: Box::new(tracked.current.clone()),
                    event: tracked.events.first().cloned(),
                }),
                Some(stored) => {
                    let mut patch = merge_patch_diff(stored, &json!(tracked.current))
                        .unwrap_or_else(|| json!({}));
                    if let Some(metadata) = patch.get_mut("metadata").and_then(Value::as_object_mut)
                    {
                        metadata.insert(
                            "resourceVersion".into(),
                            json!(tracked.current.metadata.resource_version),
                        );
                    } else {
                        patch["metadata"] =
                            json!({"resourceVersion": tracked.current.metadata.resource_version});
                    }
                    let name = tracked.current.metadata.name.clone().unwrap_or_default();
                    steps.push(Step::Update {
                        name,
                        patch,
                        events: tracked.events.clone(),
                    });
                }
            }
        }
        steps.extend(
            self.deleted
                .iter()
                .map(|name| Step::Delete { name: name.clone() }),
        );
        if let Some(patch) = merge_patch_diff(
            &json!(original.metadata.annotations),
            &json!(self.d.metadata.annotations),
        ) {
            steps.push(Step::Annotate {
                patch: json!({"metadata": {"annotations": patch}}),
            });
        }
        let before = json!(original.status.clone().unwrap_or_default());
        if let Some(patch) =
            merge_patch_diff(&before, &json!(self.d.status.clone().unwrap_or_default()))
        {
            steps.push(Step::Status {
                patch: json!({"status": patch}),
            });
        }
        Plan {
            steps,
            warnings: self.warnings,
            requeue_after: self.requeue_after,
        }
    }
}

/// `DeploymentProgressing`: more updated, fewer old, or more ready or available replicas.
fn progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

#[cfg(test)]
mod tests;
