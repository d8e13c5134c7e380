//! The scheduler: it watches unscheduled pods and the nodes, filters and scores
//! nodes with pure functions, and binds each pod through `pods/binding`.
//!
//! Modelled on `k8s.io/kubernetes/pkg/scheduler`, simplified:
//! - [`filter`]: NodeUnschedulable, NodeName, TaintToleration (plus not-Ready
//!   nodes), NodeAffinity and NodeResourcesFit;
//! - [`score`]: least allocated and spreading of one owner's pods;
//! - [`message`]: the `0/N nodes are available: …` wording of a pod that fits nowhere;
//! - [`algorithm`]: one decision over the [`cache`], with no I/O;
//! - [`queue`]: active, backoff and unschedulable pods;
//! - [`syncer`]: the watches, the bindings, the conditions and the [`events`].

pub mod algorithm;
pub mod cache;
pub mod events;
pub mod filter;
pub mod message;
pub mod queue;
pub mod resources;
pub mod score;
pub mod syncer;

/// Failures that stop the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scheduler could not talk to the API server.
    #[error("failed to reach the API server: {0}")]
    Api(#[from] kube::Error),
    /// The scheduling loop stopped.
    #[error("failed to keep scheduling: {0}")]
    Syncer(#[from] syncer::Error),
}

/// Schedules pods until it fails.
pub async fn run(client: kube::Client) -> Result<(), Error> {
    syncer::run(client).await?;
    Ok(())
}
