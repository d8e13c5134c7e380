//! A revisioned key-value store with etcd's semantics.
//!
//! Every write bumps one global revision. Updates and deletes are compare-and-swap
//! on the key's mod-revision. A watch replays every change after a revision, then
//! follows live changes. Compaction forgets history before a revision; a watch or
//! list from before it fails with [`StoreError::Compacted`].
//!
//! The trait is shaped after etcd's KV and Watch APIs so that an etcd backend is a
//! thin adapter. The embedded backend is [`RedbStore`].

mod codec;
mod redb_store;
mod watch;

pub use redb_store::RedbStore;

use bytes::Bytes;
use futures::stream::BoxStream;

/// A store revision. Like etcd's, it starts at 1 for an empty store and only grows.
pub type Revision = i64;

/// One key as stored, with etcd's revision bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision that created the key (reset when a deleted key is created again).
    pub create_revision: Revision,
    /// The revision of the last write to the key.
    pub mod_revision: Revision,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change, as a watch reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    /// The revision of the change.
    pub revision: Revision,
    /// For a put, the new value. For a delete, the value the key had before it was
    /// deleted, with `mod_revision` set to the delete's revision (as etcd's `prev_kv`).
    pub kv: KeyValue,
    /// The value before this change; `None` when the put created the key.
    pub prev: Option<KeyValue>,
}

/// Where a list starts and how much it returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Read as of this revision; `None` (or, as in etcd, 0 or below) means the current one.
    pub revision: Option<Revision>,
    /// At most this many keys; `None` or 0 means all.
    pub limit: Option<usize>,
    /// Start strictly after this key (a continue token decodes to it).
    pub start_after: Option<String>,
}

/// The answer to a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    /// Keys in ascending order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// Whether more keys follow the last one returned.
    pub more: bool,
}

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A create found the key already present.
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// An update or delete found no such key.
    #[error("key {0} not found")]
    NotFound(String),
    /// A compare-and-swap found another mod-revision; `current` is what is stored now.
    #[error("key {key} was modified: expected revision {expected}, found {}", current.mod_revision)]
    Conflict {
        key: String,
        expected: Revision,
        current: Box<KeyValue>,
    },
    /// The revision asked for has been compacted away.
    #[error("required revision {requested} has been compacted (compacted up to {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The revision asked for is in the future.
    #[error("required revision {requested} is a future revision (current {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// A watcher fell too far behind the live stream and must start again.
    #[error("watcher fell behind and was dropped")]
    WatcherLagged,
    /// The backend failed.
    #[error("failed to access the store: {0}")]
    Backend(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stream of changes, in revision order.
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// A revisioned key-value store with etcd's semantics. Every write is durable
/// (committed and synced) before its future resolves.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current key value, if present.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys starting with `prefix`, in ascending order, at a revision.
    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult>;

    /// Writes `key` only if it is absent.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key` only if its mod-revision is `expected`.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key`, only if its mod-revision is `expected` when that is given.
    /// Returns the value it had, with `mod_revision` set to the delete's revision.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    /// Every change to keys under `prefix` after revision `after`, then live changes.
    /// It needs the change at `after + 1`, so `after < compacted_revision() - 1` fails with
    /// `Compacted` (as etcd, which fails a watch starting below the compacted revision).
    /// A watcher that falls too far behind gets one `WatcherLagged` and its stream ends.
    /// The stream ends when the store is dropped.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Forgets history before `revision`: afterwards a list at a revision below it fails
    /// with `Compacted`, a list at it or later works. Compacting at or below the compacted
    /// revision does nothing; beyond the current revision fails with `FutureRevision`.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The revision of the last write.
    fn current_revision(&self) -> Revision;

    /// The revision of the last compaction (0 if none): the oldest revision a list can
    /// read and the first change a watch can replay.
    fn compacted_revision(&self) -> Revision;
}
