//! Cascading deletion end to end: the garbage collector (background, foreground,
//! orphan) and the namespace controller, driven by the real kubectl. Owners and
//! dependents are wired with explicit ownerReferences, so the tests hold whether
//! or not the Deployment and ReplicaSet controllers also act on them.

mod common;

use std::time::Duration;

use common::{eventually, Cluster};

/// How long the collector may take to react to one deletion.
const CASCADE_TIMEOUT: Duration = Duration::from_secs(20);

fn deployment(name: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: web, image: demo:v1}}]}}
"#
    )
}

/// A blocking ownerReference that is not a controller reference: the Deployment
/// and ReplicaSet controllers adopt and release only by controller references,
/// so they leave these links alone.
fn owner_reference(api_version: &str, kind: &str, name: &str, uid: &str) -> String {
    format!("{{apiVersion: {api_version}, kind: {kind}, name: {name}, uid: {uid}, blockOwnerDeletion: true}}")
}

/// Creates an object from YAML (kubectl sends it as JSON).
fn apply(cluster: &Cluster, namespace: &str, yaml: &str) {
    cluster
        .kubectl_stdin(&["apply", "-n", namespace, "-f", "-"], yaml)
        .success();
}

fn uid_of(cluster: &Cluster, resource: &str, name: &str, namespace: &str) -> String {
    let run = cluster
        .kubectl(&[
            "get",
            resource,
            name,
            "-n",
            namespace,
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .success();
    assert!(!run.stdout.is_empty(), "{resource} {name} has a uid");
    run.stdout
}

/// Creates a Deployment and, owned by it, a ReplicaSet `<name>-manual` that owns
/// two pods `<name>-manual-{0,1}`. Every object is labelled `family=<name>`;
/// the pods do not match the ReplicaSet's selector, so no controller adopts,
/// releases or scales them.
fn deployment_family(cluster: &Cluster, name: &str, namespace: &str) {
    apply(cluster, namespace, &deployment(name));
    let deploy_uid = uid_of(cluster, "deployment", name, namespace);
    let rs = format!(
        r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {name}-manual
  labels: {{family: {name}}}
  ownerReferences: [{owner}]
spec:
  replicas: 1
  selector: {{matchLabels: {{family: {name}, manual: "yes"}}}}
  template:
    metadata: {{labels: {{family: {name}, manual: "yes"}}}}
    spec: {{containers: [{{name: web, image: demo:v1}}]}}
"#,
        owner = owner_reference("apps/v1", "Deployment", name, &deploy_uid)
    );
    apply(cluster, namespace, &rs);
    let rs_uid = uid_of(cluster, "replicaset", &format!("{name}-manual"), namespace);
    for i in 0..2 {
        let pod = format!(
            r#"
apiVersion: v1
kind: Pod
metadata:
  name: {name}-manual-{i}
  labels: {{family: {name}}}
  ownerReferences: [{owner}]
spec: {{containers: [{{name: web, image: demo:v1}}]}}
"#,
            owner = owner_reference("apps/v1", "ReplicaSet", &format!("{name}-manual"), &rs_uid)
        );
        apply(cluster, namespace, &pod);
    }
}

/// The names of the objects of `resources` with `label` in `namespace`.
fn names(cluster: &Cluster, resources: &str, label: &str, namespace: &str) -> Vec<String> {
    let run = cluster
        .kubectl(&["get", resources, "-n", namespace, "-l", label, "-o", "name"])
        .success();
    run.stdout.lines().map(String::from).collect()
}

fn family_members(cluster: &Cluster, name: &str) -> Vec<String> {
    let mut members = names(
        cluster,
        "replicasets,pods",
        &format!("family={name}"),
        "default",
    );
    members.extend(names(
        cluster,
        "replicasets,pods",
        &format!("app={name}"),
        "default",
    ));
    members
}

#[test]
fn should_delete_the_replicasets_and_pods_of_a_deleted_deployment_in_the_background() {
    let cluster = Cluster::start();
    deployment_family(&cluster, "bg", "default");
    assert!(names(&cluster, "pods", "family=bg", "default").len() >= 2);

    cluster.kubectl(&["delete", "deployment", "bg"]).success();

    let mut left = Vec::new();
    let emptied = eventually(CASCADE_TIMEOUT, || {
        left = family_members(&cluster, "bg");
        left.is_empty()
    });
    assert!(
        emptied,
        "dependents left after a background delete: {left:?}\n{}",
        cluster.log()
    );
}

#[test]
fn should_return_from_a_foreground_delete_only_after_the_dependents_are_gone() {
    let cluster = Cluster::start();
    deployment_family(&cluster, "fg", "default");

    let run = cluster.kubectl(&[
        "delete",
        "deployment",
        "fg",
        "--cascade=foreground",
        "--timeout=30s",
    ]);
    assert!(
        run.ok,
        "foreground delete failed: {}{}\n{}",
        run.stdout,
        run.stderr,
        cluster.log()
    );

    // Every dependent blocks its owner's deletion, so none may outlive it.
    assert_eq!(family_members(&cluster, "fg"), Vec::<String>::new());
    cluster.kubectl(&["get", "deployment", "fg"]).failure();
}

#[test]
fn should_leave_orphaned_dependents_without_owner_references() {
    let cluster = Cluster::start();
    deployment_family(&cluster, "orph", "default");

    let run = cluster.kubectl(&[
        "delete",
        "deployment",
        "orph",
        "--cascade=orphan",
        "--timeout=30s",
    ]);
    assert!(
        run.ok,
        "orphan delete failed: {}{}\n{}",
        run.stdout,
        run.stderr,
        cluster.log()
    );
    cluster.kubectl(&["get", "deployment", "orph"]).failure();

    let owners = cluster
        .kubectl(&[
            "get",
            "replicaset",
            "orph-manual",
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ])
        .success()
        .stdout;
    assert_eq!(owners, "", "the ReplicaSet is orphaned");
    // Only the deleted owner's references go: the pods keep their ReplicaSet.
    let pod_owner = cluster
        .kubectl(&[
            "get",
            "pod",
            "orph-manual-0",
            "-o",
            "jsonpath={.metadata.ownerReferences[0].name}",
        ])
        .success()
        .stdout;
    assert_eq!(pod_owner, "orph-manual");
    // Nothing comes back to delete them later.
    std::thread::sleep(Duration::from_secs(2));
    for pod in ["orph-manual-0", "orph-manual-1"] {
        cluster.kubectl(&["get", "pod", pod]).success();
    }
}

#[test]
fn should_delete_dependents_of_an_owner_recreated_under_the_same_name() {
    let cluster = Cluster::start();
    let owner = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner}\n";
    apply(&cluster, "default", owner);
    let old_uid = uid_of(&cluster, "configmap", "owner", "default");
    let dependent = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dependent\n  ownerReferences: [{}]\n",
        owner_reference("v1", "ConfigMap", "owner", &old_uid)
    );
    apply(&cluster, "default", &dependent);
    cluster
        .kubectl(&["delete", "configmap", "owner", "--wait=false"])
        .success();
    apply(&cluster, "default", owner);

    let gone = eventually(CASCADE_TIMEOUT, || {
        !cluster.kubectl(&["get", "configmap", "dependent"]).ok
    });
    assert!(
        gone,
        "a dependent of the old owner outlived it\n{}",
        cluster.log()
    );
    cluster.kubectl(&["get", "configmap", "owner"]).success();
}

#[test]
fn should_empty_a_deleted_namespace_and_then_remove_it() {
    let cluster = Cluster::start();
    apply(
        &cluster,
        "default",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n",
    );
    apply(
        &cluster,
        "doomed",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n",
    );
    apply(
        &cluster,
        "doomed",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: token}\nstringData: {t: x}\n",
    );
    let service =
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n";
    apply(&cluster, "doomed", service);
    deployment_family(&cluster, "inside", "doomed");
    // A pod bound to a node that does not exist: nothing would finish its
    // graceful stop, so the namespace controller must force it.
    let stranded = "apiVersion: v1\nkind: Pod\nmetadata: {name: stranded}\nspec:\n  nodeName: ghost\n  containers: [{name: c, image: demo:v1}]\n";
    apply(&cluster, "doomed", stranded);

    let run = cluster.kubectl(&["delete", "namespace", "doomed", "--timeout=45s"]);
    assert!(
        run.ok,
        "namespace delete failed: {}{}\n{}",
        run.stdout,
        run.stderr,
        cluster.log()
    );

    let get = cluster.kubectl(&["get", "namespace", "doomed"]).failure();
    assert!(
        get.stderr.contains("NotFound") || get.stderr.contains("not found"),
        "{}",
        get.stderr
    );
    let leftovers = cluster.kubectl(&[
        "get",
        "pods,configmaps,secrets,services,replicasets",
        "-n",
        "doomed",
        "-o",
        "name",
    ]);
    assert_eq!(
        leftovers.stdout.trim(),
        "",
        "objects outlived their namespace"
    );
}
