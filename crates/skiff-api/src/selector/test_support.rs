//! What the label selector tests share.

use std::collections::BTreeMap;

use super::LabelSelector;

/// A label set from `(key, value)` pairs.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Whether the selector string (which must parse) selects the labels.
pub fn selects(selector: &str, pairs: &[(&str, &str)]) -> bool {
    LabelSelector::parse(selector)
        .unwrap()
        .matches(&labels(pairs))
}
