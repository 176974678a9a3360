//! One client connection: read bytes, decode a batch of requests, run them in order, write the
//! replies in order with one flush per batch (more when the replies are large).
//!
//! ```text
//!  read ─▶ decode up to pipeline_requests_max requests ─▶ for each, in order:
//!            server command ─▶ reply now
//!            on the leader (see exec.rs):
//!            write          ─▶ submit to the proposer (the next writes queue behind it, so a
//!                              pipeline of writes shares log entries); reply later
//!            read           ─▶ first wait for this batch's earlier writes, then run with the
//!                              batch's other reads on one read view after one read barrier
//!            BLOCK          ─▶ flush what came before, then wait (`Shared::block_on`)
//!            WATCH, EXEC    ─▶ settle what came before, then run where the command must run
//!            on a follower:
//!            any            ─▶ queued; the batch's queued commands go to the leader in one
//!                              `Forward` call, in order (stale reads after `READONLY`: here)
//!        ─▶ encode replies in request order, flushing whenever OUTPUT_FLUSH_BYTES wait ─▶ flush
//! ```
//!
//! A read never sees less than the writes sent before it on the same connection, and a write
//! is submitted only after the reads before it have run, so each client observes its own
//! requests in order.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rill_core::{Command, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::commands::{
    dispatch, wait, Action, Answer, ClientControl, ClientState, PendingExec, Signal,
    WATCHED_KEYS_MAX,
};
use crate::exec::{Interrupt, Interruption, ReadOp, Route};
use crate::resp::{encode, Protocol, ProtocolError, RequestDecoder};
use crate::transport::Transport;
use crate::{stopped, Shared};

/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 16 << 10;
/// Replies are flushed early when this much is waiting, so a batch of large replies does not
/// pile up in memory.
const OUTPUT_FLUSH_BYTES: usize = 1 << 20;
/// How long a client may take to read its last replies once shutdown has begun.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);
/// How long, and for how many bytes, input is discarded after a closing error.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES_MAX: usize = 1 << 20;

pub(crate) async fn serve<S: Transport>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    stream.accepted(peer);
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    shared
        .info
        .connected_clients
        .fetch_add(1, Ordering::Relaxed);
    let control = shared.info.client_connected(id, peer);
    let mut connection = Connection {
        control,
        decoder: RequestDecoder::new(shared.info.config.limits.frame_limits()),
        client: ClientState::new(id),
        input: BytesMut::with_capacity(READ_CHUNK_BYTES),
        output: Vec::new(),
        stream,
        shared: Arc::clone(&shared),
        shutdown,
    };
    match connection.run().await {
        Ok(()) => tracing::debug!(id, %peer, "connection closed"),
        Err(error) => tracing::debug!(id, %peer, %error, "connection failed"),
    }
    shared.info.client_gone(id);
    shared
        .info
        .connected_clients
        .fetch_sub(1, Ordering::Relaxed);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

type PendingWrite = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>;

/// A request's reply, possibly not yet known.
enum Slot {
    Ready(Reply),
    Write(PendingWrite),
    Read(ReadOp),
    /// To run on the leader at this Raft address.
    Forward(String, Command),
}

struct Connection<S> {
    stream: S,
    /// CLIENT KILL and CLIENT UNBLOCK from other connections.
    control: Arc<ClientControl>,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    decoder: RequestDecoder,
    client: ClientState,
    /// Bytes read and not yet decoded.
    input: BytesMut,
    /// Encoded replies not yet written.
    output: Vec<u8>,
}

impl<S: Transport> Connection<S> {
    async fn run(&mut self) -> io::Result<()> {
        loop {
            if *self.shutdown.borrow() || self.control.is_killed() {
                return Ok(());
            }
            let (batch, protocol_error) = self.decode_batch();
            if batch.is_empty() && protocol_error.is_none() {
                if self.read_more().await? == Flow::Close {
                    return Ok(());
                }
                continue;
            }
            if !batch.is_empty() && self.run_batch(batch).await? == Flow::Close {
                return Ok(());
            }
            if let Some(error) = protocol_error {
                // The rest of the input cannot be framed: answer, then close, as Redis does.
                return self
                    .close_with_error(Reply::err(format!("ERR {error}")))
                    .await;
            }
        }
    }

    /// The requests already buffered, up to the batch limit, and a framing error if one
    /// follows them.
    fn decode_batch(&mut self) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let batch_max = self.shared.info.config.limits.pipeline_requests_max;
        let mut batch = Vec::new();
        while batch.len() < batch_max {
            match self.decoder.decode(&mut self.input) {
                Ok(Some(argv)) => batch.push(argv),
                Ok(None) => break,
                Err(error) => return (batch, Some(error)),
            }
        }
        (batch, None)
    }

    fn query_buffer_full(&self) -> bool {
        self.input.len() + self.decoder.partial_bytes()
            >= self.shared.info.config.limits.query_buffer_bytes_max
    }

    /// Reads more input, or reports that the connection should close (EOF, shutdown, or a
    /// request larger than the query buffer).
    async fn read_more(&mut self) -> io::Result<Flow> {
        if self.query_buffer_full() {
            // Redis drops such a client silently; a reason costs nothing.
            let error = Reply::err("ERR Protocol error: request exceeds the query buffer limit");
            self.close_with_error(error).await?;
            return Ok(Flow::Close);
        }
        self.input.reserve(READ_CHUNK_BYTES);
        tokio::select! {
            read = self.stream.read_buf(&mut self.input) => match read? {
                0 => Ok(Flow::Close),
                _ => Ok(Flow::Continue),
            },
            _ = stopped(&mut self.shutdown) => Ok(Flow::Close),
            // A stale unblock (the command ended first) is dropped here; a kill closes.
            signal = self.control.signalled() => match signal {
                Signal::Kill => Ok(Flow::Close),
                Signal::Unblock { .. } => Ok(Flow::Continue),
            },
        }
    }

    async fn run_batch(&mut self, batch: Vec<Vec<Vec<u8>>>) -> io::Result<Flow> {
        let mut slots: Vec<(Protocol, Slot)> = Vec::with_capacity(batch.len());
        let mut flow = Flow::Continue;
        for argv in batch {
            let action = dispatch(&argv, &mut self.client, &self.shared.info);
            // After dispatch: `HELLO 3` is itself answered in RESP3.
            let protocol = self.client.protocol;
            match action {
                Action::Reply(reply) => slots.push((protocol, Slot::Ready(reply))),
                Action::Quit => {
                    slots.push((protocol, Slot::Ready(Reply::ok())));
                    flow = Flow::Close;
                    break;
                }
                Action::Info { text, streams } => {
                    // Counted on this node's state, like DBSIZE.
                    self.settle_writes(&mut slots).await;
                    slots.push((protocol, Slot::Read(ReadOp::Info { text, streams })));
                }
                Action::DbSize => {
                    // Counted on this node's state, whatever its role: an estimate suffices.
                    self.settle_writes(&mut slots).await;
                    slots.push((protocol, Slot::Read(ReadOp::DbSize)));
                }
                Action::Watch(keys) => {
                    self.settle(&mut slots).await?;
                    let reply = self.watch(keys).await;
                    slots.push((protocol, Slot::Ready(reply)));
                }
                Action::Exec(pending) => {
                    self.settle(&mut slots).await?;
                    let reply = self.exec(pending).await;
                    slots.push((protocol, Slot::Ready(reply)));
                }
                Action::Wait(wait) => {
                    // The writes before it are acknowledged first: WAIT counts their copies.
                    self.settle(&mut slots).await?;
                    self.flush().await?;
                    match self.wait(wait).await? {
                        Some(reply) => slots.push((protocol, Slot::Ready(reply))),
                        None => return Ok(Flow::Close),
                    }
                }
                Action::Engine(cmd) => {
                    let route = self.shared.route(&cmd, self.client.stale_reads).await;
                    match route {
                        Route::Refuse(reply) => slots.push((protocol, Slot::Ready(reply))),
                        Route::Leader(addr) if cmd.block_ms().is_some() => {
                            self.settle(&mut slots).await?;
                            self.flush().await?;
                            match self.forward_blocking(&addr, cmd).await? {
                                Some(reply) => slots.push((protocol, Slot::Ready(reply))),
                                None => return Ok(Flow::Close),
                            }
                        }
                        Route::Leader(addr) => {
                            self.settle_writes(&mut slots).await;
                            self.settle_reads(&mut slots).await;
                            slots.push((protocol, Slot::Forward(addr, cmd)));
                        }
                        Route::Here if cmd.block_ms().is_some() => {
                            self.settle(&mut slots).await?;
                            self.flush().await?;
                            let shared = Arc::clone(&self.shared);
                            let mut watch = self.client_watch();
                            match shared.block_on(cmd, &mut watch).await? {
                                Some(reply) => slots.push((protocol, Slot::Ready(reply))),
                                None => return Ok(Flow::Close),
                            }
                        }
                        Route::Here if cmd.is_write() => {
                            self.settle_forwards(&mut slots).await;
                            self.settle_reads(&mut slots).await;
                            let pending = self.shared.submit(cmd).await;
                            slots.push((protocol, Slot::Write(Box::pin(pending))));
                        }
                        Route::Here => {
                            self.settle_forwards(&mut slots).await;
                            self.settle_writes(&mut slots).await;
                            slots.push((protocol, Slot::Read(ReadOp::Engine(cmd))));
                        }
                    }
                }
            }
        }
        self.settle(&mut slots).await?;
        assert!(slots.is_empty(), "every reply of the batch is encoded");
        self.flush().await?;
        Ok(flow)
    }

    /// Resolves every slot and encodes the replies, in order, into the output.
    async fn settle(&mut self, slots: &mut Vec<(Protocol, Slot)>) -> io::Result<()> {
        self.settle_forwards(slots).await;
        self.settle_writes(slots).await;
        self.settle_reads(slots).await;
        for (protocol, slot) in slots.drain(..) {
            let Slot::Ready(reply) = slot else {
                unreachable!("settled slots are ready");
            };
            encode(&reply, protocol, &mut self.output);
            // Between replies, not once per batch: the encoded output then stays under one
            // reply plus `OUTPUT_FLUSH_BYTES`, however many large replies the batch holds.
            if self.output.len() >= OUTPUT_FLUSH_BYTES {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Waits for the replies of submitted writes.
    async fn settle_writes(&mut self, slots: &mut [(Protocol, Slot)]) {
        for (_, slot) in slots.iter_mut() {
            if let Slot::Write(pending) = slot {
                let reply = pending.await;
                *slot = Slot::Ready(reply);
            }
        }
    }

    /// Sends the commands waiting to be forwarded to the leader in one call, in order.
    async fn settle_forwards(&mut self, slots: &mut [(Protocol, Slot)]) {
        let mut positions = Vec::new();
        let mut commands = Vec::new();
        let mut leader = None;
        for (position, (_, slot)) in slots.iter_mut().enumerate() {
            if matches!(slot, Slot::Forward(..)) {
                let Slot::Forward(addr, cmd) = std::mem::replace(slot, Slot::Ready(Reply::Nil))
                else {
                    unreachable!("matched a forward");
                };
                positions.push(position);
                commands.push(cmd);
                // Routed within one batch: the leader seen last is the one to ask.
                leader = Some(addr);
            }
        }
        let Some(leader) = leader else {
            return;
        };
        let replies = self.shared.forward(&leader, &commands).await;
        for (position, reply) in positions.into_iter().zip(replies) {
            slots[position].1 = Slot::Ready(reply);
        }
    }

    /// Runs the pending reads together on one read view.
    async fn settle_reads(&mut self, slots: &mut [(Protocol, Slot)]) {
        let mut positions = Vec::new();
        let mut ops = Vec::new();
        let mut stale = true;
        for (position, (_, slot)) in slots.iter_mut().enumerate() {
            if let Slot::Read(op) = slot {
                stale &=
                    matches!(op, ReadOp::DbSize | ReadOp::Info { .. }) || self.client.stale_reads;
                let Slot::Read(op) = std::mem::replace(slot, Slot::Ready(Reply::Nil)) else {
                    unreachable!("matched a read");
                };
                positions.push(position);
                ops.push(op);
            }
        }
        if ops.is_empty() {
            return;
        }
        // A follower with forwarding off serves reads as a Redis replica does: from its state.
        let stale = stale || (!self.shared.forward && !self.shared.node.is_leader());
        let replies = self.shared.run_reads(ops, stale).await;
        assert_eq!(replies.len(), positions.len(), "one reply per read");
        for (position, reply) in positions.into_iter().zip(replies) {
            slots[position].1 = Slot::Ready(reply);
        }
    }

    /// Runs one command where it must run and waits for its reply, as WATCH and EXEC do:
    /// after everything before them on the connection.
    async fn run_now(&mut self, cmd: Command) -> Reply {
        match self.shared.route(&cmd, self.client.stale_reads).await {
            Route::Refuse(reply) => reply,
            Route::Leader(addr) => {
                let mut replies = self.shared.forward(&addr, &[cmd]).await;
                replies.pop().unwrap_or_else(|| Reply::err("ERR no reply"))
            }
            Route::Here if cmd.is_write() => self.shared.submit(cmd).await.await,
            Route::Here => {
                let stale = self.client.stale_reads;
                let mut replies = self
                    .shared
                    .run_reads(vec![ReadOp::Engine(cmd)], stale)
                    .await;
                replies.pop().unwrap_or_else(|| Reply::err("ERR no reply"))
            }
        }
    }

    /// WATCH: reads the keys' stamps and keeps them for EXEC.
    async fn watch(&mut self, keys: Vec<Vec<u8>>) -> Reply {
        if self.client.watched.len() + keys.len() > WATCHED_KEYS_MAX {
            return Reply::err(format!(
                "ERR a connection may watch at most {WATCHED_KEYS_MAX} keys"
            ));
        }
        let reply = self
            .run_now(Command::KeyVersions { keys: keys.clone() })
            .await;
        let Reply::Array(stamps) = reply else {
            return reply;
        };
        for (key, stamp) in keys.into_iter().zip(stamps) {
            let stamp = match stamp {
                Reply::Int(stamp) => u64::try_from(stamp).ok(),
                _ => None,
            };
            self.client.watched.push((key, stamp));
        }
        Reply::ok()
    }

    /// EXEC: the transaction's engine commands in one log entry, and the queued server
    /// commands answered in their places. A null array when a watched key changed.
    async fn exec(&mut self, pending: PendingExec) -> Reply {
        let engine = match pending.command {
            Some(cmd) => self.run_now(cmd).await,
            None => Reply::Array(Vec::new()),
        };
        let mut engine_replies = match engine {
            Reply::Array(replies) => replies.into_iter(),
            // A null array (a watched key changed), or an error for the whole transaction
            // (no leader, too large): nothing ran.
            other => return other,
        };
        let mut replies = Vec::with_capacity(pending.answers.len());
        for answer in pending.answers {
            replies.push(match answer {
                Answer::Engine => engine_replies
                    .next()
                    .unwrap_or_else(|| Reply::err("ERR no reply")),
                Answer::Error(reply) => reply,
                Answer::Server(argv) => self.run_server(&argv).await,
            });
        }
        Reply::Array(replies)
    }

    /// A server command queued in a transaction, run at EXEC.
    async fn run_server(&mut self, argv: &[Vec<u8>]) -> Reply {
        let op = match dispatch(argv, &mut self.client, &self.shared.info) {
            Action::Reply(reply) => return reply,
            Action::Info { text, streams } => ReadOp::Info { text, streams },
            Action::DbSize => ReadOp::DbSize,
            // Inside EXEC, WAIT does not block (as in Redis): it answers the count now.
            Action::Wait(wait) => {
                let status = self.shared.node.status();
                let held = wait::replicas_holding(&status, wait::target(&status));
                return wait.reply(held, self.shared.info.config.fsync);
            }
            // Not queued: QUIT, WATCH, MULTI and EXEC run at once inside MULTI.
            other => return Reply::err(format!("ERR {other:?} cannot run inside EXEC")),
        };
        let mut replies = self.shared.run_reads(vec![op], true).await;
        replies.pop().unwrap_or_else(|| Reply::err("ERR no reply"))
    }

    /// Watches the connection while it waits in a blocking command (and marks it blocked,
    /// for `CLIENT UNBLOCK` and `CLIENT LIST`, until the watch is dropped).
    fn client_watch(&mut self) -> ClientWatch<'_, S> {
        let can_read = !self.query_buffer_full();
        self.control.set_blocked(true);
        ClientWatch {
            stream: &mut self.stream,
            input: &mut self.input,
            shutdown: &mut self.shutdown,
            control: Arc::clone(&self.control),
            can_read,
        }
    }

    /// `WAIT`/`WAITAOF`: polls the replication progress until enough replicas hold every write
    /// acknowledged so far, or the timeout. `None`: the client is gone.
    async fn wait(&mut self, wait: wait::WaitFor) -> io::Result<Option<Reply>> {
        let node = Arc::clone(&self.shared.node);
        let fsync = self.shared.info.config.fsync;
        let target = wait::target(&node.status());
        let deadline = wait
            .timeout
            .map(|timeout| tokio::time::Instant::now() + timeout);
        let mut watch = self.client_watch();
        loop {
            let held = wait::replicas_holding(&node.status(), target);
            let expired = deadline.is_some_and(|at| tokio::time::Instant::now() >= at);
            if wait.satisfied(held) || expired {
                return Ok(Some(wait.reply(held, fsync)));
            }
            tokio::select! {
                _ = tokio::time::sleep(wait::POLL) => {}
                how = watch.interrupted() => return Ok(how?.reply(wait.reply(held, fsync))),
            }
        }
    }

    /// A blocking read forwarded to the leader, abandoned if the client leaves.
    async fn forward_blocking(&mut self, leader: &str, cmd: Command) -> io::Result<Option<Reply>> {
        let shared = Arc::clone(&self.shared);
        let mut watch = self.client_watch();
        let commands = [cmd];
        tokio::select! {
            mut replies = shared.forward(leader, &commands) => Ok(replies.pop()),
            how = watch.interrupted() => Ok(how?.reply(Reply::NilArray)),
        }
    }

    /// Sends a last error and closes. The client may still be sending (the rest of an oversized
    /// request); closing a socket with unread input makes the kernel reset the connection, which
    /// can destroy the error reply before the client reads it. So: reply, send FIN, then discard
    /// input for a short while (a "lingering close", as HTTP servers do).
    async fn close_with_error(&mut self, error: Reply) -> io::Result<()> {
        encode(&error, self.client.protocol, &mut self.output);
        self.flush().await?;
        self.stream.shutdown().await?;
        let linger = async {
            let mut discarded = 0;
            let mut sink = [0u8; 8192];
            while discarded < LINGER_BYTES_MAX {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => discarded += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, linger).await;
        Ok(())
    }

    /// Writes the encoded replies. During shutdown a client that stopped reading gets
    /// `SHUTDOWN_FLUSH` more to take them, so it cannot hold the server up.
    async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let write = self.stream.write_all(&self.output);
        tokio::pin!(write);
        tokio::select! {
            written = &mut write => written?,
            _ = stopped(&mut self.shutdown) => match tokio::time::timeout(SHUTDOWN_FLUSH, write).await {
                Ok(written) => written?,
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "client not reading at shutdown")),
            },
        }
        self.output.clear();
        Ok(())
    }
}

/// Reads into `input` when `can_read`; otherwise returns `Ok(0)` once the peer has closed,
/// like a read at EOF, without growing `input` (see [`Transport::watch_closed`]).
async fn read_or_watch<S: Transport>(
    stream: &mut S,
    input: &mut BytesMut,
    can_read: bool,
) -> io::Result<usize> {
    if can_read {
        return stream.read_buf(input).await;
    }
    stream.watch_closed(input).await
}

/// A blocked client's connection, watched for the client leaving or the server stopping.
/// While blocked, input keeps being read (pipelined requests wait in the buffer); with the
/// buffer full, reading stops but the close is still seen.
struct ClientWatch<'a, S> {
    stream: &'a mut S,
    input: &'a mut BytesMut,
    shutdown: &'a mut watch::Receiver<bool>,
    control: Arc<ClientControl>,
    can_read: bool,
}

impl<S: Transport> Interrupt for ClientWatch<'_, S> {
    async fn interrupted(&mut self) -> io::Result<Interruption> {
        loop {
            if self.can_read {
                self.input.reserve(READ_CHUNK_BYTES);
            }
            tokio::select! {
                read = read_or_watch(self.stream, self.input, self.can_read) => {
                    if read? == 0 {
                        return Ok(Interruption::Gone);
                    }
                }
                _ = stopped(self.shutdown) => return Ok(Interruption::Gone),
                signal = self.control.signalled() => return Ok(match signal {
                    Signal::Kill => Interruption::Gone,
                    Signal::Unblock { error } => Interruption::Unblocked { error },
                }),
            }
        }
    }
}

impl<S> Drop for ClientWatch<'_, S> {
    fn drop(&mut self) {
        self.control.set_blocked(false);
    }
}
