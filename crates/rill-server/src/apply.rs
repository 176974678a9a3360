//! The write path: every command that changes state goes through one writer thread, which
//! applies queued commands in order against one transaction and commits them with one fsync.
//!
//! ```text
//!  connection ─┐                          writer thread (owns the write side of the Db)
//!  connection ─┼─(Command, oneshot)─▶ queue ─▶ drain up to group_commit_commands_max
//!  connection ─┘   bounded: backpressure        │ for each: stamp now_ms (never backwards),
//!                                               │           applied_index += 1, execute
//!                                               ▼ db.commit(txn, applied_index)  (one fsync)
//!                                    answer each oneshot, wake readers blocked on touched keys
//! ```
//!
//! Group commit is what makes fsync-per-write affordable: many clients share one fsync, the
//! way Redis's `appendfsync always` shares one per event-loop pass.
//!
//! This module is the seam for replication: a Raft-backed write path keeps [`Writer::submit`]
//! and replaces the thread with "propose, wait for apply".
//!
//! The writer is an OS thread rather than a tokio task because everything it does blocks
//! (engine work against RocksDB, then fsync); on a runtime thread it would stall other clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use rill_core::{Command, Limits, Reply};
use rill_storage::Db;
use tokio::sync::{mpsc, oneshot};

use crate::blocking::Waiters;
use crate::ServerError;

/// The one source of `now_ms` for commands: wall-clock milliseconds, never going backwards
/// even if the wall clock does.
#[derive(Debug, Default)]
pub struct Clock {
    last_ms: AtomicU64,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    /// `max(last stamp, wall clock)`, recorded as the new last stamp.
    pub fn stamp_ms(&self) -> u64 {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let previous = self.last_ms.fetch_max(wall_ms, Ordering::AcqRel);
        previous.max(wall_ms)
    }
}

/// What the writer has done, for `INFO`. Updated after each commit.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Index of the last command committed (survives restarts: it is stored with the data).
    pub applied_index: AtomicU64,
    /// Commits (fsyncs when fsync is on) since start.
    pub group_commits: AtomicU64,
    /// Commands committed since start; divided by `group_commits`, the mean group size.
    pub commands: AtomicU64,
}

/// Why a write got no reply from the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ERR server is shutting down")]
pub struct WriterGone;

struct WriteRequest {
    cmd: Command,
    reply_tx: oneshot::Sender<Reply>,
}

/// The handle connections submit writes through. Cheap to clone; the writer thread stops after
/// the last handle is dropped and the queue is drained.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<WriteRequest>,
}

impl Writer {
    /// Starts the writer thread. `done` fires after it has stopped and released its `Db`.
    pub fn start(
        db: Arc<Db>,
        waiters: Arc<Waiters>,
        clock: Arc<Clock>,
        limits: Limits,
        queue_depth_max: usize,
        group_commands_max: usize,
        stats: Arc<WriterStats>,
    ) -> Result<(Writer, oneshot::Receiver<()>), ServerError> {
        assert!(
            queue_depth_max > 0 && group_commands_max > 0,
            "writer limits must be positive"
        );
        let applied_index = db.applied_index()?;
        stats.applied_index.store(applied_index, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(queue_depth_max);
        let (done_tx, done_rx) = oneshot::channel();
        let state = WriterState {
            db,
            waiters,
            clock,
            limits,
            applied_index,
            group_commands_max,
            stats,
        };
        thread::Builder::new()
            .name("rill-writer".to_owned())
            .spawn(move || {
                // A panic here is a broken engine invariant. Serving reads while every write
                // fails would hide it, so the process stops (the state on disk is the last
                // committed group, which is consistent).
                let run = std::panic::AssertUnwindSafe(move || state.run(rx));
                if std::panic::catch_unwind(run).is_err() {
                    tracing::error!("the writer panicked; stopping the process");
                    std::process::abort();
                }
                // `state` (and with it the writer's `Db` handle) is gone by now.
                let _ = done_tx.send(());
            })
            .map_err(ServerError::Thread)?;
        Ok((Writer { tx }, done_rx))
    }

    /// Queues a write; waits while the queue is full. The reply arrives on the receiver after
    /// the command's group is durable.
    pub async fn submit(&self, cmd: Command) -> Result<oneshot::Receiver<Reply>, WriterGone> {
        debug_assert!(
            cmd.is_write(),
            "reads do not go through the writer: {cmd:?}"
        );
        let (reply_tx, reply_rx) = oneshot::channel();
        self.tx
            .send(WriteRequest { cmd, reply_tx })
            .await
            .map_err(|_| WriterGone)?;
        Ok(reply_rx)
    }

    /// Submits and waits for the reply.
    pub async fn call(&self, cmd: Command) -> Reply {
        match self.submit(cmd).await {
            Ok(reply_rx) => reply_rx
                .await
                .unwrap_or_else(|_| Reply::err(WriterGone.to_string())),
            Err(gone) => Reply::err(gone.to_string()),
        }
    }
}

struct WriterState {
    db: Arc<Db>,
    waiters: Arc<Waiters>,
    clock: Arc<Clock>,
    limits: Limits,
    /// Index of the last command applied and committed.
    applied_index: u64,
    group_commands_max: usize,
    stats: Arc<WriterStats>,
}

impl WriterState {
    fn run(mut self, mut rx: mpsc::Receiver<WriteRequest>) {
        let mut group = Vec::with_capacity(self.group_commands_max);
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            while group.len() < self.group_commands_max {
                match rx.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            self.apply_group(&mut group);
            assert!(group.is_empty(), "every request of a group is answered");
        }
    }

    /// Applies `group` in order in one transaction, commits once, answers every request.
    fn apply_group(&mut self, group: &mut Vec<WriteRequest>) {
        let index_before = self.applied_index;
        let mut txn = self.db.begin();
        let mut replies = Vec::with_capacity(group.len());
        for request in group.iter() {
            let now_ms = self.clock.stamp_ms();
            self.applied_index += 1;
            replies.push(rill_core::execute(
                &mut txn,
                &request.cmd,
                now_ms,
                &self.limits,
            ));
        }
        assert_eq!(replies.len(), group.len());
        assert_eq!(
            self.applied_index,
            index_before + group.len() as u64,
            "one index per command"
        );
        match self.db.commit(txn, self.applied_index) {
            Ok(()) => {
                self.stats
                    .applied_index
                    .store(self.applied_index, Ordering::Relaxed);
                self.stats.group_commits.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .commands
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
                let mut touched: Vec<Vec<u8>> = Vec::new();
                for (request, reply) in group.drain(..).zip(replies) {
                    if wakes_readers(&reply) {
                        touched.extend(request.cmd.keys());
                    }
                    // A dropped receiver is a client that went away; its write still stands.
                    let _ = request.reply_tx.send(reply);
                }
                self.waiters.wake(touched.iter().map(Vec::as_slice));
            }
            Err(error) => {
                // The group is one atomic batch, so it is all or nothing. Usually nothing: its
                // indexes are reused by the next group. If the write reached the WAL and only
                // the sync failed, it may come back on restart although its clients were told
                // it failed; a retried XADD could then appear twice (RocksDB gives no way to
                // take a written batch back).
                tracing::error!(%error, commands = group.len(), "group commit failed");
                self.applied_index = index_before;
                let reply = Reply::err(format!("ERR storage failure: {error}"));
                for request in group.drain(..) {
                    let _ = request.reply_tx.send(reply.clone());
                }
            }
        }
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
    use rill_storage::DbOptions;
    use std::time::Duration;

    #[test]
    fn clock_never_goes_backwards() {
        let clock = Clock::new();
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

    struct Harness {
        _dir: tempfile::TempDir,
        db: Arc<Db>,
        waiters: Arc<Waiters>,
        stats: Arc<WriterStats>,
    }

    impl Harness {
        fn new() -> Harness {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = Arc::new(Db::open(dir.path(), &DbOptions { sync: false }).expect("open"));
            Harness {
                _dir: dir,
                db,
                waiters: Arc::new(Waiters::new(8)),
                stats: Arc::default(),
            }
        }

        /// Queues `lines` before the writer runs, so grouping is deterministic; runs the writer
        /// on this thread until the queue is empty; returns the replies in order.
        fn apply(&self, lines: &[&str], group_commands_max: usize) -> Vec<Reply> {
            let (tx, rx) = mpsc::channel(lines.len());
            let mut reply_rxs = Vec::new();
            for line in lines {
                let (reply_tx, reply_rx) = oneshot::channel();
                tx.try_send(WriteRequest {
                    cmd: command(line),
                    reply_tx,
                })
                .expect("room in the queue");
                reply_rxs.push(reply_rx);
            }
            drop(tx);
            let state = WriterState {
                db: Arc::clone(&self.db),
                waiters: Arc::clone(&self.waiters),
                clock: Arc::new(Clock::new()),
                limits: Limits::default(),
                applied_index: self.db.applied_index().expect("applied index"),
                group_commands_max,
                stats: Arc::clone(&self.stats),
            };
            state.run(rx);
            reply_rxs
                .into_iter()
                .map(|mut rx| rx.try_recv().expect("answered"))
                .collect()
        }
    }

    #[test]
    fn queued_writes_share_commits_and_apply_in_order() {
        let harness = Harness::new();
        let lines: Vec<String> = (0..10).map(|i| format!("XADD s * n {i}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let replies = harness.apply(&lines, 4);
        let stats = &harness.stats;
        assert_eq!(
            stats.group_commits.load(Ordering::Relaxed),
            3,
            "groups of 4, 4 and 2"
        );
        assert_eq!(stats.commands.load(Ordering::Relaxed), 10);
        assert_eq!(
            stats.applied_index.load(Ordering::Relaxed),
            10,
            "one index per command"
        );
        assert_eq!(harness.db.applied_index().expect("applied index"), 10);
        let ids: Vec<rill_core::StreamId> = replies
            .iter()
            .map(|reply| match reply {
                Reply::Bulk(id) => {
                    let text = String::from_utf8_lossy(id);
                    rill_core::id::parse_id(text.as_bytes()).expect("an ID")
                }
                other => panic!("XADD replied {other:?}"),
            })
            .collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "IDs grow in queue order: {ids:?}"
        );

        // Errors are applied commands too: they take an index.
        let replies = harness.apply(&["XADD s 1-1 f v"], 8);
        assert!(replies[0].is_error());
        assert_eq!(harness.db.applied_index().expect("applied index"), 11);
    }

    #[test]
    fn commits_wake_readers_of_the_touched_keys_only() {
        let harness = Harness::new();
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
        let on_s = harness.waiters.register(&[b"s".to_vec()]).expect("room");
        let on_t = harness.waiters.register(&[b"t".to_vec()]).expect("room");
        harness.apply(&["XADD s 1-1 f v"], 8);
        assert!(woken(&on_s));
        assert!(!woken(&on_t));
        // A write that changes nothing a reader waits for (an error, an empty group read)
        // wakes nobody.
        harness.apply(
            &[
                "XGROUP CREATE s g $",
                "XADD s 1-1 f v",
                "XREADGROUP GROUP g c STREAMS s >",
            ],
            8,
        );
        assert!(woken(&on_s), "XGROUP CREATE replied +OK");
        harness.apply(&["XADD s 1-1 f v", "XREADGROUP GROUP g c STREAMS s >"], 8);
        assert!(!woken(&on_s), "an error and a null array wake nobody");
    }
}
