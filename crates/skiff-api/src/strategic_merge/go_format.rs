//! Renders JSON values the way Go prints a decoded `interface{}`, so patch errors
//! read exactly like upstream's (`map: map[image:x] does not contain ...`).

use serde_json::Value;

/// Go's `%v` of a decoded JSON value: `map[a:1 b:[x y]]`, keys sorted.
pub(crate) fn go_value(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => go_list(items),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_value(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%v` of a `[]interface{}`: `[a b c]`.
pub(crate) fn go_list(items: &[Value]) -> String {
    format!(
        "[{}]",
        items.iter().map(go_value).collect::<Vec<_>>().join(" ")
    )
}

/// The Go type a JSON value decodes to, as `reflect.TypeOf` prints it.
pub(crate) fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// The word `encoding/json` uses for a value it cannot decode into a map.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn should_print_maps_sorted_and_nested_as_go_does() {
        let value = json!({"z": [1, "a"], "a": {"b": null, "c": true}});
        assert_eq!(go_value(&value), "map[a:map[b:<nil> c:true] z:[1 a]]");
    }

    #[test]
    fn should_name_go_types() {
        assert_eq!(go_type(&json!([])), "[]interface {}");
        assert_eq!(go_type(&json!(1.5)), "float64");
        assert_eq!(json_kind(&json!([])), "array");
    }
}
