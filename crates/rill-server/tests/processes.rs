//! Three real `rill-server` processes on 127.0.0.1, ports chosen by each process: the leader is
//! killed with SIGKILL mid-stream, a new one is elected, every acknowledged write survives,
//! and the killed node restarts from its directory and catches up.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use rill_proto::v1::cluster_client::ClusterClient;
use rill_proto::v1::Empty;

const DEADLINE: Duration = Duration::from_secs(20);

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
        let mut command = Command::new(env!("CARGO_BIN_EXE_rill-server"));
        command
            .args(["--node-id", &id.to_string()])
            .args(["--port", &port.to_string()])
            .args(["--grpc-port", &grpc_port.to_string()])
            .args(["--heartbeat-ms", "50"])
            .args(["--election-timeout-ms-min", "300"])
            .args(["--election-timeout-ms-max", "600"])
            .arg("--dir")
            .arg(dir)
            .env("RUST_LOG", "warn")
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
        let mut node = Node::spawn(
            self.id,
            &self.dir,
            Some((self.redis.port(), self.grpc.port())),
            // A restart reads the membership from its directory: no joining again.
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

async fn connect(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{addr}/")).expect("client");
    tokio::time::timeout(DEADLINE, client.get_multiplexed_async_connection())
        .await
        .expect("connect in time")
        .expect("connects")
}

/// `(role, rill_leader_id)` from `INFO replication`.
async fn role(addr: SocketAddr) -> Option<(String, String)> {
    let client = redis::Client::open(format!("redis://{addr}/")).ok()?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()?;
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut conn)
        .await
        .ok()?;
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
    };
    Some((field("rill_role:")?, field("rill_leader_id:")?))
}

async fn wait_leader(nodes: &[&Node]) -> u64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        for node in nodes {
            if let Some((role, _)) = role(node.redis).await {
                if role == "leader" {
                    return node.id;
                }
            }
        }
        assert!(Instant::now() < deadline, "no leader elected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn local_len(addr: SocketAddr, key: &str) -> usize {
    let mut conn = connect(addr).await;
    let _: () = redis::cmd("READONLY")
        .query_async(&mut conn)
        .await
        .expect("READONLY");
    conn.xlen(key).await.expect("XLEN")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_survive_sigkill_of_the_leader() {
    let root = tempfile::tempdir().expect("temp dir");
    // Node 1 forms a cluster alone; 2 and 3 join through it (`--join-via`): each adds itself
    // as a learner, catches up, and becomes a voter.
    let first = Node::spawn(1, &root.path().join("n1"), None, None);
    let via = first.grpc;
    let mut nodes = vec![first];
    for id in 2..=3 {
        nodes.push(Node::spawn(
            id,
            &root.path().join(format!("n{id}")),
            None,
            Some(via),
        ));
    }
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{via}"))
        .expect("endpoint")
        .timeout(DEADLINE);
    let channel = endpoint.connect().await.expect("gRPC connects");
    let mut admin = ClusterClient::new(channel);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = admin.status(Empty {}).await.expect("status").into_inner();
        let voters = status.members.iter().filter(|m| m.voter).count();
        if voters == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "nodes did not join: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let leader = wait_leader(&nodes.iter().collect::<Vec<_>>()).await;
    let mut acked = Vec::new();
    let mut conn = connect(nodes[(leader - 1) as usize].redis).await;
    for n in 0..100 {
        let id: String = conn.xadd("s", "*", &[("n", n)]).await.expect("XADD");
        acked.push(id);
    }
    drop(conn);

    // SIGKILL the leader: no shutdown, only what was fsynced survives on it.
    nodes[(leader - 1) as usize].kill();
    let survivors: Vec<&Node> = nodes.iter().filter(|n| n.id != leader).collect();
    let started = Instant::now();
    let new_leader = wait_leader(&survivors).await;
    assert_ne!(new_leader, leader);
    // Through either survivor (a follower forwards).
    let mut conn = connect(survivors[0].redis).await;
    let mut first_after = None;
    let deadline = Instant::now() + DEADLINE;
    while acked.len() < 200 {
        match conn
            .xadd::<_, _, _, _, String>("s", "*", &[("n", acked.len())])
            .await
        {
            Ok(id) => {
                first_after.get_or_insert_with(|| started.elapsed());
                acked.push(id);
            }
            Err(error) => {
                // An election may still be settling: TRYAGAIN is the retryable answer.
                assert!(error.to_string().contains("TRYAGAIN"), "{error}");
                assert!(Instant::now() < deadline, "writes kept failing: {error}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    println!(
        "leader killed -> first acknowledged write on the new leader: {:?}",
        first_after.expect("writes went through")
    );

    let node = &mut nodes[(leader - 1) as usize];
    node.restart();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut lens = Vec::new();
        for node in &nodes {
            lens.push(local_len(node.redis, "s").await);
        }
        if lens.iter().all(|&len| len == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "not caught up: {lens:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every acknowledged ID, in order, exactly once, on every node.
    for node in &nodes {
        let mut conn = connect(node.redis).await;
        let _: () = redis::cmd("READONLY")
            .query_async(&mut conn)
            .await
            .expect("READONLY");
        let reply: redis::streams::StreamRangeReply = conn.xrange_all("s").await.expect("XRANGE");
        let ids: Vec<String> = reply.ids.into_iter().map(|entry| entry.id).collect();
        assert_eq!(ids, acked, "node {}", node.id);
    }
}
