//! Netlink effects on links, addresses and routes, each run through a handle opened in the right namespace.
//!
//! These are the kernel steps of the CNI bridge plugin
//! (containernetworking/plugins `plugins/main/bridge/bridge.go`: `ensureBridge`,
//! `setupVeth`, `ensureAddr`) and of `pkg/ip/link_linux.go` (`SetupVeth`), written
//! against `rtnetlink`. Every step tolerates finding its work already done, so a
//! retried or repeated call converges instead of failing.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use futures::TryStreamExt;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use rtnetlink::{
    Handle, LinkBridge, LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

/// Errors of netlink operations.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Listing or looking up a link failed.
    #[error("failed to look up link: {0}")]
    Lookup(String),
    /// Creating a link failed.
    #[error("failed to create link: {0}")]
    Create(String),
    /// Setting a link's state, controller, address or route failed.
    #[error("failed to configure link: {0}")]
    Configure(String),
    /// Deleting a link failed.
    #[error("failed to delete link: {0}")]
    Delete(String),
    /// A link of the bridge's name exists but is something else.
    #[error("failed to use bridge: {0}")]
    NotABridge(String),
}

/// The interface name a pod sees.
pub const POD_INTERFACE: &str = "eth0";

/// The errno a netlink error carries (positive), if any.
fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| -code.get()),
        _ => None,
    }
}

fn is_errno(error: &rtnetlink::Error, wanted: i32) -> bool {
    errno(error) == Some(wanted)
}

/// Finds a link by name; `None` when it does not exist.
pub async fn find_link(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, LinkError> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
        Err(e) => Err(LinkError::Lookup(format!("{name}: {e}"))),
    }
}

/// Names of all links in the handle's namespace.
pub async fn link_names(handle: &Handle) -> Result<Vec<String>, LinkError> {
    let links: Vec<LinkMessage> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| LinkError::Lookup(format!("list links: {e}")))?;
    Ok(links.iter().filter_map(link_name).collect())
}

fn link_name(link: &LinkMessage) -> Option<String> {
    link.attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::IfName(name) => Some(name.clone()),
            _ => None,
        })
}

fn is_bridge(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|attribute| match attribute {
        LinkAttribute::LinkInfo(infos) => infos
            .iter()
            .any(|info| matches!(info, LinkInfo::Kind(InfoKind::Bridge))),
        _ => false,
    })
}

/// A fixed, locally administered MAC derived from the gateway IP (`0a:58:` + the
/// four address bytes, as ovn-kubernetes' `IPAddrToHWAddr`). Without a fixed MAC
/// the kernel gives the bridge the lowest port MAC, which changes as pods come
/// and go and leaves stale gateway entries in pods' ARP caches.
pub fn bridge_mac(gateway: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = gateway.octets();
    [0x0a, 0x58, a, b, c, d]
}

/// Creates the bridge if missing, checks it is a bridge, sets it up with
/// bridge-netfilter on, and gives it the gateway address. Returns its index.
pub async fn ensure_bridge(
    handle: &Handle,
    name: &str,
    gateway: Ipv4Addr,
    prefix_len: u8,
) -> Result<u32, LinkError> {
    if find_link(handle, name).await?.is_none() {
        let create = LinkBridge::new(name)
            .address(bridge_mac(gateway).to_vec())
            .build();
        match handle.link().add(create).execute().await {
            Ok(()) => {}
            Err(e) if is_errno(&e, libc::EEXIST) => {}
            Err(e) => return Err(LinkError::Create(format!("bridge {name}: {e}"))),
        }
    }
    let bridge = find_link(handle, name)
        .await?
        .ok_or_else(|| LinkError::Lookup(format!("bridge {name} vanished after creation")))?;
    if !is_bridge(&bridge) {
        return Err(LinkError::NotABridge(format!(
            "{name} already exists but is not a bridge"
        )));
    }
    let index = bridge.header.index;
    // Per-bridge switch for conntrack on bridged traffic: works even where the
    // global net.bridge.bridge-nf-call-iptables sysctl is missing.
    let settings = LinkMessageBuilder::<LinkBridge>::new(name)
        .index(index)
        .nf_call_iptables(true)
        .up()
        .build();
    handle
        .link()
        .change(settings)
        .execute()
        .await
        .map_err(|e| LinkError::Configure(format!("bridge {name} up: {e}")))?;
    add_address(handle, index, gateway, prefix_len).await?;
    Ok(index)
}

/// Adds an IPv4 address to a link; an address already present is fine.
async fn add_address(
    handle: &Handle,
    index: u32,
    ip: Ipv4Addr,
    prefix_len: u8,
) -> Result<(), LinkError> {
    match handle
        .address()
        .add(index, IpAddr::V4(ip), prefix_len)
        .execute()
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
        Err(e) => Err(LinkError::Configure(format!(
            "address {ip}/{prefix_len}: {e}"
        ))),
    }
}

/// Creates a veth pair whose host end `host_name` stays here, joins the bridge
/// with hairpin on, and comes up; its peer is created directly inside the pod
/// namespace (`pod_netns_fd`) as [`POD_INTERFACE`], so no temporary name is needed.
///
/// A host end left over from an earlier, interrupted attempt is deleted first.
pub async fn create_pod_veth(
    handle: &Handle,
    host_name: &str,
    bridge_index: u32,
    pod_netns_fd: RawFd,
    mtu: u32,
) -> Result<(), LinkError> {
    delete_link(handle, host_name).await?;
    let peer = LinkUnspec::new_with_name(POD_INTERFACE)
        .mtu(mtu)
        .setns_by_fd(pod_netns_fd)
        .build();
    let pair = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(host_name.to_string())
        .mtu(mtu)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    handle.link().add(pair).execute().await.map_err(|e| {
        LinkError::Create(format!("veth {host_name} with peer {POD_INTERFACE}: {e}"))
    })?;
    let host = find_link(handle, host_name)
        .await?
        .ok_or_else(|| LinkError::Lookup(format!("veth {host_name} vanished after creation")))?;
    let index = host.header.index;
    handle
        .link()
        .set(
            LinkUnspec::new_with_index(index)
                .controller(bridge_index)
                .up()
                .build(),
        )
        .execute()
        .await
        .map_err(|e| LinkError::Configure(format!("attach {host_name} to the bridge: {e}")))?;
    // Hairpin lets a pod reach itself through its own Service VIP: the DNAT'd
    // packet must leave by the port it came in on (kubenet sets this too).
    handle
        .link()
        .set_port(LinkBridgePort::new(index).hairpin(true).build())
        .execute()
        .await
        .map_err(|e| LinkError::Configure(format!("hairpin on {host_name}: {e}")))?;
    Ok(())
}

/// Inside the pod namespace: loopback up, the pod address on [`POD_INTERFACE`],
/// the interface up, and the default route via the gateway.
pub async fn configure_pod_interface(
    handle: &Handle,
    ip: Ipv4Addr,
    prefix_len: u8,
    gateway: Ipv4Addr,
) -> Result<(), LinkError> {
    set_up(handle, "lo").await?;
    let index = set_up(handle, POD_INTERFACE).await?;
    add_address(handle, index, ip, prefix_len).await?;
    let default_route = RouteMessageBuilder::<Ipv4Addr>::new()
        .gateway(gateway)
        .output_interface(index)
        .build();
    match handle.route().add(default_route).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, libc::EEXIST) => Ok(()),
        Err(e) => Err(LinkError::Configure(format!(
            "default route via {gateway}: {e}"
        ))),
    }
}

/// Sets a link up by name and returns its index.
async fn set_up(handle: &Handle, name: &str) -> Result<u32, LinkError> {
    let link = find_link(handle, name)
        .await?
        .ok_or_else(|| LinkError::Lookup(format!("{name} does not exist")))?;
    let index = link.header.index;
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| LinkError::Configure(format!("{name} up: {e}")))?;
    Ok(index)
}

/// Deletes a link by name; returns whether there was one. Deleting one end of a
/// veth pair deletes the other.
pub async fn delete_link(handle: &Handle, name: &str) -> Result<bool, LinkError> {
    let Some(link) = find_link(handle, name).await? else {
        return Ok(false);
    };
    match handle.link().del(link.header.index).execute().await {
        Ok(()) => Ok(true),
        Err(e) if is_errno(&e, libc::ENODEV) => Ok(false),
        Err(e) => Err(LinkError::Delete(format!("{name}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_derive_a_locally_administered_bridge_mac_from_the_gateway() {
        let mac = bridge_mac("10.42.3.1".parse().unwrap());
        assert_eq!(mac, [0x0a, 0x58, 10, 42, 3, 1]);
        assert_eq!(mac[0] & 0b10, 0b10, "locally administered");
        assert_eq!(mac[0] & 0b01, 0, "unicast");
    }
}
