//! Running engine commands on this node, whatever its role: the part of serving a command that
//! is the same for a Redis connection, a gRPC call and a command forwarded by a follower.
//!
//! ```text
//!  leader:   write ─▶ RaftNode::submit (batched into log entries) ─▶ reply once applied here
//!            read  ─▶ RaftNode::read_barrier (read index) ─▶ run on a read view
//!            BLOCK ─▶ block_on: attempt, wait for an applied write to the keys, attempt again
//!  follower: forward ─▶ the leader's Raft service `Forward` ─▶ the leader runs them in order
//!            stale read (opted in) ─▶ run on this node's read view
//! ```

use std::future::Future;
use std::io;
use std::time::Duration;

use rill_core::{Command, Reply, Store};
use rill_raft::NodeError;
use tokio::time::Instant;

use crate::discovery::moved;
use crate::peers::ForwardError;
use crate::Shared;

/// How long a forwarded command may take, beyond its own BLOCK time: ten election timeouts
/// (a leader that cannot answer in that time has lost its followers or the link to this
/// node), within these bounds. The client then gets `-TRYAGAIN` (the command may have run).
const FORWARD_TIMEOUT_MIN: Duration = Duration::from_secs(2);
const FORWARD_TIMEOUT_MAX: Duration = Duration::from_secs(30);
/// How long a command waits for a leader to be elected before giving up.
const LEADER_WAIT: Duration = Duration::from_secs(5);
/// How long a node that is not a member of a cluster (it is being formed, or the node is
/// joining) waits to become one before it refuses a command.
const NOT_MEMBER_WAIT: Duration = Duration::from_secs(1);
/// Stream keys counted per storage call by DBSIZE.
const DBSIZE_SCAN_KEYS: usize = 1024;

/// A read run on a read view.
#[derive(Debug)]
pub(crate) enum ReadOp {
    Engine(Command),
    DbSize,
    /// INFO: the text so far, and whether to append the `streams` section.
    Info {
        text: String,
        streams: bool,
    },
}

/// Where a command runs.
pub(crate) enum Route {
    Here,
    /// The leader's Raft (gRPC) address.
    Leader(String),
    /// A follower with forwarding off: this reply.
    Refuse(Reply),
}

/// `-TRYAGAIN` (redis-py raises `TryAgainError`): nothing is known to have happened; retrying
/// is safe for reads and for writes that were not applied.
pub(crate) fn try_again(why: &str) -> Reply {
    Reply::err(format!("TRYAGAIN {why}"))
}

/// `-UNCERTAIN`: the command was sent or proposed and then its answer was lost, so it may or
/// may not have been applied. Not `TRYAGAIN`, which Redis Cluster clients retry blindly: a
/// retried XADD with `*` would append twice. Clients that can retry safely (an explicit ID,
/// an idempotent producer) may; redis-py raises `ResponseError`.
pub(crate) fn uncertain(why: &str) -> Reply {
    Reply::err(format!(
        "UNCERTAIN {why}; the command may or may not have been applied"
    ))
}

fn is_try_again(reply: &Reply) -> bool {
    matches!(reply, Reply::Error(text) if text.starts_with("TRYAGAIN"))
}

pub(crate) fn node_error(error: NodeError) -> Reply {
    match error {
        NodeError::NotLeader {
            leader: Some((_, peer)),
        } => try_again(&format!(
            "this node lost the leadership; the leader is {}",
            peer.client_addr
        )),
        NodeError::NotLeader { leader: None } => {
            try_again("this node lost the leadership and no leader is known yet")
        }
        NodeError::OutcomeUnknown { leader } => uncertain(&match leader {
            Some((_, peer)) => format!(
                "this node lost the leadership after proposing it; the leader is {}",
                peer.client_addr
            ),
            None => "this node lost the leadership after proposing it".to_owned(),
        }),
        NodeError::NoQuorum => try_again("this node cannot reach a quorum of the cluster"),
        NodeError::ShuttingDown => Reply::err("ERR server is shutting down"),
        NodeError::Refused(why) => Reply::err(format!("ERR {why}")),
    }
}

impl Shared {
    /// Where `cmd` should run now. Waits a little for an election in progress.
    pub(crate) async fn route(&self, cmd: &Command, stale_reads: bool) -> Route {
        if !cmd.is_write() && cmd.block_ms().is_none() && stale_reads {
            return Route::Here;
        }
        let deadline = Instant::now() + LEADER_WAIT;
        let not_member_deadline = Instant::now() + NOT_MEMBER_WAIT;
        loop {
            if self.node.is_leader() {
                return Route::Here;
            }
            // A leader silent for an election timeout may be dead: wait for the election
            // rather than send the command (or the client, with MOVED) to it.
            if let Some((_, peer)) = self.node.live_leader() {
                if self.redirect {
                    if let Some(key) = cmd.keys().first() {
                        return Route::Refuse(moved(key, &peer.client_addr));
                    }
                }
                if !self.forward {
                    if cmd.is_write() {
                        return Route::Refuse(Reply::err(
                            "READONLY You can't write against a read only replica.",
                        ));
                    }
                    // A replica with forwarding off serves reads itself, as a Redis replica does.
                    return Route::Here;
                }
                return Route::Leader(peer.raft_addr);
            }
            if !self.node.is_member() && Instant::now() >= not_member_deadline {
                // Not waiting long: the node learns of a leader only once it has joined.
                return Route::Refuse(try_again(
                    "this node is not a member of a cluster yet (it is joining, or it was never \
                     added); ask another node",
                ));
            }
            if Instant::now() >= deadline {
                return Route::Refuse(try_again("no leader is elected yet"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Queues a write on this node (the leader) and returns what resolves to its reply.
    pub(crate) async fn submit(
        &self,
        cmd: Command,
    ) -> impl Future<Output = Reply> + Send + 'static {
        let submitted = self.node.submit(cmd).await;
        async move {
            match submitted {
                Ok(pending) => pending.await.unwrap_or_else(node_error),
                Err(error) => node_error(error),
            }
        }
    }

    /// Runs reads on one read view. Unless `stale`, first confirms through the read index that
    /// the view holds every write acknowledged before this call.
    pub(crate) async fn run_reads(&self, ops: Vec<ReadOp>, stale: bool) -> Vec<Reply> {
        let count = ops.len();
        if !stale {
            if let Err(error) = self.node.read_barrier().await {
                return vec![node_error(error); count];
            }
        }
        let db = std::sync::Arc::clone(&self.db);
        let limits = self.info.config.engine_limits.clone();
        let now_ms = self.clock.stamp_ms();
        // On the blocking pool, or on this task in the simulator, as the node's storage work.
        let ran = self
            .node
            .storage_io()
            .spawn(move || {
                let mut view = db.read();
                let replies: Vec<Reply> = ops
                    .iter()
                    .map(|op| match op {
                        ReadOp::Engine(cmd) => rill_core::execute(&mut view, cmd, now_ms, &limits),
                        ReadOp::DbSize => db_size(&view),
                        ReadOp::Info { text, streams } => {
                            let mut text = text.clone();
                            if *streams {
                                streams_section(&view, &mut text);
                            }
                            Reply::Bulk(text.into_bytes())
                        }
                    })
                    .collect();
                match view.status() {
                    Ok(()) => replies,
                    Err(error) => {
                        vec![Reply::err(format!("ERR storage failure: {error}")); replies.len()]
                    }
                }
            })
            .await;
        ran.unwrap_or_else(|error| {
            tracing::error!(%error, "read task failed");
            vec![Reply::err("ERR internal error"); count]
        })
    }

    /// Sends `commands` to the leader at `raft_addr`, to run there in order.
    pub(crate) async fn forward(&self, raft_addr: &str, commands: &[Command]) -> Vec<Reply> {
        let election = self.info.config.raft.election_timeout_ms_max;
        let base = Duration::from_millis(election.saturating_mul(10))
            .clamp(FORWARD_TIMEOUT_MIN, FORWARD_TIMEOUT_MAX);
        let timeout = forward_timeout(commands, base);
        if self.node.bugs().forward_twice {
            let _ = self.peers.forward(raft_addr, commands, timeout).await;
        }
        let deadline = Instant::now() + LEADER_WAIT;
        let mut raft_addr = raft_addr.to_owned();
        let sent = loop {
            match self.peers.forward(&raft_addr, commands, timeout).await {
                // Not delivered, so safe to send again: the leader may have died. Held until
                // another leader is known (this node included: it forwards to itself).
                Err(ForwardError::NoLeader(why)) => {
                    match self.another_leader(&raft_addr, deadline).await {
                        Some(next) => raft_addr = next,
                        None => break Err(ForwardError::NoLeader(why)),
                    }
                }
                sent => break sent,
            }
        };
        match sent {
            Ok(replies) => replies,
            Err(ForwardError::NoLeader(why) | ForwardError::NotSent(why)) => {
                let reply = try_again(&format!("the leader could not be reached: {why}"));
                vec![reply; commands.len()]
            }
            // A read changes nothing: it may be tried again whatever happened to it.
            Err(ForwardError::Uncertain(why)) => commands
                .iter()
                .map(|cmd| {
                    let why = format!("the leader did not answer: {why}");
                    if cmd.is_write() {
                        uncertain(&why)
                    } else {
                        try_again(&why)
                    }
                })
                .collect(),
        }
    }

    /// Runs one command on this node or its leader, as a gRPC call does; the reply may be an
    /// error. A blocking read ends when this future is dropped (the caller cancelled).
    pub(crate) async fn run_one(&self, cmd: Command, stale: bool) -> Reply {
        match self.route(&cmd, stale).await {
            Route::Refuse(reply) => reply,
            Route::Leader(addr) => {
                let mut replies = self.forward(&addr, std::slice::from_ref(&cmd)).await;
                replies.pop().expect("a reply per command")
            }
            Route::Here if cmd.block_ms().is_some() => {
                match self.block_on(cmd, &mut NeverInterrupted).await {
                    Ok(Some(reply)) => reply,
                    _ => Reply::NilArray,
                }
            }
            Route::Here if cmd.is_write() => self.submit(cmd).await.await,
            Route::Here => {
                let mut replies = self.run_reads(vec![ReadOp::Engine(cmd)], stale).await;
                replies.pop().expect("a reply per read")
            }
        }
    }

    /// Runs commands a follower forwarded, in order, as this node's own client would.
    pub(crate) async fn run_forwarded(&self, commands: Vec<Command>) -> Vec<Reply> {
        let mut replies: Vec<Reply> = Vec::with_capacity(commands.len());
        let mut writes = Vec::new();
        for cmd in commands {
            if !self.node.is_leader() {
                // Not ours to run any more: the follower retries with the new leader.
                replies.push(node_error(NodeError::NotLeader {
                    leader: self.node.leader(),
                }));
                continue;
            }
            if cmd.block_ms().is_some() {
                settle(&mut replies, &mut writes).await;
                let reply = self.block_on(cmd, &mut NeverInterrupted).await;
                replies.push(reply.ok().flatten().unwrap_or(Reply::NilArray));
            } else if cmd.is_write() {
                writes.push((replies.len(), Box::pin(self.submit(cmd).await)));
                replies.push(Reply::Nil);
            } else {
                settle(&mut replies, &mut writes).await;
                let mut reply = self.run_reads(vec![ReadOp::Engine(cmd)], false).await;
                replies.push(reply.pop().expect("one reply for one read"));
            }
        }
        settle(&mut replies, &mut writes).await;
        replies
    }

    /// XREAD/XREADGROUP with BLOCK, on the leader: run; while there is nothing to deliver,
    /// wait for an applied write to one of the keys, the timeout, the leadership ending, or
    /// `interrupt`. `Ok(None)`: the client went away.
    pub(crate) async fn block_on(
        &self,
        cmd: Command,
        interrupt: &mut impl Interrupt,
    ) -> io::Result<Option<Reply>> {
        let block_ms = cmd.block_ms().expect("only blocking commands block");
        let deadline = (block_ms > 0).then(|| Instant::now() + Duration::from_millis(block_ms));
        // `$` is pinned first, then the client registers, then it makes its first attempt:
        // a write applied before the registration is seen by that attempt (it comes after the
        // pinned ID), one applied after it wakes the wait. No wake-up is lost either way.
        if let Err(error) = self.node.read_barrier().await {
            return Ok(Some(node_error(error)));
        }
        let cmd = match self.resolve_for_blocking(cmd).await {
            Ok(cmd) => cmd,
            Err(reply) => return Ok(Some(reply)),
        };
        let waiter = match self.info.waiters.register(&cmd.keys()) {
            Ok(waiter) => waiter,
            Err(too_many) => return Ok(Some(Reply::err(too_many.to_string()))),
        };
        loop {
            let reply = if cmd.is_write() {
                self.submit(cmd.clone()).await.await
            } else {
                let mut replies = self
                    .run_reads(vec![ReadOp::Engine(cmd.clone())], false)
                    .await;
                replies.pop().expect("one reply for one read")
            };
            if is_try_again(&reply) && !self.node.is_leader() {
                // Leadership lost between attempts: as if seen stepping down.
                match self.wait_for_leader().await {
                    Some((id, _)) if id == self.node.id() => continue,
                    leader => return Ok(Some(node_error(NodeError::NotLeader { leader }))),
                }
            }
            if !matches!(reply, Reply::NilArray) {
                return Ok(Some(reply));
            }
            let claimable = self.claim_wake(&cmd).await;
            tokio::select! {
                // In this order: a write that lands as the timeout fires is still read, and a
                // simulated run takes one branch, not a random one.
                biased;
                _ = waiter.notified() => {}
                _ = sleep_until(deadline) => return Ok(Some(Reply::NilArray)),
                // XREADGROUP ... CLAIM: a pending entry has been idle long enough.
                _ = sleep_until(claimable) => {}
                _ = self.node.stepped_down() => {
                    // Name the new leader when it is known soon: that is where to retry. If
                    // this node wins the election again, the wait simply goes on.
                    match self.wait_for_leader().await {
                        Some((id, _)) if id == self.node.id() => {}
                        leader => return Ok(Some(node_error(NodeError::NotLeader { leader }))),
                    }
                }
                how = interrupt.interrupted() => return Ok(how?.reply(Reply::NilArray)),
            }
        }
    }

    /// The Raft address of a live leader other than the one at `tried`, once one is known; `None`
    /// at `deadline`.
    async fn another_leader(&self, tried: &str, deadline: Instant) -> Option<String> {
        loop {
            match self.node.live_leader() {
                Some((_, peer)) if peer.raft_addr != tried => return Some(peer.raft_addr),
                _ if Instant::now() >= deadline => return None,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// The leader once a new one is known (another node, or this one leading again), or
    /// `None` after `LEADER_WAIT`.
    async fn wait_for_leader(&self) -> Option<(rill_raft::NodeId, rill_raft::Peer)> {
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            match self.node.leader() {
                Some((id, peer)) if id != self.node.id() || self.node.is_leader() => {
                    return Some((id, peer))
                }
                _ if Instant::now() >= deadline => return None,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// For a blocked `XREADGROUP ... CLAIM`: when the first pending entry it could take will
    /// have been idle long enough (`rill_core::engine::claim_wake_ms`), read from this node's
    /// state and its clock; `None` for other reads, or when the state cannot be read (the
    /// wait still ends on writes and its timeout).
    async fn claim_wake(&self, cmd: &Command) -> Option<Instant> {
        let Command::XReadGroup(read) = cmd else {
            return None;
        };
        read.claim_min_idle_ms?;
        let read = read.clone();
        let db = std::sync::Arc::clone(&self.db);
        let now_ms = self.clock.stamp_ms();
        let wake_ms = self
            .node
            .storage_io()
            .spawn(move || {
                let view = db.read();
                let wake = rill_core::engine::claim_wake_ms(&view, &read);
                view.status().ok().and(wake)
            })
            .await
            .ok()
            .flatten()?;
        // One millisecond past: idle time counts whole milliseconds of the stamped clock.
        let delay = wake_ms.saturating_sub(now_ms).saturating_add(1);
        Some(Instant::now() + Duration::from_millis(delay))
    }

    /// Pins XREAD's `$` to the current last ID so a retry after a wake-up keeps its target.
    async fn resolve_for_blocking(&self, mut cmd: Command) -> Result<Command, Reply> {
        let db = std::sync::Arc::clone(&self.db);
        let resolved = self
            .node
            .storage_io()
            .spawn(move || {
                let view = db.read();
                cmd.resolve_for_blocking(&view);
                view.status().map(|()| cmd)
            })
            .await;
        match resolved {
            Ok(Ok(cmd)) => Ok(cmd),
            Ok(Err(error)) => Err(Reply::err(format!("ERR storage failure: {error}"))),
            Err(error) => {
                tracing::error!(%error, "resolve task failed");
                Err(Reply::err("ERR internal error"))
            }
        }
    }
}

/// What ends a blocked wait early: the client leaving (or killed), the server stopping, or
/// `CLIENT UNBLOCK`.
pub(crate) trait Interrupt {
    /// Completes when the wait must end; `Err` for an I/O failure.
    fn interrupted(&mut self) -> impl Future<Output = io::Result<Interruption>> + Send;
}

/// Why a blocked wait ended early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interruption {
    /// The client is gone, killed, or the server is stopping: no reply is wanted.
    Gone,
    /// `CLIENT UNBLOCK`: reply as if the wait timed out, or (`error`) with `-UNBLOCKED`.
    Unblocked { error: bool },
}

impl Interruption {
    /// The reply to a blocked command ended this way (`timed_out`: its reply on a timeout);
    /// `None` when no reply is wanted.
    pub(crate) fn reply(self, timed_out: Reply) -> Option<Reply> {
        match self {
            Interruption::Gone => None,
            Interruption::Unblocked { error: false } => Some(timed_out),
            Interruption::Unblocked { error: true } => Some(Reply::err(UNBLOCKED)),
        }
    }
}

const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// A forwarded blocked read ends when the follower drops the call (the future is dropped).
pub(crate) struct NeverInterrupted;

impl Interrupt for NeverInterrupted {
    fn interrupted(&mut self) -> impl Future<Output = io::Result<Interruption>> + Send {
        std::future::pending()
    }
}

type PendingWrite = std::pin::Pin<Box<dyn Future<Output = Reply> + Send>>;

async fn settle(replies: &mut [Reply], writes: &mut Vec<(usize, PendingWrite)>) {
    for (position, pending) in writes.drain(..) {
        replies[position] = pending.await;
    }
}

/// The deadline of a forwarded batch: its longest BLOCK plus `base`; none when it blocks
/// forever.
fn forward_timeout(commands: &[Command], base: Duration) -> Option<Duration> {
    let mut block_ms = 0;
    for cmd in commands {
        match cmd.block_ms() {
            Some(0) => return None,
            Some(ms) => block_ms = block_ms.max(ms),
            None => {}
        }
    }
    Some(base + Duration::from_millis(block_ms))
}

/// Waits until `deadline`, or forever without one (BLOCK 0).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Streams counted by `INFO streams` at most; past it the counts are marked partial.
const INFO_STREAMS_MAX: usize = 100_000;

/// `# Streams`: how many streams, entries, groups and pending entries this node holds.
fn streams_section(store: &impl Store, text: &mut String) {
    let (mut streams, mut entries, mut groups, mut pending) = (0u64, 0u64, 0u64, 0u64);
    let mut after: Option<Vec<u8>> = None;
    let mut partial = false;
    loop {
        let keys = store.stream_keys(after.as_deref(), DBSIZE_SCAN_KEYS);
        for key in &keys {
            streams += 1;
            entries += store.stream(key).map_or(0, |meta| meta.length);
            for (_, group) in store.groups(key) {
                groups += 1;
                pending += group.pending_count;
            }
        }
        if keys.len() < DBSIZE_SCAN_KEYS {
            break;
        }
        if streams as usize >= INFO_STREAMS_MAX {
            partial = true;
            break;
        }
        after = keys.into_iter().last();
    }
    text.push_str("# Streams\r\n");
    text.push_str(&format!("streams:{streams}\r\n"));
    text.push_str(&format!("stream_entries:{entries}\r\n"));
    text.push_str(&format!("stream_groups:{groups}\r\n"));
    text.push_str(&format!("stream_pending:{pending}\r\n"));
    text.push_str(&format!("streams_partial:{}\r\n\r\n", u8::from(partial)));
}

fn db_size(store: &impl Store) -> Reply {
    let mut count: i64 = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let keys = store.stream_keys(after.as_deref(), DBSIZE_SCAN_KEYS);
        count += keys.len() as i64;
        if keys.len() < DBSIZE_SCAN_KEYS {
            return Reply::Int(count);
        }
        after = keys.into_iter().last();
    }
}
