//! A KWOK-like stand-in for the node agent while nothing runs pods: it marks
//! every new pod Running and Ready through the status subresource, and finishes
//! pods being deleted.

use std::time::Duration;

use serde_json::{json, Value};

use super::access::Access;
use super::background::Repeating;
use super::{now_rfc3339, Cluster};

/// Plays the node agent until dropped: pods become Running and Ready, and
/// deleted pods go away.
pub struct Kwok {
    _rounds: Repeating,
}

impl Kwok {
    pub fn start(cluster: &Cluster) -> Self {
        let access = Access::of(cluster);
        let rounds = Repeating::every(Duration::from_millis(100), move || {
            let list = access.get("/api/v1/pods");
            for pod in list["items"].as_array().into_iter().flatten() {
                play_agent_for(&access, pod);
            }
        });
        Kwok { _rounds: rounds }
    }
}

/// One pod's turn: finish its deletion, or make it Running and Ready.
fn play_agent_for(access: &Access, pod: &Value) {
    let (namespace, name) = (
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        pod["metadata"]["name"].as_str().unwrap_or_default(),
    );
    let path = format!("/api/v1/namespaces/{namespace}/pods/{name}");
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        access.send(
            "DELETE",
            "application/json",
            &path,
            &json!({"gracePeriodSeconds": 0}),
        );
    } else if !is_ready(pod) {
        let now = now_rfc3339();
        let patch = json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
        ]}});
        let status_path = format!("{path}/status");
        if !access.send(
            "PATCH",
            "application/strategic-merge-patch+json",
            &status_path,
            &patch,
        ) {
            access.send(
                "PATCH",
                "application/merge-patch+json",
                &status_path,
                &patch,
            );
        }
    }
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}
