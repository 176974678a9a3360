//! One client connection: read bytes, decode a batch of requests, run them in order, write the
//! replies in order with one flush per batch (more when the replies are large).
//!
//! ```text
//!  read ─▶ decode up to pipeline_requests_max requests ─▶ for each, in order:
//!            server command ─▶ reply now
//!            write          ─▶ submit to the writer (the next writes queue behind it, so a
//!                              pipeline of writes shares group commits); reply later
//!            read           ─▶ first wait for this batch's earlier writes, then run with the
//!                              batch's other reads on one read view
//!            BLOCK          ─▶ flush what came before, then wait (see `block`)
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
use rill_core::{Command, Reply, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::apply::WriterGone;
use crate::commands::{dispatch, Action, ClientState};
use crate::resp::{encode, Protocol, ProtocolError, RequestDecoder};
use crate::{stopped, Shared};

/// Bytes asked of the socket per read.
const READ_CHUNK_BYTES: usize = 16 << 10;
/// Replies are flushed early when this much is waiting, so a batch of large replies does not
/// pile up in memory.
const OUTPUT_FLUSH_BYTES: usize = 1 << 20;
/// How often a blocked client whose query buffer is full is checked for having closed, while
/// unread input keeps its socket readable.
const PEER_CLOSED_CHECK: Duration = Duration::from_millis(50);
/// How long a client may take to read its last replies once shutdown has begun.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);
/// How long, and for how many bytes, input is discarded after a closing error.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES_MAX: usize = 1 << 20;
/// Stream keys counted per storage call by DBSIZE.
const DBSIZE_SCAN_KEYS: usize = 1024;

pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    // Replies are flushed per batch already; Nagle would only add latency.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, %peer, "set_nodelay failed");
    }
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    shared
        .info
        .connected_clients
        .fetch_add(1, Ordering::Relaxed);
    let mut connection = Connection {
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

/// A read the connection runs on a read view.
#[derive(Debug)]
enum ReadOp {
    Engine(Command),
    DbSize,
}

/// A request's reply, possibly not yet known.
enum Slot {
    Ready(Reply),
    Write(Result<oneshot::Receiver<Reply>, WriterGone>),
    Read(ReadOp),
}

struct Connection {
    stream: TcpStream,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    decoder: RequestDecoder,
    client: ClientState,
    /// Bytes read and not yet decoded.
    input: BytesMut,
    /// Encoded replies not yet written.
    output: Vec<u8>,
}

impl Connection {
    async fn run(&mut self) -> io::Result<()> {
        loop {
            if *self.shutdown.borrow() {
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
                Action::DbSize => {
                    self.settle_writes(&mut slots).await;
                    slots.push((protocol, Slot::Read(ReadOp::DbSize)));
                }
                Action::Engine(cmd) if cmd.block_ms().is_some() => {
                    self.settle(&mut slots).await?;
                    self.flush().await?;
                    match self.block(cmd).await? {
                        Some(reply) => slots.push((self.client.protocol, Slot::Ready(reply))),
                        None => return Ok(Flow::Close),
                    }
                }
                Action::Engine(cmd) if cmd.is_write() => {
                    self.settle_reads(&mut slots).await;
                    let reply_rx = self.shared.writer.submit(cmd).await;
                    slots.push((protocol, Slot::Write(reply_rx)));
                }
                Action::Engine(cmd) => {
                    self.settle_writes(&mut slots).await;
                    slots.push((protocol, Slot::Read(ReadOp::Engine(cmd))));
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
            if let Slot::Write(submitted) = slot {
                let reply = match std::mem::replace(submitted, Err(WriterGone)) {
                    Ok(reply_rx) => reply_rx
                        .await
                        .unwrap_or_else(|_| Reply::err(WriterGone.to_string())),
                    Err(gone) => Reply::err(gone.to_string()),
                };
                *slot = Slot::Ready(reply);
            }
        }
    }

    /// Runs the pending reads together on one read view.
    async fn settle_reads(&mut self, slots: &mut [(Protocol, Slot)]) {
        let mut positions = Vec::new();
        let mut ops = Vec::new();
        for (position, (_, slot)) in slots.iter_mut().enumerate() {
            if matches!(slot, Slot::Read(_)) {
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
        let replies = self.run_reads(ops).await;
        assert_eq!(replies.len(), positions.len(), "one reply per read");
        for (position, reply) in positions.into_iter().zip(replies) {
            slots[position].1 = Slot::Ready(reply);
        }
    }

    /// Executes reads on a read view, off the async threads (RocksDB calls block).
    async fn run_reads(&self, ops: Vec<ReadOp>) -> Vec<Reply> {
        let count = ops.len();
        let shared = Arc::clone(&self.shared);
        let ran = tokio::task::spawn_blocking(move || {
            let mut view = shared.db.read();
            let limits = &shared.info.config.engine_limits;
            let replies: Vec<Reply> = ops
                .iter()
                .map(|op| match op {
                    ReadOp::Engine(cmd) => {
                        rill_core::execute(&mut view, cmd, shared.clock.stamp_ms(), limits)
                    }
                    ReadOp::DbSize => db_size(&view),
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

    /// XREAD/XREADGROUP with BLOCK: run; while there is nothing to deliver, wait for a write
    /// to one of the keys, the timeout, or the client going away. `None`: close the connection.
    async fn block(&mut self, cmd: Command) -> io::Result<Option<Reply>> {
        let block_ms = cmd.block_ms().expect("only blocking commands block");
        let deadline = (block_ms > 0).then(|| Instant::now() + Duration::from_millis(block_ms));
        // `$` is pinned first, then the client registers, then it makes its first attempt:
        // a write before the registration is seen by that attempt (it comes after the pinned
        // ID), a write after it wakes the wait. No wake-up is lost either way.
        let cmd = match self.resolve_for_blocking(cmd).await {
            Ok(cmd) => cmd,
            Err(reply) => return Ok(Some(reply)),
        };
        let waiter = match self.shared.info.waiters.register(&cmd.keys()) {
            Ok(waiter) => waiter,
            Err(too_many) => return Ok(Some(Reply::err(too_many.to_string()))),
        };
        loop {
            let reply = if cmd.is_write() {
                self.shared.writer.call(cmd.clone()).await
            } else {
                let mut replies = self.run_reads(vec![ReadOp::Engine(cmd.clone())]).await;
                replies.pop().expect("one reply for one read")
            };
            if !matches!(reply, Reply::NilArray) {
                return Ok(Some(reply));
            }
            loop {
                // While blocked, keep reading (pipelined requests wait in the buffer; EOF
                // means the client left). With the buffer full, stop reading but still watch
                // for the client leaving, so its slot and buffer are released.
                let can_read = !self.query_buffer_full();
                if can_read {
                    self.input.reserve(READ_CHUNK_BYTES);
                }
                tokio::select! {
                    _ = waiter.notified() => break,
                    _ = sleep_until(deadline) => return Ok(Some(Reply::NilArray)),
                    read = read_or_watch(&mut self.stream, &mut self.input, can_read) => {
                        if read? == 0 {
                            return Ok(None);
                        }
                    }
                    _ = stopped(&mut self.shutdown) => return Ok(None),
                }
            }
        }
    }

    /// Pins XREAD's `$` to the current last ID so a retry after a wake-up keeps its target.
    async fn resolve_for_blocking(&self, mut cmd: Command) -> Result<Command, Reply> {
        let shared = Arc::clone(&self.shared);
        let resolved = tokio::task::spawn_blocking(move || {
            let view = shared.db.read();
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

/// Reads into `input` when `can_read`; otherwise reads nothing and returns `Ok(0)` once the
/// peer has closed (FIN or reset), like a read at EOF. Unread input ahead of the FIN does not
/// hide it: the close is seen through the socket's read-closed readiness (EPOLLRDHUP/HUP), which
/// tokio keeps once set. While input is pending the socket stays readable, so between checks
/// this sleeps `PEER_CLOSED_CHECK` instead of spinning.
async fn read_or_watch(
    stream: &mut TcpStream,
    input: &mut BytesMut,
    can_read: bool,
) -> io::Result<usize> {
    if can_read {
        return stream.read_buf(input).await;
    }
    loop {
        let ready = stream.ready(Interest::READABLE).await?;
        if ready.is_read_closed() {
            return Ok(0);
        }
        tokio::time::sleep(PEER_CLOSED_CHECK).await;
    }
}

/// Waits until `deadline`, or forever without one (BLOCK 0).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
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
