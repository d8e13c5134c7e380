//! The watch stream of the embedded store: replay from the log, then live events.
//!
//! The caller subscribes to the live broadcast before the first replay batch is read, so
//! every commit is either in a replayed snapshot or arrives live (or both). Live events at
//! or below the last replayed snapshot's revision were already replayed and are skipped,
//! which leaves neither a gap nor a duplicate.
//!
//! The stream holds only a weak reference to the store: once the store is dropped, the
//! broadcast closes and the stream ends.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use futures::StreamExt;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::redb_store::{run_blocking, Inner, Replay};
use crate::{Revision, StoreError, WatchEvent, WatchStream};

/// How many log entries one blocking replay step reads. Bounds both the time a blocking
/// thread is held and the memory a replay buffers.
pub(crate) const REPLAY_BATCH: usize = 512;

/// Builds the stream from the live subscription and the first replay batch, which
/// `watch` reads itself so that a compacted start fails the call rather than the stream.
pub(crate) fn stream(
    store: Weak<Inner>,
    prefix: String,
    live: broadcast::Receiver<Arc<WatchEvent>>,
    after: Revision,
    first: Replay,
) -> WatchStream {
    let mut watch = Watch {
        store,
        prefix,
        live,
        pending: VecDeque::new(),
        phase: Phase::Replay { after },
    };
    watch.absorb(after, first);
    futures::stream::unfold(watch, Watch::next).boxed()
}

struct Watch {
    store: Weak<Inner>,
    prefix: String,
    live: broadcast::Receiver<Arc<WatchEvent>>,
    /// Replayed events not yet yielded.
    pending: VecDeque<WatchEvent>,
    phase: Phase,
}

enum Phase {
    /// Reading the log for events after `after`.
    Replay { after: Revision },
    /// Following the broadcast; events at or below `after` were replayed already.
    Live { after: Revision },
    /// An error was yielded; nothing follows it.
    Done,
}

impl Watch {
    fn absorb(&mut self, after: Revision, replay: Replay) {
        self.pending.extend(replay.events);
        self.phase = match replay.caught_up_at {
            // `after` may be ahead of the store when a client watches from the future.
            Some(revision) => Phase::Live {
                after: revision.max(after),
            },
            None => Phase::Replay {
                after: replay.scanned_to,
            },
        };
    }

    async fn next(mut self) -> Option<(Result<WatchEvent, StoreError>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            match self.phase {
                Phase::Done => return None,
                Phase::Replay { after } => {
                    let store = self.store.upgrade()?;
                    let prefix = self.prefix.clone();
                    let replay = run_blocking(store, move |inner| {
                        inner.replay(&prefix, after, REPLAY_BATCH)
                    })
                    .await;
                    match replay {
                        Ok(replay) => self.absorb(after, replay),
                        Err(e) => return self.fail(e),
                    }
                }
                Phase::Live { after } => match self.live.recv().await {
                    Ok(event)
                        if event.revision > after && event.kv.key.starts_with(&self.prefix) =>
                    {
                        return Some((Ok(WatchEvent::clone(&event)), self));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return self.fail(StoreError::WatcherLagged),
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    fn fail(mut self, error: StoreError) -> Option<(Result<WatchEvent, StoreError>, Self)> {
        self.phase = Phase::Done;
        Some((Err(error), self))
    }
}
