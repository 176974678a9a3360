//! The gRPC listener: the public API (`rill.v1.Streams`, `rill.v1.Cluster`), the node-to-node
//! service (`rill.raft.v1.Raft`), health and reflection.
//!
//! Typed calls are turned into the Redis argument vector and parsed by `rill_core::parse`, so
//! the gRPC API and the Redis protocol share every rule (IDs, options, limits, errors); the
//! reply is read back into the typed message.

mod admission;
mod cluster;
mod raft;
mod streams;
mod transaction;

use std::sync::{Arc, Weak};
use std::time::Duration;

use rill_core::{Command, Reply};
use rill_proto::raft::raft_server::RaftServer;
use rill_proto::v1::cluster_server::ClusterServer;
use rill_proto::v1::streams_server::StreamsServer;
use rill_raft::NodeError;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tonic::codegen::tokio_stream::Stream;
use tonic::transport::server::Connected;
use tonic::Status;

use crate::auth::{Access, Guard};
use crate::peers::PEER_MESSAGE_BYTES_MAX;
use crate::{stopped, ServerLimits, Shared};

/// Largest request a client may send over the public API: the Redis protocol's argument limit
/// is per argument; this bounds the whole message. Larger: `OUT_OF_RANGE`.
pub(crate) const CLIENT_MESSAGE_BYTES_MAX: usize = 64 << 20;
/// Every connection: HTTP/2 keepalive so dead peers are noticed.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// Serves the connections from `incoming` until `shutdown` fires; the returned task ends after
/// the last call has finished.
pub(crate) fn serve<I, IO, IE>(
    incoming: I,
    shared: Weak<Shared>,
    access: Access,
    limits: &ServerLimits,
    tls: Option<tonic::transport::ServerTlsConfig>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()>
where
    I: Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = Service {
        shared,
        shutdown: shutdown.clone(),
    };
    let incoming = admission::Admitted::new(incoming, limits.grpc_connections_max);
    let streams_max = limits.grpc_streams_per_connection_max;
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(rill_proto::FILE_DESCRIPTOR_SET)
        .build_v1();
    tokio::spawn(async move {
        health.set_serving::<StreamsServer<Service>>().await;
        health.set_serving::<ClusterServer<Service>>().await;
        let reflection = match reflection {
            Ok(reflection) => reflection,
            Err(error) => {
                tracing::error!(%error, "reflection service not built");
                return;
            }
        };
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = match builder.tls_config(tls) {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::error!(%error, "gRPC TLS not configured");
                    return;
                }
            };
        }
        let served = builder
            .http2_keepalive_interval(Some(KEEPALIVE))
            .max_concurrent_streams(Some(streams_max))
            .layer(Guard(Arc::new(access)))
            .add_service(
                RaftServer::new(service.clone())
                    .max_decoding_message_size(PEER_MESSAGE_BYTES_MAX)
                    .max_encoding_message_size(PEER_MESSAGE_BYTES_MAX),
            )
            .add_service(
                StreamsServer::new(service.clone())
                    .max_decoding_message_size(CLIENT_MESSAGE_BYTES_MAX)
                    .max_encoding_message_size(CLIENT_MESSAGE_BYTES_MAX),
            )
            .add_service(ClusterServer::new(service))
            .add_service(health_service)
            .add_service(reflection)
            .serve_with_incoming_shutdown(incoming, async move { stopped(&mut shutdown).await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "gRPC server failed");
        }
    })
}

#[derive(Clone)]
struct Service {
    shared: Weak<Shared>,
    /// Ends long-lived calls (`AppendEntriesStream`) so that a graceful stop is not held by them.
    shutdown: watch::Receiver<bool>,
}

impl Service {
    fn shared(&self) -> Result<Arc<Shared>, Status> {
        self.shared
            .upgrade()
            .ok_or_else(|| Status::unavailable("node is shutting down"))
    }

    /// Parses `args` and runs the command wherever it must run; a Redis error becomes a status.
    async fn run(&self, args: Vec<Vec<u8>>, stale: bool) -> Result<Reply, Status> {
        self.run_command(parse_args(&args)?, stale).await
    }

    async fn run_command(&self, cmd: Command, stale: bool) -> Result<Reply, Status> {
        if cmd.keys().iter().any(Vec::is_empty) {
            return Err(Status::invalid_argument("ERR empty keys are not allowed"));
        }
        let shared = self.shared()?;
        let reply = shared.run_one(cmd, stale).await;
        match reply {
            Reply::Error(_) => Err(status_of(&reply)),
            reply => Ok(reply),
        }
    }
}

fn parse_args(args: &[Vec<u8>]) -> Result<Command, Status> {
    let Some(name) = args.first() else {
        return Err(Status::invalid_argument("ERR empty command"));
    };
    match rill_core::parse(args) {
        Some(Ok(cmd)) => Ok(cmd),
        Some(Err(reply)) => Err(status_of(&reply)),
        None => Err(Status::invalid_argument(format!(
            "ERR unknown stream command '{}'",
            String::from_utf8_lossy(name)
        ))),
    }
}

/// The gRPC status for a Redis error reply: the code by the error's kind, Redis's text as the
/// message.
fn status_of(reply: &Reply) -> Status {
    let Reply::Error(text) = reply else {
        return Status::internal(format!("not an error: {reply:?}"));
    };
    let code = error_code(text);
    Status::new(code, text.clone())
}

fn error_code(text: &str) -> tonic::Code {
    use tonic::Code;
    let prefix = text.split(' ').next().unwrap_or("");
    match prefix {
        "NOGROUP" => Code::NotFound,
        "BUSYGROUP" => Code::AlreadyExists,
        "WRONGTYPE" => Code::FailedPrecondition,
        "TRYAGAIN" | "READONLY" => Code::Unavailable,
        "UNCERTAIN" => Code::Unknown,
        _ if text.contains("producer sequence") => Code::FailedPrecondition,
        _ if text.contains("shutting down") => Code::Unavailable,
        _ if text.contains("equal or smaller")
            || text.contains("exceeds")
            || text.contains("too large")
            || text.contains("limit") =>
        {
            Code::OutOfRange
        }
        "ERR" if text.contains("storage failure") || text.contains("internal error") => {
            Code::Internal
        }
        _ => Code::InvalidArgument,
    }
}

fn not_leader(shared: &Shared) -> Status {
    match shared.node.leader() {
        Some((id, peer)) => Status::failed_precondition(format!(
            "not the leader; the leader is node {id} (gRPC {}, Redis {})",
            peer.raft_addr, peer.client_addr
        )),
        None => Status::unavailable("not the leader, and no leader is known yet"),
    }
}

fn node_status(error: NodeError, shared: &Shared) -> Status {
    match error {
        NodeError::NotLeader { .. } => not_leader(shared),
        NodeError::OutcomeUnknown { .. } => Status::unknown(
            "UNCERTAIN the leadership was lost after the call was proposed; it may or may not have been applied",
        ),
        NodeError::NoQuorum => Status::unavailable("cannot reach a quorum of the cluster"),
        NodeError::ShuttingDown => Status::unavailable("node is shutting down"),
        NodeError::Refused(why) => Status::failed_precondition(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_errors_map_to_grpc_codes() {
        use tonic::Code;
        let cases = [
            (
                "NOGROUP No such key 's' or consumer group 'g'",
                Code::NotFound,
            ),
            (
                "BUSYGROUP Consumer Group name already exists",
                Code::AlreadyExists,
            ),
            (
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                Code::FailedPrecondition,
            ),
            (
                "ERR Invalid stream ID specified as stream command argument",
                Code::InvalidArgument,
            ),
            ("ERR syntax error", Code::InvalidArgument),
            (
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
                Code::OutOfRange,
            ),
            ("TRYAGAIN no leader is elected yet", Code::Unavailable),
            ("UNCERTAIN the leader did not answer", Code::Unknown),
            (
                "READONLY You can't write against a read only replica.",
                Code::Unavailable,
            ),
        ];
        for (text, code) in cases {
            assert_eq!(error_code(text), code, "{text}");
        }
    }
}
