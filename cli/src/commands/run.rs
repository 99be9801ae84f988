//! `specgate run`: the sidecar.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use specgate_runtime::Engine;
use specgate_runtime::sidecar::tls::{Tls, TlsFiles};
use specgate_runtime::sidecar::{
    Config, Fallback, LogFormat, ProcessSecrets, RateLimitStore, RedisSettings, Reloader, Sidecar,
    Upstream,
};

use super::{Outcome, load_plan};
use crate::args::{self, RunArgs};

pub fn run(args: &RunArgs) -> Outcome {
    let source = args
        .spec
        .as_deref()
        .or(args.plan.as_deref())
        .unwrap_or(std::path::Path::new(""));
    let plan = match load_plan(source) {
        Ok(plan) => plan,
        Err(outcome) => return outcome,
    };
    let secrets = ProcessSecrets::new(
        source
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    let engine = match Engine::load_with(&plan, &secrets) {
        Ok(mut engine) => {
            if let Some(base) = &args.base_path {
                engine.set_base_path(base);
            }
            Arc::new(engine)
        }
        Err(e) => {
            eprintln!("error: the plan cannot be executed: {e}");
            return Outcome::Failure;
        }
    };
    for warning in engine.authenticator().warnings() {
        eprintln!("warning: {warning}");
    }
    let upstream = if args.upstream == "echo" {
        Upstream::Echo
    } else {
        match args.upstream.parse::<http::Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {
                Upstream::Url(uri)
            }
            _ => {
                eprintln!(
                    "error: --upstream must be http://host:port[/prefix] or `echo`, not `{}`",
                    args.upstream
                );
                return Outcome::Failure;
            }
        }
    };
    let mut config = Config::new(args.listen, upstream);
    config.log_format = match args.log_format {
        args::LogFormat::Json => LogFormat::Json,
        args::LogFormat::Text => LogFormat::Text,
    };
    config.header_read_timeout = args.header_read_timeout.get();
    config.body_read_timeout = args.body_read_timeout.get();
    config.connect_timeout = args.connect_timeout.get();
    config.upstream_timeout = args.upstream_timeout.get();
    config.shutdown_grace = args.shutdown_grace.get();
    config.send_timeout = args.send_timeout.get();
    config.max_connections = args.max_connections as usize;
    config.trusted_proxies = args.trusted_proxy.clone();
    if let Some(url) = &args.redis {
        config.rate_limits = RateLimitStore::Redis {
            url: url.clone(),
            settings: RedisSettings {
                timeout: args.redis_timeout.get(),
                prefix: args.redis_prefix.clone(),
                fallback: match args.rate_limit_fallback {
                    args::Fallback::Open => Fallback::Open,
                    args::Fallback::Closed => Fallback::Closed,
                },
                ..RedisSettings::default()
            },
        };
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match Tls::load(&TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.client_ca.clone(),
        }) {
            Ok(tls) => Some(Arc::new(tls)),
            Err(e) => {
                eprintln!("error: {e}");
                return Outcome::Failure;
            }
        },
        _ => None,
    };
    // `available_parallelism` honours the CPU affinity (taskset) and cgroup quota it runs under.
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    // One thread: tokio's single-threaded runtime. Its multi-threaded one with a single worker
    // measured 30-40% more CPU per request (wake-ups between the worker and the I/O driver).
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Outcome::Failure;
        }
    };
    runtime.block_on(async move {
        let operations = engine.operations().len();
        let sidecar = match Sidecar::bind(config, engine).await {
            Ok(sidecar) => match &tls {
                Some(tls) => sidecar.with_tls(tls.clone()),
                None => sidecar,
            },
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return Outcome::Failure;
            }
        };
        if let Some(admin) = args.admin {
            match tokio::net::TcpListener::bind(admin).await {
                Ok(listener) => {
                    eprintln!(
                        "specgate admin on http://{}",
                        listener
                            .local_addr()
                            .map(|a| a.to_string())
                            .unwrap_or_default()
                    );
                    sidecar.serve_admin(listener).await;
                }
                Err(e) => {
                    eprintln!("error: cannot listen on {admin} for the admin endpoints: {e}");
                    return Outcome::Failure;
                }
            }
        }
        // Both signals are listened for before the sidecar says it is ready: until a handler is
        // installed, SIGHUP's default action ends the process (a configuration tool asking for a
        // reload as the sidecar starts would stop it), and SIGTERM's skips the graceful shutdown.
        let shutdown = shutdown_signal();
        tokio::spawn(reload_when_asked(
            sidecar.reloader(),
            source.to_path_buf(),
            secrets,
            args.base_path.clone(),
            args.watch,
            tls.clone(),
            #[cfg(unix)]
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok(),
        ));
        let address = sidecar
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let scheme = if tls.is_some() { "https" } else { "http" };
        // Tests and scripts read this line to learn the port when listening on port 0.
        eprintln!(
            "specgate listening on {scheme}://{address} ({operations} operations from {})",
            source.display()
        );
        sidecar.run(shutdown).await;
        eprintln!("specgate stopped");
        Outcome::Success
    })
}

/// Reloads the plan on SIGHUP and, with `--watch`, when the file changes (checked every second). SIGHUP
/// also rereads the TLS certificate and key: new handshakes use them, open connections go on.
async fn reload_when_asked(
    reloader: Reloader,
    source: PathBuf,
    secrets: ProcessSecrets,
    base_path: Option<String>,
    watch: bool,
    tls: Option<Arc<Tls>>,
    #[cfg(unix)] mut hangup: Option<tokio::signal::unix::Signal>,
) {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut last = modified(&source);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<()>();
        let asked = tokio::select! {
            () = signalled => {
                if let Some(tls) = &tls {
                    match tls.reload() {
                        Ok(()) => eprintln!("specgate reloaded its TLS certificate"),
                        Err(e) => eprintln!("specgate kept its TLS certificate: {e}"),
                    }
                }
                true
            }
            _ = tick.tick() => {
                let now = modified(&source);
                let changed = watch && now != last;
                last = now;
                changed
            }
        };
        if !asked {
            continue;
        }
        let path = source.clone();
        let secrets = secrets.clone();
        let base_path = base_path.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            load_plan(&path).ok().map(|plan| {
                Engine::load_with(&plan, &secrets).map(|mut engine| {
                    if let Some(base) = &base_path {
                        engine.set_base_path(base);
                    }
                    engine
                })
            })
        })
        .await
        .ok()
        .flatten();
        match loaded {
            Some(Ok(engine)) => {
                for warning in engine.authenticator().warnings() {
                    eprintln!("warning: {warning}");
                }
                let operations = engine.operations().len();
                reloader.swap(Arc::new(engine));
                eprintln!(
                    "specgate reloaded {} ({operations} operations)",
                    source.display()
                );
            }
            Some(Err(e)) => {
                eprintln!("specgate kept the running plan: the new one cannot be executed: {e}")
            }
            None => eprintln!(
                "specgate kept the running plan: {} did not load (see above)",
                source.display()
            ),
        }
    }
}

/// Ctrl-C or SIGTERM, listened for from the call on (not from the first poll).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        [SignalKind::interrupt(), SignalKind::terminate()].map(|kind| signal(kind).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let [interrupt, terminate] = signals;
            let received = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
