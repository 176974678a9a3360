//! Reads of stream `s` (never trimmed: an append-only list), each an `(id, value)` list,
//! against each other and against the acknowledged appends.

use std::collections::BTreeSet;

use crate::{NodeState, Op, Outcome};

type Entries<'a> = &'a [(String, String)];

fn reads(history: &[Op]) -> impl Iterator<Item = (&Op, Entries<'_>)> {
    history.iter().filter_map(|op| match &op.outcome {
        Outcome::Read(entries) => Some((op, entries.as_slice())),
        _ => None,
    })
}

/// Every read is a prefix of the final stream, IDs and values alike: all reads share one
/// total order, and its IDs rise strictly.
pub fn reads_are_prefixes_of_one_order(history: &[Op], nodes: &[NodeState]) -> Vec<String> {
    let Some(reference) = nodes.first() else {
        return Vec::new();
    };
    let list = &reference.values;
    let mut out = Vec::new();
    for (read, entries) in reads(history) {
        let rising = entries.windows(2).all(|w| {
            let id = |s: &str| rill_core::id::parse_id(s.as_bytes());
            id(&w[0].0) < id(&w[1].0)
        });
        if !rising {
            out.push(format!(
                "read at {} ms returned IDs that do not rise",
                read.invoked_ms
            ));
        }
        let prefix = entries.len() <= list.len() && entries.iter().zip(list).all(|(a, b)| a == b);
        if !prefix {
            let first_difference = entries.iter().zip(list).position(|(a, b)| a != b);
            out.push(format!(
                "read at {} ms saw {} entries that are not a prefix of the final stream (first difference at {first_difference:?})",
                read.invoked_ms,
                entries.len()
            ));
        }
    }
    out
}

/// Every read holds every append acknowledged before it began, under its acknowledged ID.
pub fn reads_hold_what_was_acknowledged_before_them(history: &[Op]) -> Vec<String> {
    let mut out = Vec::new();
    for (read, entries) in reads(history) {
        let seen: BTreeSet<(&str, &str)> = entries
            .iter()
            .map(|(id, value)| (id.as_str(), value.as_str()))
            .collect();
        for op in history {
            let Outcome::Appended(id) = &op.outcome else {
                continue;
            };
            if op.completed_ms < read.invoked_ms && !seen.contains(&(id.as_str(), &op.value)) {
                out.push(format!(
                    "read at {} ms missed {} ({id}) acknowledged at {} ms",
                    read.invoked_ms, op.value, op.completed_ms
                ));
            }
        }
    }
    out
}

/// A read never misses what a read that ended before it began returned (read-read order).
pub fn reads_never_go_back(history: &[Op]) -> Vec<String> {
    type Seen<'a> = (&'a Op, Entries<'a>, BTreeSet<&'a (String, String)>);
    let all: Vec<Seen<'_>> = reads(history)
        .map(|(op, entries)| (op, entries, entries.iter().collect()))
        .collect();
    let mut out = Vec::new();
    for (earlier, seen, _) in &all {
        for (later, _, has) in &all {
            if earlier.completed_ms >= later.invoked_ms {
                continue;
            }
            if let Some(missed) = seen.iter().find(|e| !has.contains(e)) {
                out.push(format!(
                    "read at {} ms missed {missed:?}, which a read that ended at {} ms returned",
                    later.invoked_ms, earlier.completed_ms
                ));
            }
        }
    }
    out
}

/// A blocking read of what follows an ID returns the entries of the final stream right after
/// that ID, in order (or nothing, if it timed out).
pub fn blocking_reads_return_what_follows(history: &[Op], nodes: &[NodeState]) -> Vec<String> {
    let Some(reference) = nodes.first() else {
        return Vec::new();
    };
    let id = |s: &str| rill_core::id::parse_id(s.as_bytes());
    let mut out = Vec::new();
    for op in history {
        let Outcome::ReadAfter(after, entries) = &op.outcome else {
            continue;
        };
        let next: Vec<&(String, String)> = reference
            .values
            .iter()
            .filter(|(entry, _)| id(entry) > id(after))
            .take(entries.len())
            .collect();
        if next.len() != entries.len() || next.iter().zip(entries).any(|(a, b)| *a != b) {
            out.push(format!(
                "a blocking read after {after} at {} ms returned {entries:?}; the stream has {next:?} there",
                op.invoked_ms
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(invoked_ms: u64, completed_ms: u64, entries: &[(&str, &str)]) -> Op {
        let entries = entries
            .iter()
            .map(|(id, v)| (id.to_string(), v.to_string()))
            .collect();
        Op {
            client: 9,
            value: String::new(),
            invoked_ms,
            completed_ms,
            outcome: Outcome::Read(entries),
        }
    }

    fn append(value: &str, invoked_ms: u64, completed_ms: u64, id: &str) -> Op {
        Op {
            client: 1,
            value: value.to_owned(),
            invoked_ms,
            completed_ms,
            outcome: Outcome::Appended(id.to_owned()),
        }
    }

    fn node(values: &[(&str, &str)]) -> NodeState {
        NodeState {
            values: values
                .iter()
                .map(|(id, v)| (id.to_string(), v.to_string()))
                .collect(),
            ..NodeState::empty(1)
        }
    }

    #[test]
    fn reads_that_agree_pass() {
        let history = vec![
            append("a", 0, 10, "1-1"),
            read(5, 8, &[]),
            read(11, 12, &[("1-1", "a")]),
            append("b", 13, 20, "1-2"),
            read(14, 30, &[("1-1", "a"), ("1-2", "b")]),
        ];
        let nodes = [node(&[("1-1", "a"), ("1-2", "b")])];
        assert!(reads_are_prefixes_of_one_order(&history, &nodes).is_empty());
        assert!(reads_hold_what_was_acknowledged_before_them(&history).is_empty());
        assert!(reads_never_go_back(&history).is_empty());
    }

    #[test]
    fn a_read_with_another_id_for_a_value_is_caught() {
        // The value is right, its ID is not: an inconsistent offset.
        let history = vec![append("a", 0, 10, "1-1"), read(11, 12, &[("1-7", "a")])];
        let nodes = [node(&[("1-1", "a")])];
        assert_eq!(reads_are_prefixes_of_one_order(&history, &nodes).len(), 1);
        assert_eq!(
            reads_hold_what_was_acknowledged_before_them(&history).len(),
            1
        );
    }

    #[test]
    fn a_later_read_that_misses_what_an_earlier_one_saw_is_caught() {
        // No append was acknowledged before either read began, so only read-read order
        // catches this.
        let history = vec![
            append("a", 0, 100, "1-1"),
            read(10, 20, &[("1-1", "a")]),
            read(30, 40, &[]),
        ];
        assert!(reads_hold_what_was_acknowledged_before_them(&history).is_empty());
        assert_eq!(reads_never_go_back(&history).len(), 1);
    }

    #[test]
    fn a_blocking_read_that_skips_an_entry_is_caught() {
        let nodes = [node(&[("1-1", "a"), ("1-2", "b"), ("1-3", "c")])];
        let after = |entries: &[(&str, &str)]| Op {
            outcome: Outcome::ReadAfter(
                "1-1".to_owned(),
                entries
                    .iter()
                    .map(|(id, v)| (id.to_string(), v.to_string()))
                    .collect(),
            ),
            ..read(0, 1, &[])
        };
        let good = vec![after(&[("1-2", "b"), ("1-3", "c")]), after(&[])];
        assert!(blocking_reads_return_what_follows(&good, &nodes).is_empty());
        let skipped = vec![after(&[("1-3", "c")])];
        assert_eq!(
            blocking_reads_return_what_follows(&skipped, &nodes).len(),
            1
        );
    }

    #[test]
    fn a_read_out_of_order_or_not_a_prefix_is_caught() {
        let nodes = [node(&[("1-1", "a"), ("1-2", "b")])];
        let swapped = vec![read(0, 1, &[("1-2", "b"), ("1-1", "a")])];
        assert_eq!(reads_are_prefixes_of_one_order(&swapped, &nodes).len(), 2);
        let gap = vec![read(0, 1, &[("1-2", "b")])];
        assert_eq!(reads_are_prefixes_of_one_order(&gap, &nodes).len(), 1);
    }
}
