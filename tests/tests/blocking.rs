//! XREAD and XREADGROUP with BLOCK: woken by writes from other connections, timing out with
//! nil, cleaned up when the client leaves.

use std::time::{Duration, Instant};

use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;
use rill_tests::{within, RawClient, TestServer};

const QUIET: Duration = Duration::from_millis(150);

async fn blocked_clients(server: &TestServer) -> String {
    let mut client = RawClient::connect(server.addr()).await;
    let info = client.call(&[b"INFO", b"clients"]).await;
    info.split('⏎')
        .find(|line| line.starts_with("blocked_clients:"))
        .expect("blocked_clients line")
        .to_owned()
}

async fn wait_for_blocked(server: &TestServer, expected: usize) {
    let line = format!("blocked_clients:{expected}");
    within("blocked clients count", async {
        while blocked_clients(server).await != line {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn xread_block_is_woken_by_xadd_on_another_connection() {
    let server = TestServer::start().await;
    let mut reader = RawClient::connect(server.addr()).await;
    reader
        .send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"])
        .await;
    wait_for_blocked(&server, 1).await;
    assert!(
        reader.nothing_within(QUIET).await,
        "blocks while the stream has nothing new"
    );

    let mut writer = RawClient::connect(server.addr()).await;
    assert_eq!(
        writer.call(&[b"XADD", b"s", b"5-1", b"f", b"v"]).await,
        "$3⏎5-1⏎"
    );
    let reply = reader.read_reply().await.expect("woken");
    assert_eq!(
        rill_tests::show(&reply),
        "*1⏎*2⏎$1⏎s⏎*1⏎*2⏎$3⏎5-1⏎*2⏎$1⏎f⏎$1⏎v⏎"
    );
    wait_for_blocked(&server, 0).await;
    server.shutdown().await;
}

#[tokio::test]
async fn xread_block_dollar_keeps_its_target_across_wakeups() {
    let server = TestServer::start().await;
    let mut writer = RawClient::connect(server.addr()).await;
    writer.call(&[b"XADD", b"s", b"1-1", b"old", b"x"]).await;
    let mut reader = RawClient::connect(server.addr()).await;
    reader
        .send_command(&[
            b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"other", b"$", b"$",
        ])
        .await;
    wait_for_blocked(&server, 1).await;
    // A write to another key does not wake it; a write to `other` does, and only the new entry
    // is delivered.
    writer
        .call(&[b"XADD", b"unrelated", b"1-1", b"f", b"v"])
        .await;
    assert!(reader.nothing_within(QUIET).await);
    writer
        .call(&[b"XADD", b"other", b"2-1", b"new", b"y"])
        .await;
    let reply = rill_tests::show(&reader.read_reply().await.expect("woken"));
    assert_eq!(reply, "*1⏎*2⏎$5⏎other⏎*1⏎*2⏎$3⏎2-1⏎*2⏎$3⏎new⏎$1⏎y⏎");
    server.shutdown().await;
}

#[tokio::test]
async fn xread_block_times_out_with_nil_in_both_protocols() {
    let server = TestServer::start().await;
    let mut resp2 = RawClient::connect(server.addr()).await;
    let started = Instant::now();
    assert_eq!(
        resp2
            .call(&[b"XREAD", b"BLOCK", b"100", b"STREAMS", b"s", b"$"])
            .await,
        "*-1⏎"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "waited the full timeout"
    );

    let mut resp3 = RawClient::connect(server.addr()).await;
    resp3.protocol = 3;
    assert!(resp3.call(&[b"HELLO", b"3"]).await.starts_with("%7"));
    let started = Instant::now();
    assert_eq!(
        resp3
            .call(&[b"XREAD", b"BLOCK", b"100", b"STREAMS", b"s", b"$"])
            .await,
        "_⏎"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    wait_for_blocked(&server, 0).await;
    server.shutdown().await;
}

#[tokio::test]
async fn xreadgroup_block_is_woken_and_records_the_delivery() {
    let server = TestServer::start().await;
    let mut admin = RawClient::connect(server.addr()).await;
    assert_eq!(
        admin
            .call(&[b"XGROUP", b"CREATE", b"jobs", b"workers", b"$", b"MKSTREAM"])
            .await,
        "+OK⏎"
    );
    let mut consumer = RawClient::connect(server.addr()).await;
    let timed_out = consumer
        .call(&[
            b"XREADGROUP",
            b"GROUP",
            b"workers",
            b"w1",
            b"BLOCK",
            b"100",
            b"STREAMS",
            b"jobs",
            b">",
        ])
        .await;
    assert_eq!(
        timed_out, "*-1⏎",
        "a group read times out with a null array too"
    );
    consumer
        .send_command(&[
            b"XREADGROUP",
            b"GROUP",
            b"workers",
            b"w1",
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"jobs",
            b">",
        ])
        .await;
    wait_for_blocked(&server, 1).await;
    assert!(consumer.nothing_within(QUIET).await);
    admin
        .call(&[b"XADD", b"jobs", b"7-0", b"task", b"t1"])
        .await;
    let reply = rill_tests::show(&consumer.read_reply().await.expect("woken"));
    assert_eq!(reply, "*1⏎*2⏎$4⏎jobs⏎*1⏎*2⏎$3⏎7-0⏎*2⏎$4⏎task⏎$2⏎t1⏎");
    let pending = admin.call(&[b"XPENDING", b"jobs", b"workers"]).await;
    assert_eq!(pending, "*4⏎:1⏎$3⏎7-0⏎$3⏎7-0⏎*1⏎*2⏎$2⏎w1⏎$1⏎1⏎");
    server.shutdown().await;
}

#[tokio::test]
async fn two_consumers_blocked_on_one_group_each_get_one_entry() {
    let server = TestServer::start().await;
    let mut admin = RawClient::connect(server.addr()).await;
    admin
        .call(&[b"XGROUP", b"CREATE", b"jobs", b"g", b"$", b"MKSTREAM"])
        .await;
    let mut a = RawClient::connect(server.addr()).await;
    let mut b = RawClient::connect(server.addr()).await;
    for (client, name) in [(&mut a, &b"a"[..]), (&mut b, &b"b"[..])] {
        client
            .send_command(&[
                b"XREADGROUP",
                b"GROUP",
                b"g",
                name,
                b"COUNT",
                b"1",
                b"BLOCK",
                b"0",
                b"STREAMS",
                b"jobs",
                b">",
            ])
            .await;
    }
    wait_for_blocked(&server, 2).await;
    admin.call(&[b"XADD", b"jobs", b"1-0", b"n", b"1"]).await;
    // Exactly one consumer gets the entry; the other keeps waiting (and is not spinning on
    // empty retries that wake each other).
    let (first, second) = tokio::select! {
        reply = a.read_reply() => (reply, &mut b),
        reply = b.read_reply() => (reply, &mut a),
    };
    assert!(rill_tests::show(&first.expect("one is woken")).contains("1-0"));
    assert!(second.nothing_within(QUIET).await, "the other still waits");
    wait_for_blocked(&server, 1).await;
    admin.call(&[b"XADD", b"jobs", b"2-0", b"n", b"2"]).await;
    assert!(rill_tests::show(&second.read_reply().await.expect("then the other")).contains("2-0"));
    server.shutdown().await;
}

#[tokio::test]
async fn requests_pipelined_behind_a_blocked_read_wait_their_turn() {
    let server = TestServer::start().await;
    let mut reader = RawClient::connect(server.addr()).await;
    let mut pipeline = rill_tests::encode_command(&[b"PING"]);
    pipeline.extend(rill_tests::encode_command(&[
        b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$",
    ]));
    pipeline.extend(rill_tests::encode_command(&[b"ECHO", b"after"]));
    reader.send(&pipeline).await;
    assert_eq!(
        rill_tests::show(&reader.read_reply().await.expect("PING first")),
        "+PONG⏎"
    );
    assert!(
        reader.nothing_within(QUIET).await,
        "ECHO waits behind the blocked XREAD"
    );
    let mut writer = RawClient::connect(server.addr()).await;
    writer.call(&[b"XADD", b"s", b"1-1", b"f", b"v"]).await;
    assert!(rill_tests::show(&reader.read_reply().await.expect("XREAD")).contains("1-1"));
    assert_eq!(
        rill_tests::show(&reader.read_reply().await.expect("ECHO")),
        "$5⏎after⏎"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_leaves_while_blocked_is_cleaned_up() {
    let server = TestServer::start().await;
    let mut reader = RawClient::connect(server.addr()).await;
    reader
        .send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"])
        .await;
    wait_for_blocked(&server, 1).await;
    drop(reader);
    wait_for_blocked(&server, 0).await;
    // Writes to the key still work and wake nobody.
    let mut writer = RawClient::connect(server.addr()).await;
    assert_eq!(
        writer.call(&[b"XADD", b"s", b"1-1", b"f", b"v"]).await,
        "$3⏎1-1⏎"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_leaves_with_a_full_query_buffer_while_blocked_is_cleaned_up() {
    let server = TestServer::start_with(|config| {
        config.limits.blocked_clients_max = 1;
        config.limits.query_buffer_bytes_max = 4096;
        config.limits.bulk_bytes_max = 1024;
        config.limits.inline_request_bytes_max = 1024;
    })
    .await;
    let mut reader = RawClient::connect(server.addr()).await;
    reader
        .send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"k", b"$"])
        .await;
    wait_for_blocked(&server, 1).await;
    // 64 KiB of pipelined PINGs: far past the 4 KiB query buffer (and one 16 KiB read), so the
    // server stops reading with input still unread, yet small enough for the kernel buffers to
    // take all of it and the FIN behind it.
    let ping = rill_tests::encode_command(&[b"PING"]);
    let flood: Vec<u8> = ping.repeat((64 << 10) / ping.len());
    reader.send(&flood).await;
    drop(reader);
    wait_for_blocked(&server, 0).await;
    // The slot is free again: with blocked_clients_max = 1 a new client may block.
    let mut next = RawClient::connect(server.addr()).await;
    next.send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"k", b"$"])
        .await;
    wait_for_blocked(&server, 1).await;
    assert!(next.nothing_within(QUIET).await, "blocked, not refused");
    server.shutdown().await;
}

#[tokio::test]
async fn blocked_clients_are_capped() {
    let server = TestServer::start_with(|config| config.limits.blocked_clients_max = 1).await;
    let mut first = RawClient::connect(server.addr()).await;
    first
        .send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"])
        .await;
    wait_for_blocked(&server, 1).await;
    let mut second = RawClient::connect(server.addr()).await;
    assert_eq!(
        second
            .call(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"])
            .await,
        "-ERR max number of blocked clients reached (blocked_clients_max is 1)⏎"
    );
    // A read that has data does not wait, so it is not refused... once the cap frees.
    drop(first);
    wait_for_blocked(&server, 0).await;
    second.call(&[b"XADD", b"s", b"1-1", b"f", b"v"]).await;
    assert!(second
        .call(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"0"])
        .await
        .contains("1-1"));
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_blocked_clients() {
    let server = TestServer::start().await;
    let mut reader = RawClient::connect(server.addr()).await;
    reader
        .send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"])
        .await;
    wait_for_blocked(&server, 1).await;
    server.shutdown().await;
    assert_eq!(
        reader.read_until_closed().await,
        b"",
        "closed without a reply"
    );
}

#[tokio::test]
async fn redis_rs_blocking_reads_in_both_protocols() {
    let server = TestServer::start().await;
    for url in [server.url(), server.url_resp3()] {
        let client = redis::Client::open(url.as_str()).expect("url");
        let mut reader = within("connect", client.get_multiplexed_async_connection())
            .await
            .expect("connects");
        let mut writer = within("connect", client.get_multiplexed_async_connection())
            .await
            .expect("connects");
        let key = format!("rs-{}", url.len());
        let options = StreamReadOptions::default().block(100);
        let timed_out: Option<StreamReadReply> =
            within("timeout", reader.xread_options(&[&key], &["$"], &options))
                .await
                .expect("xread");
        assert!(timed_out.is_none(), "{url}: a timeout is nil");

        let options = StreamReadOptions::default().block(0);
        let blocked = tokio::spawn(async move {
            let reply: Option<StreamReadReply> = reader
                .xread_options(&[&key], &["$"], &options)
                .await
                .expect("xread");
            reply
        });
        wait_for_blocked(&server, 1).await;
        let key = format!("rs-{}", url.len());
        let _: String = writer.xadd(&key, "*", &[("f", "v")]).await.expect("xadd");
        let reply = within("woken", blocked)
            .await
            .expect("task")
            .expect("entries");
        assert_eq!(reply.keys[0].ids.len(), 1, "{url}");
    }
    server.shutdown().await;
}

/// FLUSHALL wakes a client blocked in XREADGROUP, which then answers NOGROUP (its stream and
/// group are gone), as Redis's `Blocking XREADGROUP: flushed DB` test expects; a transaction
/// that flushes does the same.
#[tokio::test]
async fn flushall_wakes_blocked_group_readers_with_nogroup() {
    let server = TestServer::start().await;
    let mut writer = RawClient::connect(server.addr()).await;
    for in_transaction in [false, true] {
        writer.call(&[b"XADD", b"s", b"*", b"f", b"v"]).await;
        writer.call(&[b"XGROUP", b"CREATE", b"s", b"g", b"$"]).await;
        let mut reader = RawClient::connect(server.addr()).await;
        reader
            .send_command(&[
                b"XREADGROUP",
                b"GROUP",
                b"g",
                b"c",
                b"BLOCK",
                b"0",
                b"STREAMS",
                b"s",
                b">",
            ])
            .await;
        wait_for_blocked(&server, 1).await;
        if in_transaction {
            assert_eq!(writer.call(&[b"MULTI"]).await, "+OK⏎");
            assert_eq!(writer.call(&[b"FLUSHDB"]).await, "+QUEUED⏎");
            assert_eq!(writer.call(&[b"EXEC"]).await, "*1⏎+OK⏎");
        } else {
            assert_eq!(writer.call(&[b"FLUSHALL"]).await, "+OK⏎");
        }
        let reply = reader.read_reply().await.expect("woken");
        assert!(
            rill_tests::show(&reply).starts_with("-NOGROUP"),
            "{}",
            rill_tests::show(&reply)
        );
        wait_for_blocked(&server, 0).await;
    }
    server.shutdown().await;
}
