//! The nemesis: faults chosen by the seed, applied between simulation steps and undone later.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use rill_raft::{RaftNode, StoredRaft};

use crate::check::raft_state;

use crate::workload::operate;
use crate::world::{host, now_of, World};
use crate::Rng;

/// How long after the operator ended a membership change it gave up on may still land.
const OPERATOR_SETTLE_MS: u64 = 10_000;

/// The kinds of fault the nemesis injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// One node (half the time the leader) crashes and restarts later; never a majority.
    Crash,
    /// Two nodes cannot reach each other.
    Partition,
    /// One node's messages to another are dropped; the other way works.
    OneWay,
    /// The leader is cut off from every other node (clients still reach it).
    IsolateLeader,
    /// Messages between two nodes are held, then delivered late all at once.
    Hold,
    /// Everything to and from one node is held: a pause, as the network sees it.
    Pause,
    /// Every node crashes, and all restart.
    CrashAll,
    /// The nodes split into two random groups that cannot reach each other.
    Halves,
    /// One node (half the time the leader) leaves the voters, and later joins them again;
    /// half the time the leader crashes while the change is under way.
    Reconfigure,
    /// Every fsync of one node (half the time the leader) fails for a while: the node must
    /// acknowledge nothing it could not sync and stop; then it is restarted.
    FsyncError,
    /// A trap: the next node to receive a snapshot crashes (half the time losing power)
    /// while the snapshot arrives, or right after installing it, and restarts later.
    SnapshotCrash,
}

/// Faults, chosen by the seed, applied between simulation steps and undone later.
pub(crate) struct Nemesis {
    only: Option<Fault>,
    power_loss: bool,
    rng: Rng,
    nodes: u64,
    next_ms: u64,
    /// `(when, what)`: faults to undo, and crashes timed to land mid-change.
    pending: Vec<(u64, Later)>,
    crashed: Vec<u64>,
    pub(crate) log: Vec<String>,
    next_log_check_ms: u64,
    /// While armed: how long a node the snapshot trap crashes stays down.
    trap: Option<u64>,
    /// Whether a third of the one-node crashes wipe the node's disk.
    wipes: bool,
}

/// How often the nemesis checks the live nodes' stored logs.
const LOG_CHECK_EVERY_MS: u64 = 25;

#[derive(Clone, Debug)]
pub(crate) enum Later {
    Bounce(u64),
    /// Crash whichever node leads then, for this long (during a membership change).
    CrashLeader(u64),
    Repair(u64, u64),
    RepairOneway(u64, u64),
    Release(u64, u64),
    /// Fsyncs work again on this node, which is restarted (it stopped itself, or would).
    FsyncsWork(u64),
    /// The snapshot trap is disarmed.
    Disarm,
}

impl Nemesis {
    pub(crate) fn new(rng: Rng, nodes: u64, only: Option<Fault>, power_loss: bool) -> Nemesis {
        Nemesis {
            only,
            power_loss,
            rng,
            nodes,
            next_ms: 500,
            pending: Vec::new(),
            crashed: Vec::new(),
            log: Vec::new(),
            next_log_check_ms: 0,
            trap: None,
            wipes: false,
        }
    }

    pub(crate) fn with_wipes(self, wipes: bool) -> Nemesis {
        Nemesis { wipes, ..self }
    }

    /// Half the time the leader (if one is known), else node `a`.
    fn leader_or(&mut self, world: &Rc<RefCell<World>>, a: u64) -> u64 {
        match self.rng.below(2) {
            0 => Nemesis::leader(world).unwrap_or(a),
            _ => a,
        }
    }

    pub(crate) fn leader(world: &Rc<RefCell<World>>) -> Option<u64> {
        world
            .borrow()
            .nodes
            .iter()
            .find(|(_, node)| node.upgrade().is_some_and(|n| n.is_leader()))
            .map(|(id, _)| *id)
    }

    pub(crate) fn act(&mut self, sim: &mut turmoil::Sim<'_>, world: &Rc<RefCell<World>>) {
        let now = now_of(sim);
        self.check_logs(world, now);
        self.spring_trap(sim, world, now);
        let due: Vec<Later> = {
            let (due, later): (Vec<_>, Vec<_>) =
                self.pending.drain(..).partition(|(at, _)| *at <= now);
            self.pending = later;
            due.into_iter().map(|(_, later)| later).collect()
        };
        for later in due {
            self.run(sim, world, later, now);
        }
        if now < self.next_ms {
            return;
        }
        self.next_ms = now + 300 + self.rng.below(1500);
        let lasts = 300 + self.rng.below(2500);
        let a = 1 + self.rng.below(self.nodes);
        // Any other node.
        let b = 1 + (a + self.rng.below(self.nodes - 1)) % self.nodes;
        let majority_up = self.crashed.len() < ((self.nodes - 1) / 2) as usize;
        let kind = match self.rng.below(12) {
            0 | 1 => Fault::Crash,
            2 => Fault::Partition,
            3 => Fault::OneWay,
            4 => Fault::IsolateLeader,
            5 => Fault::Hold,
            6 => Fault::Pause,
            7 => Fault::Halves,
            8 => Fault::Reconfigure,
            9 => Fault::FsyncError,
            10 => Fault::SnapshotCrash,
            _ => Fault::CrashAll,
        };
        match self.only.unwrap_or(kind) {
            Fault::Crash if majority_up => {
                let victim = self.leader_or(world, a);
                if self.crashed.contains(&victim) {
                    return;
                }
                // A disk is lost only from a whole cluster: Raft survives the loss of one
                // replica's data, not of a second before the first has been replaced.
                let whole = self.is_whole(world, now);
                self.crash(sim, world, victim);
                // A single node's OS crash can lose its unsynced writes too (Jepsen's NATS
                // 2.12.1 analysis lost committed writes exactly so).
                let how = if self.wipes && self.rng.below(3) == 0 && whole {
                    self.wipe(world, victim)
                } else {
                    self.lose_power(world, victim)
                };
                self.log
                    .push(format!("{now} crash n{victim} for {lasts} ms{how}"));
                self.pending.push((now + lasts, Later::Bounce(victim)));
            }
            Fault::Crash => {}
            Fault::Partition => {
                sim.partition(host(a), host(b));
                self.log
                    .push(format!("{now} partition n{a} n{b} for {lasts} ms"));
                self.pending.push((now + lasts, Later::Repair(a, b)));
            }
            Fault::OneWay => {
                sim.partition_oneway(host(a), host(b));
                self.log
                    .push(format!("{now} cut n{a} -> n{b} for {lasts} ms"));
                self.pending.push((now + lasts, Later::RepairOneway(a, b)));
            }
            Fault::IsolateLeader => {
                // The leader alone on one side.
                if let Some(leader) = Nemesis::leader(world) {
                    for other in (1..=self.nodes).filter(|&n| n != leader) {
                        sim.partition(host(leader), host(other));
                        self.pending
                            .push((now + lasts, Later::Repair(leader, other)));
                    }
                    self.log
                        .push(format!("{now} isolate leader n{leader} for {lasts} ms"));
                }
            }
            Fault::Hold => {
                sim.hold(host(a), host(b));
                self.log
                    .push(format!("{now} hold n{a} <-> n{b} for {lasts} ms"));
                self.pending.push((now + lasts, Later::Release(a, b)));
            }
            Fault::Pause => {
                // A pause as the network sees it: nothing in or out, then all of it late.
                // (turmoil cannot stop a host's clock; its timers keep running.)
                for other in (1..=self.nodes).filter(|&n| n != a) {
                    sim.hold(host(a), host(other));
                    self.pending.push((now + lasts, Later::Release(a, other)));
                }
                self.log.push(format!("{now} pause n{a} for {lasts} ms"));
            }
            Fault::Halves => {
                // A random side of 1..=n/2 nodes, cut from the rest.
                let mut order: Vec<u64> = (1..=self.nodes).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, self.rng.below(i as u64 + 1) as usize);
                }
                let side = 1 + self.rng.below(self.nodes / 2) as usize;
                let (small, large) = order.split_at(side);
                for &x in small {
                    for &y in large {
                        sim.partition(host(x), host(y));
                        self.pending.push((now + lasts, Later::Repair(x, y)));
                    }
                }
                self.log.push(format!(
                    "{now} split {small:?} from {large:?} for {lasts} ms"
                ));
            }
            Fault::CrashAll if self.crashed.is_empty() => {
                // Every node at once (a process crash: what reached the OS survives).
                let mut how = String::new();
                for id in 1..=self.nodes {
                    self.crash(sim, world, id);
                    how.push_str(&self.lose_power(world, id));
                    self.pending.push((now + lasts, Later::Bounce(id)));
                }
                self.log
                    .push(format!("{now} crash all{how} for {lasts} ms"));
            }
            Fault::CrashAll => {}
            // With lost disks, only on a whole cluster: removing a voter while another has lost
            // its disk can leave a membership change that needs the lost one, for ever.
            Fault::Reconfigure
                if world.borrow().voters_back_at.is_none()
                    && (!self.wipes || self.is_whole(world, now)) =>
            {
                let victim = self.leader_or(world, a);
                let voters: Vec<u64> = (1..=self.nodes).filter(|&n| n != victim).collect();
                world.borrow_mut().voters_back_at = Some(now + lasts);
                sim.client(
                    format!("operator{now}"),
                    operate(Rc::clone(world), self.nodes, voters),
                );
                self.log.push(format!(
                    "{now} remove n{victim} from the voters for {lasts} ms"
                ));
                if majority_up && self.rng.below(2) == 0 {
                    let at = now + self.rng.below(50);
                    self.pending.push((at, Later::CrashLeader(lasts)));
                }
            }
            Fault::Reconfigure => {}
            Fault::FsyncError if majority_up => {
                let victim = self.leader_or(world, a);
                if self.crashed.contains(&victim) {
                    return;
                }
                // Counted as down from now: it will stop itself at its next fsync.
                self.crashed.push(victim);
                if let Some(disk) = world.borrow().disks.get(&victim) {
                    disk.fail_fsyncs(true);
                }
                self.log
                    .push(format!("{now} fsyncs fail on n{victim} for {lasts} ms"));
                self.pending.push((now + lasts, Later::FsyncsWork(victim)));
            }
            Fault::FsyncError => {}
            Fault::SnapshotCrash if self.trap.is_none() && majority_up => {
                self.trap = Some(lasts);
                self.log
                    .push(format!("{now} snapshot trap armed for {lasts} ms"));
                self.pending.push((now + 3 * lasts, Later::Disarm));
            }
            Fault::SnapshotCrash => {}
        }
    }

    /// With the trap armed, crashes the first node found receiving a snapshot, or that has
    /// just installed one (before it applied anything after it).
    fn spring_trap(&mut self, sim: &mut turmoil::Sim<'_>, world: &Rc<RefCell<World>>, now: u64) {
        let Some(lasts) = self.trap else {
            return;
        };
        let (receiving, installed) = {
            let w = world.borrow();
            let log = crate::applied::lock(&w.applied);
            let first = |set: &std::collections::BTreeSet<u64>| {
                set.iter().copied().find(|id| !self.crashed.contains(id))
            };
            (first(&log.receiving), first(&log.just_installed))
        };
        let majority_up = self.crashed.len() < ((self.nodes - 1) / 2) as usize;
        let (victim, when) = match (receiving, installed) {
            (Some(id), _) => (id, "while a snapshot arrives"),
            (None, Some(id)) => (id, "right after installing a snapshot"),
            (None, None) => return,
        };
        if !majority_up {
            return;
        }
        self.trap = None;
        self.crash(sim, world, victim);
        let how = self.lose_power(world, victim);
        self.log
            .push(format!("{now} crash n{victim} {when}{how} for {lasts} ms"));
        self.pending.push((now + lasts, Later::Bounce(victim)));
    }

    /// Crashes node `id`, first noting what its store holds of its Raft state (its next boot
    /// must find the same) and checking its log.
    pub(crate) fn crash(
        &mut self,
        sim: &mut turmoil::Sim<'_>,
        world: &Rc<RefCell<World>>,
        id: u64,
    ) {
        let now = now_of(sim);
        let node = world.borrow().nodes.get(&id).and_then(Weak::upgrade);
        if let Some(node) = node {
            let mut w = world.borrow_mut();
            match StoredRaft::read(node.db()) {
                Ok(stored) => {
                    w.raft_logs_checked += 1;
                    if let Some(why) = raft_state::log_terms_never_fall(id, &stored) {
                        w.violation(now, why);
                    }
                    w.stored_at_crash
                        .insert(id, (stored, node.db().log_reported()));
                }
                Err(error) => w.violation(now, format!("n{id}: Raft state unreadable: {error}")),
            }
        }
        // Whatever it was receiving is gone with it.
        forget_snapshots(world, id);
        sim.crash(host(id));
        self.crashed.push(id);
    }

    /// Every so often, checks each live node's stored log for falling terms.
    fn check_logs(&mut self, world: &Rc<RefCell<World>>, now: u64) {
        if now < self.next_log_check_ms {
            return;
        }
        self.next_log_check_ms = now + LOG_CHECK_EVERY_MS;
        let nodes: Vec<(u64, Arc<RaftNode>)> = world
            .borrow()
            .nodes
            .iter()
            .filter(|(id, _)| !self.crashed.contains(id))
            .filter_map(|(id, node)| Some((*id, node.upgrade()?)))
            .collect();
        let mut w = world.borrow_mut();
        for (id, node) in nodes {
            match StoredRaft::read(node.db()) {
                Ok(stored) => {
                    w.raft_logs_checked += 1;
                    if let Some(why) = raft_state::log_terms_never_fall(id, &stored) {
                        w.violation(now, why);
                    }
                }
                Err(error) => w.violation(now, format!("n{id}: Raft state unreadable: {error}")),
            }
        }
    }

    /// Whether every node runs and the leader's membership names each as a voter with the
    /// store it runs on, and no membership change is under way: no node is missing its data or
    /// catching up as a new member.
    fn is_whole(&self, world: &Rc<RefCell<World>>, now: u64) -> bool {
        let w = world.borrow();
        let running: BTreeMap<u64, u64> = w
            .nodes
            .iter()
            .filter_map(|(id, node)| Some((*id, node.upgrade()?.incarnation())))
            .collect();
        let Some(leader) = w
            .nodes
            .values()
            .filter_map(|node| node.upgrade())
            .find(|node| node.is_leader())
        else {
            return false;
        };
        // Not while the operator changes the voters: a membership change under way may need
        // the node whose disk is lost (a joint configuration of the old and new voters).
        // A request the operator gave up on may still be on its way: a while after it ended too.
        let recent = |at: &u64| now < at + OPERATOR_SETTLE_MS;
        let changing = w.voters_back_at.is_some()
            || w.operator_done_at.as_ref().is_some_and(recent)
            || leader
                .raft()
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .get_joint_config()
                .len()
                > 1;
        let members = leader.status().members;
        !changing
            && running.len() as u64 == self.nodes
            && members.len() as u64 == self.nodes
            && members
                .iter()
                .all(|(id, peer, voter)| *voter && running.get(id) == Some(&peer.incarnation))
    }

    /// After a crash: the node's disk is lost; it boots empty. Describes what happened.
    fn wipe(&mut self, world: &Rc<RefCell<World>>, id: u64) -> String {
        let mut w = world.borrow_mut();
        // Its boot will not find what it stored: that is the fault, not a finding.
        w.stored_at_crash.remove(&id);
        if let Some(disk) = w.disks.get(&id) {
            disk.wipe();
        }
        format!(" (disk wiped on n{id})")
    }

    /// After a crash: half the time (when enabled) a power loss too. Describes what happened.
    pub(crate) fn lose_power(&mut self, world: &Rc<RefCell<World>>, id: u64) -> String {
        if !self.power_loss || self.rng.below(2) == 0 {
            return String::new();
        }
        let disk = world.borrow().disks.get(&id).cloned();
        let lost = disk.map_or(0, |disk| disk.power_loss(&mut self.rng));
        format!(" (power loss on n{id}: {lost} unsynced batches lost)")
    }

    pub(crate) fn run(
        &mut self,
        sim: &mut turmoil::Sim<'_>,
        world: &Rc<RefCell<World>>,
        later: Later,
        now: u64,
    ) {
        match later {
            Later::CrashLeader(lasts) => {
                let majority_up = self.crashed.len() < ((self.nodes - 1) / 2) as usize;
                let leader = Nemesis::leader(world).filter(|id| !self.crashed.contains(id));
                if let Some(id) = leader.filter(|_| majority_up) {
                    self.crash(sim, world, id);
                    let how = self.lose_power(world, id);
                    self.log.push(format!(
                        "{now} crash leader n{id}{how} mid-change for {lasts} ms"
                    ));
                    self.pending.push((now + lasts, Later::Bounce(id)));
                }
            }
            Later::Bounce(id) => {
                sim.bounce(host(id));
                self.crashed.retain(|&c| c != id);
                self.log.push(format!("{now} restart n{id}"));
            }
            Later::FsyncsWork(id) => {
                if let Some(disk) = world.borrow().disks.get(&id) {
                    disk.fail_fsyncs(false);
                }
                // The node stopped itself if it tried an fsync; restart it either way (the
                // crash first, so its stored Raft state is compared at the boot).
                self.crashed.retain(|&c| c != id);
                self.crash(sim, world, id);
                let how = self.lose_power(world, id);
                sim.bounce(host(id));
                self.crashed.retain(|&c| c != id);
                self.log.push(format!("{now} restart n{id}{how}"));
            }
            Later::Disarm => self.trap = None,
            Later::Repair(a, b) => sim.repair(host(a), host(b)),
            Later::RepairOneway(a, b) => sim.repair_oneway(host(a), host(b)),
            Later::Release(a, b) => sim.release(host(a), host(b)),
        }
    }

    /// Undoes every fault now (crashes still to come do not happen); the voters are all
    /// nodes again once the operator gets through.
    pub(crate) fn heal(&mut self, sim: &mut turmoil::Sim<'_>, world: &Rc<RefCell<World>>) {
        let now = now_of(sim);
        self.trap = None;
        for (_, later) in std::mem::take(&mut self.pending) {
            if !matches!(later, Later::CrashLeader(_)) {
                self.run(sim, world, later, now);
            }
        }
        if let Some(at) = &mut world.borrow_mut().voters_back_at {
            *at = now;
        }
        self.log.push(format!("{now} healed"));
    }
}

/// Node `id` is receiving no snapshot and has installed none it has not applied past: it
/// crashed, or it boots.
pub(crate) fn forget_snapshots(world: &Rc<RefCell<World>>, id: u64) {
    let w = world.borrow();
    let mut log = crate::applied::lock(&w.applied);
    log.receiving.remove(&id);
    log.just_installed.remove(&id);
}
