//! Who may call what, over both listeners. `127.0.0.2` stands in for another host: protected
//! mode follows Redis and serves only `127.0.0.1` and `::1` without credentials.

use std::net::{IpAddr, SocketAddr};

use rill_proto::raft::raft_client::RaftClient;
use rill_proto::raft::RaftPayload;
use rill_proto::v1::cluster_client::ClusterClient;
use rill_proto::v1::streams_client::StreamsClient;
use rill_proto::v1::{Empty, ExecuteRequest};
use rill_tests::{within, TestCluster, TestServer, DEADLINE};
use tonic::transport::Channel;
use tonic::Code;

const OTHER_HOST: &str = "127.0.0.2";

/// A gRPC channel to `addr` whose calls come from `from`.
async fn channel_from(from: &str, addr: SocketAddr) -> Channel {
    let from: IpAddr = from.parse().expect("address");
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .local_address(Some(from))
        .timeout(DEADLINE);
    within("gRPC connect", endpoint.connect())
        .await
        .expect("gRPC connects")
}

/// A Redis-protocol connection to `addr` from `from`.
async fn redis_from(from: &str, addr: SocketAddr) -> rill_tests::RawClient {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(from.parse().expect("ip"), 0))
        .expect("bind a source address");
    let stream = within("connect", socket.connect(addr))
        .await
        .expect("connects");
    rill_tests::RawClient::from_stream(stream)
}

fn with<T>(message: T, headers: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (name, value) in headers {
        let value = value.parse().expect("header value");
        request.metadata_mut().insert(*name, value);
    }
    request
}

fn ping() -> ExecuteRequest {
    ExecuteRequest {
        args: vec![b"XLEN".to_vec(), b"s".to_vec()],
        read: None,
    }
}

/// What each service answers a caller with `headers` from `from`: `None` when served.
async fn codes(
    from: &str,
    grpc: SocketAddr,
    headers: &[(&'static str, &str)],
) -> [Option<Code>; 4] {
    let channel = channel_from(from, grpc).await;
    let data = StreamsClient::new(channel.clone())
        .execute(with(ping(), headers))
        .await;
    let status = ClusterClient::new(channel.clone())
        .status(with(Empty {}, headers))
        .await;
    let admin = ClusterClient::new(channel.clone())
        .trigger_snapshot(with(Empty {}, headers))
        .await;
    // Garbage: a node that lets it through refuses it as undecodable (`InvalidArgument`).
    let garbage = RaftPayload {
        payload: vec![0xff; 16],
    };
    let peer = RaftClient::new(channel)
        .append_entries(with(garbage, headers))
        .await;
    [
        data.err().map(|s| s.code()),
        status.err().map(|s| s.code()),
        admin.err().map(|s| s.code()),
        peer.err().map(|s| s.code()),
    ]
}

#[tokio::test]
async fn without_credentials_only_local_callers_are_served_on_both_ports() {
    let server = TestServer::start().await;
    let grpc = server.grpc_addr();
    let denied = Some(Code::PermissionDenied);
    assert_eq!(
        codes(OTHER_HOST, grpc, &[]).await,
        [denied, denied, denied, denied],
        "data, status, admin and peer calls from another host"
    );
    assert_eq!(
        codes("127.0.0.1", grpc, &[]).await,
        [None, None, None, Some(Code::InvalidArgument)],
        "the same calls from 127.0.0.1"
    );
    // Health checks stay open (load balancers probe them).
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(channel_from(OTHER_HOST, grpc).await);
    let check = tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    };
    within("health check", health.check(check))
        .await
        .expect("health is open");

    // The Redis listener refuses the same caller, in Redis's words.
    let mut client = redis_from(OTHER_HOST, server.addr()).await;
    let refusal = String::from_utf8_lossy(&client.read_until_closed().await).into_owned();
    assert!(refusal.starts_with("-DENIED"), "{refusal}");
    server.shutdown().await;
}

#[tokio::test]
async fn each_credential_opens_what_it_is_for_and_nothing_else() {
    let server = TestServer::start_with(|config| {
        config.requirepass = Some("data-pw".to_owned());
        config.admin_password = Some("admin-pw".to_owned());
        config.cluster_secret = Some("peer-secret".to_owned());
    })
    .await;
    let grpc = server.grpc_addr();
    let unauthenticated = Some(Code::Unauthenticated);
    for from in [OTHER_HOST, "127.0.0.1"] {
        let all = [unauthenticated; 4];
        assert_eq!(
            codes(from, grpc, &[]).await,
            all,
            "no credential, from {from}"
        );
        let wrong = [("authorization", "Bearer nope")];
        assert_eq!(codes(from, grpc, &wrong).await, all, "a wrong password");
        let data = [("authorization", "Bearer data-pw")];
        assert_eq!(
            codes(from, grpc, &data).await,
            [None, None, unauthenticated, unauthenticated],
            "the client password, from {from}"
        );
        let admin = [("authorization", "Bearer admin-pw")];
        assert_eq!(
            codes(from, grpc, &admin).await,
            [None, None, None, unauthenticated],
            "the admin password, from {from}"
        );
        let peer = [(rill_server::CLUSTER_SECRET_HEADER, "peer-secret")];
        assert_eq!(
            codes(from, grpc, &peer).await,
            [None, None, None, Some(Code::InvalidArgument)],
            "the cluster secret, from {from}"
        );
    }

    // The Rust client sends its password; without one it is refused, not retried.
    let addr = grpc.to_string();
    let options = |password: Option<&str>| rill_client::ClientOptions {
        password: password.map(str::to_owned),
        ..rill_client::ClientOptions::default()
    };
    let client =
        rill_client::Client::connect([addr.clone()], options(Some("data-pw"))).expect("client");
    within("xadd", client.xadd(b"s", &[(b"f", b"v")]))
        .await
        .expect("an authenticated client writes");
    let anonymous = rill_client::Client::connect([addr], options(None)).expect("client");
    let refused = within("xadd", anonymous.xadd(b"s", &[(b"f", b"v")])).await;
    let refused = refused.expect_err("refused without the password");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert!(refused.to_string().contains("NOAUTH"), "{refused}");

    // The Redis listener admits the other host, and AUTH decides.
    let mut client = redis_from(OTHER_HOST, server.addr()).await;
    assert!(client.call(&[b"XLEN", b"s"]).await.starts_with("-NOAUTH"));
    assert_eq!(
        client.call(&[b"AUTH", b"admin-pw"]).await,
        "-WRONGPASS invalid username-password pair or user is disabled.⏎"
    );
    assert_eq!(client.call(&[b"AUTH", b"data-pw"]).await, "+OK⏎");
    assert_eq!(client.call(&[b"XLEN", b"s"]).await, ":1⏎");
    server.shutdown().await;
}

#[tokio::test]
async fn nodes_that_share_a_cluster_secret_replicate_and_others_are_refused() {
    let cluster = TestCluster::start(3, |config| {
        config.requirepass = Some("data-pw".to_owned());
        config.cluster_secret = Some("peer-secret".to_owned());
    })
    .await;
    let leader = cluster.wait_leader().await;
    let addrs: Vec<String> = cluster
        .ids()
        .iter()
        .map(|&id| cluster.handle(id).grpc_addr().to_string())
        .collect();
    let options = rill_client::ClientOptions {
        password: Some("data-pw".to_owned()),
        ..rill_client::ClientOptions::default()
    };
    let client = rill_client::Client::connect(addrs, options).expect("client");
    for _ in 0..20 {
        within("xadd", client.xadd(b"s", &[(b"f", b"v")]))
            .await
            .expect("write through the cluster");
    }
    cluster.assert_converged().await;

    // A node with another secret is a stranger: its vote request is refused before decoding.
    let channel = channel_from("127.0.0.1", cluster.handle(leader).grpc_addr()).await;
    let stranger = RaftClient::new(channel)
        .vote(with(
            RaftPayload {
                payload: vec![0xff; 16],
            },
            &[(rill_server::CLUSTER_SECRET_HEADER, "another-secret")],
        ))
        .await;
    assert_eq!(
        stranger.err().map(|s| s.code()),
        Some(Code::Unauthenticated)
    );
    cluster.shutdown().await;
}
