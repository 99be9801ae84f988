//! The built-in upstream: answers 200 with a JSON description of what it received, so the sidecar can
//! be tried with no backend and tests can see exactly what was forwarded.

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::{BodyExt, Full};
use serde_json::{Map, Value, json};

use super::Body;

pub fn answer(parts: &http::request::Parts, forwarded: &HeaderMap, body: &Bytes) -> Response<Body> {
    let mut headers = Map::new();
    for name in forwarded.keys() {
        let values: Vec<Value> = forwarded
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        headers.insert(
            name.as_str().to_owned(),
            if values.len() == 1 {
                values[0].clone()
            } else {
                Value::Array(values)
            },
        );
    }
    let description = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(body),
    });
    let text = serde_json::to_vec_pretty(&description).unwrap_or_default();
    Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(
            Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap_or_else(|_| {
            Response::new(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            )
        })
}
