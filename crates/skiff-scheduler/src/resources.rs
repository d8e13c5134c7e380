//! What a pod asks for and what a node offers, in the units the scheduler adds
//! up: millicores, bytes and a pod count.
//!
//! Pod requests follow `PodRequests` in `k8s.io/component-helpers/resource/helpers.go`:
//! the sum of the containers, raised to the largest init container (restartable
//! "sidecar" init containers add to everything after them), plus the overhead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use skiff_api::quantity;

/// The CPU a container without a CPU request counts as when scoring
/// (`DefaultMilliCPURequest` in `pkg/scheduler/util/pod_resources.go`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a memory request counts as when scoring
/// (`DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of CPU and memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
}

impl Resources {
    fn add(&mut self, other: Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
    }

    fn max(&mut self, other: Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
    }

    /// `self + other`.
    pub fn plus(self, other: Resources) -> Resources {
        let mut sum = self;
        sum.add(other);
        sum
    }

    /// `self - other`.
    pub fn minus(self, other: Resources) -> Resources {
        Resources {
            milli_cpu: self.milli_cpu - other.milli_cpu,
            memory: self.memory - other.memory,
        }
    }
}

/// What one pod asks of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodRequests {
    /// The requests as written, for the fit filter.
    pub requested: Resources,
    /// The requests with missing CPU and memory defaulted per container, for
    /// scoring, so that pods without requests still spread (upstream's
    /// `NonMissingContainerRequests`).
    pub non_zero: Resources,
}

/// What a node offers pods: its `status.allocatable`, falling back to capacity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allocatable {
    /// The node's resources.
    pub resources: Resources,
    /// How many pods the node takes.
    pub pods: i64,
}

/// The pod's requests, for filtering and for scoring.
pub fn pod_requests(pod: &Pod) -> PodRequests {
    let Some(spec) = pod.spec.as_ref() else {
        return PodRequests::default();
    };
    let requested = aggregate(&spec.containers, spec.init_containers.as_deref(), false);
    let non_zero = aggregate(&spec.containers, spec.init_containers.as_deref(), true);
    let overhead = spec.overhead.as_ref().map(resources_of).unwrap_or_default();
    PodRequests {
        requested: requested.plus(overhead),
        non_zero: non_zero.plus(overhead),
    }
}

/// `AggregateContainerRequests`: containers add up; each regular init container
/// runs alone next to the sidecars started before it, so the pod needs the
/// largest of those moments.
fn aggregate(
    containers: &[Container],
    init_containers: Option<&[Container]>,
    non_zero: bool,
) -> Resources {
    let requests_of = |container: &Container| container_requests(container, non_zero);
    let mut total = Resources::default();
    for container in containers {
        total.add(requests_of(container));
    }
    let mut sidecars = Resources::default();
    let mut largest_init = Resources::default();
    for container in init_containers.unwrap_or_default() {
        let requests = requests_of(container);
        if container.restart_policy.as_deref() == Some("Always") {
            total.add(requests);
            sidecars.add(requests);
            largest_init.max(sidecars);
        } else {
            largest_init.max(requests.plus(sidecars));
        }
    }
    total.max(largest_init);
    total
}

fn container_requests(container: &Container, non_zero: bool) -> Resources {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let cpu = requests.and_then(|r| r.get("cpu"));
    let memory = requests.and_then(|r| r.get("memory"));
    let read = |quantity: Option<&Quantity>,
                parse: fn(&Quantity) -> Result<i64, quantity::Error>,
                default: i64| {
        match quantity {
            Some(quantity) => parse(quantity).unwrap_or(0),
            None if non_zero => default,
            None => 0,
        }
    };
    Resources {
        milli_cpu: read(cpu, quantity::milli_value, DEFAULT_MILLI_CPU_REQUEST),
        memory: read(memory, quantity::value, DEFAULT_MEMORY_REQUEST),
    }
}

fn resources_of(list: &BTreeMap<String, Quantity>) -> Resources {
    Resources {
        milli_cpu: list
            .get("cpu")
            .and_then(|q| quantity::milli_value(q).ok())
            .unwrap_or(0),
        memory: list
            .get("memory")
            .and_then(|q| quantity::value(q).ok())
            .unwrap_or(0),
    }
}

/// The node's allocatable resources; a node that reports none offers nothing.
pub fn node_allocatable(node: &Node) -> Allocatable {
    let status = node.status.as_ref();
    let list = status
        .and_then(|s| s.allocatable.as_ref())
        .or_else(|| status.and_then(|s| s.capacity.as_ref()));
    let Some(list) = list else {
        return Allocatable::default();
    };
    Allocatable {
        resources: resources_of(list),
        pods: list
            .get("pods")
            .and_then(|q| quantity::value(q).ok())
            .unwrap_or(0),
    }
}

/// The uid of the pod's controlling owner (the ownerReference with
/// `controller: true`), which spreading groups by.
pub fn controller_uid(pod: &Pod) -> Option<&str> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.uid.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).expect("a pod")
    }

    fn container(name: &str, requests: serde_json::Value) -> serde_json::Value {
        json!({"name": name, "image": "x", "resources": {"requests": requests}})
    }

    const MI: i64 = 1024 * 1024;

    #[test]
    fn should_add_up_the_containers_requests() {
        let pod = pod(json!({"containers": [
            container("a", json!({"cpu": "100m", "memory": "64Mi"})),
            container("b", json!({"cpu": "1", "memory": "1Gi"})),
        ]}));
        assert_eq!(
            pod_requests(&pod).requested,
            Resources {
                milli_cpu: 1100,
                memory: 1088 * MI
            }
        );
    }

    #[test]
    fn should_count_init_containers_as_the_maximum_not_the_sum() {
        let pod = pod(json!({
            "initContainers": [container("init", json!({"cpu": "2", "memory": "10Mi"}))],
            "containers": [container("a", json!({"cpu": "500m", "memory": "100Mi"}))],
        }));
        assert_eq!(
            pod_requests(&pod).requested,
            Resources {
                milli_cpu: 2000,
                memory: 100 * MI
            }
        );
    }

    #[test]
    fn should_add_sidecar_init_containers_to_everything_after_them() {
        let mut sidecar = container("sidecar", json!({"cpu": "200m"}));
        sidecar["restartPolicy"] = json!("Always");
        let pod = pod(json!({
            "initContainers": [sidecar, container("init", json!({"cpu": "1"}))],
            "containers": [container("a", json!({"cpu": "500m"}))],
        }));
        // max(500m + 200m, 1 + 200m) = 1200m.
        assert_eq!(pod_requests(&pod).requested.milli_cpu, 1200);
    }

    #[test]
    fn should_add_the_pod_overhead() {
        let mut spec = json!({"containers": [container("a", json!({"cpu": "100m"}))]});
        spec["overhead"] = json!({"cpu": "50m", "memory": "1Mi"});
        let requests = pod_requests(&pod(spec));
        assert_eq!(
            requests.requested,
            Resources {
                milli_cpu: 150,
                memory: MI
            }
        );
    }

    #[test]
    fn should_default_missing_requests_only_for_scoring() {
        let pod = pod(json!({"containers": [{"name": "a", "image": "x"}]}));
        let requests = pod_requests(&pod);
        assert_eq!(requests.requested, Resources::default());
        assert_eq!(
            requests.non_zero,
            Resources {
                milli_cpu: DEFAULT_MILLI_CPU_REQUEST,
                memory: DEFAULT_MEMORY_REQUEST
            }
        );
    }

    #[test]
    fn should_read_allocatable_and_fall_back_to_capacity() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        }))
        .expect("a node");
        assert_eq!(
            node_allocatable(&node),
            Allocatable {
                resources: Resources {
                    milli_cpu: 4000,
                    memory: 8192 * MI
                },
                pods: 110
            }
        );
    }

    #[test]
    fn should_find_the_controlling_owner() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u2", "controller": true},
        ]}}))
        .expect("a pod");
        assert_eq!(controller_uid(&pod), Some("u2"));
    }
}
