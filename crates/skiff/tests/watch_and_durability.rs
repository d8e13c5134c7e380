//! Watches resume from a resourceVersion and expire after compaction, `kubectl get
//! -w` follows changes, and a server killed mid-stream keeps every write it
//! acknowledged.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{body_and_status, eventually, Cluster};
use serde_json::Value;

/// Creates a ConfigMap with `kubectl apply` (JSON on the wire).
fn create_configmap(cluster: &Cluster, name: &str) {
    let manifest =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: \"1\"\n");
    cluster
        .kubectl_stdin(&["apply", "-f", "-"], &manifest)
        .success();
}

fn resource_version(cluster: &Cluster, path: &str) -> i64 {
    let (body, code) = body_and_status(&cluster.curl(&[path]));
    assert_eq!(code, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn watch_events(cluster: &Cluster, from: i64) -> Vec<Value> {
    let path = format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={from}&timeoutSeconds=2"
    );
    let (body, code) = body_and_status(&cluster.curl(&[&path]));
    assert_eq!(code, 200, "{body}");
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn should_replay_what_a_resumed_watch_missed() {
    let cluster = Cluster::start();
    create_configmap(&cluster, "a");
    let from = resource_version(&cluster, "/api/v1/namespaces/default/configmaps");
    cluster
        .kubectl(&[
            "patch",
            "configmap",
            "a",
            "--type=merge",
            "-p",
            r#"{"data":{"v":"2"}}"#,
        ])
        .success();
    create_configmap(&cluster, "b");
    cluster.kubectl(&["delete", "configmap", "a"]).success();

    let events = watch_events(&cluster, from);
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let expected = [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
        .map(|(t, n)| (t.to_string(), n.to_string()));
    assert_eq!(seen, expected);
    assert_eq!(events[0]["object"]["data"]["v"], "2");
    let revisions: Vec<i64> = events
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
}

#[test]
fn should_expire_a_watch_from_a_compacted_revision() {
    let cluster = Cluster::start_with(&["--compaction-interval", "1"]);
    let from = resource_version(&cluster, "/api/v1/namespaces/default/configmaps");
    create_configmap(&cluster, "a");
    create_configmap(&cluster, "b");
    let mut last = Vec::new();
    let expired = eventually(Duration::from_secs(20), || {
        create_configmap(&cluster, &format!("tick-{}", last.len()));
        last = watch_events(&cluster, from);
        last.first()
            .is_some_and(|e| e["type"] == "ERROR" && e["object"]["code"] == 410)
    });
    assert!(expired, "no 410 after compaction: {last:?}");
    assert_eq!(last[0]["object"]["reason"], "Expired");
}

#[test]
fn should_follow_changes_with_kubectl_get_watch() {
    let cluster = Cluster::start();
    create_configmap(&cluster, "first");
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .args(["get", "configmaps", "-w", "--request-timeout=30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let first = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("the header");
    assert!(first.starts_with("NAME"), "{first}");
    create_configmap(&cluster, "second");
    let mut lines = Vec::new();
    let saw_second = eventually(Duration::from_secs(20), || {
        lines.extend(receiver.try_iter());
        lines.iter().any(|l: &String| l.starts_with("second"))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_second, "kubectl get -w printed {lines:?}");
    assert!(
        !lines.iter().any(|l| l.starts_with("NAME")),
        "the header is printed once: {lines:?}"
    );
}

#[test]
fn should_keep_every_acknowledged_write_after_a_sigkill() {
    let mut cluster = Cluster::start();
    let before = resource_version(&cluster, "/api/v1/namespaces");
    let kubeconfig = cluster.kubeconfig();
    // A stream of applies in the background; the server is killed in the middle.
    let writer = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for i in 0..40 {
            let manifest = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  i: \"{i}\"\n"
            );
            let mut child = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["apply", "-f", "-", "--request-timeout=5s"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(manifest.as_bytes())
                .unwrap();
            let output = common::with_timeout(child, Duration::from_secs(10));
            if output.status.success()
                && String::from_utf8_lossy(&output.stdout).contains("created")
            {
                acknowledged.push(i);
            }
        }
        acknowledged
    });
    assert!(eventually(Duration::from_secs(30), || {
        cluster
            .kubectl(&["get", "configmaps", "-o", "name"])
            .stdout
            .lines()
            .count()
            >= 10
    }));
    cluster.kill();
    let acknowledged = writer.join().unwrap();
    assert!(acknowledged.len() >= 10, "{acknowledged:?}");

    cluster.restart();
    let names = cluster
        .kubectl(&["get", "configmaps", "-o", "name"])
        .success()
        .stdout;
    for i in &acknowledged {
        assert!(
            names.contains(&format!("configmap/cm-{i}\n")),
            "cm-{i} was acknowledged but is gone: {names}"
        );
    }
    create_configmap(&cluster, "after-restart");
    let after = resource_version(&cluster, "/api/v1/namespaces/default/configmaps");
    assert!(
        after > before + acknowledged.len() as i64,
        "revisions keep rising: {before} then {after}"
    );
}

#[test]
fn should_mark_the_end_of_initial_events_with_a_bookmark() {
    let cluster = Cluster::start();
    create_configmap(&cluster, "a");
    let path = "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1";
    let (body, code) = body_and_status(&cluster.curl(&[path]));
    assert_eq!(code, 200, "{body}");
    let events: Vec<Value> = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "a");
    let bookmark = &events[1];
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(
        bookmark["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
}
