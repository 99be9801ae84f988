//! Refusals as RFC 9457 problem+json answers, and the response headers every answer gets.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use specgate_plan::Policy;

use super::Body;
use crate::engine::Denial;

pub fn response(
    denial: &Denial,
    request_id: &str,
    verbose: bool,
    policy: &Policy,
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
    harden(headers, policy, tls);
    response
}

/// `response-headers`: removes and sets headers. `Strict-Transport-Security` is sent only over TLS:
/// browsers ignore it over plain HTTP (RFC 6797 §7.2), and a plain listener is usually behind
/// something else that decides.
pub fn harden(headers: &mut HeaderMap, policy: &Policy, tls: bool) {
    for name in &policy.response_headers.remove {
        headers.remove(name.as_str());
    }
    for (name, value) in &policy.response_headers.set {
        if !tls
            && name
                .as_str()
                .eq_ignore_ascii_case("strict-transport-security")
        {
            continue;
        }
        let Ok(name) = HeaderName::from_bytes(name.as_str().as_bytes()) else {
            continue;
        };
        match value {
            Some(value) => {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(name, value);
                }
            }
            None => {
                headers.remove(name);
            }
        }
    }
}
