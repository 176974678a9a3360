//! The harness for Rill's integration tests (`tests/tests/*.rs`).
//!
//! ```text
//!  TestServer::start() ── in-process rill-server on 127.0.0.1:0, data in a temp dir
//!  RawClient            ── bytes in, one RESP reply out (framed by `redis-protocol`), with timeouts
//!  check(addr, script, expect) ── one command per line, replies shown as RESP with ⏎ for \r\n
//!  RedisServer::start() ── Debian's redis-server on a free port, for differential tests
//! ```
//!
//! Everything waits with a deadline ([`DEADLINE`]): a server that hangs fails the test instead of
//! hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use rill_server::{Server, ServerConfig, ServerHandle};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any single step of a test may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Awaits `future` or panics after [`DEADLINE`], naming what hung.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not finish within {DEADLINE:?}"),
    }
}

/// A server running in this process over its own temporary directory.
pub struct TestServer {
    handle: Option<ServerHandle>,
    config: ServerConfig,
    // Dropped last: the store must be closed before its directory goes.
    _dir: TempDir,
}

impl TestServer {
    /// Default limits, fsync off (these servers never outlive their process).
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(dir.path().join("data"));
        config.port = 0;
        config.grpc_port = 0;
        config.fsync = false;
        configure(&mut config);
        let handle = within("server start", Server::start(config.clone()))
            .await
            .expect("server starts");
        TestServer {
            handle: Some(handle),
            config,
            _dir: dir,
        }
    }

    fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().expect("server running")
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle().addr()
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.handle().grpc_addr()
    }

    /// `redis://` URL for the `redis` crate, RESP2.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr())
    }

    /// `redis://` URL for the `redis` crate, RESP3 (the client sends `HELLO 3`).
    pub fn url_resp3(&self) -> String {
        format!("redis://{}/?protocol=resp3", self.addr())
    }

    /// Stops the server and starts a new one on the same directory (on a new free port).
    pub async fn restart(&mut self) {
        if let Some(handle) = self.handle.take() {
            within("server shutdown", handle.shutdown()).await;
        }
        let handle = within("server restart", Server::start(self.config.clone()))
            .await
            .expect("server restarts");
        self.handle = Some(handle);
    }

    pub async fn shutdown(mut self) {
        if let Some(handle) = self.handle.take() {
            within("server shutdown", handle.shutdown()).await;
        }
    }
}

/// How a raw read ended other than with a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The server closed the connection.
    Closed,
}

/// A client that writes raw bytes and reads replies one RESP frame at a time.
pub struct RawClient {
    stream: TcpStream,
    input: BytesMut,
    /// 2 or 3: which `redis-protocol` decoder frames the replies.
    pub protocol: u8,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        RawClient::from_stream(stream)
    }

    /// Over a connection the caller made (from a chosen source address, say).
    pub fn from_stream(stream: TcpStream) -> RawClient {
        RawClient {
            stream,
            input: BytesMut::new(),
            protocol: 2,
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        within("send", self.stream.write_all(bytes))
            .await
            .expect("send");
    }

    /// Sends one command as a RESP array of bulk strings.
    pub async fn send_command(&mut self, args: &[&[u8]]) {
        self.send(&encode_command(args)).await;
    }

    /// The raw bytes of the next reply, or how the stream ended.
    pub async fn read_reply(&mut self) -> Result<Vec<u8>, ReadEnd> {
        loop {
            if let Some(used) = self.complete_frame() {
                return Ok(self.input.split_to(used).to_vec());
            }
            let read = within("reply", self.stream.read_buf(&mut self.input)).await;
            match read {
                Ok(0) | Err(_) => return Err(ReadEnd::Closed),
                Ok(_) => {}
            }
        }
    }

    /// Sends a command and returns its reply shown as RESP text with `⏎` for `\r\n`.
    pub async fn call(&mut self, args: &[&[u8]]) -> String {
        self.send_command(args).await;
        match self.read_reply().await {
            Ok(bytes) => show(&bytes),
            Err(ReadEnd::Closed) => "<closed>".to_owned(),
        }
    }

    /// Everything the server sends until it closes the connection.
    pub async fn read_until_closed(&mut self) -> Vec<u8> {
        let mut rest = self.input.split().to_vec();
        within("close", async {
            let mut chunk = [0u8; 4096];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => rest.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        rest
    }

    /// Whether the reply within `wait` is pending: `true` if nothing arrived.
    pub async fn nothing_within(&mut self, wait: Duration) -> bool {
        if self.complete_frame().is_some() {
            return false;
        }
        tokio::time::timeout(wait, self.stream.read_buf(&mut self.input))
            .await
            .is_err()
    }

    fn complete_frame(&self) -> Option<usize> {
        if self.input.is_empty() {
            return None;
        }
        let framed = match self.protocol {
            2 => redis_protocol::resp2::decode::decode(&self.input)
                .map(|found| found.map(|(_, used)| used)),
            _ => redis_protocol::resp3::decode::complete::decode(&self.input)
                .map(|found| found.map(|(_, used)| used)),
        };
        match framed {
            Ok(found) => found,
            Err(error) => panic!(
                "server sent an invalid RESP{} frame ({error:?}): {:?}",
                self.protocol,
                show(&self.input)
            ),
        }
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// RESP bytes as one line of text: `\r\n` shown as `⏎`.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "⏎")
}

/// Runs a script on one new connection: each non-empty line is a command (split like an
/// inline command: quotes work), sent as a RESP array. Shows each line and its reply.
/// `HELLO 3` switches reply framing to RESP3 (and `HELLO 2` back), as on the server.
pub async fn run_script(addr: SocketAddr, script: &str) -> String {
    let mut client = RawClient::connect(addr).await;
    let mut out = String::new();
    for line in script
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        let args =
            rill_server::resp::split_args(line.as_bytes()).expect("balanced quotes in script");
        let arg_refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        // The reply to `HELLO 3` is already RESP3; an error reply reads the same in both.
        let protocol_before = client.protocol;
        if args[0].eq_ignore_ascii_case(b"HELLO") {
            match args.get(1).map(Vec::as_slice) {
                Some(b"2") => client.protocol = 2,
                Some(b"3") => client.protocol = 3,
                _ => {}
            }
        }
        let reply = client.call(&arg_refs).await;
        if reply.starts_with('-') {
            client.protocol = protocol_before;
        }
        out.push_str(&format!("{line}\n  {reply}\n"));
    }
    out
}

/// [`run_script`], compared with an inline snapshot.
pub async fn check(addr: SocketAddr, script: &str, expect: expect_test::Expect) {
    expect.assert_eq(&run_script(addr, script).await);
}

/// A real `redis-server` (Debian's 7.0) on a free port, for differential tests. Killed on drop.
pub struct RedisServer {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: TempDir,
}

impl RedisServer {
    /// `None` (with a note on stderr) when `redis-server` is not installed, unless
    /// `RILL_REQUIRE_REDIS=1`, which makes its absence a failure.
    pub async fn start() -> Option<RedisServer> {
        for _attempt in 0..3 {
            // Redis cannot bind port 0 and report it: borrow a free port from the kernel.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let dir = tempfile::tempdir().expect("temp dir");
            let spawned = std::process::Command::new("redis-server")
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(child) => child,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    assert!(
                        std::env::var_os("RILL_REQUIRE_REDIS").is_none(),
                        "RILL_REQUIRE_REDIS is set but redis-server is not installed"
                    );
                    eprintln!("redis-server not installed: skipping the comparison with Redis");
                    return None;
                }
                Err(error) => panic!("cannot run redis-server: {error}"),
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let mut server = RedisServer {
                child,
                addr,
                _dir: dir,
            };
            if server.wait_until_up().await {
                return Some(server);
            }
        }
        panic!("redis-server did not start")
    }

    /// Polls until it answers; `false` if it exited (say, the port was taken meanwhile).
    async fn wait_until_up(&mut self) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < DEADLINE {
            if let Ok(Some(_status)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(self.addr).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raft timings for tests: elections within a second, heartbeats well under half of that.
pub fn fast_raft() -> rill_server::RaftConfig {
    rill_server::RaftConfig {
        heartbeat_ms: 50,
        election_timeout_ms_min: 300,
        election_timeout_ms_max: 600,
        ..rill_server::RaftConfig::default()
    }
}

/// A gRPC client of one node's public API.
pub async fn grpc_channel(addr: SocketAddr) -> tonic::transport::Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .timeout(DEADLINE);
    within("gRPC connect", endpoint.connect())
        .await
        .expect("gRPC connects")
}

/// `request` with whatever credential `config` asks of an operator: the cluster secret, else
/// the admin password, else the client password.
pub fn authorized<T>(config: &ServerConfig, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    if let Some(secret) = &config.cluster_secret {
        let value = secret.parse().expect("printable secret");
        metadata.insert(rill_server::CLUSTER_SECRET_HEADER, value);
    } else if let Some(password) = config
        .admin_password
        .as_ref()
        .or(config.requirepass.as_ref())
    {
        let value = format!("Bearer {password}")
            .parse()
            .expect("printable password");
        metadata.insert("authorization", value);
    }
    request
}

/// A gRPC channel to the node at `addr` run with `config`: over TLS with the node's own
/// certificate when it has TLS (so the node takes the caller for a node).
pub async fn node_channel(config: &ServerConfig, addr: SocketAddr) -> tonic::transport::Channel {
    let Some(tls) = &config.tls else {
        return grpc_channel(addr).await;
    };
    let read = |path: &std::path::Path| std::fs::read(path).expect("TLS file");
    let tls_config = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(read(&tls.ca)))
        .identity(tonic::transport::Identity::from_pem(
            read(&tls.cert),
            read(&tls.key),
        ));
    let endpoint = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .timeout(DEADLINE)
        .tls_config(tls_config)
        .expect("TLS config");
    within("gRPC connect", endpoint.connect())
        .await
        .expect("gRPC connects")
}

/// Nodes of one cluster in this process, each on its own directory and ports, which outlive
/// restarts (the membership records the addresses).
pub struct TestCluster {
    nodes: std::collections::BTreeMap<u64, ClusterNode>,
}

struct ClusterNode {
    config: ServerConfig,
    handle: Option<ServerHandle>,
    _dir: TempDir,
}

impl TestCluster {
    /// Node 1 forms a cluster alone; nodes 2..=n start with empty directories, join as
    /// learners and are promoted to voters through node 1's `Cluster` service.
    pub async fn start(n: u64, configure: impl Fn(&mut ServerConfig)) -> TestCluster {
        use rill_proto::v1::cluster_client::ClusterClient;
        use rill_proto::v1::{AddLearnerRequest, ChangeMembershipRequest, Member};

        let mut cluster = TestCluster {
            nodes: std::collections::BTreeMap::new(),
        };
        for id in 1..=n {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut config = ServerConfig::new(dir.path().join("data"));
            config.node_id = id;
            config.port = 0;
            config.grpc_port = 0;
            config.fsync = false;
            config.join = id != 1;
            config.raft = fast_raft();
            configure(&mut config);
            let handle = within("node start", Server::start(config.clone()))
                .await
                .expect("node starts");
            // Restarts reuse the ports the node chose: the others know it by them.
            config.port = handle.addr().port();
            config.grpc_port = handle.grpc_addr().port();
            cluster.nodes.insert(
                id,
                ClusterNode {
                    config,
                    handle: Some(handle),
                    _dir: dir,
                },
            );
        }
        let leader = cluster.wait_leader_among(&[1]).await;
        assert_eq!(leader, 1, "node 1 formed the cluster");
        let config = cluster.nodes[&1].config.clone();
        let mut admin =
            ClusterClient::new(node_channel(&config, cluster.handle(1).grpc_addr()).await);
        for id in 2..=n {
            let handle = cluster.handle(id);
            let member = Member {
                id,
                raft_addr: handle.grpc_addr().to_string(),
                client_addr: handle.addr().to_string(),
                voter: false,
                ..Member::default()
            };
            within(
                "add learner",
                admin.add_learner(authorized(
                    &config,
                    AddLearnerRequest {
                        member: Some(member),
                    },
                )),
            )
            .await
            .expect("learner added");
        }
        let voters: Vec<u64> = (1..=n).collect();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let request = ChangeMembershipRequest {
                voters: voters.clone(),
            };
            match within(
                "change membership",
                admin.change_membership(authorized(&config, request)),
            )
            .await
            {
                Ok(_) => break,
                // Until node 1 has committed an entry of its own term, the membership it was
                // formed with is not known to be committed, and openraft refuses a change as
                // one already in progress.
                Err(status)
                    if status.code() == tonic::Code::FailedPrecondition
                        && status
                            .message()
                            .contains("undergoing a configuration change")
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(status) => panic!("membership changed: {status:?}"),
            }
        }
        cluster
    }

    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    pub fn running(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.handle.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn handle(&self, id: u64) -> &ServerHandle {
        self.nodes[&id].handle.as_ref().expect("node running")
    }

    /// The leader every running node agrees on (isolated nodes excluded via `among`).
    pub async fn wait_leader_among(&self, among: &[u64]) -> u64 {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let leaders: std::collections::BTreeSet<Option<u64>> = among
                .iter()
                .map(|&id| {
                    self.handle(id)
                        .status()
                        .and_then(|s| s.leader.map(|(leader, _)| leader))
                })
                .collect();
            if leaders.len() == 1 {
                if let Some(Some(leader)) = leaders.first() {
                    let is_leader = among.contains(leader)
                        && self
                            .handle(*leader)
                            .status()
                            .is_some_and(|s| s.role == rill_server::Role::Leader);
                    if is_leader {
                        return *leader;
                    }
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no agreed leader: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_leader(&self) -> u64 {
        self.wait_leader_among(&self.running()).await
    }

    /// Stops node `id` (its directory and ports are kept).
    pub async fn stop(&mut self, id: u64) {
        let handle = self
            .nodes
            .get_mut(&id)
            .and_then(|node| node.handle.take())
            .expect("node running");
        within("node shutdown", handle.shutdown()).await;
    }

    /// Starts node `id` again on its directory and ports. A port can be taken while the node
    /// is down (by another test's socket, or by a connection to the stopped node that the
    /// kernel gave that same port as its own, a TCP self-connect), so a bind refused as in use
    /// is tried again until the deadline.
    pub async fn restart(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).expect("a node");
        assert!(node.handle.is_none(), "node {id} is running");
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let handle = loop {
            match within("node restart", Server::start(node.config.clone())).await {
                Ok(handle) => break handle,
                Err(rill_server::ServerError::Bind { source, .. })
                    if source.kind() == std::io::ErrorKind::AddrInUse
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("node restarts: {error:?}"),
            }
        };
        node.handle = Some(handle);
    }

    /// Waits until every running node stands at the leader's applied index with the same
    /// state digest; returns that `(applied index, digest)`.
    pub async fn assert_converged(&self) -> (u64, u64) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let states: std::collections::BTreeMap<u64, Option<(u64, u64)>> = self
                .running()
                .into_iter()
                .map(|id| (id, self.handle(id).state_digest()))
                .collect();
            let distinct: std::collections::BTreeSet<_> = states.values().collect();
            if let [Some(state)] = distinct.into_iter().collect::<Vec<_>>()[..] {
                return *state;
            }
            let indexes: std::collections::BTreeSet<Option<u64>> =
                states.values().map(|s| s.map(|(index, _)| index)).collect();
            if indexes.len() == 1 && !indexes.contains(&None) {
                panic!("same applied index, different states: {states:?}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "nodes did not converge: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(mut self) {
        for id in self.running() {
            self.stop(id).await;
        }
    }
}
