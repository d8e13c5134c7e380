//! Label and field selectors of a list or watch, parsed once per request.

use serde_json::Value;
use skiff_api::registry::ResourceType;
use skiff_api::selector::{FieldSelector, LabelSelector};

use crate::request::QueryParams;
use crate::status::{ApiError, ApiResult};

/// Which objects a list or watch returns.
pub struct ObjectFilter {
    resource: &'static ResourceType,
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl ObjectFilter {
    pub fn from_query(resource: &'static ResourceType, query: &QueryParams) -> ApiResult<Self> {
        let labels = match query
            .label_selector
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(text) => {
                Some(LabelSelector::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let fields = match query
            .field_selector
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(text) => {
                let selector =
                    FieldSelector::parse(text).map_err(|e| ApiError::bad_request(e.to_string()))?;
                selector
                    .check_supported(resource.kind)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(selector)
            }
            None => None,
        };
        Ok(Self {
            resource,
            labels,
            fields,
        })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|s| s.matches_object(object))
            && self
                .fields
                .as_ref()
                .is_none_or(|s| s.matches_object(self.resource.kind, object))
    }
}
