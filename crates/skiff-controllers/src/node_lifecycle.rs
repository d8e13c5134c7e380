//! The node lifecycle controller: marks nodes whose Lease stops being renewed
//! Ready=Unknown with the `unreachable` taints, and evicts the pods on
//! NoExecute-tainted nodes once their tolerations run out, after
//! k8s.io/kubernetes/pkg/controller/nodelifecycle and pkg/controller/tainteviction.
//!
//! Watches Nodes, Leases in `kube-node-lease` and Pods; the pure parts live in
//! [`health`] (conditions and taints) and [`eviction`] (when a pod must go).

pub mod eviction;
pub mod health;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use tokio::time::Instant;

use crate::api_error::is_not_found;
use crate::work_queue::WorkQueue;
use eviction::Eviction;
use health::ProbeTracker;

/// The namespace where agents keep their node Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
const WORKERS: usize = 2;
/// Slack added to timers so that a check runs just after its deadline, not just before.
const TIMER_SLACK: Duration = Duration::from_millis(50);

/// Failures of one node or pod sync; each is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing a node's status (conditions) failed.
    #[error("failed to update the status of node {node}: {source}")]
    NodeStatus {
        node: String,
        #[source]
        source: kube::Error,
    },
    /// Writing a node's taints failed.
    #[error("failed to update the taints of node {node}: {source}")]
    NodeTaints {
        node: String,
        #[source]
        source: kube::Error,
    },
    /// Deleting an evicted pod failed.
    #[error("failed to evict pod {namespace}/{name}: {source}")]
    Evict {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// One unit of work: a node to check, or a pod that may have to go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Node(String),
    Pod { namespace: String, name: String },
}

/// What the watch loops and the workers share.
struct Context {
    client: kube::Client,
    options: crate::Options,
    nodes: Store<Node>,
    pods: Store<Pod>,
    probes: Mutex<ProbeTracker>,
    /// Each node's NoExecute taints as last seen, to re-check its pods on a change.
    no_execute: Mutex<HashMap<String, Vec<Taint>>>,
    queue: WorkQueue<Key>,
}

/// Runs the controller until the process ends.
pub async fn run(client: kube::Client, options: crate::Options) -> Result<(), crate::Error> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let context = Arc::new(Context {
        client: client.clone(),
        options,
        nodes,
        pods,
        probes: Mutex::new(ProbeTracker::default()),
        no_execute: Mutex::new(HashMap::new()),
        queue: WorkQueue::new(),
    });
    let node_events = reflector::reflector(
        node_writer,
        watcher(Api::<Node>::all(client.clone()), Default::default()),
    )
    .default_backoff()
    .for_each(|event| {
        on_node_event(&context, event);
        async {}
    });
    let lease_api: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
    let lease_events = watcher(lease_api, Default::default())
        .default_backoff()
        .for_each(|event| {
            on_lease_event(&context, event);
            async {}
        });
    let pod_events = reflector::reflector(
        pod_writer,
        watcher(Api::<Pod>::all(client), Default::default()),
    )
    .default_backoff()
    .for_each(|event| {
        on_pod_event(&context, event);
        async {}
    });
    let workers = futures::future::join_all((0..WORKERS).map(|_| work(context.clone())));
    tokio::join!(node_events, lease_events, pod_events, workers);
    Ok(())
}

fn on_node_event(context: &Context, event: Result<watcher::Event<Node>, watcher::Error>) {
    match event {
        Ok(watcher::Event::Apply(node) | watcher::Event::InitApply(node)) => {
            let Some(name) = node.metadata.name.clone() else {
                return;
            };
            context
                .probes
                .lock()
                .expect("probes lock")
                .observe_heartbeat(&name, health::ready_heartbeat(&node), Instant::now());
            let taints = health::no_execute_taints(&node);
            let changed = context
                .no_execute
                .lock()
                .expect("taints lock")
                .insert(name.clone(), taints.clone())
                != Some(taints);
            if changed {
                queue_pods_on(context, &name);
            }
            context.queue.add(Key::Node(name));
        }
        Ok(watcher::Event::Delete(node)) => {
            let Some(name) = node.metadata.name else {
                return;
            };
            context.probes.lock().expect("probes lock").forget(&name);
            context
                .no_execute
                .lock()
                .expect("taints lock")
                .remove(&name);
        }
        Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
        Err(error) => tracing::warn!(%error, "node lifecycle: node watch failed; retrying"),
    }
}

fn on_lease_event(context: &Context, event: Result<watcher::Event<Lease>, watcher::Error>) {
    match event {
        Ok(watcher::Event::Apply(lease) | watcher::Event::InitApply(lease)) => {
            let Some(node) = lease.metadata.name.clone() else {
                return;
            };
            let renewed = lease
                .spec
                .and_then(|s| s.renew_time)
                .map(|t| t.0.to_string());
            context.probes.lock().expect("probes lock").observe_lease(
                &node,
                renewed,
                Instant::now(),
            );
            context.queue.add(Key::Node(node));
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "node lifecycle: lease watch failed; retrying"),
    }
}

fn on_pod_event(context: &Context, event: Result<watcher::Event<Pod>, watcher::Error>) {
    match event {
        Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
            let node = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default();
            let tainted = context
                .no_execute
                .lock()
                .expect("taints lock")
                .get(&node)
                .is_some_and(|t| !t.is_empty());
            if let (true, Some(key)) = (tainted, pod_key(&pod)) {
                context.queue.add(key);
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "node lifecycle: pod watch failed; retrying"),
    }
}

fn pod_key(pod: &Pod) -> Option<Key> {
    Some(Key::Pod {
        namespace: pod.metadata.namespace.clone()?,
        name: pod.metadata.name.clone()?,
    })
}

fn queue_pods_on(context: &Context, node: &str) {
    let on_node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
    for pod in context.pods.state_filter(on_node) {
        if let Some(key) = pod_key(&pod) {
            context.queue.add(key);
        }
    }
}

async fn work(context: Arc<Context>) {
    // Deciding on a node or a pod needs both caches complete.
    let _ = context.nodes.wait_until_ready().await;
    let _ = context.pods.wait_until_ready().await;
    loop {
        let key = context.queue.next().await;
        let result = match &key {
            Key::Node(name) => sync_node(&context, name).await,
            Key::Pod { namespace, name } => sync_pod(&context, &key, namespace, name).await,
        };
        match result {
            Ok(()) => context.queue.forget(&key),
            Err(error) => {
                tracing::warn!(%error, "node lifecycle sync failed; retrying");
                context.queue.retry(key.clone());
            }
        }
        context.queue.done(&key);
    }
}

/// Writes a node's conditions and taints as [`health::plan_health`] says, and
/// comes back when its grace period would run out.
async fn sync_node(context: &Context, name: &str) -> Result<(), Error> {
    let Some(cached) = context.nodes.get(&ObjectRef::new(name)) else {
        return Ok(());
    };
    let grace = context.options.node_monitor_grace_period;
    let silent_for = context
        .probes
        .lock()
        .expect("probes lock")
        .silent_for(name, Instant::now());
    let silent = silent_for > grace;
    let update = health::plan_health(&cached, silent, Timestamp::now());
    let api: Api<Node> = Api::all(context.client.clone());
    let mut node = (*cached).clone();
    if let Some(conditions) = update.conditions {
        tracing::info!(
            node = name,
            silent_secs = silent_for.as_secs(),
            "node stopped renewing its lease; marking it Unknown"
        );
        node.status.get_or_insert_with(Default::default).conditions = Some(conditions);
        node = api
            .replace_status(name, &PostParams::default(), &node)
            .await
            .map_err(|source| Error::NodeStatus {
                node: name.into(),
                source,
            })?;
    }
    if let Some(taints) = update.taints {
        tracing::info!(
            node = name,
            ?taints,
            "node lifecycle sets the node's taints"
        );
        node.spec.get_or_insert_with(Default::default).taints =
            (!taints.is_empty()).then_some(taints);
        api.replace(name, &PostParams::default(), &node)
            .await
            .map_err(|source| Error::NodeTaints {
                node: name.into(),
                source,
            })?;
    }
    if !silent {
        context
            .queue
            .add_after(Key::Node(name.into()), grace - silent_for + TIMER_SLACK);
    }
    Ok(())
}

/// Evicts a pod whose node has NoExecute taints once its tolerations run out.
async fn sync_pod(context: &Context, key: &Key, namespace: &str, name: &str) -> Result<(), Error> {
    let Some(pod) = context.pods.get(&ObjectRef::new(name).within(namespace)) else {
        return Ok(());
    };
    let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
        return Ok(());
    };
    let Some(node) = context.nodes.get(&ObjectRef::new(&node_name)) else {
        return Ok(());
    };
    let taints = health::no_execute_taints(&node);
    let own = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let tolerations =
        eviction::with_default_tolerations(&own, context.options.default_toleration_seconds);
    let now = Timestamp::now();
    match eviction::plan_eviction(&tolerations, &taints, now) {
        Eviction::Never => Ok(()),
        Eviction::At(due) => {
            let wait = Duration::try_from(due.duration_since(now)).unwrap_or_default();
            context.queue.add_after(key.clone(), wait + TIMER_SLACK);
            Ok(())
        }
        Eviction::Now => {
            tracing::info!(pod = %format!("{namespace}/{name}"), node = node_name, "evicting pod from tainted node");
            // Its node is gone, so nothing would finish a graceful stop.
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: pod.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match Api::<Pod>::namespaced(context.client.clone(), namespace)
                .delete(name, &params)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(source) => Err(Error::Evict {
                    namespace: namespace.into(),
                    name: name.into(),
                    source,
                }),
            }
        }
    }
}
