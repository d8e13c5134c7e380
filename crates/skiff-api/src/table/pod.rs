//! Pod rows: printers.go `printPod`, the most involved printer. READY counts
//! ready containers; STATUS condenses phase, init progress and container
//! states into one word; RESTARTS says how often and how long ago.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::format::{age, field, int_at, list_at, or_none, parse_time, since, str_at};

/// `node.NodeUnreachablePodReason`: the node controller's reason for pods of a lost node.
const NODE_LOST: &str = "NodeLost";

/// printPod: NAME READY STATUS RESTARTS AGE, then the wide IP NODE NOMINATED-NODE READINESS-GATES.
pub(super) fn cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let summary = summarize(pod);
    let restarts = match summary.last_restart {
        Some(when) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, since(Some(when), now))
        }
        _ => summary.restarts.to_string(),
    };
    vec![
        Value::from(str_at(pod, "metadata.name")),
        Value::from(format!("{}/{}", summary.ready, summary.total)),
        Value::from(summary.reason),
        Value::from(restarts),
        age(pod, now),
        Value::from(or_none(pod_ip(pod))),
        Value::from(or_none(str_at(pod, "spec.nodeName"))),
        Value::from(or_none(str_at(pod, "status.nominatedNodeName"))),
        Value::from(readiness_gates(pod)),
    ]
}

/// The row conditions printPod attaches to finished pods, which lets clients
/// tell completed rows apart.
pub(super) fn row_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match str_at(pod, "status.phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

/// What printPod works out before laying out cells.
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<DateTime<Utc>>,
}

/// printPod's rules, in upstream's order: each later rule may override the
/// reason an earlier one chose.
fn summarize(pod: &Value) -> Summary {
    let init_specs = list_at(pod, "spec.initContainers");
    let is_sidecar = |name: &str| {
        // podutil.IsRestartableInitContainer: an init container that keeps running.
        init_specs
            .iter()
            .find(|c| str_at(c, "name") == name)
            .is_some_and(|c| str_at(c, "restartPolicy") == "Always")
    };
    let phase = str_at(pod, "status.phase");
    let mut summary = Summary {
        ready: 0,
        total: list_at(pod, "spec.containers").len()
            + init_specs
                .iter()
                .filter(|c| is_sidecar(str_at(c, "name")))
                .count(),
        reason: non_empty_or(str_at(pod, "status.reason"), phase).to_string(),
        restarts: 0,
        last_restart: None,
    };
    if list_at(pod, "status.conditions")
        .iter()
        .any(|c| str_at(c, "type") == "PodScheduled" && str_at(c, "reason") == "SchedulingGated")
    {
        summary.reason = "SchedulingGated".to_string();
    }

    // Init containers run in order: the first one not done yet explains the pod.
    let mut sidecar_restarts = 0;
    let mut sidecar_last_restart = None;
    let mut initializing = false;
    for (index, status) in list_at(pod, "status.initContainerStatuses")
        .iter()
        .enumerate()
    {
        summary.restarts += int_at(status, "restartCount");
        summary.last_restart = later(summary.last_restart, last_termination(status));
        let sidecar = is_sidecar(str_at(status, "name"));
        if sidecar {
            sidecar_restarts += int_at(status, "restartCount");
            sidecar_last_restart = later(sidecar_last_restart, last_termination(status));
        }
        let terminated = field(status, "state.terminated");
        let waiting_reason = str_at(status, "state.waiting.reason");
        if terminated.is_some_and(|t| int_at(t, "exitCode") == 0) {
            continue;
        }
        if sidecar && field(status, "started").and_then(Value::as_bool) == Some(true) {
            if field(status, "ready").and_then(Value::as_bool) == Some(true) {
                summary.ready += 1;
            }
            continue;
        }
        summary.reason = if let Some(terminated) = terminated {
            format!("Init:{}", termination_reason(terminated))
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{index}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || has_condition(pod, "Initialized") {
        // Only sidecars keep counting once the main containers run.
        summary.restarts = sidecar_restarts;
        summary.last_restart = sidecar_last_restart;
        let mut has_running = false;
        // Reverse order, so the first container's state has the last word.
        for status in list_at(pod, "status.containerStatuses").iter().rev() {
            summary.restarts += int_at(status, "restartCount");
            summary.last_restart = later(summary.last_restart, last_termination(status));
            let waiting_reason = str_at(status, "state.waiting.reason");
            if !waiting_reason.is_empty() {
                summary.reason = waiting_reason.to_string();
            } else if let Some(terminated) = field(status, "state.terminated") {
                summary.reason = termination_reason(terminated);
            } else if field(status, "ready").and_then(Value::as_bool) == Some(true)
                && field(status, "state.running").is_some()
            {
                has_running = true;
                summary.ready += 1;
            }
        }
        // A finished container next to a running one does not make the pod "Completed".
        if summary.reason == "Completed" && has_running {
            summary.reason = if has_condition(pod, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_string();
        }
    }

    let deleting = field(pod, "metadata.deletionTimestamp").is_some();
    if deleting && str_at(pod, "status.reason") == NODE_LOST {
        summary.reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        summary.reason = "Terminating".to_string();
    }
    summary
}

/// A terminated container's reason, else `Signal:N`, else `ExitCode:N`.
fn termination_reason(terminated: &Value) -> String {
    let reason = str_at(terminated, "reason");
    let signal = int_at(terminated, "signal");
    if !reason.is_empty() {
        reason.to_string()
    } else if signal != 0 {
        format!("Signal:{signal}")
    } else {
        format!("ExitCode:{}", int_at(terminated, "exitCode"))
    }
}

/// When the container's previous run ended, if it did.
fn last_termination(status: &Value) -> Option<DateTime<Utc>> {
    parse_time(field(status, "lastState.terminated.finishedAt"))
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

/// Whether the pod condition of this type is `True`.
fn has_condition(pod: &Value, type_: &str) -> bool {
    list_at(pod, "status.conditions")
        .iter()
        .find(|c| str_at(c, "type") == type_)
        .is_some_and(|c| str_at(c, "status") == "True")
}

fn non_empty_or<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    if value.is_empty() {
        fallback
    } else {
        value
    }
}

/// The primary pod IP; `status.podIP` when `podIPs` was not filled in (v1's
/// conversion fills one from the other).
fn pod_ip(pod: &Value) -> &str {
    match list_at(pod, "status.podIPs").first() {
        Some(first) => str_at(first, "ip"),
        None => str_at(pod, "status.podIP"),
    }
}

/// `true/total` readiness gates, `<none>` without any.
fn readiness_gates(pod: &Value) -> String {
    let gates = list_at(pod, "spec.readinessGates");
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let satisfied = gates
        .iter()
        .filter(|gate| has_condition(pod, str_at(gate, "conditionType")))
        .count();
    format!("{satisfied}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::table::test_support::now;

    fn pod(spec: Value, status: Value) -> Value {
        json!({"metadata": {"name": "web", "creationTimestamp": "2025-01-01T11:00:00Z"}, "spec": spec, "status": status})
    }

    fn one_container() -> Value {
        json!({"containers": [{"name": "app", "image": "nginx"}]})
    }

    /// READY and STATUS of a pod.
    fn ready_status(pod: &Value) -> (String, String) {
        let cells = cells(pod, now());
        (
            cells[1].as_str().unwrap().to_string(),
            cells[2].as_str().unwrap().to_string(),
        )
    }

    fn status_of(pod: &Value) -> String {
        ready_status(pod).1
    }

    fn running(ready: bool) -> Value {
        json!({"name": "app", "ready": ready, "restartCount": 0, "state": {"running": {"startedAt": "2025-01-01T11:00:00Z"}}})
    }

    #[test]
    fn should_print_a_running_pod() {
        let p = pod(
            one_container(),
            json!({"phase": "Running", "podIP": "10.42.0.5", "containerStatuses": [running(true)]}),
        );
        let cells = cells(&p, now());
        assert_eq!(
            cells[..5],
            [
                json!("web"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("60m")
            ]
        );
        assert_eq!(
            cells[5..],
            [
                json!("10.42.0.5"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn should_print_the_phase_of_a_pending_pod_without_statuses() {
        let (ready, status) = ready_status(&pod(one_container(), json!({"phase": "Pending"})));
        assert_eq!((ready.as_str(), status.as_str()), ("0/1", "Pending"));
    }

    #[test]
    fn should_print_the_waiting_reason() {
        for reason in ["ContainerCreating", "ErrImageNeverPull", "CrashLoopBackOff"] {
            let status = json!({"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": reason}}}
            ]});
            assert_eq!(status_of(&pod(one_container(), status)), reason);
        }
    }

    #[test]
    fn should_print_terminated_reason_signal_or_exit_code() {
        let terminated = |t: Value| {
            let status = json!({"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": t}}
            ]});
            status_of(&pod(one_container(), status))
        };
        assert_eq!(
            terminated(json!({"exitCode": 137, "reason": "OOMKilled"})),
            "OOMKilled"
        );
        assert_eq!(
            terminated(json!({"exitCode": 143, "signal": 15})),
            "Signal:15"
        );
        assert_eq!(terminated(json!({"exitCode": 3})), "ExitCode:3");
        let done = json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]});
        assert_eq!(status_of(&pod(one_container(), done)), "Completed");
    }

    #[test]
    fn should_print_init_container_progress_and_failures() {
        let spec = json!({"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]});
        let init = |state: Value| {
            let status = json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "init", "ready": false, "restartCount": 0, "state": state}
            ]});
            status_of(&pod(spec.clone(), status))
        };
        assert_eq!(init(json!({"running": {}})), "Init:0/1");
        assert_eq!(
            init(json!({"waiting": {"reason": "PodInitializing"}})),
            "Init:0/1"
        );
        assert_eq!(
            init(json!({"waiting": {"reason": "CrashLoopBackOff"}})),
            "Init:CrashLoopBackOff"
        );
        assert_eq!(
            init(json!({"terminated": {"exitCode": 1, "reason": "Error"}})),
            "Init:Error"
        );
        assert_eq!(
            init(json!({"terminated": {"exitCode": 2}})),
            "Init:ExitCode:2"
        );
        assert_eq!(
            init(json!({"terminated": {"exitCode": 0, "reason": "Completed"}})),
            "Pending"
        );
    }

    #[test]
    fn should_count_a_started_sidecar_as_a_ready_container() {
        let spec = json!({"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]});
        let status = json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 2, "state": {"running": {}}}],
            "containerStatuses": [running(true)]});
        let p = pod(spec, status);
        assert_eq!(ready_status(&p), ("2/2".to_string(), "Running".to_string()));
        assert_eq!(cells(&p, now())[3], "2");
    }

    #[test]
    fn should_print_not_ready_when_a_completed_container_runs_beside_an_unready_pod() {
        let spec = json!({"containers": [{"name": "job"}, {"name": "app"}]});
        let status = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {"name": "job", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            running(true)
        ]});
        assert_eq!(status_of(&pod(spec.clone(), status.clone())), "NotReady");
        let mut ready = status;
        ready["conditions"][0]["status"] = json!("True");
        assert_eq!(status_of(&pod(spec, ready)), "Running");
    }

    #[test]
    fn should_print_terminating_or_unknown_while_deleting() {
        let mut p = pod(
            one_container(),
            json!({"phase": "Running", "containerStatuses": [running(true)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!("2025-01-01T11:59:00Z");
        assert_eq!(status_of(&p), "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(status_of(&p), "Unknown");
        let mut finished = pod(one_container(), json!({"phase": "Succeeded"}));
        finished["metadata"]["deletionTimestamp"] = json!("2025-01-01T11:59:00Z");
        assert_eq!(status_of(&finished), "Succeeded");
    }

    #[test]
    fn should_print_scheduling_gated_and_evicted_reasons() {
        let gated = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]});
        assert_eq!(status_of(&pod(one_container(), gated)), "SchedulingGated");
        assert_eq!(
            status_of(&pod(
                one_container(),
                json!({"phase": "Failed", "reason": "Evicted"})
            )),
            "Evicted"
        );
    }

    #[test]
    fn should_print_restarts_with_the_time_of_the_last_one() {
        let finished = (now() - Duration::minutes(5)).to_rfc3339();
        let status = json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 3, "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": finished}}}
        ]});
        assert_eq!(cells(&pod(one_container(), status), now())[3], "3 (5m ago)");
        let unknown_time = json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 2, "state": {"running": {}}}
        ]});
        assert_eq!(cells(&pod(one_container(), unknown_time), now())[3], "2");
    }

    #[test]
    fn should_print_wide_ip_node_and_readiness_gates() {
        let spec = json!({"nodeName": "n1", "containers": [{"name": "app"}],
            "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]});
        let status = json!({"phase": "Running", "podIPs": [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}],
            "nominatedNodeName": "n2",
            "conditions": [{"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}]});
        let cells = cells(&pod(spec, status), now());
        assert_eq!(
            cells[5..],
            [json!("10.42.0.7"), json!("n1"), json!("n2"), json!("1/2")]
        );
    }

    #[test]
    fn should_mark_finished_pods_with_a_completed_row_condition() {
        let done = row_conditions(&pod(one_container(), json!({"phase": "Succeeded"}))).unwrap();
        assert_eq!(done[0]["reason"], "Succeeded");
        assert_eq!(done[0]["type"], "Completed");
        assert!(row_conditions(&pod(one_container(), json!({"phase": "Running"}))).is_none());
    }
}
