//! Ownership of children by a controller: which it owns, adopts and releases
//! (k8s.io/kubernetes/pkg/controller/controller_ref_manager.go), the patches
//! that adopt and release, and which controllers a child's change concerns. The
//! ReplicaSet controller applies these rules to its pods and the Deployment
//! controller to its ReplicaSets.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as SelectorSpec, ObjectMeta, OwnerReference,
};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Resource;
use serde_json::{json, Value};
use skiff_api::selector::{LabelSelector, SelectorError};

/// What a controller should do with one candidate child (`ClaimObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The child is ours and matches: keep it.
    Owned,
    /// An orphan that matches: take it, then keep it.
    Adopt,
    /// Ours but no longer matching: let it go.
    Release,
    /// Someone else's, or not ours and not matching.
    Ignore,
}

/// The owner reference that marks the controller of an object, if any
/// (`metav1.GetControllerOf`).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// The controllers of kind `K` that a change to `child` concerns
/// (`getPodReplicaSets`, `getDeploymentsForReplicaSet`): its controller if that is a
/// `K`, none if something else controls it, and for an orphan every `K` in its
/// namespace whose selector (`selector_of`) matches it, except selectors that
/// select everything.
pub fn controllers_to_sync<K>(
    controllers: &Store<K>,
    child: &ObjectMeta,
    selector_of: impl Fn(&K) -> Option<&SelectorSpec>,
) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let namespace = child.namespace.clone().unwrap_or_default();
    if let Some(owner) = controller_of(child) {
        return if owner.kind == K::kind(&()) {
            vec![ObjectRef::new(&owner.name).within(&namespace)]
        } else {
            Vec::new()
        };
    }
    let labels = child.labels.clone().unwrap_or_default();
    controllers
        .state()
        .iter()
        .filter(|c| c.meta().namespace.as_deref() == Some(namespace.as_str()))
        .filter(|c| {
            selector_of(c).is_some_and(|s| {
                !selects_everything(s) && selector(s).is_ok_and(|sel| sel.matches(&labels))
            })
        })
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

/// The owner reference a controller puts on what it makes (`metav1.NewControllerRef`):
/// `controller: true` and `blockOwnerDeletion: true`.
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Turns a `metav1.LabelSelector` into one that can match labels.
pub fn selector(spec: &SelectorSpec) -> Result<LabelSelector, SelectorError> {
    let value = serde_json::to_value(spec).map_err(|e| SelectorError::Malformed(e.to_string()))?;
    LabelSelector::from_label_selector_json(&value)
}

/// Whether a selector spec selects everything (`{}`), which upstream refuses to act on.
pub fn selects_everything(spec: &SelectorSpec) -> bool {
    spec.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && spec.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

/// Decides what `owner` does with `child` (`BaseControllerRefManager.ClaimObject`).
/// A child in another namespace or being deleted is never adopted.
pub fn claim(owner: &ObjectMeta, selector: &LabelSelector, child: &ObjectMeta) -> Claim {
    let owner_deleting = owner.deletion_timestamp.is_some();
    let matches = || {
        let labels = child.labels.clone().unwrap_or_default();
        selector.matches(&labels)
    };
    match controller_of(child) {
        Some(reference) if Some(&reference.uid) != owner.uid.as_ref() => Claim::Ignore,
        Some(_) if matches() => Claim::Owned,
        Some(_) if owner_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner_deleting || !matches() => Claim::Ignore,
        None if child.deletion_timestamp.is_some() => Claim::Ignore,
        None if owner.namespace.is_some() && owner.namespace != child.namespace => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// A JSON merge patch that adds `reference` to the child's owners. The child's
/// `resourceVersion` makes it conditional, so a concurrent change is not lost.
pub fn adopt_patch(child: &ObjectMeta, reference: &OwnerReference) -> Value {
    let mut owners = child.owner_references.clone().unwrap_or_default();
    owners.push(reference.clone());
    json!({"metadata": {"resourceVersion": child.resource_version, "ownerReferences": owners}})
}

/// A JSON merge patch that removes the owner `owner_uid` from the child's owners.
pub fn release_patch(child: &ObjectMeta, owner_uid: &str) -> Value {
    let owners: Vec<&OwnerReference> = child
        .owner_references
        .iter()
        .flatten()
        .filter(|r| r.uid != owner_uid)
        .collect();
    let owners = if owners.is_empty() {
        Value::Null
    } else {
        json!(owners)
    };
    json!({"metadata": {"resourceVersion": child.resource_version, "ownerReferences": owners}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use std::collections::BTreeMap;

    fn meta(uid: &str, labels: &[(&str, &str)], owner: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(format!("obj-{uid}")),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            resource_version: Some("7".into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            owner_references: owner.map(|uid| {
                vec![OwnerReference {
                    uid: uid.into(),
                    controller: Some(true),
                    name: "o".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }
    }

    fn app_web() -> LabelSelector {
        LabelSelector::parse("app=web").unwrap()
    }

    #[test]
    fn should_keep_an_owned_matching_child() {
        assert_eq!(
            claim(
                &meta("rs", &[], None),
                &app_web(),
                &meta("p", &[("app", "web")], Some("rs"))
            ),
            Claim::Owned
        );
    }

    #[test]
    fn should_adopt_a_matching_orphan() {
        assert_eq!(
            claim(
                &meta("rs", &[], None),
                &app_web(),
                &meta("p", &[("app", "web")], None)
            ),
            Claim::Adopt
        );
    }

    #[test]
    fn should_release_an_owned_child_that_stopped_matching() {
        assert_eq!(
            claim(
                &meta("rs", &[], None),
                &app_web(),
                &meta("p", &[("app", "db")], Some("rs"))
            ),
            Claim::Release
        );
    }

    #[test]
    fn should_ignore_children_of_other_controllers() {
        assert_eq!(
            claim(
                &meta("rs", &[], None),
                &app_web(),
                &meta("p", &[("app", "web")], Some("other"))
            ),
            Claim::Ignore
        );
    }

    #[test]
    fn should_not_adopt_while_the_owner_is_being_deleted() {
        let mut owner = meta("rs", &[], None);
        owner.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(
            claim(&owner, &app_web(), &meta("p", &[("app", "web")], None)),
            Claim::Ignore
        );
        assert_eq!(
            claim(&owner, &app_web(), &meta("p", &[("app", "db")], Some("rs"))),
            Claim::Ignore
        );
    }

    #[test]
    fn should_not_adopt_a_child_being_deleted() {
        let mut child = meta("p", &[("app", "web")], None);
        child.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(
            claim(&meta("rs", &[], None), &app_web(), &child),
            Claim::Ignore
        );
    }

    #[test]
    fn should_make_a_blocking_controller_reference() {
        let rs = ReplicaSet {
            metadata: meta("rs-uid", &[], None),
            ..Default::default()
        };
        let reference = controller_ref(&rs);
        assert_eq!(
            (reference.api_version.as_str(), reference.kind.as_str()),
            ("apps/v1", "ReplicaSet")
        );
        assert_eq!(
            (reference.controller, reference.block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(reference.uid, "rs-uid");
    }

    #[test]
    fn should_patch_owner_references_conditionally() {
        let child = meta("p", &[], Some("rs"));
        let released = release_patch(&child, "rs");
        assert_eq!(
            released,
            json!({"metadata": {"resourceVersion": "7", "ownerReferences": null}})
        );
        let adopted = adopt_patch(
            &meta("p", &[], None),
            &OwnerReference {
                uid: "x".into(),
                ..Default::default()
            },
        );
        assert_eq!(adopted["metadata"]["ownerReferences"][0]["uid"], "x");
        assert_eq!(adopted["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn should_know_an_empty_selector_selects_everything() {
        assert!(selects_everything(&SelectorSpec::default()));
        let spec = SelectorSpec {
            match_labels: Some([("a".to_string(), "b".to_string())].into()),
            ..Default::default()
        };
        assert!(!selects_everything(&spec));
        assert!(selector(&spec)
            .unwrap()
            .matches(&BTreeMap::from([("a".to_string(), "b".to_string())])));
    }
}
