//! Requests that would make a node do unbounded work: each is bounded, and the work it does
//! still completes.

use std::time::Instant;

use rill_tests::{encode_command, within, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An XADD of 1 MiB per entry (field `f` and its value).
fn one_mib_xadd() -> Vec<u8> {
    let value = vec![b'x'; (1 << 20) - 1];
    encode_command(&[b"XADD", b"big", b"*", b"f", &value])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_pipelined_writes_commit_and_a_follower_behind_them_catches_up() {
    let mut cluster = TestCluster::start(3, |_| {}).await;
    let leader = cluster.wait_leader().await;
    let behind = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    cluster.stop(behind).await;

    // 100 MiB in one pipeline: log entries hold at most `batch_bytes_max` (2 MiB) and an
    // AppendEntries at most `APPEND_BYTES_MAX` (4 MiB), so each is fsynced by the follower
    // within the heartbeat openraft gives it. Unbounded, one entry of 100 MiB would be sent
    // again and again and nothing would commit.
    let stream = tokio::net::TcpStream::connect(cluster.handle(leader).addr())
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let xadd = one_mib_xadd();
    let pipeline: Vec<u8> = (0..100).flat_map(|_| xadd.iter().copied()).collect();
    let started = Instant::now();
    // Written while the replies are read: the node stops reading a client whose replies pile up.
    let send = tokio::spawn(async move { writer.write_all(&pipeline).await });
    // Each reply is an ID, `$15\r\n<id>\r\n`: two lines.
    let mut replies = Vec::new();
    while replies.iter().filter(|&&b| b == b'\n').count() < 200 {
        let read = within("replies", reader.read_buf(&mut replies)).await;
        assert!(
            read.expect("read") > 0,
            "closed: {}",
            String::from_utf8_lossy(&replies)
        );
    }
    let replies = String::from_utf8_lossy(&replies);
    assert_eq!(
        replies.lines().filter(|l| l.starts_with('$')).count(),
        100,
        "{replies}"
    );
    within("send", send).await.expect("sent").expect("sent");
    let took = started.elapsed();
    println!("100 pipelined 1 MiB XADDs committed in {took:?}");
    assert!(took.as_secs() < 30, "took {took:?}");
    let status = cluster.handle(leader).status().expect("status");
    assert!(
        status.last_log_index >= 50,
        "100 MiB in at least 50 entries of 2 MiB: {}",
        status.last_log_index
    );

    // The follower that missed them all catches up from the leader's log.
    let started = Instant::now();
    let target = cluster
        .handle(leader)
        .status()
        .expect("status")
        .applied_index;
    cluster.restart(behind).await;
    // 100 MiB through a debug build takes a few seconds: a longer wait than the harness's.
    let caught_up = async {
        while cluster
            .handle(behind)
            .status()
            .map_or(0, |s| s.applied_index)
            < target
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), caught_up)
        .await
        .expect("the follower catches up within a minute");
    cluster.assert_converged().await;
    println!("the follower caught up in {:?}", started.elapsed());
    cluster.shutdown().await;
}

#[tokio::test]
async fn grpc_connections_past_the_limit_are_closed_and_a_freed_one_is_reused() {
    use rill_proto::v1::cluster_client::ClusterClient;
    use rill_proto::v1::Empty;

    let server = rill_tests::TestServer::start_with(|config| {
        config.limits.grpc_connections_max = 2;
    })
    .await;
    let addr = server.grpc_addr();
    let status = |channel: tonic::transport::Channel| async move {
        ClusterClient::new(channel).status(Empty {}).await
    };
    let first = rill_tests::grpc_channel(addr).await;
    let second = rill_tests::grpc_channel(addr).await;
    status(first.clone())
        .await
        .expect("first connection served");
    status(second.clone())
        .await
        .expect("second connection served");
    // The third TCP connection is accepted by the kernel and closed by the node.
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .timeout(std::time::Duration::from_secs(2));
    let third = match endpoint.connect().await {
        Ok(channel) => status(channel).await.err(),
        Err(error) => Some(tonic::Status::unavailable(error.to_string())),
    };
    assert!(third.is_some(), "a third connection was served");
    drop(first);
    // The first connection's permit comes back once the node sees it close.
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let attempt = match endpoint.connect().await {
            Ok(channel) => status(channel).await.is_ok(),
            Err(_) => false,
        };
        if attempt {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection admitted after one closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    status(second)
        .await
        .expect("the second connection still served");
    server.shutdown().await;
}
