//! A blocking TLS client (rustls) for the sidecar tests; the certificates come from the testkit.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
pub use specgate_testkit::pki::{Ca, Leaf, TempDir};

use crate::process::{Answer, parse_answer};

/// A client trusting `ca` that offers HTTP/1.1 (as [`send_tls`] speaks it), presenting `identity`.
pub fn http1_client(
    ca: &Ca,
    identity: Option<&Leaf>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    Arc::new(ca.client_config(identity, versions, &[b"http/1.1"]))
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
