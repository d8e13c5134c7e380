//! delete and deletecollection, with finalizers, graceful pod deletion and the
//! three propagation policies (the garbage collector does the cascading).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use skiff_api::object;
use skiff_api::registry::{Kind, ResourceType};
use skiff_store::ListOptions;

use super::{respond, Call};
use crate::filter::ObjectFilter;
use crate::objects::revision_of;
use crate::prepare;
use crate::status::{ApiError, ApiResult};

/// How dependents are treated (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// The options of one delete, from the query and the DeleteOptions body.
struct DeleteOptions {
    propagation: Propagation,
    grace_period_seconds: Option<i64>,
    precondition_uid: Option<String>,
    precondition_rv: Option<String>,
}

fn delete_options(call: &Call<'_>) -> ApiResult<DeleteOptions> {
    let body: Value = if call.body.is_empty() {
        Value::Null
    } else {
        crate::codec::parse_json(
            &call.body,
            call.content_type(),
            crate::codec::OBJECT_MEDIA_TYPES,
        )?
    };
    let policy = call
        .query
        .propagation_policy
        .clone()
        .or_else(|| body["propagationPolicy"].as_str().map(String::from));
    let orphan = call.query.orphan_dependents.as_deref() == Some("true")
        || body["orphanDependents"] == json!(true);
    let propagation = match policy.as_deref() {
        None | Some("") if orphan => Propagation::Orphan,
        None | Some("") | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )))
        }
    };
    let grace = call
        .query
        .grace_period_seconds()
        .map_err(ApiError::bad_request)?
        .or(body["gracePeriodSeconds"].as_i64());
    if grace.is_some_and(|g| g < 0) {
        return Err(ApiError::bad_request(
            "gracePeriodSeconds must be greater than or equal to 0",
        ));
    }
    Ok(DeleteOptions {
        propagation,
        grace_period_seconds: grace,
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from),
        precondition_rv: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from),
    })
}

pub async fn delete(call: &Call<'_>) -> ApiResult<Response> {
    let options = delete_options(call)?;
    let rt = call.target.resource;
    let stored = call
        .state
        .objects
        .get(rt, call.namespace(), call.name())
        .await?;
    let (code, answer) = delete_one(call, rt, stored, &options).await?;
    Ok(respond(code, &answer))
}

pub async fn delete_collection(call: &Call<'_>) -> ApiResult<Response> {
    let options = delete_options(call)?;
    let rt = call.target.resource;
    let filter = ObjectFilter::from_query(rt, &call.query)?;
    let page = call
        .state
        .objects
        .list(rt, call.namespace(), ListOptions::default())
        .await?;
    let mut deleted = Vec::new();
    for stored in page.items.into_iter().filter(|o| filter.matches(o)) {
        match delete_one(call, rt, stored, &options).await {
            Ok((_, object)) => deleted.push(object),
            // Someone else deleted it first: that is what was asked.
            Err(error) if error.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    let list = json!({
        "kind": format!("{}List", rt.kind_name),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": call.state.objects.store().current_revision().to_string()},
        "items": deleted,
    });
    Ok(respond(StatusCode::OK, &list))
}

/// Deletes one object now, or marks it for deletion when something must happen
/// first (finalizers, a graceful pod stop, a namespace to empty).
async fn delete_one(
    call: &Call<'_>,
    rt: &ResourceType,
    stored: Value,
    options: &DeleteOptions,
) -> ApiResult<(StatusCode, Value)> {
    let name = object::name(&stored).unwrap_or_default().to_string();
    if let Some(uid) = &options.precondition_uid {
        if object::meta_str(&stored, "uid") != Some(uid.as_str()) {
            let why = format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                object::meta_str(&stored, "uid").unwrap_or_default()
            );
            return Err(ApiError::conflict_because(rt, &name, &why));
        }
    }
    if let Some(rv) = &options.precondition_rv {
        if object::meta_str(&stored, "resourceVersion") != Some(rv.as_str()) {
            return Err(ApiError::conflict(rt, &name));
        }
    }
    let expected = revision_of(&stored).unwrap_or_default();
    let mut marked = stored.clone();
    let now = chrono::Utc::now();
    let already_deleting = stored
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let graceful_seconds = graceful_pod_seconds(rt, &stored, options);
    let mut finalizers = finalizers_of(&stored);
    match options.propagation {
        Propagation::Foreground => add_finalizer(&mut finalizers, "foregroundDeletion"),
        Propagation::Orphan => add_finalizer(&mut finalizers, "orphan"),
        Propagation::Background => {}
    }
    let namespace_to_empty = rt.kind == Kind::Namespace;
    if finalizers.is_empty() && graceful_seconds.is_none() && !namespace_to_empty {
        let removed = if call.query.dry_run() {
            stored
        } else {
            call.state.objects.delete(rt, &stored, expected).await?
        };
        return Ok((StatusCode::OK, removed));
    }
    if already_deleting && finalizers == finalizers_of(&stored) {
        return Ok((StatusCode::ACCEPTED, stored));
    }
    let meta = object::metadata_mut(&mut marked);
    meta.insert("finalizers".into(), json!(finalizers));
    if !already_deleting {
        let grace = graceful_seconds.unwrap_or(0);
        meta.insert(
            "deletionTimestamp".into(),
            json!(prepare::timestamp(now + chrono::Duration::seconds(grace))),
        );
        meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    }
    if namespace_to_empty {
        marked["status"]["phase"] = json!("Terminating");
    }
    let written = if call.query.dry_run() {
        marked
    } else {
        call.state.objects.update(rt, &marked, expected).await?
    };
    Ok((StatusCode::ACCEPTED, written))
}

/// A pod running on a node stops gracefully: it is marked, and its node's agent
/// removes it once the containers have stopped. An unbound pod goes at once, as
/// does a delete with a grace period of 0.
fn graceful_pod_seconds(rt: &ResourceType, pod: &Value, options: &DeleteOptions) -> Option<i64> {
    if rt.kind != Kind::Pod
        || pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    {
        return None;
    }
    let default = pod
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    Some(options.grace_period_seconds.unwrap_or(default)).filter(|g| *g > 0)
}

fn finalizers_of(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn add_finalizer(finalizers: &mut Vec<String>, name: &str) {
    if !finalizers.iter().any(|f| f == name) {
        finalizers.push(name.to_string());
    }
}
