//! The namespace controller: empties a Terminating namespace, then removes the
//! `kubernetes` finalizer so that the API server deletes it, after
//! k8s.io/kubernetes/pkg/controller/namespace.
//!
//! While a namespace terminates, one namespace-scoped watcher per registry
//! resource reflects what is left in it, so the controller never lists in a
//! loop; [`plan::plan`] turns that into the next deletions, and the watchers
//! stop once the namespace is finalized.

pub mod plan;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{future, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, PostParams, Preconditions, PropagationPolicy,
};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use skiff_api::registry::{Kind, ResourceType, RESOURCES};

use crate::api_error::{is_conflict, is_not_found};
use crate::garbage_collector::{api_for, api_resource};
use crate::node_lifecycle::health;
use crate::work_queue::WorkQueue;
use plan::{Requested, Resident, KUBERNETES_FINALIZER};

const WORKERS: usize = 2;
/// How long a worker waits for a namespace's content watchers to list.
const CONTENT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Failures of one namespace sync; each is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request about the namespace's content failed.
    #[error("failed to {action} in namespace {namespace}: {source}")]
    Api {
        action: String,
        namespace: String,
        #[source]
        source: kube::Error,
    },
    /// The content watchers did not list everything in time.
    #[error("failed to list the content of namespace {0} in time")]
    ContentNotSynced(String),
}

/// The reflectors of one Terminating namespace's content, and what was asked of it.
struct ContentWatch {
    uid: String,
    stores: Vec<(&'static ResourceType, Store<DynamicObject>)>,
    task: tokio::task::JoinHandle<()>,
    requested: Requested,
}

impl Drop for ContentWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Context {
    client: kube::Client,
    namespaces: Store<Namespace>,
    nodes: Store<Node>,
    queue: WorkQueue<String>,
    contents: Mutex<HashMap<String, ContentWatch>>,
}

/// Runs the controller until the process ends.
pub async fn run(client: kube::Client) -> Result<(), crate::Error> {
    let (namespaces, namespace_writer) = reflector::store::<Namespace>();
    let (nodes, node_writer) = reflector::store::<Node>();
    let context = Arc::new(Context {
        client: client.clone(),
        namespaces,
        nodes,
        queue: WorkQueue::new(),
        contents: Mutex::new(HashMap::new()),
    });
    let namespace_events = reflector::reflector(
        namespace_writer,
        watcher(Api::<Namespace>::all(client.clone()), Default::default()),
    )
    .default_backoff()
    .applied_objects()
    .for_each(|namespace| {
        if let Ok(namespace) = namespace {
            if is_terminating(&namespace) {
                context
                    .queue
                    .add(namespace.metadata.name.unwrap_or_default());
            }
        }
        async {}
    });
    // A node that goes away or stops being Ready strands the graceful pods on it.
    let node_events = reflector::reflector(
        node_writer,
        watcher(Api::<Node>::all(client), Default::default()),
    )
    .default_backoff()
    .for_each(|_| {
        let terminating: Vec<String> = context
            .contents
            .lock()
            .expect("contents lock")
            .keys()
            .cloned()
            .collect();
        terminating
            .into_iter()
            .for_each(|name| context.queue.add(name));
        async {}
    });
    let workers = future::join_all((0..WORKERS).map(|_| work(context.clone())));
    tokio::join!(namespace_events, node_events, workers);
    Ok(())
}

/// Whether a namespace is being deleted and still held by this controller's finalizer.
fn is_terminating(namespace: &Namespace) -> bool {
    namespace.metadata.deletion_timestamp.is_some()
        && namespace
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| f.iter().any(|f| f == KUBERNETES_FINALIZER))
}

async fn work(context: Arc<Context>) {
    let _ = context.namespaces.wait_until_ready().await;
    let _ = context.nodes.wait_until_ready().await;
    loop {
        let name = context.queue.next().await;
        match sync(&context, &name).await {
            Ok(()) => context.queue.forget(&name),
            Err(error) => {
                tracing::warn!(%error, "namespace sync failed; retrying");
                // Ask again for everything: the failed request may have covered objects.
                if let Some(watch) = context
                    .contents
                    .lock()
                    .expect("contents lock")
                    .get_mut(&name)
                {
                    watch.requested = Requested::default();
                }
                context.queue.retry(name.clone());
            }
        }
        context.queue.done(&name);
    }
}

async fn sync(context: &Arc<Context>, name: &str) -> Result<(), Error> {
    let namespace = context
        .namespaces
        .get(&ObjectRef::new(name))
        .filter(|ns| is_terminating(ns));
    let Some(namespace) = namespace else {
        context.contents.lock().expect("contents lock").remove(name);
        return Ok(());
    };
    let uid = namespace.metadata.uid.clone().unwrap_or_default();
    let stores = content_stores(context, name, &uid);
    for (_, store) in &stores {
        if tokio::time::timeout(CONTENT_SYNC_TIMEOUT, store.wait_until_ready())
            .await
            .is_err()
        {
            return Err(Error::ContentNotSynced(name.into()));
        }
    }
    let residents: Vec<Resident> = stores
        .iter()
        .flat_map(|(resource, store)| residents(resource, store))
        .collect();
    let requested = context
        .contents
        .lock()
        .expect("contents lock")
        .get(name)
        .map(|w| w.requested.clone())
        .unwrap_or_default();
    let node_is_ready = |node: &str| {
        context
            .nodes
            .get(&ObjectRef::new(node))
            .is_some_and(|n| health::is_ready(&n))
    };
    let plan = plan::plan(&residents, &requested, node_is_ready);
    tracing::debug!(
        namespace = name,
        remaining = plan.remaining,
        "namespace controller plans"
    );
    apply(context, name, &residents, &plan).await?;
    if plan.finalize {
        finalize(context, &namespace).await?;
        context.contents.lock().expect("contents lock").remove(name);
    }
    Ok(())
}

/// The content reflectors of a namespace, started on first use.
fn content_stores(
    context: &Arc<Context>,
    name: &str,
    uid: &str,
) -> Vec<(&'static ResourceType, Store<DynamicObject>)> {
    let mut contents = context.contents.lock().expect("contents lock");
    if let Some(watch) = contents.get(name).filter(|w| w.uid == uid) {
        return watch.stores.clone();
    }
    let mut stores = Vec::new();
    let mut streams = Vec::new();
    for resource in RESOURCES.iter().filter(|r| r.namespaced()) {
        let writer = reflector::store::Writer::<DynamicObject>::new(api_resource(resource));
        let store = writer.as_reader();
        let api = api_for(&context.client, resource, Some(name));
        streams.push(
            reflector::reflector(writer, watcher(api, Default::default()))
                .default_backoff()
                .boxed(),
        );
        stores.push((resource, store));
    }
    let (queue, key) = (context.queue.clone(), name.to_string());
    let task = tokio::spawn(futures::stream::select_all(streams).for_each(move |_| {
        queue.add(key.clone());
        async {}
    }));
    let watch = ContentWatch {
        uid: uid.into(),
        stores: stores.clone(),
        task,
        requested: Requested::default(),
    };
    contents.insert(name.to_string(), watch);
    stores
}

fn residents(resource: &'static ResourceType, store: &Store<DynamicObject>) -> Vec<Resident> {
    store
        .state()
        .iter()
        .map(|object| Resident {
            resource,
            name: object.metadata.name.clone().unwrap_or_default(),
            uid: object.metadata.uid.clone().unwrap_or_default(),
            deleting: object.metadata.deletion_timestamp.is_some(),
            node_name: (resource.kind == Kind::Pod)
                .then(|| {
                    object
                        .data
                        .pointer("/spec/nodeName")
                        .and_then(|n| n.as_str())
                        .map(String::from)
                })
                .flatten()
                .filter(|n| !n.is_empty()),
        })
        .collect()
}

async fn apply(
    context: &Context,
    namespace: &str,
    residents: &[Resident],
    plan: &plan::NamespacePlan,
) -> Result<(), Error> {
    let api_error = |action: String| {
        move |source| Error::Api {
            action,
            namespace: namespace.into(),
            source,
        }
    };
    for resource in &plan.delete_collections {
        // Record first: the watch events of this very request may arrive before it returns.
        let covered = residents
            .iter()
            .filter(|r| r.resource == *resource && !r.deleting)
            .map(|r| r.uid.clone());
        if let Some(watch) = context
            .contents
            .lock()
            .expect("contents lock")
            .get_mut(namespace)
        {
            watch.requested.deleted.extend(covered);
        }
        // Upstream deletes namespace content with background propagation.
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        api_for(&context.client, resource, Some(namespace))
            .delete_collection(&params, &ListParams::default())
            .await
            .map_err(api_error(format!("delete all {}", resource.plural)))?;
    }
    for (pod, uid) in &plan.force_delete_pods {
        if let Some(watch) = context
            .contents
            .lock()
            .expect("contents lock")
            .get_mut(namespace)
        {
            watch.requested.forced.insert(uid.clone());
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let pods = api_for(
            &context.client,
            skiff_api::registry::of(Kind::Pod),
            Some(namespace),
        );
        match pods.delete(pod, &params).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) || is_conflict(&e) => {}
            Err(source) => return Err(api_error(format!("force-delete pod {pod}"))(source)),
        }
    }
    Ok(())
}

/// PUT `namespaces/{name}/finalize` without the `kubernetes` finalizer; the API
/// server then deletes the namespace.
async fn finalize(context: &Context, namespace: &Namespace) -> Result<(), Error> {
    let name = namespace.metadata.name.clone().unwrap_or_default();
    let mut finalized = namespace.clone();
    let finalizers = namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    finalized
        .spec
        .get_or_insert_with(Default::default)
        .finalizers = Some(plan::finalizers_after_emptying(&finalizers));
    tracing::info!(namespace = name, "namespace is empty; finalizing it");
    match Api::<Namespace>::all(context.client.clone())
        .replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(source) => Err(Error::Api {
            action: "finalize".into(),
            namespace: name,
            source,
        }),
    }
}
