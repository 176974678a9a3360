//! Durability: what was acknowledged survives, on every node; nothing else appears.

use std::collections::{BTreeMap, BTreeSet};

use crate::{NodeState, Op, Outcome};

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
        .filter(|op| op.is_append())
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
