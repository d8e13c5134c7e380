//! The subresources that are views of another object: `scale` (autoscaling/v1
//! Scale over spec.replicas) and `pods/binding` (the scheduler's write).

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use skiff_api::object;

use super::{respond, Call};
use crate::objects::revision_of;
use crate::status::{ApiError, ApiResult};

/// The Scale view of a workload.
fn scale_of(workload: &Value) -> Value {
    let meta = &workload["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": workload.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": workload.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector_string(workload.pointer("/spec/selector")),
        },
    })
}

/// A label selector object as the string form Scale's status.selector carries.
fn selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return String::new();
    };
    let mut parts: Vec<String> = selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for expression in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expression["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.sort();
    parts.join(",")
}

pub async fn scale(call: &Call<'_>, method: &Method) -> ApiResult<Response> {
    let rt = call.target.resource;
    let stored = call
        .state
        .objects
        .get(rt, call.namespace(), call.name())
        .await?;
    let current = scale_of(&stored);
    let wanted = match method.as_str() {
        "GET" => return Ok(respond(StatusCode::OK, &current)),
        "PUT" => crate::codec::parse_json(
            &call.body,
            call.content_type(),
            crate::codec::OBJECT_MEDIA_TYPES,
        )?,
        "PATCH" => {
            let patch_type = call.media_type();
            let patch =
                crate::codec::parse_json(&call.body, Some(&patch_type), super::write::PATCH_TYPES)?;
            // A Scale has no lists, so any kind's strategic merge is a plain merge here.
            super::write::apply_patch(rt, &patch_type, &current, &patch)?
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    if let Some(rv) = object::meta_str(&wanted, "resourceVersion").filter(|rv| !rv.is_empty()) {
        if Some(rv) != object::meta_str(&stored, "resourceVersion") {
            return Err(ApiError::conflict(rt, call.name()));
        }
    }
    let replicas = wanted
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        let error = skiff_api::field::FieldError::invalid(
            "spec.replicas",
            &json!(replicas),
            "must be greater than or equal to 0",
        );
        return Err(ApiError::invalid(rt, call.name(), &[error]));
    }
    let mut next = stored.clone();
    next["spec"]["replicas"] = json!(replicas);
    if next != stored {
        let generation = stored
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        object::metadata_mut(&mut next).insert("generation".into(), json!(generation));
    }
    let written = call
        .state
        .objects
        .update(rt, &next, revision_of(&stored).unwrap_or_default())
        .await?;
    Ok(respond(StatusCode::OK, &scale_of(&written)))
}

/// How many times a binding is retried when the pod changed under it.
const BINDING_ATTEMPTS: usize = 5;

/// Binds a pod to a node, once: the scheduler's only write to a pod.
pub async fn binding(call: &Call<'_>) -> ApiResult<Response> {
    let rt = call.target.resource;
    let body = crate::codec::parse_json(
        &call.body,
        call.content_type(),
        crate::codec::OBJECT_MEDIA_TYPES,
    )?;
    let node = body
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() {
        let error = skiff_api::field::FieldError::required("target.name", "");
        return Err(ApiError::invalid(
            skiff_api::registry::of(skiff_api::registry::Kind::Pod),
            call.name(),
            &[error],
        ));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let stored = call
            .state
            .objects
            .get(rt, call.namespace(), call.name())
            .await?;
        if stored
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
        {
            return Err(ApiError::conflict_because(
                rt,
                call.name(),
                "pod is being deleted, cannot be assigned to a host",
            ));
        }
        if let Some(bound) = stored
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(ApiError::conflict_because(
                rt,
                call.name(),
                &format!(
                    "pod {} is already assigned to node \"{bound}\"",
                    call.name()
                ),
            ));
        }
        let mut next = stored.clone();
        next["spec"]["nodeName"] = json!(node);
        let now = crate::prepare::timestamp(chrono::Utc::now());
        let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
        let conditions = next["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conditions: Vec<Value> = conditions
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conditions.push(condition);
        next["status"]["conditions"] = Value::Array(conditions);
        match call
            .state
            .objects
            .update(rt, &next, revision_of(&stored).unwrap_or_default())
            .await
        {
            // Another writer (a status update) got in between: bind the newer pod,
            // as kube-apiserver retries a binding's update.
            Err(error) if error.reason == "Conflict" && attempt < BINDING_ATTEMPTS => continue,
            Err(error) => return Err(error),
            Ok(_) => break,
        }
    }
    Ok(respond(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
