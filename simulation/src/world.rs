//! State shared by the hosts, the clients and the nemesis, and the names they share.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use rill_raft::RaftNode;
use rill_server::Member;

use crate::disk::SimDisk;
use crate::net::GRPC_PORT;
use crate::{applied, Op, Rng};

/// State shared by the hosts, the clients and the driver. Everything runs on one thread.
#[derive(Default)]
pub(crate) struct World {
    pub(crate) rng: Option<Rng>,
    pub(crate) skew_ms: BTreeMap<u64, u64>,
    pub(crate) nodes: BTreeMap<u64, Weak<RaftNode>>,
    pub(crate) disks: BTreeMap<u64, Arc<SimDisk>>,
    pub(crate) boots: BTreeMap<u64, u64>,
    pub(crate) history: Vec<Op>,
    /// Acknowledged appends to the work queue: `(value, id)`.
    pub(crate) queue_acks: Vec<(String, String)>,
    /// What each consumer was handed by `XREADGROUP >`: `(consumer, ids)`.
    pub(crate) queue_seen: Vec<(String, Vec<String>)>,
    pub(crate) applied: applied::Shared,
    /// Writers still running; the reader stops at zero.
    pub(crate) writers: u64,
    /// The node each client last succeeded with: clients stick to it, as real ones cache
    /// the leader.
    pub(crate) sticky: BTreeMap<u64, u64>,
    /// While one node is out of the voters: when the operator puts it back.
    pub(crate) voters_back_at: Option<u64>,
    /// What the operator's membership changes did, `"<ms> ..."` as the nemesis log.
    pub(crate) operator_log: Vec<String>,
}

pub(crate) fn host(id: u64) -> String {
    format!("n{id}")
}

pub(crate) fn now_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn members(nodes: u64) -> Vec<Member> {
    (1..=nodes)
        .map(|id| Member {
            id,
            grpc: format!("{}:{GRPC_PORT}", host(id)),
            redis: format!("{}:0", host(id)),
        })
        .collect()
}

pub(crate) fn node_addr(id: u64) -> String {
    format!("{}:{GRPC_PORT}", host(id))
}

pub(crate) fn start_node(world: &Rc<RefCell<World>>, client: u64, nodes: u64) -> u64 {
    world
        .borrow()
        .sticky
        .get(&client)
        .copied()
        .unwrap_or(1 + client % nodes)
}

/// A draw from the workload's generator.
pub(crate) fn draw(world: &Rc<RefCell<World>>, below: u64) -> u64 {
    world
        .borrow_mut()
        .rng
        .as_mut()
        .map_or(0, |r| r.below(below))
}

pub(crate) fn now_of(sim: &turmoil::Sim<'_>) -> u64 {
    sim.elapsed().as_millis() as u64
}
