#!/usr/bin/env python3
"""Generates crates/skiff-api/src/protobuf/schema.rs: the static message table the
Kubernetes protobuf decoder walks.

Two inputs, both already in the cargo registry:
  * k8s-pb 0.9.0 (prost-generated): tag numbers, wire kinds and field types;
  * k8s-openapi 0.29.0 (all its v1_* versions, merged: k8s-pb 0.9.0 has fields newer
    than v1_33, and a JSON name never changes between versions): the exact JSON names
    (prost's snake_case loses the case of `hostIP`, `podIPs`, ...). A prost field and a
    JSON key match when they are equal after lowercasing and removing underscores;
    messages match the same way (`AwsElasticBlockStoreVolumeSource` = `AWSElastic...`).

A message field with no JSON key of its own is a Go struct embedded with
`json:",inline"` (e.g. `Volume.volumeSource`, `Probe.handler`): its fields are emitted
into the parent object, so it gets the label `Inline`.

Only message types reachable from ROOT_KINDS are emitted, to keep the binary small.

Usage (stdlib only):
    python3 scripts/gen-protobuf-schema.py > crates/skiff-api/src/protobuf/schema.rs
    rustfmt --edition 2021 crates/skiff-api/src/protobuf/schema.rs
Options: --k8s-pb DIR --k8s-openapi DIR (default: newest match in ~/.cargo/registry/src).
"""

import argparse
import glob
import os
import re
import sys

K8S_PB_VERSION = "0.9.0"
K8S_OPENAPI_VERSION = "0.29.0"

# (k8s-pb module, message): every top-level kind the API server accepts as a body.
# The apiVersion/kind pair comes from the message's `impl crate::Resource` block,
# except for the kinds in ANY_VERSION_KINDS.
ROOT_KINDS = [
    ("api.core.v1", "Namespace"),
    ("api.core.v1", "Pod"),
    ("api.core.v1", "Service"),
    ("api.core.v1", "Endpoints"),
    ("api.core.v1", "ConfigMap"),
    ("api.core.v1", "Secret"),
    ("api.core.v1", "Node"),
    ("api.core.v1", "Event"),
    ("api.core.v1", "ServiceAccount"),
    ("api.core.v1", "Binding"),
    ("api.apps.v1", "Deployment"),
    ("api.apps.v1", "ReplicaSet"),
    ("api.apps.v1", "StatefulSet"),
    ("api.apps.v1", "DaemonSet"),
    ("api.batch.v1", "Job"),
    ("api.batch.v1", "CronJob"),
    ("api.networking.v1", "Ingress"),
    ("api.networking.v1", "IngressClass"),
    ("api.discovery.v1", "EndpointSlice"),
    ("api.coordination.v1", "Lease"),
    ("api.events.v1", "Event"),
    ("api.autoscaling.v1", "Scale"),
    ("api.policy.v1", "Eviction"),
    ("apimachinery.pkg.apis.meta.v1", "DeleteOptions"),
]

# Subresource kinds k8s-pb has no `impl crate::Resource` for.
SUBRESOURCE_API_VERSIONS = {
    ("api.autoscaling.v1", "Scale"): "autoscaling/v1",
    ("api.policy.v1", "Eviction"): "policy/v1",
}

# meta/v1 option kinds are registered in every group version (AddToGroupVersion), so
# the envelope may name them with any apiVersion.
ANY_VERSION_KINDS = {("apimachinery.pkg.apis.meta.v1", "DeleteOptions")}

# Messages with a JSON encoding of their own; fields of these types get a dedicated
# FieldKind instead of a table entry.
SPECIAL_TYPES = {
    ("apimachinery.pkg.apis.meta.v1", "Time"): "Time",
    ("apimachinery.pkg.apis.meta.v1", "MicroTime"): "MicroTime",
    ("apimachinery.pkg.apis.meta.v1", "Duration"): "Duration",
    ("apimachinery.pkg.apis.meta.v1", "FieldsV1"): "FieldsV1",
    ("apimachinery.pkg.util.intstr", "IntOrString"): "IntOrString",
    ("apimachinery.pkg.api.resource", "Quantity"): "Quantity",
    ("apimachinery.pkg.runtime", "RawExtension"): "RawExtension",
}

SCALAR_KINDS = {
    "string": "Str",
    "bool": "Bool",
    "int32": "I32",
    "int64": "I64",
    "double": "F64",
    "bytes": "Bytes",
}

PROST_ATTR = re.compile(r"#\[prost\((.*)\)\]\s*$")
STRUCT_START = re.compile(r"^pub struct (\w+) \{\s*$")
FIELD_START = re.compile(r"^\s*pub (r#)?(\w+):\s*(.*)$")
RESOURCE_IMPL = re.compile(
    r"impl crate::Resource for (\w+) \{\s*"
    r"const API_VERSION: &'static str = \"([^\"]*)\";.*?"
    r"const KIND: &'static str = \"([^\"]*)\";",
    re.S,
)
JSON_KEY = re.compile(r'^\s*"([^"]+)" => Field::Key_\w+,\s*$')


def find_crate(name, version):
    pattern = os.path.expanduser(f"~/.cargo/registry/src/*/{name}-{version}/src")
    found = sorted(glob.glob(pattern))
    if not found:
        sys.exit(f"gen-protobuf-schema: {name} {version} not found at {pattern}; run `cargo fetch`")
    return found[-1]


def normalise(name):
    return name.replace("r#", "").replace("_", "").lower()


def module_of(root, path):
    """`<root>/api/core/v1/mod.rs` -> `api.core.v1`."""
    rel = os.path.relpath(os.path.dirname(path), root)
    return rel.replace(os.sep, ".")


def resolve_type(module, rust_type):
    """Resolves a prost field type (`super::super::x::Y` or `Y`) to (module, message)."""
    parts = rust_type.split("::")
    here = module.split(".")
    while parts and parts[0] == "super":
        parts.pop(0)
        here.pop()
    if parts and parts[0] == "crate":
        parts.pop(0)
        here = []
    return (".".join(here + parts[:-1]), parts[-1])


def inner_type(rust_type, label):
    """The message type named by a prost field's Rust type."""
    t = re.sub(r"\s+", "", rust_type).rstrip(",")
    t = t.replace("::core::option::Option<", "").replace("::prost::alloc::boxed::Box<", "")
    t = t.replace("::prost::alloc::vec::Vec<", "")
    if label == "map":
        # ::prost::alloc::collections::BTreeMap<String, X> -> X
        t = t.split(",", 1)[1]
    return t.rstrip(">,").lstrip(":")


def parse_k8s_pb(root):
    """Returns ({(module, name): [field dicts]}, {(module, name): (apiVersion, kind)})."""
    messages, resources = {}, {}
    for path in sorted(glob.glob(os.path.join(root, "**", "mod.rs"), recursive=True)):
        module = module_of(root, path)
        text = open(path, encoding="utf-8").read()
        for name, api_version, kind in RESOURCE_IMPL.findall(text):
            resources[(module, name)] = (api_version, kind)
        lines = text.split("\n")
        i = 0
        while i < len(lines):
            m = STRUCT_START.match(lines[i])
            if not m:
                i += 1
                continue
            name, fields, attr, attr_count = m.group(1), [], None, 0
            i += 1
            while i < len(lines) and lines[i] != "}":
                a = PROST_ATTR.match(lines[i].strip())
                if a:
                    attr, attr_count = a.group(1), attr_count + 1
                f = FIELD_START.match(lines[i])
                if f and attr is not None:
                    rust_type = f.group(3)
                    # rustfmt may split a long type over several lines.
                    while i + 1 < len(lines) and (
                        rust_type.count("<") > rust_type.count(">")
                        or not rust_type.rstrip().endswith(",")
                    ):
                        i += 1
                        rust_type += lines[i].strip()
                    fields.append(parse_field(module, name, f.group(2), attr, rust_type))
                    attr = None
                i += 1
            if len(fields) != attr_count:
                sys.exit(f"gen-protobuf-schema: {module}.{name}: parsed {len(fields)} of {attr_count} fields")
            messages[(module, name)] = fields
    return messages, resources


def parse_field(module, message, field_name, attr, rust_type):
    tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
    map_match = re.match(r'btree_map = "(\w+), (\w+)"', attr)
    if map_match:
        key, value = map_match.groups()
        if key != "string":
            sys.exit(f"{module}.{message}.{field_name}: unsupported map key {key}")
        label, wire = "map", value
    else:
        wire = attr.split(",")[0].split("=")[0].strip()
        label = "repeated" if ", repeated" in attr else "optional"
    field = {"name": field_name, "tag": tag, "label": label, "wire": wire}
    if wire == "message":
        field["type"] = resolve_type(module, inner_type(rust_type, label))
    elif wire not in SCALAR_KINDS:
        sys.exit(f"{module}.{message}.{field_name}: unsupported prost kind {attr}")
    return field


def parse_k8s_openapi(crate_root):
    """{(module, normalised struct): {normalised name: JSON name}} from the Deserialize
    impls of every Kubernetes version the crate carries."""
    names = {}
    for root in sorted(glob.glob(os.path.join(crate_root, "v1_*"))):
        for path in glob.glob(os.path.join(root, "**", "*.rs"), recursive=True):
            text = open(path, encoding="utf-8").read()
            m = re.search(r"^pub struct (\w+)\b", text, re.M)
            if not m:
                continue
            keys = names.setdefault((module_of(root, path), normalise(m.group(1))), {})
            for line in text.split("\n"):
                k = JSON_KEY.match(line)
                if k:
                    keys[normalise(k.group(1))] = k.group(1)
    return names


def reachable(messages):
    order, seen, queue = [], set(), list(ROOT_KINDS)
    while queue:
        key = queue.pop(0)
        if key in seen or key in SPECIAL_TYPES:
            continue
        if key not in messages:
            sys.exit(f"gen-protobuf-schema: message {key} not found in k8s-pb")
        seen.add(key)
        order.append(key)
        for field in messages[key]:
            if field["wire"] == "message":
                queue.append(field["type"])
    return sorted(order)


def static_name(key):
    module, name = key
    prefix = module.replace("apimachinery.pkg.apis.", "").replace("apimachinery.pkg.", "")
    prefix = prefix.replace("api.", "", 1) if prefix.startswith("api.") else prefix
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", name)
    return (prefix.replace(".", "_") + "_" + snake).upper()


def is_inline(field, parent_names, messages):
    """Whether a field with no JSON key is a Go struct embedded with `json:",inline"`:
    an optional message whose own fields all appear among the parent's JSON keys."""
    if field["wire"] != "message" or field["label"] != "optional" or not parent_names:
        return False
    if field["type"] in SPECIAL_TYPES:
        return False
    return all(normalise(f["name"]) in parent_names for f in messages[field["type"]])


def camel_case(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def field_kind(field):
    if field["wire"] != "message":
        return SCALAR_KINDS[field["wire"]]
    special = SPECIAL_TYPES.get(field["type"])
    return special if special else f"Msg(&{static_name(field['type'])})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k8s-pb", default=None)
    parser.add_argument("--k8s-openapi", default=None)
    args = parser.parse_args()
    pb_root = args.k8s_pb or find_crate("k8s-pb", K8S_PB_VERSION)
    openapi_root = args.k8s_openapi or find_crate("k8s-openapi", K8S_OPENAPI_VERSION)

    messages, resources = parse_k8s_pb(pb_root)
    json_names = parse_k8s_openapi(openapi_root)
    keys = reachable(messages)

    out = []
    emit = out.append
    emit("//! The Kubernetes protobuf message table: GENERATED, do not edit.")
    emit("//!")
    emit(f"//! Generated by `scripts/gen-protobuf-schema.py` from k8s-pb {K8S_PB_VERSION} (tags, wire")
    emit(f"//! kinds) and k8s-openapi {K8S_OPENAPI_VERSION} (JSON names), for")
    emit("//! every message reachable from the kinds in `KINDS`. Regenerate with:")
    emit("//!")
    emit("//! ```text")
    emit("//! python3 scripts/gen-protobuf-schema.py > crates/skiff-api/src/protobuf/schema.rs")
    emit("//! rustfmt --edition 2021 crates/skiff-api/src/protobuf/schema.rs")
    emit("//! ```")
    emit("")
    emit("use super::types::{Field, FieldKind::*, Label::*, Message, TopLevelKind};")
    emit("")
    emit("/// The kinds a protobuf envelope may name; `api_version: None` matches any version.")
    emit("pub static KINDS: &[TopLevelKind] = &[")
    for key in ROOT_KINDS:
        if key in ANY_VERSION_KINDS:
            api_version = "None"
            kind = key[1]
        elif key in SUBRESOURCE_API_VERSIONS:
            api_version = f'Some("{SUBRESOURCE_API_VERSIONS[key]}")'
            kind = key[1]
        else:
            if key not in resources:
                sys.exit(f"gen-protobuf-schema: {key} has no Resource impl in k8s-pb")
            api_version, kind = resources[key]
            api_version = f'Some("{api_version}")'
        emit(
            f'    TopLevelKind {{ api_version: {api_version}, kind: "{kind}", '
            f"message: &{static_name(key)} }},"
        )
    emit("];")

    def names_of(key):
        return json_names.get((key[0], normalise(key[1])))

    # Messages only ever embedded inline (ProbeHandler, VolumeSource, ...) have no
    # k8s-openapi struct of their own: their JSON keys are the embedding struct's.
    for key in keys:
        parent_names = names_of(key)
        for field in messages[key]:
            if normalise(field["name"]) not in (parent_names or {}) and is_inline(
                field, parent_names, messages
            ):
                json_names.setdefault((field["type"][0], normalise(field["type"][1])), parent_names)

    unmatched = []
    for key in keys:
        module, name = key
        names = names_of(key)
        if names is None:
            unmatched.append(f"{module}.{name} (whole message)")
            names = {}
        emit("")
        emit(f"pub static {static_name(key)}: Message = Message {{")
        emit(f'    name: "k8s.io.{module}.{name}",')
        emit("    fields: &[")
        for field in sorted(messages[key], key=lambda f: f["tag"]):
            json_name = names.get(normalise(field["name"]))
            label = {"optional": "Optional", "repeated": "Repeated", "map": "Map"}[field["label"]]
            if json_name is None and is_inline(field, names, messages):
                json_name, label = camel_case(field["name"]), "Inline"
            elif json_name is None:
                json_name = camel_case(field["name"])
                if names:
                    unmatched.append(f"{module}.{name}.{field['name']} -> {json_name}")
            emit(f'        Field::new({field["tag"]}, "{json_name}", {label}, {field_kind(field)}),')
        emit("    ],")
        emit("};")

    for line in unmatched:
        print(f"gen-protobuf-schema: no k8s-openapi JSON name, guessed camelCase: {line}", file=sys.stderr)
    print(f"gen-protobuf-schema: {len(keys)} messages", file=sys.stderr)
    print("\n".join(out))


if __name__ == "__main__":
    main()
