//! Three-node clusters in this process, over real sockets: the Redis protocol and gRPC on
//! every node, Raft between them. Writes through any node, leader failover, a restarted node
//! catching up through the log and through a snapshot, a partitioned stale leader, and bad
//! input over gRPC.

use std::time::Duration;

use redis::AsyncCommands;
use rill_proto::v1::cluster_client::ClusterClient;
use rill_proto::v1::streams_client::StreamsClient;
use rill_proto::v1::{self as pb};
use rill_tests::{grpc_channel, within, RawClient, TestCluster};

async fn connect(addr: std::net::SocketAddr) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(format!("redis://{addr}/")).expect("client");
    within("redis connect", client.get_multiplexed_async_connection())
        .await
        .expect("connects")
}

async fn xlen(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> usize {
    within("XLEN", conn.xlen(key)).await.expect("XLEN")
}

/// XLEN served from the node's own state (`READONLY`), not forwarded.
async fn local_xlen(addr: std::net::SocketAddr, key: &str) -> usize {
    let mut raw = RawClient::connect(addr).await;
    assert_eq!(raw.call(&[b"READONLY"]).await, "+OK⏎");
    let reply = raw.call(&[b"XLEN", key.as_bytes()]).await;
    reply
        .trim_start_matches(':')
        .trim_end_matches('⏎')
        .parse()
        .unwrap_or_else(|_| panic!("XLEN answered {reply}"))
}

async fn add(conn: &mut redis::aio::MultiplexedConnection, key: &str, n: usize) -> String {
    within("XADD", conn.xadd(key, "*", &[("n", n.to_string())]))
        .await
        .expect("XADD acknowledged")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_any_node_land_on_all_three() {
    let cluster = TestCluster::start(3, |_| {}).await;
    let leader = cluster.wait_leader().await;
    for id in cluster.ids() {
        let mut conn = connect(cluster.handle(id).addr()).await;
        for n in 0..10 {
            add(&mut conn, "s", n).await;
        }
    }
    let (applied, _) = cluster.assert_converged().await;
    assert!(applied > 30, "30 writes and the membership entries");
    for id in cluster.ids() {
        let addr = cluster.handle(id).addr();
        assert_eq!(xlen(&mut connect(addr).await, "s").await, 30, "node {id}");
        assert_eq!(local_xlen(addr, "s").await, 30, "node {id}'s own state");
    }

    // A pipeline through a follower keeps its order, reads and writes mixed.
    let follower = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    let mut conn = connect(cluster.handle(follower).addr()).await;
    let (first, second, range): (String, String, Vec<Vec<String>>) = within(
        "pipeline",
        redis::pipe()
            .cmd("XADD")
            .arg("p")
            .arg("1-1")
            .arg("f")
            .arg("a")
            .cmd("XADD")
            .arg("p")
            .arg("2-1")
            .arg("f")
            .arg("b")
            .cmd("XRANGE")
            .arg("p")
            .arg("-")
            .arg("+")
            .query_async::<(String, String, redis::Value)>(&mut conn),
    )
    .await
    .map(|(a, b, range)| (a, b, ids_of(range)))
    .expect("pipeline");
    assert_eq!((first.as_str(), second.as_str()), ("1-1", "2-1"));
    assert_eq!(range, [vec!["1-1".to_owned()], vec!["2-1".to_owned()]]);
    // Redis's own errors come back through the forwarding unchanged.
    let error = within(
        "XADD",
        conn.xadd::<_, _, _, _, String>("p", "1-1", &[("f", "c")]),
    )
    .await
    .expect_err("an ID below the top");
    assert!(error.to_string().contains("equal or smaller"), "{error}");
    // INFO and ROLE tell who leads.
    let role: redis::Value = within("ROLE", redis::cmd("ROLE").query_async(&mut conn))
        .await
        .expect("ROLE");
    assert!(format!("{role:?}").contains("slave"), "{role:?}");
    let info: String = within(
        "INFO",
        redis::cmd("INFO").arg("replication").query_async(&mut conn),
    )
    .await
    .expect("INFO");
    let leader_addr = cluster.handle(leader).addr();
    assert!(info.contains("role:slave"), "{info}");
    assert!(
        info.contains(&format!("master_port:{}", leader_addr.port())),
        "{info}"
    );
    cluster.shutdown().await;
}

fn ids_of(range: redis::Value) -> Vec<Vec<String>> {
    let redis::Value::Array(entries) = range else {
        panic!("XRANGE answered {range:?}");
    };
    entries
        .into_iter()
        .map(|entry| match entry {
            redis::Value::Array(mut parts) => match parts.remove(0) {
                redis::Value::BulkString(id) => vec![String::from_utf8(id).expect("utf-8")],
                other => panic!("an ID: {other:?}"),
            },
            other => panic!("an entry: {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_failover_keeps_acknowledged_writes_and_the_old_leader_catches_up() {
    let mut cluster = TestCluster::start(3, |_| {}).await;
    let old = cluster.wait_leader().await;
    let mut conn = connect(cluster.handle(old).addr()).await;
    for n in 0..20 {
        add(&mut conn, "s", n).await;
    }
    drop(conn);
    cluster.stop(old).await;
    let new = cluster.wait_leader().await;
    assert_ne!(new, old);
    let survivor = cluster
        .running()
        .into_iter()
        .find(|&id| id != new)
        .expect("a survivor");
    // Through the follower that remains: forwarded to the new leader.
    let mut conn = connect(cluster.handle(survivor).addr()).await;
    for n in 20..40 {
        add(&mut conn, "s", n).await;
    }
    assert_eq!(
        xlen(&mut conn, "s").await,
        40,
        "every acknowledged write is there"
    );
    cluster.restart(old).await;
    cluster.assert_converged().await;
    assert_eq!(local_xlen(cluster.handle(old).addr(), "s").await, 40);
    let status = cluster.handle(old).status().expect("running");
    assert_ne!(status.role, rill_server::Role::Leader);
    assert_eq!(
        status.snapshot_index, 0,
        "caught up through the log, no snapshot"
    );
    cluster.shutdown().await;
}

/// The leader sends AppendEntries on one stream per follower, not a call each; a follower
/// that restarts gets a new stream, and nothing falls back to unary calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_go_on_one_stream_per_follower_which_a_restart_opens_again() {
    let mut cluster = TestCluster::start(3, |_| {}).await;
    let leader = cluster.wait_leader().await;
    let traffic = |cluster: &TestCluster| {
        cluster
            .handle(leader)
            .peer_traffic()
            .expect("the leader is running")
    };
    let before = traffic(&cluster);
    let mut conn = connect(cluster.handle(leader).addr()).await;
    for n in 0..50 {
        add(&mut conn, "s", n).await;
    }
    let after = traffic(&cluster);
    assert_eq!(after.appends_unary, 0, "{after:?}");
    assert!(
        after.appends_streamed >= before.appends_streamed + 50,
        "each write went to the followers on a stream: {before:?} {after:?}"
    );
    // One per follower; a stream is opened again only after a call on it timed out, which a
    // slow start may cause once or twice.
    assert!((2..=6).contains(&after.append_streams_opened), "{after:?}");
    let follower = cluster
        .running()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    cluster.stop(follower).await;
    for n in 50..60 {
        add(&mut conn, "s", n).await;
    }
    cluster.restart(follower).await;
    for n in 60..70 {
        add(&mut conn, "s", n).await;
    }
    cluster.assert_converged().await;
    assert_eq!(local_xlen(cluster.handle(follower).addr(), "s").await, 70);
    let restarted = traffic(&cluster);
    assert!(
        restarted.append_streams_opened > after.append_streams_opened,
        "the restarted follower is sent appends on a new stream: {after:?} {restarted:?}"
    );
    assert_eq!(restarted.appends_unary, 0, "{restarted:?}");
    drop(conn);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_behind_a_purged_log_catches_up_through_a_snapshot() {
    let mut cluster = TestCluster::start(3, |config| {
        config.raft.snapshot_entries_since_last = 0;
        config.raft.log_entries_kept_behind_snapshot = 0;
    })
    .await;
    let leader = cluster.wait_leader().await;
    let behind = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    cluster.stop(behind).await;
    let mut conn = connect(cluster.handle(leader).addr()).await;
    for n in 0..50 {
        add(&mut conn, "s", n).await;
    }
    // Redis 8 state rides in the snapshot too (the digests below compare it): remembered IDMP
    // iids with their settings, and a group whose pending entries DELREF removed.
    let mut raw = RawClient::connect(cluster.handle(leader).addr()).await;
    for command in [
        &[&b"XADD"[..], b"i", b"IDMP", b"p", b"r1", b"*", b"n", b"1"][..],
        &[b"XADD", b"i", b"IDMPAUTO", b"p", b"*", b"n", b"2"],
        &[b"XCFGSET", b"i", b"IDMP-MAXSIZE", b"7"],
        &[b"XADD", b"i", b"IDMP", b"p", b"r2", b"*", b"n", b"3"],
        &[b"XADD", b"d", b"1-1", b"n", b"1"],
        &[b"XADD", b"d", b"2-1", b"n", b"2"],
        &[b"XGROUP", b"CREATE", b"d", b"g", b"0"],
        &[b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"d", b">"],
        &[b"XDELEX", b"d", b"DELREF", b"IDS", b"1", b"1-1"],
    ] {
        let reply = raw.call(command).await;
        assert!(!reply.starts_with('-'), "{command:?}: {reply}");
    }
    let pending = raw.call(&[b"XPENDING", b"d", b"g"]).await;
    assert!(pending.starts_with("*4⏎:1⏎$3⏎2-1⏎"), "{pending}");
    let mut admin = ClusterClient::new(grpc_channel(cluster.handle(leader).grpc_addr()).await);
    within("snapshot", admin.trigger_snapshot(pb::Empty {}))
        .await
        .expect("snapshot triggered");
    let deadline = tokio::time::Instant::now() + rill_tests::DEADLINE;
    loop {
        let status = cluster.handle(leader).status().expect("running");
        if status.purged_index >= status.applied_index.saturating_sub(1) && status.purged_index > 0
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "log not purged: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.restart(behind).await;
    cluster.assert_converged().await;
    assert_eq!(local_xlen(cluster.handle(behind).addr(), "s").await, 50);
    let status = cluster.handle(behind).status().expect("running");
    assert!(
        status.snapshot_index > 0,
        "installed a snapshot: {status:?}"
    );
    // It goes on replicating from the log after the snapshot.
    add(&mut conn, "s", 50).await;
    cluster.assert_converged().await;
    assert_eq!(local_xlen(cluster.handle(behind).addr(), "s").await, 51);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partitioned_leader_neither_acknowledges_writes_nor_serves_linearizable_reads() {
    let cluster = TestCluster::start(3, |_| {}).await;
    let stale = cluster.wait_leader().await;
    let mut conn = connect(cluster.handle(stale).addr()).await;
    add(&mut conn, "s", 0).await;
    cluster.assert_converged().await;

    cluster.handle(stale).set_isolated(true);
    let others: Vec<u64> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != stale)
        .collect();
    let new = cluster.wait_leader_among(&others).await;
    assert_ne!(new, stale);

    // The stale leader cannot commit: the write is not acknowledged.
    let mut raw = RawClient::connect(cluster.handle(stale).addr()).await;
    raw.send_command(&[b"XADD", b"s", b"*", b"n", b"stale"])
        .await;
    if !raw.nothing_within(Duration::from_secs(2)).await {
        let reply = raw.read_reply().await.expect("a reply");
        assert!(
            reply.starts_with(b"-"),
            "acknowledged on a stale leader: {reply:?}"
        );
    }
    // Nor confirm a linearizable read.
    let mut reader = RawClient::connect(cluster.handle(stale).addr()).await;
    let reply = reader.call(&[b"XLEN", b"s"]).await;
    assert!(reply.starts_with("-TRYAGAIN"), "{reply}");
    // A stale read, asked for, is served from its own state.
    assert_eq!(local_xlen(cluster.handle(stale).addr(), "s").await, 1);

    // The majority goes on.
    let mut majority = connect(cluster.handle(new).addr()).await;
    add(&mut majority, "s", 1).await;

    cluster.handle(stale).set_isolated(false);
    cluster.assert_converged().await;
    let entries: redis::Value = within("XRANGE", majority.xrange_all("s"))
        .await
        .expect("XRANGE");
    assert!(!format!("{entries:?}").contains("stale"), "{entries:?}");
    assert_eq!(xlen(&mut majority, "s").await, 2);
    // The write the stale leader held got an error once it learned of the new term, never a
    // success. Which error is a race between two true answers: the proposer sees the node
    // deposed first (`-UNCERTAIN`: a newer leader could still commit an entry it holds), or
    // openraft first answers that the new leader's entries overwrote it (`-TRYAGAIN`: an
    // overwritten entry was never committed, and never will be). Here it was lost (above).
    let reply = within("stale reply", raw.read_reply())
        .await
        .expect("a reply");
    assert!(
        reply.starts_with(b"-UNCERTAIN") || reply.starts_with(b"-TRYAGAIN this node lost"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_api_on_every_node_with_typed_errors() {
    let cluster = TestCluster::start(3, |_| {}).await;
    let leader = cluster.wait_leader().await;
    let follower = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    let channel = grpc_channel(cluster.handle(follower).grpc_addr()).await;
    let mut streams = StreamsClient::new(channel.clone());
    let field = |name: &str, value: &str| pb::Field {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
    };
    let added = within(
        "XAdd",
        streams.x_add(pb::XAddRequest {
            key: b"jobs".to_vec(),
            id: "5-1".to_owned(),
            fields: vec![field("task", "a")],
            ..Default::default()
        }),
    )
    .await
    .expect("XAdd through a follower")
    .into_inner();
    assert_eq!(added.id, "5-1");
    within(
        "XGroupCreate",
        streams.x_group_create(pb::XGroupCreateRequest {
            key: b"jobs".to_vec(),
            group: "g".to_owned(),
            id: "0".to_owned(),
            mkstream: false,
        }),
    )
    .await
    .expect("group created");
    let read = within(
        "XReadGroup",
        streams.x_read_group(pb::XReadGroupRequest {
            group: "g".to_owned(),
            consumer: "c".to_owned(),
            keys: vec![b"jobs".to_vec()],
            ids: vec![">".to_owned()],
            count: 10,
            block_ms: Some(100),
            no_ack: false,
            claim_min_idle_ms: None,
        }),
    )
    .await
    .expect("XReadGroup")
    .into_inner();
    assert_eq!(read.streams.len(), 1);
    assert_eq!(read.streams[0].entries[0].id, "5-1");
    assert_eq!(read.streams[0].entries[0].fields, [field("task", "a")]);
    let acked = within(
        "XAck",
        streams.x_ack(pb::XAckRequest {
            key: b"jobs".to_vec(),
            group: "g".to_owned(),
            ids: vec!["5-1".to_owned()],
        }),
    )
    .await
    .expect("XAck")
    .into_inner();
    assert_eq!(acked.count, 1);
    let range = within(
        "XRange",
        streams.x_range(pb::XRangeRequest {
            key: b"jobs".to_vec(),
            ..Default::default()
        }),
    )
    .await
    .expect("XRange")
    .into_inner();
    assert_eq!(range.entries.len(), 1);
    // Execute: any command, the reply as a typed tree.
    let value = within(
        "Execute",
        streams.execute(pb::ExecuteRequest {
            args: vec![b"XLEN".to_vec(), b"jobs".to_vec()],
            read: None,
        }),
    )
    .await
    .expect("Execute")
    .into_inner();
    assert_eq!(value.kind, Some(pb::value::Kind::Integer(1)));

    // Bad input: the right code, Redis's text, nothing written.
    let bad_id = streams
        .x_add(pb::XAddRequest {
            key: b"jobs".to_vec(),
            id: "not-an-id".to_owned(),
            fields: vec![field("f", "v")],
            ..Default::default()
        })
        .await
        .expect_err("a malformed ID");
    assert_eq!(bad_id.code(), tonic::Code::InvalidArgument);
    assert!(
        bad_id.message().contains("Invalid stream ID"),
        "{}",
        bad_id.message()
    );
    let smaller = streams
        .x_add(pb::XAddRequest {
            key: b"jobs".to_vec(),
            id: "1-1".to_owned(),
            fields: vec![field("f", "v")],
            ..Default::default()
        })
        .await
        .expect_err("an ID below the top");
    assert_eq!(smaller.code(), tonic::Code::OutOfRange, "{smaller:?}");
    let empty_key = streams
        .x_add(pb::XAddRequest {
            key: Vec::new(),
            fields: vec![field("f", "v")],
            ..Default::default()
        })
        .await
        .expect_err("an empty key");
    assert_eq!(empty_key.code(), tonic::Code::InvalidArgument);
    let no_group = streams
        .x_ack(pb::XAckRequest {
            key: b"jobs".to_vec(),
            group: "nope".to_owned(),
            ids: vec!["5-1".to_owned()],
        })
        .await;
    // XACK on a missing group answers 0 in Redis, not an error.
    assert_eq!(no_group.expect("XACK").into_inner().count, 0);
    let unknown = streams
        .execute(pb::ExecuteRequest {
            args: vec![b"GET".to_vec(), b"jobs".to_vec()],
            read: None,
        })
        .await
        .expect_err("not a stream command");
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    let huge = vec![b'x'; 65 << 20];
    let oversized = streams
        .x_add(pb::XAddRequest {
            key: b"jobs".to_vec(),
            fields: vec![pb::Field {
                name: b"f".to_vec(),
                value: huge,
            }],
            ..Default::default()
        })
        .await
        .expect_err("an oversized message");
    assert_eq!(oversized.code(), tonic::Code::OutOfRange, "{oversized:?}");
    let len = within(
        "XLen",
        streams.x_len(pb::XLenRequest {
            key: b"jobs".to_vec(),
            read: None,
        }),
    )
    .await
    .expect("XLen")
    .into_inner();
    assert_eq!(len.count, 1, "nothing was written by the refused calls");

    // The cluster service on a follower names the leader.
    let mut admin = ClusterClient::new(channel);
    let status = within("Status", admin.status(pb::Empty {}))
        .await
        .expect("Status")
        .into_inner();
    assert_eq!(status.node_id, follower);
    assert_eq!(status.leader_id, Some(leader));
    assert_eq!(status.role, "follower");
    assert_eq!(status.members.len(), 3);
    assert!(status.members.iter().all(|m| m.voter));
    // Snapshots may be taken on any node; membership changes only on the leader.
    let snapshot = admin.trigger_snapshot(pb::Empty {}).await;
    assert!(snapshot.is_ok(), "{snapshot:?}");
    let not_leader = admin
        .change_membership(pb::ChangeMembershipRequest {
            voters: vec![1, 2, 3],
        })
        .await
        .expect_err("only the leader changes membership");
    assert_eq!(not_leader.code(), tonic::Code::FailedPrecondition);
    assert!(
        not_leader.message().contains("the leader is node"),
        "{}",
        not_leader.message()
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_stepping_down_ends_blocked_reads_with_a_retryable_error_naming_the_new_leader() {
    let cluster = TestCluster::start(3, |_| {}).await;
    let old = cluster.wait_leader().await;
    let mut blocked = RawClient::connect(cluster.handle(old).addr()).await;
    blocked
        .send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"])
        .await;
    assert!(
        blocked.nothing_within(Duration::from_millis(200)).await,
        "it blocks"
    );
    // Cut the leader off: the others elect a new one. (Triggering an election on a follower
    // is not enough: openraft's leader lease makes voters refuse while the leader is alive.)
    cluster.handle(old).set_isolated(true);
    let others: Vec<u64> = cluster.ids().into_iter().filter(|&id| id != old).collect();
    let new = cluster.wait_leader_among(&others).await;
    assert_ne!(new, old);
    // Healed, the old leader sees the new term and steps down: its blocked read ends.
    cluster.handle(old).set_isolated(false);
    let reply = within("blocked reply", blocked.read_reply())
        .await
        .expect("a reply");
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let new_addr = cluster.handle(new).addr().to_string();
    assert!(reply.starts_with("-TRYAGAIN"), "{reply}");
    assert!(
        reply.contains(&new_addr),
        "names the new leader {new_addr}: {reply}"
    );
    // Retrying on the same connection reaches the new leader (forwarded) and blocks again.
    blocked
        .send_command(&[b"XREAD", b"BLOCK", b"5000", b"STREAMS", b"s", b"$"])
        .await;
    assert!(blocked.nothing_within(Duration::from_millis(200)).await);
    let mut producer = connect(cluster.handle(new).addr()).await;
    let id = add(&mut producer, "s", 1).await;
    let reply = within("woken reply", blocked.read_reply())
        .await
        .expect("a reply");
    assert!(String::from_utf8_lossy(&reply).contains(&id), "{reply:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_and_reflection_describe_the_services() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let cluster = TestCluster::start(1, |_| {}).await;
    let channel = grpc_channel(cluster.handle(1).grpc_addr()).await;
    let mut health = HealthClient::new(channel.clone());
    let status = within(
        "health",
        health.check(HealthCheckRequest {
            service: "rill.v1.Streams".to_owned(),
        }),
    )
    .await
    .expect("health check")
    .into_inner();
    assert_eq!(status.status, ServingStatus::Serving as i32);

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = within(
        "reflection",
        reflection.server_reflection_info(tokio_stream::iter(vec![request])),
    )
    .await
    .expect("reflection")
    .into_inner();
    let response = within("reflection reply", responses.message())
        .await
        .expect("a reply")
        .expect("one message");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection reply");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for wanted in ["rill.v1.Streams", "rill.v1.Cluster", "rill.raft.v1.Raft"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_grpc_calls_cover_the_command_set() {
    let cluster = TestCluster::start(1, |_| {}).await;
    let mut api = StreamsClient::new(grpc_channel(cluster.handle(1).grpc_addr()).await);
    let key = || b"s".to_vec();
    let field = pb::Field {
        name: b"f".to_vec(),
        value: b"v".to_vec(),
    };
    for id in ["1-1", "2-1", "3-1", "4-1"] {
        let request = pb::XAddRequest {
            key: key(),
            id: id.to_owned(),
            fields: vec![field.clone()],
            ..Default::default()
        };
        within("XAdd", api.x_add(request)).await.expect("XAdd");
    }
    let count = |response: Result<tonic::Response<pb::CountResponse>, tonic::Status>| {
        response.expect("a count").into_inner().count
    };
    // IDMP: a repeat of (pid, iid) answers the first ID; an empty iid is IDMPAUTO.
    let mut idmp_ids = Vec::new();
    for (iid, value) in [
        (b"a".to_vec(), b"1"),
        (b"a".to_vec(), b"2"),
        (Vec::new(), b"3"),
        (Vec::new(), b"3"),
    ] {
        let request = pb::XAddRequest {
            key: b"idmp".to_vec(),
            fields: vec![pb::Field {
                name: b"f".to_vec(),
                value: value.to_vec(),
            }],
            idmp: Some(pb::Idmp {
                pid: b"p".to_vec(),
                iid,
            }),
            ..Default::default()
        };
        idmp_ids.push(
            within("XAdd IDMP", api.x_add(request))
                .await
                .expect("XAdd")
                .into_inner()
                .id,
        );
    }
    assert_eq!(idmp_ids[0], idmp_ids[1]);
    assert_eq!(idmp_ids[2], idmp_ids[3]);
    assert_ne!(idmp_ids[0], idmp_ids[2]);
    api.x_cfg_set(pb::XCfgSetRequest {
        key: b"idmp".to_vec(),
        idmp_duration_s: Some(5),
        idmp_maxsize: None,
    })
    .await
    .expect("XCfgSet");
    let refused = api
        .x_cfg_set(pb::XCfgSetRequest {
            key: b"idmp".to_vec(),
            idmp_duration_s: None,
            idmp_maxsize: Some(0),
        })
        .await
        .expect_err("maxsize 0");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    let deleted = api
        .x_del(pb::XDelRequest {
            key: key(),
            ids: vec!["4-1".to_owned(), "9-9".to_owned()],
        })
        .await;
    assert_eq!(count(deleted), 1);
    let trim = pb::Trim {
        threshold: Some(pb::trim::Threshold::MaxLen(2)),
        approximate: false,
        limit: 0,
        policy: pb::RefPolicy::KeepRef as i32,
    };
    assert_eq!(
        count(
            api.x_trim(pb::XTrimRequest {
                key: key(),
                trim: Some(trim)
            })
            .await
        ),
        1
    );
    let read = api
        .x_read(pb::XReadRequest {
            keys: vec![key()],
            ids: vec!["0".to_owned()],
            count: 10,
            block_ms: None,
            read: None,
        })
        .await
        .expect("XRead")
        .into_inner();
    let ids: Vec<&str> = read.streams[0]
        .entries
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(ids, ["2-1", "3-1"]);

    let group = || "g".to_owned();
    api.x_group_create(pb::XGroupCreateRequest {
        key: key(),
        group: group(),
        id: "0".to_owned(),
        mkstream: false,
    })
    .await
    .expect("XGroupCreate");
    let created = api
        .x_group_create_consumer(pb::ConsumerRequest {
            key: key(),
            group: group(),
            consumer: "idle".to_owned(),
        })
        .await;
    assert_eq!(count(created), 1);
    api.x_read_group(pb::XReadGroupRequest {
        group: group(),
        consumer: "alice".to_owned(),
        keys: vec![key()],
        ids: vec![">".to_owned()],
        ..Default::default()
    })
    .await
    .expect("XReadGroup");
    let summary = api
        .x_pending_summary(pb::XPendingSummaryRequest {
            key: key(),
            group: group(),
            read: None,
        })
        .await
        .expect("XPendingSummary")
        .into_inner();
    assert_eq!(
        (
            summary.count,
            summary.min_id.as_str(),
            summary.max_id.as_str()
        ),
        (2, "2-1", "3-1")
    );
    assert_eq!(
        summary.consumers,
        [pb::ConsumerCount {
            name: "alice".to_owned(),
            count: 2
        }]
    );
    let range = api
        .x_pending_range(pb::XPendingRangeRequest {
            key: key(),
            group: group(),
            count: 10,
            ..Default::default()
        })
        .await
        .expect("XPendingRange")
        .into_inner();
    assert_eq!(range.entries.len(), 2);
    assert_eq!(
        (
            range.entries[0].consumer.as_str(),
            range.entries[0].deliveries
        ),
        ("alice", 1)
    );
    let claimed = api
        .x_claim(pb::XClaimRequest {
            key: key(),
            group: group(),
            consumer: "bob".to_owned(),
            min_idle_ms: 0,
            ids: vec!["2-1".to_owned()],
            just_id: true,
            ..Default::default()
        })
        .await
        .expect("XClaim")
        .into_inner();
    assert_eq!(
        claimed
            .entries
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["2-1"]
    );
    // XNACK (Redis 8.8): bob gives 2-1 back; it stays pending, held by no one.
    let released = api
        .x_nack(pb::XNackRequest {
            key: key(),
            group: group(),
            mode: pb::NackMode::Fail as i32,
            ids: vec!["2-1".to_owned(), "9-9".to_owned()],
            retry_count: Some(5),
            force: false,
        })
        .await;
    assert_eq!(count(released), 1);
    let range = api
        .x_pending_range(pb::XPendingRangeRequest {
            key: key(),
            group: group(),
            count: 10,
            ..Default::default()
        })
        .await
        .expect("XPendingRange")
        .into_inner();
    let first = &range.entries[0];
    assert_eq!(
        (
            first.id.as_str(),
            first.consumer.as_str(),
            first.released,
            first.deliveries
        ),
        ("2-1", "", true, 5)
    );
    let claimed = api
        .x_claim(pb::XClaimRequest {
            key: key(),
            group: group(),
            consumer: "bob".to_owned(),
            min_idle_ms: 3_600_000,
            ids: vec!["2-1".to_owned()],
            just_id: true,
            ..Default::default()
        })
        .await
        .expect("XClaim")
        .into_inner();
    assert_eq!(
        claimed.entries.len(),
        1,
        "a released entry is claimed at any idle time"
    );
    let removed = api
        .x_group_del_consumer(pb::ConsumerRequest {
            key: key(),
            group: group(),
            consumer: "bob".to_owned(),
        })
        .await;
    assert_eq!(count(removed), 1, "bob had one pending entry");
    // Redis 8.4's CLAIM: alice's 3-1 has been idle at least 0 ms, so she gets it again first,
    // with its idle time and the one delivery before this one; nothing new is left.
    let again = api
        .x_read_group(pb::XReadGroupRequest {
            group: group(),
            consumer: "alice".to_owned(),
            keys: vec![key()],
            ids: vec![">".to_owned()],
            claim_min_idle_ms: Some(0),
            ..Default::default()
        })
        .await
        .expect("XReadGroup CLAIM")
        .into_inner();
    let claimed = &again.streams[0];
    assert_eq!(claimed.entries[0].id, "3-1");
    assert_eq!(claimed.entries.len(), 1);
    assert_eq!(claimed.idle_ms.len(), 1);
    assert_eq!(claimed.delivery_count, [1]);
    api.x_group_set_id(pb::XGroupSetIdRequest {
        key: key(),
        group: group(),
        id: "0".to_owned(),
        entries_read: Some(0),
    })
    .await
    .expect("XGroupSetId");
    for info in [
        api.x_info_stream(pb::XInfoStreamRequest {
            key: key(),
            full: true,
            count: Some(0),
            read: None,
        })
        .await,
        api.x_info_groups(pb::XInfoRequest {
            key: key(),
            read: None,
        })
        .await,
        api.x_info_consumers(pb::GroupRequest {
            key: key(),
            group: group(),
        })
        .await,
    ] {
        let value = info.expect("XINFO").into_inner();
        assert!(
            matches!(
                value.kind,
                Some(pb::value::Kind::Map(_) | pb::value::Kind::Array(_))
            ),
            "{value:?}"
        );
    }
    let missing = api
        .x_info_consumers(pb::GroupRequest {
            key: key(),
            group: "nope".to_owned(),
        })
        .await
        .expect_err("no such group");
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
    // After SETID 0 the group has not been delivered anything again: every entry is
    // referenced, and ACKED keeps it. alice still holds 3-1 pending; XACKDEL with DELREF
    // acknowledges and deletes it.
    let results = |response: Result<tonic::Response<pb::DeleteResults>, tonic::Status>| {
        response.expect("delete results").into_inner().results
    };
    use pb::DeleteResult::{Deleted, Kept, NotFound};
    let kept = api
        .x_del_ex(pb::XDelExRequest {
            key: key(),
            policy: pb::RefPolicy::Acked as i32,
            ids: vec!["2-1".to_owned(), "0-0".to_owned()],
        })
        .await;
    assert_eq!(results(kept), [Kept as i32, NotFound as i32]);
    let acked = api
        .x_ack_del(pb::XAckDelRequest {
            key: key(),
            group: group(),
            policy: pb::RefPolicy::DelRef as i32,
            ids: vec!["3-1".to_owned(), "2-1".to_owned()],
        })
        .await;
    assert_eq!(results(acked), [Deleted as i32, NotFound as i32]);
    let unknown = api
        .x_del_ex(pb::XDelExRequest {
            key: key(),
            policy: 7,
            ids: vec!["2-1".to_owned()],
        })
        .await
        .expect_err("an unknown policy");
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument, "{unknown:?}");
    api.x_set_id(pb::XSetIdRequest {
        key: key(),
        id: "10-0".to_owned(),
        entries_added: None,
        max_deleted_id: String::new(),
    })
    .await
    .expect("XSetId");
    assert_eq!(
        count(
            api.del(pb::DelRequest {
                keys: vec![key(), b"other".to_vec()]
            })
            .await
        ),
        1
    );
    cluster.shutdown().await;
}

/// A transaction sent through a follower (redis-rs's atomic pipeline: MULTI ... EXEC) is one
/// log entry, applied alike on every node; a WATCHed key changed by another client makes the
/// next EXEC a null reply on all of them. The gRPC Transaction and KeyVersions calls do the
/// same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_through_a_follower_is_one_entry_on_every_node() {
    let cluster = TestCluster::start(3, |_| {}).await;
    let leader = cluster.wait_leader().await;
    let follower = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    let mut conn = connect(cluster.handle(follower).addr()).await;
    add(&mut conn, "t", 0).await;
    let (before, _) = cluster.assert_converged().await;
    let (first, second, length): (String, String, usize) = within(
        "EXEC",
        redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg("t")
            .arg("*")
            .arg("n")
            .arg("1")
            .cmd("XADD")
            .arg("t")
            .arg("*")
            .arg("n")
            .arg("2")
            .cmd("XLEN")
            .arg("t")
            .query_async(&mut conn),
    )
    .await
    .expect("EXEC");
    assert!(first < second, "{first} {second}");
    assert_eq!(length, 3);
    let (after, _) = cluster.assert_converged().await;
    assert_eq!(after, before + 1, "the transaction is one log entry");
    for id in cluster.ids() {
        assert_eq!(
            local_xlen(cluster.handle(id).addr(), "t").await,
            3,
            "node {id}"
        );
    }

    // WATCH on the follower, a write by another client through the leader, then EXEC.
    let mut raw = RawClient::connect(cluster.handle(follower).addr()).await;
    assert_eq!(raw.call(&[b"WATCH", b"t"]).await, "+OK⏎");
    add(&mut connect(cluster.handle(leader).addr()).await, "t", 4).await;
    assert_eq!(raw.call(&[b"MULTI"]).await, "+OK⏎");
    assert_eq!(
        raw.call(&[b"XADD", b"t", b"*", b"n", b"5"]).await,
        "+QUEUED⏎"
    );
    assert_eq!(raw.call(&[b"EXEC"]).await, "*-1⏎");
    cluster.assert_converged().await;
    for id in cluster.ids() {
        assert_eq!(
            local_xlen(cluster.handle(id).addr(), "t").await,
            4,
            "node {id}"
        );
    }

    // The same over gRPC, through the follower: KeyVersions is WATCH, Transaction is EXEC.
    let mut api = StreamsClient::new(grpc_channel(cluster.handle(follower).grpc_addr()).await);
    let args = |words: &[&str]| pb::ExecuteRequest {
        args: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
        read: None,
    };
    let versions = api
        .key_versions(pb::KeyVersionsRequest {
            keys: vec![b"t".to_vec(), b"nothing".to_vec()],
        })
        .await
        .expect("KeyVersions")
        .into_inner()
        .keys;
    assert!(
        versions[0].version.is_some() && versions[1].version.is_none(),
        "{versions:?}"
    );
    let transaction = pb::TransactionRequest {
        commands: vec![
            args(&["XADD", "t", "*", "n", "6"]),
            args(&["XDEL", "t", "bad-id"]),
            args(&["XLEN", "t"]),
        ],
        watch: versions.clone(),
    };
    let done = api
        .transaction(transaction.clone())
        .await
        .expect("Transaction")
        .into_inner();
    assert!(!done.aborted);
    let kinds: Vec<_> = done.replies.iter().map(|v| v.kind.clone()).collect();
    assert!(
        matches!(kinds[0], Some(pb::value::Kind::Bulk(_))),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[1], Some(pb::value::Kind::Error(_))),
        "{kinds:?}"
    );
    assert_eq!(kinds[2], Some(pb::value::Kind::Integer(5)));
    // `t` changed since KeyVersions read it: the same transaction now runs nothing.
    let again = api
        .transaction(transaction)
        .await
        .expect("Transaction")
        .into_inner();
    assert!(again.aborted && again.replies.is_empty(), "{again:?}");
    let refused = api
        .transaction(pb::TransactionRequest {
            commands: vec![args(&["XADD", "t", "*", "n", "7"]), args(&["XADD", "t"])],
            watch: Vec::new(),
        })
        .await
        .expect_err("a command that does not parse refuses all");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    cluster.assert_converged().await;
    for id in cluster.ids() {
        assert_eq!(
            local_xlen(cluster.handle(id).addr(), "t").await,
            5,
            "node {id}"
        );
    }
    cluster.shutdown().await;
}
