//! The node's side of pod networking: its settings, the `skiff0` bridge with the gateway address, and the sysctls.
//!
//! Mirrors what the CNI bridge plugin does once per node
//! (containernetworking/plugins `plugins/main/bridge/bridge.go`: `ensureBridge`,
//! `enableIPForward`) plus `net.bridge.bridge-nf-call-iptables=1`, which
//! kubeadm's preflight checks require (kubernetes
//! `cmd/kubeadm/app/preflight/checks.go`). Everything runs inside the
//! namespace the node lives in, which in tests is a test-host namespace.

use std::fs;
use std::path::{Path, PathBuf};

use super::ipam::{IpamError, IpamStore, Ipv4Cidr};
use super::links::{ensure_bridge, LinkError};
use super::netns::{run_in_netns, with_netlink, NetnsError};

/// Errors of node network setup.
#[derive(Debug, thiserror::Error)]
pub enum NodeNetworkError {
    /// The lease file for the node's range could not be opened.
    #[error("failed to open the node's IP leases: {0}")]
    Ipam(#[from] IpamError),
    /// The node's namespace could not be entered.
    #[error("failed to enter the node's network namespace: {0}")]
    Netns(#[from] NetnsError),
    /// The bridge could not be created or configured.
    #[error("failed to set up the node bridge: {0}")]
    Bridge(#[from] LinkError),
}

/// The bridge pods attach to, unless configured otherwise.
pub const DEFAULT_BRIDGE: &str = "skiff0";
/// The pod interface MTU, unless configured otherwise.
pub const DEFAULT_MTU: u32 = 1500;

/// The sysctls the datapath needs: routing between pods, Services and the
/// outside, and conntrack seeing bridged traffic (so replies of DNAT'd
/// Service traffic between pods on one bridge get un-NAT'd).
pub const NODE_SYSCTLS: [(&str, &str); 2] = [
    ("net.ipv4.ip_forward", "1"),
    ("net.bridge.bridge-nf-call-iptables", "1"),
];

/// Where the node's pod network lives and how it is shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeNetworkConfig {
    /// The node's `spec.podCIDR`; its first address is the gateway on the bridge.
    pub pod_cidr: Ipv4Cidr,
    /// The bridge name (at most 15 characters).
    pub bridge: String,
    /// MTU of both veth ends.
    pub mtu: u32,
    /// State directory: namespace files under `netns/<pod-uid>`, leases under `ipam/`.
    pub run_dir: PathBuf,
    /// The network namespace the node runs in; `None` is the calling thread's own.
    pub node_netns: Option<PathBuf>,
}

impl NodeNetworkConfig {
    /// Settings with the default bridge name and MTU, in the caller's namespace.
    pub fn new(pod_cidr: Ipv4Cidr, run_dir: impl Into<PathBuf>) -> Self {
        Self {
            pod_cidr,
            bridge: DEFAULT_BRIDGE.to_string(),
            mtu: DEFAULT_MTU,
            run_dir: run_dir.into(),
            node_netns: None,
        }
    }

    /// The directory holding one namespace file per pod.
    pub fn netns_dir(&self) -> PathBuf {
        self.run_dir.join("netns")
    }

    /// The lease file of the node's range.
    pub fn ipam_file(&self) -> PathBuf {
        self.run_dir
            .join("ipam")
            .join(format!("{}.json", self.bridge))
    }
}

/// How one sysctl fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysctlOutcome {
    /// It was written.
    Set,
    /// It already had the value.
    AlreadySet,
    /// Its `/proc/sys` file does not exist (module not loaded, or not per-namespace here).
    Missing,
    /// Reading or writing it failed.
    Failed(String),
}

/// What node setup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSetupReport {
    /// The bridge's interface index.
    pub bridge_index: u32,
    /// Each of [`NODE_SYSCTLS`] with its outcome.
    pub sysctls: Vec<(String, SysctlOutcome)>,
}

/// The pod network of one node: its settings and its IP leases.
#[derive(Debug)]
pub struct NodeNetwork {
    pub(super) config: NodeNetworkConfig,
    pub(super) ipam: IpamStore,
}

impl NodeNetwork {
    /// Opens the node's lease file (nothing in the kernel is touched yet).
    pub fn new(config: NodeNetworkConfig) -> Result<Self, NodeNetworkError> {
        let ipam = IpamStore::open(config.ipam_file(), config.pod_cidr)?;
        Ok(Self { config, ipam })
    }

    /// The settings.
    pub fn config(&self) -> &NodeNetworkConfig {
        &self.config
    }

    /// The IP leases.
    pub fn ipam(&self) -> &IpamStore {
        &self.ipam
    }

    /// Makes the bridge exist, up, with the gateway address, and sets the node
    /// sysctls. Idempotent. Sysctls that cannot be set are reported, not fatal.
    pub fn setup_node(&self) -> Result<NodeSetupReport, NodeNetworkError> {
        let bridge = self.config.bridge.as_str();
        let cidr = self.config.pod_cidr;
        let node_netns = self.config.node_netns.as_deref();
        let bridge_index = with_netlink(node_netns, |handle| async move {
            ensure_bridge(&handle, bridge, cidr.gateway(), cidr.prefix_len()).await
        })??;
        let sysctls = run_in_netns(node_netns, || {
            NODE_SYSCTLS
                .iter()
                .map(|(key, value)| (key.to_string(), write_sysctl(key, value)))
                .collect::<Vec<_>>()
        })?;
        for (key, outcome) in &sysctls {
            match outcome {
                SysctlOutcome::Set | SysctlOutcome::AlreadySet => {}
                SysctlOutcome::Missing => {
                    tracing::warn!(%key, "sysctl not available in the node namespace")
                }
                SysctlOutcome::Failed(error) => {
                    tracing::warn!(%key, %error, "could not set sysctl")
                }
            }
        }
        Ok(NodeSetupReport {
            bridge_index,
            sysctls,
        })
    }
}

/// `/proc/sys/<key with dots as slashes>`.
pub fn sysctl_path(key: &str) -> PathBuf {
    Path::new("/proc/sys").join(key.replace('.', "/"))
}

/// Writes a sysctl of the calling thread's network namespace, if it differs.
fn write_sysctl(key: &str, value: &str) -> SysctlOutcome {
    let path = sysctl_path(key);
    match fs::read_to_string(&path) {
        Ok(current) if current.trim() == value => SysctlOutcome::AlreadySet,
        Ok(_) => match fs::write(&path, value) {
            Ok(()) => SysctlOutcome::Set,
            Err(e) => SysctlOutcome::Failed(format!("{}: {e}", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SysctlOutcome::Missing,
        Err(e) => SysctlOutcome::Failed(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_map_sysctl_keys_to_proc_paths() {
        assert_eq!(
            sysctl_path("net.bridge.bridge-nf-call-iptables"),
            Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables")
        );
    }

    #[test]
    fn should_report_a_missing_sysctl_instead_of_failing() {
        assert_eq!(
            write_sysctl("net.skiff.does-not-exist", "1"),
            SysctlOutcome::Missing
        );
    }

    #[test]
    fn should_place_state_under_the_run_dir() {
        let config = NodeNetworkConfig::new("10.42.0.0/24".parse().unwrap(), "/run/skiff");
        assert_eq!(config.netns_dir(), Path::new("/run/skiff/netns"));
        assert_eq!(config.ipam_file(), Path::new("/run/skiff/ipam/skiff0.json"));
        assert_eq!(config.mtu, 1500);
    }
}
