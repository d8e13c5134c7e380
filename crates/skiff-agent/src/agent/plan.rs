//! The pure heart of pod sync: what to do next for one pod, given what the
//! runtime shows, and which phase the pod is in. No I/O; unit-tested.
//!
//! Modelled on the kubelet's `computePodActions`: the sandbox first, then init
//! containers one at a time in order (each must exit 0 before the next starts),
//! then every app container; exited containers restart per `restartPolicy`
//! (Always; OnFailure on a non-zero exit; Never), after a CrashLoopBackOff delay
//! of 10 s doubling to 5 min. A pod being deleted is stopped and torn down.

use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;

/// What the runtime shows for one container of the pod (its latest instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Never created (or its image is missing).
    Absent,
    /// Created or running.
    Running,
    /// Its process ended; `restarts` is how many times it was restarted before.
    Exited {
        code: i32,
        finished_at: DateTime<Utc>,
        restarts: u32,
    },
}

/// The runtime's view of a pod: its sandbox and each container by spec order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPod {
    pub sandbox: bool,
    pub init: Vec<Observed>,
    pub containers: Vec<Observed>,
}

/// One step for the syncer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateSandbox,
    /// Start (or restart, replacing the exited instance) a container.
    StartContainer {
        name: String,
        init: bool,
    },
    /// Stop every container (SIGTERM, then SIGKILL after the grace period) and remove them.
    StopContainers,
    TeardownSandbox,
    /// Remove the pod object: `gracePeriodSeconds: 0` with a uid precondition.
    DeletePod,
}

/// The kubelet's CrashLoopBackOff: 10 s, doubling per restart, at most 5 min.
pub fn restart_backoff(restarts: u32) -> Duration {
    let seconds = 10u64.saturating_mul(1u64 << restarts.min(5));
    Duration::from_secs(seconds.min(300))
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn should_restart(policy: &str, code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => code != 0,
        _ => true,
    }
}

fn backoff_elapsed(finished_at: DateTime<Utc>, restarts: u32, now: DateTime<Utc>) -> bool {
    let waited = (now - finished_at).to_std().unwrap_or_default();
    waited >= restart_backoff(restarts)
}

/// Whether `deletionTimestamp` is set.
pub fn is_deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The next actions for `pod`, in order.
pub fn plan(pod: &Pod, observed: &ObservedPod, now: DateTime<Utc>) -> Vec<Action> {
    if is_deleting(pod) {
        return vec![
            Action::StopContainers,
            Action::TeardownSandbox,
            Action::DeletePod,
        ];
    }
    if matches!(pod_phase(pod, observed), "Succeeded" | "Failed") {
        return Vec::new();
    }
    let mut actions = Vec::new();
    if !observed.sandbox {
        actions.push(Action::CreateSandbox);
    }
    let spec = match pod.spec.as_ref() {
        Some(spec) => spec,
        None => return actions,
    };
    let policy = restart_policy(pod);
    // Init containers: one at a time, in order. Init containers restart on failure
    // unless the pod's policy is Never (the kubelet treats Always as OnFailure here).
    let init_policy = if policy == "Never" {
        "Never"
    } else {
        "OnFailure"
    };
    for (index, container) in spec.init_containers.iter().flatten().enumerate() {
        let start = || Action::StartContainer {
            name: container.name.clone(),
            init: true,
        };
        match observed
            .init
            .get(index)
            .copied()
            .unwrap_or(Observed::Absent)
        {
            Observed::Absent => {
                actions.push(start());
                return actions;
            }
            Observed::Running => return actions,
            Observed::Exited { code: 0, .. } => continue,
            Observed::Exited {
                code,
                finished_at,
                restarts,
            } => {
                if should_restart(init_policy, code) && backoff_elapsed(finished_at, restarts, now)
                {
                    actions.push(start());
                }
                return actions;
            }
        }
    }
    for (index, container) in spec.containers.iter().enumerate() {
        let start = Action::StartContainer {
            name: container.name.clone(),
            init: false,
        };
        match observed
            .containers
            .get(index)
            .copied()
            .unwrap_or(Observed::Absent)
        {
            Observed::Absent => actions.push(start),
            Observed::Running => {}
            Observed::Exited {
                code,
                finished_at,
                restarts,
            } => {
                if should_restart(policy, code) && backoff_elapsed(finished_at, restarts, now) {
                    actions.push(start);
                }
            }
        }
    }
    actions
}

/// Whether every init container has exited 0.
pub fn initialized(observed: &ObservedPod) -> bool {
    observed
        .init
        .iter()
        .all(|o| matches!(o, Observed::Exited { code: 0, .. }))
}

/// The pod's phase, as the kubelet's `getPhase` computes it.
pub fn pod_phase(pod: &Pod, observed: &ObservedPod) -> &'static str {
    let policy = restart_policy(pod);
    let init_failed_for_good = policy == "Never"
        && observed
            .init
            .iter()
            .any(|o| matches!(o, Observed::Exited { code, .. } if *code != 0));
    if init_failed_for_good {
        return "Failed";
    }
    if !initialized(observed) || observed.containers.is_empty() {
        return "Pending";
    }
    let (mut running, mut absent, mut succeeded, mut failed) = (0, 0, 0, 0);
    for o in &observed.containers {
        match o {
            Observed::Absent => absent += 1,
            Observed::Running => running += 1,
            Observed::Exited { code: 0, .. } => succeeded += 1,
            Observed::Exited { .. } => failed += 1,
        }
    }
    if absent > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    // Everything has exited.
    match policy {
        "Always" => "Running",
        "OnFailure" if failed > 0 => "Running",
        _ if failed > 0 => "Failed",
        _ => {
            let _ = succeeded;
            "Succeeded"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn pod(init: &[&str], containers: &[&str], policy: &str) -> Pod {
        let named = |names: &[&str]| {
            names
                .iter()
                .map(|n| Container {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        Pod {
            spec: Some(PodSpec {
                init_containers: Some(named(init)),
                containers: named(containers),
                restart_policy: Some(policy.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn observed(sandbox: bool, init: &[Observed], containers: &[Observed]) -> ObservedPod {
        ObservedPod {
            sandbox,
            init: init.to_vec(),
            containers: containers.to_vec(),
        }
    }

    fn exited(code: i32, seconds_ago: i64, restarts: u32) -> Observed {
        Observed::Exited {
            code,
            finished_at: Utc::now() - chrono::Duration::seconds(seconds_ago),
            restarts,
        }
    }

    fn start(name: &str, init: bool) -> Action {
        Action::StartContainer {
            name: name.into(),
            init,
        }
    }

    #[test]
    fn should_create_the_sandbox_then_the_first_init_container_only() {
        let pod = pod(&["i1", "i2"], &["app"], "Always");
        let seen = observed(false, &[Observed::Absent, Observed::Absent], &[]);
        assert_eq!(
            plan(&pod, &seen, Utc::now()),
            vec![Action::CreateSandbox, start("i1", true)]
        );
        assert_eq!(pod_phase(&pod, &seen), "Pending");
    }

    #[test]
    fn should_wait_for_a_running_init_container_then_run_the_next() {
        let pod = pod(&["i1", "i2"], &["app"], "Always");
        let running = observed(true, &[Observed::Running, Observed::Absent], &[]);
        assert_eq!(plan(&pod, &running, Utc::now()), vec![]);
        let done = observed(true, &[exited(0, 1, 0), Observed::Absent], &[]);
        assert_eq!(plan(&pod, &done, Utc::now()), vec![start("i2", true)]);
    }

    #[test]
    fn should_start_every_app_container_once_initialized() {
        let pod = pod(&["i1"], &["a", "b"], "Always");
        let seen = observed(
            true,
            &[exited(0, 1, 0)],
            &[Observed::Absent, Observed::Absent],
        );
        assert_eq!(
            plan(&pod, &seen, Utc::now()),
            vec![start("a", false), start("b", false)]
        );
    }

    #[test]
    fn should_restart_per_policy_after_the_backoff() {
        let failed_long_ago = exited(1, 60, 0);
        let succeeded_long_ago = exited(0, 60, 0);
        for (policy, state, restarts) in [
            ("Always", failed_long_ago, true),
            ("Always", succeeded_long_ago, true),
            ("OnFailure", failed_long_ago, true),
            ("OnFailure", succeeded_long_ago, false),
            ("Never", failed_long_ago, false),
            ("Never", succeeded_long_ago, false),
        ] {
            let pod = pod(&[], &["app"], policy);
            let actions = plan(&pod, &observed(true, &[], &[state]), Utc::now());
            assert_eq!(
                actions == vec![start("app", false)],
                restarts,
                "{policy} {state:?}"
            );
        }
        // Within the backoff nothing happens yet.
        let pod = pod(&[], &["app"], "Always");
        let just_failed = observed(true, &[], &[exited(1, 5, 0)]);
        assert_eq!(plan(&pod, &just_failed, Utc::now()), vec![]);
    }

    #[test]
    fn should_double_the_backoff_up_to_five_minutes() {
        assert_eq!(restart_backoff(0), Duration::from_secs(10));
        assert_eq!(restart_backoff(1), Duration::from_secs(20));
        assert_eq!(restart_backoff(4), Duration::from_secs(160));
        assert_eq!(restart_backoff(5), Duration::from_secs(300));
        assert_eq!(restart_backoff(40), Duration::from_secs(300));
    }

    #[test]
    fn should_stop_and_tear_down_a_deleted_pod() {
        let mut pod = pod(&[], &["app"], "Always");
        pod.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        );
        let seen = observed(true, &[], &[Observed::Running]);
        assert_eq!(
            plan(&pod, &seen, Utc::now()),
            vec![
                Action::StopContainers,
                Action::TeardownSandbox,
                Action::DeletePod
            ]
        );
    }

    #[test]
    fn should_compute_the_phase() {
        let always = pod(&[], &["a", "b"], "Always");
        let never = pod(&["i"], &["a"], "Never");
        let on_failure = pod(&[], &["a"], "OnFailure");
        let r = Observed::Running;
        assert_eq!(
            pod_phase(&always, &observed(true, &[], &[r, Observed::Absent])),
            "Pending"
        );
        assert_eq!(pod_phase(&always, &observed(true, &[], &[r, r])), "Running");
        assert_eq!(
            pod_phase(
                &never,
                &observed(true, &[exited(1, 1, 0)], &[Observed::Absent])
            ),
            "Failed"
        );
        assert_eq!(
            pod_phase(
                &never,
                &observed(true, &[exited(0, 1, 0)], &[exited(0, 1, 0)])
            ),
            "Succeeded"
        );
        assert_eq!(
            pod_phase(&on_failure, &observed(true, &[], &[exited(3, 1, 0)])),
            "Running"
        );
        // A finished pod gets no more actions.
        assert_eq!(
            plan(
                &never,
                &observed(true, &[exited(0, 1, 0)], &[exited(0, 1, 0)]),
                Utc::now()
            ),
            vec![]
        );
    }
}
