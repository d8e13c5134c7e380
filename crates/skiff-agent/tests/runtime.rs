//! Real containers through crun: logs, exit codes, graceful stop, OOM kills,
//! isolation, adoption after a restart, and no leaks over many cycles. Needs root,
//! `crun` and `/bin/busybox` (Debian `crun`, `busybox-static`); skips otherwise.
//! Containers use the node's network (no netns of their own) to stay independent
//! of the sandbox code.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skiff_agent::runtime::logs::parse_entry;
use skiff_agent::runtime::{
    purge_blocking, read_logs, remove_pod_cgroups, BindMount, ContainerConfig, ContainerState,
    CreateContainer, ExitStatus, LogOptions, Namespace, Namespaces, ProcessSpec, Resources, RootFs,
    Runtime, RuntimeConfig,
};

/// Tests count mounts, cgroups and descriptors of the whole process: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BUSYBOX_APPLETS: [&str; 12] = [
    "sh", "sleep", "echo", "cat", "head", "tr", "hostname", "ls", "touch", "true", "dd", "id",
];

fn prerequisites_met() -> bool {
    let missing = if !nix::unistd::Uid::effective().is_root() {
        Some("root")
    } else if !Path::new("/bin/busybox").exists() {
        Some("/bin/busybox (apt-get install busybox-static)")
    } else if std::process::Command::new("crun")
        .arg("--version")
        .output()
        .is_err()
    {
        Some("crun (apt-get install crun)")
    } else {
        None
    };
    if let Some(what) = missing {
        // CI installs everything these tests need, so there a skip would hide a break.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test, but it needs {what}"
        );
        eprintln!("skipping: this test needs {what}");
    }
    missing.is_none()
}

/// A state directory, a busybox image and a pod; everything is removed on drop,
/// also when the test panics.
struct TestNode {
    dir: tempfile::TempDir,
    config: RuntimeConfig,
    runtime: Runtime,
    image: PathBuf,
    pod_uid: String,
}

impl TestNode {
    fn new(name: &str) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("image");
        std::fs::create_dir_all(image.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", image.join("bin/busybox")).unwrap();
        for applet in BUSYBOX_APPLETS {
            std::os::unix::fs::symlink("busybox", image.join("bin").join(applet)).unwrap();
        }
        let config = RuntimeConfig::new(dir.path().join("state"));
        let runtime = Runtime::new(config.clone()).unwrap();
        TestNode {
            pod_uid: format!("{name}-{}", std::process::id()),
            dir,
            config,
            runtime,
            image,
        }
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{id}.log"))
    }

    fn request(&self, id: &str, script: &str) -> CreateContainer {
        CreateContainer {
            id: id.to_owned(),
            pod_uid: self.pod_uid.clone(),
            log_path: self.log_path(id),
            config: ContainerConfig {
                process: ProcessSpec {
                    args: vec!["/bin/sh".into(), "-c".into(), script.into()],
                    env: vec!["PATH=/bin".into()],
                    cwd: "/".into(),
                    uid: 0,
                    gid: 0,
                    additional_gids: vec![],
                },
                root: RootFs::Image(self.image.clone()),
                hostname: Some(format!("{id}-host")),
                namespaces: Namespaces {
                    network: Namespace::Host,
                    ..Namespaces::default()
                },
                mounts: vec![],
                resources: Resources::default(),
                no_new_privileges: false,
                oom_score_adj: None,
                cgroups_path: String::new(),
            },
        }
    }

    async fn run(&self, request: &CreateContainer) -> ExitStatus {
        self.runtime.create(request).await.unwrap();
        self.runtime.start(&request.id).await.unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), self.runtime.wait(&request.id))
            .await
            .expect("the container exits in time")
            .unwrap();
        self.runtime.delete(&request.id).await.unwrap();
        status
    }

    fn logs(&self, id: &str) -> String {
        String::from_utf8(read_logs(&self.log_path(id), &LogOptions::default()).unwrap()).unwrap()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        purge_blocking(&self.config);
        let _ = remove_pod_cgroups(&self.pod_uid);
    }
}

#[tokio::test]
async fn should_log_stdout_and_stderr_in_the_cri_format() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("logs");
    let status = node
        .run(&node.request(
            "echo",
            "echo hello world; echo oops >&2; printf unterminated",
        ))
        .await;
    assert_eq!(status.code, Some(0));
    let raw = std::fs::read_to_string(node.log_path("echo")).unwrap();
    let mut lines: Vec<(String, String)> = raw
        .lines()
        .map(|line| {
            let entry = parse_entry(line.as_bytes()).unwrap_or_else(|| panic!("not CRI: {line}"));
            assert!(!entry.partial, "{line}");
            // RFC 3339 with nanoseconds, in UTC.
            assert_eq!(
                entry.timestamp.len(),
                "2024-05-01T12:00:07.000000000Z".len(),
                "{line}"
            );
            (
                format!("{:?}", entry.stream),
                String::from_utf8(entry.content.to_vec()).unwrap(),
            )
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            ("Stderr".to_owned(), "oops".to_owned()),
            ("Stdout".to_owned(), "hello world".to_owned()),
            ("Stdout".to_owned(), "unterminated".to_owned()),
        ]
    );
}

#[tokio::test]
async fn should_report_the_exit_code() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("exit");
    let status = node.run(&node.request("three", "exit 3")).await;
    assert_eq!(status.code, Some(3));
    assert_eq!(status.signal, None);
    assert!(!status.oom_killed);
}

#[tokio::test]
async fn should_stop_with_sigterm_within_the_grace_period_and_apply_cpu_limits() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("term");
    let mut request = node.request(
        "graceful",
        "trap 'echo terminating; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    );
    request.config.resources =
        Resources::from_quantities(None, Some("250m"), Some("500m")).unwrap();
    node.runtime.create(&request).await.unwrap();
    node.runtime.start("graceful").await.unwrap();
    wait_for_log(&node, "graceful", "ready").await;
    let cpu = Path::new("/sys/fs/cgroup/cpu/skiff")
        .join(format!("pod{}", node.pod_uid))
        .join("graceful");
    if cpu.exists() {
        let read = |file: &str| {
            std::fs::read_to_string(cpu.join(file))
                .unwrap()
                .trim()
                .to_owned()
        };
        assert_eq!(read("cpu.shares"), "256");
        assert_eq!(read("cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
    }
    let began = Instant::now();
    let status = node
        .runtime
        .stop("graceful", Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "stopped by SIGTERM, not the grace period"
    );
    assert_eq!(status.code, Some(0));
    assert!(node.logs("graceful").contains("terminating\n"));
    node.runtime.delete("graceful").await.unwrap();
}

#[tokio::test]
async fn should_kill_a_container_that_ignores_sigterm_after_the_grace_period() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("kill");
    // PID 1 of a namespace ignores signals it has no handler for.
    let request = node.request("stubborn", "echo ready; exec sleep 1000");
    node.runtime.create(&request).await.unwrap();
    node.runtime.start("stubborn").await.unwrap();
    wait_for_log(&node, "stubborn", "ready").await;
    let began = Instant::now();
    let status = node
        .runtime
        .stop("stubborn", Duration::from_secs(1))
        .await
        .unwrap();
    assert!(began.elapsed() >= Duration::from_secs(1));
    assert_eq!(status.signal, Some(libc::SIGKILL));
    assert_eq!(status.code, Some(137));
    assert!(!status.oom_killed);
    node.runtime.delete("stubborn").await.unwrap();
}

#[tokio::test]
async fn should_report_oom_killed_past_the_memory_limit() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("oom");
    let mut request = node.request(
        "hog",
        "x=$(head -c 64m /dev/zero | tr '\\0' x); echo survived",
    );
    request.config.resources = Resources::from_quantities(Some("16Mi"), None, None).unwrap();
    let status = node.run(&request).await;
    assert!(status.oom_killed, "{status:?}");
    assert_eq!(status.code, Some(137), "{status:?}");
    assert!(!node.logs("hog").contains("survived"));
}

#[tokio::test]
async fn should_set_the_hostname_and_hide_the_host_filesystem() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("iso");
    let secret = node.dir.path().join("secret.txt");
    std::fs::write(&secret, "host secret").unwrap();
    let hosts = node.dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let script = format!(
        "hostname; ls /; cat {} || echo no-secret; ls /root || echo no-root; cat /etc/hosts; \
         touch /bin/new && echo writable-root; cat /proc/self/status | grep CapEff",
        secret.display()
    );
    let mut request = node.request("iso", &script);
    request.config.mounts.push(BindMount {
        source: hosts,
        destination: "/etc/hosts".into(),
        read_only: true,
    });
    let status = node.run(&request).await;
    assert_eq!(status.code, Some(0));
    let logs = node.logs("iso");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines[0], "iso-host");
    assert!(logs.contains("no-secret"), "{logs}");
    assert!(!logs.contains("host secret"), "{logs}");
    assert!(logs.contains("no-root"), "{logs}");
    assert!(logs.contains("127.0.0.1 localhost"), "{logs}");
    assert!(logs.contains("writable-root"), "{logs}");
    // Kubernetes' 14 default capabilities: 0x00000000a80425fb.
    assert!(logs.contains("CapEff:\t00000000a80425fb"), "{logs}");
    assert!(
        !node.image.join("bin/new").exists(),
        "writes stay in the overlay"
    );
}

#[tokio::test]
async fn should_run_host_images_on_a_read_only_root_with_a_private_tmp() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("hostfs");
    let mut request = node.request(
        "hostfs",
        "touch /etc/skiff-should-fail 2>/dev/null || echo read-only; touch /tmp/x && echo tmp-ok",
    );
    request.config.root = RootFs::HostReadOnly;
    request.config.process.env = vec!["PATH=/usr/bin:/bin".into()];
    let status = node.run(&request).await;
    assert_eq!(status.code, Some(0));
    let logs = node.logs("hostfs");
    assert!(logs.contains("read-only"), "{logs}");
    assert!(logs.contains("tmp-ok"), "{logs}");
    assert!(!Path::new("/etc/skiff-should-fail").exists());
}

#[test]
fn should_adopt_running_containers_after_an_agent_restart() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.blocking_lock();
    // The first agent lives in its own tokio runtime, shut down to simulate a
    // restart: its watchers and log copiers die, the container does not.
    let first_agent = tokio::runtime::Runtime::new().unwrap();
    let node = first_agent.block_on(async {
        let node = TestNode::new("adopt");
        let request = node.request(
            "ticker",
            "trap 'exit 0' TERM; while true; do echo tick; sleep 0.1; done",
        );
        node.runtime.create(&request).await.unwrap();
        node.runtime.start("ticker").await.unwrap();
        wait_for_log(&node, "ticker", "tick").await;
        node
    });
    first_agent.shutdown_timeout(Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(300));

    let second_agent = tokio::runtime::Runtime::new().unwrap();
    second_agent.block_on(async {
        let runtime = Runtime::new(node.config.clone()).unwrap();
        let adopted = runtime.adopt().await.unwrap();
        assert_eq!(adopted.len(), 1);
        assert_eq!(adopted[0].id, "ticker");
        assert_eq!(adopted[0].state, ContainerState::Running);
        let before = node.logs("ticker").lines().count();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let after = node.logs("ticker").lines().count();
        assert!(after > before, "logging resumed: {before} → {after}");
        let status = runtime
            .stop("ticker", Duration::from_secs(10))
            .await
            .unwrap();
        // Still our child (same process), so the exit code is known here; after a
        // real restart it would be `None`.
        assert!(
            status.code == Some(0) || status.code.is_none(),
            "{status:?}"
        );
        runtime.delete("ticker").await.unwrap();
    });
    drop(node);
}

#[tokio::test]
async fn should_leak_no_mounts_cgroups_state_or_descriptors_over_50_cycles() {
    if !prerequisites_met() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let node = TestNode::new("leak");
    let cycle = |index: usize| {
        let request = node.request(&format!("cycle-{index}"), "echo hi");
        let node = &node;
        async move {
            let status = node.run(&request).await;
            assert_eq!(status.code, Some(0));
            remove_pod_cgroups(&node.pod_uid).unwrap();
        }
    };
    cycle(0).await; // warm up lazily created runtime descriptors
    let before = snapshot(&node);
    for index in 1..=50 {
        cycle(index).await;
    }
    let after = snapshot(&node);
    assert_eq!(before, after);
}

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    mounts: usize,
    pod_cgroup_dirs: usize,
    crun_containers: usize,
    container_dirs: usize,
    open_descriptors: usize,
}

fn snapshot(node: &TestNode) -> Snapshot {
    let count = |dir: &Path| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    let state = node.config.state_dir.clone();
    Snapshot {
        mounts: std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count(),
        pod_cgroup_dirs: skiff_agent::runtime::cgroup::pod_cgroup_dirs(&node.pod_uid)
            .iter()
            .filter(|dir| dir.exists())
            .count(),
        crun_containers: count(&state.join("crun")),
        container_dirs: count(&state.join("containers")),
        open_descriptors: count(Path::new("/proc/self/fd")),
    }
}

async fn wait_for_log(node: &TestNode, id: &str, text: &str) {
    for _ in 0..100 {
        if node.logs(id).contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never logged {text:?}: {}", node.logs(id));
}
