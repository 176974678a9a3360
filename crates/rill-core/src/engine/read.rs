//! Reads that leave no trace: XRANGE, XREVRANGE and XREAD (blocking is the server's; here a
//! read answers what is there now).

use crate::command::{Key, ReadFrom, XRead};
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::Store;

use super::{entry_reply, resolve_read_from, too_many, Exec};

impl<S: Store> Exec<'_, S> {
    pub(super) fn xrange(
        &mut self,
        key: &Key,
        start: StreamId,
        end: StreamId,
        count: Option<u64>,
        rev: bool,
    ) -> Reply {
        // The key is looked up first: a missing key answers `[]` even to COUNT 0.
        if self.store.stream(key).is_none() {
            return Reply::Array(Vec::new());
        }
        if count == Some(0) {
            return Reply::NilArray;
        }
        let got = match self.reply_entries(key, (start, end), rev, count, &mut 0) {
            Ok(got) => got,
            Err(refusal) => return refusal,
        };
        Reply::Array(got.into_iter().map(|(id, f)| entry_reply(id, f)).collect())
    }

    pub(super) fn xread(&mut self, r: &XRead) -> Reply {
        let mut out = Vec::new();
        let mut total = 0usize;
        let mut spent = 0usize;
        for (key, from) in &r.streams {
            let ReadFrom::After(after) = resolve_read_from(self.store, key, *from) else {
                continue;
            };
            let Some(start) = after.next() else { continue };
            let got =
                match self.reply_entries(key, (start, StreamId::MAX), false, r.count, &mut spent) {
                    Ok(got) => got,
                    Err(refusal) => return refusal,
                };
            if got.is_empty() {
                continue;
            }
            total += got.len();
            if total > self.limits.reply_entries_max {
                return too_many(self.limits);
            }
            let entries = got.into_iter().map(|(id, f)| entry_reply(id, f)).collect();
            out.push((Reply::bulk(key), Reply::Array(entries)));
        }
        if out.is_empty() {
            Reply::NilArray
        } else {
            Reply::PairMap(out)
        }
    }
}
