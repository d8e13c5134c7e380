//! The watch cache, after kube-apiserver's cacher: one store watch over the whole
//! registry feeds an in-memory copy of every object and a window of recent
//! events. Lists at the current revision and every watcher are served from here,
//! so watchers never each watch the store, and each stored value is decoded once
//! per change, not once per reader.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use skiff_store::{EventKind, ListOptions, Revision, Store};
use tokio::sync::{broadcast, watch};

/// The prefix every object lives under.
const REGISTRY_PREFIX: &str = "/registry/";
/// How many recent events a watch may resume from without the store.
const HISTORY: usize = 8192;
/// How far a watcher may fall behind the live events before it is dropped.
const LIVE_BUFFER: usize = 4096;
/// How long a consistent list waits for the cache to reach the store's revision
/// before it reads the store instead.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(3);

/// One object as the cache holds it: the stored JSON, decoded once.
#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    /// The stored form (before per-resource conversion, without resourceVersion).
    pub value: Value,
    pub mod_revision: Revision,
    /// The stored form with its resourceVersion, encoded once on first use and
    /// then shared by every list and watcher that serves it unconverted.
    json: OnceLock<Bytes>,
}

impl CachedObject {
    pub fn new(key: String, value: Value, mod_revision: Revision) -> Self {
        Self {
            key,
            value,
            mod_revision,
            json: OnceLock::new(),
        }
    }

    /// The object as its own kind serves it, as JSON.
    pub fn json(&self) -> Bytes {
        self.json
            .get_or_init(|| {
                let mut served = self.value.clone();
                skiff_api::object::metadata_mut(&mut served).insert(
                    "resourceVersion".into(),
                    Value::String(self.mod_revision.to_string()),
                );
                Bytes::from(serde_json::to_vec(&served).unwrap_or_default())
            })
            .clone()
    }
}

/// One change, shared by every watcher.
#[derive(Debug)]
pub struct CachedEvent {
    pub kind: EventKind,
    pub revision: Revision,
    /// The object after a put; for a delete, the object as it was, at the
    /// delete's revision.
    pub object: Arc<CachedObject>,
    pub prev: Option<Arc<CachedObject>>,
}

struct State {
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<CachedEvent>>,
    /// The revision the cache reflects.
    revision: Revision,
}

/// The cache; cheap to share.
pub struct WatchCache {
    state: RwLock<State>,
    /// One live stream per resource (keyed by its store prefix), so a change wakes
    /// only the watchers of its own resource.
    live: RwLock<HashMap<String, broadcast::Sender<Arc<CachedEvent>>>>,
    applied: watch::Sender<Revision>,
}

/// The store prefix of the resource a key or watch prefix belongs to:
/// `/registry/<group>/<plural>/`, without the namespace or name.
fn resource_prefix(key: &str) -> &str {
    match key.match_indices('/').nth(3) {
        Some((end, _)) => &key[..=end],
        None => key,
    }
}

/// What a watcher starts from.
pub struct Subscription {
    /// Past events to send first, in order.
    pub replay: Vec<Arc<CachedEvent>>,
    pub live: broadcast::Receiver<Arc<CachedEvent>>,
}

impl WatchCache {
    /// Fills the cache from the store and keeps it following the store.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (applied, _) = watch::channel(0);
        let cache = Arc::new(Self {
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                revision: 0,
            }),
            live: RwLock::new(HashMap::new()),
            applied,
        });
        tokio::spawn(follow(Arc::downgrade(&cache), store));
        cache
    }

    /// The revision the cache reflects.
    pub fn revision(&self) -> Revision {
        *self.applied.borrow()
    }

    /// Waits until the cache reflects `revision`; false if it did not in time.
    pub async fn wait_for(&self, revision: Revision) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(CATCH_UP_TIMEOUT, applied.wait_for(|r| *r >= revision))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Every object under `prefix`, and the revision they are at.
    pub fn list(&self, prefix: &str) -> (Vec<Arc<CachedObject>>, Revision) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let objects = state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        (objects.map(|(_, o)| o.clone()).collect(), state.revision)
    }

    /// Events after `after` followed by live ones, or `None` when the window no
    /// longer reaches back that far (the store must answer instead). History the
    /// store has compacted counts as gone here too, so that every watcher sees
    /// the same 410 for the same revision.
    pub fn subscribe(
        &self,
        prefix: &str,
        after: Revision,
        compacted: Revision,
    ) -> Option<Subscription> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let oldest_known = state
            .history
            .front()
            .map(|e| e.revision - 1)
            .unwrap_or(state.revision);
        if after < oldest_known || after < compacted - 1 || after > state.revision {
            return None;
        }
        let replay = state
            .history
            .iter()
            .filter(|e| e.revision > after && e.object.key.starts_with(prefix))
            .cloned()
            .collect();
        // Subscribing under the read lock: the feeder applies and sends under the
        // write lock, so nothing falls between the replay and the live stream.
        let live = self.live_stream(prefix);
        Some(Subscription { replay, live })
    }

    /// A snapshot of `prefix` and a live stream from its revision.
    pub fn snapshot_and_subscribe(
        &self,
        prefix: &str,
    ) -> (Vec<Arc<CachedObject>>, Revision, Subscription) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let objects = state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        let objects = objects.map(|(_, o)| o.clone()).collect();
        let live = self.live_stream(prefix);
        (
            objects,
            state.revision,
            Subscription {
                replay: Vec::new(),
                live,
            },
        )
    }

    /// A receiver of the live stream of the resource `prefix` belongs to.
    fn live_stream(&self, prefix: &str) -> broadcast::Receiver<Arc<CachedEvent>> {
        let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
        live.entry(resource_prefix(prefix).to_string())
            .or_insert_with(|| broadcast::channel(LIVE_BUFFER).0)
            .subscribe()
    }

    fn reset(&self, objects: BTreeMap<String, Arc<CachedObject>>, revision: Revision) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        *state = State {
            objects,
            history: VecDeque::new(),
            revision,
        };
        // Watchers of the old stream may have missed events: end them, and they
        // resume from their last revision like any client.
        self.live.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.applied.send_replace(revision);
    }

    fn apply(&self, event: skiff_store::WatchEvent) {
        let Some(value) = parse(&event.kv.value) else {
            return;
        };
        let object = Arc::new(CachedObject::new(
            event.kv.key.clone(),
            value,
            event.kv.mod_revision,
        ));
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let prev = match event.kind {
            EventKind::Put => state.objects.insert(event.kv.key.clone(), object.clone()),
            EventKind::Delete => state.objects.remove(&event.kv.key),
        };
        let cached = Arc::new(CachedEvent {
            kind: event.kind,
            revision: event.revision,
            object,
            prev,
        });
        state.revision = event.revision;
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(cached.clone());
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        if let Some(stream) = live.get(resource_prefix(&cached.object.key)) {
            // Nobody watching this resource is not an error.
            let _ = stream.send(cached);
        }
        drop(live);
        drop(state);
        self.applied.send_replace(event.revision);
    }
}

fn parse(bytes: &[u8]) -> Option<Value> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::error!(%error, "failed to decode a stored object; the cache skips it");
            None
        }
    }
}

/// Lists the store, then follows it; lists again whenever the watch breaks.
async fn follow(cache: std::sync::Weak<WatchCache>, store: Arc<dyn Store>) {
    loop {
        let Ok(listed) = store.list(REGISTRY_PREFIX, ListOptions::default()).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let objects = listed
            .items
            .into_iter()
            .filter_map(|kv| {
                let value = parse(&kv.value)?;
                Some((
                    kv.key.clone(),
                    Arc::new(CachedObject::new(kv.key, value, kv.mod_revision)),
                ))
            })
            .collect();
        let Some(strong) = cache.upgrade() else {
            return;
        };
        strong.reset(objects, listed.revision);
        drop(strong);
        let Ok(mut events) = store.watch(REGISTRY_PREFIX, listed.revision).await else {
            continue;
        };
        while let Some(event) = events.next().await {
            let Some(strong) = cache.upgrade() else {
                return;
            };
            match event {
                Ok(event) => strong.apply(event),
                Err(error) => {
                    tracing::warn!(%error, "the watch cache lost its store watch; listing again");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use skiff_store::RedbStore;

    async fn cache_with_store() -> (Arc<WatchCache>, Arc<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = RedbStore::open(&dir.path().join("db")).unwrap();
        let cache = WatchCache::start(store.clone());
        (cache, store, dir)
    }

    #[tokio::test]
    async fn should_list_what_the_store_holds_once_caught_up() {
        let (cache, store, _dir) = cache_with_store().await;
        store
            .create("/registry/core/pods/a/x", Bytes::from_static(b"{\"n\":1}"))
            .await
            .unwrap();
        store
            .create("/registry/core/pods/b/y", Bytes::from_static(b"{\"n\":2}"))
            .await
            .unwrap();
        assert!(cache.wait_for(store.current_revision()).await);
        let (objects, revision) = cache.list("/registry/core/pods/a/");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].value["n"], 1);
        assert_eq!(revision, store.current_revision());
    }

    #[tokio::test]
    async fn should_replay_events_after_a_revision_then_follow_live() {
        let (cache, store, _dir) = cache_with_store().await;
        let first = store
            .create("/registry/core/pods/a/x", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        store
            .update(
                "/registry/core/pods/a/x",
                Bytes::from_static(b"{\"v\":2}"),
                first.mod_revision,
            )
            .await
            .unwrap();
        assert!(cache.wait_for(store.current_revision()).await);
        let mut subscription = cache
            .subscribe(
                "/registry/core/pods/",
                first.mod_revision,
                store.compacted_revision(),
            )
            .unwrap();
        assert_eq!(subscription.replay.len(), 1);
        assert_eq!(
            subscription.replay[0].prev.as_ref().unwrap().mod_revision,
            first.mod_revision
        );
        store.delete("/registry/core/pods/a/x", None).await.unwrap();
        let live = subscription.live.recv().await.unwrap();
        assert_eq!(live.kind, EventKind::Delete);
    }

    #[test]
    fn should_find_the_resource_of_keys_and_watch_prefixes() {
        assert_eq!(
            resource_prefix("/registry/core/pods/default/web"),
            "/registry/core/pods/"
        );
        assert_eq!(
            resource_prefix("/registry/apps/deployments/"),
            "/registry/apps/deployments/"
        );
        assert_eq!(
            resource_prefix("/registry/core/nodes/n1"),
            "/registry/core/nodes/"
        );
    }

    #[tokio::test]
    async fn should_wake_only_the_watchers_of_the_changed_resource() {
        let (cache, store, _dir) = cache_with_store().await;
        assert!(cache.wait_for(store.current_revision()).await);
        let (_, _, mut pods) = cache.snapshot_and_subscribe("/registry/core/pods/default/");
        store
            .create(
                "/registry/core/configmaps/default/c",
                Bytes::from_static(b"{}"),
            )
            .await
            .unwrap();
        store
            .create("/registry/core/pods/default/p", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        let first = pods.live.recv().await.unwrap();
        assert_eq!(first.object.key, "/registry/core/pods/default/p");
    }

    #[tokio::test]
    async fn should_refuse_revisions_the_store_has_compacted() {
        let (cache, store, _dir) = cache_with_store().await;
        let start = store.current_revision();
        for i in 0..3 {
            store
                .create(
                    &format!("/registry/core/pods/a/{i}"),
                    Bytes::from_static(b"{}"),
                )
                .await
                .unwrap();
        }
        assert!(cache.wait_for(store.current_revision()).await);
        store.compact(store.current_revision()).await.unwrap();
        assert!(cache
            .subscribe("/registry/core/pods/", start, store.compacted_revision())
            .is_none());
        assert!(cache
            .subscribe(
                "/registry/core/pods/",
                store.current_revision(),
                store.compacted_revision()
            )
            .is_some());
    }
}
