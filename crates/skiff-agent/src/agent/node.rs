//! Node registration: the Node object (capacity from `/proc`, addresses, podCIDR,
//! nodeInfo, the Ready condition) and its Lease in `kube-node-lease`, both renewed
//! every [`HEARTBEAT`].
//!
//! Simplification: the node takes the first /24 of the cluster CIDR as its
//! `podCIDR` itself. That is only right for a single node; the control plane
//! should allocate one range per node (issue 4) and the agent should read it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

use super::AgentError;
use crate::network::Ipv4Cidr;

/// How often the node status and the Lease are renewed (the kubelet's defaults).
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// The Lease duration the agent asks for.
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// Pods per node, the kubelet's default `--max-pods`.
pub const MAX_PODS: u32 = 110;

/// What the node offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResources {
    pub cpus: u32,
    pub memory_kib: u64,
}

/// `MemTotal` from `/proc/meminfo`, in KiB.
pub fn parse_meminfo_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The CPUs and memory of this machine.
pub fn read_resources() -> NodeResources {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_meminfo_total_kib(&text))
        .unwrap_or(0);
    NodeResources { cpus, memory_kib }
}

/// The node's pod range: the first /24 of the cluster CIDR (or the CIDR itself
/// when it is narrower). See the module header: a single-node simplification.
pub fn first_pod_cidr(cluster_cidr: &str) -> Result<Ipv4Cidr, AgentError> {
    let invalid = || AgentError::Config(format!("invalid IPv4 cluster CIDR {cluster_cidr:?}"));
    let (address, prefix) = cluster_cidr.split_once('/').ok_or_else(invalid)?;
    let address: Ipv4Addr = address.parse().map_err(|_| invalid())?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    if prefix > 32 {
        return Err(invalid());
    }
    let prefix = prefix.max(24);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    Ipv4Cidr::new(Ipv4Addr::from(u32::from(address) & mask), prefix)
        .map_err(|e| AgentError::Config(e.to_string()))
}

/// The node object to create: labels and `spec.podCIDR`.
pub fn node_object(name: &str, pod_cidr: &Ipv4Cidr) -> Value {
    let cidr = format!("{}/{}", pod_cidr.network(), pod_cidr.prefix_len());
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": go_arch(),
            },
        },
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
    })
}

/// The node's status: capacity, allocatable, addresses, nodeInfo and conditions,
/// with `now` (RFC 3339) as the heartbeat.
pub fn node_status(name: &str, ip: IpAddr, resources: &NodeResources, now: &str) -> Value {
    let capacity = json!({
        "cpu": resources.cpus.to_string(),
        "memory": format!("{}Ki", resources.memory_kib),
        "pods": MAX_PODS.to_string(),
    });
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        })
    };
    json!({"status": {
        "capacity": capacity,
        "allocatable": capacity,
        "addresses": [
            {"type": "InternalIP", "address": ip.to_string()},
            {"type": "Hostname", "address": name},
        ],
        "nodeInfo": {
            "machineID": read_trimmed("/etc/machine-id"),
            "systemUUID": read_trimmed("/sys/class/dmi/id/product_uuid"),
            "bootID": read_trimmed("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": read_trimmed("/proc/sys/kernel/osrelease"),
            "osImage": os_image(),
            "containerRuntimeVersion": "crun",
            "kubeletVersion": concat!("v1.33.0-skiff-", env!("CARGO_PKG_VERSION")),
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": go_arch(),
        },
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
    }})
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn now_micro() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Creates the Node if it is missing (or fills in a missing podCIDR), then posts its status.
pub async fn register(
    client: &Client,
    name: &str,
    ip: IpAddr,
    pod_cidr: &Ipv4Cidr,
) -> Result<(), AgentError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let wanted = node_object(name, pod_cidr);
    match nodes.get_opt(name).await? {
        None => {
            let node: Node = serde_json::from_value(wanted)
                .map_err(|e| AgentError::Config(format!("node object: {e}")))?;
            nodes.create(&PostParams::default(), &node).await?;
        }
        Some(node)
            if node
                .spec
                .as_ref()
                .and_then(|s| s.pod_cidr.as_ref())
                .is_none() =>
        {
            let patch = json!({"spec": wanted["spec"], "metadata": {"labels": wanted["metadata"]["labels"]}});
            nodes
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        Some(_) => {}
    }
    heartbeat(client, name, ip).await
}

/// One heartbeat: the node status (Ready, heartbeat time) and the Lease's renewTime.
pub async fn heartbeat(client: &Client, name: &str, ip: IpAddr) -> Result<(), AgentError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let status = node_status(name, ip, &read_resources(), &now_rfc3339());
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let spec = json!({
        "holderIdentity": name,
        "leaseDurationSeconds": LEASE_DURATION_SECONDS,
        "renewTime": now_micro(),
    });
    if leases.get_opt(name).await?.is_some() {
        leases
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({ "spec": spec })),
            )
            .await?;
    } else {
        let lease: Lease = serde_json::from_value(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": spec,
        }))
        .map_err(|e| AgentError::Config(format!("lease object: {e}")))?;
        leases.create(&PostParams::default(), &lease).await?;
    }
    Ok(())
}

/// Registers the node, then renews its status and Lease every [`HEARTBEAT`]
/// forever; failures are logged and retried at the next beat.
pub async fn run(client: Client, name: String, ip: IpAddr, pod_cidr: Ipv4Cidr) {
    let mut registered = false;
    loop {
        let result = if registered {
            heartbeat(&client, &name, ip).await
        } else {
            register(&client, &name, ip, &pod_cidr).await
        };
        match result {
            Ok(()) => registered = true,
            Err(error) => tracing::warn!(node = %name, %error, "node heartbeat failed"),
        }
        tokio::time::sleep(if registered {
            HEARTBEAT
        } else {
            Duration::from_secs(1)
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_read_total_memory_from_meminfo() {
        let text = "MemTotal:       16318480 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_meminfo_total_kib(text), Some(16318480));
        assert_eq!(parse_meminfo_total_kib("nothing"), None);
    }

    #[test]
    fn should_take_the_first_slash_24_of_the_cluster_cidr() {
        let cidr = first_pod_cidr("10.42.0.0/16").unwrap();
        assert_eq!(
            (cidr.network(), cidr.prefix_len()),
            (Ipv4Addr::new(10, 42, 0, 0), 24)
        );
        let narrow = first_pod_cidr("10.1.2.128/25").unwrap();
        assert_eq!(
            (narrow.network(), narrow.prefix_len()),
            (Ipv4Addr::new(10, 1, 2, 128), 25)
        );
        assert!(first_pod_cidr("fd00::/64").is_err());
        assert!(first_pod_cidr("10.0.0.0").is_err());
    }

    #[test]
    fn should_describe_the_node_with_110_pods_and_a_ready_condition() {
        let resources = NodeResources {
            cpus: 4,
            memory_kib: 1024,
        };
        let status = node_status(
            "n1",
            "192.0.2.1".parse().unwrap(),
            &resources,
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(status["status"]["capacity"]["pods"], "110");
        assert_eq!(status["status"]["allocatable"]["cpu"], "4");
        assert_eq!(status["status"]["capacity"]["memory"], "1024Ki");
        assert_eq!(status["status"]["addresses"][0]["address"], "192.0.2.1");
        let ready = &status["status"]["conditions"][3];
        assert_eq!(
            (&ready["type"], &ready["status"]),
            (&json!("Ready"), &json!("True"))
        );
        let node = node_object("n1", &first_pod_cidr("10.42.0.0/16").unwrap());
        assert_eq!(node["spec"]["podCIDR"], "10.42.0.0/24");
        // The objects parse as the API types.
        serde_json::from_value::<Node>(node).unwrap();
    }
}
