//! Pod sandboxes against the real kernel: each test builds a node inside its own test-host network namespace, wires pods into it, proves traffic flows, and leaves nothing behind.
//!
//! Needs root and iproute2 (`ip netns`) and util-linux (`nsenter`). Nothing is
//! ever configured in the machine's root namespace and no packet leaves the
//! test host namespace (pods only talk to each other and to their gateway).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use skiff_agent::network::ipam::IpamError;
use skiff_agent::network::links::link_names;
use skiff_agent::network::netns::{
    create_persistent_netns, is_netns_mount, run_in_netns, with_netlink,
};
use skiff_agent::network::{
    host_veth_name, Ipv4Cidr, NodeNetwork, NodeNetworkConfig, NodeNetworkError, SandboxError,
    SysctlOutcome,
};

const POD_A: &str = "0a0a0a0a-1111-4aaa-8aaa-00000000000a";
const POD_B: &str = "0b0b0b0b-2222-4bbb-8bbb-00000000000b";

/// A node's network namespace made for one test, with its own run dir; both
/// are removed on drop, also when the test panics.
struct TestHost {
    name: String,
    netns_path: PathBuf,
    run_dir: tempfile::TempDir,
}

impl TestHost {
    /// `None` when the tests cannot run here (not root, or no `ip`).
    fn new() -> Option<Self> {
        if !nix::unistd::geteuid().is_root() || Command::new("ip").arg("-V").output().is_err() {
            // CI installs everything these tests need, so there a skip would hide a break.
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run this test, but it needs root and iproute2"
            );
            eprintln!("skipping: needs root and iproute2");
            return None;
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "skiff-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run("ip", &["netns", "add", &name]);
        Some(Self {
            netns_path: Path::new("/run/netns").join(&name),
            name,
            run_dir: tempfile::tempdir().expect("temporary run dir"),
        })
    }

    fn config(&self, pod_cidr: &str) -> NodeNetworkConfig {
        let mut config = NodeNetworkConfig::new(pod_cidr.parse().unwrap(), self.run_dir.path());
        config.node_netns = Some(self.netns_path.clone());
        config
    }

    fn node(&self, pod_cidr: &str) -> NodeNetwork {
        let node = NodeNetwork::new(self.config(pod_cidr)).expect("node network");
        node.setup_node().expect("node setup");
        node
    }

    fn links(&self) -> BTreeSet<String> {
        with_netlink(Some(&self.netns_path), |handle| async move {
            link_names(&handle).await
        })
        .unwrap()
        .unwrap()
        .into_iter()
        .collect()
    }

    fn netns_files(&self) -> usize {
        std::fs::read_dir(self.run_dir.path().join("netns")).map_or(0, |entries| entries.count())
    }

    fn mounts_under_run_dir(&self) -> usize {
        let run_dir = self.run_dir.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|line| line.contains(&run_dir))
            .count()
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        // Pod namespaces outlive the test host (they are held by their mounts): unmount them first.
        if let Ok(entries) = std::fs::read_dir(self.run_dir.path().join("netns")) {
            for entry in entries.flatten() {
                let _ = nix::mount::umount2(&entry.path(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().expect(program);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `ip ARGS` inside the namespace file at `netns`.
fn ip_in(netns: &Path, args: &[&str]) -> String {
    let net = format!("--net={}", netns.display());
    let mut full = vec![net.as_str(), "ip"];
    full.extend_from_slice(args);
    run("nsenter", &full)
}

/// Opens a TCP listener on `port` inside the namespace at `netns`; the socket
/// stays in that namespace after the helper thread is gone.
fn listen_in(netns: &Path, port: u16) -> TcpListener {
    run_in_netns(Some(netns), || TcpListener::bind(("0.0.0.0", port)))
        .unwrap()
        .expect("bind listener")
}

/// Connects from inside `from` to `to:port`, sends a line, and has `listener`
/// read it: true only if the bytes made it across.
fn tcp_reaches(from: &Path, to: Ipv4Addr, port: u16, listener: &TcpListener) -> bool {
    let target = SocketAddr::from((to, port));
    let connected = run_in_netns(Some(from), || {
        TcpStream::connect_timeout(&target, Duration::from_secs(2))
    })
    .unwrap();
    let Ok(mut stream) = connected else {
        return false;
    };
    stream.write_all(b"hello\n").unwrap();
    let (mut accepted, _) = listener.accept().expect("accept");
    accepted
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut received = [0u8; 6];
    accepted.read_exact(&mut received).is_ok() && &received == b"hello\n"
}

/// Open descriptors of this process. Other tests run in parallel threads and
/// hold a few for a moment, so take the lowest of several bounded samples.
fn settled_fd_count() -> usize {
    (0..10)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::read_dir("/proc/self/fd").unwrap().count()
        })
        .min()
        .unwrap()
}

fn read_sysctl_in(netns: &Path, key: &str) -> String {
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    run_in_netns(Some(netns), || {
        std::fs::read_to_string(path).unwrap_or_default()
    })
    .unwrap()
    .trim()
    .to_string()
}

#[test]
fn should_connect_two_pods_on_one_node_and_leave_nothing_after_teardown() {
    let Some(host) = TestHost::new() else { return };
    let root_ip_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let node = host.node("10.42.0.0/24");
    let links_before = host.links();

    let a = node.create_sandbox(POD_A).expect("sandbox A");
    let b = node.create_sandbox(POD_B).expect("sandbox B");
    assert_eq!(a.ip, "10.42.0.2".parse::<Ipv4Addr>().unwrap());
    assert_eq!(b.ip, "10.42.0.3".parse::<Ipv4Addr>().unwrap());
    assert_eq!(a.gateway, "10.42.0.1".parse::<Ipv4Addr>().unwrap());
    assert_eq!(a.prefix_len, 24);
    assert_eq!(a.host_veth, host_veth_name(POD_A));
    assert!(is_netns_mount(&a.netns_path));

    // Inside the pod: eth0 with its address and MTU, and a default route via the gateway.
    let eth0 = ip_in(&a.netns_path, &["-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(eth0.contains("inet 10.42.0.2/24"), "{eth0}");
    assert!(ip_in(&a.netns_path, &["-o", "link", "show", "eth0"]).contains("mtu 1500"));
    let routes = ip_in(&a.netns_path, &["-4", "route"]);
    assert!(
        routes.contains("default via 10.42.0.1 dev eth0"),
        "{routes}"
    );
    // On the node: the host ends are attached to the bridge.
    let ports = ip_in(
        &host.netns_path,
        &["-o", "link", "show", "master", "skiff0"],
    );
    assert!(
        ports.contains(&a.host_veth) && ports.contains(&b.host_veth),
        "{ports}"
    );

    // Both pods bind the same port on their own addresses, and reach each other,
    // themselves (loopback and own IP), and the node's gateway.
    let listener_a = listen_in(&a.netns_path, 8081);
    let listener_b = listen_in(&b.netns_path, 8081);
    assert!(
        tcp_reaches(&a.netns_path, b.ip, 8081, &listener_b),
        "A reaches B"
    );
    assert!(
        tcp_reaches(&b.netns_path, a.ip, 8081, &listener_a),
        "B reaches A"
    );
    assert!(
        tcp_reaches(&a.netns_path, Ipv4Addr::LOCALHOST, 8081, &listener_a),
        "A's loopback is up"
    );
    assert!(
        tcp_reaches(&a.netns_path, a.ip, 8081, &listener_a),
        "A reaches its own IP"
    );
    let on_node = listen_in(&host.netns_path, 8082);
    assert!(
        tcp_reaches(&b.netns_path, a.gateway, 8082, &on_node),
        "B reaches the gateway"
    );
    drop((listener_a, listener_b, on_node));

    node.teardown_sandbox(POD_A).expect("teardown A");
    node.teardown_sandbox(POD_B).expect("teardown B");
    node.teardown_sandbox(POD_B)
        .expect("teardown is idempotent");
    assert_eq!(host.links(), links_before, "no veth left");
    assert_eq!(host.netns_files(), 0, "no namespace file left");
    assert_eq!(host.mounts_under_run_dir(), 0, "no namespace mount left");
    assert!(node.ipam().leases().unwrap().is_empty(), "no lease left");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        root_ip_forward,
        "the machine's root namespace is untouched"
    );
}

#[test]
fn should_set_up_the_node_idempotently_inside_the_test_host() {
    let Some(host) = TestHost::new() else { return };
    let node = NodeNetwork::new(host.config("10.42.7.0/24")).unwrap();
    let first = node.setup_node().unwrap();
    let second = node.setup_node().unwrap();
    assert_eq!(first.bridge_index, second.bridge_index);
    for (key, outcome) in &second.sysctls {
        assert!(
            matches!(outcome, SysctlOutcome::AlreadySet | SysctlOutcome::Missing),
            "{key}: {outcome:?}"
        );
    }
    assert_eq!(read_sysctl_in(&host.netns_path, "net.ipv4.ip_forward"), "1");
    let bridge = ip_in(
        &host.netns_path,
        &["-o", "-4", "addr", "show", "dev", "skiff0"],
    );
    assert_eq!(bridge.matches("inet 10.42.7.1/24").count(), 1, "{bridge}");
    let details = ip_in(&host.netns_path, &["-d", "link", "show", "skiff0"]);
    assert!(
        details.contains("state UP") || details.contains(",UP"),
        "{details}"
    );
    assert!(
        details.contains("0a:58:0a:2a:07:01"),
        "fixed bridge MAC: {details}"
    );
}

#[test]
fn should_reuse_the_ip_and_rewire_when_a_sandbox_is_created_twice() {
    let Some(host) = TestHost::new() else { return };
    let mut config = host.config("10.42.1.0/24");
    config.mtu = 1400;
    let node = NodeNetwork::new(config).unwrap();
    node.setup_node().unwrap();
    let first = node.create_sandbox(POD_A).unwrap();
    let again = node.create_sandbox(POD_A).unwrap();
    assert_eq!(first, again);
    assert!(ip_in(&again.netns_path, &["-o", "link", "show", "eth0"]).contains("mtu 1400"));
    let veths = host
        .links()
        .into_iter()
        .filter(|l| l.starts_with("veth"))
        .count();
    assert_eq!(veths, 1);
    node.teardown_sandbox(POD_A).unwrap();
}

#[test]
fn should_keep_leases_across_a_restart_of_the_node_network() {
    let Some(host) = TestHost::new() else { return };
    let a = host.node("10.42.2.0/24").create_sandbox(POD_A).unwrap();
    let restarted = host.node("10.42.2.0/24");
    assert_eq!(
        restarted.known_sandboxes().unwrap(),
        BTreeSet::from([POD_A.to_string()])
    );
    assert_eq!(
        restarted.create_sandbox(POD_B).unwrap().ip,
        "10.42.2.3".parse::<Ipv4Addr>().unwrap()
    );
    assert_eq!(restarted.create_sandbox(POD_A).unwrap().ip, a.ip);
    restarted.teardown_sandbox(POD_A).unwrap();
    restarted.teardown_sandbox(POD_B).unwrap();
    assert!(restarted.known_sandboxes().unwrap().is_empty());
}

#[test]
fn should_clean_up_after_a_crash_half_way_through_setup() {
    let Some(host) = TestHost::new() else { return };
    let node = host.node("10.42.3.0/24");
    // A crash after the lease and the namespace, before the veth.
    node.ipam().allocate(POD_A).unwrap();
    create_persistent_netns(&node.netns_path(POD_A)).unwrap();
    node.teardown_sandbox(POD_A).unwrap();
    // A crash after the veth was removed by someone else.
    let b = node.create_sandbox(POD_B).unwrap();
    ip_in(&host.netns_path, &["link", "del", &b.host_veth]);
    node.teardown_sandbox(POD_B).unwrap();
    assert_eq!(host.netns_files(), 0);
    assert!(node.ipam().leases().unwrap().is_empty());
    assert!(!host.links().iter().any(|l| l.starts_with("veth")));
}

#[test]
fn should_refuse_a_pod_when_the_range_is_exhausted_and_leave_nothing() {
    let Some(host) = TestHost::new() else { return };
    let node = host.node("10.42.4.0/30");
    let only = node.create_sandbox(POD_A).unwrap();
    assert_eq!(only.ip, "10.42.4.2".parse::<Ipv4Addr>().unwrap());
    let error = node.create_sandbox(POD_B).unwrap_err();
    assert!(
        matches!(error, SandboxError::Ipam(IpamError::Exhausted(_))),
        "{error}"
    );
    assert_eq!(host.netns_files(), 1);
    node.teardown_sandbox(POD_A).unwrap();
}

#[test]
fn should_undo_everything_when_wiring_fails() {
    let Some(host) = TestHost::new() else { return };
    // A non-bridge link squatting on the bridge name makes wiring fail after the lease and namespace.
    ip_in(
        &host.netns_path,
        &[
            "link", "add", "skiff0", "type", "veth", "peer", "name", "squatter",
        ],
    );
    let node = NodeNetwork::new(host.config("10.42.5.0/24")).unwrap();
    assert!(matches!(
        node.setup_node(),
        Err(NodeNetworkError::Bridge(_))
    ));
    assert!(node.create_sandbox(POD_A).is_err());
    assert_eq!(host.netns_files(), 0);
    assert_eq!(host.mounts_under_run_dir(), 0);
    assert!(node.ipam().leases().unwrap().is_empty());
}

#[test]
fn should_wire_pods_created_concurrently_with_distinct_addresses() {
    let Some(host) = TestHost::new() else { return };
    let node = host.node("10.42.8.0/24");
    let uids: Vec<String> = (0..8)
        .map(|n| format!("{n:08x}-cccc-4ccc-8ccc-000000000000"))
        .collect();
    let sandboxes: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = uids
            .iter()
            .map(|uid| scope.spawn(|| node.create_sandbox(uid).expect("concurrent sandbox")))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let addresses: BTreeSet<Ipv4Addr> = sandboxes.iter().map(|s| s.ip).collect();
    assert_eq!(addresses.len(), uids.len());
    let listener = listen_in(&sandboxes[0].netns_path, 8081);
    for other in &sandboxes[1..] {
        assert!(tcp_reaches(
            &other.netns_path,
            sandboxes[0].ip,
            8081,
            &listener
        ));
    }
    drop(listener);
    std::thread::scope(|scope| {
        for uid in &uids {
            scope.spawn(|| node.teardown_sandbox(uid).expect("concurrent teardown"));
        }
    });
    assert_eq!(host.netns_files(), 0);
    assert!(node.ipam().leases().unwrap().is_empty());
}

#[test]
fn should_not_leak_links_namespaces_mounts_leases_or_fds_over_200_cycles() {
    let Some(host) = TestHost::new() else { return };
    let node = host.node("10.42.6.0/24");
    // One warm-up cycle, so lazily opened process-wide descriptors are counted in both snapshots.
    node.create_sandbox(POD_A).unwrap();
    node.teardown_sandbox(POD_A).unwrap();
    let (links, fds) = (host.links(), settled_fd_count());

    for cycle in 0..200 {
        let uid = format!("{cycle:08x}-0000-4000-8000-000000000000");
        let sandbox = node
            .create_sandbox(&uid)
            .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        assert!(Ipv4Cidr::new(Ipv4Addr::new(10, 42, 6, 0), 24)
            .unwrap()
            .is_allocatable(sandbox.ip));
        node.teardown_sandbox(&uid)
            .unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
    }

    assert_eq!(host.links(), links);
    assert_eq!(host.netns_files(), 0);
    assert_eq!(host.mounts_under_run_dir(), 0);
    assert!(node.ipam().leases().unwrap().is_empty());
    // A leak of even one descriptor per cycle would show as 200.
    let leaked = settled_fd_count().saturating_sub(fds);
    assert!(leaked < 16, "{leaked} more descriptors after 200 cycles");
}
