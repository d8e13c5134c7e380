//! The container runtime: containers run through the OCI runtime `crun` (Debian's
//! package), driven by OCI bundles we generate.
//!
//! Why crun rather than our own clone/pivot_root code: it handles cgroup v1 and v2,
//! every namespace, capabilities, masked paths and seccomp maturely, the way
//! containerd + runc do for Kubernetes; it keeps each container's state on disk
//! (`--root`), so running containers survive an agent restart and can be adopted;
//! and what we own stays small and auditable: a pure `config.json` builder
//! (`spec`), an overlay mount (`rootfs`), log copiers (`logs`) and this driver.
//!
//! How a container runs (containerd-shim's job, done here in-process):
//! - the agent is a child subreaper, so when `crun create` exits the container's
//!   init becomes our child; a pidfd tells us when it exits and `waitpid` gives
//!   its status; OOM kills are read from the memory cgroup (`cgroup`);
//! - the container's stdout and stderr are FIFOs in its directory that it holds
//!   open read-write: it never gets SIGPIPE while the agent is away (writes block
//!   once the pipe buffer is full), and a restarted agent reopens them and carries
//!   on copying into the CRI log.
//!
//! What survives an agent restart (`Runtime::adopt`): every container crun knows
//! (created, running or stopped), its processes, its pending output, its log file
//! and its OOM-kill record (the cgroup stays until delete). What does not: the exit
//! code of a container that exits while or after the agent was down (its init is
//! no longer our child, so init reaps it; `ExitStatus::code` is `None`, kubelet's
//! "ContainerStatusUnknown"), and output a container wrote just before exiting
//! while no agent was reading.

pub mod cgroup;
pub mod crun;
pub mod logs;
pub mod resources;
pub mod rootfs;
pub mod spec;

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cgroup::{remove_pod_cgroups, CgroupError, CgroupMode};
pub use crun::{Crun, CrunError, CrunState};
pub use logs::{follow_logs, read_logs, LogOptions, LogRotation, LogStream, LogsError};
pub use resources::{Resources, ResourcesError};
pub use rootfs::RootfsError;
pub use spec::{
    oci_config, BindMount, ContainerConfig, Namespace, Namespaces, OciConfig, ProcessSpec, RootFs,
    SpecError,
};

use rootfs::OverlayDirs;

/// Errors from running containers.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A container or pod id has characters crun or the file system cannot take.
    #[error("failed to accept the id {0:?}: use letters, digits, '-', '_' and '.'")]
    InvalidId(String),
    /// A container with this id already exists on the node.
    #[error("failed to create container {0}: it already exists")]
    AlreadyExists(String),
    /// No container with this id is known.
    #[error("failed to find container {0}")]
    NotFound(String),
    /// The agent could not become a child subreaper.
    #[error("failed to become a child subreaper: {0}")]
    Subreaper(io::Error),
    /// The container's directory, FIFOs or files could not be set up or removed.
    #[error("failed to prepare the container's files: {0}")]
    Files(io::Error),
    /// The container's process could not be watched or signalled.
    #[error("failed to watch the container process: {0}")]
    Process(io::Error),
    /// The container's recorded metadata could not be read or written.
    #[error("failed to record the container's metadata: {0}")]
    Metadata(serde_json::Error),
    /// The container did not exit after SIGKILL.
    #[error("failed to stop container {0}: it survived SIGKILL")]
    StopTimeout(String),
    /// Building the OCI config failed.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Mounting or unmounting the root filesystem failed.
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    /// crun failed.
    #[error(transparent)]
    Crun(#[from] CrunError),
    /// The log could not be opened.
    #[error(transparent)]
    Logs(#[from] LogsError),
    /// Cgroup housekeeping failed.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
}

/// How long `wait` waits for a dead container's log copiers to drain; a process
/// that escaped into another cgroup could hold the pipes open forever.
const LOG_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a container may take to die after SIGKILL before we give up.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// A larger pipe buffer lets a chatty container run on longer while no agent reads.
const PIPE_BUFFER_BYTES: libc::c_int = 1024 * 1024;

/// Where and how the runtime keeps its state.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Holds `crun/` (crun's state root) and `containers/<id>/` (bundles).
    pub state_dir: PathBuf,
    /// The crun executable.
    pub crun_binary: PathBuf,
    /// Log rotation for every container.
    pub log_rotation: LogRotation,
}

impl RuntimeConfig {
    /// Defaults: `crun` from `PATH`, kubelet's 10 MiB × 5 files rotation.
    pub fn new(state_dir: impl Into<PathBuf>) -> RuntimeConfig {
        RuntimeConfig {
            state_dir: state_dir.into(),
            crun_binary: PathBuf::from("crun"),
            log_rotation: LogRotation::default(),
        }
    }

    fn crun_root(&self) -> PathBuf {
        self.state_dir.join("crun")
    }

    fn containers_dir(&self) -> PathBuf {
        self.state_dir.join("containers")
    }

    fn crun(&self, mode: CgroupMode) -> Crun {
        Crun::new(
            self.crun_binary.clone(),
            self.crun_root(),
            mode.hide_unified_from_crun(),
        )
    }
}

/// A container to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateContainer {
    /// Unique on the node; also crun's id.
    pub id: String,
    /// The pod's UID: the container's cgroup is `/skiff/pod<uid>/<id>`.
    pub pod_uid: String,
    /// The CRI log file (e.g. `/var/log/pods/<ns>_<name>_<uid>/<container>/0.log`).
    pub log_path: PathBuf,
    /// What to run and how (`cgroups_path` is filled in by the runtime).
    pub config: ContainerConfig,
}

/// How a container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit code, `128 + signal` when killed by a signal (as kubelet reports);
    /// `None` when unknown because the container exited while the agent was down.
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// Killed by the kernel for exceeding its memory limit (reason OOMKilled).
    pub oom_killed: bool,
    pub finished_at: DateTime<Utc>,
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, its process waiting for `start`.
    Created,
    Running,
    Exited(ExitStatus),
}

/// A container known to the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub pod_uid: String,
    pub pid: i32,
    pub state: ContainerState,
    pub log_path: PathBuf,
    /// When crun created it (RFC 3339).
    pub created: String,
}

/// What we record next to a bundle so a restarted agent can adopt the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ContainerRecord {
    id: String,
    pod_uid: String,
    log_path: PathBuf,
    cgroups_path: String,
    overlay: bool,
    log_rotation: LogRotation,
}

struct Tracked {
    record: ContainerRecord,
    pid: i32,
    pidfd: Arc<OwnedFd>,
    exit: watch::Receiver<Option<ExitStatus>>,
}

struct Inner {
    config: RuntimeConfig,
    crun: Crun,
    cgroup_mode: CgroupMode,
    containers: Mutex<HashMap<String, Arc<Tracked>>>,
}

/// Runs containers through crun. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// Prepares the state directory and makes this process a child subreaper
    /// (`PR_SET_CHILD_SUBREAPER`, as containerd-shim does) so container processes
    /// become our children once `crun create` exits. Call `adopt` next after a
    /// restart.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        std::fs::create_dir_all(config.crun_root()).map_err(RuntimeError::Files)?;
        std::fs::create_dir_all(config.containers_dir()).map_err(RuntimeError::Files)?;
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(RuntimeError::Subreaper(io::Error::last_os_error()));
        }
        let cgroup_mode = CgroupMode::detect();
        Ok(Runtime {
            inner: Arc::new(Inner {
                crun: config.crun(cgroup_mode),
                config,
                cgroup_mode,
                containers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The node's cgroup layout as detected at start.
    pub fn cgroup_mode(&self) -> CgroupMode {
        self.inner.cgroup_mode
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.inner.config.containers_dir().join(id)
    }

    fn tracked(&self, id: &str) -> Result<Arc<Tracked>, RuntimeError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| RuntimeError::NotFound(id.to_owned()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Tracked>>> {
        self.inner
            .containers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a container: its root filesystem, bundle, log copiers and crun
    /// container, its process waiting for `start`. On failure nothing is left.
    pub async fn create(&self, request: &CreateContainer) -> Result<(), RuntimeError> {
        validate_id(&request.id)?;
        validate_id(&request.pod_uid)?;
        let dir = self.container_dir(&request.id);
        if self.lock().contains_key(&request.id) || dir.exists() {
            return Err(RuntimeError::AlreadyExists(request.id.clone()));
        }
        std::fs::create_dir_all(&dir).map_err(RuntimeError::Files)?;
        let result = self.create_in(&dir, request).await;
        if result.is_err() {
            let _ = self.inner.crun.delete(&request.id).await;
            remove_container_dir(&dir);
        }
        result
    }

    async fn create_in(&self, dir: &Path, request: &CreateContainer) -> Result<(), RuntimeError> {
        let mut config = request.config.clone();
        config.cgroups_path = cgroup::cgroups_path(&request.pod_uid, &request.id);
        let overlay = OverlayDirs::in_container_dir(dir);
        match &config.root {
            RootFs::Image(lower) => rootfs::mount_overlay(lower, &overlay)?,
            RootFs::HostReadOnly => rootfs::bind_host_root(&overlay)?,
        }
        let oci = oci_config(&config, &overlay.merged)?;
        let record = ContainerRecord {
            id: request.id.clone(),
            pod_uid: request.pod_uid.clone(),
            log_path: request.log_path.clone(),
            cgroups_path: config.cgroups_path.clone(),
            overlay: matches!(config.root, RootFs::Image(_)),
            log_rotation: self.inner.config.log_rotation,
        };
        write_json(&dir.join("config.json"), &oci)?;
        write_json(&dir.join("skiff.json"), &record)?;

        let mut container_stdio = Vec::new();
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let fifo = fifo_path(dir, stream);
            nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .map_err(|e| RuntimeError::Files(e.into()))?;
            // Read-write: the container itself keeps the pipe readable (see the
            // module header). Opening a FIFO read-write never blocks on Linux.
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&fifo)
                .map_err(RuntimeError::Files)?;
            // SAFETY: fcntl on a descriptor we own; failure only means a smaller buffer.
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BUFFER_BYTES) };
            container_stdio.push(OwnedFd::from(file));
        }
        let copiers = self.spawn_log_copiers(dir, &record)?;
        let stderr = container_stdio.pop().expect("two streams");
        let stdout = container_stdio.pop().expect("two streams");
        let pid_file = dir.join("container.pid");
        self.inner
            .crun
            .create(
                &request.id,
                dir,
                &pid_file,
                &dir.join("crun.log"),
                stdout,
                stderr,
            )
            .await?;
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .map_err(RuntimeError::Files)?
            .trim()
            .parse()
            .map_err(|_| RuntimeError::Files(io::Error::other("bad pid file")))?;
        self.track(record, pid, copiers)?;
        Ok(())
    }

    fn spawn_log_copiers(
        &self,
        dir: &Path,
        record: &ContainerRecord,
    ) -> Result<Vec<JoinHandle<()>>, RuntimeError> {
        let writer = Arc::new(Mutex::new(logs::LogWriter::open(
            &record.log_path,
            record.log_rotation,
        )?));
        let mut copiers = Vec::new();
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let receiver = tokio::net::unix::pipe::OpenOptions::new()
                .open_receiver(fifo_path(dir, stream))
                .map_err(RuntimeError::Files)?;
            let writer = writer.clone();
            let id = record.id.clone();
            copiers.push(tokio::spawn(async move {
                if let Err(error) = logs::copy_stream(receiver, stream, writer).await {
                    tracing::warn!(container = %id, %error, "container log copier stopped");
                }
            }));
        }
        Ok(copiers)
    }

    /// Registers a container's process and starts watching for its exit.
    fn track(
        &self,
        record: ContainerRecord,
        pid: i32,
        copiers: Vec<JoinHandle<()>>,
    ) -> Result<(), RuntimeError> {
        let pidfd = Arc::new(pidfd_open(pid).map_err(RuntimeError::Process)?);
        let (exit_tx, exit_rx) = watch::channel(None);
        let watcher = ExitWatcher {
            pid,
            pidfd: pidfd.clone(),
            cgroup_mode: self.inner.cgroup_mode,
            cgroups_path: record.cgroups_path.clone(),
            copiers,
        };
        let id = record.id.clone();
        self.lock().insert(
            id.clone(),
            Arc::new(Tracked {
                record,
                pid,
                pidfd,
                exit: exit_rx,
            }),
        );
        tokio::spawn(async move {
            match watcher.run().await {
                Ok(status) => {
                    let _ = exit_tx.send(Some(status));
                }
                Err(error) => tracing::error!(container = %id, %error, "lost track of container"),
            }
        });
        Ok(())
    }

    /// Starts a created container's process.
    pub async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        self.tracked(id)?;
        self.inner.crun.start(id).await?;
        Ok(())
    }

    /// Sends a signal to the container's init process (through its pidfd, so a
    /// recycled pid can never be hit). A process that already exited is fine.
    pub fn signal(&self, id: &str, signal: i32) -> Result<(), RuntimeError> {
        let tracked = self.tracked(id)?;
        pidfd_send_signal(&tracked.pidfd, signal).map_err(RuntimeError::Process)
    }

    /// Waits for the container's process to exit and its output to be logged.
    pub async fn wait(&self, id: &str) -> Result<ExitStatus, RuntimeError> {
        let mut exit = self.tracked(id)?.exit.clone();
        let status = exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| RuntimeError::NotFound(id.to_owned()))?;
        Ok(status.expect("waited for Some"))
    }

    /// Kubernetes' graceful stop: SIGTERM, then SIGKILL (to every process in the
    /// container's cgroup) once `grace_period` has passed.
    pub async fn stop(&self, id: &str, grace_period: Duration) -> Result<ExitStatus, RuntimeError> {
        if grace_period > Duration::ZERO {
            self.signal(id, libc::SIGTERM)?;
            if let Ok(status) = tokio::time::timeout(grace_period, self.wait(id)).await {
                return status;
            }
        }
        self.signal(id, libc::SIGKILL)?;
        // Shared-PID-namespace pods: children of our init do not die with it.
        if let Err(error) = self.inner.crun.kill_all(id, "KILL").await {
            tracing::debug!(container = %id, %error, "crun kill --all");
        }
        tokio::time::timeout(KILL_TIMEOUT, self.wait(id))
            .await
            .map_err(|_| RuntimeError::StopTimeout(id.to_owned()))?
    }

    /// Removes a container: kills what is left, deletes it from crun (which removes
    /// its cgroup), unmounts its root filesystem and removes its directory. The log
    /// file stays (kubelet removes logs with the pod). Call `remove_pod_cgroups`
    /// once the pod's last container is gone.
    pub async fn delete(&self, id: &str) -> Result<(), RuntimeError> {
        validate_id(id)?;
        let dir = self.container_dir(id);
        let tracked = self.lock().get(id).cloned();
        if tracked.is_none() && !dir.exists() {
            return Err(RuntimeError::NotFound(id.to_owned()));
        }
        if self.inner.crun.root().join(id).exists() {
            self.inner.crun.delete(id).await?;
        }
        if tracked.is_some() {
            // crun killed it; reap it so no zombie is left behind.
            if tokio::time::timeout(KILL_TIMEOUT, self.wait(id))
                .await
                .is_err()
            {
                return Err(RuntimeError::StopTimeout(id.to_owned()));
            }
        }
        self.lock().remove(id);
        rootfs::unmount_overlay(&OverlayDirs::in_container_dir(&dir))?;
        std::fs::remove_dir_all(&dir).map_err(RuntimeError::Files)?;
        Ok(())
    }

    /// One container's state.
    pub async fn state(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        let tracked = self.tracked(id)?;
        let crun_state = self.inner.crun.state(id).await?;
        Ok(self.info(&tracked, &crun_state))
    }

    /// Every container this runtime tracks, with crun's view of it.
    pub async fn list(&self) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let listed = self.inner.crun.list().await?;
        let containers = self.lock().clone();
        Ok(listed
            .iter()
            .filter_map(|state| Some(self.info(containers.get(&state.id)?, state)))
            .collect())
    }

    fn info(&self, tracked: &Tracked, crun_state: &CrunState) -> ContainerInfo {
        let exited = *tracked.exit.borrow();
        let state = match exited {
            Some(status) => ContainerState::Exited(status),
            None if crun_state.status == "created" => ContainerState::Created,
            None => ContainerState::Running,
        };
        ContainerInfo {
            id: tracked.record.id.clone(),
            pod_uid: tracked.record.pod_uid.clone(),
            pid: tracked.pid,
            state,
            log_path: tracked.record.log_path.clone(),
            created: crun_state.created.clone(),
        }
    }

    /// After an agent restart: takes back every container crun knows in our
    /// state root (reopening its output pipes and watching its process), removes
    /// directories of containers whose creation never finished, and returns them
    /// all with their state. See the module header for what cannot be recovered.
    pub async fn adopt(&self) -> Result<Vec<ContainerInfo>, RuntimeError> {
        let listed = self.inner.crun.list().await?;
        let mut adopted = Vec::new();
        for crun_state in &listed {
            if self.lock().contains_key(&crun_state.id) {
                continue;
            }
            let dir = self.container_dir(&crun_state.id);
            let record: ContainerRecord = match std::fs::read(dir.join("skiff.json")) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(RuntimeError::Metadata)?,
                Err(error) => {
                    tracing::warn!(container = %crun_state.id, %error, "no record; not adopting");
                    continue;
                }
            };
            let copiers = self.spawn_log_copiers(&dir, &record)?;
            let alive = crun_state.pid > 0 && crun_state.status != "stopped";
            if alive && self.track(record.clone(), crun_state.pid, copiers).is_ok() {
                // Re-read after opening the pidfd: crun checks the process start
                // time, so a recycled pid shows up as stopped here.
                let now = self.inner.crun.state(&crun_state.id).await?;
                if now.status == "stopped" {
                    self.lock().remove(&crun_state.id);
                    self.track_exited(record);
                }
            } else {
                self.track_exited(record);
            }
            let tracked = self.tracked(&crun_state.id)?;
            adopted.push(self.info(&tracked, crun_state));
        }
        // Directories crun never heard of: a create interrupted by the restart.
        if let Ok(entries) = std::fs::read_dir(self.inner.config.containers_dir()) {
            for entry in entries.flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                if !listed.iter().any(|state| state.id == id) {
                    tracing::info!(container = %id, "removing an unfinished container");
                    remove_container_dir(&entry.path());
                }
            }
        }
        Ok(adopted)
    }

    /// Tracks a container whose process is gone and whose exit code is lost.
    fn track_exited(&self, record: ContainerRecord) {
        let status = ExitStatus {
            code: None,
            signal: None,
            oom_killed: self.inner.cgroup_mode.oom_kill_count(&record.cgroups_path) > 0,
            finished_at: Utc::now(),
        };
        let (_, exit) = watch::channel(Some(status));
        // A pidfd is only needed for signals, which a dead process no longer takes.
        let pidfd = match pidfd_open(std::process::id() as i32) {
            Ok(fd) => fd,
            Err(_) => return,
        };
        let id = record.id.clone();
        self.lock().insert(
            id,
            Arc::new(Tracked {
                record,
                pid: 0,
                pidfd: Arc::new(pidfd),
                exit,
            }),
        );
    }
}

/// Removes every container under a state directory, synchronously: for node
/// resets and test clean-up (also from `Drop`, where no async runtime runs).
/// Best effort; returns the ids it removed.
pub fn purge_blocking(config: &RuntimeConfig) -> Vec<String> {
    let crun = config.crun(CgroupMode::detect());
    let mut removed = Vec::new();
    let listed = crun
        .std_command()
        .args(["list", "--format", "json"])
        .output()
        .ok()
        .and_then(|output| crun::parse_list(&output.stdout).ok())
        .unwrap_or_default();
    for state in &listed {
        let _ = crun
            .std_command()
            .args(["delete", "--force", &state.id])
            .output();
        if state.pid > 0 {
            // Reap it if it was our child; bounded, as it may belong to init.
            for _ in 0..50 {
                match waitpid(Pid::from_raw(state.pid), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(10)),
                    _ => break,
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(config.containers_dir()) {
        for entry in entries.flatten() {
            let record = std::fs::read(entry.path().join("skiff.json"))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<ContainerRecord>(&bytes).ok());
            if let Some(record) = record {
                let _ = remove_pod_cgroups(&record.pod_uid);
            }
            remove_container_dir(&entry.path());
            removed.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    removed
}

/// Watches one container process until it exits.
struct ExitWatcher {
    pid: i32,
    pidfd: Arc<OwnedFd>,
    cgroup_mode: CgroupMode,
    cgroups_path: String,
    copiers: Vec<JoinHandle<()>>,
}

impl ExitWatcher {
    async fn run(self) -> io::Result<ExitStatus> {
        // A pidfd polls readable once the process has exited, child or not.
        // SAFETY: the Arc keeps the pidfd open, unchanged, for the AsyncFd's life.
        let readiness = unsafe {
            AsyncFd::register_with_interest(self.pidfd.clone(), tokio::io::Interest::READABLE)
        }
        .map_err(|error| io::Error::other(error.to_string()))?;
        let (code, signal) = loop {
            let mut guard = readiness.readable().await?;
            match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => break (Some(code), None),
                Ok(WaitStatus::Signaled(_, signal, _)) => {
                    let number = signal as i32;
                    break (Some(128 + number), Some(number));
                }
                Ok(WaitStatus::StillAlive) => guard.clear_ready(),
                Ok(_) => guard.clear_ready(),
                // Not our child (adopted after a restart): init reaps it and the
                // status is gone.
                Err(nix::Error::ECHILD) => break (None, None),
                Err(error) => return Err(error.into()),
            }
        };
        let finished_at = Utc::now();
        // Like containerd, trust the cgroup's OOM record, but only for a death the
        // OOM killer can cause: SIGKILL, or a shell reporting a child's (137).
        let killed = signal == Some(libc::SIGKILL) || code == Some(137) || code.is_none();
        let oom_killed = killed && self.cgroup_mode.oom_kill_count(&self.cgroups_path) > 0;
        for copier in self.copiers {
            let _ = tokio::time::timeout(LOG_DRAIN_TIMEOUT, copier).await;
        }
        Ok(ExitStatus {
            code,
            signal,
            oom_killed,
            finished_at,
        })
    }
}

fn fifo_path(dir: &Path, stream: LogStream) -> PathBuf {
    dir.join(match stream {
        LogStream::Stdout => "stdout.fifo",
        LogStream::Stderr => "stderr.fifo",
    })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), RuntimeError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(RuntimeError::Metadata)?;
    std::fs::write(path, bytes).map_err(RuntimeError::Files)
}

/// Best-effort removal of a container directory and its overlay mount.
fn remove_container_dir(dir: &Path) {
    if let Err(error) = rootfs::unmount_overlay(&OverlayDirs::in_container_dir(dir)) {
        tracing::warn!(dir = %dir.display(), %error, "leaving a mounted container root");
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Ids become directory names and crun ids: no separators, no dot-only names.
fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let valid = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(RuntimeError::InvalidId(id.to_owned()))
    }
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; on success it returns a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor (close-on-exec by default).
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let result = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if result < 0 {
        let error = io::Error::last_os_error();
        // ESRCH: it has already exited.
        if error.raw_os_error() != Some(libc::ESRCH) {
            return Err(error);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_accept_only_ids_that_are_safe_file_names() {
        assert!(validate_id("web-0_c1.abc").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(129)] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }
}
