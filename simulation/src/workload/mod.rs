//! The clients, each a turmoil client host: writers and readers of stream `s` (`stream`), the
//! work queue's producer, consumers and auditor (`queue`), and the operator of membership
//! changes (`operator`). The mix of operations each runs is weighted by the seed ([`Mix`]).
//!
//! Every call to a node goes through [`timed_call`], which records when it began, ended and
//! had to end (`check::liveness`), and gives up on it well past its deadline.

mod operator;
mod queue;
mod redis8;
mod stream;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use rill_core::Reply;
use rill_proto::v1 as pb;

pub(crate) use operator::operate;
pub(crate) use queue::{audit, consume, produce_jobs};
pub(crate) use redis8::redis8;
pub(crate) use stream::{read, run_client};

use crate::check::liveness::{Call, GRACE_MS};
use crate::net::{self, Answer};
use crate::resp::{self, RespError};
use crate::world::{node_addr, now_ms, resp_addr, start_node, World};
use crate::{Outcome, Rng};

/// A gRPC call's deadline (plus its BLOCK time). The client sends it (`grpc-timeout`), and
/// tonic enforces it at both ends.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a node may take to answer a Redis command (plus its BLOCK time). The protocol
/// has no deadline, so this is Rill's own bound: a command waits at most 5 s for a leader to
/// be elected, then at most ten election timeouts (6 s here) for the leader to answer a
/// forwarded call, and then answers (`-TRYAGAIN` if it must).
pub(crate) const RESP_DEADLINE: Duration = Duration::from_secs(12);
/// How long a Redis client waits: well past the deadline, so that a node that answers late
/// is seen answering late (`check::liveness`), not cut off on time.
pub(crate) const RESP_WAIT: Duration = Duration::from_secs(17);
/// How long a connection may take, on top of a call's deadline.
const CONNECT_MS: u64 = 500;
/// How long past its deadline (and the grace) a client waits before it gives up on a call.
const GIVE_UP_MS: u64 = 5_000;

/// How often each client picks each kind of operation: drawn from the seed, so seeds differ in
/// what they stress as well as in their faults.
#[derive(Clone, Debug, Default)]
pub struct Mix {
    /// Writers: `[idempotent XAdd (gRPC), plain XADD (Execute), plain XADD pipelines (RESP),
    /// XRANGE read, blocking XREAD]`.
    pub writer: [u64; 5],
    /// Consumers: `[XREADGROUP > (with CLAIM for odd consumers), XREADGROUP > BLOCK (the
    /// same), XAUTOCLAIM, XCLAIM, history read,
    /// trim, XDEL, consumer changes, inspecting reads]`.
    pub consumer: [u64; 9],
    /// How many in a hundred commands go over the Redis protocol rather than gRPC Execute.
    pub resp_percent: u64,
}

impl Mix {
    pub fn draw(rng: &mut Rng) -> Mix {
        let mut weight = |low: u64| low + rng.below(4);
        Mix {
            writer: [weight(1), weight(1), weight(1), weight(1), weight(0)],
            consumer: [
                weight(4),
                weight(1),
                weight(1),
                weight(1),
                weight(1),
                weight(0),
                weight(0),
                weight(0),
                weight(1),
            ],
            resp_percent: 20 + rng.below(41),
        }
    }
}

/// Picks an index of `weights` with probability proportional to its weight.
pub(crate) fn pick(world: &Rc<RefCell<World>>, weights: &[u64]) -> usize {
    let total: u64 = weights.iter().sum();
    let mut at = draw(world, total);
    for (i, w) in weights.iter().enumerate() {
        if at < *w {
            return i;
        }
        at -= w;
    }
    weights.len() - 1
}

/// A draw from the workload's generator.
pub(crate) fn draw(world: &Rc<RefCell<World>>, below: u64) -> u64 {
    world
        .borrow_mut()
        .rng
        .as_mut()
        .map_or(0, |r| r.below(below))
}

/// Runs one call to a node, recording it for the deadline check: `deadline` is how long the
/// node may take (connecting included); the client gives up well after that (`None`).
pub(crate) async fn timed_call<T>(
    world: &Rc<RefCell<World>>,
    what: String,
    deadline: Duration,
    call: impl Future<Output = T>,
) -> Option<T> {
    let invoked_ms = now_ms();
    let deadline_ms = invoked_ms + deadline.as_millis() as u64 + CONNECT_MS;
    let give_up = Duration::from_millis(deadline_ms + GRACE_MS + GIVE_UP_MS - invoked_ms);
    let out = tokio::time::timeout(give_up, call).await.ok();
    world.borrow_mut().calls.push(Call {
        what,
        invoked_ms,
        completed_ms: out.is_some().then(now_ms),
        deadline_ms,
    });
    out
}

/// Appends `value` to stream `key` as XADD number `seq` of producer `c<client>`, through
/// whichever node answers. A refusal before submission moves on to the next node; a lost call
/// is retried with the same sequence number (the producer table makes that safe) until the
/// attempts run out, and then its outcome is unknown.
pub(crate) async fn append(
    world: &Rc<RefCell<World>>,
    client: u64,
    seq: u64,
    nodes: u64,
    key: &str,
    value: &str,
) -> Outcome {
    let request = pb::XAddRequest {
        key: key.as_bytes().to_vec(),
        id: "*".to_owned(),
        fields: vec![pb::Field {
            name: b"op".to_vec(),
            value: value.as_bytes().to_vec(),
        }],
        producer: Some(pb::Producer {
            id: format!("c{client}").into_bytes(),
            seq,
        }),
        ..pb::XAddRequest::default()
    };
    let mut target = start_node(world, client, nodes);
    let mut maybe_applied = false;
    for _ in 0..(nodes * 4) {
        let call = async {
            match net::connect(&node_addr(target)).await {
                Ok(mut node) => {
                    let call = node.x_add(net::timed(request.clone(), CALL_TIMEOUT));
                    net::classify(call.await)
                }
                Err(_) => Answer::NotApplied,
            }
        };
        let answer = timed_call(world, "XAdd".to_owned(), CALL_TIMEOUT, call)
            .await
            .unwrap_or(Answer::Unknown);
        match answer {
            Answer::Ok(added) => {
                world.borrow_mut().sticky.insert(client, target);
                return Outcome::Appended(added.id);
            }
            Answer::Error(_) => break,
            Answer::NotApplied => {}
            Answer::Unknown => maybe_applied = true,
        }
        target = target % nodes + 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if maybe_applied {
        Outcome::Unknown
    } else {
        Outcome::Failed
    }
}

/// Runs `args` on whichever node answers, through gRPC `Execute` or, as often as the seed's
/// mix says, the Redis protocol (RESP3); `None` if no node did. Only a refusal before
/// submission moves on to another node: anything else may have been applied, and the command
/// is not idempotent.
pub(crate) async fn execute(
    world: &Rc<RefCell<World>>,
    client: u64,
    nodes: u64,
    args: &[&str],
) -> Option<Answer<Reply>> {
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let deadline = CALL_TIMEOUT + block_of(args);
    let resp = draw(world, 100) < world.borrow().mix.resp_percent;
    let mut target = start_node(world, client, nodes);
    for _ in 0..(nodes * 4) {
        let answer = match resp {
            true => over_resp(world, target, &argv, deadline).await,
            false => over_grpc(world, target, &argv, deadline).await,
        };
        match answer {
            Answer::Ok(reply) => {
                world.borrow_mut().sticky.insert(client, target);
                return Some(Answer::Ok(reply));
            }
            Answer::Error(why) => return Some(Answer::Error(why)),
            Answer::Unknown => return Some(Answer::Unknown),
            Answer::NotApplied => {}
        }
        target = target % nodes + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// One command through gRPC `Execute` on node `target`.
async fn over_grpc(
    world: &Rc<RefCell<World>>,
    target: u64,
    argv: &[Vec<u8>],
    deadline: Duration,
) -> Answer<Reply> {
    let request = pb::ExecuteRequest {
        args: argv.to_vec(),
        read: None,
    };
    let call = async {
        match net::connect(&node_addr(target)).await {
            Ok(mut node) => net::classify(node.execute(net::timed(request, deadline)).await),
            Err(_) => Answer::NotApplied,
        }
    };
    match timed_call(
        world,
        format!("Execute {} on n{target}", name_of(argv)),
        deadline,
        call,
    )
    .await
    {
        Some(Answer::Ok(value)) => Answer::Ok(net::reply_of(value)),
        Some(Answer::Error(why)) => Answer::Error(why),
        Some(Answer::NotApplied) => Answer::NotApplied,
        Some(Answer::Unknown) | None => Answer::Unknown,
    }
}

/// One command over the Redis protocol on node `target`, after `HELLO 3` (so maps stay maps).
async fn over_resp(
    world: &Rc<RefCell<World>>,
    target: u64,
    argv: &[Vec<u8>],
    deadline: Duration,
) -> Answer<Reply> {
    let commands = [vec![b"HELLO".to_vec(), b"3".to_vec()], argv.to_vec()];
    let addr = resp_addr(target);
    let block = deadline.saturating_sub(CALL_TIMEOUT);
    let call = resp::pipeline(&addr, &commands, RESP_WAIT + block);
    match timed_call(
        world,
        format!("RESP {} on n{target}", name_of(argv)),
        RESP_DEADLINE + block,
        call,
    )
    .await
    {
        Some(Ok(mut replies)) if replies.len() == 2 => match replies.pop() {
            Some(reply) => answer_of(reply),
            None => Answer::Unknown,
        },
        Some(Err(RespError::NotSent(_))) => Answer::NotApplied,
        _ => Answer::Unknown,
    }
}

/// What a transaction's EXEC (or gRPC `Transaction`) answered.
pub(crate) enum Exec {
    /// One reply per queued command, in order.
    Ran(Vec<Reply>),
    /// A watched key changed: nothing ran.
    Aborted,
    /// Refused, failed, or lost.
    Other,
}

/// `commands` as one transaction under `WATCH key` on node `target`: over one Redis
/// connection (`WATCH`, `MULTI`, the commands, `EXEC`), or through gRPC (`KeyVersions`, then
/// `Transaction`). A queued command that is not `QUEUED` while EXEC ran is a violation.
pub(crate) async fn transaction(
    world: &Rc<RefCell<World>>,
    target: u64,
    key: &str,
    commands: &[Vec<String>],
) -> Exec {
    let argv = |args: &[&str]| args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let queued: Vec<Vec<Vec<u8>>> = commands
        .iter()
        .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
        .collect();
    if draw(world, 100) < world.borrow().mix.resp_percent {
        let mut pipeline = vec![
            argv(&["HELLO", "3"]),
            argv(&["WATCH", key]),
            argv(&["MULTI"]),
        ];
        pipeline.extend(queued);
        pipeline.push(argv(&["EXEC"]));
        let addr = resp_addr(target);
        let call = resp::pipeline(&addr, &pipeline, RESP_WAIT);
        let what = format!("RESP MULTI/EXEC on n{target}");
        let Some(Ok(mut replies)) = timed_call(world, what, RESP_DEADLINE, call).await else {
            return Exec::Other;
        };
        let exec = replies.pop();
        let queued_ok = replies
            .iter()
            .skip(3)
            .all(|reply| matches!(reply, Reply::Status(text) if text == "QUEUED"));
        return match exec {
            Some(Reply::Array(ran)) => {
                if !queued_ok || replies.len() != 3 + commands.len() {
                    world.borrow_mut().violation(
                        now_ms(),
                        format!("EXEC ran although its queue answered {replies:?}"),
                    );
                }
                Exec::Ran(ran)
            }
            Some(Reply::NilArray | Reply::Nil) => Exec::Aborted,
            _ => Exec::Other,
        };
    }
    let call = async {
        let mut node = match net::connect(&node_addr(target)).await {
            Ok(node) => node,
            Err(_) => return Exec::Other,
        };
        let keys = pb::KeyVersionsRequest {
            keys: vec![key.as_bytes().to_vec()],
        };
        let watch = match net::classify(node.key_versions(net::timed(keys, CALL_TIMEOUT)).await) {
            Answer::Ok(versions) => versions.keys,
            _ => return Exec::Other,
        };
        let request = pb::TransactionRequest {
            commands: queued
                .into_iter()
                .map(|args| pb::ExecuteRequest { args, read: None })
                .collect(),
            watch,
        };
        match net::classify(node.transaction(net::timed(request, CALL_TIMEOUT)).await) {
            Answer::Ok(response) if response.aborted => Exec::Aborted,
            Answer::Ok(response) => {
                Exec::Ran(response.replies.into_iter().map(net::reply_of).collect())
            }
            _ => Exec::Other,
        }
    };
    let what = format!("Transaction on n{target}");
    timed_call(world, what, CALL_TIMEOUT * 2, call)
        .await
        .unwrap_or(Exec::Other)
}

/// A Redis protocol reply, classified as gRPC's status codes classify a call
/// (`net::classify`): an error that says the command may have run is an unknown outcome.
pub(crate) fn answer_of(reply: Reply) -> Answer<Reply> {
    let Reply::Error(text) = &reply else {
        return Answer::Ok(reply);
    };
    if text.contains("no leader is elected yet") {
        Answer::NotApplied
    } else if text.starts_with("TRYAGAIN")
        || text.starts_with("UNCERTAIN")
        || text.starts_with("READONLY")
        || text.contains("shutting down")
        || text.contains("storage failure")
        || text.contains("internal error")
    {
        Answer::Unknown
    } else {
        Answer::Error(text.clone())
    }
}

/// A command's name, for the call log.
fn name_of(argv: &[Vec<u8>]) -> String {
    argv.first()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .unwrap_or_default()
}

/// A command's BLOCK time, if it has one.
fn block_of(args: &[&str]) -> Duration {
    let block = args
        .iter()
        .position(|a| a.eq_ignore_ascii_case("BLOCK"))
        .and_then(|at| args.get(at + 1))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0);
    Duration::from_millis(block)
}
