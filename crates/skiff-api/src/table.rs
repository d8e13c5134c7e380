//! Server-side printing for `kubectl get`: the `meta.k8s.io/v1` `Table` the
//! kube-apiserver answers with when a client sends
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! The model is `k8s.io/kubernetes/pkg/printers/internalversion/printers.go`:
//! the same columns (names, types, formats, descriptions, `priority: 1` for the
//! `-o wide` ones) and the same cell texts, kind by kind. The printers live in
//! submodules grouped by area; this module holds the public API and the Table
//! envelope.
//!
//! Like the apiserver's TableConvertor, every row carries every cell, wide ones
//! included: kubectl itself hides the `priority` > 0 columns unless asked for
//! `-o wide`.
//!
//! Watches (`kubectl get -w` with the Table media type): every event's object
//! is a Table holding one row. Only the first event of a stream carries the
//! column definitions; later events have `"columnDefinitions": null` (upstream
//! sets `NoHeaders` after the first). [`watch_table`] builds those objects.

mod cluster;
mod columns;
mod event;
mod format;
mod network;
mod pod;
#[cfg(test)]
mod test_support;
mod workloads;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::registry::{self, Kind};

pub use format::human_duration;

/// One `TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Upstream's spelling, e.g. `Name`, `Cluster-IP`; kubectl upper-cases it.
    pub name: &'static str,
    /// An OpenAPI type: `string`, `integer`, `boolean`, ...
    pub type_: &'static str,
    /// `name` for the column holding the object's name, `""` otherwise.
    pub format: &'static str,
    pub description: &'static str,
    /// 0 for default columns, 1 for those only `-o wide` shows.
    pub priority: i32,
}

impl Column {
    /// The column as it appears in `columnDefinitions`; every field is always present.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The columns of a kind, default and wide alike, in row-cell order.
pub fn columns(kind: Kind) -> &'static [Column] {
    columns::of(kind)
}

/// The cells of an object's row, one per entry of [`columns`], as JSON strings,
/// integers or booleans. `now` is the reference time for AGE-like cells.
pub fn row_cells(kind: Kind, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match kind {
        Kind::Namespace => cluster::namespace(obj, now),
        Kind::Pod => pod::cells(obj, now),
        Kind::Service => network::service(obj, now),
        Kind::Endpoints => network::endpoints(obj, now),
        Kind::ConfigMap => cluster::config_map(obj, now),
        Kind::Secret => cluster::secret(obj, now),
        Kind::Node => cluster::node(obj, now),
        Kind::Event => event::core(obj, now),
        Kind::EventsV1Event => event::events_v1(obj, now),
        Kind::ServiceAccount => cluster::service_account(obj, now),
        Kind::Deployment => workloads::deployment(obj, now),
        Kind::ReplicaSet => workloads::replica_set(obj, now),
        Kind::StatefulSet => workloads::stateful_set(obj, now),
        Kind::DaemonSet => workloads::daemon_set(obj, now),
        Kind::Job => workloads::job(obj, now),
        Kind::CronJob => workloads::cron_job(obj, now),
        Kind::Ingress => network::ingress(obj, now),
        Kind::IngressClass => network::ingress_class(obj, now),
        Kind::EndpointSlice => network::endpoint_slice(obj, now),
        Kind::Lease => cluster::lease(obj, now),
    }
}

/// What each row's `object` holds: the `includeObject` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `"object": null`.
    None,
    /// A `PartialObjectMetadata` with the object's metadata; the default, and
    /// what kubectl reads namespaces and labels from.
    #[default]
    Metadata,
    /// The whole object; kubectl asks for it when sorting (`--sort-by`).
    Object,
}

impl IncludeObject {
    /// Parses `?includeObject=`; absent or empty means [`IncludeObject::Metadata`].
    /// The error is the text of upstream's 400 Bad Request (ValidateTableOptions).
    pub fn from_query(value: Option<&str>) -> Result<Self, String> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(format!(
                "includeObject: Invalid value: {other:?}: must be 'Metadata', 'Object', 'None', or empty"
            )),
        }
    }
}

/// The Table answering a list (or, with one object, a get): column definitions
/// and one row per object. `resource_version` and `continue_token` fill the
/// list metadata and are left out when empty, as `ListMeta` omits them.
pub fn table(
    kind: Kind,
    objects: &[Value],
    now: DateTime<Utc>,
    include_object: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    envelope(
        kind,
        objects,
        now,
        include_object,
        resource_version,
        continue_token,
        true,
    )
}

/// The Table a watch event carries: one row for `object`, with column
/// definitions only when `include_columns` (the stream's first event) and
/// `"columnDefinitions": null` otherwise. Its resourceVersion is the object's,
/// as upstream takes it from the printed object.
pub fn watch_table(
    kind: Kind,
    object: &Value,
    now: DateTime<Utc>,
    include_object: IncludeObject,
    include_columns: bool,
) -> Value {
    let resource_version = crate::object::meta_str(object, "resourceVersion").unwrap_or("");
    envelope(
        kind,
        std::slice::from_ref(object),
        now,
        include_object,
        resource_version,
        None,
        include_columns,
    )
}

fn envelope(
    kind: Kind,
    objects: &[Value],
    now: DateTime<Utc>,
    include_object: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
    include_columns: bool,
) -> Value {
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".to_string(), Value::from(resource_version));
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".to_string(), Value::from(token));
    }
    let column_definitions = if include_columns {
        Value::Array(columns(kind).iter().map(Column::to_json).collect())
    } else {
        Value::Null
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| row(kind, obj, now, include_object))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// One `TableRow`: cells, the object as asked for, and `conditions` when the
/// printer sets any (finished pods).
fn row(kind: Kind, obj: &Value, now: DateTime<Utc>, include_object: IncludeObject) -> Value {
    let mut row = Map::new();
    row.insert("cells".to_string(), Value::Array(row_cells(kind, obj, now)));
    if let Some(conditions) = (kind == Kind::Pod)
        .then(|| pod::row_conditions(obj))
        .flatten()
    {
        row.insert("conditions".to_string(), conditions);
    }
    row.insert(
        "object".to_string(),
        embedded_object(kind, obj, include_object),
    );
    Value::Object(row)
}

fn embedded_object(kind: Kind, obj: &Value, include_object: IncludeObject) -> Value {
    match include_object {
        IncludeObject::None => Value::Null,
        // meta.AsPartialObjectMetadata keeps the whole ObjectMeta.
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        // Upstream converts the object to the request's version, which sets its type fields.
        IncludeObject::Object => {
            let mut full = obj.clone();
            if let Value::Object(map) = &mut full {
                let resource = registry::of(kind);
                map.entry("apiVersion")
                    .or_insert_with(|| Value::from(resource.api_version()));
                map.entry("kind")
                    .or_insert_with(|| Value::from(resource.kind_name));
            }
            full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::test_support::now;

    fn pod(name: &str) -> Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "resourceVersion": "42", "labels": {"app": "web"},
                "creationTimestamp": "2025-01-01T11:59:00Z"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": {"phase": "Running"}
        })
    }

    #[test]
    fn should_give_every_kind_one_cell_per_column() {
        for resource in registry::RESOURCES {
            let cells = row_cells(resource.kind, &json!({"metadata": {"name": "x"}}), now());
            assert_eq!(
                cells.len(),
                columns(resource.kind).len(),
                "{:?}",
                resource.kind
            );
        }
    }

    #[test]
    fn should_give_every_kind_one_name_column_formatted_as_name() {
        for resource in registry::RESOURCES {
            let names: Vec<&Column> = columns(resource.kind)
                .iter()
                .filter(|c| c.format == "name")
                .collect();
            assert_eq!(names.len(), 1, "{:?}", resource.kind);
            assert_eq!(names[0].name, "Name");
        }
    }

    #[test]
    fn should_mark_wide_columns_with_priority_one() {
        let wide = |kind| -> Vec<&str> {
            columns(kind)
                .iter()
                .filter(|c| c.priority == 1)
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(
            wide(Kind::Pod),
            ["IP", "Node", "Nominated Node", "Readiness Gates"]
        );
        assert_eq!(wide(Kind::Service), ["Selector"]);
        for kind in [
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::DaemonSet,
            Kind::Job,
            Kind::CronJob,
        ] {
            assert_eq!(wide(kind), ["Containers", "Images", "Selector"], "{kind:?}");
        }
        assert_eq!(wide(Kind::StatefulSet), ["Containers", "Images"]);
        assert_eq!(
            wide(Kind::Node),
            [
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
        assert_eq!(
            wide(Kind::Event),
            ["Subobject", "Source", "First Seen", "Count", "Name"]
        );
        assert!(wide(Kind::ConfigMap).is_empty());
    }

    #[test]
    fn should_list_default_columns_as_kubectl_shows_them() {
        let default = |kind| -> Vec<String> {
            columns(kind)
                .iter()
                .filter(|c| c.priority == 0)
                .map(|c| c.name.to_uppercase())
                .collect()
        };
        assert_eq!(
            default(Kind::Pod),
            ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        );
        assert_eq!(
            default(Kind::Service),
            [
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE"
            ]
        );
        assert_eq!(
            default(Kind::Deployment),
            ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        );
        assert_eq!(
            default(Kind::Job),
            ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
        );
        assert_eq!(
            default(Kind::CronJob),
            [
                "NAME",
                "SCHEDULE",
                "TIMEZONE",
                "SUSPEND",
                "ACTIVE",
                "LAST SCHEDULE",
                "AGE"
            ]
        );
        assert_eq!(
            default(Kind::EventsV1Event),
            ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        );
    }

    #[test]
    fn should_build_a_table_with_partial_object_metadata_rows() {
        let table = table(
            Kind::Pod,
            &[pod("a"), pod("b")],
            now(),
            IncludeObject::Metadata,
            "100",
            Some("next"),
        );
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            table["metadata"],
            json!({"resourceVersion": "100", "continue": "next"})
        );
        let definitions = table["columnDefinitions"].as_array().unwrap();
        assert_eq!(definitions.len(), 9);
        assert_eq!(definitions[0]["name"], "Name");
        assert_eq!(definitions[0]["format"], "name");
        assert_eq!(
            definitions[1],
            json!({"name": "Ready", "type": "string", "format": "",
            "description": "The aggregate readiness state of this pod for accepting traffic.", "priority": 0})
        );
        let rows = table["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0]["cells"].as_array().unwrap()[..5],
            [
                json!("a"),
                json!("0/1"),
                json!("Running"),
                json!("0"),
                json!("60s")
            ]
        );
        assert_eq!(rows[1]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(rows[1]["object"]["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(rows[1]["object"]["metadata"], pod("b")["metadata"]);
        assert!(rows[1]["object"].get("spec").is_none());
        assert!(rows[1].get("conditions").is_none());
    }

    #[test]
    fn should_embed_full_objects_or_nothing_as_asked() {
        let full = table(
            Kind::Pod,
            &[pod("a")],
            now(),
            IncludeObject::Object,
            "",
            None,
        );
        assert_eq!(full["metadata"], json!({}));
        let object = &full["rows"][0]["object"];
        assert_eq!(
            (object["apiVersion"].as_str(), object["kind"].as_str()),
            (Some("v1"), Some("Pod"))
        );
        assert_eq!(object["spec"], pod("a")["spec"]);
        let bare = table(
            Kind::Pod,
            &[pod("a")],
            now(),
            IncludeObject::None,
            "1",
            None,
        );
        assert_eq!(bare["rows"][0]["object"], Value::Null);
    }

    #[test]
    fn should_answer_an_empty_list_with_no_rows() {
        let empty = table(
            Kind::Deployment,
            &[],
            now(),
            IncludeObject::Metadata,
            "7",
            None,
        );
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["columnDefinitions"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn should_carry_columns_only_on_the_first_watch_event() {
        let first = watch_table(Kind::Pod, &pod("a"), now(), IncludeObject::Metadata, true);
        assert_eq!(first["columnDefinitions"].as_array().unwrap().len(), 9);
        assert_eq!(first["metadata"]["resourceVersion"], "42");
        assert_eq!(first["rows"].as_array().unwrap().len(), 1);
        let later = watch_table(Kind::Pod, &pod("a"), now(), IncludeObject::Metadata, false);
        assert_eq!(later["columnDefinitions"], Value::Null);
        assert_eq!(later["rows"][0]["cells"][0], "a");
    }

    #[test]
    fn should_attach_a_completed_condition_to_finished_pod_rows() {
        let mut done = pod("done");
        done["status"]["phase"] = json!("Succeeded");
        let table = table(Kind::Pod, &[done], now(), IncludeObject::None, "", None);
        assert_eq!(table["rows"][0]["conditions"][0]["type"], "Completed");
    }

    #[test]
    fn should_parse_include_object() {
        assert_eq!(IncludeObject::from_query(None), Ok(IncludeObject::Metadata));
        assert_eq!(
            IncludeObject::from_query(Some("")),
            Ok(IncludeObject::Metadata)
        );
        assert_eq!(
            IncludeObject::from_query(Some("Object")),
            Ok(IncludeObject::Object)
        );
        assert_eq!(
            IncludeObject::from_query(Some("None")),
            Ok(IncludeObject::None)
        );
        assert!(IncludeObject::from_query(Some("object")).is_err());
    }
}
