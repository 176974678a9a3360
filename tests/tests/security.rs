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
    // Addressed to any incarnation (0), or the node would answer that it is another one.
    let garbage = RaftPayload {
        payload: [[0; 8], [0xff; 8]].concat(),
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

/// A TLS client of `addr`'s Redis listener, verifying it against `ca`.
async fn redis_over_tls(
    addr: SocketAddr,
    ca: &std::path::Path,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA certificate")).expect("a root");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = within("connect", tokio::net::TcpStream::connect(addr))
        .await
        .expect("connects");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    within("TLS handshake", connector.connect(name, tcp))
        .await
        .expect("TLS handshake")
}

async fn call_over<S>(stream: &mut S, args: &[&[u8]]) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within("send", stream.write_all(&rill_tests::encode_command(args)))
        .await
        .expect("send");
    let mut reply = vec![0u8; 256];
    let n = within("reply", stream.read(&mut reply))
        .await
        .expect("read");
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_over_mutual_tls_serves_tls_clients_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = rill_client::dev_certs::write(dir.path(), &[]).expect("certificates");
    let files = rill_server::TlsFiles {
        cert: certs.cert.clone(),
        key: certs.key.clone(),
        ca: certs.ca.clone(),
    };
    let cluster = TestCluster::start(3, |config| {
        config.requirepass = Some("data-pw".to_owned());
        config.tls = Some(files.clone());
    })
    .await;
    let leader = cluster.wait_leader().await;

    // The Rust client over TLS, with the CA and a password (no client certificate).
    let addrs: Vec<String> = cluster
        .ids()
        .iter()
        .map(|&id| cluster.handle(id).grpc_addr().to_string())
        .collect();
    let options = rill_client::ClientOptions {
        password: Some("data-pw".to_owned()),
        tls: Some(rill_client::ClientTls {
            ca_pem: std::fs::read(&certs.ca).expect("CA"),
            identity: None,
        }),
        ..rill_client::ClientOptions::default()
    };
    let client = rill_client::Client::connect(addrs, options).expect("client");
    for _ in 0..10 {
        within("xadd", client.xadd(b"s", &[(b"f", b"v")]))
            .await
            .expect("a write over TLS");
    }
    cluster.assert_converged().await;

    // The Redis listener speaks TLS, with AUTH on top.
    let redis = cluster.handle(leader).addr();
    let mut tls = redis_over_tls(redis, &certs.ca).await;
    assert!(call_over(&mut tls, &[b"XLEN", b"s"])
        .await
        .starts_with("-NOAUTH"));
    assert_eq!(call_over(&mut tls, &[b"AUTH", b"data-pw"]).await, "+OK\r\n");
    assert_eq!(call_over(&mut tls, &[b"XLEN", b"s"]).await, ":10\r\n");
    // A plain client gets no reply, only a closed connection.
    let mut plain = rill_tests::RawClient::connect(redis).await;
    plain.send_command(&[b"PING"]).await;
    let answer = plain.read_until_closed().await;
    assert!(!answer.starts_with(b"+PONG"), "{answer:?}");

    // Plain gRPC is refused; a node's certificate is a node's credential.
    let grpc = cluster.handle(leader).grpc_addr();
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .expect("endpoint")
        .timeout(DEADLINE);
    let plain = match endpoint.connect().await {
        Ok(channel) => StreamsClient::new(channel).execute(ping()).await.err(),
        Err(error) => Some(tonic::Status::unavailable(error.to_string())),
    };
    assert!(plain.is_some(), "plain gRPC was served");
    let as_node = rill_tests::node_channel(&cluster_config(&files), grpc).await;
    let garbage = RaftPayload {
        payload: [[0; 8], [0xff; 8]].concat(),
    };
    let answer = RaftClient::new(as_node).append_entries(garbage).await;
    assert_eq!(answer.err().map(|s| s.code()), Some(Code::InvalidArgument));
    cluster.shutdown().await;
}

/// A config with only `files` set: what `node_channel` needs to call as a node.
fn cluster_config(files: &rill_server::TlsFiles) -> rill_server::ServerConfig {
    let mut config = rill_server::ServerConfig::new("/unused");
    config.tls = Some(files.clone());
    config
}
