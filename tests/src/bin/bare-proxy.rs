//! The least a hyper and tokio reverse proxy does, for benchmarks: each client connection gets one
//! upstream connection, and every request is forwarded as it comes, with no check, no log and no
//! header rewriting. `bare-proxy LISTEN UPSTREAM` (both `host:port`) prints the address it listens on.
//!
//! Measured beside nginx and specgate, it tells what specgate's HTTP stack costs on its own, apart
//! from what specgate does with each request.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Mutex;

type Body = http_body_util::combinators::BoxBody<bytes::Bytes, hyper::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let Some(upstream) = args.next() else {
        eprintln!("usage: bare-proxy LISTEN UPSTREAM");
        std::process::exit(2);
    };
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    let upstream: Arc<str> = upstream.into();
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let own: Arc<Mutex<Option<SendRequest<Incoming>>>> = Arc::default();
            let service = hyper::service::service_fn(move |request| {
                let (upstream, own) = (upstream.clone(), own.clone());
                async move { Ok::<_, Infallible>(forward(&upstream, &own, request).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn forward(
    upstream: &str,
    own: &Mutex<Option<SendRequest<Incoming>>>,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Body> {
    let mut slot = own.lock().await;
    if slot.as_ref().is_none_or(SendRequest::is_closed) {
        match connect(upstream).await {
            Some(sender) => *slot = Some(sender),
            None => return bad_gateway(),
        }
    }
    let Some(sender) = slot.as_mut() else {
        return bad_gateway();
    };
    if sender.ready().await.is_err() {
        *slot = None;
        return bad_gateway();
    }
    match sender.send_request(request).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(_) => {
            *slot = None;
            bad_gateway()
        }
    }
}

async fn connect(upstream: &str) -> Option<SendRequest<Incoming>> {
    let stream = tokio::net::TcpStream::connect(upstream).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(sender)
}

fn bad_gateway() -> hyper::Response<Body> {
    let mut response = hyper::Response::new(
        Full::new(bytes::Bytes::new())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
    response
}
