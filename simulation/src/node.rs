//! One node's life: a boot on a turmoil host, and its state once the cluster settled.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use rill_core::Command;
use rill_raft::{Clock, StorageIo};
use rill_server::{NodeOptions, RaftConfig, Server, ServerConfig};
use rill_storage::{Db, DbOptions};

use crate::net::GRPC_PORT;
use crate::world::{host, members, now_ms, now_of, World};
use crate::{applied, check, net, Config};

/// Stamps start here (2024-01-01), plus simulated time, plus each node's skew.
pub(crate) const EPOCH_MS: u64 = 1_704_067_200_000;

pub(crate) async fn boot(
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
pub(crate) fn converge(
    sim: &mut turmoil::Sim<'_>,
    world: &Rc<RefCell<World>>,
    nodes: u64,
) -> Vec<NodeState> {
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

pub(crate) fn parse(args: &[&str]) -> Command {
    let argv: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    match rill_core::parse(&argv) {
        Some(Ok(command)) => command,
        other => panic!("the workload's commands parse: {other:?}"),
    }
}
