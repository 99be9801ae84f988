//! TLS termination and client certificates (rustls).
