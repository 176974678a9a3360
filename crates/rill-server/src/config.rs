//! Server configuration and its limits, in one place.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::resp::FrameLimits;

/// How to run one node. `port = 0` (or `grpc_port = 0`) picks a free port;
/// [`crate::ServerHandle::addr`] and [`crate::ServerHandle::grpc_addr`] tell which.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: IpAddr,
    /// The Redis-protocol port.
    pub port: u16,
    /// The gRPC port: the public API and node-to-node Raft traffic.
    pub grpc_port: u16,
    /// This node's id in the cluster: unique, never reused for another data directory.
    pub node_id: u64,
    /// The members the cluster is formed from on its first start, this node included. Empty:
    /// a cluster of this node alone. Ignored once the data directory holds Raft state.
    pub members: Vec<Member>,
    /// Start without forming a cluster and wait to be added by one (`Cluster/AddLearner`).
    pub join: bool,
    /// Join the cluster of the node at this gRPC address: this node adds itself as a learner,
    /// then as a voter. Implies `join`. Ignored once the data directory holds Raft state.
    pub join_via: Option<String>,
    /// The host other nodes and redirected clients use to reach this one; default: `bind`.
    pub advertise_host: Option<String>,
    /// Followers forward commands to the leader. Off: writes to a follower get `-READONLY`
    /// and reads are served from the follower's state, as by a Redis replica.
    pub forward: bool,
    /// Followers answer keyed commands with `-MOVED <slot> <leader>`, for Redis Cluster
    /// clients (which follow it and learn the leader from `CLUSTER SLOTS`).
    pub cluster_redirects: bool,
    /// The `default` user's password (`AUTH`). Unset: only loopback clients are accepted
    /// (Redis's protected mode).
    pub requirepass: Option<String>,
    /// The password gRPC `Cluster` calls that change the cluster need (membership, snapshots,
    /// elections). Unset: `requirepass` serves for them too.
    pub admin_password: Option<String>,
    /// The secret nodes show each other (`rill.raft.v1` calls). Unset: only node-to-node calls
    /// from 127.0.0.1 or ::1 are served.
    pub cluster_secret: Option<String>,
    /// TLS on both listeners and between nodes (mutual). Unset: plain TCP.
    pub tls: Option<crate::TlsFiles>,
    pub raft: rill_raft::RaftConfig,
    pub proposer: rill_raft::ProposerLimits,
    /// The RocksDB data directory, created if missing.
    pub dir: PathBuf,
    /// Fsync the Raft log before acknowledging. Off only for benchmarks and tests that do not
    /// survive a power loss.
    pub fsync: bool,
    /// RocksDB's block cache, which the memtables are charged to: the store's memory stays
    /// under it however much it holds (`rill_storage::DbOptions::cache_bytes`).
    pub cache_bytes: usize,
    pub limits: ServerLimits,
    /// What the stream engine enforces per command.
    pub engine_limits: rill_core::Limits,
}

impl ServerConfig {
    /// Defaults: node 1 alone, Redis protocol on 127.0.0.1:6379, gRPC on 127.0.0.1:7379,
    /// fsync on, forwarding on, default limits.
    pub fn new(dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 6379,
            grpc_port: 7379,
            node_id: 1,
            members: Vec::new(),
            join: false,
            join_via: None,
            advertise_host: None,
            forward: true,
            cluster_redirects: false,
            requirepass: None,
            admin_password: None,
            cluster_secret: None,
            tls: None,
            raft: rill_raft::RaftConfig::default(),
            proposer: rill_raft::ProposerLimits::default(),
            dir: dir.into(),
            fsync: true,
            cache_bytes: rill_storage::DbOptions::CACHE_BYTES_DEFAULT,
            limits: ServerLimits::default(),
            engine_limits: rill_core::Limits::default(),
        }
    }
}

impl ServerConfig {
    /// Panics on limits that cannot work together; called once at start. The chain: the
    /// engine's largest command fits in a log entry, and a log entry in one AppendEntries
    /// (`RaftNode::start` checks both); an AppendEntries or a snapshot chunk fits in one
    /// message between nodes; the largest reply fits in one gRPC message.
    pub fn assert_valid(&self) {
        use crate::peers::{PEER_MESSAGE_BYTES_MAX, PEER_MESSAGE_FRAMING_BYTES};
        self.limits.assert_valid();
        assert!(
            self.raft.snapshot_chunk_bytes_max as usize + PEER_MESSAGE_FRAMING_BYTES
                <= PEER_MESSAGE_BYTES_MAX,
            "snapshot_chunk_bytes_max ({}) must fit in a peer message ({} bytes)",
            self.raft.snapshot_chunk_bytes_max,
            PEER_MESSAGE_BYTES_MAX
        );
        // Replies' framing beyond the entries they carry (stream names, cursors): generous.
        const REPLY_FRAMING_BYTES: usize = 1 << 20;
        assert!(
            self.engine_limits.reply_bytes_max + REPLY_FRAMING_BYTES
                <= crate::grpc::CLIENT_MESSAGE_BYTES_MAX,
            "reply_bytes_max ({}) must fit in a gRPC reply ({} bytes)",
            self.engine_limits.reply_bytes_max,
            crate::grpc::CLIENT_MESSAGE_BYTES_MAX
        );
    }
}

/// One member of the initial cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Member {
    pub id: u64,
    /// `host:port` of its gRPC (Raft) service.
    pub grpc: String,
    /// `host:port` of its Redis-protocol service.
    pub redis: String,
}

/// Limits the server enforces. Units are in the names. Hitting one is an error reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Open client connections; one more gets `-ERR max number of clients reached` and is closed.
    pub connections_max: usize,
    /// Open gRPC connections (clients and other nodes); one more is closed at once.
    pub grpc_connections_max: usize,
    /// Calls in flight on one gRPC connection (HTTP/2 concurrent streams); a client past it
    /// waits for one to end. A follower forwards all its clients' commands over one connection.
    pub grpc_streams_per_connection_max: u32,
    /// Clients blocked in XREAD/XREADGROUP BLOCK at once; one more gets an error reply.
    pub blocked_clients_max: usize,
    /// Arguments in one request (`*N`).
    pub request_args_max: usize,
    /// One argument (`$N`). Checked when the header arrives, before the payload is buffered.
    pub bulk_bytes_max: usize,
    /// One inline (telnet-style) command line.
    pub inline_request_bytes_max: usize,
    /// Bytes of one request being received: arguments decoded so far plus unread input.
    pub query_buffer_bytes_max: usize,
    /// Requests decoded from one connection's input before their replies are flushed.
    pub pipeline_requests_max: usize,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            connections_max: 10_000,
            grpc_connections_max: 10_000,
            grpc_streams_per_connection_max: 1024,
            blocked_clients_max: 10_000,
            // XACK/XDEL may name 100,000 IDs (`rill_core::Limits::ids_per_command_max`).
            request_args_max: 1 << 20,
            // 16x the largest entry (1 MiB), so an oversized XADD gets the engine's clear error
            // instead of a protocol error that closes the connection.
            bulk_bytes_max: 16 << 20,
            inline_request_bytes_max: 64 << 10,
            query_buffer_bytes_max: 64 << 20,
            pipeline_requests_max: 1024,
        }
    }
}

impl ServerLimits {
    pub fn frame_limits(&self) -> FrameLimits {
        FrameLimits {
            request_args_max: self.request_args_max,
            bulk_bytes_max: self.bulk_bytes_max,
            inline_request_bytes_max: self.inline_request_bytes_max,
        }
    }

    /// Panics on limits that cannot work together; called once at start.
    pub fn assert_valid(&self) {
        assert!(self.connections_max > 0, "connections_max must be positive");
        assert!(
            self.grpc_connections_max > 0 && self.grpc_streams_per_connection_max > 0,
            "gRPC limits must be positive"
        );
        assert!(
            self.request_args_max > 0,
            "request_args_max must be positive"
        );
        assert!(
            self.pipeline_requests_max > 0,
            "pipeline_requests_max must be positive"
        );
        assert!(
            self.query_buffer_bytes_max >= self.bulk_bytes_max,
            "query_buffer_bytes_max must hold at least one full-size argument"
        );
        assert!(
            self.query_buffer_bytes_max >= self.inline_request_bytes_max,
            "query_buffer_bytes_max must hold one inline request"
        );
    }
}
