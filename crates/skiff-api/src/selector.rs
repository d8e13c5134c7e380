//! Label and field selectors with Kubernetes' syntax, semantics and error texts
//! (k8s.io/apimachinery/pkg/labels and pkg/fields), and the fields each kind can
//! be filtered on.
//!
//! ```
//! use skiff_api::selector::{FieldSelector, LabelSelector};
//! use skiff_api::registry::Kind;
//! use serde_json::json;
//!
//! let pod = json!({"metadata": {"name": "web-1", "labels": {"app": "web", "tier": "front"}},
//!                  "spec": {"nodeName": "n1"}});
//! assert!(LabelSelector::parse("app in (web,api),!canary").unwrap().matches_object(&pod));
//! assert!(FieldSelector::parse("spec.nodeName=n1").unwrap().matches_object(Kind::Pod, &pod));
//! ```

mod fields;
mod label_parser;
mod labels;
mod requirement;
mod selectable;
#[cfg(test)]
mod test_support;

pub use fields::{FieldOperator, FieldSelector, FieldTerm};
pub use labels::{LabelSelector, Labels};
pub use requirement::{Operator, Requirement};
pub use selectable::{field_value, refuse_field, supported_fields};

/// Why a selector was refused. Every message is the one Kubernetes gives, and the
/// API server answers each with a 400 BadRequest carrying it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A label selector string is malformed between requirements,
    /// e.g. `found ')', expected: ',' or 'end of string'`.
    #[error("{0}")]
    Syntax(String),
    /// One requirement of a label selector string is malformed or invalid.
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    /// A requirement of a `metav1.LabelSelector` or selector map is invalid,
    /// e.g. `key: Invalid value: "-a": name part must ...`.
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` operator other than In, NotIn, Exists and DoesNotExist.
    #[error("{0:?} is not a valid label selector operator")]
    UnknownOperator(String),
    /// A `metav1.LabelSelector` or selector map of the wrong JSON shape.
    #[error("invalid label selector: {0}")]
    Malformed(String),
    /// A field selector term without `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm { selector: String, term: String },
    /// A backslash in a field selector value that escapes something other than `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A `,` or `=` in a field selector value without a backslash; upstream prints
    /// the character's code point.
    #[error("invalid field selector: unescaped character in value: {0}")]
    UnescapedCharacter(u32),
    /// A field a kind with its own field label conversion does not offer (Pods,
    /// Nodes, Events, Namespaces, Secrets, Services).
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
    /// A field a Job does not offer; batch/v1 words it its own way.
    #[error("field label {0:?} not supported for batchv1.Job")]
    UnsupportedJobField(String),
    /// A field of a kind that offers only `metadata.name` and `metadata.namespace`
    /// (upstream's `DefaultMetaV1FieldSelectorConversion`).
    #[error("{0:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")]
    UnknownField(String),
}
