//! Pod networking on a node: the bridge and sysctls, per-pod sandboxes (namespace, veth, IP), and the pod's hostname, hosts and resolv.conf files.
//!
//! The CNI bridge plugin with host-local IPAM is the model for the kernel side;
//! the kubelet is the model for the files. Planning is pure and unit-tested
//! ([`ipam::IpamState`], [`hosts`], [`resolv`], [`sandbox::host_veth_name`]);
//! effects are thin and run netlink on dedicated threads inside the target
//! namespace ([`netns`], [`links`]).
//!
//! The agent's flow for a bound pod:
//! 1. once per node: [`NodeNetwork::new`] with the node's podCIDR, then [`NodeNetwork::setup_node`];
//! 2. if [`uses_pod_network`] says so, [`NodeNetwork::create_sandbox`] (from
//!    `spawn_blocking`) and pass [`SandboxNetwork::netns_path`] to the OCI runtime;
//!    otherwise the pod shares the node's namespace and gets no sandbox;
//! 3. write [`hosts_file`] / [`host_network_hosts_file`] and [`pod_resolv_conf`]'s
//!    rendering into the pod, and set [`PodHostname::kernel_hostname`] in its UTS namespace;
//! 4. on deletion, [`NodeNetwork::teardown_sandbox`] (safe to repeat).

pub mod hosts;
pub mod ipam;
pub mod links;
pub mod netns;
pub mod node;
pub mod resolv;
pub mod sandbox;

use k8s_openapi::api::core::v1::Pod;

pub use hosts::{host_network_hosts_file, hosts_file, pod_hostname, HostnameError, PodHostname};
pub use ipam::{IpamError, IpamStore, Ipv4Cidr};
pub use node::{
    NodeNetwork, NodeNetworkConfig, NodeNetworkError, NodeSetupReport, SysctlOutcome,
    DEFAULT_BRIDGE, DEFAULT_MTU,
};
pub use resolv::{pod_resolv_conf, resolv_conf, DnsPolicy, ResolvConf};
pub use sandbox::{host_veth_name, SandboxError, SandboxNetwork};

/// Whether a pod gets its own network sandbox. `hostNetwork: true` pods do not:
/// they run in the node's namespace, keep the node's hostname, and get
/// [`host_network_hosts_file`].
pub fn uses_pod_network(pod: &Pod) -> bool {
    !pod.spec
        .as_ref()
        .and_then(|spec| spec.host_network)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;

    #[test]
    fn should_give_a_sandbox_to_every_pod_but_host_network_ones() {
        let with = |host_network| Pod {
            spec: Some(PodSpec {
                host_network,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(uses_pod_network(&with(None)));
        assert!(uses_pod_network(&with(Some(false))));
        assert!(!uses_pod_network(&with(Some(true))));
        assert!(uses_pod_network(&Pod::default()));
    }
}
