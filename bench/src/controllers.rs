//! The `controllers` workload: a Deployment of `--replicas` (1,000) pods over
//! `--nodes` (10) nodes registered through the API, against the real
//! Deployment and ReplicaSet controllers and the real scheduler inside
//! `skiff server`. It times, from the Deployment's create, when every pod
//! exists and when every pod is bound, and reads the server's CPU time.
//!
//! Two baselines run first in the same server, so the report can say how much
//! of the API's capacity the control loops use:
//! - **bare creates:** the benchmark itself creates as many pods, with
//!   `--clients` concurrent clients, naming a scheduler nobody runs: the rate
//!   at which the API accepts pods;
//! - **scheduler alone:** as many pods are created while every node is
//!   cordoned; once the scheduler has reported them all unschedulable, the
//!   nodes are uncordoned at once and the time until all are bound is the rate
//!   of the scheduler with nothing else to do.
//!
//! Each baseline's pods are deleted (grace period 0) before the next phase.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, Event, Namespace, Pod, PodSpec, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

use crate::pod_tracker::{PodTimes, PodTracker};
use crate::registered_nodes::{self, LeaseRenewer, NodeShape};
use crate::server::{own_cpu_time, Memory, SkiffServer};
use crate::stats::{per_second, Latencies, Millis};
use crate::workloads::{self, Throughput};
use crate::{load_average, pass_or_miss, progress, BenchResult, PHASE_TIMEOUT};

/// The aim from the issue: every pod of the Deployment created and bound at
/// this rate or better.
const AIM_PODS_PER_SECOND: f64 = 500.0;
/// What KWOK advertises, for comparison.
const KWOK_PODS_PER_SECOND: f64 = 20.0;

/// How long the idle server is left alone before anything is measured.
const IDLE_SETTLE: Duration = Duration::from_secs(2);
/// The server counts as quiet when it uses less CPU than this over a
/// [`QUIET_WINDOW`] (its background work is a few Lease renewals).
const QUIET_CPU: Duration = Duration::from_millis(30);
const QUIET_WINDOW: Duration = Duration::from_millis(500);
/// Waiting for quiet gives up after this; the report says so.
const QUIET_TIMEOUT: Duration = Duration::from_secs(20);
/// After the scheduler reports a pod unschedulable it backs off for 1 s before
/// trying it again; the scheduler baseline waits this long so no pod is still
/// backing off when the nodes are uncordoned.
const SCHEDULER_BACKOFF_MARGIN: Duration = Duration::from_millis(1_500);
/// Rows of the creation/binding timeline in the report, at most.
const TIMELINE_ROWS: u32 = 20;

const NODE_PREFIX: &str = "bench-node";
const BARE_NAMESPACE: &str = "bench-bare";
const SCHEDULER_NAMESPACE: &str = "bench-scheduler";
const DEPLOYMENT_NAMESPACE: &str = "bench-deployment";
const DEPLOYMENT_NAME: &str = "bench";
/// A scheduler name nobody runs, so bare pods stay pending and unbound.
const NOBODY_SCHEDULER: &str = "skiff-bench-nobody";

#[derive(clap::Args, Debug)]
pub struct ControllersArgs {
    /// Replicas of the Deployment, and pods in each baseline.
    #[arg(long, default_value_t = 1_000)]
    replicas: usize,
    /// Nodes registered through the API.
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Allocatable CPU of each node.
    #[arg(long, default_value = "32")]
    node_cpu: String,
    /// Allocatable memory of each node.
    #[arg(long, default_value = "128Gi")]
    node_memory: String,
    /// Pods each node takes.
    #[arg(long, default_value_t = 110)]
    node_pods: u32,
    /// CPU request of each pod.
    #[arg(long, default_value = "100m")]
    pod_cpu: String,
    /// Memory request of each pod.
    #[arg(long, default_value = "128Mi")]
    pod_memory: String,
    /// Concurrent clients of the bare-create and scheduler baselines (the
    /// scheduler binds at most 64 pods at once).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Skip the scheduler-alone baseline (about 10 s).
    #[arg(long)]
    no_scheduler_baseline: bool,
    /// The skiff binary (default: `skiff` beside this binary, i.e.
    /// target/release/skiff).
    #[arg(long)]
    pub skiff: Option<PathBuf>,
}

/// Server CPU, benchmark CPU and wall-clock time over one span.
#[derive(Clone, Copy, Debug, Default)]
struct CpuSpan {
    server: Duration,
    bench: Duration,
    wall: Duration,
}

/// CPU counters at one instant, to subtract from a later one.
struct CpuMark {
    server: Duration,
    bench: Duration,
    at: Instant,
}

impl CpuMark {
    fn now(server: &SkiffServer) -> BenchResult<Self> {
        Ok(CpuMark {
            server: server.cpu_time()?,
            bench: own_cpu_time()?,
            at: Instant::now(),
        })
    }

    fn until(&self, later: &CpuMark) -> CpuSpan {
        CpuSpan {
            server: later.server.saturating_sub(self.server),
            bench: later.bench.saturating_sub(self.bench),
            wall: later.at.duration_since(self.at),
        }
    }
}

/// The bare-create baseline.
struct BareCreates {
    run: Throughput,
    cpu: CpuSpan,
}

/// The scheduler-alone baseline.
struct SchedulerAlone {
    /// From the uncordon patches sent to the last pod seen bound.
    all_bound: Duration,
    cpu: CpuSpan,
    pods_per_node: BTreeMap<String, usize>,
}

/// The Deployment run.
struct DeploymentRun {
    /// Per pod, from the Deployment's create being sent.
    created_after: Vec<Duration>,
    bound_after: Vec<Duration>,
    /// Per pod, from first seen to first seen bound.
    creation_to_binding: Latencies,
    cpu_until_bound: CpuSpan,
    /// What the server did after the last binding until it was quiet (events,
    /// status writes still in flight).
    cpu_tail: CpuSpan,
    tail_quiet: bool,
    writes: Option<u64>,
    events_by_reason: BTreeMap<String, usize>,
    pods_per_node: BTreeMap<String, usize>,
    memory_before: Memory,
    memory_after: Memory,
}

struct Figures {
    pid: u32,
    startup: Duration,
    memory_idle: Memory,
    bare: BareCreates,
    scheduler: Option<SchedulerAlone>,
    deployment: DeploymentRun,
    wall: Duration,
    load_at_start: String,
    load_at_end: String,
}

/// Starts a server, runs the baselines and the Deployment, returns the report.
pub async fn run(args: ControllersArgs) -> BenchResult<String> {
    let capacity = args.nodes * args.node_pods as usize;
    if args.replicas > capacity {
        return Err(format!(
            "{} replicas do not fit on {} nodes of {} pods",
            args.replicas, args.nodes, args.node_pods
        )
        .into());
    }
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

/// Runs `work` bounded by [`PHASE_TIMEOUT`], naming the phase in progress and errors.
async fn phase<T>(
    name: &str,
    work: impl std::future::Future<Output = BenchResult<T>>,
) -> BenchResult<T> {
    progress(name);
    match tokio::time::timeout(PHASE_TIMEOUT, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("{name}: {error}").into()),
        Err(_) => Err(format!("{name}: did not finish within {PHASE_TIMEOUT:?}").into()),
    }
}

async fn measure(
    args: &ControllersArgs,
    server: &mut SkiffServer,
    client: &Client,
    startup: Duration,
    run_began: Instant,
) -> BenchResult<Figures> {
    let load_at_start = load_average();
    tokio::time::sleep(IDLE_SETTLE).await;
    let memory_idle = server.memory()?;

    let node_names = registered_nodes::node_names(NODE_PREFIX, args.nodes);
    let shape = NodeShape {
        cpu: args.node_cpu.clone(),
        memory: args.node_memory.clone(),
        pods: args.node_pods,
    };
    let cordon_first = !args.no_scheduler_baseline;
    phase("registering nodes", async {
        registered_nodes::register(client, &node_names, &shape, cordon_first).await?;
        registered_nodes::wait_until_ready(client, &node_names, PHASE_TIMEOUT).await
    })
    .await?;
    let _renewer = LeaseRenewer::start(client, &node_names);
    for namespace in [BARE_NAMESPACE, SCHEDULER_NAMESPACE, DEPLOYMENT_NAMESPACE] {
        workloads::create_namespace(client, namespace).await?;
    }
    wait_for_quiet(server).await?;

    let bare = phase(
        "baseline: bare pod creates",
        bare_creates(args, server, client),
    )
    .await?;
    phase(
        "deleting the bare pods",
        delete_all_pods(client, BARE_NAMESPACE),
    )
    .await?;
    wait_for_quiet(server).await?;

    let scheduler = if args.no_scheduler_baseline {
        None
    } else {
        let figures = phase(
            "baseline: the scheduler alone",
            scheduler_alone(args, server, client, &node_names),
        )
        .await?;
        phase(
            "deleting the scheduler baseline's pods",
            delete_all_pods(client, SCHEDULER_NAMESPACE),
        )
        .await?;
        wait_for_quiet(server).await?;
        Some(figures)
    };

    let deployment = phase(
        "the Deployment",
        deployment_run(args, server, client, &node_names),
    )
    .await?;
    if !server.is_running() {
        return Err("the server exited during the run".into());
    }
    Ok(Figures {
        pid: server.pid(),
        startup,
        memory_idle,
        bare,
        scheduler,
        deployment,
        wall: run_began.elapsed(),
        load_at_start,
        load_at_end: load_average(),
    })
}

/// Waits until the server uses less than [`QUIET_CPU`] in a [`QUIET_WINDOW`],
/// so one phase's leftovers (event writes, cache updates) do not run into the
/// next. Returns whether it got quiet within [`QUIET_TIMEOUT`].
async fn wait_for_quiet(server: &SkiffServer) -> BenchResult<bool> {
    let deadline = Instant::now() + QUIET_TIMEOUT;
    loop {
        let before = server.cpu_time()?;
        tokio::time::sleep(QUIET_WINDOW).await;
        if server.cpu_time()?.saturating_sub(before) < QUIET_CPU {
            return Ok(true);
        }
        if Instant::now() > deadline {
            progress("the server did not get quiet; going on");
            return Ok(false);
        }
    }
}

/// A pod of one small container with `args`' requests.
fn pod_spec(args: &ControllersArgs, scheduler_name: Option<&str>) -> PodSpec {
    PodSpec {
        containers: vec![Container {
            name: "app".to_string(),
            image: Some("registry.k8s.io/pause:3.10".to_string()),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".to_string(), Quantity(args.pod_cpu.clone())),
                    ("memory".to_string(), Quantity(args.pod_memory.clone())),
                ])),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }],
        scheduler_name: scheduler_name.map(str::to_string),
        ..PodSpec::default()
    }
}

fn labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), app.to_string())])
}

/// Creates `args.replicas` pods named `{prefix}-{i}` with `args.clients`
/// concurrent clients.
async fn create_pods(
    args: &ControllersArgs,
    client: &Client,
    namespace: &str,
    prefix: &str,
    scheduler_name: Option<&str>,
) -> BenchResult<Throughput> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let template = Pod {
        metadata: ObjectMeta {
            labels: Some(labels(prefix)),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec(args, scheduler_name)),
        status: None,
    };
    let prefix = prefix.to_string();
    workloads::run_concurrent(args.clients, args.replicas, move |index| {
        let api = api.clone();
        let mut pod = template.clone();
        pod.metadata.name = Some(format!("{prefix}-{index}"));
        async move {
            api.create(&PostParams::default(), &pod).await?;
            Ok(())
        }
    })
    .await
}

async fn bare_creates(
    args: &ControllersArgs,
    server: &SkiffServer,
    client: &Client,
) -> BenchResult<BareCreates> {
    let start = CpuMark::now(server)?;
    let run = create_pods(args, client, BARE_NAMESPACE, "bare", Some(NOBODY_SCHEDULER)).await?;
    let cpu = start.until(&CpuMark::now(server)?);
    Ok(BareCreates { run, cpu })
}

/// Deletes every pod of `namespace` at once (grace period 0: no node agent
/// would ever confirm a graceful stop) and checks none is left.
async fn delete_all_pods(client: &Client, namespace: &str) -> BenchResult<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    api.delete_collection(&params, &ListParams::default())
        .await?;
    let left = api.list_metadata(&ListParams::default()).await?.items.len();
    if left > 0 {
        return Err(format!("{left} pods were left in {namespace} after deleting them all").into());
    }
    Ok(())
}

async fn scheduler_alone(
    args: &ControllersArgs,
    server: &SkiffServer,
    client: &Client,
    node_names: &[String],
) -> BenchResult<SchedulerAlone> {
    let total = args.replicas;
    let mut tracker = PodTracker::start(client, SCHEDULER_NAMESPACE, PHASE_TIMEOUT).await?;
    create_pods(args, client, SCHEDULER_NAMESPACE, "pending", None).await?;
    tracker
        .wait_for(
            "every pod reported unschedulable on cordoned nodes",
            PHASE_TIMEOUT,
            |counts| counts.unschedulable >= total,
        )
        .await?;
    tokio::time::sleep(SCHEDULER_BACKOFF_MARGIN).await;
    wait_for_quiet(server).await?;

    let start = CpuMark::now(server)?;
    registered_nodes::set_cordoned(client, node_names, false).await?;
    tracker
        .wait_for("every pending pod bound", PHASE_TIMEOUT, |counts| {
            counts.bound >= total
        })
        .await?;
    let end = CpuMark::now(server)?;
    let pods = tracker.pods();
    let last_bound = pods
        .values()
        .filter_map(|p| p.bound.as_ref().map(|(at, _)| *at))
        .max()
        .unwrap_or(end.at);
    Ok(SchedulerAlone {
        all_bound: last_bound.saturating_duration_since(start.at),
        cpu: start.until(&end),
        pods_per_node: pods_per_node(&pods),
    })
}

fn pods_per_node(pods: &HashMap<String, PodTimes>) -> BTreeMap<String, usize> {
    let mut per_node = BTreeMap::new();
    for (_, node) in pods.values().filter_map(|p| p.bound.as_ref()) {
        *per_node.entry(node.clone()).or_insert(0) += 1;
    }
    per_node
}

/// The store's revision, which every write anywhere advances by one.
async fn store_revision(client: &Client) -> Option<u64> {
    Api::<Namespace>::all(client.clone())
        .list_metadata(&ListParams::default().limit(1))
        .await
        .ok()?
        .metadata
        .resource_version?
        .parse()
        .ok()
}

async fn deployment_run(
    args: &ControllersArgs,
    server: &SkiffServer,
    client: &Client,
    node_names: &[String],
) -> BenchResult<DeploymentRun> {
    let total = args.replicas;
    // Still Ready and untainted after the baselines.
    registered_nodes::wait_until_ready(client, node_names, PHASE_TIMEOUT).await?;
    let mut tracker = PodTracker::start(client, DEPLOYMENT_NAMESPACE, PHASE_TIMEOUT).await?;
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(DEPLOYMENT_NAME.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(total)?),
            selector: LabelSelector {
                match_labels: Some(labels(DEPLOYMENT_NAME)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(DEPLOYMENT_NAME)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(args, None)),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    };
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), DEPLOYMENT_NAMESPACE);
    let memory_before = server.memory()?;
    let revision_before = store_revision(client).await;

    let start = CpuMark::now(server)?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    tracker
        .wait_for(
            "every pod of the Deployment created",
            PHASE_TIMEOUT,
            |counts| counts.seen >= total,
        )
        .await?;
    tracker
        .wait_for(
            "every pod of the Deployment bound",
            PHASE_TIMEOUT,
            |counts| counts.bound >= total,
        )
        .await?;
    let at_bound = CpuMark::now(server)?;
    let tail_quiet = wait_for_quiet(server).await?;
    let settled = CpuMark::now(server)?;
    let revision_after = store_revision(client).await;
    let memory_after = server.memory()?;

    let pods = tracker.pods();
    if pods.len() != total {
        return Err(format!("the Deployment made {} pods, expected {total}", pods.len()).into());
    }
    let mut created_after: Vec<Duration> = pods
        .values()
        .map(|p| p.seen.saturating_duration_since(start.at))
        .collect();
    let mut bound_after: Vec<Duration> = pods
        .values()
        .filter_map(|p| p.bound.as_ref())
        .map(|(at, _)| at.saturating_duration_since(start.at))
        .collect();
    created_after.sort_unstable();
    bound_after.sort_unstable();
    let creation_to_binding = Latencies::new(
        pods.values()
            .filter_map(|p| {
                p.bound
                    .as_ref()
                    .map(|(at, _)| at.saturating_duration_since(p.seen))
            })
            .collect(),
    );

    let events: Api<Event> = Api::namespaced(client.clone(), DEPLOYMENT_NAMESPACE);
    let mut events_by_reason = BTreeMap::new();
    for event in events.list(&ListParams::default()).await?.items {
        let reason = event.reason.unwrap_or_default();
        *events_by_reason.entry(reason).or_insert(0) += 1;
    }

    Ok(DeploymentRun {
        created_after,
        bound_after,
        creation_to_binding,
        cpu_until_bound: start.until(&at_bound),
        cpu_tail: at_bound.until(&settled),
        tail_quiet,
        writes: revision_before
            .zip(revision_after)
            .map(|(before, after)| after.saturating_sub(before)),
        events_by_reason,
        pods_per_node: pods_per_node(&pods),
        memory_before,
        memory_after,
    })
}

/// The moment the `fraction`th of `sorted` durations was reached.
fn reached(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// How many of `sorted` are at or before `at`.
fn count_by(sorted: &[Duration], at: Duration) -> usize {
    sorted.partition_point(|d| *d <= at)
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

/// CPU-milliseconds per pod.
fn cpu_ms_per_pod(cpu: Duration, pods: usize) -> f64 {
    cpu.as_secs_f64() * 1000.0 / pods.max(1) as f64
}

fn cpu_row(out: &mut String, name: &str, cpu: &CpuSpan, pods: usize) {
    let _ = writeln!(
        out,
        "  {name:<34}{server:>9.2} s{per_pod:>9.2} ms/pod{cores:>8.2} cores{bench:>9.2} s",
        server = cpu.server.as_secs_f64(),
        per_pod = cpu_ms_per_pod(cpu.server, pods),
        cores = cpu.server.as_secs_f64() / cpu.wall.as_secs_f64().max(1e-9),
        bench = cpu.bench.as_secs_f64(),
    );
}

fn spread(per_node: &BTreeMap<String, usize>, nodes: usize) -> String {
    let mut counts: Vec<usize> = per_node.values().copied().collect();
    // Nodes that got nothing count as 0.
    counts.resize(nodes.max(counts.len()), 0);
    format!(
        "min {} / max {} pods per node over {} nodes",
        counts.iter().min().copied().unwrap_or(0),
        counts.iter().max().copied().unwrap_or(0),
        counts.len()
    )
}

fn report(args: &ControllersArgs, binary: &std::path::Path, f: &Figures) -> String {
    let mut out = String::new();
    let n = args.replicas;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let d = &f.deployment;
    let _ = writeln!(out, "Skiff controllers and scheduler benchmark");
    let _ = writeln!(
        out,
        "  server {} (pid {}), {cpus} CPUs shared by server and benchmark; HTTPS on loopback via kube-rs",
        binary.display(),
        f.pid
    );
    let _ = writeln!(
        out,
        "  {} nodes registered through the API ({} CPU, {} memory, {} pods each; Ready=True; Leases renewed every {} s)",
        args.nodes,
        args.node_cpu,
        args.node_memory,
        args.node_pods,
        registered_nodes::LEASE_RENEW_INTERVAL.as_secs()
    );
    let _ = writeln!(
        out,
        "  pods: one container requesting {} CPU and {} memory",
        args.pod_cpu, args.pod_memory
    );
    let _ = writeln!(
        out,
        "  run took {:.1} s; server startup {}; load average (1/5/15 min) {} at start, {} at end",
        f.wall.as_secs_f64(),
        Millis(f.startup),
        f.load_at_start,
        f.load_at_end
    );

    let all_created = d.created_after.last().copied().unwrap_or_default();
    let all_bound = d.bound_after.last().copied().unwrap_or_default();
    let created_rate = per_second(n, all_created);
    let bound_rate = per_second(n, all_bound);
    let _ = writeln!(
        out,
        "\nDeployment of {n} replicas, timed from its create being sent (pod times are watch arrivals)"
    );
    let _ = writeln!(
        out,
        "  first pod created                 {:>9}",
        seconds(d.created_after.first().copied().unwrap_or_default())
    );
    let _ = writeln!(
        out,
        "  all {n} pods created            {:>9}   {created_rate:>7.0} pods/s",
        seconds(all_created)
    );
    let _ = writeln!(
        out,
        "  all {n} pods bound              {:>9}   {bound_rate:>7.0} pods/s",
        seconds(all_bound)
    );
    let _ = writeln!(
        out,
        "  created -> bound, per pod         p50 {}   p99 {}   max {}",
        Millis(d.creation_to_binding.p50()),
        Millis(d.creation_to_binding.p99()),
        Millis(d.creation_to_binding.max())
    );
    let _ = writeln!(out, "  spread: {}", spread(&d.pods_per_node, args.nodes));

    let _ = writeln!(out, "\n  {:<10}{:>12}{:>12}", "reached", "created", "bound");
    for (label, fraction) in [
        ("first", 0.0),
        ("10%", 0.10),
        ("25%", 0.25),
        ("50%", 0.50),
        ("75%", 0.75),
        ("90%", 0.90),
        ("100%", 1.0),
    ] {
        let _ = writeln!(
            out,
            "  {label:<10}{:>12}{:>12}",
            seconds(reached(&d.created_after, fraction)),
            seconds(reached(&d.bound_after, fraction))
        );
    }

    let step = (all_bound / TIMELINE_ROWS).max(Duration::from_millis(100));
    let _ = writeln!(
        out,
        "\n  timeline (pods so far)  {:>8}{:>8}{:>10}{:>10}",
        "created", "bound", "+created", "+bound"
    );
    let mut at = step;
    let (mut last_created, mut last_bound) = (0, 0);
    loop {
        let created = count_by(&d.created_after, at);
        let bound = count_by(&d.bound_after, at);
        let _ = writeln!(
            out,
            "  {:>10}             {created:>8}{bound:>8}{:>10}{:>10}",
            seconds(at),
            created - last_created,
            bound - last_bound
        );
        (last_created, last_bound) = (created, bound);
        if bound >= n || at > all_bound {
            break;
        }
        at += step;
    }

    let _ = writeln!(
        out,
        "\nServer CPU (utime+stime of the one process: API server, store, controllers, scheduler)"
    );
    let _ = writeln!(
        out,
        "  {:<34}{:>11}{:>16}{:>14}{:>11}",
        "span", "server", "per pod", "avg busy", "bench"
    );
    cpu_row(
        &mut out,
        "Deployment: create to all bound",
        &d.cpu_until_bound,
        n,
    );
    let tail_note = if d.tail_quiet {
        format!("after: until quiet ({})", seconds(d.cpu_tail.wall))
    } else {
        format!("after: {} (never quiet)", seconds(d.cpu_tail.wall))
    };
    cpu_row(&mut out, &tail_note, &d.cpu_tail, n);
    cpu_row(&mut out, "baseline: bare creates", &f.bare.cpu, n);
    if let Some(scheduler) = &f.scheduler {
        cpu_row(&mut out, "baseline: scheduler alone", &scheduler.cpu, n);
    }
    let _ = writeln!(
        out,
        "  (\"avg busy\" is CPU-seconds per wall-second; \"bench\" is this benchmark's own CPU over the span)"
    );

    let _ = writeln!(out, "\nAPI writes during the Deployment (store revisions)");
    match d.writes {
        Some(writes) => {
            let _ = writeln!(
                out,
                "  {writes} writes = {:.1} per pod, {:.0} writes/s until all bound",
                writes as f64 / n as f64,
                per_second(writes as usize, all_bound)
            );
            let events: usize = d.events_by_reason.values().sum();
            let _ = writeln!(
                out,
                "  of which: {n} pod creates, {n} bindings, {events} Events, {} other (ReplicaSet and Deployment status, Lease renewals)",
                writes.saturating_sub((2 * n + events) as u64)
            );
        }
        None => {
            let _ = writeln!(out, "  unknown (the list had no numeric resourceVersion)");
        }
    }
    let reasons: Vec<String> = d
        .events_by_reason
        .iter()
        .map(|(reason, count)| format!("{reason} {count}"))
        .collect();
    let _ = writeln!(out, "  Events by reason: {}", reasons.join(", "));

    let _ = writeln!(out, "\nMemory (VmRSS of the server)");
    let _ = writeln!(
        out,
        "  idle {:.1} MiB; before the Deployment {:.1} MiB; after {:.1} MiB (peak over the run {:.1} MiB)",
        f.memory_idle.rss_mib(),
        d.memory_before.rss_mib(),
        d.memory_after.rss_mib(),
        d.memory_after.peak_mib()
    );

    let bare_rate = f.bare.run.per_second();
    let _ = writeln!(out, "\nBaselines, same server and nodes, {n} pods each");
    let _ = writeln!(
        out,
        "  bare pod creates, {} clients      {:>9}   {bare_rate:>7.0} pods/s   p50 {}   p99 {}",
        args.clients,
        seconds(f.bare.run.wall),
        Millis(f.bare.run.latencies.p50()),
        Millis(f.bare.run.latencies.p99())
    );
    let scheduler_rate = f.scheduler.as_ref().map(|s| per_second(n, s.all_bound));
    if let (Some(scheduler), Some(rate)) = (&f.scheduler, scheduler_rate) {
        let _ = writeln!(
            out,
            "  scheduler alone: uncordon to all bound {:>5}   {rate:>7.0} pods/s   ({})",
            seconds(scheduler.all_bound),
            spread(&scheduler.pods_per_node, args.nodes)
        );
    }
    let _ = writeln!(out, "\nRatios");
    let _ = writeln!(
        out,
        "  Deployment pods created/s  / bare creates/s        {:>6.2}",
        created_rate / bare_rate.max(1e-9)
    );
    let _ = writeln!(
        out,
        "  Deployment pods bound/s    / bare creates/s        {:>6.2}",
        bound_rate / bare_rate.max(1e-9)
    );
    if let Some(rate) = scheduler_rate {
        let _ = writeln!(
            out,
            "  Deployment pods bound/s    / scheduler alone/s     {:>6.2}",
            bound_rate / rate.max(1e-9)
        );
    }
    let _ = writeln!(
        out,
        "  server CPU per pod, Deployment / bare create       {:>6.2}",
        cpu_ms_per_pod(d.cpu_until_bound.server + d.cpu_tail.server, n)
            / cpu_ms_per_pod(f.bare.cpu.server, n).max(1e-9)
    );

    let _ = writeln!(out, "\nAim");
    let _ = writeln!(
        out,
        "  {n} pods created and bound     {bound_rate:>7.0} pods/s   aim >= {AIM_PODS_PER_SECOND:.0} pods/s   {}",
        pass_or_miss(bound_rate >= AIM_PODS_PER_SECOND)
    );
    let _ = writeln!(
        out,
        "  ({:.0}x what KWOK advertises, {KWOK_PODS_PER_SECOND:.0} pods/s)",
        bound_rate / KWOK_PODS_PER_SECOND
    );
    out
}
