//! Tests for the protobuf decoder: hand-encoded bodies (with the tiny encoder below),
//! bodies captured from kubectl 1.32 (`-v=9`), and malformed input.

use serde_json::json;

use super::types::{Field, FieldKind, Label, Message};
use super::*;

/// A minimal protobuf writer: just enough to build test bodies field by field.
#[derive(Default, Clone)]
struct Encoder(Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

impl Encoder {
    fn new() -> Encoder {
        Encoder::default()
    }

    fn key(mut self, tag: u32, wire_type: u8) -> Encoder {
        put_varint(&mut self.0, u64::from(tag) << 3 | u64::from(wire_type));
        self
    }

    fn varint(self, tag: u32, value: u64) -> Encoder {
        let mut encoder = self.key(tag, 0);
        put_varint(&mut encoder.0, value);
        encoder
    }

    fn bytes(self, tag: u32, bytes: &[u8]) -> Encoder {
        let mut encoder = self.key(tag, 2);
        put_varint(&mut encoder.0, bytes.len() as u64);
        encoder.0.extend_from_slice(bytes);
        encoder
    }

    fn string(self, tag: u32, value: &str) -> Encoder {
        self.bytes(tag, value.as_bytes())
    }

    fn message(self, tag: u32, message: Encoder) -> Encoder {
        self.bytes(tag, &message.0)
    }

    /// One `map<string, string>` entry.
    fn map_entry(self, tag: u32, key: &str, value: &[u8]) -> Encoder {
        self.message(tag, Encoder::new().string(1, key).bytes(2, value))
    }
}

/// The magic + `runtime.Unknown` envelope around `raw`, as client-go writes it.
fn envelope(api_version: &str, kind: &str, raw: Encoder) -> Vec<u8> {
    let type_meta = Encoder::new().string(1, api_version).string(2, kind);
    let unknown = Encoder::new()
        .message(1, type_meta)
        .message(2, raw)
        .string(3, "")
        .string(4, "");
    [MAGIC.as_slice(), &unknown.0].concat()
}

fn metadata(name: &str) -> Encoder {
    Encoder::new().string(1, name)
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// `kubectl create configmap x --from-literal=a=b --from-file=bin=<"hi\0\xff">`.
const KUBECTL_CONFIGMAP: &str =
    "6b3873000a0f0a0276311209436f6e6669674d617012280a110a017812001a002200\
2a0032003800420012060a01611201621a0b0a0362696e1204686900ff1a002200";

/// `kubectl create deployment web --image=nginx --replicas=0 --port=80`.
const KUBECTL_DEPLOYMENT: &str =
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b8010a1f0a\
0377656212001a0022002a003200380042005a0a0a0361707012037765621286010800120c0a0a0a03617070120377656\
21a6c0a1c0a0012001a0022002a003200380042005a0a0a036170701203776562124c122e0a056e67696e7812056e6769\
6e782a00320a0a001000185022002a0042006a007200800100880100900100a201001a00320042004a005200580060006\
8008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200";

/// `kubectl create service clusterip s --tcp=80:8080 --tcp=443:https`.
const KUBECTL_SERVICE: &str =
    "6b3873000a0d0a0276311207536572766963651287010a1b0a017312001a0022002a\
003200380042005a080a0361707012017312640a1b0a0738302d38303830120354435018502207080010903f1a0028000a\
220a093434332d6874747073120354435018bb03220b080110001a056874747073280012080a036170701201731a002209\
436c757374657249503a00420052005a00600068001a020a001a002200";

/// The metadata fields gogo always writes, as they decode.
fn empty_metadata(name: &str) -> Value {
    json!({
        "name": name, "generateName": "", "namespace": "", "selfLink": "", "uid": "",
        "resourceVersion": "", "generation": 0, "creationTimestamp": null,
    })
}

#[test]
fn kubectl_configmap_decodes_to_its_json() {
    let object = decode(&from_hex(KUBECTL_CONFIGMAP)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": empty_metadata("x"),
            "data": {"a": "b"},
            "binaryData": {"bin": "aGkA/w=="},
        })
    );
}

#[test]
fn kubectl_deployment_keeps_replicas_zero() {
    let object = decode(&from_hex(KUBECTL_DEPLOYMENT)).unwrap();
    assert_eq!(object["apiVersion"], "apps/v1");
    assert_eq!(object["kind"], "Deployment");
    assert_eq!(object["metadata"]["labels"], json!({"app": "web"}));
    let spec = &object["spec"];
    assert_eq!(spec["replicas"], 0);
    assert_eq!(spec["selector"], json!({"matchLabels": {"app": "web"}}));
    assert_eq!(spec["strategy"], json!({"type": ""}));
    let pod_spec = &spec["template"]["spec"];
    let container = &pod_spec["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["image"], "nginx");
    assert_eq!(
        container["ports"],
        json!([{"name": "", "hostPort": 0, "containerPort": 80, "protocol": "", "hostIP": ""}])
    );
    assert_eq!(container["resources"], json!({}));
    assert_eq!(container["stdin"], false);
    assert_eq!(pod_spec["restartPolicy"], "");
    assert_eq!(object["status"]["replicas"], 0);
}

#[test]
fn kubectl_service_has_both_target_port_spellings() {
    let object = decode(&from_hex(KUBECTL_SERVICE)).unwrap();
    let spec = &object["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["selector"], json!({"app": "s"}));
    assert_eq!(
        spec["ports"],
        json!([
            {"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 0},
            {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https", "nodePort": 0},
        ])
    );
}

#[test]
fn configmap_data_and_binary_data() {
    let raw = Encoder::new()
        .message(1, metadata("cm").string(3, "default"))
        .map_entry(2, "key", b"value")
        .map_entry(2, "empty", b"")
        .map_entry(3, "blob", &[0, 1, 2, 0xfe, 0xff])
        .varint(4, 1);
    let object = decode(&envelope("v1", "ConfigMap", raw)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "default"},
            "data": {"key": "value", "empty": ""},
            "binaryData": {"blob": "AAEC/v8="},
            "immutable": true,
        })
    );
}

#[test]
fn namespace_with_labels_and_finalizers() {
    let raw = Encoder::new()
        .message(
            1,
            metadata("team-a")
                .map_entry(11, "kubernetes.io/metadata.name", b"team-a")
                .map_entry(12, "note", b"x"),
        )
        .message(2, Encoder::new().string(1, "kubernetes"))
        .message(3, Encoder::new().string(1, "Active"));
    let object = decode(&envelope("v1", "Namespace", raw)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {
                "name": "team-a",
                "labels": {"kubernetes.io/metadata.name": "team-a"},
                "annotations": {"note": "x"},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })
    );
}

#[test]
fn deployment_replicas_zero_is_emitted_and_absent_is_omitted() {
    let with_zero = Encoder::new()
        .message(1, metadata("web"))
        .message(2, Encoder::new().varint(1, 0).varint(5, 0));
    let object = decode(&envelope("apps/v1", "Deployment", with_zero)).unwrap();
    assert_eq!(object["spec"], json!({"replicas": 0, "minReadySeconds": 0}));

    let without = Encoder::new().message(2, Encoder::new().varint(6, 10));
    let object = decode(&envelope("apps/v1", "Deployment", without)).unwrap();
    assert_eq!(object["spec"], json!({"revisionHistoryLimit": 10}));
    assert!(object.get("metadata").is_none());
}

#[test]
fn int_or_string_both_ways() {
    let port = |target: Encoder| {
        Encoder::new()
            .string(1, "http")
            .varint(3, 80)
            .message(4, target)
    };
    let raw = Encoder::new().message(
        2,
        Encoder::new()
            .message(1, port(Encoder::new().varint(1, 0).varint(2, 8080)))
            .message(1, port(Encoder::new().varint(1, 1).string(3, "web")))
            .message(1, port(Encoder::new())),
    );
    let object = decode(&envelope("v1", "Service", raw)).unwrap();
    let target_ports: Vec<&Value> = object["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|port| &port["targetPort"])
        .collect();
    assert_eq!(target_ports, [&json!(8080), &json!("web"), &json!(0)]);

    let impossible = Encoder::new().message(
        2,
        Encoder::new().message(1, port(Encoder::new().varint(1, 7))),
    );
    let error = decode(&envelope("v1", "Service", impossible)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field targetPort: impossible IntOrString.Type 7"
    );
}

#[test]
fn times_micro_times_and_zero_times() {
    // 2026-11-21T23:00:00Z, with nanoseconds that metav1.Time drops.
    let timestamp = Encoder::new()
        .varint(1, 1_795_302_000)
        .varint(2, 500_000_000);
    let raw = Encoder::new()
        .message(
            1,
            metadata("lease")
                .message(8, timestamp.clone())
                .message(9, Encoder::new()),
        )
        .message(
            2,
            Encoder::new()
                .string(1, "holder")
                .message(3, timestamp.clone())
                .message(4, Encoder::new().varint(1, 1_795_302_000).varint(2, 1_234)),
        );
    let object = decode(&envelope("coordination.k8s.io/v1", "Lease", raw)).unwrap();
    assert_eq!(
        object["metadata"]["creationTimestamp"],
        "2026-11-21T23:00:00Z"
    );
    assert_eq!(object["metadata"]["deletionTimestamp"], Value::Null);
    assert_eq!(object["spec"]["acquireTime"], "2026-11-21T23:00:00.500000Z");
    assert_eq!(object["spec"]["renewTime"], "2026-11-21T23:00:00.000001Z");
}

#[test]
fn secret_data_is_base64_and_string_data_is_text() {
    let raw = Encoder::new()
        .message(1, metadata("creds"))
        .map_entry(2, "password", b"hunter2")
        .map_entry(4, "user", b"admin")
        .string(3, "Opaque");
    let object = decode(&envelope("v1", "Secret", raw)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "creds"},
            "data": {"password": "aHVudGVyMg=="},
            "stringData": {"user": "admin"},
            "type": "Opaque",
        })
    );
}

#[test]
fn pod_with_containers_ports_env_resources_and_probes() {
    let quantity = |value: &str| Encoder::new().string(1, value);
    let container = Encoder::new()
        .string(1, "app")
        .string(2, "busybox")
        .string(3, "sleep")
        .string(4, "10")
        .message(
            6,
            Encoder::new()
                .string(1, "http")
                .varint(3, 8080)
                .string(4, "TCP")
                .string(5, "0.0.0.0"),
        )
        .message(7, Encoder::new().string(1, "A").string(2, "1"))
        .message(
            7,
            Encoder::new().string(1, "NODE").message(
                3,
                Encoder::new().message(1, Encoder::new().string(2, "spec.nodeName")),
            ),
        )
        .message(
            8,
            Encoder::new()
                .message(
                    1,
                    Encoder::new()
                        .string(1, "memory")
                        .message(2, quantity("64Mi")),
                )
                .message(
                    2,
                    Encoder::new().string(1, "cpu").message(2, quantity("250m")),
                ),
        )
        .message(
            10,
            // Probe.handler is inlined: httpGet sits beside periodSeconds.
            Encoder::new()
                .message(
                    1,
                    Encoder::new().message(
                        2,
                        Encoder::new()
                            .string(1, "/healthz")
                            .message(2, Encoder::new().varint(1, 1).string(3, "http")),
                    ),
                )
                .varint(4, 5),
        );
    let volume = Encoder::new().string(1, "scratch").message(
        2,
        Encoder::new().message(2, Encoder::new().string(1, "Memory")),
    );
    let raw = Encoder::new()
        .message(1, metadata("p1").string(3, "default"))
        .message(
            2,
            Encoder::new()
                .message(1, volume)
                .message(2, container)
                .string(3, "Never")
                .string(10, "node-1")
                .varint(12, 1)
                .varint(21, 1),
        )
        .message(
            3,
            Encoder::new()
                .string(5, "10.0.0.1")
                .message(12, Encoder::new().string(1, "10.1.0.5"))
                .message(7, Encoder::new().varint(1, 1_795_302_000)),
        );
    let object = decode(&envelope("v1", "Pod", raw)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p1", "namespace": "default"},
            "spec": {
                "volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}],
                "containers": [{
                    "name": "app",
                    "image": "busybox",
                    "command": ["sleep"],
                    "args": ["10"],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP", "hostIP": "0.0.0.0"}],
                    "env": [
                        {"name": "A", "value": "1"},
                        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    ],
                    "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}},
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http"},
                        "periodSeconds": 5,
                    },
                }],
                "restartPolicy": "Never",
                "nodeName": "node-1",
                "hostPID": true,
                "automountServiceAccountToken": true,
            },
            "status": {
                "hostIP": "10.0.0.1",
                "podIPs": [{"ip": "10.1.0.5"}],
                "startTime": "2026-11-21T23:00:00Z",
            },
        })
    );
}

#[test]
fn delete_options_are_accepted_under_any_group_version() {
    let raw = Encoder::new()
        .varint(1, 30)
        .message(2, Encoder::new().string(1, "uid-1"))
        .string(4, "Foreground")
        .string(5, "All");
    for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        let object = decode(&envelope(api_version, "DeleteOptions", raw.clone())).unwrap();
        assert_eq!(
            object,
            json!({
                "apiVersion": api_version, "kind": "DeleteOptions",
                "gracePeriodSeconds": 30,
                "preconditions": {"uid": "uid-1"},
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
            })
        );
    }
}

#[test]
fn managed_fields_embed_json() {
    let entry = Encoder::new()
        .string(1, "kubectl")
        .string(2, "Update")
        .string(6, "FieldsV1")
        .message(7, Encoder::new().bytes(1, br#"{"f:data":{".":{}}}"#));
    let raw = Encoder::new().message(1, metadata("cm").message(17, entry));
    let object = decode(&envelope("v1", "ConfigMap", raw)).unwrap();
    assert_eq!(
        object["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {".": {}}})
    );
}

#[test]
fn repeated_numbers_may_be_packed_or_not() {
    // ServiceSpec has no repeated number; EndpointSlice's ports are messages. Use the
    // generic path through a synthetic message instead.
    static NUMBERS: Message = Message {
        name: "test.Numbers",
        fields: &[Field::new(1, "values", Label::Repeated, FieldKind::I32)],
    };
    let mut packed = Vec::new();
    for value in [1u64, 2, 300] {
        put_varint(&mut packed, value);
    }
    let body = Encoder::new()
        .varint(1, 7)
        .bytes(1, &packed)
        .varint(1, u64::MAX); // -1 as a sign-extended int32
    let mut object = Map::new();
    decode_message_into(Options::default(), &body.0, &NUMBERS, 0, &mut object).unwrap();
    assert_eq!(Value::Object(object), json!({"values": [7, 1, 2, 300, -1]}));
}

#[test]
fn durations_raw_extensions_and_doubles() {
    static SPECIALS: Message = Message {
        name: "test.Specials",
        fields: &[
            Field::new(1, "timeout", Label::Optional, FieldKind::Duration),
            Field::new(2, "object", Label::Optional, FieldKind::RawExtension),
            Field::new(3, "nested", Label::Optional, FieldKind::RawExtension),
            Field::new(4, "ratio", Label::Optional, FieldKind::F64),
        ],
    };
    let nested = envelope(
        "v1",
        "Namespace",
        Encoder::new().message(1, metadata("inner")),
    );
    let mut body = Encoder::new()
        .message(1, Encoder::new().varint(1, 90_500_000_000))
        .message(2, Encoder::new().bytes(1, br#"{"kind":"Foo","spec":[1]}"#))
        .message(3, Encoder::new().bytes(1, &nested))
        .key(4, 1);
    body.0.extend_from_slice(&0.5f64.to_le_bytes());
    let mut object = Map::new();
    decode_message_into(Options::default(), &body.0, &SPECIALS, 0, &mut object).unwrap();
    assert_eq!(
        Value::Object(object),
        json!({
            "timeout": "1m30.5s",
            "object": {"kind": "Foo", "spec": [1]},
            "nested": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "inner"}},
            "ratio": 0.5,
        })
    );
}

#[test]
fn repeated_message_fields_merge_like_protobuf() {
    let raw = Encoder::new()
        .message(1, metadata("x"))
        .message(1, Encoder::new().string(3, "ns").string(14, "f1"))
        .message(1, Encoder::new().string(14, "f2"));
    let object = decode(&envelope("v1", "ConfigMap", raw)).unwrap();
    assert_eq!(
        object["metadata"],
        json!({"name": "x", "namespace": "ns", "finalizers": ["f1", "f2"]})
    );
}

#[test]
fn unknown_fields_and_groups_are_skipped() {
    // Unknown fields of every wire type: varint, group (holding a varint and a nested
    // message), fixed64, length-delimited and fixed32.
    let mut raw = Encoder::new()
        .message(1, metadata("x"))
        .varint(99, 5)
        .key(102, 3)
        .varint(1, 1)
        .message(2, Encoder::new().string(1, "nested in group"))
        .key(102, 4)
        .key(100, 1);
    raw.0.extend_from_slice(&0u64.to_le_bytes());
    raw = raw.string(101, "ignored").key(103, 5);
    raw.0.extend_from_slice(&0u32.to_le_bytes());
    let object = decode(&envelope("v1", "ConfigMap", raw)).unwrap();
    assert_eq!(object["metadata"], json!({"name": "x"}));
    assert_eq!(object.as_object().unwrap().len(), 3);
}

#[test]
fn envelope_errors_match_upstream() {
    assert_eq!(decode(b""), Err(ProtobufError::EmptyData));
    assert_eq!(decode(b"k8s"), Err(ProtobufError::MissingMagic));
    assert_eq!(
        decode(br#"{"kind":"Pod"}"#),
        Err(ProtobufError::MissingMagic)
    );
    assert_eq!(decode(b"k8s\0"), Err(ProtobufError::EmptyBody));
    assert_eq!(
        decode(&envelope("v1", "", Encoder::new()))
            .unwrap_err()
            .to_string(),
        "Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:\"v1\", Kind:\"\"}'"
    );
    assert!(matches!(
        decode(&envelope("", "Pod", Encoder::new())),
        Err(ProtobufError::MissingVersion(_))
    ));
    assert_eq!(
        decode(&envelope("v1", "Widget", Encoder::new())),
        Err(ProtobufError::UnknownKind {
            api_version: "v1".into(),
            kind: "Widget".into()
        })
    );
    // Event exists in v1 and events.k8s.io/v1, but not in apps/v1.
    assert!(decode(&envelope("events.k8s.io/v1", "Event", Encoder::new())).is_ok());
    assert!(decode(&envelope("apps/v1", "Event", Encoder::new())).is_err());
    assert!(supports_kind("batch/v1", "CronJob"));
    assert!(!supports_kind("batch/v1", "Deployment"));
}

#[test]
fn wire_errors_match_upstream() {
    let wrong_wire_type = Encoder::new().varint(1, 5); // metadata as a varint
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", wrong_wire_type))
            .unwrap_err()
            .to_string(),
        "proto: wrong wireType = 0 for field metadata"
    );
    let overflow = Encoder(vec![
        // Field 15 is unknown to ConfigMap; skipping it reads the 11-byte varint.
        0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ]);
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", overflow)),
        Err(ProtobufError::IntegerOverflow)
    );
    let negative_length = Encoder(vec![
        0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ]);
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", negative_length)),
        Err(ProtobufError::NegativeLength)
    );
    let too_long = Encoder(vec![0x0a, 0x05, 0x0a]);
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", too_long)),
        Err(ProtobufError::UnexpectedEof)
    );
    let tag_zero = Encoder(vec![0x02, 0x00]);
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", tag_zero))
            .unwrap_err()
            .to_string(),
        "proto: ConfigMap: illegal tag 0 (wire type 2)"
    );
    let stray_end_group = Encoder(vec![0x0c]);
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", stray_end_group))
            .unwrap_err()
            .to_string(),
        "proto: ConfigMap: wiretype end group for non-group"
    );
    let illegal_wire_type = Encoder(vec![0xf6, 0x06]); // field 110, wire type 6
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", illegal_wire_type)),
        Err(ProtobufError::IllegalWireType(6))
    );
    let bad_embedded_json = Encoder::new().message(
        1,
        Encoder::new().message(17, Encoder::new().message(7, Encoder::new().bytes(1, b"{"))),
    );
    assert!(matches!(
        decode(&envelope("v1", "ConfigMap", bad_embedded_json)),
        Err(ProtobufError::InvalidValue { .. })
    ));
}

#[test]
fn nesting_is_capped() {
    static NODE: Message = Message {
        name: "test.Node",
        fields: &[Field::new(
            1,
            "child",
            Label::Optional,
            FieldKind::Msg(&NODE),
        )],
    };
    let mut body = Encoder::new();
    for _ in 0..MAX_DEPTH + 5 {
        body = Encoder::new().message(1, body);
    }
    let mut object = Map::new();
    assert_eq!(
        decode_message_into(Options::default(), &body.0, &NODE, 0, &mut object),
        Err(ProtobufError::TooDeep)
    );
}

#[test]
fn truncated_and_mutated_bodies_error_without_panicking() {
    for sample in [KUBECTL_CONFIGMAP, KUBECTL_DEPLOYMENT, KUBECTL_SERVICE] {
        let body = from_hex(sample);
        for length in 0..body.len() {
            // Any prefix may happen to parse (fields are optional); it must not panic.
            let _ = decode(&body[..length]);
        }
        // Flip every byte through a few values.
        for index in 0..body.len() {
            for replacement in [0x00, 0x07, 0x0b, 0x7f, 0x80, 0xff] {
                let mut mutated = body.clone();
                mutated[index] = replacement;
                let _ = decode(&mutated);
            }
        }
    }
    // Pseudo-random garbage behind the magic.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2_000 {
        let mut body = MAGIC.to_vec();
        for _ in 0..(state % 64) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            body.push(state as u8);
        }
        let _ = decode(&body);
    }
    // A truncated real body is reported, not half-decoded.
    let body = from_hex(KUBECTL_DEPLOYMENT);
    assert_eq!(
        decode(&body[..body.len() - 20]),
        Err(ProtobufError::UnexpectedEof)
    );
}

/// Every table message has ascending, unique tags (so `Message::field` can bisect),
/// and the table covers every kind Skiff serves a body for.
#[test]
fn schema_is_sorted_and_covers_the_served_kinds() {
    fn check(message: &'static Message, seen: &mut Vec<&'static str>) {
        if seen.contains(&message.name) {
            return;
        }
        seen.push(message.name);
        assert!(
            message
                .fields
                .windows(2)
                .all(|pair| pair[0].tag < pair[1].tag),
            "{}",
            message.name
        );
        for field in message.fields {
            if let FieldKind::Msg(inner) = field.kind {
                check(inner, seen);
            }
        }
    }
    let mut seen = Vec::new();
    for kind in schema::KINDS {
        check(kind.message, &mut seen);
    }
    for (api_version, kind) in [
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("v1", "Service"),
        ("v1", "Endpoints"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Node"),
        ("v1", "Event"),
        ("v1", "ServiceAccount"),
        ("v1", "Binding"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1", "IngressClass"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("coordination.k8s.io/v1", "Lease"),
        ("events.k8s.io/v1", "Event"),
        ("autoscaling/v1", "Scale"),
        ("policy/v1", "Eviction"),
        ("v1", "DeleteOptions"),
    ] {
        assert!(supports_kind(api_version, kind), "{api_version} {kind}");
    }
}

#[test]
fn json_client_style_drops_empty_strings_so_kubectl_objects_default_and_validate() {
    use crate::registry::Kind;
    let literal = decode(&from_hex(KUBECTL_DEPLOYMENT)).unwrap();
    assert_eq!(literal["spec"]["template"]["spec"]["restartPolicy"], "");

    let mut object = decode_like_json_client(&from_hex(KUBECTL_DEPLOYMENT)).unwrap();
    assert_eq!(
        object["metadata"],
        json!({"name": "web", "generation": 0, "creationTimestamp": null, "labels": {"app": "web"}})
    );
    assert_eq!(object["spec"]["replicas"], 0);
    assert!(object["spec"]["template"]["spec"]
        .get("restartPolicy")
        .is_none());
    object["metadata"]["namespace"] = json!("default");
    crate::defaults::apply_defaults(Kind::Deployment, &mut object);
    assert_eq!(
        object["spec"]["template"]["spec"]["restartPolicy"],
        "Always"
    );
    assert_eq!(
        crate::validation::validate_create(Kind::Deployment, &object),
        Vec::new()
    );

    // `""` stays where it is data: map values and array elements.
    let raw = Encoder::new()
        .message(1, metadata("x").string(3, "ns").string(3, ""))
        .map_entry(2, "empty", b"");
    let object = decode_like_json_client(&envelope("v1", "ConfigMap", raw)).unwrap();
    assert_eq!(object["metadata"], json!({"name": "x"}));
    assert_eq!(object["data"], json!({"empty": ""}));
}
