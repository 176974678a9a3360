//! A group's logical read counter (`entries-read`) and its `lag`, exact where Redis is exact and
//! unknown (`None`) where Redis cannot tell, following `t_stream.c` of Redis 7.4 and 8 (7.0 and
//! 7.2 estimated past a tombstone, and answered no lag shortcut for an emptied stream).

use crate::id::StreamId;
use crate::store::{GroupMeta, StreamMeta};

/// Moves the group's last delivered ID to `id` and keeps its logical read counter
/// (`entries-read`) exact where it can, like `streamReplyWithRange` does.
pub(super) fn advance_group(meta: &StreamMeta, group: &mut GroupMeta, id: StreamId) {
    if id <= group.last_delivered_id {
        return;
    }
    // Counting on is exact only from a position inside the stream with no tombstone after it.
    let exact = group.last_delivered_id >= meta.first_id
        && !has_tombstones(meta, group.last_delivered_id, StreamId::MAX);
    match group.entries_read {
        Some(n) if exact => group.entries_read = Some(n + 1),
        _ if meta.entries_added > 0 => group.entries_read = estimate_entries_read(meta, id),
        _ => {}
    }
    group.last_delivered_id = id;
}

/// `streamRangeHasTombstones`: whether an XDEL may have left a gap inside `[start, end]`.
fn has_tombstones(meta: &StreamMeta, start: StreamId, end: StreamId) -> bool {
    if meta.length == 0 || meta.max_deleted_id == StreamId::MIN {
        return false;
    }
    start <= meta.max_deleted_id && meta.max_deleted_id <= end
}

/// `streamEstimateDistanceFromFirstEverEntry`: the logical position of `id`, when knowable.
fn estimate_entries_read(meta: &StreamMeta, id: StreamId) -> Option<u64> {
    if meta.entries_added == 0 {
        return Some(0);
    }
    if meta.length == 0 && id <= meta.last_id {
        return Some(meta.entries_added);
    }
    // Before the last tombstone, entries may have gone uncounted.
    if id != StreamId::MIN && id < meta.max_deleted_id {
        return None;
    }
    if id == meta.last_id {
        return Some(meta.entries_added);
    }
    if id > meta.last_id {
        return None;
    }
    let no_gap_ahead = meta.max_deleted_id == StreamId::MIN || meta.max_deleted_id < meta.first_id;
    if no_gap_ahead {
        if id < meta.first_id {
            return Some(meta.entries_added - meta.length);
        }
        if id == meta.first_id {
            return Some(meta.entries_added - meta.length + 1);
        }
    }
    None
}

/// `lag` in XINFO: entries added but not yet read by the group, when knowable.
pub fn group_lag(meta: &StreamMeta, group: &GroupMeta) -> Option<u64> {
    if meta.entries_added == 0 || meta.length == 0 {
        return Some(0);
    }
    // The group and every tombstone are behind the first entry: all of it is unread.
    if group.last_delivered_id < meta.first_id && meta.max_deleted_id < meta.first_id {
        return Some(meta.length);
    }
    if let Some(read) = group.entries_read {
        if !has_tombstones(meta, group.last_delivered_id, StreamId::MAX) {
            return Some(meta.entries_added.saturating_sub(read));
        }
    }
    estimate_entries_read(meta, group.last_delivered_id)
        .map(|read| meta.entries_added.saturating_sub(read))
}
