//! The work queue, stream `q`: one producer appends jobs; consumers of group `g` take them as
//! a worker pool does; an auditor reads the same stream through group `audit`. What the
//! applied log did with all this is checked afterwards against a model (`check::groups`); a
//! call's own answer only feeds the next step.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rill_core::Reply;

use super::{append, draw, execute, pick};
use crate::check;
use crate::check::groups::{AUDIT, GROUP, STREAM};
use crate::net::Answer;
use crate::world::World;
use crate::Outcome;

/// The work queue's producer: appends jobs to `q` while the writers run; now and then with an
/// exact MAXLEN of its own.
pub(crate) async fn produce_jobs(world: &Rc<RefCell<World>>, nodes: u64) {
    const CLIENT: u64 = 100;
    let mut seq = 0;
    while world.borrow().writers > 0 {
        seq += 1;
        let value = format!("job-{seq}");
        if draw(world, 10) == 0 {
            // A plain XADD that trims, through Execute: not idempotent, so not retried.
            let keep = (30 + draw(world, 40)).to_string();
            let args = ["XADD", STREAM, "MAXLEN", &keep, "*", "op", &value];
            if let Some(Answer::Ok(Reply::Bulk(id))) = execute(world, CLIENT, nodes, &args).await {
                let id = String::from_utf8_lossy(&id).into_owned();
                world.borrow_mut().queue_acks.push((value, id));
            }
        } else if let Outcome::Appended(id) =
            append(world, CLIENT, seq, nodes, STREAM, &value).await
        {
            world.borrow_mut().queue_acks.push((value, id));
        }
        let pause = draw(world, 100);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// IDs some other consumer was handed lately: what a worker might claim or delete.
fn others_ids(world: &Rc<RefCell<World>>, me: &str, n: usize) -> Vec<String> {
    let w = world.borrow();
    w.queue_seen
        .iter()
        .rev()
        .filter(|(who, _)| who != me)
        .flat_map(|(_, ids)| ids.iter().cloned())
        .take(n)
        .collect()
}

/// A consumer of group `g` on `q`, as a worker pool runs one: reads new entries (now and then
/// blocking for them), handles and acknowledges them (and now and then "crashes" before
/// acknowledging), claims entries idle for a second (XAUTOCLAIM, or XCLAIM of entries others
/// were handed), rereads its own pending entries; now and then trims the queue (exactly,
/// approximately, or by ID), deletes entries, deletes another consumer or creates itself, or
/// inspects the queue (XLEN, XINFO, XPENDING, XREVRANGE).
pub(crate) async fn consume(world: &Rc<RefCell<World>>, consumer: u64, nodes: u64) {
    let client = 200 + consumer;
    let me = format!("w{consumer}");
    let (q, g) = (STREAM, GROUP);
    let mix = world.borrow().mix.consumer;
    execute(
        world,
        client,
        nodes,
        &["XGROUP", "CREATE", q, g, "0", "MKSTREAM"],
    )
    .await;
    while world.borrow().writers > 0 {
        let kind = pick(world, &mix);
        let got = match kind {
            kind @ (0 | 1) => {
                let mut args = vec!["XREADGROUP", "GROUP", g, &me, "COUNT", "4"];
                if kind == 1 {
                    args.extend(["BLOCK", "300"]);
                }
                if consumer % 2 == 1 {
                    // Redis 8.4: entries idle 1 s come back first. Chosen by consumer, not
                    // drawn, so a seed's draws stay what they were.
                    args.extend(["CLAIM", "1000"]);
                }
                args.extend(["STREAMS", q, ">"]);
                let got = execute(world, client, nodes, &args).await;
                if let Some(Answer::Ok(reply)) = &got {
                    let seen = (me.clone(), check::entries_in(reply));
                    world.borrow_mut().queue_seen.push(seen);
                }
                got
            }
            2 => {
                let justid = draw(world, 4) == 0;
                let mut claim = vec!["XAUTOCLAIM", q, g, &me, "1000", "0-0", "COUNT", "4"];
                if justid {
                    claim.push("JUSTID");
                }
                match execute(world, client, nodes, &claim).await {
                    Some(Answer::Ok(Reply::Array(mut parts))) if parts.len() > 1 && !justid => {
                        Some(Answer::Ok(parts.swap_remove(1)))
                    }
                    _ => None,
                }
            }
            3 => {
                let ids = others_ids(world, &me, 3);
                let mut claim = vec!["XCLAIM", q, g, &me, "1000"];
                claim.extend(ids.iter().map(String::as_str));
                if ids.is_empty() {
                    claim.push("0-1");
                }
                let justid = draw(world, 4) == 0;
                if justid {
                    claim.push("JUSTID");
                }
                let got = execute(world, client, nodes, &claim).await;
                got.filter(|_| !justid)
            }
            4 => {
                let history = [
                    "XREADGROUP",
                    "GROUP",
                    g,
                    &me,
                    "COUNT",
                    "4",
                    "STREAMS",
                    q,
                    "0",
                ];
                execute(world, client, nodes, &history).await
            }
            5 => {
                trim(world, client, nodes, &me).await;
                None
            }
            6 => {
                let ids = others_ids(world, &me, 1 + draw(world, 2) as usize);
                if !ids.is_empty() {
                    let mut del = vec!["XDEL", q];
                    del.extend(ids.iter().map(String::as_str));
                    execute(world, client, nodes, &del).await;
                }
                None
            }
            7 => {
                let change = if draw(world, 2) == 0 {
                    let other = format!("w{}", 1 + draw(world, 3));
                    ["XGROUP", "DELCONSUMER", q, g, &other].map(str::to_owned)
                } else {
                    ["XGROUP", "CREATECONSUMER", q, g, &me].map(str::to_owned)
                };
                let change: Vec<&str> = change.iter().map(String::as_str).collect();
                execute(world, client, nodes, &change).await;
                None
            }
            _ => {
                inspect(world, client, nodes).await;
                None
            }
        };
        if let Some(Answer::Ok(reply)) = got {
            // One in eight deliveries is never acknowledged: its worker "crashed". A claimed
            // entry failed before: half of those fail again, and stay pending.
            let fails = if matches!(kind, 2 | 3) { 2 } else { 8 };
            let ids: Vec<String> = check::entries_in(&reply)
                .into_iter()
                .filter(|_| draw(world, fails) != 0)
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

/// Trims the queue: to an exact or approximate length, or below an ID a consumer was handed.
async fn trim(world: &Rc<RefCell<World>>, client: u64, nodes: u64, me: &str) {
    let keep = (20 + draw(world, 40)).to_string();
    let args: Vec<String> = match draw(world, 3) {
        0 => vec!["XTRIM".into(), STREAM.into(), "MAXLEN".into(), keep],
        1 => vec![
            "XTRIM".into(),
            STREAM.into(),
            "MAXLEN".into(),
            "~".into(),
            keep,
        ],
        _ => match others_ids(world, me, 40).last() {
            Some(id) => vec!["XTRIM".into(), STREAM.into(), "MINID".into(), id.clone()],
            None => return,
        },
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    execute(world, client, nodes, &args).await;
}

/// Reads that change nothing, for their own sake: they run on the read path of whichever node
/// answers, under the same faults.
async fn inspect(world: &Rc<RefCell<World>>, client: u64, nodes: u64) {
    let (q, g) = (STREAM, GROUP);
    let args: &[&str] = match draw(world, 6) {
        0 => &["XLEN", q],
        1 => match draw(world, 2) {
            0 => &["XINFO", "STREAM", q],
            _ => &["XINFO", "STREAM", q, "FULL", "COUNT", "5"],
        },
        2 => &["XINFO", "GROUPS", q],
        3 => &["XINFO", "CONSUMERS", q, g],
        4 => &["XPENDING", q, g],
        _ => &["XREVRANGE", q, "+", "-", "COUNT", "3"],
    };
    execute(world, client, nodes, args).await;
}

/// The auditor: reads the queue through group `audit` without acknowledging (NOACK), or with
/// a pending list it then acknowledges; moves the group (SETID), destroys and creates it
/// again, forces entries into its pending list (XCLAIM FORCE) and claims them back, and moves
/// the stream's last ID (XSETID).
pub(crate) async fn audit(world: &Rc<RefCell<World>>, nodes: u64) {
    const CLIENT: u64 = 300;
    let (q, a, me) = (STREAM, AUDIT, "auditor");
    let create = ["XGROUP", "CREATE", q, a, "$", "MKSTREAM"];
    execute(world, CLIENT, nodes, &create).await;
    while world.borrow().writers > 0 {
        match draw(world, 10) {
            0..=4 => {
                let read = [
                    "XREADGROUP",
                    "GROUP",
                    a,
                    me,
                    "COUNT",
                    "5",
                    "NOACK",
                    "STREAMS",
                    q,
                    ">",
                ];
                execute(world, CLIENT, nodes, &read).await;
            }
            5 => {
                let read = [
                    "XREADGROUP",
                    "GROUP",
                    a,
                    me,
                    "COUNT",
                    "3",
                    "STREAMS",
                    q,
                    ">",
                ];
                if let Some(Answer::Ok(reply)) = execute(world, CLIENT, nodes, &read).await {
                    let ids = check::entries_in(&reply);
                    let mut ack = vec!["XACK", q, a];
                    ack.extend(ids.iter().map(String::as_str));
                    if ids.len() > 1 {
                        // The last one stays pending.
                        ack.pop();
                        execute(world, CLIENT, nodes, &ack).await;
                    }
                }
            }
            6 => {
                let to = match draw(world, 3) {
                    0 => "0".to_owned(),
                    1 => "$".to_owned(),
                    _ => others_ids(world, me, 10)
                        .last()
                        .cloned()
                        .unwrap_or("0".into()),
                };
                execute(world, CLIENT, nodes, &["XGROUP", "SETID", q, a, &to]).await;
            }
            7 => {
                execute(world, CLIENT, nodes, &["XGROUP", "DESTROY", q, a]).await;
                execute(world, CLIENT, nodes, &create).await;
            }
            8 => {
                let ids = others_ids(world, me, 2);
                let mut claim = vec!["XCLAIM", q, a, me, "0"];
                claim.extend(ids.iter().map(String::as_str));
                if !ids.is_empty() {
                    claim.extend(["FORCE", "JUSTID"]);
                    execute(world, CLIENT, nodes, &claim).await;
                }
            }
            9 => {
                let claim = ["XAUTOCLAIM", q, a, me, "0", "0-0", "COUNT", "3", "JUSTID"];
                execute(world, CLIENT, nodes, &claim).await;
            }
            _ => {
                // Moves the stream's last ID: refused below the top entry, allowed above it
                // (and below the old last ID, once the top entries are gone).
                if let Some(id) = others_ids(world, me, 1).pop() {
                    execute(world, CLIENT, nodes, &["XSETID", q, &id]).await;
                }
            }
        }
        let pause = draw(world, 200);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}
