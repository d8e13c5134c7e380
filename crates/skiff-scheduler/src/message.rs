//! The message of a pod that fits nowhere, worded exactly as kube-scheduler
//! words it, since users and tools grep for it.
//!
//! `FitError.Error()` (`pkg/scheduler/framework/types.go`) counts each reason
//! over the rejecting nodes, formats `"<count> <reason>"`, sorts those strings
//! (so `10 …` sorts before `2 …`, as Go's `sort.Strings` does) and joins them.
//! The DefaultPreemption post-filter then appends its own sentence
//! (`pkg/scheduler/framework/preemption/preemption.go`): nodes rejected for a
//! reason preemption cannot fix are "not helpful"; the others are tried, and with
//! no lower-priority pods to evict (Skiff does not preempt) have no victims.

use std::collections::HashMap;

use crate::filter::Rejection;

/// The message when the cluster has no nodes at all (`ErrNoNodesAvailable`).
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";
/// The preemption reason of a node preemption could not fix.
pub const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// The preemption reason of a node with no lower-priority pods to evict.
pub const NO_PREEMPTION_VICTIMS: &str = "No preemption victims found for incoming pod";
/// The preemption sentence of a pod with `preemptionPolicy: Never`.
pub const NOT_ELIGIBLE_TO_PREEMPT: &str = "not eligible due to preemptionPolicy=Never.";

/// The PodScheduled=False message for a pod every one of `total_nodes` nodes
/// rejected, one rejection per node.
pub fn fit_error_message(
    total_nodes: usize,
    rejections: &[Rejection],
    may_preempt: bool,
) -> String {
    if total_nodes == 0 {
        return NO_NODES_AVAILABLE.to_string();
    }
    let reasons = rejections
        .iter()
        .flat_map(|r| r.reasons.iter().map(ToString::to_string));
    let mut message = nodes_available(total_nodes, histogram(reasons));
    let preemption = if may_preempt {
        let outcomes = rejections.iter().map(|r| {
            if r.unresolvable {
                PREEMPTION_NOT_HELPFUL.to_string()
            } else {
                NO_PREEMPTION_VICTIMS.to_string()
            }
        });
        nodes_available(total_nodes, histogram(outcomes))
    } else {
        NOT_ELIGIBLE_TO_PREEMPT.to_string()
    };
    message.push_str(" preemption: ");
    message.push_str(&preemption);
    message
}

/// `0/N nodes are available: <histogram>.`
fn nodes_available(total_nodes: usize, histogram: Vec<String>) -> String {
    let mut message = format!("0/{total_nodes} nodes are available:");
    if !histogram.is_empty() {
        message.push(' ');
        message.push_str(&histogram.join(", "));
        message.push('.');
    }
    message
}

/// `"<count> <reason>"` for each distinct reason, sorted as strings.
fn histogram(reasons: impl Iterator<Item = String>) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for reason in reasons {
        *counts.entry(reason).or_default() += 1;
    }
    let mut lines: Vec<String> = counts
        .into_iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    lines.sort();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Reason;

    fn rejection(reasons: Vec<Reason>, unresolvable: bool) -> Rejection {
        Rejection {
            reasons,
            unresolvable,
        }
    }

    #[test]
    fn should_word_one_node_without_enough_memory_like_kubernetes() {
        let message = fit_error_message(
            1,
            &[rejection(vec![Reason::InsufficientMemory], true)],
            true,
        );
        assert_eq!(
            message,
            "0/1 nodes are available: 1 Insufficient memory. \
             preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn should_count_and_sort_reasons_over_nodes() {
        let rejections = [
            rejection(vec![Reason::InsufficientCpu], true),
            rejection(vec![Reason::NodeAffinity], true),
            rejection(vec![Reason::InsufficientCpu], true),
        ];
        assert_eq!(
            fit_error_message(3, &rejections, true),
            "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn should_count_every_reason_of_a_node() {
        let rejections = [
            rejection(
                vec![Reason::InsufficientCpu, Reason::InsufficientMemory],
                false,
            ),
            rejection(vec![Reason::InsufficientCpu], false),
            rejection(vec![Reason::InsufficientCpu], false),
        ];
        assert_eq!(
            fit_error_message(3, &rejections, true),
            "0/3 nodes are available: 1 Insufficient memory, 3 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn should_sort_counts_as_text_like_go() {
        let mut rejections = vec![rejection(vec![Reason::TooManyPods], false); 10];
        rejections.extend(vec![rejection(vec![Reason::Unschedulable], true); 2]);
        let message = fit_error_message(12, &rejections, true);
        assert!(
            message.starts_with(
                "0/12 nodes are available: 10 Too many pods, 2 node(s) were unschedulable. "
            ),
            "{message}"
        );
        assert!(
            message.ends_with(
                "preemption: 0/12 nodes are available: 10 No preemption victims found for incoming pod, \
                 2 Preemption is not helpful for scheduling."
            ),
            "{message}"
        );
    }

    #[test]
    fn should_word_taints_with_key_and_value() {
        let taint = Reason::UntoleratedTaint {
            key: "dedicated".into(),
            value: "gpu".into(),
        };
        let message = fit_error_message(1, &[rejection(vec![taint], true)], true);
        assert!(message.starts_with(
            "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}."
        ));
    }

    #[test]
    fn should_say_so_when_there_are_no_nodes() {
        assert_eq!(
            fit_error_message(0, &[], true),
            "no nodes available to schedule pods"
        );
    }

    #[test]
    fn should_explain_a_pod_that_may_not_preempt() {
        let message =
            fit_error_message(1, &[rejection(vec![Reason::InsufficientCpu], false)], false);
        assert_eq!(
            message,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
        );
    }
}
