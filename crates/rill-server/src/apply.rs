//! What the server hooks into the replicated write path: the clock that stamps reads, and the
//! listener that wakes blocked readers when an applied command touched their stream.
//!
//! Writes themselves go through `rill_raft::RaftNode` (see `exec.rs`): the proposer batches
//! them into log entries, each node applies every entry in one RocksDB batch, and
//! [`WakeReaders`] runs after each applied batch, on every node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rill_core::{Command, Reply};
use rill_raft::{AppliedEntry, ApplyListener};

use crate::blocking::Waiters;

/// `now_ms` for reads (idle times in XPENDING and XINFO): wall-clock milliseconds, never
/// going backwards even if the wall clock does. Writes are stamped by the Raft proposer.
#[derive(Default)]
pub struct Clock {
    last_ms: AtomicU64,
    /// Milliseconds since the epoch; `None`: the system clock (the simulator brings its own).
    source: Option<rill_raft::Clock>,
}

impl Clock {
    pub fn new(source: Option<rill_raft::Clock>) -> Clock {
        Clock {
            last_ms: AtomicU64::new(0),
            source,
        }
    }

    /// `max(last stamp, wall clock)`, recorded as the new last stamp.
    pub fn stamp_ms(&self) -> u64 {
        let wall_ms = match &self.source {
            Some(source) => source(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        let previous = self.last_ms.fetch_max(wall_ms, Ordering::AcqRel);
        previous.max(wall_ms)
    }
}

/// Wakes the readers blocked on the keys of applied commands, then tells `then` (the
/// simulator's watcher), if any.
pub struct WakeReaders {
    pub waiters: Arc<Waiters>,
    pub then: Option<Arc<dyn ApplyListener>>,
}

impl ApplyListener for WakeReaders {
    fn batch_applied(&self) {
        if let Some(then) = &self.then {
            then.batch_applied();
        }
    }

    fn snapshot_receiving(&self) {
        if let Some(then) = &self.then {
            then.snapshot_receiving();
        }
    }

    fn snapshot_installed(&self, index: u64) {
        if let Some(then) = &self.then {
            then.snapshot_installed(index);
        }
    }

    fn applied(&self, entry: &AppliedEntry<'_>) {
        if let Some(then) = &self.then {
            then.applied(entry);
        }
        let mut touched: Vec<Vec<u8>> = Vec::new();
        for (command, reply) in entry.commands.iter().zip(entry.replies) {
            if flushes(command) && wakes_readers(reply) {
                // Blocked group readers then answer NOGROUP, as in Redis.
                self.waiters.wake_all();
                return;
            }
            if wakes_readers(reply) {
                touched.extend(command.keys());
            }
        }
        if !touched.is_empty() {
            self.waiters.wake(touched.iter().map(Vec::as_slice));
        }
    }
}

/// FLUSHALL, alone or in a transaction: every stream is gone.
fn flushes(command: &Command) -> bool {
    match command {
        Command::FlushAll => true,
        Command::Exec(t) => t.commands.iter().any(flushes),
        _ => false,
    }
}

/// Whether a write may have given blocked readers something new. An error or a null array
/// changed nothing a reader waits for; skipping those also stops two consumers blocked on one
/// group from waking each other forever with empty XREADGROUP retries.
fn wakes_readers(reply: &Reply) -> bool {
    !matches!(reply, Reply::Error(_) | Reply::NilArray)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rill_core::Command;
    use std::time::Duration;

    #[test]
    fn clock_never_goes_backwards() {
        let clock = Clock::new(None);
        let ahead = clock.stamp_ms() + 60_000;
        clock.last_ms.store(ahead, Ordering::Release);
        assert_eq!(
            clock.stamp_ms(),
            ahead,
            "a wall clock behind the last stamp does not move time back"
        );
        let mut last = 0;
        for _ in 0..1000 {
            let now = clock.stamp_ms();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn which_replies_wake_readers() {
        assert!(wakes_readers(&Reply::text("1-1")));
        assert!(wakes_readers(&Reply::Int(1)));
        assert!(!wakes_readers(&Reply::NilArray));
        assert!(!wakes_readers(&Reply::err("ERR syntax error")));
    }

    fn command(line: &str) -> Command {
        let argv: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
        rill_core::parse(&argv)
            .expect("an engine command")
            .expect("valid")
    }

    #[test]
    fn applied_commands_wake_readers_of_the_touched_keys_only() {
        let waiters = Arc::new(Waiters::new(8));
        let listener = WakeReaders {
            waiters: Arc::clone(&waiters),
            then: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let woken = |waiter: &crate::blocking::Waiter| {
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(20), waiter.notified())
                    .await
                    .is_ok()
            })
        };
        let on_s = waiters.register(&[b"s".to_vec()]).expect("room");
        let on_t = waiters.register(&[b"t".to_vec()]).expect("room");
        let applied = |index, commands: &[Command], replies: &[Reply]| {
            listener.applied(&AppliedEntry {
                index,
                now_ms: 0,
                commands,
                replies,
            })
        };
        applied(1, &[command("XADD s 1-1 f v")], &[Reply::bulk("1-1")]);
        assert!(woken(&on_s));
        assert!(!woken(&on_t));
        // A write that changed nothing a reader waits for (an error, an empty group read)
        // wakes nobody.
        applied(
            2,
            &[
                command("XADD s 1-1 f v"),
                command("XREADGROUP GROUP g c STREAMS s >"),
            ],
            &[
                Reply::err("ERR The ID specified in XADD is equal or smaller"),
                Reply::NilArray,
            ],
        );
        assert!(!woken(&on_s), "an error and a null array wake nobody");
    }
}
