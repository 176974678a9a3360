//! EXEC and WATCH, as the state machine decides them: a transaction runs whole, on every
//! replica alike, or not at all when a watched key changed.
//!
//! A key's stamp ([`Store::key_version`]) changes where Redis's `signalModifiedKey` fires for a
//! stream: XADD, XDEL or XTRIM that removed entries, XGROUP CREATE MKSTREAM that made the
//! stream, and the key's deletion (DEL, FLUSHALL). Group changes (XREADGROUP, XACK, XCLAIM,
//! XGROUP SETID ...) and XSETID leave it as Redis leaves WATCH: untouched.

use crate::command::{Command, Key, Transaction};
use crate::reply::Reply;
use crate::store::Store;

use super::{execute, Exec};

impl<S: Store> Exec<'_, S> {
    /// What WATCH records of `key`: `None` if it does not exist, else its stamp (0 when it has
    /// none yet). A key deleted and made again reads differently, as its stamp is new.
    fn watch_view(&self, key: &[u8]) -> Option<u64> {
        self.store.stream(key)?;
        Some(self.store.key_version(key).unwrap_or(0))
    }

    pub(super) fn key_versions(&mut self, keys: &[Key]) -> Reply {
        Reply::Array(
            keys.iter()
                .map(|key| match self.watch_view(key) {
                    None => Reply::Nil,
                    Some(stamp) => Reply::Int(i64::try_from(stamp).unwrap_or(i64::MAX)),
                })
                .collect(),
        )
    }

    /// Runs the queued commands in order, each with its own reply (an error does not stop the
    /// others, as in Redis); a null array if a watched key reads differently now.
    pub(super) fn exec(&mut self, t: &Transaction) -> Reply {
        if t.watched
            .iter()
            .any(|(key, seen)| self.watch_view(key) != *seen)
        {
            return Reply::NilArray;
        }
        let replies = t
            .commands
            .iter()
            .map(|command| match command {
                Command::Exec(_) => Reply::err("ERR EXEC inside a transaction"),
                command => execute(self.store, command, self.now_ms, self.limits),
            })
            .collect();
        Reply::Array(replies)
    }
}
