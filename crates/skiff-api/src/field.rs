//! Field errors, the causes of a 422 Invalid answer, shaped as Kubernetes' `field.Error`.

use std::fmt;

/// Why a field was refused; the names and texts are those of Kubernetes'
/// `k8s.io/apimachinery/pkg/util/validation/field` package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A required field was empty or absent.
    Required,
    /// A field had a value that is not allowed.
    Invalid,
    /// A value is not among the supported ones.
    NotSupported,
    /// A value that must be unique was repeated.
    Duplicate,
    /// A field that must not be set was set.
    Forbidden,
    /// A value was too long.
    TooLong,
    /// A list had too many items.
    TooMany,
    /// A field was not expected at all.
    NotFound,
}

impl ErrorType {
    /// The `reason` Kubernetes puts in a Status cause, e.g. `FieldValueInvalid`.
    pub fn cause_reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::NotFound => "FieldValueNotFound",
        }
    }

    /// The words Kubernetes prints before the detail, e.g. `Invalid value`.
    pub fn phrase(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::NotFound => "Not found",
        }
    }
}

/// One refused field: its path (`spec.ports[0].port`), what was wrong, the value
/// as Kubernetes quotes it (if any) and a detail for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub kind: ErrorType,
    pub field: String,
    /// The offending value, already rendered as Kubernetes prints it: strings in
    /// double quotes, numbers bare. `None` for Required and Forbidden.
    pub value: Option<String>,
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Required,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    pub fn invalid(
        field: impl Into<String>,
        value: &serde_json::Value,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: ErrorType::Invalid,
            field: field.into(),
            value: Some(render_value(value)),
            detail: detail.into(),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Forbidden,
            field: field.into(),
            value: None,
            detail: detail.into(),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: &serde_json::Value) -> Self {
        Self {
            kind: ErrorType::Duplicate,
            field: field.into(),
            value: Some(render_value(value)),
            detail: String::new(),
        }
    }

    /// `supported` lists the allowed values; Kubernetes prints them quoted.
    pub fn not_supported(
        field: impl Into<String>,
        value: &serde_json::Value,
        supported: &[&str],
    ) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        Self {
            kind: ErrorType::NotSupported,
            field: field.into(),
            value: Some(render_value(value)),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }

    /// The text of this cause inside a Status `message` and `details.causes[].message`,
    /// e.g. `Invalid value: 70000: must be between 1 and 65535, inclusive`.
    pub fn cause_message(&self) -> String {
        let mut text = self.kind.phrase().to_string();
        if let Some(value) = &self.value {
            text.push_str(": ");
            text.push_str(value);
        }
        if !self.detail.is_empty() {
            text.push_str(": ");
            text.push_str(&self.detail);
        }
        text
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.cause_message())
    }
}

/// Renders a value the way Kubernetes' field errors quote it.
pub fn render_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => format!("{s:?}"),
        serde_json::Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn should_render_an_invalid_port_as_kubernetes_does() {
        let error = FieldError::invalid(
            "spec.ports[0].port",
            &json!(70000),
            "must be between 1 and 65535, inclusive",
        );
        assert_eq!(
            error.to_string(),
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
    }

    #[test]
    fn should_quote_string_values() {
        let error = FieldError::invalid("metadata.name", &json!("Bad_Name"), "x");
        assert_eq!(error.cause_message(), "Invalid value: \"Bad_Name\": x");
    }
}
