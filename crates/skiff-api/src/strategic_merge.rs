//! Kubernetes strategic merge patch, the side the API server runs: applying a
//! patch (which kubectl computed) to the stored object, as
//! k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatch` does.
//!
//! - Maps merge key by key; `null` deletes a key.
//! - Lists whose field declares the merge strategy merge: by merge key for
//!   lists of maps (see [`merge_key`]), as a set for lists of scalars
//!   (`metadata.finalizers`). Every other list is replaced.
//! - Directives: `$patch: replace | delete` on a map or in a list item,
//!   `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
//!   `$setElementOrder/<field>`. No directive key ever reaches the result.
//!
//! Where upstream keeps a patch fragment verbatim (a field the live object lacks,
//! a replaced list), Skiff still applies the fragment's directives and drops its
//! nulls, so what is stored is what the typed object would decode to.

mod go_format;
mod list;
mod map;
mod schema;

use serde_json::Value;

use crate::registry::Kind;
use go_format::json_kind;

pub use schema::{merge_key, patch_meta, PatchMeta};

/// Why a patch could not be applied; the messages are upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is neither a JSON object nor null.
    #[error("json: cannot unmarshal {0} into Go value of type map[string]interface {{}}")]
    NotAnObject(&'static str),
    /// A `$patch` directive other than `replace` or `delete`.
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownPatchType { directive: String, map: String },
    /// `$patch: merge` in a list item, which upstream does not support.
    #[error("merging lists cannot yet be specified in the patch")]
    ListMergeDirective,
    /// A list item without the merge key its list declares.
    #[error("map: {map} does not contain declared merge key: {key}")]
    MissingMergeKey { map: String, key: &'static str },
    /// A map or list was needed and something else was found.
    #[error("expected a {expected}, but received a {actual}")]
    WrongType {
        expected: &'static str,
        actual: &'static str,
    },
    /// A merged list holds lists.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// A merged list mixes JSON types; the lists are printed as Go prints them.
    #[error("list element types are not identical: {0}")]
    MixedElementTypes(String),
    /// Maps in a merged list whose field declares no merge key.
    #[error("cannot merge lists without merge key for {0}")]
    NoMergeKey(&'static str),
    /// `$retainKeys` is not a list, or the patch sets a key it does not retain.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeys,
    /// A `$deleteFromPrimitiveList` key without `/<field>`.
    #[error("invalid patch format of primitive list")]
    BadPrimitiveList,
    /// A `$setElementOrder` key without `/<field>`.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrder,
    /// The patch list names items out of `$setElementOrder`'s order, or items it omits.
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}\n")]
    OrderMismatch { patch: String, order: String },
}

impl PatchError {
    /// The HTTP code kube-apiserver answers with (`interpretStrategicMergePatchError`):
    /// 400 for malformed directives or documents, 422 for lists of lists, and 500,
    /// with an empty reason, for everything upstream passes through unconverted,
    /// which kubectl prints as `Error from server: map: ... does not contain ...`.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::NotAnObject(_)
            | PatchError::BadRetainKeys
            | PatchError::BadPrimitiveList
            | PatchError::BadSetElementOrder => 400,
            PatchError::ListOfLists => 422,
            _ => 500,
        }
    }
}

/// Applies a strategic merge patch to an object of `kind`. A `null` patch changes
/// nothing; an `original` that is not an object is patched as if it were `{}`.
pub fn apply(kind: Kind, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let patch = match patch {
        Value::Object(patch) => patch.clone(),
        Value::Null => return Ok(original.clone()),
        other => return Err(PatchError::NotAnObject(json_kind(other))),
    };
    let original = original.as_object().cloned().unwrap_or_default();
    map::merge_map(original, patch, schema::root(kind)).map(Value::Object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(kind: Kind, original: Value, patch: Value) -> Value {
        apply(kind, &original, &patch).expect("patch applies")
    }

    fn refused(kind: Kind, original: Value, patch: Value) -> PatchError {
        apply(kind, &original, &patch).expect_err("patch is refused")
    }

    fn deployment(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}})
    }

    fn containers_of(deployment: &Value) -> &Value {
        &deployment["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn should_apply_what_kubectl_apply_sends_for_a_deployment() {
        let live = deployment(json!([{
            "name": "web", "image": "nginx:1.25",
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "env": [{"name": "A", "value": "1"}, {"name": "X", "value": "2"}, {"name": "B", "value": "3"}]
        }]));
        // kubectl apply after replicas 1→3, adding port 443 and removing env X.
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"replicas": 3, "template": {"spec": {
                "$setElementOrder/containers": [{"name": "web"}],
                "containers": [{
                    "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                    "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
                    "env": [{"$patch": "delete", "name": "X"}],
                    "name": "web",
                    "ports": [{"containerPort": 443}]
                }]
            }}}
        });
        let result = patched(Kind::Deployment, live, patch);
        assert_eq!(result["spec"]["replicas"], 3);
        assert_eq!(
            result["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{}"
        );
        assert_eq!(
            containers_of(&result),
            &json!([{
                "name": "web", "image": "nginx:1.25",
                "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
            }])
        );
    }

    #[test]
    fn should_insert_a_new_item_where_set_element_order_puts_it() {
        let live = deployment(
            json!([{"name": "web", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]),
        );
        let patch = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "web",
            "$setElementOrder/env": [{"name": "A"}, {"name": "N"}, {"name": "B"}],
            "env": [{"name": "N", "value": "new"}]
        }]}}}});
        assert_eq!(
            containers_of(&patched(Kind::Deployment, live, patch))[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "N", "value": "new"}, {"name": "B", "value": "2"}])
        );
    }

    #[test]
    fn should_merge_maps_recursively_and_delete_keys_set_to_null() {
        let live =
            json!({"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}});
        let patch =
            json!({"metadata": {"labels": {"a": null, "c": "3"}}, "data": null, "absent": null});
        assert_eq!(
            patched(Kind::ConfigMap, live, patch),
            json!({"metadata": {"name": "c", "labels": {"b": "2", "c": "3"}}})
        );
    }

    #[test]
    fn should_let_the_patch_value_replace_a_value_of_another_shape() {
        let live = json!({"spec": {"selector": ["odd"], "replicas": {"odd": true}}});
        let patch = json!({"spec": {"selector": {"matchLabels": {"app": "web", "gone": null}}, "replicas": 2}});
        assert_eq!(
            patched(Kind::Deployment, live, patch),
            json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "replicas": 2}})
        );
    }

    #[test]
    fn should_merge_containers_by_name_putting_new_ones_first_as_upstream_does() {
        // The example of "Update API Objects in Place Using kubectl patch".
        let live = deployment(json!([{"name": "patch-demo-ctr", "image": "nginx"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}});
        assert_eq!(
            containers_of(&patched(Kind::Deployment, live, patch)),
            &json!([{"name": "patch-demo-ctr-2", "image": "redis"}, {"name": "patch-demo-ctr", "image": "nginx"}])
        );
    }

    #[test]
    fn should_merge_an_existing_item_in_place() {
        let live = deployment(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
        let patch =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "z"}]}}}});
        assert_eq!(
            containers_of(&patched(Kind::Deployment, live, patch)),
            &json!([{"name": "a", "image": "z"}, {"name": "b", "image": "y"}])
        );
    }

    #[test]
    fn should_replace_lists_without_a_patch_strategy() {
        let live = json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}], "containers": []}});
        let patch = json!({"spec": {"tolerations": [{"key": "c", "value": null}]}});
        assert_eq!(
            patched(Kind::Pod, live, patch)["spec"]["tolerations"],
            json!([{"key": "c"}])
        );
    }

    #[test]
    fn should_union_finalizers_and_delete_from_them() {
        let live = json!({"metadata": {"finalizers": ["a", "b"]}});
        let added = patched(
            Kind::Namespace,
            live.clone(),
            json!({"metadata": {"finalizers": ["b", "c"]}}),
        );
        // Server-only items go back before the patch items that followed them live.
        assert_eq!(added["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}});
        assert_eq!(
            patched(Kind::Namespace, live.clone(), patch)["metadata"]["finalizers"],
            json!(["c", "b"])
        );
        let ordered = json!({"metadata": {
            "$setElementOrder/finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"]}});
        assert_eq!(
            patched(Kind::Namespace, live.clone(), ordered)["metadata"]["finalizers"],
            json!(["b", "c"])
        );
        let cleared = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": null}});
        assert_eq!(
            patched(Kind::Namespace, live, cleared),
            json!({"metadata": {}})
        );
    }

    #[test]
    fn should_replace_a_whole_merge_list_on_a_replace_item() {
        let live = deployment(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "z"}]}}}});
        assert_eq!(
            containers_of(&patched(Kind::Deployment, live, patch)),
            &json!([{"name": "c", "image": "z"}])
        );
    }

    #[test]
    fn should_delete_list_items_by_merge_key() {
        let live = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        let patch = json!({"spec": {"ports": [{"port": 80, "$patch": "delete"}]}});
        assert_eq!(
            patched(Kind::Service, live, patch)["spec"]["ports"],
            json!([{"port": 443, "name": "https"}])
        );
    }

    #[test]
    fn should_merge_status_conditions_by_type() {
        let live = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}]}});
        let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(
            patched(Kind::Node, live, patch)["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}])
        );
    }

    #[test]
    fn should_merge_owner_references_by_uid_and_cron_job_containers_by_name() {
        let live = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
                          "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}}});
        let patch = json!({"metadata": {"ownerReferences": [{"uid": "1", "controller": true}]},
                           "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["go"]}]}}}}}});
        let result = patched(Kind::CronJob, live, patch);
        assert_eq!(
            result["metadata"]["ownerReferences"],
            json!([{"uid": "1", "name": "a", "controller": true}])
        );
        assert_eq!(
            result["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c", "image": "x", "args": ["go"]}])
        );
    }

    #[test]
    fn should_keep_directives_out_of_fields_the_live_object_lacks() {
        let live = json!({"metadata": {"name": "p"}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}, {"name": "Y", "value": null}],
                            "$setElementOrder/ports": [{"containerPort": 80}], "ports": [{"containerPort": 80}],
                            "$unknown": 1}],
            "volumes": [{"$patch": "replace"}, {"name": "v", "emptyDir": {"$patch": "delete"}}],
            "nodeSelector": {"$patch": "replace", "disk": "ssd"}
        }});
        assert_eq!(
            patched(Kind::Pod, live, patch),
            json!({"metadata": {"name": "p"}, "spec": {
                "containers": [{"name": "a", "env": [{"name": "Y"}], "ports": [{"containerPort": 80}]}],
                "volumes": [{"name": "v", "emptyDir": {}}],
                "nodeSelector": {"disk": "ssd"}
            }})
        );
    }

    #[test]
    fn should_change_nothing_for_a_null_or_empty_patch() {
        let live = deployment(json!([{"name": "a"}]));
        assert_eq!(patched(Kind::Deployment, live.clone(), Value::Null), live);
        assert_eq!(patched(Kind::Deployment, live.clone(), json!({})), live);
    }

    #[test]
    fn should_refuse_a_patch_that_is_not_an_object() {
        let error = refused(Kind::Pod, json!({}), json!([1]));
        assert_eq!(
            error.to_string(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(error.status_code(), 400);
    }

    #[test]
    fn should_refuse_an_item_without_its_merge_key_in_upstream_words() {
        let live = deployment(json!([{"name": "a"}]));
        let patch =
            json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.25"}]}}}});
        let error = refused(Kind::Deployment, live, patch);
        assert_eq!(
            error.to_string(),
            "map: map[image:nginx:1.25] does not contain declared merge key: name"
        );
        assert_eq!(error.status_code(), 500);
        let delete_without_key = json!({"spec": {"ports": [{"$patch": "delete"}]}});
        assert_eq!(
            refused(
                Kind::Service,
                json!({"spec": {"ports": [{"port": 80}]}}),
                delete_without_key
            )
            .to_string(),
            "map: map[$patch:delete] does not contain declared merge key: port"
        );
    }

    #[test]
    fn should_refuse_a_patch_list_out_of_its_element_order() {
        let live = json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}});
        let patch =
            json!({"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"port": 8080}]}});
        assert_eq!(
            refused(Kind::Service, live, patch).to_string(),
            "The order in patch list:\n[map[port:8080]]\n doesn't match $setElementOrder list:\n[map[port:80]]\n"
        );
    }

    #[test]
    fn should_refuse_lists_of_lists_and_mixed_lists() {
        let live = json!({"metadata": {"finalizers": ["a"]}});
        let lists = refused(
            Kind::Pod,
            live.clone(),
            json!({"metadata": {"finalizers": [["b"]]}}),
        );
        assert_eq!(
            (lists.to_string().as_str(), lists.status_code()),
            ("list element types are not identical: [[a] [[b]]]", 500)
        );
        let nested = refused(
            Kind::Pod,
            json!({"metadata": {"finalizers": [["a"]]}}),
            json!({"metadata": {"finalizers": [["b"]]}}),
        );
        assert_eq!(
            (nested, PatchError::ListOfLists.status_code()),
            (PatchError::ListOfLists, 422)
        );
        assert_eq!(
            refused(Kind::Pod, live, json!({"metadata": {"finalizers": [1]}})).to_string(),
            "list element types are not identical: [[a] [1]]"
        );
    }

    #[test]
    fn should_never_panic_on_odd_shapes() {
        let originals = [
            json!(null),
            json!("text"),
            json!({"spec": {"containers": "x", "volumes": [1, {"name": "v"}], "tolerations": {}}}),
            json!({"spec": {"containers": [{"name": "a", "ports": [80]}, "junk", null]}}),
            json!({"metadata": {"finalizers": [{"a": 1}], "ownerReferences": [[]]}}),
        ];
        let patches = [
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 1}]}]}}),
            json!({"spec": {"containers": [1, [2], null, {"$patch": 7}]}}),
            json!({"spec": {"$setElementOrder/containers": "x", "containers": {"a": 1}}}),
            json!({"spec": {"$setElementOrder/volumes": [{"name": "v"}, 3], "volumes": [{"name": "v"}]}}),
            json!({"spec": {"$retainKeys": [1, null], "$deleteFromPrimitiveList/volumes": [{"name": "v"}]}}),
            json!({"metadata": {"finalizers": [{"b": 2}], "ownerReferences": [{"uid": null}], "$patch": null}}),
            json!({"$patch": "delete"}),
            json!({"$patch": "replace", "kind": "Pod"}),
        ];
        for original in &originals {
            for patch in &patches {
                for kind in [Kind::Pod, Kind::Deployment, Kind::Node] {
                    // Either outcome is fine; what matters is returning one.
                    let _ = apply(kind, original, patch);
                }
            }
        }
    }

    /// A small deterministic generator of JSON built from the words patches use.
    struct Generator(u64);

    impl Generator {
        fn next(&mut self, below: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 33) as usize % below
        }

        fn value(&mut self, depth: usize) -> Value {
            const KEYS: [&str; 14] = [
                "$patch",
                "$retainKeys",
                "$setElementOrder/containers",
                "$deleteFromPrimitiveList/finalizers",
                "$setElementOrder/env",
                "name",
                "containers",
                "finalizers",
                "metadata",
                "spec",
                "env",
                "ports",
                "containerPort",
                "template",
            ];
            const WORDS: [&str; 5] = ["delete", "replace", "merge", "name", "a"];
            match self.next(if depth == 0 { 4 } else { 7 }) {
                0 => Value::Null,
                1 => json!(self.next(3)),
                2 | 3 => json!(WORDS[self.next(WORDS.len())]),
                4 => Value::Array((0..self.next(4)).map(|_| self.value(depth - 1)).collect()),
                _ => Value::Object(
                    (0..self.next(5))
                        .map(|_| {
                            (
                                KEYS[self.next(KEYS.len())].to_string(),
                                self.value(depth - 1),
                            )
                        })
                        .collect(),
                ),
            }
        }
    }

    fn has_directive_key(value: &Value) -> bool {
        match value {
            Value::Object(map) => map
                .iter()
                .any(|(k, v)| k.starts_with('$') || has_directive_key(v)),
            Value::Array(items) => items.iter().any(has_directive_key),
            _ => false,
        }
    }

    #[test]
    fn should_never_panic_nor_store_a_directive_on_generated_patches() {
        let mut generator = Generator(0x5eed);
        for round in 0..20_000 {
            let original = generator.value(4);
            let patch = generator.value(4);
            let kind = [Kind::Deployment, Kind::Pod, Kind::Namespace][round % 3];
            if let Ok(result) = apply(kind, &original, &patch) {
                // Live objects never hold directives, so neither may a result of patching them.
                if !has_directive_key(&original) {
                    assert!(
                        !has_directive_key(&result),
                        "{original} + {patch} = {result}"
                    );
                }
            }
        }
    }
}
