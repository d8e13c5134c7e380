//! Event rows: printers.go `printEvent`, for core v1 Events and for
//! events.k8s.io/v1 Events alike — upstream stores both as one internal type
//! and prints them with the same printer, so an events.k8s.io Event is first
//! read through its v1 field names ([`EventFields::EVENTS_V1`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::format::{field, int_at, parse_time, since, str_at};

/// Where each field printEvent reads lives in one of the two Event schemas.
struct EventFields {
    involved_object: &'static str,
    message: &'static str,
    source: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
}

impl EventFields {
    /// core/v1 Event.
    const CORE: EventFields = EventFields {
        involved_object: "involvedObject",
        message: "message",
        source: "source",
        first_timestamp: "firstTimestamp",
        last_timestamp: "lastTimestamp",
        count: "count",
    };

    /// events.k8s.io/v1 Event, following its conversion to the internal type.
    const EVENTS_V1: EventFields = EventFields {
        involved_object: "regarding",
        message: "note",
        source: "deprecatedSource",
        first_timestamp: "deprecatedFirstTimestamp",
        last_timestamp: "deprecatedLastTimestamp",
        count: "deprecatedCount",
    };
}

/// A core v1 Event's row.
pub(super) fn core(event: &Value, now: DateTime<Utc>) -> Vec<Value> {
    cells(event, &EventFields::CORE, now)
}

/// An events.k8s.io/v1 Event's row.
pub(super) fn events_v1(event: &Value, now: DateTime<Utc>) -> Vec<Value> {
    cells(event, &EventFields::EVENTS_V1, now)
}

/// LAST-SEEN TYPE REASON OBJECT | SUBOBJECT SOURCE | MESSAGE | FIRST-SEEN COUNT NAME.
fn cells(event: &Value, fields: &EventFields, now: DateTime<Utc>) -> Vec<Value> {
    // Events from the new API carry only eventTime; a series carries its own last time and count.
    let first_seen = match parse_time(field(event, fields.first_timestamp)) {
        Some(first) => since(Some(first), now),
        None => since(parse_time(field(event, "eventTime")), now),
    };
    let mut last_seen = match parse_time(field(event, fields.last_timestamp)) {
        Some(last) => since(Some(last), now),
        None => first_seen.clone(),
    };
    let mut count = int_at(event, fields.count);
    if let Some(series) = field(event, "series") {
        last_seen = since(parse_time(field(series, "lastObservedTime")), now);
        count = int_at(series, "count");
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let involved = field(event, fields.involved_object).unwrap_or(&Value::Null);
    let kind = str_at(involved, "kind").to_lowercase();
    let object = match str_at(involved, "name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    vec![
        Value::from(last_seen),
        Value::from(str_at(event, "type")),
        Value::from(str_at(event, "reason")),
        Value::from(object),
        Value::from(str_at(involved, "fieldPath")),
        Value::from(event_source(event, fields)),
        Value::from(str_at(event, fields.message).trim()),
        Value::from(first_seen),
        Value::from(count),
        Value::from(str_at(event, "metadata.name")),
    ]
}

/// printers.go `formatEventSource`: `component, host`, each falling back to
/// the reporting controller and instance of the new API.
fn event_source(event: &Value, fields: &EventFields) -> String {
    let source = field(event, fields.source).unwrap_or(&Value::Null);
    let first_non_empty = |a: &'static str, b: &'static str| {
        [str_at(source, a), str_at(event, b)]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("")
    };
    let component = first_non_empty("component", "reportingController");
    match first_non_empty("host", "reportingInstance") {
        "" => component.to_string(),
        instance => format!("{component}, {instance}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::test_support::now;

    #[test]
    fn should_print_a_core_event_in_column_order() {
        let event = json!({
            "metadata": {"name": "web.17a2b", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "type": "Normal", "message": "  Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2025-01-01T11:50:00Z", "lastTimestamp": "2025-01-01T11:58:00Z", "count": 4
        });
        assert_eq!(
            core(&event, now()),
            [
                json!("2m"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web"),
                json!("spec.containers{app}"),
                json!("kubelet, n1"),
                json!("Successfully pulled image \"nginx\""),
                json!("10m"),
                json!(4),
                json!("web.17a2b")
            ]
        );
    }

    #[test]
    fn should_print_an_events_v1_event_through_the_same_printer() {
        let event = json!({
            "metadata": {"name": "web.17a2c"},
            "regarding": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet", "type": "Normal", "note": "Scaled up replica set web-5d4f to 3",
            "reportingController": "deployment-controller", "reportingInstance": "",
            "eventTime": "2025-01-01T11:59:30.000000Z"
        });
        let cells = events_v1(&event, now());
        assert_eq!(
            cells[..4],
            [
                json!("30s"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/web")
            ]
        );
        assert_eq!(
            cells[5..9],
            [
                json!("deployment-controller"),
                json!("Scaled up replica set web-5d4f to 3"),
                json!("30s"),
                json!(1)
            ]
        );
    }

    #[test]
    fn should_take_last_seen_and_count_from_a_series() {
        let event = json!({
            "metadata": {"name": "e"}, "involvedObject": {"kind": "Node"},
            "eventTime": "2025-01-01T11:00:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2025-01-01T11:59:00.000000Z"}
        });
        let cells = core(&event, now());
        assert_eq!(
            [&cells[0], &cells[3], &cells[7], &cells[8]],
            [&json!("60s"), &json!("node"), &json!("60m"), &json!(7)]
        );
    }
}
