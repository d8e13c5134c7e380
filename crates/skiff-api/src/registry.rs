//! The resource registry: every kind Skiff serves, with the facts the generic
//! handler, discovery and the store layout need (group, version, plural, scope,
//! short names, subresources).
//!
//! Code names a kind through [`Kind`], never through a string literal.

/// Every kind Skiff serves. Pure functions elsewhere (defaulting, validation,
/// tables, strategic merge) match on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Pod,
    Service,
    Endpoints,
    ConfigMap,
    Secret,
    Node,
    Event,
    ServiceAccount,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Ingress,
    IngressClass,
    EndpointSlice,
    Lease,
    EventsV1Event,
}

/// Whether objects of a kind live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// A resource as discovery describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    pub kind: Kind,
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// The kind's name as it appears in `kind:`.
    pub kind_name: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub scope: Scope,
    pub short_names: &'static [&'static str],
    /// Subresources served under `<plural>/<sub>`.
    pub subresources: &'static [&'static str],
    /// Discovery categories; `all` makes `kubectl get all` include the kind.
    pub categories: &'static [&'static str],
}

impl ResourceType {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(&name)
    }

    /// The prefix under which the store keeps every object of this resource.
    /// Kubernetes keeps `/registry/<plural>/…`. A resource that is another view of
    /// a stored kind (events.k8s.io Events) shares that kind's prefix.
    pub fn store_prefix(&self) -> String {
        let stored = of(crate::convert::storage_kind(self.kind));
        if stored.group.is_empty() {
            format!("/registry/core/{}/", stored.plural)
        } else {
            format!("/registry/{}/{}/", stored.group, stored.plural)
        }
    }

    /// The store key of one object; `namespace` is ignored for cluster-scoped kinds.
    pub fn store_key(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => format!("{}{ns}/{name}", self.store_prefix()),
            _ => format!("{}{name}", self.store_prefix()),
        }
    }

    /// The store prefix of a list: one namespace, or all of them.
    pub fn list_prefix(&self, namespace: Option<&str>) -> String {
        match (self.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => format!("{}{ns}/", self.store_prefix()),
            _ => self.store_prefix(),
        }
    }
}

const NO_SHORT: &[&str] = &[];
const STATUS: &[&str] = &["status"];
const STATUS_SCALE: &[&str] = &["status", "scale"];
const ALL: &[&str] = &["all"];

macro_rules! resource {
    ($kind:ident, $group:expr, $version:expr, $plural:expr, $singular:expr, $scope:ident, $short:expr, $subs:expr, $cats:expr) => {
        ResourceType {
            kind: Kind::$kind,
            group: $group,
            version: $version,
            kind_name: stringify!($kind),
            plural: $plural,
            singular: $singular,
            scope: Scope::$scope,
            short_names: $short,
            subresources: $subs,
            categories: $cats,
        }
    };
}

/// Every resource Skiff serves, in discovery order.
pub static RESOURCES: &[ResourceType] = &[
    resource!(
        Namespace,
        "",
        "v1",
        "namespaces",
        "namespace",
        Cluster,
        &["ns"],
        &["status", "finalize"],
        NO_SHORT
    ),
    resource!(
        Pod,
        "",
        "v1",
        "pods",
        "pod",
        Namespaced,
        &["po"],
        &["status", "binding", "log", "exec", "eviction"],
        ALL
    ),
    resource!(
        Service,
        "",
        "v1",
        "services",
        "service",
        Namespaced,
        &["svc"],
        STATUS,
        ALL
    ),
    resource!(
        Endpoints,
        "",
        "v1",
        "endpoints",
        "endpoints",
        Namespaced,
        &["ep"],
        NO_SHORT,
        NO_SHORT
    ),
    resource!(
        ConfigMap,
        "",
        "v1",
        "configmaps",
        "configmap",
        Namespaced,
        &["cm"],
        NO_SHORT,
        NO_SHORT
    ),
    resource!(Secret, "", "v1", "secrets", "secret", Namespaced, NO_SHORT, NO_SHORT, NO_SHORT),
    resource!(
        Node,
        "",
        "v1",
        "nodes",
        "node",
        Cluster,
        &["no"],
        STATUS,
        NO_SHORT
    ),
    resource!(
        Event,
        "",
        "v1",
        "events",
        "event",
        Namespaced,
        &["ev"],
        NO_SHORT,
        NO_SHORT
    ),
    resource!(
        ServiceAccount,
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        Namespaced,
        &["sa"],
        NO_SHORT,
        NO_SHORT
    ),
    resource!(
        Deployment,
        "apps",
        "v1",
        "deployments",
        "deployment",
        Namespaced,
        &["deploy"],
        STATUS_SCALE,
        ALL
    ),
    resource!(
        ReplicaSet,
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        Namespaced,
        &["rs"],
        STATUS_SCALE,
        ALL
    ),
    resource!(
        StatefulSet,
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        Namespaced,
        &["sts"],
        STATUS_SCALE,
        ALL
    ),
    resource!(
        DaemonSet,
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        Namespaced,
        &["ds"],
        STATUS,
        ALL
    ),
    resource!(Job, "batch", "v1", "jobs", "job", Namespaced, NO_SHORT, STATUS, ALL),
    resource!(
        CronJob,
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        Namespaced,
        &["cj"],
        STATUS,
        ALL
    ),
    resource!(
        Ingress,
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        Namespaced,
        &["ing"],
        STATUS,
        NO_SHORT
    ),
    resource!(
        IngressClass,
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "ingressclass",
        Cluster,
        NO_SHORT,
        NO_SHORT,
        NO_SHORT
    ),
    resource!(
        EndpointSlice,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "endpointslice",
        Namespaced,
        NO_SHORT,
        NO_SHORT,
        NO_SHORT
    ),
    resource!(
        Lease,
        "coordination.k8s.io",
        "v1",
        "leases",
        "lease",
        Namespaced,
        NO_SHORT,
        NO_SHORT,
        NO_SHORT
    ),
    ResourceType {
        kind: Kind::EventsV1Event,
        group: "events.k8s.io",
        version: "v1",
        kind_name: "Event",
        plural: "events",
        singular: "event",
        scope: Scope::Namespaced,
        short_names: &["ev"],
        subresources: NO_SHORT,
        categories: NO_SHORT,
    },
];

/// The resource of a kind.
pub fn of(kind: Kind) -> &'static ResourceType {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind)
        .expect("every Kind has a registry entry")
}

/// The resource served at `/<api>/<group>/<version>/<plural>`.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource whose objects carry `apiVersion` and `kind`.
pub fn by_api_version_kind(api_version: &str, kind_name: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.api_version() == api_version && r.kind_name == kind_name)
}

/// The group/versions served, in discovery order, each with its resources.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !seen.contains(&(r.group, r.version)) {
            seen.push((r.group, r.version));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_have_one_entry_per_kind() {
        for r in RESOURCES {
            assert_eq!(of(r.kind), r);
        }
    }

    #[test]
    fn should_store_both_event_resources_in_one_place() {
        assert_eq!(
            of(Kind::Event).store_prefix(),
            of(Kind::EventsV1Event).store_prefix()
        );
        assert_eq!(
            of(Kind::Deployment).store_prefix(),
            "/registry/apps/deployments/"
        );
    }

    #[test]
    fn should_find_deployments_by_plural_and_by_kind() {
        assert_eq!(
            by_plural("apps", "v1", "deployments").unwrap().kind,
            Kind::Deployment
        );
        assert_eq!(
            by_api_version_kind("apps/v1", "Deployment").unwrap().kind,
            Kind::Deployment
        );
        assert!(by_api_version_kind("v1", "Deployment").is_none());
    }

    #[test]
    fn should_key_namespaced_and_cluster_objects() {
        assert_eq!(
            of(Kind::Pod).store_key(Some("default"), "web"),
            "/registry/core/pods/default/web"
        );
        assert_eq!(
            of(Kind::Node).store_key(None, "n1"),
            "/registry/core/nodes/n1"
        );
    }
}
