//! The embedded backend: one redb file.
//!
//! Three tables:
//! - `kv`: key -> the current value with its create and mod revisions;
//! - `log`: revision -> the change made at that revision, with the key's previous value.
//!   A watch replays it; a list at an older revision undoes the changes made since;
//! - `meta`: the current and the compacted revision.
//!
//! Writes are group-committed: writes that arrive while a commit is under way wait in
//! `pending`, and the next commit applies all of them in one redb write transaction with
//! immediate durability, so many writers share one fsync (etcd batches the same way).
//! Each write still gets its own revision and its own compare-and-swap check; one that
//! fails its check fails alone. The committer holds `writer` from the start of its
//! transaction until its events are broadcast, so live events go out in revision order.
//! redb calls block, so they run on `spawn_blocking`.
//!
//! Compaction follows etcd: after `compact(rev)` the log keeps the changes at `rev` and
//! later. A list at a revision below `rev` fails with `Compacted`, a list at `rev` or
//! later works. A watch needs the changes after `after`, so it works when
//! `after >= rev - 1` and fails below that.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use redb::{
    Database, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, Table,
    TableDefinition, WriteTransaction,
};
use tokio::sync::{broadcast, oneshot};

use crate::{
    codec, watch, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, Store,
    StoreError, WatchEvent, WatchStream,
};

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const LOG: TableDefinition<Revision, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, Revision> = TableDefinition::new("meta");

const REVISION: &str = "revision";
const COMPACTED: &str = "compacted";

/// How many live events a watcher may fall behind before it is dropped with
/// `WatcherLagged`. Writes are fsync-bound, so this covers seconds of bursts.
const WATCH_BUFFER: usize = 4096;

/// A [`Store`] kept in one redb file.
pub struct RedbStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    db: Database,
    /// Orders commits with their broadcast (redb alone orders only the commits).
    writer: Mutex<()>,
    /// Writes waiting for the next group commit.
    pending: Mutex<PendingWrites>,
    revision: AtomicI64,
    compacted: AtomicI64,
    events: broadcast::Sender<Arc<WatchEvent>>,
}

/// One step of a watch's replay.
pub(crate) struct Replay {
    /// The events under the prefix among the entries read.
    pub(crate) events: Vec<WatchEvent>,
    /// The revision of the last entry read (the start when none was).
    pub(crate) scanned_to: Revision,
    /// The snapshot's revision, when this step read the log to its end.
    pub(crate) caught_up_at: Option<Revision>,
}

/// Writes waiting to be committed, and whether a committer is already running.
#[derive(Default)]
struct PendingWrites {
    writes: Vec<PendingWrite>,
    committing: bool,
}

/// One write waiting for a group commit, and where its answer goes.
struct PendingWrite {
    key: String,
    change: Change,
    reply: oneshot::Sender<Result<KeyValue>>,
}

/// Lets the next writer start a committer if this one panicked; otherwise every
/// later write would wait for a committer that is gone.
struct ResetCommittingOnPanic<'a>(&'a Mutex<PendingWrites>);

impl Drop for ResetCommittingOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .committing = false;
        }
    }
}

/// The most writes one transaction takes, so one commit's latency stays bounded.
const MAX_BATCH: usize = 512;

/// A write, checked against the key's current value inside the write transaction.
enum Change {
    Create(Bytes),
    Update(Bytes, Revision),
    Delete(Option<Revision>),
}

impl RedbStore {
    /// Opens the store at `path`, creating the file if it is absent. A reopened store keeps
    /// its keys, revision and history. This blocks on file I/O; call it at startup.
    pub fn open(path: &Path) -> Result<Arc<RedbStore>> {
        Self::open_with_watch_buffer(path, WATCH_BUFFER)
    }

    fn open_with_watch_buffer(path: &Path, watch_buffer: usize) -> Result<Arc<RedbStore>> {
        let db = Database::create(path).map_err(failed(&format!("open {}", path.display())))?;
        let txn = begin_write(&db)?;
        let (revision, compacted) = {
            // Creating every table here lets readers assume they exist.
            open_write(&txn, KV)?;
            open_write(&txn, LOG)?;
            let mut meta = open_write(&txn, META)?;
            // Like etcd, an empty store is at revision 1 and nothing is compacted.
            (
                init_meta(&mut meta, REVISION, 1)?,
                init_meta(&mut meta, COMPACTED, 0)?,
            )
        };
        commit(txn)?;
        let (events, _) = broadcast::channel(watch_buffer);
        Ok(Arc::new(RedbStore {
            inner: Arc::new(Inner {
                db,
                writer: Mutex::new(()),
                pending: Mutex::new(PendingWrites::default()),
                revision: AtomicI64::new(revision),
                compacted: AtomicI64::new(compacted),
                events,
            }),
        }))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        run_blocking(self.inner.clone(), f).await
    }

    /// Queues a write for the next group commit and waits for its answer. The first
    /// writer to find no commit under way starts the committer.
    async fn write(&self, key: &str, change: Change) -> Result<KeyValue> {
        let (reply, answer) = oneshot::channel();
        let start_committer = {
            let mut pending = self
                .inner
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            pending.writes.push(PendingWrite {
                key: key.to_string(),
                change,
                reply,
            });
            !std::mem::replace(&mut pending.committing, true)
        };
        if start_committer {
            let inner = self.inner.clone();
            tokio::task::spawn_blocking(move || inner.commit_pending());
        }
        answer.await.map_err(failed("wait for a commit"))?
    }
}

/// Runs `f` on a blocking thread; a panic there becomes a `Backend` error.
pub(crate) async fn run_blocking<T: Send + 'static>(
    inner: Arc<Inner>,
    f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(move || f(&inner))
        .await
        .map_err(failed("run a store task"))?
}

impl Inner {
    fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let txn = self.begin_read()?;
        read_kv(&open_read(&txn, KV)?, key)
    }

    fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListResult> {
        let txn = self.begin_read()?;
        let (current, compacted) = read_revisions(&txn)?;
        // Like etcd, a revision of 0 or below means the current one.
        let at = options.revision.filter(|&r| r > 0).unwrap_or(current);
        if at > current {
            return Err(StoreError::FutureRevision {
                requested: at,
                current,
            });
        }
        if at < compacted {
            return Err(StoreError::Compacted {
                requested: at,
                compacted,
            });
        }
        let before = if at < current {
            values_before_changes(&open_read(&txn, LOG)?, prefix, at)?
        } else {
            BTreeMap::new()
        };

        let lower = match options.start_after.as_deref() {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let kv = open_read(&txn, KV)?;
        // Keys changed since `at` come from `before`; the others are as they are now.
        let unchanged = kv
            .range::<&str>((lower, Bound::Unbounded))
            .map_err(failed("list keys"))?
            .map(|entry| entry.map_err(failed("list keys")))
            .take_while(|entry| {
                entry
                    .as_ref()
                    .map_or(true, |(k, _)| k.value().starts_with(prefix))
            })
            .filter(|entry| {
                entry
                    .as_ref()
                    .map_or(true, |(k, _)| !before.contains_key(k.value()))
            })
            .map(|entry| entry.and_then(|(k, v)| codec::decode_kv(k.value(), v.value())));
        let changed = before
            .range::<str, _>((lower, Bound::Unbounded))
            .filter_map(|(_, kv)| kv.clone());

        let limit = options.limit.filter(|&l| l > 0);
        // One key past the limit tells whether there are more.
        let want = limit.map_or(usize::MAX, |l| l.saturating_add(1));
        let mut items = merge_sorted(unchanged, changed, want)?;
        let more = limit.is_some_and(|l| items.len() > l);
        if let Some(limit) = limit {
            items.truncate(limit);
        }
        Ok(ListResult {
            items,
            revision: at,
            more,
        })
    }

    /// Commits queued writes, a batch at a time, until none are left.
    fn commit_pending(&self) {
        let _reset = ResetCommittingOnPanic(&self.pending);
        loop {
            let batch = {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                if pending.writes.is_empty() {
                    pending.committing = false;
                    return;
                }
                let take = pending.writes.len().min(MAX_BATCH);
                pending.writes.drain(..take).collect::<Vec<_>>()
            };
            self.commit_batch(batch);
        }
    }

    /// Applies `batch` in one transaction, each write at its own revision, then
    /// answers every writer: its new value, its own check's failure, or the commit's.
    fn commit_batch(&self, batch: Vec<PendingWrite>) {
        let _writer = self.lock_writer();
        let mut outcomes: Vec<(oneshot::Sender<Result<KeyValue>>, Result<WatchEvent>)> =
            Vec::with_capacity(batch.len());
        let committed = (|| -> Result<()> {
            let txn = begin_write(&self.db)?;
            {
                let mut kv = open_write(&txn, KV)?;
                let mut log = open_write(&txn, LOG)?;
                let mut meta = open_write(&txn, META)?;
                let mut revision = read_meta(&meta, REVISION)?;
                for PendingWrite { key, change, reply } in batch {
                    let next = revision
                        .checked_add(1)
                        .ok_or_else(|| StoreError::Backend("the revision overflowed".into()))?;
                    let event = match change.apply(read_kv(&kv, &key)?, &key, next) {
                        Ok(event) => event,
                        Err(refused) => {
                            outcomes.push((reply, Err(refused)));
                            continue;
                        }
                    };
                    match event.kind {
                        EventKind::Put => kv
                            .insert(key.as_str(), codec::encode_kv(&event.kv).as_slice())
                            .map(drop),
                        EventKind::Delete => kv.remove(key.as_str()).map(drop),
                    }
                    .map_err(failed("write a key"))?;
                    log.insert(next, codec::encode_event(&event).as_slice())
                        .map_err(failed("append to the log"))?;
                    revision = next;
                    outcomes.push((reply, Ok(event)));
                }
                meta.insert(REVISION, revision)
                    .map_err(failed("write the revision"))?;
            }
            commit(txn)
        })();
        if let Err(error) = committed {
            // Nothing of this batch was written: every writer in it hears why.
            let message = error.to_string();
            for (reply, outcome) in outcomes {
                let _ = reply.send(outcome.and(Err(StoreError::Backend(message.clone()))));
            }
            return;
        }
        for (reply, outcome) in outcomes {
            let answer = outcome.map(|event| {
                self.revision.store(event.revision, Ordering::SeqCst);
                let kv = event.kv.clone();
                // Nobody listening is not an error.
                let _ = self.events.send(Arc::new(event));
                kv
            });
            let _ = reply.send(answer);
        }
    }

    fn compact(&self, revision: Revision) -> Result<()> {
        let _writer = self.lock_writer();
        let txn = begin_write(&self.db)?;
        {
            let mut meta = open_write(&txn, META)?;
            let current = read_meta(&meta, REVISION)?;
            if revision > current {
                return Err(StoreError::FutureRevision {
                    requested: revision,
                    current,
                });
            }
            // Compacting again at or below the compacted revision changes nothing.
            if revision <= read_meta(&meta, COMPACTED)? {
                return Ok(());
            }
            open_write(&txn, LOG)?
                .retain_in(..revision, |_, _| false)
                .map_err(failed("compact the log"))?;
            meta.insert(COMPACTED, revision)
                .map_err(failed("write the compacted revision"))?;
        }
        commit(txn)?;
        self.compacted.store(revision, Ordering::SeqCst);
        tracing::debug!(revision, "compacted the store history");
        Ok(())
    }

    /// Reads up to `max` log entries after `after` and keeps those under `prefix`.
    pub(crate) fn replay(&self, prefix: &str, after: Revision, max: usize) -> Result<Replay> {
        let txn = self.begin_read()?;
        let (current, compacted) = read_revisions(&txn)?;
        // Checked on every step: a compaction may run between two steps.
        check_watch_start(after, compacted)?;
        let mut events = Vec::new();
        let mut scanned = 0;
        let mut scanned_to = after;
        let log = open_read(&txn, LOG)?;
        let entries = log
            .range::<Revision>((Bound::Excluded(after), Bound::Unbounded))
            .map_err(failed("read the log"))?;
        for entry in entries.take(max) {
            let (revision, bytes) = entry.map_err(failed("read the log"))?;
            scanned += 1;
            scanned_to = revision.value();
            events.extend(codec::decode_event(scanned_to, bytes.value(), prefix)?);
        }
        Ok(Replay {
            events,
            scanned_to,
            caught_up_at: (scanned < max).then_some(current),
        })
    }

    fn begin_read(&self) -> Result<ReadTransaction> {
        self.db
            .begin_read()
            .map_err(failed("begin a read transaction"))
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data, only ordering, so a poisoned one is still usable.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Change {
    /// Checks the change against the key's current value `prev` and returns the event it
    /// makes at `revision`.
    fn apply(self, prev: Option<KeyValue>, key: &str, revision: Revision) -> Result<WatchEvent> {
        let kind = match self {
            Change::Delete(_) => EventKind::Delete,
            Change::Create(_) | Change::Update(..) => EventKind::Put,
        };
        let kv = match (self, &prev) {
            (Change::Create(_), Some(_)) => return Err(StoreError::AlreadyExists(key.to_string())),
            (Change::Create(value), None) => KeyValue {
                key: key.to_string(),
                value,
                create_revision: revision,
                mod_revision: revision,
            },
            (_, None) => return Err(StoreError::NotFound(key.to_string())),
            (Change::Update(_, expected) | Change::Delete(Some(expected)), Some(current))
                if current.mod_revision != expected =>
            {
                return Err(StoreError::Conflict {
                    key: key.to_string(),
                    expected,
                    current: Box::new(current.clone()),
                })
            }
            (Change::Update(value, _), Some(current)) => KeyValue {
                value,
                mod_revision: revision,
                ..current.clone()
            },
            (Change::Delete(_), Some(current)) => KeyValue {
                mod_revision: revision,
                ..current.clone()
            },
        };
        Ok(WatchEvent {
            kind,
            revision,
            kv,
            prev,
        })
    }
}

#[async_trait::async_trait]
impl Store for RedbStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_string();
        self.blocking(move |inner| inner.get(&key)).await
    }

    async fn list(&self, prefix: &str, options: ListOptions) -> Result<ListResult> {
        let prefix = prefix.to_string();
        self.blocking(move |inner| inner.list(&prefix, &options))
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        self.write(key, Change::Create(value)).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        self.write(key, Change::Update(value, expected)).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        self.write(key, Change::Delete(expected)).await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        // Nothing happened before revision 1, so an earlier start is the same as 0.
        let after = after.max(0);
        // Subscribe before reading the log so no commit falls between replay and live.
        let live = self.inner.events.subscribe();
        let prefix = prefix.to_string();
        let first = {
            let prefix = prefix.clone();
            self.blocking(move |inner| inner.replay(&prefix, after, watch::REPLAY_BATCH))
                .await?
        };
        Ok(watch::stream(
            Arc::downgrade(&self.inner),
            prefix,
            live,
            after,
            first,
        ))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.blocking(move |inner| inner.compact(revision)).await
    }

    fn current_revision(&self) -> Revision {
        self.inner.revision.load(Ordering::SeqCst)
    }

    fn compacted_revision(&self) -> Revision {
        self.inner.compacted.load(Ordering::SeqCst)
    }
}

/// A watch needs every change after `after`; those before `compacted` are gone.
fn check_watch_start(after: Revision, compacted: Revision) -> Result<()> {
    if after < compacted.saturating_sub(1) {
        return Err(StoreError::Compacted {
            requested: after,
            compacted,
        });
    }
    Ok(())
}

/// For each key under `prefix` changed after `at`, the value it had at `at` (`None` when
/// absent then). The first change after `at` recorded that value as its `prev`.
fn values_before_changes(
    log: &ReadOnlyTable<Revision, &[u8]>,
    prefix: &str,
    at: Revision,
) -> Result<BTreeMap<String, Option<KeyValue>>> {
    let mut before = BTreeMap::new();
    let entries = log
        .range::<Revision>((Bound::Excluded(at), Bound::Unbounded))
        .map_err(failed("read the log"))?;
    for entry in entries {
        let (revision, bytes) = entry.map_err(failed("read the log"))?;
        if let Some(event) = codec::decode_event(revision.value(), bytes.value(), prefix)? {
            before.entry(event.kv.key).or_insert(event.prev);
        }
    }
    Ok(before)
}

/// Merges two key-ordered sequences with distinct keys, up to `want` items.
fn merge_sorted(
    mut a: impl Iterator<Item = Result<KeyValue>>,
    mut b: impl Iterator<Item = KeyValue>,
    want: usize,
) -> Result<Vec<KeyValue>> {
    let mut items = Vec::new();
    let mut next_a = a.next().transpose()?;
    let mut next_b = b.next();
    while items.len() < want {
        let take_a = match (&next_a, &next_b) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(x), Some(y)) => x.key < y.key,
        };
        let item = if take_a {
            std::mem::replace(&mut next_a, a.next().transpose()?)
        } else {
            std::mem::replace(&mut next_b, b.next())
        };
        items.extend(item);
    }
    Ok(items)
}

fn read_kv(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<KeyValue>> {
    let value = table.get(key).map_err(failed("read a key"))?;
    value.map(|v| codec::decode_kv(key, v.value())).transpose()
}

fn read_revisions(txn: &ReadTransaction) -> Result<(Revision, Revision)> {
    let meta = open_read(txn, META)?;
    Ok((read_meta(&meta, REVISION)?, read_meta(&meta, COMPACTED)?))
}

fn read_meta(table: &impl ReadableTable<&'static str, Revision>, name: &str) -> Result<Revision> {
    table
        .get(name)
        .map_err(failed("read the meta table"))?
        .map(|v| v.value())
        .ok_or_else(|| StoreError::Backend(format!("the meta table has no {name} revision")))
}

/// Reads a meta revision, writing `initial` when it is absent (a new store).
fn init_meta(
    table: &mut Table<&'static str, Revision>,
    name: &str,
    initial: Revision,
) -> Result<Revision> {
    if let Some(value) = table.get(name).map_err(failed("read the meta table"))? {
        return Ok(value.value());
    }
    table
        .insert(name, initial)
        .map_err(failed("write the meta table"))?;
    Ok(initial)
}

fn begin_write(db: &Database) -> Result<WriteTransaction> {
    let mut txn = db
        .begin_write()
        .map_err(failed("begin a write transaction"))?;
    // The default already, but durability before returning is the contract.
    txn.set_durability(Durability::Immediate)
        .map_err(failed("set the write durability"))?;
    Ok(txn)
}

fn commit(txn: WriteTransaction) -> Result<()> {
    txn.commit().map_err(failed("commit a write"))
}

fn open_write<'txn, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &'txn WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<Table<'txn, K, V>> {
    txn.open_table(table).map_err(|e| open_failed(table, e))
}

fn open_read<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<K, V>,
) -> Result<ReadOnlyTable<K, V>> {
    txn.open_table(table).map_err(|e| open_failed(table, e))
}

fn open_failed(table: impl Display, e: impl Display) -> StoreError {
    StoreError::Backend(format!("failed to open the {table} table: {e}"))
}

/// Maps a redb (or task) error into `Backend("failed to {what}: {e}")`.
fn failed<E: Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Backend(format!("failed to {what}: {e}"))
}

#[cfg(test)]
mod tests;
