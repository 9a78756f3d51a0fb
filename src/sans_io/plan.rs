//! Whether a task may finish, as far as its deep plan goes: the decision of
//! `get_plan_following_status`, made on a reloaded copy of the task. No I/O.
//!
//! The algorithm is the published official client's (2.0.537): when the
//! plan is enabled, started and enforced, a result that ends in a question
//! to the user may finish; otherwise every plan step must be completed. The
//! plan used is the server's, or the local one when the server's has no
//! steps and the local one has (the service may answer a stale plan).
//! Unlike the official client, errors are returned, and the caller's task
//! is not touched.

#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use crate::model::{DeepPlanning, DeepPlanningTask, Task};

/// The answer of `plan_following_status`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlanFollowingStatus {
    /// `true` when the task may finish.
    pub can_finish: bool,
    /// The plan steps not completed yet, in order (empty when `can_finish`).
    pub uncompleted_tasks: Vec<DeepPlanningTask>,
}

/// The decision for `local` (the caller's task, whose `result` counts) given
/// `server` (the same task as just reloaded).
pub(crate) fn following_status(local: &Task, server: &Task) -> PlanFollowingStatus {
    let plan: &DeepPlanning =
        if server.deep_planning.tasks.is_empty() && !local.deep_planning.tasks.is_empty() {
            &local.deep_planning
        } else {
            &server.deep_planning
        };
    // A plan not enforced binds nothing, and a run that ends by asking the
    // user something must not be re-driven: either may finish.
    let binding = plan.enabled && plan.started && plan.enforce;
    let asks = local.result.as_deref().is_some_and(ends_with_question);
    let uncompleted_tasks: Vec<DeepPlanningTask> = if binding && !asks {
        plan.tasks
            .iter()
            .filter(|step| !step.completed)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    PlanFollowingStatus {
        can_finish: uncompleted_tasks.is_empty(),
        uncompleted_tasks,
    }
}

/// `true` when the last non-empty line ends on a question: its last `?` is
/// followed by nothing, or by at most 16 characters of closing brackets,
/// quotes and white space around one short `( … )` hint such as `(y/n)`.
pub fn ends_with_question(text: &str) -> bool {
    let Some(line) = text.trim().lines().last().map(str::trim) else {
        return false;
    };
    let Some(at) = line.rfind('?') else {
        return false;
    };
    let tail = line.get(at.saturating_add(1)..).unwrap_or("").trim();
    tail.is_empty() || (tail.chars().count() <= 16 && is_question_tail(tail))
}

/// The tail after a question mark: closers and quotes, then at most one
/// parenthetical of up to 14 characters without parentheses, then closers.
fn is_question_tail(tail: &str) -> bool {
    let closer =
        |c: char| matches!(c, ')' | ']' | '}' | '"' | '\'' | '”' | '’') || c.is_whitespace();
    let rest = tail.trim_start_matches(closer);
    let rest = match rest.strip_prefix('(') {
        Some(inside) => match inside.find(')') {
            Some(end) => {
                let hint = inside.get(..end).unwrap_or("");
                if hint.chars().count() > 14 || hint.contains('(') {
                    return false;
                }
                inside.get(end.saturating_add(1)..).unwrap_or("")
            }
            // An unclosed `(` is not a hint; it cannot be a closer either.
            None => return false,
        },
        None => rest,
    };
    rest.chars().all(closer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions() {
        for yes in [
            "Which quarter do you mean?",
            "Which quarter?  ",
            "Done.\n\nShall I go on? ",
            "Proceed? (y/n)",
            "Proceed? (yes or no) \"",
            "He asked: \"Which one?\"",
            "Ready?)",
        ] {
            assert!(ends_with_question(yes), "{yes:?}");
        }
        for no in [
            "",
            "   ",
            "Done.",
            "Is it? Yes, it is.",
            "Which? Then I did it\nand more.",
            "Proceed? (this is a much longer hint)",
            "Proceed? (y/n) and then some",
            "Proceed? (unclosed",
        ] {
            assert!(!ends_with_question(no), "{no:?}");
        }
    }
}
