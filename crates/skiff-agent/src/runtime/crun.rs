//! The `crun` command line: create, start, kill, delete, state and list against
//! one state root (`crun --root`), whose on-disk state is what lets containers
//! outlive the agent.

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::process::Command;

/// Errors from running crun.
#[derive(Debug, thiserror::Error)]
pub enum CrunError {
    /// crun could not be started at all (not installed?).
    #[error("failed to run crun: {0}")]
    Spawn(io::Error),
    /// crun ran and reported a failure.
    #[error("failed to {action} container {id}: {message}")]
    Failed {
        action: &'static str,
        id: String,
        message: String,
    },
    /// crun's JSON output could not be read.
    #[error("failed to parse crun output: {0}")]
    Parse(serde_json::Error),
}

/// The state of a container as crun reports it (`crun state`, `crun list`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CrunState {
    pub id: String,
    #[serde(default)]
    pub pid: i32,
    /// `created`, `running`, `stopped` or `paused`.
    pub status: String,
    pub bundle: PathBuf,
    #[serde(default)]
    pub created: String,
}

/// One crun installation and state root.
#[derive(Debug, Clone)]
pub struct Crun {
    binary: PathBuf,
    root: PathBuf,
    hide_unified_cgroup: bool,
}

impl Crun {
    /// `hide_unified_cgroup`: run crun where `/sys/fs/cgroup/unified` is not
    /// mounted (see `CgroupMode::Hybrid`).
    pub fn new(binary: PathBuf, root: PathBuf, hide_unified_cgroup: bool) -> Crun {
        Crun {
            binary,
            root,
            hide_unified_cgroup,
        }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(&self.root);
        command.stdin(Stdio::null());
        if self.hide_unified_cgroup {
            // SAFETY: the closure only makes raw syscalls on pre-built C strings,
            // which is async-signal-safe between fork and exec.
            unsafe {
                command.pre_exec(hide_unified_cgroup());
            }
        }
        command
    }

    /// A blocking equivalent of `command`, for clean-up where no runtime runs.
    pub fn std_command(&self) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(&self.binary);
        command.arg("--root").arg(&self.root);
        command.stdin(Stdio::null());
        if self.hide_unified_cgroup {
            // SAFETY: as in `command`.
            unsafe {
                command.pre_exec(hide_unified_cgroup());
            }
        }
        command
    }

    async fn run(
        &self,
        action: &'static str,
        id: &str,
        args: &[&str],
    ) -> Result<Vec<u8>, CrunError> {
        let output = self
            .command()
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(CrunError::Spawn)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(CrunError::Failed {
                action,
                id: id.to_owned(),
                message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// `crun create`: sets the container up and leaves its process waiting for
    /// `start`. crun hands its own stdio to the container process (its
    /// "pass-through" mode without a terminal), so `stdout`/`stderr` become the
    /// container's. crun's own errors go to `log_file` too.
    pub async fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        log_file: &Path,
        stdout: OwnedFd,
        stderr: OwnedFd,
    ) -> Result<(), CrunError> {
        let status = {
            // Scoped so the command, and with it our copies of the stdio
            // descriptors, are dropped as soon as crun has exited.
            let mut command = self.command();
            command
                .arg(format!("--log={}", log_file.display()))
                .arg("create")
                .arg("--bundle")
                .arg(bundle)
                .arg("--pid-file")
                .arg(pid_file)
                .arg(id)
                .stdout(Stdio::from(stdout))
                .stderr(Stdio::from(stderr))
                .kill_on_drop(true);
            command.status().await.map_err(CrunError::Spawn)?
        };
        if status.success() {
            return Ok(());
        }
        let message = std::fs::read_to_string(log_file).unwrap_or_default();
        Err(CrunError::Failed {
            action: "create",
            id: id.to_owned(),
            message: message.trim().to_owned(),
        })
    }

    /// `crun start`: runs the user's process.
    pub async fn start(&self, id: &str) -> Result<(), CrunError> {
        self.run("start", id, &["start", id]).await.map(drop)
    }

    /// `crun kill --all`: signals every process in the container's cgroup.
    pub async fn kill_all(&self, id: &str, signal: &str) -> Result<(), CrunError> {
        self.run("kill", id, &["kill", "--all", id, signal])
            .await
            .map(drop)
    }

    /// `crun delete --force`: kills what is left and removes the container's state
    /// and cgroup.
    pub async fn delete(&self, id: &str) -> Result<(), CrunError> {
        self.run("delete", id, &["delete", "--force", id])
            .await
            .map(drop)
    }

    /// `crun state`.
    pub async fn state(&self, id: &str) -> Result<CrunState, CrunError> {
        let output = self.run("inspect", id, &["state", id]).await?;
        serde_json::from_slice(&output).map_err(CrunError::Parse)
    }

    /// `crun list`.
    pub async fn list(&self) -> Result<Vec<CrunState>, CrunError> {
        let output = self
            .run("list", "(all)", &["list", "--format", "json"])
            .await?;
        parse_list(&output)
    }
}

/// Parses `crun list --format json` (an empty list prints as `[` `]` on two lines).
pub fn parse_list(output: &[u8]) -> Result<Vec<CrunState>, CrunError> {
    serde_json::from_slice(output).map_err(CrunError::Parse)
}

/// A pre-exec hook: enter a new mount namespace that is a slave of the node's
/// (so nothing done here propagates back), and lazily unmount the v2 hierarchy
/// there. The mount namespace of a container crun creates from here is built
/// from this one, which is fine: containers get their own `/sys/fs/cgroup`.
fn hide_unified_cgroup() -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
    let root = CString::new("/").expect("no NUL");
    let unified = CString::new("/sys/fs/cgroup/unified").expect("no NUL");
    move || {
        // SAFETY: plain syscalls with valid NUL-terminated strings.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_SLAVE,
                std::ptr::null(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            if libc::umount2(unified.as_ptr(), libc::MNT_DETACH) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_parse_crun_list_output_including_an_empty_list() {
        assert!(parse_list(b"[\n\n]\n").unwrap().is_empty());
        let listed = parse_list(
            br#"[{"id":"c1","pid":1229,"status":"running","bundle":"/b","created":"2026-11-22T00:02:27.916025Z","owner":"root"}]"#,
        )
        .unwrap();
        assert_eq!(listed[0].id, "c1");
        assert_eq!(listed[0].pid, 1229);
        assert_eq!(listed[0].status, "running");
    }
}
