//! The gRPC listener: the public API (`rill.v1.Streams`, `rill.v1.Cluster`), the node-to-node
//! service (`rill.raft.v1.Raft`), health and reflection.
//!
//! Typed calls are turned into the Redis argument vector and parsed by `rill_core::parse`, so
//! the gRPC API and the Redis protocol share every rule (IDs, options, limits, errors); the
//! reply is read back into the typed message.

use std::sync::{Arc, Weak};
use std::time::Duration;

use rill_core::{Command, Reply};
use rill_proto::raft::raft_server::{Raft, RaftServer};
use rill_proto::raft::{ForwardReply, ForwardRequest, RaftPayload};
use rill_proto::v1::cluster_server::{Cluster, ClusterServer};
use rill_proto::v1::streams_server::{Streams, StreamsServer};
use rill_proto::v1::{self as pb, value::Kind};
use rill_raft::{NodeError, Peer, RpcKind};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tonic::codegen::tokio_stream::Stream;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use crate::peers::PEER_MESSAGE_BYTES_MAX;
use crate::{stopped, Shared};

/// Largest request a client may send over the public API: the Redis protocol's argument limit
/// is per argument; this bounds the whole message. Larger: `OUT_OF_RANGE`.
const CLIENT_MESSAGE_BYTES_MAX: usize = 64 << 20;
/// Every connection: HTTP/2 keepalive so dead peers are noticed.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// Serves the connections from `incoming` until `shutdown` fires; the returned task ends after
/// the last call has finished.
pub(crate) fn serve<I, IO, IE>(
    incoming: I,
    shared: Weak<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()>
where
    I: Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = Service { shared };
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
        let served = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(KEEPALIVE))
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
        NodeError::NoQuorum => Status::unavailable("cannot reach a quorum of the cluster"),
        NodeError::ShuttingDown => Status::unavailable("node is shutting down"),
        NodeError::Refused(why) => Status::failed_precondition(why),
    }
}

pub(crate) fn value_of(reply: Reply) -> pb::Value {
    let kind = match reply {
        Reply::Status(text) => Kind::Status(text),
        Reply::Error(text) => Kind::Error(text),
        Reply::Int(n) => Kind::Integer(n),
        Reply::Bulk(bytes) => Kind::Bulk(bytes),
        Reply::Nil | Reply::NilArray => Kind::Null(true),
        Reply::Array(items) => Kind::Array(pb::ValueList {
            values: items.into_iter().map(value_of).collect(),
        }),
        Reply::Map(pairs) | Reply::PairMap(pairs) => Kind::Map(pb::ValueList {
            values: pairs
                .into_iter()
                .flat_map(|(key, value)| [value_of(key), value_of(value)])
                .collect(),
        }),
    };
    pb::Value { kind: Some(kind) }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn malformed(what: &str) -> Status {
    Status::internal(format!("unexpected reply shape for {what}"))
}

/// `[id, [field, value, ...]]` as an entry; a deleted entry (null fields) has `deleted` set.
fn entry_of(reply: Reply) -> Result<(pb::Entry, bool), Status> {
    let Reply::Array(mut parts) = reply else {
        return Err(malformed("an entry"));
    };
    if parts.len() != 2 {
        return Err(malformed("an entry"));
    }
    let fields = parts.pop().expect("two parts");
    let Reply::Bulk(id) = parts.pop().expect("two parts") else {
        return Err(malformed("an entry ID"));
    };
    let (fields, deleted) = match fields {
        Reply::Array(items) => {
            let mut fields = Vec::with_capacity(items.len() / 2);
            let mut items = items.into_iter();
            while let (Some(Reply::Bulk(name)), Some(Reply::Bulk(value))) =
                (items.next(), items.next())
            {
                fields.push(pb::Field { name, value });
            }
            (fields, false)
        }
        Reply::Nil | Reply::NilArray => (Vec::new(), true),
        _ => return Err(malformed("entry fields")),
    };
    Ok((
        pb::Entry {
            id: text(&id),
            fields,
        },
        deleted,
    ))
}

fn entries_of(reply: Reply) -> Result<Vec<pb::Entry>, Status> {
    match reply {
        Reply::Array(items) => items
            .into_iter()
            .map(|item| entry_of(item).map(|(e, _)| e))
            .collect(),
        Reply::NilArray | Reply::Nil => Ok(Vec::new()),
        _ => Err(malformed("entries")),
    }
}

fn streams_of(reply: Reply) -> Result<Vec<pb::StreamEntries>, Status> {
    let pairs = match reply {
        Reply::PairMap(pairs) | Reply::Map(pairs) => pairs,
        Reply::NilArray | Reply::Nil => return Ok(Vec::new()),
        _ => return Err(malformed("streams")),
    };
    let mut streams = Vec::with_capacity(pairs.len());
    for (key, entries) in pairs {
        let Reply::Bulk(key) = key else {
            return Err(malformed("a stream key"));
        };
        let Reply::Array(items) = entries else {
            return Err(malformed("stream entries"));
        };
        let mut stream = pb::StreamEntries {
            key,
            entries: Vec::new(),
            deleted: Vec::new(),
        };
        for item in items {
            let (entry, deleted) = entry_of(item)?;
            stream.entries.push(entry);
            stream.deleted.push(deleted);
        }
        streams.push(stream);
    }
    Ok(streams)
}

fn count_of(reply: &Reply) -> Result<u64, Status> {
    match reply {
        Reply::Int(n) => u64::try_from(*n).map_err(|_| malformed("a count")),
        _ => Err(malformed("a count")),
    }
}

fn bytes(word: &str) -> Vec<u8> {
    word.as_bytes().to_vec()
}

fn trim_args(trim: &pb::Trim, args: &mut Vec<Vec<u8>>) -> Result<(), Status> {
    let (name, threshold) = match &trim.threshold {
        Some(pb::trim::Threshold::MaxLen(n)) => ("MAXLEN", n.to_string()),
        Some(pb::trim::Threshold::MinId(id)) => ("MINID", id.clone()),
        None => return Err(Status::invalid_argument("ERR trim needs max_len or min_id")),
    };
    args.push(bytes(name));
    args.push(bytes(if trim.approximate { "~" } else { "=" }));
    args.push(bytes(&threshold));
    if trim.limit > 0 {
        args.push(bytes("LIMIT"));
        args.push(bytes(&trim.limit.to_string()));
    }
    Ok(())
}

#[tonic::async_trait]
impl Streams for Service {
    async fn execute(
        &self,
        request: Request<pb::ExecuteRequest>,
    ) -> Result<Response<pb::Value>, Status> {
        let request = request.into_inner();
        let stale = request.read.is_some_and(|read| read.stale);
        let reply = self.run(request.args, stale).await?;
        Ok(Response::new(value_of(reply)))
    }

    async fn x_add(
        &self,
        request: Request<pb::XAddRequest>,
    ) -> Result<Response<pb::XAddResponse>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("XADD"), request.key];
        if request.no_mkstream {
            args.push(bytes("NOMKSTREAM"));
        }
        if let Some(trim) = &request.trim {
            trim_args(trim, &mut args)?;
        }
        args.push(bytes(if request.id.is_empty() {
            "*"
        } else {
            &request.id
        }));
        for field in request.fields {
            args.push(field.name);
            args.push(field.value);
        }
        let mut cmd = parse_args(&args)?;
        if let Some(producer) = request.producer {
            cmd = Command::produce(producer.id, producer.seq, cmd)
                .map_err(|reply| status_of(&reply))?;
        }
        let id = match self.run_command(cmd, false).await? {
            Reply::Bulk(id) => text(&id),
            Reply::Nil => String::new(),
            _ => return Err(malformed("XADD")),
        };
        Ok(Response::new(pb::XAddResponse { id }))
    }

    async fn x_len(
        &self,
        request: Request<pb::XLenRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let stale = request.read.is_some_and(|read| read.stale);
        let reply = self.run(vec![bytes("XLEN"), request.key], stale).await?;
        Ok(Response::new(pb::CountResponse {
            count: count_of(&reply)?,
        }))
    }

    async fn x_range(
        &self,
        request: Request<pb::XRangeRequest>,
    ) -> Result<Response<pb::EntriesResponse>, Status> {
        let request = request.into_inner();
        let stale = request.read.is_some_and(|read| read.stale);
        let or = |text: &str, default: &str| {
            if text.is_empty() {
                default.to_owned()
            } else {
                text.to_owned()
            }
        };
        let (name, first, second) = if request.reverse {
            ("XREVRANGE", or(&request.end, "+"), or(&request.start, "-"))
        } else {
            ("XRANGE", or(&request.start, "-"), or(&request.end, "+"))
        };
        let mut args = vec![bytes(name), request.key, bytes(&first), bytes(&second)];
        if request.count > 0 {
            args.push(bytes("COUNT"));
            args.push(bytes(&request.count.to_string()));
        }
        let entries = entries_of(self.run(args, stale).await?)?;
        Ok(Response::new(pb::EntriesResponse { entries }))
    }

    async fn x_read_group(
        &self,
        request: Request<pb::XReadGroupRequest>,
    ) -> Result<Response<pb::StreamsResponse>, Status> {
        let request = request.into_inner();
        if request.keys.len() != request.ids.len() {
            return Err(Status::invalid_argument("ERR keys and ids must be as many"));
        }
        let mut args = vec![
            bytes("XREADGROUP"),
            bytes("GROUP"),
            bytes(&request.group),
            bytes(&request.consumer),
        ];
        if request.count > 0 {
            args.push(bytes("COUNT"));
            args.push(bytes(&request.count.to_string()));
        }
        if let Some(block_ms) = request.block_ms {
            args.push(bytes("BLOCK"));
            args.push(bytes(&block_ms.to_string()));
        }
        if request.no_ack {
            args.push(bytes("NOACK"));
        }
        args.push(bytes("STREAMS"));
        args.extend(request.keys);
        args.extend(request.ids.iter().map(|id| bytes(id)));
        let streams = streams_of(self.run(args, false).await?)?;
        Ok(Response::new(pb::StreamsResponse { streams }))
    }

    async fn x_ack(
        &self,
        request: Request<pb::XAckRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("XACK"), request.key, bytes(&request.group)];
        args.extend(request.ids.iter().map(|id| bytes(id)));
        self.count(args).await
    }

    async fn x_auto_claim(
        &self,
        request: Request<pb::XAutoClaimRequest>,
    ) -> Result<Response<pb::XAutoClaimResponse>, Status> {
        let request = request.into_inner();
        let start = if request.start.is_empty() {
            "0-0"
        } else {
            &request.start
        };
        let mut args = vec![
            bytes("XAUTOCLAIM"),
            request.key,
            bytes(&request.group),
            bytes(&request.consumer),
            bytes(&request.min_idle_ms.to_string()),
            bytes(start),
        ];
        if request.count > 0 {
            args.push(bytes("COUNT"));
            args.push(bytes(&request.count.to_string()));
        }
        let Reply::Array(mut parts) = self.run(args, false).await? else {
            return Err(malformed("XAUTOCLAIM"));
        };
        if parts.len() != 3 {
            return Err(malformed("XAUTOCLAIM"));
        }
        let deleted = parts.pop().expect("three parts");
        let entries = parts.pop().expect("three parts");
        let Reply::Bulk(next) = parts.pop().expect("three parts") else {
            return Err(malformed("XAUTOCLAIM cursor"));
        };
        let deleted_ids = match deleted {
            Reply::Array(ids) => ids
                .into_iter()
                .map(|id| match id {
                    Reply::Bulk(id) => Ok(text(&id)),
                    _ => Err(malformed("XAUTOCLAIM deleted IDs")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(malformed("XAUTOCLAIM deleted IDs")),
        };
        Ok(Response::new(pb::XAutoClaimResponse {
            next_start: text(&next),
            entries: entries_of(entries)?,
            deleted_ids,
        }))
    }

    async fn x_del(
        &self,
        request: Request<pb::XDelRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("XDEL"), request.key];
        args.extend(request.ids.iter().map(|id| bytes(id)));
        self.count(args).await
    }

    async fn x_trim(
        &self,
        request: Request<pb::XTrimRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let Some(trim) = request.trim else {
            return Err(Status::invalid_argument("ERR trim is required"));
        };
        let mut args = vec![bytes("XTRIM"), request.key];
        trim_args(&trim, &mut args)?;
        self.count(args).await
    }

    async fn x_read(
        &self,
        request: Request<pb::XReadRequest>,
    ) -> Result<Response<pb::StreamsResponse>, Status> {
        let request = request.into_inner();
        if request.keys.len() != request.ids.len() {
            return Err(Status::invalid_argument("ERR keys and ids must be as many"));
        }
        let mut args = vec![bytes("XREAD")];
        push_num(
            &mut args,
            "COUNT",
            (request.count > 0).then_some(request.count),
        );
        push_num(&mut args, "BLOCK", request.block_ms);
        args.push(bytes("STREAMS"));
        args.extend(request.keys);
        args.extend(request.ids.iter().map(|id| bytes(id)));
        let streams = streams_of(self.run(args, stale(request.read)).await?)?;
        Ok(Response::new(pb::StreamsResponse { streams }))
    }

    async fn x_pending_summary(
        &self,
        request: Request<pb::XPendingSummaryRequest>,
    ) -> Result<Response<pb::XPendingSummaryResponse>, Status> {
        let request = request.into_inner();
        let args = vec![bytes("XPENDING"), request.key, bytes(&request.group)];
        let reply = self.run(args, stale(request.read)).await?;
        Ok(Response::new(pending_summary_of(reply)?))
    }

    async fn x_pending_range(
        &self,
        request: Request<pb::XPendingRangeRequest>,
    ) -> Result<Response<pb::XPendingRangeResponse>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("XPENDING"), request.key, bytes(&request.group)];
        push_num(&mut args, "IDLE", request.min_idle_ms);
        let or = |text: &str, default: &str| {
            if text.is_empty() {
                default.to_owned()
            } else {
                text.to_owned()
            }
        };
        args.push(bytes(&or(&request.start, "-")));
        args.push(bytes(&or(&request.end, "+")));
        args.push(bytes(&request.count.to_string()));
        if !request.consumer.is_empty() {
            args.push(bytes(&request.consumer));
        }
        let entries = pending_entries_of(self.run(args, stale(request.read)).await?)?;
        Ok(Response::new(pb::XPendingRangeResponse { entries }))
    }

    async fn x_claim(
        &self,
        request: Request<pb::XClaimRequest>,
    ) -> Result<Response<pb::EntriesResponse>, Status> {
        let request = request.into_inner();
        let mut args = vec![
            bytes("XCLAIM"),
            request.key,
            bytes(&request.group),
            bytes(&request.consumer),
            bytes(&request.min_idle_ms.to_string()),
        ];
        args.extend(request.ids.iter().map(|id| bytes(id)));
        push_num(&mut args, "IDLE", request.idle_ms);
        push_num(&mut args, "TIME", request.time_ms);
        push_num(&mut args, "RETRYCOUNT", request.retry_count);
        if request.force {
            args.push(bytes("FORCE"));
        }
        if request.just_id {
            args.push(bytes("JUSTID"));
        }
        if !request.last_id.is_empty() {
            args.push(bytes("LASTID"));
            args.push(bytes(&request.last_id));
        }
        let entries = claimed_of(self.run(args, false).await?)?;
        Ok(Response::new(pb::EntriesResponse { entries }))
    }

    async fn x_group_destroy(
        &self,
        request: Request<pb::GroupRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let args = vec![
            bytes("XGROUP"),
            bytes("DESTROY"),
            request.key,
            bytes(&request.group),
        ];
        self.count(args).await
    }

    async fn x_group_set_id(
        &self,
        request: Request<pb::XGroupSetIdRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let request = request.into_inner();
        let mut args = vec![
            bytes("XGROUP"),
            bytes("SETID"),
            request.key,
            bytes(&request.group),
            bytes(&request.id),
        ];
        if let Some(entries_read) = request.entries_read {
            args.push(bytes("ENTRIESREAD"));
            args.push(bytes(&entries_read.to_string()));
        }
        self.empty(args).await
    }

    async fn x_group_create_consumer(
        &self,
        request: Request<pb::ConsumerRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let args = vec![
            bytes("XGROUP"),
            bytes("CREATECONSUMER"),
            request.key,
            bytes(&request.group),
            bytes(&request.consumer),
        ];
        self.count(args).await
    }

    async fn x_group_del_consumer(
        &self,
        request: Request<pb::ConsumerRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let args = vec![
            bytes("XGROUP"),
            bytes("DELCONSUMER"),
            request.key,
            bytes(&request.group),
            bytes(&request.consumer),
        ];
        self.count(args).await
    }

    async fn x_info_stream(
        &self,
        request: Request<pb::XInfoStreamRequest>,
    ) -> Result<Response<pb::Value>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("XINFO"), bytes("STREAM"), request.key];
        if request.full {
            args.push(bytes("FULL"));
            push_num(&mut args, "COUNT", request.count);
        }
        let reply = self.run(args, stale(request.read)).await?;
        Ok(Response::new(value_of(reply)))
    }

    async fn x_info_groups(
        &self,
        request: Request<pb::XInfoRequest>,
    ) -> Result<Response<pb::Value>, Status> {
        let request = request.into_inner();
        let args = vec![bytes("XINFO"), bytes("GROUPS"), request.key];
        let reply = self.run(args, stale(request.read)).await?;
        Ok(Response::new(value_of(reply)))
    }

    async fn x_info_consumers(
        &self,
        request: Request<pb::GroupRequest>,
    ) -> Result<Response<pb::Value>, Status> {
        let request = request.into_inner();
        let args = vec![
            bytes("XINFO"),
            bytes("CONSUMERS"),
            request.key,
            bytes(&request.group),
        ];
        let reply = self.run(args, false).await?;
        Ok(Response::new(value_of(reply)))
    }

    async fn x_set_id(
        &self,
        request: Request<pb::XSetIdRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("XSETID"), request.key, bytes(&request.id)];
        push_num(&mut args, "ENTRIESADDED", request.entries_added);
        if !request.max_deleted_id.is_empty() {
            args.push(bytes("MAXDELETEDID"));
            args.push(bytes(&request.max_deleted_id));
        }
        self.empty(args).await
    }

    async fn del(
        &self,
        request: Request<pb::DelRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("DEL")];
        args.extend(request.keys);
        self.count(args).await
    }

    async fn x_group_create(
        &self,
        request: Request<pb::XGroupCreateRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let request = request.into_inner();
        let id = if request.id.is_empty() {
            "$"
        } else {
            &request.id
        };
        let mut args = vec![
            bytes("XGROUP"),
            bytes("CREATE"),
            request.key,
            bytes(&request.group),
            bytes(id),
        ];
        if request.mkstream {
            args.push(bytes("MKSTREAM"));
        }
        self.empty(args).await
    }
}

fn stale(read: Option<pb::ReadOptions>) -> bool {
    read.is_some_and(|read| read.stale)
}

fn text_of(reply: Reply, what: &str) -> Result<String, Status> {
    match reply {
        Reply::Bulk(bytes) => Ok(text(&bytes)),
        Reply::Status(text) => Ok(text),
        Reply::Nil => Ok(String::new()),
        _ => Err(malformed(what)),
    }
}

fn int_of(reply: &Reply, what: &str) -> Result<u64, Status> {
    match reply {
        Reply::Int(n) => u64::try_from(*n).map_err(|_| malformed(what)),
        _ => Err(malformed(what)),
    }
}

/// XPENDING's extended form: `[[id, consumer, idle, deliveries], ...]`.
fn pending_entries_of(reply: Reply) -> Result<Vec<pb::PendingEntry>, Status> {
    let Reply::Array(rows) = reply else {
        return Err(malformed("XPENDING"));
    };
    rows.into_iter()
        .map(|row| {
            let Reply::Array(fields) = row else {
                return Err(malformed("an XPENDING row"));
            };
            let [id, consumer, idle, deliveries]: [Reply; 4] = fields
                .try_into()
                .map_err(|_| malformed("an XPENDING row"))?;
            Ok(pb::PendingEntry {
                id: text_of(id, "an ID")?,
                consumer: text_of(consumer, "a consumer")?,
                idle_ms: int_of(&idle, "idle time")?,
                deliveries: int_of(&deliveries, "delivery count")?,
            })
        })
        .collect()
}

/// XPENDING's summary: `[count, min, max, [[consumer, count], ...]]`.
fn pending_summary_of(reply: Reply) -> Result<pb::XPendingSummaryResponse, Status> {
    let Reply::Array(parts) = reply else {
        return Err(malformed("XPENDING"));
    };
    let [count, min, max, consumers]: [Reply; 4] =
        parts.try_into().map_err(|_| malformed("XPENDING"))?;
    let consumers = match consumers {
        Reply::Array(rows) => rows
            .into_iter()
            .map(|row| {
                let Reply::Array(pair) = row else {
                    return Err(malformed("an XPENDING consumer"));
                };
                let [name, count]: [Reply; 2] = pair
                    .try_into()
                    .map_err(|_| malformed("an XPENDING consumer"))?;
                let count = text_of(count, "a count")?
                    .parse()
                    .map_err(|_| malformed("a count"))?;
                Ok(pb::ConsumerCount {
                    name: text_of(name, "a consumer")?,
                    count,
                })
            })
            .collect::<Result<_, _>>()?,
        Reply::Nil | Reply::NilArray => Vec::new(),
        _ => return Err(malformed("XPENDING consumers")),
    };
    Ok(pb::XPendingSummaryResponse {
        count: int_of(&count, "a count")?,
        min_id: text_of(min, "an ID")?,
        max_id: text_of(max, "an ID")?,
        consumers,
    })
}

/// XCLAIM's reply: entries, or bare IDs with JUSTID.
fn claimed_of(reply: Reply) -> Result<Vec<pb::Entry>, Status> {
    let Reply::Array(items) = reply else {
        return Err(malformed("XCLAIM"));
    };
    items
        .into_iter()
        .map(|item| match item {
            Reply::Bulk(id) => Ok(pb::Entry {
                id: text(&id),
                fields: Vec::new(),
            }),
            entry => entry_of(entry).map(|(entry, _)| entry),
        })
        .collect()
}

fn push_num(args: &mut Vec<Vec<u8>>, name: &str, value: Option<u64>) {
    if let Some(value) = value {
        args.push(bytes(name));
        args.push(bytes(&value.to_string()));
    }
}

fn cluster_status(shared: &Shared) -> pb::ClusterStatus {
    let status = shared.node.status();
    pb::ClusterStatus {
        node_id: status.id,
        role: status.role.as_str().to_owned(),
        leader_id: status.leader.as_ref().map(|(id, _)| *id),
        term: status.term,
        members: status
            .members
            .into_iter()
            .map(|(id, peer, voter)| pb::Member {
                id,
                raft_addr: peer.raft_addr,
                client_addr: peer.client_addr,
                voter,
            })
            .collect(),
        last_log_index: status.last_log_index,
        // openraft 0.9 reports no commit index in its metrics; on the leader everything
        // applied is committed, and the applied index is what reads observe.
        commit_index: status.applied_index,
        applied_index: status.applied_index,
        snapshot_index: status.snapshot_index,
        replication_lag: status.replication_lag.into_iter().collect(),
    }
}

#[tonic::async_trait]
impl Cluster for Service {
    async fn status(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        let shared = self.shared()?;
        Ok(Response::new(cluster_status(&shared)))
    }

    async fn add_learner(
        &self,
        request: Request<pb::AddLearnerRequest>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        let shared = self.shared()?;
        let Some(member) = request.into_inner().member else {
            return Err(Status::invalid_argument("member is required"));
        };
        if member.raft_addr.is_empty() || member.client_addr.is_empty() {
            return Err(Status::invalid_argument(
                "member needs raft_addr and client_addr",
            ));
        }
        let peer = Peer {
            raft_addr: member.raft_addr,
            client_addr: member.client_addr,
        };
        shared
            .node
            .add_learner(member.id, peer)
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(cluster_status(&shared)))
    }

    async fn change_membership(
        &self,
        request: Request<pb::ChangeMembershipRequest>,
    ) -> Result<Response<pb::ClusterStatus>, Status> {
        let shared = self.shared()?;
        let voters = request.into_inner().voters.into_iter().collect();
        shared
            .node
            .change_membership(voters)
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(cluster_status(&shared)))
    }

    async fn trigger_snapshot(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        let shared = self.shared()?;
        shared
            .node
            .trigger_snapshot()
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn trigger_election(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        let shared = self.shared()?;
        shared
            .node
            .trigger_election()
            .await
            .map_err(|error| node_status(error, &shared))?;
        Ok(Response::new(pb::Empty {}))
    }
}

#[tonic::async_trait]
impl Raft for Service {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.raft_rpc(RpcKind::AppendEntries, request).await
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        self.raft_rpc(RpcKind::Vote, request).await
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.raft_rpc(RpcKind::InstallSnapshot, request).await
    }

    async fn forward(
        &self,
        request: Request<ForwardRequest>,
    ) -> Result<Response<ForwardReply>, Status> {
        let shared = self.peer_shared()?;
        let commands: Vec<Command> =
            postcard::from_bytes(&request.into_inner().command).map_err(|e| {
                Status::invalid_argument(format!("undecodable forwarded commands: {e}"))
            })?;
        if !shared.node.is_leader() {
            return Err(not_leader(&shared));
        }
        let replies = shared.run_forwarded(commands).await;
        let reply = postcard::to_stdvec(&replies)
            .map_err(|e| Status::internal(format!("cannot encode replies: {e}")))?;
        Ok(Response::new(ForwardReply { reply }))
    }
}

impl Service {
    /// Runs a write whose reply is a count.
    async fn count(&self, args: Vec<Vec<u8>>) -> Result<Response<pb::CountResponse>, Status> {
        let reply = self.run(args, false).await?;
        Ok(Response::new(pb::CountResponse {
            count: count_of(&reply)?,
        }))
    }

    /// Runs a write whose reply (`+OK`) says nothing more.
    async fn empty(&self, args: Vec<Vec<u8>>) -> Result<Response<pb::Empty>, Status> {
        self.run(args, false).await?;
        Ok(Response::new(pb::Empty {}))
    }

    /// For node-to-node calls: refused while this node is isolated (fault injection).
    fn peer_shared(&self) -> Result<Arc<Shared>, Status> {
        let shared = self.shared()?;
        if shared.peers.is_isolated() {
            return Err(Status::unavailable("isolated from the other nodes"));
        }
        Ok(shared)
    }

    async fn raft_rpc(
        &self,
        kind: RpcKind,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let shared = self.peer_shared()?;
        let payload = shared
            .node
            .serve_rpc(kind, &request.into_inner().payload)
            .await
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        Ok(Response::new(RaftPayload { payload }))
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
