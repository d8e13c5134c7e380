//! Nodes registered through the API, as KWOK does while there is no node
//! agent: a Lease in `kube-node-lease`, a Node object, and its status (capacity,
//! allocatable, Ready=True) written through the status subresource. A
//! background task renews every Lease's `spec.renewTime`, so the node lifecycle
//! controller keeps the nodes Ready for as long as the run lasts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::task::JoinHandle;

use crate::BenchResult;

/// Where node Leases live (`kube-node-lease`, created by the API server).
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// The Lease duration a kubelet writes.
const LEASE_DURATION_SECONDS: i32 = 40;
/// How often the Leases are renewed; a kubelet renews every 10 s, and the node
/// lifecycle controller's grace period is 40 s.
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(5);
/// How often readiness is polled while waiting for the nodes.
const NODE_POLL: Duration = Duration::from_millis(50);

/// What each node offers.
#[derive(Clone, Debug)]
pub struct NodeShape {
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
}

/// `count` node names, `{prefix}-0` onwards.
pub fn node_names(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("{prefix}-{index}"))
        .collect()
}

/// Registers each node: its Lease first (so the node is never seen without
/// one), then the Node, `cordoned` or not, then its Ready status.
pub async fn register(
    client: &Client,
    names: &[String],
    shape: &NodeShape,
    cordoned: bool,
) -> BenchResult<()> {
    try_join_all(
        names
            .iter()
            .map(|name| register_one(client, name, shape, cordoned)),
    )
    .await?;
    Ok(())
}

async fn register_one(
    client: &Client,
    name: &str,
    shape: &NodeShape,
    cordoned: bool,
) -> BenchResult<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name.to_string()),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..LeaseSpec::default()
        }),
    };
    leases.create(&PostParams::default(), &lease).await?;

    let nodes: Api<Node> = Api::all(client.clone());
    let node = Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([
                ("kubernetes.io/hostname".to_string(), name.to_string()),
                ("type".to_string(), "skiff-bench".to_string()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            unschedulable: cordoned.then_some(true),
            ..NodeSpec::default()
        }),
        status: None,
    };
    nodes.create(&PostParams::default(), &node).await?;

    let resources = BTreeMap::from([
        ("cpu".to_string(), Quantity(shape.cpu.clone())),
        ("memory".to_string(), Quantity(shape.memory.clone())),
        ("pods".to_string(), Quantity(shape.pods.to_string())),
    ]);
    let now = Time(Timestamp::now());
    let status = Node {
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".to_string(),
                status: "True".to_string(),
                reason: Some("KubeletReady".to_string()),
                message: Some("registered by skiff-bench".to_string()),
                last_heartbeat_time: Some(now.clone()),
                last_transition_time: Some(now),
            }]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    };
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// Waits until every named node says Ready=True and carries no taint (the node
/// lifecycle controller may taint a node it saw before its status), so the
/// scheduler can use them all.
pub async fn wait_until_ready(
    client: &Client,
    names: &[String],
    timeout: Duration,
) -> BenchResult<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    loop {
        let listed = nodes.list(&ListParams::default()).await?;
        let usable = listed
            .items
            .iter()
            .filter(|node| {
                names
                    .iter()
                    .any(|name| node.metadata.name.as_deref() == Some(name))
            })
            .filter(|node| is_ready_and_untainted(node))
            .count();
        if usable == names.len() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {usable} of {} nodes were Ready and untainted after {timeout:?}",
                names.len()
            )
            .into());
        }
        tokio::time::sleep(NODE_POLL).await;
    }
}

fn is_ready_and_untainted(node: &Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
    let tainted = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.as_ref())
        .is_some_and(|taints| !taints.is_empty());
    ready && !tainted
}

/// Sets or clears `spec.unschedulable` on every named node, all at once.
pub async fn set_cordoned(client: &Client, names: &[String], cordoned: bool) -> BenchResult<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = Node {
        spec: Some(NodeSpec {
            unschedulable: Some(cordoned),
            ..NodeSpec::default()
        }),
        ..Node::default()
    };
    let params = PatchParams::default();
    let patch = Patch::Merge(&patch);
    try_join_all(names.iter().map(|name| nodes.patch(name, &params, &patch))).await?;
    Ok(())
}

/// Renews the Leases in the background until dropped.
pub struct LeaseRenewer {
    task: JoinHandle<()>,
}

impl LeaseRenewer {
    /// Renews the Lease of every named node every [`LEASE_RENEW_INTERVAL`].
    /// A failed renewal is reported and retried at the next tick: one missed
    /// renewal is far inside the grace period.
    pub fn start(client: &Client, names: &[String]) -> Self {
        let leases: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
        let names = names.to_vec();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(LEASE_RENEW_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let renewal = Lease {
                    spec: Some(LeaseSpec {
                        renew_time: Some(MicroTime(Timestamp::now())),
                        ..LeaseSpec::default()
                    }),
                    ..Lease::default()
                };
                let params = PatchParams::default();
                let patch = Patch::Merge(&renewal);
                let renewals = names.iter().map(|name| leases.patch(name, &params, &patch));
                if let Err(error) = try_join_all(renewals).await {
                    crate::progress(&format!("renewing a node Lease failed: {error}"));
                }
            }
        });
        LeaseRenewer { task }
    }
}

impl Drop for LeaseRenewer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
