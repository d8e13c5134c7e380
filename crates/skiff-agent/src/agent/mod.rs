//! The agent loop inside `skiff server --agent`: registers this machine as a Node
//! (with a Lease renewed every 10 s) and makes the pods bound to it real.
//!
//! - [`node`]: the Node object and its heartbeat.
//! - [`plan`]: pure decisions for one pod (sandbox, init containers in order, app
//!   containers, restarts per `restartPolicy` with CrashLoopBackOff, deletion) and its phase.
//! - [`sync`]: applies a plan with [`crate::network`], [`crate::image`] and
//!   [`crate::runtime`], and posts the pod's status.
//!
//! Pods are watched with `fieldSelector=spec.nodeName=<node>`; every watch event,
//! and every second regardless, starts a sync round.
//!
//! Not yet: probes (Ready means every container runs), postStart/preStop hooks,
//! volumes, env `valueFrom`, cluster DNS in resolv.conf, adopting containers
//! after an agent restart (they are removed and started again), and a podCIDR
//! allocated by the control plane (see [`node`]).

pub mod node;
pub mod plan;
pub mod sync;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client};

use crate::image::ImageStore;
use crate::network::{NodeNetwork, NodeNetworkConfig};
use crate::runtime::{Runtime, RuntimeConfig};

/// Why the agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid agent configuration: {0}")]
    Config(String),
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error("failed to set up the node network: {0}")]
    Network(String),
}

/// The agent's settings.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub node_name: String,
    pub node_ip: IpAddr,
    /// The server's data directory: `images/` and `agent/` live below it.
    pub data_dir: PathBuf,
    /// The cluster's pod range; this node takes its first /24.
    pub cluster_cidr: String,
}

/// The machine's host name, lowercased: the default node name.
pub fn default_node_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .map(|name| name.to_lowercase())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The address this machine would use to reach the outside (no packet is sent),
/// or 127.0.0.1 when it has no route: the default InternalIP.
pub fn default_node_ip() -> IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("192.0.2.1:9")?;
            socket.local_addr()
        })
        .map(|address| address.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Runs the agent until it fails: node registration and heartbeats, pod sync.
pub async fn run(client: Client, config: AgentConfig) -> Result<(), AgentError> {
    let pod_cidr = node::first_pod_cidr(&config.cluster_cidr)?;
    let agent_dir = config.data_dir.join("agent");
    let network = Arc::new(
        NodeNetwork::new(NodeNetworkConfig::new(pod_cidr, agent_dir.join("network")))
            .map_err(|e| AgentError::Network(e.to_string()))?,
    );
    let setup = network.clone();
    tokio::task::spawn_blocking(move || setup.setup_node())
        .await
        .map_err(|e| AgentError::Network(e.to_string()))?
        .map_err(|e| AgentError::Network(e.to_string()))?;
    let runtime = Runtime::new(RuntimeConfig::new(agent_dir.join("runtime")))?;
    // Containers of a previous agent are not adopted yet: remove them.
    for leftover in runtime.adopt().await? {
        if let Err(error) = runtime.delete(&leftover.id).await {
            tracing::warn!(container = %leftover.id, %error, "removing a leftover container");
        }
    }
    let images = ImageStore::open(&config.data_dir.join("images"))?;
    tracing::info!(node = %config.node_name, ip = %config.node_ip, pod_cidr = %format!("{}/{}", pod_cidr.network(), pod_cidr.prefix_len()), "agent starting");
    tokio::spawn(node::run(
        client.clone(),
        config.node_name.clone(),
        config.node_ip,
        pod_cidr,
    ));

    let syncer = Arc::new(sync::Syncer::new(
        client.clone(),
        config.node_name.clone(),
        config.node_ip,
        runtime,
        images,
        network,
        agent_dir.join("pods"),
        agent_dir.join("logs"),
    ));
    let (reader, writer) = reflector::store::<Pod>();
    let pods: Api<Pod> = Api::all(client);
    let selector = format!("spec.nodeName={}", config.node_name);
    let stream = reflector(
        writer,
        watcher(pods, watcher::Config::default().fields(&selector)),
    )
    .default_backoff();
    let changed = Arc::new(tokio::sync::Notify::new());
    let notify = changed.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Err(error) = event {
                tracing::warn!(%error, "pod watch failed; retrying");
            }
            notify.notify_one();
        }
    });
    loop {
        tokio::select! {
            _ = changed.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        syncer.sync_all(reader.state());
    }
}
