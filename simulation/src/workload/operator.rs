//! The operator of membership changes: takes a voter out, and puts every node back.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use rill_proto::v1 as pb;

use super::{timed_call, CALL_TIMEOUT};
use crate::nemesis::Nemesis;
use crate::net::{self, Answer};
use crate::world::{node_addr, now_ms, World};

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
    w.operator_done_at = Some(now_ms());
    Ok(())
}

fn outcome(changed: bool) -> &'static str {
    if changed {
        "in place"
    } else {
        "given up"
    }
}

/// Asks the leader to make `voters` the voting members until it answers or `give_up` says
/// so; whether it answered.
async fn change_voters(
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
        let call = async {
            match net::connect_cluster(&node_addr(leader)).await {
                Ok(mut node) => net::classify(
                    node.change_membership(net::timed(request, CALL_TIMEOUT))
                        .await,
                ),
                Err(_) => Answer::NotApplied,
            }
        };
        let answer = timed_call(world, "ChangeMembership".to_owned(), CALL_TIMEOUT, call)
            .await
            .unwrap_or(Answer::Unknown);
        if let Answer::Ok(_) = answer {
            return true;
        }
        target = target % nodes + 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
