//! Entry IDs: one per entry, and in real-time order.

use std::collections::BTreeSet;

use crate::{Op, Outcome};

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
