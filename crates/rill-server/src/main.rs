//! The `rill-server` binary: one Rill node.
//!
//! Settings come from, highest first: command-line flags, `RILL_*` environment variables, the
//! TOML file given with `--config`, the defaults. `rill-server --help` lists them all.
//!
//! ```text
//! rill-server --node-id 1 --port 6379 --grpc-port 7379 --dir ./data/n1 \
//!   --member 1=127.0.0.1:7379/127.0.0.1:6379 --member 2=... --member 3=...
//! ```
//!
//! `--port 0` / `--grpc-port 0` pick free ports. Once serving, stdout shows
//! `listening on <redis address>` and `grpc on <grpc address>`. SIGINT and SIGTERM stop the
//! node gracefully: connections close after their current batch, the Raft core stops, the
//! store is closed cleanly.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rill_server::{Member, Server, ServerConfig};
use serde::Deserialize;
use tokio::signal::unix::{signal, SignalKind};

/// jemalloc rather than glibc's malloc, for Rust's allocations and, its symbols unprefixed,
/// for RocksDB's: a node allocates and frees many small buffers per command on several threads,
/// and glibc's malloc and free took 15% of its CPU time (ARCHITECTURE.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// One Rill node: the Redis protocol and gRPC over a Raft-replicated stream store.
#[derive(Debug, Default, Parser)]
#[command(name = "rill-server", version)]
struct Args {
    /// A TOML file with any of the settings below (names with underscores: `node_id = 1`).
    #[arg(long, env = "RILL_CONFIG")]
    config: Option<PathBuf>,
    /// This node's id: unique in the cluster.
    #[arg(long, env = "RILL_NODE_ID")]
    node_id: Option<u64>,
    /// The IP address both listeners bind.
    #[arg(long, env = "RILL_BIND")]
    bind: Option<IpAddr>,
    /// The Redis-protocol port (0: pick one).
    #[arg(long, env = "RILL_PORT")]
    port: Option<u16>,
    /// The gRPC port: public API and node-to-node traffic (0: pick one).
    #[arg(long, env = "RILL_GRPC_PORT")]
    grpc_port: Option<u16>,
    /// The data directory (created if missing).
    #[arg(long, env = "RILL_DIR")]
    dir: Option<PathBuf>,
    /// An initial member as ID=GRPC_ADDR/REDIS_ADDR; repeat for each. None: this node alone.
    #[arg(long = "member", env = "RILL_MEMBERS", value_delimiter = ',')]
    members: Vec<String>,
    /// Wait to be added to an existing cluster instead of forming one.
    #[arg(long, env = "RILL_JOIN")]
    join: bool,
    /// Join the cluster of the node with this gRPC address (host:port): add this node as a
    /// learner, then as a voter. Only on a first start.
    #[arg(long, env = "RILL_JOIN_VIA")]
    join_via: Option<String>,
    /// The host others use to reach this node (default: the bind address).
    #[arg(long, env = "RILL_ADVERTISE_HOST")]
    advertise_host: Option<String>,
    /// Do not fsync (benchmarks and throwaway data only: a power loss loses acknowledged writes).
    #[arg(long, env = "RILL_NO_FSYNC")]
    no_fsync: bool,
    /// RocksDB's memory in MiB: one block cache, which the memtables are charged to (default
    /// 128, at least 8).
    #[arg(long, env = "RILL_CACHE_MIB")]
    cache_mib: Option<usize>,
    /// Followers answer writes with -READONLY instead of forwarding them to the leader.
    #[arg(long, env = "RILL_NO_FORWARD")]
    no_forward: bool,
    /// Followers answer keyed commands with -MOVED to the leader (for Redis Cluster clients).
    #[arg(long, env = "RILL_CLUSTER_REDIRECTS")]
    cluster_redirects: bool,
    /// The password clients give: Redis AUTH, gRPC `authorization: Bearer <password>`. Without
    /// one, only clients from 127.0.0.1 or ::1 are accepted (protected mode).
    #[arg(long, env = "RILL_REQUIREPASS", hide_env_values = true)]
    requirepass: Option<String>,
    /// The password gRPC calls that change the cluster need (membership, snapshots,
    /// elections). Without one, the client password serves.
    #[arg(long, env = "RILL_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// The secret every node of the cluster shares: node-to-node calls need it. Without one,
    /// only node-to-node calls from 127.0.0.1 or ::1 are accepted.
    #[arg(long, env = "RILL_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    /// A file whose first line is the cluster secret (instead of --cluster-secret).
    #[arg(
        long,
        env = "RILL_CLUSTER_SECRET_FILE",
        conflicts_with = "cluster_secret"
    )]
    cluster_secret_file: Option<PathBuf>,
    /// TLS on both ports and between nodes: this node's certificate (PEM). Needs
    /// --tls-key-file and --tls-ca-cert-file too; `rill dev certs DIR` makes a test set.
    #[arg(long, env = "RILL_TLS_CERT_FILE")]
    tls_cert_file: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long, env = "RILL_TLS_KEY_FILE")]
    tls_key_file: Option<PathBuf>,
    /// The CA that signed every node's certificate (PEM): nodes verify each other with it, and
    /// a caller presenting a certificate it signed is taken for a node.
    #[arg(long, env = "RILL_TLS_CA_CERT_FILE")]
    tls_ca_cert_file: Option<PathBuf>,
    /// Leader heartbeat period (default 50).
    #[arg(long, env = "RILL_HEARTBEAT_MS")]
    heartbeat_ms: Option<u64>,
    /// Election timeout range (default 150-300): a follower campaigns that long, plus the
    /// maximum, after the last heartbeat.
    #[arg(long, env = "RILL_ELECTION_TIMEOUT_MS_MIN")]
    election_timeout_ms_min: Option<u64>,
    #[arg(long, env = "RILL_ELECTION_TIMEOUT_MS_MAX")]
    election_timeout_ms_max: Option<u64>,
    /// How long the leader serves reads on a majority's acknowledgement of its heartbeat
    /// before asking a quorum again; below the maximum election timeout (default: two thirds
    /// of it; 0: a quorum round per read).
    #[arg(long, env = "RILL_READ_LEASE_MS")]
    read_lease_ms: Option<u64>,
    /// Build a snapshot after this many applied log entries (0: only when asked).
    #[arg(long, env = "RILL_SNAPSHOT_ENTRIES")]
    snapshot_entries: Option<u64>,
    #[arg(long, env = "RILL_CONNECTIONS_MAX")]
    connections_max: Option<usize>,
    /// Log entries (batches of commands) proposed and not yet applied, at most (1 to 1024).
    #[arg(long, env = "RILL_PROPOSALS_IN_FLIGHT")]
    proposals_in_flight: Option<usize>,
    /// How long the leader may wait, in microseconds, for the clients it has just answered
    /// before it proposes a smaller log entry without them (0: never; default 1000).
    #[arg(long, env = "RILL_GATHER_WAIT_US")]
    gather_wait_us: Option<u64>,
    /// Threads running the node's tasks (default: one per core). Nodes sharing a machine run
    /// better with their share of its cores: a handoff between threads costs a context switch.
    #[arg(long, env = "RILL_WORKER_THREADS")]
    worker_threads: Option<usize>,
}

/// The config file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    node_id: Option<u64>,
    bind: Option<IpAddr>,
    port: Option<u16>,
    grpc_port: Option<u16>,
    dir: Option<PathBuf>,
    #[serde(default)]
    members: Vec<Member>,
    #[serde(default)]
    join: bool,
    join_via: Option<String>,
    advertise_host: Option<String>,
    fsync: Option<bool>,
    cache_mib: Option<usize>,
    forward: Option<bool>,
    #[serde(default)]
    cluster_redirects: bool,
    requirepass: Option<String>,
    admin_password: Option<String>,
    cluster_secret: Option<String>,
    cluster_secret_file: Option<PathBuf>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    tls_ca_cert_file: Option<PathBuf>,
    heartbeat_ms: Option<u64>,
    election_timeout_ms_min: Option<u64>,
    election_timeout_ms_max: Option<u64>,
    read_lease_ms: Option<u64>,
    snapshot_entries: Option<u64>,
    connections_max: Option<usize>,
    proposals_in_flight: Option<usize>,
    gather_wait_us: Option<u64>,
    worker_threads: Option<usize>,
}

/// `ID=GRPC_ADDR/REDIS_ADDR`.
fn parse_member(text: &str) -> Result<Member, String> {
    let bad = || format!("--member {text}: expected ID=GRPC_HOST:PORT/REDIS_HOST:PORT");
    let (id, addrs) = text.split_once('=').ok_or_else(bad)?;
    let (grpc, redis) = addrs.split_once('/').ok_or_else(bad)?;
    let id = id.trim().parse::<u64>().map_err(|_| bad())?;
    if grpc.is_empty() || redis.is_empty() {
        return Err(bad());
    }
    Ok(Member {
        id,
        grpc: grpc.to_owned(),
        redis: redis.to_owned(),
    })
}

/// The first line of `path`, trimmed.
fn read_secret(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the cluster secret from {}: {e}",
            path.display()
        )
    })?;
    let secret = text.lines().next().unwrap_or("").trim();
    if secret.is_empty() {
        return Err(format!("{} holds no cluster secret", path.display()));
    }
    Ok(secret.to_owned())
}

/// What a node bound to other hosts without credentials refuses, said once at start.
fn warn_if_exposed(config: &ServerConfig) {
    if rill_server::is_local_address(config.bind) {
        return;
    }
    if config.requirepass.is_none() {
        tracing::warn!(
            bind = %config.bind,
            "no --requirepass: clients from other hosts are refused on both ports (protected mode)"
        );
    }
    if config.cluster_secret.is_none() {
        tracing::warn!(
            bind = %config.bind,
            "no --cluster-secret: node-to-node calls from other hosts are refused"
        );
    }
}

/// Worker threads at most: far more than cores on any machine we know of.
const WORKER_THREADS_MAX: usize = 1024;

/// What `main` starts: the node, and the runtime it runs on.
struct Launch {
    config: ServerConfig,
    /// The runtime's worker threads; `None`: tokio's default, one per core.
    worker_threads: Option<usize>,
}

fn load(args: Args) -> Result<Launch, String> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            toml::from_str::<File>(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => File::default(),
    };
    let dir = args
        .dir
        .or(file.dir)
        .unwrap_or_else(|| PathBuf::from("rill-data"));
    let mut config = ServerConfig::new(dir);
    if let Some(id) = args.node_id.or(file.node_id) {
        config.node_id = id;
    }
    if let Some(bind) = args.bind.or(file.bind) {
        config.bind = bind;
    }
    if let Some(port) = args.port.or(file.port) {
        config.port = port;
    }
    if let Some(port) = args.grpc_port.or(file.grpc_port) {
        config.grpc_port = port;
    }
    config.members = if args.members.is_empty() {
        file.members
    } else {
        args.members
            .iter()
            .map(|m| parse_member(m))
            .collect::<Result<_, _>>()?
    };
    config.join_via = args.join_via.or(file.join_via);
    config.join = args.join || file.join || config.join_via.is_some();
    config.advertise_host = args.advertise_host.or(file.advertise_host);
    config.fsync = !args.no_fsync && file.fsync.unwrap_or(true);
    if let Some(mib) = args.cache_mib.or(file.cache_mib) {
        let min_mib = rill_storage::DbOptions::CACHE_BYTES_MIN >> 20;
        if !(min_mib..=1 << 20).contains(&mib) {
            return Err(format!("--cache-mib {mib}: expected {min_mib} to 1048576"));
        }
        config.cache_bytes = mib << 20;
    }
    config.forward = !args.no_forward && file.forward.unwrap_or(true);
    config.cluster_redirects = args.cluster_redirects || file.cluster_redirects;
    config.requirepass = args
        .requirepass
        .or(file.requirepass)
        .filter(|p| !p.is_empty());
    config.admin_password = args
        .admin_password
        .or(file.admin_password)
        .filter(|p| !p.is_empty());
    config.cluster_secret = match (args.cluster_secret, args.cluster_secret_file) {
        (Some(secret), _) => Some(secret),
        (None, Some(path)) => Some(read_secret(&path)?),
        (None, None) => match (file.cluster_secret, file.cluster_secret_file) {
            (Some(_), Some(_)) => {
                return Err("cluster_secret and cluster_secret_file: give one".to_owned())
            }
            (Some(secret), None) => Some(secret),
            (None, Some(path)) => Some(read_secret(&path)?),
            (None, None) => None,
        },
    };
    for (name, secret) in [
        ("requirepass", &config.requirepass),
        ("admin password", &config.admin_password),
        ("cluster secret", &config.cluster_secret),
    ] {
        // Each travels in an HTTP/2 header over gRPC.
        if secret
            .as_deref()
            .is_some_and(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(format!("the {name} must be printable ASCII without spaces"));
        }
    }
    config.tls = match (
        args.tls_cert_file.or(file.tls_cert_file),
        args.tls_key_file.or(file.tls_key_file),
        args.tls_ca_cert_file.or(file.tls_ca_cert_file),
    ) {
        (None, None, None) => None,
        (Some(cert), Some(key), Some(ca)) => Some(rill_server::TlsFiles { cert, key, ca }),
        _ => {
            return Err(
                "TLS needs --tls-cert-file, --tls-key-file and --tls-ca-cert-file together"
                    .to_owned(),
            )
        }
    };
    let raft = &mut config.raft;
    if let Some(ms) = args.heartbeat_ms.or(file.heartbeat_ms) {
        raft.heartbeat_ms = ms;
    }
    if let Some(ms) = args
        .election_timeout_ms_min
        .or(file.election_timeout_ms_min)
    {
        raft.election_timeout_ms_min = ms;
    }
    if let Some(ms) = args
        .election_timeout_ms_max
        .or(file.election_timeout_ms_max)
    {
        raft.election_timeout_ms_max = ms;
    }
    if let Some(ms) = args.read_lease_ms.or(file.read_lease_ms) {
        raft.read_lease_ms = Some(ms);
    }
    if let Some(entries) = args.snapshot_entries.or(file.snapshot_entries) {
        raft.snapshot_entries_since_last = entries;
    }
    raft.to_openraft().map_err(|e| e.to_string())?;
    if let Some(max) = args.connections_max.or(file.connections_max) {
        if max == 0 {
            return Err("connections_max must be positive".to_owned());
        }
        config.limits.connections_max = max;
    }
    if let Some(max) = args.proposals_in_flight.or(file.proposals_in_flight) {
        if max == 0 || max > rill_raft::PROPOSALS_IN_FLIGHT_MAX {
            return Err(format!(
                "proposals_in_flight must be between 1 and {}",
                rill_raft::PROPOSALS_IN_FLIGHT_MAX
            ));
        }
        config.proposer.proposals_in_flight_max = max;
    }
    if let Some(micros) = args.gather_wait_us.or(file.gather_wait_us) {
        if micros > 1_000_000 {
            return Err("gather_wait_us must be at most 1000000 (one second)".to_owned());
        }
        config.proposer.gather_wait_max = std::time::Duration::from_micros(micros);
    }
    let worker_threads = args.worker_threads.or(file.worker_threads);
    if let Some(threads) = worker_threads {
        if !(1..=WORKER_THREADS_MAX).contains(&threads) {
            return Err(format!(
                "worker_threads must be between 1 and {WORKER_THREADS_MAX}"
            ));
        }
    }
    Ok(Launch {
        config,
        worker_threads,
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Launch {
        config,
        worker_threads,
    } = match load(Args::parse()) {
        Ok(launch) => launch,
        Err(message) => {
            eprintln!("rill-server: {message}");
            return ExitCode::from(2);
        }
    };
    warn_if_exposed(&config);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = worker_threads {
        builder.worker_threads(threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

/// The exit code when the store refuses to open after an fsync failed during this boot.
const EXIT_FSYNC_FAILED_THIS_BOOT: u8 = 3;

async fn serve(config: ServerConfig) -> ExitCode {
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("cannot install signal handlers: {error}");
            return ExitCode::FAILURE;
        }
    };
    let handle = match Server::start(config).await {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("rill-server: {error}");
            // Its own code, so a supervisor need not restart into the same refusal
            // (deploy/systemd/rill.service: RestartPreventExitStatus).
            if let rill_server::ServerError::Storage(
                rill_storage::StorageError::FsyncFailedThisBoot { .. },
            ) = error
            {
                return ExitCode::from(EXIT_FSYNC_FAILED_THIS_BOOT);
            }
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", handle.addr());
    println!("grpc on {}", handle.grpc_addr());
    let code = tokio::select! {
        _ = interrupt.recv() => {
            tracing::info!("SIGINT: stopping");
            ExitCode::SUCCESS
        }
        _ = terminate.recv() => {
            tracing::info!("SIGTERM: stopping");
            ExitCode::SUCCESS
        }
        why = handle.failed() => {
            // After a failed fsync the process must not go on (what reached the disk is
            // unknown); the store left a marker that refuses a restart until a reboot. Any
            // other stop, a supervisor restarts from the log.
            tracing::error!(%why, "the Raft core stopped: exiting");
            eprintln!("rill-server: the Raft core stopped: {why}");
            ExitCode::FAILURE
        }
    };
    handle.shutdown().await;
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(args: &[&str]) -> Result<Launch, String> {
        let mut argv = vec!["rill-server"];
        argv.extend_from_slice(args);
        let args = Args::try_parse_from(argv).map_err(|e| e.to_string())?;
        load(args)
    }

    fn parse(args: &[&str]) -> Result<ServerConfig, String> {
        launch(args).map(|launch| launch.config)
    }

    #[test]
    fn flags() {
        let config = parse(&[
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--grpc-port",
            "7001",
            "--node-id",
            "2",
            "--dir",
            "/tmp/x",
            "--no-fsync",
            "--member",
            "1=127.0.0.1:7000/127.0.0.1:6000",
            "--member",
            "2=127.0.0.1:7001/127.0.0.1:6001",
        ])
        .expect("valid");
        assert_eq!(config.bind.to_string(), "0.0.0.0");
        assert_eq!(
            (config.port, config.grpc_port, config.node_id),
            (0, 7001, 2)
        );
        assert_eq!(config.dir, PathBuf::from("/tmp/x"));
        assert!(!config.fsync);
        assert_eq!(config.members.len(), 2);
        assert_eq!(config.members[1].redis, "127.0.0.1:6001");
        let defaults = parse(&[]).expect("valid");
        assert_eq!(
            (defaults.port, defaults.fsync, defaults.forward),
            (6379, true, true)
        );
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--color"]).is_err());
        assert!(parse(&["--member", "1=nope"]).is_err());
        assert!(
            parse(&["--heartbeat-ms", "900"]).is_err(),
            "heartbeat over half the election timeout"
        );
        assert!(
            parse(&["--read-lease-ms", "300"]).is_err(),
            "a read lease as long as a follower's"
        );
        assert!(parse(&["--proposals-in-flight", "0"]).is_err());
        assert!(parse(&["--proposals-in-flight", "1024"]).is_ok());
        assert!(
            parse(&["--proposals-in-flight", "1025"]).is_err(),
            "more in flight than the log flusher queues"
        );
        let threads = |args: &[&str]| launch(args).map(|launch| launch.worker_threads);
        assert_eq!(threads(&[]), Ok(None), "tokio's default: one per core");
        assert_eq!(threads(&["--worker-threads", "1"]), Ok(Some(1)));
        assert!(threads(&["--worker-threads", "0"]).is_err());
        assert!(threads(&["--worker-threads", "1025"]).is_err());
    }

    #[test]
    fn file_then_flags() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            r#"
node_id = 3
port = 6003
grpc_port = 7003
dir = "/var/lib/rill"
fsync = false
heartbeat_ms = 50
election_timeout_ms_min = 300
election_timeout_ms_max = 600
read_lease_ms = 350
worker_threads = 2

[[members]]
id = 3
grpc = "10.0.0.3:7003"
redis = "10.0.0.3:6003"
"#,
        )
        .expect("write");
        let file = path.to_str().expect("utf-8 path");
        let launched = launch(&["--config", file]).expect("valid");
        assert_eq!(launched.worker_threads, Some(2));
        let config = launched.config;
        assert_eq!(
            (config.node_id, config.port, config.grpc_port),
            (3, 6003, 7003)
        );
        assert!(!config.fsync);
        assert_eq!(config.raft.heartbeat_ms, 50);
        assert_eq!(config.raft.read_lease_ms(), 350);
        assert_eq!(config.members[0].grpc, "10.0.0.3:7003");
        let config = parse(&["--config", file, "--port", "6100"]).expect("valid");
        assert_eq!(config.port, 6100, "a flag beats the file");
        let threads = launch(&["--config", file, "--worker-threads", "1"]).expect("valid");
        assert_eq!(threads.worker_threads, Some(1), "a flag beats the file");
        std::fs::write(&path, "node_idd = 3\n").expect("write");
        let error = parse(&["--config", file]).expect_err("unknown key");
        assert!(error.contains("node_idd"), "{error}");
    }
}
