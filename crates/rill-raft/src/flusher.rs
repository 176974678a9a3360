//! [`Flusher`]: group commit for the Raft log.
//!
//! ```text
//!   LogStore::append ── Db::log_write (not fsynced) ── Flusher::flush(upto, callback) ──▶ queue
//!   flusher task: take every queued callback (up to FLUSH_BATCH_MAX) ── one Db::log_flush ──▶
//!                 note them reported stored, answer each
//! ```
//!
//! One fsync answers every append that was queued when it began, so the leader's appends of
//! many proposals share a disk flush, and the leader's flush runs while openraft replicates the
//! same entries (it does not wait for its own flush: `vendor/openraft/RILL.md`).
//!
//! The queue holds what openraft has appended and not yet heard flushed: the leader's
//! proposals in flight (the proposer's `proposals_in_flight_max`, at most [`FLUSH_QUEUE_MAX`])
//! and one follower append at a time. It is bounded: past [`FLUSH_QUEUE_MAX`] an append waits
//! for room.

use std::io;
use std::sync::Arc;

use openraft::storage::LogFlushed;
use rill_storage::Db;
use tokio::sync::mpsc;

use crate::bugs::Bugs;
use crate::log_store::StorageIo;
use crate::types::TypeConfig;

/// Callbacks answered by one fsync, at most.
const FLUSH_BATCH_MAX: usize = 1024;

/// Appends queued for their fsync, at most; `RaftNode::start` keeps the proposer's
/// `proposals_in_flight_max` within it.
pub(crate) const FLUSH_QUEUE_MAX: usize = 1024;

/// The handle of a node's flusher task. The task stops once every handle is dropped.
pub(crate) struct Flusher<F = LogFlushed<TypeConfig>> {
    tx: mpsc::Sender<Flush<F>>,
}

/// What a flush answers: openraft's callback (a test's own in the tests).
pub(crate) trait Callback: Send + 'static {
    fn answer(self, result: Result<(), io::Error>);
}

impl Callback for LogFlushed<TypeConfig> {
    fn answer(self, result: Result<(), io::Error>) {
        self.log_io_completed(result);
    }
}

/// An append written and waiting for its fsync.
struct Flush<F> {
    /// The index of its last entry.
    upto: u64,
    callback: F,
}

impl<F: Callback> Flusher<F> {
    /// Starts the task on the current tokio runtime.
    pub(crate) fn start(db: Arc<Db>, io: StorageIo, bugs: Bugs) -> Flusher<F> {
        Flusher::with_queue(db, io, bugs, FLUSH_QUEUE_MAX)
    }

    fn with_queue(db: Arc<Db>, io: StorageIo, bugs: Bugs, queue_max: usize) -> Flusher<F> {
        let (tx, rx) = mpsc::channel(queue_max);
        tokio::spawn(run(db, io, bugs, rx));
        Flusher { tx }
    }

    /// Answers `callback` once the entries up to `upto`, already written, are durable. Waits
    /// while the queue is full.
    pub(crate) async fn flush(&self, upto: u64, callback: F) {
        if let Err(mpsc::error::SendError(flush)) = self.tx.send(Flush { upto, callback }).await {
            flush
                .callback
                .answer(Err(io::Error::other("the log flusher has stopped")));
        }
    }
}

async fn run<F: Callback>(
    db: Arc<Db>,
    io: StorageIo,
    bugs: Bugs,
    mut rx: mpsc::Receiver<Flush<F>>,
) {
    let mut batch = Vec::with_capacity(FLUSH_BATCH_MAX);
    while rx.recv_many(&mut batch, FLUSH_BATCH_MAX).await > 0 {
        let result = if bugs.append_reported_unflushed {
            Ok(())
        } else {
            let db = db.clone();
            io.run(move || db.log_flush()).await
        };
        match result {
            Err(e) if !bugs.ignore_fsync_errors => {
                tracing::error!(error = %e, "the log's fsync failed");
                let message = e.to_string();
                for flush in batch.drain(..) {
                    flush
                        .callback
                        .answer(Err(io::Error::other(message.clone())));
                }
            }
            _ => {
                let upto = batch.iter().map(|flush| flush.upto).max().unwrap_or(0);
                db.log_reported_stored(upto);
                for flush in batch.drain(..) {
                    flush.callback.answer(Ok(()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rill_storage::DbOptions;
    use tokio::sync::oneshot;

    use super::*;

    impl Callback for oneshot::Sender<Result<(), io::Error>> {
        fn answer(self, result: Result<(), io::Error>) {
            let _ = self.send(result);
        }
    }

    /// Appends queued while the flusher is busy share one fsync, and are noted reported stored
    /// up to the highest of them only once it returned.
    #[tokio::test(flavor = "current_thread")]
    async fn one_fsync_answers_every_queued_append() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(Db::open(dir.path(), &DbOptions::default()).expect("open store"));
        let flusher = Flusher::start(db.clone(), StorageIo::Inline, Bugs::default());
        let synced = db.synced_writes();
        // One thread: the task runs only once this test awaits, with all five queued.
        let mut answers = Vec::new();
        for upto in 1..=5 {
            let (tx, rx) = oneshot::channel();
            flusher.flush(upto, tx).await;
            answers.push(rx);
        }
        assert_eq!(db.log_reported(), 0);
        for answer in answers {
            answer.await.expect("answered").expect("flushed");
        }
        assert_eq!(db.synced_writes(), synced + 1, "one fsync for five appends");
        assert_eq!(db.log_reported(), 5);

        let (tx, rx) = oneshot::channel();
        flusher.flush(6, tx).await;
        rx.await.expect("answered").expect("flushed");
        assert_eq!(db.synced_writes(), synced + 2);
        assert_eq!(db.log_reported(), 6);
    }

    /// The queue is bounded: an append past it waits until the flusher has taken the queue.
    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_makes_the_append_wait() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(Db::open(dir.path(), &DbOptions::default()).expect("open store"));
        let flusher = Flusher::with_queue(db.clone(), StorageIo::Inline, Bugs::default(), 2);
        let mut answers = Vec::new();
        for upto in 1..=2 {
            let (tx, rx) = oneshot::channel();
            flusher.flush(upto, tx).await;
            answers.push(rx);
        }
        // One thread, and the flusher has not run: the third finds the queue full.
        let (tx, rx) = oneshot::channel();
        let mut third = std::pin::pin!(flusher.flush(3, tx));
        let pending = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(third.as_mut(), cx).is_pending())
        })
        .await;
        assert!(pending, "queued past the bound");
        assert_eq!(db.log_reported(), 0);
        third.await;
        answers.push(rx);
        for answer in answers {
            answer.await.expect("answered").expect("flushed");
        }
        assert_eq!(db.log_reported(), 3);
    }
}
