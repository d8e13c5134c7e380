//! `skiff-bench`: measures a real `skiff server` process from the outside,
//! through the same kube-rs client any component uses.
//!
//! It starts `target/release/skiff` (built by `bench/run.sh`, never by this
//! binary) in a temporary data directory on a free loopback port, runs one
//! bounded workload against it, prints the report on stdout (progress on
//! stderr), and kills the server by pid. Two workloads:
//!
//! - `apiserver` ([`apiserver`]): throughput, latency and memory of the API
//!   server with ConfigMaps, beside a raw fsync and a `/readyz` baseline;
//! - `controllers` ([`controllers`]): a 1,000-replica Deployment over 10
//!   registered nodes, timed from the create until every pod exists and is
//!   bound, beside the rate of bare pod creates and of the scheduler alone.
//!
//! Without a subcommand it runs `apiserver`, as it did before there were two.

mod apiserver;
mod controllers;
mod pod_tracker;
mod registered_nodes;
mod server;
mod stats;
mod workloads;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::server::{Memory, SkiffServer};

/// Errors from any layer; the benchmark only reports them.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// No single workload may run longer than this; the whole run stays bounded
/// even if the server stalls.
pub const PHASE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Parser, Debug)]
#[command(
    name = "skiff-bench",
    about = "Benchmark a skiff server: the API server, or the controllers and scheduler",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    workload: Option<Workload>,
    /// Without a subcommand, the `apiserver` workload with these flags.
    #[command(flatten)]
    apiserver: apiserver::ApiServerArgs,
}

#[derive(Subcommand, Debug)]
enum Workload {
    /// Throughput, latency and memory of the API server (ConfigMaps).
    Apiserver(apiserver::ApiServerArgs),
    /// A 1,000-replica Deployment over 10 registered nodes: time until every
    /// pod is created and bound, and the server's CPU time.
    Controllers(controllers::ControllersArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.workload {
        None => apiserver::run(cli.apiserver).await,
        Some(Workload::Apiserver(args)) => apiserver::run(args).await,
        Some(Workload::Controllers(args)) => controllers::run(args).await,
    };
    match result {
        Ok(report) => {
            print!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("skiff-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The skiff binary to run: `explicit`, or `skiff` beside this binary (i.e.
/// target/release/skiff).
pub fn skiff_binary(explicit: Option<&Path>) -> BenchResult<PathBuf> {
    Ok(match explicit {
        Some(path) => path.to_path_buf(),
        None => std::env::current_exe()?
            .parent()
            .ok_or("this binary has no parent directory")?
            .join("skiff"),
    })
}

/// A crash explains most failures: when the server has exited, the error
/// carries the end of its log.
pub fn explain_failure(
    error: Box<dyn std::error::Error + Send + Sync>,
    server: &mut SkiffServer,
) -> Box<dyn std::error::Error + Send + Sync> {
    if server.is_running() {
        return error;
    }
    format!(
        "{error}\nthe server exited; its log ends:\n{}",
        server.log_tail(40)
    )
    .into()
}

/// The 1-, 5- and 15-minute load averages, so a reader can tell a run on a
/// busy machine (other builds, other tests) from a run on a quiet one.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

pub fn progress(message: &str) {
    eprintln!("skiff-bench: {message}");
}

pub fn pass_or_miss(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

/// Runs the workloads one after another, each bounded by `PHASE_TIMEOUT` and
/// named in any error, and reads the server's memory after each, so a peak
/// can be traced to the workload that caused it.
pub struct Phases<'a> {
    server: &'a SkiffServer,
    pub memory_after: Vec<(&'static str, Memory)>,
}

impl<'a> Phases<'a> {
    pub fn new(server: &'a SkiffServer) -> Self {
        Phases {
            server,
            memory_after: Vec::new(),
        }
    }

    pub async fn run<T>(
        &mut self,
        name: &'static str,
        work: impl std::future::Future<Output = BenchResult<T>>,
    ) -> BenchResult<T> {
        progress(name);
        let value = match tokio::time::timeout(PHASE_TIMEOUT, work).await {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => return Err(format!("{name}: {error}").into()),
            Err(_) => return Err(format!("{name}: did not finish within {PHASE_TIMEOUT:?}").into()),
        };
        self.memory_after.push((name, self.server.memory()?));
        Ok(value)
    }
}
