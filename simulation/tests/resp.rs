//! The Redis protocol through turmoil's TCP: three nodes booted from public pieces
//! (`rill_server::Server::start_on` with `rill_sim::net`'s listeners), and `rill_sim::resp`
//! pipelines sent to a follower, which forwards them to the leader.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rill_core::Reply;
use rill_raft::StorageIo;
use rill_server::{Member, NodeOptions, RaftConfig, Server, ServerConfig};
use rill_sim::net::{self, GRPC_PORT, REDIS_PORT};
use rill_sim::resp::{pipeline, RespError};
use rill_storage::{Db, DbOptions};

const NODES: u64 = 3;
const TIMEOUT: Duration = Duration::from_secs(2);

fn host(id: u64) -> String {
    format!("n{id}")
}

fn redis_addr(id: u64) -> String {
    format!("{}:{REDIS_PORT}", host(id))
}

fn argv(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

async fn boot(id: u64, dir: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let options = DbOptions {
        sync: false,
        ..DbOptions::default()
    };
    let db = Arc::new(Db::open(&dir, &options)?);
    // Node 1's election timeout is the shortest: it is most likely the leader, not certain.
    let election_ms = 200 + 100 * id;
    let config = ServerConfig {
        node_id: id,
        members: (1..=NODES)
            .map(|id| Member {
                id,
                grpc: format!("{}:{GRPC_PORT}", host(id)),
                redis: redis_addr(id),
            })
            .collect(),
        advertise_host: Some(host(id)),
        raft: RaftConfig {
            heartbeat_ms: 50,
            election_timeout_ms_min: election_ms,
            election_timeout_ms_max: election_ms + 1,
            ..RaftConfig::default()
        },
        ..ServerConfig::new(dir)
    };
    let options = NodeOptions {
        storage_io: StorageIo::Inline,
        ..NodeOptions::default()
    };
    let ip = turmoil::lookup(host(id));
    let grpc = turmoil::net::TcpListener::bind(("0.0.0.0", GRPC_PORT)).await?;
    let redis = turmoil::net::TcpListener::bind(("0.0.0.0", REDIS_PORT)).await?;
    let server = Server::start_on(
        config,
        db,
        net::incoming(grpc),
        SocketAddr::new(ip, GRPC_PORT),
        Some((net::redis_incoming(redis), SocketAddr::new(ip, REDIS_PORT))),
        net::dial(),
        options,
    )
    .await?;
    std::future::pending::<()>().await;
    drop(server);
    Ok(())
}

/// The node's role, as ROLE answers it: `"master"` or `"slave"`.
async fn role(id: u64) -> Option<Vec<Reply>> {
    match pipeline(&redis_addr(id), &[argv(&["ROLE"])], TIMEOUT).await {
        Ok(mut replies) => match replies.pop() {
            Some(Reply::Array(role)) => Some(role),
            _ => None,
        },
        Err(_) => None,
    }
}

#[test]
fn pipelines_over_resp_reach_the_leader_through_a_follower() -> turmoil::Result {
    let root = tempfile::tempdir()?;
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .simulation_duration(Duration::from_secs(120))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .build();
    for id in 1..=NODES {
        let dir = root.path().join(host(id));
        sim.host(host(id), move || boot(id, dir.clone()));
    }
    sim.client("client", async {
        // Until the cluster has a leader that takes a write.
        let mut first_id = None;
        for _ in 0..100 {
            let write = [argv(&["XADD", "s", "*", "n", "0"])];
            if let Ok(replies) = pipeline(&redis_addr(1), &write, TIMEOUT).await {
                if let [Reply::Bulk(id)] = replies.as_slice() {
                    first_id = Some(id.clone());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let first_id = first_id.expect("a write succeeds once a leader is elected");

        let mut follower = None;
        let mut leader = None;
        for id in 1..=NODES {
            match role(id).await.as_deref() {
                Some([Reply::Bulk(role), rest @ ..]) if role == b"slave" => {
                    // The leader's Redis address, as the members advertise it.
                    assert!(
                        matches!(rest, [_, Reply::Int(port), ..] if *port == i64::from(REDIS_PORT)),
                        "a follower names the leader's Redis port: {rest:?}"
                    );
                    follower = Some(id);
                }
                Some([Reply::Bulk(role), ..]) if role == b"master" => leader = Some(id),
                other => panic!("ROLE on n{id}: {other:?}"),
            }
        }
        let (follower, leader) = (
            follower.expect("a follower"),
            leader.expect("a leader"),
        );

        // A pipeline of writes, reads and errors to the follower, answered in order.
        let commands = [
            argv(&["XADD", "s", "*", "f", "a"]),
            argv(&["XADD", "s", "*", "f", "b"]),
            argv(&["XLEN", "s"]),
            argv(&["XRANGE", "s", "-", "+", "COUNT", "1"]),
            argv(&["XADD", "s"]),
            argv(&["XREAD", "COUNT", "1", "STREAMS", "nosuch", "0"]),
            argv(&["PING"]),
        ];
        let replies = pipeline(&redis_addr(follower), &commands, TIMEOUT)
            .await
            .expect("the follower answers");
        assert_eq!(replies.len(), commands.len(), "{replies:?}");
        let ids: Vec<Vec<u8>> = replies[..2]
            .iter()
            .map(|reply| match reply {
                Reply::Bulk(id) => id.clone(),
                other => panic!("XADD answers an ID: {other:?}"),
            })
            .collect();
        assert_eq!(replies[2], Reply::Int(3));
        assert_eq!(
            replies[3],
            Reply::Array(vec![Reply::Array(vec![
                Reply::Bulk(first_id.clone()),
                Reply::Array(vec![Reply::text("n"), Reply::text("0")]),
            ])])
        );
        assert!(
            matches!(&replies[4], Reply::Error(text) if text.starts_with("ERR wrong number of arguments")),
            "{:?}",
            replies[4]
        );
        assert_eq!(replies[5], Reply::NilArray);
        assert_eq!(replies[6], Reply::Status("PONG".to_owned()));

        // The leader has them.
        let replies = pipeline(&redis_addr(leader), &[argv(&["XRANGE", "s", "-", "+"])], TIMEOUT)
            .await
            .expect("the leader answers");
        let Some(Reply::Array(entries)) = replies.first() else {
            panic!("XRANGE answers an array: {replies:?}");
        };
        let on_leader: Vec<&Reply> = entries
            .iter()
            .map(|entry| match entry {
                Reply::Array(pair) => &pair[0],
                other => panic!("an entry is [id, fields]: {other:?}"),
            })
            .collect();
        let expected = [first_id, ids[0].clone(), ids[1].clone()].map(Reply::Bulk);
        assert_eq!(on_leader, expected.iter().collect::<Vec<_>>());

        // RESP3 after HELLO 3, in the same pipeline.
        let commands = [
            argv(&["HELLO", "3"]),
            argv(&["XREAD", "COUNT", "1", "STREAMS", "nosuch", "0"]),
        ];
        let replies = pipeline(&redis_addr(follower), &commands, TIMEOUT)
            .await
            .expect("the follower answers");
        assert!(matches!(replies[0], Reply::Map(_)), "{:?}", replies[0]);
        assert_eq!(replies[1], Reply::Nil, "RESP3's null");

        // Sent, and the reply never comes in time: maybe applied, with the replies that came.
        let commands = [
            argv(&["PING"]),
            argv(&["XREAD", "BLOCK", "10000", "STREAMS", "s", "$"]),
        ];
        let lost = pipeline(&redis_addr(follower), &commands, Duration::from_millis(500)).await;
        match lost {
            Err(error @ RespError::Lost { .. }) => {
                assert!(error.maybe_applied());
                let RespError::Lost { replies, .. } = error else {
                    unreachable!()
                };
                assert_eq!(replies, vec![Reply::Status("PONG".to_owned())]);
            }
            other => panic!("a blocked read outlasts the timeout: {other:?}"),
        }

        // Nothing listens there: nothing was sent.
        let refused = pipeline(&format!("{}:1", host(1)), &[argv(&["PING"])], TIMEOUT).await;
        match refused {
            Err(error @ RespError::NotSent(_)) => assert!(!error.maybe_applied()),
            other => panic!("no listener: {other:?}"),
        }
        // Nor for an empty command, which the server would not answer.
        let empty = pipeline(&redis_addr(follower), &[vec![]], TIMEOUT).await;
        assert!(matches!(empty, Err(RespError::NotSent(_))), "{empty:?}");
        Ok(())
    });
    sim.run()
}
