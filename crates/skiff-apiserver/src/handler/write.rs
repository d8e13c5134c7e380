//! create, update and patch: decode, let the server set what it owns, default,
//! validate, then one compare-and-swap write.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use skiff_api::registry::{self, Kind, ResourceType};
use skiff_api::{defaults, object, strategic_merge, validation};

use super::{respond, Call};
use crate::codec::{self, with_warnings};
use crate::objects::revision_of;
use crate::prepare;
use crate::status::{ApiError, ApiResult};

/// Letters Kubernetes uses for generated name suffixes (no vowels, no lookalikes).
const NAME_SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub async fn create(call: &Call<'_>) -> ApiResult<Response> {
    let rt = call.target.resource;
    if rt.namespaced() && call.target.namespace.is_none() {
        return Err(ApiError::method_not_allowed());
    }
    let validation_mode = call
        .query
        .field_validation()
        .map_err(ApiError::bad_request)?;
    let decoded = codec::decode_object(rt, &call.body, call.content_type(), validation_mode)?;
    let mut object = decoded.object;
    place_in_namespace(call, &mut object)?;
    assign_name(&mut object);
    let name = object::name(&object).unwrap_or_default().to_string();
    if name.is_empty() {
        let error = skiff_api::field::FieldError::required(
            "metadata.name",
            "name or generateName is required",
        );
        return Err(ApiError::invalid(rt, &name, &[error]));
    }
    if rt.namespaced() {
        check_namespace_accepts_content(call, rt, &name).await?;
    }
    prepare::for_create(
        rt,
        &mut object,
        prepare::new_uid(),
        &prepare::timestamp(chrono::Utc::now()),
    );
    defaults::apply_defaults(rt.kind, &mut object);
    if rt.kind == Kind::Job {
        let uid = object::meta_str(&object, "uid")
            .unwrap_or_default()
            .to_string();
        defaults::job_selector_defaults(&mut object, &uid);
    }
    let errors = validation::validate_create(rt.kind, &object);
    if !errors.is_empty() {
        return Err(ApiError::invalid(rt, &name, &errors));
    }
    let stored = if call.query.dry_run() {
        object
    } else {
        call.state.objects.create(rt, &object).await?
    };
    Ok(with_warnings(
        respond(StatusCode::CREATED, &stored),
        &decoded.warnings,
    ))
}

/// Sets the namespace from the path, refusing a body that names another.
fn place_in_namespace(call: &Call<'_>, object: &mut Value) -> ApiResult<()> {
    let meta = object::metadata_mut(object);
    match (call.target.namespace.as_deref(), meta.get("namespace").and_then(Value::as_str)) {
        (Some(path_ns), Some(body_ns)) if !body_ns.is_empty() && body_ns != path_ns => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        (Some(path_ns), _) => {
            meta.insert("namespace".into(), Value::String(path_ns.to_string()));
            Ok(())
        }
        (None, _) => {
            meta.remove("namespace");
            Ok(())
        }
    }
}

/// `generateName` plus five random characters, when no name is given.
fn assign_name(object: &mut Value) {
    let meta = object::metadata_mut(object);
    let has_name = meta
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if let (false, Some(prefix)) = (has_name, meta.get("generateName").and_then(Value::as_str)) {
        let name = format!("{prefix}{}", crate::random_string(5, NAME_SUFFIX_ALPHABET));
        meta.insert("name".into(), Value::String(name));
    }
}

/// New objects need a namespace that exists and is not being deleted.
async fn check_namespace_accepts_content(
    call: &Call<'_>,
    rt: &ResourceType,
    name: &str,
) -> ApiResult<()> {
    let namespace_type = registry::of(Kind::Namespace);
    let ns = call.namespace().unwrap_or_default();
    let namespace = call.state.objects.get(namespace_type, None, ns).await?;
    if namespace.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating") {
        return Err(ApiError::forbidden(format!(
            "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            crate::status::qualified_resource(rt)
        )));
    }
    Ok(())
}

pub async fn update(call: &Call<'_>) -> ApiResult<Response> {
    let rt = call.target.resource;
    let validation_mode = call
        .query
        .field_validation()
        .map_err(ApiError::bad_request)?;
    let decoded = codec::decode_object(rt, &call.body, call.content_type(), validation_mode)?;
    let mut sent = decoded.object;
    check_name_matches(call, &sent)?;
    place_in_namespace(call, &mut sent)?;
    let stored = call
        .state
        .objects
        .get(rt, call.namespace(), call.name())
        .await?;
    if let Some(sent_rv) = object::meta_str(&sent, "resourceVersion").filter(|rv| !rv.is_empty()) {
        if Some(sent_rv) != object::meta_str(&stored, "resourceVersion") {
            return Err(ApiError::conflict(rt, call.name()));
        }
    }
    let written = write_update(call, &sent, &stored).await?;
    Ok(with_warnings(
        respond(StatusCode::OK, &written),
        &decoded.warnings,
    ))
}

/// The name in a body must be the one in the path.
fn check_name_matches(call: &Call<'_>, sent: &Value) -> ApiResult<()> {
    match object::name(sent) {
        Some(name) if name == call.name() => Ok(()),
        None | Some("") => Err(ApiError::bad_request(
            "name is required in the object's metadata",
        )),
        Some(name) => Err(ApiError::bad_request(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            call.name()
        ))),
    }
}

/// The shared tail of update and patch: merge with what is stored, default,
/// validate, and write if the stored object has not moved since it was read.
async fn write_update(call: &Call<'_>, sent: &Value, stored: &Value) -> ApiResult<Value> {
    let rt = call.target.resource;
    let mut next = prepare::for_update(rt, sent, stored, call.target.subresource.as_deref());
    defaults::apply_update_defaults(rt.kind, &mut next, stored);
    let errors = validation::validate_update(rt.kind, &next, stored);
    if !errors.is_empty() {
        return Err(ApiError::invalid(rt, call.name(), &errors));
    }
    let expected = revision_of(stored).unwrap_or_default();
    if call.query.dry_run() {
        return Ok(next);
    }
    if prepare::ready_to_remove(&next) {
        return call.state.objects.delete(rt, &next, expected).await;
    }
    call.state.objects.update(rt, &next, expected).await
}

/// How many times a patch is re-applied when another writer got in between.
const PATCH_ATTEMPTS: usize = 5;

pub async fn patch(call: &Call<'_>) -> ApiResult<Response> {
    let rt = call.target.resource;
    let validation_mode = call
        .query
        .field_validation()
        .map_err(ApiError::bad_request)?;
    let patch_type = call.media_type();
    let patch = codec::parse_json(&call.body, Some(&patch_type), PATCH_TYPES)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let stored = call
            .state
            .objects
            .get(rt, call.namespace(), call.name())
            .await?;
        let mut patched = apply_patch(rt, &patch_type, &stored, &patch)?;
        check_name_matches(call, &patched)?;
        place_in_namespace(call, &mut patched)?;
        let warnings = codec::check_fields(rt, &patched, validation_mode)?;
        // A patch that names a resourceVersion is a precondition, not a retry.
        let stale_precondition = object::meta_str(&patched, "resourceVersion")
            != object::meta_str(&stored, "resourceVersion");
        if stale_precondition {
            return Err(ApiError::conflict(rt, call.name()));
        }
        match write_update(call, &patched, &stored).await {
            Err(error) if error.reason == "Conflict" && attempt < PATCH_ATTEMPTS => continue,
            Err(error) => return Err(error),
            Ok(written) => return Ok(with_warnings(respond(StatusCode::OK, &written), &warnings)),
        }
    }
}

const JSON_PATCH: &str = "application/json-patch+json";
const MERGE_PATCH: &str = "application/merge-patch+json";
const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
pub(super) const PATCH_TYPES: &[&str] = &[JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH];

/// Applies one of the three patch types Kubernetes accepts for built-in kinds.
pub(super) fn apply_patch(
    rt: &ResourceType,
    patch_type: &str,
    stored: &Value,
    patch: &Value,
) -> ApiResult<Value> {
    match patch_type {
        JSON_PATCH => {
            let operations: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let mut patched = stored.clone();
            json_patch::patch(&mut patched, &operations)
                .map_err(|e| unprocessable_patch(&e.to_string()))?;
            Ok(patched)
        }
        MERGE_PATCH => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "error decoding patch: a merge patch must be a JSON object",
                ));
            }
            let mut patched = stored.clone();
            json_patch::merge(&mut patched, patch);
            Ok(patched)
        }
        _ => strategic_merge::apply(rt.kind, stored, patch).map_err(|e| match e.status_code() {
            400 => ApiError::bad_request(e.to_string()),
            422 => unprocessable_patch(&e.to_string()),
            _ => ApiError::internal(e.to_string()),
        }),
    }
}

/// A well-formed patch that cannot be applied to the stored object.
fn unprocessable_patch(why: &str) -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("the server rejected our request due to an error in our request: {why}"),
        details: None,
    }
}
