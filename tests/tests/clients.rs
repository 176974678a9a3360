//! The `redis` crate (redis-rs) against Rill: RESP2 and RESP3, pipelines, many clients.

use std::collections::HashSet;

use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Value};
use rill_tests::{within, RawClient, TestServer};

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).expect("valid url");
    within("connect", client.get_multiplexed_async_connection())
        .await
        .expect("connects")
}

/// The same stream workflow over either protocol; replies decode to the same Rust values.
async fn stream_workflow(url: &str) {
    let mut con = connect(url).await;
    let id: String = con
        .xadd("orders", "1-1", &[("item", "tea"), ("qty", "2")])
        .await
        .expect("xadd");
    assert_eq!(id, "1-1");
    let id: String = con
        .xadd("orders", "*", &[("item", "cake")])
        .await
        .expect("xadd *");
    assert!(id.ends_with("-0"), "{id}");
    assert_eq!(con.xlen::<_, usize>("orders").await.expect("xlen"), 2);

    let range: StreamRangeReply = con.xrange_all("orders").await.expect("xrange");
    assert_eq!(range.ids.len(), 2);
    assert_eq!(range.ids[0].id, "1-1");
    assert_eq!(range.ids[0].get::<String>("item").as_deref(), Some("tea"));

    let () = con
        .xgroup_create("orders", "kitchen", "0")
        .await
        .expect("xgroup create");
    let options = StreamReadOptions::default()
        .group("kitchen", "alice")
        .count(10);
    let read: StreamReadReply = con
        .xread_options(&["orders"], &[">"], &options)
        .await
        .expect("xreadgroup");
    assert_eq!(read.keys.len(), 1);
    assert_eq!(read.keys[0].key, "orders");
    assert_eq!(read.keys[0].ids.len(), 2);
    let acked: usize = con.xack("orders", "kitchen", &["1-1"]).await.expect("xack");
    assert_eq!(acked, 1);
    let pending: redis::streams::StreamPendingReply =
        con.xpending("orders", "kitchen").await.expect("xpending");
    assert_eq!(pending.count(), 1);

    // Nothing new: a non-blocking read is nil in both protocols.
    let nothing: Option<StreamReadReply> = con.xread(&["orders"], &[&id]).await.expect("xread");
    assert!(nothing.is_none());

    let server_error = redis::cmd("XADD")
        .arg("orders")
        .arg("1-1")
        .arg("f")
        .arg("v")
        .query_async::<Value>(&mut con)
        .await;
    let error = server_error.expect_err("ID too small");
    assert!(
        error
            .to_string()
            .contains("equal or smaller than the target stream top item"),
        "{error}"
    );
}

#[tokio::test]
async fn redis_rs_resp2() {
    let server = TestServer::start().await;
    stream_workflow(&server.url()).await;
    server.shutdown().await;
}

#[tokio::test]
async fn redis_rs_resp3() {
    let server = TestServer::start().await;
    stream_workflow(&server.url_resp3()).await;
    // RESP3 shapes reach the client as RESP3 types.
    let mut con = connect(&server.url_resp3()).await;
    let read: Value = redis::cmd("XREAD")
        .arg("STREAMS")
        .arg("orders")
        .arg("0")
        .query_async(&mut con)
        .await
        .expect("xread");
    assert!(
        matches!(read, Value::Map(ref pairs) if pairs.len() == 1),
        "{read:?}"
    );
    let after_everything = "18446744073709551615-18446744073709551615";
    let nil: Value = redis::cmd("XREAD")
        .arg("STREAMS")
        .arg("orders")
        .arg(after_everything)
        .query_async(&mut con)
        .await
        .expect("xread");
    assert_eq!(nil, Value::Nil);
    server.shutdown().await;
}

#[tokio::test]
async fn redis_rs_pipeline() {
    let server = TestServer::start().await;
    let mut con = connect(&server.url()).await;
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("XADD").arg("p").arg("*").arg("n").arg(i);
    }
    pipe.cmd("XLEN").arg("p");
    let replies: Vec<Value> = within("pipeline", pipe.query_async(&mut con))
        .await
        .expect("pipeline");
    assert_eq!(replies.len(), 201);
    assert_eq!(replies[200], Value::Int(200));
    let ids: HashSet<String> = replies[..200].iter().map(|id| format!("{id:?}")).collect();
    assert_eq!(ids.len(), 200, "every XADD got its own ID");
    server.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_clients() {
    const CLIENTS: usize = 64;
    const WRITES_PER_CLIENT: usize = 50;
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let url = if client % 2 == 0 {
            server.url()
        } else {
            server.url_resp3()
        };
        tasks.push(tokio::spawn(async move {
            let mut con = connect(&url).await;
            let own = format!("own-{client}");
            for i in 0..WRITES_PER_CLIENT {
                let _: String = con
                    .xadd("shared", "*", &[("client", client), ("i", i)])
                    .await
                    .expect("xadd shared");
                let _: String = con.xadd(&own, "*", &[("i", i)]).await.expect("xadd own");
                // Read-your-writes on one connection.
                assert_eq!(con.xlen::<_, usize>(&own).await.expect("xlen"), i + 1);
            }
        }));
    }
    for task in tasks {
        within("client task", task)
            .await
            .expect("client task succeeds");
    }
    let mut con = connect(&server.url()).await;
    assert_eq!(
        con.xlen::<_, usize>("shared").await.expect("xlen"),
        CLIENTS * WRITES_PER_CLIENT
    );
    let dbsize: usize = redis::cmd("DBSIZE")
        .query_async(&mut con)
        .await
        .expect("dbsize");
    assert_eq!(dbsize, CLIENTS + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_refused() {
    let server = TestServer::start_with(|config| config.limits.connections_max = 2).await;
    let mut first = RawClient::connect(server.addr()).await;
    let mut second = RawClient::connect(server.addr()).await;
    assert_eq!(first.call(&[b"PING"]).await, "+PONG⏎");
    assert_eq!(second.call(&[b"PING"]).await, "+PONG⏎");
    let mut third = RawClient::connect(server.addr()).await;
    assert_eq!(
        third.read_until_closed().await,
        b"-ERR max number of clients reached\r\n"
    );
    // A slot frees when a client leaves (the server notices the close asynchronously).
    drop(first);
    within("a slot frees", async {
        loop {
            let mut next = RawClient::connect(server.addr()).await;
            if next.call(&[b"PING"]).await == "+PONG⏎" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    server.shutdown().await;
}
