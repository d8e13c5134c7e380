//! Field selectors (`fieldSelector=`): syntax, escapes and matching
//! (k8s.io/apimachinery/pkg/fields).

use std::fmt;

use serde_json::Value;

use super::selectable::{field_value, refuse_field, supported_fields};
use super::SelectorError;
use crate::registry::Kind;

/// Whether a term wants the field equal to its value or different from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One `field=value` or `field!=value` term; `value` is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A parsed field selector: every term must hold. Fields an object lacks count as `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// The selector that matches everything (what the empty string parses to).
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses `a=b,c!=d`. Values may escape `\`, `,` and `=` with a backslash;
    /// whitespace is part of names and values, as upstream.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut raw_terms = split_terms(selector);
        // Upstream sorts the raw terms first, which decides which bad term is reported.
        raw_terms.sort_unstable();
        let mut terms = Vec::new();
        for raw in raw_terms.into_iter().filter(|t| !t.is_empty()) {
            let cannot_understand = || SelectorError::FieldTerm {
                selector: selector.to_string(),
                term: raw.to_string(),
            };
            let (field, operator, value) = split_term(raw).ok_or_else(cannot_understand)?;
            terms.push(FieldTerm {
                field: field.to_string(),
                operator,
                value: unescape_value(value)?,
            });
        }
        Ok(Self { terms })
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    pub fn is_everything(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value `field` must equal, if a term pins it (`RequiresExactMatch`).
    pub fn exact_value(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }

    /// Refuses terms on fields `kind` does not support, with the 400 text
    /// Kubernetes gives for that kind (see [`refuse_field`]); the first such term
    /// in sorted order is reported, as upstream.
    pub fn check_supported(&self, kind: Kind) -> Result<(), SelectorError> {
        let supported = supported_fields(kind);
        match self
            .terms
            .iter()
            .find(|t| !supported.contains(&t.field.as_str()))
        {
            Some(term) => Err(refuse_field(kind, &term.field)),
            None => Ok(()),
        }
    }

    /// Whether every term holds; `get` gives a field's value, `None` counting as `""`.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|term| {
            let actual = get(&term.field).unwrap_or_default();
            (actual == term.value) == (term.operator == FieldOperator::Equals)
        })
    }

    /// Whether an object of `kind` satisfies every term, reading fields with [`field_value`].
    pub fn matches_object(&self, kind: Kind, obj: &Value) -> bool {
        self.matches(|field| field_value(kind, obj, field))
    }
}

impl fmt::Display for FieldSelector {
    /// The canonical text, values escaped again: `metadata.name=a\,b,spec.nodeName!=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            let operator = match term.operator {
                FieldOperator::Equals => "=",
                FieldOperator::NotEquals => "!=",
            };
            let separator = if i > 0 { "," } else { "" };
            write!(
                f,
                "{separator}{}{operator}{}",
                term.field,
                escape_value(&term.value)
            )?;
        }
        Ok(())
    }
}

/// Splits on commas that are not escaped; escapes stay in the terms.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits at the first operator; `!=` and `==` are tried before `=` so that no `=`
/// is left on either side. Field names cannot escape anything.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPERATORS: [(&str, FieldOperator); 3] = [
        ("!=", FieldOperator::NotEquals),
        ("==", FieldOperator::Equals),
        ("=", FieldOperator::Equals),
    ];
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        OPERATORS
            .iter()
            .find(|(symbol, _)| rest.starts_with(symbol))
            .map(|(symbol, operator)| (&term[..i], *operator, &rest[symbol.len()..]))
    })
}

fn unescape_value(value: &str) -> Result<String, SelectorError> {
    let mut unescaped = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::InvalidEscape(format!("\\{c}")));
            }
            unescaped.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            // Upstream prints the rune as a number here, e.g. 61 for '='.
            ',' | '=' => return Err(SelectorError::UnescapedCharacter(c as u32)),
            _ => unescaped.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::InvalidEscape("\\".to_string()));
    }
    Ok(unescaped)
}

fn escape_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn term(field: &str, operator: FieldOperator, value: &str) -> FieldTerm {
        FieldTerm {
            field: field.to_string(),
            operator,
            value: value.to_string(),
        }
    }

    #[test]
    fn should_parse_all_three_operators_into_sorted_terms() {
        let selector =
            FieldSelector::parse("status.phase!=Failed,metadata.name==web,spec.nodeName=n1")
                .unwrap();
        assert_eq!(
            selector.terms(),
            [
                term("metadata.name", FieldOperator::Equals, "web"),
                term("spec.nodeName", FieldOperator::Equals, "n1"),
                term("status.phase", FieldOperator::NotEquals, "Failed"),
            ]
        );
        assert_eq!(
            selector.to_string(),
            "metadata.name=web,spec.nodeName=n1,status.phase!=Failed"
        );
    }

    #[test]
    fn should_select_everything_with_an_empty_string_and_skip_empty_terms() {
        assert!(FieldSelector::parse("").unwrap().is_everything());
        assert_eq!(FieldSelector::parse("a=b,,").unwrap().terms().len(), 1);
    }

    #[test]
    fn should_unescape_and_escape_values() {
        let selector = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
        assert_eq!(selector.terms()[0].value, r"a,b=c\d");
        assert_eq!(selector.to_string(), r"metadata.name=a\,b\=c\\d");
    }

    #[test]
    fn should_refuse_bad_terms_and_escapes_with_upstream_texts() {
        assert_eq!(
            FieldSelector::parse("b=1,nonsense")
                .unwrap_err()
                .to_string(),
            "invalid selector: 'b=1,nonsense'; can't understand 'nonsense'"
        );
        assert_eq!(
            FieldSelector::parse(r"a=\x").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err().to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
    }

    #[test]
    fn should_keep_whitespace_as_upstream_does() {
        assert_eq!(
            FieldSelector::parse("a = b").unwrap().terms(),
            [term("a ", FieldOperator::Equals, " b")]
        );
    }

    #[test]
    fn should_read_missing_fields_as_the_empty_string() {
        let pending = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {}});
        assert!(FieldSelector::parse("spec.nodeName=")
            .unwrap()
            .matches_object(Kind::Pod, &pending));
        assert!(!FieldSelector::parse("spec.nodeName!=")
            .unwrap()
            .matches_object(Kind::Pod, &pending));
        let bound = json!({"spec": {"nodeName": "n1"}});
        assert!(FieldSelector::parse("spec.nodeName!=")
            .unwrap()
            .matches_object(Kind::Pod, &bound));
    }

    #[test]
    fn should_match_through_any_getter() {
        let selector = FieldSelector::parse("a=1,b!=2").unwrap();
        assert!(selector.matches(|f| (f == "a").then(|| "1".to_string())));
        assert!(!selector.matches(|f| Some(if f == "a" { "1" } else { "2" }.to_string())));
    }

    #[test]
    fn should_find_the_value_a_selector_pins() {
        let selector = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed").unwrap();
        assert_eq!(selector.exact_value("spec.nodeName"), Some("n1"));
        assert_eq!(selector.exact_value("status.phase"), None);
    }

    #[test]
    fn should_print_what_it_parses_back_to_itself() {
        const PIECES: [&str; 10] = ["a", "b.c", "=", "==", "!=", ",", "\\,", "\\=", "\\\\", " "];
        let mut seed = 0x5eed_u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut bits = seed;
            let text: String = (0..(bits % 10))
                .map(|_| {
                    bits /= 10;
                    PIECES[(bits % 10) as usize]
                })
                .collect();
            if let Ok(parsed) = FieldSelector::parse(&text) {
                // Terms are sorted by their escaped text, which printing may change,
                // so compare them as sets.
                let sorted = |selector: &FieldSelector| {
                    let mut terms: Vec<String> =
                        selector.terms().iter().map(|t| format!("{t:?}")).collect();
                    terms.sort();
                    terms
                };
                let printed = parsed.to_string();
                let reparsed =
                    FieldSelector::parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
                assert_eq!(
                    sorted(&reparsed),
                    sorted(&parsed),
                    "{text:?} printed as {printed:?}"
                );
            }
        }
    }
}
