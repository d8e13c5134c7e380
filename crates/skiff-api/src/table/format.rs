//! Cell formatting shared by every printer: durations and ages, label sets and
//! selectors, container lists, "a,b,c + N more..." lists, and the small JSON
//! accessors the printers read objects with.
//!
//! Each function mirrors a named helper of `k8s.io/kubernetes/pkg/printers/internalversion/printers.go`
//! or of apimachinery, so that a cell reads exactly as the kube-apiserver would print it.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::object::at_path;

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`: about two significant
/// figures, e.g. `45s`, `2m3s`, `15m`, `3h4m`, `20h`, `2d3h`, `45d`, `3y12d`, `9y`.
///
/// Clocks of different machines disagree a little, so up to one second in the
/// future still reads `0s`; anything further ahead is `<invalid>`.
pub fn human_duration(d: Duration) -> String {
    // Every division below truncates toward zero, as Go's integer conversions do.
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d.num_minutes();
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d.num_hours();
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return with_remainder(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return with_remainder(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

/// `3h4m`, or just `3h` when the smaller unit is zero.
fn with_remainder(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

/// A `metav1.Time` or `metav1.MicroTime` field, if set and well formed.
pub fn parse_time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let text = value?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// printers.go `translateTimestampSince`: the age of a timestamp, `<unknown>` when unset.
pub fn since(timestamp: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match timestamp {
        Some(t) => human_duration(now - t),
        None => "<unknown>".to_string(),
    }
}

/// The AGE cell every kind prints: the age of `metadata.creationTimestamp`.
pub fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    Value::from(since(
        parse_time(at_path(obj, "metadata.creationTimestamp")),
        now,
    ))
}

/// The NAME cell.
pub fn name_cell(obj: &Value) -> Value {
    Value::from(str_at(obj, "metadata.name"))
}

/// The value at a dotted path, unless absent or `null` (Go's nil pointer).
pub fn field<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    at_path(obj, path).filter(|v| !v.is_null())
}

/// The string at a dotted path, or `""` (Go's zero value) when absent.
pub fn str_at<'a>(obj: &'a Value, path: &str) -> &'a str {
    at_path(obj, path).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a dotted path, or `default` when absent (a defaulted field
/// such as `spec.replicas` reads as its default, as the internal types do).
pub fn int_or(obj: &Value, path: &str, default: i64) -> i64 {
    at_path(obj, path)
        .and_then(Value::as_i64)
        .unwrap_or(default)
}

/// The integer at a dotted path, or 0 (Go's zero value).
pub fn int_at(obj: &Value, path: &str) -> i64 {
    int_or(obj, path, 0)
}

/// The array at a dotted path, or an empty slice.
pub fn list_at<'a>(obj: &'a Value, path: &str) -> &'a [Value] {
    at_path(obj, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Go's `len()` of the map or slice at a dotted path.
pub fn len_at(obj: &Value, path: &str) -> i64 {
    let len = match at_path(obj, path) {
        Some(Value::Object(map)) => map.len(),
        Some(Value::Array(items)) => items.len(),
        _ => 0,
    };
    len as i64
}

/// `labels.FormatLabels`: `k1=v1,k2=v2` sorted by key, `<none>` when empty.
pub fn format_labels(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect(); // serde_json's map iterates in key order, as labels.Set.String sorts.
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by key,
/// `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; `""` for a nil or empty
/// selector. `Err` when the selector cannot be converted (unknown operator, or
/// values that do not fit the operator).
pub fn label_selector_string(selector: Option<&Value>) -> Result<String, ()> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in match_labels {
            let value = value.as_str().unwrap_or("");
            requirements.push((key.clone(), format!("{key}={value}")));
        }
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = str_at(expression, "key");
        let mut values: Vec<&str> = list_at(expression, "values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        // Requirement.String sorts the values without touching the selector.
        values.sort_unstable();
        let text = match str_at(expression, "operator") {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key.to_string(), text));
    }
    // internalSelector.Add sorts by key; a stable sort keeps repeated keys in order.
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: the selector, `<none>` when it selects
/// everything or nothing, `<error>` when it is malformed.
pub fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        Ok(text) if text.is_empty() => "<none>".to_string(),
        Ok(text) => text,
        Err(()) => "<error>".to_string(),
    }
}

/// printers.go `layoutContainerCells`: container names and images, each comma-joined.
pub fn layout_container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, "name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, "image")).collect();
    (names.join(","), images.join(","))
}

/// printers.go `listWithMoreString`: at most `max` items, then ` + N more...`;
/// `<unset>` for nothing at all.
pub fn list_with_more(items: &[String], total: usize, max: usize) -> String {
    let shown = items[..items.len().min(max)].join(",");
    if total > max {
        format!("{shown} + {} more...", total - max)
    } else if shown.is_empty() {
        "<unset>".to_string()
    } else {
        shown
    }
}

/// printers.go `loadBalancerStatusStringer` / `ingressLoadBalancerStatusStringer`:
/// the distinct ingress IPs (or hostnames when no IP), sorted, comma-joined.
///
/// Upstream clips the text to 16 bytes unless printing wide; the apiserver always
/// prints wide (kubectl hides columns, never clips them), so nothing is clipped.
pub fn load_balancer_addresses(ingress: &[Value]) -> String {
    let addresses: BTreeSet<&str> = ingress
        .iter()
        .filter_map(|i| {
            [str_at(i, "ip"), str_at(i, "hostname")]
                .into_iter()
                .find(|a| !a.is_empty())
        })
        .collect();
    addresses.into_iter().collect::<Vec<_>>().join(",")
}

/// `<none>` stands in for an empty cell in many printers.
pub fn or_none(text: &str) -> String {
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn human(seconds: i64) -> String {
        human_duration(Duration::seconds(seconds))
    }

    #[test]
    fn should_print_durations_like_apimachinery_human_duration() {
        let cases = [
            (-3, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (123, "2m3s"),
            (9 * 60 + 59, "9m59s"),
            (10 * 60 + 30, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 4 * 60 + 59, "3h4m"),
            (8 * 3600 + 59 * 60, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (51 * 3600, "2d3h"),
            (8 * 86400, "8d"),
            (45 * 86400, "45d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            ((3 * 365 + 12) * 86400, "3y12d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400 + 5 * 86400, "20y"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(human(seconds), expected, "{seconds}s");
        }
        // A fraction of a second ahead is still "now".
        assert_eq!(human_duration(Duration::milliseconds(-1500)), "0s");
    }

    #[test]
    fn should_print_unknown_age_without_a_creation_timestamp() {
        let now = Utc::now();
        assert_eq!(age(&json!({"metadata": {}}), now), "<unknown>");
        assert_eq!(
            age(&json!({"metadata": {"creationTimestamp": "garbage"}}), now),
            "<unknown>"
        );
        let created = (now - Duration::seconds(300)).to_rfc3339();
        assert_eq!(
            age(&json!({"metadata": {"creationTimestamp": created}}), now),
            "5m"
        );
    }

    #[test]
    fn should_format_label_sets_sorted_by_key() {
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn should_format_label_selectors_like_metav1() {
        let selector = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"}
            ]
        });
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=web,!canary,env notin (dev),tier in (a,b),zone"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        let broken = json!({"matchExpressions": [{"key": "k", "operator": "In", "values": []}]});
        assert_eq!(format_label_selector(Some(&broken)), "<error>");
    }

    #[test]
    fn should_list_at_most_three_then_count_the_rest() {
        let items: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(list_with_more(&items, 5, 3), "a,b,c + 2 more...");
        assert_eq!(list_with_more(&items[..2], 2, 3), "a,b");
        assert_eq!(list_with_more(&[], 0, 3), "<unset>");
    }

    #[test]
    fn should_join_distinct_load_balancer_addresses_sorted() {
        let ingress = json!([{"ip": "10.0.0.2"}, {"hostname": "lb.example"}, {"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]);
        assert_eq!(
            load_balancer_addresses(ingress.as_array().unwrap()),
            "10.0.0.1,10.0.0.2,lb.example"
        );
    }
}
