//! The invariants, each its own function over the recorded history and the settled nodes;
//! the work queue's against a model of the applied log (`groups`).

pub mod groups;

use std::collections::{BTreeMap, BTreeSet};

use rill_core::{Command, Reply};

use crate::{NodeState, Op, Outcome};

/// Every violation found.
pub fn all(history: &[Op], nodes: &[NodeState]) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(acknowledged_appends_survive(history, nodes));
    out.extend(nothing_unattempted_or_failed_appears(history, nodes));
    out.extend(ids_are_unique_and_follow_real_time(history));
    out.extend(reads_are_linearizable(history, nodes));
    out.extend(replicas_agree(nodes));
    out
}

/// Every acknowledged append is on every node, under the ID it was acknowledged with.
pub fn acknowledged_appends_survive(history: &[Op], nodes: &[NodeState]) -> Vec<String> {
    let mut out = Vec::new();
    for node in nodes {
        let held: BTreeMap<&str, &str> = node
            .values
            .iter()
            .map(|(id, value)| (value.as_str(), id.as_str()))
            .collect();
        for op in history {
            if let Outcome::Appended(id) = &op.outcome {
                match held.get(op.value.as_str()) {
                    None => out.push(format!(
                        "n{}: acknowledged {} ({id}) is missing",
                        node.id, op.value
                    )),
                    Some(found) if found != id => out.push(format!(
                        "n{}: {} acknowledged as {id} but stored as {found}",
                        node.id, op.value
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    out
}

/// No entry that no client attempted, none whose append failed, none twice.
pub fn nothing_unattempted_or_failed_appears(history: &[Op], nodes: &[NodeState]) -> Vec<String> {
    let attempted: BTreeMap<&str, &Outcome> = history
        .iter()
        .filter(|op| !matches!(op.outcome, Outcome::Read(_)))
        .map(|op| (op.value.as_str(), &op.outcome))
        .collect();
    let mut out = Vec::new();
    for node in nodes {
        let mut seen = BTreeSet::new();
        for (id, value) in &node.values {
            match attempted.get(value.as_str()) {
                None => out.push(format!("n{}: {id} holds {value}, never attempted", node.id)),
                Some(Outcome::Failed) => out.push(format!(
                    "n{}: {id} holds {value}, whose append failed",
                    node.id
                )),
                Some(_) => {}
            }
            if !seen.insert(value) {
                out.push(format!("n{}: {value} appears twice", node.id));
            }
        }
    }
    out
}

/// Acknowledged IDs are distinct, and an append that completed before another began got the
/// smaller ID (across leader changes and skewed clocks).
pub fn ids_are_unique_and_follow_real_time(history: &[Op]) -> Vec<String> {
    let mut acked: Vec<(&Op, rill_core::StreamId)> = Vec::new();
    let mut out = Vec::new();
    for op in history {
        if let Outcome::Appended(id) = &op.outcome {
            match rill_core::id::parse_id(id.as_bytes()) {
                Some(parsed) => acked.push((op, parsed)),
                None => out.push(format!("{} acknowledged with a bad ID {id}", op.value)),
            }
        }
    }
    let mut ids = BTreeSet::new();
    for (op, id) in &acked {
        if !ids.insert(*id) {
            out.push(format!(
                "ID {id} acknowledged twice (again for {})",
                op.value
            ));
        }
    }
    for (a, a_id) in &acked {
        for (b, b_id) in &acked {
            if a.completed_ms < b.invoked_ms && a_id >= b_id {
                out.push(format!(
                    "{} ({a_id}) completed at {} ms before {} ({b_id}) began at {} ms",
                    a.value, a.completed_ms, b.value, b.invoked_ms
                ));
            }
        }
    }
    out
}

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

/// Each node's state passes `check_invariants`; nodes at one applied index have one digest.
pub fn replicas_agree(nodes: &[NodeState]) -> Vec<String> {
    let mut out = Vec::new();
    for node in nodes {
        if let Err(why) = &node.invariants {
            out.push(format!("n{}: invariant broken: {why}", node.id));
        }
    }
    let mut by_index: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for node in nodes {
        by_index
            .entry(node.applied_digest.0)
            .or_default()
            .insert(node.applied_digest.1);
    }
    for (index, digests) in by_index {
        if digests.len() > 1 {
            out.push(format!(
                "applied index {index}: {} different state digests",
                digests.len()
            ));
        }
    }
    let indexes: BTreeSet<u64> = nodes.iter().map(|n| n.applied_digest.0).collect();
    if indexes.len() > 1 {
        out.push(format!(
            "nodes did not converge: applied indexes {indexes:?}"
        ));
    }
    out
}

/// The work queue: the applied log replayed through the model (`groups::Model`) with every
/// reply checked; every acknowledged queue append in the log under its ID; every node's queue
/// and pending list equal to the model's at the end.
pub fn work_queue(
    applied: &BTreeMap<u64, (Vec<Command>, Vec<Reply>)>,
    acked: &[(String, String)],
    seen: &[(String, Vec<String>)],
    nodes: &[NodeState],
) -> (Vec<String>, groups::Counts) {
    let mut model = groups::Model::default();
    for (index, (commands, replies)) in applied {
        for (command, reply) in commands.iter().zip(replies) {
            model.apply(*index, command, reply);
        }
    }
    let mut out: Vec<String> = model.violations.iter().take(20).cloned().collect();
    for (value, id) in acked {
        match model.appended(id) {
            Some(found) if found == value => {}
            found => out.push(format!(
                "queue append {value} acknowledged as {id}; the applied log has {found:?} there"
            )),
        }
    }
    for (consumer, ids) in seen {
        out.extend(model.check_seen(consumer, ids));
    }
    out.truncate(40);
    let (stream, pending) = (model.stream_ids(), model.pending());
    for node in nodes {
        if node.queue != stream {
            out.push(format!(
                "n{}: queue holds {:?}, the applied log says {stream:?}",
                node.id, node.queue
            ));
        }
        if node.pending != pending {
            out.push(format!(
                "n{}: pending list {:?}, the applied log says {pending:?}",
                node.id, node.pending
            ));
        }
    }
    (out, model.counts)
}

/// The IDs of the entries in a reply: an entry list, or XREAD/XREADGROUP's per-stream map.
pub fn entries_in(reply: &Reply) -> Vec<String> {
    let entries = match reply {
        Reply::Map(streams) | Reply::PairMap(streams) => {
            return streams.iter().flat_map(|(_, e)| entries_in(e)).collect()
        }
        Reply::Array(entries) => entries,
        _ => return Vec::new(),
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Reply::Bulk(id) => Some(String::from_utf8_lossy(id).into_owned()),
            Reply::Array(parts) => match parts.first() {
                Some(Reply::Bulk(id)) => Some(String::from_utf8_lossy(id).into_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `(id, consumer)` of each entry of an extended XPENDING reply.
pub fn pending_of(reply: &Reply) -> Vec<(String, String)> {
    let Reply::Array(rows) = reply else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|row| match row {
            Reply::Array(parts) => match (parts.first(), parts.get(1)) {
                (Some(Reply::Bulk(id)), Some(Reply::Bulk(owner))) => Some((
                    String::from_utf8_lossy(id).into_owned(),
                    String::from_utf8_lossy(owner).into_owned(),
                )),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `(id, op value)` of each entry of an XRANGE reply.
pub fn entries_of(reply: &Reply) -> Vec<(String, String)> {
    let Reply::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Reply::Array(parts) => match (parts.first(), parts.get(1)) {
                (Some(Reply::Bulk(id)), Some(Reply::Array(fields))) => {
                    let value = match fields.get(1) {
                        Some(Reply::Bulk(v)) => String::from_utf8_lossy(v).into_owned(),
                        _ => String::new(),
                    };
                    Some((String::from_utf8_lossy(id).into_owned(), value))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

pub fn values_of(reply: &Reply) -> Vec<String> {
    entries_of(reply).into_iter().map(|(_, v)| v).collect()
}

/// FNV-1a, for trace hashes.
#[derive(Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}
