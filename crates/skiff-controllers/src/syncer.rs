//! What the applier-driven syncers (ReplicaSet, Deployment) share: the cached
//! watches that trigger them, the key their [`crate::backoff::Backoff`] counts
//! failures by, the [`Action`] after a successful sync, and the loop that drives
//! `kube::runtime`'s applier.

use std::fmt::{Debug, Display};
use std::time::Duration;

use futures::{future, Stream, StreamExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// Watches every `K` in the cluster (with the default backoff) and mirrors it into
/// `writer`'s reflector cache; the events go on to trigger syncs.
pub fn watch_into_cache<K>(
    client: &kube::Client,
    writer: Writer<K>,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
}

/// `namespace/name`, the key a syncer's backoff counts an object's failures by.
pub fn object_key<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// What follows a successful sync: another after `requeue_after` if the plan asked
/// for one, or else nothing until something changes.
pub fn action_after_sync(requeue_after: Option<Duration>) -> Action {
    match requeue_after {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    }
}

/// Runs an applier until its triggers end, logging each failed sync at debug level
/// (the error policy has already scheduled the retry).
pub async fn run_applier<T, E: Display>(
    results: impl Stream<Item = Result<T, E>>,
    controller: &'static str,
) {
    results
        .for_each(|result| {
            if let Err(error) = result {
                tracing::debug!(%error, "{controller}");
            }
            future::ready(())
        })
        .await;
}
