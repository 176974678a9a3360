//! What the server says about itself: INFO, CONFIG GET, ROLE.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rill_core::reply::errors;
use rill_core::Reply;

use super::{lossy, wrong_sub_arity, ClientEntry, REDIS_COMPAT_VERSION};
use crate::blocking::Waiters;
use crate::config::ServerConfig;
use crate::discovery::split;

/// What the server reports about itself (INFO, CONFIG GET, HELLO).
pub struct ServerInfo {
    pub addr: SocketAddr,
    pub config: ServerConfig,
    pub started: Instant,
    pub connected_clients: AtomicUsize,
    /// What `CLIENT LIST` shows, by client id: kept up to date by connections and by the
    /// commands that name a client.
    pub clients: std::sync::Mutex<std::collections::BTreeMap<u64, ClientEntry>>,
    pub waiters: Arc<Waiters>,
    /// This node's view of the cluster (`None` in tests without a node).
    pub status: Box<dyn Fn() -> Option<rill_raft::Status> + Send + Sync>,
}

/// `CONFIG GET pattern [pattern ...]` over the few parameters clients ask about
/// (redis-benchmark reads `save` and `appendonly`). Patterns are globs, case-insensitive.
pub(super) fn config(args: &[Vec<u8>], info: &ServerInfo) -> Reply {
    let upper = lossy(&args[0]).to_ascii_uppercase();
    match upper.as_str() {
        "GET" if args.len() < 2 => wrong_sub_arity("config", "get"),
        "GET" => {
            let params = config_params(info);
            let patterns: Vec<Vec<u8>> = args[1..].iter().map(|p| p.to_ascii_lowercase()).collect();
            let pairs = params
                .into_iter()
                .filter(|(name, _)| {
                    patterns
                        .iter()
                        .any(|p| rill_core::glob::matches(p, name.as_bytes()))
                })
                .map(|(name, value)| (Reply::text(name), Reply::Bulk(value.into_bytes())))
                .collect();
            Reply::Map(pairs)
        }
        "SET" | "RESETSTAT" | "REWRITE" => {
            Reply::err(format!("ERR CONFIG {upper} is not supported"))
        }
        _ => Reply::err(errors::unknown_subcommand(&args[0], "CONFIG")),
    }
}

fn config_params(info: &ServerInfo) -> Vec<(&'static str, String)> {
    let config = &info.config;
    vec![
        // Every write is in RocksDB's log before its reply; there are no RDB snapshots.
        ("save", String::new()),
        ("appendonly", "yes".to_owned()),
        (
            "appendfsync",
            if config.fsync { "always" } else { "no" }.to_owned(),
        ),
        ("bind", info.addr.ip().to_string()),
        ("port", info.addr.port().to_string()),
        ("dir", config.dir.display().to_string()),
        ("databases", "1".to_owned()),
        ("maxclients", config.limits.connections_max.to_string()),
        (
            "proto-max-bulk-len",
            config.limits.bulk_bytes_max.to_string(),
        ),
        (
            "client-query-buffer-limit",
            config.limits.query_buffer_bytes_max.to_string(),
        ),
    ]
}

/// `INFO [section ...]`: the `server`, `clients` and `persistence` sections.
/// Whether `INFO args` asks for `section` (no arguments, `all`, `default` and `everything`
/// ask for every section).
pub(super) fn info_wants(args: &[Vec<u8>], section: &str) -> bool {
    args.is_empty()
        || args.iter().any(|a| {
            let a = lossy(a).to_ascii_lowercase();
            a == section || a == "all" || a == "default" || a == "everything"
        })
}

pub(super) fn info_text(args: &[Vec<u8>], info: &ServerInfo) -> String {
    let wanted = |section: &str| info_wants(args, section);
    let mut text = String::new();
    if wanted("server") {
        let uptime_s = info.started.elapsed().as_secs();
        text.push_str("# Server\r\n");
        text.push_str(&format!("redis_version:{REDIS_COMPAT_VERSION}\r\n"));
        text.push_str(&format!("rill_version:{}\r\n", env!("CARGO_PKG_VERSION")));
        text.push_str("redis_mode:standalone\r\n");
        text.push_str(&format!(
            "os:{} {}\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH
        ));
        text.push_str(&format!("arch_bits:{}\r\n", usize::BITS));
        text.push_str(&format!("process_id:{}\r\n", std::process::id()));
        text.push_str(&format!("tcp_port:{}\r\n", info.addr.port()));
        text.push_str(&format!("uptime_in_seconds:{uptime_s}\r\n"));
        text.push_str(&format!("uptime_in_days:{}\r\n", uptime_s / 86_400));
        text.push_str("\r\n");
    }
    if wanted("clients") {
        text.push_str("# Clients\r\n");
        text.push_str(&format!(
            "connected_clients:{}\r\n",
            info.connected_clients.load(Ordering::Relaxed)
        ));
        text.push_str(&format!(
            "maxclients:{}\r\n",
            info.config.limits.connections_max
        ));
        text.push_str(&format!("blocked_clients:{}\r\n", info.waiters.blocked()));
        text.push_str("\r\n");
    }
    let status = (info.status)();
    if wanted("persistence") {
        text.push_str("# Persistence\r\n");
        text.push_str("loading:0\r\n");
        text.push_str(&format!("rill_fsync:{}\r\n", u8::from(info.config.fsync)));
        if let Some(status) = &status {
            text.push_str(&format!("rill_applied_index:{}\r\n", status.applied_index));
            text.push_str(&format!(
                "rill_last_log_index:{}\r\n",
                status.last_log_index
            ));
            text.push_str(&format!(
                "rill_snapshot_index:{}\r\n",
                status.snapshot_index
            ));
            // Counters since the node started: commands per log entry and fsyncs per second
            // come from two readings (`scripts/bench-cluster.sh`).
            text.push_str(&format!(
                "rill_applied_commands:{}\r\n",
                status.applied_commands
            ));
            text.push_str(&format!("rill_synced_writes:{}\r\n", status.synced_writes));
            text.push_str(&format!("rill_lease_reads:{}\r\n", status.lease_reads));
            text.push_str(&format!("rill_quorum_reads:{}\r\n", status.quorum_reads));
        }
        text.push_str("\r\n");
    }
    if wanted("replication") {
        text.push_str("# Replication\r\n");
        if let Some(status) = &status {
            replication_text(status, &mut text);
        }
        text.push_str("\r\n");
    }
    text
}

/// `INFO replication` in Redis's shape: the leader is the master, the other members replicas.
fn replication_text(status: &rill_raft::Status, text: &mut String) {
    let leader = status.leader.as_ref();
    let is_leader = status.role == rill_raft::Role::Leader;
    text.push_str(if is_leader {
        "role:master\r\n"
    } else {
        "role:slave\r\n"
    });
    if is_leader {
        let replicas: Vec<_> = status
            .members
            .iter()
            .filter(|(id, ..)| *id != status.id)
            .collect();
        text.push_str(&format!("connected_slaves:{}\r\n", replicas.len()));
        for (n, (id, peer, _)) in replicas.into_iter().enumerate() {
            let (ip, port) = split(&peer.client_addr);
            let lag = status.replication_lag.get(id).copied().unwrap_or(0);
            let offset = status.matched_index(*id);
            let state = if status.replication_lag.contains_key(id) {
                "online"
            } else {
                "wait_bgsave"
            };
            text.push_str(&format!(
                "slave{n}:ip={ip},port={port},state={state},offset={offset},lag={lag}\r\n"
            ));
        }
    } else {
        let (host, port) = leader.map_or(("", 0), |(_, peer)| split(&peer.client_addr));
        text.push_str(&format!("master_host:{host}\r\n"));
        text.push_str(&format!("master_port:{port}\r\n"));
        let link = if leader.is_some() && !status.leader_silent {
            "up"
        } else {
            "down"
        };
        text.push_str(&format!("master_link_status:{link}\r\n"));
        text.push_str(&format!("slave_repl_offset:{}\r\n", status.applied_index));
        text.push_str("slave_read_only:1\r\n");
    }
    text.push_str(&format!("master_repl_offset:{}\r\n", status.applied_index));
    text.push_str(&format!("rill_node_id:{}\r\n", status.id));
    text.push_str(&format!("rill_role:{}\r\n", status.role.as_str()));
    text.push_str(&format!("rill_term:{}\r\n", status.term));
    let leader_id = leader.map_or(String::new(), |(id, _)| id.to_string());
    text.push_str(&format!("rill_leader_id:{leader_id}\r\n"));
}

/// `ROLE`: Redis's reply shape for a master (`master`, offset, replicas) or a replica
/// (`slave`, master host, master port, link state, offset).
pub(super) fn role(info: &ServerInfo) -> Reply {
    let Some(status) = (info.status)() else {
        return Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Int(0),
            Reply::Array(Vec::new()),
        ]);
    };
    let offset = i64::try_from(status.applied_index).unwrap_or(i64::MAX);
    if status.role == rill_raft::Role::Leader {
        let replicas = status
            .members
            .iter()
            .filter(|(id, ..)| *id != status.id)
            .map(|(id, peer, _)| {
                let (ip, port) = split(&peer.client_addr);
                Reply::Array(vec![
                    Reply::bulk(ip),
                    Reply::bulk(port.to_string()),
                    Reply::bulk(status.matched_index(*id).to_string()),
                ])
            })
            .collect();
        return Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Int(offset),
            Reply::Array(replicas),
        ]);
    }
    let (host, port, state) = match &status.leader {
        Some((_, peer)) => {
            let (host, port) = split(&peer.client_addr);
            (host.to_owned(), port, "connected")
        }
        None => (String::new(), 0, "connect"),
    };
    Reply::Array(vec![
        Reply::bulk("slave"),
        Reply::bulk(host),
        Reply::Int(port),
        Reply::bulk(state),
        Reply::Int(offset),
    ])
}
