//! Restarting on the same directory keeps everything: entries, groups, pending entries, IDs.

use expect_test::expect;
use rill_tests::{run_script, RawClient, TestServer};

/// `rill_applied_index` from `INFO persistence`.
async fn applied_index(server: &TestServer) -> u64 {
    persistence_field(server, "rill_applied_index").await
}

/// A number from `INFO persistence`.
async fn persistence_field(server: &TestServer, name: &str) -> u64 {
    let mut client = RawClient::connect(server.addr()).await;
    let info = client.call(&[b"INFO", b"persistence"]).await;
    let line = info
        .split('⏎')
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in {info}"));
    line.parse().expect("a number")
}

#[tokio::test]
async fn data_survives_a_restart() {
    let mut server = TestServer::start_with(|config| config.fsync = true).await;
    let setup = r#"
        XADD s 1-1 f v1
        XADD s 2-1 f v2
        XADD other 5-5 g w
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice COUNT 1 STREAMS s >
        "#;
    run_script(server.addr(), setup).await;
    let inspect = r#"
        DBSIZE
        XRANGE s - +
        XLEN other
        XPENDING s g
        XINFO GROUPS s
        "#;
    let before = run_script(server.addr(), inspect).await;
    // The Raft log: the initial membership, the first leader's blank entry, then one entry per
    // write (this client waits for each reply, so no two writes share an entry); reads take
    // none.
    assert_eq!(applied_index(&server).await, 7);
    server.restart().await;
    let after = run_script(server.addr(), inspect).await;
    assert_eq!(before, after, "same state after restart");
    // Stored with the data (a new term's leader may add its blank entry on top).
    let after_restart = applied_index(&server).await;
    assert!((7..=8).contains(&after_restart), "{after_restart}");
    expect![[r#"
        DBSIZE
          :2⏎
        XRANGE s - +
          *2⏎*2⏎$3⏎1-1⏎*2⏎$1⏎f⏎$2⏎v1⏎*2⏎$3⏎2-1⏎*2⏎$1⏎f⏎$2⏎v2⏎
        XLEN other
          :1⏎
        XPENDING s g
          *4⏎:1⏎$3⏎1-1⏎$3⏎1-1⏎*1⏎*2⏎$5⏎alice⏎$1⏎1⏎
        XINFO GROUPS s
          *1⏎*12⏎$4⏎name⏎$1⏎g⏎$9⏎consumers⏎:1⏎$7⏎pending⏎:1⏎$17⏎last-delivered-id⏎$3⏎1-1⏎$12⏎entries-read⏎:1⏎$3⏎lag⏎:1⏎
    "#]]
    .assert_eq(&after);
    // New writes continue after the old ones.
    let more = run_script(server.addr(), "XADD s 2-1 f again\nXADD s 3-1 f v3\nXLEN s").await;
    expect![[r#"
        XADD s 2-1 f again
          -ERR The ID specified in XADD is equal or smaller than the target stream top item⏎
        XADD s 3-1 f v3
          $3⏎3-1⏎
        XLEN s
          :3⏎
    "#]]
    .assert_eq(&more);
    // A refused XADD is still an applied command: two more entries (three if the blank
    // entry of the new term landed after the first INFO).
    let applied = applied_index(&server).await;
    assert!(
        (after_restart + 2..=after_restart + 3).contains(&applied),
        "{after_restart} then {applied}"
    );
    server.shutdown().await;
}

/// `INFO persistence` counts applied commands and fsynced writes: with the applied index they
/// give commands per log entry and fsyncs per entry (what `scripts/bench-cluster.sh` prints).
#[tokio::test]
async fn info_counts_applied_commands_and_fsyncs() {
    let server = TestServer::start_with(|config| config.fsync = true).await;
    run_script(server.addr(), "XADD s * f v").await;
    let (entries, commands, fsyncs) = (
        applied_index(&server).await,
        persistence_field(&server, "rill_applied_commands").await,
        persistence_field(&server, "rill_synced_writes").await,
    );
    // One entry per write: this client waits for each reply.
    run_script(server.addr(), "XADD s * f v\nXADD s * f v\nXLEN s").await;
    assert_eq!(applied_index(&server).await, entries + 2);
    assert_eq!(
        persistence_field(&server, "rill_applied_commands").await,
        commands + 2,
        "XLEN is a read: not applied"
    );
    let more_fsyncs = persistence_field(&server, "rill_synced_writes").await - fsyncs;
    assert!(more_fsyncs >= 2, "each entry is fsynced: {more_fsyncs}");
    server.shutdown().await;
}
