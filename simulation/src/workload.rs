//! The clients: writers and a reader of stream `s`, the work queue's producer and consumers,
//! and the operator of membership changes.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rill_core::Reply;
use rill_proto::v1 as pb;

use crate::nemesis::Nemesis;
use crate::net::{self, Answer};
use crate::world::{draw, node_addr, now_ms, start_node, World};
use crate::{check, Op, Outcome};

pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(2);

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
        let answer = match net::connect(&node_addr(target)).await {
            Ok(mut node) => {
                let call = node.x_add(net::timed(request.clone(), CALL_TIMEOUT));
                net::classify(call.await)
            }
            Err(_) => Answer::NotApplied,
        };
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

/// Appends `value` to stream `s` and records the operation.
pub(crate) async fn append_recorded(
    world: &Rc<RefCell<World>>,
    client: u64,
    seq: u64,
    nodes: u64,
    value: String,
) {
    let invoked_ms = now_ms();
    let outcome = append(world, client, seq, nodes, "s", &value).await;
    world.borrow_mut().history.push(Op {
        client,
        value,
        invoked_ms,
        completed_ms: now_ms(),
        outcome,
    });
}

/// Runs `args` through the gRPC `Execute` call, linearizably, on whichever node answers;
/// `None` if none did.
pub(crate) async fn execute(
    world: &Rc<RefCell<World>>,
    client: u64,
    nodes: u64,
    args: &[&str],
) -> Option<Answer<Reply>> {
    let request = pb::ExecuteRequest {
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        read: None,
    };
    let mut target = start_node(world, client, nodes);
    for _ in 0..(nodes * 4) {
        let answer = match net::connect(&node_addr(target)).await {
            Ok(mut node) => net::classify(
                node.execute(net::timed(request.clone(), CALL_TIMEOUT))
                    .await,
            ),
            Err(_) => Answer::NotApplied,
        };
        match answer {
            Answer::Ok(value) => {
                world.borrow_mut().sticky.insert(client, target);
                return Some(Answer::Ok(net::reply_of(value)));
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

pub(crate) async fn read(world: &Rc<RefCell<World>>, client: u64, nodes: u64) {
    let invoked_ms = now_ms();
    // A read changes nothing: a lost one is simply not recorded.
    if let Some(Answer::Ok(reply)) = execute(world, client, nodes, &["XRANGE", "s", "-", "+"]).await
    {
        world.borrow_mut().history.push(Op {
            client,
            value: String::new(),
            invoked_ms,
            completed_ms: now_ms(),
            outcome: Outcome::Read(check::values_of(&reply)),
        });
    }
}

pub(crate) async fn run_client(world: Rc<RefCell<World>>, client: u64, nodes: u64, ops: u64) {
    for i in 0..ops {
        if i % 5 == 4 {
            read(&world, client, nodes).await;
        } else {
            append_recorded(&world, client, i + 1, nodes, format!("c{client}-{i}")).await;
        }
        // Think time, so the run spans many faults.
        let pause = draw(&world, 150);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// The work queue's producer: appends jobs to `q` while the writers run.
pub(crate) async fn produce_jobs(world: &Rc<RefCell<World>>, nodes: u64) {
    const CLIENT: u64 = 100;
    let mut seq = 0;
    while world.borrow().writers > 0 {
        seq += 1;
        let value = format!("job-{seq}");
        let queue = check::groups::STREAM;
        if let Outcome::Appended(id) = append(world, CLIENT, seq, nodes, queue, &value).await {
            world.borrow_mut().queue_acks.push((value, id));
        }
        let pause = draw(world, 100);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// A consumer of group `g` on `q`, as a worker pool runs one: reads new entries, handles and
/// acknowledges them (and now and then "crashes" before acknowledging), claims entries idle
/// for a second, rereads its own pending entries; now and then trims the queue or deletes
/// another consumer. What the applied log did with all this is checked afterwards
/// (`check::groups`); a call's own answer only feeds the next step.
pub(crate) async fn consume(world: &Rc<RefCell<World>>, consumer: u64, nodes: u64) {
    let client = 200 + consumer;
    let me = format!("w{consumer}");
    let (q, g) = (check::groups::STREAM, check::groups::GROUP);
    execute(
        world,
        client,
        nodes,
        &["XGROUP", "CREATE", q, g, "0", "MKSTREAM"],
    )
    .await;
    let read_from = |from| {
        [
            "XREADGROUP",
            "GROUP",
            g,
            &me,
            "COUNT",
            "4",
            "STREAMS",
            q,
            from,
        ]
    };
    while world.borrow().writers > 0 {
        let got = match draw(world, 20) {
            0..=10 => {
                let got = execute(world, client, nodes, &read_from(">")).await;
                if let Some(Answer::Ok(reply)) = &got {
                    let seen = (me.clone(), check::entries_in(reply));
                    world.borrow_mut().queue_seen.push(seen);
                }
                got
            }
            11..=14 => {
                let claim = ["XAUTOCLAIM", q, g, &me, "1000", "0-0", "COUNT", "4"];
                match execute(world, client, nodes, &claim).await {
                    Some(Answer::Ok(Reply::Array(mut parts))) if parts.len() > 1 => {
                        Some(Answer::Ok(parts.swap_remove(1)))
                    }
                    other => other,
                }
            }
            15..=16 => execute(world, client, nodes, &read_from("0")).await,
            17 => {
                let keep = (20 + draw(world, 40)).to_string();
                execute(world, client, nodes, &["XTRIM", q, "MAXLEN", &keep]).await;
                None
            }
            18 => {
                let other = format!("w{}", 1 + draw(world, 3));
                let change = ["XGROUP", "DELCONSUMER", q, g, &other];
                execute(world, client, nodes, &change).await;
                None
            }
            _ => {
                let change = ["XGROUP", "CREATECONSUMER", q, g, &me];
                execute(world, client, nodes, &change).await;
                None
            }
        };
        if let Some(Answer::Ok(reply)) = got {
            // One in eight deliveries is never acknowledged: its worker "crashed".
            let ids: Vec<String> = check::entries_in(&reply)
                .into_iter()
                .filter(|_| draw(world, 8) != 0)
                .collect();
            if !ids.is_empty() {
                let think = draw(world, 100);
                tokio::time::sleep(Duration::from_millis(think)).await;
                let mut ack = vec!["XACK", q, g];
                ack.extend(ids.iter().map(String::as_str));
                execute(world, client, nodes, &ack).await;
            }
        }
        let pause = draw(world, 150);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// The operator of a membership change: makes `voters` the voting members, waits until
/// `voters_back_at`, then makes every node a voter again. Each change goes to the node that
/// leads when it is tried (as an operator asks `Status` first) and is retried until it is
/// answered: it lands once a leader is reachable.
pub(crate) async fn operate(
    world: Rc<RefCell<World>>,
    nodes: u64,
    voters: Vec<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let changed = change_voters(&world, nodes, voters.clone(), |w| {
        w.voters_back_at.is_some_and(|at| now_ms() >= at)
    })
    .await;
    let note = format!("{} voters {voters:?} {}", now_ms(), outcome(changed));
    world.borrow_mut().operator_log.push(note);
    while world
        .borrow()
        .voters_back_at
        .is_some_and(|at| now_ms() < at)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all: Vec<u64> = (1..=nodes).collect();
    let deadline = now_ms() + 60_000;
    let changed = change_voters(&world, nodes, all.clone(), |_| now_ms() >= deadline).await;
    let mut w = world.borrow_mut();
    let note = format!("{} voters {all:?} {}", now_ms(), outcome(changed));
    w.operator_log.push(note);
    w.voters_back_at = None;
    Ok(())
}

pub(crate) fn outcome(changed: bool) -> &'static str {
    if changed {
        "in place"
    } else {
        "given up"
    }
}

/// Asks the leader to make `voters` the voting members until it answers or `give_up` says
/// so; whether it answered.
pub(crate) async fn change_voters(
    world: &Rc<RefCell<World>>,
    nodes: u64,
    voters: Vec<u64>,
    give_up: impl Fn(&World) -> bool,
) -> bool {
    let mut target = 1;
    while !give_up(&world.borrow()) {
        let leader = Nemesis::leader(world).unwrap_or(target);
        let request = pb::ChangeMembershipRequest {
            voters: voters.clone(),
        };
        let answer = match net::connect_cluster(&node_addr(leader)).await {
            Ok(mut node) => net::classify(
                node.change_membership(net::timed(request, CALL_TIMEOUT))
                    .await,
            ),
            Err(_) => Answer::NotApplied,
        };
        if let Answer::Ok(_) = answer {
            return true;
        }
        target = target % nodes + 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
