//! Where containers' cgroups live, how to tell whether the kernel OOM-killed one,
//! and removing a pod's cgroup parent. crun itself creates and removes each
//! container's cgroup and writes its limits.

use std::io;
use std::path::{Path, PathBuf};

/// Errors from cgroup housekeeping.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A pod's cgroup directory could not be removed (processes still inside?).
    #[error("failed to remove the pod cgroup {0}: {1}")]
    Remove(PathBuf, io::Error),
}

/// The cgroup root on every Linux node.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The parent of every pod's cgroup, as kubelet's cgroupfs driver uses `kubepods`.
pub const SKIFF_PARENT: &str = "skiff";

/// How the node mounts cgroups (crun's `libcrun_get_cgroup_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v1 only.
    Legacy,
    /// v1 controllers plus a v2 hierarchy at `/sys/fs/cgroup/unified`.
    Hybrid {
        /// Some controller (here: hugetlb) is bound to the v2 hierarchy. crun then
        /// refuses to run anything ("cgroups in hybrid mode not supported"), so we
        /// run it in a mount namespace without the v2 mount, where it sees a plain
        /// v1 node; runc likewise only uses v1 controllers in hybrid mode.
        unified_has_controllers: bool,
    },
    /// cgroup v2 only.
    Unified,
}

impl CgroupMode {
    /// Reads the node's cgroup layout.
    pub fn detect() -> CgroupMode {
        let root = Path::new(CGROUP_ROOT);
        if root.join("cgroup.controllers").exists() {
            return CgroupMode::Unified;
        }
        let unified = root.join("unified");
        if unified.join("cgroup.controllers").exists() {
            let controllers =
                std::fs::read_to_string(unified.join("cgroup.controllers")).unwrap_or_default();
            return CgroupMode::Hybrid {
                unified_has_controllers: !controllers.trim().is_empty(),
            };
        }
        CgroupMode::Legacy
    }

    /// Whether crun must be run without the v2 hierarchy in view.
    pub fn hide_unified_from_crun(self) -> bool {
        matches!(
            self,
            CgroupMode::Hybrid {
                unified_has_controllers: true
            }
        )
    }

    /// The memory controller's directory for a cgroups path.
    pub fn memory_dir(self, cgroups_path: &str) -> PathBuf {
        let relative = cgroups_path.trim_start_matches('/');
        match self {
            CgroupMode::Unified => Path::new(CGROUP_ROOT).join(relative),
            _ => Path::new(CGROUP_ROOT).join("memory").join(relative),
        }
    }

    /// Whether the kernel's OOM killer killed a process in this cgroup: v1's
    /// `memory.oom_control` `oom_kill` counter (kernel ≥ 4.13), v2's
    /// `memory.events` `oom_kill`. containerd watches the same counters.
    pub fn oom_kill_count(self, cgroups_path: &str) -> u64 {
        let dir = self.memory_dir(cgroups_path);
        let file = match self {
            CgroupMode::Unified => dir.join("memory.events"),
            _ => dir.join("memory.oom_control"),
        };
        std::fs::read_to_string(file)
            .map(|text| parse_counter(&text, "oom_kill"))
            .unwrap_or(0)
    }
}

/// The cgroups path of a container: `/skiff/pod<uid>/<container id>`, the layout of
/// kubelet's cgroupfs driver (`/kubepods/<qos>/pod<uid>/<id>`) without QoS tiers.
pub fn cgroups_path(pod_uid: &str, container_id: &str) -> String {
    format!("/{SKIFF_PARENT}/pod{pod_uid}/{container_id}")
}

/// Removes a pod's cgroup parent from every hierarchy, once crun has removed its
/// containers' cgroups (crun only removes the leaf it created). Missing
/// directories are fine.
pub fn remove_pod_cgroups(pod_uid: &str) -> Result<(), CgroupError> {
    for dir in pod_cgroup_dirs(pod_uid) {
        match std::fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(CgroupError::Remove(dir, error)),
        }
    }
    Ok(())
}

/// Every directory a pod's cgroup may have, in all hierarchies.
pub fn pod_cgroup_dirs(pod_uid: &str) -> Vec<PathBuf> {
    let relative = format!("{SKIFF_PARENT}/pod{pod_uid}");
    let mut dirs = vec![Path::new(CGROUP_ROOT).join(&relative)];
    if let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) {
        for entry in entries.flatten() {
            // Co-mounted controllers appear twice (e.g. `cpu` → `cpu,cpuacct`).
            let is_symlink = entry.file_type().map(|t| t.is_symlink()).unwrap_or(true);
            if !is_symlink {
                dirs.push(entry.path().join(&relative));
            }
        }
    }
    dirs
}

/// Reads `key value` from a flat-keyed cgroup file.
fn parse_counter(text: &str, key: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(name, _)| *name == key)
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_read_the_oom_kill_counter_from_v1_and_v2_files() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        let v2 = "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(parse_counter(v1, "oom_kill"), 2);
        assert_eq!(parse_counter(v2, "oom_kill"), 1);
        assert_eq!(parse_counter("", "oom_kill"), 0);
    }

    #[test]
    fn should_place_containers_under_their_pod_below_the_skiff_parent() {
        assert_eq!(cgroups_path("1234", "c1"), "/skiff/pod1234/c1");
        assert_eq!(
            CgroupMode::Legacy.memory_dir("/skiff/pod1/c1"),
            PathBuf::from("/sys/fs/cgroup/memory/skiff/pod1/c1")
        );
        assert_eq!(
            CgroupMode::Unified.memory_dir("/skiff/pod1/c1"),
            PathBuf::from("/sys/fs/cgroup/skiff/pod1/c1")
        );
    }
}
