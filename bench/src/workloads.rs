//! The measured workloads: closed-loop runs with N concurrent clients, an
//! open-loop paced writer, watchers fed by writers, list walks, and the raw
//! disk baseline. Each returns plain figures; `main` turns them into the report.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use tokio::task::JoinSet;

use crate::stats::Latencies;
use crate::BenchResult;

/// The bytes of data each ConfigMap carries: small, like most real ones.
const PAYLOAD_BYTES: usize = 64;

/// A run of many operations: how many, over what wall-clock span, and how long
/// each one took.
pub struct Throughput {
    pub operations: usize,
    pub wall: Duration,
    pub latencies: Latencies,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        crate::stats::per_second(self.operations, self.wall)
    }
}

/// A small ConfigMap named `name`.
pub fn config_map(name: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(BTreeMap::from([("app".to_string(), "bench".to_string())])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "payload".to_string(),
            "x".repeat(PAYLOAD_BYTES),
        )])),
        ..ConfigMap::default()
    }
}

/// Creates a namespace for the run's objects.
pub async fn create_namespace(client: &Client, name: &str) -> BenchResult<()> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(())
}

/// Runs `op(0..total)` on `clients` concurrent tasks, each taking the next
/// index as soon as its previous operation finishes (closed loop), and times
/// every operation.
pub async fn run_concurrent<F, Fut>(clients: usize, total: usize, op: F) -> BenchResult<Throughput>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BenchResult<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let next_index = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..clients.max(1) {
        let op = Arc::clone(&op);
        let next_index = Arc::clone(&next_index);
        tasks.spawn(async move {
            let mut samples = Vec::new();
            loop {
                let index = next_index.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return BenchResult::Ok(samples);
                }
                let began = Instant::now();
                op(index).await?;
                samples.push(began.elapsed());
            }
        });
    }
    let mut samples = Vec::with_capacity(total);
    // Dropping the JoinSet on the first error aborts the other clients.
    while let Some(joined) = tasks.join_next().await {
        samples.extend(joined??);
    }
    Ok(Throughput {
        operations: total,
        wall: started.elapsed(),
        latencies: Latencies::new(samples),
    })
}

/// Creates `total` ConfigMaps named `{prefix}-{i}` in `namespace` with
/// `clients` concurrent clients.
pub async fn create_many(
    client: &Client,
    namespace: &str,
    prefix: &str,
    clients: usize,
    total: usize,
) -> BenchResult<Throughput> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let prefix = prefix.to_string();
    run_concurrent(clients, total, move |index| {
        let api = api.clone();
        let object = config_map(format!("{prefix}-{index}"));
        async move {
            api.create(&PostParams::default(), &object).await?;
            Ok(())
        }
    })
    .await
}

/// Creates `total` ConfigMaps at a steady `rate` per second, open loop: each
/// request is sent at its scheduled time whether or not earlier ones have
/// answered, so a slow response cannot hide the ones queued behind it.
pub async fn create_paced(
    client: &Client,
    namespace: &str,
    prefix: &str,
    rate: f64,
    total: usize,
) -> BenchResult<Throughput> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let spacing = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..total {
        tokio::time::sleep_until((started + spacing * index as u32).into()).await;
        let api = api.clone();
        let object = config_map(format!("{prefix}-{index}"));
        tasks.spawn(async move {
            let began = Instant::now();
            api.create(&PostParams::default(), &object).await?;
            BenchResult::Ok(began.elapsed())
        });
    }
    let mut samples = Vec::with_capacity(total);
    while let Some(joined) = tasks.join_next().await {
        samples.push(joined??);
    }
    Ok(Throughput {
        operations: total,
        wall: started.elapsed(),
        latencies: Latencies::new(samples),
    })
}

/// What the watch workload saw.
pub struct WatchRun {
    pub watchers: usize,
    pub events_per_watcher: usize,
    /// From the first create sent to the last event received by any watcher.
    pub span: Duration,
    /// The writers' own figures while the watchers were attached.
    pub writes: Throughput,
    /// Per event: from its create being sent to a watcher receiving it.
    pub delivery: Latencies,
}

impl WatchRun {
    pub fn events_delivered(&self) -> usize {
        self.watchers * self.events_per_watcher
    }
}

/// Attaches `watchers` watches to `namespace` at its current revision, then
/// creates `total` ConfigMaps with `clients` writers, and waits until every
/// watcher has received every ADDED event (or `deadline` passes).
pub async fn watch_while_writing(
    client: &Client,
    namespace: &str,
    prefix: &str,
    watchers: usize,
    clients: usize,
    total: usize,
    deadline: Duration,
) -> BenchResult<WatchRun> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    // Start from the namespace's current revision so each watcher sees exactly
    // the writes below, whether or not its stream is open before they start.
    let revision = api
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .ok_or("the list answered without a resourceVersion")?;

    let name_prefix = format!("{prefix}-");
    let mut watch_tasks = JoinSet::new();
    for _ in 0..watchers {
        let params = WatchParams::default().timeout(deadline.as_secs().max(1) as u32);
        let stream = api.watch(&params, &revision).await?;
        let name_prefix = name_prefix.clone();
        watch_tasks.spawn(async move {
            let mut stream = std::pin::pin!(stream);
            // (index of the object, when its event arrived)
            let mut received: Vec<(usize, Instant)> = Vec::with_capacity(total);
            while received.len() < total {
                let Some(event) = stream.try_next().await? else {
                    return Err(format!(
                        "a watch ended after {} of {total} events",
                        received.len()
                    )
                    .into());
                };
                match event {
                    WatchEvent::Added(object) => {
                        let index = object
                            .metadata
                            .name
                            .as_deref()
                            .and_then(|name| name.strip_prefix(&name_prefix))
                            .and_then(|suffix| suffix.parse::<usize>().ok());
                        if let Some(index) = index {
                            received.push((index, Instant::now()));
                        }
                    }
                    WatchEvent::Error(status) => {
                        return Err(format!("a watch failed: {status:?}").into());
                    }
                    WatchEvent::Modified(_) | WatchEvent::Deleted(_) | WatchEvent::Bookmark(_) => {}
                }
            }
            BenchResult::Ok(received)
        });
    }

    let sent_at: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..total).map(|_| OnceLock::new()).collect());
    let writers_started = Instant::now();
    let writes = {
        let sent_at = Arc::clone(&sent_at);
        let prefix = prefix.to_string();
        run_concurrent(clients, total, move |index| {
            let api = api.clone();
            let object = config_map(format!("{prefix}-{index}"));
            let sent_at = Arc::clone(&sent_at);
            async move {
                let _ = sent_at[index].set(Instant::now());
                api.create(&PostParams::default(), &object).await?;
                Ok(())
            }
        })
        .await?
    };

    let mut delivery = Vec::with_capacity(total * watchers);
    let mut last_event = writers_started;
    let collect = async {
        while let Some(joined) = watch_tasks.join_next().await {
            for (index, arrived) in joined?? {
                if let Some(sent) = sent_at.get(index).and_then(OnceLock::get) {
                    delivery.push(arrived.saturating_duration_since(*sent));
                }
                last_event = last_event.max(arrived);
            }
        }
        BenchResult::Ok(())
    };
    tokio::time::timeout(deadline, collect)
        .await
        .map_err(|_| {
            format!("watchers did not receive all {total} events within {deadline:?}")
        })??;

    Ok(WatchRun {
        watchers,
        events_per_watcher: total,
        span: last_event.duration_since(writers_started),
        writes,
        delivery: Latencies::new(delivery),
    })
}

/// What listing a large namespace cost.
pub struct ListRun {
    pub items: usize,
    pub response_bytes: usize,
    /// Whole lists as raw JSON: the server's work plus transfer.
    pub raw: Latencies,
    /// Whole lists decoded into `ConfigMap`s, as a kube-rs client sees them.
    pub typed: Latencies,
    /// Each page of a `limit`/`continue` walk.
    pub pages: Latencies,
    pub page_count: usize,
    pub page_limit: u32,
    /// The whole paged walk, first page to last.
    pub paged_walk: Duration,
}

/// Lists `namespace` `repeats` times raw and typed, then walks it in pages of
/// `page_limit`; checks every answer holds `expected` items.
pub async fn list_large(
    client: &Client,
    namespace: &str,
    expected: usize,
    repeats: usize,
    page_limit: u32,
) -> BenchResult<ListRun> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let path = format!("/api/v1/namespaces/{namespace}/configmaps");

    let mut raw = Vec::with_capacity(repeats);
    let mut response_bytes = 0;
    for _ in 0..repeats {
        let request = http::Request::get(path.as_str()).body(Vec::new())?;
        let began = Instant::now();
        let body = client.request_text(request).await?;
        raw.push(began.elapsed());
        response_bytes = body.len();
    }

    let mut typed = Vec::with_capacity(repeats);
    let mut items = 0;
    for _ in 0..repeats {
        let began = Instant::now();
        let list = api.list(&ListParams::default()).await?;
        typed.push(began.elapsed());
        items = list.items.len();
    }
    if items != expected {
        return Err(
            format!("a list of {namespace} held {items} items, expected {expected}").into(),
        );
    }

    let mut pages = Vec::new();
    let mut paged_items = 0;
    let walk_began = Instant::now();
    let mut continue_token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(page_limit);
        if let Some(token) = &continue_token {
            params = params.continue_token(token);
        }
        let began = Instant::now();
        let page = api.list(&params).await?;
        pages.push(began.elapsed());
        paged_items += page.items.len();
        continue_token = page.metadata.continue_.filter(|token| !token.is_empty());
        if continue_token.is_none() {
            break;
        }
        if pages.len() > expected / page_limit.max(1) as usize + 2 {
            return Err("the paged list did not end".into());
        }
    }
    let paged_walk = walk_began.elapsed();
    if paged_items != expected {
        return Err(format!(
            "the paged list of {namespace} held {paged_items} items, expected {expected}"
        )
        .into());
    }

    Ok(ListRun {
        items,
        response_bytes,
        raw: Latencies::new(raw),
        typed: Latencies::new(typed),
        page_count: pages.len(),
        pages: Latencies::new(pages),
        page_limit,
        paged_walk,
    })
}

/// The floor under a durable write: append a small record to a file in `dir`
/// and fsync it, `iterations` times. Blocking; run it off the async workers.
pub fn raw_durable_writes(dir: &Path, iterations: usize) -> BenchResult<Latencies> {
    let path = dir.join("fsync-baseline.bin");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let record = [0x5a_u8; 256];
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let began = Instant::now();
        file.write_all(&record)?;
        file.sync_all()?;
        samples.push(began.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(Latencies::new(samples))
}

/// Counts the ConfigMaps in `namespace` with a metadata-only paged walk, to
/// check the store holds what the run created.
pub async fn count_config_maps(client: &Client, namespace: &str) -> BenchResult<usize> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut count = 0;
    let mut continue_token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(1000);
        if let Some(token) = &continue_token {
            params = params.continue_token(token);
        }
        let page = api.list_metadata(&params).await?;
        count += page.items.len();
        continue_token = page.metadata.continue_.filter(|token| !token.is_empty());
        if continue_token.is_none() {
            return Ok(count);
        }
    }
}
