//! The same bytes to Rill and to a real Redis 7.0 must get the same bytes back, for the
//! server's own commands and for framing errors. Left out on purpose: HELLO's map (server
//! name, version), CONFIG values, CLIENT SETINFO (Redis 7.2), `SELECT 1` (Rill has one
//! database) and commands Rill does not have (`GET`). FUNCTION answers as a Redis with no
//! functions loaded does.

use rill_tests::{run_script, show, RawClient, RedisServer, TestServer};

#[tokio::test]
async fn server_commands_answer_like_redis() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let rill = TestServer::start().await;
    let script = r#"
        PING
        PING "hello world"
        PING a b
        ECHO
        ECHO x
        SELECT 0
        SELECT x
        SELECT 0 1
        CLIENT GETNAME
        CLIENT SETNAME app
        CLIENT GETNAME
        CLIENT SETNAME "a b"
        CLIENT SETNAME
        CLIENT GETNAME x
        CLIENT FOO
        FUNCTION FLUSH
        FUNCTION FLUSH ASYNC
        FUNCTION FLUSH sync
        FUNCTION FLUSH lazy
        FUNCTION FLUSH ASYNC SYNC
        FUNCTION LIST
        FUNCTION FOO
        FUNCTION
        CLIENT
        COMMAND FOO
        COMMAND COUNT x
        CONFIG GET save
        CONFIG GET nosuch
        CONFIG GET
        CONFIG FOO
        DBSIZE
        DBSIZE x
        FOO a b c
        HELLO 4
        HELLO x
        HELLO 2 FOO
        HELLO 3 AUTH user
        HELLO 2 SETNAME "a b"
        "#;
    let expected = run_script(redis.addr(), script).await;
    assert_eq!(run_script(rill.addr(), script).await, expected);
    rill.shutdown().await;
}

#[tokio::test]
async fn resp3_server_replies_look_like_redis() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let rill = TestServer::start().await;
    let mut replies = Vec::new();
    for addr in [redis.addr(), rill.addr()] {
        let mut client = RawClient::connect(addr).await;
        client.protocol = 3;
        assert!(client.call(&[b"HELLO", b"3"]).await.starts_with("%7⏎"));
        let mut shown = Vec::new();
        for command in [
            &[&b"CLIENT"[..], b"GETNAME"][..],
            &[b"CONFIG", b"GET", b"save"],
            &[b"PING"],
            &[b"ECHO", b"x"],
        ] {
            shown.push(client.call(command).await);
        }
        replies.push(shown);
    }
    assert_eq!(replies[1], replies[0]);
    rill.shutdown().await;
}

#[tokio::test]
async fn framing_errors_answer_like_redis() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let rill = TestServer::start().await;
    let long_inline = vec![b'x'; 70_000];
    let cases: Vec<&[u8]> = vec![
        b"*1\r\n$1073741824\r\n",
        b"*x\r\n",
        b"*\r\n",
        b"*1\r\n$x\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n:5\r\n",
        b"*1\r\n+PING\r\n",
        b"PING\r\n*1\r\n$4\r\nPING\r\n*3000000000\r\n",
        b"SET \"unbalanced\r\n",
        b"*0\r\n*-1\r\n\r\n  \r\nPING\r\nQUIT\r\n",
        &long_inline,
    ];
    for input in cases {
        let mut answers = Vec::new();
        for addr in [redis.addr(), rill.addr()] {
            let mut client = RawClient::connect(addr).await;
            client.send(input).await;
            answers.push(show(&client.read_until_closed().await));
        }
        assert_eq!(
            answers[1],
            answers[0],
            "input {:?}",
            show(&input[..input.len().min(40)])
        );
    }
    rill.shutdown().await;
}

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH and FLUSHALL, byte for byte as Redis answers them:
/// queuing, what aborts a transaction (an unknown command, a wrong arity or subcommand) and
/// what only fails inside EXEC (a bad ID), a watched key changed by the same client, server
/// commands queued beside stream commands, and the misuse errors.
#[tokio::test]
async fn transactions_answer_like_redis() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let rill = TestServer::start().await;
    let script = r#"
        EXEC
        DISCARD
        UNWATCH
        MULTI
        MULTI
        WATCH s
        XADD s 1-1 a 1
        XADD s 1-1 b 2
        XLEN s
        PING
        ECHO hi
        EXEC
        MULTI
        XADD s 2-1 a 1
        NOSUCH x
        XLEN
        EXEC
        XLEN s
        MULTI
        XADD s 3-1 a 1
        DISCARD
        XLEN s
        WATCH s
        XADD s 4-1 a 1
        MULTI
        XLEN s
        EXEC
        WATCH s
        UNWATCH
        XADD s 5-1 a 1
        MULTI
        XLEN s
        EXEC
        WATCH nosuch s
        MULTI
        XLEN nosuch
        XRANGE s 5-1 +
        EXEC
        MULTI
        XGROUP FOO
        EXEC
        MULTI
        XADD s bad a 1
        XREAD BLOCK 100 STREAMS s $
        XINFO FOO
        EXEC
        MULTI
        EXEC
        WATCH s
        FLUSHALL
        MULTI
        XLEN s
        EXEC
        FLUSHALL ASYNC
        FLUSHDB SYNC
        FLUSHALL x
        FLUSHDB a b
        DBSIZE
        "#;
    let expected = run_script(redis.addr(), script).await;
    assert_eq!(run_script(rill.addr(), script).await, expected);
    rill.shutdown().await;
}
