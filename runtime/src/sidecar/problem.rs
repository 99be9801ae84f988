//! Refusals as RFC 9457 problem+json answers, and the response headers every answer gets.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

use super::Body;
use crate::engine::Denial;
use crate::engine::policies::ResponseHardening;

pub fn response(
    denial: &Denial,
    request_id: &str,
    verbose: bool,
    response_headers: &ResponseHardening,
    tls: bool,
) -> Response<Body> {
    let body = serde_json::to_vec(&denial.problem(request_id, verbose)).unwrap_or_default();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() =
        StatusCode::from_u16(denial.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    for (name, value) in denial.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), value);
    }
    response_headers.apply(headers, tls);
    response
}
