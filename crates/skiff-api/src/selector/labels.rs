//! Label selectors: what they are, how they match, and how to build one from a
//! `metav1.LabelSelector` object or a plain map (k8s.io/apimachinery/pkg/labels).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use serde_json::{Map, Value};

use super::requirement::{Operator, Requirement};
use super::{label_parser, SelectorError};
use crate::object;

/// Something a label selector can ask for label values.
pub trait Labels {
    /// The value of label `key`, if the label is set.
    fn label(&self, key: &str) -> Option<&str>;
}

/// A JSON labels map (`metadata.labels`); values that are not strings count as unset.
impl Labels for Map<String, Value> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for [(&str, &str)] {
    fn label(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// The labels of a stored object, read through [`object::labels`].
struct ObjectLabels<'a>(&'a Value);

impl Labels for ObjectLabels<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        object::labels(self.0)
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// A parsed label selector: all requirements must hold.
///
/// Kubernetes tells two empty selectors apart: an empty `metav1.LabelSelector`
/// object (`{}`) selects everything, while a null or absent one selects nothing.
/// Which of the two an absent field means is the caller's decision (a Service
/// without a selector manages no endpoints; a Deployment must have one):
/// [`LabelSelector::from_label_selector_json`] maps `null` to [`LabelSelector::nothing`],
/// and callers that mean "everything" pass `{}` or use [`LabelSelector::everything`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    /// Sorted by key, as upstream sorts them.
    requirements: Vec<Requirement>,
    selects_nothing: bool,
}

impl LabelSelector {
    /// The selector that matches every object (the empty string parses to it).
    pub fn everything() -> Self {
        Self {
            requirements: Vec::new(),
            selects_nothing: false,
        }
    }

    /// The selector that matches no object (a null `metav1.LabelSelector`).
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            selects_nothing: true,
        }
    }

    /// Parses the `labelSelector` query syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
    /// `a notin (x,y)`, `a`, `!a`, `a>1`, `a<1`, comma-separated.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        label_parser::parse(selector).map(Self::from_requirements)
    }

    /// The selector of a `metav1.LabelSelector` (`matchLabels` and `matchExpressions`),
    /// as `LabelSelectorAsSelector` builds it. `null` selects nothing and `{}` everything.
    pub fn from_label_selector_json(selector: &Value) -> Result<Self, SelectorError> {
        let fields = match selector {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(fields) => fields,
            other => return Err(malformed("a label selector", other)),
        };
        let mut requirements = match fields.get("matchLabels") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(labels)) => equality_requirements(labels, "matchLabels")?,
            Some(other) => return Err(malformed("matchLabels", other)),
        };
        let expressions = match fields.get("matchExpressions") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(items)) => items.as_slice(),
            Some(other) => return Err(malformed("matchExpressions", other)),
        };
        for expression in expressions {
            requirements.push(expression_requirement(expression)?);
        }
        Ok(Self::from_requirements(requirements))
    }

    /// The selector of a plain map such as a Service's `spec.selector`: every label
    /// must equal its value. An empty map selects everything.
    pub fn from_map(labels: &Map<String, Value>) -> Result<Self, SelectorError> {
        equality_requirements(labels, "selector").map(Self::from_requirements)
    }

    fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key().cmp(b.key()));
        Self {
            requirements,
            selects_nothing: false,
        }
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether this selector matches every set of labels.
    pub fn is_everything(&self) -> bool {
        !self.selects_nothing && self.requirements.is_empty()
    }

    /// Whether this selector matches no set of labels by construction.
    pub fn is_nothing(&self) -> bool {
        self.selects_nothing
    }

    /// The one value `key` must have, if the selector pins it (`RequiresExactMatch`);
    /// lets a caller look objects up by that label instead of scanning them all.
    pub fn exact_value(&self, key: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find_map(|r| match (r.operator(), r.values()) {
                (Operator::In | Operator::Equals | Operator::DoubleEquals, [value])
                    if r.key() == key =>
                {
                    Some(value.as_str())
                }
                _ => None,
            })
    }

    pub fn matches(&self, labels: &(impl Labels + ?Sized)) -> bool {
        !self.selects_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the object's `metadata.labels` satisfy this selector.
    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(&ObjectLabels(obj))
    }
}

impl fmt::Display for LabelSelector {
    /// The canonical string (`selector.String()`): requirements sorted by key,
    /// joined by commas; empty for both "everything" and "nothing", as upstream.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

fn equality_requirements(
    labels: &Map<String, Value>,
    what: &str,
) -> Result<Vec<Requirement>, SelectorError> {
    labels
        .iter()
        .map(|(key, value)| {
            let value = value
                .as_str()
                .ok_or_else(|| malformed(&format!("{what}.{key}"), value))?;
            Requirement::new(key, Operator::Equals, vec![value.to_string()])
        })
        .collect()
}

fn expression_requirement(expression: &Value) -> Result<Requirement, SelectorError> {
    let text = |field: &str| match expression.get(field) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(other) => Err(malformed(&format!("matchExpressions[].{field}"), other)),
    };
    if !expression.is_object() {
        return Err(malformed("matchExpressions[]", expression));
    }
    let operator = match text("operator")? {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => return Err(SelectorError::UnknownOperator(other.to_string())),
    };
    let values = match expression.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| malformed("matchExpressions[].values[]", v))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(malformed("matchExpressions[].values", other)),
    };
    Requirement::new(text("key")?, operator, values)
}

fn malformed(what: &str, found: &Value) -> SelectorError {
    let kind = match found {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    SelectorError::Malformed(format!("{what} must not be {kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::test_support::{labels, selects};
    use serde_json::json;

    #[test]
    fn should_require_every_requirement() {
        assert!(selects(
            "app=web,tier in (front),!canary",
            &[("app", "web"), ("tier", "front")]
        ));
        assert!(!selects(
            "app=web,tier in (front)",
            &[("app", "web"), ("tier", "back")]
        ));
    }

    #[test]
    fn should_match_every_kind_of_label_source() {
        let selector = LabelSelector::parse("app=web").unwrap();
        let json_labels = json!({"app": "web", "n": 1});
        assert!(selector.matches(json_labels.as_object().unwrap()));
        let hashed: HashMap<String, String> = [("app".to_string(), "web".to_string())].into();
        assert!(selector.matches(&hashed));
        assert!(selector.matches(&[("app", "web")][..]));
        assert!(selector.matches_object(&json!({"metadata": {"labels": {"app": "web"}}})));
        assert!(!selector.matches_object(&json!({"metadata": {}})));
    }

    #[test]
    fn should_build_a_selector_from_match_labels_and_match_expressions() {
        let selector = LabelSelector::from_label_selector_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "track", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist", "values": null}
            ]
        }))
        .unwrap();
        assert_eq!(
            selector.to_string(),
            "app=web,!canary,env notin (dev),tier in (edge,front),track"
        );
        let matching = labels(&[("app", "web"), ("tier", "edge"), ("track", "x")]);
        assert!(selector.matches(&matching));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "edge")])));
    }

    #[test]
    fn should_select_everything_with_an_empty_object_and_nothing_with_null() {
        let empty = LabelSelector::from_label_selector_json(&json!({})).unwrap();
        assert!(empty.is_everything() && empty.matches(&labels(&[])));
        let also_empty = LabelSelector::from_label_selector_json(
            &json!({"matchLabels": {}, "matchExpressions": []}),
        );
        assert!(also_empty.unwrap().is_everything());
        let null = LabelSelector::from_label_selector_json(&Value::Null).unwrap();
        assert!(null.is_nothing() && !null.matches(&labels(&[("app", "web")])));
        assert!(!LabelSelector::nothing().matches_object(&json!({})));
    }

    #[test]
    fn should_refuse_bad_match_expressions_with_upstream_texts() {
        let bad_operator =
            json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]});
        assert_eq!(
            LabelSelector::from_label_selector_json(&bad_operator)
                .unwrap_err()
                .to_string(),
            "\"Gt\" is not a valid label selector operator"
        );
        let no_values = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert_eq!(
            LabelSelector::from_label_selector_json(&no_values).unwrap_err().to_string(),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        let values_on_exists =
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]});
        assert_eq!(
            LabelSelector::from_label_selector_json(&values_on_exists).unwrap_err().to_string(),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        let bad_key = json!({"matchLabels": {"-a": "x"}});
        let error = LabelSelector::from_label_selector_json(&bad_key)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("key: Invalid value: \"-a\": name part must consist"),
            "{error}"
        );
    }

    #[test]
    fn should_refuse_a_selector_of_the_wrong_shape() {
        for bad in [
            json!("app=web"),
            json!({"matchLabels": ["app"]}),
            json!({"matchLabels": {"app": 1}}),
        ] {
            assert!(matches!(
                LabelSelector::from_label_selector_json(&bad),
                Err(SelectorError::Malformed(_))
            ));
        }
    }

    #[test]
    fn should_build_a_service_selector_from_a_map() {
        let map = json!({"app": "web", "tier": "front"});
        let selector = LabelSelector::from_map(map.as_object().unwrap()).unwrap();
        assert_eq!(selector.to_string(), "app=web,tier=front");
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "front"), ("x", "y")])));
        assert!(LabelSelector::from_map(&Map::new())
            .unwrap()
            .is_everything());
    }

    #[test]
    fn should_find_the_exact_value_a_selector_pins() {
        let selector = LabelSelector::parse("app in (web),tier=front,env in (a,b)").unwrap();
        assert_eq!(selector.exact_value("app"), Some("web"));
        assert_eq!(selector.exact_value("tier"), Some("front"));
        assert_eq!(selector.exact_value("env"), None);
    }

    #[test]
    fn should_print_every_operator_canonically() {
        let text = "a in (x,y),b notin (z),c=1,d==2,e!=3,f>4,g<5,h,!i";
        assert_eq!(LabelSelector::parse(text).unwrap().to_string(), text);
    }
}
