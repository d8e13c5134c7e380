//! The `skiff server` process under measurement: started in a temporary data
//! directory on a free loopback port, watched through `/proc`, and killed by
//! pid when dropped, so a failed run leaves neither a process nor a directory
//! behind.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::BenchResult;

/// How long the server may take to answer `/readyz` before the run gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How often readiness is probed; small, because startup time is reported.
const READY_POLL: Duration = Duration::from_millis(5);

/// A running `skiff server`.
pub struct SkiffServer {
    child: Child,
    /// Holds the data directory and the baseline's scratch files; removed on drop.
    scratch: tempfile::TempDir,
    log_path: PathBuf,
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// `VmRSS`: what is resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most that was ever resident.
    pub peak_kib: u64,
}

impl Memory {
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib as f64 / 1024.0
    }

    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }
}

/// What starting the server gave: the process, an admin client, and how long
/// it took from spawn to the first `/readyz` 200.
pub struct Started {
    pub server: SkiffServer,
    pub client: Client,
    pub startup: Duration,
}

impl SkiffServer {
    /// Spawns `binary server` and waits until `/readyz` answers 200 through an
    /// admin client built from the kubeconfig the server writes.
    pub async fn start(binary: &Path) -> BenchResult<Started> {
        if !binary.is_file() {
            return Err(format!(
                "{} does not exist; build it with `cargo build --release -p skiff` (bench/run.sh does)",
                binary.display()
            )
            .into());
        }
        let scratch = tempfile::Builder::new().prefix("skiff-bench-").tempdir()?;
        let data_dir = scratch.path().join("data");
        let kubeconfig = scratch.path().join("kubeconfig.yaml");
        let log_path = scratch.path().join("server.log");
        let port = free_loopback_port()?;

        let spawned_at = Instant::now();
        let child = Command::new(binary)
            .arg("server")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .arg("--write-kubeconfig")
            .arg(&kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log_path)?)
            .spawn()?;
        let mut server = SkiffServer {
            child,
            scratch,
            log_path,
        };

        let deadline = spawned_at + START_TIMEOUT;
        let mut client: Option<Client> = None;
        loop {
            if let Some(status) = server.child.try_wait()? {
                return Err(format!(
                    "skiff server exited during startup ({status}); log:\n{}",
                    server.log_tail(40)
                )
                .into());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "skiff server did not answer /readyz within {START_TIMEOUT:?}; log:\n{}",
                    server.log_tail(40)
                )
                .into());
            }
            // The kubeconfig appears once the server has its CA and token; a
            // half-written file just fails to parse and is retried.
            if client.is_none() {
                client = client_from_kubeconfig(&kubeconfig).await.ok();
            }
            if let Some(client) = &client {
                if readyz(client).await.is_ok() {
                    let startup = spawned_at.elapsed();
                    return Ok(Started {
                        client: client.clone(),
                        server,
                        startup,
                    });
                }
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temporary directory on the same disk as the store, for the raw
    /// write baseline.
    pub fn scratch_dir(&self) -> &Path {
        self.scratch.path()
    }

    /// Reads `VmRSS` and `VmHWM` of the server process.
    pub fn memory(&self) -> BenchResult<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let field = |name: &str| -> BenchResult<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
                .ok_or_else(|| format!("no {name} in /proc/{}/status", self.pid()).into())
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }

    /// CPU time the server has used so far (user + system), from
    /// `/proc/<pid>/stat`, so the report can say how busy the server was.
    pub fn cpu_time(&self) -> BenchResult<Duration> {
        process_cpu_time(&format!("/proc/{}/stat", self.pid()))
    }

    /// Whether the server is still running (a crash mid-run is reported).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last `lines` lines of the server's stderr.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for SkiffServer {
    fn drop(&mut self) {
        // SIGKILL to this pid only; the store is throwaway. Reap it so no
        // zombie outlives the run; the TempDir then removes the data.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time this benchmark process has used so far (user + system): the
/// client's share of the machine, which the server did not get.
pub fn own_cpu_time() -> BenchResult<Duration> {
    process_cpu_time("/proc/self/stat")
}

/// utime + stime of the process whose `stat` file is at `stat_path`.
fn process_cpu_time(stat_path: &str) -> BenchResult<Duration> {
    let stat = std::fs::read_to_string(stat_path)?;
    // The command name (field 2) is in parentheses and may hold spaces, so
    // count fields from after the closing parenthesis: utime and stime are
    // fields 14 and 15, i.e. the 12th and 13th after it.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("malformed {stat_path}"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> BenchResult<u64> {
        Ok(fields
            .get(index)
            .ok_or_else(|| format!("short {stat_path}"))?
            .parse::<u64>()?)
    };
    // USER_HZ is 100 on every Linux architecture this runs on.
    let total_ticks = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total_ticks * 10))
}

/// A port nobody listens on right now. Another process could take it before
/// the server binds, which on a quiet loopback does not happen in practice.
fn free_loopback_port() -> BenchResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn client_from_kubeconfig(path: &Path) -> BenchResult<Client> {
    let kubeconfig = Kubeconfig::read_from(path)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// One `GET /readyz` through the full client stack (TLS, auth header, HTTP),
/// which touches no store: the floor under every API request.
pub async fn readyz(client: &Client) -> BenchResult<()> {
    let request = http::Request::get("/readyz").body(Vec::new())?;
    client.request_text(request).await?;
    Ok(())
}
