//! What a request asks for: the resource path it names and its query parameters.
//! Parsed once here so that the generic handler never looks at raw URLs.

use serde::Deserialize;
use skiff_api::registry::{self, ResourceType};

/// The resource a path names.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub resource: &'static ResourceType,
    /// The namespace in the path; `None` for cluster-scoped kinds and for lists
    /// across all namespaces.
    pub namespace: Option<String>,
    /// The object's name; `None` for a collection.
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses `/api/v1/…` and `/apis/<group>/<version>/…` resource paths. Returns
/// `None` for anything that names no served resource.
pub fn parse_path(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    // `/namespaces/<ns>/<plural>…` is a namespaced path unless the third segment
    // is a subresource of the namespace itself (`status`, `finalize`).
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if registry::by_plural(group, version, plural).is_some_and(|r| r.namespaced()) =>
        {
            (
                Some(ns.to_string()),
                std::iter::once(*plural)
                    .chain(tail.iter().copied())
                    .collect::<Vec<_>>(),
            )
        }
        other => (None, other.to_vec()),
    };
    let resource = registry::by_plural(group, version, rest.first()?)?;
    if namespace.is_some() && !resource.namespaced() {
        return None;
    }
    let target = |name: Option<&str>, sub: Option<&str>| Target {
        resource,
        namespace: namespace.clone(),
        name: name.map(str::to_string),
        subresource: sub.map(str::to_string),
    };
    match rest.as_slice() {
        [_] => Some(target(None, None)),
        [_, name] if !name.is_empty() => Some(target(Some(name), None)),
        [_, name, sub] if !name.is_empty() && resource.has_subresource(sub) => {
            Some(target(Some(name), Some(sub)))
        }
        _ => None,
    }
}

/// How strictly unknown and duplicate fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// The query parameters of every verb; each verb reads the ones it knows.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryParams {
    pub watch: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub timeout_seconds: Option<String>,
    pub allow_watch_bookmarks: Option<String>,
    pub send_initial_events: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<String>,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    pub field_validation: Option<String>,
    pub dry_run: Option<String>,
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<String>,
    pub orphan_dependents: Option<String>,
    pub include_object: Option<String>,
}

/// The error text for a parameter that does not parse.
pub type ParamError = String;

fn parse_bool(name: &str, value: &Option<String>) -> Result<bool, ParamError> {
    match value.as_deref() {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(format!(
            "invalid value {other:?} for query parameter {name}: expected a boolean"
        )),
    }
}

fn parse_number<T: std::str::FromStr>(
    name: &str,
    value: &Option<String>,
) -> Result<Option<T>, ParamError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            format!("invalid value {text:?} for query parameter {name}: expected an integer")
        }),
    }
}

impl QueryParams {
    pub fn from_query(query: Option<&str>) -> Result<Self, ParamError> {
        serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| format!("failed to parse query parameters: {e}"))
    }

    pub fn is_watch(&self) -> Result<bool, ParamError> {
        parse_bool("watch", &self.watch)
    }

    pub fn bookmarks(&self) -> Result<bool, ParamError> {
        parse_bool("allowWatchBookmarks", &self.allow_watch_bookmarks)
    }

    pub fn initial_events(&self) -> Result<bool, ParamError> {
        parse_bool("sendInitialEvents", &self.send_initial_events)
    }

    pub fn timeout_seconds(&self) -> Result<Option<u64>, ParamError> {
        parse_number("timeoutSeconds", &self.timeout_seconds)
    }

    pub fn limit(&self) -> Result<Option<i64>, ParamError> {
        parse_number("limit", &self.limit)
    }

    pub fn grace_period_seconds(&self) -> Result<Option<i64>, ParamError> {
        parse_number("gracePeriodSeconds", &self.grace_period_seconds)
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run.as_deref().is_some_and(|v| v == "All")
    }

    /// Kubernetes' default is Warn when the parameter is absent; kubectl sends Strict.
    pub fn field_validation(&self) -> Result<FieldValidation, ParamError> {
        match self.field_validation.as_deref() {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(format!(
                "fieldValidation parameter unsupported: {other}. Supported values are Ignore, Warn, Strict"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_api::registry::Kind;

    #[test]
    fn should_parse_namespaced_and_cluster_paths() {
        let t = parse_path("/apis/apps/v1/namespaces/default/deployments/web/scale").unwrap();
        assert_eq!(t.resource.kind, Kind::Deployment);
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("scale"));

        let t = parse_path("/api/v1/pods").unwrap();
        assert_eq!(
            (t.resource.kind, t.namespace, t.name),
            (Kind::Pod, None, None)
        );
    }

    #[test]
    fn should_tell_a_namespace_subresource_from_a_namespaced_list() {
        let t = parse_path("/api/v1/namespaces/dev/status").unwrap();
        assert_eq!(t.resource.kind, Kind::Namespace);
        assert_eq!(t.name.as_deref(), Some("dev"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse_path("/api/v1/namespaces/dev/services").unwrap();
        assert_eq!(t.resource.kind, Kind::Service);
    }

    #[test]
    fn should_refuse_unknown_paths() {
        assert!(parse_path("/api/v1/widgets").is_none());
        assert!(parse_path("/api/v1/namespaces/dev/nodes").is_none());
        assert!(parse_path("/apis/apps/v1/deployments/web/unknown").is_none());
        assert!(parse_path("/api/v2/pods").is_none());
    }

    #[test]
    fn should_read_query_parameters() {
        let q = QueryParams::from_query(Some("watch=true&labelSelector=app%3Dweb&continue=abc"))
            .unwrap();
        assert!(q.is_watch().unwrap());
        assert_eq!(q.label_selector.as_deref(), Some("app=web"));
        assert_eq!(q.continue_token.as_deref(), Some("abc"));
        assert!(QueryParams::from_query(Some("limit=x"))
            .unwrap()
            .limit()
            .is_err());
    }
}
