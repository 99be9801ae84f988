//! What the sidecar knows about a request besides its head: facts of the connection, found by I/O
//! the engine does not do.

use std::net::IpAddr;

/// A client certificate that the TLS layer has verified against `--client-ca`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientCert {
    /// The subject distinguished name, RFC 4514 style, most significant RDN last as printed by
    /// OpenSSL's `-nameopt RFC2253`: `CN=billing-service,O=Example`.
    pub subject: String,
    /// The DNS names of the subject alternative name extension.
    pub dns_names: Vec<String>,
}

/// The connection a request came over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The client's address: the socket peer, or the rightmost untrusted `X-Forwarded-For` hop when
    /// the peer is a trusted proxy.
    pub client_ip: IpAddr,
    /// Whether the request came over TLS.
    pub tls: bool,
    /// The verified client certificate, when the client presented one (shared by the requests of
    /// one connection).
    pub client_cert: Option<std::sync::Arc<ClientCert>>,
}

impl Connection {
    /// A plain-TCP connection from `client_ip` without a client certificate.
    pub fn plain(client_ip: IpAddr) -> Self {
        Self {
            client_ip,
            tls: false,
            client_cert: None,
        }
    }
}
