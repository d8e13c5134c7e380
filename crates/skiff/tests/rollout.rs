//! The rollout story (shared/scenarios/rollout) at the controller level: real
//! `skiff server`, real kubectl, the real Deployment and ReplicaSet controllers.
//!
//! Nothing runs pods yet, so a small KWOK-like helper ([`common::pod_agent`])
//! marks every new pod Running and Ready through the status subresource, and
//! finishes pods being deleted.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::access::Access;
use common::manifests::web_deployment;
use common::pod_agent::{is_ready, Kwok};
use common::{eventually, Cluster};
use serde_json::Value;

/// Three `example.com/web:v1` pods, with the change cause `v1`.
fn deployment_v1() -> String {
    web_deployment(
        3,
        &["annotations:", "  kubernetes.io/change-cause: \"v1\""],
        &["name: app", "image: example.com/web:v1"],
    )
}

/// Every state of the `app=web` pods seen through one API watch.
struct Observer {
    child: Child,
    thread: Option<JoinHandle<()>>,
    /// (live pods, ready live pods) after each event.
    states: Arc<Mutex<Vec<(usize, usize)>>>,
}

impl Observer {
    fn start(cluster: &Cluster) -> Self {
        let access = Access::of(cluster);
        let list = access.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb");
        let mut pods: HashMap<String, bool> = HashMap::new();
        for pod in list["items"].as_array().into_iter().flatten() {
            if pod["metadata"]["deletionTimestamp"].is_null() {
                pods.insert(
                    pod["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    is_ready(pod),
                );
            }
        }
        let revision = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let path = format!("/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb&resourceVersion={revision}");
        let mut child = access
            .curl(&["-N"], &path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("curl runs");
        let stdout = child.stdout.take().expect("a pipe");
        let states = Arc::new(Mutex::new(vec![(
            pods.len(),
            pods.values().filter(|r| **r).count(),
        )]));
        let record = states.clone();
        let thread = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                let pod = &event["object"];
                let name = pod["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if event["type"] == "DELETED" || !pod["metadata"]["deletionTimestamp"].is_null() {
                    pods.remove(&name);
                } else if event["type"] == "ADDED" || event["type"] == "MODIFIED" {
                    pods.insert(name, is_ready(pod));
                }
                record
                    .lock()
                    .unwrap()
                    .push((pods.len(), pods.values().filter(|r| **r).count()));
            }
        });
        Observer {
            child,
            thread: Some(thread),
            states,
        }
    }

    fn finish(mut self) -> Vec<(usize, usize)> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.states.lock().unwrap().clone()
    }
}

fn image_of(rs: &Value) -> String {
    rs["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `(image, spec.replicas, revision)` of each ReplicaSet, sorted by revision.
fn replica_sets(cluster: &Cluster) -> Vec<(String, i64, String)> {
    let list = cluster.get_json(&["get", "rs", "-l", "app=web"]);
    let mut sets: Vec<(String, i64, String)> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rs| {
            let revision = rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (
                image_of(rs),
                rs["spec"]["replicas"].as_i64().unwrap_or(-1),
                revision,
            )
        })
        .collect();
    sets.sort_by(|a, b| a.2.cmp(&b.2));
    sets
}

fn live_pods(cluster: &Cluster) -> usize {
    let list = cluster.get_json(&["get", "pods", "-l", "app=web"]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .count()
}

fn rollout_status(cluster: &Cluster) -> common::Run {
    cluster.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"])
}

#[test]
fn rolling_update_undo_history_and_scaling() {
    let cluster = Cluster::start();
    let _kwok = Kwok::start(&cluster);
    cluster.apply_manifest(&deployment_v1()).success();
    let status = rollout_status(&cluster).success();
    assert!(
        status.stdout.contains("successfully rolled out"),
        "{}",
        status.stdout
    );
    assert_eq!(
        replica_sets(&cluster),
        [("example.com/web:v1".to_string(), 3, "1".to_string())]
    );
    let rs_name = cluster.get_json(&["get", "rs", "-l", "app=web"])["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = rs_name
        .strip_prefix("web-")
        .expect("named <deployment>-<hash>");
    assert!(
        hash.chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
        "{rs_name}"
    );

    // v1 → v2, watched.
    let observer = Observer::start(&cluster);
    cluster
        .kubectl(&["set", "image", "deployment/web", "app=example.com/web:v2"])
        .success();
    cluster
        .kubectl(&[
            "annotate",
            "deployment/web",
            "--overwrite",
            "kubernetes.io/change-cause=v2",
        ])
        .success();
    let status = rollout_status(&cluster).success();
    assert!(
        status.stdout.contains("successfully rolled out"),
        "{}",
        status.stdout
    );
    assert!(eventually(Duration::from_secs(20), || live_pods(&cluster) == 3));
    let states = observer.finish();
    assert!(states.len() > 6, "the watch saw the rollout: {states:?}");
    let most = states.iter().map(|s| s.0).max().unwrap();
    let fewest_ready = states.iter().map(|s| s.1).min().unwrap();
    assert!(
        most <= 4,
        "pods never exceed replicas + maxSurge (3 + 1): {states:?}"
    );
    assert!(
        fewest_ready >= 3,
        "ready pods never drop below replicas - maxUnavailable (3 - 0): {states:?}"
    );
    assert_eq!(
        replica_sets(&cluster),
        [
            ("example.com/web:v1".to_string(), 0, "1".to_string()),
            ("example.com/web:v2".to_string(), 3, "2".to_string())
        ]
    );

    // History lists both revisions with their change causes.
    let history = cluster
        .kubectl(&["rollout", "history", "deployment/web"])
        .success();
    assert!(history.stdout.contains("REVISION"), "{}", history.stdout);
    let lines: Vec<&str> = history.stdout.lines().map(str::trim).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('1') && l.ends_with("v1")),
        "{}",
        history.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('2') && l.ends_with("v2")),
        "{}",
        history.stdout
    );

    // Events, as describe shows them.
    let describe = cluster
        .kubectl(&["describe", "deployment", "web"])
        .success();
    assert!(
        describe.stdout.contains("ScalingReplicaSet"),
        "{}",
        describe.stdout
    );
    assert!(
        describe.stdout.contains("Scaled up replica set web-"),
        "{}",
        describe.stdout
    );
    let describe_rs = cluster.kubectl(&["describe", "rs", &rs_name]).success();
    assert!(
        describe_rs.stdout.contains("SuccessfulCreate")
            && describe_rs
                .stdout
                .contains(&format!("Created pod: {rs_name}-")),
        "{}",
        describe_rs.stdout
    );

    // Undo brings v1 back as revision 3.
    cluster
        .kubectl(&["rollout", "undo", "deployment/web"])
        .success();
    rollout_status(&cluster).success();
    let deployment = cluster.get_json(&["get", "deployment", "web"]);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.com/web:v1"
    );
    assert_eq!(
        replica_sets(&cluster),
        [
            ("example.com/web:v2".to_string(), 0, "2".to_string()),
            ("example.com/web:v1".to_string(), 3, "3".to_string())
        ]
    );
    assert_eq!(
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );

    // Scaling 2 → 3 → 5 → 1.
    cluster
        .kubectl(&["scale", "deployment/web", "--replicas=2"])
        .success();
    for (how, replicas) in [("patch", 3), ("scale", 5), ("scale", 1)] {
        if how == "patch" {
            cluster
                .kubectl(&[
                    "patch",
                    "deployment/web",
                    "-p",
                    &format!("{{\"spec\":{{\"replicas\":{replicas}}}}}"),
                ])
                .success();
        } else {
            cluster
                .kubectl(&["scale", "deployment/web", &format!("--replicas={replicas}")])
                .success();
        }
        rollout_status(&cluster).success();
        assert!(
            eventually(Duration::from_secs(20), || live_pods(&cluster) == replicas),
            "{replicas} pods"
        );
        let status = &cluster.get_json(&["get", "deployment", "web"])["status"];
        assert_eq!(status["availableReplicas"], replicas as i64, "{status}");
    }

    // Restart makes a new ReplicaSet from an annotated template.
    cluster
        .kubectl(&["rollout", "restart", "deployment/web"])
        .success();
    rollout_status(&cluster).success();
    let sets = replica_sets(&cluster);
    assert_eq!(sets.len(), 3, "{sets:?}");
    assert_eq!((sets[2].1, sets[2].2.as_str()), (1, "4"), "{sets:?}");
}

#[test]
fn recreate_stops_old_pods_before_starting_new_ones() {
    let cluster = Cluster::start();
    let _kwok = Kwok::start(&cluster);
    let manifest = deployment_v1().replace(
        "  replicas: 3\n",
        "  replicas: 2\n  strategy: {type: Recreate}\n",
    );
    cluster.apply_manifest(&manifest).success();
    rollout_status(&cluster).success();
    let observer = Observer::start(&cluster);
    cluster
        .kubectl(&["set", "image", "deployment/web", "app=example.com/web:v2"])
        .success();
    rollout_status(&cluster).success();
    let states = observer.finish();
    assert!(
        states.iter().any(|s| s.0 == 0),
        "all old pods went before new ones came: {states:?}"
    );
    assert!(states.iter().all(|s| s.0 <= 2), "{states:?}");
    assert_eq!(
        replica_sets(&cluster),
        [
            ("example.com/web:v1".to_string(), 0, "1".to_string()),
            ("example.com/web:v2".to_string(), 2, "2".to_string())
        ]
    );
}

#[test]
fn paused_deployment_waits_for_resume() {
    let cluster = Cluster::start();
    let _kwok = Kwok::start(&cluster);
    cluster.apply_manifest(&deployment_v1()).success();
    rollout_status(&cluster).success();
    cluster
        .kubectl(&["rollout", "pause", "deployment/web"])
        .success();
    cluster
        .kubectl(&["set", "image", "deployment/web", "app=example.com/web:v2"])
        .success();
    let paused = eventually(Duration::from_secs(10), || {
        let d = cluster.get_json(&["get", "deployment", "web"]);
        d["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["reason"] == "DeploymentPaused")
    });
    assert!(paused, "the Progressing condition says DeploymentPaused");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(replica_sets(&cluster).len(), 1, "no rollout while paused");
    cluster
        .kubectl(&["rollout", "resume", "deployment/web"])
        .success();
    rollout_status(&cluster).success();
    assert_eq!(
        replica_sets(&cluster).last().map(|s| (s.0.clone(), s.1)),
        Some(("example.com/web:v2".to_string(), 3))
    );
}

#[test]
fn progress_deadline_is_reported_when_pods_never_become_ready() {
    let cluster = Cluster::start();
    let manifest = deployment_v1().replace(
        "  replicas: 3\n",
        "  replicas: 1\n  progressDeadlineSeconds: 2\n",
    );
    cluster.apply_manifest(&manifest).success();
    let run = cluster.kubectl(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(!run.ok, "rollout status fails: {}", run.stdout);
    assert!(
        run.stderr.contains("exceeded its progress deadline"),
        "{}",
        run.stderr
    );
    let d = cluster.get_json(&["get", "deployment", "web"]);
    let progressing = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            progressing["status"].as_str(),
            progressing["reason"].as_str()
        ),
        (Some("False"), Some("ProgressDeadlineExceeded"))
    );
    let available = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Available")
        .cloned()
        .unwrap();
    assert_eq!(available["reason"], "MinimumReplicasUnavailable");
}
