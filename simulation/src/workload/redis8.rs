//! Redis 8's stream commands on stream `r8` and group `g8`, for the seeds that ask for them
//! (`Config::redis8`): IDMP and IDMPAUTO appends, XCFGSET, reads with CLAIM, XNACK (with and
//! without FORCE), XACKDEL and XDELEX with each reference policy, trims with a policy, and
//! transactions of them under WATCH (MULTI/EXEC on one Redis connection, or gRPC's
//! KeyVersions and Transaction). Their answers are not modelled: what is checked is what every
//! seed checks of every key (replicas byte-identical, the engine's invariants on every node,
//! deadlines), under the same faults, plus that EXEC answers one reply per queued command.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::{draw, execute, transaction, Exec};
use crate::check;
use crate::net::Answer;
use crate::world::{now_ms, start_node, World};

const KEY: &str = "r8";
const GROUP: &str = "g8";
const POLICIES: [&str; 3] = ["KEEPREF", "DELREF", "ACKED"];
const MODES: [&str; 3] = ["SILENT", "FAIL", "FATAL"];

/// Runs one command; counts it when it is answered without error.
async fn run(world: &Rc<RefCell<World>>, client: u64, nodes: u64, args: &[&str]) {
    if let Some(Answer::Ok(reply)) = execute(world, client, nodes, args).await {
        if !matches!(reply, rill_core::Reply::Error(_)) {
            world.borrow_mut().redis8_answered += 1;
        }
    }
}

/// Entries of `r8` from the head, up to `n`: IDs for the commands that name some.
async fn some_ids(world: &Rc<RefCell<World>>, client: u64, nodes: u64, n: usize) -> Vec<String> {
    let count = n.to_string();
    match execute(
        world,
        client,
        nodes,
        &["XRANGE", KEY, "-", "+", "COUNT", &count],
    )
    .await
    {
        Some(Answer::Ok(reply)) => check::entries_in(&reply),
        _ => Vec::new(),
    }
}

pub(crate) async fn redis8(world: &Rc<RefCell<World>>, nodes: u64) {
    const CLIENT: u64 = 400;
    let create = ["XGROUP", "CREATE", KEY, GROUP, "0", "MKSTREAM"];
    run(world, CLIENT, nodes, &create).await;
    let mut n = 0u64;
    while world.borrow().writers > 0 {
        n += 1;
        let iid = format!("i{}", n % 16);
        let value = n.to_string();
        let consumer = format!("c{}", n % 3);
        let policy = POLICIES[draw(world, 3) as usize];
        match draw(world, 10) {
            // Repeated iids answer the first ID and append nothing, on every replica.
            0 => {
                let args = ["XADD", KEY, "IDMP", "p1", &iid, "*", "n", &value];
                run(world, CLIENT, nodes, &args).await;
            }
            1 => {
                let keep = (20 + draw(world, 20)).to_string();
                let args = [
                    "XADD", KEY, "IDMPAUTO", "p2", "MAXLEN", &keep, policy, "*", "n", &iid,
                ];
                run(world, CLIENT, nodes, &args).await;
            }
            2 => {
                let claim = if draw(world, 2) == 0 { "0" } else { "200" };
                let args = [
                    "XREADGROUP",
                    "GROUP",
                    GROUP,
                    &consumer,
                    "COUNT",
                    "3",
                    "CLAIM",
                    claim,
                    "STREAMS",
                    KEY,
                    ">",
                ];
                run(world, CLIENT, nodes, &args).await;
            }
            3 => {
                let ids = some_ids(world, CLIENT, nodes, 3).await;
                let count = ids.len().to_string();
                let mode = MODES[draw(world, 3) as usize];
                let mut args = vec!["XNACK", KEY, GROUP, mode, "IDS", &count];
                args.extend(ids.iter().map(String::as_str));
                if draw(world, 2) == 0 {
                    args.push("FORCE");
                }
                if !ids.is_empty() {
                    run(world, CLIENT, nodes, &args).await;
                }
            }
            4 => {
                let ids = some_ids(world, CLIENT, nodes, 2).await;
                let count = ids.len().to_string();
                let mut args = vec!["XACKDEL", KEY, GROUP, policy, "IDS", &count];
                args.extend(ids.iter().map(String::as_str));
                if !ids.is_empty() {
                    run(world, CLIENT, nodes, &args).await;
                }
            }
            5 => {
                let ids = some_ids(world, CLIENT, nodes, 2).await;
                let count = ids.len().to_string();
                let mut args = vec!["XDELEX", KEY, policy, "IDS", &count];
                args.extend(ids.iter().map(String::as_str));
                if !ids.is_empty() {
                    run(world, CLIENT, nodes, &args).await;
                }
            }
            6 => {
                let keep = (10 + draw(world, 30)).to_string();
                run(
                    world,
                    CLIENT,
                    nodes,
                    &["XTRIM", KEY, "MAXLEN", &keep, policy],
                )
                .await;
            }
            7 => {
                let duration = (1 + draw(world, 200)).to_string();
                let args = [
                    "XCFGSET",
                    KEY,
                    "IDMP-DURATION",
                    &duration,
                    "IDMP-MAXSIZE",
                    "8",
                ];
                run(world, CLIENT, nodes, &args).await;
            }
            8 => {
                let ids = some_ids(world, CLIENT, nodes, 2).await;
                let mut commands = vec![
                    vec![
                        "XADD".to_owned(),
                        KEY.to_owned(),
                        "*".to_owned(),
                        "t".to_owned(),
                        value,
                    ],
                    vec!["XLEN".to_owned(), KEY.to_owned()],
                ];
                if let Some(id) = ids.first() {
                    let nack = ["XNACK", KEY, GROUP, "SILENT", "IDS", "1", id, "FORCE"];
                    commands.push(nack.iter().map(|a| a.to_string()).collect());
                    let ackdel = ["XACKDEL", KEY, GROUP, policy, "IDS", "1", id];
                    commands.push(ackdel.iter().map(|a| a.to_string()).collect());
                }
                let target = start_node(world, CLIENT, nodes);
                match transaction(world, target, KEY, &commands).await {
                    Exec::Ran(replies) if replies.len() != commands.len() => {
                        let what = format!(
                            "EXEC of {} commands answered {} replies",
                            commands.len(),
                            replies.len()
                        );
                        world.borrow_mut().violation(now_ms(), what);
                    }
                    Exec::Ran(_) => world.borrow_mut().redis8_transactions += 1,
                    Exec::Aborted | Exec::Other => {}
                }
            }
            _ => {
                let ids = some_ids(world, CLIENT, nodes, 1).await;
                if let Some(id) = ids.first() {
                    run(
                        world,
                        CLIENT,
                        nodes,
                        &["XCLAIM", KEY, GROUP, &consumer, "0", id],
                    )
                    .await;
                }
            }
        }
        let pause = draw(world, 40);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}
