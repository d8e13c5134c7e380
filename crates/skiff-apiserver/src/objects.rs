//! Objects in the store: JSON bytes under the registry's keys, with
//! `metadata.resourceVersion` always the store's mod-revision of the key.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use skiff_api::registry::ResourceType;
use skiff_api::{convert, object};
use skiff_store::{KeyValue, ListOptions, Revision, Store, StoreError};

use crate::status::{ApiError, ApiResult};
use crate::watch_cache::{CachedObject, WatchCache};

/// The API's view of the store: typed by resource, speaking JSON objects.
/// Writes and gets go to the store; current lists come from the watch cache.
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn Store>,
    cache: Arc<WatchCache>,
}

/// One page of a list.
pub struct Page {
    pub items: Vec<Value>,
    pub revision: Revision,
    /// The key of the last item, when more follow it.
    pub last_key_if_more: Option<String>,
}

impl Objects {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let cache = WatchCache::start(store.clone());
        Self { store, cache }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn cache(&self) -> &Arc<WatchCache> {
        &self.cache
    }

    pub async fn get(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> ApiResult<Value> {
        match self.store.get(&rt.store_key(namespace, name)).await? {
            Some(kv) => decode(rt, &kv),
            None => Err(ApiError::not_found(rt, name)),
        }
    }

    /// A whole current list straight from the cache, for a resource that serves
    /// its stored form unconverted, so that each object's shared encoding can be
    /// sent as is; `None` when the cache cannot answer it that way.
    pub async fn cached_list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
    ) -> Option<(Vec<Arc<CachedObject>>, Revision)> {
        if convert::storage_kind(rt.kind) != rt.kind
            || !self.cache.wait_for(self.store.current_revision()).await
        {
            return None;
        }
        Some(self.cache.list(&rt.list_prefix(namespace)))
    }

    pub async fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        options: ListOptions,
    ) -> ApiResult<Page> {
        let prefix = rt.list_prefix(namespace);
        // A whole list at the latest revision is the cache's, once the cache has
        // seen every write made so far (a consistent read, as kube-apiserver's).
        if options == ListOptions::default()
            && self.cache.wait_for(self.store.current_revision()).await
        {
            let (objects, revision) = self.cache.list(&prefix);
            let items = objects
                .iter()
                .map(|o| served(rt, &o.value, o.mod_revision))
                .collect();
            return Ok(Page {
                items,
                revision,
                last_key_if_more: None,
            });
        }
        let result = self.store.list(&prefix, options).await?;
        let last_key_if_more = if result.more {
            result.items.last().map(|kv| kv.key.clone())
        } else {
            None
        };
        let items = result
            .items
            .iter()
            .map(|kv| decode(rt, kv))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Page {
            items,
            revision: result.revision,
            last_key_if_more,
        })
    }

    pub async fn create(&self, rt: &ResourceType, object: &Value) -> ApiResult<Value> {
        let (name, key) = name_and_key(rt, object);
        let written = self.store.create(&key, encode(rt, object)?).await;
        written_or_error(rt, &name, written)
    }

    /// Writes `object` if the stored one is still at `expected`.
    pub async fn update(
        &self,
        rt: &ResourceType,
        object: &Value,
        expected: Revision,
    ) -> ApiResult<Value> {
        let (name, key) = name_and_key(rt, object);
        let written = self.store.update(&key, encode(rt, object)?, expected).await;
        written_or_error(rt, &name, written)
    }

    /// Removes the object if it is still at `expected`; returns it as it was, with
    /// the delete's revision.
    pub async fn delete(
        &self,
        rt: &ResourceType,
        object: &Value,
        expected: Revision,
    ) -> ApiResult<Value> {
        let (name, key) = name_and_key(rt, object);
        let removed = self.store.delete(&key, Some(expected)).await;
        written_or_error(rt, &name, removed)
    }
}

fn name_and_key(rt: &ResourceType, object: &Value) -> (String, String) {
    let name = object::name(object).unwrap_or_default().to_string();
    let key = rt.store_key(object::namespace(object), &name);
    (name, key)
}

/// A write's answer: the object as stored, or the Status for what went wrong.
fn written_or_error(
    rt: &ResourceType,
    name: &str,
    result: skiff_store::Result<KeyValue>,
) -> ApiResult<Value> {
    match result {
        Ok(kv) => decode(rt, &kv),
        Err(StoreError::AlreadyExists(_)) => Err(ApiError::already_exists(rt, name)),
        Err(StoreError::Conflict { .. }) => Err(ApiError::conflict(rt, name)),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found(rt, name)),
        Err(other) => Err(other.into()),
    }
}

/// The stored form: the object without its resourceVersion, which the store owns,
/// converted to the form of the kind whose storage it shares.
pub fn encode(rt: &ResourceType, object: &Value) -> ApiResult<Bytes> {
    let mut stored = convert::to_storage(rt.kind, object.clone());
    if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    serde_json::to_vec(&stored)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("failed to encode object: {e}")))
}

/// The served form: the stored JSON as `rt` shows it, with resourceVersion set
/// from the store.
pub fn decode(rt: &ResourceType, kv: &KeyValue) -> ApiResult<Value> {
    let stored: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::internal(format!("failed to decode stored object {}: {e}", kv.key))
    })?;
    Ok(served(rt, &stored, kv.mod_revision))
}

/// A stored object as `rt` serves it, at `revision`.
pub fn served(rt: &ResourceType, stored: &Value, revision: Revision) -> Value {
    let mut object = convert::from_storage(rt.kind, stored.clone());
    object::metadata_mut(&mut object).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
    object
}

/// The revision an object carries, as the store's mod-revision.
pub fn revision_of(object: &Value) -> Option<Revision> {
    object::meta_str(object, "resourceVersion")?.parse().ok()
}
