//! Kinds that are two views of one stored object. Kubernetes keeps a single
//! Event storage and serves it as core/v1 `Event` and as events.k8s.io/v1
//! `Event`; a recorder writing one is read by `kubectl describe` through the other.
//! The stored form is always the core/v1 one.

use serde_json::{Map, Value};

use crate::registry::Kind;

/// (events.k8s.io/v1 field, core/v1 field) pairs that differ only in name
/// (k8s.io/kubernetes/pkg/apis/events/v1/conversion.go).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// The kind whose storage `kind` shares, and so whose store prefix it uses.
pub fn storage_kind(kind: Kind) -> Kind {
    match kind {
        Kind::EventsV1Event => Kind::Event,
        other => other,
    }
}

/// The stored form of an object served as `kind`.
pub fn to_storage(kind: Kind, object: Value) -> Value {
    match kind {
        Kind::EventsV1Event => rename_fields(
            object,
            "v1",
            EVENT_FIELDS.iter().map(|(v1, core)| (*v1, *core)),
        ),
        _ => object,
    }
}

/// An object in its stored form, as served for `kind`.
pub fn from_storage(kind: Kind, object: Value) -> Value {
    match kind {
        Kind::EventsV1Event => rename_fields(
            object,
            "events.k8s.io/v1",
            EVENT_FIELDS.iter().map(|(v1, core)| (*core, *v1)),
        ),
        _ => object,
    }
}

fn rename_fields<'a>(
    object: Value,
    api_version: &str,
    renames: impl Iterator<Item = (&'a str, &'a str)>,
) -> Value {
    let Value::Object(mut fields) = object else {
        return object;
    };
    let mut renamed = Map::new();
    for (from, to) in renames {
        if let Some(value) = fields.remove(from) {
            renamed.insert(to.to_string(), value);
        }
    }
    fields.extend(renamed);
    fields.insert("apiVersion".into(), Value::String(api_version.to_string()));
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn should_store_an_events_v1_event_as_a_core_event_and_back() {
        let v1 = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "web"}, "note": "Pulled", "reason": "Pulled",
            "reportingController": "skiff", "deprecatedCount": 2});
        let core = to_storage(Kind::EventsV1Event, v1.clone());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["message"], "Pulled");
        assert_eq!(core["count"], 2);
        assert_eq!(from_storage(Kind::EventsV1Event, core), v1);
    }

    #[test]
    fn should_leave_other_kinds_alone() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod"});
        assert_eq!(to_storage(Kind::Pod, pod.clone()), pod);
        assert_eq!(storage_kind(Kind::Pod), Kind::Pod);
    }
}
