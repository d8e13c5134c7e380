//! A container's writable root filesystem: an overlay whose lower layer is the
//! image's unpacked root (shared, never written) and whose upper and work
//! directories live in the container's own directory, so deleting the container
//! drops its changes, as containerd's overlayfs snapshotter does per container.

use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// Errors from mounting or unmounting a container's root filesystem.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// The image's root directory does not exist.
    #[error("failed to find the image root filesystem {0}")]
    MissingImage(PathBuf),
    /// The overlay's directories could not be created.
    #[error("failed to prepare the overlay directories: {0}")]
    Prepare(io::Error),
    /// A path cannot be given to overlayfs (it splits options on `,` and `:`).
    #[error("failed to use {0} in overlay options")]
    UnsafePath(PathBuf),
    /// The kernel refused the overlay mount.
    #[error("failed to mount the overlay: {0}")]
    Mount(nix::Error),
    /// The overlay could not be unmounted.
    #[error("failed to unmount the overlay: {0}")]
    Unmount(nix::Error),
}

/// The directories of one container's overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayDirs {
    pub merged: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
}

impl OverlayDirs {
    /// The layout inside a container's directory.
    pub fn in_container_dir(container_dir: &Path) -> OverlayDirs {
        OverlayDirs {
            merged: container_dir.join("rootfs"),
            upper: container_dir.join("upper"),
            work: container_dir.join("work"),
        }
    }
}

/// The mount options, pure so they can be checked.
pub fn overlay_options(lower: &Path, dirs: &OverlayDirs) -> Result<String, RootfsError> {
    for path in [lower, &dirs.upper, &dirs.work] {
        let text = path.to_string_lossy();
        if text.contains([',', ':']) {
            return Err(RootfsError::UnsafePath(path.to_owned()));
        }
    }
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        dirs.upper.display(),
        dirs.work.display()
    ))
}

/// Mounts the overlay at `dirs.merged`.
pub fn mount_overlay(lower: &Path, dirs: &OverlayDirs) -> Result<(), RootfsError> {
    if !lower.is_dir() {
        return Err(RootfsError::MissingImage(lower.to_owned()));
    }
    for dir in [&dirs.merged, &dirs.upper, &dirs.work] {
        std::fs::create_dir_all(dir).map_err(RootfsError::Prepare)?;
    }
    let options = overlay_options(lower, dirs)?;
    mount(
        Some("overlay"),
        &dirs.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(RootfsError::Mount)
}

/// For host images: a recursive bind of the node's `/` at `dirs.merged` (crun
/// cannot pivot_root into `/` itself), made a slave so nothing the container does
/// propagates back. crun then remounts its top read-only (`root.readonly`).
pub fn bind_host_root(dirs: &OverlayDirs) -> Result<(), RootfsError> {
    std::fs::create_dir_all(&dirs.merged).map_err(RootfsError::Prepare)?;
    let none: Option<&str> = None;
    mount(
        Some("/"),
        &dirs.merged,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(RootfsError::Mount)?;
    if let Err(error) = mount(
        none,
        &dirs.merged,
        none,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        none,
    ) {
        let _ = umount2(&dirs.merged, MntFlags::MNT_DETACH);
        return Err(RootfsError::Mount(error));
    }
    Ok(())
}

/// Unmounts the overlay (or host bind) if it is mounted. Lazily (`MNT_DETACH`), so a process that
/// still has a file open there cannot make removal fail; the kernel finishes when
/// it lets go.
pub fn unmount_overlay(dirs: &OverlayDirs) -> Result<(), RootfsError> {
    if !is_mount_point(&dirs.merged) {
        return Ok(());
    }
    match umount2(&dirs.merged, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(error) => Err(RootfsError::Unmount(error)),
    }
}

/// Whether `path` is a mount point, from /proc/self/mountinfo.
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = path.to_string_lossy();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|mount_point| unescape_mountinfo(mount_point) == wanted)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mountinfo(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_build_overlay_options_from_the_container_directory() {
        let dirs = OverlayDirs::in_container_dir(Path::new("/state/containers/c1"));
        assert_eq!(
            overlay_options(Path::new("/images/abc/rootfs"), &dirs).unwrap(),
            "lowerdir=/images/abc/rootfs,upperdir=/state/containers/c1/upper,workdir=/state/containers/c1/work"
        );
    }

    #[test]
    fn should_refuse_paths_overlayfs_would_misread() {
        let dirs = OverlayDirs::in_container_dir(Path::new("/state/c1"));
        assert!(overlay_options(Path::new("/images/a:b"), &dirs).is_err());
    }

    #[test]
    fn should_unescape_mountinfo_paths() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
    }
}
