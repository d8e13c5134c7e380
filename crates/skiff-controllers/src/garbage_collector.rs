//! The garbage collector: cascading deletion by ownerReferences (background,
//! foreground and orphan), after k8s.io/kubernetes/pkg/controller/garbagecollector.
//!
//! One watcher per registry resource, all through the same dynamic path, feeds
//! the owner→dependents [`graph::Graph`]; changed objects go on a work queue; a
//! worker asks the pure [`graph::plan`] what to do about one object and applies
//! the actions here.

pub mod graph;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, StreamExt};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions,
    PropagationPolicy,
};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::{json, Value};
use skiff_api::registry::{Kind, ResourceType, RESOURCES};
use tokio::sync::watch;

use crate::api_error::{is_conflict, is_not_found};
use crate::work_queue::WorkQueue;
use graph::{Action, Graph, GraphNode, ObjectKey, OwnerLink, Propagation, Uid};

/// Upstream runs 20 delete workers; a few suffice here, since a worker holds no
/// lock while it waits on the API.
const WORKERS: usize = 4;
/// How long to wait before looking again at a dependent whose owner exists but
/// has not reached the watch cache yet.
const OWNER_NOT_CACHED_DELAY: Duration = Duration::from_secs(1);

/// Failures of one collector action; each is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A read or write through the API failed.
    #[error("failed to {action} {target}: {source}")]
    Api {
        action: &'static str,
        target: String,
        #[source]
        source: kube::Error,
    },
}

/// The dynamic type of a registry resource, for `Api<DynamicObject>`.
pub fn api_resource(resource: &ResourceType) -> ApiResource {
    ApiResource {
        group: resource.group.to_string(),
        version: resource.version.to_string(),
        api_version: resource.api_version(),
        kind: resource.kind_name.to_string(),
        plural: resource.plural.to_string(),
    }
}

/// The API of one object's resource, in its namespace.
pub fn api_for(
    client: &kube::Client,
    resource: &ResourceType,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match (resource.namespaced(), namespace) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &api_resource(resource)),
        _ => Api::all_with(client.clone(), &api_resource(resource)),
    }
}

/// Runs the collector until the process ends.
pub async fn run(client: kube::Client) -> Result<(), crate::Error> {
    let graph = Arc::new(Mutex::new(Graph::default()));
    let queue = WorkQueue::<Uid>::new();
    let (synced_tx, synced_rx) = watch::channel(false);
    let workers = (0..WORKERS).map(|_| {
        let (client, graph, queue, mut synced) = (
            client.clone(),
            graph.clone(),
            queue.clone(),
            synced_rx.clone(),
        );
        async move {
            // Until every resource is listed, a missing owner proves nothing.
            let _ = synced.wait_for(|s| *s).await;
            work(client, graph, queue).await
        }
    });
    tokio::join!(
        futures::future::join_all(workers),
        build_graph(client, graph, queue, synced_tx)
    );
    Ok(())
}

/// Keeps the graph in step with every resource's watch and queues what changed.
async fn build_graph(
    client: kube::Client,
    graph: Arc<Mutex<Graph>>,
    queue: WorkQueue<Uid>,
    synced: watch::Sender<bool>,
) {
    let watches = RESOURCES.iter().map(|resource| {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(resource));
        watcher(api, watcher::Config::default())
            .default_backoff()
            .map(move |event| (resource, event))
            .boxed()
    });
    let mut events = stream::select_all(watches);
    let mut unsynced: HashSet<Kind> = RESOURCES.iter().map(|r| r.kind).collect();
    // The uids listed since a watch restarted, per resource: what is not listed again is gone.
    let mut relisted: HashMap<Kind, HashSet<Uid>> = HashMap::new();
    while let Some((resource, event)) = events.next().await {
        let mut affected = Vec::new();
        {
            let mut graph = graph.lock().expect("graph lock");
            match event {
                Ok(watcher::Event::Init) => {
                    relisted.insert(resource.kind, HashSet::new());
                }
                Ok(watcher::Event::InitApply(object)) => {
                    if let Some(node) = GraphNode::from_meta(resource, &object.metadata) {
                        relisted
                            .entry(resource.kind)
                            .or_default()
                            .insert(node.uid.clone());
                        affected.extend(graph.upsert(node));
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    let listed = relisted.remove(&resource.kind).unwrap_or_default();
                    for uid in graph.uids_of(resource) {
                        if !listed.contains(&uid) {
                            affected.extend(graph.remove(&uid));
                        }
                    }
                    if unsynced.remove(&resource.kind) && unsynced.is_empty() {
                        tracing::debug!(objects = graph.len(), "garbage collector graph synced");
                        affected.extend(graph.all_candidates());
                        let _ = synced.send(true);
                    }
                }
                Ok(watcher::Event::Apply(object)) => {
                    if let Some(node) = GraphNode::from_meta(resource, &object.metadata) {
                        affected.extend(graph.upsert(node));
                    }
                }
                Ok(watcher::Event::Delete(object)) => {
                    if let Some(uid) = &object.metadata.uid {
                        affected.extend(graph.remove(uid));
                    }
                }
                Err(error) => {
                    tracing::warn!(resource = resource.plural, %error, "garbage collector watch failed; retrying");
                }
            }
        }
        for uid in affected {
            queue.add(uid);
        }
    }
}

/// What one pass over an object's actions came to.
enum Outcome {
    Done,
    /// An owner the graph lacks still exists: look again once the cache has it.
    OwnerNotCached,
}

async fn work(client: kube::Client, graph: Arc<Mutex<Graph>>, queue: WorkQueue<Uid>) {
    loop {
        let uid = queue.next().await;
        let actions = graph::plan(&graph.lock().expect("graph lock"), &uid);
        match apply(&client, &actions).await {
            Ok(Outcome::Done) => queue.forget(&uid),
            Ok(Outcome::OwnerNotCached) => queue.add_after(uid.clone(), OWNER_NOT_CACHED_DELAY),
            Err(error) => {
                tracing::warn!(%error, "garbage collection failed; retrying");
                queue.retry(uid.clone());
            }
        }
        queue.done(&uid);
    }
}

/// Applies a plan in order; stops at the first action that cannot go ahead.
async fn apply(client: &kube::Client, actions: &[Action]) -> Result<Outcome, Error> {
    for action in actions {
        match action {
            Action::Delete {
                target,
                uid,
                propagation,
                unverified_owners,
            } => {
                if !owners_are_gone(client, target, unverified_owners).await? {
                    return Ok(Outcome::OwnerNotCached);
                }
                delete(client, target, uid, *propagation).await?;
            }
            Action::RemoveOwnerReferences {
                target,
                uid,
                owner_uids,
                unverified_owners,
            } => {
                if !owners_are_gone(client, target, unverified_owners).await? {
                    return Ok(Outcome::OwnerNotCached);
                }
                remove_owner_references(client, target, uid, owner_uids).await?;
            }
            Action::RemoveFinalizer {
                target,
                uid,
                finalizer,
            } => remove_finalizer(client, target, uid, finalizer).await?,
        }
    }
    Ok(Outcome::Done)
}

/// Upstream's `isDangling`: an owner is gone when a GET finds nothing of that
/// name, or an object with another uid (a recreated owner is another owner).
async fn owners_are_gone(
    client: &kube::Client,
    dependent: &ObjectKey,
    owners: &[OwnerLink],
) -> Result<bool, Error> {
    for owner in owners {
        let Some(resource) = owner.resource else {
            continue;
        };
        let api = api_for(client, resource, dependent.namespace.as_deref());
        let found = api
            .get_opt(&owner.name)
            .await
            .map_err(|source| Error::Api {
                action: "look up owner",
                target: format!("{} {}", resource.plural, owner.name),
                source,
            })?;
        if found.is_some_and(|o| o.metadata.uid.as_deref() == Some(owner.uid.as_str())) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn delete(
    client: &kube::Client,
    target: &ObjectKey,
    uid: &str,
    propagation: Propagation,
) -> Result<(), Error> {
    let params = DeleteParams {
        propagation_policy: Some(match propagation {
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Foreground => PropagationPolicy::Foreground,
        }),
        // Never delete a newer object that took the name meanwhile.
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    tracing::debug!(%target, ?propagation, "garbage collector deletes a dependent");
    match api_for(client, target.resource, target.namespace.as_deref())
        .delete(&target.name, &params)
        .await
    {
        Ok(_) => Ok(()),
        // Gone already, or replaced by another object of that name: done either way.
        Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(()),
        Err(source) => Err(Error::Api {
            action: "delete",
            target: target.to_string(),
            source,
        }),
    }
}

/// Reads the object fresh, so the patch starts from its current lists; the
/// patch names the resourceVersion read, which the server treats as a
/// precondition, so a concurrent writer makes it fail and retry.
async fn read_fresh(
    client: &kube::Client,
    target: &ObjectKey,
    uid: &str,
) -> Result<Option<DynamicObject>, Error> {
    let api = api_for(client, target.resource, target.namespace.as_deref());
    let found = api
        .get_opt(&target.name)
        .await
        .map_err(|source| Error::Api {
            action: "read",
            target: target.to_string(),
            source,
        })?;
    Ok(found.filter(|o| o.metadata.uid.as_deref() == Some(uid)))
}

async fn patch_metadata(
    client: &kube::Client,
    target: &ObjectKey,
    metadata: Value,
) -> Result<(), Error> {
    let api = api_for(client, target.resource, target.namespace.as_deref());
    match api
        .patch(
            &target.name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": metadata })),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(source) => Err(Error::Api {
            action: "patch",
            target: target.to_string(),
            source,
        }),
    }
}

async fn remove_owner_references(
    client: &kube::Client,
    target: &ObjectKey,
    uid: &str,
    owner_uids: &[Uid],
) -> Result<(), Error> {
    let Some(current) = read_fresh(client, target, uid).await? else {
        return Ok(());
    };
    let references = current.metadata.owner_references.unwrap_or_default();
    let kept: Vec<_> = references
        .iter()
        .filter(|r| !owner_uids.contains(&r.uid))
        .cloned()
        .collect();
    if kept.len() == references.len() {
        return Ok(());
    }
    tracing::debug!(%target, ?owner_uids, "garbage collector drops ownerReferences");
    let kept = if kept.is_empty() {
        Value::Null
    } else {
        json!(kept)
    };
    patch_metadata(
        client,
        target,
        json!({"resourceVersion": current.metadata.resource_version, "ownerReferences": kept}),
    )
    .await
}

async fn remove_finalizer(
    client: &kube::Client,
    target: &ObjectKey,
    uid: &str,
    finalizer: &str,
) -> Result<(), Error> {
    let Some(current) = read_fresh(client, target, uid).await? else {
        return Ok(());
    };
    let finalizers = current.metadata.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    tracing::debug!(%target, finalizer, "garbage collector removes its finalizer");
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
    patch_metadata(
        client,
        target,
        json!({"resourceVersion": current.metadata.resource_version, "finalizers": kept}),
    )
    .await
}
