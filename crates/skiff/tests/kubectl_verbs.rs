//! The everyday kubectl verbs against a real server: get in every output,
//! describe, delete (which waits), label, annotate, patch, edit, replace,
//! create and scale.

mod common;

use common::manifests::web_deployment;
use common::Cluster;
use serde_json::Value;

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
"#;

/// Two `demo:v1` pods; the Deployment is labelled `app: web` too.
fn deployment() -> String {
    web_deployment(2, &["labels: {app: web}"], &["name: web", "image: demo:v1"])
}

#[test]
fn should_get_in_every_output_format() {
    let cluster = Cluster::start();
    cluster.apply_manifest(SERVICE).success();
    cluster.apply_manifest(&deployment()).success();

    let table = cluster.kubectl(&["get", "svc"]).success().stdout;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("web") && l.contains("ClusterIP") && l.contains("80/TCP")),
        "{table}"
    );

    let wide = cluster
        .kubectl(&["get", "svc", "web", "-o", "wide"])
        .success()
        .stdout;
    assert!(wide.lines().next().unwrap().ends_with("SELECTOR"), "{wide}");
    assert!(wide.contains("app=web"), "{wide}");

    let deployments = cluster.kubectl(&["get", "deploy"]).success().stdout;
    let header: Vec<&str> = deployments
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);

    let yaml = cluster
        .kubectl(&["get", "svc", "web", "-o", "yaml"])
        .success()
        .stdout;
    assert!(
        yaml.contains("sessionAffinity: None") && yaml.contains("targetPort: 8080"),
        "{yaml}"
    );
    let object = cluster.get_json(&["get", "svc", "web"]);
    assert_eq!(object["spec"]["type"], "ClusterIP");
    assert_eq!(object["spec"]["ports"][0]["protocol"], "TCP");

    let by_label = cluster
        .kubectl(&[
            "get",
            "svc",
            "-l",
            "tier in (front,back),app!=db",
            "-o",
            "name",
        ])
        .success();
    assert_eq!(by_label.stdout.trim(), "service/web");
    let none = cluster
        .kubectl(&["get", "svc", "-l", "tier=back"])
        .success();
    assert!(
        none.stderr
            .contains("No resources found in default namespace."),
        "{}",
        none.stderr
    );

    let by_field = cluster
        .kubectl(&[
            "get",
            "ns",
            "--field-selector",
            "metadata.name=kube-system",
            "-o",
            "name",
        ])
        .success();
    assert_eq!(by_field.stdout.trim(), "namespace/kube-system");
    let bad_field = cluster
        .kubectl(&["get", "svc", "--field-selector", "spec.nope=1"])
        .failure();
    assert!(
        bad_field
            .stderr
            .contains("field label not supported: spec.nope"),
        "{}",
        bad_field.stderr
    );

    let all = cluster.kubectl(&["get", "ns", "-A"]).success().stdout;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            all.lines()
                .any(|l| l.starts_with(ns) && l.contains("Active")),
            "{ns} in {all}"
        );
    }
    let everywhere = cluster.kubectl(&["get", "deploy", "-A"]).success().stdout;
    assert!(
        everywhere.lines().next().unwrap().starts_with("NAMESPACE"),
        "{everywhere}"
    );
}

#[test]
fn should_label_annotate_patch_and_scale() {
    let cluster = Cluster::start();
    cluster.apply_manifest(&deployment()).success();

    cluster
        .kubectl(&["label", "deploy", "web", "env=prod"])
        .success();
    cluster
        .kubectl(&["annotate", "deploy", "web", "owner=ops"])
        .success();
    cluster
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"minReadySeconds":5}}"#,
        ])
        .success();
    cluster
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]"#,
        ])
        .success();
    cluster
        .kubectl(&[
            "patch",
            "deploy",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"demo:v2"}]}}}}"#,
        ])
        .success();
    let scaled = cluster
        .kubectl(&["scale", "deploy", "web", "--replicas=5"])
        .success();
    assert_eq!(scaled.stdout.trim(), "deployment.apps/web scaled");

    let object = cluster.get_json(&["get", "deploy", "web"]);
    assert_eq!(object["metadata"]["labels"]["env"], "prod");
    assert_eq!(object["metadata"]["annotations"]["owner"], "ops");
    assert_eq!(object["spec"]["minReadySeconds"], 5);
    assert_eq!(object["spec"]["revisionHistoryLimit"], 3);
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][0]["image"],
        "demo:v2"
    );
    assert_eq!(object["spec"]["replicas"], 5);

    cluster
        .kubectl(&["label", "deploy", "web", "env-"])
        .success();
    let object = cluster.get_json(&["get", "deploy", "web"]);
    assert!(object["metadata"]["labels"].get("env").is_none());
}

#[test]
fn should_create_replace_edit_describe_and_delete() {
    let cluster = Cluster::start();
    cluster.kubectl(&["create", "namespace", "team"]).success();
    cluster
        .kubectl(&[
            "create",
            "configmap",
            "settings",
            "-n",
            "team",
            "--from-literal=mode=fast",
        ])
        .success();
    let duplicate = cluster
        .kubectl(&[
            "create",
            "configmap",
            "settings",
            "-n",
            "team",
            "--from-literal=mode=x",
        ])
        .failure();
    assert!(
        duplicate
            .stderr
            .contains("configmaps \"settings\" already exists"),
        "{}",
        duplicate.stderr
    );

    let mut object = cluster.get_json(&["get", "cm", "settings", "-n", "team"]);
    object["data"]["mode"] = "slow".into();
    cluster
        .kubectl_stdin(&["replace", "-f", "-"], &object.to_string())
        .success();
    // The same body again carries a stale resourceVersion.
    let stale = cluster
        .kubectl_stdin(&["replace", "-f", "-"], &object.to_string())
        .failure();
    assert!(
        stale.stderr.contains("the object has been modified"),
        "{}",
        stale.stderr
    );

    // `kubectl edit` with a scripted editor that rewrites the value.
    let editor = cluster.data_dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/mode: slow/mode: edited/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let editor_path = editor.to_str().unwrap();
    cluster
        .kubectl_in(
            &["edit", "cm", "settings", "-n", "team"],
            None,
            &[("EDITOR", editor_path)],
        )
        .success();
    let edited = cluster.get_json(&["get", "cm", "settings", "-n", "team"]);
    assert_eq!(edited["data"]["mode"], "edited");

    // An event about the ConfigMap, written through the events.k8s.io view and
    // read back by describe through the core/v1 view of the same storage.
    let event = serde_json::json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "settings.1", "namespace": "team"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "regarding": {"apiVersion": "v1", "kind": "ConfigMap", "name": "settings", "namespace": "team",
            "uid": edited["metadata"]["uid"]},
        "reason": "Reloaded", "note": "settings were reloaded", "type": "Normal",
        "action": "Reload", "reportingController": "skiff-test", "reportingInstance": "skiff-test-1",
    });
    cluster
        .kubectl_stdin(&["create", "-f", "-"], &event.to_string())
        .success();
    let described = cluster
        .kubectl(&["describe", "cm", "settings", "-n", "team"])
        .success()
        .stdout;
    assert!(
        described.contains("Name:")
            && described.contains("settings")
            && described.contains("edited"),
        "{described}"
    );
    assert!(described.contains("Events:"), "{described}");
    assert!(
        described.lines().any(|l| l.contains("Normal")
            && l.contains("Reloaded")
            && l.contains("settings were reloaded")),
        "{described}"
    );

    let deleted = cluster
        .kubectl(&["delete", "cm", "settings", "-n", "team"])
        .success();
    assert_eq!(deleted.stdout.trim(), "configmap \"settings\" deleted");
    let gone = cluster
        .kubectl(&["get", "cm", "settings", "-n", "team"])
        .failure();
    assert!(
        gone.stderr.contains("configmaps \"settings\" not found"),
        "{}",
        gone.stderr
    );
}

#[test]
fn should_delete_a_collection_by_label() {
    let cluster = Cluster::start();
    for (name, tier) in [("a", "cache"), ("b", "cache"), ("c", "db")] {
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels: {{tier: {tier}}}\n"
        );
        cluster.apply_manifest(&manifest).success();
    }
    let (body, code) = common::body_and_status(&cluster.curl(&[
        "/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dcache",
        "-X",
        "DELETE",
    ]));
    assert_eq!(code, 200, "{body}");
    let deleted: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(deleted["kind"], "ConfigMapList");
    assert_eq!(deleted["items"].as_array().unwrap().len(), 2);
    let left = cluster
        .kubectl(&["get", "cm", "-o", "name"])
        .success()
        .stdout;
    assert_eq!(left.trim(), "configmap/c");
}
