//! Merging lists: by merge key, as sets of scalars, or by replacement, and the
//! order upstream gives the result (the "preserve order in strategic merge patch"
//! design: `$setElementOrder` first, then the patch's order, then the live order).

use serde_json::{Map, Value};

use super::go_format::{go_list, go_type, go_value};
use super::map::{merge_map, DIRECTIVE};
use super::schema::{Field, LEAF};
use super::PatchError;

type Result<T> = std::result::Result<T, PatchError>;

/// Merges the patch list of `field` into the live list. Fields without the merge
/// strategy take the patch list whole.
pub(super) fn merge(
    live: Vec<Value>,
    patch: Vec<Value>,
    field: Option<&'static Field>,
) -> Result<Vec<Value>> {
    let Some(field) = field.filter(|f| f.merges()) else {
        return materialize(patch, field.map_or(LEAF, |f| f.children));
    };
    if live.is_empty() && patch.is_empty() {
        return Ok(live);
    }
    let key = field.meta.merge_key;
    if !elements_are_maps(&live, &patch)? {
        return merge_scalars(live, patch, key);
    }
    let key = key.ok_or(PatchError::NoMergeKey(field.name))?;
    merge_maps_by_key(live, patch, key, field.children)
}

/// A patch list as it will be stored where nothing is merged into: the live object
/// lacks the field, or the field is replaced. Directive items are dropped and the
/// items' own directives applied, so none reaches the stored object.
pub(super) fn materialize(patch: Vec<Value>, item_fields: &'static [Field]) -> Result<Vec<Value>> {
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        items.push(match item {
            Value::Object(map) => {
                if list_directive(&map)?.is_some() {
                    continue;
                }
                Value::Object(merge_map(Map::new(), map, item_fields)?)
            }
            Value::Array(inner) => Value::Array(materialize(inner, LEAF)?),
            scalar => scalar,
        });
    }
    Ok(items)
}

/// `$deleteFromPrimitiveList/<field>`: drops every live item equal to one listed.
pub(super) fn delete_values(live: Vec<Value>, to_delete: Vec<Value>) -> Result<Vec<Value>> {
    if live.is_empty() && to_delete.is_empty() {
        return Ok(live);
    }
    elements_are_maps(&live, &to_delete)?;
    Ok(live
        .into_iter()
        .filter(|item| !to_delete.iter().any(|d| same(item, d)))
        .collect())
}

/// What identifies each item when ordering: its merge key's value, or the item
/// itself in lists without a key. Items without the key are refused, as upstream.
pub(super) fn identities(items: &[Value], key: Option<&'static str>) -> Result<Vec<Value>> {
    items
        .iter()
        .map(|item| identity(item, key).cloned())
        .collect()
}

fn identity<'a>(item: &'a Value, key: Option<&'static str>) -> Result<&'a Value> {
    let Some(key) = key else { return Ok(item) };
    match item {
        Value::Object(map) => map.get(key).ok_or_else(|| missing_key(item, key)),
        other => Err(wrong_type("map[string]interface {}", other)),
    }
}

/// Orders a merged list: items named in the patch (`patch_ids`) come in the
/// patch's order, and each item only the server had is put back before the
/// first patch item that followed it in the live list (`server_ids`). Patch
/// items the live list did not have therefore come before the server's items,
/// as upstream's `mergeSortedSlice` does.
pub(super) fn order(
    merged: Vec<Value>,
    patch_ids: &[Value],
    server_ids: &[Value],
    key: Option<&'static str>,
) -> Result<Vec<Value>> {
    let position = |ids: &[Value], id: &Value| ids.iter().position(|other| same(other, id));
    let merged_ids = identities(&merged, key)?;
    let (mut from_patch, mut server_only): (Vec<_>, Vec<_>) = merged_ids
        .into_iter()
        .zip(merged)
        .partition(|(id, _)| position(patch_ids, id).is_some());
    from_patch.sort_by_key(|(id, _)| position(patch_ids, id));
    server_only.sort_by_key(|(id, _)| position(server_ids, id).unwrap_or(usize::MAX));

    let mut ordered = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut server_only = server_only.into_iter().peekable();
    for (patch_id, patch_item) in from_patch {
        while let Some((server_id, _)) = server_only.peek() {
            match (
                position(server_ids, server_id),
                position(server_ids, &patch_id),
            ) {
                (Some(server_at), Some(patch_at)) if server_at < patch_at => {
                    ordered.extend(server_only.next().map(|(_, item)| item));
                }
                _ => break,
            }
        }
        ordered.push(patch_item);
    }
    ordered.extend(server_only.map(|(_, item)| item));
    Ok(ordered)
}

/// Checks that the patch list names its items in the `$setElementOrder` order and
/// names none the order leaves out (deletions aside), as upstream requires.
pub(super) fn validate_set_order(
    patch: &[Value],
    order: &[Value],
    key: Option<&'static str>,
) -> Result<()> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let mut kept = Vec::with_capacity(patch.len());
    for item in patch {
        match (key, item) {
            (None, _) => kept.push(item),
            (Some(_), Value::Object(map))
                if map.get(DIRECTIVE).and_then(Value::as_str) == Some("delete") => {}
            (Some(_), Value::Object(_)) => kept.push(item),
            (Some(_), other) => return Err(wrong_type("map[string]interface {}", other)),
        }
    }
    let (mut in_patch, mut in_order) = (0, 0);
    while in_patch < kept.len() && in_order < order.len() {
        if kept[in_patch].get(DIRECTIVE).is_some() {
            in_patch += 1;
            continue;
        }
        if same(
            identity(kept[in_patch], key)?,
            identity(&order[in_order], key)?,
        ) {
            in_patch += 1;
        }
        in_order += 1;
    }
    if in_patch < kept.len() {
        return Err(PatchError::OrderMismatch {
            patch: go_list(patch),
            order: go_list(order),
        });
    }
    Ok(())
}

/// Whether two identities are equal; numbers compare by value, whatever their
/// JSON spelling (`80` and `80.0`).
pub(super) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

pub(super) fn wrong_type(expected: &'static str, actual: &Value) -> PatchError {
    PatchError::WrongType {
        expected,
        actual: go_type(actual),
    }
}

fn missing_key(item: &Value, key: &'static str) -> PatchError {
    PatchError::MissingMergeKey {
        map: go_value(item),
        key,
    }
}

/// Whether the items of both lists are maps (rather than scalars); they must all
/// be of one JSON type and none a list.
fn elements_are_maps(live: &[Value], patch: &[Value]) -> Result<bool> {
    let mut items = live.iter().chain(patch);
    let Some(first) = items.next() else {
        return Ok(false);
    };
    if first.is_array() {
        return Err(PatchError::ListOfLists);
    }
    if items.any(|item| std::mem::discriminant(item) != std::mem::discriminant(first)) {
        return Err(PatchError::MixedElementTypes(format!(
            "[{} {}]",
            go_list(live),
            go_list(patch)
        )));
    }
    Ok(first.is_object())
}

/// What a `$patch` directive in a list item asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListDirective {
    /// Remove the live item with the same merge key.
    Delete,
    /// Replace the whole list with the patch's other items.
    Replace,
}

fn list_directive(item: &Map<String, Value>) -> Result<Option<ListDirective>> {
    match item.get(DIRECTIVE) {
        None => Ok(None),
        Some(Value::String(d)) if d == "delete" => Ok(Some(ListDirective::Delete)),
        Some(Value::String(d)) if d == "replace" => Ok(Some(ListDirective::Replace)),
        Some(Value::String(d)) if d == "merge" => Err(PatchError::ListMergeDirective),
        Some(other) => Err(PatchError::UnknownPatchType {
            directive: go_value(other),
            map: go_value(&Value::Object(item.clone())),
        }),
    }
}

/// The union of two scalar lists, ordered as upstream orders it.
fn merge_scalars(
    live: Vec<Value>,
    patch: Vec<Value>,
    key: Option<&'static str>,
) -> Result<Vec<Value>> {
    let server_ids = live.clone();
    let mut union: Vec<Value> = Vec::with_capacity(live.len() + patch.len());
    for item in live.into_iter().chain(patch.iter().cloned()) {
        if !union.iter().any(|seen| same(seen, &item)) {
            union.push(item);
        }
    }
    order(union, &patch, &server_ids, key)
}

/// Merges lists of maps item by item, matching items by `key`.
fn merge_maps_by_key(
    live: Vec<Value>,
    patch: Vec<Value>,
    key: &'static str,
    item_fields: &'static [Field],
) -> Result<Vec<Value>> {
    let mut live = live;
    let mut replace = false;
    let mut plain = Vec::with_capacity(patch.len());
    for item in patch {
        let Value::Object(map) = item else {
            return Err(wrong_type("map[string]interface {}", &item));
        };
        match list_directive(&map)? {
            None => plain.push(map),
            Some(ListDirective::Replace) => replace = true,
            Some(ListDirective::Delete) => {
                let Some(doomed) = map.get(key) else {
                    return Err(missing_key(&Value::Object(map), key));
                };
                live.retain(|existing| !existing.get(key).is_some_and(|id| same(id, doomed)));
            }
        }
    }
    if replace {
        // The patch's items become the live list, with nothing left to merge.
        let items = plain.drain(..).map(Value::Object).collect();
        live = materialize(items, item_fields)?;
    }
    let server_ids = identities(&live, Some(key))?;
    let mut patch_ids = Vec::with_capacity(plain.len());
    for map in plain {
        let Some(id) = map.get(key).cloned() else {
            return Err(missing_key(&Value::Object(map), key));
        };
        match live
            .iter()
            .position(|existing| existing.get(key).is_some_and(|v| same(v, &id)))
        {
            Some(at) => {
                let existing = match live[at].take() {
                    Value::Object(existing) => existing,
                    other => return Err(wrong_type("map[string]interface {}", &other)),
                };
                live[at] = Value::Object(merge_map(existing, map, item_fields)?);
            }
            None => live.push(Value::Object(merge_map(Map::new(), map, item_fields)?)),
        }
        patch_ids.push(id);
    }
    order(live, &patch_ids, &server_ids, Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(v: Value) -> Vec<Value> {
        match v {
            Value::Array(items) => items,
            other => vec![other],
        }
    }

    #[test]
    fn should_put_server_only_items_back_where_they_stood() {
        // Live a b c d; the patch names d then b; a and c are the server's alone.
        // Each server item is compared with the next patch item only: a and c
        // both stood before d, so they come first (upstream's mergeSortedSlice).
        let live = values(json!(["a", "b", "c", "d"]));
        let ordered = order(live.clone(), &values(json!(["d", "b"])), &live, None).unwrap();
        assert_eq!(ordered, values(json!(["a", "c", "d", "b"])));
        let ordered = order(live.clone(), &values(json!(["b", "d"])), &live, None).unwrap();
        assert_eq!(ordered, live);
    }

    #[test]
    fn should_order_maps_by_their_merge_key() {
        let merged = values(json!([{"name": "x", "v": 1}, {"name": "y"}, {"name": "new"}]));
        let order_ids = values(json!(["new", "y"]));
        let server_ids = values(json!(["x", "y"]));
        let ordered = order(merged, &order_ids, &server_ids, Some("name")).unwrap();
        assert_eq!(
            ordered,
            values(json!([{"name": "new"}, {"name": "x", "v": 1}, {"name": "y"}]))
        );
    }

    #[test]
    fn should_refuse_to_order_items_without_the_key() {
        let error = order(values(json!([{"image": "x"}])), &[], &[], Some("name")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "map: map[image:x] does not contain declared merge key: name"
        );
        let error = order(values(json!(["x"])), &[], &[], Some("name")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "expected a map[string]interface {}, but received a string"
        );
    }

    #[test]
    fn should_accept_a_patch_list_that_follows_its_element_order() {
        let order_list = values(json!([{"port": 1}, {"port": 2}, {"port": 3}]));
        let patch = values(json!([{"port": 1}, {"port": 3}, {"port": 9, "$patch": "delete"}]));
        assert!(validate_set_order(&patch, &order_list, Some("port")).is_ok());
        let reversed = values(json!([{"port": 3}, {"port": 1}]));
        assert!(matches!(
            validate_set_order(&reversed, &order_list, Some("port")),
            Err(PatchError::OrderMismatch { .. })
        ));
        assert!(validate_set_order(
            &values(json!(["a", "c"])),
            &values(json!(["a", "b", "c"])),
            None
        )
        .is_ok());
    }

    #[test]
    fn should_compare_numbers_by_value() {
        assert!(same(&json!(80), &json!(80.0)));
        assert!(!same(&json!(80), &json!("80")));
    }

    #[test]
    fn should_delete_every_listed_scalar() {
        let kept = delete_values(
            values(json!(["a", "b", "a", "c"])),
            values(json!(["a", "z"])),
        )
        .unwrap();
        assert_eq!(kept, values(json!(["b", "c"])));
    }

    #[test]
    fn should_materialize_without_directive_items_or_nulls() {
        let items = values(
            json!([{"$patch": "delete", "name": "x"}, {"name": "y", "value": null}, "s", null]),
        );
        assert_eq!(
            materialize(items, LEAF).unwrap(),
            values(json!([{"name": "y"}, "s", null]))
        );
        let unknown = values(json!([{"$patch": "sideways"}]));
        assert_eq!(
            materialize(unknown, LEAF).unwrap_err().to_string(),
            "unknown patch type: sideways in map: map[$patch:sideways]"
        );
    }

    #[test]
    fn should_replace_lists_of_fields_without_the_merge_strategy() {
        let merged = merge(values(json!([1, 2])), values(json!([3])), None).unwrap();
        assert_eq!(merged, values(json!([3])));
    }
}
