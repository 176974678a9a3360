//! A single-node Rill server: Redis clients speak RESP2 or RESP3 over TCP to a stream store
//! on RocksDB.
//!
//! ```text
//!  TcpListener ─accept─▶ connection task (one per client)            [connection.rs]
//!                          │ bytes ─RequestDecoder─▶ argv               [resp/decode.rs]
//!                          │ argv ─dispatch─▶ server command reply      [commands.rs]
//!                          │              └─▶ rill_core::Command
//!                          ├─ read  ─▶ spawn_blocking: Db::read() view, execute
//!                          ├─ write ─▶ Writer queue ─▶ writer thread: one Txn, one fsync per
//!                          │                           group, wake blocked readers [apply.rs]
//!                          ├─ BLOCK ─▶ Waiters registry: wait for a write to the keys [blocking.rs]
//!                          └─ Reply ─encode (RESP2|RESP3)─▶ one flush per batch [resp/encode.rs]
//! ```
//!
//! Entry points: [`Server::start`] for tests and embedding, the `rill-server` binary for use.
//!
//! Architecture invariant: only this crate opens sockets; it reaches storage only through
//! `rill_storage::Db`, and stream semantics only through `rill_core::{parse, execute}`.
//!
//! Architecture invariant: state changes only in `apply.rs`. Nothing else calls `Db::begin` or
//! `Db::commit`; connections run reads on `Db::read` views. Replication replaces `apply.rs`.
//!
//! Time enters here: every command is executed with `now_ms` from one `Clock` that never goes
//! backwards (the writer stamps each write), so the engine itself reads no clock.

mod apply;
mod blocking;
mod commands;
mod config;
mod connection;
pub mod resp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Weak};
use std::time::Instant;

use rill_storage::{Db, DbOptions, StorageError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;

pub use crate::config::{ServerConfig, ServerLimits};

use crate::apply::{Clock, Writer, WriterStats};
use crate::blocking::Waiters;
use crate::commands::ServerInfo;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start a thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the storage open task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) info: ServerInfo,
    pub(crate) db: Arc<Db>,
    pub(crate) writer: Writer,
    pub(crate) clock: Arc<Clock>,
    pub(crate) next_client_id: AtomicU64,
}

pub struct Server;

impl Server {
    /// Opens the store, binds the listener and starts serving on the current tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        config.limits.assert_valid();
        let dir = config.dir.clone();
        let options = DbOptions { sync: config.fsync };
        let db = Arc::new(tokio::task::spawn_blocking(move || Db::open(dir, &options)).await??);

        let addr = SocketAddr::new(config.bind, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;

        let waiters = Arc::new(Waiters::new(config.limits.blocked_clients_max));
        let clock = Arc::new(Clock::new());
        let writer_stats = Arc::new(WriterStats::default());
        let (writer, writer_done) = Writer::start(
            Arc::clone(&db),
            Arc::clone(&waiters),
            Arc::clone(&clock),
            config.engine_limits.clone(),
            config.limits.write_queue_depth_max,
            config.limits.group_commit_commands_max,
            Arc::clone(&writer_stats),
        )?;
        let db_weak = Arc::downgrade(&db);
        let connections_max = config.limits.connections_max;
        let shared = Arc::new(Shared {
            info: ServerInfo {
                addr,
                config,
                started: Instant::now(),
                connected_clients: AtomicUsize::new(0),
                waiters,
                writer_stats,
            },
            db,
            writer,
            clock,
            next_client_id: AtomicU64::new(1),
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(run(
            listener,
            shared,
            connections_max,
            shutdown_rx,
            writer_done,
            db_weak,
        ));
        tracing::info!(%addr, "listening");
        Ok(ServerHandle {
            addr,
            shutdown_tx,
            task: Some(task),
        })
    }
}

/// A running server. Dropping it asks the server to stop without waiting;
/// [`ServerHandle::shutdown`] stops it and waits until the store is closed.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// The address the server listens on (with the real port when started with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every connection after its current batch, drains the write
    /// queue, and returns once the store is closed (a new server may then open the same dir).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                tracing::error!(%error, "server task failed");
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}

/// Accepts connections until shutdown, then waits for every connection, then for the writer.
async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    connections_max: usize,
    shutdown_rx: watch::Receiver<bool>,
    writer_done: oneshot::Receiver<()>,
    db_weak: Weak<Db>,
) {
    let permits = Arc::new(Semaphore::new(connections_max));
    let mut connections = JoinSet::new();
    let mut stop_rx = shutdown_rx.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut stop_rx) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let shared = Arc::clone(&shared);
                        let shutdown_rx = shutdown_rx.clone();
                        connections.spawn(async move {
                            connection::serve(stream, peer, shared, shutdown_rx).await;
                            drop(permit);
                        });
                    }
                    Err(_) => refuse(stream, &mut connections),
                },
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(finished) = connections.join_next(), if !connections.is_empty() => log_task_end(finished),
        }
    }
    drop(listener);
    while let Some(finished) = connections.join_next().await {
        log_task_end(finished);
    }
    // The last `Shared` holds the last `Writer` handle: dropping it lets the writer drain its
    // queue and stop.
    assert_eq!(Arc::strong_count(&shared), 1, "every connection has ended");
    drop(shared);
    let _ = writer_done.await;
    // Reads run inside connection tasks, which have all ended; the writer has stopped.
    assert!(
        db_weak.upgrade().is_none(),
        "the store is closed once the server has stopped"
    );
    tracing::info!("stopped");
}

/// Over `connections_max`: reply with Redis's error and close, without holding up `accept`.
fn refuse(stream: TcpStream, connections: &mut JoinSet<()>) {
    connections.spawn(async move {
        let mut stream = stream;
        let refusal = b"-ERR max number of clients reached\r\n";
        let write = stream.write_all(refusal);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), write).await;
        let _ = stream.shutdown().await;
    });
}

/// Completes once shutdown is requested (or the handle is gone). The `Ref` that `wait_for`
/// returns is dropped here: it must not live across an await.
pub(crate) async fn stopped(shutdown_rx: &mut watch::Receiver<bool>) {
    let _ = shutdown_rx.wait_for(|&stop| stop).await;
}

fn log_task_end(finished: Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished {
        tracing::error!(%error, "connection task failed");
    }
}
