//! A Rill node: the Redis protocol and gRPC in front of a Raft-replicated stream store on
//! RocksDB. Every node serves both; followers forward to the leader.
//!
//! ```text
//!  TcpListener ─accept─▶ connection task (one per client)            [connection.rs]
//!  (or the caller's connections: `start_on`)                         [transport.rs]
//!                          │ bytes ─RequestDecoder─▶ argv               [resp/decode.rs]
//!                          │ argv ─dispatch─▶ server command reply      [commands.rs]
//!                          │              └─▶ rill_core::Command ─▶ run it [exec.rs]:
//!                          ├─ write ─▶ RaftNode proposer: batched log entries, applied on
//!                          │           every node; wake blocked readers      [apply.rs]
//!                          ├─ read  ─▶ read barrier, then a Db::read() view
//!                          ├─ BLOCK ─▶ Waiters registry: wait for an applied write [blocking.rs]
//!                          ├─ follower ─▶ Forward to the leader over gRPC       [peers.rs]
//!                          └─ Reply ─encode (RESP2|RESP3)─▶ one flush per batch [resp/encode.rs]
//!  gRPC listener ─▶ rill.v1.Streams, rill.v1.Cluster, rill.raft.v1.Raft,
//!                   grpc.health.v1, reflection                          [grpc.rs]
//! ```
//!
//! Entry points: [`Server::start`] for tests and embedding, the `rill-server` binary for use.
//!
//! Architecture invariant: only this crate opens sockets; it reaches storage only through
//! `rill_storage::Db`, replication only through `rill_raft::RaftNode`, and stream semantics
//! only through `rill_core::{parse, execute}`.
//!
//! Architecture invariant: state changes only by applying the Raft log (`rill_raft`'s state
//! machine). This crate reads `Db::read` views and never calls `Db::begin` or `Db::commit`.
//!
//! Time: writes carry the leader's stamp (`rill_raft::Stamper`); reads use `apply::Clock`.
//! The engine itself reads no clock.

mod append_stream;
mod apply;
mod auth;
mod blocking;
mod commands;
mod config;
mod connection;
mod discovery;
mod exec;
mod formation;
mod grpc;
mod peers;
pub mod resp;
mod tls;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rill_raft::{Network, NodeId, Peer, RaftNode};
use rill_storage::{Db, DbOptions, StorageError};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tonic::codegen::tokio_stream::Stream;
use tonic::metadata::MetadataValue;
use tonic::transport::server::{Connected, TcpIncoming};

pub use crate::auth::{is_local as is_local_address, CLUSTER_SECRET_HEADER};
pub use crate::config::{Member, ServerConfig, ServerLimits};
pub use crate::peers::{Dial, PeerTraffic};
pub use crate::tls::TlsFiles;
pub use rill_raft::{NodeOptions, RaftConfig, Role, Status};

use crate::apply::{Clock, WakeReaders};
use crate::blocking::Waiters;
use crate::commands::ServerInfo;
use crate::peers::Peers;
use crate::transport::{Foreign, TcpAccept, Transport};

/// How long a stopping server waits for the Raft core's last tasks to release the store.
const STORE_CLOSE_WAIT: Duration = Duration::from_secs(10);

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
    #[error("raft: {0}")]
    Raft(#[from] rill_raft::Error),
    #[error("config: {0}")]
    Config(String),
    #[error("the storage open task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What every connection and gRPC call shares.
pub(crate) struct Shared {
    pub(crate) info: ServerInfo,
    pub(crate) db: Arc<Db>,
    pub(crate) node: Arc<RaftNode>,
    pub(crate) peers: Peers,
    pub(crate) forward: bool,
    pub(crate) redirect: bool,
    pub(crate) clock: Arc<Clock>,
    pub(crate) next_client_id: AtomicU64,
}

pub struct Server;

impl Server {
    /// Opens the store, binds both listeners, starts the Raft node (forming the cluster on a
    /// first start, see [`ServerConfig::members`]) and serves on the current tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        config.assert_valid();
        let dir = config.dir.clone();
        // State commits are not fsynced: the Raft log is, and what a crash loses of the state
        // is applied again from it.
        let options = DbOptions {
            sync: false,
            log_sync: config.fsync,
            cache_bytes: config.cache_bytes,
        };
        let db = Arc::new(tokio::task::spawn_blocking(move || Db::open(dir, &options)).await??);

        let addr = SocketAddr::new(config.bind, config.port);
        let listener = bind(addr).await?;
        let addr = local_addr(&listener, addr)?;
        let grpc_addr = SocketAddr::new(config.bind, config.grpc_port);
        let grpc_listener = bind(grpc_addr).await?;
        let grpc_addr = local_addr(&grpc_listener, grpc_addr)?;
        // The incoming stream, not the builder, sets socket options here: without
        // TCP_NODELAY, Nagle holds small replies back ~40 ms behind delayed ACKs.
        let incoming = TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
        let tls = config.tls.as_ref().map(tls::Tls::load).transpose()?;
        let net = Sockets {
            redis: Some(TcpAccept(listener)),
            protected: true,
            addr,
            grpc_addr,
            incoming,
            dial: None,
            tls,
        };
        launch(config, db, net, NodeOptions::default()).await
    }

    /// Starts a node on a network other than the OS's (the simulator's): over `db`, already
    /// open, serving gRPC on the connections `incoming` yields, and the Redis protocol on the
    /// `(connection, peer)` pairs `redis` yields (if any: `(connections, the address they
    /// arrive at)`), dialing peers with `dial`. `options` brings the clock, storage I/O and
    /// planted bugs; the server sets the limits and the listener. `config.advertise_host`
    /// names this node to its peers.
    ///
    /// Redis connections are served as [`Server::start`]'s are, with two differences that
    /// come from the OS socket being absent: protected mode (loopback clients only, without a
    /// password) does not apply, since the caller's network is not the OS's; and a blocked
    /// client whose query buffer is full is seen leaving only while the buffer has spare
    /// capacity. An `Err` from `redis` is logged and accepting goes on; its end ends accepting.
    pub async fn start_on<I, IO, IE, R, S>(
        config: ServerConfig,
        db: Arc<Db>,
        incoming: I,
        grpc_addr: SocketAddr,
        redis: Option<(R, SocketAddr)>,
        dial: Dial,
        options: NodeOptions,
    ) -> Result<ServerHandle, ServerError>
    where
        I: Stream<Item = Result<IO, IE>> + Send + 'static,
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
        IE: Into<Box<dyn std::error::Error + Send + Sync>>,
        R: Stream<Item = std::io::Result<(S, SocketAddr)>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        config.assert_valid();
        let (redis, addr) = match redis {
            Some((connections, addr)) => (Some(Foreign(Box::pin(connections))), addr),
            None => (None, SocketAddr::new(grpc_addr.ip(), 0)),
        };
        if config.tls.is_some() {
            return Err(ServerError::Config(
                "TLS runs on the OS's network only (Server::start)".to_owned(),
            ));
        }
        let net = Sockets {
            redis,
            protected: false,
            addr,
            grpc_addr,
            incoming,
            dial: Some(dial),
            tls: None,
        };
        launch(config, db, net, options).await
    }
}

/// Where a node's connections come from and go to.
struct Sockets<I, R> {
    /// The Redis protocol connections, if any, and their address.
    redis: Option<R>,
    /// Whether protected mode applies to them (it does on the OS's network).
    protected: bool,
    addr: SocketAddr,
    grpc_addr: SocketAddr,
    incoming: I,
    dial: Option<Dial>,
    tls: Option<tls::Tls>,
}

async fn launch<I, IO, IE, R, T>(
    config: ServerConfig,
    db: Arc<Db>,
    net: Sockets<I, R>,
    options: NodeOptions,
) -> Result<ServerHandle, ServerError>
where
    I: Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
    R: Stream<Item = std::io::Result<(T, SocketAddr)>> + Unpin + Send + 'static,
    T: Transport,
{
    let (addr, grpc_addr) = (net.addr, net.grpc_addr);
    let host = match (&config.advertise_host, config.bind) {
        (Some(host), _) => host.clone(),
        (None, ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        (None, ip) => ip.to_string(),
    };
    let me = Peer {
        raft_addr: format!("{host}:{}", grpc_addr.port()),
        client_addr: format!("{host}:{}", addr.port()),
        ..Peer::default()
    };
    let mut members = initial_members(&config, &me)?;

    let waiters = Arc::new(Waiters::new(config.limits.blocked_clients_max));
    let secret = match config
        .cluster_secret
        .as_deref()
        .map(MetadataValue::try_from)
    {
        None => None,
        Some(Ok(secret)) => Some(secret),
        Some(Err(_)) => {
            return Err(ServerError::Config(
                "the cluster secret must be printable ASCII".to_owned(),
            ))
        }
    };
    let peers = Peers::new(
        net.dial,
        secret,
        net.tls.as_ref().map(|tls| tls.grpc_client.clone()),
    );
    let read_clock = options.clock.clone();
    let node_options = NodeOptions {
        limits: config.engine_limits.clone(),
        proposer: config.proposer.clone(),
        listener: Some(Arc::new(WakeReaders {
            waiters: Arc::clone(&waiters),
            then: options.listener.clone(),
        })),
        ..options
    };
    let node = RaftNode::start(
        config.node_id,
        Arc::clone(&db),
        &config.raft,
        Network::new(peers.clone()),
        node_options,
    )
    .await?;
    let node = Arc::new(node);
    let me = Peer {
        incarnation: node.incarnation(),
        ..me
    };
    if let Some(mine) = members.get_mut(&config.node_id) {
        mine.incarnation = me.incarnation;
    }
    let fresh = !node.is_initialized().await.unwrap_or(true);
    if let (true, Some(via)) = (fresh, config.join_via.clone()) {
        let (peers, node_id, me) = (peers.clone(), config.node_id, me.clone());
        tokio::spawn(async move {
            match peers.join(&via, node_id, &me).await {
                Ok(()) => tracing::info!(%via, "joined the cluster"),
                Err(error) => tracing::error!(%error, "did not join the cluster"),
            }
        });
    } else if !config.join && fresh && members.len() == 1 {
        // A cluster of one: formed before the node serves, so that its first command finds it.
        if let Err(error) = node.initialize(members).await {
            tracing::warn!(%error, "cluster not formed");
        }
    } else if !config.join && fresh && members.keys().next() == Some(&config.node_id) {
        // The member with the lowest id forms the cluster.
        tokio::spawn(formation::form(
            Arc::downgrade(&node),
            peers.clone(),
            members,
        ));
    } else if !config.join && fresh {
        // Listed in the cluster being formed, or its store was lost since it was.
        tokio::spawn(formation::rejoin(
            Arc::downgrade(&node),
            peers.clone(),
            members,
            me.clone(),
        ));
    }

    let access = auth::Access::new(&config, net.protected);
    let grpc_limits = config.limits.clone();
    let db_weak = Arc::downgrade(&db);
    let connections_max = config.limits.connections_max;
    let forward = config.forward;
    let redirect = config.cluster_redirects;
    let node_for_info = Arc::clone(&node);
    let shared = Arc::new(Shared {
        info: ServerInfo {
            addr,
            config,
            started: Instant::now(),
            connected_clients: AtomicUsize::new(0),
            clients: std::sync::Mutex::default(),
            waiters,
            status: Box::new(move || Some(node_for_info.status())),
        },
        db,
        node,
        peers,
        forward,
        redirect,
        clock: Arc::new(Clock::new(read_clock)),
        next_client_id: AtomicU64::new(1),
    });
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let grpc = grpc::serve(
        net.incoming,
        Arc::downgrade(&shared),
        access,
        &grpc_limits,
        net.tls.as_ref().map(|tls| tls.grpc_server.clone()),
        shutdown_rx.clone(),
    );
    let shared_weak = Arc::downgrade(&shared);
    let redis = RedisListener {
        connections: net.redis,
        tls: net.tls.map(|tls| tls.redis),
        protected: net.protected,
    };
    let task = tokio::spawn(run(
        redis,
        shared,
        connections_max,
        shutdown_rx,
        grpc,
        db_weak,
    ));
    tracing::info!(%addr, %grpc_addr, "listening");
    Ok(ServerHandle {
        addr,
        grpc_addr,
        shared: shared_weak,
        shutdown_tx,
        task: Some(task),
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
    listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })
}

/// The cluster a first start forms: the configured members, or this node alone.
fn initial_members(
    config: &ServerConfig,
    me: &Peer,
) -> Result<BTreeMap<NodeId, Peer>, ServerError> {
    if config.members.is_empty() {
        return Ok(BTreeMap::from([(config.node_id, me.clone())]));
    }
    let mut members = BTreeMap::new();
    for member in &config.members {
        // Incarnation unknown yet: `formation` asks each member before forming.
        let peer = Peer {
            raft_addr: member.grpc.clone(),
            client_addr: member.redis.clone(),
            ..Peer::default()
        };
        if members.insert(member.id, peer).is_some() {
            return Err(ServerError::Config(format!(
                "member id {} appears twice",
                member.id
            )));
        }
    }
    if !members.contains_key(&config.node_id) {
        return Err(ServerError::Config(format!(
            "node id {} is not among the members {:?}",
            config.node_id,
            members.keys().collect::<Vec<_>>()
        )));
    }
    Ok(members)
}

/// A running server. Dropping it asks the server to stop without waiting;
/// [`ServerHandle::shutdown`] stops it and waits until the store is closed.
pub struct ServerHandle {
    addr: SocketAddr,
    grpc_addr: SocketAddr,
    shared: Weak<Shared>,
    shutdown_tx: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerHandle {
    /// The Redis-protocol address (with the real port when started with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The gRPC address: the public API and the node-to-node Raft service.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The Raft node, for tests and the simulator; `None` once stopped.
    pub fn raft_node(&self) -> Option<Arc<RaftNode>> {
        self.shared.upgrade().map(|shared| Arc::clone(&shared.node))
    }

    /// Resolves when the node's Raft core stopped on its own (an fsync that failed, a
    /// storage error, a panic), with why. The node then serves nothing; whoever runs it stops
    /// it and starts it again, from what its disk holds (the binary exits with a failure).
    pub async fn failed(&self) -> String {
        let failed = match self.shared.upgrade() {
            Some(shared) => shared.node.failed(),
            None => return "the server has stopped".to_owned(),
        };
        failed.await
    }

    /// This node's view of the cluster; `None` once it has stopped.
    pub fn status(&self) -> Option<Status> {
        self.shared.upgrade().map(|shared| shared.node.status())
    }

    /// How this node's AppendEntries went out (streamed or unary); `None` once stopped.
    pub fn peer_traffic(&self) -> Option<PeerTraffic> {
        self.shared.upgrade().map(|shared| shared.peers.traffic())
    }

    /// Fault injection for tests: while isolated, this node sends and accepts no node-to-node
    /// traffic (Raft and forwarding), as behind a network partition; clients still reach it.
    pub fn set_isolated(&self, isolated: bool) {
        if let Some(shared) = self.shared.upgrade() {
            shared.peers.set_isolated(isolated);
        }
    }

    /// `(store applied index, digest of every state column family)`, read from one snapshot,
    /// or `None` once stopped. Equal on replicas that applied the same log.
    pub fn state_digest(&self) -> Option<(u64, u64)> {
        self.shared.upgrade()?.db.applied_digest().ok()
    }

    /// Stops accepting, closes every connection after its current batch, stops the Raft node,
    /// and returns once the store is closed (a new server may then open the same dir).
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

/// Accepts connections until shutdown, then waits for every connection and the gRPC server,
/// stops the Raft node, and waits for the store to close.
/// The Redis protocol's connections and how they are admitted.
struct RedisListener<R> {
    connections: Option<R>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Whether protected mode applies (the OS's network).
    protected: bool,
}

async fn run<R, T>(
    redis: RedisListener<R>,
    shared: Arc<Shared>,
    connections_max: usize,
    shutdown_rx: watch::Receiver<bool>,
    grpc: tokio::task::JoinHandle<()>,
    db_weak: Weak<Db>,
) where
    R: Stream<Item = std::io::Result<(T, SocketAddr)>> + Unpin + Send + 'static,
    T: Transport,
{
    let RedisListener {
        connections: mut listener,
        tls,
        protected,
    } = redis;
    let permits = Arc::new(Semaphore::new(connections_max));
    let mut connections = JoinSet::new();
    let mut stop_rx = shutdown_rx.clone();
    loop {
        tokio::select! {
            _ = stopped(&mut stop_rx) => break,
            accepted = accept(&mut listener) => match accepted {
                Ok((stream, peer)) if protected && !auth::redis_admitted(peer, &shared.info.config) => {
                    refuse(stream, format!("-{}\r\n", auth::PROTECTED_MODE), &mut connections);
                }
                Ok((stream, peer)) => match Arc::clone(&permits).try_acquire_owned() {
                    Ok(permit) => {
                        let shared = Arc::clone(&shared);
                        let shutdown_rx = shutdown_rx.clone();
                        let tls = tls.clone();
                        connections.spawn(async move {
                            match tls {
                                None => connection::serve(stream, peer, shared, shutdown_rx).await,
                                Some(tls) => {
                                    let handshake = tokio::time::timeout(
                                        tls::HANDSHAKE_TIMEOUT,
                                        tls.accept(stream),
                                    );
                                    match handshake.await {
                                        Ok(Ok(stream)) => {
                                            connection::serve(stream, peer, shared, shutdown_rx).await
                                        }
                                        Ok(Err(error)) => {
                                            tracing::debug!(%peer, %error, "TLS handshake failed")
                                        }
                                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                                    }
                                }
                            }
                            drop(permit);
                        });
                    }
                    Err(_) => refuse(stream, "-ERR max number of clients reached\r\n".to_owned(), &mut connections),
                },
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(finished) = connections.join_next(), if !connections.is_empty() => log_task_end(finished),
        }
    }
    drop(listener);
    while let Some(finished) = connections.join_next().await {
        log_task_end(finished);
    }
    if let Err(error) = grpc.await {
        tracing::error!(%error, "gRPC server task failed");
    }
    shared.node.shutdown().await;
    drop(shared);
    // The Raft core's last storage tasks may hold the store a moment longer.
    let deadline = std::time::Instant::now() + STORE_CLOSE_WAIT;
    while db_weak.upgrade().is_some() {
        if std::time::Instant::now() >= deadline {
            tracing::error!("the store is still open after shutdown");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::info!("stopped");
}

/// The next connection; never, without a listener or once its connections end (which drops
/// it).
async fn accept<R, T>(listener: &mut Option<R>) -> std::io::Result<(T, SocketAddr)>
where
    R: Stream<Item = std::io::Result<(T, SocketAddr)>> + Unpin,
{
    let Some(connections) = listener.as_mut() else {
        return std::future::pending().await;
    };
    match std::future::poll_fn(|cx| Pin::new(&mut *connections).poll_next(cx)).await {
        Some(accepted) => accepted,
        None => {
            *listener = None;
            std::future::pending().await
        }
    }
}

/// Replies `refusal` and closes, without holding up `accept`.
fn refuse<T: Transport>(stream: T, refusal: String, connections: &mut JoinSet<()>) {
    connections.spawn(async move {
        let mut stream = stream;
        let refusal = refusal.as_bytes();
        let write = stream.write_all(refusal);
        let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
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
