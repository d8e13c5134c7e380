//! `/openapi/v3`: one document per group/version with the paths and operations
//! kubectl reads. kubectl checks here that the server takes `fieldValidation`
//! (so it validates server-side, without `--validate=false`) and which patch
//! types each kind accepts.

use serde_json::{json, Map, Value};
use skiff_api::registry::{self, ResourceType, RESOURCES};

/// The index: each group/version's document, with a hash so clients can cache it.
pub fn index() -> Value {
    let mut paths = Map::new();
    for (group, version) in registry::group_versions() {
        let path = gv_path(group, version);
        let hash = document_hash(group, version);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `api/v1` or `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The documents only change with the binary, so its version is hash enough.
fn document_hash(group: &str, version: &str) -> String {
    let text = format!("{}/{group}/{version}", env!("CARGO_PKG_VERSION"));
    let sum = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{sum:016X}")
}

/// The document served at `/openapi/v3/<path>`, if that names a group/version.
pub fn document(path: &str) -> Option<Value> {
    let (group, version) = registry::group_versions()
        .into_iter()
        .find(|(g, v)| gv_path(g, v) == path)?;
    let mut paths = Map::new();
    for rt in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let base = format!("/{}", gv_path(group, version));
        let collection = if rt.namespaced() {
            format!("{base}/namespaces/{{namespace}}/{}", rt.plural)
        } else {
            format!("{base}/{}", rt.plural)
        };
        paths.insert(collection.clone(), collection_operations(rt));
        paths.insert(format!("{collection}/{{name}}"), object_operations(rt));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": info_version()},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

/// The OpenAPI v2 document: a valid Swagger 2.0 document without schemas.
pub fn v2_document() -> Value {
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": info_version()}, "paths": {}, "definitions": {}})
}

/// The same document in the protobuf form kubectl asks for (gnostic's
/// `openapi_v2.Document`): field 1, `swagger`, set to "2.0"; nothing else.
pub const V2_PROTOBUF: &[u8] = b"\x0a\x032.0";

fn info_version() -> String {
    format!(
        "v{}.{}.0",
        crate::discovery::KUBERNETES_VERSION.0,
        crate::discovery::KUBERNETES_VERSION.1
    )
}

fn gvk(rt: &ResourceType) -> Value {
    json!({"group": rt.group, "version": rt.version, "kind": rt.kind_name})
}

fn query_parameter(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(rt: &ResourceType, action: &str, parameters: &[&str], body_types: &[&str]) -> Value {
    let mut op = json!({
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(rt),
        "parameters": parameters.iter().map(|p| query_parameter(p)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
    });
    if !body_types.is_empty() {
        let content: Map<String, Value> = body_types
            .iter()
            .map(|t| (t.to_string(), json!({"schema": {"type": "object"}})))
            .collect();
        op["requestBody"] = json!({"content": content, "required": true});
    }
    op
}

const WRITE_PARAMETERS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_BODY: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

fn collection_operations(rt: &ResourceType) -> Value {
    json!({
        "get": operation(rt, "list", &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch", "timeoutSeconds"], &[]),
        "post": operation(rt, "post", WRITE_PARAMETERS, &["application/json"]),
        "delete": operation(rt, "deletecollection", &["labelSelector", "fieldSelector", "propagationPolicy"], &[]),
    })
}

fn object_operations(rt: &ResourceType) -> Value {
    let mut patch_parameters = WRITE_PARAMETERS.to_vec();
    patch_parameters.push("force");
    json!({
        "get": operation(rt, "get", &[], &[]),
        "put": operation(rt, "put", WRITE_PARAMETERS, &["application/json"]),
        "patch": operation(rt, "patch", &patch_parameters, PATCH_BODY),
        "delete": operation(rt, "delete", &["gracePeriodSeconds", "propagationPolicy", "dryRun"], &[]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_offer_field_validation_on_every_patch() {
        let doc = document("apis/apps/v1").unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(names.contains(&"fieldValidation"));
    }

    #[test]
    fn should_index_every_group_version() {
        let index = index();
        assert!(index["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/api/v1?hash="));
        assert!(document("apis/nope/v1").is_none());
    }
}
