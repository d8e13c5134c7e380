//! One condition of a label selector (`labels.Requirement`): how it is built and
//! validated, with upstream's error texts, how it matches and how it prints.

use std::fmt;

use serde_json::Value;

use super::labels::Labels;
use super::SelectorError;
use crate::field::{ErrorType, FieldError};
use crate::validation::{is_qualified_name, is_valid_label_value};

/// The comparison a requirement makes, named as in `k8s.io/apimachinery/pkg/selection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key in (a,b)`: the label is set to one of the values.
    In,
    /// `key notin (a,b)`: the label is unset or set to none of the values.
    NotIn,
    /// `key=a`.
    Equals,
    /// `key==a`, the same test as `=`, kept apart so the selector prints back as written.
    DoubleEquals,
    /// `key!=a`: the label is unset or set to something else.
    NotEquals,
    /// `key`: the label is set.
    Exists,
    /// `!key`: the label is unset.
    DoesNotExist,
    /// `key>5`: the label is an integer greater than the value.
    GreaterThan,
    /// `key<5`: the label is an integer less than the value.
    LessThan,
}

/// One condition of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and without duplicates, as upstream keeps them in a set.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement after Kubernetes' checks (`labels.NewRequirement`); the
    /// error text is upstream's, e.g. `values[0][app]: Invalid value: "-x": ...`.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        Self::checked(key, operator, values).map_err(SelectorError::InvalidRequirement)
    }

    /// [`Requirement::new`] with the bare message, for the parser to prefix.
    pub(super) fn checked(
        key: &str,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Self, String> {
        let mut errors = Vec::new();
        if let Some(message) = invalid_key(key, "key") {
            errors.push(message);
        }
        let count_error = match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                Some("for 'in', 'notin' operators, values set can't be empty")
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                Some("exact-match compatibility requires one single value")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                Some("values set must be empty for exists and does not exist")
            }
            Operator::GreaterThan | Operator::LessThan if values.len() != 1 => {
                Some("for 'Gt', 'Lt' operators, exactly one value is required")
            }
            _ => None,
        };
        if let Some(detail) = count_error {
            errors.push(invalid_with_rendered_value(
                "values",
                go_string_slice(&values),
                detail,
            ));
        }
        if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
            for (i, value) in values.iter().enumerate() {
                if value.parse::<i64>().is_err() {
                    let detail = "for 'Gt', 'Lt' operators, the value must be an integer";
                    errors.push(
                        FieldError::invalid(
                            format!("values[{i}]"),
                            &Value::from(value.as_str()),
                            detail,
                        )
                        .to_string(),
                    );
                }
            }
        }
        for (i, value) in values.iter().enumerate() {
            let complaints = is_valid_label_value(value);
            if !complaints.is_empty() {
                let path = format!("values[{i}][{key}]");
                errors.push(
                    FieldError::invalid(path, &Value::from(value.as_str()), complaints.join("; "))
                        .to_string(),
                );
            }
        }
        if !errors.is_empty() {
            return Err(aggregate(errors));
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Self {
            key: key.to_string(),
            operator,
            values,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether labels satisfy this requirement (`Requirement.Matches`).
    pub fn matches(&self, labels: &(impl Labels + ?Sized)) -> bool {
        let value = labels.label(&self.key);
        let has_value = |v: &str| self.values.iter().any(|w| w == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(has_value)
            }
            Operator::NotIn | Operator::NotEquals => !value.is_some_and(has_value),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                // Labels that are not integers never match an ordering requirement.
                let (Some(actual), [bound]) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.as_slice(),
                ) else {
                    return false;
                };
                let Ok(bound) = bound.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > bound
                } else {
                    actual < bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    /// Upstream's canonical text: `a=b`, `a in (x,y)`, `!a`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.join(",");
        match self.operator {
            Operator::In => write!(f, "{} in ({values})", self.key),
            Operator::NotIn => write!(f, "{} notin ({values})", self.key),
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={values}", self.key),
            Operator::NotEquals => write!(f, "{}!={values}", self.key),
            Operator::GreaterThan => write!(f, "{}>{values}", self.key),
            Operator::LessThan => write!(f, "{}<{values}", self.key),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A validated key, or upstream's complaint with the given field path; the parser
/// passes `<nil>` because upstream validates there with a nil path.
pub(super) fn invalid_key(key: &str, path: &str) -> Option<String> {
    let complaints = is_qualified_name(key);
    (!complaints.is_empty())
        .then(|| FieldError::invalid(path, &Value::from(key), complaints.join("; ")).to_string())
}

fn invalid_with_rendered_value(path: &str, value: String, detail: &str) -> String {
    FieldError {
        kind: ErrorType::Invalid,
        field: path.to_string(),
        value: Some(value),
        detail: detail.to_string(),
    }
    .to_string()
}

/// Go's `%#v` of a `[]string`, as upstream prints a refused values set.
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_string();
    }
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// Upstream's error aggregate: one error alone, several in brackets, repeats dropped.
fn aggregate(mut errors: Vec<String>) -> String {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    match errors.as_slice() {
        [single] => single.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::selector::test_support::selects;
    use crate::selector::LabelSelector;

    #[test]
    fn should_match_equality_operators() {
        assert!(selects("app=web", &[("app", "web")]));
        assert!(selects("app==web", &[("app", "web")]));
        assert!(!selects("app=web", &[("app", "api")]));
        assert!(!selects("app=web", &[]));
        assert!(selects("app!=web", &[("app", "api")]));
        assert!(selects("app!=web", &[]));
        assert!(!selects("app!=web", &[("app", "web")]));
    }

    #[test]
    fn should_match_set_operators() {
        assert!(selects("env in (dev,prod)", &[("env", "prod")]));
        assert!(!selects("env in (dev,prod)", &[("env", "qa")]));
        assert!(!selects("env in (dev,prod)", &[]));
        assert!(selects("env notin (dev,prod)", &[("env", "qa")]));
        assert!(selects("env notin (dev,prod)", &[]));
        assert!(!selects("env notin (dev,prod)", &[("env", "dev")]));
        assert!(selects("env in (,dev)", &[("env", "")]));
    }

    #[test]
    fn should_match_existence_operators() {
        assert!(selects("app", &[("app", "")]));
        assert!(!selects("app", &[]));
        assert!(selects("!canary", &[("app", "web")]));
        assert!(!selects("!canary", &[("canary", "true")]));
    }

    #[test]
    fn should_compare_integers_for_ordering_operators() {
        assert!(selects("gen>5", &[("gen", "6")]));
        assert!(!selects("gen>5", &[("gen", "5")]));
        assert!(selects("gen<5", &[("gen", "-1")]));
        assert!(!selects("gen<5", &[("gen", "x")]));
        assert!(!selects("gen<5", &[]));
    }

    #[test]
    fn should_count_non_string_label_values_as_unset() {
        assert!(LabelSelector::parse("!n")
            .unwrap()
            .matches(json!({"n": 1}).as_object().unwrap()));
    }
}
