//! Tests of the redb backend: revisions, compare-and-swap, lists at a revision,
//! watches, compaction, group commit and reopening.

use std::time::Duration;

use futures::StreamExt;

use super::*;

fn open_temp() -> (tempfile::TempDir, Arc<RedbStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(&dir.path().join("store.redb")).unwrap();
    (dir, store)
}

fn value(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(stream: &mut WatchStream) -> Option<Result<WatchEvent>> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the watch produced nothing within 5s")
}

fn keys(result: &ListResult) -> Vec<&str> {
    result.items.iter().map(|kv| kv.key.as_str()).collect()
}

async fn list_at(store: &RedbStore, prefix: &str, revision: Revision) -> Result<ListResult> {
    let options = ListOptions {
        revision: Some(revision),
        ..Default::default()
    };
    store.list(prefix, options).await
}

#[tokio::test]
async fn should_start_empty_at_revision_one() {
    let (_dir, store) = open_temp();
    assert_eq!(store.current_revision(), 1);
    assert_eq!(store.compacted_revision(), 0);
    assert_eq!(store.get("/a").await.unwrap(), None);
    let listed = store.list("/", ListOptions::default()).await.unwrap();
    assert_eq!(
        (listed.items.len(), listed.revision, listed.more),
        (0, 1, false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn should_give_concurrent_writes_their_own_revisions_and_checks() {
    let (_dir, store) = open_temp();
    let start = store.current_revision();
    let mut writers = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            store.create(&format!("/k/{i}"), value("v")).await
        }));
    }
    // A stale update among them fails alone.
    let stale = store.update("/k/0", value("x"), 1).await;
    let mut revisions = Vec::new();
    for writer in writers {
        revisions.push(writer.await.unwrap().unwrap().mod_revision);
    }
    revisions.sort();
    assert_eq!(revisions, (start + 1..=start + 64).collect::<Vec<_>>());
    assert_eq!(revisions.len(), 64);
    assert!(matches!(
        stale,
        Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.current_revision(), start + 64);
}

#[tokio::test]
async fn should_create_and_get_a_key() {
    let (_dir, store) = open_temp();
    let created = store.create("/a", value("one")).await.unwrap();
    assert_eq!(
        created,
        KeyValue {
            key: "/a".into(),
            value: value("one"),
            create_revision: 2,
            mod_revision: 2,
        }
    );
    assert_eq!(store.get("/a").await.unwrap(), Some(created));
}

#[tokio::test]
async fn should_reject_creating_an_existing_key() {
    let (_dir, store) = open_temp();
    store.create("/a", value("one")).await.unwrap();
    let err = store.create("/a", value("two")).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(key) if key == "/a"));
    assert_eq!(store.get("/a").await.unwrap().unwrap().value, value("one"));
}

#[tokio::test]
async fn should_reject_a_stale_update() {
    let (_dir, store) = open_temp();
    let created = store.create("/a", value("one")).await.unwrap();
    let updated = store
        .update("/a", value("two"), created.mod_revision)
        .await
        .unwrap();
    assert_eq!((updated.create_revision, updated.mod_revision), (2, 3));

    let err = store
        .update("/a", value("three"), created.mod_revision)
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict {
            key,
            expected,
            current,
        } => {
            assert_eq!((key.as_str(), expected), ("/a", 2));
            assert_eq!(*current, updated);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.get("/a").await.unwrap(), Some(updated));
}

#[tokio::test]
async fn should_reject_updating_a_missing_key() {
    let (_dir, store) = open_temp();
    let err = store.update("/a", value("one"), 1).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(key) if key == "/a"));
}

#[tokio::test]
async fn should_delete_only_at_the_expected_revision() {
    let (_dir, store) = open_temp();
    let created = store.create("/a", value("one")).await.unwrap();
    let err = store.delete("/a", Some(99)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 99, .. }));

    let deleted = store
        .delete("/a", Some(created.mod_revision))
        .await
        .unwrap();
    assert_eq!(
        deleted,
        KeyValue {
            mod_revision: 3,
            ..created
        }
    );
    assert_eq!(store.get("/a").await.unwrap(), None);
    let err = store.delete("/a", None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)));
}

#[tokio::test]
async fn should_delete_unconditionally_without_an_expected_revision() {
    let (_dir, store) = open_temp();
    store.create("/a", value("one")).await.unwrap();
    store.update("/a", value("two"), 2).await.unwrap();
    let deleted = store.delete("/a", None).await.unwrap();
    assert_eq!(
        (deleted.value, deleted.create_revision, deleted.mod_revision),
        (value("two"), 2, 4)
    );
}

#[tokio::test]
async fn should_bump_the_revision_by_one_per_write_only() {
    let (_dir, store) = open_temp();
    store.create("/a", value("1")).await.unwrap();
    assert_eq!(store.current_revision(), 2);
    store.create("/a", value("1")).await.unwrap_err();
    store.update("/a", value("2"), 7).await.unwrap_err();
    assert_eq!(store.current_revision(), 2);
    store.update("/a", value("2"), 2).await.unwrap();
    store.create("/b", value("1")).await.unwrap();
    store.delete("/a", None).await.unwrap();
    assert_eq!(store.current_revision(), 5);
    // A key created again gets a new create revision.
    assert_eq!(
        store
            .create("/a", value("3"))
            .await
            .unwrap()
            .create_revision,
        6
    );
}

#[tokio::test]
async fn should_page_a_list_with_limit_and_start_after() {
    let (_dir, store) = open_temp();
    for key in ["/a/3", "/a/1", "/b/1", "/a/5", "/ab", "/a/2", "/a/4", "/a"] {
        store.create(key, value(key)).await.unwrap();
    }
    let page = |limit, start_after: Option<&str>| ListOptions {
        revision: None,
        limit: Some(limit),
        start_after: start_after.map(String::from),
    };

    let first = store.list("/a/", page(2, None)).await.unwrap();
    assert_eq!(
        (keys(&first), first.more, first.revision),
        (vec!["/a/1", "/a/2"], true, 9)
    );
    let second = store.list("/a/", page(2, Some("/a/2"))).await.unwrap();
    assert_eq!((keys(&second), second.more), (vec!["/a/3", "/a/4"], true));
    let last = store.list("/a/", page(2, Some("/a/4"))).await.unwrap();
    assert_eq!((keys(&last), last.more), (vec!["/a/5"], false));
    let exact = store.list("/a/", page(5, None)).await.unwrap();
    assert_eq!((exact.items.len(), exact.more), (5, false));
    let all = store.list("/a/", page(0, Some("/"))).await.unwrap();
    assert_eq!((all.items.len(), all.more), (5, false));
    let past = store.list("/a/", page(2, Some("/b"))).await.unwrap();
    assert_eq!((past.items.len(), past.more), (0, false));
}

#[tokio::test]
async fn should_list_an_old_revision_as_it_was() {
    let (_dir, store) = open_temp();
    store.create("/a/1", value("v1")).await.unwrap(); // 2
    store.create("/a/2", value("v1")).await.unwrap(); // 3
    store.update("/a/1", value("v2"), 2).await.unwrap(); // 4
    store.delete("/a/2", None).await.unwrap(); // 5
    store.create("/a/3", value("v1")).await.unwrap(); // 6
    store.create("/b/1", value("v1")).await.unwrap(); // 7

    let at3 = list_at(&store, "/a/", 3).await.unwrap();
    assert_eq!(at3.revision, 3);
    assert_eq!(keys(&at3), vec!["/a/1", "/a/2"]);
    assert_eq!(
        (at3.items[0].value.clone(), at3.items[0].mod_revision),
        (value("v1"), 2)
    );
    let at4 = list_at(&store, "/a/", 4).await.unwrap();
    assert_eq!(keys(&at4), vec!["/a/1", "/a/2"]);
    assert_eq!(
        (at4.items[0].value.clone(), at4.items[0].mod_revision),
        (value("v2"), 4)
    );
    assert_eq!(
        keys(&list_at(&store, "/a/", 5).await.unwrap()),
        vec!["/a/1"]
    );
    assert_eq!(
        keys(&list_at(&store, "/a/", 2).await.unwrap()),
        vec!["/a/1"]
    );
    assert_eq!(
        keys(&list_at(&store, "/a/", 1).await.unwrap()),
        Vec::<&str>::new()
    );
    assert_eq!(
        keys(&list_at(&store, "/", 6).await.unwrap()),
        vec!["/a/1", "/a/3"]
    );

    let paged = ListOptions {
        revision: Some(3),
        limit: Some(1),
        start_after: Some("/a/1".into()),
    };
    let paged = store.list("/a/", paged).await.unwrap();
    assert_eq!((keys(&paged), paged.more), (vec!["/a/2"], false));
    let first = ListOptions {
        revision: Some(4),
        limit: Some(1),
        start_after: None,
    };
    let first = store.list("/a/", first).await.unwrap();
    assert_eq!((keys(&first), first.more), (vec!["/a/1"], true));
}

#[tokio::test]
async fn should_reject_a_list_at_a_future_revision() {
    let (_dir, store) = open_temp();
    store.create("/a", value("1")).await.unwrap();
    let err = list_at(&store, "/", 3).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::FutureRevision {
            requested: 3,
            current: 2
        }
    ));
}

#[tokio::test]
async fn should_replay_then_follow_live_without_gap_or_duplicate() {
    let (_dir, store) = open_temp();
    for i in 0..600 {
        store.create(&format!("/a/{i}"), value("v")).await.unwrap();
    }
    // Writes race the watch's replay, across more than one replay batch.
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 600..700 {
                store.create(&format!("/a/{i}"), value("v")).await.unwrap();
            }
        })
    };
    let mut stream = store.watch("/a/", 0).await.unwrap();
    for expected in 2..=701 {
        let event = next_event(&mut stream).await.unwrap().unwrap();
        assert_eq!(event.revision, expected);
        assert_eq!(event.kind, EventKind::Put);
    }
    writer.await.unwrap();
    store.create("/a/last", value("v")).await.unwrap();
    assert_eq!(
        next_event(&mut stream).await.unwrap().unwrap().revision,
        702
    );
}

#[tokio::test]
async fn should_watch_only_keys_under_the_prefix() {
    let (_dir, store) = open_temp();
    store.create("/a/1", value("v")).await.unwrap(); // 2
    store.create("/b/1", value("v")).await.unwrap(); // 3
    let mut stream = store.watch("/a/", 1).await.unwrap();
    store.create("/ab", value("v")).await.unwrap(); // 4
    store.update("/a/1", value("w"), 2).await.unwrap(); // 5
    store.delete("/a/1", None).await.unwrap(); // 6

    let replayed = next_event(&mut stream).await.unwrap().unwrap();
    assert_eq!((replayed.revision, replayed.prev), (2, None));
    let updated = next_event(&mut stream).await.unwrap().unwrap();
    assert_eq!(
        (updated.revision, updated.kv.value.clone()),
        (5, value("w"))
    );
    assert_eq!(updated.prev.unwrap().mod_revision, 2);
    let deleted = next_event(&mut stream).await.unwrap().unwrap();
    assert_eq!((deleted.kind, deleted.revision), (EventKind::Delete, 6));
    assert_eq!(
        (deleted.kv.value.clone(), deleted.kv.mod_revision),
        (value("w"), 6)
    );
    assert_eq!(deleted.prev.unwrap().mod_revision, 5);
}

#[tokio::test]
async fn should_watch_from_a_future_revision() {
    let (_dir, store) = open_temp();
    let mut stream = store.watch("/", 3).await.unwrap();
    for key in ["/1", "/2", "/3", "/4"] {
        store.create(key, value("v")).await.unwrap();
    }
    assert_eq!(next_event(&mut stream).await.unwrap().unwrap().revision, 4);
}

#[tokio::test]
async fn should_forget_history_before_the_compacted_revision() {
    let (_dir, store) = open_temp();
    store.create("/a", value("1")).await.unwrap(); // 2
    store.update("/a", value("2"), 2).await.unwrap(); // 3
    store.update("/a", value("3"), 3).await.unwrap(); // 4
    store.update("/a", value("4"), 4).await.unwrap(); // 5
    store.compact(4).await.unwrap();
    assert_eq!(store.compacted_revision(), 4);

    let err = store.watch("/", 2).await.err().unwrap();
    assert!(matches!(
        err,
        StoreError::Compacted {
            requested: 2,
            compacted: 4
        }
    ));
    let mut stream = store.watch("/", 3).await.unwrap();
    assert_eq!(next_event(&mut stream).await.unwrap().unwrap().revision, 4);
    assert_eq!(next_event(&mut stream).await.unwrap().unwrap().revision, 5);

    let err = list_at(&store, "/", 3).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::Compacted {
            requested: 3,
            compacted: 4
        }
    ));
    let at4 = list_at(&store, "/", 4).await.unwrap();
    assert_eq!(at4.items[0].value, value("3"));

    // Compacting again is a no-op; compacting the future is an error.
    store.compact(3).await.unwrap();
    assert_eq!(store.compacted_revision(), 4);
    let err = store.compact(6).await.unwrap_err();
    assert!(matches!(
        err,
        StoreError::FutureRevision {
            requested: 6,
            current: 5
        }
    ));
    store.compact(5).await.unwrap();
    assert_eq!(store.compacted_revision(), 5);
}

#[tokio::test]
async fn should_keep_data_revision_and_history_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        store.create("/a", value("1")).await.unwrap(); // 2
        store.create("/b", value("1")).await.unwrap(); // 3
        store.update("/a", value("2"), 2).await.unwrap(); // 4
        store.compact(3).await.unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(
        (store.current_revision(), store.compacted_revision()),
        (4, 3)
    );
    assert_eq!(store.get("/a").await.unwrap().unwrap().value, value("2"));
    assert_eq!(
        keys(&list_at(&store, "/", 3).await.unwrap()),
        vec!["/a", "/b"]
    );
    let mut stream = store.watch("/", 2).await.unwrap();
    assert_eq!(next_event(&mut stream).await.unwrap().unwrap().revision, 3);
    assert_eq!(
        store.create("/c", value("1")).await.unwrap().mod_revision,
        5
    );
}

#[tokio::test]
async fn should_end_the_watch_when_the_store_is_dropped() {
    let (_dir, store) = open_temp();
    let mut stream = store.watch("/", 1).await.unwrap();
    drop(store);
    assert!(next_event(&mut stream).await.is_none());
}

#[tokio::test]
async fn should_drop_a_watcher_that_lags() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open_with_watch_buffer(&dir.path().join("s.redb"), 2).unwrap();
    let mut stream = store.watch("/", 1).await.unwrap();
    for key in ["/1", "/2", "/3", "/4"] {
        store.create(key, value("v")).await.unwrap();
    }
    let lagged = next_event(&mut stream).await.unwrap();
    assert!(matches!(lagged, Err(StoreError::WatcherLagged)));
    assert!(next_event(&mut stream).await.is_none());
}

#[tokio::test]
async fn should_report_a_corrupted_value_as_a_backend_error() {
    let (_dir, store) = open_temp();
    let txn = begin_write(&store.inner.db).unwrap();
    open_write(&txn, KV)
        .unwrap()
        .insert("/bad", [1u8, 2].as_slice())
        .unwrap();
    commit(txn).unwrap();

    assert!(matches!(
        store.get("/bad").await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.list("/", ListOptions::default()).await,
        Err(StoreError::Backend(_))
    ));
    let err = store.update("/bad", value("v"), 1).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)));
}
