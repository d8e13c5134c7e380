//! Applying layer tars onto a root filesystem, with OCI/Docker whiteouts, and never
//! writing outside the root.
//!
//! [`classify_entry`] is the pure decision: what one tar entry means (a file, a
//! `.wh.<name>` whiteout, a `.wh..wh..opq` opaque directory, …) or why it is refused.
//! [`LayerWriter`] carries it out. Paths are resolved inside the root the way a chroot
//! would see them: a symlink met on the way, absolute or relative, is followed *within*
//! the root (as github.com/cyphar/filepath-securejoin does), so `lib -> /usr/lib` works
//! and `etc -> /etc` cannot reach the host. Whiteouts follow image-spec `layer.md` and
//! moby's `pkg/archive` (`applyLayer`): they hide lower layers only, never entries of
//! their own layer.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use tar::EntryType;

use super::{io_error, ImageError};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// aufs metadata (`.wh..wh.plnk`, `.wh..wh.aufs`) that is neither content nor whiteout.
const AUFS_META_PREFIX: &str = ".wh..wh.";
/// Symlinks followed while resolving one path before calling it a loop (Linux: 40).
const MAX_SYMLINK_HOPS: usize = 40;

/// What one layer entry asks for. Paths are relative to the root and contain no `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayerChange {
    /// Create (or keep) a directory.
    Directory(PathBuf),
    /// Write a regular file with the entry's content.
    File(PathBuf),
    /// Create a symlink; the target is stored as written, absolute or not.
    Symlink { path: PathBuf, target: PathBuf },
    /// Create a hard link to a path already in the root.
    HardLink { path: PathBuf, target: PathBuf },
    /// Create a named pipe.
    Fifo(PathBuf),
    /// `.wh.<name>`: remove `<name>` as lower layers left it.
    Whiteout(PathBuf),
    /// `.wh..wh..opq`: hide everything lower layers put in this directory.
    OpaqueDirectory(PathBuf),
    /// Nothing to do: the root itself, device nodes (the runtime provides /dev), aufs
    /// metadata.
    Skip,
}

/// Decides what a tar entry means for the root filesystem.
pub(crate) fn classify_entry(
    path: &[u8],
    kind: EntryType,
    link: Option<&[u8]>,
) -> Result<LayerChange, ImageError> {
    let Some(rel) = root_relative(path)? else {
        return Ok(LayerChange::Skip);
    };
    let name = rel.file_name().map(|n| n.as_bytes()).unwrap_or_default();
    let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    if name == OPAQUE_MARKER.as_bytes() {
        return Ok(LayerChange::OpaqueDirectory(parent));
    }
    if name.starts_with(AUFS_META_PREFIX.as_bytes()) {
        return Ok(LayerChange::Skip);
    }
    if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(ImageError::PathEscapesRoot(
                String::from_utf8_lossy(path).into_owned(),
            ));
        }
        return Ok(LayerChange::Whiteout(
            parent.join(std::ffi::OsStr::from_bytes(hidden)),
        ));
    }
    let link_target = || {
        link.map(|l| PathBuf::from(std::ffi::OsStr::from_bytes(l)))
            .unwrap_or_default()
    };
    Ok(match kind {
        EntryType::Directory => LayerChange::Directory(rel),
        EntryType::Regular | EntryType::Continuous => LayerChange::File(rel),
        EntryType::Symlink => LayerChange::Symlink {
            path: rel,
            target: link_target(),
        },
        EntryType::Link => {
            let target = root_relative(link.unwrap_or_default())?.ok_or_else(|| {
                ImageError::PathEscapesRoot(String::from_utf8_lossy(path).into_owned())
            })?;
            LayerChange::HardLink { path: rel, target }
        }
        EntryType::Fifo => LayerChange::Fifo(rel),
        _ => LayerChange::Skip,
    })
}

/// `./usr/bin/x` or `/usr/bin/x` → `usr/bin/x`; `None` for the root itself; an error for
/// any `..`, which no honest layer contains.
fn root_relative(raw: &[u8]) -> Result<Option<PathBuf>, ImageError> {
    let mut rel = PathBuf::new();
    for component in Path::new(std::ffi::OsStr::from_bytes(raw)).components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(ImageError::PathEscapesRoot(
                    String::from_utf8_lossy(raw).into_owned(),
                ));
            }
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Applies layers, in order, onto one root filesystem directory.
pub(crate) struct LayerWriter {
    root: PathBuf,
    /// Ownership from the tar is kept only when we may chown (running as root).
    preserve_owners: bool,
    /// Directory modes are set last: a read-only directory must not stop its own
    /// children (or a later layer) from being written.
    directory_modes: BTreeMap<PathBuf, u32>,
    /// Paths written by the layer being applied; opaque directories and whiteouts
    /// spare them.
    written_this_layer: HashSet<PathBuf>,
}

impl LayerWriter {
    pub fn new(root: PathBuf) -> Self {
        LayerWriter {
            root,
            preserve_owners: nix::unistd::geteuid().is_root(),
            directory_modes: BTreeMap::new(),
            written_this_layer: HashSet::new(),
        }
    }

    /// Applies one uncompressed layer tar.
    pub fn apply_layer(&mut self, layer: impl Read) -> Result<(), ImageError> {
        let corrupt = |err: io::Error| ImageError::CorruptArchive(format!("bad layer tar: {err}"));
        self.written_this_layer.clear();
        let mut archive = tar::Archive::new(layer);
        for entry in archive.entries().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let header = entry.header();
            let kind = header.entry_type();
            let mode = header.mode().map_err(corrupt)? & 0o7777;
            // Go's archive/tar, which wrote most layers, reads an all-NUL number as 0.
            let owner = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
            let path = entry.path_bytes().into_owned();
            let link = entry.link_name_bytes().map(|l| l.into_owned());
            let change = classify_entry(&path, kind, link.as_deref())?;
            self.apply_change(change, &mut entry, mode, owner)?;
        }
        Ok(())
    }

    /// Sets the deferred directory modes, deepest first.
    pub fn finish(self) -> Result<(), ImageError> {
        for (dir, mode) in self.directory_modes.iter().rev() {
            match fs::set_permissions(dir, fs::Permissions::from_mode(*mode)) {
                // A later layer may have removed it.
                Err(err) if err.kind() != io::ErrorKind::NotFound => {
                    return Err(ImageError::Io(
                        format!("set the mode of {}", dir.display()),
                        err,
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn apply_change(
        &mut self,
        change: LayerChange,
        content: &mut dyn Read,
        mode: u32,
        (uid, gid): (u64, u64),
    ) -> Result<(), ImageError> {
        let written = match change {
            LayerChange::Skip => return Ok(()),
            LayerChange::Whiteout(rel) => {
                let host = self.resolve(&rel, false)?;
                if !self.written_this_layer.contains(&host) {
                    remove_any(&host)?;
                }
                return Ok(());
            }
            LayerChange::OpaqueDirectory(rel) => {
                let host = self.resolve(&rel, true)?;
                if fs::symlink_metadata(&host).is_ok_and(|m| m.is_dir()) {
                    self.remove_lower_entries(&host)?;
                }
                return Ok(());
            }
            LayerChange::Directory(rel) => {
                let host = self.place(&rel)?;
                if !fs::symlink_metadata(&host).is_ok_and(|m| m.is_dir()) {
                    remove_any(&host)?;
                    fs::create_dir(&host)
                        .map_err(io_error(format!("create directory {}", rel.display())))?;
                }
                self.directory_modes.insert(host.clone(), mode);
                host
            }
            LayerChange::File(rel) => {
                let host = self.place(&rel)?;
                remove_any(&host)?;
                let what = || format!("write {}", rel.display());
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&host)
                    .map_err(io_error(what()))?;
                io::copy(content, &mut file).map_err(io_error(what()))?;
                host
            }
            LayerChange::Symlink { path, target } => {
                let host = self.place(&path)?;
                remove_any(&host)?;
                std::os::unix::fs::symlink(&target, &host)
                    .map_err(io_error(format!("create symlink {}", path.display())))?;
                host
            }
            LayerChange::HardLink { path, target } => {
                let host = self.place(&path)?;
                let existing = self.resolve(&target, false)?;
                if fs::symlink_metadata(&existing).is_err() {
                    return Err(ImageError::CorruptArchive(format!(
                        "hard link {} points at {}, which is not in the image",
                        path.display(),
                        target.display()
                    )));
                }
                if existing != host {
                    remove_any(&host)?;
                    fs::hard_link(&existing, &host)
                        .map_err(io_error(format!("create hard link {}", path.display())))?;
                }
                // A hard link shares the target's inode: no mode or owner of its own.
                self.written_this_layer.insert(host);
                return Ok(());
            }
            LayerChange::Fifo(rel) => {
                let host = self.place(&rel)?;
                remove_any(&host)?;
                nix::unistd::mkfifo(&host, nix::sys::stat::Mode::from_bits_truncate(0o600))
                    .map_err(|errno| {
                        ImageError::Io(format!("create fifo {}", rel.display()), errno.into())
                    })?;
                host
            }
        };
        let is_symlink = fs::symlink_metadata(&written).is_ok_and(|m| m.file_type().is_symlink());
        if self.preserve_owners {
            // chown before chmod: chown clears setuid and setgid bits.
            std::os::unix::fs::lchown(&written, Some(uid as u32), Some(gid as u32))
                .map_err(io_error(format!("set the owner of {}", written.display())))?;
        }
        if !is_symlink && !self.directory_modes.contains_key(&written) {
            fs::set_permissions(&written, fs::Permissions::from_mode(mode))
                .map_err(io_error(format!("set the mode of {}", written.display())))?;
        }
        self.written_this_layer.insert(written);
        Ok(())
    }

    /// Resolves `rel` for writing: its parent directories exist (created 0755 if
    /// missing, as Docker does), and the returned path is the final name inside them.
    fn place(&self, rel: &Path) -> Result<PathBuf, ImageError> {
        let host = self.resolve(rel, false)?;
        if let Some(parent) = host.parent() {
            fs::create_dir_all(parent)
                .map_err(io_error(format!("create the parents of {}", rel.display())))?;
        }
        Ok(host)
    }

    fn resolve(&self, rel: &Path, follow_last: bool) -> Result<PathBuf, ImageError> {
        resolve_in_root(&self.root, rel, follow_last)
    }

    /// Opaque directory: removes everything below `dir` that this layer did not write.
    fn remove_lower_entries(&self, dir: &Path) -> Result<(), ImageError> {
        let entries = fs::read_dir(dir).map_err(io_error(format!("list {}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(io_error(format!("list {}", dir.display())))?;
            let path = entry.path();
            if !self.written_this_layer.contains(&path) {
                remove_any(&path)?;
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
                self.remove_lower_entries(&path)?;
            }
        }
        Ok(())
    }
}

/// The host path `rel` names inside the root, following symlinks within the root for
/// every component but the last (and the last too with `follow_last`).
pub(crate) fn resolve_in_root(
    root: &Path,
    rel: &Path,
    follow_last: bool,
) -> Result<PathBuf, ImageError> {
    let mut pending: VecDeque<OsString> = rel.iter().map(OsString::from).collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop(); // clamped at the root, as in a chroot
            continue;
        }
        if part == "." || part.is_empty() {
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&resolved);
        candidate.push(&part);
        let is_last = pending.is_empty();
        let is_symlink = fs::symlink_metadata(&candidate).is_ok_and(|m| m.file_type().is_symlink());
        if is_symlink && (!is_last || follow_last) {
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(ImageError::CorruptArchive(format!(
                    "too many symlinks in {}",
                    rel.display()
                )));
            }
            let target = fs::read_link(&candidate)
                .map_err(io_error(format!("read symlink {}", candidate.display())))?;
            if target.is_absolute() {
                resolved.clear();
            }
            for component in target.iter().rev() {
                if component != "/" {
                    pending.push_front(component.to_os_string());
                }
            }
            continue;
        }
        resolved.push(part);
    }
    Ok(resolved
        .iter()
        .fold(root.to_path_buf(), |path, part| path.join(part)))
}

/// Removes a file, symlink or directory tree at `path` without following a final
/// symlink; nothing there is fine.
fn remove_any(path: &Path) -> Result<(), ImageError> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    result.map_err(io_error(format!("remove {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_classify_whiteouts_and_opaque_directories() {
        assert_eq!(
            classify_entry(b"etc/.wh.passwd", EntryType::Regular, None).unwrap(),
            LayerChange::Whiteout("etc/passwd".into())
        );
        assert_eq!(
            classify_entry(b"./var/cache/.wh..wh..opq", EntryType::Regular, None).unwrap(),
            LayerChange::OpaqueDirectory("var/cache".into())
        );
        assert_eq!(
            classify_entry(b"x/.wh..wh.aufs", EntryType::Regular, None).unwrap(),
            LayerChange::Skip
        );
    }

    #[test]
    fn should_strip_leading_slashes_and_dots() {
        assert_eq!(
            classify_entry(b"/usr/bin/", EntryType::Directory, None).unwrap(),
            LayerChange::Directory("usr/bin".into())
        );
        assert_eq!(
            classify_entry(b"./", EntryType::Directory, None).unwrap(),
            LayerChange::Skip
        );
    }

    #[test]
    fn should_not_allow_parent_components_in_paths_or_hard_links() {
        assert!(matches!(
            classify_entry(b"../etc/passwd", EntryType::Regular, None),
            Err(ImageError::PathEscapesRoot(_))
        ));
        assert!(matches!(
            classify_entry(b"a/../../b", EntryType::Regular, None),
            Err(ImageError::PathEscapesRoot(_))
        ));
        assert!(matches!(
            classify_entry(b"bin/x", EntryType::Link, Some(b"../../etc/shadow")),
            Err(ImageError::PathEscapesRoot(_))
        ));
        assert!(matches!(
            classify_entry(b"a/.wh...", EntryType::Regular, None),
            Err(ImageError::PathEscapesRoot(_))
        ));
    }

    #[test]
    fn should_keep_absolute_symlink_targets_verbatim() {
        assert_eq!(
            classify_entry(b"lib", EntryType::Symlink, Some(b"/usr/lib")).unwrap(),
            LayerChange::Symlink {
                path: "lib".into(),
                target: "/usr/lib".into()
            }
        );
    }

    #[test]
    fn should_write_through_absolute_symlinks_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        fs::create_dir(&root).unwrap();
        let writer = LayerWriter::new(root.clone());
        std::os::unix::fs::symlink("/etc", root.join("config")).unwrap();
        // `config -> /etc` must lead to <root>/etc, never the host's /etc.
        assert_eq!(
            writer.resolve(Path::new("config/passwd"), false).unwrap(),
            root.join("etc/passwd")
        );
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        assert_eq!(
            writer.resolve(Path::new("up/x"), false).unwrap(),
            root.join("x")
        );
    }
}
