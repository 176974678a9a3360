//! Malformed, oversized and pipelined input on raw sockets: an error reply or a close, never a
//! hang, and the server keeps serving everyone else.

use std::time::Duration;

use rill_tests::{encode_command, show, within, RawClient, TestServer};
use tokio::io::AsyncWriteExt;

/// Sends `input` on a fresh connection and returns everything the server answered before it
/// closed the connection (or before it went quiet after our side closed its writes).
async fn answer_to(server: &TestServer, input: &[u8]) -> String {
    let mut client = RawClient::connect(server.addr()).await;
    client.send(input).await;
    show(&client.read_until_closed().await)
}

/// A separate client still gets answers.
async fn assert_still_serving(server: &TestServer) {
    let mut client = RawClient::connect(server.addr()).await;
    assert_eq!(client.call(&[b"PING"]).await, "+PONG⏎");
}

#[tokio::test]
async fn oversized_bulk_header_is_rejected_before_its_payload() {
    let server = TestServer::start().await;
    // Only the header is sent: the server must answer without waiting for the gigabyte.
    assert_eq!(
        answer_to(&server, b"*1\r\n$1073741824\r\n").await,
        "-ERR Protocol error: invalid bulk length⏎"
    );
    assert_eq!(
        answer_to(&server, b"*2\r\n$4\r\nECHO\r\n$16777217\r\n").await,
        "-ERR Protocol error: invalid bulk length⏎"
    );
    assert_still_serving(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn too_many_arguments_are_rejected_at_the_header() {
    let server = TestServer::start().await;
    assert_eq!(
        answer_to(&server, b"*2000000\r\n").await,
        "-ERR Protocol error: invalid multibulk length⏎"
    );
    assert_still_serving(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_redis_errors_then_close() {
    let server = TestServer::start().await;
    let cases: &[(&[u8], &str)] = &[
        (
            b"*1\r\n:5\r\n",
            "-ERR Protocol error: expected '$', got ':'⏎",
        ),
        (b"*x\r\n", "-ERR Protocol error: invalid multibulk length⏎"),
        (
            b"*1\r\n$-1\r\n",
            "-ERR Protocol error: invalid bulk length⏎",
        ),
        (
            b"*1\r\n$4\r\nPINGxx",
            "-ERR Protocol error: expected '\\r\\n' after bulk string⏎",
        ),
        (
            b"SET \"unbalanced\r\n",
            "-ERR Protocol error: unbalanced quotes in request⏎",
        ),
        // Replies to the requests before the bad one still arrive, in order.
        (
            b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n+PING\r\n",
            "+PONG⏎+PONG⏎-ERR Protocol error: expected '$', got '+'⏎",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            &answer_to(&server, input).await,
            expected,
            "input {:?}",
            show(input)
        );
    }
    let long_line = vec![b'x'; 70_000];
    assert_eq!(
        answer_to(&server, &long_line).await,
        "-ERR Protocol error: too big inline request⏎"
    );
    assert_still_serving(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn random_bytes_never_hang_the_server() {
    let server = TestServer::start().await;
    // A fixed xorshift sequence: the same garbage every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..40 {
        let len = 1 + (next() % 300) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if case % 2 == 0 {
            input.insert(0, b'*'); // exercise the multibulk path too
        }
        let mut stream = within("connect", tokio::net::TcpStream::connect(server.addr()))
            .await
            .expect("connects");
        within("send", stream.write_all(&input))
            .await
            .expect("send");
        // Closing our side means EOF for the server: it must finish and close, whatever it
        // made of the bytes.
        within("half-close", stream.shutdown())
            .await
            .expect("shutdown");
        let mut client_rest = Vec::new();
        within(
            "server closes",
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut client_rest),
        )
        .await
        .expect("read");
    }
    assert_still_serving(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_larger_than_the_query_buffer_is_refused() {
    let server = TestServer::start_with(|config| {
        config.limits.bulk_bytes_max = 1 << 10;
        config.limits.query_buffer_bytes_max = 4 << 10;
        config.limits.inline_request_bytes_max = 1 << 10;
    })
    .await;
    let mut client = RawClient::connect(server.addr()).await;
    let mut request = b"*100\r\n".to_vec();
    for _ in 0..10 {
        request.extend_from_slice(&encode_command(&[&[b'a'; 1000]])[4..]); // `$1000\r\n...\r\n`
    }
    client.send(&request).await;
    assert_eq!(
        show(&client.read_until_closed().await),
        "-ERR Protocol error: request exceeds the query buffer limit⏎"
    );
    assert_still_serving(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn inline_commands_work_like_telnet() {
    let server = TestServer::start().await;
    let mut client = RawClient::connect(server.addr()).await;
    client
        .send(b"PING\r\n\r\necho \"a b\"\nXADD s 1-1 f 'v w'\r\nXRANGE s - +\r\n")
        .await;
    let mut replies = Vec::new();
    for _ in 0..4 {
        replies.push(show(&client.read_reply().await.expect("reply")));
    }
    assert_eq!(
        replies,
        [
            "+PONG⏎",
            "$3⏎a b⏎",
            "$3⏎1-1⏎",
            "*1⏎*2⏎$3⏎1-1⏎*2⏎$1⏎f⏎$3⏎v w⏎"
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start().await;
    let mut client = RawClient::connect(server.addr()).await;
    // Reads and writes interleaved in one write: each XLEN must see exactly the XADDs before it.
    let mut pipeline = Vec::new();
    for i in 1..=500u32 {
        let field = i.to_string();
        pipeline.extend(encode_command(&[
            b"XADD",
            b"s",
            b"*",
            b"n",
            field.as_bytes(),
        ]));
        pipeline.extend(encode_command(&[b"XLEN", b"s"]));
        pipeline.extend(encode_command(&[b"PING"]));
    }
    client.send(&pipeline).await;
    let mut last_id = String::new();
    for i in 1..=500u32 {
        let id = show(&client.read_reply().await.expect("XADD reply"));
        assert!(id.starts_with('$'), "XADD {i} got {id}");
        assert!(
            last_id.is_empty() || stream_id(&id) > stream_id(&last_id),
            "IDs grow: {last_id} then {id}"
        );
        last_id = id;
        assert_eq!(
            show(&client.read_reply().await.expect("XLEN reply")),
            format!(":{i}⏎")
        );
        assert_eq!(
            show(&client.read_reply().await.expect("PING reply")),
            "+PONG⏎"
        );
    }
    assert!(
        client.nothing_within(Duration::from_millis(50)).await,
        "no extra replies"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_large_replies_arrive_whole_and_in_order() {
    let server = TestServer::start().await;
    let mut client = RawClient::connect(server.addr()).await;
    let value = vec![b'v'; 256 << 10];
    for seq in 1..=4u32 {
        let id = format!("1-{seq}");
        assert_eq!(
            client
                .call(&[b"XADD", b"big", id.as_bytes(), b"f", &value])
                .await,
            format!("$3⏎{id}⏎")
        );
    }
    // Six replies of about 1 MiB in one batch: the output is flushed between them.
    let mut pipeline = Vec::new();
    for _ in 0..6 {
        pipeline.extend(encode_command(&[b"XRANGE", b"big", b"-", b"+"]));
    }
    pipeline.extend(encode_command(&[b"PING"]));
    client.send(&pipeline).await;
    let first = client.read_reply().await.expect("first XRANGE");
    assert!(first.len() > 4 * value.len(), "four whole entries");
    assert!(first.starts_with(b"*4\r\n*2\r\n$3\r\n1-1\r\n"));
    for i in 2..=6 {
        let reply = client.read_reply().await.expect("XRANGE reply");
        assert!(reply == first, "XRANGE {i} matches the first");
    }
    assert_eq!(show(&client.read_reply().await.expect("PING")), "+PONG⏎");
    assert!(
        client.nothing_within(Duration::from_millis(50)).await,
        "no extra replies"
    );
    server.shutdown().await;
}

/// `$len⏎ms-seq⏎` to `(ms, seq)`.
fn stream_id(shown: &str) -> (u64, u64) {
    let id = shown.split('⏎').nth(1).expect("bulk payload");
    let (ms, seq) = id.split_once('-').expect("ms-seq");
    (ms.parse().expect("ms"), seq.parse().expect("seq"))
}
