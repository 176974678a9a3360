//! In-process clusters on temporary directories, for tests: a [`Router`] network that calls
//! the target node's `Raft` handle directly, and a [`Cluster`] that starts, stops and restarts
//! nodes on their own data directories.

mod bounds;
mod cluster;
mod lease;
mod network;
mod state_machine;
mod suite;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rill_core::{Command, Limits, Reply};
use rill_storage::{Db, DbOptions};
use tempfile::TempDir;

use crate::{
    Network, NodeId, NodeOptions, Peer, Raft, RaftConfig, RaftNode, RpcKind, SnapshotReceipt,
    Transport, TransportError,
};

/// Every wait in these tests gives up after this long, so a stuck cluster fails the test.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// Runs a test body with a deadline: a hang becomes a failure naming the test.
pub(crate) async fn with_deadline<F: Future<Output = ()>>(name: &str, body: F) {
    if tokio::time::timeout(Duration::from_secs(120), body)
        .await
        .is_err()
    {
        panic!("{name} did not finish within 120 s");
    }
}

/// Short timeouts keep elections quick; heartbeats stay well under half the minimum election
/// timeout so a healthy leader is never deposed.
pub(crate) fn test_config() -> RaftConfig {
    RaftConfig {
        cluster_name: "rill-test".to_owned(),
        heartbeat_ms: 50,
        election_timeout_ms_min: 300,
        election_timeout_ms_max: 600,
        snapshot_entries_since_last: 0,
        snapshot_log_bytes_since_last: 0,
        ..RaftConfig::default()
    }
}

pub(crate) fn peer(id: NodeId) -> Peer {
    Peer {
        raft_addr: format!("raft-{id}"),
        client_addr: format!("client-{id}"),
        ..Peer::default()
    }
}

/// The nodes reachable in this process, by id, and the links cut between them. Each node gets
/// its own handle (`from`), so a cut can be one-way. Messages go through the same encoding as
/// over gRPC.
#[derive(Clone, Default)]
pub(crate) struct Router {
    from: NodeId,
    shared: Arc<Mutex<RouterState>>,
}

#[derive(Default)]
struct RouterState {
    /// Each node's Raft handle, incarnation and snapshot receipt.
    nodes: BTreeMap<NodeId, (Raft, u64, Arc<SnapshotReceipt>)>,
    /// `(from, to)`: messages from `from` to `to` are lost.
    cut: BTreeSet<(NodeId, NodeId)>,
}

impl Router {
    fn lock(&self) -> std::sync::MutexGuard<'_, RouterState> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn for_node(&self, from: NodeId) -> Router {
        Router {
            from,
            shared: Arc::clone(&self.shared),
        }
    }

    fn add(&self, id: NodeId, raft: Raft, incarnation: u64) {
        let receipt = Arc::new(SnapshotReceipt::new(
            RaftConfig::default().snapshot_bytes_max,
        ));
        self.lock().nodes.insert(id, (raft, incarnation, receipt));
    }

    fn remove(&self, id: NodeId) {
        self.lock().nodes.remove(&id);
    }

    /// Cuts every link between `id` and the other nodes, both ways.
    pub(crate) fn isolate(&self, id: NodeId, others: &[NodeId]) {
        let mut state = self.lock();
        for &other in others {
            state.cut.insert((id, other));
            state.cut.insert((other, id));
        }
    }

    pub(crate) fn heal(&self) {
        self.lock().cut.clear();
    }
}

impl Transport for Router {
    async fn call(
        &self,
        target: NodeId,
        _peer: &Peer,
        kind: RpcKind,
        payload: Vec<u8>,
        _timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let raft = {
            let state = self.lock();
            if state.cut.contains(&(self.from, target)) {
                return Err(TransportError::Unreachable("link cut".to_owned()));
            }
            state.nodes.get(&target).cloned()
        };
        let (raft, incarnation, receipt) =
            raft.ok_or_else(|| TransportError::Unreachable("node is down".to_owned()))?;
        let me = crate::network::Receiver {
            id: target,
            incarnation,
            receipt: &receipt,
            contact: &crate::contact::LeaderContact::default(),
        };
        let answer = crate::network::serve_rpc(&raft, &me, kind, &payload)
            .await
            .map_err(|e| TransportError::Network(e.to_string()))?;
        // The answer is lost if the link back was cut meanwhile.
        if self.lock().cut.contains(&(target, self.from)) {
            return Err(TransportError::Network("link cut".to_owned()));
        }
        Ok(answer)
    }
}

/// Nodes of one cluster, each on its own data directory that outlives restarts.
pub(crate) struct Cluster {
    router: Router,
    config: RaftConfig,
    dirs: BTreeMap<NodeId, TempDir>,
    pub(crate) nodes: BTreeMap<NodeId, RaftNode>,
}

impl Cluster {
    pub(crate) fn new(config: RaftConfig) -> Cluster {
        config.to_openraft().expect("valid raft config");
        Cluster {
            router: Router::default(),
            config,
            dirs: BTreeMap::new(),
            nodes: BTreeMap::new(),
        }
    }

    /// Starts node `id` on its data directory (a fresh one the first time).
    pub(crate) async fn start(&mut self, id: NodeId) {
        assert!(!self.nodes.contains_key(&id), "node {id} already running");
        let dir = self
            .dirs
            .entry(id)
            .or_insert_with(|| tempfile::tempdir().expect("temp dir"));
        // No fsync of state commits, as in other tests; the Raft log is fsynced regardless.
        let db = Db::open(
            dir.path(),
            &DbOptions {
                sync: false,
                ..DbOptions::default()
            },
        )
        .expect("open store");
        let options = NodeOptions {
            limits: Limits::default(),
            ..NodeOptions::default()
        };
        let node = RaftNode::start(
            id,
            Arc::new(db),
            &self.config,
            Network::new(self.router.for_node(id)),
            options,
        )
        .await
        .expect("start node");
        self.router.add(id, node.raft().clone(), node.incarnation());
        self.nodes.insert(id, node);
    }

    /// Stops node `id` and closes its store, keeping its data directory.
    pub(crate) async fn stop(&mut self, id: NodeId) {
        self.router.remove(id);
        let node = self.nodes.remove(&id).expect("node running");
        node.shutdown().await;
        let mut db = Arc::clone(node.db());
        drop(node);
        // Tasks of the stopped core may hold the store a moment longer; RocksDB's lock is
        // released only when the last handle goes.
        let deadline = Instant::now() + WAIT;
        loop {
            match Arc::try_unwrap(db) {
                Ok(db) => {
                    drop(db);
                    return;
                }
                Err(shared) => db = shared,
            }
            assert!(Instant::now() < deadline, "store of node {id} still held");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Replaces the data directory of node `id` (stopped) with an empty one: a lost disk.
    pub(crate) fn wipe(&mut self, id: NodeId) {
        assert!(!self.nodes.contains_key(&id), "node {id} is running");
        self.dirs.insert(id, tempfile::tempdir().expect("temp dir"));
    }

    pub(crate) fn node(&self, id: NodeId) -> &RaftNode {
        self.nodes
            .get(&id)
            .unwrap_or_else(|| panic!("node {id} not running"))
    }

    pub(crate) async fn initialize(&self, ids: &[NodeId]) {
        let members: BTreeMap<NodeId, Peer> = ids
            .iter()
            .map(|&id| {
                let incarnation = self.node(id).incarnation();
                (
                    id,
                    Peer {
                        incarnation,
                        ..peer(id)
                    },
                )
            })
            .collect();
        self.node(ids[0])
            .raft()
            .initialize(members)
            .await
            .expect("initialize");
    }

    /// The leader all running voters agree on, once they do.
    pub(crate) async fn leader(&self) -> NodeId {
        let deadline = Instant::now() + WAIT;
        loop {
            let leaders: BTreeSet<Option<NodeId>> = self
                .nodes
                .values()
                .map(|node| node.raft().metrics().borrow().current_leader)
                .collect();
            if let [Some(leader)] = leaders.iter().collect::<Vec<_>>()[..] {
                if self.nodes.contains_key(leader) {
                    return *leader;
                }
            }
            assert!(Instant::now() < deadline, "no agreed leader: {leaders:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Proposes `command` through the current leader, retrying across leader changes.
    pub(crate) async fn write(&self, command: Command) -> Reply {
        let deadline = Instant::now() + WAIT;
        loop {
            let leader = self.leader().await;
            match self.node(leader).write(command.clone()).await {
                Ok(reply) => return reply,
                Err(error) => {
                    assert!(Instant::now() < deadline, "write kept failing: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Waits until node `id` has applied the log up to `index`.
    pub(crate) async fn wait_applied(&self, id: NodeId, index: u64) {
        self.node(id)
            .raft()
            .wait(Some(WAIT))
            .applied_index_at_least(Some(index), format!("node {id} applies {index}"))
            .await
            .unwrap_or_else(|e| panic!("node {id} did not apply {index}: {e}"));
    }

    /// The last index the leader applied.
    pub(crate) fn applied_index(&self, id: NodeId) -> u64 {
        let metrics = self.node(id).raft().metrics().borrow().clone();
        metrics
            .last_applied
            .map(|log_id| log_id.index)
            .unwrap_or_else(|| panic!("node {id} has applied nothing"))
    }

    /// Waits until every running node has applied what `leader` has and all stand at the same
    /// applied index, then checks that their states are equal, entry for entry.
    pub(crate) async fn assert_converged(&self, leader: NodeId) {
        let index = self.applied_index(leader);
        for &id in self.nodes.keys() {
            self.wait_applied(id, index).await;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let states: BTreeMap<NodeId, (u64, u64)> = self
                .nodes
                .iter()
                .map(|(&id, node)| (id, node.db().applied_digest().expect("digest")))
                .collect();
            let distinct: BTreeSet<(u64, u64)> = states.values().copied().collect();
            let applied: BTreeSet<u64> = distinct.iter().map(|&(applied, _)| applied).collect();
            if let [(applied, _)] = distinct.iter().copied().collect::<Vec<_>>()[..] {
                assert!(applied > index, "store applied index is Raft index + 1");
                return;
            }
            if applied.len() == 1 {
                panic!("same applied index, different states: {states:?}");
            }
            assert!(
                Instant::now() < deadline,
                "nodes did not converge: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub(crate) fn command(words: &[&str]) -> Command {
    let argv: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    match rill_core::parse(&argv) {
        Some(Ok(command)) => command,
        other => panic!("{words:?} does not parse: {other:?}"),
    }
}

/// `XADD stream * n <n>` for each n in `range`, through the leader; checks each reply is an ID.
pub(crate) async fn add_entries(cluster: &Cluster, stream: &str, range: std::ops::Range<u32>) {
    for n in range {
        let value = n.to_string();
        let reply = cluster
            .write(command(&["XADD", stream, "*", "n", &value]))
            .await;
        assert!(
            matches!(reply, Reply::Bulk(_)),
            "XADD {stream} {n} answered {reply:?}"
        );
    }
}
