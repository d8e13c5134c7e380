//! Discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`) and
//! `/version`, built from the registry so that a new kind needs no code here.

use serde_json::{json, Value};
use skiff_api::registry::{self, ResourceType, RESOURCES};

/// The Kubernetes version Skiff answers to: kubectl 1.32 talks to it as to 1.32.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "32");

pub fn version() -> Value {
    json!({
        "major": KUBERNETES_VERSION.0,
        "minor": KUBERNETES_VERSION.1,
        "gitVersion": format!("v{}.{}.0+skiff.{}", KUBERNETES_VERSION.0, KUBERNETES_VERSION.1, env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_json(group: &str) -> Value {
    let versions: Vec<Value> = registry::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions.first().cloned().unwrap_or_default()})
}

pub fn group_list() -> Value {
    let mut groups: Vec<&str> = registry::group_versions()
        .into_iter()
        .map(|(g, _)| g)
        .filter(|g| !g.is_empty())
        .collect();
    groups.dedup();
    let groups: Vec<Value> = groups.into_iter().map(group_json).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(group: &str) -> Option<Value> {
    registry::group_versions()
        .iter()
        .any(|(g, _)| *g == group && !g.is_empty())
        .then(|| {
            let mut doc = group_json(group);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            doc
        })
}

const OBJECT_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const READ_WRITE_VERBS: &[&str] = &["get", "patch", "update"];

/// How a subresource appears in discovery: its kind, verbs, and, for `scale` and
/// `eviction`, the group/version of the object it takes.
fn subresource_entry(rt: &ResourceType, sub: &str) -> Value {
    let (kind, verbs, group_version): (&str, &[&str], Option<(&str, &str)>) = match sub {
        "scale" => ("Scale", READ_WRITE_VERBS, Some(("autoscaling", "v1"))),
        "binding" => ("Binding", &["create"], None),
        "eviction" => ("Eviction", &["create"], Some(("policy", "v1"))),
        "log" => ("Pod", &["get"], None),
        "exec" => ("PodExecOptions", &["create", "get"], None),
        "finalize" => (rt.kind_name, &["update"], None),
        _ => (rt.kind_name, READ_WRITE_VERBS, None),
    };
    let mut entry = json!({
        "name": format!("{}/{sub}", rt.plural),
        "singularName": "",
        "namespaced": rt.namespaced(),
        "kind": kind,
        "verbs": verbs,
    });
    if let Some((group, version)) = group_version {
        entry["group"] = json!(group);
        entry["version"] = json!(version);
    }
    entry
}

/// The APIResourceList of one group/version, or `None` if it is not served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for rt in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced(),
            "kind": rt.kind_name,
            "verbs": OBJECT_VERBS,
        });
        if !rt.short_names.is_empty() {
            entry["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            entry["categories"] = json!(rt.categories);
        }
        resources.push(entry);
        resources.extend(rt.subresources.iter().map(|sub| subresource_entry(rt, sub)));
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_list_scale_as_an_autoscaling_subresource() {
        let apps = resource_list("apps", "v1").unwrap();
        let scale = apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(
            (scale["group"].as_str(), scale["kind"].as_str()),
            (Some("autoscaling"), Some("Scale"))
        );
    }

    #[test]
    fn should_list_every_group_once() {
        let groups = group_list();
        let names: Vec<&str> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "apps",
                "batch",
                "networking.k8s.io",
                "discovery.k8s.io",
                "coordination.k8s.io",
                "events.k8s.io"
            ]
        );
        assert!(resource_list("apps", "v2").is_none());
    }
}
