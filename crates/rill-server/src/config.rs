//! Server configuration and its limits, in one place.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::resp::FrameLimits;

/// How to run one server. `port = 0` picks a free port; [`crate::ServerHandle::addr`] tells which.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: IpAddr,
    pub port: u16,
    /// The RocksDB data directory, created if missing.
    pub dir: PathBuf,
    /// Fsync every group commit. Off only for benchmarks and tests that do not restart.
    pub fsync: bool,
    pub limits: ServerLimits,
    /// What the stream engine enforces per command.
    pub engine_limits: rill_core::Limits,
}

impl ServerConfig {
    /// Defaults: 127.0.0.1:6379, fsync on, default limits.
    pub fn new(dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 6379,
            dir: dir.into(),
            fsync: true,
            limits: ServerLimits::default(),
            engine_limits: rill_core::Limits::default(),
        }
    }
}

/// Limits the server enforces. Units are in the names. Hitting one is an error reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Open client connections; one more gets `-ERR max number of clients reached` and is closed.
    pub connections_max: usize,
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
    /// Write commands queued for the writer; a full queue makes clients wait (backpressure).
    pub write_queue_depth_max: usize,
    /// Write commands applied in one transaction and one fsync (group commit).
    pub group_commit_commands_max: usize,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            connections_max: 10_000,
            blocked_clients_max: 10_000,
            // XACK/XDEL may name 100,000 IDs (`rill_core::Limits::ids_per_command_max`).
            request_args_max: 1 << 20,
            // 16x the largest entry (1 MiB), so an oversized XADD gets the engine's clear error
            // instead of a protocol error that closes the connection.
            bulk_bytes_max: 16 << 20,
            inline_request_bytes_max: 64 << 10,
            query_buffer_bytes_max: 64 << 20,
            pipeline_requests_max: 1024,
            write_queue_depth_max: 4096,
            group_commit_commands_max: 1024,
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
            self.request_args_max > 0,
            "request_args_max must be positive"
        );
        assert!(
            self.pipeline_requests_max > 0,
            "pipeline_requests_max must be positive"
        );
        assert!(
            self.write_queue_depth_max > 0,
            "write_queue_depth_max must be positive"
        );
        assert!(
            self.group_commit_commands_max > 0,
            "group_commit_commands_max must be positive"
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
