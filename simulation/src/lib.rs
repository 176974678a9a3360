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
pub mod net;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use std::net::SocketAddr;

use rill_core::{Command, Reply};
use rill_proto::v1 as pb;
use rill_raft::{Bugs, Clock, RaftNode, StorageIo};
use rill_server::{Member, NodeOptions, RaftConfig, Server, ServerConfig};
use rill_storage::{Db, DbOptions, WriteJournal};

use crate::net::{Answer, GRPC_PORT};

/// Stamps start here (2024-01-01), plus simulated time, plus each node's skew.
const EPOCH_MS: u64 = 1_704_067_200_000;
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// An append acknowledged with this ID.
    Appended(String),
    /// A read's values, in stream order.
    Read(Vec<String>),
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
    /// Batch ends at which two replicas' state digests were compared.
    pub digests_compared: u64,
}

/// A node's disk: every batch its store wrote, with whether it was fsynced. A process crash
/// keeps all of it; a power loss keeps the synced prefix plus some of the unsynced tail.
#[derive(Default)]
pub struct SimDisk {
    batches: Mutex<Vec<(Vec<u8>, bool)>>,
}

impl WriteJournal for SimDisk {
    fn written(&self, batch: &[u8], synced: bool) {
        self.lock().push((batch.to_vec(), synced));
    }
}

impl SimDisk {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Vec<u8>, bool)>> {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn history(&self) -> Vec<Vec<u8>> {
        self.lock().iter().map(|(batch, _)| batch.clone()).collect()
    }

    /// Forgets what a power loss forgets: of the batches after the last synced one, only the
    /// first `keep` (`rng`'s choice) made it.
    fn power_loss(&self, rng: &mut Rng) -> usize {
        let mut batches = self.lock();
        let synced = batches
            .iter()
            .rposition(|(_, synced)| *synced)
            .map_or(0, |i| i + 1);
        let unsynced = batches.len() - synced;
        let keep = rng.below(unsynced as u64 + 1) as usize;
        batches.truncate(synced + keep);
        unsynced - keep
    }
}

/// State shared by the hosts, the clients and the driver. Everything runs on one thread.
#[derive(Default)]
struct World {
    rng: Option<Rng>,
    skew_ms: BTreeMap<u64, u64>,
    nodes: BTreeMap<u64, Weak<RaftNode>>,
    disks: BTreeMap<u64, Arc<SimDisk>>,
    boots: BTreeMap<u64, u64>,
    history: Vec<Op>,
    /// Acknowledged appends to the work queue: `(value, id)`.
    queue_acks: Vec<(String, String)>,
    /// What each consumer was handed by `XREADGROUP >`: `(consumer, ids)`.
    queue_seen: Vec<(String, Vec<String>)>,
    applied: applied::Shared,
    /// Writers still running; the reader stops at zero.
    writers: u64,
    /// The node each client last succeeded with: clients stick to it, as real ones cache
    /// the leader.
    sticky: BTreeMap<u64, u64>,
    /// While one node is out of the voters: when the operator puts it back.
    voters_back_at: Option<u64>,
    /// What the operator's membership changes did, `"<ms> ..."` as the nemesis log.
    operator_log: Vec<String>,
}

fn host(id: u64) -> String {
    format!("n{id}")
}

fn now_ms() -> u64 {
    turmoil::sim_elapsed().map_or(0, |d| d.as_millis() as u64)
}

fn members(nodes: u64) -> Vec<Member> {
    (1..=nodes)
        .map(|id| Member {
            id,
            grpc: format!("{}:{GRPC_PORT}", host(id)),
            redis: format!("{}:0", host(id)),
        })
        .collect()
}

/// Runs one simulation and checks its history.
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
    );
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
    violations.extend(check::all(&world.history, &converged));
    let applied = applied::lock(&world.applied);
    violations.extend(applied.violations.iter().cloned());
    let (queue_violations, queue) = check::work_queue(
        &applied.entries,
        &world.queue_acks,
        &world.queue_seen,
        &converged,
    );
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
    }
}

async fn boot(
    world: Rc<RefCell<World>>,
    id: u64,
    config: Config,
    dir: PathBuf,
) -> Result<(), Box<dyn std::error::Error>> {
    let (election_ms, skew_ms, disk, boot) = {
        let mut w = world.borrow_mut();
        let election_ms = 300 + w.rng.as_mut().map_or(0, |r| r.below(300));
        let disk = Arc::clone(w.disks.entry(id).or_default());
        let boot = {
            let count = w.boots.entry(id).or_default();
            *count += 1;
            *count
        };
        let skew_ms = w.skew_ms.get(&id).copied().unwrap_or(0);
        (election_ms, skew_ms, disk, boot)
    };
    // Each boot opens a fresh directory and replays the disk's batches into it: what the disk
    // kept is all the node finds.
    let _ = std::fs::remove_dir_all(dir.join((boot - 1).to_string()));
    let dir = dir.join(boot.to_string());
    let options = DbOptions {
        sync: false,
        log_sync: !config.ack_before_fsync,
        ..DbOptions::default()
    };
    let history = disk.history();
    let db = Arc::new(Db::open_journaled(&dir, &options, &history, disk)?);
    let server_config = ServerConfig {
        node_id: id,
        members: members(config.nodes),
        advertise_host: Some(host(id)),
        raft: RaftConfig {
            heartbeat_ms: 50,
            election_timeout_ms_min: election_ms,
            election_timeout_ms_max: election_ms + 1,
            snapshot_entries_since_last: 50,
            log_entries_kept_behind_snapshot: 10,
            ..RaftConfig::default()
        },
        ..ServerConfig::new(dir)
    };
    let clock: Clock = Arc::new(move || EPOCH_MS + now_ms() + skew_ms);
    let log = Arc::clone(&world.borrow().applied);
    let watcher = applied::Watcher::new(id, log, Arc::downgrade(&db));
    let options = NodeOptions {
        listener: Some(Arc::new(watcher)),
        clock: Some(clock),
        storage_io: StorageIo::Inline,
        bugs: config.bugs,
        ..NodeOptions::default()
    };
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", GRPC_PORT)).await?;
    let grpc_addr = SocketAddr::new(turmoil::lookup(host(id)), GRPC_PORT);
    let server = Server::start_on(
        server_config,
        db,
        net::incoming(listener),
        grpc_addr,
        net::dial(),
        options,
    )
    .await?;
    if let Some(node) = server.raft_node() {
        world.borrow_mut().nodes.insert(id, Arc::downgrade(&node));
    }
    // Serves until the nemesis crashes this host (which drops the server with its runtime).
    std::future::pending::<()>().await;
    drop(server);
    Ok(())
}

/// Appends `value` to stream `key` as XADD number `seq` of producer `c<client>`, through
/// whichever node answers. A refusal before submission moves on to the next node; a lost call
/// is retried with the same sequence number (the producer table makes that safe) until the
/// attempts run out, and then its outcome is unknown.
async fn append(
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
async fn append_recorded(
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
async fn execute(
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

async fn read(world: &Rc<RefCell<World>>, client: u64, nodes: u64) {
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

fn node_addr(id: u64) -> String {
    format!("{}:{GRPC_PORT}", host(id))
}

fn start_node(world: &Rc<RefCell<World>>, client: u64, nodes: u64) -> u64 {
    world
        .borrow()
        .sticky
        .get(&client)
        .copied()
        .unwrap_or(1 + client % nodes)
}

async fn run_client(world: Rc<RefCell<World>>, client: u64, nodes: u64, ops: u64) {
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

/// A draw from the workload's generator.
fn draw(world: &Rc<RefCell<World>>, below: u64) -> u64 {
    world
        .borrow_mut()
        .rng
        .as_mut()
        .map_or(0, |r| r.below(below))
}

/// The work queue's producer: appends jobs to `q` while the writers run.
async fn produce_jobs(world: &Rc<RefCell<World>>, nodes: u64) {
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
async fn consume(world: &Rc<RefCell<World>>, consumer: u64, nodes: u64) {
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
async fn operate(
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

fn parse(args: &[&str]) -> Command {
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    match rill_core::parse(&argv) {
        Some(Ok(command)) => command,
        other => panic!("the workload's commands parse: {other:?}"),
    }
}

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
}

/// Faults, chosen by the seed, applied between simulation steps and undone later.
struct Nemesis {
    only: Option<Fault>,
    power_loss: bool,
    rng: Rng,
    nodes: u64,
    next_ms: u64,
    /// `(when, what)`: faults to undo, and crashes timed to land mid-change.
    pending: Vec<(u64, Later)>,
    crashed: Vec<u64>,
    log: Vec<String>,
}

#[derive(Clone, Debug)]
enum Later {
    Bounce(u64),
    /// Crash whichever node leads then, for this long (during a membership change).
    CrashLeader(u64),
    Repair(u64, u64),
    RepairOneway(u64, u64),
    Release(u64, u64),
}

impl Nemesis {
    fn new(rng: Rng, nodes: u64, only: Option<Fault>, power_loss: bool) -> Nemesis {
        Nemesis {
            only,
            power_loss,
            rng,
            nodes,
            next_ms: 500,
            pending: Vec::new(),
            crashed: Vec::new(),
            log: Vec::new(),
        }
    }

    fn leader(world: &Rc<RefCell<World>>) -> Option<u64> {
        world
            .borrow()
            .nodes
            .iter()
            .find(|(_, node)| node.upgrade().is_some_and(|n| n.is_leader()))
            .map(|(id, _)| *id)
    }

    fn act(&mut self, sim: &mut turmoil::Sim<'_>, world: &Rc<RefCell<World>>) {
        let now = now_of(sim);
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
        let kind = match self.rng.below(10) {
            0 | 1 => Fault::Crash,
            2 => Fault::Partition,
            3 => Fault::OneWay,
            4 => Fault::IsolateLeader,
            5 => Fault::Hold,
            6 => Fault::Pause,
            7 => Fault::Halves,
            8 => Fault::Reconfigure,
            _ => Fault::CrashAll,
        };
        match self.only.unwrap_or(kind) {
            Fault::Crash if majority_up => {
                // Half the crashes hit the leader.
                let victim = if self.rng.below(2) == 0 {
                    Nemesis::leader(world).unwrap_or(a)
                } else {
                    a
                };
                if self.crashed.contains(&victim) {
                    return;
                }
                sim.crash(host(victim));
                self.crashed.push(victim);
                // A single node's OS crash can lose its unsynced writes too (Jepsen's NATS
                // 2.12.1 analysis lost committed writes exactly so).
                let how = self.lose_power(world, victim);
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
                    sim.crash(host(id));
                    self.crashed.push(id);
                    how.push_str(&self.lose_power(world, id));
                    self.pending.push((now + lasts, Later::Bounce(id)));
                }
                self.log
                    .push(format!("{now} crash all{how} for {lasts} ms"));
            }
            Fault::CrashAll => {}
            Fault::Reconfigure if world.borrow().voters_back_at.is_none() => {
                let victim = if self.rng.below(2) == 0 {
                    Nemesis::leader(world).unwrap_or(a)
                } else {
                    a
                };
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
        }
    }

    /// After a crash: half the time (when enabled) a power loss too. Describes what happened.
    fn lose_power(&mut self, world: &Rc<RefCell<World>>, id: u64) -> String {
        if !self.power_loss || self.rng.below(2) == 0 {
            return String::new();
        }
        let disk = world.borrow().disks.get(&id).cloned();
        let lost = disk.map_or(0, |disk| disk.power_loss(&mut self.rng));
        format!(" (power loss on n{id}: {lost} unsynced batches lost)")
    }

    fn run(
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
                    sim.crash(host(id));
                    self.crashed.push(id);
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
            Later::Repair(a, b) => sim.repair(host(a), host(b)),
            Later::RepairOneway(a, b) => sim.repair_oneway(host(a), host(b)),
            Later::Release(a, b) => sim.release(host(a), host(b)),
        }
    }

    /// Undoes every fault now (crashes still to come do not happen); the voters are all
    /// nodes again once the operator gets through.
    fn heal(&mut self, sim: &mut turmoil::Sim<'_>, world: &Rc<RefCell<World>>) {
        let now = now_of(sim);
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

fn now_of(sim: &turmoil::Sim<'_>) -> u64 {
    sim.elapsed().as_millis() as u64
}

/// One node's state once the cluster settled.
#[derive(Debug)]
pub struct NodeState {
    pub id: u64,
    pub applied_digest: (u64, u64),
    pub values: Vec<(String, String)>,
    /// The work queue's entry IDs, and its pending list as `(id, owner)`.
    pub queue: Vec<String>,
    pub pending: Vec<(String, String)>,
    pub invariants: Result<(), String>,
}

/// Steps until every node has applied the same index (up to 30 s), then reads each node.
fn converge(sim: &mut turmoil::Sim<'_>, world: &Rc<RefCell<World>>, nodes: u64) -> Vec<NodeState> {
    let deadline = now_of(sim) + 30_000;
    loop {
        let digests: Vec<Option<(u64, u64)>> = (1..=nodes)
            .map(|id| {
                let node = world.borrow().nodes.get(&id).and_then(Weak::upgrade)?;
                node.db().applied_digest().ok()
            })
            .collect();
        let settled = digests.iter().all(Option::is_some)
            && digests
                .windows(2)
                .all(|w| w[0].map(|d| d.0) == w[1].map(|d| d.0));
        if settled || now_of(sim) > deadline {
            break;
        }
        // A client that only sleeps keeps the simulation stepping.
        sim.client(format!("wait{}", now_of(sim)), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(())
        });
        while let Ok(false) = sim.step() {}
    }
    (1..=nodes)
        .filter_map(|id| {
            let node = world.borrow().nodes.get(&id).and_then(Weak::upgrade)?;
            let mut store = node.db().read();
            let limits = rill_core::Limits::default();
            let mut run = |args: &[&str]| rill_core::execute(&mut store, &parse(args), 0, &limits);
            let values = check::entries_of(&run(&["XRANGE", "s", "-", "+"]));
            let (q, g) = (check::groups::STREAM, check::groups::GROUP);
            let queue = check::entries_in(&run(&["XRANGE", q, "-", "+"]));
            let pending = check::pending_of(&run(&["XPENDING", q, g, "-", "+", "1000000"]));
            Some(NodeState {
                id,
                applied_digest: node.db().applied_digest().unwrap_or((0, 0)),
                values,
                queue,
                pending,
                invariants: rill_core::check_invariants(&store),
            })
        })
        .collect()
}
