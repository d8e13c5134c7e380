//! Strict decoding: which fields of an object its Kubernetes type does not declare,
//! and which keys a JSON document repeats (`fieldValidation=Strict`).
//!
//! Unknown fields are found by decoding into the typed k8s-openapi struct and
//! encoding back: a key of the input that the round trip dropped is not part of the
//! schema. That keeps the schema in one place, the types Kubernetes generates.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::registry::Kind;

/// Why an object cannot be decoded as its kind at all (a wrong type for a field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// The dotted paths (`spec.template.spec.containers[0].foo`) of every field in
/// `object` that its kind does not declare. Fails when a field has the wrong type.
pub fn unknown_fields(kind: Kind, object: &Value) -> Result<Vec<String>, DecodeError> {
    let round_tripped = round_trip(kind, object)?;
    let mut unknown = Vec::new();
    collect_dropped(object, &round_tripped, "", &mut unknown);
    Ok(unknown)
}

fn round_trip(kind: Kind, object: &Value) -> Result<Value, DecodeError> {
    use k8s_openapi::api::{apps, batch, coordination, core, discovery, events, networking};
    fn via<T: serde::de::DeserializeOwned + serde::Serialize>(
        object: &Value,
    ) -> Result<Value, DecodeError> {
        let typed: T =
            serde_json::from_value(object.clone()).map_err(|e| DecodeError(e.to_string()))?;
        serde_json::to_value(typed).map_err(|e| DecodeError(e.to_string()))
    }
    match kind {
        Kind::Namespace => via::<core::v1::Namespace>(object),
        Kind::Pod => via::<core::v1::Pod>(object),
        Kind::Service => via::<core::v1::Service>(object),
        Kind::Endpoints => via::<core::v1::Endpoints>(object),
        Kind::ConfigMap => via::<core::v1::ConfigMap>(object),
        Kind::Secret => via::<core::v1::Secret>(object),
        Kind::Node => via::<core::v1::Node>(object),
        Kind::Event => via::<core::v1::Event>(object),
        Kind::ServiceAccount => via::<core::v1::ServiceAccount>(object),
        Kind::Deployment => via::<apps::v1::Deployment>(object),
        Kind::ReplicaSet => via::<apps::v1::ReplicaSet>(object),
        Kind::StatefulSet => via::<apps::v1::StatefulSet>(object),
        Kind::DaemonSet => via::<apps::v1::DaemonSet>(object),
        Kind::Job => via::<batch::v1::Job>(object),
        Kind::CronJob => via::<batch::v1::CronJob>(object),
        Kind::Ingress => via::<networking::v1::Ingress>(object),
        Kind::IngressClass => via::<networking::v1::IngressClass>(object),
        Kind::EndpointSlice => via::<discovery::v1::EndpointSlice>(object),
        Kind::Lease => via::<coordination::v1::Lease>(object),
        Kind::EventsV1Event => via::<events::v1::Event>(object),
    }
}

/// Walks `input` beside its round trip and records keys the round trip lost.
/// A null in the input is "unset", which a typed decode may drop, so it never counts.
fn collect_dropped(input: &Value, output: &Value, path: &str, unknown: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(fields), Value::Object(kept)) => {
            for (key, value) in fields {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match kept.get(key) {
                    Some(kept_value) => collect_dropped(value, kept_value, &child, unknown),
                    None if value.is_null() => {}
                    None => unknown.push(child),
                }
            }
        }
        (Value::Array(items), Value::Array(kept)) => {
            for (index, (item, kept_item)) in items.iter().zip(kept).enumerate() {
                collect_dropped(item, kept_item, &format!("{path}[{index}]"), unknown);
            }
        }
        _ => {}
    }
}

/// The dotted paths of keys that a JSON document repeats within one object.
/// serde_json keeps the last of repeated keys silently; Kubernetes refuses them.
pub fn duplicate_fields(json: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    // A syntax error is reported by the real decode; here it only ends the search.
    let _ = PathSeed {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut deserializer);
    found
}

struct PathSeed<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for PathSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PathSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                self.found.push(child.clone());
            }
            map.next_value_seed(PathSeed {
                path: child,
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(PathSeed {
                path: format!("{}[{index}]", self.path),
                found: self.found,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "creationTimestamp": null}, "spec": spec})
    }

    #[test]
    fn should_find_no_unknown_field_in_a_valid_deployment() {
        let spec = json!({"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"name": "web", "image": "demo", "resources": {"limits": {"cpu": "1", "memory": "100Mi"}}, "ports": [{"containerPort": 80}]}]}}});
        assert_eq!(
            unknown_fields(Kind::Deployment, &deployment(spec)).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn should_name_unknown_fields_by_their_path() {
        let spec = json!({"matchLabels": {"app": "web"}, "template": {"spec": {"containers": [{"name": "a", "image": "b", "restartPolicyX": "x"}]}}});
        assert_eq!(
            unknown_fields(Kind::Deployment, &deployment(spec)).unwrap(),
            vec![
                "spec.matchLabels".to_string(),
                "spec.template.spec.containers[0].restartPolicyX".to_string()
            ]
        );
    }

    #[test]
    fn should_refuse_a_field_of_the_wrong_type() {
        assert!(unknown_fields(Kind::Deployment, &deployment(json!({"replicas": "two"}))).is_err());
    }

    #[test]
    fn should_find_repeated_keys() {
        let json = br#"{"spec": {"replicas": 1, "replicas": 2, "template": [{"a": 1, "a": 2}]}}"#;
        assert_eq!(
            duplicate_fields(json),
            vec![
                "spec.replicas".to_string(),
                "spec.template[0].a".to_string()
            ]
        );
    }
}
