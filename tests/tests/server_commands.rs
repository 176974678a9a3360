//! The server's own commands over a real socket, byte for byte.

use expect_test::expect;
use rill_tests::{check, RawClient, TestServer};

#[tokio::test]
async fn connection_commands() {
    let server = TestServer::start().await;
    check(
        server.addr(),
        r#"
        PING
        PING "hello world"
        PING a b
        ECHO x
        SELECT 0
        SELECT 1
        CLIENT SETNAME app
        CLIENT GETNAME
        CLIENT SETINFO LIB-NAME redis-py
        CLIENT ID
        COMMAND COUNT
        COMMAND INFO xlen
        COMMAND DOCS xlen
        CONFIG GET save
        CONFIG GET appendonly
        DBSIZE
        FOO bar baz
        get k
        XADD
        "#,
        expect![[r#"
            PING
              +PONG⏎
            PING "hello world"
              $11⏎hello world⏎
            PING a b
              -ERR wrong number of arguments for 'ping' command⏎
            ECHO x
              $1⏎x⏎
            SELECT 0
              +OK⏎
            SELECT 1
              -ERR DB index is out of range⏎
            CLIENT SETNAME app
              +OK⏎
            CLIENT GETNAME
              $3⏎app⏎
            CLIENT SETINFO LIB-NAME redis-py
              +OK⏎
            CLIENT ID
              :1⏎
            COMMAND COUNT
              :50⏎
            COMMAND INFO xlen
              *1⏎*10⏎$4⏎xlen⏎:2⏎*2⏎+readonly⏎+fast⏎:1⏎:1⏎:1⏎*3⏎+@read⏎+@stream⏎+@fast⏎*0⏎*1⏎*6⏎$5⏎flags⏎*1⏎+RO⏎$12⏎begin_search⏎*4⏎$4⏎type⏎$5⏎index⏎$4⏎spec⏎*2⏎$5⏎index⏎:1⏎$9⏎find_keys⏎*4⏎$4⏎type⏎$5⏎range⏎$4⏎spec⏎*6⏎$7⏎lastkey⏎:0⏎$7⏎keystep⏎:1⏎$5⏎limit⏎:0⏎*0⏎
            COMMAND DOCS xlen
              *2⏎$4⏎xlen⏎*10⏎$7⏎summary⏎$31⏎Counts the entries of a stream.⏎$5⏎since⏎$5⏎5.0.0⏎$5⏎group⏎$6⏎stream⏎$10⏎complexity⏎$4⏎O(1)⏎$9⏎arguments⏎*1⏎*8⏎$4⏎name⏎$3⏎key⏎$4⏎type⏎$3⏎key⏎$12⏎display_text⏎$3⏎key⏎$14⏎key_spec_index⏎:0⏎
            CONFIG GET save
              *2⏎$4⏎save⏎$0⏎⏎
            CONFIG GET appendonly
              *2⏎$10⏎appendonly⏎$3⏎yes⏎
            DBSIZE
              :0⏎
            FOO bar baz
              -ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' ⏎
            get k
              -ERR unknown command 'get', with args beginning with: 'k' ⏎
            XADD
              -ERR wrong number of arguments for 'xadd' command⏎
        "#]],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn hello_switches_the_protocol_per_connection() {
    let server = TestServer::start().await;
    check(
        server.addr(),
        r#"
        XADD s 1-1 f v
        XREAD STREAMS s 0
        XREAD STREAMS s 1-1
        CLIENT GETNAME
        HELLO 3
        XREAD STREAMS s 0
        XREAD STREAMS s 1-1
        CLIENT GETNAME
        CONFIG GET save
        HELLO 4
        PING
        HELLO 2
        XREAD STREAMS s 1-1
        "#,
        expect![[r#"
            XADD s 1-1 f v
              $3⏎1-1⏎
            XREAD STREAMS s 0
              *1⏎*2⏎$1⏎s⏎*1⏎*2⏎$3⏎1-1⏎*2⏎$1⏎f⏎$1⏎v⏎
            XREAD STREAMS s 1-1
              *-1⏎
            CLIENT GETNAME
              $-1⏎
            HELLO 3
              %7⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.8.0⏎$5⏎proto⏎:3⏎$2⏎id⏎:1⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
            XREAD STREAMS s 0
              %1⏎$1⏎s⏎*1⏎*2⏎$3⏎1-1⏎*2⏎$1⏎f⏎$1⏎v⏎
            XREAD STREAMS s 1-1
              _⏎
            CLIENT GETNAME
              _⏎
            CONFIG GET save
              %1⏎$4⏎save⏎$0⏎⏎
            HELLO 4
              -NOPROTO unsupported protocol version⏎
            PING
              +PONG⏎
            HELLO 2
              *14⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.8.0⏎$5⏎proto⏎:2⏎$2⏎id⏎:1⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
            XREAD STREAMS s 1-1
              *-1⏎
        "#]],
    )
    .await;
    // Another connection is still RESP2.
    check(
        server.addr(),
        "XREAD STREAMS s 1-1",
        expect![[r#"
        XREAD STREAMS s 1-1
          *-1⏎
    "#]],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn dbsize_counts_streams() {
    let server = TestServer::start().await;
    check(
        server.addr(),
        r#"
        DBSIZE
        XADD a 1-1 f v
        XADD b 1-1 f v
        XADD c 1-1 f v
        DEL a
        DBSIZE
        "#,
        expect![[r#"
            DBSIZE
              :0⏎
            XADD a 1-1 f v
              $3⏎1-1⏎
            XADD b 1-1 f v
              $3⏎1-1⏎
            XADD c 1-1 f v
              $3⏎1-1⏎
            DEL a
              :1⏎
            DBSIZE
              :2⏎
        "#]],
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn quit_replies_ok_then_closes() {
    let server = TestServer::start().await;
    let mut client = RawClient::connect(server.addr()).await;
    client.send(b"QUIT\r\nPING\r\n").await;
    assert_eq!(client.read_until_closed().await, b"+OK\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn info_reports_the_server_and_its_clients() {
    let server = TestServer::start().await;
    let mut client = RawClient::connect(server.addr()).await;
    // A command waits for the node to lead its cluster of one; INFO does not.
    assert_eq!(client.call(&[b"XLEN", b"s"]).await, ":0⏎");
    let info = client.call(&[b"INFO"]).await;
    assert!(info.contains("# Server⏎redis_version:8.8.0⏎"), "{info}");
    assert!(
        info.contains(&format!("tcp_port:{}⏎", server.addr().port())),
        "{info}"
    );
    assert!(
        info.contains("connected_clients:1⏎") && info.contains("blocked_clients:0⏎"),
        "{info}"
    );
    assert!(info.contains("# Replication⏎role:master⏎"), "{info}");
    assert!(info.contains("# Streams⏎streams:0⏎"), "{info}");
    // The streams section counts streams, entries, groups and pending entries.
    for line in [
        "XADD a 1-1 f v",
        "XADD a 2-1 f v",
        "XADD b 1-1 f v",
        "XGROUP CREATE a g1 0",
        "XGROUP CREATE a g2 0",
        "XREADGROUP GROUP g1 c STREAMS a >",
    ] {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        client.call(&args).await;
    }
    let streams = client.call(&[b"INFO", b"streams"]).await;
    assert_eq!(
        streams,
        "$96⏎# Streams⏎streams:2⏎stream_entries:3⏎stream_groups:2⏎stream_pending:2⏎streams_partial:0⏎⏎⏎"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_password_is_required_once_configured() {
    let server = rill_tests::TestServer::start_with(|config| {
        config.requirepass = Some("s3cret".to_owned());
    })
    .await;
    let mut client = rill_tests::RawClient::connect(server.addr()).await;
    assert_eq!(
        client.call(&[b"XLEN", b"s"]).await,
        "-NOAUTH Authentication required.⏎"
    );
    assert_eq!(
        client.call(&[b"PING"]).await,
        "-NOAUTH Authentication required.⏎"
    );
    assert_eq!(
        client.call(&[b"AUTH", b"wrong"]).await,
        "-WRONGPASS invalid username-password pair or user is disabled.⏎"
    );
    assert_eq!(
        client.call(&[b"AUTH", b"someone", b"s3cret"]).await,
        "-WRONGPASS invalid username-password pair or user is disabled.⏎",
        "only the default user exists"
    );
    assert_eq!(client.call(&[b"AUTH", b"s3cret"]).await, "+OK⏎");
    assert_eq!(client.call(&[b"XLEN", b"s"]).await, ":0⏎");

    let mut hello = rill_tests::RawClient::connect(server.addr()).await;
    assert!(hello
        .call(&[b"HELLO", b"2"])
        .await
        .starts_with("-NOAUTH HELLO must be called"));
    let reply = hello
        .call(&[b"HELLO", b"2", b"AUTH", b"default", b"s3cret"])
        .await;
    assert!(reply.contains("proto"), "{reply}");
    assert_eq!(hello.call(&[b"PING"]).await, "+PONG⏎");

    // redis-rs with the password in the URL.
    let url = format!("redis://:s3cret@{}/", server.addr());
    let client = redis::Client::open(url).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .expect("PING");
    assert_eq!(pong, "PONG");
    server.shutdown().await;
}

#[tokio::test]
async fn auth_without_a_password_is_redis_s_error() {
    let server = rill_tests::TestServer::start().await;
    let mut client = rill_tests::RawClient::connect(server.addr()).await;
    let reply = client.call(&[b"AUTH", b"x"]).await;
    assert!(
        reply.starts_with("-ERR AUTH <password> called without any password configured"),
        "{reply}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn client_list_shows_every_connection_with_its_name() {
    let server = TestServer::start().await;
    let mut first = RawClient::connect(server.addr()).await;
    let mut second = RawClient::connect(server.addr()).await;
    assert_eq!(
        first.call(&[b"CLIENT", b"SETNAME", b"producer"]).await,
        "+OK⏎"
    );
    assert_eq!(
        second
            .call(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"redis-py"])
            .await,
        "+OK⏎"
    );
    let list = first.call(&[b"CLIENT", b"LIST"]).await;
    assert!(list.contains(" name=producer "), "{list}");
    assert!(list.contains(" lib-name=redis-py "), "{list}");
    assert_eq!(list.matches("id=").count(), 2, "{list}");
    drop(second);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let list = first.call(&[b"CLIENT", b"LIST"]).await;
    assert_eq!(
        list.matches("id=").count(),
        1,
        "a closed connection leaves the list: {list}"
    );
    server.shutdown().await;
}

/// CLIENT UNBLOCK ends another connection's blocked read, as a timeout (a null reply) or with
/// `-UNBLOCKED`; it answers 0 for a client that is not blocked. CLIENT KILL closes the named
/// connection, blocked or not, and by default not the caller's own.
#[tokio::test]
async fn client_unblock_and_kill_reach_other_connections() {
    let server = TestServer::start().await;
    let mut admin = RawClient::connect(server.addr()).await;
    let mut blocked = RawClient::connect(server.addr()).await;
    let id = blocked.call(&[b"CLIENT", b"ID"]).await;
    let id = id.trim_start_matches(':').trim_end_matches('⏎').to_owned();
    assert_eq!(
        admin.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await,
        ":0⏎",
        "not blocked yet"
    );
    for (how, reply) in [
        (&b"TIMEOUT"[..], "*-1⏎"),
        (b"ERROR", "-UNBLOCKED client unblocked via CLIENT UNBLOCK⏎"),
    ] {
        blocked
            .send_command(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"])
            .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let list = admin.call(&[b"CLIENT", b"LIST"]).await;
            if list.contains(&format!("id={id} ")) && list.contains("flags=b") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never blocked: {list}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(
            admin
                .call(&[b"CLIENT", b"UNBLOCK", id.as_bytes(), how])
                .await,
            ":1⏎"
        );
        let answer = blocked.read_reply().await.expect("a reply");
        assert_eq!(rill_tests::show(&answer), reply);
    }
    assert_eq!(blocked.call(&[b"PING"]).await, "+PONG⏎", "still connected");

    let own = admin_id(&mut admin).await;
    assert_eq!(
        admin
            .call(&[b"CLIENT", b"KILL", b"ID", own.as_bytes()])
            .await,
        ":0⏎",
        "SKIPME yes by default"
    );
    assert_eq!(
        admin
            .call(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()])
            .await,
        ":1⏎"
    );
    let rest = blocked.read_until_closed().await;
    assert!(rest.is_empty(), "closed without a reply: {rest:?}");
    assert_eq!(admin.call(&[b"PING"]).await, "+PONG⏎");
    server.shutdown().await;
}

async fn admin_id(client: &mut RawClient) -> String {
    let id = client.call(&[b"CLIENT", b"ID"]).await;
    id.trim_start_matches(':').trim_end_matches('⏎').to_owned()
}

/// WAIT on the leader counts the followers holding every write acknowledged so far; asking
/// for more replicas than exist waits out the timeout. A follower answers what the commit
/// rule guarantees (quorum - 1). WAITAOF adds this node's own fsync (off in these tests, so
/// `numlocal 1` is refused as Redis refuses it without `appendonly`).
#[tokio::test]
async fn wait_counts_the_replicas_that_hold_the_writes() {
    let cluster = rill_tests::TestCluster::start(3, |_| {}).await;
    let leader = cluster.wait_leader().await;
    let follower = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower");
    let mut client = RawClient::connect(cluster.handle(leader).addr()).await;
    let added = client.call(&[b"XADD", b"s", b"*", b"f", b"v"]).await;
    assert!(added.starts_with('$'), "{added}");
    assert_eq!(client.call(&[b"WAIT", b"2", b"5000"]).await, ":2⏎");
    let started = std::time::Instant::now();
    assert_eq!(client.call(&[b"WAIT", b"3", b"200"]).await, ":2⏎");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(200),
        "waited out the timeout"
    );
    assert_eq!(
        client.call(&[b"WAITAOF", b"0", b"2", b"1000"]).await,
        "*2⏎:0⏎:2⏎"
    );
    assert_eq!(
        client.call(&[b"WAITAOF", b"1", b"0", b"0"]).await,
        "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.⏎"
    );
    let mut via_follower = RawClient::connect(cluster.handle(follower).addr()).await;
    via_follower.call(&[b"XADD", b"s", b"*", b"f", b"v"]).await;
    assert_eq!(via_follower.call(&[b"WAIT", b"1", b"0"]).await, ":1⏎");
}
