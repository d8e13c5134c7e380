//! The patch metadata Kubernetes declares on its types (`patchStrategy` and
//! `patchMergeKey` struct tags in k8s.io/api), for the kinds Skiff serves.
//!
//! Only fields that carry metadata, or lead to one that does, are listed: every
//! other map merges key by key and every other list is replaced whole, which is
//! what upstream does for fields without tags. The same facts become
//! `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` in OpenAPI.

use crate::registry::Kind;

/// The patch metadata of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchMeta {
    /// Lists are merged (by `merge_key`, or as a set of scalars without one)
    /// instead of replaced.
    pub merge: bool,
    /// The field supports the `$retainKeys` directive; only clients act on this.
    pub retain_keys: bool,
    /// The item field that identifies list items, e.g. `name` for containers.
    pub merge_key: Option<&'static str>,
}

impl PatchMeta {
    /// The `x-kubernetes-patch-strategy` value: `merge`, `retainKeys` or `merge,retainKeys`.
    pub fn strategy(&self) -> Option<&'static str> {
        match (self.merge, self.retain_keys) {
            (true, true) => Some("merge,retainKeys"),
            (true, false) => Some("merge"),
            (false, true) => Some("retainKeys"),
            (false, false) => None,
        }
    }
}

/// A field of a struct, with the fields of the struct it holds (or of each item
/// when it is a list).
#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) meta: PatchMeta,
    pub(crate) children: &'static [Field],
}

const NO_META: PatchMeta = PatchMeta {
    merge: false,
    retain_keys: false,
    merge_key: None,
};

impl Field {
    /// A struct-valued field without metadata of its own.
    const fn object(name: &'static str, children: &'static [Field]) -> Self {
        Self {
            name,
            meta: NO_META,
            children,
        }
    }

    /// A list merged by `key` (`patchStrategy:"merge" patchMergeKey:"<key>"`).
    const fn merge_list(name: &'static str, key: &'static str, children: &'static [Field]) -> Self {
        let meta = PatchMeta {
            merge: true,
            retain_keys: false,
            merge_key: Some(key),
        };
        Self {
            name,
            meta,
            children,
        }
    }

    /// A list of scalars merged as a set (`patchStrategy:"merge"` without a key).
    const fn merge_set(name: &'static str) -> Self {
        Self {
            name,
            meta: PatchMeta {
                merge: true,
                retain_keys: false,
                merge_key: None,
            },
            children: &[],
        }
    }

    /// The same field, also declaring `retainKeys`.
    const fn retaining_keys(self) -> Self {
        let meta = PatchMeta {
            retain_keys: true,
            ..self.meta
        };
        Self { meta, ..self }
    }

    /// Whether lists in this field merge rather than being replaced.
    pub(crate) fn merges(&self) -> bool {
        self.meta.merge
    }
}

pub(crate) const LEAF: &[Field] = &[];

static OBJECT_META: &[Field] = &[
    Field::merge_list("ownerReferences", "uid", LEAF),
    Field::merge_set("finalizers"),
];

const CONDITIONS: Field = Field::merge_list("conditions", "type", LEAF);

static CONTAINER: &[Field] = &[
    Field::merge_list("ports", "containerPort", LEAF),
    Field::merge_list("env", "name", LEAF),
    Field::merge_list("volumeMounts", "mountPath", LEAF),
    Field::merge_list("volumeDevices", "devicePath", LEAF),
];

/// `tolerations` and `readinessGates` have no strategy upstream: they are replaced.
static POD_SPEC: &[Field] = &[
    Field::merge_list("volumes", "name", LEAF).retaining_keys(),
    Field::merge_list("initContainers", "name", CONTAINER),
    Field::merge_list("containers", "name", CONTAINER),
    Field::merge_list("ephemeralContainers", "name", CONTAINER),
    Field::merge_list("imagePullSecrets", "name", LEAF),
    Field::merge_list("hostAliases", "ip", LEAF),
    Field::merge_list("topologySpreadConstraints", "topologyKey", LEAF),
    Field::merge_list("schedulingGates", "name", LEAF),
    Field::merge_list("resourceClaims", "name", LEAF).retaining_keys(),
];

static POD_STATUS: &[Field] = &[
    CONDITIONS,
    Field::merge_list("podIPs", "ip", LEAF),
    Field::merge_list("hostIPs", "ip", LEAF),
    Field::merge_list("resourceClaimStatuses", "name", LEAF).retaining_keys(),
];

static POD_TEMPLATE: &[Field] = &[
    Field::object("metadata", OBJECT_META),
    Field::object("spec", POD_SPEC),
];

/// Status of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, Namespaces
/// and Services: only `conditions` carries metadata.
static CONDITIONS_STATUS: &[Field] = &[CONDITIONS];

/// Spec of the workloads whose pods come from `spec.template`.
static TEMPLATED_SPEC: &[Field] = &[Field::object("template", POD_TEMPLATE)];

static DEPLOYMENT_SPEC: &[Field] = &[
    Field::object("template", POD_TEMPLATE),
    Field::object("strategy", LEAF).retaining_keys(),
];

static JOB_TEMPLATE: &[Field] = &[
    Field::object("metadata", OBJECT_META),
    Field::object("spec", TEMPLATED_SPEC),
];

static SERVICE_SPEC: &[Field] = &[Field::merge_list("ports", "port", LEAF)];

static NODE_SPEC: &[Field] = &[Field::merge_set("podCIDRs")];

static NODE_STATUS: &[Field] = &[CONDITIONS, Field::merge_list("addresses", "type", LEAF)];

/// The top-level fields of an object with `spec` and `status` of the given shapes.
macro_rules! object_root {
    ($spec:expr, $status:expr) => {
        &[
            Field::object("metadata", OBJECT_META),
            Field::object("spec", $spec),
            Field::object("status", $status),
        ]
    };
}

static POD: &[Field] = object_root!(POD_SPEC, POD_STATUS);
static DEPLOYMENT: &[Field] = object_root!(DEPLOYMENT_SPEC, CONDITIONS_STATUS);
static TEMPLATED_WORKLOAD: &[Field] = object_root!(TEMPLATED_SPEC, CONDITIONS_STATUS);
static CRON_JOB: &[Field] = object_root!(&[Field::object("jobTemplate", JOB_TEMPLATE)], LEAF);
static SERVICE: &[Field] = object_root!(SERVICE_SPEC, CONDITIONS_STATUS);
static NODE: &[Field] = object_root!(NODE_SPEC, NODE_STATUS);
static NAMESPACE: &[Field] = object_root!(LEAF, CONDITIONS_STATUS);
static SERVICE_ACCOUNT: &[Field] = &[
    Field::object("metadata", OBJECT_META),
    Field::merge_list("secrets", "name", LEAF),
];
static METADATA_ONLY: &[Field] = &[Field::object("metadata", OBJECT_META)];

/// The top-level fields of `kind`.
pub(crate) fn root(kind: Kind) -> &'static [Field] {
    match kind {
        Kind::Pod => POD,
        Kind::Deployment => DEPLOYMENT,
        Kind::ReplicaSet | Kind::StatefulSet | Kind::DaemonSet | Kind::Job => TEMPLATED_WORKLOAD,
        Kind::CronJob => CRON_JOB,
        Kind::Service => SERVICE,
        Kind::Node => NODE,
        Kind::Namespace => NAMESPACE,
        Kind::ServiceAccount => SERVICE_ACCOUNT,
        Kind::Endpoints
        | Kind::ConfigMap
        | Kind::Secret
        | Kind::Event
        | Kind::Ingress
        | Kind::IngressClass
        | Kind::EndpointSlice
        | Kind::Lease
        | Kind::EventsV1Event => METADATA_ONLY,
    }
}

/// The field called `name` among `fields`.
pub(crate) fn find(fields: &'static [Field], name: &str) -> Option<&'static Field> {
    fields.iter().find(|f| f.name == name)
}

/// The patch metadata of the field at `path` (field names only, no list indices:
/// `["spec", "template", "spec", "containers", "ports"]`), if it declares any.
pub fn patch_meta(kind: Kind, path: &[&str]) -> Option<PatchMeta> {
    let (last, parents) = path.split_last()?;
    let fields = parents.iter().try_fold(root(kind), |fields, name| {
        find(fields, name).map(|f| f.children)
    })?;
    let meta = find(fields, last)?.meta;
    (meta != NO_META).then_some(meta)
}

/// The merge key of the list at `path`, e.g. `containerPort` for a container's ports.
pub fn merge_key(kind: Kind, path: &[&str]) -> Option<&'static str> {
    patch_meta(kind, path)?.merge_key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_know_container_list_keys_in_every_pod_template() {
        let containers = ["spec", "template", "spec", "containers"];
        for kind in [
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::StatefulSet,
            Kind::DaemonSet,
            Kind::Job,
        ] {
            assert_eq!(merge_key(kind, &containers), Some("name"), "{kind:?}");
        }
        let cron = [
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "initContainers",
            "env",
        ];
        assert_eq!(merge_key(Kind::CronJob, &cron), Some("name"));
        assert_eq!(
            merge_key(Kind::Pod, &["spec", "containers", "ports"]),
            Some("containerPort")
        );
        assert_eq!(
            merge_key(Kind::Pod, &["spec", "ephemeralContainers", "volumeMounts"]),
            Some("mountPath")
        );
        assert_eq!(
            merge_key(Kind::Pod, &["spec", "containers", "volumeDevices"]),
            Some("devicePath")
        );
    }

    #[test]
    fn should_know_the_other_declared_keys() {
        assert_eq!(merge_key(Kind::Pod, &["spec", "volumes"]), Some("name"));
        assert_eq!(
            merge_key(Kind::Pod, &["spec", "imagePullSecrets"]),
            Some("name")
        );
        assert_eq!(merge_key(Kind::Pod, &["spec", "hostAliases"]), Some("ip"));
        assert_eq!(
            merge_key(Kind::Pod, &["spec", "topologySpreadConstraints"]),
            Some("topologyKey")
        );
        assert_eq!(
            merge_key(Kind::Pod, &["spec", "resourceClaims"]),
            Some("name")
        );
        assert_eq!(
            merge_key(Kind::Pod, &["status", "conditions"]),
            Some("type")
        );
        assert_eq!(merge_key(Kind::Service, &["spec", "ports"]), Some("port"));
        assert_eq!(
            merge_key(Kind::Node, &["status", "addresses"]),
            Some("type")
        );
        assert_eq!(
            merge_key(Kind::Node, &["status", "conditions"]),
            Some("type")
        );
        assert_eq!(
            merge_key(Kind::Deployment, &["status", "conditions"]),
            Some("type")
        );
        assert_eq!(
            merge_key(Kind::ConfigMap, &["metadata", "ownerReferences"]),
            Some("uid")
        );
        assert_eq!(merge_key(Kind::ServiceAccount, &["secrets"]), Some("name"));
    }

    #[test]
    fn should_declare_no_key_for_replaced_lists() {
        assert_eq!(merge_key(Kind::Pod, &["spec", "tolerations"]), None);
        assert_eq!(patch_meta(Kind::Pod, &["spec", "readinessGates"]), None);
        assert_eq!(
            patch_meta(Kind::StatefulSet, &["spec", "volumeClaimTemplates"]),
            None
        );
        assert_eq!(patch_meta(Kind::Pod, &["spec", "nope", "deeper"]), None);
        assert_eq!(patch_meta(Kind::Pod, &[]), None);
    }

    #[test]
    fn should_give_openapi_strategies() {
        let finalizers = patch_meta(Kind::Pod, &["metadata", "finalizers"]).unwrap();
        assert_eq!(
            (finalizers.strategy(), finalizers.merge_key),
            (Some("merge"), None)
        );
        let volumes =
            patch_meta(Kind::Deployment, &["spec", "template", "spec", "volumes"]).unwrap();
        assert_eq!(volumes.strategy(), Some("merge,retainKeys"));
        let strategy = patch_meta(Kind::Deployment, &["spec", "strategy"]).unwrap();
        assert_eq!(
            (strategy.strategy(), strategy.merge_key),
            (Some("retainKeys"), None)
        );
    }
}
