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
              :47⏎
            COMMAND INFO xlen
              *1⏎*10⏎$4⏎xlen⏎:2⏎*2⏎+readonly⏎+fast⏎:1⏎:1⏎:1⏎*3⏎+@read⏎+@stream⏎+@fast⏎*0⏎*0⏎*0⏎
            COMMAND DOCS xlen
              *0⏎
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
              %7⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.6.0⏎$5⏎proto⏎:3⏎$2⏎id⏎:1⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
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
              *14⏎$6⏎server⏎$4⏎rill⏎$7⏎version⏎$5⏎8.6.0⏎$5⏎proto⏎:2⏎$2⏎id⏎:1⏎$4⏎mode⏎$10⏎standalone⏎$4⏎role⏎$6⏎master⏎$7⏎modules⏎*0⏎
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
    assert!(info.contains("# Server⏎redis_version:8.6.0⏎"), "{info}");
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
