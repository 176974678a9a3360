//! Writers and readers of stream `s`, which is never trimmed: every value written is unique,
//! so the history checkers (`check::durability`, `check::ids`, `check::reads`) can follow each
//! one. Writers append through the idempotent gRPC XAdd, a plain XADD through gRPC Execute, or
//! a pipeline of plain XADDs over the Redis protocol to any node (a follower forwards it to
//! the leader); they read the whole stream, or block for what follows the last ID they saw.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rill_core::Reply;

use super::{answer_of, append, draw, execute, pick, timed_call, RESP_DEADLINE, RESP_WAIT};
use crate::net::Answer;
use crate::resp::{self, RespError};
use crate::world::{now_ms, resp_addr, World};
use crate::{check, Op, Outcome};

/// How long a blocking read waits.
const BLOCK_MS: u64 = 400;

pub(crate) async fn run_client(world: Rc<RefCell<World>>, client: u64, nodes: u64, ops: u64) {
    let mix = world.borrow().mix.writer;
    // The last ID this writer saw: where its blocking reads start.
    let mut last_seen = "0-0".to_owned();
    let mut i = 0;
    while i < ops {
        let value = |i: u64| format!("c{client}-{i}");
        match pick(&world, &mix) {
            0 => {
                let invoked_ms = now_ms();
                let outcome = append(&world, client, i + 1, nodes, "s", &value(i)).await;
                record(&world, client, value(i), invoked_ms, outcome);
            }
            1 => {
                let invoked_ms = now_ms();
                let args = ["XADD", "s", "*", "op", &value(i)];
                let outcome = outcome_of(execute(&world, client, nodes, &args).await);
                record(&world, client, value(i), invoked_ms, outcome);
            }
            2 => {
                let n = 2 + draw(&world, 3);
                let values: Vec<String> = (i..i + n).map(value).collect();
                pipeline(&world, client, nodes, &values).await;
                i += n - 1;
            }
            3 => {
                if let Some(seen) = read(&world, client, nodes).await {
                    last_seen = seen;
                }
            }
            _ => {
                if let Some(seen) = read_after(&world, client, nodes, &last_seen).await {
                    last_seen = seen;
                }
            }
        }
        i += 1;
        // Think time, so the run spans many faults.
        let pause = draw(&world, 150);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

fn record(
    world: &Rc<RefCell<World>>,
    client: u64,
    value: String,
    invoked_ms: u64,
    outcome: Outcome,
) {
    world.borrow_mut().history.push(Op {
        client,
        value,
        invoked_ms,
        completed_ms: now_ms(),
        outcome,
    });
}

/// What a plain XADD's answer says about it. A TRYAGAIN (a follower lost its forwarded call)
/// may have been applied; other errors were refused.
fn outcome_of(answer: Option<Answer<Reply>>) -> Outcome {
    match answer {
        Some(Answer::Ok(Reply::Bulk(id))) => {
            Outcome::Appended(String::from_utf8_lossy(&id).into_owned())
        }
        Some(Answer::Ok(_) | Answer::Error(_) | Answer::NotApplied) | None => Outcome::Failed,
        Some(Answer::Unknown) => Outcome::Unknown,
    }
}

/// Plain XADDs of `values`, pipelined over the Redis protocol to a node the seed picks.
async fn pipeline(world: &Rc<RefCell<World>>, client: u64, nodes: u64, values: &[String]) {
    let node = 1 + draw(world, nodes);
    let commands: Vec<Vec<Vec<u8>>> = values
        .iter()
        .map(|value| {
            ["XADD", "s", "*", "op", value]
                .iter()
                .map(|a| a.as_bytes().to_vec())
                .collect()
        })
        .collect();
    let invoked_ms = now_ms();
    let addr = resp_addr(node);
    let call = resp::pipeline(&addr, &commands, RESP_WAIT);
    let answered = timed_call(
        world,
        format!("RESP pipeline of {} XADDs on n{node}", values.len()),
        RESP_DEADLINE,
        call,
    )
    .await;
    // Each command that answered is classified as a single command's answer would be; those
    // that did not may have run.
    let replies = match answered {
        Some(Ok(replies)) => replies,
        Some(Err(RespError::NotSent(_))) => {
            let failed = values.iter().map(|_| Reply::err("ERR not sent"));
            failed.collect()
        }
        Some(Err(RespError::Lost { replies, .. })) => replies,
        None => Vec::new(),
    };
    let mut outcomes: Vec<Outcome> = replies
        .into_iter()
        .map(|reply| outcome_of(Some(answer_of(reply))))
        .collect();
    outcomes.resize(values.len(), Outcome::Unknown);
    for (value, outcome) in values.iter().zip(outcomes) {
        record(world, client, value.clone(), invoked_ms, outcome);
    }
}

/// Reads the whole stream and records what it saw; the last ID, if any.
pub(crate) async fn read(world: &Rc<RefCell<World>>, client: u64, nodes: u64) -> Option<String> {
    let invoked_ms = now_ms();
    // A read changes nothing: a lost one is simply not recorded.
    let Some(Answer::Ok(reply)) = execute(world, client, nodes, &["XRANGE", "s", "-", "+"]).await
    else {
        return None;
    };
    let entries = check::entries_of(&reply);
    let last = entries.last().map(|(id, _)| id.clone());
    record(
        world,
        client,
        String::new(),
        invoked_ms,
        Outcome::Read(entries),
    );
    last
}

/// Blocks for what follows `after` and records what came; the last ID, if any.
async fn read_after(
    world: &Rc<RefCell<World>>,
    client: u64,
    nodes: u64,
    after: &str,
) -> Option<String> {
    let invoked_ms = now_ms();
    let block = BLOCK_MS.to_string();
    let args = [
        "XREAD", "COUNT", "5", "BLOCK", &block, "STREAMS", "s", after,
    ];
    let Some(Answer::Ok(reply)) = execute(world, client, nodes, &args).await else {
        return None;
    };
    let entries = match &reply {
        Reply::Map(streams) | Reply::PairMap(streams) => streams
            .iter()
            .flat_map(|(_, entries)| check::entries_of(entries))
            .collect(),
        _ => Vec::new(),
    };
    let last = entries.last().map(|(id, _)| id.clone());
    let outcome = Outcome::ReadAfter(after.to_owned(), entries);
    record(world, client, String::new(), invoked_ms, outcome);
    last
}
