//! Workload rows: printers.go `printDeployment`, `printReplicaSet`,
//! `printStatefulSet`, `printDaemonSet`, `printJob` and `printCronJob`.
//!
//! All of them end in the same wide columns, CONTAINERS IMAGES and (except
//! StatefulSet) SELECTOR, read from their pod template by [`template_cells`].

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::format::{
    age, field, format_label_selector, format_labels, human_duration, int_at, int_or,
    label_selector_string, layout_container_cells, len_at, list_at, name_cell, parse_time, since,
    str_at,
};

/// How a kind prints its wide SELECTOR column; upstream is not uniform.
enum SelectorCell<'a> {
    /// `metav1.FormatLabelSelector` of the selector at this path: `<none>`
    /// when it is empty, `<error>` when malformed.
    Formatted(&'a str),
    /// printDeployment's own rendering of the selector at this path: `""`
    /// when it is empty, `<invalid>` when malformed.
    Deployment(&'a str),
    /// No SELECTOR column at all (StatefulSet).
    Absent,
}

/// The wide CONTAINERS, IMAGES and SELECTOR cells of a workload whose pod
/// spec sits at `pod_spec` (e.g. `spec.template.spec`).
fn template_cells(obj: &Value, pod_spec: &str, selector: SelectorCell) -> Vec<Value> {
    let (names, images) = layout_container_cells(list_at(obj, &format!("{pod_spec}.containers")));
    let mut cells = vec![Value::from(names), Value::from(images)];
    match selector {
        SelectorCell::Formatted(path) => {
            cells.push(Value::from(format_label_selector(field(obj, path))))
        }
        SelectorCell::Deployment(path) => {
            let text = label_selector_string(field(obj, path))
                .unwrap_or_else(|()| "<invalid>".to_string());
            cells.push(Value::from(text));
        }
        SelectorCell::Absent => {}
    }
    cells
}

/// `ready/desired`, as Deployment and StatefulSet print READY. A missing
/// `spec.replicas` reads as its default, 1.
fn ready_of_desired(obj: &Value) -> Value {
    Value::from(format!(
        "{}/{}",
        int_at(obj, "status.readyReplicas"),
        int_or(obj, "spec.replicas", 1)
    ))
}

/// NAME READY UP-TO-DATE AVAILABLE AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn deployment(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut cells = vec![
        name_cell(obj),
        ready_of_desired(obj),
        Value::from(int_at(obj, "status.updatedReplicas")),
        Value::from(int_at(obj, "status.availableReplicas")),
        age(obj, now),
    ];
    cells.extend(template_cells(
        obj,
        "spec.template.spec",
        SelectorCell::Deployment("spec.selector"),
    ));
    cells
}

/// NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn replica_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut cells = vec![
        name_cell(obj),
        Value::from(int_or(obj, "spec.replicas", 1)),
        Value::from(int_at(obj, "status.replicas")),
        Value::from(int_at(obj, "status.readyReplicas")),
        age(obj, now),
    ];
    cells.extend(template_cells(
        obj,
        "spec.template.spec",
        SelectorCell::Formatted("spec.selector"),
    ));
    cells
}

/// NAME READY AGE | CONTAINERS IMAGES.
pub(super) fn stateful_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut cells = vec![name_cell(obj), ready_of_desired(obj), age(obj, now)];
    cells.extend(template_cells(
        obj,
        "spec.template.spec",
        SelectorCell::Absent,
    ));
    cells
}

/// NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE-SELECTOR AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn daemon_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut cells = vec![
        name_cell(obj),
        Value::from(int_at(obj, "status.desiredNumberScheduled")),
        Value::from(int_at(obj, "status.currentNumberScheduled")),
        Value::from(int_at(obj, "status.numberReady")),
        Value::from(int_at(obj, "status.updatedNumberScheduled")),
        Value::from(int_at(obj, "status.numberAvailable")),
        Value::from(format_labels(field(obj, "spec.template.spec.nodeSelector"))),
        age(obj, now),
    ];
    cells.extend(template_cells(
        obj,
        "spec.template.spec",
        SelectorCell::Formatted("spec.selector"),
    ));
    cells
}

/// NAME STATUS COMPLETIONS DURATION AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = int_at(obj, "status.succeeded");
    let completions = match field(obj, "spec.completions").and_then(Value::as_i64) {
        Some(completions) => format!("{succeeded}/{completions}"),
        // A job without completions is done after one success, however many pods run at once.
        None => match int_at(obj, "spec.parallelism") {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        parse_time(field(obj, "status.startTime")),
        parse_time(field(obj, "status.completionTime")),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let mut cells = vec![
        name_cell(obj),
        Value::from(job_status(obj)),
        Value::from(completions),
        Value::from(duration),
        age(obj, now),
    ];
    cells.extend(template_cells(
        obj,
        "spec.template.spec",
        SelectorCell::Formatted("spec.selector"),
    ));
    cells
}

/// printJob's STATUS: the first of these that holds.
fn job_status(job: &Value) -> &'static str {
    // hasJobCondition: the first condition of the type decides.
    let has = |type_: &str| {
        list_at(job, "status.conditions")
            .iter()
            .find(|c| str_at(c, "type") == type_)
            .is_some_and(|c| str_at(c, "status") == "True")
    };
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if field(job, "metadata.deletionTimestamp").is_some() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

/// NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST-SCHEDULE AGE | CONTAINERS IMAGES SELECTOR.
pub(super) fn cron_job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let last_schedule = match field(obj, "status.lastScheduleTime") {
        Some(time) => since(parse_time(Some(time)), now),
        None => "<none>".to_string(),
    };
    let time_zone = field(obj, "spec.timeZone")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    // printBoolPtr: the column is typed boolean, but the cell is text.
    let suspend = match field(obj, "spec.suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let mut cells = vec![
        name_cell(obj),
        Value::from(str_at(obj, "spec.schedule")),
        Value::from(time_zone),
        Value::from(suspend),
        Value::from(len_at(obj, "status.active")),
        Value::from(last_schedule),
        age(obj, now),
    ];
    cells.extend(template_cells(
        obj,
        "spec.jobTemplate.spec.template.spec",
        SelectorCell::Formatted("spec.jobTemplate.spec.selector"),
    ));
    cells
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::test_support::now;

    fn template(containers: Value) -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}})
    }

    fn two_containers() -> Value {
        json!([{"name": "app", "image": "nginx:1.27"}, {"name": "sidecar", "image": "busybox"}])
    }

    #[test]
    fn should_print_deployment_ready_as_ready_of_desired() {
        let deployment_obj = json!({
            "metadata": {"name": "web", "creationTimestamp": "2025-01-01T11:58:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template(two_containers())},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
        });
        assert_eq!(
            deployment(&deployment_obj, now()),
            [
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("2m"),
                json!("app,sidecar"),
                json!("nginx:1.27,busybox"),
                json!("app=web")
            ]
        );
    }

    #[test]
    fn should_print_a_fresh_deployment_with_zero_ready_and_an_empty_selector() {
        let fresh = json!({"metadata": {"name": "web"}, "spec": {"replicas": 1, "selector": {}, "template": template(json!([]))}});
        let cells = deployment(&fresh, now());
        assert_eq!(cells[1], "0/1");
        assert_eq!(cells[7], "");
    }

    #[test]
    fn should_print_replica_set_and_stateful_set_counts() {
        let rs = json!({"metadata": {"name": "web-5d4f"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": template(two_containers())}, "status": {"replicas": 2, "readyReplicas": 1}});
        assert_eq!(
            replica_set(&rs, now())[1..4],
            [json!(2), json!(2), json!(1)]
        );
        assert_eq!(replica_set(&rs, now())[7], "app=web");
        let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3, "template": template(two_containers())},
            "status": {"readyReplicas": 3}});
        let cells = stateful_set(&sts, now());
        assert_eq!(cells.len(), 5);
        assert_eq!(cells[1], "3/3");
    }

    #[test]
    fn should_print_daemon_set_node_selector() {
        let ds = json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": two_containers()}}},
            "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 1}});
        let cells = daemon_set(&ds, now());
        assert_eq!(
            cells[1..7],
            [
                json!(2),
                json!(2),
                json!(1),
                json!(2),
                json!(1),
                json!("kubernetes.io/os=linux")
            ]
        );
        assert_eq!(cells[10], "app=agent");
    }

    #[test]
    fn should_print_job_status_completions_and_duration() {
        let running = json!({"metadata": {"name": "pi"}, "spec": {"completions": 3, "template": template(two_containers())},
            "status": {"succeeded": 1, "startTime": "2025-01-01T11:57:00Z"}});
        assert_eq!(
            job(&running, now())[1..4],
            [json!("Running"), json!("1/3"), json!("3m")]
        );

        let complete = json!({"metadata": {"name": "pi"}, "spec": {"completions": 1},
            "status": {"succeeded": 1, "startTime": "2025-01-01T11:00:00Z", "completionTime": "2025-01-01T11:00:42Z",
                "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
        assert_eq!(
            job(&complete, now())[1..4],
            [json!("Complete"), json!("1/1"), json!("42s")]
        );

        let parallel = json!({"metadata": {"name": "w"}, "spec": {"parallelism": 4}, "status": {}});
        assert_eq!(job(&parallel, now())[2..4], [json!("0/1 of 4"), json!("")]);

        let suspended = json!({"metadata": {"name": "s"}, "spec": {"completions": 1},
            "status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
        assert_eq!(job(&suspended, now())[1], "Suspended");
        let failed = json!({"metadata": {"name": "f"}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert_eq!(job(&failed, now())[1], "Failed");
    }

    #[test]
    fn should_print_cron_job_schedule_and_last_run() {
        let cj = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *", "suspend": false,
            "jobTemplate": {"spec": {"template": template(two_containers())}}},
            "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": "2025-01-01T11:00:00Z"}});
        let cells = cron_job(&cj, now());
        assert_eq!(
            cells[1..6],
            [
                json!("0 3 * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("60m")
            ]
        );
        assert_eq!(
            cells[7..],
            [
                json!("app,sidecar"),
                json!("nginx:1.27,busybox"),
                json!("<none>")
            ]
        );
    }
}
