//! A small, fast upstream for benchmarks and tests: answers every request with 200 and a fixed JSON
//! body. `fixed-upstream 127.0.0.1:0 [DELAY_MS]` prints the address it listens on; with a delay, each
//! answer waits that long (to test upstream timeouts).
#![forbid(unsafe_code)]

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let delay = std::time::Duration::from_millis(
        std::env::args()
            .nth(2)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
    );
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_request| async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let mut response = hyper::Response::new(Full::new(Bytes::from_static(
                    br#"{"id":7,"title":"hello"}"#,
                )));
                let headers = response.headers_mut();
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                // What services commonly leak, for the tests of `response-headers`.
                headers.insert(
                    http::header::SERVER,
                    http::HeaderValue::from_static("fixed-upstream/1"),
                );
                headers.insert("x-powered-by", http::HeaderValue::from_static("tests"));
                Ok::<_, Infallible>(response)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
