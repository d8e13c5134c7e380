//! Merging maps, and the directives that act on a map: `$patch`, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.

use serde_json::{Map, Value};

use super::go_format::go_value;
use super::schema::{self, Field, LEAF};
use super::{list, PatchError};

/// The key of the `$patch` directive.
pub(super) const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Merges a patch map into a live map whose struct has `fields`.
pub(super) fn merge_map(
    mut live: Map<String, Value>,
    mut patch: Map<String, Value>,
    fields: &'static [Field],
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            // The patch map, stripped of its own directives, becomes the value.
            Some("replace") => merge_map(Map::new(), patch, fields),
            // Upstream leaves an empty map, not an absent key.
            Some("delete") => Ok(Map::new()),
            _ => {
                patch.insert(DIRECTIVE.to_string(), directive.clone());
                Err(PatchError::UnknownPatchType {
                    directive: go_value(&directive),
                    map: go_value(&Value::Object(patch)),
                })
            }
        };
    }
    retain_keys(&mut live, &mut patch)?;
    apply_element_orders(&mut live, &mut patch, fields)?;
    // Deletions run last so that they see the lists the other keys merged.
    let mut deletions = Vec::new();
    for (key, value) in patch {
        if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((key, value));
        } else if !key.starts_with('$') {
            merge_field(&mut live, key, value, fields)?;
        }
        // Any other `$` key is an unknown directive: it must not be stored.
    }
    for (key, values) in deletions {
        delete_from_primitive_list(&mut live, &key, values)?;
    }
    Ok(live)
}

/// Merges the patch value of one field into the live map.
fn merge_field(
    live: &mut Map<String, Value>,
    key: String,
    patch: Value,
    fields: &'static [Field],
) -> Result<(), PatchError> {
    if patch.is_null() {
        live.remove(&key);
        return Ok(());
    }
    let field = schema::find(fields, &key);
    let merged = match (live.get_mut(&key).map(Value::take), patch) {
        (Some(Value::Object(current)), Value::Object(patch)) => Value::Object(merge_map(
            current,
            patch,
            field.map_or(LEAF, |f| f.children),
        )?),
        (Some(Value::Array(current)), Value::Array(patch)) => {
            Value::Array(list::merge(current, patch, field)?)
        }
        // Absent, or of another type: the patch value replaces it.
        (_, patch) => materialize(patch, field)?,
    };
    live.insert(key, merged);
    Ok(())
}

/// A patch value as it will be stored where there is nothing to merge it into.
fn materialize(patch: Value, field: Option<&'static Field>) -> Result<Value, PatchError> {
    let children = field.map_or(LEAF, |f| f.children);
    Ok(match patch {
        Value::Object(map) => Value::Object(merge_map(Map::new(), map, children)?),
        Value::Array(items) => Value::Array(list::materialize(items, children)?),
        scalar => scalar,
    })
}

/// `$retainKeys`: drops live keys the list leaves out. Every key the patch sets
/// must be in the list.
fn retain_keys(
    live: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retained) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retained) = retained else {
        return Err(PatchError::BadRetainKeys);
    };
    let is_retained = |key: &str| retained.iter().any(|r| r.as_str() == Some(key));
    let sets_other_key = patch.iter().any(|(key, value)| {
        !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !key.starts_with(SET_ELEMENT_ORDER)
            && !is_retained(key)
    });
    if sets_other_key {
        return Err(PatchError::BadRetainKeys);
    }
    live.retain(|key, _| is_retained(key));
    Ok(())
}

/// `$setElementOrder/<field>`: merges the field's patch list (if any) and orders
/// the result as the directive says. Consumes both from the patch.
fn apply_element_orders(
    live: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    fields: &'static [Field],
) -> Result<(), PatchError> {
    let directive_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive_key in directive_keys {
        let order = match patch.remove(&directive_key) {
            Some(Value::Array(order)) => order,
            Some(other) => return Err(list::wrong_type("[]interface {}", &other)),
            None => continue,
        };
        let list_key = field_of_directive(
            &directive_key,
            SET_ELEMENT_ORDER,
            PatchError::BadSetElementOrder,
        )?;
        let current = take_list(live, list_key)?;
        let patch_list = take_list(patch, list_key)?;
        patch.remove(list_key);
        let field = schema::find(fields, list_key);
        let key = field.and_then(|f| f.meta.merge_key);
        list::validate_set_order(patch_list.as_deref().unwrap_or_default(), &order, key)?;
        let server_ids = list::identities(current.as_deref().unwrap_or_default(), key)?;
        let order_ids = list::identities(&order, key)?;
        let merged = match (current, patch_list) {
            (None, None) => continue,
            (Some(current), None) => current,
            (None, Some(patch_list)) => {
                list::materialize(patch_list, field.map_or(LEAF, |f| f.children))?
            }
            (Some(current), Some(patch_list)) => list::merge(current, patch_list, field)?,
        };
        let ordered = list::order(merged, &order_ids, &server_ids, key)?;
        live.insert(list_key.to_string(), Value::Array(ordered));
    }
    Ok(())
}

/// `$deleteFromPrimitiveList/<field>`: removes the listed values from the live
/// list; `null` removes the whole field, as upstream.
fn delete_from_primitive_list(
    live: &mut Map<String, Value>,
    directive_key: &str,
    values: Value,
) -> Result<(), PatchError> {
    let list_key = field_of_directive(
        directive_key,
        DELETE_FROM_PRIMITIVE_LIST,
        PatchError::BadPrimitiveList,
    )?;
    match (live.get_mut(list_key), values) {
        (_, Value::Null) => {
            live.remove(list_key);
        }
        (Some(Value::Array(current)), Value::Array(doomed)) => {
            *current = list::delete_values(std::mem::take(current), doomed)?;
        }
        // Nothing to delete from, or a patch of another shape: upstream leaves the field alone.
        _ => {}
    }
    Ok(())
}

/// The list at `key`, taken out of `map`; an error if something else is there.
fn take_list(map: &mut Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get_mut(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(std::mem::take(items))),
        Some(other) => Err(list::wrong_type("[]interface {}", other)),
    }
}

/// `<field>` of a `<prefix>/<field>` directive key.
fn field_of_directive<'a>(
    directive_key: &'a str,
    prefix: &str,
    malformed: PatchError,
) -> Result<&'a str, PatchError> {
    match directive_key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field),
        _ => Err(malformed),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::registry::Kind;
    use crate::strategic_merge::{apply, PatchError};

    fn patched(
        kind: Kind,
        original: serde_json::Value,
        patch: serde_json::Value,
    ) -> serde_json::Value {
        apply(kind, &original, &patch).expect("patch applies")
    }

    fn refused(kind: Kind, original: serde_json::Value, patch: serde_json::Value) -> PatchError {
        apply(kind, &original, &patch).expect_err("patch is refused")
    }

    #[test]
    fn should_replace_or_empty_a_map_on_directive() {
        let live = json!({"spec": {"template": {"metadata": {"labels": {"a": "1", "b": "2"}}}}});
        let replace = json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "c": "3", "d": null}}}}});
        assert_eq!(
            patched(Kind::Deployment, live.clone(), replace)["spec"]["template"]["metadata"]
                ["labels"],
            json!({"c": "3"})
        );
        let delete = json!({"spec": {"template": {"metadata": {"labels": {"$patch": "delete"}}}}});
        assert_eq!(
            patched(Kind::Deployment, live, delete)["spec"]["template"]["metadata"]["labels"],
            json!({})
        );
    }

    #[test]
    fn should_keep_only_retained_keys() {
        let live = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}});
        assert_eq!(
            patched(Kind::Deployment, live.clone(), patch)["spec"]["strategy"],
            json!({"type": "Recreate"})
        );
        let contradictory = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}});
        assert_eq!(
            refused(Kind::Deployment, live.clone(), contradictory),
            PatchError::BadRetainKeys
        );
        let not_a_list = json!({"spec": {"strategy": {"$retainKeys": "type"}}});
        assert_eq!(
            refused(Kind::Deployment, live, not_a_list).status_code(),
            400
        );
    }

    #[test]
    fn should_refuse_unknown_directives() {
        let map_directive = json!({"metadata": {"labels": {"$patch": "merge", "a": "b"}}});
        assert_eq!(
            refused(Kind::Pod, json!({}), map_directive).to_string(),
            "unknown patch type: merge in map: map[$patch:merge a:b]"
        );
        let list_merge = json!({"spec": {"ports": [{"$patch": "merge", "port": 1}]}});
        assert_eq!(
            refused(
                Kind::Service,
                json!({"spec": {"ports": [{"port": 80}]}}),
                list_merge
            ),
            PatchError::ListMergeDirective
        );
        let bad_order_key = json!({"spec": {"$setElementOrderports": []}});
        assert_eq!(
            refused(Kind::Service, json!({}), bad_order_key),
            PatchError::BadSetElementOrder
        );
        let bad_delete_key = json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}});
        assert_eq!(
            refused(Kind::Service, json!({}), bad_delete_key),
            PatchError::BadPrimitiveList
        );
    }

    #[test]
    fn should_swap_a_volume_source_with_retain_keys_as_kubectl_sends_it() {
        let live = json!({"spec": {"volumes": [
            {"name": "data", "emptyDir": {}}, {"name": "other", "secret": {"secretName": "s"}}]}});
        let patch = json!({"spec": {"volumes": [
            {"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "emptyDir": null, "name": "data"}]}});
        assert_eq!(
            patched(Kind::Pod, live, patch)["spec"]["volumes"],
            json!([{"name": "data", "configMap": {"name": "cm"}}, {"name": "other", "secret": {"secretName": "s"}}])
        );
    }
}
