//! The ReplicaSet controller (k8s.io/kubernetes/pkg/controller/replicaset): keeps
//! `replicas` pods of a ReplicaSet's template in existence.
//!
//! [`plan`] decides from the reflector caches; this module is the thin syncer that
//! applies the plan: ownership patches, pod creation in slow-start batches, pod
//! deletion, Events and the status subresource.

pub mod expectations;
pub mod patch;
pub mod plan;
pub mod pods;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures::{future, stream, TryStreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{applier, Action, Config as ApplierConfig};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

use crate::api_error::{api_message, is_not_found};
use crate::backoff::Backoff;
use crate::claim;
use crate::events::{EventRecorder, EventType};
use crate::syncer::{action_after_sync, object_key, run_applier, watch_into_cache};
use expectations::Expectations;

/// The component name in Events (`replicaset-controller`).
pub const COMPONENT: &str = "replicaset-controller";

/// The first batch of a slow start (`SlowStartInitialBatchSize`).
const SLOW_START_INITIAL_BATCH: usize = 1;

/// Why a sync failed; the ReplicaSet is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ReplicaSet cannot be planned for.
    #[error("failed to plan: {0}")]
    Plan(#[from] plan::Error),
    /// A write to the API server failed.
    #[error("failed to write to the API server: {0}")]
    Api(#[from] kube::Error),
}

struct Context {
    client: kube::Client,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    expectations: Arc<Expectations>,
    recorder: EventRecorder,
    backoff: Backoff,
}

/// Runs this loop until it fails.
pub async fn run(client: kube::Client) -> Result<(), crate::Error> {
    let (replica_sets, rs_writer) = reflector::store::<ReplicaSet>();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let expectations = Arc::new(Expectations::default());

    let rs_triggers = watch_into_cache(&client, rs_writer)
        .touched_objects()
        .map_ok(|rs| ObjectRef::from_obj(&rs));
    let rs_lookup = replica_sets.clone();
    let observer = expectations.clone();
    let pod_triggers = watch_into_cache(&client, pod_writer)
        .inspect_ok(move |event| {
            if let watcher::Event::Delete(pod) = event {
                observer.observe_deletion(
                    &pod.namespace().unwrap_or_default(),
                    &pod.name_any(),
                    Instant::now(),
                );
            }
        })
        .touched_objects()
        .map_ok(move |pod| stream::iter(replica_sets_for_pod(&rs_lookup, &pod).into_iter().map(Ok)))
        .try_flatten();

    let context = Arc::new(Context {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        replica_sets: replica_sets.clone(),
        pods,
        expectations,
        backoff: Backoff::default(),
    });
    let results = applier(
        |rs, ctx| Box::pin(reconcile(rs, ctx)),
        error_policy,
        context,
        replica_sets,
        stream::select(rs_triggers, pod_triggers),
        ApplierConfig::default(),
    );
    run_applier(results, "replicaset controller").await;
    Ok(())
}

/// The ReplicaSets a pod event concerns (`getPodReplicaSets`): its controller, or
/// for an orphan every ReplicaSet whose selector matches it.
fn replica_sets_for_pod(replica_sets: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    claim::controllers_to_sync(replica_sets, &pod.metadata, |rs: &ReplicaSet| {
        rs.spec.as_ref().map(|s| &s.selector)
    })
}

fn error_policy(rs: Arc<ReplicaSet>, error: &Error, context: Arc<Context>) -> Action {
    let key = object_key(rs.as_ref());
    let delay = context.backoff.next_delay(&key);
    tracing::info!(replicaset = %key, %error, ?delay, "sync failed; retrying");
    Action::requeue(delay)
}

async fn reconcile(rs: Arc<ReplicaSet>, context: Arc<Context>) -> Result<Action, Error> {
    // Counting pods before the pod cache is filled would create them all again.
    let _ = context.pods.wait_until_ready().await;
    let key = object_key(rs.as_ref());
    let namespace = rs.namespace().unwrap_or_default();
    let all_pods = context.pods.state();
    let pods: Vec<&Pod> = all_pods
        .iter()
        .map(Arc::as_ref)
        .filter(|p| p.namespace().as_deref() == Some(&namespace))
        .collect();
    let satisfied = context
        .expectations
        .satisfied(&key, &namespace, &pods, Instant::now());
    let sibling_uids = sibling_uids(&context.replica_sets, &rs);
    let now = Timestamp::now();
    let plan = plan::plan(&plan::Inputs {
        replica_set: &rs,
        pods: &pods,
        sibling_uids: &sibling_uids,
        expectations_satisfied: satisfied,
        now,
    })?;

    let pod_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let owner_ref = claim::controller_ref(rs.as_ref());
    for pod in &plan.adopt {
        let body = claim::adopt_patch(&pod.metadata, &owner_ref);
        patch_pod(&pod_api, pod, body).await?;
    }
    for pod in &plan.release {
        let body = claim::release_patch(&pod.metadata, owner_ref.uid.as_str());
        patch_pod(&pod_api, pod, body).await?;
    }

    let mut failure: Option<(&str, String)> = None;
    if plan.create > 0 {
        let template = plan::pod_from_template(&rs);
        let (created, error) = slow_start(plan.create, |_| create_pod(&pod_api, &template)).await;
        context
            .expectations
            .expect_creations(&key, created.iter().cloned(), Instant::now());
        for name in &created {
            context.recorder.record(
                rs.as_ref(),
                EventType::Normal,
                "SuccessfulCreate",
                format!("Created pod: {name}"),
            );
        }
        if let Some(error) = error {
            let message = api_message(&error);
            context.recorder.record(
                rs.as_ref(),
                EventType::Warning,
                "FailedCreate",
                format!("Error creating: {message}"),
            );
            failure = Some(("FailedCreate", message));
        }
    }
    if !plan.delete.is_empty() {
        let uids = plan.delete.iter().filter_map(|p| p.metadata.uid.clone());
        context
            .expectations
            .expect_deletions(&key, uids, Instant::now());
        let deletions = plan.delete.iter().map(|pod| {
            let api = pod_api.clone();
            async move {
                (
                    pod.name_any(),
                    ignore_gone(
                        api.delete(&pod.name_any(), &DeleteParams::default())
                            .await
                            .map(|_| ()),
                    ),
                )
            }
        });
        for (name, result) in future::join_all(deletions).await {
            match result {
                Ok(()) => context.recorder.record(
                    rs.as_ref(),
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                ),
                Err(error) => {
                    let message = api_message(&error);
                    context.recorder.record(
                        rs.as_ref(),
                        EventType::Warning,
                        "FailedDelete",
                        format!("Error deleting: {message}"),
                    );
                    failure = Some(("FailedDelete", message));
                }
            }
        }
    }

    let failed = failure.is_some();
    let status = plan::with_failure(plan.status, failure, now);
    let current = rs.status.clone().unwrap_or_default();
    if status != current {
        let diff = patch::merge_patch_diff(&json!(current), &json!(status));
        if let Some(diff) = diff {
            let api: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);
            ignore_gone(
                api.patch_status(
                    &rs.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": diff})),
                )
                .await,
            )?;
        }
    }
    if failed {
        return Ok(Action::requeue(context.backoff.next_delay(&key)));
    }
    context.backoff.reset(&key);
    Ok(action_after_sync(plan.requeue_after))
}

/// The uids of ReplicaSets with the same controller as `rs` (siblings in a Deployment).
fn sibling_uids(replica_sets: &Store<ReplicaSet>, rs: &ReplicaSet) -> HashSet<String> {
    let Some(owner) = claim::controller_of(&rs.metadata) else {
        return HashSet::new();
    };
    replica_sets
        .state()
        .iter()
        .filter(|other| claim::controller_of(&other.metadata).is_some_and(|o| o.uid == owner.uid))
        .filter_map(|other| other.metadata.uid.clone())
        .collect()
}

/// Merge-patches one pod's ownership; a pod already gone needs none.
async fn patch_pod(api: &Api<Pod>, pod: &Pod, body: Value) -> Result<(), kube::Error> {
    let patched = api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(body),
        )
        .await;
    ignore_gone(patched.map(|_| ()))
}

async fn create_pod(api: &Api<Pod>, template: &Pod) -> Result<String, kube::Error> {
    api.create(&PostParams::default(), template)
        .await
        .map(|pod| pod.name_any())
}

/// Runs `count` calls in batches of 1, 2, 4, … (`slowStartBatch`), stopping after the
/// first batch with a failure so a failing call is not repeated hundreds of times.
/// Returns what succeeded and the first error.
pub async fn slow_start<T, F, Fut>(count: usize, call: F) -> (Vec<T>, Option<kube::Error>)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut done = Vec::new();
    let mut batch = SLOW_START_INITIAL_BATCH.min(count);
    let mut started = 0;
    while batch > 0 {
        let results = future::join_all((started..started + batch).map(&call)).await;
        started += batch;
        let mut first_error = None;
        for result in results {
            match result {
                Ok(value) => done.push(value),
                Err(error) if first_error.is_none() => first_error = Some(error),
                Err(_) => {}
            }
        }
        if first_error.is_some() {
            return (done, first_error);
        }
        batch = (batch * 2).min(count - started);
    }
    (done, None)
}

/// Treats "already gone" as success: the cache will catch up.
fn ignore_gone<T: Default>(result: Result<T, kube::Error>) -> Result<T, kube::Error> {
    match result {
        Err(error) if is_not_found(&error) => Ok(T::default()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn should_create_in_doubling_batches() {
        let (done, error) = slow_start(10, |i| async move { Ok::<_, kube::Error>(i) }).await;
        assert!(error.is_none());
        assert_eq!(done, (0..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn should_stop_after_a_failing_batch() {
        let (done, error) = slow_start(10, |i| async move {
            if i == 2 {
                Err(kube::Error::LinesCodecMaxLineLengthExceeded)
            } else {
                Ok(i)
            }
        })
        .await;
        // Batches: [0], [1, 2] (fails) → 3..10 never start.
        assert_eq!(done, vec![0, 1]);
        assert!(error.is_some());
    }
}
