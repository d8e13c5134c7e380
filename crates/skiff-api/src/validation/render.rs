//! Renders values the way Kubernetes' field errors print them.
//!
//! `field.Error` prints strings quoted and numbers bare, and any other value with
//! Go's `%#v` (`k8s.io/apimachinery/pkg/util/validation/field/errors.go`). Users
//! see those Go literals in `kubectl` output, e.g.
//! `Invalid value: map[string]string{"app":"web"}`, so we rebuild them from JSON.

use serde_json::{Map, Value};

use crate::field::{ErrorType, FieldError};

/// A Go string literal, as `%q` and `%#v` print it.
pub fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

/// `map[string]string{"a":"b", "c":"d"}`, or `map[string]string(nil)` when absent.
pub fn go_string_map(map: Option<&Map<String, Value>>) -> String {
    let Some(map) = map else {
        return "map[string]string(nil)".to_string();
    };
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                go_quote(k),
                go_quote(v.as_str().unwrap_or_default())
            )
        })
        .collect();
    format!("map[string]string{{{}}}", body.join(", "))
}

/// `[]string{"a", "b"}`, or `[]string(nil)` when absent.
pub fn go_string_slice(items: Option<&Vec<Value>>) -> String {
    match items {
        None => "[]string(nil)".to_string(),
        Some(items) => {
            let body: Vec<String> = items
                .iter()
                .map(|v| go_quote(v.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", body.join(", "))
        }
    }
}

/// A `metav1.LabelSelector` as `%#v` prints it (pointers are dereferenced by
/// the error printer, so no `&`).
pub fn go_label_selector(selector: &Value) -> String {
    let match_labels = go_string_map(selector.get("matchLabels").and_then(Value::as_object));
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(items) => {
            let body: Vec<String> = items
                .iter()
                .map(|req| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(req.get("key").and_then(Value::as_str).unwrap_or_default()),
                        go_quote(
                            req.get("operator")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                        ),
                        go_string_slice(req.get("values").and_then(Value::as_array)),
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", body.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{match_labels}, MatchExpressions:{expressions}}}")
}

/// An `intstr.IntOrString` as `%#v` prints it (its `String()` has a pointer
/// receiver, so the struct is printed raw).
pub fn go_int_or_string(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        Some(other) => {
            format!(
                "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
                other.as_i64().unwrap_or_default()
            )
        }
        None => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_string(),
    }
}

/// An Invalid error whose value is already rendered (a Go literal).
pub fn invalid_rendered(
    field: impl Into<String>,
    rendered: String,
    detail: impl Into<String>,
) -> FieldError {
    FieldError {
        kind: ErrorType::Invalid,
        field: field.into(),
        value: Some(rendered),
        detail: detail.into(),
    }
}

/// A Duplicate error whose value is already rendered.
pub fn duplicate_rendered(field: impl Into<String>, rendered: String) -> FieldError {
    FieldError {
        kind: ErrorType::Duplicate,
        field: field.into(),
        value: Some(rendered),
        detail: String::new(),
    }
}

/// A NotFound error: `Not found: "value"`.
pub fn not_found(field: impl Into<String>, value: &Value) -> FieldError {
    FieldError {
        kind: ErrorType::NotFound,
        field: field.into(),
        value: Some(crate::field::render_value(value)),
        detail: String::new(),
    }
}

/// A TooLong error: `Too long: may not be more than N bytes` (the value is never printed).
pub fn too_long(field: impl Into<String>, max_bytes: usize) -> FieldError {
    let unit = if max_bytes == 1 { "byte" } else { "bytes" };
    FieldError {
        kind: ErrorType::TooLong,
        field: field.into(),
        value: None,
        detail: format!("may not be more than {max_bytes} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn should_print_a_label_map_as_go_does() {
        let labels = json!({"tier": "fe", "app": "web"});
        assert_eq!(
            go_string_map(labels.as_object()),
            r#"map[string]string{"app":"web", "tier":"fe"}"#
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
    }

    #[test]
    fn should_print_a_selector_as_go_does() {
        let selector = json!({"matchLabels": {"app": "nginx2"}});
        assert_eq!(
            go_label_selector(&selector),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"nginx2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        let with_expression =
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"]}]});
        assert_eq!(
            go_label_selector(&with_expression),
            r#"v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"a", Operator:"In", Values:[]string{"x"}}}}"#
        );
    }

    #[test]
    fn should_print_int_or_string_as_the_raw_struct() {
        assert_eq!(
            go_int_or_string(Some(&json!(0))),
            r#"intstr.IntOrString{Type:0, IntVal:0, StrVal:""}"#
        );
        assert_eq!(
            go_int_or_string(Some(&json!("0%"))),
            r#"intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}"#
        );
    }

    #[test]
    fn should_never_print_the_value_of_a_too_long_error() {
        assert_eq!(
            too_long("metadata.annotations", 262144).cause_message(),
            "Too long: may not be more than 262144 bytes"
        );
    }
}
