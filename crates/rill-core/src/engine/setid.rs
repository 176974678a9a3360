//! XSETID: moving a stream's last ID, `entries-added` and max deleted ID, within what its
//! entries allow.

use crate::command::Key;
use crate::id::StreamId;
use crate::reply::Reply;
use crate::store::Store;

use super::Exec;

impl<S: Store> Exec<'_, S> {
    pub(super) fn xsetid(
        &mut self,
        key: &Key,
        last_id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Reply {
        let Some(mut meta) = self.store.stream(key) else {
            return Reply::err("ERR no such key");
        };
        if last_id < meta.max_deleted_id {
            return Reply::err(
                "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
            );
        }
        if meta.length > 0 {
            let top = self
                .store
                .entries(key, StreamId::MIN, StreamId::MAX, true, 1);
            if top.first().is_some_and(|(id, _)| last_id < *id) {
                return Reply::err(
                    "ERR The ID specified in XSETID is smaller than the target stream top item",
                );
            }
            if entries_added.is_some_and(|n| n < meta.length) {
                return Reply::err("ERR The entries_added specified in XSETID is smaller than the target stream length");
            }
        }
        meta.last_id = last_id;
        if let Some(n) = entries_added {
            meta.entries_added = n;
        }
        if let Some(id) = max_deleted.filter(|id| *id != StreamId::MIN) {
            meta.max_deleted_id = id;
        }
        self.store.put_stream(key, &meta);
        Reply::ok()
    }
}
