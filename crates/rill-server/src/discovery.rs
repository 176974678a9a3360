//! Leader discovery the way Redis clients already do it: the part of the Sentinel protocol that
//! clients use, and `CLUSTER SLOTS|SHARDS|NODES` describing one shard that owns every slot with
//! the leader as its master. Every node answers from its own view of the cluster.
//!
//! While an election runs (the leader has been silent for an election timeout, or no leader is
//! known), a node names a live node as the master, which holds a client's commands until a
//! leader is elected and then forwards them (`Shared::route`). Naming the silent leader would
//! send clients to a dead address, which redis-py answers by backing off for seconds.
//!
//! A Sentinel client asks the sentinels of its list in order, and a dead one costs redis-py 3
//! to 5 s of retries before it asks the next. Every Rill node is a sentinel, the leader too, so
//! the leader's death takes a sentinel with it. Two rules keep a client's first sentinel alive
//! through that death:
//! - The leader does not vouch for itself: `SENTINEL MASTERS` on the leader flags it `s_down`,
//!   so the client asks the next sentinel, a follower, and keeps that one first. (Asked again on
//!   the same connection within `DISOWN_GRACE`, it answers plainly: a client that lists only
//!   the leader retries and then finds it.)
//! - During an election a follower names another live member, not itself: a client that then
//!   connects there is not connected to its first sentinel, so when either of the two becomes
//!   the leader and dies, the other still answers.
//!
//! The Sentinel "master name" is the cluster name (`raft.cluster_name`, default `rill`):
//! `Sentinel([...]).master_for("rill")` in redis-py.

use std::time::Duration;

use rill_core::reply::errors;
use rill_core::Reply;
use rill_raft::{Peer, Role, Status};
use tokio::time::Instant;

/// Redis Cluster's slot count.
pub const SLOTS: u16 = 16384;

/// `host:port` as host and port (0 when unparsable).
pub(crate) fn split(addr: &str) -> (&str, i64) {
    match addr.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().unwrap_or(0)),
        None => (addr, 0),
    }
}

fn bulk(text: impl AsRef<[u8]>) -> Reply {
    Reply::bulk(text)
}

fn pairs(fields: Vec<(&str, String)>) -> Reply {
    Reply::Map(
        fields
            .into_iter()
            .map(|(k, v)| (bulk(k), bulk(v)))
            .collect(),
    )
}

/// A 40-character run id per node, stable for its id (clients compare them, nothing more).
fn run_id(id: u64) -> String {
    format!("{id:040x}")
}

/// The node clients should send commands to, as this node sees it: the leader, or this node
/// while the leader is silent or unknown. `None` on a node that is not a member.
pub(crate) fn serving(status: &Status) -> Option<(u64, Peer)> {
    match &status.leader {
        Some(leader) if !status.leader_silent => Some(leader.clone()),
        _ => status
            .members
            .iter()
            .find(|(id, ..)| *id == status.id)
            .map(|(id, peer, _)| (*id, peer.clone())),
    }
}

/// How long after a leader's `s_down` answer the same connection is answered plainly.
const DISOWN_GRACE: Duration = Duration::from_secs(2);

/// The master a Sentinel client is told of: the leader, or during an election another member
/// than this node and the leader that went silent (the lowest id), else this node.
fn sentinel_master(status: &Status) -> Option<(u64, Peer)> {
    match &status.leader {
        Some(leader) if !status.leader_silent => Some(leader.clone()),
        silent => {
            let gone = |id: &u64| {
                silent.as_ref().is_some_and(|(leader, _)| leader == id)
                    || status.last_leader == Some(*id)
            };
            status
                .members
                .iter()
                .find(|(id, ..)| *id != status.id && !gone(id))
                .map(|(id, peer, _)| (*id, peer.clone()))
                .or_else(|| serving(status))
        }
    }
}

/// `SENTINEL <subcommand> ...`. `disowned_at`: this connection's last `s_down` answer.
pub fn sentinel(
    args: &[Vec<u8>],
    status: Option<Status>,
    name: &str,
    disowned_at: &mut Option<Instant>,
) -> Reply {
    let sub = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let Some(status) = status else {
        return Reply::err("ERR no cluster status");
    };
    let named = |args: &[Vec<u8>]| args.get(1).is_some_and(|given| given == name.as_bytes());
    let serving = sentinel_master(&status);
    // The leader vouches not for itself while it has followers (module docs).
    let now = Instant::now();
    let recently = disowned_at.is_some_and(|at| now.duration_since(at) < DISOWN_GRACE);
    let disown = status.role == Role::Leader && status.members.len() > 1 && !recently;
    let mut master = || {
        if disown && matches!(sub.as_str(), "MASTERS" | "MASTER") {
            *disowned_at = Some(now);
        }
        master(&status, serving.as_ref(), name, disown)
    };
    match sub.as_str() {
        "MASTERS" => Reply::Array(master().into_iter().collect()),
        "MASTER" if args.len() == 2 => match named(args).then(master).flatten() {
            Some(master) => master,
            None => Reply::err("ERR No such master with that name"),
        },
        "GET-MASTER-ADDR-BY-NAME" if args.len() == 2 => {
            let leader = serving.as_ref().filter(|_| named(args));
            match leader {
                Some((_, peer)) => {
                    let (host, port) = split(&peer.client_addr);
                    Reply::Array(vec![bulk(host), bulk(port.to_string())])
                }
                None => Reply::NilArray,
            }
        }
        "SLAVES" | "REPLICAS" if args.len() == 2 => {
            if !named(args) {
                return Reply::err("ERR No such master with that name");
            }
            Reply::Array(replicas(&status, serving.as_ref()))
        }
        "SENTINELS" if args.len() == 2 => {
            if !named(args) {
                return Reply::err("ERR No such master with that name");
            }
            let sentinels = status
                .members
                .iter()
                .filter(|(id, ..)| *id != status.id)
                .map(|(id, peer, _)| {
                    let (host, port) = split(&peer.client_addr);
                    pairs(vec![
                        ("name", run_id(*id)),
                        ("ip", host.to_owned()),
                        ("port", port.to_string()),
                        ("runid", run_id(*id)),
                        ("flags", "sentinel".to_owned()),
                    ])
                })
                .collect();
            Reply::Array(sentinels)
        }
        "MYID" if args.len() == 1 => bulk(run_id(status.id)),
        "MASTER" | "GET-MASTER-ADDR-BY-NAME" | "SLAVES" | "REPLICAS" | "SENTINELS" | "MYID" => {
            Reply::err(format!(
                "ERR wrong number of arguments for 'sentinel|{}' command",
                sub.to_ascii_lowercase()
            ))
        }
        _ => Reply::err(errors::unknown_subcommand(&args[0], "SENTINEL")),
    }
}

/// The serving node as Sentinel describes a master; `None` on a node that is not a member.
/// `disown`: flagged `s_down` (subjectively down, as this sentinel sees it).
fn master(
    status: &Status,
    serving: Option<&(u64, Peer)>,
    name: &str,
    disown: bool,
) -> Option<Reply> {
    let (leader_id, peer) = serving?;
    let flags = if disown { "master,s_down" } else { "master" };
    let (host, port) = split(&peer.client_addr);
    let others = status.members.len().saturating_sub(1);
    let voters = status.members.iter().filter(|(.., voter)| *voter).count();
    Some(pairs(vec![
        ("name", name.to_owned()),
        ("ip", host.to_owned()),
        ("port", port.to_string()),
        ("runid", run_id(*leader_id)),
        ("flags", flags.to_owned()),
        ("link-pending-commands", "0".to_owned()),
        ("link-refcount", "1".to_owned()),
        ("last-ping-sent", "0".to_owned()),
        ("last-ok-ping-reply", "0".to_owned()),
        ("last-ping-reply", "0".to_owned()),
        ("down-after-milliseconds", "1000".to_owned()),
        ("info-refresh", "0".to_owned()),
        ("role-reported", "master".to_owned()),
        ("role-reported-time", "0".to_owned()),
        ("config-epoch", status.term.to_string()),
        ("num-slaves", others.to_string()),
        ("num-other-sentinels", others.to_string()),
        ("quorum", (voters / 2 + 1).to_string()),
        ("failover-timeout", "1000".to_owned()),
        ("parallel-syncs", "1".to_owned()),
    ]))
}

fn replicas(status: &Status, serving: Option<&(u64, Peer)>) -> Vec<Reply> {
    let leader = serving;
    let (master_host, master_port) = leader.map_or(("", 0), |(_, peer)| split(&peer.client_addr));
    status
        .members
        .iter()
        .filter(|(id, ..)| leader.is_none_or(|(leader_id, _)| id != leader_id))
        .map(|(id, peer, _)| {
            let (host, port) = split(&peer.client_addr);
            pairs(vec![
                ("name", peer.client_addr.clone()),
                ("ip", host.to_owned()),
                ("port", port.to_string()),
                ("runid", run_id(*id)),
                ("flags", "slave".to_owned()),
                ("master-link-status", "ok".to_owned()),
                ("master-host", master_host.to_owned()),
                ("master-port", master_port.to_string()),
                ("slave-repl-offset", status.matched_index(*id).to_string()),
            ])
        })
        .collect()
}

/// `CLUSTER <subcommand>`: one shard, every slot, the leader as master.
pub fn cluster(args: &[Vec<u8>], status: Option<Status>) -> Reply {
    let sub = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
    let Some(status) = status else {
        return Reply::err("ERR no cluster status");
    };
    let leader = serving(&status);
    let node_entry = |id: u64, addr: &str| {
        let (host, port) = split(addr);
        Reply::Array(vec![bulk(host), Reply::Int(port), bulk(run_id(id))])
    };
    let followers: Vec<_> = status
        .members
        .iter()
        .filter(|(id, ..)| leader.as_ref().is_none_or(|(leader_id, _)| id != leader_id))
        .cloned()
        .collect();
    match sub.as_str() {
        "SLOTS" => {
            let Some((leader_id, peer)) = &leader else {
                return Reply::err("CLUSTERDOWN this node is not a member of a cluster yet");
            };
            let mut slot = vec![Reply::Int(0), Reply::Int(i64::from(SLOTS - 1))];
            slot.push(node_entry(*leader_id, &peer.client_addr));
            for (id, peer, _) in &followers {
                slot.push(node_entry(*id, &peer.client_addr));
            }
            Reply::Array(vec![Reply::Array(slot)])
        }
        "SHARDS" => {
            let node = |id: u64, addr: &str, role: &str| {
                let (host, port) = split(addr);
                pairs(vec![
                    ("id", run_id(id)),
                    ("port", port.to_string()),
                    ("ip", host.to_owned()),
                    ("endpoint", host.to_owned()),
                    ("role", role.to_owned()),
                    ("replication-offset", status.applied_index.to_string()),
                    ("health", "online".to_owned()),
                ])
            };
            let mut nodes = Vec::new();
            if let Some((id, peer)) = &leader {
                nodes.push(node(*id, &peer.client_addr, "master"));
            }
            for (id, peer, _) in &followers {
                nodes.push(node(*id, &peer.client_addr, "replica"));
            }
            Reply::Array(vec![Reply::Map(vec![
                (
                    bulk("slots"),
                    Reply::Array(vec![Reply::Int(0), Reply::Int(i64::from(SLOTS - 1))]),
                ),
                (bulk("nodes"), Reply::Array(nodes)),
            ])])
        }
        "NODES" => {
            let mut text = String::new();
            let leader_id = leader.as_ref().map(|(id, _)| *id);
            for (id, peer, _) in &status.members {
                let myself = if *id == status.id { "myself," } else { "" };
                let (role, master, slots) = if Some(*id) == leader_id {
                    ("master", "-".to_owned(), format!(" 0-{}", SLOTS - 1))
                } else {
                    (
                        "slave",
                        leader_id.map_or("-".to_owned(), run_id),
                        String::new(),
                    )
                };
                let (host, port) = split(&peer.client_addr);
                text.push_str(&format!(
                    "{} {host}:{port}@{} {myself}{role} {master} 0 0 {} connected{slots}\n",
                    run_id(*id),
                    split(&peer.raft_addr).1,
                    status.term
                ));
            }
            Reply::Bulk(text.into_bytes())
        }
        "INFO" => {
            let state = if leader.is_some() { "ok" } else { "fail" };
            let text = format!(
                "cluster_enabled:1\r\ncluster_state:{state}\r\ncluster_slots_assigned:{SLOTS}\r\n\
                 cluster_slots_ok:{SLOTS}\r\ncluster_known_nodes:{}\r\ncluster_size:1\r\n\
                 cluster_current_epoch:{}\r\n",
                status.members.len(),
                status.term
            );
            Reply::Bulk(text.into_bytes())
        }
        "MYID" => bulk(run_id(status.id)),
        "KEYSLOT" if args.len() == 2 => Reply::Int(i64::from(key_slot(&args[1]))),
        _ => Reply::err(errors::unknown_subcommand(&args[0], "CLUSTER")),
    }
}

/// `-MOVED <slot> <leader>` for a command on `key`, sent by a follower.
pub fn moved(key: &[u8], leader_client_addr: &str) -> Reply {
    Reply::err(format!("MOVED {} {leader_client_addr}", key_slot(key)))
}

/// Redis Cluster's slot of a key: CRC16 (XMODEM) of the key, or of its `{hash tag}` when one is
/// present and not empty, modulo 16384.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from Redis's `CLUSTER KEYSLOT` (and the cluster spec's test vector).
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"somekey"), 11058);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(
            key_slot(b"foo{}{bar}"),
            key_slot(b"foo{}{bar}"),
            "empty tag: whole key"
        );
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
    }

    fn peer(id: u64) -> Peer {
        Peer {
            raft_addr: format!("127.0.0.1:{}", 7000 + id),
            client_addr: format!("127.0.0.1:{}", 6000 + id),
            incarnation: id,
        }
    }

    /// Node `me` of three, in `role`, knowing `leader` (silent or not).
    fn status(me: u64, role: Role, leader: Option<u64>, leader_silent: bool) -> Status {
        Status {
            id: me,
            role,
            leader: leader.map(|id| (id, peer(id))),
            leader_silent,
            last_leader: leader,
            term: 2,
            members: (1..=3).map(|id| (id, peer(id), true)).collect(),
            last_log_index: 0,
            applied_index: 0,
            snapshot_index: 0,
            purged_index: 0,
            replication_lag: Default::default(),
            applied_commands: 0,
            synced_writes: 0,
            lease_reads: 0,
            quorum_reads: 0,
        }
    }

    /// `SENTINEL MASTERS` as redis-py reads it: the master's port and flags.
    fn masters(status: &Status, disowned_at: &mut Option<Instant>) -> (String, String) {
        let args = [b"MASTERS".to_vec()];
        let Reply::Array(masters) = sentinel(&args, Some(status.clone()), "rill", disowned_at)
        else {
            panic!("an array");
        };
        let Some(Reply::Map(fields)) = masters.first() else {
            panic!("one master: {masters:?}");
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == bulk(name))
                .map(|(_, v)| match v {
                    Reply::Bulk(v) => String::from_utf8_lossy(v).into_owned(),
                    other => panic!("{other:?}"),
                })
                .unwrap_or_default()
        };
        (field("port"), field("flags"))
    }

    #[test]
    fn a_leader_vouches_not_for_itself_unless_asked_again_soon() {
        let leader = status(1, Role::Leader, Some(1), false);
        let mut disowned_at = None;
        assert_eq!(
            masters(&leader, &mut disowned_at),
            ("6001".into(), "master,s_down".into())
        );
        // The same connection asking again (a client that lists only the leader) is answered.
        assert_eq!(
            masters(&leader, &mut disowned_at),
            ("6001".into(), "master".into())
        );
        disowned_at = disowned_at.and_then(|at| at.checked_sub(DISOWN_GRACE));
        assert_eq!(
            masters(&leader, &mut disowned_at),
            ("6001".into(), "master,s_down".into())
        );
        // A follower vouches for the leader; a leader alone vouches for itself.
        let follower = status(2, Role::Follower, Some(1), false);
        assert_eq!(
            masters(&follower, &mut None),
            ("6001".into(), "master".into())
        );
        let mut alone = leader.clone();
        alone.members.truncate(1);
        assert_eq!(masters(&alone, &mut None), ("6001".into(), "master".into()));
    }

    #[test]
    fn while_the_leader_is_silent_a_live_node_is_named() {
        // Sentinel: another member than this node and the silent leader.
        let silent = status(2, Role::Follower, Some(1), true);
        let mut none = None;
        assert_eq!(masters(&silent, &mut none).0, "6003");
        // No leader known (a candidate): not the one last heard from either.
        let mut candidate = status(3, Role::Candidate, None, false);
        candidate.last_leader = Some(1);
        assert_eq!(masters(&candidate, &mut none).0, "6002");
        // CLUSTER SLOTS: this node, never CLUSTERDOWN on a member.
        let slots = cluster(&[b"SLOTS".to_vec()], Some(silent));
        let Reply::Array(ranges) = slots else {
            panic!("{slots:?}")
        };
        let Reply::Array(range) = &ranges[0] else {
            panic!("{ranges:?}")
        };
        assert_eq!(
            range[2],
            Reply::Array(vec![bulk("127.0.0.1"), Reply::Int(6002), bulk(run_id(2))])
        );
    }
}
