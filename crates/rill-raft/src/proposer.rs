//! The proposer: batches queued commands into log entries and answers each command once its
//! entry is applied (or the leader is deposed first).
//!
//! ```text
//!  RaftNode::submit ─▶ queue (bounded) ─▶ propose: drain up to batch_commands_max
//!                                           │ Request { commands, now_ms: stamp() }
//!                                           ▼ client_write_ff, at most proposals_in_flight_max
//!  reply ◀── the entry's Response, split per command ◀── applied on this node
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::ClientWriteError;
use openraft::ServerState;
use rill_core::{Command, Limits, Reply};
use rill_storage::Db;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::bugs::Bugs;
use crate::node::{leader_of, NodeError};
use crate::planted;
use crate::stamp::Stamper;
use crate::types::{Raft, Request};

/// The most log entries `ProposerLimits::proposals_in_flight_max` may allow: the appends the
/// log flusher queues for their fsync.
pub const PROPOSALS_IN_FLIGHT_MAX: usize = crate::flusher::FLUSH_QUEUE_MAX;

/// Sizes of the proposer. Units are in the names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposerLimits {
    /// Commands waiting to be proposed; a full queue makes writers wait (backpressure).
    pub queue_depth_max: usize,
    /// Commands in one log entry.
    pub batch_commands_max: usize,
    /// Bytes of commands in one log entry ([`Command::size_bytes`]); a command larger than
    /// this is refused before it is proposed. Keeps every entry within one AppendEntries
    /// (`network::APPEND_BYTES_MAX`).
    pub batch_bytes_max: usize,
    /// Log entries proposed and not yet applied. One is fastest on our 2-core machine (50
    /// clients, redis-benchmark XADD: 18.3k/s with 1, 17.9k with 2, 13.2k with 4; with the
    /// group commit, 11.4k with 1 and 11.0k with 4 on a slower day): an entry costs far more
    /// CPU than a command, so fewer, larger batches win. At most
    /// [`PROPOSALS_IN_FLIGHT_MAX`].
    pub proposals_in_flight_max: usize,
    /// How long the proposer may wait for the clients it has just answered before it
    /// proposes a batch without them (zero: never). See [`Gather`].
    pub gather_wait_max: Duration,
}

impl Default for ProposerLimits {
    fn default() -> ProposerLimits {
        ProposerLimits {
            queue_depth_max: 8192,
            batch_commands_max: 1024,
            // Above the largest command (an XCLAIM of 100,000 IDs, about 1.9 MiB), and an
            // entry of this size is written and fsynced by a follower well within a heartbeat.
            batch_bytes_max: 2 << 20,
            proposals_in_flight_max: 1,
            gather_wait_max: Duration::from_millis(1),
        }
    }
}

pub(crate) struct Proposal {
    pub(crate) command: Command,
    /// `command.size_bytes()`, computed once.
    pub(crate) bytes: usize,
    pub(crate) reply_tx: oneshot::Sender<Result<Reply, NodeError>>,
}

/// The commands of the next log entry, and one that did not fit in it (it starts the next).
struct Batch {
    proposals: Vec<Proposal>,
    bytes: usize,
    carry: Option<Proposal>,
    commands_max: usize,
    bytes_max: usize,
}

impl Batch {
    fn new(limits: &ProposerLimits) -> Batch {
        Batch {
            proposals: Vec::with_capacity(limits.batch_commands_max),
            bytes: 0,
            carry: None,
            commands_max: limits.batch_commands_max,
            bytes_max: limits.batch_bytes_max,
        }
    }

    /// The first command of a batch: the carried one, else the next queued.
    async fn start(&mut self, rx: &mut mpsc::Receiver<Proposal>) -> bool {
        let first = match self.carry.take() {
            Some(carried) => carried,
            None => match rx.recv().await {
                Some(proposal) => proposal,
                None => return false,
            },
        };
        self.bytes = first.bytes;
        self.proposals.push(first);
        true
    }

    fn full(&self) -> bool {
        self.carry.is_some() || self.proposals.len() >= self.commands_max
    }

    /// Adds `proposal`, or carries it to the next batch if it would not fit.
    fn push(&mut self, proposal: Proposal) {
        if self.bytes + proposal.bytes > self.bytes_max {
            self.carry = Some(proposal);
        } else {
            self.bytes += proposal.bytes;
            self.proposals.push(proposal);
        }
    }

    /// Moves queued proposals in until the batch is full or the queue is empty.
    fn drain(&mut self, rx: &mut mpsc::Receiver<Proposal>) {
        while !self.full() {
            match rx.try_recv() {
                Ok(proposal) => self.push(proposal),
                Err(_) => break,
            }
        }
    }
}

/// The proposer: batches queued commands into log entries until every sender is gone.
/// The planted bug `Bugs::reply_before_commit`: each batch is answered with what it would
/// answer if it committed, computed on the leader's state once the batch before it applied,
/// and sent as soon as the batch is handed to Raft.
pub(crate) struct EarlyReplies {
    pub(crate) db: Arc<Db>,
    pub(crate) limits: Limits,
    pub(crate) bugs: Bugs,
}

impl EarlyReplies {
    fn replies(&self, request: &Request) -> Vec<Reply> {
        // A transaction never committed: a dry run.
        let mut txn = self.db.begin();
        request
            .commands
            .iter()
            .map(|command| planted::run(&mut txn, command, request.now_ms, &self.limits, self.bugs))
            .collect()
    }
}

pub(crate) async fn propose(
    raft: Raft,
    stamper: Arc<Stamper>,
    mut rx: mpsc::Receiver<Proposal>,
    queue: mpsc::WeakSender<Proposal>,
    limits: ProposerLimits,
    early: Option<EarlyReplies>,
) {
    let in_flight = Arc::new(Semaphore::new(limits.proposals_in_flight_max));
    let mut gather = Gather::new(queue, limits.gather_wait_max);
    let mut batch = Batch::new(&limits);
    // With early replies: ends when the previous batch is done.
    let mut previous: Option<oneshot::Receiver<()>> = None;
    loop {
        // Wait for a free slot first: while every slot is taken, commands pile up in the
        // queue and the next batch grows.
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let expected = gather.expected(rx.len());
        if !batch.start(&mut rx).await {
            return;
        }
        batch.drain(&mut rx);
        let target = expected.min(limits.batch_commands_max);
        if batch.proposals.len() < target && !batch.full() && gather.may_wait() {
            let deadline = tokio::time::Instant::now() + limits.gather_wait_max;
            let mut arrived = true;
            while arrived && batch.proposals.len() < target && !batch.full() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(proposal)) => {
                        batch.push(proposal);
                        batch.drain(&mut rx);
                    }
                    // Closed: propose what is here; the next `recv` ends the loop.
                    Ok(None) => break,
                    Err(_) => arrived = false,
                }
            }
            gather.waited(arrived);
        }
        let (commands, reply_txs): (Vec<Command>, Vec<_>) = batch
            .proposals
            .drain(..)
            .map(|proposal| (proposal.command, proposal.reply_tx))
            .unzip();
        let request = Request {
            commands: commands.into(),
            now_ms: stamper.stamp(),
        };
        let early_replies = match &early {
            Some(early) => {
                if let Some(done) = previous.take() {
                    let _ = done.await;
                }
                Some(early.replies(&request))
            }
            None => None,
        };
        let pending = match raft.client_write_ff(request).await {
            Ok(pending) => pending,
            Err(_fatal) => {
                for reply_tx in reply_txs {
                    let _ = reply_tx.send(Err(NodeError::ShuttingDown));
                }
                continue;
            }
        };
        let mut reply_txs = reply_txs;
        let mut done = None;
        if let Some(replies) = early_replies {
            for (reply_tx, reply) in reply_txs.drain(..).zip(replies) {
                let _ = reply_tx.send(Ok(reply));
            }
            let (tx, rx) = oneshot::channel();
            (done, previous) = (Some(tx), Some(rx));
        }
        let node = raft.clone();
        let answered = gather.answered();
        let term = raft.metrics().borrow().current_term;
        tokio::spawn(async move {
            // openraft answers a deposed leader's unreplicated entry only once a newer leader's
            // entries overwrite it, which may take long; the proposer's slot is held meanwhile.
            // So losing the leadership ends the wait: the client hears that the outcome is
            // unknown (its write may yet commit), and the slot is freed.
            let outcome = tokio::select! {
                biased;
                outcome = pending => Some(outcome),
                () = deposed(&node, term) => None,
            };
            answered.record(reply_txs.len());
            drop(permit);
            let Some(outcome) = outcome else {
                let error = NodeError::OutcomeUnknown {
                    leader: leader_of(&node),
                };
                for reply_tx in reply_txs {
                    let _ = reply_tx.send(Err(error.clone()));
                }
                drop(done);
                return;
            };
            drop(done);
            if reply_txs.is_empty() {
                return;
            }
            let result = match outcome {
                Ok(Ok(response)) => Ok(response.data.replies),
                Ok(Err(ClientWriteError::ForwardToLeader(forward))) => Err(NodeError::NotLeader {
                    leader: forward.leader_id.zip(forward.leader_node),
                }),
                Ok(Err(ClientWriteError::ChangeMembershipError(error))) => {
                    Err(NodeError::Refused(error.to_string()))
                }
                Err(_) => Err(NodeError::ShuttingDown),
            };
            match result {
                Ok(replies) => {
                    assert_eq!(replies.len(), reply_txs.len(), "a reply per command");
                    for (reply_tx, reply) in reply_txs.into_iter().zip(replies) {
                        // A dropped receiver is a client that went away; its write stands.
                        let _ = reply_tx.send(Ok(reply));
                    }
                }
                Err(error) => {
                    let error = match error {
                        // The leader may have become known since the entry was refused.
                        NodeError::NotLeader { leader: None } => NodeError::NotLeader {
                            leader: leader_of(&node),
                        },
                        error => error,
                    };
                    for reply_tx in reply_txs {
                        let _ = reply_tx.send(Err(error.clone()));
                    }
                }
            }
        });
    }
}

/// Resolves once this node no longer leads in `term` (another term, or not the leader).
async fn deposed(raft: &Raft, term: u64) {
    // Not `metrics()`: those are sent on every turn of the core's loop.
    let mut metrics = raft.server_metrics();
    loop {
        {
            let now = metrics.borrow_and_update();
            if now.vote.leader_id().term != term || now.state != ServerState::Leader {
                return;
            }
        }
        if metrics.changed().await.is_err() {
            // The core stopped: `pending` answers.
            std::future::pending::<()>().await;
        }
    }
}

/// How many commands the next batch should hold, and whether to wait for them.
///
/// With one entry in flight, 50 clients that each wait for their reply split into two
/// cohorts: one is answered while the other's entry is in flight, and the first command back
/// goes out alone with the other cohort (measured: 24 commands per entry for 50 clients, 98
/// for 200). An entry costs far more than a command (about 1.2 core-ms across three nodes
/// against 15 core-µs), so the proposer expects the clients it has just answered to come back
/// and waits up to `gather_wait_max` for them: when an entry's commands are answered, the
/// next batch is expected to hold them plus the commands queued at that moment. A client that
/// was answered and then went quiet makes a wait time out; the proposer then does not wait for
/// the next [`Gather::BACKOFF`] batches, so a workload whose clients do not come back pays for
/// one wait in `BACKOFF + 1` batches. One client waiting for each reply never waits: it is the
/// one expected, and the first to come back.
struct Gather {
    answered: Answered,
    wait_max: Duration,
    /// Batches still to propose without waiting after a wait that timed out.
    skip: u32,
}

/// Told by the task that answers an entry's commands, before it frees the entry's slot.
#[derive(Clone)]
struct Answered {
    /// The commands the next batch is expected to hold (the largest told since it was read).
    expected: Arc<AtomicUsize>,
    /// The queue, to see how many commands wait in it; weak, so the proposer still ends when
    /// every sender is gone.
    queue: mpsc::WeakSender<Proposal>,
}

impl Answered {
    fn record(&self, commands: usize) {
        let queued = self
            .queue
            .upgrade()
            .map_or(0, |queue| queue.max_capacity() - queue.capacity());
        self.expected
            .fetch_max(commands + queued, Ordering::Relaxed);
    }
}

impl Gather {
    const BACKOFF: u32 = 8;

    fn new(queue: mpsc::WeakSender<Proposal>, wait_max: Duration) -> Gather {
        Gather {
            answered: Answered {
                expected: Arc::default(),
                queue,
            },
            wait_max,
            skip: 0,
        }
    }

    fn answered(&self) -> Answered {
        self.answered.clone()
    }

    /// The commands expected in the next batch, given `queued` now.
    fn expected(&mut self, queued: usize) -> usize {
        queued.max(self.answered.expected.swap(0, Ordering::Relaxed))
    }

    fn may_wait(&mut self) -> bool {
        if self.wait_max.is_zero() {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// After a wait: `complete` if the expected commands all arrived in time.
    fn waited(&mut self, complete: bool) {
        if !complete {
            self.skip = Gather::BACKOFF;
        }
    }
}
