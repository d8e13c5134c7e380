//! `kubectl apply` of the users' own manifests: created, then `unchanged`, then
//! `configured` with the strategic merge visible in the stored object.

mod common;

use common::manifests::web_deployment;
use common::{scenarios_dir, Cluster};

#[test]
fn should_apply_every_scenario_manifest_with_validation_and_then_report_unchanged() {
    let cluster = Cluster::start();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 5, "the scenarios hold manifests: {files:?}");
    for file in &files {
        let first = cluster.apply_file(file).success();
        assert!(
            first.stdout.contains("created"),
            "{}: {}",
            file.display(),
            first.stdout
        );
        let again = cluster.apply_file(file).success();
        for line in again.stdout.lines() {
            assert!(
                line.ends_with("unchanged"),
                "{}: second apply said {line:?}",
                file.display()
            );
        }
    }
    let listed = cluster
        .kubectl(&["get", "deployments", "-A", "-o", "name"])
        .success();
    for name in [
        "k8s-combat",
        "k8s-combat-service",
        "k8sdemo-deployment",
        "servera",
        "serverb",
    ] {
        assert!(
            listed.stdout.contains(&format!("deployment.apps/{name}\n")),
            "{name} in {}",
            listed.stdout
        );
    }
}

/// One `demo:v1` pod with a port and two environment variables.
fn deployment_v1() -> String {
    web_deployment(
        1,
        &[],
        &[
            "name: web",
            "image: demo:v1",
            "ports:",
            "  - containerPort: 8080",
            "env:",
            "  - {name: KEEP, value: \"1\"}",
            "  - {name: DROP, value: \"2\"}",
        ],
    )
}

#[test]
fn should_show_the_strategic_merge_of_an_edited_apply() {
    let cluster = Cluster::start();
    let created = cluster.apply_manifest(&deployment_v1()).success();
    assert_eq!(created.stdout.trim(), "deployment.apps/web created");
    // Someone else adds an annotation: a three-way merge keeps it.
    cluster
        .kubectl(&["annotate", "deployment", "web", "team=blue"])
        .success();
    let edited = deployment_v1()
        .replace("replicas: 1", "replicas: 3")
        .replace(
            "- containerPort: 8080",
            "- containerPort: 8080\n            - containerPort: 9090",
        )
        .replace("            - {name: DROP, value: \"2\"}\n", "");
    let configured = cluster.apply_manifest(&edited).success();
    assert_eq!(configured.stdout.trim(), "deployment.apps/web configured");

    let stored = cluster.get_json(&["get", "deployment", "web"]);
    assert_eq!(stored["spec"]["replicas"], 3);
    let container = &stored["spec"]["template"]["spec"]["containers"][0];
    let ports: Vec<i64> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [8080, 9090]);
    let env: Vec<&str> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(env, ["KEEP"]);
    assert_eq!(stored["metadata"]["annotations"]["team"], "blue");
    assert_eq!(stored["metadata"]["generation"], 2);

    let again = cluster.apply_manifest(&edited).success();
    assert_eq!(again.stdout.trim(), "deployment.apps/web unchanged");
}

const LIST: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one}
  data: {a: "1"}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: two}
  data: {b: "2"}
"#;

#[test]
fn should_apply_a_list_and_still_refuse_unknown_fields_in_its_items() {
    let cluster = Cluster::start();
    let created = cluster.apply_manifest(LIST).success();
    assert_eq!(
        created.stdout.trim(),
        "configmap/one created\nconfigmap/two created"
    );
    let again = cluster.apply_manifest(LIST).success();
    assert_eq!(
        again.stdout.trim(),
        "configmap/one unchanged\nconfigmap/two unchanged"
    );
    let bogus = LIST.replace("data: {b: \"2\"}", "data: {b: \"2\"}\n  bogus: 1");
    let refused = cluster.apply_manifest(&bogus).failure();
    assert!(
        refused
            .stderr
            .contains("strict decoding error: unknown field \"bogus\""),
        "{}",
        refused.stderr
    );
}
