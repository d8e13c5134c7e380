//! Skiff's Kubernetes API server.
//!
//! HTTPS with a cluster CA made at first start and bearer-token authentication;
//! discovery and OpenAPI built from the registry; and one generic handler that
//! serves every resource kind over the revisioned store.

mod codec;
mod compactor;
mod discovery;
mod filter;
mod handler;
mod objects;
mod openapi;
pub mod pki;
mod prepare;
mod request;
mod serve;
mod status;
mod watch_cache;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use skiff_api::registry::{self, Kind};
use skiff_store::Store;

pub use pki::ClusterIdentity;
pub use serve::RunningServer;
pub use status::ApiError;

/// Where and how the API server listens.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: std::net::IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Extra names and addresses the serving certificate must carry.
    pub extra_hosts: Vec<String>,
    /// How often history older than one interval is compacted away.
    pub compaction_interval: std::time::Duration,
}

/// Everything a request handler reads.
pub struct ApiState {
    objects: objects::Objects,
    identity: ClusterIdentity,
    /// The address clients are told to use (`host:port`).
    advertised: String,
}

/// Failures of starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The CA or tokens could not be made or read.
    #[error("failed to prepare the cluster identity: {0}")]
    Pki(#[from] pki::PkiError),
    /// The listening socket could not be opened.
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The TLS configuration was refused.
    #[error("failed to configure TLS: {0}")]
    Tls(String),
    /// The system namespaces could not be written.
    #[error("failed to create the system namespaces: {0}")]
    Bootstrap(ApiError),
}

/// Starts serving and returns once the socket is listening and the system
/// namespaces exist, so that `/readyz` answers 200 from the first request.
pub async fn start(
    config: ServerConfig,
    store: Arc<dyn Store>,
) -> Result<RunningServer, StartError> {
    let mut hosts = config.extra_hosts.clone();
    hosts.push(config.bind.to_string());
    let identity = ClusterIdentity::load_or_create(&config.data_dir, &hosts)?;
    compactor::spawn(store.clone(), config.compaction_interval);
    let objects = objects::Objects::new(store);
    create_system_namespaces(&objects)
        .await
        .map_err(StartError::Bootstrap)?;
    let advertised = format!("{}:{}", config.bind, config.port);
    let state = Arc::new(ApiState {
        objects,
        identity,
        advertised,
    });
    serve::listen(SocketAddr::new(config.bind, config.port), state).await
}

/// The namespaces every cluster starts with.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

async fn create_system_namespaces(objects: &objects::Objects) -> Result<(), ApiError> {
    let rt = registry::of(Kind::Namespace);
    let now = prepare::timestamp(chrono::Utc::now());
    for name in SYSTEM_NAMESPACES {
        let mut namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": name, "labels": {"kubernetes.io/metadata.name": name}}});
        prepare::for_create(rt, &mut namespace, prepare::new_uid(), &now);
        skiff_api::defaults::apply_defaults(Kind::Namespace, &mut namespace);
        match objects.create(rt, &namespace).await {
            Ok(_) => {}
            Err(error) if error.reason == "AlreadyExists" => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// `len` characters drawn from `alphabet`.
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| alphabet[rand::random_range(0..alphabet.len())] as char)
        .collect()
}
