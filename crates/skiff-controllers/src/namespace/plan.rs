//! The pure step of emptying a Terminating namespace, after
//! k8s.io/kubernetes/pkg/controller/namespace/deletion (`namespaced_resources_deleter.go`):
//! delete each resource's collection once, force pods whose node cannot stop
//! them, and finalize when nothing is left.

use std::collections::HashSet;

use skiff_api::registry::{Kind, ResourceType};

/// The finalizer in `spec.finalizers` that holds a namespace until this controller empties it.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// One object still in the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    pub resource: &'static ResourceType,
    pub name: String,
    pub uid: String,
    /// `metadata.deletionTimestamp` is set: it is on its way out.
    pub deleting: bool,
    /// For a pod, the node it is bound to.
    pub node_name: Option<String>,
}

/// What this controller already asked for in one namespace, so that a cache that
/// lags behind its own requests does not make it ask again.
#[derive(Debug, Default, Clone)]
pub struct Requested {
    /// Objects a delete-collection covered.
    pub deleted: HashSet<String>,
    /// Pods deleted with a grace period of 0.
    pub forced: HashSet<String>,
}

/// The next writes for one namespace.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NamespacePlan {
    /// Resources to delete-collection, in registry order.
    pub delete_collections: Vec<&'static ResourceType>,
    /// Pods (name, uid) to delete at once: their node is gone or not Ready, so no
    /// agent will finish their graceful stop.
    pub force_delete_pods: Vec<(String, String)>,
    /// Nothing is left: remove `kubernetes` from `spec.finalizers`.
    pub finalize: bool,
    /// How many objects remain, for the log.
    pub remaining: usize,
}

/// Plans the next step for a Terminating namespace from what is in it.
pub fn plan(
    residents: &[Resident],
    requested: &Requested,
    node_is_ready: impl Fn(&str) -> bool,
) -> NamespacePlan {
    let mut delete_collections: Vec<&'static ResourceType> = Vec::new();
    let mut force_delete_pods = Vec::new();
    for resident in residents {
        if !resident.deleting && !requested.deleted.contains(&resident.uid) {
            if !delete_collections.contains(&resident.resource) {
                delete_collections.push(resident.resource);
            }
            continue;
        }
        let stranded = resident.resource.kind == Kind::Pod
            && resident.deleting
            && resident
                .node_name
                .as_deref()
                .is_some_and(|node| !node_is_ready(node));
        if stranded && !requested.forced.contains(&resident.uid) {
            force_delete_pods.push((resident.name.clone(), resident.uid.clone()));
        }
    }
    let order = |r: &&ResourceType| skiff_api::registry::RESOURCES.iter().position(|x| x == *r);
    delete_collections.sort_by_key(order);
    NamespacePlan {
        delete_collections,
        force_delete_pods,
        finalize: residents.is_empty(),
        remaining: residents.len(),
    }
}

/// The namespace's `spec.finalizers` without this controller's.
pub fn finalizers_after_emptying(finalizers: &[String]) -> Vec<String> {
    finalizers
        .iter()
        .filter(|f| *f != KUBERNETES_FINALIZER)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::of;

    fn resident(kind: Kind, name: &str, deleting: bool, node: Option<&str>) -> Resident {
        Resident {
            resource: of(kind),
            name: name.into(),
            uid: format!("uid-{name}"),
            deleting,
            node_name: node.map(String::from),
        }
    }

    fn all_ready(_: &str) -> bool {
        true
    }

    #[test]
    fn should_finalize_an_empty_namespace() {
        let plan = plan(&[], &Requested::default(), all_ready);
        assert_eq!(
            plan,
            NamespacePlan {
                finalize: true,
                ..NamespacePlan::default()
            }
        );
    }

    #[test]
    fn should_delete_each_resource_with_live_objects_once_in_registry_order() {
        let residents = [
            resident(Kind::Deployment, "web", false, None),
            resident(Kind::Pod, "a", false, None),
            resident(Kind::Pod, "b", false, None),
            resident(Kind::ConfigMap, "c", true, None),
        ];
        let plan = plan(&residents, &Requested::default(), all_ready);
        let kinds: Vec<Kind> = plan.delete_collections.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, vec![Kind::Pod, Kind::Deployment]);
        assert!(!plan.finalize);
        assert_eq!(plan.remaining, 4);
    }

    #[test]
    fn should_not_ask_again_for_objects_already_covered_by_a_delete_collection() {
        let residents = [
            resident(Kind::Pod, "a", false, None),
            resident(Kind::Secret, "s", false, None),
        ];
        let mut requested = Requested::default();
        requested.deleted.insert("uid-a".into());
        let plan = plan(&residents, &requested, all_ready);
        assert_eq!(plan.delete_collections, vec![of(Kind::Secret)]);
    }

    #[test]
    fn should_force_pods_on_nodes_that_are_not_ready_or_gone() {
        let residents = [
            resident(Kind::Pod, "on-ready", true, Some("n1")),
            resident(Kind::Pod, "on-lost", true, Some("n2")),
            resident(Kind::Pod, "on-missing", true, Some("n3")),
        ];
        let plan = plan(&residents, &Requested::default(), |node| node == "n1");
        let forced: Vec<&str> = plan
            .force_delete_pods
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(forced, vec!["on-lost", "on-missing"]);
        assert!(plan.delete_collections.is_empty());
    }

    #[test]
    fn should_force_a_pod_only_once() {
        let residents = [resident(Kind::Pod, "a", true, Some("gone"))];
        let mut requested = Requested::default();
        requested.forced.insert("uid-a".into());
        assert!(plan(&residents, &requested, all_ready)
            .force_delete_pods
            .is_empty());
        assert!(plan(&residents, &requested, |_| false)
            .force_delete_pods
            .is_empty());
    }

    #[test]
    fn should_wait_for_objects_held_by_finalizers() {
        let residents = [resident(Kind::ReplicaSet, "held", true, None)];
        let plan = plan(&residents, &Requested::default(), all_ready);
        assert!(
            plan.delete_collections.is_empty()
                && plan.force_delete_pods.is_empty()
                && !plan.finalize
        );
    }

    #[test]
    fn should_remove_only_the_kubernetes_finalizer() {
        let finalizers = vec!["kubernetes".to_string(), "example.com/keep".to_string()];
        assert_eq!(
            finalizers_after_emptying(&finalizers),
            vec!["example.com/keep".to_string()]
        );
    }
}
