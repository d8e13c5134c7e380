//! Kubernetes protobuf request bodies, decoded into the JSON object the client would
//! have sent as `application/json`.
//!
//! kubectl's typed clients (`kubectl create deployment|configmap|...`, `kubectl run`,
//! `kubectl expose`) send `Content-Type: application/vnd.kubernetes.protobuf`: the
//! magic `k8s\0`, then a `runtime.Unknown` envelope whose `typeMeta` names the kind
//! and whose `raw` holds the object's protobuf message. The message layouts come from
//! the generated table in `schema.rs` (see `scripts/gen-protobuf-schema.py`).
//!
//! Kubernetes' protos are proto2: a field on the wire is emitted even when it holds
//! `""`, `0` or `false`, and an absent field is omitted. Go's gogo marshaller writes
//! every non-pointer field, so objects decoded here carry zero values (`"uid": ""`,
//! `"restartPolicy": ""`) where a JSON client's `omitempty` would have left the key out.

mod encodings;
mod schema;
mod types;
mod wire;

use serde_json::{Map, Value};

use types::{Field, FieldKind, Label, Message};
use wire::{Reader, WIRE_FIXED64, WIRE_LENGTH_DELIMITED, WIRE_VARINT};

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4 bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// How deeply messages may nest (embedded objects in a `RawExtension` count too).
/// The served kinds need about a dozen levels; the cap keeps hostile input from
/// exhausting the stack.
pub const MAX_DEPTH: usize = 64;

/// Why a protobuf body could not be decoded. Texts follow upstream's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("empty data")]
    EmptyData,
    #[error(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )]
    MissingMagic,
    #[error("empty body")]
    EmptyBody,
    #[error("unexpected EOF")]
    UnexpectedEof,
    #[error("proto: integer overflow")]
    IntegerOverflow,
    #[error("proto: negative length found during unmarshaling")]
    NegativeLength,
    #[error("proto: illegal wireType {0}")]
    IllegalWireType(u8),
    #[error("proto: unexpected end of group")]
    UnexpectedEndOfGroup,
    #[error("proto: {message}: wiretype end group for non-group")]
    EndGroupForNonGroup { message: String },
    #[error("proto: {message}: illegal tag {tag} (wire type {wire_type})")]
    IllegalTag {
        message: String,
        tag: i32,
        wire_type: u8,
    },
    #[error("proto: wrong wireType = {wire_type} for field {field}")]
    WrongWireType { field: String, wire_type: u8 },
    #[error("proto: messages nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("Object 'Kind' is missing in '{0}'")]
    MissingKind(String),
    #[error("Object 'apiVersion' is missing in '{0}'")]
    MissingVersion(String),
    #[error(
        "no kind \"{kind}\" is registered for version \"{api_version}\" in the protobuf decoder"
    )]
    UnknownKind { api_version: String, kind: String },
    #[error("unsupported contentEncoding {0:?} in the protobuf envelope")]
    UnsupportedContentEncoding(String),
    #[error("unsupported contentType {0:?} in the protobuf envelope")]
    UnsupportedContentType(String),
    #[error("field {field}: {reason}")]
    InvalidValue { field: String, reason: String },
}

/// Decodes a Kubernetes protobuf body (the 4-byte magic `k8s\0` + a runtime.Unknown envelope
/// {typeMeta{apiVersion=1,kind=2}=1, raw=2, contentEncoding=3, contentType=4}) into the JSON object.
///
/// Literal proto2 semantics: every field on the wire is in the result, including the
/// `""`/`0`/`false` that gogo writes for every non-pointer Go field. See
/// [`decode_like_json_client`] for the object a JSON client would have sent.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_envelope(Options::default(), body, 0)
}

/// Like [`decode`], but an optional string field holding `""` is left out, as a JSON
/// client's `omitempty` leaves it out.
///
/// Go's gogo marshaller writes every non-pointer field, so a real kubectl body carries
/// `"restartPolicy": ""`, `"dnsPolicy": ""`, `"protocol": ""`, ... where the JSON
/// body has no key; Skiff's defaulting (like any JSON-level defaulting) only fills
/// absent keys, so those would fail validation. Numbers and booleans are kept: pointer
/// fields such as `replicas: 0` or `automountServiceAccountToken: false` mean what they
/// say, and a non-pointer `0`/`false` reads the same as absent. `""` in map values and
/// in arrays is kept.
pub fn decode_like_json_client(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_envelope(
        Options {
            omit_empty_strings: true,
        },
        body,
        0,
    )
}

/// How literally to translate proto2 presence into JSON keys.
#[derive(Debug, Clone, Copy, Default)]
struct Options {
    /// Leave out optional string fields holding `""` (see `decode_like_json_client`).
    omit_empty_strings: bool,
}

/// Whether `decode` knows the message layout of `kind` in `api_version`.
pub fn supports_kind(api_version: &str, kind: &str) -> bool {
    find_kind(api_version, kind).is_some()
}

fn find_kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    schema::KINDS
        .iter()
        .find(|known| known.kind == kind && known.api_version.is_none_or(|v| v == api_version))
        .map(|known| known.message)
}

/// The envelope fields `decode` needs.
#[derive(Default)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl Envelope<'_> {
    /// How upstream prints the type meta in its missing-kind errors.
    fn type_meta_debug(&self) -> String {
        format!(
            "runtime.TypeMeta{{APIVersion:{:?}, Kind:{:?}}}",
            self.api_version, self.kind
        )
    }
}

fn decode_envelope(options: Options, body: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if body.is_empty() {
        return Err(ProtobufError::EmptyData);
    }
    let envelope_bytes = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    if envelope_bytes.is_empty() {
        return Err(ProtobufError::EmptyBody);
    }
    let envelope = read_envelope(envelope_bytes)?;
    if envelope.kind.is_empty() {
        return Err(ProtobufError::MissingKind(envelope.type_meta_debug()));
    }
    if envelope.api_version.is_empty() {
        return Err(ProtobufError::MissingVersion(envelope.type_meta_debug()));
    }
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedContentEncoding(
            envelope.content_encoding,
        ));
    }
    if !envelope.content_type.is_empty() && envelope.content_type != MEDIA_TYPE {
        return Err(ProtobufError::UnsupportedContentType(envelope.content_type));
    }
    let message =
        find_kind(&envelope.api_version, &envelope.kind).ok_or(ProtobufError::UnknownKind {
            api_version: envelope.api_version.clone(),
            kind: envelope.kind.clone(),
        })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), envelope.api_version.into());
    object.insert("kind".into(), envelope.kind.into());
    decode_message_into(options, envelope.raw, message, depth + 1, &mut object)?;
    Ok(Value::Object(object))
}

/// Reads `runtime.Unknown`; unknown fields are skipped, repeated ones keep the last.
fn read_envelope(bytes: &[u8]) -> Result<Envelope<'_>, ProtobufError> {
    let mut envelope = Envelope::default();
    let mut reader = Reader::new(bytes);
    while !reader.is_at_end() {
        let (tag, wire_type) = reader.read_key("Unknown")?;
        let expect_bytes = |name: &str| {
            if wire_type == WIRE_LENGTH_DELIMITED {
                Ok(())
            } else {
                Err(ProtobufError::WrongWireType {
                    field: name.to_string(),
                    wire_type,
                })
            }
        };
        match tag {
            1 => {
                expect_bytes("TypeMeta")?;
                let mut type_meta = Reader::new(reader.read_length_delimited()?);
                while !type_meta.is_at_end() {
                    let (tag, wire_type) = type_meta.read_key("TypeMeta")?;
                    let slot = match tag {
                        1 => &mut envelope.api_version,
                        2 => &mut envelope.kind,
                        _ => {
                            type_meta.skip(wire_type)?;
                            continue;
                        }
                    };
                    if wire_type != WIRE_LENGTH_DELIMITED {
                        return Err(ProtobufError::WrongWireType {
                            field: if tag == 1 { "APIVersion" } else { "Kind" }.to_string(),
                            wire_type,
                        });
                    }
                    *slot = lossy_string(type_meta.read_length_delimited()?);
                }
            }
            2 => {
                expect_bytes("Raw")?;
                envelope.raw = reader.read_length_delimited()?;
            }
            3 => {
                expect_bytes("ContentEncoding")?;
                envelope.content_encoding = lossy_string(reader.read_length_delimited()?);
            }
            4 => {
                expect_bytes("ContentType")?;
                envelope.content_type = lossy_string(reader.read_length_delimited()?);
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(envelope)
}

/// Go keeps any bytes in a string; its JSON encoder then writes invalid UTF-8 as
/// U+FFFD, which is what the lossy conversion does too.
fn lossy_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decodes one message's fields into `object`. Decoding into an existing object is
/// protobuf's merge: a message field that occurs twice is merged, a repeated field
/// appended to, and a scalar overwritten.
fn decode_message_into(
    options: Options,
    bytes: &[u8],
    message: &'static Message,
    depth: usize,
    object: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let mut reader = Reader::new(bytes);
    while !reader.is_at_end() {
        let (tag, wire_type) = reader.read_key(message.short_name())?;
        match message.field(tag) {
            Some(field) => decode_field(options, &mut reader, field, wire_type, depth, object)?,
            None => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

fn decode_field(
    options: Options,
    reader: &mut Reader<'_>,
    field: &'static Field,
    wire_type: u8,
    depth: usize,
    object: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    let wrong_wire_type = || ProtobufError::WrongWireType {
        field: field.json_name.to_string(),
        wire_type,
    };
    match field.label {
        Label::Inline => {
            let FieldKind::Msg(inner) = field.kind else {
                return Err(wrong_wire_type());
            };
            if wire_type != WIRE_LENGTH_DELIMITED {
                return Err(wrong_wire_type());
            }
            decode_message_into(
                options,
                reader.read_length_delimited()?,
                inner,
                depth + 1,
                object,
            )
        }
        Label::Optional => {
            if let FieldKind::Msg(inner) = field.kind {
                if wire_type != WIRE_LENGTH_DELIMITED {
                    return Err(wrong_wire_type());
                }
                let bytes = reader.read_length_delimited()?;
                let slot = object_slot(object, field.json_name);
                return decode_message_into(options, bytes, inner, depth + 1, slot);
            }
            let value = read_value(options, reader, field, wire_type, depth)?;
            if options.omit_empty_strings && value.as_str() == Some("") {
                // Last one wins in protobuf, so an empty string also clears an earlier value.
                object.remove(field.json_name);
            } else {
                object.insert(field.json_name.to_string(), value);
            }
            Ok(())
        }
        Label::Repeated => {
            let values = array_slot(object, field.json_name);
            if wire_type == WIRE_LENGTH_DELIMITED && packable(field.kind).is_some() {
                // Packed encoding: a run of numbers in one length-delimited field.
                let mut packed = Reader::new(reader.read_length_delimited()?);
                let element_wire_type = packable(field.kind).unwrap_or(WIRE_VARINT);
                while !packed.is_at_end() {
                    values.push(read_value(
                        options,
                        &mut packed,
                        field,
                        element_wire_type,
                        depth,
                    )?);
                }
                return Ok(());
            }
            values.push(read_value(options, reader, field, wire_type, depth)?);
            Ok(())
        }
        Label::Map => {
            if wire_type != WIRE_LENGTH_DELIMITED {
                return Err(wrong_wire_type());
            }
            let (key, value) =
                read_map_entry(options, reader.read_length_delimited()?, field, depth)?;
            object_slot(object, field.json_name).insert(key, value);
            Ok(())
        }
    }
}

/// A `map<string, V>` entry: key = 1, value = 2; either may be absent, meaning the
/// zero value (as in Go, where a missing message value is the empty message).
fn read_map_entry(
    options: Options,
    bytes: &[u8],
    field: &'static Field,
    depth: usize,
) -> Result<(String, Value), ProtobufError> {
    if depth + 1 > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let mut key = String::new();
    let mut value = None;
    let mut reader = Reader::new(bytes);
    while !reader.is_at_end() {
        let (tag, wire_type) = reader.read_key(field.json_name)?;
        match tag {
            1 if wire_type == WIRE_LENGTH_DELIMITED => {
                key = lossy_string(reader.read_length_delimited()?);
            }
            1 => {
                return Err(ProtobufError::WrongWireType {
                    field: format!("{}.key", field.json_name),
                    wire_type,
                })
            }
            2 => {
                value = Some(read_value(
                    options,
                    &mut reader,
                    field,
                    wire_type,
                    depth + 1,
                )?)
            }
            _ => reader.skip(wire_type)?,
        }
    }
    let value = match value {
        Some(value) => value,
        None => zero_value(options, field, depth + 1)?,
    };
    Ok((key, value))
}

/// The JSON of a map value that is absent from its entry.
fn zero_value(
    options: Options,
    field: &'static Field,
    depth: usize,
) -> Result<Value, ProtobufError> {
    Ok(match field.kind {
        FieldKind::Bool => false.into(),
        FieldKind::I32 | FieldKind::I64 => 0.into(),
        FieldKind::F64 => 0.0.into(),
        // The length-delimited kinds are spelt like an empty body.
        _ => length_delimited_value(options, &[], field, depth)?,
    })
}

/// The wire type a repeated field of this kind uses unpacked, for kinds that may be
/// packed; `None` for kinds that are always length-delimited.
fn packable(kind: FieldKind) -> Option<u8> {
    match kind {
        FieldKind::Bool | FieldKind::I32 | FieldKind::I64 => Some(WIRE_VARINT),
        FieldKind::F64 => Some(WIRE_FIXED64),
        _ => None,
    }
}

/// One value of `field` (one element, for repeated and map fields).
fn read_value(
    options: Options,
    reader: &mut Reader<'_>,
    field: &'static Field,
    wire_type: u8,
    depth: usize,
) -> Result<Value, ProtobufError> {
    let expected = packable(field.kind).unwrap_or(WIRE_LENGTH_DELIMITED);
    if wire_type != expected {
        return Err(ProtobufError::WrongWireType {
            field: field.json_name.to_string(),
            wire_type,
        });
    }
    match field.kind {
        // Go truncates varints to the field's width, so negative int32s and bools
        // with stray high bits read as Go reads them.
        FieldKind::Bool => Ok((reader.read_varint()? != 0).into()),
        FieldKind::I32 => Ok((reader.read_varint()? as i32).into()),
        FieldKind::I64 => Ok((reader.read_varint()? as i64).into()),
        FieldKind::F64 => {
            let number = f64::from_bits(reader.read_fixed64()?);
            serde_json::Number::from_f64(number)
                .map(Value::Number)
                .ok_or_else(|| invalid(field, format!("json: unsupported value: {number}")))
        }
        _ => length_delimited_value(options, reader.read_length_delimited()?, field, depth),
    }
}

/// The JSON of one length-delimited value of `field`'s kind.
fn length_delimited_value(
    options: Options,
    bytes: &[u8],
    field: &'static Field,
    depth: usize,
) -> Result<Value, ProtobufError> {
    match field.kind {
        FieldKind::Str => Ok(lossy_string(bytes).into()),
        FieldKind::Bytes => Ok(encodings::base64(bytes).into()),
        FieldKind::Msg(message) => {
            let mut object = Map::new();
            decode_message_into(options, bytes, message, depth + 1, &mut object)?;
            Ok(Value::Object(object))
        }
        FieldKind::Time => {
            // Upstream: an empty message is the zero time; nanoseconds are dropped.
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            let (seconds, _nanos) = read_timestamp(bytes)?;
            encodings::time_json(seconds).map_err(|reason| invalid(field, reason))
        }
        FieldKind::MicroTime => {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            let (seconds, nanos) = read_timestamp(bytes)?;
            encodings::micro_time_json(seconds, nanos).map_err(|reason| invalid(field, reason))
        }
        FieldKind::Duration => {
            let mut nanoseconds = 0i64;
            scan_fields(bytes, "Duration", |tag, reader, wire_type| match tag {
                1 => {
                    nanoseconds = read_varint_field(reader, wire_type, "Duration")? as i64;
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            Ok(encodings::go_duration_string(nanoseconds).into())
        }
        FieldKind::IntOrString => {
            let (mut kind, mut int_value, mut string_value) = (0i64, 0i32, String::new());
            scan_fields(bytes, "IntOrString", |tag, reader, wire_type| {
                match tag {
                    1 => kind = read_varint_field(reader, wire_type, "Type")? as i64,
                    2 => int_value = read_varint_field(reader, wire_type, "IntVal")? as i32,
                    3 => string_value = read_string_field(reader, wire_type, "StrVal")?,
                    _ => return Ok(false),
                }
                Ok(true)
            })?;
            match kind {
                0 => Ok(int_value.into()),
                1 => Ok(string_value.into()),
                other => Err(invalid(
                    field,
                    format!("impossible IntOrString.Type {other}"),
                )),
            }
        }
        FieldKind::Quantity => {
            // A Quantity message without its string is the zero quantity.
            let mut quantity = "0".to_string();
            scan_fields(bytes, "Quantity", |tag, reader, wire_type| match tag {
                1 => {
                    quantity = read_string_field(reader, wire_type, "String_")?;
                    Ok(true)
                }
                _ => Ok(false),
            })?;
            Ok(quantity.into())
        }
        FieldKind::RawExtension | FieldKind::FieldsV1 => {
            let mut raw: Option<&[u8]> = None;
            scan_fields(bytes, "Raw", |tag, reader, wire_type| match tag {
                1 if wire_type == WIRE_LENGTH_DELIMITED => {
                    raw = Some(reader.read_length_delimited()?);
                    Ok(true)
                }
                1 => Err(ProtobufError::WrongWireType {
                    field: "Raw".into(),
                    wire_type,
                }),
                _ => Ok(false),
            })?;
            embedded_json(options, raw.unwrap_or_default(), field, depth)
        }
        FieldKind::Bool | FieldKind::I32 | FieldKind::I64 | FieldKind::F64 => {
            Err(invalid(field, "a number is never length-delimited".into()))
        }
    }
}

/// A `RawExtension`'s or `FieldsV1`'s bytes: JSON, or for a `RawExtension` possibly a
/// nested protobuf object; nothing at all is `null`.
fn embedded_json(
    options: Options,
    raw: &[u8],
    field: &'static Field,
    depth: usize,
) -> Result<Value, ProtobufError> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(MAGIC) {
        return decode_envelope(options, raw, depth + 1);
    }
    serde_json::from_slice(raw).map_err(|error| invalid(field, format!("embedded JSON: {error}")))
}

/// `meta/v1 Timestamp` {seconds = 1, nanos = 2}.
fn read_timestamp(bytes: &[u8]) -> Result<(i64, i32), ProtobufError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    scan_fields(bytes, "Timestamp", |tag, reader, wire_type| {
        match tag {
            1 => seconds = read_varint_field(reader, wire_type, "Seconds")? as i64,
            2 => nanos = read_varint_field(reader, wire_type, "Nanos")? as i32,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((seconds, nanos))
}

/// Walks the fields of a small hand-decoded message: `visit` reads the fields it
/// knows and returns `false` for the rest, which are skipped.
fn scan_fields<'a>(
    bytes: &'a [u8],
    message: &str,
    mut visit: impl FnMut(u32, &mut Reader<'a>, u8) -> Result<bool, ProtobufError>,
) -> Result<(), ProtobufError> {
    let mut reader = Reader::new(bytes);
    while !reader.is_at_end() {
        let (tag, wire_type) = reader.read_key(message)?;
        if !visit(tag, &mut reader, wire_type)? {
            reader.skip(wire_type)?;
        }
    }
    Ok(())
}

fn read_varint_field(
    reader: &mut Reader<'_>,
    wire_type: u8,
    name: &str,
) -> Result<u64, ProtobufError> {
    if wire_type != WIRE_VARINT {
        return Err(ProtobufError::WrongWireType {
            field: name.to_string(),
            wire_type,
        });
    }
    reader.read_varint()
}

fn read_string_field(
    reader: &mut Reader<'_>,
    wire_type: u8,
    name: &str,
) -> Result<String, ProtobufError> {
    if wire_type != WIRE_LENGTH_DELIMITED {
        return Err(ProtobufError::WrongWireType {
            field: name.to_string(),
            wire_type,
        });
    }
    Ok(lossy_string(reader.read_length_delimited()?))
}

fn invalid(field: &Field, reason: String) -> ProtobufError {
    ProtobufError::InvalidValue {
        field: field.json_name.to_string(),
        reason,
    }
}

/// `object[key]` as an object, created (or replacing a non-object) when needed.
fn object_slot<'a>(object: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = object
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

/// `object[key]` as an array, created (or replacing a non-array) when needed.
fn array_slot<'a>(object: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = object
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(values) => values,
        _ => unreachable!("made an array above"),
    }
}

#[cfg(test)]
mod tests;
