//! The owner→dependents graph and the pure plan for one of its objects: which
//! dependents to delete, which ownerReferences to drop and which finalizer to
//! remove. It follows k8s.io/kubernetes/pkg/controller/garbagecollector
//! (`graph.go`, `attemptToDeleteItem`, `processDeletingDependentsItem`,
//! `orphanDependents`), keyed by uid as upstream is: a recreated owner with the
//! same name is another owner.

use std::collections::{BTreeSet, HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use skiff_api::registry::{self, ResourceType};

/// An object's `metadata.uid`.
pub type Uid = String;

/// The finalizer a foreground delete puts on the owner (`metav1.FinalizerDeleteDependents`).
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer an orphaning delete puts on the owner (`metav1.FinalizerOrphanDependents`).
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Where an object lives: its resource, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey {
    pub resource: &'static ResourceType,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.resource.plural, self.name),
            None => write!(f, "{} {}", self.resource.plural, self.name),
        }
    }
}

/// One ownerReference of a dependent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerLink {
    pub uid: Uid,
    /// The owner's resource, or `None` for a kind Skiff does not serve.
    pub resource: Option<&'static ResourceType>,
    pub name: String,
    pub block_owner_deletion: bool,
}

/// What the collector knows of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    pub key: ObjectKey,
    pub uid: Uid,
    pub owners: Vec<OwnerLink>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl GraphNode {
    /// Builds a node from an object's metadata; `None` when it has no uid or name.
    pub fn from_meta(resource: &'static ResourceType, meta: &ObjectMeta) -> Option<Self> {
        Some(GraphNode {
            key: ObjectKey {
                resource,
                namespace: if resource.namespaced() {
                    meta.namespace.clone()
                } else {
                    None
                },
                name: meta.name.clone()?,
            },
            uid: meta.uid.clone()?,
            owners: meta
                .owner_references
                .iter()
                .flatten()
                .map(OwnerLink::from_reference)
                .collect(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        })
    }

    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Whether this object waits for the collector: it is being deleted and holds
    /// one of the collector's finalizers.
    pub fn awaits_collector(&self) -> bool {
        self.deleting
            && (self.has_finalizer(FOREGROUND_FINALIZER) || self.has_finalizer(ORPHAN_FINALIZER))
    }

    /// Whether a change from `self` to `next` can change what the collector does.
    fn differs_for_collector(&self, next: &GraphNode) -> bool {
        self.owners != next.owners
            || self.deleting != next.deleting
            || self.finalizers != next.finalizers
    }
}

impl OwnerLink {
    pub fn from_reference(reference: &OwnerReference) -> Self {
        OwnerLink {
            uid: reference.uid.clone(),
            resource: registry::by_api_version_kind(&reference.api_version, &reference.kind),
            name: reference.name.clone(),
            block_owner_deletion: reference.block_owner_deletion == Some(true),
        }
    }
}

/// The objects the collector has seen, and who owns whom.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<Uid, GraphNode>,
    /// Owner uid → dependent uids. An owner may be absent from `nodes`: upstream
    /// calls that a virtual node.
    dependents: HashMap<Uid, BTreeSet<Uid>>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&GraphNode> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The objects that name `owner` in their ownerReferences.
    pub fn dependents_of<'a>(&'a self, owner: &str) -> impl Iterator<Item = &'a GraphNode> + 'a {
        self.dependents
            .get(owner)
            .into_iter()
            .flatten()
            .filter_map(|uid| self.nodes.get(uid))
    }

    /// The uids of every object of `resource`.
    pub fn uids_of(&self, resource: &ResourceType) -> Vec<Uid> {
        self.nodes
            .values()
            .filter(|n| n.key.resource == resource)
            .map(|n| n.uid.clone())
            .collect()
    }

    /// Every object that may need the collector now: the starting point after a
    /// full sync.
    pub fn all_candidates(&self) -> Vec<Uid> {
        self.nodes
            .values()
            .filter(|n| !n.owners.is_empty() || n.awaits_collector())
            .map(|n| n.uid.clone())
            .collect()
    }

    /// Records an added or changed object and returns the uids to process because of it.
    pub fn upsert(&mut self, node: GraphNode) -> Vec<Uid> {
        let previous = self.nodes.get(&node.uid).cloned();
        if let Some(previous) = &previous {
            if !previous.differs_for_collector(&node) {
                self.nodes.insert(node.uid.clone(), node);
                return Vec::new();
            }
            for owner in &previous.owners {
                self.unlink(&owner.uid, &previous.uid);
            }
        }
        for owner in &node.owners {
            self.dependents
                .entry(owner.uid.clone())
                .or_default()
                .insert(node.uid.clone());
        }
        let mut affected = Vec::new();
        if !node.owners.is_empty() || node.awaits_collector() {
            affected.push(node.uid.clone());
        }
        // An owner in foreground deletion waits on this object: a dropped
        // ownerReference or a deletion may release it.
        let owners = previous
            .iter()
            .flat_map(|p| p.owners.iter())
            .chain(node.owners.iter());
        affected.extend(self.owners_awaiting_collector(owners));
        self.nodes.insert(node.uid.clone(), node);
        dedup(affected)
    }

    /// Forgets a deleted object and returns the uids to process because of it.
    pub fn remove(&mut self, uid: &str) -> Vec<Uid> {
        let Some(node) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        for owner in &node.owners {
            self.unlink(&owner.uid, uid);
        }
        // Its dependents may now be dangling, and its owners may be released.
        let mut affected: Vec<Uid> = self
            .dependents
            .get(uid)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        affected.extend(self.owners_awaiting_collector(node.owners.iter()));
        dedup(affected)
    }

    fn owners_awaiting_collector<'a>(
        &self,
        owners: impl Iterator<Item = &'a OwnerLink>,
    ) -> Vec<Uid> {
        owners
            .filter(|o| {
                self.nodes
                    .get(&o.uid)
                    .is_some_and(GraphNode::awaits_collector)
            })
            .map(|o| o.uid.clone())
            .collect()
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(set) = self.dependents.get_mut(owner) {
            set.remove(dependent);
            if set.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }
}

fn dedup(uids: Vec<Uid>) -> Vec<Uid> {
    let mut seen = HashSet::new();
    uids.into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

/// How a delete propagates to the deleted object's own dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
}

/// One write the collector makes. Actions that rest on absent owners carry
/// them in `unverified_owners`: the watch caches of two resources are not
/// ordered, so the syncer confirms with a GET that each is really gone before
/// acting, as upstream's `isDangling` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete a dependent whose owners are all gone or being deleted in the foreground.
    Delete {
        target: ObjectKey,
        uid: Uid,
        propagation: Propagation,
        unverified_owners: Vec<OwnerLink>,
    },
    /// Drop the ownerReferences to `owner_uids` from a dependent that keeps another owner,
    /// or whose owner orphans it.
    RemoveOwnerReferences {
        target: ObjectKey,
        uid: Uid,
        owner_uids: Vec<Uid>,
        unverified_owners: Vec<OwnerLink>,
    },
    /// Remove a collector finalizer from an owner whose dependents are dealt with.
    RemoveFinalizer {
        target: ObjectKey,
        uid: Uid,
        finalizer: &'static str,
    },
}

/// What the collector must do about the object `uid`, in order; an empty plan when
/// it is fine or unknown.
pub fn plan(graph: &Graph, uid: &str) -> Vec<Action> {
    let Some(node) = graph.get(uid) else {
        return Vec::new();
    };
    if node.deleting {
        if node.has_finalizer(ORPHAN_FINALIZER) {
            return plan_orphaning(graph, node);
        }
        if node.has_finalizer(FOREGROUND_FINALIZER) {
            return plan_foreground(graph, node);
        }
        // Being deleted already: nothing to cascade from here (upstream returns
        // early for such items too).
        return Vec::new();
    }
    plan_dependent(graph, node).into_iter().collect()
}

/// `orphanDependents`: every dependent loses its reference to the owner, then the
/// owner loses the `orphan` finalizer.
fn plan_orphaning(graph: &Graph, owner: &GraphNode) -> Vec<Action> {
    let mut actions: Vec<Action> = graph
        .dependents_of(&owner.uid)
        .map(|d| Action::RemoveOwnerReferences {
            target: d.key.clone(),
            uid: d.uid.clone(),
            owner_uids: vec![owner.uid.clone()],
            unverified_owners: Vec::new(),
        })
        .collect();
    actions.push(Action::RemoveFinalizer {
        target: owner.key.clone(),
        uid: owner.uid.clone(),
        finalizer: ORPHAN_FINALIZER,
    });
    actions
}

/// `processDeletingDependentsItem`: delete the dependents, and once none that
/// blocks the owner's deletion is left, remove the `foregroundDeletion` finalizer.
fn plan_foreground(graph: &Graph, owner: &GraphNode) -> Vec<Action> {
    let mut actions: Vec<Action> = graph
        .dependents_of(&owner.uid)
        .filter(|d| !d.deleting)
        .filter_map(|d| plan_dependent(graph, d))
        .collect();
    let blocked = graph.dependents_of(&owner.uid).any(|d| {
        d.owners
            .iter()
            .any(|o| o.uid == owner.uid && o.block_owner_deletion)
    });
    if !blocked {
        actions.push(Action::RemoveFinalizer {
            target: owner.key.clone(),
            uid: owner.uid.clone(),
            finalizer: FOREGROUND_FINALIZER,
        });
    }
    actions
}

/// How one owner of a dependent stands.
enum OwnerState {
    /// Exists and is not being deleted in the foreground (or cannot be checked).
    Solid,
    /// Being deleted in the foreground: it waits for its dependents to go.
    WaitingForDependents,
    /// Not in the graph: gone, or not yet seen.
    Absent,
}

fn owner_state(graph: &Graph, dependent: &GraphNode, owner: &OwnerLink) -> OwnerState {
    let Some(resource) = owner.resource else {
        // A kind Skiff does not serve cannot be watched; keep the dependent.
        return OwnerState::Solid;
    };
    if resource.namespaced() && dependent.key.namespace.is_none() {
        // A cluster-scoped object cannot be owned by a namespaced one; upstream
        // reports it and leaves the dependent alone.
        return OwnerState::Solid;
    }
    match graph.get(&owner.uid) {
        None => OwnerState::Absent,
        Some(node) if node.deleting && node.has_finalizer(FOREGROUND_FINALIZER) => {
            OwnerState::WaitingForDependents
        }
        Some(_) => OwnerState::Solid,
    }
}

/// `attemptToDeleteItem` for a dependent that is not being deleted: delete it when
/// no owner is left standing, or drop the references to owners that are gone or
/// waiting when another owner still stands.
fn plan_dependent(graph: &Graph, dependent: &GraphNode) -> Option<Action> {
    if dependent.owners.is_empty() || dependent.deleting {
        return None;
    }
    let mut solid = 0;
    let mut waiting = Vec::new();
    let mut absent = Vec::new();
    for owner in &dependent.owners {
        match owner_state(graph, dependent, owner) {
            OwnerState::Solid => solid += 1,
            OwnerState::WaitingForDependents => waiting.push(owner.clone()),
            OwnerState::Absent => absent.push(owner.clone()),
        }
    }
    if solid == 0 {
        // A dependent of an owner deleted in the foreground is itself deleted in
        // the foreground when it has dependents, so the wait is transitive.
        let has_dependents = graph.dependents_of(&dependent.uid).next().is_some();
        let propagation = if !waiting.is_empty() && has_dependents {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        return Some(Action::Delete {
            target: dependent.key.clone(),
            uid: dependent.uid.clone(),
            propagation,
            unverified_owners: absent,
        });
    }
    if waiting.is_empty() && absent.is_empty() {
        return None;
    }
    let owner_uids = absent
        .iter()
        .chain(waiting.iter())
        .map(|o| o.uid.clone())
        .collect();
    Some(Action::RemoveOwnerReferences {
        target: dependent.key.clone(),
        uid: dependent.uid.clone(),
        owner_uids,
        unverified_owners: absent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::{of, Kind};

    fn object(kind: Kind, name: &str, uid: &str, owners: &[(&GraphNode, bool)]) -> GraphNode {
        let resource = of(kind);
        GraphNode {
            key: ObjectKey {
                resource,
                namespace: resource.namespaced().then(|| "default".to_string()),
                name: name.into(),
            },
            uid: uid.into(),
            owners: owners
                .iter()
                .map(|(o, block)| OwnerLink {
                    uid: o.uid.clone(),
                    resource: Some(o.key.resource),
                    name: o.key.name.clone(),
                    block_owner_deletion: *block,
                })
                .collect(),
            deleting: false,
            finalizers: Vec::new(),
        }
    }

    fn deleting(mut node: GraphNode, finalizer: &str) -> GraphNode {
        node.deleting = true;
        node.finalizers.push(finalizer.to_string());
        node
    }

    fn graph(nodes: &[&GraphNode]) -> Graph {
        let mut graph = Graph::default();
        for node in nodes {
            graph.upsert((*node).clone());
        }
        graph
    }

    /// A Deployment, its ReplicaSet and the ReplicaSet's two pods.
    fn family() -> (GraphNode, GraphNode, GraphNode, GraphNode) {
        let deploy = object(Kind::Deployment, "web", "d1", &[]);
        let rs = object(Kind::ReplicaSet, "web-1", "r1", &[(&deploy, true)]);
        let pod_a = object(Kind::Pod, "web-1-a", "p1", &[(&rs, true)]);
        let pod_b = object(Kind::Pod, "web-1-b", "p2", &[(&rs, true)]);
        (deploy, rs, pod_a, pod_b)
    }

    fn deleted_uids(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Delete { uid, .. } => Some(uid.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn should_leave_a_dependent_of_a_living_owner_alone() {
        let (deploy, rs, pod_a, _) = family();
        let graph = graph(&[&deploy, &rs, &pod_a]);
        assert!(plan(&graph, "r1").is_empty());
        assert!(plan(&graph, "p1").is_empty());
        assert!(plan(&graph, "d1").is_empty());
    }

    #[test]
    fn should_delete_a_dependent_in_the_background_once_its_owner_is_gone() {
        let (deploy, rs, ..) = family();
        let mut graph = graph(&[&deploy, &rs]);
        assert_eq!(graph.remove("d1"), vec!["r1".to_string()]);
        let actions = plan(&graph, "r1");
        assert_eq!(
            actions,
            vec![Action::Delete {
                target: rs.key.clone(),
                uid: "r1".into(),
                propagation: Propagation::Background,
                unverified_owners: rs.owners.clone(),
            }]
        );
    }

    #[test]
    fn should_treat_a_recreated_owner_with_the_same_name_as_another_owner() {
        let (deploy, rs, ..) = family();
        let recreated = object(Kind::Deployment, "web", "d2", &[]);
        let graph = graph(&[&recreated, &rs]);
        assert_eq!(deleted_uids(&plan(&graph, "r1")), vec!["r1"]);
        drop(deploy);
    }

    #[test]
    fn should_drop_only_the_gone_owner_when_another_owner_stands() {
        let first = object(Kind::ConfigMap, "a", "c1", &[]);
        let second = object(Kind::ConfigMap, "b", "c2", &[]);
        let shared = object(
            Kind::Secret,
            "s",
            "s1",
            &[(&first, false), (&second, false)],
        );
        let mut graph = graph(&[&first, &second, &shared]);
        graph.remove("c1");
        assert_eq!(
            plan(&graph, "s1"),
            vec![Action::RemoveOwnerReferences {
                target: shared.key.clone(),
                uid: "s1".into(),
                owner_uids: vec!["c1".into()],
                unverified_owners: vec![shared.owners[0].clone()],
            }]
        );
    }

    #[test]
    fn should_delete_dependents_of_a_foreground_owner_and_keep_its_finalizer_while_they_block() {
        let (deploy, rs, pod_a, pod_b) = family();
        let rs = deleting(rs, FOREGROUND_FINALIZER);
        let graph = graph(&[&deploy, &rs, &pod_a, &pod_b]);
        let actions = plan(&graph, "r1");
        assert_eq!(deleted_uids(&actions), vec!["p1", "p2"]);
        assert!(actions
            .iter()
            .all(|a| !matches!(a, Action::RemoveFinalizer { .. })));
        assert!(actions.iter().all(|a| matches!(
            a,
            Action::Delete { propagation: Propagation::Background, unverified_owners, .. } if unverified_owners.is_empty()
        )));
    }

    #[test]
    fn should_remove_the_foreground_finalizer_once_no_blocking_dependent_is_left() {
        let (deploy, rs, pod_a, pod_b) = family();
        let rs = deleting(rs, FOREGROUND_FINALIZER);
        let mut graph = graph(&[&deploy, &rs, &pod_a, &pod_b]);
        assert!(
            graph.remove("p1").contains(&"r1".to_string()),
            "the waiting owner is processed again"
        );
        graph.remove("p2");
        assert_eq!(
            plan(&graph, "r1"),
            vec![Action::RemoveFinalizer {
                target: rs.key.clone(),
                uid: "r1".into(),
                finalizer: FOREGROUND_FINALIZER
            }]
        );
    }

    #[test]
    fn should_not_wait_for_dependents_that_do_not_block_owner_deletion() {
        let owner = deleting(
            object(Kind::ConfigMap, "a", "c1", &[]),
            FOREGROUND_FINALIZER,
        );
        let loose = object(Kind::Secret, "s", "s1", &[(&owner, false)]);
        let graph = graph(&[&owner, &loose]);
        let actions = plan(&graph, "c1");
        assert_eq!(deleted_uids(&actions), vec!["s1"]);
        assert!(matches!(
            actions.last(),
            Some(Action::RemoveFinalizer {
                finalizer: FOREGROUND_FINALIZER,
                ..
            })
        ));
    }

    #[test]
    fn should_wait_for_dependents_already_being_deleted() {
        let (deploy, rs, mut pod_a, _) = family();
        let rs = deleting(rs, FOREGROUND_FINALIZER);
        pod_a.deleting = true;
        let graph = graph(&[&deploy, &rs, &pod_a]);
        assert!(
            plan(&graph, "r1").is_empty(),
            "a graceful pod still blocks its owner"
        );
    }

    #[test]
    fn should_cascade_foreground_deletion_through_dependents_that_have_dependents() {
        let (deploy, rs, pod_a, _) = family();
        let deploy = deleting(deploy, FOREGROUND_FINALIZER);
        let graph = graph(&[&deploy, &rs, &pod_a]);
        assert_eq!(
            plan(&graph, "d1"),
            vec![Action::Delete {
                target: rs.key.clone(),
                uid: "r1".into(),
                propagation: Propagation::Foreground,
                unverified_owners: Vec::new(),
            }]
        );
    }

    #[test]
    fn should_drop_the_reference_to_a_foreground_owner_when_another_owner_stands() {
        let owner = deleting(
            object(Kind::ConfigMap, "a", "c1", &[]),
            FOREGROUND_FINALIZER,
        );
        let other = object(Kind::ConfigMap, "b", "c2", &[]);
        let shared = object(Kind::Secret, "s", "s1", &[(&owner, true), (&other, false)]);
        let graph = graph(&[&owner, &other, &shared]);
        let actions = plan(&graph, "c1");
        assert_eq!(
            actions,
            vec![Action::RemoveOwnerReferences {
                target: shared.key.clone(),
                uid: "s1".into(),
                owner_uids: vec!["c1".into()],
                unverified_owners: Vec::new(),
            }]
        );
    }

    #[test]
    fn should_orphan_dependents_then_remove_the_orphan_finalizer() {
        let (deploy, rs, pod_a, pod_b) = family();
        let rs = deleting(rs, ORPHAN_FINALIZER);
        let graph = graph(&[&deploy, &rs, &pod_a, &pod_b]);
        let actions = plan(&graph, "r1");
        assert_eq!(actions.len(), 3);
        for (action, pod) in actions.iter().zip([&pod_a, &pod_b]) {
            assert_eq!(
                action,
                &Action::RemoveOwnerReferences {
                    target: pod.key.clone(),
                    uid: pod.uid.clone(),
                    owner_uids: vec!["r1".into()],
                    unverified_owners: Vec::new(),
                }
            );
        }
        assert_eq!(
            actions[2],
            Action::RemoveFinalizer {
                target: rs.key.clone(),
                uid: "r1".into(),
                finalizer: ORPHAN_FINALIZER
            }
        );
    }

    #[test]
    fn should_not_delete_a_dependent_of_a_kind_it_cannot_watch() {
        let mut dependent = object(Kind::ConfigMap, "a", "c1", &[]);
        dependent.owners.push(OwnerLink {
            uid: "x".into(),
            resource: None,
            name: "thing".into(),
            block_owner_deletion: false,
        });
        let graph = graph(&[&dependent]);
        assert!(plan(&graph, "c1").is_empty());
    }

    #[test]
    fn should_not_process_objects_whose_change_does_not_matter_to_the_collector() {
        let (deploy, rs, ..) = family();
        let mut graph = graph(&[&deploy, &rs]);
        assert!(graph.upsert(rs.clone()).is_empty());
        let mut orphaned = rs.clone();
        orphaned.owners.clear();
        assert!(graph.upsert(orphaned).is_empty(), "no owner, nothing to do");
        assert_eq!(graph.dependents_of("d1").count(), 0);
    }

    #[test]
    fn should_process_the_dependents_of_a_removed_owner() {
        let (deploy, rs, pod_a, pod_b) = family();
        let mut graph = graph(&[&deploy, &rs, &pod_a, &pod_b]);
        let mut affected = graph.remove("r1");
        affected.sort();
        assert_eq!(affected, vec!["p1".to_string(), "p2".to_string()]);
        assert!(graph.remove("r1").is_empty());
    }

    #[test]
    fn should_build_a_node_from_metadata() {
        let meta = ObjectMeta {
            name: Some("web-1".into()),
            namespace: Some("default".into()),
            uid: Some("r1".into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "web".into(),
                uid: "d1".into(),
                block_owner_deletion: Some(true),
                controller: Some(true),
            }]),
            ..Default::default()
        };
        let node = GraphNode::from_meta(of(Kind::ReplicaSet), &meta).unwrap();
        assert_eq!(
            node.owners[0].resource.map(|r| r.kind),
            Some(Kind::Deployment)
        );
        assert!(node.owners[0].block_owner_deletion);
        let unnamed = ObjectMeta {
            uid: Some("u".into()),
            ..Default::default()
        };
        assert!(GraphNode::from_meta(of(Kind::Pod), &unnamed).is_none());
    }
}
