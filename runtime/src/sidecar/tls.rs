//! TLS termination (rustls): reloadable server certificates and verified client certificates.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use tokio_rustls::TlsAcceptor;
use x509_parser::asn1_rs::{Tag, ToDer};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use crate::engine::context::ClientCert;

/// The PEM files TLS is served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain, end-entity certificate first.
    pub cert: PathBuf,
    /// The server's private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to; without it none are asked for.
    pub client_ca: Option<PathBuf>,
}

/// The TLS configuration in force for new handshakes; [`Tls::reload`] replaces it.
#[derive(Debug)]
pub struct Tls {
    files: TlsFiles,
    config: ArcSwap<ServerConfig>,
}

impl Tls {
    /// Reads the files and builds the configuration: TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`, and,
    /// with a client CA, client certificates that are optional but verified when presented.
    pub fn load(files: &TlsFiles) -> Result<Tls, String> {
        Ok(Tls {
            files: files.clone(),
            config: ArcSwap::from_pointee(server_config(files)?),
        })
    }

    /// Rereads the files; new handshakes use them, established connections keep theirs. On error
    /// the configuration in force stays.
    pub fn reload(&self) -> Result<(), String> {
        self.config.store(Arc::new(server_config(&self.files)?));
        Ok(())
    }

    /// An acceptor for one new connection, with the configuration in force now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.load_full())
    }

    /// The files this configuration is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }
}

fn server_config(files: &TlsFiles) -> Result<ServerConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca, "client CA certificate")? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: invalid client CA certificate: {e}", ca.display()))?;
            }
            // Unauthenticated clients pass the handshake: operations that do not ask for mTLS must
            // work without a certificate, and the engine refuses those that do. A presented
            // certificate is still verified, so a bad one fails the handshake.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("{}: unusable client CA: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let certs = read_certs(&files.cert, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| match e {
        pem::Error::NoItemsFound => format!("{}: no private key found", files.key.display()),
        e => format!("{}: cannot read private key: {e}", files.key.display()),
    })?;
    let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => format!(
            "{}: the private key does not match the certificate in {}",
            files.key.display(),
            files.cert.display()
        ),
        e => format!(
            "{} and {}: unusable certificate or key: {e}",
            files.cert.display(),
            files.key.display()
        ),
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Every certificate in a PEM file; none is an error.
fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no {what} found", path.display()));
    }
    Ok(certs)
}

/// The verified client certificate of a connection, if the client presented one.
pub fn client_cert(conn: &ServerConnection) -> Option<ClientCert> {
    client_cert_from_der(conn.peer_certificates()?.first()?)
}

/// Whether the client and the server agreed on HTTP/2 (ALPN `h2`).
pub fn is_h2(conn: &ServerConnection) -> bool {
    conn.alpn_protocol() == Some(b"h2")
}

/// The subject and SAN DNS names of a DER certificate; `None` when it does not parse.
pub fn client_cert_from_der(der: &[u8]) -> Option<ClientCert> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(ClientCert {
        subject: rfc4514(cert.subject()),
        dns_names,
    })
}

/// A distinguished name as RFC 4514 prints it: the most specific RDN first, `,` between RDNs, `+`
/// between the attributes of one RDN, no spaces.
fn rfc4514(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter().collect();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = attr.attr_type().to_id_string();
            out.push_str(attribute_name(&oid).unwrap_or(&oid));
            out.push('=');
            let value = attr.attr_value();
            match string_value(value.tag(), value.as_bytes()) {
                Some(text) => escape_value(&text, &mut out),
                // RFC 4514 §2.4: a value that is not a string is its DER encoding in hex.
                None => {
                    out.push('#');
                    for byte in value.to_der_vec().unwrap_or_default() {
                        let _ = write!(out, "{byte:02x}");
                    }
                }
            }
        }
    }
    out
}

/// The short names RFC 4514 defines, and the few more OpenSSL prints the same way.
fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "2.5.4.4" => "SN",
        "2.5.4.42" => "GN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.12" => "title",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// The text of a directory string, whatever ASN.1 string type holds it.
fn string_value(tag: Tag, bytes: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // T.61 strings in practice hold Latin-1.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|pair| match pair {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => 0xFFFD,
                })
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        Tag::UniversalString => bytes
            .chunks(4)
            .map(|quad| match quad {
                [a, b, c, d] => char::from_u32(u32::from_be_bytes([*a, *b, *c, *d])),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// RFC 4514 §2.4 escaping. Control characters are escaped as hex too, so that a subject can go into
/// a log line or a header as it is.
fn escape_value(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_control() => {
                let mut buf = [0; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\{byte:02x}");
                }
            }
            c => out.push(c),
        }
    }
}

/// Certificates made at test time with rcgen, written to a directory that is removed on drop.
#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rcgen::DnType;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::TlsConnector;

    use super::*;
    use specgate_testkit::{Ca, Leaf, TempDir};

    const BOTH: &[&rustls::SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];

    /// What the server side saw of one accepted connection.
    #[derive(Debug)]
    struct Accepted {
        version: Option<rustls::ProtocolVersion>,
        h2: bool,
        client_cert: Option<ClientCert>,
    }

    /// Serves `tls` on loopback: every connection that completes the handshake reports what it
    /// saw, then echoes what it reads. Handshake failures are reported as errors.
    async fn serve(
        tls: Arc<Tls>,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::mpsc::UnboundedReceiver<Result<Accepted, String>>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (report, reports) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = tls.acceptor();
                let report = report.clone();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Err(e) => {
                            let _ = report.send(Err(e.to_string()));
                        }
                        Ok(mut stream) => {
                            let (_, conn) = stream.get_ref();
                            let _ = report.send(Ok(Accepted {
                                version: conn.protocol_version(),
                                h2: is_h2(conn),
                                client_cert: client_cert(conn),
                            }));
                            let mut buf = [0u8; 64];
                            while let Ok(n) = stream.read(&mut buf).await {
                                if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        (addr, reports, server)
    }

    async fn connect(
        addr: std::net::SocketAddr,
        config: rustls::ClientConfig,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").expect("server name");
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }

    /// Sends a line and reads its echo: proves the connection carries data.
    async fn echo(stream: &mut tokio_rustls::client::TlsStream<TcpStream>, text: &[u8]) -> bool {
        if stream.write_all(text).await.is_err() {
            return false;
        }
        let mut buf = vec![0u8; text.len()];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf)).await,
            Ok(Ok(_))
        ) && buf == text
    }

    async fn next(
        reports: &mut tokio::sync::mpsc::UnboundedReceiver<Result<Accepted, String>>,
    ) -> Result<Accepted, String> {
        tokio::time::timeout(Duration::from_secs(10), reports.recv())
            .await
            .expect("server reported in time")
            .expect("server running")
    }

    struct Setup {
        dir: TempDir,
        ca: Ca,
        files: TlsFiles,
    }

    fn setup(with_client_ca: bool) -> Setup {
        let dir = TempDir::new("tls");
        let ca = Ca::new("Test CA");
        let (cert, key) = dir.write_leaf("server", &ca.server("server-one"));
        let client_ca = with_client_ca.then(|| dir.write("client-ca.pem", &ca.pem));
        Setup {
            files: TlsFiles {
                cert,
                key,
                client_ca,
            },
            dir,
            ca,
        }
    }

    fn peer_cn(stream: &tokio_rustls::client::TlsStream<TcpStream>) -> Option<String> {
        let (_, conn) = stream.get_ref();
        let der = conn.peer_certificates()?.first()?;
        client_cert_from_der(der).map(|c| c.subject)
    }

    #[tokio::test]
    async fn tls13_and_tls12_handshakes_succeed() {
        let s = setup(false);
        let tls = Arc::new(Tls::load(&s.files).expect("load"));
        let (addr, mut reports, server) = serve(tls).await;
        for (version, expected) in [
            (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
            (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        ] {
            let mut stream = connect(addr, s.ca.client_config(None, &[version], &[]))
                .await
                .expect("handshake");
            assert!(echo(&mut stream, b"ping").await);
            let accepted = next(&mut reports).await.expect("accepted");
            assert_eq!(accepted.version, Some(expected));
            assert!(!accepted.h2);
            assert_eq!(accepted.client_cert, None);
        }
        server.abort();
    }

    #[tokio::test]
    async fn alpn_negotiates_h2_or_http1() {
        let s = setup(false);
        let tls = Arc::new(Tls::load(&s.files).expect("load"));
        let (addr, mut reports, server) = serve(tls).await;
        let stream = connect(addr, s.ca.client_config(None, BOTH, &[b"h2", b"http/1.1"]))
            .await
            .expect("handshake");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        assert!(next(&mut reports).await.expect("accepted").h2);
        let stream = connect(addr, s.ca.client_config(None, BOTH, &[b"http/1.1"]))
            .await
            .expect("handshake");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert!(!next(&mut reports).await.expect("accepted").h2);
        server.abort();
    }

    #[tokio::test]
    async fn without_a_client_certificate_the_handshake_succeeds_with_none() {
        let s = setup(true);
        let tls = Arc::new(Tls::load(&s.files).expect("load"));
        let (addr, mut reports, server) = serve(tls).await;
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let mut stream = connect(addr, s.ca.client_config(None, &[version], &[]))
                .await
                .expect("handshake");
            assert!(echo(&mut stream, b"anonymous").await);
            assert_eq!(
                next(&mut reports).await.expect("accepted").client_cert,
                None
            );
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_trusted_client_certificate_gives_its_subject_and_dns_names() {
        let s = setup(true);
        let client = s.ca.client_with_subject(
            &[
                (DnType::OrganizationName, "Example"),
                (DnType::CommonName, "billing-service"),
            ],
            &["billing.internal.example", "billing"],
            false,
        );
        let tls = Arc::new(Tls::load(&s.files).expect("load"));
        let (addr, mut reports, server) = serve(tls).await;
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let mut stream = connect(addr, s.ca.client_config(Some(&client), &[version], &[]))
                .await
                .expect("handshake");
            assert!(echo(&mut stream, b"hello").await);
            let accepted = next(&mut reports).await.expect("accepted");
            assert_eq!(
                accepted.client_cert,
                Some(ClientCert {
                    subject: "CN=billing-service,O=Example".to_owned(),
                    dns_names: vec!["billing.internal.example".to_owned(), "billing".to_owned()],
                })
            );
        }
        server.abort();
    }

    /// A refused client certificate: the server's accept fails, and the client cannot exchange data
    /// (under TLS 1.3 the client learns it only from the alert after its own handshake is done).
    async fn assert_refused(s: &Setup, client: &Leaf) {
        let tls = Arc::new(Tls::load(&s.files).expect("load"));
        let (addr, mut reports, server) = serve(tls).await;
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let config = s.ca.client_config(Some(client), &[version], &[]);
            if let Ok(mut stream) = connect(addr, config).await {
                assert!(!echo(&mut stream, b"let me in").await);
            }
            assert!(next(&mut reports).await.is_err(), "handshake must fail");
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_client_certificate_from_another_ca_fails_the_handshake() {
        let s = setup(true);
        let other = Ca::new("Other CA");
        assert_refused(&s, &other.client("billing-service", &[], false)).await;
    }

    #[tokio::test]
    async fn an_expired_client_certificate_fails_the_handshake() {
        let s = setup(true);
        assert_refused(&s, &s.ca.client("billing-service", &[], true)).await;
    }

    #[tokio::test]
    async fn reload_serves_new_certificates_to_new_connections_only() {
        let s = setup(false);
        let tls = Arc::new(Tls::load(&s.files).expect("load"));
        let (addr, mut reports, server) = serve(tls.clone()).await;
        let mut old = connect(addr, s.ca.client_config(None, BOTH, &[]))
            .await
            .expect("handshake");
        next(&mut reports).await.expect("accepted");
        assert_eq!(peer_cn(&old).as_deref(), Some("CN=server-one"));

        s.dir.write_leaf("server", &s.ca.server("server-two"));
        tls.reload().expect("reload");
        let mut new = connect(addr, s.ca.client_config(None, BOTH, &[]))
            .await
            .expect("handshake");
        next(&mut reports).await.expect("accepted");
        assert_eq!(peer_cn(&new).as_deref(), Some("CN=server-two"));
        assert!(echo(&mut old, b"still here").await);
        assert!(echo(&mut new, b"new here").await);

        // A failed reload names the file and keeps the configuration in force.
        s.dir.write("server.crt", "not a certificate");
        let error = tls.reload().expect_err("garbage certificate");
        assert!(
            error.contains(&s.files.cert.display().to_string()),
            "{error}"
        );
        let stream = connect(addr, s.ca.client_config(None, BOTH, &[]))
            .await
            .expect("handshake");
        next(&mut reports).await.expect("accepted");
        assert_eq!(peer_cn(&stream).as_deref(), Some("CN=server-two"));
        server.abort();
    }

    #[tokio::test]
    async fn a_sec1_server_key_is_accepted() {
        use base64::Engine as _;
        let s = setup(false);
        // A PKCS#8 EC key holds the SEC1 ECPrivateKey in its third element, an OCTET STRING.
        let pkcs8 = std::fs::read(&s.files.key).expect("key file");
        let der = PrivateKeyDer::from_pem_slice(&pkcs8).expect("pkcs8");
        let (_, outer) = x509_parser::der_parser::parse_der(der.secret_der()).expect("der");
        let sec1 = outer.as_sequence().expect("sequence")[2]
            .as_slice()
            .expect("octet string")
            .to_vec();
        let body = base64::engine::general_purpose::STANDARD.encode(&sec1);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
            .collect();
        s.dir.write(
            "server.key",
            format!(
                "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
                lines.join("\n")
            ),
        );
        assert!(matches!(
            PrivateKeyDer::from_pem_file(&s.files.key),
            Ok(PrivateKeyDer::Sec1(_))
        ));
        let tls = Arc::new(Tls::load(&s.files).expect("load SEC1"));
        let (addr, mut reports, server) = serve(tls).await;
        let mut stream = connect(addr, s.ca.client_config(None, BOTH, &[]))
            .await
            .expect("handshake");
        assert!(echo(&mut stream, b"sec1").await);
        next(&mut reports).await.expect("accepted");
        server.abort();
    }

    #[test]
    fn load_errors_name_the_file() {
        let s = setup(true);
        let missing = s.dir.0.join("missing.pem");

        let mut files = s.files.clone();
        files.cert = missing.clone();
        let error = Tls::load(&files).expect_err("missing cert");
        assert!(error.contains(&missing.display().to_string()), "{error}");

        let mut files = s.files.clone();
        files.key = s.dir.write("empty.key", "");
        let error = Tls::load(&files).expect_err("no key");
        assert!(
            error.contains(&files.key.display().to_string()) && error.contains("no private key"),
            "{error}"
        );

        let mut files = s.files.clone();
        files.key = s.dir.write_leaf("other", &s.ca.server("other")).1;
        let error = Tls::load(&files).expect_err("mismatched key");
        assert!(error.contains("does not match"), "{error}");
        assert!(error.contains(&files.key.display().to_string()), "{error}");

        let mut files = s.files.clone();
        files.client_ca = Some(s.dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n!!\n"));
        let error = Tls::load(&files).expect_err("bad CA");
        assert!(error.contains("ca.pem"), "{error}");

        let mut files = s.files.clone();
        files.client_ca = Some(s.dir.write("ca-empty.pem", "nothing here\n"));
        let error = Tls::load(&files).expect_err("empty CA");
        assert!(
            error.contains("ca-empty.pem") && error.contains("no client CA"),
            "{error}"
        );
        // The key never appears in an error.
        let key = std::fs::read_to_string(&s.files.key).expect("key");
        let secret_line = key.lines().nth(1).expect("base64 line");
        let mut files = s.files.clone();
        files.cert = files.key.clone();
        let error = Tls::load(&files).expect_err("key as cert");
        assert!(!error.contains(secret_line), "{error}");
    }

    #[test]
    fn subjects_follow_rfc4514() {
        let ca = Ca::new("Test CA");
        let leaf = ca.client_with_subject(
            &[
                (DnType::CountryName, "DE"),
                (DnType::OrganizationName, "Acme, Inc."),
                (DnType::OrganizationalUnitName, "#ops"),
                (DnType::CommonName, " svc+1 "),
            ],
            &[],
            false,
        );
        let cert = client_cert_from_der(&leaf.chain()[0]).expect("parses");
        assert_eq!(cert.subject, r"CN=\ svc\+1\ ,OU=\#ops,O=Acme\, Inc.,C=DE");
        assert!(cert.dns_names.is_empty());
        assert_eq!(client_cert_from_der(b"not a certificate"), None);

        let mut escaped = String::new();
        escape_value("a\nb\"c", &mut escaped);
        assert_eq!(escaped, r#"a\0ab\"c"#);
        assert_eq!(
            string_value(Tag::BmpString, &[0, b'h', 0, b'i']).as_deref(),
            Some("hi")
        );
        assert_eq!(
            string_value(Tag::UniversalString, &[0, 0, 0, b'x']).as_deref(),
            Some("x")
        );
    }
}
