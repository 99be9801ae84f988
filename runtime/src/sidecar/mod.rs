//! The sidecar: a reverse proxy that moves bytes and asks the [`Engine`] what to do with them.
//!
//! Per request: read the head (bounded size and time), ask the engine, read the body up to the
//! operation's limit (counted while streaming, whatever Content-Length says), ask again, forward to
//! the upstream with the forwarding headers set, and pass the answer back with the response headers
//! the policy sets. Every refusal is a problem+json answer; every request gives one access-log line.

mod echo;
pub mod jwks;
mod log;
mod metrics;
mod problem;
mod secrets;
pub mod tls;
mod upstream;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use specgate_plan::Policy;
use tokio::net::TcpListener;

use crate::engine::policies::{self, Cors};
use crate::engine::{Connection, Denial, Engine, Refusal, Verdict};

pub use log::LogFormat;
pub use secrets::ProcessSecrets;
pub use specgate_ratelimit::{Fallback, RedisSettings};

/// Where requests that pass go.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// The built-in upstream: answers 200 with a JSON description of what it received.
    Echo,
    /// A service, such as `http://127.0.0.1:8080`.
    Url(Uri),
}

/// Deployment facts of a sidecar (never in the spec).
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub upstream: Upstream,
    pub log_format: LogFormat,
    /// Time allowed for a client to send a request's head.
    pub header_read_timeout: Duration,
    /// Time allowed for a client to send a request's body.
    pub body_read_timeout: Duration,
    /// Time allowed to connect to the upstream.
    pub connect_timeout: Duration,
    /// Time allowed for the upstream's answer to begin.
    pub upstream_timeout: Duration,
    /// Idle keep-alive connections to the upstream are closed after this.
    pub idle_timeout: Duration,
    /// The longest request target (path and query) accepted.
    pub max_uri_bytes: usize,
    /// The most header bytes accepted in a request, and in an upstream's answer (502 beyond).
    pub max_header_bytes: usize,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Time allowed for a TLS handshake.
    pub handshake_timeout: Duration,
    /// Time a write to a client may wait for it to read (as nginx's `send_timeout`): a client that
    /// stops reading its answer loses the connection after this, rather than hold it forever.
    pub send_timeout: Duration,
    /// Client connections served at once; further ones wait in the listen queue.
    pub max_connections: usize,
    /// Where rate-limit counts live.
    pub rate_limits: RateLimitStore,
}

/// Where rate-limit counts live.
#[derive(Debug, Clone)]
pub enum RateLimitStore {
    /// In this process, for at most this many keys.
    Local { max_keys: usize },
    /// Shared by every replica through Redis.
    Redis {
        url: String,
        settings: specgate_ratelimit::RedisSettings,
    },
}

impl Config {
    pub fn new(listen: SocketAddr, upstream: Upstream) -> Self {
        Self {
            listen,
            upstream,
            log_format: LogFormat::Json,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            max_connections: 4096,
            rate_limits: RateLimitStore::Local { max_keys: 100_000 },
        }
    }
}

type Body = BoxBody<Bytes, hyper::Error>;

struct Shared {
    /// The plan in force; a reload swaps it, and requests in flight keep the one they started with.
    engine: arc_swap::ArcSwap<Loaded>,
    plan_loads: std::sync::atomic::AtomicU64,
    config: Config,
    /// `None` for the built-in echo upstream.
    upstream: Option<upstream::UpstreamClient>,
    metrics: metrics::Metrics,
    /// Client connections being served (see [`OpenConnection`]).
    connections_open: std::sync::atomic::AtomicUsize,
    limiter: specgate_ratelimit::Limiter,
    log: log::Writer,
}

/// Binds the listener; call [`Sidecar::run`] to serve.
pub struct Sidecar {
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<tls::Tls>>,
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sidecar")
            .field("listen", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Sidecar {
    pub async fn bind(config: Config, engine: Arc<Engine>) -> std::io::Result<Self> {
        let limiter = match &config.rate_limits {
            RateLimitStore::Local { max_keys } => specgate_ratelimit::Limiter::local(*max_keys),
            RateLimitStore::Redis { url, settings } => {
                specgate_ratelimit::Limiter::redis(url, settings.clone()).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
                })?
            }
        };
        let listener = TcpListener::bind(config.listen).await?;
        let log = log::Writer::spawn(config.log_format);
        let upstream = match &config.upstream {
            Upstream::Echo => None,
            Upstream::Url(base) => Some(upstream::UpstreamClient::new(
                base.clone(),
                config.connect_timeout,
                config.upstream_timeout,
                config.idle_timeout,
                config.max_header_bytes,
            )),
        };
        Ok(Self {
            listener,
            tls: None,
            shared: Arc::new(Shared {
                engine: arc_swap::ArcSwap::from_pointee(Loaded::start(engine)),
                plan_loads: std::sync::atomic::AtomicU64::new(1),
                config,
                upstream,
                metrics: metrics::Metrics::default(),
                limiter,
                log,
                connections_open: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// Terminates TLS on the listener (and verifies client certificates when `tls` has a client CA).
    pub fn with_tls(mut self, tls: Arc<tls::Tls>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Puts a new plan in force. Requests in flight finish on the plan they started with.
    pub fn reloader(&self) -> Reloader {
        Reloader {
            shared: self.shared.clone(),
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves the admin endpoints on `admin`: `/healthz` (the process is up), `/readyz` (a plan is
    /// loaded) and `/metrics` (Prometheus text). Runs until the process ends.
    pub async fn serve_admin(&self, admin: TcpListener) {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = admin.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let shared = shared.clone();
                    async move {
                        let (status, content_type, body) = match request.uri().path() {
                            "/healthz" => (200, "text/plain", "ok\n".to_owned()),
                            "/readyz" => (
                                200,
                                "text/plain",
                                format!(
                                    "ready: {} operations\n",
                                    shared.engine.load().engine.operations().len()
                                ),
                            ),
                            "/metrics" => (
                                200,
                                "text/plain; version=0.0.4",
                                shared.metrics.render(&metrics::State {
                                    plan_loads: shared
                                        .plan_loads
                                        .load(std::sync::atomic::Ordering::Relaxed),
                                    limiter: &shared.limiter.stats(),
                                    log_lines_dropped: shared.log.dropped(),
                                    connections_open: shared
                                        .connections_open
                                        .load(std::sync::atomic::Ordering::Relaxed),
                                    max_connections: shared.config.max_connections,
                                }),
                            ),
                            _ => (404, "text/plain", "not found\n".to_owned()),
                        };
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        *response.status_mut() = http::StatusCode::from_u16(status)
                            .unwrap_or(http::StatusCode::NOT_FOUND);
                        response
                            .headers_mut()
                            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish within the grace time.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.shared.config.header_read_timeout)
            .max_buf_size(self.shared.config.max_header_bytes.max(8192));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(self.shared.config.max_header_bytes as u32);
        let builder = Arc::new(builder);
        let slots = Arc::new(tokio::sync::Semaphore::new(
            self.shared.config.max_connections,
        ));
        tokio::pin!(shutdown);
        loop {
            // A connection is accepted only with a free slot: beyond the limit, clients wait in the
            // kernel's listen queue instead of each costing memory and an upstream connection here.
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors or memory, accept fails at once until some are
                        // freed: retrying without a pause would spin on a core.
                        if !is_connection_error(&e) {
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                        }
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
            stream.set_write_timeout(Some(self.shared.config.send_timeout));
            let stream = Box::pin(stream);
            let shared = self.shared.clone();
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let tls = self.tls.as_ref().map(|tls| tls.acceptor());
            tokio::spawn(async move {
                let _open = OpenConnection::new(shared.clone(), slot);
                let Some(tls) = tls else {
                    let peer = Arc::new(Peer::new(peer, false, None));
                    let connection = builder.serve_connection_with_upgrades(
                        TokioIo::new(stream),
                        service(shared, peer),
                    );
                    let _ = watcher.watch(connection.into_owned()).await;
                    return;
                };
                let handshake =
                    tokio::time::timeout(shared.config.handshake_timeout, tls.accept(stream));
                let Ok(Ok(stream)) = handshake.await else {
                    // A failed handshake (untrusted or expired client certificate, no common
                    // protocol, a timeout) has no HTTP exchange to answer.
                    return;
                };
                let (_, session) = stream.get_ref();
                let peer = Arc::new(Peer::new(
                    peer,
                    true,
                    tls::client_cert(session).map(Arc::new),
                ));
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service(shared, peer));
                let _ = watcher.watch(connection.into_owned()).await;
            });
        }
        let grace = self.shared.config.shutdown_grace;
        let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    }
}

/// A client connection being served: it holds one of the `--max-connections` slots and is counted
/// in `specgate_connections_open` until it ends.
struct OpenConnection {
    shared: Arc<Shared>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(shared: Arc<Shared>, slot: tokio::sync::OwnedSemaphorePermit) -> Self {
        shared
            .connections_open
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            shared,
            _slot: slot,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.shared
            .connections_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The pause after `accept` fails for want of resources (file descriptors, memory).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Errors of one incoming connection (it was reset before being accepted), after which the next
/// `accept` may succeed at once; any other error is the process's or the system's.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// A plan in force, with the tasks that fetch its signing keys. Dropping it (once no request uses it
/// any more) stops them.
struct Loaded {
    engine: Arc<Engine>,
    /// Key fetchers by security scheme.
    key_fetchers: std::collections::BTreeMap<String, jwks::JwksHandle>,
}

impl Loaded {
    /// Starts a fetcher for every scheme whose keys come from `jwks-uri` or OpenID Connect discovery.
    fn start(engine: Arc<Engine>) -> Self {
        let mut key_fetchers = std::collections::BTreeMap::new();
        for (scheme, jwt, slot) in engine.authenticator().remote_key_slots() {
            let source = match (&jwt.jwks_uri, &jwt.discovery_url) {
                (Some(uri), _) => jwks::JwksSource::Uri(uri.clone()),
                (None, Some(url)) => jwks::JwksSource::Discovery { url: url.clone() },
                (None, None) => continue,
            };
            // Refreshed at half the time keys are trusted, so that one failed fetch never leaves a
            // scheme without keys; an unknown `kid` may force a fetch at most every 10 s.
            let refresh_every = (jwt.jwks_cache.get() / 2).max(Duration::from_secs(1));
            let settings = jwks::FetchSettings {
                refresh_every,
                min_interval: refresh_every.min(Duration::from_secs(10)),
                ..jwks::FetchSettings::default()
            };
            let issuers = jwt.issuer.clone();
            let slot = Arc::downgrade(&slot);
            let name = scheme.to_owned();
            let handle = jwks::Fetcher::spawn(source, settings, move |fetched| {
                let Some(slot) = slot.upgrade() else {
                    return jwks::Install::Gone;
                };
                if let Some(issuer) = &fetched.issuer
                    && !issuers.is_empty()
                    && !issuers.contains(issuer)
                {
                    return jwks::Install::Rejected(format!(
                        "scheme `{name}`: the discovered issuer is not one the scheme accepts"
                    ));
                }
                match crate::engine::auth::JwtKeys::from_jwks(&fetched.jwks) {
                    Ok(keys) => {
                        slot.install(keys, std::time::SystemTime::now());
                        jwks::Install::Installed
                    }
                    Err(e) => jwks::Install::Rejected(format!("scheme `{name}`: {e}")),
                }
            });
            key_fetchers.insert(scheme.to_owned(), handle);
        }
        Self {
            engine,
            key_fetchers,
        }
    }
}

/// What the sidecar knows about a client connection.
#[derive(Debug)]
struct Peer {
    address: SocketAddr,
    /// The address as an `X-Forwarded-For` value, made once for all the connection's requests.
    address_header: HeaderValue,
    tls: bool,
    client_cert: Option<Arc<crate::engine::ClientCert>>,
    /// The upstream connection of this client connection, kept while it lasts.
    upstream: upstream::OwnConnection,
}

impl Peer {
    fn new(
        address: SocketAddr,
        tls: bool,
        client_cert: Option<Arc<crate::engine::ClientCert>>,
    ) -> Self {
        Self {
            address,
            address_header: ip_header(address.ip()),
            tls,
            client_cert,
            upstream: upstream::OwnConnection::default(),
        }
    }

    /// The `X-Forwarded-For` value for a request from `client_ip`.
    fn forwarded_for(&self, client_ip: IpAddr) -> HeaderValue {
        if client_ip == self.address.ip() {
            self.address_header.clone()
        } else {
            ip_header(client_ip)
        }
    }
}

fn ip_header(ip: IpAddr) -> HeaderValue {
    HeaderValue::try_from(ip.to_string()).unwrap_or_else(|_| unreachable!("an IP address is ASCII"))
}

fn service(
    shared: Arc<Shared>,
    peer: Arc<Peer>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        let peer = peer.clone();
        async move { Ok::<_, Infallible>(handle(&shared, request, &peer).await) }
    })
}

/// Swaps the engine of a running sidecar.
#[derive(Clone)]
pub struct Reloader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reloader")
    }
}

impl Reloader {
    pub fn swap(&self, engine: Arc<Engine>) {
        self.shared.engine.store(Arc::new(Loaded::start(engine)));
        self.shared
            .plan_loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One request, from head to answer, with its access-log line.
async fn handle(shared: &Shared, request: Request<Incoming>, peer: &Peer) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(request.headers());
    let (parts, body) = request.into_parts();
    let loaded = shared.engine.load_full();
    let connection = Connection {
        client_ip: policies::client_address(
            peer.address.ip(),
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .map(|v| v.to_str().unwrap_or("\u{fffd}")),
            &shared.config.trusted_proxies,
        ),
        tls: peer.tls,
        client_cert: peer.client_cert.clone(),
    };
    let mut entry = log::Entry::new(&request_id, connection.client_ip, &parts);
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let mut extra_headers = Vec::new();
    let mut response = match admit_and_forward(
        shared,
        &loaded,
        &parts,
        body,
        &connection,
        &request_id,
        &mut entry,
        &mut extra_headers,
        peer,
    )
    .await
    {
        Ok((response, cors)) => {
            let mut response = response;
            if let Some(cors) = cors {
                for (name, value) in cors.actual(origin) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }
        Err(refusal) => {
            entry.deny(&refusal.denial);
            let mut response = problem::response(
                &refusal.denial,
                &request_id,
                refusal.policy.request.verbose_errors,
                refusal.response_headers,
                peer.tls,
            );
            if let Some(cors) = refusal.cors {
                for (name, value) in cors.actual(origin) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }
    };
    for (name, value) in extra_headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    entry.finish(
        response.status().as_u16(),
        response_length(&response),
        started.elapsed(),
    );
    entry.record(&shared.metrics);
    shared.log.write(entry);
    response
}

/// A successful answer and the CORS policy whose headers it gets.
type Forwarded<'e> = (Response<Body>, Option<&'e Cors>);

/// `extra_headers` collects headers for the answer whatever it is (the rate-limit headers).
#[allow(clippy::too_many_arguments)]
async fn admit_and_forward<'e>(
    shared: &Shared,
    loaded: &'e Loaded,
    parts: &http::request::Parts,
    body: Incoming,
    connection: &Connection,
    request_id: &str,
    entry: &mut log::Entry,
    extra_headers: &mut Vec<(&'static str, String)>,
    peer: &Peer,
) -> Result<Forwarded<'e>, Refusal<'e>> {
    let engine = &*loaded.engine;
    let defaults = &engine.plan().defaults;
    if parts.uri.path_and_query().map_or(0, |p| p.as_str().len()) > shared.config.max_uri_bytes {
        return Err(Refusal {
            denial: Denial::UriTooLong,
            policy: defaults,
            cors: None,
            response_headers: &engine.default_guards().response_headers,
            refresh_keys: None,
        });
    }
    let verdict = match engine.check_head(parts, connection, std::time::SystemTime::now()) {
        // The token names a key the fetched set lacks (or the keys are not fetched yet): refresh them
        // (at most every few seconds, shared by concurrent requests) and check once more.
        Err(refusal) if refusal.refresh_keys.is_some() => {
            let fetcher = refusal
                .refresh_keys
                .as_deref()
                .and_then(|scheme| loaded.key_fetchers.get(scheme));
            let Some(fetcher) = fetcher else {
                return Err(refusal);
            };
            fetcher.refresh().await;
            engine.check_head(parts, connection, std::time::SystemTime::now())?
        }
        verdict => verdict?,
    };
    let mut admitted = match verdict {
        Verdict::Admitted(admitted) => admitted,
        Verdict::Preflight(headers) => {
            let mut response = Response::new(empty());
            *response.status_mut() = http::StatusCode::NO_CONTENT;
            for (name, value) in headers {
                response.headers_mut().append(name, value);
            }
            return Ok((response, None));
        }
    };
    let policy = admitted.policy;
    entry.operation(admitted.operation.map(|o| o.operation.id.as_str()));
    entry.subject(admitted.identity.as_ref().map(|i| i.subject.as_str()));
    let limits = admitted.rate_limits(parts, connection);
    if !limits.is_empty() {
        let verdict = shared.limiter.check(&limits).await;
        *extra_headers = specgate_ratelimit::headers(&verdict, !policy.rate_limit_headers);
        let denial = match verdict {
            specgate_ratelimit::Verdict::Admitted { .. } => None,
            specgate_ratelimit::Verdict::Refused { retry_after, .. } => {
                Some(Denial::TooManyRequests { retry_after })
            }
            specgate_ratelimit::Verdict::Unavailable => Some(Denial::RateLimitUnavailable),
        };
        if let Some(denial) = denial {
            admitted.enforce(denial)?;
        }
    }
    engine.check_parameters(&mut admitted, parts)?;
    let limit = admitted.body_limit();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(admitted.refuse(Denial::PayloadTooLarge { limit }));
    }
    let read = tokio::time::timeout(
        shared.config.body_read_timeout,
        Limited::new(body, limit as usize).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(admitted.refuse(Denial::PayloadTooLarge { limit }));
        }
        Ok(Err(_)) => return Err(admitted.refuse(Denial::BadRequest)),
        Err(_) => return Err(admitted.refuse(Denial::RequestTimeout)),
    };
    entry.bytes_in(bytes.len());
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    engine.check_body(&mut admitted, content_type, &bytes)?;
    entry.monitored(&admitted.monitored);

    let cors = admitted.guards.cors.as_ref();
    let identity = admitted.identity.as_ref();
    let forwarded_for = peer.forwarded_for(connection.client_ip);
    let headers = || {
        upstream_headers(
            parts,
            &forwarded_for,
            connection.tls,
            request_id,
            policy,
            engine.authenticator().forwarded_header_names(),
            identity.map_or(&[][..], |i| &i.headers[..]),
        )
    };
    let response = match &shared.upstream {
        None => echo::answer(parts, &headers(), &bytes),
        Some(client) => {
            // The base path and the request's target, both valid, make a valid target; if they
            // ever did not, the request is refused rather than sent somewhere else.
            let Ok(uri) = Uri::try_from(client.path_and_query(&parts.uri)) else {
                return Err(admitted.refuse(Denial::BadGateway));
            };
            let make = || {
                let mut request = Request::new(Full::new(bytes.clone()));
                *request.method_mut() = parts.method.clone();
                *request.uri_mut() = uri.clone();
                *request.headers_mut() = headers();
                request
            };
            let one_at_a_time = parts.version < http::Version::HTTP_2;
            match client
                .send(
                    &peer.upstream,
                    one_at_a_time,
                    parts.method.is_idempotent(),
                    make,
                )
                .await
            {
                Ok(response) => response.map(|b| b.boxed()),
                Err(upstream::UpstreamError::Unreachable) => {
                    return Err(admitted.refuse(Denial::BadGateway));
                }
                Err(upstream::UpstreamError::Timeout) => {
                    return Err(admitted.refuse(Denial::GatewayTimeout));
                }
            }
        }
    };
    let mut response = response;
    remove_hop_by_hop(response.headers_mut());
    admitted
        .guards
        .response_headers
        .apply(response.headers_mut(), connection.tls);
    Ok((response, cors))
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// Removes hop-by-hop headers, and those the `Connection` header names, from an answer.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Answers seldom carry any: one look at the few names there are spares a hashed removal of
    // each hop-by-hop name.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    // With Transfer-Encoding, a Content-Length beside it is not the body's length (RFC 9112 §6.3):
    // forwarded, it would give the client a second framing to believe.
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), for one connection only.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The headers the upstream gets, in one pass over the client's: without hop-by-hop headers (and
/// those `Connection` names), `request-headers.remove`, and any client copy of the forwarding and
/// identity headers, which only specgate sets; then the forwarding headers and the identity's.
fn upstream_headers(
    parts: &http::request::Parts,
    forwarded_for: &HeaderValue,
    tls: bool,
    request_id: &str,
    policy: &Policy,
    identity_names: &[HeaderName],
    identity: &[(HeaderName, HeaderValue)],
) -> HeaderMap {
    let incoming = &parts.headers;
    let connection_named: Vec<&str> = incoming
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let dropped = |name: &HeaderName| {
        HOP_BY_HOP.contains(name)
            || [
                &X_FORWARDED_FOR,
                &X_FORWARDED_PROTO,
                &X_FORWARDED_HOST,
                &header::FORWARDED,
            ]
            .contains(&name)
            || name == X_REQUEST_ID
            || identity_names.contains(name)
            || connection_named
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name.as_str()))
            || policy
                .request_headers
                .remove
                .iter()
                .any(|r| r.as_str().eq_ignore_ascii_case(name.as_str()))
    };
    let mut headers = HeaderMap::with_capacity(incoming.len() + 4 + identity.len());
    for (name, value) in incoming {
        if name != header::COOKIE && !dropped(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    // Cookies reach the upstream as one field: HTTP/2 clients send one per cookie, which RFC 9113
    // §8.2.3 has joined with "; " for HTTP/1.1, and an upstream reading the first of several would
    // see fewer cookies than were checked.
    let mut cookies = incoming.get_all(header::COOKIE).iter();
    if let Some(first) = cookies.next()
        && !dropped(&header::COOKIE)
    {
        let mut cookie = first.clone();
        for more in cookies {
            let joined = [cookie.as_bytes(), more.as_bytes()].join(&b"; "[..]);
            // Both parts are valid field values, and so is "; ".
            cookie = HeaderValue::from_bytes(&joined).unwrap_or(cookie);
        }
        headers.insert(header::COOKIE, cookie);
    }
    // The sidecar is the first hop it trusts: whatever a client says it forwarded for is replaced.
    headers.insert(X_FORWARDED_FOR, forwarded_for.clone());
    headers.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    let host = incoming.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    if let Some(host) = host {
        headers.insert(X_FORWARDED_HOST, host);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(X_REQUEST_ID, v);
    }
    for (name, value) in identity {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

/// The client's `X-Request-Id` when it is a sane token, else a fresh random one.
fn request_id(headers: &HeaderMap) -> String {
    if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok())
        && !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return id.to_owned();
    }
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = SEED.get_or_init(Default::default).build_hasher();
    hasher.write_u64(n);
    let high = hasher.finish();
    hasher.write_u64(high);
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for half in [high, hasher.finish()] {
        id.extend(
            (0..16)
                .rev()
                .map(|nibble| char::from(DIGITS[(half >> (nibble * 4)) as usize & 0xf])),
        );
    }
    id
}

fn response_length(response: &Response<Body>) -> Option<u64> {
    use hyper::body::Body as _;
    response.body().size_hint().exact()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&headers), "abc-123");
        headers.insert("x-request-id", HeaderValue::from_static("bad id <script>"));
        let made = request_id(&headers);
        assert_eq!(made.len(), 32);
        assert!(
            made.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{made}"
        );
        assert_ne!(made, request_id(&HeaderMap::new()));
    }

    #[test]
    fn the_upstream_gets_the_clients_headers_less_what_only_specgate_may_set() {
        let request = Request::builder()
            .uri("/pets")
            .header("host", "api.example.com")
            .header("accept", "text/plain")
            .header("accept", "application/json")
            .header("connection", "keep-alive, x-secret")
            .header("x-secret", "1")
            .header("x-internal", "2")
            .header("x-forwarded-for", "6.6.6.6")
            .header("forwarded", "for=6.6.6.6")
            .header("x-user", "admin")
            .header("x-request-id", "from-client")
            .header("cookie", "a=1")
            .header("cookie", "b=2; c=3")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let mut policy = Policy::default();
        policy.request_headers.remove = vec!["X-Internal".parse().unwrap()];
        // The peer is a trusted proxy that forwarded for 10.0.0.7.
        let peer = Peer::new("10.0.0.1:4000".parse().unwrap(), false, None);
        let client_ip = std::net::Ipv4Addr::new(10, 0, 0, 7).into();
        let identity_name = HeaderName::from_static("x-user");
        let headers = upstream_headers(
            &parts,
            &peer.forwarded_for(client_ip),
            false,
            "r-1",
            &policy,
            std::slice::from_ref(&identity_name),
            &[(identity_name.clone(), HeaderValue::from_static("alice"))],
        );
        let all = |name: &str| -> Vec<&str> {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        };
        assert_eq!(all("accept"), ["text/plain", "application/json"]);
        assert_eq!(all("host"), ["api.example.com"]);
        assert_eq!(all("x-forwarded-for"), ["10.0.0.7"]);
        assert_eq!(all("x-forwarded-proto"), ["http"]);
        assert_eq!(all("x-forwarded-host"), ["api.example.com"]);
        assert_eq!(all("x-request-id"), ["r-1"]);
        assert_eq!(all("x-user"), ["alice"]);
        assert_eq!(all("cookie"), ["a=1; b=2; c=3"], "cookies as one field");
        for gone in ["connection", "x-secret", "x-internal", "forwarded"] {
            assert!(all(gone).is_empty(), "{gone}");
        }
    }

    #[test]
    fn forwarded_for_names_the_client_whether_or_not_it_is_the_peer() {
        let peer = Peer::new("[2001:db8::1]:4000".parse().unwrap(), true, None);
        assert_eq!(peer.forwarded_for(peer.address.ip()), "2001:db8::1");
        let behind = std::net::Ipv4Addr::new(192, 0, 2, 7).into();
        assert_eq!(peer.forwarded_for(behind), "192.0.2.7");
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close, x-secret"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);

        let mut both = HeaderMap::new();
        both.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        both.insert("content-length", HeaderValue::from_static("5"));
        both.insert("content-type", HeaderValue::from_static("text/plain"));
        remove_hop_by_hop(&mut both);
        assert_eq!(
            both.keys().collect::<Vec<_>>(),
            ["content-type"],
            "a Content-Length beside Transfer-Encoding goes with it"
        );
        let mut length_only = HeaderMap::new();
        length_only.insert("content-length", HeaderValue::from_static("5"));
        remove_hop_by_hop(&mut length_only);
        assert_eq!(length_only.len(), 1);
    }
}
