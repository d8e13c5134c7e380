//! The smallest JSON merge patch (RFC 7386) that turns one value into another, so a
//! controller sends only what it changed, and a field it dropped becomes `null`.

use serde_json::{Map, Value};

/// The merge patch from `old` to `new`; `None` when they are equal.
pub fn merge_patch_diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return Some(new.clone());
    };
    let mut patch = Map::new();
    for (key, value) in new {
        let before = old.get(key).unwrap_or(&Value::Null);
        if value.is_object() && !before.is_object() {
            patch.insert(key.clone(), value.clone());
        } else if let Some(change) = merge_patch_diff(before, value) {
            patch.insert(key.clone(), change);
        }
    }
    for key in old.keys().filter(|k| !new.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    Some(Value::Object(patch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn should_send_nothing_for_equal_values() {
        assert_eq!(merge_patch_diff(&json!({"a": 1}), &json!({"a": 1})), None);
    }

    #[test]
    fn should_send_changed_and_removed_fields_only() {
        let old = json!({"replicas": 3, "readyReplicas": 3, "conditions": [{"type": "A"}], "keep": {"x": 1, "y": 2}});
        let new = json!({"replicas": 2, "conditions": [{"type": "B"}], "keep": {"x": 1, "y": 3}, "fresh": {"z": 1}});
        assert_eq!(
            merge_patch_diff(&old, &new),
            Some(
                json!({"replicas": 2, "readyReplicas": null, "conditions": [{"type": "B"}], "keep": {"y": 3}, "fresh": {"z": 1}})
            )
        );
    }
}
