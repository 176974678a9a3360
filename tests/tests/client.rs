//! The Rust client against a three-node cluster: a producer and a consumer group of two
//! consumers through the client crate while the leader is stopped and later restarted, and
//! the idempotent producer.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rill_client::{Client, ClientOptions, Consumer, ConsumerOptions};
use rill_tests::{within, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn producer_and_consumer_group_ride_through_a_leader_restart() {
    let mut cluster = TestCluster::start(3, |_| {}).await;
    let addrs: Vec<String> = cluster
        .ids()
        .iter()
        .map(|&id| cluster.handle(id).grpc_addr().to_string())
        .collect();
    let options = ClientOptions {
        call_timeout: Duration::from_secs(2),
        retry_for: Duration::from_secs(20),
        ..ClientOptions::default()
    };
    let client = Client::connect(addrs, options).expect("client");
    client.find_leader().await.expect("a leader");
    client
        .ensure_group(b"jobs", "workers", "0")
        .await
        .expect("group");
    client
        .ensure_group(b"jobs", "workers", "0")
        .await
        .expect("an existing group is fine");

    let handled = Arc::new(Mutex::new(Vec::<String>::new()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut consumers = Vec::new();
    for name in ["c1", "c2"] {
        let consumer = Consumer {
            client: client.clone(),
            key: b"jobs".to_vec(),
            group: "workers".to_owned(),
            name: name.to_owned(),
            options: ConsumerOptions {
                batch: 10,
                block: Duration::from_millis(200),
                claim_idle: Duration::from_secs(1),
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

    let mut producer = client.producer();
    let mut acked = Vec::new();
    let mut stopped = None;
    for n in 0..300u32 {
        if n == 100 {
            let leader = cluster.wait_leader().await;
            cluster.stop(leader).await;
            stopped = Some(leader);
        }
        if n == 200 {
            cluster.restart(stopped.take().expect("stopped")).await;
        }
        let value = n.to_string();
        let id = within("XADD", producer.xadd(b"jobs", &[(b"n", value.as_bytes())]))
            .await
            .expect("XADD acknowledged");
        acked.push(id);
    }

    // Every acknowledged entry is handled and acknowledged; the pending list empties.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen: BTreeSet<String> = handled.lock().expect("lock").iter().cloned().collect();
        let pending = client.xpending(b"jobs", "workers").await.expect("XPENDING");
        if acked.iter().all(|id| seen.contains(id)) && pending.count == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "handled {} of {}, {} pending",
            seen.len(),
            acked.len(),
            pending.count
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(true).expect("consumers listening");
    for consumer in consumers {
        within("consumer stop", consumer)
            .await
            .expect("joined")
            .expect("consumer ran");
    }
    // Every acknowledged ID is in the stream, in order; on every node.
    let (_, _) = cluster.assert_converged().await;
    let range = client
        .execute(&[b"XRANGE", b"jobs", b"-", b"+"])
        .await
        .expect("XRANGE");
    // Exactly the acknowledged entries, in order: the producer's retries appended nothing.
    assert_eq!(entry_ids(&range), acked);
    cluster.shutdown().await;
}

/// The same producer call sent again, to every node (followers forward), answers the first
/// ID and appends nothing; a lower sequence number is refused; another producer appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_producer_call_answers_its_first_id_on_every_node() {
    use rill_client::proto::streams_client::StreamsClient;
    use rill_client::proto::{Field, Producer, XAddRequest};

    let cluster = TestCluster::start(3, |_| {}).await;
    cluster.wait_leader().await;
    let request = |id: &[u8], seq: u64| XAddRequest {
        key: b"s".to_vec(),
        fields: vec![Field {
            name: b"f".to_vec(),
            value: b"v".to_vec(),
        }],
        producer: Some(Producer {
            id: id.to_vec(),
            seq,
        }),
        ..XAddRequest::default()
    };
    let mut first = None;
    for id in cluster.ids() {
        let channel = rill_tests::grpc_channel(cluster.handle(id).grpc_addr()).await;
        let mut streams = StreamsClient::new(channel);
        for _ in 0..2 {
            let reply = streams.x_add(request(b"p1", 7)).await.expect("XADD");
            let got = reply.into_inner().id;
            assert_eq!(first.get_or_insert_with(|| got.clone()), &got, "node {id}");
        }
        let stale = streams
            .x_add(request(b"p1", 6))
            .await
            .expect_err("a lower sequence number");
        assert_eq!(stale.code(), tonic::Code::FailedPrecondition, "{stale:?}");
    }
    let channel = rill_tests::grpc_channel(cluster.handle(1).grpc_addr()).await;
    let mut streams = StreamsClient::new(channel);
    let other = streams.x_add(request(b"p2", 7)).await.expect("XADD");
    assert_ne!(Some(other.into_inner().id), first);
    cluster.assert_converged().await;
    let len = streams
        .x_len(rill_client::proto::XLenRequest {
            key: b"s".to_vec(),
            ..Default::default()
        })
        .await
        .expect("XLEN");
    assert_eq!(len.into_inner().count, 2);
    cluster.shutdown().await;
}

/// The IDs of an XRANGE reply tree.
fn entry_ids(value: &rill_client::proto::Value) -> Vec<String> {
    use rill_client::proto::value::Kind;
    let Some(Kind::Array(entries)) = &value.kind else {
        panic!("XRANGE answered {value:?}");
    };
    entries
        .values
        .iter()
        .map(|entry| match &entry.kind {
            Some(Kind::Array(parts)) => match &parts.values[0].kind {
                Some(Kind::Bulk(id)) => String::from_utf8(id.clone()).expect("utf-8"),
                other => panic!("an ID: {other:?}"),
            },
            other => panic!("an entry: {other:?}"),
        })
        .collect()
}
