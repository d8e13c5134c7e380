//! Bad requests, table-driven: each gets Kubernetes' code and a clear message in
//! a Status, nothing stored is lost, and the server keeps serving.

mod common;

use common::{body_and_status, Cluster};
use serde_json::{json, Value};

const NS: &str = "/api/v1/namespaces/default";
const APPS: &str = "/apis/apps/v1/namespaces/default";

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: String,
    code: u16,
    /// A part of the Status message.
    says: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: impl Into<String>,
    code: u16,
    says: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        content_type: "application/json",
        body: body.into(),
        code,
        says,
    }
}

fn typed(mut c: Case, content_type: &'static str) -> Case {
    c.content_type = content_type;
    c
}

fn service(name: &str, spec: Value) -> String {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
        .to_string()
}

fn deployment(
    name: &str,
    replicas: Value,
    selector: Value,
    labels: Value,
    containers: Value,
) -> String {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}})
    .to_string()
}

fn web_containers() -> Value {
    json!([{"name": "web", "image": "demo"}])
}

fn cases(stored_service: &Value, stored_deployment: &Value) -> Vec<Case> {
    let port = |p: Value| json!({"ports": [{"port": p}]});
    let mut stale = stored_service.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let mut new_ip = stored_service.clone();
    new_ip["spec"]["clusterIP"] = json!("10.43.0.99");
    new_ip["spec"]["clusterIPs"] = json!(["10.43.0.99"]);
    let mut new_selector = stored_deployment.clone();
    new_selector["spec"]["selector"]["matchLabels"] = json!({"app": "other"});
    new_selector["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let big = format!("{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"a\":\"{}\"}}}}", "x".repeat(4 << 20));
    vec![
        case("truncated JSON", "POST", format!("{NS}/services"), "{", 400, "json parse error"),
        case("a JSON array", "POST", format!("{NS}/services"), "[1,2]", 400, "expected an object"),
        case("a JSON string", "POST", format!("{NS}/services"), "\"svc\"", 400, "expected an object"),
        case("YAML where JSON is declared", "POST", format!("{NS}/services"), "kind: Service\n", 400, "json parse error"),
        case("wrong apiVersion", "POST", format!("{NS}/services"), json!({"apiVersion": "apps/v1", "kind": "Service", "metadata": {"name": "a"}}).to_string(), 400, "does not match the expected API version (v1)"),
        case("wrong kind", "POST", format!("{NS}/services"), json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}).to_string(), 400, "does not match the expected kind (Service)"),
        case("invalid name", "POST", format!("{NS}/services"), service("Bad_Name", port(json!(80))), 422, "metadata.name: Invalid value: \"Bad_Name\""),
        case("name too long", "POST", format!("{NS}/configmaps"), json!({"metadata": {"name": "a".repeat(300)}}).to_string(), 422, "metadata.name"),
        case("no name", "POST", format!("{NS}/configmaps"), json!({"metadata": {}}).to_string(), 422, "name or generateName is required"),
        case("port above range", "POST", format!("{NS}/services"), service("a", port(json!(70000))), 422, "must be between 1 and 65535, inclusive"),
        case("port zero", "POST", format!("{NS}/services"), service("a", port(json!(0))), 422, "spec.ports[0].port"),
        case("port of the wrong type", "POST", format!("{NS}/services"), service("a", port(json!("eighty"))), 400, "cannot be handled as a Service"),
        case("no ports", "POST", format!("{NS}/services"), service("a", json!({"selector": {"a": "b"}})), 422, "spec.ports: Required value"),
        case("unsupported service type", "POST", format!("{NS}/services"), service("a", json!({"type": "Magic", "ports": [{"port": 80}]})), 422, "spec.type: Unsupported value: \"Magic\""),
        case("unknown field under Strict", "POST", format!("{NS}/services?fieldValidation=Strict"), service("a", json!({"ports": [{"port": 80}], "colour": "red"})), 400, "strict decoding error: unknown field \"spec.colour\""),
        case("duplicate field under Strict", "POST", format!("{NS}/configmaps?fieldValidation=Strict"), r#"{"metadata":{"name":"dup"},"data":{"a":"1"},"data":{"b":"2"}}"#, 400, "duplicate field \"data\""),
        case("bad fieldValidation", "POST", format!("{NS}/configmaps?fieldValidation=Loose"), json!({"metadata": {"name": "a"}}).to_string(), 400, "fieldValidation parameter unsupported"),
        case("stale resourceVersion", "PUT", format!("{NS}/services/web"), stale.to_string(), 409, "the object has been modified"),
        case("changed clusterIP", "PUT", format!("{NS}/services/web"), new_ip.to_string(), 422, "may not change once set"),
        case("changed deployment selector", "PUT", format!("{APPS}/deployments/web"), new_selector.to_string(), 422, "field is immutable"),
        case("selector not matching labels", "POST", format!("{APPS}/deployments"), deployment("d1", json!(1), json!({"app": "a"}), json!({"app": "b"}), web_containers()), 422, "`selector` does not match template `labels`"),
        case("negative replicas", "POST", format!("{APPS}/deployments"), deployment("d2", json!(-1), json!({"app": "a"}), json!({"app": "a"}), web_containers()), 422, "spec.replicas: Invalid value: -1"),
        case("no containers", "POST", format!("{APPS}/deployments"), deployment("d3", json!(1), json!({"app": "a"}), json!({"app": "a"}), json!([])), 422, "spec.template.spec.containers: Required value"),
        case("container without image", "POST", format!("{APPS}/deployments"), deployment("d4", json!(1), json!({"app": "a"}), json!({"app": "a"}), json!([{"name": "c"}])), 422, "spec.template.spec.containers[0].image: Required value"),
        case("invalid label value", "POST", format!("{NS}/configmaps"), json!({"metadata": {"name": "a", "labels": {"app": "not valid!"}}}).to_string(), 422, "metadata.labels: Invalid value: \"not valid!\""),
        case("invalid label key", "POST", format!("{NS}/configmaps"), json!({"metadata": {"name": "a", "labels": {"bad key": "x"}}}).to_string(), 422, "metadata.labels: Invalid value: \"bad key\""),
        case("invalid restartPolicy", "POST", format!("{NS}/pods"), json!({"metadata": {"name": "p"}, "spec": {"restartPolicy": "Sometimes", "containers": [{"name": "c", "image": "i"}]}}).to_string(), 422, "spec.restartPolicy: Unsupported value: \"Sometimes\""),
        case("invalid configmap key", "POST", format!("{NS}/configmaps"), json!({"metadata": {"name": "a"}, "data": {"no/slash": "x"}}).to_string(), 422, "a valid config key must consist of alphanumeric characters"),
        case("secret data not base64", "POST", format!("{NS}/secrets"), json!({"metadata": {"name": "a"}, "data": {"k": "%%%"}}).to_string(), 400, "cannot be handled as a Secret"),
        case("ingress path without pathType", "POST", "/apis/networking.k8s.io/v1/namespaces/default/ingresses", json!({"metadata": {"name": "i"}, "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}).to_string(), 422, "pathType: Required value"),
        case("already exists", "POST", format!("{NS}/services"), service("web", port(json!(80))), 409, "services \"web\" already exists"),
        case("missing namespace", "POST", "/api/v1/namespaces/nope/configmaps", json!({"metadata": {"name": "a"}}).to_string(), 404, "namespaces \"nope\" not found"),
        case("namespace mismatch", "POST", format!("{NS}/configmaps"), json!({"metadata": {"name": "a", "namespace": "kube-system"}}).to_string(), 400, "does not match the namespace sent on the request"),
        case("name mismatch on update", "PUT", format!("{NS}/services/web"), service("other", port(json!(80))), 400, "does not match the name on the URL"),
        case("object not found", "GET", format!("{NS}/services/nope"), "", 404, "services \"nope\" not found"),
        case("unknown resource", "GET", "/api/v1/widgets", "", 404, "the server could not find the requested resource"),
        case("unknown subresource", "GET", format!("{NS}/services/web/scale"), "", 404, "the server could not find the requested resource"),
        case("POST to an object", "POST", format!("{NS}/services/web"), "{}", 405, "does not allow this method"),
        case("body too large", "POST", format!("{NS}/configmaps"), big, 413, "Request entity too large"),
        typed(case("wrong content type", "POST", format!("{NS}/configmaps"), "name=a", 415, "unknown format"), "text/plain"),
        typed(case("patch as plain JSON", "PATCH", format!("{NS}/services/web"), "{}", 415, "unknown format"), "application/json"),
        typed(case("malformed JSON patch", "PATCH", format!("{NS}/services/web"), r#"{"op":"add"}"#, 400, "error decoding patch"), "application/json-patch+json"),
        typed(case("JSON patch on a missing path", "PATCH", format!("{NS}/services/web"), r#"[{"op":"replace","path":"/spec/nothing/here","value":1}]"#, 422, "rejected our request"), "application/json-patch+json"),
        typed(case("merge patch that is not an object", "PATCH", format!("{NS}/services/web"), "[1]", 400, "must be a JSON object"), "application/merge-patch+json"),
        typed(case("patch of a missing object", "PATCH", format!("{NS}/services/nope"), "{}", 404, "services \"nope\" not found"), "application/merge-patch+json"),
        case("bad label selector", "GET", format!("{NS}/services?labelSelector=a%20in%20(b"), "", 400, "unable to parse requirement"),
        case("unsupported field selector", "GET", format!("{NS}/services?fieldSelector=spec.colour%3Dred"), "", 400, "field label not supported: spec.colour"),
        case("bad limit", "GET", format!("{NS}/services?limit=many"), "", 400, "expected an integer"),
        case("bad continue token", "GET", format!("{NS}/services?limit=1&continue=%%%"), "", 400, "continue"),
        case("bad propagationPolicy", "DELETE", format!("{NS}/services/web?propagationPolicy=Sideways"), "", 400, "Unsupported value: \"Sideways\""),
        case("bad resourceVersion for watch", "GET", format!("{NS}/services?watch=true&resourceVersion=abc"), "", 400, "invalid resource version"),
    ]
}

#[test]
fn should_answer_every_bad_request_with_a_clear_status_and_keep_serving() {
    let cluster = Cluster::start();
    cluster.kubectl_stdin(&["apply", "-f", "-"], &service("web", json!({"clusterIP": "10.43.0.50", "selector": {"app": "web"}, "ports": [{"port": 80}]}))).success();
    cluster
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &deployment(
                "web",
                json!(1),
                json!({"app": "web"}),
                json!({"app": "web"}),
                web_containers(),
            ),
        )
        .success();
    let stored_service: Value = serde_json::from_str(
        &cluster
            .kubectl(&["get", "svc", "web", "-o", "json"])
            .success()
            .stdout,
    )
    .unwrap();
    let stored_deployment: Value = serde_json::from_str(
        &cluster
            .kubectl(&["get", "deploy", "web", "-o", "json"])
            .success()
            .stdout,
    )
    .unwrap();

    let cases = cases(&stored_service, &stored_deployment);
    assert!(
        cases.len() >= 40,
        "at least 40 bad requests, got {}",
        cases.len()
    );
    let body_file = cluster.data_dir.path().join("body");
    let mut failures = Vec::new();
    for case in &cases {
        std::fs::write(&body_file, &case.body).unwrap();
        let data = format!("@{}", body_file.display());
        let content_type = format!("Content-Type: {}", case.content_type);
        let mut args = vec![
            case.path.as_str(),
            "-X",
            case.method,
            "-H",
            content_type.as_str(),
        ];
        if !case.body.is_empty() {
            args.extend(["--data-binary", data.as_str()]);
        }
        let (body, code) = body_and_status(&cluster.curl(&args));
        let status: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let message = status["message"].as_str().unwrap_or_default();
        if code != case.code
            || status["kind"] != "Status"
            || status["code"] != case.code
            || !message.contains(case.says)
        {
            failures.push(format!(
                "{}: expected {} containing {:?}, got {code}: {body}",
                case.what, case.code, case.says
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Nothing was lost and the server still serves.
    let (_, code) = body_and_status(&cluster.curl(&["/readyz"]));
    assert_eq!(code, 200);
    let after: Value = serde_json::from_str(
        &cluster
            .kubectl(&["get", "svc", "web", "-o", "json"])
            .success()
            .stdout,
    )
    .unwrap();
    assert_eq!(after, stored_service);
}

#[test]
fn should_refuse_requests_without_a_valid_token() {
    let cluster = Cluster::start();
    for token in [None, Some("wrong-token")] {
        let (body, code) = body_and_status(&cluster.curl_as(token, &["/api/v1/namespaces"]));
        assert_eq!(code, 401, "{body}");
        let status: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (status["reason"].as_str(), status["code"].as_i64()),
            (Some("Unauthorized"), Some(401))
        );
    }
    let (_, code) = body_and_status(&cluster.curl(&["/api/v1/namespaces"]));
    assert_eq!(code, 200);
}

#[test]
fn should_forbid_new_content_in_a_terminating_namespace() {
    let cluster = Cluster::start();
    // A finalizer of someone else's keeps the namespace in Terminating.
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "closing", "finalizers": ["example.com/hold"]}});
    cluster
        .kubectl_stdin(&["apply", "-f", "-"], &namespace.to_string())
        .success();
    cluster
        .kubectl(&["delete", "namespace", "closing", "--wait=false"])
        .success();
    let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": "closing"}});
    let body_file = cluster.data_dir.path().join("late.json");
    std::fs::write(&body_file, configmap.to_string()).unwrap();
    let data = format!("@{}", body_file.display());
    let (body, code) = body_and_status(&cluster.curl(&[
        "/api/v1/namespaces/closing/configmaps",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &data,
    ]));
    assert_eq!(code, 403, "{body}");
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace closing because it is being terminated"
    );
}
