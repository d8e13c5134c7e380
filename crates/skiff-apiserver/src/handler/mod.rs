//! The one generic resource handler. Every kind in the registry is served by the
//! same code: the path names a [`Target`], the method and subresource name a verb,
//! and kind-specific behaviour comes from `skiff-api`'s pure functions.

mod delete;
mod read;
mod subresource;
mod watch;
mod write;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::codec;
use crate::request::{parse_path, QueryParams, Target};
use crate::status::{ApiError, ApiResult};
use crate::ApiState;

/// What a request carries besides its path.
pub struct Call<'a> {
    pub state: &'a Arc<ApiState>,
    pub target: Target,
    pub query: QueryParams,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

impl Call<'_> {
    fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The media type of the body, without parameters.
    fn media_type(&self) -> String {
        self.content_type()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// Whether the client asked for a server-side Table (`kubectl get`).
    fn wants_table(&self) -> bool {
        self.headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|accept| accept.contains("as=Table"))
    }

    fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or_default()
    }

    fn namespace(&self) -> Option<&str> {
        self.target.namespace.as_deref()
    }
}

/// Serves one resource request.
pub async fn handle(
    state: Arc<ApiState>,
    method: Method,
    path: &str,
    query: Option<&str>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(target) = parse_path(path) else {
        return ApiError::path_not_found().into_response();
    };
    let query = match QueryParams::from_query(query) {
        Ok(query) => query,
        Err(message) => return ApiError::bad_request(message).into_response(),
    };
    let call = Call {
        state: &state,
        target,
        query,
        headers: &headers,
        body,
    };
    match dispatch(&call, &method).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn dispatch(call: &Call<'_>, method: &Method) -> ApiResult<Response> {
    let subresource = call.target.subresource.as_deref();
    let is_collection = call.target.name.is_none();
    match (method.as_str(), is_collection, subresource) {
        ("GET", true, None) if call.query.is_watch().map_err(ApiError::bad_request)? => {
            watch::watch(call).await
        }
        ("GET", true, None) => read::list(call).await,
        ("POST", true, None) => write::create(call).await,
        ("DELETE", true, None) => delete::delete_collection(call).await,
        ("GET", false, None | Some("status")) => read::get(call).await,
        ("PUT", false, None | Some("status")) => write::update(call).await,
        ("PATCH", false, None | Some("status")) => write::patch(call).await,
        ("DELETE", false, None) => delete::delete(call).await,
        (_, false, Some("scale")) => subresource::scale(call, method).await,
        ("POST", false, Some("binding")) => subresource::binding(call).await,
        ("PUT", false, Some("finalize")) => write::update(call).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A JSON answer.
fn respond(code: StatusCode, value: &Value) -> Response {
    codec::json_response(code, value)
}
