//! TLS, with rustls (ring): on the Redis listener, on the gRPC listener and between nodes.
//!
//! One certificate and key per node, from PEM files, serve both listeners and identify the
//! node when it calls another (mutual TLS). With a CA file, a caller that presents a
//! certificate the CA signed is taken for a node (`crate::auth`); callers without one (redis-py,
//! the `rill` CLI) are served too and authenticate with a password. A node verifies the nodes
//! it calls against the CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::ServerError;

/// How long a client may take over its TLS handshake before the connection is closed.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a node's certificates are (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// This node's certificate chain, for both listeners and as its client certificate.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA that signed every node's certificate: nodes verify each other against it.
    pub ca: PathBuf,
}

/// The loaded configuration.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) redis: tokio_rustls::TlsAcceptor,
    pub(crate) grpc_server: ServerTlsConfig,
    pub(crate) grpc_client: ClientTlsConfig,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path)
        .map_err(|e| ServerError::Config(format!("cannot read the {what} {}: {e}", path.display())))
}

impl Tls {
    pub(crate) fn load(files: &TlsFiles) -> Result<Tls, ServerError> {
        let (cert, key, ca) = (
            read(&files.cert, "TLS certificate")?,
            read(&files.key, "TLS key")?,
            read(&files.ca, "TLS CA certificate")?,
        );
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            ServerError::Config(format!("TLS: {what}: {e}"))
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<_, _>>()
            .map_err(|e| bad("the certificate file", &e))?;
        if chain.is_empty() {
            return Err(bad("the certificate file", &"holds no certificate"));
        }
        let private = PrivateKeyDer::from_pem_slice(&key).map_err(|e| bad("the key file", &e))?;
        let redis = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| bad("the certificate and key", &e))?;
        let identity = Identity::from_pem(&cert, &key);
        let ca = Certificate::from_pem(&ca);
        let grpc_server = ServerTlsConfig::new()
            .identity(identity.clone())
            .client_ca_root(ca.clone())
            .client_auth_optional(true)
            .timeout(HANDSHAKE_TIMEOUT);
        let grpc_client = ClientTlsConfig::new().ca_certificate(ca).identity(identity);
        Ok(Tls {
            redis: tokio_rustls::TlsAcceptor::from(Arc::new(redis)),
            grpc_server,
            grpc_client,
        })
    }
}
