//! [`Flusher`]: group commit for the Raft log.
//!
//! ```text
//!   LogStore::append ── Db::log_write (not fsynced) ── Flusher::flush(upto, callback): queued
//!   fsync loop: take every queued callback (up to FLUSH_BATCH_MAX) ── one Db::log_flush ──▶
//!               note them reported stored, answer each; again while more are queued
//! ```
//!
//! One fsync answers every append that was queued when it began, so the leader's appends of
//! many proposals share a disk flush, and the leader's flush runs while openraft replicates the
//! same entries (it does not wait for its own flush: `vendor/openraft/RILL.md`).
//!
//! Where the loop runs:
//! - On the blocking pool (a node), the append that finds no loop running starts one there
//!   itself: no task of the runtime stands between the write and its fsync. A flusher task did
//!   until session 35, and on a busy leader (50 clients pipelining 16 XADDs each) the worker
//!   polled it 0.8 to 1.6 ms after the append, so the leader's fsync began after its
//!   followers' had; now it begins about 0.1 ms after the write.
//! - Inline (the simulator's one thread), a task takes the queue, as before: the CI seeds'
//!   traces follow that order of tasks.
//!
//! The queue holds what openraft has appended and not yet heard flushed: the leader's
//! proposals in flight (the proposer's `proposals_in_flight_max`, at most [`FLUSH_QUEUE_MAX`])
//! and one follower append at a time. It is bounded: past [`FLUSH_QUEUE_MAX`] an append waits
//! for room.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use openraft::storage::LogFlushed;
use rill_storage::Db;
use tokio::sync::{mpsc, Semaphore};

use crate::bugs::Bugs;
use crate::log_store::StorageIo;
use crate::types::TypeConfig;

/// Callbacks answered by one fsync, at most.
const FLUSH_BATCH_MAX: usize = 1024;

/// Appends queued for their fsync, at most; `RaftNode::start` keeps the proposer's
/// `proposals_in_flight_max` within it.
pub(crate) const FLUSH_QUEUE_MAX: usize = 1024;

/// A node's log flusher: the queue of appends waiting for their fsync.
pub(crate) enum Flusher<F = LogFlushed<TypeConfig>> {
    /// The loop runs on the blocking pool, started by an append.
    Pool(Arc<Pooled<F>>),
    /// The loop is a task (inline storage); it stops once the handle is dropped.
    Task(mpsc::Sender<Flush<F>>),
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
pub(crate) struct Flush<F> {
    /// The index of its last entry.
    upto: u64,
    callback: F,
}

/// The queue of a flusher on the blocking pool.
pub(crate) struct Pooled<F> {
    db: Arc<Db>,
    bugs: Bugs,
    queue: Mutex<Queue<F>>,
    /// A permit for each append the queue can still take.
    room: Semaphore,
}

struct Queue<F> {
    flushes: Vec<Flush<F>>,
    /// A loop has started and not yet found the queue empty: it takes what is queued.
    running: bool,
}

impl<F: Callback> Flusher<F> {
    /// A flusher for storage work run as `io` says. Must be called on a tokio runtime.
    pub(crate) fn start(db: Arc<Db>, io: StorageIo, bugs: Bugs) -> Flusher<F> {
        Flusher::with_queue(db, io, bugs, FLUSH_QUEUE_MAX)
    }

    fn with_queue(db: Arc<Db>, io: StorageIo, bugs: Bugs, queue_max: usize) -> Flusher<F> {
        match io {
            StorageIo::BlockingPool => Flusher::Pool(Arc::new(Pooled {
                db,
                bugs,
                queue: Mutex::new(Queue {
                    flushes: Vec::new(),
                    running: false,
                }),
                room: Semaphore::new(queue_max),
            })),
            StorageIo::Inline => {
                let (tx, rx) = mpsc::channel(queue_max);
                tokio::spawn(run_task(db, bugs, rx));
                Flusher::Task(tx)
            }
        }
    }

    /// Answers `callback` once the entries up to `upto`, already written, are durable. Waits
    /// while the queue is full.
    pub(crate) async fn flush(&self, upto: u64, callback: F) {
        match self {
            Flusher::Pool(pooled) => {
                // Never closed: a permit comes back when its flush is answered.
                if let Ok(permit) = pooled.room.acquire().await {
                    permit.forget();
                }
                let start = {
                    let mut queue = pooled.lock();
                    queue.flushes.push(Flush { upto, callback });
                    !std::mem::replace(&mut queue.running, true)
                };
                if start {
                    let pooled = pooled.clone();
                    tokio::task::spawn_blocking(move || pooled.run());
                }
            }
            Flusher::Task(tx) => {
                if let Err(mpsc::error::SendError(flush)) = tx.send(Flush { upto, callback }).await
                {
                    flush
                        .callback
                        .answer(Err(io::Error::other("the log flusher has stopped")));
                }
            }
        }
    }
}

impl<F: Callback> Pooled<F> {
    fn lock(&self) -> MutexGuard<'_, Queue<F>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The loop: fsyncs and answers until it finds nothing queued.
    fn run(&self) {
        let mut running = Running {
            pooled: self,
            taken: Vec::with_capacity(FLUSH_BATCH_MAX),
        };
        loop {
            {
                let mut queue = self.lock();
                if queue.flushes.is_empty() {
                    queue.running = false;
                    return;
                }
                let count = queue.flushes.len().min(FLUSH_BATCH_MAX);
                running.taken.extend(queue.flushes.drain(..count));
            }
            let answered = running.taken.len();
            // Taken before the fsync: every append taken was written before it begins.
            fsync_and_answer(&self.db, self.bugs, &mut running.taken);
            self.room.add_permits(answered);
        }
    }
}

/// A loop's hold on the queue. If the loop unwinds (a panic in the store), what it took and
/// what is queued are answered with an error, which stops the node, and the next append starts
/// a new loop.
struct Running<'a, F: Callback> {
    pooled: &'a Pooled<F>,
    taken: Vec<Flush<F>>,
}

impl<F: Callback> Drop for Running<'_, F> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let queued = {
            let mut queue = self.pooled.lock();
            queue.running = false;
            std::mem::take(&mut queue.flushes)
        };
        let failed = self.taken.len() + queued.len();
        for flush in self.taken.drain(..).chain(queued) {
            flush
                .callback
                .answer(Err(io::Error::other("the log flusher panicked")));
        }
        self.pooled.room.add_permits(failed);
    }
}

/// The loop as a task, for inline storage: the fsync runs on the task.
async fn run_task<F: Callback>(db: Arc<Db>, bugs: Bugs, mut rx: mpsc::Receiver<Flush<F>>) {
    let mut batch = Vec::with_capacity(FLUSH_BATCH_MAX);
    while rx.recv_many(&mut batch, FLUSH_BATCH_MAX).await > 0 {
        fsync_and_answer(&db, bugs, &mut batch);
    }
}

/// One fsync for every append in `batch`, then the answers; leaves `batch` empty.
fn fsync_and_answer<F: Callback>(db: &Db, bugs: Bugs, batch: &mut Vec<Flush<F>>) {
    let result = if bugs.append_reported_unflushed {
        Ok(())
    } else {
        db.log_flush()
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

    /// A callback that sends its answer on a std channel, once the test lets it go if it holds
    /// a `release`.
    struct Gate {
        release: Option<std::sync::mpsc::Receiver<()>>,
        answered: std::sync::mpsc::Sender<Result<(), io::Error>>,
    }

    impl Callback for Gate {
        fn answer(self, result: Result<(), io::Error>) {
            if let Some(release) = self.release {
                let _ = release.recv();
            }
            let _ = self.answered.send(result);
        }
    }

    /// On the blocking pool, the append that finds no fsync running starts one itself: the
    /// fsync and its answer need no task of the runtime to run first (a busy leader's worker
    /// once polled the flusher's task milliseconds after the append). Here the runtime's only
    /// thread blocks right after the appends, and the answers come anyway.
    #[tokio::test(flavor = "current_thread")]
    async fn the_fsync_does_not_wait_for_the_runtime() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(Db::open(dir.path(), &DbOptions::default()).expect("open store"));
        let flusher = Flusher::start(db.clone(), StorageIo::BlockingPool, Bugs::default());
        let synced = db.synced_writes();
        let (tx, rx) = std::sync::mpsc::channel();
        for upto in 1..=3 {
            let answered = Gate {
                release: None,
                answered: tx.clone(),
            };
            flusher.flush(upto, answered).await;
        }
        drop(tx);
        // Blocks the runtime's thread: no task runs until the answers are in.
        let answers: Vec<Result<(), io::Error>> = (0..3)
            .map(|_| {
                rx.recv_timeout(std::time::Duration::from_secs(10))
                    .expect("answered while the runtime's thread was blocked")
            })
            .collect();
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(db.log_reported(), 3);
        assert!(db.synced_writes() > synced, "an fsync ran");
        assert!(db.synced_writes() <= synced + 3);
    }

    /// The queue is bounded (inline): an append past it waits until the flusher has taken the
    /// queue.
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

    /// The bound holds on the blocking pool too: an append's room comes back only once it is
    /// answered, so while the first answer is held the second append waits.
    #[tokio::test(flavor = "current_thread")]
    async fn on_the_pool_a_full_queue_makes_the_append_wait() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Arc::new(Db::open(dir.path(), &DbOptions::default()).expect("open store"));
        let flusher = Flusher::with_queue(db.clone(), StorageIo::BlockingPool, Bugs::default(), 1);
        let (release, held) = std::sync::mpsc::channel();
        let (answered, answers) = std::sync::mpsc::channel();
        let first = Gate {
            release: Some(held),
            answered: answered.clone(),
        };
        flusher.flush(1, first).await;
        let second = Gate {
            release: None,
            answered,
        };
        let mut second = std::pin::pin!(flusher.flush(2, second));
        let pending = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(second.as_mut(), cx).is_pending())
        })
        .await;
        assert!(pending, "queued past the bound");
        release.send(()).expect("the first answer waits");
        second.await;
        for _ in 0..2 {
            answers
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("answered")
                .expect("flushed");
        }
        assert_eq!(db.log_reported(), 2);
    }
}
