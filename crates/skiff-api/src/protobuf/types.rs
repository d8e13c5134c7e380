//! The shape of the static message table in `schema.rs`: what the decoder needs to
//! know about each protobuf message to turn it into the Kubernetes JSON object.

/// One protobuf message type: its fields, sorted by tag so lookup can bisect.
#[derive(Debug)]
pub struct Message {
    /// The fully-qualified proto name, e.g. `k8s.io.api.core.v1.Pod` (for errors).
    pub name: &'static str,
    pub fields: &'static [Field],
}

impl Message {
    /// The field with wire tag `tag`, if this message declares one.
    pub fn field(&self, tag: u32) -> Option<&'static Field> {
        let fields: &'static [Field] = self.fields;
        fields
            .binary_search_by_key(&tag, |field| field.tag)
            .ok()
            .map(|index| &fields[index])
    }

    /// The Go-style short name (`Pod`) that upstream's error messages use.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

/// One field of a message.
#[derive(Debug)]
pub struct Field {
    pub tag: u32,
    /// The key in the JSON object (`hostIP`, `clusterIPs`, ...).
    pub json_name: &'static str,
    pub label: Label,
    /// For `Map`, the kind of the values (keys are always strings in Kubernetes).
    pub kind: FieldKind,
}

impl Field {
    pub const fn new(tag: u32, json_name: &'static str, label: Label, kind: FieldKind) -> Field {
        Field {
            tag,
            json_name,
            label,
            kind,
        }
    }
}

/// How often a field occurs and how it appears in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// At most one value (proto2 `optional`): absent on the wire means absent in JSON.
    Optional,
    /// A JSON array (proto `repeated`).
    Repeated,
    /// A JSON object (proto `map<string, V>`, on the wire repeated key=1/value=2 entries).
    Map,
    /// A Go struct embedded with `json:",inline"`: its fields land in the parent object.
    Inline,
}

/// What one value of a field is, and so how its JSON is produced.
// `F64`, `Duration` and `RawExtension` occur only in kinds outside today's roots; the
// generator emits them as soon as a root reaches such a field.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    Str,
    Bool,
    I32,
    I64,
    F64,
    /// Arbitrary bytes: a base64 string in JSON.
    Bytes,
    Msg(&'static Message),
    /// `meta/v1 Time`: RFC 3339 with seconds precision, or `null` when zero.
    Time,
    /// `meta/v1 MicroTime`: RFC 3339 with 6 fractional digits, or `null` when zero.
    MicroTime,
    /// `meta/v1 Duration`: a Go duration string (`1h2m3.5s`).
    Duration,
    /// `util/intstr IntOrString`: a JSON number or string.
    IntOrString,
    /// `api/resource Quantity`: its canonical string.
    Quantity,
    /// `runtime RawExtension`: the embedded object, as JSON.
    RawExtension,
    /// `meta/v1 FieldsV1`: the embedded managed-fields JSON.
    FieldsV1,
}

/// A kind the envelope's `typeMeta` may name, and the message its `raw` bytes hold.
#[derive(Debug)]
pub struct TopLevelKind {
    /// `None` for the meta/v1 option kinds, which every group version registers.
    pub api_version: Option<&'static str>,
    pub kind: &'static str,
    pub message: &'static Message,
}
