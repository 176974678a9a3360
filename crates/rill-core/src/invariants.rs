//! `check_invariants`: a validation pass over the whole state, for tests and the simulator to
//! run after every applied command. A violation is a bug in the engine or the store.
//!
//! One invariant is kept apart, [`check_delivery_bound`]: "no pending ID above the group's
//! last-delivered ID". Redis itself breaks it on request (XGROUP SETID to an earlier ID, XCLAIM
//! FORCE of an undelivered entry), so it holds only for histories without those.

use crate::id::StreamId;
use crate::store::{GroupMeta, Store};

const ALL: usize = usize::MAX;

fn fail(key: &[u8], what: String) -> Result<(), String> {
    Err(format!("stream {:?}: {what}", String::from_utf8_lossy(key)))
}

/// Checks every stream, group, consumer and pending entry.
pub fn check_invariants<S: Store>(store: &S) -> Result<(), String> {
    for key in store.stream_keys(None, ALL) {
        check_stream(store, &key)?;
    }
    check_producers(store)
}

/// Checks one stream, its groups, consumers and pending entries (nothing, if it is absent):
/// [`check_invariants`] limited to the streams a change touched.
pub fn check_stream_invariants<S: Store>(store: &S, key: &[u8]) -> Result<(), String> {
    if store.stream(key).is_none() {
        return Ok(());
    }
    check_stream(store, key)
}

/// IDMP: the counters match the records, each record is found by its producer and iid, and
/// no producer keeps more than `idmp-maxsize`.
fn check_idmp<S: Store>(store: &S, key: &[u8]) -> Result<(), String> {
    let meta = store.idmp_meta(key).unwrap_or_default();
    let records = store.idmp_records(key, ALL);
    let mut pids = std::collections::BTreeMap::<&[u8], u64>::new();
    for r in &records {
        *pids.entry(&r.pid).or_default() += 1;
        if store.idmp_id(key, &r.pid, &r.iid) != Some(r.id) {
            return fail(key, format!("IDMP record {r:?} is not found by its iid"));
        }
    }
    if records.len() as u64 != meta.iids_tracked || pids.len() as u64 != meta.pids_tracked {
        return fail(
            key,
            format!(
                "IDMP counts {meta:?}, but {} records of {} producers",
                records.len(),
                pids.len()
            ),
        );
    }
    for (pid, count) in pids {
        if store.idmp_count(key, pid) != count || count > meta.maxsize {
            return fail(key, format!("IDMP producer {pid:?} keeps {count} iids"));
        }
    }
    Ok(())
}

/// The producer count matches the idle index, and every indexed producer exists with the
/// indexed time.
fn check_producers<S: Store>(store: &S) -> Result<(), String> {
    let indexed = store.idle_producers(u64::MAX, ALL);
    if indexed.len() as u64 != store.producer_count() {
        return Err(format!(
            "producer count {} but {} indexed",
            store.producer_count(),
            indexed.len()
        ));
    }
    for producer in indexed {
        if store.producer(&producer).is_none() {
            return Err(format!("indexed producer {producer:?} has no record"));
        }
    }
    Ok(())
}

fn check_stream<S: Store>(store: &S, key: &[u8]) -> Result<(), String> {
    let meta = store.stream(key).ok_or("listed stream has no metadata")?;
    check_idmp(store, key)?;
    let entries = store.entries(key, StreamId::MIN, StreamId::MAX, false, ALL);
    if entries.len() as u64 != meta.length {
        return fail(
            key,
            format!("length {} but {} entries", meta.length, entries.len()),
        );
    }
    let first = entries.first().map_or(StreamId::MIN, |(id, _)| *id);
    if first != meta.first_id {
        return fail(
            key,
            format!("first_id {} but first entry {first}", meta.first_id),
        );
    }
    if let Some((top, _)) = entries.last() {
        if *top > meta.last_id {
            return fail(key, format!("entry {top} above last_id {}", meta.last_id));
        }
    }
    if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
        return fail(key, "entries out of order".to_owned());
    }
    if meta.entries_added < meta.length {
        return fail(
            key,
            format!(
                "entries_added {} below length {}",
                meta.entries_added, meta.length
            ),
        );
    }
    if meta.max_deleted_id > meta.last_id {
        return fail(
            key,
            format!(
                "max_deleted_id {} above last_id {}",
                meta.max_deleted_id, meta.last_id
            ),
        );
    }
    for (group, group_meta) in store.groups(key) {
        check_group(store, key, &group, &group_meta)?;
    }
    Ok(())
}

fn check_group<S: Store>(
    store: &S,
    key: &[u8],
    group: &[u8],
    group_meta: &GroupMeta,
) -> Result<(), String> {
    let pending_count = group_meta.pending_count;
    let g = String::from_utf8_lossy(group);
    let pel = store.pending_range(key, group, StreamId::MIN, StreamId::MAX, ALL);
    if pel.len() as u64 != pending_count {
        return fail(
            key,
            format!(
                "group {g}: pending_count {pending_count} but {} records",
                pel.len()
            ),
        );
    }
    if let (Some(max), Some((last, _))) = (group_meta.pending_max, pel.last()) {
        if *last > max {
            return fail(
                key,
                format!("group {g}: {last} is pending, above the bound {max}"),
            );
        }
    }
    let consumers = store.consumers(key, group);
    let mut owned = 0u64;
    for (name, meta) in &consumers {
        let c = String::from_utf8_lossy(name);
        let ids = store.consumer_pending_range(key, group, name, StreamId::MIN, StreamId::MAX, ALL);
        if ids.len() as u64 != meta.pending_count {
            return fail(
                key,
                format!(
                    "group {g} consumer {c}: count {} but {} indexed",
                    meta.pending_count,
                    ids.len()
                ),
            );
        }
        for id in ids {
            match store.pending(key, group, id) {
                Some(pe) if pe.owner() == Some(name.as_slice()) => {}
                Some(_) => {
                    return fail(
                        key,
                        format!("group {g}: {id} indexed under {c} but owned by another"),
                    )
                }
                None => {
                    return fail(
                        key,
                        format!("group {g}: {id} indexed under {c} but not pending"),
                    )
                }
            }
        }
        owned += meta.pending_count;
    }
    let released = pel.iter().filter(|(_, pe)| pe.released).count() as u64;
    if released != group_meta.nacked_count {
        return fail(
            key,
            format!(
                "group {g}: nacked-count {} but {released} released",
                group_meta.nacked_count
            ),
        );
    }
    if owned + released != pending_count {
        return fail(
            key,
            format!(
                "group {g}: consumers own {owned} and {released} are released of {pending_count} pending entries"
            ),
        );
    }
    for (id, pe) in &pel {
        match pe.owner() {
            Some(owner) if !consumers.iter().any(|(name, _)| name == owner) => {
                return fail(key, format!("group {g}: {id} owned by a missing consumer"));
            }
            None if !pe.consumer.is_empty() || pe.delivery_ms != 0 => {
                return fail(key, format!("group {g}: {id} released but held or timed"));
            }
            _ => {}
        }
    }
    let mut expected: Vec<(u64, StreamId)> =
        pel.iter().map(|(id, pe)| (pe.delivery_ms, *id)).collect();
    expected.sort_unstable();
    let mut by_delivery = Vec::with_capacity(expected.len());
    store.visit_pending_by_delivery(key, group, &mut |ms, id| {
        by_delivery.push((ms, id));
        by_delivery.len() <= expected.len()
    });
    if by_delivery != expected {
        return fail(
            key,
            format!("group {g}: delivery order {by_delivery:?} but the PEL says {expected:?}"),
        );
    }
    Ok(())
}

/// No pending ID is above its group's last-delivered ID.
pub fn check_delivery_bound<S: Store>(store: &S) -> Result<(), String> {
    for key in store.stream_keys(None, ALL) {
        for (group, meta) in store.groups(&key) {
            let above = meta.last_delivered_id.next().map_or(Vec::new(), |start| {
                store.pending_range(&key, &group, start, StreamId::MAX, 1)
            });
            if let Some((id, _)) = above.first() {
                let g = String::from_utf8_lossy(&group);
                return fail(
                    &key,
                    format!(
                        "group {g}: pending {id} above last-delivered {}",
                        meta.last_delivered_id
                    ),
                );
            }
        }
    }
    Ok(())
}
