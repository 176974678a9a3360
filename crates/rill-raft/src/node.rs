//! [`RaftNode`]: one replica, wired together: a [`Db`], its log store and state machine, the
//! Raft core, the proposer that batches commands into log entries, and the stamper that times
//! them.
//!
//! ```text
//!  write(cmd) ─▶ proposal queue (bounded) ─▶ proposer task (proposer.rs): drain up to batch_commands_max
//!                                               │ Request { commands, now_ms: stamp() }
//!                                               ▼ client_write_ff, at most proposals_in_flight_max
//!                                            one log entry, one log fsync per batch
//!  reply ◀── the batch's Response, split per command ◀── applied on this node
//! ```
//!
//! While a batch is being committed, the next one fills up: under load, many clients share one
//! entry, one fsync on each node, one round trip.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{ChangeMembers, ServerState};
use rill_core::{Command, Limits, Reply};
use rill_storage::Db;
use tokio::sync::{mpsc, oneshot, watch};

use crate::bugs::Bugs;
use crate::config::RaftConfig;
use crate::contact::LeaderContact;
use crate::error::Error;
use crate::identity;
use crate::lease::{Lease, MonotonicClock};
use crate::log_store::{BytesTrigger, LogStore, StorageIo};
use crate::network::{Network, SnapshotReceipt, Transport};
use crate::proposer::{propose, EarlyReplies, Proposal, ProposerLimits};
use crate::stamp::{Clock, Stamper};
use crate::state_machine::{ApplyListener, StateMachine};
use crate::types::{LogId, NodeId, Peer, Raft};

/// Why a write or a linearizable read did not go through. Openraft's errors, reduced to what a
/// client can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// This node is not the leader. `leader` is where to go instead, when it is known.
    #[error("not the leader{}", leader.as_ref().map_or(String::new(), |(id, peer)| format!("; the leader is node {id} ({peer})")))]
    NotLeader { leader: Option<(NodeId, Peer)> },
    /// The command was proposed, then this node lost the leadership before it committed: a
    /// newer leader may still commit it. `leader` is the newer leader, when known.
    #[error("the leadership was lost after the command was proposed; it may yet be applied")]
    OutcomeUnknown { leader: Option<(NodeId, Peer)> },
    /// The leader could not confirm its leadership with a quorum in time (a partition).
    #[error("cannot reach a quorum of the cluster")]
    NoQuorum,
    /// The node is stopping or its Raft core has failed.
    #[error("node is shutting down")]
    ShuttingDown,
    /// A membership change or another admin request was refused.
    #[error("{0}")]
    Refused(String),
}

/// What a node needs besides its store, config and network.
#[derive(Clone, Default)]
pub struct NodeOptions {
    /// Engine limits; must be equal on every node of the cluster (they decide replies).
    pub limits: Limits,
    pub proposer: ProposerLimits,
    /// Told about every applied batch (wakes blocked readers).
    pub listener: Option<Arc<dyn ApplyListener>>,
    /// The proposer's clock; `None`: the system clock.
    pub clock: Option<Clock>,
    /// The read lease's clock (`crate::lease`); `None`: tokio's.
    pub monotonic_clock: Option<MonotonicClock>,
    pub storage_io: StorageIo,
    /// Deliberate faults for the simulator; all off by default.
    pub bugs: Bugs,
    /// The incarnation an empty store takes (`crate::identity`); `None`: a random one. The
    /// simulator sets it, to stay deterministic.
    pub fresh_incarnation: Option<u64>,
}

/// This node's view of the cluster, for status calls, `INFO` and `ROLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub leader: Option<(NodeId, Peer)>,
    /// A follower that has not heard from `leader` for an election timeout: the leader may be
    /// dead, and clients are better sent to a live node (this one) until a leader is elected.
    pub leader_silent: bool,
    /// The leader this node last heard from (or first knew of): during an election, the one
    /// that is probably gone.
    pub last_leader: Option<NodeId>,
    pub term: u64,
    /// Every member with its address and whether it votes.
    pub members: Vec<(NodeId, Peer, bool)>,
    /// Store indexes: Raft log index + 1, 0 for none.
    pub last_log_index: u64,
    pub applied_index: u64,
    pub snapshot_index: u64,
    /// Log entries up to here are purged (in a snapshot only).
    pub purged_index: u64,
    /// Leader only: entries each member's log is behind the leader's last entry.
    pub replication_lag: BTreeMap<NodeId, u64>,
    /// Commands applied since this node started (over `applied_index`: commands per entry).
    pub applied_commands: u64,
    /// Fsynced writes of the store since this node started (log appends, votes, truncations).
    pub synced_writes: u64,
    /// Read barriers this node passed on its lease (`crate::lease`), and those that asked a
    /// quorum, since it started.
    pub lease_reads: u64,
    pub quorum_reads: u64,
}

impl Status {
    /// The store index up to which member `id`'s log matches the leader's (leader only).
    pub fn matched_index(&self, id: NodeId) -> u64 {
        let lag = self.replication_lag.get(&id).copied().unwrap_or(0);
        self.last_log_index.saturating_sub(lag)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Shutdown,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Learner => "learner",
            Role::Shutdown => "shutdown",
        }
    }
}

/// A running replica.
pub struct RaftNode {
    id: NodeId,
    /// This node's store's incarnation (`crate::identity`).
    incarnation: u64,
    raft: Raft,
    /// openraft's metrics, kept: `Raft::metrics` hands out a new receiver on every call, and
    /// `is_leader` runs for every command.
    metrics: watch::Receiver<openraft::RaftMetrics<NodeId, Peer>>,
    db: Arc<Db>,
    proposals: mpsc::Sender<Proposal>,
    /// Checked before a command is proposed, so that an oversized one is refused at once
    /// instead of being replicated, fsynced on every node and refused at apply.
    limits: Limits,
    batch_bytes_max: usize,
    snapshot_receipt: SnapshotReceipt,
    leader_contact: LeaderContact,
    /// How long a read barrier may wait for a quorum's confirmation.
    read_barrier_timeout: Duration,
    /// Which AppendEntries the peers accepted, and how long after sending one this node may
    /// serve reads on it (zero: never; `RaftConfig::read_lease_ms`).
    lease: Lease,
    read_lease: Duration,
    lease_reads: AtomicU64,
    quorum_reads: AtomicU64,
    storage_io: StorageIo,
    bugs: Bugs,
    applied_commands: Arc<AtomicU64>,
    /// The task that snapshots by the log's bytes holds a `Raft`: ended with the node, so a
    /// node dropped without `shutdown` does not keep its Raft core running.
    _snapshot_task: Option<AbortOnDrop>,
    /// The leader's removal of members whose store was replaced; ended with the node too.
    _forget_task: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Builds a snapshot each time the log store asks (it has grown by its byte bound). Ends when
/// the Raft core stops: the log store, and with it the sender, is dropped.
async fn snapshot_when_asked(raft: Raft, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        if let Err(error) = raft.trigger().snapshot().await {
            tracing::warn!(%error, "could not trigger a snapshot for the log's size");
        }
    }
}

impl RaftNode {
    /// Starts the Raft core of node `id` over `db`, which holds the node's log and state (a
    /// fresh store for a new node), and its proposer. Must run inside a tokio runtime.
    pub async fn start<T: Transport>(
        id: NodeId,
        db: Arc<Db>,
        config: &RaftConfig,
        network: Network<T>,
        options: NodeOptions,
    ) -> Result<RaftNode, Error> {
        let limits = options.proposer;
        assert!(
            limits.queue_depth_max > 0
                && limits.batch_commands_max > 0
                && limits.proposals_in_flight_max > 0,
            "proposer limits must be positive"
        );
        assert!(
            limits.proposals_in_flight_max <= crate::PROPOSALS_IN_FLIGHT_MAX,
            "proposals_in_flight_max ({}) must be at most {}, the appends the log flusher queues",
            limits.proposals_in_flight_max,
            crate::PROPOSALS_IN_FLIGHT_MAX
        );
        assert!(
            options.limits.largest_command_bytes() <= limits.batch_bytes_max,
            "batch_bytes_max ({}) must hold the largest command the engine limits allow ({} bytes)",
            limits.batch_bytes_max,
            options.limits.largest_command_bytes()
        );
        assert!(
            limits.batch_bytes_max + crate::network::APPEND_FRAMING_BYTES
                <= crate::network::APPEND_BYTES_MAX,
            "batch_bytes_max ({}) must leave one entry room in an AppendEntries ({} bytes)",
            limits.batch_bytes_max,
            crate::network::APPEND_BYTES_MAX
        );
        let engine_limits = options.limits.clone();
        let stamper = Arc::new(match options.clock {
            Some(clock) => Stamper::with_clock(clock),
            None => Stamper::default(),
        });
        let early = options.bugs.reply_before_commit.then(|| EarlyReplies {
            db: db.clone(),
            limits: options.limits.clone(),
            bugs: options.bugs,
        });
        let state_machine = StateMachine::new(
            db.clone(),
            options.limits,
            stamper.clone(),
            options.listener,
        )?
        .with_io(options.storage_io)
        .with_bugs(options.bugs);
        let applied_commands = state_machine.applied_commands();
        let (storage_io, bugs) = (options.storage_io, options.bugs);
        let mut log_store = LogStore::new(db.clone())
            .with_io(options.storage_io)
            .with_bugs(options.bugs);
        let mut snapshot_requests = None;
        if config.snapshot_log_bytes_since_last > 0 {
            let (tx, rx) = mpsc::channel(1);
            log_store = log_store.with_snapshot_trigger(BytesTrigger {
                limit: config.snapshot_log_bytes_since_last,
                appended: Arc::default(),
                tx,
            });
            snapshot_requests = Some(rx);
        }
        let snapshot_receipt = SnapshotReceipt::new(config.snapshot_bytes_max);
        let read_lease = Duration::from_millis(config.read_lease_ms());
        let config = Arc::new(config.to_openraft()?);
        let read_barrier_timeout = Duration::from_millis(2 * config.election_timeout_max);
        let incarnation = identity::load_or_create(&db, options.fresh_incarnation)?;
        let network = match options.monotonic_clock {
            Some(clock) => network.with_lease_clock(clock),
            None => network,
        };
        let strangers = network.strangers();
        let lease = network.lease();
        let raft = Raft::new(id, config, network, log_store, state_machine).await?;
        let forget_task = AbortOnDrop(tokio::spawn(identity::forget_replaced(
            raft.clone(),
            id,
            strangers,
        )));
        let (proposals, rx) = mpsc::channel(limits.queue_depth_max);
        let queue = proposals.downgrade();
        let batch_bytes_max = limits.batch_bytes_max;
        tokio::spawn(propose(raft.clone(), stamper, rx, queue, limits, early));
        let snapshot_task = snapshot_requests
            .map(|requests| AbortOnDrop(tokio::spawn(snapshot_when_asked(raft.clone(), requests))));
        Ok(RaftNode {
            id,
            incarnation,
            metrics: raft.metrics(),
            raft,
            db,
            proposals,
            limits: engine_limits,
            batch_bytes_max,
            snapshot_receipt,
            leader_contact: LeaderContact::default(),
            read_barrier_timeout,
            lease,
            read_lease,
            lease_reads: AtomicU64::new(0),
            quorum_reads: AtomicU64::new(0),
            storage_io,
            bugs,
            applied_commands,
            _snapshot_task: snapshot_task,
            _forget_task: forget_task,
        })
    }

    pub(crate) fn snapshot_receipt(&self) -> &SnapshotReceipt {
        &self.snapshot_receipt
    }

    pub(crate) fn leader_contact(&self) -> &LeaderContact {
        &self.leader_contact
    }

    /// Whether this node follows a leader it has not heard from for an election timeout (or,
    /// knowing of it only from a vote, for an election timeout since it learned of it): that
    /// leader may be gone, and a new one is not elected yet.
    fn leader_silent(&self, leader: Option<NodeId>) -> bool {
        let silence = Duration::from_millis(self.raft.config().election_timeout_min);
        leader.is_some_and(|leader| {
            leader != self.id && self.leader_contact.silent_for(leader, silence)
        })
    }

    /// The leader to send clients and forwarded commands to: the one this node knows of,
    /// unless it has been silent for an election timeout ([`Status::leader_silent`]).
    pub fn live_leader(&self) -> Option<(NodeId, Peer)> {
        self.leader()
            .filter(|(id, _)| !self.leader_silent(Some(*id)))
    }

    /// Where this node runs storage work: blocking reads of its store should run there too.
    pub fn storage_io(&self) -> StorageIo {
        self.storage_io
    }

    /// Proposes `command` in the next batch and waits until it is applied on this node. Only
    /// the leader accepts proposals.
    pub async fn write(&self, command: Command) -> Result<Reply, NodeError> {
        self.submit(command).await?.await
    }

    /// Queues `command` for the next batch (waiting while the queue is full) and returns what
    /// resolves to its reply. Commands submitted one after another are applied in that order.
    pub async fn submit(
        &self,
        command: Command,
    ) -> Result<
        impl std::future::Future<Output = Result<Reply, NodeError>> + Send + 'static,
        NodeError,
    > {
        let bytes = command.size_bytes();
        let refusal = match command.check_limits(&self.limits) {
            Err(reply) => Some(reply),
            Ok(()) if bytes > self.batch_bytes_max => Some(Reply::Error(format!(
                "ERR command of about {bytes} bytes exceeds the {} bytes of a log entry",
                self.batch_bytes_max
            ))),
            Ok(()) => None,
        };
        let reply_rx = match refusal {
            Some(reply) => Err(reply),
            None => {
                let (reply_tx, reply_rx) = oneshot::channel();
                let proposal = Proposal {
                    command,
                    bytes,
                    reply_tx,
                };
                self.proposals
                    .send(proposal)
                    .await
                    .map_err(|_| NodeError::ShuttingDown)?;
                Ok(reply_rx)
            }
        };
        Ok(async move {
            match reply_rx {
                Err(refusal) => Ok(refusal),
                Ok(reply_rx) => reply_rx.await.map_err(|_| NodeError::ShuttingDown)?,
            }
        })
    }

    /// Returns once this node's state machine holds every write acknowledged before the call,
    /// having confirmed that it is still the leader: on its lease (`crate::lease`), else with a
    /// quorum (Raft's read index). A read run after this is linearizable.
    pub async fn read_barrier(&self) -> Result<(), NodeError> {
        if self.bugs.serve_reads_without_read_index && self.is_leader() {
            return Ok(());
        }
        if self.leased_read_index().is_some() {
            self.lease_reads.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.quorum_reads.fetch_add(1, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + self.read_barrier_timeout;
        let confirmed = tokio::time::timeout_at(deadline, self.raft.ensure_linearizable());
        let Ok(confirmed) = confirmed.await else {
            return Err(NodeError::NoQuorum);
        };
        match confirmed {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward))) => {
                Err(NodeError::NotLeader {
                    leader: forward.leader_id.zip(forward.leader_node.clone()),
                })
            }
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                Err(NodeError::NoQuorum)
            }
            Err(RaftError::Fatal(_)) => Err(NodeError::ShuttingDown),
        }
    }

    /// The read index a lease gives, if it holds: this node leads with vote `V`, a majority of
    /// the other voters (of a membership that is not joint) accepted AppendEntries carrying
    /// `V` sent within the lease, and the state machine has applied an entry of `V`'s term.
    /// That entry follows everything a previous leader committed, and this leader answers a
    /// write only once it applied it, so what is applied is the read index.
    pub(crate) fn leased_read_index(&self) -> Option<LogId> {
        if self.read_lease.is_zero() {
            return None;
        }
        let metrics = self.metrics.borrow();
        let vote = metrics.vote;
        if metrics.state != ServerState::Leader || vote.leader_id().voted_for() != Some(self.id) {
            return None;
        }
        let applied = metrics.last_applied?;
        if !vote.is_committed() || applied.leader_id != *vote.leader_id() {
            return None;
        }
        let [voters] = metrics
            .membership_config
            .membership()
            .get_joint_config()
            .as_slice()
        else {
            return None;
        };
        self.lease
            .holds(self.id, &vote, voters, self.read_lease)
            .then_some(applied)
    }

    /// Forms a new cluster of `members` (voters). Only on a node that has never been part of
    /// one; every member may be asked, the first to win an election leads.
    pub async fn initialize(&self, members: BTreeMap<NodeId, Peer>) -> Result<(), NodeError> {
        self.raft
            .initialize(members)
            .await
            .map_err(|error| NodeError::Refused(error.to_string()))
    }

    /// Whether this node has been part of a cluster (it has a vote or a log).
    pub async fn is_initialized(&self) -> Result<bool, NodeError> {
        self.raft
            .is_initialized()
            .await
            .map_err(|_| NodeError::ShuttingDown)
    }

    /// Adds a non-voting member and waits until it has caught up (leader only).
    pub async fn add_learner(&self, id: NodeId, peer: Peer) -> Result<(), NodeError> {
        self.raft
            .add_learner(id, peer, true)
            .await
            .map(drop)
            .map_err(|error| self.client_write_error(error))
    }

    /// Makes `voters` the voting members (leader only); members left out stay as learners.
    pub async fn change_membership(&self, voters: BTreeSet<NodeId>) -> Result<(), NodeError> {
        self.raft
            .change_membership(ChangeMembers::ReplaceAllVoters(voters), true)
            .await
            .map(drop)
            .map_err(|error| self.client_write_error(error))
    }

    pub async fn trigger_snapshot(&self) -> Result<(), NodeError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|_| NodeError::ShuttingDown)
    }

    pub async fn trigger_election(&self) -> Result<(), NodeError> {
        self.raft
            .trigger()
            .elect()
            .await
            .map_err(|_| NodeError::ShuttingDown)
    }

    /// Purges the log up to and including Raft index `upto` (it must be in a snapshot).
    pub async fn purge_log(&self, upto: u64) -> Result<(), NodeError> {
        self.raft
            .trigger()
            .purge_log(upto)
            .await
            .map_err(|_| NodeError::ShuttingDown)
    }

    fn client_write_error(
        &self,
        error: RaftError<NodeId, ClientWriteError<NodeId, Peer>>,
    ) -> NodeError {
        match error {
            RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                NodeError::NotLeader {
                    leader: forward.leader_id.zip(forward.leader_node),
                }
            }
            RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
                NodeError::Refused(error.to_string())
            }
            RaftError::Fatal(_) => NodeError::ShuttingDown,
        }
    }

    /// The leader this node knows of, with its address.
    pub fn leader(&self) -> Option<(NodeId, Peer)> {
        leader_in(&self.metrics.borrow())
    }

    /// Whether this node's membership lists it: false on a store that has not joined a
    /// cluster yet (new, or a lost disk's replacement that the cluster has not taken back).
    pub fn is_member(&self) -> bool {
        self.metrics
            .borrow()
            .membership_config
            .membership()
            .get_node(&self.id)
            .is_some()
    }

    pub fn is_leader(&self) -> bool {
        self.metrics.borrow().state == ServerState::Leader
    }

    /// Completes once this node is not the leader (at once if it is not now).
    pub async fn stepped_down(&self) {
        let mut metrics = self.raft.server_metrics();
        // An error means the core stopped: not the leader either.
        let _ = metrics
            .wait_for(|metrics| metrics.state != ServerState::Leader)
            .await;
    }

    pub fn status(&self) -> Status {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, peer)| (*id, peer.clone(), voters.contains(id)))
            .collect();
        let role = match metrics.state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        };
        let store_index = |index: Option<u64>| index.map_or(0, |i| i + 1);
        let last_log_index = store_index(metrics.last_log_index);
        let replication_lag = metrics
            .replication
            .iter()
            .flatten()
            .map(|(id, matched)| {
                let matched = store_index(matched.map(|log_id| log_id.index));
                (*id, last_log_index.saturating_sub(matched))
            })
            .collect();
        let leader = metrics
            .current_leader
            .and_then(|id| Some((id, membership.get_node(&id)?.clone())));
        let leader_silent = self.leader_silent(leader.as_ref().map(|(id, _)| *id));
        Status {
            id: self.id,
            role,
            leader,
            leader_silent,
            last_leader: self.leader_contact.last_leader(),
            term: metrics.current_term,
            members,
            last_log_index,
            applied_index: store_index(metrics.last_applied.map(|id| id.index)),
            snapshot_index: store_index(metrics.snapshot.map(|id| id.index)),
            purged_index: store_index(metrics.purged.map(|id| id.index)),
            replication_lag,
            applied_commands: self.applied_commands.load(Ordering::Relaxed),
            synced_writes: self.db.synced_writes(),
            lease_reads: self.lease_reads.load(Ordering::Relaxed),
            quorum_reads: self.quorum_reads.load(Ordering::Relaxed),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's store's incarnation: members name it in the membership, and Raft messages
    /// addressed to another one are refused (`crate::identity`).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The Raft handle: the RPC entry points a transport calls, metrics.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Resolves when the Raft core stops on its own: a storage failure (an fsync that
    /// failed, a write RocksDB refused) or a panic. Says why. Not on a requested shutdown.
    /// After an fsync error nothing written since the last good one can be trusted to be on
    /// disk, so the node must not go on; it restarts from what its disk holds.
    pub fn failed(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        // The server metrics change only with the vote, role, leader or membership, and close
        // when the core stops; the full metrics are sent on every turn of the core's loop, and
        // waiting on them woke this task several times per log entry.
        let mut server = self.raft.server_metrics();
        let metrics = self.raft.metrics();
        async move {
            while server.changed().await.is_ok() {}
            let state = metrics.borrow().running_state.clone();
            match state {
                // Shut down as asked: not a failure.
                Err(openraft::error::Fatal::Stopped) => std::future::pending().await,
                Err(fatal) => fatal.to_string(),
                // The core is gone without saying why: it will not serve again either.
                Ok(()) => "the Raft core ended".to_owned(),
            }
        }
    }

    /// The planted bugs this node runs with (the simulator's; none otherwise).
    pub fn bugs(&self) -> Bugs {
        self.bugs
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Stops the Raft core; writes and reads fail from then on. The `Db` closes when the last
    /// handle to it is dropped.
    pub async fn shutdown(&self) {
        if let Err(error) = self.raft.shutdown().await {
            tracing::error!(id = self.id, %error, "raft core did not stop cleanly");
        }
    }
}

/// The leader `raft` knows of, when it also knows the leader's address: a node that has heard
/// from a leader before it holds the membership (its first entries still on their way) knows
/// no leader yet, rather than one without an address.
pub(crate) fn leader_of(raft: &Raft) -> Option<(NodeId, Peer)> {
    leader_in(&raft.metrics().borrow())
}

/// The leader `metrics` name, with its address, if the membership lists it.
fn leader_in(metrics: &openraft::RaftMetrics<NodeId, Peer>) -> Option<(NodeId, Peer)> {
    let id = metrics.current_leader?;
    let peer = metrics
        .membership_config
        .membership()
        .get_node(&id)?
        .clone();
    Some((id, peer))
}
