//! The way to the upstream service. Each client connection keeps one upstream connection of its
//! own and sends through it whenever it is free, which is always for HTTP/1.1 clients (their
//! requests come one at a time); concurrent HTTP/2 streams use a shared keep-alive pool.
//!
//! Why: with a shared pool, every request paid a pool checkout and return and a hand-over between
//! tasks. A bare hyper proxy measured 29k req/s with hyper-util's pooled client and 35k with
//! connections kept per client connection (nginx's plain proxy: 34.5k, same run, same core).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

/// Why the upstream gave no answer.
#[derive(Debug)]
pub enum UpstreamError {
    /// No connection could be made, or it failed before an answer.
    Unreachable,
    /// The answer did not begin in time.
    Timeout,
}

/// The upstream's address and the pool for requests whose client connection's own upstream
/// connection is busy.
#[derive(Debug)]
pub struct UpstreamClient {
    /// Scheme and authority of the service, such as `http://127.0.0.1:8080`.
    base: Uri,
    /// The base URI's path without its trailing slash, put before every request's path.
    base_path: String,
    connect_timeout: Duration,
    /// Time allowed for the answer to begin.
    answer_timeout: Duration,
    /// The most bytes an answer's head may take.
    max_head_bytes: usize,
    pool: Client<HttpConnector, Full<Bytes>>,
}

/// The least read buffer hyper accepts, and so the least head limit.
const MINIMUM_HEAD_BUFFER: usize = 8192;

/// The upstream connection that one client connection keeps.
#[derive(Debug, Default)]
pub struct OwnConnection(tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>);

impl UpstreamClient {
    pub fn new(
        base: Uri,
        connect_timeout: Duration,
        answer_timeout: Duration,
        idle_timeout: Duration,
        max_head_bytes: usize,
    ) -> Self {
        let max_head_bytes = max_head_bytes.max(MINIMUM_HEAD_BUFFER);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_nodelay(true);
        let pool = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(idle_timeout)
            .pool_timer(TokioTimer::new())
            .http1_max_buf_size(max_head_bytes)
            .build(connector);
        Self {
            base_path: base.path().trim_end_matches('/').to_owned(),
            base,
            connect_timeout,
            answer_timeout,
            max_head_bytes,
            pool,
        }
    }

    /// The path and query the upstream gets for a request's: the base path, then the request's.
    pub fn path_and_query(&self, uri: &Uri) -> String {
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
        [self.base_path.as_str(), path_and_query].concat()
    }

    /// Sends the request `make` builds (its URI a path and query) through `own` when it is free,
    /// else through the pool.
    ///
    /// On the connection of `own`, a request is sent once more, on a new connection, when the one it
    /// went to turns out closed (the upstream ended an idle keep-alive connection as the request
    /// came): always when it was never written, and when it was written but no answer began only if
    /// `idempotent` (as nginx's `proxy_next_upstream error`). `make` runs again for that.
    ///
    /// `one_at_a_time`: the client sends its requests one after the other (HTTP/1.x), so `own` may be
    /// waited for while it finishes the previous answer. Otherwise (HTTP/2 streams) a connection
    /// still busy with another stream's answer is left to it and the pool is used.
    pub async fn send(
        &self,
        own: &OwnConnection,
        one_at_a_time: bool,
        idempotent: bool,
        mut make: impl FnMut() -> Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut request = self.with_host(make());
        let Ok(mut slot) = own.0.try_lock() else {
            return self.through_pool(request).await;
        };
        if !one_at_a_time
            && slot
                .as_ref()
                .is_some_and(|s| !s.is_ready() && !s.is_closed())
        {
            drop(slot);
            return self.through_pool(request).await;
        }
        for attempt in 0..2 {
            let (sender, reused) = match slot.take() {
                Some(sender) if !sender.is_closed() => (slot.insert(sender), true),
                _ => (slot.insert(self.connect().await?), false),
            };
            if sender.ready().await.is_err() {
                *slot = None;
                continue;
            }
            let answer =
                tokio::time::timeout(self.answer_timeout, sender.try_send_request(request));
            match answer.await {
                Ok(Ok(response)) => return Ok(response),
                Err(_) => {
                    // The connection still waits for that answer: it is of no further use.
                    *slot = None;
                    return Err(UpstreamError::Timeout);
                }
                Ok(Err(mut e)) => {
                    *slot = None;
                    request = match e.take_message() {
                        Some(unsent) if attempt == 0 => unsent,
                        None if attempt == 0 && reused && idempotent => self.with_host(make()),
                        _ => return Err(UpstreamError::Unreachable),
                    };
                }
            }
        }
        Err(UpstreamError::Unreachable)
    }

    /// HTTP/2 clients name the host in `:authority`, which is no header: the upstream's is given.
    fn with_host(&self, mut request: Request<Full<Bytes>>) -> Request<Full<Bytes>> {
        if !request.headers().contains_key(header::HOST)
            && let Some(authority) = self.base.authority()
            && let Ok(host) = HeaderValue::from_str(authority.as_str())
        {
            request.headers_mut().insert(header::HOST, host);
        }
        request
    }

    async fn through_pool(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut parts = self.base.clone().into_parts();
        parts.path_and_query = request.uri().path_and_query().cloned();
        *request.uri_mut() = Uri::from_parts(parts).map_err(|_| UpstreamError::Unreachable)?;
        match tokio::time::timeout(self.answer_timeout, self.pool.request(request)).await {
            Ok(answer) => answer.map_err(|_| UpstreamError::Unreachable),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, UpstreamError> {
        let host = self.base.host().ok_or(UpstreamError::Unreachable)?;
        // `[::1]` in a URI is `::1` to connect to.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = self.base.port_u16().unwrap_or(80);
        let stream = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect((host, port)),
        )
        .await
        .map_err(|_| UpstreamError::Unreachable)?
        .map_err(|_| UpstreamError::Unreachable)?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(self.max_head_bytes)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| UpstreamError::Unreachable)?;
        // Ends when the client connection that owns `sender` ends, or the upstream closes it.
        tokio::spawn(connection);
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_the_base_path() {
        let client = UpstreamClient::new(
            "http://127.0.0.1:8080/api/".parse().unwrap(),
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1),
            64 * 1024,
        );
        let uri: Uri = "/pets?limit=1".parse().unwrap();
        assert_eq!(client.path_and_query(&uri), "/api/pets?limit=1");
        let bare = UpstreamClient::new(
            "http://127.0.0.1:8080".parse().unwrap(),
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1),
            64 * 1024,
        );
        assert_eq!(bare.path_and_query(&uri), "/pets?limit=1");
    }
}
