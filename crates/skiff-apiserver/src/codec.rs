//! Request bodies in, response bodies out: decoding with Kubernetes' checks on
//! apiVersion, kind and unknown fields, and JSON responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use skiff_api::registry::ResourceType;
use skiff_api::{protobuf, strict};

use crate::request::FieldValidation;
use crate::status::{ApiError, ApiResult};

/// The largest body the API accepts, as kube-apiserver's default (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// A decoded object and the warnings to send back with the answer.
pub struct Decoded {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// The media types an object body may come in. kubectl's typed clients send
/// Kubernetes protobuf (`kubectl create configmap`), everything else JSON.
pub const OBJECT_MEDIA_TYPES: &[&str] = &["application/json", protobuf::MEDIA_TYPE, "*/*"];

/// Parses a body into a JSON value, refusing media types not in `accepted`.
pub fn parse_json(body: &Bytes, content_type: Option<&str>, accepted: &[&str]) -> ApiResult<Value> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let media_type = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if !accepted.contains(&media_type) {
        return Err(ApiError::unsupported_media_type(media_type, accepted));
    }
    if media_type == protobuf::MEDIA_TYPE {
        // Decoded as a JSON client would have sent it: Go's protobuf encoder
        // writes empty strings a JSON client leaves out, and defaulting fills
        // only absent fields.
        return protobuf::decode_like_json_client(body)
            .map_err(|e| ApiError::bad_request(e.to_string()));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// Decodes the body of a create or update for `resource`: JSON only, the right
/// apiVersion and kind, and strict field checks as `validation` asks.
pub fn decode_object(
    resource: &ResourceType,
    body: &Bytes,
    content_type: Option<&str>,
    validation: FieldValidation,
) -> ApiResult<Decoded> {
    let mut object = parse_json(body, content_type, OBJECT_MEDIA_TYPES)?;
    if !object.is_object() {
        return Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: expected an object, got {}",
            kind_of_json(&object)
        )));
    }
    check_type_meta(resource, &mut object)?;
    let is_protobuf = content_type.is_some_and(|t| t.starts_with(protobuf::MEDIA_TYPE));
    let duplicates = if is_protobuf {
        Vec::new()
    } else {
        strict::duplicate_fields(body)
    };
    let mut problems: Vec<String> = duplicates
        .into_iter()
        .map(|path| format!("duplicate field \"{path}\""))
        .collect();
    problems.extend(unknown_field_problems(resource, &object)?);
    let warnings = apply_field_validation(resource, validation, problems)?;
    Ok(Decoded { object, warnings })
}

/// Checks a whole object (e.g. the result of a patch) for unknown fields.
pub fn check_fields(
    resource: &ResourceType,
    object: &Value,
    validation: FieldValidation,
) -> ApiResult<Vec<String>> {
    let problems = unknown_field_problems(resource, object)?;
    apply_field_validation(resource, validation, problems)
}

fn unknown_field_problems(resource: &ResourceType, object: &Value) -> ApiResult<Vec<String>> {
    let unknown = strict::unknown_fields(resource.kind, object)
        .map_err(|e| cannot_handle(resource, &e.to_string()))?;
    Ok(unknown
        .into_iter()
        .map(|path| format!("unknown field \"{path}\""))
        .collect())
}

/// Strict refuses with every problem listed; Warn turns them into warnings.
fn apply_field_validation(
    resource: &ResourceType,
    validation: FieldValidation,
    problems: Vec<String>,
) -> ApiResult<Vec<String>> {
    match validation {
        _ if problems.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(cannot_handle(
            resource,
            &format!("strict decoding error: {}", problems.join(", ")),
        )),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Ignore => Ok(Vec::new()),
    }
}

/// `Deployment in version "v1" cannot be handled as a Deployment: …`, Kubernetes'
/// 400 for a body that does not decode as its kind.
fn cannot_handle(resource: &ResourceType, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: {why}",
        kind = resource.kind_name,
        version = resource.version
    ))
}

/// Fills in apiVersion and kind when absent and refuses them when they name
/// another resource than the path.
fn check_type_meta(resource: &ResourceType, object: &mut Value) -> ApiResult<()> {
    let expected_version = resource.api_version();
    match object.get("apiVersion") {
        None | Some(Value::Null) => object["apiVersion"] = Value::String(expected_version.clone()),
        Some(Value::String(v)) if *v == expected_version => {}
        Some(Value::String(v)) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )))
        }
        Some(other) => return Err(ApiError::bad_request(format!("apiVersion must be a string, got {other}"))),
    }
    match object.get("kind") {
        None | Some(Value::Null) => object["kind"] = Value::String(resource.kind_name.to_string()),
        Some(Value::String(k)) if k == resource.kind_name => {}
        Some(Value::String(k)) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                resource.kind_name
            )))
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "kind must be a string, got {other}"
            )))
        }
    }
    Ok(())
}

fn kind_of_json(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON response with the given status.
pub fn json_response(code: StatusCode, value: &Value) -> Response {
    json_bytes_response(
        code,
        serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

/// A response whose body is already JSON.
pub fn json_bytes_response(code: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Adds `Warning: 299 - "…"` headers, as kube-apiserver sends for field warnings.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let text = format!("299 - {:?}", warning);
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}
