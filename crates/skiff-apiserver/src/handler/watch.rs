//! watch: newline-delimited JSON events, replayed from a resourceVersion and then
//! live, filtered by selectors (an object that stops matching is reported as
//! DELETED, as kube-apiserver's cacher does), with bookmarks and a timeout.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};
use skiff_api::registry::ResourceType;
use skiff_api::table::{self, IncludeObject};
use skiff_store::EventKind;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio::sync::mpsc;

use super::Call;
use crate::filter::ObjectFilter;
use crate::objects::served;
use crate::status::{ApiError, ApiResult};
use crate::watch_cache::{CachedEvent, CachedObject, Subscription};

/// How often a quiet watch gets a bookmark, when the client allows them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
/// The longest watch, when the client names no timeout (kube-apiserver picks
/// 30–60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// Events buffered per watcher before the stream waits for the client.
const CHANNEL_DEPTH: usize = 256;

/// How one watcher renders events.
struct Encoder {
    resource: &'static ResourceType,
    table: Option<IncludeObject>,
    /// Only the first Table of a stream carries column definitions, as upstream.
    columns_sent: bool,
}

impl Encoder {
    fn event(&mut self, kind: &str, object: &Value) -> Bytes {
        let object = match self.table {
            Some(include) => {
                let include_columns = !std::mem::replace(&mut self.columns_sent, true);
                table::watch_table(
                    self.resource.kind,
                    object,
                    chrono::Utc::now(),
                    include,
                    include_columns,
                )
            }
            None => object.clone(),
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    /// A watch event line; in JSON mode an unconverted object's shared encoding is
    /// spliced in, so the object is encoded once for every watcher.
    fn event_of(&mut self, kind: &str, object: &EventObject) -> Bytes {
        match (object, self.table) {
            (EventObject::Shared(cached), None) => {
                let json = cached.json();
                let mut line = Vec::with_capacity(json.len() + 40);
                line.extend_from_slice(b"{\"type\":\"");
                line.extend_from_slice(kind.as_bytes());
                line.extend_from_slice(b"\",\"object\":");
                line.extend_from_slice(&json);
                line.extend_from_slice(b"}\n");
                Bytes::from(line)
            }
            (EventObject::Shared(cached), Some(_)) => {
                let object = served(self.resource, &cached.value, cached.mod_revision);
                self.event(kind, &object)
            }
            (EventObject::Converted(object), _) => self.event(kind, object),
        }
    }

    fn bookmark(&self, revision: i64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.resource.kind_name, "apiVersion": self.resource.api_version(), "metadata": metadata});
        let mut line =
            serde_json::to_vec(&json!({"type": "BOOKMARK", "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn error(&self, error: &ApiError) -> Bytes {
        let mut line = serde_json::to_vec(&json!({"type": "ERROR", "object": error.to_status()}))
            .unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

/// The object of a watch event: the cache's shared encoding when the resource
/// serves its stored form as is, or an object converted for this resource.
enum EventObject {
    Shared(Arc<CachedObject>),
    Converted(Value),
}

impl EventObject {
    fn of(rt: &ResourceType, object: &Arc<CachedObject>) -> Self {
        if skiff_api::convert::storage_kind(rt.kind) == rt.kind {
            EventObject::Shared(object.clone())
        } else {
            EventObject::Converted(served(rt, &object.value, object.mod_revision))
        }
    }

    /// What selectors read: every field they can name is in the stored form.
    fn value(&self) -> &Value {
        match self {
            EventObject::Shared(object) => &object.value,
            EventObject::Converted(value) => value,
        }
    }
}

/// The watch event a change becomes for a watcher with `filter`, if any.
fn translate(
    rt: &ResourceType,
    event: &CachedEvent,
    filter: &ObjectFilter,
) -> Option<(&'static str, EventObject)> {
    let now = EventObject::of(rt, &event.object);
    let now_matches = filter.matches(now.value());
    let kind = match event.kind {
        EventKind::Delete => now_matches.then_some("DELETED")?,
        EventKind::Put => {
            let before = event
                .prev
                .as_ref()
                .map(|prev| filter.matches(EventObject::of(rt, prev).value()));
            match (before, now_matches) {
                (None | Some(false), true) => "ADDED",
                (Some(true), true) => "MODIFIED",
                (Some(true), false) => "DELETED",
                (_, false) => return None,
            }
        }
    };
    Some((kind, now))
}

/// Where a watcher's changes come from: the watch cache, or, for a revision the
/// cache's window no longer holds, the store itself.
enum Source {
    Cache(Subscription),
    Store(skiff_store::WatchStream),
}

impl Source {
    async fn next(&mut self) -> Option<Result<Arc<CachedEvent>, ApiError>> {
        match self {
            Source::Cache(subscription) => {
                if !subscription.replay.is_empty() {
                    return Some(Ok(subscription.replay.remove(0)));
                }
                match subscription.live.recv().await {
                    Ok(event) => Some(Ok(event)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        Some(Err(ApiError::from(skiff_store::StoreError::WatcherLagged)))
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                }
            }
            Source::Store(events) => match events.next().await? {
                Ok(event) => Some(Ok(Arc::new(cached_event(event)))),
                Err(error) => Some(Err(ApiError::from(error))),
            },
        }
    }
}

/// A store event in the cache's shape (only for watches older than the cache).
fn cached_event(event: skiff_store::WatchEvent) -> CachedEvent {
    let object = |kv: &skiff_store::KeyValue| {
        Arc::new(CachedObject::new(
            kv.key.clone(),
            serde_json::from_slice(&kv.value).unwrap_or(Value::Null),
            kv.mod_revision,
        ))
    };
    CachedEvent {
        kind: event.kind,
        revision: event.revision,
        object: object(&event.kv),
        prev: event.prev.as_ref().map(object),
    }
}

pub async fn watch(call: &Call<'_>) -> ApiResult<Response> {
    let rt = call.target.resource;
    let filter = ObjectFilter::from_query(rt, &call.query)?;
    let bookmarks = call.query.bookmarks().map_err(ApiError::bad_request)?;
    let send_initial = call.query.initial_events().map_err(ApiError::bad_request)?;
    let timeout = call
        .query
        .timeout_seconds()
        .map_err(ApiError::bad_request)?
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let include = IncludeObject::from_query(call.query.include_object.as_deref())
        .map_err(ApiError::bad_request)?;
    let table = call.wants_table().then_some(include);
    let mut encoder = Encoder {
        resource: rt,
        table,
        columns_sent: false,
    };
    let requested: Option<i64> = match call.query.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(text) => Some(
            text.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {text:?}")))?,
        ),
    };

    let prefix = rt.list_prefix(call.namespace());
    let cache = call.state.objects.cache();
    let store = call.state.objects.store();
    let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    // Without a resourceVersion (or with sendInitialEvents), a watch starts with
    // the current state as ADDED events, then follows from that snapshot.
    let mut initial = Vec::new();
    let source = match requested {
        Some(rv) if !send_initial => {
            if rv > cache.revision() {
                cache.wait_for(rv).await;
            }
            match cache.subscribe(&prefix, rv, store.compacted_revision()) {
                Some(subscription) => Ok((Source::Cache(subscription), rv)),
                None => store
                    .watch(&prefix, rv)
                    .await
                    .map(|events| (Source::Store(events), rv)),
            }
        }
        _ => {
            cache.wait_for(store.current_revision()).await;
            let (objects, revision, subscription) = cache.snapshot_and_subscribe(&prefix);
            for object in objects {
                let object = EventObject::of(rt, &object);
                if filter.matches(object.value()) {
                    initial.push(encoder.event_of("ADDED", &object));
                }
            }
            if send_initial && bookmarks {
                initial.push(encoder.bookmark(revision, true));
            }
            Ok((Source::Cache(subscription), revision))
        }
    };
    match source {
        Ok((source, start)) => {
            let watcher = Watcher {
                prefix,
                filter,
                encoder,
                bookmarks,
                timeout,
            };
            tokio::spawn(watcher.pump(source, initial, sender, start));
        }
        // A watch from a compacted revision is answered as kube-apiserver does:
        // 200, then one ERROR event carrying the 410 Expired status.
        Err(error) => {
            let _ = sender.try_send(encoder.error(&ApiError::from(error)));
        }
    }
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), receiver))
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// One watcher's settings.
struct Watcher {
    prefix: String,
    filter: ObjectFilter,
    encoder: Encoder,
    bookmarks: bool,
    timeout: Duration,
}

impl Watcher {
    /// Feeds the client until it leaves, the timeout passes, or the source ends
    /// (the client then starts again from its last resourceVersion).
    async fn pump(
        mut self,
        mut source: Source,
        initial: Vec<Bytes>,
        sender: mpsc::Sender<Bytes>,
        start: i64,
    ) {
        for chunk in initial {
            if sender.send(chunk).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        let mut last_revision = start;
        loop {
            let chunk = tokio::select! {
                _ = &mut deadline => return,
                _ = sender.closed() => return,
                _ = ticker.tick(), if self.bookmarks => self.encoder.bookmark(last_revision, false),
                next = source.next() => match next {
                    None => return,
                    Some(Err(error)) => {
                        let _ = sender.send(self.encoder.error(&error)).await;
                        return;
                    }
                    Some(Ok(event)) => {
                        last_revision = event.revision;
                        if !event.object.key.starts_with(&self.prefix) {
                            continue;
                        }
                        match translate(self.encoder.resource, &event, &self.filter) {
                            Some((kind, object)) => self.encoder.event_of(kind, &object),
                            None => continue,
                        }
                    }
                },
            };
            if sender.send(chunk).await.is_err() {
                return;
            }
        }
    }
}
