//! The `apiserver` workload: the API server measured from the outside with
//! ConfigMaps: create, get, list and watch with N concurrent clients;
//! sequential durable creates; creates paced at a steady rate; lists of a large
//! namespace, whole and paged; and resident memory idle and loaded. Beside them
//! it measures two baselines in the same run, a raw write+fsync on the same
//! disk and a `/readyz` round trip that touches no store, so the report can say
//! what the store and the API layers add.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, Client};

use crate::server::{self, Memory, SkiffServer};
use crate::stats::{ratio, Latencies, Millis};
use crate::workloads::{self, Throughput};
use crate::{load_average, pass_or_miss, progress, BenchResult, Phases, PHASE_TIMEOUT};

/// The aims from the issue, checked against the figures.
const AIM_PACED_CREATE_P99: Duration = Duration::from_millis(20);
const AIM_LIST_LARGE: Duration = Duration::from_millis(200);
/// 30 MB, read strictly as decimal megabytes.
const AIM_IDLE_RSS_BYTES: u64 = 30_000_000;

/// How long the idle server is left alone before its memory is read, so the
/// controllers' startup (initial lists, watch setup) is over.
const IDLE_SETTLE: Duration = Duration::from_secs(2);

/// Namespace of the objects that grow to `--objects`.
const LARGE_NAMESPACE: &str = "bench";
/// Namespace of a small, fixed set of objects for list throughput.
const SMALL_NAMESPACE: &str = "bench-small";

#[derive(clap::Args, Debug)]
pub struct ApiServerArgs {
    /// Concurrent clients for the throughput runs.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Watchers attached while writers create objects.
    #[arg(long, default_value_t = 8)]
    watchers: usize,
    /// Objects stored for the large list and the loaded memory figure.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Creates in the concurrent create run.
    #[arg(long, default_value_t = 4_000)]
    creates: usize,
    /// Gets in the concurrent get run.
    #[arg(long, default_value_t = 8_000)]
    gets: usize,
    /// Lists in the concurrent list run.
    #[arg(long, default_value_t = 400)]
    lists: usize,
    /// Objects in the namespace the concurrent list run lists.
    #[arg(long, default_value_t = 100)]
    small_list_items: usize,
    /// Objects created while the watchers watch (each watcher gets them all).
    #[arg(long, default_value_t = 2_000)]
    watch_events: usize,
    /// Iterations of each sequential measurement (durable create, get, the
    /// baselines).
    #[arg(long, default_value_t = 1_000)]
    sequential: usize,
    /// Writes per second for the paced create run.
    #[arg(long, default_value_t = 50.0)]
    paced_rate: f64,
    /// Seconds the paced create run lasts.
    #[arg(long, default_value_t = 10)]
    paced_seconds: u64,
    /// Full lists of the large namespace.
    #[arg(long, default_value_t = 7)]
    list_repeats: usize,
    /// Page size of the paged list.
    #[arg(long, default_value_t = 500)]
    page_limit: u32,
    /// The skiff binary (default: `skiff` beside this binary, i.e.
    /// target/release/skiff).
    #[arg(long)]
    pub skiff: Option<PathBuf>,
}

/// Everything measured, for the report.
struct Figures {
    pid: u32,
    startup: Duration,
    memory_at_ready: Memory,
    memory_idle: Memory,
    memory_loaded: Memory,
    memory_after_lists: Memory,
    objects_stored: usize,
    raw_fsync: Latencies,
    readyz: Latencies,
    sequential_get: Latencies,
    durable_create: Latencies,
    create: Throughput,
    get: Throughput,
    list: Throughput,
    watch: workloads::WatchRun,
    paced: Throughput,
    fill: Throughput,
    large_list: workloads::ListRun,
    server_cpu: Duration,
    wall: Duration,
    load_at_start: String,
    load_at_end: String,
    memory_by_phase: Vec<(&'static str, Memory)>,
}

/// Starts a server, runs every workload against it and returns the report.
pub async fn run(args: ApiServerArgs) -> BenchResult<String> {
    let run_began = Instant::now();
    let binary = crate::skiff_binary(args.skiff.as_deref())?;
    progress(&format!("starting {}", binary.display()));
    let started = SkiffServer::start(&binary).await?;
    let mut server = started.server;
    let client = started.client;

    let result = measure(&args, &mut server, &client, started.startup, run_began).await;
    let result = match result {
        Ok(figures) => Ok(report(&args, &binary, &figures)),
        Err(error) => Err(crate::explain_failure(error, &mut server)),
    };
    // Dropping the server kills it by pid and removes the temp dir.
    drop(server);
    result
}

async fn measure(
    args: &ApiServerArgs,
    server: &mut SkiffServer,
    client: &Client,
    startup: Duration,
    run_began: Instant,
) -> BenchResult<Figures> {
    let load_at_start = load_average();
    let memory_at_ready = server.memory()?;
    tokio::time::sleep(IDLE_SETTLE).await;
    let memory_idle = server.memory()?;
    let mut phases = Phases::new(server);

    workloads::create_namespace(client, LARGE_NAMESPACE).await?;
    workloads::create_namespace(client, SMALL_NAMESPACE).await?;

    // Baselines first, on a quiet server and disk.
    let scratch = server.scratch_dir().to_path_buf();
    let iterations = args.sequential;
    let raw_fsync = phases
        .run("raw write+fsync baseline", async move {
            tokio::task::spawn_blocking(move || workloads::raw_durable_writes(&scratch, iterations))
                .await?
        })
        .await?;
    let readyz = phases
        .run("sequential /readyz", async {
            // Warm the connection so the first TLS handshake is not a sample.
            for _ in 0..20 {
                server::readyz(client).await?;
            }
            let client = client.clone();
            let run = workloads::run_concurrent(1, args.sequential, move |_| {
                let client = client.clone();
                async move { server::readyz(&client).await }
            })
            .await?;
            Ok(run.latencies)
        })
        .await?;
    let durable_create = phases
        .run(
            "sequential durable creates",
            workloads::create_many(client, LARGE_NAMESPACE, "seq", 1, args.sequential),
        )
        .await?
        .latencies;
    let sequential_get = phases
        .run(
            "sequential gets",
            get_many(client, 1, args.sequential, "seq", args.sequential),
        )
        .await?
        .latencies;

    let create = phases
        .run(
            "concurrent creates",
            workloads::create_many(
                client,
                LARGE_NAMESPACE,
                "create",
                args.clients,
                args.creates,
            ),
        )
        .await?;
    let get = phases
        .run(
            "concurrent gets",
            get_many(client, args.clients, args.gets, "create", args.creates),
        )
        .await?;
    phases
        .run(
            "filling the small namespace",
            workloads::create_many(
                client,
                SMALL_NAMESPACE,
                "small",
                args.clients,
                args.small_list_items,
            ),
        )
        .await?;
    let list = phases
        .run(
            "concurrent lists",
            list_many(client, args.clients, args.lists),
        )
        .await?;
    let watch = phases
        .run(
            "watchers while writers create",
            workloads::watch_while_writing(
                client,
                LARGE_NAMESPACE,
                "watch",
                args.watchers,
                args.clients,
                args.watch_events,
                PHASE_TIMEOUT,
            ),
        )
        .await?;
    let paced_total = (args.paced_rate * args.paced_seconds as f64).round() as usize;
    let paced = phases
        .run(
            "paced creates",
            workloads::create_paced(
                client,
                LARGE_NAMESPACE,
                "paced",
                args.paced_rate,
                paced_total,
            ),
        )
        .await?;

    // Top the large namespace up to exactly `--objects`.
    let created_so_far = args.sequential + args.creates + args.watch_events + paced_total;
    let fill_count = args.objects.saturating_sub(created_so_far);
    let fill = phases
        .run(
            "filling the large namespace",
            workloads::create_many(client, LARGE_NAMESPACE, "fill", args.clients, fill_count),
        )
        .await?;
    // Memory first: the counting walk below is itself a list and grows it.
    let memory_loaded = server.memory()?;
    let objects_stored = workloads::count_config_maps(client, LARGE_NAMESPACE).await?;

    let large_list = phases
        .run(
            "listing the large namespace",
            workloads::list_large(
                client,
                LARGE_NAMESPACE,
                objects_stored,
                args.list_repeats,
                args.page_limit,
            ),
        )
        .await?;
    let memory_after_lists = server.memory()?;
    let memory_by_phase = phases.memory_after;
    let server_cpu = server.cpu_time()?;
    if !server.is_running() {
        return Err("the server exited during the run".into());
    }

    Ok(Figures {
        pid: server.pid(),
        startup,
        memory_at_ready,
        memory_idle,
        memory_loaded,
        memory_after_lists,
        objects_stored,
        raw_fsync,
        readyz,
        sequential_get,
        durable_create,
        create,
        get,
        list,
        watch,
        paced,
        fill,
        large_list,
        server_cpu,
        wall: run_began.elapsed(),
        load_at_start,
        load_at_end: load_average(),
        memory_by_phase,
    })
}

/// `total` gets of `{prefix}-{i}` for i spread over `0..existing`.
async fn get_many(
    client: &Client,
    clients: usize,
    total: usize,
    prefix: &str,
    existing: usize,
) -> BenchResult<Throughput> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), LARGE_NAMESPACE);
    let prefix = prefix.to_string();
    let existing = existing.max(1);
    workloads::run_concurrent(clients, total, move |index| {
        let api = api.clone();
        // A large prime stride visits the names in a scattered order.
        let name = format!("{prefix}-{}", index.wrapping_mul(7_919) % existing);
        async move {
            api.get(&name).await?;
            Ok(())
        }
    })
    .await
}

/// `total` lists of the small namespace.
async fn list_many(client: &Client, clients: usize, total: usize) -> BenchResult<Throughput> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), SMALL_NAMESPACE);
    workloads::run_concurrent(clients, total, move |_| {
        let api = api.clone();
        async move {
            api.list(&kube::api::ListParams::default()).await?;
            Ok(())
        }
    })
    .await
}

/// One row of the throughput table.
fn throughput_row(out: &mut String, name: &str, clients: usize, run: &Throughput) {
    let _ = writeln!(
        out,
        "  {name:<22}{clients:>7}{ops:>8}{rate:>10.0}{p50:>11}{p99:>11}{max:>11}",
        ops = run.operations,
        rate = run.per_second(),
        p50 = Millis(run.latencies.p50()).to_string(),
        p99 = Millis(run.latencies.p99()).to_string(),
        max = Millis(run.latencies.max()).to_string(),
    );
}

/// One row of a latency-only table.
fn latency_row(out: &mut String, name: &str, latencies: &Latencies) {
    let _ = writeln!(
        out,
        "  {name:<38}{count:>6}{p50:>11}{p99:>11}{max:>11}",
        count = latencies.count(),
        p50 = Millis(latencies.p50()).to_string(),
        p99 = Millis(latencies.p99()).to_string(),
        max = Millis(latencies.max()).to_string(),
    );
}

fn ratio_row(out: &mut String, name: &str, layered: &Latencies, floor: &Latencies) {
    let _ = writeln!(
        out,
        "  {name:<44} p50 {p50:>6.1}x   p99 {p99:>6.1}x",
        p50 = ratio(layered.p50(), floor.p50()),
        p99 = ratio(layered.p99(), floor.p99()),
    );
}

fn report(args: &ApiServerArgs, binary: &std::path::Path, f: &Figures) -> String {
    let mut out = String::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(out, "Skiff API server benchmark");
    let _ = writeln!(
        out,
        "  server {} (pid {}), {cpus} CPUs shared by server and benchmark",
        binary.display(),
        f.pid
    );
    let _ = writeln!(
        out,
        "  objects: ConfigMaps with a 64-byte payload; HTTPS on loopback via kube-rs"
    );
    let _ = writeln!(
        out,
        "  run took {:.1} s; server used {:.1} s of CPU",
        f.wall.as_secs_f64(),
        f.server_cpu.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  load average (1/5/15 min): {} at start, {} at end; above {cpus}, other work shared the CPUs",
        f.load_at_start, f.load_at_end
    );

    let _ = writeln!(out, "\nStartup and memory (VmRSS of the server process)");
    let _ = writeln!(
        out,
        "  startup, spawn to first /readyz 200       {:>10}",
        Millis(f.startup).to_string()
    );
    let _ = writeln!(
        out,
        "  RSS idle, at first /readyz                {:>7.1} MiB",
        f.memory_at_ready.rss_mib()
    );
    let _ = writeln!(
        out,
        "  RSS idle, {}s after ready                  {:>7.1} MiB",
        IDLE_SETTLE.as_secs(),
        f.memory_idle.rss_mib()
    );
    let _ = writeln!(
        out,
        "  RSS with {} ConfigMaps stored          {:>7.1} MiB",
        f.objects_stored,
        f.memory_loaded.rss_mib()
    );
    let _ = writeln!(
        out,
        "  RSS after listing them                    {:>7.1} MiB (peak over the run {:.1} MiB)",
        f.memory_after_lists.rss_mib(),
        f.memory_after_lists.peak_mib()
    );

    let _ = writeln!(
        out,
        "  {:<38}{:>12}{:>12}",
        "after each workload", "RSS", "peak so far"
    );
    for (name, memory) in &f.memory_by_phase {
        let _ = writeln!(
            out,
            "    {name:<36}{:>8.1} MiB{:>8.1} MiB",
            memory.rss_mib(),
            memory.peak_mib()
        );
    }

    let _ = writeln!(
        out,
        "\nThroughput, closed loop (each client sends its next request when the last answers)"
    );
    let _ = writeln!(
        out,
        "  {:<22}{:>7}{:>8}{:>10}{:>11}{:>11}{:>11}",
        "operation", "clients", "ops", "ops/s", "p50", "p99", "max"
    );
    throughput_row(&mut out, "create", args.clients, &f.create);
    throughput_row(&mut out, "get", args.clients, &f.get);
    throughput_row(
        &mut out,
        &format!("list ({} items)", args.small_list_items),
        args.clients,
        &f.list,
    );
    throughput_row(
        &mut out,
        "create while watched",
        args.clients,
        &f.watch.writes,
    );
    throughput_row(
        &mut out,
        &format!("create (fill to {})", args.objects),
        args.clients,
        &f.fill,
    );
    let _ = writeln!(
        out,
        "\nWatch: {} watchers, {} writers creating {} objects",
        f.watch.watchers, args.clients, f.watch.events_per_watcher
    );
    let _ = writeln!(
        out,
        "  events delivered      {:>8} in {} = {:.0} events/s",
        f.watch.events_delivered(),
        Millis(f.watch.span),
        crate::stats::per_second(f.watch.events_delivered(), f.watch.span)
    );
    let _ = writeln!(
        out,
        "  create sent -> event received   p50 {}   p99 {}   max {}",
        Millis(f.watch.delivery.p50()),
        Millis(f.watch.delivery.p99()),
        Millis(f.watch.delivery.max())
    );

    let _ = writeln!(out, "\nSequential, one client");
    let _ = writeln!(
        out,
        "  {:<38}{:>6}{:>11}{:>11}{:>11}",
        "operation", "n", "p50", "p99", "max"
    );
    latency_row(&mut out, "raw write+fsync, 256 B, same disk", &f.raw_fsync);
    latency_row(&mut out, "durable create (API)", &f.durable_create);
    latency_row(&mut out, "GET /readyz (TLS+HTTP, no store)", &f.readyz);
    latency_row(&mut out, "get one ConfigMap", &f.sequential_get);

    let _ = writeln!(
        out,
        "\nPaced creates: {} at {:.0}/s (open loop; achieved {:.1}/s)",
        f.paced.operations,
        args.paced_rate,
        f.paced.per_second()
    );
    latency_row(&mut out, "create at a steady rate", &f.paced.latencies);

    let large = &f.large_list;
    let _ = writeln!(
        out,
        "\nList {} ConfigMaps ({} repeats; {:.1} MiB of JSON each)",
        large.items,
        large.raw.count(),
        large.response_bytes as f64 / (1024.0 * 1024.0)
    );
    latency_row(
        &mut out,
        "whole list, raw JSON (server+transfer)",
        &large.raw,
    );
    latency_row(&mut out, "whole list, decoded by kube-rs", &large.typed);
    latency_row(
        &mut out,
        &format!("one page, limit={}", large.page_limit),
        &large.pages,
    );
    let _ = writeln!(
        out,
        "  paged walk: {} pages in {}",
        large.page_count,
        Millis(large.paged_walk)
    );

    let _ = writeln!(
        out,
        "\nWhat the layers add (ratios of sequential latencies)"
    );
    ratio_row(
        &mut out,
        "durable create / raw write+fsync",
        &f.durable_create,
        &f.raw_fsync,
    );
    ratio_row(&mut out, "get / GET /readyz", &f.sequential_get, &f.readyz);

    let paced_p99 = f.paced.latencies.p99();
    let list_p99 = large.raw.p99();
    let idle_bytes = f.memory_idle.rss_kib * 1024;
    let _ = writeln!(out, "\nAims");
    let _ = writeln!(
        out,
        "  p99 create at {:.0} writes/s            {:>10}   aim < {}    {}",
        args.paced_rate,
        Millis(paced_p99).to_string(),
        Millis(AIM_PACED_CREATE_P99),
        pass_or_miss(paced_p99 < AIM_PACED_CREATE_P99)
    );
    let _ = writeln!(
        out,
        "  list {} objects (p99, raw)       {:>10}   aim < {}    {}",
        large.items,
        Millis(list_p99).to_string(),
        Millis(AIM_LIST_LARGE),
        pass_or_miss(list_p99 < AIM_LIST_LARGE)
    );
    let _ = writeln!(
        out,
        "  idle RSS                           {:>6.1} MiB   aim < 30 MB (28.6 MiB)  {}",
        f.memory_idle.rss_mib(),
        pass_or_miss(idle_bytes < AIM_IDLE_RSS_BYTES)
    );
    let _ = writeln!(
        out,
        "\nWith under 100 samples, p99 is the maximum. Percentiles are nearest-rank over all samples."
    );
    out
}
