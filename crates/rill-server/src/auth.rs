//! Who may call what. Three credentials, each optional:
//!
//! - the client password (`requirepass`): Redis `AUTH`, and `authorization: Bearer <password>`
//!   on the public gRPC services;
//! - the admin password: gRPC `rill.v1.Cluster` calls that change the cluster (membership,
//!   snapshots, elections). Unset: the client password serves for them too. It also opens
//!   every client call;
//! - the cluster secret, which nodes send each other in the `rill-cluster-secret` header:
//!   `rill.raft.v1.Raft` calls need it. It opens every other call too (a joining node adds
//!   itself through `Cluster`).
//!
//! With TLS, a caller whose certificate the cluster's CA signed is a node: that opens every
//! call, as the cluster secret does (mutual TLS between nodes).
//!
//! A call whose credential is not configured falls back to protected mode, as Redis's: only
//! callers from `127.0.0.1` or `::1` are served. Redis's own rule, so other loopback
//! addresses (`127.0.0.2`) count as remote; tests use them to stand in for other hosts.
//!
//! Every check reads the request's headers and address only: a refused call is never decoded.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::Status;

use crate::ServerConfig;

/// The header nodes put the cluster secret in.
pub const CLUSTER_SECRET_HEADER: &str = "rill-cluster-secret";

/// Redis's protected-mode refusal, shortened.
pub(crate) const PROTECTED_MODE: &str = "DENIED Rill is running in protected mode because no password is set: only loopback clients are accepted. Set requirepass (--requirepass) to accept others.";
const PEER_PROTECTED_MODE: &str =
    "DENIED node-to-node calls from other hosts need the cluster secret (--cluster-secret)";

/// Whether `ip` is a loopback client by Redis's protected-mode rule: exactly 127.0.0.1 or ::1.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6 == Ipv6Addr::LOCALHOST || v6.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST)
        }
    }
}

/// Without a password, only loopback clients (Redis's protected mode).
pub(crate) fn redis_admitted(peer: SocketAddr, config: &ServerConfig) -> bool {
    config.requirepass.is_some() || is_local(peer.ip())
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a gRPC call is, by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// Health checks and reflection (the schema is public): anyone.
    Open,
    /// Stream commands and the cluster's status.
    Client,
    /// Calls that change the cluster.
    Admin,
    /// Node-to-node calls.
    Peer,
}

impl Caller {
    pub(crate) fn of_path(path: &str) -> Caller {
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or((path, ""));
        match service {
            "rill.raft.v1.Raft" => Caller::Peer,
            "rill.v1.Cluster" if method == "Status" => Caller::Client,
            "rill.v1.Cluster" => Caller::Admin,
            "grpc.health.v1.Health"
            | "grpc.reflection.v1.ServerReflection"
            | "grpc.reflection.v1alpha.ServerReflection" => Caller::Open,
            _ => Caller::Client,
        }
    }
}

/// The credentials a node checks gRPC calls against.
#[derive(Clone, Default)]
pub(crate) struct Access {
    client: Option<Arc<[u8]>>,
    admin: Option<Arc<[u8]>>,
    peer: Option<Arc<[u8]>>,
    /// Whether protected mode applies (callers' addresses are the OS's).
    protected: bool,
}

impl Access {
    pub(crate) fn new(config: &ServerConfig, protected: bool) -> Access {
        let secret = |s: &Option<String>| s.as_deref().map(|s| Arc::from(s.as_bytes()));
        Access {
            client: secret(&config.requirepass),
            admin: secret(&config.admin_password),
            peer: secret(&config.cluster_secret),
            protected,
        }
    }

    /// Whether a call to `path` with `headers` from `remote` may go on.
    pub(crate) fn check(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        remote: Option<SocketAddr>,
    ) -> Result<(), Status> {
        let caller = Caller::of_path(path);
        if caller == Caller::Open {
            return Ok(());
        }
        let header = |name: &str| headers.get(name).map(http::HeaderValue::as_bytes);
        let matches = |secret: &Option<Arc<[u8]>>, given: Option<&[u8]>| match (secret, given) {
            (Some(secret), Some(given)) => constant_time_eq(secret, given),
            _ => false,
        };
        if matches(&self.peer, header(CLUSTER_SECRET_HEADER)) {
            return Ok(());
        }
        let local = !self.protected || remote.is_some_and(|addr| is_local(addr.ip()));
        if caller == Caller::Peer {
            return match self.peer {
                Some(_) => Err(Status::unauthenticated(
                    "NOAUTH node-to-node calls need the cluster secret",
                )),
                None if local => Ok(()),
                None => Err(Status::permission_denied(PEER_PROTECTED_MODE)),
            };
        }
        let bearer = header("authorization").and_then(bearer_token);
        if matches(&self.admin, bearer) {
            return Ok(());
        }
        if caller == Caller::Admin && self.admin.is_some() {
            return Err(refusal(bearer, "this call needs the admin password"));
        }
        match &self.client {
            Some(_) if matches(&self.client, bearer) => Ok(()),
            Some(_) => Err(refusal(bearer, "Authentication required.")),
            None if local => Ok(()),
            None => Err(Status::permission_denied(PROTECTED_MODE)),
        }
    }
}

/// Redis's words: `NOAUTH` without a credential, `WRONGPASS` with a wrong one.
fn refusal(given: Option<&[u8]>, what: &str) -> Status {
    match given {
        None => Status::unauthenticated(format!(
            "NOAUTH {what} Send `authorization: Bearer <password>`."
        )),
        Some(_) => {
            Status::unauthenticated("WRONGPASS invalid username-password pair or user is disabled.")
        }
    }
}

/// `Bearer <token>` (the scheme in any case).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"Bearer ").then_some(token)
}

/// The tower layer that checks every gRPC call before it is routed.
#[derive(Clone)]
pub(crate) struct Guard(pub(crate) Arc<Access>);

impl<S> tower::Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            access: Arc::clone(&self.0),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Guarded<S> {
    inner: S,
    access: Arc<Access>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Guarded<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let extensions = request.extensions();
        let tls = extensions.get::<TlsConnectInfo<TcpConnectInfo>>();
        let remote = match tls {
            Some(tls) => tls.get_ref().remote_addr(),
            None => extensions
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr),
        };
        // The listener verified any certificate against the cluster's CA: a node's.
        let node_certificate = tls
            .and_then(TlsConnectInfo::peer_certs)
            .is_some_and(|certs| !certs.is_empty());
        let checked = if node_certificate {
            Ok(())
        } else {
            self.access
                .check(request.uri().path(), request.headers(), remote)
        };
        match checked {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(status) => {
                tracing::debug!(path = request.uri().path(), ?remote, %status, "gRPC call refused");
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    fn code(access: &Access, path: &str, h: &http::HeaderMap, from: &str) -> Option<tonic::Code> {
        let remote: SocketAddr = from.parse().expect("address");
        access.check(path, h, Some(remote)).err().map(|s| s.code())
    }

    const STREAMS: &str = "/rill.v1.Streams/XAdd";
    const STATUS: &str = "/rill.v1.Cluster/Status";
    const MEMBERSHIP: &str = "/rill.v1.Cluster/ChangeMembership";
    const RAFT: &str = "/rill.raft.v1.Raft/AppendEntries";
    const RAFT_STREAM: &str = "/rill.raft.v1.Raft/AppendEntriesStream";
    const HEALTH: &str = "/grpc.health.v1.Health/Check";
    const LOCAL: &str = "127.0.0.1:4000";
    const REMOTE: &str = "127.0.0.2:4000";

    #[test]
    fn loopback_is_only_127_0_0_1_and_1_as_in_redis() {
        assert!(is_local("127.0.0.1".parse().expect("ip")));
        assert!(is_local("::1".parse().expect("ip")));
        assert!(is_local("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!is_local("127.0.0.2".parse().expect("ip")));
        assert!(!is_local("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn the_redis_listener_admits_remote_clients_only_with_a_password() {
        let mut config = ServerConfig::new("/unused");
        let loopback: SocketAddr = "127.0.0.1:5000".parse().expect("address");
        let remote: SocketAddr = "10.1.2.3:5000".parse().expect("address");
        let remote_v6: SocketAddr = "[2001:db8::1]:5000".parse().expect("address");
        assert!(redis_admitted(loopback, &config));
        assert!(!redis_admitted(remote, &config));
        assert!(!redis_admitted(remote_v6, &config));
        config.requirepass = Some("secret".to_owned());
        assert!(
            redis_admitted(remote, &config),
            "with a password, AUTH decides"
        );
    }

    #[test]
    fn without_credentials_only_local_callers_are_served() {
        let mut config = ServerConfig::new("/unused");
        let access = Access::new(&config, true);
        let none = headers(&[]);
        for path in [STREAMS, STATUS, MEMBERSHIP, RAFT, RAFT_STREAM] {
            assert_eq!(code(&access, path, &none, LOCAL), None, "{path}");
            assert_eq!(
                code(&access, path, &none, REMOTE),
                Some(tonic::Code::PermissionDenied),
                "{path}"
            );
        }
        assert_eq!(code(&access, HEALTH, &none, REMOTE), None);
        // The simulator's network is not the OS's: no protected mode there.
        assert_eq!(
            code(&Access::new(&config, false), RAFT, &none, REMOTE),
            None
        );
        config.requirepass = Some("pw".to_owned());
        let access = Access::new(&config, true);
        assert_eq!(
            code(&access, RAFT, &none, REMOTE),
            Some(tonic::Code::PermissionDenied),
            "the client password does not open node-to-node calls"
        );
    }

    #[test]
    fn each_credential_opens_what_it_should() {
        let mut config = ServerConfig::new("/unused");
        config.requirepass = Some("data".to_owned());
        config.admin_password = Some("admin".to_owned());
        config.cluster_secret = Some("peers".to_owned());
        let access = Access::new(&config, true);
        let none = headers(&[]);
        let data = headers(&[("authorization", "Bearer data")]);
        let data_lower = headers(&[("authorization", "bearer data")]);
        let wrong = headers(&[("authorization", "Bearer nope")]);
        let admin = headers(&[("authorization", "Bearer admin")]);
        let peer = headers(&[(CLUSTER_SECRET_HEADER, "peers")]);
        let unauthenticated = Some(tonic::Code::Unauthenticated);
        for from in [LOCAL, REMOTE] {
            // Credentials are needed from loopback too, once configured.
            assert_eq!(code(&access, STREAMS, &none, from), unauthenticated);
            assert_eq!(code(&access, STREAMS, &wrong, from), unauthenticated);
            assert_eq!(code(&access, STREAMS, &data, from), None);
            assert_eq!(code(&access, STREAMS, &data_lower, from), None);
            assert_eq!(code(&access, STREAMS, &admin, from), None);
            assert_eq!(code(&access, STATUS, &data, from), None);
            assert_eq!(code(&access, MEMBERSHIP, &data, from), unauthenticated);
            assert_eq!(code(&access, MEMBERSHIP, &admin, from), None);
            assert_eq!(code(&access, MEMBERSHIP, &peer, from), None);
            for raft in [RAFT, RAFT_STREAM] {
                assert_eq!(code(&access, raft, &data, from), unauthenticated);
                assert_eq!(code(&access, raft, &admin, from), unauthenticated);
                assert_eq!(code(&access, raft, &peer, from), None);
            }
        }
        // Without an admin password, the client password serves for admin calls.
        config.admin_password = None;
        let access = Access::new(&config, true);
        assert_eq!(code(&access, MEMBERSHIP, &data, REMOTE), None);
        assert_eq!(code(&access, MEMBERSHIP, &none, REMOTE), unauthenticated);
    }

    #[test]
    fn refusals_say_what_is_missing_in_redis_words() {
        let mut config = ServerConfig::new("/unused");
        config.requirepass = Some("data".to_owned());
        let access = Access::new(&config, true);
        let remote = Some("127.0.0.2:1".parse().expect("address"));
        let missing = access.check(STREAMS, &headers(&[]), remote);
        assert!(missing.is_err_and(|s| s.message().starts_with("NOAUTH")));
        let wrong = access.check(STREAMS, &headers(&[("authorization", "Bearer x")]), remote);
        assert!(wrong.is_err_and(|s| s.message().starts_with("WRONGPASS")));
    }
}
