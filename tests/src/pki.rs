//! Certificates made at test time (rcgen) and a blocking TLS client (rustls) for the sidecar tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

use crate::process::{Answer, parse_answer};

/// A certificate authority that signs leaf certificates.
#[allow(missing_debug_implementations)]
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
    der: CertificateDer<'static>,
}

/// A leaf certificate and its private key.
#[derive(Debug)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        Self {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server(&self, cn: &str) -> Leaf {
        self.server_for(cn, &["localhost"])
    }

    /// A server certificate for the DNS `names` and 127.0.0.1.
    pub fn server_for(&self, cn: &str, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate with common name `cn` and SAN DNS names `sans`; expired when `expired`.
    pub fn client(&self, cn: &str, sans: &[&str], expired: bool) -> Leaf {
        self.client_with_subject(&[(DnType::CommonName, cn)], sans, expired)
    }

    /// A client certificate whose subject has these attributes in this order (as `openssl -subj`
    /// writes them).
    pub fn client_with_subject(
        &self,
        subject: &[(DnType, &str)],
        sans: &[&str],
        expired: bool,
    ) -> Leaf {
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A TLS client trusting this CA, presenting `identity` when given, limited to `versions`.
    pub fn client_config(
        &self,
        identity: Option<&Leaf>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("CA root");
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
        let mut config = match identity {
            Some(leaf) => builder
                .with_client_auth_cert(
                    vec![leaf.der.clone()],
                    PrivateKeyDer::from(PrivatePkcs8KeyDer::from(leaf.key_der.clone())),
                )
                .expect("client identity"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A temporary directory, removed with its files on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("specgate-tests-{label}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One HTTP/1.1 request over TLS to `localhost`. `Err` when the handshake (or the exchange) fails.
pub fn send_tls(
    address: &str,
    config: Arc<rustls::ClientConfig>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    send_tls_raw(address, config, "localhost", request.as_bytes())
}

/// Writes `request` as it is over TLS to `server_name` (SNI) and reads the answer until the server
/// closes. `Err` when the handshake (or the exchange) fails.
pub fn send_tls_raw(
    address: &str,
    config: Arc<rustls::ClientConfig>,
    server_name: &str,
    request: &[u8],
) -> Result<Answer, String> {
    let mut tcp = TcpStream::connect(address).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(server_name.to_owned()).map_err(|e| e.to_string())?;
    let mut session = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let mut tls = rustls::Stream::new(&mut session, &mut tcp);
    tls.write_all(request).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // Servers often close without close_notify; what arrived is the answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    if raw.is_empty() {
        return Err("no answer".into());
    }
    Ok(parse_answer(&raw))
}

/// The version of the protocol the last handshake with `address` negotiated.
pub fn negotiated_version(
    address: &str,
    config: Arc<rustls::ClientConfig>,
) -> Option<rustls::ProtocolVersion> {
    let mut tcp = TcpStream::connect(address).ok()?;
    let name = ServerName::try_from("localhost").ok()?;
    let mut session = rustls::ClientConnection::new(config, name).ok()?;
    while session.is_handshaking() {
        session.complete_io(&mut tcp).ok()?;
    }
    session.protocol_version()
}
