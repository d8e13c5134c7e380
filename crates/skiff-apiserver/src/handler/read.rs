//! get and list, as JSON or as a server-side Table.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};
use skiff_api::table::{self, IncludeObject};
use skiff_store::ListOptions;

use std::sync::Arc;

use skiff_api::registry::ResourceType;

use super::{respond, Call};
use crate::filter::ObjectFilter;
use crate::status::{ApiError, ApiResult};
use crate::watch_cache::CachedObject;

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
    if revision.is_none() && start_after.is_none() && limit.is_none() && !call.wants_table() {
        if let Some((objects, revision)) =
            call.state.objects.cached_list(rt, call.namespace()).await
        {
            return Ok(spliced_list(rt, &objects, revision, &filter));
        }
    }
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

/// A list whose items are the cache's shared encodings, spliced into the List
/// envelope without decoding or encoding any object again.
fn spliced_list(
    rt: &ResourceType,
    objects: &[Arc<CachedObject>],
    revision: i64,
    filter: &ObjectFilter,
) -> Response {
    let envelope = json!({
        "kind": format!("{}List", rt.kind_name),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": revision.to_string()},
    })
    .to_string();
    // The envelope is an object: reopen it to append the items.
    let mut body = Vec::with_capacity(envelope.len() + objects.len() * 512);
    body.extend_from_slice(&envelope.as_bytes()[..envelope.len() - 1]);
    body.extend_from_slice(b",\"items\":[");
    for (index, object) in objects
        .iter()
        .filter(|o| filter.matches(&o.value))
        .enumerate()
    {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&object.json());
    }
    body.extend_from_slice(b"]}");
    crate::codec::json_bytes_response(StatusCode::OK, body)
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

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::{of, Kind};

    #[tokio::test]
    async fn should_splice_cached_objects_into_a_valid_list() {
        let rt = of(Kind::ConfigMap);
        let objects: Vec<Arc<CachedObject>> = ["a", "b"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let value =
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
                Arc::new(CachedObject::new(
                    format!("/k/{name}"),
                    value,
                    10 + i as i64,
                ))
            })
            .collect();
        let filter = ObjectFilter::from_query(rt, &crate::request::QueryParams::default()).unwrap();
        let response = spliced_list(rt, &objects, 12, &filter);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let list: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(list["kind"], "ConfigMapList");
        assert_eq!(list["metadata"]["resourceVersion"], "12");
        assert_eq!(list["items"][1]["metadata"]["name"], "b");
        assert_eq!(list["items"][1]["metadata"]["resourceVersion"], "11");
    }
}
