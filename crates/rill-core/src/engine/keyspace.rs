//! Commands over keys rather than one stream's contents: DEL, KEYS, SCAN and FLUSHALL. Every
//! key is a stream; the glob matching is `crate::glob`'s.

use crate::command::Key;
use crate::reply::Reply;
use crate::store::Store;

use super::{too_many, Exec};

/// Stream keys read from the store at a time by KEYS, SCAN and FLUSHALL.
const KEYS_PER_PAGE: usize = 1024;

impl<S: Store> Exec<'_, S> {
    pub(super) fn del(&mut self, keys: &[Key]) -> Reply {
        let mut deleted = 0;
        for key in keys {
            if self.store.stream(key).is_some() {
                self.store.delete_stream(key);
                deleted += 1;
            }
        }
        Reply::Int(deleted)
    }

    /// FLUSHALL: every stream goes.
    pub(super) fn flushall(&mut self) -> Reply {
        self.each_key(|ex, key| {
            ex.store.delete_stream(&key);
            true
        });
        Reply::ok()
    }

    pub(super) fn keys(&mut self, pattern: &[u8]) -> Reply {
        let mut out = Vec::new();
        let mut too_long = false;
        let cap = self.limits.reply_entries_max;
        self.each_key(|_, key| {
            if !crate::glob::matches(pattern, &key) {
                return true;
            }
            too_long = out.len() == cap;
            out.push(Reply::Bulk(key));
            !too_long
        });
        if too_long {
            return too_many(self.limits);
        }
        Reply::Array(out)
    }

    /// Hands every stream key to `visit`, in byte order, a page at a time, until it returns
    /// false. `visit` may delete the key it is given.
    fn each_key(&mut self, mut visit: impl FnMut(&mut Self, Vec<u8>) -> bool) {
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = self.store.stream_keys(after.as_deref(), KEYS_PER_PAGE);
            let Some(last) = page.last().cloned() else {
                return;
            };
            for key in page {
                if !visit(self, key) {
                    return;
                }
            }
            after = Some(last);
        }
    }

    /// SCAN over keys in byte order. The cursor is the number of keys already passed; a key
    /// deleted during a scan can make a later key be skipped, which Redis's hash-order cursor
    /// avoids. Documented in ARCHITECTURE.md.
    pub(super) fn scan(
        &mut self,
        cursor: u64,
        pattern: Option<&[u8]>,
        count: u64,
        type_filter: Option<&[u8]>,
    ) -> Reply {
        let count = (count as usize).min(self.limits.reply_entries_max);
        let mut skipped = 0u64;
        let mut after: Option<Vec<u8>> = None;
        while skipped < cursor {
            let want = ((cursor - skipped) as usize).min(KEYS_PER_PAGE);
            let page = self.store.stream_keys(after.as_deref(), want);
            let Some(last) = page.last().cloned() else {
                break;
            };
            skipped += page.len() as u64;
            after = Some(last);
        }
        let page = if skipped < cursor {
            Vec::new()
        } else {
            self.store.stream_keys(after.as_deref(), count)
        };
        let next = if page.len() == count {
            cursor + count as u64
        } else {
            0
        };
        let type_ok = type_filter.is_none_or(|t| t == b"stream");
        let keys = page
            .into_iter()
            .filter(|k| type_ok && pattern.is_none_or(|p| crate::glob::matches(p, k)))
            .map(Reply::Bulk)
            .collect();
        Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(keys)])
    }
}
