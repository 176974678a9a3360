//! The `rill` binary against an in-process three-node cluster.

use std::process::{Command, Output};

use rill_tests::TestCluster;

async fn rill(nodes: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rill"));
    command.arg("--nodes").arg(nodes).args(args);
    tokio::task::spawn_blocking(move || command.output().expect("rill runs"))
        .await
        .expect("joined")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_commands_cluster_status_and_the_sensor_demo() {
    let cluster = TestCluster::start(3, |_| {}).await;
    cluster.wait_leader().await;
    let nodes = cluster
        .ids()
        .iter()
        .map(|&id| cluster.handle(id).grpc_addr().to_string())
        .collect::<Vec<_>>()
        .join(",");

    let added = rill(
        &nodes,
        &["xadd", "s", "1-1", "sensor_id", "3", "note", "a\"b"],
    )
    .await;
    assert_eq!(stdout(&added), "\"1-1\"\n");
    let range = rill(&nodes, &["XRANGE", "s", "-", "+"]).await;
    assert_eq!(
        stdout(&range),
        "1) 1) \"1-1\"\n   2) 1) \"sensor_id\"\n      2) \"3\"\n      3) \"note\"\n      4) \"a\\\"b\"\n"
    );
    let json = rill(&nodes, &["--json", "xrange", "s", "-", "+"]).await;
    assert_eq!(
        stdout(&json),
        "[[\"1-1\",[\"sensor_id\",\"3\",\"note\",\"a\\\"b\"]]]\n"
    );

    // A refused command: Redis's text on stderr, exit status 1.
    let refused = rill(&nodes, &["xadd", "s", "1-1", "f", "v"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "(error) ERR The ID specified in XADD is equal or smaller than the target stream top item\n"
    );
    let unknown = rill(&nodes, &["--json", "hset", "h", "f", "v"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).starts_with("{\"error\":\"ERR unknown"),
        "{unknown:?}"
    );

    let status = stdout(&rill(&nodes, &["cluster", "status"]).await);
    assert!(status.starts_with("leader: node "), "{status}");
    assert_eq!(
        status.matches("leader ").count() + status.matches("follower ").count(),
        3,
        "{status}"
    );
    let status = stdout(&rill(&nodes, &["--json", "cluster", "status"]).await);
    assert_eq!(status.matches("\"role\":\"leader\"").count(), 1, "{status}");
    assert_eq!(
        status.matches("\"role\":\"follower\"").count(),
        2,
        "{status}"
    );

    let produced = stdout(&rill(&nodes, &["produce", "--count", "300", "--rate", "0"]).await);
    assert!(
        produced.contains("produced 300 readings into sensor_stream"),
        "{produced}"
    );
    let consumed = stdout(&rill(&nodes, &["consume", "--count", "300", "--consumers", "2"]).await);
    assert!(consumed.contains("consumed 300 readings"), "{consumed}");
    assert!(consumed.contains("mean temperature"), "{consumed}");
    // Everything handled was acknowledged.
    let pending = stdout(
        &rill(
            &nodes,
            &["--json", "xpending", "sensor_stream", "sensor_group"],
        )
        .await,
    );
    assert!(pending.starts_with("[0,"), "{pending}");
    let len = stdout(&rill(&nodes, &["xlen", "sensor_stream"]).await);
    assert_eq!(len, "(integer) 300\n");
    cluster.shutdown().await;
}
