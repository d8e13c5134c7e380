//! The OCI `config.json` for one container, computed from plain values: the pure
//! half of the runtime. Defaults follow what a Kubernetes pod gets from kubelet +
//! containerd's CRI plugin (`containerd/pkg/oci/spec.go`, `mounts.go`,
//! `internal/cri/server/container_create_linux.go`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::resources::Resources;

/// Errors from building a container's OCI configuration.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The container has no command to run.
    #[error("failed to build the OCI config: {0}")]
    Invalid(String),
}

/// Kubernetes' default capability set: containerd's `oci.defaultUnixCaps()`, which
/// the CRI plugin grants to every container that does not add or drop any.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths containerd masks in every container (`populateDefaultUnixSpec`): they leak
/// host information or let a container poke the host kernel.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/proc/scsi",
];

/// Paths containerd makes read-only in every container.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What the container runs: the result of merging the container spec with the
/// image config (the image store's `process_for`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (`securityContext.supplementalGroups`, fsGroup).
    pub additional_gids: Vec<u32>,
}

/// The root filesystem a container runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootFs {
    /// An unpacked image: the read-only lower layer of a per-container overlay.
    Image(PathBuf),
    /// The node's own filesystem, read-only (images imported as "host"), with a
    /// private tmpfs on /tmp so programs that need scratch space still work.
    HostReadOnly,
}

/// How a container gets one kind of namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Namespace {
    /// A fresh namespace for this container.
    #[default]
    New,
    /// Join an existing one, e.g. the pod's network namespace from the sandbox.
    Join(PathBuf),
    /// Share the node's (hostNetwork, hostIPC, hostPID).
    Host,
}

/// The namespaces of a container. The mount namespace is always new.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Namespaces {
    pub network: Namespace,
    pub uts: Namespace,
    pub ipc: Namespace,
    /// `New` unless the pod sets `shareProcessNamespace` (then `Join` the pod's).
    pub pid: Namespace,
}

/// A bind mount from the node into the container (the pod's /etc/hosts,
/// /etc/resolv.conf, volumes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// Everything needed to build a container's OCI configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    pub process: ProcessSpec,
    pub root: RootFs,
    /// Set only when the UTS namespace is new (a joined or host one keeps its name).
    pub hostname: Option<String>,
    pub namespaces: Namespaces,
    pub mounts: Vec<BindMount>,
    pub resources: Resources,
    /// `!allowPrivilegeEscalation`; Kubernetes' default is false.
    pub no_new_privileges: bool,
    /// kubelet's QoS-based `oom_score_adj` for the container.
    pub oom_score_adj: Option<i32>,
    /// The cgroup, relative to each hierarchy's root (see `cgroup::cgroups_path`).
    pub cgroups_path: String,
}

/// The subset of the OCI runtime spec (`config.json`) that Skiff writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciConfig {
    pub oci_version: String,
    pub process: OciProcess,
    pub root: OciRoot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub mounts: Vec<OciMount>,
    pub linux: OciLinux,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciProcess {
    pub terminal: bool,
    pub user: OciUser,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub capabilities: OciCapabilities,
    /// Empty by default: containerd 2 dropped its 1024-file default from
    /// `oci/spec.go`, so containers inherit the runtime's limits (the daemon's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<OciRlimit>,
    pub no_new_privileges: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciUser {
    pub uid: u32,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

/// Capability sets. Inheritable and ambient stay empty, as containerd has done
/// since CVE-2022-24769.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciCapabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciRlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciRoot {
    pub path: PathBuf,
    pub readonly: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciMount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciLinux {
    pub namespaces: Vec<OciNamespace>,
    pub resources: OciResources,
    pub cgroups_path: String,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciNamespace {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciResources {
    pub devices: Vec<OciDeviceRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<OciMemory>,
    pub cpu: OciCpu,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciDeviceRule {
    pub allow: bool,
    pub access: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciMemory {
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OciCpu {
    pub shares: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
}

fn mount(destination: &str, kind: &str, source: &str, options: &[&str]) -> OciMount {
    OciMount {
        destination: destination.to_owned(),
        kind: kind.to_owned(),
        source: source.to_owned(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    }
}

/// containerd's default mounts (`oci/mounts.go`) minus `/run`, which the CRI plugin
/// removes (`WithoutRunMount`), plus the read-only cgroup mount the CRI plugin adds.
fn default_mounts() -> Vec<OciMount> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ]
}

fn namespace(kind: &str, mode: &Namespace) -> Option<OciNamespace> {
    match mode {
        Namespace::New => Some(OciNamespace {
            kind: kind.to_owned(),
            path: None,
        }),
        Namespace::Join(path) => Some(OciNamespace {
            kind: kind.to_owned(),
            path: Some(path.clone()),
        }),
        // Leaving a namespace out of the list is how OCI says "the runtime's own".
        Namespace::Host => None,
    }
}

/// Builds the OCI configuration. `rootfs` is the directory crun pivots into: the
/// container's overlay for images, a bind of the node's `/` for host images.
pub fn oci_config(config: &ContainerConfig, rootfs: &Path) -> Result<OciConfig, SpecError> {
    if config.process.args.is_empty() {
        return Err(SpecError::Invalid("the container has no command".into()));
    }
    let capabilities: Vec<String> = DEFAULT_CAPABILITIES
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let mut mounts = default_mounts();
    let root = match &config.root {
        RootFs::Image(_) => OciRoot {
            path: rootfs.to_owned(),
            readonly: false,
        },
        RootFs::HostReadOnly => {
            // The node's root already has sysfs and cgroup mounts under /sys, and
            // mounting a fresh sysfs over them fails (EBUSY): reuse them read-only.
            mounts.retain(|m| !m.destination.starts_with("/sys"));
            mounts.push(mount("/sys", "bind", "/sys", &["rbind", "rprivate", "ro"]));
            mounts.push(mount(
                "/tmp",
                "tmpfs",
                "tmpfs",
                &["nosuid", "nodev", "mode=1777"],
            ));
            OciRoot {
                path: rootfs.to_owned(),
                readonly: true,
            }
        }
    };
    // kubelet/CRI bind mounts are recursive and private: nothing the container
    // mounts propagates back to the node.
    mounts.extend(config.mounts.iter().map(|bind| {
        let mut options = vec!["rbind".to_owned(), "rprivate".to_owned()];
        if bind.read_only {
            options.push("ro".to_owned());
        }
        OciMount {
            destination: bind.destination.clone(),
            kind: "bind".to_owned(),
            source: bind.source.to_string_lossy().into_owned(),
            options,
        }
    }));
    let ns = &config.namespaces;
    let namespaces = [
        Some(OciNamespace {
            kind: "mount".to_owned(),
            path: None,
        }),
        namespace("network", &ns.network),
        namespace("uts", &ns.uts),
        namespace("ipc", &ns.ipc),
        namespace("pid", &ns.pid),
    ]
    .into_iter()
    .flatten()
    .collect();
    let cpu = config.resources.cpu_settings();
    Ok(OciConfig {
        oci_version: "1.0.2".to_owned(),
        process: OciProcess {
            terminal: false,
            user: OciUser {
                uid: config.process.uid,
                gid: config.process.gid,
                additional_gids: config.process.additional_gids.clone(),
            },
            args: config.process.args.clone(),
            env: config.process.env.clone(),
            cwd: if config.process.cwd.is_empty() {
                "/".to_owned()
            } else {
                config.process.cwd.clone()
            },
            capabilities: OciCapabilities {
                bounding: capabilities.clone(),
                effective: capabilities.clone(),
                permitted: capabilities,
            },
            rlimits: Vec::new(),
            no_new_privileges: config.no_new_privileges,
            oom_score_adj: config.oom_score_adj,
        },
        root,
        // A hostname can only be set in a UTS namespace of the container's own.
        hostname: match ns.uts {
            Namespace::New => config.hostname.clone(),
            _ => None,
        },
        mounts,
        linux: OciLinux {
            namespaces,
            resources: OciResources {
                // The CRI plugin denies every device, then the runtime re-allows the
                // OCI default ones (null, zero, full, random, urandom, tty, ptmx).
                devices: vec![OciDeviceRule {
                    allow: false,
                    access: "rwm".to_owned(),
                }],
                memory: config.resources.memory_limit_bytes.map(|limit| OciMemory {
                    limit: i64::try_from(limit).unwrap_or(i64::MAX),
                }),
                cpu: OciCpu {
                    shares: cpu.shares,
                    quota: cpu.quota,
                    period: cpu.quota.map(|_| cpu.period),
                },
            },
            cgroups_path: config.cgroups_path.clone(),
            masked_paths: MASKED_PATHS.iter().map(|p| (*p).to_owned()).collect(),
            readonly_paths: READONLY_PATHS.iter().map(|p| (*p).to_owned()).collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_container() -> ContainerConfig {
        ContainerConfig {
            process: ProcessSpec {
                args: vec!["/app/server".into(), "--port=8081".into()],
                env: vec!["PATH=/usr/bin:/bin".into(), "POD_NAME=web-0".into()],
                cwd: "/app".into(),
                uid: 1000,
                gid: 1000,
                additional_gids: vec![2000],
            },
            root: RootFs::Image("/var/lib/skiff/images/abc/rootfs".into()),
            hostname: Some("web-0".into()),
            namespaces: Namespaces {
                network: Namespace::Join("/run/netns/skiff-pod-1".into()),
                ..Namespaces::default()
            },
            mounts: vec![
                BindMount {
                    source: "/var/lib/skiff/pods/1/etc-hosts".into(),
                    destination: "/etc/hosts".into(),
                    read_only: false,
                },
                BindMount {
                    source: "/var/lib/skiff/pods/1/resolv.conf".into(),
                    destination: "/etc/resolv.conf".into(),
                    read_only: true,
                },
            ],
            resources: Resources::from_quantities(Some("64Mi"), Some("250m"), Some("500m"))
                .unwrap(),
            no_new_privileges: false,
            oom_score_adj: Some(999),
            cgroups_path: "/skiff/pod1/c1".into(),
        }
    }

    #[test]
    fn should_match_the_golden_config_for_a_pod_container() {
        let config =
            oci_config(&pod_container(), Path::new("/state/containers/c1/rootfs")).unwrap();
        let actual = serde_json::to_value(&config).unwrap();
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("testdata/pod_container.json")).unwrap();
        assert_eq!(
            actual,
            golden,
            "actual:\n{}",
            serde_json::to_string_pretty(&actual).unwrap()
        );
    }

    #[test]
    fn should_use_the_node_root_read_only_with_a_private_tmp_for_host_images() {
        let mut container = pod_container();
        container.root = RootFs::HostReadOnly;
        let config = oci_config(&container, Path::new("/state/c1/rootfs")).unwrap();
        assert_eq!(config.root.path, PathBuf::from("/state/c1/rootfs"));
        assert!(config.root.readonly);
        assert!(config
            .mounts
            .iter()
            .any(|m| m.destination == "/tmp" && m.kind == "tmpfs"));
    }

    #[test]
    fn should_leave_host_namespaces_out_and_not_set_a_hostname_for_host_network_pods() {
        let mut container = pod_container();
        container.namespaces.network = Namespace::Host;
        container.namespaces.uts = Namespace::Host;
        let config = oci_config(&container, Path::new("/r")).unwrap();
        let kinds: Vec<&str> = config
            .linux
            .namespaces
            .iter()
            .map(|n| n.kind.as_str())
            .collect();
        assert_eq!(kinds, ["mount", "ipc", "pid"]);
        assert_eq!(config.hostname, None);
    }

    #[test]
    fn should_join_the_pod_pid_namespace_when_it_is_shared() {
        let mut container = pod_container();
        container.namespaces.pid = Namespace::Join("/proc/42/ns/pid".into());
        let config = oci_config(&container, Path::new("/r")).unwrap();
        let pid = config
            .linux
            .namespaces
            .iter()
            .find(|n| n.kind == "pid")
            .unwrap();
        assert_eq!(pid.path.as_deref(), Some(Path::new("/proc/42/ns/pid")));
    }

    #[test]
    fn should_give_best_effort_containers_minimum_shares_and_no_quota_or_memory_limit() {
        let mut container = pod_container();
        container.resources = Resources::default();
        let config = oci_config(&container, Path::new("/r")).unwrap();
        assert_eq!(
            config.linux.resources.cpu,
            OciCpu {
                shares: 2,
                quota: None,
                period: None
            }
        );
        assert_eq!(config.linux.resources.memory, None);
    }

    #[test]
    fn should_refuse_a_container_without_a_command() {
        let mut container = pod_container();
        container.process.args.clear();
        assert!(oci_config(&container, Path::new("/r")).is_err());
    }
}
