//! core/v1 Events about pods, as `kubectl describe pod` shows them: a tiny
//! recorder of the scheduler's own (the controllers crate has its own, and the
//! scheduler may not import it).
//!
//! Like client-go's event correlator (`tools/record/events_cache.go`), a repeat
//! of the same message for the same pod bumps `count` and `lastTimestamp` of the
//! existing Event instead of creating another.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

/// The name events and conditions carry (`v1.DefaultSchedulerName`).
pub const COMPONENT: &str = "default-scheduler";
/// The reason of the event for a bound pod.
pub const REASON_SCHEDULED: &str = "Scheduled";
/// The reason of the event for a pod that fits nowhere.
pub const REASON_FAILED_SCHEDULING: &str = "FailedScheduling";

/// Failures to record an event.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or could not be reached.
    #[error("failed to write event: {0}")]
    Write(#[from] kube::Error),
}

/// Whether an event reports progress or trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// A new Event about `pod`, named `<pod>.<nanoseconds in hex>` as client-go names them.
pub fn pod_event(
    pod: &Pod,
    event_type: EventType,
    reason: &str,
    action: &str,
    message: &str,
    now: Timestamp,
) -> Event {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let nanos = now.as_nanosecond();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{nanos:x}")),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Pod".to_string()),
            name: Some(name),
            namespace: Some(namespace),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            ..ObjectReference::default()
        },
        type_: Some(event_type.as_str().to_string()),
        reason: Some(reason.to_string()),
        action: Some(action.to_string()),
        message: Some(message.to_string()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_string()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.to_string()),
        reporting_instance: Some(COMPONENT.to_string()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    }
}

/// Writes events through the API.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
}

impl Recorder {
    /// A recorder writing with `client`.
    pub fn new(client: Client) -> Self {
        Recorder { client }
    }

    /// Creates the event.
    pub async fn create(&self, event: &Event) -> Result<(), Error> {
        let namespace = event.metadata.namespace.as_deref().unwrap_or("default");
        Api::<Event>::namespaced(self.client.clone(), namespace)
            .create(&PostParams::default(), event)
            .await?;
        Ok(())
    }

    /// Records one more occurrence of an existing event.
    pub async fn repeat(
        &self,
        namespace: &str,
        name: &str,
        count: i32,
        now: Timestamp,
    ) -> Result<(), Error> {
        let patch = serde_json::json!({"count": count, "lastTimestamp": Time(now)});
        Api::<Event>::namespaced(self.client.clone(), namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn should_describe_the_pod_and_the_scheduler_as_kubectl_describe_reads_them() {
        let pod: Pod = serde_json::from_value(
            json!({"metadata": {"name": "web-abc", "namespace": "default", "uid": "u1"}}),
        )
        .expect("a pod");
        let now = Timestamp::from_second(1_700_000_000).expect("a time");
        let event = pod_event(
            &pod,
            EventType::Warning,
            REASON_FAILED_SCHEDULING,
            "Scheduling",
            "0/1 nodes",
            now,
        );
        let value = serde_json::to_value(&event).expect("json");
        assert_eq!(value["metadata"]["name"], "web-abc.17979cfe362a0000");
        assert_eq!(value["metadata"]["namespace"], "default");
        assert_eq!(
            value["involvedObject"],
            json!({"apiVersion": "v1", "kind": "Pod", "name": "web-abc", "namespace": "default", "uid": "u1"})
        );
        assert_eq!(value["type"], "Warning");
        assert_eq!(value["reason"], "FailedScheduling");
        assert_eq!(value["source"]["component"], "default-scheduler");
        assert_eq!(value["reportingComponent"], "default-scheduler");
        assert_eq!(value["firstTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(value["lastTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(value["count"], 1);
    }
}
