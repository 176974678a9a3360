//! The simulated network: Raft RPCs and client calls as length-prefixed frames over turmoil's
//! TCP, one connection per call (turmoil never resends a lost segment, so a connection that
//! lost one would hang; a fresh one per call fails cleanly at its deadline instead).
//!
//! ```text
//! request:  kind u8 | len u32 BE | payload      response: ok u8 (1 ok, 0 error) | len u32 BE | payload
//! ```

use std::sync::Arc;
use std::time::Duration;

use rill_core::{Command, Reply};
use rill_raft::{NodeError, NodeId, Peer, RaftNode, RpcKind, Transport, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream};

pub const RAFT_PORT: u16 = 7000;
/// Largest frame either side accepts.
const FRAME_BYTES_MAX: usize = 64 << 20;

const KIND_APPEND: u8 = 0;
const KIND_VOTE: u8 = 1;
const KIND_SNAPSHOT: u8 = 2;
const KIND_WRITE: u8 = 10;
const KIND_READ: u8 = 11;

fn kind_byte(kind: RpcKind) -> u8 {
    match kind {
        RpcKind::AppendEntries => KIND_APPEND,
        RpcKind::Vote => KIND_VOTE,
        RpcKind::InstallSnapshot => KIND_SNAPSHOT,
    }
}

async fn write_frame(stream: &mut TcpStream, head: u8, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(head);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await?;
    stream.flush().await
}

async fn read_frame(stream: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let head = stream.read_u8().await?;
    let len = stream.read_u32().await? as usize;
    if len > FRAME_BYTES_MAX {
        return Err(std::io::Error::other(format!("frame of {len} bytes")));
    }
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await?;
    Ok((head, payload))
}

/// One call: connect, send, read the answer, all within `timeout` of simulated time.
async fn call(
    addr: &str,
    head: u8,
    payload: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, CallError> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        write_frame(&mut stream, head, payload)
            .await
            .map_err(|e| CallError::Lost(e.to_string()))?;
        let (ok, answer) = read_frame(&mut stream)
            .await
            .map_err(|e| CallError::Lost(e.to_string()))?;
        if ok == 1 {
            Ok(answer)
        } else {
            Err(CallError::Refused(
                String::from_utf8_lossy(&answer).into_owned(),
            ))
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(CallError::Lost("deadline".to_owned())),
    }
}

#[derive(Debug)]
pub enum CallError {
    /// Nothing was sent.
    Unreachable(String),
    /// Sent; the outcome is unknown.
    Lost(String),
    /// The other side answered with an error.
    Refused(String),
}

/// `rill_raft::Transport` over the simulated network.
#[derive(Clone, Default)]
pub struct SimTransport;

impl Transport for SimTransport {
    async fn call(
        &self,
        _target: NodeId,
        peer: &Peer,
        kind: RpcKind,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        match call(&peer.raft_addr, kind_byte(kind), &payload, timeout).await {
            Ok(answer) => Ok(answer),
            Err(CallError::Unreachable(why)) => Err(TransportError::Unreachable(why)),
            Err(CallError::Lost(why) | CallError::Refused(why)) => {
                Err(TransportError::Network(why))
            }
        }
    }
}

/// What a client call to a node answered.
#[derive(Debug)]
pub enum ClientOutcome {
    Reply(Reply),
    /// Refused before anything was submitted (this node is not the leader): not applied.
    NotLeader,
    /// Submitted or maybe submitted, then lost: applied or not.
    Unknown,
}

/// A client's write or linearizable read, sent to one node.
pub async fn client_call(
    addr: &str,
    command: &Command,
    read: bool,
    timeout: Duration,
) -> ClientOutcome {
    let payload = match postcard::to_stdvec(command) {
        Ok(payload) => payload,
        Err(_) => return ClientOutcome::NotLeader,
    };
    let head = if read { KIND_READ } else { KIND_WRITE };
    match call(addr, head, &payload, timeout).await {
        Ok(answer) => match postcard::from_bytes(&answer) {
            Ok(reply) => ClientOutcome::Reply(reply),
            Err(_) => ClientOutcome::Unknown,
        },
        Err(CallError::Unreachable(_)) => ClientOutcome::NotLeader,
        Err(CallError::Refused(why)) if why.starts_with(NOT_LEADER) => ClientOutcome::NotLeader,
        Err(_) => ClientOutcome::Unknown,
    }
}

const NOT_LEADER: &str = "not leader";

/// Serves Raft RPCs and client calls on `RAFT_PORT` until the host crashes.
pub async fn serve(node: Arc<RaftNode>, skip_read_index: bool) -> std::io::Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", RAFT_PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let node = Arc::clone(&node);
        tokio::task::spawn_local(async move {
            let _ = serve_one(&node, stream, skip_read_index).await;
        });
    }
}

async fn serve_one(
    node: &RaftNode,
    mut stream: TcpStream,
    skip_read_index: bool,
) -> std::io::Result<()> {
    let (kind, payload) = read_frame(&mut stream).await?;
    let answer: Result<Vec<u8>, String> = match kind {
        KIND_APPEND | KIND_VOTE | KIND_SNAPSHOT => {
            let kind = match kind {
                KIND_APPEND => RpcKind::AppendEntries,
                KIND_VOTE => RpcKind::Vote,
                _ => RpcKind::InstallSnapshot,
            };
            node.serve_rpc(kind, &payload)
                .await
                .map_err(|e| e.to_string())
        }
        KIND_WRITE | KIND_READ => {
            client_request(node, kind == KIND_READ, skip_read_index, &payload).await
        }
        other => Err(format!("unknown kind {other}")),
    };
    match answer {
        Ok(bytes) => write_frame(&mut stream, 1, &bytes).await,
        Err(why) => write_frame(&mut stream, 0, why.as_bytes()).await,
    }
}

async fn client_request(
    node: &RaftNode,
    read: bool,
    skip_read_index: bool,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let command: Command = postcard::from_bytes(payload).map_err(|e| e.to_string())?;
    if !node.is_leader() {
        return Err(NOT_LEADER.to_owned());
    }
    let reply = if read {
        if !skip_read_index {
            node.read_barrier().await.map_err(|e| e.to_string())?;
        }
        let mut view = node.db().read();
        // Reads stamp with 0: the simulator's reads (XRANGE) do not look at the time.
        rill_core::execute(&mut view, &command, 0, &rill_core::Limits::default())
    } else {
        match node.write(command).await {
            Ok(reply) => reply,
            // Submitted, then the leader changed: the outcome is unknown to the client.
            Err(NodeError::NotLeader { .. }) => return Err("lost leadership".to_owned()),
            Err(error) => return Err(error.to_string()),
        }
    };
    postcard::to_stdvec(&reply).map_err(|e| e.to_string())
}
