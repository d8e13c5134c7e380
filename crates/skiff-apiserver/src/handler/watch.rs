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
use skiff_store::{EventKind, ListOptions, WatchEvent};
use tokio::sync::mpsc;

use super::Call;
use crate::filter::ObjectFilter;
use crate::objects::decode;
use crate::status::{ApiError, ApiResult};

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

/// The watch event a store change becomes for a watcher with `filter`, if any.
fn translate(
    rt: &ResourceType,
    event: &WatchEvent,
    filter: &ObjectFilter,
) -> Option<(&'static str, Value)> {
    let now = decode(rt, &event.kv).ok()?;
    match event.kind {
        EventKind::Delete => filter.matches(&now).then_some(("DELETED", now)),
        EventKind::Put => {
            let before = event
                .prev
                .as_ref()
                .and_then(|kv| decode(rt, kv).ok())
                .map(|prev| filter.matches(&prev));
            match (before, filter.matches(&now)) {
                (None | Some(false), true) => Some(("ADDED", now)),
                (Some(true), true) => Some(("MODIFIED", now)),
                (Some(true), false) => Some(("DELETED", now)),
                (_, false) => None,
            }
        }
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

    // Without a resourceVersion (or with sendInitialEvents), a watch starts with
    // the current state as ADDED events, then follows from that list's revision.
    let mut initial = Vec::new();
    let start = match requested {
        Some(rv) if !send_initial => rv,
        _ => {
            let page = call
                .state
                .objects
                .list(rt, call.namespace(), ListOptions::default())
                .await?;
            initial.extend(
                page.items
                    .into_iter()
                    .filter(|o| filter.matches(o))
                    .map(|o| encoder.event("ADDED", &o)),
            );
            if send_initial && bookmarks {
                initial.push(encoder.bookmark(page.revision, true));
            }
            page.revision
        }
    };
    let prefix = rt.list_prefix(call.namespace());
    let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    match call.state.objects.store().watch(&prefix, start).await {
        Ok(events) => {
            tokio::spawn(pump(
                events, initial, filter, encoder, sender, start, bookmarks, timeout,
            ));
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

/// Feeds one watcher until its client leaves, the timeout passes, or the store
/// drops it (the client then starts again from its last resourceVersion).
#[allow(clippy::too_many_arguments)]
async fn pump(
    mut events: skiff_store::WatchStream,
    initial: Vec<Bytes>,
    filter: ObjectFilter,
    mut encoder: Encoder,
    sender: mpsc::Sender<Bytes>,
    start: i64,
    bookmarks: bool,
    timeout: Duration,
) {
    for chunk in initial {
        if sender.send(chunk).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
    ticker.tick().await;
    let mut last_revision = start;
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            _ = sender.closed() => return,
            _ = ticker.tick(), if bookmarks => {
                if sender.send(encoder.bookmark(last_revision, false)).await.is_err() {
                    return;
                }
            }
            next = events.next() => {
                let chunk = match next {
                    None => return,
                    Some(Err(error)) => {
                        let _ = sender.send(encoder.error(&ApiError::from(error))).await;
                        return;
                    }
                    Some(Ok(event)) => {
                        last_revision = event.revision;
                        match translate(encoder.resource, &event, &filter) {
                            Some((kind, object)) => encoder.event(kind, &object),
                            None => continue,
                        }
                    }
                };
                if sender.send(chunk).await.is_err() {
                    return;
                }
            }
        }
    }
}
