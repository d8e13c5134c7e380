//! Network namespaces: create one persisted as a bind-mounted file, remove it, and run work inside one.
//!
//! A namespace belongs to a thread, not to a process: `setns` moves only the
//! calling thread. So every piece of work that must happen inside a namespace
//! runs here on a dedicated std thread that enters it and then exits, and async
//! netlink work gets that thread's own current-thread tokio runtime. A shared
//! tokio worker never changes namespace. Persisting a namespace by bind-mounting
//! its `nsfs` file follows iproute2's `ip netns add` (`ip/ipnetns.c`) and the
//! CNI plugins' `pkg/testutils/netns_linux.go`.

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Errors creating, entering or removing a network namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// `unshare(CLONE_NEWNET)` or bind-mounting the new namespace failed.
    #[error("failed to create network namespace: {0}")]
    Create(String),
    /// Opening a namespace file or `setns` into it failed.
    #[error("failed to enter network namespace: {0}")]
    Enter(String),
    /// Unmounting or deleting a namespace file failed.
    #[error("failed to remove network namespace: {0}")]
    Remove(String),
    /// The worker thread or its tokio runtime could not run.
    #[error("failed to run work inside a network namespace: {0}")]
    Worker(String),
}

/// `NSFS_MAGIC` from `linux/magic.h`: the filesystem type of namespace files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Whether `path` is a mounted namespace file (and not just the empty file under it).
pub fn is_netns_mount(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    // SAFETY: `statfs` is plain old data; fstatfs only writes into it.
    let mut stats: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: the fd is open for the duration of the call and `stats` is valid.
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), &mut stats) };
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between libc targets.
    let is_nsfs = rc == 0 && stats.f_type as i64 == NSFS_MAGIC;
    is_nsfs
}

/// Creates a new, empty network namespace and keeps it alive by bind-mounting it onto `path`.
///
/// Idempotent: a namespace already mounted at `path` is kept. An empty file left
/// by a crash between creating the file and mounting is reused.
pub fn create_persistent_netns(path: &Path) -> Result<(), NetnsError> {
    if is_netns_mount(path) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| NetnsError::Create(format!("{}: {e}", dir.display())))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| NetnsError::Create(format!("{}: {e}", path.display())))?;
    run_on_fresh_thread(|| {
        unshare(CloneFlags::CLONE_NEWNET)
            .map_err(|e| NetnsError::Create(format!("unshare: {e}")))?;
        // This thread's own namespace file: /proc/self would name the main thread's.
        let own_netns = format!("/proc/self/task/{}/ns/net", nix::unistd::gettid());
        mount(
            Some(own_netns.as_str()),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            NetnsError::Create(format!("bind-mount {own_netns} on {}: {e}", path.display()))
        })
    })?
    .inspect_err(|_| {
        let _ = fs::remove_file(path);
    })
}

/// Unmounts and deletes a namespace file. Missing files and files that are no
/// longer mounted are fine, so this is safe to repeat and to run after a crash.
///
/// The namespace itself disappears once no process and no other mount holds it.
pub fn remove_persistent_netns(path: &Path) -> Result<(), NetnsError> {
    // Lazy unmount, as `ip netns delete` does, so a process still inside does not block us.
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => {
            return Err(NetnsError::Remove(format!(
                "unmount {}: {e}",
                path.display()
            )))
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetnsError::Remove(format!("{}: {e}", path.display()))),
    }
}

/// Runs `work` on a new thread that has entered the namespace at `netns`
/// (`None`: it stays in the calling thread's namespace). The thread ends with the work.
pub fn run_in_netns<T: Send>(
    netns: Option<&Path>,
    work: impl FnOnce() -> T + Send,
) -> Result<T, NetnsError> {
    run_on_fresh_thread(|| {
        if let Some(netns) = netns {
            enter_netns(netns)?;
        }
        Ok(work())
    })?
}

/// Runs an async netlink job inside the namespace at `netns` (`None`: the
/// caller's), on a dedicated thread with its own current-thread runtime and a
/// route-netlink connection opened inside that namespace.
pub fn with_netlink<T, Job, Fut>(netns: Option<&Path>, job: Job) -> Result<T, NetnsError>
where
    T: Send,
    Job: FnOnce(rtnetlink::Handle) -> Fut + Send,
    Fut: Future<Output = T>,
{
    run_in_netns(netns, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NetnsError::Worker(format!("tokio runtime: {e}")))?;
        runtime.block_on(async {
            // The socket belongs to the namespace of the thread that opens it: this one.
            let (connection, handle, _) = rtnetlink::new_connection()
                .map_err(|e| NetnsError::Worker(format!("netlink socket: {e}")))?;
            let connection_task = tokio::spawn(connection);
            let outcome = job(handle).await;
            connection_task.abort();
            Ok(outcome)
        })
    })?
}

/// Moves the calling thread into the namespace at `path`.
fn enter_netns(path: &Path) -> Result<(), NetnsError> {
    let file =
        File::open(path).map_err(|e| NetnsError::Enter(format!("{}: {e}", path.display())))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| NetnsError::Enter(format!("setns {}: {e}", path.display())))
}

/// Runs `work` on a scoped std thread, so whatever namespace it enters dies with it.
fn run_on_fresh_thread<T: Send>(work: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("skiff-netns".into())
            .spawn_scoped(scope, work)
            .map_err(|e| NetnsError::Worker(format!("spawn thread: {e}")))?
            .join()
            .map_err(|_| NetnsError::Worker("the namespace thread panicked".into()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_not_take_a_plain_file_or_a_missing_path_for_a_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        fs::write(&plain, "").unwrap();
        assert!(!is_netns_mount(&plain));
        assert!(!is_netns_mount(&dir.path().join("missing")));
        assert!(is_netns_mount(Path::new("/proc/self/ns/net")));
    }

    #[test]
    fn should_remove_missing_or_unmounted_files_without_error() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("left-by-a-crash");
        fs::write(&plain, "").unwrap();
        remove_persistent_netns(&plain).unwrap();
        assert!(!plain.exists());
        remove_persistent_netns(&plain).unwrap();
    }
}
