//! The thin syncer around the pure decision: it watches pods and nodes into the
//! cache and the queue, makes one decision at a time, and writes bindings,
//! PodScheduled conditions and events concurrently, a bounded number at a time.
//!
//! As in kube-scheduler (`pkg/scheduler/schedule_one.go`), the scheduling cycle
//! is serial and cheap (the pod is *assumed* on its node in the cache at once),
//! while the binding cycle is asynchronous, so throughput is bounded by the API
//! server rather than by one round trip per pod.

use std::collections::{HashMap, HashSet};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use rand::SeedableRng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::algorithm::{self, Decision};
use crate::cache::{Cache, PlacedPod};
use crate::events::{self, EventType, Recorder};
use crate::filter::{self, PodFacts};
use crate::queue::SchedulingQueue;

/// The scheduler name pods must carry (or leave empty) to be ours.
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// How many bindings may be in flight at once.
pub const MAX_BINDINGS_IN_FLIGHT: usize = 64;
/// How many condition and event writes may be in flight at once.
pub const MAX_STATUS_WRITES_IN_FLIGHT: usize = 16;
/// How often every unschedulable pod is retried regardless of events
/// (upstream flushes its unschedulable pods on a timer too).
pub const UNSCHEDULABLE_FLUSH_INTERVAL: Duration = Duration::from_secs(30);
/// How often a binding is tried when a concurrent write to the pod conflicts.
const BIND_ATTEMPTS: u32 = 3;
/// How many decisions one turn of the loop makes before looking at events again.
const DECISIONS_PER_TURN: usize = 32;

/// Failures that stop the syncer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A watch stream ended, which kube's watcher never does on its own.
    #[error("failed to keep watching {0}: the stream ended")]
    WatchEnded(&'static str),
}

/// The outcome of one binding.
struct BindOutcome {
    key: String,
    pod: Arc<Pod>,
    node: String,
    result: Result<(), kube::Error>,
}

/// The FailedScheduling event last written for a pod, to count repeats.
struct FailureEvent {
    uid: String,
    name: String,
    namespace: String,
    message: String,
    count: i32,
}

/// The scheduler's state, owned by one task.
struct Syncer {
    client: Client,
    recorder: Recorder,
    cache: Cache,
    queue: SchedulingQueue,
    rng: rand::rngs::StdRng,
    bindings: JoinSet<BindOutcome>,
    /// PodScheduled=False writes; each yields its pod's key when done, and the
    /// pod stays in flight until then so no later binding races the write.
    condition_writes: JoinSet<String>,
    status_writes: Arc<Semaphore>,
    failure_events: HashMap<String, FailureEvent>,
    pods_synced: bool,
    nodes_synced: bool,
    pod_buffer: Vec<Pod>,
    node_buffer: Vec<Node>,
}

/// Watches and schedules until a watch ends.
pub async fn run(client: Client) -> Result<(), Error> {
    let pods = watcher(Api::<Pod>::all(client.clone()));
    let nodes = watcher(Api::<Node>::all(client.clone()));
    let mut pods = pin!(pods);
    let mut nodes = pin!(nodes);
    let mut syncer = Syncer {
        recorder: Recorder::new(client.clone()),
        client,
        cache: Cache::default(),
        queue: SchedulingQueue::default(),
        rng: rand::rngs::StdRng::from_rng(&mut rand::rng()),
        bindings: JoinSet::new(),
        condition_writes: JoinSet::new(),
        status_writes: Arc::new(Semaphore::new(MAX_STATUS_WRITES_IN_FLIGHT)),
        failure_events: HashMap::new(),
        pods_synced: false,
        nodes_synced: false,
        pod_buffer: Vec::new(),
        node_buffer: Vec::new(),
    };
    let mut flush = tokio::time::interval(UNSCHEDULABLE_FLUSH_INTERVAL);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let can_schedule = syncer.pods_synced
            && syncer.nodes_synced
            && syncer.queue.has_active()
            && syncer.bindings.len() < MAX_BINDINGS_IN_FLIGHT;
        let backoff_expiry = syncer.queue.next_backoff_expiry();
        let far_future = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            event = pods.next() => syncer.on_pod_event(event.ok_or(Error::WatchEnded("pods"))?),
            event = nodes.next() => syncer.on_node_event(event.ok_or(Error::WatchEnded("nodes"))?),
            Some(outcome) = syncer.bindings.join_next(), if !syncer.bindings.is_empty() => match outcome {
                Ok(outcome) => syncer.on_bound(outcome),
                Err(error) => tracing::error!(%error, "a binding task failed"),
            },
            Some(written) = syncer.condition_writes.join_next(), if !syncer.condition_writes.is_empty() => match written {
                Ok(key) => syncer.queue.mark_unschedulable(&key, Instant::now().into_std()),
                Err(error) => tracing::error!(%error, "a condition write task failed"),
            },
            _ = flush.tick() => syncer.queue.move_all_unschedulable(Instant::now().into_std()),
            _ = tokio::time::sleep_until(backoff_expiry.map_or(far_future, Instant::from_std)), if backoff_expiry.is_some() => {
                syncer.queue.flush_backoff(Instant::now().into_std());
            }
            _ = std::future::ready(()), if can_schedule => syncer.schedule_some(),
        }
    }
}

fn watcher<K>(api: Api<K>) -> impl Stream<Item = Result<WatchEvent<K>, watcher::Error>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default()).default_backoff()
}

/// `namespace/name`.
fn key_of(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// Succeeded and Failed pods hold no resources; upstream's pod informer leaves them out.
fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// An unbound pod this scheduler should place: not being deleted, and naming
/// this scheduler or none.
fn is_ours(pod: &Pod) -> bool {
    let scheduler = pod
        .spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or_default();
    pod.metadata.deletion_timestamp.is_none()
        && (scheduler.is_empty() || scheduler == SCHEDULER_NAME)
}

/// The PodScheduled=False condition for `message`, or `None` when the pod
/// already carries exactly that condition (so retries do not rewrite it).
fn unschedulable_conditions(pod: &Pod, message: &str, now: Timestamp) -> Option<Vec<PodCondition>> {
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let previous = conditions.iter().find(|c| c.type_ == "PodScheduled");
    if let Some(previous) = previous {
        if previous.status == "False"
            && previous.reason.as_deref() == Some("Unschedulable")
            && previous.message.as_deref() == Some(message)
        {
            return None;
        }
    }
    let transition = match previous {
        Some(previous) if previous.status == "False" => previous.last_transition_time.clone(),
        _ => Some(Time(now)),
    };
    let condition = PodCondition {
        type_: "PodScheduled".to_string(),
        status: "False".to_string(),
        reason: Some("Unschedulable".to_string()),
        message: Some(message.to_string()),
        last_transition_time: transition,
        ..PodCondition::default()
    };
    let mut next: Vec<PodCondition> = conditions
        .into_iter()
        .filter(|c| c.type_ != "PodScheduled")
        .collect();
    next.push(condition);
    Some(next)
}

impl Syncer {
    fn on_pod_event(&mut self, event: Result<WatchEvent<Pod>, watcher::Error>) {
        match event {
            Ok(WatchEvent::Apply(pod)) => self.apply_pod(pod),
            Ok(WatchEvent::Delete(pod)) => self.delete_pod(&pod),
            Ok(WatchEvent::Init) => self.pod_buffer.clear(),
            Ok(WatchEvent::InitApply(pod)) => self.pod_buffer.push(pod),
            Ok(WatchEvent::InitDone) => {
                let listed = std::mem::take(&mut self.pod_buffer);
                self.replace_pods(listed);
                self.pods_synced = true;
            }
            Err(error) => tracing::warn!(%error, "watching pods failed; retrying"),
        }
    }

    fn on_node_event(&mut self, event: Result<WatchEvent<Node>, watcher::Error>) {
        let now = Instant::now().into_std();
        match event {
            Ok(WatchEvent::Apply(node)) => {
                let name = node.metadata.name.clone().unwrap_or_default();
                if self.cache.set_node(node) {
                    self.retry_pods_that_fit(&name);
                }
            }
            Ok(WatchEvent::Delete(node)) => self
                .cache
                .remove_node(node.metadata.name.as_deref().unwrap_or_default()),
            Ok(WatchEvent::Init) => self.node_buffer.clear(),
            Ok(WatchEvent::InitApply(node)) => self.node_buffer.push(node),
            Ok(WatchEvent::InitDone) => {
                let listed = std::mem::take(&mut self.node_buffer);
                let names: HashSet<String> = listed
                    .iter()
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                for name in self.cache.node_names() {
                    if !names.contains(&name) {
                        self.cache.remove_node(&name);
                    }
                }
                for node in listed {
                    self.cache.set_node(node);
                }
                self.nodes_synced = true;
                self.queue.move_all_unschedulable(now);
            }
            Err(error) => tracing::warn!(%error, "watching nodes failed; retrying"),
        }
    }

    fn apply_pod(&mut self, pod: Pod) {
        let key = key_of(&pod);
        let now = Instant::now().into_std();
        if is_terminal(&pod) {
            self.delete_pod(&pod);
            return;
        }
        if let Some(placed) = PlacedPod::bound(&pod) {
            self.forget_pending(&key);
            self.cache.place(&key, placed);
        } else if is_ours(&pod) {
            self.queue.upsert(&key, Arc::new(pod), now);
        } else {
            self.forget_pending(&key);
        }
    }

    fn delete_pod(&mut self, pod: &Pod) {
        let key = key_of(pod);
        self.forget_pending(&key);
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        if let Some(removed) = self.cache.remove(&key, uid) {
            // Its resources are free again (upstream's AssignedPodDelete event).
            self.retry_pods_that_fit(&removed.node);
        }
    }

    /// Retries the unschedulable pods that now pass every filter on `node_name`:
    /// a change to one node can only help pods that fit there.
    fn retry_pods_that_fit(&mut self, node_name: &str) {
        let now = Instant::now().into_std();
        let Some((node, info)) = self.cache.node(node_name) else {
            return;
        };
        self.queue.move_unschedulable_if(now, |pod| {
            filter::filter(&PodFacts::of(pod), node, info).is_ok()
        });
    }

    fn forget_pending(&mut self, key: &str) {
        self.queue.remove(key);
        self.failure_events.remove(key);
    }

    /// After a (re)list: the listed pods replace what the watch had shown,
    /// except pods assumed by bindings still in flight.
    fn replace_pods(&mut self, listed: Vec<Pod>) {
        let mut bound = HashSet::new();
        let mut pending = HashSet::new();
        for pod in listed {
            let key = key_of(&pod);
            if is_terminal(&pod) {
                continue;
            }
            if PlacedPod::bound(&pod).is_some() {
                bound.insert(key);
                self.apply_pod(pod);
            } else if is_ours(&pod) {
                pending.insert(key);
                self.apply_pod(pod);
            }
        }
        for key in self.cache.pod_keys() {
            let in_flight =
                self.cache.pod(&key).is_some_and(|p| p.assumed) && pending.contains(&key);
            if !bound.contains(&key) && !in_flight {
                self.cache.remove(&key, "");
            }
        }
        for key in self.queue.keys() {
            if !pending.contains(&key) {
                self.forget_pending(&key);
            }
        }
        self.queue.move_all_unschedulable(Instant::now().into_std());
    }

    /// Makes decisions for a few active pods, then yields to the event loop.
    fn schedule_some(&mut self) {
        for _ in 0..DECISIONS_PER_TURN {
            if self.bindings.len() >= MAX_BINDINGS_IN_FLIGHT {
                return;
            }
            let Some(popped) = self.queue.pop(Instant::now().into_std()) else {
                return;
            };
            match algorithm::decide(&popped.pod, &self.cache, &mut self.rng) {
                Decision::Fit { node } => self.assume_and_bind(popped.key, popped.pod, node),
                Decision::NoFit { message } => {
                    tracing::debug!(pod = %popped.key, %message, "unschedulable");
                    self.report_unschedulable(&popped.key, &popped.pod, &message);
                }
            }
        }
    }

    /// Counts the pod on the node at once (upstream's `assume`), then binds it
    /// in the background.
    fn assume_and_bind(&mut self, key: String, pod: Arc<Pod>, node: String) {
        let mut bound = (*pod).clone();
        if let Some(spec) = bound.spec.as_mut() {
            spec.node_name = Some(node.clone());
        }
        if let Some(placed) = PlacedPod::bound(&bound) {
            self.cache.place(
                &key,
                PlacedPod {
                    assumed: true,
                    ..placed
                },
            );
        }
        let client = self.client.clone();
        self.bindings.spawn(async move {
            let result = bind(client, &pod, &node).await;
            BindOutcome {
                key,
                pod,
                node,
                result,
            }
        });
    }

    fn on_bound(&mut self, outcome: BindOutcome) {
        let BindOutcome {
            key,
            pod,
            node,
            result,
        } = outcome;
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        match result {
            Ok(()) => {
                self.failure_events.remove(&key);
                let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                let message = format!("Successfully assigned {namespace}/{name} to {node}");
                let event = events::pod_event(
                    &pod,
                    EventType::Normal,
                    events::REASON_SCHEDULED,
                    "Binding",
                    &message,
                    Timestamp::now(),
                );
                self.write_event(event, None);
            }
            Err(error) => {
                tracing::warn!(pod = %key, %node, %error, "binding failed");
                self.cache.forget_assumed(&key, uid);
                let now = Instant::now().into_std();
                let gone = matches!(&error, kube::Error::Api(status) if status.code == 404);
                if gone {
                    self.forget_pending(&key);
                } else {
                    self.queue.back_off(&key, now);
                }
                // The assumed resources are free again.
                self.retry_pods_that_fit(&node);
            }
        }
    }

    /// Sets PodScheduled=False through the status subresource (only when it
    /// changes) and records a FailedScheduling event (counting repeats). The pod
    /// is parked as unschedulable once the condition is written, as upstream's
    /// `handleSchedulingFailure` writes it before the pod can be retried.
    fn report_unschedulable(&mut self, key: &str, pod: &Arc<Pod>, message: &str) {
        let now = Timestamp::now();
        match unschedulable_conditions(pod, message, now) {
            Some(conditions) => {
                let api: Api<Pod> = Api::namespaced(
                    self.client.clone(),
                    pod.metadata.namespace.as_deref().unwrap_or("default"),
                );
                let name = pod.metadata.name.clone().unwrap_or_default();
                let patch = serde_json::json!({"status": {"conditions": conditions}});
                let permits = self.status_writes.clone();
                let key = key.to_string();
                self.condition_writes.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    if let Err(error) = api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        tracing::warn!(pod = %key, %error, "failed to set PodScheduled=False");
                    }
                    key
                });
            }
            None => self
                .queue
                .mark_unschedulable(key, Instant::now().into_std()),
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        match self.failure_events.get_mut(key) {
            Some(previous) if previous.uid == uid && previous.message == message => {
                previous.count += 1;
                let repeat = (
                    previous.namespace.clone(),
                    previous.name.clone(),
                    previous.count,
                );
                let event = events::pod_event(
                    pod,
                    EventType::Warning,
                    events::REASON_FAILED_SCHEDULING,
                    "Scheduling",
                    message,
                    now,
                );
                self.write_event(event, Some(repeat));
            }
            _ => {
                let event = events::pod_event(
                    pod,
                    EventType::Warning,
                    events::REASON_FAILED_SCHEDULING,
                    "Scheduling",
                    message,
                    now,
                );
                self.failure_events.insert(
                    key.to_string(),
                    FailureEvent {
                        uid,
                        name: event.metadata.name.clone().unwrap_or_default(),
                        namespace: event.metadata.namespace.clone().unwrap_or_default(),
                        message: message.to_string(),
                        count: 1,
                    },
                );
                self.write_event(event, None);
            }
        }
    }

    /// Writes `event` in the background; with `repeat` (namespace, name, count),
    /// bumps that existing event instead, creating `event` if it is gone.
    fn write_event(
        &self,
        event: k8s_openapi::api::core::v1::Event,
        repeat: Option<(String, String, i32)>,
    ) {
        let recorder = self.recorder.clone();
        let permits = self.status_writes.clone();
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            if let Some((namespace, name, count)) = repeat {
                let now = event
                    .last_timestamp
                    .as_ref()
                    .map_or_else(Timestamp::now, |t| t.0);
                if recorder.repeat(&namespace, &name, count, now).await.is_ok() {
                    return;
                }
            }
            if let Err(error) = recorder.create(&event).await {
                tracing::warn!(%error, reason = ?event.reason, "failed to record an event");
            }
        });
    }
}

/// `POST pods/{name}/binding`: the scheduler's only write to a pod's spec.
async fn bind(client: Client, pod: &Pod, node: &str) -> Result<(), kube::Error> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            uid: pod.metadata.uid.clone(),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Node".to_string()),
            name: Some(node.to_string()),
            ..ObjectReference::default()
        },
    };
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let mut attempt = 1;
    loop {
        let result = api
            .create_subresource::<_, serde_json::Value>(
                "binding",
                name,
                &PostParams::default(),
                &binding,
            )
            .await;
        match result {
            Ok(_) => return Ok(()),
            // kube-apiserver retries its own compare-and-swap inside the binding
            // (`GuaranteedUpdate` in `pkg/registry/core/pod/storage`), so a
            // concurrent write to the pod never fails a binding there; Skiff's
            // API server answers 409 "has been modified" instead, so retry it here.
            Err(kube::Error::Api(status))
                if status.code == 409
                    && status.message.contains("has been modified")
                    && attempt < BIND_ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("a pod")
    }

    #[test]
    fn should_schedule_only_pods_for_the_default_scheduler_not_being_deleted() {
        assert!(is_ours(&pod(
            json!({"metadata": {"name": "a"}, "spec": {"containers": []}})
        )));
        assert!(is_ours(&pod(
            json!({"metadata": {"name": "a"}, "spec": {"containers": [], "schedulerName": "default-scheduler"}})
        )));
        assert!(!is_ours(&pod(
            json!({"metadata": {"name": "a"}, "spec": {"containers": [], "schedulerName": "other"}})
        )));
        assert!(!is_ours(&pod(
            json!({"metadata": {"name": "a", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"containers": []}})
        )));
    }

    #[test]
    fn should_treat_finished_pods_as_holding_nothing() {
        assert!(is_terminal(&pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Succeeded"}})
        )));
        assert!(is_terminal(&pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Failed"}})
        )));
        assert!(!is_terminal(&pod(
            json!({"metadata": {"name": "a"}, "status": {"phase": "Pending"}})
        )));
    }

    #[test]
    fn should_write_the_unschedulable_condition_once_per_message() {
        let now = Timestamp::from_second(1_700_000_000).expect("a time");
        let fresh = pod(json!({"metadata": {"name": "a"}, "status": {"conditions": [
            {"type": "Initialized", "status": "True"},
        ]}}));
        let conditions =
            unschedulable_conditions(&fresh, "0/1 nodes are available", now).expect("a change");
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1].reason.as_deref(), Some("Unschedulable"));
        assert_eq!(conditions[1].last_transition_time, Some(Time(now)));

        let mut written = fresh.clone();
        written.status.as_mut().expect("a status").conditions = Some(conditions);
        assert!(unschedulable_conditions(&written, "0/1 nodes are available", now).is_none());

        let later = now + k8s_openapi::jiff::SignedDuration::from_secs(30);
        let changed =
            unschedulable_conditions(&written, "0/2 nodes are available", later).expect("a change");
        assert_eq!(
            changed[1].last_transition_time,
            Some(Time(now)),
            "still False since the first failure"
        );
    }
}
