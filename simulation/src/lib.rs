//! Rill's deterministic simulator: real `RaftNode`s (openraft, RocksDB, the engine) as turmoil
//! hosts, clients appending and reading, faults chosen by one seed, and a checker over the
//! recorded history.
//!
//! ```text
//!  seed ─▶ SplitMix64 ─┬─▶ turmoil (message latency)     hosts n1..nN: RaftNode + net::serve
//!                      ├─▶ per-boot election timeout      clients c1..cK: XADD / XRANGE, history
//!                      ├─▶ per-node clock skew             nemesis (this thread, between steps):
//!                      └─▶ nemesis schedule                  crash/restart, partitions, holds
//!  after the run: heal, probe write (liveness), wait for convergence, check::all(history, nodes)
//! ```
//!
//! Every source of nondeterminism is drawn from the seed: turmoil's network RNG, Raft election
//! timeouts (min = max - 1 per boot, so openraft's own random draw has one value), node clocks
//! (simulated time + a seeded skew), storage work on the calling task (`StorageIo::Inline`).

pub mod applied;
pub mod check;
mod disk;
mod nemesis;
pub mod net;
mod node;
pub mod resp;
mod workload;
mod world;

pub use disk::SimDisk;
pub use nemesis::Fault;
pub use node::NodeState;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use rill_raft::Bugs;

use crate::nemesis::Nemesis;
use crate::node::{boot, converge};
use crate::workload::{append, audit, consume, produce_jobs, read, redis8, run_client, Mix};
use crate::world::{host, now_ms, World};

/// What one run does.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub nodes: u64,
    pub clients: u64,
    pub ops_per_client: u64,
    /// Consumers of the work queue (stream `q`, group `g`), fed by one more producer; they
    /// read, acknowledge, drop entries unacknowledged, claim idle ones, trim and delete
    /// consumers while the writers run.
    pub consumers: u64,
    pub faults: bool,
    /// Inject only this kind of fault (default: every kind, chosen by the seed).
    pub only: Option<Fault>,
    /// Planted server bugs (see `rill_raft::Bugs`).
    pub bugs: Bugs,
    /// Planted bug: the Raft log is not fsynced before openraft hears it is stored.
    pub ack_before_fsync: bool,
    /// Half the crashes are power losses (only fsynced writes survive).
    pub power_loss: bool,
    /// Log entries a leader may have proposed and not yet seen applied (the proposer's
    /// `proposals_in_flight_max`): 1 to 4, by the seed.
    pub proposals_in_flight: usize,
    /// A third of the one-node crashes also wipe the node's disk (it boots empty), when the
    /// cluster is whole (every node a voter on the store the membership names, no membership
    /// change under way): Raft survives one replica's lost data, not a second loss before the
    /// first is replaced. Off by default, so that the other seeds' traces stay as pinned;
    /// `lost_disks_lose_nothing` and `SIM_WIPES=1` run it.
    pub wipe_disks: bool,
    /// One more client runs Redis 8's commands on stream `r8` (`workload::redis8`): XNACK,
    /// XACKDEL, XDELEX, reference policies, IDMP, XCFGSET, CLAIM reads. Off by default, so
    /// that the other seeds' traces stay as pinned; `redis8_commands_keep_replicas_equal`
    /// runs it.
    pub redis8: bool,
}

impl Config {
    pub fn new(seed: u64) -> Config {
        Config {
            seed,
            nodes: 3,
            clients: 3,
            ops_per_client: 100,
            consumers: 3,
            faults: true,
            only: None,
            bugs: Bugs::default(),
            ack_before_fsync: false,
            power_loss: true,
            proposals_in_flight: 1 + (seed % 4) as usize,
            wipe_disks: false,
            redis8: false,
        }
    }
}

/// A small deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// One client operation: what was asked, when, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Op {
    pub client: u64,
    /// For an append: the unique value written; for a read: empty.
    pub value: String,
    pub invoked_ms: u64,
    pub completed_ms: u64,
    pub outcome: Outcome,
}

impl Op {
    /// Whether this is an append (of `value`), whatever its outcome.
    pub fn is_append(&self) -> bool {
        !matches!(self.outcome, Outcome::Read(_) | Outcome::ReadAfter(..))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// An append acknowledged with this ID.
    Appended(String),
    /// A read of the whole stream: `(id, value)` in stream order.
    Read(Vec<(String, String)>),
    /// A blocking read of what follows an ID: the ID, and `(id, value)` in stream order
    /// (none if it timed out).
    ReadAfter(String, Vec<(String, String)>),
    /// Definitely not applied (refused before submission, or an error reply).
    Failed,
    /// Maybe applied.
    Unknown,
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    pub seed: u64,
    /// Hash of the history, the faults and the final state: equal for equal seeds.
    pub trace_hash: u64,
    pub violations: Vec<String>,
    pub ops: usize,
    pub acknowledged: usize,
    pub faults: Vec<String>,
    /// What the applied log did to the work queue.
    pub queue: check::groups::Counts,
    /// Applied batches after which a node's whole state was checked.
    pub states_checked: u64,
    /// Stored Raft logs checked for falling terms, and crash/boot pairs whose vote and log
    /// were compared.
    pub raft_logs_checked: u64,
    pub crashes_compared: u64,
    /// Client calls checked against their deadlines.
    pub calls_checked: usize,
    /// Batch ends at which two replicas' state digests were compared.
    pub digests_compared: u64,
    /// Redis 8 commands answered without error (`Config::redis8`).
    pub redis8_answered: u64,
    /// Transactions of Redis 8 commands that ran (EXEC answered their replies).
    pub redis8_transactions: u64,
}

impl Report {
    /// The faults injected, by kind.
    pub fn faults_by_kind(&self) -> BTreeMap<&'static str, usize> {
        let mut kinds = BTreeMap::new();
        for fault in &self.faults {
            let kind = FAULT_KINDS
                .iter()
                .find(|(words, _)| fault.contains(words))
                .map_or("other", |(_, kind)| kind);
            *kinds.entry(kind).or_default() += 1;
        }
        kinds
    }

    /// One line: operations, faults by kind, checks run, and the trace.
    pub fn summary(&self) -> String {
        let q = &self.queue;
        let faults: Vec<String> = self
            .faults_by_kind()
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        format!(
            "seed {}: {} ops, {} acknowledged, {} faults ({}), trace {:016x}; queue: {} appended, {} delivered, {} reread, {} claimed, {} acked, {} trimmed, {} deleted, {} consumer deletions, {} group moves, {} groups destroyed; checks: {} applied states, {} digests compared across replicas, {} Raft logs, {} crash/boot pairs, {} calls",
            self.seed,
            self.ops,
            self.acknowledged,
            self.faults.len(),
            faults.join(", "),
            self.trace_hash,
            q.appended,
            q.delivered,
            q.redelivered,
            q.claimed,
            q.acked,
            q.trimmed,
            q.deleted,
            q.consumers_deleted,
            q.group_moves,
            q.groups_destroyed,
            self.states_checked,
            self.digests_compared,
            self.raft_logs_checked,
            self.crashes_compared,
            self.calls_checked
        )
    }
}

/// How a fault's log line names its kind: the first match wins.
const FAULT_KINDS: &[(&str, &str)] = &[
    ("crash all", "crash all"),
    ("mid-change", "crash mid-change"),
    ("snapshot arrives", "crash mid-snapshot"),
    ("installing a snapshot", "crash after a snapshot"),
    ("fsyncs fail", "fsync errors"),
    ("stopped itself", "node stopped itself"),
    ("trap armed", "snapshot trap"),
    ("disk wiped", "wiped disk"),
    ("(power loss on", "power loss"),
    (" crash n", "crash"),
    ("from the voters", "membership change"),
    ("voters [", "membership change"),
    ("isolate leader", "isolated leader"),
    ("partition", "partition"),
    ("cut n", "one-way cut"),
    ("hold n", "held link"),
    ("pause n", "pause"),
    ("split", "halves"),
    ("restart n", "restart"),
    ("healed", "heal"),
];

/// Runs one simulation and checks its history.
/// Runs test `test` of the calling test binary again, in a child process, on `seed` (and with
/// planted bug `bug` when given): a seed gives one trace only as the first simulation of its
/// process, and a panic there ends only the child. Returns the child's stdout and stderr
/// together, and whether its test passed.
pub fn rerun_in_child(test: &str, seed: u64, bug: Option<&str>) -> (String, bool) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = std::process::Command::new(exe);
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("SIM_SEED", seed.to_string())
        .env_remove("SIM_SEEDS");
    if let Some(bug) = bug {
        command.env("SIM_BUG", bug);
    }
    let output = command.output().expect("the test binary runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (text, output.status.success())
}

pub fn run(config: &Config) -> Report {
    let root = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng::new(config.seed);
    let mut sim = turmoil::Builder::new()
        .rng_seed(rng.next_u64())
        .simulation_duration(Duration::from_secs(600))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(15))
        .tcp_capacity(4096)
        .build();
    let world = Rc::new(RefCell::new(World {
        rng: Some(Rng::new(rng.next_u64())),
        writers: config.clients,
        ..World::default()
    }));
    for id in 1..=config.nodes {
        // Clocks disagree by up to 2 s: stamps must still rise across leaders.
        world.borrow_mut().skew_ms.insert(id, rng.below(2000));
        let world = Rc::clone(&world);
        let dir = root.path().join(host(id));
        let boot_config = config.clone();
        sim.host(host(id), move || {
            boot(Rc::clone(&world), id, boot_config.clone(), dir.clone())
        });
    }
    for client in 1..=config.clients {
        let world = Rc::clone(&world);
        let nodes = config.nodes;
        let ops = config.ops_per_client;
        sim.client(format!("c{client}"), async move {
            run_client(Rc::clone(&world), client, nodes, ops).await;
            world.borrow_mut().writers -= 1;
            Ok(())
        });
    }
    {
        // The work queue's producer.
        let (world, nodes) = (Rc::clone(&world), config.nodes);
        sim.client("qp", async move {
            produce_jobs(&world, nodes).await;
            Ok(())
        });
    }
    for consumer in 1..=config.consumers {
        let (world, nodes) = (Rc::clone(&world), config.nodes);
        sim.client(format!("w{consumer}"), async move {
            consume(&world, consumer, nodes).await;
            Ok(())
        });
    }
    if config.consumers > 0 {
        let (world, nodes) = (Rc::clone(&world), config.nodes);
        sim.client("auditor", async move {
            audit(&world, nodes).await;
            Ok(())
        });
    }
    if config.redis8 {
        let (world, nodes) = (Rc::clone(&world), config.nodes);
        sim.client("redis8", async move {
            redis8(&world, nodes).await;
            Ok(())
        });
    }
    {
        // A reader that reads every 50 ms while the writers run.
        let world = Rc::clone(&world);
        let (client, nodes) = (config.clients + 1, config.nodes);
        sim.client("reader", async move {
            while world.borrow().writers > 0 {
                read(&world, client, nodes).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(())
        });
    }

    let mut nemesis = Nemesis::new(
        Rng::new(rng.next_u64()),
        config.nodes,
        config.only,
        config.power_loss,
    )
    .with_wipes(config.wipe_disks);
    world.borrow_mut().mix = Mix::draw(&mut Rng::new(rng.next_u64()));
    let mut violations = Vec::new();
    loop {
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                violations.push(format!("simulation failed: {error}"));
                break;
            }
        }
        if config.faults {
            nemesis.act(&mut sim, &world);
        }
    }
    nemesis.heal(&mut sim, &world);

    // Liveness: with everything connected, a write succeeds within 10 s.
    let probe_ok = Rc::new(RefCell::new(None));
    {
        let (world, probe_ok, nodes) = (Rc::clone(&world), Rc::clone(&probe_ok), config.nodes);
        sim.client("probe", async move {
            let started = now_ms();
            while now_ms() < started + 10_000 {
                if let Outcome::Appended(id) = append(&world, 0, 1, nodes, "p", "probe").await {
                    *probe_ok.borrow_mut() = Some(id);
                    break;
                }
            }
            Ok(())
        });
    }
    while let Ok(false) = sim.step() {}
    if probe_ok.borrow().is_none() {
        violations.push("liveness: no write succeeded within 10 s of healing".to_owned());
    }
    let converged = converge(&mut sim, &world, config.nodes);

    let world = world.borrow();
    violations.extend(check::liveness::every_node_converges(
        config.nodes,
        &converged,
    ));
    violations.extend(check::liveness::calls_end_within_their_deadlines(
        &world.calls,
    ));
    violations.extend(world.violations.iter().cloned());
    violations.extend(check::all(&world.history, &converged));
    let applied = applied::lock(&world.applied);
    violations.extend(applied.violations.iter().cloned());
    let (queue_violations, queue) =
        check::work_queue(&applied, &world.queue_acks, &world.queue_seen, &converged);
    violations.extend(queue_violations);
    if std::env::var_os("SIM_DUMP").is_some() {
        for op in &world.history {
            eprintln!("DUMP {} op {op:?}", op.completed_ms);
        }
    }
    let mut hash = check::Fnv::default();
    for op in &world.history {
        hash.write(format!("{op:?}").as_bytes());
    }
    let mut faults = nemesis.log.clone();
    faults.extend(world.operator_log.iter().cloned());
    faults.extend(world.stops.iter().cloned());
    // By time (stable: a fault and its operator's note in the order they happened).
    faults.sort_by_key(|line| line.split(' ').next().and_then(|ms| ms.parse::<u64>().ok()));
    for fault in &faults {
        hash.write(fault.as_bytes());
    }
    for state in &converged {
        hash.write(format!("{:?}", (state.id, state.applied_digest)).as_bytes());
    }
    Report {
        seed: config.seed,
        trace_hash: hash.finish(),
        violations,
        ops: world.history.len(),
        acknowledged: world
            .history
            .iter()
            .filter(|op| matches!(op.outcome, Outcome::Appended(_)))
            .count(),
        faults,
        queue,
        states_checked: applied.states_checked,
        digests_compared: applied.digests_compared,
        raft_logs_checked: world.raft_logs_checked,
        crashes_compared: world.crashes_compared,
        calls_checked: world.calls.len(),
        redis8_answered: world.redis8_answered,
        redis8_transactions: world.redis8_transactions,
    }
}
