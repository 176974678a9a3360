//! How the state machine runs a command when a planted bug (`Bugs`) changes it. Only the
//! simulator turns these on.

use rill_core::{execute, Command, Limits, Reply, Store};

use crate::bugs::Bugs;

/// Runs `command` as the planted bugs in `bugs` would.
pub(crate) fn run<S: Store>(
    store: &mut S,
    command: &Command,
    now_ms: u64,
    limits: &Limits,
    bugs: Bugs,
) -> Reply {
    match command {
        Command::Produce(p) if bugs.skip_producer_dedup => execute(store, &p.add, now_ms, limits),
        Command::XAck { key, group, ids } if bugs.xack_wrong_group => {
            let other = store
                .groups(key)
                .into_iter()
                .map(|(name, _)| name)
                .find(|name| name != group);
            let group = other.unwrap_or_else(|| group.clone());
            let wrong = Command::XAck {
                key: key.clone(),
                group,
                ids: ids.clone(),
            };
            execute(store, &wrong, now_ms, limits)
        }
        Command::XClaim(claim) if bugs.claim_keeps_delivery_count && !claim.justid => {
            // JUSTID keeps the delivery count; the entries are then read back, so the reply
            // has the shape the client asked for.
            let mut quiet = claim.clone();
            quiet.justid = true;
            let ids = execute(store, &Command::XClaim(quiet), now_ms, limits);
            with_entries(store, &claim.key, ids, now_ms, limits)
        }
        Command::XAutoClaim(claim) if bugs.claim_keeps_delivery_count && !claim.justid => {
            let mut quiet = claim.clone();
            quiet.justid = true;
            match execute(store, &Command::XAutoClaim(quiet), now_ms, limits) {
                Reply::Array(mut parts) if parts.len() == 3 => {
                    let ids = std::mem::replace(&mut parts[1], Reply::Nil);
                    parts[1] = with_entries(store, &claim.key, ids, now_ms, limits);
                    Reply::Array(parts)
                }
                other => other,
            }
        }
        command => execute(store, command, now_ms, limits),
    }
}

/// `[id, fields]` for each bare ID in `ids` that still names an entry.
fn with_entries<S: Store>(
    store: &mut S,
    key: &[u8],
    ids: Reply,
    now_ms: u64,
    limits: &Limits,
) -> Reply {
    let Reply::Array(ids) = ids else {
        return ids;
    };
    let mut entries = Vec::new();
    for id in ids {
        let Reply::Bulk(id) = id else { continue };
        let Some(id) = rill_core::id::parse_id(&id) else {
            continue;
        };
        let range = Command::XRange {
            key: key.to_vec(),
            start: id,
            end: id,
            count: None,
            rev: false,
        };
        if let Reply::Array(found) = execute(store, &range, now_ms, limits) {
            entries.extend(found);
        }
    }
    Reply::Array(entries)
}
