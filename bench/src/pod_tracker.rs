//! Follows the pods of one namespace through a watch, as a kubelet or
//! `kubectl get pods -w` would, and timestamps on arrival, per pod, when it
//! was first seen, when it was first seen bound to a node (`spec.nodeName`),
//! and whether it was reported unschedulable (PodScheduled=False).
//!
//! The times are when the events reached the benchmark, so they include watch
//! delivery, which the `apiserver` workload measures (a few milliseconds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::BenchResult;

/// When one pod was seen in each state.
#[derive(Clone, Debug)]
pub struct PodTimes {
    pub seen: Instant,
    /// When it was first seen with a node, and the node.
    pub bound: Option<(Instant, String)>,
    pub reported_unschedulable: bool,
}

/// How many pods have reached each state so far; waiters wake on every change.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub seen: usize,
    pub bound: usize,
    pub unschedulable: usize,
    /// Why the watch stopped, if it did; nothing more will be counted.
    pub failure: Option<String>,
}

/// A running watch of one namespace's pods; stops when dropped.
pub struct PodTracker {
    pods: Arc<Mutex<HashMap<String, PodTimes>>>,
    counts: watch::Receiver<Counts>,
    task: JoinHandle<()>,
}

impl PodTracker {
    /// Opens the watch at the namespace's current revision, so every pod
    /// created after this returns is seen. The server ends the watch after
    /// `lifetime`.
    pub async fn start(client: &Client, namespace: &str, lifetime: Duration) -> BenchResult<Self> {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let revision = api
            .list_metadata(&ListParams::default().limit(1))
            .await?
            .metadata
            .resource_version
            .ok_or("the pod list answered without a resourceVersion")?;
        let params = WatchParams::default().timeout(lifetime.as_secs().max(1) as u32);
        let stream = api.watch(&params, &revision).await?;

        let pods: Arc<Mutex<HashMap<String, PodTimes>>> = Arc::default();
        let (sender, counts) = watch::channel(Counts::default());
        let shared = Arc::clone(&pods);
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let failure = loop {
                let event = match stream.try_next().await {
                    Ok(Some(event)) => event,
                    Ok(None) => break "the pod watch ended".to_string(),
                    Err(error) => break format!("the pod watch failed: {error}"),
                };
                let pod = match event {
                    WatchEvent::Added(pod) | WatchEvent::Modified(pod) => pod,
                    WatchEvent::Error(status) => break format!("the pod watch failed: {status:?}"),
                    WatchEvent::Deleted(_) | WatchEvent::Bookmark(_) => continue,
                };
                let arrived = Instant::now();
                let mut pods = shared.lock().expect("pod times lock");
                let changed = record(&mut pods, &pod, arrived);
                if changed {
                    let counts = count(&pods);
                    sender.send_replace(counts);
                }
            };
            sender.send_modify(|counts| counts.failure = Some(failure));
        });
        Ok(PodTracker { pods, counts, task })
    }

    /// Waits until `done` holds for the counts, at most `timeout`; `what`
    /// names the wait in the error.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Counts) -> bool,
    ) -> BenchResult<()> {
        let waited = tokio::time::timeout(
            timeout,
            self.counts
                .wait_for(|counts| counts.failure.is_some() || done(counts)),
        )
        .await
        // Whether the channel is still open; the borrow it held ends here.
        .map(|answer| answer.is_ok());
        let counts = self.counts();
        match waited {
            Err(_) => Err(format!("{what}: not reached within {timeout:?} ({counts:?})").into()),
            Ok(false) => Err(format!("{what}: the pod watch task stopped").into()),
            Ok(true) => match counts.failure {
                Some(failure) if !done(&counts) => Err(format!("{what}: {failure}").into()),
                _ => Ok(()),
            },
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts.borrow().clone()
    }

    /// Every pod seen so far, by name.
    pub fn pods(&self) -> HashMap<String, PodTimes> {
        self.pods.lock().expect("pod times lock").clone()
    }
}

impl Drop for PodTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Notes what `pod` shows; returns whether any count changed.
fn record(pods: &mut HashMap<String, PodTimes>, pod: &Pod, arrived: Instant) -> bool {
    let Some(name) = pod.metadata.name.clone() else {
        return false;
    };
    let mut changed = false;
    let times = pods.entry(name).or_insert_with(|| {
        changed = true;
        PodTimes {
            seen: arrived,
            bound: None,
            reported_unschedulable: false,
        }
    });
    let node = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .filter(|node| !node.is_empty());
    if let (None, Some(node)) = (&times.bound, node) {
        times.bound = Some((arrived, node.to_string()));
        changed = true;
    }
    if !times.reported_unschedulable && is_reported_unschedulable(pod) {
        times.reported_unschedulable = true;
        changed = true;
    }
    changed
}

fn is_reported_unschedulable(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
}

fn count(pods: &HashMap<String, PodTimes>) -> Counts {
    Counts {
        seen: pods.len(),
        bound: pods.values().filter(|p| p.bound.is_some()).count(),
        unschedulable: pods.values().filter(|p| p.reported_unschedulable).count(),
        failure: None,
    }
}
