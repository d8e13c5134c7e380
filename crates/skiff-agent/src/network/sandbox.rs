//! A pod's network sandbox: its own namespace, a veth into the node bridge, an IP lease and a default route.
//!
//! This is the CNI bridge plugin's ADD and DEL (containernetworking/plugins
//! `plugins/main/bridge/bridge.go` `cmdAdd`/`cmdDel`) with host-local IPAM,
//! driven directly instead of through a plugin binary. DEL is idempotent as
//! the CNI spec requires: every step treats "already gone" as success, so a
//! teardown may be repeated and may follow a crash at any point of ADD.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::ipam::IpamError;
use super::links::{
    configure_pod_interface, create_pod_veth, delete_link, ensure_bridge, LinkError,
};
use super::netns::{create_persistent_netns, remove_persistent_netns, with_netlink, NetnsError};
use super::node::NodeNetwork;

/// Errors creating or tearing down a pod's network.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The pod uid cannot name files and links safely.
    #[error("failed to accept pod uid: {0}")]
    InvalidPodUid(String),
    /// No address could be leased or released.
    #[error("failed to manage the pod IP: {0}")]
    Ipam(#[from] IpamError),
    /// The pod namespace could not be created, entered or removed.
    #[error("failed to manage the pod network namespace: {0}")]
    Netns(#[from] NetnsError),
    /// The veth, address or route could not be set up or removed.
    #[error("failed to wire the pod network: {0}")]
    Link(#[from] LinkError),
}

/// What a pod's network is, for the runtime (namespace path) and the pod status (IP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxNetwork {
    /// The bind-mounted namespace file to hand to the OCI runtime.
    pub netns_path: PathBuf,
    /// The pod's address on `eth0`.
    pub ip: Ipv4Addr,
    /// The default gateway: the bridge's address.
    pub gateway: Ipv4Addr,
    /// Prefix length of the node's pod range.
    pub prefix_len: u8,
    /// The host end of the veth pair, attached to the bridge.
    pub host_veth: String,
}

/// Linux interface names hold at most 15 bytes (`IFNAMSIZ` − 1).
pub const MAX_INTERFACE_NAME_LEN: usize = 15;

/// The host end's name for a pod: `veth` + 11 hex digits of SHA-256(uid).
///
/// Deterministic so teardown needs no stored state; 44 bits make a clash between
/// two pods of one node vanishingly unlikely (Calico names its ends the same way).
pub fn host_veth_name(pod_uid: &str) -> String {
    let digest = hex::encode(Sha256::digest(pod_uid.as_bytes()));
    format!("veth{}", &digest[..MAX_INTERFACE_NAME_LEN - "veth".len()])
}

/// Accepts uids that are safe as one path component: Kubernetes uids are UUIDs;
/// anything with `/`, a leading `.` or other punctuation is refused.
pub fn check_pod_uid(pod_uid: &str) -> Result<(), SandboxError> {
    let safe = !pod_uid.is_empty()
        && pod_uid.len() <= 253
        && !pod_uid.starts_with('.')
        && pod_uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if safe {
        Ok(())
    } else {
        Err(SandboxError::InvalidPodUid(format!(
            "{pod_uid:?} is not a plain identifier"
        )))
    }
}

impl NodeNetwork {
    /// Where the namespace file of a pod lives.
    pub fn netns_path(&self, pod_uid: &str) -> PathBuf {
        self.config.netns_dir().join(pod_uid)
    }

    /// Gives a pod its network: namespace, veth into the bridge, IP, route.
    ///
    /// Blocking (it runs netlink on its own threads); call it from
    /// `tokio::task::spawn_blocking`. Calling it again for the same uid returns
    /// the same IP and rewires the veth. On failure everything made is undone.
    pub fn create_sandbox(&self, pod_uid: &str) -> Result<SandboxNetwork, SandboxError> {
        check_pod_uid(pod_uid)?;
        let ip = self.ipam.allocate(pod_uid)?;
        self.wire_sandbox(pod_uid, ip).inspect_err(|error| {
            tracing::warn!(%pod_uid, %error, "pod network setup failed; undoing it");
            if let Err(cleanup) = self.teardown_sandbox(pod_uid) {
                tracing::warn!(%pod_uid, error = %cleanup, "undoing pod network setup failed");
            }
        })
    }

    fn wire_sandbox(&self, pod_uid: &str, ip: Ipv4Addr) -> Result<SandboxNetwork, SandboxError> {
        let cidr = self.config.pod_cidr;
        let (gateway, prefix_len) = (cidr.gateway(), cidr.prefix_len());
        let netns_path = self.netns_path(pod_uid);
        create_persistent_netns(&netns_path)?;
        let netns_file = File::open(&netns_path)
            .map_err(|e| NetnsError::Enter(format!("{}: {e}", netns_path.display())))?;
        let pod_netns_fd = netns_file.as_raw_fd();

        let host_veth = host_veth_name(pod_uid);
        let (bridge, mtu) = (self.config.bridge.as_str(), self.config.mtu);
        let host_veth_ref = host_veth.as_str();
        with_netlink(self.config.node_netns.as_deref(), |handle| async move {
            // As cmdAdd's ensureBridge: a bridge deleted behind our back comes back.
            let bridge_index = ensure_bridge(&handle, bridge, gateway, prefix_len).await?;
            create_pod_veth(&handle, host_veth_ref, bridge_index, pod_netns_fd, mtu).await
        })??;
        with_netlink(Some(&netns_path), |handle| async move {
            configure_pod_interface(&handle, ip, prefix_len, gateway).await
        })??;
        drop(netns_file);
        Ok(SandboxNetwork {
            netns_path,
            ip,
            gateway,
            prefix_len,
            host_veth,
        })
    }

    /// Removes a pod's network: the veth (both ends), the namespace file, the IP lease.
    ///
    /// Idempotent and crash-tolerant: each step runs even if an earlier one
    /// failed, and "already gone" counts as done. Returns the first error.
    pub fn teardown_sandbox(&self, pod_uid: &str) -> Result<(), SandboxError> {
        check_pod_uid(pod_uid)?;
        let host_veth = host_veth_name(pod_uid);
        let host_veth_ref = host_veth.as_str();
        let veth_removed = with_netlink(self.config.node_netns.as_deref(), |handle| async move {
            delete_link(&handle, host_veth_ref).await
        })
        .map_err(SandboxError::from)
        .and_then(|deleted| deleted.map(|_| ()).map_err(SandboxError::from));
        let netns_removed =
            remove_persistent_netns(&self.netns_path(pod_uid)).map_err(SandboxError::from);
        let lease_released = self
            .ipam
            .release(pod_uid)
            .map(|_| ())
            .map_err(SandboxError::from);
        veth_removed.and(netns_removed).and(lease_released)
    }

    /// Pod uids that hold a lease or a namespace file: after an agent restart,
    /// those not among the pods still bound here are torn down.
    pub fn known_sandboxes(&self) -> Result<BTreeSet<String>, SandboxError> {
        let mut uids: BTreeSet<String> = self.ipam.leases()?.into_keys().collect();
        match fs::read_dir(self.config.netns_dir()) {
            Ok(entries) => uids.extend(
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| entry.file_name().into_string().ok()),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(NetnsError::Enter(format!("list namespaces: {e}")).into()),
        }
        Ok(uids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_name_host_veths_deterministically_within_ifnamsiz() {
        let uid = "6f1c1f5e-8f0e-4b5e-9a55-3f5b3b1f2d11";
        let name = host_veth_name(uid);
        assert_eq!(name, host_veth_name(uid));
        assert_eq!(name.len(), MAX_INTERFACE_NAME_LEN);
        assert!(name.starts_with("veth"));
        assert!(name[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(name, host_veth_name("6f1c1f5e-8f0e-4b5e-9a55-3f5b3b1f2d12"));
    }

    #[test]
    fn should_accept_uuids_and_refuse_path_like_uids() {
        assert!(check_pod_uid("6f1c1f5e-8f0e-4b5e-9a55-3f5b3b1f2d11").is_ok());
        for bad in ["", "..", "../etc", "a/b", ".hidden", "a b"] {
            assert!(check_pod_uid(bad).is_err(), "{bad:?}");
        }
    }
}
