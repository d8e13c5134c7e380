//! Defaults of pod specs, shared by Pods and every pod template
//! (`SetDefaults_PodSpec`, `SetDefaults_Container`, `SetDefaults_Probe`, … in
//! `k8s.io/kubernetes/pkg/apis/core/v1/defaults.go` and the generated
//! `zz_generated.defaults.go`), the Pod-only ones (`SetDefaults_Pod`), and what
//! admission plugins add to Pods in a real cluster.

use serde_json::{json, Map, Value};

use super::{object_at, set_default, set_default_if_empty};

/// The default for a pod's `terminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// The default file mode of secret, configMap, downwardAPI and projected volumes (0644).
const DEFAULT_VOLUME_MODE: i64 = 0o644;
/// How long Pods stay bound to a not-ready or unreachable node
/// (`--default-not-ready-toleration-seconds`, `--default-unreachable-toleration-seconds`).
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Defaults of any pod spec: a Pod's, or a template's in a workload.
pub fn default_pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    // Jobs get `Always` too; their validation then asks for OnFailure or Never.
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "securityContext", json!({}));
    set_default(
        spec,
        "terminationGracePeriodSeconds",
        json!(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS),
    );
    set_default(spec, "schedulerName", json!("default-scheduler"));
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(default_volume);
    }
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(containers) = spec.get_mut(field).and_then(Value::as_array_mut) {
            containers
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(default_container);
        }
    }
}

/// Defaults only a Pod gets, not a template (`SetDefaults_Pod`): requests from
/// limits, service links, and host ports under the host's network.
pub fn default_pod_only(spec: &mut Map<String, Value>) {
    for field in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(field).and_then(Value::as_array_mut) {
            for container in containers.iter_mut().filter_map(Value::as_object_mut) {
                default_requests_to_limits(container);
            }
        }
    }
    set_default(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for field in ["containers", "initContainers"] {
            let ports = spec
                .get_mut(field)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get_mut("ports"));
            for port in ports
                .filter_map(Value::as_array_mut)
                .flatten()
                .filter_map(Value::as_object_mut)
            {
                if port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                    if let Some(container_port) = port.get("containerPort").cloned() {
                        port.insert("hostPort".to_string(), container_port);
                    }
                }
            }
        }
    }
}

/// What admission plugins of a stock kube-apiserver add to every new Pod.
pub fn default_pod_admission(spec: &mut Map<String, Value>) {
    // ServiceAccount admission: the namespace's `default` account. The deprecated
    // `serviceAccount` mirrors it in v1 output. (Mounting the API token volume is
    // the token's issuer's business and not done here.)
    // The v1 conversion reads the deprecated `serviceAccount` when the name is unset.
    let deprecated = spec
        .get("serviceAccount")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty());
    let account = json!(deprecated.unwrap_or("default"));
    let name = spec.entry("serviceAccountName").or_insert(Value::Null);
    if name.as_str().is_none_or(str::is_empty) {
        *name = account;
    }
    let account = spec["serviceAccountName"].clone();
    set_default(spec, "serviceAccount", account);

    // DefaultTolerationSeconds admission: keep a Pod on a node that stops being
    // ready or reachable for five minutes before evicting it.
    for taint in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
        if let Some(list) = tolerations.as_array_mut() {
            if !list.iter().any(|t| tolerates_no_execute(t, taint)) {
                list.push(json!({
                    "key": taint,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }));
            }
        }
    }

    // Priority admission: the priority of the class named, 0 without a class
    // (no global default class), and the default preemption policy.
    let priority = match spec.get("priorityClassName").and_then(Value::as_str) {
        Some("system-node-critical") => 2_000_001_000,
        Some("system-cluster-critical") => 2_000_000_000,
        _ => 0,
    };
    set_default(spec, "priority", json!(priority));
    set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// Whether a toleration already tolerates a `NoExecute` taint with this key
/// (`Toleration.ToleratesTaint`, as DefaultTolerationSeconds checks it).
fn tolerates_no_execute(toleration: &Value, taint_key: &str) -> bool {
    let key = toleration
        .get("key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let operator = toleration
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or("Equal");
    let effect = toleration
        .get("effect")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = toleration
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let effect_matches = effect.is_empty() || effect == "NoExecute";
    let key_matches = key == taint_key || (key.is_empty() && operator == "Exists");
    // The taints carry no value, so Equal matches only an empty value.
    let value_matches = operator == "Exists" || value.is_empty();
    effect_matches && key_matches && value_matches
}

/// `SetDefaults_Container` and the generated defaults of its parts.
fn default_container(container: &mut Map<String, Value>) {
    if container
        .get("imagePullPolicy")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
    {
        let image = container
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        container.insert(
            "imagePullPolicy".to_string(),
            json!(default_pull_policy(image)),
        );
    }
    set_default(
        container,
        "terminationMessagePath",
        json!("/dev/termination-log"),
    );
    set_default(container, "terminationMessagePolicy", json!("File"));
    // A v1 Container always serializes its resources, if only as `{}`.
    set_default(container, "resources", json!({}));
    if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(probe).and_then(Value::as_object_mut) {
            default_probe(probe);
        }
    }
    if let Some(lifecycle) = container
        .get_mut("lifecycle")
        .and_then(Value::as_object_mut)
    {
        for hook in ["postStart", "preStop"] {
            if let Some(http_get) = lifecycle
                .get_mut(hook)
                .and_then(|h| h.get_mut("httpGet"))
                .and_then(Value::as_object_mut)
            {
                default_http_get(http_get);
            }
        }
    }
    if let Some(env) = container.get_mut("env").and_then(Value::as_array_mut) {
        for var in env.iter_mut() {
            if let Some(field_ref) = var
                .pointer_mut("/valueFrom/fieldRef")
                .and_then(Value::as_object_mut)
            {
                set_default(field_ref, "apiVersion", json!("v1"));
            }
        }
    }
}

/// The pull policy for an image without one: `Always` for `:latest` (or no tag
/// and no digest, which means latest), else `IfNotPresent`.
pub fn default_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // A tag follows the last `:` of the last path component (a registry port does not count).
    let last_component = name.rsplit('/').next().unwrap_or(name);
    let tag = last_component.split_once(':').map(|(_, tag)| tag);
    match (tag, digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

/// `SetDefaults_Probe`, and `SetDefaults_HTTPGetAction` for its HTTP action.
fn default_probe(probe: &mut Map<String, Value>) {
    for (field, value) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if probe.get(field).and_then(Value::as_i64).unwrap_or(0) == 0 {
            probe.insert(field.to_string(), json!(value));
        }
    }
    if let Some(http_get) = probe.get_mut("httpGet").and_then(Value::as_object_mut) {
        default_http_get(http_get);
    }
}

fn default_http_get(http_get: &mut Map<String, Value>) {
    set_default_if_empty(http_get, "path", "/");
    set_default_if_empty(http_get, "scheme", "HTTP");
}

/// `SetDefaults_Volume` and the defaults of each source.
fn default_volume(volume: &mut Map<String, Value>) {
    const SOURCES: &[&str] = &[
        "hostPath",
        "emptyDir",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "secret",
        "nfs",
        "iscsi",
        "glusterfs",
        "persistentVolumeClaim",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "downwardAPI",
        "fc",
        "azureFile",
        "configMap",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "projected",
        "portworxVolume",
        "scaleIO",
        "storageos",
        "csi",
        "ephemeral",
        "image",
    ];
    if !SOURCES
        .iter()
        .any(|s| volume.get(*s).is_some_and(|v| !v.is_null()))
    {
        volume.insert("emptyDir".to_string(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
            set_default(source, "defaultMode", json!(DEFAULT_VOLUME_MODE));
        }
    }
    if let Some(host_path) = volume.get_mut("hostPath").and_then(Value::as_object_mut) {
        set_default(host_path, "type", json!(""));
    }
    if let Some(items) = volume
        .get_mut("downwardAPI")
        .and_then(|d| d.get_mut("items"))
        .and_then(Value::as_array_mut)
    {
        for item in items.iter_mut() {
            if let Some(field_ref) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                set_default(field_ref, "apiVersion", json!("v1"));
            }
        }
    }
    if let Some(sources) = volume
        .get_mut("projected")
        .and_then(|p| p.get_mut("sources"))
        .and_then(Value::as_array_mut)
    {
        for source in sources.iter_mut() {
            if let Some(token) = source
                .get_mut("serviceAccountToken")
                .and_then(Value::as_object_mut)
            {
                set_default(token, "expirationSeconds", json!(3600));
            }
            if let Some(items) = source
                .pointer_mut("/downwardAPI/items")
                .and_then(Value::as_array_mut)
            {
                for item in items.iter_mut() {
                    if let Some(field_ref) = item.get_mut("fieldRef").and_then(Value::as_object_mut)
                    {
                        set_default(field_ref, "apiVersion", json!("v1"));
                    }
                }
            }
        }
    }
    if let Some(spec) = volume
        .get_mut("ephemeral")
        .and_then(|e| e.pointer_mut("/volumeClaimTemplate/spec"))
        .and_then(Value::as_object_mut)
    {
        set_default(spec, "volumeMode", json!("Filesystem"));
    }
}

/// A limit without a request makes the request equal to the limit.
fn default_requests_to_limits(container: &mut Map<String, Value>) {
    let Some(resources) = container
        .get_mut("resources")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let requests = object_at(resources, "requests");
    for (name, quantity) in limits {
        requests.entry(name).or_insert(quantity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn should_choose_the_pull_policy_from_the_tag() {
        assert_eq!(default_pull_policy("nginx"), "Always");
        assert_eq!(default_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_pull_policy("nginx:1.25"), "IfNotPresent");
        assert_eq!(default_pull_policy("localhost:5000/app"), "Always");
        assert_eq!(default_pull_policy("localhost:5000/app:v2"), "IfNotPresent");
        assert_eq!(default_pull_policy("nginx@sha256:abcd"), "IfNotPresent");
        assert_eq!(default_pull_policy("nginx:latest@sha256:abcd"), "Always");
    }

    #[test]
    fn should_default_a_pod_spec_and_its_containers() {
        let mut s = spec(
            json!({"containers": [{"name": "web", "image": "demo", "ports": [{"containerPort": 8080}],
            "readinessProbe": {"httpGet": {"port": 8080}}}]}),
        );
        default_pod_spec(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({
                "containers": [{"name": "web", "image": "demo", "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {},
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {},
                "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"
            })
        );
    }

    #[test]
    fn should_keep_what_the_user_set() {
        let mut s = spec(
            json!({"restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "a", "image": "x", "imagePullPolicy": "Never"}]}),
        );
        default_pod_spec(&mut s);
        assert_eq!(s["restartPolicy"], "Never");
        assert_eq!(s["dnsPolicy"], "Default");
        assert_eq!(s["terminationGracePeriodSeconds"], 5);
        assert_eq!(s["containers"][0]["imagePullPolicy"], "Never");
    }

    #[test]
    fn should_default_requests_to_limits_only_for_pods() {
        let mut s = spec(
            json!({"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "100Mi"}, "requests": {"cpu": "100m"}}}]}),
        );
        default_pod_only(&mut s);
        assert_eq!(
            s["containers"][0]["resources"]["requests"],
            json!({"cpu": "100m", "memory": "100Mi"})
        );
        assert_eq!(s["enableServiceLinks"], true);
    }

    #[test]
    fn should_use_container_ports_as_host_ports_on_the_host_network() {
        let mut s = spec(
            json!({"hostNetwork": true, "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 53}]}]}),
        );
        default_pod_only(&mut s);
        assert_eq!(s["containers"][0]["ports"][0]["hostPort"], 53);
    }

    #[test]
    fn should_add_what_admission_adds() {
        let mut s = spec(json!({"containers": []}));
        default_pod_admission(&mut s);
        assert_eq!(s["serviceAccountName"], "default");
        assert_eq!(s["serviceAccount"], "default");
        assert_eq!(s["priority"], 0);
        assert_eq!(s["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(
            s["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ])
        );
        // Applying twice changes nothing.
        let once = s.clone();
        default_pod_admission(&mut s);
        assert_eq!(s, once);
    }

    #[test]
    fn should_take_the_deprecated_service_account_field() {
        let mut s = spec(json!({"serviceAccount": "builder"}));
        default_pod_admission(&mut s);
        assert_eq!(s["serviceAccountName"], "builder");
    }

    #[test]
    fn should_not_add_a_toleration_the_pod_already_has() {
        let mut s = spec(json!({"tolerations": [{"operator": "Exists"}]}));
        default_pod_admission(&mut s);
        assert_eq!(s["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn should_default_volume_sources() {
        let mut s = spec(
            json!({"volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]}),
        );
        default_pod_spec(&mut s);
        assert_eq!(
            s["volumes"],
            json!([{"name": "scratch", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}])
        );
    }
}
