//! API errors, answered as Kubernetes `Status` objects with Kubernetes' codes,
//! reasons and message shapes (k8s.io/apimachinery/pkg/api/errors is the model).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use skiff_api::field::FieldError;
use skiff_api::registry::ResourceType;

/// One failed request, as the client will see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    /// Kubernetes' `StatusReason`, e.g. `NotFound`.
    pub reason: &'static str,
    pub message: String,
    /// `details` of the Status: name, group, kind and causes, when known.
    pub details: Option<Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `deployments.apps`, or `pods` for the core group: how Kubernetes names a
/// resource in NotFound, AlreadyExists and Conflict messages.
pub fn qualified_resource(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.plural.to_string()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    }
}

/// `Deployment.apps`, or `Pod`: how Kubernetes names a kind in Invalid messages.
fn qualified_kind(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.kind_name.to_string()
    } else {
        format!("{}.{}", rt.kind_name, rt.group)
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_resource(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": rt.group, "kind": rt.plural}));
        self
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified_resource(rt)),
        )
        .with_resource(rt, name)
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified_resource(rt)),
        )
        .with_resource(rt, name)
    }

    /// A stale resourceVersion: the update lost a race with another writer.
    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified_resource(rt)
            ),
        )
        .with_resource(rt, name)
    }

    /// A precondition that failed for another reason than a race (e.g. a UID).
    pub fn conflict_because(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified_resource(rt)
            ),
        )
        .with_resource(rt, name)
    }

    /// 422 with one cause per field error, message as `Kind.group "name" is invalid: …`.
    pub fn invalid(rt: &ResourceType, name: &str, errors: &[FieldError]) -> Self {
        let listed = match errors {
            [one] => one.to_string(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.cause_reason(), "message": e.cause_message(), "field": e.field}))
            .collect();
        let mut error = Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {listed}", qualified_kind(rt)),
        );
        error.details =
            Some(json!({"name": name, "group": rt.group, "kind": rt.kind_name, "causes": causes}));
        error
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// A path that names no resource, or a resource with no such subresource.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {} (got {content_type:?})",
                accepted.join(", ")
            ),
        )
    }

    /// A watch or list from a revision that compaction removed.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {}", message.into()),
        )
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The `Status` object itself, as sent in a response body or a watch ERROR event.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        crate::codec::json_response(code, &self.to_status())
    }
}

impl From<skiff_store::StoreError> for ApiError {
    fn from(error: skiff_store::StoreError) -> Self {
        use skiff_store::StoreError;
        match error {
            StoreError::Compacted {
                requested,
                compacted,
            } => Self::expired(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            StoreError::FutureRevision { requested, current } => Self::timeout(format!(
                "Too large resource version: {requested}, current: {current}"
            )),
            // A lagging watcher starts again from a fresh list, as after a compaction.
            StoreError::WatcherLagged => {
                Self::expired("watch fell behind the event stream; start again from a new list")
            }
            other => Self::internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::{of, Kind};

    #[test]
    fn should_name_resources_as_kubernetes_does() {
        let error = ApiError::already_exists(of(Kind::Service), "web");
        assert_eq!(error.message, "services \"web\" already exists");
        let error = ApiError::not_found(of(Kind::Deployment), "web");
        assert_eq!(error.message, "deployments.apps \"web\" not found");
        assert_eq!(error.to_status()["details"]["group"], "apps");
    }

    #[test]
    fn should_list_every_cause_of_an_invalid_object() {
        let errors = [
            FieldError::required("spec.template.spec.containers", ""),
            FieldError::invalid(
                "spec.replicas",
                &json!(-1),
                "must be greater than or equal to 0",
            ),
        ];
        let error = ApiError::invalid(of(Kind::Deployment), "web", &errors);
        assert_eq!(
            error.message,
            "Deployment.apps \"web\" is invalid: [spec.template.spec.containers: Required value, spec.replicas: Invalid value: -1: must be greater than or equal to 0]"
        );
        assert_eq!(
            error.to_status()["details"]["causes"][1]["reason"],
            "FieldValueInvalid"
        );
    }
}
