//! Reads, against a model of the stream as an append-only list.

use std::collections::BTreeSet;

use crate::{NodeState, Op, Outcome};

/// Against a model of the stream as an append-only list: every read is a prefix of the final
/// list and holds every append acknowledged before the read began.
pub fn reads_are_linearizable(history: &[Op], nodes: &[NodeState]) -> Vec<String> {
    let Some(reference) = nodes.first() else {
        return Vec::new();
    };
    let list: Vec<&str> = reference.values.iter().map(|(_, v)| v.as_str()).collect();
    let mut out = Vec::new();
    for read in history {
        let Outcome::Read(values) = &read.outcome else {
            continue;
        };
        if values.len() > list.len() || values.iter().zip(&list).any(|(a, b)| a != b) {
            out.push(format!(
                "read at {} ms saw {} entries that are not a prefix of the final stream",
                read.invoked_ms,
                values.len()
            ));
            continue;
        }
        let seen: BTreeSet<&str> = values.iter().map(String::as_str).collect();
        for op in history {
            if matches!(op.outcome, Outcome::Appended(_))
                && op.completed_ms < read.invoked_ms
                && !seen.contains(op.value.as_str())
            {
                out.push(format!(
                    "read at {} ms missed {} acknowledged at {} ms",
                    read.invoked_ms, op.value, op.completed_ms
                ));
            }
        }
    }
    out
}
