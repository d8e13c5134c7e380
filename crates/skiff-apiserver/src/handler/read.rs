//! get and list, as JSON or as a server-side Table.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};
use skiff_api::table::{self, IncludeObject};
use skiff_store::ListOptions;

use super::{respond, Call};
use crate::filter::ObjectFilter;
use crate::status::{ApiError, ApiResult};

pub async fn get(call: &Call<'_>) -> ApiResult<Response> {
    let rt = call.target.resource;
    let object = call
        .state
        .objects
        .get(rt, call.namespace(), call.name())
        .await?;
    if call.wants_table() {
        let include = include_object(call)?;
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        return Ok(respond(
            StatusCode::OK,
            &table::table(rt.kind, &[object], chrono::Utc::now(), include, &rv, None),
        ));
    }
    Ok(respond(StatusCode::OK, &object))
}

/// The continue token: where the next page starts and the revision the first page
/// was read at, so every page shows the same snapshot (as kube-apiserver's token).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, last_key: &str) -> String {
    let token = ContinueToken {
        rv,
        start: last_key.to_string(),
    };
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let invalid = || {
        ApiError::bad_request(
            "continue key is not valid: the provided continue parameter is malformed",
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

fn include_object(call: &Call<'_>) -> ApiResult<IncludeObject> {
    IncludeObject::from_query(call.query.include_object.as_deref()).map_err(ApiError::bad_request)
}

/// A list: one page of the objects that match the selectors, read at one revision.
pub async fn list(call: &Call<'_>) -> ApiResult<Response> {
    let rt = call.target.resource;
    let filter = ObjectFilter::from_query(rt, &call.query)?;
    let limit = call
        .query
        .limit()
        .map_err(ApiError::bad_request)?
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let (mut revision, mut start_after) = match call
        .query
        .continue_token
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        Some(token) => {
            let token = decode_continue(token)?;
            (Some(token.rv), Some(token.start))
        }
        None => (exact_revision(call)?, None),
    };
    let mut items = Vec::new();
    let mut next_key = None;
    // Selectors apply after the store's limit, so read pages until the answer is full.
    loop {
        let want = limit.map(|l| l - items.len());
        let options = ListOptions {
            revision,
            limit: want,
            start_after: start_after.clone(),
        };
        let page = call
            .state
            .objects
            .list(rt, call.namespace(), options)
            .await
            .map_err(expired_continue)?;
        revision = Some(page.revision);
        items.extend(page.items.into_iter().filter(|o| filter.matches(o)));
        match page.last_key_if_more {
            Some(last) if limit.is_some_and(|l| items.len() >= l) => {
                next_key = Some(last);
                break;
            }
            Some(last) => start_after = Some(last),
            None => break,
        }
    }
    let revision = revision.unwrap_or_default();
    let continue_token = next_key.map(|key| encode_continue(revision, &key));
    if call.wants_table() {
        let include = include_object(call)?;
        let now = chrono::Utc::now();
        let table = table::table(
            rt.kind,
            &items,
            now,
            include,
            &revision.to_string(),
            continue_token.as_deref(),
        );
        return Ok(respond(StatusCode::OK, &table));
    }
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = Value::String(token);
    }
    let list = json!({
        "kind": format!("{}List", rt.kind_name),
        "apiVersion": rt.api_version(),
        "metadata": metadata,
        "items": items,
    });
    Ok(respond(StatusCode::OK, &list))
}

/// `resourceVersion=N&resourceVersionMatch=Exact` reads at N; anything else reads
/// the latest state, which is always at least as new as any other choice allows.
fn exact_revision(call: &Call<'_>) -> ApiResult<Option<i64>> {
    match (
        call.query.resource_version.as_deref(),
        call.query.resource_version_match.as_deref(),
    ) {
        (Some(rv), Some("Exact")) => rv
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}"))),
        (_, None | Some("") | Some("NotOlderThan") | Some("Exact")) => Ok(None),
        (_, Some(other)) => Err(ApiError::bad_request(format!(
            "unsupported resourceVersionMatch {other:?}"
        ))),
    }
}

fn expired_continue(error: ApiError) -> ApiError {
    if error.code == 410 {
        ApiError::expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        )
    } else {
        error
    }
}
