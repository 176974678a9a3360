//! Three real `rill-server` processes on 127.0.0.1 (ports chosen by each process, default Raft
//! timeouts), a producer and a consumer group of two consumers through `rill-client`, while
//! nodes die by SIGKILL: the leader three times, then a follower, each restarted from its
//! directory later. At the end every acknowledged XADD is on all three nodes exactly once and
//! in order, every entry was handled and acknowledged, the pending list is empty, and the
//! restarted nodes caught up. Prints the failover time (leader killed -> first acknowledged
//! write on the new leader), p50 and max.
//!
//! The server binary is the one `cargo nextest run --workspace` (or `cargo test --workspace`)
//! builds next to this test; `RILL_SERVER_BIN` points elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use rill_client::{Client, ClientOptions, Consumer, ConsumerOptions};
use tokio::sync::watch;

const DEADLINE: Duration = Duration::from_secs(30);
const KEY: &[u8] = b"sensor_stream";
const GROUP: &str = "sensors";

fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RILL_SERVER_BIN") {
        return path.into();
    }
    // target/<profile>/deps/processes-<hash> -> target/<profile>/rill-server
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join("rill-server");
    assert!(
        path.exists(),
        "{} is not built: run the tests with --workspace, or set RILL_SERVER_BIN",
        path.display()
    );
    path
}

struct Node {
    id: u64,
    dir: PathBuf,
    redis: SocketAddr,
    grpc: SocketAddr,
    child: Option<Child>,
}

impl Node {
    /// Starts node `id` on `dir`; `ports` of `None` lets the process pick them.
    fn spawn(id: u64, dir: &Path, ports: Option<(u16, u16)>, join_via: Option<SocketAddr>) -> Node {
        let (port, grpc_port) = ports.unwrap_or((0, 0));
        let mut command = Command::new(server_binary());
        command
            .args(["--node-id", &id.to_string()])
            .args(["--port", &port.to_string()])
            .args(["--grpc-port", &grpc_port.to_string()])
            .arg("--dir")
            .arg(dir)
            // openraft logs every failed RPC to a dead node; those are expected here.
            .env("RUST_LOG", "warn,openraft=off")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(via) = join_via {
            command.args(["--join-via", &via.to_string()]);
        }
        let mut child = command.spawn().expect("rill-server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = |prefix: &str| -> SocketAddr {
            let line = lines
                .next()
                .expect("a line on stdout")
                .expect("readable stdout");
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
                .parse()
                .expect("an address")
        };
        let redis = addr("listening on ");
        let grpc = addr("grpc on ");
        Node {
            id,
            dir: dir.to_owned(),
            redis,
            grpc,
            child: Some(child),
        }
    }

    fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    fn restart(&mut self) {
        // A restart reads the membership from its directory: no joining again.
        let mut node = Node::spawn(
            self.id,
            &self.dir,
            Some((self.redis.port(), self.grpc.port())),
            None,
        );
        assert_eq!((node.redis, node.grpc), (self.redis, self.grpc));
        self.child = node.child.take();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// This node's own copy of the stream (`READONLY`: no forwarding, no read barrier).
async fn local_ids(addr: SocketAddr) -> Option<Vec<String>> {
    let client = redis::Client::open(format!("redis://{addr}/")).ok()?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()?;
    let _: () = redis::cmd("READONLY").query_async(&mut conn).await.ok()?;
    let reply: redis::streams::StreamRangeReply = conn.xrange_all(KEY).await.ok()?;
    Some(reply.ids.into_iter().map(|entry| entry.id).collect())
}

/// What the producer task saw: each acknowledged ID with the time its XADD returned.
type Acked = Arc<Mutex<Vec<(String, Instant)>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Victim {
    Leader,
    Follower,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_or_duplicated_when_nodes_are_killed() {
    let root = tempfile::tempdir().expect("temp dir");
    let (mut nodes, client) = three_nodes(root.path());
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(status) = client.find_leader().await {
            if status.members.iter().filter(|m| m.voter).count() == 3 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "nodes did not join");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.ensure_group(KEY, GROUP, "0").await.expect("group");

    // Two consumers of the group, recording what they handled (and so acknowledged).
    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut consumers = Vec::new();
    for name in ["consumer_1", "consumer_2"] {
        let consumer = Consumer {
            client: client.clone(),
            key: KEY.to_vec(),
            group: GROUP.to_owned(),
            name: name.to_owned(),
            options: ConsumerOptions {
                batch: 50,
                block: Duration::from_millis(500),
                claim_idle: Duration::from_secs(2),
                claim_every: Duration::from_millis(500),
            },
        };
        let handled = Arc::clone(&handled);
        let mut stop_rx = stop_rx.clone();
        consumers.push(tokio::spawn(async move {
            let stop = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            consumer
                .run(
                    |entry| {
                        handled.lock().expect("lock").push(entry.id.clone());
                        Ok::<(), ()>(())
                    },
                    stop,
                )
                .await
        }));
    }

    // One idempotent producer, writing until told to stop.
    let acked: Acked = Arc::default();
    let (stop_producer, mut stop_rx) = watch::channel(false);
    let producing = {
        let acked = Arc::clone(&acked);
        let mut producer = client.producer();
        tokio::spawn(async move {
            let mut n = 0u64;
            while !*stop_rx.borrow_and_update() {
                let reading = format!("{}", 15 + n % 20);
                let sensor = (n % 8).to_string();
                let fields: [(&[u8], &[u8]); 2] = [
                    (b"sensor_id", sensor.as_bytes()),
                    (b"temperature", reading.as_bytes()),
                ];
                let id = producer
                    .xadd(KEY, &fields)
                    .await
                    .expect("XADD acknowledged");
                acked.lock().expect("lock").push((id, Instant::now()));
                n += 1;
            }
        })
    };
    let acked_count = || acked.lock().expect("lock").len();
    let wait_for_acks = |more: usize| {
        let target = acked_count() + more;
        async move {
            let deadline = Instant::now() + DEADLINE;
            while acked_count() < target {
                assert!(Instant::now() < deadline, "writes stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    let mut failovers = Vec::new();
    for victim in [
        Victim::Leader,
        Victim::Leader,
        Victim::Leader,
        Victim::Follower,
    ] {
        wait_for_acks(200).await;
        let status = client.find_leader().await.expect("status");
        let leader = status.leader_id.expect("a leader");
        let id = match victim {
            Victim::Leader => leader,
            Victim::Follower => *nodes.keys().find(|&&id| id != leader).expect("a follower"),
        };
        let killed_at = Instant::now();
        nodes.get_mut(&id).expect("node").kill();
        let before = acked_count();
        wait_for_acks(1).await;
        // The producer's XADDs in flight at the kill could only be acknowledged by a quorum
        // the dead node is no longer part of: the first ack after the kill came after it.
        let first_after = acked.lock().expect("lock")[before].1;
        let took = first_after.saturating_duration_since(killed_at);
        println!("{victim:?} (node {id}) killed -> next acknowledged write after {took:?}");
        if victim == Victim::Leader {
            failovers.push(took);
        }
        wait_for_acks(200).await;
        nodes.get_mut(&id).expect("node").restart();
    }
    wait_for_acks(200).await;
    stop_producer.send(true).expect("producer listening");
    producing.await.expect("producer ran");
    let acked: Vec<String> = acked
        .lock()
        .expect("lock")
        .iter()
        .map(|(id, _)| id.clone())
        .collect();

    // Every acknowledged entry is handled (and acknowledged): the pending list empties.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen: BTreeSet<String> = handled.lock().expect("lock").iter().cloned().collect();
        let pending = client.xpending(KEY, GROUP).await.expect("XPENDING");
        if acked.iter().all(|id| seen.contains(id)) && pending.count == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "handled {} of {}, {} pending",
            seen.len(),
            acked.len(),
            pending.count
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(true).expect("consumers listening");
    for consumer in consumers {
        consumer
            .await
            .expect("consumer joined")
            .expect("consumer ran");
    }

    // On every node, restarted ones included: exactly the acknowledged IDs, in order.
    for node in nodes.values() {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let ids = local_ids(node.redis).await;
            if ids.as_ref() == Some(&acked) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} holds {:?} entries, {} acknowledged",
                node.id,
                ids.map(|ids| ids.len()),
                acked.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    failovers.sort();
    let p50 = failovers[failovers.len() / 2];
    let max = failovers[failovers.len() - 1];
    println!(
        "{} entries; failover (leader killed -> first acknowledged write): p50 {p50:?}, max {max:?} over {} kills",
        acked.len(),
        failovers.len()
    );
    // The target is under a second; a loaded two-core CI machine gets some slack.
    assert!(max < Duration::from_secs(5), "failover took {max:?}");
}

/// A follower whose disk is lost (SIGKILL, its directory deleted) and that starts again on an
/// empty directory is not taken for the node the cluster knew: the leader removes that member,
/// the node joins as a new learner, catches up and votes again. Then the leader is killed, so
/// the new leader is elected with the restored node's vote: every acknowledged write is still
/// there, on every node, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_whose_disk_is_lost_joins_again_and_nothing_acknowledged_is_lost() {
    let root = tempfile::tempdir().expect("temp dir");
    let (mut nodes, client) = three_nodes(root.path());
    // Waits until the cluster's three voters are `voters` (id, incarnation other than
    // `not`), and returns the leader's status.
    let three_voters = |not: Option<(u64, u64)>| {
        let client = client.clone();
        async move {
            let deadline = Instant::now() + DEADLINE * 2;
            loop {
                if let Ok(status) = client.find_leader().await {
                    let voters: Vec<_> = status.members.iter().filter(|m| m.voter).collect();
                    let replaced = not.is_none_or(|(id, old)| {
                        voters.iter().any(|m| m.id == id && m.incarnation != old)
                    });
                    if voters.len() == 3 && replaced {
                        return status;
                    }
                }
                assert!(Instant::now() < deadline, "three voters not reached");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let status = three_voters(None).await;
    let mut acked = Vec::new();
    produce(&client, 100, &mut acked).await;

    let leader = status.leader_id.expect("a leader");
    let wiped = *nodes.keys().find(|&&id| id != leader).expect("a follower");
    let old = status
        .members
        .iter()
        .find(|m| m.id == wiped)
        .expect("a member")
        .incarnation;
    assert_ne!(old, 0, "members carry their incarnation");
    let node = nodes.get_mut(&wiped).expect("node");
    node.kill();
    std::fs::remove_dir_all(&node.dir).expect("the disk is lost");
    let leader_grpc = nodes[&leader].grpc;
    let node = nodes.get_mut(&wiped).expect("node");
    let mut fresh = Node::spawn(
        wiped,
        &node.dir.clone(),
        Some((node.redis.port(), node.grpc.port())),
        Some(leader_grpc),
    );
    node.child = fresh.child.take();
    produce(&client, 100, &mut acked).await;
    let status = three_voters(Some((wiped, old))).await;
    println!(
        "node {wiped} joined again: {:?}",
        status
            .members
            .iter()
            .map(|m| (m.id, m.voter))
            .collect::<Vec<_>>()
    );

    // The leader lists the new voter as soon as it has appended the change. The other two must
    // hold it as well before the leader dies: a survivor without it still counts the dead
    // leader and itself as the only voters, and no election could succeed.
    for (id, node) in &nodes {
        let one =
            Client::connect(vec![node.grpc.to_string()], ClientOptions::default()).expect("client");
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(status) = one.status().await {
                let new_voter = status
                    .members
                    .iter()
                    .any(|m| m.id == wiped && m.voter && m.incarnation != old);
                if new_voter && status.members.iter().filter(|m| m.voter).count() == 3 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {id} does not hold node {wiped} as a voter"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let leader = status.leader_id.expect("a leader");
    nodes.get_mut(&leader).expect("leader").kill();
    produce(&client, 10, &mut acked).await;
    let deadline = Instant::now() + DEADLINE;
    for (id, node) in &nodes {
        if node.child.is_none() {
            continue;
        }
        loop {
            if local_ids(node.redis).await.as_ref() == Some(&acked) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {id} does not hold the {} acknowledged entries in order",
                acked.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Node 1 forms a cluster alone in `root`; 2 and 3 join through it (`--join-via`). With a
/// client of all three.
fn three_nodes(root: &Path) -> (BTreeMap<u64, Node>, Client) {
    let first = Node::spawn(1, &root.join("n1"), None, None);
    let via = first.grpc;
    let mut nodes: BTreeMap<u64, Node> = BTreeMap::from([(1, first)]);
    for id in 2..=3 {
        let dir = root.join(format!("n{id}"));
        nodes.insert(id, Node::spawn(id, &dir, None, Some(via)));
    }
    let addrs: Vec<String> = nodes.values().map(|n| n.grpc.to_string()).collect();
    let client = Client::connect(addrs, ClientOptions::default()).expect("client");
    (nodes, client)
}

/// `n` XADDs to `KEY`, one after another, each acknowledged in time; their IDs go to `acked`.
async fn produce(client: &Client, n: usize, acked: &mut Vec<String>) {
    for i in 0..n {
        let value = i.to_string();
        let fields: [(&[u8], &[u8]); 1] = [(b"n", value.as_bytes())];
        let id = tokio::time::timeout(DEADLINE, client.xadd(KEY, &fields))
            .await
            .expect("XADD answered in time")
            .expect("XADD acknowledged");
        acked.push(id);
    }
}
