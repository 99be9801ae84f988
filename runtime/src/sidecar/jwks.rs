//! Fetching JSON Web Key Sets from `jwks-uri` or OpenID Connect discovery, and keeping them fresh.
//!
//! One task per key source fetches at once, then every `refresh_every`; failures are retried with
//! backoff, never faster than `min_interval`, and install nothing, so the keys installed before
//! stay until the slot that holds them decides they are too old. A token with an unknown `kid` asks
//! for an early fetch through [`JwksHandle::refresh`], under the same floor.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Where a key set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// The JWK Set's own URL (`jwks-uri`).
    Uri(String),
    /// An OpenID Connect discovery document whose `jwks_uri` names the JWK Set.
    Discovery {
        /// The discovery document's URL (`openIdConnectUrl`).
        url: String,
    },
}

/// How often and how carefully keys are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchSettings {
    /// Time between fetches while they succeed (`jwks-cache`).
    pub refresh_every: Duration,
    /// The least time between the starts of two fetches, whoever asks.
    pub min_interval: Duration,
    /// Time allowed for a whole fetch: discovery document, key set, connections included.
    pub timeout: Duration,
    /// The largest answer read, per document.
    pub max_bytes: usize,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            refresh_every: Duration::from_secs(600),
            min_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            max_bytes: 1024 * 1024,
        }
    }
}

/// What one successful fetch found.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedKeys {
    /// The JWK Set: a JSON object with a `keys` array (its members are not checked here).
    pub jwks: Value,
    /// With discovery, the document's `issuer`, for the caller to check against the configured
    /// issuer or to adopt when none is configured.
    pub issuer: Option<String>,
}

/// The answer of the install callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// The keys are in use.
    Installed,
    /// The keys were not usable; the reason is logged, and the fetch counts as failed.
    Rejected(String),
    /// Nobody wants these keys any more (the plan was replaced): the task ends.
    Gone,
}

/// Starts key-fetching tasks.
#[derive(Debug)]
pub struct Fetcher;

type InstallFn = dyn Fn(FetchedKeys) -> Install + Send + Sync;
type LogFn = dyn Fn(&str) + Send + Sync;
type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

impl Fetcher {
    /// Spawns the task that fetches keys from `source` and hands them to `install`. It fetches at
    /// once, then every `refresh_every`; after a failure it retries with backoff, no sooner than
    /// `min_interval`. The task ends when `install` answers [`Install::Gone`] or when every
    /// [`JwksHandle`] is dropped. HTTPS servers are verified against the system's root
    /// certificates. Must be called within a Tokio runtime.
    pub fn spawn(
        source: JwksSource,
        settings: FetchSettings,
        install: impl Fn(FetchedKeys) -> Install + Send + Sync + 'static,
    ) -> JwksHandle {
        spawn_with(
            source,
            settings,
            Arc::new(install),
            native_roots().clone(),
            Arc::new(|line: &str| eprintln!("{line}")),
        )
    }
}

/// Asks the task of a key source for early fetches; cloning shares the task.
#[derive(Debug, Clone)]
pub struct JwksHandle {
    shared: Arc<Shared>,
    /// The count of completed fetches; the sender is the task's, so it closes when the task ends.
    completed: watch::Receiver<u64>,
}

impl JwksHandle {
    /// Asks for a fetch now, as when a token names a `kid` the installed keys do not have. Resolves
    /// when that fetch is done (or has timed out), at once when the last fetch started less than
    /// `min_interval` ago, and at once when the task has ended. Callers asking while a fetch is
    /// under way or already asked for share that fetch.
    pub fn refresh(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        let mut completed = self.completed.clone();
        async move {
            let target = {
                let mut state = shared.lock();
                if !state.in_flight && !state.requested {
                    if state
                        .last_started
                        .is_some_and(|started| started.elapsed() < shared.min_interval)
                    {
                        return;
                    }
                    state.requested = true;
                    shared.wake.notify_one();
                }
                state.completed + 1
            };
            // Bounded even if the task is stuck: a fetch never outlives its timeout by much.
            let _ = tokio::time::timeout(
                shared.wait_limit,
                completed.wait_for(|&done| done >= target),
            )
            .await;
        }
    }
}

#[derive(Debug)]
struct Shared {
    min_interval: Duration,
    wait_limit: Duration,
    state: Mutex<State>,
    /// Wakes the task when `requested` is set.
    wake: Notify,
}

#[derive(Debug, Default)]
struct State {
    in_flight: bool,
    requested: bool,
    last_started: Option<Instant>,
    completed: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether the last fetch worked, so that an outage is logged once rather than per attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Starting,
    Healthy,
    Failing,
}

fn spawn_with(
    source: JwksSource,
    settings: FetchSettings,
    install: Arc<InstallFn>,
    tls: rustls::ClientConfig,
    log: Arc<LogFn>,
) -> JwksHandle {
    let shared = Arc::new(Shared {
        min_interval: settings.min_interval,
        wait_limit: settings.timeout.saturating_add(Duration::from_secs(1)),
        state: Mutex::new(State::default()),
        wake: Notify::new(),
    });
    let (done, completed) = watch::channel(0);
    let client = http_client(tls);
    tokio::spawn(run(
        source,
        settings,
        install,
        client,
        log,
        shared.clone(),
        done,
    ));
    JwksHandle { shared, completed }
}

async fn run(
    source: JwksSource,
    settings: FetchSettings,
    install: Arc<InstallFn>,
    client: HttpClient,
    log: Arc<LogFn>,
    shared: Arc<Shared>,
    done: watch::Sender<u64>,
) {
    let name = match &source {
        JwksSource::Uri(url) => format!("JWKS {}", loggable(url)),
        JwksSource::Discovery { url } => format!("OpenID discovery {}", loggable(url)),
    };
    let mut health = Health::Starting;
    let mut failures = 0u32;
    loop {
        {
            let mut state = shared.lock();
            state.in_flight = true;
            state.requested = false;
            state.last_started = Some(Instant::now());
        }
        let fetched = tokio::time::timeout(
            settings.timeout,
            fetch(&client, &source, settings.max_bytes),
        )
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no complete answer within {} ms",
                settings.timeout.as_millis()
            ))
        });
        let outcome = match fetched.map(|keys| install(keys)) {
            Ok(Install::Installed) => Ok(()),
            Ok(Install::Rejected(reason)) => Err(format!("keys refused: {reason}")),
            Ok(Install::Gone) => return,
            Err(e) => Err(e),
        };
        match (&outcome, health) {
            (Ok(()), Health::Failing) => log(&format!("specgate: {name}: keys fetched again")),
            (Err(e), Health::Starting) => log(&format!(
                "specgate: {name}: fetch failed: {e}; no keys yet, retrying"
            )),
            (Err(e), Health::Healthy) => log(&format!(
                "specgate: {name}: fetch failed: {e}; keeping the keys installed before, retrying"
            )),
            _ => {}
        }
        (health, failures) = match outcome {
            Ok(()) => (Health::Healthy, 0),
            Err(_) => (Health::Failing, failures.saturating_add(1)),
        };
        let count = {
            let mut state = shared.lock();
            state.in_flight = false;
            state.completed += 1;
            state.completed
        };
        done.send_replace(count);

        // `sleep` saturates: a period of years cannot overflow the clock.
        let pause = tokio::time::sleep(next_delay(&settings, failures));
        tokio::pin!(pause);
        loop {
            tokio::select! {
                () = &mut pause => break,
                () = shared.wake.notified() => if shared.lock().requested { break },
                () = done.closed() => return,
            }
        }
    }
}

/// The wait before the next fetch: `refresh_every` after a success; after failures, a doubling
/// backoff from `min_interval` up to `refresh_every`; never less than `min_interval`.
fn next_delay(settings: &FetchSettings, failures: u32) -> Duration {
    let delay = if failures == 0 {
        settings.refresh_every
    } else {
        let base = settings.min_interval.max(Duration::from_millis(100));
        base.saturating_mul(1 << (failures - 1).min(20))
            .min(settings.refresh_every)
    };
    delay.max(settings.min_interval)
}

async fn fetch(
    client: &HttpClient,
    source: &JwksSource,
    max_bytes: usize,
) -> Result<FetchedKeys, String> {
    match source {
        JwksSource::Uri(url) => Ok(FetchedKeys {
            jwks: get_jwks(client, url, max_bytes).await?,
            issuer: None,
        }),
        JwksSource::Discovery { url } => {
            let document = get_json(client, url, max_bytes)
                .await
                .map_err(|e| format!("discovery document: {e}"))?;
            let field = |name: &str| {
                document
                    .get(name)
                    .and_then(Value::as_str)
                    .filter(|value| !value.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| format!("discovery document has no `{name}` string"))
            };
            let issuer = field("issuer")?;
            let jwks_uri = field("jwks_uri")?;
            // The discovery document was trusted for coming over TLS: keys over plain HTTP would
            // undo that.
            if url.starts_with("https:") && !jwks_uri.starts_with("https:") {
                return Err(format!(
                    "discovery document names a jwks_uri that is not https: {}",
                    loggable(&jwks_uri)
                ));
            }
            let jwks = get_jwks(client, &jwks_uri, max_bytes)
                .await
                .map_err(|e| format!("jwks_uri {}: {e}", loggable(&jwks_uri)))?;
            Ok(FetchedKeys {
                jwks,
                issuer: Some(issuer),
            })
        }
    }
}

/// A JSON document that has the shape of a JWK Set.
async fn get_jwks(client: &HttpClient, url: &str, max_bytes: usize) -> Result<Value, String> {
    let jwks = get_json(client, url, max_bytes).await?;
    if !jwks.get("keys").is_some_and(Value::is_array) {
        return Err("the answer is not a JWK Set (no `keys` array)".to_owned());
    }
    Ok(jwks)
}

/// GETs a JSON document: status 200 only (redirects are not followed), at most `max_bytes`.
async fn get_json(client: &HttpClient, url: &str, max_bytes: usize) -> Result<Value, String> {
    let uri: Uri = url.parse().map_err(|_| "not a valid URL".to_owned())?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err("not an http or https URL".to_owned());
    }
    let request = Request::get(uri)
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "specgate")
        .body(Empty::new())
        .map_err(|e| format!("cannot make the request: {e}"))?;
    let response = client.request(request).await.map_err(|e| error_chain(&e))?;
    if response.status() != StatusCode::OK {
        return Err(format!("answered status {}", response.status().as_u16()));
    }
    let too_large = || format!("answer larger than {max_bytes} bytes");
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return Err(too_large());
    }
    let body = Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large()
            } else {
                format!("reading the answer: {}", error_chain(e.as_ref()))
            }
        })?
        .to_bytes();
    // serde_json's syntax errors give a position, never the document's text.
    serde_json::from_slice(&body).map_err(|e| format!("answer is not JSON: {e}"))
}

/// An error and its sources, `: `-separated (hyper's own message alone says little).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A URL for a log line: scheme, host, port and path; no credentials or query.
fn loggable(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => {
                let port = uri.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{scheme}://{host}{port}{}", uri.path())
            }
            _ => "(invalid URL)".to_owned(),
        },
        Err(_) => "(invalid URL)".to_owned(),
    }
}

fn http_client(tls: rustls::ClientConfig) -> HttpClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    // Fetches are minutes apart: a pooled connection would only go stale.
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector)
}

/// The client TLS configuration, with the system's roots, made once per process.
fn native_roots() -> &'static rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        use hyper_rustls::ConfigBuilderExt as _;
        let builder = || {
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            // Not input-dependent: ring implements both versions.
            .expect("the ring provider supports TLS 1.2 and 1.3")
        };
        match builder().with_native_roots() {
            Ok(with_roots) => with_roots.with_no_client_auth(),
            Err(e) => {
                // http fetches still work; https ones fail their handshake with a clear error.
                eprintln!(
                    "specgate: no system root certificates ({e}); https key fetches will fail"
                );
                builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth()
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU8, Ordering};

    use http::Response;
    use http_body_util::Full;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::*;
    use specgate_testkit::Ca;

    /// One route of the test server.
    #[derive(Debug, Clone)]
    struct Route {
        status: u16,
        body: String,
        delay: Duration,
    }

    #[derive(Debug, Default)]
    struct Routes {
        answers: HashMap<String, Route>,
        hits: HashMap<String, usize>,
    }

    /// A JWKS server on loopback whose answers the test changes, and which it can stop and restart
    /// on the same port. A 3xx answer redirects to `/keys`.
    struct Server {
        addr: SocketAddr,
        routes: Arc<Mutex<Routes>>,
        tls: Option<Arc<rustls::ServerConfig>>,
        task: Option<tokio::task::JoinHandle<()>>,
    }

    impl Server {
        async fn start() -> Self {
            Self::start_with(None).await
        }

        async fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let mut server = Self {
                addr: listener.local_addr().expect("addr"),
                routes: Arc::default(),
                tls,
                task: None,
            };
            server.serve(listener);
            server
        }

        fn serve(&mut self, listener: TcpListener) {
            let routes = self.routes.clone();
            let tls = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
            self.task = Some(tokio::spawn(async move {
                // Owned here so that stopping the server also ends its connections.
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let routes = routes.clone();
                    let tls = tls.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            answer(routes.clone(), request)
                        });
                        let http = hyper::server::conn::http1::Builder::new();
                        match tls {
                            None => {
                                let io = hyper_util::rt::TokioIo::new(tcp);
                                let _ = http.serve_connection(io, service).await;
                            }
                            Some(acceptor) => {
                                if let Ok(stream) = acceptor.accept(tcp).await {
                                    let io = hyper_util::rt::TokioIo::new(stream);
                                    let _ = http.serve_connection(io, service).await;
                                }
                            }
                        }
                    });
                }
            }));
        }

        fn set(&self, path: &str, status: u16, body: impl Into<String>) {
            self.set_slow(path, status, body, Duration::ZERO);
        }

        fn set_slow(&self, path: &str, status: u16, body: impl Into<String>, delay: Duration) {
            let route = Route {
                status,
                body: body.into(),
                delay,
            };
            lock(&self.routes).answers.insert(path.to_owned(), route);
        }

        fn hits(&self, path: &str) -> usize {
            lock(&self.routes).hits.get(path).copied().unwrap_or(0)
        }

        fn url(&self, path: &str) -> String {
            let scheme = if self.tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{}{path}", self.addr)
        }

        async fn stop(&mut self) {
            if let Some(task) = self.task.take() {
                task.abort();
                let _ = task.await;
            }
        }

        async fn restart(&mut self) {
            let listener = TcpListener::bind(self.addr).await.expect("rebind");
            self.serve(listener);
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            if let Some(task) = self.task.take() {
                task.abort();
            }
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn answer(
        routes: Arc<Mutex<Routes>>,
        request: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        let route = {
            let mut routes = lock(&routes);
            *routes.hits.entry(path.clone()).or_default() += 1;
            routes.answers.get(&path).cloned()
        };
        let Route {
            status,
            body,
            delay,
        } = route.unwrap_or(Route {
            status: 404,
            body: String::new(),
            delay: Duration::ZERO,
        });
        tokio::time::sleep(delay).await;
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
        if (300..400).contains(&status) {
            response
                .headers_mut()
                .insert(header::LOCATION, http::HeaderValue::from_static("/keys"));
        }
        Ok(response)
    }

    fn key_set(kid: &str) -> Value {
        json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": kid, "x": "AAAA", "y": "BBBB"}]})
    }

    const INSTALLED: u8 = 0;
    const REJECTED: u8 = 1;
    const GONE: u8 = 2;

    /// A running fetcher with everything the test observes: what was installed, what was logged.
    struct Watched {
        handle: JwksHandle,
        installs: mpsc::UnboundedReceiver<FetchedKeys>,
        answer: Arc<AtomicU8>,
        log: Arc<Mutex<Vec<String>>>,
    }

    fn settings(refresh_every: u64, min_interval: u64) -> FetchSettings {
        FetchSettings {
            refresh_every: Duration::from_millis(refresh_every),
            min_interval: Duration::from_millis(min_interval),
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
        }
    }

    fn watch(source: JwksSource, settings: FetchSettings) -> Watched {
        watch_with(source, settings, native_roots().clone())
    }

    fn watch_with(
        source: JwksSource,
        settings: FetchSettings,
        tls: rustls::ClientConfig,
    ) -> Watched {
        let (sender, installs) = mpsc::unbounded_channel();
        let answer = Arc::new(AtomicU8::new(INSTALLED));
        let log = Arc::new(Mutex::new(Vec::new()));
        let install = {
            let answer = answer.clone();
            move |keys| {
                let _ = sender.send(keys);
                match answer.load(Ordering::SeqCst) {
                    INSTALLED => Install::Installed,
                    REJECTED => Install::Rejected("no usable key".to_owned()),
                    _ => Install::Gone,
                }
            }
        };
        let lines = log.clone();
        let handle = spawn_with(
            source,
            settings,
            Arc::new(install),
            tls,
            Arc::new(move |line: &str| lock(&lines).push(line.to_owned())),
        );
        Watched {
            handle,
            installs,
            answer,
            log,
        }
    }

    impl Watched {
        async fn next_install(&mut self) -> FetchedKeys {
            tokio::time::timeout(Duration::from_secs(10), self.installs.recv())
                .await
                .expect("an install in time")
                .expect("the task is running")
        }

        fn lines(&self) -> Vec<String> {
            lock(&self.log).clone()
        }

        /// Waits until `count` lines were logged.
        async fn logged(&self, count: usize) -> Vec<String> {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.lines().len() < count && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            self.lines()
        }
    }

    #[tokio::test]
    async fn the_first_fetch_installs_at_once() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(
            JwksSource::Uri(server.url("/keys")),
            settings(3_600_000, 50),
        );
        let keys = fetcher.next_install().await;
        assert_eq!(keys.jwks, key_set("one"));
        assert_eq!(keys.issuer, None);
        assert_eq!(server.hits("/keys"), 1);
        assert!(fetcher.lines().is_empty());
    }

    #[tokio::test]
    async fn a_changed_key_set_is_installed_on_refresh() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(
            JwksSource::Uri(server.url("/keys")),
            settings(3_600_000, 50),
        );
        assert_eq!(fetcher.next_install().await.jwks, key_set("one"));
        server.set("/keys", 200, key_set("two").to_string());
        tokio::time::sleep(Duration::from_millis(80)).await;
        fetcher.handle.refresh().await;
        // Installed by the time refresh resolves.
        let keys = fetcher
            .installs
            .try_recv()
            .expect("installed before refresh resolved");
        assert_eq!(keys.jwks, key_set("two"));
        assert_eq!(server.hits("/keys"), 2);
    }

    #[tokio::test]
    async fn periodic_refresh_installs_changes() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), settings(100, 10));
        assert_eq!(fetcher.next_install().await.jwks, key_set("one"));
        server.set("/keys", 200, key_set("two").to_string());
        loop {
            if fetcher.next_install().await.jwks == key_set("two") {
                break;
            }
        }
    }

    #[tokio::test]
    async fn refresh_respects_the_floor() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(
            JwksSource::Uri(server.url("/keys")),
            settings(3_600_000, 3_600_000),
        );
        fetcher.next_install().await;
        let started = Instant::now();
        for _ in 0..50 {
            fetcher.handle.refresh().await;
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(server.hits("/keys"), 1);
        assert!(fetcher.installs.try_recv().is_err());
    }

    #[tokio::test]
    async fn concurrent_refreshes_share_one_fetch() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(
            JwksSource::Uri(server.url("/keys")),
            settings(3_600_000, 500),
        );
        fetcher.next_install().await;
        server.set_slow(
            "/keys",
            200,
            key_set("two").to_string(),
            Duration::from_millis(200),
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut callers = tokio::task::JoinSet::new();
        for _ in 0..8 {
            callers.spawn(fetcher.handle.refresh());
        }
        while let Some(done) = callers.join_next().await {
            done.expect("refresh finished");
        }
        assert_eq!(server.hits("/keys"), 2);
        assert_eq!(
            fetcher.installs.try_recv().map(|k| k.jwks),
            Ok(key_set("two"))
        );
        assert!(fetcher.installs.try_recv().is_err());
    }

    #[tokio::test]
    async fn an_outage_keeps_the_keys_and_recovery_installs_again() {
        let mut server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), settings(200, 20));
        fetcher.next_install().await;
        server.stop().await;
        let lines = fetcher.logged(1).await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("fetch failed"), "{lines:?}");
        assert!(
            lines[0].contains("keeping the keys installed before"),
            "{lines:?}"
        );
        assert!(lines[0].contains(&server.url("/keys")), "{lines:?}");
        // Several attempts fail (backoff 100, 200, 200 ms...), refresh too: one line, no install.
        tokio::time::sleep(Duration::from_millis(300)).await;
        fetcher.handle.refresh().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(fetcher.lines().len(), 1, "{:?}", fetcher.lines());
        assert!(fetcher.installs.try_recv().is_err());

        server.set("/keys", 200, key_set("two").to_string());
        server.restart().await;
        assert_eq!(fetcher.next_install().await.jwks, key_set("two"));
        let lines = fetcher.logged(2).await;
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("keys fetched again"), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("AAAA")));
    }

    #[tokio::test]
    async fn discovery_returns_the_issuer_and_fetches_jwks_uri() {
        let server = Server::start().await;
        server.set(
            "/.well-known/openid-configuration",
            200,
            json!({"issuer": "https://idp.example/", "jwks_uri": server.url("/keys")}).to_string(),
        );
        server.set("/keys", 200, key_set("one").to_string());
        let url = server.url("/.well-known/openid-configuration");
        let mut fetcher = watch(JwksSource::Discovery { url }, settings(3_600_000, 50));
        let keys = fetcher.next_install().await;
        assert_eq!(keys.issuer.as_deref(), Some("https://idp.example/"));
        assert_eq!(keys.jwks, key_set("one"));
        assert_eq!(server.hits("/.well-known/openid-configuration"), 1);
        assert_eq!(server.hits("/keys"), 1);
    }

    #[tokio::test]
    async fn discovery_documents_without_jwks_uri_are_refused() {
        let server = Server::start().await;
        server.set(
            "/config",
            200,
            json!({"issuer": "https://idp.example/"}).to_string(),
        );
        let url = server.url("/config");
        let mut fetcher = watch(JwksSource::Discovery { url }, settings(3_600_000, 50));
        let lines = fetcher.logged(1).await;
        assert!(lines[0].contains("`jwks_uri`"), "{lines:?}");
        assert!(lines[0].contains("no keys yet"), "{lines:?}");
        assert!(fetcher.installs.try_recv().is_err());
    }

    #[tokio::test]
    async fn bad_answers_are_refused() {
        let server = Server::start().await;
        let client = http_client(native_roots().clone());
        let small = 128;
        server.set("/big", 200, key_set(&"x".repeat(200)).to_string());
        server.set("/error", 500, key_set("one").to_string());
        server.set("/moved", 302, "");
        server.set("/html", 200, "<html>keys</html>");
        server.set("/not-a-set", 200, "{\"kid\": \"one\"}");
        server.set("/keys", 200, key_set("one").to_string());
        let get = async |path: &str| get_jwks(&client, &server.url(path), small).await;

        let error = get("/big").await.expect_err("oversize");
        assert!(error.contains("larger than 128 bytes"), "{error}");
        let error = get("/error").await.expect_err("500");
        assert!(error.contains("status 500"), "{error}");
        let error = get("/moved").await.expect_err("redirect");
        assert!(error.contains("status 302"), "{error}");
        assert_eq!(server.hits("/keys"), 0, "redirects are not followed");
        let error = get("/html").await.expect_err("not JSON");
        assert!(
            error.contains("not JSON") && !error.contains("keys"),
            "{error}"
        );
        let error = get("/not-a-set").await.expect_err("not a JWK Set");
        assert!(error.contains("`keys`"), "{error}");
        let error = get_jwks(&client, "ftp://127.0.0.1/keys", small)
            .await
            .expect_err("scheme");
        assert!(error.contains("http"), "{error}");
        assert!(get("/keys").await.is_ok());
    }

    #[tokio::test]
    async fn an_oversize_answer_without_length_is_cut_off() {
        // hyper always declares the length of a full body: this server streams it chunked.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut head = [0u8; 1024];
                let _ = tcp.read(&mut head).await;
                let chunk = "x".repeat(1000);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
                    chunk.len()
                );
                let _ = tcp.write_all(answer.as_bytes()).await;
            }
        });
        let client = http_client(native_roots().clone());
        let error = get_jwks(&client, &format!("http://{addr}/keys"), 512)
            .await
            .expect_err("oversize");
        assert!(error.contains("larger than 512 bytes"), "{error}");
        server.abort();
    }

    #[tokio::test]
    async fn an_oversize_key_set_installs_nothing() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set(&"x".repeat(100)).to_string());
        let mut limits = settings(3_600_000, 50);
        limits.max_bytes = 64;
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), limits);
        let lines = fetcher.logged(1).await;
        assert!(lines[0].contains("larger than 64 bytes"), "{lines:?}");
        assert!(fetcher.installs.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_slow_server_times_out() {
        let server = Server::start().await;
        server.set_slow(
            "/keys",
            200,
            key_set("one").to_string(),
            Duration::from_secs(30),
        );
        let mut limits = settings(3_600_000, 50);
        limits.timeout = Duration::from_millis(200);
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), limits);
        let started = Instant::now();
        fetcher.handle.refresh().await;
        assert!(started.elapsed() < Duration::from_secs(3));
        let lines = fetcher.logged(1).await;
        assert!(lines[0].contains("within 200 ms"), "{lines:?}");
        assert!(fetcher.installs.try_recv().is_err());
    }

    #[tokio::test]
    async fn rejected_keys_are_retried_and_logged_once() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), settings(100, 10));
        fetcher.answer.store(REJECTED, Ordering::SeqCst);
        fetcher.next_install().await;
        fetcher.next_install().await;
        let lines = fetcher.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("keys refused: no usable key"),
            "{lines:?}"
        );
        fetcher.answer.store(INSTALLED, Ordering::SeqCst);
        fetcher.next_install().await;
        let lines = fetcher.logged(2).await;
        assert!(lines[1].contains("keys fetched again"), "{lines:?}");
    }

    #[tokio::test]
    async fn gone_stops_the_task() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), settings(50, 10));
        fetcher.answer.store(GONE, Ordering::SeqCst);
        fetcher.next_install().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        fetcher.handle.refresh().await;
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(server.hits("/keys"), 1);
        // The sender was dropped with the task.
        assert!(fetcher.installs.recv().await.is_none());
    }

    #[tokio::test]
    async fn dropping_every_handle_stops_the_task() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), settings(50, 10));
        fetcher.next_install().await;
        let Watched {
            handle, installs, ..
        } = fetcher;
        drop(handle);
        let mut installs = installs;
        let ended = tokio::time::timeout(Duration::from_secs(5), async {
            while installs.recv().await.is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "the task ended and dropped its callback");
        let hits = server.hits("/keys");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(server.hits("/keys"), hits);
    }

    #[tokio::test]
    async fn keys_are_fetched_over_verified_https() {
        let ca = Ca::new("JWKS test CA");
        let leaf = ca.server("idp");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(leaf.chain(), leaf.key())
        .expect("server config");
        let server = Server::start_with(Some(Arc::new(config))).await;
        server.set("/keys", 200, key_set("tls").to_string());
        let url = server.url("/keys").replace("127.0.0.1", "localhost");
        assert!(url.starts_with("https://localhost:"));

        let trusting = ca.client_config(
            None,
            &[&rustls::version::TLS13, &rustls::version::TLS12],
            &[],
        );
        let mut fetcher = watch_with(
            JwksSource::Uri(url.clone()),
            settings(3_600_000, 50),
            trusting,
        );
        assert_eq!(fetcher.next_install().await.jwks, key_set("tls"));

        // The system roots do not know the test CA: the handshake fails, nothing is installed.
        let mut untrusting = watch(JwksSource::Uri(url), settings(3_600_000, 50));
        let lines = untrusting.logged(1).await;
        assert!(lines[0].contains("certificate"), "{lines:?}");
        assert!(untrusting.installs.try_recv().is_err());
    }

    #[tokio::test]
    async fn huge_periods_do_not_overflow() {
        let server = Server::start().await;
        server.set("/keys", 200, key_set("one").to_string());
        let forever = FetchSettings {
            refresh_every: Duration::MAX,
            min_interval: Duration::ZERO,
            timeout: Duration::MAX,
            max_bytes: usize::MAX,
        };
        let mut fetcher = watch(JwksSource::Uri(server.url("/keys")), forever);
        fetcher.next_install().await;
        fetcher.handle.refresh().await;
        assert_eq!(server.hits("/keys"), 2);
        assert_eq!(
            next_delay(&forever, 40),
            Duration::from_millis(100) * (1 << 20)
        );
    }

    #[test]
    fn backoff_doubles_between_the_floor_and_the_refresh_period() {
        let s = settings(10_000, 500);
        let delays: Vec<u128> = (0..8).map(|n| next_delay(&s, n).as_millis()).collect();
        assert_eq!(
            delays,
            [10_000, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]
        );
        let floor_wins = settings(100, 1000);
        assert_eq!(next_delay(&floor_wins, 0), Duration::from_secs(1));
        assert_eq!(next_delay(&floor_wins, 30), Duration::from_secs(1));
        assert_eq!(
            next_delay(&settings(60_000, 0), 1),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn logged_urls_carry_no_credentials_or_query() {
        assert_eq!(
            loggable("https://user:pw@idp.example:8443/keys?token=abc"),
            "https://idp.example:8443/keys"
        );
        assert_eq!(loggable("not a url"), "(invalid URL)");
    }
}
