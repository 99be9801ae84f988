//! `multipart/form-data` bodies as an object of their fields, so they can be validated like any
//! object. Parsing is multer's (the parser axum and warp use); the body is already in memory, so its
//! future completes without waiting and is driven here without a runtime.

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use serde_json::{Map, Value};
use specgate_plan::{Encoding, Plan};

use super::params::{self, Shape};

/// One part of a multipart body.
struct Part {
    name: String,
    content_type: Option<String>,
    data: Bytes,
    /// The `filename` of a file part.
    file_name: Option<String>,
}

/// A multipart body decoded: what is validated and what is scanned for threats.
#[derive(Debug)]
pub struct Fields {
    /// The fields as an object: text fields typed by their property's shape, repeated fields
    /// gathered into arrays, JSON parts parsed, files as (placeholder) empty strings.
    pub object: Value,
    /// The names the client gave its files: scanned like field values (a `../` or a `<script>` in
    /// a file name is an attack on whatever stores or shows it), while file contents are not.
    pub file_names: Vec<String>,
}

/// The fields of a multipart body. `Err` with a short reason when the body is not valid multipart.
pub fn fields(
    plan: &Plan,
    schema: Option<&Value>,
    encoding: &BTreeMap<String, Encoding>,
    content_type: &str,
    body: Bytes,
    max_json_depth: u32,
) -> Result<Fields, &'static str> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| "has no multipart boundary")?;
    let parts = futures_executor::block_on(read_parts(body, boundary))
        .map_err(|_| "is not valid multipart/form-data")?;
    let mut object = Map::new();
    let mut file_names = Vec::new();
    for part in parts {
        let property = super::check::property_schema(plan, schema, &part.name, 0);
        let shape = Shape::of(plan, property);
        let declared_type = encoding
            .get(&part.name)
            .and_then(|e| e.content_type.as_deref())
            .or(part.content_type.as_deref());
        let value = if declared_type
            .is_some_and(|t| t.starts_with("application/json") || t.ends_with("+json"))
        {
            specgate_plan::json::parse_bounded(&part.data, max_json_depth, true)
                .map_err(|_| "has a JSON part that is not valid JSON")?
        } else if let Some(file_name) = part.file_name {
            // Files are checked for size only; their schema is usually `format: binary`.
            file_names.push(file_name);
            Value::String(String::new())
        } else {
            let text = String::from_utf8(part.data.to_vec())
                .map_err(|_| "has a text field that is not UTF-8")?;
            let kind = match &shape {
                Shape::Primitive(kind) | Shape::Array(kind) => *kind,
                Shape::Object { .. } => params::Kind::String,
            };
            params::coerce(kind, text)
        };
        match (object.get_mut(&part.name), &shape) {
            (Some(Value::Array(items)), Shape::Array(_)) => items.push(value),
            (None, Shape::Array(_)) => {
                object.insert(part.name, Value::Array(vec![value]));
            }
            (Some(_), _) => return Err("repeats a field that holds one value"),
            (None, _) => {
                object.insert(part.name, value);
            }
        }
    }
    Ok(Fields {
        object: Value::Object(object),
        file_names,
    })
}

async fn read_parts(body: Bytes, boundary: String) -> multer::Result<Vec<Part>> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(|m| m.essence_str().to_owned());
        let data = field.bytes().await?;
        parts.push(Part {
            name,
            content_type,
            data,
            file_name,
        });
    }
    Ok(parts)
}
