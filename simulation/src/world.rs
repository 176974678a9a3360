//! State shared by the hosts, the clients and the nemesis, and the names they share.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use rill_raft::{RaftNode, StoredRaft};
use rill_server::Member;

use crate::check::liveness::Call;
use crate::disk::SimDisk;
use crate::net::{GRPC_PORT, REDIS_PORT};
use crate::workload::Mix;
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
    /// Redis 8 commands answered without error (`Config::redis8`).
    pub(crate) redis8_answered: u64,
    /// Transactions of Redis 8 commands that ran (EXEC answered their replies).
    pub(crate) redis8_transactions: u64,
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
    /// When the operator last ended (its last request may still land a little later).
    pub(crate) operator_done_at: Option<u64>,
    /// What the operator's membership changes did, `"<ms> ..."` as the nemesis log.
    pub(crate) operator_log: Vec<String>,
    /// Each crashed node's stored Raft state at its crash, for its next boot to compare.
    pub(crate) stored_at_crash: BTreeMap<u64, (StoredRaft, u64)>,
    /// What the checks run during the run found (Raft state at crashes, boots and polls).
    pub(crate) violations: Vec<String>,
    /// Stored Raft logs checked for falling terms, and crash/boot pairs compared.
    pub(crate) raft_logs_checked: u64,
    pub(crate) crashes_compared: u64,
    /// Every client call to a node, for the deadline check.
    pub(crate) calls: Vec<Call>,
    /// Nodes that stopped themselves (their Raft core failed), `"<ms> ..."` as the nemesis
    /// log.
    pub(crate) stops: Vec<String>,
    /// The seed's mix of operations.
    pub(crate) mix: Mix,
}

impl World {
    /// Records a violation found at `at_ms` during the run (the first few: one broken
    /// invariant repeats).
    pub(crate) fn violation(&mut self, at_ms: u64, what: String) {
        if self.violations.len() < 20 {
            self.violations.push(format!("{at_ms} ms: {what}"));
        }
    }
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
            redis: format!("{}:{REDIS_PORT}", host(id)),
        })
        .collect()
}

/// Node `id`'s Redis protocol address.
pub(crate) fn resp_addr(id: u64) -> String {
    format!("{}:{REDIS_PORT}", host(id))
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

pub(crate) fn now_of(sim: &turmoil::Sim<'_>) -> u64 {
    sim.elapsed().as_millis() as u64
}
