//! A recorder of core/v1 Events, as `kubectl describe` shows them.
//!
//! This is the small part of client-go's `tools/record` that the loops need:
//! [`EventRecorder::record`] never blocks and never fails; a background task writes
//! the Events, a bounded number at a time, and folds an identical repeat (same
//! object, type, reason and message) into the earlier Event by raising its `count`
//! and `lastTimestamp`, as `record/events_cache.go`'s aggregator does for exact
//! duplicates.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

/// Whether an Event reports something expected or something that went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Routine progress, such as a pod created.
    Normal,
    /// A failure someone may have to look at.
    Warning,
}

impl EventType {
    /// The spelling the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Failures writing an Event; they are logged, never returned to the loops.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or could not be reached.
    #[error("failed to write an event: {0}")]
    Write(#[from] kube::Error),
}

/// One Event to be written.
struct Request {
    regarding: ObjectReference,
    event_type: EventType,
    reason: String,
    message: String,
    at: Timestamp,
}

/// Records Events about objects for one component (e.g. `deployment-controller`).
///
/// Cloning is cheap; all clones feed the same writer task.
#[derive(Clone)]
pub struct EventRecorder {
    sender: mpsc::UnboundedSender<Request>,
}

impl EventRecorder {
    /// Starts the writer task for `component`, the `source.component` and
    /// `reportingComponent` of every Event. Must be called inside a tokio runtime.
    pub fn new(client: kube::Client, component: &str) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_events(client, component.to_string(), receiver));
        Self { sender }
    }

    /// Records an Event about `object` (which must have been read from the API, so
    /// that it has a uid and resourceVersion).
    pub fn record<K>(&self, object: &K, event_type: EventType, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let request = Request {
            regarding: object_reference(object),
            event_type,
            reason: reason.to_string(),
            message,
            at: Timestamp::now(),
        };
        // The receiver only goes away when the runtime shuts down.
        let _ = self.sender.send(request);
    }
}

/// The `involvedObject` of an Event about `object` (`reference.GetReference`).
pub fn object_reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: object.meta().name.clone(),
        namespace: object.meta().namespace.clone(),
        uid: object.meta().uid.clone(),
        resource_version: object.meta().resource_version.clone(),
        field_path: None,
    }
}

/// The Event client-go's recorder makes (`recorder.makeEvent`): named
/// `<object>.<unix nanoseconds in hex>`, in the object's namespace (or `default`).
pub fn build_event(
    regarding: &ObjectReference,
    event_type: EventType,
    reason: &str,
    message: &str,
    component: &str,
    at: Timestamp,
) -> Event {
    let name = format!(
        "{}.{:x}",
        regarding.name.as_deref().unwrap_or_default(),
        at.as_nanosecond()
    );
    let namespace = regarding
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".to_string());
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace),
            ..Default::default()
        },
        involved_object: regarding.clone(),
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        type_: Some(event_type.as_str().to_string()),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        first_timestamp: Some(Time(at)),
        last_timestamp: Some(Time(at)),
        count: Some(1),
        event_time: None::<MicroTime>,
        reporting_component: Some(component.to_string()),
        reporting_instance: Some(component.to_string()),
        ..Default::default()
    }
}

/// What makes two Events the same for aggregation (`getEventKey`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EventKey {
    uid: String,
    namespace: String,
    name: String,
    event_type: &'static str,
    reason: String,
    message: String,
}

/// The Event already written for a key, and how often it has been seen.
#[derive(Clone)]
struct Written {
    namespace: String,
    name: String,
    count: i32,
}

/// How many distinct Events the aggregator remembers (client-go keeps 4096).
const CACHE_SIZE: usize = 4096;

/// How many Events are written at once; a Deployment of 1,000 replicas records
/// 1,000 SuccessfulCreate Events, which one at a time trail the pods by seconds.
const MAX_IN_FLIGHT: usize = 16;
/// The most requests taken from the queue for one round of writes.
const MAX_BATCH: usize = 256;

/// Identical requests found together in the queue, written as one Event.
struct Folded {
    key: EventKey,
    request: Request,
    first_at: Timestamp,
    repeats: i32,
}

/// Takes what is queued, folds identical requests, and writes the distinct ones
/// concurrently; remembers each written Event so a later repeat raises its count.
async fn write_events(
    client: kube::Client,
    component: String,
    mut receiver: mpsc::UnboundedReceiver<Request>,
) {
    use futures::StreamExt;
    let mut written: HashMap<EventKey, Written> = HashMap::new();
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let folded = fold_identical(batch);
        let writes = folded.into_iter().map(|folded| {
            let previous = written.get(&folded.key).cloned();
            let (client, component) = (client.clone(), component.as_str());
            async move {
                let outcome = write_one(&client, component, &folded, previous).await;
                (folded.key, outcome)
            }
        });
        let outcomes: Vec<_> = futures::stream::iter(writes)
            .buffer_unordered(MAX_IN_FLIGHT)
            .collect()
            .await;
        if written.len() + outcomes.len() > CACHE_SIZE {
            written.clear();
        }
        for (key, outcome) in outcomes {
            match outcome {
                Ok(event) => {
                    written.insert(key, event);
                }
                Err(error) => tracing::warn!(%error, reason = %key.reason, "event dropped"),
            }
        }
    }
}

/// Folds requests about the same object with the same type, reason and message,
/// keeping the order in which each first appeared.
fn fold_identical(batch: Vec<Request>) -> Vec<Folded> {
    let mut folded: Vec<Folded> = Vec::new();
    let mut index: HashMap<EventKey, usize> = HashMap::new();
    for request in batch {
        let key = event_key(&request);
        match index.get(&key) {
            Some(&at) => {
                folded[at].repeats += 1;
                folded[at].request.at = request.at;
            }
            None => {
                index.insert(key.clone(), folded.len());
                folded.push(Folded {
                    key,
                    first_at: request.at,
                    request,
                    repeats: 1,
                });
            }
        }
    }
    folded
}

fn event_key(request: &Request) -> EventKey {
    EventKey {
        uid: request.regarding.uid.clone().unwrap_or_default(),
        namespace: request.regarding.namespace.clone().unwrap_or_default(),
        name: request.regarding.name.clone().unwrap_or_default(),
        event_type: request.event_type.as_str(),
        reason: request.reason.clone(),
        message: request.message.clone(),
    }
}

/// Raises the count of the Event already written for this key, or creates one.
async fn write_one(
    client: &kube::Client,
    component: &str,
    folded: &Folded,
    previous: Option<Written>,
) -> Result<Written, Error> {
    let request = &folded.request;
    if let Some(mut previous) = previous {
        match bump(client, &mut previous, folded.repeats, request.at).await {
            Ok(()) => return Ok(previous),
            // The earlier Event expired or was deleted: write a fresh one.
            Err(error) => tracing::debug!(%error, "could not update an event; creating a new one"),
        }
    }
    let mut event = build_event(
        &request.regarding,
        request.event_type,
        &request.reason,
        &request.message,
        component,
        folded.first_at,
    );
    event.count = Some(folded.repeats);
    event.last_timestamp = Some(Time(request.at));
    let namespace = event.namespace().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let created = api.create(&PostParams::default(), &event).await?;
    Ok(Written {
        namespace,
        name: created.name_any(),
        count: folded.repeats,
    })
}

/// Raises the count of an Event already written (`eventLogger.eventObserve`).
async fn bump(
    client: &kube::Client,
    previous: &mut Written,
    repeats: i32,
    at: Timestamp,
) -> Result<(), Error> {
    let api: Api<Event> = Api::namespaced(client.clone(), &previous.namespace);
    let count = previous.count + repeats;
    let patch = json!({"count": count, "lastTimestamp": Time(at)});
    api.patch(
        &previous.name,
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    previous.count = count;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;

    fn replica_set() -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-abc".into()),
                namespace: Some("shop".into()),
                uid: Some("u-1".into()),
                resource_version: Some("42".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn request(reason: &str, nanos: i128) -> Request {
        Request {
            regarding: object_reference(&replica_set()),
            event_type: EventType::Normal,
            reason: reason.into(),
            message: "m".into(),
            at: Timestamp::from_nanosecond(nanos).unwrap(),
        }
    }

    #[test]
    fn should_fold_identical_requests_keeping_first_and_last_times() {
        let folded = fold_identical(vec![request("A", 1), request("B", 2), request("A", 3)]);
        assert_eq!(folded.len(), 2);
        assert_eq!((folded[0].key.reason.as_str(), folded[0].repeats), ("A", 2));
        assert_eq!(folded[0].first_at, Timestamp::from_nanosecond(1).unwrap());
        assert_eq!(folded[0].request.at, Timestamp::from_nanosecond(3).unwrap());
        assert_eq!((folded[1].key.reason.as_str(), folded[1].repeats), ("B", 1));
    }

    #[test]
    fn should_reference_the_object_with_its_kind_and_version() {
        let reference = object_reference(&replica_set());
        assert_eq!(reference.api_version.as_deref(), Some("apps/v1"));
        assert_eq!(reference.kind.as_deref(), Some("ReplicaSet"));
        assert_eq!(reference.uid.as_deref(), Some("u-1"));
        assert_eq!(reference.resource_version.as_deref(), Some("42"));
        assert_eq!(reference.namespace.as_deref(), Some("shop"));
    }

    #[test]
    fn should_name_events_after_the_object_and_the_time_in_hex() {
        let at = Timestamp::from_nanosecond(0x1234_abcd).unwrap();
        let event = build_event(
            &object_reference(&replica_set()),
            EventType::Normal,
            "SuccessfulCreate",
            "Created pod: web-abc-x2x4z",
            "replicaset-controller",
            at,
        );
        assert_eq!(event.metadata.name.as_deref(), Some("web-abc.1234abcd"));
        assert_eq!(event.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(event.type_.as_deref(), Some("Normal"));
        assert_eq!(event.count, Some(1));
        assert_eq!(event.first_timestamp, event.last_timestamp);
        assert_eq!(
            event.source.unwrap().component.as_deref(),
            Some("replicaset-controller")
        );
        assert_eq!(
            event.reporting_component.as_deref(),
            Some("replicaset-controller")
        );
    }

    #[test]
    fn should_put_events_about_cluster_objects_in_default() {
        let reference = ObjectReference {
            name: Some("node-1".into()),
            ..Default::default()
        };
        let event = build_event(
            &reference,
            EventType::Warning,
            "NodeNotReady",
            "x",
            "c",
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(event.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
    }
}
