//! Taint-based eviction: when a pod on a NoExecute-tainted node must go, after
//! k8s.io/kubernetes/pkg/controller/tainteviction (`getMinTolerationTime`) and
//! `ToleratesTaint` in k8s.io/api/core/v1/toleration.go.

use k8s_openapi::api::core::v1::{Taint, Toleration};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::health::{NOT_READY_TAINT, NO_EXECUTE, UNREACHABLE_TAINT};

/// When a pod is to be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// It tolerates every NoExecute taint for ever (or there is none).
    Never,
    /// A taint is not tolerated, or a toleration has run out.
    Now,
    /// When the first toleration runs out.
    At(Timestamp),
}

/// Whether `toleration` tolerates `taint`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// The pod's tolerations with the defaults the DefaultTolerationSeconds admission
/// plugin (plugin/pkg/admission/defaulttolerationseconds) adds: the not-ready and
/// unreachable NoExecute taints for `seconds`, unless the pod already has a
/// toleration for them. Applied here too, so that pods the API server did not
/// default still get their grace.
pub fn with_default_tolerations(tolerations: &[Toleration], seconds: i64) -> Vec<Toleration> {
    let mut all = tolerations.to_vec();
    for key in [NOT_READY_TAINT, UNREACHABLE_TAINT] {
        let covered = tolerations.iter().any(|t| {
            let t_key = t.key.as_deref().unwrap_or("");
            let t_effect = t.effect.as_deref().unwrap_or("");
            (t_key == key || t_key.is_empty()) && (t_effect == NO_EXECUTE || t_effect.is_empty())
        });
        if !covered {
            all.push(Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(NO_EXECUTE.into()),
                toleration_seconds: Some(seconds),
                value: None,
            });
        }
    }
    all
}

/// When a pod with `tolerations` on a node with `taints` must be evicted. Each
/// NoExecute taint is matched with the first toleration that tolerates it, and
/// its time counts from the taint's `timeAdded` (or `now` if unset).
pub fn plan_eviction(tolerations: &[Toleration], taints: &[Taint], now: Timestamp) -> Eviction {
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let Some(toleration) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Eviction::Now;
        };
        let Some(seconds) = toleration.toleration_seconds else {
            continue;
        };
        let since = taint.time_added.as_ref().map(|t| t.0).unwrap_or(now);
        let due = since
            .saturating_add(SignedDuration::from_secs(seconds.max(0)))
            .unwrap_or(since);
        deadline = Some(deadline.map_or(due, |d| d.min(due)));
    }
    match deadline {
        None => Eviction::Never,
        Some(due) if due <= now => Eviction::Now,
        Some(due) => Eviction::At(due),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    fn unreachable(second: i64) -> Taint {
        Taint {
            key: UNREACHABLE_TAINT.into(),
            effect: NO_EXECUTE.into(),
            time_added: Some(Time(at(second))),
            value: None,
        }
    }

    fn toleration(key: &str, operator: &str, effect: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: Some(operator.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    #[test]
    fn should_evict_at_once_a_pod_that_does_not_tolerate_the_taint() {
        assert_eq!(plan_eviction(&[], &[unreachable(0)], at(1)), Eviction::Now);
    }

    #[test]
    fn should_evict_when_the_toleration_runs_out() {
        let tolerations = [toleration(
            UNREACHABLE_TAINT,
            "Exists",
            NO_EXECUTE,
            Some(300),
        )];
        assert_eq!(
            plan_eviction(&tolerations, &[unreachable(10)], at(20)),
            Eviction::At(at(310))
        );
        assert_eq!(
            plan_eviction(&tolerations, &[unreachable(10)], at(310)),
            Eviction::Now
        );
    }

    #[test]
    fn should_never_evict_a_pod_that_tolerates_for_ever() {
        let tolerations = [toleration("", "Exists", "", None)];
        assert_eq!(
            plan_eviction(&tolerations, &[unreachable(0)], at(1000)),
            Eviction::Never
        );
        assert_eq!(plan_eviction(&[], &[], at(0)), Eviction::Never);
    }

    #[test]
    fn should_ignore_taints_other_than_no_execute() {
        let no_schedule = Taint {
            effect: "NoSchedule".into(),
            ..unreachable(0)
        };
        assert_eq!(plan_eviction(&[], &[no_schedule], at(1)), Eviction::Never);
    }

    #[test]
    fn should_take_the_earliest_deadline_over_several_taints() {
        let other = Taint {
            key: "example.com/maintenance".into(),
            ..unreachable(5)
        };
        let tolerations = [
            toleration(UNREACHABLE_TAINT, "Exists", NO_EXECUTE, Some(100)),
            toleration("example.com/maintenance", "Exists", NO_EXECUTE, Some(30)),
        ];
        assert_eq!(
            plan_eviction(&tolerations, &[unreachable(0), other], at(1)),
            Eviction::At(at(35))
        );
    }

    #[test]
    fn should_match_tolerations_by_key_value_and_effect() {
        let taint = Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: NO_EXECUTE.into(),
            time_added: None,
        };
        let equal = |value: &str| Toleration {
            value: Some(value.into()),
            ..toleration("k", "Equal", NO_EXECUTE, None)
        };
        assert!(tolerates(&equal("v"), &taint));
        assert!(!tolerates(&equal("w"), &taint));
        assert!(tolerates(&toleration("k", "Exists", "", None), &taint));
        assert!(!tolerates(
            &toleration("k", "Exists", "NoSchedule", None),
            &taint
        ));
        assert!(!tolerates(
            &toleration("other", "Exists", NO_EXECUTE, None),
            &taint
        ));
    }

    #[test]
    fn should_add_default_tolerations_only_when_the_pod_has_none_for_those_taints() {
        let defaulted = with_default_tolerations(&[], 300);
        assert_eq!(defaulted.len(), 2);
        assert!(defaulted.iter().all(|t| t.toleration_seconds == Some(300)));
        let own = [toleration(UNREACHABLE_TAINT, "Exists", NO_EXECUTE, Some(2))];
        let defaulted = with_default_tolerations(&own, 300);
        assert_eq!(defaulted.len(), 2, "only not-ready is added");
        assert_eq!(
            plan_eviction(&defaulted, &[unreachable(0)], at(1)),
            Eviction::At(at(2))
        );
        assert_eq!(
            with_default_tolerations(&[toleration("", "Exists", "", None)], 300).len(),
            1
        );
    }
}
