//! The control loops that run inside `skiff server`. Each is an API client: it
//! watches through reflector caches, computes its plan with a pure function, and
//! applies the plan in one place.
//!
//! Shared by the loops: [`claim`] (controller references and which controller a
//! child's change concerns), [`syncer`] and [`backoff`] (the applier-driven
//! ReplicaSet and Deployment syncers), [`work_queue`] (the queue-driven garbage
//! collector, namespace and node lifecycle loops) and [`api_error`].

pub mod api_error;
pub mod backoff;
pub mod claim;
pub mod deployment;
pub mod events;
pub mod garbage_collector;
pub mod namespace;
pub mod node_lifecycle;
pub mod replicaset;
pub mod syncer;
pub mod work_queue;

use std::time::Duration;

/// Settings shared by the loops; the defaults are Kubernetes'.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a node may go without renewing its Lease before it is NotReady (40 s).
    pub node_monitor_grace_period: Duration,
    /// The `tolerationSeconds` given to pods for the not-ready and unreachable taints (300 s).
    pub default_toleration_seconds: i64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            node_monitor_grace_period: Duration::from_secs(40),
            default_toleration_seconds: 300,
        }
    }
}

/// Failures that stop the controllers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A loop could not talk to the API server.
    #[error("failed to reach the API server: {0}")]
    Api(#[from] kube::Error),
}

/// Runs every loop until one fails.
pub async fn run(client: kube::Client, options: Options) -> Result<(), Error> {
    tokio::try_join!(
        replicaset::run(client.clone()),
        deployment::run(client.clone()),
        garbage_collector::run(client.clone()),
        namespace::run(client.clone()),
        node_lifecycle::run(client.clone(), options.clone()),
    )?;
    Ok(())
}
