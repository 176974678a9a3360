//! Certificates for trying TLS out and for tests: a CA, and one certificate every node uses
//! (for both listeners and as its client certificate), valid for `localhost`, `127.0.0.1`,
//! `::1` and the hosts given. ECDSA P-256 keys, from the operating system's random source.
//! Not for production: make real ones with your own CA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// The files [`write`] made.
#[derive(Clone, Debug)]
pub struct DevCerts {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes `ca.pem`, `node.pem` and `node-key.pem` (mode 0600) into `dir`, creating it.
pub fn write(dir: &Path, hosts: &[String]) -> Result<DevCerts, String> {
    let tls = |e: rcgen::Error| format!("cannot make the certificates: {e}");
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Rill development CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(tls)?;

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(hosts.iter().cloned());
    let node_key = KeyPair::generate().map_err(tls)?;
    let mut node = CertificateParams::new(names).map_err(tls)?;
    node.distinguished_name
        .push(DnType::CommonName, "rill node");
    node.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let node_cert = node.signed_by(&node_key, &ca_cert, &ca_key).map_err(tls)?;

    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let certs = DevCerts {
        ca: dir.join("ca.pem"),
        cert: dir.join("node.pem"),
        key: dir.join("node-key.pem"),
    };
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(&certs.ca, ca_cert.pem())?;
    write(&certs.cert, node_cert.pem())?;
    write(&certs.key, node_key.serialize_pem())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&certs.key, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", certs.key.display()))?;
    }
    Ok(certs)
}
