//! `rill.v1.Streams`: each typed call becomes the Redis argument vector, its reply the typed
//! message.

use rill_core::{Command, Reply};
use rill_proto::v1::streams_server::Streams;
use rill_proto::v1::{self as pb, value::Kind};
use tonic::{Request, Response, Status};

use super::{parse_args, status_of, Service};

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
/// An entry, whether it was deleted (a history read's `[id, nil]`), and a CLAIM read's idle
/// time and delivery count.
type ReadEntry = (pb::Entry, bool, Option<(u64, u64)>);

fn entry_of(reply: Reply) -> Result<ReadEntry, Status> {
    let Reply::Array(mut parts) = reply else {
        return Err(malformed("an entry"));
    };
    let claimed = match parts.len() {
        2 => None,
        4 => match (parts.pop(), parts.pop()) {
            (Some(Reply::Int(count)), Some(Reply::Int(idle))) => {
                Some((idle.max(0) as u64, count.max(0) as u64))
            }
            _ => return Err(malformed("a claimed entry")),
        },
        _ => return Err(malformed("an entry")),
    };
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
        claimed,
    ))
}

fn entries_of(reply: Reply) -> Result<Vec<pb::Entry>, Status> {
    match reply {
        Reply::Array(items) => items
            .into_iter()
            .map(|item| entry_of(item).map(|(e, _, _)| e))
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
            ..Default::default()
        };
        for item in items {
            let (entry, deleted, claimed) = entry_of(item)?;
            stream.entries.push(entry);
            stream.deleted.push(deleted);
            if let Some((idle_ms, count)) = claimed {
                stream.idle_ms.push(idle_ms);
                stream.delivery_count.push(count);
            }
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
    args.push(policy_arg(trim.policy)?);
    Ok(())
}

/// A `RefPolicy` as sent: a value this build does not know is refused, not read as KEEPREF.
fn policy_arg(policy: i32) -> Result<Vec<u8>, Status> {
    let policy = pb::RefPolicy::try_from(policy)
        .map_err(|_| Status::invalid_argument(format!("ERR unknown RefPolicy {policy}")))?;
    Ok(bytes(match policy {
        pb::RefPolicy::KeepRef => "KEEPREF",
        pb::RefPolicy::DelRef => "DELREF",
        pb::RefPolicy::Acked => "ACKED",
    }))
}

/// `[policy] IDS n id...`, as XDELEX and XACKDEL take them.
fn policy_and_ids(policy: i32, ids: &[String], args: &mut Vec<Vec<u8>>) -> Result<(), Status> {
    args.push(policy_arg(policy)?);
    args.push(bytes("IDS"));
    args.push(bytes(&ids.len().to_string()));
    args.extend(ids.iter().map(|id| bytes(id)));
    Ok(())
}

fn delete_results_of(reply: Reply) -> Result<pb::DeleteResults, Status> {
    let Reply::Array(items) = reply else {
        return Err(malformed("delete results"));
    };
    let results = items
        .iter()
        .map(|item| match item {
            Reply::Int(-1) => Ok(pb::DeleteResult::NotFound as i32),
            Reply::Int(1) => Ok(pb::DeleteResult::Deleted as i32),
            Reply::Int(2) => Ok(pb::DeleteResult::Kept as i32),
            _ => Err(malformed("a delete result")),
        })
        .collect::<Result<_, _>>()?;
    Ok(pb::DeleteResults { results })
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

    async fn transaction(
        &self,
        request: Request<pb::TransactionRequest>,
    ) -> Result<Response<pb::TransactionResponse>, Status> {
        let response = self.run_transaction(request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn key_versions(
        &self,
        request: Request<pb::KeyVersionsRequest>,
    ) -> Result<Response<pb::KeyVersionsResponse>, Status> {
        let response = self.read_key_versions(request.into_inner()).await?;
        Ok(Response::new(response))
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
        match request.idmp {
            Some(idmp) if idmp.iid.is_empty() => args.extend([bytes("IDMPAUTO"), idmp.pid]),
            Some(idmp) => args.extend([bytes("IDMP"), idmp.pid, idmp.iid]),
            None => {}
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
        push_num(&mut args, "CLAIM", request.claim_min_idle_ms);
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

    async fn x_cfg_set(
        &self,
        request: Request<pb::XCfgSetRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let request = request.into_inner();
        let mut args = vec![bytes("XCFGSET"), request.key];
        let settings = [
            ("IDMP-DURATION", request.idmp_duration_s),
            ("IDMP-MAXSIZE", request.idmp_maxsize),
        ];
        for (name, value) in settings {
            if let Some(value) = value {
                args.extend([bytes(name), bytes(&value.to_string())]);
            }
        }
        self.empty(args).await
    }

    async fn x_nack(
        &self,
        request: Request<pb::XNackRequest>,
    ) -> Result<Response<pb::CountResponse>, Status> {
        let request = request.into_inner();
        let mode = pb::NackMode::try_from(request.mode).map_err(|_| {
            Status::invalid_argument(format!("ERR unknown NackMode {}", request.mode))
        })?;
        let mode = match mode {
            pb::NackMode::Silent => "SILENT",
            pb::NackMode::Fail => "FAIL",
            pb::NackMode::Fatal => "FATAL",
        };
        let mut args = vec![
            bytes("XNACK"),
            request.key,
            bytes(&request.group),
            bytes(mode),
        ];
        args.extend([bytes("IDS"), bytes(&request.ids.len().to_string())]);
        args.extend(request.ids.iter().map(|id| bytes(id)));
        if let Some(count) = request.retry_count {
            args.extend([bytes("RETRYCOUNT"), bytes(&count.to_string())]);
        }
        if request.force {
            args.push(bytes("FORCE"));
        }
        self.count(args).await
    }

    async fn x_del_ex(
        &self,
        request: Request<pb::XDelExRequest>,
    ) -> Result<Response<pb::DeleteResults>, Status> {
        let request = request.into_inner();
        let policy = request.policy;
        let mut args = vec![bytes("XDELEX"), request.key];
        policy_and_ids(policy, &request.ids, &mut args)?;
        let reply = self.run(args, false).await?;
        Ok(Response::new(delete_results_of(reply)?))
    }

    async fn x_ack_del(
        &self,
        request: Request<pb::XAckDelRequest>,
    ) -> Result<Response<pb::DeleteResults>, Status> {
        let request = request.into_inner();
        let policy = request.policy;
        let mut args = vec![bytes("XACKDEL"), request.key, bytes(&request.group)];
        policy_and_ids(policy, &request.ids, &mut args)?;
        let reply = self.run(args, false).await?;
        Ok(Response::new(delete_results_of(reply)?))
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
            // A released entry (XNACK) has an idle time of -1.
            let released = matches!(idle, Reply::Int(-1));
            Ok(pb::PendingEntry {
                id: text_of(id, "an ID")?,
                consumer: text_of(consumer, "a consumer")?,
                idle_ms: if released {
                    0
                } else {
                    int_of(&idle, "idle time")?
                },
                deliveries: int_of(&deliveries, "delivery count")?,
                released,
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
            entry => entry_of(entry).map(|(entry, _, _)| entry),
        })
        .collect()
}

fn push_num(args: &mut Vec<Vec<u8>>, name: &str, value: Option<u64>) {
    if let Some(value) = value {
        args.push(bytes(name));
        args.push(bytes(&value.to_string()));
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
}
