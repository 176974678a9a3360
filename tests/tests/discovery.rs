//! Leader discovery for existing Redis clients: the Sentinel subset redis-rs and redis-py use,
//! `ROLE`, `CLUSTER SLOTS` and `-MOVED`, `-READONLY` with forwarding off.

use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::AsyncCommands;
use rill_tests::{within, RawClient, TestCluster};

async fn sentinel_connection(client: &mut SentinelClient) -> redis::aio::MultiplexedConnection {
    let deadline = tokio::time::Instant::now() + rill_tests::DEADLINE;
    loop {
        match client.async_get_client().await {
            Ok(master) => {
                if let Ok(conn) = master.get_multiplexed_async_connection().await {
                    return conn;
                }
            }
            Err(error) => {
                assert!(tokio::time::Instant::now() < deadline, "no master: {error}");
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sentinel_client_follows_the_leader_through_a_failover() {
    let mut cluster = TestCluster::start(3, |_| {}).await;
    let old = cluster.wait_leader().await;
    let sentinels: Vec<String> = cluster
        .ids()
        .iter()
        .map(|&id| format!("redis://{}/", cluster.handle(id).addr()))
        .collect();
    let mut client = SentinelClient::build(
        sentinels,
        "rill".to_owned(),
        None,
        SentinelServerType::Master,
    )
    .expect("sentinel client");
    let mut conn = sentinel_connection(&mut client).await;
    let first: String = within("XADD", conn.xadd("s", "*", &[("n", "1")]))
        .await
        .expect("XADD");
    let mut raw = RawClient::connect(cluster.handle(old).addr()).await;
    let addr = raw
        .call(&[b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", b"rill"])
        .await;
    let leader_port = cluster.handle(old).addr().port().to_string();
    assert!(addr.contains(&leader_port), "{addr}");
    assert_eq!(
        raw.call(&[b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", b"other"])
            .await,
        "*-1⏎"
    );
    drop(raw);

    cluster.stop(old).await;
    let new = cluster.wait_leader().await;
    // The same client code asks the sentinels again and lands on the new leader.
    let mut conn = sentinel_connection(&mut client).await;
    let second: String = within("XADD", conn.xadd("s", "*", &[("n", "2")]))
        .await
        .expect("XADD after failover");
    assert!(second > first);
    let role: redis::Value = within("ROLE", redis::cmd("ROLE").query_async(&mut conn))
        .await
        .expect("ROLE");
    assert!(format!("{role:?}").contains("master"), "{role:?}");
    let len: usize = within("XLEN", conn.xlen("s")).await.expect("XLEN");
    assert_eq!(len, 2);
    assert_ne!(new, old);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_slots_moved_and_readonly() {
    let cluster = TestCluster::start(3, |config| {
        // Node 1 forwards; nodes 2 and 3 show the other two behaviours.
        config.forward = config.node_id != 2;
        config.cluster_redirects = config.node_id == 3;
    })
    .await;
    let leader = cluster.wait_leader().await;
    assert_eq!(leader, 1, "formed by node 1, nothing moved it");
    let leader_addr = cluster.handle(1).addr().to_string();

    let mut no_forward = RawClient::connect(cluster.handle(2).addr()).await;
    assert_eq!(
        no_forward.call(&[b"XADD", b"s", b"*", b"f", b"v"]).await,
        "-READONLY You can't write against a read only replica.⏎"
    );
    let mut redirecting = RawClient::connect(cluster.handle(3).addr()).await;
    let moved = redirecting.call(&[b"XADD", b"foo", b"*", b"f", b"v"]).await;
    assert_eq!(moved, format!("-MOVED 12182 {leader_addr}⏎"));
    let slots = redirecting.call(&[b"CLUSTER", b"SLOTS"]).await;
    let (host, port) = leader_addr.rsplit_once(':').expect("host:port");
    assert!(
        slots.starts_with(&format!(
            "*1⏎*5⏎:0⏎:16383⏎*3⏎${}⏎{host}⏎:{port}⏎",
            host.len()
        )),
        "{slots}"
    );
    // Reads on the no-forward follower are served from its own state, as on a Redis replica.
    let mut leader_conn = RawClient::connect(cluster.handle(1).addr()).await;
    assert!(leader_conn
        .call(&[b"XADD", b"s", b"1-1", b"f", b"v"])
        .await
        .contains("1-1"));
    cluster.assert_converged().await;
    assert_eq!(no_forward.call(&[b"XLEN", b"s"]).await, ":1⏎");
    let role = no_forward.call(&[b"ROLE"]).await;
    assert!(role.starts_with("*5⏎$5⏎slave⏎"), "{role}");
    cluster.shutdown().await;
}

/// A consumer loop as the seed articles write it, through a Sentinel client: XAUTOCLAIM idle
/// entries, XREADGROUP BLOCK, XACK; on any error, ask the sentinels again.
async fn consume(
    mut client: SentinelClient,
    done: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    use redis::streams::{
        StreamAutoClaimOptions, StreamAutoClaimReply, StreamReadOptions, StreamReadReply,
    };
    let mut conn = sentinel_connection(&mut client).await;
    while !*stop.borrow() {
        let claimed: redis::RedisResult<StreamAutoClaimReply> = conn
            .xautoclaim_options(
                "s",
                "g",
                "c",
                1000,
                "0-0",
                StreamAutoClaimOptions::default().count(100),
            )
            .await;
        let options = StreamReadOptions::default()
            .group("g", "c")
            .count(10)
            .block(300);
        let read: redis::RedisResult<StreamReadReply> = tokio::select! {
            read = conn.xread_options(&["s"], &[">"], &options) => read,
            _ = stop.changed() => break,
        };
        let mut ids: Vec<String> = Vec::new();
        match (claimed, read) {
            (Ok(claimed), Ok(read)) => {
                ids.extend(claimed.claimed.into_iter().map(|entry| entry.id));
                for key in read.keys {
                    ids.extend(key.ids.into_iter().map(|entry| entry.id));
                }
            }
            _ => {
                // The leader is gone or changing: find the new one.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                conn = sentinel_connection(&mut client).await;
                continue;
            }
        }
        if ids.is_empty() {
            continue;
        }
        // Counted even when the reply is an error: an XACK that committed just before its
        // leader died answers with a broken connection, and the entries are then no longer
        // pending, so no claim would ever deliver them again. Those not acknowledged stay
        // pending and come back through XAUTOCLAIM; the test ends only when none is pending.
        let _: redis::RedisResult<usize> = conn.xack("s", "g", &ids).await;
        done.lock().expect("lock").extend(ids);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_consumer_and_a_producer_continue_through_a_leader_failover() {
    let mut cluster = TestCluster::start(3, |_| {}).await;
    let sentinels: Vec<String> = cluster
        .ids()
        .iter()
        .map(|&id| format!("redis://{}/", cluster.handle(id).addr()))
        .collect();
    let build = || {
        SentinelClient::build(
            sentinels.clone(),
            "rill".to_owned(),
            None,
            SentinelServerType::Master,
        )
        .expect("sentinel client")
    };
    let mut producer_client = build();
    let mut producer = sentinel_connection(&mut producer_client).await;
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "s", "g", "$", "MKSTREAM"])
        .query_async(&mut producer)
        .await
        .expect("group");
    let done = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let consumer = tokio::spawn(consume(build(), std::sync::Arc::clone(&done), stop_rx));

    let mut acked = Vec::new();
    let mut retries = 0;
    while acked.len() < 200 {
        if acked.len() == 100 && cluster.running().len() == 3 {
            // The consumer is blocked in XREADGROUP on the leader right now, most likely.
            let leader = cluster.wait_leader().await;
            cluster.stop(leader).await;
        }
        match producer
            .xadd::<_, _, _, _, String>("s", "*", &[("n", acked.len())])
            .await
        {
            Ok(id) => acked.push(id),
            Err(_) => {
                retries += 1;
                assert!(retries < 500, "the producer never got through");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                producer = sentinel_connection(&mut producer_client).await;
            }
        }
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let missing = {
            let done = done.lock().expect("lock");
            acked.iter().filter(|id| !done.contains(*id)).count()
        };
        let pending: redis::streams::StreamPendingReply =
            producer.xpending("s", "g").await.expect("XPENDING");
        if missing == 0 && pending.count() == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} acknowledged entries never delivered, {} pending",
            pending.count()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop_tx.send(true).expect("consumer listening");
    within("consumer", consumer).await.expect("consumer task");
    // Redis clients cannot tell a lost reply from a lost write: a retried XADD may have been
    // applied twice, at most once per retry.
    let len: usize = producer.xlen("s").await.expect("XLEN");
    assert!(
        len >= acked.len() && len - acked.len() <= retries,
        "{len} entries, {} acknowledged, {retries} retries",
        acked.len()
    );
    cluster.shutdown().await;
}
