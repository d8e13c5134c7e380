//! End to end: `skiff server --agent` runs a real 2-replica Deployment of the demo
//! image on this machine, and one pod reaches the other over the pod network.
//!
//! Everything happens inside a throwaway network namespace of the test host
//! (`skiff-agent-test-<pid>`): the server (and its bridge, veths and pod IPs) and
//! kubectl run there through `nsenter --net=/run/netns/<ns>` (`ip netns exec`
//! would also remount /sys, hiding the cgroup filesystem from crun); nothing is added to the machine's
//! root namespace. A guard kills the server, removes the containers, unmounts the
//! pod namespaces and deletes the test namespace, also on panic. Skipped (passing,
//! with a message) unless run as root with crun installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{eventually, with_timeout, Run};

const NODE: &str = "agent-test";
const IMAGE: &str = "skiff.dev/demo:latest";

fn skip_reason() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not running as root".into());
    }
    let crun = Command::new("crun").arg("--version").output();
    if !crun.is_ok_and(|o| o.status.success()) {
        return Some("crun is not installed".into());
    }
    for tool in ["ip", "nsenter", "curl", "kubectl"] {
        if Command::new("which")
            .arg(tool)
            .output()
            .map_or(true, |o| !o.status.success())
        {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// The demo image tarball, built once per target directory.
fn demo_image() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tarball = root.join("target/demo-image.tar");
    if !tarball.exists() {
        let status = Command::new(root.join("scripts/build-demo-image.sh"))
            .arg(&tarball)
            .current_dir(&root)
            .status()
            .expect("build-demo-image.sh runs");
        assert!(status.success(), "building the demo image failed");
    }
    tarball
}

fn run(command: &mut Command, limit: Duration) -> Run {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command starts");
    with_timeout(child, limit).into()
}

/// The test namespace, the server in it, and everything it made; all removed on drop.
struct Node {
    netns: String,
    data_dir: tempfile::TempDir,
    server: Option<Child>,
}

impl Node {
    fn start() -> Node {
        let netns = format!("skiff-agent-test-{}", std::process::id());
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut node = Node {
            netns,
            data_dir,
            server: None,
        };
        run(
            Command::new("ip").args(["netns", "add", &node.netns]),
            Duration::from_secs(10),
        )
        .success();
        node.exec(&["ip", "link", "set", "lo", "up"]).success();
        run(
            Command::new(env!("CARGO_BIN_EXE_skiff"))
                .args(["image", "--data-dir"])
                .arg(node.data_dir.path())
                .arg("import")
                .arg(demo_image())
                .args(["--tag", IMAGE]),
            Duration::from_secs(120),
        )
        .success();
        let log = std::fs::File::create(node.data_dir.path().join("server.log")).expect("a log");
        let server = Command::new("nsenter")
            .arg(node.netns_arg())
            .arg(env!("CARGO_BIN_EXE_skiff"))
            .args(["server", "--agent", "--node-name", NODE, "--data-dir"])
            .arg(node.data_dir.path())
            .env("RUST_LOG", "info,skiff_agent=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("skiff server starts");
        node.server = Some(server);
        let ready = eventually(Duration::from_secs(30), || {
            node.kubeconfig().exists() && node.kubectl(&["get", "--raw", "/readyz"]).ok
        });
        assert!(ready, "the server did not become ready:\n{}", node.log());
        node
    }

    fn kubeconfig(&self) -> PathBuf {
        self.data_dir.path().join("kubeconfig.yaml")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("server.log")).unwrap_or_default()
    }

    /// `nsenter --net=…` rather than `ip netns exec`: the latter also remounts /sys
    /// for the namespace, which hides /sys/fs/cgroup from crun.
    fn netns_arg(&self) -> String {
        format!("--net=/run/netns/{}", self.netns)
    }

    fn exec(&self, args: &[&str]) -> Run {
        run(
            Command::new("nsenter").arg(self.netns_arg()).args(args),
            Duration::from_secs(30),
        )
    }

    fn kubectl(&self, args: &[&str]) -> Run {
        let kubeconfig = self.kubeconfig();
        let mut all = vec!["kubectl", "--kubeconfig", kubeconfig.to_str().unwrap()];
        all.extend_from_slice(args);
        self.exec(&all)
    }

    fn apply(&self, manifest: &str) -> Run {
        let path = self.data_dir.path().join("manifest.yaml");
        std::fs::write(&path, manifest).expect("manifest written");
        self.kubectl(&["apply", "-f", path.to_str().unwrap()])
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let agent = self.data_dir.path().join("agent");
        skiff_agent::runtime::purge_blocking(&skiff_agent::runtime::RuntimeConfig::new(
            agent.join("runtime"),
        ));
        if let Ok(entries) = std::fs::read_dir(agent.join("network/netns")) {
            for entry in entries.flatten() {
                let _ = Command::new("umount").arg(entry.path()).output();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.netns])
            .output();
    }
}

fn deployment() -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: demo, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: demo}}}}
  template:
    metadata: {{labels: {{app: demo}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: demo
        image: {IMAGE}
        imagePullPolicy: Never
        ports: [{{containerPort: 8081}}]
"#
    )
}

/// (name, uid, podIP) of each Running pod.
fn running_pods(node: &Node) -> Vec<(String, String, String)> {
    let listed = node.kubectl(&["get", "pods", "-l", "app=demo", "-o", "json"]);
    let Ok(list) = serde_json::from_str::<serde_json::Value>(&listed.stdout) else {
        return Vec::new();
    };
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|pod| pod["status"]["phase"] == "Running" && pod["status"]["podIP"].is_string())
        .map(|pod| {
            (
                pod["metadata"]["name"].as_str().unwrap_or_default().into(),
                pod["metadata"]["uid"].as_str().unwrap_or_default().into(),
                pod["status"]["podIP"].as_str().unwrap_or_default().into(),
            )
        })
        .collect()
}

#[test]
fn should_run_a_deployment_whose_pods_reach_each_other() {
    if let Some(reason) = skip_reason() {
        // CI installs everything this test needs, so there a skip would hide a break.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the agent test, but {reason}"
        );
        eprintln!("skipping the agent end-to-end test: {reason}");
        return;
    }
    let node = Node::start();
    let registered = eventually(Duration::from_secs(30), || {
        let nodes = node.kubectl(&["get", "node", NODE, "-o", "json"]);
        nodes.ok && nodes.stdout.contains("\"Ready\"") && nodes.stdout.contains("\"110\"")
    });
    assert!(registered, "the node did not register:\n{}", node.log());
    node.kubectl(&["get", "lease", "-n", "kube-node-lease", NODE])
        .success();

    node.apply(&deployment()).success();
    let started = Instant::now();
    let mut pods = Vec::new();
    let all_running = eventually(Duration::from_secs(120), || {
        pods = running_pods(&node);
        pods.len() == 2 && pods[0].2 != pods[1].2
    });
    assert!(
        all_running,
        "two Running pods with distinct IPs expected, got {pods:?}\n{}\n{}",
        node.kubectl(&["get", "pods", "-o", "yaml"]).stdout,
        node.log()
    );
    eprintln!("both pods Running after {:?}: {pods:?}", started.elapsed());
    let pod = serde_json::from_str::<serde_json::Value>(
        &node
            .kubectl(&["get", "pod", &pods[0].0, "-o", "json"])
            .success()
            .stdout,
    )
    .expect("pod JSON");
    eprintln!("{:#}", pod["status"]);
    let status = &pod["status"];
    assert_eq!(status["podIPs"][0]["ip"], status["podIP"]);
    assert!(status["hostIP"].is_string(), "{status:#}");
    for kind in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
        let condition = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == kind);
        assert_eq!(
            condition.map(|c| &c["status"]),
            Some(&serde_json::json!("True")),
            "{kind}"
        );
    }
    let container = &status["containerStatuses"][0];
    assert_eq!(container["ready"], true);
    assert_eq!(container["started"], true);
    assert_eq!(container["restartCount"], 0);
    assert!(container["state"]["running"]["startedAt"].is_string());
    assert!(container["containerID"]
        .as_str()
        .unwrap_or_default()
        .starts_with("crun://"));
    assert!(container["imageID"]
        .as_str()
        .unwrap_or_default()
        .starts_with("sha256:"));

    let (_, client_uid, _) = &pods[0];
    let (_, _, server_ip) = &pods[1];
    let client_netns = node
        .data_dir
        .path()
        .join("agent/network/netns")
        .join(client_uid);
    let url = format!("http://{server_ip}:8081/ping");
    let mut answer = String::new();
    let reached = eventually(Duration::from_secs(20), || {
        let fetched = run(
            Command::new("nsenter")
                .arg(format!("--net={}", client_netns.display()))
                .args(["curl", "-s", "--max-time", "3", &url]),
            Duration::from_secs(10),
        );
        answer = fetched.stdout;
        answer.trim() == "pong"
    });
    assert!(reached, "GET {url} from the other pod answered {answer:?}");

    // A container whose image is not on the node waits with the reason and how to import it.
    node.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: missing, namespace: default}\nspec:\n  containers:\n  - {name: c, image: skiff.dev/absent:1, imagePullPolicy: Never}\n",
    )
    .success();
    let mut waiting = serde_json::Value::Null;
    let reported = eventually(Duration::from_secs(30), || {
        let pod = node.kubectl(&["get", "pod", "missing", "-o", "json"]);
        waiting = serde_json::from_str::<serde_json::Value>(&pod.stdout)
            .map(|p| p["status"]["containerStatuses"][0]["state"]["waiting"].clone())
            .unwrap_or_default();
        waiting["reason"] == "ErrImageNeverPull"
    });
    assert!(reported, "waiting state: {waiting}");
    assert!(waiting["message"]
        .as_str()
        .unwrap_or_default()
        .contains("skiff image import"));
    node.kubectl(&["delete", "pod", "missing"]).success();

    // Deleting the Deployment stops the pods and the agent removes them.
    node.kubectl(&["delete", "deployment", "demo"]).success();
    let gone = eventually(Duration::from_secs(60), || {
        node.kubectl(&["get", "pods", "-o", "name"])
            .stdout
            .trim()
            .is_empty()
    });
    assert!(gone, "pods were not removed:\n{}", node.log());
}
