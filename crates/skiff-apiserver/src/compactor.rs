//! Periodic compaction, as kube-apiserver runs it: each interval, forget history
//! older than the revision seen one interval ago, so that a watcher that was
//! connected in between can always resume, and memory and disk stay bounded.

use std::sync::Arc;
use std::time::Duration;

use skiff_store::Store;

/// Compacts `store` every `interval` until the task is dropped.
pub fn spawn(store: Arc<dyn Store>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        let mut seen_last_time = store.current_revision();
        loop {
            ticker.tick().await;
            if seen_last_time > store.compacted_revision() {
                if let Err(error) = store.compact(seen_last_time).await {
                    tracing::warn!(%error, "failed to compact the store");
                }
            }
            seen_last_time = store.current_revision();
        }
    })
}
