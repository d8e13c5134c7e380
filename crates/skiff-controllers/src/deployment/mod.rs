//! The Deployment controller (k8s.io/kubernetes/pkg/controller/deployment): rolls a
//! Deployment's template out through ReplicaSets, one revision each.
//!
//! [`plan`] decides from the reflector caches; this module is the thin syncer that
//! performs the plan's steps in order, records ScalingReplicaSet Events, and
//! retries with backoff.

pub mod plan;
pub mod util;

use std::sync::Arc;

use futures::{stream, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{applier, Action, Config as ApplierConfig};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::WatchStreamExt;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::api_error::{api_message, is_conflict, is_not_found};
use crate::backoff::Backoff;
use crate::claim;
use crate::events::{EventRecorder, EventType};
use crate::syncer::{action_after_sync, object_key, run_applier, watch_into_cache};
use plan::Step;

/// The component name in Events (`deployment-controller`).
pub const COMPONENT: &str = "deployment-controller";

/// Why a sync failed; the Deployment is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Deployment cannot be planned for.
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
    recorder: EventRecorder,
    backoff: Backoff,
}

/// Runs this loop until it fails.
pub async fn run(client: kube::Client) -> Result<(), crate::Error> {
    let (deployments, deploy_writer) = reflector::store::<Deployment>();
    let (replica_sets, rs_writer) = reflector::store::<ReplicaSet>();
    let (pods, pod_writer) = reflector::store::<Pod>();

    let deploy_triggers = watch_into_cache(&client, deploy_writer)
        .touched_objects()
        .map_ok(|d| ObjectRef::from_obj(&d));
    let lookup = deployments.clone();
    let rs_triggers = watch_into_cache(&client, rs_writer)
        .touched_objects()
        .map_ok(move |rs| {
            stream::iter(
                deployments_for_replica_set(&lookup, &rs)
                    .into_iter()
                    .map(Ok),
            )
        })
        .try_flatten();
    let (lookup_d, lookup_rs) = (deployments.clone(), replica_sets.clone());
    let pod_triggers = watch_into_cache(&client, pod_writer)
        .touched_objects()
        .map_ok(move |pod| {
            stream::iter(
                recreate_deployment_for_pod(&lookup_d, &lookup_rs, &pod)
                    .into_iter()
                    .map(Ok),
            )
        })
        .try_flatten();

    let context = Arc::new(Context {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        replica_sets,
        pods,
        backoff: Backoff::default(),
    });
    let triggers = stream::select(deploy_triggers, stream::select(rs_triggers, pod_triggers));
    let results = applier(
        |d, ctx| Box::pin(reconcile(d, ctx)),
        error_policy,
        context,
        deployments,
        triggers,
        ApplierConfig::default(),
    );
    run_applier(results, "deployment controller").await;
    Ok(())
}

/// The Deployments a ReplicaSet event concerns: its controller, or for an orphan
/// every Deployment whose selector matches it (`getDeploymentsForReplicaSet`).
fn deployments_for_replica_set(
    deployments: &Store<Deployment>,
    rs: &ReplicaSet,
) -> Vec<ObjectRef<Deployment>> {
    claim::controllers_to_sync(deployments, &rs.metadata, |d: &Deployment| {
        d.spec.as_ref().map(|s| &s.selector)
    })
}

/// A pod change matters to a Recreate Deployment, which waits for old pods to go
/// (`deletePod` in deployment_controller.go).
fn recreate_deployment_for_pod(
    deployments: &Store<Deployment>,
    replica_sets: &Store<ReplicaSet>,
    pod: &Pod,
) -> Option<ObjectRef<Deployment>> {
    let namespace = pod.namespace().unwrap_or_default();
    let rs_owner = claim::controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet")?;
    let rs = replica_sets.get(&ObjectRef::new(&rs_owner.name).within(&namespace))?;
    let d_owner = claim::controller_of(&rs.metadata).filter(|r| r.kind == "Deployment")?;
    let reference = ObjectRef::new(&d_owner.name).within(&namespace);
    let d = deployments.get(&reference)?;
    let recreate = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate");
    recreate.then_some(reference)
}

fn error_policy(d: Arc<Deployment>, error: &Error, context: Arc<Context>) -> Action {
    let key = object_key(d.as_ref());
    let delay = context.backoff.next_delay(&key);
    tracing::info!(deployment = %key, %error, ?delay, "sync failed; retrying");
    Action::requeue(delay)
}

async fn reconcile(d: Arc<Deployment>, context: Arc<Context>) -> Result<Action, Error> {
    let _ = context.replica_sets.wait_until_ready().await;
    let _ = context.pods.wait_until_ready().await;
    let namespace = d.namespace().unwrap_or_default();
    let in_namespace = |ns: Option<String>| ns.as_deref() == Some(namespace.as_str());
    let all_rs = context.replica_sets.state();
    let replica_sets: Vec<&ReplicaSet> = all_rs
        .iter()
        .map(Arc::as_ref)
        .filter(|rs| in_namespace(rs.namespace()))
        .collect();
    let recreate = !util::is_rolling_update(&d);
    // Only Recreate looks at pods; skip copying them otherwise.
    let all_pods = if recreate {
        context.pods.state()
    } else {
        Vec::new()
    };
    let pods: Vec<&Pod> = all_pods
        .iter()
        .map(Arc::as_ref)
        .filter(|p| in_namespace(p.namespace()))
        .collect();
    let now = Timestamp::now();
    let plan = plan::plan(&plan::Inputs {
        deployment: &d,
        replica_sets: &replica_sets,
        pods: &pods,
        now,
    })?;

    for (reason, message) in &plan.warnings {
        context
            .recorder
            .record(d.as_ref(), EventType::Warning, reason, message.clone());
    }
    let rs_api: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);
    let d_api: Api<Deployment> = Api::namespaced(context.client.clone(), &namespace);
    let params = PatchParams::default();
    for step in plan.steps {
        match step {
            Step::Adopt { name, patch } | Step::Release { name, patch } => {
                rs_api.patch(&name, &params, &Patch::Merge(patch)).await?;
            }
            Step::Create { replica_set, event } => match rs_api
                .create(&PostParams::default(), &replica_set)
                .await
            {
                Ok(_) => {
                    if let Some(message) = event {
                        context.recorder.record(
                            d.as_ref(),
                            EventType::Normal,
                            "ScalingReplicaSet",
                            message,
                        );
                    }
                }
                // The cache is behind; the next sync will find it.
                Err(error) if is_conflict(&error) => return Err(error.into()),
                Err(error) => {
                    let name = replica_set.metadata.name.clone().unwrap_or_default();
                    let message = format!(
                        "Failed to create new replica set {name:?}: {}",
                        api_message(&error)
                    );
                    context.recorder.record(
                        d.as_ref(),
                        EventType::Warning,
                        util::reason::FAILED_RS_CREATE,
                        message.clone(),
                    );
                    if util::progress_deadline_seconds(&d).is_some() {
                        let mut status = d.status.clone().unwrap_or_default();
                        let condition = util::new_condition(
                            "Progressing",
                            "False",
                            util::reason::FAILED_RS_CREATE,
                            message,
                            now,
                        );
                        util::set_condition(&mut status, condition);
                        let _ = d_api
                            .patch_status(
                                &d.name_any(),
                                &params,
                                &Patch::Merge(json!({"status": {"conditions": status.conditions}})),
                            )
                            .await;
                    }
                    return Err(error.into());
                }
            },
            Step::Update {
                name,
                patch,
                events,
            } => {
                rs_api.patch(&name, &params, &Patch::Merge(patch)).await?;
                for message in events {
                    context.recorder.record(
                        d.as_ref(),
                        EventType::Normal,
                        "ScalingReplicaSet",
                        message,
                    );
                }
            }
            Step::Delete { name } => match rs_api.delete(&name, &DeleteParams::default()).await {
                Err(error) if !is_not_found(&error) => return Err(error.into()),
                _ => {}
            },
            Step::Annotate { patch } => {
                d_api
                    .patch(&d.name_any(), &params, &Patch::Merge(patch))
                    .await?;
            }
            Step::Status { patch } => {
                d_api
                    .patch_status(&d.name_any(), &params, &Patch::Merge(patch))
                    .await?;
            }
        }
    }
    context.backoff.reset(&object_key(d.as_ref()));
    Ok(action_after_sync(plan.requeue_after))
}
